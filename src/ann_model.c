/*
** ann_model.c: models saved by ann.save, loaded and run from C.
**
** The file goes through the one decoder (ann_rec.c); the records must
** describe what the fused path of the Lua side runs (lua/annlua/fused.lua):
** a Sequential of Linear layers, each followed by at most one of Tanh,
** ReLU, Sigmoid, LeakyReLU (slope >= 0) or Identity, or a bare Linear.
** Sizes come from the saved tensors; the constructor arguments must agree
** with them.  The plan is an ann_MlpNet over one block holding the weights,
** run by ann_mlp.c's forward kernel, the one the Lua forward takes: both
** give the same bits.
**
** A model is read-only once loaded.  Each run takes its scratch from the
** stack when it is small (one sample of layers up to 512 wide) and else
** from a buffer of the calling thread, kept between calls and freed when
** the thread exits; so threads may run one model at once, and a run
** allocates nothing once its thread has run a batch as large.
*/
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ann_impl.h"

#define MAXL ANN_MLP_MAXL
#define STACK_FLOATS 1024       /* scratch on the stack: 4 KB */
#define MAX_BYTES ((size_t)1 << 32)   /* as ann.load: a model file up to 4 GiB */

struct ann_Model {
  ann_MlpNet net;               /* points into mem */
  void *mem;                    /* the weights and biases, one block */
};

/* ---- the classes the C loader reads ------------------------------------ */

enum { SEQUENTIAL, LINEAR, TANH, RELU, SIGMOID, LEAKY, IDENTITY, NCLASSES };
static const char *const classes[NCLASSES] = {"Sequential", "Linear",
  "Tanh", "ReLU", "Sigmoid", "LeakyReLU", "Identity"};

static int class_of(const ann_Rec *m) {
  int c;
  for (c = 0; c < NCLASSES; c++)
    if (m->u.mod.len == strlen(classes[c])
        && strcmp(m->u.mod.name, classes[c]) == 0) return c;
  return -1;
}

/* the decoder's hook: a class we do not read stops the decoding there */
static int builtin_only(void *ud, const char *name, size_t len,
                        const char *file) {
  int c;
  (void)ud;
  for (c = 0; c < NCLASSES; c++)
    if (len == strlen(classes[c]) && strcmp(name, classes[c]) == 0) return 0;
  return ann_seterror("%s: module type '%.80s' is not a built-in layer the "
                      "C loader reads (Sequential, Linear, Tanh, ReLU, "
                      "Sigmoid, LeakyReLU, Identity); load it from Lua",
                      file, name);
}

/* ---- the plan ----------------------------------------------------------- */

typedef struct Plan {
  const char *file;
  int n;                        /* Linear layers so far */
  const ann_Tensor *w[MAXL], *b[MAXL];
  int act[MAXL];
  float slope[MAXL];
  int open;                     /* the last Linear has no activation yet */
} Plan;

static const char *rec_kind(const ann_Rec *x) {
  static const char *const names[] = {"nil", "boolean", "boolean",
    "integer", "number", "string", "table", "tensor", "module"};
  return names[x->type];
}

/* a module with no tensors and no children (an activation) */
static int bare(Plan *p, const ann_Rec *m, int pos) {
  if (m->u.mod.nt == 0 && m->u.mod.nc == 0) return 0;
  return ann_seterror("%s: %s (layer %d) holds %s the C loader does not "
                      "know", p->file, m->u.mod.name, pos,
                      m->u.mod.nt ? "tensors" : "modules");
}

/* constructor argument i (1-based) as Lua's loader passes it: the first
** args.n of them when n is given; NULL for nil */
static const ann_Rec *arg(const ann_Rec *args, int64_t i) {
  const ann_Rec *n = ann_rec_field(args, "n"), *a;
  if (n && n->type == ANN_REC_INT && i > n->u.i) return NULL;
  a = ann_rec_index(args, i);
  return a && a->type != ANN_REC_NIL ? a : NULL;
}

/* an integer argument equal to v (Linear takes integers only) */
static int arg_is(const ann_Rec *a, int64_t v) {
  return a && a->type == ANN_REC_INT && a->u.i == v;
}

