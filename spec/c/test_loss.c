/*
** test_loss.c: the losses (ann_loss.c) against values worked out by hand,
** their gradients against central finite differences, logits of +-1000,
** index and one-hot targets, reductions, one_hot, misuse.
*/
#include <math.h>
#include <string.h>

#include "test.h"

static ann_Tensor *vec(int64_t n, const float *v) {
  return ann_from_data(v, 1, &n);
}

static ann_Tensor *mat(int64_t r, int64_t c, const float *v) {
  int64_t s[2] = {r, c};
  return ann_from_data(v, 2, s);
}

static float at(const ann_Tensor *t, int i) { return ann_data(t)[i]; }

/* the value of a loss with a one-element result, NAN on error */
static double value(ann_Tensor *l) {
  double v = l && ann_numel(l) == 1 ? ann_data(l)[0] : NAN;
  ann_release(l);
  return v;
}

/* ---- finite differences ------------------------------------------------ */

typedef ann_Tensor *(*LossFn)(ann_Tensor *x, ann_Tensor *t, ann_Reduction r);

/* fixed weights w for s = sum(w * loss), so reduction none is checked
** element by element */
static ann_Tensor *weights(const ann_Tensor *l) {
  ann_Tensor *w = ann_empty_like(l);
  int64_t i;
  for (i = 0; i < ann_numel(w); i++) ann_data(w)[i] = 0.5f + 0.3f * (float)(i % 4);
  return w;
}

static double weighted(ann_Tensor *l, const ann_Tensor *w) {
  double s = 0;
  int64_t i;
  for (i = 0; i < ann_numel(l); i++) s += (double)ann_data(l)[i] * ann_data(w)[i];
  ann_release(l);
  return s;
}

/* largest |autograd - central difference| (relative above 1) over the
** elements of a (and of b when it requires grad) */
static double grad_error(LossFn f, ann_Tensor *a, ann_Tensor *b,
                         ann_Reduction r, float h) {
  ann_Tensor *in[2] = {a, b}, *l = f(a, b, r), *w;
  double err = 0;
  int k, prev;
  int64_t j;
  if (l == NULL) return INFINITY;
  w = weights(l);
  for (k = 0; k < 2; k++) { ann_release(in[k]->grad); in[k]->grad = NULL; }
  if (ann_backward(l, w) != 0) { ann_release(l); ann_release(w); return INFINITY; }
  ann_release(l);
  prev = ann_set_grad_enabled(0);
  for (k = 0; k < 2; k++) {
    ann_Tensor *t = in[k];
    if (!t->requires_grad) continue;
    if (t->grad == NULL) { err = INFINITY; break; }
    for (j = 0; j < ann_numel(t); j++) {
      float *p = ann_data(t) + j, x0 = *p, xp = x0 + h, xm = x0 - h;
      double sp, sm, fd, e;
      *p = xp; sp = weighted(f(a, b, r), w);
      *p = xm; sm = weighted(f(a, b, r), w);
      *p = x0;
      fd = (sp - sm) / ((double)xp - xm);
      e = fabs(fd - ann_data(t->grad)[j]) / fmax(1.0, fabs(fd));
      if (!(e <= err)) err = e;          /* NaN counts as worst */
    }
  }
  ann_set_grad_enabled(prev);
  ann_release(w);
  return err;
}

static void check_grads(LossFn f, ann_Tensor *a, ann_Tensor *b, float h,
                        double tol) {
  ann_Reduction r;
  for (r = ANN_REDUCE_MEAN; r <= ANN_REDUCE_NONE; r++) {
    double e = grad_error(f, a, b, r, h);
    CHECK_NEAR(e, 0, tol);
  }
}

/* ---- MSE --------------------------------------------------------------- */

