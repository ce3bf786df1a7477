/*
** lann.h: what the Lua binding files (src/l*.c) share.
** Bindings are thin: check arguments, call the core, raise its error.
*/
#ifndef lann_h
#define lann_h

#include "lua.h"
#include "lauxlib.h"

#include "ann.h"

#define LANN_TENSOR "ann.Tensor"    /* metatable name (registry) */
/* its address is the metatable's other registry key (ltensor.c) */
extern const char lann_tensor_key;

/* the tensor at index i, or a "bad argument" error naming the type found */
ann_Tensor *lann_checktensor(lua_State *L, int i);
/* the tensor at index i, or NULL if it is not one */
ann_Tensor *lann_totensor(lua_State *L, int i);

/*
** Userdata first, resource second (as in liolib.c), so no error can leak
** a tensor:  ann_Tensor **p = lann_newslot(L); *p = ann_xxx(...);
** if (*p == NULL) return lann_error(L);
*/
ann_Tensor **lann_newslot(lua_State *L);
/* pushes t, taking over the caller's reference; t == NULL raises */
int lann_push(lua_State *L, ann_Tensor *t);
/* raises the core's last error (ann_error()) as a Lua error */
int lann_error(lua_State *L);
/* raises msg, blamed on the first Lua frame outside annlua's Lua files */
int lann_raise(lua_State *L, const char *msg);
/* pushes fail (nil) and the core's last error, for an expected failure
** such as a file that cannot be read; returns 2 (lannlua.c) */
int lann_fail(lua_State *L);
/* lstate.c: the state's context.  lann_use makes it current in this
** thread and returns it: every entry point that calls the core does it
** first (lann_totensor, the slots, and the functions that take no
** tensor).  lann_attach gives L a new context (o NULL: defaults) and
** wraps its allocator; raises if L has one. */
ann_Ctx *lann_use(lua_State *L);
int lann_attach(lua_State *L, const ann_CtxOpts *o);
int lann_attached(lua_State *L);
int lann_hostoutput(lua_State *L);     /* the host takes ann.write's output */
void lann_open_state(lua_State *L);    /* core.write, core._held */
/* at the entry of a binding that makes a tensor (lann_newslot): the
** state's context made current, a full collection under a memory cap
** when it may make room, and lann_gcaccount */
void lann_enter(lua_State *L);
/* tells the collector about tensor bytes allocated since the last call */
void lann_gcaccount(lua_State *L);

/* argument helpers: 1-based Lua dim/index -> 0-based core; negative
** values count from the end as in PyTorch (-1 is the last dim) */
int lann_checkdim(lua_State *L, int arg, const ann_Tensor *t, const char *op);
/* a shape given as varargs from index i, or as one table at i */
int lann_checkshape(lua_State *L, int i, int64_t *shape, const char *op);
/* lnn.c: the number at t[k] of the table at i, def if nil; an optimiser's
** options table at i -> ann_OptimOpts (PyTorch's defaults where unset) */
float lann_optfield(lua_State *L, int i, const char *k, float def);
void lann_checkopts(lua_State *L, int i, ann_OptimOpts *o);

/* each binding file adds its methods to the tensor metatable's method
** table (on the stack at -2) and its functions to the module table
** (at -1) */
void lann_open_tensor(lua_State *L);   /* ltensor.c */
void lann_open_math(lua_State *L);     /* lmath.c */
void lann_open_nn(lua_State *L);       /* lnn.c */
void lann_open_data(lua_State *L);     /* ldata.c */
void lann_open_mlp(lua_State *L);      /* lmlp.c: the fused MLP path */
void lann_open_plot(lua_State *L);     /* lplot.c */
void lann_open_file(lua_State *L);     /* lfile.c */

/* the tensor metamethods (ltensor.c), put in the metatable by lannlua.c;
** __index finds methods in its upvalue 1, the method table */
extern const luaL_Reg lann_tensor_meta[];
int lann_tostring(lua_State *L);       /* lprint.c: __tostring */

/* lannlua.c; the one name core.so exports (-fvisibility=hidden) */
#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
int luaopen_annlua_core(lua_State *L);

#endif
