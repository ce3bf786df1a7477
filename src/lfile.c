/*
** lfile.c: Lua binding of the model-file container (ann_file.c) and of
** its record decoder (ann_rec.c), for lua/annlua/serialize.lua.  A writer
** streams a body out to a temporary file and commits it by renaming;
** _load_records checks a file, decodes its body in C and makes Lua values
** of the records.  A file that cannot be opened, or is not a good model
** file, gives nil, err.
*/
#include <string.h>

#include "lann.h"

#define WRITER "ann.FileWriter"

/* ---- writer ------------------------------------------------------------ */

static ann_Writer **checkwriter(lua_State *L) {
  ann_Writer **w = luaL_checkudata(L, 1, WRITER);
  if (*w == NULL) luaL_error(L, "save: the file is already closed");
  return w;
}

/* core._file_writer(path) -> writer, or nil, err */
static int l_writer(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ann_Writer **w = lua_newuserdatauv(L, sizeof *w, 0);
  *w = NULL;
  luaL_setmetatable(L, WRITER);
  lann_use(L);
  *w = ann_writer_open(path);
  if (*w == NULL) return lann_fail(L);
  return 1;
}

/* w:write(s...) */
static int w_write(lua_State *L) {
  ann_Writer **w = checkwriter(L);
  int i, n = lua_gettop(L);
  for (i = 2; i <= n; i++) {
    size_t len;
    const char *s = luaL_checklstring(L, i, &len);
    if (ann_writer_bytes(*w, s, len) < 0) return lann_error(L);
  }
  return 0;
}

/* w:tensor(t): rank, shape and float32 data */
static int w_tensor(lua_State *L) {
  ann_Writer **w = checkwriter(L);
  if (ann_writer_tensor(*w, lann_checktensor(L, 2)) < 0) return lann_error(L);
  return 0;
}

/* w:commit() -> true, or nil, err */
static int w_commit(lua_State *L) {
  ann_Writer **w = checkwriter(L);
  ann_Writer *p = *w;
  *w = NULL;                      /* freed by commit, whatever happens */
  if (ann_writer_commit(p) < 0) return lann_fail(L);
  lua_pushboolean(L, 1);
  return 1;
}

/* w:abort(), also __gc and __close: drops the temp file if not committed */
static int w_abort(lua_State *L) {
  ann_Writer **w = luaL_checkudata(L, 1, WRITER);
  ann_writer_abort(*w);
  *w = NULL;
  return 0;
}

static const luaL_Reg writer_methods[] = {
  {"write", w_write}, {"tensor", w_tensor}, {"commit", w_commit},
  {"abort", w_abort}, {NULL, NULL}
};

/* ---- records: the body decoded by ann_rec.c, as Lua values ------------- */

#define RECDOC "ann.RecDoc"

/* the checked file and its tree; a userdata, so that an error while the
** values are made frees both */
typedef struct Doc {
  ann_Reader r;
  ann_RecDoc *doc;
  int nclasses;
  const char **classes;       /* names registered with Module:extend */
  size_t *lens;
} Doc;

static int doc_gc(lua_State *L) {
  Doc *d = luaL_checkudata(L, 1, RECDOC);
  ann_rec_free(d->doc);
  d->doc = NULL;
  ann_reader_close(&d->r);
  return 0;
}

/* the decoder's hook: a class the program has not defined stops the
** loading where its name is */
static int known_class(void *ud, const char *name, size_t len,
                       const char *file) {
  const Doc *d = ud;
  int i;
  for (i = 0; i < d->nclasses; i++)
    if (d->lens[i] == len && memcmp(d->classes[i], name, len) == 0) return 0;
  return ann_seterror("%s: unknown module type '%s': define the class (%s = "
                      "ann.nn.Module:extend(\"%s\")) before loading", file,
                      name, name, name);
}

