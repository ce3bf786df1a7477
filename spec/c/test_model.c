/*
** test_model.c: models loaded and run from C (ann_model.c) and the record
** decoder under them (ann_rec.c).  The files are written here record by
** record as docs/file-format.md lays them out; the reference forward is
** the one the Lua side runs (ann_mlp_forward for a Sequential, ann_linear
** for a bare Linear), plus a value worked out by hand.
**
** Also a checker for spec/model_spec.lua, which saves models from Lua:
**   test_model --check model.ann x.f32 y.f32   (bits of the run against y)
**   test_model --load file                     (prints the error, exit 1)
*/
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "../../src/ann_impl.h"

/* ---- allocations counted: malloc and friends interposed (not under a
** sanitizer, whose runtime owns them) ------------------------------------ */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COUNTING 0
#else
#define COUNTING 1
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static atomic_long nalloc;
void *malloc(size_t n) { nalloc++; return __libc_malloc(n); }
void free(void *p) { __libc_free(p); }
void *calloc(size_t a, size_t b) { nalloc++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { nalloc++; return __libc_realloc(p, n); }
void *aligned_alloc(size_t al, size_t n) {
  nalloc++;
  return __libc_memalign(al, n);
}
void *memalign(size_t al, size_t n) {
  nalloc++;
  return __libc_memalign(al, n);
}
int posix_memalign(void **pp, size_t al, size_t n) {
  nalloc++;
  *pp = __libc_memalign(al, n);
  return *pp ? 0 : ENOMEM;
}
#endif

/* ---- writing records --------------------------------------------------- */

typedef struct Buf { unsigned char *p; size_t n, cap; unsigned ids; } Buf;

static void put(Buf *b, const void *s, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}
static void u8(Buf *b, unsigned v) {
  unsigned char c = (unsigned char)v;
  put(b, &c, 1);
}
static void le(Buf *b, uint64_t v, int n) {
  for (int i = 0; i < n; i++) u8(b, (unsigned)(v >> (8 * i)) & 255);
}
static void name(Buf *b, const char *s) {
  le(b, strlen(s), 4);
  put(b, s, strlen(s));
}
static void r_int(Buf *b, int64_t v) { u8(b, 3); le(b, (uint64_t)v, 8); }
static void r_float(Buf *b, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  u8(b, 4); le(b, u, 8);
}
static void r_str(Buf *b, const char *s) { u8(b, 5); name(b, s); }
static unsigned r_table(Buf *b, uint32_t n) {
  u8(b, 6); le(b, n, 4);
  return ++b->ids;
}
static void r_ref(Buf *b, unsigned id) { u8(b, 9); le(b, id, 4); }
static unsigned r_tensor(Buf *b, const ann_Tensor *t) {
  u8(b, 7); u8(b, 0); u8(b, (unsigned)t->ndim);
  for (int i = 0; i < t->ndim; i++) le(b, (uint64_t)t->shape[i], 8);
  for (int64_t i = 0; i < ann_numel(t); i++) {
    uint32_t u;
    memcpy(&u, ann_data(t) + i, 4);
    le(b, u, 4);
  }
  return ++b->ids;
}
static unsigned r_module(Buf *b, const char *cls) {
  u8(b, 8); name(b, cls);
  return ++b->ids;
}

/* Linear(in, out [, {bias = false}]) as Module records it */
static unsigned linear(Buf *b, const ann_Tensor *w, const ann_Tensor *bias) {
  unsigned id = r_module(b, "Linear");
  r_table(b, bias ? 3 : 4);
  r_int(b, 1); r_int(b, w->shape[1]);
  r_int(b, 2); r_int(b, w->shape[0]);
  if (!bias) {
    r_int(b, 3); r_table(b, 1); r_str(b, "bias"); u8(b, 1);
  }
  r_str(b, "n"); r_int(b, bias ? 2 : 3);
  u8(b, 1);
  le(b, bias ? 2 : 1, 4);
  name(b, "weight"); r_tensor(b, w);
  if (bias) { name(b, "bias"); r_tensor(b, bias); }
  le(b, 0, 4);
  return id;
}

/* an activation module; slope < 0 means none given */
static unsigned act(Buf *b, const char *cls, double slope) {
  unsigned id = r_module(b, cls);
  if (slope >= 0) {
    r_table(b, 2); r_int(b, 1); r_float(b, slope); r_str(b, "n"); r_int(b, 1);
  } else {
    r_table(b, 1); r_str(b, "n"); r_int(b, 0);
  }
  u8(b, 1); le(b, 0, 4); le(b, 0, 4);
  return id;
}

static const char *const act_class[] = {"Identity", "Tanh", "ReLU",
                                        "Sigmoid", "LeakyReLU"};

/* Sequential{Linear, act, Linear, act, ...}: acts[l] < 0 for none */
static void sequential(Buf *b, int n, ann_Tensor **w, ann_Tensor **bias,
                       const int *acts, const float *slope) {
  unsigned ids[64];
  int k = 0, l, i;
  for (l = 0; l < n; l++) k += 1 + (acts[l] >= 0);
  r_module(b, "Sequential");
  r_table(b, 2); r_int(b, 1); r_table(b, (uint32_t)k);
  for (i = 0, l = 0; l < n; l++) {
    r_int(b, i + 1); ids[i++] = linear(b, w[l], bias[l]);
    if (acts[l] >= 0) {
      r_int(b, i + 1);
      ids[i++] = act(b, act_class[acts[l]],
                     acts[l] == ANN_ACT_LEAKY ? slope[l] : -1);
    }
  }
  r_str(b, "n"); r_int(b, 1);
  u8(b, 0); le(b, 0, 4); le(b, (uint64_t)k, 4);
  for (i = 0; i < k; i++) {
    char key[16];
    snprintf(key, sizeof key, "%d", i + 1);
    name(b, key); r_ref(b, ids[i]);
  }
}

/* the container around a body */
static Buf wrap(const Buf *body) {
  static const unsigned char magic[8] = {0x89, 'A', 'N', 'N', '\r', '\n',
                                         0x1A, '\n'};
  Buf f = {0};
  uint32_t crc;
  put(&f, magic, 8); le(&f, 1, 4); le(&f, body->n, 8);
  put(&f, body->p, body->n);
  crc = ann_crc32(0, f.p, f.n);
  le(&f, body->n, 8);
  le(&f, crc, 4);
  return f;
}

static ann_Model *load_body(const Buf *body) {
  Buf f = wrap(body);
  ann_Model *m = ann_model_load_mem(f.p, f.n);
  free(f.p);
  return m;
}

static int same_bits(const float *a, const float *b, size_t n) {
  return memcmp(a, b, n * sizeof(float)) == 0;
}

/* ---- every activation, bit for bit against the fused forward ---------- */

static ann_Tensor *randn2(int64_t r, int64_t c) {
  int64_t s[2] = {r, c};
  return ann_randn(2, s);
}

static void test_activations(void) {
  static const int64_t widths[] = {5, 16, 9, 3};
  int a;
  ann_manual_seed(7);
  for (a = -1; a <= ANN_ACT_LEAKY; a++) {      /* -1: no activation module */
    ann_Tensor *w[3], *bias[3], *x = randn2(33, 5), *x1;
    int acts[3], actk[3], l, rows;
    float slope[3] = {0.2f, 0.2f, 0.2f};
    ann_Mlp *mlp;
    ann_Model *m;
    Buf body = {0};
    for (l = 0; l < 3; l++) {
      int64_t sb[1] = {widths[l + 1]};
      w[l] = randn2(widths[l + 1], widths[l]);
      bias[l] = l == 1 ? NULL : ann_randn(1, sb);     /* one without bias */
      acts[l] = l == 2 ? -1 : a;                        /* last: none */
      actk[l] = acts[l] < 0 ? ANN_ACT_IDENTITY : acts[l];
    }
    sequential(&body, 3, w, bias, acts, slope);
    m = load_body(&body);
    CHECK(m != NULL);
    if (m == NULL) { fprintf(stderr, "%s\n", ann_error()); continue; }
    CHECK(ann_model_ninputs(m) == 5 && ann_model_noutputs(m) == 3);
    mlp = ann_mlp_new(3, w, bias, actk, slope);
    for (rows = 1; rows <= 33; rows += 32) {   /* one sample, a batch */
      int64_t sy[2] = {rows, 3};
      ann_Tensor *y = ann_empty(2, sy);
      float out[33 * 3];
      x1 = ann_narrow(x, 0, 0, rows);
      CHECK(ann_mlp_forward(mlp, x1, y) == 0);
      CHECK(ann_model_run(m, ann_data(x1), rows, out) == 0);
      CHECK(same_bits(out, ann_data(y), (size_t)rows * 3));
      ann_release(x1); ann_release(y);
    }
    ann_mlp_free(mlp);
    ann_model_free(m);
    free(body.p);
    for (l = 0; l < 3; l++) { ann_release(w[l]); ann_release(bias[l]); }
    ann_release(x);
  }
}

/* a bare Linear, against ann_linear (Linear:forward) */
static void test_bare_linear(void) {
  ann_Tensor *w = randn2(4, 6), *x = randn2(10, 6), *y;
  int64_t sb[1] = {4};
  ann_Tensor *b = ann_randn(1, sb);
  float out[40];
  Buf body = {0};
  ann_Model *m;
  linear(&body, w, b);
  m = load_body(&body);
  CHECK(m != NULL);
  y = ann_linear(x, w, b);
  CHECK(m && ann_model_run(m, ann_data(x), 10, out) == 0);
  CHECK(m && same_bits(out, ann_data(y), 40));
  ann_model_free(m);
  ann_release(y); ann_release(b);
  /* without a bias */
  body.n = 0; body.ids = 0;
  linear(&body, w, NULL);
  m = load_body(&body);
  CHECK(m != NULL);
  y = ann_linear(x, w, NULL);
  CHECK(m && ann_model_run(m, ann_data(x), 10, out) == 0);
  CHECK(m && same_bits(out, ann_data(y), 40));
  ann_model_free(m);
  ann_release(y); ann_release(w); ann_release(x);
  free(body.p);
}

/* tanh(1 x1 + 2 x2 + 0.5) and LeakyReLU(0.25) of -(x1 + x2), by hand */
static void test_by_hand(void) {
  float wv[2] = {1, 2}, bv[1] = {0.5f}, in[4] = {0.3f, -0.1f, -1, -2}, out[2];
  int64_t sw[2] = {1, 2}, sb[1] = {1};
  ann_Tensor *w = ann_from_data(wv, 2, sw), *b = ann_from_data(bv, 1, sb);
  ann_Tensor *ws[1] = {w}, *bs[1] = {b};
  int acts[1] = {ANN_ACT_TANH};
  float slope[1] = {0.25f};
  Buf body = {0};
  ann_Model *m;
  sequential(&body, 1, ws, bs, acts, slope);
  m = load_body(&body);
  CHECK(m && ann_model_run(m, in, 2, out) == 0);
  CHECK_NEAR(out[0], tanh(0.3 - 0.2 + 0.5), 1e-6);
  CHECK_NEAR(out[1], tanh(-1 - 4 + 0.5), 1e-6);
  ann_model_free(m);
  body.n = 0; body.ids = 0;
  ann_data(w)[0] = ann_data(w)[1] = -1;
  ann_data(b)[0] = 0;
  acts[0] = ANN_ACT_LEAKY;
  sequential(&body, 1, ws, bs, acts, slope);
  m = load_body(&body);
  CHECK(m && ann_model_run(m, in, 2, out) == 0);
  CHECK_NEAR(out[0], 0.25 * -(0.3 - 0.1), 1e-7);
  CHECK_NEAR(out[1], 3.0, 0);
  ann_model_free(m);
  free(body.p);
  ann_release(w); ann_release(b);
}

/* ---- bad files --------------------------------------------------------- */

/* a small good model file, in f */
static Buf good_file(void) {
  ann_Tensor *w = randn2(3, 2);
  ann_Tensor *ws[1] = {w}, *bs[1] = {NULL};
  int acts[1] = {ANN_ACT_RELU};
  float slope[1] = {0};
  Buf body = {0}, f;
  sequential(&body, 1, ws, bs, acts, slope);
  f = wrap(&body);
  free(body.p);
  ann_release(w);
  return f;
}

#define LOAD_FAILS(p, n, part) \
  CHECK_ERR(ann_model_load_mem((p), (n)) != NULL, part)

static void test_container(void) {
  Buf f = good_file();
  unsigned char *c = malloc(f.n);
  size_t at;
  ann_Model *m = ann_model_load_mem(f.p, f.n);
  CHECK(m != NULL);
  ann_model_free(m);
  /* a flipped byte anywhere: the CRC (or the lengths) catch it */
  for (at = 20; at < f.n; at += 7) {
    memcpy(c, f.p, f.n);
    c[at] ^= 0x10;
    LOAD_FAILS(c, f.n, "corrupted");
  }
  memcpy(c, f.p, f.n);
  c[f.n / 2] ^= 1;
  LOAD_FAILS(c, f.n, "(buffer): corrupted: CRC-32 mismatch");
  for (at = 0; at < f.n; at += 5)
    LOAD_FAILS(f.p, at, "truncated");
  memcpy(c, f.p, f.n);
  c[1] = 'B';
  LOAD_FAILS(c, f.n, "not an annlua model file (bad magic)");
  LOAD_FAILS(NULL, 0, "truncated");
  /* from a file: the same checks, the path in the message */
  {
    char path[] = "/tmp/test_model_XXXXXX", want[80];
    int fd = mkstemp(path);
    FILE *out = fd >= 0 ? fdopen(fd, "wb") : NULL;
    CHECK(out != NULL);
    if (out) {
      memcpy(c, f.p, f.n);
      c[30] ^= 4;
      fwrite(c, 1, f.n, out);
      fclose(out);
      snprintf(want, sizeof want, "%s: corrupted: CRC-32 mismatch", path);
      CHECK_ERR(ann_model_load(path) != NULL, want);
      remove(path);
      snprintf(want, sizeof want, "%s: No such file or directory", path);
      CHECK_ERR(ann_model_load(path) != NULL, want);
    }
  }
  free(c);
  free(f.p);
}

static void crafted(const Buf *body, const char *part) {
  Buf f = wrap(body);
  LOAD_FAILS(f.p, f.n, part);
  free(f.p);
}

static void test_crafted(void) {
  Buf b = {0};
  int i;
  /* counts larger than the bytes left, before anything is allocated */
  r_table(&b, 0xFFFFFFFFu);
  crafted(&b, "bad body at byte 25: 4294967295 table entries can't fit");
  b.n = 0;
  /* a count under the bytes left but not under them / 2 bytes an entry */
  r_table(&b, 10);
  for (i = 0; i < 12; i++) u8(&b, 0);
  crafted(&b, "10 table entries can't fit in the 12 bytes left");
  b.n = 0;
  r_module(&b, "Sequential"); r_table(&b, 0); u8(&b, 0); le(&b, 0x7FFFFFFF, 4);
  crafted(&b, "tensors can't fit");
  b.n = 0;
  u8(&b, 7); u8(&b, 0); u8(&b, 2); le(&b, 1u << 20, 8); le(&b, 1u << 20, 8);
  crafted(&b, "a tensor's data needs 4398046511104 bytes, 0 left");
  b.n = 0;
  u8(&b, 7); u8(&b, 0); u8(&b, 2); le(&b, 1u << 31, 8); le(&b, 1u << 31, 8);
  crafted(&b, "a tensor's shape is too large");
  b.n = 0;
  u8(&b, 5); le(&b, 0xFFFFFFF0u, 4);
  crafted(&b, "a string needs 4294967280 bytes");
  /* nesting */
  b.n = 0;
  for (i = 0; i < 300; i++) { r_table(&b, 1); r_int(&b, 1); }
  r_int(&b, 0);
  crafted(&b, "nesting deeper than 200");
  /* refs: unknown, and to a table not yet complete */
  b.n = 0;
  r_ref(&b, 1);
  crafted(&b, "bad body at byte 25: a reference to object 1, which is not "
          "complete before it");
  b.n = 0;
  r_table(&b, 1); r_int(&b, 1); r_ref(&b, 1);
  crafted(&b, "a reference to object 1, which is not complete");
  /* keys */
  b.n = 0;
  r_table(&b, 2); r_int(&b, 1); r_int(&b, 1); r_float(&b, 1.0); r_int(&b, 2);
  crafted(&b, "the key 1.0 twice");
  b.n = 0;
  r_table(&b, 1); r_float(&b, NAN); r_int(&b, 1);
  crafted(&b, "a table key that is a NaN");
  b.n = 0;
  r_table(&b, 1); r_table(&b, 0); r_int(&b, 1);
  crafted(&b, "a table key that is a table");
  /* tags, trailing bytes, an empty body */
  b.n = 0;
  u8(&b, 10);
  crafted(&b, "bad body at byte 20: unknown record type 10");
  b.n = 0;
  r_int(&b, 1); r_int(&b, 2);
  crafted(&b, "bad body at byte 29: 9 bytes after the last record");
  b.n = 0;
  crafted(&b, "a record's tag needs 1 bytes, 0 left");
  free(b.p);
}

/* what the C loader refuses, with the reason */
static void test_refused(void) {
  ann_Tensor *w = randn2(3, 2), *w2 = randn2(4, 4);
  ann_Tensor *ws[1] = {w}, *bs[1] = {NULL};
  int acts[1] = {ANN_ACT_TANH};
  float slope[1] = {0};
  Buf b = {0};
  /* a user class, at the root or inside */
  r_module(&b, "Net"); r_table(&b, 0); u8(&b, 1); le(&b, 0, 4); le(&b, 0, 4);
  crafted(&b, "(buffer): module type 'Net' is not a built-in layer the C "
          "loader reads (Sequential, Linear, Tanh, ReLU, Sigmoid, LeakyReLU, "
          "Identity); load it from Lua");
  b.n = 0; b.ids = 0;
  r_module(&b, "Sequential"); r_table(&b, 2); r_int(&b, 1); r_table(&b, 2);
  r_int(&b, 1); linear(&b, w, NULL);
  r_int(&b, 2); act(&b, "Dropout", -1);
  crafted(&b, "module type 'Dropout' is not a built-in layer");
  /* roots that are not models */
  b.n = 0; b.ids = 0;
  r_table(&b, 1); r_str(&b, "model"); sequential(&b, 1, ws, bs, acts, slope);
  crafted(&b, "(buffer): the file holds a table, not a model");
  b.n = 0; b.ids = 0;
  act(&b, "Tanh", -1);
  crafted(&b, "the model is a Tanh, not a Sequential");
  /* arguments that disagree with the tensors */
  b.n = 0; b.ids = 0;
  r_module(&b, "Linear"); r_table(&b, 3); r_int(&b, 1); r_int(&b, 3);
  r_int(&b, 2); r_int(&b, 4); r_str(&b, "n"); r_int(&b, 2); u8(&b, 1);
  le(&b, 1, 4); name(&b, "weight"); r_tensor(&b, w2); le(&b, 0, 4);
  crafted(&b, "has a weight of [4,4] but other arguments than (4, 4)");
  /* a stack the fused path does not run: two activations in a row */
  b.n = 0; b.ids = 0;
  {
    unsigned id[3];
    r_module(&b, "Sequential"); r_table(&b, 2); r_int(&b, 1);
    r_table(&b, 3);
    r_int(&b, 1); id[0] = linear(&b, w, NULL);
    r_int(&b, 2); id[1] = act(&b, "Tanh", -1);
    r_int(&b, 3); id[2] = act(&b, "ReLU", -1);
    r_str(&b, "n"); r_int(&b, 1); u8(&b, 1); le(&b, 0, 4); le(&b, 3, 4);
    name(&b, "1"); r_ref(&b, id[0]);
    name(&b, "2"); r_ref(&b, id[1]);
    name(&b, "3"); r_ref(&b, id[2]);
  }
  crafted(&b, "ReLU (layer 3) does not follow a Linear");
  free(b.p);
  ann_release(w); ann_release(w2);
}

/* the decoder's memory: a body of many small records decodes (its budget
** is not too tight), sharing is kept, a crafted count allocates nothing */
static void test_records(void) {
  Buf b = {0}, f;
  ann_Reader r;
  ann_RecDoc *d;
  const ann_Rec *root;
  int i, n = 20000;
  r_table(&b, (uint32_t)n + 1);
  for (i = 1; i <= n; i++) {
    float one[1] = {(float)i};
    ann_Tensor *t = ann_from_data(one, 0, NULL);
    r_int(&b, i); r_tensor(&b, t);
    ann_release(t);
  }
  r_str(&b, "again"); r_ref(&b, 2);              /* the first tensor */
  f = wrap(&b);
  CHECK(ann_reader_open_mem(&r, f.p, f.n, "many") == 0);
  d = ann_rec_decode(&r, NULL);
  CHECK(d != NULL);
  if (d) {
    root = ann_rec_root(d);
    CHECK(root->type == ANN_REC_TABLE && root->u.tab.n == (uint32_t)n + 1);
    CHECK(ann_rec_index(root, 1) == ann_rec_field(root, "again"));
    CHECK(ann_rec_index(root, n)->type == ANN_REC_TENSOR);
    CHECK(ann_data(ann_rec_index(root, n)->u.t)[0] == (float)n);
  }
  ann_rec_free(d);
  ann_reader_close(&r);
  free(f.p);
  free(b.p);
}

/* ---- threads ------------------------------------------------------------ */

enum { NT = 8, ROWS = 40, REPS = 200 };
typedef struct Job {
  const ann_Model *m;
  const float *x;
  float out[ROWS * 8], batch[ROWS * 8];
  int ok;
} Job;

static void *job(void *arg) {
  Job *j = arg;
  int r, k;
  j->ok = 1;
  for (k = 0; k < REPS; k++)            /* one sample at a time, then all */
    for (r = 0; r < ROWS; r++)
      j->ok &= ann_model_run(j->m, j->x + r * 16, 1, j->out + r * 8) == 0;
  /* and all rows at once, through the thread's own heap scratch */
  j->ok &= ann_model_run(j->m, j->x, ROWS, j->batch) == 0;
  return NULL;
}

/* a 3-layer network of the given widths and activations, with random
** weights and biases, through a saved body */
static ann_Model *net3(const int64_t *widths, const int *acts) {
  ann_Tensor *w[3], *b[3];
  float slope[3] = {0};
  Buf body = {0};
  ann_Model *m;
  int l;
  for (l = 0; l < 3; l++) {
    int64_t sb[1] = {widths[l + 1]};
    w[l] = randn2(widths[l + 1], widths[l]);
    b[l] = ann_randn(1, sb);
  }
  sequential(&body, 3, w, b, acts, slope);
  m = load_body(&body);
  free(body.p);
  for (l = 0; l < 3; l++) { ann_release(w[l]); ann_release(b[l]); }
  return m;
}

/* 8 threads run one model at once, one sample at a time and a batch,
** and agree with one thread to the bit (run under ThreadSanitizer too:
** make B=build-tsan CFLAGS="-O1 -g -fsanitize=thread -DANN_NO_CLONES"
** LDFLAGS=-fsanitize=thread build-tsan/test/test_model) */
static void test_threads(void) {
  int64_t widths[4] = {16, 32, 32, 8};
  ann_Tensor *x = randn2(ROWS, 16);
  int acts[3] = {ANN_ACT_TANH, ANN_ACT_SIGMOID, -1}, l, t;
  float want[ROWS * 8], wantb[ROWS * 8];
  pthread_t th[NT];
  static Job jobs[NT];
  ann_Model *m = net3(widths, acts);
  CHECK(m != NULL);
  if (m == NULL) return;
  /* the threads first: the first products of the process are theirs */
  for (t = 0; t < NT; t++) {
    jobs[t].m = m; jobs[t].x = ann_data(x);
    pthread_create(&th[t], NULL, job, &jobs[t]);
  }
  for (t = 0; t < NT; t++) pthread_join(th[t], NULL);
  for (l = 0; l < ROWS; l++)
    CHECK(ann_model_run(m, ann_data(x) + l * 16, 1, want + l * 8) == 0);
  CHECK(ann_model_run(m, ann_data(x), ROWS, wantb) == 0);
  for (t = 0; t < NT; t++)
    CHECK(jobs[t].ok && same_bits(jobs[t].out, want, ROWS * 8)
          && same_bits(jobs[t].batch, wantb, ROWS * 8));
  ann_model_free(m);
  ann_release(x);
}

/* ---- no allocation per call -------------------------------------------- */

/* Counted over whole calls, with the BLAS and with the built-in kernels:
** one sample of 32-64-64-8 (scratch on the stack), and batches of
** 8-16-16-4 large enough for the thread's scratch, after a first call
** as large.  (Products a threaded OpenBLAS splits allocate inside it;
** those are not counted here.) */
#if COUNTING

#endif

static void test_no_alloc(void) {
#if COUNTING
  static const int64_t game[4] = {32, 64, 64, 8}, small[4] = {8, 16, 16, 4};
  static const int tanh3[3] = {ANN_ACT_TANH, ANN_ACT_TANH, -1};
  ann_Model *m1 = net3(game, tanh3), *m2 = net3(small, tanh3);
  ann_Tensor *x = randn2(300, 32);
  float out[300 * 8];
  long before;
  int k, builtin;
  CHECK(m1 != NULL && m2 != NULL);
  for (builtin = 0; m1 && m2 && builtin <= 1; builtin++) {
    ann_blas_use_builtin(builtin);
    CHECK(ann_model_run(m1, ann_data(x), 1, out) == 0);
    CHECK(ann_model_run(m2, ann_data(x), 120, out) == 0);  /* grows scratch */
    before = nalloc;
    for (k = 0; k < 1000; k++)
      CHECK(ann_model_run(m1, ann_data(x) + (k % 300) * 32, 1, out) == 0);
    for (k = 0; k < 100; k++)
      CHECK(ann_model_run(m2, ann_data(x), 33 + k % 88, out) == 0);
    CHECK(nalloc - before == 0);
    if (nalloc != before)
      fprintf(stderr, "%ld allocations (builtin %d)\n", nalloc - before,
              builtin);
  }
  ann_blas_use_builtin(0);
  ann_model_free(m1);
  ann_model_free(m2);
  ann_release(x);
#else
  printf("(allocation count skipped under a sanitizer)\n");
#endif
}

/* ---- the checker for spec/model_spec.lua ------------------------------- */

static int check_file(const char *model, const char *xs, const char *ys) {
  static unsigned char xb[1 << 20], yb[1 << 20];
  size_t nx = test_slurp(xs, xb, sizeof xb);
  size_t ny = test_slurp(ys, yb, sizeof yb);
  ann_Model *m = ann_model_load(model);
  int n, ni, no;
  float *out;
  if (m == NULL) { printf("%s\n", ann_error()); return 1; }
  ni = ann_model_ninputs(m); no = ann_model_noutputs(m);
  n = (int)(nx / 4 / (size_t)ni);
  if (nx != (size_t)n * ni * 4 || ny != (size_t)n * no * 4) {
    printf("sizes: %zu input bytes, %zu output bytes for %d -> %d\n", nx, ny,
           ni, no);
    return 1;
  }
  out = malloc((size_t)n * no * 4 + 4);
  if (ann_model_run(m, (const float *)xb, n, out) != 0) {
    printf("%s\n", ann_error());
    return 1;
  }
  n = memcmp(out, yb, ny) != 0;
  printf(n ? "different bits\n" : "same bits\n");
  free(out);
  ann_model_free(m);
  return n;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "--check") == 0)
    return check_file(argv[2], argv[3], argv[4]);
  if (argc == 3 && strcmp(argv[1], "--load") == 0) {
    ann_Model *m = ann_model_load(argv[2]);
    printf("%s\n", m ? "loaded" : ann_error());
    ann_model_free(m);
    return m == NULL;
  }
  test_threads();             /* first: see above */
  test_activations();
  test_bare_linear();
  test_by_hand();
  test_container();
  test_crafted();
  test_refused();
  test_records();
  test_no_alloc();
  return test_report();
}
