/*
** lstate.c: each Lua state's own context (ann.h, "contexts").
** The state's allocator is wrapped so that Lua's allocations and the
** core's for that state share one counter and one cap; the wrapper's ud
** is the state's record, so a binding finds its context with one
** lua_getallocf.  Every binding entry point makes it current (lann_use)
** before calling the core: a host may interleave states in one thread.
*/
#include <limits.h>
#include <string.h>

#include "lann.h"

typedef struct LannState {
  ann_Ctx *ctx;
  lua_Alloc f;              /* the state's allocator, wrapped */
  void *ud;
  uint64_t gcseen;          /* ann_allocated() last told to the collector */
  size_t limit;             /* the context's memory cap, 0 if none */
  uint64_t fullgc;          /* ann_allocated() at the last full collection */
  size_t after;             /* bytes held right after it */
  lua_State *main;          /* the main thread, for onlimit's collection */
  int output;               /* the host takes the library's output */
  int collecting;
} LannState;

/* the state whose binding this thread runs (lann_use): onlimit collects
** only there, never in a pool thread */
#if defined(__GNUC__)        /* one load from the thread pointer (ann_impl.h) */
static _Thread_local __attribute__((tls_model("initial-exec"))) LannState *running;
#else
static _Thread_local LannState *running;
#endif

/* registry key of the full userdata holding the LannState pointer; its
** __gc closes the context */
static const char statekey = 's';

static void *l_alloc(void *ud, void *p, size_t osize, size_t nsize) {
  LannState *s = ud;
  size_t old = p ? osize : 0;       /* without p, osize is a type tag */
  void *q;
  if (nsize > old && ann_ctx_account(s->ctx, (int64_t)(nsize - old)) != 0)
    return NULL;                    /* Lua collects and tries again */
  q = s->f(s->ud, p, osize, nsize);
  if (nsize == 0) {
    ann_ctx_account(s->ctx, -(int64_t)old);
    return NULL;
  }
  if (q == NULL) {
    if (nsize > old) ann_ctx_account(s->ctx, -(int64_t)(nsize - old));
  }
  else if (nsize < old) ann_ctx_account(s->ctx, -(int64_t)(old - nsize));
  return q;
}

static LannState *getstate(lua_State *L) {
  void *ud;
  LannState *s;
  if (lua_getallocf(L, &ud) == l_alloc) return ud;
  /* another wrapper went around ours, or the context is closed */
  lua_rawgetp(L, LUA_REGISTRYINDEX, &statekey);
  s = lua_type(L, -1) == LUA_TUSERDATA ? *(LannState **)lua_touserdata(L, -1)
                                       : NULL;
  lua_pop(L, 1);
  return s;
}

static LannState *use(lua_State *L) {
  LannState *s = getstate(L);
  running = s;
  ann_ctx_use(s ? s->ctx : NULL);
  return s;
}

ann_Ctx *lann_use(lua_State *L) {
  LannState *s = use(L);
  return s ? s->ctx : ann_ctx_current();
}

/*
** An allocation of the core for the state would pass its cap: tensors
** that are garbage but not finalized yet may be what fills it, so a full
** collection runs (it is safe inside a binding: the operands are on the
** Lua stack).  Only in the thread running the state's binding, never
** nested, never from Lua's own allocator (which ann_ctx_account serves,
** without onlimit), never while finalizers run (the collector reads as
** stopped then) nor when the script stopped it.
*/
static int onlimit(void *ud) {
  LannState *s = ud;
  if (running != s || s->collecting || !lua_gc(s->main, LUA_GCISRUNNING))
    return 0;
  s->collecting = 1;
  lua_gc(s->main, LUA_GCCOLLECT);
  s->collecting = 0;
  s->fullgc = ann_allocated();
  s->after = ann_ctx_held(s->ctx);
  return 1;
}

/* at lua_close, last of the finalizers: the state's allocator is given
** back, then the context freed (it lives on while blocks of it do) */
static int state_gc(lua_State *L) {
  LannState **p = lua_touserdata(L, 1), *s = *p;
  void *ud;
  lua_Alloc f;
  if (s == NULL) return 0;
  *p = NULL;
  f = lua_getallocf(L, &ud);
  if (f == l_alloc && ud == s) lua_setallocf(L, s->f, s->ud);
  if (running == s) running = NULL;
  ann_ctx_onlimit(s->ctx, NULL, NULL);
  ann_ctx_free(s->ctx);
  s->f(s->ud, s, sizeof *s, 0);
  return 0;
}

