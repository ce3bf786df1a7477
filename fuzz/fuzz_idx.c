/* fuzz/fuzz_idx.c: ann_idx_read on any bytes, raw or gzip (the reader
** tells them apart by the gzip magic) */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ann_Ctx *c = fz_begin(data, size);
  fz_tensor(ann_idx_read("fuzz.idx"));
  fz_end(c);
  return 0;
}
