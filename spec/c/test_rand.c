/*
** test_rand.c: the random generator (ann_rand.c).
**
** The stream is checked against a second implementation written here in
** a different form (64-bit words as pairs of 32-bit halves), which is
** itself checked first against published reference outputs:
** - splitmix64 from seed 1234567 (the Rosetta Code "Splitmix64" task) and
**   from seed 0;
** - xoshiro256** from the state {1, 2, 3, 4} (the test vector of the
**   reference implementation, as used by Rust's rand_xoshiro).
** Distributions are checked by mean and variance of 100k samples.
*/
#include <string.h>
#include "test.h"

/* ---- a 64-bit word as two 32-bit halves --------------------------------- */

typedef struct { uint32_t hi, lo; } W;

static W w(uint32_t hi, uint32_t lo) { W r; r.hi = hi; r.lo = lo; return r; }
static W wof(uint64_t x) { return w((uint32_t)(x >> 32), (uint32_t)x); }
static uint64_t u64(W a) { return (uint64_t)a.hi << 32 | a.lo; }
static W wxor(W a, W b) { return w(a.hi ^ b.hi, a.lo ^ b.lo); }
static W wor(W a, W b) { return w(a.hi | b.hi, a.lo | b.lo); }

static W wadd(W a, W b) {
  uint32_t lo = a.lo + b.lo;
  return w(a.hi + b.hi + (lo < a.lo), lo);
}

static W wshr(W a, int k) {   /* 0 < k < 64 */
  if (k >= 32) return w(0, a.hi >> (k - 32));
  return w(a.hi >> k, (a.lo >> k) | (a.hi << (32 - k)));
}

static W wshl(W a, int k) {   /* 0 < k < 64 */
  if (k >= 32) return w(a.lo << (k - 32), 0);
  return w((a.hi << k) | (a.lo >> (32 - k)), a.lo << k);
}

/* low 64 bits of a * b, from 32x32-bit partial products */
static W wmul(W a, W b) {
  uint64_t p = (uint64_t)a.lo * b.lo;
  return w((uint32_t)(p >> 32) + a.hi * b.lo + a.lo * b.hi, (uint32_t)p);
}

static W wrotl(W a, int k) { return wor(wshl(a, k), wshr(a, 64 - k)); }

static W ref_splitmix(W *x) {
  W z;
  *x = wadd(*x, w(0x9e3779b9u, 0x7f4a7c15u));
  z = *x;
  z = wmul(wxor(z, wshr(z, 30)), w(0xbf58476du, 0x1ce4e5b9u));
  z = wmul(wxor(z, wshr(z, 27)), w(0x94d049bbu, 0x133111ebu));
  return wxor(z, wshr(z, 31));
}

static W ref_xoshiro(W s[4]) {
  W out = wmul(wrotl(wmul(s[1], w(0, 5)), 7), w(0, 9));
  W t = wshl(s[1], 17);
  s[2] = wxor(s[2], s[0]);
  s[3] = wxor(s[3], s[1]);
  s[1] = wxor(s[1], s[2]);
  s[0] = wxor(s[0], s[3]);
  s[2] = wxor(s[2], t);
  s[3] = wrotl(s[3], 45);
  return out;
}

static void ref_seed(W s[4], uint64_t seed) {
  W x = wof(seed);
  int i;
  for (i = 0; i < 4; i++) s[i] = ref_splitmix(&x);
}

/* ---- the reference implementation against published values ----------- */

static void test_reference(void) {
  static const uint64_t sm1234567[5] = {
    6457827717110365317u, 3203168211198807973u, 9817491932198370423u,
    4593380528125082431u, 16408922859458223821u};
  static const uint64_t sm0[2] = {0xe220a8397b1dcdafu, 0x6e789e6aa1b965f4u};
  static const uint64_t xo1234[10] = {
    11520u, 0u, 1509978240u, 1215971899390074240u, 1216172134540287360u,
    607988272756665600u, 16172922978634559625u, 8476171486693032832u,
    10595114339597558777u, 2904607092377533576u};
  W x = wof(1234567), s[4];
  int i;
  for (i = 0; i < 5; i++) CHECK(u64(ref_splitmix(&x)) == sm1234567[i]);
  x = wof(0);
  for (i = 0; i < 2; i++) CHECK(u64(ref_splitmix(&x)) == sm0[i]);
  for (i = 0; i < 4; i++) s[i] = wof((uint64_t)i + 1);
  for (i = 0; i < 10; i++) CHECK(u64(ref_xoshiro(s)) == xo1234[i]);
}

/* ---- the library's stream --------------------------------------------- */

