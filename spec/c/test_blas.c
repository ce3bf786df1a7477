/*
** test_blas.c: linear algebra against a naive loop in double, on odd sizes,
** strided views, both the BLAS and the built-in kernels; runtime config.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "ann_impl.h"

/* ---- helpers ----------------------------------------------------------- */

static uint32_t seed = 12345;

static float rnd(void) {           /* in [-1, 1), independent of the core */
  seed = seed * 1664525u + 1013904223u;
  return (float)((seed >> 8) / 8388608.0 - 1.0);
}

static ann_Tensor *randt(int ndim, int64_t d0, int64_t d1, int64_t d2) {
  int64_t shape[3] = {d0, d1, d2}, i, n;
  ann_Tensor *t = ann_new(ndim, shape);
  n = ann_numel(t);
  for (i = 0; i < n; i++) ann_data(t)[i] = rnd();
  return t;
}

/* element (i, j) of a 2-d view, (b, i, j) of a 3-d one */
static float at2(const ann_Tensor *t, int64_t i, int64_t j) {
  return ann_data(t)[i * t->stride[0] + j * t->stride[1]];
}

/* a view of t with the given shape and strides (no checks: tests only) */
static ann_Tensor *view(ann_Tensor *t, int ndim, const int64_t *shape,
                        const int64_t *stride, int64_t offset) {
  ann_Tensor *v = ann_new_view(t);
  v->ndim = ndim;
  memcpy(v->shape, shape, ndim * sizeof *shape);
  memcpy(v->stride, stride, ndim * sizeof *stride);
  v->offset = offset;
  return v;
}

/* the transposed view of t [r,c] */
static ann_Tensor *tview(ann_Tensor *t) {
  int64_t sh[2] = {t->shape[1], t->shape[0]};
  int64_t st[2] = {t->stride[1], t->stride[0]};
  return view(t, 2, sh, st, t->offset);
}

/* a contiguous copy of a 2-d view, made by the test itself */
static ann_Tensor *copyt(const ann_Tensor *t) {
  ann_Tensor *c = ann_new(2, t->shape);
  int64_t i, j;
  for (i = 0; i < t->shape[0]; i++)
    for (j = 0; j < t->shape[1]; j++)
      ann_data(c)[i * t->shape[1] + j] = at2(t, i, j);
  return c;
}

/* max |c - (alpha a b + beta c0)| over all elements, reference in double */
static double gemm_err(const ann_Tensor *c, float alpha, const ann_Tensor *a,
                       const ann_Tensor *b, float beta, const ann_Tensor *c0) {
  int64_t i, j, p, m = a->shape[0], k = a->shape[1], n = b->shape[1];
  double e = 0;
  for (i = 0; i < m; i++)
    for (j = 0; j < n; j++) {
      double s = 0, d;
      for (p = 0; p < k; p++) s += (double)at2(a, i, p) * at2(b, p, j);
      s *= alpha;
      if (c0) s += beta * (double)at2(c0, i, j);
      d = fabs(s - at2(c, i, j));
      if (d > e || d != d) e = d != d ? INFINITY : d;
    }
  return e;
}

static int same(const ann_Tensor *x, const ann_Tensor *y) {
  int64_t i, j;
  if (!ann_same_shape(x, y)) return 0;
  for (i = 0; i < x->shape[0]; i++)
    for (j = 0; j < x->shape[1]; j++)
      if (at2(x, i, j) != at2(y, i, j)) return 0;
  return 1;
}

static double maxdiff(const ann_Tensor *x, const ann_Tensor *y) {
  int64_t i, j;
  double e = 0;
  for (i = 0; i < x->shape[0]; i++)
    for (j = 0; j < x->shape[1]; j++)
      e = fmax(e, fabs((double)at2(x, i, j) - at2(y, i, j)));
  return e;
}

static double tol(int64_t k) { return 1e-5 * (double)(k + 1); }

/* ---- mm and gemm ------------------------------------------------------- */

