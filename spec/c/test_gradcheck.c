/*
** test_gradcheck.c: every recording op (ann_ag_*) against central finite
** differences.  For an op f and random weights w, backward(f(x), w) must
** give d/dx sum(w * f(x)); the loss is summed in double, the core works in
** float32, so eps = 1e-3 and the tolerance is 1e-2 relative (absolute
** below 1).  Shapes exercise broadcasting and non-contiguous inputs.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define EPS 1e-3
#define TOL 1e-2

/* ---- inputs ---------------------------------------------------------------- */

static ann_Tensor *uni(int nd, const int64_t *shape, double lo, double hi) {
  ann_Tensor *t = ann_empty(nd, shape);
  int64_t i, n = ann_numel(t);
  for (i = 0; i < n; i++)
    ann_data(t)[i] = (float)(lo + (hi - lo) * ann_rand_uniform());
  return t;
}

/* uniform in [lo,hi] but at least `gap` away from every point in avoid[] */
static ann_Tensor *away(int nd, const int64_t *shape, double lo, double hi,
                        int na, const double *avoid, double gap) {
  ann_Tensor *t = ann_empty(nd, shape);
  int64_t i, n = ann_numel(t);
  for (i = 0; i < n; i++) {
    double v;
    int k, ok;
    do {
      v = lo + (hi - lo) * ann_rand_uniform();
      for (ok = 1, k = 0; k < na; k++) if (fabs(v - avoid[k]) < gap) ok = 0;
    } while (!ok);
    ann_data(t)[i] = (float)v;
  }
  return t;
}

/* distinct values 0.1 apart in a random order (no ties for max/min) */
static ann_Tensor *spaced(int nd, const int64_t *shape) {
  ann_Tensor *t = ann_empty(nd, shape);
  int64_t i, n = ann_numel(t);
  float *x = ann_data(t);
  for (i = 0; i < n; i++) x[i] = (float)(0.1 * (double)i - 0.05 * (double)n);
  for (i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(ann_rand_uniform() * (double)(i + 1));
    float tmp = x[i]; x[i] = x[j]; x[j] = tmp;
  }
  return t;
}

/* a transposed (non-contiguous) view of a fresh [c, r] tensor: [r, c] */
static ann_Tensor *transposed(ann_Tensor *base) {
  ann_Tensor *v = ann_transpose(base, 0, 1);
  ann_release(base);
  return v;
}

#define SH(...) (const int64_t[]){__VA_ARGS__}

/* ---- the check ------------------------------------------------------------- */

typedef ann_Tensor *(*Fn)(ann_Tensor **in);

static int next_idx(int nd, const int64_t *shape, int64_t *idx) {
  int i;
  for (i = nd - 1; i >= 0; i--) {
    if (++idx[i] < shape[i]) return 1;
    idx[i] = 0;
  }
  return 0;
}

/* sum(w * f(in)) in double, no recording */
static double loss(Fn f, ann_Tensor **in, const ann_Tensor *w) {
  int64_t idx[ANN_MAXDIM] = {0};
  double s = 0;
  float o, wv;
  int was = ann_set_grad_enabled(0);
  ann_Tensor *out = f(in);
  ann_set_grad_enabled(was);
  if (out == NULL) return NAN;
  if (ann_numel(out) > 0)
    do {
      ann_get(out, idx, &o);
      ann_get(w, idx, &wv);
      s += (double)o * wv;
    } while (next_idx(out->ndim, out->shape, idx));
  ann_release(out);
  return s;
}

static double worst;    /* largest error seen, for the report */

