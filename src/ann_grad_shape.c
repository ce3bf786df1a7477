/*
** ann_grad_shape.c: recording wrappers and backward functions of the view
** ops, copies, cat/stack, index_select/gather and the matmul family.
*/
#include <string.h>

#include "ann_impl.h"

/* hands t the engine's gradient g as is (g is on the heap: t may keep it) */
static int pass(ann_Tensor *t, const ann_Tensor *g) {
  if (t == NULL || !t->requires_grad) return 0;
  return ann_ag_take(t, ann_retain((ann_Tensor *)g));
}

/* does an op whose result is out need a node?  Not when the raw op handed
** back an input itself (contiguous of a contiguous tensor). */
static int needs(ann_Tensor *out, int n, ann_Tensor *const *in) {
  int i;
  if (out == NULL || !ann_ag_needs(n, in)) return 0;
  for (i = 0; i < n; i++)
    if (in[i] == out) return 0;
  return 1;
}

static ann_Tensor *record(ann_Tensor *out, const char *name,
                          ann_BackwardFn bw, ann_Tensor *in) {
  if (!needs(out, 1, &in)) return out;
  return ann_ag_attach(out, name, bw, 1, &in) ? out : NULL;
}

/* ---- views ---------------------------------------------------------------- */

/* view, reshape, squeeze, unsqueeze: the gradient reshaped back */
static int bw_reshape(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0], *gc, *v;
  int64_t st[ANN_MAXDIM];
  (void)out;
  if (!a->requires_grad) return 0;
  if ((gc = ann_ag_contig(g)) == NULL) return -1;
  ann_contig_strides(a->ndim, a->shape, st);
  v = ann_restride(gc, gc->offset, a->ndim, a->shape, st);
  ann_release(gc);
  return ann_ag_take(a, v);
}

/* expand, clone, contiguous: the gradient as is (summed over expansion) */
static int bw_same(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  (void)out;
  return pass(nd->inputs[0], g);
}

ann_Tensor *ann_ag_view(ann_Tensor *t, int ndim, const int64_t *shape) {
  return record(ann_view(t, ndim, shape), "view", bw_reshape, t);
}

ann_Tensor *ann_ag_reshape(ann_Tensor *t, int ndim, const int64_t *shape) {
  return record(ann_reshape(t, ndim, shape), "reshape", bw_reshape, t);
}

ann_Tensor *ann_ag_squeeze(ann_Tensor *t, int d) {
  return record(ann_squeeze(t, d), "squeeze", bw_reshape, t);
}

ann_Tensor *ann_ag_unsqueeze(ann_Tensor *t, int d) {
  return record(ann_unsqueeze(t, d), "unsqueeze", bw_reshape, t);
}

ann_Tensor *ann_ag_expand(ann_Tensor *t, int ndim, const int64_t *shape) {
  return record(ann_expand(t, ndim, shape), "expand", bw_same, t);
}

ann_Tensor *ann_ag_clone(ann_Tensor *t) {
  return record(ann_clone(t), "clone", bw_same, t);
}

ann_Tensor *ann_ag_contiguous(ann_Tensor *t) {
  return record(ann_contiguous(t), "contiguous", bw_same, t);
}

/* transpose, permute: ip[0..ndim) holds perm (out dim i is input dim
** perm[i]); the gradient is viewed through the inverse */
static int bw_permute(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0];
  int64_t sh[ANN_MAXDIM], st[ANN_MAXDIM];
  int i;
  (void)out;
  if (!a->requires_grad) return 0;
  for (i = 0; i < g->ndim; i++) {
    sh[nd->ip[i]] = g->shape[i];
    st[nd->ip[i]] = g->stride[i];
  }
  return ann_ag_take(a, ann_restride(g, g->offset, g->ndim, sh, st));
}

ann_Tensor *ann_ag_transpose(ann_Tensor *t, int d1, int d2) {
  ann_Tensor *out = ann_transpose(t, d1, d2);
  ann_Node *nd;
  int i;
  if (!needs(out, 1, &t)) return out;
  if ((nd = ann_ag_attach(out, "transpose", bw_permute, 1, &t)) == NULL)
    return NULL;
  for (i = 0; i < t->ndim; i++) nd->ip[i] = i;
  nd->ip[d1] = d2;
  nd->ip[d2] = d1;
  return out;
}

ann_Tensor *ann_ag_permute(ann_Tensor *t, const int *perm) {
  ann_Tensor *out = ann_permute(t, perm);
  ann_Node *nd;
  int i;
  if (!needs(out, 1, &t)) return out;
  if ((nd = ann_ag_attach(out, "permute", bw_permute, 1, &t)) == NULL)
    return NULL;
  for (i = 0; i < t->ndim; i++) nd->ip[i] = perm[i];
  return out;
}

