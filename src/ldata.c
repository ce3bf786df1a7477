/*
** ldata.c: Lua binding of the file readers and writers.  A file that
** cannot be read is an expected failure: nil plus a message naming the
** file and the place.  Misuse (wrong argument types) raises.
*/
#include <math.h>
#include <string.h>

#include "lann.h"

#define CSVRESULT "ann.CsvResult"   /* metatable of a pending CSV result */

/* the reader limits max_bytes and max_elements of the table at arg into
** o: whole numbers >= 1 (floats such as 2^30 too); raises otherwise */
static void read_limit(lua_State *L, int arg, const char *key,
                       lua_Integer *v) {
  lua_Number x;
  int t = lua_getfield(L, arg, key);
  if (t != LUA_TNIL) {
    x = lua_tonumber(L, -1);
    if (t != LUA_TNUMBER || !(x >= 1 && x <= 9.2e18) || x != floor(x))
      luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a whole number "
                    ">= 1", key));
    *v = (lua_Integer)x;
  }
  lua_pop(L, 1);
}

/* opts at arg: nil, or a table of the keys in `known` (NULL-ended) with
** max_bytes and max_elements among them; raises on an unknown key */
static void read_limits(lua_State *L, int arg, const char *const *known,
                        ann_ReadOpts *o) {
  lua_Integer b = 0, e = 0;
  memset(o, 0, sizeof *o);
  if (lua_isnoneornil(L, arg)) return;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, arg)) {
    int i, ok = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING)
      for (i = 0; known[i] && !ok; i++)
        ok = strcmp(lua_tostring(L, -1), known[i]) == 0;
    if (!ok)
      luaL_argerror(L, arg, lua_pushfstring(L, "unknown option '%s'",
                    luaL_tolstring(L, -1, NULL)));
  }
  read_limit(L, arg, "max_bytes", &b);
  read_limit(L, arg, "max_elements", &e);
  o->max_bytes = (uint64_t)b > SIZE_MAX ? SIZE_MAX : (size_t)b;
  o->max_elements = e;
}

static const char *const limit_keys[] = {"max_bytes", "max_elements", NULL};

/* a tensor read from the file at arg 1 with the limits at arg 2, or
** nil, err */
static int load(lua_State *L, ann_Tensor *(*read)(const char *path,
                                                  const ann_ReadOpts *o)) {
  const char *path = luaL_checkstring(L, 1);
  ann_ReadOpts o;
  ann_Tensor **p;
  read_limits(L, 2, limit_keys, &o);
  p = lann_newslot(L);
  if ((*p = read(path, &o)) == NULL) return lann_fail(L);
  lann_gcaccount(L);
  return 1;
}

/* core.idx_read(path [, {max_bytes =, max_elements =}]) -> tensor, or
** nil, err */
static int l_idx_read(lua_State *L) {
  return load(L, ann_idx_read_opts);
}

/* ---- CSV ------------------------------------------------------------- */

