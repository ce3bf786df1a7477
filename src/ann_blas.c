/*
** ann_blas.c: linear algebra through a BLAS found at run time (built-in
** kernels when there is none), and the runtime: init, shutdown, threads.
**
** Why the core does not link OpenBLAS: a DYNAMIC_ARCH OpenBLAS picks its
** kernels in its constructor, from cpuid or from OPENBLAS_CORETYPE.
** Debian 12's 0.3.21 does not know recent CPUs (Sapphire Rapids) and falls
** back to its generic Prescott kernels, 5x slower.  So ann_init loads it
** with dlopen after setting OPENBLAS_CORETYPE from what the CPU can run,
** unless the user set the variable or the process already holds a BLAS.
** Built with -DANN_NO_BLAS (make BLAS=none) there is no dlopen at all:
** the built-in kernels serve every product, and a static host links.
*/
#ifndef ANN_NO_BLAS
#include <dlfcn.h>
#include <sys/auxv.h>
#endif
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ann_impl.h"

/* ---- the BLAS ---------------------------------------------------------- */

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };   /* CBLAS values */

typedef void (*sgemm_f)(int, int, int, int, int, int, float, const float *,
                        int, const float *, int, float, float *, int);
typedef void (*sgemv_f)(int, int, int, int, float, const float *, int,
                        const float *, int, float, float *, int);

static struct {
  sgemm_f sgemm;                  /* NULL: built-in kernels */
  sgemv_f sgemv;
  void (*set_threads)(int);       /* OpenBLAS extras, each may be NULL */
  int (*get_threads)(void);
  char *(*corename)(void);
  char *(*config)(void);
  int (*stop_threads)(void);      /* blas_thread_shutdown_ */
  int builtin;                    /* tests: ignore the BLAS */
  char name[256];
  char core[64];
  char check[384];                /* the self-check's verdict */
} blas;

static _Atomic int nthreads = 1;
static _Atomic int64_t ncopies;   /* operands copied before a BLAS call */

static int ncores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
}

#ifndef ANN_NO_BLAS
/* names to try, most specific first; the generic ones are OpenBLAS too on
** Debian when it is the selected alternative */
static const char *const libnames[] = {
  "libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0",
  "libopenblaso.so.0", "libcblas.so.3", "libblas.so.3", NULL
};

/* a statically linked program was started without a dynamic loader
** (AT_BASE 0): dlopen there maps a second C library and crashes */
static int can_dlopen(void) { return getauxval(AT_BASE) != 0; }

/* takes the symbols from h; 0 if it has no CBLAS sgemm/sgemv */
static int bind(void *h) {
  sgemm_f gemm = (sgemm_f)dlsym(h, "cblas_sgemm");
  sgemv_f gemv = (sgemv_f)dlsym(h, "cblas_sgemv");
  if (gemm == NULL || gemv == NULL) return 0;
  blas.sgemm = gemm;
  blas.sgemv = gemv;
  blas.set_threads = (void (*)(int))dlsym(h, "openblas_set_num_threads");
  blas.get_threads = (int (*)(void))dlsym(h, "openblas_get_num_threads");
  blas.corename = (char *(*)(void))dlsym(h, "openblas_get_corename");
  blas.config = (char *(*)(void))dlsym(h, "openblas_get_config");
  blas.stop_threads = (int (*)(void))dlsym(h, "blas_thread_shutdown_");
  return 1;
}

static int tryload(const char *name, int flags) {
  void *h = dlopen(name, flags);
  if (h == NULL) return 0;
  if (bind(h)) return 1;      /* kept open for the life of the process */
  dlclose(h);
  return 0;
}

/* a BLAS someone else loaded (or an earlier ann_init) keeps the kernels
** it chose at its load */
static int load_present(void) {
  int i;
  for (i = 0; libnames[i]; i++)
    if (tryload(libnames[i], RTLD_NOW | RTLD_NOLOAD)) return 1;
  return dlsym(RTLD_DEFAULT, "cblas_sgemm") != NULL && bind(RTLD_DEFAULT);
}

/* ANN_BLAS=builtin refuses any BLAS; ANN_BLAS=<path> is tried first.
** Unless env is 0 (ANN_INIT_KEEP_ENV), two settings OpenBLAS's
** constructor reads from the environment are given for the load when the
** user did not set them, then taken out again: the kernels for this CPU
** (OPENBLAS_CORETYPE), and how long its threads spin after a call before
** they sleep, 2^18 cycles instead of 2^28: the compute threads of
** ann_pool.c otherwise share the cores with spinning BLAS threads for a
** tenth of a second after each threaded call (mnist-mlp 6% slower). */
static int load_new(int env) {
  const char *want = getenv("ANN_BLAS");
  const char *core = NULL;
  int i, ok = 0, spin = env && getenv("OPENBLAS_THREAD_TIMEOUT") == NULL;
  if (want && strcmp(want, "builtin") == 0) return 0;
  if (env && getenv("OPENBLAS_CORETYPE") == NULL) core = ann_cpu_coretype();
  if (core) setenv("OPENBLAS_CORETYPE", core, 1);
  if (spin) setenv("OPENBLAS_THREAD_TIMEOUT", "18", 1);
  if (want && *want) ok = tryload(want, RTLD_NOW | RTLD_LOCAL);
  for (i = 0; !ok && libnames[i]; i++)
    ok = tryload(libnames[i], RTLD_NOW | RTLD_LOCAL);
  if (core) unsetenv("OPENBLAS_CORETYPE");  /* leave the environment as found */
  if (spin) unsetenv("OPENBLAS_THREAD_TIMEOUT");
  return ok;
}
#endif

static int simd(void);
static void selfcheck(void);

/* what the built-in kernels run on: "avx512", "avx2" or "scalar" */
static const char *builtin_core(void) {
  static const char *const names[] = {"scalar", "avx2", "avx512"};
  return names[simd()];
}

static void describe(void) {
  const char *s = blas.config ? blas.config() : NULL;
  size_t n;
  if (blas.sgemm == NULL) {
    strcpy(blas.name, "builtin");
    strcpy(blas.core, builtin_core());
    return;
  }
#ifndef ANN_NO_BLAS
  {
    Dl_info info;
    if (s == NULL && dladdr((void *)blas.sgemm, &info))
      s = info.dli_fname;     /* not OpenBLAS: the library's file */
  }
#endif
  snprintf(blas.name, sizeof blas.name, "%s", s ? s : "CBLAS");
  n = strlen(blas.name);
  while (n > 0 && blas.name[n - 1] == ' ') blas.name[--n] = '\0';
  s = blas.corename ? blas.corename() : NULL;
  snprintf(blas.core, sizeof blas.core, "%s", s ? s : "unknown");
}

/* ---- init and shutdown ---------------------------------------------------
** A mutex and a flag rather than pthread_once, which cannot be reset: after
** ann_shutdown the next call initialises again.  `ready` is read without
** the lock on every product (ann_init), so it is atomic. */
static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int ready;
static ann_InitOpts given;        /* the options of the current init */
static int blas_threads;          /* the BLAS's own count, at its first load */

