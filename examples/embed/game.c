/*
** game.c: a game ships a model that a Lua script trained, and runs it from
** C with no Lua at all.  It loads the model file, checks its outputs
** against the ones the Lua forward wrote beside it, then calls it once per
** "frame" and prints the time per call.
**
**   cc game.c $(pkg-config --cflags --libs annlua) -o game
**   annlua train_model.lua policy.ann      (writes policy.ann, .in, .out)
**   ./game policy.ann [calls]
**
** policy.ann.in holds N input rows, policy.ann.out the N output rows of
** the Lua forward of all rows in one call, policy.ann.out1 those of each
** row alone (a product's summation order may depend on its row count, so
** each is compared with the C call of the same shape), as little-endian
** float32.
*/
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ann.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* the floats of file path (at most max of them); their count, or -1 */
static long read_floats(const char *path, float *buf, long max) {
  FILE *f = fopen(path, "rb");
  long n;
  if (f == NULL) return -1;
  n = (long)fread(buf, sizeof(float), (size_t)max, f);
  fclose(f);
  return n;
}

#define MAXF 65536

int main(int argc, char **argv) {
  static float in[MAXF], want[MAXF], want1[MAXF], got[MAXF];
  double t0 = now(), t1;
  char path[4096];
  long calls = argc > 2 ? atol(argv[2]) : 1000000, i, nin, nout, rows;
  int ni, no, bad = 0;
  volatile float sink = 0;
  ann_Model *m;
  if (argc < 2) {
    fprintf(stderr, "usage: %s model.ann [calls]\n", argv[0]);
    return 2;
  }
  m = ann_model_load(argv[1]);
  if (m == NULL) {
    fprintf(stderr, "game: %s\n", ann_error());
    return 1;
  }
  ni = ann_model_ninputs(m);
  no = ann_model_noutputs(m);
  if (ni > MAXF || no > MAXF) {
    fprintf(stderr, "game: a %d -> %d model is too wide here\n", ni, no);
    return 1;
  }
  /* the first result, as a game's first frame would get it */
  for (i = 0; i < ni; i++) in[i] = (float)(i % 7 - 3) * 0.25f;
  if (ann_model_run(m, in, 1, got) != 0) {
    fprintf(stderr, "game: %s\n", ann_error());
    return 1;
  }
  t1 = now();
  printf("first result %.3f ms after main\n", (t1 - t0) * 1e3);
  snprintf(path, sizeof path, "%s.in", argv[1]);
  nin = read_floats(path, in, MAXF);
  snprintf(path, sizeof path, "%s.out", argv[1]);
  nout = read_floats(path, want, MAXF);
  snprintf(path, sizeof path, "%s.out1", argv[1]);
  if (nin < ni || nin % ni != 0 || nout != nin / ni * no
      || read_floats(path, want1, MAXF) != nout) {
    fprintf(stderr, "game: %s.in/.out do not fit a %d -> %d model\n",
            argv[1], ni, no);
    return 1;
  }
  rows = nin / ni;
  /* all rows in one call, then one by one: the same bits as Lua's */
  if (ann_model_run(m, in, (int)rows, got) != 0) {
    fprintf(stderr, "game: %s\n", ann_error());
    return 1;
  }
  bad += memcmp(got, want, sizeof(float) * (size_t)nout) != 0;
  for (i = 0; i < rows; i++) {
    if (ann_model_run(m, in + i * ni, 1, got + i * no) != 0) return 1;
  }
  bad += memcmp(got, want1, sizeof(float) * (size_t)nout) != 0;
  printf("%ld rows, together and one by one: %s the Lua forward, bit "
         "for bit\n", rows,
         bad ? "DIFFER from" : "equal to");
  if (bad) return 1;
  t0 = now();
  for (i = 0; i < calls; i++) {
    float *x = in + (i % rows) * ni;
    ann_model_run(m, x, 1, got);
    sink += got[0];
  }
  t1 = now();
  if (calls > 0)
    printf("%ld calls: %.3f us per call\n", calls,
           (t1 - t0) / (double)calls * 1e6);
  ann_model_free(m);
  return 0;
}
