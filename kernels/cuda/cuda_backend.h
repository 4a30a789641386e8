/* What the CUDA backend offers beyond kernels/backend.h, for tests and diagnostics (C linkage;
 * only in builds with GC_HAVE_CUDA). */
#ifndef GK_CUDA_BACKEND_H
#define GK_CUDA_BACKEND_H
#include <stdbool.h>
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Opens cuBLAS at run time (dlopen) and looks up the functions the backend uses, without
 * touching a device. true when all were found; otherwise why says which library or symbol is
 * missing. Where it is missing, the backend runs every matmul on its own kernels. */
bool gk_cuda_cublas_probe(char *why, size_t whylen);

#ifdef __cplusplus
}
#endif
#endif
