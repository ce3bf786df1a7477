-- bench/infer.lua: inference of a 32-64-64-8 tanh network on one sample,
-- net(x) under ann.no_grad, from Lua.  A Sequential of built-in layers
-- takes the fused path (one C call); the general path (one call per
-- module) is timed too, by calling the modules in turn.
--   annlua bench/infer.lua

local ann = require("annlua")
local here = arg and arg[0] and arg[0]:match("(.*/)") or "./"
local B = dofile(here .. "lib/common.lua")

B.header("infer: 32-64-64-8 tanh, one sample, forward only")
ann.manual_seed(1)
local net = ann.nn.Sequential{ann.nn.Linear(32, 64), ann.nn.Tanh(),
                              ann.nn.Linear(64, 64), ann.nn.Tanh(),
                              ann.nn.Linear(64, 8)}
local x = ann.randn(32)

local function general(v)
  for i = 1, net.n do v = net[tostring(i)]:forward(v) end
  return v
end

-- the check: both paths, to 1e-5 relative
ann.no_grad(function()
  local a, b = net(x), general(x)
  local err = (a - b):abs():max():item() / b:abs():max():item()
  print(string.format("   check: fused vs general output, largest relative "
                      .. "difference %.2g (limit 1e-5): %s", err,
                      err <= 1e-5 and "ok" or "FAILED"))
  if err > 1e-5 then os.exit(1) end
end)

local calls = 100000
local t = B.time(function()
  ann.no_grad(function() for _ = 1, calls do net(x) end end)
end)
B.report("infer", t / calls * 1e6, "us/call")
calls = 20000
t = B.time(function()
  ann.no_grad(function() for _ = 1, calls do general(x) end end)
end)
B.report("infer-general", t / calls * 1e6, "us/call")
B.footer("infer")
