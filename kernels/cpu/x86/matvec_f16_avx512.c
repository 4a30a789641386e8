/* Matrix-vector product (decode) for F16 weights against F32 activations on AVX-512: the
 * gk_matvec_fn contract of microkernels.h.
 *
 * Two rows at once, one from each half of the rows (two sequential streams a core, each
 * activation vector loaded once for both), 32 inputs a step in two accumulators a row (a
 * 32-byte load and vcvtph2ps to a 512-bit vector, one FMA each), each stream prefetched 4 KiB
 * ahead, one hint a cache line; a row's last k % 32 inputs as a step of 16 and one masked load.
 * Measured (throwaway harness, one thread, AMD Zen 5 VM, alternating in one process, 30 pairs,
 * 528 MiB from memory on 2 MiB pages, 2048 and 5632 wide): against the AVX2 kernel (four rows
 * from the four quarters, no prefetch: matvec_avx2.c) one row at a time with this prefetch read
 * 1.09-1.13× (median pair ratio), and two rows from the halves 1.01-1.09× more than that;
 * against the read probe's own loop over the same bytes, 1.05-1.10×. Without prefetch 0.90-1.07×
 * the AVX2 kernel, four quarters with it 0.90-0.93×. */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/cpu/x86/avx512.h"

#define MV_INLINE static inline __attribute__((always_inline))

enum { MV_PF = 4096 }; /* bytes of prefetch distance (as matvec_x8_avx512.c) */

MV_INLINE __m512 mv_ld(const uint8_t *p, int64_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 2 * i)));
}

/* The first n (< 16) halves of row p from element i as floats, the other lanes zero. */
MV_INLINE __m512 mv_tail(const uint8_t *p, int64_t i, int n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)((1u << n) - 1), p + 2 * i));
}

/* Hints for the two cache lines MV_PF bytes past element i of row p (an integer address: it may
 * lie past the weights). */
MV_INLINE void mv_prefetch(const uint8_t *p, int64_t i) {
    const uintptr_t a = (uintptr_t)(p + 2 * i) + MV_PF;
    _mm_prefetch((const char *)a, _MM_HINT_T0);
    _mm_prefetch((const char *)(a + 64), _MM_HINT_T0);
}

/* Rows p and, when two, q (k halves each) · x into *y0, *y1: 32 inputs a step, two accumulators
 * a row, each activation vector loaded once for both rows. */
MV_INLINE void mv_rows(bool two, int64_t k, const uint8_t *p, const uint8_t *q, const float *x, float *y0,
                       float *y1) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        if (!(i & 32)) { /* every other step: one hint a cache line */
            mv_prefetch(p, i);
            if (two) mv_prefetch(q, i);
        }
        const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
        a0 = _mm512_fmadd_ps(mv_ld(p, i), x0, a0);
        a1 = _mm512_fmadd_ps(mv_ld(p, i + 16), x1, a1);
        if (two) {
            b0 = _mm512_fmadd_ps(mv_ld(q, i), x0, b0);
            b1 = _mm512_fmadd_ps(mv_ld(q, i + 16), x1, b1);
        }
    }
    for (; i < k; i += 16) { /* at most a step of 16 and a masked tail */
        const int n = k - i < 16 ? (int)(k - i) : 16;
        const __m512 xv = _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), x + i);
        a0 = _mm512_fmadd_ps(mv_tail(p, i, n), xv, a0);
        if (two) b0 = _mm512_fmadd_ps(mv_tail(q, i, n), xv, b0);
    }
    *y0 = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    if (two) *y1 = _mm512_reduce_add_ps(_mm512_add_ps(b0, b1));
}

void gk_avx512_matvec_f16(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    const uint8_t *wb = w;
    const int64_t half = nr / 2;
    for (int64_t r = 0; r < half; r++)
        mv_rows(true, k, wb + (size_t)r * w_stride, wb + (size_t)(r + half) * w_stride, xq, &y[r],
                &y[r + half]);
    if (nr % 2) mv_rows(false, k, wb + (size_t)(nr - 1) * w_stride, wb, xq, &y[nr - 1], &y[nr - 1]);
}