/* must run before anything seeds: the documented default seed is 42 */
static void test_default_seed(void) {
  W s[4];
  int i, same = 1;
  ref_seed(s, 42);
  for (i = 0; i < 8; i++) same &= ann_rand_u64() == u64(ref_xoshiro(s));
  CHECK(same);
}

static void test_stream(void) {
  static const uint64_t seeds[4] = {0, 1, 1234567, UINT64_MAX};
  W s[4];
  int k, i;
  for (k = 0; k < 4; k++) {
    int same = 1;
    ann_manual_seed(seeds[k]);
    ref_seed(s, seeds[k]);
    for (i = 0; i < 1000; i++) same &= ann_rand_u64() == u64(ref_xoshiro(s));
    CHECK(same);
  }
  /* uniform doubles: the top 53 bits of one output */
  ann_manual_seed(99);
  ref_seed(s, 99);
  for (i = 0; i < 4; i++) {
    double want = (double)(u64(ref_xoshiro(s)) >> 11) / 9007199254740992.0;
    CHECK(ann_rand_uniform() == want);
  }
  /* normals: basic Box-Muller, cosine branch, two outputs each */
  for (i = 0; i < 4; i++) {
    double u1 = 1.0 - (double)(u64(ref_xoshiro(s)) >> 11) / 9007199254740992.0;
    double u2 = (double)(u64(ref_xoshiro(s)) >> 11) / 9007199254740992.0;
    CHECK_NEAR(ann_rand_normal(), sqrt(-2 * log(u1)) * cos(2 * M_PI * u2),
               1e-12);
  }
  /* float tensors: the top 24 bits of one output each, row-major */
  { int64_t sh[2] = {2, 3};
    ann_Tensor *t = ann_rand(2, sh);
    int ok = t != NULL;
    for (i = 0; ok && i < 6; i++)
      ok = ann_data(t)[i] == (float)(u64(ref_xoshiro(s)) >> 40) / 16777216.0f;
    CHECK(ok);
    ann_release(t); }
}

static void test_repeat(void) {
  int64_t n = 50;
  ann_Tensor *a, *b, *c, *d, *e;
  ann_manual_seed(7);
  a = ann_rand(1, &n); b = ann_randn(1, &n);
  ann_manual_seed(7);
  c = ann_rand(1, &n); d = ann_randn(1, &n);
  CHECK(memcmp(ann_data(a), ann_data(c), 50 * sizeof(float)) == 0);
  CHECK(memcmp(ann_data(b), ann_data(d), 50 * sizeof(float)) == 0);
  ann_manual_seed(8);
  e = ann_rand(1, &n);
  CHECK(memcmp(ann_data(a), ann_data(e), 50 * sizeof(float)) != 0);
  ann_release(a); ann_release(b); ann_release(c); ann_release(d);
  ann_release(e);
  { ann_Tensor *z = ann_randn(0, NULL);          /* 0-dim */
    CHECK(z && z->ndim == 0 && isfinite(ann_data(z)[0]));
    ann_release(z); }
}