/* m x k times k x n, contiguous, transposed and narrowed operands */
static void check_mm(int64_t m, int64_t k, int64_t n, int builtin) {
  ann_Tensor *a = randt(2, m, k, 0), *b = randt(2, k, n, 0);
  ann_Tensor *at = randt(2, k, m, 0), *bt = randt(2, n, k, 0);
  ann_Tensor *big = randt(2, m + 2, k + 3, 0);
  ann_Tensor *c, *ct, *x, *y, *c2, *xc, *yc;
  int64_t copies, sh[2] = {m, k}, st[2] = {k + 3, 1};

  c = ann_mm(a, b);
  CHECK(c != NULL && c->shape[0] == m && c->shape[1] == n);
  CHECK(gemm_err(c, 1, a, b, 0, NULL) <= tol(k));

  /* transposed views: same numbers as contiguous copies, and no copy */
  x = tview(at); y = tview(bt);
  copies = ann_blas_copies();
  ct = ann_mm(x, y);
  CHECK(ann_blas_copies() == copies);
  xc = copyt(x); yc = copyt(y);
  c2 = ann_mm(xc, yc);
  CHECK(gemm_err(ct, 1, x, y, 0, NULL) <= tol(k));
  /* OpenBLAS's kernels for transposed operands sum in another order, and
  ** so do the small-product kernels (dot products for x w^T, rows of B
  ** otherwise); the built-in register tiles read a transposed B through a
  ** panel in the very same order, so they promise the very same bits */
  if (builtin && m * n * k > 32768) CHECK(same(ct, c2));
  else CHECK(maxdiff(ct, c2) <= tol(k));
  ann_release(ct); ann_release(c2); ann_release(xc); ann_release(yc);

  /* a narrowed view (ld > columns) of a bigger matrix: no copy either */
  ann_release(x);
  x = view(big, 2, sh, st, 1 * (k + 3) + 2);
  copies = ann_blas_copies();
  ct = ann_mm(x, b);
  CHECK(ann_blas_copies() == copies);
  CHECK(gemm_err(ct, 1, x, b, 0, NULL) <= tol(k));
  ann_release(ct);

  ann_release(a); ann_release(b); ann_release(at); ann_release(bt);
  ann_release(big); ann_release(c); ann_release(x); ann_release(y);
}

/* operands BLAS can't take as they are: copied, same result */
static void check_copied_views(void) {
  ann_Tensor *a3 = randt(3, 4, 6, 2), *b = randt(2, 6, 5, 0);
  ann_Tensor *row = randt(2, 1, 6, 0), *x, *c, *ca;
  int64_t sh[2] = {4, 6}, st[2] = {12, 2}, ste[2] = {0, 1}, copies;
  x = view(a3, 2, sh, st, 1);          /* a3[:, :, 2]: both strides > 1 */
  copies = ann_blas_copies();
  c = ann_mm(x, b);
  CHECK(ann_blas_copies() == copies + 1);
  CHECK(gemm_err(c, 1, x, b, 0, NULL) <= tol(6));
  ann_release(c); ann_release(x);
  x = view(row, 2, sh, ste, 0);        /* one row expanded to 4 (stride 0) */
  copies = ann_blas_copies();
  c = ann_mm(x, b);
  CHECK(ann_blas_copies() == copies + 1);
  ca = ann_mm(row, b);
  CHECK(gemm_err(c, 1, x, b, 0, NULL) <= tol(6));
  CHECK(at2(c, 3, 4) == at2(ca, 0, 4));
  ann_release(c); ann_release(ca); ann_release(x);
  ann_release(a3); ann_release(b); ann_release(row);
}

