/*
** ann_simd.c: kernels over contiguous runs of floats, in three versions
** (AVX-512, AVX2+FMA, plain C), one table each; the best one the CPU runs
** is chosen once.  The output may alias an input (in-place ops).
**
** exp, tanh and sigmoid are our own vector approximations (max relative
** error a few 1e-7 against libm, see spec/c/test_ops.c); the plain C
** table uses libm.
*/
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ann_impl.h"

/* ---- plain C ------------------------------------------------------------ */

#define SC_VV(name, E) \
  static void name##_sc(int64_t n, const float *a, const float *b, \
                        float *y) { \
    int64_t i; \
    for (i = 0; i < n; i++) { float x = a[i], z = b[i]; y[i] = (E); } \
  }
#define SC_VS(name, E) \
  static void name##_sc(int64_t n, const float *a, float z, float *y) { \
    int64_t i; \
    for (i = 0; i < n; i++) { float x = a[i]; y[i] = (E); } \
  }
#define SC_UN(name, E) \
  static void name##_sc(int64_t n, const float *a, float *y) { \
    int64_t i; \
    for (i = 0; i < n; i++) { float x = a[i]; y[i] = (E); } \
  }

SC_VV(add, x + z)  SC_VV(sub, x - z)  SC_VV(mul, x * z)  SC_VV(div, x / z)
SC_VS(adds, x + z) SC_VS(subs, x - z) SC_VS(muls, x * z) SC_VS(divs, x / z)
SC_VS(rsubs, z - x) SC_VS(rdivs, z / x)

static void axpy_sc(int64_t n, const float *a, float s, float *y) {
  int64_t i;
  for (i = 0; i < n; i++) y[i] += s * a[i];
}

static float sigmoidf(float x) {    /* e^x/(1+e^x) below 0: no overflow */
  float e = expf(-fabsf(x));
  return x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

SC_UN(neg, -x)  SC_UN(exp, expf(x))  SC_UN(log, logf(x))
SC_UN(sqrt, sqrtf(x))  SC_UN(abs, fabsf(x))  SC_UN(sigmoid, sigmoidf(x))
SC_UN(tanh, tanhf(x))  SC_UN(relu, x < 0 ? 0.0f : x)   /* NaN stays NaN */

static double sum_sc(int64_t n, const float *a) {
  double s0 = 0, s1 = 0;
  int64_t i;
  for (i = 0; i + 2 <= n; i += 2) { s0 += a[i]; s1 += a[i+1]; }
  if (i < n) s0 += a[i];
  return s0 + s1;
}

static double sqdev_sc(int64_t n, const float *a, double m) {
  double s = 0;
  int64_t i;
  for (i = 0; i < n; i++) { double d = a[i] - m; s += d * d; }
  return s;
}

static const ann_Kernels k_scalar = {
  "scalar",
  {add_sc, sub_sc, mul_sc, div_sc},
  {adds_sc, subs_sc, muls_sc, divs_sc},
  {adds_sc, rsubs_sc, muls_sc, rdivs_sc},
  axpy_sc,
  {[ANN_NEG] = neg_sc, [ANN_EXP] = exp_sc, [ANN_LOG] = log_sc,
   [ANN_SQRT] = sqrt_sc, [ANN_ABS] = abs_sc, [ANN_SIGMOID] = sigmoid_sc,
   [ANN_TANH] = tanh_sc, [ANN_RELU] = relu_sc},
  sum_sc, sqdev_sc
};

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1

/*
** The shared math.  exp(x) = 2^n e^r with n = round(x/ln2) and
** r = x - n ln2 in [-ln2/2, ln2/2] (ln2 split in two so n ln2 is exact);
** e^r by its Taylor series to r^7 (truncation < 1e-8).  Inputs are
** clamped to [-104, 89], past which expf is 0 or inf anyway.
** tanh(|x|) = 1 - 2/(e^2|x| + 1) loses relative accuracy near 0, so below
** 0.5 we use the odd series x - x^3/3 + 2x^5/15 - ... to x^13.
*/
#define EXP_LO   -104.0f
#define EXP_HI     89.0f
#define LOG2E     1.44269504088896341f
#define LN2_HI    0.693359375f            /* 9 bits: n*LN2_HI is exact */
#define LN2_LO   -2.12194440e-4f          /* ln2 - LN2_HI */
#define E2 (1.0f/2)
#define E3 (1.0f/6)
#define E4 (1.0f/24)
#define E5 (1.0f/120)
#define E6 (1.0f/720)
#define E7 (1.0f/5040)
#define TANH_SMALL 0.5f
#define T3  (-1.0f/3)
#define T5  (2.0f/15)
#define T7  (-17.0f/315)
#define T9  (62.0f/2835)
#define T11 (-1382.0f/155925)
#define T13 (21844.0f/6081075)

/* ---- AVX2 + FMA --------------------------------------------------------- */

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256i mask8(int64_t r) {   /* first r lanes on */
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)r),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

