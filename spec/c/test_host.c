/*
** test_host.c: a host that embeds Lua and opens annlua with
** annlua_openlibs (annlua.h): a 64 MB cap over Lua's heap and the
** tensors, no files, a deadline, output to the host, no io or os
** library; then two states interleaved in one thread, each with its own
** random stream and grad mode.  Each script's result is checked here.
*/
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lauxlib.h"
#include "lualib.h"

#include "annlua.h"
#include "test.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double deadline = 1e300;     /* the host's, for core and hook */

static int past(void *ud) { (void)ud; return now() >= deadline; }

/* the host's count hook: an endless Lua loop stops at the deadline */
static void hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (now() >= deadline) luaL_error(L, "deadline passed");
}

static char out[4096];
static void output(void *ud, const char *s, size_t n) {
  size_t have = strlen(out);
  (void)ud;
  if (have + n < sizeof out) { memcpy(out + have, s, n); out[have + n] = 0; }
}

/* the C allocator of the state's core blocks, counted */
static long blocks;
static void *counting(void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud; (void)osize;
  if (p) blocks--;
  if (nsize == 0) { free(p); return NULL; }
  p = realloc(p, nsize);
  if (p) blocks++;
  return p;
}

/* a state with base, string, table and math only: no io, os, package */
static lua_State *sandbox(const ann_CtxOpts *o) {
  static const luaL_Reg libs[] = {
    {LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string},
    {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
    {NULL, NULL}
  };
  const luaL_Reg *l;
  lua_State *L = luaL_newstate();
  for (l = libs; l->func; l++) {
    luaL_requiref(L, l->name, l->func, 1);
    lua_pop(L, 1);
  }
  if (annlua_openlibs(L, o) != LUA_OK) {
    fprintf(stderr, "annlua_openlibs: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return NULL;
  }
  return L;
}

/* runs chunk; its one result as a string (or the error) into buf */
static int run(lua_State *L, const char *chunk, char *buf, size_t size) {
  int st = luaL_loadstring(L, chunk);
  if (st == LUA_OK) st = lua_pcall(L, 0, 1, 0);
  snprintf(buf, size, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1)
                                                 : luaL_typename(L, -1));
  lua_pop(L, 1);
  return st;
}

#define RUN_OK(L, chunk, want) do { \
  char b_[1024]; \
  int st_ = run(L, chunk, b_, sizeof b_); \
  if (st_ == LUA_OK && strcmp(b_, want) == 0) test_passed++; \
  else { test_failed++; \
    fprintf(stderr, "%s:%d: got %s'%s', expected '%s'\n", __FILE__, \
            __LINE__, st_ ? "error " : "", b_, want); } \
} while (0)

