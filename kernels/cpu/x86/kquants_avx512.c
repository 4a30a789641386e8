/* Q4_K and Q6_K weights · Q8_K activations, AVX-512 (F/BW/VL + VNNI's vpdpwssd).
 *
 * The integer core is the AVX2 kernels' (kquants_avx2.c, which also describes the block
 * layouts), on 512-bit vectors: weights stay unsigned (Q4_K 0..15, Q6_K 0..63) as vpmaddubsw's
 * unsigned operand, activations (-128..127) the signed one, pair products fit int16 (63·128·2);
 * vpdpwssd then multiplies them by the 16-bit sub-block scales and accumulates in int32. One
 * 512-bit vector holds 64 consecutive elements of a super-block, so the activation operand is
 * one contiguous load:
 *   Q4_K: the 32 bytes qs[32j..32j+31] broadcast to both halves, the upper half shifted right
 *         by 4: low nibbles (sub-block 2j) then high nibbles (2j+1); the scale vector is sc[2j]
 *         in the lower half, sc[2j+1] in the upper.
 *   Q6_K: ql[64h..64h+63] low nibbles (elements 0..63 of half h) or high nibbles (64..127), the
 *         two qh bits of each element from qh[32h..32h+31] broadcast to both halves and shifted
 *         by a per-half amount; one int8 scale per 128-bit lane (16 elements).
 * The offsets (Q4_K's mins, Q6_K's -32) go through the activations' bsums, as in AVX2, so every
 * integer sum equals the scalar kernel's; only the float scaling is ordered differently.
 *
 * Tiles: TR weight rows × 4 activation columns. Each weight vector is unpacked once and used by
 * four columns, each activation vector loaded once and used by TR rows. At the end of a
 * super-block the sixteen int32 lanes of the four columns of a row are folded into one vector
 * whose lane 4L+c holds a partial sum of column c (L = 128-bit lane); the mins/bsums terms are
 * built in that same layout, so one float vector per row accumulates all four columns.
 * Only called after the CPU was checked for AVX512F/BW/VL/DQ and VNNI (ukernels_avx512.c). */
#include "kernels/cpu/x86/kquant_scales.h"
#include "kernels/cpu/x86/simd_avx2.h"
#include "kernels/cpu/x86/avx512.h"

#define KZ_INLINE static inline __attribute__((always_inline))
#define Q4K_BYTES 144
#define Q6K_BYTES 210
#define Q8K_BYTES 292
/* Rows of the main tile: 4×4 measured fastest for Q4_K (~10% over 3×4 and 2×4), Q6_K within noise. */
#define TILE_R 4

/* ---- shared pieces -------------------------------------------------------------------------- */

/* Four int32 vectors (one per column) -> one whose lane 4L+c is the sum of four lanes of
 * column c's 128-bit lane L: the four lanes of position c summed give column c's total. */
KZ_INLINE __m512i kz_fold4(__m512i s0, __m512i s1, __m512i s2, __m512i s3) {
    __m512i a = _mm512_add_epi32(_mm512_unpacklo_epi32(s0, s1), _mm512_unpackhi_epi32(s0, s1));
    __m512i b = _mm512_add_epi32(_mm512_unpacklo_epi32(s2, s3), _mm512_unpackhi_epi32(s2, s3));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
}

/* Four 128-bit vectors of four 32-bit units each -> lane 4L+c = unit L of vector c. */
KZ_INLINE __m512i kz_transpose4(__m128i v0, __m128i v1, __m128i v2, __m128i v3) {
    __m512i z = _mm512_inserti32x4(_mm512_castsi128_si512(v0), v1, 1);
    z = _mm512_inserti32x4(z, v2, 2);
    z = _mm512_inserti32x4(z, v3, 3);
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(idx, z);
}