static void test_mse(void) {
  ann_Tensor *x = vec(3, (float[]){1, 2, 3}), *t = vec(3, (float[]){1, 0, 5});
  ann_Tensor *l, *t4;
  /* squared errors 0, 4, 4 */
  CHECK_NEAR(value(ann_mse_loss(x, t, ANN_REDUCE_MEAN)), 8.0 / 3, 1e-6);
  CHECK_NEAR(value(ann_mse_loss(x, t, ANN_REDUCE_SUM)), 8, 1e-6);
  l = ann_mse_loss(x, t, ANN_REDUCE_NONE);
  CHECK(l && l->ndim == 1 && l->shape[0] == 3);
  CHECK(l && at(l, 0) == 0 && at(l, 1) == 4 && at(l, 2) == 4);
  ann_release(l);
  /* d mean / dx = 2 (x - t) / 3 */
  ann_set_requires_grad(x, 1);
  l = ann_mse_loss(x, t, ANN_REDUCE_MEAN);
  CHECK(ann_backward(l, NULL) == 0);
  CHECK(x->grad != NULL);
  if (x->grad) {
    CHECK_NEAR(at(x->grad, 0), 0, 1e-7);
    CHECK_NEAR(at(x->grad, 1), 4.0 / 3, 1e-6);
    CHECK_NEAR(at(x->grad, 2), -4.0 / 3, 1e-6);
  }
  ann_release(l);
  ann_set_requires_grad(t, 1);           /* the target's gradient too */
  check_grads(ann_mse_loss, x, t, 1e-2f, 1e-3);
  t4 = vec(4, (float[]){1, 2, 3, 4});
  CHECK_ERR(ann_mse_loss(x, t4, ANN_REDUCE_MEAN),
            "mse_loss: input [3] and target [4] differ in shape");
  CHECK_ERR(ann_mse_loss(x, t, (ann_Reduction)7), "mse_loss: unknown reduction 7");
  ann_release(x); ann_release(t); ann_release(t4);
}

/* ---- BCE --------------------------------------------------------------- */

static void test_bce(void) {
  ann_Tensor *p = vec(2, (float[]){0.5f, 0.9f}), *t = vec(2, (float[]){1, 0});
  ann_Tensor *e, *et, *q;
  /* -log 0.5 and -log 0.1 */
  CHECK_NEAR(value(ann_bce_loss(p, t, ANN_REDUCE_MEAN)),
             (log(2.0) + log(10.0)) / 2, 1e-6);
  CHECK_NEAR(value(ann_bce_loss(p, t, ANN_REDUCE_SUM)), log(2.0) + log(10.0), 1e-5);
  ann_release(p); ann_release(t);

  /* p of exactly 0 or 1: the log is clamped at -100, as PyTorch */
  e = vec(4, (float[]){0, 1, 1, 0});
  et = vec(4, (float[]){1, 1, 0, 0});
  q = ann_bce_loss(e, et, ANN_REDUCE_NONE);
  CHECK(q && at(q, 0) == 100 && at(q, 1) == 0 && at(q, 2) == 100 && at(q, 3) == 0);
  ann_release(q);
  ann_set_requires_grad(e, 1);
  q = ann_bce_loss(e, et, ANN_REDUCE_SUM);
  CHECK(ann_backward(q, NULL) == 0);
  CHECK(e->grad && isfinite(at(e->grad, 0)) && isfinite(at(e->grad, 2)));
  CHECK(e->grad && at(e->grad, 0) < 0 && at(e->grad, 2) > 0);
  ann_release(q); ann_release(e); ann_release(et);

  p = vec(4, (float[]){0.2f, 0.5f, 0.7f, 0.35f});
  t = vec(4, (float[]){0, 1, 0.3f, 1});
  ann_set_requires_grad(p, 1);
  ann_set_requires_grad(t, 1);
  check_grads(ann_bce_loss, p, t, 1e-3f, 2e-3);
  ann_release(p);
  p = vec(4, (float[]){0.2f, 1.5f, 0.7f, 0.35f});
  CHECK_ERR(ann_bce_loss(p, t, ANN_REDUCE_MEAN),
            "bce_loss: input 1.5 at element 2 is not a probability in [0,1]");
  ann_release(p); ann_release(t);
}