static void test_sandbox(void) {
  ann_CtxOpts o;
  lua_State *L;
  char b[1024];
  double t0;
  ann_ctx_defaults(&o);
  o.alloc = counting;
  o.mem_limit = (size_t)64 << 20;
  o.files = ANN_FILES_NONE;
  o.cancel = past;
  o.output = output;
  L = sandbox(&o);
  CHECK(L != NULL);
  if (L == NULL) return;
  RUN_OK(L, "return type(ann) .. ' ' .. type(io) .. ' ' .. type(os)",
         "table nil nil");
  /* a 10 GB tensor: refused, caught, and the state goes on */
  RUN_OK(L, "local ok, e = pcall(ann.zeros, 50000, 50000) "
            "return tostring(ok) .. ' ' .. tostring(e:find('not enough memory (limit 67108864 bytes)', 1, true) ~= nil)",
         "false true");
  RUN_OK(L, "return tostring(ann.ones(1000):sum():item())", "1000.0");
  /* a tensor of 40 MB is fine; a second one of 40 MB is not */
  RUN_OK(L, "local a = ann.zeros(10000, 1000) "
            "local ok, e = pcall(ann.zeros, 10000, 1000) "
            "return tostring(ok) .. ' ' .. a:size(1)", "false 10000");
  /* garbage tensors are collected to make room: 8 x 40 MB in turn */
  RUN_OK(L, "local n = 0 for i = 1, 8 do local t = ann.zeros(10000, 1000) "
            "n = n + t:size(1) end return tostring(n)", "80000");
  /* a string of 1 GB: Lua's own allocation, under the same cap */
  RUN_OK(L, "local ok, e = pcall(string.rep, 'x', 1 << 30) "
            "return tostring(ok) .. ' ' .. tostring(e)",
         "false not enough memory");
  RUN_OK(L, "return #string.rep('x', 1 << 20)", "1048576");
  /* files: refused before any access, no content in the messages */
  RUN_OK(L, "local ok, r, e = pcall(ann.save, ann.nn.Linear(2, 1), '/etc/x') "
            "return tostring(ok) .. ' ' .. tostring(r) .. ' ' .. tostring(e)",
         "true nil /etc/x: file access is disabled by the host");
  run(L, "local ok, m, e = pcall(ann.load, '/etc/passwd') "
         "return tostring(ok) .. ' ' .. tostring(m) .. ' ' .. tostring(e)",
      b, sizeof b);
  CHECK(strstr(b, "file access is disabled by the host") != NULL);
  CHECK(strstr(b, "root") == NULL);
  run(L, "local ok, d, e = pcall(ann.data.csv, '/etc/passwd') "
         "return tostring(ok) .. ' ' .. tostring(d) .. ' ' .. tostring(e)",
      b, sizeof b);
  CHECK(strstr(b, "/etc/passwd: file access is disabled by the host") != NULL);
  CHECK(strstr(b, "root") == NULL);
  run(L, "local ok, d, e = pcall(ann.data.load_npy, '/etc/passwd') "
         "return tostring(ok) .. ' ' .. tostring(d) .. ' ' .. tostring(e)",
      b, sizeof b);
  CHECK(strstr(b, "file access is disabled by the host") != NULL);
  RUN_OK(L, "local ok, e = pcall(ann.data.save_npy, ann.ones(2), '/tmp/x.npy') "
            "return tostring(ok) .. ' ' .. tostring(e)",
         "true nil");                        /* nil, err: a failure, not raised */
  run(L, "return select(2, ann.data.save_npy(ann.ones(2), '/tmp/x.npy'))",
      b, sizeof b);
  CHECK(strstr(b, "/tmp/x.npy: file access is disabled by the host") != NULL);
  /* an endless chain of large products stops at the deadline */
  deadline = now() + 0.3;
  t0 = now();
  run(L, "local a = ann.rand(1024, 1024) / 1024 "
         "while true do a = a:mm(a) end", b, sizeof b);
  CHECK(strstr(b, "gemm: cancelled by the host") != NULL);
  if (!strstr(b, "cancelled")) fprintf(stderr, "%s\n", b);
  CHECK(now() - t0 < 0.3 + 0.25);
  /* an endless Lua loop: the host's count hook */
  deadline = now() + 0.2;
  t0 = now();
  lua_sethook(L, hook, LUA_MASKCOUNT, 10000);
  run(L, "local i = 0 while true do i = i + 1 end", b, sizeof b);
  CHECK(strstr(b, "deadline passed") != NULL);
  CHECK(now() - t0 < 0.2 + 0.25);
  lua_sethook(L, NULL, 0, 0);
  deadline = 1e300;
  /* ann.fit with no io: its lines go to the host's output */
  out[0] = '\0';
  RUN_OK(L, "ann.manual_seed(1) "
            "local x = ann.tensor{{0, 0}, {0, 1}, {1, 0}, {1, 1}} "
            "local y = ann.tensor{{0}, {1}, {1}, {0}} "
            "local net = ann.nn.Sequential(ann.nn.Linear(2, 4), ann.nn.Tanh(), ann.nn.Linear(4, 1)) "
            "local h = ann.fit(net, {train = ann.data.TensorDataset(x, y), "
            "  loss = ann.nn.MSELoss(), optimizer = ann.optim.SGD(net:parameters(), {lr = 0.1}), "
            "  epochs = 3, batch_size = 4, progress = 'lines'}) "
            "return #h.loss", "3");
  CHECK(strstr(out, "epoch 1/3") != NULL && strstr(out, "epoch 3/3") != NULL);
  /* the host's output is no terminal: progress in lines, no bar */
  RUN_OK(L, "return tostring(ann.isatty(1))", "false");
  out[0] = '\0';
  RUN_OK(L, "ann.write('x', 1, '\\n') return 'ok'", "ok");
  CHECK(strcmp(out, "x1\n") == 0);
  /* and the state still works after all that */
  RUN_OK(L, "collectgarbage() return tostring(ann.eye(3):sum():item())", "3.0");
  lua_close(L);
  /* nothing of the state's context is left */
  CHECK(blocks == 0);
}

