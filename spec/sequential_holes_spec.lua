-- sequential_holes_spec.lua (issue 11, finding 4): a hole in the list
-- given to Sequential (a nil, say a misspelt layer) is an error naming its
-- position, not a shorter network.
local ann = require("annlua")
local nn = ann.nn
local h = require("helpers")

describe("Sequential with a hole in its list", function()
  it("raises, naming the position", function()
    h.fails(function() nn.Sequential{nn.Linear(3, 2), nil, nn.ReLU()} end,
            "Sequential: module 2 is nil")
    h.fails(function() nn.Sequential(nn.Linear(3, 2), nil, nn.ReLU()) end,
            "Sequential: module 2 is nil")
    h.fails(function() nn.Sequential{nn.Linear(3, 2), nn.ReLU(), nil, nn.Tanh()} end,
            "Sequential: module 3 is nil")
  end)

  it("raises on a key that is not a position", function()
    h.fails(function() nn.Sequential{nn.Linear(3, 2), act = nn.ReLU()} end,
            "Sequential: key 'act' is not a position")
  end)

  it("still takes a list without holes, and no module at all", function()
    assert.are.equal(2, nn.Sequential{nn.Linear(3, 2), nn.ReLU()}.n)
    assert.are.equal(2, nn.Sequential(nn.Linear(3, 2), nn.ReLU()).n)
    assert.are.equal(0, nn.Sequential{}.n)
    assert.are.equal(0, nn.Sequential().n)
  end)
end)
