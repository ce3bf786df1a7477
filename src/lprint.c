/*
** lprint.c: tostring(t), numpy-like.  One format is chosen for the whole
** tensor from the values shown: integers without decimals, else fixed
** with 4 decimals, or scientific when fixed would hide the values (tiny
** or huge); columns are right-aligned to a common width.  Tensors of more
** than 1000 elements show the first and last 3 entries of each dim,
** with "..." between.  A footer line gives the shape.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lann.h"

#define EDGE 3           /* entries shown at each end when eliding */
#define THRESHOLD 1000   /* elide above this many elements */
#define LINEWIDTH 80     /* innermost rows wrap past this */

enum { F_INT, F_FIXED, F_SCI };

typedef struct Printer {
  const ann_Tensor *t;
  int elide;
  int kind, width;                  /* the chosen format */
  int allint, any;                  /* stats of the values shown */
  double maxabs, minabs;            /* minabs: smallest nonzero */
  luaL_Buffer *b;                   /* NULL while measuring */
} Printer;

static int fmtval(char *buf, const Printer *pr, float v) {
  v += 0.0f;                        /* -0 prints as 0 */
  if (isnan(v)) return sprintf(buf, "nan");
  if (isinf(v)) return sprintf(buf, v > 0 ? "inf" : "-inf");
  switch (pr->kind) {
    case F_INT: return sprintf(buf, "%.0f", v);
    case F_FIXED: return sprintf(buf, "%.4f", v);
    default: return sprintf(buf, "%.4e", v);
  }
}

/* pass 1: what the values look like */
static void stat(Printer *pr, float v) {
  double a = fabs(v);
  if (!isfinite(v)) return;
  if (v != floorf(v)) pr->allint = 0;
  if (!pr->any || a > pr->maxabs) pr->maxabs = a;
  if (a > 0 && (pr->minabs == 0 || a < pr->minabs)) pr->minabs = a;
  pr->any = 1;
}

static void choose(Printer *pr) {
  if (pr->allint && pr->maxabs < 1e8) pr->kind = F_INT;
  else if (pr->maxabs >= 1e8 || (pr->minabs > 0 && pr->minabs < 1e-4))
    pr->kind = F_SCI;
  else pr->kind = F_FIXED;
}

/* calls f on each value shown, in order; emits the text when pr->b */
static void walk(Printer *pr, int d, const float *p,
                 void (*f)(Printer *, float)) {
  const ann_Tensor *t = pr->t;
  int64_t n = t->shape[d], i;
  int inner = (d == t->ndim - 1), k, col = 0;
  int perline = (LINEWIDTH - t->ndim) / (pr->width + 2);
  if (perline < 1) perline = 1;
  if (pr->b) luaL_addchar(pr->b, '[');
  for (i = 0; i < n; i++) {
    int dots = (pr->elide && n > 2 * EDGE && i == EDGE);
    if (pr->b && i > 0) {             /* separator */
      luaL_addchar(pr->b, ',');
      if (inner && col < perline) luaL_addchar(pr->b, ' ');
      else {
        for (k = 0; k < (inner ? 1 : t->ndim - d - 1); k++)
          luaL_addchar(pr->b, '\n');
        for (k = 0; k <= d; k++) luaL_addchar(pr->b, ' ');
        col = 0;
      }
    }
    if (dots) {
      if (pr->b) luaL_addstring(pr->b, "...");
      i = n - EDGE - 1;
    } else if (inner) {
      f(pr, p[i * t->stride[d]]);
    } else {
      walk(pr, d + 1, p + i * t->stride[d], f);
    }
    col++;
  }
  if (pr->b) luaL_addchar(pr->b, ']');
}

static void measure(Printer *pr, float v) {
  char buf[64];
  int n = fmtval(buf, pr, v);
  if (n > pr->width) pr->width = n;
}

static void emit(Printer *pr, float v) {
  char buf[64];
  int n = fmtval(buf, pr, v);
  for (; n < pr->width; n++) luaL_addchar(pr->b, ' ');
  luaL_addstring(pr->b, buf);
}

int lann_tostring(lua_State *L) {
  ann_Tensor **u = (ann_Tensor **)luaL_checkudata(L, 1, LANN_TENSOR);
  const ann_Tensor *t = *u;
  Printer pr;
  luaL_Buffer b;
  char s[ANN_MAXDIM * 22 + 4], buf[64];   /* room for ann_shapestr */
  if (t == NULL) { lua_pushliteral(L, LANN_TENSOR " (closed)"); return 1; }
  memset(&pr, 0, sizeof pr);
  pr.t = t;
  pr.elide = ann_numel(t) > THRESHOLD;
  pr.allint = 1;
  if (t->ndim == 0) {                 /* a scalar prints as its value */
    stat(&pr, *ann_data(t));
    choose(&pr);
    fmtval(buf, &pr, *ann_data(t));
    lua_pushstring(L, buf);
    return 1;
  }
  luaL_buffinit(L, &b);
  if (ann_numel(t) == 0) luaL_addstring(&b, "[]");
  else {
    walk(&pr, 0, ann_data(t), stat);
    choose(&pr);
    walk(&pr, 0, ann_data(t), measure);
    pr.b = &b;
    walk(&pr, 0, ann_data(t), emit);
  }
  luaL_addstring(&b, "\n" LANN_TENSOR " ");
  luaL_addstring(&b, ann_shapestr(t, s, sizeof s));
  luaL_pushresult(&b);
  return 1;
}
