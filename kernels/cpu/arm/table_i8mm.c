/* AArch64 micro-kernels with the int8 matrix-multiply extension (SMMLA, FEAT_I8MM: Apple M2
 * and later, Graviton 3/4, Neoverse V1/V2/N2). SMMLA multiplies a 2×8 int8 matrix by an 8×2 one
 * into a 2×2 int32 tile, i.e. two weight rows × two activation columns per instruction, which
 * is twice SDOT's work: it serves the dot_tile of Q4_0 and Q8_0 (matrix × many columns), whose
 * row dots are dotprod's. All other entries stay NULL and the dispatcher fills them from the
 * dotprod and neon tables. */
#include <stddef.h>

#include "kernels/platform.h"
#include "kernels/cpu/arm/arm.h"

enum { MM_TILE_ROWS = 4, MM_TILE_COLS = 8 };

/* Two 32-value rows (a, b) as SMMLA operands: chunk c holds a[8c..8c+7] then b[8c..8c+7]. */
static inline void interleave_pair(qblock a, qblock b, int8x16_t out[4]) {
    const int64x2_t al = vreinterpretq_s64_s8(a.lo), ah = vreinterpretq_s64_s8(a.hi);
    const int64x2_t bl = vreinterpretq_s64_s8(b.lo), bh = vreinterpretq_s64_s8(b.hi);
    out[0] = vreinterpretq_s8_s64(vzip1q_s64(al, bl));
    out[1] = vreinterpretq_s8_s64(vzip2q_s64(al, bl));
    out[2] = vreinterpretq_s8_s64(vzip1q_s64(ah, bh));
    out[3] = vreinterpretq_s8_s64(vzip2q_s64(ah, bh));
}

/* 2×2 int32 tile [r0·c0, r0·c1, r1·c0, r1·c1] of one 32-element block. Each lane sums 32
 * products, |sum| <= 32*128*128 = 2^19. */
static inline int32x4_t mm_block(const int8x16_t w[4], const int8x16_t x[4]) {
    int32x4_t s = vmmlaq_s32(vdupq_n_s32(0), w[0], x[0]);
    s = vmmlaq_s32(s, w[1], x[1]);
    s = vmmlaq_s32(s, w[2], x[2]);
    return vmmlaq_s32(s, w[3], x[3]);
}

/* Rows and columns beyond nr/nc re-read row/column 0 and are not stored (see qdot_arm.h).
 * lo[cp] holds rows 0, 1 × columns 2cp, 2cp+1 in SMMLA's lane order, hi[cp] rows 2, 3. Per
 * block: 8 weight and 4 activation operand registers, 16 float accumulators. */
#define MM_TILE(name, decode, wbytes)                                                              \
    static void name(int64_t k, const void *w, size_t w_stride, int nr, const void *xq,           \
                     size_t x_stride, int nc, float *y, int64_t ldy) {                             \
        const uint8_t *w0 = w, *w1 = w0 + (nr > 1 ? w_stride : 0);                                 \
        const uint8_t *w2 = w0 + (nr > 2 ? 2 * w_stride : 0), *w3 = w0 + (nr > 3 ? 3 * w_stride : 0); \
        const uint8_t *xc[MM_TILE_COLS];                                                           \
        for (int j = 0; j < MM_TILE_COLS; j++)                                                     \
            xc[j] = (const uint8_t *)xq + (size_t)(j < nc ? j : 0) * x_stride;                     \
        float32x4_t lo[MM_TILE_COLS / 2], hi[MM_TILE_COLS / 2];                                    \
        for (int cp = 0; cp < MM_TILE_COLS / 2; cp++) lo[cp] = hi[cp] = vdupq_n_f32(0.0f);         \
        for (int64_t b = 0; b < k / ARM_QK; b++) {                                                 \
            const int64_t off = b * (wbytes);                                                      \
            const qblock q0 = decode(w0 + off), q1 = decode(w1 + off);                             \
            const qblock q2 = decode(w2 + off), q3 = decode(w3 + off);                             \
            int8x16_t wa[4], wb[4];                                                                \
            interleave_pair(q0, q1, wa);                                                           \
            interleave_pair(q2, q3, wb);                                                           \
            const float32x4_t da = {q0.d, q0.d, q1.d, q1.d}, db = {q2.d, q2.d, q3.d, q3.d};        \
            _Pragma("GCC unroll 4") for (int cp = 0; cp < MM_TILE_COLS / 2; cp++) {                \
                const uint8_t *x0 = xc[2 * cp] + b * ARM_Q8_0_BYTES;                               \
                const uint8_t *x1 = xc[2 * cp + 1] + b * ARM_Q8_0_BYTES;                           \
                int8x16_t xv[4];                                                                   \
                interleave_pair(decode_q8_0(x0), decode_q8_0(x1), xv);                             \
                const float d0 = arm_f16_at(x0), d1 = arm_f16_at(x1);                              \
                const float32x4_t dx = {d0, d1, d0, d1};                                           \
                lo[cp] = vfmaq_f32(lo[cp], vcvtq_f32_s32(mm_block(wa, xv)), vmulq_f32(da, dx));    \
                hi[cp] = vfmaq_f32(hi[cp], vcvtq_f32_s32(mm_block(wb, xv)), vmulq_f32(db, dx));    \
            }                                                                                      \
        }                                                                                          \
        for (int cp = 0; cp < MM_TILE_COLS / 2; cp++) {                                            \
            float v[8];                                                                            \
            vst1q_f32(v, lo[cp]);                                                                  \
            vst1q_f32(v + 4, hi[cp]);                                                              \
            for (int l = 0; l < 8; l++) {                                                          \
                const int i = 2 * (l / 4) + (l % 4) / 2, j = 2 * cp + l % 2;                       \
                if (i < nr && j < nc) y[j * ldy + i] = v[l];                                       \
            }                                                                                      \
        }                                                                                          \
    }

MM_TILE(dot_tile_q8_0, decode_q8_0, ARM_Q8_0_BYTES)
MM_TILE(dot_tile_q4_0, decode_q4_0, ARM_Q4_0_BYTES)

static const gk_ukernels table = {
    .isa = "i8mm",
    .t = {
        [GK_Q8_0] = {.act_type = GK_Q8_0, .vec_dot = gk_dotprod_vec_dot_q8_0, .dot_tile = dot_tile_q8_0,
                     .tile_rows = MM_TILE_ROWS, .tile_cols = MM_TILE_COLS, .matvec_x8 = gk_dotprod_matvec_x8_q8_0},
        [GK_Q4_0] = {.act_type = GK_Q8_0, .vec_dot = gk_dotprod_vec_dot_q4_0, .dot_tile = dot_tile_q4_0,
                     .tile_rows = MM_TILE_ROWS, .tile_cols = MM_TILE_COLS, .matvec_x8 = gk_dotprod_matvec_x8_q4_0},
    },
};

/* Every Armv8.6 CPU has SDOT too (mandatory since v8.4); requiring both keeps the fallback
 * entries, taken from the dotprod table, valid on this CPU. */
const gk_ukernels *gk_ukernels_i8mm(void) {
    const gk_cpu_features *f = gk_cpu_features_get();
    return f->i8mm && f->dotprod ? &table : NULL;
}
