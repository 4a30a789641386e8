/* Float weights (F32, F16, BF16) · F32 activations, conversions and vector helpers, AVX2 +
 * FMA + F16C. Matrix-vector products stream the weights one row at a time with four
 * accumulators; a few columns (below the driver's sgemm threshold) use a 2×4 register tile.
 * Tails (k not a multiple of 8) are finished in scalar code. */
#include <stdbool.h>

#include "kernels/cpu/x86/simd_avx2.h"
#include "kernels/cpu/x86/avx2.h"

#define FL_INLINE static inline __attribute__((always_inline))
/* stream: w is a weight row read from memory (matrix-vector), so prefetch ahead of it; the
 * vector helpers (attention over short cached rows) leave it off. */
FL_INLINE float fw_vec_dot(int fmt, bool stream, int64_t k, const uint8_t *w, const float *x) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        if (stream) gk_prefetch_ahead(w + (fmt == GK_F32 ? 4 : 2) * i, fmt == GK_F32 ? 2 : 1);
        a0 = _mm256_fmadd_ps(gk_ld8_float(fmt, w, i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(gk_ld8_float(fmt, w, i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(gk_ld8_float(fmt, w, i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(gk_ld8_float(fmt, w, i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= k; i += 8) a0 = _mm256_fmadd_ps(gk_ld8_float(fmt, w, i), _mm256_loadu_ps(x + i), a0);
    float s = gk_hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < k; i++) s += gk_ld1_float(fmt, w, i) * x[i];
    return s;
}

/* Two weight rows × four activation columns (pointers, possibly repeated): eight accumulators;
 * each step of eight converts two weight vectors and loads four activation vectors for eight
 * FMAs, so the FMA ports, not the conversions, set the pace. out[r*4 + c]. */
FL_INLINE void fw_tile2x4(int fmt, int64_t k, const uint8_t *const wr[2], const float *const xc[4], float out[8]) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 w0 = gk_ld8_float(fmt, wr[0], i), w1 = gk_ld8_float(fmt, wr[1], i);
        __m256 x0 = _mm256_loadu_ps(xc[0] + i), x1 = _mm256_loadu_ps(xc[1] + i);
        __m256 x2 = _mm256_loadu_ps(xc[2] + i), x3 = _mm256_loadu_ps(xc[3] + i);
        a00 = _mm256_fmadd_ps(w0, x0, a00);
        a01 = _mm256_fmadd_ps(w0, x1, a01);
        a02 = _mm256_fmadd_ps(w0, x2, a02);
        a03 = _mm256_fmadd_ps(w0, x3, a03);
        a10 = _mm256_fmadd_ps(w1, x0, a10);
        a11 = _mm256_fmadd_ps(w1, x1, a11);
        a12 = _mm256_fmadd_ps(w1, x2, a12);
        a13 = _mm256_fmadd_ps(w1, x3, a13);
    }
    const __m256 acc[8] = {a00, a01, a02, a03, a10, a11, a12, a13};
    for (int j = 0; j < 8; j++) {
        float s = gk_hsum_ps(acc[j]);
        for (int64_t t = i; t < k; t++) s += gk_ld1_float(fmt, wr[j / 4], t) * xc[j % 4][t];
        out[j] = s;
    }
}

FL_INLINE void fw_dot_tile(int fmt, int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                           size_t x_stride, int nc, float *y, int64_t ldy) {
    if (nc == 1) {
        /* One column of a tile: one row after another (four interleaved neighbouring rows
         * measured about half the DRAM bandwidth on the machine this was written on). Decode's
         * M = 1 goes to gk_avx2_matvec_* instead: four rows from four quarters of the matrix. */
        for (int r = 0; r < nr; r++)
            y[r] = fw_vec_dot(fmt, true, k, (const uint8_t *)w + (size_t)r * w_stride, xq);
        return;
    }
    for (int r0 = 0; r0 < nr; r0 += 2) {
        int n = nr - r0 < 2 ? nr - r0 : 2;
        const uint8_t *wr[2];
        for (int r = 0; r < 2; r++) wr[r] = (const uint8_t *)w + (size_t)(r0 + (r < n ? r : n - 1)) * w_stride;
        for (int c0 = 0; c0 < nc; c0 += 4) {
            int m = nc - c0 < 4 ? nc - c0 : 4;
            const float *xc[4];
            for (int c = 0; c < 4; c++)
                xc[c] = (const float *)(const void *)((const uint8_t *)xq + (size_t)(c0 + (c < m ? c : m - 1)) * x_stride);
            float out[8];
            fw_tile2x4(fmt, k, wr, xc, out);
            for (int c = 0; c < m; c++)
                for (int r = 0; r < n; r++) y[(int64_t)(c0 + c) * ldy + r0 + r] = out[r * 4 + c];
        }
    }
}

#define FW_ENTRIES(name, FMT)                                                                   \
    void gk_avx2_vec_dot_##name(int64_t k, const void *w, const void *xq, float *out) {        \
        *out = fw_vec_dot(FMT, true, k, w, xq);                                                \
    }                                                                                          \
    void gk_avx2_dot_tile_##name(int64_t k, const void *w, size_t w_stride, int nr,            \
                                 const void *xq, size_t x_stride, int nc, float *y, int64_t ldy) { \
        fw_dot_tile(FMT, k, w, w_stride, nr, xq, x_stride, nc, y, ldy);                        \
    }
FW_ENTRIES(f32, GK_F32)
FW_ENTRIES(f16, GK_F16)
FW_ENTRIES(bf16, GK_BF16)

/* ---- conversions ---------------------------------------------------------------------------- */

void gk_avx2_f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) y[i] = _cvtsh_ss(x[i]);
}

