/*
** ann_impl.h: helpers shared by the core's .c files; not installed.
*/
#ifndef ann_impl_h
#define ann_impl_h

#include <stdatomic.h>
#include <stdio.h>

#include "ann.h"

#define ANN_ALIGN 64

/* a loop function compiled for AVX-512, AVX2+FMA and plain x86-64 and
** vectorised, the best picked when the library loads.  -DANN_NO_CLONES
** builds one version: ThreadSanitizer's runtime is not up yet when the
** loader runs the picking functions (ifunc resolvers), and they crash. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(ANN_NO_CLONES)
#define ANN_CLONES __attribute__((target_clones("avx512f", "avx2", \
  "default"), optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define ANN_CLONES
#endif

/* ---- contexts (ann_ctx.c) --------------------------------------------
** The storage cache of ann_tensor.c, one per context: blocks kept by exact
** size (large ones, the most recent first; small ones in a list per size)
** and tensor headers.  Cached blocks are held by the context and count
** against its limit. */
#define ANN_CACHE_N 32
#define ANN_HEADERS_N 256
#define ANN_SMALL_N 256
typedef struct ann_Cache {
  ann_Storage *blk[ANN_CACHE_N];   /* oldest first */
  int n, nh;
  size_t bytes;
  ann_Tensor *hdr[ANN_HEADERS_N];
  void *bin[ANN_SMALL_N + 1];      /* small blocks by floats */
  size_t smallbytes;
  atomic_flag lock;
} ann_Cache;

struct ann_Ctx {
  ann_CtxOpts o;
  _Atomic int64_t held;        /* bytes of live and cached blocks */
  _Atomic int64_t host;        /* the host's (ann_ctx_account): one writer */
  _Atomic int64_t refs;        /* the owner's and one per block alive */
  _Atomic uint64_t allocated;  /* storage bytes handed out, only grows */
  _Atomic int64_t live;        /* storage bytes in tensors now */
  _Atomic int closed;          /* ann_ctx_free called: cache nothing more */
  int isdefault;
  int grad_off;                /* grad mode (the default context's is per thread) */
  int seeded;
  uint64_t rng[4];             /* ann_rand.c */
  int (*onlimit)(void *ud);    /* ann_ctx_onlimit */
  void *onlimit_ud;
  int64_t quota;               /* with quota_on: elements new storage may */
  int quota_on;                /* still take (ann_ctx_quota) */
  ann_Cache cache;             /* ann_tensor.c */
};

/* the current context (the default one when none was set).  Read on
** every allocation: the initial-exec model makes that one load from the
** thread pointer, also in a shared library (a few bytes of static TLS) */
#if defined(__GNUC__)
#define ANN_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define ANN_TLS _Thread_local
#endif
extern ANN_TLS ann_Ctx *ann_cur;
extern ann_Ctx ann_default_ctx;
static inline ann_Ctx *ann_ctx(void) {
  return ann_cur ? ann_cur : &ann_default_ctx;
}
/* the core's malloc/calloc/realloc/free: from the current context, with
** a header naming it; on failure NULL and "not enough memory ..." */
void *ann_malloc(size_t n);
void *ann_calloc(size_t n, size_t size);
void *ann_realloc(void *p, size_t n);
void ann_free(void *p);
ann_Ctx *ann_block_ctx(const void *p);      /* the context p was made in */
/* sets "op: <the allocation's message>" and returns -1 */
int ann_nomem(const char *op);
/* ann_tensor.c: frees c's cached storage and headers */
void ann_cache_flush(ann_Ctx *c);

/* ---- files through the context (ann_ctx.c) ----------------------------
** ann_file_check: -1 and "path: file access is disabled by the host" under
** ANN_FILES_NONE, else 0.  ann_file_slurp: the whole file (at most max
** bytes when max > 0) in *buf from the current context, a NUL after the
** *len bytes, inflated when gz is set and it starts as gzip; through the
** host's io under ANN_FILES_IO; polls between chunks; errors name the
** path, never the content.  ann_file_wopen (ANN_FILES_IO only): a stdio
** stream writing through io.write, closed by fclose through io.close. */
int ann_file_check(const char *path);
int ann_file_io(void);
/* the whole file (gzip undone when gz); max bounds the bytes read and the
** bytes inflated (0: no bound) */
int ann_file_slurp(const char *path, int gz, size_t max, char **buf,
                   size_t *len);
