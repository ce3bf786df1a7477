/*
** test_optim.c: optimiser steps against updates worked out by hand from
** PyTorch's documented algorithms; zero_grad and clip_grad_norm.
*/
#include <string.h>

#include "test.h"

/* a 1-d param holding v with gradient g (n elements) */
static ann_Tensor *param(int64_t n, const float *v, const float *g) {
  ann_Tensor *p = ann_from_data(v, 1, &n);
  if (g) p->grad = ann_from_data(g, 1, &n);
  return p;
}

static void setgrad(ann_Tensor *p, const float *g) {
  memcpy(ann_data(p->grad), g, (size_t)ann_numel(p) * sizeof(float));
}

/* 0 when e failed (returned -1), as CHECK_ERR wants */
#define ERRED(e) ((e) != -1)

static void zero(ann_Tensor *t) {
  memset(ann_data(t), 0, (size_t)ann_numel(t) * sizeof(float));
}

static float at(const ann_Tensor *t, int i) { return ann_data(t)[i]; }

static ann_OptimOpts opts(float lr) {
  ann_OptimOpts o;
  memset(&o, 0, sizeof o);
  o.lr = lr;
  o.beta1 = 0.9f; o.beta2 = 0.999f; o.eps = 1e-8f; o.alpha = 0.99f;
  o.step = 1;
  return o;
}

static void test_sgd(void) {
  float v[2] = {1, 2}, g[2] = {0.5f, -1};
  ann_Tensor *p = param(2, v, g), *buf = ann_zeros(1, (int64_t[]){1});
  ann_OptimOpts o = opts(0.1f);
  /* plain: p - lr g */
  CHECK(ann_sgd_step(1, &p, NULL, &o) == 0);
  CHECK_NEAR(at(p, 0), 0.95, 1e-7);
  CHECK_NEAR(at(p, 1), 2.1, 1e-6);
  /* weight decay: g + wd p = 0.5 + 0.1 * 0.95 */
  o.weight_decay = 0.1f;
  CHECK(ann_sgd_step(1, &p, NULL, &o) == 0);
  CHECK_NEAR(at(p, 0), 0.95 - 0.1 * (0.5 + 0.095), 1e-6);
  ann_release(p);

  /* momentum 0.9, grads 1 then -2: buf 1 (first step takes g as is),
  ** then 0.9 * 1 - 2 = -1.1; p 1 -> 0.9 -> 0.9 + 0.11 */
  p = param(1, (float[]){1}, (float[]){1});
  o = opts(0.1f);
  o.momentum = 0.9f;
  CHECK(ann_sgd_step(1, &p, &buf, &o) == 0);
  CHECK_NEAR(at(p, 0), 0.9, 1e-7);
  CHECK_NEAR(at(buf, 0), 1, 1e-7);
  setgrad(p, (float[]){-2});
  o.step = 2;
  CHECK(ann_sgd_step(1, &p, &buf, &o) == 0);
  CHECK_NEAR(at(buf, 0), -1.1, 1e-6);
  CHECK_NEAR(at(p, 0), 1.01, 1e-6);
  ann_release(p);

  /* dampening 0.1 is not applied on the first step: g = 0.5 twice,
  ** buf 0.5 then 0.45 + 0.9 * 0.5 = 0.9; p 1 -> 0.95 -> 0.86 */
  p = param(1, (float[]){1}, (float[]){0.5f});
  o = opts(0.1f);
  o.momentum = 0.9f; o.dampening = 0.1f;
  CHECK(ann_sgd_step(1, &p, &buf, &o) == 0);
  CHECK_NEAR(at(p, 0), 0.95, 1e-7);
  o.step = 2;
  CHECK(ann_sgd_step(1, &p, &buf, &o) == 0);
  CHECK_NEAR(at(buf, 0), 0.9, 1e-6);
  CHECK_NEAR(at(p, 0), 0.86, 1e-6);
  ann_release(p);

  /* Nesterov, g = 0.5 twice: buf 0.5, step 0.5 + 0.9 * 0.5 = 0.95;
  ** buf 0.95, step 0.5 + 0.855 = 1.355; p 1 -> 0.905 -> 0.7695 */
  p = param(1, (float[]){1}, (float[]){0.5f});
  o = opts(0.1f);
  o.momentum = 0.9f; o.nesterov = 1;
  CHECK(ann_sgd_step(1, &p, &buf, &o) == 0);
  CHECK_NEAR(at(p, 0), 0.905, 1e-6);
  o.step = 2;
  CHECK(ann_sgd_step(1, &p, &buf, &o) == 0);
  CHECK_NEAR(at(buf, 0), 0.95, 1e-6);
  CHECK_NEAR(at(p, 0), 0.7695, 1e-6);

  /* misuse */
  o.dampening = 0.5f;
  CHECK_ERR(ERRED(ann_sgd_step(1, &p, &buf, &o)), "sgd: nesterov needs momentum > 0 and dampening 0");
  o.dampening = 0; o.nesterov = 0;
  CHECK_ERR(ERRED(ann_sgd_step(1, &p, NULL, &o)), "sgd: no momentum state list");
  ann_release(buf);
  buf = ann_zeros(1, (int64_t[]){2});
  CHECK_ERR(ERRED(ann_sgd_step(1, &p, &buf, &o)),
            "sgd: momentum of param 1 is [2] but the param is [1]");
  o.lr = -1;
  CHECK_ERR(ERRED(ann_sgd_step(1, &p, &buf, &o)), "sgd: lr -1 < 0");
  CHECK_NEAR(at(p, 0), 0.7695, 1e-6);        /* errors change nothing */
  ann_release(p); ann_release(buf);
}

