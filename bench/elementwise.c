/*
** elementwise.c: throughput of a + b and tanh(a) on 16M floats, median of
** 5 runs, at each SIMD level.  GB/s counts the bytes the op must move
** (a + b: two reads and one write; tanh: one read, one write).
** Build by hand:
**   make B=build && cc -O2 -Isrc bench/elementwise.c build/lib/libannlua.a \
**     -lm -ldl -lpthread -o elementwise
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ann_impl.h"

#define N (16 << 20)
#define REPS 5

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* median seconds of REPS calls of f */
#define MEDIAN(res, stmt) do { \
  double t_[REPS]; int r_; \
  for (r_ = 0; r_ < REPS; r_++) { double t0_ = now(); stmt; t_[r_] = now() - t0_; } \
  qsort(t_, REPS, sizeof t_[0], cmp); res = t_[REPS / 2]; \
} while (0)

int main(void) {
  const char *levels[] = {"avx512", "avx2", "scalar"};
  int64_t n = N, i;
  ann_Tensor *a = ann_empty(1, &n), *b = ann_empty(1, &n), *y = ann_empty(1, &n);
  int lv;
  for (i = 0; i < n; i++) {
    a->st->data[i] = (float)((i % 1000) * 0.004 - 2);
    b->st->data[i] = (float)(i % 7);
    y->st->data[i] = 0;
  }
  printf("%-7s %18s %18s %18s %18s\n", "level", "a+b (new tensor)",
         "a+b (kernel)", "tanh (new tensor)", "tanh (kernel)");
  for (lv = 0; lv < 3; lv++) {
    const ann_Kernels *k;
    double t1, t2, t3, t4;
    if (ann_simd_use(levels[lv]) < 0) continue;
    k = ann_kernels();
    MEDIAN(t1, ann_release(ann_binary(ANN_ADD, a, b)));
    MEDIAN(t2, k->vv[ANN_ADD](n, a->st->data, b->st->data, y->st->data));
    MEDIAN(t3, ann_release(ann_unary(ANN_TANH, a)));
    MEDIAN(t4, k->un[ANN_TANH](n, a->st->data, y->st->data));
    printf("%-7s %12.1f GB/s %12.1f GB/s %12.1f GB/s %12.1f GB/s\n",
           levels[lv], 12.0 * n / t1 / 1e9, 12.0 * n / t2 / 1e9,
           8.0 * n / t3 / 1e9, 8.0 * n / t4 / 1e9);
  }
  {  /* what a new 64 MB tensor costs before any arithmetic: the pages
     ** are faulted in and zeroed by the OS on first write */
    double t;
    MEDIAN(t, { ann_Tensor *f = ann_empty(1, &n);
                ann_fill_(f, 1); ann_release(f); });
    printf("new 16M-float tensor + first fill: %.1f ms (fill alone: ", t * 1e3);
    MEDIAN(t, ann_fill_(y, 1));
    printf("%.1f ms)\n", t * 1e3);
  }
  {  /* [64,256] + [256], the bias add of a layer: rows through the kernel */
    int64_t s2[2] = {64, 256}, s1[1] = {256};
    ann_Tensor *x = ann_full(2, s2, 1), *r = ann_full(1, s1, 2);
    double t;
    int j;
    if (ann_simd_use(levels[0]) < 0) ann_simd_use(levels[1]);
    MEDIAN(t, for (j = 0; j < 1000; j++) ann_release(ann_binary(ANN_ADD, x, r)));
    printf("[64,256] + [256] (%s): %.2f us per op\n", ann_simd_level(),
           t / 1000 * 1e6);
    ann_release(x); ann_release(r);
  }
  ann_release(a); ann_release(b); ann_release(y);
  return 0;
}
