-- Module: the base class of every layer, loss and model.
--
--   local M = ann.nn.Module:extend("M")
--   function M:init(n) self.w = ann.randn(n):requires_grad() end
--   function M:forward(x) return x * self.w end
--   local m = M(3); local y = m(x)
--
-- A leaf tensor that requires grad, assigned to a field for the first
-- time, becomes a parameter (a result of ops kept in a field, such as an
-- activation cached by forward, does not); a module assigned to a field
-- becomes a child.  Both keep the order of assignment, which is the order
-- of parameters().

local core = require("annlua.core")
local util = require("annlua.util")

local Module = {}
Module.__name = "Module"

-- instance fields are registered on first assignment (__newindex fires
-- only for keys the instance does not have yet)
local function is_module(v)
  local mt = getmetatable(v)
  return type(v) == "table" and type(mt) == "table" and mt.__module == true
end

-- a plain Lua table holding modules would hide them from parameters(),
-- train() and ann.save: an error, pointing to the containers
local function check_plain(self, k, v)
  if getmetatable(v) ~= nil then return end
  for _, x in pairs(v) do
    if is_module(x) then
      require("annlua.util").fail(
        "%s: field '%s' is a plain table holding modules, which would not "
        .. "be registered (no parameters, no train/eval, not saved); use "
        .. "ann.nn.ModuleList{...} or ann.nn.ModuleDict{...}",
        self.__name, tostring(k))
    end
  end
end

local function newindex(self, k, v)
  local mt = getmetatable(v)
  if type(v) == "userdata" and mt and mt.__name == "ann.Tensor"
     and v:needs_grad() and v:is_leaf() then
    table.insert(self._param_names, k)
  elseif type(v) == "table" and mt and mt.__module then
    table.insert(self._module_names, k)
  elseif type(v) == "table" then
    check_plain(self, k, v)
  end
  rawset(self, k, v)
end

-- the constructor's arguments are kept (_args) so that ann.save can
-- describe a module as data and ann.load rebuild it by calling the class
local function new(cls, ...)
  local self = setmetatable({_param_names = {}, _module_names = {},
                             training = true, _args = table.pack(...)}, cls)
  self:init(...)
  return self
end

-- classes by name, for ann.load; the last class made with a name wins
local classes = {Module = Module}

-- Module:extend(name) -> a new class deriving from self, registered under
-- name (a class without a name can't be loaded from a file)
function Module:extend(name)
  local cls = {}
  for k, v in pairs(self) do       -- inherit metamethods by copy
    if type(k) == "string" and k:sub(1, 2) == "__" then cls[k] = v end
  end
  cls.__index = cls
  cls.__name = name or "Module"
  cls.super = self
  if name then classes[name] = cls end
  return setmetatable(cls, {__index = self, __call = new})
end

-- Module.find_class(name) -> the class registered under name, or nil
function Module.find_class(name) return classes[name] end

-- the names of the registered classes (ann.load's decoder refuses others)
function Module.class_names()
  local names = {}
  for k in pairs(classes) do names[#names + 1] = k end
  return names
end

Module.__index = Module
Module.__module = true
Module.__newindex = newindex
Module.__call = function(self, ...) return self:forward(...) end

function Module:init() end

function Module:forward()
  util.error(self.__name .. ": forward is not implemented")
end

function Module:register_parameter(name, t)
  if rawget(self, name) == nil then table.insert(self._param_names, name) end
  rawset(self, name, t)
end

function Module:register_module(name, m)
  if rawget(self, name) == nil then table.insert(self._module_names, name) end
  rawset(self, name, m)
end

-- children in order, as (name, module) pairs
function Module:children()
  local i = 0
  return function()
    i = i + 1
    local k = self._module_names[i]
    if k then return k, rawget(self, k) end
  end
end

-- every parameter of self and its children, depth first, in order, each
-- once: a tensor or a module reachable twice (a module kept under two
-- names, weights tied between layers) is listed under its first name
-- only, as in PyTorch, so that an optimiser moves it once per step
function Module:named_parameters(prefix, out, seen)
  out = out or {}
  prefix = prefix or ""
  seen = seen or {}
  if seen[self] then return out end
  seen[self] = true
  for _, k in ipairs(self._param_names) do
    local p = rawget(self, k)
    if p and not seen[p] then
      seen[p] = true
      out[#out + 1] = {prefix .. k, p}
    end
  end
  for k, m in self:children() do
    m:named_parameters(prefix .. k .. ".", out, seen)
  end
  return out
end

function Module:parameters()
  local ps = {}
  for i, np in ipairs(self:named_parameters()) do ps[i] = np[2] end
  return ps
end

function Module:train(on)
  self.training = on ~= false
  for _, m in self:children() do m:train(on) end
  return self
end

function Module:eval() return self:train(false) end

function Module:zero_grad()
  core._zero_grad(self:parameters())
end

-- a one-line description; containers override it to print their tree
function Module:describe() return self.__name end

function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end

local function thousands(n)
  local s = tostring(n)
  repeat
    local k
    s, k = s:gsub("^(%d+)(%d%d%d)", "%1,%2")
  until k == 0
  return s
end
Module.thousands = thousands

function Module:__tostring()
  local lines = {}
  local function walk(m, indent, label)
    local n = m:num_parameters()
    local own = indent .. label .. m:describe()
    local line = string.format("%-44s %s", own, n > 0 and thousands(n) or "")
    lines[#lines + 1] = line:gsub("%s+$", "")   -- counts in one column
    for k, c in m:children() do
      walk(c, indent .. "  ", "(" .. k .. ") ")
    end
  end
  walk(self, "", "")
  lines[#lines + 1] = "parameters: " .. thousands(self:num_parameters())
  return table.concat(lines, "\n")
end

return Module
