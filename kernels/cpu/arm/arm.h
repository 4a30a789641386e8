/* Internal to the AArch64 micro-kernels (the files of kernels/cpu named *_neon.c, *_dotprod.c, *_i8mm.c): block
 * offsets of the ggml layouts, small load helpers, and the kernels one ISA file lends another.
 * Only compiled for AArch64; nothing here is part of the backend's public surface.
 *
 * Blocks are read through byte pointers (vld1q_u8/vld1q_s8 accept any alignment) and their
 * half-precision scales through memcpy, so a tensor at any byte offset is fine. */
#ifndef GK_UKERNEL_ARM_H
#define GK_UKERNEL_ARM_H
#if defined(__aarch64__)
#include <arm_neon.h>
#include <stdint.h>
#include <string.h>
#include "kernels/cpu/microkernels.h"

/* ggml block layouts (see kernels/quant.h): byte sizes and field offsets. */
enum {
    ARM_QK = 32, ARM_QKK = 256,
    ARM_Q8_0_BYTES = 34,                           /* f16 d; int8 qs[32] */
    ARM_Q4_0_BYTES = 18,                           /* f16 d; uint8 qs[16] */
    ARM_Q4_1_BYTES = 20,                           /* f16 d, m; uint8 qs[16] */
    ARM_Q4_K_BYTES = 144, ARM_Q4_K_SCALES = 4, ARM_Q4_K_QS = 16,
    ARM_Q6_K_BYTES = 210, ARM_Q6_K_QH = 128, ARM_Q6_K_SC = 192, ARM_Q6_K_D = 208,
    ARM_Q8_K_BYTES = 292, ARM_Q8_K_QS = 4, ARM_Q8_K_BSUMS = 260,  /* float d; int8 qs[256]; int16 bsums[16] */
};

/* A binary16 at p as float (the hardware conversion is exact). */
static inline float arm_f16_at(const uint8_t *p) {
    __fp16 h;
    memcpy(&h, p, sizeof h);
    return (float)h;
}

/* Four halves / bfloats as F32 (both exact: FCVTL, and a 16-bit shift), and one of each. */
static inline float32x4_t arm_f16x4(const uint16_t *p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

static inline float32x4_t arm_bf16x4(const uint16_t *p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}

static inline float arm_f16(uint16_t h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

static inline float arm_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float arm_f32_at(const uint8_t *p) {
    float f;
    memcpy(&f, p, sizeof f);
    return f;
}

/* 32 Q4_0/Q4_1 nibbles as bytes: lo = elements 0..15, hi = 16..31 (values 0..15). */
static inline void arm_unpack_nibbles(const uint8_t *qs, int8x16_t *lo, int8x16_t *hi) {
    uint8x16_t b = vld1q_u8(qs);
    *lo = vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0f)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));
}

/* One weight block decoded to 32 int8 values (lo = elements 0..15, hi = 16..31), its scale d
 * and, for Q4_1, its offset m. */
typedef struct qblock {
    int8x16_t lo, hi;
    float d, m;
} qblock;

static inline qblock decode_q8_0(const uint8_t *b) {
    return (qblock){vld1q_s8((const int8_t *)b + 2), vld1q_s8((const int8_t *)b + 18), arm_f16_at(b), 0.0f};
}

static inline qblock decode_q4_0(const uint8_t *b) {
    qblock q = {.d = arm_f16_at(b)};
    arm_unpack_nibbles(b + 2, &q.lo, &q.hi);
    q.lo = vsubq_s8(q.lo, vdupq_n_s8(8));
    q.hi = vsubq_s8(q.hi, vdupq_n_s8(8));
    return q;
}

static inline qblock decode_q4_1(const uint8_t *b) {
    qblock q = {.d = arm_f16_at(b), .m = arm_f16_at(b + 2)};
    arm_unpack_nibbles(b + 4, &q.lo, &q.hi);
    return q;
}

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K block (ggml's get_scale_min_k4). */
static inline void arm_q4k_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Kernels in float_neon.c and sgemm_neon.c, and the activation quantisers of quant_act_neon.c,
 * used by every AArch64 table. */
void gk_neon_quantize_q8_0(const float *x, void *xq, int64_t k);
void gk_neon_quantize_q8_K(const float *x, void *xq, int64_t k);
void gk_neon_vec_dot_f32(int64_t k, const void *w, const void *x, float *out);
void gk_neon_vec_dot_f16(int64_t k, const void *w, const void *x, float *out);
void gk_neon_vec_dot_bf16(int64_t k, const void *w, const void *x, float *out);
void gk_neon_dot_tile_f32(int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                          size_t x_stride, int nc, float *y, int64_t ldy);
void gk_neon_dot_tile_f16(int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                          size_t x_stride, int nc, float *y, int64_t ldy);
void gk_neon_dot_tile_bf16(int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                           size_t x_stride, int nc, float *y, int64_t ldy);
enum { GK_NEON_FLOAT_TILE_ROWS = 4, GK_NEON_FLOAT_TILE_COLS = 4 };
void gk_neon_f16_to_f32(const uint16_t *x, float *y, int64_t n);
void gk_neon_f32_to_f16(const float *x, uint16_t *y, int64_t n);
void gk_neon_bf16_to_f32(const uint16_t *x, float *y, int64_t n);
float gk_neon_dot_f32(const float *a, const float *b, int64_t n);
void gk_neon_axpy_f32(float a, const float *x, float *y, int64_t n);
float gk_neon_dot_f32_f16(const float *a, const uint16_t *b, int64_t n);
void gk_neon_axpy_f16(float a, const uint16_t *x, float *y, int64_t n);
float gk_neon_dot_f32_q8_0(const float *a, const void *b, int64_t n);
void gk_neon_axpy_q8_0(float a, const void *x, float *y, int64_t n);
enum { GK_NEON_SGEMM_MR = 8, GK_NEON_SGEMM_NR = 12 };
void gk_neon_sgemm_8x12(int64_t kc, const float *a, const float *b, float *c, int64_t ldc);
void gk_neon_sgemm_pack_b(int type, const char *w, size_t wrow, int rows, int64_t k0, int64_t kc, int nr,
                          float *panel);

/* The SDOT row dots of ukernels_dotprod.c, lent to the i8mm table: the dispatcher takes a
 * type's entries as one unit when vec_dot is NULL, so a table with its own dot_tile must also
 * name a vec_dot. */
void gk_dotprod_vec_dot_q8_0(int64_t k, const void *w, const void *xq, float *out);
void gk_dotprod_vec_dot_q4_0(int64_t k, const void *w, const void *xq, float *out);
/* Decode on Q4_0 / Q8_0 weights in groups of eight rows (matvec_x8_dotprod.c), for the dotprod
 * and i8mm tables. */
void gk_dotprod_matvec_x8_q4_0(int64_t k, const void *w, int64_t ng, const void *xq, float *y);
void gk_dotprod_matvec_x8_q8_0(int64_t k, const void *w, int64_t ng, const void *xq, float *y);
/* The same on Q4_K weights (matvec_x8_q4_k_dotprod.c; q4_k_x8.h), for the dotprod table. */
void gk_dotprod_matvec_x8_q4_k(int64_t k, const void *w, int64_t ng, const void *xq, float *y);

#endif
#endif
