-- linalg_spec.lua: mm, mv, dot, matmul, outer, allclose and the runtime
-- settings from Lua (src/lmath.c).  Products are checked against loops
-- written here in plain Lua, on contiguous tensors and on views.
local ann = require("annlua")
local h = require("helpers")

-- same(t, want, tol): tensor t holds the nested table (or number) want to
-- the relative tolerance tol, 1e-5 by default; fails(fn, parts...): fn
-- raises an error holding each part, and returns it
local same, fails = h.same, h.fails

-- an r x c matrix as nested tables, with varied deterministic values
local function mat(r, c, seed)
  local m = {}
  for i = 1, r do
    m[i] = {}
    for j = 1, c do m[i][j] = math.sin(seed + 1.3 * i + 0.7 * j * j) end
  end
  return m
end

local function vec(n, seed)
  local v = {}
  for i = 1, n do v[i] = math.cos(seed + 0.9 * i) end
  return v
end

local function transpose(m)
  local t = {}
  for j = 1, #m[1] do
    t[j] = {}
    for i = 1, #m do t[j][i] = m[i][j] end
  end
  return t
end

local function matmul(a, b)
  local c = {}
  for i = 1, #a do
    c[i] = {}
    for j = 1, #b[1] do
      local s = 0
      for k = 1, #b do s = s + a[i][k] * b[k][j] end
      c[i][j] = s
    end
  end
  return c
end

local function matvec(a, v)
  local r = {}
  for i = 1, #a do
    local s = 0
    for k = 1, #v do s = s + a[i][k] * v[k] end
    r[i] = s
  end
  return r
end

local function dot(u, v)
  local s = 0
  for i = 1, #u do s = s + u[i] * v[i] end
  return s
end

describe("mm", function()
  it("matches a loop, with and without transposed views", function()
    local A, B = mat(3, 4, 1), mat(4, 5, 2)
    same(ann.tensor(A):mm(ann.tensor(B)), matmul(A, B))
    -- stored transposed, used through :t() (BLAS transposes, no copy)
    local At, Bt = ann.tensor(transpose(A)), ann.tensor(transpose(B))
    same(At:t():mm(ann.tensor(B)), matmul(A, B))
    same(ann.tensor(A):mm(Bt:t()), matmul(A, B))
    same(At:t():mm(Bt:t()), matmul(A, B))
    same(ann.tensor(B):t():mm(ann.tensor(A):t()), transpose(matmul(A, B)))
  end)

  it("works on narrowed views with a leading dim wider than the matrix", function()
    local BIG = mat(6, 7, 3)
    local big = ann.tensor(BIG)
    local a = big:narrow(1, 2, 3):narrow(2, 3, 4)      -- rows 2..4, cols 3..6
    local A = {}
    for i = 1, 3 do A[i] = {} for j = 1, 4 do A[i][j] = BIG[i + 1][j + 2] end end
    local B = mat(4, 2, 4)
    same(a:mm(ann.tensor(B)), matmul(A, B))
    same(a:t():t():mm(ann.tensor(B)), matmul(A, B))
    same(ann.tensor(transpose(B)):mm(a:t()), transpose(matmul(A, B)))
  end)

  it("handles larger sizes against the loop", function()
    local A, B = mat(33, 65, 5), mat(65, 17, 6)
    same(ann.tensor(A):mm(ann.tensor(B)), matmul(A, B), 1e-4)
  end)

  it("gives a 1x1 and size-1 dims right", function()
    same(ann.tensor{{2, 3}}:mm(ann.tensor{{4}, {5}}), {{23}})
    same(ann.tensor{{2}, {3}}:mm(ann.tensor{{4, 5}}), {{8, 10}, {12, 15}})
  end)

  it("names the op and the shapes when they don't fit", function()
    local err = fails(function() return ann.zeros(3, 4):mm(ann.zeros(5, 2)) end)
    assert.truthy(err:find("mm: size mismatch, [3,4] x [5,2] (4 ~= 5)", 1, true), err)
    fails(function() return ann.zeros(3):mm(ann.zeros(3, 2)) end, "mm", "[3]")
    fails(function() return ann.zeros(2, 3):mm(ann.zeros(2, 3, 1)) end, "mm", "[2,3,1]")
    fails(function() return ann.zeros(2, 3):mm(3) end, "bad argument")
    fails(function() return ann.zeros(2, 3):mm() end, "bad argument")
  end)
end)

