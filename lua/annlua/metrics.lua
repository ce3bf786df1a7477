-- ann.metrics: accuracy, confusion matrix, precision / recall / F1.
--
--   local scores = ann.no_grad(net, test.x)
--   print(ann.metrics.accuracy(scores, test.y))
--   print(ann.metrics.confusion_matrix(scores, test.y, 10, {names = test.classes}))
--
-- Scores are either [N,C] (one row per sample; the predicted class is the
-- argmax, as for logits or probabilities) with targets as 1-based classes
-- [N] or one-hot rows [N,C], or [N] / [N,1] probabilities of the positive
-- class with 0/1 targets (predicted positive when >= the threshold, 0.5).
-- Counting is done by tensor ops in C, whatever N: a confusion matrix is
-- one_hot(true)^T x one_hot(predicted).

local core = require("annlua.core")
local util = require("annlua.util")

local metrics = {}

local function shapestr(t)
  return "[" .. table.concat(t:shape(), ",") .. "]"
end

local function check_tensor(op, name, t)
  if not core.is_tensor(t) then
    util.error(string.format("%s: %s must be a tensor, got %s", op, name,
                        type(t)))
  end
end

-- is this a binary problem: scores [N] or [N,1]?
local function is_binary(scores)
  return scores:dim() == 1 or (scores:dim() == 2 and scores:size(2) == 1)
end

-- predicted and true labels as [N] tensors, with the number of classes.
-- Binary problems give 0/1 labels (ncls 2); others give 1-based classes.
local function labels(op, scores, targets, threshold)
  check_tensor(op, "scores", scores)
  check_tensor(op, "targets", targets)
  local d = scores:dim()
  if d < 1 or d > 2 or scores:numel() == 0 then
    util.error(string.format("%s: scores must be [N,C], [N,1] or [N] with N > 0, got %s",
                        op, shapestr(scores)))
  end
  local n = scores:size(1)
  if targets:dim() < 1 or targets:size(1) ~= n then
    util.error(string.format("%s: scores %s and targets %s differ in samples (%d ~= %s)",
                        op, shapestr(scores), shapestr(targets), n,
                        targets:dim() > 0 and targets:size(1) or "none"))
  end
  if is_binary(scores) then
    local ok = targets:dim() == 1
               or (targets:dim() == 2 and targets:size(2) == 1)
    if not ok then
      util.error(string.format("%s: binary scores %s need 0/1 targets [N] or [N,1], got %s",
                          op, shapestr(scores), shapestr(targets)))
    end
    local truth = targets:reshape(n)
    -- 1-based classes (or +1/-1) against binary scores would all count
    -- as wrong: refused, naming a bad target
    if (truth:eq(0) + truth:eq(1)):min():item() < 1 then
      local v
      for _, x in ipairs(truth:totable()) do
        if x ~= 0 and x ~= 1 then v = x break end
      end
      util.error(string.format("%s: binary scores %s need 0/1 targets, got %s "
                          .. "(1-based classes need scores [N,C], C >= 2)", op,
                          shapestr(scores),
                          v == math.floor(v) and string.format("%d", v) or tostring(v)))
    end
    local pred = scores:view(-1):ge(threshold or 0.5)
    return pred, truth, 2, true
  end
  local c = scores:size(2)
  local truth = targets
  if targets:dim() == 2 then
    if targets:size(2) ~= c then
      util.error(string.format("%s: scores %s and one-hot targets %s differ in classes (%d ~= %d)",
                          op, shapestr(scores), shapestr(targets), c,
                          targets:size(2)))
    end
    truth = targets:argmax(2)
  elseif targets:dim() ~= 1 then
    util.error(string.format("%s: targets must be [N] classes or [N,C] one-hot, got %s",
                        op, shapestr(targets)))
  end
  return scores:argmax(2), truth, c, false
end

-- metrics.correct(scores, targets [, threshold]) -> the number of correct
-- predictions, N (what ann.fit adds up over batches)
function metrics.correct(scores, targets, threshold)
  local pred, truth = labels("accuracy", scores, targets, threshold)
  return pred:eq(truth):sum():item(), pred:numel()
end

-- metrics.counter(scores, targets) -> a function(scores, targets) that
-- counts correct predictions, checked on this first pair and then lean
-- (four C calls) for later batches of the same kind: ann.fit's hot loop
function metrics.counter(scores, targets, threshold)
  labels("accuracy", scores, targets, threshold)
  if scores:dim() == 2 and scores:size(2) > 1 and targets:dim() == 1 then
    return function(s, t) return s:argmax(2):eq(t):sum():item() end
  end
  return function(s, t) return (metrics.correct(s, t, threshold)) end
end

-- accuracy(scores, targets [, {threshold = 0.5}]) -> fraction in [0, 1]
function metrics.accuracy(scores, targets, opts)
  local threshold = util.options("accuracy", opts, {threshold = true}).threshold
  local pred, truth = labels("accuracy", scores, targets, threshold)
  return pred:eq(truth):sum():item() / pred:numel()
end

-- ---------------------------------------------------------------------
-- Confusion matrix: counts [n,n], rows = true class, columns = predicted

local Confusion = {}
Confusion.__index = Confusion
Confusion.__name = "ConfusionMatrix"

