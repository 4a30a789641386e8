/* Matrix-vector kernels (decode) on AVX2 (the gk_matvec_fn contract, microkernels.h): Q4_0,
 * Q4_1, Q8_0 weights against one row of Q8_0 activations; F16, BF16, F32 weights against F32
 * activations (at the end of the file).
 *
 * Against one vec_dot per row (qdot_avx2.h), everything that depends on the activations alone
 * is done once per call instead of once per row:
 *  - the activation bytes are rearranged for the weights' nibble order: per pair of blocks,
 *    elements 0..15 of both blocks in one register and 16..31 in another, so one 32-byte load
 *    of two blocks' nibbles gives both halves with one shift and two ANDs;
 *  - Q4_0's offset (Σ(q-8)·y = Σq·y - 8·Σy) and Q4_1's min term (m·d_x·Σy) are summed per block,
 *    and enter as one 4-lane FMA per group of four blocks (d_w·8·d_x·Σy, m·d_x·Σy) instead of
 *    an integer subtract per pair of blocks;
 *  - the activation scales sit in the lane layout the weights' scales are multiplied into.
 * Four rows go at once, each from its own quarter of the rows (as the AVX-512 kernel does):
 * four weight streams per core, and each activation register is loaded once for four rows.
 * The weight scales of four blocks of a row are converted with one vcvtph2ps, and a group's
 * integer dots are folded (unpack and add, on the shuffle and ALU pipes) into one vector whose
 * lanes hold partial sums of all four blocks, so one conversion and one FMA against one
 * arrangement of the scales replace four (Q8_0) or two (Q4) conversions, FMAs and cross-lane
 * permutes: the FMA/permute pipes, not the loads, bound these kernels on Zen 3 (an ablation
 * that dropped the permutes alone saved 15%). Rows of 2048 in L2, one thread, AMD Zen 3 VM,
 * the old and new kernels alternating in one process, cycles per 32-weight block: Q4_0 3.33
 * -> 2.84, Q8_0 3.83 -> 3.03, Q4_1 3.10 -> 2.99 (5632-wide rows: 3.29 -> 2.94, 4.33 -> 3.49,
 * 3.29 -> 3.13).
 */
#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/qdot_avx2.h"

#define MV_INLINE static inline __attribute__((always_inline))

enum { MV_GROUP = 4, MV_MAX_GROUPS = 128 };   /* 4 blocks a group; <= 512 blocks a pass (~32 KiB) */

/* The activations of one group of four blocks, prepared for every row. */
typedef struct mv_act {
    __m256i y[4];      /* Q8_0: block b's 32 values. Q4_0/Q4_1: [b0 0..15 | b1 0..15], [b0 16..31 | b1 16..31], same for b2, b3 */
    __m128 dx;         /* the four blocks' d_x */
    __m128 dxs;        /* the four blocks' d_x·Σy (Q4_1's min term), or d_x·8·Σy (Q4_0's offset) */
} mv_act;

/* Σ u·y per int32 lane for a pair of blocks: u the unsigned nibbles (lo: elements 0..15 of
 * both blocks, hi: 16..31), y the matching activations. Four products a lane, |sum| <= 4·15·127
 * fits int16 before the widening madd. */
MV_INLINE __m256i mv_pair_dot(__m256i lo, __m256i hi, __m256i ylo, __m256i yhi) {
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, ylo), _mm256_maddubs_epi16(hi, yhi));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

MV_INLINE int32_t mv_hsum128(__m128i v) {
    v = _mm_add_epi32(v, _mm_unpackhi_epi64(v, v));
    return _mm_cvtsi128_si32(_mm_add_epi32(v, _mm_shuffle_epi32(v, 1)));
}

MV_INLINE void mv_prepare(int fmt, const uint8_t *x, int64_t ng, mv_act *a) {
    for (int64_t g = 0; g < ng; g++, x += MV_GROUP * GK_Q8_0_BYTES) {
        mv_act *p = &a[g];
        p->dx = qd_f16x4s(x, GK_Q8_0_BYTES);
        if (fmt == QF_Q8_0) {
#pragma GCC unroll 4
            for (int b = 0; b < 4; b++) p->y[b] = qd_act(x + b * GK_Q8_0_BYTES);
            continue;
        }
        float sy[4];
        for (int pr = 0; pr < 2; pr++) {
            const uint8_t *b0 = x + 2 * pr * GK_Q8_0_BYTES + 2, *b1 = b0 + GK_Q8_0_BYTES;
            __m256i ylo = _mm256_loadu2_m128i((const __m128i *)b1, (const __m128i *)b0);
            __m256i yhi = _mm256_loadu2_m128i((const __m128i *)(b1 + 16), (const __m128i *)(b0 + 16));
            p->y[2 * pr] = ylo, p->y[2 * pr + 1] = yhi;
            __m256i s = mv_pair_dot(_mm256_set1_epi8(1), _mm256_set1_epi8(1), ylo, yhi);
            sy[2 * pr] = (float)mv_hsum128(_mm256_castsi256_si128(s));   /* lanes 0..3: b0, 4..7: b1 */
            sy[2 * pr + 1] = (float)mv_hsum128(_mm256_extracti128_si256(s, 1));
        }
        p->dxs = _mm_mul_ps(p->dx, _mm_loadu_ps(sy));
        if (fmt == QF_Q4_0) p->dxs = _mm_mul_ps(p->dxs, _mm_set1_ps(8.0f));
    }
}

