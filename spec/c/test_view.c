/*
** test_view.c: element access, views and copies (ann_view.c).
** Expected values are worked out by hand from the row-major layout.
*/
#include <string.h>
#include "test.h"

/* 1, 2, ..., n in the given shape */
static ann_Tensor *seq(int ndim, const int64_t *shape) {
  float v[64];
  int64_t n = 1;
  int i;
  for (i = 0; i < ndim; i++) n *= shape[i];
  for (i = 0; i < n; i++) v[i] = (float)(i + 1);
  return ann_from_data(v, ndim, shape);
}

static ann_Tensor *vec(int n, const float *v) {
  int64_t s = n;
  return ann_from_data(v, 1, &s);
}

/* element (i, j) of a 2-d tensor, or NAN */
static float at2(const ann_Tensor *t, int64_t i, int64_t j) {
  int64_t idx[2] = {i, j};
  float v;
  return ann_get(t, idx, &v) == 0 ? v : NAN;
}

static float at1(const ann_Tensor *t, int64_t i) {
  float v;
  return ann_get(t, &i, &v) == 0 ? v : NAN;
}

/* t's elements in row-major order equal want[0..n) (t contiguous or not) */
static int equals(const ann_Tensor *t, int n, const float *want) {
  ann_Tensor *c = ann_contiguous((ann_Tensor *)t);
  int i, ok = c && ann_numel(c) == n;
  for (i = 0; ok && i < n; i++) ok = ann_data(c)[i] == want[i];
  ann_release(c);
  return ok;
}

static int shape_is(const ann_Tensor *t, int ndim, const int64_t *shape) {
  int i;
  if (t == NULL || t->ndim != ndim) return 0;
  for (i = 0; i < ndim; i++) if (t->shape[i] != shape[i]) return 0;
  return 1;
}

static int strides_are(const ann_Tensor *t, const int64_t *stride) {
  int i;
  if (t == NULL) return 0;
  for (i = 0; i < t->ndim; i++) if (t->stride[i] != stride[i]) return 0;
  return 1;
}

static const int64_t S34[2] = {3, 4};

static void test_access(void) {
  ann_Tensor *t = seq(2, S34), *s;
  int64_t idx[2] = {1, 2}, one[2] = {1, 1};
  float v = 0;
  CHECK(ann_get(t, idx, &v) == 0 && v == 7);       /* row 2, col 3 */
  CHECK(ann_set(t, idx, -5) == 0 && t->st->data[6] == -5);
  CHECK_NEAR(at2(t, 2, 3), 12, 0);
  idx[0] = 0; idx[1] = 4;
  CHECK_ERR(ann_get(t, idx, &v) >= 0, "get: index 5 out of range for dim 2 of [3,4]");
  idx[0] = -1; idx[1] = 0;
  CHECK_ERR(ann_set(t, idx, 1) >= 0, "set: index 0 out of range for dim 1 of [3,4]");
  CHECK_ERR(ann_get(t, NULL, &v) >= 0, "get: no index");
  CHECK_ERR(ann_get(NULL, idx, &v) >= 0, "get: tensor is NULL");
  CHECK_ERR(ann_item(t, &v) >= 0, "item: tensor [3,4] has 12 elements, expected 1");
  s = ann_scalar(2.5f);
  CHECK(ann_item(s, &v) == 0 && v == 2.5f);
  CHECK(ann_get(s, NULL, &v) == 0 && v == 2.5f);   /* 0-dim: no index */
  ann_release(s);
  s = ann_full(2, one, 3.0f);
  CHECK(ann_item(s, &v) == 0 && v == 3.0f);
  ann_release(s);
  /* item of a one-element view reads through its offset */
  s = ann_narrow(t, 1, 3, 1);
  { ann_Tensor *r = ann_narrow(s, 0, 2, 1);
    CHECK(ann_item(r, &v) == 0 && v == 12);
    ann_release(r); }
  ann_release(s);
  ann_release(t);
}

