/* The integer-dot core shared by the 32-element block formats (Q4_0, Q4_1, Q8_0) against Q8_0
 * activations, for AVX2 files only. Each format is a compile-time constant `fmt`, so the
 * always-inline functions below fold into one straight kernel per format.
 *
 * Per block the weights become 32 bytes s (signed for Q4_0/Q8_0: q-8 or q; unsigned 0..15 for
 * Q4_1), and gk_dot_i8(s, y) gives Σ s·y in eight int32 lanes (maddubs of |s| with y carrying
 * s's sign: the products fit int16 since |s| <= 128 and |y| <= 127). The float result of a
 * block is d_w·d_x·Σ s·y, plus m_w·d_x·Σ y for Q4_1 (x = d·q + m).
 *
 * Tiles keep one accumulator per weight row whose eight lanes hold four columns × two halves
 * (gk_hadd4_epi32), so a 4×4 tile needs four accumulators, not sixteen. Partial tiles repeat
 * the last valid row or column pointer and store only the valid results.
 */
#ifndef GK_QDOT_AVX2_H
#define GK_QDOT_AVX2_H
#include "kernels/cpu/x86/simd_avx2.h"

enum { QF_Q4_0, QF_Q4_1, QF_Q8_0 };
#define GK_Q8_0_BYTES 34

#define QD_INLINE static inline __attribute__((always_inline))

QD_INLINE size_t qd_bytes(int fmt) { return fmt == QF_Q4_0 ? 18 : fmt == QF_Q4_1 ? 20 : 34; }

/* 16 bytes of nibbles -> 32 bytes 0..15 (low nibbles = elements 0..15 first). The broadcast is
 * a load-port operation and the per-half shift one instruction, cheaper than shift + insert. */
QD_INLINE __m256i qd_nibbles(const uint8_t *qs) {
    __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    q = _mm256_srlv_epi64(q, _mm256_setr_epi64x(0, 0, 4, 4));
    return _mm256_and_si256(q, _mm256_set1_epi8(0x0f));
}

QD_INLINE __m256i qd_weights(int fmt, const uint8_t *blk) {
    if (fmt == QF_Q4_0) return _mm256_sub_epi8(qd_nibbles(blk + 2), _mm256_set1_epi8(8));
    if (fmt == QF_Q4_1) return qd_nibbles(blk + 4);
    return _mm256_loadu_si256((const __m256i *)(blk + 2));
}

QD_INLINE __m256i qd_act(const uint8_t *xb) { return _mm256_loadu_si256((const __m256i *)(xb + 2)); }

/* Σ y of one activation block as int32 lanes (Q4_1's min term). */
QD_INLINE __m256i qd_sum_i8(__m256i y) {
    __m256i p = _mm256_maddubs_epi16(_mm256_set1_epi8(1), y);
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* Four fp16 values at p0..p3 as four floats. Assembled in a general register (integer pipes
 * are idle here) and converted with one vcvtph2ps: per-value vpinsrw + vcvtph2ps cost more
 * vector uops than the integer dot itself. */
QD_INLINE __m128 qd_f16x4v(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3) {
    uint16_t h0, h1, h2, h3;
    memcpy(&h0, p0, 2);
    memcpy(&h1, p1, 2);
    memcpy(&h2, p2, 2);
    memcpy(&h3, p3, 2);
    uint64_t v = (uint64_t)h0 | (uint64_t)h1 << 16 | (uint64_t)h2 << 32 | (uint64_t)h3 << 48;
    return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)v));
}

/* The same in lanes 0..3 and again in 4..7. */
QD_INLINE __m256 qd_f16x4(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3) {
    __m128 f = qd_f16x4v(p0, p1, p2, p3);
    return _mm256_set_m128(f, f);
}

/* Four fp16 scales, `stride` bytes apart, as four floats. */
QD_INLINE __m128 qd_f16x4s(const uint8_t *p, size_t stride) {
    return qd_f16x4v(p, p + stride, p + 2 * stride, p + 3 * stride);
}

QD_INLINE __m256 qd_lane(__m128 s, int i) {
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(s), _mm256_set1_epi32(i));
}

