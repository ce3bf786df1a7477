/*
** ann_autograd.c: the autograd engine.  Grad mode, graph nodes, the
** backward walk, and gradient accumulation.  The backward of each op lives
** in ann_grad_ops.c and ann_grad_shape.c.
*/
#include <stdlib.h>
#include <string.h>

#include "ann_impl.h"

/* ---- grad mode ------------------------------------------------------- */

/* the default context's mode is per thread, as in PyTorch; another
** context has its own (0: on, the default) */
static ANN_TLS int grad_off_default;

static int *grad_off_ptr(void) {
  ann_Ctx *c = ann_ctx();
  return c->isdefault ? &grad_off_default : &c->grad_off;
}

int ann_grad_enabled(void) { return !*grad_off_ptr(); }

int ann_set_grad_enabled(int on) {
  int *off = grad_off_ptr();
  int was = !*off;
  *off = !on;
  return was;
}

int ann_is_leaf(const ann_Tensor *t) { return t->node == NULL; }

int ann_set_requires_grad(ann_Tensor *t, int on) {
  char s[128];
  if (t == NULL) return ann_seterror("requires_grad: tensor is NULL");
  if (t->node != NULL)
    return ann_seterror("requires_grad: %s is the result of '%s', not a leaf; "
                        "use detach() to make a leaf",
                        ann_shapestr(t, s, sizeof s), t->node->name);
  t->requires_grad = on != 0;
  return 0;
}

int ann_check_inplace(const ann_Tensor *t, const char *op) {
  if (ann_grad_enabled() && t->requires_grad)
    return ann_seterror("%s: in-place operation on a tensor that requires "
                        "grad", op);
  return 0;
}

ann_Tensor *ann_detach(ann_Tensor *t) {
  if (t == NULL) return ann_seterror("detach: tensor is NULL"), NULL;
  return ann_new_view(t);          /* no node, requires_grad 0 */
}

/* ---- nodes ----------------------------------------------------------- */

int ann_ag_needs(int n, ann_Tensor *const *inputs) {
  int i;
  if (!ann_grad_enabled()) return 0;
  for (i = 0; i < n; i++)
    if (inputs[i] && inputs[i]->requires_grad) return 1;
  return 0;
}

ann_Node *ann_ag_attach(ann_Tensor *out, const char *name, ann_BackwardFn bw,
                        int n, ann_Tensor *const *inputs) {
  ann_Node *nd;
  int i;
  if (out->node != NULL) {      /* a fresh result never has one */
    ann_seterror("%s: result already has a graph node", name);
    ann_release(out);
    return NULL;
  }
  nd = ann_calloc(1, sizeof *nd + (size_t)n * sizeof(ann_Tensor *));
  if (nd == NULL) {
    ann_nomem(name);
    ann_release(out);
    return NULL;
  }
  nd->name = name;
  nd->backward = bw;
  nd->ninputs = n;
  for (i = 0; i < n; i++) nd->inputs[i] = ann_retain(inputs[i]);
  out->node = nd;
  out->requires_grad = 1;
  return nd;
}

/* Freeing a node releases its inputs, whose nodes may go next, and so on
** down a chain as long as the graph.  Nested frees are queued on a work
** list and drained by the outermost call, so the C stack stays flat. */
static _Thread_local struct {
  ann_Node **v;
  size_t n, cap;
  int active;
} pend;

/* releases what the node holds; a cleared node has no backward (freed) */
static void node_clear(ann_Node *nd) {
  int i;
  for (i = 0; i < nd->ninputs; i++) {
    ann_release(nd->inputs[i]);
    nd->inputs[i] = NULL;
  }
  for (i = 0; i < 2; i++) {
    ann_release(nd->saved[i]);
    nd->saved[i] = NULL;
  }
  nd->ninputs = 0;
  nd->backward = NULL;
}

static void drain(void) {
  pend.active = 1;
  while (pend.n > 0) {
    ann_Node *nd = pend.v[--pend.n];
    node_clear(nd);
    ann_free(nd);
  }
  ann_free(pend.v);
  pend.v = NULL;
  pend.cap = 0;
  pend.active = 0;
}

