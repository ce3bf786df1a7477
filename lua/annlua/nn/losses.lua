-- Losses: callable modules, loss(input, target) -> a tensor.
-- {reduction = "mean" | "sum" | "none"}, mean by default.  The forward
-- and backward of each are fused in C and stable for extreme inputs.
--   MSELoss            mean squared error
--   BCELoss            binary cross-entropy on probabilities
--   BCEWithLogitsLoss  binary cross-entropy on logits (sigmoid fused)
--   CrossEntropyLoss   softmax cross-entropy on logits; target: 1-based
--                      class indices, or one-hot / probability rows
--   NLLLoss            negative log-likelihood of log-probabilities

local core = require("annlua.core")
local Module = require("annlua.nn.Module")

local M = {}

local reductions = {mean = true, sum = true, none = true}

local function loss(name, fn)
  local cls = Module:extend(name)
  function cls:init(opts)
    self.reduction = opts and opts.reduction or "mean"
    if not reductions[self.reduction] then
      error(name .. ": reduction must be mean, sum or none, got "
            .. tostring(self.reduction), 3)
    end
  end
  function cls:forward(input, target)
    return fn(input, target, self.reduction)
  end
  function cls:describe()
    return string.format("%s(%s)", name, self.reduction)
  end
  M[name] = cls
end

loss("MSELoss", core.mse_loss)
loss("BCELoss", core.bce_loss)
loss("BCEWithLogitsLoss", core.bce_with_logits)
loss("CrossEntropyLoss", core.cross_entropy)
loss("NLLLoss", core.nll_loss)

return M