static void test_adam(void) {
  ann_Tensor *p = param(3, (float[]){1, 1, 1}, (float[]){0.5f, -3, 1e-3f});
  ann_Tensor *m = ann_zeros(1, (int64_t[]){3}), *v = ann_zeros(1, (int64_t[]){3});
  ann_OptimOpts o = opts(0.01f);
  /* first step: m^ = g, v^ = g^2, so each weight moves by lr sign(g) */
  CHECK(ann_adam_step(1, &p, &m, &v, &o) == 0);
  CHECK_NEAR(at(p, 0), 0.99, 1e-6);
  CHECK_NEAR(at(p, 1), 1.01, 1e-6);
  CHECK_NEAR(at(p, 2), 0.99, 1e-6);
  CHECK_NEAR(at(m, 1), 0.1 * -3, 1e-6);
  CHECK_NEAR(at(v, 1), 0.001 * 9, 1e-6);
  ann_release(p); ann_release(m); ann_release(v);

  /* two steps, g 1 then 2, lr 0.1: m = 0.1, then 0.29; v = 0.001, then
  ** 0.004999; m^ = 0.29 / 0.19, v^ = 0.004999 / 0.001999, so the second
  ** step is 0.1 * 1.5263158 / 1.5813764 = 0.0965182 */
  p = param(1, (float[]){0}, (float[]){1});
  m = ann_zeros(1, (int64_t[]){1}); v = ann_zeros(1, (int64_t[]){1});
  o = opts(0.1f);
  CHECK(ann_adam_step(1, &p, &m, &v, &o) == 0);
  CHECK_NEAR(at(p, 0), -0.1, 1e-6);
  setgrad(p, (float[]){2});
  o.step = 2;
  CHECK(ann_adam_step(1, &p, &m, &v, &o) == 0);
  CHECK_NEAR(at(m, 0), 0.29, 1e-6);
  CHECK_NEAR(at(v, 0), 0.004999, 2e-7);   /* 1 - 0.999f is not exact */
  CHECK_NEAR(at(p, 0), -0.1 - 0.0965182, 2e-6);
  ann_release(p); ann_release(m); ann_release(v);

  /* eps is added to sqrt(v^), after the bias correction: with eps 0.5,
  ** g = 1, lr 0.1, m^ = v^ = 1 and the step is 0.1 * 1 / (1 + 0.5) */
  p = param(1, (float[]){0}, (float[]){1});
  m = ann_zeros(1, (int64_t[]){1}); v = ann_zeros(1, (int64_t[]){1});
  o = opts(0.1f);
  o.eps = 0.5f;
  CHECK(ann_adam_step(1, &p, &m, &v, &o) == 0);
  CHECK_NEAR(at(p, 0), -0.1 / 1.5, 1e-6);
  ann_release(p); ann_release(m); ann_release(v);

  /* Adam's L2 decay joins the gradient: g = -0.05 + 0.1 * 1 > 0, so the
  ** weight goes down though the raw gradient says up */
  p = param(1, (float[]){1}, (float[]){-0.05f});
  m = ann_zeros(1, (int64_t[]){1}); v = ann_zeros(1, (int64_t[]){1});
  o = opts(0.01f);
  o.weight_decay = 0.1f;
  CHECK(ann_adam_step(1, &p, &m, &v, &o) == 0);
  CHECK_NEAR(at(p, 0), 0.99, 1e-6);
  CHECK_NEAR(at(m, 0), 0.1 * 0.05, 1e-7);
  /* AdamW decays apart: p (1 - lr wd) - lr sign(g) = 0.99 * 0.999 + 0.01 */
  zero(m); zero(v);
  o.decoupled = 1;
  CHECK(ann_adam_step(1, &p, &m, &v, &o) == 0);
  CHECK_NEAR(at(p, 0), 0.99 * 0.999 + 0.01, 1e-6);
  CHECK_NEAR(at(m, 0), 0.1 * -0.05, 1e-7);

  /* misuse */
  o.step = 0;
  CHECK_ERR(ERRED(ann_adam_step(1, &p, &m, &v, &o)), "adamw: step 0 (the first step is 1)");
  o.step = 1; o.decoupled = 0; o.beta1 = 1;
  CHECK_ERR(ERRED(ann_adam_step(1, &p, &m, &v, &o)), "adam: betas (1, 0.999) must be in [0,1)");
  o.beta1 = 0.9f;
  CHECK_ERR(ERRED(ann_adam_step(1, &p, &m, NULL, &o)), "adam: no v state list");
  ann_release(p); ann_release(m); ann_release(v);
}

