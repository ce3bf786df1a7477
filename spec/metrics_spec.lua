-- ann.metrics: accuracy, confusion matrix, precision / recall / F1.
-- Expected numbers are counted by hand from the hand-made scores, or by a
-- naive Lua loop over the samples.

local ann = require("annlua")
local metrics = ann.metrics
local h = require("helpers")

-- whether a and b differ by at most tol (default 1e-6)
local function close(a, b, tol) return h.close(a, b, tol or 1e-6) end

-- rows 1..4 predict classes 2, 1, 2, 1 (argmax)
local scores = ann.tensor{{0.1, 0.9}, {0.8, 0.2}, {0.3, 0.7}, {0.6, 0.4}}
local targets = ann.tensor{2, 1, 1, 1}                 -- 3 of 4 right

describe("metrics.accuracy", function()
  it("compares the argmax of [N,C] scores with 1-based classes", function()
    assert.equal(0.75, metrics.accuracy(scores, targets))
    assert.equal(1, metrics.accuracy(scores, ann.tensor{2, 1, 2, 1}))
    assert.equal(0, metrics.accuracy(scores, ann.tensor{1, 2, 1, 2}))
  end)

  it("takes one-hot target rows", function()
    local onehot = ann.tensor{{0, 1}, {1, 0}, {1, 0}, {1, 0}}
    assert.equal(0.75, metrics.accuracy(scores, onehot))
  end)

  it("thresholds [N] and [N,1] probabilities at 0.5 against 0/1 targets", function()
    -- predictions 0, 1, 1 (0.5 counts as positive), 0
    local p = ann.tensor{0.2, 0.7, 0.5, 0.49}
    local y = ann.tensor{0, 1, 1, 1}
    assert.equal(0.75, metrics.accuracy(p, y))
    assert.equal(0.75, metrics.accuracy(p:view(4, 1), y:view(4, 1)))
    assert.equal(0.75, metrics.accuracy(p:view(4, 1), y))
    -- threshold 0.45 makes the last one positive too
    assert.equal(1, metrics.accuracy(p, y, {threshold = 0.45}))
  end)

  it("counts with correct() as fit adds them up", function()
    local c, n = metrics.correct(scores, targets)
    assert.equal(3, c)
    assert.equal(4, n)
  end)

  it("names the shapes when samples or classes differ", function()
    local ok, err = pcall(metrics.accuracy, scores, ann.tensor{1, 2, 1})
    assert.is_false(ok)
    assert.matches("accuracy: scores [4,2] and targets [3] differ in samples (4 ~= 3)",
                   err, 1, true)
    ok, err = pcall(metrics.accuracy, scores, ann.zeros(4, 3))
    assert.is_false(ok)
    assert.matches("one-hot targets [4,3] differ in classes (2 ~= 3)", err, 1, true)
    ok, err = pcall(metrics.accuracy, "x", targets)
    assert.is_false(ok)
    assert.matches("accuracy: scores must be a tensor, got string", err, 1, true)
    ok, err = pcall(metrics.accuracy, ann.zeros(2, 2, 2), ann.tensor{1, 1})
    assert.is_false(ok)
    assert.matches("scores must be [N,C], [N,1] or [N]", err, 1, true)
  end)
end)

