/*
** ann_view.c: element access, views and copies.
**
** A view is a new header (ann_new_view) on the same storage with its own
** offset, shape and strides; nothing is copied.  Copies walk strided
** operands with ann_Loop, so any view can be a source or a destination.
** Dims and positions are 0-based here; messages show them 1-based, as
** Lua users see them.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ann_impl.h"

/* ---- helpers ----------------------------------------------------------- */

/* "[a,b,...]" for a shape that is not (yet) a tensor's */
static char *shape_str(int ndim, const int64_t *shape, char *buf,
                       size_t size) {
  ann_Tensor tmp;
  int i;
  tmp.ndim = ndim < 0 ? 0 : ndim > ANN_MAXDIM ? ANN_MAXDIM : ndim;
  for (i = 0; i < tmp.ndim; i++) tmp.shape[i] = shape[i];
  return ann_shapestr(&tmp, buf, size);
}

static int check_tensor(const char *op, const ann_Tensor *t) {
  return t ? 0 : ann_seterror("%s: tensor is NULL", op);
}

static int check_shape_arg(const char *op, int ndim, const int64_t *shape) {
  if (ndim < 0 || ndim > ANN_MAXDIM)
    return ann_seterror("%s: %d dims (at most %d)", op, ndim, ANN_MAXDIM);
  if (ndim > 0 && shape == NULL)
    return ann_seterror("%s: no shape given for %d dims", op, ndim);
  return 0;
}

ann_Tensor *ann_restride(const ann_Tensor *t, int64_t offset, int ndim,
                         const int64_t *shape, const int64_t *stride) {
  ann_Tensor *v;
  int i;
  if (ann_shape_numel("view", ndim, shape) < 0) return NULL;
  if ((v = ann_new_view(t)) == NULL) return NULL;
  v->ndim = ndim;
  v->offset = offset;
  for (i = 0; i < ANN_MAXDIM; i++) {
    v->shape[i] = i < ndim ? shape[i] : 0;
    v->stride[i] = i < ndim ? stride[i] : 0;
  }
  return v;
}

/* removes dim d from a header (a local one, or a fresh view) */
static void drop_dim(ann_Tensor *t, int d) {
  int i;
  for (i = d; i < t->ndim - 1; i++) {
    t->shape[i] = t->shape[i + 1];
    t->stride[i] = t->stride[i + 1];
  }
  t->ndim--;
  t->shape[t->ndim] = 0;
  t->stride[t->ndim] = 0;
}

/* PyTorch refuses writes to expanded views too */
int ann_checkwritable(const char *op, const ann_Tensor *t) {
  char s[128];
  int i;
  if (ann_numel(t) == 0) return 0;        /* nothing is written */
  for (i = 0; i < t->ndim; i++)
    if (t->stride[i] == 0 && t->shape[i] > 1)
      return ann_seterror("%s: tensor %s is expanded (stride 0 in dim %d); "
                          "clone it before writing", op,
                          ann_shapestr(t, s, sizeof s), i + 1);
  return 0;
}

/* ---- element access ---------------------------------------------------- */

/* storage offset of the element at idx, or -1 with an error */
static int64_t element_offset(const char *op, const ann_Tensor *t,
                              const int64_t *idx) {
  char s[128];
  int64_t off;
  int i;
  if (check_tensor(op, t) < 0) return -1;
  if (t->ndim > 0 && idx == NULL)
    return ann_seterror("%s: no index given for %s", op,
                        ann_shapestr(t, s, sizeof s));
  off = t->offset;
  for (i = 0; i < t->ndim; i++) {
    if (idx[i] < 0 || idx[i] >= t->shape[i])
      return ann_seterror("%s: index %lld out of range for dim %d of %s", op,
                          (long long)idx[i] + 1, i + 1,
                          ann_shapestr(t, s, sizeof s));
    off += idx[i] * t->stride[i];
  }
  return off;
}

