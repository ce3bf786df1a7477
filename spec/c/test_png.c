/*
** test_png.c: pictures (ann_png.c).  The colour scale against values
** worked out by hand from the Playground's three colours; heat maps,
** discs, lines and text pixel by pixel; PNG files written by the core and
** read back with libpng's own low-level reader (not the core's), and the
** core's reader on a grey+alpha file made by libpng here.
*/
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

#include "test.h"

static uint32_t px(const ann_Image *img, int x, int y) {
  uint32_t c = 0xdeadbe;
  if (ann_image_get(img, x, y, &c) != 0) return 0xdeadbe;
  return c;
}

static void test_colour(void) {
  /* the three anchors: #f59322 orange, #e8eaeb grey, #0877bd blue */
  CHECK(ann_colour(-1, -1, 1) == 0xf59322);
  CHECK(ann_colour(0, -1, 1) == 0xe8eaeb);
  CHECK(ann_colour(1, -1, 1) == 0x0877bd);
  CHECK(ann_colour(-7, -1, 1) == 0xf59322);       /* clamped */
  CHECK(ann_colour(42, -1, 1) == 0x0877bd);
  /* halfway orange..grey: (245+232)/2 = 238.5 -> 239, (147+234)/2 = 190.5
  ** -> 191, (34+235)/2 = 134.5 -> 135 */
  CHECK(ann_colour(-0.5, -1, 1) == 0xefbf87);
  /* halfway grey..blue: (232+8)/2 = 120, (234+119)/2 = 176.5 -> 177,
  ** (235+189)/2 = 212 */
  CHECK(ann_colour(0.5, -1, 1) == 0x78b1d4);
  CHECK(ann_colour(0.5, 0, 1) == 0xe8eaeb);       /* another range */
  /* mix: blue halfway to white: 131.5 -> 132, 187, 222 */
  CHECK(ann_mix(0x0877bd, 0xffffff, 0.5) == 0x84bbde);
  CHECK(ann_mix(0x102030, 0xffffff, 0) == 0x102030);
  CHECK(ann_mix(0x102030, 0xffffff, 1) == 0xffffff);
}

static void test_image(void) {
  ann_Image *img;
  uint32_t c;
  CHECK(ann_image_new(0, 5, 0) == NULL);
  CHECK(strstr(ann_error(), "image: size 0x5") != NULL);
  CHECK(ann_image_new(3, 100000, 0) == NULL);
  img = ann_image_new(3, 2, 0x123456);
  CHECK(img != NULL && img->width == 3 && img->height == 2);
  CHECK(px(img, 2, 1) == 0x123456);
  CHECK_ERR(ann_image_get(img, 3, 0, &c) + 1, "pixel (4,1) outside 3x2");
  CHECK_ERR(ann_image_get(img, 0, -1, &c) + 1, "outside 3x2");
  CHECK_ERR(ann_image_get(NULL, 0, 0, &c) + 1, "img is NULL");
  CHECK(ann_image_rect(img, 1, 0, 5, 1, 0xff0000) == 0);   /* clipped */
  CHECK(px(img, 0, 0) == 0x123456 && px(img, 1, 0) == 0xff0000
        && px(img, 2, 0) == 0xff0000 && px(img, 1, 1) == 0x123456);
  CHECK_ERR(ann_image_rect(img, 0, 0, -1, 2, 0) + 1, "rect: rectangle -1x2");
  CHECK_ERR(ann_image_rect(img, 2000000000, 0, 1, 1, 0) + 1, "out of range");
  ann_image_free(img);
  ann_image_free(NULL);
}

