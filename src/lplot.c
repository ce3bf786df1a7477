/*
** lplot.c: Lua binding of the pictures (ann_png.c): the image type
** "ann.Image" that lua/annlua/plot.lua draws into, PNG reading and
** writing, and the Playground's colour scale.
** Positions are 1-based here, as Lua users count: pixel (1,1) is the top
** left one, and drawing positions use the same units (a disc at (1,1) is
** centred on that pixel).  Colours are integers 0xRRGGBB.
*/
#include "lann.h"

#define LANN_IMAGE "ann.Image"

static ann_Image *checkimage(lua_State *L, int i) {
  ann_Image **p = luaL_checkudata(L, i, LANN_IMAGE);
  if (*p == NULL) luaL_argerror(L, i, "image already freed");
  return *p;
}

/* a pixel position or size that fits an int with room to add */
static int checkint(lua_State *L, int i) {
  lua_Integer v = luaL_checkinteger(L, i);
  luaL_argcheck(L, v > -(1 << 30) && v < (1 << 30), i, "out of range");
  return (int)v;
}

static uint32_t checkcolour(lua_State *L, int i) {
  lua_Integer c = luaL_checkinteger(L, i);
  luaL_argcheck(L, c >= 0 && c <= 0xffffff, i, "colour must be 0x000000..0xffffff");
  return (uint32_t)c;
}

/* a drawing method's end: the image again, so that calls can chain */
static int drawn(lua_State *L, int rc) {
  if (rc != 0) return lann_error(L);
  lua_settop(L, 1);
  return 1;
}

/* userdata first, image second, so that no error can leak the image */
static ann_Image **newslot(lua_State *L) {
  ann_Image **p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = NULL;
  luaL_setmetatable(L, LANN_IMAGE);
  lann_use(L);
  return p;
}

/* core.image(width, height [, bg = 0xffffff]) -> a new image */
static int l_image(lua_State *L) {
  int w = checkint(L, 1), h = checkint(L, 2);
  uint32_t bg = luaL_opt(L, checkcolour, 3, 0xffffff);
  ann_Image **p = newslot(L);
  if ((*p = ann_image_new(w, h, bg)) == NULL) return lann_error(L);
  return 1;
}

/* core.png_read(path) -> image, or nil, err */
static int l_png_read(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  ann_Image **p = newslot(L);
  if ((*p = ann_png_read(path)) == NULL) return lann_fail(L);
  return 1;
}

/* core.colour(v, lo, hi) -> 0xRRGGBB on the Playground's scale */
static int l_colour(lua_State *L) {
  double v = luaL_checknumber(L, 1), lo = luaL_checknumber(L, 2);
  double hi = luaL_checknumber(L, 3);
  luaL_argcheck(L, lo < hi, 3, "hi must be greater than lo");
  lua_pushinteger(L, ann_colour(v, lo, hi));
  return 1;
}

/* core.mix(a, b, t) -> colour a moved a fraction t towards b */
static int l_mix(lua_State *L) {
  lua_pushinteger(L, ann_mix(checkcolour(L, 1), checkcolour(L, 2),
                             luaL_checknumber(L, 3)));
  return 1;
}

/* img:size() -> width, height */
static int m_size(lua_State *L) {
  ann_Image *img = checkimage(L, 1);
  lua_pushinteger(L, img->width);
  lua_pushinteger(L, img->height);
  return 2;
}

/* img:get(x, y) -> 0xRRGGBB */
static int m_get(lua_State *L) {
  ann_Image *img = checkimage(L, 1);
  uint32_t c;
  if (ann_image_get(img, checkint(L, 2) - 1, checkint(L, 3) - 1, &c) != 0)
    return lann_error(L);
  lua_pushinteger(L, c);
  return 1;
}

/* img:rect(x, y, w, h, colour) */
static int m_rect(lua_State *L) {
  ann_Image *img = checkimage(L, 1);
  return drawn(L, ann_image_rect(img, checkint(L, 2) - 1,
                                 checkint(L, 3) - 1, checkint(L, 4),
                                 checkint(L, 5), checkcolour(L, 6)));
}

