/*
** test_bounds.c: shapes whose element counts overflow int64 (a 0 dim
** followed by huge ones, expand to 2^62), 0-size tensors being writable,
** and long walks (reductions, elementwise ops) stopped by the host's cancel
** and cut into chunks without changing their results.
*/
#include <string.h>
#include "test.h"

static int polls, stop_at;
static int cancel_after(void *ud) { (void)ud; return ++polls >= stop_at; }

static ann_Ctx *cancelling(int at) {
  ann_CtxOpts o;
  ann_ctx_defaults(&o);
  o.cancel = cancel_after;
  polls = 0; stop_at = at;
  return ann_ctx_new(&o);
}

static float item(const ann_Tensor *t) {
  float v = NAN;
  if (t == NULL || ann_item(t, &v) < 0) return NAN;
  return v;
}

static void test_zero_dim_shapes(void) {
  int64_t huge[3] = {0, (int64_t)1 << 40, (int64_t)1 << 40};
  int64_t big[3] = {0, (int64_t)1 << 20, (int64_t)1 << 20};
  ann_Tensor *t;
  /* the product of the other dims (2^80) has no int64: refused, where
  ** the strides used to overflow */
  CHECK_ERR(ann_zeros(3, huge) != NULL, "has too many elements");
  t = ann_zeros(3, big);
  CHECK(t != NULL);
  if (t) {
    CHECK(ann_numel(t) == 0);
    /* a 0 dim steps as a 1 dim: [2^40, 2^20, 1] */
    CHECK(t->stride[0] == (int64_t)1 << 40 && t->stride[1] == (int64_t)1 << 20
          && t->stride[2] == 1);
    CHECK(ann_is_contiguous(t));
    ann_release(t);
  }
}

static void test_empty_writable(void) {
  ann_Tensor *t = ann_zeros(2, (int64_t[]){3, 0});
  ann_Tensor *u = ann_zeros(2, (int64_t[]){3, 0});
  CHECK(ann_unary_(ANN_EXP, t) == 0);
  CHECK(ann_binary_(ANN_ADD, t, u, 1.0f) == 0);
  CHECK(ann_binary_scalar_(ANN_MUL, t, 2.0f) == 0);
  CHECK(ann_fill_(t, 1.0f) == 0);
  CHECK(ann_numel(t) == 0);
  ann_release(t); ann_release(u);
}

static void test_expand_bound(void) {
  ann_Tensor *a = ann_full(2, (int64_t[]){2, 1}, 1.0f), *b = ann_full(1, (int64_t[]){1}, 1.0f);
  ann_Tensor *e;
  /* 2 * 2^62 = 2^63 elements: past int64 */
  CHECK_ERR(ann_expand(a, 2, (int64_t[]){2, (int64_t)1 << 62}) != NULL,
            "expand: shape [2, 4611686018427387904] has too many elements");
  e = ann_expand(b, 1, (int64_t[]){(int64_t)1 << 40});
  CHECK(e && ann_numel(e) == (int64_t)1 << 40);
  ann_release(e);
  ann_release(a); ann_release(b);
}

/* runs longer than a chunk (2^16) and outer dims give the same sums */
static void test_chunked_results(void) {
  int64_t n = 3 * ((int64_t)1 << 16) + 5;
  ann_Tensor *one = ann_full(1, (int64_t[]){1}, 1.0f);
  ann_Tensor *col = ann_arange(0, 2, 1), *c, *e, *s, *m, *ind = NULL;
  ann_Tensor *r = ann_expand(one, 1, &n);
  CHECK(item(s = ann_sum(r, -1, 0)) == (float)n);   /* n ones */
  ann_release(s);
  CHECK_NEAR(item(s = ann_norm(r, 2)), sqrt((double)n), 1e-2);
  ann_release(s);
  /* [3, n] whose row i is all i: sums along the rows are 0, n, 2n */
  c = ann_reshape(col, 2, (int64_t[]){3, 1});
  e = ann_expand(c, 2, (int64_t[]){3, n});
  s = ann_sum(e, 1, 0);
  CHECK(s && ann_numel(s) == 3);
  if (s) {
    float *p = ann_data(s);
    CHECK(p[0] == 0 && p[1] == (float)n && p[2] == (float)(2 * n));
  }
  m = ann_max(e, 1, 0, &ind);
  CHECK(m && ind);
  if (m && ind) {   /* equal values: the first index wins (1-based) */
    CHECK(ann_data(m)[2] == 2 && ann_data(ind)[2] == 1);
  }
  ann_release(s); ann_release(m); ann_release(ind);
  /* 0, 1, ..., n-1: the index of the max is found in the last chunk, and
  ** the sum is n(n-1)/2 */
  {
    ann_Tensor *ar = ann_arange(0, (double)(n - 1), 1), *am;
    CHECK(ar && ann_numel(ar) == n);
    am = ann_argmax(ar, 0, 0);
    CHECK(item(am) == (float)n);              /* 1-based */
    ann_release(am);
    CHECK_NEAR(item(am = ann_sum(ar, -1, 0)), (double)n * (n - 1) / 2,
               1e-6 * (double)n * n);
    ann_release(am);
    ann_release(ar);
  }
  ann_release(e); ann_release(c); ann_release(col);
  ann_release(r); ann_release(one);
}

static void test_cancel_walks(void) {
  ann_Tensor *one = ann_full(1, (int64_t[]){1}, 1.0f), *e;
  ann_Tensor *a = ann_full(2, (int64_t[]){8192, 1}, 1.0f);
  ann_Tensor *b = ann_full(2, (int64_t[]){1, 4096}, 1.0f);
  int64_t n = (int64_t)1 << 40;
  ann_Ctx *c = cancelling(3), *was = ann_ctx_use(c);
  e = ann_expand(one, 1, &n);
  /* 2^40 elements take minutes; the third poll (2^24 elements each) stops
  ** each walk */
  CHECK_ERR(ann_sum(e, -1, 0) != NULL, "sum: cancelled by the host");
  CHECK(polls == 3);
  polls = 0;
  CHECK_ERR(ann_std(e, -1, 0) != NULL, "std: cancelled by the host");
  polls = 0;
  CHECK_ERR(ann_max(e, -1, 0, NULL) != NULL, "max: cancelled by the host");
  polls = 0;
  CHECK_ERR(ann_norm(e, 3) != NULL, "norm: cancelled by the host");
  polls = 0;
  /* an elementwise op of 2^25 elements: 2 polls */
  stop_at = 2;
  CHECK_ERR(ann_binary(ANN_ADD, a, b) != NULL, "add: cancelled by the host");
  CHECK(polls == 2);
  ann_release(e); ann_release(one); ann_release(a); ann_release(b);
  ann_ctx_use(was);
  ann_ctx_free(c);
}

int main(void) {
  int64_t live = ann_live_bytes();
  test_zero_dim_shapes();
  test_empty_writable();
  test_expand_bound();
  test_chunked_results();
  test_cancel_walks();
  CHECK(ann_live_bytes() == live);
  return test_report();
}
