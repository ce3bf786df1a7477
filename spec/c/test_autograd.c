/*
** test_autograd.c: the autograd engine.  Gradients here are worked out by
** hand; test_gradcheck.c checks every op against finite differences.
*/
#include <pthread.h>
#include <string.h>

#include "test.h"

#define SH(...) (const int64_t[]){__VA_ARGS__}

static float at(const ann_Tensor *t, int64_t i) {   /* flat, contiguous */
  return ann_data(t)[i];
}

static ann_Tensor *leaf(const float *v, int nd, const int64_t *shape) {
  ann_Tensor *t = ann_from_data(v, nd, shape);
  ann_set_requires_grad(t, 1);
  return t;
}

/* y = sum((a*b + a)^2), a = [1,2], b = [3,1]: u = a(b+1) = [4,4], y = 32;
** dy/du = 2u = [8,8]; dy/da = 2u (b+1) = [32,16]; dy/db = 2u a = [8,16] */
static ann_Tensor *chain(ann_Tensor *a, ann_Tensor *b, ann_Tensor **inner) {
  ann_Tensor *ab = ann_ag_binary(ANN_MUL, a, b);
  ann_Tensor *u = ann_ag_binary(ANN_ADD, ab, a);
  ann_Tensor *u2 = ann_ag_binary_scalar(ANN_POW, u, 2, 0);
  ann_Tensor *y = ann_ag_sum(u2, -1, 0);
  ann_release(ab); ann_release(u2);
  if (inner) *inner = u; else ann_release(u);
  return y;
}

static void test_chain(void) {
  ann_Tensor *a = leaf((float[]){1, 2}, 1, SH(2));
  ann_Tensor *b = leaf((float[]){3, 1}, 1, SH(2));
  ann_Tensor *u, *y = chain(a, b, &u);
  float v;
  CHECK(ann_item(y, &v) == 0);
  CHECK_NEAR(v, 32, 0);
  CHECK(y->requires_grad && !ann_is_leaf(y) && ann_is_leaf(a));
  CHECK(ann_backward(y, NULL) == 0);
  CHECK(a->grad && b->grad && ann_same_shape(a->grad, a));
  CHECK_NEAR(at(a->grad, 0), 32, 1e-5); CHECK_NEAR(at(a->grad, 1), 16, 1e-5);
  CHECK_NEAR(at(b->grad, 0), 8, 1e-5);  CHECK_NEAR(at(b->grad, 1), 16, 1e-5);
  CHECK(u->grad == NULL && y->grad == NULL);   /* inner grads not kept */
  /* the graph is freed: a second backward through it is an error */
  CHECK_ERR(ann_backward(y, NULL) == 0, "already freed");
  {
    ann_Tensor *g = ann_full(1, SH(2), 1.0f);
    CHECK_ERR(ann_backward(u, g) == 0, "already freed");
    CHECK_ERR(ann_backward(u, NULL) == 0,
              "grad can be implicitly created only for scalar outputs, got [2]");
    ann_release(g);
  }
  ann_release(y); ann_release(u);
  /* a new forward pass: leaf grads accumulate across backward calls */
  y = chain(a, b, NULL);
  CHECK(ann_backward(y, NULL) == 0);
  CHECK_NEAR(at(a->grad, 0), 64, 1e-5); CHECK_NEAR(at(a->grad, 1), 32, 1e-5);
  CHECK_NEAR(at(b->grad, 0), 16, 1e-5); CHECK_NEAR(at(b->grad, 1), 32, 1e-5);
  ann_release(y); ann_release(a); ann_release(b);
}