int ann_get(const ann_Tensor *t, const int64_t *idx, float *v) {
  int64_t off = element_offset("get", t, idx);
  if (off < 0) return -1;
  if (v == NULL) return ann_seterror("get: no place for the value");
  *v = t->st->data[off];
  return 0;
}

int ann_set(ann_Tensor *t, const int64_t *idx, float v) {
  int64_t off = element_offset("set", t, idx);
  if (off < 0) return -1;
  t->st->data[off] = v;
  return 0;
}

int ann_item(const ann_Tensor *t, float *v) {
  char s[128];
  if (check_tensor("item", t) < 0) return -1;
  if (ann_numel(t) != 1)
    return ann_seterror("item: tensor %s has %lld elements, expected 1",
                        ann_shapestr(t, s, sizeof s),
                        (long long)ann_numel(t));
  if (v == NULL) return ann_seterror("item: no place for the value");
  *v = ann_data(t)[0];   /* size-1 dims don't move the offset */
  return 0;
}

/* ---- view, reshape ----------------------------------------------------- */

/* Checks a requested shape against t's element count and fills in the
** one -1 it may hold: out gets the final shape. */
static int infer_shape(const char *op, const ann_Tensor *t, int ndim,
                       const int64_t *shape, int64_t *out) {
  char s1[128], s2[128];
  int64_t numel = ann_numel(t), prod = 1;
  int i, infer = -1, bad = 0;
  if (check_shape_arg(op, ndim, shape) < 0) return -1;
  for (i = 0; i < ndim; i++) {
    out[i] = shape[i];
    if (shape[i] == -1) {
      if (infer >= 0)
        return ann_seterror("%s: only one dim can be -1, got %s", op,
                            shape_str(ndim, shape, s1, sizeof s1));
      infer = i;
    }
    else if (shape[i] < 0)
      return ann_seterror("%s: invalid size %lld in dim %d of %s", op,
                          (long long)shape[i], i + 1,
                          shape_str(ndim, shape, s1, sizeof s1));
    else if (shape[i] > 0 && prod > INT64_MAX / shape[i]) bad = 1;
    else prod *= shape[i];
  }
  if (infer >= 0 && !bad) {
    if (prod == 0)   /* any size would do */
      return ann_seterror("%s: cannot infer the -1 in %s for %s (0 elements)",
                          op, shape_str(ndim, shape, s1, sizeof s1),
                          ann_shapestr(t, s2, sizeof s2));
    if (numel % prod == 0) { out[infer] = numel / prod; prod = numel; }
    else bad = 1;
  }
  if (bad || prod != numel)
    return ann_seterror("%s: shape %s is invalid for a tensor of %lld "
                        "elements %s", op,
                        shape_str(ndim, shape, s1, sizeof s1),
                        (long long)numel, ann_shapestr(t, s2, sizeof s2));
  return 0;
}

/*
** Strides that let shape (same element count) address t's elements in
** t's row-major order without copying, as PyTorch's view does.  t's dims
** split into chunks of dims that are contiguous with each other; each
** chunk must be covered by a run of whole new dims, which then step
** through the chunk with its innermost stride.  0 on success, -1 if the
** new shape splits across a chunk boundary.
*/
static int view_strides(const ann_Tensor *t, int ndim, const int64_t *shape,
                        int64_t *stride) {
  int64_t base, tnumel = 1, vnumel = 1;
  int td, vd = ndim - 1;
  if (t->ndim == 0 || ann_numel(t) == 0) {
    ann_contig_strides(ndim, shape, stride);
    return 0;
  }
  base = t->stride[t->ndim - 1];
  for (td = t->ndim - 1; td >= 0; td--) {
    tnumel *= t->shape[td];
    if (td == 0 || (t->shape[td - 1] != 1 &&
                    t->stride[td - 1] != tnumel * base)) {  /* chunk ends */
      while (vd >= 0 && (vnumel < tnumel || shape[vd] == 1)) {
        stride[vd] = vnumel * base;
        vnumel *= shape[vd];
        vd--;
      }
      if (vnumel != tnumel) return -1;
      if (td > 0) { base = t->stride[td - 1]; tnumel = 1; vnumel = 1; }
    }
  }
  return vd == -1 ? 0 : -1;
}