static void check_gemm(int64_t m, int64_t k, int64_t n) {
  ann_Tensor *a = randt(2, m, k, 0), *b = randt(2, k, n, 0);
  ann_Tensor *at = randt(2, k, m, 0), *bt = randt(2, n, k, 0);
  ann_Tensor *c0 = randt(2, m, n, 0), *c, *x, *y, *big, *cv;
  int64_t sh[2] = {m, n}, st[2] = {n + 4, 1}, stt[2] = {1, m}, i, j;

  /* beta accumulation: C = 2 A B + 0.5 C0 */
  c = copyt(c0);
  CHECK(ann_gemm(2, a, 0, b, 0, 0.5f, c) == 0);
  CHECK(gemm_err(c, 2, a, b, 0.5f, c0) <= 2 * tol(k));
  ann_release(c);

  /* trans flags on contiguous storage: op(at) = at^T */
  x = tview(at); y = tview(bt);
  c = copyt(c0);
  CHECK(ann_gemm(1, at, 1, bt, 1, 1, c) == 0);
  CHECK(gemm_err(c, 1, x, y, 1, c0) <= tol(k));
  ann_release(c);
  /* one flag at a time: op(at) with b (a beta), a with op(bt) */
  c = copyt(c0);
  CHECK(ann_gemm(1, at, 1, b, 0, 2, c) == 0);
  CHECK(gemm_err(c, 1, x, b, 2, c0) <= 2 * tol(k));
  ann_release(c);
  c = copyt(c0);
  CHECK(ann_gemm(1, a, 0, bt, 1, 0, c) == 0);
  CHECK(gemm_err(c, 1, a, y, 0, NULL) <= tol(k));
  ann_release(c);
  /* a flag on a transposed view flips it back: op(x) = at */
  c = ann_new(2, (int64_t[]){k, n});
  CHECK(ann_gemm(-1, x, 1, c0, 0, 0, c) == 0);
  CHECK(gemm_err(c, -1, at, c0, 0, NULL) <= tol(m));
  ann_release(c);

  /* C a narrowed view with ld > n: untouched around it */
  big = ann_full(2, (int64_t[]){m + 1, n + 4}, 7.0f);
  cv = view(big, 2, sh, st, n + 4);
  CHECK(ann_gemm(1, a, 0, b, 0, 0, cv) == 0);
  CHECK(gemm_err(cv, 1, a, b, 0, NULL) <= tol(k));
  CHECK(ann_data(big)[0] == 7.0f && ann_data(big)[n] == 7.0f);
  CHECK(ann_data(big)[(m + 1) * (n + 4) - 1] == 7.0f);
  ann_release(cv); ann_release(big);

  /* C a transposed view: computed as C^T = B^T A^T */
  big = ann_zeros(2, (int64_t[]){n, m});
  cv = view(big, 2, sh, stt, 0);
  for (i = 0; i < m; i++)
    for (j = 0; j < n; j++) ann_data(big)[j * m + i] = at2(c0, i, j);
  CHECK(ann_gemm(1, a, 0, b, 0, 3, cv) == 0);
  CHECK(gemm_err(cv, 1, a, b, 3, c0) <= 3 * tol(k));
  ann_release(cv); ann_release(big);

  /* beta 0 ignores what C held, NaN included */
  c = ann_full(2, sh, NAN);
  CHECK(ann_gemm(1, a, 0, b, 0, 0, c) == 0);
  CHECK(gemm_err(c, 1, a, b, 0, NULL) <= tol(k));
  ann_release(c);

  /* C sharing storage with A: a temporary, then the result */
  if (k == n) {
    ann_Tensor *a2 = copyt(a);
    CHECK(ann_gemm(1, a2, 0, b, 0, 0, a2) == 0);
    CHECK(gemm_err(a2, 1, a, b, 0, NULL) <= tol(k));
    ann_release(a2);
  }

  ann_release(a); ann_release(b); ann_release(at); ann_release(bt);
  ann_release(c0); ann_release(x); ann_release(y);
}

/* ---- one-row and one-column products ----------------------------------
** [1,k] x [k,n] and [m,k] x [k,1] go to the BLAS's matrix-vector product
** (when a BLAS is loaded and the product is not small): every transpose
** flag, operands narrowed so that a vector's stride is not 1, and C as a
** strided column or a row of a transposed view */

/* an r x c view with ld = c + pad of random storage */
static ann_Tensor *padded(int64_t r, int64_t c, int64_t pad) {
  ann_Tensor *big = randt(2, r, c + pad, 0), *v;
  int64_t sh[2] = {r, c}, st[2] = {c + pad, 1};
  v = view(big, 2, sh, st, 0);
  ann_release(big);
  return v;
}

