/*
** test_reduce.c: sum, mean, var, std, max, min, argmax, argmin, norm and
** allclose, against values worked out by hand and naive loops in double.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "ann_impl.h"

static const char *const levels[] = {"avx512", "avx2", "scalar"};
static char best[16];

static float at(const ann_Tensor *t, int64_t i, int64_t j, int64_t k) {
  int64_t idx[3] = {i, j, k}, off = t->offset;
  int d;
  for (d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
  return t->st->data[off];
}

static float item(ann_Tensor *t) {       /* reads and releases */
  float v = t->st->data[t->offset];
  ann_release(t);
  return v;
}

static ann_Tensor *mk(int ndim, const int64_t *shape, const float *v) {
  return ann_from_data(v, ndim, shape);
}

static int shape_is(const ann_Tensor *t, int ndim, int64_t a, int64_t b) {
  return t && t->ndim == ndim && (ndim < 1 || t->shape[0] == a) &&
         (ndim < 2 || t->shape[1] == b);
}

/* ---- sum, mean, var, std ------------------------------------------------ */

static void test_moments(void) {
  int64_t s[2] = {2, 3};
  float v[6] = {1, 2, 3, 4, 5, 6};
  ann_Tensor *a = mk(2, s, v), *y;
  y = ann_sum(a, -1, 0);
  CHECK(y->ndim == 0 && item(y) == 21);
  y = ann_sum(a, -1, 1);                  /* keepdim means nothing here */
  CHECK(y->ndim == 0 && item(y) == 21);
  y = ann_sum(a, 0, 0);
  CHECK(shape_is(y, 1, 3, 0) && at(y, 0, 0, 0) == 5 && at(y, 1, 0, 0) == 7 &&
        at(y, 2, 0, 0) == 9);
  ann_release(y);
  y = ann_sum(a, 1, 0);
  CHECK(shape_is(y, 1, 2, 0) && at(y, 0, 0, 0) == 6 && at(y, 1, 0, 0) == 15);
  ann_release(y);
  y = ann_sum(a, 0, 1);
  CHECK(shape_is(y, 2, 1, 3) && at(y, 0, 2, 0) == 9);
  ann_release(y);
  y = ann_sum(a, 1, 1);
  CHECK(shape_is(y, 2, 2, 1) && at(y, 1, 0, 0) == 15);
  ann_release(y);
  CHECK(item(ann_mean(a, -1, 0)) == 3.5f);
  y = ann_mean(a, 0, 0);
  CHECK(at(y, 0, 0, 0) == 2.5f && at(y, 2, 0, 0) == 4.5f);
  ann_release(y);
  y = ann_mean(a, 1, 1);
  CHECK(shape_is(y, 2, 2, 1) && at(y, 0, 0, 0) == 2 && at(y, 1, 0, 0) == 5);
  ann_release(y);
  /* var of 1..6: sum (x - 3.5)^2 = 17.5, / 5 */
  CHECK_NEAR(item(ann_var(a, -1, 0)), 3.5, 1e-6);
  CHECK_NEAR(item(ann_std(a, -1, 0)), sqrt(3.5), 1e-6);
  y = ann_var(a, 1, 0);                   /* {1,2,3}, {4,5,6}: 1 each */
  CHECK_NEAR(at(y, 0, 0, 0), 1, 1e-6);
  CHECK_NEAR(at(y, 1, 0, 0), 1, 1e-6);
  ann_release(y);
  y = ann_var(a, 0, 0);                   /* {1,4}: (1.5^2 * 2)/1 = 4.5 */
  CHECK_NEAR(at(y, 0, 0, 0), 4.5, 1e-6);
  CHECK_NEAR(at(y, 2, 0, 0), 4.5, 1e-6);
  ann_release(y);
  y = ann_std(a, 0, 1);
  CHECK(shape_is(y, 2, 1, 3));
  CHECK_NEAR(at(y, 0, 1, 0), sqrt(4.5), 1e-6);
  ann_release(y);
  ann_release(a);
}

