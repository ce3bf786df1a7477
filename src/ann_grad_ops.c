/*
** ann_grad_ops.c: recording wrappers and backward functions of the
** elementwise ops, activations, softmax and reductions.
*/
#include <math.h>
#include <string.h>

#include "ann_impl.h"

/* ---- elementwise gradient kernels ---------------------------------------
** r = f(g, x, y) over g's shape (the op's output), x and y broadcast to it;
** s0, s1 are scalar parameters.  Fused so that a backward allocates once. */
enum {
  K_NEG,      /* -g */
  K_MUL,      /* g x */
  K_DIV,      /* g / x */
  K_DIVB,     /* -g x / y: d(a/b)/db with x = out, y = b */
  K_POWA,     /* g y x^(y-1): d(a^b)/da */
  K_POWB,     /* g x log y (0 where x = 0): d(a^b)/db, x = out, y = a */
  K_POWBS,    /* g x log s0, x = out: d(s^a)/da */
  K_POWS,     /* g s0 x^(s0-1): d(a^s)/da */
  K_SCALE,    /* g s0 */
  K_SIG,      /* g x (1-x), x = sigmoid */
  K_TANH,     /* g (1-x^2), x = tanh */
  K_POS,      /* g where x > 0 */
  K_HALF,     /* g / (2x), x = sqrt */
  K_SIGN,     /* g sign(x) */
  K_CLAMP     /* g where s0 <= x <= s1 */
};

#define KLOOP(expr) \
  for (i = 0; i < l.len; i++) { \
    float G = g0[i * sg], X = x0[i * sx], Y = y0[i * sy]; \
    (void)X; (void)Y; r0[i] = (expr); \
  } break

static ann_Tensor *gmap(int k, const ann_Tensor *g, const ann_Tensor *x,
                        const ann_Tensor *y, float s0, float s1) {
  int64_t xs[ANN_MAXDIM], ys[ANN_MAXDIM];
  const int64_t *strides[4];
  ann_Tensor *r = ann_new(g->ndim, g->shape);
  ann_Loop l;
  if (r == NULL) return NULL;
  if (x == NULL) x = g;
  if (y == NULL) y = x;
  ann_bstrides(x, g->ndim, xs);
  ann_bstrides(y, g->ndim, ys);
  strides[0] = r->stride; strides[1] = g->stride;
  strides[2] = xs; strides[3] = ys;
  ann_loop_init(&l, 4, g->ndim, g->shape, strides);
  if (l.empty) return r;
  do {
    float *r0 = ann_data(r) + l.off[0];
    const float *g0 = ann_data(g) + l.off[1];
    const float *x0 = ann_data(x) + l.off[2], *y0 = ann_data(y) + l.off[3];
    int64_t i, sg = l.step[1], sx = l.step[2], sy = l.step[3];
    switch (k) {
      case K_NEG: KLOOP(-G);
      case K_MUL: KLOOP(G * X);
      case K_DIV: KLOOP(G / X);
      case K_DIVB: KLOOP(-G * X / Y);
      case K_POWA: KLOOP(G * Y * powf(X, Y - 1.0f));
      case K_POWB: KLOOP(X == 0.0f ? 0.0f : G * X * logf(Y));
      case K_POWBS: KLOOP(X == 0.0f ? 0.0f : G * X * logf(s0));
      case K_POWS: KLOOP(G * s0 * powf(X, s0 - 1.0f));
      case K_SCALE: KLOOP(G * s0);
      case K_SIG: KLOOP(G * X * (1.0f - X));
      case K_TANH: KLOOP(G * (1.0f - X * X));
      case K_POS: KLOOP(X > 0.0f ? G : 0.0f);
      case K_HALF: KLOOP(G / (2.0f * X));
      case K_SIGN: KLOOP(X > 0.0f ? G : X < 0.0f ? -G : 0.0f);
      case K_CLAMP: KLOOP(X >= s0 && X <= s1 ? G : 0.0f);
    }
  } while (ann_loop_next(&l));
  return r;
}

/* hands t the engine's gradient g as is (g is on the heap: t may keep it) */
static int pass(ann_Tensor *t, const ann_Tensor *g) {
  if (t == NULL || !t->requires_grad) return 0;
  return ann_ag_take(t, ann_retain((ann_Tensor *)g));
}

/* gives t the gradient k(g, x, y), unless t wants none */
static int grad_to(ann_Tensor *t, int k, const ann_Tensor *g,
                   const ann_Tensor *x, const ann_Tensor *y, float s0,
                   float s1) {
  if (t == NULL || !t->requires_grad) return 0;
  return ann_ag_take(t, gmap(k, g, x, y, s0, s1));
}