static void init_locked(const ann_InitOpts *o) {
  /* first, so that the threads the BLAS starts inherit the mode */
  if (!(o->flags & ANN_INIT_KEEP_FPMODE)) ann_flush_denormal(1);
  memset(&blas, 0, sizeof blas);
#ifndef ANN_NO_BLAS
  if (!(o->flags & ANN_INIT_NO_BLAS) && can_dlopen() && !load_present()
      && !load_new(!(o->flags & ANN_INIT_KEEP_ENV)))
    memset(&blas, 0, sizeof blas);
#endif
  describe();
  selfcheck();
  /* OpenBLAS defaults to all cores, or to what OPENBLAS_NUM_THREADS says;
  ** remembered, as ann_shutdown leaves it at one */
  if (blas.get_threads && blas_threads < 1) blas_threads = blas.get_threads();
  nthreads = o->threads > 0 ? o->threads
           : blas.get_threads && blas_threads > 0 ? blas_threads : ncores();
  if (blas.set_threads) blas.set_threads(nthreads);
  given = *o;
}

int ann_init_opts(const ann_InitOpts *o) {
  ann_InitOpts d = {0, 0};
  int st = 0;
  if (o == NULL) o = &d;
  if (o->flags & ~(ANN_INIT_KEEP_FPMODE | ANN_INIT_KEEP_ENV
                   | ANN_INIT_NO_BLAS))
    return ann_seterror("init: unknown flags 0x%x", o->flags);
  pthread_mutex_lock(&init_mu);
  if (!ready) {
    init_locked(o);
    atomic_store(&ready, 1);
  }
  else if (given.flags != o->flags
           || (given.threads != o->threads && o->threads > 0))
    st = ann_seterror("init: already initialised with other options "
                      "(flags 0x%x, %d threads); ann_shutdown first",
                      given.flags, given.threads);
  pthread_mutex_unlock(&init_mu);
  return st;
}

/* called by everything: initialises with the defaults the first time, and
** keeps whatever ann_init_opts chose */
int ann_init(void) {
  if (atomic_load_explicit(&ready, memory_order_acquire)) return 0;
  pthread_mutex_lock(&init_mu);
  if (!ready) {
    ann_InitOpts d = {0, 0};
    init_locked(&d);
    atomic_store(&ready, 1);
  }
  pthread_mutex_unlock(&init_mu);
  return 0;
}

void ann_shutdown(void) {
  pthread_mutex_lock(&init_mu);
  ann_pool_stop();
  if (ready) {
    /* the library stays mapped (unloading OpenBLAS under its own threads
    ** is not safe); its threads are stopped, and start again on demand */
    if (blas.set_threads) blas.set_threads(1);
    if (blas.stop_threads) blas.stop_threads();
    memset(&blas, 0, sizeof blas);
    nthreads = 1;
    atomic_store(&ready, 0);
  }
  ann_ctx_trim(NULL);          /* the calling thread's context's cache */
  pthread_mutex_unlock(&init_mu);
}

void ann_config(ann_Config *c) {
  ann_init();
  c->version = ANN_VERSION;
  c->blas = blas.builtin ? "builtin" : blas.name;
  c->blas_core = blas.builtin ? builtin_core() : blas.core;
  c->simd = ann_simd_level();
  c->threads = nthreads;
}

const char *ann_blas_check(void) {
  ann_init();
  return blas.check;
}

/* n < 1 restores the default, the number of cores */
void ann_set_num_threads(int n) {
  ann_init();
  if (n < 1) n = ncores();
  nthreads = n;
  if (blas.set_threads) blas.set_threads(n);
}

/* one BLAS thread while a job of ann_pool.c runs (on 1), back after (0) */
void ann_blas_serial(int on) {
  if (blas.set_threads) blas.set_threads(on ? 1 : nthreads);
}

int ann_get_num_threads(void) {
  ann_init();
  return nthreads;
}

int64_t ann_blas_copies(void) { return ncopies; }
void ann_blas_use_builtin(int on) { ann_init(); blas.builtin = on; }

/* ---- dispatch ---------------------------------------------------------- */

static int fits(int64_t x) { return x <= INT_MAX; }

#ifndef ANN_NO_BLAS
/* y = alpha op(M) x + beta y through sgemv; M stored [r,c] with ld */
static void gemv(int t, int64_t r, int64_t c, float alpha, const float *M,
                 int64_t ld, const float *x, int64_t incx, float beta,
                 float *y, int64_t incy) {
  int64_t i, ny = t ? c : r;
  if (beta == 0.0f)           /* sgemv may scale NaN by 0; BLAS gemm won't */
    for (i = 0; i < ny; i++) y[i * incy] = 0.0f;
  blas.sgemv(RowMajor, t ? Trans : NoTrans, (int)r, (int)c, alpha, M, (int)ld,
             x, (int)incx, beta, y, (int)incy);
}
#endif

/* ---- tiny products: direct kernels, no BLAS call ----------------------
** Below a few thousand multiply-adds a BLAS call costs more than the work
** (argument checks, buffer setup, and for OpenBLAS a look at its thread
** pool).  A 2-8-8-1 network's gemms are all of this kind, so they never
** leave this file.  Two loop orders: rows of op(B) added into a row of C
** (op(B) rows contiguous), or dot products (both operands contiguous
** along k); the last case (A^T B^T) is plain loops. */
#define SMALL_MNK 32768

static int small(int64_t m, int64_t n, int64_t k) {
  return m <= SMALL_MNK && n <= SMALL_MNK && k <= SMALL_MNK
         && m * n * k <= SMALL_MNK;
}

#define SMALL_BODY                                                         \
  int64_t i, j, p;                                                         \
  for (i = 0; i < m; i++) {                                                \
    float *c = C + i * ldc;                                                \
    if (beta == 0.0f) for (j = 0; j < n; j++) c[j] = 0.0f;                 \
    else if (beta != 1.0f) for (j = 0; j < n; j++) c[j] *= beta;          \
    if (!tb) {                  /* c += a_ip * B[p,:] */                   \
      for (p = 0; p < k; p++) {                                            \
        const float *b = B + p * ldb;                                      \
        float a = alpha * (ta ? A[p * lda + i] : A[i * lda + p]);          \
        for (j = 0; j < n; j++) c[j] += a * b[j];                          \
      }                                                                    \
    }                                                                      \
    else if (!ta) {             /* c[j] += A[i,:] . B[j,:] */              \
      const float *a = A + i * lda;                                        \
      for (j = 0; j < n; j++)                                              \
        c[j] += alpha * dot8(k, a, B + j * ldb);                           \
    }                                                                      \
    else                                                                   \
      for (j = 0; j < n; j++) {                                            \
        float s = 0.0f;                                                    \
        for (p = 0; p < k; p++) s += A[p * lda + i] * B[j * ldb + p];      \
        c[j] += alpha * s;                                                 \
      }                                                                    \
  }

#define SMALL_ARGS int ta, int tb, int64_t m, int64_t n, int64_t k,        \
  float alpha, const float *restrict A, int64_t lda,                       \
  const float *restrict B, int64_t ldb, float beta, float *restrict C,     \
  int64_t ldc

/* a dot product in 8 independent sums: without them the compiler must
** add in order, one lane at a time */
#define DOT8_BODY                                                          \
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, s;                              \
  int64_t p, q;                                                            \
  for (p = 0; p + 8 <= k; p += 8)                                          \
    for (q = 0; q < 8; q++) acc[q] += a[p + q] * b[p + q];                 \
  s = ((acc[0] + acc[4]) + (acc[1] + acc[5]))                              \
    + ((acc[2] + acc[6]) + (acc[3] + acc[7]));                             \
  for (; p < k; p++) s += a[p] * b[p];                                     \
  return s;

