/*
** test_layer.c: ann_linear against a hand example, its gradients against
** central finite differences, strided operands, misuse.
*/
#include <math.h>
#include <string.h>

#include "test.h"
#include "ann_impl.h"   /* ann_blas_copies */

static ann_Tensor *mat(int64_t r, int64_t c, const float *v) {
  int64_t s[2] = {r, c};
  return ann_from_data(v, 2, s);
}

static ann_Tensor *vec(int64_t n, const float *v) {
  return ann_from_data(v, 1, &n);
}

static float at(const ann_Tensor *t, int i) { return ann_data(t)[i]; }

static int equals(const ann_Tensor *t, int n, const float *want) {
  int i, ok = t != NULL && ann_is_contiguous(t) && ann_numel(t) == n;
  for (i = 0; ok && i < n; i++) ok = fabsf(at(t, i) - want[i]) <= 1e-5f;
  return ok;
}

/* x = [[1,2,3],[4,5,6]], w = [[1,0,-1],[.5,.5,.5]], b = [10,20]:
** x w^T = [[-2,3],[-2,7.5]] */
static void test_forward(void) {
  ann_Tensor *x = mat(2, 3, (float[]){1, 2, 3, 4, 5, 6});
  ann_Tensor *w = mat(2, 3, (float[]){1, 0, -1, 0.5f, 0.5f, 0.5f});
  ann_Tensor *b = vec(2, (float[]){10, 20}), *y, *x1, *wt, *w32;
  y = ann_linear(x, w, b);
  CHECK(y && y->ndim == 2 && y->shape[0] == 2 && y->shape[1] == 2);
  CHECK(equals(y, 4, (float[]){8, 23, 8, 27.5f}));
  ann_release(y);
  y = ann_linear(x, w, NULL);
  CHECK(equals(y, 4, (float[]){-2, 3, -2, 7.5f}));
  ann_release(y);
  x1 = vec(3, (float[]){1, 2, 3});              /* one sample, 1-d */
  y = ann_linear(x1, w, b);
  CHECK(y && y->ndim == 1 && equals(y, 2, (float[]){8, 23}));
  ann_release(y);
  /* w given as a transposed view of [3,2] storage: same numbers */
  w32 = mat(3, 2, (float[]){1, 0.5f, 0, 0.5f, -1, 0.5f});
  wt = ann_transpose(w32, 0, 1);
  y = ann_linear(x, wt, b);
  CHECK(equals(y, 4, (float[]){8, 23, 8, 27.5f}));
  ann_release(y); ann_release(wt); ann_release(w32);
  ann_release(x1); ann_release(x); ann_release(w); ann_release(b);
}

static void test_errors(void) {
  ann_Tensor *x = ann_zeros(2, (int64_t[]){64, 100});
  ann_Tensor *w = ann_zeros(2, (int64_t[]){10, 784});
  ann_Tensor *w2 = ann_zeros(2, (int64_t[]){10, 100});
  ann_Tensor *b = ann_zeros(1, (int64_t[]){9}), *x3 = ann_zeros(3, (int64_t[]){2, 2, 100});
  CHECK_ERR(ann_linear(x, w, NULL),
            "linear: input [64,100] does not match weight [10,784] (100 ~= 784)");
  CHECK_ERR(ann_linear(x, w2, b), "linear: bias [9] does not match weight [10,100]");
  CHECK_ERR(ann_linear(x3, w2, NULL), "linear: input [2,2,100] must be");
  CHECK_ERR(ann_linear(x, b, NULL), "linear: weight [9] must be 2-d");
  CHECK_ERR(ann_linear(NULL, w, NULL), "linear: input is NULL");
  ann_release(x); ann_release(w); ann_release(w2); ann_release(b); ann_release(x3);
}

/* sum(gw * linear(x, w, b)) against its central differences in each of
** x, w, b; gw a fixed weighting, so every output element counts */
static double grad_error(ann_Tensor *x, ann_Tensor *w, ann_Tensor *b) {
  ann_Tensor *in[3] = {x, w, b}, *y = ann_linear(x, w, b), *gw;
  double err = 0;
  int64_t i, j;
  int k, prev;
  if (y == NULL) return INFINITY;
  gw = ann_empty_like(y);
  for (i = 0; i < ann_numel(gw); i++) ann_data(gw)[i] = 0.25f * (float)(i % 7) - 0.6f;
  for (k = 0; k < 3; k++)
    if (in[k]) { ann_release(in[k]->grad); in[k]->grad = NULL; }
  CHECK(ann_backward(y, gw) == 0);
  ann_release(y);
  prev = ann_set_grad_enabled(0);
  for (k = 0; k < 3; k++) {
    ann_Tensor *t = in[k];
    if (t == NULL || !t->requires_grad) continue;
    if (t->grad == NULL) { err = INFINITY; break; }
    for (j = 0; j < ann_numel(t); j++) {
      float *p = ann_data(t) + j, x0 = *p, h = 1e-2f, xp = x0 + h, xm = x0 - h;
      double s[2] = {0, 0}, fd, e;
      int side;
      for (side = 0; side < 2; side++) {
        *p = side ? xm : xp;
        y = ann_linear(x, w, b);
        for (i = 0; y && i < ann_numel(y); i++) s[side] += (double)at(y, i) * at(gw, i);
        ann_release(y);
      }
      *p = x0;
      fd = (s[0] - s[1]) / ((double)xp - xm);
      e = fabs(fd - at(t->grad, j)) / fmax(1.0, fabs(fd));
      if (!(e <= err)) err = e;
    }
  }
  ann_set_grad_enabled(prev);
  ann_release(gw);
  return err;
}

