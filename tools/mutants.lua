-- tools/mutants.lua: a mutation run.  Plants the small bugs listed in
-- tools/mutants.txt one at a time in a scratch copy of the tree, builds
-- what changed and runs the suite (the C tests first, then busted; each
-- stops at its first failure), and reports which mutants the suite kills.
-- A survivor is a bug no test would notice: it needs a test, or a note
-- saying why it changes nothing (an equivalent mutant).
--
--   lua5.4 tools/mutants.lua [--list FILE] [--only NAME,...] [--keep]
--   make mutants [ONLY=name,...]          (the same, under nice -n 10)
--
-- The checkout is never written: tracked and untracked (not ignored)
-- files are copied to a temporary directory with the checkout's build/
-- (so that only what a mutant touches is rebuilt), the unmutated copy is
-- built and must pass the whole suite first, and each mutant is planted,
-- tested and taken out again there.  The list's format: entries of four
-- lines, "name:", "file:", "from:" (a snippet found exactly once in the
-- file) and "to:" (its replacement), each value after ": "; optionally
-- "test:", C test names or spec files tried first (a quick kill), and
-- "equivalent:", why no test can tell the mutant from the original (it
-- is still run, and reported apart if it survives); "#" lines are
-- comments.  Exit status 0 when every mutant not marked equivalent is
-- killed.

