/* Float kernels for AArch64 (Advanced SIMD): F32/F16/BF16 weight rows · F32 activations, the
 * half/bfloat conversions, and the dot/axpy helpers of the norms and attention.
 *
 * F16 -> F32 is FCVTL (exact); F32 -> F16 is FCVTN, which rounds by FPCR (nearest-even, the
 * Linux/macOS default), like gk_f32_to_f16. BF16 -> F32 is a 16-bit shift (exact).
 * Dots keep four independent accumulators of four lanes, so 16 FMAs are in flight. */
#include "kernels/cpu/arm/arm.h"

float gk_neon_dot_f32(const float *a, const float *b, int64_t n) {
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

float gk_neon_dot_f32_f16(const float *a, const uint16_t *b, int64_t n) {
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), arm_f16x4(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), arm_f16x4(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), arm_f16x4(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), arm_f16x4(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + i), arm_f16x4(b + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) s += a[i] * arm_f16(b[i]);
    return s;
}

static float dot_f32_bf16(const float *a, const uint16_t *b, int64_t n) {
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), arm_bf16x4(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), arm_bf16x4(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), arm_bf16x4(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), arm_bf16x4(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + i), arm_bf16x4(b + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) s += a[i] * arm_bf16(b[i]);
    return s;
}

void gk_neon_vec_dot_f32(int64_t k, const void *w, const void *x, float *out) {
    *out = gk_neon_dot_f32(w, x, k);
}

void gk_neon_vec_dot_f16(int64_t k, const void *w, const void *x, float *out) {
    *out = gk_neon_dot_f32_f16(x, w, k);
}

void gk_neon_vec_dot_bf16(int64_t k, const void *w, const void *x, float *out) {
    *out = dot_f32_bf16(x, w, k);
}

/* Four weight rows × four F32 columns: each converted weight vector serves four columns and
 * each column vector four rows (16 FMAs per 8 loads, 16 accumulators + 8 operands in
 * registers). Rows/columns beyond nr/nc re-read row/column 0 and are not stored. */
#define FLOAT_TILE(name, elem, load4, scalar)                                                     \
    void name(int64_t k, const void *w, size_t w_stride, int nr, const void *xq, size_t x_stride, \
              int nc, float *y, int64_t ldy) {                                                    \
        const elem *r[4];                                                                         \
        const float *c[4];                                                                        \
        for (int i = 0; i < 4; i++) {                                                             \
            r[i] = (const elem *)((const uint8_t *)w + (size_t)(i < nr ? i : 0) * w_stride);      \
            c[i] = (const float *)((const uint8_t *)xq + (size_t)(i < nc ? i : 0) * x_stride);    \
        }                                                                                         \
        float32x4_t s[4][4];                                                                      \
        for (int i = 0; i < 4; i++)                                                               \
            for (int j = 0; j < 4; j++) s[i][j] = vdupq_n_f32(0.0f);                              \
        int64_t p = 0;                                                                            \
        for (; p + 4 <= k; p += 4) {                                                              \
            const float32x4_t w0 = load4(r[0] + p), w1 = load4(r[1] + p);                         \
            const float32x4_t w2 = load4(r[2] + p), w3 = load4(r[3] + p);                         \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {                                 \
                const float32x4_t xv = vld1q_f32(c[j] + p);                                       \
                s[0][j] = vfmaq_f32(s[0][j], w0, xv);                                             \
                s[1][j] = vfmaq_f32(s[1][j], w1, xv);                                             \
                s[2][j] = vfmaq_f32(s[2][j], w2, xv);                                             \
                s[3][j] = vfmaq_f32(s[3][j], w3, xv);                                             \
            }                                                                                     \
        }                                                                                         \
        float t[4][4];   /* constant indices only, so s stays in registers */                    \
        _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++)                                       \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) t[i][j] = vaddvq_f32(s[i][j]);    \
        for (int j = 0; j < nc; j++)                                                              \
            for (int i = 0; i < nr; i++) {                                                        \
                float v = t[i][j];                                                                \
                for (int64_t q = p; q < k; q++) v += scalar(r[i][q]) * c[j][q];                   \
                y[j * ldy + i] = v;                                                               \
            }                                                                                     \
    }

