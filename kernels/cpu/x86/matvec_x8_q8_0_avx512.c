/* Matrix-vector product (decode) for Q8_0 weights in groups of eight rows (q8_0_x8.h) against
 * one row of Q8_0 activations, on AVX-512 VNNI: the gk_matvec_x8_fn contract of microkernels.h.
 *
 * As the Q4_0 kernel (matvec_x8_avx512.c): lanes are rows, one 64-byte load takes two of a
 * block's eight quant vectors (lanes 0-7 the rows' bytes 4v..4v+3, lanes 8-15 their bytes
 * 4v+4..4v+7) against the activations laid out to match (one vpermd each, shared by the two
 * groups in flight). vpdpbusd multiplies unsigned by signed bytes, so the weights are made
 * unsigned (w+128, one XOR) and the accumulator starts at −128·Σx in lanes 0-7 (qdot_avx512.c's
 * offset). Per block of one group: four loads, four XORs, four vpdpbusd, one conversion and one
 * FMA against d_w (row r's in lanes r and r+8) · d_x; lanes r and r+8 are added once, at the
 * end. Two groups at a time from the two halves of the rows, each prefetched 4 KiB ahead, one
 * hint a cache line. Only called after the CPU was checked for AVX512F/BW/VL/DQ and VNNI. */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx512.h"
#include "kernels/cpu/x86/qdot_avx2.h"
#include "kernels/cpu/x86/x8_avx512.h"
#include "kernels/cpu/x86/x8_q8_act.h"
#include "kernels/cpu/q8_0_x8.h"
#include "kernels/cpu/x8_driver.h"

#define X8_INLINE static inline __attribute__((always_inline))

enum { X8_PF = 4096 }; /* bytes of prefetch distance (as matvec_x8_avx512.c) */

/* The activations' d_x and −128·Σx per block (the weights are made w + 128). */
static void x8_prepare(const uint8_t *x, int64_t nb, void *a) { gk_x8_q8_prepare(x, nb, 128, a); }

/* The block's activations as vpdpbusd operands for quant vectors (2h, 2h+1), h < 4. */
X8_INLINE void x8_act4(const uint8_t *x, __m512i xa[4]) {
    const __m512i y = _mm512_castsi256_si512(qd_act(x));
#pragma GCC unroll 4
    for (int h = 0; h < 4; h++) xa[h] = gk_x8_dword_pair(y, 2 * h);
}

/* acc += d_w · d_x · Σ w·x for one block of one group (lanes r, r+8: row r's halves). */
X8_INLINE __m512 x8_block(const uint8_t *g, const __m512i xa[4], __m512i off, __m512 dx, __m512 acc) {
    const __m512i sign = _mm512_set1_epi8((char)0x80);
    __m512i d = off;
#pragma GCC unroll 4
    for (int h = 0; h < 4; h++) {
        _mm_prefetch((const char *)((uintptr_t)g + 64 * h + X8_PF), _MM_HINT_T0);
        const __m512i q = _mm512_loadu_si512((const void *)(g + 16 + 64 * h));
        d = _mm512_dpbusd_epi32(d, _mm512_xor_si512(q, sign), xa[h]);
    }
    _mm_prefetch((const char *)((uintptr_t)g + 256 + X8_PF), _MM_HINT_T0);
    const __m512 s = _mm512_mul_ps(gk_x8_f16_rows2(g), dx);
    return _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(d), acc);
}

/* Groups g0 and, when two, g1 over nb blocks: y0[0..8) and y1[0..8) (+)= their rows · x. */
X8_INLINE void x8_groups(int two, int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x,
                         const gk_x8_q8_act *a, float *y0, float *y1, bool accumulate) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    for (int64_t b = 0; b < nb; b++, g0 += GK_X8Q8_BLOCK, g1 += GK_X8Q8_BLOCK, x += GK_Q8_0_BYTES) {
        __m512i xa[4];
        x8_act4(x, xa);
        const __m512i off = _mm512_zextsi256_si512(_mm256_set1_epi32(a->off[b]));
        const __m512 dx = _mm512_set1_ps(a->dx[b]);
        acc0 = x8_block(g0, xa, off, dx, acc0);
        if (two) acc1 = x8_block(g1, xa, off, dx, acc1);
    }
    gk_x8_store(acc0, _mm256_setzero_ps(), y0, accumulate);
    if (two) gk_x8_store(acc1, _mm256_setzero_ps(), y1, accumulate);
}

static void x8_pair(int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x, const void *a,
                    float *y0, float *y1, bool accumulate) {
    x8_groups(1, nb, g0, g1, x, a, y0, y1, accumulate);
}

static void x8_one(int64_t nb, const uint8_t *g, const uint8_t *x, const void *a, float *y, bool accumulate) {
    x8_groups(0, nb, g, g, x, a, y, y, accumulate);
}

void gk_avx512_matvec_x8_q8_0(int64_t k, const void *w, int64_t ng, const void *xq, float *y) {
    static const gk_x8_kernel x8k = {32,         GK_X8Q8_BLOCK, GK_Q8_0_BYTES, GK_X8_Q8_PASS,
                                     x8_prepare, x8_pair,       x8_one};
    gk_x8_q8_act a;
    gk_x8_drive(&x8k, k, w, ng, xq, &a, y);
}
