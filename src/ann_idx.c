/*
** ann_idx.c: reader of IDX files (the format of the MNIST files), raw or
** gzip-compressed.  Nothing in the header is trusted: the file is read
** whole (ann_file_slurp) and the header checked against its size, so a
** header that claims more than the file holds is an error, never a huge
** allocation or a read past the end.
**
** Layout: bytes 0-1 zero; byte 2 the type (0x08 u8, 0x09 i8, 0x0B i16,
** 0x0C i32, 0x0D f32, 0x0E f64); byte 3 the number of dims; then each
** dim as a big-endian u32; then the values, big-endian, row-major.
*/
#include <stdlib.h>

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

ann_Tensor *ann_idx_read(const char *path) {
  return ann_idx_read_opts(path, NULL);
}

ann_Tensor *ann_idx_read_opts(const char *path, const ann_ReadOpts *o) {
  ann_ReadOpts lim = ann_read_limits(o);
  int64_t shape[ANN_MAXDIM], n = 1, i;
  size_t need, have, len;
  const unsigned char *b, *data;
  char *buf;
  ann_Tensor *t;
  int type, ndim, es, d;
  if (ann_file_slurp(path, 1, lim.max_bytes, &buf, &len) < 0) return NULL;
  b = (const unsigned char *)buf;
  if (len < 4)
    return ann_seterror("%s: byte %zu: file ends inside the 4-byte IDX "
                        "header", path, len), ann_free(buf), NULL;
  if (b[0] != 0 || b[1] != 0)
    return ann_seterror("%s: byte 0: not an IDX file (magic %02x %02x, "
                        "expected 00 00)", path, b[0], b[1]),
           ann_free(buf), NULL;
  type = b[2];
  ndim = b[3];
  if ((es = elemsize(type)) == 0)
    return ann_seterror("%s: byte 2: unknown IDX type code 0x%02x", path,
                        type), ann_free(buf), NULL;
  if (ndim < 1 || ndim > ANN_MAXDIM)
    return ann_seterror("%s: byte 3: %d dims (annlua reads 1 to %d)", path,
                        ndim, ANN_MAXDIM), ann_free(buf), NULL;
  if (len < 4 + 4 * (size_t)ndim)
    return ann_seterror("%s: byte %zu: file ends inside the dimension "
                        "sizes (%d dims)", path, len, ndim),
           ann_free(buf), NULL;
  for (d = 0; d < ndim; d++) {
    shape[d] = (int64_t)be(b + 4 + 4 * d, 4);
    if (shape[d] > 0 && n > (INT64_MAX / 8) / shape[d])
      return ann_seterror("%s: byte %d: dimension sizes overflow", path,
                          4 + 4 * d), ann_free(buf), NULL;
    n *= shape[d];
  }
  /* the header is checked against the bytes there, never trusted alone */
  need = (size_t)n * (size_t)es;
  data = b + 4 + 4 * ndim;
  have = len - (4 + 4 * (size_t)ndim);
  if (have < need)
    return ann_seterror("%s: byte %zu: file ends early: the header announces "
                        "%lld values (%zu bytes of data), the file has %zu",
                        path, len, (long long)n, need, have),
           ann_free(buf), NULL;
  if (have > need)
    return ann_seterror("%s: byte %zu: extra data after the %lld values the "
                        "header announces", path, 4 + 4 * (size_t)ndim + need,
                        (long long)n), ann_free(buf), NULL;
  /* a 0 dim before huge ones (no data, but strides past int64) */
  if (ann_shape_numel(path, ndim, shape) < 0
      || ann_check_elements(path, n, lim.max_elements) < 0)
    return ann_free(buf), NULL;
  t = ann_new(ndim, shape);
  if (t == NULL) { ann_free(buf); return NULL; }
  if (type == 0x08)            /* bytes, as in MNIST: no decoding */
    for (i = 0; i < n; i++) t->st->data[i] = data[i];
  else
    for (i = 0; i < n; i++) t->st->data[i] = decode(data + i * es, type);
  ann_free(buf);
  return t;
}
