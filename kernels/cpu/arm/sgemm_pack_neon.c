/* Packing of float weights into the sgemm's NR-column panels, AArch64 (the gk_sgemm_pack_fn
 * contract in ukernel.h): four weight rows converted at once, four inputs each, turned into
 * four panel rows by a 4×4 transpose in registers (TRN1/TRN2 on 32- then 64-bit lanes) and
 * stored as whole vectors, instead of one scalar store per element. The conversions are exact
 * (FCVTL, a 16-bit shift), so the panels equal the portable packing's bit for bit. */
#include "kernels/cpu/arm/arm.h"
#include "kernels/quant.h"

static inline float32x4_t load4(int type, const char *row, int64_t p) {
    if (type == GK_F16) return arm_f16x4((const uint16_t *)(const void *)(row + p * 2));
    if (type == GK_BF16) return arm_bf16x4((const uint16_t *)(const void *)(row + p * 2));
    return vld1q_f32((const float *)(const void *)(row + p * 4));
}

static inline float load1(int type, const char *row, int64_t p) {
    uint16_t h;
    if (type == GK_F32) return arm_f32_at((const uint8_t *)row + p * 4);
    memcpy(&h, row + p * 2, sizeof h);
    return type == GK_F16 ? arm_f16(h) : arm_bf16(h);
}

/* r[i] (row i, 4 inputs) → r[p] (input p, 4 rows). */
static inline void transpose4(float32x4_t r[4]) {
    const float32x4_t t0 = vtrn1q_f32(r[0], r[1]), t1 = vtrn2q_f32(r[0], r[1]);
    const float32x4_t t2 = vtrn1q_f32(r[2], r[3]), t3 = vtrn2q_f32(r[2], r[3]);
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}

/* One panel column element by element: leftover rows and inputs, and the zero padding. */
static void pack_col(int type, const char *row, int64_t k0, int64_t p0, int64_t kc, int nr, float *col) {
    for (int64_t p = p0; p < kc; p++) col[p * nr] = row ? load1(type, row, k0 + p) : 0.0f;
}

void gk_neon_sgemm_pack_b(int type, const char *w, size_t wrow, int rows, int64_t k0, int64_t kc, int nr,
                          float *panel) {
    const int64_t kv = kc & ~(int64_t)3;
    int r0 = 0;
    for (; r0 + 4 <= rows; r0 += 4) {
        const char *w0 = w + (size_t)r0 * wrow;
        for (int64_t p = 0; p < kv; p += 4) {
            float32x4_t v[4];
#pragma GCC unroll 4   /* v[] in registers: GCC otherwise keeps it on the stack (as on x86) */
            for (int i = 0; i < 4; i++) v[i] = load4(type, w0 + (size_t)i * wrow, k0 + p);
            transpose4(v);
#pragma GCC unroll 4
            for (int i = 0; i < 4; i++) vst1q_f32(panel + (p + i) * nr + r0, v[i]);
        }
        for (int i = 0; i < 4; i++) pack_col(type, w0 + (size_t)i * wrow, k0, kv, kc, nr, panel + r0 + i);
    }
    for (; r0 < nr; r0++) pack_col(type, r0 < rows ? w + (size_t)r0 * wrow : NULL, k0, 0, kc, nr, panel + r0);
}
