/*
** test_ops.c: elementwise ops, broadcasting, activations, softmax and the
** in-place forms, checked against plain C arithmetic, libm and values
** worked out by hand.  The vector kernels are run at every SIMD level the
** CPU has.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "ann_impl.h"

static const char *const levels[] = {"avx512", "avx2", "scalar"};
#define NLEVELS 3
static char best[16];                      /* the level chosen at start */

static void restore(void) { ann_simd_use(best); }

/* element at a 0-based index, read through the strides */
static float at(const ann_Tensor *t, int64_t i, int64_t j, int64_t k) {
  int64_t idx[3] = {i, j, k}, off = t->offset;
  int d;
  for (d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
  return t->st->data[off];
}

static ann_Tensor *mk(int ndim, const int64_t *shape, const float *v) {
  return ann_from_data(v, ndim, shape);
}

/* a [m,n] tensor with x[i,j] = f(i,j) */
static ann_Tensor *mat(int64_t m, int64_t n, double a, double b, double c) {
  int64_t shape[2] = {m, n}, i, j;
  ann_Tensor *t = ann_empty(2, shape);
  for (i = 0; i < m; i++)
    for (j = 0; j < n; j++)
      t->st->data[i * n + j] = (float)(a * i + b * j + c * sin(i + 3.0 * j));
  return t;
}

/* the transpose of a 2-d tensor, built by hand: a view with the strides
** swapped */
static ann_Tensor *tview(const ann_Tensor *t) {
  ann_Tensor *v = ann_new_view(t);
  v->shape[0] = t->shape[1]; v->shape[1] = t->shape[0];
  v->stride[0] = t->stride[1]; v->stride[1] = t->stride[0];
  return v;
}

static float ref(ann_BinOp op, float x, float z) {
  switch (op) {
    case ANN_ADD: return x + z;
    case ANN_SUB: return x - z;
    case ANN_MUL: return x * z;
    case ANN_DIV: return x / z;
    case ANN_POW: return powf(x, z);
    case ANN_EQ: return x == z;
    case ANN_NE: return x != z;
    case ANN_GT: return x > z;
    case ANN_GE: return x >= z;
    case ANN_LT: return x < z;
    case ANN_LE: return x <= z;
    default: return NAN;
  }
}

static int same(float a, float b) {       /* bit-equal, NaN == NaN */
  return (isnan(a) && isnan(b)) || a == b;
}

/* ---- names and shapes --------------------------------------------------- */

static void test_names(void) {
  CHECK(strcmp(ann_binop_name(ANN_ADD), "add") == 0);
  CHECK(strcmp(ann_binop_name(ANN_DIV), "div") == 0);
  CHECK(strcmp(ann_binop_name(ANN_POW), "pow") == 0);
  CHECK(strcmp(ann_binop_name(ANN_LE), "le") == 0);
  CHECK(strcmp(ann_unop_name(ANN_NEG), "neg") == 0);
  CHECK(strcmp(ann_unop_name(ANN_SIGMOID), "sigmoid") == 0);
  CHECK(strcmp(ann_unop_name(ANN_RELU), "relu") == 0);
  CHECK(strcmp(ann_binop_name((ann_BinOp)99), "?") == 0);
}

static void test_broadcast_shape(void) {
  int64_t s1[3] = {2, 1, 3}, s2[2] = {4, 1}, s3[1] = {5}, out[8];
  int64_t s4[2] = {2, 3}, s5[1] = {4}, s6[1] = {0}, s7[1] = {1};
  ann_Tensor *a = ann_zeros(3, s1), *b = ann_zeros(2, s2);
  ann_Tensor *c = ann_zeros(1, s3), *s = ann_scalar(1);
  ann_Tensor *d = ann_zeros(2, s4), *e = ann_zeros(1, s5);
  ann_Tensor *z = ann_zeros(1, s6), *o = ann_zeros(1, s7);
  int nd = -1;
  CHECK(ann_broadcast_shape(a, b, &nd, out) == 0);
  CHECK(nd == 3 && out[0] == 2 && out[1] == 4 && out[2] == 3);
  CHECK(ann_broadcast_shape(b, a, &nd, out) == 0);
  CHECK(nd == 3 && out[0] == 2 && out[1] == 4 && out[2] == 3);
  CHECK(ann_broadcast_shape(s, c, &nd, out) == 0);
  CHECK(nd == 1 && out[0] == 5);
  CHECK(ann_broadcast_shape(s, s, &nd, out) == 0 && nd == 0);
  CHECK(ann_broadcast_shape(z, o, &nd, out) == 0 && nd == 1 && out[0] == 0);
  CHECK_ERR(ann_broadcast_shape(d, e, &nd, out) + 1,
            "shapes [2,3] and [4] do not broadcast");
  CHECK_ERR(ann_binary(ANN_ADD, d, e) != NULL,
            "add: shapes [2,3] and [4] do not broadcast");
  CHECK_ERR(ann_binary(ANN_LT, e, d) != NULL,
            "lt: shapes [4] and [2,3] do not broadcast");
  CHECK_ERR(ann_binary(ANN_ADD, z, e) != NULL,
            "add: shapes [0] and [4] do not broadcast");
  ann_release(a); ann_release(b); ann_release(c); ann_release(s);
  ann_release(d); ann_release(e); ann_release(z); ann_release(o);
}

/* ---- binary ------------------------------------------------------------- */

/* every op on contiguous operands long enough for whole vectors and a
** tail, against plain C on the same floats */
static void test_binary_contig(void) {
  int64_t n = 37, i;
  int op, lv;
  ann_Tensor *a = ann_empty(1, &n), *b = ann_empty(1, &n);
  for (i = 0; i < n; i++) {
    a->st->data[i] = (float)(i % 7) - 3.0f + 0.25f * (float)i;
    b->st->data[i] = i % 5 == 0 ? a->st->data[i] : (float)(i % 3) + 0.5f;
  }
  for (lv = 0; lv < NLEVELS; lv++) {
    if (ann_simd_use(levels[lv]) < 0) continue;
    for (op = 0; op < ANN_NBINOP; op++) {
      ann_Tensor *y = ann_binary((ann_BinOp)op, a, b);
      int ok = y != NULL && y->ndim == 1 && y->shape[0] == n;
      for (i = 0; ok && i < n; i++)
        ok = same(y->st->data[i],
                  ref((ann_BinOp)op, a->st->data[i], b->st->data[i]));
      CHECK(ok);
      ann_release(y);
    }
  }
  restore();
  ann_release(a); ann_release(b);
}

/* by hand: a few values of each op */
static void test_binary_hand(void) {
  int64_t s[1] = {4};
  float av[4] = {1, -2, 3, 0.5f}, bv[4] = {2, 4, 3, -0.25f};
  ann_Tensor *a = mk(1, s, av), *b = mk(1, s, bv), *y;
  y = ann_binary(ANN_ADD, a, b);
  CHECK(y->st->data[0] == 3 && y->st->data[1] == 2 && y->st->data[3] == 0.25f);
  ann_release(y);
  y = ann_binary(ANN_SUB, a, b);
  CHECK(y->st->data[0] == -1 && y->st->data[1] == -6 && y->st->data[2] == 0);
  ann_release(y);
  y = ann_binary(ANN_MUL, a, b);
  CHECK(y->st->data[1] == -8 && y->st->data[2] == 9 && y->st->data[3] == -0.125f);
  ann_release(y);
  y = ann_binary(ANN_DIV, a, b);
  CHECK(y->st->data[0] == 0.5f && y->st->data[1] == -0.5f && y->st->data[3] == -2);
  ann_release(y);
  y = ann_binary(ANN_POW, a, b);   /* 1^2, (-2)^4, 3^3, 0.5^-0.25 */
  CHECK(y->st->data[0] == 1 && y->st->data[1] == 16 && y->st->data[2] == 27);
  CHECK_NEAR(y->st->data[3], 1.189207115, 1e-6);
  ann_release(y);
  y = ann_binary(ANN_EQ, a, b);
  CHECK(y->st->data[0] == 0 && y->st->data[2] == 1);
  ann_release(y);
  y = ann_binary(ANN_GE, a, b);
  CHECK(y->st->data[0] == 0 && y->st->data[1] == 0 && y->st->data[2] == 1 &&
        y->st->data[3] == 1);
  ann_release(y);
  y = ann_binary(ANN_LT, a, b);
  CHECK(y->st->data[0] == 1 && y->st->data[1] == 1 && y->st->data[2] == 0 &&
        y->st->data[3] == 0);
  ann_release(y);
  ann_release(a); ann_release(b);
}

/* [2,1,3] op [4,1] -> [2,4,3]: y[i,j,k] = a[i,0,k] op b[j,0] */
static void test_broadcast_3d(void) {
  int64_t sa[3] = {2, 1, 3}, sb[2] = {4, 1}, i, j, k;
  float av[6] = {1, 2, 3, -4, 5, 0.5f}, bv[4] = {10, -1, 0.5f, 2};
  ann_Tensor *a = mk(3, sa, av), *b = mk(2, sb, bv);
  int op;
  for (op = 0; op < ANN_NBINOP; op++) {
    ann_Tensor *y = ann_binary((ann_BinOp)op, a, b);
    int ok = y && y->ndim == 3 && y->shape[0] == 2 && y->shape[1] == 4 &&
             y->shape[2] == 3;
    for (i = 0; ok && i < 2; i++)
      for (j = 0; j < 4; j++)
        for (k = 0; k < 3; k++)
          ok = ok && same(at(y, i, j, k),
                          ref((ann_BinOp)op, av[i * 3 + k], bv[j]));
    CHECK(ok);
    ann_release(y);
  }
  {  /* by hand: a[1,0,2] + b[2,0] = 0.5 + 0.5 */
    ann_Tensor *y = ann_binary(ANN_ADD, a, b);
    CHECK(at(y, 1, 2, 2) == 1.0f && at(y, 0, 0, 0) == 11.0f);
    ann_release(y);
  }
  ann_release(a); ann_release(b);
}

/* [64,256] with a row [256] and a column [64,1], both orders, every level */
static void test_broadcast_rowcol(void) {
  int64_t m = 64, n = 256, i, j, sr[1] = {256}, sc[2] = {64, 1};
  ann_Tensor *a = mat(m, n, 0.5, -0.01, 3), *r = ann_empty(1, sr);
  ann_Tensor *c = ann_empty(2, sc);
  int op, lv;
  for (j = 0; j < n; j++) r->st->data[j] = 1.5f + (float)(j % 11);
  for (i = 0; i < m; i++) c->st->data[i] = -2.0f - (float)(i % 5);
  for (lv = 0; lv < NLEVELS; lv++) {
    if (ann_simd_use(levels[lv]) < 0) continue;
    for (op = ANN_ADD; op <= ANN_DIV; op++) {
      ann_Tensor *y1 = ann_binary((ann_BinOp)op, a, r);
      ann_Tensor *y2 = ann_binary((ann_BinOp)op, r, a);
      ann_Tensor *y3 = ann_binary((ann_BinOp)op, a, c);
      ann_Tensor *y4 = ann_binary((ann_BinOp)op, c, a);
      int ok = y1 && y2 && y3 && y4;
      for (i = 0; ok && i < m; i++)
        for (j = 0; j < n; j++) {
          float x = at(a, i, j, 0), rv = r->st->data[j], cv = c->st->data[i];
          ok = ok && same(at(y1, i, j, 0), ref((ann_BinOp)op, x, rv)) &&
               same(at(y2, i, j, 0), ref((ann_BinOp)op, rv, x)) &&
               same(at(y3, i, j, 0), ref((ann_BinOp)op, x, cv)) &&
               same(at(y4, i, j, 0), ref((ann_BinOp)op, cv, x));
        }
      CHECK(ok);
      ann_release(y1); ann_release(y2); ann_release(y3); ann_release(y4);
    }
  }
  restore();
  ann_release(a); ann_release(r); ann_release(c);
}

/* a transposed view as either operand */
static void test_strided_binary(void) {
  ann_Tensor *a = mat(3, 4, 1, 10, 0), *at_ = tview(a);   /* [4,3] */
  ann_Tensor *b = mat(4, 3, 2, -1, 1), *y, *y2;
  int64_t i, j;
  int ok = 1;
  y = ann_binary(ANN_SUB, at_, b);
  y2 = ann_binary(ANN_MUL, b, at_);
  CHECK(y->shape[0] == 4 && y->shape[1] == 3 && ann_is_contiguous(y));
  for (i = 0; i < 4; i++)
    for (j = 0; j < 3; j++)
      ok = ok && at(y, i, j, 0) == at(a, j, i, 0) - at(b, i, j, 0) &&
           at(y2, i, j, 0) == at(b, i, j, 0) * at(a, j, i, 0);
  CHECK(ok);
  /* by hand: a[j,i] = j + 10 i, so at_[3,2] = 2 + 30 */
  CHECK(at(at_, 3, 2, 0) == 32.0f);
  ann_release(y); ann_release(y2); ann_release(a); ann_release(at_);
  ann_release(b);
}

static void test_scalar_forms(void) {
  int64_t s[1] = {4};
  float v[4] = {1, 2, 4, -0.5f};
  ann_Tensor *a = mk(1, s, v), *y;
  y = ann_binary_scalar(ANN_SUB, a, 2, 0);           /* t - 2 */
  CHECK(y->st->data[0] == -1 && y->st->data[2] == 2 && y->st->data[3] == -2.5f);
  ann_release(y);
  y = ann_binary_scalar(ANN_SUB, a, 2, 1);           /* 2 - t */
  CHECK(y->st->data[0] == 1 && y->st->data[2] == -2 && y->st->data[3] == 2.5f);
  ann_release(y);
  y = ann_binary_scalar(ANN_DIV, a, 2, 0);           /* t / 2 */
  CHECK(y->st->data[0] == 0.5f && y->st->data[2] == 2 && y->st->data[3] == -0.25f);
  ann_release(y);
  y = ann_binary_scalar(ANN_DIV, a, 2, 1);           /* 2 / t */
  CHECK(y->st->data[0] == 2 && y->st->data[1] == 1 && y->st->data[2] == 0.5f &&
        y->st->data[3] == -4);
  ann_release(y);
  y = ann_binary_scalar(ANN_POW, a, 2, 0);           /* t ^ 2 */
  CHECK(y->st->data[1] == 4 && y->st->data[2] == 16 && y->st->data[3] == 0.25f);
  ann_release(y);
  y = ann_binary_scalar(ANN_POW, a, -1, 0);          /* t ^ -1 */
  CHECK(y->st->data[1] == 0.5f && y->st->data[3] == -2);
  ann_release(y);
  y = ann_binary_scalar(ANN_POW, a, 1, 0);           /* t ^ 1 */
  CHECK(y->st->data[2] == 4 && y->st->data[3] == -0.5f);
  ann_release(y);
  y = ann_binary_scalar(ANN_POW, a, 0.5f, 0);        /* sqrt, NaN below 0 */
  CHECK(y->st->data[2] == 2 && isnan(y->st->data[3]));
  ann_release(y);
  y = ann_binary_scalar(ANN_POW, a, 2, 1);           /* 2 ^ t */
  CHECK(y->st->data[0] == 2 && y->st->data[2] == 16);
  CHECK_NEAR(y->st->data[3], 0.7071067812, 1e-7);
  ann_release(y);
  y = ann_binary_scalar(ANN_GT, a, 1, 0);
  CHECK(y->st->data[0] == 0 && y->st->data[1] == 1 && y->st->data[3] == 0);
  ann_release(y);
  y = ann_binary_scalar(ANN_GT, a, 1, 1);            /* 1 > t */
  CHECK(y->st->data[0] == 0 && y->st->data[1] == 0 && y->st->data[3] == 1);
  ann_release(y);
  y = ann_binary_scalar(ANN_MUL, a, 3, 1);
  CHECK(y->st->data[2] == 12 && y->st->data[3] == -1.5f);
  ann_release(y);
  {  /* a 0-dim tensor broadcasts like a number */
    ann_Tensor *s0 = ann_scalar(10);
    y = ann_binary(ANN_SUB, s0, a);
    CHECK(y->ndim == 1 && y->st->data[0] == 9 && y->st->data[3] == 10.5f);
    ann_release(y);
    y = ann_binary(ANN_ADD, s0, s0);
    CHECK(y->ndim == 0 && y->st->data[0] == 20);
    ann_release(y); ann_release(s0);
  }
  {  /* a strided input with a scalar */
    ann_Tensor *m = mat(3, 4, 1, 10, 0), *t = tview(m);
    int64_t i, j;
    int ok = 1;
    y = ann_binary_scalar(ANN_SUB, t, 1, 1);
    for (i = 0; i < 4; i++)
      for (j = 0; j < 3; j++) ok = ok && at(y, i, j, 0) == 1 - (j + 10.0f * i);
    CHECK(ok);
    ann_release(y); ann_release(t); ann_release(m);
  }
  ann_release(a);
}

/* pow with a tensor exponent, broadcast: [2,3] ^ [3] */
static void test_pow_tensor(void) {
  int64_t sa[2] = {2, 3}, sb[1] = {3};
  float av[6] = {2, 9, 4, 3, 16, -8}, bv[3] = {3, 0.5f, -1};
  ann_Tensor *a = mk(2, sa, av), *b = mk(1, sb, bv);
  ann_Tensor *y = ann_binary(ANN_POW, a, b);
  CHECK(at(y, 0, 0, 0) == 8 && at(y, 0, 1, 0) == 3 && at(y, 0, 2, 0) == 0.25f);
  CHECK(at(y, 1, 0, 0) == 27 && at(y, 1, 1, 0) == 4 && at(y, 1, 2, 0) == -0.125f);
  ann_release(y); ann_release(a); ann_release(b);
}

/* ---- unary -------------------------------------------------------------- */

static void test_unary_hand(void) {
  int64_t s[1] = {5};
  float v[5] = {0, 1, -2, 4, NAN};
  ann_Tensor *a = mk(1, s, v), *y;
  int lv;
  for (lv = 0; lv < NLEVELS; lv++) {
    if (ann_simd_use(levels[lv]) < 0) continue;
    y = ann_unary(ANN_NEG, a);
    CHECK(y->st->data[1] == -1 && y->st->data[2] == 2 && isnan(y->st->data[4]));
    ann_release(y);
    y = ann_unary(ANN_EXP, a);
    CHECK(y->st->data[0] == 1);
    CHECK_NEAR(y->st->data[1], 2.718281828, 3e-7);
    CHECK_NEAR(y->st->data[2], 0.1353352832, 3e-8);
    CHECK(isnan(y->st->data[4]));
    ann_release(y);
    y = ann_unary(ANN_LOG, a);
    CHECK(isinf(y->st->data[0]) && y->st->data[0] < 0 && y->st->data[1] == 0);
    CHECK(isnan(y->st->data[2]));
    CHECK_NEAR(y->st->data[3], 1.386294361, 2e-7);
    ann_release(y);
    y = ann_unary(ANN_SQRT, a);
    CHECK(y->st->data[3] == 2 && y->st->data[1] == 1 && isnan(y->st->data[2]));
    ann_release(y);
    y = ann_unary(ANN_ABS, a);
    CHECK(y->st->data[2] == 2 && y->st->data[3] == 4 && isnan(y->st->data[4]));
    ann_release(y);
    y = ann_unary(ANN_RELU, a);
    CHECK(y->st->data[0] == 0 && y->st->data[1] == 1 && y->st->data[2] == 0 &&
          y->st->data[3] == 4 && isnan(y->st->data[4]));
    ann_release(y);
    y = ann_unary(ANN_SIGMOID, a);   /* 1/(1+e^-x) */
    CHECK(y->st->data[0] == 0.5f);
    CHECK_NEAR(y->st->data[1], 0.7310585786, 2e-7);
    CHECK_NEAR(y->st->data[2], 0.1192029220, 5e-8);
    CHECK(isnan(y->st->data[4]));
    ann_release(y);
    y = ann_unary(ANN_TANH, a);
    CHECK(y->st->data[0] == 0);
    CHECK_NEAR(y->st->data[1], 0.7615941560, 2e-7);
    CHECK_NEAR(y->st->data[2], -0.9640275801, 2e-7);
    CHECK(isnan(y->st->data[4]));
    ann_release(y);
  }
  restore();
  ann_release(a);
}

/* saturation, overflow, underflow, subnormal results, signed zero */
static void test_special_values(void) {
  int64_t s[1] = {12};
  float v[12] = {100, -200, INFINITY, -INFINITY, 88.5f, -100, 20, -20, -0.0f,
                 89.5f, -87.5f, 1e-30f};
  ann_Tensor *a = mk(1, s, v), *e, *t, *g;
  volatile float tiny = 1e-38f;
  double sub = tiny * 0.01f == 0 ? 0 : 3.720076e-44;  /* e^-100; 0 if FTZ */
  int lv;
  for (lv = 0; lv < NLEVELS; lv++) {
    if (ann_simd_use(levels[lv]) < 0) continue;
    e = ann_unary(ANN_EXP, a);
    t = ann_unary(ANN_TANH, a);
    g = ann_unary(ANN_SIGMOID, a);
    CHECK(isinf(e->st->data[0]) && e->st->data[0] > 0);     /* overflow */
    CHECK(e->st->data[1] == 0 && e->st->data[3] == 0);       /* underflow */
    CHECK(isinf(e->st->data[2]));
    CHECK(isinf(e->st->data[9]));                            /* 89.5 */
    CHECK(isfinite(e->st->data[4]));
    CHECK_NEAR(e->st->data[4] / 2.7230878e38, 1, 1e-6);     /* e^88.5 */
    CHECK_NEAR(e->st->data[5], sub, 0.05 * sub);              /* subnormal */
    CHECK(e->st->data[8] == 1 && e->st->data[11] == 1);
    CHECK(t->st->data[0] == 1 && t->st->data[1] == -1);
    CHECK(t->st->data[2] == 1 && t->st->data[3] == -1);
    CHECK(t->st->data[6] == 1 && t->st->data[7] == -1);
    CHECK(t->st->data[8] == 0 && signbit(t->st->data[8]));  /* -0 */
    CHECK(t->st->data[11] == 1e-30f);
    CHECK(g->st->data[0] == 1 && g->st->data[1] == 0);
    CHECK(g->st->data[2] == 1 && g->st->data[3] == 0);
    CHECK(g->st->data[5] >= 0);                              /* e^-100 */
    CHECK_NEAR(g->st->data[5], sub, 0.05 * sub);
    CHECK_NEAR(g->st->data[10] / 9.982351e-39, 1, 1e-5);    /* e^-87.5 */
    CHECK(g->st->data[11] == 0.5f);
    ann_release(e); ann_release(t); ann_release(g);
  }
  restore();
  ann_release(a);
}

/* relative error against the double-precision libm value rounded to
** float; subnormal results may be off by one subnormal step */
static double relerr(float got, double want) {
  float w = (float)want;
  if (isnan(w)) return isnan(got) ? 0 : INFINITY;
  if (isinf(w) || w == 0) return got == w ? 0 : INFINITY;
  if (fabsf(w) < 1.17549435e-38f)
    return fabsf(got - w) <= 1.5e-45f ? 0 : INFINITY;
  return fabs(got - want) / fabs(want);
}

/* a dense sweep over all floats (every 4099th bit pattern: about 1M
** points per op, covering all exponents and both signs) */
static void test_sweep(void) {
  enum { N = 4096 };
  static float x[N], y[N];
  const ann_UnOp ops[3] = {ANN_EXP, ANN_TANH, ANN_SIGMOID};
  const char *names[3] = {"exp", "tanh", "sigmoid"};
  int lv, o;
  for (lv = 0; lv < NLEVELS; lv++) {
    const ann_Kernels *k;
    if (ann_simd_use(levels[lv]) < 0) continue;
    k = ann_kernels();
    for (o = 0; o < 3; o++) {
      double worst = 0, wx = 0;
      uint64_t u = 0;
      while (u < 0x100000000ull) {
        int n, i;
        for (n = 0; n < N && u < 0x100000000ull; n++, u += 4099) {
          uint32_t b = (uint32_t)u;
          memcpy(&x[n], &b, sizeof b);
        }
        k->un[ops[o]](n, x, y);
        for (i = 0; i < n; i++) {
          double xd = x[i], w, e;
          w = ops[o] == ANN_EXP ? exp(xd)
            : ops[o] == ANN_TANH ? tanh(xd) : 1 / (1 + exp(-xd));
          e = relerr(y[i], w);
          if (e > worst || isnan(e)) { worst = e; wx = xd; }
        }
      }
      printf("  %-6s %-7s max relative error %.3g (at x = %.9g)\n",
             levels[lv], names[o], worst, wx);
      CHECK(worst < 1e-6);
    }
  }
  restore();
}

/* an op on a transposed view matches the op on a contiguous copy */
static void test_strided_unary(void) {
  ann_Tensor *a = mat(37, 21, 0.3, -0.2, 2), *t = tview(a), *y, *yc;
  int op;
  int64_t i, j;
  for (op = 0; op < ANN_NUNOP; op++) {
    int ok = 1;
    y = ann_unary((ann_UnOp)op, t);
    yc = ann_unary((ann_UnOp)op, a);
    ok = y->shape[0] == 21 && y->shape[1] == 37;
    for (i = 0; ok && i < 21; i++)
      for (j = 0; j < 37; j++)
        ok = ok && same(at(y, i, j, 0), at(yc, j, i, 0));
    CHECK(ok);
    ann_release(y); ann_release(yc);
  }
  ann_release(t); ann_release(a);
}

static void test_clamp(void) {
  int64_t s[1] = {5};
  float v[5] = {-3, 0.5f, 2, 7, NAN};
  ann_Tensor *a = mk(1, s, v), *y = ann_clamp(a, 0, 2);
  CHECK(y->st->data[0] == 0 && y->st->data[1] == 0.5f && y->st->data[2] == 2 &&
        y->st->data[3] == 2 && isnan(y->st->data[4]));
  ann_release(y);
  y = ann_clamp(a, -INFINITY, 1);
  CHECK(y->st->data[0] == -3 && y->st->data[3] == 1);
  ann_release(y);
  CHECK_ERR(ann_clamp(a, 3, 1) != NULL, "clamp: bad bounds (lo 3, hi 1)");
  CHECK_ERR(ann_clamp(a, NAN, 1) != NULL, "clamp: bad bounds");
  CHECK_ERR(ann_clamp_(a, 2, -2) + 1, "clamp_: bad bounds (lo 2, hi -2)");
  CHECK(ann_clamp_(a, 1, 1) == 0 && a->st->data[0] == 1 && a->st->data[3] == 1);
  ann_release(a);
}

/* ---- softmax ------------------------------------------------------------ */

static void test_softmax(void) {
  int64_t s[2] = {2, 3}, i, j;
  float v[6] = {1, 2, 3, 0, 0, 0};
  ann_Tensor *a = mk(2, s, v), *y, *l;
  double z = exp(1) + exp(2) + exp(3);
  y = ann_softmax(a, 1);
  CHECK_NEAR(at(y, 0, 0, 0), exp(1) / z, 1e-7);
  CHECK_NEAR(at(y, 0, 2, 0), exp(3) / z, 1e-7);
  CHECK_NEAR(at(y, 1, 1, 0), 1.0 / 3, 1e-7);
  ann_release(y);
  y = ann_softmax(a, 0);                  /* columns: (1,0), (2,0), (3,0) */
  CHECK_NEAR(at(y, 0, 0, 0), exp(1) / (exp(1) + 1), 1e-7);
  CHECK_NEAR(at(y, 1, 2, 0), 1 / (exp(3) + 1), 1e-7);
  ann_release(y);
  l = ann_log_softmax(a, 1);
  CHECK_NEAR(at(l, 0, 0, 0), 1 - log(z), 1e-6);
  CHECK_NEAR(at(l, 1, 2, 0), -log(3), 1e-6);
  ann_release(l);
  l = ann_log_softmax(a, 0);
  CHECK_NEAR(at(l, 1, 2, 0), -log(exp(3) + 1), 1e-6);
  ann_release(l);
  ann_release(a);
  {  /* rows of a bigger tensor sum to 1, along either dim, and a
     ** transposed input gives the transposed answer */
    ann_Tensor *m = mat(33, 70, 0.7, -0.3, 4), *t = tview(m);
    ann_Tensor *y1 = ann_softmax(m, 1), *y0 = ann_softmax(t, 0);
    ann_Tensor *l1 = ann_log_softmax(m, 1);
    int ok = 1, okl = 1;
    for (i = 0; i < 33; i++) {
      double sum = 0;
      for (j = 0; j < 70; j++) {
        sum += at(y1, i, j, 0);
        ok = ok && fabs(at(y0, j, i, 0) - at(y1, i, j, 0)) <= 1e-7;
        okl = okl && fabs(at(l1, i, j, 0) - log(at(y1, i, j, 0))) <= 2e-5;
      }
      ok = ok && fabs(sum - 1) < 1e-5;
    }
    CHECK(ok);
    CHECK(okl);
    ann_release(y1); ann_release(y0); ann_release(l1);
    ann_release(t); ann_release(m);
  }
  {  /* 3-d, along the middle dim: against a naive loop in double */
    int64_t s3[3] = {3, 5, 4}, k;
    ann_Tensor *b = ann_empty(3, s3), *y3;
    int ok = 1;
    for (i = 0; i < 60; i++) b->st->data[i] = (float)sin(1.7 * i) * 5;
    y3 = ann_softmax(b, 1);
    for (i = 0; i < 3; i++)
      for (k = 0; k < 4; k++) {
        double mx = -1e30, sum = 0;
        for (j = 0; j < 5; j++) mx = fmax(mx, at(b, i, j, k));
        for (j = 0; j < 5; j++) sum += exp(at(b, i, j, k) - mx);
        for (j = 0; j < 5; j++)
          ok = ok && fabs(at(y3, i, j, k) - exp(at(b, i, j, k) - mx) / sum)
                     <= 2e-7;
      }
    CHECK(ok);
    ann_release(y3); ann_release(b);
  }
}

/* logits of +-1000 stay finite */
static void test_softmax_extreme(void) {
  int64_t s[2] = {2, 3};
  float v[6] = {1000, -1000, 0, -1000, -1000, -1000};
  ann_Tensor *a = mk(2, s, v), *y = ann_softmax(a, 1), *l = ann_log_softmax(a, 1);
  CHECK(at(y, 0, 0, 0) == 1 && at(y, 0, 1, 0) == 0 && at(y, 0, 2, 0) == 0);
  CHECK_NEAR(at(y, 1, 0, 0), 1.0 / 3, 1e-7);
  CHECK(at(l, 0, 0, 0) == 0 && at(l, 0, 1, 0) == -2000 &&
        at(l, 0, 2, 0) == -1000);
  CHECK_NEAR(at(l, 1, 1, 0), -log(3), 1e-6);
  ann_release(y); ann_release(l);
  y = ann_softmax(a, 0);
  l = ann_log_softmax(a, 0);
  CHECK(at(y, 0, 0, 0) == 1 && at(y, 1, 0, 0) == 0);
  CHECK_NEAR(at(y, 0, 1, 0), 0.5, 1e-7);
  CHECK(at(l, 1, 0, 0) == -2000 && at(l, 1, 2, 0) == -1000);
  CHECK_NEAR(at(l, 0, 1, 0), -log(2), 1e-6);
  ann_release(y); ann_release(l);
  ann_release(a);
}

/* ---- in place ----------------------------------------------------------- */

static void test_inplace(void) {
  int64_t s[2] = {2, 3}, sr[1] = {3};
  float v[6] = {1, 2, 3, 4, 5, 6}, rv[3] = {10, 20, 30};
  ann_Tensor *t = mk(2, s, v), *r = mk(1, sr, rv);
  CHECK(ann_binary_(ANN_ADD, t, r, 2) == 0);          /* t + 2 r */
  CHECK(at(t, 0, 0, 0) == 21 && at(t, 1, 2, 0) == 66);
  CHECK(ann_binary_(ANN_SUB, t, r, 0.5f) == 0);       /* t - r/2 */
  CHECK(at(t, 0, 0, 0) == 16 && at(t, 1, 2, 0) == 51);
  CHECK(ann_binary_(ANN_SUB, t, r, 1) == 0);
  CHECK(at(t, 0, 1, 0) == 2 + 40 - 10 - 20 && at(t, 1, 0, 0) == 4 + 20 - 5 - 10);
  CHECK(ann_binary_(ANN_MUL, t, r, 7) == 0);          /* alpha ignored */
  CHECK(at(t, 0, 0, 0) == 60 && at(t, 1, 1, 0) == 300);   /* 6*10, 15*20 */
  CHECK(ann_binary_(ANN_DIV, t, r, 1) == 0);
  CHECK(at(t, 0, 0, 0) == 6 && at(t, 1, 1, 0) == 15);
  CHECK(ann_binary_scalar_(ANN_SUB, t, 1) == 0);
  CHECK(at(t, 0, 0, 0) == 5 && at(t, 1, 1, 0) == 14);
  CHECK(ann_binary_scalar_(ANN_POW, t, 2) == 0);
  CHECK(at(t, 0, 0, 0) == 25 && at(t, 1, 1, 0) == 196);
  CHECK(ann_unary_(ANN_SQRT, t) == 0);
  CHECK(at(t, 0, 0, 0) == 5 && at(t, 1, 1, 0) == 14);
  CHECK(ann_fill_(t, -1.5f) == 0);
  CHECK(at(t, 0, 0, 0) == -1.5f && at(t, 1, 2, 0) == -1.5f);
  CHECK(ann_binary_(ANN_ADD, t, t, 1) == 0 && at(t, 1, 0, 0) == -3);
  ann_release(t); ann_release(r);
}

/* long runs through the vector kernels: add_ with alpha, a column b */
static void test_inplace_long(void) {
  ann_Tensor *t = mat(5, 100, 1, 0.5, 0), *b = mat(5, 100, -1, 2, 1);
  ann_Tensor *t0 = mat(5, 100, 1, 0.5, 0);
  int64_t sc[2] = {5, 1}, i, j;
  ann_Tensor *c = ann_empty(2, sc);
  int ok = 1;
  for (i = 0; i < 5; i++) c->st->data[i] = (float)i + 0.5f;
  CHECK(ann_binary_(ANN_ADD, t, b, 0.25f) == 0);
  for (i = 0; i < 5; i++)
    for (j = 0; j < 100; j++)
      ok = ok && fabs(at(t, i, j, 0) - (at(t0, i, j, 0) + 0.25 * at(b, i, j, 0)))
                 <= 1e-5 * (1 + fabs(at(t0, i, j, 0)));
  CHECK(ok);
  CHECK(ann_binary_(ANN_SUB, t0, c, 3) == 0);           /* t0 - 3 c */
  ok = 1;
  for (i = 0; i < 5; i++)
    for (j = 0; j < 100; j++)
      ok = ok && at(t0, i, j, 0) == (float)(1.0 * i + 0.5 * j) - 3 * (i + 0.5f);
  CHECK(ok);
  ann_release(t); ann_release(b); ann_release(t0); ann_release(c);
}

/* in place on views: a transposed view and a narrowed one (offset) */
static void test_inplace_views(void) {
  ann_Tensor *m = mat(3, 4, 1, 10, 0), *t = tview(m), *n;
  int64_t sb[1] = {3}, i, j;
  float bv[3] = {100, 200, 300};
  ann_Tensor *b = mk(1, sb, bv);
  int ok = 1;
  /* t[i,j] = m[j,i] = j + 10 i; t += b (a row of t: b[j] to m[j,*]) */
  CHECK(ann_binary_(ANN_ADD, t, b, 1) == 0);
  for (i = 0; i < 3; i++)
    for (j = 0; j < 4; j++)
      ok = ok && at(m, i, j, 0) == i + 10.0f * j + 100.0f * (i + 1);
  CHECK(ok);
  CHECK(ann_unary_(ANN_NEG, t) == 0 && at(m, 2, 3, 0) == -(2 + 30 + 300));
  CHECK(ann_clamp_(t, -150, 0) == 0 && at(m, 0, 0, 0) == -100 &&
        at(m, 1, 0, 0) == -150);
  /* a narrowed view: row 2 of m (offset 4), filled */
  n = ann_new_view(m);
  n->ndim = 1; n->shape[0] = 4; n->stride[0] = 1; n->offset = 4;
  CHECK(ann_fill_(n, 7) == 0);
  CHECK(at(m, 1, 0, 0) == 7 && at(m, 1, 3, 0) == 7 && at(m, 0, 3, 0) != 7 &&
        at(m, 2, 0, 0) != 7);
  CHECK(ann_binary_scalar_(ANN_MUL, n, 2) == 0 && at(m, 1, 2, 0) == 14);
  /* the column view m[:,1] (offset 1, stride 4), fill */
  n->shape[0] = 3; n->stride[0] = 4; n->offset = 1;
  CHECK(ann_fill_(n, 0.5f) == 0);
  CHECK(at(m, 0, 1, 0) == 0.5f && at(m, 2, 1, 0) == 0.5f && at(m, 1, 2, 0) == 14);
  ann_release(n); ann_release(t); ann_release(m); ann_release(b);
}

/* t += t^T reads every element before it is overwritten */
static void test_inplace_overlap(void) {
  ann_Tensor *m = mat(4, 4, 1, 10, 0), *t = tview(m);
  int64_t i, j;
  int ok = 1;
  CHECK(ann_binary_(ANN_ADD, m, t, 1) == 0);
  for (i = 0; i < 4; i++)
    for (j = 0; j < 4; j++) ok = ok && at(m, i, j, 0) == 11.0f * (i + j);
  CHECK(ok);
  ann_release(t); ann_release(m);
}

static void test_errors(void) {
  int64_t s[2] = {2, 3}, s4[1] = {4}, s0[2] = {0, 3}, s3[1] = {3};
  ann_Tensor *a = ann_zeros(2, s), *b = ann_zeros(1, s4), *e, *y, *x;
  ann_Tensor *z = ann_zeros(2, s0);
  CHECK_ERR(ann_binary(ANN_ADD, a, NULL) != NULL, "add: NULL tensor");
  CHECK_ERR(ann_binary((ann_BinOp)42, a, a) != NULL, "binary: unknown operation 42");
  CHECK_ERR(ann_binary_scalar((ann_BinOp)-1, a, 1, 0) != NULL,
            "binary: unknown operation -1");
  CHECK_ERR(ann_unary((ann_UnOp)8, a) != NULL, "unary: unknown operation 8");
  CHECK_ERR(ann_unary(ANN_EXP, NULL) != NULL, "exp: NULL tensor");
  CHECK_ERR(ann_softmax(a, 2) != NULL, "softmax: dim 3 out of range for [2,3]");
  CHECK_ERR(ann_log_softmax(a, -1) != NULL,
            "log_softmax: dim 0 out of range for [2,3]");
  CHECK_ERR(ann_binary_(ANN_ADD, a, b, 1) + 1,
            "add_: shape [4] does not broadcast to [2,3]");
  CHECK_ERR(ann_binary_(ANN_MUL, b, a, 1) + 1,
            "mul_: shape [2,3] does not broadcast to [4]");
  CHECK_ERR(ann_binary_(ANN_DIV, NULL, a, 1) + 1, "div_: NULL tensor");
  CHECK_ERR(ann_fill_(NULL, 1) + 1, "fill_: NULL tensor");
  /* an expanded target: [3] seen as [2,3] with stride 0 */
  x = ann_zeros(1, s3);
  e = ann_new_view(x);
  e->ndim = 2; e->shape[0] = 2; e->shape[1] = 3; e->stride[0] = 0;
  e->stride[1] = 1;
  CHECK_ERR(ann_binary_(ANN_ADD, e, a, 1) + 1,
            "add_: cannot write in place to an expanded tensor [2,3] "
            "(dim 1 has stride 0)");
  CHECK_ERR(ann_unary_(ANN_EXP, e) + 1, "exp_: cannot write in place");
  CHECK_ERR(ann_binary_scalar_(ANN_SUB, e, 1) + 1, "sub_: cannot write");
  /* reading an expanded tensor is fine: e + a */
  y = ann_binary(ANN_ADD, e, a);
  CHECK(y != NULL && y->shape[0] == 2 && y->shape[1] == 3);
  ann_release(y);
  /* empty tensors */
  y = ann_binary(ANN_ADD, z, x);
  CHECK(y != NULL && y->ndim == 2 && y->shape[0] == 0 && y->shape[1] == 3);
  ann_release(y);
  y = ann_unary(ANN_TANH, z);
  CHECK(y != NULL && ann_numel(y) == 0);
  ann_release(y);
  y = ann_softmax(z, 1);
  CHECK(y != NULL && ann_numel(y) == 0);
  ann_release(y);
  ann_release(e); ann_release(x); ann_release(z); ann_release(a);
  ann_release(b);
}

int main(void) {
  int64_t live = ann_live_bytes();
  snprintf(best, sizeof best, "%s", ann_simd_level());
  printf("simd level: %s\n", best);
  test_names();
  test_broadcast_shape();
  test_binary_contig();
  test_binary_hand();
  test_broadcast_3d();
  test_broadcast_rowcol();
  test_strided_binary();
  test_scalar_forms();
  test_pow_tensor();
  test_unary_hand();
  test_special_values();
  test_sweep();
  test_strided_unary();
  test_clamp();
  test_softmax();
  test_softmax_extreme();
  test_inplace();
  test_inplace_long();
  test_inplace_views();
  test_inplace_overlap();
  test_errors();
  CHECK(ann_live_bytes() == live);        /* every tensor was freed */
  return test_report();
}