/* the value of record x on the stack; tables, tensors and modules made
** once each (memo: record -> value), so shared records stay shared.
** A module becomes a descriptor {type, args, training, tensors = {{name,
** t}, ...}, children = {{name, descriptor}, ...}} with metatable mt, for
** serialize.lua to rebuild. */
static void push_rec(lua_State *L, const ann_Rec *x, int memo, int mt) {
  uint32_t k;
  luaL_checkstack(L, 8, "load: records nested too deep");
  switch (x->type) {
    case ANN_REC_NIL: lua_pushnil(L); return;
    case ANN_REC_FALSE: case ANN_REC_TRUE:
      lua_pushboolean(L, x->type == ANN_REC_TRUE); return;
    case ANN_REC_INT: lua_pushinteger(L, (lua_Integer)x->u.i); return;
    case ANN_REC_FLOAT: lua_pushnumber(L, (lua_Number)x->u.f); return;
    case ANN_REC_STRING: lua_pushlstring(L, x->u.str.s, x->u.str.len); return;
  }
  if (lua_rawgetp(L, memo, x) != LUA_TNIL) return;
  lua_pop(L, 1);
  if (x->type == ANN_REC_TENSOR) {
    ann_Tensor **p = lann_newslot(L);
    *p = ann_retain(x->u.t);
    if (x->flag && ann_set_requires_grad(*p, 1) != 0) lann_error(L);
  }
  else if (x->type == ANN_REC_TABLE) {
    lua_createtable(L, 0, (int)(x->u.tab.n < 1000000 ? x->u.tab.n : 0));
    for (k = 0; k < x->u.tab.n; k++) {
      push_rec(L, x->u.tab.kv[2 * k], memo, mt);
      push_rec(L, x->u.tab.kv[2 * k + 1], memo, mt);
      lua_rawset(L, -3);
    }
  }
  else {                                  /* a module */
    lua_createtable(L, 0, 5);
    lua_pushlstring(L, x->u.mod.name, x->u.mod.len);
    lua_setfield(L, -2, "type");
    push_rec(L, x->u.mod.args, memo, mt);
    lua_setfield(L, -2, "args");
    lua_pushboolean(L, x->flag);
    lua_setfield(L, -2, "training");
    for (int j = 0; j < 2; j++) {
      const ann_RecField *f = j ? x->u.mod.children : x->u.mod.tensors;
      uint32_t n = j ? x->u.mod.nc : x->u.mod.nt;
      lua_createtable(L, (int)n, 0);
      for (k = 0; k < n; k++) {
        lua_createtable(L, 2, 0);
        lua_pushlstring(L, f[k].name, f[k].len);
        lua_rawseti(L, -2, 1);
        push_rec(L, f[k].rec, memo, mt);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
      }
      lua_setfield(L, -2, j ? "children" : "tensors");
    }
    lua_pushvalue(L, mt);
    lua_setmetatable(L, -2);
  }
  lua_pushvalue(L, -1);
  lua_rawsetp(L, memo, x);
}

/* core._quota(n | nil) -> what was left (nil: no bound): bounds the
** elements of the tensors made from now on (ann_ctx_quota) */
static int l_quota(lua_State *L) {
  int64_t was = ann_ctx_quota(lua_isnoneornil(L, 1)
                              ? -1 : (int64_t)luaL_checkinteger(L, 1));
  if (was < 0) lua_pushnil(L); else lua_pushinteger(L, (lua_Integer)was);
  return 1;
}

/* core._load_records(path, max_bytes, class_names, desc_mt) -> the value
** of the file's body (modules as descriptors), or nil, err */
static int l_load_records(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, (lua_Integer)1 << 40);
  ann_RecOpts o;
  Doc *d;
  int i;
  luaL_argcheck(L, max >= 0, 2, "the size limit must not be negative");
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_checktype(L, 4, LUA_TTABLE);
  d = lua_newuserdatauv(L, sizeof *d, 0);
  memset(d, 0, sizeof *d);
  luaL_setmetatable(L, RECDOC);
  d->nclasses = (int)luaL_len(L, 3);
  d->classes = lua_newuserdatauv(L, (size_t)d->nclasses
                                 * sizeof *d->classes, 0);
  d->lens = lua_newuserdatauv(L, (size_t)d->nclasses * sizeof *d->lens, 0);
  for (i = 0; i < d->nclasses; i++) {     /* the strings stay in table 3 */
    lua_rawgeti(L, 3, i + 1);
    d->classes[i] = luaL_checklstring(L, -1, &d->lens[i]);
    lua_pop(L, 1);
  }
  if (ann_reader_open(&d->r, path, (size_t)max) < 0) return lann_fail(L);
  o.module = known_class;
  o.ud = d;
  d->doc = ann_rec_decode(&d->r, &o);
  if (d->doc == NULL) {
    ann_reader_close(&d->r);
    return lann_fail(L);
  }
  lua_newtable(L);                                /* the memo */
  push_rec(L, ann_rec_root(d->doc), lua_gettop(L), 4);
  lann_gcaccount(L);
  ann_rec_free(d->doc);                           /* the values hold the */
  d->doc = NULL;                                  /* tensors they need */
  ann_reader_close(&d->r);
  return 1;
}

/* a metatable whose __index is the method table, closed on collection */
static void newclass(lua_State *L, const char *name, const luaL_Reg *m,
                     lua_CFunction close) {
  luaL_newmetatable(L, name);
  lua_newtable(L);
  luaL_setfuncs(L, m, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, close);
  lua_setfield(L, -2, "__close");
  lua_pop(L, 1);
}

static const luaL_Reg funcs[] = {
  {"_file_writer", l_writer},
  {"_load_records", l_load_records}, {"_quota", l_quota},
  {NULL, NULL}
};

/* method table at -2, module table at -1 */
void lann_open_file(lua_State *L) {
  newclass(L, WRITER, writer_methods, w_abort);
  luaL_newmetatable(L, RECDOC);
  lua_pushcfunction(L, doc_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
