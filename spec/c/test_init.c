/*
** test_init.c: ann_init_opts and ann_shutdown, and what they do to the
** process: the calling thread's float mode (MXCSR), the environment, the
** libraries mapped (/proc/self/maps) and the threads (/proc/self/task).
** Its own binary, as it needs a process where nothing initialised annlua.
*/
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ann.h"
#include "ann_impl.h"
#include "test.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
/* the control bits of MXCSR (rounding, masks, FTZ, DAZ), not the sticky
** exception flags (bits 0-5) that any inexact sum sets */
#define CSR() (_mm_getcsr() & ~0x3fu)
#else
#define CSR() 0u
#endif

extern char **environ;

/* the environment as it is now: the array and a copy of its strings */
typedef struct Env { char **ptr; int n; char *text[512]; } Env;

static void env_take(Env *e) {
  int i;
  e->ptr = environ;
  for (i = 0; environ[i] && i < 512; i++) e->text[i] = strdup(environ[i]);
  e->n = i;
}

static int env_same(const Env *e) {
  int i;
  if (environ != e->ptr) return 0;
  for (i = 0; i < e->n; i++)
    if (environ[i] == NULL || strcmp(environ[i], e->text[i]) != 0) return 0;
  return environ[e->n] == NULL;
}

static void env_free(Env *e) {
  while (e->n > 0) free(e->text[--e->n]);
}

static int tasks(void) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *de;
  int n = 0;
  if (d == NULL) return -1;
  while ((de = readdir(d)) != NULL) n += de->d_name[0] != '.';
  closedir(d);
  return n;
}

/* a BLAS library mapped into this process? */
static int blas_mapped(void) {
  static unsigned char buf[1 << 20];
  size_t n = test_slurp("/proc/self/maps", buf, sizeof buf - 1);
  buf[n] = '\0';
  return strstr((char *)buf, "libopenblas") != NULL
      || strstr((char *)buf, "/libblas") != NULL
      || strstr((char *)buf, "libcblas") != NULL;
}

/* ann_mm against sums in double, at sizes for the small kernels, the
** register tiles and (1 thread or more) the BLAS */
static void check_products(void) {
  static const int64_t sz[][3] = {{1, 32, 64}, {37, 300, 45}, {200, 200, 200}};
  size_t s;
  for (s = 0; s < sizeof sz / sizeof sz[0]; s++) {
    int64_t m = sz[s][0], k = sz[s][1], n = sz[s][2], i, j, p;
    int64_t sa[2] = {m, k}, sb[2] = {k, n};
    ann_Tensor *a = ann_randn(2, sa), *b = ann_randn(2, sb), *c = NULL;
    double worst = 0;
    CHECK(a && b && (c = ann_mm(a, b)) != NULL);
    if (c == NULL) return;
    for (i = 0; i < m; i++)
      for (j = 0; j < n; j++) {
        double want = 0, got = ann_data(c)[i * n + j];
        for (p = 0; p < k; p++)
          want += (double)ann_data(a)[i * k + p] * ann_data(b)[p * n + j];
        if (fabs(got - want) > worst) worst = fabs(got - want);
      }
    CHECK(worst <= 1e-4 * (double)k);
    ann_release(a); ann_release(b); ann_release(c);
  }
}

static void *nothing(void *arg) { return arg; }

/* a thread started and joined: a sanitizer's runtime starts its own helper
** thread at the first one, which must be there before threads are counted */
static void first_thread(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, nothing, NULL) == 0) pthread_join(t, NULL);
}

static _Atomic int ran;
static void job(void *arg, int i, int n) { (void)arg; (void)n; ran += i + 1; }

/* a two-thread job of the core's pool; 1 if it ran on two threads */
static int pool_job(void) {
  ran = 0;
  if (ann_pool_size() < 2) return 0;
  CHECK(ann_pool_run(job, NULL, 2) == 0);
  CHECK(ran == 3);
  return 1;
}

