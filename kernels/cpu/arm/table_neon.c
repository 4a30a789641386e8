/* The baseline AArch64 micro-kernel table (Advanced SIMD, present on every AArch64 CPU:
 * Raspberry Pi 4, Graviton 1, and everything newer). Integer dots widen with SMULL + SADALP;
 * CPUs with SDOT get ukernels_dotprod.c's table instead. */
#include <stddef.h>

#include "kernels/cpu/arm/arm.h"

/* acc += 16 int8 products: SMULL to int16 (|a*b| <= 16384 fits), pairwise-add-long to int32. */
static inline int32x4_t arm_dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}

#include "kernels/cpu/arm/qdot_arm.h"

static const gk_ukernels table = {
    .isa = "neon",
    .t = {
        [GK_F32] = {.act_type = GK_F32, .vec_dot = gk_neon_vec_dot_f32, .dot_tile = gk_neon_dot_tile_f32,
                   .tile_rows = GK_NEON_FLOAT_TILE_ROWS, .tile_cols = GK_NEON_FLOAT_TILE_COLS},
        [GK_F16] = {.act_type = GK_F32, .vec_dot = gk_neon_vec_dot_f16, .dot_tile = gk_neon_dot_tile_f16,
                   .tile_rows = GK_NEON_FLOAT_TILE_ROWS, .tile_cols = GK_NEON_FLOAT_TILE_COLS},
        [GK_BF16] = {.act_type = GK_F32, .vec_dot = gk_neon_vec_dot_bf16, .dot_tile = gk_neon_dot_tile_bf16,
                   .tile_rows = GK_NEON_FLOAT_TILE_ROWS, .tile_cols = GK_NEON_FLOAT_TILE_COLS},
        [GK_Q8_0] = {.act_type = GK_Q8_0, .quantize_act = gk_neon_quantize_q8_0, .vec_dot = vec_dot_q8_0,
                     .dot_tile = dot_tile_q8_0, .tile_rows = QDOT_TILE_ROWS, .tile_cols = QDOT_TILE_COLS,
                     .matvec = matvec_q8_0},
        [GK_Q4_0] = {.act_type = GK_Q8_0, .quantize_act = gk_neon_quantize_q8_0, .vec_dot = vec_dot_q4_0,
                     .dot_tile = dot_tile_q4_0, .tile_rows = QDOT_TILE_ROWS, .tile_cols = QDOT_TILE_COLS,
                     .matvec = matvec_q4_0},
        [GK_Q4_1] = {.act_type = GK_Q8_0, .quantize_act = gk_neon_quantize_q8_0, .vec_dot = vec_dot_q4_1,
                     .dot_tile = dot_tile_q4_1, .tile_rows = QDOT_TILE_ROWS, .tile_cols = QDOT_TILE_COLS,
                     .matvec = matvec_q4_1},
        [GK_Q4_K] = {.act_type = GK_Q8_K, .quantize_act = gk_neon_quantize_q8_K, .vec_dot = vec_dot_q4_K,
                     .dot_tile = dot_tile_q4_K, .tile_rows = QDOT_TILE_ROWS, .tile_cols = QDOT_TILE_COLS},
        [GK_Q6_K] = {.act_type = GK_Q8_K, .quantize_act = gk_neon_quantize_q8_K, .vec_dot = vec_dot_q6_K,
                     .dot_tile = dot_tile_q6_K, .tile_rows = QDOT_TILE_ROWS, .tile_cols = QDOT_TILE_COLS},
    },
    .sgemm_mr = GK_NEON_SGEMM_MR,
    .sgemm_nr = GK_NEON_SGEMM_NR,
    .sgemm = gk_neon_sgemm_8x12,
    .sgemm_pack_b = gk_neon_sgemm_pack_b,
    .f16_to_f32 = gk_neon_f16_to_f32,
    .f32_to_f16 = gk_neon_f32_to_f16,
    .bf16_to_f32 = gk_neon_bf16_to_f32,
    .dot_f32 = gk_neon_dot_f32,
    .axpy_f32 = gk_neon_axpy_f32,
    .dot_f32_f16 = gk_neon_dot_f32_f16,
    .axpy_f16 = gk_neon_axpy_f16,
    .dot_f32_q8_0 = gk_neon_dot_f32_q8_0,
    .axpy_q8_0 = gk_neon_axpy_q8_0,
};

const gk_ukernels *gk_ukernels_neon(void) { return &table; }
