-- Sequential{m1, m2, ...} or Sequential(m1, m2, ...): applies the modules
-- in order, the output of one the input of the next.

local Module = require("annlua.nn.Module")
local check = require("annlua.util").check
local fused_forward = require("annlua.fused").forward

local Sequential = Module:extend("Sequential")

function Sequential:init(...)
  local list = ...
  if select("#", ...) ~= 1 or getmetatable(list) ~= nil then
    list = {...}                    -- Sequential(m1, m2) form
  end
  self.n = 0
  for _, m in ipairs(list) do self:add(m) end
end

function Sequential:add(m)
  check(type(m) == "table" and getmetatable(m) and getmetatable(m).__module,
         "Sequential: expected a module, got " .. type(m))
  self.n = self.n + 1
  self:register_module(tostring(self.n), m)
  return self
end

function Sequential:get(i) return self[tostring(i)] end

-- a stack of built-in layers run without a graph (inference, no_grad)
-- takes the fused C path of annlua.fused: one call for the whole stack
function Sequential:forward(x)
  local y = fused_forward(self, x)
  if y then return y end
  for i = 1, self.n do x = self[tostring(i)](x) end
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
