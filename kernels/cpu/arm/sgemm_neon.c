/* F32 GEMM micro-kernel for AArch64: C[8×12] += A·B (the contract of gk_sgemm_fn).
 *
 * 8×12 fills the 32 vector registers: 24 accumulators (8 rows × 3 vectors of 4 columns), 2 for
 * the A column (8 values) and 3 for the B row (12 values). Each k step is 5 loads for 24 FMAs
 * (FMLA by element, vfmaq_laneq_f32), so the loop is bound by the FMA pipes, not by loads. */
#include "kernels/cpu/arm/arm.h"

#define ROW_FMA(r, av, lane)                                \
    do {                                                    \
        c##r##0 = vfmaq_laneq_f32(c##r##0, b0, av, lane);   \
        c##r##1 = vfmaq_laneq_f32(c##r##1, b1, av, lane);   \
        c##r##2 = vfmaq_laneq_f32(c##r##2, b2, av, lane);   \
    } while (0)

#define ROW_STORE(r)                                                          \
    do {                                                                      \
        float *cr = c + (r) * ldc;                                            \
        vst1q_f32(cr, vaddq_f32(vld1q_f32(cr), c##r##0));                     \
        vst1q_f32(cr + 4, vaddq_f32(vld1q_f32(cr + 4), c##r##1));             \
        vst1q_f32(cr + 8, vaddq_f32(vld1q_f32(cr + 8), c##r##2));             \
    } while (0)

void gk_neon_sgemm_8x12(int64_t kc, const float *a, const float *b, float *c, int64_t ldc) {
    const float32x4_t z = vdupq_n_f32(0.0f);
    float32x4_t c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z;
    float32x4_t c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
    float32x4_t c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z;
    float32x4_t c60 = z, c61 = z, c62 = z, c70 = z, c71 = z, c72 = z;
    for (int64_t p = 0; p < kc; p++) {
        const float32x4_t a0 = vld1q_f32(a + 8 * p), a1 = vld1q_f32(a + 8 * p + 4);
        const float32x4_t b0 = vld1q_f32(b + 12 * p), b1 = vld1q_f32(b + 12 * p + 4),
                          b2 = vld1q_f32(b + 12 * p + 8);
        ROW_FMA(0, a0, 0);
        ROW_FMA(1, a0, 1);
        ROW_FMA(2, a0, 2);
        ROW_FMA(3, a0, 3);
        ROW_FMA(4, a1, 0);
        ROW_FMA(5, a1, 1);
        ROW_FMA(6, a1, 2);
        ROW_FMA(7, a1, 3);
    }
    ROW_STORE(0);
    ROW_STORE(1);
    ROW_STORE(2);
    ROW_STORE(3);
    ROW_STORE(4);
    ROW_STORE(5);
    ROW_STORE(6);
    ROW_STORE(7);
}
