/*
** lmath.c: the Lua binding of tensor math: arithmetic operators, elementwise
** functions, comparisons, in-place updates, reductions, linear algebra and
** the runtime settings.  Thin: check arguments, call the core, raise its
** error.  Results are created in a slot pushed first (lann_newslot), so an
** error never leaks a tensor.
*/
#include <math.h>
#include <stdio.h>

#include "lua.h"
#include "lauxlib.h"

#include "lann.h"

/* ---- helpers ----------------------------------------------------------- */

/* finishes a call that made one tensor in a slot: raise or return it */
static int result(lua_State *L, ann_Tensor *t) {
  if (t == NULL) return lann_error(L);
  lann_gcaccount(L);
  return 1;
}

/* an in-place call: raise on error, else return self (argument 1) */
static int inplace(lua_State *L, int status) {
  if (status != 0) return lann_error(L);
  lua_settop(L, 1);
  return 1;
}

/* argument i as a tensor (returned) or a number (in *s, NULL returned) */
static ann_Tensor *checkoperand(lua_State *L, int i, float *s) {
  ann_Tensor *t = lann_totensor(L, i);
  if (t == NULL) {
    if (!lua_isnumber(L, i))
      luaL_typeerror(L, i, "ann.Tensor or number");
    *s = (float)lua_tonumber(L, i);
  }
  return t;
}

/* optional dim at arg: 0-based, or -1 (whole tensor) when absent */
static int optdim(lua_State *L, int arg, const ann_Tensor *t, const char *op) {
  return lua_isnoneornil(L, arg) ? -1 : lann_checkdim(L, arg, t, op);
}

/* optional bound for clamp: nil means none */
static float optbound(lua_State *L, int arg, float none) {
  return lua_isnoneornil(L, arg) ? none : (float)luaL_checknumber(L, arg);
}

/* ---- elementwise ------------------------------------------------------- */

/*
** a op b for operators (__add ...) and methods (pow, eq ...); the op is the
** closure's upvalue.  Either side may be a number for operators: `2 - t`
** has the tensor second, so the core is told the scalar comes first.
*/
static int binary(lua_State *L) {
  ann_BinOp op = (ann_BinOp)lua_tointeger(L, lua_upvalueindex(1));
  ann_Tensor *a = lann_totensor(L, 1), *b, **p;
  float s = 0;
  if (a == NULL) {                  /* number op tensor */
    b = lann_totensor(L, 2);
    if (b == NULL) return luaL_typeerror(L, 1, LANN_TENSOR);
    if (!lua_isnumber(L, 1))
      return luaL_typeerror(L, 1, "ann.Tensor or number");
    s = (float)lua_tonumber(L, 1);
    p = lann_newslot(L);
    *p = ann_ag_binary_scalar(op, b, s, 1);
    return result(L, *p);
  }
  b = checkoperand(L, 2, &s);
  p = lann_newslot(L);
  *p = b ? ann_ag_binary(op, a, b) : ann_ag_binary_scalar(op, a, s, 0);
  return result(L, *p);
}

static int unary(lua_State *L) {
  ann_UnOp op = (ann_UnOp)lua_tointeger(L, lua_upvalueindex(1));
  ann_Tensor *a = lann_checktensor(L, 1);
  ann_Tensor **p = lann_newslot(L);
  *p = ann_ag_unary(op, a);
  return result(L, *p);
}

/* in-place unary (relu_, sigmoid_ ...) */
static int unary_(lua_State *L) {
  ann_UnOp op = (ann_UnOp)lua_tointeger(L, lua_upvalueindex(1));
  ann_Tensor *t = lann_checktensor(L, 1);
  char name[32];
  snprintf(name, sizeof name, "%s_", ann_unop_name(op));
  if (ann_check_inplace(t, name) != 0) return lann_error(L);
  return inplace(L, ann_unary_(op, t));
}

static void checkbounds(lua_State *L, const char *op) {
  if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3))
    luaL_error(L, "%s: give lo or hi (both are nil)", op);
}

static int m_clamp(lua_State *L) {
  ann_Tensor *a = lann_checktensor(L, 1), **p;
  float lo = optbound(L, 2, -INFINITY), hi = optbound(L, 3, INFINITY);
  checkbounds(L, "clamp");
  p = lann_newslot(L);
  *p = ann_ag_clamp(a, lo, hi);
  return result(L, *p);
}

