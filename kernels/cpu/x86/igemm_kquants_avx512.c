/* Packed integer GEMM for Q4_K and Q6_K weights × Q8_K activations with AVX-512 VNNI (the
 * many-column path of cpu_matmul.c; the packed activations are microkernels.h's Q8_K layout).
 *
 * As for Q4_0 (igemm_avx512.c), vector lanes are weight rows: per group of four inputs a panel
 * holds the four unsigned weight bytes of each of 16 rows (64 bytes), and one vpdpbusd with
 * four activation bytes of one column broadcast adds 4 products to each of 16 rows. Both
 * formats are, per 256-element super-block and row r,
 *     Σ w·x = Σ_s S[s][r] · Σ_{i in s} q_i x_i  +  C[r] · Σ_k (P[k][r].lo · xs_2k + P[k][r].hi · xs_2k+1)
 * with q unsigned and xs Q8_K's sums of 16 activations:
 *   Q4_K: 8 sub-blocks of 32, q the nibble (0..15), S = d·sc, P[k] = (m_k, m_k), C = -dmin;
 *   Q6_K: 16 sub-blocks of 16, q the 6-bit value (0..63, weight q-32), S = d·sc,
 *         P[k] = (sc_2k, sc_2k+1), C = -32·d.
 * The integer parts are exact (vpdpbusd per sub-block; the offset term with one vpdpwssd per
 * pair of 16-sums: at most 16·63·2048 or 16·128·2048 in magnitude); per sub-block the int32
 * sum is converted and multiplied by its row scales into a float accumulator, which is scaled
 * by the column's d once per super-block. d·sc and 32·d are exact in float (f16 × 8 bits).
 *
 * Panel, per super-block (ns = 8 for Q4_K, 16 for Q6_K sub-blocks), 16 rows:
 *   4096 bytes of q (64 groups × 64 bytes, as igemm_avx512.c), then ns × 16 floats S, then
 *   8 × 16 dwords P (two int16 each), then 16 floats C. Rows past those packed are all zero.
 * Eight columns at a time: 8 int32 + 8 float accumulators per super-block + 8 float totals.
 * Only called after the CPU was checked for AVX512F/BW/VL/DQ and VNNI (table_avx512.c). */
#include <immintrin.h>
#include <string.h>

#include "kernels/cpu/microkernels.h"
#include "kernels/cpu/x86/avx512.h"
#include "kernels/cpu/x86/igemm_avx512.h"
#include "kernels/cpu/x86/igemm_columns.h"
#include "kernels/cpu/x86/kquant_scales.h"
#include "kernels/cpu/x86/simd_avx2.h"

#define V_INLINE static inline __attribute__((always_inline))

enum {
    KQ_ROWS = 16,
    KQ_QBYTES = 256 * KQ_ROWS,                   /* unsigned weights of one super-block */
    KQ_PAIRS = 8 * 64,                           /* the offset term's int16 pairs */
    Q4K_SUBS = 8,
    Q6K_SUBS = 16,
    Q4K_BYTES = 144,                             /* quant.h block sizes */
    Q6K_BYTES = 210,
    /* Q8_K packed activations: values, then scales, then the 16-sums (microkernels.h) */
    ACT_D = 256 * GK_IGEMM_COLS,
    ACT_SUMS = ACT_D + 4 * GK_IGEMM_COLS,
};

/* Bytes of one super-block of a panel with ns sub-blocks. */
#define KQ_BLOCK(ns) (KQ_QBYTES + (ns) * 64 + KQ_PAIRS + 64)

/* ---- packing -------------------------------------------------------------------------------- */

/* 32 bytes at byte off of rows r and r+1 (zeros past the packed rows; pointers formed only for
 * rows that exist): row r in the low half. */
V_INLINE __m512i rows32(const uint8_t *w, size_t wrow, int rows, int r, size_t off) {
    __m256i a = r < rows ? _mm256_loadu_si256((const __m256i *)(w + (size_t)r * wrow + off)) : _mm256_setzero_si256();
    __m256i b = r + 1 < rows ? _mm256_loadu_si256((const __m256i *)(w + (size_t)(r + 1) * wrow + off))
                             : _mm256_setzero_si256();
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}

/* The f16 at byte off of each row as floats, 0 past the packed rows. */
V_INLINE __m512 rows_f16(const uint8_t *w, size_t wrow, int rows, size_t off) {
    uint16_t h[KQ_ROWS];
    for (int r = 0; r < KQ_ROWS; r++) {
        h[r] = 0;
        if (r < rows) memcpy(&h[r], w + (size_t)r * wrow + off, 2);
    }
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
}