static void test_bce_logits(void) {
  ann_Tensor *x = vec(5, (float[]){0, 1000, -1000, 1000, 0.3f});
  ann_Tensor *t = vec(5, (float[]){1, 0, 1, 1, 0.2f}), *l, *s, *ps;
  /* log 2; 1000; 1000; 0; 0.3 - 0.06 + log(1 + e^-0.3) */
  l = ann_bce_logits_loss(x, t, ANN_REDUCE_NONE);
  CHECK(l != NULL);
  if (l) {
    CHECK_NEAR(at(l, 0), log(2.0), 1e-6);
    CHECK_NEAR(at(l, 1), 1000, 1e-3);
    CHECK_NEAR(at(l, 2), 1000, 1e-3);
    CHECK_NEAR(at(l, 3), 0, 1e-6);
    CHECK_NEAR(at(l, 4), 0.24 + log(1 + exp(-0.3)), 1e-6);
  }
  ann_release(l);
  /* gradient sigmoid(x) - t: 1000 against 0 gives 1, -1000 against 1 -1 */
  ann_set_requires_grad(x, 1);
  l = ann_bce_logits_loss(x, t, ANN_REDUCE_SUM);
  CHECK(ann_backward(l, NULL) == 0);
  if (x->grad) {
    CHECK_NEAR(at(x->grad, 0), -0.5, 1e-6);
    CHECK_NEAR(at(x->grad, 1), 1, 1e-6);
    CHECK_NEAR(at(x->grad, 2), -1, 1e-6);
    CHECK_NEAR(at(x->grad, 3), 0, 1e-6);
  }
  ann_release(l);
  ann_release(x);

  /* agrees with BCE on sigmoid(x), where that is accurate */
  x = vec(5, (float[]){-2, -0.5f, 0.1f, 1.5f, 3});
  ps = vec(5, (float[]){0, 0, 0, 0, 0});
  for (int i = 0; i < 5; i++) ann_data(ps)[i] = 1.0f / (1.0f + expf(-at(x, i)));
  s = ann_bce_loss(ps, t, ANN_REDUCE_MEAN);
  CHECK_NEAR(value(ann_bce_logits_loss(x, t, ANN_REDUCE_MEAN)), value(s), 1e-6);
  ann_set_requires_grad(x, 1);
  ann_set_requires_grad(t, 1);
  check_grads(ann_bce_logits_loss, x, t, 1e-2f, 1e-3);
  ann_release(x); ann_release(t); ann_release(ps);
}

/* ---- cross-entropy, NLL ------------------------------------------------ */