static void check_gemv(int64_t m, int64_t k, int64_t n) {
  int ta, tb, tc;
  for (ta = 0; ta <= 1; ta++)
    for (tb = 0; tb <= 1; tb++)
      for (tc = 0; tc <= 1; tc++) {
        ann_Tensor *a = ta ? padded(k, m, 2) : padded(m, k, 2);
        ann_Tensor *b = tb ? padded(n, k, 3) : padded(k, n, 3);
        ann_Tensor *opa = ta ? tview(a) : copyt(a);
        ann_Tensor *opb = tb ? tview(b) : copyt(b);
        ann_Tensor *c0 = randt(2, m, n, 0), *cs, *c;
        int64_t i, j;
        /* C [m,n]: rows of ld n + 4, or the transpose of [n,m] with ld m + 1 */
        cs = tc ? padded(n, m, 1) : padded(m, n, 4);
        c = tc ? tview(cs) : view(cs, 2, cs->shape, cs->stride, 0);
        for (i = 0; i < m; i++)
          for (j = 0; j < n; j++)
            ann_data(c)[i * c->stride[0] + j * c->stride[1]] = at2(c0, i, j);
        CHECK(ann_gemm(1.5f, a, ta, b, tb, 0.5f, c) == 0);
        CHECK(gemm_err(c, 1.5f, opa, opb, 0.5f, c0) <= 2 * tol(k));
        /* beta 1 adds to what C holds (gradients accumulate so) */
        for (i = 0; i < m; i++)
          for (j = 0; j < n; j++)
            ann_data(c)[i * c->stride[0] + j * c->stride[1]] = at2(c0, i, j);
        CHECK(ann_gemm(1, a, ta, b, tb, 1, c) == 0);
        CHECK(gemm_err(c, 1, opa, opb, 1, c0) <= 2 * tol(k));
        /* beta 0: the NaN C held is not read */
        for (i = 0; i < m; i++)
          for (j = 0; j < n; j++)
            ann_data(c)[i * c->stride[0] + j * c->stride[1]] = NAN;
        CHECK(ann_gemm(-1, a, ta, b, tb, 0, c) == 0);
        CHECK(gemm_err(c, -1, opa, opb, 0, NULL) <= tol(k));
        ann_release(a); ann_release(b); ann_release(opa); ann_release(opb);
        ann_release(c0); ann_release(cs); ann_release(c);
      }
  {                                     /* and through ann_mm */
    ann_Tensor *a = randt(2, m, k, 0), *b = randt(2, k, n, 0);
    ann_Tensor *c = ann_mm(a, b);
    CHECK(c != NULL && gemm_err(c, 1, a, b, 0, NULL) <= tol(k));
    ann_release(a); ann_release(b); ann_release(c);
  }
}

static void check_empty(void) {
  ann_Tensor *a = ann_zeros(2, (int64_t[]){0, 3});
  ann_Tensor *b = ann_zeros(2, (int64_t[]){3, 4});
  ann_Tensor *e = ann_zeros(2, (int64_t[]){3, 0});
  ann_Tensor *f = ann_zeros(2, (int64_t[]){0, 4});
  ann_Tensor *c = ann_mm(a, b), *d;
  CHECK(c && c->ndim == 2 && c->shape[0] == 0 && c->shape[1] == 4);
  ann_release(c);
  c = ann_mm(e, f);                     /* k = 0: zeros */
  CHECK(c && c->shape[0] == 3 && c->shape[1] == 4);
  CHECK(c && ann_data(c)[0] == 0 && ann_data(c)[11] == 0);
  ann_release(c);
  c = ann_full(2, (int64_t[]){3, 4}, 2.0f);
  CHECK(ann_gemm(1, e, 0, f, 0, 0.5f, c) == 0);
  CHECK(ann_data(c)[0] == 1.0f && ann_data(c)[11] == 1.0f);
  ann_release(c);
  c = ann_zeros(1, (int64_t[]){0});
  d = ann_dot(c, c);
  CHECK(d && d->ndim == 0 && ann_data(d)[0] == 0.0f);
  ann_release(d);
  d = ann_outer(c, c);
  CHECK(d && d->shape[0] == 0 && d->shape[1] == 0);
  ann_release(d); ann_release(c);
  c = ann_zeros(3, (int64_t[]){0, 2, 3});
  d = ann_matmul(c, b);
  CHECK(d && d->ndim == 3 && d->shape[0] == 0 && d->shape[2] == 4);
  ann_release(c); ann_release(d);
  ann_release(a); ann_release(b); ann_release(e); ann_release(f);
}

