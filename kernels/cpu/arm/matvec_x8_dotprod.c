/* Matrix-vector products (decode) on Q4_0 and Q8_0 weights in groups of eight rows (q4_0_x8.h,
 * q8_0_x8.h) against one row of Q8_0 activations, with SDOT: the gk_matvec_x8_fn contract of
 * microkernels.h, for the dotprod and i8mm tables.
 *
 * The x86 kernels' design (matvec_x8_avx2.c) on 128-bit vectors: a group's 32-byte quant vector
 * is two NEON vectors, rows 0-3 and rows 4-7, each lane one row's four bytes, so one SDOT
 * against those four activation bytes duplicated to every lane (DUP by lane) adds four products
 * a row, and lanes stay rows to the end: no sum across lanes, and the eight F16 scales of a
 * block meet the eight sums in two vectors. Q4_0: the nibbles (0..15) are valid signed bytes,
 * so SDOT takes them as they are and each block's sum is offset by 8·Σx (prepared once a pass);
 * Q8_0: the weights are signed bytes already. Two groups at a time, from the two halves of the
 * rows (x8_driver.h), so each activation vector is built once for both and a core reads two
 * streams. Tested
 * under qemu; no timing was possible on this project's x86 machines. */
#include <stdbool.h>
#include <stddef.h>

#include "kernels/cpu/arm/arm.h"
#include "kernels/cpu/q4_0_x8.h"
#include "kernels/cpu/q8_0_x8.h"
#include "kernels/cpu/x8_driver.h"

#define X8_INLINE static inline __attribute__((always_inline))

enum {
    X8_PASS = 512
}; /* blocks of K per pass (K up to 16384 in one sweep); the prepared activations stay in L1 */

/* What depends on the activations alone, per block: d_x and the Q4_0 offset 8·Σx. */
typedef struct x8_act {
    float dx[X8_PASS];
    int32_t off[X8_PASS];
} x8_act;

static void x8_prepare(const uint8_t *x, int64_t nb, void *act) {
    x8_act *a = act;
    const int8x16_t ones = vdupq_n_s8(1);
    for (int64_t b = 0; b < nb; b++, x += ARM_Q8_0_BYTES) {
        int32x4_t s = vdotq_s32(vdupq_n_s32(0), vld1q_s8((const int8_t *)x + 2), ones);
        s = vdotq_s32(s, vld1q_s8((const int8_t *)x + 18), ones);
        a->dx[b] = arm_f16_at(x);
        a->off[b] = 8 * vaddvq_s32(s);
    }
}

/* The eight four-byte groups of a block's activations, each in every lane: b[v] = x[4v..4v+3]. */
X8_INLINE void x8_bcast(const uint8_t *x, int8x16_t b[8]) {
    const int32x4_t lo = vreinterpretq_s32_s8(vld1q_s8((const int8_t *)x + 2));
    const int32x4_t hi = vreinterpretq_s32_s8(vld1q_s8((const int8_t *)x + 18));
    b[0] = vreinterpretq_s8_s32(vdupq_laneq_s32(lo, 0)), b[1] = vreinterpretq_s8_s32(vdupq_laneq_s32(lo, 1));
    b[2] = vreinterpretq_s8_s32(vdupq_laneq_s32(lo, 2)), b[3] = vreinterpretq_s8_s32(vdupq_laneq_s32(lo, 3));
    b[4] = vreinterpretq_s8_s32(vdupq_laneq_s32(hi, 0)), b[5] = vreinterpretq_s8_s32(vdupq_laneq_s32(hi, 1));
    b[6] = vreinterpretq_s8_s32(vdupq_laneq_s32(hi, 2)), b[7] = vreinterpretq_s8_s32(vdupq_laneq_s32(hi, 3));
}

/* Σ q·x of one block of one group, rows 0-3 in s[0] and 4-7 in s[1] (Q4_0 before the offset). */
X8_INLINE void x8_sums(bool q4, const uint8_t *g, const int8x16_t b[8], int32x4_t s[2]) {
    const uint8x16_t m = vdupq_n_u8(0x0f);
    s[0] = vdupq_n_s32(0), s[1] = vdupq_n_s32(0);
    for (int v = 0; v < (q4 ? 4 : 8); v++)
        for (int h = 0; h < 2; h++) {
            const uint8x16_t q = vld1q_u8(g + 16 + 32 * v + 16 * h);
            if (!q4) {
                s[h] = vdotq_s32(s[h], vreinterpretq_s8_u8(q), b[v]);
                continue;
            }
            s[h] = vdotq_s32(s[h], vreinterpretq_s8_u8(vandq_u8(q, m)), b[v]);
            s[h] = vdotq_s32(s[h], vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), b[4 + v]);
        }
}