static void test_cross_entropy(void) {
  ann_Tensor *x = vec(3, (float[]){1, 2, 3}), *k = vec(1, (float[]){3});
  ann_Tensor *oh = vec(3, (float[]){0, 0, 1}), *l, *xb, *kb, *pb, *gi, *t;
  double ce3 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3;
  /* one sample [C]: by index and by one-hot row */
  CHECK_NEAR(value(ann_cross_entropy(x, k, ANN_REDUCE_MEAN)), ce3, 1e-6);
  CHECK_NEAR(value(ann_cross_entropy(x, oh, ANN_REDUCE_MEAN)), ce3, 1e-6);
  l = ann_cross_entropy(x, k, ANN_REDUCE_NONE);
  CHECK(l && l->ndim == 0);
  ann_release(l);
  ann_release(x); ann_release(k); ann_release(oh);

  /* a batch: rows {1,2,3} class 3 and {1,1,1} class 1 (loss log 3) */
  xb = mat(2, 3, (float[]){1, 2, 3, 1, 1, 1});
  kb = vec(2, (float[]){3, 1});
  CHECK_NEAR(value(ann_cross_entropy(xb, kb, ANN_REDUCE_MEAN)), (ce3 + log(3.0)) / 2, 1e-6);
  CHECK_NEAR(value(ann_cross_entropy(xb, kb, ANN_REDUCE_SUM)), ce3 + log(3.0), 1e-6);
  l = ann_cross_entropy(xb, kb, ANN_REDUCE_NONE);
  CHECK(l && l->ndim == 1 && l->shape[0] == 2);
  if (l) { CHECK_NEAR(at(l, 0), ce3, 1e-6); CHECK_NEAR(at(l, 1), log(3.0), 1e-6); }
  ann_release(l);

  /* mean gradient (softmax - onehot) / N, and the same through one-hot
  ** rows */
  ann_set_requires_grad(xb, 1);
  l = ann_cross_entropy(xb, kb, ANN_REDUCE_MEAN);
  CHECK(ann_backward(l, NULL) == 0);
  ann_release(l);
  gi = xb->grad; xb->grad = NULL;
  CHECK(gi != NULL);
  if (gi) {
    double z = exp(1.0) + exp(2.0) + exp(3.0);
    CHECK_NEAR(at(gi, 0), exp(1.0) / z / 2, 1e-6);
    CHECK_NEAR(at(gi, 2), (exp(3.0) / z - 1) / 2, 1e-6);
    CHECK_NEAR(at(gi, 3), (1.0 / 3 - 1) / 2, 1e-6);
    CHECK_NEAR(at(gi, 4), 1.0 / 6, 1e-6);
  }
  pb = ann_one_hot(kb, 3);
  l = ann_cross_entropy(xb, pb, ANN_REDUCE_MEAN);
  CHECK(ann_backward(l, NULL) == 0);
  ann_release(l);
  CHECK(gi && xb->grad && ann_allclose(gi, xb->grad, 0, 1e-7) == 1);
  ann_release(gi);
  check_grads(ann_cross_entropy, xb, kb, 1e-2f, 1e-3);
  /* probability rows, with the target's gradient as well */
  t = mat(2, 3, (float[]){0.2f, 0.5f, 0.3f, 0.6f, 0, 0.4f});
  ann_set_requires_grad(t, 1);
  check_grads(ann_cross_entropy, xb, t, 1e-2f, 1e-3);
  ann_release(t); ann_release(pb);

  /* misuse */
  t = vec(2, (float[]){3, 0});
  CHECK_ERR(ann_cross_entropy(xb, t, ANN_REDUCE_MEAN),
            "cross_entropy: target 0 out of range 1..3 (labels are 1-based)");
  ann_data(t)[1] = 2.5f;
  CHECK_ERR(ann_cross_entropy(xb, t, ANN_REDUCE_MEAN),
            "cross_entropy: target 2.5 is not an integer class index");
  ann_release(t);
  t = vec(3, (float[]){1, 2, 3});
  CHECK_ERR(ann_cross_entropy(xb, t, ANN_REDUCE_MEAN),
            "cross_entropy: target [3] does not match input [2,3]");
  ann_release(t);
  ann_release(xb); ann_release(kb);
  {
    float v[20];
    for (int i = 0; i < 20; i++) v[i] = 0;
    xb = mat(2, 10, v);
    kb = vec(2, (float[]){0, 1});
    CHECK_ERR(ann_cross_entropy(xb, kb, ANN_REDUCE_MEAN),
              "cross_entropy: target 0 out of range 1..10 (labels are 1-based)");
    ann_release(xb); ann_release(kb);
  }
}

/* logits of +-1000: finite losses and gradients */
static void test_extremes(void) {
  ann_Tensor *x = mat(2, 2, (float[]){1000, -1000, -1000, 1000});
  ann_Tensor *k = vec(2, (float[]){2, 2}), *l;
  l = ann_cross_entropy(x, k, ANN_REDUCE_NONE);
  CHECK(l && at(l, 0) == 2000 && at(l, 1) == 0);
  ann_release(l);
  ann_set_requires_grad(x, 1);
  l = ann_cross_entropy(x, k, ANN_REDUCE_SUM);
  CHECK(l && isfinite(at(l, 0)));
  CHECK(ann_backward(l, NULL) == 0);
  if (x->grad) {                      /* softmax {1,0} - {0,1}; exact rows */
    CHECK(at(x->grad, 0) == 1 && at(x->grad, 1) == -1);
    CHECK(at(x->grad, 2) == 0 && at(x->grad, 3) == 0);
  }
  ann_release(l); ann_release(k); ann_release(x);
}

