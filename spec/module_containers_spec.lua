-- module_containers_spec.lua (issue 11, finding 3): nn.ModuleList and
-- nn.ModuleDict register their modules (parameters found, train/eval
-- reach them, ann.save/ann.load keep them); a plain Lua table of modules
-- assigned to a module field is an error pointing to them.
local ann = require("annlua")
local nn = ann.nn
local h = require("helpers")

local function names(m)
  local out = {}
  for i, np in ipairs(m:named_parameters()) do out[i] = np[1] end
  return table.concat(out, " ")
end

describe("nn.ModuleList", function()
  it("registers its modules, 1-based, in order", function()
    local L = nn.Module:extend("ListNetTest")
    function L:init()
      self.layers = nn.ModuleList{nn.Linear(2, 3), nn.Linear(3, 1)}
    end
    function L:forward(x)
      for _, l in ipairs(self.layers) do x = l(x) end
      return x
    end
    local net = L()
    assert.are.equal("layers.1.weight layers.1.bias layers.2.weight layers.2.bias",
                     names(net))
    assert.are.equal(2 * 3 + 3 + 3 + 1, net:num_parameters())
    assert.are.same({4, 1}, net(ann.ones(4, 2)):shape())
    assert.are.equal(2, #net.layers)
    assert.are.equal(3, net.layers[1].out_features)
    assert.are.equal(net.layers[2], net.layers[-1])
    net:eval()
    assert.is_false(net.layers[2].training)
  end)

  it("appends, extends, inserts and replaces", function()
    local ml = nn.ModuleList()
    assert.are.equal(0, #ml)
    ml:append(nn.Linear(1, 1)):append(nn.ReLU())
    ml:extend{nn.Tanh(), nn.Linear(1, 2)}
    ml:insert(1, nn.Linear(1, 3))
    local kinds = {}
    for i, m in ipairs(ml) do kinds[i] = m.__name end
    assert.are.equal("Linear Linear ReLU Tanh Linear", table.concat(kinds, " "))
    assert.are.equal(3, ml[1].out_features)
    ml[2] = nn.Sigmoid()
    assert.are.equal("Sigmoid", ml[2].__name)
    assert.are.equal("1.weight 1.bias 5.weight 5.bias", names(ml))
    h.fails(function() ml:append({}) end, "ModuleList:append: expected a module")
    h.fails(function() ml[9] = nn.ReLU() end, "ModuleList: index 9 out of range 1..5")
    h.fails(function() ml(ann.ones(1)) end, "ModuleList: has no forward")
  end)

  it("is saved and loaded with ann.save / ann.load", function()
    local ml = nn.ModuleList{nn.Linear(2, 2)}
    ml:append(nn.Linear(2, 1))
    local path = os.tmpname()
    assert(ann.save(ml, path))
    local back = assert(ann.load(path))
    os.remove(path)
    assert.are.equal(2, #back)
    assert.are.equal(1, back[2].out_features)
    assert.is_true(ann.allclose(ml[2].weight, back[2].weight))
    assert.is_true(ann.allclose(ml[1].bias, back[1].bias))
  end)
end)

describe("nn.ModuleDict", function()
  it("registers its modules by name, in insertion order", function()
    local md = nn.ModuleDict{{"enc", nn.Linear(2, 2)}, {"dec", nn.Linear(2, 1, {bias = false})}}
    assert.are.equal("enc.weight enc.bias dec.weight", names(md))
    md.act = nn.ReLU()
    md["head"] = nn.Linear(1, 1)
    assert.are.equal(4, #md)
    assert.are.same({"enc", "dec", "act", "head"}, md:keys())
    local seen = {}
    for k, m in pairs(md) do seen[#seen + 1] = k .. "=" .. m.__name end
    assert.are.equal("enc=Linear dec=Linear act=ReLU head=Linear", table.concat(seen, " "))
    assert.are.equal(md.dec, md:pop("dec"))
    assert.are.same({"enc", "act", "head"}, md:keys())
    assert.are.equal("enc.weight enc.bias head.weight head.bias", names(md))
    h.fails(function() md.training2 = 3 end, "ModuleDict: 'training2' must be a module")
    h.fails(function() nn.ModuleDict{train = nn.ReLU()} end,
            "ModuleDict: key 'train' is taken")
  end)

  it("takes a table of names (sorted) and is saved and loaded", function()
    local md = nn.ModuleDict{b = nn.Linear(1, 1), a = nn.Linear(1, 2)}
    assert.are.same({"a", "b"}, md:keys())
    local path = os.tmpname()
    assert(ann.save(md, path))
    local back = assert(ann.load(path))
    os.remove(path)
    assert.are.same({"a", "b"}, back:keys())
    assert.is_true(ann.allclose(md.a.weight, back.a.weight))
  end)
end)

describe("a plain table of modules in a module field", function()
  it("is an error pointing to ModuleList", function()
    local M = nn.Module:extend("PlainTableTest")
    function M:init() self.layers = {nn.Linear(2, 2), nn.Linear(2, 2)} end
    local err = h.fails(function() M() end, "PlainTableTest: field 'layers'",
                        "ModuleList")
    assert.truthy(err:find("module_containers_spec.lua", 1, true), err)
    -- tables without modules are fine
    local N = nn.Module:extend("PlainTableTest2")
    function N:init() self.sizes = {2, 3} end
    assert.are.same({2, 3}, N().sizes)
  end)
end)
