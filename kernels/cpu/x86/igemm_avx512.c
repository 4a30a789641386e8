/* Packed integer GEMM for Q4_0 and Q8_0 weights × Q8_0 activations with AVX-512 VNNI (the
 * many-column path of cpu_matmul.c; layout in microkernels.h, gk_igemm_fn).
 *
 * Vector lanes are weight rows: a panel stores, for each group of four inputs, the four
 * unsigned weight bytes of each of 16 rows (64 bytes), so one vpdpbusd with four activation
 * bytes of one column broadcast adds 4 products to each of 16 rows, with no horizontal sum.
 * As in qdot_avx512.c the weights are unsigned (Q4_0: q, offset 8; Q8_0: w+128, offset 128) and
 * the offset comes back through the column's block sum: the int32 accumulator of a block starts
 * at -offset·Σy, so the integer sums are exactly those of the dot kernels. Per block and column
 * the sum is converted and scaled by (16 row scales) × (column scale) into a float accumulator.
 * Eight columns at a time: 8 int32 + 8 float accumulators, each panel vector used 8 times.
 * Only called after the CPU was checked for AVX512F/BW/VL/DQ and VNNI (ukernels_avx512.c). */
#include <immintrin.h>
#include <string.h>

#include "kernels/cpu/x86/simd_avx2.h"
#include "kernels/cpu/microkernels.h"
#include "kernels/cpu/x86/avx512.h"
#include "kernels/cpu/x86/igemm_avx512.h"
#include "kernels/cpu/x86/igemm_columns.h"

#define V_INLINE static inline __attribute__((always_inline))

enum {
    IG_ROWS = 16,
    IG_QBYTES = IG_ROWS * 32,                 /* unsigned weights of one block */
    IG_BLOCK = IG_QBYTES + IG_ROWS * 4,       /* + the 16 row scales as float */
    IG_COLS = GK_IGEMM_COLS,
    Q8_BYTES = 34,                            /* Q8_0 block: f16 scale, 32 int8 */
    Q4_BYTES = 18,                            /* Q4_0 block: f16 scale, 16 bytes of nibbles */
};

/* Unsigned weight bytes of rows r and r+1 of one block (zero past the packed rows), as 16 dwords:
 * row r's groups 0..7 then row r+1's. */
V_INLINE __m512i two_rows(int is_q4, const uint8_t *w, size_t wrow, int rows, int r, size_t off) {
    /* pointers formed only for rows that exist */
#define ROW(i) (w + (size_t)(i) * wrow + off + 2)
    if (is_q4) {   /* element i is the low nibble of byte i, element i+16 the high one */
        __m128i va = r < rows ? _mm_loadu_si128((const __m128i *)ROW(r)) : _mm_setzero_si128();
        __m128i vb = r + 1 < rows ? _mm_loadu_si128((const __m128i *)ROW(r + 1)) : _mm_setzero_si128();
        __m512i x = _mm512_castsi256_si512(_mm256_set_m128i(vb, va));
        x = _mm512_shuffle_i64x2(x, x, _MM_SHUFFLE(1, 1, 0, 0));   /* a, a, b, b */
        x = _mm512_mask_blend_epi64(0xcc, x, _mm512_srli_epi16(x, 4));   /* lanes 1, 3: high nibbles */
        return _mm512_and_si512(x, _mm512_set1_epi8(0x0f));
    }
    __m256i va = r < rows ? _mm256_loadu_si256((const __m256i *)ROW(r)) : _mm256_set1_epi8((char)0x80);
    __m256i vb = r + 1 < rows ? _mm256_loadu_si256((const __m256i *)ROW(r + 1)) : _mm256_set1_epi8((char)0x80);
#undef ROW
    __m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(va), vb, 1);
    return _mm512_xor_si512(x, _mm512_set1_epi8((char)0x80));
}

