/*
** lnn.c: Lua binding of autograd, layers, losses and optimisers.
** The Lua side (lua/annlua/nn, optim) builds modules on these calls.
*/
#include <string.h>

#include "lann.h"

/* ---- autograd ---------------------------------------------------------- */

/* t:requires_grad([flag]) -> t */
static int t_requires_grad(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  int on = lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2);
  if (ann_set_requires_grad(t, on) != 0) return lann_error(L);
  lua_settop(L, 1);
  return 1;
}

/* t:backward([grad]) */
static int t_backward(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  ann_Tensor *g = lua_isnoneornil(L, 2) ? NULL : lann_checktensor(L, 2);
  if (ann_backward(t, g) != 0) return lann_error(L);
  return 0;
}

static int t_detach(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  ann_Tensor **p = lann_newslot(L);
  *p = ann_detach(t);
  if (*p == NULL) return lann_error(L);
  return 1;
}

static int t_needs_grad(lua_State *L) {
  lua_pushboolean(L, lann_checktensor(L, 1)->requires_grad);
  return 1;
}

static int t_is_leaf(lua_State *L) {
  lua_pushboolean(L, ann_is_leaf(lann_checktensor(L, 1)));
  return 1;
}

/* ann._set_grad_enabled(on) -> previous; ann.no_grad is built on it */
static int l_set_grad_enabled(lua_State *L) {
  lann_use(L);
  lua_pushboolean(L, ann_set_grad_enabled(lua_toboolean(L, 1)));
  return 1;
}

static int l_is_grad_enabled(lua_State *L) {
  lann_use(L);
  lua_pushboolean(L, ann_grad_enabled());
  return 1;
}

/* ---- layers and losses ------------------------------------------------- */

static int l_linear(lua_State *L) {
  ann_Tensor *x = lann_checktensor(L, 1), *w = lann_checktensor(L, 2);
  ann_Tensor *b = lua_isnoneornil(L, 3) ? NULL : lann_checktensor(L, 3);
  ann_Tensor **p = lann_newslot(L);
  *p = ann_linear(x, w, b);
  if (*p == NULL) return lann_error(L);
  return 1;
}

static ann_Reduction checkreduction(lua_State *L, int i) {
  static const char *const names[] = {"mean", "sum", "none", NULL};
  return (ann_Reduction)luaL_checkoption(L, i, "mean", names);
}

typedef ann_Tensor *(*LossFn)(ann_Tensor *, ann_Tensor *, ann_Reduction);

static int loss(lua_State *L, LossFn f) {
  ann_Tensor *a = lann_checktensor(L, 1), *b = lann_checktensor(L, 2);
  ann_Reduction r = checkreduction(L, 3);
  ann_Tensor **p = lann_newslot(L);
  *p = f(a, b, r);
  if (*p == NULL) return lann_error(L);
  return 1;
}

static int l_mse_loss(lua_State *L) { return loss(L, ann_mse_loss); }
static int l_bce_loss(lua_State *L) { return loss(L, ann_bce_loss); }
static int l_bce_logits(lua_State *L) { return loss(L, ann_bce_logits_loss); }
static int l_cross_entropy(lua_State *L) { return loss(L, ann_cross_entropy); }
static int l_nll_loss(lua_State *L) { return loss(L, ann_nll_loss); }