/* ---- mv, dot, outer, matmul -------------------------------------------- */

static double dotref(const ann_Tensor *u, const ann_Tensor *v) {
  double s = 0;
  int64_t i;
  for (i = 0; i < u->shape[0]; i++)
    s += (double)ann_data(u)[i * u->stride[0]] * ann_data(v)[i * v->stride[0]];
  return s;
}

static void check_vectors(int64_t m, int64_t k) {
  ann_Tensor *a = randt(2, m, k, 0), *at = randt(2, k, m, 0);
  ann_Tensor *v = randt(1, k, 0, 0), *w = randt(1, 2 * k, 0, 0);
  ann_Tensor *u = randt(1, m, 0, 0), *x, *ws, *r;
  int64_t i, j, copies, sh[1] = {k}, st[1] = {2};
  double e = 0;

  r = ann_mv(a, v);
  CHECK(r && r->ndim == 1 && r->shape[0] == m);
  for (i = 0; i < m; i++) {
    double s = 0;
    for (j = 0; j < k; j++) s += (double)at2(a, i, j) * ann_data(v)[j];
    e = fmax(e, fabs(s - ann_data(r)[i]));
  }
  CHECK(e <= tol(k));
  ann_release(r);

  /* transposed matrix and a strided vector: no copy */
  x = tview(at);
  ws = view(w, 1, sh, st, 1);
  copies = ann_blas_copies();
  r = ann_mv(x, ws);
  CHECK(ann_blas_copies() == copies);
  e = 0;
  for (i = 0; i < m; i++) {
    double s = 0;
    for (j = 0; j < k; j++) s += (double)at2(x, i, j) * ann_data(ws)[j * 2];
    e = fmax(e, fabs(s - ann_data(r)[i]));
  }
  CHECK(e <= tol(k));
  ann_release(r);

  r = ann_dot(v, ws);
  CHECK(r && r->ndim == 0);
  CHECK_NEAR(ann_data(r)[0], dotref(v, ws), tol(k));
  ann_release(r);

  r = ann_outer(u, ws);
  CHECK(r && r->shape[0] == m && r->shape[1] == k);
  e = 0;
  for (i = 0; i < m; i++)
    for (j = 0; j < k; j++)
      e = fmax(e, fabs((float)((double)ann_data(u)[i] * ann_data(ws)[2 * j])
                       - ann_data(r)[i * k + j]));
  CHECK(e == 0);
  ann_release(r);

  ann_release(a); ann_release(at); ann_release(v); ann_release(w);
  ann_release(u); ann_release(x); ann_release(ws);
}

/* element (b, i, j) of matmul(a, b) by the PyTorch rules, in double */
static double mmref(const ann_Tensor *a, const ann_Tensor *b, int64_t bi,
                    int64_t i, int64_t j) {
  int64_t p, k = a->shape[a->ndim - 1];
  double s = 0;
  for (p = 0; p < k; p++) {
    const float *pa = ann_data(a), *pb = ann_data(b);
    float x, y;
    if (a->ndim == 1) x = pa[p * a->stride[0]];
    else if (a->ndim == 2) x = pa[i * a->stride[0] + p * a->stride[1]];
    else x = pa[(a->shape[0] == 1 ? 0 : bi) * a->stride[0]
                + i * a->stride[1] + p * a->stride[2]];
    if (b->ndim == 1) y = pb[p * b->stride[0]];
    else if (b->ndim == 2) y = pb[p * b->stride[0] + j * b->stride[1]];
    else y = pb[(b->shape[0] == 1 ? 0 : bi) * b->stride[0]
                + p * b->stride[1] + j * b->stride[2]];
    s += (double)x * y;
  }
  return s;
}