static void test_view(void) {
  ann_Tensor *t = seq(2, S34), *v, *w, *u;
  int64_t sh[3];
  float v0;
  sh[0] = 2; sh[1] = -1;
  v = ann_view(t, 2, sh);
  { int64_t e[2] = {2, 6}, st[2] = {6, 1};
    CHECK(shape_is(v, 2, e) && strides_are(v, st)); }
  CHECK(v->st == t->st && ann_data(v) == ann_data(t));
  CHECK(at2(v, 1, 0) == 7);
  { int64_t i[2] = {1, 1}; ann_set(v, i, 100); }   /* element 8 */
  CHECK(t->st->data[7] == 100 && at2(t, 1, 3) == 100);
  ann_release(v);
  sh[0] = -1;
  v = ann_view(t, 1, sh);
  CHECK(v && v->ndim == 1 && v->shape[0] == 12 && v->stride[0] == 1);
  ann_release(v);
  sh[0] = 5; sh[1] = -1;
  CHECK_ERR(ann_view(t, 2, sh), "view: shape [5,-1] is invalid for a tensor of 12 elements [3,4]");
  sh[0] = 3; sh[1] = 5;
  CHECK_ERR(ann_view(t, 2, sh), "view: shape [3,5] is invalid for a tensor of 12 elements [3,4]");
  sh[0] = -1; sh[1] = -1;
  CHECK_ERR(ann_view(t, 2, sh), "only one dim can be -1");
  sh[0] = -2; sh[1] = 6;
  CHECK_ERR(ann_view(t, 2, sh), "view: invalid size -2 in dim 1");
  sh[0] = 0; sh[1] = -1;
  CHECK_ERR(ann_view(t, 2, sh), "cannot infer the -1");
  CHECK_ERR(ann_view(t, 9, sh), "view: 9 dims");
  CHECK_ERR(ann_view(t, 2, NULL), "view: no shape");
  /* the transpose [4,3] has strides [1,4]: splitting its first dim is a
  ** view (row r = 2a+b sits at r*1, so a has stride 2, b stride 1) ... */
  u = ann_transpose(t, 0, 1);
  sh[0] = 2; sh[1] = 2; sh[2] = 3;
  v = ann_view(u, 3, sh);
  { int64_t st[3] = {2, 1, 4}, i[3] = {1, 0, 2};
    CHECK(v && strides_are(v, st) && v->st == t->st);
    /* (1,0,2) is row 2, col 2 of u = t(2,2) = 11 */
    CHECK(v && ann_get(v, i, &v0) == 0 && v0 == 11); }
  ann_release(v);
  /* ... merging its two dims is not */
  sh[0] = 12;
  CHECK_ERR(ann_view(u, 1, sh), "view: shape [12] is not compatible with the strides of [4,3]");
  CHECK(strstr(ann_error(), "use reshape") != NULL);
  /* a narrow keeps rows apart: [3,2] (strides [4,1]) -> [3,1,2] ok, [6] not */
  w = ann_narrow(t, 1, 1, 2);
  sh[0] = 3; sh[1] = 1; sh[2] = 2;
  v = ann_view(w, 3, sh);
  { int64_t st0 = 4, st2 = 1;
    CHECK(v && v->stride[0] == st0 && v->stride[2] == st2 && v->offset == 1); }
  ann_release(v);
  sh[0] = 6;
  CHECK_ERR(ann_view(w, 1, sh), "use reshape");
  ann_release(w);
  /* an expanded tensor: [1,4] -> [3,4] (strides [0,1]) splits its last dim */
  w = ann_narrow(t, 0, 0, 1);                    /* [1,4]: row 1 */
  ann_release(t);                                /* w and u keep storage */
  sh[0] = 3; sh[1] = 4;
  v = ann_expand(w, 2, sh);
  sh[0] = 3; sh[1] = 2; sh[2] = 2;
  t = ann_view(v, 3, sh);
  { int64_t st[3] = {0, 2, 1}, i[3] = {2, 1, 0};
    CHECK(t && strides_are(t, st));
    CHECK(t && ann_get(t, i, &v0) == 0 && v0 == 3); }
  ann_release(t);
  sh[0] = 12;
  CHECK_ERR(ann_view(v, 1, sh), "use reshape");
  ann_release(v);
  ann_release(w);
  ann_release(u);
}

static void test_reshape(void) {
  ann_Tensor *t = seq(2, S34), *u, *r;
  int64_t sh[2] = {6, 2}, n = 12;
  r = ann_reshape(t, 2, sh);                    /* contiguous: a view */
  CHECK(r && r->st == t->st && r->shape[0] == 6 && r->stride[0] == 2);
  ann_release(r);
  u = ann_transpose(t, 0, 1);
  r = ann_reshape(u, 1, &n);                    /* needs a copy */
  { float want[12] = {1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12};
    CHECK(r && r->st != t->st && ann_is_contiguous(r));
    CHECK(r && r->ndim == 1 && equals(r, 12, want)); }
  ann_release(r);
  sh[0] = 2; sh[1] = -1;
  r = ann_reshape(u, 2, sh);
  { float want[12] = {1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12};
    CHECK(r && r->shape[1] == 6 && r->stride[0] == 6 && equals(r, 12, want)); }
  ann_release(r);
  sh[0] = 5;
  CHECK_ERR(ann_reshape(u, 2, sh), "reshape: shape [5,-1] is invalid for a tensor of 12 elements [4,3]");
  ann_release(u);
  ann_release(t);
}

