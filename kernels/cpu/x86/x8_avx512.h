/* What the AVX-512 matrix-vector kernels on grouped weights (matvec_x8_*_avx512.c) share: with
 * one 64-byte load taking two of a group's 32-byte vectors, lanes 0-7 and 8-15 are the eight
 * rows twice (two sets of four inputs); these put the activations and the rows' scales in that
 * shape and fold the two halves of an accumulator back into eight rows. Only for files built
 * with the AVX-512 flags. */
#ifndef GK_X8_AVX512_H
#define GK_X8_AVX512_H
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>

/* The four bytes of dword v of y in lanes 0-7, those of dword v+1 in lanes 8-15. */
static inline __attribute__((always_inline)) __m512i gk_x8_dword_pair(__m512i y, int v) {
    const __m512i i01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    return _mm512_permutexvar_epi32(_mm512_add_epi32(i01, _mm512_set1_epi32(v)), y);
}

/* The eight F16 values at p (one per row) as floats, in lanes 0-7 and again in 8-15. */
static inline __attribute__((always_inline)) __m512 gk_x8_f16_rows2(const uint8_t *p) {
    return _mm512_cvtph_ps(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p)));
}

/* y[0..8) (+)= lanes r + r+8 of acc, + extra (a term the kernel keeps in eight lanes). */
static inline __attribute__((always_inline)) void gk_x8_store(__m512 acc, __m256 extra, float *y,
                                                              bool accumulate) {
    __m256 v =
        _mm256_add_ps(_mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1)), extra);
    if (accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(y));
    _mm256_storeu_ps(y, v);
}

#endif
