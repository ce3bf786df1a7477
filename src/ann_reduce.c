/*
** ann_reduce.c: reductions (sum, mean, var, std, max, min, argmax, argmin,
** norm) and allclose.
**
** A reduction along d walks the input with ann_Loop next to two phantom
** operands laid over the same shape: the output, with stride 0 along d
** (so every element lands on its output slot), and an index counter,
** with stride 1 along d and 0 elsewhere (so its offset is the position
** along d).  A whole-tensor reduction is the case where the output has
** stride 0 everywhere and the counter counts flat positions.  The walk
** goes in memory order whatever d is, and sums are kept in double.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ann_impl.h"

typedef struct Red {
  int ndim;                        /* of the result */
  int64_t shape[ANN_MAXDIM];
  int64_t n;                       /* inputs per output */
  int64_t ost[ANN_MAXDIM];         /* output strides over t's shape */
  int64_t ist[ANN_MAXDIM];         /* index counter strides */
} Red;

static int setup(const char *op, const ann_Tensor *t, int d, int keepdim,
                 Red *r) {
  int64_t kshape[ANN_MAXDIM], kst[ANN_MAXDIM];
  int i;
  if (t == NULL) return ann_seterror("%s: NULL tensor", op);
  if (d < 0) {                     /* whole tensor: a 0-dim result */
    r->ndim = 0;
    r->n = ann_numel(t);
    ann_contig_strides(t->ndim, t->shape, r->ist);
    for (i = 0; i < t->ndim; i++) r->ost[i] = 0;
    return 0;
  }
  if (ann_checkdim(op, t, d) < 0) return -1;
  memcpy(kshape, t->shape, sizeof kshape);
  kshape[d] = 1;
  ann_contig_strides(t->ndim, kshape, kst);
  r->ndim = 0;
  for (i = 0; i < t->ndim; i++) {
    r->ost[i] = i == d ? 0 : kst[i];
    r->ist[i] = i == d ? 1 : 0;
    if (i != d || keepdim) r->shape[r->ndim++] = kshape[i];
  }
  r->n = t->shape[d];
  return 0;
}

static int64_t outnumel(const Red *r) {
  int64_t n = 1;
  int i;
  for (i = 0; i < r->ndim; i++) n *= r->shape[i];
  return n;
}

/* acc[o] += x, or (x - mean[o])^2 when mean is given */
/* 0, or -1 when the host cancelled the walk */
static int sumloop(const char *op, const ann_Tensor *t, const Red *r,
                   double *acc, const double *mean) {
  const ann_Kernels *k = ann_kernels();
  const int64_t *st[2] = {t->stride, r->ost};
  const float *base = ann_data(t);
  ann_Loop l;
  ann_loop_init(&l, 2, t->ndim, t->shape, st);
  if (l.empty) return 0;
  ann_loop_poll(&l, op);
  do {
    const float *x = base + l.off[0];
    int64_t i, o = l.off[1], n = l.len, sx = l.step[0], so = l.step[1];
    if (so == 0 && sx == 1)        /* a run along d: one output */
      acc[o] += mean ? k->sqdev(n, x, mean[o]) : k->sum(n, x);
    else if (mean)
      for (i = 0; i < n; i++) {
        double v = x[i * sx] - mean[o + i * so];
        acc[o + i * so] += v * v;
      }
    else if (so == 1 && sx == 1)   /* across d: unit steps vectorise */
      for (i = 0; i < n; i++) acc[o + i] += x[i];
    else
      for (i = 0; i < n; i++) acc[o + i * so] += x[i * sx];
  } while (ann_loop_next(&l));
  return l.stop ? -1 : 0;
}

enum { SUM, MEAN, VAR, STD };
static const char *const momname[] = {"sum", "mean", "var", "std"};

static ann_Tensor *moment(int what, const ann_Tensor *t, int d, int keepdim) {
  ann_Tensor *y;
  double *acc, *mean = NULL;
  int64_t i, m;
  float *py;
  Red r;
  if (setup(momname[what], t, d, keepdim, &r) < 0) return NULL;
  m = outnumel(&r);
  y = ann_new(r.ndim, r.shape);
  if (y == NULL) return NULL;
  acc = ann_calloc((size_t)m + 1, sizeof(double));
  if (what >= VAR && acc) mean = ann_calloc((size_t)m + 1, sizeof(double));
  if (acc == NULL || (what >= VAR && mean == NULL)) {
    ann_free(acc); ann_free(mean); ann_release(y);
    return ann_nomem(momname[what]), NULL;
  }
  if (sumloop(momname[what], t, &r, acc, NULL) < 0) goto stop;
  if (what >= VAR) {               /* two passes: no cancellation */
    for (i = 0; i < m; i++) { mean[i] = acc[i] / r.n; acc[i] = 0; }
    if (sumloop(momname[what], t, &r, acc, mean) < 0) goto stop;
  }
  py = ann_data(y);
  for (i = 0; i < m; i++) {
    double v = acc[i];
    if (what == MEAN) v /= r.n;            /* 0/0 = NaN when empty */
    else if (what >= VAR) v /= r.n - 1;    /* n = 1 gives NaN */
    py[i] = (float)(what == STD ? sqrt(v) : v);
  }
  ann_free(acc); ann_free(mean);
  return y;
stop:
  ann_free(acc); ann_free(mean); ann_release(y);
  return NULL;
}

