/*
** ann_mlp.c: the fused path for stacks of linear layers and activations.
**
** A Sequential of Linear + activation modules trained through autograd
** pays for a graph per step: nodes, a result tensor per op, a gradient
** tensor per op.  For a 2-8-8-1 network that overhead is the whole cost.
** Here the same network runs from buffers allocated once: the forward
** writes each layer's activations in place, the loss and its gradient are
** one pass, the backward reuses two scratch blocks, and a whole epoch is
** one call.  The arithmetic follows the general path (the same gemm
** dispatch, the same SIMD activation kernels, the same loss formulas and
** the optimisers of ann_optim.c), so both give the same numbers up to
** summation order.
*/
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ann_impl.h"

#define MAXL ANN_MLP_MAXL     /* layers */
#define MAXT_MLP 8            /* threads an epoch uses */

/* the buffers the passes work in, allocated once and grown as needed */
typedef struct Lane {
  void *raw;                  /* the block (from the context) */
  float *mem;                 /* ... aligned: all buffers */
  int64_t cap;                /* rows they hold */
  float *x, *t;               /* gathered batch: inputs, targets */
  float *a[MAXL];             /* activations of each layer */
  float *d[2];                /* gradient scratch, used in turn */
  float *gw[MAXL], *gb[MAXL]; /* where the grads go: the params' grads */
} Lane;

struct ann_Mlp {
  ann_MlpNet net;             /* the layers, for the forward kernel */
  ann_Tensor *w[MAXL], *b[MAXL];   /* retained; net points into them */
  Lane lane;
};

/* ---- building ---------------------------------------------------------- */

static int check_layer(const ann_Mlp *m, int l, const ann_Tensor *w,
                       const ann_Tensor *b, int act, float slope) {
  char sw[128], sb[128];
  if (w == NULL) return ann_seterror("mlp: weight of layer %d is NULL", l + 1);
  if (w->ndim != 2 || !ann_is_contiguous(w) || ann_numel(w) == 0)
    return ann_seterror("mlp: weight of layer %d (%s) must be a dense, "
                        "non-empty [out,in] matrix", l + 1,
                        ann_shapestr(w, sw, sizeof sw));
  if (l > 0 && w->shape[1] != m->net.width[l])
    return ann_seterror("mlp: layer %d takes %lld inputs (%s) but layer %d "
                        "gives %lld", l + 1, (long long)w->shape[1],
                        ann_shapestr(w, sw, sizeof sw), l,
                        (long long)m->net.width[l]);
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]
            || !ann_is_contiguous(b)))
    return ann_seterror("mlp: bias of layer %d is %s, expected dense [%lld]",
                        l + 1, ann_shapestr(b, sb, sizeof sb),
                        (long long)w->shape[0]);
  if (act < ANN_ACT_IDENTITY || act > ANN_ACT_LEAKY)
    return ann_seterror("mlp: unknown activation %d in layer %d", act, l + 1);
  if (act == ANN_ACT_LEAKY && !(slope >= 0))
    return ann_seterror("mlp: LeakyReLU slope %g of layer %d must be >= 0",
                        slope, l + 1);
  return 0;
}

ann_Mlp *ann_mlp_new(int n, ann_Tensor *const *w, ann_Tensor *const *b,
                     const int *act, const float *slope) {
  ann_Mlp *m;
  int l;
  ann_init();
  if (n < 1 || n > MAXL || w == NULL || act == NULL)
    return ann_seterror("mlp: %d layers (1 to %d, with weights and "
                        "activations)", n, MAXL), NULL;
  if ((m = ann_calloc(1, sizeof *m)) == NULL)
    return ann_nomem("mlp"), NULL;
  m->net.width[0] = w[0] ? w[0]->shape[w[0]->ndim > 1] : 0;
  for (l = 0; l < n; l++) {
    float s = slope ? slope[l] : 0.0f;
    ann_Tensor *bl = b ? b[l] : NULL;
    if (check_layer(m, l, w[l], bl, act[l], s) != 0) {
      ann_mlp_free(m);
      return NULL;
    }
    m->w[l] = ann_retain(w[l]);
    m->b[l] = bl ? ann_retain(bl) : NULL;
    m->net.w[l] = ann_data(w[l]);
    m->net.b[l] = bl ? ann_data(bl) : NULL;
    m->net.act[l] = act[l];
    m->net.slope[l] = s;
    m->net.n = l + 1;
    m->net.width[l + 1] = w[l]->shape[0];
  }
  for (l = 0; l <= n; l++)
    if (m->net.width[l] > m->net.maxw) m->net.maxw = m->net.width[l];
  return m;
}

void ann_mlp_free(ann_Mlp *m) {
  int l;
  if (m == NULL) return;
  for (l = 0; l < m->net.n; l++) {
    ann_release(m->w[l]);
    ann_release(m->b[l]);
  }
  ann_free(m->lane.raw);
  ann_free(m);
}