static void test_transpose_permute(void) {
  ann_Tensor *t = seq(2, S34), *u, *p, *q;
  int64_t s234[3] = {2, 3, 4};
  u = ann_transpose(t, 0, 1);
  { int64_t e[2] = {4, 3}, st[2] = {1, 4};
    CHECK(shape_is(u, 2, e) && strides_are(u, st) && !ann_is_contiguous(u)); }
  CHECK(at2(u, 3, 1) == 8 && at2(u, 0, 2) == 9);
  { int64_t i[2] = {3, 2}; ann_set(u, i, -1); }
  CHECK(at2(t, 2, 3) == -1);
  CHECK_ERR(ann_transpose(t, 0, 2), "transpose: dim 3 out of range for [3,4]");
  ann_release(u);
  u = ann_transpose(t, 1, 1);                    /* same dim: a plain view */
  CHECK(u && ann_is_contiguous(u) && u->st == t->st);
  ann_release(u);
  ann_release(t);

  t = seq(3, s234);                              /* strides [12,4,1] */
  { int perm[3] = {2, 0, 1};
    int64_t e[3] = {4, 2, 3}, st[3] = {1, 12, 4}, i[3] = {3, 1, 2};
    float v;
    p = ann_permute(t, perm);
    CHECK(shape_is(p, 3, e) && strides_are(p, st) && p->st == t->st);
    /* p(3,1,2) = t(1,2,3) = 12 + 8 + 3 + 1 */
    CHECK(p && ann_get(p, i, &v) == 0 && v == 24);
    /* permuting back gives the layout of t */
    { int back[3] = {1, 2, 0};
      int64_t st0[3] = {12, 4, 1};
      q = ann_permute(p, back);
      CHECK(shape_is(q, 3, s234) && strides_are(q, st0) && ann_is_contiguous(q));
      ann_release(q); }
    ann_release(p); }
  { int bad1[3] = {0, 0, 1}, bad2[3] = {0, 1, 3}, bad3[3] = {0, -1, 2};
    CHECK_ERR(ann_permute(t, bad1), "permute: (1,1,2) is not a permutation of the 3 dims of [2,3,4]");
    CHECK_ERR(ann_permute(t, bad2), "(1,2,4) is not a permutation");
    CHECK_ERR(ann_permute(t, bad3), "(1,0,3) is not a permutation");
    CHECK_ERR(ann_permute(t, NULL), "permute: no permutation"); }
  ann_release(t);
}

static void test_narrow_select(void) {
  ann_Tensor *t = seq(2, S34), *n, *s, *s2;
  float v;
  n = ann_narrow(t, 1, 1, 2);
  { int64_t e[2] = {3, 2}, st[2] = {4, 1};
    float want[6] = {2, 3, 6, 7, 10, 11};
    CHECK(shape_is(n, 2, e) && strides_are(n, st) && n->offset == 1);
    CHECK(equals(n, 6, want)); }
  { int64_t i[2] = {2, 0}; ann_set(n, i, 0); }
  CHECK(t->st->data[9] == 0);                    /* t(3,2) */
  t->st->data[9] = 10;
  CHECK_ERR(ann_narrow(t, 1, 3, 2), "narrow: start 4 length 2 out of range for dim 2 of [3,4]");
  CHECK_ERR(ann_narrow(t, 0, 0, -1), "narrow: start 1 length -1 out of range");
  CHECK_ERR(ann_narrow(t, 0, -1, 1), "narrow: start 0 length 1");
  CHECK_ERR(ann_narrow(t, 2, 0, 1), "narrow: dim 3 out of range for [3,4]");
  s = ann_narrow(t, 0, 3, 0);                    /* empty at the end: ok */
  CHECK(s && s->shape[0] == 0 && ann_numel(s) == 0);
  ann_release(s);
  /* narrowing a narrow adds offsets */
  s = ann_narrow(n, 0, 1, 2);
  CHECK(s && s->offset == 5 && at2(s, 1, 1) == 11);
  ann_release(s);
  ann_release(n);

  s = ann_select(t, 0, 1);                       /* row 2 */
  { float want[4] = {5, 6, 7, 8};
    CHECK(s && s->ndim == 1 && s->offset == 4 && equals(s, 4, want)); }
  s2 = ann_select(s, 0, 3);                      /* 0-dim */
  CHECK(s2 && s2->ndim == 0 && ann_item(s2, &v) == 0 && v == 8);
  ann_release(s2);
  ann_release(s);
  s = ann_select(t, 1, 2);                       /* column 3 */
  { float want[3] = {3, 7, 11};
    CHECK(s && s->ndim == 1 && s->stride[0] == 4 && equals(s, 3, want)); }
  CHECK(at1(s, 2) == 11);
  ann_release(s);
  CHECK_ERR(ann_select(t, 0, 3), "select: index 4 out of range for dim 1 of [3,4]");
  CHECK_ERR(ann_select(t, 1, -1), "select: index 0 out of range for dim 2 of [3,4]");
  CHECK_ERR(ann_select(t, -1, 0), "select: dim 0 out of range for [3,4]");
  ann_release(t);
}

