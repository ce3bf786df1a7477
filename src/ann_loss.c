/*
** ann_loss.c: losses with forward and backward fused in C.  Each loss is
** one pass over its input computing the per-element (or per-row) values,
** and one node whose backward writes the whole gradient in one more pass,
** instead of a chain of elementwise ops each with its own node.
*/
#include <math.h>
#include <string.h>

#include "ann_impl.h"

#define LOG_CLAMP (-100.0f)  /* BCE's log floor, as PyTorch: p = 0 stays finite */
#define BCE_EPS 1e-12f       /* floor of p(1-p) in BCE's gradient, as PyTorch */

/* t itself (retained) if contiguous, else a contiguous copy: the kernels
** below walk plain arrays */
static ann_Tensor *dense(const ann_Tensor *t) {
  if (ann_is_contiguous(t)) return ann_retain((ann_Tensor *)t);
  return ann_clone(t);
}

static const char *redname(ann_Reduction r) {
  return r == ANN_REDUCE_MEAN ? "mean" : r == ANN_REDUCE_SUM ? "sum" : "none";
}

static int check_reduction(const char *op, ann_Reduction r) {
  if (r != ANN_REDUCE_MEAN && r != ANN_REDUCE_SUM && r != ANN_REDUCE_NONE)
    return ann_seterror("%s: unknown reduction %d", op, (int)r);
  return 0;
}

/* the result: per-element values (none), or their sum or mean as 0-dim */
static ann_Tensor *reduce_result(ann_Reduction r, double sum, double count,
                                 ann_Tensor *per) {
  if (r == ANN_REDUCE_NONE) return ann_retain(per);
  return ann_scalar((float)(r == ANN_REDUCE_MEAN ? sum / count : sum));
}

/*
** The upstream gradient seen by a backward: per-element values gp (for
** reduction none), or one scale gs for all elements (sum, mean).
*/
typedef struct Grad {
  ann_Tensor *g;     /* dense copy of gout, for none */
  const float *gp;
  float gs;
} Grad;

static int grad_open(Grad *G, const char *op, const ann_Tensor *gout,
                     ann_Reduction r, int64_t nout, double count) {
  G->g = NULL; G->gp = NULL; G->gs = 0;
  if (r == ANN_REDUCE_NONE) {
    if (ann_numel(gout) != nout)
      return ann_seterror("%s: gradient has %lld elements, expected %lld",
                          op, (long long)ann_numel(gout), (long long)nout);
    if ((G->g = dense(gout)) == NULL) return -1;
    G->gp = ann_data(G->g);
    return 0;
  }
  if (ann_numel(gout) != 1)
    return ann_seterror("%s: gradient of a %s loss must have one element",
                        op, redname(r));
  G->gs = ann_data(gout)[0];
  if (r == ANN_REDUCE_MEAN) G->gs = (float)(G->gs / count);
  return 0;
}

/* hands d (may be NULL) over to t's gradient, without a copy */
static int give(ann_Tensor *t, ann_Tensor *d) {
  return d ? ann_ag_take(t, d) : 0;
}

/* d(loss)/dt for an input that requires grad; NULL otherwise (or on
** error, with *err set) */
static ann_Tensor *grad_for(const ann_Tensor *t, int *err) {
  ann_Tensor *d;
  if (t == NULL || !t->requires_grad) return NULL;
  if ((d = ann_empty(t->ndim, t->shape)) == NULL) *err = 1;
  return d;
}

/* ---- elementwise losses: MSE, BCE, BCE with logits ---------------------- */

/* forward: out[i] = loss of element i (out may be NULL); returns the sum.
** backward: dx[i], dt[i] = g_i * d loss_i / d x_i, t_i (either may be NULL) */
typedef double (*EltFwd)(const float *x, const float *t, float *out, int64_t n);
typedef void (*EltBwd)(const float *x, const float *t, const float *gp,
                       float gs, float *dx, float *dt, int64_t n);

static double mse_fwd(const float *x, const float *t, float *out, int64_t n) {
  double s = 0;
  int64_t i;
  for (i = 0; i < n; i++) {
    float d = x[i] - t[i], l = d * d;
    if (out) out[i] = l;
    s += l;
  }
  return s;
}

static void mse_bwd(const float *x, const float *t, const float *gp, float gs,
                    float *dx, float *dt, int64_t n) {
  int64_t i;
  for (i = 0; i < n; i++) {
    float d = 2.0f * (x[i] - t[i]) * (gp ? gp[i] : gs);
    if (dx) dx[i] = d;
    if (dt) dt[i] = -d;
  }
}