/* acc[h] += d_w · d_x · (Σ q·x − off) for one block of one group. */
X8_INLINE void x8_block(bool q4, const uint8_t *g, const int8x16_t b[8], int32_t off, float dx,
                        float32x4_t acc[2]) {
    int32x4_t s[2];
    x8_sums(q4, g, b, s);
    for (int h = 0; h < 2; h++) {
        const float32x4_t d = vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(g + 8 * h)));
        acc[h] = vfmaq_f32(acc[h], vmulq_n_f32(d, dx), vcvtq_f32_s32(vsubq_s32(s[h], vdupq_n_s32(off))));
    }
}

X8_INLINE void x8_store(const float32x4_t acc[2], float *y, bool accumulate) {
    for (int h = 0; h < 2; h++)
        vst1q_f32(y + 4 * h, accumulate ? vaddq_f32(acc[h], vld1q_f32(y + 4 * h)) : acc[h]);
}

/* Groups g0 and, when two, g1 over nb blocks: y0[0..8) and y1[0..8) (+)= their rows · x. */
X8_INLINE void x8_groups(bool q4, bool two, int64_t nb, const uint8_t *g0, const uint8_t *g1,
                         const uint8_t *x, const x8_act *a, float *y0, float *y1, bool accumulate) {
    const size_t gb = q4 ? GK_X8_BLOCK : GK_X8Q8_BLOCK;
    float32x4_t acc0[2] = {vdupq_n_f32(0), vdupq_n_f32(0)}, acc1[2] = {vdupq_n_f32(0), vdupq_n_f32(0)};
    for (int64_t i = 0; i < nb; i++, g0 += gb, g1 += gb, x += ARM_Q8_0_BYTES) {
        int8x16_t b[8];
        x8_bcast(x, b);
        const int32_t off = q4 ? a->off[i] : 0;
        x8_block(q4, g0, b, off, a->dx[i], acc0);
        if (two) x8_block(q4, g1, b, off, a->dx[i], acc1);
    }
    x8_store(acc0, y0, accumulate);
    if (two) x8_store(acc1, y1, accumulate);
}

/* The driver's pair and lone-group functions (x8_driver.h), one of each per format. */
static void x8_q4_pair(int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x, const void *a,
                       float *y0, float *y1, bool accumulate) {
    x8_groups(true, true, nb, g0, g1, x, a, y0, y1, accumulate);
}

static void x8_q4_one(int64_t nb, const uint8_t *g, const uint8_t *x, const void *a, float *y,
                      bool accumulate) {
    x8_groups(true, false, nb, g, g, x, a, y, y, accumulate);
}

static void x8_q8_pair(int64_t nb, const uint8_t *g0, const uint8_t *g1, const uint8_t *x, const void *a,
                       float *y0, float *y1, bool accumulate) {
    x8_groups(false, true, nb, g0, g1, x, a, y0, y1, accumulate);
}

static void x8_q8_one(int64_t nb, const uint8_t *g, const uint8_t *x, const void *a, float *y,
                      bool accumulate) {
    x8_groups(false, false, nb, g, g, x, a, y, y, accumulate);
}

void gk_dotprod_matvec_x8_q4_0(int64_t k, const void *w, int64_t ng, const void *xq, float *y) {
    static const gk_x8_kernel x8k = {32,         GK_X8_BLOCK, ARM_Q8_0_BYTES, X8_PASS,
                                     x8_prepare, x8_q4_pair,  x8_q4_one};
    x8_act a;
    gk_x8_drive(&x8k, k, w, ng, xq, &a, y);
}

void gk_dotprod_matvec_x8_q8_0(int64_t k, const void *w, int64_t ng, const void *xq, float *y) {
    static const gk_x8_kernel x8k = {32,         GK_X8Q8_BLOCK, ARM_Q8_0_BYTES, X8_PASS,
                                     x8_prepare, x8_q8_pair,    x8_q8_one};
    x8_act a;
    gk_x8_drive(&x8k, k, w, ng, xq, &a, y);
}
