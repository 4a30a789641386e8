/* Q4_K and Q6_K weights · Q8_K activations, AVX2.
 *
 * Weights stay unsigned (Q4_K: 0..15, Q6_K: 0..63) so maddubs takes them as its unsigned
 * operand and the activations (which may be -128 in Q8_K) as the signed one; the products fit
 * int16. The offsets (Q4_K's per-sub-block minimum, Q6_K's -32) are applied once per
 * super-block through the activation block's bsums (sums of 16 values).
 *
 * Layouts (ggml block_q4_K, block_q6_K, block_q8_K):
 *   Q4_K (144 B): f16 d, f16 dmin, scales[12] (eight 6-bit scales and mins), qs[128]; each 64
 *     elements use 32 bytes of qs, low nibbles for the first 32, high for the next 32.
 *   Q6_K (210 B): ql[128], qh[64], int8 scales[16] (one per 16 elements), f16 d; per 128
 *     elements, element 32g+l takes ql[l + 32(g&1)] nibble g>>1 and qh[l] bits 2g..2g+1.
 *   Q8_K (292 B): f32 d, int8 qs[256], int16 bsums[16].
 * A row is processed against up to four activation columns at once so that the weight unpacking
 * and scale decoding are shared (dot_tile); vec_dot is the one-column case.
 * The loops over a super-block's parts (j, h, g) are unrolled by pragma: left as loops, GCC
 * built each part's scale-shuffle mask at run time (one-thread matvec from cache, Zen 3, before
 * -> after: Q4_K 14.2 -> 18.3 GB/s, Q6_K 14.2 -> 23.1).
 */
#include "kernels/cpu/x86/kquant_scales.h"
#include "kernels/cpu/x86/simd_avx2.h"
#include "kernels/cpu/x86/avx2.h"

#define KQ_INLINE static inline __attribute__((always_inline))
#define Q4K_BYTES 144
#define Q6K_BYTES 210
#define Q8K_BYTES 292

static inline __m256i load_bsums(const uint8_t *xb) {
    return _mm256_loadu_si256((const __m256i *)(xb + 260));
}

KQ_INLINE void q4k_row(int n, int64_t k, const uint8_t *w, const uint8_t *const xc[4], float out[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc[4];
    __m128 macc[4];
    for (int c = 0; c < n; c++) acc[c] = _mm256_setzero_ps(), macc[c] = _mm_setzero_ps();
    for (int64_t i = 0; i < k / 256; i++, w += Q4K_BYTES) {
        gk_prefetch_ahead(w, 3);   /* 144 bytes per super-block: up to three lines */
        const __m128i sm = gk_q4k_scales_mins(w + 4);
        const __m128i mins16 = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm));
        /* Both 128-bit halves hold the eight scales as int16; a byte shuffle broadcasts one. */
        const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
        const float d = gk_ld_f16(w), dmin = gk_ld_f16(w + 2);
        __m256i sumi[4];
        for (int c = 0; c < n; c++) sumi[c] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(w + 16 + 32 * j));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i s_lo = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j))));
            __m256i s_hi = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j + 1))));
            for (int c = 0; c < n; c++) {
                const uint8_t *y = xc[c] + (size_t)i * Q8K_BYTES + 4 + 64 * j;
                __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)y));
                __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y + 32)));
                sumi[c] = _mm256_add_epi32(sumi[c], _mm256_add_epi32(_mm256_madd_epi16(p0, s_lo),
                                                                     _mm256_madd_epi16(p1, s_hi)));
            }
        }
        for (int c = 0; c < n; c++) {
            const uint8_t *xb = xc[c] + (size_t)i * Q8K_BYTES;
            float dx = gk_ld_f32(xb);
            acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * dx), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
            /* Each min multiplies the sum of its 32 activations: two adjacent bsums (|sum| <= 4096
             * fits int16). */
            __m256i b = load_bsums(xb);
            __m128i ysum = _mm_hadd_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
            __m128 m = _mm_cvtepi32_ps(_mm_madd_epi16(ysum, mins16));
            macc[c] = _mm_fmadd_ps(_mm_set1_ps(dmin * dx), m, macc[c]);
        }
    }
    for (int c = 0; c < n; c++) {
        __m128 t = macc[c];
        t = _mm_add_ps(t, _mm_movehl_ps(t, t));
        t = _mm_add_ss(t, _mm_movehdup_ps(t));
        out[c] = gk_hsum_ps(acc[c]) - _mm_cvtss_f32(t);
    }
}

/* The 16-bit scale pair of Q6_K group g: eight lanes of scale 2g, eight of 2g+1, shuffled out
 * of the eight scales of a 128-element half held (as int16) in both 128-bit lanes. */
