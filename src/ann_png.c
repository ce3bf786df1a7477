/*
** ann_png.c: pictures.  An RGB image to draw into (heat maps of a grid of
** values in the Playground's orange/blue scale, discs, lines, small
** text), written and read as PNG by libpng's simplified API.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <unistd.h>

#include "ann_impl.h"

#define MAXSIDE 16384             /* keeps width*height*3 far from overflow */

#define R(c) (((c) >> 16) & 0xff)
#define G(c) (((c) >> 8) & 0xff)
#define B(c) ((c) & 0xff)

/* the Playground's scale: orange, light grey, blue */
#define ORANGE 0xf59322u
#define MIDDLE 0xe8eaebu
#define BLUE   0x0877bdu

ann_Image *ann_image_new(int width, int height, uint32_t bg) {
  ann_Image *img;
  size_t i, n;
  if (width < 1 || height < 1 || width > MAXSIDE || height > MAXSIDE) {
    ann_seterror("image: size %dx%d out of range (1..%d)", width, height,
                 MAXSIDE);
    return NULL;
  }
  n = (size_t)width * height;
  img = ann_malloc(sizeof *img);
  if (img != NULL) img->rgb = ann_malloc(n * 3);
  if (img == NULL || img->rgb == NULL) {
    ann_free(img);
    ann_nomem("image");
    return NULL;
  }
  img->width = width;
  img->height = height;
  for (i = 0; i < n; i++) {
    img->rgb[3*i] = R(bg); img->rgb[3*i+1] = G(bg); img->rgb[3*i+2] = B(bg);
  }
  return img;
}

void ann_image_free(ann_Image *img) {
  if (img == NULL) return;
  ann_free(img->rgb);
  ann_free(img);
}