-- class labels 1..n from 1-based (or, binary, 0/1) labels; a label out of
-- range or not an integer is an error naming it
local function onehot(op, what, t, n, binary)
  local lab = binary and t + 1 or t
  local ok, res = pcall(core.one_hot, lab, n)
  if not ok then
    local msg = util.strip(res):gsub("^one_hot: label ", "")
    if binary then msg = msg .. " after adding 1 to 0/1 labels" end
    util.error(string.format("%s: %s %s", op, what, msg))
  end
  return res
end

-- confusion_matrix(scores, targets [, n] [, {names =, threshold =}])
function metrics.confusion_matrix(scores, targets, n, opts)
  if type(n) == "table" then n, opts = nil, n end
  local op = "confusion_matrix"
  opts = util.options(op, opts, {threshold = true, names = true})
  local pred, truth, c, binary = labels(op, scores, targets, opts.threshold)
  if n ~= nil then
    if math.type(n) ~= "integer" or n < 1 then
      util.error(op .. ": n must be a positive integer, got " .. tostring(n))
    end
    if binary and n ~= 2 then
      util.error(string.format("%s: binary scores %s have 2 classes, not %d",
                          op, shapestr(scores), n))
    elseif not binary and n < c then
      util.error(string.format("%s: scores %s have %d classes, more than n = %d",
                          op, shapestr(scores), c, n))
    end
    c = n
  end
  local names = opts.names
  if names ~= nil and (type(names) ~= "table" or #names ~= c) then
    util.error(string.format("%s: names must list the %d classes, got %s", op, c,
                        type(names) == "table" and #names .. " names" or type(names)))
  end
  local counts = onehot(op, "target", truth, c, binary):t()
                 :mm(onehot(op, "prediction", pred, c, binary))
  if not names then
    names = {}
    for i = 1, c do names[i] = binary and tostring(i - 1) or tostring(i) end
  end
  return setmetatable({counts = counts, n = c, names = names,
                       total = pred:numel()}, Confusion)
end

-- cm:get(true_class, predicted_class) -> count
function Confusion:get(i, j) return math.tointeger(self.counts:get(i, j)) end

-- cm:totable() -> rows of counts (Lua integers)
function Confusion:totable()
  local rows = self.counts:totable()
  for _, r in ipairs(rows) do
    for j, v in ipairs(r) do r[j] = math.tointeger(v) end
  end
  return rows
end

function Confusion:accuracy()
  return (self.counts * core.eye(self.n)):sum():item() / self.total
end

local function ratio(a, b) return b > 0 and a / b or 0 end

-- cm:precision_recall_f1() -> precision, recall, f1, support: tables
-- indexed by class (0 where a class is never predicted / never present)
function Confusion:precision_recall_f1()
  local diag = (self.counts * core.eye(self.n)):sum(2):totable()
  local predicted = self.counts:sum(1):totable()   -- column sums
  local actual = self.counts:sum(2):totable()      -- row sums
  local p, r, f, s = {}, {}, {}, {}
  for k = 1, self.n do
    p[k] = ratio(diag[k], predicted[k])
    r[k] = ratio(diag[k], actual[k])
    f[k] = ratio(2 * p[k] * r[k], p[k] + r[k])
    s[k] = math.tointeger(actual[k])
  end
  return p, r, f, s
end

-- the matrix as an aligned table, then precision / recall / F1 per class
function Confusion:__tostring()
  local rows = self:totable()
  local w = #"true\\pred"
  for k = 1, self.n do w = math.max(w, #tostring(self.names[k])) end
  local cw = #tostring(self.total)
  for k = 1, self.n do cw = math.max(cw, #tostring(self.names[k])) end
  local out = {string.format("confusion matrix (rows: true class, columns: predicted), %d samples",
                             self.total)}
  local head = {string.format("%-" .. w .. "s", "true\\pred")}
  for k = 1, self.n do head[#head + 1] = string.format("%" .. cw .. "s", self.names[k]) end
  out[#out + 1] = table.concat(head, "  ")
  for i = 1, self.n do
    local line = {string.format("%" .. w .. "s", self.names[i])}
    for j = 1, self.n do line[#line + 1] = string.format("%" .. cw .. "d", rows[i][j]) end
    out[#out + 1] = table.concat(line, "  ")
  end
  out[#out + 1] = ""
  local p, r, f, s = self:precision_recall_f1()
  out[#out + 1] = string.format("%" .. w .. "s  %9s  %6s  %6s  %7s", "class",
                                "precision", "recall", "f1", "support")
  local mp, mr, mf = 0, 0, 0
  for k = 1, self.n do
    out[#out + 1] = string.format("%" .. w .. "s  %9.4f  %6.4f  %6.4f  %7d",
                                  self.names[k], p[k], r[k], f[k], s[k])
    mp, mr, mf = mp + p[k], mr + r[k], mf + f[k]
  end
  out[#out + 1] = string.format("%" .. w .. "s  %9.4f  %6.4f  %6.4f  %7d",
                                "macro avg", mp / self.n, mr / self.n,
                                mf / self.n, self.total)
  out[#out + 1] = string.format("%" .. w .. "s  %9s  %6s  %6.4f  %7d",
                                "accuracy", "", "", self:accuracy(), self.total)
  return table.concat(out, "\n")
end

-- precision_recall_f1(scores, targets [, n] [, opts]) -> precision,
-- recall, f1, support (tables indexed by class)
function metrics.precision_recall_f1(scores, targets, n, opts)
  return metrics.confusion_matrix(scores, targets, n, opts):precision_recall_f1()
end

return metrics
