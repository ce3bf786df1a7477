-- autograd_spec.lua: reverse-mode autograd from Lua.  ann.grad_check
-- (central differences) against the backward of every differentiable op,
-- on shapes that broadcast; grad_check failing on a wrong gradient; the
-- semantics (accumulation, zero_grad, no_grad, detach, in-place refusal,
-- non-scalar roots); and a chain-rule example worked out by hand.
local ann = require("annlua")
local h = require("helpers")

-- fails(fn, parts...): fn raises an error holding each part;
-- near(want, got, tol) and near_all(want, t, tol): absolute, tol 1e-5
local fails, near, near_all = h.fails, h.near, h.near_all

-- a leaf of the given shape with distinct deterministic values in
-- [-1, -0.1] u [0.1, 1] (away from the kinks of relu, abs and clamp at 0,
-- and without ties for max/min); shift adds a constant
local function leaf(shape, shift)
  local n, v = 1, {}
  for _, s in ipairs(shape) do n = n * s end
  for k = 1, n do
    local x = (k * 0.6180339887) % 1 * 1.8 - 0.9
    x = x + (x < 0 and -0.1 or 0.1)
    v[k] = x + (shift or 0)
  end
  return ann.tensor(v, shape):requires_grad()
end

-- grad_check must pass; returns the error for a look
local function check(fn, inputs, opts)
  local ok, err = ann.grad_check(fn, inputs, opts)
  assert(ok, ("grad_check failed, max abs error %g"):format(err))
  return err
end

describe("grad_check on elementwise ops", function()
  local a, b
  before_each(function()
    a = leaf{2, 1, 3}
    b = leaf{4, 1}
  end)

  it("broadcasts [2,1,3] op [4,1] and sums the gradient back", function()
    check(function(x, y) return x + y end, {a, b})
    check(function(x, y) return x - y end, {a, b})
    check(function(x, y) return x * y end, {a, b})
    check(function(x, y) return x / (y:abs() + 0.5) end, {a, b})
    check(function(x, y) return y / (x:abs() + 0.5) end, {a, b})
  end)

  it("leaves the gradient in the input's own shape", function()
    ;(a * b):sum():backward()
    assert.are.same({2, 1, 3}, a.grad:shape())
    assert.are.same({4, 1}, b.grad:shape())
    -- d/db_i sum_{j,k,l} a_jkl b_i = sum of a, the same for every i
    local sa = 0
    for _, v in ipairs(a:detach():view(-1):totable()) do sa = sa + v end
    near_all({sa, sa, sa, sa}, b.grad, 1e-5)
  end)

  it("handles numbers on either side", function()
    check(function(x) return x + 2 end, {a})
    check(function(x) return 2 + x end, {a})
    check(function(x) return 3 - x end, {a})
    check(function(x) return x - 3 end, {a})
    check(function(x) return x * 2.5 end, {a})
    check(function(x) return -1.5 * x end, {a})
    check(function(x) return x / 4 end, {a})
    check(function(x) return 2 / x end, {a})
    check(function(x) return -x end, {a})
  end)

  it("differentiates the unary functions", function()
    local pos = leaf({2, 3}, 1.5)          -- all in [0.6, 2.5]
    check(function(x) return x:pow(2) end, {a})
    check(function(x) return x:pow(3) end, {a})
    check(function(x) return x:pow(0.5) end, {pos})
    check(function(x) return x:pow(-1) end, {pos})
    check(function(x) return x:exp() end, {a})
    check(function(x) return x:log() end, {pos})
    check(function(x) return x:sqrt() end, {pos})
    check(function(x) return x:abs() end, {a})
    check(function(x) return x:clamp(-0.5, 0.5) end, {a})
  end)

  -- at a bound clamp passes the gradient (as PyTorch: lo <= x <= hi);
  -- finite differences can't say, so by hand
  it("passes clamp's gradient at the bounds, not beyond", function()
    local x = ann.tensor{-0.5, 0.5, 0.25, -1, 1}:requires_grad()
    x:clamp(-0.5, 0.5):sum():backward()
    near_all({1, 1, 1, 0, 0}, x.grad, 0)
  end)

  it("differentiates a 0-dim operand and a tensor exponent", function()
    local s = ann.tensor(1.5):requires_grad()
    check(function(x, y) return x * y end, {a, s})
    check(function(x, y) return x / y + y end, {a, s})
    check(function(x) return x:abs():pow(ann.tensor{2, 3, 0.5}) end, {a})
  end)

  it("differentiates the activations", function()
    check(function(x) return x:sigmoid() end, {a})
    check(function(x) return x:tanh() end, {a})
    check(function(x) return x:relu() end, {a})
    check(function(x) return (x * 3):sigmoid() end, {a})
  end)

  it("gives sigmoid' = s(1-s), tanh' = 1-tanh^2, relu' = [x > 0]", function()
    local xs = {-2, -0.5, 0.5, 3}
    local x = ann.tensor(xs):requires_grad()
    x:sigmoid():sum():backward()
    for k, v in ipairs(xs) do
      local s = 1 / (1 + math.exp(-v))
      near(s * (1 - s), x.grad:get(k))
    end
    x.grad = nil
    x:tanh():sum():backward()
    for k, v in ipairs(xs) do
      local t = (math.exp(v) - math.exp(-v)) / (math.exp(v) + math.exp(-v))
      near(1 - t * t, x.grad:get(k))
    end
    x.grad = nil
    x:relu():sum():backward()
    assert.are.same({0, 0, 1, 1}, x.grad:totable())
  end)

  it("differentiates softmax and log_softmax along every dim", function()
    local x = leaf{2, 3, 4}
    for d = 1, 3 do
      check(function(t) return t:softmax(d) end, {x})
      check(function(t) return t:log_softmax(d) end, {x})
    end
    check(function(t) return t:softmax(-1) end, {x})
  end)
end)

