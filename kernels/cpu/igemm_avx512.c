/* Packed integer GEMM for Q4_0 and Q8_0 weights × Q8_0 activations with AVX-512 VNNI (the
 * many-column path of cpu_matmul.c; layout in ukernel.h, gk_igemm_fn).
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

#include "kernels/cpu/ukernel_avx512.h"

#define V_INLINE static inline __attribute__((always_inline))

enum {
    IG_ROWS = 16,
    IG_QBYTES = IG_ROWS * 32,                 /* unsigned weights of one block */
    IG_BLOCK = IG_QBYTES + IG_ROWS * 4,       /* + the 16 row scales as float */
    IG_COLS = 8,
    Q8_BYTES = 34,                            /* Q8_0 block: f16 scale, 32 int8 */
    Q4_BYTES = 18,                            /* Q4_0 block: f16 scale, 16 bytes of nibbles */
};

V_INLINE float ld_f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* One block of 16 rows: unsigned weights into q[r][0..32), scales into sc[r]. */
V_INLINE void unpack_rows(int is_q4, const uint8_t *w, size_t wrow, int rows, int64_t blk, uint8_t q[IG_ROWS][32],
                          float sc[IG_ROWS]) {
    for (int r = 0; r < IG_ROWS; r++) {
        if (r >= rows) {
            memset(q[r], 0, 32);
            sc[r] = 0.0f;
            continue;
        }
        const uint8_t *b = w + (size_t)r * wrow + (size_t)blk * (is_q4 ? Q4_BYTES : Q8_BYTES);
        sc[r] = ld_f16(b);
        if (is_q4) {   /* element i is the low nibble of byte i, element i+16 the high one */
            __m128i v = _mm_loadu_si128((const __m128i *)(b + 2)), m = _mm_set1_epi8(0x0f);
            _mm_storeu_si128((__m128i *)q[r], _mm_and_si128(v, m));
            _mm_storeu_si128((__m128i *)(q[r] + 16), _mm_and_si128(_mm_srli_epi16(v, 4), m));
        } else {
            __m256i v = _mm256_loadu_si256((const __m256i *)(b + 2));
            _mm256_storeu_si256((__m256i *)q[r], _mm256_xor_si256(v, _mm256_set1_epi8((char)0x80)));
        }
    }
}

V_INLINE void ig_pack(int is_q4, const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    for (int64_t b = 0; b < nb; b++) {
        uint8_t q[IG_ROWS][32];
        float sc[IG_ROWS];
        unpack_rows(is_q4, (const uint8_t *)w, wrow, rows, b0 + b, q, sc);
        /* q[r] as 8 dwords is row r's groups; the panel is group-major (a 16×8 dword transpose) */
        uint8_t *dst = (uint8_t *)panel + (size_t)b * IG_BLOCK;
        for (int g = 0; g < 8; g++)
            for (int r = 0; r < IG_ROWS; r++) memcpy(dst + g * 64 + r * 4, q[r] + 4 * g, 4);
        memcpy(dst + IG_QBYTES, sc, sizeof sc);
    }
}

V_INLINE __m512i bcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* cn (a constant after inlining) columns × one panel over nb blocks, added into y. */
V_INLINE void ig_cols(int cn, int off, int64_t nb, const uint8_t *panel, const uint8_t *xq, size_t x_stride,
                      const float *xd, const int32_t *xs, int64_t xa, float *y, int64_t ldy, __mmask16 rows) {
    __m512 f[IG_COLS];
#pragma GCC unroll 8
    for (int c = 0; c < cn; c++) f[c] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pb = panel + (size_t)b * IG_BLOCK;
        const uint8_t *xb = xq + (size_t)b * Q8_BYTES + 2;
        __m512i a[IG_COLS];
#pragma GCC unroll 8
        for (int c = 0; c < cn; c++) a[c] = _mm512_set1_epi32(-off * xs[c * xa + b]);
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512i p = _mm512_loadu_si512(pb + 64 * g);
#pragma GCC unroll 8
            for (int c = 0; c < cn; c++) a[c] = _mm512_dpbusd_epi32(a[c], p, bcast4(xb + (size_t)c * x_stride + 4 * g));
        }
        __m512 ws = _mm512_loadu_ps((const float *)(pb + IG_QBYTES));
#pragma GCC unroll 8
        for (int c = 0; c < cn; c++)
            f[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[c]), _mm512_mul_ps(ws, _mm512_set1_ps(xd[c * xa + b])), f[c]);
    }
#pragma GCC unroll 8
    for (int c = 0; c < cn; c++) {
        float *yc = y + (int64_t)c * ldy;
        _mm512_mask_storeu_ps(yc, rows, _mm512_add_ps(_mm512_maskz_loadu_ps(rows, yc), f[c]));
    }
}

V_INLINE void ig_kernel(int off, int64_t nb, const void *panel, const void *xq, size_t x_stride, const float *xd,
                        const int32_t *xs, int64_t xa, int nc, float *y, int64_t ldy, int nr) {
    const __mmask16 rows = (__mmask16)((1u << nr) - 1u);
    const uint8_t *p = panel, *x = xq;
#define IG_COLS_AT(cn, c) \
    ig_cols(cn, off, nb, p, x + (size_t)(c) * x_stride, x_stride, xd + (c) * xa, xs + (c) * xa, xa, y + (c) * ldy, ldy, rows)
    int c = 0;
    for (; c + 8 <= nc; c += 8) IG_COLS_AT(8, c);
    if (c + 4 <= nc) IG_COLS_AT(4, c), c += 4;   /* the rest as 4 + 2 + 1 */
    if (c + 2 <= nc) IG_COLS_AT(2, c), c += 2;
    if (c < nc) IG_COLS_AT(1, c);
#undef IG_COLS_AT
}

void gk_avx512_igemm_pack_q4_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    ig_pack(1, w, wrow, rows, b0, nb, panel);
}

void gk_avx512_igemm_pack_q8_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel) {
    ig_pack(0, w, wrow, rows, b0, nb, panel);
}

void gk_avx512_igemm_q4_0(int64_t nb, const void *panel, const void *xq, size_t x_stride, const float *xd,
                          const int32_t *xs, int64_t xa_stride, int nc, float *y, int64_t ldy, int nr) {
    ig_kernel(8, nb, panel, xq, x_stride, xd, xs, xa_stride, nc, y, ldy, nr);
}

void gk_avx512_igemm_q8_0(int64_t nb, const void *panel, const void *xq, size_t x_stride, const float *xd,
                          const int32_t *xs, int64_t xa_stride, int nc, float *y, int64_t ldy, int nr) {
    ig_kernel(128, nb, panel, xq, x_stride, xd, xs, xa_stride, nc, y, ldy, nr);
}
