/*
** test.h: a minimal harness for the core's C tests.  Each check counts as
** one test; main returns test_report(), which prints "N passed, N failed".
*/
#ifndef test_h
#define test_h

#include <math.h>
#include <stdio.h>
#include "ann.h"

static int test_passed, test_failed;

#define CHECK(cond) do { \
  if (cond) test_passed++; \
  else { test_failed++; \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

/* |a - b| <= tol, printing both on failure */
#define CHECK_NEAR(a, b, tol) do { \
  double a_ = (a), b_ = (b); \
  if (fabs(a_ - b_) <= (tol)) test_passed++; \
  else { test_failed++; \
    fprintf(stderr, "%s:%d: %s = %.9g, expected %.9g\n", \
            __FILE__, __LINE__, #a, a_, b_); } \
} while (0)

/* an error is expected and its message must contain `part` */
#define CHECK_ERR(expr, part) do { \
  if ((expr) == 0 && strstr(ann_error(), (part)) != NULL) test_passed++; \
  else { test_failed++; \
    fprintf(stderr, "%s:%d: expected error with '%s', got '%s'\n", \
            __FILE__, __LINE__, (part), ann_error()); } \
} while (0)

/* up to cap bytes of the file at path into buf; how many (0 if absent) */
static inline size_t test_slurp(const char *path, unsigned char *buf,
                                size_t cap) {
  FILE *f = fopen(path, "rb");
  size_t n;
  if (f == NULL) return 0;
  n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

static int test_report(void) {
  printf("%d passed, %d failed\n", test_passed, test_failed);
  return test_failed != 0;
}

#endif