AVX2 static inline __m256 ld8(const float *p, __m256i m, int whole) {
  return whole ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

/* whole vectors, then one masked vector for the tail, so every element
** gets the same arithmetic wherever it sits */
#define A2_LOOP(LOAD, E) \
  int64_t i = 0; \
  for (; i + 8 <= n; i += 8) { __m256i m = _mm256_setzero_si256(); \
    LOAD(1) _mm256_storeu_ps(y + i, (E)); } \
  if (i < n) { __m256i m = mask8(n - i); \
    LOAD(0) _mm256_maskstore_ps(y + i, m, (E)); }
#define A2_LDVV(w) __m256 x = ld8(a + i, m, w), z = ld8(b + i, m, w);
#define A2_LDV(w)  __m256 x = ld8(a + i, m, w);

#define A2_VV(name, E) AVX2 static void name##_a2(int64_t n, const float *a, \
    const float *b, float *y) { A2_LOOP(A2_LDVV, E) }
#define A2_VS(name, E) AVX2 static void name##_a2(int64_t n, const float *a, \
    float s, float *y) { __m256 z = _mm256_set1_ps(s); A2_LOOP(A2_LDV, E) }
#define A2_UN(name, E) AVX2 static void name##_a2(int64_t n, const float *a, \
    float *y) { A2_LOOP(A2_LDV, E) }

A2_VV(add, _mm256_add_ps(x, z))  A2_VV(sub, _mm256_sub_ps(x, z))
A2_VV(mul, _mm256_mul_ps(x, z))  A2_VV(div, _mm256_div_ps(x, z))
A2_VS(adds, _mm256_add_ps(x, z)) A2_VS(subs, _mm256_sub_ps(x, z))
A2_VS(muls, _mm256_mul_ps(x, z)) A2_VS(divs, _mm256_div_ps(x, z))
A2_VS(rsubs, _mm256_sub_ps(z, x)) A2_VS(rdivs, _mm256_div_ps(z, x))

