-- bench/playground.lua: the TensorFlow Playground's network, 2-8-8-1 tanh,
-- MSE, SGD (lr 0.03), batch 10, on 500 points of two Gaussian blobs.
-- Figures, in samples/s: the idiomatic four-line loop written in the
-- script (general path: autograd, one Lua call per op) and the fused
-- trainer, which ann.fit uses (one C call per epoch).
--   annlua bench/playground.lua

local ann = require("annlua")
local here = arg and arg[0] and arg[0]:match("(.*/)") or "./"
local B = dofile(here .. "lib/common.lua")
local fused = require("annlua.fused")

B.header("playground: 2-8-8-1 tanh, MSE, SGD, batch 10")
ann.manual_seed(1)
local n = 500
-- two blobs around (2,2) and (-2,-2), targets +1 and -1
local x = ann.randn(n, 2)
local y = ann.zeros(n, 1)
for i = 1, n do
  local s = i % 2 == 0 and 1 or -1
  x:set(i, 1, x:get(i, 1) + 2 * s)
  x:set(i, 2, x:get(i, 2) + 2 * s)
  y:set(i, 1, s)
end

local function model()
  ann.manual_seed(2)
  return ann.nn.Sequential{ann.nn.Linear(2, 8), ann.nn.Tanh(),
                           ann.nn.Linear(8, 8), ann.nn.Tanh(),
                           ann.nn.Linear(8, 1)}
end
local net = model()
local loss_fn = ann.nn.MSELoss()
local opt = ann.optim.SGD(net:parameters(), {lr = 0.03})
local trainer = assert(fused.trainer(net, loss_fn, opt, 10))
B.check(trainer, x:narrow(1, 1, 10), y:narrow(1, 1, 10))

-- the idiomatic loop, 4 epochs a run
local loader = ann.data.DataLoader(ann.data.TensorDataset(x, y),
                                   {batch_size = 10, seed = 1})
local epochs = 4
local t = B.time(function()
  for _ = 1, epochs do
    for xb, yb in loader:iter() do
      opt:zero_grad()
      local loss = loss_fn(net(xb), yb)
      loss:backward()
      opt:step()
    end
  end
end)
B.report("playground-loop", epochs * n / t, "samples/s")

-- the fused trainer, 200 epochs a run, a new order each epoch
epochs = 200
local orders = {}
for e = 1, epochs do orders[e] = ann.randperm(n) end
local loss
t = B.time(function()
  for e = 1, epochs do loss = trainer:epoch(x, y, orders[e]) end
end)
B.report("playground-fit", epochs * n / t, "samples/s")
print(string.format("   (final training loss %.4f)", loss))
B.footer("playground")