#define dot8 dot8_c
static inline float dot8_c(int64_t k, const float *restrict a,
                           const float *restrict b) { DOT8_BODY }
static void small_gemm_c(SMALL_ARGS) { SMALL_BODY }
#undef dot8

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
/* the same loops compiled for AVX2+FMA and vectorised (-O2 does not) */
#define dot8 dot8_avx2
__attribute__((target("avx2,fma"), optimize("O3")))
static inline float dot8_avx2(int64_t k, const float *restrict a,
                              const float *restrict b) { DOT8_BODY }
__attribute__((target("avx2,fma"), optimize("O3")))
static void small_gemm_avx2(SMALL_ARGS) { SMALL_BODY }
#undef dot8
#define HAVE_SMALL_AVX2 1

#include <immintrin.h>

/* beta C[j..j+3], 0 when beta is 0 (C is not read: NaN does not survive,
** as in BLAS); the dot products below add into it */
#define BETA4(beta, p) ((beta) == 0.0f ? _mm_setzero_ps() \
                        : _mm_mul_ps(_mm_set1_ps(beta), _mm_loadu_ps(p)))

/* C[i,j] = alpha A[i,:] . B[j,:] + beta C[i,j], four columns at a time: the four sums
** are reduced together, which costs about one lone reduction */
__attribute__((target("avx2,fma")))
static void dots_avx2(int64_t m, int64_t n, int64_t k, float alpha,
                      const float *A, int64_t lda, const float *B,
                      int64_t ldb, float beta, float *C, int64_t ldc) {
  int64_t i, j, p;
  for (i = 0; i < m; i++) {
    const float *a = A + i * lda;
    float *c = C + i * ldc;
    for (j = 0; j + 4 <= n; j += 4) {
      const float *b0 = B + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb;
      const float *b3 = b2 + ldb;
      __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t;
      __m128 r;
      float tail[4] = {0, 0, 0, 0};
      for (p = 0; p + 8 <= k; p += 8) {
        __m256 av = _mm256_loadu_ps(a + p);
        s0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b0 + p), s0);
        s1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b1 + p), s1);
        s2 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b2 + p), s2);
        s3 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b3 + p), s3);
      }
      for (; p < k; p++) {
        tail[0] += a[p] * b0[p]; tail[1] += a[p] * b1[p];
        tail[2] += a[p] * b2[p]; tail[3] += a[p] * b3[p];
      }
      t = _mm256_hadd_ps(_mm256_hadd_ps(s0, s1), _mm256_hadd_ps(s2, s3));
      r = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
      r = _mm_add_ps(r, _mm_loadu_ps(tail));
      _mm_storeu_ps(c + j, _mm_fmadd_ps(_mm_set1_ps(alpha), r,
                                        BETA4(beta, c + j)));
    }
    for (; j < n; j++)
      c[j] = (beta == 0.0f ? 0.0f : beta * c[j])
             + alpha * dot8_avx2(k, a, B + j * ldb);
  }
}

/* the 16 sums of s[0..15] (each 16 partial sums) as one vector: pairs of
** rows are interleaved and added, then pairs of those, then the 128-bit
** quarters; 45 operations, where 16 lone reductions would take ~100 */
__attribute__((target("avx512f,avx512dq,avx2,fma")))
static inline __m512 sum16(const __m512 *s) {
  __m512 t[8], u[4], v[2];
  int q;
#pragma GCC unroll 16
  for (q = 0; q < 8; q++)            /* rows 2q, 2q+1: per quarter a b a b */
    t[q] = _mm512_add_ps(_mm512_unpacklo_ps(s[2 * q], s[2 * q + 1]),
                         _mm512_unpackhi_ps(s[2 * q], s[2 * q + 1]));
#pragma GCC unroll 16
  for (q = 0; q < 4; q++) {          /* rows 4q..4q+3: per quarter a b c d */
    __m512d a = _mm512_castps_pd(t[2 * q]), b = _mm512_castps_pd(t[2 * q + 1]);
    u[q] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
#pragma GCC unroll 16
  for (q = 0; q < 2; q++)            /* quarters added in pairs */
    v[q] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * q], u[2 * q + 1], 0x88),
                         _mm512_shuffle_f32x4(u[2 * q], u[2 * q + 1], 0xdd));
  return _mm512_add_ps(_mm512_shuffle_f32x4(v[0], v[1], 0x88),
                       _mm512_shuffle_f32x4(v[0], v[1], 0xdd));
}

/* the same with 16 lanes, sixteen columns at a time while there are
** sixteen (a network's forward on one sample: the whole cost is here),
** then four; a masked load takes the last k % 16 */
__attribute__((target("avx512f,avx512dq,avx2,fma")))
static void dots_avx512(int64_t m, int64_t n, int64_t k, float alpha,
                        const float *A, int64_t lda, const float *B,
                        int64_t ldb, float beta, float *C, int64_t ldc) {
  __mmask16 last = (__mmask16)((1u << (k & 15)) - 1);
  int64_t i, j, p, kk = k & ~(int64_t)15;
  for (i = 0; i < m; i++) {
    const float *a = A + i * lda;
    float *c = C + i * ldc;
    for (j = 0; j + 16 <= n; j += 16) {
      const float *b = B + j * ldb;
      __m512 s[16], av;
      int q;
#pragma GCC unroll 16
      for (q = 0; q < 16; q++) s[q] = _mm512_setzero_ps();
      for (p = 0; p < kk; p += 16) {
        av = _mm512_loadu_ps(a + p);
#pragma GCC unroll 16
        for (q = 0; q < 16; q++)
          s[q] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + q * ldb + p), s[q]);
      }
      if (last) {
        av = _mm512_maskz_loadu_ps(last, a + p);
#pragma GCC unroll 16
        for (q = 0; q < 16; q++)
          s[q] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(last,
                                 b + q * ldb + p), s[q]);
      }
      _mm512_storeu_ps(c + j, _mm512_fmadd_ps(_mm512_set1_ps(alpha),
                                              sum16(s), beta == 0.0f
                                              ? _mm512_setzero_ps()
                                              : _mm512_mul_ps(_mm512_set1_ps(beta),
                                                _mm512_loadu_ps(c + j))));
    }
    for (; j + 4 <= n; j += 4) {
      const float *b0 = B + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb;
      const float *b3 = b2 + ldb;
      __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, av;
      __m256 h0, h1, h2, h3, t;
      __m128 r;
      for (p = 0; p < kk; p += 16) {
        av = _mm512_loadu_ps(a + p);
        s0 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b0 + p), s0);
        s1 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b1 + p), s1);
        s2 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b2 + p), s2);
        s3 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b3 + p), s3);
      }
      if (last) {
        av = _mm512_maskz_loadu_ps(last, a + p);
        s0 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(last, b0 + p), s0);
        s1 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(last, b1 + p), s1);
        s2 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(last, b2 + p), s2);
        s3 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(last, b3 + p), s3);
      }
#define HALVES(z) _mm256_add_ps(_mm512_castps512_ps256(z), \
                                _mm512_extractf32x8_ps(z, 1))
      h0 = HALVES(s0); h1 = HALVES(s1); h2 = HALVES(s2); h3 = HALVES(s3);
#undef HALVES
      t = _mm256_hadd_ps(_mm256_hadd_ps(h0, h1), _mm256_hadd_ps(h2, h3));
      r = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
      _mm_storeu_ps(c + j, _mm_fmadd_ps(_mm_set1_ps(alpha), r,
                                        BETA4(beta, c + j)));
    }
    for (; j < n; j++)
      c[j] = (beta == 0.0f ? 0.0f : beta * c[j])
             + alpha * dot8_avx2(k, a, B + j * ldb);
  }
}