ann_Tensor *ann_sum(const ann_Tensor *t, int d, int keepdim) {
  return moment(SUM, t, d, keepdim);
}

ann_Tensor *ann_mean(const ann_Tensor *t, int d, int keepdim) {
  return moment(MEAN, t, d, keepdim);
}

ann_Tensor *ann_var(const ann_Tensor *t, int d, int keepdim) {
  return moment(VAR, t, d, keepdim);
}

ann_Tensor *ann_std(const ann_Tensor *t, int d, int keepdim) {
  return moment(STD, t, d, keepdim);
}

/* ---- max, min ----------------------------------------------------------- */

/* the first NaN wins and stays; otherwise the first of equal extremes */
static int extloop(const char *op, const ann_Tensor *t, const Red *r,
                   int ismax, float *val, float *ind) {
  const int64_t *st[3] = {t->stride, r->ost, r->ist};
  const float *base = ann_data(t);
  ann_Loop l;
  ann_loop_init(&l, 3, t->ndim, t->shape, st);
  if (l.empty) return 0;
  ann_loop_poll(&l, op);
  do {
    const float *x = base + l.off[0];
    int64_t i, n = l.len, sx = l.step[0], so = l.step[1], si = l.step[2];
    for (i = 0; i < n; i++) {
      int64_t o = l.off[1] + i * so, k = l.off[2] + i * si;
      float v = x[i * sx], c = val[o];
      if (k == 0 || (ismax ? v > c : v < c) || (v != v && c == c)) {
        val[o] = v;
        if (ind) ind[o] = (float)(k + 1);
      }
    }
  } while (ann_loop_next(&l));
  return l.stop ? -1 : 0;
}

static ann_Tensor *extreme(const char *op, int ismax, const ann_Tensor *t,
                           int d, int keepdim, ann_Tensor **ind) {
  ann_Tensor *y, *iy = NULL;
  char s[128];
  Red r;
  if (ind) *ind = NULL;
  if (setup(op, t, d, keepdim, &r) < 0) return NULL;
  if (r.n == 0 && d < 0)
    return ann_seterror("%s: empty tensor %s", op,
                        ann_shapestr(t, s, sizeof s)), NULL;
  if (r.n == 0)
    return ann_seterror("%s: dim %d of %s is empty", op, d + 1,
                        ann_shapestr(t, s, sizeof s)), NULL;
  y = ann_new(r.ndim, r.shape);
  if (y == NULL) return NULL;
  if (ind && (iy = ann_new(r.ndim, r.shape)) == NULL) {
    ann_release(y);
    return NULL;
  }
  if (extloop(op, t, &r, ismax, ann_data(y), iy ? ann_data(iy) : NULL) < 0) {
    ann_release(y); ann_release(iy);
    return NULL;
  }
  if (ind) *ind = iy;
  return y;
}

ann_Tensor *ann_max(const ann_Tensor *t, int d, int keepdim,
                    ann_Tensor **ind) {
  return extreme("max", 1, t, d, keepdim, ind);
}

ann_Tensor *ann_min(const ann_Tensor *t, int d, int keepdim,
                    ann_Tensor **ind) {
  return extreme("min", 0, t, d, keepdim, ind);
}

static ann_Tensor *argext(const char *op, int ismax, const ann_Tensor *t,
                          int d, int keepdim) {
  ann_Tensor *ind, *v = extreme(op, ismax, t, d, keepdim, &ind);
  ann_release(v);
  return v ? ind : NULL;
}

ann_Tensor *ann_argmax(const ann_Tensor *t, int d, int keepdim) {
  return argext("argmax", 1, t, d, keepdim);
}

ann_Tensor *ann_argmin(const ann_Tensor *t, int d, int keepdim) {
  return argext("argmin", 0, t, d, keepdim);
}

/* ---- norm --------------------------------------------------------------- */