ann_Tensor *ann_view(ann_Tensor *t, int ndim, const int64_t *shape) {
  char s1[128], s2[128];
  int64_t sh[ANN_MAXDIM], st[ANN_MAXDIM];
  if (check_tensor("view", t) < 0 || infer_shape("view", t, ndim, shape, sh) < 0)
    return NULL;
  if (view_strides(t, ndim, sh, st) < 0)
    return ann_seterror("view: shape %s is not compatible with the strides "
                        "of %s (a non-contiguous view); use reshape",
                        shape_str(ndim, sh, s1, sizeof s1),
                        ann_shapestr(t, s2, sizeof s2)), NULL;
  return ann_restride(t, t->offset, ndim, sh, st);
}

ann_Tensor *ann_reshape(ann_Tensor *t, int ndim, const int64_t *shape) {
  int64_t sh[ANN_MAXDIM], st[ANN_MAXDIM];
  ann_Tensor *c;
  int i;
  if (check_tensor("reshape", t) < 0 ||
      infer_shape("reshape", t, ndim, shape, sh) < 0)
    return NULL;
  if (view_strides(t, ndim, sh, st) == 0)
    return ann_restride(t, t->offset, ndim, sh, st);
  c = ann_clone(t);    /* contiguous: any shape of its size is a view */
  if (c == NULL) return NULL;
  c->ndim = ndim;
  for (i = 0; i < ANN_MAXDIM; i++) c->shape[i] = i < ndim ? sh[i] : 0;
  ann_contig_strides(ndim, sh, c->stride);
  for (i = ndim; i < ANN_MAXDIM; i++) c->stride[i] = 0;
  return c;
}

/* ---- dims: transpose, permute, narrow, select, squeeze, unsqueeze ----- */

ann_Tensor *ann_transpose(ann_Tensor *t, int d1, int d2) {
  ann_Tensor *v;
  int64_t x;
  if (check_tensor("transpose", t) < 0 || ann_checkdim("transpose", t, d1) < 0
      || ann_checkdim("transpose", t, d2) < 0)
    return NULL;
  v = ann_new_view(t);
  if (v == NULL) return NULL;
  x = v->shape[d1]; v->shape[d1] = v->shape[d2]; v->shape[d2] = x;
  x = v->stride[d1]; v->stride[d1] = v->stride[d2]; v->stride[d2] = x;
  return v;
}

ann_Tensor *ann_permute(ann_Tensor *t, const int *perm) {
  char s[128], p[128];
  int64_t sh[ANN_MAXDIM], st[ANN_MAXDIM];
  int seen[ANN_MAXDIM] = {0}, i, ok = 1;
  if (check_tensor("permute", t) < 0) return NULL;
  if (t->ndim > 0 && perm == NULL)
    return ann_seterror("permute: no permutation given for %s",
                        ann_shapestr(t, s, sizeof s)), NULL;
  for (i = 0; i < t->ndim; i++) {
    int d = perm[i];
    if (d < 0 || d >= t->ndim || seen[d]) { ok = 0; break; }
    seen[d] = 1;
    sh[i] = t->shape[d];
    st[i] = t->stride[d];
  }
  if (!ok) {
    size_t n = 0;
    for (i = 0; i < t->ndim && n < sizeof p; i++)   /* 1-based, as given in Lua */
      n += snprintf(p + n, sizeof p - n, i ? ",%d" : "(%d", perm[i] + 1);
    if (n < sizeof p) snprintf(p + n, sizeof p - n, ")");
    return ann_seterror("permute: %s is not a permutation of the %d dims "
                        "of %s", p, t->ndim, ann_shapestr(t, s, sizeof s)),
           NULL;
  }
  return ann_restride(t, t->offset, t->ndim, sh, st);
}

