-- spec/helpers.lua: what several specs share.  `local h =
-- require("helpers")`: .busted puts spec/ on the path, for `make test`
-- (spec/run) and plain `busted` from the repo root alike.  The checks
-- raise plain errors, which busted reports as failures.
local assert = require("luassert")  -- busted's, as the specs see it
local h = {}

-- fn must raise an error whose message holds each of the parts; returns it
function h.fails(fn, ...)
  local ok, err = pcall(fn)
  assert(not ok, "expected an error")
  err = tostring(err)
  for _, part in ipairs({...}) do
    assert(err:find(part, 1, true), ("error %q lacks %q"):format(err, part))
  end
  return err
end

-- numbers want and got differ by at most tol (absolute, default 1e-5)
function h.near(want, got, tol)
  tol = tol or 1e-5
  assert(math.abs(want - got) <= tol,
         ("expected %.9g, got %.9g"):format(want, got))
end

-- every element of tensor t is near the matching entry of the flat list
function h.near_all(want, t, tol)
  local flat = t:contiguous():view(-1)
  assert.are.equal(#want, flat:numel())
  for k = 1, #want do h.near(want[k], flat:get(k), tol) end
end

-- got (nested tables or numbers) is want to tol * max(1, |want|), NaN and
-- infinities exactly; path names the place in the message
function h.near_rel(got, want, tol, path)
  if type(want) == "table" then
    assert(type(got) == "table", path .. ": got " .. type(got) .. ", expected a table")
    assert(#got == #want, ("%s: length %d, expected %d"):format(path, #got, #want))
    for i = 1, #want do h.near_rel(got[i], want[i], tol, path .. "[" .. i .. "]") end
    return
  end
  assert(type(got) == "number", path .. ": got " .. type(got) .. ", expected a number")
  local ok
  if want ~= want then ok = got ~= got
  elseif want == math.huge or want == -math.huge then ok = got == want
  else ok = math.abs(got - want) <= tol * math.max(1, math.abs(want)) end
  if not ok then error(("%s: got %.9g, expected %.9g"):format(path, got, want), 0) end
end

-- tensor t holds want (nested tables, or a number if 0-dim): relative, 1e-5
function h.same(t, want, tol)
  tol = tol or 1e-5
  if type(want) == "number" then
    assert.are.equal(0, t:dim())
    h.near_rel(t:item(), want, tol, "item")
  else
    h.near_rel(t:totable(), want, tol, "t")
  end
end

-- whether numbers a and b differ by at most tol (default 1e-5)
function h.close(a, b, tol) return math.abs(a - b) <= (tol or 1e-5) end

-- s single-quoted for sh
function h.quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- the bytes of the file at path
function h.readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- writes s to path (replacing it); returns path
function h.writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
  return path
end

-- whether a file can be opened at path
function h.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- a new private directory (h.rmdir removes it with its contents)
function h.tmpdir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. h.quote(dir)))
  return dir
end

function h.rmdir(dir) os.execute("rm -rf " .. h.quote(dir)) end

-- path made absolute against the directory busted runs in (the repo root)
local cwd
function h.abspath(path)
  if path:sub(1, 1) == "/" then return path end
  cwd = cwd or io.popen("pwd"):read("l")
  return cwd .. "/" .. path
end

-- CRC-32 (IEEE, reflected), bit by bit: independent of zlib
function h.crc32(s)
  local c = 0xFFFFFFFF
  for i = 1, #s do
    c = c ~ s:byte(i)
    for _ = 1, 8 do
      c = (c >> 1) ~ (0xEDB88320 & -(c & 1))
    end
  end
  return ~c & 0xFFFFFFFF
end

-- the annlua interpreter, absolute: $ANNLUA_BIN (spec/run sets it), else the
-- one next to the C module busted loads (--cpath=B/lua/?.so), else build/'s
function h.annlua_bin()
  local bin = os.getenv("ANNLUA_BIN")
  if not bin then
    for dir in package.cpath:gmatch("([^;]-)/lua/%?%.so") do
      if h.exists(dir .. "/bin/annlua") then bin = dir .. "/bin/annlua"; break end
    end
  end
  return h.abspath(bin or "build/bin/annlua")
end

-- runs the sh command line cmd, stdin from the string stdin (or /dev/null),
-- output to files (not a terminal); returns stdout, stderr, exit code.  The
-- { } group lets a `2>&1` at the end of cmd reach the stdout file.
function h.run(cmd, stdin)
  local out, err = os.tmpname(), os.tmpname()
  local input = stdin and h.writefile(os.tmpname(), stdin) or "/dev/null"
  local _, _, code = os.execute(("{ %s\n} <%s >%s 2>%s"):format(
    cmd, h.quote(input), h.quote(out), h.quote(err)))
  local o, e = h.readfile(out), h.readfile(err)
  os.remove(out); os.remove(err)
  if stdin then os.remove(input) end
  return o, e, code
end

-- h.run of the interpreter with args (sh-quoted already) after env, a
-- string of VAR=value assignments
function h.annlua(args, stdin, env)
  return h.run((env or "") .. " " .. h.quote(h.annlua_bin()) .. " " .. args, stdin)
end

return h