/* one row of C = alpha a B + beta C, a's elements `step` apart: four
** 16-wide strips (64 columns) side by side, so that four chains of
** multiply-adds run at once; each element summed as rows_avx512 does */
__attribute__((target("avx512f,avx512dq,avx2,fma")))
static void row_avx512(int64_t n, int64_t k, float alpha, const float *a,
                       int64_t step, const float *B, int64_t ldb, float beta,
                       float *c) {
  int64_t j, p;
  int q;
  for (j = 0; j < n; j += 64) {
    __mmask16 mk[4];
    __m512 acc[4];
#pragma GCC unroll 4
    for (q = 0; q < 4; q++) {
      int64_t w = n - j - 16 * q;
      mk[q] = w >= 16 ? (__mmask16)0xffff
            : w > 0 ? (__mmask16)((1u << w) - 1) : 0;
      acc[q] = beta == 0.0f ? _mm512_setzero_ps()
             : _mm512_mul_ps(_mm512_set1_ps(beta),
                             _mm512_maskz_loadu_ps(mk[q], c + j + 16 * q));
    }
    if (n - j <= 16)            /* one strip: no work on empty ones */
      for (p = 0; p < k; p++)
        acc[0] = _mm512_fmadd_ps(_mm512_set1_ps(alpha * a[p * step]),
                                 _mm512_maskz_loadu_ps(mk[0], B + p * ldb + j),
                                 acc[0]);
    else
      for (p = 0; p < k; p++) {
        __m512 av = _mm512_set1_ps(alpha * a[p * step]);
#pragma GCC unroll 4
        for (q = 0; q < 4; q++)
          acc[q] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(mk[q],
                                   B + p * ldb + j + 16 * q), acc[q]);
      }
#pragma GCC unroll 4
    for (q = 0; q < 4; q++)
      _mm512_mask_storeu_ps(c + j + 16 * q, mk[q], acc[q]);
  }
}

/* C[i,:] = alpha op(A)[i,:] B + beta C[i,:] with B's rows contiguous: a
** 16-wide strip of four rows of C stays in registers across all of k, so
** a row of B is loaded once for four rows and four chains of
** multiply-adds run side by side (one chain alone waits on its last add
** at every step).  The last m % 4 rows go one at a time, four strips
** side by side. */
__attribute__((target("avx512f,avx512dq,avx2,fma")))
static void rows_avx512(int ta, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *A, int64_t lda, const float *B,
                        int64_t ldb, float beta, float *C, int64_t ldc) {
  int64_t i, j, p, m4 = m & ~(int64_t)3;
  int q;
  for (j = 0; j < n; j += 16) {
    __mmask16 mk = n - j >= 16 ? (__mmask16)0xffff
                               : (__mmask16)((1u << (n - j)) - 1);
    for (i = 0; i < m4; i += 4) {
      __m512 acc[4];
#pragma GCC unroll 4
      for (q = 0; q < 4; q++)
        acc[q] = beta == 0.0f ? _mm512_setzero_ps()
               : _mm512_mul_ps(_mm512_set1_ps(beta),
                               _mm512_maskz_loadu_ps(mk, C + (i + q) * ldc + j));
      for (p = 0; p < k; p++) {
        __m512 b = _mm512_maskz_loadu_ps(mk, B + p * ldb + j);
#pragma GCC unroll 4
        for (q = 0; q < 4; q++) {
          float a = ta ? A[p * lda + i + q] : A[(i + q) * lda + p];
          acc[q] = _mm512_fmadd_ps(_mm512_set1_ps(alpha * a), b, acc[q]);
        }
      }
#pragma GCC unroll 4
      for (q = 0; q < 4; q++)
        _mm512_mask_storeu_ps(C + (i + q) * ldc + j, mk, acc[q]);
    }
  }
  for (i = m4; i < m; i++)
    row_avx512(n, k, alpha, ta ? A + i : A + i * lda, ta ? lda : 1, B, ldb,
               beta, C + i * ldc);
}
#endif

/* 2: AVX-512, 1: AVX2 and FMA, 0: neither: the level ann_simd.c chose
** (the best the CPU has, or $ANN_SIMD, or ann_simd_use), so that one
** switch serves every kernel and tests can try each */
static int simd(void) {
  const char *l = ann_simd_level();   /* "avx512", "avx2" or "scalar" */
  return l[0] != 'a' ? 0 : l[3] == '5' ? 2 : 1;
}

static void small_gemm(SMALL_ARGS) {
#ifdef HAVE_SMALL_AVX2
  int avx512 = simd() == 2, avx2 = simd() >= 1;
  if (avx512 && tb && !ta && k < 16 && n * k <= 1024) {
    /* x w^T with few inputs: the dot products would fill few of their 16
    ** lanes; the rows of w^T (made here, 4 KB at most) are used instead */
    float bt[1024];
    int64_t j, p;
    for (p = 0; p < k; p++)
      for (j = 0; j < n; j++) bt[p * n + j] = B[j * ldb + p];
    rows_avx512(0, m, n, k, alpha, A, lda, bt, n, beta, C, ldc);
    return;
  }
  if (avx2 && tb && !ta) {      /* the forward of a layer: x w^T */
    (avx512 ? dots_avx512 : dots_avx2)(m, n, k, alpha, A, lda, B, ldb, beta,
                                       C, ldc);
    return;
  }
  if (avx512 && !tb) {
    rows_avx512(ta, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (avx2) { small_gemm_avx2(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta,
                              C, ldc); return; }
#endif
  small_gemm_c(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- larger products without a BLAS: register tiles, no allocation ---
** C is made in tiles of MR rows by NR columns held in registers across a
** block of KC rows of op(B): per step two vector loads of B, MR broadcasts
** of A and 2 MR multiply-adds.  Blocks of 64 MR rows of op(A) (at most
** 256 KB) stay in L2, the KC x NR strip of op(B) in L1.  op(B) needs
** contiguous rows: B^T is copied a strip at a time into a panel on the
** stack (16 KB), so that nothing is allocated, here or anywhere on the
** gemm path.  AVX-512: 8 x 32 (16 of its 32 registers); AVX2: 6 x 16 (12
** of 16). */
#define KC 128
#define PANEL (KC * 32)

/* C[mr,nr] tile (mr <= MR, nr <= NR) = alpha op(A) op(B) + (first ? beta C
** : C), op(A)[q,p] at A[q*lda + p] (A[p*lda + q] if ta), op(B)[p,j] at
** B[p*ldb + j].  Rows past mr read row mr-1 again, the results dropped;
** the loops over rows are unrolled whole, so the tile stays in registers. */
typedef void (*Tile)(int ta, int64_t mr, int64_t nr, int64_t kc, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb,
                     int first, float beta, float *C, int64_t ldc);

#ifdef HAVE_SMALL_AVX2
#define MR5 8
__attribute__((target("avx512f,avx512dq,avx2,fma")))
static void tile_avx512(int ta, int64_t mr, int64_t nr, int64_t kc,
                        float alpha, const float *A, int64_t lda,
                        const float *B, int64_t ldb, int first, float beta,
                        float *C, int64_t ldc) {
  __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff
                          : (__mmask16)((1u << nr) - 1);
  __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff : nr > 16
                          ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
  const float *a[MR5];
  __m512 c0[MR5], c1[MR5];
  int64_t p, step = ta ? lda : 1;
  int q;
#pragma GCC unroll 8
  for (q = 0; q < MR5; q++) {
    int64_t r = q < mr ? q : mr - 1;
    a[q] = A + (ta ? r : r * lda);
    c0[q] = c1[q] = _mm512_setzero_ps();
  }
  for (p = 0; p < kc; p++) {
    __m512 b0 = _mm512_maskz_loadu_ps(m0, B + p * ldb);
    __m512 b1 = _mm512_maskz_loadu_ps(m1, B + p * ldb + 16);
#pragma GCC unroll 8
    for (q = 0; q < MR5; q++) {
      __m512 av = _mm512_set1_ps(a[q][p * step]);
      c0[q] = _mm512_fmadd_ps(av, b0, c0[q]);
      c1[q] = _mm512_fmadd_ps(av, b1, c1[q]);
    }
  }
#pragma GCC unroll 8
  for (q = 0; q < MR5; q++) {
    float *c = C + q * ldc;
    __m512 al = _mm512_set1_ps(alpha), o0, o1;
    if (q >= mr) break;
    o0 = _mm512_maskz_loadu_ps(m0, c); o1 = _mm512_maskz_loadu_ps(m1, c + 16);
    if (first && beta == 0.0f) o0 = o1 = _mm512_setzero_ps();  /* NaN too */
    else if (first && beta != 1.0f) {
      o0 = _mm512_mul_ps(_mm512_set1_ps(beta), o0);
      o1 = _mm512_mul_ps(_mm512_set1_ps(beta), o1);
    }
    _mm512_mask_storeu_ps(c, m0, _mm512_fmadd_ps(al, c0[q], o0));
    _mm512_mask_storeu_ps(c + 16, m1, _mm512_fmadd_ps(al, c1[q], o1));
  }
}

/* the same with 8-lane vectors and 6 rows; the last columns of a partial
** tile through masked loads and stores */
#define MR2 6
__attribute__((target("avx2,fma")))
static void tile_avx2(int ta, int64_t mr, int64_t nr, int64_t kc,
                      float alpha, const float *A, int64_t lda,
                      const float *B, int64_t ldb, int first, float beta,
                      float *C, int64_t ldc) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nr), lane);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nr - 8), lane);
  const float *a[MR2];
  __m256 c0[MR2], c1[MR2];
  int64_t p, step = ta ? lda : 1;
  int q;
