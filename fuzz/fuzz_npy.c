/* fuzz/fuzz_npy.c: ann_npy_load on any bytes */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ann_Ctx *c = fz_begin(data, size);
  fz_tensor(ann_npy_load("fuzz.npy"));
  fz_end(c);
  return 0;
}
