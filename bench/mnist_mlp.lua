-- bench/mnist_mlp.lua: 784-256-128-10 ReLU, softmax cross-entropy, Adam,
-- batch 64, on MNIST-8k (examples/data; synthetic data of the same size if
-- the files are missing).  Figures: samples/s of a training epoch through
-- the fused trainer (what ann.fit uses) and through the idiomatic loop
--   opt:zero_grad(); loss_fn(net(xb), yb):backward(); opt:step()
-- and the peak resident memory of the whole run.
--   annlua bench/mnist_mlp.lua

local ann = require("annlua")
local here = arg and arg[0] and arg[0]:match("(.*/)") or "./"
local B = dofile(here .. "lib/common.lua")
local fused = require("annlua.fused")

B.header("mnist-mlp: 784-256-128-10 ReLU, cross-entropy, Adam, batch 64")
ann.manual_seed(1)
local dir = here .. "../examples/data/"
local ds = ann.data.idx(dir .. "mnist-train-8k-images-idx3-ubyte.gz",
                        dir .. "mnist-train-8k-labels-idx1-ubyte.gz")
local x, y
if ds then x, y = ds.x, ds.y
else x, y = B.classes(8000, 784, 10) end
local n = #x
print(string.format("data: %d samples (%s)", n, ds and "MNIST-8k" or "synthetic"))

local net = ann.nn.Sequential{
  ann.nn.Linear(784, 256), ann.nn.ReLU(),
  ann.nn.Linear(256, 128), ann.nn.ReLU(),
  ann.nn.Linear(128, 10),
}
local loss_fn = ann.nn.CrossEntropyLoss()
local opt = ann.optim.Adam(net:parameters(), {lr = 1e-3})
local trainer = assert(fused.trainer(net, loss_fn, opt, 64))
B.check(trainer, x:narrow(1, 1, 64), y:narrow(1, 1, 64))

local t = B.time(function() trainer:epoch(x, y, ann.randperm(n)) end)
B.report("mnist-mlp", n / t, "samples/s")
B.report("mnist-mlp-gflops", 6 * net:num_parameters() * n / t * 1e-9,
         "GFLOP/s")
-- the memory of training itself (data loaded, 6 epochs): before the loop
-- below, whose garbage the collector frees when it gets to it
B.footer("mnist-mlp")

local loader = ann.data.DataLoader(ann.data.TensorDataset(x, y),
                                   {batch_size = 64, seed = 1})
t = B.time(function()
  for xb, yb in loader:iter() do
    opt:zero_grad()
    loss_fn(net(xb), yb):backward()
    opt:step()
  end
end)
B.report("mnist-mlp-loop", n / t, "samples/s")
-- the same loop with SGD (the neural-network issue's figure)
local sgd = ann.optim.SGD(net:parameters(), {lr = 0.01})
t = B.time(function()
  for xb, yb in loader:iter() do
    sgd:zero_grad()
    loss_fn(net(xb), yb):backward()
    sgd:step()
  end
end)
B.report("mnist-mlp-loop-sgd", n / t, "samples/s")
B.footer("mnist-mlp-loop")
