-- options_spec.lua (issue 11, finding 2): every function that takes an
-- options table rejects an unknown key, naming the key and the function;
-- CrossEntropyLoss's weight, ignore_index and label_smoothing work as in
-- PyTorch (values worked out by hand below).
local ann = require("annlua")
local nn = ann.nn
local h = require("helpers")
local fails, near = h.fails, h.near
local ln2 = math.log(2)

describe("unknown options", function()
  local ds = ann.data.TensorDataset(ann.ones(4, 2), ann.tensor{1, 2, 1, 2})

  it("are rejected by the losses", function()
    fails(function() nn.MSELoss{reducton = "sum"} end,
          "MSELoss: unknown option 'reducton'")
    fails(function() nn.BCELoss{weight = ann.ones(2)} end,
          "BCELoss: unknown option 'weight'")
    fails(function() nn.NLLLoss{label_smoothing = 0.1} end,
          "NLLLoss: unknown option 'label_smoothing'")
    fails(function() nn.CrossEntropyLoss{label_smothing = 0.1} end,
          "CrossEntropyLoss: unknown option 'label_smothing'")
  end)

  it("are rejected by the data functions", function()
    fails(function() ann.data.DataLoader(ds, {batchsize = 32}) end,
          "DataLoader: unknown option 'batchsize'")
    local path = os.tmpname()
    local f = assert(io.open(path, "w")); f:write("a,b\n1,x\n2,y\n"); f:close()
    fails(function() ann.data.csv(path, {clases = true}) end,
          "csv: unknown option 'clases'")
    assert(ann.data.csv(path, {classes = true}))   -- the right name works
    os.remove(path)
  end)

  it("are rejected by layers, schedules, metrics and the rest", function()
    fails(function() nn.Linear(2, 2, {biass = false}) end,
          "Linear: unknown option 'biass'")
    fails(function() nn.Perceptron(2):fit(ann.ones(1, 2), ann.tensor{1}, {epoch = 3}) end,
          "Perceptron:fit: unknown option 'epoch'")
    local opt = ann.optim.SGD(nn.Linear(2, 2):parameters())
    fails(function() ann.optim.StepLR(opt, {step_size = 2, gama = 0.5}) end,
          "StepLR: unknown option 'gama'")
    fails(function() ann.optim.CosineLR(opt, {t_max = 2, etamin = 0}) end,
          "CosineLR: unknown option 'etamin'")
    fails(function() ann.metrics.accuracy(ann.ones(2, 2), ann.tensor{1, 2}, {treshold = 1}) end,
          "accuracy: unknown option 'treshold'")
    fails(function() ann.metrics.confusion_matrix(ann.ones(2, 2), ann.tensor{1, 2}, 2, {name = {}}) end,
          "confusion_matrix: unknown option 'name'")
    fails(function() ann.grad_check(function(x) return x end,
                                    {ann.ones(1):requires_grad()}, {tol = 1}) end,
          "grad_check: unknown option 'tol'")
    fails(function() ann.evaluate(nn.Linear(2, 2), ds, {batchsize = 2}) end,
          "evaluate: unknown option 'batchsize'")
    fails(function() ann.load("x.ann", {maxbytes = 1}) end,
          "load: unknown option 'maxbytes'")
    fails(function() ann.playground.model{layer = {2}} end,
          "playground.model: unknown option 'layer'")
  end)
end)

