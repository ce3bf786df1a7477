-- The global generator's state: get/set, and loading a model leaves it
-- alone (constructors draw initial weights before the saved ones are
-- copied in).

local ann = require("annlua")

describe("rng state", function()
  it("set_rng_state replays the stream from a saved state", function()
    ann.manual_seed(7)
    local s = ann.get_rng_state()
    assert.equal(32, #s)
    local a = ann.rand(5):totable()
    ann.set_rng_state(s)
    assert.same(a, ann.rand(5):totable())
  end)

  it("rejects states of the wrong size or all zeros", function()
    assert.has_error(function() ann.set_rng_state("abc") end,
      "set_rng_state: expected a 32-byte state, got 3 bytes")
    assert.has_error(function() ann.set_rng_state(string.rep("\0", 32)) end,
      "set_rng_state: an all-zero state is not valid")
  end)

  it("ann.load does not move the global stream", function()
    local path = os.tmpname()
    ann.save(ann.nn.Sequential{ann.nn.Linear(4, 3), ann.nn.Tanh()}, path)
    ann.manual_seed(11)
    local want = ann.rand(4):totable()
    ann.manual_seed(11)
    assert.truthy(ann.load(path))
    assert.same(want, ann.rand(4):totable())
    os.remove(path)
  end)

  it("randperm without a seed draws from the global stream; with one, from its own", function()
    ann.manual_seed(3)
    local a = ann.randperm(50):totable()
    ann.manual_seed(3)
    local first = ann.get_rng_state()
    assert.same(a, ann.randperm(50):totable())
    assert.not_equal(first, ann.get_rng_state())  -- it drew from the stream
    local s = ann.get_rng_state()
    local c = ann.randperm(50, 9):totable()
    assert.equal(s, ann.get_rng_state())       -- the global stream did not move
    assert.same(c, ann.randperm(50, 9):totable())
    table.sort(a)
    for i = 1, 50 do assert.equal(i, a[i]) end -- a permutation of 1..50
  end)
end)
