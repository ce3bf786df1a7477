--[[
annlua: neural networks for Lua 5.4.

  local ann = require("annlua")

The tensor type and the numeric core are C (the module "annlua.core");
this file is the Lua side of `ann`.  The areas written in Lua (ann.nn,
ann.optim, ann.data) live in lua/annlua/<name>.lua and load on first use.
]]

local core = require("annlua.core")

local ann = {}
for name, value in pairs(core) do ann[name] = value end
-- functions written in Lua: no_grad, grad_check, and TensorFlow's names
for _, part in ipairs{"annlua.autograd", "annlua.functional"} do
  for name, value in pairs(require(part)) do ann[name] = value end
end

-- areas loaded on first use: ann.nn, ann.optim, ...
local submodules = { nn = true, optim = true, data = true, metrics = true,
                     playground = true, plot = true }
-- functions loaded on first use, from the file that holds them
local lazy = { fit = "fit", evaluate = "fit", save = "serialize",
               load = "serialize" }

return setmetatable(ann, {
  __index = function(t, name)
    if submodules[name] then
      local m = require("annlua." .. name)
      rawset(t, name, m)
      return m
    elseif lazy[name] then
      local f = require("annlua." .. lazy[name])[name]
      rawset(t, name, f)
      return f
    end
  end,
})
