/* fuzz/fuzz_model.c: the model-file container and the record decoder
** (ann_reader_open_mem, ann_rec_decode, a walk of the tree), then the C
** model loader (ann_model_load_mem) and a run of what it loaded */
#include "fuzz.h"

/* touches every node, as a consumer of the tree would; refs make it a
** DAG whose paths can be exponentially many, so the visits are capped */
static long visits;
static void walk(const ann_Rec *r, int depth) {
  uint32_t i;
  if (!r || depth > 1000) abort();       /* the decoder bounds nesting */
  if (++visits > 100000) return;
  switch (r->type) {
  case ANN_REC_STRING:
    if (r->u.str.s[r->u.str.len] != '\0') abort();
    break;
  case ANN_REC_TABLE:
    for (i = 0; i < 2 * r->u.tab.n; i++) walk(r->u.tab.kv[i], depth + 1);
    break;
  case ANN_REC_TENSOR:
    if (ann_numel(r->u.t) < 0) abort();
    break;
  case ANN_REC_MODULE:
    if (r->u.mod.name[r->u.mod.len] != '\0') abort();
    walk(r->u.mod.args, depth + 1);
    for (i = 0; i < r->u.mod.nt; i++) walk(r->u.mod.tensors[i].rec, depth + 1);
    for (i = 0; i < r->u.mod.nc; i++)
      walk(r->u.mod.children[i].rec, depth + 1);
    break;
  case ANN_REC_NIL: case ANN_REC_FALSE: case ANN_REC_TRUE:
  case ANN_REC_INT: case ANN_REC_FLOAT:
    break;
  default:
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t n;
  uint8_t *f = fz_model_file(data, size, &n);
  ann_Ctx *c;
  ann_Reader r;
  ann_Model *m;
  if (!f) return 0;
  c = fz_begin(f, n);
  if (ann_reader_open_mem(&r, f, n, "fuzz.ann") == 0) {
    ann_RecDoc *d = ann_rec_decode(&r, NULL);
    if (d) {
      visits = 0;
      walk(ann_rec_root(d), 0);
      ann_rec_free(d);
    } else if (!ann_error()[0]) {
      abort();
    }
    ann_reader_close(&r);
  }
  m = ann_model_load_mem(f, n);
  if (m) {
    int ni = ann_model_ninputs(m), no = ann_model_noutputs(m);
    float *in, *out;
    int i;
    if (ni <= 0 || no <= 0) abort();
    in = malloc(sizeof(float) * 2 * (size_t)ni);
    out = malloc(sizeof(float) * 2 * (size_t)no);
    if (!in || !out) abort();
    for (i = 0; i < 2 * ni; i++) in[i] = (float)i * 0.25f - 1.0f;
    if (ann_model_run(m, in, 2, out) != 0) abort();
    free(in);
    free(out);
    ann_model_free(m);
  } else if (!ann_error()[0]) {
    abort();
  }
  fz_end(c);
  free(f);
  return 0;
}