/* in-place fills walk a strided view in its row-major order */
static void test_inplace(void) {
  int64_t sh[2] = {3, 4};
  ann_Tensor *base = ann_zeros(2, sh), *n = ann_narrow(base, 1, 1, 2),
             *v = ann_transpose(n, 0, 1);       /* [2,3], strides [1,4] */
  float *b = ann_data(base);
  W s[4];
  int i, j, ok = 1, zero = 1;
  ann_manual_seed(5);
  ref_seed(s, 5);
  CHECK(ann_uniform_(v, -1, 3) == 0);
  for (i = 0; i < 2; i++)          /* v(i,j) is base(j, i+1) */
    for (j = 0; j < 3; j++) {
      double u = (double)(u64(ref_xoshiro(s)) >> 40) / 16777216.0;
      ok &= fabs(b[j * 4 + i + 1] - (-1 + 4 * u)) < 1e-6;
    }
  CHECK(ok);
  for (i = 0; i < 3; i++) zero &= b[i * 4] == 0 && b[i * 4 + 3] == 0;
  CHECK(zero);
  ok = 1;
  CHECK(ann_normal_(v, 3, 2) == 0);
  for (i = 0; i < 2; i++)
    for (j = 0; j < 3; j++) {
      double u1 = 1.0 - (double)(u64(ref_xoshiro(s)) >> 11) / 9007199254740992.0;
      double u2 = (double)(u64(ref_xoshiro(s)) >> 11) / 9007199254740992.0;
      double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
      ok &= fabs(b[j * 4 + i + 1] - (3 + 2 * z)) < 1e-5;
    }
  CHECK(ok);
  /* lo == hi is a constant fill */
  CHECK(ann_uniform_(n, 2, 2) == 0 && b[1] == 2 && b[10] == 2 && b[0] == 0);
  /* errors */
  CHECK_ERR(ann_uniform_(n, 2, 1) >= 0, "uniform_: bad range [2, 1)");
  CHECK_ERR(ann_uniform_(n, 0, NAN) >= 0, "uniform_: bad range");
  CHECK_ERR(ann_uniform_(n, -3e38f, 3e38f) >= 0, "uniform_: bad range");
  CHECK_ERR(ann_normal_(n, 0, -1) >= 0, "normal_: bad mean 0 or std -1");
  CHECK_ERR(ann_normal_(n, INFINITY, 1) >= 0, "normal_: bad mean inf");
  CHECK_ERR(ann_uniform_(NULL, 0, 1) >= 0, "uniform_: no tensor");
  { int64_t one[2] = {3, 1}, wide[2] = {3, 4};
    ann_Tensor *c = ann_zeros(2, one), *e = ann_expand(c, 2, wide);
    CHECK_ERR(ann_uniform_(e, 0, 1) >= 0, "uniform_: tensor [3,4] is expanded (stride 0 in dim 2)");
    CHECK_ERR(ann_normal_(e, 0, 1) >= 0, "normal_: tensor [3,4] is expanded");
    ann_release(e); ann_release(c); }
  { int64_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK_ERR(ann_rand(9, s9), "tensor: 9 dims");
    CHECK_ERR(ann_randn(2, NULL), "randn: no shape");
    CHECK_ERR(ann_rand(1, NULL), "rand: no shape"); }
  ann_release(v); ann_release(n); ann_release(base);
}

/* mean, unbiased variance, and the fraction of values below `cut` */
static void moments(const ann_Tensor *t, double cut, double *mean,
                    double *var, double *frac) {
  int64_t i, n = ann_numel(t), below = 0;
  const float *x = ann_data(t);
  double s = 0, ss = 0;
  for (i = 0; i < n; i++) { s += x[i]; below += x[i] < cut; }
  *mean = s / n;
  for (i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
  *var = ss / (n - 1);
  *frac = (double)below / n;
}

static void test_distributions(void) {
  int64_t n = 100000, i;
  double mean, var, frac;
  ann_Tensor *t;
  float lo = 1, hi = 0;
  ann_manual_seed(2024);
  /* U[0,1): mean 1/2, variance 1/12; P(x < 1/4) = 1/4.  Standard errors
  ** are ~0.001, 0.0003 and 0.0014, so the tolerances are > 5 of them. */
  t = ann_rand(1, &n);
  moments(t, 0.25, &mean, &var, &frac);
  CHECK_NEAR(mean, 0.5, 0.005);
  CHECK_NEAR(var, 1.0 / 12, 0.002);
  CHECK_NEAR(frac, 0.25, 0.01);
  for (i = 0; i < n; i++) {
    if (ann_data(t)[i] < lo) lo = ann_data(t)[i];
    if (ann_data(t)[i] > hi) hi = ann_data(t)[i];
  }
  CHECK(lo >= 0 && hi < 1 && lo < 0.001 && hi > 0.999);
  ann_release(t);
  /* N(0,1): mean 0, variance 1; P(x < -1) = 0.158655 */
  t = ann_randn(1, &n);
  moments(t, -1, &mean, &var, &frac);
  CHECK_NEAR(mean, 0, 0.02);
  CHECK_NEAR(var, 1, 0.03);
  CHECK_NEAR(frac, 0.158655, 0.01);
  /* normal_(3, 2): mean 3, variance 4; uniform_(-2, 6): mean 2, var 64/12 */
  CHECK(ann_normal_(t, 3, 2) == 0);
  moments(t, 1, &mean, &var, &frac);
  CHECK_NEAR(mean, 3, 0.04);
  CHECK_NEAR(var, 4, 0.12);
  CHECK_NEAR(frac, 0.158655, 0.01);
  CHECK(ann_uniform_(t, -2, 6) == 0);
  moments(t, 0, &mean, &var, &frac);
  CHECK_NEAR(mean, 2, 0.04);
  CHECK_NEAR(var, 64.0 / 12, 0.12);
  CHECK_NEAR(frac, 0.25, 0.01);
  ann_release(t);
}

int main(void) {
  test_default_seed();      /* first: nothing may have seeded yet */
  test_reference();
  test_stream();
  test_repeat();
  test_inplace();
  test_distributions();
  return test_report();
}
