/*
** ann_ctx.c: contexts.  The memory every allocation of the core comes
** from, counted against a limit; the cancel poll; the file policy and the
** readers' whole-file input; the output writer.  See ann.h.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "ann_impl.h"

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud; (void)osize;
  if (nsize == 0) { free(ptr); return NULL; }
  return realloc(ptr, nsize);
}

ann_Ctx ann_default_ctx = {
  .o = {.alloc = default_alloc}, .refs = 1, .isdefault = 1,
  .cache = {.lock = ATOMIC_FLAG_INIT}
};
ANN_TLS ann_Ctx *ann_cur;

void ann_ctx_defaults(ann_CtxOpts *o) {
  memset(o, 0, sizeof *o);
  o->files = ANN_FILES_ALL;
}

ann_Ctx *ann_ctx_new(const ann_CtxOpts *o) {
  ann_CtxOpts d;
  ann_Ctx *c;
  if (o == NULL) { ann_ctx_defaults(&d); o = &d; }
  if (o->files < ANN_FILES_ALL || o->files > ANN_FILES_IO)
    return ann_seterror("ctx_new: files = %d is not an ANN_FILES_ value",
                        o->files), NULL;
  if (o->files == ANN_FILES_IO
      && (!o->io.open || !o->io.read || !o->io.write || !o->io.close))
    return ann_seterror("ctx_new: ANN_FILES_IO needs the four io "
                        "callbacks"), NULL;
  d = *o;
  if (d.alloc == NULL) { d.alloc = default_alloc; d.alloc_ud = NULL; }
  if ((c = d.alloc(d.alloc_ud, NULL, 0, sizeof *c)) == NULL)
    return ann_seterror("ctx_new: not enough memory"), NULL;
  memset(c, 0, sizeof *c);
  c->o = d;
  c->refs = 1;                 /* the owner's; each block takes one more */
  atomic_flag_clear(&c->cache.lock);
  return c;
}

static void ctx_unref(ann_Ctx *c) {
  if (atomic_fetch_sub(&c->refs, 1) == 1 && !c->isdefault)
    c->o.alloc(c->o.alloc_ud, c, sizeof *c, 0);
}

void ann_ctx_free(ann_Ctx *c) {
  if (c == NULL || c->isdefault) return;
  if (ann_cur == c) ann_cur = NULL;
  c->closed = 1;
  ann_cache_flush(c);
  ctx_unref(c);
}

ann_Ctx *ann_ctx_use(ann_Ctx *c) {
  ann_Ctx *was = ann_ctx();
  ann_cur = (c == NULL || c->isdefault) ? NULL : c;
  return was;
}

ann_Ctx *ann_ctx_current(void) { return ann_ctx(); }

size_t ann_ctx_held(const ann_Ctx *c) {
  int64_t h;
  if (c == NULL) c = ann_ctx();
  h = atomic_load(&c->held) + atomic_load_explicit(&c->host,
                                                   memory_order_relaxed);
  return h > 0 ? (size_t)h : 0;
}

void ann_ctx_trim(ann_Ctx *c) { ann_cache_flush(c ? c : ann_ctx()); }

int ann_poll(const char *op) {
  ann_Ctx *c = ann_ctx();
  if (c->o.cancel && c->o.cancel(c->o.cancel_ud))
    return ann_seterror("%s: cancelled by the host", op);
  return 0;
}

int ann_write(const char *s, size_t n) {
  ann_Ctx *c = ann_ctx();
  if (c->o.output) { c->o.output(c->o.output_ud, s, n); return 0; }
  if (fwrite(s, 1, n, stdout) != n || fflush(stdout) != 0)
    return ann_seterror("write: %s", strerror(errno));
  return 0;
}

/* ---- memory ---------------------------------------------------------- */

/* in front of every block: its context and size; max_align_t keeps the
** block as aligned as malloc's */
typedef union Hdr {
  struct { ann_Ctx *c; size_t n; } h;
  max_align_t align;
} Hdr;

static int limit_error(const ann_Ctx *c) {
  return ann_seterror("not enough memory (limit %zu bytes)", c->o.mem_limit);
}

static int64_t host(const ann_Ctx *c) {
  return atomic_load_explicit(&c->host, memory_order_relaxed);
}

