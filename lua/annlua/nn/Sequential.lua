-- Sequential{m1, m2, ...} or Sequential(m1, m2, ...): applies the modules
-- in order, the output of one the input of the next.

local Module = require("annlua.nn.Module")
local util = require("annlua.util")
local check = util.check
local fused_forward = require("annlua.fused").forward

local Sequential = Module:extend("Sequential")

-- the modules sit under the keys "1", "2", ...: made once, since
-- tostring on each forward cost a tenth of a small network's step
local keys = setmetatable({}, {__index = function(t, i)
  local k = tostring(i)
  if math.type(i) == "integer" then t[i] = k end
  return k
end})

-- a nil in the list (a misspelt layer name, say) is an error naming its
-- position, not a shorter network: the count is the largest position
-- (or the number of arguments), not where ipairs stops
function Sequential:init(...)
  local list, count = ..., select("#", ...)
  if count ~= 1 or getmetatable(list) ~= nil then
    list = table.pack(...)          -- Sequential(m1, m2) form
    list.n = nil
  else
    if type(list) ~= "table" then
      util.fail("Sequential: expected modules or a list of modules, got %s", type(list))
    end
    count = 0
    for k in pairs(list) do
      if math.type(k) ~= "integer" or k < 1 then
        util.fail("Sequential: key '%s' is not a position (give a list of modules)",
                  tostring(k))
      end
      if k > count then count = k end
    end
  end
  self.n = 0
  for i = 1, count do
    if list[i] == nil then
      util.fail("Sequential: module %d is nil (a hole in the list of %d)", i, count)
    end
    self:add(list[i])
  end
end

function Sequential:add(m)
  check(type(m) == "table" and getmetatable(m) and getmetatable(m).__module,
         "Sequential: expected a module, got " .. type(m))
  self.n = self.n + 1
  self:register_module(tostring(self.n), m)
  return self
end

function Sequential:get(i) return self[keys[i]] end

-- a stack of built-in layers run without a graph (inference, no_grad)
-- takes the fused C path of annlua.fused: one call for the whole stack
function Sequential:forward(x)
  return fused_forward(self, x) or self:forward_modules(x)
end

-- the modules one after another (the general path)
function Sequential:forward_modules(x)
  for i = 1, self.n do x = self[keys[i]](x) end
  return x
end

-- net(x) tries the fused path without the extra call levels of
-- Module.__call: an inference of a small network takes about a
-- microsecond, and every call shows
Sequential.__call = require("annlua.fused").call

function Sequential:describe()
  return string.format("Sequential (%d module%s)", self.n,
                       self.n == 1 and "" or "s")
end

return Sequential
