/*
** ann_ops.c: elementwise operations with numpy broadcasting, activations,
** softmax, and their in-place forms.
**
** Every op walks its operands with ann_Loop, which merges contiguous dims
** into long runs; each run goes to a vector kernel (ann_simd.c) when its
** steps allow it (all 1, or one operand held fixed as for a row or column
** broadcast), otherwise to a plain strided loop.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ann_impl.h"

#define AXPY ANN_NBINOP      /* internal op: y = a + alpha*b */
#define CHUNK 256            /* floats gathered for strided unary runs */

static const char *const binnames[ANN_NBINOP] = {
  "add", "sub", "mul", "div", "pow", "eq", "ne", "gt", "ge", "lt", "le"
};
static const char *const unnames[ANN_NUNOP] = {
  "neg", "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu"
};

const char *ann_binop_name(ann_BinOp op) {
  return (unsigned)op < ANN_NBINOP ? binnames[op] : "?";
}

const char *ann_unop_name(ann_UnOp op) {
  return (unsigned)op < ANN_NUNOP ? unnames[op] : "?";
}

/* ---- shapes ------------------------------------------------------------- */

int ann_broadcast_shape(const ann_Tensor *a, const ann_Tensor *b,
                        int *ndim, int64_t *shape) {
  char s1[128], s2[128];
  int n, i;
  if (a == NULL || b == NULL)
    return ann_seterror("broadcast: NULL tensor");
  n = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (i = 1; i <= n; i++) {             /* aligned from the right */
    int64_t x = i <= a->ndim ? a->shape[a->ndim - i] : 1;
    int64_t y = i <= b->ndim ? b->shape[b->ndim - i] : 1;
    if (x != y && x != 1 && y != 1)
      return ann_seterror("shapes %s and %s do not broadcast",
                          ann_shapestr(a, s1, sizeof s1),
                          ann_shapestr(b, s2, sizeof s2));
    shape[n - i] = x == 1 ? y : x;
  }
  *ndim = n;
  return 0;
}

/* t's strides in a broadcast shape: 0 where t is missing or of size 1 */

static const int64_t zerost[ANN_MAXDIM];   /* strides of a lone scalar */

/* b must broadcast to t's shape exactly (in-place ops, copies) */
static int checkto(const char *op, const ann_Tensor *t, const ann_Tensor *b) {
  char s1[128], s2[128];
  int i, ok = b->ndim <= t->ndim;
  for (i = 1; ok && i <= b->ndim; i++) {
    int64_t x = b->shape[b->ndim - i];
    ok = x == 1 || x == t->shape[t->ndim - i];
  }
  if (!ok)
    return ann_seterror("%s: shape %s does not broadcast to %s", op,
                        ann_shapestr(b, s1, sizeof s1),
                        ann_shapestr(t, s2, sizeof s2));
  return 0;
}

/* an expanded tensor (stride 0) would be written many times over */
static int checkwrite(const char *op, const ann_Tensor *t) {
  char s[128];
  int i;
  if (t == NULL) return ann_seterror("%s: NULL tensor", op);
  if (ann_numel(t) == 0) return 0;        /* nothing is written */
  for (i = 0; i < t->ndim; i++)
    if (t->shape[i] > 1 && t->stride[i] == 0)
      return ann_seterror("%s: cannot write in place to an expanded tensor "
                          "%s (dim %d has stride 0)", op,
                          ann_shapestr(t, s, sizeof s), i + 1);
  return 0;
}

/* ---- copies ------------------------------------------------------------- */

static void copyloop(int ndim, const int64_t *shape, float *y,
                     const int64_t *sy, const float *a, const int64_t *sa) {
  const int64_t *st[2] = {sy, sa};
  ann_Loop l;
  ann_loop_init(&l, 2, ndim, shape, st);
  if (l.empty) return;
  do {
    float *py = y + l.off[0];
    const float *pa = a + l.off[1];
    int64_t i, n = l.len, s0 = l.step[0], s1 = l.step[1];
    if (s0 == 1 && s1 == 1) memmove(py, pa, (size_t)n * sizeof(float));
    else for (i = 0; i < n; i++) py[i * s0] = pa[i * s1];
  } while (ann_loop_next(&l));
}

