/*
** ann_rec.c: the body of a model file (docs/file-format.md) decoded into a
** tree of records.  The one decoder: ann.load (through lfile.c) and
** ann_model_load (ann_model.c) both read files through it.
**
** A file is untrusted input.  Every length and count is checked against
** the bytes left before anything is allocated for it, nesting is limited,
** and all the tree's memory is counted against a budget proportional to
** the body's size, so that no crafted file makes the decoder allocate more
** than its bytes justify.  A ref resolves to the record it names, which
** must be complete: the tree is a DAG (sharing survives), never a cycle.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ann_impl.h"

#define MAXDEPTH 200
/* bytes the tree may hold per byte of body, and a floor: the smallest
** records (a 0-dim tensor is 7 bytes, with a header, storage and a record
** of about 400 bytes) stay well inside it */
#define BUDGET_PER_BYTE 128
#define BUDGET_FLOOR (1 << 20)

static ann_Rec k_nil = {ANN_REC_NIL, 0, 0, 1, {0}};
static ann_Rec k_false = {ANN_REC_FALSE, 0, 0, 1, {0}};
static ann_Rec k_true = {ANN_REC_TRUE, 1, 0, 1, {0}};

typedef struct Chunk { struct Chunk *next; size_t used, cap; } Chunk;

struct ann_RecDoc {
  ann_Rec *root;
  Chunk *chunks;              /* the records, names and arrays */
  ann_Rec **ids;              /* ids[k - 1]: the object of id k */
  uint32_t nids, capids;
  size_t budget;              /* bytes still allowed */
  size_t body;                /* the body's length, for messages */
  ann_Reader *r;              /* while decoding */
  const ann_RecOpts *o;
};

/* ---- memory ------------------------------------------------------------- */

static int bad(ann_RecDoc *d, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return ann_seterror("%s: bad body at byte %zu: %s", d->r->path, d->r->pos,
                      msg);
}

static int spend(ann_RecDoc *d, size_t n) {
  if (n > d->budget)
    return bad(d, "the records need more memory than a body of %zu bytes "
               "justifies", d->body);
  d->budget -= n;
  return 0;
}

/* n bytes, 16-aligned, from the doc's chunks */
static void *alloc(ann_RecDoc *d, size_t n) {
  Chunk *c = d->chunks;
  void *p;
  n = (n + 15) & ~(size_t)15;
  if (c == NULL || c->cap - c->used < n) {
    size_t cap = n > 8192 ? n : 8192;
    if (spend(d, cap + sizeof *c) < 0) return NULL;
    if ((c = ann_malloc(sizeof *c + 16 + cap)) == NULL)
      return ann_seterror("load: out of memory"), NULL;
    c->next = d->chunks; c->used = 0; c->cap = cap;
    d->chunks = c;
  }
  p = (char *)c + ((sizeof *c + 15) & ~(size_t)15) + c->used;
  c->used += n;
  return p;
}

static ann_Rec *newrec(ann_RecDoc *d, int type) {
  ann_Rec *x = alloc(d, sizeof *x);
  if (x) { memset(x, 0, sizeof *x); x->type = type; }
  return x;
}

/* an id for x, the next in the order records begin */
static int newid(ann_RecDoc *d, ann_Rec *x) {
  if (d->nids == d->capids) {
    uint32_t cap = d->capids ? 2 * d->capids : 64;
    ann_Rec **ids;
    if (cap < d->capids || spend(d, (size_t)(cap - d->capids) * sizeof *ids))
      return -1;
    if ((ids = ann_realloc(d->ids, (size_t)cap * sizeof *ids)) == NULL)
      return ann_seterror("load: out of memory");
    d->ids = ids; d->capids = cap;
  }
  d->ids[d->nids++] = x;
  x->id = d->nids;
  return 0;
}