/* softmax / log_softmax along d (default: the last dim) */
static int softmax(lua_State *L, int logs) {
  const char *op = logs ? "log_softmax" : "softmax";
  ann_Tensor *a = lann_checktensor(L, 1), **p;
  int d = lua_isnoneornil(L, 2) ? (a->ndim > 0 ? a->ndim - 1 : 0)
                                : lann_checkdim(L, 2, a, op);
  p = lann_newslot(L);
  *p = logs ? ann_ag_log_softmax(a, d) : ann_ag_softmax(a, d);
  return result(L, *p);
}

static int m_softmax(lua_State *L) { return softmax(L, 0); }
static int m_log_softmax(lua_State *L) { return softmax(L, 1); }

/* ---- in place ---------------------------------------------------------- */

/* self for an in-place op; refused while it requires grad (grad mode on) */
static ann_Tensor *checkself(lua_State *L, const char *op) {
  ann_Tensor *t = lann_checktensor(L, 1);
  if (ann_check_inplace(t, op) != 0) lann_error(L);
  return t;
}

static int m_fill(lua_State *L) {
  ann_Tensor *t = checkself(L, "fill");
  return inplace(L, ann_fill_(t, (float)luaL_checknumber(L, 2)));
}

static int m_zero(lua_State *L) {
  return inplace(L, ann_fill_(checkself(L, "zero"), 0.0f));
}

static int m_copy(lua_State *L) {
  ann_Tensor *t = checkself(L, "copy");
  return inplace(L, ann_copy_(t, lann_checktensor(L, 2)));
}

/* t = t op alpha*b (alpha only for add_/sub_); b a tensor or a number */
static int arith_(lua_State *L, ann_BinOp op, const char *name, int withalpha) {
  ann_Tensor *t = checkself(L, name), *b;
  float s = 0, alpha = 1;
  b = checkoperand(L, 2, &s);
  if (withalpha) alpha = (float)luaL_optnumber(L, 3, 1);
  if (b) return inplace(L, ann_binary_(op, t, b, alpha));
  return inplace(L, ann_binary_scalar_(op, t, alpha * s));
}

static int m_add_(lua_State *L) { return arith_(L, ANN_ADD, "add_", 1); }
static int m_sub_(lua_State *L) { return arith_(L, ANN_SUB, "sub_", 1); }
static int m_mul_(lua_State *L) { return arith_(L, ANN_MUL, "mul_", 0); }
static int m_div_(lua_State *L) { return arith_(L, ANN_DIV, "div_", 0); }

static int m_clamp_(lua_State *L) {
  ann_Tensor *t = checkself(L, "clamp_");
  float lo = optbound(L, 2, -INFINITY), hi = optbound(L, 3, INFINITY);
  checkbounds(L, "clamp_");
  return inplace(L, ann_clamp_(t, lo, hi));
}

static int m_uniform_(lua_State *L) {
  ann_Tensor *t = checkself(L, "uniform_");
  float lo = (float)luaL_optnumber(L, 2, 0);
  float hi = (float)luaL_optnumber(L, 3, 1);
  return inplace(L, ann_uniform_(t, lo, hi));
}

static int m_normal_(lua_State *L) {
  ann_Tensor *t = checkself(L, "normal_");
  float mean = (float)luaL_optnumber(L, 2, 0);
  float std = (float)luaL_optnumber(L, 3, 1);
  return inplace(L, ann_normal_(t, mean, std));
}

/* ---- reductions -------------------------------------------------------- */

typedef ann_Tensor *(*Reduce)(ann_Tensor *, int, int);

/*
** Finishes a reduction in slot p.  A whole-tensor result is 0-dim; with
** keepdim it becomes one of t's dims, all of size 1, as PyTorch's dim=None.
*/
static int reduced(lua_State *L, ann_Tensor **p, const ann_Tensor *t,
                   int d, int keepdim) {
  int64_t ones[ANN_MAXDIM];
  ann_Tensor *v;
  int i;
  if (*p == NULL || d >= 0 || !keepdim || t->ndim == 0) return result(L, *p);
  for (i = 0; i < t->ndim; i++) ones[i] = 1;
  v = ann_ag_view(*p, t->ndim, ones);
  if (v == NULL) return lann_error(L);   /* the slot still frees *p */
  ann_release(*p);
  *p = v;
  return result(L, v);
}