static void test_rmsprop(void) {
  ann_Tensor *p = param(1, (float[]){1}, (float[]){0.5f});
  ann_Tensor *sq = ann_zeros(1, (int64_t[]){1}), *buf = ann_zeros(1, (int64_t[]){1});
  ann_OptimOpts o = opts(0.01f);
  /* sq = 0.01 * 0.25 = 0.0025, step 0.01 * 0.5 / 0.05 = 0.1 */
  CHECK(ann_rmsprop_step(1, &p, &sq, NULL, &o) == 0);
  CHECK_NEAR(at(sq, 0), 0.0025, 1e-8);
  CHECK_NEAR(at(p, 0), 0.9, 1e-6);
  ann_release(p);

  /* momentum 0.9, g = 0.5 twice: buf 10, then sq = 0.004975 and
  ** buf = 9 + 0.5 / sqrt(0.004975) = 16.0888121; p 1 -> 0.9 -> 0.73911188 */
  p = param(1, (float[]){1}, (float[]){0.5f});
  zero(sq);
  o.momentum = 0.9f;
  CHECK(ann_rmsprop_step(1, &p, &sq, &buf, &o) == 0);
  CHECK_NEAR(at(buf, 0), 10, 1e-4);
  CHECK_NEAR(at(p, 0), 0.9, 1e-6);
  CHECK(ann_rmsprop_step(1, &p, &sq, &buf, &o) == 0);
  CHECK_NEAR(at(sq, 0), 0.004975, 2e-8);
  CHECK_NEAR(at(buf, 0), 16.0888121, 1e-4);
  CHECK_NEAR(at(p, 0), 0.73911188, 1e-6);
  CHECK_ERR(ERRED(ann_rmsprop_step(1, &p, &sq, NULL, &o)), "rmsprop: no momentum state list");
  ann_release(p); ann_release(sq); ann_release(buf);
}

/* params without grad are skipped; state of other shapes and strided
** params are errors */
static void test_lists(void) {
  ann_Tensor *ps[2], *ms[2], *vs[2], *t;
  ann_OptimOpts o = opts(0.1f);
  ps[0] = param(2, (float[]){1, 2}, NULL);
  ps[1] = param(1, (float[]){3}, (float[]){1});
  ms[0] = NULL;                       /* not looked at: no grad */
  ms[1] = ann_zeros(1, (int64_t[]){1});
  vs[0] = NULL; vs[1] = ann_zeros(1, (int64_t[]){1});
  CHECK(ann_sgd_step(2, ps, NULL, &o) == 0);
  CHECK(at(ps[0], 0) == 1 && at(ps[0], 1) == 2);
  CHECK_NEAR(at(ps[1], 0), 2.9, 1e-6);
  CHECK(ann_adam_step(2, ps, ms, vs, &o) == 0);
  CHECK_NEAR(at(ps[1], 0), 2.8, 1e-6);
  CHECK(ann_zero_grad(2, ps) == 0);
  CHECK(at(ps[1]->grad, 0) == 0 && ps[0]->grad == NULL);

  /* a transposed param cannot be updated as one run */
  t = ann_zeros(2, (int64_t[]){2, 3});
  ann_release(ps[0]);
  ps[0] = ann_transpose(t, 0, 1);
  ps[0]->grad = ann_zeros(2, (int64_t[]){3, 2});
  CHECK_ERR(ERRED(ann_sgd_step(2, ps, NULL, &o)), "sgd: param 1 ([3,2]) is not contiguous");
  ann_release(ps[0]);
  ps[0] = param(2, (float[]){1, 2}, (float[]){1, 1});
  CHECK_ERR(ERRED(ann_adam_step(2, ps, ms, vs, &o)), "adam: m of param 1 is missing");
  ms[0] = ann_zeros(1, (int64_t[]){3});
  CHECK_ERR(ERRED(ann_adam_step(2, ps, ms, vs, &o)), "adam: m of param 1 is [3] but the param is [2]");
  CHECK_ERR(ERRED(ann_zero_grad(1, NULL)), "zero_grad: no parameter list");
  ann_release(t); ann_release(ps[0]); ann_release(ps[1]);
  ann_release(ms[0]); ann_release(ms[1]); ann_release(vs[1]);
}

