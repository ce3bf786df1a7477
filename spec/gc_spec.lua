-- Lua's collector must see tensor memory: a loop creating and dropping
-- 10,000 tensors of 4 MB (40 GB in all) with no collectgarbage call must
-- stay under 1 GB of peak RSS.  It runs in a child process so that the
-- peak (VmHWM) is the loop's own.

local quote = require("helpers").quote

local function spec_dir()
  local src = debug.getinfo(1, "S").source:sub(2)
  return src:match("^(.*)/[^/]*$") or "."
end

describe("garbage collection of tensors", function()
  it("keeps a loop of 10,000 4 MB tensors under 1 GB peak RSS", function()
    local setup = ("package.path = %q; package.cpath = %q")
      :format(package.path, package.cpath)
    local cmd = ("lua5.4 -e %s %s 10000 2>&1")
      :format(quote(setup), quote(spec_dir() .. "/gc_loop.lua"))
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    local ok = p:close()
    assert.is_true(ok, out)
    local peak_kb = tonumber(out:match("^(%d+)%s*$"))
    assert.is_not_nil(peak_kb, out)
    print(("\n  gc loop: peak RSS %.1f MB"):format(peak_kb / 1024))
    assert.is_true(peak_kb < 1024 * 1024,
                   ("peak RSS %d kB is not under 1 GB"):format(peak_kb))
  end)
end)