int lann_attach(lua_State *L, const ann_CtxOpts *o) {
  LannState **p, *s;
  void *ud;
  lua_Alloc f;
  size_t used;
  if (getstate(L) != NULL)
    return luaL_error(L, "annlua: the state already has its context");
  p = lua_newuserdatauv(L, sizeof *p, 0);    /* first: finalized last */
  *p = NULL;
  lua_newtable(L);
  lua_pushcfunction(L, state_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  f = lua_getallocf(L, &ud);
  if ((s = f(ud, NULL, 0, sizeof *s)) == NULL)
    return luaL_error(L, "annlua: not enough memory");
  memset(s, 0, sizeof *s);
  s->f = f;
  s->ud = ud;
  s->limit = o ? o->mem_limit : 0;
  s->output = o && o->output;
  if ((s->ctx = ann_ctx_new(o)) == NULL) {
    f(ud, s, sizeof *s, 0);
    return luaL_error(L, "annlua: %s", ann_error());
  }
  *p = s;
  lua_rawsetp(L, LUA_REGISTRYINDEX, &statekey);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  s->main = lua_tothread(L, -1);
  lua_pop(L, 1);
  if (s->limit) ann_ctx_onlimit(s->ctx, onlimit, s);
  /* what Lua holds now, whose frees will come through the wrapper */
  used = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
  if (ann_ctx_account(s->ctx, (int64_t)used) != 0)
    return luaL_error(L, "annlua: the state holds %d KB already, over the "
                      "memory limit", (int)(used / 1024));
  lua_setallocf(L, l_alloc, s);
  lann_use(L);
  s->gcseen = ann_allocated();
  return 0;
}

int lann_attached(lua_State *L) { return getstate(L) != NULL; }

int lann_hostoutput(lua_State *L) {
  LannState *s = getstate(L);
  return s && s->output;
}

/*
** Tensor storage lives outside Lua's heap, so the collector would not
** know that a small userdata holds megabytes.  Growth since the last call
** goes to the collector as debt (LUA_GCSTEP with data, see lapi.c), which
** makes it pace its cycles to tensor allocation.  A collector stopped by
** the user stays stopped.
*/
static void gcaccount(lua_State *L, LannState *s) {
  uint64_t now;
  lua_Integer kb;
  if (s == NULL) return;
  now = ann_allocated();
  if (now - s->gcseen < 1024) return;
  kb = (lua_Integer)((now - s->gcseen) / 1024);
  if (kb > INT_MAX) kb = INT_MAX;
  s->gcseen += (uint64_t)kb * 1024;
  if (lua_gc(L, LUA_GCISRUNNING))
    lua_gc(L, LUA_GCSTEP, (int)kb);
}

/*
** Under a memory cap, tensors that are garbage but not yet finalized
** would make the next allocation fail.  At the entry of a binding that
** makes a tensor (lann_newslot, before the core is called: as safe a
** point as the collector's steps), past half the cap, a full collection
** runs once half of the room the last one left has been allocated again.
*/
static void reclaim(lua_State *L, LannState *s) {
  uint64_t now;
  size_t held;
  if (s == NULL || s->limit == 0) return;
  held = ann_ctx_held(s->ctx);
  if (held <= s->limit / 2) return;
  now = ann_allocated();
  if (now - s->fullgc < (s->limit - (s->after < s->limit ? s->after : s->limit)) / 2
      || !lua_gc(L, LUA_GCISRUNNING))
    return;
  lua_gc(L, LUA_GCCOLLECT);
  s->fullgc = now;
  s->after = ann_ctx_held(s->ctx);
}

void lann_gcaccount(lua_State *L) { gcaccount(L, getstate(L)); }

void lann_enter(lua_State *L) {
  LannState *s = use(L);
  reclaim(L, s);
  gcaccount(L, s);
}

/* core.write(s...): library output through the context's writer (the
** host's, or stdout), for a state with no io library */
static int l_write(lua_State *L) {
  int i, n = lua_gettop(L);
  lann_use(L);
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *s = luaL_checklstring(L, i, &len);
    if (ann_write(s, len) != 0) return lann_error(L);
  }
  return 0;
}

/* core.mem(): bytes the state's context holds (Lua's heap and the
** core's blocks), and its limit (0: none) */
static int l_mem(lua_State *L) {
  ann_Ctx *c = lann_use(L);
  lua_pushinteger(L, (lua_Integer)ann_ctx_held(c));
  return 1;
}

void lann_open_state(lua_State *L) {
  static const luaL_Reg fns[] = {
    {"write", l_write}, {"_held", l_mem}, {NULL, NULL}
  };
  luaL_setfuncs(L, fns, 0);
}