#pragma GCC unroll 6
  for (q = 0; q < MR2; q++) {
    int64_t r = q < mr ? q : mr - 1;
    a[q] = A + (ta ? r : r * lda);
    c0[q] = c1[q] = _mm256_setzero_ps();
  }
  for (p = 0; p < kc; p++) {
    __m256 b0, b1;
    if (nr == 16) {
      b0 = _mm256_loadu_ps(B + p * ldb);
      b1 = _mm256_loadu_ps(B + p * ldb + 8);
    }
    else {
      b0 = _mm256_maskload_ps(B + p * ldb, m0);
      b1 = _mm256_maskload_ps(B + p * ldb + 8, m1);
    }
#pragma GCC unroll 6
    for (q = 0; q < MR2; q++) {
      __m256 av = _mm256_broadcast_ss(a[q] + p * step);
      c0[q] = _mm256_fmadd_ps(av, b0, c0[q]);
      c1[q] = _mm256_fmadd_ps(av, b1, c1[q]);
    }
  }
#pragma GCC unroll 6
  for (q = 0; q < MR2; q++) {
    float *c = C + q * ldc;
    __m256 al = _mm256_set1_ps(alpha), o0, o1;
    if (q >= mr) break;
    o0 = _mm256_maskload_ps(c, m0); o1 = _mm256_maskload_ps(c + 8, m1);
    if (first && beta == 0.0f) o0 = o1 = _mm256_setzero_ps();  /* NaN too */
    else if (first && beta != 1.0f) {
      o0 = _mm256_mul_ps(_mm256_set1_ps(beta), o0);
      o1 = _mm256_mul_ps(_mm256_set1_ps(beta), o1);
    }
    _mm256_maskstore_ps(c, m0, _mm256_fmadd_ps(al, c0[q], o0));
    _mm256_maskstore_ps(c + 8, m1, _mm256_fmadd_ps(al, c1[q], o1));
  }
}

/* C = alpha op(A) op(B) + beta C in tiles of mr x nr (at most 32 wide) */
static void blocked(Tile tile, int64_t mr, int64_t nr, int ta, int tb,
                    int64_t m, int64_t n, int64_t k, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc) {
  float panel[PANEL] __attribute__((aligned(64)));
  int64_t i, i0, j, p, p0, q, mc = 64 * mr;
  for (p0 = 0; p0 < k; p0 += KC) {
    int64_t kc = k - p0 < KC ? k - p0 : KC;
    for (i0 = 0; i0 < m; i0 += mc) {
      int64_t iend = m - i0 < mc ? m : i0 + mc;
      for (j = 0; j < n; j += nr) {
        int64_t w = n - j < nr ? n - j : nr, ld = ldb;
        const float *b = B + p0 * ldb + j;
        if (tb) {               /* op(B) strip = rows j.. of B, transposed */
          for (q = 0; q < w; q++)
            for (p = 0; p < kc; p++)
              panel[p * nr + q] = B[(j + q) * ldb + p0 + p];
          b = panel; ld = nr;
        }
        for (i = i0; i < iend; i += mr)
          tile(ta, iend - i < mr ? iend - i : mr, w, kc, alpha,
               ta ? A + p0 * lda + i : A + i * lda + p0, lda, b, ld,
               p0 == 0, beta, C + i * ldc + j, ldc);
      }
    }
  }
}
#endif

#ifdef HAVE_SMALL_AVX2
/* Large products on the compute threads (ann_pool.c): each takes a share
** of C's rows, whole tiles, and computes it as one thread would, so the
** result does not depend on the thread count.  When the pool is busy
** (another product, or this one runs inside a threaded job) it all runs
** on the calling thread. */
#define PAR_MNK ((int64_t)1 << 22)   /* 4M multiply-adds: ~20 us alone */

typedef struct Share {
  Tile tile;
  int64_t mr, nr, m, n, k, lda, ldb, ldc;
  int ta, tb;
  float alpha, beta;
  const float *A, *B;
  float *C;
} Share;

static void share(void *arg, int i, int nt) {
  const Share *s = arg;
  int64_t tiles = (s->m + s->mr - 1) / s->mr;
  int64_t r0 = tiles * i / nt * s->mr, r1 = tiles * (i + 1) / nt * s->mr;
  if (r1 > s->m) r1 = s->m;
  if (r0 < r1)
    blocked(s->tile, s->mr, s->nr, s->ta, s->tb, r1 - r0, s->n, s->k,
            s->alpha, s->ta ? s->A + r0 : s->A + r0 * s->lda, s->lda, s->B,
            s->ldb, s->beta, s->C + r0 * s->ldc, s->ldc);
}