/* Unit L (32 bits) of v repeated in the four lanes of 128-bit lane L. */
KZ_INLINE __m512i kz_spread4(__m128i v) {
    const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    return _mm512_permutexvar_epi32(idx, _mm512_castsi128_si512(v));
}

/* The four columns' activation scales, repeated in every 128-bit lane. */
KZ_INLINE __m512 kz_dx4(const uint8_t *const xb[4]) {
    return _mm512_broadcast_f32x4(_mm_setr_ps(gk_ld_f32(xb[0]), gk_ld_f32(xb[1]), gk_ld_f32(xb[2]), gk_ld_f32(xb[3])));
}

/* Sum over the four 128-bit lanes: the four columns' results. */
KZ_INLINE __m128 kz_lanes_sum(__m512 v) {
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

KZ_INLINE __m512i kz_act(const uint8_t *x) { return _mm512_loadu_si512((const void *)x); }

/* acc += (w·y pair products) · scales, in int32. */
KZ_INLINE __m512i kz_mac(__m512i acc, __m512i w, __m512i y, __m512i sc) {
    return _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(w, y), sc);
}

/* ---- Q4_K ----------------------------------------------------------------------------------- */

/* Elements 64j..64j+63 of a Q4_K super-block as bytes 0..15. */
KZ_INLINE __m512i q4k_weights(const uint8_t *qs, int j) {
    __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * j)));
    q = _mm512_mask_srli_epi16(q, (__mmask32)0xffff0000u, q, 4);
    return _mm512_and_si512(q, _mm512_set1_epi8(0x0f));
}

/* int16 scale of sub-block 2j in the lower half, 2j+1 in the upper (sc16: eight int16). */
KZ_INLINE __m512i q4k_scale_pair(__m512i sc16, int j) {
    const __m512i idx = _mm512_inserti64x4(_mm512_set1_epi16((short)(2 * j)), _mm256_set1_epi16((short)(2 * j + 1)), 1);
    return _mm512_permutexvar_epi16(idx, sc16);
}

/* Sums of the activations of each 32-element sub-block (pairs of bsums), eight int16. */
KZ_INLINE __m128i q8k_sums32(const uint8_t *xb) {
    __m256i b = _mm256_loadu_si256((const __m256i *)(xb + 260));
    return _mm_hadd_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
}

/* TR rows × four columns (xc may repeat a column); out[r] = the four columns of row r. */
KZ_INLINE void q4k_tile(int TR, int64_t k, const uint8_t *const wr[TILE_R], const uint8_t *const xc[4],
                        __m128 out[TILE_R]) {
    __m512 acc[TILE_R];
#pragma GCC unroll 4
    for (int r = 0; r < TR; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t i = 0; i < k / 256; i++) {
        const size_t ow = (size_t)i * Q4K_BYTES, ox = (size_t)i * Q8K_BYTES;
        const uint8_t *xb[4] = {xc[0] + ox, xc[1] + ox, xc[2] + ox, xc[3] + ox};
        __m512i sc16[TILE_R], sumi[TILE_R][4];
        __m128i sm[TILE_R];
#pragma GCC unroll 4
        for (int r = 0; r < TR; r++) {
            gk_prefetch_ahead(wr[r] + ow, 3);
            sm[r] = gk_q4k_scales_mins(wr[r] + ow + 4);
            sc16[r] = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm[r]));
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) sumi[r][c] = _mm512_setzero_si512();
        }
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            __m512i y[4];
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) y[c] = kz_act(xb[c] + 4 + 64 * j);
#pragma GCC unroll 4
            for (int r = 0; r < TR; r++) {
                __m512i q = q4k_weights(wr[r] + ow + 16, j), s = q4k_scale_pair(sc16[r], j);
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) sumi[r][c] = kz_mac(sumi[r][c], q, y[c], s);
            }
        }
        const __m512 dx = kz_dx4(xb);
        /* Each min multiplies the sum of its sub-block's 32 activations (|sum| <= 4096). */
        const __m512i ys = kz_transpose4(q8k_sums32(xb[0]), q8k_sums32(xb[1]), q8k_sums32(xb[2]), q8k_sums32(xb[3]));