/* checks the inputs flagged in mask (bit i: in[i]) */
static void gradcheck(const char *name, Fn f, int n, ann_Tensor **in,
                      unsigned mask) {
  ann_Tensor *out, *w;
  double maxerr = 0;
  int i, ok = 1;
  for (i = 0; i < n; i++) {
    if (!(mask >> i & 1)) { ann_set_requires_grad(in[i], 0); continue; }
    ann_release(in[i]->grad);
    in[i]->grad = NULL;
    ann_set_requires_grad(in[i], 1);
  }
  out = f(in);
  if (out == NULL) {
    fprintf(stderr, "%s: forward failed: %s\n", name, ann_error());
    CHECK(out != NULL);
    return;
  }
  /* contiguous of a contiguous tensor is the tensor itself, a leaf */
  CHECK(out->requires_grad && (out->node != NULL || out == in[0]));
  w = uni(out->ndim, out->shape, -1, 1);
  if (ann_backward(out, w) != 0) {
    fprintf(stderr, "%s: backward failed: %s\n", name, ann_error());
    ok = 0;
  }
  ann_release(out);
  for (i = 0; ok && i < n; i++) {
    ann_Tensor *t = in[i];
    int64_t idx[ANN_MAXDIM] = {0};
    if (!(mask >> i & 1)) continue;
    if (t->grad == NULL || !ann_same_shape(t->grad, t)
        || !ann_is_contiguous(t->grad)) {
      fprintf(stderr, "%s: input %d has no proper grad\n", name, i + 1);
      ok = 0;
      break;
    }
    if (ann_numel(t) > 0)
      do {
        float v, an;
        double lp, lm, num, err;
        ann_get(t, idx, &v);
        ann_get(t->grad, idx, &an);
        ann_set(t, idx, (float)(v + EPS)); lp = loss(f, in, w);
        ann_set(t, idx, (float)(v - EPS)); lm = loss(f, in, w);
        ann_set(t, idx, v);
        num = (lp - lm) / (2 * EPS);
        err = fabs(an - num) / (fabs(num) > 1 ? fabs(num) : 1);
        if (!(err <= TOL)) {
          if (ok) fprintf(stderr, "%s: input %d element %lld: autograd %.6g, "
                          "numeric %.6g\n", name, i + 1,
                          (long long)idx[0] * 100 + idx[1], an, num);
          ok = 0;
        }
        if (err > maxerr) maxerr = err;
      } while (next_idx(t->ndim, t->shape, idx));
  }
  if (maxerr > worst) worst = maxerr;
  ann_release(w);
  if (!ok) fprintf(stderr, "  (check failed: %s)\n", name);
  CHECK(ok);
}

static void drop(int n, ann_Tensor **in) {
  int i;
  for (i = 0; i < n; i++) ann_release(in[i]);
}

/* ---- the ops under test ------------------------------------------------------ */

static struct {
  int op, d, keep, first, nt;
  float s, lo, hi;
  double p;
  int nd;
  int64_t shape[ANN_MAXDIM];
  int perm[ANN_MAXDIM];
  ann_Tensor *idx;
} P;

static ann_Tensor *f_bin(ann_Tensor **in) { return ann_ag_binary(P.op, in[0], in[1]); }
static ann_Tensor *f_bsc(ann_Tensor **in) {
  return ann_ag_binary_scalar(P.op, in[0], P.s, P.first);
}
static ann_Tensor *f_un(ann_Tensor **in) { return ann_ag_unary(P.op, in[0]); }
static ann_Tensor *f_clamp(ann_Tensor **in) { return ann_ag_clamp(in[0], P.lo, P.hi); }
static ann_Tensor *f_softmax(ann_Tensor **in) {
  return P.op ? ann_ag_log_softmax(in[0], P.d) : ann_ag_softmax(in[0], P.d);
}
static ann_Tensor *f_reduce(ann_Tensor **in) {
  switch (P.op) {
    case 0: return ann_ag_sum(in[0], P.d, P.keep);
    case 1: return ann_ag_mean(in[0], P.d, P.keep);
    case 2: return ann_ag_var(in[0], P.d, P.keep);
    default: return ann_ag_std(in[0], P.d, P.keep);
  }
}
static ann_Tensor *f_norm(ann_Tensor **in) { return ann_ag_norm(in[0], P.p); }
static ann_Tensor *f_ext(ann_Tensor **in) {
  ann_Tensor *ind = NULL, *out;
  out = P.op ? ann_ag_min(in[0], P.d, P.keep, &ind)
             : ann_ag_max(in[0], P.d, P.keep, &ind);
  ann_release(ind);
  return out;
}
static ann_Tensor *f_lin(ann_Tensor **in) {
  switch (P.op) {
    case 0: return ann_ag_mm(in[0], in[1]);
    case 1: return ann_ag_matmul(in[0], in[1]);
    case 2: return ann_ag_mv(in[0], in[1]);
    case 3: return ann_ag_dot(in[0], in[1]);
    default: return ann_ag_outer(in[0], in[1]);
  }
}
static ann_Tensor *f_shape(ann_Tensor **in) {
  ann_Tensor *t = in[0];
  switch (P.op) {
    case 0: return ann_ag_view(t, P.nd, P.shape);
    case 1: return ann_ag_reshape(t, P.nd, P.shape);
    case 2: return ann_ag_transpose(t, P.d, P.keep);
    case 3: return ann_ag_permute(t, P.perm);
    case 4: return ann_ag_narrow(t, P.d, P.shape[0], P.shape[1]);
    case 5: return ann_ag_select(t, P.d, P.shape[0]);
    case 6: return ann_ag_squeeze(t, P.d);
    case 7: return ann_ag_unsqueeze(t, P.d);
    case 8: return ann_ag_expand(t, P.nd, P.shape);
    case 9: return ann_ag_clone(t);
    case 10: return ann_ag_contiguous(t);
    case 11: return ann_ag_index_select(t, P.d, P.idx);
    default: return ann_ag_gather(t, P.d, P.idx);
  }
}
static ann_Tensor *f_cat(ann_Tensor **in) {
  return P.op ? ann_ag_stack(P.nt, in, P.d) : ann_ag_cat(P.nt, in, P.d);
}

