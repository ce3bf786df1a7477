/*
** test_noalloc.c: the products and the one-sample forward of a small
** network allocate nothing per call, with the built-in kernels (as in a
** BLAS=none build) and with the BLAS.  malloc and its kin are replaced
** here by counting wrappers around glibc's own entry points; under a
** sanitizer, which replaces them itself, the test has nothing to say.
*/
#include <stdlib.h>
#include <string.h>

#include "ann.h"
#include "ann_impl.h"
#include "test.h"

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) \
    && !defined(__SANITIZE_THREAD__)
#define COUNTING 1

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t s);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t a, size_t n);
void __libc_free(void *p);

static _Atomic long calls;

void *malloc(size_t n) { calls++; return __libc_malloc(n); }
void *calloc(size_t n, size_t s) { calls++; return __libc_calloc(n, s); }
void *realloc(void *p, size_t n) { calls++; return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { calls++; return __libc_memalign(a, n); }
void *memalign(size_t a, size_t n) { calls++; return __libc_memalign(a, n); }
int posix_memalign(void **p, size_t a, size_t n) {
  calls++;
  *p = __libc_memalign(a, n);
  return *p ? 0 : 12;           /* ENOMEM */
}
void free(void *p) { __libc_free(p); }

static ann_Tensor *randt(int64_t r, int64_t c) {
  int64_t s[2] = {r, c};
  return ann_randn(2, s);
}

/* mallocs made by n one-sample forwards of 32-64-64-8 tanh */
static long forward_calls(ann_Mlp *m, ann_Tensor *x, ann_Tensor *y, int n) {
  long c0;
  int i, st = 0;
  CHECK(ann_mlp_forward(m, x, y) == 0);      /* warm-up: buffers made */
  c0 = calls;
  for (i = 0; i < n; i++) st |= ann_mlp_forward(m, x, y);
  CHECK(st == 0);
  return calls - c0;
}

/* mallocs made by ann_gemm_raw on [m,k] x [n,k]^T, [k,m]^T x [k,n] and
** [m,k] x [k,n] */
static long gemm_calls(int64_t m, int64_t n, int64_t k) {
  ann_Tensor *a = randt(m, k), *b = randt(n, k), *at = randt(k, m);
  ann_Tensor *bn = randt(k, n), *c = randt(m, n);
  long c0 = calls;
  CHECK(ann_gemm_raw(0, 1, m, n, k, 1, ann_data(a), k, ann_data(b), k, 0,
                     ann_data(c), n) == 0);
  CHECK(ann_gemm_raw(1, 0, m, n, k, 1, ann_data(at), m, ann_data(bn), n, 1,
                     ann_data(c), n) == 0);
  CHECK(ann_gemm_raw(0, 0, m, n, k, 1, ann_data(a), k, ann_data(bn), n, 1,
                     ann_data(c), n) == 0);
  c0 = calls - c0;
  ann_release(a); ann_release(b); ann_release(at); ann_release(bn);
  ann_release(c);
  return c0;
}
#endif

int main(void) {
#ifdef COUNTING
  static const int w[] = {32, 64, 64, 8};
  ann_Tensor *wt[3], *bt[3], *x, *y;
  int act[3] = {ANN_ACT_TANH, ANN_ACT_TANH, ANN_ACT_TANH}, l, builtin;
  int64_t sy[2] = {1, 8};
  ann_Mlp *m;
  long before = calls;
  void *p = malloc(10);          /* the counter counts */
  free(p);
  CHECK(calls == before + 1);
  ann_init();
  for (l = 0; l < 3; l++) {
    int64_t s[1] = {w[l + 1]};
    wt[l] = randt(w[l + 1], w[l]);
    bt[l] = ann_zeros(1, s);
  }
  m = ann_mlp_new(3, wt, bt, act, NULL);
  x = randt(1, 32);
  y = ann_zeros(2, sy);
  CHECK(m && x && y);
  for (builtin = 1; builtin >= 0; builtin--) {
    ann_blas_use_builtin(builtin);
    CHECK(forward_calls(m, x, y, 1000) == 0);
    CHECK(gemm_calls(1, 64, 32) == 0);        /* the small kernels */
    if (builtin) {                            /* the register tiles */
      CHECK(gemm_calls(37, 70, 300) == 0);
      CHECK(gemm_calls(256, 64, 784) == 0);
    }
  }
  ann_blas_use_builtin(0);
  ann_mlp_free(m);
  ann_release(x); ann_release(y);
  for (l = 0; l < 3; l++) { ann_release(wt[l]); ann_release(bt[l]); }
#else
  printf("malloc is the sanitizer's here: nothing counted\n");
#endif
  return test_report();
}