AVX2 static void axpy_a2(int64_t n, const float *a, float s, float *y) {
  __m256 z = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(z, _mm256_loadu_ps(a + i),
                                            _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += s * a[i];
}

#define SIGN8 _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u))

AVX2 static inline __m256 exp8(__m256 x) {
  __m256 t = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)),
                           _mm256_set1_ps(EXP_HI));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(LOG2E)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), t);
  __m256 p = _mm256_set1_ps(E7);
  __m256i k, k1;
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(E6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(E5));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(E4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(E3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(E2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  /* 2^n in two factors: n reaches -150 and 128, beyond one float
  ** exponent; the second product rounds into subnormals or inf */
  k = _mm256_cvtps_epi32(n);
  k1 = _mm256_srai_epi32(k, 1);
  k = _mm256_sub_epi32(k, k1);
  p = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_add_epi32(k1, _mm256_set1_epi32(127)), 23)));
  p = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(
        _mm256_add_epi32(k, _mm256_set1_epi32(127)), 23)));
  return _mm256_blendv_ps(p, _mm256_add_ps(x, x),   /* NaN in, NaN out */
                          _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

AVX2 static inline __m256 tanh8(__m256 x) {
  __m256 ax = _mm256_andnot_ps(SIGN8, x), x2 = _mm256_mul_ps(x, x);
  __m256 e = exp8(_mm256_add_ps(ax, ax)), one = _mm256_set1_ps(1.0f);
  __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f),
                                                _mm256_add_ps(e, one)));
  __m256 p = _mm256_set1_ps(T13);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(T11));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(T9));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(T7));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(T5));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(T3));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, x2), ax, ax);
  p = _mm256_blendv_ps(big, p, _mm256_cmp_ps(ax, _mm256_set1_ps(TANH_SMALL),
                                             _CMP_LT_OQ));
  return _mm256_or_ps(p, _mm256_and_ps(x, SIGN8));   /* odd; keeps -0 */
}

/* 1/(1+e^-x) for x >= 0, e^x/(1+e^x) below: exact-ish in both tails */
AVX2 static inline __m256 sigmoid8(__m256 x) {
  __m256 e = exp8(_mm256_or_ps(x, SIGN8));            /* e^-|x| */
  __m256 d = _mm256_add_ps(e, _mm256_set1_ps(1.0f));
  __m256 num = _mm256_blendv_ps(_mm256_set1_ps(1.0f), e,
                                _mm256_cmp_ps(x, _mm256_setzero_ps(),
                                              _CMP_LT_OQ));
  return _mm256_div_ps(num, d);
}

A2_UN(neg, _mm256_xor_ps(x, SIGN8))
A2_UN(abs, _mm256_andnot_ps(SIGN8, x))
A2_UN(sqrt, _mm256_sqrt_ps(x))
A2_UN(relu, _mm256_max_ps(_mm256_setzero_ps(), x))  /* NaN: 2nd operand */
A2_UN(exp, exp8(x))
A2_UN(tanh, tanh8(x))
A2_UN(sigmoid, sigmoid8(x))

AVX2 static double sum_a2(int64_t n, const float *a) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  double t[4], s;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(a + i);
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(x)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
  }
  _mm256_storeu_pd(t, _mm256_add_pd(s0, s1));
  s = (t[0] + t[1]) + (t[2] + t[3]);
  for (; i < n; i++) s += a[i];
  return s;
}

AVX2 static double sqdev_a2(int64_t n, const float *a, double m) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  __m256d vm = _mm256_set1_pd(m);
  double t[4], s;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(a + i);
    __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), vm);
    __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)),
                               vm);
    s0 = _mm256_fmadd_pd(d0, d0, s0);
    s1 = _mm256_fmadd_pd(d1, d1, s1);
  }
  _mm256_storeu_pd(t, _mm256_add_pd(s0, s1));
  s = (t[0] + t[1]) + (t[2] + t[3]);
  for (; i < n; i++) { double d = a[i] - m; s += d * d; }
  return s;
}

static const ann_Kernels k_avx2 = {
  "avx2",
  {add_a2, sub_a2, mul_a2, div_a2},
  {adds_a2, subs_a2, muls_a2, divs_a2},
  {adds_a2, rsubs_a2, muls_a2, rdivs_a2},
  axpy_a2,
  {[ANN_NEG] = neg_a2, [ANN_EXP] = exp_a2, [ANN_LOG] = log_sc,
   [ANN_SQRT] = sqrt_a2, [ANN_ABS] = abs_a2, [ANN_SIGMOID] = sigmoid_a2,
   [ANN_TANH] = tanh_a2, [ANN_RELU] = relu_a2},
  sum_a2, sqdev_a2
};

/* ---- AVX-512 ------------------------------------------------------------ */

#define AVX512 __attribute__((target("avx512f,avx512dq,avx2,fma")))

