-- Models saved from Lua and run from C (src/ann_model.c): the results of
-- ann_model_run equal net(x) under ann.no_grad to the bit, for every layer
-- the fused path takes; bad files fail from C and from ann.load alike.
-- The C side is build/test/test_model run as a checker (--check, --load).
local ann = require("annlua")
local nn = ann.nn
local h = require("helpers")

local dir = h.tmpdir()
local function file(name) return dir .. "/" .. name end

-- the checker, next to the interpreter: B/bin/annlua -> B/test/test_model
local checker = h.annlua_bin():gsub("/bin/annlua$", "/test/test_model")

-- float32s of a tensor, little-endian, row-major
local function raw(t)
  local parts = {}
  for i, v in ipairs(t:contiguous():view(-1):totable()) do
    parts[i] = string.pack("<f", v)
  end
  return table.concat(parts)
end

-- saves net, runs it on x in Lua and from C: "same bits" or the difference
local function c_run(net, x, name)
  local p = file(name .. ".ann")
  local xs, ys = file(name .. ".x"), file(name .. ".y")
  assert(ann.save(net, p))
  local y = ann.no_grad(function() return net(x) end)
  h.writefile(xs, raw(x))
  h.writefile(ys, raw(y))
  local out, _, code = h.run(h.quote(checker) .. " --check " .. h.quote(p)
                             .. " " .. h.quote(xs) .. " " .. h.quote(ys))
  return out, code
end

local function c_load(p)
  local out, _, code = h.run(h.quote(checker) .. " --load " .. h.quote(p))
  return out, code
end

describe("a model saved from Lua, run from C", function()
  local acts = {
    Tanh = function() return nn.Tanh() end,
    ReLU = function() return nn.ReLU() end,
    Sigmoid = function() return nn.Sigmoid() end,
    LeakyReLU = function() return nn.LeakyReLU(0.2) end,
    LeakyReLU_default = function() return nn.LeakyReLU() end,
    Identity = function() return nn.Identity() end,
  }
  for name, act in pairs(acts) do
    it("gives net(x)'s bits with " .. name, function()
      ann.manual_seed(5)
      local net = nn.Sequential(nn.Linear(6, 16), act(),
                                nn.Linear(16, 12, {bias = false}), act(),
                                nn.Linear(12, 3))
      for _, rows in ipairs{1, 7, 64} do
        local out, code = c_run(net, ann.randn(rows, 6), name)
        assert.are.equal("same bits\n", out)
        assert.are.equal(0, code)
      end
    end)
  end

  it("gives net(x)'s bits for a bare Linear and for one sample as [in]",
     function()
    ann.manual_seed(6)
    local out, code = c_run(nn.Linear(5, 4), ann.randn(9, 5), "linear")
    assert.are.equal("same bits\n", out)
    assert.are.equal(0, code)
    out = c_run(nn.Linear(5, 4, {bias = false}), ann.randn(3, 5), "linear2")
    assert.are.equal("same bits\n", out)
    local net = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    out = c_run(net, ann.randn(5), "one")
    assert.are.equal("same bits\n", out)
  end)

  it("a trained network, and one of the checker's own failures", function()
    ann.manual_seed(7)
    local net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1),
                              nn.Sigmoid())
    local x = ann.randn(32, 2)
    local y = (x:select(2, 1) * x:select(2, 2)):gt(0):view(32, 1)
    local opt = ann.optim.Adam(net:parameters(), {lr = 0.05})
    for _ = 1, 20 do
      opt:zero_grad()
      nn.BCELoss()(net(x), y):backward()
      opt:step()
    end
    assert.are.equal("same bits\n", (c_run(net, x, "trained")))
    -- the checker does see a difference: outputs saved from another net
    local p = file("trained.ann")
    local other = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1),
                                nn.Sigmoid())
    h.writefile(file("trained.y"),
                raw(ann.no_grad(function() return other(x) end)))
    local out, _, code = h.run(h.quote(checker) .. " --check " .. h.quote(p)
      .. " " .. h.quote(file("trained.x")) .. " "
      .. h.quote(file("trained.y")))
    assert.are.equal("different bits\n", out)
    assert.are_not.equal(0, code)
  end)
