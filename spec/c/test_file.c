/*
** test_file.c: the model-file container (ann_file.c).  Expected bytes are
** built by hand here, with a bitwise CRC-32 of the test's own, and bad
** files are crafted byte by byte.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static char dir[64], path[128];

/* CRC-32 (IEEE, reflected, poly 0xEDB88320), one bit at a time */
static uint32_t crc_ref(const unsigned char *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & -(c & 1));
  }
  return ~c;
}

static size_t le(unsigned char *b, uint64_t v, int n) {
  for (int i = 0; i < n; i++) b[i] = (unsigned char)(v >> (8 * i));
  return (size_t)n;
}

/* a whole file around body: header, body, trailer with a correct CRC */
static size_t wrap(unsigned char *out, const unsigned char *body, size_t len,
                   uint32_t version) {
  static const unsigned char magic[8] = {0x89, 'A', 'N', 'N', 13, 10, 26, 10};
  size_t n = 0;
  memcpy(out, magic, 8); n = 8;
  n += le(out + n, version, 4);
  n += le(out + n, len, 8);
  memcpy(out + n, body, len); n += len;
  n += le(out + n, len, 8);
  n += le(out + n, crc_ref(out, 20 + len), 4);
  return n;
}

static void put_file(const char *p, const unsigned char *b, size_t n) {
  FILE *f = fopen(p, "wb");
  fwrite(b, 1, n, f);
  fclose(f);
}

/* opening must fail with an error containing part */
static void check_bad(const unsigned char *b, size_t n, const char *part) {
  ann_Reader r;
  put_file(path, b, n);
  CHECK_ERR(ann_reader_open(&r, path, 1 << 20) >= 0, part);
}