/* The fold of a group's dots: lanes of x and y summed in twos, by 32-bit lanes ([x y x y |
 * x y x y], each lane the sum of two of x's or y's) or by 64-bit halves ([x x y y | x x y y]). */
MV_INLINE __m256i mv_fold32(__m256i x, __m256i y) {
    return _mm256_add_epi32(_mm256_unpacklo_epi32(x, y), _mm256_unpackhi_epi32(x, y));
}

MV_INLINE __m256i mv_fold64(__m256i x, __m256i y) {
    return _mm256_add_epi32(_mm256_unpacklo_epi64(x, y), _mm256_unpackhi_epi64(x, y));
}

/* One row's group of four blocks at w, added into acc (and Q4_1's min term or Q4_0's offset
 * into accm). */
MV_INLINE __m256 mv_group(int fmt, const uint8_t *w, const mv_act *a, __m256 acc, __m128 *accm) {
    const size_t wb = qd_bytes(fmt);
    const __m128 dw = qd_f16x4s(w, wb);
    const __m128 s = _mm_mul_ps(dw, a->dx);   /* d_w·d_x of the four blocks */
    if (fmt == QF_Q8_0) {
        __m256i d[4];
#pragma GCC unroll 4
        for (int b = 0; b < 4; b++) d[b] = gk_dot_i8(_mm256_loadu_si256((const __m256i *)(w + b * wb + 2)), a->y[b]);
        /* [b0 b1 b2 b3 | b0 b1 b2 b3] against the scales as they are */
        __m256i f = mv_fold64(mv_fold32(d[0], d[1]), mv_fold32(d[2], d[3]));
        return _mm256_fmadd_ps(_mm256_set_m128(s, s), _mm256_cvtepi32_ps(f), acc);
    }
    const size_t qo = fmt == QF_Q4_0 ? 2 : 4;
    const __m256i m = _mm256_set1_epi8(0x0f);
    __m256i d[2];
    for (int pr = 0; pr < 2; pr++) {
        const uint8_t *q0 = w + 2 * pr * wb + qo;
        __m256i q = _mm256_loadu2_m128i((const __m128i *)(q0 + wb), (const __m128i *)q0);
        __m256i lo = _mm256_and_si256(q, m), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m);
        d[pr] = mv_pair_dot(lo, hi, a->y[2 * pr], a->y[2 * pr + 1]);
    }
    /* [b0 b0 b2 b2 | b1 b1 b3 b3]: the two pairs' lanes summed in twos, so one conversion and
     * one FMA take the four blocks against one permutation of their scales */
    __m256i t = mv_fold64(d[0], d[1]);
    acc = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(s), _mm256_setr_epi32(0, 0, 2, 2, 1, 1, 3, 3)),
                          _mm256_cvtepi32_ps(t), acc);
    if (fmt == QF_Q4_1) *accm = _mm_fmadd_ps(qd_f16x4s(w + 2, wb), a->dxs, *accm);
    if (fmt == QF_Q4_0) *accm = _mm_fnmadd_ps(dw, a->dxs, *accm);
    return acc;
}

/* Four rows over ng groups. */
MV_INLINE void mv_rows4(int fmt, int64_t ng, const uint8_t *const w[4], const mv_act *a, float out[4]) {
    const size_t gb = MV_GROUP * qd_bytes(fmt);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    __m128 accm[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
    for (int64_t g = 0; g < ng; g++) {
        /* No software prefetch: with four streams a core the hardware prefetchers keep up, and
         * gk_prefetch_ahead's 4 KiB lead cost a fifth (Q4_0, 2048-wide rows, 72 MB, one thread,
         * AMD Zen 3 VM, same run: 12-14 GB/s with it, 16.5-17 without). */
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) acc[r] = mv_group(fmt, w[r] + g * gb, &a[g], acc[r], &accm[r]);
    }
    for (int r = 0; r < 4; r++) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[r]), _mm256_extractf128_ps(acc[r], 1));
        s = _mm_add_ps(s, accm[r]);
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        out[r] = _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
}

