/* fuzz/fuzz_npy.c: ann_npy_load on any bytes */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ann_Ctx *c = fz_begin(data, size);
  ann_Tensor *t = ann_npy_load("fuzz.npy");
  if (t) {
    float s = 0;
    int64_t i, n = ann_numel(t);
    const float *p = ann_data(t);
    if (n < 0 || !ann_is_contiguous(t)) abort();
    for (i = 0; i < n; i++) s += p[i];
    fz_sink = s;
    ann_release(t);
  } else if (!ann_error()[0]) {
    abort();
  }
  fz_end(c);
  return 0;
}