/* a contiguous copy, for operands that overlap an in-place target */
static ann_Tensor *dense(const ann_Tensor *t) {
  ann_Tensor *y = ann_new(t->ndim, t->shape);
  if (y) copyloop(t->ndim, t->shape, ann_data(y), y->stride,
                  ann_data(t), t->stride);
  return y;
}

/* ---- binary ------------------------------------------------------------- */

/* y[i sy] = a[i sa] op b[i sb], i < n: one run of the loop */
static void binrun(int op, float alpha, int64_t n, float *y, int64_t sy,
                   const float *a, int64_t sa, const float *b, int64_t sb) {
  const ann_Kernels *k = ann_kernels();
  int64_t i;
  if (op <= ANN_DIV && sy == 1) {
    if (sa == 1 && sb == 1) { k->vv[op](n, a, b, y); return; }
    if (sa == 1 && sb == 0) { k->vs[op](n, a, *b, y); return; }
    if (sa == 0 && sb == 1) { k->sv[op](n, b, *a, y); return; }
  } else if (op == AXPY && sy == 1 && sa == 1) {
    if (sb == 1 && y == a) { k->axpy(n, b, alpha, y); return; }
    if (sb == 0) { k->vs[ANN_ADD](n, a, alpha * *b, y); return; }
  }
#define RUN(E) \
  if (sy == 1 && sa == 1 && sb == 1) \
    for (i = 0; i < n; i++) { float x = a[i], z = b[i]; y[i] = (E); } \
  else \
    for (i = 0; i < n; i++) { \
      float x = a[i * sa], z = b[i * sb]; y[i * sy] = (E); } \
  break;
  switch (op) {
    case ANN_ADD: RUN(x + z)
    case ANN_SUB: RUN(x - z)
    case ANN_MUL: RUN(x * z)
    case ANN_DIV: RUN(x / z)
    case ANN_POW: RUN(powf(x, z))
    case ANN_EQ: RUN(x == z)
    case ANN_NE: RUN(x != z)
    case ANN_GT: RUN(x > z)
    case ANN_GE: RUN(x >= z)
    case ANN_LT: RUN(x < z)
    case ANN_LE: RUN(x <= z)
    case AXPY: RUN(x + alpha * z)
  }
#undef RUN
}

/* 0, or -1 when the host cancelled it (polled per chunk) */
static int binloop(int op, float alpha, int ndim, const int64_t *shape,
                   float *y, const int64_t *sy, const float *a,
                   const int64_t *sa, const float *b, const int64_t *sb) {
  const int64_t *st[3] = {sy, sa, sb};
  ann_Loop l;
  ann_loop_init(&l, 3, ndim, shape, st);
  if (l.empty) return 0;
  ann_loop_poll(&l, ann_binop_name(op));
  do binrun(op, alpha, l.len, y + l.off[0], l.step[0], a + l.off[1],
            l.step[1], b + l.off[2], l.step[2]);
  while (ann_loop_next(&l));
  return l.stop ? -1 : 0;
}

static int checkbin(const char *what, ann_BinOp op) {
  if ((unsigned)op >= ANN_NBINOP)
    return ann_seterror("%s: unknown operation %d", what, (int)op);
  return 0;
}

ann_Tensor *ann_binary(ann_BinOp op, const ann_Tensor *a,
                       const ann_Tensor *b) {
  int64_t shape[ANN_MAXDIM], sa[ANN_MAXDIM], sb[ANN_MAXDIM];
  const char *name = ann_binop_name(op);
  ann_Tensor *y;
  int nd;
  if (checkbin("binary", op) < 0) return NULL;
  if (a == NULL || b == NULL)
    return ann_seterror("%s: NULL tensor", name), NULL;
  if (ann_broadcast_shape(a, b, &nd, shape) < 0) {
    char msg[300];
    snprintf(msg, sizeof msg, "%s", ann_error());
    return ann_seterror("%s: %s", name, msg), NULL;
  }
  y = ann_new(nd, shape);
  if (y == NULL) return NULL;
  ann_bstrides(a, nd, sa);
  ann_bstrides(b, nd, sb);
  if (binloop(op, 1.0f, nd, shape, ann_data(y), y->stride, ann_data(a), sa,
              ann_data(b), sb) < 0) {
    ann_release(y);
    return NULL;
  }
  return y;
}

