/* The AVX-512 micro-kernel table: a few hot entries (the 6×32 sgemm behind float weights × many
 * columns, F16 unpacking and F16 decode, VNNI integer dots for Q4_0/Q8_0 and Q4_K/Q6_K, each with
 * a packed integer GEMM, and decode on Q4_0/Q8_0/Q4_K/Q6_K weights in groups of eight rows); every
 * other entry is NULL and is filled from the AVX2 table by the dispatcher.
 * Two tables: with VNNI (Ice Lake, Zen 4 and later) and without (Skylake-X: only the float
 * entries). The quantised entries quantise activations with the AVX2 Q8_0 quantiser (the format is the same). */
#include "kernels/cpu/microkernels.h"

#include "kernels/platform.h"
#include "kernels/cpu/x86/avx2.h"
#include "kernels/cpu/x86/avx512.h"

/* With the matrix-vector kernel on weights in groups of eight rows (q4_0_x8.h, q8_0_x8.h). */
#define VNNI(name) \
    {GK_Q8_0, gk_avx2_quantize_q8_0, gk_avx512_vec_dot_##name, gk_avx512_dot_tile_##name, 4, 4, gk_avx512_matvec_##name, \
     gk_avx512_matvec_x8_##name}
/* The packed integer GEMMs (16-row panels) behind Q4_0/Q8_0/Q4_K/Q6_K × many columns: 16 rows
 * of 32 bytes + a float scale per block (microkernels.h), or the K-quant panels of
 * igemm_kquants_avx512.c. */
#define IGEMM(name, bytes) {gk_avx512_igemm_pack_##name, gk_avx512_igemm_##name, 16, bytes, GK_IGEMM_ACT_COLUMNS, NULL}
/* K-quants: Q8_K activations from the AVX2 quantiser, as in the AVX2 table. */
#define KQUANT(name, x8) {GK_Q8_K, gk_avx2_quantize_q8_k, gk_avx512_vec_dot_##name, gk_avx512_dot_tile_##name, 4, 4, NULL, x8}

/* F16 weights: AVX2's dots and tiles, this table's matrix-vector kernel (matvec_f16_avx512.c). */
#define F16_MV {GK_F32, NULL, gk_avx2_vec_dot_f16, gk_avx2_dot_tile_f16, 2, 4, gk_avx512_matvec_f16, NULL}

static const gk_ukernels table_vnni = {
    .isa = "avx512",
    .t = {
        [GK_F16] = F16_MV,
        [GK_Q4_0] = VNNI(q4_0),   /* decode on groups of eight rows */
        [GK_Q8_0] = VNNI(q8_0),
        [GK_Q4_K] = KQUANT(q4_k, gk_avx512_matvec_x8_q4_k),   /* decode on groups of eight rows (q4_k_x8.h) */
        [GK_Q6_K] = KQUANT(q6_k, gk_avx512_matvec_x8_q6_k),   /* likewise (q6_k_x8.h) */
    },
    .igemm = {
        [GK_Q4_0] = IGEMM(q4_0, 16 * (32 + 4)),
        [GK_Q8_0] = IGEMM(q8_0, 16 * (32 + 4)),
        [GK_Q4_K] = IGEMM(q4_k, GK_AVX512_IGEMM_Q4_K_BLOCK),
        [GK_Q6_K] = IGEMM(q6_k, GK_AVX512_IGEMM_Q6_K_BLOCK),
    },
    .sgemm_mr = 6,
    .sgemm_nr = 32,
    .sgemm = gk_avx512_sgemm_6x32,
    .sgemm_h = gk_avx512_sgemm_h_6x32,   /* its pack (any nr) from the AVX2 table */
    .f16_to_f32 = gk_avx512_f16_to_f32,
};

static const gk_ukernels table_plain = {
    .isa = "avx512",
    .t = {[GK_F16] = F16_MV},
    .sgemm_mr = 6,
    .sgemm_nr = 32,
    .sgemm = gk_avx512_sgemm_6x32,
    .sgemm_h = gk_avx512_sgemm_h_6x32,   /* its pack (any nr) from the AVX2 table */
    .f16_to_f32 = gk_avx512_f16_to_f32,
};

/* The files are built with -mavx512f/bw/vl/dq/vnni/bf16: the compiler may use any of F, BW, VL,
 * DQ in them, so all four are required (BF16 instructions are never used). */
const gk_ukernels *gk_ukernels_avx512(void) {
    const gk_cpu_features *f = gk_cpu_features_get();
    if (!(f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->avx2 && f->fma && f->f16c)) return NULL;
    return f->avx512vnni ? &table_vnni : &table_plain;
}
