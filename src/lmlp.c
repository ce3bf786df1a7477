/*
** lmlp.c: Lua binding of the fused MLP path (ann_mlp.c).
** lua/annlua/fused.lua decides when a model can take it and builds the
** object with core._mlp(weights, biases, activations, slopes).
*/
#include <string.h>

#include "lann.h"

#define LANN_MLP "ann.Mlp"

/* the methods hold the metatable as upvalue 1 and the tensor metatable
** as upvalue 2: comparing with them saves luaL_checkudata's look-up of
** the name in the registry on every call */
static ann_Mlp *checkmlp(lua_State *L, int i) {
  ann_Mlp **p = lua_touserdata(L, i);
  if (p == NULL || !lua_getmetatable(L, i)
      || !lua_rawequal(L, -1, lua_upvalueindex(1)))
    luaL_typeerror(L, i, LANN_MLP);
  lua_pop(L, 1);
  if (*p == NULL) luaL_error(L, "mlp: the network was freed");
  return *p;
}

static ann_Tensor *tensor_at(lua_State *L, int t, int k, int nil_ok,
                             const char *what) {
  ann_Tensor *x;
  lua_geti(L, t, k);
  x = lann_totensor(L, -1);
  if (x == NULL && !(nil_ok && !lua_toboolean(L, -1)))
    luaL_error(L, "mlp: %s %d is a %s, not a tensor", what, k,
               luaL_typename(L, -1));
  lua_pop(L, 1);
  return x;
}

/* core._mlp(weights, biases, acts, slopes) -> mlp; biases[i] false for
** none; acts[i] one of the names below */
static int l_mlp(lua_State *L) {
  static const char *const acts[] = {"identity", "tanh", "relu", "sigmoid",
                                     "leaky", NULL};
  ann_Tensor *w[32], *b[32];
  int act[32], k, n;
  float slope[32];
  ann_Mlp **p;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  n = (int)luaL_len(L, 1);
  if (n < 1 || n > 32)
    return luaL_error(L, "mlp: %d layers (1 to 32)", n);
  for (k = 0; k < n; k++) {
    w[k] = tensor_at(L, 1, k + 1, 0, "weight");
    b[k] = tensor_at(L, 2, k + 1, 1, "bias");
    lua_geti(L, 3, k + 1);
    act[k] = luaL_checkoption(L, -1, NULL, acts);
    lua_geti(L, 4, k + 1);
    slope[k] = (float)luaL_optnumber(L, -1, 0);
    lua_pop(L, 2);
  }
  p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = NULL;
  luaL_setmetatable(L, LANN_MLP);
  if ((*p = ann_mlp_new(n, w, b, act, slope)) == NULL) return lann_error(L);
  return 1;
}

static int m_gc(lua_State *L) {
  ann_Mlp **p = luaL_checkudata(L, 1, LANN_MLP);
  ann_mlp_free(*p);
  *p = NULL;
  return 0;
}

/* the tensor at i, or NULL: lann_totensor by upvalue 2 */
static ann_Tensor *totensor(lua_State *L, int i) {
  ann_Tensor **p = lua_touserdata(L, i);
  int ok;
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  ok = lua_rawequal(L, -1, lua_upvalueindex(2));
  lua_pop(L, 1);
  if (!ok) return NULL;
  if (*p == NULL) luaL_argerror(L, i, "tensor is closed");
  return *p;
}

/* the core's error with its "mlp: " prefix replaced by op, the name the
** user knows (fit runs the fused trainer, a Sequential the forward) */
static int mlp_error(lua_State *L, const char *op) {
  const char *e = ann_error();
  if (strncmp(e, "mlp: ", 5) == 0) e += 5;
  lua_pushfstring(L, "%s: %s", op, e);
  return lann_raise(L, lua_tostring(L, -1));
}

/* mlp:forward(x) -> y, a new tensor [N,out] or [out]; or nothing when
** the fused path does not apply (x not a fitting tensor, or a graph
** wanted), so that the caller runs the general one.  The hot path of
** single-sample inference: the slot is lann_newslot's, with the tensor
** metatable taken from upvalue 2 instead of the registry. */
static int m_forward(lua_State *L) {
  ann_Mlp *m = checkmlp(L, 1);
  ann_Tensor *x = totensor(L, 2);
  int64_t shape[2];
  ann_Tensor **p;
  if (!ann_mlp_fits(m, x) || ann_mlp_wants_graph(m, x)) return 0;
  shape[0] = x->ndim == 2 ? x->shape[0] : 0;
  shape[1] = ann_mlp_outputs(m);
  lann_gcaccount(L);
  p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = NULL;
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setmetatable(L, -2);
  if ((*p = ann_empty(x->ndim, x->ndim == 2 ? shape : shape + 1)) == NULL
      || ann_mlp_forward(m, x, *p) != 0)
    return mlp_error(L, "Sequential");
  return 1;
}

