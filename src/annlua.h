/*
** annlua.h: annlua inside a Lua 5.4 state the host made (the Lua binding
** library, libannlua-lua: bindings, the embedded Lua sources, linit.c).
**
**   lua_State *L = luaL_newstate();
**   ann_CtxOpts o;
**   luaL_openlibs(L);                  (or only the libraries it allows)
**   ann_ctx_defaults(&o);
**   o.mem_limit = 64 << 20;            (Lua's heap and tensors together)
**   o.files = ANN_FILES_NONE;
**   if (annlua_openlibs(L, &o) != LUA_OK) ... message at the top of L
**
** The state gets a context of its own (ann.h): its memory cap covers Lua's
** allocations (the state's allocator is wrapped, lua_setallocf) and every
** allocation of the core for the state; the file policy, cancel callback,
** output, random generator and grad mode are the state's.  Call it once
** per state, before the state's allocator is wrapped by anything else
** that would be removed later.  The context goes when the state is closed.
** A call into the state leaves that state's context current in the
** calling thread (ann_ctx_use): a host that also calls the core directly
** sets its own first.  Errors of the core (a refused allocation, a file
** the policy refuses, a cancelled operation) are Lua errors the script
** can catch with pcall; Lua's own "not enough memory" is Lua's.
**
** A cancel callback stops long operations of the core; a Lua loop is the
** host's business (lua_sethook with LUA_MASKCOUNT, raising from the hook).
** Library output (ann.fit's progress, printing) goes to o->output, so a
** state needs neither io nor print.
*/
#ifndef annlua_h
#define annlua_h

#include "lua.h"
#include "ann.h"

#pragma GCC visibility push(default)   /* the rest is hidden (Makefile) */

#ifdef __cplusplus
extern "C" {
#endif

/* o NULL: defaults.  Preloads the embedded Lua sources and the C module,
** gives L its own context, sets the global `ann`.  LUA_OK, else a Lua
** error status with the message on the stack. */
int annlua_openlibs(lua_State *L, const ann_CtxOpts *o);
/* require "annlua" for a host that links the library: for
** luaL_requiref(L, "annlua", luaopen_annlua, 1); the state gets a context
** with defaults */
int luaopen_annlua(lua_State *L);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop

#endif
