/*
** ann_optim.c: optimiser steps, gradient zeroing and clipping.  Each step
** is one call over the whole parameter list; the update rules are
** PyTorch's (torch.optim SGD, Adam, AdamW, RMSprop), so hyperparameters
** carry over.  Everything is checked before anything is updated, so an
** error leaves params and state as they were.
*/
#include <math.h>
#include <string.h>

#include "ann_impl.h"

/* ---- checks ------------------------------------------------------------ */

/* t (a param's grad or state) must be there, dense, and shaped like p */
static int check_like(const char *op, const char *what, int i,
                      const ann_Tensor *p, const ann_Tensor *t) {
  char sp[128], st[128];
  if (t == NULL)
    return ann_seterror("%s: %s of param %d is missing", op, what, i + 1);
  if (!ann_same_shape(p, t))
    return ann_seterror("%s: %s of param %d is %s but the param is %s", op,
                        what, i + 1, ann_shapestr(t, st, sizeof st),
                        ann_shapestr(p, sp, sizeof sp));
  if (!ann_is_contiguous(t))
    return ann_seterror("%s: %s of param %d (%s) is not contiguous", op,
                        what, i + 1, ann_shapestr(t, st, sizeof st));
  return 0;
}

/* checks param i and its grad; 1 if it takes part, 0 if skipped (no
** grad), -1 on error */
static int check_param(const char *op, int n, ann_Tensor *const *params,
                       int i) {
  const ann_Tensor *p;
  char sp[128];
  if (params == NULL || n < 0)
    return ann_seterror("%s: no parameter list", op);
  if ((p = params[i]) == NULL)
    return ann_seterror("%s: param %d is NULL", op, i + 1);
  if (p->grad == NULL) return 0;
  if (!ann_is_contiguous(p))
    return ann_seterror("%s: param %d (%s) is not contiguous", op, i + 1,
                        ann_shapestr(p, sp, sizeof sp));
  if (check_like(op, "grad", i, p, p->grad) != 0) return -1;
  return 1;
}

/* the state list st (named what) for the params that take part */
static int check_state(const char *op, const char *what, int n,
                       ann_Tensor *const *params, ann_Tensor *const *st) {
  int i, k;
  for (i = 0; i < n; i++) {
    if ((k = check_param(op, n, params, i)) < 0) return -1;
    if (k == 0) continue;
    if (st == NULL)
      return ann_seterror("%s: no %s state list", op, what);
    if (check_like(op, what, i, params[i], st[i]) != 0) return -1;
  }
  return 0;
}

static int check_opts(const char *op, const ann_OptimOpts *o) {
  if (o == NULL) return ann_seterror("%s: no options", op);
  if (!(o->lr >= 0)) return ann_seterror("%s: lr %g < 0", op, o->lr);
  if (!(o->weight_decay >= 0))
    return ann_seterror("%s: weight_decay %g < 0", op, o->weight_decay);
  return 0;
}

/*
** Kernel functions share one signature: the param, its grad, up to two
** state arrays (NULL if unused), and the length.  They are compiled for
** AVX-512 and AVX2 as well and vectorised, the best one picked at load
** time: the step reads and writes 3-4 floats per parameter, and with SSE
** alone the arithmetic, not memory, was the limit (mnist-mlp's Adam step:
** a quarter of a training step).  sqrtf is one vector instruction in
** them (-fno-math-errno), correctly rounded as libm's.
*/
typedef struct Coef {        /* one step's constants */
  float lr, wd, mu, damp;    /* SGD, RMSprop */
  float nd, nb;              /* SGD: step = nd d + nb buf (Nesterov: 1, mu) */
  float b1, b2, keep, step, rbc2, eps, alpha;   /* Adam, RMSprop */
} Coef;

typedef void (*KernFn)(float *restrict p, const float *restrict g,
                       float *restrict s1, float *restrict s2,
                       const Coef *c, int64_t n);

/* f on each param that has a grad, with states i of s1 and s2 (lists or
** NULL) */
static void run(KernFn f, int n, ann_Tensor *const *params,
                ann_Tensor *const *s1, ann_Tensor *const *s2, const Coef *c) {
  int i;
  for (i = 0; i < n; i++)
    if (params[i]->grad)
      f(ann_data(params[i]), ann_data(params[i]->grad),
        s1 ? ann_data(s1[i]) : NULL, s2 ? ann_data(s2[i]) : NULL, c,
        ann_numel(params[i]));
}

/* ---- SGD --------------------------------------------------------------- */

/* d = g + wd p; with momentum, buf = d on the first step (as PyTorch,
** which creates the buffer then; the old contents are not read), else
** momentum buf + (1 - dampening) d; the step is buf, or d + momentum buf
** with Nesterov */
ANN_CLONES
static void sgd_plain(float *restrict p, const float *restrict g,
                      float *restrict s1, float *restrict s2, const Coef *c,
                      int64_t n) {
  float lr = c->lr, wd = c->wd;
  int64_t i;
  (void)s1; (void)s2;
  for (i = 0; i < n; i++) p[i] -= lr * (g[i] + wd * p[i]);
}