void ann_rec_free(ann_RecDoc *d) {
  uint32_t k;
  Chunk *c, *next;
  if (d == NULL) return;
  for (k = 0; k < d->nids; k++)
    if (d->ids[k]->type == ANN_REC_TENSOR) ann_release(d->ids[k]->u.t);
  for (c = d->chunks; c; c = next) { next = c->next; ann_free(c); }
  ann_free(d->ids);
  ann_free(d);
}

/* ---- scalars ------------------------------------------------------------ */

static uint64_t le(const unsigned char *b, int n) {
  uint64_t v = 0;
  while (n-- > 0) v = v << 8 | b[n];
  return v;
}

static int u8(ann_RecDoc *d, const char *what, unsigned *v) {
  const unsigned char *b = ann_reader_take(d->r, 1, what);
  if (b == NULL) return -1;
  *v = b[0];
  return 0;
}

static int u32(ann_RecDoc *d, const char *what, uint32_t *v) {
  const unsigned char *b = ann_reader_take(d->r, 4, what);
  if (b == NULL) return -1;
  *v = (uint32_t)le(b, 4);
  return 0;
}

/* a u32 length and the bytes, copied with a NUL after them */
static int str(ann_RecDoc *d, const char *lenwhat, const char *what,
               const char **s, size_t *len) {
  const unsigned char *b;
  uint32_t n;
  char *p;
  if (u32(d, lenwhat, &n) < 0
      || (b = ann_reader_take(d->r, n, what)) == NULL
      || (p = alloc(d, (size_t)n + 1)) == NULL) return -1;
  memcpy(p, b, n);
  p[n] = '\0';
  *s = p; *len = n;
  return 0;
}

/* a count of records of at least `least` bytes each, checked against the
** bytes left before anything is made for them */
static int count(ann_RecDoc *d, size_t least, const char *what,
                 uint32_t *n) {
  char msg[64];
  snprintf(msg, sizeof msg, "a count of %s", what);
  if (u32(d, msg, n) < 0) return -1;
  if ((uint64_t)*n * least > ann_reader_left(d->r))
    return bad(d, "%lu %s can't fit in the %zu bytes left",
               (unsigned long)*n, what, ann_reader_left(d->r));
  return 0;
}

/* ---- table keys --------------------------------------------------------- */

/* keys as Lua compares them: booleans, then numbers (an integer and a
** float of the same value are one key), then strings bytewise */
static int rank(const ann_Rec *k) {
  return k->type <= ANN_REC_TRUE ? 0 : k->type <= ANN_REC_FLOAT ? 1 : 2;
}

static int cmp_if(int64_t i, double f) {     /* sign of i - f */
  int64_t t;
  if (f >= 9223372036854775808.0) return -1;
  if (f < -9223372036854775808.0) return 1;
  t = (int64_t)f;                           /* towards 0 */
  if (i != t) return i < t ? -1 : 1;
  return (double)t < f ? -1 : (double)t > f ? 1 : 0;
}

static int keycmp(const ann_Rec *a, const ann_Rec *b) {
  int ra = rank(a), rb = rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (ra == 0) return (a->type > b->type) - (a->type < b->type);
  if (ra == 2) {
    size_t n = a->u.str.len < b->u.str.len ? a->u.str.len : b->u.str.len;
    int c = memcmp(a->u.str.s, b->u.str.s, n);
    if (c) return c;
    return (a->u.str.len > b->u.str.len) - (a->u.str.len < b->u.str.len);
  }
  if (a->type == ANN_REC_INT && b->type == ANN_REC_INT)
    return (a->u.i > b->u.i) - (a->u.i < b->u.i);
  if (a->type == ANN_REC_FLOAT && b->type == ANN_REC_FLOAT)
    return (a->u.f > b->u.f) - (a->u.f < b->u.f);
  if (a->type == ANN_REC_INT) return cmp_if(a->u.i, b->u.f);
  return -cmp_if(b->u.i, a->u.f);
}