describe("grad_check on reductions", function()
  local x
  before_each(function() x = leaf{3, 4} end)

  it("sums and means, whole and along dims", function()
    check(function(t) return t:sum() end, {x})
    check(function(t) return t:mean() end, {x})
    for d = 1, 2 do
      check(function(t) return t:sum(d) end, {x})
      check(function(t) return t:sum(d, true) end, {x})
      check(function(t) return t:mean(d) end, {x})
      check(function(t) return t:mean(d, true) end, {x})
    end
  end)

  it("var, std and norm", function()
    check(function(t) return t:var() end, {x})
    check(function(t) return t:std() end, {x})
    for d = 1, 2 do
      check(function(t) return t:var(d) end, {x})
      check(function(t) return t:std(d, true) end, {x})
    end
    check(function(t) return t:norm() end, {x})
    check(function(t) return t:norm(1) end, {x})
    check(function(t) return t:norm(3) end, {x})
  end)

  it("max and min route the gradient to the extreme element", function()
    check(function(t) return t:max() end, {x})
    check(function(t) return t:min() end, {x})
    for d = 1, 2 do
      check(function(t) return (t:max(d)) end, {x})
      check(function(t) return (t:min(d)) end, {x})
    end
    local y = ann.tensor{{1, 5, 2}, {7, 3, 4}}:requires_grad()
    local v = y:max(2)
    v:sum():backward()
    assert.are.same({{0, 1, 0}, {1, 0, 0}}, y.grad:totable())
  end)

  it("sums the gradient back through a broadcast then reduced result", function()
    local a, b = leaf{2, 1, 3}, leaf{4, 1}
    check(function(p, q) return (p * q):sum(2) end, {a, b})
    check(function(p, q) return (p + q):mean(3, true) end, {a, b})
  end)
end)

