-- fit_errors_spec.lua (issue 11, finding 7): ann.fit takes a plain
-- function as its model, as the docs say; DataLoader and fit refuse what
-- is not a dataset at once, saying what a dataset needs.
local ann = require("annlua")
local nn = ann.nn
local h = require("helpers")

describe("ann.fit and DataLoader inputs", function()
  local ds = ann.data.TensorDataset(ann.tensor{{1, 0}, {0, 1}, {1, 1}, {0, 0}},
                                    ann.tensor{1, 2, 2, 1})

  it("fit trains a function(x) that calls a network", function()
    ann.manual_seed(3)
    local net = nn.Sequential{nn.Linear(2, 2)}
    local before = net:get(1).weight:clone()
    local hist = ann.fit(function(x) return net(x) end, {
      train = ds, loss = nn.CrossEntropyLoss(), epochs = 2, batch_size = 4,
      optimizer = ann.optim.SGD(net:parameters(), {lr = 0.5}), progress = false})
    assert.are.equal(2, hist.epochs)
    assert.is_false(ann.allclose(before, net:get(1).weight))   -- it trained
    -- the same steps as the network itself, with fused = false: same weights
    ann.manual_seed(3)
    local net2 = nn.Sequential{nn.Linear(2, 2)}
    ann.fit(net2, {train = ds, loss = nn.CrossEntropyLoss(), epochs = 2, batch_size = 4,
                   optimizer = ann.optim.SGD(net2:parameters(), {lr = 0.5}),
                   progress = false, fused = false})
    assert.is_true(ann.allclose(net:get(1).weight, net2:get(1).weight, 1e-6, 1e-6))
  end)

  it("fit's fused option must be a boolean", function()
    local net = nn.Linear(2, 2)
    h.fails(function()
      ann.fit(net, {train = ds, loss = nn.CrossEntropyLoss(), epochs = 1,
                    optimizer = ann.optim.SGD(net:parameters()), fused = "no"})
    end, "fit: fused must be true or false, got no")
  end)

  it("DataLoader refuses a tensor at once, pointing to TensorDataset", function()
    h.fails(function() ann.data.DataLoader(ann.ones(3, 1)) end,
            "DataLoader: dataset must be a TensorDataset",
            "got an ann.Tensor", "ann.data.TensorDataset(x, y)")
  end)

  it("a dataset of the user's own without x is refused, saying what is needed", function()
    local mine = {size = function() return 3 end, get = function(_, i) return i end}
    h.fails(function() ann.data.DataLoader(mine) end,
            "DataLoader: dataset must be a TensorDataset or a table with x")
    h.fails(function()
      local net = nn.Linear(2, 2)
      ann.fit(net, {train = mine, loss = nn.MSELoss(), epochs = 1,
                    optimizer = ann.optim.SGD(net:parameters())})
    end, "fit: train must be a dataset", "x (a tensor")
    -- one with x and y tensors (and no methods) is enough
    local plain = {x = ann.ones(4, 2), y = ann.ones(4, 1)}
    local n = 0
    for xb, yb in ann.data.DataLoader(plain, {batch_size = 2}):iter() do n = n + #xb end
    assert.are.equal(4, n)
  end)
end)
