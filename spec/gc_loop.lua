-- Run by spec/gc_spec.lua in a child lua5.4: creates and drops N tensors
-- of 4 MB each with no explicit collectgarbage call, then prints the peak
-- resident set size (VmHWM, in kB) the process reached.
local ann = require("annlua")
local n = tonumber(arg and arg[1]) or 10000
for _ = 1, n do
  local t = ann.zeros(1024, 1024)
  t[1][1] = 1   -- use it, so nothing can optimise the tensor away
end
local f = assert(io.open("/proc/self/status"))
local status = f:read("a")
f:close()
local peak = status:match("VmHWM:%s*(%d+)%s*kB")
assert(peak, "no VmHWM in /proc/self/status")
print(peak)
