--[[
ann.playground: the problems of TensorFlow Playground
(playground.tensorflow.org) as datasets, its input features, and its
network, so that its experiments run from a script:

  local pg = ann.playground
  local ds = pg.dataset("spiral", {noise = 0.1, seed = 1})  -- 500 points
  local train, test = pg.split(ds, 0.5, 1)
  local r = pg.train{dataset = "spiral", features = "x1,x2,sin",
                     layers = {8, 8}, epochs = 300}
  print(r.test_accuracy)

Datasets (generated as the Playground's src/dataset.ts describes them; the
points lie in about [-6,6]^2):
  classification (labels +1 / -1, n = 500 by default)
    circle   a disc of radius 2.5 (+1) inside a ring 3.5..5 (-1)
    xor      uniform in [-5,5]^2 pushed 0.3 off the axes; +1 where x1*x2 >= 0
    gauss    two Gaussians at (2,2) (+1) and (-2,-2) (-1), variance 0.5
             (growing with the noise up to 4)
    spiral   two arms r = 5i/m, angle 1.75*2*pi*i/m (+pi for the -1 arm)
  regression (float targets in about [-1,1], n = 1200 by default)
    plane       (x1 + x2) / 10
    multigauss  six Gaussian bumps of +-1
noise is 0..0.5 as on the page (its 0..50).  For circle, xor, plane and
multigauss the noise moves the point the label is computed from (so
labels near the boundary flip); for spiral and gauss it moves the points.
The same seed gives the same points; the generator is this file's own
(splitmix64), so the global one that initialises models is left alone.

Features, chosen by name (a list or a comma-separated string):
  x1, x2, x1^2 (or x1sq), x2^2 (x2sq), x1*x2 (x1x2), sin(x1) (sin1),
  sin(x2) (sin2); "sin" stands for both sines and "all" for all seven.
]]

local core = require("annlua.core")
local util = require("annlua.util")
local data = require("annlua.data")
local nn = require("annlua.nn")
local optim = require("annlua.optim")
local autograd = require("annlua.autograd")

local pg = {}

pg.classification = {"circle", "xor", "gauss", "spiral"}
pg.regression = {"plane", "multigauss"}
pg.defaults = {                 -- the Playground's own
  n_classify = 500, n_regress = 1200, noise = 0, ratio = 0.5,
  features = {"x1", "x2"}, layers = {4, 2}, activation = "tanh",
  lr = 0.03, batch = 10, regularization = "none", rate = 0,
}

-- ---------------------------------------------------------------------
-- a seeded generator of our own: splitmix64 on Lua's 64-bit integers
-- (arithmetic wraps, >> is logical)

local Rng = {}
Rng.__index = Rng

local function rng(seed)
  return setmetatable({s = seed}, Rng)
end

function Rng:next()
  self.s = self.s + 0x9e3779b97f4a7c15
  local z = self.s
  z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
  z = (z ~ (z >> 27)) * 0x94d049bb133111eb
  return z ~ (z >> 31)
end

-- uniform in [a, b), 53 bits
function Rng:uniform(a, b)
  return a + (b - a) * ((self:next() >> 11) * 2.0^-53)
end

-- normal with the given mean and variance (Marsaglia's polar method, as
-- the Playground)
function Rng:normal(mean, variance)
  local v1, v2, s
  repeat
    v1, v2 = self:uniform(-1, 1), self:uniform(-1, 1)
    s = v1 * v1 + v2 * v2
  until s > 0 and s < 1
  return mean + math.sqrt(variance) * v1 * math.sqrt(-2 * math.log(s) / s)
end

pg.rng = rng

-- ---------------------------------------------------------------------
-- the data sets: each fills xs, ys, labels (Lua lists) with n points

local gen = {}

local function push(p, x, y, label)
  local k = #p.x + 1
  p.x[k], p.y[k], p.label[k] = x, y, label
end

