-- bench/data.lua: the data pipeline's figures: CSV rows/s (digits.csv.gz,
-- 1,797 rows), IDX load time (MNIST-8k images and labels, gzip), the share
-- of an epoch that the data loader takes (batches of 64 gathered without
-- training, against an epoch of training the 784-256-128-10 MLP with the
-- idiomatic loop), and save/load time and size of that model.
--   build/bin/annlua bench/data.lua

package.path = "bench/lib/?.lua;" .. package.path
local B = require("common")
local ann = require("annlua")
local D = "examples/data/"

B.header("data: readers, loader, model files")
local s = B.time(function() assert(ann.data.csv(D .. "digits.csv.gz")) end)
B.report("csv-digits", 1797 / s, "rows/s")

local train
s = B.time(function()
  train = assert(ann.data.idx(D .. "mnist-train-8k-images-idx3-ubyte.gz",
                              D .. "mnist-train-8k-labels-idx1-ubyte.gz"))
end)
B.report("idx-mnist-8k", s * 1000, "ms")

local loader = ann.data.DataLoader(train, {batch_size = 64, seed = 1})
local t_load = B.time(function() for _ in loader:iter() do end end)
ann.manual_seed(1)
local net = ann.nn.Sequential{ann.nn.Linear(784, 256), ann.nn.ReLU(),
                              ann.nn.Linear(256, 128), ann.nn.ReLU(),
                              ann.nn.Linear(128, 10)}
local loss_fn = ann.nn.CrossEntropyLoss()
local opt = ann.optim.Adam(net:parameters())
local t_train = B.time(function()
  for xb, yb in loader:iter() do
    opt:zero_grad(); local l = loss_fn(net(xb), yb); l:backward(); opt:step()
  end
end)
B.report("loader-share", 100 * t_load / t_train, "% of a training epoch")

local path = os.tmpname()
s = B.time(function() assert(ann.save(net, path)) end)
B.report("save-mnist-model", s * 1000, "ms")
local f = assert(io.open(path, "rb"))
B.report("model-file", f:seek("end") / 1024, "KiB")
f:close()
s = B.time(function() assert(ann.load(path)) end)
B.report("load-mnist-model", s * 1000, "ms")
os.remove(path)
B.footer("data")