ann_Tensor *ann_narrow(ann_Tensor *t, int d, int64_t start, int64_t len) {
  char s[128];
  ann_Tensor *v;
  if (check_tensor("narrow", t) < 0 || ann_checkdim("narrow", t, d) < 0)
    return NULL;
  if (start < 0 || len < 0 || start > t->shape[d] - len)
    return ann_seterror("narrow: start %lld length %lld out of range for "
                        "dim %d of %s", (long long)start + 1, (long long)len,
                        d + 1, ann_shapestr(t, s, sizeof s)), NULL;
  v = ann_new_view(t);
  if (v == NULL) return NULL;
  v->offset += start * t->stride[d];
  v->shape[d] = len;
  return v;
}

ann_Tensor *ann_select(ann_Tensor *t, int d, int64_t i) {
  char s[128];
  ann_Tensor *v;
  if (check_tensor("select", t) < 0 || ann_checkdim("select", t, d) < 0)
    return NULL;
  if (i < 0 || i >= t->shape[d])
    return ann_seterror("select: index %lld out of range for dim %d of %s",
                        (long long)i + 1, d + 1,
                        ann_shapestr(t, s, sizeof s)), NULL;
  v = ann_new_view(t);
  if (v == NULL) return NULL;
  v->offset += i * t->stride[d];
  drop_dim(v, d);
  return v;
}

ann_Tensor *ann_squeeze(ann_Tensor *t, int d) {
  ann_Tensor *v;
  int i;
  if (check_tensor("squeeze", t) < 0) return NULL;
  if (d >= 0 && ann_checkdim("squeeze", t, d) < 0) return NULL;
  v = ann_new_view(t);
  if (v == NULL) return NULL;
  if (d >= 0) {
    if (v->shape[d] == 1) drop_dim(v, d);   /* else a no-op, as PyTorch */
  }
  else
    for (i = v->ndim - 1; i >= 0; i--)
      if (v->shape[i] == 1) drop_dim(v, i);
  return v;
}

ann_Tensor *ann_unsqueeze(ann_Tensor *t, int d) {
  char s[128];
  ann_Tensor *v;
  int i;
  if (check_tensor("unsqueeze", t) < 0) return NULL;
  if (d < 0 || d > t->ndim)
    return ann_seterror("unsqueeze: dim %d out of range for %s (1..%d)",
                        d + 1, ann_shapestr(t, s, sizeof s), t->ndim + 1),
           NULL;
  if (t->ndim == ANN_MAXDIM)
    return ann_seterror("unsqueeze: %s already has %d dims (the most)",
                        ann_shapestr(t, s, sizeof s), ANN_MAXDIM), NULL;
  v = ann_new_view(t);
  if (v == NULL) return NULL;
  for (i = v->ndim; i > d; i--) {
    v->shape[i] = v->shape[i - 1];
    v->stride[i] = v->stride[i - 1];
  }
  v->shape[d] = 1;
  /* the stride a contiguous tensor would have there, so it stays one */
  v->stride[d] = d < t->ndim ? t->shape[d] * t->stride[d] : 1;
  v->ndim++;
  return v;
}

/* ---- expand ------------------------------------------------------------ */

