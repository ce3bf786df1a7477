-- bounds_spec.lua: element counts that would overflow int64 are refused
-- (a 0 dim before huge ones, expand), 0-size tensors are writable, and a
-- huge expanded tensor prints without walking its elements (issue 11,
-- findings 10, 11, 13).
local ann = require("annlua")
local h = require("helpers")

describe("shape bounds", function()
  it("refuses a 0 dim followed by dims whose product passes 2^60", function()
    h.fails(function() return ann.zeros(0, 2^40, 2^40) end,
            "has too many elements")
    local t = ann.zeros(0, 2^20, 2^20)
    assert.are.equal(0, t:numel())
    assert.are.same({0, 2^20, 2^20}, t:shape())
  end)

  it("expand bounds the element count", function()
    h.fails(function() return ann.ones(2, 1):expand(2, 2^62) end,
            "expand", "too many elements")
    local e = ann.ones(1):expand(2^40)
    assert.are.equal(2^40, e:numel())
    -- printing elides: only the edges are read (3 + 3 ones)
    local s = tostring(e)
    assert.truthy(s:find("...", 1, true))
    assert.truthy(s:find("[1099511627776]", 1, true))
  end)

  it("a 0-size tensor is writable in place (nothing is written)", function()
    local t = ann.zeros(3, 0)
    t:exp_()
    t:add_(1)
    t:add_(ann.zeros(3, 0))
    t:mul_(2)
    assert.are.same({3, 0}, t:shape())
    assert.are.equal(0, t:numel())
  end)
end)