/* softmax(x w + b) * sum(x)^2: views, broadcast and a shared input */
static ann_Tensor *f_mix(ann_Tensor **in) {
  ann_Tensor *xw = ann_ag_mm(in[0], in[1]);
  ann_Tensor *z = ann_ag_binary(ANN_ADD, xw, in[2]);
  ann_Tensor *s = ann_ag_softmax(z, 1);
  ann_Tensor *q = ann_ag_sum(in[0], -1, 0);
  ann_Tensor *q2 = ann_ag_binary_scalar(ANN_POW, q, 2, 0);
  ann_Tensor *out = ann_ag_binary(ANN_MUL, s, q2);
  ann_release(xw); ann_release(z); ann_release(s);
  ann_release(q); ann_release(q2);
  return out;
}

/* ---- cases ------------------------------------------------------------------- */

static void test_binary(void) {
  static const ann_BinOp ops[] = {ANN_ADD, ANN_SUB, ANN_MUL, ANN_DIV, ANN_POW};
  char name[64];
  int k;
  for (k = 0; k < 5; k++) {
    ann_Tensor *in[2];
    P.op = ops[k];
    /* [2,1,3] op [4,1] -> [2,4,3] */
    in[0] = ops[k] == ANN_POW ? uni(3, SH(2, 1, 3), 0.5, 2)
                              : uni(3, SH(2, 1, 3), -1, 1);
    in[1] = ops[k] == ANN_DIV ? away(2, SH(4, 1), -2, 2, 1, (double[]){0}, 0.5)
                              : uni(2, SH(4, 1), -1, 2);
    snprintf(name, sizeof name, "%s broadcast", ann_binop_name(ops[k]));
    gradcheck(name, f_bin, 2, in, 3);
    drop(2, in);
    /* non-contiguous [3,4] op contiguous [3,4], only b differentiable */
    in[0] = transposed(ops[k] == ANN_POW ? uni(2, SH(4, 3), 0.5, 2)
                                         : uni(2, SH(4, 3), -1, 1));
    in[1] = ops[k] == ANN_DIV ? away(2, SH(3, 4), -2, 2, 1, (double[]){0}, 0.5)
                              : uni(2, SH(3, 4), -1, 2);
    snprintf(name, sizeof name, "%s strided", ann_binop_name(ops[k]));
    gradcheck(name, f_bin, 2, in, 3);
    gradcheck(name, f_bin, 2, in, 2);
    drop(2, in);
  }
  { /* the same tensor on both sides: x * x, x / x */
    ann_Tensor *in[2];
    in[0] = in[1] = away(2, SH(2, 3), -2, 2, 1, (double[]){0}, 0.3);
    P.op = ANN_MUL; gradcheck("mul self", f_bin, 1, in, 1);
    P.op = ANN_POW; ann_release(in[0]);
    in[0] = in[1] = uni(2, SH(2, 3), 0.5, 2);
    gradcheck("pow self", f_bin, 1, in, 1);
    ann_release(in[0]);
  }
}