ann_Tensor *ann_expand(ann_Tensor *t, int ndim, const int64_t *shape) {
  char s1[128], s2[128];
  int64_t sh[ANN_MAXDIM], st[ANN_MAXDIM];
  int i, lead;
  if (check_tensor("expand", t) < 0 || check_shape_arg("expand", ndim, shape) < 0)
    return NULL;
  /* bounded (ANN_MAX_NUMEL) so its numel and the loops over it stay in
  ** int64: an expanded view has no storage to bound it */
  if (ndim < t->ndim)
    return ann_seterror("expand: shape %s has fewer dims than %s",
                        shape_str(ndim, shape, s1, sizeof s1),
                        ann_shapestr(t, s2, sizeof s2)), NULL;
  lead = ndim - t->ndim;
  for (i = 0; i < ndim; i++) {
    int64_t want = shape[i];
    if (i < lead) {            /* a new leading dim: broadcast */
      if (want < 0)
        return ann_seterror("expand: size %lld in new leading dim %d of %s "
                            "(for %s) must be >= 0", (long long)want, i + 1,
                            shape_str(ndim, shape, s1, sizeof s1),
                            ann_shapestr(t, s2, sizeof s2)), NULL;
      sh[i] = want; st[i] = 0;
      continue;
    }
    sh[i] = t->shape[i - lead];
    st[i] = t->stride[i - lead];
    if (want == -1 || want == sh[i]) continue;
    if (sh[i] != 1 || want < 0)
      return ann_seterror("expand: cannot expand %s to %s (dim %d: %lld to "
                          "%lld; only size-1 dims expand)",
                          ann_shapestr(t, s2, sizeof s2),
                          shape_str(ndim, shape, s1, sizeof s1), i + 1,
                          (long long)sh[i], (long long)want), NULL;
    sh[i] = want; st[i] = 0;
  }
  if (ann_shape_numel("expand", ndim, sh) < 0) return NULL;
  return ann_restride(t, t->offset, ndim, sh, st);
}

/* ---- copies ------------------------------------------------------------ */

#define TILE 32

/* A transpose-like copy (one side steps by 1 along the last dim, the
** other does not) in TILE x TILE blocks over the last two dims, so both
** sides touch whole cache lines; l is the caller's merged loop. */
static void copy_tiled(float *db, const float *sb, const ann_Loop *l) {
  const int64_t *strides[2];
  int64_t cols = l->len, dc = l->step[0], sc = l->step[1];
  ann_Loop o;                  /* over all dims but the last */
  strides[0] = l->stride[0];
  strides[1] = l->stride[1];
  ann_loop_init(&o, 2, l->ndim - 1, l->shape, strides);
  do {
    float *d = db + o.off[0];
    const float *s = sb + o.off[1];
    int64_t i0, j0, i, j, rows = o.len, dr = o.step[0], sr = o.step[1];
    for (i0 = 0; i0 < rows; i0 += TILE)
      for (j0 = 0; j0 < cols; j0 += TILE) {
        int64_t ie = i0 + TILE < rows ? i0 + TILE : rows;
        int64_t je = j0 + TILE < cols ? j0 + TILE : cols;
        for (i = i0; i < ie; i++)
          for (j = j0; j < je; j++) d[i * dr + j * dc] = s[i * sr + j * sc];
      }
  } while (ann_loop_next(&o));
}

/* dst = src elementwise over dst's shape, src read with sstride (already
** broadcast to dst's dims); the regions must not overlap */
static void copy_strided(const ann_Tensor *dst, const float *src,
                         const int64_t *sstride) {
  const int64_t *strides[2];
  float *db = ann_data(dst);
  ann_Loop l;
  strides[0] = dst->stride;
  strides[1] = sstride;
  ann_loop_init(&l, 2, dst->ndim, dst->shape, strides);
  if (l.empty) return;
  if (l.ndim >= 2 && l.len >= TILE && l.shape[l.ndim - 2] >= TILE &&
      (l.step[0] == 1) != (l.step[1] == 1) && l.step[0] != 0 &&
      l.step[1] != 0) {
    copy_tiled(db, src, &l);
    return;
  }
  do {
    float *d = db + l.off[0];
    const float *s = src + l.off[1];
    int64_t i, ds = l.step[0], ss = l.step[1];
    if (ds == 1 && ss == 1) memcpy(d, s, (size_t)l.len * sizeof(float));
    else for (i = 0; i < l.len; i++) d[i * ds] = s[i * ss];
  } while (ann_loop_next(&l));
}

