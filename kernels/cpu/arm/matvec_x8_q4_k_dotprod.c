/* Matrix-vector product (decode) on Q4_K weights in groups of eight rows (q4_k_x8.h) against one
 * row of Q8_K activations, with SDOT: the gk_matvec_x8_fn contract of microkernels.h, for the
 * dotprod and i8mm tables.
 *
 * As the Q4_0 kernel (matvec_x8_dotprod.c): a group's 32-byte quant vector is two NEON vectors,
 * rows 0-3 and rows 4-7, one lane a row's four bytes, so one SDOT of the low (or high) nibbles
 * against four activation bytes duplicated to every lane adds four products a row to sub-block
 * 2i (or 2i+1) of chunk i, and lanes stay rows. Per super-block the eight rows' 6-bit scales
 * and mins come out of q4_k_x8.h's planes by a mask, a shift and an OR on 16 bytes at a time;
 * each sub-block's sums are scaled by its rows' scales (one multiply-add a half), and the mins
 * meet the activations' sums of 32 (Q8_K's sums of 16, in pairs). Two groups at a time, from
 * the two halves of the rows (x8_driver.h). Tested under qemu; no timing was possible on this
 * project's x86 machines. */
#include <stdbool.h>
#include <stddef.h>

#include "kernels/cpu/arm/arm.h"
#include "kernels/cpu/q4_k_x8.h"
#include "kernels/cpu/x8_driver.h"

#define X8_INLINE static inline __attribute__((always_inline))

enum { X8K_PASS = 64 }; /* super-blocks of K per pass (K up to 16384 in one sweep) */

/* What depends on the activations alone, per super-block: d_x and the eight sums of 32. */
typedef struct x8k_act {
    float dx[X8K_PASS];
    int32_t sum32[X8K_PASS][8];
} x8k_act;

static void x8k_prepare(const uint8_t *x, int64_t nb, void *act) {
    x8k_act *a = act;
    for (int64_t b = 0; b < nb; b++, x += ARM_Q8_K_BYTES) {
        int16_t bs[16];
        memcpy(&a->dx[b], x, 4);
        memcpy(bs, x + ARM_Q8_K_BSUMS, sizeof bs);
        for (int j = 0; j < 8; j++) a->sum32[b][j] = bs[2 * j] + bs[2 * j + 1];
    }
}

/* The super-block's scales and mins as bytes (q4_k_x8.h): sc[8j + r], mn[8j + r]. */
X8_INLINE void x8k_bytes(const uint8_t *g, uint8_t sc[64], uint8_t mn[64]) {
    const uint8x16_t m4 = vdupq_n_u8(15), m2 = vdupq_n_u8(3);
    for (int h = 0; h < 2; h++) { /* bytes t = 16h .. 16h+15 of each plane */
        const uint8x16_t lo = vld1q_u8(g + 32 + 16 * h), mp = vld1q_u8(g + 64 + 16 * h),
                         hi = vld1q_u8(g + 96 + 16 * h);
        vst1q_u8(sc + 16 * h, vorrq_u8(vandq_u8(lo, m4), vshlq_n_u8(vandq_u8(hi, m2), 4)));
        vst1q_u8(sc + 32 + 16 * h,
                 vorrq_u8(vshrq_n_u8(lo, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hi, 2), m2), 4)));
        vst1q_u8(mn + 16 * h, vorrq_u8(vandq_u8(mp, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hi, 4), m2), 4)));
        vst1q_u8(mn + 32 + 16 * h, vorrq_u8(vshrq_n_u8(mp, 4), vshlq_n_u8(vshrq_n_u8(hi, 6), 4)));
    }
}

/* Eight bytes (rows 0-7 of one sub-block) as int32 in two vectors (rows 0-3, 4-7). */
X8_INLINE void x8k_widen(const uint8_t *p, int32x4_t v[2]) {
    const uint16x8_t w = vmovl_u8(vld1_u8(p));
    v[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w)));
    v[1] = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(w)));
}

/* The four activation bytes at x + 4v, v < 8, each duplicated to every lane. */
X8_INLINE void x8k_bcast(const uint8_t *x, int8x16_t b[8]) {
    const int32x4_t lo = vreinterpretq_s32_s8(vld1q_s8((const int8_t *)x));
    const int32x4_t hi = vreinterpretq_s32_s8(vld1q_s8((const int8_t *)x + 16));
    b[0] = vreinterpretq_s8_s32(vdupq_laneq_s32(lo, 0)), b[1] = vreinterpretq_s8_s32(vdupq_laneq_s32(lo, 1));
    b[2] = vreinterpretq_s8_s32(vdupq_laneq_s32(lo, 2)), b[3] = vreinterpretq_s8_s32(vdupq_laneq_s32(lo, 3));
    b[4] = vreinterpretq_s8_s32(vdupq_laneq_s32(hi, 0)), b[5] = vreinterpretq_s8_s32(vdupq_laneq_s32(hi, 1));
    b[6] = vreinterpretq_s8_s32(vdupq_laneq_s32(hi, 2)), b[7] = vreinterpretq_s8_s32(vdupq_laneq_s32(hi, 3));
}

