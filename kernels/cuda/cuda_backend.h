/* What the CUDA backend offers beyond kernels/backend.h, for tests and diagnostics (C linkage;
 * only in builds with GC_HAVE_CUDA). The pure functions here are the backend's own decisions,
 * so tests check them without a GPU. */
#ifndef GK_CUDA_BACKEND_H
#define GK_CUDA_BACKEND_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* The names the backend dlopens cuBLAS by, in order (NULL-terminated): the soname of the
 * major version it was compiled against, then that file in the build's toolkit and the usual
 * install folders. */
const char *const *gk_cuda_cublas_names(void);
/* Opens cuBLAS at run time (dlopen, the first of gk_cuda_cublas_names() that opens) and looks
 * up the functions the backend uses, without touching a device. true: which = the name that
 * opened; false: which = why (the library or the symbol missing). Where it is missing the
 * backend runs every matmul on its own kernels, and says so once on stderr. */
bool gk_cuda_cublas_probe(char *which, size_t n);
/* What results record of it (gk_device_info.blas): "cublas 13.0.2", or "cublas: missing". */
void gk_cuda_blas_fact(char *out, size_t n);
/* true when a cuBLAS status (cublasStatus_t) means the device may hold half-done work: the
 * backend then treats its context as faulted and resets the device at close. */
bool gk_cuda_blas_status_faults(int status);

/* The one line for a driver this runtime cannot use, from cudaDriverGetVersion's and
 * cudaRuntimeGetVersion's numbers (1000·major + 10·minor: 12080 is 12.8). true, msg filled:
 * no driver (0), a driver of an older major version ("CUDA driver 12.8 < runtime 13.0:
 * install driver R580+ or build with a CUDA 12.x toolkit (make TOOLKIT=<its folder>)"), or an
 * older one the runtime refused (insufficient: cudaErrorInsufficientDriver). An older minor
 * version of the same major is fine otherwise (minor version compatibility): false, msg "". */
bool gk_cuda_driver_floor(int driver, int runtime, bool insufficient, char *msg, size_t n);

/* The type matmul rounds activations to on a device with compute capability cc (·10), for
 * weights of wtype and m columns, with or without cuBLAS: GK_F32 (none beyond the 8-bit
 * blocks of quantized weights' integer path: the matvec and tensor-core kernels), GK_F16 (the
 * GEMM path for F16 and quantised weights) or GK_BF16 (BF16 weights). The op
 * table's matmul_act_type() answers with it. */
int gk_cuda_matmul_act_type(int wtype, int64_t m, bool have_blas, int cc);
/* The type conv2d's GEMM rounds activations to for a kernel of wtype: GK_F16 for F16 kernels
 * (tensor cores), GK_F32 (none) for F32 kernels and BF16 ones (by F32 panels: BF16's rounding
 * of the activations would exceed the image workload's tolerance). F32 accumulation. */
int gk_cuda_conv2d_act_type(int wtype);

#ifdef __cplusplus
}
#endif
#endif