/* var of one element is NaN (n-1 = 0), as in PyTorch; empty sums are 0 */
static void test_moments_edge(void) {
  int64_t s1[2] = {3, 1}, s0[2] = {0, 3};
  float v[3] = {7, 8, 9};
  ann_Tensor *a = mk(2, s1, v), *z = ann_zeros(2, s0), *y;
  y = ann_var(a, 1, 0);
  CHECK(shape_is(y, 1, 3, 0) && isnan(at(y, 0, 0, 0)) && isnan(at(y, 2, 0, 0)));
  ann_release(y);
  CHECK_NEAR(item(ann_var(a, 0, 0)), 1, 1e-6);
  CHECK(isnan(item(ann_std(a, 1, 0))));
  CHECK(item(ann_sum(z, -1, 0)) == 0);
  CHECK(isnan(item(ann_mean(z, -1, 0))));
  y = ann_sum(z, 0, 0);                   /* [0,3] along 1st: three 0s */
  CHECK(shape_is(y, 1, 3, 0) && at(y, 1, 0, 0) == 0);
  ann_release(y);
  y = ann_sum(z, 1, 0);                   /* along 2nd: empty result */
  CHECK(shape_is(y, 1, 0, 0));
  ann_release(y);
  {
    ann_Tensor *sc = ann_scalar(4);
    CHECK(item(ann_sum(sc, -1, 0)) == 4);
    CHECK(isnan(item(ann_var(sc, -1, 0))));
    ann_release(sc);
  }
  ann_release(a); ann_release(z);
}

/* along each dim of a strided 3-d view, against a naive loop in double */
static void test_moments_strided(void) {
  int64_t s[3] = {4, 5, 6}, i, j, k;
  ann_Tensor *a = ann_empty(3, s), *v;
  int d, ok = 1;
  for (i = 0; i < 120; i++) a->st->data[i] = (float)(sin(0.37 * i) * 10 + i % 7);
  v = ann_new_view(a);                    /* permuted to [6,4,5] */
  v->shape[0] = 6; v->shape[1] = 4; v->shape[2] = 5;
  v->stride[0] = 1; v->stride[1] = 30; v->stride[2] = 6;
  for (d = 0; d < 3; d++) {
    ann_Tensor *sm = ann_sum(v, d, 1), *vr = ann_var(v, d, 1);
    int64_t n = v->shape[d];
    for (i = 0; i < (d == 0 ? 1 : 6); i++)
      for (j = 0; j < (d == 1 ? 1 : 4); j++)
        for (k = 0; k < (d == 2 ? 1 : 5); k++) {
          double s1 = 0, s2 = 0, m;
          int64_t r;
          for (r = 0; r < n; r++)
            s1 += at(v, d == 0 ? r : i, d == 1 ? r : j, d == 2 ? r : k);
          m = s1 / n;
          for (r = 0; r < n; r++) {
            double x = at(v, d == 0 ? r : i, d == 1 ? r : j, d == 2 ? r : k);
            s2 += (x - m) * (x - m);
          }
          ok = ok && fabs(at(sm, i, j, k) - s1) <= 1e-5 * (1 + fabs(s1)) &&
               fabs(at(vr, i, j, k) - s2 / (n - 1)) <= 1e-5 * (1 + s2);
        }
    ann_release(sm); ann_release(vr);
  }
  CHECK(ok);
  {  /* whole sum of the strided view: the same 120 values */
    double s1 = 0;
    for (i = 0; i < 120; i++) s1 += a->st->data[i];
    CHECK_NEAR(item(ann_sum(v, -1, 0)), s1, 1e-5 * fabs(s1));
  }
  ann_release(v); ann_release(a);
}

