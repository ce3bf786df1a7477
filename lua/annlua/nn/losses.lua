-- Losses: callable modules, loss(input, target) -> a tensor.
-- {reduction = "mean" | "sum" | "none"}, mean by default.  The forward
-- and backward of each are fused in C and stable for extreme inputs.
--   MSELoss            mean squared error
--   BCELoss            binary cross-entropy on probabilities
--   BCEWithLogitsLoss  binary cross-entropy on logits (sigmoid fused)
--   CrossEntropyLoss   softmax cross-entropy on logits; target: 1-based
--                      class indices, or one-hot / probability rows; also
--                      takes weight, ignore_index, label_smoothing
--   NLLLoss            negative log-likelihood of log-probabilities
-- An unknown option is an error.

local core = require("annlua.core")
local util = require("annlua.util")
local Module = require("annlua.nn.Module")

local M = {}

-- a number as %g, without a trailing ".0" for integers
local function progress_number(v)
  if v == math.floor(v) and math.abs(v) < 2^53 then return string.format("%d", v) end
  return string.format("%g", v)
end

local reductions = {mean = true, sum = true, none = true}

local function loss(name, fn, known)
  local cls = Module:extend(name)
  known = known or {}
  known.reduction = true
  function cls:init(opts)
    opts = util.options(name, opts, known)
    self.reduction = opts.reduction or "mean"
    if not reductions[self.reduction] then
      util.fail("%s: reduction must be mean, sum or none, got %s", name,
                tostring(self.reduction))
    end
    if self.setup then self:setup(opts) end
  end
  function cls:forward(input, target)
    return fn(input, target, self.reduction)
  end
  function cls:describe()
    return string.format("%s(%s)", name, self.reduction)
  end
  M[name] = cls
  return cls
end

loss("MSELoss", core.mse_loss)
-- the binary cross-entropies take targets in [0, 1] (0/1 labels, or
-- soft ones); a 2 or a -1 (class numbers, +1/-1 labels) would give a
-- loss without meaning, so it is refused
for _, lf in ipairs{{"BCELoss", core.bce_loss},
                    {"BCEWithLogitsLoss", core.bce_with_logits}} do
  local name, fn = lf[1], lf[2]
  local cls = loss(name, fn)
  -- also called by ann.fit on the whole target set before a fused epoch,
  -- which never comes through forward
  function cls:check_target(target)
    if core.is_tensor(target) and target:numel() > 0 then
      local lo, hi = target:min():item(), target:max():item()
      if not (lo >= 0 and hi <= 1) then
        util.fail("%s: targets must be in [0, 1], got %s", name,
                  progress_number(not (lo >= 0) and lo or hi))
      end
    end
  end
  function cls:forward(input, target)
    self:check_target(target)
    return fn(input, target, self.reduction)
  end
end
loss("NLLLoss", core.nll_loss)

-- CrossEntropyLoss{weight =, ignore_index =, label_smoothing =} as in
-- PyTorch.  Per sample, with q the target row (one-hot of the class, or
-- the given probabilities), smoothed to (1 - e) q + e / C, and w the
-- class weights (1 by default):  loss_i = -sum_c w_c q_ic log p_ic.
-- Samples whose class is ignore_index count for nothing.  The mean
-- divides by the sum of w[y_i] over the samples kept (class targets), or
-- by N (probability targets).  Without these options the fused C loss
-- runs; with them, this composition of tensor ops (autograd does the
-- backward), and ann.fit keeps to its general path.
local CE = loss("CrossEntropyLoss", core.cross_entropy,
                util.set{"weight", "ignore_index", "label_smoothing"})

function CE:setup(o)
  local w, ig, e = o.weight, o.ignore_index, o.label_smoothing
  if w ~= nil and not (core.is_tensor(w) and w:dim() == 1) then
    util.fail("CrossEntropyLoss: weight must be a 1-d tensor of class weights, got %s",
              core.is_tensor(w) and w:dim() .. "-d tensor" or type(w))
  end
  if ig ~= nil and math.type(ig) ~= "integer" then
    util.fail("CrossEntropyLoss: ignore_index must be an integer, got %s", tostring(ig))
  end
  if e ~= nil and not (type(e) == "number" and e >= 0 and e <= 1) then
    util.fail("CrossEntropyLoss: label_smoothing must be in [0, 1], got %s", tostring(e))
  end
  self.weight, self.ignore_index = w, ig
  self.label_smoothing = e or 0
  -- the fused paths (C loss, ann.fit's trainer) know none of these
  self.extended = w ~= nil or ig ~= nil or self.label_smoothing ~= 0
end

function CE:forward(input, target)
  if not self.extended then
    return core.cross_entropy(input, target, self.reduction)
  end
  if not (core.is_tensor(input) and input:dim() == 2) then
    util.fail("CrossEntropyLoss: input must be logits [N, C], got %s",
              core.is_tensor(input) and "[" .. table.concat(input:shape(), ",") .. "]"
              or type(input))
  end
  local n, c = input:size(1), input:size(2)
  if not core.is_tensor(target) then
    util.fail("CrossEntropyLoss: target must be a tensor, got %s", type(target))
  end
  local w = self.weight
  if w and w:numel() ~= c then
    util.fail("CrossEntropyLoss: weight has %d elements, expected %d (one per class)",
              w:numel(), c)
  end
  local ig, q, keep, labels = self.ignore_index, nil, nil, nil
  if target:dim() == 1 then
    if #target ~= n then
      util.fail("CrossEntropyLoss: %d targets for %d samples", #target, n)
    end
    labels = target
    if ig then        -- ignored rows take class 1, then count for nothing
      keep = target:ne(ig)
      labels = target * keep + (1 - keep)
    end
    local ok, oh = pcall(core.one_hot, labels, c)
    if not ok then
      util.fail("CrossEntropyLoss: %s", (util.strip(oh):gsub("^one_hot: ", "")))
    end
    q = oh
  else
    if target:dim() ~= 2 or target:size(1) ~= n or target:size(2) ~= c then
      util.fail("CrossEntropyLoss: target must be [%d] classes or [%d,%d] rows, got [%s]",
                n, n, c, table.concat(target:shape(), ","))
    end
    if ig then
      util.fail("CrossEntropyLoss: ignore_index needs class-index targets [N], not rows")
    end
    q = target
  end
  local e = self.label_smoothing
  if e ~= 0 then q = q * (1 - e) + e / c end
  if w then q = q * w end
  local per = -(q * input:log_softmax(2)):sum(2)
  if keep then per = per * keep end
  if self.reduction == "none" then return per end
  local total = per:sum()
  if self.reduction == "sum" then return total end
  local denom = n
  if labels then
    local wy = w and w:index_select(1, labels) or nil
    if keep then wy = wy and wy * keep or keep end
    if wy then denom = wy:sum():item() end
  end
  return total / denom
end

function CE:describe()
  local parts = {self.reduction}
  if self.weight then parts[#parts + 1] = "weight" end
  if self.ignore_index then parts[#parts + 1] = "ignore_index " .. self.ignore_index end
  if self.label_smoothing ~= 0 then
    parts[#parts + 1] = string.format("label_smoothing %g", self.label_smoothing)
  end
  return string.format("CrossEntropyLoss(%s)", table.concat(parts, ", "))
end

return M