/* broadcasting: a [2,1] + b [3] -> [2,3]; d sum / da = 3 per row, db = 2 */
static void test_broadcast(void) {
  ann_Tensor *a = leaf((float[]){1, 2}, 2, SH(2, 1));
  ann_Tensor *b = leaf((float[]){1, 2, 3}, 1, SH(3));
  ann_Tensor *c = ann_ag_binary(ANN_ADD, a, b);
  ann_Tensor *y = ann_ag_sum(c, -1, 0);
  CHECK(ann_backward(y, NULL) == 0);
  CHECK(a->grad && ann_same_shape(a->grad, a) && ann_is_contiguous(a->grad));
  CHECK(b->grad && ann_same_shape(b->grad, b));
  CHECK_NEAR(at(a->grad, 0), 3, 0); CHECK_NEAR(at(a->grad, 1), 3, 0);
  CHECK_NEAR(at(b->grad, 0), 2, 0); CHECK_NEAR(at(b->grad, 2), 2, 0);
  ann_release(y); ann_release(c); ann_release(a); ann_release(b);
}

/* explicit grad; a diamond (a used twice) sums both paths */
static void test_explicit_and_diamond(void) {
  ann_Tensor *a = leaf((float[]){1, -2}, 1, SH(2));
  ann_Tensor *g = ann_from_data((float[]){1, 10}, 1, SH(2));
  ann_Tensor *y = ann_ag_binary_scalar(ANN_MUL, a, 3, 0);
  ann_Tensor *p, *q, *z;
  CHECK(ann_backward(y, g) == 0);
  CHECK_NEAR(at(a->grad, 0), 3, 0); CHECK_NEAR(at(a->grad, 1), 30, 0);
  ann_release(y);
  ann_release(a->grad); a->grad = NULL;
  /* z = sum(a*a + a): dz/da = 2a + 1 */
  p = ann_ag_binary(ANN_MUL, a, a);
  q = ann_ag_binary(ANN_ADD, p, a);
  z = ann_ag_sum(q, -1, 0);
  CHECK(ann_backward(z, NULL) == 0);
  CHECK_NEAR(at(a->grad, 0), 3, 0); CHECK_NEAR(at(a->grad, 1), -3, 0);
  /* a wrong-shaped grad is refused */
  {
    ann_Tensor *g3 = ann_full(1, SH(3), 1.0f);
    CHECK_ERR(ann_backward(q, g3) == 0,
              "backward: grad [3] does not match the output [2]");
    ann_release(g3);
  }
  ann_release(p); ann_release(q); ann_release(z);
  ann_release(g); ann_release(a);
}

/* grad mode off records nothing; detach cuts history; in-place checks */
static void test_modes(void) {
  ann_Tensor *a = leaf((float[]){1, 2, 3}, 1, SH(3));
  ann_Tensor *y, *d, *c;
  int was = ann_set_grad_enabled(0);
  CHECK(was == 1 && !ann_grad_enabled());
  y = ann_ag_binary(ANN_MUL, a, a);
  CHECK(y->node == NULL && !y->requires_grad);
  CHECK(ann_check_inplace(a, "add_") == 0);   /* allowed without grad */
  ann_release(y);
  CHECK(ann_set_grad_enabled(was) == 0 && ann_grad_enabled());
  CHECK_ERR(ann_check_inplace(a, "add_") == 0,
            "add_: in-place operation on a tensor that requires grad");
  y = ann_ag_unary(ANN_EXP, a);
  CHECK_ERR(ann_check_inplace(y, "mul_") == 0,
            "mul_: in-place operation on a tensor that requires grad");
  CHECK_ERR(ann_set_requires_grad(y, 0) == 0, "not a leaf");
  d = ann_detach(y);
  CHECK(d->node == NULL && !d->requires_grad && ann_is_leaf(d));
  CHECK(ann_data(d) == ann_data(y));            /* shares storage */
  CHECK(ann_check_inplace(d, "fill_") == 0);
  c = ann_ag_binary(ANN_MUL, d, d);             /* nothing to record */
  CHECK(c->node == NULL && !c->requires_grad);
  CHECK_ERR(ann_backward(c, NULL) == 0, "does not require grad");
  ann_release(c); ann_release(d); ann_release(y);
  /* comparisons are not differentiable: no node */
  c = ann_ag_binary(ANN_GT, a, a);
  CHECK(c->node == NULL && !c->requires_grad);
  ann_release(c);
  /* backward on a leaf itself accumulates into it */
  {
    ann_Tensor *g = ann_from_data((float[]){1, 2, 3}, 1, SH(3));
    CHECK(ann_backward(a, g) == 0 && a->grad != NULL && a->grad != g);
    CHECK(ann_backward(a, g) == 0);
    CHECK_NEAR(at(a->grad, 0), 2, 0); CHECK_NEAR(at(a->grad, 2), 6, 0);
    CHECK_NEAR(at(g, 2), 3, 0);                /* the caller's grad intact */
    ann_release(g);
  }
  ann_release(a);
}

