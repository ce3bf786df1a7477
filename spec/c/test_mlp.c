/*
** test_mlp.c: the fused MLP path (ann_mlp.c): a forward worked by hand,
** gradients against central differences for each loss and activation, one
** SGD epoch worked by hand, the checks on arguments, and no leaks.
*/
#include <math.h>
#include <string.h>

#include "test.h"
#include "ann_impl.h"

static ann_Tensor *mat(int64_t r, int64_t c, const float *v) {
  int64_t shape[2] = {r, c};
  return ann_from_data(v, 2, shape);
}

static ann_Tensor *vec(int64_t n, const float *v) {
  return ann_from_data(v, 1, &n);
}

static void hand_forward(void) {
  /* 2 -> 2 (ReLU) -> 1: z1 = W1 x + b1, y = W2 relu(z1) + b2 */
  float w1[] = {1, 2, -1, 0.5f}, b1[] = {0.5f, -0.25f};
  float w2[] = {2, -3}, b2[] = {0.125f};
  float xv[] = {0.25f, -0.5f, 1, 1};
  ann_Tensor *w[2] = {mat(2, 2, w1), mat(1, 2, w2)};
  ann_Tensor *b[2] = {vec(2, b1), vec(1, b2)};
  int act[2] = {ANN_ACT_RELU, ANN_ACT_IDENTITY};
  ann_Mlp *m = ann_mlp_new(2, w, b, act, NULL);
  ann_Tensor *x = mat(2, 2, xv), *y = ann_zeros(2, (int64_t[]){2, 1});
  float v;
  CHECK(m != NULL);
  CHECK(ann_mlp_forward(m, x, y) == 0);
  /* row 1: z1 = (0.25 - 1 + 0.5, -0.25 - 0.25 - 0.25) = (-0.25, -0.75),
  ** both cut by ReLU: y = 0.125; row 2: z1 = (3.5, -0.75): y = 7.125 */
  ann_get(y, (int64_t[]){0, 0}, &v); CHECK_NEAR(v, 0.125, 1e-6);
  ann_get(y, (int64_t[]){1, 0}, &v); CHECK_NEAR(v, 7.125, 1e-6);
  /* one sample as a 1-d input */
  {
    ann_Tensor *x1 = vec(2, xv + 2), *y1 = ann_zeros(1, (int64_t[]){1});
    CHECK(ann_mlp_forward(m, x1, y1) == 0);
    ann_get(y1, (int64_t[]){0}, &v); CHECK_NEAR(v, 7.125, 1e-6);
    ann_release(x1); ann_release(y1);
  }
  ann_mlp_free(m);
  ann_release(x); ann_release(y);
  ann_release(w[0]); ann_release(w[1]); ann_release(b[0]); ann_release(b[1]);
}