static void test_binary_scalar(void) {
  static const ann_BinOp ops[] = {ANN_ADD, ANN_SUB, ANN_MUL, ANN_DIV, ANN_POW};
  char name[64];
  int k, first;
  for (k = 0; k < 5; k++)
    for (first = 0; first < 2; first++) {
      ann_Tensor *in[1];
      P.op = ops[k]; P.first = first;
      P.s = ops[k] == ANN_POW ? (first ? 1.7f : 2.5f) : -1.3f;
      if (ops[k] == ANN_POW && !first) in[0] = uni(2, SH(4, 3), 0.5, 2);
      else if (ops[k] == ANN_DIV && first)
        in[0] = away(2, SH(4, 3), -2, 2, 1, (double[]){0}, 0.5);
      else in[0] = uni(2, SH(4, 3), -1, 1);
      in[0] = transposed(in[0]);
      snprintf(name, sizeof name, "%s scalar%s", ann_binop_name(ops[k]),
               first ? " first" : "");
      gradcheck(name, f_bsc, 1, in, 1);
      drop(1, in);
    }
}

static void test_unary(void) {
  char name[64];
  int op;
  for (op = 0; op < ANN_NUNOP; op++) {
    ann_Tensor *in[1];
    P.op = op;
    if (op == ANN_LOG || op == ANN_SQRT) in[0] = uni(2, SH(3, 4), 0.5, 2);
    else in[0] = away(2, SH(3, 4), -2, 2, 1, (double[]){0}, 0.05);
    snprintf(name, sizeof name, "%s", ann_unop_name(op));
    gradcheck(name, f_un, 1, in, 1);
    drop(1, in);
    in[0] = transposed(away(2, SH(4, 3), 0.5, 2, 0, NULL, 0));
    snprintf(name, sizeof name, "%s strided", ann_unop_name(op));
    gradcheck(name, f_un, 1, in, 1);
    drop(1, in);
  }
  {
    ann_Tensor *in[1];
    in[0] = away(3, SH(2, 3, 4), -1, 1, 2, (double[]){-0.4, 0.3}, 0.05);
    P.lo = -0.4f; P.hi = 0.3f;
    gradcheck("clamp", f_clamp, 1, in, 1);
    drop(1, in);
  }
}

static void test_softmax(void) {
  char name[64];
  int d, lg;
  for (lg = 0; lg < 2; lg++)
    for (d = 0; d < 3; d++) {
      ann_Tensor *in[1];
      P.op = lg; P.d = d;
      in[0] = uni(3, SH(2, 3, 4), -2, 2);
      snprintf(name, sizeof name, "%s d=%d", lg ? "log_softmax" : "softmax", d + 1);
      gradcheck(name, f_softmax, 1, in, 1);
      drop(1, in);
    }
  {
    ann_Tensor *in[1];
    P.op = 1; P.d = 1;
    in[0] = transposed(uni(2, SH(5, 3), -3, 3));
    gradcheck("log_softmax strided", f_softmax, 1, in, 1);
    P.op = 0;
    gradcheck("softmax strided", f_softmax, 1, in, 1);
    drop(1, in);
  }
}

static void test_reductions(void) {
  static const char *names[] = {"sum", "mean", "var", "std"};
  char name[64];
  int op, d, keep;
  for (op = 0; op < 4; op++)
    for (d = -1; d < 3; d++)
      for (keep = 0; keep < 2; keep++) {
        ann_Tensor *in[1];
        if (d < 0 && keep) continue;
        P.op = op; P.d = d; P.keep = keep;
        in[0] = uni(3, SH(2, 3, 4), -1, 1);
        snprintf(name, sizeof name, "%s d=%d keep=%d", names[op], d + 1, keep);
        gradcheck(name, f_reduce, 1, in, 1);
        drop(1, in);
        if (d == 1) {
          in[0] = transposed(uni(2, SH(4, 3), -1, 1));
          snprintf(name, sizeof name, "%s strided d=2 keep=%d", names[op], keep);
          gradcheck(name, f_reduce, 1, in, 1);
          drop(1, in);
        }
      }
  {
    static const double ps[] = {1, 2, 3, 0.5, INFINITY};
    int k;
    for (k = 0; k < 5; k++) {
      ann_Tensor *in[1];
      P.p = ps[k];
      in[0] = transposed(ps[k] == INFINITY ? spaced(2, SH(4, 3))
                         : away(2, SH(4, 3), -2, 2, 1, (double[]){0}, 0.1));
      snprintf(name, sizeof name, "norm p=%g", ps[k]);
      gradcheck(name, f_norm, 1, in, 1);
      drop(1, in);
    }
  }
  for (op = 0; op < 2; op++)
    for (d = -1; d < 3; d++)
      for (keep = 0; keep < 2; keep++) {
        ann_Tensor *in[1];
        if (d < 0 && keep) continue;
        P.op = op; P.d = d; P.keep = keep;
        in[0] = spaced(3, SH(2, 3, 4));
        snprintf(name, sizeof name, "%s d=%d keep=%d", op ? "min" : "max",
                 d + 1, keep);
        gradcheck(name, f_ext, 1, in, 1);
        drop(1, in);
      }
}