static int linear(Plan *p, const ann_Rec *m, int pos) {
  const ann_Tensor *w = NULL, *b = NULL;
  const ann_Rec *args = m->u.mod.args, *opts, *bias;
  char sw[64], sb[64];
  int64_t width;
  uint32_t k;
  int want_bias;
  if (m->u.mod.nc != 0)
    return ann_seterror("%s: Linear (layer %d) holds modules the C loader "
                        "does not know", p->file, pos);
  for (k = 0; k < m->u.mod.nt; k++) {
    const ann_RecField *f = &m->u.mod.tensors[k];
    if (strcmp(f->name, "weight") == 0 && f->len == 6 && !w) w = f->rec->u.t;
    else if (strcmp(f->name, "bias") == 0 && f->len == 4 && !b)
      b = f->rec->u.t;
    else
      return ann_seterror("%s: Linear (layer %d) holds a tensor '%.80s' the "
                          "C loader does not know", p->file, pos, f->name);
  }
  if (w == NULL)
    return ann_seterror("%s: Linear (layer %d) has no weight", p->file, pos);
  if (w->ndim != 2 || w->shape[0] < 1 || w->shape[1] < 1
      || w->shape[0] > INT32_MAX || w->shape[1] > INT32_MAX)
    return ann_seterror("%s: Linear (layer %d) has a weight of %s, not a "
                        "non-empty [out,in] matrix", p->file, pos,
                        ann_shapestr(w, sw, sizeof sw));
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
    return ann_seterror("%s: Linear (layer %d) has a bias of %s for a "
                        "weight of %s", p->file, pos,
                        ann_shapestr(b, sb, sizeof sb),
                        ann_shapestr(w, sw, sizeof sw));
  /* the arguments Lua's loader would rebuild it with must agree */
  if (!arg_is(arg(args, 1), w->shape[1])
      || !arg_is(arg(args, 2), w->shape[0]))
    return ann_seterror("%s: Linear (layer %d) has a weight of %s but other "
                        "arguments than (%lld, %lld)", p->file, pos,
                        ann_shapestr(w, sw, sizeof sw),
                        (long long)w->shape[1], (long long)w->shape[0]);
  opts = arg(args, 3);
  if (opts && opts->type != ANN_REC_TABLE)
    return ann_seterror("%s: Linear (layer %d) has options that are a %s",
                        p->file, pos, rec_kind(opts));
  bias = opts ? ann_rec_field(opts, "bias") : NULL;
  want_bias = !(bias && bias->type == ANN_REC_FALSE);
  if (want_bias != (b != NULL))
    return ann_seterror("%s: Linear (layer %d) has %s bias, but its "
                        "arguments ask for %s", p->file, pos,
                        b ? "a" : "no", want_bias ? "one" : "none");
  width = p->n > 0 ? p->w[p->n - 1]->shape[0] : w->shape[1];
  if (w->shape[1] != width)
    return ann_seterror("%s: Linear (layer %d) takes %lld inputs but the "
                        "layer before gives %lld", p->file, pos,
                        (long long)w->shape[1], (long long)width);
  if (p->n == MAXL)
    return ann_seterror("%s: more than %d Linear layers", p->file, MAXL);
  p->w[p->n] = w; p->b[p->n] = b;
  p->act[p->n] = ANN_ACT_IDENTITY; p->slope[p->n] = 0;
  p->n++;
  p->open = 1;
  return 0;
}

static int activation(Plan *p, const ann_Rec *m, int c, int pos) {
  static const int acts[NCLASSES] = {0, 0, ANN_ACT_TANH, ANN_ACT_RELU,
                                     ANN_ACT_SIGMOID, ANN_ACT_LEAKY, 0};
  double slope = 0;
  if (bare(p, m, pos) < 0) return -1;
  if (c == IDENTITY) return 0;            /* nothing to do */
  if (!p->open)
    return ann_seterror("%s: %s (layer %d) does not follow a Linear: the C "
                        "loader reads Linear layers each followed by at "
                        "most one activation", p->file, m->u.mod.name, pos);
  if (c == LEAKY) {
    const ann_Rec *a = arg(m->u.mod.args, 1);
    slope = 0.01;                         /* LeakyReLU()'s default */
    if (a && a->type == ANN_REC_INT) slope = (double)a->u.i;
    else if (a && a->type == ANN_REC_FLOAT) slope = a->u.f;
    else if (a && a->type != ANN_REC_NIL)
      return ann_seterror("%s: LeakyReLU (layer %d) has a slope that is a "
                          "%s", p->file, pos, rec_kind(a));
    if (!(slope >= 0))
      return ann_seterror("%s: LeakyReLU (layer %d) has slope %g: the C "
                          "loader reads slopes >= 0", p->file, pos, slope);
  }
  p->act[p->n - 1] = acts[c];
  p->slope[p->n - 1] = (float)slope;     /* as the fused path takes it */
  p->open = 0;
  return 0;
}