/* central differences of the fused loss against ann_mlp_grad's grads */
static void grad_check(ann_MlpLoss loss, int act) {
  int64_t s34[2] = {4, 3}, s24[2] = {2, 4}, sx[2] = {5, 3}, i, l;
  ann_Tensor *w[2], *b[2], *x, *y, *g0[4];
  int acts[2] = {act, ANN_ACT_IDENTITY};
  float slope[2] = {0.2f, 0};
  ann_Mlp *m;
  double base, worst = 0;
  ann_manual_seed(21);
  w[0] = ann_randn(2, s34); w[1] = ann_randn(2, s24);
  b[0] = ann_randn(1, (int64_t[]){4}); b[1] = ann_randn(1, (int64_t[]){2});
  x = ann_randn(2, sx);
  if (loss == ANN_MLP_CE) y = vec(5, (float[]){1, 2, 2, 1, 2});
  else if (loss == ANN_MLP_BCEL) y = mat(5, 2, (float[]){1, 0, 0, 1, 1, 1,
                                                          0, 0, 1, 0});
  else y = ann_randn(2, (int64_t[]){5, 2});
  m = ann_mlp_new(2, w, b, acts, slope);
  CHECK(m != NULL);
  CHECK(ann_mlp_grad(m, x, y, loss, &base) == 0);
  for (l = 0; l < 4; l++) {  /* the grads at the point, kept apart */
    ann_Tensor *p = l < 2 ? w[l] : b[l - 2];
    g0[l] = ann_clone(p->grad);
  }
  for (l = 0; l < 4; l++) {
    ann_Tensor *p = l < 2 ? w[l] : b[l - 2];
    for (i = 0; i < ann_numel(p); i++) {
      float *pv = ann_data(p) + i, keep = *pv, g = ann_data(g0[l])[i];
      double up, down, fd, h = 1e-2;
      *pv = keep + (float)h;
      ann_mlp_grad(m, x, y, loss, &up);
      *pv = keep - (float)h;
      ann_mlp_grad(m, x, y, loss, &down);
      *pv = keep;
      fd = (up - down) / (2 * h);
      if (fabs(fd - g) > worst) worst = fabs(fd - g);
    }
  }
  for (l = 0; l < 4; l++) ann_release(g0[l]);
  CHECK_NEAR(worst, 0, 2e-3);
  ann_mlp_free(m);
  for (l = 0; l < 2; l++) { ann_release(w[l]); ann_release(b[l]); }
  ann_release(x); ann_release(y);
}

static void hand_epoch(void) {
  /* y = w x + b with w = 1, b = 0 on x = (1, 2), targets (3, 5), one batch:
  ** errors (-2, -3), MSE 6.5; dL/dy = 2 e / 2 = (-2, -3); dw = -2 - 6 = -8,
  ** db = -5; with lr 0.1: w = 1.8, b = 0.5.  Second epoch, batch 1 in the
  ** order (2, 1): on x = 2: y = 4.1, e = -0.9, loss 0.81, dw = -3.6,
  ** db = -1.8: w = 2.16, b = 0.68; on x = 1: y = 2.84, e = -0.16, loss
  ** 0.0256, dw = db = -0.32: w = 2.192, b = 0.712 */
  ann_Tensor *w = mat(1, 1, (float[]){1}), *b = vec(1, (float[]){0});
  ann_Tensor *x = mat(2, 1, (float[]){1, 2}), *y = mat(2, 1, (float[]){3, 5});
  ann_Tensor *order = vec(2, (float[]){2, 1});
  int act = ANN_ACT_IDENTITY;
  ann_Mlp *m = ann_mlp_new(1, &w, &b, &act, NULL);
  ann_MlpTrain t;
  double loss;
  memset(&t, 0, sizeof t);
  t.loss = ANN_MLP_MSE; t.opt = ANN_MLP_SGD; t.o.lr = 0.1f; t.o.step = 1;
  CHECK(ann_mlp_epoch(m, x, y, NULL, 8, &t, &loss) == 0);
  CHECK_NEAR(loss, 6.5, 1e-6);
  CHECK_NEAR(ann_data(w)[0], 1.8, 1e-6);
  CHECK_NEAR(ann_data(b)[0], 0.5, 1e-6);
  CHECK_NEAR(ann_data(w->grad)[0], -8, 1e-6);
  CHECK(t.o.step == 2);
  CHECK(ann_mlp_epoch(m, x, y, order, 1, &t, &loss) == 0);
  CHECK_NEAR(loss, (0.81 + 0.0256) / 2, 1e-5);
  CHECK_NEAR(ann_data(w)[0], 2.192, 1e-5);
  CHECK_NEAR(ann_data(b)[0], 0.712, 1e-5);
  CHECK(t.o.step == 4);
  ann_mlp_free(m);
  ann_release(w); ann_release(b); ann_release(x); ann_release(y);
  ann_release(order);
}