/* t op s over t's layout into y (y may be t); pow by 2, 1, -1 are exact
** as products and quotients, and those have vector kernels */
static int scalarloop(ann_BinOp op, ann_Tensor *y, const ann_Tensor *t,
                      float s, int first) {
  float one = 1.0f, *py = ann_data(y);
  const float *pt = ann_data(t);
  if (op == ANN_POW && !first && (s == 2 || s == 1 || s == -1)) {
    if (s == 2) return binloop(ANN_MUL, 1, t->ndim, t->shape, py, y->stride,
                        pt, t->stride, pt, t->stride);
    else if (s == 1) return binloop(ANN_MUL, 1, t->ndim, t->shape, py, y->stride,
                             pt, t->stride, &one, zerost);
    else return binloop(ANN_DIV, 1, t->ndim, t->shape, py, y->stride,
                 &one, zerost, pt, t->stride);
  } else if (first)
    return binloop(op, 1, t->ndim, t->shape, py, y->stride, &s, zerost,
            pt, t->stride);
  return binloop(op, 1, t->ndim, t->shape, py, y->stride, pt, t->stride,
                 &s, zerost);
}

ann_Tensor *ann_binary_scalar(ann_BinOp op, const ann_Tensor *a, float s,
                              int scalar_first) {
  ann_Tensor *y;
  if (checkbin("binary", op) < 0) return NULL;
  if (a == NULL)
    return ann_seterror("%s: NULL tensor", ann_binop_name(op)), NULL;
  y = ann_new(a->ndim, a->shape);
  if (y && scalarloop(op, y, a, s, scalar_first) < 0) {
    ann_release(y);
    return NULL;
  }
  return y;
}

/* ---- unary -------------------------------------------------------------- */

/* strided runs are gathered into a buffer so that every element goes
** through the same kernel whatever its layout */
static int unloop(ann_UnOp op, int ndim, const int64_t *shape, float *y,
                  const int64_t *sy, const float *a, const int64_t *sa) {
  ann_KUn f = ann_kernels()->un[op];
  const int64_t *st[2] = {sy, sa};
  ann_Loop l;
  ann_loop_init(&l, 2, ndim, shape, st);
  if (l.empty) return 0;
  ann_loop_poll(&l, ann_unop_name(op));
  do {
    float *py = y + l.off[0], buf[CHUNK];
    const float *pa = a + l.off[1];
    int64_t i, j, m, n = l.len, s0 = l.step[0], s1 = l.step[1];
    if (s0 == 1 && s1 == 1) { f(n, pa, py); continue; }
    for (j = 0; j < n; j += m) {
      m = n - j < CHUNK ? n - j : CHUNK;
      for (i = 0; i < m; i++) buf[i] = pa[(j + i) * s1];
      f(m, buf, buf);
      for (i = 0; i < m; i++) py[(j + i) * s0] = buf[i];
    }
  } while (ann_loop_next(&l));
  return l.stop ? -1 : 0;
}

ann_Tensor *ann_unary(ann_UnOp op, const ann_Tensor *a) {
  ann_Tensor *y;
  if ((unsigned)op >= ANN_NUNOP)
    return ann_seterror("unary: unknown operation %d", (int)op), NULL;
  if (a == NULL)
    return ann_seterror("%s: NULL tensor", ann_unop_name(op)), NULL;
  y = ann_new(a->ndim, a->shape);
  if (y && unloop(op, a->ndim, a->shape, ann_data(y), y->stride,
                  ann_data(a), a->stride) < 0) {
    ann_release(y);
    return NULL;
  }
  return y;
}

/* min(max(x, lo), hi) with NaN passing through */
static void clamploop(int ndim, const int64_t *shape, float *y,
                      const int64_t *sy, const float *a, const int64_t *sa,
                      float lo, float hi) {
  const int64_t *st[2] = {sy, sa};
  ann_Loop l;
  ann_loop_init(&l, 2, ndim, shape, st);
  if (l.empty) return;
  do {
    float *py = y + l.off[0];
    const float *pa = a + l.off[1];
    int64_t i, n = l.len, s0 = l.step[0], s1 = l.step[1];
    for (i = 0; i < n; i++) {
      float x = pa[i * s1];
      x = x < lo ? lo : x;
      py[i * s0] = x > hi ? hi : x;
    }
  } while (ann_loop_next(&l));
}