static int plan_sequential(Plan *p, const ann_Rec *s) {
  const ann_Rec *list = arg(s->u.mod.args, 1);
  uint32_t k;
  if (s->u.mod.nt != 0)
    return ann_seterror("%s: the Sequential holds tensors the C loader does "
                        "not know", p->file);
  /* its layers: the saved argument list, as Lua's loader rebuilds it,
  ** and the children, which must be the same modules in the same order */
  if (list == NULL || list->type != ANN_REC_TABLE || arg(s->u.mod.args, 2)
      || list->u.tab.n != s->u.mod.nc)
    return ann_seterror("%s: the Sequential's arguments are not the list of "
                        "its %lu children", p->file,
                        (unsigned long)s->u.mod.nc);
  for (k = 0; k < s->u.mod.nc; k++) {
    const ann_RecField *f = &s->u.mod.children[k];
    char key[16];
    snprintf(key, sizeof key, "%lu", (unsigned long)k + 1);
    if (strcmp(f->name, key) != 0 || f->len != strlen(key)
        || ann_rec_index(list, (int64_t)k + 1) != f->rec)
      return ann_seterror("%s: the Sequential's child %lu ('%.40s') is not "
                          "its argument %lu", p->file, (unsigned long)k + 1,
                          f->name, (unsigned long)k + 1);
  }
  for (k = 0; k < s->u.mod.nc; k++) {
    const ann_Rec *m = s->u.mod.children[k].rec;
    int c = class_of(m), pos = (int)k + 1;
    if (c == SEQUENTIAL)
      return ann_seterror("%s: layer %d is a Sequential inside a Sequential,"
                          " which the C loader does not read", p->file, pos);
    if ((c == LINEAR ? linear(p, m, pos) : activation(p, m, c, pos)) < 0)
      return -1;
  }
  if (p->n == 0)
    return ann_seterror("%s: the Sequential has no Linear layer", p->file);
  return 0;
}

static int plan_root(Plan *p, const ann_Rec *root) {
  int c;
  if (root->type != ANN_REC_MODULE)
    return ann_seterror("%s: the file holds a %s, not a model (a Sequential"
                        " of built-in layers or a Linear)", p->file,
                        rec_kind(root));
  c = class_of(root);
  if (c == SEQUENTIAL) return plan_sequential(p, root);
  if (c == LINEAR) return linear(p, root, 1);
  return ann_seterror("%s: the model is a %s, not a Sequential of built-in "
                      "layers or a Linear", p->file, root->u.mod.name);
}

/* floats of a block of n, whole cache lines */
static size_t lines(int64_t n) { return ((size_t)n + 15) & ~(size_t)15; }

/* the weights copied into one block, and the net over it */
static ann_Model *build(const Plan *p) {
  ann_Model *m;
  size_t total = 0, off = 0;
  float *base;
  int l;
  for (l = 0; l < p->n; l++)
    total += lines(ann_numel(p->w[l])) + (p->b[l] ? lines(p->w[l]->shape[0])
                                          : 0);
  if ((m = ann_calloc(1, sizeof *m)) == NULL
      || (m->mem = ann_malloc(total * sizeof(float) + ANN_ALIGN)) == NULL) {
    ann_free(m);
    return ann_seterror("model: out of memory"), NULL;
  }
  base = (float *)(((uintptr_t)m->mem + ANN_ALIGN - 1)
                   & ~(uintptr_t)(ANN_ALIGN - 1));
  m->net.n = p->n;
  m->net.width[0] = p->w[0]->shape[1];
  for (l = 0; l < p->n; l++) {
    float *w = base + off, *b = NULL;
    memcpy(w, ann_data(p->w[l]), (size_t)ann_numel(p->w[l]) * sizeof(float));
    off += lines(ann_numel(p->w[l]));
    if (p->b[l]) {
      b = base + off;
      memcpy(b, ann_data(p->b[l]), (size_t)p->w[l]->shape[0] * sizeof(float));
      off += lines(p->w[l]->shape[0]);
    }
    m->net.w[l] = w; m->net.b[l] = b;
    m->net.act[l] = p->act[l]; m->net.slope[l] = p->slope[l];
    m->net.width[l + 1] = p->w[l]->shape[0];
  }
  for (l = 0; l <= p->n; l++)
    if (m->net.width[l] > m->net.maxw) m->net.maxw = m->net.width[l];
  return m;
}

