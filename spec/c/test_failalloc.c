/*
** test_failalloc.c: allocation-failure injection.  A context whose
** allocator (ann_CtxOpts.alloc, the host's hook) refuses its Nth call,
** walked over N = 1, 2, ... until an operation runs without reaching N:
** a training step (the fused epoch and the step-by-step loop of ann.fit,
** and one written out by hand), ann.save, ann.load, each reader (CSV,
** IDX gzip, NPY) through a Lua state, and the C model loader.  Every
** refusal must end in an error that says "memory" (a Lua error, nil and
** a message, or NULL and ann_error()), never a crash; after the state is
** closed (the context freed) the allocator must hold nothing: no leak.
** Under ASan (make asan) a use of what a failed path freed is caught too.
*/
#include <dirent.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#include "annlua.h"
#include "test.h"

/* ---- the allocator: refuses call number fail_at (0: none) ------------- */
static _Atomic long calls, fail_at, live, refused;

static void *failing(void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    if (p) { free(p); atomic_fetch_sub(&live, 1); }
    return NULL;
  }
  if (atomic_fetch_add(&calls, 1) + 1 == atomic_load(&fail_at)) {
    atomic_fetch_add(&refused, 1);
    return NULL;
  }
  if (p == NULL) {
    void *q = malloc(nsize);
    if (q) atomic_fetch_add(&live, 1);
    return q;
  }
  (void)osize;
  return realloc(p, nsize);
}

static void arm(long n) { atomic_store(&calls, 0); atomic_store(&refused, 0);
                          atomic_store(&fail_at, n); }
static void disarm(void) { atomic_store(&fail_at, 0); }

static char dir[64];
static char path[512];          /* dir, a slash, a d_name */
static const char *file(const char *name) {
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

static void output(void *ud, const char *s, size_t n) {
  (void)ud; (void)s; (void)n;
}

static lua_State *state(void) {
  ann_CtxOpts o;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  ann_ctx_defaults(&o);
  o.alloc = failing;
  o.output = output;
  if (annlua_openlibs(L, &o) != LUA_OK) {
    fprintf(stderr, "annlua_openlibs: %s\n", lua_tostring(L, -1));
    exit(2);
  }
  lua_settop(L, 0);
  lua_pushstring(L, dir);
  lua_setglobal(L, "DIR");
  return L;
}

/* temporary files a failed write left in dir */
static int leftovers(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (d == NULL) return 0;
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".tmp")) { n++; unlink(file(e->d_name)); }
  closedir(d);
  return n;
}

/* does the message say it is about memory? */
static int says_memory(const char *m) {
  return m != NULL && strstr(m, "memory") != NULL;
}

/* Runs setup, then op with the Nth allocation refused, for N = 1, 2, ...
** until op makes fewer allocations than N.  op returns what it makes, or
** nil/false and a message.  Returns the number of allocations op makes. */
static long walk(const char *name, const char *setup, const char *op) {
  long n, bad = 0;
  for (n = 1; ; n++) {
    lua_State *L = state();
    int r, done;
    if (luaL_dostring(L, setup) != LUA_OK) {
      fprintf(stderr, "%s: setup: %s\n", name, lua_tostring(L, -1));
      exit(2);
    }
    lua_settop(L, 0);
    if (luaL_loadstring(L, op) != LUA_OK) {
      fprintf(stderr, "%s: op: %s\n", name, lua_tostring(L, -1));
      exit(2);
    }
    arm(n);
    r = lua_pcall(L, 0, 2, 0);
    disarm();
    done = atomic_load(&refused) == 0;
    if (done) {
      /* nothing refused: op must have worked */
      if (r != LUA_OK || !lua_toboolean(L, 1)) {
        fprintf(stderr, "%s: fails with no allocation refused: %s\n", name,
                lua_tostring(L, r != LUA_OK ? -1 : 2));
        bad++;
      }
    } else if (r != LUA_OK) {
      if (!says_memory(lua_tostring(L, -1))) {
        fprintf(stderr, "%s: allocation %ld refused: raised '%s'\n", name, n,
                lua_tostring(L, -1));
        bad++;
      }
    } else if (!lua_toboolean(L, 1) && !says_memory(lua_tostring(L, 2))) {
      fprintf(stderr, "%s: allocation %ld refused: returned nil, '%s'\n",
              name, n, lua_tostring(L, 2));
      bad++;
    }
    /* (a refusal the operation recovered from, returning its result, is
       fine: the storage cache or a retry may serve it) */
    lua_close(L);
    if (atomic_load(&live) != 0) {
      fprintf(stderr, "%s: allocation %ld refused: %ld blocks never freed\n",
              name, n, (long)atomic_load(&live));
      atomic_store(&live, 0);
      bad++;
    }
    if (leftovers() != 0) {
      fprintf(stderr, "%s: allocation %ld refused: a temporary file was "
              "left behind\n", name, n);
      bad++;
    }
    if (done) break;
  }
  CHECK(bad == 0);
  CHECK(n > 1);          /* the operation allocates: the walk did something */
  printf("%-18s %5ld allocations, each refused in turn\n", name, n - 1);
  return n - 1;
}

