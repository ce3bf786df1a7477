-- fused_spec.lua: the fused path for Sequential stacks (annlua.fused,
-- src/ann_mlp.c): inference against hand-worked values and against the
-- general path (the modules called one by one through autograd's ops),
-- when it applies and when it must not, and a fused training epoch
-- against the idiomatic loop run on a twin of the same model.
local ann = require("annlua")
local nn = ann.nn
local fused = require("annlua.fused")

local fails = require("helpers").fails

local function near(want, got, tol)
  tol = tol or 1e-5
  assert(math.abs(want - got) <= tol * math.max(1, math.abs(want)),
         ("expected %.9g, got %.9g"):format(want, got))
end

-- largest |a - b| relative to the largest |b|
local function relerr(a, b)
  return (a - b):abs():max():item() / math.max(b:abs():max():item(), 1e-30)
end

-- the general path: each module's forward in turn
local function general(net, x)
  for i = 1, net.n do x = net:get(i):forward(x) end
  return x
end

local function nograd(fn, ...) return ann.no_grad(fn, ...) end

describe("fused inference", function()
  it("computes a hand-worked 2-2-1 network", function()
    local net = nn.Sequential{nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)}
    local l1, l2 = net:get(1), net:get(3)
    l1.weight = ann.tensor{{1, 2}, {-1, 0.5}}
    l1.bias = ann.tensor{0.5, -0.25}
    l2.weight = ann.tensor{{2, -3}}
    l2.bias = ann.tensor{0.125}
    -- x = (0.25, -0.5): z1 = (0.25 - 1 + 0.5, -0.25 - 0.25 - 0.25)
    --                      = (-0.25, -0.75)
    local h1, h2 = math.tanh(-0.25), math.tanh(-0.75)
    local want = 2 * h1 - 3 * h2 + 0.125
    local y = nograd(net, ann.tensor{0.25, -0.5})
    assert.are.same({1}, y:shape())
    near(want, y:get(1), 1e-6)
    local yb = nograd(net, ann.tensor{{0.25, -0.5}, {0, 0}})
    assert.are.same({2, 1}, yb:shape())
    near(want, yb:get(1, 1), 1e-6)
    near(2 * math.tanh(0.5) - 3 * math.tanh(-0.25) + 0.125, yb:get(2, 1), 1e-6)
  end)

  it("matches the general path for every fusable activation", function()
    ann.manual_seed(3)
    local stacks = {
      {nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3)},
      {nn.Linear(5, 7), nn.Sigmoid(), nn.Identity(), nn.Linear(7, 3), nn.Tanh()},
      {nn.Linear(5, 7, {bias = false}), nn.LeakyReLU(0.1), nn.Linear(7, 3)},
      {nn.Linear(5, 3)},
      {nn.Linear(5, 40), nn.Tanh(), nn.Linear(40, 33), nn.ReLU(),
       nn.Linear(33, 3)},
    }
    for k, mods in ipairs(stacks) do
      local net = nn.Sequential(mods)
      for _, x in ipairs{ann.randn(5), ann.randn(9, 5), ann.randn(70, 5)} do
        local a = nograd(net, x)
        local b = nograd(general, net, x)
        assert.are.same(b:shape(), a:shape())
        assert(relerr(a, b) <= 1e-5, "stack " .. k .. ": " .. relerr(a, b))
      end
    end
  end)

  it("takes a strided input and leaves it alone", function()
    ann.manual_seed(4)
    local net = nn.Sequential{nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)}
    local x = ann.randn(3, 6):t()          -- [6,3], not contiguous
    local keep = x:clone()
    local a, b = nograd(net, x), nograd(general, net, x:contiguous())
    assert(relerr(a, b) <= 1e-5)
    assert.are.equal(0, (x - keep):abs():max():item())
  end)

  it("sees a replaced weight, an added module and a changed slope", function()
    ann.manual_seed(5)
    local net = nn.Sequential{nn.Linear(3, 2), nn.LeakyReLU(0.5)}
    local x = ann.tensor{1, -2, 3}
    nograd(net, x)                          -- the plan is cached now
    net:get(1).weight = ann.tensor{{1, 1, 1}, {-1, 0, 0}}
    net:get(1).bias = ann.tensor{0, 0}
    local y = nograd(net, x)
    near(2, y:get(1)); near(-0.5, y:get(2))
    net:get(2).slope = 0.25
    near(-0.25, nograd(net, x):get(2))
    net:add(nn.Linear(2, 1))
    net:get(3).weight = ann.tensor{{1, 10}}
    net:get(3).bias = ann.tensor{1}
    near(2 - 2.5 + 1, nograd(net, x):get(1))
  end)

  it("sees a bias given to a layer that had none", function()
    local net = nn.Sequential{nn.Linear(2, 1, {bias = false})}
    net:get(1).weight = ann.tensor{{1, 2}}
    local x = ann.tensor{3, 4}
    near(11, nograd(net, x):get(1))
    net:get(1).bias = ann.tensor{-1}
    near(10, nograd(net, x):get(1))
    net:get(1).bias = nil
    near(11, nograd(net, x):get(1))
  end)

  it("runs a stack too long for its plan's check on the general path",
     function()
    -- 200 modules would need more upvalues than one Lua function has
    local mods = {nn.Linear(2, 1)}
    for i = 2, 200 do mods[i] = nn.Identity() end
    local net = nn.Sequential(mods)
    net:get(1).weight = ann.tensor{{1, 2}}
    net:get(1).bias = ann.tensor{0.5}
    near(11.5, nograd(net, ann.tensor{3, 4}):get(1))
    assert.is_nil(nograd(fused.forward, net, ann.tensor{3, 4}))
    net = nn.Sequential{table.unpack(mods, 1, 150)}  -- short enough
    assert.is_not_nil(nograd(fused.forward, net, ann.tensor{3, 4}))
  end)

  it("records a graph when one is wanted", function()
    local net = nn.Sequential{nn.Linear(3, 2), nn.Tanh()}
    local y = net(ann.randn(4, 3))
    assert.is_true(y:needs_grad())
    y:sum():backward()
    assert.is_not_nil(net:get(1).weight.grad)
    -- nothing requires grad: no graph, fused or not
    local frozen = nn.Sequential{nn.Linear(3, 2)}
    for _, p in ipairs(frozen:parameters()) do p:requires_grad(false) end
    assert.is_false(frozen(ann.randn(3)):needs_grad())
    local x = ann.randn(3):requires_grad()
    assert.is_true(frozen(x):needs_grad())
  end)

  it("leaves other stacks and bad inputs to the general path", function()
    local Twice = nn.Module:extend("Twice")
    function Twice:forward(x) return x * 2 end
    ann.manual_seed(6)
    local odd = nn.Sequential{nn.Linear(2, 2), Twice()}
    local x = ann.randn(2)
    assert.is_nil(fused.forward(odd, x))
    local a, b = nograd(odd, x), nograd(general, odd, x)
    assert.are.equal(0, (a - b):abs():max():item())
    assert.is_nil(fused.forward(nn.Sequential{nn.Tanh(), nn.Linear(2, 2)}, x))
    assert.is_nil(fused.forward(nn.Sequential{nn.Linear(2, 2), nn.Tanh(),
                                              nn.ReLU()}, x))
    assert.is_nil(fused.forward(nn.Sequential{nn.Linear(2, 2), nn.Softmax()}, x))
    local net = nn.Sequential{nn.Linear(2, 2)}
    fails(function() nograd(net, ann.randn(3)) end, "linear", "[3]")
    fails(function() nograd(net, ann.randn(2, 2, 2)) end, "linear")
  end)
