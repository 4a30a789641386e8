/* Packed integer GEMM for Q4_K and Q6_K weights × Q8_K activations with AVX2 (the many-column
 * path of cpu_matmul.c; the packed activations are microkernels.h's Q8_K layout).
 *
 * Vector lanes are weight rows, as in igemm_avx2.c: one 64-byte group of a panel (four inputs
 * of 16 rows) is two ymm, rows 0..7 and 8..15. Both formats are, per 256-element super-block
 * and row r (igemm_kquants_avx512.c has the derivation),
 *     Σ w·x = A[r] · Σ_s sc[s][r] · Σ_{i in s} q_i x_i  +  B[r] · Σ_k (P[k][r].lo · xs_2k + P[k][r].hi · xs_2k+1)
 *   Q4_K: 8 sub-blocks of 32, q the nibble, sc the 6-bit scale, A = d, P[k] = (m_k, m_k), B = -dmin;
 *   Q6_K: 16 sub-blocks of 16, q the 6-bit value, sc the int8 scale, A = d, P[k] = (sc_2k, sc_2k+1),
 *         B = -32·d.
 * Without VNNI, q × activation bytes is vpmaddubsw (u8 × s8, pair sums as int16, saturating),
 * and the pair sums of a sub-block are added as int16 then multiplied by the row's scale with
 * vpmaddwd, which also sums them into int32, so the whole super-block is one exact int32:
 *   Q4_K: a pair sum is at most 2·15·128 = 3840 in magnitude; the 8 groups of a sub-block add up
 *         to at most 30720 < 32768, then × sc <= 63 (pairs of lanes: <= 3.9e6 per sub-block).
 *   Q6_K: a pair sum is at most 2·63·128 = 16128, so two groups add up to 32256 < 32768 but
 *         four would not: each half sub-block (two groups) is widened by its own vpmaddwd with
 *         sc (|sc| <= 128: <= 4.2e6 per half).
 * Over 16 sub-blocks the int32 sum stays below 2^27. The offset term is vpmaddwd of the pairs
 * with the column's 16-sums (<= 16·128·2048). Each is converted once per super-block and scaled
 * by A·d_x, B·d_x into the float total (vpmaddubsw never saturates, so everything is exact but
 * those float steps).
 *
 * Panel, per super-block (ns = 8 or 16 sub-blocks), 16 rows, every record 64 bytes with row r
 * at 4r: 4096 bytes of q (64 groups, as igemm_avx2.c), ns records of (sc, sc) as int16 pairs, 8
 * records of P, then A and B as 16 floats each. Rows past those packed are all zero.
 * Four columns at a time, 8 int32 + 8 int16 accumulators (the float totals live in memory). */
#include <immintrin.h>
#include <string.h>

#include "kernels/cpu/microkernels.h"
#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/igemm_avx2.h"
#include "kernels/cpu/x86/igemm_columns.h"
#include "kernels/cpu/x86/kquant_scales.h"
#include "kernels/cpu/x86/simd_avx2.h"

#define V_INLINE static inline __attribute__((always_inline))

enum {
    KQ_ROWS = 16,
    KQ_QBYTES = 256 * KQ_ROWS,
    KQ_PAIRS = 8 * 64,
    KQ_NC = 4,   /* columns per register block */
    Q4K_SUBS = 8,
    Q6K_SUBS = 16,
    Q4K_BYTES = 144,
    Q6K_BYTES = 210,
    ACT_D = 256 * GK_IGEMM_COLS,
    ACT_SUMS = ACT_D + 4 * GK_IGEMM_COLS,
};

#define KQ_BLOCK(ns) (KQ_QBYTES + (ns) * 64 + KQ_PAIRS + 128)

/* ---- packing -------------------------------------------------------------------------------- */

/* 32 bytes at byte off of row r, zero past the packed rows. */
V_INLINE __m256i row32(const uint8_t *w, size_t wrow, int rows, int r, size_t off) {
    return r < rows ? _mm256_loadu_si256((const __m256i *)(w + (size_t)r * wrow + off)) : _mm256_setzero_si256();
}

