-- losses_spec.lua: the loss modules against values and gradients worked
-- out by hand (in plain Lua doubles here), the three reductions, extreme
-- logits, the 1-based label errors, and the TensorFlow-named functional
-- forms softmax_cross_entropy_with_logits, reduce_mean and one_hot.
local ann = require("annlua")
local nn = ann.nn
local h = require("helpers")

-- fails(fn, parts...): fn raises an error holding each part;
-- near(want, got, tol) and near_all(want, t, tol): absolute, tol 1e-5
local fails, near, near_all = h.fails, h.near, h.near_all

local function finite(t)
  for _, v in ipairs(t:contiguous():view(-1):totable()) do
    if v ~= v or v == math.huge or v == -math.huge then return false end
  end
  return true
end

local log, exp = math.log, math.exp
local function sigmoid(z) return 1 / (1 + exp(-z)) end
-- log(sum exp) of a list of numbers
local function lse(xs)
  local s = 0
  for _, v in ipairs(xs) do s = s + exp(v) end
  return log(s)
end

describe("MSELoss", function()
  -- input {1, 2, 3}, target {1, 0, 5}: errors 0, 2, -2, squares 0, 4, 4
  local input, target = {1, 2, 3}, {1, 0, 5}

  it("gives mean, sum and none", function()
    local x, y = ann.tensor(input), ann.tensor(target)
    near(8 / 3, nn.MSELoss()(x, y):item())
    near(8, nn.MSELoss{reduction = "sum"}(x, y):item())
    assert.are.same({0, 4, 4}, nn.MSELoss{reduction = "none"}(x, y):totable())
    assert.are.equal(0, nn.MSELoss()(x, y):dim())
  end)

  it("has gradient 2 (x - y) / N", function()
    local x = ann.tensor(input):requires_grad()
    nn.MSELoss()(x, ann.tensor(target)):backward()
    near_all({0, 4 / 3, -4 / 3}, x.grad)
    x.grad = nil
    nn.MSELoss{reduction = "sum"}(x, ann.tensor(target)):backward()
    near_all({0, 4, -4}, x.grad)
  end)

  it("works on 2-d input and rejects shape mismatch", function()
    local x = ann.tensor{{1, 2}, {3, 4}}
    near((1 + 4 + 9 + 16) / 4, nn.MSELoss()(x, ann.zeros(2, 2)):item())
    fails(function() nn.MSELoss()(ann.zeros(2, 3), ann.zeros(3, 2)) end,
          "mse", "[2,3]", "[3,2]")
  end)

  it("rejects an unknown reduction", function()
    fails(function() nn.MSELoss{reduction = "avg"} end, "MSELoss", "avg")
  end)
end)

describe("BCELoss", function()
  it("is -(t log p + (1-t) log(1-p))", function()
    local p, t = {0.5, 0.8, 0.1}, {1, 0, 0}
    local l = {-log(0.5), -log(0.2), -log(0.9)}
    local x = ann.tensor(p):requires_grad()
    local loss = nn.BCELoss()(x, ann.tensor(t))
    near((l[1] + l[2] + l[3]) / 3, loss:item())
    near_all(l, nn.BCELoss{reduction = "none"}(x, ann.tensor(t)))
    near(l[1] + l[2] + l[3], nn.BCELoss{reduction = "sum"}(x, ann.tensor(t)):item())
    -- d/dp = (p - t) / (p (1 - p)) / N
    loss:backward()
    local g = {}
    for k = 1, 3 do g[k] = (p[k] - t[k]) / (p[k] * (1 - p[k])) / 3 end
    near_all(g, x.grad, 1e-4)
  end)

  it("stays finite at p = 0 and p = 1", function()
    local x = ann.tensor{0, 1, 1}:requires_grad()
    local loss = nn.BCELoss()(x, ann.tensor{1, 0, 1})
    assert.is_true(finite(loss))
    loss:backward()
    assert.is_true(finite(x.grad))
    -- a right answer at the boundary costs nothing
    near(0, nn.BCELoss()(ann.tensor{1, 0}, ann.tensor{1, 0}):item(), 1e-6)
  end)
end)