static int checkclamp(const char *op, float lo, float hi) {
  if (isnan(lo) || isnan(hi) || lo > hi)
    return ann_seterror("%s: bad bounds (lo %g, hi %g)", op, (double)lo,
                        (double)hi);
  return 0;
}

ann_Tensor *ann_clamp(const ann_Tensor *a, float lo, float hi) {
  ann_Tensor *y;
  if (a == NULL) return ann_seterror("clamp: NULL tensor"), NULL;
  if (checkclamp("clamp", lo, hi) < 0) return NULL;
  y = ann_new(a->ndim, a->shape);
  if (y) clamploop(a->ndim, a->shape, ann_data(y), y->stride, ann_data(a),
                   a->stride, lo, hi);
  return y;
}

/* ---- softmax ------------------------------------------------------------ */

/* max that lets a NaN win, so it reaches every output */
#define NANMAX(m, x) ((x) > (m) || (x) != (x) ? (x) : (m))

/* one contiguous line: subtract the max, then exp and normalise (or
** subtract the log of the sum: log-sum-exp) */
static void softmax_line(float *x, int64_t n, int logsm) {
  const ann_Kernels *k = ann_kernels();
  float m = x[0], buf[CHUNK];
  double s = 0;
  int64_t i, j, c;
  for (i = 1; i < n; i++) m = NANMAX(m, x[i]);
  k->vs[ANN_SUB](n, x, m, x);
  if (!logsm) {
    k->un[ANN_EXP](n, x, x);
    k->vs[ANN_DIV](n, x, (float)k->sum(n, x), x);
    return;
  }
  for (j = 0; j < n; j += c) {
    c = n - j < CHUNK ? n - j : CHUNK;
    k->un[ANN_EXP](c, x + j, buf);
    s += k->sum(c, buf);
  }
  k->vs[ANN_SUB](n, x, (float)log(s), x);
}

/* n rows of `inner` contiguous floats, reduced across rows: the same
** steps, vectorised along the rows */
static void softmax_plane(float *x, int64_t n, int64_t inner, int logsm,
                          float *m, float *tmp, double *s) {
  const ann_Kernels *k = ann_kernels();
  int64_t r, j;
  memcpy(m, x, (size_t)inner * sizeof(float));
  for (r = 1; r < n; r++)
    for (j = 0; j < inner; j++) m[j] = NANMAX(m[j], x[r * inner + j]);
  for (j = 0; j < inner; j++) s[j] = 0;
  for (r = 0; r < n; r++) {
    float *row = x + r * inner, *e = logsm ? tmp : row;
    k->vv[ANN_SUB](inner, row, m, row);
    k->un[ANN_EXP](inner, row, e);
    for (j = 0; j < inner; j++) s[j] += e[j];
  }
  for (j = 0; j < inner; j++) tmp[j] = (float)(logsm ? log(s[j]) : s[j]);
  for (r = 0; r < n; r++)
    k->vv[logsm ? ANN_SUB : ANN_DIV](inner, x + r * inner, tmp,
                                     x + r * inner);
}

static ann_Tensor *softmax(const char *op, const ann_Tensor *a, int d,
                           int logsm) {
  int64_t outer = 1, inner = 1, n, o;
  ann_Tensor *y;
  int i;
  if (a == NULL) return ann_seterror("%s: NULL tensor", op), NULL;
  if (ann_checkdim(op, a, d) < 0) return NULL;
  y = ann_new(a->ndim, a->shape);
  if (y == NULL) return NULL;
  copyloop(a->ndim, a->shape, ann_data(y), y->stride, ann_data(a),
           a->stride);
  if (ann_numel(y) == 0) return y;
  for (i = 0; i < d; i++) outer *= a->shape[i];
  for (i = d + 1; i < a->ndim; i++) inner *= a->shape[i];
  n = a->shape[d];
  if (inner == 1)
    for (o = 0; o < outer; o++) softmax_line(ann_data(y) + o * n, n, logsm);
  else {
    float *m = ann_malloc((size_t)inner * 2 * sizeof(float));
    double *s = ann_malloc((size_t)inner * sizeof(double));
    if (m == NULL || s == NULL) {
      ann_free(m); ann_free(s); ann_release(y);
      return ann_nomem(op), NULL;
    }
    for (o = 0; o < outer; o++)
      softmax_plane(ann_data(y) + o * n * inner, n, inner, logsm, m,
                    m + inner, s);
    ann_free(m); ann_free(s);
  }
  return y;
}