describe("grad_check on linear algebra", function()
  it("mm, on plain and transposed operands", function()
    local a, b = leaf{3, 4}, leaf{4, 2}
    check(function(p, q) return p:mm(q) end, {a, b})
    local at, bt = leaf{4, 3}, leaf{2, 4}
    check(function(p, q) return p:t():mm(q:t()) end, {at, bt})
  end)

  it("matmul for 1-d, 2-d and batched 3-d operands", function()
    local v3, v4 = leaf{3}, leaf{4}
    local m = leaf{3, 4}
    check(function(p, q) return ann.matmul(p, q) end, {m, v4})
    check(function(p, q) return ann.matmul(p, q) end, {v3, m})
    check(function(p, q) return ann.matmul(p, q) end, {m, leaf{4, 2}})
    check(function(p, q) return ann.matmul(p, q) end, {leaf{2, 3, 4}, leaf{2, 4, 5}})
  end)

  it("mv, dot and outer", function()
    local m, v, u = leaf{3, 4}, leaf{4}, leaf({4}, 0.3)
    check(function(p, q) return p:mv(q) end, {m, v})
    check(function(p, q) return p:dot(q) end, {v, u})
    check(function(p, q) return ann.outer(p, q) end, {leaf{3}, v})
  end)

  it("a product of a matrix with itself, and a batch times a matrix", function()
    check(function(p) return p:mm(p) end, {leaf{3, 3}})
    check(function(p, q) return ann.matmul(p, q) end, {leaf{2, 3, 4}, leaf{4, 2}})
  end)

  it("gives d(a . b)/da = b exactly", function()
    local a = ann.tensor{1, 2, 3}:requires_grad()
    local b = ann.tensor{4, -5, 6}:requires_grad()
    a:dot(b):backward()
    assert.are.same({4, -5, 6}, a.grad:totable())
    assert.are.same({1, 2, 3}, b.grad:totable())
  end)
end)

describe("grad_check on views and copies", function()
  local x
  before_each(function() x = leaf{2, 3, 4} end)

  it("view, reshape, transpose, permute", function()
    check(function(t) return t:view(6, 4) end, {x})
    check(function(t) return t:view(-1) end, {x})
    check(function(t) return t:reshape(4, 6) end, {x})
    check(function(t) return t:transpose(1, 3) end, {x})
    check(function(t) return t:permute(3, 1, 2) end, {x})
    check(function(t) return t:transpose(1, 2):reshape(3, 8) end, {x})
    check(function(t) return t[2]:t() end, {x})
  end)

  it("narrow, select, row index, squeeze, unsqueeze, expand", function()
    check(function(t) return t:narrow(3, 2, 2) end, {x})
    check(function(t) return t:select(2, 3) end, {x})
    check(function(t) return t[2] end, {x})
    check(function(t) return t:unsqueeze(2) end, {x})
    check(function(t) return t:unsqueeze(1):squeeze(1) end, {x})
    check(function(t) return t:narrow(2, 1, 1):squeeze(2) end, {x})
    local c = leaf{3, 1}
    check(function(t) return t:expand(3, 5) end, {c})
    check(function(t) return t:expand(2, 3, 4) * x:detach() end, {c})
  end)

  it("clone and contiguous", function()
    check(function(t) return t:clone() end, {x})
    check(function(t) return t:transpose(1, 2):contiguous() end, {x})
  end)

  it("cat and stack", function()
    local a, b = leaf{2, 3}, leaf({2, 2}, 0.2)
    check(function(p, q) return ann.cat({p, q}, 2) end, {a, b})
    check(function(p, q) return ann.cat({p, q:t()}, 1) end, {a, leaf{3, 2}})
    check(function(p, q) return ann.stack({p, q}, 1) end, {a, leaf({2, 3}, 0.1)})
    check(function(p, q) return ann.stack({p, q}, 3) end, {a, leaf({2, 3}, 0.1)})
  end)

  it("index_select and gather, adding up repeated indices", function()
    local m = leaf{3, 4}
    check(function(t) return t:index_select(1, {3, 1, 3}) end, {m})
    check(function(t) return t:index_select(2, ann.tensor{2, 2, 4}) end, {m})
    local idx = ann.tensor{{1, 4}, {2, 2}, {3, 1}}
    check(function(t) return t:gather(2, idx) end, {m})
    local y = ann.tensor{10, 20, 30}:requires_grad()
    y:index_select(1, {3, 1, 3}):sum():backward()
    assert.are.same({1, 0, 2}, y.grad:totable())
  end)
end)

