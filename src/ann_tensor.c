/*
** ann_tensor.c: errors, storage, tensor headers, creation.
*/
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ann_impl.h"

/* ---- errors ------------------------------------------------------------ */

static _Thread_local char errbuf[512];

const char *ann_error(void) { return errbuf; }

int ann_seterror(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, sizeof errbuf, fmt, ap);
  va_end(ap);
  return -1;
}

char *ann_shapestr(const ann_Tensor *t, char *buf, size_t size) {
  size_t n = 0;
  int i;
  n += snprintf(buf + n, size - n, "[");
  for (i = 0; i < t->ndim && n < size; i++)
    n += snprintf(buf + n, size - n, i ? ",%lld" : "%lld",
                  (long long)t->shape[i]);
  if (n < size) snprintf(buf + n, size - n, "]");
  return buf;
}

int ann_checkdim(const char *op, const ann_Tensor *t, int d) {
  char s[128];
  if (d < 0 || d >= t->ndim)
    return ann_seterror("%s: dim %d out of range for %s", op, d + 1,
                        ann_shapestr(t, s, sizeof s));
  return 0;
}

/* ---- memory ------------------------------------------------------------ */

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud; (void)osize;
  if (nsize == 0) { free(ptr); return NULL; }
  return realloc(ptr, nsize);
}

static ann_Alloc allocf = default_alloc;
static void *alloc_ud = NULL;
static _Atomic uint64_t allocated;
static _Atomic int64_t live;

/* ---- a cache of freed storage ---------------------------------------------
** A training loop frees and allocates the same sizes at every step.  Giving
** those blocks back saves malloc and free and, for large blocks, the page
** faults of fresh memory (glibc hands big blocks back to the OS at free).
** Blocks are kept by exact size, the most recent first, at most CACHE_N of
** them and CACHE_BYTES in all; the oldest goes when a new one needs room.
** Cached blocks are not live (ann_live_bytes) and count again in
** ann_allocated when reused, so the collector's accounting is unchanged.
** Headers are kept too.  A spin lock guards both: the core may be used
** from several threads, and the critical sections are a few loads. */
#define CACHE_N 32
#define CACHE_BYTES ((size_t)32 << 20)
#define HEADERS_N 256

/* Small blocks (up to SMALL_N floats) are kept apart, a list per size, up
** to SMALL_BYTES in all: a loop that makes a small tensor per call (one
** inference of a small network) has them freed by the collector a few
** hundred at a time, more than the cache above holds, and each would go
** back to malloc. */
#define SMALL_N 256
#define SMALL_BYTES ((size_t)4 << 20)

typedef struct Block {        /* a storage as storage_new allocates it */
  ann_Storage s;
  struct Block *next;         /* in a list of small blocks, while cached */
} Block;

static struct {
  ann_Storage *blk[CACHE_N];      /* oldest first */
  int n, nh;
  size_t bytes;
  ann_Tensor *hdr[HEADERS_N];
  Block *bin[SMALL_N + 1];        /* small blocks by floats */
  size_t smallbytes;
  atomic_flag lock;
} cache = {.lock = ATOMIC_FLAG_INIT};

static void lock(void) {
  while (atomic_flag_test_and_set_explicit(&cache.lock, memory_order_acquire))
    ;
}
static void unlock(void) {
  atomic_flag_clear_explicit(&cache.lock, memory_order_release);
}

static void block_free(ann_Storage *s) {
  allocf(alloc_ud, s->raw, s->rawsize, 0);
  free(s);
}

/* floats of a block of `bytes` (storage_new's size), if it is small */
static size_t small_n(size_t bytes) {
  size_t n = (bytes - ANN_ALIGN) / sizeof(float);
  return n <= SMALL_N ? n : SIZE_MAX;
}

/* a cached block of exactly `bytes`, or NULL */
static ann_Storage *cache_take(size_t bytes) {
  ann_Storage *s = NULL;
  size_t sn = small_n(bytes);
  int i;
  if (sn != SIZE_MAX) {
    Block *b;
    lock();
    if ((b = cache.bin[sn]) != NULL) {
      cache.bin[sn] = b->next;
      cache.smallbytes -= bytes;
    }
    unlock();
    return b ? &b->s : NULL;
  }
  lock();
  for (i = cache.n - 1; i >= 0; i--)
    if (cache.blk[i]->rawsize == bytes) {
      s = cache.blk[i];
      memmove(cache.blk + i, cache.blk + i + 1,
              (size_t)(cache.n - i - 1) * sizeof *cache.blk);
      cache.n--;
      cache.bytes -= bytes;
      break;
    }
  unlock();
  return s;
}