/* NULL arguments are misuse, reported rather than crashed on */
#define NEED(p, op) \
  if ((p) == NULL) return ann_seterror("%s: %s is NULL", op, #p)

int ann_image_get(const ann_Image *img, int x, int y, uint32_t *rgb) {
  const unsigned char *p;
  NEED(img, "image_get"); NEED(rgb, "image_get");
  if (x < 0 || y < 0 || x >= img->width || y >= img->height)
    return ann_seterror("image: pixel (%d,%d) outside %dx%d", x + 1, y + 1,
                        img->width, img->height);
  p = img->rgb + 3 * ((size_t)y * img->width + x);
  *rgb = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
  return 0;
}

/* positions far outside are refused, so that x + w cannot overflow */
static int inside(int x, int y) {
  return x > -4 * MAXSIDE && x < 4 * MAXSIDE && y > -4 * MAXSIDE
         && y < 4 * MAXSIDE;
}

/* drawing is clipped: callers may draw partly outside */
static void put(ann_Image *img, int x, int y, uint32_t c) {
  unsigned char *p;
  if (x < 0 || y < 0 || x >= img->width || y >= img->height) return;
  p = img->rgb + 3 * ((size_t)y * img->width + x);
  p[0] = R(c); p[1] = G(c); p[2] = B(c);
}

uint32_t ann_mix(uint32_t a, uint32_t b, double t) {
  uint32_t c = 0;
  int s;
  if (!(t > 0)) t = 0;                   /* NaN too */
  if (t > 1) t = 1;
  for (s = 16; s >= 0; s -= 8) {
    double va = (a >> s) & 0xff, vb = (b >> s) & 0xff;
    c |= (uint32_t)lround(va + (vb - va) * t) << s;
  }
  return c;
}

uint32_t ann_colour(double v, double lo, double hi) {
  double t = (v - lo) / (hi - lo);       /* 0 at lo, 1 at hi */
  if (isnan(t)) t = 0.5;
  if (t <= 0.5) return ann_mix(ORANGE, MIDDLE, 2 * t);
  return ann_mix(MIDDLE, BLUE, 2 * t - 1);
}

/* the grid value at fractional position (gx, gy), bilinear; ann_Loop is
** not needed: the grid is read through its strides */
static double sample(const ann_Tensor *g, double gx, double gy) {
  const float *d = ann_data(g);
  int64_t rows = g->shape[0], cols = g->shape[1];
  int64_t x0, y0, x1, y1;
  double fx, fy, top, bot;
  if (gx < 0) gx = 0;
  if (gy < 0) gy = 0;
  if (gx > cols - 1) gx = (double)(cols - 1);
  if (gy > rows - 1) gy = (double)(rows - 1);
  x0 = (int64_t)gx; y0 = (int64_t)gy;
  x1 = x0 + 1 < cols ? x0 + 1 : x0;
  y1 = y0 + 1 < rows ? y0 + 1 : y0;
  fx = gx - x0; fy = gy - y0;
#define AT(i, j) ((double)d[(i) * g->stride[0] + (j) * g->stride[1]])
  top = AT(y0, x0) + (AT(y0, x1) - AT(y0, x0)) * fx;
  bot = AT(y1, x0) + (AT(y1, x1) - AT(y1, x0)) * fx;
#undef AT
  return top + (bot - top) * fy;
}

int ann_image_heatmap(ann_Image *img, const ann_Tensor *grid, double lo,
                      double hi, double fade, int shades, int x, int y,
                      int w, int h) {
  char s[128];
  int i, j;
  NEED(img, "heatmap"); NEED(grid, "heatmap");
  if (grid->ndim != 2 || grid->shape[0] < 1 || grid->shape[1] < 1)
    return ann_seterror("heatmap: grid must be 2-d and not empty, got %s",
                        ann_shapestr(grid, s, sizeof s));
  if (!(lo < hi))
    return ann_seterror("heatmap: range [%g,%g] is empty (lo must be < hi)",
                        lo, hi);
  if (!(fade >= 0 && fade <= 1))
    return ann_seterror("heatmap: fade %g outside [0,1]", fade);
  if (shades < 0 || shades > 65536)
    return ann_seterror("heatmap: %d shades out of range (0..65536)", shades);
  if (w < 1 || h < 1 || w > MAXSIDE || h > MAXSIDE || !inside(x, y))
    return ann_seterror("heatmap: rectangle %dx%d at (%d,%d) out of range",
                        w, h, x + 1, y + 1);
  for (j = 0; j < h; j++) {
    /* pixel centres spread evenly over the grid's first..last cell */
    double gy = ((j + 0.5) / h) * grid->shape[0] - 0.5;
    if (y + j < 0 || y + j >= img->height) continue;
    for (i = 0; i < w; i++) {
      double gx = ((i + 0.5) / w) * grid->shape[1] - 0.5;
      double v = sample(grid, gx, gy);
      uint32_t c;
      if (shades > 0) {      /* the nearest of shades+1 even steps */
        double t = (v - lo) / (hi - lo);
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        v = lo + (hi - lo) * floor(t * shades + 0.5) / shades;
      }
      c = ann_colour(v, lo, hi);
      put(img, x + i, y + j, ann_mix(c, 0xffffff, fade));
    }
  }
  return 0;
}

int ann_image_rect(ann_Image *img, int x, int y, int w, int h, uint32_t rgb) {
  int i, j;
  NEED(img, "rect");
  if (w < 0 || h < 0 || w > MAXSIDE || h > MAXSIDE || !inside(x, y))
    return ann_seterror("rect: rectangle %dx%d at (%d,%d) out of range",
                        w, h, x + 1, y + 1);
  for (j = y < 0 ? 0 : y; j < y + h && j < img->height; j++)
    for (i = x < 0 ? 0 : x; i < x + w && i < img->width; i++)
      put(img, i, j, rgb);
  return 0;
}

/* the pixel box [*a, *b] around [lo, hi], clipped to [0, n) */
static void span(double lo, double hi, int n, int *a, int *b) {
  lo = floor(lo); hi = ceil(hi);
  *a = lo < 0 ? 0 : lo > n ? n : (int)lo;
  *b = hi < 0 ? -1 : hi > n - 1 ? n - 1 : (int)hi;
}

int ann_image_disc(ann_Image *img, double cx, double cy, double r,
                   uint32_t fill, uint32_t stroke, double sw) {
  int x0, x1, y0, y1, i, j;
  double out;
  NEED(img, "disc");
  if (!(r >= 0) || !(sw >= 0) || !isfinite(cx) || !isfinite(cy)
      || r > MAXSIDE || sw > MAXSIDE)
    return ann_seterror("disc: bad centre (%g,%g), radius %g or stroke %g",
                        cx + 1, cy + 1, r, sw);
  out = r + sw;
  span(cx - out, cx + out, img->width, &x0, &x1);
  span(cy - out, cy + out, img->height, &y0, &y1);
  for (j = y0; j <= y1; j++)
    for (i = x0; i <= x1; i++) {
      double d = hypot(i - cx, j - cy);
      if (d <= r) put(img, i, j, fill);
      else if (d <= out) put(img, i, j, stroke);
    }
  return 0;
}

/* distance from (px,py) to the segment (x0,y0)-(x1,y1) */
static double segdist(double px, double py, double x0, double y0,
                      double x1, double y1) {
  double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy, t = 0;
  if (len2 > 0) {
    t = ((px - x0) * dx + (py - y0) * dy) / len2;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
  }
  return hypot(px - (x0 + t * dx), py - (y0 + t * dy));
}

int ann_image_line(ann_Image *img, double x0, double y0, double x1,
                   double y1, uint32_t rgb, double width) {
  int a0, a1, b0, b1, i, j;
  double half = width / 2;
  NEED(img, "line");
  if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)
      || !(width > 0) || width > MAXSIDE)
    return ann_seterror("line: bad end points (%g,%g)-(%g,%g) or width %g",
                        x0 + 1, y0 + 1, x1 + 1, y1 + 1, width);
  /* a half-pixel floor so that thin lines leave no gaps */
  if (half < 0.5) half = 0.5;
  span(fmin(x0, x1) - half, fmax(x0, x1) + half, img->width, &a0, &a1);
  span(fmin(y0, y1) - half, fmax(y0, y1) + half, img->height, &b0, &b1);
  for (j = b0; j <= b1; j++)
    for (i = a0; i <= a1; i++)
      if (segdist(i, j, x0, y0, x1, y1) <= half) put(img, i, j, rgb);
  return 0;
}