describe("grad_check on modules and losses", function()
  it("Linear, with and without bias, on batched and 1-d input", function()
    ann.manual_seed(7)
    local lin = ann.nn.Linear(3, 2)
    local x = leaf{4, 3}
    check(function(t, w, b) return lin(t) end, {x, lin.weight, lin.bias})
    check(function(t, w, b) return lin(t) end, {leaf{3}, lin.weight, lin.bias})
    local nb = ann.nn.Linear(3, 2, {bias = false})
    check(function(t, w) return nb(t) end, {x, nb.weight})
  end)

  it("a Sequential MLP with every activation module", function()
    ann.manual_seed(3)
    local nn = ann.nn
    local net = nn.Sequential{
      nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Sigmoid(),
      nn.Linear(4, 4), nn.LeakyReLU(0.1), nn.Identity(), nn.Linear(4, 3),
      nn.LogSoftmax(),
    }
    local ps = net:parameters()
    local x = leaf{5, 3}
    table.insert(ps, 1, x)
    check(function(t) return net(t) end, ps)
    local sm = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Softmax(1))
    local qs = sm:parameters()
    table.insert(qs, 1, x)
    check(function(t) return sm(t) end, qs)
  end)

  it("Dropout in eval mode and, with a fixed mask, in training", function()
    local nn = ann.nn
    local d = nn.Dropout(0.3)
    local x = leaf{4, 5}
    check(function(t) ann.manual_seed(11); return d(t) end, {x})
    d:eval()
    check(function(t) return d(t) end, {x})
  end)

  it("every loss, with respect to its input", function()
    local nn = ann.nn
    local x = leaf{4, 3}
    local p = ann.tensor{{0.2, 0.7, 0.4}, {0.9, 0.1, 0.6},
                         {0.3, 0.5, 0.8}, {0.45, 0.25, 0.65}}:requires_grad()
    local bin = ann.tensor{{1, 0, 1}, {0, 0, 1}, {1, 1, 0}, {0, 1, 1}}
    local soft = ann.tensor{{0.2, 0.3, 0.5}, {1, 0, 0}, {0, 0.5, 0.5},
                            {0.1, 0.8, 0.1}}
    local cls = ann.tensor{3, 1, 2, 2}
    for _, r in ipairs{"mean", "sum", "none"} do
      local o = {reduction = r}
      check(function(t) return nn.MSELoss(o)(t, soft) end, {x})
      check(function(t) return nn.BCELoss(o)(t, bin) end, {p})
      check(function(t) return nn.BCEWithLogitsLoss(o)(t, bin) end, {x})
      check(function(t) return nn.CrossEntropyLoss(o)(t, cls) end, {x})
      check(function(t) return nn.CrossEntropyLoss(o)(t, soft) end, {x})
      check(function(t) return nn.NLLLoss(o)(t:log_softmax(2), cls) end, {x})
    end
    -- MSE is differentiable in its target as well
    local y = leaf({4, 3}, 0.2)
    check(function(t, u) return nn.MSELoss()(t, u) end, {x, y})
  end)
end)

describe("grad_check itself", function()
  it("fails on a deliberately wrong gradient", function()
    -- forward detaches half its input, so autograd reports 0 for that
    -- half while finite differences see 2x
    local Half = ann.nn.Module:extend("Half")
    function Half:forward(x)
      local a = x:narrow(2, 1, 2):detach()
      return ann.cat({a, x:narrow(2, 3, 2)}, 2):pow(2)
    end
    local m = Half()
    local x = leaf{3, 4}
    local ok, err = ann.grad_check(function(t) return m(t) end, {x})
    assert.is_false(ok)
    assert.is_true(err > 0.1)
    -- the kept half alone is right
    ok = ann.grad_check(function(t) return m(t):narrow(2, 3, 2) end, {x})
    assert.is_true(ok)
  end)

  it("fails when a gradient is off by a constant factor", function()
    -- x * detach(x): value x^2, autograd's gradient x instead of 2x
    local ok = ann.grad_check(function(t) return t * t:detach() end,
                              {leaf{5}})
    assert.is_false(ok)
  end)

  it("refuses an input that does not require grad", function()
    fails(function() ann.grad_check(function(t) return t end, {ann.ones(2)}) end,
          "grad_check", "input 1")
    fails(function() ann.grad_check(function() return ann.ones(1) end, {}) end,
          "grad_check")
    fails(function() ann.grad_check(function() return 3 end, {leaf{2}}) end,
          "grad_check", "number")
  end)

  it("perturbs a non-contiguous leaf and leaves its values as they were", function()
    local x = ann.tensor{{1, 2, 3}, {4, 5, 6}}:t():requires_grad()
    assert.is_false(x:is_contiguous())
    check(function(t) return t:pow(2):mm(ann.ones(2, 1)) end, {x})
    assert.are.same({{1, 4}, {2, 5}, {3, 6}}, x:totable())
    local ok = ann.grad_check(function(t) return t * t:detach() end, {x})
    assert.is_false(ok)
  end)
end)