/* The f16 at byte off of each row as floats into dst[0..16), 0 past the packed rows. */
V_INLINE void rows_f16(const uint8_t *w, size_t wrow, int rows, size_t off, float mul, float *dst) {
    uint16_t h[KQ_ROWS];
    for (int r = 0; r < KQ_ROWS; r++) {
        h[r] = 0;
        if (r < rows) memcpy(&h[r], w + (size_t)r * wrow + off, 2);
    }
    __m128i h0, h1;
    memcpy(&h0, h, 16);
    memcpy(&h1, h + 8, 16);
    _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_cvtph_ps(h0), _mm256_set1_ps(mul)));
    _mm256_storeu_ps(dst + 8, _mm256_mul_ps(_mm256_cvtph_ps(h1), _mm256_set1_ps(mul)));
}

/* Eight int32 as eight (v, v) int16 pairs. */
V_INLINE __m256i dup16(__m256i v) {
    return _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)), _mm256_slli_epi32(v, 16));
}

/* Per row, 8 dwords of scale data (from per_row), transposed into 8 records at dst. */
#define PACK_RECORDS(dst, expr)                                        \
    for (int h = 0; h < 2; h++) {                                      \
        __m256i v_[8];                                                 \
        for (int i = 0; i < 8; i++) {                                  \
            const int r = 8 * h + i;                                   \
            v_[i] = r < rows ? (expr) : _mm256_setzero_si256();        \
        }                                                              \
        gk_igemm_transpose8x8(v_, h, (dst));                           \
    }

void gk_avx2_igemm_pack_q4_k(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    const uint8_t *wb = (const uint8_t *)w;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)(b0 + b) * Q4K_BYTES;
        uint8_t *dst = (uint8_t *)panel + (size_t)b * KQ_BLOCK(Q4K_SUBS);
        /* 32 bytes of qs per 64 weights: sub-block 2c in the low nibbles, 2c+1 in the high ones */
        for (int c = 0; c < 4; c++)
            for (int h = 0; h < 2; h++) {
                __m256i lo[8], hi[8];
                for (int i = 0; i < 8; i++) {
                    __m256i x = row32(wb, wrow, rows, 8 * h + i, off + 16 + 32 * (size_t)c);
                    lo[i] = _mm256_and_si256(x, m4);
                    hi[i] = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
                }
                gk_igemm_transpose8x8(lo, h, dst + 512 * (2 * c));
                gk_igemm_transpose8x8(hi, h, dst + 512 * (2 * c + 1));
            }
        __m128i sm[KQ_ROWS];   /* scales 0..7, mins 8..15 of each row */
        for (int r = 0; r < rows; r++) sm[r] = gk_q4k_scales_mins(wb + (size_t)r * wrow + off + 4);
        uint8_t *s = dst + KQ_QBYTES, *p = s + Q4K_SUBS * 64;
        PACK_RECORDS(s, dup16(_mm256_cvtepu8_epi32(sm[r])))
        PACK_RECORDS(p, dup16(_mm256_cvtepu8_epi32(_mm_srli_si128(sm[r], 8))))
        rows_f16(wb, wrow, rows, off, 1.0f, (float *)(p + KQ_PAIRS));
        rows_f16(wb, wrow, rows, off + 2, -1.0f, (float *)(p + KQ_PAIRS + 64));
    }
}

