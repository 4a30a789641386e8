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
#include <string.h>

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

/* ---- matrix-vector: many rows · one column ------------------------------------------------ */

/* In decode every weight row meets the same activation row, so everything that depends on the
 * activations alone is prepared once per call (mv_act), and a row costs only its own unpacking.
 * Rows are read as groups of G blocks (Q4_0: 4 × 18 bytes, Q8_0: 2 × 34): two overlapping
 * 64-byte loads and one vpermt2w gather the group's quants into one vector, and one vpermw its
 * f16 scales (broadcast to the 32-bit lanes of their block), so a group is ~12 instructions
 * where the one-row kernel spends ~12 per block. The activations are reordered to match:
 *   Q4_0 (G = 4): lane l of a product belongs to block l/4; the low nibbles of the 4×16 quant
 *     bytes meet lo = (x_b[0..15] for each block), the high ones hi = (x_b[16..31]);
 *   Q8_0 (G = 2): the 2×32 quants meet the two blocks' 32 values in order.
 * off holds -c·Σx per lane (c = 8, 128, as in vn_offset) and dx each lane's activation scale.
 * Every integer sum equals the one-row kernel's; only the float summation order differs. */
typedef struct mv_group {
    __m512i lo, hi, off;
    __m512 dx;
} mv_group;

enum { MV_MAX_GROUPS = 128 };   /* 32 KiB on the stack: K in passes of 16384 (Q4_0) or 8192 (Q8_0) */

/* Word indices: source word s of the first load (or 32 + s - shift of the second, which starts
 * `shift` words later) for the group's quants; each block's scale repeated in its four lanes. */
static __m512i mv_quant_index(int fmt) {
    int16_t idx[32];
    for (int j = 0; j < 32; j++) {
        int s = fmt == QF_Q4_0 ? 9 * (j / 8) + 1 + j % 8 : 17 * (j / 16) + 1 + j % 16;
        int shift = fmt == QF_Q4_0 ? 4 : 2;
        idx[j] = (int16_t)(s < 32 ? s : 32 + s - shift);
    }
    return _mm512_loadu_si512((const void *)idx);
}

static __m512i mv_scale_index(int fmt) {
    int16_t idx[32] = {0};
    for (int j = 0; j < 16; j++) idx[j] = (int16_t)(fmt == QF_Q4_0 ? 9 * (j / 4) : 17 * (j / 8));
    return _mm512_loadu_si512((const void *)idx);
}

/* Groups g0.. of the activation row (Q8_0 blocks) in the kernel's order. */
static void mv_act(int fmt, const uint8_t *x, int64_t ng, mv_group *a) {
    const int G = fmt == QF_Q4_0 ? 4 : 2;
    const __m512i c = _mm512_set1_epi8(fmt == QF_Q4_0 ? 8 : (char)0x80);
    for (int64_t g = 0; g < ng; g++, x += (size_t)G * GK_Q8_0_BYTES) {
        uint8_t lo[64], hi[64];
        float dx[16];
        for (int b = 0; b < G; b++) {
            const uint8_t *xb = x + (size_t)b * GK_Q8_0_BYTES;
            if (fmt == QF_Q4_0) {
                memcpy(lo + 16 * b, xb + 2, 16);
                memcpy(hi + 16 * b, xb + 18, 16);
            } else {
                memcpy(lo + 32 * b, xb + 2, 32);
            }
            for (int l = 0; l < 16 / G; l++) dx[b * (16 / G) + l] = gk_ld_f16(xb);
        }
        a[g].lo = _mm512_loadu_si512((const void *)lo);
        a[g].hi = fmt == QF_Q4_0 ? _mm512_loadu_si512((const void *)hi) : _mm512_setzero_si512();
        __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), c, a[g].lo);
        if (fmt == QF_Q4_0) s = _mm512_dpbusd_epi32(s, c, a[g].hi);
        a[g].off = _mm512_sub_epi32(_mm512_setzero_si512(), s);
        a[g].dx = _mm512_loadu_ps(dx);
    }
}

