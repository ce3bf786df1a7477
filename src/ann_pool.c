/*
** ann_pool.c: compute threads for the core's own parallel loops.
**
** One job at a time: ann_pool_run(fn, arg, n) runs fn(arg, i, n) on the
** caller (i = 0) and on n - 1 workers, and returns when all have returned;
** it refuses (-1, nothing run) when another job is running or the OS
** gives no thread, and the caller then does the work alone.
** A job is long (a whole training epoch) and made of short phases (a
** layer of one batch, tens of microseconds), so the workers sleep between
** jobs but meet at spinning barriers inside one: a sleep and a wake-up per
** phase would cost as much as the phase.  While a job runs, the BLAS is
** told to use one thread, so that the job's threads do not queue behind
** its pool.  ann_shutdown ends the workers (ann_pool_stop); the next job
** starts them again.
*/
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "ann_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RELAX() _mm_pause()
#else
#define RELAX() ((void)0)
#endif

#define MAXT 64

static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;  /* one job */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;    /* the fields: */
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static int started;           /* workers running */
static pthread_t tid[MAXT];   /* theirs, for ann_pool_stop */
static unsigned job_id;       /* bumped per job */
static int job_n, running, flush, quit;
static ann_PoolFn job_fn;
static void *job_arg;
static ann_Ctx *job_ctx;      /* the caller's: workers allocate from it */

/* the barrier: arrivals counted, the last one bumps the generation */
static _Atomic int arrived;
static _Atomic unsigned generation;

void ann_pool_barrier(int n) {
  unsigned g;
  long spins = 0;
  if (n <= 1) return;
  g = atomic_load(&generation);
  if (atomic_fetch_add(&arrived, 1) == n - 1) {
    atomic_store(&arrived, 0);
    atomic_fetch_add(&generation, 1);
    return;
  }
  while (atomic_load(&generation) == g)
    /* past a fraction of a millisecond the other thread is off its core (a
    ** loaded machine): give the core away rather than spin against it */
    if (++spins < 4000) RELAX(); else sched_yield();
}

static void *worker(void *arg) {
  int i = (int)(intptr_t)arg;
  unsigned seen = 0;
  pthread_mutex_lock(&mu);
  for (;;) {
    while (job_id == seen) pthread_cond_wait(&wake, &mu);
    seen = job_id;
    if (quit) break;
    if (i < job_n) {
      ann_PoolFn fn = job_fn;
      void *a = job_arg;
      int n = job_n;
      ann_Ctx *c = job_ctx;
      pthread_mutex_unlock(&mu);
      ann_flush_denormal(flush);     /* the caller's mode */
      ann_ctx_use(c);
      fn(a, i, n);
      ann_ctx_use(NULL);
      pthread_mutex_lock(&mu);
      if (--running == 0) pthread_cond_signal(&done);
    }
  }
  pthread_mutex_unlock(&mu);
  return NULL;
}

/* a child of fork() has only the thread that forked: no workers, and
** locks possibly held by threads that are gone */
static void after_fork(void) {
  pthread_mutex_init(&busy, NULL);
  pthread_mutex_init(&mu, NULL);
  pthread_cond_init(&wake, NULL);
  pthread_cond_init(&done, NULL);
  started = running = quit = 0;
  atomic_store(&arrived, 0);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static void watch_fork(void) { pthread_atfork(NULL, NULL, after_fork); }

/* workers 1 .. n-1, started once (until ann_pool_stop); fewer if the OS
** refuses */
static int start(int n) {
  pthread_once(&fork_once, watch_fork);
  if (n > MAXT) n = MAXT;
  for (; started + 1 < n; started++)
    if (pthread_create(&tid[started], NULL, worker,
                       (void *)(intptr_t)(started + 1)) != 0)
      break;
  return started + 1;
}

/* ann_shutdown: waits for a running job, then ends and joins the workers */
void ann_pool_stop(void) {
  int i, n;
  pthread_mutex_lock(&busy);
  pthread_mutex_lock(&mu);
  n = started;
  quit = 1;
  job_id++;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  for (i = 0; i < n; i++) pthread_join(tid[i], NULL);
  pthread_mutex_lock(&mu);
  started = 0;
  quit = 0;
  pthread_mutex_unlock(&mu);
  pthread_mutex_unlock(&busy);
}

/* threads beyond the cores would wait for each other at every barrier */
int ann_pool_size(void) {
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int n = ann_get_num_threads();
  if (cores >= 1 && n > cores) n = (int)cores;
  return n > MAXT ? MAXT : n;
}

int ann_pool_run(ann_PoolFn fn, void *arg, int n) {
  if (n <= 1) { fn(arg, 0, 1); return 0; }
  if (n > ann_pool_size() || pthread_mutex_trylock(&busy) != 0) return -1;
  pthread_mutex_lock(&mu);
  if (start(n) < n) {          /* the OS refused a thread */
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&busy);
    return -1;
  }
  job_fn = fn; job_arg = arg; job_n = n; job_ctx = ann_ctx_current();
  running = n - 1;
  flush = ann_cpu_flush_denormal();
  job_id++;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  ann_blas_serial(1);
  fn(arg, 0, n);
  ann_blas_serial(0);
  pthread_mutex_lock(&mu);
  while (running > 0) pthread_cond_wait(&done, &mu);
  pthread_mutex_unlock(&mu);
  pthread_mutex_unlock(&busy);
  return 0;
}
