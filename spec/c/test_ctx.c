/*
** test_ctx.c: contexts (ann_ctx.c).  The memory limit and where blocks go
** back to, counted by an allocator of the test's own; the cancel poll in
** long operations, timed; the file policies on every reader and writer,
** with an in-memory file system as the host's io; random streams and
** grad modes of two contexts.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "test.h"

/* ---- an allocator that counts what it holds ---------------------------- */

typedef struct Counter { int64_t bytes, blocks; } Counter;

static void *counting(void *ud, void *p, size_t osize, size_t nsize) {
  Counter *c = ud;
  if (p) { c->bytes -= (int64_t)osize; c->blocks--; }
  if (nsize == 0) { free(p); return NULL; }
  p = realloc(p, nsize);
  if (p) { c->bytes += (int64_t)nsize; c->blocks++; }
  return p;
}

static ann_Ctx *counted(Counter *k, size_t limit) {
  ann_CtxOpts o;
  ann_ctx_defaults(&o);
  o.alloc = counting;
  o.alloc_ud = k;
  o.mem_limit = limit;
  return ann_ctx_new(&o);
}

static void test_limit(void) {
  Counter k = {0, 0};
  ann_Ctx *c = counted(&k, 1 << 20);
  int64_t big = 1 << 21, n1 = 150000, n2 = 150001, small = 1000;
  ann_Tensor *t, *u;
  CHECK(c != NULL);
  CHECK(k.blocks == 1);                      /* the context itself */
  ann_ctx_use(c);
  CHECK(ann_ctx_current() == c);
  /* 8 MB in a context of 1 MB: refused, with the limit in the message */
  CHECK_ERR(ann_zeros(1, &big) != NULL, "not enough memory (limit 1048576 bytes)");
  CHECK(ann_ctx_held(c) < 4096);             /* nothing kept of the try */
  /* and the context still works */
  t = ann_full(1, &small, 2.0f);
  CHECK(t != NULL && ann_data(t)[999] == 2.0f);
  /* the block of 1000 floats and its header are held, 4000 bytes and more */
  CHECK(ann_ctx_held(c) >= 4000 && ann_ctx_held(c) < 4000 + 1024);
  /* the allocator holds that and the context itself (some KB) */
  CHECK(k.bytes - (int64_t)ann_ctx_held(c) > 0
        && k.bytes - (int64_t)ann_ctx_held(c) < 16384);
  ann_release(t);
  /* a freed block stays cached: held by the context, counted */
  t = ann_empty(1, &n1);                     /* 600 KB */
  CHECK(t != NULL);
  ann_release(t);
  CHECK(ann_ctx_held(c) >= 600000);
  CHECK(ann_live_bytes() == 0);
  /* 600 KB more would pass 1 MB with the cached block: the cache is
  ** emptied and the allocation made */
  u = ann_empty(1, &n2);
  CHECK(u != NULL);
  CHECK(ann_ctx_held(c) >= 600004 && ann_ctx_held(c) < 600004 + 2048);
  CHECK(ann_live_bytes() >= 600004);
  CHECK(ann_allocated() >= 600000 + 600004 + 4000);
  /* a second one is refused: 1.2 MB live */
  CHECK_ERR(ann_empty(1, &n1) != NULL, "not enough memory");
  ann_release(u);
  ann_ctx_trim(c);
  CHECK(ann_ctx_held(c) == 0);
  CHECK(k.blocks == 1);
  /* the host's own bytes count against the same limit */
  CHECK(ann_ctx_account(c, 1000000) == 0);
  CHECK_ERR(ann_ctx_account(c, 100000) == 0, "not enough memory");
  /* a core block too: 1 MB of the host's and 100 KB don't fit in 1 MB */
  {
    int64_t q = 25000;
    CHECK_ERR(ann_empty(1, &q) != NULL, "not enough memory");
  }
  CHECK(ann_ctx_account(c, -1000000) == 0);
  ann_ctx_trim(c);                           /* what the refusal cached */
  CHECK(ann_ctx_held(c) == 0);
  /* and the other way: 600 KB live in the core, 600 KB more for the host
  ** are refused, 400 KB accepted */
  u = ann_empty(1, &n1);
  CHECK(u != NULL);
  CHECK_ERR(ann_ctx_account(c, 600000) == 0, "not enough memory");
  CHECK(ann_ctx_account(c, 400000) == 0);
  CHECK(ann_ctx_account(c, -400000) == 0);
  ann_release(u);
  ann_ctx_trim(c);
  CHECK(ann_ctx_held(c) == 0);
  ann_ctx_use(NULL);
  ann_ctx_free(c);
  CHECK(k.blocks == 0 && k.bytes == 0);
}