void gk_avx2_igemm_pack_q6_k(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    const uint8_t *wb = (const uint8_t *)w;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03);
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)(b0 + b) * Q6K_BYTES;
        uint8_t *dst = (uint8_t *)panel + (size_t)b * KQ_BLOCK(Q6K_SUBS);
        /* per 128 weights (half hh), run q of 32: low 4 bits from ql[64hh + 32(q&1)..] (nibble
         * q>>1), top 2 from qh[32hh..] bits 2q, 2q+1 (quant.c) */
        for (int hh = 0; hh < 2; hh++)
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++)
                for (int h = 0; h < 2; h++) {
                    __m256i a[8];
                    for (int i = 0; i < 8; i++) {
                        __m256i l = row32(wb, wrow, rows, 8 * h + i, off + 64 * (size_t)hh + 32 * (size_t)(q & 1));
                        __m256i u = row32(wb, wrow, rows, 8 * h + i, off + 128 + 32 * (size_t)hh);
                        l = _mm256_and_si256(_mm256_srli_epi16(l, 4 * (q >> 1)), m4);
                        u = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(u, 2 * q), m2), 4);
                        a[i] = _mm256_or_si256(l, u);
                    }
                    gk_igemm_transpose8x8(a, h, dst + 512 * (4 * hh + q));
                }
        __m128i sc[KQ_ROWS];   /* the 16 int8 scales of each row */
        for (int r = 0; r < rows; r++) memcpy(&sc[r], wb + (size_t)r * wrow + off + 192, 16);
        uint8_t *s = dst + KQ_QBYTES, *p = s + Q6K_SUBS * 64;
        PACK_RECORDS(s, dup16(_mm256_cvtepi8_epi32(sc[r])))
        PACK_RECORDS(s + 512, dup16(_mm256_cvtepi8_epi32(_mm_srli_si128(sc[r], 8))))
        PACK_RECORDS(p, _mm256_cvtepi8_epi16(sc[r]))
        rows_f16(wb, wrow, rows, off + 208, 1.0f, (float *)(p + KQ_PAIRS));
        rows_f16(wb, wrow, rows, off + 208, -32.0f, (float *)(p + KQ_PAIRS + 64));
    }
}

/* ---- the kernel ----------------------------------------------------------------------------- */

/* tot[c][r] += t[c] (16 int32 row sums, as float) · f[r] · d_c for the cn columns, d_c being
 * column c's activation scale (at xd + 4c); t is zeroed for the next sum. */
V_INLINE void kq_fold(int cn, __m256i t[KQ_NC][2], const float *f, const uint8_t *xd, float tot[KQ_NC][KQ_ROWS]) {
#pragma GCC unroll 4
    for (int c = 0; c < cn; c++) {
        float d;
        memcpy(&d, xd + 4 * c, 4);
        const __m256 vd = _mm256_set1_ps(d);
        for (int h = 0; h < 2; h++) {
            __m256 v = _mm256_loadu_ps(tot[c] + 8 * h);
            v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t[c][h]), _mm256_mul_ps(_mm256_loadu_ps(f + 8 * h), vd), v);
            _mm256_storeu_ps(tot[c] + 8 * h, v);
        }
        t[c][0] = t[c][1] = _mm256_setzero_si256();
    }
}

/* cn (a constant after inlining) columns of one activation group, from column co, × one panel
 * of nb super-blocks with ns sub-blocks, added into y (nr rows). gr: groups summed as int16
 * before each vpmaddwd (8 for Q4_K, 2 for Q6_K). */