/* y[r] (+)= row r · x over ng groups, rows r < nr: row i of each quarter together (rows past nr
 * repeat row 0 and are not stored). */
MV_INLINE void mv_pass(int fmt, int64_t ng, const uint8_t *w, size_t w_stride, int64_t nr, const mv_act *a, float *y,
                    bool accumulate) {
    const int64_t q = (nr + 3) / 4;
    for (int64_t i = 0; i < q; i++) {
        const uint8_t *rows[4];
        float v[4];
        gk_mv_quarter_rows(w, w_stride, nr, q, i, rows);
        mv_rows4(fmt, ng, rows, a, v);
        for (int r = 0; r < 4; r++) {
            int64_t row = r * q + i;
            if (row < nr) y[row] = accumulate ? y[row] + v[r] : v[r];
        }
    }
}

MV_INLINE void mv_matvec(int fmt, int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    const int64_t nb = k / 32, ng = nb / MV_GROUP;
    const size_t wb = qd_bytes(fmt);
    const uint8_t *wp = w, *xp = xq;
    mv_act a[MV_MAX_GROUPS];
    for (int64_t g0 = 0; g0 < ng; g0 += MV_MAX_GROUPS) {   /* K in passes of at most MV_MAX_GROUPS groups */
        int64_t n = ng - g0 < MV_MAX_GROUPS ? ng - g0 : MV_MAX_GROUPS;
        mv_prepare(fmt, xp + (size_t)(g0 * MV_GROUP) * GK_Q8_0_BYTES, n, a);
        mv_pass(fmt, n, wp + (size_t)(g0 * MV_GROUP) * wb, w_stride, nr, a, y, g0 > 0);
    }
    if (ng * MV_GROUP == nb) return;
    /* blocks past the last whole group: the one-row dot over the tail */
    const int64_t b0 = ng * MV_GROUP, kt = (nb - b0) * 32;
    for (int64_t r = 0; r < nr; r++) {
        float v = qd_vec_dot(fmt, kt, wp + (size_t)r * w_stride + (size_t)b0 * wb, xp + (size_t)b0 * GK_Q8_0_BYTES);
        y[r] = ng > 0 ? y[r] + v : v;
    }
}

void gk_avx2_matvec_q4_0(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    mv_matvec(QF_Q4_0, k, w, w_stride, nr, xq, y);
}

void gk_avx2_matvec_q4_1(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    mv_matvec(QF_Q4_1, k, w, w_stride, nr, xq, y);
}

void gk_avx2_matvec_q8_0(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    mv_matvec(QF_Q8_0, k, w, w_stride, nr, xq, y);
}

/* ---- float weights (F16, BF16, F32) against F32 activations -------------------------------- */

/* Four rows · x over k elements (multiples of 8 in the loop, the rest in scalar code), one row
 * from each quarter as above, no software prefetch; each activation vector is loaded once for
 * the four rows. Against one row after another with gk_prefetch_ahead (fw_vec_dot), one thread,
 * same run, AMD Zen 3 VM: F16 2048 x 32768 (128 MiB) 10-12 -> 17-18 GB/s, 5632 x 8192 11.8 ->
 * 20.5 GB/s; read probe ~20 GB/s on one thread. */
MV_INLINE void mvf_rows4(int type, int64_t k, const uint8_t *const w[4], const float *x, float out[4]) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) acc[r] = _mm256_fmadd_ps(gk_ld8_float(type, w[r], i), xv, acc[r]);
    }
    for (int r = 0; r < 4; r++) {
        float s = gk_hsum_ps(acc[r]);
        for (int64_t t = i; t < k; t++) s += gk_ld1_float(type, w[r], t) * x[t];
        out[r] = s;
    }
}

MV_INLINE void mvf_matvec(int type, int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    const int64_t q = (nr + 3) / 4;
    for (int64_t i = 0; i < q; i++) {
        const uint8_t *rows[4];
        float v[4];
        gk_mv_quarter_rows(w, w_stride, nr, q, i, rows);
        mvf_rows4(type, k, rows, xq, v);
        for (int r = 0; r < 4; r++)
            if (r * q + i < nr) y[r * q + i] = v[r];
    }
}

void gk_avx2_matvec_f16(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    mvf_matvec(GK_F16, k, w, w_stride, nr, xq, y);
}

void gk_avx2_matvec_bf16(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    mvf_matvec(GK_BF16, k, w, w_stride, nr, xq, y);
}

void gk_avx2_matvec_f32(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    mvf_matvec(GK_F32, k, w, w_stride, nr, xq, y);
}