/* the host's collector, asked before a refusal: it drops what it holds */
static ann_Tensor *spare;
static int onlimit_calls;
static int drop_spare(void *ud) {
  onlimit_calls++;
  if (spare == NULL || ud != (void *)&spare) return 0;
  ann_release(spare);
  spare = NULL;
  return 1;
}

static void test_onlimit(void) {
  Counter k = {0, 0};
  ann_Ctx *c = counted(&k, 1 << 20);
  int64_t n1 = 150000, n2 = 150001, n3 = 150002;
  ann_Tensor *t, *u;
  ann_ctx_onlimit(c, drop_spare, &spare);
  ann_ctx_use(c);
  spare = ann_empty(1, &n1);                  /* 600 KB the host could drop */
  t = ann_empty(1, &n2);                      /* another 600 KB: asks */
  CHECK(t != NULL && spare == NULL && onlimit_calls == 1);
  u = ann_empty(1, &n3);                      /* nothing left to drop */
  CHECK_ERR(u != NULL, "not enough memory (limit 1048576 bytes)");
  CHECK(onlimit_calls == 2);
  ann_release(t);
  ann_ctx_use(NULL);
  ann_ctx_free(c);
  CHECK(k.blocks == 0);
}

/* a block goes back to the context it was made in, whatever is current */
static void test_owner(void) {
  Counter ka = {0, 0}, kb = {0, 0};
  ann_Ctx *a = counted(&ka, 0), *b = counted(&kb, 0), *was;
  int64_t n = 100000, shape[2] = {300, 300};
  ann_Tensor *t, *x, *y;
  was = ann_ctx_use(a);
  CHECK(was != a && ann_ctx_current() == a);
  t = ann_zeros(1, &n);
  CHECK(ka.bytes >= 400000 && kb.blocks == 1);
  ann_ctx_use(b);
  ann_release(t);                           /* cached in a, not in b */
  CHECK(ann_ctx_held(b) == 0);
  CHECK(ann_ctx_held(a) >= 400000);
  ann_ctx_trim(a);
  CHECK(ann_ctx_held(a) == 0 && ka.blocks == 1);
  /* autograd nodes and gradients are the context's too */
  ann_ctx_use(a);
  x = ann_rand(2, shape);
  ann_set_requires_grad(x, 1);
  t = ann_ag_mm(x, x);
  y = ann_ag_sum(t, -1, 0);
  ann_release(t);
  CHECK(y != NULL && y->node != NULL);
  CHECK(ann_ctx_held(b) == 0);
  ann_ctx_use(b);                          /* what backward makes is b's */
  CHECK(ann_backward(y, NULL) == 0);
  CHECK(x->grad != NULL);
  CHECK(ann_ctx_held(b) >= 300 * 300 * 4);
  ann_ctx_use(NULL);
  ann_release(y);
  ann_release(x);
  ann_ctx_trim(a);
  ann_ctx_trim(b);
  /* everything came back to where it was made */
  CHECK(ann_ctx_held(b) == 0);
  CHECK(ann_ctx_held(a) == 0);
  /* freeing a context while a tensor of it lives: the tensor stays good,
  ** and the context goes with it */
  ann_ctx_use(a);
  t = ann_full(1, &n, 3.0f);
  ann_ctx_use(NULL);
  ann_ctx_free(a);
  CHECK(ka.blocks >= 2);
  CHECK(ann_data(t)[n - 1] == 3.0f);
  ann_release(t);
  CHECK(ka.blocks == 0 && ka.bytes == 0);
  ann_ctx_free(b);
  CHECK(kb.blocks == 0 && kb.bytes == 0);
}