static inline __m256i q6k_scale_pair(__m256i sc8, int g) {
    const __m256i mask = _mm256_set_m128i(_mm_set1_epi16((short)(0x0100 + 0x0202 * (2 * g + 1))),
                                          _mm_set1_epi16((short)(0x0100 + 0x0202 * (2 * g))));
    return _mm256_shuffle_epi8(sc8, mask);
}

KQ_INLINE void q6k_row(int n, int64_t k, const uint8_t *w, const uint8_t *const xc[4], float out[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x30);
    __m256 acc[4];
    for (int c = 0; c < n; c++) acc[c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < k / 256; i++, w += Q6K_BYTES) {
        gk_prefetch_ahead(w, 4);   /* 210 bytes per super-block: up to four lines */
        const int8_t *sc = (const int8_t *)(w + 192);
        const float d = gk_ld_f16(w + 208);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
        __m256i sumi[4];
        for (int c = 0; c < n; c++) {
            /* Σ sc·(q-32)·y = Σ sc·q·y - 32·Σ sc·bsum */
            __m256i corr = _mm256_madd_epi16(sc16, load_bsums(xc[c] + (size_t)i * Q8K_BYTES));
            sumi[c] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 5));
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w + 64 * h, *qh = w + 128 + 32 * h;
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m2));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m2));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m2));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2));
            const __m256i sc8 = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(sc + 8 * h))));
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) {
                __m256i s = q6k_scale_pair(sc8, g);
                for (int c = 0; c < n; c++) {
                    const uint8_t *y = xc[c] + (size_t)i * Q8K_BYTES + 4 + 128 * h + 32 * g;
                    __m256i p = _mm256_maddubs_epi16(q[g], _mm256_loadu_si256((const __m256i *)y));
                    sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(p, s));
                }
            }
        }
        for (int c = 0; c < n; c++) {
            float dx = gk_ld_f32(xc[c] + (size_t)i * Q8K_BYTES);
            acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * dx), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
        }
    }
    for (int c = 0; c < n; c++) out[c] = gk_hsum_ps(acc[c]);
}

void gk_avx2_vec_dot_q4_k(int64_t k, const void *w, const void *xq, float *out) {
    const uint8_t *xc[4] = {xq, xq, xq, xq};
    float o[4];
    q4k_row(1, k, w, xc, o);
    *out = o[0];
}

void gk_avx2_vec_dot_q6_k(int64_t k, const void *w, const void *xq, float *out) {
    const uint8_t *xc[4] = {xq, xq, xq, xq};
    float o[4];
    q6k_row(1, k, w, xc, o);
    *out = o[0];
}

/* Rows one at a time, columns four at a time (the weight row is unpacked once per four). */
static void kq_dot_tile(int fmt6, int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                        size_t x_stride, int nc, float *y, int64_t ldy) {
    for (int c0 = 0; c0 < nc; c0 += 4) {
        int n = nc - c0 < 4 ? nc - c0 : 4;
        const uint8_t *xc[4];
        for (int c = 0; c < 4; c++) xc[c] = (const uint8_t *)xq + (size_t)(c0 + (c < n ? c : 0)) * x_stride;
        for (int r = 0; r < nr; r++) {
            const uint8_t *wr = (const uint8_t *)w + (size_t)r * w_stride;
            float o[4];
            if (fmt6) {
                if (n == 4) q6k_row(4, k, wr, xc, o);
                else if (n == 1) q6k_row(1, k, wr, xc, o);
                else q6k_row(n, k, wr, xc, o);
            } else {
                if (n == 4) q4k_row(4, k, wr, xc, o);
                else if (n == 1) q4k_row(1, k, wr, xc, o);
                else q4k_row(n, k, wr, xc, o);
            }
            for (int c = 0; c < n; c++) y[(int64_t)(c0 + c) * ldy + r] = o[c];
        }
    }
}

void gk_avx2_dot_tile_q4_k(int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                           size_t x_stride, int nc, float *y, int64_t ldy) {
    kq_dot_tile(0, k, w, w_stride, nr, xq, x_stride, nc, y, ldy);
}

void gk_avx2_dot_tile_q6_k(int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                           size_t x_stride, int nc, float *y, int64_t ldy) {
    kq_dot_tile(1, k, w, w_stride, nr, xq, x_stride, nc, y, ldy);
}

/* ---- matrix-vector: four rows against one activation row ----------------------------------
 * Rows from four quarters of the matrix (four streams a core, no software prefetch: see
 * matvec_avx2.c), each activation register loaded once for the four rows; what depends on the
 * activations alone (Q4_K's pair sums of bsums, the block's d) once per super-block. */