typedef struct Key { const ann_Rec *k; size_t pos; } Key;

static int keyorder(const void *x, const void *y) {
  const Key *a = x, *b = y;
  int c = keycmp(a->k, b->k);
  return c ? c : (a->pos > b->pos) - (a->pos < b->pos);
}

/* a key as Lua's tostring shows it */
static void keystr(const ann_Rec *k, char *buf, size_t size) {
  switch (k->type) {
    case ANN_REC_FALSE: snprintf(buf, size, "false"); break;
    case ANN_REC_TRUE: snprintf(buf, size, "true"); break;
    case ANN_REC_INT: snprintf(buf, size, "%lld", (long long)k->u.i); break;
    case ANN_REC_FLOAT:
      snprintf(buf, size, "%.14g", k->u.f);
      if (strspn(buf, "-0123456789") == strlen(buf))
        strncat(buf, ".0", size - strlen(buf) - 1);
      break;
    default:
      snprintf(buf, size, "%.*s%s", (int)(k->u.str.len < 80 ? k->u.str.len
               : 80), k->u.str.s, k->u.str.len > 80 ? "..." : "");
  }
}

/* after a table is read: no key twice (a file holding the same key twice
** would load differently depending on which one wins) */
static int check_dups(ann_RecDoc *d, ann_Rec *t, const size_t *pos) {
  uint32_t n = t->u.tab.n, k;
  Key *keys;
  int st = 0;
  if (n < 2) return 0;
  if ((keys = ann_malloc((size_t)n * sizeof *keys)) == NULL)
    return ann_seterror("load: out of memory");
  for (k = 0; k < n; k++) {
    keys[k].k = t->u.tab.kv[2 * k];
    keys[k].pos = pos[k];
  }
  qsort(keys, n, sizeof *keys, keyorder);
  for (k = 1; k < n; k++)
    if (keycmp(keys[k - 1].k, keys[k].k) == 0) {
      char ks[128];
      size_t at = d->r->pos;
      keystr(keys[k].k, ks, sizeof ks);
      d->r->pos = keys[k].pos;                  /* the second one's place */
      st = bad(d, "the key %s twice", ks);
      d->r->pos = at;
      break;
    }
  ann_free(keys);
  return st;
}

static const char *type_name(const ann_Rec *x) {
  static const char *const names[] = {"nil", "boolean", "boolean",
    "integer", "float", "string", "table", "tensor", "module"};
  return names[x->type];
}

/* ---- records ------------------------------------------------------------ */

static ann_Rec *value(ann_RecDoc *d, int depth);

static ann_Rec *nested(ann_RecDoc *d, int depth) {
  if (depth > MAXDEPTH)
    return bad(d, "nesting deeper than %d", MAXDEPTH), NULL;
  return value(d, depth);
}

static ann_Rec *table(ann_RecDoc *d, int depth) {
  uint32_t n, k;
  size_t *pos = NULL;
  ann_Rec *t;
  if (count(d, 2, "table entries", &n) < 0
      || (t = newrec(d, ANN_REC_TABLE)) == NULL || newid(d, t) < 0)
    return NULL;
  t->u.tab.n = n;
  if (n > 0) {
    if ((t->u.tab.kv = alloc(d, 2 * (size_t)n * sizeof(ann_Rec *))) == NULL
        || spend(d, (size_t)n * sizeof *pos) < 0) return NULL;
    if ((pos = ann_malloc((size_t)n * sizeof *pos)) == NULL)
      return ann_seterror("load: out of memory"), NULL;
  }
  for (k = 0; k < n; k++) {
    ann_Rec *key, *v;
    pos[k] = d->r->pos;
    if ((key = nested(d, depth + 1)) == NULL) goto fail;
    if (rank(key) == 1 && key->type == ANN_REC_FLOAT && isnan(key->u.f)) {
      bad(d, "a table key that is a NaN");
      goto fail;
    }
    if (key->type == ANN_REC_NIL || key->type >= ANN_REC_TABLE) {
      bad(d, "a table key that is a %s", type_name(key));
      goto fail;
    }
    if ((v = nested(d, depth + 1)) == NULL) goto fail;
    t->u.tab.kv[2 * k] = key;
    t->u.tab.kv[2 * k + 1] = v;
  }
  if (check_dups(d, t, pos) < 0) goto fail;
  ann_free(pos);
  t->done = 1;
  return t;
fail:
  ann_free(pos);
  return NULL;
}

