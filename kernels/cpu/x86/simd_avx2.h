/* Inline helpers shared by the AVX2 micro-kernels (*_avx2.c and *_avx512.c only: every function
 * here needs AVX2 + FMA + F16C, so it must never be included from a file built without them). */
#ifndef GK_SIMD_AVX2_H
#define GK_SIMD_AVX2_H
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"

/* Matrix-vector kernels read every weight byte once, from DRAM. A software prefetch this far
 * ahead of the weight pointer raised the streaming rate of every format and shape (AMD Zen 5
 * VM, 2 threads, same process A/B: F16/BF16 4096x11008 23 -> 36 GB/s, other F16 shapes +15-35%,
 * Q4_0/Q8_0 +8-30%, K-quants +10-18%). The long rows gained most: the hardware prefetchers stop
 * at 4 KiB pages and, it seems, lose the weight stream to the activation stream, which restarts
 * at every row and is largest there (F32 activations of 11008 elements overflow L1). 2 KiB
 * ahead gave less, 8 KiB the same. */
#define GK_PREFETCH_AHEAD 4096

/* Prefetches `lines` (1..4) 64-byte lines GK_PREFETCH_AHEAD bytes after p (one line per 64
 * bytes consumed). The address goes through uintptr_t because it may lie past the end of the
 * matrix: a prefetch never faults there, but pointer arithmetic beyond an object is undefined. */
static inline __attribute__((always_inline)) void gk_prefetch_ahead(const void *p, int lines) {
    /* always_inline: GCC 12 at -O2 dropped out-of-line calls to this function altogether (a
     * prefetch has no side effects it must keep; the objects held no prefetch instruction). */
    const uintptr_t a = (uintptr_t)p + GK_PREFETCH_AHEAD;
    _mm_prefetch((const char *)a, _MM_HINT_T0);
    if (lines > 1) _mm_prefetch((const char *)(a + 64), _MM_HINT_T0);
    if (lines > 2) _mm_prefetch((const char *)(a + 128), _MM_HINT_T0);
    if (lines > 3) _mm_prefetch((const char *)(a + 192), _MM_HINT_T0);
}

/* The matrix-vector kernels' four rows of step i (of q = ceil(nr/4)): row i of each quarter of
 * the nr rows, so a core keeps four streams from memory; rows past nr repeat row 0 (their
 * results are not stored). */
static inline void gk_mv_quarter_rows(const void *w, size_t w_stride, int64_t nr, int64_t q, int64_t i,
                                      const uint8_t *rows[4]) {
    for (int r = 0; r < 4; r++) rows[r] = (const uint8_t *)w + (size_t)(r * q + i < nr ? r * q + i : 0) * w_stride;
}

/* Block fields sit at byte offsets that need not be aligned: read them with memcpy. */
static inline float gk_ld_f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static inline int32_t gk_ld_i32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline float gk_ld_f32(const uint8_t *p) {
    float f;
    memcpy(&f, p, 4);
    return f;
}

/* Eight / one float weights (GK_F32, GK_F16 or GK_BF16 storage) from element i of w, as F32;
 * all three conversions are exact. `type` is a constant at every call, so the branches fold. */
static inline __attribute__((always_inline)) __m256 gk_ld8_float(int type, const uint8_t *w, int64_t i) {
    if (type == GK_F32) return _mm256_loadu_ps((const float *)(const void *)(w + 4 * i));
    __m128i h = _mm_loadu_si128((const __m128i *)(w + 2 * i));
    if (type == GK_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

static inline __attribute__((always_inline)) float gk_ld1_float(int type, const uint8_t *w, int64_t i) {
    if (type == GK_F32) return gk_ld_f32(w + 4 * i);
    uint16_t h;
    memcpy(&h, w + 2 * i, 2);
    if (type == GK_F16) return _cvtsh_ss(h);
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float gk_hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int32_t gk_hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15) then high (16..31). */
static inline __m256i gk_unpack_nibbles(const uint8_t *qs) {
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

/* Sum of signed byte products a·b in eight int32 lanes, a and b in [-127, 127] (a may be -128). */
static inline __m256i gk_dot_i8(__m256i a, __m256i b) {
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* Lane-wise sums of four int32 vectors: lanes 0..3 hold the halves-0 sums of a,b,c,d and lanes
 * 4..7 the halves-1 sums; adding lane i and i+4 gives the full sum of the i-th vector. */
static inline __m256i gk_hadd4_epi32(__m256i a, __m256i b, __m256i c, __m256i d) {
    return _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
}

/* Adds lanes i and i+4 of v: four floats. */
static inline __m128 gk_fold_halves(__m256 v) {
    return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
}

#endif