#pragma GCC unroll 4
        for (int r = 0; r < TR; r++) {
            const uint8_t *w = wr[r] + ow;
            __m512i mins = _mm512_madd_epi16(ys, kz_spread4(_mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm[r], sm[r]))));
            __m512i s = kz_fold4(sumi[r][0], sumi[r][1], sumi[r][2], sumi[r][3]);
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(_mm512_set1_ps(gk_ld_f16(w)), dx), acc[r]);
            acc[r] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins), _mm512_mul_ps(_mm512_set1_ps(gk_ld_f16(w + 2)), dx),
                                      acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < TR; r++) out[r] = kz_lanes_sum(acc[r]);
}

/* One row · one column: the same integer sums, no folding. */
static float q4k_dot1(int64_t k, const uint8_t *w, const uint8_t *x) {
    __m512 acc = _mm512_setzero_ps();
    __m128 macc = _mm_setzero_ps();
    for (int64_t i = 0; i < k / 256; i++, w += Q4K_BYTES, x += Q8K_BYTES) {
        gk_prefetch_ahead(w, 3);
        const __m128i sm = gk_q4k_scales_mins(w + 4);
        const __m512i sc16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm));
        __m512i s0 = _mm512_setzero_si512(), s1 = s0;
        s0 = kz_mac(s0, q4k_weights(w + 16, 0), kz_act(x + 4), q4k_scale_pair(sc16, 0));
        s1 = kz_mac(s1, q4k_weights(w + 16, 1), kz_act(x + 68), q4k_scale_pair(sc16, 1));
        s0 = kz_mac(s0, q4k_weights(w + 16, 2), kz_act(x + 132), q4k_scale_pair(sc16, 2));
        s1 = kz_mac(s1, q4k_weights(w + 16, 3), kz_act(x + 196), q4k_scale_pair(sc16, 3));
        const float dx = gk_ld_f32(x);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(gk_ld_f16(w) * dx), _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), acc);
        __m128 m = _mm_cvtepi32_ps(_mm_madd_epi16(q8k_sums32(x), _mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm))));
        macc = _mm_fmadd_ps(_mm_set1_ps(gk_ld_f16(w + 2) * dx), m, macc);
    }
    __m128 t = _mm_sub_ps(kz_lanes_sum(acc), macc);
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

/* ---- Q6_K ----------------------------------------------------------------------------------- */

/* Elements 128h + 64p .. +63 of a Q6_K super-block (p = 0: low nibbles of ql, p = 1: high) as
 * bytes 0..63. Element 32g+l takes qh[l] bits 2g..2g+1: g = 2p in the lower half, 2p+1 in the
 * upper, moved to bits 4..5. */
KZ_INLINE __m512i q6k_weights(const uint8_t *w, int h, int p) {
    const __m512i l = _mm512_loadu_si512((const void *)(w + 64 * h));
    const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w + 128 + 32 * h)));
    __m512i lo, hi;
    if (p == 0) {
        lo = l;
        hi = _mm512_sllv_epi16(hb, _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1));
    } else {
        lo = _mm512_srli_epi16(l, 4);
        hi = _mm512_srlv_epi16(hb, _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1));
    }
    /* (lo & 0x0f) | (hi & 0x30): bitwise select of lo and hi under 0x0f, then clear bits 6..7 */
    __m512i q = _mm512_ternarylogic_epi32(_mm512_set1_epi8(0x0f), lo, hi, 0xca);
    return _mm512_and_si512(q, _mm512_set1_epi8(0x3f));
}