ANN_CLONES
static void sgd_first(float *restrict p, const float *restrict g,
                      float *restrict buf, float *restrict s2, const Coef *c,
                      int64_t n) {
  float lr = c->lr, wd = c->wd, nd = c->nd, nb = c->nb;
  int64_t i;
  (void)s2;
  for (i = 0; i < n; i++) {
    float d = g[i] + wd * p[i];
    buf[i] = d;
    p[i] -= lr * (nd * d + nb * d);
  }
}

ANN_CLONES
static void sgd_momentum(float *restrict p, const float *restrict g,
                         float *restrict buf, float *restrict s2,
                         const Coef *c, int64_t n) {
  float lr = c->lr, wd = c->wd, mu = c->mu, damp = c->damp;
  float nd = c->nd, nb = c->nb;
  int64_t i;
  (void)s2;
  for (i = 0; i < n; i++) {
    float d = g[i] + wd * p[i], b = mu * buf[i] + damp * d;
    buf[i] = b;
    p[i] -= lr * (nd * d + nb * b);
  }
}

int ann_sgd_step(int n, ann_Tensor *const *params, ann_Tensor *const *momentum,
                 const ann_OptimOpts *o) {
  KernFn f;
  Coef c;
  int i;
  if (check_opts("sgd", o) != 0) return -1;
  if (!(o->momentum >= 0))
    return ann_seterror("sgd: momentum %g < 0", o->momentum);
  if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
    return ann_seterror("sgd: nesterov needs momentum > 0 and dampening 0 "
                        "(got %g and %g)", o->momentum, o->dampening);
  if (o->momentum != 0) {
    if (check_state("sgd", "momentum", n, params, momentum) != 0) return -1;
  }
  else
    for (i = 0; i < n; i++)
      if (check_param("sgd", n, params, i) < 0) return -1;
  memset(&c, 0, sizeof c);
  c.lr = o->lr; c.wd = o->weight_decay; c.mu = o->momentum;
  c.damp = 1.0f - o->dampening;
  c.nd = o->nesterov ? 1.0f : 0.0f;
  c.nb = o->nesterov ? o->momentum : 1.0f;
  /* o->step 1 marks the first step */
  f = o->momentum == 0 ? sgd_plain : o->step == 1 ? sgd_first : sgd_momentum;
  run(f, n, params, o->momentum != 0 ? momentum : NULL, NULL, &c);
  return 0;
}

/* ---- Adam, AdamW ------------------------------------------------------- */