/* ---- cancel --------------------------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct Deadline { double at; int polls; } Deadline;

static int past(void *ud) {
  Deadline *d = ud;
  d->polls++;
  return now() >= d->at;
}

static ann_Ctx *cancelling(Deadline *d) {
  ann_CtxOpts o;
  ann_ctx_defaults(&o);
  o.cancel = past;
  o.cancel_ud = d;
  return ann_ctx_new(&o);
}

/* how much slower the kernels run under a sanitizer (TSan with BLAS=none:
** a panel of the built-in gemm alone takes most of 0.2 s) */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SAN_SLOW 10
#else
#define SAN_SLOW 1
#endif

static int after3(void *ud) { return ++*(int *)ud > 3; }

static void test_cancel(void) {
  Deadline d = {0, 0};
  ann_Ctx *c = cancelling(&d);
  int64_t big[2] = {4096, 4096}, sm[2] = {64, 64}, n;
  ann_Tensor *a, *b, *y, *x, *s;
  double t0, spent;
  int i;
  ann_ctx_use(c);
  a = ann_full(2, big, 1.0f);
  b = ann_full(2, big, 0.5f);
  /* a 4096^3 product takes seconds; the deadline stops it 20 ms in */
  d.at = now() + 0.02;
  t0 = now();
  CHECK_ERR(ann_mm(a, b) != NULL, "gemm: cancelled by the host");
  spent = now() - t0;
  CHECK(spent < 0.02 + 0.2 * SAN_SLOW);
  if (getenv("ANN_CTX_VERBOSE")) fprintf(stderr, "cancelled after %.3f s\n", spent);
  CHECK(d.polls >= 1);
  /* the fourth poll stops it: polls come between blocks, not only first */
  {
    ann_CtxOpts o;
    ann_Ctx *c3, *was;
    int polls = 0;
    ann_ctx_defaults(&o);
    o.cancel = after3;
    o.cancel_ud = &polls;
    c3 = ann_ctx_new(&o);
    was = ann_ctx_use(c3);
    CHECK_ERR(ann_mm(a, b) != NULL, "gemm: cancelled by the host");
    CHECK(polls == 4);
    ann_ctx_use(was);
    ann_ctx_free(c3);
  }
  /* with no deadline, the same product split in blocks is right: every
  ** element is 4096 * 0.5 */
  ann_release(a); ann_release(b);
  a = ann_full(2, (int64_t[]){300, 2000}, 1.0f);
  b = ann_full(2, (int64_t[]){2000, 700}, 0.25f);
  d.at = 1e300;
  d.polls = 0;
  y = ann_mm(a, b);
  CHECK(y != NULL && d.polls >= 2);
  if (y) {
    float lo = 1e9f, hi = -1e9f;
    for (n = 0; n < 300 * 700; n++) {
      float v = ann_data(y)[n];
      lo = v < lo ? v : lo; hi = v > hi ? v : hi;
    }
    CHECK(lo == 500.0f && hi == 500.0f);
  }
  ann_release(y); ann_release(a); ann_release(b);
  /* backward is polled between nodes */
  x = ann_rand(2, sm);
  ann_set_requires_grad(x, 1);
  s = ann_retain(x);
  for (i = 0; i < 50; i++) {
    ann_Tensor *t = ann_ag_unary(ANN_TANH, s);
    ann_release(s);
    s = t;
  }
  y = ann_ag_sum(s, -1, 0);
  ann_release(s);
  d.at = 0;                                 /* past already */
  CHECK_ERR(ann_backward(y, NULL) == 0, "backward: cancelled by the host");
  ann_release(y); ann_release(x);
  ann_ctx_use(NULL);
  ann_ctx_free(c);
  /* no callback: nothing is polled */
  CHECK(ann_poll("x") == 0);
}


