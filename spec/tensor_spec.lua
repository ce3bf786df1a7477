-- tensor_spec.lua: the tensor type from Lua (src/ltensor.c, src/lprint.c):
-- creation, inspection, indexing, views, copies, printing, errors, __close.
-- Every expected value is written out by hand here.
local ann = require("annlua")
local h = require("helpers")

-- fn must fail with an error message containing each of the parts
local fails = h.fails

-- a tensor holds exactly these values (float32 of small integers and
-- halves is exact, so equality is the right test)
local function holds(t, want)
  assert.are.same(want, t:totable())
end

describe("ann.tensor", function()
  it("builds a tensor from nested tables", function()
    local t = ann.tensor{{1, 2, 3}, {4, 5, 6}}
    assert.are.same({2, 3}, t:shape())
    assert.are.equal(2, t:dim())
    assert.are.equal(6, t:numel())
    holds(t, {{1, 2, 3}, {4, 5, 6}})
    holds(ann.tensor{{{1}, {2}}, {{3}, {4}}}, {{{1}, {2}}, {{3}, {4}}})
    holds(ann.tensor{0.5, -1.25}, {0.5, -1.25})
  end)

  it("builds from a flat table and a shape", function()
    local t = ann.tensor({1, 2, 3, 4, 5, 6}, {3, 2})
    assert.are.same({3, 2}, t:shape())
    holds(t, {{1, 2}, {3, 4}, {5, 6}})
  end)

  it("builds a 0-dim tensor from a number", function()
    local t = ann.tensor(2.5)
    assert.are.equal(0, t:dim())
    assert.are.same({}, t:shape())
    assert.are.equal(1, t:numel())
    assert.are.equal(2.5, t:item())
    assert.are.equal(2.5, t:totable())
  end)

  it("builds empty tensors", function()
    assert.are.same({0}, ann.tensor{}:shape())
    assert.are.same({1, 0}, ann.tensor{{}}:shape())
  end)

  it("copies a tensor given to it", function()
    local a = ann.tensor{1, 2}
    local b = ann.tensor(a)
    b[1] = 9
    holds(a, {1, 2})
    holds(b, {9, 2})
  end)

  it("rejects ragged, deep and non-numeric tables", function()
    fails(function() ann.tensor{{1, 2}, {3}} end,
          "tensor: ragged nested table at [2]", "size 1, expected 2")
    fails(function() ann.tensor{{1, 2}, 3} end,
          "tensor: ragged nested table at [2]", "expected a table")
    fails(function() ann.tensor{1, {2}} end,
          "tensor: ragged nested table at [2]", "expected a number")
    fails(function() ann.tensor{{{1, 2}}, {{3, 4}, {5, 6}}} end,
          "ragged nested table at [2]")
    fails(function() ann.tensor{{1, 2}, {3, 4, 5}} end, "at [2]")
    fails(function() ann.tensor{{1, 2}, {3, "x"}} end,
          "tensor: element at [2,2] is a string, expected a number")
    fails(function() ann.tensor{{{{{{{{{1}}}}}}}}} end,
          "tensor: nested tables deeper than 8 dims")
    fails(function() ann.tensor({1, 2, 3}, {2, 2}) end,
          "tensor: 3 values for shape [2,2] (4 elements)")
    fails(function() ann.tensor({1, true}, {2}) end,
          "tensor: element 2 is a boolean")
    fails(function() ann.tensor("x") end, "bad argument #1 to 'tensor'")
  end)
end)