/* m, v: moving averages of g and g^2; the step is lr m^ / (sqrt(v^) +
** eps) with m^, v^ bias-corrected by 1 - beta^t.  Weight decay is L2
** (added to g) for Adam, decoupled (p *= 1 - lr wd) for AdamW. */
ANN_CLONES
static void adam_kern(float *restrict p, const float *restrict g,
                      float *restrict m, float *restrict v, const Coef *c,
                      int64_t n) {
  float b1 = c->b1, b2 = c->b2, l2 = c->wd, keep = c->keep;
  float step = c->step, rbc2 = c->rbc2, eps = c->eps;
  int64_t i;
  for (i = 0; i < n; i++) {
    float gi = g[i] + l2 * p[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi; v[i] = vi;
    p[i] = p[i] * keep - step * mi / (sqrtf(vi) * rbc2 + eps);
  }
}

int ann_adam_step(int n, ann_Tensor *const *params, ann_Tensor *const *m,
                  ann_Tensor *const *v, const ann_OptimOpts *o) {
  const char *op = o && o->decoupled ? "adamw" : "adam";
  Coef c;
  if (check_opts(op, o) != 0) return -1;
  if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
    return ann_seterror("%s: betas (%g, %g) must be in [0,1)", op, o->beta1,
                        o->beta2);
  if (!(o->eps >= 0)) return ann_seterror("%s: eps %g < 0", op, o->eps);
  if (o->step < 1)
    return ann_seterror("%s: step %lld (the first step is 1)", op,
                        (long long)o->step);
  if (check_state(op, "m", n, params, m) != 0
      || check_state(op, "v", n, params, v) != 0) return -1;
  memset(&c, 0, sizeof c);
  c.b1 = o->beta1; c.b2 = o->beta2; c.eps = o->eps;
  c.wd = o->decoupled ? 0.0f : o->weight_decay;
  c.keep = o->decoupled ? 1.0f - o->lr * o->weight_decay : 1.0f;
  c.step = (float)(o->lr / (1.0 - pow(o->beta1, (double)o->step)));
  c.rbc2 = (float)(1.0 / sqrt(1.0 - pow(o->beta2, (double)o->step)));
  run(adam_kern, n, params, m, v, &c);
  return 0;
}

/* ---- RMSprop ----------------------------------------------------------- */

/* sq = alpha sq + (1 - alpha) g^2; the step is lr g / (sqrt(sq) + eps),
** or with momentum lr buf where buf = momentum buf + g / (sqrt(sq) + eps) */
ANN_CLONES
static void rmsprop_kern(float *restrict p, const float *restrict g,
                         float *restrict sq, float *restrict buf,
                         const Coef *c, int64_t n) {
  float a = c->alpha, lr = c->lr, wd = c->wd, eps = c->eps, mu = c->mu;
  int64_t i;
  for (i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float si = a * sq[i] + (1.0f - a) * gi * gi;
    sq[i] = si;
    if (buf) {
      buf[i] = mu * buf[i] + gi / (sqrtf(si) + eps);
      p[i] -= lr * buf[i];
    }
    else
      p[i] -= lr * gi / (sqrtf(si) + eps);
  }
}

int ann_rmsprop_step(int n, ann_Tensor *const *params, ann_Tensor *const *sq,
                     ann_Tensor *const *buf, const ann_OptimOpts *o) {
  Coef c;
  int mom;
  if (check_opts("rmsprop", o) != 0) return -1;
  if (!(o->alpha >= 0))
    return ann_seterror("rmsprop: alpha %g < 0", o->alpha);
  if (!(o->eps >= 0)) return ann_seterror("rmsprop: eps %g < 0", o->eps);
  if (!(o->momentum >= 0))
    return ann_seterror("rmsprop: momentum %g < 0", o->momentum);
  mom = o->momentum > 0;
  if (check_state("rmsprop", "square average", n, params, sq) != 0
      || (mom && check_state("rmsprop", "momentum", n, params, buf) != 0))
    return -1;
  memset(&c, 0, sizeof c);
  c.alpha = o->alpha; c.lr = o->lr; c.wd = o->weight_decay;
  c.eps = o->eps; c.mu = o->momentum;
  run(rmsprop_kern, n, params, sq, mom ? buf : NULL, &c);
  return 0;
}

/* ---- gradients --------------------------------------------------------- */

/* grads are usually dense, but walk any layout: a strided walk costs
** nothing for one run */
static void grad_walk(ann_Tensor *t, float scale, int fill, double *ss) {
  const int64_t *strides[1];
  ann_Loop l;
  float *base = ann_data(t);
  strides[0] = t->stride;
  ann_loop_init(&l, 1, t->ndim, t->shape, strides);
  if (l.empty) return;
  do {
    float *x = base + l.off[0];
    int64_t i, s = l.step[0];
    if (ss) for (i = 0; i < l.len; i++) *ss += (double)x[i * s] * x[i * s];
    else if (fill && s == 1) memset(x, 0, (size_t)l.len * sizeof(float));
    else if (fill) for (i = 0; i < l.len; i++) x[i * s] = 0.0f;
    else for (i = 0; i < l.len; i++) x[i * s] *= scale;
  } while (ann_loop_next(&l));
}

static int check_list(const char *op, int n, ann_Tensor *const *params) {
  int i;
  if (n < 0 || (n > 0 && params == NULL))
    return ann_seterror("%s: no parameter list", op);
  for (i = 0; i < n; i++)
    if (params[i] == NULL)
      return ann_seterror("%s: param %d is NULL", op, i + 1);
  return 0;
}

int ann_zero_grad(int n, ann_Tensor *const *params) {
  int i;
  if (check_list("zero_grad", n, params) != 0) return -1;
  for (i = 0; i < n; i++)
    if (params[i]->grad) grad_walk(params[i]->grad, 0, 1, NULL);
  return 0;
}

/* as torch.nn.utils.clip_grad_norm_: the joint 2-norm of all grads;
** above max_norm, every grad is scaled by max_norm / (norm + 1e-6) */
int ann_clip_grad_norm(int n, ann_Tensor *const *params, double max_norm,
                       double *total) {
  double ss = 0, norm, coef;
  int i;
  if (check_list("clip_grad_norm", n, params) != 0) return -1;
  if (!(max_norm >= 0))
    return ann_seterror("clip_grad_norm: max_norm %g < 0", max_norm);
  for (i = 0; i < n; i++)
    if (params[i]->grad) grad_walk(params[i]->grad, 0, 0, &ss);
  norm = sqrt(ss);
  if (total) *total = norm;
  coef = max_norm / (norm + 1e-6);
  if (coef < 1.0)
    for (i = 0; i < n; i++)
      if (params[i]->grad) grad_walk(params[i]->grad, (float)coef, 0, NULL);
  return 0;
}

/* ---- L1 regularisation ------------------------------------------------- */

/* g += rate * sign(p) for every param with a grad: the subgradient of
** rate * sum |p| (0 at p = 0), added before an optimiser's step */
int ann_l1_grad(int n, ann_Tensor *const *params, float rate) {
  int i;
  if (!(rate >= 0)) return ann_seterror("l1: rate %g < 0", rate);
  for (i = 0; i < n; i++)
    if (check_param("l1", n, params, i) < 0) return -1;
  for (i = 0; i < n; i++) {
    const float *p;
    float *g;
    int64_t j, m;
    if (params[i]->grad == NULL) continue;
    p = ann_data(params[i]);
    g = ann_data(params[i]->grad);
    m = ann_numel(params[i]);
    for (j = 0; j < m; j++)
      g[j] += rate * (float)((p[j] > 0) - (p[j] < 0));
  }
  return 0;
}
