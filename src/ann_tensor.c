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

/* ---- memory ------------------------------------------------------------
** Storage, headers and everything else come from the current context
** (ann_ctx.c), whose header on each block sends it back to its own
** context when freed.
**
** A cache of freed storage, one per context.  A training loop frees and
** allocates the same sizes at every step.  Giving those blocks back saves
** malloc and free and, for large blocks, the page faults of fresh memory
** (glibc hands big blocks back to the OS at free).  Blocks are kept by
** exact size, the most recent first, at most ANN_CACHE_N of them and
** CACHE_BYTES in all; the oldest goes when a new one needs room.  Cached
** blocks are not live (ann_live_bytes) and count again in ann_allocated
** when reused, so the collector's accounting is unchanged; they are held
** by the context and count against its limit, which empties the cache
** before refusing.  Headers are kept too.  A spin lock guards both: a
** context may be used from several threads, and the critical sections are
** a few loads. */
#define CACHE_BYTES ((size_t)32 << 20)

/* Small blocks (up to ANN_SMALL_N floats) are kept apart, a list per
** size, up to SMALL_BYTES in all: a loop that makes a small tensor per
** call (one inference of a small network) has them freed by the collector
** a few hundred at a time, more than the cache above holds, and each
** would go back to malloc. */
#define SMALL_BYTES ((size_t)4 << 20)

typedef struct Block {        /* a storage as storage_new allocates it */
  ann_Storage s;
  struct Block *next;         /* in a list of small blocks, while cached */
} Block;

static void lock(ann_Cache *c) {
  while (atomic_flag_test_and_set_explicit(&c->lock, memory_order_acquire))
    ;
}
static void unlock(ann_Cache *c) {
  atomic_flag_clear_explicit(&c->lock, memory_order_release);
}

/* the storage header and its data are one block of the context */
static void block_free(ann_Storage *s) { ann_free(s); }

/* floats of a block of `bytes` (storage_new's size), if it is small */
static size_t small_n(size_t bytes) {
  size_t n = (bytes - ANN_ALIGN) / sizeof(float);
  return n <= ANN_SMALL_N ? n : SIZE_MAX;
}

/* a cached block of exactly `bytes`, or NULL */
static ann_Storage *cache_take(ann_Cache *cache, size_t bytes) {
  ann_Storage *s = NULL;
  size_t sn = small_n(bytes);
  int i;
  if (sn != SIZE_MAX) {
    Block *b;
    lock(cache);
    if ((b = cache->bin[sn]) != NULL) {
      cache->bin[sn] = b->next;
      cache->smallbytes -= bytes;
    }
    unlock(cache);
    return b ? &b->s : NULL;
  }
  lock(cache);
  for (i = cache->n - 1; i >= 0; i--)
    if (cache->blk[i]->rawsize == bytes) {
      s = cache->blk[i];
      memmove(cache->blk + i, cache->blk + i + 1,
              (size_t)(cache->n - i - 1) * sizeof *cache->blk);
      cache->n--;
      cache->bytes -= bytes;
      break;
    }
  unlock(cache);
  return s;
}

/* keeps s for reuse in its own context, or frees it (and any older block
** pushed out) */
static void cache_put(ann_Storage *s) {
  ann_Ctx *ctx = ann_block_ctx(s);
  ann_Cache *cache = &ctx->cache;
  ann_Storage *out[ANN_CACHE_N + 1];
  int nout = 0, i;
  size_t sn = small_n(s->rawsize);
  if (ctx->closed) { block_free(s); return; }
  if (sn != SIZE_MAX) {
    Block *b = (Block *)s;        /* storage_new made it a Block */
    lock(cache);
    if (cache->smallbytes + s->rawsize <= SMALL_BYTES) {
      b->next = cache->bin[sn];
      cache->bin[sn] = b;
      cache->smallbytes += s->rawsize;
      b = NULL;
    }
    unlock(cache);
    if (b) block_free(s);
    return;
  }
  if (s->rawsize > CACHE_BYTES / 4) { block_free(s); return; }
  lock(cache);
  while (cache->n > 0 && (cache->n == ANN_CACHE_N
                          || cache->bytes + s->rawsize > CACHE_BYTES)) {
    out[nout++] = cache->blk[0];
    cache->bytes -= cache->blk[0]->rawsize;
    memmove(cache->blk, cache->blk + 1,
            (size_t)--cache->n * sizeof *cache->blk);
  }
  cache->blk[cache->n++] = s;
  cache->bytes += s->rawsize;
  unlock(cache);
  for (i = 0; i < nout; i++) block_free(out[i]);
}

