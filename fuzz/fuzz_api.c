/* fuzz/fuzz_api.c: the random Lua-API driver (fuzz/fuzz_api.lua, whose
** path FZ_API_LUA the Makefile gives) run on the input in a state with
** no files, a memory cap and a deadline */
#define FZ_LUA
#include "fuzz.h"

static char *driver;
static size_t driver_len;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  FILE *f = fopen(FZ_API_LUA, "rb");
  long n;
  (void)argc; (void)argv;
  if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) abort();
  rewind(f);
  driver = malloc((size_t)n + 1);
  if (!driver || fread(driver, 1, (size_t)n, f) != (size_t)n) abort();
  driver_len = (size_t)n;
  fclose(f);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = fz_state(data, size, ANN_FILES_NONE);
  if (luaL_loadbuffer(L, driver, driver_len, "=fuzz_api.lua") != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg && strstr(msg, "non-string error")) {
      fprintf(stderr, "%s\n", msg);
      abort();
    }
  }
  lua_close(L);
  ann_ctx_use(NULL);
  return 0;
}
