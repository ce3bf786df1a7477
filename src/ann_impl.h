/*
** ann_impl.h: helpers shared by the core's .c files; not installed.
*/
#ifndef ann_impl_h
#define ann_impl_h

#include "ann.h"

#define ANN_ALIGN 64

/* a new tensor header with fresh contiguous storage (ann_tensor.c) */
ann_Tensor *ann_new(int ndim, const int64_t *shape);
/* a new header viewing t's storage (refs taken), shape/stride copied */
ann_Tensor *ann_new_view(const ann_Tensor *t);
void ann_contig_strides(int ndim, const int64_t *shape, int64_t *stride);
/* checks 0 <= d < ndim, else sets "op: dim d out of range for [..]" */
int ann_checkdim(const char *op, const ann_Tensor *t, int d);
/* set by the autograd layer: frees a tensor's graph node */
extern void (*ann_node_release_hook)(struct ann_Node *);

/*
** Strided walk over n operands sharing one shape (broadcast operands carry
** stride 0).  Dims that are contiguous with each other in every operand are
** merged, so a contiguous tensor is one run.  Usage:
**   ann_Loop l; ann_loop_init(&l, 2, t->ndim, t->shape, strides);
**   do { float *x = base0 + l.off[0]; ... run of l.len, steps l.step[k] }
**   while (ann_loop_next(&l));
*/
#define ANN_LOOPMAX 4
typedef struct ann_Loop {
  int n, ndim;                           /* operands, dims after merging */
  int64_t shape[ANN_MAXDIM];
  int64_t stride[ANN_LOOPMAX][ANN_MAXDIM];
  int64_t idx[ANN_MAXDIM];               /* position in the outer dims */
  int64_t off[ANN_LOOPMAX];              /* element offset of this run */
  int64_t len;                           /* run length (innermost dim) */
  int64_t step[ANN_LOOPMAX];             /* innermost stride per operand */
  int empty;
} ann_Loop;

static inline void ann_loop_init(ann_Loop *l, int n, int ndim,
                                 const int64_t *shape,
                                 const int64_t *const *strides) {
  int i, k, m = 0;
  l->n = n; l->empty = 0;
  for (i = 0; i < ndim; i++) {
    if (shape[i] == 0) l->empty = 1;
    if (shape[i] == 1) continue;         /* size-1 dims don't move */
    if (m > 0) {                         /* merge with previous if contiguous */
      int ok = 1;
      for (k = 0; k < n; k++)
        if (l->stride[k][m-1] != strides[k][i] * shape[i]) { ok = 0; break; }
      if (ok) {
        l->shape[m-1] *= shape[i];
        for (k = 0; k < n; k++) l->stride[k][m-1] = strides[k][i];
        continue;
      }
    }
    l->shape[m] = shape[i];
    for (k = 0; k < n; k++) l->stride[k][m] = strides[k][i];
    m++;
  }
  if (m == 0) {                          /* scalar or all size 1 */
    l->shape[0] = 1;
    for (k = 0; k < n; k++) l->stride[k][0] = 0;
    m = 1;
  }
  l->ndim = m;
  for (i = 0; i < m; i++) l->idx[i] = 0;
  for (k = 0; k < n; k++) { l->off[k] = 0; l->step[k] = l->stride[k][m-1]; }
  l->len = l->shape[m-1];
}

/* advances to the next run; 0 when done */
static inline int ann_loop_next(ann_Loop *l) {
  int i, k;
  for (i = l->ndim - 2; i >= 0; i--) {
    if (++l->idx[i] < l->shape[i]) {
      for (k = 0; k < l->n; k++) l->off[k] += l->stride[k][i];
      return 1;
    }
    l->idx[i] = 0;
    for (k = 0; k < l->n; k++)
      l->off[k] -= l->stride[k][i] * (l->shape[i] - 1);
  }
  return 0;
}

#endif
