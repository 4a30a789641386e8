/* Integer dot products of the quantized formats, written once for every AArch64 integer ISA.
 *
 * Included by ukernels_neon.c and ukernels_dotprod.c, each of which first defines
 *     static inline int32x4_t arm_dot16(int32x4_t acc, int8x16_t a, int8x16_t b);
 * adding the 16 products a[i]*b[i] into acc's lanes (which lane gets which product is the ISA's
 * business: every caller reduces across lanes). Baseline NEON widens with SMULL + SADALP;
 * dotprod uses SDOT. Each product fits int16 (|q| <= 128 · 15, 32, 128), so the widening is
 * exact, and every integer sum below fits int32 (worst case in the comments).
 *
 * Semantics are the scalar reference's (ukernel_scalar.c): per block, integer dot × weight
 * scale × activation scale, summed in float (in a different order, hence a tolerance). */
#ifndef GK_QDOT_ARM_H
#define GK_QDOT_ARM_H
#include "kernels/cpu/arm/arm.h"

/* Rows and columns of the dot_tile kernels below. */
enum { QDOT_TILE_ROWS = 4, QDOT_TILE_COLS = 4 };

static inline int32x4_t dot32(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
    return arm_dot16(arm_dot16(vdupq_n_s32(0), a0, b0), a1, b1);
}

/* Sum of a Q8_0 block's 32 quants (|sum| <= 4096). */
static inline int q8_0_sum(int8x16_t x0, int8x16_t x1) {
    return vaddlvq_s8(x0) + vaddlvq_s8(x1);
}

/* ---- Q4_0, Q4_1, Q8_0 · Q8_0 ---------------------------------------------------------------- */

/* Per block: sum += d_w*d_x*isum (+ m_w*d_x*xsum for Q4_1); two blocks per step for ILP. */
#define QDOT_VEC(name, decode, wbytes, has_min)                                                   \
    static void name(int64_t k, const void *w, const void *xq, float *out) {                     \
        const uint8_t *wb = w, *xb = xq;                                                          \
        const int64_t nb = k / ARM_QK;                                                            \
        float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0;                                              \
        float msum = 0.0f;                                                                        \
        int64_t b = 0;                                                                            \
        for (; b + 2 <= nb; b += 2) {                                                             \
            const uint8_t *x0 = xb + b * ARM_Q8_0_BYTES, *x1 = x0 + ARM_Q8_0_BYTES;               \
            const qblock q0 = decode(wb + b * (wbytes)), q1 = decode(wb + (b + 1) * (wbytes));    \
            const int8x16_t x0l = vld1q_s8((const int8_t *)x0 + 2), x0h = vld1q_s8((const int8_t *)x0 + 18); \
            const int8x16_t x1l = vld1q_s8((const int8_t *)x1 + 2), x1h = vld1q_s8((const int8_t *)x1 + 18); \
            const float d0 = arm_f16_at(x0), d1 = arm_f16_at(x1);                                 \
            s0 = vfmaq_n_f32(s0, vcvtq_f32_s32(dot32(q0.lo, q0.hi, x0l, x0h)), q0.d * d0);       \
            s1 = vfmaq_n_f32(s1, vcvtq_f32_s32(dot32(q1.lo, q1.hi, x1l, x1h)), q1.d * d1);       \
            if (has_min)                                                                          \
                msum += q0.m * d0 * (float)q8_0_sum(x0l, x0h) + q1.m * d1 * (float)q8_0_sum(x1l, x1h); \
        }                                                                                         \
        for (; b < nb; b++) {                                                                     \
            const uint8_t *x0 = xb + b * ARM_Q8_0_BYTES;                                          \
            const qblock q0 = decode(wb + b * (wbytes));                                          \
            const int8x16_t x0l = vld1q_s8((const int8_t *)x0 + 2), x0h = vld1q_s8((const int8_t *)x0 + 18); \
            const float d0 = arm_f16_at(x0);                                                      \
            s0 = vfmaq_n_f32(s0, vcvtq_f32_s32(dot32(q0.lo, q0.hi, x0l, x0h)), q0.d * d0);       \
            if (has_min) msum += q0.m * d0 * (float)q8_0_sum(x0l, x0h);                           \
        }                                                                                         \
        *out = vaddvq_f32(vaddq_f32(s0, s1)) + msum;                                              \
    }