/* floats for a buffer of `rows` rows of width w, whole cache lines */
static int64_t span(int64_t rows, int64_t w) {
  return (rows * w + 15) & ~(int64_t)15;
}

/* buffers for `rows` rows; they only grow */
static int reserve(ann_Mlp *m, Lane *L, int64_t rows) {
  int64_t total, off = 0;
  float *mem;
  void *raw;
  int l;
  if (rows <= L->cap) return 0;
  if (rows > INT64_MAX / 64 / (m->net.maxw * (m->net.n + 4)))
    return ann_seterror("mlp: %lld rows is too many", (long long)rows);
  total = span(rows, m->net.width[0]) + span(rows, m->net.width[m->net.n])
          + 2 * span(rows, m->net.maxw);
  for (l = 1; l <= m->net.n; l++) total += span(rows, m->net.width[l]);
  if ((raw = ann_malloc((size_t)total * sizeof(float) + ANN_ALIGN)) == NULL)
    return ann_nomem("mlp");
  mem = (float *)(((uintptr_t)raw + ANN_ALIGN - 1)
                  & ~(uintptr_t)(ANN_ALIGN - 1));
  ann_free(L->raw);
  L->raw = raw; L->mem = mem; L->cap = rows;
#define TAKE(p, w) (p = mem + off, off += span(rows, w))
  TAKE(L->x, m->net.width[0]);
  TAKE(L->t, m->net.width[m->net.n]);
  for (l = 0; l < m->net.n; l++) TAKE(L->a[l], m->net.width[l + 1]);
  TAKE(L->d[0], m->net.maxw);
  TAKE(L->d[1], m->net.maxw);
#undef TAKE
  return 0;
}

/* ---- forward ----------------------------------------------------------- */

/* The passes can be shared by n threads (ann_pool.c): thread i takes the
** columns share() gives it of each layer's output (and of each input
** gradient), so every product keeps the batch's rows, and the threads
** meet at a barrier where a layer needs what the others wrote.  With
** n = 1 the barriers do nothing and the share is everything.  (Splitting
** the batch instead, one-thread BLAS each and the grads added after, was
** measured slower: half batches make less efficient products.) */
typedef struct Team { int i, n; } Team;
static const Team alone = {0, 1};

/* columns [*c0, *c1) of w that thread i of n takes: whole cache lines of
** 16 floats, so that two threads do not write one line of a row */
static void share(int64_t w, Team tm, int64_t *c0, int64_t *c1) {
  int64_t c = ((w + tm.n - 1) / tm.n + 15) & ~(int64_t)15;
  *c0 = tm.i * c < w ? tm.i * c : w;
  *c1 = (tm.i + 1) * c < w ? (tm.i + 1) * c : w;
}

/* a layer too narrow for every thread to have columns of (mnist-mlp's 10
** outputs): its forward is shared by rows, its dW by input columns, and
** thread 0, which has all its columns, steps it */
static int narrow(int64_t w, Team tm) { return (w + 15) / 16 < tm.n; }

static void activate(const ann_Kernels *k, int act, float slope, float *z,
                     int64_t n) {
  int64_t i;
  switch (act) {
    case ANN_ACT_TANH: k->un[ANN_TANH](n, z, z); break;
    case ANN_ACT_RELU: k->un[ANN_RELU](n, z, z); break;
    case ANN_ACT_SIGMOID: k->un[ANN_SIGMOID](n, z, z); break;
    case ANN_ACT_LEAKY:
      for (i = 0; i < n; i++) if (z[i] < 0) z[i] *= slope;
      break;
    default: break;
  }
}

/* layer l on rows of in, columns c0..c1 of its output z [rows, no]:
** z = b, then the gemm adds in w^T (as ann_linear), then the activation */
static int layer_cols(const ann_Kernels *k, const ann_MlpNet *net, int l,
                      const float *in, int64_t rows, float *z, int64_t c0,
                      int64_t c1) {
  int64_t ni = net->width[l], no = net->width[l + 1], nc = c1 - c0, r;
  const float *b = net->b[l];
  if (nc == 0) return 0;
  for (r = 0; b && r < rows; r++)
    memcpy(z + r * no + c0, b + c0, (size_t)nc * sizeof(float));
  if (ann_gemm_raw(0, 1, rows, nc, ni, 1.0f, in, ni, net->w[l] + c0 * ni, ni,
                   b ? 1.0f : 0.0f, z + c0, no) != 0) return -1;
  if (nc == no) activate(k, net->act[l], net->slope[l], z, rows * no);
  else
    for (r = 0; r < rows; r++)
      activate(k, net->act[l], net->slope[l], z + r * no + c0, nc);
  return 0;
}