/* 1M floats: within 1e-6 relative of a double reference, at every level,
** on data where a float accumulator drifts far off */
static void test_sum_accuracy(void) {
  int64_t n = 1 << 20, i, s2[2] = {1024, 1024};
  ann_Tensor *a = ann_empty(1, &n), *m;
  double ref = 0, refv = 0, mean;
  float facc = 0;
  int lv;
  for (i = 0; i < n; i++) {
    a->st->data[i] = (float)(0.1 + (i % 10) * 1e-3);
    ref += a->st->data[i];
    facc += a->st->data[i];
  }
  mean = ref / n;
  for (i = 0; i < n; i++)
    refv += (a->st->data[i] - mean) * (a->st->data[i] - mean);
  refv /= n - 1;
  printf("  naive float sum is off by %.2g relative\n", fabs(facc - ref) / ref);
  m = ann_new_view(a);                    /* as [1024,1024] */
  m->ndim = 2;
  ann_contig_strides(2, s2, m->stride);
  memcpy(m->shape, s2, sizeof s2);
  for (lv = 0; lv < 3; lv++) {
    if (ann_simd_use(levels[lv]) < 0) continue;
    CHECK_NEAR(item(ann_sum(a, -1, 0)) / ref, 1, 1e-6);
    CHECK_NEAR(item(ann_mean(a, -1, 0)) / mean, 1, 1e-6);
    CHECK_NEAR(item(ann_var(a, -1, 0)) / refv, 1, 1e-6);
    {                                     /* along either dim, then whole */
      ann_Tensor *r0 = ann_sum(m, 0, 0), *r1 = ann_sum(m, 1, 0);
      CHECK_NEAR(item(ann_sum(r0, -1, 0)) / ref, 1, 1e-6);
      CHECK_NEAR(item(ann_sum(r1, -1, 0)) / ref, 1, 1e-6);
      ann_release(r0); ann_release(r1);
    }
  }
  ann_simd_use(best);
  ann_release(m); ann_release(a);
}

/* ---- max, min, argmax, argmin ------------------------------------------- */

static void test_extremes(void) {
  int64_t s[2] = {2, 3};
  float v[6] = {1, 5, 5, 7, 2, 7};
  ann_Tensor *a = mk(2, s, v), *y, *ind;
  y = ann_max(a, 1, 0, &ind);             /* first of equal maxima */
  CHECK(shape_is(y, 1, 2, 0) && at(y, 0, 0, 0) == 5 && at(y, 1, 0, 0) == 7);
  CHECK(shape_is(ind, 1, 2, 0) && at(ind, 0, 0, 0) == 2 && at(ind, 1, 0, 0) == 1);
  ann_release(y); ann_release(ind);
  y = ann_min(a, 0, 0, &ind);
  CHECK(at(y, 0, 0, 0) == 1 && at(y, 1, 0, 0) == 2 && at(y, 2, 0, 0) == 5);
  CHECK(at(ind, 0, 0, 0) == 1 && at(ind, 1, 0, 0) == 2 && at(ind, 2, 0, 0) == 1);
  ann_release(y); ann_release(ind);
  y = ann_max(a, 0, 1, NULL);
  CHECK(shape_is(y, 2, 1, 3) && at(y, 0, 0, 0) == 7 && at(y, 0, 1, 0) == 5 &&
        at(y, 0, 2, 0) == 7);
  ann_release(y);
  y = ann_max(a, -1, 0, &ind);            /* whole: flat 1-based index */
  CHECK(y->ndim == 0 && at(y, 0, 0, 0) == 7 && ind->ndim == 0 &&
        at(ind, 0, 0, 0) == 4);
  ann_release(y); ann_release(ind);
  CHECK(item(ann_argmax(a, -1, 0)) == 4);
  CHECK(item(ann_argmin(a, -1, 0)) == 1);
  y = ann_argmax(a, 1, 1);
  CHECK(shape_is(y, 2, 2, 1) && at(y, 0, 0, 0) == 2 && at(y, 1, 0, 0) == 1);
  ann_release(y);
  y = ann_argmin(a, 1, 0);
  CHECK(shape_is(y, 1, 2, 0) && at(y, 0, 0, 0) == 1 && at(y, 1, 0, 0) == 2);
  ann_release(y);
  CHECK(item(ann_min(a, -1, 0, NULL)) == 1);
  ann_release(a);
}