static void tiled(Tile tile, int64_t mr, int64_t nr, int ta, int tb,
                  int64_t m, int64_t n, int64_t k, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb,
                  float beta, float *C, int64_t ldc) {
  Share s;
  int64_t tiles = (m + mr - 1) / mr;
  int nt = 1;
  if ((double)m * (double)n * (double)k >= (double)PAR_MNK) {
    nt = ann_pool_size();
    if (nt > tiles / 2) nt = (int)(tiles / 2);   /* two tiles each at least */
  }
  s.tile = tile; s.mr = mr; s.nr = nr; s.m = m; s.n = n; s.k = k;
  s.lda = lda; s.ldb = ldb; s.ldc = ldc; s.ta = ta; s.tb = tb;
  s.alpha = alpha; s.beta = beta; s.A = A; s.B = B; s.C = C;
  if (nt < 2 || ann_pool_run(share, &s, nt) != 0) share(&s, 0, 1);
}
#endif

/* C = beta*C, with beta == 0 clearing (NaN in C does not survive, as in
** BLAS) */
static void scale(int64_t m, int64_t n, float beta, float *C, int64_t ldc) {
  int64_t i, j;
  if (beta == 1.0f) return;
  for (i = 0; i < m; i++)
    for (j = 0; j < n; j++)
      C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

/* the built-in kernels, with or without a BLAS loaded: the same small
** products take the same path either way */
static void builtin_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k,
                         float alpha, const float *A, int64_t lda,
                         const float *B, int64_t ldb, float beta,
                         float *C, int64_t ldc) {
  if (alpha == 0.0f || k == 0) { scale(m, n, beta, C, ldc); return; }
#ifdef HAVE_SMALL_AVX2
  /* a panel of B^T pays off over several rows; below, dot products */
  if (!small(m, n, k) && (!tb || ta || m >= 8)) {
    int l = simd();
    if (l == 2) {
      tiled(tile_avx512, MR5, 32, ta, tb, m, n, k, alpha, A, lda, B, ldb,
            beta, C, ldc);
      return;
    }
    if (l == 1) {
      tiled(tile_avx2, MR2, 16, ta, tb, m, n, k, alpha, A, lda, B, ldb,
            beta, C, ldc);
      return;
    }
  }
#endif
  small_gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* C[m,n] = alpha op(A) op(B) + beta C on row-major storage; m, n > 0 */
static int kgemm(int ta, int tb, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float beta,
                 float *C, int64_t ldc) {
  if (k == 0 || small(m, n, k) || blas.sgemm == NULL || blas.builtin
      || !fits(m) || !fits(n) || !fits(k) || !fits(lda) || !fits(ldb)
      || !fits(ldc)) {
    builtin_gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    return 0;
  }
#ifndef ANN_NO_BLAS
  if (n == 1)                 /* a column of C: op(A) times a vector */
    gemv(ta, ta ? k : m, ta ? m : k, alpha, A, lda, B, tb ? 1 : ldb,
         beta, C, ldc);
  else if (m == 1)            /* a row of C: op(B)^T times a vector */
    gemv(!tb, tb ? n : k, tb ? k : n, alpha, B, ldb, A, ta ? lda : 1,
         beta, C, 1);
  else
    blas.sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans,
               (int)m, (int)n, (int)k, alpha, A, (int)lda, B, (int)ldb,
               beta, C, (int)ldc);
#endif
  return 0;
}

/* ---- the BLAS self-check ----------------------------------------------
** Older OpenBLAS builds compute wrong products on some new CPUs (a kernel
** picked for the wrong core).  At load, a few products above the small-
** product threshold (so that the BLAS runs them: each transpose pair, and
** the one-row and one-column gemv paths) are compared with the built-in
** kernels; an element off by more than 1e-4 of sum |a||b| over its dot
** product means the BLAS is dropped, and ann_config says why. */
static float checkval(uint32_t *x) {      /* [-1, 1), a fixed sequence */
  *x = *x * 1664525u + 1013904223u;
  return (float)(*x >> 8) / (float)(1u << 23) - 1.0f;
}

/* the BLAS is dropped (it stays mapped, unused) */
static void fail(const char *why, int named) {
  snprintf(blas.check, sizeof blas.check, "%s%s%s; using the built-in "
           "kernels", named ? blas.name : "", named ? " " : "", why);
  blas.sgemm = NULL; blas.sgemv = NULL;
  blas.set_threads = NULL; blas.get_threads = NULL; blas.stop_threads = NULL;
  blas.corename = NULL; blas.config = NULL;
  strcpy(blas.name, "builtin");
  snprintf(blas.core, sizeof blas.core, "%s", builtin_core());
}

static void selfcheck(void) {
  static const int cases[][5] = {   /* ta, tb, m, n, k */
    {0, 0, 37, 41, 53}, {1, 0, 64, 33, 70}, {0, 1, 40, 64, 48},
    {1, 1, 33, 37, 65}, {0, 0, 300, 1, 200}, {1, 0, 1, 250, 190},
    {0, 1, 1, 230, 170}
  };
  uint32_t x = 12345;
  size_t na = 300 * 200, i;     /* the largest operand */
  float *A, *B, *C, *R, *aA, *aB, *E;
  int c;
  if (blas.sgemm == NULL) { strcpy(blas.check, "none (built-in kernels)"); return; }
  A = ann_malloc(na * sizeof *A); B = ann_malloc(na * sizeof *B);
  aA = ann_malloc(na * sizeof *A); aB = ann_malloc(na * sizeof *B);
  C = ann_malloc(na * sizeof *C); R = ann_malloc(na * sizeof *R);
  E = ann_malloc(na * sizeof *E);
  if (!A || !B || !aA || !aB || !C || !R || !E) {
    fail("not run (no memory)", 0);   /* an unchecked BLAS is not used */
    goto done;
  }
  for (i = 0; i < na; i++) {
    A[i] = checkval(&x); B[i] = checkval(&x);
    aA[i] = fabsf(A[i]); aB[i] = fabsf(B[i]);
  }
  for (c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
    int ta = cases[c][0], tb = cases[c][1];
    int64_t m = cases[c][2], n = cases[c][3], k = cases[c][4], j;
    int64_t lda = ta ? m : k, ldb = tb ? k : n;
    for (j = 0; j < m * n; j++) C[j] = R[j] = 0;
    kgemm(ta, tb, m, n, k, 1.0f, A, lda, B, ldb, 0.0f, C, n);
    builtin_gemm(ta, tb, m, n, k, 1.0f, A, lda, B, ldb, 0.0f, R, n);
    builtin_gemm(ta, tb, m, n, k, 1.0f, aA, lda, aB, ldb, 0.0f, E, n);
    for (j = 0; j < m * n; j++) {
      double d = fabs((double)C[j] - R[j]);
      if (!(d <= 1e-4 * E[j] + 1e-6)) {
        char why[200];
        snprintf(why, sizeof why, "failed: it gave %g for %g (%s%s "
                 "%lldx%lldx%lld, element %lld)", (double)C[j], (double)R[j],
                 ta ? "T" : "N", tb ? "T" : "N", (long long)m, (long long)n,
                 (long long)k, (long long)j);
        fail(why, 1);
        goto done;
      }
    }
  }
  strcpy(blas.check, "passed");
done:
  ann_free(A); ann_free(B); ann_free(aA); ann_free(aB); ann_free(C);
  ann_free(R); ann_free(E);
}

/* Multiply-adds between two polls of the host's cancel callback: some
** milliseconds with a BLAS, some tens with the built-in kernels.  With a
** callback, C is computed in blocks of about this much work, near square
** so that each reads little of A and B; without one, in one call. */
#define CANCEL_WORK ((int64_t)1 << 27)

