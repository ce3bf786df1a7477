/*
** ldata.c: Lua binding of the file readers.  A file that cannot be read is
** an expected failure: nil plus a message naming the file and the place.
*/
#include "lann.h"

/* core.idx_read(path) -> tensor, or nil, err */
static int l_idx_read(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ann_Tensor **p = lann_newslot(L);
  *p = ann_idx_read(path);
  if (*p == NULL) {
    luaL_pushfail(L);
    lua_pushstring(L, ann_error());
    return 2;
  }
  lann_gcaccount(L);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"idx_read", l_idx_read},
  {NULL, NULL}
};

/* method table at -2, module table at -1 */
void lann_open_data(lua_State *L) {
  luaL_setfuncs(L, funcs, 0);
}