/* dst = src for two headers of the same shape, not overlapping */
static void copy_same(const ann_Tensor *dst, const ann_Tensor *src) {
  if (ann_is_contiguous(dst) && ann_is_contiguous(src))
    memcpy(ann_data(dst), ann_data(src),
           (size_t)ann_numel(src) * sizeof(float));
  else copy_strided(dst, ann_data(src), src->stride);
}

/* whether the storage spans of a and b intersect (strides are >= 0) */
static int overlaps(const ann_Tensor *a, const ann_Tensor *b) {
  int64_t alo = a->offset, ahi = a->offset, blo = b->offset, bhi = b->offset;
  int i;
  if (a->st != b->st || ann_numel(a) == 0 || ann_numel(b) == 0) return 0;
  for (i = 0; i < a->ndim; i++) ahi += (a->shape[i] - 1) * a->stride[i];
  for (i = 0; i < b->ndim; i++) bhi += (b->shape[i] - 1) * b->stride[i];
  return alo <= bhi && blo <= ahi;
}

ann_Tensor *ann_clone(const ann_Tensor *t) {
  ann_Tensor *c;
  if (check_tensor("clone", t) < 0) return NULL;
  c = ann_new(t->ndim, t->shape);
  if (c) copy_same(c, t);
  return c;
}

ann_Tensor *ann_contiguous(ann_Tensor *t) {
  if (check_tensor("contiguous", t) < 0) return NULL;
  if (ann_is_contiguous(t)) return ann_retain(t);
  return ann_clone(t);
}

int ann_copy_(ann_Tensor *dst, const ann_Tensor *src) {
  char s1[128], s2[128];
  int64_t sstride[ANN_MAXDIM];
  ann_Tensor *tmp = NULL;
  int i, lead;
  if (check_tensor("copy_", dst) < 0 || check_tensor("copy_", src) < 0)
    return -1;
  lead = dst->ndim - src->ndim;
  for (i = 0; i < dst->ndim && lead >= 0; i++) {   /* numpy broadcasting */
    int64_t n = i < lead ? 1 : src->shape[i - lead];
    if (n != dst->shape[i] && n != 1) break;
    sstride[i] = (i < lead || n != dst->shape[i]) ? 0 : src->stride[i - lead];
  }
  if (lead < 0 || i < dst->ndim)
    return ann_seterror("copy_: cannot broadcast %s to %s",
                        ann_shapestr(src, s1, sizeof s1),
                        ann_shapestr(dst, s2, sizeof s2));
  if (ann_checkwritable("copy_", dst) < 0) return -1;
  if (dst == src) return 0;
  if (overlaps(dst, src)) {   /* read everything before writing anything */
    tmp = ann_clone(src);
    if (tmp == NULL) return -1;
    for (i = lead; i < dst->ndim; i++)
      if (sstride[i] != 0) sstride[i] = tmp->stride[i - lead];
    src = tmp;
  }
  if (ann_numel(src) == ann_numel(dst) && ann_is_contiguous(src)
      && ann_is_contiguous(dst))
    memcpy(ann_data(dst), ann_data(src),
           (size_t)ann_numel(dst) * sizeof(float));
  else copy_strided(dst, ann_data(src), sstride);
  ann_release(tmp);
  return 0;
}

/* ---- cat, stack -------------------------------------------------------- */

static int check_list(const char *op, int n, ann_Tensor *const *ts) {
  int i;
  if (n < 1 || ts == NULL)
    return ann_seterror("%s: expected at least one tensor, got %d", op,
                        ts ? n : 0);
  for (i = 0; i < n; i++)
    if (ts[i] == NULL) return ann_seterror("%s: tensor %d is NULL", op, i + 1);
  return 0;
}