/* img:heatmap(grid, lo, hi [, fade = 0 [, shades = 0 [, x, y, w, h]]]):
** the 2-d tensor grid coloured into the rectangle (the whole image by
** default), in `shades` steps (0: smooth) */
static int m_heatmap(lua_State *L) {
  ann_Image *img = checkimage(L, 1);
  ann_Tensor *g = lann_checktensor(L, 2);
  double lo = luaL_checknumber(L, 3), hi = luaL_checknumber(L, 4);
  double fade = luaL_optnumber(L, 5, 0);
  lua_Integer shades = luaL_optinteger(L, 6, 0);
  int x = 0, y = 0, w = img->width, h = img->height;
  luaL_argcheck(L, shades >= 0 && shades <= 65536, 6, "shades must be 0..65536");
  if (!lua_isnoneornil(L, 7)) {
    x = checkint(L, 7) - 1; y = checkint(L, 8) - 1;
    w = checkint(L, 9); h = checkint(L, 10);
  }
  return drawn(L, ann_image_heatmap(img, g, lo, hi, fade, (int)shades,
                                    x, y, w, h));
}

/* img:disc(x, y, r, fill [, stroke, stroke_width = 1]) */
static int m_disc(lua_State *L) {
  ann_Image *img = checkimage(L, 1);
  double x = luaL_checknumber(L, 2) - 1, y = luaL_checknumber(L, 3) - 1;
  double r = luaL_checknumber(L, 4);
  uint32_t fill = checkcolour(L, 5), stroke = fill;
  double sw = 0;
  if (!lua_isnoneornil(L, 6)) {
    stroke = checkcolour(L, 6);
    sw = luaL_optnumber(L, 7, 1);
  }
  return drawn(L, ann_image_disc(img, x, y, r, fill, stroke, sw));
}

/* img:line(x0, y0, x1, y1, colour [, width = 1]) */
static int m_line(lua_State *L) {
  ann_Image *img = checkimage(L, 1);
  double x0 = luaL_checknumber(L, 2) - 1, y0 = luaL_checknumber(L, 3) - 1;
  double x1 = luaL_checknumber(L, 4) - 1, y1 = luaL_checknumber(L, 5) - 1;
  return drawn(L, ann_image_line(img, x0, y0, x1, y1, checkcolour(L, 6),
                                 luaL_optnumber(L, 7, 1)));
}

/* img:text(x, y, s, colour [, scale = 1]): a 5x7 font, 6*scale pixels a
** character; (x, y) is the top left */
static int m_text(lua_State *L) {
  ann_Image *img = checkimage(L, 1);
  int x = checkint(L, 2) - 1, y = checkint(L, 3) - 1;
  const char *s = luaL_checkstring(L, 4);
  uint32_t c = checkcolour(L, 5);
  lua_Integer scale = luaL_optinteger(L, 6, 1);
  luaL_argcheck(L, scale >= 1 && scale <= 64, 6, "scale must be 1..64");
  return drawn(L, ann_image_text(img, x, y, s, c, (int)scale));
}

/* img:write_png(path) -> true, or nil, err (a file that can't be written
** is a failure of the environment, as in io.open) */
static int m_write_png(lua_State *L) {
  ann_Image *img = checkimage(L, 1);
  const char *path = luaL_checkstring(L, 2);
  lann_use(L);
  if (ann_png_write(img, path) != 0) return lann_fail(L);
  lua_pushboolean(L, 1);
  return 1;
}

static int m_gc(lua_State *L) {
  ann_Image **p = luaL_checkudata(L, 1, LANN_IMAGE);
  ann_image_free(*p);
  *p = NULL;
  return 0;
}

static int m_tostring(lua_State *L) {
  ann_Image **p = luaL_checkudata(L, 1, LANN_IMAGE);
  if (*p == NULL) lua_pushliteral(L, "Image(freed)");
  else lua_pushfstring(L, "Image(%dx%d)", (*p)->width, (*p)->height);
  return 1;
}

static const luaL_Reg methods[] = {
  {"size", m_size}, {"get", m_get}, {"rect", m_rect},
  {"heatmap", m_heatmap}, {"disc", m_disc}, {"line", m_line},
  {"text", m_text}, {"write_png", m_write_png},
  {NULL, NULL}
};

static const luaL_Reg meta[] = {
  {"__gc", m_gc}, {"__close", m_gc}, {"__tostring", m_tostring},
  {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"image", l_image}, {"png_read", l_png_read}, {"colour", l_colour},
  {"mix", l_mix},
  {NULL, NULL}
};

/* method table (tensors') at -2, module table at -1 */
void lann_open_plot(lua_State *L) {
  luaL_setfuncs(L, funcs, 0);
  if (luaL_newmetatable(L, LANN_IMAGE)) {
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}