/* The one forward kernel, of the fused path and of loaded models: layer
** l writes its output [rows, width[l+1]] into a[l] (a[n-1] may be the
** caller's out: inference saves a copy).  It reads net and writes only
** into a, so threads with their own a may share net.  An error does not
** stop a thread short of the barriers the others wait at: it is returned
** at the end. */
static int forward(const ann_MlpNet *net, float *const *a, const float *x,
                   int64_t rows, Team tm) {
  const ann_Kernels *k = ann_kernels();   /* once a pass, not a layer */
  const float *in = x;
  int l, st = 0;
  for (l = 0; l < net->n; l++) {
    float *z = a[l];
    int64_t ni = net->width[l], no = net->width[l + 1], c0, c1;
    if (narrow(no, tm)) {
      c0 = rows * tm.i / tm.n; c1 = rows * (tm.i + 1) / tm.n;
      st |= layer_cols(k, net, l, in + c0 * ni, c1 - c0, z + c0 * no, 0, no);
    }
    else {
      share(no, tm, &c0, &c1);
      st |= layer_cols(k, net, l, in, rows, z, c0, c1);
    }
    ann_pool_barrier(tm.n);
    in = z;
  }
  return st;
}

int64_t ann_mlp_scratch(const ann_MlpNet *net, int64_t rows) {
  if (rows < 0 || (net->maxw > 0 && rows > (INT64_MAX / 4 - 64) / net->maxw))
    return -1;
  return net->n > 2 ? 2 * span(rows, net->maxw)
       : net->n == 2 ? span(rows, net->maxw) : 0;
}

/* inference with the caller's scratch: the layers write into its two
** halves in turn, the last into out */
int ann_mlp_run(const ann_MlpNet *net, const float *x, int64_t rows,
                float *out, float *scratch) {
  float *a[MAXL];
  int64_t half = span(rows, net->maxw);
  int l;
  if (rows == 0) return 0;
  for (l = 0; l < net->n - 1; l++) a[l] = scratch + (l & 1) * half;
  a[net->n - 1] = out;
  return forward(net, a, x, rows, alone);
}

static int check_input(const ann_Mlp *m, const char *op, const ann_Tensor *x,
                       int64_t *rows) {
  char sx[128];
  if (x == NULL) return ann_seterror("%s: input is NULL", op);
  if ((x->ndim != 1 && x->ndim != 2)
      || x->shape[x->ndim - 1] != m->net.width[0])
    return ann_seterror("%s: input %s does not fit a network of %lld inputs "
                        "(expected [N,%lld] or [%lld])", op,
                        ann_shapestr(x, sx, sizeof sx),
                        (long long)m->net.width[0], (long long)m->net.width[0],
                        (long long)m->net.width[0]);
  *rows = x->ndim == 2 ? x->shape[0] : 1;
  return 0;
}

int ann_mlp_wants_graph(const ann_Mlp *m, const ann_Tensor *x) {
  int l;
  if (!ann_grad_enabled()) return 0;
  if (x && x->requires_grad) return 1;
  for (l = 0; l < m->net.n; l++)
    if (m->w[l]->requires_grad || (m->b[l] && m->b[l]->requires_grad))
      return 1;
  return 0;
}

int64_t ann_mlp_outputs(const ann_Mlp *m) { return m->net.width[m->net.n]; }

int ann_mlp_fits(const ann_Mlp *m, const ann_Tensor *x) {
  return x && (x->ndim == 1 || x->ndim == 2)
         && x->shape[x->ndim - 1] == m->net.width[0];
}

int ann_mlp_forward(ann_Mlp *m, const ann_Tensor *x, ann_Tensor *y) {
  char sy[128];
  float *a[MAXL];
  int64_t rows, no;
  ann_Tensor *xc;
  int st;
  if (m == NULL) return ann_seterror("mlp: NULL network");
  if (check_input(m, "mlp", x, &rows) != 0) return -1;
  no = m->net.width[m->net.n];
  if (y == NULL || y->ndim != x->ndim || !ann_is_contiguous(y)
      || y->shape[y->ndim - 1] != no || (y->ndim == 2 && y->shape[0] != rows))
    return ann_seterror("mlp: output %s, expected dense [%lld,%lld]",
                        y ? ann_shapestr(y, sy, sizeof sy) : "NULL",
                        (long long)rows, (long long)no);
  if (rows == 0) return 0;
  if (reserve(m, &m->lane, rows) != 0) return -1;
  memcpy(a, m->lane.a, sizeof a);
  a[m->net.n - 1] = ann_data(y);      /* the result goes straight to y */
  if (ann_is_contiguous(x))           /* the usual case: no reference */
    return forward(&m->net, a, ann_data(x), rows, alone);
  if ((xc = ann_contiguous((ann_Tensor *)x)) == NULL) return -1;
  st = forward(&m->net, a, ann_data(xc), rows, alone);
  ann_release(xc);
  return st;
}