#define NET \
  "ann.manual_seed(1)\n" \
  "local nn = ann.nn\n" \
  "net = nn.Sequential{nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)}\n" \
  "local x = ann.randn(24, 4)\n" \
  "local y = ann.tensor{1,2,3,1,2,3,1,2,3,1,2,3,1,2,3,1,2,3,1,2,3,1,2,3}\n" \
  "ds = ann.data.TensorDataset(x, y)\n" \
  "xb, yb = x, y\n" \
  "loss = nn.CrossEntropyLoss()\n" \
  "opt = ann.optim.Adam(net:parameters(), {lr = 0.01})\n"

static void lua_walks(void) {
  walk("fit, fused", NET,
       "return ann.fit(net, {train = ds, loss = loss, optimizer = opt,"
       " epochs = 1, batch_size = 8, progress = false})");
  walk("fit, step by step", NET,
       "return ann.fit(net, {train = ds, loss = loss, optimizer = opt,"
       " epochs = 1, batch_size = 8, progress = false, fused = false})");
  walk("a step by hand", NET,
       "opt:zero_grad()\n"
       "local l = loss(net(xb), yb)\n"
       "l:backward()\n"
       "opt:step()\n"
       "return l:item()");
  walk("ann.save", NET,
       "return ann.save(net, DIR .. '/net.ann')");
  walk("ann.load", NET "assert(ann.save({net = net, n = 3, s = 'x'},"
       " DIR .. '/net.ann'))",
       "return ann.load(DIR .. '/net.ann')");
  walk("csv", "",
       "return ann.data.csv('examples/data/iris.csv')");
  walk("csv gzip", "",
       "return ann.data.csv('examples/data/digits.csv.gz')");
  walk("idx gzip", "",
       "return ann.data.idx('examples/data/mnist-test-2k-images-idx3-ubyte.gz',"
       " 'examples/data/mnist-test-2k-labels-idx1-ubyte.gz')");
  walk("npy", "assert(ann.data.save_npy(ann.randn(5, 7), DIR .. '/t.npy'))",
       "return ann.data.load_npy(DIR .. '/t.npy')");
  walk("save_npy", "t = ann.randn(5, 7)",
       "return ann.data.save_npy(t, DIR .. '/t.npy')");
}

/* the C model loader, without Lua: a context of its own */
static void c_walks(void) {
  lua_State *L = state();
  long n, bad = 0;
  if (luaL_dostring(L, NET "assert(ann.save(net, DIR .. '/mlp.ann'))")
      != LUA_OK) {
    fprintf(stderr, "model: %s\n", lua_tostring(L, -1));
    exit(2);
  }
  lua_close(L);
  for (n = 1; ; n++) {
    ann_CtxOpts o;
    ann_Ctx *c, *was;
    ann_Model *m;
    int done;
    ann_ctx_defaults(&o);
    o.alloc = failing;
    c = ann_ctx_new(&o);
    was = ann_ctx_use(c);
    arm(n);
    m = ann_model_load(file("mlp.ann"));
    disarm();
    done = atomic_load(&refused) == 0;
    if (m == NULL && (done || !says_memory(ann_error()))) {
      fprintf(stderr, "ann_model_load: allocation %ld refused: '%s'\n", n,
              ann_error());
      bad++;
    }
    if (m) {
      float in[4] = {1, 2, 3, 4}, out[3];
      if (ann_model_run(m, in, 1, out) != 0) bad++;
      ann_model_free(m);
    }
    ann_ctx_use(was);
    ann_ctx_free(c);
    if (atomic_load(&live) != 0) {
      fprintf(stderr, "ann_model_load: allocation %ld refused: %ld blocks "
              "never freed\n", n, (long)atomic_load(&live));
      atomic_store(&live, 0);
      bad++;
    }
    if (done) break;
  }
  CHECK(bad == 0);
  CHECK(n > 1);
  printf("%-18s %5ld allocations, each refused in turn\n", "ann_model_load",
         n - 1);
}

int main(void) {
  strcpy(dir, "/tmp/annlua-failalloc-XXXXXX");
  if (mkdtemp(dir) == NULL) return 2;
  lua_walks();
  c_walks();
  unlink(file("net.ann"));
  unlink(file("mlp.ann"));
  unlink(file("t.npy"));
  rmdir(dir);
  return test_report();
}
