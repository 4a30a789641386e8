/* kernels (matrix_kernels.c): the workload's verification bound, public for its tests. */
#ifndef GC_MATRIX_KERNELS_H
#define GC_MATRIX_KERNELS_H
#include <stdint.h>

/* The bound on |y - y_ref| for one output y = Σ w[i]·x[i] over k inputs (the top of
 * matrix_kernels.c): w the dequantised weight row, x the F32 activations, act_type the float
 * type the backend rounds x to (gk_matmul_act_type: GK_F32, GK_F16 or GK_BF16). */
double kernels_error_bound(int wtype, int act_type, const float *w, const float *x, int64_t k);

#endif
