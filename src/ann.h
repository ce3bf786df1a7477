/*
** ann.h: the public C API of annlua's core (libannlua).
** The core knows nothing of Lua: a game or tool can link libannlua and use
** tensors (and, later, trained models) from C alone.
**
** Conventions
** - One element type: float32.  Tensors are views (offset, shape, strides,
**   counted in elements) on refcounted storage whose data is 64-byte aligned.
** - Dims and positions given as C integers are 0-based.  Index *tensors*
**   (argmax results, index_select/gather indices, class labels) hold
**   1-based integers stored as floats, because they are data shared with
**   Lua scripts, where labels are 1-based.
** - Functions that make a tensor return it with one reference owned by the
**   caller, or NULL on error; functions that return int give 0 on success
**   and -1 on error.  On error, ann_error() tells what went wrong in words
**   that name the operation and the shapes ("mm: size mismatch, [3,4] x
**   [5,2] (4 ~= 5)").  Nothing in the core aborts the process.
** - A 0-dim tensor (ndim 0, one element) is a scalar, as in PyTorch; whole-
**   tensor reductions return one.
*/
#ifndef ann_h
#define ann_h

#include <stddef.h>
#include <stdint.h>

/* the library is built with -fvisibility=hidden: what is declared here is
** its whole public interface */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif
#ifdef __cplusplus
extern "C" {
#endif

#define ANN_VERSION "0.1.0"
#define ANN_MAXDIM 8

typedef struct ann_Storage {
  float *data;      /* 64-byte aligned */
  int64_t n;        /* elements */
  void *raw;        /* what the allocator returned */
  size_t rawsize;   /* bytes asked of the allocator */
  int refs;
} ann_Storage;

struct ann_Node;    /* autograd record (ann_autograd.c) */

typedef struct ann_Tensor {
  ann_Storage *st;
  int64_t offset;                 /* in elements */
  int ndim;
  int64_t shape[ANN_MAXDIM];
  int64_t stride[ANN_MAXDIM];     /* in elements; 0 for expanded dims */
  int refs;
  /* autograd (filled in by the autograd layer; ignored by raw kernels) */
  int requires_grad;
  struct ann_Tensor *grad;
  struct ann_Node *node;
} ann_Tensor;

/* ---- errors, memory ---------------------------------------------------- */
const char *ann_error(void);                 /* message of the last error */
int ann_seterror(const char *fmt, ...);      /* sets it; returns -1 */
char *ann_shapestr(const ann_Tensor *t, char *buf, size_t size); /* "[3,4]" */

/* Allocator, same contract as lua_Alloc (nsize 0 frees).  The core
** aligns what it gets.  Default: malloc/free.  ann_setallocf sets the
** default context's (its cached storage is freed first): call it before
** anything of the default context is alive, since a block is freed by
** the allocator its context has then.  A context made by ann_ctx_new has
** its own (ann_CtxOpts.alloc).  Not counted anywhere: what libpng and a
** loaded BLAS allocate for themselves. */
typedef void *(*ann_Alloc)(void *ud, void *ptr, size_t osize, size_t nsize);
void ann_setallocf(ann_Alloc f, void *ud);
/* Bytes of storage allocated by the current context since it was made
** (only grows); bindings use it to tell their garbage collector about
** tensor memory. */
uint64_t ann_allocated(void);
int64_t ann_live_bytes(void);                /* storage bytes alive now (current context) */

/* ---- contexts (ann_ctx.c) -------------------------------------------------
** A context is what a host gives one user of the core (a Lua state, a
** plugin, a thread): where its memory comes from and how much it may hold,
** a cancel callback, a file policy, where output goes, its random
** generator and its grad mode.  Each thread has a current context; a
** thread that never called ann_ctx_use has the process's default one
** (malloc, no limit, all files, stdout; its grad mode is per thread, as in
** PyTorch, and its random stream is shared by the threads that use it).
**
** Every allocation of the core (tensor storage and headers, autograd
** nodes, reader buffers, scratch) is made from the current context and
** counted there, with a small header per block saying whose it is, so a
** block is freed back into its own context whatever is current then.
** ann_allocated(), ann_live_bytes() and the storage cache are the current
** context's.  A block that would take the context past mem_limit first
** empties the context's storage cache, then fails with "not enough memory
** (limit N bytes)"; the operation returns NULL or -1 with that message.
**
** cancel is polled (ann_poll) from the thread that made the call, between
** bounded pieces of work: gemm panels (a product is cut into panels only
** when there is a cancel callback), the fused epoch's batches, backward's
** nodes, file chunks, reductions and elementwise ops (every 2^24
** elements).  Nonzero stops the operation with the error
** "op: cancelled by the host"; the tensors given to it stay valid (an
** in-place update may be partly done, as with any error).
**
** files: ANN_FILES_ALL, the paths are opened as given; ANN_FILES_NONE,
** every path is refused with "path: file access is disabled by the host"
** before any system call on it; ANN_FILES_IO, every file is opened through
** io: a file read is read whole through io.read (and inflated in memory
** when it is gzip), a file written goes through io.write as it is made.
** Writes with ANN_FILES_ALL go to a temporary file renamed over the path;
** with ANN_FILES_IO the host's open(path, "wb") decides what a partial
** write leaves (to replace a file atomically, write elsewhere and rename
** in close).  Error messages never quote the content of a file the host
** refused or that failed to open.
**
** A context may be current in several threads at once (its counters are
** atomic); its random generator is not locked: draw from one thread.
** ann_ctx_free may be called while blocks of the context are still alive
** (cached blocks are freed then): the context goes when the last does.
** It stops being current in the calling thread; another thread that has
** it current must ann_ctx_use another before it calls the core again. */
typedef struct ann_Ctx ann_Ctx;
typedef struct ann_Io {              /* host-supplied file access */
  void *(*open)(void *ud, const char *path, const char *mode); /* "rb" or "wb"; NULL: refused */
  size_t (*read)(void *ud, void *f, void *buf, size_t n);      /* bytes read, 0 at end */
  size_t (*write)(void *ud, void *f, const void *buf, size_t n);
  int (*close)(void *ud, void *f);                              /* 0 ok, -1 error */
  void *ud;
} ann_Io;
enum { ANN_FILES_ALL = 0, ANN_FILES_NONE = 1, ANN_FILES_IO = 2 };
typedef struct ann_CtxOpts {
  ann_Alloc alloc; void *alloc_ud;   /* where the context's memory comes from; NULL: malloc */
  size_t mem_limit;                  /* bytes held at once by the context; 0: no limit */
  int (*cancel)(void *ud); void *cancel_ud;  /* polled in long operations; nonzero stops */
  int files; ann_Io io;              /* ANN_FILES_*; io used with ANN_FILES_IO */
  void (*output)(void *ud, const char *s, size_t n); void *output_ud; /* NULL: stdout */
} ann_CtxOpts;
void ann_ctx_defaults(ann_CtxOpts *o);
ann_Ctx *ann_ctx_new(const ann_CtxOpts *o);     /* NULL + ann_error() on failure */
void ann_ctx_free(ann_Ctx *c);                   /* when nothing of it is alive */
ann_Ctx *ann_ctx_use(ann_Ctx *c);                /* current in this thread; returns the previous; NULL: the default */
ann_Ctx *ann_ctx_current(void);                  /* never NULL */
int ann_poll(const char *op);                    /* 0, or -1 and "op: cancelled by the host" */
/* bytes the context holds now: its blocks (cached ones too) and what the
** host added with ann_ctx_account */
size_t ann_ctx_held(const ann_Ctx *c);
/* counts delta bytes of the host's own (a Lua state's heap) against c's
** limit: a growth that would pass it empties c's storage cache, then is
** refused (-1, "not enough memory (limit N bytes)"); shrinking never fails.
** Cheap (no atomic update): calls for one context must not overlap */
int ann_ctx_account(ann_Ctx *c, int64_t delta);
/* Bounds the elements of the tensor storage the current context makes
** from now on (ann.load runs a file's constructor arguments under it):
** q >= 0 elements, or no bound with q < 0.  A storage past it fails with
** "tensor: n elements, more than the m left of the loader's limit".
** Returns what was left before the call, -1 when there was no bound. */
int64_t ann_ctx_quota(int64_t q);
/* fn(ud) is called when an allocation of the core would pass c's limit
** even with c's cache emptied, in the thread that allocates, before it is
** refused: a host with a garbage collector frees what it can and returns
** nonzero to have the allocation tried once more (NULL: none; a Lua
** state's context has one that runs a full collection) */
void ann_ctx_onlimit(ann_Ctx *c, int (*fn)(void *ud), void *ud);
/* frees the storage cached by c (NULL: the current context) */
void ann_ctx_trim(ann_Ctx *c);
/* writes n bytes through the current context's output (stdout by default,
** flushed); 0 or -1 */
int ann_write(const char *s, size_t n);

/* ---- life cycle -------------------------------------------------------- */
ann_Tensor *ann_retain(ann_Tensor *t);       /* refs++, returns t */
void ann_release(ann_Tensor *t);             /* refs--, frees at 0; NULL ok */
int64_t ann_numel(const ann_Tensor *t);
int ann_is_contiguous(const ann_Tensor *t);
int ann_same_shape(const ann_Tensor *a, const ann_Tensor *b);
float *ann_data(const ann_Tensor *t);        /* st->data + offset */

/* ---- creation (ann_tensor.c) ------------------------------------------- */
ann_Tensor *ann_empty(int ndim, const int64_t *shape);   /* uninitialised */
ann_Tensor *ann_zeros(int ndim, const int64_t *shape);
ann_Tensor *ann_full(int ndim, const int64_t *shape, float v);
ann_Tensor *ann_from_data(const float *data, int ndim, const int64_t *shape);
ann_Tensor *ann_scalar(float v);                          /* 0-dim */
ann_Tensor *ann_eye(int64_t n);
ann_Tensor *ann_arange(double a, double b, double step);  /* inclusive of b */
ann_Tensor *ann_linspace(double a, double b, int64_t n);
ann_Tensor *ann_empty_like(const ann_Tensor *t);          /* contiguous */

/* ---- random (ann_rand.c): xoshiro256**, seeded through splitmix64; one
** stream per context (the current one's) ------------------------------ */
void ann_manual_seed(uint64_t seed);
void ann_rand_get_state(uint64_t s[4]);
int ann_rand_set_state(const uint64_t s[4]);
uint64_t ann_rand_u64(void);
double ann_rand_uniform(void);               /* [0,1), 53 bits */
double ann_rand_normal(void);                /* Box-Muller, N(0,1) */
ann_Tensor *ann_rand(int ndim, const int64_t *shape);     /* U[0,1) */
ann_Tensor *ann_randn(int ndim, const int64_t *shape);    /* N(0,1) */
int ann_uniform_(ann_Tensor *t, float lo, float hi);
int ann_normal_(ann_Tensor *t, float mean, float std);
/* 1..n shuffled (floats); seed NULL: the global stream, else its own */
ann_Tensor *ann_randperm(int64_t n, const uint64_t *seed);

/* ---- element access (ann_tensor.c); idx has t->ndim 0-based entries ---- */
int ann_get(const ann_Tensor *t, const int64_t *idx, float *v);
int ann_set(ann_Tensor *t, const int64_t *idx, float v);
int ann_item(const ann_Tensor *t, float *v);  /* one-element tensors */

/* ---- views: share storage (ann_view.c) --------------------------------- */
ann_Tensor *ann_view(ann_Tensor *t, int ndim, const int64_t *shape); /* one -1 allowed */
/* a view when t's strides allow one, else a copy */
ann_Tensor *ann_reshape(ann_Tensor *t, int ndim, const int64_t *shape);
ann_Tensor *ann_transpose(ann_Tensor *t, int d1, int d2);
ann_Tensor *ann_permute(ann_Tensor *t, const int *perm);  /* t->ndim entries */
ann_Tensor *ann_narrow(ann_Tensor *t, int d, int64_t start, int64_t len);
ann_Tensor *ann_select(ann_Tensor *t, int d, int64_t i); /* drops dim d */
ann_Tensor *ann_squeeze(ann_Tensor *t, int d);            /* d < 0: all size-1 dims */
ann_Tensor *ann_unsqueeze(ann_Tensor *t, int d);          /* 0 <= d <= ndim */
ann_Tensor *ann_expand(ann_Tensor *t, int ndim, const int64_t *shape); /* -1 keeps */

/* ---- copies (ann_view.c) ----------------------------------------------- */
ann_Tensor *ann_clone(const ann_Tensor *t);               /* contiguous copy */
ann_Tensor *ann_contiguous(ann_Tensor *t);                /* t retained if already */
int ann_copy_(ann_Tensor *dst, const ann_Tensor *src);    /* src broadcast to dst */
ann_Tensor *ann_cat(int n, ann_Tensor *const *ts, int d);
ann_Tensor *ann_stack(int n, ann_Tensor *const *ts, int d);
/* indices are 1-based floats; index_select takes a 1-d idx */
ann_Tensor *ann_index_select(const ann_Tensor *t, int d, const ann_Tensor *idx);
ann_Tensor *ann_gather(const ann_Tensor *t, int d, const ann_Tensor *idx);

/* ---- elementwise (ann_ops.c), numpy broadcasting ------------------------ */
typedef enum ann_BinOp {
  ANN_ADD, ANN_SUB, ANN_MUL, ANN_DIV, ANN_POW,
  ANN_EQ, ANN_NE, ANN_GT, ANN_GE, ANN_LT, ANN_LE,   /* give 0/1 */
  ANN_NBINOP
} ann_BinOp;

typedef enum ann_UnOp {
  ANN_NEG, ANN_EXP, ANN_LOG, ANN_SQRT, ANN_ABS,
  ANN_SIGMOID, ANN_TANH, ANN_RELU,
  ANN_NUNOP
} ann_UnOp;

const char *ann_binop_name(ann_BinOp op);   /* "add", "sub", ... */
const char *ann_unop_name(ann_UnOp op);     /* "neg", "exp", ... */
int ann_broadcast_shape(const ann_Tensor *a, const ann_Tensor *b,
                        int *ndim, int64_t *shape);       /* -1 if they don't */
ann_Tensor *ann_binary(ann_BinOp op, const ann_Tensor *a, const ann_Tensor *b);
ann_Tensor *ann_binary_scalar(ann_BinOp op, const ann_Tensor *a, float s,
                              int scalar_first);          /* s op a if set */
ann_Tensor *ann_unary(ann_UnOp op, const ann_Tensor *a);
ann_Tensor *ann_clamp(const ann_Tensor *a, float lo, float hi);
ann_Tensor *ann_softmax(const ann_Tensor *a, int d);      /* stable */
ann_Tensor *ann_log_softmax(const ann_Tensor *a, int d);  /* stable */

/* in place: b is broadcast to t's shape; t is returned as status 0 */
int ann_fill_(ann_Tensor *t, float v);
/* t = t op alpha*b for ADD/SUB, t op b else */
int ann_binary_(ann_BinOp op, ann_Tensor *t, const ann_Tensor *b, float alpha);
int ann_binary_scalar_(ann_BinOp op, ann_Tensor *t, float s);
int ann_unary_(ann_UnOp op, ann_Tensor *t);
int ann_clamp_(ann_Tensor *t, float lo, float hi);

/* ---- reductions (ann_reduce.c); d < 0 means the whole tensor (0-dim
** result); otherwise along d, keeping it as size 1 when keepdim ---------- */
ann_Tensor *ann_sum(const ann_Tensor *t, int d, int keepdim);
ann_Tensor *ann_mean(const ann_Tensor *t, int d, int keepdim);
ann_Tensor *ann_var(const ann_Tensor *t, int d, int keepdim);  /* unbiased (n-1) */
ann_Tensor *ann_std(const ann_Tensor *t, int d, int keepdim);
ann_Tensor *ann_norm(const ann_Tensor *t, double p);          /* whole, 0-dim */
/* max/min: values, and 1-based indices (floats) when ind is not NULL */
ann_Tensor *ann_max(const ann_Tensor *t, int d, int keepdim, ann_Tensor **ind);
ann_Tensor *ann_min(const ann_Tensor *t, int d, int keepdim, ann_Tensor **ind);
ann_Tensor *ann_argmax(const ann_Tensor *t, int d, int keepdim); /* d < 0: flat index */
ann_Tensor *ann_argmin(const ann_Tensor *t, int d, int keepdim);
int ann_allclose(const ann_Tensor *a, const ann_Tensor *b, double rtol, double atol);
                                             /* 1, 0, or -1 on shape error */

/* ---- linear algebra (ann_blas.c) --------------------------------------- */
ann_Tensor *ann_mm(const ann_Tensor *a, const ann_Tensor *b);      /* 2-d */
ann_Tensor *ann_matmul(const ann_Tensor *a, const ann_Tensor *b);  /* 1/2/3-d */
ann_Tensor *ann_mv(const ann_Tensor *a, const ann_Tensor *v);
ann_Tensor *ann_dot(const ann_Tensor *a, const ann_Tensor *b);     /* 0-dim */
ann_Tensor *ann_outer(const ann_Tensor *u, const ann_Tensor *v);
/* C = alpha * op(A) op(B) + beta * C on 2-d views, strides read to pass
** transposes to BLAS; the building block for layers and their backward. */
int ann_gemm(float alpha, const ann_Tensor *a, int transa,
             const ann_Tensor *b, int transb, float beta, ann_Tensor *c);

/* ---- runtime (ann_blas.c, ann_cpu.c) ----------------------------------- */
typedef struct ann_Config {
  const char *version;      /* ANN_VERSION */
  const char *blas;         /* "OpenBLAS 0.3.21 ..." or "builtin" */
  const char *blas_core;    /* kernel in use, e.g. "SkylakeX" */
  const char *simd;         /* "avx512", "avx2" or "scalar" */
  int threads;
} ann_Config;
/* the BLAS self-check at load (a few products compared with the built-in
** kernels): "passed", "none (built-in kernels)", or "<blas> failed: ...;
** using the built-in kernels" (ann_Config's blas is then "builtin").  A
** function, not a field: hosts built on an older ann.h allocate ann_Config */
const char *ann_blas_check(void);

/*
** Init and shutdown.  Everything that needs the runtime calls ann_init()
** itself, so a host need not; a host that cares about the effects below
** calls ann_init_opts first, from one thread, before any other ann_ call.
** What ann_init does to the process (ann_init_opts flags turn it off):
** - FTZ/DAZ (x86 MXCSR) switched on in the calling thread, and never
**   switched back: denormal results and inputs read as 0 in that thread,
**   for the host's own float code too.  ANN_INIT_KEEP_FPMODE leaves the
**   calling thread as it was.
** - The BLAS: libopenblas (or a CBLAS libblas) loaded with dlopen, unless
**   the process already holds one, $ANN_BLAS is "builtin", the flag
**   ANN_INIT_NO_BLAS is given, the program is statically linked (no
**   dynamic loader to dlopen with), or the library was built with
**   BLAS=none (then there is no dlopen in it at all).  A loaded BLAS
**   stays mapped for the life of the process.  OpenBLAS starts its own
**   threads, which inherit the calling thread's float mode at that time.
** - The environment, during that load only: OPENBLAS_CORETYPE (the kernels
**   for this CPU) and OPENBLAS_THREAD_TIMEOUT=18 (how long its threads
**   spin) are set when the user has not set them, and unset again after:
**   setenv is unsafe while another thread reads the environment.
**   ANN_INIT_KEEP_ENV never touches it; OpenBLAS then picks its kernels
**   and spin time itself.
** - Threads: the BLAS's thread count is set to `threads` (0: its default,
**   all cores or $OPENBLAS_NUM_THREADS).  The core's compute threads
**   (threaded training, and large products on the built-in kernels; at
**   most that many, at most the cores) start at their first use, not at
**   init; each runs a job in the float mode of the thread that started
**   the job.
** ann_init_opts returns -1 (ann_error tells) for unknown flags, or when the
** runtime was already initialised with other options (products,
** ann_mlp_new, ann_config and the thread calls initialise with the
** defaults when nothing did before).  The same options again give 0.
** ann_shutdown, when no other thread is inside annlua: stops and joins the
** compute threads, stops OpenBLAS's threads (blas_thread_shutdown_; they
** start again on demand) after setting it to one thread, frees the cached
** tensor storage, and forgets the options, so that ann_init or
** ann_init_opts work again.  Never undone: the float mode set in threads,
** the loaded BLAS library; tensors and models still alive stay valid.
*/
typedef struct ann_InitOpts {
  unsigned flags;     /* ANN_INIT_KEEP_FPMODE | ANN_INIT_KEEP_ENV | ANN_INIT_NO_BLAS */
  int threads;        /* 0: the default */
} ann_InitOpts;
#define ANN_INIT_KEEP_FPMODE 1u   /* leave the calling thread's FTZ/DAZ alone */
#define ANN_INIT_KEEP_ENV    2u   /* never setenv/unsetenv */
#define ANN_INIT_NO_BLAS     4u   /* built-in kernels, never dlopen */
int ann_init(void);         /* ann_init_opts with defaults, if not yet done; 0 */
int ann_init_opts(const ann_InitOpts *o);   /* o NULL: the defaults; 0 or -1 */
void ann_shutdown(void);
void ann_config(ann_Config *c);
void ann_set_num_threads(int n);
int ann_get_num_threads(void);
/* FTZ/DAZ in the calling thread: denormal results and inputs read as 0;
** returns 1 if the CPU has the mode (x86), else 0 and does nothing */
int ann_flush_denormal(int on);

/* ---- autograd (ann_autograd.c: the engine; ann_grad_*.c: the ops) ------
** Define-by-run, reverse mode.  An op on inputs of which one requires grad,
** while grad mode is on, returns a result carrying a node: the op's
** backward function and its retained inputs.  ann_backward walks the graph
** from a root in reverse topological order; leaves (requires_grad, no
** node) accumulate into t->grad across calls until zeroed, as in PyTorch;
** the gradients of inner tensors are temporary, and the graph behind the
** root is freed once used. */
typedef int (*ann_BackwardFn)(struct ann_Node *n, ann_Tensor *out,
                              const ann_Tensor *gout);
typedef struct ann_Node {
  const char *name;             /* the op, for messages */
  ann_BackwardFn backward;      /* accumulates into inputs (ann_ag_accumulate) */
  ann_Tensor *saved[2];         /* extra tensors the backward needs, retained */
  double p[4];                  /* scalar parameters (dims, exponents, ...) */
  int64_t ip[ANN_MAXDIM + 2];   /* integer parameters (shapes, perms, ...) */
  int ninputs;
  ann_Tensor *inputs[];         /* retained; an entry may be NULL */
} ann_Node;

/* grad mode: the current context's; the default context's is per thread */
int ann_grad_enabled(void);
int ann_set_grad_enabled(int on);            /* returns the previous mode */
int ann_set_requires_grad(ann_Tensor *t, int on); /* leaves only */
int ann_is_leaf(const ann_Tensor *t);
/* grad may be NULL only when root has one element */
int ann_backward(ann_Tensor *root, const ann_Tensor *grad);
ann_Tensor *ann_detach(ann_Tensor *t);       /* a view with no history */
/* in-place ops on a tensor that requires grad are refused in grad mode */
int ann_check_inplace(const ann_Tensor *t, const char *op);

/* for op writers: does an op on these inputs need a node? */
int ann_ag_needs(int n, ann_Tensor *const *inputs);
/* attaches a new node to out (a fresh result) retaining the n inputs and
** marking out as requiring grad; on failure releases out, returns NULL */
ann_Node *ann_ag_attach(ann_Tensor *out, const char *name, ann_BackwardFn bw,
                        int n, ann_Tensor *const *inputs);
/* during backward: adds g into t's gradient, summing broadcast dims down
** to t's shape; does nothing if t does not require grad */
int ann_ag_accumulate(ann_Tensor *t, const ann_Tensor *g);
/* g summed over broadcast dims down to shape (ndim, shape) */
ann_Tensor *ann_sum_to(const ann_Tensor *g, int ndim, const int64_t *shape);

/* Recording versions of the differentiable ops: same arguments and
** results as the raw ops above, plus a graph node when needed.  The Lua
** bindings call these; C code that wants no autograd calls the raw ones. */
ann_Tensor *ann_ag_binary(ann_BinOp op, ann_Tensor *a, ann_Tensor *b);
ann_Tensor *ann_ag_binary_scalar(ann_BinOp op, ann_Tensor *a, float s,
                                 int scalar_first);
ann_Tensor *ann_ag_unary(ann_UnOp op, ann_Tensor *a);
ann_Tensor *ann_ag_clamp(ann_Tensor *a, float lo, float hi);
ann_Tensor *ann_ag_softmax(ann_Tensor *a, int d);
ann_Tensor *ann_ag_log_softmax(ann_Tensor *a, int d);
ann_Tensor *ann_ag_sum(ann_Tensor *t, int d, int keepdim);
ann_Tensor *ann_ag_mean(ann_Tensor *t, int d, int keepdim);
ann_Tensor *ann_ag_var(ann_Tensor *t, int d, int keepdim);
ann_Tensor *ann_ag_std(ann_Tensor *t, int d, int keepdim);
ann_Tensor *ann_ag_norm(ann_Tensor *t, double p);
ann_Tensor *ann_ag_max(ann_Tensor *t, int d, int keepdim, ann_Tensor **ind);
ann_Tensor *ann_ag_min(ann_Tensor *t, int d, int keepdim, ann_Tensor **ind);
ann_Tensor *ann_ag_mm(ann_Tensor *a, ann_Tensor *b);
ann_Tensor *ann_ag_matmul(ann_Tensor *a, ann_Tensor *b);
ann_Tensor *ann_ag_mv(ann_Tensor *a, ann_Tensor *v);
ann_Tensor *ann_ag_dot(ann_Tensor *a, ann_Tensor *b);
ann_Tensor *ann_ag_outer(ann_Tensor *u, ann_Tensor *v);
ann_Tensor *ann_ag_view(ann_Tensor *t, int ndim, const int64_t *shape);
ann_Tensor *ann_ag_reshape(ann_Tensor *t, int ndim, const int64_t *shape);
ann_Tensor *ann_ag_transpose(ann_Tensor *t, int d1, int d2);
ann_Tensor *ann_ag_permute(ann_Tensor *t, const int *perm);
ann_Tensor *ann_ag_narrow(ann_Tensor *t, int d, int64_t start, int64_t len);
ann_Tensor *ann_ag_select(ann_Tensor *t, int d, int64_t i);
ann_Tensor *ann_ag_squeeze(ann_Tensor *t, int d);
ann_Tensor *ann_ag_unsqueeze(ann_Tensor *t, int d);
ann_Tensor *ann_ag_expand(ann_Tensor *t, int ndim, const int64_t *shape);
ann_Tensor *ann_ag_clone(ann_Tensor *t);
ann_Tensor *ann_ag_contiguous(ann_Tensor *t);
ann_Tensor *ann_ag_cat(int n, ann_Tensor *const *ts, int d);
ann_Tensor *ann_ag_stack(int n, ann_Tensor *const *ts, int d);
ann_Tensor *ann_ag_index_select(ann_Tensor *t, int d, ann_Tensor *idx);
ann_Tensor *ann_ag_gather(ann_Tensor *t, int d, ann_Tensor *idx);

/* ---- layers and losses (ann_layer.c, ann_loss.c); all record ---------- */
/* y = x w^T + b: x [N,in] or [in], w [out,in], b [out] or NULL; one gemm
** forward, fused backward */
ann_Tensor *ann_linear(ann_Tensor *x, ann_Tensor *w, ann_Tensor *b);

typedef enum ann_Reduction {
  ANN_REDUCE_MEAN, ANN_REDUCE_SUM, ANN_REDUCE_NONE
} ann_Reduction;
ann_Tensor *ann_mse_loss(ann_Tensor *input, ann_Tensor *target, ann_Reduction r);
ann_Tensor *ann_bce_loss(ann_Tensor *p, ann_Tensor *target, ann_Reduction r);
ann_Tensor *ann_bce_logits_loss(ann_Tensor *logits, ann_Tensor *target,
                                ann_Reduction r);
/* logits [N,C] (or [C]); target [N] of 1-based class indices, or [N,C]
** one-hot / probability rows; softmax and log fused, stable */
ann_Tensor *ann_cross_entropy(ann_Tensor *logits, ann_Tensor *target,
                              ann_Reduction r);
ann_Tensor *ann_nll_loss(ann_Tensor *logp, ann_Tensor *target, ann_Reduction r);
ann_Tensor *ann_one_hot(const ann_Tensor *labels, int64_t n); /* 1-based */
/* Rosenblatt's rule on x [N,n], y [N] (0/1), updating w [n] and b [1] in
** place (ann_perceptron.c); the 1-based epoch with no mistakes, 0 if none
** within max_epochs, -1 on error */
int ann_perceptron_fit(ann_Tensor *w, ann_Tensor *b, const ann_Tensor *x,
                       const ann_Tensor *y, int max_epochs, float lr);

/* ---- files (ann_idx.c, ...): NULL and an error naming the file and the
** place on failure ------------------------------------------------------- */
ann_Tensor *ann_idx_read(const char *path);  /* IDX, raw or gzip; values as floats */
/* Limits of the readers (IDX, CSV, NPY), against decompression bombs and
** headers that announce more than the file holds: max_bytes bounds the
** file's bytes after gzip is undone (checked as it inflates), max_elements
** the elements of the tensors made (checked before they are allocated;
** CSV: the cells of a line and the rows as they grow).  0 takes the
** default; a limit hit is an error naming it: "f.idx: inflates to more
** than 268435456 bytes (the max_bytes limit)". */
#define ANN_READ_MAX_BYTES ((size_t)256 << 20)
#define ANN_READ_MAX_ELEMENTS ((int64_t)1 << 26)
typedef struct ann_ReadOpts { size_t max_bytes; int64_t max_elements; } ann_ReadOpts;
ann_Tensor *ann_idx_read_opts(const char *path, const ann_ReadOpts *o);  /* NULL: defaults */

/* CSV, raw or gzip (ann_csv.c).  Errors name the place: "f.csv:17:3:
** "abc" is not a number" (line and field, 1-based). */
typedef struct ann_CsvOpts {
  int header;              /* 1: first line is a header; 0: none; -1: detect */
  int has_label;           /* 0: no label column, x alone */
  int label;               /* 0-based column; negative from the end (-1: last) */
  const char *label_name;  /* if set, the label is the column of this name */
  int classes;             /* label values -> classes 1..n; else float target */
  char delimiter;          /* 0 means ',' */
  ann_ReadOpts limits;     /* 0s: the defaults */
} ann_CsvOpts;
typedef struct ann_Csv {
  ann_Tensor *x;           /* [N,F] */
  ann_Tensor *y;           /* [N] (classes 1..n or targets); NULL, no label */
  int header;              /* 1 if the file had a header line */
  int nclasses;            /* with classes: the distinct label values, sorted */
  int numeric;             /* ... all numbers (sorted numerically: values) */
  double *values;          /* [nclasses] when numeric, else NULL */
  char **names;            /* [nclasses] their text (strings sorted bytewise) */
} ann_Csv;
void ann_csv_defaults(ann_CsvOpts *o);       /* detect, last column, ',' */
int ann_csv_read(const char *path, const ann_CsvOpts *o, ann_Csv *out);
void ann_csv_free(ann_Csv *c);               /* releases and zeroes *c */

/* NumPy .npy (ann_npy.c): versions 1-3, C order, f4/f8/i1-i8/u1-u8/b1
** either endian, read as float32; written as '<f4' version 1.0 through a
** temporary file renamed over path */
ann_Tensor *ann_npy_load(const char *path);
ann_Tensor *ann_npy_load_opts(const char *path, const ann_ReadOpts *o);
int ann_npy_save(const ann_Tensor *t, const char *path);

/* Model files (ann_file.c): the container of docs/file-format.md.  Magic,
** u32 version, u64 body length, the body, then the length again and a
** CRC-32 of all that precedes it; little-endian.  The body's records are
** written by the serializer (lua/annlua/serialize.lua) and decoded by
** ann_rec.c (below); tensors are written and read here. */
#define ANN_FILE_VERSION 1
uint32_t ann_crc32(uint32_t crc, const void *p, size_t n);  /* zlib's; 0 starts */
typedef struct ann_Writer ann_Writer;
/* creates .<name>.ann-tmp-<pid> beside path (removing those of dead
** processes, docs/file-format.md) and writes the header; under
** ANN_FILES_IO the file is made in memory (the context's) and goes out
** through the host's io at commit */
ann_Writer *ann_writer_open(const char *path);
/* appends to the body; I/O errors are kept and reported by commit */
int ann_writer_bytes(ann_Writer *w, const void *p, size_t n);
/* u8 ndim, ndim u64 dims, the elements as float32 (any strides) */
int ann_writer_tensor(ann_Writer *w, const ann_Tensor *t);
/* trailer, fflush, fsync, rename over path, fsync of the directory;
** frees w (on failure too, removing the temp file) */
int ann_writer_commit(ann_Writer *w);
void ann_writer_abort(ann_Writer *w);        /* removes the temp file; NULL ok */

typedef struct ann_Reader {
  unsigned char *buf;       /* the whole file */
  size_t size;
  size_t pos, end;          /* cursor in the body, which ends at end */
  uint32_t version;
  char *path;               /* for messages */
  int borrowed;             /* buf is the caller's (ann_reader_open_mem) */
} ann_Reader;
/* reads the whole file (at most max_bytes) and checks magic, version,
** size and CRC; errors say which ("f.ann: truncated: 10 bytes, expected 52") */
int ann_reader_open(ann_Reader *r, const char *path, size_t max_bytes);
/* the same checks on len bytes at buf, which the caller keeps alive and
** unchanged until ann_reader_close; name (NULL: "(buffer)") is for messages */
int ann_reader_open_mem(ann_Reader *r, const void *buf, size_t len,
                        const char *name);
void ann_reader_close(ann_Reader *r);
size_t ann_reader_left(const ann_Reader *r);
/* the next n bytes of the body, or NULL and an error naming `what` */
const void *ann_reader_take(ann_Reader *r, size_t n, const char *what);
/* a tensor as ann_writer_tensor wrote it, its shape checked against
** the bytes left before anything is allocated */
ann_Tensor *ann_reader_tensor(ann_Reader *r);

/* The body's records (ann_rec.c), decoded from a checked reader into a
** tree: the one decoder of model files (ann.load and ann_model_load use
** it).  Lengths and counts are checked against the bytes left before
** anything is allocated, nesting is limited to 200 levels, and the tree's
** memory is bounded by a fixed multiple of the body's size.  Keys must be
** booleans, numbers (not NaN) or strings, none twice; a ref must name a
** table, tensor or module whose record is complete, and it resolves to
** that record, so the tree is a DAG.  Errors: "f.ann: bad body at byte
** N: ...".  The tree is read-only and lives until ann_rec_free. */
typedef enum ann_RecType {        /* the file's tags */
  ANN_REC_NIL, ANN_REC_FALSE, ANN_REC_TRUE, ANN_REC_INT, ANN_REC_FLOAT,
  ANN_REC_STRING, ANN_REC_TABLE, ANN_REC_TENSOR, ANN_REC_MODULE,
  ANN_REC_REF                     /* in files only: resolved when decoded */
} ann_RecType;
typedef struct ann_Rec ann_Rec;
typedef struct ann_RecField {     /* a module's named tensor or child */
  const char *name;               /* NUL-terminated copy */
  size_t len;
  ann_Rec *rec;
} ann_RecField;
struct ann_Rec {
  int type;                       /* ann_RecType, never ANN_REC_REF */
  int flag;                       /* tensor: requires grad; module: training;
                                     ANN_REC_TRUE: 1 */
  uint32_t id;                    /* table, tensor, module: 1, 2, ... */
  int done;                       /* complete (always, once decoded) */
  union {
    int64_t i;                    /* ANN_REC_INT */
    double f;                     /* ANN_REC_FLOAT */
    struct { const char *s; size_t len; } str;  /* NUL-terminated copy */
    struct { ann_Rec **kv; uint32_t n; } tab;   /* kv[2k] key, kv[2k+1] value */
    ann_Tensor *t;                /* owned by the tree: retain to keep */
    struct {
      const char *name; size_t len;             /* the class name */
      ann_Rec *args;                            /* a table */
      ann_RecField *tensors, *children;         /* tensors, then modules */
      uint32_t nt, nc;
    } mod;
  } u;
};
typedef struct ann_RecDoc ann_RecDoc;
typedef struct ann_RecOpts {
  /* called as each module's class name is read, before its record:
  ** 0 goes on, nonzero stops the decoding with the error it set */
  int (*module)(void *ud, const char *name, size_t len, const char *file);
  void *ud;
} ann_RecOpts;
/* the body of an open reader (o may be NULL); NULL and an error on failure */
ann_RecDoc *ann_rec_decode(ann_Reader *r, const ann_RecOpts *o);
const ann_Rec *ann_rec_root(const ann_RecDoc *d);
void ann_rec_free(ann_RecDoc *d);             /* NULL ok */
/* table lookups: the value under a string key or a number key, or NULL */
const ann_Rec *ann_rec_field(const ann_Rec *t, const char *key);
const ann_Rec *ann_rec_index(const ann_Rec *t, int64_t i);

/* ---- models from C (ann_model.c) -------------------------------------
** A file written by ann.save holding a Sequential of Linear layers, each
** followed by at most one of Tanh, ReLU, Sigmoid, LeakyReLU (slope >= 0)
** or Identity, or a bare Linear (what the Lua side's fused path runs),
** loaded into an inference object.  A file with any other module is
** refused with an error naming its class ("m.ann: module type 'Net' is
** not a built-in layer the C loader reads (...); load it from Lua"); so
** is a file whose root is not a module, and one whose constructor
** arguments disagree with its tensors.  No init call is needed first:
** loading initialises the runtime (ann_init) if nothing did before, so a
** host that wants other init options sets them before the first load.
**
** ann_model_run(m, in, n, out): n samples, in [n, ninputs] and out
** [n, noutputs] row-major, not overlapping.  Its results are the Lua
** forward's (net(x) under ann.no_grad on the same n rows) to the bit: one
** kernel runs both.  Errors return -1 with ann_error() set; nothing aborts
** or prints.
**
** Threads: a loaded model is read-only, and any number of threads may run
** one model at once.  Scratch is per thread: on the stack for small runs
** (one sample of layers up to 512 wide), else a buffer of the calling
** thread, kept for its next runs and freed when the thread exits.  So a
** run allocates nothing, except the first time a thread runs a batch
** larger than any before.  (Two exceptions outside the model: without a
** BLAS, a layer with more than 4096 weights takes a panel buffer from
** malloc per call in the built-in gemm; a threaded OpenBLAS allocates in
** the products it splits between its threads.)  Loading and freeing are
** not tied to a thread; free a model when no thread runs it. */
typedef struct ann_Model ann_Model;
ann_Model *ann_model_load(const char *path);                 /* NULL + ann_error() */
ann_Model *ann_model_load_mem(const void *buf, size_t len);  /* NULL + ann_error() */
int ann_model_run(const ann_Model *m, const float *in, int n, float *out);
int ann_model_ninputs(const ann_Model *m);
int ann_model_noutputs(const ann_Model *m);
void ann_model_free(ann_Model *m);                           /* NULL ok */

/* ---- pictures (ann_png.c): an RGB image to draw heat maps, points, lines
** and small text into, written and read as PNG by libpng.  Positions are
** pixels from the top left, 0-based (pixel (i,j) is centred on (i,j));
** colours are 0xRRGGBB.  Drawing is clipped to the image. ------------- */
typedef struct ann_Image {
  int width, height;
  unsigned char *rgb;       /* height rows of width R,G,B bytes */
} ann_Image;
ann_Image *ann_image_new(int width, int height, uint32_t bg);
void ann_image_free(ann_Image *img);                     /* NULL ok */
int ann_image_get(const ann_Image *img, int x, int y, uint32_t *rgb);
/* the Playground's diverging scale: orange at lo, light grey midway, blue
** at hi, linear in RGB between, clamped outside [lo,hi] */
uint32_t ann_colour(double v, double lo, double hi);
uint32_t ann_mix(uint32_t a, uint32_t b, double t);     /* (1-t) a + t b */
/* grid [rows,cols] (row 1 at the top) sampled bilinearly into the w x h
** rectangle at (x,y), coloured by ann_colour in `shades` steps (0: no
** steps; the Playground uses 30), mixed with white by fade (0..1) */
int ann_image_heatmap(ann_Image *img, const ann_Tensor *grid, double lo,
                      double hi, double fade, int shades, int x, int y,
                      int w, int h);
int ann_image_rect(ann_Image *img, int x, int y, int w, int h, uint32_t rgb);
/* a disc of radius r; a ring of width sw in stroke around it if sw > 0 */
int ann_image_disc(ann_Image *img, double cx, double cy, double r,
                   uint32_t fill, uint32_t stroke, double sw);
int ann_image_line(ann_Image *img, double x0, double y0, double x1,
                   double y1, uint32_t rgb, double width);
/* text in a 5x7 pixel font (digits, letters, ".-+:%()/=,") scaled by
** scale; (x,y) is the top left of the first glyph */
int ann_image_text(ann_Image *img, int x, int y, const char *s, uint32_t rgb,
                   int scale);
int ann_png_write(const ann_Image *img, const char *path);   /* 8-bit RGB */
ann_Image *ann_png_read(const char *path);   /* any PNG, as 8-bit RGB */

/* ---- optimisers (ann_optim.c): one call updates a whole parameter list;
** state tensors are the caller's (same shapes as the params), so they can
** be saved; a param whose grad is NULL is skipped, as in PyTorch -------- */
typedef struct ann_OptimOpts {
  float lr, momentum, dampening, weight_decay;  /* SGD, RMSprop */
  int nesterov;                                  /* SGD */
  float beta1, beta2, eps;                       /* Adam(W) */
  int decoupled;                                 /* AdamW: decoupled decay */
  float alpha;                                   /* RMSprop smoothing */
  int64_t step;                                  /* Adam: 1 on first step */
} ann_OptimOpts;
/* momentum (the list) may be NULL when o->momentum == 0 */
int ann_sgd_step(int n, ann_Tensor *const *params, ann_Tensor *const *momentum,
                 const ann_OptimOpts *o);
int ann_adam_step(int n, ann_Tensor *const *params, ann_Tensor *const *m,
                  ann_Tensor *const *v, const ann_OptimOpts *o);
int ann_rmsprop_step(int n, ann_Tensor *const *params, ann_Tensor *const *sq,
                     ann_Tensor *const *buf, const ann_OptimOpts *o);
int ann_zero_grad(int n, ann_Tensor *const *params);   /* fills grads with 0 */
/* L1 regularisation: grad += rate * sign(param), before a step */
int ann_l1_grad(int n, ann_Tensor *const *params, float rate);
/* scales all grads so that their joint 2-norm is at most max_norm;
** *total gets the norm before clipping */
int ann_clip_grad_norm(int n, ann_Tensor *const *params, double max_norm,
                       double *total);

/* ---- fused multilayer perceptron (ann_mlp.c) ----------------------------
** A stack of linear layers, each followed by one activation, run without
** autograd from preallocated buffers: inference in one call, and a whole
** training epoch (forward, loss, backward, optimiser step per batch) in
** one call.  The layers' tensors are the caller's (retained), updated in
** place, so the fused path and the general one share one model. */
typedef enum ann_Act {
  ANN_ACT_IDENTITY, ANN_ACT_TANH, ANN_ACT_RELU, ANN_ACT_SIGMOID,
  ANN_ACT_LEAKY
} ann_Act;
typedef enum ann_MlpLoss { ANN_MLP_MSE, ANN_MLP_CE, ANN_MLP_BCEL } ann_MlpLoss;
typedef enum ann_MlpOpt { ANN_MLP_SGD, ANN_MLP_ADAM, ANN_MLP_RMSPROP } ann_MlpOpt;
typedef struct ann_Mlp ann_Mlp;
/* n layers: w[i] [out,in] (contiguous), b[i] [out] or NULL, act[i],
** slope[i] for LeakyReLU (>= 0; slope may be NULL) */
ann_Mlp *ann_mlp_new(int n, ann_Tensor *const *w, ann_Tensor *const *b,
                     const int *act, const float *slope);
void ann_mlp_free(ann_Mlp *m);
/* 1 if an op on x and the params would record a graph now (grad mode on
** and x or a param requires grad): the fused path does not apply then */
int ann_mlp_wants_graph(const ann_Mlp *m, const ann_Tensor *x);
int64_t ann_mlp_outputs(const ann_Mlp *m);     /* width of the last layer */
/* 1 if x is [N,in] or [in] for this network */
int ann_mlp_fits(const ann_Mlp *m, const ann_Tensor *x);
/* y = the network on x [N,in] or [in]; y [N,out] or [out], dense */
int ann_mlp_forward(ann_Mlp *m, const ann_Tensor *x, ann_Tensor *y);
/* the mean loss of one batch and its gradients, written (not added) into
** the params' grads (made if missing); for checking against autograd */
int ann_mlp_grad(ann_Mlp *m, const ann_Tensor *x, const ann_Tensor *y,
                 ann_MlpLoss loss, double *lossval);
typedef struct ann_MlpTrain {
  ann_MlpLoss loss;           /* reduction: mean */
  ann_MlpOpt opt;
  ann_OptimOpts o;            /* o.step: the next step's number, advanced */
  float l1;                   /* L1 rate, 0 for none */
  ann_Tensor **s1, **s2;      /* optimiser state, 2 per layer (w, b) or NULL */
  int64_t correct;            /* out: right predictions (CE: argmax; BCEL:
                                 sign of the logit), counted before each step */
  int64_t bad_step;           /* out: 1-based step whose loss was not finite */
} ann_MlpTrain;
/* one epoch over x [S,in], y ([S] class indices for CE, else [S,out]) in
** batches of `batch` rows, in the order of `order` (1-based indices as
** floats, [S]) or in storage order when NULL; the last batch may be
** short.  *mean_loss gets the mean of the batch losses weighted by rows.
** A batch whose loss is not finite stops the epoch before its update:
** t->bad_step tells which, *mean_loss is that loss, and the call returns
** 0 (the caller decides what to say). */
int ann_mlp_epoch(ann_Mlp *m, const ann_Tensor *x, const ann_Tensor *y,
                  const ann_Tensor *order, int64_t batch, ann_MlpTrain *t,
                  double *mean_loss);

#ifdef __cplusplus
}
#endif
#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