/* One super-block of one group: dot[h] = Σ_j sc_j·(q·x)_j, mins[h] = Σ_j mn_j·Σx_j (rows 4h..4h+3). */
X8_INLINE void x8k_super(const uint8_t *g, const uint8_t *xq, const int32_t sum32[8], int32x4_t dot[2],
                         int32x4_t mins[2]) {
    const uint8x16_t m = vdupq_n_u8(0x0f);
    uint8_t sc[64], mn[64];
    x8k_bytes(g, sc, mn);
    dot[0] = dot[1] = mins[0] = mins[1] = vdupq_n_s32(0);
    for (int i = 0; i < 4; i++) { /* chunk i: sub-blocks 2i (low nibbles) and 2i+1 (high) */
        int8x16_t bl[8], bh[8];
        x8k_bcast(xq + 64 * i, bl);
        x8k_bcast(xq + 64 * i + 32, bh);
        int32x4_t t[2][2] = {{vdupq_n_s32(0), vdupq_n_s32(0)}, {vdupq_n_s32(0), vdupq_n_s32(0)}};
        for (int v = 0; v < 8; v++)
            for (int h = 0; h < 2; h++) {
                const uint8x16_t q = vld1q_u8(g + 128 + 256 * i + 32 * v + 16 * h);
                t[0][h] = vdotq_s32(t[0][h], vreinterpretq_s8_u8(vandq_u8(q, m)), bl[v]);
                t[1][h] = vdotq_s32(t[1][h], vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), bh[v]);
            }
        for (int s = 0; s < 2; s++) {
            const int j = 2 * i + s;
            int32x4_t scv[2], mnv[2];
            x8k_widen(sc + 8 * j, scv);
            x8k_widen(mn + 8 * j, mnv);
            for (int h = 0; h < 2; h++) {
                dot[h] = vmlaq_s32(dot[h], t[s][h], scv[h]);
                mins[h] = vmlaq_n_s32(mins[h], mnv[h], sum32[j]);
            }
        }
    }
}

/* acc[h] += d·d_x·dot − dmin·d_x·mins for one super-block of one group. */
X8_INLINE void x8k_finish(const uint8_t *g, const int32x4_t dot[2], const int32x4_t mins[2], float dx,
                          float32x4_t acc[2]) {
    for (int h = 0; h < 2; h++) {
        const float32x4_t d = vmulq_n_f32(vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(g + 8 * h))), dx);
        const float32x4_t dm = vmulq_n_f32(vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(g + 16 + 8 * h))), dx);
        acc[h] = vfmaq_f32(acc[h], d, vcvtq_f32_s32(dot[h]));
        acc[h] = vfmsq_f32(acc[h], dm, vcvtq_f32_s32(mins[h]));
    }
}

X8_INLINE void x8k_store(const float32x4_t acc[2], float *y, bool accumulate) {
    for (int h = 0; h < 2; h++)
        vst1q_f32(y + 4 * h, accumulate ? vaddq_f32(acc[h], vld1q_f32(y + 4 * h)) : acc[h]);
}

/* Groups g0 and, when two, g1 over nb super-blocks: y0[0..8) and y1[0..8) (+)= their rows · x. */
X8_INLINE void x8k_groups(bool two, int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x,
                          const x8k_act *a, float *y0, float *y1, bool accumulate) {
    float32x4_t acc0[2] = {vdupq_n_f32(0), vdupq_n_f32(0)}, acc1[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};
    for (int64_t b = 0; b < nb; b++, g0 += GK_X8K_BLOCK, g1 += GK_X8K_BLOCK, x += ARM_Q8_K_BYTES) {
        int32x4_t dot[2], mins[2];
        x8k_super(g0, x + ARM_Q8_K_QS, a->sum32[b], dot, mins);
        x8k_finish(g0, dot, mins, a->dx[b], acc0);
        if (two) {
            x8k_super(g1, x + ARM_Q8_K_QS, a->sum32[b], dot, mins);
            x8k_finish(g1, dot, mins, a->dx[b], acc1);
        }
    }
    x8k_store(acc0, y0, accumulate);
    if (two) x8k_store(acc1, y1, accumulate);
}

static void x8k_pair(int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x, const void *a,
                     float *y0, float *y1, bool accumulate) {
    x8k_groups(true, nb, g0, g1, x, a, y0, y1, accumulate);
}

static void x8k_one(int64_t nb, const uint8_t *g, const uint8_t *x, const void *a, float *y,
                    bool accumulate) {
    x8k_groups(false, nb, g, g, x, a, y, y, accumulate);
}

void gk_dotprod_matvec_x8_q4_k(int64_t k, const void *w, int64_t ng, const void *xq, float *y) {
    static const gk_x8_kernel x8k = {256,         GK_X8K_BLOCK, ARM_Q8_K_BYTES, X8K_PASS,
                                     x8k_prepare, x8k_pair,     x8k_one};
    x8k_act a;
    gk_x8_drive(&x8k, k, w, ng, xq, &a, y);
}
