/*
** ltensor.c: the tensor userdata (shared helpers of lann.h), its
** metamethods, creation, inspection, views and copies.
** Indices and dims are 1-based here and 0-based in the core; negative
** values count from the end, as in PyTorch.  Views and copies call the
** recording (ann_ag_*) forms, so autograd sees them.
*/
#include <limits.h>

#include <string.h>

#include "lann.h"

#define SHAPELEN (ANN_MAXDIM * 22 + 4)   /* room for ann_shapestr */

/* ---- shared helpers ----------------------------------------------------- */

/* The tensor metatable is also in the registry under this address: a
** light-userdata key is found without hashing a string, which
** luaL_testudata and luaL_setmetatable do for "ann.Tensor" on every
** operand and result (a twentieth of a small network's training step) */
const char lann_tensor_key = 0;

ann_Tensor *lann_totensor(lua_State *L, int i) {
  ann_Tensor **p = (ann_Tensor **)lua_touserdata(L, i);
  int ok;
  lann_use(L);                  /* the state's context, for what follows */
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &lann_tensor_key);
  ok = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!ok) return NULL;
  if (*p == NULL) luaL_argerror(L, i, "tensor is closed");
  return *p;
}

ann_Tensor *lann_checktensor(lua_State *L, int i) {
  ann_Tensor *t = lann_totensor(L, i);
  if (t == NULL) luaL_typeerror(L, i, LANN_TENSOR);
  return t;
}

/* The chunk-name prefix of annlua's own Lua files ("@lua/annlua/"), set
** by annlua.util: an error raised here while library Lua code called us
** is blamed on the first Lua frame outside those files (the user's line),
** not on the line inside ann.nn that passed the user's values along */
static const char lib_key = 0;

static int l_lib_prefix(lua_State *L) {
  luaL_checkstring(L, 1);
  lua_settop(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &lib_key);
  return 0;
}

static void where(lua_State *L) {
  lua_Debug ar;
  int level;
  size_t n = 0;
  const char *lib;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &lib_key);
  lib = lua_tolstring(L, -1, &n);
  for (level = 1; lib != NULL && lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline <= 0) continue;               /* a C function */
    if (strncmp(ar.source, lib, n) == 0) continue;  /* one of ours */
    lua_pop(L, 1);
    lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
    return;
  }
  lua_pop(L, 1);
  luaL_where(L, 1);
}

int lann_raise(lua_State *L, const char *msg) {
  where(L);
  lua_pushstring(L, msg);
  lua_concat(L, 2);
  return lua_error(L);
}

int lann_error(lua_State *L) {
  return lann_raise(L, ann_error());
}

static ann_Tensor **newslot(lua_State *L) {
  ann_Tensor **p = (ann_Tensor **)lua_newuserdatauv(L, sizeof *p, 0);
  *p = NULL;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &lann_tensor_key);
  lua_setmetatable(L, -2);
  return p;
}

/* the slot's tensor was made by the caller after the slot: account for
** what came before; slotdone accounts for the new one */
ann_Tensor **lann_newslot(lua_State *L) {
  lann_enter(L);
  return newslot(L);
}

/* finishes a slot filled after lann_newslot: raise or account */
static int slotdone(lua_State *L, ann_Tensor **p) {
  if (*p == NULL) return lann_error(L);
  lann_gcaccount(L);
  return 1;
}

/* A memory error in lua_newuserdatauv would leak t: callers that can
** should use lann_newslot first. */
int lann_push(lua_State *L, ann_Tensor *t) {
  if (t == NULL) return lann_error(L);
  *newslot(L) = t;
  lann_gcaccount(L);
  return 1;
}

static const char *shapestr(const ann_Tensor *t, char *buf) {
  return ann_shapestr(t, buf, SHAPELEN);
}

int lann_checkdim(lua_State *L, int arg, const ann_Tensor *t, const char *op) {
  lua_Integer d0 = luaL_checkinteger(L, arg), d = d0;
  char s[SHAPELEN];
  if (d < 0) d += t->ndim + 1;
  if (d < 1 || d > t->ndim)
    luaL_error(L, "%s: dim %I out of range for %s", op, d0, shapestr(t, s));
  return (int)d - 1;
}