static int kgemm_polled(int ta, int tb, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float beta,
                        float *C, int64_t ldc) {
  int64_t pm, pn, i0, j0, side;
  if (ann_ctx()->o.cancel == NULL || k == 0
      || (double)m * (double)n * (double)k <= (double)CANCEL_WORK)
    return kgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  side = (int64_t)sqrt((double)CANCEL_WORK / (double)k);
  if (side < 16) side = 16;
  pm = m < side ? m : side;
  pn = n < side ? n : side;
  if (pm == m) pn = n < CANCEL_WORK / (m * k) ? n : CANCEL_WORK / (m * k);
  else if (pn == n) pm = m < CANCEL_WORK / (n * k) ? m : CANCEL_WORK / (n * k);
  if (pm < 1) pm = 1;
  if (pn < 1) pn = 1;
  for (i0 = 0; i0 < m; i0 += pm)
    for (j0 = 0; j0 < n; j0 += pn) {
      int64_t mi = m - i0 < pm ? m - i0 : pm, nj = n - j0 < pn ? n - j0 : pn;
      if (ann_poll("gemm") != 0) return -1;
      if (kgemm(ta, tb, mi, nj, k, alpha, ta ? A + i0 : A + i0 * lda, lda,
                tb ? B + j0 * ldb : B + j0, ldb, beta, C + i0 * ldc + j0,
                ldc) != 0)
        return -1;
    }
  return 0;
}

/* ---- 2-d views as BLAS operands ---------------------------------------- */

static int64_t max1(int64_t x) { return x > 1 ? x : 1; }

/* How t [r,c] can be handed to BLAS as is: rows one after another
** (*flip 0, ld = stride[0]) or a transposed view, whose columns are rows
** (*flip 1, ld = stride[1]).  The stride of a size-1 dim does not matter.
** 0 if neither (expanded or doubly strided views). */
static int layout(const ann_Tensor *t, int64_t *ld, int *flip) {
  int64_t r = t->shape[0], c = t->shape[1];
  if (c == 1 || t->stride[1] == 1) {
    *ld = r == 1 ? max1(c) : t->stride[0];
    *flip = 0;
    if (*ld >= max1(c)) return 1;
  }
  if (r == 1 || t->stride[0] == 1) {
    *ld = c == 1 ? max1(r) : t->stride[1];
    *flip = 1;
    if (*ld >= max1(r)) return 1;
  }
  return 0;
}

/* a contiguous copy of the 2-d view t */
static ann_Tensor *pack(const ann_Tensor *t) {
  ann_Tensor *p = ann_new(2, t->shape);
  const float *s;
  float *d;
  int64_t i, j;
  if (p == NULL) return NULL;
  s = ann_data(t); d = ann_data(p);
  for (i = 0; i < t->shape[0]; i++)
    for (j = 0; j < t->shape[1]; j++)
      d[i * t->shape[1] + j] = s[i * t->stride[0] + j * t->stride[1]];
  ncopies++;
  return p;
}

/* dst = src on two 2-d views of one shape */
static void copy2(ann_Tensor *dst, const ann_Tensor *src) {
  const float *s = ann_data(src);
  float *d = ann_data(dst);
  int64_t i, j;
  for (i = 0; i < dst->shape[0]; i++)
    for (j = 0; j < dst->shape[1]; j++)
      d[i * dst->stride[0] + j * dst->stride[1]] =
        s[i * src->stride[0] + j * src->stride[1]];
}

/* an operand ready for BLAS: t itself, or a packed copy held in *own */
typedef struct Operand { const float *p; int64_t ld; int flip; } Operand;

static int operand(const ann_Tensor *t, Operand *o, ann_Tensor **own) {
  *own = NULL;
  if (!layout(t, &o->ld, &o->flip)) {
    if ((*own = pack(t)) == NULL) return -1;
    t = *own;
    o->ld = max1(t->shape[1]); o->flip = 0;
  }
  o->p = ann_data(t);
  return 0;
}

/* C = alpha op(a) op(b) + beta C, shapes already checked */
static int gemm2(float alpha, const ann_Tensor *a, int ta,
                 const ann_Tensor *b, int tb, float beta, ann_Tensor *c) {
  int64_t m = c->shape[0], n = c->shape[1], k = a->shape[ta ? 0 : 1], ldc;
  ann_Tensor *ca = NULL, *cb = NULL, *tmp = NULL;
  Operand oa, ob;
  int st = -1, flip;
  if (m == 0 || n == 0) return 0;
  if (k == 0) {               /* C = beta C: the operands are not read */
    oa.p = ob.p = NULL; oa.ld = ob.ld = 1; oa.flip = ob.flip = 0;
  }
  else if (operand(a, &oa, &ca) || operand(b, &ob, &cb)) goto done;
  ta ^= oa.flip; tb ^= ob.flip;
  /* a C sharing storage with A or B, or not laid out for BLAS, is
  ** computed in a temporary and copied back */
  if (c->st == a->st || c->st == b->st || !layout(c, &ldc, &flip)) {
    if ((tmp = beta == 0.0f ? ann_new(2, c->shape) : pack(c)) == NULL)
      goto done;
    ldc = max1(n); flip = 0;
  }
  if (!flip)
    st = kgemm_polled(ta, tb, m, n, k, alpha, oa.p, oa.ld, ob.p, ob.ld, beta,
                      ann_data(tmp ? tmp : c), ldc);
  else                        /* C^T = op(B)^T op(A)^T */
    st = kgemm_polled(!tb, !ta, n, m, k, alpha, ob.p, ob.ld, oa.p, oa.ld,
                      beta, ann_data(c), ldc);
  if (st == 0 && tmp) copy2(c, tmp);
done:
  ann_release(ca); ann_release(cb); ann_release(tmp);
  return st;
}

/* ---- entry points ------------------------------------------------------ */