static void test_squeeze_unsqueeze(void) {
  int64_t sh[4] = {1, 3, 1, 4};
  ann_Tensor *t = seq(4, sh), *s, *u;
  s = ann_squeeze(t, -1);
  CHECK(shape_is(s, 2, S34) && s->st == t->st && ann_is_contiguous(s));
  ann_release(s);
  s = ann_squeeze(t, 0);
  { int64_t e[3] = {3, 1, 4}; CHECK(shape_is(s, 3, e)); }
  ann_release(s);
  s = ann_squeeze(t, 1);                         /* size 3: unchanged */
  CHECK(shape_is(s, 4, sh));
  ann_release(s);
  CHECK_ERR(ann_squeeze(t, 4), "squeeze: dim 5 out of range for [1,3,1,4]");
  ann_release(t);
  { int64_t one[2] = {1, 1};
    t = ann_full(2, one, 7);
    s = ann_squeeze(t, -1);
    CHECK(s && s->ndim == 0 && ann_numel(s) == 1);
    ann_release(s);
    ann_release(t); }

  t = seq(2, S34);
  u = ann_unsqueeze(t, 0);
  { int64_t e[3] = {1, 3, 4}; CHECK(shape_is(u, 3, e) && ann_is_contiguous(u)); }
  ann_release(u);
  u = ann_unsqueeze(t, 1);
  { int64_t e[3] = {3, 1, 4}, st[3] = {4, 4, 1};
    CHECK(shape_is(u, 3, e) && strides_are(u, st)); }
  ann_release(u);
  u = ann_unsqueeze(t, 2);
  { int64_t e[3] = {3, 4, 1}, st[3] = {4, 1, 1}, i[3] = {2, 1, 0};
    float v;
    CHECK(shape_is(u, 3, e) && strides_are(u, st) && ann_is_contiguous(u));
    CHECK(u && ann_get(u, i, &v) == 0 && v == 10); }
  ann_release(u);
  CHECK_ERR(ann_unsqueeze(t, 3), "unsqueeze: dim 4 out of range for [3,4] (1..3)");
  CHECK_ERR(ann_unsqueeze(t, -1), "unsqueeze: dim 0 out of range");
  ann_release(t);
  { int64_t s8[8] = {1, 1, 1, 1, 1, 1, 1, 2};
    t = ann_zeros(8, s8);
    CHECK_ERR(ann_unsqueeze(t, 0), "unsqueeze: [1,1,1,1,1,1,1,2] already has 8 dims");
    ann_release(t); }
}

