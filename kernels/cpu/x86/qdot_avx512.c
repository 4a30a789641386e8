/* Q4_0 and Q8_0 weights · Q8_0 activations with AVX-512 VNNI (256-bit vpdpbusd, AVX512VL):
 * one instruction per 32-byte product instead of AVX2's maddubs + madd (+ sign fix-ups).
 *
 * vpdpbusd multiplies unsigned by signed bytes, so the weights are made unsigned and the offset
 * is taken back through the activation sums, computed once per activation block and shared by
 * every weight row of a tile:
 *   Q4_0: q in 0..15,            Σ (q-8)·y   = Σ q·y   - 8·Σ y
 *   Q8_0: w+128 in 0..255 (xor), Σ w·y       = Σ (w+128)·y - 128·Σ y
 * Products and sums fit int32 (255·128·32 per block). Starting the accumulator at -c·Σy folds
 * the correction into the same instruction. Only called after the CPU was checked for
 * AVX512F/BW/VL/DQ and VNNI (ukernels_avx512.c). */
#include "kernels/cpu/x86/qdot_avx2.h"
#include "kernels/cpu/x86/avx512.h"

#define V_INLINE static inline __attribute__((always_inline))

/* Unsigned weight bytes of one block and the offset c their products carry. */
V_INLINE __m256i vn_weights(int fmt, const uint8_t *blk) {
    if (fmt == QF_Q4_0) return qd_nibbles(blk + 2);
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 2)), _mm256_set1_epi8((char)0x80));
}

/* -c·Σy in eight int32 lanes (c = 8 for Q4_0, 128 for Q8_0): c as the unsigned operand. */
V_INLINE __m256i vn_offset(int fmt, __m256i y) {
    __m256i c = _mm256_set1_epi8(fmt == QF_Q4_0 ? 8 : (char)0x80);
    return _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), c, y));
}

V_INLINE __m256 vn_block_dot(int fmt, const uint8_t *w, const uint8_t *x) {
    __m256i y = qd_act(x);
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(vn_offset(fmt, y), vn_weights(fmt, w), y));
}

/* As qd_vec_dot: four blocks per step, scales converted four at a time, four accumulators. */
V_INLINE float vn_vec_dot(int fmt, int64_t k, const uint8_t *w, const uint8_t *x) {
    const int64_t nb = k / 32;
    const size_t wb = qd_bytes(fmt), xb = GK_Q8_0_BYTES;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4, w += 4 * wb, x += 4 * xb) {
        gk_prefetch_ahead(w, wb > 18 ? 2 : 1);   /* 72 or 136 bytes per step */
        __m128 s = _mm_mul_ps(qd_f16x4s(w, wb), qd_f16x4s(x, xb));
        a0 = _mm256_fmadd_ps(qd_lane(s, 0), vn_block_dot(fmt, w, x), a0);
        a1 = _mm256_fmadd_ps(qd_lane(s, 1), vn_block_dot(fmt, w + wb, x + xb), a1);
        a2 = _mm256_fmadd_ps(qd_lane(s, 2), vn_block_dot(fmt, w + 2 * wb, x + 2 * xb), a2);
        a3 = _mm256_fmadd_ps(qd_lane(s, 3), vn_block_dot(fmt, w + 3 * wb, x + 3 * xb), a3);
    }
    for (; b < nb; b++, w += wb, x += xb)
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(gk_ld_f16(w) * gk_ld_f16(x)), vn_block_dot(fmt, w, x), a0);
    return gk_hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

/* Four rows · four columns, as qd_tile4x4: per block each column's offset is computed once and
 * each of the sixteen products is one vpdpbusd. */
V_INLINE void vn_tile4x4(int fmt, int64_t k, const uint8_t *const wr[4], const uint8_t *const xc[4], float out[16]) {
    const int64_t nb = k / 32;
    const size_t wb = qd_bytes(fmt);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < nb; b++) {
        const size_t o = (size_t)b * wb, ox = (size_t)b * GK_Q8_0_BYTES;
        __m256i y0 = qd_act(xc[0] + ox), y1 = qd_act(xc[1] + ox), y2 = qd_act(xc[2] + ox), y3 = qd_act(xc[3] + ox);
        __m256i o0 = vn_offset(fmt, y0), o1 = vn_offset(fmt, y1), o2 = vn_offset(fmt, y2), o3 = vn_offset(fmt, y3);
        __m256 dx = qd_f16x4(xc[0] + ox, xc[1] + ox, xc[2] + ox, xc[3] + ox);
        const __m128 dw4 = qd_f16x4v(wr[0] + o, wr[1] + o, wr[2] + o, wr[3] + o);
        /* Unrolled so the four accumulators stay in registers: GCC 12 left this loop rolled, with
         * acc[] on the stack and every FMA waiting on a store-to-load round trip. */
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const uint8_t *blk = wr[r] + o;
            __m256i q = vn_weights(fmt, blk);
            __m256i p = gk_hadd4_epi32(_mm256_dpbusd_epi32(o0, q, y0), _mm256_dpbusd_epi32(o1, q, y1),
                                       _mm256_dpbusd_epi32(o2, q, y2), _mm256_dpbusd_epi32(o3, q, y3));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(qd_lane(dw4, r), dx), acc[r]);
        }
    }
    for (int r = 0; r < 4; r++) _mm_storeu_ps(out + 4 * r, gk_fold_halves(acc[r]));
}

V_INLINE void vn_dot_tile(int fmt, int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                          size_t x_stride, int nc, float *y, int64_t ldy) {
    const uint8_t *wr[4], *xc[4];
    for (int r = 0; r < 4; r++) wr[r] = (const uint8_t *)w + (size_t)(r < nr ? r : nr - 1) * w_stride;
    for (int c0 = 0; c0 < nc; c0 += 4) {
        int n = nc - c0 < 4 ? nc - c0 : 4;
        if (n == 1) {   /* one column: rows one after another (one sequential stream) */
            const uint8_t *xb = (const uint8_t *)xq + (size_t)c0 * x_stride;
            for (int r = 0; r < nr; r++)
                y[(int64_t)c0 * ldy + r] = vn_vec_dot(fmt, k, (const uint8_t *)w + (size_t)r * w_stride, xb);
            continue;
        }
        float out[16];
        for (int c = 0; c < 4; c++) xc[c] = (const uint8_t *)xq + (size_t)(c0 + (c < n ? c : n - 1)) * x_stride;
        vn_tile4x4(fmt, k, wr, xc, out);
        for (int c = 0; c < n; c++)
            for (int r = 0; r < nr; r++) y[(int64_t)(c0 + c) * ldy + r] = out[r * 4 + c];
    }
}

void gk_avx512_vec_dot_q4_0(int64_t k, const void *w, const void *xq, float *out) {
    *out = vn_vec_dot(QF_Q4_0, k, w, xq);
}

void gk_avx512_dot_tile_q4_0(int64_t k, const void *w, size_t w_stride, int nr, const void *xq, size_t x_stride,
                             int nc, float *y, int64_t ldy) {
    vn_dot_tile(QF_Q4_0, k, w, w_stride, nr, xq, x_stride, nc, y, ldy);
}

void gk_avx512_vec_dot_q8_0(int64_t k, const void *w, const void *xq, float *out) {
    *out = vn_vec_dot(QF_Q8_0, k, w, xq);
}

void gk_avx512_dot_tile_q8_0(int64_t k, const void *w, size_t w_stride, int nr, const void *xq, size_t x_stride,
                             int nc, float *y, int64_t ldy) {
    vn_dot_tile(QF_Q8_0, k, w, w_stride, nr, xq, x_stride, nc, y, ldy);
}