describe("autograd semantics", function()
  it("marks leaves and propagates requires_grad through ops", function()
    local x = ann.ones(2):requires_grad()
    assert.is_true(x:needs_grad())
    assert.is_true(x:is_leaf())
    local y = x * 2
    assert.is_true(y:needs_grad())
    assert.is_false(y:is_leaf())
    local z = ann.ones(2) * 2
    assert.is_false(z:needs_grad())
    assert.is_nil(x.grad)
    assert.are.equal(x, x:requires_grad(false))
    assert.is_false(x:needs_grad())
  end)

  it("accumulates gradients across backward calls until zeroed", function()
    local x = ann.tensor{1, 2, 3}:requires_grad()
    ;(x * 3):sum():backward()
    assert.are.same({3, 3, 3}, x.grad:totable())
    ;(x * x):sum():backward()             -- adds 2x
    assert.are.same({5, 7, 9}, x.grad:totable())
    local M = ann.nn.Module:extend("Holder")
    function M:init() self.w = x end
    M():zero_grad()
    assert.are.same({0, 0, 0}, x.grad:totable())
    ;(x * 3):sum():backward()
    assert.are.same({3, 3, 3}, x.grad:totable())
    x.grad = nil
    assert.is_nil(x.grad)
  end)

  it("adds the gradient of a tensor used twice", function()
    local x = ann.tensor{2, -1}:requires_grad()
    local y = x * x + x * 3                  -- dy/dx = 2x + 3
    y:sum():backward()
    assert.are.same({7, 1}, x.grad:totable())
  end)

  it("lets .grad be assigned a tensor of the same shape", function()
    local x = ann.zeros(2, 2):requires_grad()
    local g = ann.ones(2, 2)
    x.grad = g
    assert.are.same({{1, 1}, {1, 1}}, x.grad:totable())
    g:fill(5)                                -- a copy was stored
    assert.are.same({{1, 1}, {1, 1}}, x.grad:totable())
    fails(function() x.grad = ann.ones(3) end, "grad", "[3]", "[2,2]")
  end)

  it("records nothing under no_grad and restores the mode", function()
    local x = ann.ones(3):requires_grad()
    local y, extra = ann.no_grad(function(t, k) return t * k, "more" end, x, 2)
    assert.is_false(y:needs_grad())
    assert.are.equal("more", extra)
    assert.are.same({2, 2, 2}, y:totable())
    assert.is_true(ann.is_grad_enabled())
    fails(function() y:sum():backward() end)
    -- an error inside leaves grad mode on
    assert.has_error(function()
      ann.no_grad(function() error("boom") end)
    end)
    assert.is_true(ann.is_grad_enabled())
    assert.is_true((x * 2):needs_grad())
  end)

  it("detach shares storage and stops the gradient", function()
    local x = ann.tensor{1, 2}:requires_grad()
    local d = x:detach()
    assert.is_false(d:needs_grad())
    ann.no_grad(function() x:set(1, 10) end)
    assert.are.equal(10, d:get(1))
    local y = (x * d):sum()                    -- d/dx = d, not 2x
    y:backward()
    assert.are.same({10, 2}, x.grad:totable())
  end)

  it("refuses in-place ops on a leaf that requires grad", function()
    local x = ann.ones(2):requires_grad()
    fails(function() x:add_(1) end, "add_")
    fails(function() x:mul_(2) end, "mul_")
    fails(function() x:fill(0) end, "fill")
    assert.are.same({1, 1}, x:totable())
    -- allowed under no_grad, as an optimiser's update is
    ann.no_grad(function() x:add_(1) end)
    assert.are.same({2, 2}, x:totable())
  end)

  it("needs a gradient to start from a non-scalar", function()
    local x = ann.tensor{1, 2, 3}:requires_grad()
    local y = x * 2
    fails(function() y:backward() end, "backward")
    y:backward(ann.tensor{1, 10, 100})
    assert.are.same({2, 20, 200}, x.grad:totable())
    fails(function() (x * 2):backward(ann.ones(2)) end, "backward")
  end)

  it("frees the graph after backward and says so on a second call", function()
    local x = ann.ones(2):requires_grad()
    local y = (x * x):sum()
    y:backward()
    fails(function() y:backward() end, "backward", "freed")
    assert.are.same({2, 2}, x.grad:totable())
  end)

  it("walks a graph 100,000 ops deep", function()
    local x = ann.ones(2):requires_grad()
    local y = x
    for _ = 1, 100000 do y = y * 1 end
    y:sum():backward()
    assert.are.same({1, 1}, x.grad:totable())
  end)

  it("refuses backward on a result that does not require grad", function()
    fails(function() ann.ones(2):sum():backward() end, "backward")
  end)
end)