/* an index along dim d (1-based, negative from the end) -> 0-based */
static int64_t checkindex(lua_State *L, int arg, const ann_Tensor *t, int d,
                          const char *op) {
  lua_Integer i0 = luaL_checkinteger(L, arg), i = i0;
  char s[SHAPELEN];
  if (i < 0) i += t->shape[d] + 1;
  if (i < 1 || i > t->shape[d])
    luaL_error(L, "%s: index %I out of range for dim %d of %s", op, i0,
               d + 1, shapestr(t, s));
  return (int64_t)i - 1;
}

/* shape entries from args first..last, or from a table at first; sizes
** must be >= min (0; -1 for view and expand) */
static int getshape(lua_State *L, int first, int last, int64_t *shape,
                    const char *op, lua_Integer min) {
  int i, istable = (first == last && lua_istable(L, first));
  lua_Integer n = istable ? luaL_len(L, first) : last - first + 1;
  if (n < 0) n = 0;
  if (n > ANN_MAXDIM)
    luaL_error(L, "%s: %I dims (at most %d)", op, n, ANN_MAXDIM);
  for (i = 0; i < n; i++) {
    lua_Integer v;
    int ok;
    if (istable) lua_geti(L, first, i + 1);
    else lua_pushvalue(L, first + i);
    v = lua_tointegerx(L, -1, &ok);
    if (lua_type(L, -1) == LUA_TNUMBER && !ok)
      luaL_error(L, "%s: size %d of the shape is %s, expected an integer",
                 op, i + 1, lua_tostring(L, -1));
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "%s: size %d of the shape is a %s, expected an integer",
                 op, i + 1, luaL_typename(L, -1));
    lua_pop(L, 1);
    if (v < min)
      luaL_error(L, "%s: bad size %I in dim %d", op, v, i + 1);
    shape[i] = (int64_t)v;
  }
  return (int)n;
}

int lann_checkshape(lua_State *L, int i, int64_t *shape, const char *op) {
  int top = lua_gettop(L);
  return getshape(L, i, top < i ? i - 1 : top, shape, op, 0);
}

/* ---- metamethods -------------------------------------------------------- */

/* t[i] on a tensor with ndim >= 2: the row view, as t:select(1, i) */
static int t_index(lua_State *L) {
  ann_Tensor *t;
  int64_t i;
  if (lua_type(L, 2) == LUA_TSTRING) {   /* t.grad, or a method (upvalue 1) */
    if (strcmp(lua_tostring(L, 2), "grad") == 0) {
      t = lann_checktensor(L, 1);
      if (t->grad == NULL) lua_pushnil(L);
      else lann_push(L, ann_retain(t->grad));
      return 1;
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(1));
    return 1;
  }
  t = lann_checktensor(L, 1);
  if (lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "index: expected an integer or a method name, "
                      "got %s", luaL_typename(L, 2));
  if (t->ndim == 0)
    return luaL_error(L, "index: a 0-dim tensor has no rows");
  i = checkindex(L, 2, t, 0, "index");
  if (t->ndim == 1) {
    lua_pushnumber(L, ann_data(t)[i * t->stride[0]]);
    return 1;
  } else {
    ann_Tensor **p = lann_newslot(L);
    *p = ann_ag_select(t, 0, i);
    return slotdone(L, p);
  }
}

/* t.grad = nil drops the gradient; t.grad = g sets it (a copy, which
** must have t's shape), as PyTorch allows */
static int setgrad(lua_State *L, ann_Tensor *t) {
  ann_Tensor *g = NULL;
  char s1[SHAPELEN], s2[SHAPELEN];
  if (!lua_isnil(L, 3)) {
    ann_Tensor *src = lann_checktensor(L, 3);
    if (!ann_same_shape(src, t))
      return luaL_error(L, "grad: gradient %s does not match tensor %s",
                        shapestr(src, s1), shapestr(t, s2));
    if ((g = ann_clone(src)) == NULL) return lann_error(L);
  }
  ann_release(t->grad);
  t->grad = g;
  return 0;
}

