/* Host-memory tensor storage (64-byte aligned) of the two host backends, "ref" and "cpu". */
#ifndef GK_HOST_MEMORY_H
#define GK_HOST_MEMORY_H
#include "kernels/backend.h"

/* Storage: 64-byte aligned host memory. */
int gk_host_alloc(gk_backend *b, gk_tensor *t);
void gk_host_free(gk_backend *b, gk_tensor *t);
int gk_host_upload(gk_backend *b, gk_tensor *t, size_t offset, const void *src, size_t bytes);
int gk_host_download(gk_backend *b, const gk_tensor *t, size_t offset, void *dst, size_t bytes);
int gk_host_sync(gk_backend *b);
/* 0 when [offset, offset+bytes) lies inside t's storage, else -1 with "<op>: ..." in b's error. */
int gk_host_range_ok(gk_backend *b, const char *op, const gk_tensor *t, size_t offset, size_t bytes);

#endif