static inline float f32_scalar(float f) { return f; }

FLOAT_TILE(gk_neon_dot_tile_f32, float, vld1q_f32, f32_scalar)
FLOAT_TILE(gk_neon_dot_tile_f16, uint16_t, arm_f16x4, arm_f16)
FLOAT_TILE(gk_neon_dot_tile_bf16, uint16_t, arm_bf16x4, arm_bf16)

void gk_neon_axpy_f32(float a, const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
        vst1q_f32(y + i + 4, vfmaq_n_f32(vld1q_f32(y + i + 4), vld1q_f32(x + i + 4), a));
    }
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    for (; i < n; i++) y[i] += a * x[i];
}

/* Q8_0 KV rows: a block's 32 int8 widened to eight 4-float vectors, scaled once per block. */
static inline float32x4_t q8_0_part(int8x16_t q, int hi, int quarter) {
    const int16x8_t w = hi ? vmovl_high_s8(q) : vmovl_s8(vget_low_s8(q));
    return vcvtq_f32_s32(quarter ? vmovl_high_s16(w) : vmovl_s16(vget_low_s16(w)));
}

float gk_neon_dot_f32_q8_0(const float *a, const void *b, int64_t n) {
    const uint8_t *blk = b;
    float32x4_t s = vdupq_n_f32(0);
    for (int64_t i0 = 0; i0 < n; i0 += 32, blk += 34) {
        uint16_t d;
        memcpy(&d, blk, sizeof d);
        float32x4_t p = vdupq_n_f32(0);
        for (int h = 0; h < 2; h++) {
            const int8x16_t q = vld1q_s8((const int8_t *)blk + 2 + 16 * h);
            const float *ah = a + i0 + 16 * h;
            p = vfmaq_f32(p, vld1q_f32(ah), q8_0_part(q, 0, 0));
            p = vfmaq_f32(p, vld1q_f32(ah + 4), q8_0_part(q, 0, 1));
            p = vfmaq_f32(p, vld1q_f32(ah + 8), q8_0_part(q, 1, 0));
            p = vfmaq_f32(p, vld1q_f32(ah + 12), q8_0_part(q, 1, 1));
        }
        s = vfmaq_n_f32(s, p, arm_f16(d));
    }
    return vaddvq_f32(s);
}

void gk_neon_axpy_q8_0(float a, const void *x, float *y, int64_t n) {
    const uint8_t *blk = x;
    for (int64_t i0 = 0; i0 < n; i0 += 32, blk += 34) {
        uint16_t d;
        memcpy(&d, blk, sizeof d);
        const float ad = a * arm_f16(d);
        for (int h = 0; h < 2; h++) {
            const int8x16_t q = vld1q_s8((const int8_t *)blk + 2 + 16 * h);
            float *yh = y + i0 + 16 * h;
            for (int j = 0; j < 4; j++)
                vst1q_f32(yh + 4 * j, vfmaq_n_f32(vld1q_f32(yh + 4 * j), q8_0_part(q, j >> 1, j & 1), ad));
        }
    }
}

void gk_neon_axpy_f16(float a, const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), arm_f16x4(x + i), a));
        vst1q_f32(y + i + 4, vfmaq_n_f32(vld1q_f32(y + i + 4), arm_f16x4(x + i + 4), a));
    }
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), arm_f16x4(x + i), a));
    for (; i < n; i++) y[i] += a * arm_f16(x[i]);
}

void gk_neon_f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, arm_f16x4(x + i));
    for (; i < n; i++) y[i] = arm_f16(x[i]);
}

void gk_neon_f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < n; i++) {
        float32x4_t v = vdupq_n_f32(x[i]);
        y[i] = vget_lane_u16(vreinterpret_u16_f16(vcvt_f16_f32(v)), 0);
    }
}

void gk_neon_bf16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, arm_bf16x4(x + i));
    for (; i < n; i++) y[i] = arm_bf16(x[i]);
}