#define A5_LOOP(LOAD, E) \
  int64_t i = 0; \
  for (; i + 16 <= n; i += 16) { __mmask16 m = 0xffff; LOAD \
    _mm512_storeu_ps(y + i, (E)); } \
  if (i < n) { __mmask16 m = (__mmask16)((1u << (n - i)) - 1); LOAD \
    _mm512_mask_storeu_ps(y + i, m, (E)); }
#define A5_LDVV __m512 x = _mm512_maskz_loadu_ps(m, a + i), \
                       z = _mm512_maskz_loadu_ps(m, b + i);
#define A5_LDV  __m512 x = _mm512_maskz_loadu_ps(m, a + i);

#define A5_VV(name, E) AVX512 static void name##_a5(int64_t n, const float *a, \
    const float *b, float *y) { A5_LOOP(A5_LDVV, E) }
#define A5_VS(name, E) AVX512 static void name##_a5(int64_t n, const float *a, \
    float s, float *y) { __m512 z = _mm512_set1_ps(s); A5_LOOP(A5_LDV, E) }
#define A5_UN(name, E) AVX512 static void name##_a5(int64_t n, const float *a, \
    float *y) { A5_LOOP(A5_LDV, E) }

A5_VV(add, _mm512_add_ps(x, z))  A5_VV(sub, _mm512_sub_ps(x, z))
A5_VV(mul, _mm512_mul_ps(x, z))  A5_VV(div, _mm512_div_ps(x, z))
A5_VS(adds, _mm512_add_ps(x, z)) A5_VS(subs, _mm512_sub_ps(x, z))
A5_VS(muls, _mm512_mul_ps(x, z)) A5_VS(divs, _mm512_div_ps(x, z))
A5_VS(rsubs, _mm512_sub_ps(z, x)) A5_VS(rdivs, _mm512_div_ps(z, x))

AVX512 static void axpy_a5(int64_t n, const float *a, float s, float *y) {
  __m512 z = _mm512_set1_ps(s);
  A5_LOOP(A5_LDV, _mm512_fmadd_ps(z, x, _mm512_maskz_loadu_ps(m, y + i)))
}

#define SIGN16 _mm512_castsi512_ps(_mm512_set1_epi32((int)0x80000000u))

AVX512 static inline __m512 exp16(__m512 x) {
  __m512 t = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_LO)),
                           _mm512_set1_ps(EXP_HI));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(LOG2E)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), t);
  __m512 p = _mm512_set1_ps(E7);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(E6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(E5));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(E4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(E3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(E2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_scalef_ps(p, n);     /* p 2^n, rounding to subnormal or inf */
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), p,
                              _mm512_add_ps(x, x));
}

AVX512 static inline __m512 tanh16(__m512 x) {
  __m512 ax = _mm512_abs_ps(x), x2 = _mm512_mul_ps(x, x);
  __m512 e = exp16(_mm512_add_ps(ax, ax)), one = _mm512_set1_ps(1.0f);
  __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f),
                                                _mm512_add_ps(e, one)));
  __m512 p = _mm512_set1_ps(T13);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(T11));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(T9));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(T7));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(T5));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(T3));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, x2), ax, ax);
  p = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(TANH_SMALL),
                                              _CMP_LT_OQ), big, p);
  return _mm512_or_ps(p, _mm512_and_ps(x, SIGN16));   /* odd; keeps -0 */
}

AVX512 static inline __m512 sigmoid16(__m512 x) {
  __m512 e = exp16(_mm512_or_ps(x, SIGN16));
  __m512 d = _mm512_add_ps(e, _mm512_set1_ps(1.0f));
  __m512 num = _mm512_mask_blend_ps(
      _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ),
      _mm512_set1_ps(1.0f), e);
  return _mm512_div_ps(num, d);
}