/* ---- a 5x7 font: 7 rows of 5 bits each, bit 4 the leftmost column ---- */
static const struct { char c; unsigned char row[7]; } font[] = {
  {'0', {0x0e,0x11,0x13,0x15,0x19,0x11,0x0e}},
  {'1', {0x04,0x0c,0x04,0x04,0x04,0x04,0x0e}},
  {'2', {0x0e,0x11,0x01,0x02,0x04,0x08,0x1f}},
  {'3', {0x1f,0x02,0x04,0x02,0x01,0x11,0x0e}},
  {'4', {0x02,0x06,0x0a,0x12,0x1f,0x02,0x02}},
  {'5', {0x1f,0x10,0x1e,0x01,0x01,0x11,0x0e}},
  {'6', {0x06,0x08,0x10,0x1e,0x11,0x11,0x0e}},
  {'7', {0x1f,0x01,0x02,0x04,0x08,0x08,0x08}},
  {'8', {0x0e,0x11,0x11,0x0e,0x11,0x11,0x0e}},
  {'9', {0x0e,0x11,0x11,0x0f,0x01,0x02,0x0c}},
  {'A', {0x0e,0x11,0x11,0x1f,0x11,0x11,0x11}},
  {'B', {0x1e,0x11,0x11,0x1e,0x11,0x11,0x1e}},
  {'C', {0x0e,0x11,0x10,0x10,0x10,0x11,0x0e}},
  {'D', {0x1c,0x12,0x11,0x11,0x11,0x12,0x1c}},
  {'E', {0x1f,0x10,0x10,0x1e,0x10,0x10,0x1f}},
  {'F', {0x1f,0x10,0x10,0x1e,0x10,0x10,0x10}},
  {'G', {0x0e,0x11,0x10,0x17,0x11,0x11,0x0f}},
  {'H', {0x11,0x11,0x11,0x1f,0x11,0x11,0x11}},
  {'I', {0x0e,0x04,0x04,0x04,0x04,0x04,0x0e}},
  {'J', {0x07,0x02,0x02,0x02,0x02,0x12,0x0c}},
  {'K', {0x11,0x12,0x14,0x18,0x14,0x12,0x11}},
  {'L', {0x10,0x10,0x10,0x10,0x10,0x10,0x1f}},
  {'M', {0x11,0x1b,0x15,0x15,0x11,0x11,0x11}},
  {'N', {0x11,0x11,0x19,0x15,0x13,0x11,0x11}},
  {'O', {0x0e,0x11,0x11,0x11,0x11,0x11,0x0e}},
  {'P', {0x1e,0x11,0x11,0x1e,0x10,0x10,0x10}},
  {'Q', {0x0e,0x11,0x11,0x11,0x15,0x12,0x0d}},
  {'R', {0x1e,0x11,0x11,0x1e,0x14,0x12,0x11}},
  {'S', {0x0f,0x10,0x10,0x0e,0x01,0x01,0x1e}},
  {'T', {0x1f,0x04,0x04,0x04,0x04,0x04,0x04}},
  {'U', {0x11,0x11,0x11,0x11,0x11,0x11,0x0e}},
  {'V', {0x11,0x11,0x11,0x11,0x11,0x0a,0x04}},
  {'W', {0x11,0x11,0x11,0x15,0x15,0x15,0x0a}},
  {'X', {0x11,0x11,0x0a,0x04,0x0a,0x11,0x11}},
  {'Y', {0x11,0x11,0x11,0x0a,0x04,0x04,0x04}},
  {'Z', {0x1f,0x01,0x02,0x04,0x08,0x10,0x1f}},
  {'.', {0x00,0x00,0x00,0x00,0x00,0x0c,0x0c}},
  {',', {0x00,0x00,0x00,0x00,0x0c,0x04,0x08}},
  {'-', {0x00,0x00,0x00,0x0e,0x00,0x00,0x00}},
  {'+', {0x00,0x04,0x04,0x1f,0x04,0x04,0x00}},
  {':', {0x00,0x0c,0x0c,0x00,0x0c,0x0c,0x00}},
  {'%', {0x18,0x19,0x02,0x04,0x08,0x13,0x03}},
  {'(', {0x02,0x04,0x08,0x08,0x08,0x04,0x02}},
  {')', {0x08,0x04,0x02,0x02,0x02,0x04,0x08}},
  {'/', {0x00,0x01,0x02,0x04,0x08,0x10,0x00}},
  {'=', {0x00,0x00,0x1f,0x00,0x1f,0x00,0x00}},
};

