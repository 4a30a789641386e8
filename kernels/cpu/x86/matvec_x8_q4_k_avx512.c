/* Matrix-vector product (decode) for Q4_K weights in groups of eight rows (q4_k_x8.h) against
 * one row of Q8_K activations, on AVX-512 VNNI: the gk_matvec_x8_fn contract of microkernels.h.
 *
 * As the AVX2 kernel (matvec_x8_q4_k_avx2.c), lanes are rows, but as in the AVX-512 Q4_0 kernel
 * (matvec_x8_avx512.c) one 64-byte load takes two quant vectors: lanes 0-7 the eight rows'
 * bytes 4v..4v+3, lanes 8-15 their bytes 4v+4..4v+7, against the activations laid out to match
 * (one vpermd each, shared by the two groups in flight). Per 64 inputs of one group (two
 * sub-blocks), four loads, four ANDs, four shift+ANDs and eight vpdpbusd (u8 × s8 summed in
 * int32, so no int16 stage) give each sub-block's Σ q·x; one vpmulld each applies its scale
 * (row r's in lanes r and r+8). Per super-block, one conversion and one FMA against d (8 rows,
 * twice) · d_x; the mins' term is AVX2's (x8k_mins, eight lanes), kept in its own accumulator.
 * Lanes r and r+8 are added once, at the end. Two groups at a time, from the two halves of the
 * rows, each prefetched 4 KiB ahead, one hint a cache line. Measured (throwaway harness, one
 * thread, AMD Zen 5 VM, alternating in one process, 30 pairs, 396 MiB from memory, 2048 and 5632
 * wide): against the AVX2 kernel 1.21-1.23× (median pair ratio); the prefetch alone 1.05-1.15×.
 * Only called after the CPU was checked for AVX512F/BW/VL/DQ and VNNI. */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernels/cpu/x86/avx512.h"
#include "kernels/cpu/x86/q4_k_x8_common.h"
#include "kernels/cpu/x86/x8_avx512.h"

#define X8_INLINE static inline __attribute__((always_inline))

enum { X8K_PF = 4096 };

/* A hint for the cache line X8K_PF bytes past p (as matvec_x8_avx512.c: one a line of the
 * weights, the address computed as an integer since it may lie past them). */
X8_INLINE void x8k_prefetch(const uint8_t *p) {
    _mm_prefetch((const char *)((uintptr_t)p + X8K_PF), _MM_HINT_T0);
}

/* The super-block's scales as int32, sub-block j's eight rows in lanes 0-7 and again in 8-15,
 * and its mins as int16 pairs (x8k_min_pairs). */
X8_INLINE void x8k_scales(const uint8_t *g, __m512i s[8], __m256i m[4]) {
    x8k_prefetch(g);
    x8k_prefetch(g + 64);
    __m256i v[4];
    x8k_bytes(g, v);
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 2; l++) { /* 128-bit lane l of v[h]: sub-blocks 4h+2l (low 8 bytes), 4h+2l+1 */
            const __m128i b = l ? _mm256_extracti128_si256(v[h], 1) : _mm256_castsi256_si128(v[h]);
            s[4 * h + 2 * l] = _mm512_cvtepu8_epi32(_mm_unpacklo_epi64(b, b));
            s[4 * h + 2 * l + 1] = _mm512_cvtepu8_epi32(_mm_unpackhi_epi64(b, b));
        }
    x8k_min_pairs(v, m);
}

/* The activations of 32 inputs (one sub-block) as vpdpbusd operands for quant vectors (2h, 2h+1). */
X8_INLINE void x8k_act4(const uint8_t *x, __m512i xa[4]) {
    const __m512i y = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x));
#pragma GCC unroll 4
    for (int h = 0; h < 4; h++) xa[h] = gk_x8_dword_pair(y, 2 * h);
}