describe("creation functions", function()
  it("zeros, ones, full take varargs or one table", function()
    holds(ann.zeros(2, 3), {{0, 0, 0}, {0, 0, 0}})
    holds(ann.zeros{2, 3}, {{0, 0, 0}, {0, 0, 0}})
    holds(ann.ones(3), {1, 1, 1})
    holds(ann.ones{1, 2}, {{1, 1}})
    holds(ann.full({2, 2}, 7), {{7, 7}, {7, 7}})
    holds(ann.full(3, -1.5), {-1.5, -1.5, -1.5})
    assert.are.equal(0, ann.zeros():dim())
    assert.are.same({2, 0, 3}, ann.zeros(2, 0, 3):shape())
  end)

  it("eye, arange, linspace", function()
    holds(ann.eye(3), {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}})
    holds(ann.arange(1, 5), {1, 2, 3, 4, 5})
    holds(ann.arange(0, 1, 0.25), {0, 0.25, 0.5, 0.75, 1})
    holds(ann.arange(5, 1, -2), {5, 3, 1})
    holds(ann.arange(1, 4, 2), {1, 3})              -- 4 is not reached
    holds(ann.linspace(0, 1, 5), {0, 0.25, 0.5, 0.75, 1})
    holds(ann.linspace(2, 2, 1), {2})
  end)

  it("rand and randn have the shape asked, repeat with the seed", function()
    ann.manual_seed(42)
    local a = ann.rand(200, 5)
    ann.manual_seed(42)
    local b = ann.rand{200, 5}
    assert.are.same({200, 5}, a:shape())
    assert.are.same(a:totable(), b:totable())
    local lo, hi, sum = math.huge, -math.huge, 0
    for _, row in ipairs(a:totable()) do
      for _, v in ipairs(row) do
        lo, hi, sum = math.min(lo, v), math.max(hi, v), sum + v
      end
    end
    assert.is_true(lo >= 0 and hi < 1)
    -- mean of 1000 U[0,1): 0.5 with sd 0.0091; 6 sd is a loose bound
    assert.is_true(math.abs(sum / 1000 - 0.5) < 0.055)
    local n = ann.randn(1000):totable()
    local m, ss = 0, 0
    for _, v in ipairs(n) do m = m + v end
    m = m / #n
    for _, v in ipairs(n) do ss = ss + (v - m)^2 end
    assert.is_true(math.abs(m) < 0.2)                   -- sd of mean 0.032
    assert.is_true(math.abs(math.sqrt(ss / 999) - 1) < 0.15)
  end)

  it("rejects bad shapes and arguments", function()
    fails(function() ann.zeros(2, -1) end, "zeros: bad size -1 in dim 2")
    fails(function() ann.zeros(2, 1.5) end,
          "zeros: size 2 of the shape is 1.5, expected an integer")
    fails(function() ann.ones{2, "a"} end,
          "ones: size 2 of the shape is a string, expected an integer")
    fails(function() ann.zeros({2}, 3) end, "zeros: size 1 of the shape is a table")
    fails(function() ann.zeros(1, 1, 1, 1, 1, 1, 1, 1, 1) end,
          "zeros: 9 dims (at most 8)")
    fails(function() ann.full({2}) end, "bad argument #1 to 'full'")
    fails(function() ann.eye(-1) end, "eye: bad size -1")
    fails(function() ann.arange(1, 5, 0) end, "arange")
    fails(function() ann.linspace(0, 1, -1) end, "linspace")
    fails(function() ann.manual_seed("x") end, "bad argument #1 to 'manual_seed'")
  end)
end)