static ann_Model *load(ann_Reader *r) {
  ann_RecOpts o = {builtin_only, NULL};
  ann_RecDoc *d = ann_rec_decode(r, &o);
  ann_Model *m = NULL;
  Plan p;
  if (d == NULL) return NULL;
  memset(&p, 0, sizeof p);
  p.file = r->path;
  if (plan_root(&p, ann_rec_root(d)) == 0) m = build(&p);
  ann_rec_free(d);
  return m;
}

ann_Model *ann_model_load(const char *path) {
  ann_Reader r;
  ann_Model *m;
  ann_init();                 /* the gemm dispatch the Lua forward has */
  if (path == NULL) return ann_seterror("model: no file name"), NULL;
  if (ann_reader_open(&r, path, MAX_BYTES) < 0) return NULL;
  m = load(&r);
  ann_reader_close(&r);
  return m;
}

ann_Model *ann_model_load_mem(const void *buf, size_t len) {
  ann_Reader r;
  ann_Model *m;
  ann_init();
  if (ann_reader_open_mem(&r, buf, len, "(buffer)") < 0) return NULL;
  m = load(&r);
  ann_reader_close(&r);
  return m;
}

void ann_model_free(ann_Model *m) {
  if (m == NULL) return;
  ann_free(m->mem);
  ann_free(m);
}

int ann_model_ninputs(const ann_Model *m) {
  return m ? (int)m->net.width[0] : 0;
}

int ann_model_noutputs(const ann_Model *m) {
  return m ? (int)m->net.width[m->net.n] : 0;
}

/* ---- running ------------------------------------------------------------ */

/* the calling thread's scratch, freed when the thread exits */
typedef struct Scratch { void *raw; float *p; int64_t cap; } Scratch;
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int key_ok;

static void scratch_free(void *p) {
  Scratch *s = p;
  free(s->raw);
  free(s);
}

static void make_key(void) {
  key_ok = pthread_key_create(&key, scratch_free) == 0;
}

static float *thread_scratch(int64_t n) {
  Scratch *s;
  void *raw;
  pthread_once(&key_once, make_key);
  if (!key_ok) return ann_seterror("model: no thread-local scratch"), NULL;
  s = pthread_getspecific(key);
  if (s && s->cap >= n) return s->p;
  if ((size_t)n > (SIZE_MAX - ANN_ALIGN) / sizeof(float)
      || (raw = malloc((size_t)n * sizeof(float) + ANN_ALIGN)) == NULL)
    return ann_seterror("model: out of memory for the scratch of a run"),
           NULL;
  if (s == NULL) {
    if ((s = calloc(1, sizeof *s)) == NULL || pthread_setspecific(key, s)) {
      free(s); free(raw);
      return ann_seterror("model: out of memory"), NULL;
    }
  }
  free(s->raw);
  s->raw = raw;
  s->p = (float *)(((uintptr_t)raw + ANN_ALIGN - 1)
                   & ~(uintptr_t)(ANN_ALIGN - 1));
  s->cap = n;
  return s->p;
}

int ann_model_run(const ann_Model *m, const float *in, int n, float *out) {
  _Alignas(ANN_ALIGN) float stack[STACK_FLOATS];
  float *scratch = stack;
  int64_t need;
  if (m == NULL) return ann_seterror("model: run of a NULL model");
  if (n < 0) return ann_seterror("model: %d samples", n);
  if (n == 0) return 0;
  if (in == NULL || out == NULL)
    return ann_seterror("model: NULL %s", in ? "output" : "input");
  if ((need = ann_mlp_scratch(&m->net, n)) < 0)
    return ann_seterror("model: %d samples is too many", n);
  if (need > STACK_FLOATS && (scratch = thread_scratch(need)) == NULL)
    return -1;
  return ann_mlp_run(&m->net, in, n, out, scratch);
}
