/* Dense F32 micro-kernel, AVX-512F: C[6×32] += A·B (the gk_sgemm_fn contract in ukernel.h).
 * The AVX2 6×16 kernel with zmm registers (one template, sgemm_6x2v.h): twelve 16-float
 * accumulators, two loads of B and six broadcasts of A per k step. Cores with two 512-bit FMA
 * pipes (Zen 5, Intel server parts) double the FLOPs per instruction; on Zen 4, which splits
 * 512-bit operations in two, it runs at the AVX2 rate with half the instructions. */
#include <immintrin.h>

#include "kernels/cpu/x86/avx512.h"

#define V __m512
#define VW 16
#define V_ZERO() _mm512_setzero_ps()
#define V_BCAST(p) _mm512_set1_ps(*(p))
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps(p, v)
#define V_ADD(x, y) _mm512_add_ps(x, y)
#define V_FMA(x, y, acc) _mm512_fmadd_ps(x, y, acc)
#define V_LOAD_H(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#include "kernels/cpu/x86/sgemm_6x2v.h"

GK_SGEMM_6X2V(gk_avx512_sgemm_6x32)
GK_SGEMM_6X2V_B(gk_avx512_sgemm_h_6x32, uint16_t, V_LOAD_H)   /* F16 panels (sgemm_h) */

/* F16 -> F32 sixteen at a time (packing F16 weights into sgemm panels). */
void gk_avx512_f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
    for (; i < n; i++) y[i] = _cvtsh_ss(x[i]);
}