/* frees every cached block and header of c (taken out under the lock,
** freed outside it: a free may not take the lock) */
void ann_cache_flush(ann_Ctx *ctx) {
  ann_Cache *cache = &ctx->cache;
  Block *small = NULL, *b;
  ann_Storage *blk[ANN_CACHE_N];
  ann_Tensor *hdr[ANN_HEADERS_N];
  int n, nh, i;
  size_t k;
  lock(cache);
  n = cache->n; nh = cache->nh;
  memcpy(blk, cache->blk, (size_t)n * sizeof *blk);
  memcpy(hdr, cache->hdr, (size_t)nh * sizeof *hdr);
  cache->n = cache->nh = 0;
  cache->bytes = 0;
  for (k = 0; k <= ANN_SMALL_N; k++)
    while ((b = cache->bin[k]) != NULL) {
      cache->bin[k] = b->next;
      b->next = small;
      small = b;
    }
  cache->smallbytes = 0;
  unlock(cache);
  for (i = 0; i < n; i++) block_free(blk[i]);
  for (i = 0; i < nh; i++) ann_free(hdr[i]);
  while ((b = small) != NULL) { small = b->next; block_free(&b->s); }
}

int64_t ann_ctx_quota(int64_t q) {
  ann_Ctx *c = ann_ctx();
  int64_t was = c->quota_on ? c->quota : -1;
  c->quota_on = q >= 0;
  c->quota = q >= 0 ? q : 0;
  return was;
}

static ann_Storage *storage_new(int64_t n) {
  ann_Ctx *c = ann_ctx();
  ann_Storage *s;
  size_t bytes;
  if (n < 0 || (uint64_t)n > (SIZE_MAX / 2 - ANN_ALIGN) / sizeof(float)) {
    ann_seterror("tensor: %lld elements is too many", (long long)n);
    return NULL;
  }
  if (c->quota_on) {
    if (n > c->quota) {
      ann_seterror("tensor: %lld elements, more than the %lld left of the "
                   "loader's limit", (long long)n, (long long)c->quota);
      return NULL;
    }
    c->quota -= n;
  }
  bytes = (size_t)n * sizeof(float) + ANN_ALIGN;
  if ((s = cache_take(&c->cache, bytes)) == NULL) {
    s = ann_malloc(sizeof(Block) + bytes);
    if (s == NULL) {
      char m[200];
      snprintf(m, sizeof m, "%s", ann_error());
      ann_seterror("tensor: %s allocating %lld floats", m, (long long)n);
      return NULL;
    }
    s->raw = (Block *)s + 1;
    s->data = (float *)(((uintptr_t)s->raw + ANN_ALIGN - 1)
                        & ~(uintptr_t)(ANN_ALIGN - 1));
    s->rawsize = bytes;
  }
  s->n = n;
  s->refs = 1;
  c->allocated += bytes;
  c->live += (int64_t)bytes;
  return s;
}

static void storage_release(ann_Storage *s) {
  if (s && --s->refs == 0) {
    ann_block_ctx(s)->live -= (int64_t)s->rawsize;
    cache_put(s);
  }
}

/* ---- headers ----------------------------------------------------------- */

/* a 0 dim steps as a 1 dim would (as in PyTorch): no stride 0 on a dim
** that is not expanded, and no product past the ANN_MAX_NUMEL bound */
void ann_contig_strides(int ndim, const int64_t *shape, int64_t *stride) {
  int64_t s = 1;
  int i;
  for (i = ndim - 1; i >= 0; i--) {
    stride[i] = s;
    if (shape[i] > 1) s *= shape[i];
  }
}

