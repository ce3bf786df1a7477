-- Functional forms under the names of the seed material (TensorFlow's).

local core = require("annlua.core")
local check = require("annlua.util").check

local M = {}

-- ann.softmax_cross_entropy_with_logits{labels =, logits =}: per-sample
-- cross-entropy, a 1-d tensor; labels are one-hot (or probability) rows,
-- or 1-based class indices
function M.softmax_cross_entropy_with_logits(args)
  check(type(args) == "table" and args.labels and args.logits,
         "softmax_cross_entropy_with_logits: expected {labels =, logits =}")
  return core.cross_entropy(args.logits, args.labels, "none")
end

-- ann.reduce_mean(t [, d]): the mean of all elements, or along dim d
function M.reduce_mean(t, d)
  if d == nil then return t:mean() end
  return t:mean(d)
end

M.one_hot = core.one_hot

return M
