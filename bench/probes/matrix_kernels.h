/* kernels (matrix_kernels.c): the workload's verification bound, public for its tests. */
#ifndef GC_MATRIX_KERNELS_H
#define GC_MATRIX_KERNELS_H
#include <stdbool.h>
#include <stdint.h>

/* The bound on |y - y_ref| for one output y = Σ w[i]·x[i] over k inputs (the top of
 * matrix_kernels.c): w the dequantised weight row, x the F32 activations, act_type the float
 * type the backend rounds x to (gk_matmul_act_type: GK_F32, GK_F16 or GK_BF16). */
double kernels_error_bound(int wtype, int act_type, const float *w, const float *x, int64_t k);

/* Backend calls per timed sample. A host backend's call returns when its work is done: one
 * call, one sample. A device backend's calls are asynchronous and only sync() waits, so one
 * launch then a host sync would time the launch latency and the sync's round trip (some 10 µs)
 * beside a 4096² Q4_0 matvec's ~3 µs of HBM time on an H100. Enough calls are queued between
 * syncs to stream KERNELS_DEVICE_SAMPLE_BYTES of weights (m = 1) or to do
 * KERNELS_DEVICE_SAMPLE_FLOPS (m > 1), at most KERNELS_MAX_CALLS; each sample is their mean. */
#define KERNELS_DEVICE_SAMPLE_BYTES 2e9    /* ~0.6 ms at an H100's 3.35 TB/s */
#define KERNELS_DEVICE_SAMPLE_FLOPS 5e11   /* ~0.5 ms at ~1 PFLOP/s dense F16 */
#define KERNELS_MAX_CALLS 1024
int kernels_calls_per_sample(bool device, int m, double weight_bytes, double flops);

#endif