/* narrow (ip: d, start, len, 0) and select (ip: d, i, 1, 1): the gradient
** lands in a slice of zeros; a leaf's existing grad takes it directly */
static int bw_slice(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0], *z, part;
  int d = (int)nd->ip[0], i;
  (void)out;
  if (!a->requires_grad) return 0;
  if (a->node == NULL && a->grad && ann_same_shape(a->grad, a)) {
    z = ann_retain(a->grad);
  } else if ((z = ann_zeros(a->ndim, a->shape)) == NULL) {
    return -1;
  }
  part = *z;
  part.offset += nd->ip[1] * z->stride[d];
  part.shape[d] = nd->ip[2];
  if (nd->ip[3]) {                 /* select: drop dim d */
    for (i = d; i < part.ndim - 1; i++) {
      part.shape[i] = part.shape[i + 1];
      part.stride[i] = part.stride[i + 1];
    }
    part.ndim--;
  }
  ann_ag_addto(&part, g);
  if (z == a->grad) { ann_release(z); return 0; }
  return ann_ag_take(a, z);
}

static ann_Tensor *slice_rec(ann_Tensor *out, ann_Tensor *t, const char *name,
                             int d, int64_t start, int64_t len, int drop) {
  ann_Node *nd;
  if (!needs(out, 1, &t)) return out;
  if ((nd = ann_ag_attach(out, name, bw_slice, 1, &t)) == NULL) return NULL;
  nd->ip[0] = d; nd->ip[1] = start; nd->ip[2] = len; nd->ip[3] = drop;
  return out;
}

ann_Tensor *ann_ag_narrow(ann_Tensor *t, int d, int64_t start, int64_t len) {
  return slice_rec(ann_narrow(t, d, start, len), t, "narrow", d, start, len, 0);
}

ann_Tensor *ann_ag_select(ann_Tensor *t, int d, int64_t i) {
  return slice_rec(ann_select(t, d, i), t, "select", d, i, 1, 1);
}

/* ---- cat, stack ----------------------------------------------------------- */

/* ip: d, stack?; input i gets its slab of g (cat) or slice i (stack) */
static int bw_cat(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  int d = (int)nd->ip[0], stack = (int)nd->ip[1], i, e;
  int64_t pos = 0;
  (void)out;
  for (i = 0; i < nd->ninputs; i++) {
    ann_Tensor *t = nd->inputs[i];
    int64_t sh[ANN_MAXDIM], st[ANN_MAXDIM];
    int64_t len = stack ? 1 : t->shape[d];
    if (t->requires_grad) {
      int k = 0;
      for (e = 0; e < g->ndim; e++) {
        if (e == d && stack) continue;
        sh[k] = e == d ? len : g->shape[e];
        st[k++] = g->stride[e];
      }
      if (ann_ag_take(t, ann_restride(g, g->offset + pos * g->stride[d],
                                      k, sh, st)) != 0)
        return -1;
    }
    pos += len;
  }
  return 0;
}

static ann_Tensor *cat_rec(ann_Tensor *out, int n, ann_Tensor *const *ts,
                           int d, int stack) {
  ann_Node *nd;
  if (!needs(out, n, ts)) return out;
  nd = ann_ag_attach(out, stack ? "stack" : "cat", bw_cat, n, ts);
  if (nd == NULL) return NULL;
  nd->ip[0] = d;
  nd->ip[1] = stack;
  return out;
}

ann_Tensor *ann_ag_cat(int n, ann_Tensor *const *ts, int d) {
  return cat_rec(ann_cat(n, ts, d), n, ts, d, 0);
}

ann_Tensor *ann_ag_stack(int n, ann_Tensor *const *ts, int d) {
  return cat_rec(ann_stack(n, ts, d), n, ts, d, 1);
}

/* ---- index_select, gather --------------------------------------------------
** saved[0]: the index tensor, re-checked in backward since it may have
** been written to since the forward pass */
static int bad_index(const ann_Node *nd, float v, const ann_Tensor *t, int d) {
  char s[128];
  return ann_seterror("backward of %s: index %.9g out of range for dim %d "
                      "of %s (changed since forward?)", nd->name, v, d + 1,
                      ann_shapestr(t, s, sizeof s));
}