static ann_Rec *tensor(ann_RecDoc *d) {
  unsigned flags;
  ann_Rec *x;
  ann_Tensor *t;
  if (u8(d, "a tensor's flags", &flags) < 0) return NULL;
  if (flags > 1) return bad(d, "tensor flags %u", flags), NULL;
  if ((x = newrec(d, ANN_REC_TENSOR)) == NULL || newid(d, x) < 0) return NULL;
  x->flag = (int)flags;
  if ((t = ann_reader_tensor(d->r)) == NULL) return NULL;
  x->u.t = t;                 /* released by ann_rec_free, through the ids */
  /* the data was in the file: spending it cannot fail on a real tensor */
  if (spend(d, sizeof *t + sizeof(ann_Storage) + ANN_ALIGN) < 0) return NULL;
  x->done = 1;
  return x;
}

/* count (name, record) pairs; each record must be a `want` */
static int fields(ann_RecDoc *d, int depth, const ann_Rec *m, const char *what,
                  int want, ann_RecField **out, uint32_t *nout) {
  uint32_t n, k;
  ann_RecField *f = NULL;
  if (count(d, 6, what, &n) < 0) return -1;
  if (n > 0 && (f = alloc(d, (size_t)n * sizeof *f)) == NULL) return -1;
  for (k = 0; k < n; k++) {
    if (str(d, "a name's length", "a name", &f[k].name, &f[k].len) < 0
        || (f[k].rec = nested(d, depth + 1)) == NULL) return -1;
    if (f[k].rec->type != want)
      return want == ANN_REC_TENSOR
        ? bad(d, "%s.%s is not a tensor", m->u.mod.name, f[k].name)
        : bad(d, "child %s.%s is not a module", m->u.mod.name, f[k].name);
  }
  *out = f; *nout = n;
  return 0;
}

static ann_Rec *module(ann_RecDoc *d, int depth) {
  unsigned training;
  ann_Rec *m;
  const char *name;
  size_t len;
  if (str(d, "a module name's length", "a module name", &name, &len) < 0)
    return NULL;
  if (d->o && d->o->module && d->o->module(d->o->ud, name, len,
                                            d->r->path) != 0)
    return NULL;
  if ((m = newrec(d, ANN_REC_MODULE)) == NULL || newid(d, m) < 0) return NULL;
  m->u.mod.name = name; m->u.mod.len = len;
  if ((m->u.mod.args = nested(d, depth + 1)) == NULL) return NULL;
  if (m->u.mod.args->type != ANN_REC_TABLE)
    return bad(d, "%s's arguments are not a table", name), NULL;
  if (u8(d, "a training flag", &training) < 0) return NULL;
  if (training > 1) return bad(d, "training flag %u", training), NULL;
  m->flag = (int)training;
  if (fields(d, depth, m, "tensors", ANN_REC_TENSOR, &m->u.mod.tensors,
             &m->u.mod.nt) < 0
      || fields(d, depth, m, "children", ANN_REC_MODULE, &m->u.mod.children,
                &m->u.mod.nc) < 0) return NULL;
  m->done = 1;
  return m;
}