/* t: 16 bytes per row (row r at 16r). v[k] lane r: bytes 4k..4k+3 of row r. */
V_INLINE void transpose_bytes(const uint8_t *t, __m512i v[4]) {
    const __m512i z0 = _mm512_loadu_si512(t), z1 = _mm512_loadu_si512(t + 64);
    const __m512i z2 = _mm512_loadu_si512(t + 128), z3 = _mm512_loadu_si512(t + 192);
    const __m512i base = _mm512_set_epi32(28, 24, 20, 16, 12, 8, 4, 0, 28, 24, 20, 16, 12, 8, 4, 0);
    for (int k = 0; k < 4; k++) {
        const __m512i idx = _mm512_add_epi32(base, _mm512_set1_epi32(k));
        __m512i lo = _mm512_permutex2var_epi32(z0, idx, z1), hi = _mm512_permutex2var_epi32(z2, idx, z3);
        v[k] = _mm512_shuffle_i64x2(lo, hi, _MM_SHUFFLE(1, 0, 1, 0));
    }
}

/* Byte i of every dword lane, sign-extended. */
#define LANE_BYTE(v, i) _mm512_srai_epi32(_mm512_slli_epi32((v), 24 - 8 * (i)), 24)

/* Two int16 per dword: lo's low half, hi's low half. */
V_INLINE __m512i pair16(__m512i lo, __m512i hi) {
    return _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi32(0xffff)), _mm512_slli_epi32(hi, 16));
}

void gk_avx512_igemm_pack_q4_k(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    const uint8_t *wb = (const uint8_t *)w;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)(b0 + b) * Q4K_BYTES;
        uint8_t *dst = (uint8_t *)panel + (size_t)b * KQ_BLOCK(Q4K_SUBS);
        /* 32 bytes of qs per 64 weights: sub-block 2c in the low nibbles, 2c+1 in the high ones */
        for (int c = 0; c < 4; c++) {
            __m512i lo[8], hi[8];
            for (int k = 0; k < 8; k++) {
                __m512i x = rows32(wb, wrow, rows, 2 * k, off + 16 + 32 * (size_t)c);
                lo[k] = _mm512_and_si512(x, m4);
                hi[k] = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
            }
            gk_igemm_transpose16x8(lo, dst + 512 * (2 * c));
            gk_igemm_transpose16x8(hi, dst + 512 * (2 * c + 1));
        }
        _Alignas(64) uint8_t t[16 * KQ_ROWS] = {0};   /* scales 0..7, mins 8..15 of each row */
        for (int r = 0; r < rows; r++) _mm_store_si128((__m128i *)(t + 16 * r), gk_q4k_scales_mins(wb + (size_t)r * wrow + off + 4));
        __m512i v[4];
        transpose_bytes(t, v);
        const __m512 d = rows_f16(wb, wrow, rows, off), dmin = rows_f16(wb, wrow, rows, off + 2);
        float *s = (float *)(dst + KQ_QBYTES);
        uint8_t *p = dst + KQ_QBYTES + Q4K_SUBS * 64;
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            _mm512_storeu_ps(s + 16 * j, _mm512_mul_ps(_mm512_cvtepi32_ps(LANE_BYTE(v[j / 4], j % 4)), d));
            __m512i m = LANE_BYTE(v[2 + j / 4], j % 4);
            _mm512_storeu_si512(p + 64 * j, pair16(m, m));
        }
        _mm512_storeu_ps((float *)(p + KQ_PAIRS), _mm512_sub_ps(_mm512_setzero_ps(), dmin));
    }
}

void gk_avx512_igemm_pack_q6_k(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    const uint8_t *wb = (const uint8_t *)w;
    const __m512i m4 = _mm512_set1_epi8(0x0f), m2 = _mm512_set1_epi8(0x03);
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)(b0 + b) * Q6K_BYTES;
        uint8_t *dst = (uint8_t *)panel + (size_t)b * KQ_BLOCK(Q6K_SUBS);
        /* per 128 weights (half h), run q of 32: low 4 bits from ql[64h + 32(q&1)..] (nibble q>>1),
         * top 2 from qh[32h..] bits 2q, 2q+1 (quant.c) */
        for (int h = 0; h < 2; h++)
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++) {
                __m512i a[8];
                for (int k = 0; k < 8; k++) {
                    __m512i l = rows32(wb, wrow, rows, 2 * k, off + 64 * (size_t)h + 32 * (size_t)(q & 1));
                    __m512i u = rows32(wb, wrow, rows, 2 * k, off + 128 + 32 * (size_t)h);
                    l = _mm512_and_si512(_mm512_srli_epi16(l, 4 * (q >> 1)), m4);
                    u = _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(u, 2 * q), m2), 4);
                    a[k] = _mm512_or_si512(l, u);
                }
                gk_igemm_transpose16x8(a, dst + 512 * (4 * h + q));
            }
        _Alignas(64) uint8_t t[16 * KQ_ROWS] = {0};   /* the 16 int8 scales of each row */
        for (int r = 0; r < rows; r++) memcpy(t + 16 * r, wb + (size_t)r * wrow + off + 192, 16);
        __m512i v[4];
        transpose_bytes(t, v);
        const __m512 d = rows_f16(wb, wrow, rows, off + 208);
        float *s = (float *)(dst + KQ_QBYTES);
        uint8_t *p = dst + KQ_QBYTES + Q6K_SUBS * 64;
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            _mm512_storeu_ps(s + 16 * i, _mm512_mul_ps(_mm512_cvtepi32_ps(LANE_BYTE(v[i / 4], i % 4)), d));
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++)
            _mm512_storeu_si512(p + 64 * k, pair16(LANE_BYTE(v[k / 2], 2 * (k % 2)), LANE_BYTE(v[k / 2], 2 * (k % 2) + 1)));
        _mm512_storeu_ps((float *)(p + KQ_PAIRS), _mm512_mul_ps(d, _mm512_set1_ps(-32.0f)));
    }
}