static void test_heatmap(void) {
  float v[] = {-1, 1};
  int64_t shape[2] = {1, 2};
  ann_Tensor *g = ann_from_data(v, 2, shape), *gt, *bad;
  ann_Image *img = ann_image_new(4, 2, 0);
  /* 4 pixels over 2 cells: centres at grid x -0.25, 0.25, 0.75, 1.25 ->
  ** values -1 (clamped), -0.5, 0.5, 1 (clamped) */
  CHECK(ann_image_heatmap(img, g, -1, 1, 0, 0, 0, 0, 4, 2) == 0);
  CHECK(px(img, 0, 0) == 0xf59322 && px(img, 0, 1) == 0xf59322);
  CHECK(px(img, 1, 0) == 0xefbf87);
  CHECK(px(img, 2, 1) == 0x78b1d4);
  CHECK(px(img, 3, 0) == 0x0877bd);
  /* faded halfway to white */
  CHECK(ann_image_heatmap(img, g, -1, 1, 0.5, 0, 0, 0, 4, 2) == 0);
  CHECK(px(img, 3, 1) == 0x84bbde);
  /* a transposed (strided) grid: column 1 is the top row now */
  gt = ann_transpose(g, 0, 1);
  CHECK(ann_image_heatmap(img, gt, -1, 1, 0, 0, 0, 0, 4, 2) == 0);
  CHECK(px(img, 0, 0) == 0xf59322 && px(img, 3, 0) == 0xf59322);
  CHECK(px(img, 0, 1) == 0x0877bd && px(img, 3, 1) == 0x0877bd);
  /* into a sub-rectangle, partly outside: only those pixels change */
  CHECK(ann_image_rect(img, 0, 0, 4, 2, 0) == 0);
  CHECK(ann_image_heatmap(img, g, -1, 1, 0, 0, 2, 1, 4, 4) == 0);
  CHECK(px(img, 1, 1) == 0 && px(img, 2, 0) == 0 && px(img, 2, 1) == 0xf59322);
  /* 2 shades: -1, 0, 1 only; -0.5 (t = 0.25) rounds to the middle */
  CHECK(ann_image_heatmap(img, g, -1, 1, 0, 2, 0, 0, 4, 2) == 0);
  CHECK(px(img, 0, 0) == 0xf59322 && px(img, 1, 0) == 0xe8eaeb);
  CHECK(px(img, 2, 0) == 0x0877bd && px(img, 3, 0) == 0x0877bd);
  CHECK_ERR(ann_image_heatmap(img, g, -1, 1, 0, -1, 0, 0, 4, 2) + 1,
            "-1 shades");
  CHECK_ERR(ann_image_heatmap(img, g, 1, 1, 0, 0, 0, 0, 4, 2) + 1, "range [1,1]");
  CHECK_ERR(ann_image_heatmap(img, g, -1, 1, 2, 0, 0, 0, 4, 2) + 1, "fade 2");
  CHECK_ERR(ann_image_heatmap(img, g, -1, 1, 0, 0, 0, 0, 0, 2) + 1,
            "rectangle 0x2");
  bad = ann_zeros(1, shape + 1);
  CHECK_ERR(ann_image_heatmap(img, bad, -1, 1, 0, 0, 0, 0, 4, 2) + 1,
            "grid must be 2-d and not empty, got [2]");
  ann_release(bad);
  ann_release(gt);
  ann_release(g);
  ann_image_free(img);
}

