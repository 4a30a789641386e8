/* What the x86 matrix-vector kernels on grouped weights with Q8_0 activations (Q4_0 on AVX2 and
 * AVX-512, Q8_0 on AVX-512: matvec_x8_*.c) prepare from the activations alone, once per pass:
 * each block's d_x and −c·Σx, c the offset their weights carry (Q4_0: 8, the weights q − 8;
 * Q8_0: 128, the weights w + 128). AVX2 only, so either ISA's file may include it. */
#ifndef GK_X8_Q8_ACT_H
#define GK_X8_Q8_ACT_H
#include <stdint.h>

#include "kernels/cpu/x86/qdot_avx2.h"

enum { GK_X8_Q8_PASS = 512 }; /* blocks of K per pass (K up to 16384 in one sweep): 4 KiB, in L1 */

typedef struct gk_x8_q8_act {
    float dx[GK_X8_Q8_PASS];
    int32_t off[GK_X8_Q8_PASS];
} gk_x8_q8_act;

static inline void gk_x8_q8_prepare(const uint8_t *x, int64_t nb, int32_t c, gk_x8_q8_act *a) {
    for (int64_t b = 0; b < nb; b++, x += GK_Q8_0_BYTES) {
        a->dx[b] = gk_ld_f16(x);
        a->off[b] = -c * gk_hsum_epi32(qd_sum_i8(qd_act(x)));
    }
}

#endif
