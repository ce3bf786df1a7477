// spec/pkg/hello.cpp: a C++ program built against the installed annlua
// through pkg-config (spec/install_spec.lua).  Prints a product worked
// out by hand, [1 2; 3 4] [5 6; 7 8] = [19 22; 43 50], and the BLAS.
#include <cstdio>
#include <cstring>

#include <ann.h>

int main() {
  static const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
  const int64_t shape[2] = {2, 2};
  ann_InitOpts o = {ANN_INIT_KEEP_FPMODE | ANN_INIT_KEEP_ENV, 1};
  if (ann_init_opts(&o) != 0) { std::printf("init: %s\n", ann_error()); return 1; }
  ann_Tensor *x = ann_from_data(a, 2, shape), *y = ann_from_data(b, 2, shape);
  ann_Tensor *z = x && y ? ann_mm(x, y) : NULL;
  if (z == NULL) { std::printf("mm: %s\n", ann_error()); return 1; }
  const float *d = ann_data(z);
  ann_Config c;
  ann_config(&c);
  std::printf("%g %g %g %g %s\n", d[0], d[1], d[2], d[3],
              std::strcmp(c.blas, "builtin") == 0 ? "builtin" : "blas");
  ann_release(x); ann_release(y); ann_release(z);
  ann_shutdown();
  return 0;
}