static void test_clip(void) {
  ann_Tensor *ps[3];
  double total = 0;
  ps[0] = param(2, (float[]){0, 0}, (float[]){3, 4});
  ps[1] = param(1, (float[]){0}, (float[]){12});
  ps[2] = param(1, (float[]){0}, NULL);
  /* joint norm sqrt(9 + 16 + 144) = 13; under max_norm nothing moves */
  CHECK(ann_clip_grad_norm(3, ps, 20, &total) == 0);
  CHECK_NEAR(total, 13, 1e-9);
  CHECK(at(ps[0]->grad, 0) == 3 && at(ps[1]->grad, 0) == 12);
  /* above: scaled by 6.5 / (13 + 1e-6), so halved */
  CHECK(ann_clip_grad_norm(3, ps, 6.5, &total) == 0);
  CHECK_NEAR(total, 13, 1e-9);
  CHECK_NEAR(at(ps[0]->grad, 0), 1.5, 1e-6);
  CHECK_NEAR(at(ps[0]->grad, 1), 2, 1e-6);
  CHECK_NEAR(at(ps[1]->grad, 0), 6, 1e-6);
  CHECK(ann_clip_grad_norm(3, ps, 6.5, &total) == 0);  /* now at max_norm */
  CHECK_NEAR(total, 6.5, 1e-5);
  CHECK_NEAR(at(ps[1]->grad, 0), 6, 1e-5);
  /* between max_norm and twice it: norm 5 (grads 3, 4), max 4, so scaled
  ** by 4 / 5 to 2.4, 3.2; then max 3.9, just under: by 3.9 / 4 */
  ann_data(ps[0]->grad)[0] = 3; ann_data(ps[0]->grad)[1] = 4;
  CHECK(ann_clip_grad_norm(1, ps, 4, &total) == 0);
  CHECK_NEAR(total, 5, 1e-9);
  CHECK_NEAR(at(ps[0]->grad, 0), 2.4, 1e-6);
  CHECK_NEAR(at(ps[0]->grad, 1), 3.2, 1e-6);
  CHECK(ann_clip_grad_norm(1, ps, 3.9, &total) == 0);
  CHECK_NEAR(total, 4, 1e-6);
  CHECK_NEAR(at(ps[0]->grad, 0), 2.4 * 3.9 / 4, 1e-6);
  CHECK_NEAR(at(ps[0]->grad, 1), 3.2 * 3.9 / 4, 1e-6);
  CHECK_ERR(ERRED(ann_clip_grad_norm(3, ps, -1, &total)), "clip_grad_norm: max_norm -1 < 0");
  CHECK(ann_clip_grad_norm(0, NULL, 1, &total) == 0 && total == 0);
  ann_release(ps[0]); ann_release(ps[1]); ann_release(ps[2]);
}

/* long params run in blocks with a padded tail: every element still gets
** its own update (sizes around the block length of 256) */
static void test_long(void) {
  static const int64_t sizes[] = {255, 256, 257, 600};
  int k;
  for (k = 0; k < 4; k++) {
    int64_t n = sizes[k], i;
    ann_Tensor *p = ann_zeros(1, &n), *m = ann_zeros(1, &n), *v = ann_zeros(1, &n);
    ann_OptimOpts o = opts(0.01f);
    int ok = 1;
    p->grad = ann_randn(1, &n);
    for (i = 0; i < n; i++) ann_data(p)[i] = (float)i;
    CHECK(ann_adam_step(1, &p, &m, &v, &o) == 0);
    for (i = 0; i < n; i++) {
      float g = ann_data(p->grad)[i];
      ok &= fabs(ann_data(p)[i] - (i - 0.01 * (g > 0 ? 1 : -1))) < 1e-4 * (1 + i);
    }
    CHECK(ok);
    for (i = 0; i < n; i++) ann_data(p)[i] = 1;
    CHECK(ann_sgd_step(1, &p, NULL, &o) == 0);
    for (i = 0, ok = 1; i < n; i++)
      ok &= fabs(ann_data(p)[i] - (1 - 0.01 * ann_data(p->grad)[i])) < 1e-6;
    CHECK(ok);
    ann_release(p); ann_release(m); ann_release(v);
  }
}

int main(void) {
  test_sgd();
  test_adam();
  test_rmsprop();
  test_lists();
  test_clip();
  test_long();
  CHECK(ann_live_bytes() == 0);
  return test_report();
}