ann_Tensor *ann_cat(int n, ann_Tensor *const *ts, int d) {
  char s1[128], s2[128];
  int64_t shape[ANN_MAXDIM], pos = 0;
  ann_Tensor *out, part;
  int i, e;
  if (check_list("cat", n, ts) < 0 || ann_checkdim("cat", ts[0], d) < 0)
    return NULL;
  memcpy(shape, ts[0]->shape, sizeof shape);
  shape[d] = 0;
  for (i = 0; i < n; i++) {
    const ann_Tensor *t = ts[i];
    int ok = t->ndim == ts[0]->ndim;
    for (e = 0; ok && e < t->ndim; e++)
      if (e != d && t->shape[e] != ts[0]->shape[e]) ok = 0;
    if (!ok)
      return ann_seterror("cat: shape %s of tensor %d does not match %s of "
                          "tensor 1 (all dims but %d must agree)",
                          ann_shapestr(t, s1, sizeof s1), i + 1,
                          ann_shapestr(ts[0], s2, sizeof s2), d + 1), NULL;
    if (shape[d] > INT64_MAX - t->shape[d])
      return ann_seterror("cat: result too large"), NULL;
    shape[d] += t->shape[d];
  }
  out = ann_new(ts[0]->ndim, shape);
  if (out == NULL) return NULL;
  for (i = 0; i < n; i++) {       /* each input into its slab of out */
    part = *out;
    part.offset += pos * out->stride[d];
    part.shape[d] = ts[i]->shape[d];
    copy_same(&part, ts[i]);
    pos += ts[i]->shape[d];
  }
  return out;
}

ann_Tensor *ann_stack(int n, ann_Tensor *const *ts, int d) {
  char s1[128], s2[128];
  int64_t shape[ANN_MAXDIM];
  ann_Tensor *out, part;
  int i, nd;
  if (check_list("stack", n, ts) < 0) return NULL;
  nd = ts[0]->ndim;
  if (d < 0 || d > nd)
    return ann_seterror("stack: dim %d out of range for %s (1..%d)", d + 1,
                        ann_shapestr(ts[0], s1, sizeof s1), nd + 1), NULL;
  if (nd == ANN_MAXDIM)
    return ann_seterror("stack: %s already has %d dims (the most)",
                        ann_shapestr(ts[0], s1, sizeof s1), ANN_MAXDIM), NULL;
  for (i = 1; i < n; i++)
    if (!ann_same_shape(ts[i], ts[0]))
      return ann_seterror("stack: shape %s of tensor %d does not match %s of "
                          "tensor 1", ann_shapestr(ts[i], s1, sizeof s1),
                          i + 1, ann_shapestr(ts[0], s2, sizeof s2)), NULL;
  for (i = 0; i < nd + 1; i++)
    shape[i] = i < d ? ts[0]->shape[i] : i == d ? n : ts[0]->shape[i - 1];
  out = ann_new(nd + 1, shape);
  if (out == NULL) return NULL;
  for (i = 0; i < n; i++) {       /* input i is out selected at i along d */
    part = *out;
    part.offset += i * out->stride[d];
    drop_dim(&part, d);
    copy_same(&part, ts[i]);
  }
  return out;
}

/* ---- index_select, gather ---------------------------------------------- */

/* 0-based position from a 1-based index value v along dim d of t, or -1
** with an error naming v */
static int64_t index_value(const char *op, const ann_Tensor *t, int d,
                           float v) {
  char s[128];
  if (v != floorf(v))    /* also catches NaN; infinities fail below */
    return ann_seterror("%s: index %.9g is not an integer (dim %d of %s)",
                        op, v, d + 1, ann_shapestr(t, s, sizeof s));
  if (v < 1 || v > (double)t->shape[d])
    return ann_seterror("%s: index %.9g out of range for dim %d of %s", op,
                        v, d + 1, ann_shapestr(t, s, sizeof s));
  return (int64_t)v - 1;
}

/* rows of a dense tensor (the data loader's batches): one memcpy a row */
static void gather_rows(ann_Tensor *out, const ann_Tensor *t, const float *ix,
                        int64_t istride, int64_t n) {
  int64_t row = t->shape[0] > 0 ? ann_numel(t) / t->shape[0] : 0, k;
  const float *base = ann_data(t);
  float *o = ann_data(out);
  for (k = 0; k < n; k++)
    memcpy(o + k * row, base + ((int64_t)ix[k * istride] - 1) * row,
           (size_t)row * sizeof(float));
}