QDOT_VEC(vec_dot_q8_0, decode_q8_0, ARM_Q8_0_BYTES, 0)
QDOT_VEC(vec_dot_q4_0, decode_q4_0, ARM_Q4_0_BYTES, 0)
QDOT_VEC(vec_dot_q4_1, decode_q4_1, ARM_Q4_1_BYTES, 1)

/* Four dot32 results -> one vector of their four sums (lane i = p[i]). */
static inline int32x4_t reduce4(int32x4_t p0, int32x4_t p1, int32x4_t p2, int32x4_t p3) {
    return vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3));
}

/* A 4-row × 4-column tile. Each weight block is decoded once and used for 4 columns; the four
 * rows' integer sums of one column are gathered into one vector (lane = row), so the tile
 * keeps 4 float accumulators and, with SDOT, the whole loop in registers (8 columns spilled
 * in GCC 12's output). Rows/columns beyond nr/nc re-read row/column 0 (valid memory) and are
 * not stored, so edge tiles cost a full tile but need no second code path. */
#define QDOT_TILE(name, decode, wbytes, has_min)                                                  \
    static void name(int64_t k, const void *w, size_t w_stride, int nr, const void *xq,          \
                     size_t x_stride, int nc, float *y, int64_t ldy) {                            \
        const uint8_t *w0 = w, *w1 = w0 + (nr > 1 ? w_stride : 0);                                \
        const uint8_t *w2 = w0 + (nr > 2 ? 2 * w_stride : 0), *w3 = w0 + (nr > 3 ? 3 * w_stride : 0); \
        const uint8_t *xc[QDOT_TILE_COLS];                                                        \
        for (int j = 0; j < QDOT_TILE_COLS; j++)                                                  \
            xc[j] = (const uint8_t *)xq + (size_t)(j < nc ? j : 0) * x_stride;                    \
        float32x4_t acc[QDOT_TILE_COLS];                                                          \
        for (int j = 0; j < QDOT_TILE_COLS; j++) acc[j] = vdupq_n_f32(0.0f);                      \
        for (int64_t b = 0; b < k / ARM_QK; b++) {                                                \
            const int64_t off = b * (wbytes);                                                     \
            const qblock q0 = decode(w0 + off), q1 = decode(w1 + off);                            \
            const qblock q2 = decode(w2 + off), q3 = decode(w3 + off);                            \
            const float32x4_t dw = {q0.d, q1.d, q2.d, q3.d};                                      \
            const float32x4_t mw = {q0.m, q1.m, q2.m, q3.m};                                      \
            _Pragma("GCC unroll 4") for (int j = 0; j < QDOT_TILE_COLS; j++) {                    \
                const int8_t *xs = (const int8_t *)xc[j] + b * ARM_Q8_0_BYTES;                    \
                const int8x16_t xl = vld1q_s8(xs + 2), xh = vld1q_s8(xs + 18);                    \
                const float dx = arm_f16_at((const uint8_t *)xs);                                 \
                const int32x4_t p = reduce4(dot32(q0.lo, q0.hi, xl, xh), dot32(q1.lo, q1.hi, xl, xh), \
                                            dot32(q2.lo, q2.hi, xl, xh), dot32(q3.lo, q3.hi, xl, xh)); \
                acc[j] = vfmaq_f32(acc[j], vcvtq_f32_s32(p), vmulq_n_f32(dw, dx));                \
                if (has_min)                                                                      \
                    acc[j] = vfmaq_f32(acc[j], mw, vdupq_n_f32(dx * (float)q8_0_sum(xl, xh)));    \
            }                                                                                     \
        }                                                                                         \
        for (int j = 0; j < nc; j++) {                                                            \
            float v[QDOT_TILE_ROWS];                                                              \
            vst1q_f32(v, acc[j]);                                                                 \
            for (int i = 0; i < nr; i++) y[j * ldy + i] = v[i];                                   \
        }                                                                                         \
    }