static int l_one_hot(lua_State *L) {
  ann_Tensor *labels = lann_checktensor(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  ann_Tensor **p = lann_newslot(L);
  *p = ann_one_hot(labels, (int64_t)n);
  if (*p == NULL) return lann_error(L);
  return 1;
}

/* core.perceptron_fit(w, b, x, y, epochs, lr) -> epoch or nil */
static int l_perceptron_fit(lua_State *L) {
  ann_Tensor *w = lann_checktensor(L, 1), *b = lann_checktensor(L, 2);
  ann_Tensor *x = lann_checktensor(L, 3), *y = lann_checktensor(L, 4);
  int epochs = (int)luaL_checkinteger(L, 5);
  float lr = (float)luaL_checknumber(L, 6);
  int e = ann_perceptron_fit(w, b, x, y, epochs, lr);
  if (e < 0) return lann_error(L);
  if (e == 0) lua_pushnil(L);
  else lua_pushinteger(L, e);
  return 1;
}

/* ---- optimisers -------------------------------------------------------- */

/* The tensors of the Lua list at index i, in a scratch array that lives in
** a userdata pushed on the stack (so an error frees it).  Entries may be
** nil only when nil_ok. */
static ann_Tensor **checklist(lua_State *L, int i, int *n, int nil_ok,
                              const char *op) {
  int k, len;
  ann_Tensor **a;
  luaL_checktype(L, i, LUA_TTABLE);
  len = (int)luaL_len(L, i);
  a = lua_newuserdatauv(L, sizeof(ann_Tensor *) * (len > 0 ? len : 1), 0);
  for (k = 0; k < len; k++) {
    lua_geti(L, i, k + 1);
    a[k] = lann_totensor(L, -1);
    if (a[k] == NULL && !(nil_ok && lua_isnil(L, -1)))
      luaL_error(L, "%s: entry %d of the list is a %s, not a tensor", op,
                 k + 1, luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  if (n) *n = len;
  return a;
}

float lann_optfield(lua_State *L, int i, const char *k, float def) {
  float v;
  lua_getfield(L, i, k);
  v = lua_isnil(L, -1) ? def : (float)luaL_checknumber(L, -1);
  lua_pop(L, 1);
  return v;
}

void lann_checkopts(lua_State *L, int i, ann_OptimOpts *o) {
  luaL_checktype(L, i, LUA_TTABLE);
  memset(o, 0, sizeof *o);
  o->lr = lann_optfield(L, i, "lr", 1e-3f);
  o->momentum = lann_optfield(L, i, "momentum", 0);
  o->dampening = lann_optfield(L, i, "dampening", 0);
  o->weight_decay = lann_optfield(L, i, "weight_decay", 0);
  o->beta1 = lann_optfield(L, i, "beta1", 0.9f);
  o->beta2 = lann_optfield(L, i, "beta2", 0.999f);
  o->eps = lann_optfield(L, i, "eps", 1e-8f);
  o->alpha = lann_optfield(L, i, "alpha", 0.99f);
  lua_getfield(L, i, "nesterov");
  o->nesterov = lua_toboolean(L, -1);
  lua_getfield(L, i, "decoupled");
  o->decoupled = lua_toboolean(L, -1);
  lua_getfield(L, i, "step_count");
  o->step = lua_isnil(L, -1) ? 1 : (int64_t)luaL_checkinteger(L, -1);
  lua_pop(L, 3);
}

/* core._sgd_step(params, momentum_bufs, opts) */
static int l_sgd_step(lua_State *L) {
  int n, nb;
  ann_OptimOpts o;
  ann_Tensor **p = checklist(L, 1, &n, 0, "SGD");
  ann_Tensor **b = checklist(L, 2, &nb, 1, "SGD");
  lann_checkopts(L, 3, &o);
  if (o.momentum != 0 && nb < n)
    return luaL_error(L, "SGD: %d momentum buffers for %d parameters", nb, n);
  if (ann_sgd_step(n, p, o.momentum != 0 ? b : NULL, &o) != 0)
    return lann_error(L);
  return 0;
}

/* core._adam_step(params, m, v, opts) */
static int l_adam_step(lua_State *L) {
  int n, nm, nv;
  ann_OptimOpts o;
  ann_Tensor **p = checklist(L, 1, &n, 0, "Adam");
  ann_Tensor **m = checklist(L, 2, &nm, 0, "Adam");
  ann_Tensor **v = checklist(L, 3, &nv, 0, "Adam");
  lann_checkopts(L, 4, &o);
  if (nm < n || nv < n)
    return luaL_error(L, "Adam: state for %d of %d parameters", nm, n);
  if (ann_adam_step(n, p, m, v, &o) != 0) return lann_error(L);
  return 0;
}

/* core._rmsprop_step(params, square_avg, momentum_bufs, opts) */
static int l_rmsprop_step(lua_State *L) {
  int n, ns, nb;
  ann_OptimOpts o;
  ann_Tensor **p = checklist(L, 1, &n, 0, "RMSprop");
  ann_Tensor **s = checklist(L, 2, &ns, 0, "RMSprop");
  ann_Tensor **b = checklist(L, 3, &nb, 1, "RMSprop");
  lann_checkopts(L, 4, &o);
  if (ns < n || (o.momentum != 0 && nb < n))
    return luaL_error(L, "RMSprop: state for %d of %d parameters", ns, n);
  if (ann_rmsprop_step(n, p, s, o.momentum != 0 ? b : NULL, &o) != 0)
    return lann_error(L);
  return 0;
}

static int l_zero_grad(lua_State *L) {
  int n;
  ann_Tensor **p = checklist(L, 1, &n, 0, "zero_grad");
  if (ann_zero_grad(n, p) != 0) return lann_error(L);
  return 0;
}

/* core._l1_grad(params, rate) */
static int l_l1_grad(lua_State *L) {
  int n;
  ann_Tensor **p = checklist(L, 1, &n, 0, "l1");
  if (ann_l1_grad(n, p, (float)luaL_checknumber(L, 2)) != 0)
    return lann_error(L);
  return 0;
}

/* ann.clip_grad_norm(params, max_norm) -> total norm before clipping */
static int l_clip_grad_norm(lua_State *L) {
  int n;
  double total;
  ann_Tensor **p = checklist(L, 1, &n, 0, "clip_grad_norm");
  double max_norm = luaL_checknumber(L, 2);
  int i, j;
  for (i = 1; i < n; i++)       /* one tensor twice would count twice */
    for (j = 0; j < i; j++)
      if (p[i] == p[j])
        return luaL_error(L, "clip_grad_norm: parameter %d is parameter %d "
                          "again (list each once)", i + 1, j + 1);
  if (ann_clip_grad_norm(n, p, max_norm, &total) != 0) return lann_error(L);
  lua_pushnumber(L, total);
  return 1;
}

static const luaL_Reg methods[] = {
  {"requires_grad", t_requires_grad},
  {"backward", t_backward},
  {"detach", t_detach},
  {"is_leaf", t_is_leaf},
  {"needs_grad", t_needs_grad},
  {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"_set_grad_enabled", l_set_grad_enabled},
  {"is_grad_enabled", l_is_grad_enabled},
  {"linear", l_linear},
  {"mse_loss", l_mse_loss},
  {"bce_loss", l_bce_loss},
  {"bce_with_logits", l_bce_logits},
  {"cross_entropy", l_cross_entropy},
  {"nll_loss", l_nll_loss},
  {"one_hot", l_one_hot},
  {"perceptron_fit", l_perceptron_fit},
  {"_sgd_step", l_sgd_step},
  {"_adam_step", l_adam_step},
  {"_rmsprop_step", l_rmsprop_step},
  {"_zero_grad", l_zero_grad},
  {"_l1_grad", l_l1_grad},
  {"clip_grad_norm", l_clip_grad_norm},
  {NULL, NULL}
};

/* method table at -2, module table at -1 (as lann_open_tensor) */
void lann_open_nn(lua_State *L) {
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
