-- Small helpers shared by the Lua modules: errors that point at the
-- user's line, and the options-table check.

local util = {}

-- the directory of annlua's Lua files, as it appears in chunk names
-- ("@lua/annlua/" in the interpreter, "@/usr/share/lua/5.4/annlua/" when
-- installed): a frame whose source starts with it is ours
-- A host may open annlua without the debug library (a sandbox): errors
-- then point at the caller of the checking function, as a plain
-- error(msg, 2) from it would.
local getinfo = type(debug) == "table" and debug.getinfo or nil
local here = getinfo and getinfo(1, "S").source or ""
local lib = here:match("^(@.*[/\\])util%.lua$")

-- the C bindings blame the same frame for their errors (lann_raise)
do
  local ok, core = pcall(require, "annlua.core")
  if lib and ok and type(core) == "table" and core._lib_prefix then
    core._lib_prefix(lib)
  end
end

local function internal(info)
  return info.what == "C"
         or (lib ~= nil and info.source:sub(1, #lib) == lib)
end

-- the level, counted from the function calling this, of the first frame
-- outside annlua's Lua files and C functions: the user's line that called
-- into annlua, however deep the check sits; 2 (that function's caller)
-- when there is no such frame
local function user_level()
  if not getinfo then return 3 end
  local level = 3
  while true do
    local info = getinfo(level, "S")
    if info == nil then return 2 end
    if not internal(info) then return level - 1 end
    level = level + 1
  end
end
util.user_level = user_level

-- util.error(msg): raises msg at the user's line (user_level)
function util.error(msg)
  error(msg, user_level())
end

-- util.fail(fmt, ...): util.error(string.format(fmt, ...))
function util.fail(fmt, ...)
  error(string.format(fmt, ...), user_level())
end

-- msg without the "file:line: " that error() put in front of it (for a
-- message caught by pcall and raised again in other words)
function util.strip(msg)
  return (tostring(msg):gsub("^[^\n:]*:%d+: ", "", 1))
end

-- raises msg unless cond, at the user's line (util.error); the level
-- argument of older callers is no longer needed and ignored
function util.check(cond, msg)
  if not cond then util.error(msg) end
  return cond
end

-- util.options(op, opts, known): opts must be nil or a table whose keys
-- are all keys of known (name -> true, or name -> default); raises "op: unknown option
-- 'k' (known: a, b)" naming the first bad key.  Returns opts or {}.
function util.options(op, opts, known)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    util.fail("%s: options must be a table, got %s", op, type(opts))
  end
  for k in pairs(opts) do
    if type(k) ~= "string" or known[k] == nil then
      local names = {}
      for name in pairs(known) do names[#names + 1] = name end
      table.sort(names)
      util.fail("%s: unknown option '%s' (known: %s)", op, tostring(k),
                table.concat(names, ", "))
    end
  end
  return opts
end

-- util.set{"a", "b"} -> {a = true, b = true}
function util.set(list)
  local s = {}
  for _, k in ipairs(list) do s[k] = true end
  return s
end

return util