/* takes n bytes of c's limit for a block; a first refusal empties c's
** cache and tries again, a second asks the host's onlimit */
static int charge(ann_Ctx *c, size_t n) {
  int tries;
  if (c->o.mem_limit == 0) { atomic_fetch_add(&c->held, (int64_t)n); return 0; }
  if (n > c->o.mem_limit) return limit_error(c);
  for (tries = 0; tries < 3; tries++) {
    int64_t now = atomic_fetch_add(&c->held, (int64_t)n) + (int64_t)n;
    if ((uint64_t)(now + host(c)) <= c->o.mem_limit) return 0;
    atomic_fetch_sub(&c->held, (int64_t)n);
    if (tries == 1 && (c->onlimit == NULL || !c->onlimit(c->onlimit_ud)))
      break;
    ann_cache_flush(c);         /* what the host freed may sit there */
  }
  return limit_error(c);
}

void ann_ctx_onlimit(ann_Ctx *c, int (*fn)(void *ud), void *ud) {
  c->onlimit = fn;
  c->onlimit_ud = ud;
}

/* the host's bytes: called for every allocation of a Lua state, so no
** atomic read-modify-write; the calls for one context never overlap (a
** Lua state allocates from one thread at a time) */
int ann_ctx_account(ann_Ctx *c, int64_t delta) {
  int64_t h;
  if (c == NULL) c = ann_ctx();
  h = host(c) + delta;
  if (delta > 0 && c->o.mem_limit
      && (uint64_t)(h + atomic_load(&c->held)) > c->o.mem_limit) {
    ann_cache_flush(c);
    if ((uint64_t)(h + atomic_load(&c->held)) > c->o.mem_limit)
      return limit_error(c);
  }
  atomic_store_explicit(&c->host, h, memory_order_relaxed);
  return 0;
}

void *ann_malloc(size_t n) {
  ann_Ctx *c = ann_ctx();
  Hdr *h;
  if (n > SIZE_MAX / 2) {
    ann_seterror("not enough memory (%zu bytes asked)", n);
    return NULL;
  }
  if (charge(c, n + sizeof(Hdr)) < 0) return NULL;
  if ((h = c->o.alloc(c->o.alloc_ud, NULL, 0, n + sizeof(Hdr))) == NULL) {
    atomic_fetch_sub(&c->held, (int64_t)(n + sizeof(Hdr)));
    ann_seterror("not enough memory (%zu bytes asked)", n);
    return NULL;
  }
  atomic_fetch_add(&c->refs, 1);
  h->h.c = c;
  h->h.n = n;
  return h + 1;
}

void *ann_calloc(size_t n, size_t size) {
  void *p;
  if (size && n > SIZE_MAX / 2 / size) {
    ann_seterror("not enough memory (%zu x %zu bytes asked)", n, size);
    return NULL;
  }
  if ((p = ann_malloc(n * size)) != NULL) memset(p, 0, n * size);
  return p;
}

/* a block stays in the context it was made in */
void *ann_realloc(void *p, size_t n) {
  Hdr *h, *nh;
  ann_Ctx *c;
  size_t old;
  if (p == NULL) return ann_malloc(n);
  h = (Hdr *)p - 1;
  c = h->h.c;
  old = h->h.n;
  if (n > SIZE_MAX / 2) {
    ann_seterror("not enough memory (%zu bytes asked)", n);
    return NULL;
  }
  if (n > old && charge(c, n - old) < 0) return NULL;
  nh = c->o.alloc(c->o.alloc_ud, h, old + sizeof(Hdr), n + sizeof(Hdr));
  if (nh == NULL) {
    if (n > old) atomic_fetch_sub(&c->held, (int64_t)(n - old));
    ann_seterror("not enough memory (%zu bytes asked)", n);
    return NULL;
  }
  if (n < old) atomic_fetch_sub(&c->held, (int64_t)(old - n));
  nh->h.n = n;
  return nh + 1;
}

void ann_free(void *p) {
  Hdr *h;
  ann_Ctx *c;
  size_t n;
  if (p == NULL) return;
  h = (Hdr *)p - 1;
  c = h->h.c;
  n = h->h.n;
  c->o.alloc(c->o.alloc_ud, h, n + sizeof(Hdr), 0);
  atomic_fetch_sub(&c->held, (int64_t)(n + sizeof(Hdr)));
  ctx_unref(c);
}

ann_Ctx *ann_block_ctx(const void *p) { return ((const Hdr *)p - 1)->h.c; }

int ann_nomem(const char *op) {
  char m[256];
  snprintf(m, sizeof m, "%s", ann_error());
  return ann_seterror("%s: %s", op, m[0] ? m : "not enough memory");
}