/* ---- loss and its gradient, one pass ------------------------------------
** Each takes the count the mean divides by (the whole batch's, when the
** rows are a share of it), returns the rows' part of that mean, and writes
** d(mean loss)/d(output) into d, with the formulas of ann_loss.c. */

static double mse(const float *x, const float *t, float *d, int64_t n,
                  double norm) {
  double s = 0;
  float g = (float)(1.0 / norm);
  int64_t i;
  for (i = 0; i < n; i++) {
    float e = x[i] - t[i];
    s += e * e;
    d[i] = 2.0f * e * g;
  }
  return s / norm;
}

static double bce_logits(const float *x, const float *t, float *d, int64_t n,
                         double norm) {
  double s = 0;
  float g = (float)(1.0 / norm);
  int64_t i;
  for (i = 0; i < n; i++) {
    float e = expf(-fabsf(x[i]));
    float sig = x[i] >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
    s += fmaxf(x[i], 0.0f) - x[i] * t[i] + log1pf(e);
    d[i] = g * (sig - t[i]);
  }
  return s / norm;
}

/* softmax cross-entropy; t holds one class index per row (prob = 0) or
** rows of probabilities (prob = 1) */
static double cross_entropy(const float *x, const float *t, float *d,
                            int64_t rows, int64_t c, int prob, double norm) {
  double s = 0;
  float g = (float)(1.0 / norm);
  int64_t i, j;
  for (i = 0; i < rows; i++, x += c, d += c) {
    float mx = x[0], sum = 0, lse, tsum = 1.0f;
    for (j = 1; j < c; j++) mx = fmaxf(mx, x[j]);
    for (j = 0; j < c; j++) sum += expf(x[j] - mx);
    lse = mx + logf(sum);
    if (prob) {
      const float *ti = t + i * c;
      for (tsum = 0, j = 0; j < c; j++) {
        tsum += ti[j];
        s += ti[j] * (lse - x[j]);
      }
      for (j = 0; j < c; j++) d[j] = g * tsum * expf(x[j] - lse) - g * ti[j];
    } else {
      int64_t k = (int64_t)t[i] - 1;
      s += lse - x[k];
      for (j = 0; j < c; j++) d[j] = g * expf(x[j] - lse);
      d[k] -= g;
    }
  }
  return s / norm;
}

/* the loss of rows r0..r1 of the output against targets t (all rows),
** as part of a batch of `total` rows, and d(mean loss)/d(output) of those
** rows in d[0] */
static double loss_grad(ann_Mlp *m, Lane *L, const float *t, ann_MlpLoss loss,
                        int prob, int64_t r0, int64_t r1, int64_t total) {
  int64_t no = m->net.width[m->net.n], n = (r1 - r0) * no;
  const float *out = L->a[m->net.n - 1] + r0 * no;
  float *d = L->d[0] + r0 * no;
  t += r0 * (prob ? no : 1);
  switch (loss) {
    case ANN_MLP_MSE: return mse(out, t, d, n, (double)(total * no));
    case ANN_MLP_BCEL: return bce_logits(out, t, d, n, (double)(total * no));
    default: return cross_entropy(out, t, d, r1 - r0, no, prob, (double)total);
  }
}

/* ---- backward ---------------------------------------------------------- */

/* d *= act'(z), from the activation a = act(z) */
ANN_CLONES
static void act_grad(int act, float slope, const float *a, float *d,
                     int64_t n) {
  int64_t i;
  switch (act) {
    case ANN_ACT_TANH: for (i = 0; i < n; i++) d[i] *= 1.0f - a[i] * a[i];
      break;
    case ANN_ACT_SIGMOID:
      for (i = 0; i < n; i++) d[i] *= a[i] * (1.0f - a[i]);
      break;
    /* selects, not branches: half the signs are random, and mispredicted
    ** branches cost more than the rest of the pass */
    case ANN_ACT_RELU: for (i = 0; i < n; i++) d[i] = a[i] > 0 ? d[i] : 0.0f;
      break;
    case ANN_ACT_LEAKY:
      for (i = 0; i < n; i++) d[i] = a[i] > 0 ? d[i] : d[i] * slope;
      break;
    default: break;
  }
}

/* act_grad on columns c0..c1 of rows of width w */
static void act_grad_cols(int act, float slope, const float *a, float *d,
                          int64_t rows, int64_t w, int64_t c0, int64_t c1) {
  int64_t r;
  if (c1 - c0 == w) { act_grad(act, slope, a, d, rows * w); return; }
  for (r = 0; r < rows; r++)
    act_grad(act, slope, a + r * w + c0, d + r * w + c0, c1 - c0);
}

