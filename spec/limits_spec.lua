-- limits_spec.lua: the readers' limits (issue 11, findings 10 and 12):
-- max_bytes bounds a file's bytes after gzip is undone, checked as it
-- inflates (a decompression bomb stops at the limit); max_elements bounds
-- the tensors made, before they are allocated; a CSV line's fields are
-- bounded before its cells are; shapes with a 0 dim before huge ones are
-- refused.  Every message names the file and the limit hit.
local ann = require("annlua")
local core = require("annlua.core")
local h = require("helpers")

local dir = h.tmpdir()
local function file(name) return dir .. "/" .. name end
local function write(name, s)
  h.writefile(file(name), s)
  return file(name)
end
local function sh(cmd)
  local _, err, code = h.run(cmd)
  assert.are.equal(0, code, err)
end
-- an IDX header: type u8, dims big-endian u32
local function idxhead(...)
  local dims = {...}
  local s = string.char(0, 0, 8, #dims)
  for _, d in ipairs(dims) do s = s .. string.pack(">I4", d) end
  return s
end

describe("reader limits", function()
  teardown(function() h.rmdir(dir) end)

  it("an IDX file whose dims multiply past int64 through a 0 dim", function()
    local p = write("zero.idx", idxhead(0, 0xFFFFFFFF, 0xFFFFFFFF))
    assert.are.equal(16, #h.readfile(p))
    local t, err = core.idx_read(p)
    assert.is_nil(t)
    assert.truthy(err:find(p .. ": shape [0, 4294967295, 4294967295] has "
                           .. "too many elements", 1, true), err)
  end)

  it("an NPY file of shape (0, 2^40, 2^40)", function()
    local hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': " ..
                "(0, 1099511627776, 1099511627776), }"
    hdr = hdr .. string.rep(" ", 63 - (10 + #hdr) % 64) .. "\n"
    local p = write("zero.npy", "\x93NUMPY\x01\x00" ..
                    string.pack("<I2", #hdr) .. hdr)
    local t, err = core.npy_load(p)
    assert.is_nil(t)
    assert.truthy(err:find(p .. ": shape [0, 1099511627776, 1099511627776]"
                           .. " has too many elements", 1, true), err)
  end)

  it("a gzip IDX bomb stops at max_bytes, given or by default", function()
    -- 16 MB of zeros in some 16 KB of gzip
    local p = write("bomb.idx", idxhead(4096, 4096))
    sh("head -c 16777216 /dev/zero >> " .. h.quote(p) .. " && gzip -f "
       .. h.quote(p))
    local t, err = core.idx_read(p .. ".gz", {max_bytes = 2^20})
    assert.is_nil(t)
    assert.are.equal(p .. ".gz: inflates to more than 1048576 bytes (the "
                     .. "max_bytes limit)", err)
    -- with room, the same file loads: 4096 x 4096 zeros
    t = assert(core.idx_read(p .. ".gz", {max_bytes = 2^25}))
    assert.are.same({4096, 4096}, t:shape())
    assert.are.equal(0, t:abs():max():item())
    -- 300 MB: past the default of 256 MiB
    local q = write("big.idx", idxhead(300000000))
    sh("head -c 300000000 /dev/zero >> " .. h.quote(q) .. " && gzip -1 -f "
       .. h.quote(q))
    t, err = core.idx_read(q .. ".gz")
    assert.is_nil(t)
    assert.are.equal(q .. ".gz: inflates to more than 268435456 bytes (the "
                     .. "max_bytes limit)", err)
    local ds
    ds, err = ann.data.idx(q .. ".gz", nil, {max_bytes = 2^20})
    assert.is_nil(ds)
    assert.truthy(err:find("1048576 bytes (the max_bytes limit)", 1, true))
  end)

  it("max_elements bounds IDX, NPY and CSV before allocation", function()
    local p = write("ten.idx", idxhead(10, 10) .. string.rep("\1", 100))
    local t, err = core.idx_read(p, {max_elements = 50})
    assert.is_nil(t)
    assert.are.equal(p .. ": 100 elements, more than 50 (the max_elements "
                     .. "limit)", err)
    assert.are.equal(100, core.idx_read(p, {max_elements = 100}):sum():item())
    local n = file("t.npy")
    assert(core.npy_save(ann.ones(3, 4), n))
    t, err = core.npy_load(n, {max_elements = 11})
    assert.is_nil(t)
    assert.are.equal(n .. ": 12 elements, more than 11 (the max_elements "
                     .. "limit)", err)
    assert.are.equal(12, core.npy_load(n, {max_elements = 12}):numel())
    -- 3 rows of 4: the third row passes 10
    local c = write("t.csv", "1,2,3,4\n5,6,7,8\n9,10,11,12\n")
    t, err = core.csv_read(c, {header = false, label = false,
                               max_elements = 10})
    assert.is_nil(t)
    assert.are.equal(c .. ":3: more than 10 elements (the max_elements "
                     .. "limit)", err)
    t = core.csv_read(c, {header = false, label = false, max_elements = 12})
    assert.are.equal(78, t:sum():item())
    t, err = core.csv_read(c, {header = false, max_bytes = 20})
    assert.is_nil(t)
    assert.are.equal(c .. ": more than 20 bytes (the max_bytes limit)", err)
  end)

  it("a CSV line of 2^22 fields is refused before its cells", function()
    -- 8 MB of "0,": gzip makes it some 8 KB; 256 rows were pre-sized
    local p = write("wide.csv", string.rep("0,", 2^22 - 1) .. "0\n")
    sh("gzip -f " .. h.quote(p))
    local t, err = core.csv_read(p .. ".gz", {header = false})
    assert.is_nil(t)
    assert.are.equal(p .. ".gz:1: more than 1048576 fields in a line "
                     .. "(annlua reads at most 2^20 columns)", err)
    t, err = core.csv_read(p .. ".gz", {header = false, max_elements = 1000})
    assert.is_nil(t)
    assert.are.equal(p .. ".gz:1: more than 1001 fields in a line (the "
                     .. "max_elements limit)", err)
    -- a wide file that fits: 2^16 columns, 3 rows, grown with the data
    local w = write("w.csv", string.rep(string.rep("1,", 2^16 - 1) .. "2\n",
                                        3))
    local x, y = core.csv_read(w, {header = false})
    assert.are.same({3, 2^16 - 1}, x:shape())
    assert.are.equal(3 * (2^16 - 1), x:sum():item())
    assert.are.equal(6, y:sum():item())
  end)

  it("the options are checked", function()
    local p = write("ok.idx", idxhead(2) .. "\1\2")
    h.fails(function() core.idx_read(p, {max_bytes = 0}) end,
            "max_bytes must be a whole number >= 1")
    h.fails(function() core.idx_read(p, {max_elements = 1.5}) end,
            "max_elements must be a whole number >= 1")
    h.fails(function() core.npy_load(p, {max_bytes = "1"}) end,
            "max_bytes must be a whole number >= 1")
    h.fails(function() core.idx_read(p, {max_byte = 10}) end,
            "unknown option 'max_byte'")
    h.fails(function() core.csv_read(p, {heder = true}) end,
            "unknown option 'heder'")
    h.fails(function() core.idx_read(p, 5) end, "table expected")
    assert.are.equal(3, core.idx_read(p, {max_bytes = 10, max_elements = 2})
                          :sum():item())
  end)
end)
