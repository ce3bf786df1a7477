/*
** ann_npy.c: NumPy's .npy format, read and written.
**
** Layout: the magic "\x93NUMPY", a major and a minor version byte, the
** header length (little-endian u16 in version 1, u32 in versions 2 and 3),
** then the header: a Python dict literal such as
**   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
** padded with spaces and ending in '\n'; then the raw values, C order.
** The dict is parsed here by a small strict parser (exactly those three
** keys, Python literal syntax), never evaluated, and the data size is
** checked against the file's real size.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ann_impl.h"

#define MAGIC "\x93NUMPY"
#define MAGIC_LEN 6
#define ALIGN 64        /* NumPy aligns the data to 64 bytes */

/* ---- the header dict ---------------------------------------------------- */

typedef struct Header {
  const char *path;
  const unsigned char *p, *end;   /* cursor in the header text */
  size_t base;                    /* file offset of the header text */
  const unsigned char *start;
  char descr[16];
  int fortran;
  int ndim;
  int64_t shape[ANN_MAXDIM];
} Header;

static size_t where(const Header *h) {
  return h->base + (size_t)(h->p - h->start);
}

static int herr(const Header *h, const char *what) {
  return ann_seterror("%s: byte %zu: bad .npy header: %s", h->path, where(h),
                      what);
}

static void ws(Header *h) {
  while (h->p < h->end && (*h->p == ' ' || *h->p == '\t')) h->p++;
}

/* skips white space, then takes c if it is next */
static int accept(Header *h, char c) {
  ws(h);
  if (h->p < h->end && *h->p == c) { h->p++; return 1; }
  return 0;
}

static int expect(Header *h, char c, const char *what) {
  return accept(h, c) ? 0 : herr(h, what);
}

/* a quoted Python string without escapes into buf */
static int string(Header *h, char *buf, size_t size) {
  const unsigned char *s;
  char q;
  ws(h);
  if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
    return herr(h, "expected a string");
  q = (char)*h->p++;
  for (s = h->p; h->p < h->end && *h->p != q; h->p++)
    if (*h->p == '\\' || *h->p == '\n')
      return herr(h, "escape or newline in a string");
  if (h->p >= h->end) return herr(h, "unterminated string");
  if ((size_t)(h->p - s) >= size) return herr(h, "string too long");
  memcpy(buf, s, (size_t)(h->p - s));
  buf[h->p - s] = '\0';
  h->p++;
  return 0;
}

static int word(Header *h, const char *w) {
  size_t n = strlen(w);
  ws(h);
  if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
    h->p += n;
    return 1;
  }
  return 0;
}

/* (a, b, ...): a tuple of non-negative ints; (n,) for one, () for none */
static int shape(Header *h) {
  int64_t total = 1;
  if (expect(h, '(', "'shape' is not a tuple") < 0) return -1;
  h->ndim = 0;
  if (accept(h, ')')) return 0;
  for (;;) {
    int64_t v = 0;
    ws(h);
    if (h->p >= h->end || *h->p < '0' || *h->p > '9')
      return herr(h, "expected a non-negative integer in 'shape'");
    for (; h->p < h->end && *h->p >= '0' && *h->p <= '9'; h->p++) {
      if (v > (INT64_MAX - 9) / 10) return herr(h, "dimension too large");
      v = v * 10 + (*h->p - '0');
    }
    if (h->p < h->end && *h->p == 'L') h->p++;   /* Python 2 long */
    if (h->ndim == ANN_MAXDIM)
      return herr(h, "more than 8 dims (annlua handles at most 8)");
    if (v > 0 && total > INT64_MAX / v) return herr(h, "shape too large");
    total *= v;
    h->shape[h->ndim++] = v;
    if (accept(h, ')')) {
      if (h->ndim == 1) return herr(h, "'(n)' is not a tuple: write '(n,)'");
      return 0;
    }
    if (expect(h, ',', "expected ',' or ')' in 'shape'") < 0) return -1;
    if (accept(h, ')')) return 0;
  }
}

