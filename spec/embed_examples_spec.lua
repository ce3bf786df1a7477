-- examples/embed: the game that runs a model a Lua script trained, from C,
-- and the host of untrusted mod scripts.  Both are built by `make` next to
-- the interpreter (B/examples/embed/).

local h = require("helpers")

local function bin(name)
  return h.annlua_bin():gsub("bin/annlua$", "examples/embed/" .. name)
end

describe("examples/embed", function()
  it("game.c runs the model train_model.lua saved, equal to the Lua forward bit for bit", function()
    local dir = h.tmpdir()
    local model = dir .. "/policy.ann"
    local out, err, code = h.annlua(h.quote(h.abspath(
      "examples/embed/train_model.lua")) .. " " .. h.quote(model) .. " 3")
    assert.equal(0, code, out .. err)
    out, err, code = h.run(h.quote(bin("game")) .. " " .. h.quote(model)
                           .. " 1000")
    assert.equal(0, code, out .. err)
    assert.truthy(out:find("64 rows, together and one by one: equal to the "
                           .. "Lua forward, bit for bit", 1, true), out)
    assert.truthy(out:match("1000 calls: [%d.]+ us per call"), out)
    -- a file cut short: the game prints the loader's error and fails
    local f = assert(io.open(model, "rb"))
    local bytes = f:read("a")
    f:close()
    h.writefile(model, bytes:sub(1, 100))
    out, err, code = h.run(h.quote(bin("game")) .. " " .. h.quote(model))
    assert.are_not.equal(0, code)
    assert.truthy(err:find("truncated", 1, true), err)
    h.rmdir(dir)
  end)

  it("modhost.c refuses or stops every escape and then runs a good mod", function()
    local t0 = os.time()
    local out, err, code = h.run(h.quote(bin("modhost")))
    assert.equal(0, code, out .. err)
    local function line(name)
      return out:match("%[" .. name:gsub("%p", "%%%0") .. "%] ([^\n]*)")
    end
    assert.truthy(line("os.execute"):find("global 'os'", 1, true))
    assert.truthy(line("io.open"):find("global 'io'", 1, true))
    for _, name in ipairs{"ann.save", "ann.load", "ann.data.csv"} do
      assert.truthy(line(name):find("file access is disabled by the host",
                                    1, true), name)
    end
    assert.is_nil(out:find("root:", 1, true))   -- nothing of /etc/passwd
    assert.truthy(line("endless loop"):find("time is up", 1, true))
    local s, msg = line("endless products"):match("stopped after ([%d.]+) s: (.*)")
    assert.truthy(msg:find("cancelled by the host", 1, true), msg)
    assert.is_true(tonumber(s) < 1.5, s)
    assert.truthy(line("10 GB tensor"):find("not enough memory", 1, true))
    assert.truthy(line("1 GB string"):find("not enough memory", 1, true))
    assert.truthy(line("a good mod"):match("^finished"))
    -- the good mod learned XOR: outputs near 0, 1, 1, 0
    local a, b, c, d = out:match("xor:%s+(%S+) (%S+) (%S+) (%S+)")
    assert.is_true(math.abs(tonumber(a)) < 0.1 and math.abs(tonumber(b) - 1) < 0.1
                   and math.abs(tonumber(c) - 1) < 0.1
                   and math.abs(tonumber(d)) < 0.1, out)
    assert.is_true(os.time() - t0 < 20)
  end)
end)