static void lin(const char *name, int op, ann_Tensor *a, ann_Tensor *b) {
  ann_Tensor *in[2];
  in[0] = a; in[1] = b;
  P.op = op;
  gradcheck(name, f_lin, 2, in, 3);
  gradcheck(name, f_lin, 2, in, 1);
  gradcheck(name, f_lin, 2, in, 2);
  drop(2, in);
}

static void test_linalg(void) {
  lin("mm", 0, uni(2, SH(3, 4), -1, 1), uni(2, SH(4, 2), -1, 1));
  lin("mm a^T", 0, transposed(uni(2, SH(4, 3), -1, 1)), uni(2, SH(4, 2), -1, 1));
  lin("mm b^T", 0, uni(2, SH(3, 4), -1, 1), transposed(uni(2, SH(2, 4), -1, 1)));
  lin("matmul 1x1", 1, uni(1, SH(5), -1, 1), uni(1, SH(5), -1, 1));
  lin("matmul 2x1", 1, uni(2, SH(3, 5), -1, 1), uni(1, SH(5), -1, 1));
  lin("matmul 1x2", 1, uni(1, SH(3), -1, 1), uni(2, SH(3, 4), -1, 1));
  lin("matmul 2x2", 1, uni(2, SH(3, 5), -1, 1), uni(2, SH(5, 2), -1, 1));
  lin("matmul 3x3", 1, uni(3, SH(2, 3, 4), -1, 1), uni(3, SH(2, 4, 5), -1, 1));
  lin("matmul 3x2", 1, uni(3, SH(2, 3, 4), -1, 1), uni(2, SH(4, 5), -1, 1));
  lin("matmul 2x3", 1, uni(2, SH(3, 4), -1, 1), uni(3, SH(2, 4, 5), -1, 1));
  lin("matmul 3x1", 1, uni(3, SH(2, 3, 4), -1, 1), uni(1, SH(4), -1, 1));
  lin("matmul 1x3", 1, uni(1, SH(3), -1, 1), uni(3, SH(2, 3, 4), -1, 1));
  lin("matmul [1,3,4]x[2,4,5]", 1, uni(3, SH(1, 3, 4), -1, 1),
      uni(3, SH(2, 4, 5), -1, 1));
  {
    ann_Tensor *base = uni(3, SH(2, 4, 3), -1, 1);   /* batch of a^T */
    ann_Tensor *a = ann_transpose(base, 1, 2);
    ann_release(base);
    lin("matmul 3x3 strided", 1, a, uni(3, SH(2, 4, 5), -1, 1));
  }
  lin("mv", 2, uni(2, SH(3, 4), -1, 1), uni(1, SH(4), -1, 1));
  lin("mv a^T", 2, transposed(uni(2, SH(4, 3), -1, 1)), uni(1, SH(4), -1, 1));
  lin("dot", 3, uni(1, SH(6), -1, 1), uni(1, SH(6), -1, 1));
  lin("outer", 4, uni(1, SH(3), -1, 1), uni(1, SH(4), -1, 1));
}

static void shape_case(const char *name, int op, ann_Tensor *t) {
  ann_Tensor *in[1];
  in[0] = t;
  P.op = op;
  gradcheck(name, f_shape, 1, in, 1);
  drop(1, in);
}