function gen.circle(p, n, noise, r)
  local radius = 5
  local function label(x, y)
    return math.sqrt(x * x + y * y) < radius * 0.5 and 1 or -1
  end
  -- half inside (radius 0..2.5), half in the ring 3.5..5
  for part = 1, 2 do
    local lo, hi = 0, radius * 0.5
    if part == 2 then lo, hi = radius * 0.7, radius end
    for _ = 1, part == 1 and n // 2 or n - n // 2 do
      local rr, angle = r:uniform(lo, hi), r:uniform(0, 2 * math.pi)
      local x, y = rr * math.sin(angle), rr * math.cos(angle)
      local nx = r:uniform(-radius, radius) * noise
      local ny = r:uniform(-radius, radius) * noise
      push(p, x, y, label(x + nx, y + ny))
    end
  end
end

function gen.xor(p, n, noise, r)
  local pad = 0.3
  for _ = 1, n do
    local x, y = r:uniform(-5, 5), r:uniform(-5, 5)
    x = x + (x > 0 and pad or -pad)
    y = y + (y > 0 and pad or -pad)
    local nx, ny = r:uniform(-5, 5) * noise, r:uniform(-5, 5) * noise
    push(p, x, y, (x + nx) * (y + ny) >= 0 and 1 or -1)
  end
end

function gen.gauss(p, n, noise, r)
  local variance = 0.5 + (4 - 0.5) * noise / 0.5   -- 0.5 .. 4
  for part = 1, 2 do
    local c, label = 2, 1
    if part == 2 then c, label = -2, -1 end
    for _ = 1, part == 1 and n // 2 or n - n // 2 do
      push(p, r:normal(c, variance), r:normal(c, variance), label)
    end
  end
end

function gen.spiral(p, n, noise, r)
  for part = 1, 2 do
    local m = part == 1 and n // 2 or n - n // 2
    local dt, label = 0, 1
    if part == 2 then dt, label = math.pi, -1 end
    for i = 0, m - 1 do
      local rr = i / m * 5
      local t = 1.75 * i / m * 2 * math.pi + dt
      push(p, rr * math.sin(t) + r:uniform(-1, 1) * noise,
              rr * math.cos(t) + r:uniform(-1, 1) * noise, label)
    end
  end
end

-- regression: the label at a noisy copy of a uniform point in [-6,6]^2
local function regress(p, n, noise, r, label)
  local radius = 6
  for _ = 1, n do
    local x, y = r:uniform(-radius, radius), r:uniform(-radius, radius)
    local nx = r:uniform(-radius, radius) * noise
    local ny = r:uniform(-radius, radius) * noise
    push(p, x, y, label(x + nx, y + ny))
  end
end

function gen.plane(p, n, noise, r)
  regress(p, n, noise, r, function(x, y) return (x + y) / 10 end)
end

local bumps = {{-4, 2.5, 1}, {0, 2.5, -1}, {4, 2.5, 1},
               {-4, -2.5, -1}, {0, -2.5, 1}, {4, -2.5, -1}}

function gen.multigauss(p, n, noise, r)
  -- the bump of largest magnitude, each falling linearly from +-1 at its
  -- centre to 0 at distance 2
  regress(p, n, noise, r, function(x, y)
    local label = 0
    for _, b in ipairs(bumps) do
      local d = math.sqrt((x - b[1]) ^ 2 + (y - b[2]) ^ 2)
      local v = b[3] * math.max(0, 1 - d / 2)
      if math.abs(v) > math.abs(label) then label = v end
    end
    return label
  end)
end

local function is_classification(name)
  for _, v in ipairs(pg.classification) do
    if v == name then return true end
  end
  return false
end