describe("mv", function()
  it("matches a loop on a matrix and on its transpose", function()
    local A, v, w = mat(3, 4, 7), vec(4, 1), vec(3, 2)
    same(ann.tensor(A):mv(ann.tensor(v)), matvec(A, v))
    same(ann.tensor(A):t():mv(ann.tensor(w)), matvec(transpose(A), w))
  end)

  it("takes a strided vector (a column view)", function()
    local A, M = mat(3, 4, 8), mat(4, 3, 9)
    local col = ann.tensor(M):select(2, 2)              -- stride 3
    local v = {M[1][2], M[2][2], M[3][2], M[4][2]}
    same(ann.tensor(A):mv(col), matvec(A, v))
  end)

  it("rejects mismatched sizes", function()
    fails(function() return ann.zeros(3, 4):mv(ann.zeros(3)) end, "mv", "[3,4]", "[3]")
    fails(function() return ann.zeros(3, 4):mv(ann.zeros(4, 1)) end, "mv", "[4,1]")
  end)
end)

describe("dot", function()
  it("is a 0-dim tensor whose item is the sum of products", function()
    local u, v = vec(7, 1), vec(7, 2)
    local d = ann.tensor(u):dot(ann.tensor(v))
    assert.are.equal(0, d:dim())
    same(d, dot(u, v))
    same(ann.tensor{1, 2, 3}:dot(ann.tensor{4, -5, 6}), 12)
  end)

  it("works on strided views", function()
    local M = mat(3, 5, 3)
    local r = ann.tensor(M):select(2, 4)                -- column 4
    same(r:dot(r), M[1][4] ^ 2 + M[2][4] ^ 2 + M[3][4] ^ 2)
  end)

  it("rejects mismatched sizes and non-vectors", function()
    fails(function() return ann.zeros(3):dot(ann.zeros(4)) end, "dot", "[3]", "[4]")
    fails(function() return ann.zeros(2, 2):dot(ann.zeros(4)) end, "dot", "[2,2]")
  end)
end)

describe("ann.matmul", function()
  it("2-d x 2-d is mm", function()
    local A, B = mat(2, 3, 1), mat(3, 4, 2)
    same(ann.matmul(ann.tensor(A), ann.tensor(B)), matmul(A, B))
    same(ann.tensor(A):matmul(ann.tensor(B)), matmul(A, B))
  end)

  it("2-d x 1-d, 1-d x 2-d, 1-d x 1-d", function()
    local A, v, w = mat(3, 4, 3), vec(4, 1), vec(3, 2)
    local r = ann.matmul(ann.tensor(A), ann.tensor(v))
    assert.are.same({3}, r:shape())
    same(r, matvec(A, v))
    r = ann.matmul(ann.tensor(w), ann.tensor(A))
    assert.are.same({4}, r:shape())
    same(r, matvec(transpose(A), w))
    same(ann.matmul(ann.tensor(v), ann.tensor(v)), dot(v, v))
  end)

  it("batches 3-d x 3-d, with transposed batches too", function()
    local As, Bs, want = {}, {}, {}
    for b = 1, 3 do
      As[b], Bs[b] = mat(2, 4, b), mat(4, 5, 10 + b)
      want[b] = matmul(As[b], Bs[b])
    end
    local a, bt = ann.tensor(As), ann.tensor(Bs)
    local r = ann.matmul(a, bt)
    assert.are.same({3, 2, 5}, r:shape())
    same(r, want)
    -- the same batches stored as [3,5,4] and seen through transpose(2, 3)
    local BsT = {}
    for b = 1, 3 do BsT[b] = transpose(Bs[b]) end
    same(ann.matmul(a, ann.tensor(BsT):transpose(2, 3)), want)
  end)

  it("rejects mismatched inner sizes and batches", function()
    fails(function() return ann.matmul(ann.zeros(2, 3), ann.zeros(4, 2)) end,
          "matmul", "[2,3]", "[4,2]")
    fails(function() return ann.matmul(ann.zeros(2, 2, 3), ann.zeros(3, 3, 2)) end,
          "matmul", "[2,2,3]", "[3,3,2]")
    fails(function() return ann.matmul(ann.zeros(2), 1) end, "bad argument")
  end)
end)