static int push_pending(ann_Node *nd) {
  if (pend.n == pend.cap) {
    size_t cap = pend.cap ? 2 * pend.cap : 64;
    ann_Node **v = ann_realloc(pend.v, cap * sizeof *v);
    if (v == NULL) return -1;
    pend.v = v;
    pend.cap = cap;
  }
  pend.v[pend.n++] = nd;
  return 0;
}

void ann_node_free(ann_Node *nd) {
  if (pend.active) {
    if (push_pending(nd) == 0) return;
    node_clear(nd);            /* out of memory: recurse instead */
    ann_free(nd);
    return;
  }
  pend.active = 1;
  node_clear(nd);
  ann_free(nd);
  drain();
}

/* clears a node in place (the graph is used up), chains kept flat */
static void node_release_graph(ann_Node *nd) {
  if (pend.active) { node_clear(nd); return; }
  pend.active = 1;
  node_clear(nd);
  drain();
}

/* ---- helpers shared with ann_grad_*.c --------------------------------- */

void ann_ag_addto(ann_Tensor *dst, const ann_Tensor *src) {
  int64_t sst[ANN_MAXDIM];
  const int64_t *strides[2];
  float *d = ann_data(dst);
  const float *s = ann_data(src);
  ann_KBin add = ann_kernels()->vv[ANN_ADD];   /* runs: SIMD */
  ann_Loop l;
  ann_bstrides(src, dst->ndim, sst);
  strides[0] = dst->stride; strides[1] = sst;
  ann_loop_init(&l, 2, dst->ndim, dst->shape, strides);
  if (l.empty) return;
  do {
    float *y = d + l.off[0];
    const float *x = s + l.off[1];
    int64_t i, sy = l.step[0], sx = l.step[1];
    if (sy == 1 && sx == 1) add(l.len, y, x, y);
    else
      for (i = 0; i < l.len; i++) y[i * sy] += x[i * sx];
  } while (ann_loop_next(&l));
}

ann_Tensor *ann_ag_contig(const ann_Tensor *t) {
  ann_Tensor *c;
  if (ann_is_contiguous(t)) return ann_retain((ann_Tensor *)t);
  c = ann_zeros(t->ndim, t->shape);
  if (c) ann_ag_addto(c, t);
  return c;
}

ann_Tensor *ann_sum_to(const ann_Tensor *g, int ndim, const int64_t *shape) {
  char s1[128], s2[128];
  int64_t ost[ANN_MAXDIM], cst[ANN_MAXDIM];
  const int64_t *strides[2];
  ann_Tensor *out, tmp;
  ann_Loop l;
  int i, k = g->ndim - ndim;
  int ok = ndim >= 0 && k >= 0;
  for (i = 0; ok && i < ndim; i++)
    if (shape[i] != g->shape[i + k] && shape[i] != 1) ok = 0;
  if (!ok) {
    memset(&tmp, 0, sizeof tmp);
    tmp.ndim = ndim > 0 && ndim <= ANN_MAXDIM ? ndim : 0;
    for (i = 0; i < tmp.ndim; i++) tmp.shape[i] = shape[i];
    return ann_seterror("sum_to: cannot sum %s down to %s",
                        ann_shapestr(g, s1, sizeof s1),
                        ann_shapestr(&tmp, s2, sizeof s2)), NULL;
  }
  if (k == 0) {
    for (i = 0; i < ndim && shape[i] == g->shape[i]; i++) ;
    if (i == ndim) return ann_retain((ann_Tensor *)g);
  }
  if ((out = ann_zeros(ndim, shape)) == NULL) return NULL;
  /* out seen with g's shape: stride 0 where g's dims get summed */
  ann_contig_strides(ndim, shape, cst);
  for (i = 0; i < g->ndim; i++)
    ost[i] = i < k || shape[i - k] != g->shape[i] ? 0 : cst[i - k];
  strides[0] = g->stride; strides[1] = ost;
  ann_loop_init(&l, 2, g->ndim, g->shape, strides);
  if (l.empty) return out;
  do {
    const float *x = ann_data(g) + l.off[0];
    float *y = ann_data(out) + l.off[1];
    int64_t j, sx = l.step[0], sy = l.step[1];
    if (sy == 0) {
      double acc = 0;
      for (j = 0; j < l.len; j++) acc += x[j * sx];
      *y += (float)acc;
    } else {
      for (j = 0; j < l.len; j++) y[j * sy] += x[j * sx];
    }
  } while (ann_loop_next(&l));
  return out;
}

