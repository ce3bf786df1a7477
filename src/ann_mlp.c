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
#include <stdlib.h>
#include <string.h>

#include "ann_impl.h"

#define MAXL 32               /* layers */

struct ann_Mlp {
  int n;
  ann_Tensor *w[MAXL], *b[MAXL];   /* retained */
  int act[MAXL];
  float slope[MAXL];
  int64_t width[MAXL + 1];    /* width[0] inputs, width[l+1] outputs of l */
  int64_t maxw, cap;          /* widest layer; rows the buffers hold */
  float *mem;                 /* one block for all buffers */
  float *x, *t;               /* gathered batch: inputs, targets */
  float *a[MAXL];             /* activations of each layer */
  float *d[2];                /* gradient scratch, used in turn */
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
  if (l > 0 && w->shape[1] != m->width[l])
    return ann_seterror("mlp: layer %d takes %lld inputs (%s) but layer %d "
                        "gives %lld", l + 1, (long long)w->shape[1],
                        ann_shapestr(w, sw, sizeof sw), l,
                        (long long)m->width[l]);
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
  if ((m = calloc(1, sizeof *m)) == NULL)
    return ann_seterror("mlp: out of memory"), NULL;
  m->width[0] = w[0] ? w[0]->shape[w[0]->ndim > 1] : 0;
  for (l = 0; l < n; l++) {
    float s = slope ? slope[l] : 0.0f;
    ann_Tensor *bl = b ? b[l] : NULL;
    if (check_layer(m, l, w[l], bl, act[l], s) != 0) {
      ann_mlp_free(m);
      return NULL;
    }
    m->w[l] = ann_retain(w[l]);
    m->b[l] = bl ? ann_retain(bl) : NULL;
    m->act[l] = act[l];
    m->slope[l] = s;
    m->n = l + 1;
    m->width[l + 1] = w[l]->shape[0];
  }
  for (l = 0; l <= n; l++)
    if (m->width[l] > m->maxw) m->maxw = m->width[l];
  return m;
}

void ann_mlp_free(ann_Mlp *m) {
  int l;
  if (m == NULL) return;
  for (l = 0; l < m->n; l++) { ann_release(m->w[l]); ann_release(m->b[l]); }
  free(m->mem);
  free(m);
}

/* buffers for `rows` rows; they only grow */
static int reserve(ann_Mlp *m, int64_t rows) {
  int64_t per = m->width[0] + m->width[m->n] + 2 * m->maxw, off;
  float *mem;
  int l;
  if (rows <= m->cap) return 0;
  for (l = 1; l <= m->n; l++) per += m->width[l];
  /* rounded to whole cache lines so every buffer starts aligned */
  per = (per + 15) & ~(int64_t)15;
  if (rows > INT64_MAX / 4 / per
      || (mem = aligned_alloc(ANN_ALIGN, (size_t)(rows * per) * 4)) == NULL)
    return ann_seterror("mlp: out of memory for %lld rows", (long long)rows);
  free(m->mem);
  m->mem = mem; m->cap = rows;
#define TAKE(p, w) (p = mem + off, off += ((rows * (w)) + 15) & ~(int64_t)15)
  off = 0;
  TAKE(m->x, m->width[0]);
  TAKE(m->t, m->width[m->n]);
  for (l = 0; l < m->n; l++) TAKE(m->a[l], m->width[l + 1]);
  TAKE(m->d[0], m->maxw);
  TAKE(m->d[1], m->maxw);
#undef TAKE
  return 0;
}

/* ---- forward ----------------------------------------------------------- */