/* t:f([d [, keepdim]]): no d reduces the whole tensor */
static int reduce(lua_State *L, Reduce f, const char *op) {
  ann_Tensor *t = lann_checktensor(L, 1), **p;
  int d = optdim(L, 2, t, op), keepdim = lua_toboolean(L, 3);
  p = lann_newslot(L);
  *p = f(t, d, keepdim);
  return reduced(L, p, t, d, keepdim);
}

/* indices have no gradient: the raw ops, typed as Reduce */
static ann_Tensor *argmax(ann_Tensor *t, int d, int k) {
  return ann_argmax(t, d, k);
}

static ann_Tensor *argmin(ann_Tensor *t, int d, int k) {
  return ann_argmin(t, d, k);
}

static int m_sum(lua_State *L) { return reduce(L, ann_ag_sum, "sum"); }
static int m_mean(lua_State *L) { return reduce(L, ann_ag_mean, "mean"); }
static int m_var(lua_State *L) { return reduce(L, ann_ag_var, "var"); }
static int m_std(lua_State *L) { return reduce(L, ann_ag_std, "std"); }
static int m_argmax(lua_State *L) { return reduce(L, argmax, "argmax"); }
static int m_argmin(lua_State *L) { return reduce(L, argmin, "argmin"); }

static int m_norm(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1), **p;
  double pw = luaL_optnumber(L, 2, 2);
  p = lann_newslot(L);
  *p = ann_ag_norm(t, pw);
  return result(L, *p);
}

typedef ann_Tensor *(*Extreme)(ann_Tensor *, int, int, ann_Tensor **);

/* t:max(): one value (see reduced); t:max(d [, keepdim]): values, indices */
static int extreme(lua_State *L, Extreme f, const char *op) {
  ann_Tensor *t = lann_checktensor(L, 1), **v, **ind;
  int d = optdim(L, 2, t, op), keepdim = lua_toboolean(L, 3);
  ann_Tensor *i = NULL;
  v = lann_newslot(L);
  if (d < 0) {
    *v = f(t, -1, 0, NULL);
    return reduced(L, v, t, d, keepdim);
  }
  ind = lann_newslot(L);
  *v = f(t, d, keepdim, &i);
  *ind = i;
  if (*v == NULL || i == NULL) return lann_error(L);
  lann_gcaccount(L);
  return 2;
}

static int m_max(lua_State *L) { return extreme(L, ann_ag_max, "max"); }
static int m_min(lua_State *L) { return extreme(L, ann_ag_min, "min"); }

/* ---- linear algebra ---------------------------------------------------- */

typedef ann_Tensor *(*Binary)(ann_Tensor *, ann_Tensor *);

static int linalg(lua_State *L, Binary f) {
  ann_Tensor *a = lann_checktensor(L, 1);
  ann_Tensor *b = lann_checktensor(L, 2);
  ann_Tensor **p = lann_newslot(L);
  *p = f(a, b);
  return result(L, *p);
}

static int m_mm(lua_State *L) { return linalg(L, ann_ag_mm); }
static int m_mv(lua_State *L) { return linalg(L, ann_ag_mv); }
static int m_dot(lua_State *L) { return linalg(L, ann_ag_dot); }
static int f_matmul(lua_State *L) { return linalg(L, ann_ag_matmul); }
static int f_outer(lua_State *L) { return linalg(L, ann_ag_outer); }

/* ---- module functions -------------------------------------------------- */

static int f_allclose(lua_State *L) {
  ann_Tensor *a = lann_checktensor(L, 1);
  ann_Tensor *b = lann_checktensor(L, 2);
  double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
  int r = ann_allclose(a, b, rtol, atol);
  if (r < 0) return lann_error(L);
  lua_pushboolean(L, r);
  return 1;
}

static int f_set_num_threads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 1 || n > 1024)
    return luaL_argerror(L, 1, lua_pushfstring(L,
             "%I threads, expected 1 to 1024", n));
  ann_set_num_threads((int)n);
  return 0;
}

static int f_get_num_threads(lua_State *L) {
  lua_pushinteger(L, ann_get_num_threads());
  return 1;
}

/* ann.set_flush_denormal(on) -> whether the CPU has the mode (x86: FTZ
** and DAZ), as torch.set_flush_denormal.  For this thread, which passes
** it to the fused path's threads at each epoch; OpenBLAS's threads keep
** the mode they started with (on). */
static int f_set_flush_denormal(lua_State *L) {
  luaL_checktype(L, 1, LUA_TBOOLEAN);
  lua_pushboolean(L, ann_flush_denormal(lua_toboolean(L, 1)));
  return 1;
}