/* ---- accumulation ---------------------------------------------------- */

/* leaves own a contiguous grad, added to in place; inner tensors keep any
** tensor of their shape (it may be a view of someone's gout) and add out
** of place, so no gradient is ever written through an alias */
static int accumulate(ann_Tensor *t, ann_Tensor *s) {
  char s1[128], s2[128];
  ann_Tensor *g;
  if (t->grad && !ann_same_shape(t->grad, t)) {
    ann_release(s);
    return ann_seterror("backward: grad %s of a tensor of shape %s",
                        ann_shapestr(t->grad, s1, sizeof s1),
                        ann_shapestr(t, s2, sizeof s2));
  }
  if (t->node == NULL) {                          /* leaf */
    if (t->grad) { ann_ag_addto(t->grad, s); ann_release(s); return 0; }
    if (s->refs == 1 && s->st->refs == 1 && ann_is_contiguous(s)) {
      t->grad = s;                               /* ours alone: keep it */
      return 0;
    }
    g = ann_zeros(t->ndim, t->shape);
    if (g) ann_ag_addto(g, s);
    ann_release(s);
    if (g == NULL) return -1;
    t->grad = g;
    return 0;
  }
  if (t->grad == NULL) { t->grad = s; return 0; }  /* inner, first */
  g = ann_ag_contig(t->grad);
  if (g && g == t->grad) {                      /* don't write into it */
    ann_release(g);
    g = ann_zeros(t->ndim, t->shape);
    if (g) ann_ag_addto(g, t->grad);
  }
  if (g == NULL) { ann_release(s); return -1; }
  ann_ag_addto(g, s);
  ann_release(s);
  ann_release(t->grad);
  t->grad = g;
  return 0;
}

/* g may be a caller's header on the stack: keep no reference to it */
int ann_ag_accumulate(ann_Tensor *t, const ann_Tensor *g) {
  ann_Tensor *s;
  if (t == NULL || !t->requires_grad) return 0;
  if ((s = ann_sum_to(g, t->ndim, t->shape)) == NULL) return -1;
  if (s == g && t->node != NULL && t->grad == NULL) {
    ann_release(s);
    if ((s = ann_zeros(t->ndim, t->shape)) == NULL) return -1;
    ann_ag_addto(s, g);
  }
  return accumulate(t, s);
}

int ann_ag_take(ann_Tensor *t, ann_Tensor *g) {
  ann_Tensor *s;
  if (g == NULL) return -1;
  if (t == NULL || !t->requires_grad) { ann_release(g); return 0; }
  s = ann_sum_to(g, t->ndim, t->shape);
  ann_release(g);
  if (s == NULL) return -1;
  return accumulate(t, s);
}

/* ---- the backward walk ------------------------------------------------- */

typedef struct Frame { ann_Tensor *t; int i; } Frame;

typedef struct Walk {
  Frame *stack; size_t ns, cs;
  ann_Tensor **order; size_t no, co;     /* post-order, retained */
  ann_Tensor **set; size_t nset, cset;   /* visited: open addressing */
} Walk;

static size_t hashp(const void *p, size_t mask) {
  uintptr_t x = (uintptr_t)p;
  x ^= x >> 17; x *= 0x9e3779b97f4a7c15ull; x ^= x >> 29;
  return (size_t)x & mask;
}

/* 1 if added, 0 if already there, -1 out of memory */
static int visit(Walk *w, ann_Tensor *t) {
  size_t i;
  if (2 * (w->nset + 1) > w->cset) {    /* grow, keep load under 1/2 */
    size_t c = w->cset ? 2 * w->cset : 256, k;
    ann_Tensor **s = ann_calloc(c, sizeof *s);
    if (s == NULL) return -1;
    for (k = 0; k < w->cset; k++)
      if (w->set[k]) {
        for (i = hashp(w->set[k], c - 1); s[i]; i = (i + 1) & (c - 1)) ;
        s[i] = w->set[k];
      }
    ann_free(w->set);
    w->set = s;
    w->cset = c;
  }
  for (i = hashp(t, w->cset - 1); w->set[i]; i = (i + 1) & (w->cset - 1))
    if (w->set[i] == t) return 0;
  w->set[i] = t;
  w->nset++;
  return 1;
}