/* db = sums of columns c0..c1 of d [rows, w], row after row as
** ann_layer.c does */
ANN_CLONES
static void col_sums(const float *restrict d, int64_t rows, int64_t w,
                     int64_t c0, int64_t c1, float *restrict db) {
  int64_t i, j;
  for (j = c0; j < c1; j++) db[j] = 0.0f;
  for (i = 0; i < rows; i++)
    for (j = c0; j < c1; j++) db[j] += d[i * w + j];
}

/* From d[0] = d(loss)/d(output), act' applied: every param's grad,
** overwritten.  Thread tm.i takes its share of each layer's outputs for
** dW and db and of its inputs for dA of the layer below (act' applied
** there too), so after one barrier per layer the next has its whole d.
** With an optimiser, each thread then steps its own rows of the layer
** (s, its share of the params) while they are in its cache: the step of
** mnist-mlp's 235k params otherwise reads them back from memory. */
typedef struct Step Step;
static int step_layer(Step *s, int l);

static int backward(ann_Mlp *m, Lane *L, const float *x, int64_t rows,
                    Step *s, Team tm) {
  float *d = L->d[0], *dn = L->d[1], *tmp;
  int l, st = 0;
  for (l = m->net.n - 1; l >= 0; l--) {
    int64_t ni = m->net.width[l], no = m->net.width[l + 1], c0, c1;
    const float *in = l > 0 ? L->a[l - 1] : x;
    if (narrow(no, tm)) {
      share(ni, tm, &c0, &c1);
      if (c1 > c0)
        st |= ann_gemm_raw(1, 0, no, c1 - c0, rows, 1.0f, d, no, in + c0, ni,
                           0.0f, L->gw[l] + c0, ni);
      if (m->b[l] && tm.i == 0) col_sums(d, rows, no, 0, no, L->gb[l]);
    }
    else {
      share(no, tm, &c0, &c1);
      if (c1 > c0) {
        st |= ann_gemm_raw(1, 0, c1 - c0, ni, rows, 1.0f, d + c0, no, in, ni,
                           0.0f, L->gw[l] + c0 * ni, ni);
        if (m->b[l]) col_sums(d, rows, no, c0, c1, L->gb[l]);
      }
    }
    if (l > 0) {
      share(ni, tm, &c0, &c1);
      if (c1 > c0) {
        st |= ann_gemm_raw(0, 0, rows, c1 - c0, no, 1.0f, d, no,
                           ann_data(m->w[l]) + c0, ni, 0.0f, dn + c0, ni);
        act_grad_cols(m->net.act[l - 1], m->net.slope[l - 1], L->a[l - 1],
                      dn, rows, ni, c0, c1);
      }
    }
    ann_pool_barrier(tm.n);   /* dn whole; nobody reads w[l] any more */
    if (s) st |= step_layer(s, l);
    tmp = d; d = dn; dn = tmp;
  }
  return st;
}

/* every param gets a dense grad of its shape (made if missing) */
static int ensure_grad(ann_Tensor *p) {
  char sp[128];
  if (p == NULL) return 0;
  if (p->grad == NULL) {
    if ((p->grad = ann_zeros(p->ndim, p->shape)) == NULL) return -1;
    return 0;
  }
  if (!ann_same_shape(p, p->grad) || !ann_is_contiguous(p->grad))
    return ann_seterror("mlp: the grad of a %s param is not dense and of "
                        "its shape", ann_shapestr(p, sp, sizeof sp));
  return 0;
}

/* and the backward writes into them */
static int ensure_grads(ann_Mlp *m) {
  int l;
  for (l = 0; l < m->net.n; l++) {
    if (ensure_grad(m->w[l]) != 0 || ensure_grad(m->b[l]) != 0) return -1;
    m->lane.gw[l] = ann_data(m->w[l]->grad);
    m->lane.gb[l] = m->b[l] ? ann_data(m->b[l]->grad) : NULL;
  }
  return 0;
}

/* ---- targets ------------------------------------------------------------ */

/* 1 if y holds rows of width no (probabilities / values), 0 if class
** indices (CE only), -1 on error */
static int check_target(const ann_Mlp *m, ann_MlpLoss loss, const ann_Tensor *y,
                        int64_t rows) {
  char sy[128];
  int64_t no = m->net.width[m->net.n], i;
  if (y == NULL) return ann_seterror("mlp: target is NULL");
  if (!ann_is_contiguous(y))
    return ann_seterror("mlp: target %s is not dense",
                        ann_shapestr(y, sy, sizeof sy));
  if (y->ndim == 2 && y->shape[0] == rows && y->shape[1] == no) return 1;
  if (loss == ANN_MLP_CE && y->ndim == 1 && y->shape[0] == rows) {
    const float *t = ann_data(y);
    for (i = 0; i < rows; i++)
      if (!(t[i] >= 1 && t[i] <= (float)no && t[i] == floorf(t[i])))
        return ann_seterror("mlp: target %g of row %lld is not a class in "
                            "1..%lld", t[i], (long long)i + 1, (long long)no);
    return 0;
  }
  return ann_seterror("mlp: target %s does not fit %lld rows of %lld "
                      "outputs", ann_shapestr(y, sy, sizeof sy),
                      (long long)rows, (long long)no);
}