QDOT_TILE(dot_tile_q8_0, decode_q8_0, ARM_Q8_0_BYTES, 0)
QDOT_TILE(dot_tile_q4_0, decode_q4_0, ARM_Q4_0_BYTES, 0)
QDOT_TILE(dot_tile_q4_1, decode_q4_1, ARM_Q4_1_BYTES, 1)

/* Matrix-vector (decode): four rows at a time against the one activation row, so each block's
 * activations (two loads, the scale, Q4_1's sum) are loaded once for four rows, the four
 * integer sums are gathered into one vector (lane = row) and one FMA scales them; rows past a
 * multiple of four take vec_dot. Same integer sums as vec_dot. */
#define QDOT_MATVEC(name, vec_dot, decode, wbytes, has_min)                                       \
    static void name(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y) { \
        const uint8_t *xb = xq;                                                                   \
        int64_t r = 0;                                                                            \
        for (; r + 4 <= nr; r += 4) {                                                             \
            const uint8_t *w0 = (const uint8_t *)w + (size_t)r * w_stride, *w1 = w0 + w_stride;   \
            const uint8_t *w2 = w1 + w_stride, *w3 = w2 + w_stride;                               \
            float32x4_t acc = vdupq_n_f32(0.0f);                                                  \
            for (int64_t b = 0; b < k / ARM_QK; b++) {                                            \
                const int64_t off = b * (wbytes);                                                 \
                const int8_t *xs = (const int8_t *)xb + b * ARM_Q8_0_BYTES;                       \
                const int8x16_t xl = vld1q_s8(xs + 2), xh = vld1q_s8(xs + 18);                    \
                const float dx = arm_f16_at((const uint8_t *)xs);                                 \
                const qblock q0 = decode(w0 + off), q1 = decode(w1 + off);                        \
                const qblock q2 = decode(w2 + off), q3 = decode(w3 + off);                        \
                const float32x4_t dw = {q0.d, q1.d, q2.d, q3.d};                                  \
                const int32x4_t p = reduce4(dot32(q0.lo, q0.hi, xl, xh), dot32(q1.lo, q1.hi, xl, xh), \
                                            dot32(q2.lo, q2.hi, xl, xh), dot32(q3.lo, q3.hi, xl, xh)); \
                acc = vfmaq_f32(acc, vcvtq_f32_s32(p), vmulq_n_f32(dw, dx));                      \
                if (has_min) {                                                                    \
                    const float32x4_t mw = {q0.m, q1.m, q2.m, q3.m};                              \
                    acc = vfmaq_n_f32(acc, mw, dx * (float)q8_0_sum(xl, xh));                     \
                }                                                                                 \
            }                                                                                     \
            vst1q_f32(y + r, acc);                                                                \
        }                                                                                         \
        for (; r < nr; r++) vec_dot(k, (const uint8_t *)w + (size_t)r * w_stride, xq, &y[r]);    \
    }

QDOT_MATVEC(matvec_q8_0, vec_dot_q8_0, decode_q8_0, ARM_Q8_0_BYTES, 0)
QDOT_MATVEC(matvec_q4_0, vec_dot_q4_0, decode_q4_0, ARM_Q4_0_BYTES, 0)
QDOT_MATVEC(matvec_q4_1, vec_dot_q4_1, decode_q4_1, ARM_Q4_1_BYTES, 1)

/* ---- K-quants · Q8_K ---------------------------------------------------------------------- */

/* Q4_K: 8 sub-blocks of 32 with 6-bit scale sc and min m:
 * x·w = d_x * (d * sum_s sc_s*isum_s - dmin * sum_s m_s*xsum_s), xsum_s from Q8_K's bsums.
 * |isum_s| <= 32*15*128 = 61440, times sc <= 63, 8 sub-blocks: < 2^25. */