/* the fused epoch polls once a batch, from the calling thread */
static void test_cancel_epoch(void) {
  ann_CtxOpts o;
  ann_Ctx *c;
  int polls = 0, act[1] = {ANN_ACT_IDENTITY};
  int64_t ws[2] = {1, 2}, bs = 1, xs[2] = {100, 2}, ys[2] = {100, 1};
  ann_Tensor *w, *b, *x, *y;
  ann_Mlp *m;
  ann_MlpTrain t;
  double loss;
  ann_ctx_defaults(&o);
  o.cancel = after3;
  o.cancel_ud = &polls;
  c = ann_ctx_new(&o);
  ann_ctx_use(c);
  w = ann_zeros(2, ws); b = ann_zeros(1, &bs);
  x = ann_full(2, xs, 1.0f); y = ann_full(2, ys, 1.0f);
  m = ann_mlp_new(1, &w, &b, act, NULL);
  CHECK(m != NULL);
  memset(&t, 0, sizeof t);
  t.loss = ANN_MLP_MSE; t.opt = ANN_MLP_SGD; t.o.lr = 0.1f; t.o.step = 1;
  CHECK_ERR(ann_mlp_epoch(m, x, y, NULL, 10, &t, &loss) == 0,
            "fit: cancelled by the host");
  CHECK(polls == 4);
  CHECK(t.o.step == 4);                     /* 3 batches stepped */
  /* on x = 1, y = 1, each SGD step moves b, w1 and w2 by the same
  ** 0.1 * 2 (1 - out), so out = w1 + w2 + b by three times that:
  ** out 0 -> 0.6 -> 0.84, b 0 -> 0.2 -> 0.28 -> 0.312 */
  CHECK_NEAR(ann_data(b)[0], 0.312, 1e-6);
  CHECK_NEAR(ann_data(w)[1], 0.312, 1e-6);
  ann_mlp_free(m);
  ann_release(w); ann_release(b); ann_release(x); ann_release(y);
  /* a network big enough for the pool's threads: they stop together at
  ** the poll of the fourth batch, and the next epoch runs whole */
  {
    int64_t w1s[2] = {256, 256}, b1s = 256, w2s[2] = {4, 256}, b2s = 4;
    int64_t bx[2] = {640, 256}, by[2] = {640, 4};
    int acts[2] = {ANN_ACT_TANH, ANN_ACT_IDENTITY};
    ann_Tensor *ws[2], *bs2[2];
    ann_set_num_threads(2);
    ws[0] = ann_rand(2, w1s); ws[1] = ann_rand(2, w2s);
    bs2[0] = ann_zeros(1, &b1s); bs2[1] = ann_zeros(1, &b2s);
    x = ann_rand(2, bx); y = ann_rand(2, by);
    m = ann_mlp_new(2, ws, bs2, acts, NULL);
    memset(&t, 0, sizeof t);
    t.loss = ANN_MLP_MSE; t.opt = ANN_MLP_SGD; t.o.lr = 0.01f; t.o.step = 1;
    polls = 0;
    CHECK_ERR(ann_mlp_epoch(m, x, y, NULL, 64, &t, &loss) == 0,
              "fit: cancelled by the host");
    CHECK(polls == 4 && t.o.step == 4);
    polls = -1000;                           /* no more cancelling */
    CHECK(ann_mlp_epoch(m, x, y, NULL, 64, &t, &loss) == 0);
    CHECK(t.o.step == 14 && polls == -1000 + 10);
    ann_mlp_free(m);
    ann_release(ws[0]); ann_release(ws[1]);
    ann_release(bs2[0]); ann_release(bs2[1]);
    ann_release(x); ann_release(y);
  }
  ann_ctx_use(NULL);
  ann_ctx_free(c);
}

/* ---- files ------------------------------------------------------------------ */

/* the host's io: files in memory, and only under "mod/" */
typedef struct MFile { char name[64]; unsigned char *data; size_t len; } MFile;
typedef struct MHandle { MFile *f; size_t pos; } MHandle;
static MFile mfs[16];
static int mopens, mcloses;

static MFile *mfind(const char *name, int create) {
  int i;
  for (i = 0; i < 16; i++)
    if (strcmp(mfs[i].name, name) == 0) return &mfs[i];
  if (!create) return NULL;
  for (i = 0; i < 16; i++)
    if (mfs[i].name[0] == '\0') {
      snprintf(mfs[i].name, sizeof mfs[i].name, "%s", name);
      return &mfs[i];
    }
  return NULL;
}

static void *m_open(void *ud, const char *path, const char *mode) {
  MHandle *h;
  MFile *f;
  (void)ud;
  if (strncmp(path, "mod/", 4) != 0) return NULL;
  if ((f = mfind(path, mode[0] == 'w')) == NULL) return NULL;
  mopens++;
  if (mode[0] == 'w') { free(f->data); f->data = NULL; f->len = 0; }
  h = malloc(sizeof *h);
  h->f = f; h->pos = 0;
  return h;
}

