/*
** ann_perceptron.c: Rosenblatt's perceptron learning rule.
*/
#include "ann_impl.h"

/*
** Trains w [n] and b [1] on x [N,n], y [N] (labels 0/1; -1 counts as 0)
** sample by sample: yhat = [w.x + b >= 0], then w += lr (y - yhat) x and
** b += lr (y - yhat).  Returns the 1-based epoch of the first pass with no
** mistakes, 0 if none within max_epochs, -1 on error.
*/
int ann_perceptron_fit(ann_Tensor *w, ann_Tensor *b, const ann_Tensor *x,
                       const ann_Tensor *y, int max_epochs, float lr) {
  char s1[64], s2[64], s3[64];
  int64_t N, n, i, j;
  int epoch;
  float *wd, *bd;
  const float *xd, *yd;
  if (x->ndim != 2 || w->ndim != 1 || y->ndim != 1 || ann_numel(b) != 1 ||
      x->shape[1] != w->shape[0] || x->shape[0] != y->shape[0])
    return ann_seterror("perceptron: x %s, y %s and weight %s do not fit "
                        "(want [N,n], [N], [n])", ann_shapestr(x, s1, 64),
                        ann_shapestr(y, s2, 64), ann_shapestr(w, s3, 64));
  if (!ann_is_contiguous(x) || !ann_is_contiguous(y) ||
      !ann_is_contiguous(w) || !ann_is_contiguous(b))
    return ann_seterror("perceptron: tensors must be contiguous");
  if (max_epochs < 1)
    return ann_seterror("perceptron: epochs must be >= 1, got %d", max_epochs);
  N = x->shape[0]; n = x->shape[1];
  wd = ann_data(w); bd = ann_data(b); xd = ann_data(x); yd = ann_data(y);
  for (epoch = 1; epoch <= max_epochs; epoch++) {
    int64_t mistakes = 0;
    for (i = 0; i < N; i++) {
      const float *xi = xd + i * n;
      double s = bd[0];
      float err;
      for (j = 0; j < n; j++) s += (double)wd[j] * xi[j];
      err = (yd[i] > 0 ? 1.0f : 0.0f) - (s >= 0 ? 1.0f : 0.0f);
      if (err != 0) {
        mistakes++;
        for (j = 0; j < n; j++) wd[j] += lr * err * xi[j];
        bd[0] += lr * err;
      }
    }
    if (mistakes == 0) return epoch;
  }
  return 0;
}