/* matmul(a, b) against mmref; expected result shape given */
static void check_matmul(ann_Tensor *a, ann_Tensor *b, int nd,
                         int64_t s0, int64_t s1, int64_t s2) {
  int64_t shape[3] = {s0, s1, s2}, nb, m, n, bi, i, j, k;
  ann_Tensor *r = ann_matmul(a, b);
  double e = 0;
  int d, ok;
  CHECK(r != NULL);
  if (r == NULL) return;
  ok = r->ndim == nd;
  for (d = 0; ok && d < nd; d++) ok = r->shape[d] == shape[d];
  CHECK(ok);
  nb = a->ndim == 3 || b->ndim == 3 ? r->shape[0] : 1;
  m = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1;
  n = b->ndim >= 2 ? b->shape[b->ndim - 1] : 1;
  k = a->shape[a->ndim - 1];
  for (bi = 0; bi < nb; bi++)
    for (i = 0; i < m; i++)
      for (j = 0; j < n; j++)
        e = fmax(e, fabs(mmref(a, b, bi, i, j)
                         - ann_data(r)[(bi * m + i) * n + j]));
  CHECK(e <= tol(k));
  ann_release(r);
}

static void check_matmuls(void) {
  ann_Tensor *v3 = randt(1, 3, 0, 0), *v5 = randt(1, 5, 0, 0);
  ann_Tensor *m35 = randt(2, 3, 5, 0), *m57 = randt(2, 5, 7, 0);
  ann_Tensor *b235 = randt(3, 2, 3, 5), *b257 = randt(3, 2, 5, 7);
  ann_Tensor *b135 = randt(3, 1, 3, 5), *b457 = randt(3, 4, 5, 7);
  ann_Tensor *b253 = randt(3, 2, 5, 3), *x;
  check_matmul(v5, v5, 0, 0, 0, 0);              /* dot */
  check_matmul(m35, v5, 1, 3, 0, 0);             /* mv */
  check_matmul(v3, m35, 1, 5, 0, 0);             /* vector times matrix */
  check_matmul(m35, m57, 2, 3, 7, 0);            /* mm */
  check_matmul(b235, b257, 3, 2, 3, 7);          /* batched */
  check_matmul(b235, m57, 3, 2, 3, 7);           /* shared right: one gemm */
  check_matmul(m35, b257, 3, 2, 3, 7);           /* shared left */
  check_matmul(b235, v5, 2, 2, 3, 0);            /* batch times vector */
  check_matmul(v3, b235, 2, 2, 5, 0);            /* vector times batch */
  check_matmul(b135, b457, 3, 4, 3, 7);          /* batch dim 1 broadcast */
  /* a batch of transposed matrices, and a transposed shared right one */
  x = view(b253, 3, (int64_t[]){2, 3, 5}, (int64_t[]){15, 1, 3}, 0);
  check_matmul(x, m57, 3, 2, 3, 7);
  ann_release(x);
  x = tview(m35);
  check_matmul(b235, x, 3, 2, 3, 3);
  check_matmul(x, v3, 1, 5, 0, 0);
  ann_release(x);
  ann_release(v3); ann_release(v5); ann_release(m35); ann_release(m57);
  ann_release(b235); ann_release(b257); ann_release(b135);
  ann_release(b457); ann_release(b253);
}

/* ---- errors ------------------------------------------------------------ */