static size_t m_read(void *ud, void *fp, void *buf, size_t n) {
  MHandle *h = fp;
  size_t k = h->f->len - h->pos < n ? h->f->len - h->pos : n;
  (void)ud;
  if (k > 1000) k = 1000;                   /* short reads, as a pipe gives */
  memcpy(buf, h->f->data + h->pos, k);
  h->pos += k;
  return k;
}

static size_t m_write(void *ud, void *fp, const void *buf, size_t n) {
  MHandle *h = fp;
  (void)ud;
  h->f->data = realloc(h->f->data, h->f->len + n);
  memcpy(h->f->data + h->f->len, buf, n);
  h->f->len += n;
  return n;
}

static int m_close(void *ud, void *fp) {
  (void)ud;
  mcloses++;
  free(fp);
  return 0;
}

static void mput(const char *name, const void *data, size_t n) {
  MFile *f = mfind(name, 1);
  free(f->data);
  f->data = malloc(n ? n : 1);
  memcpy(f->data, data, n);
  f->len = n;
}

static size_t gzip_bytes(const char *s, size_t n, unsigned char *out,
                         size_t cap) {
  z_stream z;
  memset(&z, 0, sizeof z);
  deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  z.next_in = (unsigned char *)s; z.avail_in = (uInt)n;
  z.next_out = out; z.avail_out = (uInt)cap;
  deflate(&z, Z_FINISH);
  deflateEnd(&z);
  return cap - z.avail_out;
}

static ann_Ctx *with_files(int files) {
  ann_CtxOpts o;
  ann_ctx_defaults(&o);
  o.files = files;
  o.io.open = m_open; o.io.read = m_read; o.io.write = m_write;
  o.io.close = m_close;
  return ann_ctx_new(&o);
}

static void test_files_none(void) {
  char real[64];
  ann_Ctx *c = with_files(ANN_FILES_NONE);
  ann_CsvOpts co;
  ann_Csv csv;
  ann_Reader r;
  ann_Image *img = ann_image_new(2, 2, 0);
  ann_Tensor *t = ann_scalar(1.0f);
  FILE *f;
  snprintf(real, sizeof real, "/tmp/ann_ctx_%ld.csv", (long)getpid());
  f = fopen(real, "w");
  fputs("SECRET,1\n", f);
  fclose(f);
  ann_csv_defaults(&co);
  ann_ctx_use(c);
  /* a file that is there, read with every reader: refused unread */
  CHECK_ERR(ann_csv_read(real, &co, &csv) == 0, "file access is disabled by the host");
  CHECK(strstr(ann_error(), "SECRET") == NULL);
  CHECK_ERR(ann_idx_read(real) != NULL, "file access is disabled by the host");
  CHECK_ERR(ann_npy_load(real) != NULL, "file access is disabled by the host");
  CHECK_ERR(ann_png_read(real) != NULL, "file access is disabled by the host");
  CHECK_ERR(ann_reader_open(&r, real, 1 << 20) == 0, "file access is disabled by the host");
  /* and every writer, which leaves the file as it was */
  CHECK_ERR(ann_npy_save(t, real) == 0, "file access is disabled by the host");
  CHECK_ERR(ann_png_write(img, real) == 0, "file access is disabled by the host");
  CHECK_ERR(ann_writer_open(real) != NULL, "file access is disabled by the host");
  ann_ctx_use(NULL);
  {
    unsigned char b[64];
    CHECK(test_slurp(real, b, sizeof b) == 9 && memcmp(b, "SECRET,1\n", 9) == 0);
  }
  CHECK(mopens == 0);
  remove(real);
  ann_release(t);
  ann_image_free(img);
  ann_ctx_free(c);
}