static int parse_header(Header *h) {
  int seen = 0;   /* bits: descr, fortran_order, shape */
  if (expect(h, '{', "expected '{'") < 0) return -1;
  while (!accept(h, '}')) {
    char key[32];
    int bit;
    if (string(h, key, sizeof key) < 0) return -1;
    if (strcmp(key, "descr") == 0) bit = 1;
    else if (strcmp(key, "fortran_order") == 0) bit = 2;
    else if (strcmp(key, "shape") == 0) bit = 4;
    else return ann_seterror("%s: byte %zu: bad .npy header: unknown key "
                             "'%s'", h->path, where(h), key);
    if (seen & bit)
      return ann_seterror("%s: byte %zu: bad .npy header: key '%s' twice",
                          h->path, where(h), key);
    seen |= bit;
    if (expect(h, ':', "expected ':'") < 0) return -1;
    if (bit == 1) {
      ws(h);
      if (h->p < h->end && *h->p == '[')
        return ann_seterror("%s: byte %zu: structured dtypes (a 'descr' "
                            "list) are not supported", h->path, where(h));
      if (string(h, h->descr, sizeof h->descr) < 0) return -1;
    } else if (bit == 2) {
      if (word(h, "True")) h->fortran = 1;
      else if (word(h, "False")) h->fortran = 0;
      else return herr(h, "'fortran_order' is not True or False");
    } else if (shape(h) < 0)
      return -1;
    if (!accept(h, ',')) {
      if (expect(h, '}', "expected ',' or '}'") < 0) return -1;
      break;
    }
  }
  if (seen != 7)
    return herr(h, !(seen & 1) ? "no 'descr'" : !(seen & 2)
                   ? "no 'fortran_order'" : "no 'shape'");
  while (h->p < h->end && *h->p == ' ') h->p++;   /* the padding */
  if (h->p + 1 != h->end || *h->p != '\n')
    return herr(h, "expected spaces and a final newline after the dict");
  return 0;
}

/* ---- dtypes ------------------------------------------------------------- */

typedef struct Dtype { char kind; int size, big; } Dtype;

static int dtype(const Header *h, size_t at, Dtype *d) {
  const char *s = h->descr;
  char order = s[0];
  if (strchr(s, 'O'))
    return ann_seterror("%s: byte %zu: object arrays ('%s') are not "
                        "supported: they hold Python objects", h->path, at,
                        s);
  d->kind = order ? s[1] : 0;
  d->size = 0;
  if (order && s[1] && s[2] && !s[3]) d->size = s[2] - '0';
  d->big = order == '>';
  if ((d->kind == 'f' && (d->size == 4 || d->size == 8)) ||
      ((d->kind == 'i' || d->kind == 'u') &&
       (d->size == 1 || d->size == 2 || d->size == 4 || d->size == 8)) ||
      (d->kind == 'b' && d->size == 1)) {
    if (order == '<' || order == '>' || (order == '|' && d->size == 1))
      return 0;
    return ann_seterror("%s: byte %zu: dtype '%s': byte order '%c' is not "
                        "'<', '>' or '|' (one-byte types)", h->path, at, s,
                        order);
  }
  return ann_seterror("%s: byte %zu: dtype '%s' is not supported (f4, f8, "
                      "i1-i8, u1-u8, b1)", h->path, at, s);
}

