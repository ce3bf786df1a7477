/*
** modhost.c: a game runs untrusted mod scripts with annlua in them.  Each
** mod gets its own Lua state with a 64 MB cap on everything it allocates
** (Lua's objects and annlua's tensors alike), no file access, no io, os,
** package or debug library, and one second of time: a count hook stops
** Lua code past the deadline, and annlua polls the same deadline inside
** long C operations.  Whatever a mod does, the host prints the error and
** goes on with the next one.
**
**   cc modhost.c $(pkg-config --cflags --libs annlua-lua) -o modhost
**   ./modhost                 the built-in mods below, one after another
**   ./modhost mod.lua ...     the given scripts
*/
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include <ann.h>
#include <annlua.h>

#define MEM_LIMIT ((size_t)64 << 20)
#define SECONDS 1.0

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static double deadline;      /* of the mod running now */

/* annlua's cancel callback: nonzero stops the C operation under way */
static int past_deadline(void *ud) {
  (void)ud;
  return now() > deadline;
}

/* the count hook: Lua code of the mod stops at the deadline too */
static void hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (now() > deadline) luaL_error(L, "time is up (%f s)", (lua_Number)SECONDS);
}

/* what the mod prints, and annlua's progress lines, go through the host */
static void output(void *ud, const char *s, size_t n) {
  (void)ud;
  fwrite(s, 1, n, stdout);
}

/* the safe part of the standard library: no io, os, package, debug, and
** no way to load code other than as text */
static void open_safe(lua_State *L) {
  static const luaL_Reg libs[] = {
    {LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string},
    {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
    {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine},
    {NULL, NULL}
  };
  static const char *const drop[] = {"dofile", "loadfile", "load", NULL};
  const luaL_Reg *lib;
  int i;
  for (lib = libs; lib->func; lib++) {
    luaL_requiref(L, lib->name, lib->func, 1);
    lua_pop(L, 1);
  }
  for (i = 0; drop[i]; i++) {
    lua_pushnil(L);
    lua_setglobal(L, drop[i]);
  }
}

/* runs one mod; 0 if it finished, 1 if it was stopped or failed */
static int run_mod(const char *name, const char *code, size_t len) {
  ann_CtxOpts o;
  lua_State *L = luaL_newstate();
  double t0 = now();
  int st;
  if (L == NULL) return 1;
  ann_ctx_defaults(&o);
  o.mem_limit = MEM_LIMIT;
  o.files = ANN_FILES_NONE;
  o.cancel = past_deadline;
  o.output = output;
  open_safe(L);
  st = annlua_openlibs(L, &o);
  if (st == LUA_OK) {
    deadline = now() + SECONDS;
    lua_sethook(L, hook, LUA_MASKCOUNT, 1000);
    st = luaL_loadbufferx(L, code, len, name, "t");
    if (st == LUA_OK) st = lua_pcall(L, 0, 0, 0);
  }
  if (st == LUA_OK)
    printf("[%s] finished in %.2f s\n", name, now() - t0);
  else
    printf("[%s] stopped after %.2f s: %s\n", name, now() - t0,
           lua_isstring(L, -1) ? lua_tostring(L, -1) : "(no message)");
  lua_close(L);
  return st != LUA_OK;
}

static const struct { const char *name, *code; } mods[] = {
  {"os.execute", "os.execute('touch /tmp/owned')"},
  {"io.open", "print(io.open('/etc/passwd'):read('a'))"},
  {"ann.save", "assert(ann.save(ann.zeros(2), '/etc/x'))"},
  {"ann.load", "assert(ann.load('/etc/passwd'))"},
  {"ann.data.csv", "assert(ann.data.csv('/etc/passwd'))"},
  {"endless loop", "local n = 0 while true do n = n + 1 end"},
  {"endless products",
   "local x = ann.randn(1024, 1024)\n"
   "while true do x = x:mm(x):tanh() end"},
  {"10 GB tensor", "local t = ann.zeros(50000, 50000)"},
  {"1 GB string", "local s = string.rep('x', 1 << 30)"},
  {"a good mod",
   "local X = ann.tensor{{0,0},{0,1},{1,0},{1,1}}\n"
   "local Y = ann.tensor{{0},{1},{1},{0}}\n"
   "ann.manual_seed(1)\n"
   "local net = ann.nn.Sequential{ann.nn.Linear(2, 8), ann.nn.Tanh(),\n"
   "                              ann.nn.Linear(8, 1)}\n"
   "ann.fit(net, {train = ann.data.TensorDataset(X, Y), epochs = 300,\n"
   "              loss = ann.nn.MSELoss(), batch_size = 4,\n"
   "              optimizer = ann.optim.Adam(net:parameters(), {lr = 0.05}),\n"
   "              progress = false})\n"
   "print('xor:', table.concat(ann.no_grad(function()\n"
   "  return net(X):view(4):totable() end), ' '))\n"},
};

int main(int argc, char **argv) {
  int i, failed = 0;
  if (argc > 1) {
    for (i = 1; i < argc; i++) {
      FILE *f = fopen(argv[i], "rb");
      static char buf[1 << 20];
      size_t n;
      if (f == NULL) { perror(argv[i]); return 2; }
      n = fread(buf, 1, sizeof buf, f);
      fclose(f);
      failed += run_mod(argv[i], buf, n);
    }
    return failed ? 1 : 0;
  }
  for (i = 0; i < (int)(sizeof mods / sizeof mods[0]); i++)
    failed += run_mod(mods[i].name, mods[i].code, strlen(mods[i].code));
  /* every mod but the last must have been stopped, the last must finish */
  return failed == i - 1 ? 0 : 1;
}
