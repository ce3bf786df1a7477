-- bench/tensor.lua: the runtime's own figures: mm GFLOP/s (64x256x784 and
-- 1024^3, on 1 and 2 threads) and elementwise throughput in GB/s (a + b
-- and a:tanh() on 16M floats: bytes read and written per second, counting
-- the new result tensor, whose fresh pages the kernel must fault in; and
-- c:add_(b), in place).
--   build/bin/annlua bench/tensor.lua

package.path = "bench/lib/?.lua;" .. package.path
local B = require("common")
local ann = require("annlua")

B.header("tensor: mm and elementwise")
ann.manual_seed(1)
for _, shape in ipairs{{64, 784, 256}, {1024, 1024, 1024}} do
  local m, k, n = shape[1], shape[2], shape[3]
  local a, b = ann.randn(m, k), ann.randn(k, n)
  for _, threads in ipairs{1, 2} do
    ann.set_num_threads(threads)
    local reps = m * k * n < 1e8 and 200 or 5
    local s = B.time(function() for _ = 1, reps do a:mm(b) end end)
    B.report(string.format("mm-%dx%dx%d-%dt", m, k, n, threads),
             2 * m * k * n * reps / s / 1e9, "GFLOP/s")
  end
end
ann.set_num_threads(2)

local n = 16 * 1024 * 1024
local a, b = ann.rand(n), ann.rand(n)
local s = B.time(function() local _ = a + b end)
B.report("add-16M", 3 * 4 * n / s / 1e9, "GB/s")
local c = a:clone()
s = B.time(function() c:add_(b) end)
B.report("add_-16M-in-place", 3 * 4 * n / s / 1e9, "GB/s")
s = B.time(function() local _ = a:tanh() end)
B.report("tanh-16M", 2 * 4 * n / s / 1e9, "GB/s")
B.footer("tensor")