/* o's limits with the defaults for 0s (NULL: the defaults) */
ann_ReadOpts ann_read_limits(const ann_ReadOpts *o);
/* -1 with "path: n elements, more than m (the max_elements limit)" when
** n > max */
int ann_check_elements(const char *path, int64_t n, int64_t max);
FILE *ann_file_wopen(const char *path);
/* a new temporary file beside path, .<name>.ann-tmp-<pid>[-<k>], created
** exclusively after the temp files of path left by dead processes are
** removed (ann_file.c, docs/file-format.md): an fd, its name in *tmp
** (ann_free it); -1 with errno and *tmp NULL */
int ann_file_temp(const char *path, char **tmp);

/* a new tensor header with fresh contiguous storage (ann_tensor.c) */
ann_Tensor *ann_new(int ndim, const int64_t *shape);
/* a new header viewing t's storage (refs taken), shape/stride copied */
ann_Tensor *ann_new_view(const ann_Tensor *t);
void ann_contig_strides(int ndim, const int64_t *shape, int64_t *stride);
/* Every tensor's shape keeps the product of its dims (a 0 dim counted as 1)
** at most ANN_MAX_NUMEL, so numel, strides, outer/inner products and byte
** counts (x8 for double accumulators) never overflow int64, whatever
** multiplies them; views (expand) are held to it as well as storage.
** ann_shape_numel checks a shape: its numel, or -1 with
** "op: shape [..] has too many elements (at most 2^60)" or a negative dim */
#define ANN_MAX_NUMEL ((int64_t)1 << 60)
int64_t ann_shape_numel(const char *op, int ndim, const int64_t *shape);
/* checks 0 <= d < ndim, else sets "op: dim d out of range for [..]" */
int ann_checkdim(const char *op, const ann_Tensor *t, int d);
/* refuses (with "op: tensor [..] is expanded ...") a tensor that has a dim
** of size > 1 and stride 0: a write would hit elements twice (ann_view.c) */
int ann_checkwritable(const char *op, const ann_Tensor *t);
/* a new header on t's storage with the given offset, shape and strides;
** dims past ndim are cleared (ann_view.c) */
ann_Tensor *ann_restride(const ann_Tensor *t, int64_t offset, int ndim,
                         const int64_t *shape, const int64_t *stride);
/* ---- autograd internals (ann_autograd.c), shared by ann_grad_*.c ----- */
/* frees a tensor's graph node; long chains are freed without deep recursion */
void ann_node_free(struct ann_Node *n);
/* t itself (retained) if contiguous, else a contiguous copy */
ann_Tensor *ann_ag_contig(const ann_Tensor *t);
/* ann_ag_accumulate that consumes g, a tensor on the heap, and may keep
** it as t's grad without a copy */
int ann_ag_take(ann_Tensor *t, ann_Tensor *g);
/* dst += src, src broadcast to dst's shape */
void ann_ag_addto(ann_Tensor *dst, const ann_Tensor *src);

/* ---- SIMD kernels (ann_simd.c): contiguous runs; y may alias an input.
** One table per level (AVX-512, AVX2+FMA, scalar), chosen once at run time. */
typedef void (*ann_KBin)(int64_t n, const float *a, const float *b, float *y);
typedef void (*ann_KSca)(int64_t n, const float *a, float s, float *y);
typedef void (*ann_KUn)(int64_t n, const float *a, float *y);
typedef struct ann_Kernels {
  const char *level;        /* "avx512", "avx2" or "scalar" */
  ann_KBin vv[4];           /* ADD..DIV: y = a op b */
  ann_KSca vs[4];           /* y = a op s */
  ann_KSca sv[4];           /* y = s op a */
  ann_KSca axpy;            /* y = y + s*a */
  ann_KUn un[ANN_NUNOP];    /* by ann_UnOp (log is libm everywhere) */
  double (*sum)(int64_t n, const float *a);              /* in double */
  double (*sqdev)(int64_t n, const float *a, double m);  /* sum (a-m)^2 */
} ann_Kernels;
const ann_Kernels *ann_kernels(void);
const char *ann_simd_level(void);
int ann_simd_use(const char *level);  /* force a level (tests); -1 if unsupported */