/* dot += s_lo·(q·x) of sub-block 2i + s_hi·(q·x) of 2i+1, for the 64 inputs q of one group. */
X8_INLINE __m512i x8k_chunk(const uint8_t *q, const __m512i xl[4], const __m512i xh[4], __m512i s_lo,
                            __m512i s_hi, __m512i dot) {
    const __m512i m = _mm512_set1_epi8(0x0f);
    __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int h = 0; h < 4; h++) {
        x8k_prefetch(q + 64 * h);
        const __m512i w = _mm512_loadu_si512((const void *)(q + 64 * h));
        a = _mm512_dpbusd_epi32(a, _mm512_and_si512(w, m), xl[h]);
        b = _mm512_dpbusd_epi32(b, _mm512_and_si512(_mm512_srli_epi16(w, 4), m), xh[h]);
    }
    return _mm512_add_epi32(dot, _mm512_add_epi32(_mm512_mullo_epi32(a, s_lo), _mm512_mullo_epi32(b, s_hi)));
}

/* One super-block of one group: acc += d·d_x·Σ_j s_j·(q·x)_j, accm −= dmin·d_x·Σ_j m_j·Σx_j. */
X8_INLINE void x8k_finish(const uint8_t *g, __m512i dot, const __m256i m[4], const int32_t pair[4], float dx,
                          __m512 *acc, __m256 *accm) {
    const __m512 d = _mm512_mul_ps(gk_x8_f16_rows2(g), _mm512_set1_ps(dx));
    const __m256 dm =
        _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(g + 16))), _mm256_set1_ps(dx));
    *acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot), *acc);
    *accm = _mm256_fnmadd_ps(dm, _mm256_cvtepi32_ps(x8k_mins(m, pair)), *accm);
}

/* Groups g0 and, when two, g1 over nb super-blocks: y0[0..8) and y1[0..8) (+)= their rows · x. */
X8_INLINE void x8k_groups(int two, int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x,
                          const x8k_act *a, float *y0, float *y1, bool accumulate) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    __m256 accm0 = _mm256_setzero_ps(), accm1 = accm0;
    for (int64_t b = 0; b < nb; b++, g0 += GK_X8K_BLOCK, g1 += GK_X8K_BLOCK, x += X8K_Q8K_BYTES) {
        __m512i s0[8], s1[8];
        __m256i m0[4], m1[4];
        x8k_scales(g0, s0, m0);
        if (two) x8k_scales(g1, s1, m1);
        __m512i dot0 = _mm512_setzero_si512(), dot1 = dot0;
        for (int i = 0; i < 4; i++) {
            __m512i xl[4], xh[4];
            x8k_act4(x + 4 + 64 * i, xl);
            x8k_act4(x + 4 + 64 * i + 32, xh);
            dot0 = x8k_chunk(g0 + 128 + 256 * i, xl, xh, s0[2 * i], s0[2 * i + 1], dot0);
            if (two) dot1 = x8k_chunk(g1 + 128 + 256 * i, xl, xh, s1[2 * i], s1[2 * i + 1], dot1);
        }
        x8k_finish(g0, dot0, m0, a->pair[b], a->dx[b], &acc0, &accm0);
        if (two) x8k_finish(g1, dot1, m1, a->pair[b], a->dx[b], &acc1, &accm1);
    }
    gk_x8_store(acc0, accm0, y0, accumulate);
    if (two) gk_x8_store(acc1, accm1, y1, accumulate);
}

static void x8k_pair(int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x, const void *a,
                     float *y0, float *y1, bool accumulate) {
    x8k_groups(1, nb, g0, g1, x, a, y0, y1, accumulate);
}

static void x8k_one(int64_t nb, const uint8_t *g, const uint8_t *x, const void *a, float *y,
                    bool accumulate) {
    x8k_groups(0, nb, g, g, x, a, y, y, accumulate);
}

void gk_avx512_matvec_x8_q4_k(int64_t k, const void *w, int64_t ng, const void *xq, float *y) {
    static const gk_x8_kernel x8k = {256,         GK_X8K_BLOCK, X8K_Q8K_BYTES, X8K_PASS,
                                     x8k_prepare, x8k_pair,     x8k_one};
    x8k_act a;
    gk_x8_drive(&x8k, k, w, ng, xq, &a, y);
}
