/*
** bench/mm.c: GFLOP/s of ann_gemm (C = A B, float32, row-major), median of
** 5 timed runs after a warm-up, on 1 and 2 threads.  Run it with
** OPENBLAS_CORETYPE unset, then e.g. =PRESCOTT, or ANN_BLAS=builtin, to
** compare kernels.  Usage: mm [M N K]  (default: both standard sizes)
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ann.h"

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

/* median GFLOP/s of C[m,n] = A[m,k] B[k,n]; repeats small products so
** that each timed run lasts a few milliseconds at least */
static double bench(int64_t m, int64_t n, int64_t k) {
  int64_t sa[2] = {m, k}, sb[2] = {k, n}, sc[2] = {m, n};
  ann_Tensor *a = ann_rand(2, sa), *b = ann_rand(2, sb), *c = ann_zeros(2, sc);
  double flop = 2.0 * m * n * k, t[RUNS];
  int r, i, inner = flop < 1e9 ? (int)(1e9 / flop) + 1 : 1;
  if (!a || !b || !c) { fprintf(stderr, "%s\n", ann_error()); exit(1); }
  for (i = 0; i < inner; i++) ann_gemm(1, a, 0, b, 0, 0, c);   /* warm-up */
  for (r = 0; r < RUNS; r++) {
    double t0 = now();
    for (i = 0; i < inner; i++) ann_gemm(1, a, 0, b, 0, 0, c);
    t[r] = flop * inner / (now() - t0) * 1e-9;
  }
  qsort(t, RUNS, sizeof t[0], cmp);
  ann_release(a); ann_release(b); ann_release(c);
  return t[RUNS / 2];
}

int main(int argc, char **argv) {
  static const int64_t std_sizes[][3] = {{64, 256, 784}, {1024, 1024, 1024}};
  int64_t sizes[2][3];
  int ns = 2, i, th;
  ann_Config cfg;
  const char *ct = getenv("OPENBLAS_CORETYPE");
  if (argc == 4) {
    for (i = 0; i < 3; i++) sizes[0][i] = atoll(argv[i + 1]);
    ns = 1;
  }
  else
    for (i = 0; i < 2; i++)
      for (th = 0; th < 3; th++) sizes[i][th] = std_sizes[i][th];
  ann_init();
  ann_config(&cfg);
  printf("blas: %s\ncore: %s (OPENBLAS_CORETYPE %s)\n", cfg.blas,
         cfg.blas_core, ct ? ct : "unset");
  for (i = 0; i < ns; i++)
    for (th = 1; th <= 2; th++) {
      ann_set_num_threads(th);
      printf("M=%lld N=%lld K=%lld  %d thread%s  %7.1f GFLOP/s\n",
             (long long)sizes[i][0], (long long)sizes[i][1],
             (long long)sizes[i][2], th, th > 1 ? "s" : " ",
             bench(sizes[i][0], sizes[i][1], sizes[i][2]));
      fflush(stdout);
    }
  return 0;
}