static void activate(int act, float slope, float *z, int64_t n) {
  const ann_Kernels *k = ann_kernels();
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

/* y[i,:] = b for each of n rows (the gemm then adds x w^T, as ann_linear) */
static void fill_rows(float *y, const float *b, int64_t n, int64_t w) {
  int64_t i;
  for (i = 0; i < n; i++) memcpy(y + i * w, b, (size_t)w * sizeof(float));
}

static int forward(ann_Mlp *m, const float *x, int64_t rows) {
  const float *in = x;
  int l;
  for (l = 0; l < m->n; l++) {
    int64_t ni = m->width[l], no = m->width[l + 1];
    float *z = m->a[l];
    if (m->b[l]) fill_rows(z, ann_data(m->b[l]), rows, no);
    if (ann_gemm_raw(0, 1, rows, no, ni, 1.0f, in, ni, ann_data(m->w[l]), ni,
                     m->b[l] ? 1.0f : 0.0f, z, no) != 0) return -1;
    activate(m->act[l], m->slope[l], z, rows * no);
    in = z;
  }
  return 0;
}

static int check_input(const ann_Mlp *m, const char *op, const ann_Tensor *x,
                       int64_t *rows) {
  char sx[128];
  if (x == NULL) return ann_seterror("%s: input is NULL", op);
  if ((x->ndim != 1 && x->ndim != 2) || x->shape[x->ndim - 1] != m->width[0])
    return ann_seterror("%s: input %s does not fit a network of %lld inputs "
                        "(expected [N,%lld] or [%lld])", op,
                        ann_shapestr(x, sx, sizeof sx),
                        (long long)m->width[0], (long long)m->width[0],
                        (long long)m->width[0]);
  *rows = x->ndim == 2 ? x->shape[0] : 1;
  return 0;
}

int ann_mlp_wants_graph(const ann_Mlp *m, const ann_Tensor *x) {
  int l;
  if (!ann_grad_enabled()) return 0;
  if (x && x->requires_grad) return 1;
  for (l = 0; l < m->n; l++)
    if (m->w[l]->requires_grad || (m->b[l] && m->b[l]->requires_grad))
      return 1;
  return 0;
}

int ann_mlp_fits(const ann_Mlp *m, const ann_Tensor *x) {
  return x && (x->ndim == 1 || x->ndim == 2)
         && x->shape[x->ndim - 1] == m->width[0];
}

int ann_mlp_forward(ann_Mlp *m, const ann_Tensor *x, ann_Tensor *y) {
  char sy[128];
  int64_t rows, no;
  ann_Tensor *xc;
  int st;
  if (m == NULL) return ann_seterror("mlp: NULL network");
  if (check_input(m, "mlp", x, &rows) != 0) return -1;
  no = m->width[m->n];
  if (y == NULL || y->ndim != x->ndim || !ann_is_contiguous(y)
      || y->shape[y->ndim - 1] != no || (y->ndim == 2 && y->shape[0] != rows))
    return ann_seterror("mlp: output %s, expected dense [%lld,%lld]",
                        y ? ann_shapestr(y, sy, sizeof sy) : "NULL",
                        (long long)rows, (long long)no);
  if (rows == 0) return 0;
  if (reserve(m, rows) != 0) return -1;
  if ((xc = ann_contiguous((ann_Tensor *)x)) == NULL) return -1;
  st = forward(m, ann_data(xc), rows);
  ann_release(xc);
  if (st == 0)
    memcpy(ann_data(y), m->a[m->n - 1], (size_t)(rows * no) * sizeof(float));
  return st;
}

/* ---- loss and its gradient, one pass ------------------------------------
** Each returns the mean loss of the rows and writes d(loss)/d(output) into
** d, with the formulas of ann_loss.c. */

static double mse(const float *x, const float *t, float *d, int64_t n) {
  double s = 0;
  float g = 1.0f / (float)n;
  int64_t i;
  for (i = 0; i < n; i++) {
    float e = x[i] - t[i];
    s += e * e;
    d[i] = 2.0f * e * g;
  }
  return s / (double)n;
}

static double bce_logits(const float *x, const float *t, float *d, int64_t n) {
  double s = 0;
  float g = 1.0f / (float)n;
  int64_t i;
  for (i = 0; i < n; i++) {
    float e = expf(-fabsf(x[i]));
    float sig = x[i] >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
    s += fmaxf(x[i], 0.0f) - x[i] * t[i] + log1pf(e);
    d[i] = g * (sig - t[i]);
  }
  return s / (double)n;
}

/* softmax cross-entropy; t holds one class index per row (prob = 0) or
** rows of probabilities (prob = 1) */
static double cross_entropy(const float *x, const float *t, float *d,
                            int64_t rows, int64_t c, int prob) {
  double s = 0;
  float g = 1.0f / (float)rows;
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
  return s / (double)rows;
}

static double loss_grad(ann_Mlp *m, ann_MlpLoss loss, int prob, int64_t rows) {
  int64_t no = m->width[m->n];
  const float *out = m->a[m->n - 1];
  switch (loss) {
    case ANN_MLP_MSE: return mse(out, m->t, m->d[0], rows * no);
    case ANN_MLP_BCEL: return bce_logits(out, m->t, m->d[0], rows * no);
    default: return cross_entropy(out, m->t, m->d[0], rows, no, prob);
  }
}

/* ---- backward ---------------------------------------------------------- */

/* d *= act'(z), from the activation a = act(z) */
static void act_grad(int act, float slope, const float *a, float *d,
                     int64_t n) {
  int64_t i;
  switch (act) {
    case ANN_ACT_TANH: for (i = 0; i < n; i++) d[i] *= 1.0f - a[i] * a[i];
      break;
    case ANN_ACT_SIGMOID:
      for (i = 0; i < n; i++) d[i] *= a[i] * (1.0f - a[i]);
      break;
    case ANN_ACT_RELU: for (i = 0; i < n; i++) if (!(a[i] > 0)) d[i] = 0;
      break;
    case ANN_ACT_LEAKY:
      for (i = 0; i < n; i++) if (!(a[i] > 0)) d[i] *= slope;
      break;
    default: break;
  }
}

/* db = column sums of d [rows, w], row after row as ann_layer.c does */
static void col_sums(const float *d, int64_t rows, int64_t w, float *db) {
  ann_KBin add = ann_kernels()->vv[ANN_ADD];
  int64_t i;
  memset(db, 0, (size_t)w * sizeof(float));
  for (i = 0; i < rows; i++) add(w, db, d + i * w, db);
}

/* from d[0] = d(loss)/d(output): every param's grad, overwritten */
static int backward(ann_Mlp *m, const float *x, int64_t rows) {
  float *d = m->d[0], *dn = m->d[1], *tmp;
  int l;
  for (l = m->n - 1; l >= 0; l--) {
    int64_t ni = m->width[l], no = m->width[l + 1];
    const float *in = l > 0 ? m->a[l - 1] : x;
    act_grad(m->act[l], m->slope[l], m->a[l], d, rows * no);
    if (ann_gemm_raw(1, 0, no, ni, rows, 1.0f, d, no, in, ni, 0.0f,
                     ann_data(m->w[l]->grad), ni) != 0) return -1;
    if (m->b[l]) col_sums(d, rows, no, ann_data(m->b[l]->grad));
    if (l > 0) {
      if (ann_gemm_raw(0, 0, rows, ni, no, 1.0f, d, no, ann_data(m->w[l]), ni,
                       0.0f, dn, ni) != 0) return -1;
      tmp = d; d = dn; dn = tmp;
    }
  }
  return 0;
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

static int ensure_grads(ann_Mlp *m) {
  int l;
  for (l = 0; l < m->n; l++)
    if (ensure_grad(m->w[l]) != 0 || ensure_grad(m->b[l]) != 0) return -1;
  return 0;
}

/* ---- targets ------------------------------------------------------------ */

/* 1 if y holds rows of width no (probabilities / values), 0 if class
** indices (CE only), -1 on error */
static int check_target(const ann_Mlp *m, ann_MlpLoss loss, const ann_Tensor *y,
                        int64_t rows) {
  char sy[128];
  int64_t no = m->width[m->n], i;
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

int ann_mlp_grad(ann_Mlp *m, const ann_Tensor *x, const ann_Tensor *y,
                 ann_MlpLoss loss, double *lossval) {
  int64_t rows, tw;
  ann_Tensor *xc;
  int prob, st;
  if (m == NULL) return ann_seterror("mlp: NULL network");
  if (check_input(m, "mlp", x, &rows) != 0) return -1;
  if (x->ndim == 1) return ann_seterror("mlp: a batch [N,%lld] is needed",
                                        (long long)m->width[0]);
  if (rows == 0) return ann_seterror("mlp: empty batch");
  if ((prob = check_target(m, loss, y, rows)) < 0) return -1;
  if (reserve(m, rows) != 0 || ensure_grads(m) != 0) return -1;
  tw = prob ? m->width[m->n] : 1;
  memcpy(m->t, ann_data(y), (size_t)(rows * tw) * sizeof(float));
  if ((xc = ann_contiguous((ann_Tensor *)x)) == NULL) return -1;
  st = forward(m, ann_data(xc), rows);
  if (st == 0) {
    *lossval = loss_grad(m, loss, prob, rows);
    st = backward(m, ann_data(xc), rows);
  }
  ann_release(xc);
  return st;
}

/* ---- training ----------------------------------------------------------- */

typedef struct Step {
  int n;                      /* params */
  ann_Tensor *p[2 * MAXL], *s1[2 * MAXL], *s2[2 * MAXL];
} Step;

static int step(ann_MlpTrain *t, Step *s) {
  if (t->l1 != 0 && ann_l1_grad(s->n, s->p, t->l1) != 0) return -1;
  switch (t->opt) {
    case ANN_MLP_SGD:
      return ann_sgd_step(s->n, s->p, t->o.momentum != 0 ? s->s1 : NULL,
                          &t->o);
    case ANN_MLP_ADAM: return ann_adam_step(s->n, s->p, s->s1, s->s2, &t->o);
    case ANN_MLP_RMSPROP:
      return ann_rmsprop_step(s->n, s->p, s->s1,
                              t->o.momentum != 0 ? s->s2 : NULL, &t->o);
  }
  return ann_seterror("mlp: unknown optimiser %d", (int)t->opt);
}

/* the params (w, b of each layer, b skipped when absent) and their state */
static int step_init(ann_Mlp *m, ann_MlpTrain *t, Step *s) {
  int l, k = 0, need1, need2;
  need1 = t->opt != ANN_MLP_SGD || t->o.momentum != 0;
  need2 = t->opt == ANN_MLP_ADAM
          || (t->opt == ANN_MLP_RMSPROP && t->o.momentum != 0);
  if ((need1 && t->s1 == NULL) || (need2 && t->s2 == NULL))
    return ann_seterror("mlp: optimiser state missing");
  for (l = 0; l < m->n; l++) {
    int j;
    for (j = 0; j < 2; j++) {
      ann_Tensor *p = j ? m->b[l] : m->w[l];
      if (p == NULL) continue;
      s->p[k] = p;
      s->s1[k] = need1 ? t->s1[2 * l + j] : NULL;
      s->s2[k] = need2 ? t->s2[2 * l + j] : NULL;
      k++;
    }
  }
  s->n = k;
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

int ann_mlp_epoch(ann_Mlp *m, const ann_Tensor *x, const ann_Tensor *y,
                  const ann_Tensor *order, int64_t batch, ann_MlpTrain *t,
                  double *mean_loss) {
  char sx[128];
  int64_t rows, ni, tw, s0, i;
  const float *xs, *ys, *ord;
  double sum = 0;
  int prob;
  Step s;
  if (m == NULL || t == NULL || mean_loss == NULL)
    return ann_seterror("mlp: NULL argument");
  if (check_input(m, "mlp", x, &rows) != 0) return -1;
  if (x->ndim != 2 || !ann_is_contiguous(x) || rows == 0)
    return ann_seterror("mlp: inputs %s must be a dense, non-empty [N,%lld]",
                        ann_shapestr(x, sx, sizeof sx),
                        (long long)m->width[0]);
  if (batch < 1) return ann_seterror("mlp: batch size %lld < 1",
                                     (long long)batch);
  if (batch > rows) batch = rows;
  if ((prob = check_target(m, t->loss, y, rows)) < 0) return -1;
  if (check_order(order, rows) != 0 || step_init(m, t, &s) != 0
      || reserve(m, batch) != 0 || ensure_grads(m) != 0) return -1;
  ni = m->width[0];
  tw = prob ? m->width[m->n] : 1;
  xs = ann_data(x); ys = ann_data(y);
  ord = order ? ann_data(order) : NULL;
  for (s0 = 0; s0 < rows; s0 += batch) {
    int64_t nb = rows - s0 < batch ? rows - s0 : batch;
    const float *xb = xs + s0 * ni;
    if (ord) {                /* gather the batch's rows */
      for (i = 0; i < nb; i++) {
        int64_t r = (int64_t)ord[s0 + i] - 1;
        memcpy(m->x + i * ni, xs + r * ni, (size_t)ni * sizeof(float));
        memcpy(m->t + i * tw, ys + r * tw, (size_t)tw * sizeof(float));
      }
      xb = m->x;
    }
    else memcpy(m->t, ys + s0 * tw, (size_t)(nb * tw) * sizeof(float));
    if (forward(m, xb, nb) != 0) return -1;
    sum += loss_grad(m, t->loss, prob, nb) * (double)nb;
    if (backward(m, xb, nb) != 0 || step(t, &s) != 0) return -1;
    t->o.step++;
  }
  *mean_loss = sum / (double)rows;
  return 0;
}
