/*
** ann_layer.c: the linear layer y = x w^T + b, forward and backward each
** a few gemm calls on views of the operands, with no copies.
*/
#include <string.h>

#include "ann_impl.h"

/* a [1,n] view of a 1-d tensor, or a plain view of a 2-d one */
static ann_Tensor *as_matrix(const ann_Tensor *t) {
  ann_Tensor *v = ann_new_view(t);
  if (v == NULL || t->ndim == 2) return v;
  v->ndim = 2;
  v->shape[0] = 1; v->shape[1] = t->shape[0];
  v->stride[1] = t->stride[0];
  v->stride[0] = t->shape[0] * t->stride[0];
  return v;
}

/* y[i,:] = b for every row, so gemm can add x w^T on top (beta = 1) */
static void fill_rows(ann_Tensor *y, const ann_Tensor *b) {
  int64_t n = y->shape[0], m = y->shape[1], i, j, bs = b->stride[0];
  const float *bp = ann_data(b);
  float *yp = ann_data(y);
  if (n == 0) return;
  for (j = 0; j < m; j++) yp[j] = bp[j * bs];
  for (i = 1; i < n; i++) memcpy(yp + i * m, yp, (size_t)m * sizeof(float));
}

/* db[j] = sum over rows of g[i,j], g any 2-d view; dense rows are added
** with the SIMD kernel */
static void sum_rows(const ann_Tensor *g, float *db) {
  int64_t n = g->shape[0], m = g->shape[1], i, j;
  int64_t s0 = g->stride[0], s1 = g->stride[1];
  const float *gp = ann_data(g);
  ann_KBin add = ann_kernels()->vv[ANN_ADD];
  memset(db, 0, (size_t)m * sizeof(float));
  for (i = 0; i < n; i++) {
    if (s1 == 1) add(m, db, gp + i * s0, db);
    else for (j = 0; j < m; j++) db[j] += gp[i * s0 + j * s1];
  }
}

static int check_linear(const ann_Tensor *x, const ann_Tensor *w,
                        const ann_Tensor *b) {
  char sx[128], sw[128], sb[128];
#define SX ann_shapestr(x, sx, sizeof sx)
#define SW ann_shapestr(w, sw, sizeof sw)
  if (x == NULL || w == NULL)
    return ann_seterror("linear: %s is NULL", x ? "weight" : "input");
  if (w->ndim != 2)
    return ann_seterror("linear: weight %s must be 2-d [out,in]", SW);
  if (x->ndim != 1 && x->ndim != 2)
    return ann_seterror("linear: input %s must be 1-d [in] or 2-d [N,in]",
                        SX);
  if (x->shape[x->ndim - 1] != w->shape[1])
    return ann_seterror("linear: input %s does not match weight %s "
                        "(%lld ~= %lld)", SX, SW,
                        (long long)x->shape[x->ndim - 1],
                        (long long)w->shape[1]);
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
    return ann_seterror("linear: bias %s does not match weight %s "
                        "(expected [%lld])", ann_shapestr(b, sb, sizeof sb),
                        SW, (long long)w->shape[0]);
  return 0;
#undef SX
#undef SW
}

/* The backward: dx = g w, dw = g^T x, db = column sums of g, each only
** if wanted.  The gemms read g, w and x through their strides (w^T, g^T
** are views), and each result is handed to the engine without a copy. */

static int grad_input(const ann_Tensor *g, ann_Tensor *x, const ann_Tensor *w) {
  ann_Tensor *d = ann_empty(x->ndim, x->shape), *dm;
  int st;
  if (d == NULL) return -1;
  if ((dm = as_matrix(d)) == NULL) { ann_release(d); return -1; }
  st = ann_gemm(1.0f, g, 0, w, 0, 0.0f, dm);        /* [N,out] [out,in] */
  ann_release(dm);
  if (st != 0) { ann_release(d); return -1; }
  return ann_ag_take(x, d);
}

static int grad_weight(const ann_Tensor *g, const ann_Tensor *x, ann_Tensor *w) {
  ann_Tensor *d = ann_empty(2, w->shape), *xm;
  int st;
  if (d == NULL) return -1;
  if ((xm = as_matrix(x)) == NULL) { ann_release(d); return -1; }
  st = ann_gemm(1.0f, g, 1, xm, 0, 0.0f, d);        /* [out,N] [N,in] */
  ann_release(xm);
  if (st != 0) { ann_release(d); return -1; }
  return ann_ag_take(w, d);
}

static int grad_bias(const ann_Tensor *g, ann_Tensor *b) {
  ann_Tensor *d = ann_empty(1, b->shape);
  if (d == NULL) return -1;
  sum_rows(g, ann_data(d));
  return ann_ag_take(b, d);
}

/* node inputs: x, w [, b] */
static int linear_backward(ann_Node *nd, ann_Tensor *out,
                           const ann_Tensor *gout) {
  ann_Tensor *x = nd->inputs[0], *w = nd->inputs[1];
  ann_Tensor *b = nd->ninputs > 2 ? nd->inputs[2] : NULL;
  ann_Tensor *g = as_matrix(gout);
  int st = g == NULL ? -1 : 0;
  (void)out;
  if (st == 0 && x->requires_grad) st = grad_input(g, x, w);
  if (st == 0 && w->requires_grad) st = grad_weight(g, x, w);
  if (st == 0 && b && b->requires_grad) st = grad_bias(g, b);
  ann_release(g);
  return st;
}

ann_Tensor *ann_linear(ann_Tensor *x, ann_Tensor *w, ann_Tensor *b) {
  ann_Tensor *in[3], *y, *xm = NULL, *ym = NULL;
  int64_t shape[2];
  int nin = b ? 3 : 2;
  if (check_linear(x, w, b) != 0) return NULL;
  shape[0] = x->ndim == 2 ? x->shape[0] : w->shape[0];
  shape[1] = w->shape[0];
  if ((y = ann_empty(x->ndim, shape)) == NULL) return NULL;
  if ((xm = as_matrix(x)) == NULL || (ym = as_matrix(y)) == NULL) goto fail;
  if (b) fill_rows(ym, b);
  if (ann_gemm(1.0f, xm, 0, w, 1, b ? 1.0f : 0.0f, ym) != 0) goto fail;
  ann_release(xm); ann_release(ym);
  in[0] = x; in[1] = w; in[2] = b;
  if (ann_ag_needs(nin, in)
      && ann_ag_attach(y, "linear", linear_backward, nin, in) == NULL)
    return NULL;
  return y;
fail:
  ann_release(xm); ann_release(ym); ann_release(y);
  return NULL;
}