-- near p = 0 and p = 1 the gradient (p - t) / (p (1 - p)) / N is huge and
-- every digit counts: compared relatively, on p exactly representable in
-- float32 (powers of 2), with p (1 - p) floored at 1e-12 as in PyTorch
describe("BCELoss near saturation", function()
  local p = {2^-20, 1 - 2^-20, 2^-30, 1 - 2^-24, 0, 1}
  local t = {0, 1, 1, 0, 1, 0}
  local n = #p

  local function rel_all(want, got, tol)
    for k = 1, #want do
      local err = math.abs(got[k] - want[k]) / math.max(math.abs(want[k]), 1e-30)
      assert(err <= tol, ("entry %d: got %.9g, expected %.9g"):format(k, got[k], want[k]))
    end
  end

  it("has gradient (p - t) / max(p (1 - p), 1e-12) / N", function()
    local x = ann.tensor(p):requires_grad()
    nn.BCELoss()(x, ann.tensor(t)):backward()
    local g = {}
    for k = 1, n do
      g[k] = (p[k] - t[k]) / math.max(p[k] * (1 - p[k]), 1e-12) / n
    end
    -- by hand: (p - 1) / (p (1 - p)) = -1 / p, so -2^30 / 6 at p = 2^-30;
    -- p = 1 with t = 0 hits the floor: 1 / 1e-12 / 6
    near(-2^30 / 6, g[3], 1e-3)
    near(1e12 / 6, g[6], 1)
    rel_all(g, x.grad:totable(), 1e-5)
  end)

  it("has losses -log p, with log clamped at -100", function()
    local want = {}
    for k = 1, n do
      local q = t[k] == 1 and p[k] or 1 - p[k]
      want[k] = q > 0 and -math.log(q) or 100
    end
    -- 2^-30 costs 30 log 2; p = 0 with t = 1 costs the clamp, 100
    near(30 * math.log(2), want[3], 1e-12)
    local got = nn.BCELoss{reduction = "none"}(ann.tensor(p), ann.tensor(t))
    near_all(want, got, 2e-5)
    assert.equal(100, got:get(5))
  end)

  it("gives the target the gradient log(1 - p) - log(p)", function()
    local pt = {2^-20, 0.25, 1 - 2^-20}
    local y = ann.tensor{0, 0.5, 1}:requires_grad()
    nn.BCELoss{reduction = "sum"}(ann.tensor(pt), y):backward()
    local g = {}
    for k = 1, 3 do g[k] = math.log(1 - pt[k]) - math.log(pt[k]) end
    near(20 * math.log(2), g[1], 1e-5)
    rel_all(g, y.grad:totable(), 1e-5)
  end)
end)

describe("BCEWithLogitsLoss", function()
  it("equals BCE of the sigmoid, with gradient (sigmoid(z) - t) / N", function()
    local z, t = {0, 2, -1, 0.5}, {1, 0, 1, 0.25}
    local x = ann.tensor(z):requires_grad()
    local want, g = 0, {}
    for k = 1, 4 do
      local s = sigmoid(z[k])
      want = want - (t[k] * log(s) + (1 - t[k]) * log(1 - s))
      g[k] = (s - t[k]) / 4
    end
    local loss = nn.BCEWithLogitsLoss()(x, ann.tensor(t))
    near(want / 4, loss:item())
    loss:backward()
    near_all(g, x.grad)
    near(want, nn.BCEWithLogitsLoss{reduction = "sum"}(x, ann.tensor(t)):item())
  end)

  it("is stable for logits of +-1000", function()
    local x = ann.tensor{1000, -1000, 1000, -1000}:requires_grad()
    local t = ann.tensor{0, 1, 1, 0}
    local l = nn.BCEWithLogitsLoss{reduction = "none"}(x, t)
    -- wrong by a margin of 1000 costs 1000; right costs 0
    near_all({1000, 1000, 0, 0}, l, 1e-3)
    local loss = nn.BCEWithLogitsLoss()(x, t)
    loss:backward()
    near_all({0.25, -0.25, 0, 0}, x.grad, 1e-6)
  end)
end)