static const unsigned char *glyph(char c) {
  size_t i;
  if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');  /* one case */
  for (i = 0; i < sizeof font / sizeof font[0]; i++)
    if (font[i].c == c) return font[i].row;
  return NULL;                           /* space and unknowns: blank */
}

int ann_image_text(ann_Image *img, int x, int y, const char *s, uint32_t rgb,
                   int scale) {
  int r, b;
  NEED(img, "text"); NEED(s, "text");
  if (scale < 1 || scale > 64 || !inside(x, y))
    return ann_seterror("text: scale %d or position (%d,%d) out of range",
                        scale, x + 1, y + 1);
  for (; *s && x < img->width; s++, x += 6 * scale) {      /* 5 columns and a gap */
    const unsigned char *g = glyph(*s);
    if (g == NULL) continue;
    for (r = 0; r < 7; r++)
      for (b = 0; b < 5; b++)
        if (g[r] & (0x10 >> b))
          ann_image_rect(img, x + b * scale, y + r * scale, scale, scale, rgb);
  }
  return 0;
}

/* ---- PNG through libpng's simplified API (no setjmp needed) ----------- */

/* img as PNG into f, which is closed; 0, or -1 and an error naming path
** (how a failed close is said is the caller's: the host's io or errno) */
static int write_stream(const ann_Image *img, FILE *f, const char *path,
                        const char *closed) {
  png_image pi;
  int ok;
  memset(&pi, 0, sizeof pi);
  pi.version = PNG_IMAGE_VERSION;
  pi.width = (png_uint_32)img->width;
  pi.height = (png_uint_32)img->height;
  pi.format = PNG_FORMAT_RGB;
  ok = png_image_write_to_stdio(&pi, f, 0, img->rgb, 0, NULL);
  if (!ok) ann_seterror("png: cannot write %s: %s", path, pi.message);
  png_image_free(&pi);
  if (fclose(f) != 0 && ok) {
    ok = 0;
    ann_seterror("png: cannot write %s: %s", path,
                 closed ? closed : strerror(errno));
  }
  return ok ? 0 : -1;
}