KQ_INLINE void q4k_rows4(int64_t k, const uint8_t *const w[4], const uint8_t *x, float out[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    __m128 macc[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
    for (int64_t i = 0; i < k / 256; i++, x += Q8K_BYTES) {
        const __m256i b = load_bsums(x);
        const __m128i ysum = _mm_hadd_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
        const __m128 dx4 = _mm_set1_ps(gk_ld_f32(x));
        const __m256i y[8] = {
            _mm256_loadu_si256((const __m256i *)(x + 4)),       _mm256_loadu_si256((const __m256i *)(x + 36)),
            _mm256_loadu_si256((const __m256i *)(x + 68)),      _mm256_loadu_si256((const __m256i *)(x + 100)),
            _mm256_loadu_si256((const __m256i *)(x + 132)),     _mm256_loadu_si256((const __m256i *)(x + 164)),
            _mm256_loadu_si256((const __m256i *)(x + 196)),     _mm256_loadu_si256((const __m256i *)(x + 228)),
        };
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const uint8_t *wb = w[r] + (size_t)i * Q4K_BYTES;
            const __m128i sm = gk_q4k_scales_mins(wb + 4);
            const __m128i mins16 = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm));
            const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
            __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                __m256i q = _mm256_loadu_si256((const __m256i *)(wb + 16 + 32 * j));
                __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                __m256i s_lo = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j))));
                __m256i s_hi = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j + 1))));
                __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y[2 * j]), s_lo);
                __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y[2 * j + 1]), s_hi);
                sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
            }
            /* d and dmin (adjacent halves) converted together, times d_x */
            const __m128 dd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(gk_ld_i32(wb))), dx4);
            acc[r] = _mm256_fmadd_ps(_mm256_broadcastss_ps(dd), _mm256_cvtepi32_ps(sumi), acc[r]);
            macc[r] = _mm_fmadd_ps(_mm_permute_ps(dd, 0x55), _mm_cvtepi32_ps(_mm_madd_epi16(ysum, mins16)), macc[r]);
        }
    }
    for (int r = 0; r < 4; r++) {
        __m128 t = macc[r];
        t = _mm_add_ps(t, _mm_movehl_ps(t, t));
        t = _mm_add_ss(t, _mm_movehdup_ps(t));
        out[r] = gk_hsum_ps(acc[r]) - _mm_cvtss_f32(t);
    }
}

KQ_INLINE void q6k_rows4(int64_t k, const uint8_t *const w[4], const uint8_t *x, float out[4]) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x30);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t i = 0; i < k / 256; i++, x += Q8K_BYTES) {
        const __m256i bsums = load_bsums(x);
        const float dx = gk_ld_f32(x);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const uint8_t *wb = w[r] + (size_t)i * Q6K_BYTES;
            const int8_t *sc = (const int8_t *)(wb + 192);
            const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)sc));
            /* Σ sc·(q-32)·y = Σ sc·q·y - 32·Σ sc·bsum */
            __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5));
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = wb + 64 * h, *qh = wb + 128 + 32 * h;
                __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
                __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
                __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
                __m256i q[4];
                q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), m2));
                q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 2), m2));
                q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, m2));
                q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_and_si256(_mm256_srli_epi16(hb, 2), m2));
                const __m256i sc8 =
                    _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(sc + 8 * h))));
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++) {
                    const __m256i yv = _mm256_loadu_si256((const __m256i *)(x + 4 + 128 * h + 32 * g));
                    __m256i p = _mm256_maddubs_epi16(q[g], yv);
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, q6k_scale_pair(sc8, g)));
                }
            }
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(gk_ld_f16(wb + 208) * dx), _mm256_cvtepi32_ps(sumi), acc[r]);
        }
    }
    for (int r = 0; r < 4; r++) out[r] = gk_hsum_ps(acc[r]);
}

KQ_INLINE void kq_matvec(int fmt6, int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    const int64_t q = (nr + 3) / 4;
    for (int64_t i = 0; i < q; i++) {
        const uint8_t *rows[4];
        float v[4];
        gk_mv_quarter_rows(w, w_stride, nr, q, i, rows);
        if (fmt6) q6k_rows4(k, rows, xq, v);
        else q4k_rows4(k, rows, xq, v);
        for (int r = 0; r < 4; r++)
            if (r * q + i < nr) y[r * q + i] = v[r];
    }
}

void gk_avx2_matvec_q4_k(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    kq_matvec(0, k, w, w_stride, nr, xq, y);
}

void gk_avx2_matvec_q6_k(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    kq_matvec(1, k, w, w_stride, nr, xq, y);
}