int64_t ann_shape_numel(const char *op, int ndim, const int64_t *shape) {
  char s[128];
  int64_t n = 1, m = 1;   /* m: the product with 0 dims counted as 1 */
  int i;
  for (i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return ann_seterror("%s: negative size %lld in dim %d", op,
                          (long long)shape[i], i + 1);
    if (shape[i] > 1 && m > ANN_MAX_NUMEL / shape[i]) {
      int k, o = 0;
      for (k = 0; k < ndim && o < (int)sizeof s - 24; k++)
        o += snprintf(s + o, sizeof s - o, "%s%lld", k ? ", " : "",
                      (long long)shape[k]);
      return ann_seterror("%s: shape [%s] has too many elements (at most "
                          "2^60, counting a 0 dim as 1)", op, s);
    }
    if (shape[i] > 1) m *= shape[i];
    n = shape[i] == 0 ? 0 : n * shape[i];
  }
  return n;
}

/* a polled walk's step inside the innermost dim: 1 when it moved to the
** next chunk of the same run or was cancelled (l->stop), 0 when the run is
** done and the outer dims move (back at the run's start, a whole chunk) */
int ann_loop_chunk(ann_Loop *l) {
  int64_t full = l->shape[l->ndim - 1];
  int k;
  if (l->left <= 0) {                   /* ann_loop_next counted the run */
    l->left = ANN_LOOP_POLL;
    if (ann_poll(l->op) < 0) { l->stop = 1; return 1; }
  }
  if (l->inner + l->len < full) {
    for (k = 0; k < l->n; k++) l->off[k] += l->len * l->step[k];
    l->inner += l->len;
  } else {
    for (k = 0; k < l->n; k++) l->off[k] -= l->inner * l->step[k];
    l->inner = 0;
  }
  l->len = full - l->inner < ANN_LOOP_CHUNK ? full - l->inner
                                             : ANN_LOOP_CHUNK;
  return l->inner != 0;
}

static ann_Tensor *header_new(void) {
  ann_Cache *cache = &ann_ctx()->cache;
  ann_Tensor *t = NULL;
  lock(cache);
  if (cache->nh > 0) t = cache->hdr[--cache->nh];
  unlock(cache);
  if (t) memset(t, 0, sizeof *t);
  else if ((t = ann_calloc(1, sizeof *t)) == NULL) {
    ann_nomem("tensor");
    return NULL;
  }
  t->refs = 1;
  return t;
}

/* back to the cache of the context it was made in */
static void header_free(ann_Tensor *t) {
  ann_Ctx *ctx = ann_block_ctx(t);
  ann_Cache *cache = &ctx->cache;
  if (ctx->closed) { ann_free(t); return; }
  lock(cache);
  if (cache->nh < ANN_HEADERS_N) { cache->hdr[cache->nh++] = t; t = NULL; }
  unlock(cache);
  ann_free(t);
}

ann_Tensor *ann_new(int ndim, const int64_t *shape) {
  ann_Tensor *t;
  int64_t n = 1;
  int i;
  if (ndim < 0 || ndim > ANN_MAXDIM)
    return ann_seterror("tensor: %d dims (at most %d)", ndim, ANN_MAXDIM),
           NULL;
  if ((n = ann_shape_numel("tensor", ndim, shape)) < 0) return NULL;
  t = header_new();
  if (t == NULL) return NULL;
  t->st = storage_new(n);
  if (t->st == NULL) { header_free(t); return NULL; }
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
  for (i = 0; i < t->ndim; i++) n *= t->shape[i];   /* bounded: ANN_MAX_NUMEL */
  return n;
}

int ann_is_contiguous(const ann_Tensor *t) {
  int64_t s = 1;
  int i;
  for (i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] == 0) return 1;        /* no elements: any layout */
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