local function names_list()
  local all = {}
  for _, v in ipairs(pg.classification) do all[#all + 1] = v end
  for _, v in ipairs(pg.regression) do all[#all + 1] = v end
  return table.concat(all, ", ")
end

local dataset_options = {n = true, noise = true, seed = true, labels = true}

-- pg.dataset(name [, {n, noise = 0, seed = 1, labels = "sign" | "class"}])
-- -> TensorDataset: x [n,2] (x1, x2); y [n,1] of +1/-1 (or float targets
-- for regression), or with labels = "class" y [n] of classes 1 (the -1
-- points) and 2 (the +1 points).  ds.name, ds.kind ("classification" or
-- "regression"), ds.noise and ds.seed tell how it was made.
function pg.dataset(name, opts)
  if type(name) ~= "string" or not gen[name] then
    util.error(string.format("playground: unknown dataset '%s' (one of %s)",
                        tostring(name), names_list()))
  end
  opts = util.options("playground.dataset", opts, dataset_options)
  local classify = is_classification(name)
  local n = opts.n or (classify and pg.defaults.n_classify
                       or pg.defaults.n_regress)
  local noise, seed = opts.noise or 0, opts.seed or 1
  local labels = opts.labels or "sign"
  if math.type(n) ~= "integer" or n < 2 then
    util.error("playground.dataset: n must be an integer >= 2, got "
          .. tostring(n))
  end
  if type(noise) ~= "number" or noise < 0 or noise > 0.5 then
    util.error("playground.dataset: noise must be in 0..0.5, got "
          .. tostring(noise))
  end
  if math.type(seed) ~= "integer" then
    util.error("playground.dataset: seed must be an integer, got "
          .. tostring(seed))
  end
  if labels ~= "sign" and labels ~= "class" then
    util.error("playground.dataset: labels must be 'sign' or 'class', got "
          .. tostring(labels))
  end
  if labels == "class" and not classify then
    util.error("playground.dataset: labels = 'class' needs a classification "
          .. "set, and " .. name .. " is regression")
  end
  local p = {x = {}, y = {}, label = {}}
  gen[name](p, n, noise, rng(seed))
  local flat = {}
  for i = 1, n do flat[2 * i - 1], flat[2 * i] = p.x[i], p.y[i] end
  local x = core.tensor(flat, {n, 2})
  local y
  if labels == "class" then
    for i = 1, n do p.label[i] = p.label[i] > 0 and 2 or 1 end
    y = core.tensor(p.label, {n})
  else
    y = core.tensor(p.label, {n, 1})
  end
  local ds = data.TensorDataset(x, y)
  ds.name, ds.noise, ds.seed, ds.labels = name, noise, seed, labels
  ds.kind = classify and "classification" or "regression"
  if labels == "class" then ds.classes = {-1, 1} end
  return ds
end

-- pg.circle(opts), pg.spiral(opts), ...: the same as pg.dataset(name, opts)
for name in pairs(gen) do
  pg[name] = function(opts) return pg.dataset(name, opts) end
end

-- pg.split(ds, ratio [, seed]) -> train, test: a shuffled order, the first
-- ratio of it for training (the Playground's "ratio of training to test
-- data"); the fields of ds are kept
function pg.split(ds, ratio, seed)
  local train, test = ds:split(ratio, seed or 1)
  for _, part in ipairs{train, test} do
    part.name, part.kind, part.noise = ds.name, ds.kind, ds.noise
    part.seed, part.labels, part.classes = ds.seed, ds.labels, ds.classes
  end
  return train, test
end

-- ---------------------------------------------------------------------
-- features

local function sin(t)
  local v = t:contiguous():view(-1):totable()
  for i = 1, #v do v[i] = math.sin(v[i]) end
  return core.tensor(v, t:shape())
end

local feature_fns = {
  ["x1"] = function(a) return a end,
  ["x2"] = function(_, b) return b end,
  ["x1^2"] = function(a) return a * a end,
  ["x2^2"] = function(_, b) return b * b end,
  ["x1*x2"] = function(a, b) return a * b end,
  ["sin(x1)"] = function(a) return sin(a) end,
  ["sin(x2)"] = function(_, b) return sin(b) end,
}
pg.feature_names = {"x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"}
local aliases = {
  x1sq = {"x1^2"}, x2sq = {"x2^2"}, x1x2 = {"x1*x2"},
  sin1 = {"sin(x1)"}, sin2 = {"sin(x2)"}, sin = {"sin(x1)", "sin(x2)"},
  all = pg.feature_names,
}

-- pg.parse_features(spec) -> list of canonical names, in the order given,
-- without repeats.  spec: "x1,x2,sin" or {"x1", "x2", "sin"}.
function pg.parse_features(spec)
  spec = spec or pg.defaults.features
  local items = {}
  if type(spec) == "string" then
    for item in spec:gmatch("[^,%s]+") do items[#items + 1] = item end
  elseif type(spec) == "table" then
    items = spec
  else
    util.error("playground: features must be a list or a string, got "
          .. type(spec))
  end
  local out, seen = {}, {}
  for _, item in ipairs(items) do
    local names = feature_fns[item] and {item} or aliases[item]
    if not names then
      util.error(string.format("playground: unknown feature '%s' (one of %s; "
            .. "also x1sq, x2sq, x1x2, sin1, sin2, sin, all)",
            tostring(item), table.concat(pg.feature_names, ", ")))
    end
    for _, nm in ipairs(names) do
      if not seen[nm] then seen[nm] = true; out[#out + 1] = nm end
    end
  end
  if #out == 0 then util.error("playground: no features chosen") end
  return out
end

-- pg.features(x, spec) -> [N, #features]: the chosen features of the
-- points x [N,2], in the order given
function pg.features(x, spec)
  local names = pg.parse_features(spec)
  if not core.is_tensor(x) or x:dim() ~= 2 or x:size(2) ~= 2 then
    util.error("playground.features: x must be [N,2], got "
          .. (core.is_tensor(x) and "[" .. table.concat(x:shape(), ",") .. "]"
              or type(x)))
  end
  local a, b = x:select(2, 1), x:select(2, 2)
  local cols = {}
  for i, nm in ipairs(names) do cols[i] = feature_fns[nm](a, b) end
  return core.stack(cols, 2)
end

-- ---------------------------------------------------------------------
-- the network

pg.activations = {tanh = "Tanh", relu = "ReLU", sigmoid = "Sigmoid",
                  linear = "Identity"}

-- pg.model{inputs = 2, layers = {4, 2}, activation = "tanh",
--          output = "tanh" | "linear"} -> Sequential: the hidden layers
-- with the activation, then one output unit; tanh for classification
-- (+1/-1 labels, as on the page), linear for regression
function pg.model(opts)
  opts = require("annlua.util").options("playground.model", opts,
    {activation = true, output = true, inputs = true, layers = true})
  local act = opts.activation or pg.defaults.activation
  local cls = pg.activations[act]
  if not cls then
    util.error("playground: activation must be tanh, relu, sigmoid or linear, got "
          .. tostring(act))
  end
  local out = opts.output or "tanh"
  if out ~= "tanh" and out ~= "linear" then
    util.error("playground: output must be tanh or linear, got " .. tostring(out))
  end
  local mods, width = {}, opts.inputs or 2
  for _, k in ipairs(opts.layers or pg.defaults.layers) do
    mods[#mods + 1] = nn.Linear(width, k)
    mods[#mods + 1] = nn[cls]()
    width = k
  end
  mods[#mods + 1] = nn.Linear(width, 1)
  if out == "tanh" then mods[#mods + 1] = nn.Tanh() end
  return nn.Sequential(mods)
end

-- +1/-1 targets of a dataset (classes 1, 2 -> -1, +1), [N,1]
local function sign_targets(ds)
  if ds.labels == "class" then return (ds.y * 2 - 3):view(-1, 1) end
  return ds.y
end

-- the fraction of samples whose output has the sign of the label: the
-- Playground's accuracy for +1/-1 labels (an output of 0 counts as +1)
function pg.sign_accuracy(scores, targets)
  local pred = scores:ge(0) * 2 - 1
  return pred:view(-1):eq(targets:reshape(-1)):mean():item()
end

-- pg.accuracy(model, ds, features) -> fraction right
function pg.accuracy(model, ds, features)
  local out = autograd.no_grad(model, pg.features(ds.x, features))
  return pg.sign_accuracy(out, sign_targets(ds))
end

-- pg.loss(model, ds, features) -> mean squared error
function pg.loss(model, ds, features)
  local out = autograd.no_grad(model, pg.features(ds.x, features))
  return ((out - sign_targets(ds)) ^ 2):mean():item()
end

local train_options = {
  dataset = true, n = true, noise = true, seed = true, ratio = true,
  features = true, layers = true, activation = true, lr = true, batch = true,
  epochs = true, regularization = true, rate = true, optimizer = true,
  progress = true, callbacks = true,
}

local function check_option(ok, fmt, ...)
  if not ok then util.error(string.format(fmt, ...)) end
end

-- pg.train{dataset = "spiral" (or a dataset), n, noise = 0, seed = 1,
--   ratio = 0.5, features = {"x1", "x2"}, layers = {4, 2},
--   activation = "tanh", lr = 0.03, batch = 10, epochs = 100,
--   regularization = "none" | "l1" | "l2", rate = 0,
--   optimizer = "sgd" | "adam", progress = false, callbacks}
-- -> {model, history, train, test, features, train_loss, test_loss,
--     train_accuracy, test_accuracy (classification), seconds}
-- The loss is the mean squared error against +1/-1 (the page shows half
-- of it).  The seed makes the points, the split, the batches and the
-- initial weights: the same options give the same run.
function pg.train(opts)
  opts = util.options("playground.train", opts, train_options)
  local seed = opts.seed or 1
  local ds = opts.dataset or "spiral"
  if type(ds) == "string" then
    ds = pg.dataset(ds, {n = opts.n, noise = opts.noise, seed = seed})
  end
  local ratio = opts.ratio or pg.defaults.ratio
  check_option(type(ratio) == "number" and ratio > 0 and ratio < 1,
               "playground.train: ratio must be in (0, 1), got %s",
               tostring(ratio))
  local reg = opts.regularization or "none"
  check_option(reg == "none" or reg == "l1" or reg == "l2",
               "playground.train: regularization must be none, l1 or l2, got %s",
               tostring(reg))
  local rate = opts.rate or 0
  check_option(type(rate) == "number" and rate >= 0,
               "playground.train: rate must be a number >= 0, got %s",
               tostring(rate))
  local oname = opts.optimizer or "sgd"
  check_option(oname == "sgd" or oname == "adam",
               "playground.train: optimizer must be sgd or adam, got %s",
               tostring(oname))
  local features = pg.parse_features(opts.features)
  local train, test = pg.split(ds, ratio, seed)
  local classify = ds.kind ~= "regression"
  -- what the network sees: the features, and +1/-1 (or float) targets
  local function prepare(part)
    return data.TensorDataset(pg.features(part.x, features), sign_targets(part))
  end
  core.manual_seed(seed)
  local model = pg.model{inputs = #features, layers = opts.layers,
                         activation = opts.activation,
                         output = classify and "tanh" or "linear"}
  local o = {lr = opts.lr or pg.defaults.lr}
  if reg == "l1" then o.l1 = rate elseif reg == "l2" then o.weight_decay = rate end
  local opt = (oname == "adam" and optim.Adam or optim.SGD)(model:parameters(), o)
  local t0 = core.clock()
  local fit = require("annlua.fit").fit
  local history = fit(model, {
    train = prepare(train), validation = prepare(test),
    loss = nn.MSELoss(), optimizer = opt, epochs = opts.epochs or 100,
    batch_size = opts.batch or pg.defaults.batch, seed = seed,
    metrics = classify and {accuracy = pg.sign_accuracy} or {},
    progress = opts.progress or false, callbacks = opts.callbacks,
  })
  local r = {model = model, history = history, train = train, test = test,
             features = features, seconds = core.clock() - t0,
             train_loss = pg.loss(model, train, features),
             test_loss = pg.loss(model, test, features)}
  if classify then
    r.train_accuracy = pg.accuracy(model, train, features)
    r.test_accuracy = pg.accuracy(model, test, features)
  end
  return r
end

return pg
