-- ann.fit, ann.evaluate and the progress display (lua/annlua/fit.lua,
-- progress.lua), and the examples that use them.  Expected values come
-- from hand counts, closed forms, values scripted through callbacks, or a
-- second computation (a whole-set forward pass); the output format is read
-- from a child annlua process writing to a pipe.  The child is the binary
-- in $ANNLUA_BIN (spec/run sets it), else the one next to the C module
-- under test, else build/bin/annlua.  (`h` is a fit history here, so the
-- shared helpers go by their full name.)

local ann = require("annlua")
local progress = require("annlua.progress")
local helpers = require("helpers")

local shell_quote = helpers.quote
local tmpdir = helpers.tmpdir()

local function writefile(name, text)
  return helpers.writefile(tmpdir .. "/" .. name, text)
end

-- annlua(args) runs the interpreter with stdout and stderr to files (not a
-- terminal); returns stdout, stderr, exit code
local annlua = helpers.annlua

local has_save = pcall(require, "annlua.serialize")

-- whether a and b differ by at most tol (default 1e-5)
local close = helpers.close

-- two classes split by the line x1 + x2 = 0, from a fixed seed
local function problem(n, seed)
  ann.manual_seed(seed or 3)
  local x = ann.randn(n, 2)
  local y = (x:select(2, 1) + x:select(2, 2)):gt(0) + 1
  return ann.data.TensorDataset(x, y)
end

local function mlp(seed)
  ann.manual_seed(seed or 1)
  return ann.nn.Sequential{ann.nn.Linear(2, 8), ann.nn.ReLU(), ann.nn.Linear(8, 2)}
end

local function clones(ps)
  local t = {}
  for i, p in ipairs(ps) do t[i] = p:detach():clone() end
  return t
end

local function same_params(a, b)
  for i = 1, #a do
    if not ann.allclose(a[i], b[i], 0, 0) then return false end
  end
  return #a == #b
end

-- a model whose output is the constant level (a parameter times 0 plus
-- level, so that there is something to differentiate): with MSELoss
-- against zeros, its loss and val_loss are exactly level^2
local Stub = ann.nn.Module:extend("Stub")
function Stub:init() self.w = ann.zeros(1):requires_grad(); self.level = 1 end
function Stub:forward(x)
  return x:narrow(2, 1, 1) * 0 + self.w * 0 + self.level
end

