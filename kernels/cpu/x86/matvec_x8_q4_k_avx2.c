/* Matrix-vector product (decode) for Q4_K weights in groups of eight rows (q4_k_x8.h) against
 * one row of Q8_K activations, on AVX2: the gk_matvec_x8_fn contract of microkernels.h.
 *
 * Lanes are rows, as in the Q4_0 kernel (matvec_x8_avx2.c). Per 64 inputs of one group (two
 * sub-blocks), eight 32-byte loads; each gives, by one AND and one shift+AND, eight rows' four
 * weights a lane of either sub-block, which vpmaddubsw multiplies with those four activation
 * bytes broadcast. A sub-block's eight products are summed as int16 (|sum| <= 8·2·15·128 <
 * 32768: exact), and one vpmaddwd against its eight scales (each row's twice) widens them,
 * scaled, to int32. Per super-block, the scales and mins of all eight rows come from three
 * loads (q4_k_x8.h), the mins meet the activations' sub-block sums in four vpmaddwd, and one
 * conversion and two FMAs against d and dmin (8 rows) · d_x finish it. Against the row-layout
 * kernel (kquants_avx2.c): no sum across lanes, no scale shuffle per row. Two groups at a time,
 * from the two halves of the rows (each activation broadcast loaded once for both). */
#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/q4_k_x8_common.h"

#define X8_INLINE static inline __attribute__((always_inline))

/* A super-block's scales as int16 a row twice over (s[j], sub-block j, for vpmaddwd against the
 * pair sums) and its mins as int16 pairs (m[i]: row r's mins of sub-blocks 2i, 2i+1 in lanes
 * 2r, 2r+1). */
X8_INLINE void x8k_scales(const uint8_t *g, __m256i s[8], __m256i m[4]) {
    __m256i v[4];
    x8k_bytes(g, v);
    for (int h = 0; h < 2; h++) {   /* 128-bit lane L of v[h] holds sub-blocks 4h+2L (low 8 bytes), 4h+2L+1 */
        const __m256i d0 = _mm256_unpacklo_epi8(v[h], v[h]), d1 = _mm256_unpackhi_epi8(v[h], v[h]);
        s[4 * h + 0] = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(d0));
        s[4 * h + 1] = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(d1));
        s[4 * h + 2] = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(d0, 1));
        s[4 * h + 3] = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(d1, 1));
    }
    x8k_min_pairs(v, m);
}

/* acc += one super-block of one group: d·d_x·Σ_j s_j·(q·x)_j − dmin·d_x·Σ_j m_j·Σx_j. */
X8_INLINE __m256 x8k_finish(const uint8_t *g, __m256i dot, const __m256i m[4], const int32_t pair[4], __m256 dx,
                            __m256 acc) {
    const __m256i mins = x8k_mins(m, pair);
    const __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g)), dx);
    const __m256 dm = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(g + 16))), dx);
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot), acc);
    return _mm256_fnmadd_ps(dm, _mm256_cvtepi32_ps(mins), acc);
}

/* Σ_j s_j · (q·x)_j of 64 inputs (chunk i: sub-blocks 2i, 2i+1) of one group, as int32 a row. */
X8_INLINE void x8k_chunk(const uint8_t *q, const uint8_t *x, __m256i s0, __m256i s1, __m256i *dot, int two,
                         const uint8_t *q1, __m256i t0, __m256i t1, __m256i *dot1) {
    const __m256i m = _mm256_set1_epi8(0x0f);
    __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256(), c = a, d = b;
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++) {
        int32_t xl, xh;
        memcpy(&xl, x + 4 * v, 4);
        memcpy(&xh, x + 32 + 4 * v, 4);
        const __m256i bl = _mm256_set1_epi32(xl), bh = _mm256_set1_epi32(xh);
        const __m256i w = _mm256_loadu_si256((const __m256i *)(q + 32 * v));
        a = _mm256_add_epi16(a, _mm256_maddubs_epi16(_mm256_and_si256(w, m), bl));
        b = _mm256_add_epi16(b, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(w, 4), m), bh));
        if (two) {
            const __m256i w1 = _mm256_loadu_si256((const __m256i *)(q1 + 32 * v));
            c = _mm256_add_epi16(c, _mm256_maddubs_epi16(_mm256_and_si256(w1, m), bl));
            d = _mm256_add_epi16(d, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(w1, 4), m), bh));
        }
    }
    *dot = _mm256_add_epi32(*dot, _mm256_add_epi32(_mm256_madd_epi16(a, s0), _mm256_madd_epi16(b, s1)));
    if (two) *dot1 = _mm256_add_epi32(*dot1, _mm256_add_epi32(_mm256_madd_epi16(c, t0), _mm256_madd_epi16(d, t1)));
}

/* Groups g0 and, when two, g1 over nb super-blocks: y0[0..8) and y1[0..8) (+)= their rows · x. */
X8_INLINE void x8k_groups(int two, int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x,
                          const x8k_act *a, float *y0, float *y1, bool accumulate) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++, g0 += GK_X8K_BLOCK, g1 += GK_X8K_BLOCK, x += X8K_Q8K_BYTES) {
        __m256i s0[8], m0[4], s1[8], m1[4];
        x8k_scales(g0, s0, m0);
        if (two) x8k_scales(g1, s1, m1);
        __m256i dot0 = _mm256_setzero_si256(), dot1 = _mm256_setzero_si256();
        for (int i = 0; i < 4; i++)
            x8k_chunk(g0 + 128 + 256 * i, x + 4 + 64 * i, s0[2 * i], s0[2 * i + 1], &dot0, two, g1 + 128 + 256 * i,
                      two ? s1[2 * i] : s0[0], two ? s1[2 * i + 1] : s0[0], &dot1);
        const __m256 dx = _mm256_set1_ps(a->dx[b]);
        acc0 = x8k_finish(g0, dot0, m0, a->pair[b], dx, acc0);
        if (two) acc1 = x8k_finish(g1, dot1, m1, a->pair[b], dx, acc1);
    }
    if (accumulate) acc0 = _mm256_add_ps(acc0, _mm256_loadu_ps(y0));
    _mm256_storeu_ps(y0, acc0);
    if (!two) return;
    if (accumulate) acc1 = _mm256_add_ps(acc1, _mm256_loadu_ps(y1));
    _mm256_storeu_ps(y1, acc1);
}

static void x8k_pair(int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x, const void *a, float *y0,
                     float *y1, bool accumulate) {
    x8k_groups(1, nb, g0, g1, x, a, y0, y1, accumulate);
}

static void x8k_one(int64_t nb, const uint8_t *g, const uint8_t *x, const void *a, float *y, bool accumulate) {
    x8k_groups(0, nb, g, g, x, a, y, y, accumulate);
}

void gk_avx2_matvec_x8_q4_k(int64_t k, const void *w, int64_t ng, const void *xq, float *y) {
    static const gk_x8_kernel x8k = {256, GK_X8K_BLOCK, X8K_Q8K_BYTES, X8K_PASS, x8k_prepare, x8k_pair, x8k_one};
    x8k_act a;
    gk_x8_drive(&x8k, k, w, ng, xq, &a, y);
}