/* t[i] = v: an element of a 1-d tensor, or a row filled with a number or
** copied from a tensor (broadcast) */
static int t_newindex(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1), *src = NULL, *row;
  int64_t i;
  int r;
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "grad") == 0)
    return setgrad(L, t);
  if (lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "newindex: cannot assign field '%s' of a tensor",
                      luaL_tolstring(L, 2, NULL));
  if (t->ndim == 0)
    return luaL_error(L, "newindex: a 0-dim tensor has no rows");
  i = checkindex(L, 2, t, 0, "newindex");
  if (lua_type(L, 3) != LUA_TNUMBER && (src = lann_totensor(L, 3)) == NULL)
    return luaL_error(L, "newindex: expected a number or a tensor, got %s",
                      luaL_typename(L, 3));
  if (ann_check_inplace(t, "newindex") < 0) return lann_error(L);
  if (t->ndim == 1 && src == NULL) {
    ann_data(t)[i * t->stride[0]] = (float)lua_tonumber(L, 3);
    return 0;
  }
  row = ann_select(t, 0, i);
  if (row == NULL) return lann_error(L);
  r = src ? ann_copy_(row, src) : ann_fill_(row, (float)lua_tonumber(L, 3));
  ann_release(row);
  return r < 0 ? lann_error(L) : 0;
}

static int t_len(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  if (t->ndim == 0) return luaL_error(L, "#: a 0-dim tensor has no length");
  lua_pushinteger(L, (lua_Integer)t->shape[0]);
  return 1;
}

/* __gc and __close: release now; later use raises "tensor is closed".
** The metatable is upvalue 2 (lannlua.c): comparing with it saves
** luaL_checkudata's look-up by name, once per tensor freed. */
static int t_gc(lua_State *L) {
  ann_Tensor **p = (ann_Tensor **)lua_touserdata(L, 1);
  if (p == NULL || !lua_getmetatable(L, 1)
      || !lua_rawequal(L, -1, lua_upvalueindex(2)))
    return luaL_typeerror(L, 1, LANN_TENSOR);
  ann_release(*p);
  *p = NULL;
  return 0;
}

const luaL_Reg lann_tensor_meta[] = {
  {"__index", t_index},
  {"__newindex", t_newindex},
  {"__len", t_len},
  {"__tostring", lann_tostring},
  {"__gc", t_gc},
  {"__close", t_gc},
  {NULL, NULL}
};

/* ---- creation ----------------------------------------------------------- */

typedef struct Nest {
  int ndim;
  int64_t shape[ANN_MAXDIM];
  int64_t pos[ANN_MAXDIM];    /* where we are, for error messages */
  float *out;
} Nest;

static const char *posstr(const Nest *n, int depth, char *buf) {
  int k, len = 0;
  len += sprintf(buf, "[");
  for (k = 0; k < depth; k++)
    len += sprintf(buf + len, k ? ",%lld" : "%lld", (long long)n->pos[k] + 1);
  sprintf(buf + len, "]");
  return buf;
}