end)

describe("files the C loader refuses", function()
  it("a user class: named from C, loaded from Lua", function()
    local Net = nn.Module:extend("ModelSpecNet")
    function Net:init() self.fc = nn.Linear(3, 2) end
    function Net:forward(x) return self.fc(x) end
    local p = file("user.ann")
    assert(ann.save(Net(), p))
    local out, code = c_load(p)
    assert.are.equal(p .. ": module type 'ModelSpecNet' is not a built-in "
      .. "layer the C loader reads (Sequential, Linear, Tanh, ReLU, Sigmoid, "
      .. "LeakyReLU, Identity); load it from Lua\n", out)
    assert.are.equal(1, code)
    assert.are.equal(Net, getmetatable(assert(ann.load(p))))
  end)

  it("layers the fused path does not run, and roots that are not models",
     function()
    local cases = {
      {nn.Sequential(nn.Linear(3, 2), nn.Softmax()), "module type 'Softmax'"},
      {nn.Sequential(nn.Linear(3, 2), nn.LeakyReLU(-0.5)),
       "LeakyReLU (layer 2) has slope -0.5"},
      {nn.Sequential(nn.Tanh(), nn.Linear(3, 2)),
       "Tanh (layer 1) does not follow a Linear"},
      {nn.Sequential(nn.Sequential(nn.Linear(3, 2))),
       "layer 1 is a Sequential inside a Sequential"},
      {{model = nn.Linear(3, 2)}, "the file holds a table, not a model"},
      {nn.ReLU(), "the model is a ReLU"},
    }
    for i, c in ipairs(cases) do
      local p = file("refused" .. i .. ".ann")
      assert(ann.save(c[1], p))
      local out, code = c_load(p)
      assert.matches(p .. ": " .. c[2], out, 1, true)
      assert.are.equal(1, code)
      assert.is_not_nil(ann.load(p))             -- Lua loads them all
    end
  end)
end)

describe("bad files, from C and from ann.load", function()
  it("corrupted, truncated, foreign and crafted files fail in both",
     function()
    local p = file("good.ann")
    ann.manual_seed(8)
    assert(ann.save(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), p))
    local good = h.readfile(p)
    local function flip(at)
      return good:sub(1, at - 1) .. string.char(good:byte(at) ~ 1)
             .. good:sub(at + 1)
    end
    -- a whole file around a crafted body, its CRC right
    local function wrap(body)
      local head = "\x89ANN\r\n\x1a\n" .. string.pack("<I4I8", 1, #body)
      return head .. body .. string.pack("<I8I4", #body,
                                         h.crc32(head .. body))
    end
    local cases = {
      {flip(30), "corrupted: CRC-32 mismatch"},
      {flip(#good - 2), "corrupted"},
      {good:sub(1, #good - 9), "truncated"},
      {good:sub(1, 10), "truncated"},
      {"P" .. good:sub(2), "not an annlua model file (bad magic)"},
      {good .. "x", "corrupted: 1 extra bytes"},
      {wrap("\x06\xff\xff\xff\xff"),
       "bad body at byte 25: 4294967295 table entries can't fit"},
      {wrap(string.rep("\x06\x01\0\0\0\x03\1\0\0\0\0\0\0\0", 250)
            .. "\0"), "nesting deeper than 200"},
      {wrap("\x06\x01\0\0\0\x03\1\0\0\0\0\0\0\0\x09\1\0\0\0"),
       "a reference to object 1, which is not complete"},
      {wrap("\x07\0\x02" .. string.pack("<I8I8", 1 << 20, 1 << 20)),
       "a tensor's data needs 4398046511104 bytes"},
    }
    for i, c in ipairs(cases) do
      local q = file("bad" .. i .. ".ann")
      h.writefile(q, c[1])
      local out, code = c_load(q)
      assert.are.equal(q .. ": ", out:sub(1, #q + 2))
      assert.matches(c[2], out, 1, true)
      assert.are.equal(1, code)
      local obj, err = ann.load(q)
      assert.is_nil(obj)
      assert.are.equal(out, err .. "\n")       -- one decoder, one message
    end
  end)
end)