static void test_expand(void) {
  float c[3] = {1, 2, 3};
  int64_t s31[2] = {3, 1}, sh[3];
  ann_Tensor *t = ann_from_data(c, 2, s31), *e;
  sh[0] = 3; sh[1] = 4;
  e = ann_expand(t, 2, sh);
  { int64_t st[2] = {1, 0};
    float want[12] = {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
    CHECK(shape_is(e, 2, sh) && strides_are(e, st) && e->st == t->st);
    CHECK(equals(e, 12, want)); }
  ann_release(e);
  sh[0] = -1; sh[1] = 2;
  e = ann_expand(t, 2, sh);
  { int64_t want[2] = {3, 2}; CHECK(shape_is(e, 2, want)); }
  ann_release(e);
  sh[0] = 2; sh[1] = 3; sh[2] = 4;               /* a new leading dim */
  e = ann_expand(t, 3, sh);
  { int64_t st[3] = {0, 1, 0}, i[3] = {1, 2, 3};
    float v;
    CHECK(shape_is(e, 3, sh) && strides_are(e, st));
    CHECK(e && ann_get(e, i, &v) == 0 && v == 3); }
  ann_release(e);
  sh[0] = 3; sh[1] = 1;                          /* same shape */
  e = ann_expand(t, 2, sh);
  CHECK(shape_is(e, 2, s31) && e->stride[0] == 1);
  ann_release(e);
  sh[0] = 4; sh[1] = 4;
  CHECK_ERR(ann_expand(t, 2, sh), "expand: cannot expand [3,1] to [4,4] (dim 1: 3 to 4; only size-1 dims expand)");
  sh[0] = 3; sh[1] = -2;
  CHECK_ERR(ann_expand(t, 2, sh), "expand: cannot expand [3,1] to [3,-2]");
  CHECK_ERR(ann_expand(t, 1, sh), "expand: shape [3] has fewer dims than [3,1]");
  sh[0] = -1; sh[1] = 3; sh[2] = 4;
  CHECK_ERR(ann_expand(t, 3, sh), "expand: size -1 in new leading dim 1");
  ann_release(t);
}

static void test_clone_contiguous(void) {
  ann_Tensor *t = seq(2, S34), *u = ann_transpose(t, 0, 1), *c;
  float want[12] = {1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12};
  c = ann_clone(u);
  { int64_t e[2] = {4, 3};
    CHECK(shape_is(c, 2, e) && ann_is_contiguous(c) && c->st != t->st);
    CHECK(c && memcmp(ann_data(c), want, sizeof want) == 0); }
  ann_release(c);
  c = ann_contiguous(u);
  CHECK(c && c != u && ann_is_contiguous(c) && equals(c, 12, want));
  ann_release(c);
  c = ann_contiguous(t);
  CHECK(c == t && t->refs == 2);
  ann_release(c);
  c = ann_clone(t);                              /* changing the copy ... */
  c->st->data[0] = 99;
  CHECK(t->st->data[0] == 1);                    /* ... leaves t alone */
  ann_release(c);
  CHECK_ERR(ann_clone(NULL), "clone: tensor is NULL");
  ann_release(u);
  ann_release(t);
}

/* big enough for the tiled path: a transpose and a batched permute */
static void test_copy_tiled(void) {
  int64_t sh[3] = {3, 70, 45}, i, j, b;
  ann_Tensor *t = ann_empty(3, sh), *u, *c, *m, *mt, *mc;
  int perm[3] = {2, 0, 1}, ok = 1;
  float *x = ann_data(t);
  for (i = 0; i < 3 * 70 * 45; i++) x[i] = (float)i;
  u = ann_permute(t, perm);                      /* [45,3,70] */
  c = ann_clone(u);
  for (j = 0; j < 45; j++)                       /* c(j,b,i) = t(b,i,j) */
    for (b = 0; b < 3; b++)
      for (i = 0; i < 70; i++)
        ok &= ann_data(c)[(j * 3 + b) * 70 + i] == (float)((b * 70 + i) * 45 + j);
  CHECK(c && ann_is_contiguous(c) && ok);
  m = ann_select(t, 0, 1);                       /* [70,45] */
  mt = ann_transpose(m, 0, 1);
  mc = ann_zeros(2, mt->shape);
  CHECK(ann_copy_(mc, mt) == 0);                 /* contiguous <- strided */
  ok = 1;
  for (j = 0; j < 45; j++)
    for (i = 0; i < 70; i++)
      ok &= ann_data(mc)[j * 70 + i] == (float)((70 + i) * 45 + j);
  CHECK(ok);
  { ann_Tensor *mct = ann_transpose(mc, 0, 1), *back = ann_zeros(2, m->shape);
    CHECK(ann_copy_(mct, m) == 0);               /* strided <- contiguous */
    CHECK(ann_copy_(back, mct) == 0);            /* and back */
    CHECK(memcmp(ann_data(back), ann_data(m), 70 * 45 * sizeof(float)) == 0);
    ann_release(back); ann_release(mct); }
  ann_release(mc); ann_release(mt); ann_release(m);
  ann_release(c); ann_release(u); ann_release(t);
}

static void test_copy(void) {
  ann_Tensor *z = ann_zeros(2, S34), *n, *src, *t;
  float v6[6] = {1, 2, 3, 4, 5, 6};
  int64_t s32[2] = {3, 2}, s23[2] = {2, 3};
  /* into a strided view: columns 2..3 of a zero [3,4] */
  n = ann_narrow(z, 1, 1, 2);
  src = ann_from_data(v6, 2, s32);
  CHECK(ann_copy_(n, src) == 0);
  { float want[12] = {0, 1, 2, 0, 0, 3, 4, 0, 0, 5, 6, 0};
    CHECK(memcmp(ann_data(z), want, sizeof want) == 0); }
  ann_release(src);
  /* from a strided view: the transpose of [2,3] into [3,2] */
  t = ann_from_data(v6, 2, s23);
  src = ann_transpose(t, 0, 1);
  CHECK(ann_copy_(n, src) == 0);
  { float want[12] = {0, 1, 4, 0, 0, 2, 5, 0, 0, 3, 6, 0};
    CHECK(memcmp(ann_data(z), want, sizeof want) == 0); }
  ann_release(src);
  /* broadcasting: a row [3] into every row of [2,3], a column [2,1] */
  src = vec(3, v6);
  CHECK(ann_copy_(t, src) == 0);
  { float want[6] = {1, 2, 3, 1, 2, 3};
    CHECK(memcmp(ann_data(t), want, sizeof want) == 0); }
  ann_release(src);
  { int64_t s21[2] = {2, 1};
    float col[2] = {7, 8}, want[6] = {7, 7, 7, 8, 8, 8};
    src = ann_from_data(col, 2, s21);
    CHECK(ann_copy_(t, src) == 0 && memcmp(ann_data(t), want, sizeof want) == 0);
    ann_release(src); }
  src = ann_scalar(4);                           /* 0-dim fills */
  CHECK(ann_copy_(n, src) == 0 && at2(z, 2, 2) == 4 && at2(z, 2, 3) == 0);
  ann_release(src);
  /* contiguous -> contiguous, same numel, fewer dims: [6] into [1,6] */
  { int64_t s16[2] = {1, 6};
    ann_Tensor *d = ann_zeros(2, s16);
    src = vec(6, v6);
    CHECK_ERR(ann_copy_(d, t) >= 0, "copy_: cannot broadcast [2,3] to [1,6]");
    CHECK(ann_copy_(d, src) == 0 && memcmp(ann_data(d), v6, sizeof v6) == 0);
    CHECK_ERR(ann_copy_(src, d) >= 0, "copy_: cannot broadcast [1,6] to [6]");
    ann_release(src);
    ann_release(d); }
  src = vec(4, v6);
  CHECK_ERR(ann_copy_(t, src) >= 0, "copy_: cannot broadcast [4] to [2,3]");
  ann_release(src);
  /* an expanded destination would be written twice */
  { int64_t s43[2] = {4, 3};
    ann_Tensor *row = vec(3, v6), *e = ann_expand(row, 2, s43);
    CHECK_ERR(ann_copy_(e, row) >= 0, "copy_: tensor [4,3] is expanded (stride 0 in dim 1)");
    ann_release(e);
    ann_release(row); }
  /* overlapping source and destination: as if the source were read first */
  { float v5[5] = {1, 2, 3, 4, 5}, want[5] = {1, 1, 2, 3, 4},
          want2[5] = {1, 2, 3, 4, 4};
    ann_Tensor *a = vec(5, v5), *hi = ann_narrow(a, 0, 1, 4),
               *lo = ann_narrow(a, 0, 0, 4);
    CHECK(ann_copy_(hi, lo) == 0 && memcmp(ann_data(a), want, sizeof want) == 0);
    CHECK(ann_copy_(lo, hi) == 0 && memcmp(ann_data(a), want2, sizeof want2) == 0);
    CHECK(ann_copy_(a, a) == 0 && memcmp(ann_data(a), want2, sizeof want2) == 0);
    ann_release(hi); ann_release(lo); ann_release(a); }
  /* a square matrix into its own transpose */
  { float m[4] = {1, 2, 3, 4}, want[4] = {1, 3, 2, 4};
    int64_t s22[2] = {2, 2};
    ann_Tensor *a = ann_from_data(m, 2, s22), *at = ann_transpose(a, 0, 1);
    CHECK(ann_copy_(a, at) == 0 && memcmp(ann_data(a), want, sizeof want) == 0);
    ann_release(at); ann_release(a); }
  CHECK_ERR(ann_copy_(t, NULL) >= 0, "copy_: tensor is NULL");
  ann_release(t);
  ann_release(n);
  ann_release(z);
}

static void test_cat_stack(void) {
  float va[4] = {1, 2, 3, 4}, vb[2] = {5, 6}, vc[2] = {7, 8};
  int64_t s22[2] = {2, 2}, s12[2] = {1, 2}, s21[2] = {2, 1}, s02[2] = {0, 2};
  ann_Tensor *a = ann_from_data(va, 2, s22), *b = ann_from_data(vb, 2, s12),
             *c = ann_from_data(vc, 2, s21), *at = ann_transpose(a, 0, 1),
             *e = ann_zeros(2, s02), *r, *l[3];
  l[0] = a; l[1] = b; l[2] = e;
  r = ann_cat(3, l, 0);
  { int64_t sh[2] = {3, 2}; float want[6] = {1, 2, 3, 4, 5, 6};
    CHECK(shape_is(r, 2, sh) && memcmp(ann_data(r), want, sizeof want) == 0); }
  ann_release(r);
  l[0] = a; l[1] = c;
  r = ann_cat(2, l, 1);
  { int64_t sh[2] = {2, 3}; float want[6] = {1, 2, 7, 3, 4, 8};
    CHECK(shape_is(r, 2, sh) && memcmp(ann_data(r), want, sizeof want) == 0); }
  ann_release(r);
  l[0] = at; l[1] = c;                           /* a strided input */
  r = ann_cat(2, l, 1);
  { float want[6] = {1, 3, 7, 2, 4, 8};
    CHECK(r && memcmp(ann_data(r), want, sizeof want) == 0); }
  ann_release(r);
  l[0] = a; l[1] = b;
  CHECK_ERR(ann_cat(2, l, 1), "cat: shape [1,2] of tensor 2 does not match [2,2] of tensor 1 (all dims but 2 must agree)");
  CHECK_ERR(ann_cat(2, l, 2), "cat: dim 3 out of range for [2,2]");
  CHECK_ERR(ann_cat(0, l, 0), "cat: expected at least one tensor");
  l[1] = NULL;
  CHECK_ERR(ann_cat(2, l, 0), "cat: tensor 2 is NULL");
  { ann_Tensor *v = vec(2, vb);
    l[1] = v;
    CHECK_ERR(ann_cat(2, l, 0), "cat: shape [2] of tensor 2 does not match [2,2]");
    /* stack of 1-d vectors */
    l[0] = v; l[1] = ann_from_data(vc, 1, &s21[0]);
    r = ann_stack(2, l, 0);
    { float want[4] = {5, 6, 7, 8};
      CHECK(shape_is(r, 2, s22) && memcmp(ann_data(r), want, sizeof want) == 0); }
    ann_release(r);
    r = ann_stack(2, l, 1);
    { float want[4] = {5, 7, 6, 8};
      CHECK(shape_is(r, 2, s22) && memcmp(ann_data(r), want, sizeof want) == 0); }
    ann_release(r);
    CHECK_ERR(ann_stack(2, l, 2), "stack: dim 3 out of range for [2] (1..2)");
    ann_release(l[1]);
    l[1] = a;
    CHECK_ERR(ann_stack(2, l, 0), "stack: shape [2,2] of tensor 2 does not match [2] of tensor 1");
    ann_release(v); }
  /* stack of 2-d matrices along the middle: out(i,k,j) = l[k](i,j) */
  l[0] = a; l[1] = at;
  r = ann_stack(2, l, 1);
  { int64_t sh[3] = {2, 2, 2}; float want[8] = {1, 2, 1, 3, 3, 4, 2, 4};
    CHECK(shape_is(r, 3, sh) && memcmp(ann_data(r), want, sizeof want) == 0); }
  ann_release(r);
  ann_release(a); ann_release(b); ann_release(c); ann_release(at);
  ann_release(e);
}

static void test_index_select(void) {
  ann_Tensor *t = seq(2, S34), *r, *idx;
  float i1[3] = {3, 1, 3}, i2[2] = {4, 2};
  idx = vec(3, i1);
  r = ann_index_select(t, 0, idx);
  { int64_t sh[2] = {3, 4};
    float want[12] = {9, 10, 11, 12, 1, 2, 3, 4, 9, 10, 11, 12};
    CHECK(shape_is(r, 2, sh) && memcmp(ann_data(r), want, sizeof want) == 0); }
  ann_release(r);
  ann_release(idx);
  idx = vec(2, i2);
  r = ann_index_select(t, 1, idx);
  { int64_t sh[2] = {3, 2}; float want[6] = {4, 2, 8, 6, 12, 10};
    CHECK(shape_is(r, 2, sh) && memcmp(ann_data(r), want, sizeof want) == 0); }
  ann_release(r);
  /* a strided input (the transpose) and a strided index (a column) */
  { float m[4] = {2, 0, 1, 0};
    int64_t s22[2] = {2, 2};
    ann_Tensor *im = ann_from_data(m, 2, s22), *col = ann_select(im, 1, 0),
               *u = ann_transpose(t, 0, 1);
    r = ann_index_select(u, 0, col);             /* rows 2, 1 of u */
    { float want[6] = {2, 6, 10, 1, 5, 9};
      CHECK(r && r->shape[0] == 2 && memcmp(ann_data(r), want, sizeof want) == 0); }
    ann_release(r);
    CHECK_ERR(ann_index_select(t, 0, im), "index_select: index must be a 1-d tensor, got [2,2]");
    ann_release(u); ann_release(col); ann_release(im); }
  ann_release(idx);
  { float bad[1];
    bad[0] = 1.5f; idx = vec(1, bad);
    CHECK_ERR(ann_index_select(t, 0, idx), "index_select: index 1.5 is not an integer (dim 1 of [3,4])");
    ann_release(idx);
    bad[0] = 0; idx = vec(1, bad);
    CHECK_ERR(ann_index_select(t, 0, idx), "index_select: index 0 out of range for dim 1 of [3,4]");
    ann_release(idx);
    bad[0] = 5; idx = vec(1, bad);
    CHECK_ERR(ann_index_select(t, 1, idx), "index_select: index 5 out of range for dim 2 of [3,4]");
    CHECK_ERR(ann_index_select(t, 2, idx), "index_select: dim 3 out of range for [3,4]");
    ann_release(idx);
    bad[0] = NAN; idx = vec(1, bad);
    CHECK_ERR(ann_index_select(t, 0, idx), "is not an integer");
    ann_release(idx);
    bad[0] = INFINITY; idx = vec(1, bad);
    CHECK_ERR(ann_index_select(t, 0, idx), "index inf out of range");
    ann_release(idx); }
  { int64_t zero = 0;                            /* no indices: empty result */
    idx = ann_zeros(1, &zero);
    r = ann_index_select(t, 0, idx);
    { int64_t sh[2] = {0, 4}; CHECK(shape_is(r, 2, sh)); }
    ann_release(r);
    ann_release(idx); }
  ann_release(t);
}

static void test_gather(void) {
  float tv[4] = {1, 2, 3, 4};
  int64_t s22[2] = {2, 2};
  ann_Tensor *t = ann_from_data(tv, 2, s22), *idx, *r;
  /* along dim 2: out(i,j) = t(i, idx(i,j)) */
  { float iv[4] = {1, 1, 2, 1}, want[4] = {1, 1, 4, 3};
    idx = ann_from_data(iv, 2, s22);
    r = ann_gather(t, 1, idx);
    CHECK(shape_is(r, 2, s22) && memcmp(ann_data(r), want, sizeof want) == 0);
    ann_release(r); ann_release(idx); }
  /* along dim 1: out(i,j) = t(idx(i,j), j) */
  { float iv[4] = {2, 1, 1, 2}, want[4] = {3, 2, 1, 4};
    idx = ann_from_data(iv, 2, s22);
    r = ann_gather(t, 0, idx);
    CHECK(r && memcmp(ann_data(r), want, sizeof want) == 0);
    /* the same through a transposed input: tT = [[1,3],[2,4]] */
    { ann_Tensor *tt = ann_transpose(t, 0, 1), *r2 = ann_gather(tt, 0, idx);
      float want2[4] = {2, 3, 1, 4};
      CHECK(r2 && memcmp(ann_data(r2), want2, sizeof want2) == 0);
      ann_release(r2); ann_release(tt); }
    ann_release(r); ann_release(idx); }
  ann_release(t);
  /* an index smaller than the input: [3,3] 1..9, idx [[3],[2]] along dim 2 */
  { int64_t s33[2] = {3, 3}, s21[2] = {2, 1};
    float iv[2] = {3, 2};
    t = seq(2, s33);
    idx = ann_from_data(iv, 2, s21);
    r = ann_gather(t, 1, idx);
    CHECK(shape_is(r, 2, s21) && at2(r, 0, 0) == 3 && at2(r, 1, 0) == 5);
    ann_release(r);
    /* along dim 1 the index may be longer than the input */
    { int64_t s51[2] = {5, 1};
      float iv5[5] = {3, 3, 1, 2, 1}, want[5] = {7, 7, 1, 4, 1};
      ann_Tensor *i5 = ann_from_data(iv5, 2, s51);
      r = ann_gather(t, 0, i5);
      CHECK(shape_is(r, 2, s51) && memcmp(ann_data(r), want, sizeof want) == 0);
      ann_release(r); ann_release(i5); }
    ann_release(idx);
    { int64_t s14[2] = {1, 4};
      idx = ann_full(2, s14, 1);
      CHECK_ERR(ann_gather(t, 0, idx), "gather: index [1,4] is larger than the input [3,3] in dim 2");
      ann_release(idx); }
    idx = ann_full(1, s33, 1);
    CHECK_ERR(ann_gather(t, 0, idx), "gather: index [3] must have as many dims as the input [3,3]");
    ann_release(idx);
    idx = ann_full(2, s21, 4);
    CHECK_ERR(ann_gather(t, 1, idx), "gather: index 4 out of range for dim 2 of [3,3]");
    ann_release(idx);
    idx = ann_full(2, s21, 0.5f);
    CHECK_ERR(ann_gather(t, 1, idx), "gather: index 0.5 is not an integer");
    CHECK_ERR(ann_gather(t, 2, idx), "gather: dim 3 out of range for [3,3]");
    ann_release(idx);
    ann_release(t); }
}

int main(void) {
  test_access();
  test_view();
  test_reshape();
  test_transpose_permute();
  test_narrow_select();
  test_squeeze_unsqueeze();
  test_expand();
  test_clone_contiguous();
  test_copy();
  test_copy_tiled();
  test_cat_stack();
  test_index_select();
  test_gather();
  return test_report();
}