static int grow(void **v, size_t *cap, size_t need, size_t size) {
  void *p;
  size_t c;
  if (need <= *cap) return 0;
  c = *cap ? 2 * *cap : 64;
  if ((p = ann_realloc(*v, c * size)) == NULL) return -1;
  *v = p;
  *cap = c;
  return 0;
}

static int freed_error(const ann_Tensor *t) {
  char s[128];
  return ann_seterror("backward: the graph through '%s' (result %s) was "
                      "already freed by an earlier backward; run the "
                      "forward pass again", t->node->name,
                      ann_shapestr(t, s, sizeof s));
}

/* depth-first from root over tensors with nodes; order gets them with
** every tensor after the ones it was computed from */
static int topo(Walk *w, ann_Tensor *root) {
  if (visit(w, root) < 0 || grow((void **)&w->stack, &w->cs, 1, sizeof(Frame)))
    return ann_nomem("backward");
  w->stack[w->ns].t = root; w->stack[w->ns].i = 0; w->ns++;
  while (w->ns > 0) {
    Frame *f = &w->stack[w->ns - 1];
    ann_Node *nd = f->t->node;
    if (nd->backward == NULL) return freed_error(f->t);
    if (f->i < nd->ninputs) {
      ann_Tensor *c = nd->inputs[f->i++];
      int r;
      if (c == NULL || c->node == NULL || !c->requires_grad) continue;
      if ((r = visit(w, c)) < 0) return ann_nomem("backward");
      if (r == 0) continue;
      if (grow((void **)&w->stack, &w->cs, w->ns + 1, sizeof(Frame)))
        return ann_nomem("backward");
      w->stack[w->ns].t = c; w->stack[w->ns].i = 0; w->ns++;
    } else {
      if (grow((void **)&w->order, &w->co, w->no + 1, sizeof(ann_Tensor *)))
        return ann_nomem("backward");
      w->order[w->no++] = ann_retain(f->t);
      w->ns--;
    }
  }
  return 0;
}

static int check_root(const ann_Tensor *root, const ann_Tensor *grad) {
  char s1[128], s2[128];
  if (root == NULL) return ann_seterror("backward: tensor is NULL");
  if (!root->requires_grad)
    return ann_seterror("backward: tensor %s does not require grad and has "
                        "no graph", ann_shapestr(root, s1, sizeof s1));
  if (grad == NULL && ann_numel(root) != 1)
    return ann_seterror("backward: grad can be implicitly created only for "
                        "scalar outputs, got %s",
                        ann_shapestr(root, s1, sizeof s1));
  if (grad && !ann_same_shape(grad, root))
    return ann_seterror("backward: grad %s does not match the output %s",
                        ann_shapestr(grad, s1, sizeof s1),
                        ann_shapestr(root, s2, sizeof s2));
  return 0;
}

int ann_backward(ann_Tensor *root, const ann_Tensor *grad) {
  Walk w;
  ann_Tensor *g0;
  size_t k;
  int st = 0;
  if (check_root(root, grad) < 0) return -1;
  g0 = grad ? ann_retain((ann_Tensor *)grad)
            : ann_full(root->ndim, root->shape, 1.0f);
  if (g0 == NULL) return -1;
  if (root->node == NULL) return ann_ag_take(root, g0);   /* a leaf */
  memset(&w, 0, sizeof w);
  if (topo(&w, root) < 0) { ann_release(g0); st = -1; goto done; }
  ann_release(root->grad);
  root->grad = g0;
  for (k = w.no; k-- > 0; ) {         /* root first, inputs after users */
    ann_Tensor *t = w.order[k], *g = t->grad;
    ann_Node *nd = t->node;
    t->grad = NULL;                   /* inner gradients are not kept */
    if (st == 0 && ann_poll("backward") != 0) st = -1;
    if (st == 0 && g && nd->backward(nd, t, g) != 0) st = -1;
    ann_release(g);
    if (st == 0) node_release_graph(nd);
    ann_release(t);                   /* no later step needs it */
    w.order[k] = NULL;
  }
done:
  for (k = 0; k < w.no; k++) ann_release(w.order[k]);
  ann_free(w.order); ann_free(w.stack); ann_free(w.set);
  return st;
}
