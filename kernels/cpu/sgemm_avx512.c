/* Dense F32 micro-kernel, AVX-512F: C[6×32] += A·B (the gk_sgemm_fn contract in ukernel.h).
 * The AVX2 6×16 kernel with zmm registers: twelve 16-float accumulators, two loads of B and six
 * broadcasts of A per k step. Cores with two 512-bit FMA pipes (Zen 5, Intel server parts)
 * double the FLOPs per instruction; on Zen 4, which splits 512-bit operations in two, it runs
 * at the AVX2 rate with half the instructions. */
#include <immintrin.h>

#include "kernels/cpu/ukernel_avx512.h"

#define ROW_FMA(i)                                                 \
    do {                                                           \
        __m512 ai = _mm512_set1_ps(a[i]);                          \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                \
        c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                \
    } while (0)

#define ROW_STORE(i)                                                                          \
    do {                                                                                      \
        float *ci = c + (i) * ldc;                                                            \
        _mm512_storeu_ps(ci, _mm512_add_ps(_mm512_loadu_ps(ci), c##i##0));                    \
        _mm512_storeu_ps(ci + 16, _mm512_add_ps(_mm512_loadu_ps(ci + 16), c##i##1));          \
    } while (0)

void gk_avx512_sgemm_6x32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t p = 0; p < kc; p++, a += 6, b += 32) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        ROW_FMA(0);
        ROW_FMA(1);
        ROW_FMA(2);
        ROW_FMA(3);
        ROW_FMA(4);
        ROW_FMA(5);
    }
    ROW_STORE(0);
    ROW_STORE(1);
    ROW_STORE(2);
    ROW_STORE(3);
    ROW_STORE(4);
    ROW_STORE(5);
}

/* F16 -> F32 sixteen at a time (packing F16 weights into sgemm panels). */
void gk_avx512_f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
    for (; i < n; i++) y[i] = _cvtsh_ss(x[i]);
}