describe("ann.outer", function()
  it("is u_i * v_j", function()
    local u, v = vec(3, 1), vec(4, 2)
    local want = {}
    for i = 1, 3 do want[i] = {} for j = 1, 4 do want[i][j] = u[i] * v[j] end end
    local r = ann.outer(ann.tensor(u), ann.tensor(v))
    assert.are.same({3, 4}, r:shape())
    same(r, want)
  end)

  it("rejects non-vectors", function()
    fails(function() return ann.outer(ann.zeros(2, 2), ann.zeros(3)) end, "outer", "[2,2]")
  end)
end)

describe("ann.allclose", function()
  it("compares with rtol and atol", function()
    local a = ann.tensor{1, 2, 1000}
    assert.is_true(ann.allclose(a, a:clone()))
    assert.is_false(ann.allclose(a, a + 1))
    -- |a-b| <= atol + rtol*|b|: 1000 vs 1000.5 passes with rtol 1e-3
    local b = ann.tensor{1, 2, 1000.5}
    assert.is_false(ann.allclose(a, b))
    assert.is_true(ann.allclose(a, b, 1e-3))
    assert.is_true(ann.allclose(ann.tensor{0}, ann.tensor{0.01}, 0, 0.02))
    assert.is_false(ann.allclose(ann.tensor{0}, ann.tensor{0.01}, 0, 0.005))
  end)

  it("broadcasts, and fails when shapes don't", function()
    assert.is_true(ann.allclose(ann.ones(2, 3), ann.ones(3)))
    fails(function() return ann.allclose(ann.ones(2, 3), ann.ones(2)) end, "[2,3]", "[2]")
    fails(function() return ann.allclose(ann.ones(2), 1) end, "bad argument")
  end)
end)

describe("runtime", function()
  it("sets and gets the number of threads", function()
    local n = ann.get_num_threads()
    assert.is_true(math.type(n) == "integer" and n >= 1)
    ann.set_num_threads(1)
    assert.are.equal(1, ann.get_num_threads())
    ann.set_num_threads(n)
    assert.are.equal(n, ann.get_num_threads())
    fails(function() ann.set_num_threads(0) end, "bad argument", "set_num_threads")
    fails(function() ann.set_num_threads("x") end, "bad argument")
  end)

  it("flushes denormals to zero, and stops when told", function()
    -- 1e-30 * 1e-10 = 1e-40 is below float's smallest normal (1.18e-38)
    local t = ann.tensor{1e-30}
    local on = ann.set_flush_denormal(false)
    assert.is_boolean(on)
    if on then                              -- x86: the mode exists
      local d = (t * 1e-10):item()
      assert(d > 9.9e-41 and d < 1.01e-40, d)
      assert.is_true(ann.set_flush_denormal(true))
      assert.are.equal(0, (t * 1e-10):item())
    end
    ann.set_flush_denormal(true)            -- the default
    fails(function() ann.set_flush_denormal(1) end, "bad argument")
  end)

  it("reports its configuration, naming the BLAS kernel", function()
    local c = ann.config()
    assert.are.equal("string", type(c.version))
    assert.truthy(c.version:match("^%d+%.%d+%.%d+"))
    assert.are.equal("string", type(c.blas))
    assert.are.equal("string", type(c.blas_core))
    assert.is_true(#c.blas_core > 0)
    assert.truthy(({avx512 = true, avx2 = true, scalar = true})[c.simd], c.simd)
    assert.are.equal(ann.get_num_threads(), c.threads)
    -- the BLAS must not fall back to its generic kernels on a CPU it could
    -- serve with fast ones (DESIGN.md)
    if c.blas:find("OpenBLAS") and c.simd == "avx512" then
      assert.are_not.equal("Prescott", c.blas_core)
    end
  end)
end)