/* the same epochs of a 256-300-40-10 network (big enough to be shared by
** the threads: src/ann_mlp.c, threads_for) on one thread and on two, from
** the same start: each thread computes and steps its own rows, so the
** params must agree to rounding; and a NaN input stops both at the same
** step, before its update.  (m2 is not used by SGD.) */
static void threaded_epoch(void) {
  static const int64_t sz[3][2] = {{300, 256}, {40, 300}, {10, 40}};
  int act[3] = {ANN_ACT_RELU, ANN_ACT_TANH, ANN_ACT_IDENTITY};
  ann_Tensor *w[2][3], *b[2][3], *m1[2][6], *m2[2][6], *x, *y, *ord;
  int64_t n = 150, xs[2] = {150, 256}, ys[1] = {150}, i;
  double loss[2];
  float keep;
  int k, l, saved = ann_get_num_threads();
  ann_manual_seed(21);
  x = ann_randn(2, xs);
  y = ann_empty(1, ys);
  for (i = 0; i < n; i++) ann_data(y)[i] = (float)(i * 3 % 10 + 1);
  ord = ann_randperm(n, NULL);
  for (k = 0; k < 2; k++) {
    ann_Mlp *m;
    ann_MlpTrain t;
    ann_set_num_threads(k + 1);
    ann_manual_seed(22);
    for (l = 0; l < 3; l++) {
      w[k][l] = ann_randn(2, sz[l]);
      b[k][l] = ann_randn(1, sz[l]);
      for (i = 0; i < sz[l][0] * sz[l][1]; i++) ann_data(w[k][l])[i] *= 0.1f;
      m1[k][2 * l] = ann_zeros(2, sz[l]); m1[k][2 * l + 1] = ann_zeros(1, sz[l]);
      m2[k][2 * l] = ann_zeros(2, sz[l]); m2[k][2 * l + 1] = ann_zeros(1, sz[l]);
    }
    m = ann_mlp_new(3, w[k], b[k], act, NULL);
    memset(&t, 0, sizeof t);
    t.loss = ANN_MLP_CE; t.opt = ANN_MLP_SGD; t.o.step = 1;
    t.o.lr = 0.05f; t.o.momentum = 0.9f;
    t.s1 = m1[k];
    CHECK(ann_mlp_epoch(m, x, y, ord, 64, &t, &loss[k]) == 0);
    CHECK(ann_mlp_epoch(m, x, y, NULL, 64, &t, &loss[k]) == 0);
    CHECK(t.o.step == 7);                 /* 3 batches an epoch */
    keep = ann_data(x)[100 * 256];
    ann_data(x)[100 * 256] = NAN;         /* row 101: the second batch */
    CHECK(ann_mlp_epoch(m, x, y, NULL, 64, &t, &loss[k]) == 0);
    CHECK(t.bad_step == 2 && t.o.step == 8);
    ann_data(x)[100 * 256] = keep;
    ann_mlp_free(m);
  }
  ann_set_num_threads(saved);
  CHECK(isnan(loss[0]) && isnan(loss[1]));
  for (l = 0; l < 3; l++) {
    double dw = 0, db = 0;
    for (i = 0; i < sz[l][0] * sz[l][1]; i++)
      dw = fmax(dw, fabs(ann_data(w[0][l])[i] - ann_data(w[1][l])[i]));
    for (i = 0; i < sz[l][0]; i++)
      db = fmax(db, fabs(ann_data(b[0][l])[i] - ann_data(b[1][l])[i]));
    /* SGD moves the params by the grads, which agree to rounding */
    CHECK(dw <= 1e-5 && db <= 1e-5);
  }
  for (k = 0; k < 2; k++)
    for (l = 0; l < 3; l++) {
      ann_release(w[k][l]); ann_release(b[k][l]);
      ann_release(m1[k][2 * l]); ann_release(m1[k][2 * l + 1]);
      ann_release(m2[k][2 * l]); ann_release(m2[k][2 * l + 1]);
    }
  ann_release(x); ann_release(y); ann_release(ord);
}

