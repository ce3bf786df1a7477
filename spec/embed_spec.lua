-- The Lua-visible parts of hosting (docs/api.md "Embedding"): library
-- output through ann.write, a state's own context from plain lua5.4, and
-- ann.fit with no io or os library.  The hosting C API itself is tested by
-- spec/c/test_host.c.

local ann = require("annlua")
local quote = require("helpers").quote

-- runs a chunk in a child lua5.4 on this build; its output and status
local function child(chunk)
  local setup = ("package.path = %q; package.cpath = %q")
    :format(package.path, package.cpath)
  local p = assert(io.popen(("lua5.4 -e %s -e %s 2>&1")
    :format(quote(setup), quote(chunk))))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

describe("embedding", function()
  it("ann.write goes to stdout in order with io.write", function()
    local out, code = child([[
      local ann = require "annlua"
      io.write("a") ann.write("b", "c") io.write("d\n")]])
    assert.are.equal(0, code, out)
    assert.are.equal("abcd\n", out)
  end)

  it("a state of plain lua5.4 counts its heap and its tensors together", function()
    local held = ann._held
    collectgarbage() collectgarbage()
    local h0 = held()
    local s = string.rep("x", 1 << 20)          -- 1 MB of Lua heap
    local h1 = held()
    assert.is_true(h1 - h0 >= 1 << 20, ("%d -> %d"):format(h0, h1))
    local t = ann.zeros(1 << 20)                 -- 4 MB of tensor storage
    local h2 = held()
    assert.is_true(h2 - h1 >= 4 << 20, ("%d -> %d"):format(h1, h2))
    assert.is_true(h2 - h1 < (4 << 20) + 4096)
    assert(#s == 1 << 20 and t:numel() == 1 << 20)
  end)

  it("ann.fit trains with no io and no os library, printing through ann.write", function()
    local out, code = child([[
      local ann = require "annlua"
      io, os, print = nil, nil, nil
      ann.manual_seed(1)
      local x = ann.tensor{{0, 0}, {0, 1}, {1, 0}, {1, 1}}
      local y = ann.tensor{{0}, {1}, {1}, {0}}
      local net = ann.nn.Sequential(ann.nn.Linear(2, 4), ann.nn.Tanh(),
                                    ann.nn.Linear(4, 1))
      local h = ann.fit(net, {train = ann.data.TensorDataset(x, y),
        loss = ann.nn.MSELoss(), epochs = 2, batch_size = 4, progress = true,
        optimizer = ann.optim.SGD(net:parameters(), {lr = 0.1})})
      ann.write(#h.loss, "\n")]])
    assert.are.equal(0, code, out)
    assert.truthy(out:find("epoch 1/2", 1, true), out)
    assert.truthy(out:find("epoch 2/2", 1, true), out)
    assert.truthy(out:find("\n2\n$"), out)
  end)
end)
