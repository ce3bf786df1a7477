-- ModuleList and ModuleDict: modules held in a list or by name, each
-- registered as a child (its parameters found, train/eval reaching it,
-- ann.save/ann.load keeping it), as PyTorch's.  Neither has a forward:
-- the module that holds one calls its modules.
--
--   self.layers = nn.ModuleList{nn.Linear(2, 8), nn.Linear(8, 1)}
--   for _, l in ipairs(self.layers) do x = l(x) end
--   self.heads = nn.ModuleDict{{"cls", nn.Linear(8, 3)}, {"box", nn.Linear(8, 4)}}
--
-- The modules sit under the keys "1", "2", ... (ModuleList) or their
-- names (ModuleDict), so parameters are named "layers.1.weight",
-- "heads.cls.bias".  The constructor arguments kept for ann.save (_args)
-- follow every change, so a file rebuilds the container as it is.

local Module = require("annlua.nn.Module")
local util = require("annlua.util")

local M = {}

local function is_module(m)
  local mt = getmetatable(m)
  return type(m) == "table" and type(mt) == "table" and mt.__module == true
end

local function what(v)
  return is_module(v) and v.__name or type(v)
end

-- ---------------------------------------------------------------------
-- ModuleList(modules): a 1-based list; ml[i] (negative from the end),
-- #ml, ipairs(ml), pairs(ml); ml[i] = m replaces; append, extend, insert

local ModuleList = Module:extend("ModuleList")
M.ModuleList = ModuleList

-- the modules as a Lua list
local function list_of(self)
  local out = {}
  for i = 1, rawget(self, "n") do out[i] = rawget(self, tostring(i)) end
  return out
end