V_INLINE __m512 mv_group_dot(int fmt, const uint8_t *w, const mv_group *a, __m512i qidx, __m512i sidx, __m512 acc) {
    const int shift_bytes = fmt == QF_Q4_0 ? 8 : 4;
    const __m512i v0 = _mm512_loadu_si512((const void *)w), v1 = _mm512_loadu_si512((const void *)(w + shift_bytes));
    const __m512i q = _mm512_permutex2var_epi16(v0, qidx, v1);
    const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(sidx, v0)));
    __m512i s;
    if (fmt == QF_Q4_0) {
        const __m512i m = _mm512_set1_epi8(0x0f);
        s = _mm512_dpbusd_epi32(a->off, _mm512_and_si512(q, m), a->lo);
        s = _mm512_dpbusd_epi32(s, _mm512_and_si512(_mm512_srli_epi16(q, 4), m), a->hi);
    } else {
        s = _mm512_dpbusd_epi32(a->off, _mm512_xor_si512(q, _mm512_set1_epi8((char)0x80)), a->lo);
    }
    return _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(s), a->dx), dw, acc);
}

/* Four rows at once, each from its own quarter of the rows: four streams from memory per core
 * instead of one (one sequential stream per core reads ~30% slower here than four: the read
 * probe's measurement), and each activation group is loaded once for the four. */
static void mv_rows4(int fmt, int64_t ng, const uint8_t *const w[4], const mv_group *a, __m512i qidx, __m512i sidx,
                     float out[4]) {
    const size_t gb = (size_t)(fmt == QF_Q4_0 ? 4 : 2) * qd_bytes(fmt);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t g = 0; g < ng; g++) {
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            if (!(g & 1)) gk_prefetch_ahead(w[r] + g * gb, 2);   /* 144 or 136 bytes per two groups */
            acc[r] = mv_group_dot(fmt, w[r] + g * gb, &a[g], qidx, sidx, acc[r]);
        }
    }
    for (int r = 0; r < 4; r++) out[r] = _mm512_reduce_add_ps(acc[r]);
}

/* y[r] = row r · x over ng groups (+= when accumulate), rows r < nr: row i of each quarter
 * together (rows past nr repeat row 0 and are not stored). */
static void mv_pass(int fmt, int64_t ng, const uint8_t *w, size_t w_stride, int64_t nr, const mv_group *a, float *y,
                    bool accumulate) {
    const __m512i qidx = mv_quant_index(fmt), sidx = mv_scale_index(fmt);   /* once a pass, not per row */
    const int64_t q = (nr + 3) / 4;
    for (int64_t i = 0; i < q; i++) {
        const uint8_t *rows[4];
        float v[4];
        for (int r = 0; r < 4; r++) rows[r] = w + (size_t)(r * q + i < nr ? r * q + i : 0) * w_stride;
        mv_rows4(fmt, ng, rows, a, qidx, sidx, v);
        for (int r = 0; r < 4; r++) {
            int64_t row = r * q + i;
            if (row < nr) y[row] = accumulate ? y[row] + v[r] : v[r];
        }
    }
}

V_INLINE void vn_matvec(int fmt, int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    const int G = fmt == QF_Q4_0 ? 4 : 2;
    const int64_t nb = k / 32, ng = nb / G;
    const size_t wb = qd_bytes(fmt);
    mv_group a[MV_MAX_GROUPS];
    const uint8_t *wp = w, *xp = xq;
    for (int64_t g0 = 0; g0 < ng; g0 += MV_MAX_GROUPS) {   /* K in passes of at most MV_MAX_GROUPS groups */
        int64_t n = ng - g0 < MV_MAX_GROUPS ? ng - g0 : MV_MAX_GROUPS;
        mv_act(fmt, xp + (size_t)(g0 * G) * GK_Q8_0_BYTES, n, a);
        mv_pass(fmt, n, wp + (size_t)(g0 * G) * wb, w_stride, nr, a, y, g0 > 0);
    }
    for (int64_t b = ng * G; b < nb; b++) {   /* blocks past the last whole group */
        const uint8_t *xb = xp + (size_t)b * GK_Q8_0_BYTES;
        for (int64_t r = 0; r < nr; r++) {
            const uint8_t *wr = wp + (size_t)r * w_stride + (size_t)b * wb;
            float v = gk_ld_f16(wr) * gk_ld_f16(xb) * gk_hsum_ps(vn_block_dot(fmt, wr, xb));
            y[r] = ng > 0 || b > 0 ? y[r] + v : v;
        }
    }
}

void gk_avx512_matvec_q4_0(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    vn_matvec(QF_Q4_0, k, w, w_stride, nr, xq, y);
}

void gk_avx512_matvec_q8_0(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) {
    vn_matvec(QF_Q8_0, k, w, w_stride, nr, xq, y);
}
