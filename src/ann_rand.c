/*
** ann_rand.c: the global random generator.
**
** The stream is fixed by the definitions below, so a seed gives the same
** numbers on every machine and compiler (only 64-bit unsigned integer
** arithmetic, which wraps modulo 2^64 in C, and IEEE double conversions).
**
** Seeding: splitmix64 (Steele, Lea, Flood; as given by Vigna), x = seed:
**   x += 0x9e3779b97f4a7c15; z = x;
**   z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
**   z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
**   output z ^ (z >> 31)
** Its first four outputs are the xoshiro state s[0..3], in that order.
** The output mix is a bijection of the counter, so four consecutive
** outputs are distinct and the state is never all zero.
**
** Generator: xoshiro256** (Blackman, Vigna 2018), rotl = 64-bit rotate left:
**   out = rotl(s[1] * 5, 7) * 9;
**   t = s[1] << 17;
**   s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
**   s[2] ^= t; s[3] = rotl(s[3], 45);
**
** Without ann_manual_seed the generator starts as if seeded with
** ANN_DEFAULT_SEED (42), so runs repeat.
**
** Derived values, each consuming whole 64-bit outputs:
**   uniform double: (out >> 11) * 2^-53          one output, [0,1)
**   uniform float:  (out >> 40) * 2^-24          one output, [0,1), exact
**   normal:  u1 = 1 - uniform double (in (0,1], so log(u1) is finite),
**            u2 = uniform double, from the next output;
**            z = sqrt(-2 log u1) * cos(2 pi u2)   (basic Box-Muller, cosine
**            branch only; the sine value is not cached, so every normal
**            takes exactly two outputs and the stream has no hidden state)
** uniform_(lo, hi) stores lo + (hi - lo) * u in float arithmetic with u
** the uniform float (a result rounded up to hi becomes the float below
** it); normal_(mean, std) stores mean + std * z rounded to float.
** Tensors are filled in row-major element order.  The integer and uniform
** streams are exact everywhere; normals also depend on the C library's
** log and cos, whose last-bit differences only rarely reach a float.
** Each context (ann_ctx.c) has its own stream, with no lock: draw from
** one thread at a time; the default context's is shared by the threads
** that use it.
*/
#include <math.h>

#include "ann_impl.h"

#define ANN_DEFAULT_SEED 42u


static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

static void seed_state(uint64_t s[4], uint64_t seed) {
  int i;
  for (i = 0; i < 4; i++) s[i] = splitmix64(&seed);
}

static uint64_t next(uint64_t s[4]) {
  uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

void ann_manual_seed(uint64_t seed) {
  ann_Ctx *c = ann_ctx();
  seed_state(c->rng, seed);
  c->seeded = 1;
}

/* the generator's state as 4 words, and back (a state of all zeros is
** refused: xoshiro would then give only zeros) */
void ann_rand_get_state(uint64_t s[4]) {
  ann_Ctx *c = ann_ctx();
  int i;
  if (!c->seeded) ann_manual_seed(ANN_DEFAULT_SEED);
  for (i = 0; i < 4; i++) s[i] = c->rng[i];
}

int ann_rand_set_state(const uint64_t s[4]) {
  int i;
  if ((s[0] | s[1] | s[2] | s[3]) == 0)
    return ann_seterror("set_rng_state: an all-zero state is not valid");
  ann_Ctx *c = ann_ctx();
  for (i = 0; i < 4; i++) c->rng[i] = s[i];
  c->seeded = 1;
  return 0;
}

uint64_t ann_rand_u64(void) {
  ann_Ctx *c = ann_ctx();
  if (!c->seeded) ann_manual_seed(ANN_DEFAULT_SEED);
  return next(c->rng);
}

/* uniform integer in [0, n), unbiased: outputs in the short last block
** of 2^64 mod n are drawn again */
static uint64_t below(uint64_t s[4], uint64_t n) {
  uint64_t limit = -n % n, r;
  do r = s ? next(s) : ann_rand_u64(); while (r < limit);
  return r % n;
}

/*
** A random permutation of 1..n (1-based, as index tensors are) by
** Fisher-Yates from the last position down.  With seed != NULL it uses a
** generator of its own seeded with *seed, leaving the global stream alone
** (a data loader's shuffling then does not shift a model's initialisation).
*/
ann_Tensor *ann_randperm(int64_t n, const uint64_t *seed) {
  uint64_t local[4];
  ann_Tensor *t;
  float *p;
  int64_t i;
  if (n < 0 || n > (1 << 24))
    return ann_seterror("randperm: n = %lld out of range 0..2^24 (indices "
                        "are exact floats)", (long long)n), NULL;
  if ((t = ann_new(1, &n)) == NULL) return NULL;
  if (seed) seed_state(local, *seed);
  p = t->st->data;
  for (i = 0; i < n; i++) p[i] = (float)(i + 1);
  for (i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)below(seed ? local : NULL, (uint64_t)i + 1);
    float tmp = p[i]; p[i] = p[j]; p[j] = tmp;
  }
  return t;
}