static void check_errors(void) {
  ann_Tensor *v3 = ann_zeros(1, (int64_t[]){3});
  ann_Tensor *v4 = ann_zeros(1, (int64_t[]){4});
  ann_Tensor *v5 = ann_zeros(1, (int64_t[]){5});
  ann_Tensor *m34 = ann_zeros(2, (int64_t[]){3, 4});
  ann_Tensor *m52 = ann_zeros(2, (int64_t[]){5, 2});
  ann_Tensor *m42 = ann_zeros(2, (int64_t[]){4, 2});
  ann_Tensor *m22 = ann_zeros(2, (int64_t[]){2, 2});
  ann_Tensor *m31 = ann_zeros(2, (int64_t[]){3, 1});
  ann_Tensor *t234 = ann_zeros(3, (int64_t[]){2, 3, 4});
  ann_Tensor *t345 = ann_zeros(3, (int64_t[]){3, 4, 5});
  ann_Tensor *t4 = ann_zeros(4, (int64_t[]){2, 2, 2, 2});
  ann_Tensor *s = ann_scalar(1);
  CHECK_ERR(ann_mm(m34, m52), "mm: size mismatch, [3,4] x [5,2] (4 ~= 5)");
  CHECK_ERR(ann_mm(v3, m34), "mm: expected 2-d tensors, got [3] and [3,4]");
  CHECK_ERR(ann_mm(NULL, m34), "mm: NULL tensor");
  CHECK_ERR(ann_mv(m34, v5), "mv: size mismatch, [3,4] x [5] (4 ~= 5)");
  CHECK_ERR(ann_mv(m34, m42),
            "mv: expected a 2-d and a 1-d tensor, got [3,4] and [4,2]");
  CHECK_ERR(ann_dot(v3, v4), "dot: size mismatch, [3] x [4] (3 ~= 4)");
  CHECK_ERR(ann_dot(m31, v3), "dot: expected 1-d tensors, got [3,1] and [3]");
  CHECK_ERR(ann_outer(s, v3), "outer: expected 1-d tensors, got [] and [3]");
  CHECK_ERR(ann_matmul(t4, v3), "matmul: expected 1-d, 2-d or 3-d tensors, "
            "got [2,2,2,2] and [3]");
  CHECK_ERR(ann_matmul(s, v3), "matmul: expected 1-d, 2-d or 3-d tensors, "
            "got [] and [3]");
  CHECK_ERR(ann_matmul(t234, m52),
            "matmul: size mismatch, [2,3,4] x [5,2] (4 ~= 5)");
  CHECK_ERR(ann_matmul(v3, v4), "matmul: size mismatch, [3] x [4] (3 ~= 4)");
  CHECK_ERR(ann_matmul(t234, t345),
            "matmul: batch sizes differ, [2,3,4] x [3,4,5] (2 ~= 3)");
  /* ann_gemm returns -1: the expression is 0 when it fails */
  CHECK_ERR(ann_gemm(1, m34, 1, m42, 0, 0, m22) != -1,
            "gemm: size mismatch, [3,4]^T x [4,2] (3 ~= 4)");
  CHECK_ERR(ann_gemm(1, m34, 0, m42, 0, 0, m22) != -1,
            "gemm: result is [2,2], expected [3,2]");
  CHECK_ERR(ann_gemm(1, v3, 0, m42, 0, 0, m22) != -1,
            "gemm: expected 2-d tensors, got [3], [4,2] and [2,2]");
  CHECK_ERR(ann_gemm(1, m34, 0, m42, 0, 0, NULL) != -1, "gemm: NULL tensor");
  ann_release(v3); ann_release(v4); ann_release(v5); ann_release(m34);
  ann_release(m52); ann_release(m42); ann_release(m22); ann_release(m31);
  ann_release(t234); ann_release(t345); ann_release(t4); ann_release(s);
}

/* ---- runtime ----------------------------------------------------------- */

static void check_runtime(int env_set) {
  ann_Config c;
  volatile float tiny = 1e-39f, one = 1.0f;   /* 1e-39 is subnormal */
  ann_config(&c);
  CHECK(strcmp(c.version, ANN_VERSION) == 0);
  CHECK(c.blas && c.blas[0] && c.blas_core && c.blas_core[0]);
  CHECK(c.simd && c.simd[0]);
  CHECK(c.threads >= 1);
  printf("blas: %s; core: %s; simd: %s; threads: %d\n", c.blas, c.blas_core,
         c.simd, c.threads);
  /* with no OPENBLAS_CORETYPE from the user, OpenBLAS gets the kernels of
  ** the instructions this CPU has, and the variable is gone again */
  if (!env_set && strncmp(c.blas, "OpenBLAS", 8) == 0) {
    if (ann_cpu_avx512()) CHECK(strcmp(c.blas_core, "SkylakeX") == 0);
    else if (ann_cpu_avx2()) CHECK(strcmp(c.blas_core, "Haswell") == 0);
  }
  if (!env_set) CHECK(getenv("OPENBLAS_CORETYPE") == NULL);

  ann_set_num_threads(1);
  CHECK(ann_get_num_threads() == 1);
  ann_config(&c);
  CHECK(c.threads == 1);
  ann_set_num_threads(0);                     /* back to the default */
  CHECK(ann_get_num_threads() >= 1);

#if defined(__x86_64__) || defined(__i386__)
  {
    int at_init = ann_cpu_flush_denormal();   /* set by ann_init */
    ann_flush_denormal(1);
    if (!ann_cpu_flush_denormal()) {          /* valgrind keeps no MXCSR */
      printf("MXCSR does not keep FTZ/DAZ here: those checks skipped\n");
      return;
    }
    CHECK(at_init);
    CHECK(tiny * one == 0.0f);
    ann_flush_denormal(0);
    CHECK(!ann_cpu_flush_denormal());
    CHECK(tiny * one != 0.0f);
    ann_flush_denormal(1);
    CHECK(tiny * one == 0.0f);
  }
#else
  (void)tiny; (void)one;
#endif
}

