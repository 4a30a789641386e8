/* Dense F32 micro-kernel, AVX2 + FMA: C[6×16] += A·B (the gk_sgemm_fn contract in ukernel.h).
 *
 * 6×16 is the register blocking of BLIS's Haswell kernel: twelve accumulators (6 rows × two
 * 8-float vectors) cover the FMA latency × throughput (4 cycles × 2 per cycle = 8 in flight),
 * and each k step needs two loads of B and six broadcasts of A for twelve FMAs, which the
 * load ports sustain. That leaves four of the sixteen ymm registers for B and the broadcast. */
#include "kernels/cpu/simd_avx2.h"
#include "kernels/cpu/ukernel_avx2.h"

#define ROW_FMA(i)                                                 \
    do {                                                           \
        __m256 ai = _mm256_broadcast_ss(a + (i));                  \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                \
    } while (0)

#define ROW_STORE(i)                                                                          \
    do {                                                                                      \
        float *ci = c + (i) * ldc;                                                            \
        _mm256_storeu_ps(ci, _mm256_add_ps(_mm256_loadu_ps(ci), c##i##0));                    \
        _mm256_storeu_ps(ci + 8, _mm256_add_ps(_mm256_loadu_ps(ci + 8), c##i##1));            \
    } while (0)

void gk_avx2_sgemm_6x16(int64_t kc, const float *a, const float *b, float *c, int64_t ldc) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t p = 0; p < kc; p++, a += 6, b += 16) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
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