static void test_extremes_nan_strided(void) {
  int64_t s[1] = {4}, s2[2] = {3, 4}, i;
  float v[4] = {1, NAN, 3, NAN};
  ann_Tensor *a = mk(1, s, v), *y, *ind, *m, *t;
  y = ann_max(a, 0, 0, &ind);             /* NaN wins, the first one */
  CHECK(isnan(at(y, 0, 0, 0)) && at(ind, 0, 0, 0) == 2);
  ann_release(y); ann_release(ind);
  y = ann_min(a, -1, 0, &ind);
  CHECK(isnan(at(y, 0, 0, 0)) && at(ind, 0, 0, 0) == 2);
  ann_release(y); ann_release(ind);
  ann_release(a);
  /* m[i,j] = (i*7 + j*5) mod 11; its transpose t[j,i] */
  m = ann_empty(2, s2);
  for (i = 0; i < 12; i++) m->st->data[i] = (float)(((i / 4) * 7 + (i % 4) * 5) % 11);
  t = ann_new_view(m);
  t->shape[0] = 4; t->shape[1] = 3; t->stride[0] = 1; t->stride[1] = 4;
  /* rows of t = columns of m: {0,7,3}, {5,1,8}, {10,6,2}, {4,0,7} */
  y = ann_max(t, 1, 0, &ind);
  CHECK(at(y, 0, 0, 0) == 7 && at(y, 1, 0, 0) == 8 && at(y, 2, 0, 0) == 10 &&
        at(y, 3, 0, 0) == 7);
  CHECK(at(ind, 0, 0, 0) == 2 && at(ind, 1, 0, 0) == 3 && at(ind, 2, 0, 0) == 1 &&
        at(ind, 3, 0, 0) == 3);
  ann_release(y); ann_release(ind);
  y = ann_argmin(t, 0, 0);                /* columns of t = rows of m */
  CHECK(at(y, 0, 0, 0) == 1 && at(y, 1, 0, 0) == 4 && at(y, 2, 0, 0) == 3);
  ann_release(y);
  CHECK(item(ann_argmax(t, -1, 0)) == 7);  /* flat in t's own order */
  ann_release(t); ann_release(m);
}

/* ---- norm --------------------------------------------------------------- */

static void test_norm(void) {
  int64_t s[1] = {3}, s2[1] = {2};
  float v[3] = {3, 0, -4}, big[2] = {1e30f, -1e30f};
  ann_Tensor *a = mk(1, s, v), *b = mk(1, s2, big);
  CHECK_NEAR(item(ann_norm(a, 2)), 5, 1e-6);
  CHECK_NEAR(item(ann_norm(a, 1)), 7, 1e-6);
  CHECK(item(ann_norm(a, INFINITY)) == 4);
  CHECK(item(ann_norm(a, -INFINITY)) == 0);
  CHECK(item(ann_norm(a, 0)) == 2);
  CHECK_NEAR(item(ann_norm(a, 3)), cbrt(91), 1e-5);
  CHECK_NEAR(item(ann_norm(a, 0.5)), pow(sqrt(3) + 2, 2), 1e-5);
  CHECK(item(ann_norm(a, -1)) == 0);      /* 1/(1/3 + inf + 1/4) */
  CHECK_NEAR(item(ann_norm(b, 2)) / 1e30, sqrt(2), 1e-6);
  CHECK_NEAR(item(ann_norm(b, 3)) / 1e30, cbrt(2), 1e-6);
  CHECK_NEAR(item(ann_norm(b, 10)) / 1e30, pow(2, 0.1), 1e-6);
  CHECK_NEAR(item(ann_norm(b, -2)) / 1e30, sqrt(0.5), 1e-6);
  {
    float w[2] = {2, NAN};
    ann_Tensor *c = mk(1, s2, w);
    CHECK(isnan(item(ann_norm(c, 2))) && isnan(item(ann_norm(c, INFINITY))) &&
          isnan(item(ann_norm(c, 3))));
    ann_release(c);
  }
  CHECK_ERR(ann_norm(a, NAN) != NULL, "norm: p is NaN");
  CHECK_ERR(ann_norm(NULL, 2) != NULL, "norm: NULL tensor");
  ann_release(a); ann_release(b);
}

/* ---- allclose ----------------------------------------------------------- */

