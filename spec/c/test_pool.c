/*
** test_pool.c: the compute threads (ann_pool.c): every thread runs, each
** barrier holds all of them back until the last arrives, the caller is
** thread 0, a second job while one runs is refused, the pool is no
** bigger than the cores, and a child of fork() gets workers of its own.
*/
#include <stdatomic.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "ann_impl.h"

#define PHASES 2000

typedef struct Job {
  int n;
  _Atomic int count;          /* bumped once per thread per phase */
  int seen[8];                /* ran: 1 per thread */
  int bad;                    /* a thread saw a phase unfinished */
  int nested;                 /* what a job started inside a job got */
} Job;

static void noop(void *arg, int i, int n) { (void)arg; (void)i; (void)n; }

static void phases(void *arg, int i, int n) {
  Job *j = arg;
  int p;
  j->seen[i] = 1;
  for (p = 0; p < PHASES; p++) {
    atomic_fetch_add(&j->count, 1);
    ann_pool_barrier(n);
    /* everyone has added this phase's count, and nobody the next one's
    ** (they wait at the second barrier) */
    if (atomic_load(&j->count) != (p + 1) * n) j->bad = 1;
    ann_pool_barrier(n);
  }
  if (i == 0) j->nested = ann_pool_run(noop, NULL, n);
}

static void run(int n) {
  Job j;
  memset(&j, 0, sizeof j);
  CHECK(ann_pool_run(phases, &j, n) == 0);
  CHECK(atomic_load(&j.count) == PHASES * n);
  CHECK(j.bad == 0);
  CHECK(j.seen[0] == 1 && j.seen[n - 1] == 1);
  if (n > 1) CHECK(j.nested == -1);       /* one job at a time */
}

/* a child of fork() starts workers of its own (those of the parent are
** not there); a hang is killed by the alarm and counts as a failure */
static void after_fork(int n) {
  int status = -1;
  pid_t pid = fork();
  if (pid == 0) {
    Job j;
    alarm(20);
    memset(&j, 0, sizeof j);
    _exit(ann_pool_run(phases, &j, n) == 0 && j.bad == 0
          && atomic_load(&j.count) == PHASES * n ? 0 : 1);
  }
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
  int saved = ann_get_num_threads(), n;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  ann_set_num_threads(64);
  n = ann_pool_size();                    /* no more than the cores */
  CHECK(n >= 1 && n <= 64 && (cores < 1 || n == cores));
  run(1);
  run(n);
  run(n);                                 /* the workers are reused */
#if defined(__SANITIZE_THREAD__)
  printf("after_fork: skipped under ThreadSanitizer, which cannot start "
         "threads in the child of a multi-threaded process\n");
  (void)after_fork;
#else
  after_fork(n);
#endif
  run(n);                                 /* the parent's still work */
  CHECK(ann_pool_run(noop, NULL, n + 1) == -1);   /* more than the pool */
  ann_set_num_threads(1);
  CHECK(ann_pool_size() == 1);
  ann_set_num_threads(saved);
  return test_report();
}