/* mlp:grad(x, y, loss) -> mean loss; grads written into the params */
static const char *const losses[] = {"mse", "ce", "bcel", NULL};

static int m_grad(lua_State *L) {
  ann_Mlp *m = checkmlp(L, 1);
  ann_Tensor *x = lann_checktensor(L, 2), *y = lann_checktensor(L, 3);
  int loss = luaL_checkoption(L, 4, NULL, losses);
  double v;
  if (ann_mlp_grad(m, x, y, (ann_MlpLoss)loss, &v) != 0)
    return mlp_error(L, "fit");
  lua_pushnumber(L, v);
  return 1;
}

/* a list of tensors (may have false holes) into a[], 2 per layer */
static ann_Tensor **statelist(lua_State *L, int i, int n) {
  ann_Tensor **a;
  int k;
  if (lua_isnoneornil(L, i)) return NULL;
  luaL_checktype(L, i, LUA_TTABLE);
  a = lua_newuserdatauv(L, sizeof *a * (size_t)(2 * n), 0);
  for (k = 0; k < 2 * n; k++) a[k] = tensor_at(L, i, k + 1, 1, "state");
  return a;
}

/* mlp:epoch(x, y, order|nil, batch, loss, optname, opt, s1, s2, nlayers)
** -> mean loss, steps taken.  opt is the optimiser object (lr, momentum,
** ..., step_count: the number of the first step); s1, s2 its state laid
** out 2 per layer (weight, bias; false where there is no bias). */
static int m_epoch(lua_State *L) {
  static const char *const opts[] = {"sgd", "adam", "rmsprop", NULL};
  ann_Mlp *m = checkmlp(L, 1);
  ann_Tensor *x = lann_checktensor(L, 2), *y = lann_checktensor(L, 3);
  ann_Tensor *order = lua_isnil(L, 4) ? NULL : lann_checktensor(L, 4);
  int64_t batch = (int64_t)luaL_checkinteger(L, 5), step0;
  int nl = (int)luaL_checkinteger(L, 11);
  ann_MlpTrain t;
  double loss;
  memset(&t, 0, sizeof t);
  t.loss = (ann_MlpLoss)luaL_checkoption(L, 6, NULL, losses);
  t.opt = (ann_MlpOpt)luaL_checkoption(L, 7, NULL, opts);
  luaL_argcheck(L, nl >= 1 && nl <= 32, 11, "1 to 32 layers");
  lann_checkopts(L, 8, &t.o);
  t.l1 = lann_optfield(L, 8, "l1", 0);
  step0 = t.o.step;
  t.s1 = statelist(L, 9, nl);
  t.s2 = statelist(L, 10, nl);
  if (ann_mlp_epoch(m, x, y, order, batch, &t, &loss) != 0)
    return mlp_error(L, "fit");
  lua_pushnumber(L, loss);
  lua_pushinteger(L, (lua_Integer)(t.o.step - step0));
  lua_pushinteger(L, (lua_Integer)t.correct);
  if (t.bad_step > 0) lua_pushinteger(L, (lua_Integer)t.bad_step);
  else lua_pushnil(L);
  return 4;
}

static const luaL_Reg mlp_methods[] = {
  {"forward", m_forward}, {"grad", m_grad}, {"epoch", m_epoch},
  {"free", m_gc}, {NULL, NULL}
};

void lann_open_mlp(lua_State *L) {
  if (luaL_newmetatable(L, LANN_MLP)) {
    luaL_newlibtable(L, mlp_methods);
    lua_pushvalue(L, -2);               /* the metatable, as upvalue 1 */
    luaL_getmetatable(L, LANN_TENSOR);  /* made before: lannlua.c */
    luaL_setfuncs(L, mlp_methods, 2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, m_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_mlp);
  lua_setfield(L, -2, "_mlp");
}