describe("inspection", function()
  local t
  before_each(function() t = ann.tensor{{1, 2, 3}, {4, 5, 6}} end)

  it("shape is a fresh table; size, dim, numel, #", function()
    local s = t:shape()
    s[1] = 99
    assert.are.same({2, 3}, t:shape())
    assert.are.equal(2, t:size(1))
    assert.are.equal(3, t:size(2))
    assert.are.equal(3, t:size(-1))
    assert.are.same({2, 3}, t:size())
    assert.are.equal(2, #t)
    assert.are.equal(3, #ann.zeros(3))
    fails(function() t:size(3) end, "size: dim 3 out of range for [2,3]")
    fails(function() t:size(-3) end, "size: dim -3 out of range for [2,3]")
    fails(function() return #ann.tensor(1) end, "0-dim tensor has no length")
  end)

  it("get, set and item", function()
    assert.are.equal(6, t:get(2, 3))
    assert.are.equal(4, t:get(-1, 1))
    assert.are.equal(t, t:set(1, 2, 20))
    assert.are.equal(20, t:get(1, 2))
    assert.are.equal(7, ann.tensor{7}:item())
    assert.are.equal(3, ann.tensor{{3}}:item())
    local s = ann.tensor(1)
    s:set(5)
    assert.are.equal(5, s:get())
    fails(function() t:get(3, 1) end, "get: index 3 out of range for dim 1 of [2,3]")
    fails(function() t:get(1, 0) end, "get: index 0 out of range for dim 2 of [2,3]")
    fails(function() t:get(1) end, "get: 1 indices for [2,3] (expected 2)")
    fails(function() t:set(1, 4, 0) end, "set: index 4 out of range for dim 2")
    fails(function() t:set(1, 1, "x") end, "bad argument #3 to 'set'")
    fails(function() t:item() end, "item: tensor [2,3] has 6 elements (expected 1)")
  end)

  it("totable and is_contiguous", function()
    assert.are.same({{1, 2, 3}, {4, 5, 6}}, t:totable())
    assert.are.same({{1, 4}, {2, 5}, {3, 6}}, t:t():totable())
    assert.is_true(t:is_contiguous())
    assert.is_false(t:t():is_contiguous())
    assert.is_true(ann.is_tensor(t))
    assert.is_false(ann.is_tensor({}))
  end)

  it("method lookup and the reserved autograd keys", function()
    assert.is_function(t.shape)
    assert.is_nil(t.grad)
    assert.is_nil(t.nonexistent)
    fails(function() t.foo = 1 end, "cannot assign field 'foo'")
    fails(function() return t[true] end, "expected an integer or a method name")
    fails(function() t.shape(5) end, "bad argument #1 to 'shape'", "ann.Tensor expected")
  end)
end)

describe("t[i]", function()
  it("is a row view for ndim >= 2 and a number for 1-d", function()
    local t = ann.tensor{{1, 2}, {3, 4}, {5, 6}}
    local r = t[2]
    holds(r, {3, 4})
    r[1] = 30                             -- the view writes through
    assert.are.equal(30, t:get(2, 1))
    assert.are.equal(4, t[2][2])
    assert.are.equal(6, t[-1][2])
    local v = ann.tensor{10, 20, 30}
    assert.are.equal(20, v[2])
    assert.are.equal(30, v[-1])
    local c = ann.zeros(2, 2, 2)
    assert.are.same({2, 2}, c[1]:shape())
  end)

  it("t[i] = v sets an element or fills or copies a row", function()
    local v = ann.zeros(3)
    v[2] = 5
    holds(v, {0, 5, 0})
    local t = ann.zeros(2, 3)
    t[1] = 7
    t[2] = ann.tensor{1, 2, 3}
    holds(t, {{7, 7, 7}, {1, 2, 3}})
    t[1] = ann.tensor{9}                  -- broadcast along the row
    holds(t, {{9, 9, 9}, {1, 2, 3}})
    v[3] = ann.tensor(4)                  -- a 0-dim tensor into an element
    holds(v, {0, 5, 4})
  end)

  it("rejects bad indices", function()
    local t = ann.zeros(2, 3)
    fails(function() return t[3] end, "index: index 3 out of range for dim 1 of [2,3]")
    fails(function() return t[0] end, "index 0 out of range")
    fails(function() return t[1.5] end, "number has no integer representation")
    fails(function() t[3] = 1 end, "newindex: index 3 out of range for dim 1 of [2,3]")
    fails(function() t[1] = "x" end, "newindex: expected a number or a tensor, got string")
    fails(function() t[1] = ann.zeros(2) end, "copy_", "[2]", "[3]")
    fails(function() return ann.tensor(1)[1] end, "0-dim tensor has no rows")
  end)
end)

describe("views", function()
  local t
  before_each(function() t = ann.tensor{{1, 2, 3}, {4, 5, 6}} end)

  it("view and reshape, sharing storage", function()
    local v = t:view(3, 2)
    holds(v, {{1, 2}, {3, 4}, {5, 6}})
    v:set(1, 1, 100)
    assert.are.equal(100, t:get(1, 1))
    holds(t:view{6}, {100, 2, 3, 4, 5, 6})
    assert.are.same({3, 2}, t:view(-1, 2):shape())
    assert.are.same({2, 3}, t:t():reshape(2, 3):shape())
    holds(t:t():reshape(6), {100, 4, 2, 5, 3, 6})     -- copies when needed
    local r = t:reshape(3, 2)                         -- no copy when it can
    r:set(3, 2, -6)
    assert.are.equal(-6, t:get(2, 3))
    fails(function() t:view(4, 2) end, "view:", "[4,2]")
    fails(function() t:t():view(6) end, "view:")
    fails(function() t:view(-2, 3) end, "view: bad size -2 in dim 1")
  end)

  it("t, transpose, permute", function()
    local tt = t:t()
    holds(tt, {{1, 4}, {2, 5}, {3, 6}})
    tt:set(3, 1, 30)
    assert.are.equal(30, t:get(1, 3))
    holds(t:transpose(1, 2), {{1, 4}, {2, 5}, {30, 6}})
    holds(t:transpose(-1, 1), {{1, 4}, {2, 5}, {30, 6}})
    holds(ann.tensor{1, 2}:t(), {1, 2})
    local c = ann.tensor{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}   -- c[i][j][k]
    local p = c:permute(3, 1, 2)                               -- p[k][i][j]
    holds(p, {{{1, 3}, {5, 7}}, {{2, 4}, {6, 8}}})
    holds(c:permute{-1, 1, 2}, {{{1, 3}, {5, 7}}, {{2, 4}, {6, 8}}})
    fails(function() c:t() end, "t: expected a tensor of at most 2 dims, got [2,2,2]")
    fails(function() t:transpose(1, 3) end, "transpose: dim 3 out of range for [2,3]")
    fails(function() c:permute(1, 2) end, "permute: 2 dims given for [2,2,2]")
    fails(function() c:permute(1, 1, 2) end, "permute: dim 1 repeated")
    fails(function() c:permute(1, 2, 4) end, "permute: dim 4 out of range for [2,2,2]")
  end)

  it("narrow and select", function()
    local n = t:narrow(2, 2, 2)
    holds(n, {{2, 3}, {5, 6}})
    n:set(1, 1, 20)
    assert.are.equal(20, t:get(1, 2))
    holds(t:narrow(1, 2, 1), {{4, 5, 6}})
    assert.are.same({2, 0}, t:narrow(2, 4, 0):shape())
    holds(t:select(2, 3), {3, 6})
    holds(t:select(1, -1), {4, 5, 6})
    t:select(2, 1):set(2, 40)
    assert.are.equal(40, t:get(2, 1))
    local m = ann.zeros(4, 3)
    fails(function() m:narrow(1, 5, 2) end,
          "narrow: start 5 + length 2 exceeds size 4 of dim 1 of [4,3]")
    fails(function() m:narrow(1, 0, 2) end, "narrow: start 0 + length 2 exceeds")
    fails(function() m:narrow(1, 1, -1) end, "narrow: start 1 + length -1")
    fails(function() m:narrow(3, 1, 1) end, "narrow: dim 3 out of range for [4,3]")
    fails(function() m:select(2, 4) end, "select: index 4 out of range for dim 2 of [4,3]")
  end)

  it("squeeze, unsqueeze, expand", function()
    local a = ann.zeros(1, 3, 1)
    assert.are.same({3}, a:squeeze():shape())
    assert.are.same({3, 1}, a:squeeze(1):shape())
    assert.are.same({1, 3}, a:squeeze(-1):shape())
    assert.are.same({1, 3, 1}, a:squeeze(2):shape())   -- size 3: unchanged
    local v = ann.tensor{1, 2, 3}
    assert.are.same({1, 3}, v:unsqueeze(1):shape())
    assert.are.same({3, 1}, v:unsqueeze(2):shape())
    assert.are.same({3, 1}, v:unsqueeze(-1):shape())
    holds(v:unsqueeze(2), {{1}, {2}, {3}})
    local e = v:expand(2, 3)
    holds(e, {{1, 2, 3}, {1, 2, 3}})
    assert.is_false(e:is_contiguous())
    holds(ann.tensor{{1}, {2}}:expand{-1, 3}, {{1, 1, 1}, {2, 2, 2}})
    v:set(2, 20)
    assert.are.equal(20, e:get(2, 2))                  -- shares storage
    fails(function() v:unsqueeze(3) end, "unsqueeze: dim 3 out of range for [3]")
    fails(function() a:squeeze(4) end, "squeeze: dim 4 out of range for [1,3,1]")
    fails(function() v:expand(2, 4) end, "expand:", "[3]")
  end)
end)

describe("copies", function()
  it("clone and contiguous", function()
    local t = ann.tensor{{1, 2}, {3, 4}}
    local c = t:clone()
    c:set(1, 1, 10)
    assert.are.equal(1, t:get(1, 1))
    assert.are.equal(t, t:contiguous())                -- already: itself
    local k = t:t():contiguous()
    assert.is_true(k:is_contiguous())
    holds(k, {{1, 3}, {2, 4}})
    k:set(1, 2, 30)
    assert.are.equal(2, t:get(1, 2))
  end)

  it("cat and stack", function()
    local a, b = ann.tensor{{1, 2}}, ann.tensor{{3, 4}, {5, 6}}
    holds(ann.cat{a, b}, {{1, 2}, {3, 4}, {5, 6}})
    holds(ann.cat({a, b}, 1), {{1, 2}, {3, 4}, {5, 6}})
    holds(ann.cat({b, b}, 2), {{3, 4, 3, 4}, {5, 6, 5, 6}})
    holds(ann.cat({b, b}, -1), {{3, 4, 3, 4}, {5, 6, 5, 6}})
    local u, v = ann.tensor{1, 2}, ann.tensor{3, 4}
    holds(ann.stack{u, v}, {{1, 2}, {3, 4}})
    holds(ann.stack({u, v}, 2), {{1, 3}, {2, 4}})
    holds(ann.stack({u, v}, -1), {{1, 3}, {2, 4}})
    fails(function() ann.cat({a, b}, 2) end, "cat:", "[1,2]", "[2,2]")
    fails(function() ann.cat({}) end, "cat: expected a non-empty list of tensors")
    fails(function() ann.cat({a, 3}) end,
          "cat: element 2 of the list is a number, expected ann.Tensor")
    fails(function() ann.cat({a, b}, 3) end, "cat: dim 3 out of range for [1,2]")
    fails(function() ann.stack({u, a}) end, "stack:")
    fails(function() ann.stack({u, v}, 4) end, "stack: dim 4 out of range for [2]")
  end)

  it("index_select and gather", function()
    local t = ann.tensor{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}
    holds(t:index_select(1, ann.tensor{3, 1}), {{7, 8, 9}, {1, 2, 3}})
    holds(t:index_select(2, {2, 2}), {{2, 2}, {5, 5}, {8, 8}})
    holds(t:index_select(-1, {3}), {{3}, {6}, {9}})
    -- gather along 2: out[i][j] = t[i][idx[i][j]]
    holds(t:gather(2, ann.tensor{{1, 1}, {3, 2}, {2, 3}}), {{1, 1}, {6, 5}, {8, 9}})
    -- gather along 1: out[i][j] = t[idx[i][j]][j]
    holds(t:gather(1, ann.tensor{{3, 1, 2}}), {{7, 2, 6}})
    fails(function() t:index_select(1, {4}) end, "index_select:", "4")
    fails(function() t:index_select(1, {1.5}) end, "index_select: index 1 is not an integer")
    fails(function() t:index_select(1, "x") end, "index_select: expected a tensor or a list")
    fails(function() t:gather(2, {1}) end, "bad argument #2 to 'gather'")
    fails(function() t:gather(2, ann.tensor{{4}}) end, "gather:")
  end)
end)

describe("tostring", function()
  it("prints integers without decimals, aligned, with a footer", function()
    assert.are.equal("[[  1,   2,   3],\n [ 40,  -5, 600]]\nann.Tensor [2,3]",
                     tostring(ann.tensor{{1, 2, 3}, {40, -5, 600}}))
    assert.are.equal("[1, 2, 3]\nann.Tensor [3]", tostring(ann.tensor{1, 2, 3}))
  end)

  it("prints fixed with 4 decimals, or scientific when needed", function()
    assert.are.equal("[[ 1.5000, -2.0000],\n [ 0.2500, 10.0000]]\nann.Tensor [2,2]",
                     tostring(ann.tensor{{1.5, -2}, {0.25, 10}}))
    assert.are.equal("[1.0000e+09, 5.0000e-01]\nann.Tensor [2]",
                     tostring(ann.tensor{1e9, 0.5}))
    assert.are.equal("[1.0000e-05, 2.0000e+00]\nann.Tensor [2]",
                     tostring(ann.tensor{1e-5, 2}))
    assert.are.equal("[ 0, -1]\nann.Tensor [2]", tostring(ann.tensor{-0.0, -1}))
  end)

  it("prints expanded views and integers too large for decimals", function()
    assert.are.equal("[[1, 2],\n [1, 2]]\nann.Tensor [2,2]",
                     tostring(ann.tensor{1, 2}:expand(2, 2)))
    assert.are.equal("[1.0000e+09, 1.0000e+00]\nann.Tensor [2]",
                     tostring(ann.tensor{1e9, 1}))
  end)

  it("prints 0-dim as the value, and nan and inf", function()
    assert.are.equal("3", tostring(ann.tensor(3)))
    assert.are.equal("-0.5000", tostring(ann.tensor(-0.5)))
    assert.are.equal("[   1,  inf, -inf,  nan]\nann.Tensor [4]",
                     tostring(ann.tensor{1, math.huge, -math.huge, 0/0}))
  end)

  it("nests brackets with a blank line between blocks", function()
    assert.are.equal("[[[1, 2],\n  [3, 4]],\n\n [[5, 6],\n  [7, 8]]]\nann.Tensor [2,2,2]",
                     tostring(ann.tensor{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}))
  end)

  it("prints views with their own strides, and empty tensors", function()
    assert.are.equal("[[1, 3],\n [2, 4]]\nann.Tensor [2,2]",
                     tostring(ann.tensor{{1, 2}, {3, 4}}:t()))
    assert.are.equal("[]\nann.Tensor [2,0]", tostring(ann.zeros(2, 0)))
  end)

  it("elides tensors of more than 1000 elements", function()
    assert.are.equal("[   1,    2,    3, ..., 1999, 2000, 2001]\nann.Tensor [2001]",
                     tostring(ann.arange(1, 2001)))
    local s = tostring(ann.arange(1, 1200):view(40, 30))
    local want = table.concat({
      "[[   1,    2,    3, ...,   28,   29,   30],",
      " [  31,   32,   33, ...,   58,   59,   60],",
      " [  61,   62,   63, ...,   88,   89,   90],",
      " ...,",
      " [1111, 1112, 1113, ..., 1138, 1139, 1140],",
      " [1141, 1142, 1143, ..., 1168, 1169, 1170],",
      " [1171, 1172, 1173, ..., 1198, 1199, 1200]]",
      "ann.Tensor [40,30]"}, "\n")
    assert.are.equal(want, s)
    -- 1000 elements are all shown
    assert.is_nil(tostring(ann.zeros(1000)):find("...", 1, true))
  end)

  it("wraps long rows", function()
    local s = tostring(ann.arange(1, 30))
    local lines = {}
    for line in s:gmatch("[^\n]+") do lines[#lines + 1] = line end
    -- width 2 + ", " = 4 columns per entry, 79 usable: 19 per line
    assert.are.equal("[ 1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,",
                     lines[1])
    assert.are.equal(" 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]", lines[2])
    assert.are.equal("ann.Tensor [30]", lines[3])
  end)
end)

describe("closing", function()
  it("__close releases early; later use is an error, not a crash", function()
    local keep
    do
      local t <close> = ann.ones(2, 2)
      keep = t
      assert.are.equal(4, t:numel())
    end
    fails(function() keep:numel() end, "tensor is closed")
    fails(function() return keep[1] end, "tensor is closed")
    fails(function() return #keep end, "tensor is closed")
    fails(function() ann.cat{keep} end, "tensor is closed")
    assert.are.equal("ann.Tensor (closed)", tostring(keep))
  end)

  it("a view outlives its closed base", function()
    local v
    do
      local t <close> = ann.tensor{{1, 2}, {3, 4}}
      v = t[2]
    end
    holds(v, {3, 4})
  end)
end)

describe("the module", function()
  it("ann.Tensor is the method table, open to new methods", function()
    function ann.Tensor:twice_numel() return 2 * self:numel() end
    assert.are.equal(12, ann.zeros(2, 3):twice_numel())
    ann.Tensor.twice_numel = nil
  end)

  it("the module knows its version", function()
    assert.is_string(ann._VERSION)
    assert.is_truthy(ann._VERSION:match("^annlua %d+%.%d+"))
  end)
end)
