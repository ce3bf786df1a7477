/* spec/pkg/host.c: a Lua host linked with the installed annlua-lua
** library through pkg-config (spec/install_spec.lua): its own lua_State,
** annlua's C module from the library, one product through Lua. */
#include <stdio.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

int luaopen_annlua_core(lua_State *L);

int main(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "annlua.core", luaopen_annlua_core, 0);
  lua_pop(L, 1);
  if (luaL_dostring(L, "local c = require 'annlua.core'\n"
                       "local t = c.tensor({{1, 2}, {3, 4}})\n"
                       "return (t:matmul(t)):sum():item()") != LUA_OK) {
    printf("error: %s\n", lua_tostring(L, -1));
    return 1;
  }
  printf("%g\n", lua_tonumber(L, -1));   /* [7 10; 15 22]: 54 */
  lua_close(L);
  return 0;
}