/* written to a temporary file beside path (ann_file_temp) and renamed
** over path, so that a reader never sees half a picture and a failed
** write leaves the old file; under the host's io, straight through it */
int ann_png_write(const ann_Image *img, const char *path) {
  char *tmp;
  int fd;
  FILE *f;
  NEED(img, "png_write"); NEED(path, "png_write");
  if (ann_file_check(path) < 0) return -1;
  if (ann_file_io()) {
    f = ann_file_wopen(path);
    return f == NULL ? -1 : write_stream(img, f, path,
                                         "write error (reported by the host)");
  }
  fd = ann_file_temp(path, &tmp);
  f = fd < 0 ? NULL : fdopen(fd, "wb");
  if (f == NULL) {
    ann_seterror("png: cannot write %s: %s (creating its temporary file)",
                 path, strerror(errno));
    if (fd >= 0) { close(fd); remove(tmp); }
    ann_free(tmp);
    return -1;
  }
  if (write_stream(img, f, path, NULL) < 0) {
    remove(tmp);
    ann_free(tmp);
    return -1;
  }
  if (rename(tmp, path) != 0) {
    ann_seterror("png: cannot write %s: rename from %s failed", path, tmp);
    remove(tmp);
    ann_free(tmp);
    return -1;
  }
  ann_free(tmp);
  return 0;
}

ann_Image *ann_png_read(const char *path) {
  png_image pi;
  ann_Image *img;
  char *buf = NULL;              /* the file, under ANN_FILES_IO */
  size_t len;
  if (path == NULL) { ann_seterror("png_read: path is NULL"); return NULL; }
  if (ann_file_check(path) < 0) return NULL;
  if (ann_file_io() && ann_file_slurp(path, 0, 0, &buf, &len) < 0)
    return NULL;
  memset(&pi, 0, sizeof pi);
  pi.version = PNG_IMAGE_VERSION;
  if (!(buf ? png_image_begin_read_from_memory(&pi, buf, len)
            : png_image_begin_read_from_file(&pi, path))) {
    ann_seterror("png: cannot read %s: %s", path, pi.message);
    ann_free(buf);
    return NULL;
  }
  if (pi.width > MAXSIDE || pi.height > MAXSIDE) {
    ann_seterror("png: %s is %ux%u, larger than %d pixels a side", path,
                 (unsigned)pi.width, (unsigned)pi.height, MAXSIDE);
    png_image_free(&pi);
    ann_free(buf);
    return NULL;
  }
  pi.format = PNG_FORMAT_RGB;            /* libpng converts (alpha on white) */
  img = ann_image_new((int)pi.width, (int)pi.height, 0xffffff);
  if (img == NULL) { png_image_free(&pi); ann_free(buf); return NULL; }
  {
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(&pi, &white, img->rgb, 0, NULL)) {
      ann_seterror("png: cannot read %s: %s", path, pi.message);
      ann_image_free(img);
      img = NULL;
    }
  }
  ann_free(buf);
  return img;
}