static void test_shapes(void) {
  P.nd = 2; P.shape[0] = 4; P.shape[1] = 6;
  shape_case("view", 0, uni(3, SH(2, 3, 4), -1, 1));
  P.nd = 3; P.shape[0] = 2; P.shape[1] = -1; P.shape[2] = 3;
  shape_case("reshape", 1, uni(2, SH(4, 3), -1, 1));
  shape_case("reshape strided", 1, transposed(uni(2, SH(3, 4), -1, 1)));
  P.d = 0; P.keep = 2;
  shape_case("transpose", 2, uni(3, SH(2, 3, 4), -1, 1));
  P.perm[0] = 2; P.perm[1] = 0; P.perm[2] = 1;
  shape_case("permute", 3, uni(3, SH(2, 3, 4), -1, 1));
  P.d = 1; P.shape[0] = 1; P.shape[1] = 2;
  shape_case("narrow", 4, uni(3, SH(2, 4, 3), -1, 1));
  shape_case("narrow strided", 4, transposed(uni(2, SH(4, 3), -1, 1)));
  P.d = 2; P.shape[0] = 3;
  shape_case("select", 5, uni(3, SH(2, 3, 4), -1, 1));
  P.d = 1;
  shape_case("squeeze d", 6, uni(3, SH(2, 1, 3), -1, 1));
  P.d = -1;
  shape_case("squeeze all", 6, uni(4, SH(1, 2, 1, 3), -1, 1));
  P.d = 2;
  shape_case("unsqueeze", 7, uni(2, SH(2, 3), -1, 1));
  P.nd = 3; P.shape[0] = 2; P.shape[1] = 3; P.shape[2] = 4;
  shape_case("expand", 8, uni(2, SH(3, 1), -1, 1));
  shape_case("clone", 9, transposed(uni(2, SH(4, 3), -1, 1)));
  shape_case("contiguous strided", 10, transposed(uni(2, SH(4, 3), -1, 1)));
  shape_case("contiguous", 10, uni(2, SH(4, 3), -1, 1));
  {
    float ix[] = {3, 1, 3, 2, 3};         /* repeats must add up */
    P.idx = ann_from_data(ix, 1, SH(5));
    P.d = 1;
    shape_case("index_select", 11, uni(2, SH(2, 4), -1, 1));
    P.d = 0;
    shape_case("index_select d=1", 11, transposed(uni(2, SH(2, 4), -1, 1)));
    ann_release(P.idx);
  }
  {
    float ix[] = {1, 3, 3, 2, 2, 2};
    P.idx = ann_from_data(ix, 2, SH(2, 3));
    P.d = 1;
    shape_case("gather", 12, uni(2, SH(3, 4), -1, 1));
    ann_release(P.idx);
  }
}

static void test_cat(void) {
  ann_Tensor *in[3];
  P.op = 0; P.d = 1; P.nt = 3;
  in[0] = uni(2, SH(2, 3), -1, 1);
  in[1] = transposed(uni(2, SH(1, 2), -1, 1));
  in[2] = uni(2, SH(2, 2), -1, 1);
  gradcheck("cat", f_cat, 3, in, 7);
  gradcheck("cat one", f_cat, 3, in, 2);
  drop(3, in);
  P.op = 1; P.d = 1; P.nt = 2;
  in[0] = uni(2, SH(2, 3), -1, 1);
  in[1] = transposed(uni(2, SH(3, 2), -1, 1));
  gradcheck("stack", f_cat, 2, in, 3);
  drop(2, in);
}

static void test_mix(void) {
  ann_Tensor *in[3];
  in[0] = uni(2, SH(3, 4), -0.5, 0.5);
  in[1] = transposed(uni(2, SH(2, 4), -1, 1));
  in[2] = uni(1, SH(2), -1, 1);
  gradcheck("softmax(x w + b) * sum(x)^2", f_mix, 3, in, 7);
  drop(3, in);
}

int main(void) {
  int64_t live0;
  ann_manual_seed(42);
  live0 = ann_live_bytes();
  test_binary();
  test_binary_scalar();
  test_unary();
  test_softmax();
  test_reductions();
  test_linalg();
  test_shapes();
  test_cat();
  test_mix();
  CHECK(ann_live_bytes() == live0);     /* everything freed */
  printf("largest relative error %.3g\n", worst);
  return test_report();
}