double ann_rand_uniform(void) {
  return (double)(ann_rand_u64() >> 11) * 0x1.0p-53;
}

/* top 24 bits: every value is a float, and the largest is 1 - 2^-24 */
static float rand_float(void) {
  return (float)(ann_rand_u64() >> 40) * 0x1.0p-24f;
}

double ann_rand_normal(void) {
  double u1 = 1.0 - ann_rand_uniform();     /* (0,1]: log(u1) is finite */
  double u2 = ann_rand_uniform();
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

/* ---- tensors ----------------------------------------------------------- */

/* lo + (hi - lo) * U[0,1), kept below hi when rounding reaches it */
static float uniform_in(float lo, float hi) {
  float v = lo + (hi - lo) * rand_float();
  return v >= hi && hi > lo ? nextafterf(hi, lo) : v;
}

/* fills t in row-major order with U[a, b), or N(a, b^2) if normal */
static void fill(ann_Tensor *t, int normal, float a, float b) {
  const int64_t *strides[1];
  ann_Loop l;
  float *base = ann_data(t);
  strides[0] = t->stride;
  ann_loop_init(&l, 1, t->ndim, t->shape, strides);
  if (l.empty) return;
  do {
    float *x = base + l.off[0];
    int64_t i;
    for (i = 0; i < l.len; i++)
      x[i * l.step[0]] = normal ? (float)(a + (double)b * ann_rand_normal())
                                : uniform_in(a, b);
  } while (ann_loop_next(&l));
}

int ann_uniform_(ann_Tensor *t, float lo, float hi) {
  if (t == NULL) return ann_seterror("uniform_: no tensor");
  if (!isfinite(lo) || !isfinite(hi) || !isfinite(hi - lo) || lo > hi)
    return ann_seterror("uniform_: bad range [%g, %g)", lo, hi);
  if (ann_checkwritable("uniform_", t) < 0) return -1;
  fill(t, 0, lo, hi);
  return 0;
}

int ann_normal_(ann_Tensor *t, float mean, float std) {
  if (t == NULL) return ann_seterror("normal_: no tensor");
  if (!isfinite(mean) || !isfinite(std) || std < 0)
    return ann_seterror("normal_: bad mean %g or std %g (std must be >= 0)",
                        mean, std);
  if (ann_checkwritable("normal_", t) < 0) return -1;
  fill(t, 1, mean, std);
  return 0;
}

static ann_Tensor *new_filled(const char *op, int normal, int ndim,
                              const int64_t *shape) {
  ann_Tensor *t;
  if (ndim > 0 && shape == NULL)
    return ann_seterror("%s: no shape for %d dims", op, ndim), NULL;
  t = ann_new(ndim, shape);
  if (t) fill(t, normal, 0.0f, 1.0f);
  return t;
}

ann_Tensor *ann_rand(int ndim, const int64_t *shape) {
  return new_filled("rand", 0, ndim, shape);
}

ann_Tensor *ann_randn(int ndim, const int64_t *shape) {
  return new_filled("randn", 1, ndim, shape);
}
