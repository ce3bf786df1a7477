-- mnist.lua: a 784-256-128-10 ReLU network learns handwritten digits
-- (MNIST, 8,000 training and 2,000 test images shipped in examples/data).
-- Adam, lr 1e-3, batch 64, softmax cross-entropy; PyTorch 1.13 reaches
-- 95.8% test accuracy with this recipe on these files.
--   annlua examples/mnist.lua [epochs]

local ann = require("annlua")
local here = arg and arg[0] and arg[0]:match("(.*/)") or "./"
local dir = here .. "data/"
local epochs = tonumber(arg and arg[1]) or 20

local train = assert(ann.data.idx(dir .. "mnist-train-8k-images-idx3-ubyte.gz",
                                  dir .. "mnist-train-8k-labels-idx1-ubyte.gz"))
local test = assert(ann.data.idx(dir .. "mnist-test-2k-images-idx3-ubyte.gz",
                                 dir .. "mnist-test-2k-labels-idx1-ubyte.gz"))
print(string.format("train: %s\ntest:  %s", train, test))

ann.manual_seed(1)
local net = ann.nn.Sequential{
  ann.nn.Linear(784, 256), ann.nn.ReLU(),
  ann.nn.Linear(256, 128), ann.nn.ReLU(),
  ann.nn.Linear(128, 10),
}
print(net)

local loss_fn = ann.nn.CrossEntropyLoss()
local opt = ann.optim.Adam(net:parameters(), {lr = 1e-3})
local loader = ann.data.DataLoader(train, {batch_size = 64, seed = 1})

local function accuracy(ds)
  local scores = ann.no_grad(net, ds.x)
  return scores:argmax(2):eq(ds.y):mean():item()
end

local clock = ann.clock
for epoch = 1, epochs do
  local t0, sum, n = clock(), 0, 0
  for xb, yb in loader:iter() do
    opt:zero_grad()
    local loss = loss_fn(net(xb), yb)
    loss:backward()
    opt:step()
    sum, n = sum + loss:item() * #xb, n + #xb
  end
  local dt = clock() - t0
  print(string.format("epoch %2d  loss %.4f  test accuracy %.2f%%  %.0f samples/s",
                      epoch, sum / n, 100 * accuracy(test), n / dt))
end

print(string.format("final test accuracy: %.2f%%", 100 * accuracy(test)))