V_INLINE void kq_cols(int ns, int gr, int cn, int64_t nb, const uint8_t *panel, const uint8_t *xp, int co, float *y,
                      int64_t ldy, int nr) {
    const int gs = 64 / ns;   /* groups of four inputs per sub-block */
    const size_t pblock = KQ_BLOCK(ns);
    const uint8_t *xv = xp + 256 * co, *xd = xp + ACT_D + 4 * co, *xs = xp + ACT_SUMS + 32 * co;
    float tot[KQ_NC][KQ_ROWS] = {{0}};
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pb = panel + (size_t)b * pblock, *ps = pb + KQ_QBYTES, *pp = ps + 64 * ns;
        const float *fa = (const float *)(pp + KQ_PAIRS), *fb = fa + KQ_ROWS;
        const size_t xb = (size_t)b * GK_IGEMM_ACT_K_BYTES;
        __m256i t[KQ_NC][2];
        /* the offset term */
#pragma GCC unroll 4
        for (int c = 0; c < cn; c++) t[c][0] = t[c][1] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            const __m256i p0 = _mm256_loadu_si256((const __m256i *)(pp + 64 * k));
            const __m256i p1 = _mm256_loadu_si256((const __m256i *)(pp + 64 * k + 32));
#pragma GCC unroll 4
            for (int c = 0; c < cn; c++) {
                const __m256i s = _mm256_set1_epi32(gk_ld_i32(xs + xb + 32 * c + 4 * k));
                t[c][0] = _mm256_add_epi32(t[c][0], _mm256_madd_epi16(p0, s));
                t[c][1] = _mm256_add_epi32(t[c][1], _mm256_madd_epi16(p1, s));
            }
        }
        kq_fold(cn, t, fb, xd + xb, tot);
        /* the weights: int16 runs of gr groups, each widened with the sub-block's scales */
        for (int s = 0; s < ns; s++) {
            const uint8_t *q = pb + (size_t)s * gs * 64, *x = xv + xb + (size_t)s * gs * 4;
            const __m256i s0 = _mm256_loadu_si256((const __m256i *)(ps + 64 * s));
            const __m256i s1 = _mm256_loadu_si256((const __m256i *)(ps + 64 * s + 32));
            for (int g0 = 0; g0 < gs; g0 += gr) {
                __m256i u[KQ_NC][2];
#pragma GCC unroll 8
                for (int g = g0; g < g0 + gr; g++) {
                    const __m256i p0 = _mm256_loadu_si256((const __m256i *)(q + 64 * g));
                    const __m256i p1 = _mm256_loadu_si256((const __m256i *)(q + 64 * g + 32));
#pragma GCC unroll 4
                    for (int c = 0; c < cn; c++) {
                        const __m256i xx = _mm256_set1_epi32(gk_ld_i32(x + 256 * c + 4 * g));
                        const __m256i m0 = _mm256_maddubs_epi16(p0, xx), m1 = _mm256_maddubs_epi16(p1, xx);
                        u[c][0] = g > g0 ? _mm256_add_epi16(u[c][0], m0) : m0;
                        u[c][1] = g > g0 ? _mm256_add_epi16(u[c][1], m1) : m1;
                        /* keep the sums a chain (igemm_avx2.c: else gcc spills the products) */
                        __asm__("" : "+x"(u[c][0]), "+x"(u[c][1]));
                    }
                }
#pragma GCC unroll 4
                for (int c = 0; c < cn; c++) {
                    t[c][0] = _mm256_add_epi32(t[c][0], _mm256_madd_epi16(u[c][0], s0));
                    t[c][1] = _mm256_add_epi32(t[c][1], _mm256_madd_epi16(u[c][1], s1));
                }
            }
        }
        kq_fold(cn, t, fa, xd + xb, tot);
    }
    for (int c = 0; c < cn; c++)
        for (int r = 0; r < nr; r++) y[(int64_t)c * ldy + r] += tot[c][r];
}

V_INLINE void kq_kernel(int ns, int gr, int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc,
                        float *y, int64_t ldy, int nr) {
    const uint8_t *p = panel;
#define COLS(n, xg, co, yc) kq_cols(ns, gr, n, nb, p, xg, co, yc, ldy, nr)
    GK_IGEMM_FOR_COLUMNS(nc, (const uint8_t *)xp, group_bytes, y, ldy, KQ_NC, COLS);
#undef COLS
}

void gk_avx2_igemm_q4_k(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                        int64_t ldy, int nr) {
    kq_kernel(Q4K_SUBS, 8, nb, panel, xp, group_bytes, nc, y, ldy, nr);
}

void gk_avx2_igemm_q6_k(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                        int64_t ldy, int nr) {
    kq_kernel(Q6K_SUBS, 2, nb, panel, xp, group_bytes, nc, y, ldy, nr);
}

_Static_assert(KQ_BLOCK(Q4K_SUBS) == GK_AVX2_IGEMM_Q4_K_BLOCK, "Q4_K panel size (avx2.h)");
_Static_assert(KQ_BLOCK(Q6K_SUBS) == GK_AVX2_IGEMM_Q6_K_BLOCK, "Q6_K panel size (avx2.h)");