/* Scale of each 16-element group, as int16 across its 128-bit lane: groups 8h+4p .. +3. */
KZ_INLINE __m512i q6k_scales(__m512i sc16, int h, int p) {
    const int g = 8 * h + 4 * p;
    const __m512i idx = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_set_m128i(_mm_set1_epi16((short)(g + 1)), _mm_set1_epi16((short)g))),
        _mm256_set_m128i(_mm_set1_epi16((short)(g + 3)), _mm_set1_epi16((short)(g + 2))), 1);
    return _mm512_permutexvar_epi16(idx, sc16);
}

KZ_INLINE void q6k_tile(int TR, int64_t k, const uint8_t *const wr[TILE_R], const uint8_t *const xc[4],
                        __m128 out[TILE_R]) {
    __m512 acc[TILE_R];
#pragma GCC unroll 4
    for (int r = 0; r < TR; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t i = 0; i < k / 256; i++) {
        const size_t ow = (size_t)i * Q6K_BYTES, ox = (size_t)i * Q8K_BYTES;
        const uint8_t *xb[4] = {xc[0] + ox, xc[1] + ox, xc[2] + ox, xc[3] + ox};
        __m512i sc16[TILE_R], sumi[TILE_R][4];
#pragma GCC unroll 4
        for (int r = 0; r < TR; r++) {
            gk_prefetch_ahead(wr[r] + ow, 4);
            const __m128i sc8 = _mm_loadu_si128((const __m128i *)(wr[r] + ow + 192));
            sc16[r] = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(sc8));
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) sumi[r][c] = _mm512_setzero_si512();
        }
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {   /* elements 64j..64j+63: half j/2, part j%2 */
            const int h = j >> 1, p = j & 1;
            __m512i y[4];
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) y[c] = kz_act(xb[c] + 4 + 64 * j);
#pragma GCC unroll 4
            for (int r = 0; r < TR; r++) {
                __m512i q = q6k_weights(wr[r] + ow, h, p), s = q6k_scales(sc16[r], h, p);
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) sumi[r][c] = kz_mac(sumi[r][c], q, y[c], s);
            }
        }
        const __m512 dx = kz_dx4(xb);
        /* Σ sc·(q-32)·y = Σ sc·q·y - 32·Σ sc·bsum: bsums pairs 0..3 and 4..7 in the fold layout. */
        __m128i blo[4], bhi[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256i b = _mm256_loadu_si256((const __m256i *)(xb[c] + 260));
            blo[c] = _mm256_castsi256_si128(b), bhi[c] = _mm256_extracti128_si256(b, 1);
        }
        const __m512i ba = kz_transpose4(blo[0], blo[1], blo[2], blo[3]);
        const __m512i bb = kz_transpose4(bhi[0], bhi[1], bhi[2], bhi[3]);
#pragma GCC unroll 4
        for (int r = 0; r < TR; r++) {
            const __m256i s16 = _mm512_castsi512_si256(sc16[r]);
            __m512i corr = _mm512_add_epi32(_mm512_madd_epi16(ba, kz_spread4(_mm256_castsi256_si128(s16))),
                                            _mm512_madd_epi16(bb, kz_spread4(_mm256_extracti128_si256(s16, 1))));
            __m512i s = kz_fold4(sumi[r][0], sumi[r][1], sumi[r][2], sumi[r][3]);
            s = _mm512_sub_epi32(s, _mm512_slli_epi32(corr, 5));
            const __m512 d = _mm512_mul_ps(_mm512_set1_ps(gk_ld_f16(wr[r] + ow + 208)), dx);
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), d, acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < TR; r++) out[r] = kz_lanes_sum(acc[r]);
}

