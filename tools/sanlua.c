/*
** tools/sanlua.c: a minimal lua5.4 for the sanitizer builds (make asan,
** make tsan).  The specs run under lua5.4, and a sanitized core.so can
** only be loaded into a process whose executable carries the sanitizer
** runtime; preloading the runtime into Debian's lua5.4 instead would
** preload it into every program the specs start (cc, g++, sh), whose own
** leaks would then be reported.  This one is built with the sanitizer,
** links Lua statically and exports Lua's API (-Wl,-E) for C modules.
** The Makefile puts it first in PATH as lua5.4 for the spec run.
**
**   sanlua [-e chunk]... [script [args]]
**
** as lua5.4 does for these: `arg` holds the script at 0 and its
** arguments from 1, which the script also gets as `...`; errors go to
** stderr with a traceback and exit 1.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) msg = lua_pushfstring(L, "(error object is a %s value)",
                                         luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* runs the function at the top with n arguments below it */
static int docall(lua_State *L, int n) {
  int base = lua_gettop(L) - n;
  int r;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  r = lua_pcall(L, n, 0, base);
  lua_remove(L, base);
  if (r != LUA_OK) {
    fprintf(stderr, "sanlua: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return r;
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int i = 1, script, k;
  luaL_openlibs(L);
  while (i < argc && strcmp(argv[i], "-e") == 0) {
    if (i + 1 >= argc) return luaL_error(L, "'-e' needs an argument");
    if (luaL_loadbuffer(L, argv[i + 1], strlen(argv[i + 1]), "=(command line)")
        != LUA_OK || docall(L, 0) != LUA_OK) {
      lua_pushboolean(L, 0);
      return 1;
    }
    i += 2;
  }
  if (i < argc && strcmp(argv[i], "--") == 0) i++;
  script = i;
  lua_createtable(L, argc - script, script);
  for (k = 0; k < argc; k++) {
    lua_pushstring(L, argv[k]);
    lua_rawseti(L, -2, k - script);
  }
  lua_setglobal(L, "arg");
  if (script < argc) {
    if (luaL_loadfile(L, argv[script]) != LUA_OK) {
      fprintf(stderr, "sanlua: %s\n", lua_tostring(L, -1));
      lua_pushboolean(L, 0);
      return 1;
    }
    for (k = script + 1; k < argc; k++) lua_pushstring(L, argv[k]);
    if (docall(L, argc - script - 1) != LUA_OK) {
      lua_pushboolean(L, 0);
      return 1;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  int ok;
  if (L == NULL) {
    fprintf(stderr, "sanlua: cannot create a state\n");
    return 1;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  ok = lua_pcall(L, 2, 1, 0) == LUA_OK && lua_toboolean(L, -1);
  if (!ok && lua_type(L, -1) == LUA_TSTRING)
    fprintf(stderr, "sanlua: %s\n", lua_tostring(L, -1));
  lua_close(L);
  return ok ? 0 : 1;
}
