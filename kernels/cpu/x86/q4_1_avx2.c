/* Q4_1 weights · Q8_0 activations, AVX2 (the shared integer-dot core is in qdot_avx2.h). */
#include "kernels/cpu/x86/qdot_avx2.h"
#include "kernels/cpu/x86/avx2.h"

void gk_avx2_vec_dot_q4_1(int64_t k, const void *w, const void *xq, float *out) {
    *out = qd_vec_dot(QF_Q4_1, k, w, xq);
}

void gk_avx2_dot_tile_q4_1(int64_t k, const void *w, size_t w_stride, int nr, const void *xq,
                           size_t x_stride, int nc, float *y, int64_t ldy) {
    qd_dot_tile(QF_Q4_1, k, w, w_stride, nr, xq, x_stride, nc, y, ldy);
}