/* rows of g scatter-added back: repeated indices add up */
static int bw_index_select(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0], *idx = nd->saved[0], *z, src, dst;
  int d = (int)nd->ip[0], i;
  int64_t k;
  (void)out;
  if (!a->requires_grad) return 0;
  if ((z = ann_zeros(a->ndim, a->shape)) == NULL) return -1;
  for (k = 0; k < idx->shape[0]; k++) {
    float v = ann_data(idx)[k * idx->stride[0]];
    if (!(v >= 1 && v <= (float)a->shape[d])) {
      ann_release(z);
      return bad_index(nd, v, a, d);
    }
    src = *g; dst = *z;
    src.offset += k * g->stride[d];
    dst.offset += ((int64_t)v - 1) * z->stride[d];
    for (i = d; i < a->ndim - 1; i++) {
      src.shape[i] = src.shape[i + 1]; src.stride[i] = src.stride[i + 1];
      dst.shape[i] = dst.shape[i + 1]; dst.stride[i] = dst.stride[i + 1];
    }
    src.ndim--; dst.ndim--;
    ann_ag_addto(&dst, &src);
  }
  return ann_ag_take(a, z);
}

ann_Tensor *ann_ag_index_select(ann_Tensor *t, int d, ann_Tensor *idx) {
  ann_Tensor *out = ann_index_select(t, d, idx);
  ann_Node *nd;
  if (!needs(out, 1, &t)) return out;
  if ((nd = ann_ag_attach(out, "index_select", bw_index_select, 1, &t)) == NULL)
    return NULL;
  nd->ip[0] = d;
  nd->saved[0] = ann_retain(idx);
  return out;
}

/* g[p] is added at p with its dim d replaced by idx[p] */
static int bw_gather(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0], *idx = nd->saved[0], *z;
  int64_t zst[ANN_MAXDIM];
  const int64_t *strides[3];
  int d = (int)nd->ip[0];
  ann_Loop l;
  (void)out;
  if (!a->requires_grad) return 0;
  if ((z = ann_zeros(a->ndim, a->shape)) == NULL) return -1;
  memcpy(zst, z->stride, sizeof zst);
  zst[d] = 0;
  strides[0] = g->stride; strides[1] = idx->stride; strides[2] = zst;
  ann_loop_init(&l, 3, idx->ndim, idx->shape, strides);
  if (!l.empty) do {
    const float *gp = ann_data(g) + l.off[0], *ip = ann_data(idx) + l.off[1];
    float *zp = ann_data(z) + l.off[2];
    int64_t i;
    for (i = 0; i < l.len; i++) {
      float v = ip[i * l.step[1]];
      if (!(v >= 1 && v <= (float)a->shape[d])) {
        ann_release(z);
        return bad_index(nd, v, a, d);
      }
      zp[i * l.step[2] + ((int64_t)v - 1) * z->stride[d]] += gp[i * l.step[0]];
    }
  } while (ann_loop_next(&l));
  return ann_ag_take(a, z);
}

ann_Tensor *ann_ag_gather(ann_Tensor *t, int d, ann_Tensor *idx) {
  ann_Tensor *out = ann_gather(t, d, idx);
  ann_Node *nd;
  if (!needs(out, 1, &t)) return out;
  if ((nd = ann_ag_attach(out, "gather", bw_gather, 1, &t)) == NULL)
    return NULL;
  nd->ip[0] = d;
  nd->saved[0] = ann_retain(idx);
  return out;
}

/* ---- matmul family ---------------------------------------------------------
** Every case is a batch of products A_i [m,k] x B_i [k,n] = G_i [m,n]: each
** operand is seen as 3-d (batch of 1 for 1-d and 2-d; a vector is a row or
** a column).  ip[0..2]: a's 3-d shape, ip[3..5]: b's, ip[6], ip[7]: the
** 3-d dim a 1-d a, b runs along.  dA_i += G_i B_i^T, dB_i += A_i^T G_i,
** with gemm reading the transposes from strides, no copies. */

static void strides3(const ann_Tensor *t, int vdim, int64_t *st) {
  st[0] = st[1] = st[2] = 0;
  if (t->ndim == 3) memcpy(st, t->stride, 3 * sizeof *st);
  else if (t->ndim == 2) { st[1] = t->stride[0]; st[2] = t->stride[1]; }
  else if (t->ndim == 1) st[vdim] = t->stride[0];
}

/* the 2-d matrix i of t seen as 3-d (s3, st3); a size-1 batch repeats */
static void mat(ann_Tensor *m, const ann_Tensor *t, const int64_t *s3,
                const int64_t *st3, int64_t i) {
  *m = *t;
  m->offset = t->offset + (s3[0] == 1 ? 0 : i) * st3[0];
  m->ndim = 2;
  m->shape[0] = s3[1]; m->shape[1] = s3[2];
  m->stride[0] = st3[1]; m->stride[1] = st3[2];
}

