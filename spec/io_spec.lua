-- io_spec.lua: the file readers and writers from Lua (src/ldata.c over
-- ann_csv.c, ann_idx.c, ann_npy.c).  Small files are written here; the
-- real data sets in examples/data are checked against facts computed
-- outside annlua (class counts and column sums by awk and od).
-- Expected failures give nil, err; misuse raises.
local ann = require("annlua")
local core = require("annlua.core")
local h = require("helpers")

local DATA = "examples/data/"
local base = os.tmpname()        -- a file of our own; names derive from it
local made = {base}

local function path(name)
  local p = base .. "_" .. name
  made[#made + 1] = p
  return p
end

local function write(name, bytes) return h.writefile(path(name), bytes) end
local read = h.readfile

-- fn must raise an error containing each of the parts
local raises = h.fails

-- a nil, err result whose err contains each of the parts
local function fails(part, a, b, ...)
  assert.is_nil(a)
  assert.are.equal("string", type(b))
  assert(b:find(part, 1, true), ("error %q lacks %q"):format(b, part))
  assert.are.equal(0, select("#", ...))
end

teardown(function()
  for _, p in ipairs(made) do os.remove(p) end
end)

describe("core.csv_read", function()
  it("reads iris with sklearn's header line as classes 1..3", function()
    local x, y, classes = core.csv_read(DATA .. "iris.csv",
                                        {header = true, classes = true})
    assert.are.same({150, 4}, x:shape())
    assert.are.same({150}, y:shape())
    assert.are.same({0, 1, 2}, classes)
    assert.are.equal("integer", math.type(classes[1]))
    -- column sums by awk: 876.5 458.6 563.7 179.9; 50 rows per class
    local s = x:sum(1):totable()
    for j, want in ipairs{876.5, 458.6, 563.7, 179.9} do
      assert.is_true(math.abs(s[j] - want) < 1e-3)
    end
    for k = 1, 3 do assert.are.equal(50, y:eq(k):sum():item()) end
    assert.is_true(math.abs(x:get(1, 1) - 5.1) < 1e-6)
    assert.is_true(math.abs(x:get(150, 4) - 1.8) < 1e-6)
  end)

  it("reads digits.csv.gz through zlib: 1797 x 64, digits as classes",
     function()
    local t0 = os.clock()
    local x, y, classes = core.csv_read(DATA .. "digits.csv.gz",
                                        {classes = true})
    local dt = os.clock() - t0
    assert.are.same({1797, 64}, x:shape())
    assert.are.same({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, classes)
    assert.are.equal(561718, x:sum():item())   -- by awk
    assert.are.equal(16, x:max():item())
    assert.are.equal(1, y:min():item())
    assert.are.equal(10, y:max():item())
    assert.are.equal(178, y:eq(1):sum():item())
    assert.are.equal(180, y:eq(10):sum():item())
    print(("\n  csv: digits.csv.gz in %.1f ms CPU, %.0f rows/s"):format(
      dt * 1e3, 1797 / dt))
  end)

  it("returns x alone, x and y, or x, y and classes", function()
    local p = write("a.csv", "a,b,name\n1,2,cat\n3,4,dog\n5,6,cat\n")
    local q = write("c.csv", "a,b\n1,2\n3,4\n")
    assert.are.equal(1, select("#", core.csv_read(q, {label = false})))
    assert.are.same({{1, 2}, {3, 4}},
                    core.csv_read(q, {label = false}):totable())
    -- without a label, the words are features, and not numbers
    fails('a.csv:2:3: "cat" is not a number',
          core.csv_read(p, {label = false}))
    local x2, y2 = core.csv_read(write("b.csv", "1,2\n3,4\n"))
    assert.are.same({{1}, {3}}, x2:totable())
    assert.are.same({2, 4}, y2:totable())
    local x3, y3, c3 = core.csv_read(p, {classes = true})
    assert.are.same({{1, 2}, {3, 4}, {5, 6}}, x3:totable())
    assert.are.same({1, 2, 1}, y3:totable())
    assert.are.same({"cat", "dog"}, c3)
  end)

  it("chooses the label by number, from the end, or by name", function()
    local p = write("l.csv", "k,u,v\n5,1,2\n7,3,4\n5,5,6\n")
    local x, y = core.csv_read(p, {label = 1})
    assert.are.same({{1, 2}, {3, 4}, {5, 6}}, x:totable())
    assert.are.same({5, 7, 5}, y:totable())
    x, y = core.csv_read(p, {label = -2})
    assert.are.same({1, 3, 5}, y:totable())
    x, y = core.csv_read(p, {label = "v"})
    assert.are.same({{5, 1}, {7, 3}, {5, 5}}, x:totable())
    assert.are.same({2, 4, 6}, y:totable())
    x, y = core.csv_read(p, {label = "last"})
    assert.are.same({2, 4, 6}, y:totable())
    local _, _, c = core.csv_read(p, {label = 1, classes = true})
    assert.are.same({5, 7}, c)
  end)

  it("sorts numeric classes numerically and words bytewise", function()
    local _, y, c = core.csv_read(write("n.csv", "0,10\n0,9\n0,2.5\n"),
                                  {classes = true})
    assert.are.same({2.5, 9, 10}, c)
    assert.are.same({3, 2, 1}, y:totable())
    _, y, c = core.csv_read(write("s.csv", "0,b\n0,a\n0,B\n"),
                            {classes = true})
    assert.are.same({"B", "a", "b"}, c)
    assert.are.same({3, 2, 1}, y:totable())
  end)

  it("handles quotes, CRLF, blank lines and other delimiters", function()
    local x, y, c = core.csv_read(write("q.csv",
      '"f,1";"f ""2""";lab\r\n\r\n1;2;"a;b"\r\n  \r\n3;4;"x ""y"""'),
      {delimiter = ";", classes = true, label = 3})
    assert.are.same({{1, 2}, {3, 4}}, x:totable())
    assert.are.same({1, 2}, y:totable())
    assert.are.same({"a;b", 'x "y"'}, c)
    x, y = core.csv_read(write("t.tsv", "1\t2\n3\t4\n"), {delimiter = "\t"})
    assert.are.same({{1}, {3}}, x:totable())
  end)

  -- a quoted cell may hold a bare CR (old Mac line end), CRLF or LF: kept
  -- in the cell, and each counts as one line for the lines named later
  it("keeps bare CR, CRLF and LF inside quotes and counts each as a line", function()
    local p = write("cr.csv",
      'x,lab\r1,"a\rb"\r2,"c\r\nd"\r3,"e\nf"\r4,"a\rb"\r')
    local x, y, c = core.csv_read(p, {classes = true})
    assert.are.same({{1}, {2}, {3}, {4}}, x:totable())
    assert.are.same({"a\rb", "c\r\nd", "e\nf"}, c)
    assert.are.same({1, 2, 3, 1}, y:totable())
    -- lines: 1 header, 2-3 row 1, 4-5 row 2, 6-7 row 3, 8-9 row 4, 10 the
    -- bad one
    fails(':10:1: "z" is not a number', core.csv_read(write("cr2.csv",
      'x,lab\r1,"a\rb"\r2,"c\r\nd"\r3,"e\nf"\r4,"a\rb"\rz,"q"\r'),
      {classes = true}))
    -- CRLF ends a record as one line end, not two
    fails(':3:2: "x" is not a number',
          core.csv_read(write("crlf.csv", "a,b\r\n1,2\r\n3,x\r\n")))
    fails(':4:2: unterminated quoted field', core.csv_read(write("cr3.csv",
      'x,lab\r1,"a\rb"\r2,"c\r\nd\r'), {classes = true}))
  end)

  it("names file, line and column of a bad cell", function()
    local lines = {"a,b,c"}
    for i = 2, 20 do lines[i] = ("%d,%d,%d"):format(i, i, i) end
    lines[17] = "1,2,abc"
    local p = write("iris.csv", table.concat(lines, "\n") .. "\n")
    fails(p .. ':17:3: "abc" is not a number', core.csv_read(p))
    fails('iris.csv:1:3: "setosa" is not a number',
          core.csv_read(DATA .. "iris.csv", {header = false}))
  end)

  it("gives nil, err for a catalogue of bad files", function()
    fails("empty file", core.csv_read(write("e.csv", "")))
    fails("empty file", core.csv_read(write("e2.csv", "\n\n  \r\n")))
    fails("no data rows after the header (line 1)",
          core.csv_read(write("h.csv", "a,b,c\n")))
    fails("r.csv:3: 4 fields, expected 3",
          core.csv_read(write("r.csv", "1,2,3\n4,5,6\n7,8,9,10\n")))
    fails("u.csv:2:1: unterminated quoted field",
          core.csv_read(write("u.csv", '1,2\n"3,4\n')))
    fails("c.csv:2:2: empty cell",
          core.csv_read(write("c.csv", "1,2\n3,\n")))
    fails("no column named \"z\"",
          core.csv_read(write("z.csv", "a,b\n1,2\n"), {label = "z"}))
    fails("label column 9 out of range (2 columns)",
          core.csv_read(path("z.csv"), {label = 9}))
    fails("cannot open file", core.csv_read(path("missing.csv")))
    -- a gzip file cut short is an error, not a shorter table
    local gz = read(DATA .. "digits.csv.gz")
    fails("compressed data ends early",
          core.csv_read(write("cut.csv.gz", gz:sub(1, #gz // 2))))
  end)

  it("raises on misuse", function()
    raises(function() core.csv_read() end, "bad argument #1")
    raises(function() core.csv_read("x", 5) end, "bad argument #2")
    raises(function() core.csv_read("x", {header = "yes"}) end, "header")
    raises(function() core.csv_read("x", {label = true}) end, "label")
    raises(function() core.csv_read("x", {label = 0}) end, "label column 0")
    raises(function() core.csv_read("x", {label = 1.5}) end, "integer")
    raises(function() core.csv_read("x", {label = {}}) end, "label")
    raises(function() core.csv_read("x", {classes = 1}) end, "classes")
    raises(function() core.csv_read("x", {delimiter = ",,"}) end,
           "delimiter")
    raises(function() core.csv_read("x", {delimiter = '"'}) end, "delimiter")
  end)
end)

describe("core.idx_read", function()
  it("reads the MNIST-8k files", function()
    local times = {}
    local x
    for k = 1, 5 do
      local t0 = os.clock()
      x = core.idx_read(DATA .. "mnist-train-8k-images-idx3-ubyte.gz")
      times[k] = os.clock() - t0
    end
    table.sort(times)
    print(("\n  idx: MNIST-8k images, median of 5 loads %.1f ms CPU")
          :format(times[3] * 1e3))
    assert.are.same({8000, 28, 28}, x:shape())
    -- 209812346 by Python's gzip; a float32 sum is exact to 16 there
    assert.is_true(math.abs(x:sum():item() - 209812346) <= 16)
    assert.are.equal(255, x:max():item())
    local y = core.idx_read(DATA .. "mnist-train-8k-labels-idx1-ubyte.gz")
    assert.are.same({8000}, y:shape())
    assert.are.equal(799, y:eq(0):sum():item())    -- by od | sort | uniq
    assert.are.equal(913, y:eq(1):sum():item())
  end)

  it("gives nil, err naming the byte for bad files", function()
    local head = "\0\0\8\2\0\0\0\2\0\0\0\2"
    local good = head .. "\1\2\3\4"
    assert.are.same({{1, 2}, {3, 4}},
                    core.idx_read(write("g.idx", good)):totable())
    for n = 0, #good - 1 do
      fails(("byte %d:"):format(n),
            core.idx_read(write("cut.idx", good:sub(1, n))))
    end
    fails("byte 16: extra data", core.idx_read(write("x.idx", good .. "\0")))
    fails("byte 0: not an IDX file",
          core.idx_read(write("m.idx", "\1" .. good:sub(2))))
    fails("file ends early", core.idx_read(write("lie.idx",
          "\0\0\8\2\255\255\255\255\0\0\0\2\1\2\3\4")))
    fails("cannot open file", core.idx_read(path("none.idx")))
  end)
end)

describe("core.npy_load and core.npy_save", function()
  local function roundtrip(t)
    local p = path("rt.npy")
    assert.is_true(core.npy_save(t, p))
    local u = assert(core.npy_load(p))
    assert.are.same(t:shape(), u:shape())
    if t:numel() > 0 then assert.are.same(t:totable(), u:totable()) end
    return u, p
  end

  it("round-trips shapes, 0-dim and empty included", function()
    roundtrip(ann.tensor(2.5))
    roundtrip(ann.zeros(0))
    roundtrip(ann.zeros(2, 0, 3))
    roundtrip(ann.tensor{1.5, -2, 1e-30, 3e38})
    roundtrip(ann.arange(1, 24):view(2, 3, 4))
    local u = roundtrip(ann.arange(1, 6):view(2, 3):t())
    assert.are.same({{1, 4}, {2, 5}, {3, 6}}, u:totable())
  end)

  it("writes NumPy's layout: '<f4', version 1.0, data at 64 bytes",
     function()
    local _, p = roundtrip(ann.tensor{{1, 2, 3}, {4, 5, 6}})
    local s = read(p)
    local hl = s:byte(9) + 256 * s:byte(10)
    assert.are.equal("\147NUMPY\1\0", s:sub(1, 8))
    assert.are.equal(0, (10 + hl) % 64)
    assert.are.equal("{'descr': '<f4', 'fortran_order': False, "
                     .. "'shape': (2, 3), }",
                     s:sub(11, 10 + hl):match("^(.-)%s*$"))
    assert.are.equal(10 + hl + 24, #s)
    assert.are.equal(string.pack("<f", 1), s:sub(11 + hl, 14 + hl))
  end)

  it("reads other dtypes and endians as float32", function()
    local function npy(descr, shape, data)
      local d = ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }")
                :format(descr, shape)
      local n = #d + 1
      while (10 + n) % 64 ~= 0 do n = n + 1 end
      return "\147NUMPY\1\0" .. string.pack("<I2", n)
             .. d .. (" "):rep(n - #d - 1) .. "\n" .. data
    end
    local cases = {
      {"<f8", "(2,)", string.pack("<dd", 0.5, -3), {0.5, -3}},
      {">f4", "(2,)", string.pack(">ff", 1.25, 8), {1.25, 8}},
      {"<i2", "(2,)", string.pack("<i2i2", -7, 300), {-7, 300}},
      {">i8", "(1,)", string.pack(">i8", -2), {-2}},
      {"|u1", "(3,)", "\0\127\255", {0, 127, 255}},
      {"<u4", "(1,)", string.pack("<I4", 70000), {70000}},
      {"|b1", "(2,)", "\0\1", {0, 1}},
    }
    for i, c in ipairs(cases) do
      local t = assert(core.npy_load(write("d" .. i .. ".npy",
                                           npy(c[1], c[2], c[3]))))
      assert.are.same(c[4], t:totable())
    end
    fails("Fortran-order arrays are not supported", core.npy_load(write(
      "f.npy", npy("<f4", "(1,)", "\0\0\0\0"):gsub("False", "True "))))
    fails("object arrays", core.npy_load(write("o.npy",
                                               npy("|O", "(1,)", "12345678"))))
    local good = npy("<f4", "(2,)", ("\0"):rep(8))
    for n = 1, #good - 1 do
      fails(("byte %d: file ends"):format(n),
            core.npy_load(write("cut.npy", good:sub(1, n))))
    end
    fails(("byte %d: extra data"):format(#good),
          core.npy_load(write("x.npy", good .. "\0")))
    fails("byte 0: not a NumPy .npy file",
          core.npy_load(write("m.npy", "x" .. good:sub(2))))
    fails("cannot open file", core.npy_load(path("none.npy")))
  end)

  it("gives nil, err when it cannot write, and raises on misuse", function()
    fails("cannot create a temporary file",
          core.npy_save(ann.zeros(2), path("nodir") .. "/x.npy"))
    raises(function() core.npy_save({1, 2}, path("y.npy")) end,
           "bad argument #1")
    raises(function() core.npy_save(ann.zeros(2)) end, "bad argument #2")
    raises(function() core.npy_load() end, "bad argument #1")
  end)

  -- annlua -> NumPy -> annlua.  NumPy is a test dependency (make deps
  -- installs python3-numpy): without it this fails rather than pending
  -- unseen.  The Debian package is found by /usr/bin/python3 even where
  -- another python3 (pyenv, a venv) comes first on PATH.
  local python
  for _, py in ipairs{"python3", "/usr/bin/python3"} do
    if os.execute(py .. " -c 'import numpy' 2>/dev/null") then
      python = py
      break
    end
  end
  it("round-trips through NumPy", function()
    assert(python, "no python3 with NumPy: run make deps (python3-numpy)")
    local t = ann.tensor{{1.5, -2, 3}, {4, 5e-8, 6e20}}
    local a, b = path("np_a.npy"), path("np_b.npy")
    assert.is_true(core.npy_save(t, a))
    local ok = os.execute((python .. " -c \"import numpy as np; "
      .. "x = np.load('%s'); assert x.dtype == np.float32; "
      .. "np.save('%s', (x * 2).astype('>f8'))\""):format(a, b))
    assert.is_true(ok)
    assert.are.same((t * 2):totable(), core.npy_load(b):totable())
  end)
end)