/* ---- the kernel ----------------------------------------------------------------------------- */

/* cn (a constant after inlining) columns of one activation group, from column co, × one panel
 * of nb super-blocks with ns sub-blocks of 256/ns, added into y. Every activation operand is at
 * a constant offset from one pointer per super-block. */
V_INLINE void kq_cols(int ns, int cn, int64_t nb, const uint8_t *panel, const uint8_t *xp, int co, float *y,
                      int64_t ldy, __mmask16 rows) {
    const int gs = 64 / ns;   /* groups of four inputs per sub-block */
    const size_t pblock = KQ_BLOCK(ns);
    const uint8_t *xv = xp + 256 * co, *xd = xp + ACT_D + 4 * co, *xs = xp + ACT_SUMS + 32 * co;
    __m512 f[GK_IGEMM_COLS];
#pragma GCC unroll 8
    for (int c = 0; c < cn; c++) f[c] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pb = panel + (size_t)b * pblock, *ps = pb + KQ_QBYTES, *pp = ps + 64 * ns;
        const size_t xb = (size_t)b * GK_IGEMM_ACT_K_BYTES;
        __m512i a[GK_IGEMM_COLS];
        __m512 acc[GK_IGEMM_COLS];
        /* the offset term: int16 pairs × the column's pairs of 16-sums */
#pragma GCC unroll 8
        for (int c = 0; c < cn; c++) a[c] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            const __m512i p = _mm512_loadu_si512(pp + 64 * k);
#pragma GCC unroll 8
            for (int c = 0; c < cn; c++)
                a[c] = _mm512_dpwssd_epi32(a[c], p, _mm512_set1_epi32(gk_ld_i32(xs + xb + 32 * c + 4 * k)));
        }
        const __m512 cf = _mm512_loadu_ps((const float *)(pp + KQ_PAIRS));
#pragma GCC unroll 8
        for (int c = 0; c < cn; c++) acc[c] = _mm512_mul_ps(_mm512_cvtepi32_ps(a[c]), cf);
        for (int s = 0; s < ns; s++) {
            const uint8_t *q = pb + (size_t)s * gs * 64, *x = xv + xb + (size_t)s * gs * 4;
            /* a zeroing idiom for each (no uop at all): gcc would copy one zero register, a uop
             * per sub-block and column (~5% of Q6_K's kernel, measured) */
#pragma GCC unroll 8
            for (int c = 0; c < cn; c++) __asm__("vpxord %0, %0, %0" : "=v"(a[c]));
#pragma GCC unroll 8
            for (int g = 0; g < gs; g++) {
                const __m512i p = _mm512_loadu_si512(q + 64 * g);
#pragma GCC unroll 8
                for (int c = 0; c < cn; c++)
                    a[c] = _mm512_dpbusd_epi32(a[c], p, _mm512_set1_epi32(gk_ld_i32(x + 256 * c + 4 * g)));
            }
            const __m512 sc = _mm512_loadu_ps((const float *)(ps + 64 * s));
#pragma GCC unroll 8
            for (int c = 0; c < cn; c++) acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[c]), sc, acc[c]);
        }
#pragma GCC unroll 8
        for (int c = 0; c < cn; c++) {
            float d;
            memcpy(&d, xd + xb + 4 * c, 4);
            f[c] = _mm512_fmadd_ps(acc[c], _mm512_set1_ps(d), f[c]);
        }
    }
    gk_igemm_add_columns(y, ldy, cn, rows, f);
}

V_INLINE void kq_kernel(int ns, int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                        int64_t ldy, int nr) {
    const __mmask16 rows = (__mmask16)((1u << nr) - 1u);
    const uint8_t *p = panel;
#define COLS(n, xg, co, yc) kq_cols(ns, n, nb, p, xg, co, yc, ldy, rows)
    GK_IGEMM_FOR_COLUMNS(nc, (const uint8_t *)xp, group_bytes, y, ldy, GK_IGEMM_COLS, COLS);
#undef COLS
}

void gk_avx512_igemm_q4_k(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                          int64_t ldy, int nr) {
    kq_kernel(Q4K_SUBS, nb, panel, xp, group_bytes, nc, y, ldy, nr);
}

void gk_avx512_igemm_q6_k(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                          int64_t ldy, int nr) {
    kq_kernel(Q6K_SUBS, nb, panel, xp, group_bytes, nc, y, ldy, nr);
}

_Static_assert(KQ_BLOCK(Q4K_SUBS) == GK_AVX512_IGEMM_Q4_K_BLOCK, "Q4_K panel size (avx512.h)");
_Static_assert(KQ_BLOCK(Q6K_SUBS) == GK_AVX512_IGEMM_Q6_K_BLOCK, "Q6_K panel size (avx512.h)");