void ann_setallocf(ann_Alloc f, void *ud) {
  ann_cache_flush(&ann_default_ctx);
  ann_default_ctx.o.alloc = f ? f : default_alloc;
  ann_default_ctx.o.alloc_ud = f ? ud : NULL;
}

uint64_t ann_allocated(void) { return ann_ctx()->allocated; }
int64_t ann_live_bytes(void) { return ann_ctx()->live; }

/* ---- files ------------------------------------------------------------- */

int ann_file_check(const char *path) {
  if (ann_ctx()->o.files == ANN_FILES_NONE)
    return ann_seterror("%s: file access is disabled by the host",
                        path ? path : "?");
  return 0;
}

int ann_file_io(void) { return ann_ctx()->o.files == ANN_FILES_IO; }

#define CHUNK ((size_t)1 << 20)    /* read and inflated between polls */

/* grows *buf (cap *cap) to hold at least need + 1 bytes */
static int reserve(const char *path, char **buf, size_t *cap, size_t need) {
  size_t c = *cap ? *cap : CHUNK;
  char *nb;
  if (need < *cap) return 0;
  while (c <= need) {
    if (c > SIZE_MAX / 4) return ann_seterror("%s: too large", path);
    c *= 2;
  }
  if ((nb = ann_realloc(*buf, c)) == NULL) return ann_nomem(path);
  *buf = nb;
  *cap = c;
  return 0;
}

static voidpf z_alloc(voidpf ud, uInt n, uInt size) {
  (void)ud;
  return ann_calloc(n, size);
}
static void z_free(voidpf ud, voidpf p) { (void)ud; ann_free(p); }

/* inflates the gzip members in in[0..n) into *out; a cut stream or
** corrupt data is named, never shown */
ann_ReadOpts ann_read_limits(const ann_ReadOpts *o) {
  ann_ReadOpts r = {ANN_READ_MAX_BYTES, ANN_READ_MAX_ELEMENTS};
  if (o && o->max_bytes) r.max_bytes = o->max_bytes;
  if (o && o->max_elements > 0) r.max_elements = o->max_elements;
  return r;
}

int ann_check_elements(const char *path, int64_t n, int64_t max) {
  if (n > max)
    return ann_seterror("%s: %lld elements, more than %lld (the "
                        "max_elements limit)", path, (long long)n,
                        (long long)max);
  return 0;
}

static int gunzip(const char *path, const unsigned char *in, size_t n,
                  size_t max, char **out, size_t *outlen) {
  z_stream z;
  char *b = NULL;
  size_t cap = 0, have = 0;
  int r = Z_OK;
  memset(&z, 0, sizeof z);
  z.zalloc = z_alloc;
  z.zfree = z_free;
  if ((r = inflateInit2(&z, 15 + 16)) != Z_OK) {
    if (r == Z_MEM_ERROR) return ann_nomem(path);   /* z_alloc said why */
    return ann_seterror("%s: %s", path, z.msg ? z.msg : "zlib cannot start");
  }
  z.next_in = (unsigned char *)in;
  for (;;) {
    size_t left = n - (size_t)(z.next_in - in);
    if (r == Z_STREAM_END) {         /* another member, or the end */
      if (left == 0) break;
      if (left < 2 || z.next_in[0] != 0x1f || z.next_in[1] != 0x8b) break;
      inflateReset(&z);
    }
    if (reserve(path, &b, &cap, have + CHUNK) < 0) goto fail;
    z.avail_in = (uInt)(left > CHUNK ? CHUNK : left);
    z.next_out = (unsigned char *)b + have;
    z.avail_out = (uInt)CHUNK;
    r = inflate(&z, Z_NO_FLUSH);
    have = (size_t)((char *)z.next_out - b);
    if (max && have > max) {     /* a bomb stops at the limit, not at the end */
      ann_seterror("%s: inflates to more than %zu bytes (the max_bytes "
                   "limit)", path, max);
      goto fail;
    }
    if (r == Z_NEED_DICT || r == Z_DATA_ERROR || r == Z_MEM_ERROR) {
      if (r == Z_MEM_ERROR) ann_nomem(path);
      else ann_seterror("%s: read error: %s", path,
                        z.msg ? z.msg : "corrupt compressed data");
      goto fail;
    }
    if (r == Z_BUF_ERROR || (r == Z_OK && z.avail_in == 0
                             && (size_t)(z.next_in - in) == n
                             && z.avail_out != 0)) {
      ann_seterror("%s: byte %zu: compressed data ends early (file "
                   "truncated)", path, have);
      goto fail;
    }
    if (ann_poll(path) < 0) goto fail;
  }
  inflateEnd(&z);
  b[have] = '\0';
  *out = b;
  *outlen = have;
  return 0;
fail:
  inflateEnd(&z);
  ann_free(b);
  return -1;
}

