-- Activation modules: thin wrappers over the tensor methods, whose
-- derivatives autograd knows (sigmoid' = s(1 - s), tanh' = 1 - tanh^2,
-- relu' = [x > 0]).

local Module = require("annlua.nn.Module")
local check = require("annlua.util").check

local M = {}

local function simple(name, method)
  local cls = Module:extend(name)
  cls.forward = function(_, x) return x[method](x) end
  M[name] = cls
end

simple("Sigmoid", "sigmoid")
simple("Tanh", "tanh")
simple("ReLU", "relu")

M.Identity = Module:extend("Identity")
function M.Identity.forward(_, x) return x end

-- LeakyReLU([slope = 0.01]): x for x > 0, slope * x otherwise
M.LeakyReLU = Module:extend("LeakyReLU")
function M.LeakyReLU:init(slope) self.slope = slope or 0.01 end
function M.LeakyReLU:forward(x)
  return x:relu() - (-x):relu() * self.slope
end
function M.LeakyReLU:describe()
  return string.format("LeakyReLU(%g)", self.slope)
end

-- Softmax([d]) and LogSoftmax([d]): along d, the last dim by default
for _, name in ipairs{"Softmax", "LogSoftmax"} do
  local method = name == "Softmax" and "softmax" or "log_softmax"
  local cls = Module:extend(name)
  function cls:init(d) self.dim = d end
  function cls:forward(x) return x[method](x, self.dim or -1) end
  M[name] = cls
end

-- Dropout([p = 0.5]): in training, zeroes each element with probability p
-- and scales the rest by 1/(1-p); in eval mode, the identity
M.Dropout = Module:extend("Dropout")
function M.Dropout:init(p)
  p = p or 0.5
  check(type(p) == "number" and p >= 0 and p < 1,
         "Dropout: p must be a number in [0, 1) (the probability of zeroing), got " .. tostring(p))
  self.p = p
end
function M.Dropout:forward(x)
  if not self.training or self.p == 0 then return x end
  local keep = x:detach():clone():uniform_():ge(self.p)
  return x * keep / (1 - self.p)
end
function M.Dropout:describe() return string.format("Dropout(%g)", self.p) end

return M