/* the options table at arg into o; raises on a wrong type */
static void csv_opts(lua_State *L, int arg, ann_CsvOpts *o) {
  static const char *const keys[] = {"header", "label", "classes",
    "delimiter", "max_bytes", "max_elements", NULL};
  ann_csv_defaults(o);
  if (lua_isnoneornil(L, arg)) return;
  read_limits(L, arg, keys, &o->limits);
  switch (lua_getfield(L, arg, "header")) {
    case LUA_TNIL: break;
    case LUA_TBOOLEAN: o->header = lua_toboolean(L, -1); break;
    default: luaL_argerror(L, arg, "header must be true, false or nil");
  }
  switch (lua_getfield(L, arg, "label")) {
    case LUA_TNIL: break;                     /* the last column */
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, -1))
        luaL_argerror(L, arg, "label must be \"last\", a column number, "
                      "a column name or false");
      o->has_label = 0;
      break;
    case LUA_TNUMBER: {
      int isint;
      lua_Integer k = lua_tointegerx(L, -1, &isint);
      if (!isint)
        luaL_argerror(L, arg, "label column number must be an integer");
      if (k == 0 || k > INT32_MAX || k < -INT32_MAX)
        luaL_argerror(L, arg, lua_pushfstring(L, "label column %I out of "
                      "range (1-based; negative counts from the end)", k));
      o->label = k > 0 ? (int)k - 1 : (int)k;
      break;
    }
    case LUA_TSTRING: {
      const char *s = lua_tostring(L, -1);
      if (strcmp(s, "last") != 0) o->label_name = s;  /* kept on the stack */
      break;
    }
    default:
      luaL_argerror(L, arg, "label must be \"last\", a column number, a "
                    "column name or false");
  }
  switch (lua_getfield(L, arg, "classes")) {
    case LUA_TNIL: break;
    case LUA_TBOOLEAN: o->classes = lua_toboolean(L, -1); break;
    default: luaL_argerror(L, arg, "classes must be a boolean");
  }
  if (lua_getfield(L, arg, "delimiter") != LUA_TNIL) {
    size_t n;
    const char *d = lua_tolstring(L, -1, &n);
    if (!lua_isstring(L, -1) || n != 1 || *d == '"' || *d == '\n' ||
        *d == '\r')
      luaL_argerror(L, arg, "delimiter must be one character, not a quote "
                    "or a newline");
    o->delimiter = *d;
  }
  lua_pop(L, 2);        /* classes, delimiter; header, label stay */
}

static int csv_gc(lua_State *L) {
  ann_csv_free((ann_Csv *)luaL_checkudata(L, 1, CSVRESULT));
  return 0;
}

static void push_class(lua_State *L, const ann_Csv *c, int k) {
  if (c->numeric) {
    double v = c->values[k];
    if (v == floor(v) && fabs(v) <= 9007199254740992.0)
      lua_pushinteger(L, (lua_Integer)v);   /* 0, 1, 2 rather than 0.0 */
    else
      lua_pushnumber(L, (lua_Number)v);
  } else
    lua_pushstring(L, c->names[k]);
}

/* core.csv_read(path [, opts]) -> x [, y, classes], or nil, err.
** opts: header (nil detects), label ("last" or nil, a 1-based column
** number, negative from the end, a header name, or false for none),
** classes, delimiter */
static int l_csv_read(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ann_CsvOpts o;
  ann_Csv *c;
  ann_Tensor **x, **y;
  int k;
  csv_opts(L, 2, &o);
  /* everything that can raise comes before the resources it would leak */
  c = (ann_Csv *)lua_newuserdatauv(L, sizeof *c, 0);
  memset(c, 0, sizeof *c);
  luaL_setmetatable(L, CSVRESULT);
  x = lann_newslot(L);
  y = lann_newslot(L);
  lua_createtable(L, 0, 0);
  if (ann_csv_read(path, &o, c) < 0) return lann_fail(L);
  *x = c->x; c->x = NULL;
  *y = c->y; c->y = NULL;
  lann_gcaccount(L);
  if (*y == NULL) { lua_pop(L, 2); return 1; }     /* x alone */
  if (!o.classes) { lua_pop(L, 1); return 2; }
  for (k = 0; k < c->nclasses; k++) {
    push_class(L, c, k);
    lua_rawseti(L, -2, k + 1);
  }
  ann_csv_free(c);
  return 3;
}

/* ---- NumPy ------------------------------------------------------------ */

/* core.npy_load(path [, {max_bytes =, max_elements =}]) -> tensor, or
** nil, err */
static int l_npy_load(lua_State *L) {
  return load(L, ann_npy_load_opts);
}

/* core.npy_save(t, path) -> true, or nil, err */
static int l_npy_save(lua_State *L) {
  ann_Tensor *t = lann_checktensor(L, 1);
  const char *path = luaL_checkstring(L, 2);
  if (ann_npy_save(t, path) < 0) return lann_fail(L);
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg funcs[] = {
  {"idx_read", l_idx_read},
  {"csv_read", l_csv_read},
  {"npy_load", l_npy_load},
  {"npy_save", l_npy_save},
  {NULL, NULL}
};

/* method table at -2, module table at -1 */
void lann_open_data(lua_State *L) {
  if (luaL_newmetatable(L, CSVRESULT)) {
    lua_pushcfunction(L, csv_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