/* the raw bytes of path, from the host's io or the file system */
static int read_raw(const char *path, size_t max, char **buf, size_t *len) {
  ann_Ctx *c = ann_ctx();
  size_t cap = 0, have = 0;
  char *b = NULL;
  void *f = NULL;
  FILE *fp = NULL;
  if (c->o.files == ANN_FILES_IO) {
    if ((f = c->o.io.open(c->o.io.ud, path, "rb")) == NULL)
      return ann_seterror("%s: cannot open file: refused by the host", path);
  } else {
    struct stat st;
    errno = 0;
    if ((fp = fopen(path, "rb")) == NULL)
      return ann_seterror("%s: cannot open file: %s", path,
                          errno ? strerror(errno) : "out of memory");
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
      fclose(fp);
      return ann_seterror("%s: read error: is a directory", path);
    }
  }
  for (;;) {
    size_t k;
    if (reserve(path, &b, &cap, have + CHUNK) < 0) goto fail;
    k = f ? c->o.io.read(c->o.io.ud, f, b + have, CHUNK)
          : fread(b + have, 1, CHUNK, fp);
    if (k > CHUNK) k = CHUNK;
    have += k;
    if (max && have > max) {
      ann_seterror("%s: more than %zu bytes (the max_bytes limit)", path,
                   max);
      goto fail;
    }
    if (fp && k < CHUNK && ferror(fp)) {
      ann_seterror("%s: read error: %s", path, strerror(errno));
      goto fail;
    }
    if (k == 0 || (fp && feof(fp))) break;
    if (ann_poll(path) < 0) goto fail;
  }
  if (f && c->o.io.close(c->o.io.ud, f) != 0) {
    f = NULL;
    ann_seterror("%s: read error (reported by the host)", path);
    goto fail;
  }
  if (fp) fclose(fp);
  b[have] = '\0';
  *buf = b;
  *len = have;
  return 0;
fail:
  if (f) c->o.io.close(c->o.io.ud, f);
  if (fp) fclose(fp);
  ann_free(b);
  return -1;
}

int ann_file_slurp(const char *path, int gz, size_t max, char **buf,
                   size_t *len) {
  char *raw = NULL;
  size_t n = 0;
  int r;
  if (ann_file_check(path) < 0 || read_raw(path, max, &raw, &n) < 0)
    return -1;
  if (!gz || n < 2 || (unsigned char)raw[0] != 0x1f
      || (unsigned char)raw[1] != 0x8b) {
    *buf = raw;
    *len = n;
    return 0;
  }
  r = gunzip(path, (unsigned char *)raw, n, max, buf, len);
  ann_free(raw);
  return r;
}

/* ---- writing through the host's io: a stdio stream on its callbacks --- */

typedef struct Cookie { ann_Io io; void *f; } Cookie;

static ssize_t ck_write(void *p, const char *buf, size_t n) {
  Cookie *k = p;
  size_t w = k->io.write(k->io.ud, k->f, buf, n);
  return w == n ? (ssize_t)n : -1;
}

static int ck_close(void *p) {
  Cookie *k = p;
  int r = k->io.close(k->io.ud, k->f);
  ann_free(k);
  return r == 0 ? 0 : EOF;
}

/* fopencookie: glibc and musl; elsewhere funopen would take its place */
FILE *ann_file_wopen(const char *path) {
  ann_Ctx *c = ann_ctx();
  cookie_io_functions_t fns = {NULL, ck_write, NULL, ck_close};
  Cookie *k;
  FILE *fp;
  if ((k = ann_malloc(sizeof *k)) == NULL) return ann_nomem(path), NULL;
  k->io = c->o.io;
  if ((k->f = k->io.open(k->io.ud, path, "wb")) == NULL) {
    ann_free(k);
    return ann_seterror("%s: cannot open file for writing: refused by the "
                        "host", path), NULL;
  }
  if ((fp = fopencookie(k, "wb", fns)) == NULL) {
    k->io.close(k->io.ud, k->f);
    ann_free(k);
    return ann_seterror("%s: cannot open file for writing: %s", path,
                        strerror(errno)), NULL;
  }
  return fp;
}
