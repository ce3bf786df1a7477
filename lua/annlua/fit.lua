-- ann.fit and ann.evaluate: the training loop, Keras-style.
--
--   local history = ann.fit(net, {train = train, validation = test,
--     loss = ann.nn.CrossEntropyLoss(), optimizer = ann.optim.Adam(net:parameters()),
--     epochs = 20, batch_size = 64, seed = 1})
--   print(history.val_accuracy[#history.val_accuracy])
--   print(ann.evaluate(net, test, {loss = ann.nn.CrossEntropyLoss()}).accuracy)
--
-- Each step is zero_grad, forward, loss, loss:item() (checked for NaN and
-- infinity), backward, step: whole batches in C, nothing per sample in
-- Lua.  The model is in train() mode while training and in eval() mode,
-- without recording a graph, while it is evaluated; fit and evaluate leave
-- it in the mode they found it in.
--
-- Options of fit (API.md "Training"; Keras' names where it is silent):
--   train       a TensorDataset (batched by a DataLoader with batch_size,
--               shuffle = true, drop_last, seed) or a DataLoader
--   validation  a dataset evaluated after each epoch, or a fraction of
--               train held out (its last part, Keras' validation_split)
--   metrics     names ("accuracy"; "loss" is always there) or functions
--               name = fn(scores, targets) -> number, averaged over
--               samples; default {"accuracy"}, none with an MSELoss
--   progress    true (a bar on a terminal, else a line per epoch), false,
--               or "bar" / "lines" to choose
--   callbacks   on_epoch_begin(epoch); on_batch_end(step, {epoch, loss,
--               batch_size}); on_epoch_end(epoch, logs), which may
--               add values to logs before they are recorded and monitored,
--               and stops training by returning false
--   early_stopping  {patience =, monitor = "val_loss", min_delta = 0,
--               mode = "min" | "max" (by the name: max for accuracies),
--               restore_best = false}: stops when the monitored value has
--               not improved by more than min_delta for patience epochs
--   checkpoint  path, or {path =, monitor =}: ann.save(model, path) each
--               time the monitored value reaches a new best
--   fused       false to keep the step-by-step loop even where the fused
--               C path applies (see fused_trainer below)
-- The monitored value is early_stopping.monitor, else checkpoint.monitor,
-- else val_loss with a validation set, else loss.  history holds a list
-- per logged value (history.loss[e], history.val_accuracy[e], seconds[e])
-- and epochs (run), best_epoch, best, monitor, stopped_epoch, time.

local core = require("annlua.core")
local data = require("annlua.data")
local metrics = require("annlua.metrics")
local progress = require("annlua.progress")
local autograd = require("annlua.autograd")
local fused = require("annlua.fused")
local util = require("annlua.util")

local M = {}

local fit_options = {
  train = true, loss = true, optimizer = true, epochs = true, batch_size = true,
  shuffle = true, seed = true, drop_last = true, validation = true,
  metrics = true, progress = true, callbacks = true, early_stopping = true,
  checkpoint = true, fused = true,
}

local NEEDS = data.NEEDS

-- ---------------------------------------------------------------------
-- argument checks: errors point at the caller of fit / evaluate

local function fail(fmt, ...)
  util.error(string.format(fmt, ...))
end

-- the same from one call deeper
local function fail5(fmt, ...)
  util.error(string.format(fmt, ...))
end

local function is_dataset(ds)
  return type(ds) == "table" and core.is_tensor(ds.x)
end

local function is_loader(l)
  return type(l) == "table" and type(l.iter) == "function"
         and is_dataset(l.dataset)
end

local function callable(f)
  if type(f) == "function" then return true end
  local mt = getmetatable(f)
  return mt ~= nil and mt.__call ~= nil
end

-- deep: called from check_fit, one level further from the user
local function check_dataset(op, name, ds, deep)
  local f = deep and fail5 or fail
  if not is_dataset(ds) then
    f("%s: %s must be a dataset: %s; got %s%s", op, name, NEEDS,
      core.is_tensor(ds) and "an ann.Tensor" or type(ds),
      core.is_tensor(ds) and " (wrap it: ann.data.TensorDataset(x, y))" or "")
  end
  if not core.is_tensor(ds.y) then
    f("%s: %s has no targets (y)", op, name)
  end
  if #ds.y ~= #ds.x then
    f("%s: %s has %d samples in x and %d in y", op, name, #ds.x, #ds.y)
  end
  if #ds.x == 0 then f("%s: %s is empty", op, name) end
end

-- metric specs -> list of {name =, fn = nil | function}; "loss" is
-- dropped (the loss is always reported when there is one)
local function metric_list(op, spec)
  local list = {}
  if spec == nil then return list end
  if type(spec) ~= "table" then
    fail("%s: metrics must be a table of names, got %s", op, type(spec))
  end
  for _, name in ipairs(spec) do
    if name == "accuracy" or name == "acc" then
      list[#list + 1] = {name = "accuracy"}
    elseif name ~= "loss" then
      fail("%s: unknown metric '%s' (known: accuracy, loss; or name = function(scores, targets))",
           op, tostring(name))
    end
  end
  local custom = {}
  for k, fn in pairs(spec) do
    if math.type(k) ~= "integer" then
      if type(k) ~= "string" or not callable(fn) then
        fail("%s: metric %s must be a function(scores, targets)", op, tostring(k))
      end
      custom[#custom + 1] = k
    end
  end
  table.sort(custom)                      -- a fixed order for display
  for _, k in ipairs(custom) do list[#list + 1] = {name = k, fn = spec[k]} end
  return list
end

-- the direction in which a monitored value improves
local function mode_of(name, mode)
  if mode then return mode end
  if name:find("acc") or name:find("f1") or name:find("precision")
     or name:find("recall") then
    return "max"
  end
  return "min"
end

-- ---------------------------------------------------------------------
-- metric accumulation over batches

-- a fresh accumulator for the metric list
local function tally(list)
  return {loss = 0, n = 0, list = list, sums = {}}
end

-- adds one batch: its mean loss (or nil) and, detached, its scores
local function add(acc, loss, scores, targets, n)
  if loss then acc.loss = acc.loss + loss * n end
  acc.n = acc.n + n
  local sums = acc.sums
  for i, m in ipairs(acc.list) do
    local v
    if m.fn then
      v = m.fn(scores, targets) * n
    else
      m.count = m.count or metrics.counter(scores, targets)
      v = m.count(scores, targets)
    end
    sums[i] = (sums[i] or 0) + v
  end
end

-- the averages into logs, with a prefix ("" or "val_")
local function summarise(acc, has_loss, logs, prefix)
  if acc.n == 0 then return logs end
  if has_loss then logs[prefix .. "loss"] = acc.loss / acc.n end
  for i, m in ipairs(acc.list) do
    logs[prefix .. m.name] = acc.sums[i] / acc.n
  end
  return logs
end

-- the mean loss of a batch, as a number; a "sum" reduction is divided
local function batch_loss(loss_fn, loss, n)
  local v = loss:item()
  if type(loss_fn) == "table" and loss_fn.reduction == "sum" then v = v / n end
  return v
end

local function set_mode(model, training)
  if type(model) == "table" and type(model.train) == "function" then
    model:train(training)
  end
end

local function mode_of_model(model)
  return type(model) ~= "table" or model.training ~= false
end

-- ---------------------------------------------------------------------
-- evaluation

-- runs model over ds in batches without a graph; fills acc
local function run_eval(model, ds, loss_fn, acc, batch_size)
  local n = ds:size()
  for start = 1, n, batch_size do
    local len = math.min(batch_size, n - start + 1)
    local xb, yb = ds.x:narrow(1, start, len), ds.y:narrow(1, start, len)
    local out = model(xb)
    local l = loss_fn and batch_loss(loss_fn, loss_fn(out, yb), len)
    add(acc, l, out, yb, len)
  end
  return acc
end

-- evaluates with the model in eval() mode, restoring its mode after
local function evaluate(model, ds, loss_fn, list, batch_size, logs, prefix)
  local was = mode_of_model(model)
  set_mode(model, false)
  local ok, acc = pcall(autograd.no_grad, run_eval, model, ds, loss_fn,
                        tally(list), batch_size)
  set_mode(model, was)
  if not ok then error(acc, 0) end
  return summarise(acc, loss_fn ~= nil, logs, prefix)
end

-- ann.evaluate(model, ds [, {metrics = {"accuracy", "loss"}, loss =,
-- batch_size = 256}]) -> {loss =, accuracy =, n =}
function M.evaluate(model, ds, opts)
  opts = util.options("evaluate", opts, util.set{"metrics", "loss", "batch_size"})
  if not callable(model) then
    util.error("evaluate: model must be a module or a function, got " .. type(model))
  end
  check_dataset("evaluate", "ds", ds)
  ds = data.as_dataset("evaluate", "ds", ds)
  -- no accuracy by default for a regression (an MSE loss), as in fit
  local spec = opts.metrics or ((type(opts.loss) == "table"
    and opts.loss.__name == "MSELoss") and {"loss"} or {"accuracy", "loss"})
  local list = metric_list("evaluate", spec)
  local loss_fn = opts.loss
  if loss_fn ~= nil and not callable(loss_fn) then
    util.error("evaluate: loss must be a loss module or a function")
  end
  local wants_loss = false
  for _, name in ipairs(spec) do wants_loss = wants_loss or name == "loss" end
  if opts.metrics and wants_loss and not loss_fn then
    util.error("evaluate: metric 'loss' needs a loss function (opts.loss)")
  end
  local bs = opts.batch_size or 256
  if math.type(bs) ~= "integer" or bs < 1 then
    util.error("evaluate: batch_size must be a positive integer, got " .. tostring(bs))
  end
  local logs = evaluate(model, ds, wants_loss and loss_fn or nil, list, bs, {}, "")
  logs.n = ds:size()
  return logs
end

-- ---------------------------------------------------------------------
-- the training loop

local function check_fit(model, o)
  if not callable(model) then
    fail("fit: model must be a module or a function, got %s", type(model))
  end
  if type(o) ~= "table" then fail("fit: expected an options table, got %s", type(o)) end
  util.options("fit", o, fit_options)
  if is_loader(o.train) then
    check_dataset("fit", "train", o.train.dataset, true)
  else
    check_dataset("fit", "train", o.train, true)
  end
  if not callable(o.loss) then fail("fit: loss must be a loss module or a function") end
  local opt = o.optimizer
  if type(opt) ~= "table" or type(opt.step) ~= "function"
     or type(opt.zero_grad) ~= "function" then
    fail("fit: optimizer must be an optimiser (ann.optim), got %s", type(opt))
  end
  if math.type(o.epochs) ~= "integer" or o.epochs < 1 then
    fail("fit: epochs must be a positive integer, got %s", tostring(o.epochs))
  end
  local bs = o.batch_size
  if bs ~= nil and (math.type(bs) ~= "integer" or bs < 1) then
    fail("fit: batch_size must be a positive integer, got %s", tostring(bs))
  end
  if o.fused ~= nil and type(o.fused) ~= "boolean" then
    fail("fit: fused must be true or false, got %s", tostring(o.fused))
  end
  if o.seed ~= nil and math.type(o.seed) ~= "integer" then
    fail("fit: seed must be an integer, got %s", tostring(o.seed))
  end
  local v = o.validation
  if v ~= nil and type(v) ~= "number" then check_dataset("fit", "validation", v, true) end
  if type(v) == "number" and not (v > 0 and v < 1) then
    fail("fit: validation as a fraction must be in (0, 1), got %s", tostring(v))
  end
  local p = o.progress
  if p ~= nil and p ~= true and p ~= false and p ~= "bar" and p ~= "lines" then
    fail("fit: progress must be true, false, \"bar\" or \"lines\", got %s", tostring(p))
  end
  local cb = o.callbacks or {}
  if type(cb) ~= "table" then fail("fit: callbacks must be a table of functions") end
  for k, f in pairs(cb) do
    if k ~= "on_epoch_begin" and k ~= "on_epoch_end" and k ~= "on_batch_end" then
      fail("fit: unknown callback '%s' (on_epoch_begin, on_epoch_end, on_batch_end)",
           tostring(k))
    end
    if not callable(f) then fail("fit: callback %s must be a function", k) end
  end
  local es = o.early_stopping
  if es ~= nil then
    if type(es) == "table" then
      util.options("fit: early_stopping", es, util.set{"patience", "monitor",
                   "min_delta", "mode", "restore_best"})
    end
    if type(es) ~= "table" or math.type(es.patience) ~= "integer" or es.patience < 0 then
      fail("fit: early_stopping needs {patience = n >= 0 [, monitor =, min_delta =, mode =]}")
    end
    if es.mode ~= nil and es.mode ~= "min" and es.mode ~= "max" then
      fail("fit: early_stopping.mode must be \"min\" or \"max\", got %s", tostring(es.mode))
    end
    if es.min_delta ~= nil and (type(es.min_delta) ~= "number" or es.min_delta < 0) then
      fail("fit: early_stopping.min_delta must be a number >= 0")
    end
  end
  local ck = o.checkpoint
  if ck ~= nil then
    if type(ck) == "table" then
      util.options("fit: checkpoint", ck, util.set{"path", "monitor"})
    end
    local path = type(ck) == "table" and ck.path or ck
    if type(path) ~= "string" then
      fail("fit: checkpoint must be a path, or {path =, monitor =}")
    end
    local ok, ser = pcall(require, "annlua.serialize")
    if not ok or type(ser.save) ~= "function" then
      fail("fit: checkpoint needs ann.save, which is not available: %s", tostring(ser))
    end
  end
end

-- the improvement tracker of a monitored value
local function tracker(name, mode, min_delta)
  return {name = name, mode = mode, delta = min_delta or 0,
          best = mode == "min" and math.huge or -math.huge, wait = 0}
end

-- records value; true if it is an improvement (then it becomes the best)
local function improved(t, value)
  local better
  if t.mode == "min" then better = value < t.best - t.delta
  else better = value > t.best + t.delta end
  if better then t.best, t.wait = value, 0 else t.wait = t.wait + 1 end
  return better
end

local function monitored(logs, name)
  local v = logs[name]
  if type(v) ~= "number" then
    local keys = {}
    for k, x in pairs(logs) do
      if type(x) == "number" and k ~= "epoch" and k ~= "seconds" then keys[#keys + 1] = k end
    end
    table.sort(keys)
    util.fail("fit: monitored value '%s' is not in the logs (%s)", name,
              table.concat(keys, ", "))
  end
  return v
end

local function nonfinite(v)
  return v ~= v and "nan" or (v == math.huge and "inf")
         or (v == -math.huge and "-inf") or nil
end

local function loss_error(what, epoch, step)
  util.error(string.format("fit: loss is %s at epoch %d, step %d; "
                      .. "lower the learning rate or check the data",
                      what, epoch, step))
end

-- The fused C path (annlua.fused) runs a whole epoch in one call when it
-- applies: a Sequential of built-in layers, a built-in loss and
-- optimiser, batches made here, no per-batch callback, and no metric but
-- accuracy with a cross-entropy loss (counted in C as the general path
-- counts it).  Results are the same as the step-by-step loop's.
local function fused_trainer(model, o, st)
  if st.user_loader or o.drop_last or st.callbacks.on_batch_end then
    return nil
  end
  for _, m in ipairs(st.list) do
    if m.fn or o.loss.__name ~= "CrossEntropyLoss" then return nil end
  end
  -- the checks a loss makes in forward, made once on all the targets
  if type(o.loss) == "table" and type(o.loss.check_target) == "function" then
    o.loss:check_target(st.loader.dataset.y)
  end
  return fused.trainer(model, o.loss, o.optimizer, st.loader.batch_size)
end

-- one fused epoch: the accumulator, samples/s and seconds, or nil if the
-- model stopped being fusable
local function fused_epoch(st, epoch)
  local loader = st.loader
  local ds, t0 = loader.dataset, core.clock()
  local loss, correct, bad = st.trainer:epoch(ds.x, ds.y, loader:next_order())
  if loss == nil then
    loader.epoch = loader.epoch - 1        -- the general path takes it
    return nil
  end
  if bad then loss_error(nonfinite(loss), epoch, bad) end
  local acc = tally(st.list)
  acc.n, acc.loss = ds:size(), loss * ds:size()
  for i = 1, #st.list do acc.sums[i] = correct end
  local dt = core.clock() - t0
  return acc, dt > 0 and acc.n / dt or 0, dt
end

-- one epoch of training; returns the accumulator, samples/s and seconds
local function train_epoch(model, st, epoch)
  if st.trainer then
    local acc, rate, dt = fused_epoch(st, epoch)
    if acc then return acc, rate, dt end
    st.trainer = nil
  end
  local o, loader, bar = st.o, st.loader, st.bar
  local loss_fn, opt, on_batch = o.loss, o.optimizer, st.callbacks.on_batch_end
  local acc, names = tally(st.list), st.train_names
  local running = {}
  local t0, step = core.clock(), 0
  for xb, yb in loader:iter() do
    step = step + 1
    local n = #xb
    opt:zero_grad()
    local out = model(xb)
    local loss = loss_fn(out, yb)
    local v = batch_loss(loss_fn, loss, n)
    local bad = nonfinite(v)
    if bad then loss_error(bad, epoch, step) end
    loss:backward()
    opt:step()
    add(acc, v, st.need_detach and out:detach() or out, yb, n)
    if bar:due(step) then
      bar:step(step, names, summarise(acc, true, running, ""), acc.n)
    end
    if on_batch then
      on_batch(step, {epoch = epoch, loss = v, batch_size = n})
    end
  end
  local dt = core.clock() - t0
  return acc, dt > 0 and acc.n / dt or 0, dt
end

local function run(model, o, st, history)
  local epochs, cb, bar = o.epochs, st.callbacks, st.bar
  local val = st.validation
  for epoch = 1, epochs do
    local t0 = core.clock()
    if cb.on_epoch_begin then cb.on_epoch_begin(epoch) end
    bar:epoch_begin(epoch)
    set_mode(model, true)
    local acc, rate = train_epoch(model, st, epoch)
    local logs = summarise(acc, true, {}, "")
    if val then
      evaluate(model, val, o.loss, st.list, st.val_batch, logs, "val_")
      set_mode(model, true)
    end
    logs.epoch, logs.seconds = epoch, core.clock() - t0
    bar:epoch_end(st.all_names, logs, rate, logs.seconds)
    -- the callback may add to logs (a value to monitor, say): it runs
    -- before the history is written and the monitored value is read
    local stop = cb.on_epoch_end and cb.on_epoch_end(epoch, logs) == false
    for k, v in pairs(logs) do
      local h = history[k]
      if k ~= "epoch" and type(v) == "number" and (h == nil or type(h) == "table") then
        h = h or {}
        h[epoch], history[k] = v, h
      end
    end
    history.epochs = epoch
    -- the best epoch, checkpoint and early stopping by the monitored value
    local best = st.best
    if improved(best, monitored(logs, best.name)) then
      history.best_epoch, history.best = epoch, best.best
      if st.checkpoint then
        local ok, err = st.save(model, st.checkpoint)
        if ok == nil and err then util.error("fit: checkpoint: " .. tostring(err)) end
      end
      if st.restore then
        for i, p in ipairs(st.params) do st.restore[i] = p:detach():clone() end
      end
    end
    local es = st.stopper
    if es and epoch < epochs then
      if not improved(es, monitored(logs, es.name)) and es.wait >= es.patience then
        history.stopped_epoch = epoch
        bar:note(string.format("early stopping at epoch %d: %s has not improved for %d epochs (best %s at epoch %d)",
                               epoch, es.name, es.wait, progress.number(best.best),
                               history.best_epoch or 0))
        stop = true
      end
    end
    if stop then break end
  end
end

-- ann.fit(model, opts) -> history: see the header comment and API.md
function M.fit(model, o)
  check_fit(model, o)
  local list = metric_list("fit", o.metrics or
    ((type(o.loss) == "table" and o.loss.__name == "MSELoss") and {} or {"accuracy"}))
  local train, validation = o.train, o.validation
  if type(validation) == "table" then
    validation = data.as_dataset("fit", "validation", validation)
  end
  local loader, user_loader
  if is_loader(train) then
    loader, user_loader = train, true
  else
    train = data.as_dataset("fit", "train", train)
    if type(validation) == "number" then
      train, validation = train:split(1 - validation, o.seed)
    end
    loader = data.DataLoader(train, {batch_size = o.batch_size or 64,
                                     shuffle = o.shuffle ~= false,
                                     drop_last = o.drop_last, seed = o.seed})
  end
  local steps = #loader
  if steps == 0 then util.error("fit: no batches (drop_last with fewer samples than batch_size)") end

  local train_names, all_names = {"loss"}, {"loss"}
  for _, m in ipairs(list) do train_names[#train_names + 1] = m.name end
  for _, m in ipairs(list) do all_names[#all_names + 1] = m.name end
  if validation then
    all_names[#all_names + 1] = "val_loss"
    for _, m in ipairs(list) do all_names[#all_names + 1] = "val_" .. m.name end
  end

  local es = o.early_stopping
  local ck = o.checkpoint
  local ck_monitor = type(ck) == "table" and ck.monitor
  local monitor = (es and es.monitor) or ck_monitor
                  or (validation and "val_loss" or "loss")
  local pmode = o.progress
  local st = {
    o = o, loader = loader, list = list, validation = validation,
    val_batch = math.max(256, o.batch_size or 64),
    train_names = train_names, all_names = all_names,
    callbacks = o.callbacks or {},
    need_detach = false,
    bar = progress.new{epochs = o.epochs, steps = steps,
                       mode = (pmode == false and "off") or (pmode == "bar" and "bar")
                              or (pmode == "lines" and "lines") or "auto"},
    best = tracker(monitor, mode_of(monitor, es and es.mode)),
  }
  for _, m in ipairs(list) do st.need_detach = st.need_detach or m.fn ~= nil end
  st.user_loader = user_loader
  if o.fused ~= false then st.trainer = fused_trainer(model, o, st) end
  if es then
    st.stopper = tracker(es.monitor or monitor, mode_of(es.monitor or monitor, es.mode),
                         es.min_delta)
    st.stopper.patience = es.patience
    if es.restore_best and type(model) == "table" and model.parameters then
      st.params, st.restore = model:parameters(), {}
    end
  end
  if ck then
    st.checkpoint = type(ck) == "table" and ck.path or ck
    st.save = require("annlua.serialize").save
  end

  -- per-epoch lists, and the numbers epochs, best_epoch, best, time
  local history = {loss = {}, epochs = 0, monitor = monitor}
  for _, name in ipairs(all_names) do history[name] = history[name] or {} end
  local was = mode_of_model(model)
  local t0 = core.clock()
  local ok, err = pcall(run, model, o, st, history)
  set_mode(model, was)
  if not ok then
    st.bar:interrupt()
    error(err, 0)
  end
  if st.restore and st.restore[1] then
    autograd.no_grad(function()
      for i, p in ipairs(st.params) do p:copy(st.restore[i]) end
    end)
  end
  history.time = core.clock() - t0
  return history
end

return M