/* a product large enough for threads: with the built-in kernels, the same
** bits on one thread and on several (each thread takes whole tiles of
** rows); a BLAS may split the sums otherwise */
static void check_threads(int builtin) {
  ann_Tensor *a = randt(2, 203, 150, 0), *b = randt(2, 150, 141, 0);
  ann_Tensor *c1, *c2;
  int saved = ann_get_num_threads();
  ann_set_num_threads(1);
  c1 = ann_mm(a, b);
  ann_set_num_threads(2);
  c2 = ann_mm(a, b);
  CHECK(c1 && c2);
  if (c1 && c2 && builtin) CHECK(same(c1, c2));
  CHECK(gemm_err(c2, 1, a, b, 0, NULL) <= tol(150));
  ann_set_num_threads(saved);
  ann_release(a); ann_release(b); ann_release(c1); ann_release(c2);
}

int main(void) {
  static const int64_t sizes[][3] = {
    {1, 1, 1}, {3, 5, 7}, {65, 33, 17}, {1, 9, 4}, {6, 9, 1}, {5, 300, 600},
    {1, 37, 40}, {2, 64, 64}, {3, 20, 33},  /* 16 columns at a time */
    {10, 2, 8}, {7, 8, 33}, {1, 15, 64},    /* few inputs: rows of w^T */
    {137, 300, 45}, {9, 129, 70}, {16, 64, 65} /* built-in register tiles:
                       edge rows, edge columns, several blocks of m and k */
  };
  int env_set = getenv("OPENBLAS_CORETYPE") != NULL, builtin;
  size_t i;
  ann_init();
  check_runtime(env_set);
  for (builtin = 0; builtin <= 1; builtin++) {
    ann_blas_use_builtin(builtin);
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      check_mm(sizes[i][0], sizes[i][1], sizes[i][2], builtin);
      check_gemm(sizes[i][0], sizes[i][1], sizes[i][2]);
      check_vectors(sizes[i][0], sizes[i][1]);
    }
    check_gemm(4, 4, 4);
    check_gemv(1, 784, 256);            /* an MNIST row through a layer */
    check_gemv(1, 300, 200);
    check_gemv(300, 200, 1);
    check_gemv(257, 130, 1);
    check_threads(builtin);
    check_copied_views();
    check_empty();
    check_matmuls();
  }
  /* the built-in kernels again at each lower SIMD level this CPU has */
  {
    static const char *const lower[] = {"avx2", "scalar"};
    char best[16];
    size_t l;
    snprintf(best, sizeof best, "%s", ann_simd_level());
    for (l = 0; l < 2; l++) {   /* ann_blas_use_builtin(1) still holds */
      if (strcmp(best, lower[l]) == 0 || ann_simd_use(lower[l]) != 0) continue;
      for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        check_mm(sizes[i][0], sizes[i][1], sizes[i][2], 1);
        check_gemm(sizes[i][0], sizes[i][1], sizes[i][2]);
      }
      check_threads(1);
    }
    CHECK(ann_simd_use(best) == 0);
  }
  ann_blas_use_builtin(0);
  check_errors();
  return test_report();
}
