-- fuzz/fuzz_api.lua: the random Lua-API driver of fuzz_api.c.  The fuzz
-- input is a program: each step takes bytes to choose an operation
-- (make a tensor of a random shape, 0-sized and 8-dim ones included; a
-- method of a tensor kept so far, views of views among them; a function
-- of ann or ann.nn) and its arguments (kept values, numbers, strings,
-- tables, nil, booleans: wrong types on purpose), run in pcall.  Errors
-- are expected; only a crash, a sanitizer report, a leak or a wrong
-- kind of error value (not a string) is a finding.
local data = ...
local ann = require("annlua")
local pos = 0
local function byte()
  pos = pos + 1
  return data:byte(pos) or 0
end
local function left() return pos < #data end

-- the methods of a tensor: the upvalue of its __index holds them
local methods = {}
do
  local idx = getmetatable(ann.zeros(1)).__index
  local _, m = debug.getupvalue(idx, 1)
  for k in pairs(m) do methods[#methods + 1] = k end
  table.sort(methods)
end
local funcs, nnfuncs = {}, {}
for k, v in pairs(ann) do
  if type(v) == "function" then funcs[#funcs + 1] = k end
end
for _, k in ipairs{"fit", "evaluate", "save", "load"} do
  funcs[#funcs + 1] = k
end
table.sort(funcs)
for _, k in ipairs{"Linear", "Sequential", "ReLU", "Tanh", "Sigmoid",
                   "LeakyReLU", "Identity", "Softmax", "Dropout",
                   "MSELoss", "CrossEntropyLoss", "BCELoss", "Perceptron"} do
  if ann.nn[k] then nnfuncs[#nnfuncs + 1] = k end
end

local dims = {0, 1, 1, 2, 2, 3, 4, 5, 7, 1, 2, 3, 8, 0, 2^31, 2^40, -1}
local floats = {0, 1, -1, 0.5, 2, 1e-8, 1e30, -1e30, 1/0, -1/0, 0/0, 3.7,
                2^53, -0.0, 1e-45, 2^63}
local strings = {"sum", "mean", "none", "float", "", "x", "relu", "cpu",
                 "\0", ("a"):rep(300)}
local slots = {}
local NSLOT = 12

local function shape()
  local nd = byte() % 9          -- 0 .. 8 dims
  local s, n = {}, 1
  for i = 1, nd do
    local b = byte()
    local d = (b < 200) and (b % 5) or dims[b % #dims + 1]
    s[i] = d
    n = n * d
  end
  -- keep most tensors small; huge shapes only when empty or refused
  if n > 4096 and byte() % 4 ~= 0 then
    for i = 1, nd do s[i] = s[i] % 3 end
  end
  return s
end

local arg
local function value()
  local b = byte()
  local k = b % 12
  if k <= 2 then return slots[b % NSLOT + 1]
  elseif k <= 5 then return (byte() % 11) - 3                 -- small ints
  elseif k == 6 then return floats[byte() % #floats + 1]
  elseif k == 7 then return strings[byte() % #strings + 1]
  elseif k == 8 then return nil
  elseif k == 9 then return byte() % 2 == 0
  elseif k == 10 then                                        -- a table
    local t, n = {}, byte() % 4
    for i = 1, n do t[i] = arg(1) end
    if byte() % 3 == 0 then t.reduction = strings[byte() % 3 + 1] end
    return t
  else
    local ok, t = pcall(ann.zeros, table.unpack(shape()))
    return ok and t or nil
  end
end
function arg(depth)
  if depth and depth > 2 then return byte() % 4 end
  return value()
end

local function keep(ok, r)
  if not ok and type(r) ~= "string" and not ann.is_tensor(r) then
    -- errors are strings (or a tensor a script raised): anything else is
    -- a binding forgetting its message
    if type(r) ~= "table" then
      error("non-string error: " .. type(r) .. " " .. tostring(r))
    end
  end
  if ok and r ~= nil then slots[byte() % NSLOT + 1] = r end
end

local function call(f, ...)
  return pcall(f, ...)
end

local steps = 0
while left() and steps < 64 do
  steps = steps + 1
  local op = byte() % 8
  if op == 0 then                                   -- a new tensor
    local makers = {"zeros", "ones", "rand", "randn", "empty", "full"}
    local m = makers[byte() % #makers + 1]
    local s = shape()
    if m == "full" then s[#s + 1] = floats[byte() % #floats + 1] end
    keep(call(ann[m], table.unpack(s)))
  elseif op <= 4 then                               -- a method
    local t = slots[byte() % NSLOT + 1]
    local name = methods[byte() % #methods + 1]
    local n = byte() % 4
    local a = {}
    for i = 1, n do a[i] = arg() end
    if t ~= nil then
      keep(call(function() return t[name](t, table.unpack(a, 1, n)) end))
    end
  elseif op == 5 then                               -- a function of ann
    local name = funcs[byte() % #funcs + 1]
    local n = byte() % 4
    local a = {}
    for i = 1, n do a[i] = arg() end
    keep(call(function() return ann[name](table.unpack(a, 1, n)) end))
  elseif op == 6 then                               -- a module, run
    local name = nnfuncs[byte() % #nnfuncs + 1]
    local n = byte() % 3
    local a = {}
    for i = 1, n do a[i] = arg() end
    local ok, m = call(function() return ann.nn[name](table.unpack(a, 1, n)) end)
    if ok and m ~= nil then
      keep(call(function() return m(arg(), arg()) end))
    else keep(ok, m) end
  else                                              -- index, tostring, #
    local t = slots[byte() % NSLOT + 1]
    local k = byte() % 4
    if k == 0 then keep(call(function() return t[(byte() % 5) - 1] end))
    elseif k == 1 then keep(call(tostring, t))
    elseif k == 2 then keep(call(function() return #t end))
    else keep(call(function() t[(byte() % 4)] = arg() end)) end
  end
end