/* ---- binary ------------------------------------------------------------- */

static int bw_binary(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0], *b = nd->inputs[1];
  switch ((ann_BinOp)nd->ip[0]) {
    case ANN_ADD:
      return pass(a, g) || pass(b, g) ? -1 : 0;
    case ANN_SUB:
      return pass(a, g) || grad_to(b, K_NEG, g, 0, 0, 0, 0)
             ? -1 : 0;
    case ANN_MUL:
      return grad_to(a, K_MUL, g, b, 0, 0, 0)
             || grad_to(b, K_MUL, g, a, 0, 0, 0) ? -1 : 0;
    case ANN_DIV:
      return grad_to(a, K_DIV, g, b, 0, 0, 0)
             || grad_to(b, K_DIVB, g, out, b, 0, 0) ? -1 : 0;
    case ANN_POW:
      return grad_to(a, K_POWA, g, a, b, 0, 0)
             || grad_to(b, K_POWB, g, out, a, 0, 0) ? -1 : 0;
    default:
      return ann_seterror("backward: %s is not differentiable",
                          ann_binop_name((ann_BinOp)nd->ip[0]));
  }
}

static int differentiable(ann_BinOp op) { return op <= ANN_POW; }

ann_Tensor *ann_ag_binary(ann_BinOp op, ann_Tensor *a, ann_Tensor *b) {
  ann_Tensor *in[2], *out = ann_binary(op, a, b);
  ann_Node *nd;
  in[0] = a; in[1] = b;
  if (out == NULL || !differentiable(op) || !ann_ag_needs(2, in)) return out;
  if ((nd = ann_ag_attach(out, ann_binop_name(op), bw_binary, 2, in)) == NULL)
    return NULL;
  nd->ip[0] = op;
  return out;
}

/* ip: op, scalar_first; p[0]: the scalar */
static int bw_binary_scalar(ann_Node *nd, ann_Tensor *out,
                            const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0];
  float s = (float)nd->p[0];
  int first = (int)nd->ip[1];
  switch ((ann_BinOp)nd->ip[0]) {
    case ANN_ADD: return pass(a, g);
    case ANN_SUB:
      return first ? grad_to(a, K_NEG, g, 0, 0, 0, 0) : pass(a, g);
    case ANN_MUL: return grad_to(a, K_SCALE, g, 0, 0, s, 0);
    case ANN_DIV:            /* d(s/a) = -s/a^2 = -out/a */
      return first ? grad_to(a, K_DIVB, g, out, a, 0, 0)
                   : grad_to(a, K_SCALE, g, 0, 0, 1.0f / s, 0);
    case ANN_POW:
      return first ? grad_to(a, K_POWBS, g, out, 0, s, 0)
                   : grad_to(a, K_POWS, g, a, 0, s, 0);
    default:
      return ann_seterror("backward: %s is not differentiable",
                          ann_binop_name((ann_BinOp)nd->ip[0]));
  }
}

ann_Tensor *ann_ag_binary_scalar(ann_BinOp op, ann_Tensor *a, float s,
                                 int scalar_first) {
  ann_Tensor *out = ann_binary_scalar(op, a, s, scalar_first);
  ann_Node *nd;
  if (out == NULL || !differentiable(op) || !ann_ag_needs(1, &a)) return out;
  nd = ann_ag_attach(out, ann_binop_name(op), bw_binary_scalar, 1, &a);
  if (nd == NULL) return NULL;
  nd->ip[0] = op;
  nd->ip[1] = scalar_first != 0;
  nd->p[0] = s;
  return out;
}

/* ---- unary, clamp ------------------------------------------------------- */

static int bw_unary(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0];
  switch ((ann_UnOp)nd->ip[0]) {
    case ANN_NEG: return grad_to(a, K_NEG, g, 0, 0, 0, 0);
    case ANN_EXP: return grad_to(a, K_MUL, g, out, 0, 0, 0);
    case ANN_LOG: return grad_to(a, K_DIV, g, a, 0, 0, 0);
    case ANN_SQRT: return grad_to(a, K_HALF, g, out, 0, 0, 0);
    case ANN_ABS: return grad_to(a, K_SIGN, g, a, 0, 0, 0);
    case ANN_SIGMOID: return grad_to(a, K_SIG, g, out, 0, 0, 0);
    case ANN_TANH: return grad_to(a, K_TANH, g, out, 0, 0, 0);
    case ANN_RELU: return grad_to(a, K_POS, g, out, 0, 0, 0);
    default: return ann_seterror("backward: bad unary op %d", (int)nd->ip[0]);
  }
}