describe("ann.fit", function()
  it("trains a small problem and returns one history entry per epoch", function()
    local train, val = problem(100), problem(40, 4)
    local net = mlp()
    local steps, begins = {}, {}
    local h = ann.fit(net, {
      train = train, validation = val, epochs = 3, batch_size = 16, seed = 1,
      loss = ann.nn.CrossEntropyLoss(), progress = false,
      optimizer = ann.optim.Adam(net:parameters(), {lr = 0.05}),
      callbacks = {
        on_epoch_begin = function(e) begins[#begins + 1] = e end,
        on_batch_end = function(step, logs) steps[#steps + 1] = {step, logs.epoch, logs.batch_size} end,
      },
    })
    assert.equal(3, h.epochs)
    for _, k in ipairs{"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} do
      assert.equal(3, #h[k], k)
    end
    assert.is_true(h.loss[3] < h.loss[1])
    assert.same({1, 2, 3}, begins)
    -- 100 samples in batches of 16: 7 steps, the last of 4 samples
    assert.equal(21, #steps)
    assert.same({7, 3, 4}, steps[21])
    assert.same({1, 2, 16}, steps[8])
    -- the last epoch's validation figures are those of the final weights
    local scores = ann.no_grad(net, val.x)
    assert.is_true(close(ann.metrics.accuracy(scores, val.y), h.val_accuracy[3]))
    local loss = ann.nn.CrossEntropyLoss()(scores, val.y):item()
    assert.is_true(close(loss, h.val_loss[3]))
    -- the best epoch is the one of the lowest val_loss
    local best = 1
    for e = 2, 3 do if h.val_loss[e] < h.val_loss[best] then best = e end end
    assert.equal(best, h.best_epoch)
    assert.equal(h.val_loss[best], h.best)
    assert.equal("val_loss", h.monitor)
    assert.is_nil(h.stopped_epoch)
  end)

  it("reports the sample-weighted mean of the batch losses", function()
    local net = mlp()
    local sum, n, per_epoch = 0, 0, {}
    local h = ann.fit(net, {
      train = problem(100), epochs = 2, batch_size = 16, progress = false,
      loss = ann.nn.CrossEntropyLoss(),
      optimizer = ann.optim.SGD(net:parameters(), {lr = 0.1}),
      callbacks = {
        on_batch_end = function(_, logs)
          sum, n = sum + logs.loss * logs.batch_size, n + logs.batch_size
        end,
        on_epoch_end = function(e) per_epoch[e] = sum / n; sum, n = 0, 0 end,
      },
    })
    assert.is_true(close(per_epoch[1], h.loss[1], 1e-9))
    assert.is_true(close(per_epoch[2], h.loss[2], 1e-9))
    assert.is_nil(h.val_loss)                   -- no validation set
    assert.equal("loss", h.monitor)
  end)

  it("trains in train() mode and validates in eval() mode without a graph", function()
    local Rec = ann.nn.Module:extend("Rec")
    function Rec:init() self.lin = ann.nn.Linear(2, 2); self.seen = {} end
    function Rec:forward(x)
      local key = tostring(self.training) .. "/" .. tostring(ann.is_grad_enabled())
      self.seen[key] = (self.seen[key] or 0) + 1
      return self.lin(x)
    end
    ann.manual_seed(1)
    local m = Rec():eval()
    ann.fit(m, {train = problem(32), validation = problem(20, 5), epochs = 2,
                batch_size = 16, progress = false, loss = ann.nn.CrossEntropyLoss(),
                optimizer = ann.optim.SGD(m:parameters(), {lr = 0.1})})
    -- 2 epochs x 2 steps in training; 2 validations of one batch
    assert.same({["true/true"] = 4, ["false/false"] = 2}, m.seen)
    assert.is_false(m.training)               -- the mode it was given
    assert.is_true(ann.is_grad_enabled())
  end)

  it("takes a DataLoader, a validation fraction and custom metrics", function()
    local net = mlp()
    local sizes = 0
    local h = ann.fit(net, {
      train = problem(100), validation = 0.25, epochs = 1, batch_size = 10,
      progress = false, loss = ann.nn.CrossEntropyLoss(),
      optimizer = ann.optim.SGD(net:parameters(), {lr = 0.1}),
      metrics = {"accuracy", half = function() return 0.5 end},
      callbacks = {on_batch_end = function(_, l) sizes = sizes + l.batch_size end},
    })
    assert.equal(75, sizes)
    assert.equal(0.5, h.half[1])
    assert.equal(0.5, h.val_half[1])
    assert.equal(1, #h.val_accuracy)
    local loader = ann.data.DataLoader(problem(30), {batch_size = 7, shuffle = false})
    sizes = 0
    ann.fit(net, {train = loader, epochs = 2, progress = false,
                  loss = ann.nn.CrossEntropyLoss(),
                  optimizer = ann.optim.SGD(net:parameters(), {lr = 0.1}),
                  callbacks = {on_batch_end = function(_, l) sizes = sizes + l.batch_size end}})
    assert.equal(60, sizes)
  end)

  it("uses no accuracy metric for an MSE regression unless asked", function()
    local m = Stub()
    local ds = ann.data.TensorDataset(ann.ones(8, 1), ann.zeros(8, 1))
    local h = ann.fit(m, {train = ds, epochs = 1, progress = false,
                          loss = ann.nn.MSELoss(),
                          optimizer = ann.optim.SGD(m:parameters(), {lr = 0})})
    assert.is_nil(h.accuracy)
    assert.is_true(close(1, h.loss[1]))       -- level 1 against 0
  end)

  it("stops when on_epoch_end returns false", function()
    local net = mlp()
    local h = ann.fit(net, {train = problem(20), epochs = 10, progress = false,
      loss = ann.nn.CrossEntropyLoss(),
      optimizer = ann.optim.SGD(net:parameters(), {lr = 0.1}),
      callbacks = {on_epoch_end = function(e) if e >= 3 then return false end end}})
    assert.equal(3, h.epochs)
    assert.equal(3, #h.loss)
  end)

  describe("early stopping", function()
    -- trains the stub (lr 0) with a scripted value per epoch; returns the
    -- history
    local function scripted(seq, es, monitor_via_logs)
      local m = Stub()
      local ds = ann.data.TensorDataset(ann.ones(8, 1), ann.zeros(8, 1))
      return ann.fit(m, {
        train = ds, validation = ds, epochs = #seq, batch_size = 4, progress = false,
        loss = ann.nn.MSELoss(), early_stopping = es,
        optimizer = ann.optim.SGD(m:parameters(), {lr = 0}),
        callbacks = {
          on_epoch_begin = function(e) m.level = math.sqrt(seq[e]) end,
          on_epoch_end = function(e, logs)
            if monitor_via_logs then logs[monitor_via_logs] = seq[e] end
          end,
        },
      })
    end

    it("watches val_loss by default and stops after patience epochs", function()
      -- best 0.5 at epoch 2; 0.6, 0.55 do not improve: stop after epoch 4
      local h = scripted({1, 0.5, 0.6, 0.55, 0.7, 0.4}, {patience = 2})
      assert.equal(4, h.epochs)
      assert.equal(4, h.stopped_epoch)
      assert.equal(2, h.best_epoch)
      assert.equal(4, #h.val_loss)
      assert.is_true(close(0.5, h.best))
      assert.is_true(close(0.55, h.val_loss[4]))
    end)

    it("counts only improvements larger than min_delta", function()
      -- best 1; .95 is not < .9 (wait 1); .85 is (best .85); .8 and .78
      -- are not < .75 (wait 1, 2): stop after epoch 5
      local h = scripted({1, 0.95, 0.85, 0.8, 0.78, 0.1},
                         {patience = 2, min_delta = 0.1})
      assert.equal(5, h.stopped_epoch)
      assert.equal(5, h.epochs)
    end)

    it("maximises accuracies and follows a value added by a callback", function()
      -- best 0.7 at epoch 2, then 0.6, 0.65: stop after epoch 4
      local h = scripted({0.5, 0.7, 0.6, 0.65, 0.9},
                         {patience = 2, monitor = "my_accuracy"}, "my_accuracy")
      assert.equal(4, h.stopped_epoch)
      assert.equal(2, h.best_epoch)
      assert.equal(0.7, h.best)
      assert.same({0.5, 0.7, 0.6, 0.65}, h.my_accuracy)
      -- mode = "min" turns it round: best 0.5 at epoch 1, stop after 3
      h = scripted({0.5, 0.7, 0.6, 0.65, 0.9},
                   {patience = 2, monitor = "my_accuracy", mode = "min"}, "my_accuracy")
      assert.equal(3, h.stopped_epoch)
      assert.equal(1, h.best_epoch)
    end)

    it("patience 0 stops at the first epoch without improvement", function()
      local h = scripted({1, 0.9, 0.95, 0.1}, {patience = 0})
      assert.equal(3, h.stopped_epoch)
    end)

    it("names a monitored value that is not there", function()
      local ok, err = pcall(scripted, {1, 2}, {patience = 1, monitor = "val_acc"})
      assert.is_false(ok)
      assert.matches("fit: monitored value 'val_acc' is not in the logs (loss, val_loss)",
                     err, 1, true)
    end)

    it("restores the best weights when asked", function()
      local net = mlp()
      local seq, snap = {0.9, 0.3, 0.5, 0.6}, {}
      ann.fit(net, {train = problem(40), epochs = 4, progress = false,
        loss = ann.nn.CrossEntropyLoss(),
        optimizer = ann.optim.SGD(net:parameters(), {lr = 0.5}),
        early_stopping = {patience = 5, monitor = "score", restore_best = true},
        callbacks = {on_epoch_end = function(e, logs)
          logs.score = seq[e]
          snap[e] = clones(net:parameters())
        end}})
      assert.is_true(same_params(snap[2], net:parameters()))
      assert.is_false(same_params(snap[4], snap[2]))
    end)
  end)

  it("saves the best model to the checkpoint path", function()
    if not has_save then
      pending("ann.save (annlua.serialize) is not there yet")
      return
    end
    local path = tmpdir .. "/best.ann"
    local net = mlp()
    local seq, snap = {0.9, 0.3, 0.5, 0.6}, {}
    local h = ann.fit(net, {train = problem(40), epochs = 4, progress = false,
      loss = ann.nn.CrossEntropyLoss(),
      optimizer = ann.optim.SGD(net:parameters(), {lr = 0.5}),
      checkpoint = {path = path, monitor = "score"},
      callbacks = {on_epoch_end = function(e, logs)
        logs.score = seq[e]
        snap[e] = clones(net:parameters())
      end}})
    assert.equal(2, h.best_epoch)
    local loaded = assert(ann.load(path))
    assert.is_true(same_params(snap[2], loaded:parameters()))
    assert.is_false(same_params(snap[4], loaded:parameters()))
  end)

  describe("a loss that is not finite", function()
    -- a Linear whose output turns bad at the call-th training forward
    local function poisoned(call, bad)
      local P = ann.nn.Module:extend("Poisoned")
      function P:init() self.lin = ann.nn.Linear(2, 2); self.calls = 0 end
      function P:forward(x)
        self.calls = self.calls + 1
        local out = self.lin(x)
        if self.calls == call then out = bad(out) end
        return out
      end
      ann.manual_seed(1)
      return P()
    end

    it("stops with an error naming the epoch and step", function()
      -- 320 samples in batches of 16: 20 steps an epoch; call 57 is
      -- epoch 3, step 17
      local m = poisoned(57, function(o) return o * (0 / 0) end)
      local before
      local ok, err = pcall(ann.fit, m, {train = problem(320), epochs = 5, batch_size = 16,
        progress = false, loss = ann.nn.CrossEntropyLoss(),
        optimizer = ann.optim.Adam(m:parameters(), {lr = 0.01}),
        callbacks = {on_batch_end = function() before = clones(m:parameters()) end}})
      assert.is_false(ok)
      -- at the line that called fit (issue 11, finding 8)
      assert.equal("fit: loss is nan at epoch 3, step 17; lower the learning rate or check the data",
                   (err:gsub("^spec/fit_spec%.lua:%d+: ", "")))
      -- the bad step did not touch the weights
      assert.is_true(same_params(before, m:parameters()))
      assert.is_true(m.training)
    end)

    it("names infinity too", function()
      local m = poisoned(2, function(o) return o + math.huge end)
      local ds = ann.data.TensorDataset(problem(64).x, ann.zeros(64, 2))
      local ok, err = pcall(ann.fit, m, {train = ds, epochs = 1, batch_size = 16,
        progress = false, loss = ann.nn.MSELoss(), metrics = {},
        optimizer = ann.optim.SGD(m:parameters(), {lr = 0.01})})
      assert.is_false(ok)
      assert.equal("fit: loss is inf at epoch 1, step 2; lower the learning rate or check the data",
                   (err:gsub("^spec/fit_spec%.lua:%d+: ", "")))
    end)
  end)

  it("rejects wrong options, naming them", function()
    local net = mlp()
    local base = function(extra)
      local o = {train = problem(10), epochs = 1, loss = ann.nn.CrossEntropyLoss(),
                 optimizer = ann.optim.SGD(net:parameters(), {lr = 0.1}), progress = false}
      for k, v in pairs(extra) do o[k] = v end
      return o
    end
    local cases = {
      {{epoch = 3}, "fit: unknown option 'epoch'"},
      {{epochs = 0}, "fit: epochs must be a positive integer, got 0"},
      {{train = ann.zeros(3)}, "fit: train must be a dataset"},
      {{train = ann.data.TensorDataset(ann.zeros(3, 2))}, "fit: train has no targets (y)"},
      {{batch_size = 2.5}, "fit: batch_size must be a positive integer, got 2.5"},
      {{validation = 1.5}, "fit: validation as a fraction must be in (0, 1), got 1.5"},
      {{optimizer = {}}, "fit: optimizer must be an optimiser"},
      {{early_stopping = {}}, "fit: early_stopping needs {patience = n >= 0"},
      {{callbacks = {on_step = print}}, "fit: unknown callback 'on_step'"},
      {{metrics = {"f2"}}, "fit: unknown metric 'f2'"},
      {{progress = "yes"}, "fit: progress must be true, false, \"bar\" or \"lines\""},
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(ann.fit, net, base(c[1]))
      assert.is_false(ok)
      assert.matches(c[2], err, 1, true)
    end
    local ok, err = pcall(ann.fit, 42, base{})
    assert.is_false(ok)
    assert.matches("fit: model must be a module or a function, got number", err, 1, true)
  end)
end)

describe("ann.evaluate", function()
  -- the model is the identity: scores are x; predictions 1, 2, 1, 1, 2
  local x = ann.tensor{{2, 1}, {0, 3}, {1, 0}, {5, 4}, {0, 0.5}}
  local y = ann.tensor{1, 2, 2, 1, 2}
  local ds = ann.data.TensorDataset(x, y)
  local function identity(t) return t end

  it("gives accuracy and loss over batches, the last one partial", function()
    -- cross-entropy by hand: log(sum exp) - x[y], averaged
    local rows, sum = x:totable(), 0
    for i, r in ipairs(rows) do
      sum = sum + math.log(math.exp(r[1]) + math.exp(r[2])) - r[y:get(i)]
    end
    local r = ann.evaluate(identity, ds, {loss = ann.nn.CrossEntropyLoss(), batch_size = 2})
    assert.equal(0.8, r.accuracy)
    assert.is_true(close(sum / 5, r.loss))
    assert.equal(5, r.n)
    -- a "sum" reduction is turned into the same mean
    r = ann.evaluate(identity, ds, {loss = ann.nn.CrossEntropyLoss{reduction = "sum"},
                                    batch_size = 2})
    assert.is_true(close(sum / 5, r.loss))
  end)

  it("leaves loss out without a loss function, and names misuse", function()
    local r = ann.evaluate(identity, ds)
    assert.equal(0.8, r.accuracy)
    assert.is_nil(r.loss)
    local ok, err = pcall(ann.evaluate, identity, ds, {metrics = {"loss"}})
    assert.is_false(ok)
    assert.matches("evaluate: metric 'loss' needs a loss function", err, 1, true)
    ok, err = pcall(ann.evaluate, identity, ds, {batch_size = 0})
    assert.is_false(ok)
    assert.matches("evaluate: batch_size must be a positive integer, got 0", err, 1, true)
    ok, err = pcall(ann.evaluate, identity, {})
    assert.is_false(ok)
    assert.matches("evaluate: ds must be a dataset", err, 1, true)
  end)

  it("runs the model in eval() mode without a graph and restores its mode", function()
    local Rec = ann.nn.Module:extend("Rec2")
    function Rec:forward(t)
      self.seen = tostring(self.training) .. "/" .. tostring(ann.is_grad_enabled())
      return t
    end
    local m = Rec()
    assert.equal(0.8, ann.evaluate(m, ds).accuracy)
    assert.equal("false/false", m.seen)
    assert.is_true(m.training)
  end)
end)

describe("progress display", function()
  -- a fake clock and a string buffer as the output
  local function setup(mode)
    local t = {now = 0}
    local buf = {}
    local out = {write = function(self, ...) for _, s in ipairs{...} do buf[#buf + 1] = s end return self end,
                 flush = function() end}
    local p = progress.new{epochs = 2, steps = 4, mode = mode, out = out, width = 100,
                           clock = function() return t.now end}
    return p, t, buf
  end

  it("redraws the bar in place at most every 0.1 s, and at the last step", function()
    local p, t, buf = setup("bar")
    p:epoch_begin(1)
    local names = {"loss", "accuracy"}
    local function step(s, logs, n)      -- as fit calls it
      if p:due(s) then p:step(s, names, logs, n) end
    end
    t.now = 0.5; step(1, {loss = 0.5, accuracy = 0.25}, 100)
    t.now = 0.55; step(2, {loss = 0.4, accuracy = 0.5}, 200)   -- too soon
    t.now = 0.7; step(3, {loss = 0.3, accuracy = 0.5}, 300)
    t.now = 0.75; step(4, {loss = 0.2, accuracy = 0.75}, 400)  -- the last
    local text = table.concat(buf)
    local draws = select(2, text:gsub("\r", ""))
    assert.equal(3, draws)
    -- step 1 at 0.5 s: 100 samples -> 200 samples/s, ETA 3 x 0.5 s; a 30
    -- column bar with 30 / 4 = 7 columns done
    local first = "\repoch 1/2 1/4 [=======>" .. string.rep(" ", 22) .. "]"
                  .. " loss 0.5000 acc 0.2500 200 samples/s 0.5s ETA 1.5s\27[K"
    assert.equal(first, text:sub(1, #first))
    assert.matches("epoch 1/2 4/4 [" .. string.rep("=", 30) .. "] loss 0.2000 acc 0.7500 533 samples/s 0.8s ETA 0.0s",
                   text, 1, true)
    assert.is_nil(text:find("2/4", 1, true))
    -- the epoch's line replaces the bar and stays
    buf[#buf + 1] = "|"
    t.now = 1.0
    p:epoch_end({"loss", "accuracy", "val_loss"}, {loss = 0.2, accuracy = 0.75, val_loss = 0.3},
                400 / 0.75, 1.0)
    text = table.concat(buf)
    assert.equal("|\r\27[Kepoch 1/2  loss 0.2000  accuracy 0.7500  val_loss 0.3000  533 samples/s  1.0s\n",
                 text:sub((text:find("|", 1, true))))
  end)

  it("keeps the bar within the terminal's width", function()
    local p, t, buf = setup("bar")
    p.width = 60
    p:epoch_begin(1)
    t.now = 1; p:step(1, {"loss"}, {loss = 1}, 10)
    local line = table.concat(buf):match("\r(.-)\27")
    assert.is_true(#line <= 59)
  end)

  it("writes only the epoch lines when not on a terminal, nothing when off", function()
    local p, t, buf = setup("lines")
    p:epoch_begin(2)
    t.now = 1
    assert.is_false(p:due(4))
    p:step(4, {"loss"}, {loss = 1}, 10)
    p:epoch_end({"loss"}, {loss = 1}, 12345.4, 75)
    assert.equal("epoch 2/2  loss 1.0000  12345 samples/s  1m15s\n", table.concat(buf))
    p, t, buf = setup("off")
    p:epoch_begin(1); p:step(4, {"loss"}, {loss = 1}, 10)
    p:epoch_end({"loss"}, {loss = 1}, 1, 1)
    assert.equal("", table.concat(buf))
  end)

  it("formats durations and numbers", function()
    assert.equal("0.4s", progress.duration(0.4))
    assert.equal("59.9s", progress.duration(59.94))
    assert.equal("1m15s", progress.duration(75))
    assert.equal("2h05m", progress.duration(7500))
    assert.equal("0.2045", progress.number(0.20454))
    assert.equal("nan", progress.number(0 / 0))
    assert.equal("1.5e-05", progress.number(1.5e-5))
  end)

  it("prints one plain line per epoch to a pipe, and nothing with progress = false", function()
    local script = writefile("fit_lines.lua", [[
      ann.manual_seed(3)
      local x = ann.randn(100, 2)
      local y = (x:select(2, 1) + x:select(2, 2)):gt(0) + 1
      local ds = ann.data.TensorDataset(x, y)
      local tr, va = ds:split(0.8, 1)
      local net = ann.nn.Sequential{ann.nn.Linear(2, 4), ann.nn.ReLU(), ann.nn.Linear(4, 2)}
      local h = ann.fit(net, {train = tr, validation = va, epochs = 3, batch_size = 16,
        loss = ann.nn.CrossEntropyLoss(), progress = arg[1] ~= "off",
        optimizer = ann.optim.Adam(net:parameters(), {lr = 0.01})})
      io.stderr:write(string.format("%.4f %.4f\n", h.loss[3], h.val_accuracy[3]))
    ]])
    local out, err, code = annlua(shell_quote(script))
    assert.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
    assert.equal(3, #lines, out)
    assert.is_nil(out:find("[\r\27]"))
    local num = "%d+%.%d%d%d%d"
    for e, l in ipairs(lines) do
      assert.matches("^epoch " .. e .. "/3  loss " .. num .. "  accuracy " .. num
                     .. "  val_loss " .. num .. "  val_accuracy " .. num
                     .. "  %d+ samples/s  %d+%.%ds$", l)
    end
    -- the line shows what history holds
    local loss3, vacc3 = err:match("(%S+) (%S+)")
    assert.matches("loss " .. loss3:gsub("%.", "%%.") .. "  ", lines[3])
    assert.matches("val_accuracy " .. vacc3:gsub("%.", "%%.") .. "  ", lines[3])
    out, err, code = annlua(shell_quote(script) .. " off")
    assert.equal(0, code, err)
    assert.equal("", out)
  end)
end)

describe("examples", function()
  local function example(name, args)
    local out, err, code = annlua("examples/" .. name .. " " .. (args or ""))
    assert.equal(0, code, err)
    return out
  end

  it("iris.lua reaches 90% test accuracy", function()
    local out = example("iris.lua")
    local acc = tonumber(out:match("test accuracy: ([%d.]+)%%\n$"))
    assert.is_true(acc and acc >= 90, out)
    assert.matches("setosa", out)
  end)

  it("digits.lua reaches 95.5% test accuracy", function()
    local out = example("digits.lua")
    local acc = tonumber(out:match("test accuracy: ([%d.]+)%%\n$"))
    assert.is_true(acc and acc >= 95.5, out)
    assert.equal(50, select(2, out:gsub("\nepoch %d+/50  loss", "")))
  end)

  it("mnist.lua trains 2 epochs with a falling loss, saves and reloads", function()
    if not has_save then
      pending("ann.save (annlua.serialize) is not there yet")
      return
    end
    local out = example("mnist.lua", "2 " .. shell_quote(tmpdir .. "/mnist.ann"))
    local l1 = tonumber(out:match("epoch 1/2  loss ([%d.]+)"))
    local l2 = tonumber(out:match("epoch 2/2  loss ([%d.]+)"))
    assert.is_true(l1 and l2 and l2 < l1, out)
    assert.matches("val_accuracy", out)
    assert.matches("true\\pred", out, 1, true)
    assert.matches("reloaded: test accuracy [%d.]+%% %(the same%)", out)
  end)
end)

teardown(function()
  helpers.rmdir(tmpdir)
end)