/* ---- training ----------------------------------------------------------- */

/* One thread's share of the params (the rows of each w and b it computes
** the grads of; all of them when alone) and of their optimiser state,
** as views with the grads' views attached, so that the optimiser call is
** the one the general path makes, element by element the same arithmetic.
** Layer l's are p[off[l]] .. p[off[l+1] - 1]. */
typedef struct Step {
  ann_MlpTrain *t;
  ann_OptimOpts o;            /* t->o with this thread's step number */
  int off[MAXL + 1];
  int whole;                  /* small network: one step after backward */
  ann_Tensor *p[2 * MAXL], *s1[2 * MAXL], *s2[2 * MAXL];
} Step;

static int step_range(Step *s, int a, int b) {
  ann_MlpTrain *t = s->t;
  ann_Tensor **p = s->p + a;
  int n = b - a;
  if (n == 0) return 0;
  if (t->l1 != 0 && ann_l1_grad(n, p, t->l1) != 0) return -1;
  switch (t->opt) {
    case ANN_MLP_SGD:
      return ann_sgd_step(n, p, t->o.momentum != 0 ? s->s1 + a : NULL,
                          &s->o);
    case ANN_MLP_ADAM:
      return ann_adam_step(n, p, s->s1 + a, s->s2 + a, &s->o);
    case ANN_MLP_RMSPROP:
      return ann_rmsprop_step(n, p, s->s1 + a,
                              t->o.momentum != 0 ? s->s2 + a : NULL, &s->o);
  }
  return ann_seterror("mlp: unknown optimiser %d", (int)t->opt);
}

/* layer l's step, during backward; all of them at l < 0, after it */
static int step_layer(Step *s, int l) {
  if (l >= 0) return s->whole ? 0 : step_range(s, s->off[l], s->off[l + 1]);
  return s->whole ? step_range(s, 0, s->off[MAXL]) : 0;
}

static void step_free(Step *s) {
  int k;
  for (k = 0; k < s->off[MAXL]; k++) {
    ann_release(s->p[k]); ann_release(s->s1[k]); ann_release(s->s2[k]);
  }
  s->off[MAXL] = 0;
}

/* rows r0..r1 of t (NULL stays NULL); 0 or -1 */
static int rows_of(ann_Tensor *t, int64_t r0, int64_t r1, ann_Tensor **v) {
  *v = NULL;
  return t && (*v = ann_narrow(t, 0, r0, r1 - r0)) == NULL ? -1 : 0;
}

static int step_init(ann_Mlp *m, ann_MlpTrain *t, Step *s, Team tm) {
  int l, j, k = 0, need1, need2;
  int64_t total = 0;
  need1 = t->opt != ANN_MLP_SGD || t->o.momentum != 0;
  need2 = t->opt == ANN_MLP_ADAM
          || (t->opt == ANN_MLP_RMSPROP && t->o.momentum != 0);
  if ((need1 && t->s1 == NULL) || (need2 && t->s2 == NULL))
    return ann_seterror("mlp: optimiser state missing");
  memset(s, 0, sizeof *s);
  s->t = t;
  s->o = t->o;
  for (l = 0; l < m->net.n; l++) {
    int64_t c0, c1;
    share(m->net.width[l + 1], tm, &c0, &c1);
    s->off[l] = k;
    for (j = 0; j < 2; j++) {
      ann_Tensor *p = j ? m->b[l] : m->w[l];
      total += p ? ann_numel(p) : 0;
      if (p == NULL || c1 == c0) continue;
      s->off[MAXL] = k + 1;   /* what step_free releases */
      if (rows_of(p, c0, c1, &s->p[k]) != 0
          || rows_of(p->grad, c0, c1, &s->p[k]->grad) != 0
          || rows_of(need1 ? t->s1[2 * l + j] : NULL, c0, c1, &s->s1[k]) != 0
          || rows_of(need2 ? t->s2[2 * l + j] : NULL, c0, c1, &s->s2[k]) != 0)
        { step_free(s); return -1; }
      k++;
    }
  }
  for (; l <= MAXL; l++) s->off[l] = k;
  /* below L2-sized state, per-layer calls only add call overhead */
  s->whole = total < 65536;
  return 0;
}

static int check_order(const ann_Tensor *order, int64_t rows) {
  char so[128];
  const float *o;
  int64_t i;
  if (order == NULL) return 0;
  if (order->ndim != 1 || order->shape[0] != rows || !ann_is_contiguous(order))
    return ann_seterror("mlp: order %s, expected dense [%lld]",
                        ann_shapestr(order, so, sizeof so), (long long)rows);
  o = ann_data(order);
  for (i = 0; i < rows; i++)
    if (!(o[i] >= 1 && o[i] <= (float)rows))
      return ann_seterror("mlp: order entry %lld is %g, not in 1..%lld",
                          (long long)i + 1, o[i], (long long)rows);
  return 0;
}