/* keeps s for reuse, or frees it (and any older block pushed out) */
static void cache_put(ann_Storage *s) {
  ann_Storage *out[CACHE_N + 1];
  int nout = 0, i;
  size_t sn = small_n(s->rawsize);
  if (sn != SIZE_MAX) {
    Block *b = (Block *)s;        /* storage_new made it a Block */
    lock();
    if (cache.smallbytes + s->rawsize <= SMALL_BYTES) {
      b->next = cache.bin[sn];
      cache.bin[sn] = b;
      cache.smallbytes += s->rawsize;
      b = NULL;
    }
    unlock();
    if (b) block_free(s);
    return;
  }
  if (s->rawsize > CACHE_BYTES / 4) { block_free(s); return; }
  lock();
  while (cache.n > 0 && (cache.n == CACHE_N
                         || cache.bytes + s->rawsize > CACHE_BYTES)) {
    out[nout++] = cache.blk[0];
    cache.bytes -= cache.blk[0]->rawsize;
    memmove(cache.blk, cache.blk + 1, (size_t)--cache.n * sizeof *cache.blk);
  }
  cache.blk[cache.n++] = s;
  cache.bytes += s->rawsize;
  unlock();
  for (i = 0; i < nout; i++) block_free(out[i]);
}

/* frees every cached block, through the allocator that made it */
static void cache_flush(void) {
  size_t i;
  lock();
  while (cache.n > 0) block_free(cache.blk[--cache.n]);
  cache.bytes = 0;
  for (i = 0; i <= SMALL_N; i++)
    while (cache.bin[i]) {
      Block *b = cache.bin[i];
      cache.bin[i] = b->next;
      block_free(&b->s);
    }
  cache.smallbytes = 0;
  unlock();
}

void ann_empty_cache(void) {
  cache_flush();
  lock();
  while (cache.nh > 0) free(cache.hdr[--cache.nh]);
  unlock();
}

void ann_setallocf(ann_Alloc f, void *ud) {
  cache_flush();
  allocf = f ? f : default_alloc;
  alloc_ud = f ? ud : NULL;
}

uint64_t ann_allocated(void) { return allocated; }
int64_t ann_live_bytes(void) { return live; }

static ann_Storage *storage_new(int64_t n) {
  ann_Storage *s;
  size_t bytes;
  if (n < 0 || (uint64_t)n > (SIZE_MAX - ANN_ALIGN) / sizeof(float)) {
    ann_seterror("tensor: %lld elements is too many", (long long)n);
    return NULL;
  }
  bytes = (size_t)n * sizeof(float) + ANN_ALIGN;
  if ((s = cache_take(bytes)) != NULL) {
    s->n = n;
    s->refs = 1;
    allocated += bytes;
    live += (int64_t)bytes;
    return s;
  }
  s = malloc(sizeof(Block));
  if (s == NULL) { ann_seterror("tensor: out of memory"); return NULL; }
  s->raw = allocf(alloc_ud, NULL, 0, bytes);
  if (s->raw == NULL) {
    free(s);
    ann_seterror("tensor: out of memory allocating %lld floats", (long long)n);
    return NULL;
  }
  s->data = (float *)(((uintptr_t)s->raw + ANN_ALIGN - 1)
                      & ~(uintptr_t)(ANN_ALIGN - 1));
  s->n = n;
  s->rawsize = bytes;
  s->refs = 1;
  allocated += bytes;
  live += (int64_t)bytes;
  return s;
}

static void storage_release(ann_Storage *s) {
  if (s && --s->refs == 0) {
    live -= (int64_t)s->rawsize;
    cache_put(s);
  }
}

/* ---- headers ----------------------------------------------------------- */

void ann_contig_strides(int ndim, const int64_t *shape, int64_t *stride) {
  int64_t s = 1;
  int i;
  for (i = ndim - 1; i >= 0; i--) { stride[i] = s; s *= shape[i]; }
}

static ann_Tensor *header_new(void) {
  ann_Tensor *t = NULL;
  lock();
  if (cache.nh > 0) t = cache.hdr[--cache.nh];
  unlock();
  if (t) memset(t, 0, sizeof *t);
  else if ((t = calloc(1, sizeof *t)) == NULL) {
    ann_seterror("tensor: out of memory");
    return NULL;
  }
  t->refs = 1;
  return t;
}

static void header_free(ann_Tensor *t) {
  lock();
  if (cache.nh < HEADERS_N) { cache.hdr[cache.nh++] = t; t = NULL; }
  unlock();
  free(t);
}

ann_Tensor *ann_new(int ndim, const int64_t *shape) {
  ann_Tensor *t;
  int64_t n = 1;
  int i;
  if (ndim < 0 || ndim > ANN_MAXDIM)
    return ann_seterror("tensor: %d dims (at most %d)", ndim, ANN_MAXDIM),
           NULL;
  for (i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return ann_seterror("tensor: negative size %lld in dim %d",
                          (long long)shape[i], i + 1), NULL;
    if (shape[i] > 0 && n > INT64_MAX / shape[i])
      return ann_seterror("tensor: shape too large"), NULL;
    n *= shape[i];
  }
  t = header_new();
  if (t == NULL) return NULL;
  t->st = storage_new(n);
  if (t->st == NULL) { free(t); return NULL; }
  t->ndim = ndim;
  for (i = 0; i < ndim; i++) t->shape[i] = shape[i];
  ann_contig_strides(ndim, shape, t->stride);
  return t;
}

