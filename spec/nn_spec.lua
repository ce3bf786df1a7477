-- nn_spec.lua: ann.nn modules from Lua: Linear (shapes, init bounds,
-- values against a naive loop), Sequential, parameters and their names,
-- user modules, train/eval and Dropout, the activation modules, tostring,
-- the Perceptron rule, repeatability under a seed, and XOR.
local ann = require("annlua")
local nn = ann.nn
local h = require("helpers")

-- fails(fn, parts...): fn raises an error holding each part;
-- near(want, got, tol): absolute, tol 1e-5
local fails, near = h.fails, h.near

local function flat(t) return t:contiguous():view(-1):totable() end

describe("nn.Linear", function()
  it("has weight [out, in], bias [out] and maps [N, in] to [N, out]", function()
    local lin = nn.Linear(3, 5)
    assert.are.same({5, 3}, lin.weight:shape())
    assert.are.same({5}, lin.bias:shape())
    assert.is_true(lin.weight:needs_grad() and lin.bias:needs_grad())
    assert.are.same({4, 5}, lin(ann.zeros(4, 3)):shape())
    assert.are.same({5}, lin(ann.zeros(3)):shape())
    assert.are.equal(2, #lin:parameters())
  end)

  it("computes x W^T + b as a naive loop does", function()
    local lin = nn.Linear(3, 2)
    ann.no_grad(function()
      lin.weight:copy(ann.tensor{{1, 2, 3}, {-1, 0.5, 0}})
      lin.bias:copy(ann.tensor{0.25, -2})
    end)
    local x = ann.tensor{{1, 0, -1}, {2, 4, 0.5}}
    -- row 1: 1-3+0.25 = -1.75, -1+0-2 = -3
    -- row 2: 2+8+1.5+0.25 = 11.75, -2+2+0-2 = -2
    assert.are.same({{-1.75, -3}, {11.75, -2}}, lin(x):totable())
  end)

  it("can leave out the bias", function()
    local lin = nn.Linear(4, 2, {bias = false})
    assert.is_nil(lin.bias)
    assert.are.equal(1, #lin:parameters())
    ann.no_grad(function() lin.weight:fill(1) end)
    assert.are.same({{10, 10}}, lin(ann.tensor{{1, 2, 3, 4}}):totable())
  end)

  it("draws weights and biases uniformly within +-1/sqrt(in)", function()
    ann.manual_seed(5)
    local lin = nn.Linear(64, 100)
    local bound = 1 / math.sqrt(64)
    local ws = flat(lin.weight)
    local lo, hi, sum = math.huge, -math.huge, 0
    for _, v in ipairs(ws) do
      lo, hi, sum = math.min(lo, v), math.max(hi, v), sum + v
    end
    assert.is_true(lo >= -bound and hi <= bound)
    -- 6400 draws reach close to both ends and average near 0
    assert.is_true(lo < -0.95 * bound and hi > 0.95 * bound)
    assert.is_true(math.abs(sum / #ws) < 0.05 * bound)
    -- the variance of U(-b, b) is b^2/3
    local var = 0
    for _, v in ipairs(ws) do var = var + v * v end
    near(bound ^ 2 / 3, var / #ws, 0.1 * bound ^ 2 / 3)
    for _, v in ipairs(flat(lin.bias)) do
      assert.is_true(v >= -bound and v <= bound)
    end
  end)

  it("repeats its initialisation under the same seed", function()
    ann.manual_seed(9); local a = nn.Linear(3, 3)
    ann.manual_seed(9); local b = nn.Linear(3, 3)
    assert.are.same(a.weight:totable(), b.weight:totable())
    assert.are.same(a.bias:totable(), b.bias:totable())
    local c = nn.Linear(3, 3)
    assert.are_not.same(a.weight:totable(), c.weight:totable())
  end)

  it("rejects bad sizes and mismatched input", function()
    fails(function() nn.Linear(0, 2) end, "Linear")
    fails(function() nn.Linear(2.5, 2) end, "Linear")
    fails(function() nn.Linear(3, 2)(ann.zeros(2, 4)) end, "[2,4]", "4 ~= 3")
  end)
end)

describe("nn.Sequential and parameters", function()
  it("takes a list or the modules as arguments", function()
    ann.manual_seed(1)
    local a = nn.Sequential{nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)}
    ann.manual_seed(1)
    local b = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert.are.equal(3, a.n)
    assert.are.equal(3, b.n)
    local x = ann.tensor{{0.5, -1}, {2, 3}}
    assert.are.same(a(x):totable(), b(x):totable())
    assert.are.same({2, 1}, a(x):shape())
    assert.are.equal("Linear", a:get(3).__name)
  end)

  it("applies the modules in order", function()
    local s = nn.Sequential{nn.Linear(1, 1, {bias = false}), nn.ReLU()}
    ann.no_grad(function() s:get(1).weight:fill(-2) end)
    -- relu(-2x): 0 for x = 1, 4 for x = -2 (relu after linear, not before)
    assert.are.same({{0}, {4}}, s(ann.tensor{{1}, {-2}}):totable())
  end)

  it("lists parameters depth first in registration order, with names", function()
    local net = nn.Sequential{nn.Linear(2, 3), nn.Tanh(),
                              nn.Linear(3, 1, {bias = false})}
    local names = {}
    for i, np in ipairs(net:named_parameters()) do names[i] = np[1] end
    assert.are.same({"1.weight", "1.bias", "3.weight"}, names)
    local ps = net:parameters()
    assert.are.equal(3, #ps)
    assert.are.equal(net:get(1).weight, ps[1])
    assert.are.equal(net:get(1).bias, ps[2])
    assert.are.equal(net:get(3).weight, ps[3])
    assert.are.equal(2 * 3 + 3 + 3, net:num_parameters())
  end)

  it("rejects something that is not a module", function()
    fails(function() nn.Sequential{nn.ReLU(), 42} end, "Sequential")
  end)
end)

describe("user modules", function()
  local Net = nn.Module:extend("Net")
  function Net:init(n_in, n_hidden)
    self.scale = ann.ones(n_in):requires_grad()
    self.fc1 = nn.Linear(n_in, n_hidden)
    self.act = nn.Tanh()
    self.fc2 = nn.Linear(n_hidden, 1)
    self.note = "not a parameter"
    self.buffer = ann.zeros(2)            -- no grad: not a parameter
  end
  function Net:forward(x)
    return self.fc2(self.act(self.fc1(x * self.scale)))
  end

  it("finds the parameters registered in init, with dotted names", function()
    local m = Net(3, 4)
    local names = {}
    for i, np in ipairs(m:named_parameters()) do names[i] = np[1] end
    assert.are.same({"scale", "fc1.weight", "fc1.bias", "fc2.weight",
                     "fc2.bias"}, names)
    assert.are.equal(3 + 12 + 4 + 4 + 1, m:num_parameters())
    assert.are.same({5, 1}, m(ann.ones(5, 3)):shape())
  end)

  it("gets gradients into every parameter and zeroes them", function()
    local m = Net(3, 4)
    m(ann.ones(2, 3)):sum():backward()
    for _, p in ipairs(m:parameters()) do assert.is_not_nil(p.grad) end
    m:zero_grad()
    for _, p in ipairs(m:parameters()) do
      for _, v in ipairs(flat(p.grad)) do assert.are.equal(0, v) end
    end
  end)

  it("inherits from a user class", function()
    local Sub = Net:extend("Sub")
    function Sub:forward(x) return Net.forward(self, x) * 2 end
    local s = Sub(2, 2)
    assert.are.equal("Sub", s.__name)
    assert.are.equal(2 + 6 + 3, s:num_parameters())
    local x = ann.tensor{{1, 2}}
    near(2 * Net.forward(s, x):item(), s(x):item(), 1e-6)
  end)

  it("does not take a result kept in a field for a parameter", function()
    local Cache = nn.Module:extend("Cache")
    function Cache:init() self.fc = nn.Linear(2, 2) end
    function Cache:forward(x)
      self.last = self.fc(x)                -- requires grad, but no leaf
      return self.last
    end
    local m = Cache()
    m(ann.ones(1, 2))
    assert.are.equal(2, #m:parameters())
    assert.are.equal(6, m:num_parameters())
  end)

  it("needs a forward", function()
    local Empty = nn.Module:extend("Empty")
    fails(function() Empty()(ann.ones(1)) end, "Empty", "forward")
  end)

  it("switches train and eval down the tree", function()
    local m = Net(2, 2)
    assert.is_true(m.training and m.fc1.training)
    assert.are.equal(m, m:eval())
    assert.is_false(m.training)
    assert.is_false(m.fc1.training)
    assert.is_false(m.act.training)
    m:train()
    assert.is_true(m.training and m.fc2.training)
  end)
end)

describe("activation modules", function()
  it("Sigmoid, Tanh, ReLU, Identity", function()
    local x = ann.tensor{-1, 0, 2}
    local s = nn.Sigmoid()(x)
    near(1 / (1 + math.exp(1)), s:get(1))
    near(0.5, s:get(2))
    near(1 / (1 + math.exp(-2)), s:get(3))
    local t = nn.Tanh()(x)
    near(-(math.exp(1) - math.exp(-1)) / (math.exp(1) + math.exp(-1)), t:get(1))
    assert.are.same({0, 0, 2}, nn.ReLU()(x):totable())
    assert.are.same({-1, 0, 2}, nn.Identity()(x):totable())
  end)

  it("LeakyReLU with the default and a given slope, and its gradient", function()
    local x = ann.tensor{-2, 0.5, 4}
    local y = nn.LeakyReLU()(x)
    near(-0.02, y:get(1), 1e-7)
    assert.are.equal(0.5, y:get(2))
    local xg = ann.tensor{-2, 0.5, 4}:requires_grad()
    nn.LeakyReLU(0.25)(xg):sum():backward()
    assert.are.same({0.25, 1, 1}, xg.grad:totable())
    assert.are.same({-0.5, 0.5, 4}, nn.LeakyReLU(0.25)(x):totable())
  end)

  it("Softmax and LogSoftmax along the last dim or a given one", function()
    -- softmax(log{1,2,3}) = {1,2,3}/6
    local x = ann.tensor{{math.log(1), math.log(2), math.log(3)}}
    local s = nn.Softmax()(x)
    near(1 / 6, s:get(1, 1)); near(2 / 6, s:get(1, 2)); near(3 / 6, s:get(1, 3))
    local ls = nn.LogSoftmax()(x)
    near(math.log(1 / 6), ls:get(1, 1)); near(math.log(0.5), ls:get(1, 3))
    -- along dim 1 a single row gives ones
    assert.are.same({{1, 1, 1}}, nn.Softmax(1)(x):totable())
    local cols = nn.Softmax(1)(ann.tensor{{0, 5}, {0, 5}})
    near(0.5, cols:get(1, 1)); near(0.5, cols:get(2, 2))
  end)
end)

describe("nn.Dropout", function()
  it("is the identity in eval mode and for p = 0", function()
    local x = ann.randn(3, 4)
    local d = nn.Dropout(0.5):eval()
    assert.are.same(x:totable(), d(x):totable())
    assert.are.same(x:totable(), nn.Dropout(0)(x):totable())
  end)

  it("zeroes about p of the elements and scales the rest by 1/(1-p)", function()
    ann.manual_seed(2024)
    local p = 0.3
    local x = ann.full({100, 100}, 2)
    local y = nn.Dropout(p)(x)
    local zeros, n = 0, 10000
    for _, v in ipairs(flat(y)) do
      if v == 0 then zeros = zeros + 1
      else near(2 / (1 - p), v, 1e-5) end
    end
    -- binomial sd = sqrt(n p (1-p)) ~ 46; allow 5 sd
    assert.is_true(math.abs(zeros - p * n) < 5 * math.sqrt(n * p * (1 - p)),
                   "zeros: " .. zeros)
  end)

  it("passes the gradient through the kept elements only", function()
    ann.manual_seed(77)
    local x = ann.ones(10, 10):requires_grad()
    local y = nn.Dropout(0.5)(x)
    y:sum():backward()
    local ys, gs = flat(y), flat(x.grad)
    local kept = 0
    for k = 1, #ys do
      assert.are.equal(ys[k], gs[k])          -- both 0 or both 1/(1-p) = 2
      if ys[k] ~= 0 then kept = kept + 1; near(2, gs[k], 1e-6) end
    end
    assert.is_true(kept > 20 and kept < 80)
  end)

  it("rejects p outside [0, 1)", function()
    fails(function() nn.Dropout(1) end, "Dropout", "1")
    fails(function() nn.Dropout(-0.1) end, "Dropout")
  end)

  it("follows the model's train and eval", function()
    local net = nn.Sequential{nn.Identity(), nn.Dropout(0.9)}
    local x = ann.ones(50)
    net:eval()
    assert.are.same(x:totable(), net(x):totable())
    net:train()
    assert.are_not.same(x:totable(), net(x):totable())
  end)
end)

describe("tostring of a model", function()
  it("prints the tree with sizes and parameter counts", function()
    local net = nn.Sequential{nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1),
                              nn.Sigmoid()}
    local s = tostring(net)
    local lines = {}
    for l in s:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(6, #lines)
    assert.truthy(lines[1]:find("Sequential", 1, true))
    assert.truthy(lines[1]:find("17", 1, true))
    -- 2*4 + 4 = 12 and 4*1 + 1 = 5 parameters
    assert.truthy(lines[2]:find("Linear(2 -> 4)", 1, true))
    assert.truthy(lines[2]:find("%f[%d]12%f[%D]"))
    assert.truthy(lines[3]:find("Tanh", 1, true))
    assert.truthy(lines[4]:find("Linear(4 -> 1)", 1, true))
    assert.truthy(lines[4]:find("%f[%d]5%f[%D]"))
    assert.truthy(lines[6]:find("parameters: 17", 1, true))
    -- children are indented under their parent
    assert.truthy(lines[2]:find("^%s+%S"))
    assert.falsy(lines[1]:find("^%s"))
  end)

  it("names the fields of a user module and groups thousands", function()
    local Net = nn.Module:extend("Net")
    function Net:init()
      self.fc1 = nn.Linear(784, 256)
      self.fc2 = nn.Linear(256, 10, {bias = false})
    end
    local s = tostring(Net())
    assert.truthy(s:find("(fc1) Linear(784 -> 256)", 1, true))
    assert.truthy(s:find("(fc2) Linear(256 -> 10, no bias)", 1, true))
    -- 784*256 + 256 = 200,960; + 2,560 = 203,520
    assert.truthy(s:find("200,960", 1, true))
    assert.truthy(s:find("parameters: 203,520", 1, true))
  end)

  it("lines the counts up in one column, nested or not", function()
    local net = nn.Sequential{nn.Sequential{nn.Linear(2, 2)}, nn.ReLU(),
                              nn.Linear(2, 1)}
    local s = tostring(net)
    assert.truthy(s:find("Sequential (1 module)", 1, true))
    local cols = {}
    for line in s:gmatch("[^\n]+") do
      assert.falsy(line:find("%s$"), "trailing space: " .. line)
      local c = line:find("%d+$")
      if c and not line:find("^parameters") then cols[#cols + 1] = c end
    end
    assert.are.equal(4, #cols)            -- 9, 6, 6, 3
    for i = 2, #cols do assert.are.equal(cols[1], cols[i]) end
  end)
end)

describe("nn.Perceptron", function()
  local x4 = ann.tensor{{0, 0}, {0, 1}, {1, 0}, {1, 1}}

  it("learns AND in a few epochs", function()
    local p = nn.Perceptron(2)
    local epoch = p:fit(x4, ann.tensor{0, 0, 0, 1}, {epochs = 50, lr = 1})
    assert.is_not_nil(epoch)
    assert.is_true(epoch <= 10, "epoch " .. tostring(epoch))
    assert.are.same({0, 0, 0, 1}, p(x4):totable())
  end)

  it("learns OR", function()
    local p = nn.Perceptron(2)
    assert.is_not_nil(p:fit(x4, ann.tensor{0, 1, 1, 1}))
    assert.are.same({0, 1, 1, 1}, p(x4):totable())
  end)

  it("returns nil on XOR, which is not linearly separable", function()
    local p = nn.Perceptron(2)
    assert.is_nil(p:fit(x4, ann.tensor{0, 1, 1, 0}, {epochs = 200}))
  end)

  it("follows the rule w += lr (y - yhat) x step by step", function()
    -- one sample x = (1, 2), y = 0; from w = 0, b = 0 the output is
    -- step(0) = 1, so w = -(1, 2), b = -1; then w.x + b = -6 < 0: done
    local p = nn.Perceptron(2)
    local e = p:fit(ann.tensor{{1, 2}}, ann.tensor{0}, {epochs = 5, lr = 1})
    assert.are.equal(2, e)
    assert.are.same({-1, -2}, p.weight:totable())
    assert.are.same({-1}, p.bias:totable())
  end)

  it("rejects mismatched data", function()
    fails(function() nn.Perceptron(3):fit(x4, ann.tensor{0, 0, 0, 1}) end,
          "[4,2]")
  end)
end)

describe("training", function()
  local function run(seed)
    ann.manual_seed(seed)
    local net = nn.Sequential{nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)}
    local x = ann.randn(16, 4)
    local y = ann.tensor{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1}
    local crit = nn.CrossEntropyLoss()
    local opt = ann.optim.SGD(net:parameters(), {lr = 0.1, momentum = 0.9})
    local losses = {}
    for i = 1, 100 do
      opt:zero_grad()
      local loss = crit(net(x), y)
      loss:backward()
      opt:step()
      losses[i] = loss:item()
    end
    return losses
  end

  it("gives identical losses over 100 steps under the same seed", function()
    local a, b = run(123), run(123)
    assert.are.same(a, b)
    assert.is_true(a[100] < a[1])
    assert.are_not.same(a, run(124))
  end)

  it("learns XOR with a 2-4-1 network", function()
    ann.manual_seed(0)
    local x = ann.tensor{{0, 0}, {0, 1}, {1, 0}, {1, 1}}
    local y = ann.tensor{{0}, {1}, {1}, {0}}
    local net = nn.Sequential{nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)}
    local crit = nn.BCEWithLogitsLoss()
    local opt = ann.optim.Adam(net:parameters(), {lr = 0.05})
    local loss
    for _ = 1, 500 do
      opt:zero_grad()
      loss = crit(net(x), y)
      loss:backward()
      opt:step()
    end
    assert.is_true(loss:item() < 0.05, "loss " .. loss:item())
    local pred = net(x):sigmoid():gt(0.5)
    assert.are.same({{0}, {1}, {1}, {0}}, pred:totable())
  end)
end)