/* for the core's own fused code (ann_mlp.c): raw row-major operands,
** shapes known good; the same dispatch as ann_gemm */
int ann_gemm_raw(int ta, int tb, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *A, int64_t lda, const float *B,
                 int64_t ldb, float beta, float *C, int64_t ldc) {
  if (m == 0 || n == 0) return 0;
  return kgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

#define SHAPE(t, buf) ann_shapestr(t, buf, sizeof buf)

static int mismatch(const char *op, const ann_Tensor *a, const ann_Tensor *b,
                    int64_t x, int64_t y) {
  char sa[160], sb[160];
  return ann_seterror("%s: size mismatch, %s x %s (%lld ~= %lld)", op,
                      SHAPE(a, sa), SHAPE(b, sb), (long long)x, (long long)y);
}

static int nulls(const char *op, const void *a, const void *b) {
  if (a && b) return 0;
  return ann_seterror("%s: NULL tensor", op);
}

int ann_gemm(float alpha, const ann_Tensor *a, int transa,
             const ann_Tensor *b, int transb, float beta, ann_Tensor *c) {
  char sa[160], sb[160], sc[160];
  int64_t m, k, k2, n;
  ann_init();
  if (nulls("gemm", a, b) || nulls("gemm", c, c)) return -1;
  if (a->ndim != 2 || b->ndim != 2 || c->ndim != 2)
    return ann_seterror("gemm: expected 2-d tensors, got %s, %s and %s",
                        SHAPE(a, sa), SHAPE(b, sb), SHAPE(c, sc));
  transa = transa != 0; transb = transb != 0;
  m = a->shape[transa]; k = a->shape[!transa];
  k2 = b->shape[transb]; n = b->shape[!transb];
  if (k != k2)
    return ann_seterror("gemm: size mismatch, %s%s x %s%s (%lld ~= %lld)",
                        SHAPE(a, sa), transa ? "^T" : "", SHAPE(b, sb),
                        transb ? "^T" : "", (long long)k, (long long)k2);
  if (c->shape[0] != m || c->shape[1] != n)
    return ann_seterror("gemm: result is %s, expected [%lld,%lld]",
                        SHAPE(c, sc), (long long)m, (long long)n);
  return gemm2(alpha, a, transa, b, transb, beta, c);
}

/* mm, mv, dot: a has nda dims and b ndb, a's last matching b's first */
static int check_product(const char *op, const char *want,
                         const ann_Tensor *a, int nda,
                         const ann_Tensor *b, int ndb) {
  char sa[160], sb[160];
  ann_init();
  if (nulls(op, a, b)) return -1;
  if (a->ndim != nda || b->ndim != ndb)
    return ann_seterror("%s: expected %s, got %s and %s", op, want,
                        SHAPE(a, sa), SHAPE(b, sb));
  if (a->shape[nda - 1] != b->shape[0])
    return mismatch(op, a, b, a->shape[nda - 1], b->shape[0]);
  return 0;
}

ann_Tensor *ann_mm(const ann_Tensor *a, const ann_Tensor *b) {
  int64_t shape[2];
  ann_Tensor *c;
  if (check_product("mm", "2-d tensors", a, 2, b, 2) < 0) return NULL;
  shape[0] = a->shape[0]; shape[1] = b->shape[1];
  if ((c = ann_new(2, shape)) != NULL && gemm2(1, a, 0, b, 0, 0, c) != 0) {
    ann_release(c);
    return NULL;
  }
  return c;
}

/*
** matmul, by PyTorch's rules: a 1-d left operand is a row [1,k] and a 1-d
** right one a column [k,1], their unit dim dropped from the result; a 3-d
** operand is a batch of matrices, the batch dims broadcast, a 2-d operand
** shared by the whole batch.  Each operand becomes a 2-d header (on the
** stack, no references) moved along the batch by its batch stride.
*/
typedef struct Batched {
  ann_Tensor m;         /* the first matrix */
  int64_t n, stride;    /* batch size and stride (n 1 when not batched) */
} Batched;

static void as_batched(const ann_Tensor *t, int right, Batched *b) {
  b->m = *t;
  b->m.ndim = 2;
  b->n = 1; b->stride = 0;
  if (t->ndim == 1) {         /* row [1,k] or column [k,1] */
    int d = right ? 0 : 1;
    b->m.shape[d] = t->shape[0]; b->m.stride[d] = t->stride[0];
    b->m.shape[!d] = 1; b->m.stride[!d] = 1;
  }
  else if (t->ndim == 3) {
    b->n = t->shape[0]; b->stride = t->stride[0];
    b->m.shape[0] = t->shape[1]; b->m.stride[0] = t->stride[1];
    b->m.shape[1] = t->shape[2]; b->m.stride[1] = t->stride[2];
  }
}

static ann_Tensor *matmul_batched(const ann_Tensor *a, const ann_Tensor *b) {
  Batched ba, bb;
  ann_Tensor out, *r;
  int64_t shape[3], nb, i, m, n;
  int nd = 0;
  as_batched(a, 0, &ba); as_batched(b, 1, &bb);
  if (ba.m.shape[1] != bb.m.shape[0])
    return mismatch("matmul", a, b, ba.m.shape[1], bb.m.shape[0]), NULL;
  if (ba.n != bb.n && ba.n != 1 && bb.n != 1) {
    char sa[160], sb[160];
    return ann_seterror("matmul: batch sizes differ, %s x %s (%lld ~= %lld)",
                        SHAPE(a, sa), SHAPE(b, sb), (long long)ba.n,
                        (long long)bb.n), NULL;
  }
  nb = ba.n == 1 ? bb.n : ba.n;
  m = ba.m.shape[0]; n = bb.m.shape[1];
  /* a batch over a shared right matrix whose rows follow each other
  ** across the batch is one tall matrix: one gemm instead of nb */
  if (a->ndim == 3 && bb.n == 1 && (nb <= 1 || m <= 1
      || ba.stride == m * ba.m.stride[0])) {
    ba.m.shape[0] = m * nb;
    if (m <= 1) ba.m.stride[0] = ba.stride;   /* rows are batch entries */
    m *= nb; nb = 1;
  }
  if (a->ndim == 3 || b->ndim == 3) shape[nd++] = ba.n == 1 ? bb.n : ba.n;
  if (a->ndim >= 2) shape[nd++] = a->shape[a->ndim - 2];
  if (b->ndim >= 2) shape[nd++] = b->shape[b->ndim - 1];
  if ((r = ann_new(nd, shape)) == NULL) return NULL;
  out = *r;                   /* [m,n] matrices, one after another */
  out.ndim = 2;
  out.shape[0] = m; out.shape[1] = n;
  out.stride[0] = max1(n); out.stride[1] = 1;
  for (i = 0; i < nb; i++) {
    ann_Tensor ma = ba.m, mb = bb.m;
    if (ba.n > 1) ma.offset += i * ba.stride;
    if (bb.n > 1) mb.offset += i * bb.stride;
    out.offset = i * m * n;
    if (gemm2(1, &ma, 0, &mb, 0, 0, &out) != 0) {
      ann_release(r);
      return NULL;
    }
  }
  return r;
}

ann_Tensor *ann_matmul(const ann_Tensor *a, const ann_Tensor *b) {
  char sa[160], sb[160];
  ann_init();
  if (nulls("matmul", a, b)) return NULL;
  if (a->ndim < 1 || a->ndim > 3 || b->ndim < 1 || b->ndim > 3)
    return ann_seterror("matmul: expected 1-d, 2-d or 3-d tensors, "
                        "got %s and %s", SHAPE(a, sa), SHAPE(b, sb)), NULL;
  return matmul_batched(a, b);
}

ann_Tensor *ann_mv(const ann_Tensor *a, const ann_Tensor *v) {
  if (check_product("mv", "a 2-d and a 1-d tensor", a, 2, v, 1) < 0)
    return NULL;
  return matmul_batched(a, v);
}

ann_Tensor *ann_dot(const ann_Tensor *a, const ann_Tensor *b) {
  if (check_product("dot", "1-d tensors", a, 1, b, 1) < 0) return NULL;
  return matmul_batched(a, b);
}

ann_Tensor *ann_outer(const ann_Tensor *u, const ann_Tensor *v) {
  char su[160], sv[160];
  int64_t shape[2], i, j;
  const float *pu, *pv;
  float *r;
  ann_Tensor *t;
  ann_init();
  if (nulls("outer", u, v)) return NULL;
  if (u->ndim != 1 || v->ndim != 1)
    return ann_seterror("outer: expected 1-d tensors, got %s and %s",
                        SHAPE(u, su), SHAPE(v, sv)), NULL;
  shape[0] = u->shape[0]; shape[1] = v->shape[0];
  if ((t = ann_new(2, shape)) == NULL) return NULL;
  pu = ann_data(u); pv = ann_data(v); r = ann_data(t);
  for (i = 0; i < shape[0]; i++)
    for (j = 0; j < shape[1]; j++)
      r[i * shape[1] + j] = pu[i * u->stride[0]] * pv[j * v->stride[0]];
  return t;
}
