/* Packing of float weights into the sgemm's NR-column panels, AVX2 + F16C (the
 * gk_sgemm_pack_fn contract in ukernel.h).
 *
 * The portable packing converts a weight row to F32 and scatters it into the panel with stride
 * NR, one scalar store per element. When the product has few columns (a 128-token prefill) that
 * packing is a large share of the matmul: each packed element is used only M times. Here eight
 * rows are converted at once, eight inputs each, and an 8×8 transpose in registers turns them
 * into eight panel rows, stored as whole vectors. The conversions are exact (F16C, and BF16 by
 * a 16-bit shift), so the panels are bit-identical to the portable packing's.
 *
 * gk_avx2_sgemm_pack_h packs F16 weights for the F16-panel kernel (sgemm_h): the same eight-row
 * groups, transposed as 16-bit halves with no conversion, half the bytes stored. */
#include "kernels/cpu/x86/simd_avx2.h"
#include "kernels/cpu/x86/avx2.h"

/* r[i] (row i, 8 inputs) → r[p] (input p, 8 rows). */
static inline void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* One panel column (weight row) element by element: the rows left over after the groups of
 * eight, the inputs after the last whole eight, and the zero padding past the last row. */
static void pack_col(int type, const char *row, int64_t k0, int64_t p0, int64_t kc, int nr, float *col) {
    for (int64_t p = p0; p < kc; p++) col[p * nr] = row ? gk_ld1_float(type, (const uint8_t *)row, k0 + p) : 0.0f;
}

void gk_avx2_sgemm_pack_b(int type, const char *w, size_t wrow, int rows, int64_t k0, int64_t kc, int nr,
                          float *panel) {
    const int64_t kv = kc & ~(int64_t)7;
    int r0 = 0;
    for (; r0 + 8 <= rows; r0 += 8) {
        const char *w0 = w + (size_t)r0 * wrow;
        for (int64_t p = 0; p < kv; p += 8) {
            __m256 v[8];
#pragma GCC unroll 8   /* v[] in registers, as in gk_avx2_sgemm_pack_h */
            for (int i = 0; i < 8; i++) v[i] = gk_ld8_float(type, (const uint8_t *)w0 + (size_t)i * wrow, k0 + p);
            transpose8(v);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) _mm256_storeu_ps(panel + (p + i) * nr + r0, v[i]);
        }
        for (int i = 0; i < 8; i++) pack_col(type, w0 + (size_t)i * wrow, k0, kv, kc, nr, panel + r0 + i);
    }
    for (; r0 < nr; r0++) pack_col(type, r0 < rows ? w + (size_t)r0 * wrow : NULL, k0, 0, kc, nr, panel + r0);
}

/* One panel column of halves element by element (as pack_col): the rows after the groups of
 * eight, the inputs after the last whole sixteen, the zero padding. Rows are 2-byte aligned. */
static void pack_col_h(const char *row, int64_t k0, int64_t p0, int64_t kc, int nr, uint16_t *col) {
    const uint16_t *h = row ? (const uint16_t *)row + k0 : NULL;
    for (int64_t p = p0; p < kc; p++) col[p * nr] = h ? h[p] : 0;
}

/* Two 8×8 transposes at once, one a 128-bit lane: r[i] holds row i's inputs 0..7 | 8..15 and
 * leaves with input i | input 8+i of the eight rows (the unpacks stay within lanes). */
static inline void transpose8x2_epi16(__m256i r[8]) {
    __m256i a0 = _mm256_unpacklo_epi16(r[0], r[1]), a1 = _mm256_unpackhi_epi16(r[0], r[1]);
    __m256i a2 = _mm256_unpacklo_epi16(r[2], r[3]), a3 = _mm256_unpackhi_epi16(r[2], r[3]);
    __m256i a4 = _mm256_unpacklo_epi16(r[4], r[5]), a5 = _mm256_unpackhi_epi16(r[4], r[5]);
    __m256i a6 = _mm256_unpacklo_epi16(r[6], r[7]), a7 = _mm256_unpackhi_epi16(r[6], r[7]);
    __m256i b0 = _mm256_unpacklo_epi32(a0, a2), b1 = _mm256_unpackhi_epi32(a0, a2);
    __m256i b2 = _mm256_unpacklo_epi32(a1, a3), b3 = _mm256_unpackhi_epi32(a1, a3);
    __m256i b4 = _mm256_unpacklo_epi32(a4, a6), b5 = _mm256_unpackhi_epi32(a4, a6);
    __m256i b6 = _mm256_unpacklo_epi32(a5, a7), b7 = _mm256_unpackhi_epi32(a5, a7);
    r[0] = _mm256_unpacklo_epi64(b0, b4), r[1] = _mm256_unpackhi_epi64(b0, b4);
    r[2] = _mm256_unpacklo_epi64(b1, b5), r[3] = _mm256_unpackhi_epi64(b1, b5);
    r[4] = _mm256_unpacklo_epi64(b2, b6), r[5] = _mm256_unpackhi_epi64(b2, b6);
    r[6] = _mm256_unpacklo_epi64(b3, b7), r[7] = _mm256_unpackhi_epi64(b3, b7);
}

/* The loops over a group's eight rows are unrolled so that v[] stays in registers (GCC kept it
 * on the stack, each element stored and reloaded: 7.3 GB/s of packing on a Zen 3 core, however
 * near the weights were); sixteen inputs a step, two transposes in the two lanes. */
void gk_avx2_sgemm_pack_h(const char *w, size_t wrow, int rows, int64_t k0, int64_t kc, int nr, uint16_t *panel) {
    const int64_t kv = kc & ~(int64_t)15;   /* the inputs after the last whole sixteen: pack_col_h */
    int r0 = 0;
    for (; r0 + 8 <= rows; r0 += 8) {
        const char *w0 = w + (size_t)r0 * wrow;
        for (int64_t p = 0; p < kv; p += 16) {
            __m256i v[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                v[i] = _mm256_loadu_si256((const __m256i *)((const uint16_t *)(w0 + (size_t)i * wrow) + k0 + p));
            transpose8x2_epi16(v);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                _mm_storeu_si128((__m128i *)(panel + (p + i) * nr + r0), _mm256_castsi256_si128(v[i]));
                _mm_storeu_si128((__m128i *)(panel + (p + 8 + i) * nr + r0), _mm256_extracti128_si256(v[i], 1));
            }
        }
        for (int i = 0; i < 8; i++) pack_col_h(w0 + (size_t)i * wrow, k0, kv, kc, nr, panel + r0 + i);
    }
    for (; r0 < nr; r0++) pack_col_h(r0 < rows ? w + (size_t)r0 * wrow : NULL, k0, 0, kc, nr, panel + r0);
}