static float q6k_dot1(int64_t k, const uint8_t *w, const uint8_t *x) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < k / 256; i++, w += Q6K_BYTES, x += Q8K_BYTES) {
        gk_prefetch_ahead(w, 4);
        const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 192)));
        const __m512i sc16 = _mm512_castsi256_si512(s16);
        __m256i corr = _mm256_madd_epi16(s16, _mm256_loadu_si256((const __m256i *)(x + 260)));
        __m512i s0 = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5)));
        __m512i s1 = _mm512_setzero_si512();
        s0 = kz_mac(s0, q6k_weights(w, 0, 0), kz_act(x + 4), q6k_scales(sc16, 0, 0));
        s1 = kz_mac(s1, q6k_weights(w, 0, 1), kz_act(x + 68), q6k_scales(sc16, 0, 1));
        s0 = kz_mac(s0, q6k_weights(w, 1, 0), kz_act(x + 132), q6k_scales(sc16, 1, 0));
        s1 = kz_mac(s1, q6k_weights(w, 1, 1), kz_act(x + 196), q6k_scales(sc16, 1, 1));
        const __m512 d = _mm512_set1_ps(gk_ld_f16(w + 208) * gk_ld_f32(x));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

/* ---- entry points --------------------------------------------------------------------------- */

void gk_avx512_vec_dot_q4_k(int64_t k, const void *w, const void *xq, float *out) { *out = q4k_dot1(k, w, xq); }

void gk_avx512_vec_dot_q6_k(int64_t k, const void *w, const void *xq, float *out) { *out = q6k_dot1(k, w, xq); }

/* Columns four at a time (a missing column repeats the last), rows TILE_R at a time with a
 * one-row tile for the rest; a single column goes row by row through the vec_dot kernel. */
KZ_INLINE void kz_dot_tile(int fmt6, int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                           size_t x_stride, int nc, float *y, int64_t ldy) {
    for (int c0 = 0; c0 < nc; c0 += 4) {
        const int n = nc - c0 < 4 ? nc - c0 : 4;
        if (n == 1) {
            const uint8_t *x = (const uint8_t *)xq + (size_t)c0 * x_stride;
            for (int r = 0; r < nr; r++) {
                const uint8_t *wr = (const uint8_t *)w + (size_t)r * w_stride;
                y[(int64_t)c0 * ldy + r] = fmt6 ? q6k_dot1(k, wr, x) : q4k_dot1(k, wr, x);
            }
            continue;
        }
        const uint8_t *xc[4];
        for (int c = 0; c < 4; c++) xc[c] = (const uint8_t *)xq + (size_t)(c0 + (c < n ? c : n - 1)) * x_stride;
        for (int r0 = 0; r0 < nr;) {
            const int tr = nr - r0 >= TILE_R ? TILE_R : 1;
            const uint8_t *wr[TILE_R];
            for (int r = 0; r < TILE_R; r++) wr[r] = (const uint8_t *)w + (size_t)(r0 + (r < tr ? r : 0)) * w_stride;
            __m128 o[TILE_R];
            if (tr == TILE_R) {
                if (fmt6) q6k_tile(TILE_R, k, wr, xc, o);
                else q4k_tile(TILE_R, k, wr, xc, o);
            } else {
                if (fmt6) q6k_tile(1, k, wr, xc, o);
                else q4k_tile(1, k, wr, xc, o);
            }
            for (int r = 0; r < tr; r++) {
                float v[4];
                _mm_storeu_ps(v, o[r]);
                for (int c = 0; c < n; c++) y[(int64_t)(c0 + c) * ldy + r0 + r] = v[c];
            }
            r0 += tr;
        }
    }
}

void gk_avx512_dot_tile_q4_k(int64_t k, const void *w, size_t w_stride, int nr, const void *xq, size_t x_stride,
                             int nc, float *y, int64_t ldy) {
    kz_dot_tile(0, k, w, w_stride, nr, xq, x_stride, nc, y, ldy);
}

void gk_avx512_dot_tile_q6_k(int64_t k, const void *w, size_t w_stride, int nr, const void *xq, size_t x_stride,
                             int nc, float *y, int64_t ldy) {
    kz_dot_tile(1, k, w, w_stride, nr, xq, x_stride, nc, y, ldy);
}