/* Round to nearest even, as gk_f32_to_f16. */
void gk_avx2_f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

void gk_avx2_bf16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, gk_ld8_float(GK_BF16, (const uint8_t *)(x + i), 0));
    for (; i < n; i++) y[i] = gk_ld1_float(GK_BF16, (const uint8_t *)(x + i), 0);
}

/* ---- vector helpers --------------------------------------------------------------------------- */

float gk_avx2_dot_f32(const float *a, const float *b, int64_t n) {
    return fw_vec_dot(GK_F32, false, n, (const uint8_t *)a, b);
}

float gk_avx2_dot_f32_f16(const float *a, const uint16_t *b, int64_t n) {
    return fw_vec_dot(GK_F16, false, n, (const uint8_t *)b, a);
}

void gk_avx2_axpy_f32(float a, const float *x, float *y, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

/* Q8_0 KV rows: 32 int8 of a block widened to four 8-float vectors, scaled once per block. */
static inline __m256 q8_0_part(const uint8_t *qs, int j) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qs + 8 * j))));
}

float gk_avx2_dot_f32_q8_0(const float *a, const void *b, int64_t n) {
    const uint8_t *blk = b;
    __m256 s = _mm256_setzero_ps();
    for (int64_t i0 = 0; i0 < n; i0 += 32, blk += 34) {
        __m256 p = _mm256_mul_ps(_mm256_loadu_ps(a + i0), q8_0_part(blk + 2, 0));
        p = _mm256_fmadd_ps(_mm256_loadu_ps(a + i0 + 8), q8_0_part(blk + 2, 1), p);
        p = _mm256_fmadd_ps(_mm256_loadu_ps(a + i0 + 16), q8_0_part(blk + 2, 2), p);
        p = _mm256_fmadd_ps(_mm256_loadu_ps(a + i0 + 24), q8_0_part(blk + 2, 3), p);
        s = _mm256_fmadd_ps(_mm256_set1_ps(gk_ld_f16(blk)), p, s);
    }
    return gk_hsum_ps(s);
}

void gk_avx2_axpy_q8_0(float a, const void *x, float *y, int64_t n) {
    const uint8_t *blk = x;
    for (int64_t i0 = 0; i0 < n; i0 += 32, blk += 34) {
        const __m256 ad = _mm256_set1_ps(a * gk_ld_f16(blk));
        for (int j = 0; j < 4; j++)
            _mm256_storeu_ps(y + i0 + 8 * j, _mm256_fmadd_ps(ad, q8_0_part(blk + 2, j), _mm256_loadu_ps(y + i0 + 8 * j)));
    }
}

/* 64 outputs at a time in eight accumulators that stay in registers over all rows (axpy_f16
 * per row loads and stores them for every row); then 8 at a time, then one. */
void gk_avx2_axpy_rows_f16(const float *a, const uint16_t *x, size_t stride, int64_t rows, float *y, int64_t n) {
    int64_t d = 0;
    for (; d + 64 <= n; d += 64) {
        __m256 acc[8];
        for (int c = 0; c < 8; c++) acc[c] = _mm256_loadu_ps(y + d + 8 * c);
        for (int64_t i = 0; i < rows; i++) {
            const uint16_t *xi = x + i * stride + d;
            const __m256 va = _mm256_set1_ps(a[i]);
#pragma GCC unroll 8
            for (int c = 0; c < 8; c++)
                acc[c] = _mm256_fmadd_ps(va, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(xi + 8 * c))), acc[c]);
        }
        for (int c = 0; c < 8; c++) _mm256_storeu_ps(y + d + 8 * c, acc[c]);
    }
    for (; d + 8 <= n; d += 8) {
        __m256 acc = _mm256_loadu_ps(y + d);
        for (int64_t i = 0; i < rows; i++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i]), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i * stride + d))), acc);
        _mm256_storeu_ps(y + d, acc);
    }
    for (; d < n; d++)
        for (int64_t i = 0; i < rows; i++) y[d] += a[i] * _cvtsh_ss(x[i * stride + d]);
}

void gk_avx2_axpy_f16(float a, const uint16_t *x, float *y, int64_t n) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, xv, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * _cvtsh_ss(x[i]);
}
