-- checked_values_spec.lua (issue 11, finding 5): values that make a
-- silent wrong result are refused where they enter, with a message that
-- names the function, the value and the place.
local ann = require("annlua")
local nn = ann.nn
local h = require("helpers")
local fails = h.fails

describe("values checked where they enter", function()
  local params = function() return nn.Linear(2, 2):parameters() end

  it("optimiser options in range", function()
    fails(function() ann.optim.SGD(params(), {lr = -1}) end, "SGD: lr must be a number >= 0, got -1")
    fails(function() ann.optim.SGD(params(), {lr = "0.1"}) end, "SGD: lr must be a number >= 0")
    fails(function() ann.optim.SGD(params(), {momentum = -0.5}) end, "SGD: momentum must be")
    fails(function() ann.optim.SGD(params(), {nesterov = true}) end,
          "SGD: nesterov needs momentum > 0 and dampening = 0")
    fails(function() ann.optim.Adam(params(), {betas = {1.5, 0.9}}) end,
          "Adam: betas[1] must be in [0, 1), got 1.5")
    fails(function() ann.optim.Adam(params(), {betas = {0.9}}) end,
          "Adam: betas must be {beta1, beta2}")
    fails(function() ann.optim.AdamW(params(), {eps = -1}) end, "AdamW: eps must be")
    fails(function() ann.optim.RMSprop(params(), {alpha = -1}) end, "RMSprop: alpha must be")
    fails(function() ann.optim.SGD(params(), {weight_decay = -1}) end, "SGD: weight_decay must be")
    fails(function() ann.optim.SGD(params(), {l1 = -1}) end, "SGD: l1 must be")
    -- set between steps: refused at the step, naming the option, not an internal
    local opt = ann.optim.SGD(params(), {lr = 0.1})
    opt.lr = -2
    local err = fails(function() opt:step() end, "SGD: lr must be a number >= 0, got -2")
    assert.truthy(err:find("checked_values_spec.lua", 1, true), err)
    assert.falsy(err:find("_sgd_step", 1, true), err)
  end)

  it("parameters that are leaves", function()
    local w = ann.ones(2):requires_grad()
    fails(function() ann.optim.SGD({w * 2}, {lr = 1}) end,
          "SGD: parameter 1 is not a leaf")
  end)

  it("BCE targets in [0, 1]", function()
    fails(function() nn.BCELoss()(ann.tensor{0.5}, ann.tensor{2}) end,
          "BCELoss: targets must be in [0, 1], got 2")
    fails(function() nn.BCEWithLogitsLoss()(ann.tensor{0.5}, ann.tensor{-1}) end,
          "BCEWithLogitsLoss: targets must be in [0, 1], got -1")
    -- soft targets are fine: -(0.5 ln 0.5 + 0.5 ln 0.5) = ln 2
    h.near(math.log(2), nn.BCELoss()(ann.tensor{0.5}, ann.tensor{0.5}):item(), 1e-6)
  end)

  it("Perceptron labels 0/1 or -1/+1", function()
    local p = nn.Perceptron(1)
    fails(function() p:fit(ann.tensor{{0}, {1}}, ann.tensor{1, 2}) end,
          "Perceptron:fit: labels must be 0/1 (or -1/+1), got 2 at sample 2")
    assert(p:fit(ann.tensor{{-1}, {1}}, ann.tensor{-1, 1}))
  end)

  it("standardize with a row or more to estimate from", function()
    fails(function() ann.data.standardize(ann.tensor{{1, 2}}) end,
          "standardize: needs at least 2 rows to estimate a std, got 1")
    local x = ann.tensor{{1, 10}, {3, 10}}
    local mean, std = ann.data.standardize(x)
    -- column 1: mean 2, std sqrt(2) (n - 1); column 2 constant: centred
    h.near_all({-1 / math.sqrt(2), 0, 1 / math.sqrt(2), 0}, x)
  end)

  it("accuracy of binary scores needs 0/1 targets", function()
    fails(function() ann.metrics.accuracy(ann.tensor{{0.9}, {0.1}}, ann.tensor{2, 1}) end,
          "accuracy: binary scores [2,1] need 0/1 targets, got 2")
    assert.are.equal(1, ann.metrics.accuracy(ann.tensor{{0.9}, {0.1}}, ann.tensor{1, 0}))
  end)

  it("evaluate reports no accuracy for an MSE regression", function()
    local ds = ann.data.TensorDataset(ann.tensor{{1}, {2}}, ann.tensor{{2.5}, {3.5}})
    local lin = nn.Linear(1, 1)
    ann.no_grad(function() lin.weight:fill(1); lin.bias:fill(1) end)
    local r = ann.evaluate(lin, ds, {loss = nn.MSELoss()})
    assert.is_nil(r.accuracy)
    h.near(0.25, r.loss, 1e-6)             -- errors 0.5 and 0.5
    fails(function() ann.evaluate(lin, ds, {loss = nn.MSELoss(), metrics = {"accuracy"}}) end,
          "accuracy: binary scores [2,1] need 0/1 targets, got 2.5")
  end)
end)

describe("values checked where they enter, on the fast paths too", function()
  it("BCE targets when fit runs a fused epoch (no forward in Lua)", function()
    local net = nn.Sequential{nn.Linear(2, 1)}
    local ds = ann.data.TensorDataset(ann.ones(4, 2), ann.tensor{{2}, {0}, {1}, {0}})
    h.fails(function()
      ann.fit(net, {train = ds, loss = nn.BCEWithLogitsLoss(), metrics = {}, epochs = 1,
                    optimizer = ann.optim.SGD(net:parameters()), progress = false})
    end, "BCEWithLogitsLoss: targets must be in [0, 1], got 2")
  end)

  it("Perceptron:fit's epochs and lr, ann.load's max_bytes, by name", function()
    local err = h.fails(function()
      nn.Perceptron(1):fit(ann.tensor{{0}, {1}}, ann.tensor{0, 1}, {epochs = "x"})
    end, "Perceptron:fit: epochs must be a positive integer, got x")
    assert.falsy(err:find("perceptron_fit", 1, true), err)
    err = h.fails(function() ann.load("x.ann", {max_bytes = "x"}) end,
                  "load: max_bytes must be a whole number >= 1, got x")
    assert.falsy(err:find("_load_records", 1, true), err)
  end)
end)
