/*
** lannlua.c: the C module "annlua.core", entry point of the bindings.
** Builds the tensor metatable once and the module table that
** lua/annlua/init.lua turns into `ann`.
*/
#include <time.h>
#include <unistd.h>

#include "lann.h"

int lann_fail(lua_State *L) {
  luaL_pushfail(L);
  lua_pushstring(L, ann_error());
  return 2;
}

/* core.isatty(fd): is file descriptor fd (1 = stdout) a terminal?  Not
** stdout when the host takes the output: progress is then in lines */
static int l_isatty(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  lua_pushboolean(L, !(fd == 1 && lann_hostoutput(L)) && isatty(fd));
  return 1;
}

/* ann.clock(): seconds of a monotonic wall clock, for progress and
** samples/s (os.clock counts CPU time of all threads) */
static int l_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec * 1e-9);
  return 1;
}

int luaopen_annlua_core(lua_State *L) {
  if (ann_init() < 0) return lann_error(L);
  luaL_checkversion(L);
  if (!lann_attached(L)) lann_attach(L, NULL);  /* plain lua: defaults */
  lann_use(L);
  luaL_newmetatable(L, LANN_TENSOR);     /* sets __name; reuses if there */
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &lann_tensor_key);
  lua_newtable(L);                       /* method table */
  lua_newtable(L);                       /* module table */
  lann_open_tensor(L);
  lann_open_math(L);                     /* also adds __add etc. */
  lann_open_nn(L);
  lann_open_data(L);
  lann_open_mlp(L);
  lann_open_plot(L);
  lann_open_file(L);
  lann_open_state(L);
  lua_pushvalue(L, -3);                  /* the metatable */
  lua_pushvalue(L, -3);                  /* __index and the rest get the */
  lua_pushvalue(L, -2);                  /* method table as upvalue 1, */
  luaL_setfuncs(L, lann_tensor_meta, 2); /* the metatable as upvalue 2 */
  lua_pop(L, 1);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "Tensor");         /* ann.Tensor: the method table */
  lua_pushcfunction(L, l_clock);
  lua_setfield(L, -2, "clock");
  lua_pushcfunction(L, l_isatty);
  lua_setfield(L, -2, "isatty");
  lua_pushliteral(L, "annlua " ANN_VERSION);
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