static void vec_dot_q4_K(int64_t k, const void *w, const void *xq, float *out) {
    const uint8_t *wb = w, *xb = xq;
    float sum = 0.0f;
    for (int64_t b = 0; b < k / ARM_QKK; b++) {
        const uint8_t *blk = wb + b * ARM_Q4_K_BYTES, *xk = xb + b * ARM_Q8_K_BYTES;
        const float dx = arm_f32_at(xk);
        const float d = arm_f16_at(blk) * dx, dmin = arm_f16_at(blk + 2) * dx;
        int16_t sc[8], mn[8];
        for (int s = 0; s < 8; s++) {
            int a, m;
            arm_q4k_scale_min(blk + ARM_Q4_K_SCALES, s, &a, &m);
            sc[s] = (int16_t)a;
            mn[s] = (int16_t)m;
        }
        /* Sub-block sums of the activations: pairs of Q8_K's 16-element bsums. */
        const int16x8_t bs0 = vreinterpretq_s16_u8(vld1q_u8(xk + ARM_Q8_K_BSUMS));
        const int16x8_t bs1 = vreinterpretq_s16_u8(vld1q_u8(xk + ARM_Q8_K_BSUMS + 16));
        const int16x8_t xsum = vpaddq_s16(bs0, bs1), mins = vld1q_s16(mn);
        const int32_t msum = vaddvq_s32(vaddq_s32(vmull_s16(vget_low_s16(xsum), vget_low_s16(mins)),
                                                  vmull_high_s16(xsum, mins)));
        const uint8_t *q = blk + ARM_Q4_K_QS;
        const int8_t *x = (const int8_t *)xk + ARM_Q8_K_QS;
        int32x4_t acc = vdupq_n_s32(0);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {   /* 64 elements: low nibbles of 32 bytes, then high */
            int8x16_t l0, h0, l1, h1;
            arm_unpack_nibbles(q + 32 * j, &l0, &h0);
            arm_unpack_nibbles(q + 32 * j + 16, &l1, &h1);
            const int8_t *xj = x + 64 * j;
            acc = vmlaq_n_s32(acc, dot32(l0, l1, vld1q_s8(xj), vld1q_s8(xj + 16)), sc[2 * j]);
            acc = vmlaq_n_s32(acc, dot32(h0, h1, vld1q_s8(xj + 32), vld1q_s8(xj + 48)), sc[2 * j + 1]);
        }
        sum += d * (float)vaddvq_s32(acc) - dmin * (float)msum;
    }
    *out = sum;
}

/* Q6_K: 16 groups of 16 with int8 scales; q = (4 low bits from ql | 2 high bits from qh) - 32.
 * |isum_g| <= 16*32*128 = 65536, times |sc| <= 128, 16 groups: < 2^28. */
static inline int32x4_t q6k_group(int32x4_t acc, uint8x16_t six_bits, const int8_t *x, int scale) {
    const int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(six_bits), vdupq_n_s8(32));
    return vmlaq_n_s32(acc, arm_dot16(vdupq_n_s32(0), q, vld1q_s8(x)), scale);
}

static void vec_dot_q6_K(int64_t k, const void *w, const void *xq, float *out) {
    const uint8_t *wb = w, *xb = xq;
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m30 = vdupq_n_u8(0x30);
    float sum = 0.0f;
    for (int64_t b = 0; b < k / ARM_QKK; b++) {
        const uint8_t *blk = wb + b * ARM_Q6_K_BYTES, *xk = xb + b * ARM_Q8_K_BYTES;
        const int8_t *sc = (const int8_t *)blk + ARM_Q6_K_SC;
        int32x4_t acc = vdupq_n_s32(0);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {          /* 128 elements: ql[64], qh[32], scales[8] */
            const uint8_t *ql = blk + 64 * h, *qh = blk + ARM_Q6_K_QH + 32 * h;
            const int8_t *x = (const int8_t *)xk + ARM_Q8_K_QS + 128 * h, *s = sc + 8 * h;
            for (int c = 0; c < 2; c++) {      /* l = 16c .. 16c+15 of ggml's loop */
                const uint8x16_t la = vld1q_u8(ql + 16 * c), lb = vld1q_u8(ql + 32 + 16 * c);
                const uint8x16_t hb = vld1q_u8(qh + 16 * c);
                acc = q6k_group(acc, vorrq_u8(vandq_u8(la, m4), vandq_u8(vshlq_n_u8(hb, 4), m30)),
                                x + 16 * c, s[c]);
                acc = q6k_group(acc, vorrq_u8(vandq_u8(lb, m4), vandq_u8(vshlq_n_u8(hb, 2), m30)),
                                x + 32 + 16 * c, s[2 + c]);
                acc = q6k_group(acc, vorrq_u8(vshrq_n_u8(la, 4), vandq_u8(hb, m30)),
                                x + 64 + 16 * c, s[4 + c]);
                acc = q6k_group(acc, vorrq_u8(vshrq_n_u8(lb, 4), vandq_u8(vshrq_n_u8(hb, 2), m30)),
                                x + 96 + 16 * c, s[6 + c]);
            }
        }
        sum += arm_f16_at(blk + ARM_Q6_K_D) * arm_f32_at(xk) * (float)vaddvq_s32(acc);
    }
    *out = sum;
}