/* a chain of 1e5 ops (an unrolled RNN): backward and release must not
** recurse on the C stack; run on a thread with a 256 KiB stack */
#define CHAIN 100000

static void *long_chain(void *arg) {
  ann_Tensor *x = leaf((float[]){0.5f}, 0, NULL);
  ann_Tensor *y = ann_retain(x), *z;
  int i, *ok = arg;
  float v;
  for (i = 0; i < CHAIN; i++) {      /* y = y + 1: dy/dx = 1 */
    z = ann_ag_binary_scalar(ANN_ADD, y, 1.0f, 0);
    ann_release(y);
    if ((y = z) == NULL) return NULL;
  }
  ok[0] = ann_backward(y, NULL) == 0 && x->grad && ann_item(x->grad, &v) == 0
          && v == 1.0f;
  ann_release(y);                     /* the rest of the chain */
  /* a second chain released without backward */
  y = ann_retain(x);
  for (i = 0; i < CHAIN; i++) {
    z = ann_ag_unary(ANN_NEG, y);
    ann_release(y);
    if ((y = z) == NULL) return NULL;
  }
  ann_release(y);
  ann_release(x);
  ok[1] = 1;
  return NULL;
}

static void test_long_chain(void) {
  pthread_attr_t at;
  pthread_t th;
  int ok[2] = {0, 0};
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, 256 * 1024);
  CHECK(pthread_create(&th, &at, long_chain, ok) == 0);
  pthread_join(th, NULL);
  pthread_attr_destroy(&at);
  CHECK(ok[0]);
  CHECK(ok[1]);
}

/* views and copies under backward: grads land in the right slices */
static void test_slices(void) {
  /* x [2,3] = 1..6; y = sum(x[2] * 2) + sum(narrow(x,2,2,2)):
  ** dx = [[0,1,1],[2,3,3]] */
  ann_Tensor *x = leaf((float[]){1, 2, 3, 4, 5, 6}, 2, SH(2, 3));
  ann_Tensor *r = ann_ag_select(x, 0, 1);
  ann_Tensor *r2 = ann_ag_binary_scalar(ANN_MUL, r, 2, 0);
  ann_Tensor *n = ann_ag_narrow(x, 1, 1, 2);
  ann_Tensor *s1 = ann_ag_sum(r2, -1, 0), *s2 = ann_ag_sum(n, -1, 0);
  ann_Tensor *y = ann_ag_binary(ANN_ADD, s1, s2);
  static const float want[] = {0, 1, 1, 2, 3, 3};
  int i;
  CHECK(ann_backward(y, NULL) == 0);
  for (i = 0; i < 6; i++) CHECK_NEAR(at(x->grad, i), want[i], 0);
  ann_release(y); ann_release(s1); ann_release(s2);
  ann_release(n); ann_release(r2); ann_release(r);
  ann_release(x);
}