static float clamped_log(float v) {
  float l = logf(v);
  return l < LOG_CLAMP ? LOG_CLAMP : l;   /* log(0) = -inf clamps too */
}

static float clamped_log1m(float p) {
  float l = log1pf(-p);
  return l < LOG_CLAMP ? LOG_CLAMP : l;
}

static double bce_fwd(const float *p, const float *t, float *out, int64_t n) {
  double s = 0;
  int64_t i;
  for (i = 0; i < n; i++) {
    float l = -(t[i] * clamped_log(p[i]) + (1.0f - t[i]) * clamped_log1m(p[i]));
    if (out) out[i] = l;
    s += l;
  }
  return s;
}

static void bce_bwd(const float *p, const float *t, const float *gp, float gs,
                    float *dx, float *dt, int64_t n) {
  int64_t i;
  for (i = 0; i < n; i++) {
    float g = gp ? gp[i] : gs, q = p[i] * (1.0f - p[i]);
    if (dx) dx[i] = g * (p[i] - t[i]) / (q > BCE_EPS ? q : BCE_EPS);
    if (dt) dt[i] = g * (clamped_log1m(p[i]) - clamped_log(p[i]));
  }
}

/* max(x,0) - x t + log(1 + exp(-|x|)): exp never overflows */
static double bcel_fwd(const float *x, const float *t, float *out, int64_t n) {
  double s = 0;
  int64_t i;
  for (i = 0; i < n; i++) {
    float l = fmaxf(x[i], 0.0f) - x[i] * t[i] + log1pf(expf(-fabsf(x[i])));
    if (out) out[i] = l;
    s += l;
  }
  return s;
}

