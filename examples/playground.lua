-- playground.lua: TensorFlow Playground (playground.tensorflow.org) on the
-- command line.  Pick a problem, features, layers, activation, learning
-- rate and regularisation; watch the losses fall; see the decision
-- boundary in the terminal and in a PNG.
--
--   annlua examples/playground.lua --features x1,x2,sin --layers 8,8
--   annlua examples/playground.lua --dataset spiral --noise 0.1 \
--     --features x1,x2,sin --layers 8,8,4 --activation tanh --lr 0.03 \
--     --batch 10 --epochs 500 --regularization l2 --rate 0.001 --ratio 50 \
--     --seed 1 --png spiral.png
--
-- The defaults are the Playground's, with the spiral as the problem.
-- `--help` lists every option.

local ann = require("annlua")
local pg, plot = ann.playground, ann.plot

local options = {     -- name, default, description (in --help's order)
  {"dataset", "spiral", "circle, xor, gauss, spiral (classification), plane, multigauss (regression)"},
  {"noise", "0", "noise, 0 to 0.5"},
  {"samples", nil, "number of points (default 500, regression 1200)"},
  {"ratio", "50", "percentage of the points used for training, 10 to 90"},
  {"features", "x1,x2", "comma-separated: x1, x2, x1^2 (x1sq), x2^2 (x2sq), x1*x2 (x1x2), sin(x1) (sin1), sin(x2) (sin2); sin = both sines, all = all seven"},
  {"layers", "4,2", "neurons in each hidden layer, comma-separated; 0 for none"},
  {"activation", "tanh", "tanh, relu, sigmoid or linear"},
  {"lr", "0.03", "learning rate"},
  {"batch", "10", "batch size"},
  {"epochs", "300", "passes over the training points"},
  {"regularization", "none", "none, l1 or l2"},
  {"rate", "0", "regularisation rate"},
  {"optimizer", "sgd", "sgd (the Playground's) or adam"},
  {"seed", "1", "seed of the points, the split, the batches and the weights"},
  {"png", "playground.png", "where to write the decision boundary; 'none' for nowhere"},
  {"loss-png", "none", "where to write the loss curves; 'none' for nowhere"},
  {"plot", "auto", "the terminal pictures: auto (colour if the terminal shows it), color, plain or none"},
  {"every", "auto", "print the losses every this many epochs (auto: 10 lines in all)"},
}

local function usage()
  local out = {"usage: annlua examples/playground.lua [--option value ...]", "",
               "TensorFlow Playground's problems: train a small network on 2-D points,",
               "print the losses as it goes, draw the decision boundary.", "",
               "options (default in brackets):"}
  for _, o in ipairs(options) do
    out[#out + 1] = string.format("  --%-15s %s%s", o[1], o[3],
                                  o[2] and (" [" .. o[2] .. "]") or "")
  end
  out[#out + 1] = "  --help            this text"
  return table.concat(out, "\n") .. "\n"
end

-- a bad command line: say what is wrong and which values are allowed
local function die(fmt, ...)
  io.stderr:write("playground: ", string.format(fmt, ...), "\n",
                  "(annlua examples/playground.lua --help lists the options)\n")
  os.exit(2)
end

-- ---- parsing: --name value or --name=value
local given = {}
do
  local known = {}
  for _, o in ipairs(options) do known[o[1]] = o end
  local args = arg or {}
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--help" or a == "-h" then io.write(usage()); os.exit(0) end
    local name, value = a:match("^%-%-([%w%-]+)=(.*)$")
    if not name then
      name = a:match("^%-%-([%w%-]+)$")
      if not name then die("unexpected argument '%s'", a) end
      i = i + 1
      value = args[i]
      if value == nil then die("--%s needs a value", name) end
    end
    if not known[name] then die("unknown option --%s", name) end
    given[name] = value
    i = i + 1
  end
  for _, o in ipairs(options) do
    if given[o[1]] == nil then given[o[1]] = o[2] end
  end
end

local function number(name, lo, hi, integer)
  local v = tonumber(given[name])
  local what = integer and "an integer" or "a number"
  if v == nil or (integer and math.type(v) ~= "integer" and v ~= math.floor(v))
     or v ~= v or v < lo or v > hi then
    die("--%s must be %s from %s to %s, got '%s'", name, what, lo,
        hi == math.huge and "infinity" or hi, tostring(given[name]))
  end
  return integer and math.tointeger(v) or v
end

local function choice(name, allowed)
  for _, v in ipairs(allowed) do
    if given[name] == v then return v end
  end
  die("--%s must be one of %s, got '%s'", name, table.concat(allowed, ", "),
      given[name])
end

local datasets = {"circle", "xor", "gauss", "spiral", "plane", "multigauss"}
local cfg = {
  dataset = choice("dataset", datasets),
  noise = number("noise", 0, 0.5),
  ratio = number("ratio", 10, 90) / 100,
  activation = choice("activation", {"tanh", "relu", "sigmoid", "linear"}),
  lr = number("lr", 1e-9, 100),
  batch = number("batch", 1, 1e6, true),
  epochs = number("epochs", 1, 1e7, true),
  regularization = choice("regularization", {"none", "l1", "l2"}),
  rate = number("rate", 0, 100),
  optimizer = choice("optimizer", {"sgd", "adam"}),
  seed = number("seed", 0, 2^53, true),
}
local n = given.samples and number("samples", 4, 1e6, true)

local ok, features = pcall(pg.parse_features, given.features)
if not ok then
  die("--features: %s", (tostring(features):gsub("^.-playground: ", "")))
end
cfg.features = features

cfg.layers = {}
if given.layers ~= "0" and given.layers ~= "none" and given.layers ~= "" then
  for item in (given.layers .. ","):gmatch("([^,]*),") do
    local k = tonumber(item)
    if not k or math.type(k) ~= "integer" or k < 1 or k > 1024 then
      die("--layers must be comma-separated neuron counts from 1 to 1024 "
          .. "(e.g. 4,2), or 0 for no hidden layer; got '%s'", given.layers)
    end
    cfg.layers[#cfg.layers + 1] = k
  end
end

local plot_mode = choice("plot", {"auto", "color", "plain", "none"})
local every = given.every == "auto" and math.max(1, cfg.epochs // 10)
              or number("every", 1, 1e9, true)

-- ---- the data and the run
local ds = pg.dataset(cfg.dataset, {noise = cfg.noise, seed = cfg.seed, n = n})
local ntrain = math.floor(ds:size() * cfg.ratio + 0.5)
if cfg.batch > ntrain then
  die("--batch must be from 1 to %d (the training points), got %d", ntrain,
      cfg.batch)
end
local classify = ds.kind == "classification"
print(string.format("%s: %d points (%d to train), noise %g; features %s; "
  .. "layers %s, %s; %s lr %g, batch %d%s", cfg.dataset, ds:size(), ntrain,
  cfg.noise, table.concat(features, ","),
  #cfg.layers > 0 and table.concat(cfg.layers, ",") or "none", cfg.activation,
  cfg.optimizer, cfg.lr, cfg.batch,
  cfg.regularization ~= "none"
    and string.format(", %s %g", cfg.regularization, cfg.rate) or ""))

-- the losses as it goes: a line every `every` epochs, and on a terminal
-- a status line redrawn in between
local tty = ann.isatty(1)
local function status(epoch, logs)
  local s = string.format("epoch %5d  train loss %.4f  test loss %.4f",
                          epoch, logs.loss, logs.val_loss)
  if classify and logs.val_accuracy then
    s = s .. string.format("  test accuracy %5.1f%%", 100 * logs.val_accuracy)
  end
  return s
end
local callbacks = {on_epoch_end = function(epoch, logs)
  if epoch % every == 0 or epoch == cfg.epochs or epoch == 1 then
    io.write(tty and "\r\27[K" or "", status(epoch, logs), "\n")
  elseif tty then
    io.write("\r\27[K", status(epoch, logs))
  end
  io.stdout:flush()
end}

local r = pg.train{dataset = ds, ratio = cfg.ratio, seed = cfg.seed,
                   features = features, layers = cfg.layers,
                   activation = cfg.activation, lr = cfg.lr, batch = cfg.batch,
                   epochs = cfg.epochs, regularization = cfg.regularization,
                   rate = cfg.rate, optimizer = cfg.optimizer,
                   callbacks = callbacks}

if plot_mode ~= "none" then
  local color = nil
  if plot_mode == "color" then color = true elseif plot_mode == "plain" then color = false end
  print("\nloss (train and test) over the epochs:")
  plot.loss_curve(r.history, {terminal = true, color = color})
  print()
  plot.decision_boundary(r.model, r.train, {test = r.test, features = features,
                                            terminal = true, color = color})
  if color == false or (color == nil and not plot.color_supported(1)) then
    print("+ / - the network's sign; o / x training points, O / X test points")
  else
    print("blue +1, orange -1; the training and test points on top")
  end
end

print(string.format("\nafter %d epochs (%.1f s): train loss %.4f, test loss %.4f%s",
  cfg.epochs, r.seconds, r.train_loss, r.test_loss,
  classify and string.format(", test accuracy %.1f%% (train %.1f%%)",
                             100 * r.test_accuracy, 100 * r.train_accuracy) or ""))

local function write(kind, path, fn)
  if path == "none" then return end
  local img, err = fn(path)
  if not img then
    io.stderr:write("playground: ", err, "\n")
    os.exit(1)
  end
  print(string.format("wrote %s (%s)", path, kind))
end
write("decision boundary", given.png, function(path)
  return plot.decision_boundary(r.model, r.train, {test = r.test,
                                features = features, file = path})
end)
write("loss curves", given["loss-png"], function(path)
  return plot.loss_curve(r.history, {file = path})
end)