/* K-quant tiles: one weight row against four columns at a time, so a block's nibbles and
 * scales are decoded once per four columns; a column's four integer sums are gathered into one
 * vector (lane = column). Columns beyond nc re-read column 0 and are not stored. */
static inline void kq_columns(const void *xq, size_t x_stride, int nc, const uint8_t *xc[4]) {
    for (int j = 0; j < 4; j++) xc[j] = (const uint8_t *)xq + (size_t)(j < nc ? j : 0) * x_stride;
}

static inline void kq_store(float32x4_t v, int nc, float *y, int64_t ldy) {
    float s[4];
    vst1q_f32(s, v);
    for (int j = 0; j < nc; j++) y[j * ldy] = s[j];
}

/* sum_s m_s * xsum_s of one Q4_K block against one Q8_K block (the min term, < 2^21). */
static inline int32_t q4k_min_term(int16x8_t mins, const uint8_t *xk) {
    const int16x8_t bs0 = vreinterpretq_s16_u8(vld1q_u8(xk + ARM_Q8_K_BSUMS));
    const int16x8_t bs1 = vreinterpretq_s16_u8(vld1q_u8(xk + ARM_Q8_K_BSUMS + 16));
    const int16x8_t xsum = vpaddq_s16(bs0, bs1);
    return vaddvq_s32(vaddq_s32(vmull_s16(vget_low_s16(xsum), vget_low_s16(mins)), vmull_high_s16(xsum, mins)));
}

static void dot_tile_q4_K(int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                          size_t x_stride, int nc, float *y, int64_t ldy) {
    const uint8_t *xc[4];
    kq_columns(xq, x_stride, nc, xc);
    for (int i = 0; i < nr; i++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)i * w_stride;
        float32x4_t sum = vdupq_n_f32(0.0f);
        for (int64_t b = 0; b < k / ARM_QKK; b++) {
            const uint8_t *blk = row + b * ARM_Q4_K_BYTES;
            const int64_t xoff = b * ARM_Q8_K_BYTES;
            int16_t sc[8], mn[8];
            for (int s = 0; s < 8; s++) {
                int a, m;
                arm_q4k_scale_min(blk + ARM_Q4_K_SCALES, s, &a, &m);
                sc[s] = (int16_t)a;
                mn[s] = (int16_t)m;
            }
            int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
            for (int c = 0; c < 4; c++) {   /* 64 elements: low nibbles of 32 bytes, then high */
                int8x16_t l0, h0, l1, h1;
                arm_unpack_nibbles(blk + ARM_Q4_K_QS + 32 * c, &l0, &h0);
                arm_unpack_nibbles(blk + ARM_Q4_K_QS + 32 * c + 16, &l1, &h1);
                _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
                    const int8_t *x = (const int8_t *)xc[j] + xoff + ARM_Q8_K_QS + 64 * c;
                    acc[j] = vmlaq_n_s32(acc[j], dot32(l0, l1, vld1q_s8(x), vld1q_s8(x + 16)), sc[2 * c]);
                    acc[j] = vmlaq_n_s32(acc[j], dot32(h0, h1, vld1q_s8(x + 32), vld1q_s8(x + 48)), sc[2 * c + 1]);
                }
            }
            const int16x8_t mins = vld1q_s16(mn);
            const int32x4_t msum = {q4k_min_term(mins, xc[0] + xoff), q4k_min_term(mins, xc[1] + xoff),
                                    q4k_min_term(mins, xc[2] + xoff), q4k_min_term(mins, xc[3] + xoff)};
            const float32x4_t dx = {arm_f32_at(xc[0] + xoff), arm_f32_at(xc[1] + xoff),
                                    arm_f32_at(xc[2] + xoff), arm_f32_at(xc[3] + xoff)};
            const float32x4_t isum = vcvtq_f32_s32(reduce4(acc[0], acc[1], acc[2], acc[3]));
            const float32x4_t v = vsubq_f32(vmulq_n_f32(isum, arm_f16_at(blk)),
                                            vmulq_n_f32(vcvtq_f32_s32(msum), arm_f16_at(blk + 2)));
            sum = vfmaq_f32(sum, dx, v);
        }
        kq_store(sum, nc, y + i, ldy);
    }
}

