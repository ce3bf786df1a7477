/*
** bench/builtin.c: the built-in kernels against the BLAS, in one run.
** 1. one-sample forward of a 32-64-64-8 tanh network (ann_mlp_forward),
**    microseconds per call and allocations per call;
** 2. mid-size products in the three forms a layer's training uses
**    (x w^T, g^T x, g w), GFLOP/s on one thread.
** Each figure is taken with the BLAS (when there is one) and with the
** built-in kernels (ann_blas_use_builtin), alternating, median of 5.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ann.h"
#include "ann_impl.h"

#define RUNS 5

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void die(void) { fprintf(stderr, "%s\n", ann_error()); exit(1); }

/* median microseconds of ann_mlp_forward on one sample */
static double forward_us(ann_Mlp *m, ann_Tensor *x, ann_Tensor *y,
                         double *allocs) {
  double t[RUNS];
  int r, i, inner = 200000;
  uint64_t a0;
  for (i = 0; i < 1000; i++) if (ann_mlp_forward(m, x, y)) die();
  a0 = ann_allocated();
  for (r = 0; r < RUNS; r++) {
    double t0 = now();
    for (i = 0; i < inner; i++) ann_mlp_forward(m, x, y);
    t[r] = (now() - t0) / inner * 1e6;
  }
  *allocs = (double)(ann_allocated() - a0) / ((double)inner * RUNS);
  qsort(t, RUNS, sizeof t[0], cmp);
  return t[RUNS / 2];
}

/* median GFLOP/s of C[m,n] = op(A) op(B), k inner */
static double gemm_gflops(int ta, int tb, int64_t m, int64_t n, int64_t k) {
  int64_t sa[2], sb[2], sc[2] = {m, n};
  ann_Tensor *a, *b, *c;
  double flop = 2.0 * m * n * k, t[RUNS];
  int r, i, inner = (int)(2e8 / flop) + 1;
  sa[0] = ta ? k : m; sa[1] = ta ? m : k;
  sb[0] = tb ? n : k; sb[1] = tb ? k : n;
  a = ann_rand(2, sa); b = ann_rand(2, sb); c = ann_zeros(2, sc);
  if (!a || !b || !c) die();
  for (i = 0; i < inner; i++) ann_gemm(1, a, ta, b, tb, 0, c);
  for (r = 0; r < RUNS; r++) {
    double t0 = now();
    for (i = 0; i < inner; i++) ann_gemm(1, a, ta, b, tb, 0, c);
    t[r] = flop * inner / (now() - t0) * 1e-9;
  }
  qsort(t, RUNS, sizeof t[0], cmp);
  ann_release(a); ann_release(b); ann_release(c);
  return t[RUNS / 2];
}

int main(void) {
  static const int w[] = {32, 64, 64, 8};
  static const struct { int ta, tb; int64_t m, n, k; const char *what; }
  prod[] = {
    {0, 1, 256, 64, 784, "x w^T  [256,784] x [64,784]^T"},
    {1, 0, 64, 784, 256, "g^T x  [256,64]^T x [256,784]"},
    {0, 0, 256, 784, 64, "g w    [256,64] x [64,784]   "},
    {0, 0, 256, 256, 256, "a b    [256,256] x [256,256] "},
  };
  ann_Tensor *wt[3], *bt[3], *x, *y;
  int act[3] = {ANN_ACT_TANH, ANN_ACT_TANH, ANN_ACT_TANH}, l, mode, nmode;
  int64_t sx[2] = {1, 32}, sy[2] = {1, 8};
  ann_Config cfg;
  ann_Mlp *m;
  size_t i;
  ann_init();
  ann_set_num_threads(1);
  ann_config(&cfg);
  nmode = strcmp(cfg.blas, "builtin") == 0 ? 1 : 2;
  printf("blas: %s (kernel %s); simd: %s; 1 thread\n", cfg.blas,
         cfg.blas_core, cfg.simd);
  for (l = 0; l < 3; l++) {
    int64_t s[2] = {w[l + 1], w[l]};
    if ((wt[l] = ann_randn(2, s)) == NULL
        || (bt[l] = ann_zeros(1, s)) == NULL) die();
  }
  if ((m = ann_mlp_new(3, wt, bt, act, NULL)) == NULL) die();
  if ((x = ann_rand(2, sx)) == NULL || (y = ann_zeros(2, sy)) == NULL) die();
  for (mode = 0; mode < nmode; mode++) {
    double allocs, us;
    ann_blas_use_builtin(nmode == 1 || mode == 1);
    us = forward_us(m, x, y, &allocs);
    printf("forward 32-64-64-8 tanh, 1 sample, %-8s %7.3f us/call, "
           "%.0f bytes allocated/call\n", nmode == 1 || mode ? "builtin:"
           : "BLAS:", us, allocs);
  }
  for (i = 0; i < sizeof prod / sizeof prod[0]; i++)
    for (mode = 0; mode < nmode; mode++) {
      ann_blas_use_builtin(nmode == 1 || mode == 1);
      printf("%s  %-8s %6.1f GFLOP/s\n", prod[i].what,
             nmode == 1 || mode ? "builtin" : "BLAS",
             gemm_gflops(prod[i].ta, prod[i].tb, prod[i].m, prod[i].n,
                         prod[i].k));
      fflush(stdout);
    }
  ann_mlp_free(m);
  return 0;
}
