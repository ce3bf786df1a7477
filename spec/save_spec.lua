-- ann.save / ann.load: round trips, the byte layout, bad files, atomic
-- replace (a process killed mid-save), resume equivalence.
-- busted --lua=lua5.4 --cpath='build/lua/?.so' spec/save_spec.lua
local ann = require("annlua")
local nn = ann.nn
local h = require("helpers")

-- ---- helpers ----------------------------------------------------------

local dir = h.tmpdir()            -- a private directory for the files
local function file(name) return dir .. "/" .. name end

local slurp, spit, exists = h.readfile, h.writefile, h.exists

local crc32 = h.crc32

local MAGIC = "\x89ANN\r\n\x1a\n"

-- a whole file around body, as docs/file-format.md says
local function wrap(body, version)
  local head = MAGIC .. string.pack("<I4I8", version or 1, #body)
  return head .. body .. string.pack("<I8I4", #body, crc32(head .. body))
end

-- body records, by hand
local R = {}
function R.int(i) return string.pack("<Bi8", 3, i) end
function R.str(s) return string.pack("<Bs4", 5, s) end
function R.name(s) return string.pack("<s4", s) end
function R.table(n) return string.pack("<BI4", 6, n) end
function R.tensor(shape, data)
  local s = string.pack("<BBB", 7, 0, #shape)
  for _, d in ipairs(shape) do s = s .. string.pack("<I8", d) end
  for _, v in ipairs(data or {}) do s = s .. string.pack("<f", v) end
  return s
end

local function same(a, b)        -- same shape and bitwise-equal values
  if not (ann.is_tensor(a) and ann.is_tensor(b)) then return false end
  if table.concat(a:shape(), ",") ~= table.concat(b:shape(), ",") then
    return false
  end
  local x, y = a:contiguous():view(-1):totable(), b:contiguous():view(-1):totable()
  for i = 1, #x do
    if string.pack("<f", x[i]) ~= string.pack("<f", y[i]) then return false end
  end
  return true
end

-- the message of the error fn raises
local errmsg = h.fails

local function roundtrip(obj, name)
  local p = file(name or "rt.ann")
  assert(ann.save(obj, p))
  local back, err = ann.load(p)
  assert(err == nil, err)
  return back
end

local function params_equal(m1, m2)
  local a, b = m1:named_parameters(), m2:named_parameters()
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i][1] ~= b[i][1] or not same(a[i][2], b[i][2]) then return false end
  end
  return true
end

-- ---- round trips ------------------------------------------------------

describe("ann.save/ann.load round trips", function()
  it("tensors of many shapes, values exact", function()
    ann.manual_seed(5)
    local base = ann.randn(4, 6)
    local cases = {
      ann.tensor{1.5, -2, 0},
      ann.full({}, 7.25),                       -- 0-dim
      ann.zeros(0),                             -- empty
      ann.zeros(3, 0, 2),
      ann.randn(2, 3, 4),
      ann.randn(1, 2, 1, 2, 1, 2, 1, 2),        -- 8 dims
      base:t(),                                 -- transposed view
      base:narrow(2, 2, 3),                     -- narrowed
      base:select(2, 4),                        -- strided column
      ann.tensor{1, 2, 3}:view(1, 3):expand(4, 3), -- stride 0
      ann.tensor{1 / 0, -1 / 0, -0.0, 1e-45, 3.4e38},
    }
    for i, t in ipairs(cases) do
      local back = roundtrip(t)
      assert.is_true(same(t, back), "case " .. i)
      assert.is_true(back:is_contiguous())
    end
    local nan = roundtrip(ann.tensor{0 / 0})
    assert.is_true(nan:get(1) ~= nan:get(1))
    assert.are.equal(7.25, roundtrip(ann.full({}, 7.25)):item())
  end)

  it("keeps requires_grad, and a shared tensor stays one", function()
    local w = ann.randn(3):requires_grad()
    local back = roundtrip({w = w, again = w, plain = ann.ones(2)})
    assert.is_true(back.w:needs_grad())
    assert.is_false(back.plain:needs_grad())
    assert.are.equal(back.w, back.again)
    assert.is_true(same(w, back.w))
  end)

  it("nested tables with every plain type", function()
    local shared = {"s"}
    local obj = {
      t = true, f = false, zero = 0, maxi = math.maxinteger,
      mini = math.mininteger, third = 1 / 3, negzero = -0.0, inf = 1 / 0,
      tiny = 5e-324, big = 1.7976931348623157e308, empty = "",
      bin = "a\0b\r\n\255", long = string.rep("xyz", 50000),
      list = {1, 2.5, "three", {4}}, [1.5] = "float key", [true] = "yes",
      [false] = "no", [-7] = "negative", nested = {a = {b = {c = {d = {}}}}},
      s1 = shared, s2 = shared,
    }
    local back = roundtrip(obj)
    for _, k in ipairs{"t", "f", "zero", "maxi", "mini", "third", "inf",
                       "tiny", "big", "empty", "bin", "long"} do
      assert.are.equal(obj[k], back[k], k)
      assert.are.equal(math.type(obj[k]), math.type(back[k]), k)
    end
    assert.are.equal("-0.0", tostring(back.negzero))
    assert.are.same(obj.list, back.list)
    assert.are.equal("float key", back[1.5])
    assert.are.equal("yes", back[true])
    assert.are.equal("no", back[false])
    assert.are.equal("negative", back[-7])
    assert.are.same({}, back.nested.a.b.c.d)
    assert.are.equal(back.s1, back.s2)          -- sharing kept
    local n = roundtrip(0 / 0)
    assert.is_true(n ~= n)
    -- nil: see load_nil_spec.lua (nil and a message, not nil, nil)
    assert.are.equal("x", roundtrip("x"))
  end)

  it("a Sequential of every built-in layer", function()
    ann.manual_seed(11)
    local p = nn.Perceptron(3)
    p:fit(ann.tensor{{0, 0, 1}, {1, 1, 0}, {1, 0, 0}, {0, 1, 1}},
          ann.tensor{0, 1, 1, 0})
    local m = nn.Sequential{
      nn.Linear(3, 5), nn.Sigmoid(), nn.Linear(5, 5, {bias = false}),
      nn.Tanh(), nn.ReLU(), nn.LeakyReLU(0.2), nn.Identity(),
      nn.Dropout(0.3), nn.Linear(5, 4), nn.Softmax(2), nn.LogSoftmax(),
    }
    m:add(nn.Sequential(nn.Linear(4, 2), nn.Tanh()))   -- grown after new
    m:eval()
    m:get(2).training = true                           -- flags each kept
    local losses = {nn.MSELoss(), nn.BCELoss{reduction = "sum"},
                    nn.BCEWithLogitsLoss(), nn.CrossEntropyLoss{reduction = "none"},
                    nn.NLLLoss()}
    local back = roundtrip({model = m, perceptron = p, losses = losses})
    local b = back.model
    assert.are.equal(getmetatable(m), getmetatable(b))
    assert.are.equal(m.n, b.n)
    assert.is_true(params_equal(m, b))
    assert.are.equal(tostring(m), tostring(b))
    assert.is_false(b.training)
    assert.is_true(b:get(2).training)
    assert.is_false(b:get(12).training)
    assert.is_nil(b:get(3).bias)
    assert.are.equal(0.2, b:get(6).slope)
    assert.are.equal(0.3, b:get(8).p)
    local x = ann.randn(6, 3)
    assert.is_true(same(m(x), b(x)))
    -- the Perceptron's weights are not parameters but are kept
    assert.is_true(same(p.weight, back.perceptron.weight))
    assert.is_true(same(p.bias, back.perceptron.bias))
    assert.is_true(same(p(x), back.perceptron(x)))
    for i, l in ipairs(losses) do
      assert.are.equal(getmetatable(l), getmetatable(back.losses[i]))
      assert.are.equal(l.reduction, back.losses[i].reduction)
    end
  end)

  it("a user module, with children made in init and a buffer", function()
    local Net = nn.Module:extend("SaveSpecNet")
    function Net:init(n_in, hidden, opts)
      self.scale = opts.scale
      self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU())
      self.head = nn.Linear(hidden, 2)
      self.gain = ann.ones(2):requires_grad()
      self.counts = ann.zeros(2)                -- a buffer, not a parameter
    end
    function Net:forward(x)
      return self.head(self.body(x)) * self.gain * self.scale
    end
    ann.manual_seed(2)
    local net = Net(4, 8, {scale = 3})
    net.counts:fill(5)
    net.gain:detach():fill(0.5)
    local back = roundtrip(net)
    assert.are.equal(Net, getmetatable(back))
    assert.are.equal(3, back.scale)
    assert.is_true(params_equal(net, back))
    assert.are.equal(#net:parameters(), #back:parameters())
    assert.is_true(same(net.counts, back.counts))
    local x = ann.randn(3, 4)
    assert.is_true(same(net(x), back(x)))
    -- the loaded parameters train: they are leaves that require grad
    back(x):sum():backward()
    assert.is_not_nil(back.head.weight.grad)
  end)

  it("an optimiser's state, and load_state_dict", function()
    ann.manual_seed(4)
    local m = nn.Linear(3, 2)
    local opt = ann.optim.Adam(m:parameters(), {lr = 0.05, betas = {0.8, 0.9}})
    for _ = 1, 3 do
      opt:zero_grad()
      m(ann.randn(4, 3)):pow(2):sum():backward()
      opt:step()
    end
    local sd = roundtrip(opt)
    assert.are.equal("Adam", sd.optimizer)
    assert.are.equal(0.05, sd.hyper.lr)
    assert.are.same({0.8, 0.9}, sd.hyper.betas)
    assert.are.equal(3, sd.state.step)
    local m2 = nn.Linear(3, 2)
    local opt2 = ann.optim.Adam(m2:parameters())
    opt2:load_state_dict(sd)
    assert.are.equal(0.05, opt2.lr)
    assert.are.equal(3, opt2.state.step)
    for i = 1, 2 do
      assert.is_true(same(opt.state.m[i], opt2.state.m[i]))
      assert.is_true(same(opt.state.v[i], opt2.state.v[i]))
    end
    local wrong = ann.optim.Adam(nn.Linear(3, 3):parameters())
    assert.matches("Adam:load_state_dict: state.[mv]%[1%] is %[2,3%], "
                   .. "expected %[3,3%]",
                   errmsg(function() wrong:load_state_dict(sd) end))
    assert.is_true(same(wrong.state.m[1], ann.zeros(3, 3)))  -- untouched
    assert.matches("SGD:load_state_dict: the state is of Adam",
      errmsg(function() ann.optim.SGD(m2:parameters()):load_state_dict(sd) end),
      1, true)
  end)
end)

-- ---- the format -------------------------------------------------------

describe("the file format", function()
  it("writes a tiny file byte for byte as documented", function()
    local p = file("tiny.ann")
    assert(ann.save({x = ann.tensor{1.5, -2}, n = 3}, p))
    local body = "\x06\x02\x00\x00\x00"                      -- table, 2 keys
      .. "\x05\x01\x00\x00\x00n" .. "\x03\x03\0\0\0\0\0\0\0" -- n = 3
      .. "\x05\x01\x00\x00\x00x"                             -- x =
      .. "\x07\x00\x01" .. "\x02\0\0\0\0\0\0\0"              -- tensor [2]
      .. "\x00\x00\xC0\x3F" .. "\x00\x00\x00\xC0"            -- 1.5, -2
    assert.are.equal(45, #body)
    local head = "\x89ANN\r\n\x1a\n" .. "\x01\0\0\0" .. "\x2d\0\0\0\0\0\0\0"
    local crc = crc32(head .. body)
    local want = head .. body .. "\x2d\0\0\0\0\0\0\0"
      .. string.char(crc & 255, crc >> 8 & 255, crc >> 16 & 255, crc >> 24)
    assert.are.equal(want, slurp(p))
    -- and a file made by hand loads
    spit(p, wrap(R.table(1) .. R.str("k") .. R.tensor({2, 1}, {4, 5})))
    local back = assert(ann.load(p))
    assert.are.same({{4}, {5}}, back.k:totable())
  end)

  it("saves the same object to the same bytes", function()
    local obj = {b = 1, a = 2, [3] = "c", [1] = "a", z = {y = 1, x = 2}}
    assert(ann.save(obj, file("d1.ann")))
    assert(ann.save(obj, file("d2.ann")))
    assert.are.equal(slurp(file("d1.ann")), slurp(file("d2.ann")))
  end)
end)

-- ---- bad files ----------------------------------------------------------

describe("ann.load of bad files", function()
  local good, p
  setup(function()
    p = file("model.ann")
    ann.manual_seed(1)
    assert(ann.save({model = nn.Sequential(nn.Linear(3, 4), nn.ReLU()),
                     note = "hello"}, p))
    good = slurp(p)
  end)

  local function load_bytes(s)
    spit(p, s)
    return ann.load(p)
  end

  it("a missing file", function()
    local obj, err = ann.load(file("nope.ann"))
    assert.is_nil(obj)
    assert.are.equal(file("nope.ann") .. ": No such file or directory", err)
  end)

  it("truncated at every byte of the header and across the body", function()
    for k = 0, 19 do
      local obj, err = load_bytes(good:sub(1, k))
      assert.is_nil(obj)
      assert.matches("truncated", err, 1, true)
    end
    for _, k in ipairs{20, 21, 50, #good // 2, #good - 12, #good - 1} do
      local obj, err = load_bytes(good:sub(1, k))
      assert.is_nil(obj)
      assert.are.equal(string.format("%s: truncated: %d bytes, expected %d",
                                     p, k, #good), err)
    end
  end)

  it("a foreign file, or one mangled in text mode", function()
    for _, s in ipairs{"", "\x89PNG\r\n\x1a\n0000000000000000",
                       "return {}\n", (good:gsub("\r\n", "\n", 1)),
                       (good:gsub("\n", "\r\n", 1))} do
      local obj, err = load_bytes(s)
      assert.is_nil(obj)
      assert.matches(s == "" and "truncated" or "bad magic", err, 1, true)
    end
  end)

  it("a newer version", function()
    local obj, err = load_bytes(wrap(R.int(1), 2))
    assert.is_nil(obj)
    assert.are.equal(p .. ": format version 2 is newer than this annlua "
                     .. "reads (1)", err)
  end)

  it("a corrupted file: CRC mismatch, stray bytes", function()
    -- in the body, its last byte, the trailer's length, the CRC itself
    for _, at in ipairs{21, 25, #good // 2, #good - 12, #good - 5, #good} do
      local b = good:byte(at)
      local obj, err = load_bytes(good:sub(1, at - 1) .. string.char(b ~ 4)
                                  .. good:sub(at + 1))
      assert.is_nil(obj)
      assert.matches("corrupted", err, 1, true)
    end
    local _, err = load_bytes(good .. "\0")
    assert.matches("corrupted: 1 extra bytes", err, 1, true)
  end)

  it("a bad body with a correct CRC", function()
    local deep = string.rep(R.table(1) .. R.int(1), 300) .. R.int(0)
    local cases = {
      {"", "a record's tag needs 1 bytes, 0 left"},
      {"\x0a", "unknown record type 10"},
      {R.table(1000000), "1000000 table entries can't fit"},
      {R.table(0xFFFFFFFF), "table entries can't fit"},
      {R.table(1) .. R.int(1), "a record's tag needs 1 bytes"},
      {string.pack("<Bs4", 5, "abc"):sub(1, -2), "a string needs 3 bytes"},
      {string.pack("<BI4", 5, 0xFFFFFFF0), "a string needs 4294967280 bytes"},
      {R.tensor({1000, 1000}, {1, 2}), "data needs 4000000 bytes"},
      {R.tensor({1 << 62, 1 << 62}), "shape is too large"},
      {R.tensor({1, 1, 1, 1, 1, 1, 1, 1, 1}), "9 dims"},
      {string.pack("<BBB", 7, 9, 0), "tensor flags 9"},
      {deep, "nesting deeper than 200"},
      {string.pack("<BI4", 9, 1), "a reference to object 1"},
      {R.table(1) .. R.int(1) .. string.pack("<BI4", 9, 1),
       "a reference to object 1, which is not complete"},
      {R.table(2) .. R.int(1) .. R.int(1) .. R.int(1) .. R.int(2),
       "the key 1 twice"},
      {R.table(1) .. string.pack("<Bd", 4, 0 / 0) .. R.int(1), "NaN"},
      {R.table(1) .. R.table(0) .. R.int(1), "a table key that is a table"},
      {R.int(1) .. R.int(2), "bytes after the last record"},
      {"\x08" .. R.name("NoSuchLayer") .. R.table(0),
       "unknown module type 'NoSuchLayer': define the class"},
      {"\x08" .. R.name("Linear") .. R.int(3), "Linear's arguments are not"},
      -- (the records whole: they are all decoded before any module is
      -- rebuilt, and a truncated body is reported as such)
      {"\x08" .. R.name("Linear") .. R.table(2) .. R.int(1) .. R.int(0)
       .. R.str("n") .. R.int(1) .. "\x00" .. string.pack("<I4I4", 0, 0),
       "cannot rebuild Linear from its saved arguments"},
      {"\x08" .. R.name("Linear") .. R.table(2) .. R.int(1) .. R.int(0)
       .. R.str("n") .. R.int(1) .. "\x00", "a count of tensors needs 4 bytes"},
      {"\x08" .. R.name("Linear") .. R.table(3) .. R.int(1) .. R.int(2)
       .. R.int(2) .. R.int(3) .. R.str("n") .. R.int(2) .. "\x00"
       .. string.pack("<I4", 1) .. R.name("weight") .. R.tensor({2, 2}, {1, 2, 3, 4})
       .. string.pack("<I4", 0),
       "cannot rebuild Linear from its saved arguments: Linear(2, 3) needs a weight [3,2], the file holds [2,2]"},
    }
    for i, c in ipairs(cases) do
      local obj, err = load_bytes(wrap(c[1]))
      assert.is_nil(obj, "case " .. i)
      assert.is_string(err, "case " .. i)
      assert.matches(c[2], err, 1, true)
      assert.matches(p .. ": ", err, 1, true)
    end
  end)
end)

-- ---- misuse -------------------------------------------------------------

describe("ann.load bounds what constructors allocate (finding 9)", function()
  -- a module record: type, args (ints), training 0, tensors, no children
  local function module(name, args, tensors)
    local s = "\x08" .. R.name(name) .. R.table(#args + 1)
    for i, a in ipairs(args) do s = s .. R.int(i) .. R.int(a) end
    s = s .. R.str("n") .. R.int(#args) .. "\x00"
      .. string.pack("<I4", #(tensors or {}))
    for _, kt in ipairs(tensors or {}) do s = s .. R.name(kt[1]) .. kt[2] end
    return s .. string.pack("<I4", 0)
  end
  local function put(name, body)
    local p = file(name)
    local f = assert(io.open(p, "wb"))
    f:write(wrap(body))
    f:close()
    return p
  end
  local Alloc = nn.Module:extend("AllocTest")
  function Alloc:init(n) self.buf = ann.zeros(n) end

  it("a 108-byte file does not build Linear(3 -> 134217728)", function()
    local p = put("huge.ann", module("Linear", {3, 134217728}))
    assert.are.equal(108, #h.readfile(p))
    local t0 = os.clock()
    local obj, err = ann.load(p)
    assert.is_nil(obj)
    assert.are.equal(p .. ": cannot rebuild Linear from its saved arguments: "
                     .. "Linear(3, 134217728) has no saved weight", err)
    assert.is_true(os.clock() - t0 < 1)
    -- nor with a weight of another shape
    p = put("huge2.ann", module("Linear", {3, 134217728},
                                {{"weight", R.tensor({1, 3}, {1, 2, 3})}}))
    obj, err = ann.load(p)
    assert.is_nil(obj)
    assert.truthy(err:find("Linear(3, 134217728) needs a weight "
                           .. "[134217728,3], the file holds [1,3]", 1, true),
                  err)
  end)

  it("any class's constructor runs under an element quota", function()
    -- 2^20 elements asked, no tensors held: past 2 * 0 + 65536
    local p = put("alloc.ann", module("AllocTest", {2^20}))
    local obj, err = ann.load(p)
    assert.is_nil(obj)
    assert.truthy(err:find(p .. ": cannot rebuild AllocTest from its saved "
      .. "arguments: ", 1, true), err)
    assert.truthy(err:find("tensor: 1048576 elements, more than the 65536 "
      .. "left of the loader's limit (the elements of AllocTest's saved "
      .. "tensors twice, plus 65536: 65536; a max_elements option sets it)",
      1, true), err)
    -- max_elements bounds the whole load instead
    obj, err = ann.load(p, {max_elements = 1000})
    assert.is_nil(obj)
    assert.truthy(err:find("1048576 elements, more than the 1000 left of "
                           .. "the loader's limit (max_elements = 1000)", 1,
                           true), err)
    obj = assert(ann.load(p, {max_elements = 2^20}))
    assert.are.equal(2^20, obj.buf:numel())
    -- a module whose saved tensors hold 40000 elements may build 145536:
    -- a scratch of 100000 and its buffer fit, a scratch of 110000 does not
    local Scratch = nn.Module:extend("ScratchTest")
    function Scratch:init(n)
      local scratch = ann.zeros(n)
      self.buf = ann.zeros(40000)
    end
    local zeros = {}
    for i = 1, 40000 do zeros[i] = 0 end
    p = put("alloc2.ann", module("ScratchTest", {100000},
                                 {{"buf", R.tensor({40000}, zeros)}}))
    obj = assert(ann.load(p))
    assert.are.equal(40000, obj.buf:numel())
    p = put("alloc3.ann", module("ScratchTest", {110000},
                                 {{"buf", R.tensor({40000}, zeros)}}))
    obj, err = ann.load(p)
    assert.is_nil(obj)
    assert.truthy(err:find("40000 elements, more than the 35536 left", 1,
                           true), err)
    -- two modules under one max_elements: the second finds less left
    local q = put("two.ann", "\x06" .. string.pack("<I4", 2) .. R.int(1)
      .. module("AllocTest", {600}) .. R.int(2) .. module("AllocTest", {600}))
    obj, err = ann.load(q, {max_elements = 1000})
    assert.is_nil(obj)
    assert.truthy(err:find("600 elements, more than the 400 left", 1, true),
                  err)
    assert(ann.load(q, {max_elements = 1200}))
    -- outside ann.load, nothing is bounded
    assert.are.equal(2^20, ann.zeros(2^20):numel())
  end)

  it("checks its options", function()
    local p = file("opts.ann")
    assert(ann.save({v = 1}, p))
    h.fails(function() ann.load(p, {max_elemnts = 1}) end,
            "load: unknown option 'max_elemnts'")
    h.fails(function() ann.load(p, {max_bytes = 0}) end,
            "load: max_bytes must be a whole number >= 1")
    h.fails(function() ann.load(p, {max_elements = 2.5}) end,
            "load: max_elements must be a whole number >= 1")
    h.fails(function() ann.load(p, 7) end, "load: options must be a table")
    local obj, err = ann.load(p, {max_bytes = 40})
    assert.is_nil(obj)
    assert.truthy(err:find("(the max_bytes limit)", 1, true), err)
    assert.are.equal(1, ann.load(p, {max_bytes = 1000}).v)
  end)
end)

describe("ann.save misuse", function()
  it("names the unsaveable value's place and leaves no file", function()
    local p = file("misuse.ann")
    local cyc = {a = {}}
    cyc.a.back = cyc
    local cases = {
      {{callbacks = {f = print}}, "save: cannot save a function at obj.callbacks.f"},
      {{io.stdout}, "save: cannot save a userdata (FILE*) at obj[1]"},
      {{co = coroutine.create(print)}, "save: cannot save a thread at obj.co"},
      {cyc, "save: a cycle at obj.a.back"},
      {{[{}] = 1}, "save: cannot save a table as a table key at obj"},
      {{ds = setmetatable({}, {})}, "a table with a metatable at obj.ds"},
      {{m = nn.Sequential(nn.Linear(2, 2), nn.Module:extend()())},
       "the module at obj.m(args)[1][2] is of a class that is not registered"},
    }
    for _, c in ipairs(cases) do
      local err = errmsg(function() ann.save(c[1], p) end)
      assert.matches(c[2], err, 1, true)
      assert.matches("^spec/save_spec.lua:%d+: ", err)   -- blames the caller
      assert.is_false(exists(p))
    end
    local ls = io.popen("ls -a " .. h.quote(dir))
    assert.is_nil(ls:read("a"):find("misuse.ann", 1, true))   -- no temp file
    ls:close()
    assert.matches("save: bad argument #2 (file name expected, got number)",
                   errmsg(function() ann.save({}, 42) end), 1, true)
    assert.matches("load: bad argument #1 (file name expected, got nil)",
                   errmsg(function() ann.load() end), 1, true)
  end)

  it("gives nil, err for a place it can't write", function()
    local ok, err = ann.save({}, file("no/such/dir/m.ann"))
    assert.is_nil(ok)
    assert.matches("No such file or directory", err, 1, true)
  end)
end)

-- ---- atomic replace -----------------------------------------------------

describe("atomic save", function()
  it("replaces the old file and leaves no temp files", function()
    local p = file("replace.ann")
    assert(ann.save({v = 1}, p))
    assert(ann.save({v = 2}, p))
    assert.are.equal(2, ann.load(p).v)
    local ls = io.popen("ls -a " .. h.quote(dir))
    local names = ls:read("a")
    ls:close()
    assert.is_nil(names:find("replace.ann.ann-tmp", 1, true))
  end)

  it("a process killed mid-save leaves the previous file loadable", function()
    local p, marker = file("killed.ann"), file("killed.marker")
    ann.manual_seed(8)
    local small = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    assert(ann.save({model = small, epoch = 1}, p))
    local before = slurp(p)
    local cmd = string.format(
      "LUA_PATH_5_4=%q LUA_CPATH_5_4=%q lua5.4 spec/save_kill_child.lua %q %q"
      .. " >/dev/null 2>&1 & echo $!", package.path, package.cpath, p, marker)
    local child = io.popen(cmd)
    local pid = child:read("n")
    child:close()
    assert.is_number(pid)
    for _ = 1, 1200 do                    -- up to a minute for 200 MB
      if exists(marker) then break end
      os.execute("sleep 0.05")
    end
    assert.is_true(exists(marker), "the child never reached mid-save")
    assert.is_true(os.execute("kill -9 " .. pid))
    for _ = 1, 200 do
      if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then break end
      os.execute("sleep 0.05")
    end
    -- the temp file is there, named by the pattern (docs/file-format.md),
    -- and not a loadable model
    local tmp = dir .. "/.killed.ann.ann-tmp-" .. pid
    assert.is_true(exists(tmp))
    local f = io.open(tmp, "rb")
    local size = f:seek("end")
    f:close()
    assert.is_true(size > 100e6)          -- it was cut mid-write
    assert.is_nil((ann.load(tmp)))
    os.remove(marker)
    -- the old file is intact and loads
    assert.are.equal(before, slurp(p))
    local back = assert(ann.load(p))
    assert.are.equal(1, back.epoch)
    assert.is_true(params_equal(small, back.model))
    -- a temp file of a live process (a sleeping child) and files that only
    -- look alike stay; the next save of the path removes the dead one's
    local sl = io.popen("sleep 30 >/dev/null 2>&1 & echo $!")
    local live = sl:read("n")
    sl:close()
    local keep = {dir .. "/.killed.ann.ann-tmp-" .. live,
                  dir .. "/.killed.ann.ann-tmp-x" .. pid,
                  dir .. "/.other.ann.ann-tmp-" .. pid,
                  dir .. "/killed.ann.ann-tmp-" .. pid}
    for _, k in ipairs(keep) do h.writefile(k, "x") end
    local dead2 = dir .. "/.killed.ann.ann-tmp-" .. pid .. "-2"
    h.writefile(dead2, "x")
    assert(ann.save({model = small, epoch = 2}, p))
    assert.is_false(exists(tmp))
    assert.is_false(exists(dead2))
    for _, k in ipairs(keep) do
      assert.is_true(exists(k), k)
      os.remove(k)
    end
    os.execute("kill " .. live)
    assert.are.equal(2, ann.load(p).epoch)
  end)
end)

-- ---- resume ---------------------------------------------------------------

describe("resume equivalence", function()
  ann.manual_seed(21)
  local x = ann.randn(96, 4)
  local labels = {}
  for i = 1, 96 do
    local a, b = x:get(i, 1), x:get(i, 2)
    labels[i] = a + b > 0.3 and 1 or (a > b and 2 or 3)
  end
  local ds = ann.data.TensorDataset(x, ann.tensor(labels))
  local loss_fn = nn.CrossEntropyLoss()

  local function build()
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 8),
                         nn.ReLU(), nn.Linear(8, 3))
  end

  local function train(model, opt, loader, epochs)
    for _ = 1, epochs do
      for xb, yb in loader:iter() do
        opt:zero_grad()
        loss_fn(model(xb), yb):backward()
        opt:step()
      end
    end
  end

  local kinds = {
    Adam = function(ps) return ann.optim.Adam(ps, {lr = 0.01}) end,
    SGD = function(ps)
      return ann.optim.SGD(ps, {lr = 0.05, momentum = 0.9, nesterov = true})
    end,
  }
  for name, make_opt in pairs(kinds) do
    it("5 + 5 epochs equal 10 with " .. name, function()
      local function loader() return ann.data.DataLoader(ds,
        {batch_size = 16, shuffle = true, seed = 77}) end
      ann.manual_seed(1)
      local a = build()
      local la = loader()
      train(a, make_opt(a:parameters()), la, 10)

      ann.manual_seed(1)
      local b = build()
      local ob, lb = make_opt(b:parameters()), loader()
      train(b, ob, lb, 5)
      local p = file("resume-" .. name .. ".ann")
      assert(ann.save({model = b, optimizer = ob, epoch = lb.epoch}, p))

      ann.manual_seed(12345)              -- a fresh, different state
      local ck = assert(ann.load(p))
      local c = ck.model
      local oc = make_opt(c:parameters())
      oc:load_state_dict(ck.optimizer)
      local lc = loader()
      lc.epoch = ck.epoch
      train(c, oc, lc, 5)
      assert.are.equal(10, lc.epoch)
      assert.is_true(params_equal(a, c))
      assert.is_false(params_equal(a, b))    -- 5 epochs differ from 10
    end)
  end
end)

teardown(function()
  h.rmdir(dir)
end)
