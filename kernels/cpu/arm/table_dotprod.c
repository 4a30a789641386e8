/* AArch64 micro-kernels with the dot-product extension (SDOT, Armv8.2-A's FEAT_DotProd:
 * Apple M1 and later, Graviton 2/3/4, Raspberry Pi 5's Cortex-A76). Only the integer dots
 * differ from the baseline table; every other entry stays NULL and the dispatcher fills it
 * from the neon table. */
#include <stddef.h>

#include "kernels/platform.h"
#include "kernels/cpu/arm/arm.h"

/* acc += 16 int8 products, four per lane. */
static inline int32x4_t arm_dot16(int32x4_t acc, int8x16_t a, int8x16_t b) {
    return vdotq_s32(acc, a, b);
}

#include "kernels/cpu/arm/qdot_arm.h"

void gk_dotprod_vec_dot_q8_0(int64_t k, const void *w, const void *xq, float *out) {
    vec_dot_q8_0(k, w, xq, out);
}

void gk_dotprod_vec_dot_q4_0(int64_t k, const void *w, const void *xq, float *out) {
    vec_dot_q4_0(k, w, xq, out);
}

static const gk_ukernels table = {
    .isa = "dotprod",
    .t = {
        [GK_Q8_0] = {.act_type = GK_Q8_0, .vec_dot = vec_dot_q8_0,
                     .dot_tile = dot_tile_q8_0, .tile_rows = QDOT_TILE_ROWS, .tile_cols = QDOT_TILE_COLS,
                     .matvec = matvec_q8_0, .matvec_x8 = gk_dotprod_matvec_x8_q8_0},
        [GK_Q4_0] = {.act_type = GK_Q8_0, .vec_dot = vec_dot_q4_0,
                     .dot_tile = dot_tile_q4_0, .tile_rows = QDOT_TILE_ROWS, .tile_cols = QDOT_TILE_COLS,
                     .matvec = matvec_q4_0, .matvec_x8 = gk_dotprod_matvec_x8_q4_0},
        [GK_Q4_1] = {.act_type = GK_Q8_0, .vec_dot = vec_dot_q4_1,
                     .dot_tile = dot_tile_q4_1, .tile_rows = QDOT_TILE_ROWS, .tile_cols = QDOT_TILE_COLS,
                     .matvec = matvec_q4_1},
        [GK_Q4_K] = {.act_type = GK_Q8_K, .vec_dot = vec_dot_q4_K,
                     .dot_tile = dot_tile_q4_K, .tile_rows = QDOT_TILE_ROWS, .tile_cols = QDOT_TILE_COLS,
                     .matvec_x8 = gk_dotprod_matvec_x8_q4_k},
        [GK_Q6_K] = {.act_type = GK_Q8_K, .vec_dot = vec_dot_q6_K,
                     .dot_tile = dot_tile_q6_K, .tile_rows = QDOT_TILE_ROWS, .tile_cols = QDOT_TILE_COLS},
    },
};

const gk_ukernels *gk_ukernels_dotprod(void) {
    return gk_cpu_features_get()->dotprod ? &table : NULL;
}