/* ann_pool.c: fn(arg, i, n) on threads i = 0 (the caller) .. n - 1, back
** when all are done; -1 without running it if the n threads cannot be had
** now (another job runs, n > ann_pool_size()).  Inside, ann_pool_barrier(n)
** waits for all n.  The size: ann_get_num_threads(), at most the cores. */
typedef void (*ann_PoolFn)(void *arg, int i, int n);
int ann_pool_run(ann_PoolFn fn, void *arg, int n);
void ann_pool_barrier(int n);
int ann_pool_size(void);
void ann_pool_stop(void);         /* ann_shutdown: workers ended, joined */

/* ann_cpu.c: what the CPU and OS support (0 off x86) */
int ann_cpu_avx2(void);          /* AVX2 + FMA, YMM state saved by the OS */
int ann_cpu_avx512(void);        /* AVX-512 F/BW/DQ/VL, ZMM state saved */
const char *ann_cpu_coretype(void); /* "SKYLAKEX", "HASWELL" or NULL */
int ann_cpu_flush_denormal(void);   /* FTZ and DAZ on in this thread? */
/* ann_blas.c, for tests: operands ann_gemm/ann_mv copied to contiguous
** so far; and a switch to the built-in kernels instead of the BLAS */
int64_t ann_blas_copies(void);
void ann_blas_use_builtin(int on);
void ann_blas_serial(int on);    /* one BLAS thread while on */
/* C = alpha op(A) op(B) + beta C on raw row-major operands whose shapes
** are known good (ann_mlp.c); tiny products skip the BLAS */
int ann_gemm_raw(int ta, int tb, int64_t m, int64_t n, int64_t k,
                 float alpha, const float *A, int64_t lda, const float *B,
                 int64_t ldb, float beta, float *C, int64_t ldc);

/* ann_mlp.c: a stack of linear layers and activations as its forward
** kernel sees it, shared by the fused path (ann_Mlp) and loaded models
** (ann_model.c), so that both give the same bits */
#define ANN_MLP_MAXL 32
typedef struct ann_MlpNet {
  int n;                             /* layers, 1 to ANN_MLP_MAXL */
  const float *w[ANN_MLP_MAXL];      /* [out,in] row-major */
  const float *b[ANN_MLP_MAXL];      /* [out], or NULL */
  int act[ANN_MLP_MAXL];             /* ann_Act */
  float slope[ANN_MLP_MAXL];         /* of LeakyReLU, >= 0 */
  int64_t width[ANN_MLP_MAXL + 1];   /* [0] inputs, [l+1] outputs of l */
  int64_t maxw;                      /* the widest */
} ann_MlpNet;
/* floats of scratch ann_mlp_run needs for `rows` rows; -1 if too many */
int64_t ann_mlp_scratch(const ann_MlpNet *net, int64_t rows);
/* out [rows, outputs] = the network on x [rows, inputs], all row-major,
** with the caller's scratch (ann_mlp_scratch floats, 64-byte aligned; out
** must not overlap x).  It only reads net: threads may share it. */
int ann_mlp_run(const ann_MlpNet *net, const float *x, int64_t rows,
                float *out, float *scratch);

