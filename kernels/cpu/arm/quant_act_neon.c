/* Activation quantisers for AArch64 (Advanced SIMD): F32 rows -> Q8_0 and Q8_K blocks.
 *
 * Their bytes must equal the scalar reference's (quant.c, ggml's reference rounding), so each
 * step mirrors it; roundf (half away from zero) is FCVTAS (vcvtaq):
 *   Q8_0: d = amax/127, id = d ? 1/d : 0, q = clamp(round(x*id), -127, 127), d stored as f16
 *   Q8_K: max = first element of largest |x|, id = -128/max, q = clamp(round(x*id), -128, 127),
 *         d = 1/id, bsums = sums of 16; all zero when max is 0
 * Float multiplies and divides are single IEEE operations in both, so the results agree bit for bit. */
#include "kernels/cpu/arm/arm.h"

static inline int8x8_t narrow_s32x2(int32x4_t a, int32x4_t b) {
    return vmovn_s16(vcombine_s16(vmovn_s32(a), vmovn_s32(b)));
}

static void quantize_block_q8_0(const float *x, uint8_t *out) {
    float32x4_t v[8];
    float32x4_t amax = vdupq_n_f32(0.0f);
    for (int i = 0; i < 8; i++) {
        v[i] = vld1q_f32(x + 4 * i);
        amax = vmaxq_f32(amax, vabsq_f32(v[i]));
    }
    const float d = vmaxvq_f32(amax) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    __fp16 dh = (__fp16)d;   /* FCVT rounds to nearest-even, as gk_f32_to_f16 */
    memcpy(out, &dh, sizeof dh);
    const int32x4_t lo = vdupq_n_s32(-127), hi = vdupq_n_s32(127);
    for (int i = 0; i < 8; i += 2) {
        int32x4_t q0 = vmaxq_s32(vminq_s32(vcvtaq_s32_f32(vmulq_n_f32(v[i], id)), hi), lo);
        int32x4_t q1 = vmaxq_s32(vminq_s32(vcvtaq_s32_f32(vmulq_n_f32(v[i + 1], id)), hi), lo);
        vst1_s8((int8_t *)out + 2 + 4 * i, narrow_s32x2(q0, q1));
    }
}

void gk_neon_quantize_q8_0(const float *x, void *xq, int64_t k) {
    uint8_t *out = xq;
    for (int64_t b = 0; b < k / ARM_QK; b++)
        quantize_block_q8_0(x + b * ARM_QK, out + b * ARM_Q8_0_BYTES);
}

/* The element of largest magnitude, the first one on ties (its sign decides the scale's). */
static float signed_absmax(const float *x, int n) {
    float32x4_t amax = vdupq_n_f32(0.0f);
    for (int i = 0; i < n; i += 4) amax = vmaxq_f32(amax, vabsq_f32(vld1q_f32(x + i)));
    const float a = vmaxvq_f32(amax);
    for (int i = 0; i < n; i++)
        if (x[i] == a || x[i] == -a) return x[i];
    return 0.0f;
}

static void quantize_block_q8_K(const float *x, uint8_t *out) {
    int8_t *qs = (int8_t *)out + ARM_Q8_K_QS;
    int16_t bsums[ARM_QKK / 16];
    const float max = signed_absmax(x, ARM_QKK);
    if (max == 0.0f) {
        memset(out, 0, ARM_Q8_K_BYTES);
        return;
    }
    const float id = -128.0f / max;
    const int32x4_t lo = vdupq_n_s32(-128), hi = vdupq_n_s32(127);
    for (int g = 0; g < ARM_QKK / 16; g++) {
        int32x4_t q[4];
        for (int i = 0; i < 4; i++)
            q[i] = vmaxq_s32(vminq_s32(vcvtaq_s32_f32(vmulq_n_f32(vld1q_f32(x + 16 * g + 4 * i), id)), hi), lo);
        int8x16_t b = vcombine_s8(narrow_s32x2(q[0], q[1]), narrow_s32x2(q[2], q[3]));
        vst1q_s8(qs + 16 * g, b);
        bsums[g] = vaddlvq_s8(b);
    }
    const float d = 1.0f / id;
    memcpy(out, &d, sizeof d);
    memcpy(out + ARM_Q8_K_BSUMS, bsums, sizeof bsums);
}

void gk_neon_quantize_q8_K(const float *x, void *xq, int64_t k) {
    uint8_t *out = xq;
    for (int64_t b = 0; b < k / ARM_QKK; b++)
        quantize_block_q8_K(x + b * ARM_QKK, out + b * ARM_Q8_K_BYTES);
}