describe("CrossEntropyLoss", function()
  local logits = {{1, 2, 3}, {1, 1, 1}, {-1, 0.5, 2}}
  local cls = {3, 1, 2}
  -- per-row loss = lse(row) - row[class]
  local rows = {}
  for i = 1, 3 do rows[i] = lse(logits[i]) - logits[i][cls[i]] end

  local function softmax(r)
    local s, out = lse(r), {}
    for k, v in ipairs(r) do out[k] = exp(v - s) end
    return out
  end

  it("takes 1-based class indices", function()
    local x = ann.tensor(logits)
    near((rows[1] + rows[2] + rows[3]) / 3,
         nn.CrossEntropyLoss()(x, ann.tensor(cls)):item())
    near(rows[1] + rows[2] + rows[3],
         nn.CrossEntropyLoss{reduction = "sum"}(x, ann.tensor(cls)):item())
    near_all(rows, nn.CrossEntropyLoss{reduction = "none"}(x, ann.tensor(cls)))
    near(log(3), rows[2], 1e-12)             -- the equal row, by hand
  end)

  it("has gradient (softmax - one_hot) / N", function()
    local x = ann.tensor(logits):requires_grad()
    nn.CrossEntropyLoss()(x, ann.tensor(cls)):backward()
    local g = {}
    for i = 1, 3 do
      local s = softmax(logits[i])
      for j = 1, 3 do
        g[#g + 1] = (s[j] - (j == cls[i] and 1 or 0)) / 3
      end
    end
    near_all(g, x.grad)
  end)

  it("takes one-hot rows with the same result", function()
    local x = ann.tensor(logits)
    local oh = ann.tensor{{0, 0, 1}, {1, 0, 0}, {0, 1, 0}}
    near_all(rows, nn.CrossEntropyLoss{reduction = "none"}(x, oh))
    near((rows[1] + rows[2] + rows[3]) / 3, nn.CrossEntropyLoss()(x, oh):item())
  end)

  it("takes probability rows: -sum t log softmax", function()
    local t = {0.25, 0.75, 0}
    local ls = lse(logits[1])
    local want = -(0.25 * (1 - ls) + 0.75 * (2 - ls))
    local x = ann.tensor{logits[1]}:requires_grad()
    local loss = nn.CrossEntropyLoss()(x, ann.tensor{t})
    near(want, loss:item())
    loss:backward()
    local s = softmax(logits[1])
    near_all({s[1] - 0.25, s[2] - 0.75, s[3]}, x.grad)
  end)

  -- rows of t that do not sum to 1 (a smoothed or unnormalised target):
  -- d/dx of -sum_j t_j log softmax_j is softmax * sum(t) - t, and the
  -- target gets -log softmax
  it("takes probability rows that do not sum to 1", function()
    local t = {{0.5, 0.25, 0}, {1, 1, 0.5}, {0, 0, 0}}
    local x = ann.tensor(logits):requires_grad()
    local y = ann.tensor(t):requires_grad()
    local loss = nn.CrossEntropyLoss()(x, y)
    local want, gx, gy = 0, {}, {}
    for i = 1, 3 do
      local s, ls, ts = softmax(logits[i]), lse(logits[i]), 0
      for j = 1, 3 do ts = ts + t[i][j] end
      for j = 1, 3 do
        want = want - t[i][j] * (logits[i][j] - ls) / 3
        gx[#gx + 1] = (s[j] * ts - t[i][j]) / 3
        gy[#gy + 1] = -(logits[i][j] - ls) / 3
      end
    end
    near(want, loss:item())
    loss:backward()
    near_all(gx, x.grad)
    near_all(gy, y.grad)
    -- row 2 sums to 2.5: the gradient of its equal logits is 2.5/3 - t
    near((2.5 / 3 - 1) / 3, x.grad:get(2, 1), 1e-6)
  end)

  it("accepts a single 1-d row of logits", function()
    near(rows[1], nn.CrossEntropyLoss()(ann.tensor(logits[1]),
                                        ann.tensor{3}):item())
  end)

  it("is stable for logits of +-1000", function()
    local x = ann.tensor{{1000, -1000}, {-1000, 1000}, {1000, 1000}}
                 :requires_grad()
    local l = nn.CrossEntropyLoss{reduction = "none"}(x, ann.tensor{2, 2, 1})
    near_all({2000, 0, log(2)}, l, 1e-2)
    local loss = nn.CrossEntropyLoss()(x, ann.tensor{2, 2, 1})
    assert.is_true(finite(loss))
    loss:backward()
    assert.is_true(finite(x.grad))
    -- float32 near 1000 has a spacing of 6e-5, so no more than that
    near_all({1 / 3, -1 / 3, 0, 0, -1 / 6, 1 / 6}, x.grad, 1e-4)
  end)

  it("says labels are 1-based and which value it found", function()
    local x = ann.zeros(2, 3)
    fails(function() nn.CrossEntropyLoss()(x, ann.tensor{1, 4}) end,
          "1-based", "4", "1..3")
    fails(function() nn.CrossEntropyLoss()(x, ann.tensor{0, 2}) end,
          "1-based", "0")
    fails(function() nn.CrossEntropyLoss()(x, ann.tensor{1.5, 2}) end,
          "1.5")
    fails(function() nn.CrossEntropyLoss()(x, ann.tensor{1, 2, 3}) end,
          "cross_entropy", "[3]", "[2,3]")
    fails(function() nn.CrossEntropyLoss()(x, ann.zeros(2, 4)) end,
          "cross_entropy", "[2,4]", "[2,3]")
  end)
end)

describe("NLLLoss", function()
  it("picks -logp of the target class", function()
    local lp = ann.tensor{{-1, -2, -3}, {-0.5, -1.5, -2.5}}:requires_grad()
    local t = ann.tensor{2, 3}
    near(2.25, nn.NLLLoss()(lp, t):item())           -- (2 + 2.5) / 2
    near(4.5, nn.NLLLoss{reduction = "sum"}(lp, t):item())
    assert.are.same({2, 2.5}, nn.NLLLoss{reduction = "none"}(lp, t):totable())
    nn.NLLLoss()(lp, t):backward()
    assert.are.same({{0, -0.5, 0}, {0, 0, -0.5}}, lp.grad:totable())
  end)

  it("with LogSoftmax equals CrossEntropyLoss", function()
    local x = ann.tensor{{0.3, -1, 2}, {1, 1, 0}}
    local t = ann.tensor{1, 3}
    near(nn.CrossEntropyLoss()(x, t):item(),
         nn.NLLLoss()(nn.LogSoftmax()(x), t):item())
  end)

  it("says labels are 1-based", function()
    fails(function() nn.NLLLoss()(ann.zeros(2, 3), ann.tensor{3, 7}) end,
          "1-based", "7")
  end)
end)

describe("TensorFlow-named functions", function()
  it("softmax_cross_entropy_with_logits gives per-sample losses", function()
    local labels = ann.tensor{{0, 0, 1}, {0.5, 0.5, 0}}
    local logits = ann.tensor{{1, 2, 3}, {0, 0, 0}}
    local l = ann.softmax_cross_entropy_with_logits{labels = labels,
                                                    logits = logits}
    assert.are.same({2}, l:shape())
    -- row 2: -(0.5 log 1/3 + 0.5 log 1/3) = log 3
    near_all({lse{1, 2, 3} - 3, log(3)}, l)
    near((lse{1, 2, 3} - 3 + log(3)) / 2, ann.reduce_mean(l):item())
    fails(function() ann.softmax_cross_entropy_with_logits(labels, logits) end,
          "labels", "logits")
  end)

  it("softmax_cross_entropy_with_logits is differentiable in the logits", function()
    local logits = ann.tensor{{1, 2, 3}}:requires_grad()
    ann.reduce_mean(ann.softmax_cross_entropy_with_logits{
      labels = ann.tensor{{0, 1, 0}}, logits = logits}):backward()
    local s = lse{1, 2, 3}
    near_all({exp(1 - s), exp(2 - s) - 1, exp(3 - s)}, logits.grad)
  end)

  it("reduce_mean over all elements or along a dim", function()
    local t = ann.tensor{{1, 2, 3}, {4, 5, 6}}
    near(3.5, ann.reduce_mean(t):item())
    assert.are.same({2.5, 3.5, 4.5}, ann.reduce_mean(t, 1):totable())
    assert.are.same({2, 5}, ann.reduce_mean(t, 2):totable())
  end)

  it("one_hot turns 1-based labels into rows", function()
    assert.are.same({{0, 0, 1}, {1, 0, 0}, {0, 1, 0}},
                    ann.one_hot(ann.tensor{3, 1, 2}, 3):totable())
    assert.are.same({2, 4}, ann.one_hot(ann.tensor{1, 4}, 4):shape())
    fails(function() ann.one_hot(ann.tensor{1, 4}, 3) end, "1-based", "4")
    fails(function() ann.one_hot(ann.tensor{0}, 3) end, "1-based", "0")
  end)
end)
