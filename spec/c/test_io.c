/*
** test_io.c: the file readers and writers (ann_csv.c, ann_idx.c,
** ann_npy.c).  Small files are written by hand, byte by byte, in a fresh
** temporary directory; the expected values are the ones written.  The
** real data sets in examples/data are checked against facts computed
** outside annlua (class counts and column sums from awk and Python's
** gzip module).  Bad files: empty, cut at every header byte, wrong magic,
** lying sizes, trailing data, bad cells, ragged rows, open quotes.
*/
#include <dirent.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "test.h"

static char dir[64];

static const char *tmp(const char *name) {
  static char buf[4][256];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static const char *put(const char *name, const void *data, size_t n) {
  const char *path = tmp(name);
  FILE *f = fopen(path, "wb");
  if (f == NULL) { perror(path); exit(2); }
  if (n) fwrite(data, 1, n, f);
  fclose(f);
  return path;
}

static const char *puts_(const char *name, const char *text) {
  return put(name, text, strlen(text));
}

static const char *putgz(const char *name, const void *data, size_t n) {
  const char *path = tmp(name);
  gzFile f = gzopen(path, "wb");
  if (f == NULL) { perror(path); exit(2); }
  if (n) gzwrite(f, data, (unsigned)n);
  gzclose(f);
  return path;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* t has this shape and these values, exactly */
static int holds(const ann_Tensor *t, int ndim, const int64_t *shape,
                 const float *v) {
  int64_t i, n = 1;
  int d;
  if (t == NULL || t->ndim != ndim) return 0;
  for (d = 0; d < ndim; d++) {
    if (t->shape[d] != shape[d]) return 0;
    n *= shape[d];
  }
  for (i = 0; i < n; i++)
    if (ann_data(t)[i] != v[i]) return 0;
  return 1;
}

#define S(...) ((const int64_t[]){__VA_ARGS__})
#define V(...) ((const float[]){__VA_ARGS__})

/* ---- CSV -------------------------------------------------------------- */

static int csv(const char *path, const ann_CsvOpts *o, ann_Csv *c) {
  return ann_csv_read(path, o, c) == 0;
}

static void test_csv_basic(void) {
  ann_CsvOpts o;
  ann_Csv c;
  ann_csv_defaults(&o);
  /* auto header, label last, float target */
  CHECK(csv(puts_("a.csv", "a,b,c\n1,2,3\n4,5,6\n"), &o, &c));
  CHECK(c.header == 1);
  CHECK(holds(c.x, 2, S(2, 2), V(1, 2, 4, 5)));
  CHECK(holds(c.y, 1, S(2), V(3, 6)));
  CHECK(c.nclasses == 0 && c.names == NULL);
  ann_csv_free(&c);
  CHECK(c.x == NULL && c.y == NULL);
  /* no header; CRLF, blank and white lines, no final newline, spaces */
  CHECK(csv(puts_("b.csv", "\r\n1, 2 ,0.5\r\n\r\n  \n\t\n-3e1,4.25,  1\r\n\n"
                           "7,8,9"), &o, &c));
  CHECK(c.header == 0);
  CHECK(holds(c.x, 2, S(3, 2), V(1, 2, -30, 4.25, 7, 8)));
  CHECK(holds(c.y, 1, S(3), V(0.5, 1, 9)));
  ann_csv_free(&c);
  /* lone \r line ends (old Mac files) */
  CHECK(csv(puts_("c.csv", "1,2\r3,4\r"), &o, &c));
  CHECK(holds(c.x, 2, S(2, 1), V(1, 3)) && holds(c.y, 1, S(2), V(2, 4)));
  ann_csv_free(&c);
  /* a UTF-8 byte order mark is not part of the first cell */
  CHECK(csv(puts_("bom.csv", "\xEF\xBB\xBF" "1,2\n"), &o, &c));
  CHECK(holds(c.x, 2, S(1, 1), V(1)));
  ann_csv_free(&c);
  /* a one-row, one-column file with no label */
  o.has_label = 0;
  CHECK(csv(puts_("d.csv", "42"), &o, &c));
  CHECK(holds(c.x, 2, S(1, 1), V(42)) && c.y == NULL);
  ann_csv_free(&c);
  /* NULL options: the defaults */
  CHECK(csv(puts_("e.csv", "1,2\n"), NULL, &c));
  CHECK(holds(c.x, 2, S(1, 1), V(1)) && holds(c.y, 1, S(1), V(2)));
  ann_csv_free(&c);
}

static void test_csv_quotes(void) {
  ann_CsvOpts o;
  ann_Csv c;
  ann_csv_defaults(&o);
  o.classes = 1;
  CHECK(csv(puts_("q.csv", "\"x,1\",\"y \"\"q\"\"\",label\n"
                           "\"1.5\",2,\"a,b\"\n"
                           "3, \"4\" ,\"c\"\"\"\n"
                           "5,6,\"two\nlines\"\n"
                           "7,8,\"\"\n"), &o, &c));
  CHECK(c.header == 1);
  CHECK(holds(c.x, 2, S(4, 2), V(1.5, 2, 3, 4, 5, 6, 7, 8)));
  /* bytewise order: "" < "a,b" < "c\"" < "two\nlines" */
  CHECK(c.nclasses == 4 && !c.numeric && c.values == NULL);
  if (c.nclasses == 4) {
    CHECK(strcmp(c.names[0], "") == 0);
    CHECK(strcmp(c.names[1], "a,b") == 0);
    CHECK(strcmp(c.names[2], "c\"") == 0);
    CHECK(strcmp(c.names[3], "two\nlines") == 0);
  }
  CHECK(holds(c.y, 1, S(4), V(2, 3, 4, 1)));
  ann_csv_free(&c);
  /* the line count goes on inside a quoted cell: the error is on line 3 */
  o.label = 0;
  CHECK_ERR(csv(puts_("q2.csv", "\"a\nb\",1\nc,x\n"), &o, &c),
            "q2.csv:3:2: \"x\" is not a number");
}

static void test_csv_classes(void) {
  ann_CsvOpts o;
  ann_Csv c;
  ann_csv_defaults(&o);
  o.classes = 1;
  /* numbers sort numerically (lexically "10" < "2" < "9"); 2 and 2.0 are
  ** one class */
  CHECK(csv(puts_("n.csv", "0,10\n1,9\n2,2\n3,10\n4,2.0\n"), &o, &c));
  CHECK(holds(c.y, 1, S(5), V(3, 2, 1, 3, 1)));
  CHECK(c.nclasses == 3 && c.numeric);
  if (c.nclasses == 3 && c.values)
    CHECK(c.values[0] == 2 && c.values[1] == 9 && c.values[2] == 10);
  ann_csv_free(&c);
  /* strings sort bytewise: "B" < "a" < "b" */
  CHECK(csv(puts_("s.csv", "1,b\n2,a\n3,B\n4,b\n"), &o, &c));
  CHECK(holds(c.y, 1, S(4), V(3, 2, 1, 3)));
  CHECK(c.nclasses == 3 && !c.numeric);
  if (c.nclasses == 3)
    CHECK(!strcmp(c.names[0], "B") && !strcmp(c.names[1], "a") &&
          !strcmp(c.names[2], "b"));
  ann_csv_free(&c);
  /* numbers mixed with words: all compared as text, "10" < "9" < "x" */
  CHECK(csv(puts_("m.csv", "1,9\n2,x\n3,10\n"), &o, &c));
  CHECK(holds(c.y, 1, S(3), V(2, 3, 1)) && !c.numeric);
  ann_csv_free(&c);
  /* a label column chosen by number (0-based in C), from the end, by name */
  o.label = 0;
  CHECK(csv(puts_("l.csv", "k,u,v\n5,1,2\n7,3,4\n5,5,6\n"), &o, &c));
  CHECK(holds(c.x, 2, S(3, 2), V(1, 2, 3, 4, 5, 6)));
  CHECK(holds(c.y, 1, S(3), V(1, 2, 1)));
  ann_csv_free(&c);
  o.label = -2;
  CHECK(csv(tmp("l.csv"), &o, &c));
  CHECK(holds(c.x, 2, S(3, 2), V(5, 2, 7, 4, 5, 6)));
  CHECK(holds(c.y, 1, S(3), V(1, 2, 3)));
  ann_csv_free(&c);
  o.label_name = "v";
  o.classes = 0;
  CHECK(csv(tmp("l.csv"), &o, &c));
  CHECK(holds(c.x, 2, S(3, 2), V(5, 1, 7, 3, 5, 5)));
  CHECK(holds(c.y, 1, S(3), V(2, 4, 6)));
  ann_csv_free(&c);
  /* a label given by name makes the first line a header even if numeric */
  o.label_name = "2";
  CHECK(csv(puts_("l2.csv", "1,2\n3,4\n"), &o, &c));
  CHECK(c.header == 1 && holds(c.y, 1, S(1), V(4)));
  ann_csv_free(&c);
  /* no label: x alone, every column */
  o.label_name = NULL;
  o.has_label = 0;
  o.header = 1;
  CHECK(csv(tmp("l.csv"), &o, &c));
  CHECK(holds(c.x, 2, S(3, 3), V(5, 1, 2, 7, 3, 4, 5, 5, 6)) && c.y == NULL);
  ann_csv_free(&c);
  /* the label column holding words is not a reason to see a header */
  ann_csv_defaults(&o);
  o.classes = 1;
  CHECK(csv(puts_("w.csv", "1,2,cat\n3,4,dog\n"), &o, &c));
  CHECK(c.header == 0 && holds(c.y, 1, S(2), V(1, 2)));
  ann_csv_free(&c);
}

static void test_csv_delimiters(void) {
  ann_CsvOpts o;
  ann_Csv c;
  ann_csv_defaults(&o);
  o.delimiter = ';';
  o.header = 0;
  CHECK_ERR(csv(puts_("semi.csv", "1,5;2;\"x;y\"\n3;4;z\n"), &o, &c),
            "semi.csv:1:1: \"1,5\" is not");
  o.classes = 1;
  CHECK(csv(puts_("semi2.csv", "1;2;\"x;y\"\n3;4;z\n"), &o, &c));
  CHECK(holds(c.x, 2, S(2, 2), V(1, 2, 3, 4)) && c.nclasses == 2);
  if (c.nclasses == 2) CHECK(strcmp(c.names[0], "x;y") == 0);
  ann_csv_free(&c);
  /* tabs: an empty cell between two tabs is a cell, not white space */
  o.delimiter = '\t';
  o.classes = 0;
  o.header = -1;
  CHECK(csv(puts_("tab.tsv", "a\tb\n1\t2\n 3 \t4\n"), &o, &c));
  CHECK(holds(c.x, 2, S(2, 1), V(1, 3)) && holds(c.y, 1, S(2), V(2, 4)));
  ann_csv_free(&c);
  CHECK_ERR(csv(puts_("tab2.tsv", "1\t2\t3\n4\t\t5\n"), &o, &c),
            "tab2.tsv:2:2: empty cell");
  o.delimiter = '"';
  CHECK_ERR(csv(tmp("tab.tsv"), &o, &c), "bad delimiter");
  o.delimiter = '\n';
  CHECK_ERR(csv(tmp("tab.tsv"), &o, &c), "bad delimiter");
}

static void test_csv_errors(void) {
  ann_CsvOpts o;
  ann_Csv c;
  char want[300];
  ann_csv_defaults(&o);
  CHECK_ERR(csv(puts_("bad.csv", "a,b,c\n1,2,3\n4,abc,6\n"), &o, &c),
            "bad.csv:3:2: \"abc\" is not a number");
  CHECK(c.x == NULL && c.y == NULL);
  snprintf(want, sizeof want, "%s: empty file", tmp("empty.csv"));
  CHECK_ERR(csv(puts_("empty.csv", ""), &o, &c), want);
  CHECK_ERR(csv(puts_("blank.csv", "\n\r\n  \n"), &o, &c), "empty file");
  CHECK_ERR(csv(puts_("hdr.csv", "x,y,z\n\n"), &o, &c),
            "no data rows after the header (line 1)");
  CHECK_ERR(csv(puts_("rag.csv", "1,2,3\n4,5,6\n\n7,8,9,10\n"), &o, &c),
            "rag.csv:4: 4 fields, expected 3");
  CHECK_ERR(csv(puts_("rag2.csv", "1,2,3\n4\n"), &o, &c),
            "rag2.csv:2: 1 field, expected 3");
  CHECK_ERR(csv(puts_("rag3.csv", "1,2\n3,4,\n"), &o, &c),
            "rag3.csv:2: 3 fields, expected 2");
  CHECK_ERR(csv(puts_("open.csv", "1,2\n3,\"4\n5,6\n"), &o, &c),
            "open.csv:2:2: unterminated quoted field");
  CHECK_ERR(csv(puts_("after.csv", "1,\"2\"x\n"), &o, &c),
            "after.csv:1:2: unexpected 'x' after a closing quote");
  CHECK_ERR(csv(puts_("emptycell.csv", "1,2\n,3\n"), &o, &c),
            "emptycell.csv:2:1: empty cell, expected a number");
  CHECK_ERR(csv(puts_("big.csv", "1,1e39\n"), &o, &c),
            "big.csv:1:2: 1e39 is out of float32 range");
  CHECK_ERR(csv(puts_("tail.csv", "1,2\n3,4x\n"), &o, &c),
            "tail.csv:2:2: \"4x\" is not a number");
  /* a word as a float target */
  CHECK_ERR(csv(puts_("word.csv", "1,2\n3,cat\n"), &o, &c),
            "word.csv:2:2: \"cat\" is not a number");
  /* label columns that are not there */
  o.label = 5;
  CHECK_ERR(csv(puts_("three.csv", "1,2,3\n"), &o, &c),
            "three.csv:1: label column 6 out of range (3 columns)");
  o.label = -4;
  CHECK_ERR(csv(tmp("three.csv"), &o, &c), "out of range (3 columns)");
  o.label = -1;
  o.label_name = "nope";
  CHECK_ERR(csv(puts_("named.csv", "a,b\n1,2\n"), &o, &c),
            "named.csv:1: no column named \"nope\" in the header");
  o.header = 0;
  o.label_name = "b";
  CHECK_ERR(csv(tmp("named.csv"), &o, &c), "given by name");
  o.header = 7;
  CHECK_ERR(csv(tmp("named.csv"), &o, &c), "header = 7");
  /* long bad cells are cut in the message */
  ann_csv_defaults(&o);
  CHECK_ERR(csv(puts_("long.csv", "1,aaaaaaaaaaaaaaaaaaaaaaaaa"
                                  "aaaaaaaaaaaaaaaaaaaaaaaaa\n"), &o, &c),
            "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" is not");
  CHECK_ERR(csv(tmp("missing.csv"), &o, &c), "cannot open file");
  CHECK_ERR(csv(dir, &o, &c), "read error");
  CHECK_ERR(ann_csv_read(NULL, &o, &c) == 0, "no path");
}

static void test_csv_gzip(void) {
  static const char text[] = "f1,f2,y\n1,2,a\n3,4,b\n5,6,a\n";
  unsigned char buf[256];
  ann_CsvOpts o;
  ann_Csv c;
  size_t n;
  ann_csv_defaults(&o);
  o.classes = 1;
  CHECK(csv(putgz("g.csv.gz", text, strlen(text)), &o, &c));
  CHECK(holds(c.x, 2, S(3, 2), V(1, 2, 3, 4, 5, 6)));
  CHECK(holds(c.y, 1, S(3), V(1, 2, 1)));
  ann_csv_free(&c);
  /* a cut gzip stream is an error, not a shorter file */
  n = test_slurp(tmp("g.csv.gz"), buf, sizeof buf);
  CHECK(n > 20);
  CHECK_ERR(csv(put("cut.csv.gz", buf, n - 4), &o, &c),
            "compressed data ends early");
  CHECK_ERR(csv(put("cut2.csv.gz", buf, 12), &o, &c),
            "compressed data ends early");
  /* a damaged checksum */
  buf[n - 8] ^= 0xff;
  CHECK_ERR(csv(put("crc.csv.gz", buf, n), &o, &c), "read error");
}

static void test_csv_real(void) {
  ann_CsvOpts o;
  ann_Csv c;
  double sum[4] = {0}, t0, times[5];
  int64_t i, j, count[10] = {0};
  int k, ok;
  ann_csv_defaults(&o);
  o.classes = 1;
  /* sklearn's first line "150,4,setosa,..." is a header; auto sees it */
  ok = csv("examples/data/iris.csv", &o, &c);
  CHECK(ok);
  if (ok) {
    CHECK(c.header == 1 && c.x->shape[0] == 150 && c.x->shape[1] == 4);
    CHECK(ann_data(c.x)[0] == 5.1f && ann_data(c.x)[3] == 0.2f);
    for (i = 0; i < 150; i++) {
      for (j = 0; j < 4; j++) sum[j] += ann_data(c.x)[i * 4 + j];
      count[(int)ann_data(c.y)[i] - 1]++;
    }
    /* column sums by awk: 876.5 458.6 563.7 179.9; 50 per class */
    CHECK_NEAR(sum[0], 876.5, 1e-3);
    CHECK_NEAR(sum[1], 458.6, 1e-3);
    CHECK_NEAR(sum[2], 563.7, 1e-3);
    CHECK_NEAR(sum[3], 179.9, 1e-3);
    CHECK(count[0] == 50 && count[1] == 50 && count[2] == 50);
    CHECK(c.nclasses == 3 && c.numeric && c.values[0] == 0 &&
          c.values[2] == 2);
    ann_csv_free(&c);
  }
  o.header = 0;
  CHECK_ERR(csv("examples/data/iris.csv", &o, &c),
            "iris.csv:1:3: \"setosa\" is not a number");
  /* digits: 1797 x 64 pixels 0..16, digits 0..9 as classes 1..10 */
  o.header = -1;
  for (k = 0; k < 5; k++) {
    t0 = now();
    ok = csv("examples/data/digits.csv.gz", &o, &c);
    times[k] = now() - t0;
    if (!ok) break;
    if (k < 4) ann_csv_free(&c);
  }
  CHECK(ok);
  if (ok) {
    static const int64_t want[10] = {178, 182, 177, 183, 181, 182, 181, 179,
                                     174, 180};
    double total = 0, max = 0;
    CHECK(c.header == 0 && c.x->shape[0] == 1797 && c.x->shape[1] == 64);
    for (i = 0; i < 1797 * 64; i++) {
      total += ann_data(c.x)[i];
      if (ann_data(c.x)[i] > max) max = ann_data(c.x)[i];
    }
    CHECK(total == 561718 && max == 16);     /* by awk */
    memset(count, 0, sizeof count);
    for (i = 0; i < 1797; i++) count[(int)ann_data(c.y)[i] - 1]++;
    for (k = 0; k < 10; k++) CHECK(count[k] == want[k]);
    CHECK(c.nclasses == 10 && c.numeric && c.values[9] == 9);
    ann_csv_free(&c);
    qsort(times, 5, sizeof times[0], cmpd);
    printf("csv: digits.csv.gz, 1797 rows: median %.2f ms, %.0f rows/s\n",
           times[2] * 1e3, 1797 / times[2]);
  }
}

/* ---- IDX -------------------------------------------------------------- */

static void test_idx_good(void) {
  static const unsigned char u8[] = {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 1,
                                     0, 0, 0, 3, 0, 1, 2, 253, 254, 255};
  static const unsigned char i8[] = {0, 0, 0x09, 1, 0, 0, 0, 3, 0x80, 0xff,
                                     0x7f};
  static const unsigned char i16[] = {0, 0, 0x0B, 1, 0, 0, 0, 2, 0xff, 0xfe,
                                      0x01, 0x00};
  static const unsigned char i32[] = {0, 0, 0x0C, 1, 0, 0, 0, 2, 0xff, 0xff,
                                      0xff, 0xfd, 0x00, 0x01, 0x00, 0x00};
  /* 1.5f = 0x3fc00000, -2.0 = 0xc000000000000000 */
  static const unsigned char f32[] = {0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3f, 0xc0,
                                      0, 0};
  static const unsigned char f64[] = {0, 0, 0x0E, 2, 0, 0, 0, 1, 0, 0, 0, 1,
                                      0xc0, 0, 0, 0, 0, 0, 0, 0};
  static const unsigned char empty[] = {0, 0, 0x08, 2, 0, 0, 0, 0, 0, 0, 0, 5};
  ann_Tensor *t;
  t = ann_idx_read(put("u8.idx", u8, sizeof u8));
  CHECK(holds(t, 3, S(2, 1, 3), V(0, 1, 2, 253, 254, 255)));
  ann_release(t);
  t = ann_idx_read(putgz("u8.idx.gz", u8, sizeof u8));
  CHECK(holds(t, 3, S(2, 1, 3), V(0, 1, 2, 253, 254, 255)));
  ann_release(t);
  t = ann_idx_read(put("i8.idx", i8, sizeof i8));
  CHECK(holds(t, 1, S(3), V(-128, -1, 127)));
  ann_release(t);
  t = ann_idx_read(put("i16.idx", i16, sizeof i16));
  CHECK(holds(t, 1, S(2), V(-2, 256)));
  ann_release(t);
  t = ann_idx_read(put("i32.idx", i32, sizeof i32));
  CHECK(holds(t, 1, S(2), V(-3, 65536)));
  ann_release(t);
  t = ann_idx_read(put("f32.idx", f32, sizeof f32));
  CHECK(holds(t, 1, S(1), V(1.5)));
  ann_release(t);
  t = ann_idx_read(put("f64.idx", f64, sizeof f64));
  CHECK(holds(t, 2, S(1, 1), V(-2)));
  ann_release(t);
  t = ann_idx_read(put("e.idx", empty, sizeof empty));
  CHECK(t && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 5);
  ann_release(t);
}

static void test_idx_bad(void) {
  unsigned char b[64] = {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2,
                         1, 2, 3, 4, 5, 6, 7, 8};
  const size_t good = 24;
  unsigned char gz[256];
  char want[300];
  size_t n;
  ann_Tensor *t = ann_idx_read(put("ok.idx", b, good));
  CHECK(t != NULL);
  ann_release(t);
  snprintf(want, sizeof want, "%s: byte 0:", tmp("cut.idx"));
  CHECK_ERR(ann_idx_read(put("cut.idx", b, 0)) != NULL, want);
  /* cut at every byte of the header and of the data */
  for (n = 0; n < good; n++) {
    snprintf(want, sizeof want, "byte %zu:", n);
    CHECK_ERR(ann_idx_read(put("cut.idx", b, n)) != NULL, want);
    CHECK_ERR(ann_idx_read(putgz("cut.idx.gz", b, n)) != NULL, want);
  }
  CHECK_ERR(ann_idx_read(put("long.idx", b, good + 1)) != NULL,
            "byte 24: extra data after the 8 values");
  b[1] = 1;
  CHECK_ERR(ann_idx_read(put("magic.idx", b, good)) != NULL,
            "byte 0: not an IDX file");
  b[1] = 0; b[2] = 0x0A;
  CHECK_ERR(ann_idx_read(put("type.idx", b, good)) != NULL,
            "unknown IDX type code 0x0a");
  b[2] = 0x08; b[3] = 0;
  CHECK_ERR(ann_idx_read(put("dims0.idx", b, good)) != NULL, "0 dims");
  b[3] = 9;
  CHECK_ERR(ann_idx_read(put("dims9.idx", b, good)) != NULL, "9 dims");
  /* a header that promises 2^32-1 x 2 x 2 bytes of a 24-byte file */
  b[3] = 3; b[4] = b[5] = b[6] = b[7] = 0xff;
  CHECK_ERR(ann_idx_read(put("lie.idx", b, good)) != NULL, "file ends early");
  /* products past 2^63 */
  b[8] = b[9] = b[10] = b[11] = b[12] = b[13] = b[14] = b[15] = 0xff;
  CHECK_ERR(ann_idx_read(put("huge.idx", b, good)) != NULL, "overflow");
  /* gzip streams cut in the data and in the trailer (CRC, length) */
  b[3] = 3; b[4] = b[5] = b[6] = 0; b[7] = 2;
  b[8] = b[9] = b[10] = 0; b[11] = 2; b[12] = b[13] = b[14] = 0; b[15] = 2;
  n = test_slurp(putgz("z.idx.gz", b, good), gz, sizeof gz);
  t = ann_idx_read(tmp("z.idx.gz"));
  CHECK(holds(t, 3, S(2, 2, 2), V(1, 2, 3, 4, 5, 6, 7, 8)));
  ann_release(t);
  CHECK_ERR(ann_idx_read(put("z1.idx.gz", gz, n - 4)) != NULL,
            "compressed data ends early");
  CHECK_ERR(ann_idx_read(put("z2.idx.gz", gz, n - 16)) != NULL,
            "compressed data ends early");
  gz[n - 8] ^= 1;
  CHECK_ERR(ann_idx_read(put("z3.idx.gz", gz, n)) != NULL, "read error");
  snprintf(want, sizeof want, "%s: cannot open file", tmp("none.idx"));
  CHECK_ERR(ann_idx_read(tmp("none.idx")) != NULL, want);
}

static void test_idx_mnist(void) {
  const char *img = "examples/data/mnist-train-8k-images-idx3-ubyte.gz";
  double times[5], t0, sum = 0;
  ann_Tensor *x = NULL, *y;
  int64_t i, count[10] = {0};
  int k, ok = 1;
  for (k = 0; k < 5 && ok; k++) {
    ann_release(x);
    t0 = now();
    x = ann_idx_read(img);
    times[k] = now() - t0;
    ok = x != NULL;
  }
  CHECK(ok);
  if (!ok) return;
  CHECK(x->ndim == 3 && x->shape[0] == 8000 && x->shape[1] == 28 &&
        x->shape[2] == 28);
  for (i = 0; i < ann_numel(x); i++) sum += ann_data(x)[i];
  CHECK(sum == 209812346);                  /* by Python's gzip module */
  /* row 14 of the first image starts with 7 zeros, then 0x66 = 102 */
  CHECK(ann_data(x)[14 * 28 + 6] == 0 && ann_data(x)[14 * 28 + 7] == 102);
  ann_release(x);
  qsort(times, 5, sizeof times[0], cmpd);
  printf("idx: MNIST-8k images (6.3 MB): median of 5 loads %.1f ms\n",
         times[2] * 1e3);
  y = ann_idx_read("examples/data/mnist-train-8k-labels-idx1-ubyte.gz");
  CHECK(y && y->ndim == 1 && y->shape[0] == 8000);
  if (y) {
    static const int64_t want[10] = {799, 913, 801, 813, 781, 689, 809, 865,
                                     747, 783};   /* by od | sort | uniq */
    for (i = 0; i < 8000; i++) count[(int)ann_data(y)[i]]++;
    for (k = 0; k < 10; k++) CHECK(count[k] == want[k]);
  }
  ann_release(y);
}

/* ---- NPY -------------------------------------------------------------- */

/* a .npy file: magic, version, length, the dict padded to 64 with a
** newline, then n data bytes */
static size_t npy(unsigned char *out, int major, const char *dict,
                  const void *data, size_t n) {
  size_t pre = major == 1 ? 10 : 12, hl = strlen(dict) + 1, k;
  while ((pre + hl) % 64) hl++;
  memcpy(out, "\x93NUMPY", 6);
  out[6] = (unsigned char)major;
  out[7] = 0;
  for (k = 0; k < pre - 8; k++) out[8 + k] = (unsigned char)(hl >> 8 * k);
  memset(out + pre, ' ', hl);
  memcpy(out + pre, dict, strlen(dict));
  out[pre + hl - 1] = '\n';
  if (n) memcpy(out + pre + hl, data, n);
  return pre + hl + n;
}

static ann_Tensor *npyload(const char *name, int major, const char *dict,
                           const void *data, size_t n) {
  unsigned char b[1024];
  return ann_npy_load(put(name, b, npy(b, major, dict, data, n)));
}

#define D(descr, shape) \
  "{'descr': '" descr "', 'fortran_order': False, 'shape': " shape ", }"

static void test_npy_dtypes(void) {
  static const unsigned char f4le[] = {0, 0, 0xc0, 0x3f, 0, 0, 0x20, 0xc1};
  static const unsigned char f4be[] = {0x3f, 0xc0, 0, 0};
  static const unsigned char f8le[] = {0, 0, 0, 0, 0, 0, 0xf8, 0x3f};
  static const unsigned char f8be[] = {0xc0, 0x24, 0, 0, 0, 0, 0, 0};
  static const unsigned char i1[] = {0x80, 0xff, 0x7f};
  static const unsigned char i2le[] = {0xfe, 0xff, 0x00, 0x01};
  static const unsigned char i4be[] = {0xff, 0xff, 0xff, 0xfd};
  static const unsigned char i8le[] = {0xfb, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff};
  static const unsigned char u2be[] = {0xff, 0xff};
  static const unsigned char u4le[] = {0x00, 0x00, 0x01, 0x00};
  static const unsigned char u8be[] = {0, 0, 0, 0, 0, 0, 0x01, 0x00};
  static const unsigned char b1[] = {0, 1, 2};
  ann_Tensor *t;
  t = npyload("f4.npy", 1, D("<f4", "(2,)"), f4le, 8);
  CHECK(holds(t, 1, S(2), V(1.5, -10)));
  ann_release(t);
  t = npyload("f4be.npy", 1, D(">f4", "(1, 1)"), f4be, 4);
  CHECK(holds(t, 2, S(1, 1), V(1.5)));
  ann_release(t);
  t = npyload("f8.npy", 1, D("<f8", "()"), f8le, 8);
  CHECK(holds(t, 0, NULL, V(1.5)));
  ann_release(t);
  t = npyload("f8be.npy", 1, D(">f8", "(1,)"), f8be, 8);
  CHECK(holds(t, 1, S(1), V(-10)));
  ann_release(t);
  t = npyload("i1.npy", 1, D("|i1", "(3,)"), i1, 3);
  CHECK(holds(t, 1, S(3), V(-128, -1, 127)));
  ann_release(t);
  t = npyload("u1.npy", 1, D("|u1", "(3,)"), i1, 3);
  CHECK(holds(t, 1, S(3), V(128, 255, 127)));
  ann_release(t);
  t = npyload("i2.npy", 1, D("<i2", "(2,)"), i2le, 4);
  CHECK(holds(t, 1, S(2), V(-2, 256)));
  ann_release(t);
  t = npyload("i4.npy", 1, D(">i4", "(1,)"), i4be, 4);
  CHECK(holds(t, 1, S(1), V(-3)));
  ann_release(t);
  t = npyload("i8.npy", 1, D("<i8", "(1,)"), i8le, 8);
  CHECK(holds(t, 1, S(1), V(-5)));
  ann_release(t);
  t = npyload("u2.npy", 1, D(">u2", "(1,)"), u2be, 2);
  CHECK(holds(t, 1, S(1), V(65535)));
  ann_release(t);
  t = npyload("u4.npy", 1, D("<u4", "(1,)"), u4le, 4);
  CHECK(holds(t, 1, S(1), V(65536)));
  ann_release(t);
  t = npyload("u8.npy", 1, D(">u8", "(1,)"), u8be, 8);
  CHECK(holds(t, 1, S(1), V(256)));
  ann_release(t);
  t = npyload("b1.npy", 1, D("|b1", "(3,)"), b1, 3);
  CHECK(holds(t, 1, S(3), V(0, 1, 1)));
  ann_release(t);
  /* versions 2.0 and 3.0 (a u32 length); keys in any order, double
  ** quotes, no trailing comma, extra spaces, Python 2 longs */
  t = npyload("v2.npy", 2, D("<f4", "(2,)"), f4le, 8);
  CHECK(holds(t, 1, S(2), V(1.5, -10)));
  ann_release(t);
  t = npyload("v3.npy", 3, "{ \"shape\" : ( 1 , 2 , ) ,'fortran_order':False,"
              "'descr':'<f4'}", f4le, 8);
  CHECK(holds(t, 2, S(1, 2), V(1.5, -10)));
  ann_release(t);
  t = npyload("long.npy", 1, D("<f4", "(2L,)"), f4le, 8);
  CHECK(holds(t, 1, S(2), V(1.5, -10)));
  ann_release(t);
  /* empty arrays */
  t = npyload("e.npy", 1, D("<f4", "(2, 0, 3)"), NULL, 0);
  CHECK(t && t->ndim == 3 && t->shape[1] == 0 && ann_numel(t) == 0);
  ann_release(t);
}

static void test_npy_bad(void) {
  static const unsigned char f4[8] = {0};
  unsigned char b[1024] = {0};
  char want[300];
  size_t n, good = npy(b, 1, D("<f4", "(2,)"), f4, 8), i;
  ann_Tensor *t;
  t = ann_npy_load(put("good.npy", b, good));
  CHECK(holds(t, 1, S(2), V(0, 0)));
  ann_release(t);
  snprintf(want, sizeof want, "%s: empty file", tmp("cut.npy"));
  CHECK_ERR(ann_npy_load(put("cut.npy", b, 0)) != NULL, want);
  /* cut at every byte: the message names where the file ends */
  for (n = 1; n < good; n++) {
    snprintf(want, sizeof want, "byte %zu: file ends", n);
    CHECK_ERR(ann_npy_load(put("cut.npy", b, n)) != NULL, want);
  }
  CHECK_ERR(ann_npy_load(put("long.npy", b, good + 1)) != NULL,
            "byte 136: extra data after the 2 values of shape (2,)");
  CHECK_ERR(ann_npy_load(put("lie.npy", b, npy(b, 1, D("<f4", "(3, 1000)"),
                                                f4, 8))) != NULL,
            "byte 136: file ends early: shape (3, 1000) of '<f4' needs 12000 "
            "bytes of data from byte 128, the file has 8");
  CHECK_ERR(ann_npy_load(put("huge.npy", b, npy(b, 1, D("<f4",
            "(4294967296, 4294967296, 4294967296)"), f4, 8))) != NULL,
            "shape too large");
  /* wrong magic, at each of its bytes */
  for (i = 0; i < 6; i++) {
    npy(b, 1, D("<f4", "(2,)"), f4, 8);
    b[i] ^= 0x20;
    snprintf(want, sizeof want, "byte %zu: not a NumPy .npy file", i);
    CHECK_ERR(ann_npy_load(put("magic.npy", b, good)) != NULL, want);
  }
  npy(b, 1, D("<f4", "(2,)"), f4, 8);
  b[6] = 4;
  CHECK_ERR(ann_npy_load(put("v4.npy", b, good)) != NULL,
            "version 4.0 is not supported");
  /* headers that are not what NumPy writes */
#define BAD(dict, part) \
  CHECK_ERR(npyload("bad.npy", 1, dict, f4, 8) != NULL, part)
  BAD("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
      "Fortran-order arrays are not supported");
  BAD(D("|O", "(1,)"), "object arrays ('|O') are not supported");
  BAD("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
      "structured dtypes");
  BAD(D("<f2", "(4,)"), "dtype '<f2' is not supported");
  BAD(D("<c8", "(1,)"), "dtype '<c8' is not supported");
  BAD(D("|f4", "(2,)"), "byte order '|'");
  BAD(D("=f4", "(2,)"), "byte order '='");
  BAD(D("<f4", "(2)"), "'(n)' is not a tuple");
  BAD(D("<f4", "[2]"), "'shape' is not a tuple");
  BAD(D("<f4", "(-2,)"), "expected a non-negative integer");
  BAD(D("<f4", "(1,1,1,1,1,1,1,1,2)"), "more than 8 dims");
  BAD("{'descr': '<f4', 'shape': (2,), }", "no 'fortran_order'");
  BAD("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
      "unknown key 'x'");
  BAD("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False}",
      "key 'descr' twice");
  BAD("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}",
      "expected ',' or '}'");
  BAD("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
      "'fortran_order' is not True or False");
  BAD("{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}",
      "expected ':'");
  BAD("('descr', '<f4')", "expected '{'");
  BAD(D("<f4", "(2,)") "x", "expected spaces and a final newline");
  /* the byte offset of a header error counts from the file's start */
  BAD("{'descr': '<f4', 'fortran_order': nope}", "byte 44: bad .npy header");
#undef BAD
  snprintf(want, sizeof want, "%s: cannot open file", tmp("none.npy"));
  CHECK_ERR(ann_npy_load(tmp("none.npy")) != NULL, want);
}

/* no leftover temporary files in the directory */
static int no_temp_files(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int ok = 1;
  if (d == NULL) return 0;
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".tmp")) ok = 0;
  closedir(d);
  return ok;
}

static void test_npy_write(void) {
  static const int64_t shapes[][9] = {   /* ndim, then the shape */
    {0}, {1, 0}, {1, 5}, {2, 2, 3}, {3, 2, 0, 3}, {8, 1, 2, 1, 2, 1, 2, 1, 3}
  };
  static const char *texts[] = {"()", "(0,)", "(5,)", "(2, 3)", "(2, 0, 3)",
                                "(1, 2, 1, 2, 1, 2, 1, 3)"};
  unsigned char b[1024];
  char want[200];
  size_t k, n, hl;
  for (k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
    ann_Tensor *t = ann_empty((int)shapes[k][0], shapes[k] + 1), *u;
    int64_t i, m = ann_numel(t);
    const char *path = tmp("w.npy");
    for (i = 0; i < m; i++) ann_data(t)[i] = (float)(i * 0.5 - 3);
    CHECK(ann_npy_save(t, path) == 0);
    n = test_slurp(path, b, sizeof b);
    hl = b[8] | (size_t)b[9] << 8;
    snprintf(want, sizeof want, "{'descr': '<f4', 'fortran_order': False, "
             "'shape': %s, }", texts[k]);
    CHECK(memcmp(b, "\x93NUMPY\x01\x00", 8) == 0);
    CHECK((10 + hl) % 64 == 0 && b[10 + hl - 1] == '\n');
    CHECK(memcmp(b + 10, want, strlen(want)) == 0);
    CHECK(n == 10 + hl + 4 * (size_t)m);
    /* the data, little-endian: element 1 is -2.5 = 0xc0200000 */
    if (m > 1)
      CHECK(b[10 + hl + 4] == 0 && b[10 + hl + 5] == 0 &&
            b[10 + hl + 6] == 0x20 && b[10 + hl + 7] == 0xc0);
    u = ann_npy_load(path);
    CHECK(u && ann_same_shape(t, u));
    if (u) CHECK(m == 0 || memcmp(ann_data(t), ann_data(u), 4 * m) == 0);
    ann_release(u);
    ann_release(t);
  }
  /* a transposed view is written in C order of its own shape */
  {
    ann_Tensor *a = ann_arange(1, 6, 1), *v, *t, *u;
    v = ann_view(a, 2, S(2, 3));
    t = ann_transpose(v, 0, 1);
    CHECK(ann_npy_save(t, tmp("t.npy")) == 0);
    u = ann_npy_load(tmp("t.npy"));
    CHECK(holds(u, 2, S(3, 2), V(1, 4, 2, 5, 3, 6)));
    /* saving over an existing file replaces it */
    CHECK(ann_npy_save(a, tmp("t.npy")) == 0);
    ann_release(u);
    u = ann_npy_load(tmp("t.npy"));
    CHECK(holds(u, 1, S(6), V(1, 2, 3, 4, 5, 6)));
    ann_release(u);
    ann_release(t);
    ann_release(v);
    ann_release(a);
  }
  CHECK(no_temp_files());
  CHECK_ERR(ann_npy_save(NULL, tmp("x.npy")) == 0, "no tensor");
  {
    ann_Tensor *t = ann_scalar(1);
    CHECK_ERR(ann_npy_save(t, tmp("nodir/x.npy")) == 0,
              "cannot create a temporary file");
    /* a directory in the way: the rename fails, the temp file goes */
    CHECK(mkdir(tmp("sub"), 0777) == 0);
    CHECK_ERR(ann_npy_save(t, tmp("sub")) == 0, "rename failed");
    CHECK(no_temp_files());
    ann_release(t);
  }
}

/* ---- damaged files ---------------------------------------------------- */

static uint32_t lcg = 12345;
static uint32_t rnd(uint32_t n) {
  lcg = lcg * 1664525u + 1013904223u;
  return (lcg >> 8) % n;
}

/* mutants of a good file (bytes changed, cut short): each must load or
** fail with a message; ASan/valgrind runs catch any read past the end */
static int survives(int kind, const unsigned char *good, size_t n) {
  unsigned char b[512];
  int k, ok = 1;
  for (k = 0; k < 300; k++) {
    size_t len = rnd(4) ? n : rnd((uint32_t)n + 1), j, m = 1 + rnd(3);
    const char *p;
    memcpy(b, good, n);
    for (j = 0; j < m; j++) b[rnd((uint32_t)n)] = (unsigned char)rnd(256);
    p = put(kind == 2 ? "fz.gz" : "fz", b, len);
    if (kind == 0) {
      ann_Csv c;
      if (ann_csv_read(p, NULL, &c) == 0) ann_csv_free(&c);
      else ok &= ann_error()[0] != '\0';
    } else {
      ann_Tensor *t = kind == 1 ? ann_npy_load(p) : ann_idx_read(p);
      if (t) ann_release(t);
      else ok &= ann_error()[0] != '\0';
    }
    ann_seterror("%s", "");
  }
  return ok;
}

static void test_damaged(void) {
  static const char text[] = "a,\"b\"\"\",c\r\n1,2,x\n\n3,\"4\",y\n";
  static const unsigned char idx[] = {0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 2,
                                      1, 2, 3, 4, 5, 6, 7, 8};
  static const float f4[4] = {1, 2, 3, 4};
  unsigned char b[256], gz[256];
  size_t n = npy(b, 1, D("<f4", "(2, 2)"), f4, 16), m;
  CHECK(survives(0, (const unsigned char *)text, strlen(text)));
  CHECK(survives(1, b, n));
  CHECK(survives(1, b, 60));          /* mutants of the header alone */
  CHECK(survives(3, idx, sizeof idx));
  m = test_slurp(putgz("fzsrc.gz", idx, sizeof idx), gz, sizeof gz);
  CHECK(survives(2, gz, m));          /* damaged gzip streams */
}

/* ---- main ------------------------------------------------------------- */

static void cleanup(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];
  if (d == NULL) return;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (unlink(path) != 0) rmdir(path);
  }
  closedir(d);
  rmdir(dir);
}

int main(void) {
  strcpy(dir, "/tmp/annlua_io_XXXXXX");
  if (mkdtemp(dir) == NULL) { perror("mkdtemp"); return 2; }
  test_csv_basic();
  test_csv_quotes();
  test_csv_classes();
  test_csv_delimiters();
  test_csv_errors();
  test_csv_gzip();
  test_csv_real();
  test_idx_good();
  test_idx_bad();
  test_idx_mnist();
  test_npy_dtypes();
  test_npy_bad();
  test_npy_write();
  test_damaged();
  cleanup();
  return test_report();
}