ann_Tensor *ann_ag_unary(ann_UnOp op, ann_Tensor *a) {
  ann_Tensor *out = ann_unary(op, a);
  ann_Node *nd;
  if (out == NULL || !ann_ag_needs(1, &a)) return out;
  if ((nd = ann_ag_attach(out, ann_unop_name(op), bw_unary, 1, &a)) == NULL)
    return NULL;
  nd->ip[0] = op;
  return out;
}

static int bw_clamp(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  (void)out;
  return grad_to(nd->inputs[0], K_CLAMP, g, nd->inputs[0], 0,
                 (float)nd->p[0], (float)nd->p[1]);
}

ann_Tensor *ann_ag_clamp(ann_Tensor *a, float lo, float hi) {
  ann_Tensor *out = ann_clamp(a, lo, hi);
  ann_Node *nd;
  if (out == NULL || !ann_ag_needs(1, &a)) return out;
  if ((nd = ann_ag_attach(out, "clamp", bw_clamp, 1, &a)) == NULL) return NULL;
  nd->p[0] = lo;
  nd->p[1] = hi;
  return out;
}

/* ---- lanes along a dim ---------------------------------------------------
** A contiguous tensor seen as [outer, n, inner] around dim d; d < 0 (or a
** 0-dim tensor) is the whole tensor as one lane. */
typedef struct Lanes { int64_t outer, n, inner; } Lanes;

static Lanes lanes(const ann_Tensor *t, int d) {
  Lanes L;
  int i;
  L.outer = L.inner = 1;
  L.n = ann_numel(t);
  if (d < 0 || d >= t->ndim) return L;
  for (i = 0; i < d; i++) L.outer *= t->shape[i];
  for (i = d + 1; i < t->ndim; i++) L.inner *= t->shape[i];
  L.n = t->shape[d];
  return L;
}

/* ---- softmax, log_softmax ------------------------------------------------- */

/* softmax: dx = y (g - sum g y); log_softmax: dx = g - e^y sum g */
static int bw_softmax(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0], *y, *gc, *dx;
  int logf_ = (int)nd->ip[1];
  Lanes L;
  int64_t o, i, j;
  if (!a->requires_grad) return 0;
  y = ann_ag_contig(out);
  gc = ann_ag_contig(g);
  dx = ann_new(a->ndim, a->shape);
  if (y == NULL || gc == NULL || dx == NULL) goto fail;
  L = lanes(out, (int)nd->ip[0]);
  for (o = 0; o < L.outer; o++)
    for (i = 0; i < L.inner; i++) {
      int64_t base = o * L.n * L.inner + i, st = L.inner;
      const float *yp = ann_data(y) + base, *gp = ann_data(gc) + base;
      float *dp = ann_data(dx) + base;
      double s = 0;
      if (logf_) {
        for (j = 0; j < L.n; j++) s += gp[j * st];
        for (j = 0; j < L.n; j++)
          dp[j * st] = gp[j * st] - expf(yp[j * st]) * (float)s;
      } else {
        for (j = 0; j < L.n; j++) s += (double)gp[j * st] * yp[j * st];
        for (j = 0; j < L.n; j++)
          dp[j * st] = yp[j * st] * (gp[j * st] - (float)s);
      }
    }
  ann_release(y); ann_release(gc);
  return ann_ag_take(a, dx);
fail:
  ann_release(y); ann_release(gc); ann_release(dx);
  return -1;
}

/* the raw op checked d; a negative d (from the end) is made 0-based */
static int normdim(const ann_Tensor *t, int d) {
  if (d < 0) d += t->ndim;
  return d;
}

static ann_Tensor *softmax_rec(ann_Tensor *out, ann_Tensor *a, int d,
                               int islog) {
  ann_Node *nd;
  if (out == NULL || !ann_ag_needs(1, &a)) return out;
  nd = ann_ag_attach(out, islog ? "log_softmax" : "softmax", bw_softmax, 1, &a);
  if (nd == NULL) return NULL;
  nd->ip[0] = normdim(a, d);
  nd->ip[1] = islog;
  return out;
}

ann_Tensor *ann_ag_softmax(ann_Tensor *a, int d) {
  return softmax_rec(ann_softmax(a, d), a, d, 0);
}

ann_Tensor *ann_ag_log_softmax(ann_Tensor *a, int d) {
  return softmax_rec(ann_log_softmax(a, d), a, d, 1);
}