/* right predictions among the nb rows of output out [nb, no] against
** targets t: for CE the argmax is the class (index targets 1-based, or the
** argmax of probability rows); for BCEL an element is right when the
** logit's sign matches t > 0.5; MSE counts none */
static int64_t count_correct(const float *out, const float *t, int64_t nb,
                             int64_t no, ann_MlpLoss kind, int prob) {
  int64_t i, j, right = 0;
  if (kind == ANN_MLP_BCEL) {
    for (i = 0; i < nb * no; i++) right += (out[i] > 0) == (t[i] > 0.5f);
    return right;
  }
  if (kind != ANN_MLP_CE) return 0;
  for (i = 0; i < nb; i++) {
    const float *o = out + i * no;
    int64_t k = 0, want;
    for (j = 1; j < no; j++) if (o[j] > o[k]) k = j;
    if (prob) {
      const float *ti = t + i * no;
      for (want = 0, j = 1; j < no; j++) if (ti[j] > ti[want]) want = j;
    } else
      want = (int64_t)t[i] - 1;
    right += k == want;
  }
  return right;
}

int ann_mlp_grad(ann_Mlp *m, const ann_Tensor *x, const ann_Tensor *y,
                 ann_MlpLoss loss, double *lossval) {
  Lane *L = m ? &m->lane : NULL;
  int64_t rows, tw;
  ann_Tensor *xc;
  int prob, st;
  if (m == NULL) return ann_seterror("mlp: NULL network");
  if (check_input(m, "mlp", x, &rows) != 0) return -1;
  if (x->ndim == 1) return ann_seterror("mlp: a batch [N,%lld] is needed",
                                        (long long)m->net.width[0]);
  if (rows == 0) return ann_seterror("mlp: empty batch");
  if ((prob = check_target(m, loss, y, rows)) < 0) return -1;
  if (reserve(m, L, rows) != 0 || ensure_grads(m) != 0) return -1;
  tw = prob ? m->net.width[m->net.n] : 1;
  memcpy(L->t, ann_data(y), (size_t)(rows * tw) * sizeof(float));
  if ((xc = ann_contiguous((ann_Tensor *)x)) == NULL) return -1;
  st = forward(&m->net, L->a, ann_data(xc), rows, alone);
  if (st == 0) {
    *lossval = loss_grad(m, L, L->t, loss, prob, 0, rows, rows);
    int top = m->net.n - 1;
    act_grad(m->net.act[top], m->net.slope[top], L->a[top], L->d[0],
             rows * m->net.width[m->net.n]);
    st = backward(m, L, ann_data(xc), rows, NULL, alone);
  }
  ann_release(xc);
  return st;
}

/* ---- an epoch, on one thread or several -------------------------------- */

typedef struct Epoch {
  ann_Mlp *m;
  ann_MlpTrain *t;
  const float *xs, *ys, *ord;
  int64_t rows, batch, tw;
  int prob;
  Step *steps;                /* one per thread */
  double part[MAXT_MLP];      /* each thread's share of a batch's loss */
  int64_t right[MAXT_MLP];    /* and of its right predictions */
  /* written by thread 0 (failed by any) before a barrier, read after */
  double sum, loss;
  int64_t done;               /* batches stepped */
  int stop;                   /* the loss of batch done + 1 is not finite */
  _Atomic int failed;
  char msg[256];              /* the first failure's message */
} Epoch;

static void fail(Epoch *e) {
  int no = 0;
  if (atomic_compare_exchange_strong(&e->failed, &no, 1))
    snprintf(e->msg, sizeof e->msg, "%s", ann_error());
}