static void test_files_io(void) {
  static const char text[] = "a,b,label\n1,2,x\n3,4,y\n5,6,x\n";
  unsigned char gz[256];
  size_t n;
  ann_Ctx *c = with_files(ANN_FILES_IO);
  ann_CsvOpts co;
  ann_Csv csv;
  ann_Reader r;
  ann_Writer *w;
  ann_Image *img = ann_image_new(3, 2, 0x102030), *back;
  int64_t shape[2] = {2, 3};
  ann_Tensor *t = ann_arange(1, 6, 1), *u;
  uint32_t px;
  u = ann_view(t, 2, shape);
  ann_release(t);
  t = u;
  ann_csv_defaults(&co);
  co.classes = 1;
  ann_ctx_use(c);
  /* a CSV, raw and gzip, read through the host */
  mput("mod/d.csv", text, sizeof text - 1);
  CHECK(ann_csv_read("mod/d.csv", &co, &csv) == 0);
  CHECK(csv.x && csv.x->shape[0] == 3 && ann_data(csv.x)[5] == 6.0f);
  CHECK(csv.y && ann_data(csv.y)[1] == 2.0f && csv.nclasses == 2);
  ann_csv_free(&csv);
  n = gzip_bytes(text, sizeof text - 1, gz, sizeof gz);
  mput("mod/d.csv.gz", gz, n);
  CHECK(ann_csv_read("mod/d.csv.gz", &co, &csv) == 0);
  CHECK(csv.x && csv.x->shape[0] == 3 && ann_data(csv.x)[4] == 5.0f);
  ann_csv_free(&csv);
  mput("mod/cut.csv.gz", gz, n - 6);
  CHECK_ERR(ann_csv_read("mod/cut.csv.gz", &co, &csv) == 0, "compressed data ends early");
  /* the host refuses what is not in the mod's folder: never read */
  CHECK_ERR(ann_csv_read("/etc/passwd", &co, &csv) == 0, "/etc/passwd: cannot open file: refused by the host");
  CHECK(strstr(ann_error(), "root") == NULL);
  /* npy written and read back through the host */
  CHECK(ann_npy_save(t, "mod/t.npy") == 0);
  CHECK(mfind("mod/t.npy", 0) && mfind("mod/t.npy", 0)->len == 128 + 24);
  u = ann_npy_load("mod/t.npy");
  CHECK(u && u->ndim == 2 && u->shape[1] == 3 && ann_data(u)[5] == 6.0f);
  ann_release(u);
  CHECK_ERR(ann_npy_save(t, "elsewhere.npy") == 0, "refused by the host");
  /* IDX through the host, gzip */
  {
    static const char idx[] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9};
    n = gzip_bytes(idx, sizeof idx, gz, sizeof gz);
    mput("mod/i.idx.gz", gz, n);
    u = ann_idx_read("mod/i.idx.gz");
    CHECK(u && u->shape[0] == 3 && ann_data(u)[2] == 9.0f);
    ann_release(u);
  }
  /* a model file: written whole at commit, read back with its CRC */
  w = ann_writer_open("mod/m.ann");
  CHECK(w != NULL);
  CHECK(ann_writer_bytes(w, "abc", 3) == 0);
  CHECK(ann_writer_tensor(w, t) == 0);
  CHECK(mfind("mod/m.ann", 0) == NULL);     /* nothing before commit */
  CHECK(ann_writer_commit(w) == 0);
  /* header 20, body 3 + 1 + 16 + 24, trailer 12 */
  CHECK(mfind("mod/m.ann", 0) && mfind("mod/m.ann", 0)->len == 20 + 44 + 12);
  CHECK(ann_reader_open(&r, "mod/m.ann", 1 << 20) == 0);
  CHECK(ann_reader_left(&r) == 44);
  CHECK(memcmp(ann_reader_take(&r, 3, "x"), "abc", 3) == 0);
  u = ann_reader_tensor(&r);
  CHECK(u && ann_numel(u) == 6 && ann_data(u)[5] == 6.0f);
  ann_release(u);
  ann_reader_close(&r);
  CHECK_ERR(ann_reader_open(&r, "mod/m.ann", 50) == 0, "more than 50 bytes (the max_bytes limit)");
  mfind("mod/m.ann", 0)->data[30] ^= 1;
  CHECK_ERR(ann_reader_open(&r, "mod/m.ann", 1 << 20) == 0, "CRC-32 mismatch");
  /* a PNG written and read back */
  CHECK(ann_png_write(img, "mod/p.png") == 0);
  back = ann_png_read("mod/p.png");
  CHECK(back && back->width == 3 && back->height == 2);
  CHECK(back && ann_image_get(back, 2, 1, &px) == 0 && px == 0x102030);
  ann_image_free(back);
  CHECK(mopens == mcloses);
  ann_ctx_use(NULL);
  ann_release(t);
  ann_image_free(img);
  ann_ctx_free(c);
}