static void dot_tile_q6_K(int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                          size_t x_stride, int nc, float *y, int64_t ldy) {
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m30 = vdupq_n_u8(0x30);
    const int8x16_t off = vdupq_n_s8(32);
    const uint8_t *xc[4];
    kq_columns(xq, x_stride, nc, xc);
    for (int i = 0; i < nr; i++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)i * w_stride;
        float32x4_t sum = vdupq_n_f32(0.0f);
        for (int64_t b = 0; b < k / ARM_QKK; b++) {
            const uint8_t *blk = row + b * ARM_Q6_K_BYTES;
            const int8_t *sc = (const int8_t *)blk + ARM_Q6_K_SC;
            const int64_t xoff = b * ARM_Q8_K_BYTES + ARM_Q8_K_QS;
            int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = blk + 64 * h, *qh = blk + ARM_Q6_K_QH + 32 * h;
                const int8_t *s = sc + 8 * h;
                for (int c = 0; c < 2; c++) {
                    const uint8x16_t la = vld1q_u8(ql + 16 * c), lb = vld1q_u8(ql + 32 + 16 * c);
                    const uint8x16_t hb = vld1q_u8(qh + 16 * c);
                    const int8x16_t q1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(la, m4), vandq_u8(vshlq_n_u8(hb, 4), m30))), off);
                    const int8x16_t q2 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(lb, m4), vandq_u8(vshlq_n_u8(hb, 2), m30))), off);
                    const int8x16_t q3 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(la, 4), vandq_u8(hb, m30))), off);
                    const int8x16_t q4 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(lb, 4), vandq_u8(vshrq_n_u8(hb, 2), m30))), off);
                    _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
                        const int8_t *x = (const int8_t *)xc[j] + xoff + 128 * h + 16 * c;
                        const int32x4_t z = vdupq_n_s32(0);
                        acc[j] = vmlaq_n_s32(acc[j], arm_dot16(z, q1, vld1q_s8(x)), s[c]);
                        acc[j] = vmlaq_n_s32(acc[j], arm_dot16(z, q2, vld1q_s8(x + 32)), s[2 + c]);
                        acc[j] = vmlaq_n_s32(acc[j], arm_dot16(z, q3, vld1q_s8(x + 64)), s[4 + c]);
                        acc[j] = vmlaq_n_s32(acc[j], arm_dot16(z, q4, vld1q_s8(x + 96)), s[6 + c]);
                    }
                }
            }
            const int64_t dxo = b * ARM_Q8_K_BYTES;
            const float32x4_t dx = {arm_f32_at(xc[0] + dxo), arm_f32_at(xc[1] + dxo),
                                    arm_f32_at(xc[2] + dxo), arm_f32_at(xc[3] + dxo)};
            const float32x4_t isum = vcvtq_f32_s32(reduce4(acc[0], acc[1], acc[2], acc[3]));
            sum = vfmaq_f32(sum, vmulq_n_f32(dx, arm_f16_at(blk + ARM_Q6_K_D)), isum);
        }
        kq_store(sum, nc, y + i, ldy);
    }
}

#endif
