-- error_places_spec.lua (issue 11, finding 8): errors raised by modules,
-- losses, data, fit, metrics and the playground point at the user's line
-- (here: this file), however deep in annlua the check sits, and name what
-- the user called, not internals (_sgd_step, mlp:).
local ann = require("annlua")
local nn = ann.nn

-- fn's error message; it must start with this file's name and a line
local function here(fn)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error")
  err = tostring(err)
  assert(err:find("^[^:]*error_places_spec%.lua:%d+: "), "not at the user's line: " .. err)
  return err
end

local function lacks(err, s)
  assert(not err:find(s, 1, true), ("%q names %q"):format(err, s))
end

describe("errors point at the user's line", function()
  it("from modules", function()
    here(function() nn.Linear(0, 2) end)
    here(function() nn.Linear(3, 2)(ann.ones(2, 4)) end)          -- raised in C
    here(function() nn.Sequential{nn.Linear(3, 2), nn.ReLU()}(ann.ones(2, 4)) end)
    here(function() nn.Module:extend("NoForwardTest")()(ann.ones(1)) end)
    local err = here(function() nn.Dropout(1) end)
    assert.truthy(err:find("[0, 1)", 1, true), err)
    lacks(err, "[0, 1, 4)")
  end)

  it("from losses", function()
    here(function() nn.MSELoss()(ann.ones(2), ann.ones(3)) end)
    here(function() nn.CrossEntropyLoss()(ann.ones(2, 3), ann.tensor{1, 5}) end)
    here(function() nn.MSELoss{reduction = "avg"} end)
  end)

  it("from data, metrics and the optimisers", function()
    here(function() ann.data.TensorDataset(ann.ones(3, 1), ann.ones(2)) end)
    here(function() ann.data.TensorDataset(ann.ones(3, 1)):split(2) end)
    here(function() ann.metrics.accuracy(ann.ones(2, 3), ann.ones(3)) end)
    here(function() ann.metrics.confusion_matrix(ann.ones(2, 3), ann.tensor{1, 2}, 0) end)
    local opt = ann.optim.SGD(nn.Linear(2, 2):parameters())
    opt.momentum = "x"
    local err = here(function() opt:step() end)
    lacks(err, "_sgd_step")
    assert.truthy(err:find("SGD: momentum", 1, true), err)
  end)

  it("from fit, its fused path included", function()
    local ds = ann.data.TensorDataset(ann.ones(4, 2), ann.tensor{1, 2, 5, 1})
    local net = nn.Sequential{nn.Linear(2, 3)}
    local opts = {train = ds, loss = nn.CrossEntropyLoss(), epochs = 1, progress = false,
                  optimizer = ann.optim.SGD(net:parameters())}
    -- class 5 of 3: found by the fused trainer, in C
    local err = here(function() ann.fit(net, opts) end)
    lacks(err, "mlp:")
    assert.truthy(err:find("fit: target 5", 1, true), err)
    -- and by the step-by-step loop
    opts.fused = false
    here(function() ann.fit(net, opts) end)
    -- a loss that becomes NaN: named epoch and step, at the user's line
    local bad = ann.data.TensorDataset(ann.full({2, 2}, 0 / 0), ann.tensor{1, 2})
    err = here(function()
      ann.fit(net, {train = bad, loss = nn.CrossEntropyLoss(), epochs = 1, progress = false,
                    optimizer = ann.optim.SGD(net:parameters())})
    end)
    assert.truthy(err:find("fit: loss is nan at epoch 1, step 1", 1, true), err)
    here(function() ann.fit(net, {train = ds}) end)
  end)

  it("from the playground", function()
    here(function() ann.playground.dataset("nope") end)
    here(function() ann.playground.train{ratio = 2, progress = false} end)
    here(function() ann.playground.model{activation = "softplus"} end)
  end)
end)
