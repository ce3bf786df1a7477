-- bench/lib/common.lua: what the workload scripts in bench/ share.
-- Each script times a workload after a warm-up, RUNS times (BENCH_RUNS,
-- 5 by default), and prints `name: value unit` lines (the median), the
-- threads and BLAS kernel in use, the peak resident memory, and a check of
-- the fast path against the general one made once before timing.

local ann = require("annlua")

local B = {RUNS = tonumber(os.getenv("BENCH_RUNS")) or 5}

function B.median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

-- seconds of fn(), median of RUNS runs after one warm-up run
function B.time(fn)
  fn()
  local t = {}
  for i = 1, B.RUNS do
    local t0 = ann.clock()
    fn()
    t[i] = ann.clock() - t0
  end
  return B.median(t), t
end

function B.header(name)
  local c = ann.config()
  print(string.format("== %s\n   annlua %s, BLAS %s, kernel %s, SIMD %s, "
                      .. "threads %d, median of %d runs", name, c.version,
                      tostring(c.blas):match("^%S+ %S+") or tostring(c.blas),
                      c.blas_core, c.simd, c.threads, B.RUNS))
end

-- "name: value unit", the line `make bench` collects
function B.report(name, value, unit)
  local fmt = value >= 100 and "%s: %.0f %s" or "%s: %.3g %s"
  print(string.format(fmt, name, value, unit))
end

-- peak resident memory of this process, in MB (Linux), or nil
function B.peak_rss()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local kb = s:match("VmHWM:%s*(%d+)")
  return kb and tonumber(kb) / 1024
end

function B.footer(name)
  local mb = B.peak_rss()
  if mb then B.report(name .. "-peak-rss", mb, "MB") end
end

-- the fused trainer's loss and gradients against autograd's on one batch,
-- printed and required to agree to 1e-5 (relative)
function B.check(trainer, xb, yb)
  local ok, err, lf, lg = trainer:check(xb, yb, 1e-5)
  print(string.format("   check: fused vs general loss %.7g / %.7g, largest "
                      .. "relative difference %.2g (limit 1e-5): %s", lf, lg,
                      err, ok and "ok" or "FAILED"))
  if not ok then os.exit(1) end
end

-- a synthetic classification set: x [n, d] standard normal, labels 1..c
-- drawn from the global generator (ann.manual_seed repeats it)
function B.classes(n, d, c)
  local u, t = ann.rand(n):totable(), {}
  for i = 1, n do t[i] = math.min(c, math.floor(u[i] * c) + 1) end
  return ann.randn(n, d), ann.tensor(t)
end

return B