ann_Tensor *ann_index_select(const ann_Tensor *t, int d,
                             const ann_Tensor *idx) {
  char s[128];
  int64_t shape[ANN_MAXDIM], k, n;
  const float *ix;
  ann_Tensor *out, src, dst;
  if (check_tensor("index_select", t) < 0 ||
      check_tensor("index_select", idx) < 0 ||
      ann_checkdim("index_select", t, d) < 0)
    return NULL;
  if (idx->ndim != 1)
    return ann_seterror("index_select: index must be a 1-d tensor, got %s",
                        ann_shapestr(idx, s, sizeof s)), NULL;
  n = idx->shape[0];
  ix = ann_data(idx);
  for (k = 0; k < n; k++)     /* all valid before anything is allocated */
    if (index_value("index_select", t, d, ix[k * idx->stride[0]]) < 0)
      return NULL;
  memcpy(shape, t->shape, sizeof shape);
  shape[d] = n;
  out = ann_new(t->ndim, shape);
  if (out == NULL) return NULL;
  if (d == 0 && ann_is_contiguous(t)) {
    gather_rows(out, t, ix, idx->stride[0], n);
    return out;
  }
  for (k = 0; k < n; k++) {   /* slice idx[k] of t -> slice k of out */
    int64_t p = (int64_t)ix[k * idx->stride[0]] - 1;
    src = *t;
    src.offset += p * t->stride[d];
    drop_dim(&src, d);
    dst = *out;
    dst.offset += k * out->stride[d];
    drop_dim(&dst, d);
    copy_same(&dst, &src);
  }
  return out;
}

ann_Tensor *ann_gather(const ann_Tensor *t, int d, const ann_Tensor *idx) {
  char s1[128], s2[128];
  int64_t tstride[ANN_MAXDIM];
  const int64_t *strides[3];
  const float *tb, *ib;
  float *ob;
  ann_Tensor *out;
  ann_Loop l;
  int e;
  if (check_tensor("gather", t) < 0 || check_tensor("gather", idx) < 0 ||
      ann_checkdim("gather", t, d) < 0)
    return NULL;
  if (idx->ndim != t->ndim)
    return ann_seterror("gather: index %s must have as many dims as the "
                        "input %s", ann_shapestr(idx, s1, sizeof s1),
                        ann_shapestr(t, s2, sizeof s2)), NULL;
  for (e = 0; e < t->ndim; e++)
    if (e != d && idx->shape[e] > t->shape[e])
      return ann_seterror("gather: index %s is larger than the input %s in "
                          "dim %d", ann_shapestr(idx, s1, sizeof s1),
                          ann_shapestr(t, s2, sizeof s2), e + 1), NULL;
  out = ann_new(idx->ndim, idx->shape);
  if (out == NULL) return NULL;
  /* walk out, idx and t together over idx's shape; t does not move along
  ** d, where the index value places the read instead */
  memcpy(tstride, t->stride, sizeof tstride);
  tstride[d] = 0;
  strides[0] = out->stride; strides[1] = idx->stride; strides[2] = tstride;
  ann_loop_init(&l, 3, idx->ndim, idx->shape, strides);
  if (l.empty) return out;
  ob = ann_data(out); ib = ann_data(idx); tb = ann_data(t);
  do {
    int64_t i;
    for (i = 0; i < l.len; i++) {
      int64_t p = index_value("gather", t, d, ib[l.off[1] + i * l.step[1]]);
      if (p < 0) { ann_release(out); return NULL; }
      ob[l.off[0] + i * l.step[0]] =
          tb[l.off[2] + i * l.step[2] + p * t->stride[d]];
    }
  } while (ann_loop_next(&l));
  return out;
}