A5_UN(neg, _mm512_xor_ps(x, SIGN16))
A5_UN(abs, _mm512_abs_ps(x))
A5_UN(sqrt, _mm512_sqrt_ps(x))
A5_UN(relu, _mm512_max_ps(_mm512_setzero_ps(), x))
A5_UN(exp, exp16(x))
A5_UN(tanh, tanh16(x))
A5_UN(sigmoid, sigmoid16(x))

AVX512 static double sum_a5(int64_t n, const float *a) {
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  int64_t i = 0;
  double s;
  for (; i + 16 <= n; i += 16) {
    __m512 x = _mm512_loadu_ps(a + i);
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(x)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(x, 1)));
  }
  s = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
  for (; i < n; i++) s += a[i];
  return s;
}

AVX512 static double sqdev_a5(int64_t n, const float *a, double m) {
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  __m512d vm = _mm512_set1_pd(m);
  int64_t i = 0;
  double s;
  for (; i + 16 <= n; i += 16) {
    __m512 x = _mm512_loadu_ps(a + i);
    __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(x)), vm);
    __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(x, 1)),
                               vm);
    s0 = _mm512_fmadd_pd(d0, d0, s0);
    s1 = _mm512_fmadd_pd(d1, d1, s1);
  }
  s = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
  for (; i < n; i++) { double d = a[i] - m; s += d * d; }
  return s;
}

static const ann_Kernels k_avx512 = {
  "avx512",
  {add_a5, sub_a5, mul_a5, div_a5},
  {adds_a5, subs_a5, muls_a5, divs_a5},
  {adds_a5, rsubs_a5, muls_a5, rdivs_a5},
  axpy_a5,
  {[ANN_NEG] = neg_a5, [ANN_EXP] = exp_a5, [ANN_LOG] = log_sc,
   [ANN_SQRT] = sqrt_a5, [ANN_ABS] = abs_a5, [ANN_SIGMOID] = sigmoid_a5,
   [ANN_TANH] = tanh_a5, [ANN_RELU] = relu_a5},
  sum_a5, sqdev_a5
};
#endif

/* ---- choice ------------------------------------------------------------- */

static int supported(const ann_Kernels *k) {
#ifdef HAVE_X86
  __builtin_cpu_init();   /* cpu_supports also checks the OS saves the regs */
  if (k == &k_avx512)
    return __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512dq");
  if (k == &k_avx2)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return k == &k_scalar;
}

static const ann_Kernels *const tables[] = {
#ifdef HAVE_X86
  &k_avx512, &k_avx2,
#endif
  &k_scalar
};
#define NTABLES (sizeof tables / sizeof tables[0])

static _Atomic(const ann_Kernels *) chosen;

static const ann_Kernels *byname(const char *level) {
  size_t i;
  for (i = 0; i < NTABLES; i++)
    if (strcmp(tables[i]->level, level) == 0) return tables[i];
  return NULL;
}

/* the best supported table, or a lower one named by $ANN_SIMD */
static const ann_Kernels *pick(void) {
  const char *env = getenv("ANN_SIMD");
  const ann_Kernels *k = env ? byname(env) : NULL;
  size_t i;
  if (k && supported(k)) return k;
  for (i = 0; i < NTABLES; i++)
    if (supported(tables[i])) return tables[i];
  return &k_scalar;
}

const ann_Kernels *ann_kernels(void) {
  const ann_Kernels *k = atomic_load_explicit(&chosen, memory_order_acquire);
  if (k == NULL) {          /* racing first calls all pick the same table */
    k = pick();
    atomic_store_explicit(&chosen, k, memory_order_release);
  }
  return k;
}

const char *ann_simd_level(void) { return ann_kernels()->level; }

int ann_simd_use(const char *level) {
  const ann_Kernels *k;
  if (level == NULL)
    return ann_seterror("simd: no level given");
  k = byname(level);
  if (k == NULL)
    return ann_seterror("simd: unknown level '%s' (avx512, avx2, scalar)",
                        level);
  if (!supported(k))
    return ann_seterror("simd: this CPU does not support %s", level);
  atomic_store(&chosen, k);
  return 0;
}