static void test_shapes(void) {
  ann_Image *img = ann_image_new(20, 20, 0xffffff);
  /* disc r 3 at (10,10), ring of 2: (10,10) and (13,10) fill, (14,10)
  ** and (15,10) ring, (16,10) untouched; (12,12) is 2.83 away: fill */
  CHECK(ann_image_disc(img, 10, 10, 3, 0x0000ff, 0x000000, 2) == 0);
  CHECK(px(img, 10, 10) == 0x0000ff && px(img, 13, 10) == 0x0000ff);
  CHECK(px(img, 12, 12) == 0x0000ff);
  CHECK(px(img, 14, 10) == 0 && px(img, 15, 10) == 0);
  CHECK(px(img, 16, 10) == 0xffffff && px(img, 13, 13) == 0);  /* 4.24 */
  CHECK(px(img, 15, 15) == 0xffffff);                          /* 7.07 */
  CHECK(ann_image_disc(img, -100, 5, 2, 0, 0, 0) == 0);        /* clipped */
  CHECK_ERR(ann_image_disc(img, 1, 1, -1, 0, 0, 0) + 1, "radius -1");
  CHECK_ERR(ann_image_disc(img, NAN, 1, 1, 0, 0, 0) + 1, "disc: bad");
  /* a horizontal line of width 1 on row 2 from x 1 to 8 */
  CHECK(ann_image_line(img, 1, 2, 8, 2, 0xff0000, 1) == 0);
  CHECK(px(img, 1, 2) == 0xff0000 && px(img, 8, 2) == 0xff0000);
  CHECK(px(img, 0, 2) == 0xffffff && px(img, 9, 2) == 0xffffff);
  CHECK(px(img, 4, 1) == 0xffffff && px(img, 4, 3) == 0xffffff);
  /* a diagonal passes through (k,k) */
  CHECK(ann_image_line(img, 0, 19, 5, 14, 0x00ff00, 1) == 0);
  CHECK(px(img, 2, 17) == 0x00ff00 && px(img, 5, 17) == 0xffffff);
  CHECK_ERR(ann_image_line(img, 0, 0, 1, 1, 0, 0) + 1, "width 0");
  /* '1' is 0x04 on its first row (column 3 of 5), 0x0e on its last */
  CHECK(ann_image_rect(img, 0, 0, 20, 20, 0xffffff) == 0);
  CHECK(ann_image_text(img, 2, 3, "1", 0x000000, 1) == 0);
  CHECK(px(img, 4, 3) == 0 && px(img, 3, 3) == 0xffffff);
  CHECK(px(img, 3, 9) == 0 && px(img, 5, 9) == 0 && px(img, 2, 9) == 0xffffff);
  /* scale 2: the same pixel is a 2x2 block; "a1" puts '1' 12 px on */
  CHECK(ann_image_text(img, 0, 0, "a1", 0x00ff00, 2) == 0);
  CHECK(px(img, 12 + 4, 0) == 0x00ff00 && px(img, 12 + 5, 1) == 0x00ff00);
  CHECK(px(img, 12 + 3, 0) == 0xffffff);
  CHECK_ERR(ann_image_text(img, 0, 0, "x", 0, 0) + 1, "scale 0");
  ann_image_free(img);
}

/* reads path with libpng's low-level API: its size, format and pixels */
static unsigned char *read_png(const char *path, int *w, int *h, int *ctype,
                               int *depth) {
  FILE *f = fopen(path, "rb");
  png_structp p;
  png_infop info;
  unsigned char *volatile buf = NULL;
  int y;
  if (f == NULL) return NULL;
  p = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  info = png_create_info_struct(p);
  if (setjmp(png_jmpbuf(p))) {
    png_destroy_read_struct(&p, &info, NULL);
    fclose(f);
    free(buf);
    return NULL;
  }
  png_init_io(p, f);
  png_read_info(p, info);
  *w = (int)png_get_image_width(p, info);
  *h = (int)png_get_image_height(p, info);
  *ctype = png_get_color_type(p, info);
  *depth = png_get_bit_depth(p, info);
  buf = malloc((size_t)*w * *h * 3);
  if (*ctype == PNG_COLOR_TYPE_RGB && *depth == 8)
    for (y = 0; y < *h; y++) png_read_row(p, buf + (size_t)y * *w * 3, NULL);
  png_destroy_read_struct(&p, &info, NULL);
  fclose(f);
  return buf;
}