static void test_nll(void) {
  ann_Tensor *lp = mat(2, 3, (float[]){logf(0.2f), logf(0.3f), logf(0.5f),
                                       logf(0.1f), logf(0.1f), logf(0.8f)});
  ann_Tensor *k = vec(2, (float[]){2, 3}), *l, *t;
  CHECK_NEAR(value(ann_nll_loss(lp, k, ANN_REDUCE_SUM)), -log(0.3) - log(0.8), 1e-6);
  CHECK_NEAR(value(ann_nll_loss(lp, k, ANN_REDUCE_MEAN)), (-log(0.3) - log(0.8)) / 2, 1e-6);
  l = ann_nll_loss(lp, k, ANN_REDUCE_NONE);
  CHECK(l && l->shape[0] == 2);
  if (l) CHECK_NEAR(at(l, 1), -log(0.8), 1e-6);
  ann_release(l);
  ann_set_requires_grad(lp, 1);
  l = ann_nll_loss(lp, k, ANN_REDUCE_MEAN);
  CHECK(ann_backward(l, NULL) == 0);
  CHECK(lp->grad && at(lp->grad, 1) == -0.5f && at(lp->grad, 5) == -0.5f
        && at(lp->grad, 0) == 0 && at(lp->grad, 3) == 0);
  ann_release(l);
  check_grads(ann_nll_loss, lp, k, 1e-2f, 1e-4);
  t = mat(2, 3, (float[]){0, 1, 0, 0, 0, 1});
  CHECK_ERR(ann_nll_loss(lp, t, ANN_REDUCE_MEAN),
            "nll_loss: target [2,3] does not match input [2,3] (expected [N] class indices)");
  ann_release(t);
  t = vec(2, (float[]){2, 4});
  CHECK_ERR(ann_nll_loss(lp, t, ANN_REDUCE_MEAN),
            "nll_loss: target 4 out of range 1..3 (labels are 1-based)");
  ann_release(t); ann_release(lp); ann_release(k);
}

static void test_one_hot(void) {
  ann_Tensor *k = vec(3, (float[]){2, 1, 3}), *h = ann_one_hot(k, 4);
  static const float want[12] = {0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0};
  CHECK(h && h->ndim == 2 && h->shape[0] == 3 && h->shape[1] == 4);
  CHECK(h && memcmp(ann_data(h), want, sizeof want) == 0);
  ann_release(h);
  CHECK_ERR(ann_one_hot(k, 2), "one_hot: label 3 out of range 1..2 (labels are 1-based)");
  CHECK_ERR(ann_one_hot(k, 0), "one_hot: 0 classes");
  ann_release(k);
}

/* no grad mode, or inputs that want none: no graph */
static void test_no_graph(void) {
  ann_Tensor *x = vec(2, (float[]){1, 2}), *t = vec(2, (float[]){0, 0}), *l;
  l = ann_mse_loss(x, t, ANN_REDUCE_MEAN);
  CHECK(l && l->node == NULL && !l->requires_grad);
  ann_release(l);
  ann_set_requires_grad(x, 1);
  ann_set_grad_enabled(0);
  l = ann_mse_loss(x, t, ANN_REDUCE_MEAN);
  CHECK(l && l->node == NULL);
  ann_set_grad_enabled(1);
  ann_release(l);
  ann_release(x); ann_release(t);
}

int main(void) {
  test_mse();
  test_bce();
  test_bce_logits();
  test_cross_entropy();
  test_extremes();
  test_nll();
  test_one_hot();
  test_no_graph();
  CHECK(ann_live_bytes() == 0);
  return test_report();
}