describe("the chain rule by hand", function()
  -- x -> l1 = x w1 -> h = sigmoid(l1) -> l2 = h w2 -> yhat = sigmoid(l2),
  -- loss = (yhat - y)^2 (as in examples/chain_rule.lua)
  local sig = function(v) return 1 / (1 + math.exp(-v)) end

  it("matches autograd layer by layer", function()
    local xv = {0.5, -1.0}
    local w1v = {{0.1, -0.2, 0.3}, {0.4, 0.5, -0.6}}
    local w2v = {0.7, -0.8, 0.9}
    local y = 1

    -- forward by hand
    local l1, h = {}, {}
    for j = 1, 3 do
      l1[j] = xv[1] * w1v[1][j] + xv[2] * w1v[2][j]
      h[j] = sig(l1[j])
    end
    local l2 = 0
    for j = 1, 3 do l2 = l2 + h[j] * w2v[j] end
    local yhat = sig(l2)
    local loss = (yhat - y) ^ 2
    -- backward by hand: dloss/dyhat, dyhat/dl2, dl2/dw2 = h,
    -- dl2/dh = w2, dh/dl1 = h(1 - h), dl1/dw1 = x
    local dloss_dyhat = 2 * (yhat - y)
    local dyhat_dl2 = yhat * (1 - yhat)
    local delta2 = dloss_dyhat * dyhat_dl2
    local gw2, gw1 = {}, {{}, {}}
    for j = 1, 3 do
      gw2[j] = delta2 * h[j]
      local delta1 = delta2 * w2v[j] * h[j] * (1 - h[j])
      for i = 1, 2 do gw1[i][j] = xv[i] * delta1 end
    end

    -- the same with autograd
    local x = ann.tensor{xv}
    local w1 = ann.tensor(w1v):requires_grad()
    local w2 = ann.tensor({w2v[1], w2v[2], w2v[3]}, {3, 1}):requires_grad()
    local out = x:mm(w1):sigmoid():mm(w2):sigmoid()
    local L = (out - y):pow(2):sum()
    near(yhat, out:item(), 1e-6)
    near(loss, L:item(), 1e-6)
    L:backward()
    near_all({gw1[1][1], gw1[1][2], gw1[1][3], gw1[2][1], gw1[2][2], gw1[2][3]},
             w1.grad, 1e-6)
    near_all(gw2, w2.grad, 1e-6)
    -- and the MSE loss module gives the same
    w1.grad, w2.grad = nil, nil
    local L2 = ann.nn.MSELoss()(x:mm(w1):sigmoid():mm(w2):sigmoid(),
                                ann.tensor{{y}})
    near(loss, L2:item(), 1e-6)
    L2:backward()
    near_all(gw2, w2.grad, 1e-6)
  end)
end)