ann_Tensor *ann_new_view(const ann_Tensor *t) {
  ann_Tensor *v = header_new();
  if (v == NULL) return NULL;
  v->st = t->st;
  v->st->refs++;
  v->offset = t->offset;
  v->ndim = t->ndim;
  memcpy(v->shape, t->shape, sizeof v->shape);
  memcpy(v->stride, t->stride, sizeof v->stride);
  return v;
}

ann_Tensor *ann_retain(ann_Tensor *t) {
  if (t) t->refs++;
  return t;
}

void ann_release(ann_Tensor *t) {
  if (t == NULL || --t->refs > 0) return;
  ann_release(t->grad);
  if (t->node) ann_node_free(t->node);   /* ann_autograd.c */
  storage_release(t->st);
  header_free(t);
}

int64_t ann_numel(const ann_Tensor *t) {
  int64_t n = 1;
  int i;
  for (i = 0; i < t->ndim; i++) n *= t->shape[i];
  return n;
}

int ann_is_contiguous(const ann_Tensor *t) {
  int64_t s = 1;
  int i;
  for (i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->stride[i] != s) return 0;
    s *= t->shape[i];
  }
  return 1;
}

int ann_same_shape(const ann_Tensor *a, const ann_Tensor *b) {
  int i;
  if (a->ndim != b->ndim) return 0;
  for (i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return 0;
  return 1;
}

float *ann_data(const ann_Tensor *t) { return t->st->data + t->offset; }

/* ---- creation ---------------------------------------------------------- */

ann_Tensor *ann_empty(int ndim, const int64_t *shape) {
  return ann_new(ndim, shape);
}

ann_Tensor *ann_full(int ndim, const int64_t *shape, float v) {
  ann_Tensor *t = ann_new(ndim, shape);
  int64_t i, n;
  if (t == NULL) return NULL;
  n = ann_numel(t);
  for (i = 0; i < n; i++) t->st->data[i] = v;
  return t;
}

ann_Tensor *ann_zeros(int ndim, const int64_t *shape) {
  ann_Tensor *t = ann_new(ndim, shape);
  if (t) memset(t->st->data, 0, (size_t)ann_numel(t) * sizeof(float));
  return t;
}

ann_Tensor *ann_from_data(const float *data, int ndim, const int64_t *shape) {
  ann_Tensor *t = ann_new(ndim, shape);
  if (t) memcpy(t->st->data, data, (size_t)ann_numel(t) * sizeof(float));
  return t;
}

ann_Tensor *ann_scalar(float v) { return ann_full(0, NULL, v); }

ann_Tensor *ann_empty_like(const ann_Tensor *t) {
  return ann_new(t->ndim, t->shape);
}

ann_Tensor *ann_eye(int64_t n) {
  int64_t shape[2] = {n, n}, i;
  ann_Tensor *t = ann_zeros(2, shape);
  if (t) for (i = 0; i < n; i++) t->st->data[i * n + i] = 1.0f;
  return t;
}

ann_Tensor *ann_arange(double a, double b, double step) {
  int64_t n, i;
  ann_Tensor *t;
  if (step == 0 || !isfinite(a) || !isfinite(b) || !isfinite(step))
    return ann_seterror("arange: bad range (%g, %g, step %g)", a, b, step),
           NULL;
  if ((b - a) / step < 0)
    return ann_seterror("arange: step %g does not go from %g to %g",
                        step, a, b), NULL;
  if ((b - a) / step >= 1e12)
    return ann_seterror("arange: %g to %g by %g is too many elements",
                        a, b, step), NULL;
  /* inclusive of b when reached; the epsilon absorbs 0.1-style rounding */
  n = (int64_t)floor((b - a) / step + 1e-9) + 1;
  t = ann_new(1, &n);
  if (t) for (i = 0; i < n; i++) t->st->data[i] = (float)(a + i * step);
  return t;
}

ann_Tensor *ann_linspace(double a, double b, int64_t n) {
  ann_Tensor *t;
  int64_t i;
  if (n < 0) return ann_seterror("linspace: n = %lld < 0", (long long)n), NULL;
  t = ann_new(1, &n);
  if (t == NULL) return NULL;
  for (i = 0; i < n; i++)
    t->st->data[i] = (float)(n == 1 ? a : a + (b - a) * i / (double)(n - 1));
  if (n > 1) t->st->data[n - 1] = (float)b;
  return t;
}
