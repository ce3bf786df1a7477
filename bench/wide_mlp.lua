-- bench/wide_mlp.lua: 1024-4096-4096-10 ReLU, softmax cross-entropy, SGD
-- (lr 0.01), batch 256, synthetic data (1024 samples).  Figures: samples/s
-- and GFLOP/s (6 x parameters x samples) of the fused trainer, and of the
-- idiomatic loop.  Each timed run is 2 batches (~0.3 s at the target).
--   annlua bench/wide_mlp.lua

local ann = require("annlua")
local here = arg and arg[0] and arg[0]:match("(.*/)") or "./"
local B = dofile(here .. "lib/common.lua")
local fused = require("annlua.fused")

B.header("wide-mlp: 1024-4096-4096-10 ReLU, cross-entropy, SGD, batch 256")
ann.manual_seed(1)
local bs, n = 256, 512
local x, y = B.classes(n, 1024, 10)
local net = ann.nn.Sequential{ann.nn.Linear(1024, 4096), ann.nn.ReLU(),
                              ann.nn.Linear(4096, 4096), ann.nn.ReLU(),
                              ann.nn.Linear(4096, 10)}
local params = net:num_parameters()
local loss_fn = ann.nn.CrossEntropyLoss()
local opt = ann.optim.SGD(net:parameters(), {lr = 0.01})
local trainer = assert(fused.trainer(net, loss_fn, opt, bs))
B.check(trainer, x:narrow(1, 1, 32), y:narrow(1, 1, 32))

local t = B.time(function() trainer:epoch(x, y) end)
B.report("wide-mlp", n / t, "samples/s")
B.report("wide-mlp-gflops", 6 * params * n / t * 1e-9, "GFLOP/s")

local xb, yb = {}, {}
for i = 1, n // bs do
  xb[i], yb[i] = x:narrow(1, (i - 1) * bs + 1, bs), y:narrow(1, (i - 1) * bs + 1, bs)
end
t = B.time(function()
  for i = 1, #xb do
    opt:zero_grad()
    loss_fn(net(xb[i]), yb[i]):backward()
    opt:step()
  end
end)
B.report("wide-mlp-loop", n / t, "samples/s")
B.footer("wide-mlp")