static uint64_t load(const unsigned char *p, int size, int big) {
  uint64_t v = 0;
  int i;
  if (big) for (i = 0; i < size; i++) v = v << 8 | p[i];
  else for (i = size - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static float convert(uint64_t v, const Dtype *d) {
  union { uint32_t u; float f; } f4;
  union { uint64_t u; double f; } f8;
  switch (d->kind) {
    case 'f':
      if (d->size == 4) { f4.u = (uint32_t)v; return f4.f; }
      f8.u = v; return (float)f8.f;
    case 'i':
      switch (d->size) {
        case 1: return (int8_t)v;
        case 2: return (int16_t)v;
        case 4: return (float)(int32_t)v;
        default: return (float)(int64_t)v;
      }
    case 'u': return (float)v;
    default: return v != 0;   /* bool */
  }
}

static int host_little(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 1;
}

/* "(2, 3)" as NumPy writes shapes, for messages */
static const char *shapetext(const Header *h, char *buf, size_t size) {
  size_t n = 0;
  int i;
  n += snprintf(buf, size, "(");
  for (i = 0; i < h->ndim && n < size; i++)
    n += snprintf(buf + n, size - n, i ? ", %lld" : "%lld",
                  (long long)h->shape[i]);
  if (n < size) snprintf(buf + n, size - n, h->ndim == 1 ? ",)" : ")");
  return buf;
}

/* ---- reading ------------------------------------------------------------ */

static ann_Tensor *parse(const char *path, const unsigned char *b, size_t len,
                         int64_t max_elements) {
  Header h;
  Dtype d = {0, 0, 0};
  size_t hl, off, need, i, n;
  int major, lsize;
  char st[160];
  ann_Tensor *t;
  float *x;
  if (len == 0) return ann_seterror("%s: empty file", path), NULL;
  for (i = 0; i < MAGIC_LEN && i < len; i++)
    if (b[i] != (unsigned char)MAGIC[i])
      return ann_seterror("%s: byte %zu: not a NumPy .npy file (no "
                          "\\x93NUMPY magic)", path, i), NULL;
  if (len < MAGIC_LEN + 2)
    return ann_seterror("%s: byte %zu: file ends inside the .npy %s", path,
                        len, len < MAGIC_LEN ? "magic" : "version"), NULL;
  major = b[6];
  if (major < 1 || major > 3 || b[7] != 0)
    return ann_seterror("%s: byte 6: .npy version %d.%d is not supported "
                        "(1.0, 2.0, 3.0)", path, major, b[7]), NULL;
  lsize = major == 1 ? 2 : 4;
  off = MAGIC_LEN + 2 + (size_t)lsize;
  if (len < off)
    return ann_seterror("%s: byte %zu: file ends inside the header length",
                        path, len), NULL;
  hl = (size_t)load(b + 8, lsize, 0);
  if (len - off < hl)
    return ann_seterror("%s: byte %zu: file ends inside the header (%zu "
                        "bytes announced from byte %zu)", path, len, hl,
                        off), NULL;
  memset(&h, 0, sizeof h);
  h.path = path;
  h.start = h.p = b + off;
  h.end = b + off + hl;
  h.base = off;
  if (parse_header(&h) < 0) return NULL;
  if (dtype(&h, off, &d) < 0) return NULL;
  if (h.fortran)
    return ann_seterror("%s: byte %zu: Fortran-order arrays are not "
                        "supported (save with C order)", path, off), NULL;
  off += hl;
  for (n = 1, i = 0; i < (size_t)h.ndim; i++) n *= (size_t)h.shape[i];
  if (n > SIZE_MAX / (size_t)d.size)
    return ann_seterror("%s: shape %s is too large", path,
                        shapetext(&h, st, sizeof st)), NULL;
  need = n * (size_t)d.size;
  if (len - off < need)
    return ann_seterror("%s: byte %zu: file ends early: shape %s of '%s' "
                        "needs %zu bytes of data from byte %zu, the file has "
                        "%zu", path, len, shapetext(&h, st, sizeof st),
                        h.descr, need, off, len - off), NULL;
  if (len - off > need)
    return ann_seterror("%s: byte %zu: extra data after the %zu values of "
                        "shape %s", path, off + need, n,
                        shapetext(&h, st, sizeof st)), NULL;
  /* a 0 dim before huge ones (no data, but strides past int64) */
  if (ann_shape_numel(path, h.ndim, h.shape) < 0
      || ann_check_elements(path, (int64_t)n, max_elements) < 0)
    return NULL;
  if ((t = ann_new(h.ndim, h.shape)) == NULL) return NULL;
  x = t->st->data;
  b += off;
  if (d.kind == 'f' && d.size == 4 && d.big != host_little())
    memcpy(x, b, need);
  else if (d.size == 1 && d.kind == 'u')
    for (i = 0; i < n; i++) x[i] = b[i];
  else
    for (i = 0; i < n; i++)
      x[i] = convert(load(b + i * (size_t)d.size, d.size, d.big), &d);
  return t;
}

ann_Tensor *ann_npy_load(const char *path) {
  return ann_npy_load_opts(path, NULL);
}

ann_Tensor *ann_npy_load_opts(const char *path, const ann_ReadOpts *o) {
  ann_ReadOpts lim = ann_read_limits(o);
  char *buf;
  size_t len;
  ann_Tensor *t;
  if (path == NULL) return ann_seterror("npy_load: no path"), NULL;
  if (ann_file_slurp(path, 1, lim.max_bytes, &buf, &len) < 0) return NULL;
  t = parse(path, (const unsigned char *)buf, len, lim.max_elements);
  ann_free(buf);
  return t;
}

/* ---- writing ------------------------------------------------------------ */

/* the header for t: dict, spaces, '\n', so that the data starts on a
** multiple of 64 bytes as NumPy does it; its length, 0 if it won't fit */
static size_t make_header(const ann_Tensor *t, char *buf, size_t size) {
  char dims[ANN_MAXDIM * 22 + 4];
  size_t n = 0, hl, pad, i;
  dims[0] = '\0';
  for (i = 0; i < (size_t)t->ndim; i++)
    n += snprintf(dims + n, sizeof dims - n, i ? ", %lld" : "%lld",
                  (long long)t->shape[i]);
  if (t->ndim == 1) snprintf(dims + n, sizeof dims - n, ",");
  memcpy(buf, MAGIC "\x01\x00", 8);
  n = 10 + (size_t)snprintf(buf + 10, size - 10, "{'descr': '<f4', "
                            "'fortran_order': False, 'shape': (%s), }", dims);
  pad = ALIGN - (n + 1) % ALIGN;   /* 1..64 spaces, as NumPy pads */
  if (n + pad + 1 > size) return 0;
  for (i = 0; i < pad; i++) buf[n++] = ' ';
  buf[n++] = '\n';
  hl = n - 10;
  buf[8] = (char)(hl & 0xff);
  buf[9] = (char)(hl >> 8);
  return n;
}

/* writes n floats as little-endian */
static int write_floats(FILE *f, const float *x, size_t n) {
  unsigned char chunk[4096];
  size_t i, k;
  if (host_little()) return fwrite(x, sizeof(float), n, f) == n ? 0 : -1;
  while (n > 0) {
    size_t m = n < sizeof chunk / 4 ? n : sizeof chunk / 4;
    for (i = 0; i < m; i++) {
      uint32_t u;
      memcpy(&u, &x[i], 4);
      for (k = 0; k < 4; k++) chunk[4 * i + k] = (unsigned char)(u >> 8 * k);
    }
    if (fwrite(chunk, 4, m, f) != m) return -1;
    x += m; n -= m;
  }
  return 0;
}

/* a new temporary file beside path (ann_file_temp), as a FILE */
static FILE *open_temp(const char *path, char **tmp) {
  FILE *f;
  int fd = ann_file_temp(path, tmp);
  if (fd < 0) return NULL;
  if ((f = fdopen(fd, "wb")) == NULL) {
    int e = errno;
    close(fd);
    unlink(*tmp);
    ann_free(*tmp);
    *tmp = NULL;
    errno = e;
  }
  return f;
}

/* so that the rename itself survives a crash; failure here is harmless */
static void sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir;
  int fd;
  if (slash == NULL) fd = open(".", O_RDONLY);
  else {
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if ((dir = ann_malloc(n + 1)) == NULL) return;
    memcpy(dir, path, n);
    dir[n] = '\0';
    fd = open(dir, O_RDONLY);
    ann_free(dir);
  }
  if (fd >= 0) { fsync(fd); close(fd); }
}

int ann_npy_save(const ann_Tensor *t, const char *path) {
  char head[ALIGN * 8];
  char *tmp = NULL;
  const char *what = "write";
  ann_Tensor *c = NULL;
  size_t hn, n;
  FILE *f = NULL;
  int e;
  if (t == NULL || path == NULL)
    return ann_seterror("npy_save: no %s", t ? "path" : "tensor");
  if (ann_file_check(path) < 0) return -1;
  if ((hn = make_header(t, head, sizeof head)) == 0)
    return ann_seterror("npy_save: %s: header too long", path);
  if (!ann_is_contiguous(t) && (c = ann_clone(t)) == NULL) return -1;
  n = (size_t)ann_numel(t);
  if (ann_file_io()) {            /* straight through the host's io */
    if ((f = ann_file_wopen(path)) == NULL) return ann_release(c), -1;
    e = fwrite(head, 1, hn, f) != hn
        || write_floats(f, ann_data(c ? c : t), n) < 0;
    e |= fclose(f) != 0;
    ann_release(c);
    return e ? ann_seterror("npy_save: %s: write error (reported by the "
                            "host)", path) : 0;
  }
  if ((f = open_temp(path, &tmp)) == NULL) {
    e = errno;
    ann_seterror("npy_save: %s: cannot create a temporary file: %s", path,
                 strerror(e));
    ann_release(c);
    return -1;
  }
  if (fwrite(head, 1, hn, f) != hn ||
      write_floats(f, ann_data(c ? c : t), n) < 0 || fflush(f) != 0)
    goto fail;
  what = "fsync";
  if (fsync(fileno(f)) != 0) goto fail;
  what = "close";
  e = fclose(f);
  f = NULL;
  if (e != 0) goto fail;
  what = "rename";
  if (rename(tmp, path) != 0) goto fail;
  sync_dir(path);
  ann_free(tmp);
  ann_release(c);
  return 0;
fail:
  e = errno;
  if (f) fclose(f);
  unlink(tmp);
  ann_free(tmp);
  ann_release(c);
  return ann_seterror("npy_save: %s: %s failed: %s", path, what, strerror(e));
}