-- puts the list in place: keys "1".."n", the children in that order,
-- and the saved arguments
local function set_list(self, list)
  for i = #list + 1, rawget(self, "n") or 0 do rawset(self, tostring(i), nil) end
  local names = {}
  for i, m in ipairs(list) do
    names[i] = tostring(i)
    rawset(self, names[i], m)
  end
  rawset(self, "_module_names", names)
  rawset(self, "n", #list)
  rawset(self, "_args", {list_of(self), n = 1})
end

local function check_module(op, m, i)
  if not is_module(m) then
    util.fail("%s: expected a module%s, got %s", op,
              i and " at position " .. i or "", type(m))
  end
end

-- the integer key i as a position in 1..n (negative from the end), or nil
local function position(self, i)
  if math.type(i) ~= "integer" then return nil end
  local n = rawget(self, "n")
  if i < 0 then i = n + 1 + i end
  if i >= 1 and i <= n then return i end
  return nil
end

function ModuleList:init(modules)
  rawset(self, "n", 0)
  if modules == nil then set_list(self, {}) return end
  if type(modules) ~= "table" or getmetatable(modules) ~= nil then
    util.fail("ModuleList: expected a list of modules, got %s", what(modules))
  end
  local list, count = {}, 0
  for k in pairs(modules) do
    if math.type(k) ~= "integer" or k < 1 then
      util.fail("ModuleList: key '%s' is not a position (ModuleDict takes names)",
                tostring(k))
    end
    count = count + 1
  end
  for i = 1, count do
    if modules[i] == nil then util.fail("ModuleList: module %d is nil (a hole in the list)", i) end
    check_module("ModuleList", modules[i], i)
    list[i] = modules[i]
  end
  set_list(self, list)
end

ModuleList.__index = function(self, k)
  local i = position(self, k)
  if i then return rawget(self, tostring(i)) end
  if math.type(k) == "integer" then return nil end
  return ModuleList[k]
end

ModuleList.__newindex = function(self, k, v)
  if math.type(k) == "integer" then
    local i = position(self, k)
    if not i then
      util.fail("ModuleList: index %d out of range 1..%d (append adds one)",
                k, rawget(self, "n"))
    end
    check_module("ModuleList", v, i)
    local list = list_of(self)
    list[i] = v
    set_list(self, list)
    return
  end
  if is_module(v) then
    util.fail("ModuleList: a module goes in by position (ml[i] = m, append), not as '%s'",
              tostring(k))
  end
  rawset(self, k, v)
end

ModuleList.__len = function(self) return rawget(self, "n") end

ModuleList.__pairs = function(self)
  local i = 0
  return function()
    i = i + 1
    if i <= rawget(self, "n") then return i, rawget(self, tostring(i)) end
  end, self, nil
end

function ModuleList:append(m)
  check_module("ModuleList:append", m)
  local list = list_of(self)
  list[#list + 1] = m
  set_list(self, list)
  return self
end

function ModuleList:extend(modules)
  if type(modules) ~= "table" then
    util.fail("ModuleList:extend: expected a list of modules, got %s", type(modules))
  end
  local list = list_of(self)
  for i, m in ipairs(modules) do
    check_module("ModuleList:extend", m, i)
    list[#list + 1] = m
  end
  set_list(self, list)
  return self
end

-- insert(i, m): m at position i (1..n+1), the later ones moved up
function ModuleList:insert(i, m)
  local n = rawget(self, "n")
  if math.type(i) ~= "integer" or i < 1 or i > n + 1 then
    util.fail("ModuleList:insert: position must be an integer in 1..%d, got %s",
              n + 1, tostring(i))
  end
  check_module("ModuleList:insert", m)
  local list = list_of(self)
  table.insert(list, i, m)
  set_list(self, list)
  return self
end

function ModuleList:forward()
  util.fail("ModuleList: has no forward; call its modules (for _, m in ipairs(list) do x = m(x) end)")
end

function ModuleList:describe()
  return string.format("ModuleList (%d module%s)", self.n, self.n == 1 and "" or "s")
end

-- ---------------------------------------------------------------------
-- ModuleDict(modules): modules by name, in insertion order.  modules is a
-- list of {name, module} pairs (that order) or a table name -> module
-- (names sorted).  md.name or md[name]; md.name = m adds or replaces;
-- #md, pairs(md) in order, md:keys(), md:values(), md:pop(name),
-- md:update(modules).

local ModuleDict = Module:extend("ModuleDict")
M.ModuleDict = ModuleDict

local function dict_pairs(op, modules)
  if type(modules) ~= "table" or getmetatable(modules) ~= nil then
    util.fail("%s: expected {name = module} or a list of {name, module}, got %s",
              op, what(modules))
  end
  local out = {}
  if #modules > 0 then
    for i, kv in ipairs(modules) do
      if type(kv) ~= "table" or type(kv[1]) ~= "string" then
        util.fail("%s: entry %d must be a {name, module} pair", op, i)
      end
      out[i] = {kv[1], kv[2]}
    end
  else
    for k, m in pairs(modules) do
      if type(k) ~= "string" then
        util.fail("%s: key %s is not a name", op, tostring(k))
      end
      out[#out + 1] = {k, m}
    end
    table.sort(out, function(a, b) return a[1] < b[1] end)
  end
  return out
end

local function save_dict(self)
  local list = {}
  for i, k in ipairs(rawget(self, "_module_names")) do
    list[i] = {k, rawget(self, k)}
  end
  rawset(self, "_args", {list, n = 1})
end

local function put(self, k, m)
  if type(k) ~= "string" then
    util.fail("ModuleDict: key %s is not a name", tostring(k))
  end
  if not is_module(m) then util.fail("ModuleDict: '%s' must be a module, got %s", k, type(m)) end
  local cur = rawget(self, k)
  if cur == nil and ModuleDict[k] ~= nil or (cur ~= nil and not is_module(cur)) then
    util.fail("ModuleDict: key '%s' is taken by a field or method", k)
  end
  if cur == nil then table.insert(rawget(self, "_module_names"), k) end
  rawset(self, k, m)
  save_dict(self)
end

function ModuleDict:init(modules)
  if modules ~= nil then
    for _, kv in ipairs(dict_pairs("ModuleDict", modules)) do put(self, kv[1], kv[2]) end
  end
  save_dict(self)
end

ModuleDict.__newindex = function(self, k, v)
  if type(k) == "string" and k:sub(1, 1) ~= "_" and k ~= "training" then
    put(self, k, v)
  else
    rawset(self, k, v)
  end
end

ModuleDict.__len = function(self) return #rawget(self, "_module_names") end

ModuleDict.__pairs = function(self)
  local names, i = rawget(self, "_module_names"), 0
  return function()
    i = i + 1
    local k = names[i]
    if k then return k, rawget(self, k) end
  end, self, nil
end

function ModuleDict:keys()
  return table.move(rawget(self, "_module_names"), 1, #self, 1, {})
end

function ModuleDict:values()
  local out = {}
  for i, k in ipairs(rawget(self, "_module_names")) do out[i] = rawget(self, k) end
  return out
end

function ModuleDict:pop(k)
  local m = rawget(self, k)
  if not is_module(m) then util.fail("ModuleDict:pop: no module '%s'", tostring(k)) end
  local names = rawget(self, "_module_names")
  for i, name in ipairs(names) do
    if name == k then table.remove(names, i) break end
  end
  rawset(self, k, nil)
  save_dict(self)
  return m
end

function ModuleDict:update(modules)
  for _, kv in ipairs(dict_pairs("ModuleDict:update", modules)) do put(self, kv[1], kv[2]) end
  return self
end

function ModuleDict:forward()
  util.fail("ModuleDict: has no forward; call its modules (md.name(x))")
end

function ModuleDict:describe()
  return string.format("ModuleDict (%d module%s)", #self, #self == 1 and "" or "s")
end

return M
