/* What the AVX2 and AVX-512 matrix-vector kernels on Q4_K weights in groups of eight rows
 * (q4_k_x8.h; matvec_x8_q4_k_avx2.c, matvec_x8_q4_k_avx512.c) share: the activations'
 * per-super-block preparation, the super-block's scales and mins decoded to bytes, and the mins'
 * products with the activations' sub-block sums. AVX2 only, so either ISA's file may include it. */
#ifndef GK_Q4_K_X8_COMMON_H
#define GK_Q4_K_X8_COMMON_H
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/q4_k_x8.h"
#include "kernels/cpu/x8_driver.h"

#define X8K_INLINE static inline __attribute__((always_inline))

enum {
    X8K_Q8K_BYTES = 292, /* quant.h: float d, int8 qs[256], int16 bsums[16] */
    X8K_PASS = 64,       /* super-blocks of K per pass: the prepared activations stay in L1 */
};

/* What depends on the activations alone, per super-block: d_x, and sub-block sums in pairs
 * (sub-blocks 2i and 2i+1 as two int16 in one int32) for the mins' vpmaddwd. */
typedef struct x8k_act {
    float dx[X8K_PASS];
    int32_t pair[X8K_PASS][4];
} x8k_act;

static inline void x8k_prepare(const uint8_t *x, int64_t nb, void *act) {
    x8k_act *a = act;
    for (int64_t b = 0; b < nb; b++, x += X8K_Q8K_BYTES) {
        int16_t bs[16];
        memcpy(&a->dx[b], x, 4);
        memcpy(bs, x + 260, sizeof bs);
        for (int i = 0; i < 4; i++) { /* |sum of 32| <= 4096: an int16 */
            uint16_t lo = (uint16_t)(bs[4 * i] + bs[4 * i + 1]),
                     hi = (uint16_t)(bs[4 * i + 2] + bs[4 * i + 3]);
            a->pair[b][i] = (int32_t)((uint32_t)lo | (uint32_t)hi << 16);
        }
    }
}

/* A super-block's scales and mins as bytes, from the three planes of q4_k_x8.h: v[0] = sc[0..32),
 * v[1] = sc[32..64), v[2] = mn[0..32), v[3] = mn[32..64) (sub-block j's eight rows at 8j). */
X8K_INLINE void x8k_bytes(const uint8_t *g, __m256i v[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    const __m256i lo = _mm256_loadu_si256((const __m256i *)(g + 32)),
                  mn = _mm256_loadu_si256((const __m256i *)(g + 64));
    const __m256i hi = _mm256_loadu_si256((const __m256i *)(g + 96));
    v[0] = _mm256_or_si256(_mm256_and_si256(lo, m4), _mm256_slli_epi16(_mm256_and_si256(hi, m2), 4));
    v[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hi, 2), m2), 4));
    v[2] = _mm256_or_si256(_mm256_and_si256(mn, m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hi, 4), m2), 4));
    v[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(mn, 4), m4),
                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hi, 6), m2), 4));
}

/* The mins (v[2], v[3] of x8k_bytes) as int16 pairs: m[i] holds row r's mins of sub-blocks 2i,
 * 2i+1 in lanes 2r, 2r+1, for vpmaddwd against the activations' pair sums. */
X8K_INLINE void x8k_min_pairs(const __m256i v[4], __m256i m[4]) {
    const __m256i il = _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15, 0, 8, 1, 9, 2,
                                        10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
    for (int h = 0; h < 2; h++) { /* interleave each 128-bit lane's two sub-blocks row by row */
        const __m256i p = _mm256_shuffle_epi8(v[2 + h], il);
        m[2 * h] = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(p));
        m[2 * h + 1] = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(p, 1));
    }
}

/* Σ_j m_j·Σx_j of one super-block, as int32 a row. */
X8K_INLINE __m256i x8k_mins(const __m256i m[4], const int32_t pair[4]) {
    __m256i mins = _mm256_madd_epi16(m[0], _mm256_set1_epi32(pair[0]));
    for (int i = 1; i < 4; i++)
        mins = _mm256_add_epi32(mins, _mm256_madd_epi16(m[i], _mm256_set1_epi32(pair[i])));
    return mins;
}

#endif
