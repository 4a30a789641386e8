/* The AVX2 + FMA + F16C micro-kernel table. */
#include "kernels/cpu/microkernels.h"

#include "kernels/platform.h"
#include "kernels/cpu/x86/avx2.h"

#define QM(name) {GK_Q8_0, gk_avx2_quantize_q8_0, gk_avx2_vec_dot_##name, gk_avx2_dot_tile_##name, 4, 4, gk_avx2_matvec_##name, NULL}
#define KM(name) {GK_Q8_K, gk_avx2_quantize_q8_k, gk_avx2_vec_dot_##name, gk_avx2_dot_tile_##name, 1, 4, gk_avx2_matvec_##name, NULL}
#define FT(name) {GK_F32, NULL, gk_avx2_vec_dot_##name, gk_avx2_dot_tile_##name, 2, 4, gk_avx2_matvec_##name, NULL}

static const gk_ukernels table = {
    .isa = "avx2",
    .t = {
        [GK_F32] = FT(f32),
        [GK_F16] = FT(f16),
        [GK_BF16] = FT(bf16),
        /* Q4_0 and Q4_K prepared weights in groups of eight rows (q4_0_x8.h, q4_k_x8.h) */
        [GK_Q4_0] = {GK_Q8_0, gk_avx2_quantize_q8_0, gk_avx2_vec_dot_q4_0, gk_avx2_dot_tile_q4_0, 4, 4,
                     gk_avx2_matvec_q4_0, gk_avx2_matvec_x8_q4_0},
        [GK_Q4_1] = QM(q4_1),
        [GK_Q8_0] = QM(q8_0),
        [GK_Q4_K] = {GK_Q8_K, gk_avx2_quantize_q8_k, gk_avx2_vec_dot_q4_k, gk_avx2_dot_tile_q4_k, 1, 4,
                     gk_avx2_matvec_q4_k, gk_avx2_matvec_x8_q4_k},
        [GK_Q6_K] = KM(q6_k),
    },
    /* Q8_0's w+128 would saturate vpmaddubsw, so its pack splits the bytes into nibbles
     * (igemm_avx2.c); the K-quants' 4- and 6-bit quants do not saturate (igemm_kquants_avx2.c) */
    .igemm = {
        [GK_Q4_0] = {gk_avx2_igemm_pack_q4_0, gk_avx2_igemm_q4_0, 16, 16 * (32 + 4), GK_IGEMM_ACT_COLUMNS, NULL},
        [GK_Q8_0] = {gk_avx2_igemm_pack_q8_0, gk_avx2_igemm_q8_0, 16, GK_AVX2_IGEMM_Q8_0_BLOCK, GK_IGEMM_ACT_COLUMNS, NULL},
        [GK_Q4_K] = {gk_avx2_igemm_pack_q4_k, gk_avx2_igemm_q4_k, 16, GK_AVX2_IGEMM_Q4_K_BLOCK, GK_IGEMM_ACT_COLUMNS, NULL},
        [GK_Q6_K] = {gk_avx2_igemm_pack_q6_k, gk_avx2_igemm_q6_k, 16, GK_AVX2_IGEMM_Q6_K_BLOCK, GK_IGEMM_ACT_COLUMNS, NULL},
    },
    .sgemm_mr = 6,
    .sgemm_nr = 16,
    .sgemm = gk_avx2_sgemm_6x16,
    .sgemm_pack_b = gk_avx2_sgemm_pack_b,
    .sgemm_h = gk_avx2_sgemm_h_6x16,
    .sgemm_pack_h = gk_avx2_sgemm_pack_h,
    .f16_to_f32 = gk_avx2_f16_to_f32,
    .f32_to_f16 = gk_avx2_f32_to_f16,
    .bf16_to_f32 = gk_avx2_bf16_to_f32,
    .dot_f32 = gk_avx2_dot_f32,
    .axpy_f32 = gk_avx2_axpy_f32,
    .dot_f32_f16 = gk_avx2_dot_f32_f16,
    .axpy_f16 = gk_avx2_axpy_f16,
    .axpy_rows_f16 = gk_avx2_axpy_rows_f16,
    .scale_max = gk_avx2_scale_max,
    .exp_sum = gk_avx2_exp_sum,
    .softmax_cols = gk_avx2_softmax_cols,
    .silu_mul = gk_avx2_silu_mul,
    .dot_f32_q8_0 = gk_avx2_dot_f32_q8_0,
    .axpy_q8_0 = gk_avx2_axpy_q8_0,
};

const gk_ukernels *gk_ukernels_avx2(void) {
    const gk_cpu_features *f = gk_cpu_features_get();
    return f->avx2 && f->fma && f->f16c ? &table : NULL;
}