end)

-- the idiomatic loop over the batches of `order`, on a twin model
local function loop(net, loss_fn, opt, x, y, order, bs)
  local sum, n = 0, #x
  for s = 1, n, bs do
    local idx = order:narrow(1, s, math.min(bs, n - s + 1))
    local xb, yb = x:index_select(1, idx), y:index_select(1, idx)
    opt:zero_grad()
    local loss = loss_fn(net(xb), yb)
    loss:backward()
    opt:step()
    sum = sum + loss:item() * #xb
  end
  return sum / n
end

local function twins(make)
  ann.manual_seed(11)
  local a = make()
  ann.manual_seed(11)
  return a, make()
end

describe("fused training", function()
  local cases = {
    {"SGD with momentum, MSE", function(ps) return ann.optim.SGD(ps,
       {lr = 0.05, momentum = 0.9, weight_decay = 1e-3}) end,
     nn.MSELoss, "mse"},
    {"Nesterov SGD and L1, cross-entropy", function(ps) return ann.optim.SGD(ps,
       {lr = 0.05, momentum = 0.5, nesterov = true, l1 = 1e-4}) end,
     nn.CrossEntropyLoss, "ce"},
    {"Adam, cross-entropy", function(ps) return ann.optim.Adam(ps,
       {lr = 1e-2}) end, nn.CrossEntropyLoss, "ce"},
    {"AdamW, BCE with logits", function(ps) return ann.optim.AdamW(ps,
       {lr = 1e-2}) end, nn.BCEWithLogitsLoss, "bce"},
    {"RMSprop with momentum, MSE", function(ps) return ann.optim.RMSprop(ps,
       {lr = 1e-3, momentum = 0.5}) end, nn.MSELoss, "mse"},
  }
  for _, c in ipairs(cases) do
    it("equals the general loop: " .. c[1], function()
      local nout = c[4] == "ce" and 4 or 2
      local a, b = twins(function()
        return nn.Sequential{nn.Linear(6, 9), nn.Tanh(), nn.Linear(9, 7),
                             nn.ReLU(), nn.Linear(7, nout)}
      end)
      local n, bs = 53, 8                  -- a short last batch
      ann.manual_seed(12)
      local x = ann.randn(n, 6)
      local y
      if c[4] == "ce" then
        local t = {}
        for i = 1, n do t[i] = (i * 7) % 4 + 1 end
        y = ann.tensor(t)
      elseif c[4] == "bce" then y = ann.rand(n, nout):gt(0.5)
      else y = ann.randn(n, nout) end
      local la, lb = c[3](), c[3]()
      local oa, ob = c[2](a:parameters()), c[2](b:parameters())
      local tr = assert(fused.trainer(b, lb, ob, bs))
      for epoch = 1, 3 do
        local order = ann.randperm(n)
        local want = loop(a, la, oa, x, y, order, bs)
        local got = tr:epoch(x, y, order)
        near(want, got, 1e-5)
      end
      assert.are.equal(oa.state.step, ob.state.step)
      local pa, pb = a:parameters(), b:parameters()
      for i = 1, #pa do
        assert(relerr(pb[i], pa[i]) <= 1e-5, c[1] .. ": param " .. i)
      end
      -- and the general loop can carry on from the fused epochs
      local order = ann.randperm(n)
      near(loop(a, la, oa, x, y, order, bs), loop(b, lb, ob, x, y, order, bs),
           1e-5)
    end)
  end

  it("equals the general loop on a network big enough for the BLAS",
     function()
    -- 120-300-40-10 at batch 64: the products go to the BLAS, and each
    -- layer is stepped during the backward
    local a, b = twins(function()
      return nn.Sequential{nn.Linear(120, 300), nn.ReLU(), nn.Linear(300, 40),
                           nn.Tanh(), nn.Linear(40, 10)}
    end)
    ann.manual_seed(13)
    local n = 150                           -- two full batches and 22 rows
    local x = ann.randn(n, 120)
    local t = {}
    for i = 1, n do t[i] = (i * 3) % 10 + 1 end
    local y = ann.tensor(t)
    local la, lb = nn.CrossEntropyLoss(), nn.CrossEntropyLoss()
    -- SGD: the params move by the grads, so they show the grads' agreement
    -- (Adam's m / sqrt(v) turns rounding in a grad near 0 into a full step)
    local oa = ann.optim.SGD(a:parameters(), {lr = 0.05, momentum = 0.9})
    local ob = ann.optim.SGD(b:parameters(), {lr = 0.05, momentum = 0.9})
    local tr = assert(fused.trainer(b, lb, ob, 64))
    for _ = 1, 2 do
      local order = ann.randperm(n)
      near(loop(a, la, oa, x, y, order, 64), tr:epoch(x, y, order), 1e-5)
    end
    local pa, pb = a:parameters(), b:parameters()
    for i = 1, #pa do
      assert(relerr(pb[i], pa[i]) <= 1e-5, "param " .. i .. ": "
             .. relerr(pb[i], pa[i]))
    end
  end)

  it("equals the general loop when two threads share each layer", function()
    -- 256-300-40-10 at batch 64 is big enough for the threaded epoch
    -- (src/ann_mlp.c, threads_for): each thread computes and steps its
    -- own rows of every layer; 300 and 40 are not multiples of the
    -- threads' 16-column shares, so the shares are uneven
    local saved = ann.get_num_threads()
    ann.set_num_threads(2)
    local ok, err = pcall(function()
      for _, opt in ipairs{"SGD", "Adam"} do
        local a, b = twins(function()
          return nn.Sequential{nn.Linear(256, 300), nn.ReLU(),
                               nn.Linear(300, 40), nn.Tanh(),
                               nn.Linear(40, 10)}
        end)
        ann.manual_seed(14)
        local n = 150
        local x = ann.randn(n, 256)
        local t = {}
        for i = 1, n do t[i] = (i * 3) % 10 + 1 end
        local y = ann.tensor(t)
        local la, lb = nn.CrossEntropyLoss(), nn.CrossEntropyLoss()
        local o = {lr = opt == "SGD" and 0.05 or 1e-3, momentum = 0.9}
        if opt == "Adam" then o.momentum = nil end
        local oa = ann.optim[opt](a:parameters(), o)
        local ob = ann.optim[opt](b:parameters(), o)
        local tr = assert(fused.trainer(b, lb, ob, 64))
        for _ = 1, 2 do
          local order = ann.randperm(n)
          near(loop(a, la, oa, x, y, order, 64), tr:epoch(x, y, order), 1e-5)
        end
        assert.are.equal(oa.state.step, ob.state.step)
        local pa, pb = a:parameters(), b:parameters()
        for i = 1, #pa do
          -- Adam: a step of lr per param whatever the grad, so rounding
          -- in a grad near 0 can move it by up to lr
          local tol = opt == "SGD" and 1e-5 or 1e-3
          assert(relerr(pb[i], pa[i]) <= tol, opt .. " param " .. i .. ": "
                 .. relerr(pb[i], pa[i]))
        end
      end
    end)
    ann.set_num_threads(saved)
    assert(ok, err)
  end)

  it("stops all its threads on an error and changes no weight", function()
    local saved = ann.get_num_threads()
    ann.set_num_threads(2)
    local ok, err = pcall(function()
      local net = nn.Sequential{nn.Linear(256, 300), nn.ReLU(),
                                nn.Linear(300, 10)}
      local opt = ann.optim.SGD(net:parameters(), {lr = 0.1})
      local tr = assert(fused.trainer(net, nn.CrossEntropyLoss(), opt, 64))
      local x = ann.randn(200, 256)
      local t = {}
      for i = 1, 200 do t[i] = i % 10 + 1 end
      local y = ann.tensor(t)
      local w = net:get(1).weight:clone()
      opt.lr = -1                 -- refused by the step, in every thread
      fails(function() tr:epoch(x, y) end, "sgd: lr -1 < 0")
      assert.are.equal(0, (net:get(1).weight - w):abs():max():item())
      opt.lr = 0.1                -- and the next epoch runs
      assert(tr:epoch(x, y) > 0)
      assert((net:get(1).weight - w):abs():max():item() > 0)
    end)
    ann.set_num_threads(saved)
    assert(ok, err)
  end)

  it("learns XOR in storage order", function()
    ann.manual_seed(7)
    local net = nn.Sequential{nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)}
    local x = ann.tensor{{0, 0}, {0, 1}, {1, 0}, {1, 1}}
    local y = ann.tensor{{0}, {1}, {1}, {0}}
    local tr = fused.trainer(net, nn.MSELoss(), ann.optim.Adam(
      net:parameters(), {lr = 0.05}), 4)
    local first = tr:epoch(x, y)
    local last
    for _ = 1, 500 do last = tr:epoch(x, y) end
    assert(last < 0.01 and last < first, "loss " .. last)
    local p = nograd(net, x)
    assert(p:get(1, 1) < 0.2 and p:get(2, 1) > 0.8 and p:get(4, 1) < 0.2)
  end)

  it("checks itself against autograd", function()
    ann.manual_seed(8)
    local net = nn.Sequential{nn.Linear(4, 5), nn.Sigmoid(), nn.Linear(5, 3)}
    local tr = fused.trainer(net, nn.CrossEntropyLoss(),
                             ann.optim.SGD(net:parameters(), {lr = 0.1}), 16)
    local ok, err = tr:check(ann.randn(16, 4), ann.tensor{1, 2, 3, 1, 2, 3,
      1, 2, 3, 1, 2, 3, 1, 2, 3, 3})
    assert.is_true(ok)
    assert(err <= 1e-5)
  end)

  -- probability targets whose rows do not sum to 1 take the fused
  -- cross-entropy's probability branch (ann_mlp.c, prob = 1): the grads of
  -- one Linear layer against the closed form dz = (softmax(z) sum(t) - t)/N,
  -- dW = dz^T x, db = sum of dz's rows, worked out here in Lua doubles
  it("has the closed-form gradient for probability rows not summing to 1",
     function()
    ann.manual_seed(21)
    local net = nn.Sequential{nn.Linear(2, 3)}
    local tr = assert(fused.trainer(net, nn.CrossEntropyLoss(),
                      ann.optim.SGD(net:parameters(), {lr = 0.1}), 4))
    local xs = {{0.5, -1}, {2, 0.25}, {-1.5, 1}, {0, 0}}
    local ts = {{0.5, 0.25, 0}, {1, 1, 0.5}, {0, 0, 0}, {0.2, 0, 0.1}}
    local W, b = net:get(1).weight:totable(), net:get(1).bias:totable()
    local n, dW, db, loss = #xs, {{0, 0}, {0, 0}, {0, 0}}, {0, 0, 0}, 0
    for i = 1, n do
      local z, m, s = {}, -math.huge, 0
      for j = 1, 3 do
        z[j] = W[j][1] * xs[i][1] + W[j][2] * xs[i][2] + b[j]
        m = math.max(m, z[j])
      end
      for j = 1, 3 do s = s + math.exp(z[j] - m) end
      local lse, tsum = m + math.log(s), ts[i][1] + ts[i][2] + ts[i][3]
      for j = 1, 3 do
        local dz = (math.exp(z[j] - lse) * tsum - ts[i][j]) / n
        loss = loss - ts[i][j] * (z[j] - lse) / n
        db[j] = db[j] + dz
        for k = 1, 2 do dW[j][k] = dW[j][k] + dz * xs[i][k] end
      end
    end
    local params = net:parameters()
    for _, p in ipairs(params) do p.grad = nil end
    local got = tr.plan.mlp:grad(ann.tensor(xs), ann.tensor(ts), tr.kind)
    near(loss, got, 1e-5)
    local gW, gb = params[1].grad:totable(), params[2].grad:totable()
    for j = 1, 3 do
      near(db[j], gb[j], 1e-5)
      for k = 1, 2 do near(dW[j][k], gW[j][k], 1e-5) end
    end
    -- and the general path agrees (its own closed form: losses_spec)
    assert.is_true((tr:check(ann.tensor(xs), ann.tensor(ts))))
  end)

  it("declines what it does not know", function()
    local net = nn.Sequential{nn.Linear(2, 2)}
    local sgd = ann.optim.SGD(net:parameters(), {lr = 0.1})
    assert.is_nil(fused.trainer(net, nn.NLLLoss(), sgd, 4))
    assert.is_nil(fused.trainer(net, nn.MSELoss{reduction = "sum"}, sgd, 4))
    assert.is_nil(fused.trainer(nn.Sequential{nn.Linear(2, 2), nn.Dropout()},
                                nn.MSELoss(), sgd, 4))
    local other = nn.Linear(2, 2)
    assert.is_nil(fused.trainer(net, nn.MSELoss(),
                                ann.optim.SGD(other:parameters()), 4))
    assert.is_not_nil(fused.trainer(net, nn.MSELoss(), sgd, 4))
  end)

  it("names bad targets, orders and shapes", function()
    local net = nn.Sequential{nn.Linear(2, 3)}
    local tr = fused.trainer(net, nn.CrossEntropyLoss(),
                             ann.optim.SGD(net:parameters(), {lr = 0.1}), 2)
    local x = ann.randn(4, 2)
    fails(function() tr:epoch(x, ann.tensor{1, 2, 4, 1}) end,
          "target 4 of row 3", "1..3")
    fails(function() tr:epoch(x, ann.tensor{1, 2}) end, "target [2]")
    fails(function() tr:epoch(x, ann.tensor{1, 2, 3, 1}, ann.tensor{1, 2, 5, 3}) end,
          "order entry 3 is 5")
    fails(function() tr:epoch(ann.randn(4, 3), ann.tensor{1, 2, 3, 1}) end,
          "[4,3]")
  end)
end)