ann_Tensor *ann_softmax(const ann_Tensor *a, int d) {
  return softmax("softmax", a, d, 0);
}

ann_Tensor *ann_log_softmax(const ann_Tensor *a, int d) {
  return softmax("log_softmax", a, d, 1);
}

/* ---- in place ----------------------------------------------------------- */

int ann_fill_(ann_Tensor *t, float v) {
  ann_Loop l;
  const int64_t *st[1];
  if (t == NULL) return ann_seterror("fill_: NULL tensor");
  st[0] = t->stride;
  ann_loop_init(&l, 1, t->ndim, t->shape, st);
  if (l.empty) return 0;
  do {
    float *p = ann_data(t) + l.off[0];
    int64_t i, n = l.len, s = l.step[0];
    if (s == 1) for (i = 0; i < n; i++) p[i] = v;
    else for (i = 0; i < n; i++) p[i * s] = v;
  } while (ann_loop_next(&l));
  return 0;
}

/* b aliases t's memory in another layout: writing t would change b
** before it is read, so b is copied first */
static int overlaps(const ann_Tensor *t, const ann_Tensor *b) {
  return b->st == t->st &&
         !(b->offset == t->offset && ann_same_shape(b, t) &&
           memcmp(b->stride, t->stride, (size_t)t->ndim * sizeof(int64_t))
             == 0);
}

int ann_binary_(ann_BinOp op, ann_Tensor *t, const ann_Tensor *b,
                float alpha) {
  int64_t sb[ANN_MAXDIM];
  ann_Tensor *tmp = NULL;
  char name[16];
  int code = op, st;
  if (checkbin("binary_", op) < 0) return -1;
  snprintf(name, sizeof name, "%s_", ann_binop_name(op));
  if (checkwrite(name, t) < 0) return -1;
  if (b == NULL) return ann_seterror("%s: NULL tensor", name);
  if (checkto(name, t, b) < 0) return -1;
  if (overlaps(t, b)) {
    if ((tmp = dense(b)) == NULL) return -1;
    b = tmp;
  }
  if ((op == ANN_ADD || op == ANN_SUB) && alpha != 1.0f) {
    code = AXPY;
    alpha = op == ANN_SUB ? -alpha : alpha;
  }
  ann_bstrides(b, t->ndim, sb);
  st = binloop(code, alpha, t->ndim, t->shape, ann_data(t), t->stride,
               ann_data(t), t->stride, ann_data(b), sb);
  ann_release(tmp);
  return st;
}

int ann_binary_scalar_(ann_BinOp op, ann_Tensor *t, float s) {
  char name[16];
  if (checkbin("binary_", op) < 0) return -1;
  snprintf(name, sizeof name, "%s_", ann_binop_name(op));
  if (checkwrite(name, t) < 0) return -1;
  return scalarloop(op, t, t, s, 0);
}

int ann_unary_(ann_UnOp op, ann_Tensor *t) {
  char name[16];
  if ((unsigned)op >= ANN_NUNOP)
    return ann_seterror("unary_: unknown operation %d", (int)op);
  snprintf(name, sizeof name, "%s_", ann_unop_name(op));
  if (checkwrite(name, t) < 0) return -1;
  return unloop(op, t->ndim, t->shape, ann_data(t), t->stride, ann_data(t),
                t->stride);
}

int ann_clamp_(ann_Tensor *t, float lo, float hi) {
  if (checkwrite("clamp_", t) < 0) return -1;
  if (checkclamp("clamp_", lo, hi) < 0) return -1;
  clamploop(t->ndim, t->shape, ann_data(t), t->stride, ann_data(t),
            t->stride, lo, hi);
  return 0;
}