/* One block's Σ s·y as eight float lanes. */
QD_INLINE __m256 qd_block_dot(int fmt, const uint8_t *w, const uint8_t *x) {
    if (fmt == QF_Q4_0) {
        /* Σ(q-8)·y = Σ q·y - Σ 8·y with q unsigned: two maddubs and a subtract replace the
         * subtract and two sign instructions. Pair sums stay within int16 (15·128·2). */
        __m256i y = qd_act(x);
        __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(qd_nibbles(w + 2), y),
                                     _mm256_maddubs_epi16(_mm256_set1_epi8(8), y));
        return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
    }
    return _mm256_cvtepi32_ps(gk_dot_i8(qd_weights(fmt, w), qd_act(x)));
}

/* One row · one column, four blocks per step: the four d_w·d_x come from one conversion each
 * side, and four accumulators keep the FMA latency (4 cycles) off the critical path. */
QD_INLINE float qd_vec_dot(int fmt, int64_t k, const uint8_t *w, const uint8_t *x) {
    const int64_t nb = k / 32;
    const size_t wb = qd_bytes(fmt), xb = GK_Q8_0_BYTES;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    float tail = 0;
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4, w += 4 * wb, x += 4 * xb) {
        gk_prefetch_ahead(w, wb > 18 ? 2 : 1);   /* 72, 80 or 136 bytes per step */
        __m128 dx = qd_f16x4s(x, xb);
        __m128 s = _mm_mul_ps(qd_f16x4s(w, wb), dx);
        a0 = _mm256_fmadd_ps(qd_lane(s, 0), qd_block_dot(fmt, w, x), a0);
        a1 = _mm256_fmadd_ps(qd_lane(s, 1), qd_block_dot(fmt, w + wb, x + xb), a1);
        a2 = _mm256_fmadd_ps(qd_lane(s, 2), qd_block_dot(fmt, w + 2 * wb, x + 2 * xb), a2);
        a3 = _mm256_fmadd_ps(qd_lane(s, 3), qd_block_dot(fmt, w + 3 * wb, x + 3 * xb), a3);
        if (fmt == QF_Q4_1) {
            /* m·d_x·Σy, Σy spread over eight int32 lanes. */
            __m128 m = _mm_mul_ps(qd_f16x4s(w + 2, wb), dx);
#pragma GCC unroll 4   /* constant lanes for qd_lane, as the other formats' four blocks */
            for (int i = 0; i < 4; i++)
                a0 = _mm256_fmadd_ps(qd_lane(m, i), _mm256_cvtepi32_ps(qd_sum_i8(qd_act(x + i * xb))), a0);
        }
    }
    for (; b < nb; b++, w += wb, x += xb) {
        float dx = gk_ld_f16(x);
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(gk_ld_f16(w) * dx), qd_block_dot(fmt, w, x), a0);
        if (fmt == QF_Q4_1) tail += gk_ld_f16(w + 2) * dx * (float)gk_hsum_epi32(qd_sum_i8(qd_act(x)));
    }
    return gk_hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) + tail;
}

