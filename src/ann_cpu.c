/*
** ann_cpu.c: what the CPU and the OS support, and the floating-point mode
** of the calling thread.  x86 only; elsewhere the answers are "no" and the
** calls do nothing.
*/
#include "ann_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <xmmintrin.h>

#define MXCSR_DAZ (1u << 6)    /* denormal inputs read as zero */
#define MXCSR_FTZ (1u << 15)   /* denormal results written as zero */

int ann_flush_denormal(int on) {
  unsigned csr = _mm_getcsr();
  csr = on ? (csr | MXCSR_FTZ | MXCSR_DAZ) : (csr & ~(MXCSR_FTZ | MXCSR_DAZ));
  _mm_setcsr(csr);
  return 1;
}

int ann_cpu_flush_denormal(void) {
  return (_mm_getcsr() & (MXCSR_FTZ | MXCSR_DAZ)) == (MXCSR_FTZ | MXCSR_DAZ);
}

/* register state the OS saves on context switch (XCR0); 0 without
** OSXSAVE, since then xgetbv would fault */
static unsigned long long os_xstate(void) {
  unsigned a, b, c, d, lo, hi;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
  __asm__ volatile ("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

static int leaf7(unsigned *b, unsigned *c) {
  unsigned a, d;
  if (__get_cpuid_max(0, NULL) < 7) return 0;
  __cpuid_count(7, 0, a, *b, *c, d);
  return 1;
}

int ann_cpu_avx2(void) {
  unsigned a, b, c, d, b7, c7;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_FMA) || !(c & bit_AVX))
    return 0;
  if ((os_xstate() & 0x6) != 0x6) return 0;        /* XMM and YMM state */
  return leaf7(&b7, &c7) && (b7 & bit_AVX2);
}

int ann_cpu_avx512(void) {
  unsigned b7, c7;
  const unsigned need = bit_AVX512F | bit_AVX512BW | bit_AVX512DQ
                      | bit_AVX512VL;
  if (!ann_cpu_avx2()) return 0;
  if ((os_xstate() & 0xe6) != 0xe6) return 0;      /* opmask, ZMM halves */
  return leaf7(&b7, &c7) && (b7 & need) == need;
}

#else

int ann_flush_denormal(int on) { (void)on; return 0; }
int ann_cpu_flush_denormal(void) { return 0; }
int ann_cpu_avx2(void) { return 0; }
int ann_cpu_avx512(void) { return 0; }

#endif

/* the OpenBLAS kernel family whose instructions this machine can run:
** what to put in OPENBLAS_CORETYPE when OpenBLAS does not know the CPU */
const char *ann_cpu_coretype(void) {
  if (ann_cpu_avx512()) return "SKYLAKEX";
  if (ann_cpu_avx2()) return "HASWELL";
  return NULL;
}