/* reading a file is polled between chunks */
static void test_files_cancel(void) {
  static char text[20000];
  ann_CtxOpts o;
  ann_Ctx *c;
  ann_CsvOpts co;
  ann_Csv csv;
  int polls = 0, i;
  for (i = 0; i < 2000; i++) memcpy(text + 10 * i, "1,2,3,4,5\n", 10);
  mput("mod/big.csv", text, sizeof text);
  ann_ctx_defaults(&o);
  o.files = ANN_FILES_IO;
  o.io.open = m_open; o.io.read = m_read; o.io.write = m_write;
  o.io.close = m_close;
  o.cancel = after3;
  o.cancel_ud = &polls;
  c = ann_ctx_new(&o);
  ann_ctx_use(c);
  ann_csv_defaults(&co);
  CHECK_ERR(ann_csv_read("mod/big.csv", &co, &csv) == 0,
            "mod/big.csv: cancelled by the host");
  CHECK(polls == 4);                        /* the host reads 1000 bytes a call */
  CHECK(mopens == mcloses);
  ann_ctx_use(NULL);
  CHECK(ann_ctx_held(c) == 0);
  ann_ctx_free(c);
}

/* ---- random streams and grad modes ------------------------------------------ */

static void test_streams(void) {
  ann_Ctx *a = ann_ctx_new(NULL), *b = ann_ctx_new(NULL);
  uint64_t ref[8], s[4];
  int i;
  /* the stream of seed 7 and of seed 8, from the default context */
  ann_manual_seed(7);
  for (i = 0; i < 4; i++) ref[i] = ann_rand_u64();
  ann_manual_seed(8);
  for (i = 0; i < 4; i++) ref[4 + i] = ann_rand_u64();
  ann_manual_seed(1);
  ann_rand_get_state(s);
  /* interleaved draws from a (seed 7) and b (seed 8) give each its own */
  ann_ctx_use(a); ann_manual_seed(7);
  ann_ctx_use(b); ann_manual_seed(8);
  for (i = 0; i < 4; i++) {
    ann_ctx_use(a); CHECK(ann_rand_u64() == ref[i]);
    ann_ctx_use(b); CHECK(ann_rand_u64() == ref[4 + i]);
  }
  /* grad mode: off in a, on in b, and the default's untouched */
  ann_ctx_use(a); ann_set_grad_enabled(0);
  ann_ctx_use(b); CHECK(ann_grad_enabled());
  ann_ctx_use(a); CHECK(!ann_grad_enabled());
  ann_ctx_use(NULL); CHECK(ann_grad_enabled());
  {
    uint64_t s2[4];
    ann_rand_get_state(s2);
    CHECK(memcmp(s, s2, sizeof s) == 0);    /* the default stream did not move */
  }
  ann_ctx_free(a);
  ann_ctx_free(b);
}

static void collect(void *ud, const char *s, size_t n) {
  strncat(ud, s, n);
}

static void test_output(void) {
  char got[64] = "";
  ann_CtxOpts o;
  ann_Ctx *c;
  ann_ctx_defaults(&o);
  o.output = collect;
  o.output_ud = got;
  c = ann_ctx_new(&o);
  ann_ctx_use(c);
  CHECK(ann_write("epoch 1", 7) == 0 && ann_write("\n", 1) == 0);
  ann_ctx_use(NULL);
  CHECK(strcmp(got, "epoch 1\n") == 0);
  ann_ctx_free(c);
  o.files = 7;
  CHECK_ERR(ann_ctx_new(&o) != NULL, "files = 7");
  o.files = ANN_FILES_IO;
  CHECK_ERR(ann_ctx_new(&o) != NULL, "four io callbacks");
}

int main(void) {
  test_limit();
  test_onlimit();
  test_owner();
  test_cancel();
  test_cancel_epoch();
  test_files_none();
  test_files_io();
  test_files_cancel();
  test_streams();
  test_output();
  return test_report();
}