enum { N_ZERO, N_ONE, N_TWO, N_MAX, N_MIN, N_POW };

/* one pass over t: count, sum |x|, sum x^2, max |x|, min |x| or
** sum (|x|/scale)^p */
static double normpass(const ann_Tensor *t, int kind, double p, double scale,
                       int *stop) {
  const ann_Kernels *k = ann_kernels();
  const int64_t *st[1] = {t->stride};
  double acc = kind == N_MIN ? INFINITY : 0;
  ann_Loop l;
  ann_loop_init(&l, 1, t->ndim, t->shape, st);
  if (l.empty) return acc;
  ann_loop_poll(&l, "norm");
  do {
    const float *x = ann_data(t) + l.off[0];
    int64_t i, n = l.len, s = l.step[0];
    if (kind == N_TWO && s == 1) { acc += k->sqdev(n, x, 0); continue; }
    for (i = 0; i < n; i++) {
      double a = fabs((double)x[i * s]);
      switch (kind) {
        case N_ZERO: acc += a != 0; break;
        case N_ONE: acc += a; break;
        case N_TWO: acc += a * a; break;
        case N_MAX: if (a > acc || a != a) acc = isnan(acc) ? acc : a; break;
        case N_MIN: if (a < acc || a != a) acc = isnan(acc) ? acc : a; break;
        default: acc += pow(a / scale, p); break;
      }
    }
  } while (ann_loop_next(&l));
  *stop |= l.stop;
  return acc;
}

static double norm(const ann_Tensor *t, double p, int *stop) {
  double m;
  if (p == 0) return normpass(t, N_ZERO, 0, 1, stop);   /* nonzero count */
  if (p == 1) return normpass(t, N_ONE, 0, 1, stop);
  if (p == 2) return sqrt(normpass(t, N_TWO, 0, 1, stop));
  if (p == INFINITY) return normpass(t, N_MAX, 0, 1, stop);
  if (p == -INFINITY) return normpass(t, N_MIN, 0, 1, stop);
  /* general p: scale by the largest |x| (the smallest for p < 0) so that
  ** |x|^p neither overflows nor vanishes; 0, inf and NaN are the answer */
  m = normpass(t, p > 0 ? N_MAX : N_MIN, 0, 1, stop);
  if (m == 0 || !isfinite(m) || *stop) return m;
  return m * pow(normpass(t, N_POW, p, m, stop), 1 / p);
}

ann_Tensor *ann_norm(const ann_Tensor *t, double p) {
  if (t == NULL) return ann_seterror("norm: NULL tensor"), NULL;
  if (isnan(p)) return ann_seterror("norm: p is NaN"), NULL;
  {
    int stop = 0;
    double v = norm(t, p, &stop);
    return stop ? NULL : ann_scalar((float)v);
  }
}

/* ---- allclose ----------------------------------------------------------- */


/* |a - b| <= atol + rtol |b|; infinities only match themselves, NaN
** nothing */
static int close1(double a, double b, double rtol, double atol) {
  if (!isfinite(a) || !isfinite(b)) return a == b;
  return fabs(a - b) <= atol + rtol * fabs(b);
}

int ann_allclose(const ann_Tensor *a, const ann_Tensor *b, double rtol,
                 double atol) {
  int64_t shape[ANN_MAXDIM], sa[ANN_MAXDIM], sb[ANN_MAXDIM];
  const int64_t *st[2] = {sa, sb};
  ann_Loop l;
  int nd;
  if (a == NULL || b == NULL) return ann_seterror("allclose: NULL tensor");
  if (!(rtol >= 0) || !(atol >= 0))
    return ann_seterror("allclose: bad tolerance (rtol %g, atol %g)",
                        rtol, atol);
  if (ann_broadcast_shape(a, b, &nd, shape) < 0) {
    char s1[128], s2[128];
    return ann_seterror("allclose: shapes %s and %s do not broadcast",
                        ann_shapestr(a, s1, sizeof s1),
                        ann_shapestr(b, s2, sizeof s2));
  }
  ann_bstrides(a, nd, sa);
  ann_bstrides(b, nd, sb);
  ann_loop_init(&l, 2, nd, shape, st);
  if (l.empty) return 1;
  do {
    const float *x = ann_data(a) + l.off[0], *y = ann_data(b) + l.off[1];
    int64_t i, n = l.len, s0 = l.step[0], s1 = l.step[1];
    for (i = 0; i < n; i++)
      if (!close1(x[i * s0], y[i * s1], rtol, atol)) return 0;
  } while (ann_loop_next(&l));
  return 1;
}