/* ---- sum, mean, var, std -------------------------------------------------- */

/* g (the reduced result's gradient) seen with t's shape: stride 0 along
** the reduced dims */
static ann_Tensor *expand_back(const ann_Tensor *g, const ann_Tensor *t,
                               int d) {
  int64_t st[ANN_MAXDIM];
  int i, k = 0, keep = g->ndim == t->ndim;
  for (i = 0; i < t->ndim; i++) {
    if (d < 0 || i == d) { st[i] = 0; if (d >= 0 && keep) k++; }
    else st[i] = g->stride[k++];
  }
  return ann_restride(g, g->offset, t->ndim, t->shape, st);
}

/* ip: kind (0 sum, 1 mean, 2 var, 3 std), d, keepdim */
static int bw_reduce(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0], *x, *gc, *oc, *dx;
  int kind = (int)nd->ip[0], d = (int)nd->ip[1];
  Lanes L = lanes(a, d);
  int64_t o, i, j;
  if (!a->requires_grad) return 0;
  if (kind < 2) {
    ann_Tensor *ge = expand_back(g, a, d);
    if (ge == NULL) return -1;
    if (kind == 0) return ann_ag_take(a, ge);
    dx = gmap(K_SCALE, ge, 0, 0, L.n ? 1.0f / (float)L.n : 0.0f, 0);
    ann_release(ge);
    return ann_ag_take(a, dx);
  }
  /* var: dx = g 2 (x - mean) / (n-1); std: dx = g (x - mean) / ((n-1) s) */
  x = ann_ag_contig(a);
  gc = ann_ag_contig(g);
  oc = ann_ag_contig(out);
  dx = ann_new(a->ndim, a->shape);
  if (x == NULL || gc == NULL || oc == NULL || dx == NULL) {
    ann_release(x); ann_release(gc); ann_release(oc); ann_release(dx);
    return -1;
  }
  for (o = 0; o < L.outer; o++)
    for (i = 0; i < L.inner; i++) {
      int64_t base = o * L.n * L.inner + i, st = L.inner;
      const float *xp = ann_data(x) + base;
      float *dp = ann_data(dx) + base;
      float gv = ann_data(gc)[o * L.inner + i], sv = ann_data(oc)[o * L.inner + i];
      double m = 0, c;
      for (j = 0; j < L.n; j++) m += xp[j * st];
      m /= (double)L.n;
      if (kind == 2) c = 2.0 * gv / (double)(L.n - 1);
      else c = sv == 0.0f ? 0.0 : gv / ((double)(L.n - 1) * sv);
      for (j = 0; j < L.n; j++) dp[j * st] = (float)(c * (xp[j * st] - m));
    }
  ann_release(x); ann_release(gc); ann_release(oc);
  return ann_ag_take(a, dx);
}

static const char *const reduce_names[] = {"sum", "mean", "var", "std"};

static ann_Tensor *reduce_rec(ann_Tensor *out, ann_Tensor *t, int kind, int d,
                              int keepdim) {
  ann_Node *nd;
  if (out == NULL || !ann_ag_needs(1, &t)) return out;
  nd = ann_ag_attach(out, reduce_names[kind], bw_reduce, 1, &t);
  if (nd == NULL) return NULL;
  nd->ip[0] = kind;
  nd->ip[1] = d < 0 ? -1 : d;
  nd->ip[2] = keepdim;
  return out;
}

ann_Tensor *ann_ag_sum(ann_Tensor *t, int d, int keepdim) {
  return reduce_rec(ann_sum(t, d, keepdim), t, 0, d, keepdim);
}

ann_Tensor *ann_ag_mean(ann_Tensor *t, int d, int keepdim) {
  return reduce_rec(ann_mean(t, d, keepdim), t, 1, d, keepdim);
}

ann_Tensor *ann_ag_var(ann_Tensor *t, int d, int keepdim) {
  return reduce_rec(ann_var(t, d, keepdim), t, 2, d, keepdim);
}

ann_Tensor *ann_ag_std(ann_Tensor *t, int d, int keepdim) {
  return reduce_rec(ann_std(t, d, keepdim), t, 3, d, keepdim);
}

/* ---- norm ----------------------------------------------------------------- */