/* sum_to: broadcast dims summed, bad shapes refused */
static void test_sum_to(void) {
  ann_Tensor *g = ann_from_data((float[]){1, 2, 3, 4, 5, 6}, 2, SH(2, 3));
  ann_Tensor *s = ann_sum_to(g, 1, SH(3));       /* column sums */
  CHECK(s && s->ndim == 1 && s->shape[0] == 3);
  if (s) { CHECK_NEAR(at(s, 0), 5, 0); CHECK_NEAR(at(s, 2), 9, 0); }
  ann_release(s);
  s = ann_sum_to(g, 2, SH(2, 1));                /* row sums, kept */
  CHECK(s && s->ndim == 2 && s->shape[1] == 1);
  if (s) { CHECK_NEAR(at(s, 0), 6, 0); CHECK_NEAR(at(s, 1), 15, 0); }
  ann_release(s);
  s = ann_sum_to(g, 0, NULL);                    /* everything */
  CHECK(s && s->ndim == 0);
  if (s) CHECK_NEAR(at(s, 0), 21, 0);
  ann_release(s);
  s = ann_sum_to(g, 2, SH(2, 3));                /* same shape: g itself */
  CHECK(s == g);
  ann_release(s);
  CHECK_ERR(ann_sum_to(g, 1, SH(2)) != NULL, "sum_to: cannot sum [2,3] down to [2]");
  CHECK_ERR(ann_sum_to(g, 3, SH(1, 2, 3)) != NULL, "cannot sum");
  ann_release(g);
}

/* the graph holds what backward needs even after the caller lets go */
static void test_ownership(void) {
  ann_Tensor *a = leaf((float[]){2}, 0, NULL);
  ann_Tensor *e = ann_ag_unary(ANN_SIGMOID, a);    /* s(1-s) from out */
  ann_Tensor *y = ann_ag_binary_scalar(ANN_MUL, e, 4, 0);
  double s = 1 / (1 + exp(-2.0));
  ann_release(e);                    /* only y's node keeps e now */
  CHECK(ann_backward(y, NULL) == 0);
  CHECK_NEAR(at(a->grad, 0), 4 * s * (1 - s), 1e-6);
  ann_release(y); ann_release(a);
}

/* an op written outside the core, as layers are: its backward hands
** ann_ag_accumulate a header on its own stack, which must not be kept */
static int twice_backward(ann_Node *nd, ann_Tensor *out, const ann_Tensor *g) {
  ann_Tensor h = *g;
  ann_Tensor *d = ann_binary_scalar(ANN_MUL, &h, 2, 0);
  int st;
  (void)out;
  h = *d;
  st = ann_ag_accumulate(nd->inputs[0], &h);
  ann_release(d);
  return st;
}

static ann_Tensor *twice(ann_Tensor *x) {
  ann_Tensor *y = ann_binary_scalar(ANN_MUL, x, 2, 0);
  if (y && ann_ag_needs(1, &x)
      && ann_ag_attach(y, "twice", twice_backward, 1, &x) == NULL)
    return NULL;
  return y;
}

static void test_custom_op(void) {
  ann_Tensor *a = leaf((float[]){1, 2}, 1, SH(2));
  ann_Tensor *b = ann_ag_binary_scalar(ANN_ADD, a, 1, 0);  /* inner */
  ann_Tensor *c = twice(b), *e = twice(b);                /* b used twice */
  ann_Tensor *f = ann_ag_binary(ANN_MUL, c, e);           /* 4 b^2 */
  ann_Tensor *y = ann_ag_sum(f, -1, 0);                   /* dy/da = 8 b */
  CHECK(c->node && strcmp(c->node->name, "twice") == 0);
  CHECK(ann_backward(y, NULL) == 0);
  CHECK_NEAR(at(a->grad, 0), 16, 0); CHECK_NEAR(at(a->grad, 1), 24, 0);
  ann_release(y); ann_release(f); ann_release(e); ann_release(c);
  ann_release(b); ann_release(a);
}

int main(void) {
  int64_t live0 = ann_live_bytes();
  test_chain();
  test_broadcast();
  test_explicit_and_diamond();
  test_modes();
  test_long_chain();
  test_slices();
  test_sum_to();
  test_ownership();
  test_custom_op();
  CHECK(ann_live_bytes() == live0);            /* nothing leaked */
  return test_report();
}
