-- params_unique_spec.lua (issue 11, finding 1): a parameter reachable
-- twice (a module kept under two names, weight tying) is listed once by
-- parameters() / named_parameters(), moved once per step, counted once
-- by clip_grad_norm; an optimiser refuses a list naming one twice.
local ann = require("annlua")
local nn = ann.nn
local h = require("helpers")

local function tied()
  local M = nn.Module:extend("TiedTest")
  function M:init()
    self.a = nn.Linear(2, 2, {bias = false})
    self.b = self.a                          -- the same module twice
  end
  function M:forward(x) return self.b(self.a(x)) end
  return M()
end

describe("parameters reachable twice", function()
  it("are listed once, under the first name", function()
    local m = tied()
    assert.are.equal(1, #m:parameters())
    local np = m:named_parameters()
    assert.are.equal(1, #np)
    assert.are.equal("a.weight", np[1][1])
    assert.are.equal(4, m:num_parameters())
  end)

  it("are listed once when a tensor is tied into two modules", function()
    local net = nn.Sequential{nn.Linear(3, 3), nn.Linear(3, 3)}
    net:get(2).weight = nil
    rawset(net:get(2), "weight", net:get(1).weight)   -- tie the weights
    -- 2 weights + 2 biases reachable, 3 distinct tensors
    assert.are.equal(3, #net:parameters())
  end)

  it("are moved once per SGD step", function()
    local m = tied()
    ann.no_grad(function() m.a.weight:fill(0) end)
    for _, p in ipairs(m:parameters()) do p.grad = ann.ones(2, 2) end
    ann.optim.SGD(m:parameters(), {lr = 0.1}):step()
    -- w - lr * g = 0 - 0.1 * 1, once
    h.near_all({-0.1, -0.1, -0.1, -0.1}, m.a.weight)
  end)

  it("count once in clip_grad_norm", function()
    local m = tied()
    local ps = m:parameters()
    for _, p in ipairs(ps) do p.grad = ann.full({2, 2}, 3) end
    -- four gradients of 3: sqrt(4 * 9) = 6
    h.near(6, ann.clip_grad_norm(ps, 100), 1e-5)
  end)

  it("in a list given to an optimiser are an error", function()
    local w = ann.zeros(2):requires_grad()
    h.fails(function() ann.optim.SGD({w, w}, {lr = 0.1}) end,
            "SGD: parameter 2 is parameter 1 again")
    h.fails(function() ann.clip_grad_norm({w, w}, 1) end,
            "clip_grad_norm: parameter 2 is parameter 1 again")
  end)
end)