local function sh(cmd)                 -- run cmd; true if it exited 0
  local ok = os.execute(cmd)
  return ok == true
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function readfile(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function writefile(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function capture(cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("a")
  p:close()
  return s
end

local function count(s, part)          -- plain occurrences of part in s
  local n, i = 0, 1
  while true do
    local a, b = s:find(part, i, true)
    if not a then return n end
    n, i = n + 1, b + 1
  end
end

-- ---- options and the list
local listfile, only, keep = "tools/mutants.txt", nil, false
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    if a == "--list" then listfile = arg[i + 1]; i = i + 1
    elseif a == "--only" then
      only = {}
      for n in (arg[i + 1] or ""):gmatch("[^,%s]+") do only[n] = true end
      i = i + 1
    elseif a == "--keep" then keep = true
    else
      io.stderr:write("mutants: unknown argument " .. a .. "\n")
      os.exit(2)
    end
    i = i + 1
  end
end

local function parse(path)
  local list, cur, ln = {}, nil, 0
  local function close()
    if not cur then return end
    for _, k in ipairs{"name", "file", "from", "to"} do
      if not cur[k] then
        error(("%s:%d: entry %s has no %s:"):format(path, cur.line,
              cur.name or "?", k), 0)
      end
    end
    list[#list + 1] = cur
    cur = nil
  end
  for line in (readfile(path) .. "\n"):gmatch("(.-)\n") do
    ln = ln + 1
    if line:match("^%s*$") or line:match("^#") then
      -- a blank line or a comment
    else
      local k, v = line:match("^(%a+): (.*)$")
      if not k then
        local k0 = line:match("^(%a+):$")
        if k0 then k, v = k0, "" end
      end
      if not k or not ({name = 1, file = 1, from = 1, to = 1, test = 1,
                           equivalent = 1})[k] then
        error(("%s:%d: expected name:, file:, from:, to:, test: or "
               .. "equivalent:"):format(
              path, ln), 0)
      end
      if k == "name" then close(); cur = {line = ln} end
      if not cur then error(("%s:%d: %s: before name:"):format(path, ln, k), 0) end
      if cur[k] then error(("%s:%d: %s: twice"):format(path, ln, k), 0) end
      cur[k] = v
    end
  end
  close()
  return list
end

local ok_list, list = pcall(parse, listfile)
if not ok_list then
  io.stderr:write("mutants: " .. list .. "\n")
  os.exit(2)
end
local names = {}
for _, m in ipairs(list) do
  if names[m.name] then
    io.stderr:write("mutants: two entries named " .. m.name .. "\n")
    os.exit(2)
  end
  names[m.name] = true
end
if only then
  local sel = {}
  for _, m in ipairs(list) do if only[m.name] then sel[#sel + 1] = m end end
  for n in pairs(only) do
    if not names[n] then
      io.stderr:write("mutants: no entry named " .. n .. "\n")
      os.exit(2)
    end
  end
  list = sel
end

-- every snippet exactly once in the checkout, or the entry is stale
local stale = {}
for _, m in ipairs(list) do
  local okf, text = pcall(readfile, m.file)
  local n = okf and count(text, m.from) or 0
  if not okf then m.bad = "no file " .. m.file
  elseif n ~= 1 then
    m.bad = ("snippet found %d times in %s"):format(n, m.file)
  elseif m.from == m.to then m.bad = "from: and to: are the same"
  end
  if m.bad then stale[#stale + 1] = m end
end

-- ---- the scratch copy
local LUA = os.getenv("LUA") or "lua5.4"
local MAKE = os.getenv("MAKE") or "make"
local JOBS = os.getenv("MUTANT_JOBS") or "2"
local root = capture("pwd"):gsub("\n$", "")
local tmp = capture("mktemp -d \"${TMPDIR:-/tmp}/annlua-mutants.XXXXXX\""):gsub("\n$", "")
assert(tmp ~= "", "mutants: mktemp failed")
local log = tmp .. "/log"
io.write(("mutants: %d entries from %s; scratch copy in %s\n"):format(
  #list, listfile, tmp))
io.flush()

local function cleanup()
  if keep then io.write("mutants: kept " .. tmp .. "\n")
  else sh("rm -rf " .. quote(tmp)) end
end

local function fail(msg)
  io.stderr:write("mutants: " .. msg .. "\n")
  cleanup()
  os.exit(2)
end

-- tar keeps the files' times, so the copied build/ is as up to date as
-- it was in the checkout
if not sh(("cd %s && git ls-files -z --cached --others --exclude-standard "
           .. "| tar --null -T - -cf - 2>/dev/null | (cd %s && tar -xf -)")
          :format(quote(root), quote(tmp))) then
  fail("copying the tree failed")
end
if sh("test -d " .. quote(root .. "/build")) then
  sh(("cp -a %s %s"):format(quote(root .. "/build"), quote(tmp .. "/build")))
end

local ctests = {}
for f in capture("cd " .. quote(tmp) .. " && ls spec/c/test_*.c"):gmatch("[^\n]+") do
  ctests[#ctests + 1] = f:match("spec/c/(.-)%.c$")
end
local targets = "all"
for _, t in ipairs(ctests) do targets = targets .. " build/test/" .. t end

local function build()
  return sh(("cd %s && %s -s -j%s %s >%s 2>&1"):format(quote(tmp), MAKE, JOBS,
            targets, quote(log)))
end

-- a test run: true if it passed; else the failing test's name
local CT_LIMIT, BUSTED_LIMIT = 300, 1800
local function run_ctest(t)
  local ok = sh(("cd %s && timeout -k 5 %d build/test/%s >%s 2>&1")
                :format(quote(tmp), CT_LIMIT, t, quote(log)))
  return ok, t
end

local busted = capture("command -v busted"):gsub("\n$", "")
if busted == "" then fail("busted not found (make deps installs lua-busted)") end
local function run_busted(files)
  local ok = sh(("cd %s && ANNLUA_BIN=build/bin/annlua timeout -k 5 %d %s %s "
                 .. "--ignore-lua -o TAP --no-keep-going --cpath='build/lua/?.so' "
                 .. "%s >%s 2>&1"):format(quote(tmp), BUSTED_LIMIT, LUA,
                 quote(busted), files, quote(log)))
  if ok then return true end
  local what = readfile(log):match("\nnot ok %d+ %- ([^\n]*)")
  return false, "busted: " .. (what or "crashed or timed out")
end

-- the whole suite, stopping at the first failure; hints first
local function suite(hints)
  local done = {}
  for h in (hints or ""):gmatch("%S+") do
    local ok, what
    if h:match("%.lua$") then ok, what = run_busted(h)
    else ok, what = run_ctest(h) end
    if not ok then return false, what end
    done[h] = true
  end
  for _, t in ipairs(ctests) do
    if not done[t] then
      local ok, what = run_ctest(t)
      if not ok then return false, what end
    end
  end
  return run_busted("spec")
end

io.write("mutants: building and testing the unmutated copy\n")
io.flush()
if not build() then
  fail("the unmutated copy does not build; see " .. log .. "\n"
       .. readfile(log):sub(-2000))
end
do
  local t0 = os.time()
  local ok, what = suite()
  if not ok then
    keep = true
    fail("the unmutated copy fails " .. what .. "; fix that first (log: "
         .. log .. ")")
  end
  io.write(("mutants: the suite passes unmutated (%d s)\n"):format(os.time() - t0))
  io.flush()
end

-- ---- the run
local killed, survived, broken, equiv = {}, {}, {}, {}
for i, m in ipairs(list) do
  if not m.bad then
    local path = tmp .. "/" .. m.file
    local orig = readfile(path)
    local a, b = orig:find(m.from, 1, true)
    writefile(path, orig:sub(1, a - 1) .. m.to .. orig:sub(b + 1))
    local t0 = os.time()
    local verdict
    if not build() then
      verdict = "does not build"
      broken[#broken + 1] = m
    else
      local ok, what = suite(m.test)
      if ok and m.equivalent then
        verdict = "survived, equivalent"
        equiv[#equiv + 1] = m
      elseif ok then
        verdict = "SURVIVED"
        survived[#survived + 1] = m
      else
        verdict = "killed by " .. what
        killed[#killed + 1] = m
      end
    end
    writefile(path, orig)              -- rebuilt by the next build()
    io.write(("%3d/%d %-24s %s (%s, %d s)\n"):format(i, #list, m.name,
             verdict, m.file, os.time() - t0))
    io.flush()
  end
end
build()

io.write("\nmutants: summary\n")
for _, m in ipairs(stale) do
  io.write(("  stale   %-24s %s (list line %d)\n"):format(m.name, m.bad, m.line))
end
for _, m in ipairs(broken) do
  io.write(("  broken  %-24s does not compile: fix its to: line\n"):format(m.name))
end
for _, m in ipairs(survived) do
  io.write(("  SURVIVED %-23s %s: %s -> %s\n"):format(m.name, m.file,
           m.from:gsub("^%s+", ""), (m.to:gsub("^%s+", ""))))
end
for _, m in ipairs(equiv) do
  io.write(("  equivalent %-21s %s\n"):format(m.name, m.equivalent))
end
local tested = #killed + #survived + #equiv
io.write(("mutants: %d of %d killed (%.0f%%), %d survived, %d equivalent, "
          .. "%d stale, %d not building\n"):format(#killed, tested,
          tested > 0 and 100 * #killed / tested or 0, #survived, #equiv,
          #stale, #broken))
cleanup()
os.exit((#survived == 0 and #stale == 0 and #broken == 0) and 0 or 1)