/* the shape, from the first entry at each level */
static void nestshape(lua_State *L, Nest *n) {
  int depth = 0;
  lua_pushvalue(L, 1);
  while (lua_istable(L, -1)) {
    if (depth == ANN_MAXDIM)
      luaL_error(L, "tensor: nested tables deeper than %d dims", ANN_MAXDIM);
    n->shape[depth++] = (int64_t)luaL_len(L, -1);
    if (n->shape[depth - 1] == 0) break;
    lua_geti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  n->ndim = depth;
}

/* copies the table on top of the stack, which sits at depth d */
static void nestfill(lua_State *L, Nest *n, int d) {
  char s[SHAPELEN];
  int64_t i, len = (int64_t)luaL_len(L, -1);
  if (len != n->shape[d])
    luaL_error(L, "tensor: ragged nested table at %s (size %I, expected %I)",
               posstr(n, d, s), (lua_Integer)len, (lua_Integer)n->shape[d]);
  for (i = 0; i < len; i++) {
    int tt = lua_geti(L, -1, (lua_Integer)i + 1);
    n->pos[d] = i;
    if (d + 1 < n->ndim) {
      if (tt != LUA_TTABLE)
        luaL_error(L, "tensor: ragged nested table at %s (a %s, expected a "
                   "table)", posstr(n, d + 1, s), lua_typename(L, tt));
      nestfill(L, n, d + 1);
    } else {
      if (tt == LUA_TTABLE)
        luaL_error(L, "tensor: ragged nested table at %s (a table, expected "
                   "a number)", posstr(n, d + 1, s));
      if (tt != LUA_TNUMBER)
        luaL_error(L, "tensor: element at %s is a %s, expected a number",
                   posstr(n, d + 1, s), lua_typename(L, tt));
      *n->out++ = (float)lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
  }
}

/* ann.tensor(nested) | ann.tensor(flat, shape) | ann.tensor(number) */
static int l_tensor(lua_State *L) {
  ann_Tensor **p;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    p = lann_newslot(L);
    *p = ann_scalar((float)lua_tonumber(L, 1));
    return slotdone(L, p);
  }
  if (lann_totensor(L, 1)) {            /* a copy with no history */
    p = lann_newslot(L);
    *p = ann_clone(lann_totensor(L, 1));
    return slotdone(L, p);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_isnoneornil(L, 2)) {
    Nest n;
    luaL_checkstack(L, ANN_MAXDIM + 4, "tensor");   /* one per level */
    nestshape(L, &n);
    p = lann_newslot(L);
    if ((*p = ann_empty(n.ndim, n.shape)) == NULL) return lann_error(L);
    n.out = ann_data(*p);
    lua_pushvalue(L, 1);
    nestfill(L, &n, 0);
    lua_pop(L, 1);
  } else {
    int64_t shape[ANN_MAXDIM], i, len;
    int ndim;
    float *out;
    char s[SHAPELEN];
    luaL_checktype(L, 2, LUA_TTABLE);
    ndim = getshape(L, 2, 2, shape, "tensor", 0);
    p = lann_newslot(L);
    if ((*p = ann_empty(ndim, shape)) == NULL) return lann_error(L);
    len = (int64_t)luaL_len(L, 1);
    if (len != ann_numel(*p))
      return luaL_error(L, "tensor: %I values for shape %s (%I elements)",
                        (lua_Integer)len, shapestr(*p, s),
                        (lua_Integer)ann_numel(*p));
    out = ann_data(*p);
    for (i = 0; i < len; i++) {
      int tt = lua_geti(L, 1, (lua_Integer)i + 1);
      if (tt != LUA_TNUMBER)
        return luaL_error(L, "tensor: element %I is a %s, expected a number",
                          (lua_Integer)i + 1, lua_typename(L, tt));
      out[i] = (float)lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  }
  return slotdone(L, p);
}

/* zeros, ones, rand, randn: a shape as varargs or one table */
typedef ann_Tensor *(*MakeOp)(int, const int64_t *);

static int made(lua_State *L, const char *op, MakeOp f) {
  int64_t shape[ANN_MAXDIM];
  int n = lann_checkshape(L, 1, shape, op);
  ann_Tensor **p = lann_newslot(L);
  *p = f(n, shape);
  return slotdone(L, p);
}

static ann_Tensor *ones(int n, const int64_t *shape) {
  return ann_full(n, shape, 1.0f);
}

static int l_zeros(lua_State *L) { return made(L, "zeros", ann_zeros); }
static int l_ones(lua_State *L) { return made(L, "ones", ones); }
static int l_rand(lua_State *L) { return made(L, "rand", ann_rand); }
static int l_randn(lua_State *L) { return made(L, "randn", ann_randn); }

/* full(shape, v) or full(d1, d2, ..., v) */
static int l_full(lua_State *L) {
  int64_t shape[ANN_MAXDIM];
  int top = lua_gettop(L), n;
  float v = (float)luaL_checknumber(L, top);
  ann_Tensor **p;
  if (top < 2 && !lua_istable(L, 1))
    return luaL_error(L, "full: expected a shape and a value");
  n = getshape(L, 1, top - 1, shape, "full", 0);
  p = lann_newslot(L);
  *p = ann_full(n, shape, v);
  return slotdone(L, p);
}

static int l_eye(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  ann_Tensor **p;
  if (n < 0) return luaL_error(L, "eye: bad size %I", n);
  p = lann_newslot(L);
  *p = ann_eye((int64_t)n);
  return slotdone(L, p);
}

static int l_arange(lua_State *L) {
  double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
  double step = luaL_optnumber(L, 3, 1.0);
  ann_Tensor **p = lann_newslot(L);
  *p = ann_arange(a, b, step);
  return slotdone(L, p);
}

static int l_linspace(lua_State *L) {
  double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
  lua_Integer n = luaL_checkinteger(L, 3);
  ann_Tensor **p = lann_newslot(L);
  *p = ann_linspace(a, b, (int64_t)n);
  return slotdone(L, p);
}

/* ann.get_rng_state() -> a 32-byte string; ann.set_rng_state(s) */
static int l_get_rng_state(lua_State *L) {
  uint64_t st[4];
  unsigned char b[32];
  int i, k;
  lann_use(L);
  ann_rand_get_state(st);
  for (i = 0; i < 4; i++)               /* little-endian, as in files */
    for (k = 0; k < 8; k++) b[i * 8 + k] = (unsigned char)(st[i] >> (8 * k));
  lua_pushlstring(L, (const char *)b, 32);
  return 1;
}

static int l_set_rng_state(lua_State *L) {
  size_t len;
  const unsigned char *b = (const unsigned char *)luaL_checklstring(L, 1, &len);
  uint64_t st[4] = {0, 0, 0, 0};
  int i, k;
  if (len != 32)
    return luaL_error(L, "set_rng_state: expected a 32-byte state, got %d "
                      "bytes", (int)len);
  for (i = 0; i < 4; i++)
    for (k = 0; k < 8; k++) st[i] |= (uint64_t)b[i * 8 + k] << (8 * k);
  lann_use(L);
  if (ann_rand_set_state(st) != 0) return lann_error(L);
  return 0;
}

/* ann.randperm(n [, seed]): 1..n shuffled; with a seed, from a generator
** of its own (the global stream is left alone) */
static int l_randperm(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  int seeded = !lua_isnoneornil(L, 2);  /* read before the slot is pushed */
  uint64_t seed = seeded ? (uint64_t)luaL_checkinteger(L, 2) : 0;
  ann_Tensor **p = lann_newslot(L);
  *p = ann_randperm((int64_t)n, seeded ? &seed : NULL);
  return slotdone(L, p);
}

static int l_manual_seed(lua_State *L) {
  lua_Integer seed = luaL_checkinteger(L, 1);
  lann_use(L);
  ann_manual_seed((uint64_t)seed);
  return 0;
}

static int l_is_tensor(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, LANN_TENSOR) != NULL);
  return 1;
}

