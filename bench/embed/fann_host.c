/*
** bench/embed/fann_host.c: the peer of examples/embed/game.c, built on
** FANN 2.2 (Debian's libfann-dev, float build).  Not part of annlua.
**   fann_host make NET        writes a 32-64-64-8 network (tanh hidden,
**                             linear output) with random weights to NET
**   fann_host run NET CALLS   from main: load NET, one inference (time
**                             printed), then CALLS one-sample calls
** Prints "name: value unit" lines as the other benchmarks do.
*/
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <floatfann.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  double t0 = now(), t1;
  struct fann *net;
  fann_type in[32], *out;
  volatile float sink = 0;
  long i, calls;
  if (argc >= 3 && strcmp(argv[1], "make") == 0) {
    net = fann_create_standard(4, 32, 64, 64, 8);
    if (net == NULL) return 1;
    fann_set_activation_function_hidden(net, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_function_output(net, FANN_LINEAR);
    fann_randomize_weights(net, -0.2f, 0.2f);
    if (fann_save(net, argv[2]) != 0) return 1;
    fann_destroy(net);
    return 0;
  }
  if (argc < 4 || strcmp(argv[1], "run") != 0) {
    fprintf(stderr, "usage: fann_host make NET | run NET CALLS\n");
    return 2;
  }
  for (i = 0; i < 32; i++) in[i] = (fann_type)((i % 7) - 3) * 0.25f;
  net = fann_create_from_file(argv[2]);
  if (net == NULL) return 1;
  out = fann_run(net, in);
  t1 = now();
  printf("fann-first: %.3f ms from main (output[1] %.6f)\n",
         (t1 - t0) * 1e3, out[0]);
  calls = atol(argv[3]);
  t0 = now();
  for (i = 0; i < calls; i++) {
    in[0] = (fann_type)(i & 7) * 0.125f;
    sink += fann_run(net, in)[0];
  }
  t1 = now();
  printf("fann-infer: %.3f us/call\n", (t1 - t0) / (double)calls * 1e6);
  fann_destroy(net);
  return 0;
}
