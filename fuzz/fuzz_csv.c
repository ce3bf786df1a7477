/* fuzz/fuzz_csv.c: ann_csv_read (raw or gzip) on any bytes; the first
** byte chooses the options (header, label, classes, delimiter) */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char delims[4] = {0, ';', '\t', ' '};
  ann_CsvOpts o;
  ann_Csv csv;
  ann_Ctx *c;
  uint8_t b;
  if (size < 1) return 0;
  b = data[0];
  c = fz_begin(data + 1, size - 1);
  ann_csv_defaults(&o);
  o.header = (int)(b & 3) - 1;           /* -1, 0, 1 (and 2: detect too) */
  if (o.header > 1) o.header = -1;
  o.has_label = !(b & 4);
  o.classes = (b >> 3) & 1;
  o.label = (b & 16) ? 0 : -1;
  if (b & 32) o.label_name = "label";
  o.delimiter = delims[(b >> 6) & 3];
  memset(&csv, 0, sizeof csv);
  if (ann_csv_read("fuzz.csv", &o, &csv) == 0) {
    if (!csv.x || (o.has_label && !csv.y)) abort();
    ann_csv_free(&csv);
  } else if (!ann_error()[0]) {
    abort();                             /* a failure says why */
  }
  fz_end(c);
  return 0;
}
