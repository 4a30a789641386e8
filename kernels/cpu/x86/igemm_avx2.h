/* The register transpose shared by the AVX2 packed integer GEMMs (igemm_avx2.c,
 * igemm_kquants_avx2.c): 8 weight rows of 8 dwords become half of the panel's group-major
 * records, rows 8h..8h+7 of record g at dst + 64g + 32h. AVX2 only: include it from *_avx2.c
 * files alone. */
#ifndef GK_IGEMM_AVX2_H
#define GK_IGEMM_AVX2_H
#include <immintrin.h>
#include <stdint.h>

/* r[i]: row 8h+i's dwords 0..7. Stores dword g of row 8h+i at dst + 64g + 32h + 4i. */
static inline __attribute__((always_inline)) void gk_igemm_transpose8x8(const __m256i r[8], int h, uint8_t *dst) {
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {   /* t[i]: rows i, i+1 × dwords 0,1 | 4,5; t[i+1]: 2,3 | 6,7 */
        t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int q = 0; q < 2; q++) {   /* rows 4q..4q+3: u[4q+j] holds dwords j | j+4 */
        u[4 * q + 0] = _mm256_unpacklo_epi64(t[4 * q], t[4 * q + 2]);
        u[4 * q + 1] = _mm256_unpackhi_epi64(t[4 * q], t[4 * q + 2]);
        u[4 * q + 2] = _mm256_unpacklo_epi64(t[4 * q + 1], t[4 * q + 3]);
        u[4 * q + 3] = _mm256_unpackhi_epi64(t[4 * q + 1], t[4 * q + 3]);
    }
    for (int j = 0; j < 4; j++) {
        _mm256_storeu_si256((__m256i *)(dst + 64 * j + 32 * h), _mm256_permute2x128_si256(u[j], u[4 + j], 0x20));
        _mm256_storeu_si256((__m256i *)(dst + 64 * (j + 4) + 32 * h), _mm256_permute2x128_si256(u[j], u[4 + j], 0x31));
    }
}

#endif
