/* The register transpose shared by the AVX-512 packed integer GEMMs (igemm_avx512.c,
 * igemm_kquants_avx512.c): 16 weight rows of 8 dwords (four unsigned weight bytes each) become
 * the panel's group-major order, each group's 16 row dwords one 64-byte vector. AVX-512 only:
 * include it from *_avx512.c and *_amx.c files alone (both built with the AVX-512 flags). */
#ifndef GK_IGEMM_AVX512_H
#define GK_IGEMM_AVX512_H
#include <immintrin.h>
#include <stdint.h>

/* a[k]: rows 2k (dwords 0..7) and 2k+1 (dwords 8..15), dword g being the row's group g. Stores
 * group g (rows 0..15 as dwords 0..15) at dst + 64g, for g < 8. A 16×8 dword transpose in three
 * rounds of two-register permutes (4×4 blocks, then 8-row halves of two groups, then the two
 * halves of 16 rows). */
static inline __attribute__((always_inline)) void gk_igemm_transpose16x8(const __m512i a[8], uint8_t *dst) {
    const __m512i s1l = _mm512_set_epi32(27, 19, 11, 3, 26, 18, 10, 2, 25, 17, 9, 1, 24, 16, 8, 0);
    const __m512i s1h = _mm512_set_epi32(31, 23, 15, 7, 30, 22, 14, 6, 29, 21, 13, 5, 28, 20, 12, 4);
    const __m512i s2l = _mm512_set_epi32(23, 22, 21, 20, 7, 6, 5, 4, 19, 18, 17, 16, 3, 2, 1, 0);
    const __m512i s2h = _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 27, 26, 25, 24, 11, 10, 9, 8);
    __m512i c[8], d[8];
    /* c[2m+h]: rows 4m..4m+3 × groups 4h..4h+3 */
    for (int m = 0; m < 4; m++) {
        c[2 * m] = _mm512_permutex2var_epi32(a[2 * m], s1l, a[2 * m + 1]);
        c[2 * m + 1] = _mm512_permutex2var_epi32(a[2 * m], s1h, a[2 * m + 1]);
    }
    /* d[4p+2h+q]: rows 8p..8p+7 × groups 4h+2q, 4h+2q+1 */
    for (int p = 0; p < 2; p++)
        for (int h = 0; h < 2; h++) {
            __m512i lo = c[4 * p + h], hi = c[4 * p + 2 + h];
            d[4 * p + 2 * h] = _mm512_permutex2var_epi32(lo, s2l, hi);
            d[4 * p + 2 * h + 1] = _mm512_permutex2var_epi32(lo, s2h, hi);
        }
    /* group g = 2j+s: rows 0..7 from d[j], rows 8..15 from d[4+j] */
    for (int j = 0; j < 4; j++) {
        _mm512_storeu_si512(dst + (2 * j) * 64, _mm512_shuffle_i64x2(d[j], d[4 + j], _MM_SHUFFLE(1, 0, 1, 0)));
        _mm512_storeu_si512(dst + (2 * j + 1) * 64, _mm512_shuffle_i64x2(d[j], d[4 + j], _MM_SHUFFLE(3, 2, 3, 2)));
    }
}

/* Output columns c < cn (column c at y + c·ldy), the rows in the mask: y += f[c]. */
static inline __attribute__((always_inline)) void gk_igemm_add_columns(float *y, int64_t ldy, int cn, __mmask16 rows,
                                                                       const __m512 *f) {
#pragma GCC unroll 8
    for (int c = 0; c < cn; c++) {
        float *yc = y + (int64_t)c * ldy;
        _mm512_mask_storeu_ps(yc, rows, _mm512_add_ps(_mm512_maskz_loadu_ps(rows, yc), f[c]));
    }
}

#endif
