-- blas_check_spec.lua: the BLAS self-check at load (src/ann_blas.c).  Fake
-- CBLAS libraries built here are loaded through ANN_BLAS=<path>: a right
-- one passes and is used; one wrong for B transposed only, one wrong in
-- gemv only, are dropped for the built-in kernels, and ann.config() and
-- `annlua -v` say so.
local h = require("helpers")

local tmpdir = h.tmpdir()
local ANNLUA = h.quote(h.annlua_bin())

-- a naive row-major CBLAS; `bad` is C code run after each call
local function fake(name, gemm_bad, gemv_bad)
  local src = tmpdir .. "/" .. name .. ".c"
  h.writefile(src, ([[
void cblas_sgemm(int o, int ta, int tb, int m, int n, int k, float alpha,
                 const float *A, int lda, const float *B, int ldb,
                 float beta, float *C, int ldc) {
  int i, j, p;
  (void)o;
  for (i = 0; i < m; i++)
    for (j = 0; j < n; j++) {
      float s = 0;
      for (p = 0; p < k; p++)
        s += (ta == 112 ? A[p * lda + i] : A[i * lda + p])
           * (tb == 112 ? B[j * ldb + p] : B[p * ldb + j]);
      C[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * C[i * ldc + j]);
    }
  %s
}
void cblas_sgemv(int o, int t, int m, int n, float alpha, const float *A,
                 int lda, const float *x, int incx, float beta, float *y,
                 int incy) {
  int i, p, rows = t == 112 ? n : m, cols = t == 112 ? m : n;
  (void)o;
  for (i = 0; i < rows; i++) {
    float s = 0;
    for (p = 0; p < cols; p++)
      s += (t == 112 ? A[p * lda + i] : A[i * lda + p]) * x[p * incx];
    y[i * incy] = alpha * s + (beta == 0 ? 0 : beta * y[i * incy]);
  }
  %s
}
]]):format(gemm_bad or "", gemv_bad or ""))
  local so = tmpdir .. "/" .. name .. ".so"
  local _, err, code = h.run("cc -shared -fPIC -O1 -o " .. h.quote(so) .. " "
                             .. h.quote(src))
  assert.are.equal(0, code, err)
  return so
end

local function probe(so)
  local out, err, code = h.run("ANN_BLAS=" .. h.quote(so) .. " " .. ANNLUA ..
    " -v -e " .. h.quote("local c = ann.config() print(c.blas) " ..
                         "print(c.blas_check)"))
  assert.are.equal(0, code, err)
  return out
end

describe("BLAS self-check", function()
  teardown(function() h.rmdir(tmpdir) end)

  it("a right BLAS passes and is used", function()
    local so = fake("right")
    local out = probe(so)
    assert.truthy(out:find("BLAS self-check: passed\n", 1, true), out)
    assert.truthy(out:find("\n" .. so .. "\npassed\n", 1, true), out)
  end)

  it("a BLAS wrong for B transposed is dropped", function()
    local out = probe(fake("bad_nt", "if (tb == 112) C[0] += 0.5f;"))
    assert.truthy(out:find("\nbuiltin\n", 1, true), out)
    assert.truthy(out:find("BLAS self-check: " .. tmpdir .. "/bad_nt.so failed: it gave", 1, true), out)
    assert.truthy(out:find("(NT 40x64x48, element 0); using the built-in kernels", 1, true), out)
  end)

  it("a BLAS wrong in its gemv only is dropped", function()
    local out = probe(fake("bad_gemv", nil, "y[0] *= 1.001f;"))
    assert.truthy(out:find("\nbuiltin\n", 1, true), out)
    assert.truthy(out:find("failed: it gave", 1, true), out)
    assert.truthy(out:find("300x1x200, element 0)", 1, true), out)
  end)
end)