/* thread tm.i's part of the epoch; every thread passes the same barriers,
** and tests the flags only right after one, so all leave together */
static void epoch_part(void *arg, int i, int n) {
  Epoch *e = arg;
  ann_Mlp *m = e->m;
  Lane *L = &m->lane;
  Team tm = {i, n};
  Step *s = &e->steps[i];
  int64_t ni = m->net.width[0], no = m->net.width[m->net.n], tw = e->tw;
  int64_t s0, r, r0, r1;
  int top = m->net.n - 1;
  double loss;
  for (s0 = 0; s0 < e->rows; s0 += e->batch) {
    int64_t nb = e->rows - s0 < e->batch ? e->rows - s0 : e->batch;
    const float *xb = e->xs + s0 * ni, *tb = e->ys + s0 * tw;
    if (e->ord) {             /* gather the batch's rows, a share each */
      for (r = nb * i / n; r < nb * (i + 1) / n; r++) {
        int64_t k = (int64_t)e->ord[s0 + r] - 1;
        memcpy(L->x + r * ni, e->xs + k * ni, (size_t)ni * sizeof(float));
        memcpy(L->t + r * tw, e->ys + k * tw, (size_t)tw * sizeof(float));
      }
      xb = L->x; tb = L->t;
    }
    /* the host's cancel is asked by the calling thread only; the others
    ** learn it at the barrier, so all stop together between batches */
    if (i == 0 && ann_poll("fit") != 0) fail(e);
    ann_pool_barrier(n);
    if (e->failed) return;
    if (forward(&m->net, L->a, xb, nb, tm) != 0) fail(e);
    r0 = nb * i / n; r1 = nb * (i + 1) / n;   /* the loss: a share of rows */
    e->part[i] = loss_grad(m, L, tb, e->t->loss, e->prob, r0, r1, nb);
    e->right[i] = count_correct(L->a[top] + r0 * no, tb + r0 * tw, r1 - r0,
                                no, e->t->loss, e->prob);
    act_grad(m->net.act[top], m->net.slope[top], L->a[top] + r0 * no,
             L->d[0] + r0 * no, (r1 - r0) * no);
    ann_pool_barrier(n);
    for (loss = 0, r = 0; r < n; r++) loss += e->part[r];
    if (!isfinite(loss) || e->failed) {
      if (i == 0) { e->stop = 1; e->loss = loss; }
      return;
    }
    if (i == 0) {
      e->sum += loss * (double)nb;
      for (r = 0; r < n; r++) e->t->correct += e->right[r];
    }
    s->o.step = e->t->o.step + e->done;
    if (backward(m, L, xb, nb, s, tm) != 0 || step_layer(s, -1) != 0)
      fail(e);
    if (i == 0) e->done++;
  }
}

/* the threads worth having: several only for a network whose step is
** long enough (a 2-8-8-1 network must not wake a pool) */
static int threads_for(ann_Mlp *m, int64_t batch) {
  int64_t macs = 0;
  int l;
  for (l = 0; l < m->net.n; l++) macs += m->net.width[l] * m->net.width[l + 1];
  return macs >= 65536 && macs * batch >= (1 << 22) ? ann_pool_size() : 1;
}

/* the epoch on n threads; -1 if the pool could not have them (nothing
** done), else 0 (e->failed tells how it went); on one thread always 0 */
static int run_epoch(Epoch *e, int n) {
  Step steps[MAXT_MLP];
  int i, k, st = 0;
  for (k = 0; k < n; k++) {
    Team tm = {k, n};
    if (step_init(e->m, e->t, &steps[k], tm) != 0) { fail(e); break; }
  }
  e->steps = steps;
  if (k == n) st = ann_pool_run(epoch_part, e, n);
  for (i = 0; i < k; i++) step_free(&steps[i]);
  e->steps = NULL;
  return st;
}

int ann_mlp_epoch(ann_Mlp *m, const ann_Tensor *x, const ann_Tensor *y,
                  const ann_Tensor *order, int64_t batch, ann_MlpTrain *t,
                  double *mean_loss) {
  char sx[128];
  int64_t rows;
  int prob, n;
  Epoch e;
  if (m == NULL || t == NULL || mean_loss == NULL)
    return ann_seterror("mlp: NULL argument");
  if (check_input(m, "mlp", x, &rows) != 0) return -1;
  if (x->ndim != 2 || !ann_is_contiguous(x) || rows == 0)
    return ann_seterror("mlp: inputs %s must be a dense, non-empty [N,%lld]",
                        ann_shapestr(x, sx, sizeof sx),
                        (long long)m->net.width[0]);
  if (batch < 1) return ann_seterror("mlp: batch size %lld < 1",
                                     (long long)batch);
  if (batch > rows) batch = rows;
  if ((prob = check_target(m, t->loss, y, rows)) < 0) return -1;
  if (check_order(order, rows) != 0 || reserve(m, &m->lane, batch) != 0
      || ensure_grads(m) != 0) return -1;
  memset(&e, 0, sizeof e);
  e.m = m; e.t = t; e.prob = prob;
  e.xs = ann_data(x); e.ys = ann_data(y);
  e.ord = order ? ann_data(order) : NULL;
  e.rows = rows; e.batch = batch;
  e.tw = prob ? m->net.width[m->net.n] : 1;
  n = threads_for(m, batch);
  if (n > MAXT_MLP) n = MAXT_MLP;
  if (run_epoch(&e, n) != 0) run_epoch(&e, 1);  /* the pool is busy */
  t->o.step += e.done;
  if (e.failed) return ann_seterror("%s", e.msg);
  if (e.stop) {               /* not finite: stopped before the update */
    t->bad_step = e.done + 1;
    *mean_loss = e.loss;
    return 0;
  }
  *mean_loss = e.sum / (double)rows;
  return 0;
}
