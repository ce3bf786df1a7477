/*
** lannlua.c: the C module "annlua.core", entry point of the bindings.
** Builds the tensor metatable once and the module table that
** lua/annlua/init.lua turns into `ann`.
*/
#include "lann.h"

int luaopen_annlua_core(lua_State *L) {
  if (ann_init() < 0) return lann_error(L);
  luaL_checkversion(L);
  luaL_newmetatable(L, LANN_TENSOR);     /* sets __name; reuses if there */
  lua_newtable(L);                       /* method table */
  lua_newtable(L);                       /* module table */
  lann_open_tensor(L);
  lann_open_math(L);                     /* also adds __add etc. */
  lann_open_nn(L);
  lann_open_data(L);
  lua_pushvalue(L, -3);                  /* the metatable */
  lua_pushvalue(L, -3);                  /* __index and the rest get the */
  luaL_setfuncs(L, lann_tensor_meta, 1); /* method table as upvalue 1 */
  lua_pop(L, 1);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "Tensor");         /* ann.Tensor: the method table */
  lua_pushliteral(L, "annlua " ANN_VERSION);
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