/* writes a 2x1 grey+alpha PNG with libpng: opaque black, clear */
static int write_ga(const char *path) {
  FILE *f = fopen(path, "wb");
  png_structp p;
  png_infop info;
  unsigned char row[4] = {0, 255, 0, 0};
  if (f == NULL) return -1;
  p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  info = png_create_info_struct(p);
  if (setjmp(png_jmpbuf(p))) {
    png_destroy_write_struct(&p, &info);
    fclose(f);
    return -1;
  }
  png_init_io(p, f);
  png_set_IHDR(p, info, 2, 1, 8, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(p, info);
  png_write_row(p, row);
  png_write_end(p, NULL);
  png_destroy_write_struct(&p, &info);
  return fclose(f);
}

static void test_png(void) {
  char dir[] = "/tmp/test_pngXXXXXX", path[64], ga[64], bad[64];
  ann_Image *img, *back;
  unsigned char *buf;
  int w = 0, h = 0, ct = 0, depth = 0;
  FILE *f;
  if (mkdtemp(dir) == NULL) { CHECK(0); return; }
  snprintf(path, sizeof path, "%s/a.png", dir);
  snprintf(ga, sizeof ga, "%s/ga.png", dir);
  snprintf(bad, sizeof bad, "%s/bad.png", dir);
  /* 7x5, blue on the right half x >= 4, a red pixel at (1,3) */
  img = ann_image_new(7, 5, 0xf59322);
  CHECK(ann_image_rect(img, 4, 0, 3, 5, 0x0877bd) == 0);
  CHECK(ann_image_rect(img, 1, 3, 1, 1, 0xff0000) == 0);
  CHECK(ann_png_write(img, path) == 0);
  CHECK(access(path, F_OK) == 0);
  buf = read_png(path, &w, &h, &ct, &depth);
  CHECK(buf != NULL && w == 7 && h == 5);
  CHECK(ct == PNG_COLOR_TYPE_RGB && depth == 8);
  if (buf != NULL && w == 7 && h == 5) {
    unsigned char *p = buf + 3 * (2 * 7 + 5);         /* (5,2): blue */
    CHECK(p[0] == 0x08 && p[1] == 0x77 && p[2] == 0xbd);
    p = buf + 3 * (0 * 7 + 0);                         /* (0,0): orange */
    CHECK(p[0] == 0xf5 && p[1] == 0x93 && p[2] == 0x22);
    p = buf + 3 * (3 * 7 + 1);                         /* (1,3): red */
    CHECK(p[0] == 0xff && p[1] == 0 && p[2] == 0);
  }
  free(buf);
  /* the core's reader gives the same pixels back */
  back = ann_png_read(path);
  CHECK(back != NULL && back->width == 7 && back->height == 5);
  if (back != NULL)
    CHECK(memcmp(back->rgb, img->rgb, 7 * 5 * 3) == 0);
  ann_image_free(back);
  /* grey+alpha: opaque black, transparent composed on white */
  CHECK(write_ga(ga) == 0);
  back = ann_png_read(ga);
  CHECK(back != NULL && back->width == 2 && back->height == 1);
  if (back != NULL) CHECK(px(back, 0, 0) == 0 && px(back, 1, 0) == 0xffffff);
  ann_image_free(back);
  /* failures name the file */
  CHECK_ERR(ann_png_write(img, "/nonexistent-dir/x.png") + 1,
            "cannot write /nonexistent-dir/x.png");
  CHECK(ann_png_read("/nonexistent-dir/x.png") == NULL);
  CHECK(strstr(ann_error(), "cannot read /nonexistent-dir/x.png") != NULL);
  f = fopen(bad, "wb");
  if (f != NULL) { fputs("not a png at all", f); fclose(f); }
  CHECK(ann_png_read(bad) == NULL);
  CHECK(strstr(ann_error(), "bad.png") != NULL);
  CHECK_ERR(ann_png_write(NULL, path) + 1, "img is NULL");
  ann_image_free(img);
  remove(path); remove(ga); remove(bad); rmdir(dir);
}

int main(void) {
  test_colour();
  test_image();
  test_heatmap();
  test_shapes();
  test_png();
  return test_report();
}