/* ---- inspection --------------------------------------------------------- */

static void pushshape(lua_State *L, const ann_Tensor *t) {
  int i;
  lua_createtable(L, t->ndim, 0);
  for (i = 0; i < t->ndim; i++) {
    lua_pushinteger(L, (lua_Integer)t->shape[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int m_shape(lua_State *L) {
  pushshape(L, lann_checktensor(L, 1));
  return 1;
}

/* size(d): one size; size(): the shape, as Torch's t:size() */
static int m_size(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  if (lua_isnoneornil(L, 2)) pushshape(L, t);
  else lua_pushinteger(L, (lua_Integer)t->shape[lann_checkdim(L, 2, t, "size")]);
  return 1;
}

static int m_dim(lua_State *L) {
  lua_pushinteger(L, lann_checktensor(L, 1)->ndim);
  return 1;
}

static int m_numel(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)ann_numel(lann_checktensor(L, 1)));
  return 1;
}

/* the ndim indices from arg 2 -> 0-based idx */
static void checkidx(lua_State *L, ann_Tensor *t, int nargs, int64_t *idx,
                     const char *op) {
  char s[SHAPELEN];
  int k;
  if (nargs != t->ndim)
    luaL_error(L, "%s: %d indices for %s (expected %d)", op, nargs,
               shapestr(t, s), t->ndim);
  for (k = 0; k < t->ndim; k++) idx[k] = checkindex(L, k + 2, t, k, op);
}

static int m_get(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  int64_t idx[ANN_MAXDIM];
  float v;
  checkidx(L, t, lua_gettop(L) - 1, idx, "get");
  if (ann_get(t, idx, &v) < 0) return lann_error(L);
  lua_pushnumber(L, v);
  return 1;
}

/* set(i, j, ..., v): returns t */
static int m_set(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  int64_t idx[ANN_MAXDIM];
  int top = lua_gettop(L);
  float v = (float)luaL_checknumber(L, top < 2 ? 2 : top);
  checkidx(L, t, top - 2, idx, "set");
  if (ann_check_inplace(t, "set") < 0 || ann_set(t, idx, v) < 0)
    return lann_error(L);
  lua_settop(L, 1);
  return 1;
}

static int m_item(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  char s[SHAPELEN];
  float v;
  if (ann_numel(t) != 1)
    return luaL_error(L, "item: tensor %s has %I elements (expected 1)",
                      shapestr(t, s), (lua_Integer)ann_numel(t));
  if (ann_item(t, &v) < 0) return lann_error(L);
  lua_pushnumber(L, v);
  return 1;
}

static void totable(lua_State *L, const ann_Tensor *t, int d, const float *p) {
  int64_t i;
  if (d == t->ndim) { lua_pushnumber(L, *p); return; }
  lua_createtable(L, t->shape[d] > INT_MAX ? 0 : (int)t->shape[d], 0);
  for (i = 0; i < t->shape[d]; i++) {
    totable(L, t, d + 1, p + i * t->stride[d]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static int m_totable(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  luaL_checkstack(L, t->ndim + 2, "totable");
  totable(L, t, 0, ann_data(t));
  return 1;
}

static int m_is_contiguous(lua_State *L) {
  lua_pushboolean(L, ann_is_contiguous(lann_checktensor(L, 1)));
  return 1;
}

/* ---- views -------------------------------------------------------------- */

/* view, reshape, expand: t and a shape as varargs or one table */
typedef ann_Tensor *(*ShapeOp)(ann_Tensor *, int, const int64_t *);

static int reshaped(lua_State *L, const char *op, ShapeOp f) {
  ann_Tensor *t = lann_checktensor(L, 1);
  int64_t shape[ANN_MAXDIM];
  int n = getshape(L, 2, lua_gettop(L), shape, op, -1);
  ann_Tensor **p = lann_newslot(L);
  *p = f(t, n, shape);
  return slotdone(L, p);
}

static int m_view(lua_State *L) { return reshaped(L, "view", ann_ag_view); }

static int m_reshape(lua_State *L) {
  return reshaped(L, "reshape", ann_ag_reshape);
}

/* t(): transpose of a 2-d tensor; 0-d and 1-d come back as views */
static int m_t(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  ann_Tensor **p;
  char s[SHAPELEN];
  if (t->ndim > 2)
    return luaL_error(L, "t: expected a tensor of at most 2 dims, got %s",
                      shapestr(t, s));
  p = lann_newslot(L);
  *p = t->ndim == 2 ? ann_ag_transpose(t, 0, 1)
                    : ann_ag_view(t, t->ndim, t->shape);
  return slotdone(L, p);
}

static int m_transpose(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  int d1 = lann_checkdim(L, 2, t, "transpose");
  int d2 = lann_checkdim(L, 3, t, "transpose");
  ann_Tensor **p = lann_newslot(L);
  *p = ann_ag_transpose(t, d1, d2);
  return slotdone(L, p);
}

/* permute(d1, d2, ...) or permute{d1, d2, ...} */
static int m_permute(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  int64_t dims[ANN_MAXDIM];
  int perm[ANN_MAXDIM], seen[ANN_MAXDIM] = {0};
  int n = getshape(L, 2, lua_gettop(L), dims, "permute", LUA_MININTEGER);
  int k;
  ann_Tensor **p;
  char s[SHAPELEN];
  if (n != t->ndim)
    return luaL_error(L, "permute: %d dims given for %s", n, shapestr(t, s));
  for (k = 0; k < n; k++) {
    int64_t d = dims[k] < 0 ? dims[k] + n + 1 : dims[k];
    if (d < 1 || d > n)
      return luaL_error(L, "permute: dim %I out of range for %s",
                        (lua_Integer)dims[k], shapestr(t, s));
    if (seen[d - 1]++)
      return luaL_error(L, "permute: dim %I repeated", (lua_Integer)d);
    perm[k] = (int)d - 1;
  }
  p = lann_newslot(L);
  *p = ann_ag_permute(t, perm);
  return slotdone(L, p);
}

static int m_narrow(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  int d = lann_checkdim(L, 2, t, "narrow");
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  ann_Tensor **p;
  char s[SHAPELEN];
  if (start < 1 || len < 0 || start - 1 > t->shape[d] - len)
    return luaL_error(L, "narrow: start %I + length %I exceeds size %I of "
                      "dim %d of %s", start, len, (lua_Integer)t->shape[d],
                      d + 1, shapestr(t, s));
  p = lann_newslot(L);
  *p = ann_ag_narrow(t, d, (int64_t)start - 1, (int64_t)len);
  return slotdone(L, p);
}

static int m_select(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  int d = lann_checkdim(L, 2, t, "select");
  int64_t i = checkindex(L, 3, t, d, "select");
  ann_Tensor **p = lann_newslot(L);
  *p = ann_ag_select(t, d, i);
  return slotdone(L, p);
}

static int m_squeeze(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  int d = lua_isnoneornil(L, 2) ? -1 : lann_checkdim(L, 2, t, "squeeze");
  ann_Tensor **p = lann_newslot(L);
  *p = ann_ag_squeeze(t, d);
  return slotdone(L, p);
}

/* a new dim's position: 1..ndim+1, negative from the end (-1 appends) */
static int checknewdim(lua_State *L, int arg, const ann_Tensor *t,
                       const char *op) {
  lua_Integer d0 = luaL_checkinteger(L, arg), d = d0;
  char s[SHAPELEN];
  if (d < 0) d += t->ndim + 2;
  if (d < 1 || d > t->ndim + 1)
    luaL_error(L, "%s: dim %I out of range for %s (new dim 1..%d)", op, d0,
               shapestr(t, s), t->ndim + 1);
  return (int)d - 1;
}

static int m_unsqueeze(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  int d = checknewdim(L, 2, t, "unsqueeze");
  ann_Tensor **p = lann_newslot(L);
  *p = ann_ag_unsqueeze(t, d);
  return slotdone(L, p);
}

static int m_expand(lua_State *L) {
  return reshaped(L, "expand", ann_ag_expand);
}

/* ---- copies ------------------------------------------------------------- */

static int m_clone(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  ann_Tensor **p = lann_newslot(L);
  *p = ann_ag_clone(t);
  return slotdone(L, p);
}

static int m_contiguous(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  ann_Tensor **p;
  if (ann_is_contiguous(t)) { lua_settop(L, 1); return 1; }   /* as is */
  p = lann_newslot(L);
  *p = ann_ag_contiguous(t);
  return slotdone(L, p);
}

/* the tensors of the list at arg 1, in a scratch userdata left on the
** stack (so an error frees it) */
static ann_Tensor **checklist(lua_State *L, const char *op, int *n) {
  ann_Tensor **ts;
  int i;
  luaL_checktype(L, 1, LUA_TTABLE);
  *n = (int)luaL_len(L, 1);
  if (*n < 1) luaL_error(L, "%s: expected a non-empty list of tensors", op);
  ts = (ann_Tensor **)lua_newuserdatauv(L, (size_t)*n * sizeof *ts, 0);
  for (i = 0; i < *n; i++) {
    lua_geti(L, 1, i + 1);
    if ((ts[i] = lann_totensor(L, -1)) == NULL)
      luaL_error(L, "%s: element %d of the list is a %s, expected %s", op,
                 i + 1, luaL_typename(L, -1), LANN_TENSOR);
    lua_pop(L, 1);          /* the list keeps it alive */
  }
  return ts;
}

/* cat({a, b, ...} [, d]): joined along existing dim d (default 1) */
static int l_cat(lua_State *L) {
  int n, d;
  ann_Tensor **ts, **p;
  lua_settop(L, 2);                        /* list, d; scratch goes at 3 */
  ts = checklist(L, "cat", &n);
  d = lua_isnil(L, 2) ? 0 : lann_checkdim(L, 2, ts[0], "cat");
  p = lann_newslot(L);
  *p = ann_ag_cat(n, ts, d);
  return slotdone(L, p);
}

/* stack({a, b, ...} [, d]): joined along a new dim d (default 1) */
static int l_stack(lua_State *L) {
  int n, d;
  ann_Tensor **ts, **p;
  lua_settop(L, 2);
  ts = checklist(L, "stack", &n);
  d = lua_isnil(L, 2) ? 0 : checknewdim(L, 2, ts[0], "stack");
  p = lann_newslot(L);
  *p = ann_ag_stack(n, ts, d);
  return slotdone(L, p);
}

/* index_select(d, idx): idx a 1-d tensor or a list of 1-based integers */
static int m_index_select(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1), *idx;
  int d = lann_checkdim(L, 2, t, "index_select");
  ann_Tensor **p;
  lua_settop(L, 3);
  if ((idx = lann_totensor(L, 3)) == NULL) {
    int64_t i, n;
    float *out;
    if (!lua_istable(L, 3))
      return luaL_error(L, "index_select: expected a tensor or a list of "
                        "indices, got %s", luaL_typename(L, 3));
    n = (int64_t)luaL_len(L, 3);
    p = lann_newslot(L);       /* a temporary at 4, freed by the GC */
    if ((*p = ann_empty(1, &n)) == NULL) return lann_error(L);
    out = ann_data(*p);
    for (i = 0; i < n; i++) {
      lua_Integer v;
      int ok;
      lua_geti(L, 3, (lua_Integer)i + 1);
      v = lua_tointegerx(L, -1, &ok);
      if (!ok || lua_type(L, -1) != LUA_TNUMBER)
        return luaL_error(L, "index_select: index %I is not an integer",
                          (lua_Integer)i + 1);
      out[i] = (float)v;
      lua_pop(L, 1);
    }
    idx = *p;
  }
  p = lann_newslot(L);
  *p = ann_ag_index_select(t, d, idx);
  return slotdone(L, p);
}

static int m_gather(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  int d = lann_checkdim(L, 2, t, "gather");
  ann_Tensor *idx = lann_checktensor(L, 3);
  ann_Tensor **p = lann_newslot(L);
  *p = ann_ag_gather(t, d, idx);
  return slotdone(L, p);
}

/* ---- registration ------------------------------------------------------- */

static const luaL_Reg methods[] = {
  {"shape", m_shape}, {"size", m_size}, {"dim", m_dim}, {"numel", m_numel},
  {"get", m_get}, {"set", m_set}, {"item", m_item}, {"totable", m_totable},
  {"is_contiguous", m_is_contiguous},
  {"view", m_view}, {"reshape", m_reshape}, {"t", m_t},
  {"transpose", m_transpose}, {"permute", m_permute}, {"narrow", m_narrow},
  {"select", m_select}, {"squeeze", m_squeeze}, {"unsqueeze", m_unsqueeze},
  {"expand", m_expand}, {"clone", m_clone}, {"contiguous", m_contiguous},
  {"index_select", m_index_select}, {"gather", m_gather},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"tensor", l_tensor}, {"zeros", l_zeros}, {"ones", l_ones},
  {"full", l_full}, {"eye", l_eye}, {"arange", l_arange},
  {"linspace", l_linspace}, {"rand", l_rand}, {"randn", l_randn},
  {"manual_seed", l_manual_seed}, {"randperm", l_randperm},
  {"get_rng_state", l_get_rng_state}, {"set_rng_state", l_set_rng_state}, {"is_tensor", l_is_tensor},
  {"_lib_prefix", l_lib_prefix},
  {"cat", l_cat}, {"stack", l_stack},
  {NULL, NULL}
};

void lann_open_tensor(lua_State *L) {
  luaL_setfuncs(L, functions, 0);          /* module table at -1 */
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, methods, 0);            /* method table at -2 */
  lua_pop(L, 1);
}
