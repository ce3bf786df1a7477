/* fuzz/fuzz_load.c: the whole of ann.load through a Lua state (the
** embedded Lua sources, annlua_openlibs), the input served as the file
** by ANN_FILES_IO callbacks (a body in a valid container, or a whole
** file: fz_model_file); what loads is printed and run */
#define FZ_LUA
#include "fuzz.h"

static const char script[] =
  "local ok, m, e = pcall(ann.load, 'fuzz.ann')\n"
  "if ok and m == nil and type(e) ~= 'string' and e ~= nil then\n"
  "  error('FUZZ: ann.load returned nil and a ' .. type(e))\n"
  "end\n"
  "if not ok and type(m) ~= 'string' then\n"
  "  error('FUZZ: ann.load raised a ' .. type(m))\n"
  "end\n"
  "if ok and m ~= nil then\n"
  "  pcall(tostring, m)\n"
  "  if type(m) == 'table' and type(m.parameters) == 'function' then\n"
  "    pcall(function() return #m:parameters() end)\n"
  "    pcall(function() return m(ann.ones(2, 3)) end)\n"
  "  end\n"
  "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t n;
  uint8_t *f = fz_model_file(data, size, &n);
  lua_State *L;
  if (!f) return 0;
  L = fz_state(f, n, ANN_FILES_IO);
  if (luaL_loadstring(L, script) != LUA_OK) abort();
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg && strncmp(msg, "[string", 7) == 0 && strstr(msg, "FUZZ:")) {
      fprintf(stderr, "%s\n", msg);
      abort();
    }
  }
  lua_close(L);
  ann_ctx_use(NULL);
  free(f);
  return 0;
}