/* the control: in a fresh process, the default init loads a BLAS and, for
** the load, sets a variable the user did not set (the environment array
** moves).  Exit status: 2 if a BLAS was loaded, +1 if environ changed. */
static int child_default_init(void) {
  pid_t pid = fork();
  int st;
  if (pid == 0) {
    Env e;
    ann_Config c;
    env_take(&e);
    int changed;
    ann_init();
    ann_config(&c);
    changed = !env_same(&e);
    env_free(&e);
    _exit((strcmp(c.blas, "builtin") != 0) * 2 + changed);
  }
  if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

int main(void) {
  ann_InitOpts o = {ANN_INIT_KEEP_FPMODE | ANN_INIT_KEEP_ENV
                    | ANN_INIT_NO_BLAS, 2};
  ann_Config c;
  ann_Tensor *kept;
  int64_t shape[1] = {3};
  unsigned csr;
  int t0, control, round, pooled;
  Env env;

  control = child_default_init();
  CHECK(control >= 0);
  if ((control & 2) && getenv("OPENBLAS_THREAD_TIMEOUT") == NULL)
    CHECK(control & 1);     /* so the KEEP_ENV checks below can fail */

  /* ---- no FTZ/DAZ, no environment, no BLAS, 2 threads */
  CHECK(!blas_mapped());
  ann_flush_denormal(0);
  csr = CSR();
  env_take(&env);
  first_thread();
  t0 = tasks();
  CHECK(t0 >= 1);
  CHECK(ann_init_opts(&o) == 0);
  CHECK(CSR() == csr);
  CHECK(env_same(&env));
  ann_config(&c);
  CHECK(strcmp(c.blas, "builtin") == 0);
  CHECK(c.threads == 2);
  check_products();
  CHECK(!blas_mapped());
  CHECK(CSR() == csr);
  /* the same options again, or none: fine; others: refused */
  CHECK(ann_init() == 0);
  CHECK(ann_init_opts(&o) == 0);
  o.flags = ANN_INIT_KEEP_ENV;
  CHECK_ERR(ann_init_opts(&o) == 0, "already initialised");
  o.flags = 64;
  CHECK_ERR(ann_init_opts(&o) == 0, "unknown flags");
  pooled = pool_job();
  if (pooled) CHECK(tasks() == t0 + 1);       /* the worker stays */
  kept = ann_full(1, shape, 2.5f);
  ann_shutdown();
  CHECK(tasks() == t0);
  CHECK(kept && ann_data(kept)[2] == 2.5f);   /* alive tensors stay valid */
  ann_release(kept);
  CHECK(CSR() == csr);
  CHECK(env_same(&env));

  /* ---- a BLAS if there is one (never the environment), three rounds of
  ** init and shutdown: products right in each, no thread left after */
  for (round = 0; round < 3; round++) {
    o.flags = ANN_INIT_KEEP_ENV; o.threads = 2;
    CHECK(ann_init_opts(&o) == 0);
    CHECK(env_same(&env));
    ann_config(&c);
    CHECK(c.threads == 2);
    if (round == 0) printf("blas: %s\n", c.blas);
#if defined(__x86_64__) || defined(__i386__)
    CHECK(ann_cpu_flush_denormal());          /* the default: FTZ/DAZ on */
#endif
    check_products();
    pool_job();
    ann_shutdown();
    CHECK(tasks() == t0);
    ann_flush_denormal(0);
    CHECK(CSR() == csr);
  }

  /* an ann_ call before ann_init_opts initialises with the defaults */
  check_products();
  o.flags = ANN_INIT_KEEP_FPMODE; o.threads = 0;
  CHECK_ERR(ann_init_opts(&o) == 0, "already initialised");
  ann_shutdown();
  CHECK(ann_init_opts(&o) == 0);
  ann_shutdown();
  ann_shutdown();                             /* twice: nothing to do */
  CHECK(tasks() == t0);
  env_free(&env);
  return test_report();
}