describe("ann.fit on the fused path", function()
  -- the same seeded run twice, fused and step by step: identical
  -- histories (loss, accuracy, validation) and weights
  local function run(fused_on, opt_name)
    ann.manual_seed(5)
    local x = ann.randn(200, 6)
    local y = (x:narrow(2, 1, 1) + x:narrow(2, 2, 1)):gt(0):view(-1) + 1
    local ds = ann.data.TensorDataset(x, y)
    local net = nn.Sequential{nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)}
    local opt = ann.optim[opt_name](net:parameters(), {lr = 0.01})
    assert.truthy(fused.trainer(net, nn.CrossEntropyLoss(), opt, 16))
    local before = fused.epochs_run
    local h = ann.fit(net, {train = ds, validation = ds, loss = nn.CrossEntropyLoss(),
                            optimizer = opt, epochs = 3, batch_size = 16, seed = 2,
                            progress = false, fused = fused_on})
    -- the path each run claims: all 3 epochs fused, or none
    assert.equal(fused_on and 3 or 0, fused.epochs_run - before)
    return h, net
  end

  for _, opt_name in ipairs{"SGD", "Adam"} do
    it("gives the step-by-step loop's history and weights with " .. opt_name, function()
      local h1, n1 = run(true, opt_name)
      local h2, n2 = run(false, opt_name)
      for e = 1, 3 do
        near(h2.loss[e], h1.loss[e], 1e-5)
        assert.equal(h2.accuracy[e], h1.accuracy[e])
        near(h2.val_loss[e], h1.val_loss[e], 1e-5)
      end
      local p1, p2 = n1:parameters(), n2:parameters()
      for i = 1, #p1 do assert.is_true(relerr(p1[i], p2[i]) < 1e-5) end
    end)
  end

  it("stops at the step whose loss is not finite, before its update", function()
    local x = ann.zeros(40, 2)
    x:set(21, 1, 0 / 0)                  -- row 21: step 2 with batch 20
    local ds = ann.data.TensorDataset(x, ann.ones(40))
    local net = nn.Sequential{nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2)}
    local opt = ann.optim.SGD(net:parameters(), {lr = 0.1})
    local before = fused.epochs_run
    local ok, err = pcall(ann.fit, net, {train = ds, loss = nn.CrossEntropyLoss(),
      optimizer = opt, epochs = 2, batch_size = 20, shuffle = false, progress = false})
    assert.is_false(ok)
    assert.equal(1, fused.epochs_run - before)   -- stopped in a fused epoch
    assert.equal("fit: loss is nan at epoch 1, step 2; lower the learning rate or check the data",
                 (err:gsub("^spec/fused_spec%.lua:%d+: ", "")))
    for _, p in ipairs(net:parameters()) do        -- step 1 only: finite
      assert.equal(0, p:ne(p):sum():item())
    end
  end)
end)