/* The row scales of one block as float, 0 past the packed rows. */
V_INLINE __m512 row_scales(const uint8_t *w, size_t wrow, int rows, size_t off) {
    uint16_t h[IG_ROWS];
    for (int r = 0; r < IG_ROWS; r++) {
        h[r] = 0;
        if (r < rows) memcpy(&h[r], w + (size_t)r * wrow + off, 2);
    }
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
}

/* Rows as loaded (two per register, 8 dword groups each) to the panel's group-major order
 * (igemm_avx512.h), then the 16 row scales. */
V_INLINE void ig_pack(int is_q4, const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    const uint8_t *wb = (const uint8_t *)w;
    const size_t bb = is_q4 ? Q4_BYTES : Q8_BYTES;
    for (int64_t b = 0; b < nb; b++) {
        const size_t off = (size_t)(b0 + b) * bb;
        uint8_t *dst = (uint8_t *)panel + (size_t)b * IG_BLOCK;
        __m512i a[8];
        for (int k = 0; k < 8; k++) a[k] = two_rows(is_q4, wb, wrow, rows, 2 * k, off);
        gk_igemm_transpose16x8(a, dst);
        _mm512_storeu_ps((float *)(dst + IG_QBYTES), row_scales(wb, wrow, rows, off));
    }
}


/* cn (a constant after inlining) columns of one activation group, from column co, × one panel
 * over nb blocks, added into y. Every activation operand is at a constant offset from one
 * pointer, so the column addresses need no registers. */
V_INLINE void ig_cols(int cn, int off, int64_t nb, const uint8_t *panel, const uint8_t *xp, int co, float *y,
                      int64_t ldy, __mmask16 rows) {
    const uint8_t *xv = xp + 32 * co, *xs = xp + 8 * 32 + 4 * co;   /* values; scales then sums */
    __m512 f[IG_COLS];
#pragma GCC unroll 8
    for (int c = 0; c < cn; c++) f[c] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pb = panel + (size_t)b * IG_BLOCK;
        const size_t xb = (size_t)b * GK_IGEMM_ACT_BYTES;
        __m512i a[IG_COLS];
#pragma GCC unroll 8
        for (int c = 0; c < cn; c++) a[c] = _mm512_set1_epi32(-off * gk_ld_i32(xs + xb + 32 + 4 * c));
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512i p = _mm512_loadu_si512(pb + 64 * g);
#pragma GCC unroll 8
            for (int c = 0; c < cn; c++)
                a[c] = _mm512_dpbusd_epi32(a[c], p, _mm512_set1_epi32(gk_ld_i32(xv + xb + 32 * c + 4 * g)));
        }
        __m512 ws = _mm512_loadu_ps((const float *)(pb + IG_QBYTES));
#pragma GCC unroll 8
        for (int c = 0; c < cn; c++) {
            float d;
            memcpy(&d, xs + xb + 4 * c, 4);
            f[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[c]), _mm512_mul_ps(ws, _mm512_set1_ps(d)), f[c]);
        }
    }
    gk_igemm_add_columns(y, ldy, cn, rows, f);
}

V_INLINE void ig_kernel(int off, int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                        int64_t ldy, int nr) {
    const __mmask16 rows = (__mmask16)((1u << nr) - 1u);
    const uint8_t *p = panel;
#define COLS(n, xg, co, yc) ig_cols(n, off, nb, p, xg, co, yc, ldy, rows)
    GK_IGEMM_FOR_COLUMNS(nc, (const uint8_t *)xp, group_bytes, y, ldy, GK_IGEMM_COLS, COLS);
#undef COLS
}

void gk_avx512_igemm_pack_q4_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    ig_pack(1, w, wrow, rows, b0, nb, panel);
}

void gk_avx512_igemm_pack_q8_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    ig_pack(0, w, wrow, rows, b0, nb, panel);
}

void gk_avx512_igemm_q4_0(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                          int64_t ldy, int nr) {
    ig_kernel(8, nb, panel, xp, group_bytes, nc, y, ldy, nr);
}

void gk_avx512_igemm_q8_0(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                          int64_t ldy, int nr) {
    ig_kernel(128, nb, panel, xp, group_bytes, nc, y, ldy, nr);
}
