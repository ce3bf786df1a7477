--[[
ann.save(obj, path) and ann.load(path): model files that hold data, never
code.  The container (magic, version, length, CRC, atomic replace) is C:
src/ann_file.c, and so is the decoder of the body (src/ann_rec.c).  This
file writes the body, a tree of typed records (all numbers little-endian;
docs/file-format.md has the details), and rebuilds the modules of a
decoded one:

  tag u8   payload
  0 nil    -
  1 false  -
  2 true   -
  3 int    i64
  4 float  f64
  5 string u32 length, bytes
  6 table  u32 count, then count (key, value) records; keys sorted
  7 tensor u8 flags (1: requires grad), u8 ndim, ndim u64 dims, float32s
  8 module string type name, a table of constructor arguments, u8 training,
           u32 count of (string name, tensor record): its tensors,
           u32 count of (string name, module record): its children
  9 ref    u32 id: the id-th table, tensor or module begun before (1-based),
           for an object met twice (a shared tensor, Sequential's children)

A module is rebuilt by calling the class registered under its type name
(Module:extend(name)) with its saved arguments, and then copying the saved
tensors into the new module's (shapes checked).  An optimiser is saved as
opt:state_dict(), a plain table, and loads as one.
]]

local core = require("annlua.core")
local util = require("annlua.util")
local Module = require("annlua.nn.Module")
require("annlua.nn")              -- registers the built-in classes

local M = {}

local NIL, FALSE, TRUE, INT, FLOAT, STRING, TABLE, TENSOR, MODULE, REF =
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9
local MAXDEPTH = 200              -- nesting (ann_rec.c checks it when loading)

local pack = string.pack

-- arguments to save for classes whose constructor arguments can go stale:
-- a Sequential grows with add(), so its arguments are its children now
local args_of = {
  Sequential = function(m)
    local list = {}
    for i = 1, m.n do list[i] = m:get(i) end
    return {list, n = 1}
  end,
}

local function is_module(v)
  local mt = getmetatable(v)
  return type(v) == "table" and type(mt) == "table" and mt.__module == true
end

-- the string fields of m holding tensors: its parameters in order, then
-- the others (buffers, such as Perceptron's weights) sorted by name
local function tensor_fields(m)
  local names, seen = {}, {}
  for _, k in ipairs(rawget(m, "_param_names") or {}) do
    if core.is_tensor(rawget(m, k)) and not seen[k] then
      names[#names + 1] = k; seen[k] = true
    end
  end
  local rest = {}
  for k, v in pairs(m) do
    if type(k) == "string" and not seen[k] and core.is_tensor(v) then
      rest[#rest + 1] = k
    end
  end
  table.sort(rest)
  return table.move(rest, 1, #rest, #names + 1, names)
end

local function children(m)
  local list = {}
  for k, c in m:children() do list[#list + 1] = {k, c} end
  return list
end

-- ---- saving -------------------------------------------------------------
-- One pass over obj streams the body out: small records are gathered in
-- S.buf and written in blocks, tensors go straight from C.  A value that
-- can't be saved stops the pass; the temp file is dropped and the old file
-- stays as it was.

-- where we are in obj, for messages: "obj.layers[2].weight"
local function where(S, extra)
  local parts = {"obj"}
  for i = 1, S.depth do parts[#parts + 1] = S.keys[i] end
  return table.concat(parts) .. (extra or "")
end

local function fail(S, fmt, ...)
  error({msg = "save: " .. string.format(fmt, ...)})
end

local function segment(k)
  if type(k) == "string" then
    if k:match("^[%a_][%w_]*$") then return "." .. k end
    return string.format("[%q]", k)
  end
  return "[" .. tostring(k) .. "]"
end

local function flush(S)
  if S.n > 0 then
    S.w:write(table.concat(S.buf, "", 1, S.n))
    S.n, S.bytes = 0, 0
  end
end

-- s a string, or a tensor (its rank, shape and data, from C)
local function put(S, s)
  if type(s) ~= "string" then flush(S); S.w:tensor(s); return end
  S.n = S.n + 1
  S.buf[S.n] = s
  S.bytes = S.bytes + #s
  if S.bytes >= 65536 then flush(S) end
end

-- a name inside a module record: u32 length and bytes, no tag
local function put_name(S, s)
  put(S, pack("<s4", s))
end

local function put_string(S, s)
  if #s > 0xFFFFFFFF then fail(S, "a string of %d bytes at %s is too long",
                               #s, where(S)) end
  put(S, pack("<Bs4", STRING, s))
end

local keyrank = {boolean = 1, number = 2, string = 3}
local function keyless(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return keyrank[ta] < keyrank[tb] end
  if ta == "boolean" then return b and not a end
  return a < b
end

local save_value

local function descend(S, key, v)
  S.depth = S.depth + 1
  S.keys[S.depth] = key
  if S.depth > MAXDEPTH then
    fail(S, "nesting deeper than %d at %s", MAXDEPTH, where(S))
  end
  save_value(S, v)
  S.depth = S.depth - 1
end

-- an object met before is written as a reference; one still being
-- written when met again is a cycle
local function begin(S, v)
  if S.active[v] then
    fail(S, "a cycle at %s (a table inside itself)", where(S))
  end
  local id = S.ids[v]
  if id then put(S, pack("<BI4", REF, id)); return false end
  S.nids = S.nids + 1
  S.ids[v] = S.nids
  return true
end

local function save_table(S, t)
  if not begin(S, t) then return end
  S.active[t] = true
  local keys = {}
  for k in pairs(t) do
    if not keyrank[type(k)] then
      fail(S, "cannot save a %s as a table key at %s", type(k), where(S))
    end
    keys[#keys + 1] = k
  end
  table.sort(keys, keyless)
  if #keys > 0xFFFFFFFF then fail(S, "too many keys at %s", where(S)) end
  put(S, pack("<BI4", TABLE, #keys))
  for _, k in ipairs(keys) do
    save_value(S, k)
    descend(S, segment(k), t[k])
  end
  S.active[t] = nil
end

local function save_tensor(S, t)
  if not begin(S, t) then return end
  put(S, pack("<BB", TENSOR, (t:is_leaf() and t:needs_grad()) and 1 or 0))
  put(S, t)
end

local function save_module(S, m)
  local cls = getmetatable(m)
  local name = cls.__name
  if Module.find_class(name) ~= cls then
    fail(S, "the module at %s is of a class that is not registered under "
         .. "its name (%s): make each class with Module:extend(\"Name\") "
         .. "and a distinct name", where(S), tostring(name))
  end
  if not begin(S, m) then return end
  S.active[m] = true
  put(S, pack("<B", MODULE))
  put_name(S, name)
  local args = args_of[name] and args_of[name](m)
               or rawget(m, "_args") or {n = 0}
  descend(S, "(args)", args)
  put(S, pack("<B", m.training and 1 or 0))
  local names = tensor_fields(m)
  put(S, pack("<I4", #names))
  for _, k in ipairs(names) do
    put_name(S, k)
    descend(S, segment(k), rawget(m, k))
  end
  local kids = children(m)
  put(S, pack("<I4", #kids))
  for _, kc in ipairs(kids) do
    put_name(S, kc[1])
    descend(S, segment(kc[1]), kc[2])
  end
  S.active[m] = nil
end

function save_value(S, v)
  local tv = type(v)
  if v == nil then put(S, pack("<B", NIL))
  elseif tv == "boolean" then put(S, pack("<B", v and TRUE or FALSE))
  elseif math.type(v) == "integer" then put(S, pack("<Bi8", INT, v))
  elseif tv == "number" then put(S, pack("<Bd", FLOAT, v))
  elseif tv == "string" then put_string(S, v)
  elseif core.is_tensor(v) then save_tensor(S, v)
  elseif tv == "table" then
    local mt = getmetatable(v)
    if mt == nil then save_table(S, v)
    elseif is_module(v) then save_module(S, v)
    elseif type(mt) == "table" and mt.__optimizer then
      save_table(S, v:state_dict())
    else
      fail(S, "cannot save a table with a metatable at %s (only modules, "
           .. "optimisers, tensors, plain tables and plain values)",
           where(S))
    end
  else
    local mt = getmetatable(v)
    local kind = type(mt) == "table" and type(mt.__name) == "string"
                 and tv .. " (" .. mt.__name .. ")" or tv
    fail(S, "cannot save a %s at %s", kind, where(S))
  end
end

-- ann.save(obj, path) -> true, or nil, err (the file can't be written).
-- Misuse (a value that can't be saved) raises, naming where it is in obj.
function M.save(obj, path)
  if type(path) ~= "string" then
    util.error("save: bad argument #2 (file name expected, got "
          .. type(path) .. ")")
  end
  local w, err = core._file_writer(path)
  if not w then return nil, err end
  local S = {w = w, buf = {}, n = 0, bytes = 0, keys = {}, depth = 0,
             ids = {}, nids = 0, active = {}}
  local ok
  ok, err = pcall(function() save_value(S, obj); flush(S) end)
  if not ok then
    w:abort()
    util.error(type(err) == "table" and err.msg or err)
  end
  return w:commit()
end

-- ---- loading ------------------------------------------------------------
-- The body is decoded in C (src/ann_rec.c, through core._load_records):
-- every check of the records is there, and a class the program has not
-- defined stops the decoding at its name.  What comes back is the value
-- with each module as a descriptor (metatable DESC): {type, args,
-- training, tensors = {{name, t}, ...}, children = {{name, desc}, ...}},
-- one descriptor per module record, so sharing survives.  Here the modules
-- are rebuilt: every descriptor, wherever it sits, becomes the module made
-- by calling its registered class with its (rebuilt) arguments, with the
-- saved tensors copied in and its children attached.  Errors are raised
-- as {msg} and become nil, msg.

local DESC = {}

local function bad(D, fmt, ...)
  error({msg = string.format("%s: bad module: " .. fmt, D.path, ...)})
end

local function shapestr(t)
  return "[" .. table.concat(t:shape(), ",") .. "]"
end

local build

-- Constructor arguments come from the file: before a constructor runs,
-- what it may allocate is bounded by what the file holds for the module
-- (a 108-byte file must not build Linear(3 -> 134217728)).  Built-in
-- classes have their arguments compared with their saved tensors' shapes;
-- every class's constructor runs under an element quota of the state's
-- context (core._quota): twice the elements of the tensors the file holds
-- for the module and its children, plus SLACK, or with max_elements given,
-- what is left of max_elements over the whole load.
local SLACK = 65536

local function dims(t) return t:shape() end

-- the saved tensors of descriptor d by name
local function saved(d)
  local s = {}
  for _, kt in ipairs(d.tensors) do s[kt[1]] = kt[2] end
  return s
end

-- checks of built-in classes' arguments against their saved tensors:
-- nil, or what does not match
local args_check = {
  Linear = function(args, s)
    local i, o = args[1], args[2]
    if math.type(i) ~= "integer" or math.type(o) ~= "integer" then return end
    if not s.weight then
      return string.format("Linear(%d, %d) has no saved weight", i, o)
    end
    local w = dims(s.weight)
    if #w ~= 2 or w[1] ~= o or w[2] ~= i then
      return string.format("Linear(%d, %d) needs a weight [%d,%d], the file "
                           .. "holds [%s]", i, o, o, i, table.concat(w, ","))
    end
  end,
  Perceptron = function(args, s)
    local n = args[1]
    if math.type(n) ~= "integer" then return end
    local w = s.weight and dims(s.weight)
    if not w or #w ~= 1 or w[1] ~= n then
      return string.format("Perceptron(%d) needs a weight [%d], the file "
                           .. "holds %s", n, n, w and "[" ..
                           table.concat(w, ",") .. "]" or "none")
    end
  end,
}

-- elements of the tensors the file holds for descriptor d and its children
local function held(D, d)
  local n = D.held[d]
  if n then return n end
  n = 0
  D.held[d] = 0                        -- a cycle counts once
  for _, kt in ipairs(d.tensors) do n = n + kt[2]:numel() end
  for _, kc in ipairs(d.children) do
    if getmetatable(kc[2]) == DESC then n = n + held(D, kc[2]) end
  end
  D.held[d] = n
  return n
end

-- v with every descriptor inside replaced by its module; tables in place
local function resolve(D, v)
  if type(v) ~= "table" then return v end
  if getmetatable(v) == DESC then return build(D, v) end
  if not D.seen[v] then
    D.seen[v] = true
    for k, x in pairs(v) do
      if type(x) == "table" then v[k] = resolve(D, x) end
    end
  end
  return v
end

-- copies the state of module src (freshly loaded) into dst, the module
-- the constructor of dst's parent built in its place
local function copy_state(D, dst, src, name)
  if getmetatable(dst) ~= getmetatable(src) then
    bad(D, "child %s is a %s in the file but the rebuilt module has a %s",
        name, getmetatable(src).__name, getmetatable(dst).__name)
  end
  for _, k in ipairs(tensor_fields(src)) do
    local cur, t = rawget(dst, k), rawget(src, k)
    if core.is_tensor(cur) then
      if shapestr(cur) ~= shapestr(t) then
        bad(D, "%s.%s is %s in the file but %s in the rebuilt module",
            name, k, shapestr(t), shapestr(cur))
      end
      cur:copy(t)
    else
      rawset(dst, k, t)
    end
  end
  for _, kc in ipairs(children(src)) do
    local cur = rawget(dst, kc[1])
    if is_module(cur) then copy_state(D, cur, kc[2], name .. "." .. kc[1])
    else dst:register_module(kc[1], kc[2]) end
  end
  dst.training = src.training
end

-- the module of descriptor d, made once
function build(D, d)
  local m = D.built[d]
  if m then return m end
  local name = d.type
  local cls = Module.find_class(name)   -- known: checked while decoding
  local args = resolve(D, d.args)
  local nargs = args.n or #args
  if math.type(nargs) ~= "integer" or nargs < 0 or nargs > 250 then
    bad(D, "%s has %s arguments", name, tostring(nargs))
  end
  local ok, why
  if args_check[name] then
    why = args_check[name](args, saved(d))
    if why then
      error({msg = string.format("%s: cannot rebuild %s from its saved "
        .. "arguments: %s", D.path, name, why)})
    end
  end
  local quota = D.left or 2 * held(D, d) + SLACK
  core._quota(quota)
  ok, m = pcall(cls, table.unpack(args, 1, nargs))
  local left = core._quota(nil)
  if D.left then D.left = left end
  if not ok then
    local msg = tostring(m)
    if msg:find("left of the loader's limit", 1, true) then
      msg = msg .. (D.left and string.format(" (max_elements = %d)",
                                             D.max_elements)
        or string.format(" (the elements of %s's saved tensors twice, "
                         .. "plus %d: %d; a max_elements option sets it)",
                         name, SLACK, quota))
    end
    error({msg = string.format("%s: cannot rebuild %s from its saved "
      .. "arguments: %s", D.path, name, require("annlua.util").strip(msg))})
  end
  for _, kt in ipairs(d.tensors) do
    local k, t = kt[1], kt[2]
    local cur = rawget(m, k)
    if core.is_tensor(cur) then
      if shapestr(cur) ~= shapestr(t) then
        bad(D, "%s.%s is %s in the file but %s in the rebuilt module",
            name, k, shapestr(t), shapestr(cur))
      end
      cur:copy(t)
    elseif cur == nil then
      if t:needs_grad() then m:register_parameter(k, t)
      else rawset(m, k, t) end
    else
      bad(D, "%s.%s is a tensor in the file but a %s in the rebuilt module",
          name, k, type(cur))
    end
  end
  for _, kc in ipairs(d.children) do
    local k, c = kc[1], build(D, kc[2])
    local cur = rawget(m, k)
    if cur == c then                       -- passed to the constructor
    elseif is_module(cur) then copy_state(D, cur, c, name .. "." .. k)
    elseif cur == nil then m:register_module(k, c)
    else bad(D, "%s.%s is a %s in the rebuilt module, not a module", name,
             k, type(cur)) end
  end
  m.training = d.training
  D.built[d] = m
  return m
end

local MAX_BYTES = 2^32               -- ann.load's default file size limit

-- ann.load(path [, {max_bytes = 2^32, max_elements = n}]) -> obj, or nil,
-- err (also for a valid file that holds nil: "path: the file holds nil")
function M.load(path, opts)
  if type(path) ~= "string" then
    util.error("load: bad argument #1 (file name expected, got "
          .. type(path) .. ")")
  end
  opts = util.options("load", opts, {max_bytes = true, max_elements = true})
  for _, k in ipairs({"max_bytes", "max_elements"}) do
    local v = opts[k]
    if v ~= nil and not (math.type(v) == "integer" and v >= 1
                         or math.type(v) == "float" and v >= 1 and v < 2^63
                            and v == math.floor(v)) then
      util.fail("load: %s must be a whole number >= 1, got %s", k, tostring(v))
    end
  end
  local value, err = core._load_records(path,
                                        math.tointeger(opts.max_bytes) or MAX_BYTES,
                                        Module.class_names(), DESC)
  if err then return nil, err end
  local D = {path = path, built = {}, seen = {}, held = {},
             left = opts.max_elements, max_elements = opts.max_elements}
  local grad = core._set_grad_enabled(false)     -- copies into parameters
  local rng = core.get_rng_state()   -- constructors draw initial weights:
  local ok, obj = pcall(resolve, D, value)
  core._quota(nil)
  core.set_rng_state(rng)            -- loading leaves the stream as it was
  core._set_grad_enabled(grad)
  if not ok then
    return nil, type(obj) == "table" and obj.msg or tostring(obj)
  end
  -- a nil result always comes with a message: a valid file holding nil
  -- (ann.save(nil, path)) is told apart from a value, and
  -- assert(ann.load(path)) says why
  if obj == nil then return nil, path .. ": the file holds nil" end
  return obj
end

return M