/*
** Strided walk over n operands sharing one shape (broadcast operands carry
** stride 0).  Dims that are contiguous with each other in every operand are
** merged, so a contiguous tensor is one run.  Usage:
**   ann_Loop l; ann_loop_init(&l, 2, t->ndim, t->shape, strides);
**   do { float *x = base0 + l.off[0]; ... run of l.len, steps l.step[k] }
**   while (ann_loop_next(&l));
** A long walk (a reduction, an elementwise op) calls ann_loop_poll(&l, op)
** after init: runs are then cut into chunks of at most ANN_LOOP_CHUNK
** elements and the host's cancel is polled every ANN_LOOP_POLL elements;
** when it stops the walk, next returns 0 with l.stop set and the error
** "op: cancelled by the host": the caller must check l.stop.
*/
#define ANN_LOOP_CHUNK ((int64_t)1 << 16)
#define ANN_LOOP_POLL ((int64_t)1 << 24)
#define ANN_LOOPMAX 4
typedef struct ann_Loop {
  int n, ndim;                           /* operands, dims after merging */
  int64_t shape[ANN_MAXDIM];
  int64_t stride[ANN_LOOPMAX][ANN_MAXDIM];
  int64_t idx[ANN_MAXDIM];               /* position in the outer dims */
  int64_t off[ANN_LOOPMAX];              /* element offset of this run */
  int64_t len;                           /* run length (innermost dim) */
  int64_t step[ANN_LOOPMAX];             /* innermost stride per operand */
  int empty;
  const char *op;                        /* polled walks: the op; else NULL */
  int64_t inner, left;                   /* chunk start, elements to a poll */
  int stop;                              /* cancelled */
} ann_Loop;
int ann_loop_chunk(ann_Loop *l);         /* ann_tensor.c */

static inline void ann_loop_init(ann_Loop *l, int n, int ndim,
                                 const int64_t *shape,
                                 const int64_t *const *strides) {
  int i, k, m = 0;
  l->n = n; l->empty = 0; l->op = NULL; l->stop = 0;
  for (i = 0; i < ndim; i++) {
    if (shape[i] == 0) l->empty = 1;
    if (shape[i] == 1) continue;         /* size-1 dims don't move */
    if (m > 0) {                         /* merge with previous if contiguous */
      int ok = 1;
      for (k = 0; k < n; k++)
        if (l->stride[k][m-1] != strides[k][i] * shape[i]) { ok = 0; break; }
      if (ok) {
        l->shape[m-1] *= shape[i];
        for (k = 0; k < n; k++) l->stride[k][m-1] = strides[k][i];
        continue;
      }
    }
    l->shape[m] = shape[i];
    for (k = 0; k < n; k++) l->stride[k][m] = strides[k][i];
    m++;
  }
  if (m == 0) {                          /* scalar or all size 1 */
    l->shape[0] = 1;
    for (k = 0; k < n; k++) l->stride[k][0] = 0;
    m = 1;
  }
  l->ndim = m;
  for (i = 0; i < m; i++) l->idx[i] = 0;
  for (k = 0; k < n; k++) { l->off[k] = 0; l->step[k] = l->stride[k][m-1]; }
  l->len = l->shape[m-1];
}

static inline void ann_loop_poll(ann_Loop *l, const char *op) {
  l->op = op; l->inner = 0; l->left = ANN_LOOP_POLL;
  if (l->len > ANN_LOOP_CHUNK) l->len = ANN_LOOP_CHUNK;
}

/* t's strides seen with ndim >= t->ndim dims, aligned from the right as
** in broadcasting: 0 on new dims and on t's dims of size 1 */
static inline void ann_bstrides(const ann_Tensor *t, int ndim, int64_t *st) {
  int i, k = ndim - t->ndim;
  for (i = 0; i < ndim; i++)
    st[i] = (i < k || t->shape[i - k] == 1) ? 0 : t->stride[i - k];
}

/* advances to the next run; 0 when done */
static inline int ann_loop_next(ann_Loop *l) {
  int i, k;
  if (l->op) {      /* polled: a whole run that needs no poll stays inline */
    l->left -= l->len;
    if ((l->left <= 0 || l->len != l->shape[l->ndim - 1]) && ann_loop_chunk(l))
      return !l->stop;
  }
  for (i = l->ndim - 2; i >= 0; i--) {
    if (++l->idx[i] < l->shape[i]) {
      for (k = 0; k < l->n; k++) l->off[k] += l->stride[k][i];
      return 1;
    }
    l->idx[i] = 0;
    for (k = 0; k < l->n; k++)
      l->off[k] -= l->stride[k][i] * (l->shape[i] - 1);
  }
  return 0;
}

#endif