static ann_Tensor *randn(int ndim, const int64_t *shape) {
  return ann_randn(ndim, shape);
}

static void test_gradients(void) {
  ann_Tensor *x = randn(2, (int64_t[]){4, 5}), *w = randn(2, (int64_t[]){3, 5});
  ann_Tensor *b = randn(1, (int64_t[]){3}), *x1 = randn(1, (int64_t[]){5}), *y;
  ann_Tensor *g, *x1g;
  int64_t copies;
  ann_set_requires_grad(x, 1);
  ann_set_requires_grad(w, 1);
  ann_set_requires_grad(b, 1);
  CHECK_NEAR(grad_error(x, w, b), 0, 2e-3);
  CHECK_NEAR(grad_error(x, w, NULL), 0, 2e-3);
  ann_set_requires_grad(x1, 1);
  CHECK_NEAR(grad_error(x1, w, b), 0, 2e-3);
  CHECK(x1->grad && x1->grad->ndim == 1 && x1->grad->shape[0] == 5);
  /* only w wants a gradient: x and b get none */
  ann_set_requires_grad(x, 0);
  ann_set_requires_grad(b, 0);
  CHECK_NEAR(grad_error(x, w, b), 0, 2e-3);
  CHECK(x->grad == NULL && b->grad == NULL);

  /* db is the column sum of the output gradient; with gout = ones, and
  ** dx rows are the column sums of w.  Forward and backward hand w^T,
  ** g^T to BLAS as they are: no operand copied */
  ann_set_requires_grad(b, 1);
  ann_set_requires_grad(x, 1);
  ann_release(w->grad); w->grad = NULL;
  copies = ann_blas_copies();
  y = ann_linear(x, w, b);
  g = ann_full(2, (int64_t[]){4, 3}, 1.0f);
  CHECK(ann_backward(y, g) == 0);
  CHECK(ann_blas_copies() == copies);
  CHECK(b->grad && at(b->grad, 0) == 4 && at(b->grad, 2) == 4);
  if (x->grad) {
    float c0 = at(w, 0) + at(w, 5) + at(w, 10);
    CHECK_NEAR(at(x->grad, 0), c0, 1e-5);
    CHECK_NEAR(at(x->grad, 15), c0, 1e-5);
  }
  ann_release(y); ann_release(g);

  /* a transposed input and an expanded output gradient (as sum's
  ** backward hands down) */
  x1g = randn(2, (int64_t[]){5, 4});
  {
    ann_Tensor *xt, *one = ann_scalar(2.0f), *ge;
    ann_set_requires_grad(x1g, 1);
    xt = ann_ag_transpose(x1g, 0, 1);
    ann_release(w->grad); w->grad = NULL;
    y = ann_linear(xt, w, b);
    ge = ann_expand(one, 2, (int64_t[]){4, 3});
    CHECK(ge && ann_backward(y, ge) == 0);
    CHECK(x1g->grad && x1g->grad->shape[0] == 5 && x1g->grad->shape[1] == 4);
    if (x1g->grad && w->grad) {      /* dx^T[i][j] = 2 sum_k w[k][i]; dw[k][i] = 2 sum_n x[n][i] */
      float c = 2 * (at(w, 1) + at(w, 6) + at(w, 11));
      float r = 2 * (at(x1g, 4) + at(x1g, 5) + at(x1g, 6) + at(x1g, 7));
      CHECK_NEAR(at(x1g->grad, 4), c, 1e-5);
      CHECK_NEAR(at(x1g->grad, 7), c, 1e-5);
      CHECK_NEAR(at(w->grad, 1), r, 1e-5);
    }
    ann_release(y); ann_release(ge); ann_release(one); ann_release(xt);
  }
  ann_release(x1g);
  ann_release(x); ann_release(w); ann_release(b); ann_release(x1);
}

int main(void) {
  ann_manual_seed(7);
  test_forward();
  test_errors();
  test_gradients();
  CHECK(ann_live_bytes() == 0);
  return test_report();
}