static void test_crc(void) {
  /* the published check value of CRC-32 */
  CHECK(ann_crc32(0, "123456789", 9) == 0xCBF43926u);
  CHECK(crc_ref((const unsigned char *)"123456789", 9) == 0xCBF43926u);
  CHECK(ann_crc32(ann_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
}

/* "hi" and a transposed 2x3 view, written and compared with hand bytes */
static void test_layout(void) {
  float v[6] = {1, 2, 3, 4, 5, 6};
  int64_t shape[2] = {3, 2};
  ann_Tensor *a = ann_from_data(v, 2, shape);       /* [[1,2],[3,4],[5,6]] */
  ann_Tensor *t = ann_transpose(a, 0, 1);           /* [[1,3,5],[2,4,6]] */
  unsigned char body[64], want[128], got[256];
  float tv[6] = {1, 3, 5, 2, 4, 6};
  size_t n = 0, wn, gn;
  ann_Writer *w = ann_writer_open(path);
  CHECK(w != NULL);
  CHECK(ann_writer_bytes(w, "hi", 2) == 0);
  CHECK(ann_writer_tensor(w, t) == 0);
  CHECK(ann_writer_commit(w) == 0);
  body[n++] = 'h'; body[n++] = 'i'; body[n++] = 2;
  n += le(body + n, 2, 8);
  n += le(body + n, 3, 8);
  for (int i = 0; i < 6; i++) {
    uint32_t u;
    memcpy(&u, &tv[i], 4);
    n += le(body + n, u, 4);
  }
  wn = wrap(want, body, n, 1);
  gn = test_slurp(path, got, sizeof got);
  CHECK(gn == wn && wn == 20 + 43 + 12);
  CHECK(memcmp(got, want, wn) == 0);
  /* 1.0f is 00 00 80 3F in the file */
  CHECK(got[20 + 19] == 0x00 && got[20 + 21] == 0x80 && got[20 + 22] == 0x3F);
  {
    ann_Reader r;
    const char *s;
    ann_Tensor *u;
    float x;
    CHECK(ann_reader_open(&r, path, 1 << 20) == 0);
    CHECK(r.version == 1 && ann_reader_left(&r) == 43);
    s = ann_reader_take(&r, 2, "two bytes");
    CHECK(s != NULL && memcmp(s, "hi", 2) == 0);
    u = ann_reader_tensor(&r);
    CHECK(u != NULL && u->ndim == 2 && u->shape[0] == 2 && u->shape[1] == 3);
    if (u) {
      int64_t idx[2] = {1, 2};
      ann_get(u, idx, &x);
      CHECK(x == 6);
      CHECK(ann_allclose(u, t, 0, 0) == 1);
    }
    CHECK(ann_reader_left(&r) == 0);
    CHECK_ERR(ann_reader_take(&r, 1, "one more byte"), "one more byte needs 1");
    ann_release(u);
    ann_reader_close(&r);
  }
  ann_release(t);
  ann_release(a);
}

/* every prefix is "truncated"; foreign, newer, corrupted files say so */
static void test_bad_files(void) {
  unsigned char body[4] = {'a', 'b', 'c', 'd'}, f[64], g[64];
  size_t n = wrap(f, body, 4, 1);
  ann_Reader r;
  CHECK(n == 36);
  put_file(path, f, n);
  CHECK(ann_reader_open(&r, path, 1 << 20) == 0);
  ann_reader_close(&r);
  for (size_t k = 0; k < n; k++) check_bad(f, k, "truncated");
  check_bad(f, 19, "truncated: 19 bytes");
  check_bad(f, 30, "truncated: 30 bytes, expected 36");
  memcpy(g, f, n); g[0] = 'P';
  check_bad(g, n, "bad magic");
  /* text-mode damage: CRLF -> LF, and LF -> CRLF */
  memcpy(g, f, 4); memcpy(g + 4, f + 5, n - 5);
  check_bad(g, n - 1, "bad magic");
  memcpy(g, f, 7); g[7] = '\r'; memcpy(g + 8, f + 7, n - 7);
  check_bad(g, n + 1, "bad magic");
  check_bad((const unsigned char *)"PK\3\4", 4, "bad magic");
  check_bad(f, 0, "truncated: 0 bytes");
  n = wrap(g, body, 4, 2);
  check_bad(g, n, "format version 2 is newer than this annlua reads (1)");
  n = wrap(g, body, 4, 0);
  check_bad(g, n, "format version 0");
  memcpy(g, f, 36); g[22] ^= 0x10;
  check_bad(g, 36, "CRC-32 mismatch");
  memcpy(g, f, 36); g[34] ^= 0x01;                  /* in the CRC itself */
  check_bad(g, 36, "CRC-32 mismatch");
  memcpy(g, f, 36); g[24] = 5;                      /* trailer length */
  check_bad(g, 36, "trailer length 5");
  memcpy(g, f, 36); g[36] = 0;
  check_bad(g, 37, "1 extra bytes");
  memcpy(g, f, 36); le(g + 12, 0xFFFFFFFFFFFFFFF0u, 8);
  check_bad(g, 36, "corrupted: body length");
  memcpy(g, f, 36); le(g + 12, 1000, 8);
  check_bad(g, 36, "truncated: 36 bytes, expected 1032");
  put_file(path, f, 36);
  CHECK_ERR(ann_reader_open(&r, path, 35) >= 0, "more than 35 (the max_bytes limit)");
  CHECK_ERR(ann_reader_open(&r, dir, 1 << 20) >= 0, "is a directory");
  CHECK_ERR(ann_reader_open(&r, "/nonexistent/x.ann", 1 << 20) >= 0,
            "No such file");
}

/* tensors with lying shapes are refused before any allocation */
static void test_bad_tensors(void) {
  unsigned char body[128], f[256];
  ann_Reader r;
  size_t n;
  struct { int ndim; uint64_t d[2]; const char *err; } cases[] = {
    {2, {1000, 1000}, "data needs 4000000 bytes, 16 left"},
    {2, {(uint64_t)1 << 40, (uint64_t)1 << 40}, "too large"},
    {1, {UINT64_MAX, 0}, "too large"},
    {9, {1, 1}, "9 dims"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    n = 0;
    body[n++] = (unsigned char)cases[c].ndim;
    for (int i = 0; i < 2; i++) n += le(body + n, cases[c].d[i], 8);
    memset(body + n, 0, 16); n += 16;
    put_file(path, f, wrap(f, body, n, 1));
    CHECK(ann_reader_open(&r, path, 1 << 20) == 0);
    CHECK_ERR(ann_reader_tensor(&r), cases[c].err);
    ann_reader_close(&r);
  }
  /* a shape cut short */
  n = 0; body[n++] = 3; n += le(body + n, 1, 8);
  put_file(path, f, wrap(f, body, n, 1));
  CHECK(ann_reader_open(&r, path, 1 << 20) == 0);
  CHECK_ERR(ann_reader_tensor(&r), "a tensor's shape needs 24 bytes, 8 left");
  ann_reader_close(&r);
}

/* 0-dim and empty tensors; an expanded (stride 0) view is materialised */
static void test_shapes(void) {
  int64_t e[2] = {0, 5}, s3[2] = {3, 4};
  ann_Tensor *sc = ann_scalar(-2.5f), *em = ann_zeros(2, e);
  ann_Tensor *row = ann_arange(1, 4, 1);                /* [1,2,3,4] */
  ann_Tensor *ex = ann_expand(row, 2, s3), *u;
  ann_Writer *w = ann_writer_open(path);
  ann_Reader r;
  float x;
  ann_writer_tensor(w, sc);
  ann_writer_tensor(w, em);
  ann_writer_tensor(w, ex);
  CHECK(ann_writer_commit(w) == 0);
  CHECK(ann_reader_open(&r, path, 1 << 20) == 0);
  CHECK(ann_reader_left(&r) == (1 + 4) + (1 + 16) + (1 + 16 + 48));
  u = ann_reader_tensor(&r);
  CHECK(u && u->ndim == 0 && ann_item(u, &x) == 0 && x == -2.5f);
  ann_release(u);
  u = ann_reader_tensor(&r);
  CHECK(u && u->ndim == 2 && u->shape[0] == 0 && u->shape[1] == 5);
  ann_release(u);
  u = ann_reader_tensor(&r);
  CHECK(u && ann_allclose(u, ex, 0, 0) == 1 && ann_is_contiguous(u));
  ann_release(u);
  ann_reader_close(&r);
  ann_release(ex); ann_release(row); ann_release(em); ann_release(sc);
}

/* the temp file sits beside the target and goes away on abort; commit
** replaces the old file and keeps its permissions */
static void test_atomic(void) {
  char tmp[160];
  struct stat st;
  unsigned char old[64], b[64];
  size_t n = wrap(old, (const unsigned char *)"old", 3, 1);
  ann_Writer *w;
  put_file(path, old, n);
  chmod(path, 0640);
  w = ann_writer_open(path);
  CHECK(w != NULL);
  ann_writer_bytes(w, "new", 3);
  {   /* .<name>.ann-tmp-<pid> beside it (docs/file-format.md) */
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path) + 1 : 0;
    snprintf(tmp, sizeof tmp, "%.*s.%s.ann-tmp-%ld", dl, path, path + dl,
             (long)getpid());
  }
  CHECK(stat(tmp, &st) == 0);
  ann_writer_abort(w);
  CHECK(stat(tmp, &st) != 0);
  CHECK(test_slurp(path, b, sizeof b) == n && memcmp(b, old, n) == 0);
  /* a stale temp file of our pid is stepped around, not clobbered */
  put_file(tmp, (const unsigned char *)"stale", 5);
  w = ann_writer_open(path);
  ann_writer_bytes(w, "new", 3);
  CHECK(ann_writer_commit(w) == 0);
  CHECK(test_slurp(tmp, b, sizeof b) == 5);
  unlink(tmp);
  n = wrap(old, (const unsigned char *)"new", 3, 1);
  CHECK(test_slurp(path, b, sizeof b) == n && memcmp(b, old, n) == 0);
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
  CHECK_ERR(ann_writer_open("/nonexistent/dir/m.ann"), "No such file");
  CHECK_ERR(ann_writer_open(""), "empty file name");
  CHECK_ERR(ann_writer_bytes(NULL, "x", 1) >= 0, "closed");
  ann_writer_abort(NULL);
}

int main(void) {
  strcpy(dir, "/tmp/test_file_XXXXXX");
  if (mkdtemp(dir) == NULL) { perror("mkdtemp"); return 1; }
  snprintf(path, sizeof path, "%s/m.ann", dir);
  test_crc();
  test_layout();
  test_bad_files();
  test_bad_tensors();
  test_shapes();
  test_atomic();
  unlink(path);
  rmdir(dir);
  return test_report();
}