/* d||x||_p/dx = sign(x) |x|^(p-1) / ||x||^(p-1); for p = +-inf the
** gradient is shared by the entries of largest (smallest) size */
static int bw_norm(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0], *x, *dx;
  double p = nd->p[0], nv = ann_data(out)[0], gv = ann_data(g)[0];
  int64_t i, n = ann_numel(a), cnt = 0;
  const float *xp;
  float *dp;
  if (!a->requires_grad) return 0;
  x = ann_ag_contig(a);
  dx = ann_zeros(a->ndim, a->shape);
  if (x == NULL || dx == NULL) { ann_release(x); ann_release(dx); return -1; }
  xp = ann_data(x); dp = ann_data(dx);
  if (isinf(p)) {
    for (i = 0; i < n; i++) cnt += fabsf(xp[i]) == (float)nv;
    for (i = 0; i < n; i++)
      if (fabsf(xp[i]) == (float)nv && xp[i] != 0.0f)
        dp[i] = (float)(gv * (xp[i] > 0 ? 1 : -1) / (double)cnt);
  } else if (p != 0 && nv != 0) {
    for (i = 0; i < n; i++) {
      double v = xp[i], s = v > 0 ? 1 : v < 0 ? -1 : 0;
      if (v == 0) continue;
      dp[i] = (float)(gv * (p == 1 ? s : p == 2 ? v / nv
                      : s * pow(fabs(v) / nv, p - 1)));
    }
  }
  ann_release(x);
  return ann_ag_take(a, dx);
}

ann_Tensor *ann_ag_norm(ann_Tensor *t, double p) {
  ann_Tensor *out = ann_norm(t, p);
  ann_Node *nd;
  if (out == NULL || !ann_ag_needs(1, &t)) return out;
  if ((nd = ann_ag_attach(out, "norm", bw_norm, 1, &t)) == NULL) return NULL;
  nd->p[0] = p;
  return out;
}

/* ---- max, min ------------------------------------------------------------- */

/* the gradient goes to the selected entry: along d, the saved 1-based
** index; over the whole tensor, the first entry equal to the result */
static int bw_select_ext(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0], *x = NULL, *gc = NULL, *ic = NULL, *dx;
  int d = (int)nd->ip[0];
  int64_t o, i, n = ann_numel(a);
  Lanes L = lanes(a, d);
  int st = -1;
  if (!a->requires_grad) return 0;
  if ((dx = ann_zeros(a->ndim, a->shape)) == NULL) return -1;
  if (d < 0) {
    float v = ann_data(out)[0];
    if ((x = ann_ag_contig(a)) == NULL) goto done;
    for (i = 0; i < n; i++) {
      float xv = ann_data(x)[i];
      if (xv == v || (isnan(v) && isnan(xv))) break;
    }
    if (i < n) ann_data(dx)[i] = ann_data(g)[0];
  } else {
    if ((gc = ann_ag_contig(g)) == NULL
        || (ic = ann_ag_contig(nd->saved[0])) == NULL) goto done;
    for (o = 0; o < L.outer; o++)
      for (i = 0; i < L.inner; i++) {
        float k = ann_data(ic)[o * L.inner + i];
        if (!(k >= 1 && k <= (float)L.n)) {
          ann_seterror("backward of %s: index %g out of range", nd->name, k);
          goto done;
        }
        ann_data(dx)[(o * L.n + (int64_t)k - 1) * L.inner + i] +=
          ann_data(gc)[o * L.inner + i];
      }
  }
  st = 0;
done:
  ann_release(x); ann_release(gc); ann_release(ic);
  if (st == 0) return ann_ag_take(a, dx);
  ann_release(dx);
  return -1;
}

typedef ann_Tensor *(*ExtFn)(const ann_Tensor *, int, int, ann_Tensor **);

static ann_Tensor *extreme(ExtFn f, const char *name, ann_Tensor *t, int d,
                           int keepdim, ann_Tensor **ind) {
  ann_Tensor *out, *own = NULL;
  ann_Node *nd;
  if (!ann_ag_needs(1, &t)) return f(t, d, keepdim, ind);
  out = f(t, d, keepdim, d >= 0 ? &own : ind);
  if (out == NULL) return NULL;
  if ((nd = ann_ag_attach(out, name, bw_select_ext, 1, &t)) == NULL) {
    ann_release(own);
    return NULL;
  }
  nd->ip[0] = d < 0 ? -1 : d;
  nd->saved[0] = own;                /* the node keeps our reference */
  if (ind && d >= 0) *ind = ann_retain(own);
  return out;
}

ann_Tensor *ann_ag_max(ann_Tensor *t, int d, int keepdim, ann_Tensor **ind) {
  return extreme(ann_max, "max", t, d, keepdim, ind);
}

ann_Tensor *ann_ag_min(ann_Tensor *t, int d, int keepdim, ann_Tensor **ind) {
  return extreme(ann_min, "min", t, d, keepdim, ind);
}