/* two states in one thread, calls interleaved: each its own stream and
** grad mode */
static void test_two_states(void) {
  lua_State *A = sandbox(NULL), *B = sandbox(NULL);
  char a1[64], b1[64], a2[64], b2[64], ref[4][64];
  int i;
  CHECK(A && B);
  if (!A || !B) return;
  /* the reference: seed 1 and seed 2 streams, each alone in a state */
  RUN_OK(A, "ann.manual_seed(1) return 'ok'", "ok");
  run(A, "return string.format('%.9g', ann.rand(1):item())", ref[0], 64);
  run(A, "return string.format('%.9g', ann.rand(1):item())", ref[1], 64);
  RUN_OK(A, "ann.manual_seed(2) return 'ok'", "ok");
  run(A, "return string.format('%.9g', ann.rand(1):item())", ref[2], 64);
  run(A, "return string.format('%.9g', ann.rand(1):item())", ref[3], 64);
  CHECK(strcmp(ref[0], ref[2]) != 0);
  /* interleaved */
  RUN_OK(A, "ann.manual_seed(1) ann._set_grad_enabled(false) return 'ok'", "ok");
  RUN_OK(B, "ann.manual_seed(2) ann._set_grad_enabled(true) return 'ok'", "ok");
  for (i = 0; i < 3; i++) {
    RUN_OK(B, "return tostring(ann.is_grad_enabled())", "true");
    RUN_OK(A, "return tostring(ann.is_grad_enabled())", "false");
  }
  run(A, "return string.format('%.9g', ann.rand(1):item())", a1, 64);
  run(B, "return string.format('%.9g', ann.rand(1):item())", b1, 64);
  run(A, "return string.format('%.9g', ann.rand(1):item())", a2, 64);
  run(B, "return string.format('%.9g', ann.rand(1):item())", b2, 64);
  CHECK(strcmp(a1, ref[0]) == 0 && strcmp(a2, ref[1]) == 0);
  CHECK(strcmp(b1, ref[2]) == 0 && strcmp(b2, ref[3]) == 0);
  /* a graph is recorded in B, not in A */
  RUN_OK(A, "local w = ann.ones(2):requires_grad() return tostring((w * 2):needs_grad())", "false");
  RUN_OK(B, "local w = ann.ones(2):requires_grad() return tostring((w * 2):needs_grad())", "true");
  lua_close(A);
  lua_close(B);
}

/* a host that links the library and requires it itself */
static void test_requiref(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "annlua", luaopen_annlua, 1);
  lua_pop(L, 1);
  RUN_OK(L, "return tostring(annlua.ones(2):sum():item())", "2.0");
  RUN_OK(L, "return tostring(require('annlua') == annlua)", "true");
  /* its own context, counting Lua's heap: some KB at least */
  RUN_OK(L, "return tostring(annlua._held() > 10000)", "true");
  lua_close(L);
}

int main(void) {
  test_requiref();
  test_sandbox();
  test_two_states();
  return test_report();
}