/* Four rows · four columns: out[r*4 + c]. */
QD_INLINE void qd_tile4x4(int fmt, int64_t k, const uint8_t *const wr[4], const uint8_t *const xc[4],
                          float out[16]) {
    const int64_t nb = k / 32;
    const size_t wb = qd_bytes(fmt);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    for (int64_t b = 0; b < nb; b++) {
        const size_t o = (size_t)b * wb, ox = (size_t)b * GK_Q8_0_BYTES;
        __m256i y0 = qd_act(xc[0] + ox), y1 = qd_act(xc[1] + ox);
        __m256i y2 = qd_act(xc[2] + ox), y3 = qd_act(xc[3] + ox);
        __m256 dx = qd_f16x4(xc[0] + ox, xc[1] + ox, xc[2] + ox, xc[3] + ox);
        __m256 mterm = _mm256_setzero_ps();
        __m256i off = _mm256_setzero_si256();
        if (fmt == QF_Q4_0) {
            /* Σ(q-8)·y = Σ q·y - 8·Σy: with q unsigned each product is maddubs + madd (no sign
             * fix-up), and the 8·Σy of the four columns is subtracted once per row. */
            const __m256i eight = _mm256_set1_epi8(8), one = _mm256_set1_epi16(1);
            off = gk_hadd4_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(eight, y0), one),
                                 _mm256_madd_epi16(_mm256_maddubs_epi16(eight, y1), one),
                                 _mm256_madd_epi16(_mm256_maddubs_epi16(eight, y2), one),
                                 _mm256_madd_epi16(_mm256_maddubs_epi16(eight, y3), one));
        }
        if (fmt == QF_Q4_1) {
            __m256i sy = gk_hadd4_epi32(qd_sum_i8(y0), qd_sum_i8(y1), qd_sum_i8(y2), qd_sum_i8(y3));
            mterm = _mm256_mul_ps(dx, _mm256_cvtepi32_ps(sy));
        }
        const __m128 dw4 = qd_f16x4v(wr[0] + o, wr[1] + o, wr[2] + o, wr[3] + o);
        /* Unrolled so the four accumulators stay in registers: GCC 12 left this loop rolled, with
         * acc[] on the stack and every FMA waiting on a store-to-load round trip. */
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const uint8_t *wb_ = wr[r] + o;
            __m256i p;
            if (fmt == QF_Q4_0) {
                const __m256i q = qd_nibbles(wb_ + 2), one = _mm256_set1_epi16(1);
                p = gk_hadd4_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q, y0), one),
                                   _mm256_madd_epi16(_mm256_maddubs_epi16(q, y1), one),
                                   _mm256_madd_epi16(_mm256_maddubs_epi16(q, y2), one),
                                   _mm256_madd_epi16(_mm256_maddubs_epi16(q, y3), one));
                p = _mm256_sub_epi32(p, off);
            } else {
                __m256i s = qd_weights(fmt, wb_);
                p = gk_hadd4_epi32(gk_dot_i8(s, y0), gk_dot_i8(s, y1), gk_dot_i8(s, y2), gk_dot_i8(s, y3));
            }
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(qd_lane(dw4, r), dx), acc[r]);
            if (fmt == QF_Q4_1) acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(gk_ld_f16(wb_ + 2)), mterm, acc[r]);
        }
    }
    for (int r = 0; r < 4; r++) _mm_storeu_ps(out + 4 * r, gk_fold_halves(acc[r]));
}

/* The gk_dot_tile_fn contract on top of the two tiles: nr <= 4 rows, nc columns (any count,
 * taken four at a time). */
QD_INLINE void qd_dot_tile(int fmt, int64_t k, const void *w, size_t w_stride, int nr,
                           const void *xq, size_t x_stride, int nc, float *y, int64_t ldy) {
    const uint8_t *wr[4], *xc[4];
    for (int r = 0; r < 4; r++) wr[r] = (const uint8_t *)w + (size_t)(r < nr ? r : nr - 1) * w_stride;
    for (int c0 = 0; c0 < nc; c0 += 4) {
        int n = nc - c0 < 4 ? nc - c0 : 4;
        float out[16];
        if (n == 1) {
            /* One column (matrix-vector): rows one after another, so each thread reads one
             * sequential stream; four interleaved row streams measured ~2x slower from DRAM. */
            const uint8_t *xb = (const uint8_t *)xq + (size_t)c0 * x_stride;
            for (int r = 0; r < nr; r++)
                y[(int64_t)c0 * ldy + r] = qd_vec_dot(fmt, k, (const uint8_t *)w + (size_t)r * w_stride, xb);
            continue;
        }
        for (int c = 0; c < 4; c++)
            xc[c] = (const uint8_t *)xq + (size_t)(c0 + (c < n ? c : n - 1)) * x_stride;
        qd_tile4x4(fmt, k, wr, xc, out);
        for (int c = 0; c < n; c++)
            for (int r = 0; r < nr; r++) y[(int64_t)(c0 + c) * ldy + r] = out[r * 4 + c];
    }
}

#endif