static float sigmoid(float x) {
  float e = expf(-fabsf(x));   /* in (0,1]: no overflow either way */
  return x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

static void bcel_bwd(const float *x, const float *t, const float *gp, float gs,
                     float *dx, float *dt, int64_t n) {
  int64_t i;
  for (i = 0; i < n; i++) {
    float g = gp ? gp[i] : gs;
    if (dx) dx[i] = g * (sigmoid(x[i]) - t[i]);
    if (dt) dt[i] = -g * x[i];
  }
}

static const struct EltLoss {
  const char *name;
  EltFwd fwd;
  EltBwd bwd;
} elt_losses[] = {
  {"mse_loss", mse_fwd, mse_bwd},
  {"bce_loss", bce_fwd, bce_bwd},
  {"bce_with_logits", bcel_fwd, bcel_bwd},
};
enum { MSE, BCE, BCEL };

/* node: inputs x, t; ip[0] the loss, ip[1] the reduction */
static int elt_backward(ann_Node *nd, ann_Tensor *out, const ann_Tensor *gout) {
  const struct EltLoss *L = &elt_losses[nd->ip[0]];
  ann_Reduction r = (ann_Reduction)nd->ip[1];
  ann_Tensor *x = nd->inputs[0], *t = nd->inputs[1];
  ann_Tensor *xc = NULL, *tc = NULL, *dx = NULL, *dt = NULL;
  int64_t n = ann_numel(x);
  int err = 0, st = -1;
  Grad G;
  (void)out;
  if (grad_open(&G, L->name, gout, r, n, (double)n) != 0) return -1;
  if ((xc = dense(x)) == NULL || (tc = dense(t)) == NULL) goto done;
  dx = grad_for(x, &err);
  dt = grad_for(t, &err);
  if (err) goto done;
  if (dx || dt)
    L->bwd(ann_data(xc), ann_data(tc), G.gp, G.gs,
           dx ? ann_data(dx) : NULL, dt ? ann_data(dt) : NULL, n);
  st = give(x, dx);
  dx = NULL;
  if (give(t, dt) != 0) st = -1;
  dt = NULL;
done:
  ann_release(dx); ann_release(dt);
  ann_release(xc); ann_release(tc); ann_release(G.g);
  return st;
}

/* BCE takes probabilities: anything outside [0,1] is a mistake upstream */
static int check_probs(const char *op, const float *p, int64_t n) {
  int64_t i;
  for (i = 0; i < n; i++)
    if (!(p[i] >= 0.0f && p[i] <= 1.0f))
      return ann_seterror("%s: input %g at element %lld is not a "
                          "probability in [0,1]", op, p[i], (long long)i + 1);
  return 0;
}

static ann_Tensor *elt_loss(int kind, ann_Tensor *x, ann_Tensor *t,
                            ann_Reduction r) {
  const struct EltLoss *L = &elt_losses[kind];
  ann_Tensor *xc = NULL, *tc = NULL, *per = NULL, *y = NULL, *in[2];
  ann_Node *nd;
  char sx[128], st[128];
  double sum;
  int64_t n;
  if (x == NULL || t == NULL)
    return ann_seterror("%s: %s is NULL", L->name, x ? "target" : "input"),
           NULL;
  if (check_reduction(L->name, r) != 0) return NULL;
  if (!ann_same_shape(x, t))
    return ann_seterror("%s: input %s and target %s differ in shape",
                        L->name, ann_shapestr(x, sx, sizeof sx),
                        ann_shapestr(t, st, sizeof st)), NULL;
  n = ann_numel(x);
  if ((xc = dense(x)) == NULL || (tc = dense(t)) == NULL) goto done;
  if (kind == BCE && check_probs(L->name, ann_data(xc), n) != 0) goto done;
  if (r == ANN_REDUCE_NONE && (per = ann_empty(x->ndim, x->shape)) == NULL)
    goto done;
  sum = L->fwd(ann_data(xc), ann_data(tc), per ? ann_data(per) : NULL, n);
  if ((y = reduce_result(r, sum, (double)n, per)) == NULL) goto done;
  in[0] = x; in[1] = t;
  if (ann_ag_needs(2, in)) {
    if ((nd = ann_ag_attach(y, L->name, elt_backward, 2, in)) == NULL) {
      y = NULL;
      goto done;
    }
    nd->ip[0] = kind;
    nd->ip[1] = r;
  }
done:
  ann_release(xc); ann_release(tc); ann_release(per);
  return y;
}

ann_Tensor *ann_mse_loss(ann_Tensor *input, ann_Tensor *target,
                         ann_Reduction r) {
  return elt_loss(MSE, input, target, r);
}

ann_Tensor *ann_bce_loss(ann_Tensor *p, ann_Tensor *target, ann_Reduction r) {
  return elt_loss(BCE, p, target, r);
}

ann_Tensor *ann_bce_logits_loss(ann_Tensor *logits, ann_Tensor *target,
                                ann_Reduction r) {
  return elt_loss(BCEL, logits, target, r);
}

/* ---- class losses: cross-entropy on logits, NLL on log-probabilities ----
** Both see the input as n rows of c classes ([N,C], or [C] as one row). */

/* class indices are floats holding 1-based integers; what: "target" or
** "label", as the caller names them */
static int check_classes(const char *op, const char *what, const float *t,
                         int64_t n, int64_t c) {
  int64_t i;
  for (i = 0; i < n; i++) {
    float v = t[i];
    if (!(v >= 1.0f && v <= (float)c))
      return ann_seterror("%s: %s %g out of range 1..%lld (labels are "
                          "1-based)", op, what, v, (long long)c);
    if (v != floorf(v))
      return ann_seterror("%s: %s %g is not an integer class index "
                          "(labels are 1-based)", op, what, v);
  }
  return 0;
}

/* which target a class loss got: class indices or probability rows */
enum { BY_INDEX, BY_PROB };

/* checks logits/log-probs x against target t; sets rows, classes and the
** target kind (NLL allows indices only) */
static int check_class_shapes(const char *op, const ann_Tensor *x,
                              const ann_Tensor *t, int allow_prob,
                              int64_t *n, int64_t *c, int *kind) {
  char sx[128], st[128];
#define SX ann_shapestr(x, sx, sizeof sx)
#define ST ann_shapestr(t, st, sizeof st)
  if (x->ndim != 1 && x->ndim != 2)
    return ann_seterror("%s: input %s must be [N,C] or [C]", op, SX);
  *n = x->ndim == 2 ? x->shape[0] : 1;
  *c = x->shape[x->ndim - 1];
  if (*c < 1) return ann_seterror("%s: input %s has no classes", op, SX);
  if (allow_prob && ann_same_shape(x, t)) { *kind = BY_PROB; return 0; }
  *kind = BY_INDEX;
  if (x->ndim == 2 ? (t->ndim == 1 && t->shape[0] == *n)
                   : (t->ndim <= 1 && ann_numel(t) == 1))
    return 0;
  if (allow_prob)
    return ann_seterror("%s: target %s does not match input %s (expected "
                        "%s class indices or %s probabilities)", op, ST, SX,
                        x->ndim == 2 ? "[N]" : "one", sx);
  return ann_seterror("%s: target %s does not match input %s (expected "
                      "%s class indices)", op, ST, SX,
                      x->ndim == 2 ? "[N]" : "one");
#undef SX
#undef ST
}

/* log-sum-exp of each row as two floats, the max m and log sum e^(x-m):
** stable (logits of +-1000 give exp of values in [-2000, 0], never inf)
** and exact near large logits, where m + log s would round away the
** small part */
static void row_lse(const float *x, int64_t n, int64_t c, float *lse) {
  int64_t i, j;
  for (i = 0; i < n; i++, x += c) {
    float m = x[0], s = 0;
    for (j = 1; j < c; j++) m = fmaxf(m, x[j]);
    for (j = 0; j < c; j++) s += expf(x[j] - m);
    lse[2 * i] = m;
    lse[2 * i + 1] = logf(s);
  }
}

/* -log softmax of x_ij, from the row's (m, log s) */
#define NLOGP(lse, i, x) (((lse)[2 * (i)] - (x)) + (lse)[2 * (i) + 1])

/* per-row cross-entropy: -log p[k] for index k, or -sum_j t_j log p_j */
static double ce_fwd(const float *x, const float *t, int kind, const float *lse,
                     int64_t n, int64_t c, float *out) {
  double s = 0;
  int64_t i, j;
  for (i = 0; i < n; i++) {
    float l;
    if (kind == BY_INDEX) l = NLOGP(lse, i, x[i * c + (int64_t)t[i] - 1]);
    else {
      l = 0;
      for (j = 0; j < c; j++) l += t[i * c + j] * NLOGP(lse, i, x[i * c + j]);
    }
    if (out) out[i] = l;
    s += l;
  }
  return s;
}

/* dx_ij = g_i (softmax_ij sum_k t_ik - t_ij), which is softmax - onehot
** for index targets; dt_ij = -g_i log p_ij for probability rows */
static void ce_bwd(const float *x, const float *t, int kind, const float *lse,
                   const Grad *G, int64_t n, int64_t c, float *dx, float *dt) {
  int64_t i, j;
  for (i = 0; i < n; i++) {
    const float *xi = x + i * c, *ti = t + i * c;
    float g = G->gp ? G->gp[i] : G->gs, tsum = 1.0f;
    if (dx) {
      float *d = dx + i * c;
      if (kind == BY_PROB)
        for (tsum = 0, j = 0; j < c; j++) tsum += ti[j];
      for (j = 0; j < c; j++) d[j] = g * tsum * expf(-NLOGP(lse, i, xi[j]));
      if (kind == BY_INDEX) d[(int64_t)t[i] - 1] -= g;
      else for (j = 0; j < c; j++) d[j] -= g * ti[j];
    }
    if (dt && kind == BY_PROB)
      for (j = 0; j < c; j++) dt[i * c + j] = g * NLOGP(lse, i, xi[j]);
  }
}

/* NLL: loss_i = -x[i, k_i]; its gradient is -g_i at k_i, 0 elsewhere */
static double nll_fwd(const float *x, const float *t, int64_t n, int64_t c,
                      float *out) {
  double s = 0;
  int64_t i;
  for (i = 0; i < n; i++) {
    float l = -x[i * c + (int64_t)t[i] - 1];
    if (out) out[i] = l;
    s += l;
  }
  return s;
}

static void nll_bwd(const float *t, const Grad *G, int64_t n, int64_t c,
                    float *dx) {
  int64_t i;
  memset(dx, 0, (size_t)(n * c) * sizeof(float));
  for (i = 0; i < n; i++)
    dx[i * c + (int64_t)t[i] - 1] = -(G->gp ? G->gp[i] : G->gs);
}

enum { CE, NLL };
static const char *const class_names[] = {"cross_entropy", "nll_loss"};

/* node: inputs x, t; ip: loss, reduction, target kind; saved[0]: the
** rows' log-sum-exp (cross-entropy) */
static int class_backward(ann_Node *nd, ann_Tensor *out,
                          const ann_Tensor *gout) {
  int loss = (int)nd->ip[0], kind = (int)nd->ip[2], err = 0, st = -1;
  ann_Reduction r = (ann_Reduction)nd->ip[1];
  ann_Tensor *x = nd->inputs[0], *t = nd->inputs[1];
  ann_Tensor *xc = NULL, *tc = NULL, *dx = NULL, *dt = NULL;
  int64_t c = x->shape[x->ndim - 1], n = x->ndim == 2 ? x->shape[0] : 1;
  Grad G;
  (void)out;
  if (grad_open(&G, class_names[loss], gout, r, n, (double)n) != 0) return -1;
  if ((xc = dense(x)) == NULL || (tc = dense(t)) == NULL) goto done;
  dx = grad_for(x, &err);
  if (kind == BY_PROB) dt = grad_for(t, &err);
  if (err) goto done;
  if (loss == CE)
    ce_bwd(ann_data(xc), ann_data(tc), kind, ann_data(nd->saved[0]), &G, n, c,
           dx ? ann_data(dx) : NULL, dt ? ann_data(dt) : NULL);
  else if (dx)
    nll_bwd(ann_data(tc), &G, n, c, ann_data(dx));
  st = give(x, dx);
  dx = NULL;
  if (give(t, dt) != 0) st = -1;
  dt = NULL;
done:
  ann_release(dx); ann_release(dt);
  ann_release(xc); ann_release(tc); ann_release(G.g);
  return st;
}

static ann_Tensor *class_loss(int loss, ann_Tensor *x, ann_Tensor *t,
                              ann_Reduction r) {
  const char *op = class_names[loss];
  ann_Tensor *xc = NULL, *tc = NULL, *lse = NULL, *per = NULL, *y = NULL;
  ann_Tensor *in[2];
  ann_Node *nd;
  int64_t n = 0, c = 0;
  int kind;
  double sum;
  if (x == NULL || t == NULL)
    return ann_seterror("%s: %s is NULL", op, x ? "target" : "input"), NULL;
  if (check_reduction(op, r) != 0
      || check_class_shapes(op, x, t, loss == CE, &n, &c, &kind) != 0)
    return NULL;
  if ((xc = dense(x)) == NULL || (tc = dense(t)) == NULL) goto done;
  if (kind == BY_INDEX && check_classes(op, "target", ann_data(tc), n, c) != 0)
    goto done;
  if (r == ANN_REDUCE_NONE
      && (per = ann_empty(x->ndim - 1, x->shape)) == NULL) goto done;
  if (loss == CE) {
    int64_t shape[2];
    shape[0] = n; shape[1] = 2;
    if ((lse = ann_empty(2, shape)) == NULL) goto done;
    row_lse(ann_data(xc), n, c, ann_data(lse));
    sum = ce_fwd(ann_data(xc), ann_data(tc), kind, ann_data(lse), n, c,
                 per ? ann_data(per) : NULL);
  } else
    sum = nll_fwd(ann_data(xc), ann_data(tc), n, c, per ? ann_data(per) : NULL);
  if ((y = reduce_result(r, sum, (double)n, per)) == NULL) goto done;
  in[0] = x; in[1] = t;
  if (ann_ag_needs(2, in)) {
    if ((nd = ann_ag_attach(y, op, class_backward, 2, in)) == NULL) {
      y = NULL;
      goto done;
    }
    nd->ip[0] = loss;
    nd->ip[1] = r;
    nd->ip[2] = kind;
    nd->saved[0] = lse;      /* the node takes our reference */
    lse = NULL;
  }
done:
  ann_release(xc); ann_release(tc); ann_release(lse); ann_release(per);
  return y;
}

ann_Tensor *ann_cross_entropy(ann_Tensor *logits, ann_Tensor *target,
                              ann_Reduction r) {
  return class_loss(CE, logits, target, r);
}

ann_Tensor *ann_nll_loss(ann_Tensor *logp, ann_Tensor *target,
                         ann_Reduction r) {
  return class_loss(NLL, logp, target, r);
}

ann_Tensor *ann_one_hot(const ann_Tensor *labels, int64_t n) {
  ann_Tensor *lc, *y;
  int64_t shape[ANN_MAXDIM], m, i;
  const float *lp;
  float *yp;
  if (labels == NULL) return ann_seterror("one_hot: labels are NULL"), NULL;
  if (n < 1)
    return ann_seterror("one_hot: %lld classes (need at least 1)",
                        (long long)n), NULL;
  if (labels->ndim >= ANN_MAXDIM)
    return ann_seterror("one_hot: labels have %d dims (at most %d)",
                        labels->ndim, ANN_MAXDIM - 1), NULL;
  if ((lc = dense(labels)) == NULL) return NULL;
  m = ann_numel(lc);
  lp = ann_data(lc);
  if (check_classes("one_hot", "label", lp, m, n) != 0) { ann_release(lc); return NULL; }
  memcpy(shape, labels->shape, (size_t)labels->ndim * sizeof(int64_t));
  shape[labels->ndim] = n;
  if ((y = ann_zeros(labels->ndim + 1, shape)) != NULL) {
    yp = ann_data(y);
    for (i = 0; i < m; i++) yp[i * n + (int64_t)lp[i] - 1] = 1.0f;
  }
  ann_release(lc);
  return y;
}
