/*
** ann_idx.c: reader of IDX files (the format of the MNIST files), raw or
** gzip-compressed.  Nothing in the header is trusted: the data is read in
** chunks into a growing buffer, so a header that claims more than the file
** holds is an error, never a huge allocation or a read past the end.
**
** Layout: bytes 0-1 zero; byte 2 the type (0x08 u8, 0x09 i8, 0x0B i16,
** 0x0C i32, 0x0D f32, 0x0E f64); byte 3 the number of dims; then each
** dim as a big-endian u32; then the values, big-endian, row-major.
*/
#include <stdlib.h>
#include <zlib.h>

#include "ann_impl.h"

static int elemsize(int type) {
  switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
  }
}

static uint64_t be(const unsigned char *p, int n) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

static float decode(const unsigned char *p, int type) {
  union { uint32_t u; float f; } f32;
  union { uint64_t u; double d; } f64;
  switch (type) {
    case 0x08: return p[0];
    case 0x09: return (signed char)p[0];
    case 0x0B: return (int16_t)be(p, 2);
    case 0x0C: return (float)(int32_t)be(p, 4);
    case 0x0D: f32.u = (uint32_t)be(p, 4); return f32.f;
    default: f64.u = be(p, 8); return (float)f64.d;
  }
}

/* reads exactly n bytes, or fewer at the end of the file; -1 on error */
static long readn(gzFile f, unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    size_t want = n - got > 1u << 30 ? 1u << 30 : n - got;
    int r = gzread(f, buf + got, (unsigned)want);
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (long)got;
}

static ann_Tensor *fail(gzFile f, unsigned char *buf) {
  free(buf);
  if (f) gzclose(f);
  return NULL;
}

ann_Tensor *ann_idx_read(const char *path) {
  unsigned char head[4 + 4 * ANN_MAXDIM], probe;
  int64_t shape[ANN_MAXDIM], n = 1, i;
  size_t need, have = 0, cap = 0;
  unsigned char *buf = NULL;
  ann_Tensor *t;
  int type, ndim, es, d, zerr;
  long r;
  gzFile f = ann_gzopen(path);
  if (f == NULL) return NULL;
  r = readn(f, head, 4);
  if (r < 0) goto ioerror;
  if (r < 4)
    return ann_seterror("%s: byte %ld: file ends inside the 4-byte IDX "
                        "header", path, r), fail(f, NULL);
  if (head[0] != 0 || head[1] != 0)
    return ann_seterror("%s: byte 0: not an IDX file (magic %02x %02x, "
                        "expected 00 00)", path, head[0], head[1]),
           fail(f, NULL);
  type = head[2];
  ndim = head[3];
  if ((es = elemsize(type)) == 0)
    return ann_seterror("%s: byte 2: unknown IDX type code 0x%02x", path,
                        type), fail(f, NULL);
  if (ndim < 1 || ndim > ANN_MAXDIM)
    return ann_seterror("%s: byte 3: %d dims (annlua reads 1 to %d)", path,
                        ndim, ANN_MAXDIM), fail(f, NULL);
  r = readn(f, head + 4, 4 * (size_t)ndim);
  if (r < 0) goto ioerror;
  if (r < 4 * ndim)
    return ann_seterror("%s: byte %ld: file ends inside the dimension "
                        "sizes (%d dims)", path, 4 + r, ndim), fail(f, NULL);
  for (d = 0; d < ndim; d++) {
    shape[d] = (int64_t)be(head + 4 + 4 * d, 4);
    if (shape[d] > 0 && n > (INT64_MAX / 8) / shape[d])
      return ann_seterror("%s: byte %d: dimension sizes overflow", path,
                          4 + 4 * d), fail(f, NULL);
    n *= shape[d];
  }
  need = (size_t)n * (size_t)es;
  /* grow with the data actually read, never to the header's word alone */
  while (have < need) {
    if (have == cap) {
      size_t ncap = cap ? cap * 2 : (size_t)1 << 16;
      unsigned char *nb;
      if (ncap > need) ncap = need;
      nb = realloc(buf, ncap);
      if (nb == NULL)
        return ann_seterror("%s: out of memory", path), fail(f, buf);
      buf = nb; cap = ncap;
    }
    r = readn(f, buf + have, cap - have);
    if (r < 0) goto ioerror;
    if (r == 0) break;
    have += (size_t)r;
  }
  gzerror(f, &zerr);
  if (have < need && zerr == Z_BUF_ERROR)
    return ann_seterror("%s: byte %lu of the data: compressed data ends "
                        "early (file truncated)", path,
                        (unsigned long)(4 + 4 * ndim + have)), fail(f, buf);
  if (have < need)
    return ann_seterror("%s: byte %lu: file ends early: the header announces "
                        "%lld values (%lu bytes of data), the file has %lu",
                        path, (unsigned long)(4 + 4 * ndim + have),
                        (long long)n, (unsigned long)need,
                        (unsigned long)have), fail(f, buf);
  r = readn(f, &probe, 1);
  if (r < 0) goto ioerror;
  /* a gzip stream cut in its trailer still gave all the data: zlib tells
  ** only through gzerror */
  gzerror(f, &zerr);
  if (r == 0 && zerr == Z_BUF_ERROR)
    return ann_seterror("%s: compressed data ends early (file truncated)",
                        path), fail(f, buf);
  if (r > 0)
    return ann_seterror("%s: byte %lu: extra data after the %lld values the "
                        "header announces", path,
                        (unsigned long)(4 + 4 * ndim + need), (long long)n),
           fail(f, buf);
  gzclose(f);
  t = ann_new(ndim, shape);
  if (t == NULL) { free(buf); return NULL; }
  if (type == 0x08)            /* bytes, as in MNIST: no decoding */
    for (i = 0; i < n; i++) t->st->data[i] = buf[i];
  else
    for (i = 0; i < n; i++) t->st->data[i] = decode(buf + i * es, type);
  free(buf);
  return t;
ioerror:
  ann_seterror("%s: read error: %s", path, ann_gzmsg(f, path, &zerr));
  return fail(f, buf);
}