static int f_config(lua_State *L) {
  ann_Config c;
  ann_config(&c);
  lua_createtable(L, 0, 5);
  lua_pushstring(L, c.version); lua_setfield(L, -2, "version");
  lua_pushstring(L, c.blas); lua_setfield(L, -2, "blas");
  lua_pushstring(L, c.blas_core); lua_setfield(L, -2, "blas_core");
  lua_pushstring(L, ann_blas_check()); lua_setfield(L, -2, "blas_check");
  lua_pushstring(L, c.simd); lua_setfield(L, -2, "simd");
  lua_pushinteger(L, c.threads); lua_setfield(L, -2, "threads");
  return 1;
}

/* ---- registration ------------------------------------------------------ */

static const luaL_Reg methods[] = {
  {"clamp", m_clamp}, {"softmax", m_softmax}, {"log_softmax", m_log_softmax},
  {"fill", m_fill}, {"zero", m_zero}, {"copy", m_copy},
  {"add_", m_add_}, {"sub_", m_sub_}, {"mul_", m_mul_}, {"div_", m_div_},
  {"clamp_", m_clamp_}, {"uniform_", m_uniform_}, {"normal_", m_normal_},
  {"sum", m_sum}, {"mean", m_mean}, {"var", m_var}, {"std", m_std},
  {"norm", m_norm}, {"max", m_max}, {"min", m_min},
  {"argmax", m_argmax}, {"argmin", m_argmin},
  {"mm", m_mm}, {"mv", m_mv}, {"dot", m_dot}, {"matmul", f_matmul},
  {NULL, NULL}
};

static const luaL_Reg functions[] = {
  {"matmul", f_matmul}, {"outer", f_outer}, {"allclose", f_allclose},
  {"set_num_threads", f_set_num_threads},
  {"get_num_threads", f_get_num_threads}, {"config", f_config},
  {"set_flush_denormal", f_set_flush_denormal},
  {NULL, NULL}
};

typedef struct Named { const char *name; int op; } Named;

static const Named binops[] = {      /* methods taking a tensor or number */
  {"pow", ANN_POW}, {"eq", ANN_EQ}, {"ne", ANN_NE}, {"gt", ANN_GT},
  {"ge", ANN_GE}, {"lt", ANN_LT}, {"le", ANN_LE}, {NULL, 0}
};

static const Named arith[] = {       /* metatable operators */
  {"__add", ANN_ADD}, {"__sub", ANN_SUB}, {"__mul", ANN_MUL},
  {"__div", ANN_DIV}, {"__pow", ANN_POW}, {NULL, 0}
};

static const Named unops[] = {       /* name, and name_ in place */
  {"neg", ANN_NEG}, {"exp", ANN_EXP}, {"log", ANN_LOG}, {"sqrt", ANN_SQRT},
  {"abs", ANN_ABS}, {"sigmoid", ANN_SIGMOID}, {"tanh", ANN_TANH},
  {"relu", ANN_RELU}, {NULL, 0}
};

/* t[name .. suffix] = a closure of f over the op number */
static void setops(lua_State *L, int t, const Named *l, lua_CFunction f,
                   const char *suffix) {
  for (; l->name; l++) {
    lua_pushfstring(L, "%s%s", l->name, suffix);
    lua_pushinteger(L, l->op);
    lua_pushcclosure(L, f, 1);
    lua_settable(L, t);
  }
}

static void setfuncs(lua_State *L, int t, const luaL_Reg *l) {
  for (; l->name; l++) {
    lua_pushcfunction(L, l->func);
    lua_setfield(L, t, l->name);
  }
}

void lann_open_math(lua_State *L) {
  int mod = lua_gettop(L), meth = mod - 1, mt;
  setfuncs(L, meth, methods);
  setops(L, meth, binops, binary, "");
  setops(L, meth, unops, unary, "");
  setops(L, meth, unops, unary_, "_");
  setfuncs(L, mod, functions);
  luaL_getmetatable(L, LANN_TENSOR);
  mt = lua_gettop(L);
  setops(L, mt, arith, binary, "");
  lua_pushinteger(L, ANN_NEG);
  lua_pushcclosure(L, unary, 1);
  lua_setfield(L, mt, "__unm");
  lua_pop(L, 1);
}