static ann_Rec *value(ann_RecDoc *d, int depth) {
  const unsigned char *b;
  unsigned tag;
  ann_Rec *x;
  uint64_t u;
  uint32_t id;
  if (u8(d, "a record's tag", &tag) < 0) return NULL;
  switch (tag) {
    case ANN_REC_NIL: return &k_nil;
    case ANN_REC_FALSE: return &k_false;
    case ANN_REC_TRUE: return &k_true;
    case ANN_REC_INT: case ANN_REC_FLOAT:
      if ((b = ann_reader_take(d->r, 8, tag == ANN_REC_INT ? "an integer"
                               : "a float")) == NULL
          || (x = newrec(d, (int)tag)) == NULL) return NULL;
      u = le(b, 8);
      if (tag == ANN_REC_INT) x->u.i = (int64_t)u;
      else memcpy(&x->u.f, &u, 8);
      x->done = 1;
      return x;
    case ANN_REC_STRING:
      if ((x = newrec(d, ANN_REC_STRING)) == NULL
          || str(d, "a string's length", "a string", &x->u.str.s,
                 &x->u.str.len) < 0) return NULL;
      x->done = 1;
      return x;
    case ANN_REC_TABLE: return table(d, depth);
    case ANN_REC_TENSOR: return tensor(d);
    case ANN_REC_MODULE: return module(d, depth);
    case ANN_REC_REF:
      if (u32(d, "a reference", &id) < 0) return NULL;
      if (id == 0 || id > d->nids || !d->ids[id - 1]->done)
        return bad(d, "a reference to object %lu, which is not complete "
                   "before it", (unsigned long)id), NULL;
      return d->ids[id - 1];
  }
  d->r->pos--;                /* the tag's place */
  bad(d, "unknown record type %u", tag);
  d->r->pos++;
  return NULL;
}

ann_RecDoc *ann_rec_decode(ann_Reader *r, const ann_RecOpts *o) {
  ann_RecDoc *d;
  size_t body;
  if (r == NULL || r->buf == NULL)
    return ann_seterror("load: decode of a closed file"), NULL;
  if ((d = ann_calloc(1, sizeof *d)) == NULL)
    return ann_seterror("load: out of memory"), NULL;
  d->body = body = ann_reader_left(r);
  d->budget = body > (SIZE_MAX - BUDGET_FLOOR) / BUDGET_PER_BYTE ? SIZE_MAX
              : BUDGET_FLOOR + body * BUDGET_PER_BYTE;
  d->r = r; d->o = o;
  d->root = value(d, 0);
  if (d->root && ann_reader_left(r) != 0) {
    bad(d, "%zu bytes after the last record", ann_reader_left(r));
    d->root = NULL;
  }
  d->r = NULL; d->o = NULL;
  if (d->root == NULL) { ann_rec_free(d); return NULL; }
  return d;
}

const ann_Rec *ann_rec_root(const ann_RecDoc *d) { return d->root; }

/* ---- lookups ------------------------------------------------------------ */

const ann_Rec *ann_rec_field(const ann_Rec *t, const char *key) {
  uint32_t k;
  size_t n = strlen(key);
  if (t == NULL || t->type != ANN_REC_TABLE) return NULL;
  for (k = 0; k < t->u.tab.n; k++) {
    const ann_Rec *x = t->u.tab.kv[2 * k];
    if (x->type == ANN_REC_STRING && x->u.str.len == n
        && memcmp(x->u.str.s, key, n) == 0) return t->u.tab.kv[2 * k + 1];
  }
  return NULL;
}

const ann_Rec *ann_rec_index(const ann_Rec *t, int64_t i) {
  uint32_t k;
  if (t == NULL || t->type != ANN_REC_TABLE) return NULL;
  for (k = 0; k < t->u.tab.n; k++) {
    const ann_Rec *x = t->u.tab.kv[2 * k];
    if ((x->type == ANN_REC_INT && x->u.i == i)
        || (x->type == ANN_REC_FLOAT && cmp_if(i, x->u.f) == 0))
      return t->u.tab.kv[2 * k + 1];
  }
  return NULL;
}