describe("metrics.confusion_matrix", function()
  -- true 1 1 2 2 2 3, predicted 1 2 2 2 3 3
  local s = ann.tensor{{5, 1, 0}, {0, 4, 1}, {1, 3, 2}, {0, 9, 8}, {0, 0, 1}, {2, 1, 3}}
  local y = ann.tensor{1, 1, 2, 2, 2, 3}

  it("counts rows = true class, columns = predicted", function()
    local cm = metrics.confusion_matrix(s, y, 3)
    assert.same({{1, 1, 0}, {0, 2, 1}, {0, 0, 1}}, cm:totable())
    assert.equal(6, cm.total)
    assert.equal(2, cm:get(2, 2))
    assert.equal(1, cm:get(2, 3))
    assert.equal(math.type(cm:get(1, 1)), "integer")
    assert.is_true(close(4 / 6, cm:accuracy()))
    -- n may be left out: the columns of scores
    assert.same(cm:totable(), metrics.confusion_matrix(s, y):totable())
    -- n larger than the columns: classes never predicted
    assert.same({{1, 1, 0, 0}, {0, 2, 1, 0}, {0, 0, 1, 0}, {0, 0, 0, 0}},
                metrics.confusion_matrix(s, y, 4):totable())
  end)

  it("gives precision, recall and F1 per class", function()
    -- class 1: tp 1, predicted 1, actual 2; class 2: tp 2, predicted 3,
    -- actual 3; class 3: tp 1, predicted 2, actual 1
    local p, r, f, support = metrics.precision_recall_f1(s, y, 3)
    local ep, er = {1, 2 / 3, 1 / 2}, {1 / 2, 2 / 3, 1}
    for k = 1, 3 do
      assert.is_true(close(ep[k], p[k]), "precision " .. k)
      assert.is_true(close(er[k], r[k]), "recall " .. k)
      assert.is_true(close(2 * ep[k] * er[k] / (ep[k] + er[k]), f[k]), "f1 " .. k)
    end
    assert.same({2, 3, 1}, support)
    -- a class never predicted nor present: 0, not a division by zero
    p, r, f = metrics.precision_recall_f1(s, y, 4)
    assert.equal(0, p[4]); assert.equal(0, r[4]); assert.equal(0, f[4])
  end)

  it("agrees with a naive count over many samples", function()
    ann.manual_seed(7)
    local n, c = 5000, 7
    local sc = ann.randn(n, c)
    local truth = (ann.rand(n) * c):clamp(0, c - 1e-3)
    -- integer classes 1..c from uniform numbers, via a naive Lua floor
    local t = {}
    for i = 1, n do t[i] = math.floor(truth:get(i)) + 1 end
    local yt = ann.tensor(t)
    local expect = {}
    for i = 1, c do expect[i] = {} for j = 1, c do expect[i][j] = 0 end end
    for i = 1, n do
      local best, arg = -math.huge, 0
      for j = 1, c do
        local v = sc:get(i, j)
        if v > best then best, arg = v, j end
      end
      expect[t[i]][arg] = expect[t[i]][arg] + 1
    end
    local cm = metrics.confusion_matrix(sc, yt, c)
    assert.same(expect, cm:totable())
    local right = 0
    for k = 1, c do right = right + expect[k][k] end
    assert.is_true(close(right / n, metrics.accuracy(sc, yt)))
  end)

  it("prints a labelled, aligned table and the per-class figures", function()
    local cm = metrics.confusion_matrix(s, y, 3, {names = {"cat", "dog", "bird"}})
    local text = tostring(cm)
    local lines = {}
    for l in text:gmatch("[^\n]*") do lines[#lines + 1] = l end
    assert.matches("6 samples", lines[1], 1, true)
    -- first column as wide as "true\pred", the others as wide as the
    -- longest name, two spaces apart
    assert.equal("true\\pred   cat   dog  bird", lines[2])
    assert.equal("      cat     1     1     0", lines[3])
    assert.equal("      dog     0     2     1", lines[4])
    assert.equal("     bird     0     0     1", lines[5])
    assert.matches("      dog     0.6667  0.6667  0.6667        3", text, 1, true)
    assert.matches("     bird     0.5000  1.0000  0.6667        1", text, 1, true)
    assert.matches(" accuracy                     0.6667        6", text, 1, true)
  end)

  it("numbers classes 1..n without names, and takes numbers as names", function()
    local text = tostring(metrics.confusion_matrix(s, y, 3))
    assert.matches("true\\pred  1  2  3\n        1  1  1  0\n", text, 1, true)
    text = tostring(metrics.confusion_matrix(s, y, 3, {names = {0, 1, 2}}))
    assert.matches("true\\pred  0  1  2\n        0  1  1  0\n", text, 1, true)
  end)

  it("handles binary probabilities with 0/1 targets as classes 0 and 1", function()
    -- predicted 0, 1, 1, 0 for true 0, 0, 1, 1
    local cm = metrics.confusion_matrix(ann.tensor{0.2, 0.7, 0.5, 0.1},
                                        ann.tensor{0, 0, 1, 1})
    assert.same({{1, 1}, {1, 1}}, cm:totable())
    assert.same({"0", "1"}, cm.names)
    local ok, err = pcall(metrics.confusion_matrix, ann.tensor{0.2}, ann.tensor{0}, 3)
    assert.is_false(ok)
    assert.matches("binary scores [1] have 2 classes, not 3", err, 1, true)
  end)

  it("rejects targets out of range and wrong options, naming them", function()
    local ok, err = pcall(metrics.confusion_matrix, s, ann.tensor{1, 1, 2, 2, 2, 4}, 3)
    assert.is_false(ok)
    assert.matches("confusion_matrix: target 4 out of range 1..3", err, 1, true)
    ok, err = pcall(metrics.confusion_matrix, s, ann.tensor{1, 1, 2, 2, 2, 1.5}, 3)
    assert.is_false(ok)
    assert.matches("confusion_matrix: target 1.5 is not an integer", err, 1, true)
    ok, err = pcall(metrics.confusion_matrix, s, y, 2)
    assert.is_false(ok)
    assert.matches("scores [6,3] have 3 classes, more than n = 2", err, 1, true)
    ok, err = pcall(metrics.confusion_matrix, s, y, 3, {names = {"a", "b"}})
    assert.is_false(ok)
    assert.matches("names must list the 3 classes, got 2 names", err, 1, true)
    ok, err = pcall(metrics.confusion_matrix, s, y, 0)
    assert.is_false(ok)
    assert.matches("n must be a positive integer, got 0", err, 1, true)
  end)
end)