describe("CrossEntropyLoss options", function()
  -- rows: logits (0, 0): p = (1/2, 1/2); logits (ln 3, 0): p = (3/4, 1/4)
  local function logits()
    return ann.tensor{{0, 0}, {math.log(3), 0}}:requires_grad()
  end
  local y = ann.tensor{1, 2}

  it("weight: w[y] per sample, the mean divided by the sum of w[y]", function()
    local w = ann.tensor{1, 3}
    -- losses: 1 * ln 2 and 3 * ln 4 = 6 ln 2
    h.near_all({ln2, 6 * ln2},
               nn.CrossEntropyLoss{weight = w, reduction = "none"}(logits(), y))
    near(7 * ln2, nn.CrossEntropyLoss{weight = w, reduction = "sum"}(logits(), y):item())
    local z = logits()
    local l = nn.CrossEntropyLoss{weight = w}(z, y)
    near(7 * ln2 / 4, l:item())
    l:backward()
    -- d/dz = w[y] (p - onehot(y)) / 4: (-1/2, 1/2) / 4, 3 (3/4, -3/4) / 4
    h.near_all({-0.125, 0.125, 0.5625, -0.5625}, z.grad)
  end)

  it("weight with probability targets: the mean over samples", function()
    -- -(0.5 * 1 * ln 1/2 + 0.5 * 3 * ln 1/2) = 2 ln 2, N = 1
    near(2 * ln2, nn.CrossEntropyLoss{weight = ann.tensor{1, 3}}(
      ann.tensor{{0, 0}}, ann.tensor{{0.5, 0.5}}):item())
  end)

  it("ignore_index: samples of that class count for nothing", function()
    local z = logits()
    local l = nn.CrossEntropyLoss{ignore_index = 2}(z, y)
    near(ln2, l:item())                        -- row 1 alone
    l:backward()
    h.near_all({-0.5, 0.5, 0, 0}, z.grad)
    h.near_all({ln2, 0}, nn.CrossEntropyLoss{ignore_index = 2, reduction = "none"}(logits(), y))
    -- an ignored label need not be a class (PyTorch's -100)
    near(ln2, nn.CrossEntropyLoss{ignore_index = -100}(logits(), ann.tensor{1, -100}):item())
    fails(function() nn.CrossEntropyLoss{ignore_index = 1}(logits(), ann.tensor{{1, 0}, {0, 1}}) end,
          "CrossEntropyLoss: ignore_index needs class-index targets")
  end)

  it("label_smoothing: targets (1 - e) onehot + e / C", function()
    -- e = 0.2, C = 2: row 1 (0.9, 0.1) -> ln 2;
    -- row 2 (0.1, 0.9) -> 0.1 ln(4/3) + 0.9 ln 4
    local want = (ln2 + 0.1 * math.log(4 / 3) + 0.9 * math.log(4)) / 2
    local z = logits()
    local l = nn.CrossEntropyLoss{label_smoothing = 0.2}(z, y)
    near(want, l:item())
    l:backward()
    -- (p - q) / N: (-0.4, 0.4) / 2, (0.65, -0.65) / 2
    h.near_all({-0.2, 0.2, 0.325, -0.325}, z.grad)
    fails(function() nn.CrossEntropyLoss{label_smoothing = 1.5} end,
          "CrossEntropyLoss: label_smoothing must be in [0, 1]")
    fails(function() nn.CrossEntropyLoss{weight = ann.ones(3)}(logits(), y) end,
          "CrossEntropyLoss: weight has 3 elements, expected 2")
  end)

  it("are left to the general path by ann.fit (the fused one knows none)", function()
    local net = nn.Sequential{nn.Linear(2, 2)}
    local opt = ann.optim.SGD(net:parameters(), {lr = 1})
    local fused = require("annlua.fused")
    assert.is_not_nil(fused.trainer(net, nn.CrossEntropyLoss(), opt, 2))
    assert.is_nil(fused.trainer(net, nn.CrossEntropyLoss{weight = ann.tensor{1, 0}}, opt, 2))
    assert.is_nil(fused.trainer(net, nn.CrossEntropyLoss{ignore_index = 1}, opt, 2))
    assert.is_nil(fused.trainer(net, nn.CrossEntropyLoss{label_smoothing = 0.1}, opt, 2))
  end)
end)

describe("unknown options in fit's own tables", function()
  it("are rejected: early_stopping, checkpoint, playground", function()
    local ds = ann.data.TensorDataset(ann.ones(4, 2), ann.tensor{1, 2, 1, 2})
    local net = nn.Linear(2, 2)
    local function base(extra)
      local o = {train = ds, loss = nn.CrossEntropyLoss(), epochs = 1, progress = false,
                 optimizer = ann.optim.SGD(net:parameters())}
      for k, v in pairs(extra) do o[k] = v end
      return o
    end
    fails(function() ann.fit(net, base{early_stopping = {patience = 2, restore_best_weights = true}}) end,
          "fit: early_stopping: unknown option 'restore_best_weights'")
    fails(function() ann.fit(net, base{checkpoint = {path = "x.ann", monitr = "loss"}}) end,
          "fit: checkpoint: unknown option 'monitr'")
    fails(function() ann.fit(net, base{epoch = 3}) end, "fit: unknown option 'epoch'")
    fails(function() ann.playground.train{epoch = 3} end, "playground.train: unknown option 'epoch'")
    fails(function() ann.playground.dataset("xor", {nois = 0.1}) end,
          "playground.dataset: unknown option 'nois'")
  end)
end)