static void misuse(void) {
  ann_Tensor *w1 = ann_zeros(2, (int64_t[]){4, 3});
  ann_Tensor *w2 = ann_zeros(2, (int64_t[]){2, 5});
  ann_Tensor *bad = ann_zeros(1, (int64_t[]){3});
  ann_Tensor *w[2] = {w1, w2}, *b[2] = {bad, NULL};
  int act[2] = {ANN_ACT_TANH, ANN_ACT_IDENTITY}, leaky = ANN_ACT_LEAKY;
  float neg = -1;
  ann_Mlp *m;
  ann_Tensor *x, *y;
  ann_MlpTrain t;
  double loss;
  CHECK_ERR(ann_mlp_new(2, w, NULL, act, NULL) != NULL,
            "layer 2 takes 5 inputs ([2,5]) but layer 1 gives 4");
  CHECK_ERR(ann_mlp_new(1, w, b, act, NULL) != NULL,
            "bias of layer 1 is [3], expected dense [4]");
  CHECK_ERR(ann_mlp_new(1, w, NULL, &leaky, &neg) != NULL, "slope -1");
  CHECK_ERR(ann_mlp_new(0, w, NULL, act, NULL) != NULL, "0 layers");
  b[0] = NULL;
  m = ann_mlp_new(1, w, b, act, NULL);
  CHECK(m != NULL);
  x = ann_zeros(2, (int64_t[]){2, 5});
  y = ann_zeros(2, (int64_t[]){2, 4});
  CHECK(!ann_mlp_fits(m, x));
  CHECK_ERR(ann_mlp_forward(m, x, y) == 0, "input [2,5] does not fit");
  ann_release(x);
  x = ann_zeros(2, (int64_t[]){2, 3});
  CHECK(ann_mlp_fits(m, x));
  CHECK_ERR(ann_mlp_grad(m, x, bad, ANN_MLP_MSE, &loss) == 0,
            "target [3] does not fit 2 rows of 4 outputs");
  memset(&t, 0, sizeof t);
  t.loss = ANN_MLP_CE; t.opt = ANN_MLP_ADAM; t.o.step = 1;
  {
    ann_Tensor *cls = vec(2, (float[]){1, 5});
    CHECK_ERR(ann_mlp_epoch(m, x, cls, NULL, 1, &t, &loss) == 0,
              "target 5 of row 2 is not a class in 1..4");
    ann_data(cls)[1] = 4;
    CHECK_ERR(ann_mlp_epoch(m, x, cls, NULL, 1, &t, &loss) == 0,
              "optimiser state missing");
    t.opt = ANN_MLP_SGD;
    CHECK_ERR(ann_mlp_epoch(m, x, cls, NULL, 0, &t, &loss) == 0,
              "batch size 0");
    {
      ann_Tensor *ord = vec(2, (float[]){1, 3});
      CHECK_ERR(ann_mlp_epoch(m, x, cls, ord, 1, &t, &loss) == 0,
                "order entry 2 is 3");
      ann_release(ord);
    }
    CHECK(ann_mlp_epoch(m, x, cls, NULL, 1, &t, &loss) == 0);
    CHECK_NEAR(loss, log(4.0), 1e-6);   /* zero weights: uniform softmax */
    ann_release(cls);
  }
  ann_mlp_free(m);
  ann_release(w1); ann_release(w2); ann_release(bad);
  ann_release(x); ann_release(y);
}

int main(void) {
  int64_t live0 = ann_live_bytes();
  hand_forward();
  grad_check(ANN_MLP_MSE, ANN_ACT_TANH);
  grad_check(ANN_MLP_CE, ANN_ACT_SIGMOID);
  grad_check(ANN_MLP_BCEL, ANN_ACT_LEAKY);
  grad_check(ANN_MLP_MSE, ANN_ACT_IDENTITY);
  hand_epoch();
  threaded_epoch();
  misuse();
  CHECK(ann_live_bytes() == live0);       /* nothing leaked */
  return test_report();
}
