/*
** fuzz/fuzz.h: what the libFuzzer targets share.  Each input is served
** to the core as a file from memory (ANN_FILES_IO host callbacks), in a
** context with a memory cap and a deadline, so that a big or slow input
** ends in an error the target ignores, not in an out-of-memory or
** time-out report of the fuzzer; a crash, a sanitizer report or a leak
** is what is left to find.
*/
#ifndef fuzz_h
#define fuzz_h

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ann.h"

/* not every target uses every helper */
#define FZ_FN static __attribute__((unused))

#define FZ_MEM_LIMIT  ((size_t)256 << 20)   /* per input: the context's cap */
#define FZ_DEADLINE   2.0                   /* seconds per input */

typedef struct {          /* the input, readable once per open */
  const uint8_t *data;
  size_t size, pos;
  int open;
} fz_File;

static fz_File fz_file;
volatile float fz_sink;   /* what the targets read, kept */
static struct timespec fz_start;

FZ_FN void *fz_open(void *ud, const char *path, const char *mode) {
  (void)ud; (void)path;
  if (mode[0] != 'r') return NULL;       /* the targets write nothing */
  fz_file.pos = 0;
  fz_file.open = 1;
  return &fz_file;
}

FZ_FN size_t fz_read(void *ud, void *f, void *buf, size_t n) {
  fz_File *ff = f;
  size_t left = ff->size - ff->pos;
  (void)ud;
  if (n > left) n = left;
  memcpy(buf, ff->data + ff->pos, n);
  ff->pos += n;
  return n;
}

FZ_FN size_t fz_write(void *ud, void *f, const void *buf, size_t n) {
  (void)ud; (void)f; (void)buf; (void)n;
  return 0;
}

FZ_FN int fz_close(void *ud, void *f) {
  (void)ud;
  ((fz_File *)f)->open = 0;
  return 0;
}

FZ_FN double fz_elapsed(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - fz_start.tv_sec) +
         (double)(t.tv_nsec - fz_start.tv_nsec) * 1e-9;
}

FZ_FN int fz_cancel(void *ud) {
  (void)ud;
  return fz_elapsed() > FZ_DEADLINE;
}

/* the options of a context serving data[0..size) as every file read */
FZ_FN void fz_opts(ann_CtxOpts *o, const uint8_t *data, size_t size) {
  ann_ctx_defaults(o);
  fz_file.data = data;
  fz_file.size = size;
  fz_file.pos = 0;
  o->mem_limit = FZ_MEM_LIMIT;
  o->cancel = fz_cancel;
  o->files = ANN_FILES_IO;
  o->io.open = fz_open;
  o->io.read = fz_read;
  o->io.write = fz_write;
  o->io.close = fz_close;
  clock_gettime(CLOCK_MONOTONIC, &fz_start);
}

/* a context for one input, made current; fz_end frees it */
FZ_FN ann_Ctx *fz_begin(const uint8_t *data, size_t size) {
  ann_CtxOpts o;
  ann_Ctx *c;
  fz_opts(&o, data, size);
  c = ann_ctx_new(&o);
  if (!c) abort();                       /* cannot happen: a bug */
  ann_ctx_use(c);
  return c;
}

FZ_FN void fz_end(ann_Ctx *c) {
  if (fz_file.open) abort();             /* a reader left its file open */
  ann_ctx_use(NULL);
  ann_ctx_free(c);
}

/* Model-file inputs: a first byte with bit 0 clear says the rest is a
** body, which gets a valid container around it (magic, version, lengths,
** CRC) so that the fuzzer reaches the decoder past the CRC; set, the rest
** is the whole file.  Returns a malloc'd buffer (*out_len) or NULL. */
FZ_FN uint8_t *fz_model_file(const uint8_t *data, size_t size,
                              size_t *out_len) {
  static const uint8_t magic[8] = {0x89, 'A', 'N', 'N', '\r', '\n', 0x1a,
                                   '\n'};
  uint8_t *f;
  size_t n, i;
  uint64_t len;
  uint32_t crc;
  if (size < 1) return NULL;
  if (data[0] & 1) {
    n = size - 1;
    f = malloc(n ? n : 1);
    if (!f) abort();
    memcpy(f, data + 1, n);
    *out_len = n;
    return f;
  }
  len = size - 1;
  n = 20 + len + 12;
  f = malloc(n);
  if (!f) abort();
  memcpy(f, magic, 8);
  f[8] = 1; f[9] = f[10] = f[11] = 0;
  for (i = 0; i < 8; i++) f[12 + i] = (uint8_t)(len >> (8 * i));
  memcpy(f + 20, data + 1, len);
  for (i = 0; i < 8; i++) f[20 + len + i] = (uint8_t)(len >> (8 * i));
  crc = ann_crc32(0, f, 20 + len);        /* header and body */
  for (i = 0; i < 4; i++) f[28 + len + i] = (uint8_t)(crc >> (8 * i));
  *out_len = n;
  return f;
}

#ifdef FZ_LUA
#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"
#include "annlua.h"

FZ_FN void fz_output(void *ud, const char *s, size_t n) {
  (void)ud; (void)s; (void)n;
}

/* a Lua loop stops at the deadline as the core's operations do */
FZ_FN void fz_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  if (fz_elapsed() > FZ_DEADLINE) luaL_error(L, "fuzz: deadline");
}

/* a state with annlua, its context capped, the input as every file (or
** no files at all); NULL if the state could not be made (out of memory) */
FZ_FN lua_State *fz_state(const uint8_t *data, size_t size, int files) {
  ann_CtxOpts o;
  lua_State *L = luaL_newstate();
  if (!L) abort();
  luaL_openlibs(L);
  fz_opts(&o, data, size);
  o.files = files;
  o.output = fz_output;
  if (annlua_openlibs(L, &o) != LUA_OK) {
    fprintf(stderr, "annlua_openlibs: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
  lua_sethook(L, fz_hook, LUA_MASKCOUNT, 1000);
  return L;
}
#endif

/* what a reader's target checks of a result: t (released here) dense,
** every element readable; or, for NULL, an error message set */
FZ_FN void fz_tensor(ann_Tensor *t) {
  if (t) {
    float s = 0;
    int64_t i, n = ann_numel(t);
    const float *p = ann_data(t);
    if (n < 0 || !ann_is_contiguous(t)) abort();
    for (i = 0; i < n; i++) s += p[i];
    fz_sink = s;
    ann_release(t);
  } else if (!ann_error()[0]) {
    abort();
  }
}

#endif