static void test_allclose(void) {
  int64_t s[2] = {2, 3}, s3[1] = {3}, s4[1] = {4};
  float av[6] = {1, 2, 3, 1, 2, 3}, bv[3] = {1, 2, 3.001f};
  ann_Tensor *a = mk(2, s, av), *b = mk(1, s3, bv), *c = ann_zeros(1, s4);
  CHECK(ann_allclose(a, a, 0, 0) == 1);
  CHECK(ann_allclose(a, b, 1e-5, 1e-8) == 0);   /* 0.001 > 3e-5 */
  CHECK(ann_allclose(a, b, 1e-3, 0) == 1);      /* 0.001 <= 3.001e-3 */
  CHECK(ann_allclose(a, b, 0, 1e-3) == 1);      /* float 3.001 - 3 < 1e-3 */
  CHECK(ann_allclose(a, b, 0, 9e-4) == 0);
  CHECK(ann_allclose(b, a, 3.4e-4, 0) == 1);    /* |b - a| <= rtol * 3 */
  CHECK(ann_allclose(b, a, 3.2e-4, 0) == 0);
  {
    float x[3] = {INFINITY, -INFINITY, NAN}, y[3] = {INFINITY, INFINITY, NAN};
    ann_Tensor *p = mk(1, s3, x), *q = mk(1, s3, y);
    ann_Tensor *p1 = ann_from_data(x, 1, (int64_t[]){1});
    CHECK(ann_allclose(p1, p1, 0, 0) == 1);     /* inf == inf */
    CHECK(ann_allclose(p, q, 1, 1) == 0);       /* -inf vs inf, NaN */
    CHECK(ann_allclose(p, p, 1, 1) == 0);       /* NaN is never close */
    ann_release(p); ann_release(q); ann_release(p1);
  }
  CHECK_ERR(ann_allclose(a, c, 1e-5, 1e-8) + 1,
            "allclose: shapes [2,3] and [4] do not broadcast");
  CHECK_ERR(ann_allclose(a, b, -1, 0) + 1, "allclose: bad tolerance (rtol -1, atol 0)");
  CHECK_ERR(ann_allclose(a, NULL, 0, 0) + 1, "allclose: NULL tensor");
  ann_release(a); ann_release(b); ann_release(c);
}

/* ---- errors ------------------------------------------------------------- */

static void test_errors(void) {
  int64_t s[2] = {2, 3}, s0[1] = {0}, s03[2] = {0, 3};
  ann_Tensor *a = ann_zeros(2, s), *z = ann_zeros(1, s0), *z3 = ann_zeros(2, s03);
  ann_Tensor *ind = (ann_Tensor *)&ind, *y;   /* must come back NULL */
  CHECK_ERR(ann_sum(a, 2, 0) != NULL, "sum: dim 3 out of range for [2,3]");
  CHECK_ERR(ann_mean(a, 5, 1) != NULL, "mean: dim 6 out of range for [2,3]");
  CHECK_ERR(ann_var(NULL, 0, 0) != NULL, "var: NULL tensor");
  CHECK_ERR(ann_std(a, 7, 0) != NULL, "std: dim 8 out of range");
  CHECK_ERR(ann_max(a, 2, 0, NULL) != NULL, "max: dim 3 out of range for [2,3]");
  CHECK_ERR(ann_max(z, -1, 0, &ind) != NULL, "max: empty tensor [0]");
  CHECK(ind == NULL);
  CHECK_ERR(ann_min(z3, 0, 0, NULL) != NULL, "min: dim 1 of [0,3] is empty");
  CHECK_ERR(ann_argmax(z, -1, 0) != NULL, "argmax: empty tensor [0]");
  CHECK_ERR(ann_argmin(a, 3, 0) != NULL, "argmin: dim 4 out of range for [2,3]");
  y = ann_max(z3, 1, 0, NULL);            /* reducing a size-3 dim: fine */
  CHECK(shape_is(y, 1, 0, 0));
  ann_release(y);
  ann_release(a); ann_release(z); ann_release(z3);
}

int main(void) {
  int64_t live = ann_live_bytes();
  snprintf(best, sizeof best, "%s", ann_simd_level());
  test_moments();
  test_moments_edge();
  test_moments_strided();
  test_sum_accuracy();
  test_extremes();
  test_extremes_nan_strided();
  test_norm();
  test_allclose();
  test_errors();
  CHECK(ann_live_bytes() == live);
  return test_report();
}