/* d (fresh, a's shape) += sum over the batch of op(x_i) op(y_i) */
static int batch_grad(ann_Tensor *t, const int64_t *t3, int64_t nb,
                      const ann_Tensor *x, const int64_t *x3,
                      const int64_t *xs, int tx,
                      const ann_Tensor *y, const int64_t *y3,
                      const int64_t *ys, int ty) {
  int64_t ds[3], i;
  ann_Tensor *d = ann_zeros(t->ndim, t->shape), dm, xm, ym;
  if (d == NULL) return -1;
  ann_contig_strides(3, t3, ds);
  for (i = 0; i < nb && ann_numel(d) > 0; i++) {
    mat(&dm, d, t3, ds, i);
    mat(&xm, x, x3, xs, i);
    mat(&ym, y, y3, ys, i);
    if (ann_gemm(1.0f, &xm, tx, &ym, ty, 1.0f, &dm) != 0) {
      ann_release(d);
      return -1;
    }
  }
  return ann_ag_take(t, d);
}

static int bw_matmul(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor *a = nd->inputs[0], *b = nd->inputs[1], *gc;
  const int64_t *a3 = nd->ip, *b3 = nd->ip + 3;
  int64_t g3[3], as[3], bs[3], gs[3];
  int st = 0;
  (void)out;
  g3[0] = a3[0] > b3[0] ? a3[0] : b3[0];
  g3[1] = a3[1]; g3[2] = b3[2];
  if (ann_numel(g) != g3[0] * g3[1] * g3[2])
    return ann_seterror("backward of %s: gradient has %lld elements, "
                        "expected %lld", nd->name, (long long)ann_numel(g),
                        (long long)(g3[0] * g3[1] * g3[2]));
  if ((gc = ann_ag_contig(g)) == NULL) return -1;
  ann_contig_strides(3, g3, gs);
  strides3(a, (int)nd->ip[6], as);
  strides3(b, (int)nd->ip[7], bs);
  if (a->requires_grad)          /* dA = G B^T */
    st = batch_grad(a, a3, g3[0], gc, g3, gs, 0, b, b3, bs, 1);
  if (st == 0 && b->requires_grad)   /* dB = A^T G */
    st = batch_grad(b, b3, g3[0], a, a3, as, 1, gc, g3, gs, 0);
  ann_release(gc);
  return st;
}

/* outer: u is a column, v a row; otherwise a 1-d a is a row, b a column */
static ann_Tensor *matmul_rec(ann_Tensor *out, const char *name, ann_Tensor *a,
                              ann_Tensor *b, int outer) {
  ann_Tensor *in[2];
  ann_Node *nd;
  int i;
  in[0] = a; in[1] = b;
  if (!needs(out, 2, in)) return out;
  if ((nd = ann_ag_attach(out, name, bw_matmul, 2, in)) == NULL) return NULL;
  for (i = 0; i < 2; i++) {
    const ann_Tensor *t = in[i];
    int64_t *s3 = nd->ip + 3 * i;
    s3[0] = s3[1] = s3[2] = 1;
    if (t->ndim == 3) memcpy(s3, t->shape, 3 * sizeof *s3);
    else if (t->ndim == 2) { s3[1] = t->shape[0]; s3[2] = t->shape[1]; }
    else {                          /* the vector's dim in 3-d */
      int vd = outer ? (i == 0 ? 1 : 2) : (i == 0 ? 2 : 1);
      s3[vd] = t->shape[0];
      nd->ip[6 + i] = vd;
    }
  }
  return out;
}

ann_Tensor *ann_ag_mm(ann_Tensor *a, ann_Tensor *b) {
  return matmul_rec(ann_mm(a, b), "mm", a, b, 0);
}

ann_Tensor *ann_ag_matmul(ann_Tensor *a, ann_Tensor *b) {
  return matmul_rec(ann_matmul(a, b), "matmul", a, b, 0);
}

ann_Tensor *ann_ag_mv(ann_Tensor *a, ann_Tensor *v) {
  return matmul_rec(ann_mv(a, v), "mv", a, v, 0);
}

ann_Tensor *ann_ag_dot(ann_Tensor *a, ann_Tensor *b) {
  return matmul_rec(ann_dot(a, b), "dot", a, b, 0);
}

ann_Tensor *ann_ag_outer(ann_Tensor *u, ann_Tensor *v) {
  return matmul_rec(ann_outer(u, v), "outer", u, v, 1);
}
