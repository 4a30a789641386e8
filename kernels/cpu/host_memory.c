/* Host-memory tensor storage shared by the "ref" and "cpu" backends. */
#include "kernels/cpu/host_memory.h"
#include "kernels/op_checks.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Tensors of a huge page or more (weights, KV caches) go on 2 MiB pages where the kernel has
 * transparent huge pages in "madvise" mode (Debian's default): a matrix-vector product streams
 * its weights, and with 4 KiB pages every 4 KiB is a TLB miss, a page walk that is
 * two-dimensional in a virtual machine, and a stop for the hardware prefetcher. The storage is
 * 2 MiB-aligned and only its whole huge pages are advised, so a 2.4 MB matrix (TinyLlama's Q4_0
 * attention) gets one huge page and 0.4 MB of small ones, not 1.6 MB of rounding. Where madvise
 * fails or THP is off, the memory is the same, on small pages. */
enum { HUGE_PAGE = 2 << 20 };

static void *host_memory(size_t n) {
    size_t padded = (n + 63) / 64 * 64;   /* aligned_alloc wants a multiple of the alignment */
    if (padded < HUGE_PAGE) return aligned_alloc(64, padded);
    void *p = NULL;
    if (posix_memalign(&p, HUGE_PAGE, padded)) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, padded / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE);   /* advice only: small pages if refused */
#endif
    return p;
}

int gk_host_alloc(gk_backend *b, gk_tensor *t) {
    if (gk_layout_contiguous(b, t)) return -1;
    size_t n = t->nbytes;
    void *p = host_memory(n);
    if (!p) return gk_fail(b, "alloc: out of memory for %zu bytes", n);
    t->data = p;
    t->view = false;
    t->layout = 0;
    t->be = b;
    return 0;
}

void gk_host_free(gk_backend *b, gk_tensor *t) {
    (void)b;
    if (!t || t->view) return;
    free(t->data);
    t->data = NULL;
}

int gk_host_range_ok(gk_backend *b, const char *op, const gk_tensor *t, size_t offset, size_t bytes) {
    if (!t->data) return gk_fail(b, "%s: tensor has no storage", op);
    if (offset > t->nbytes || bytes > t->nbytes - offset)
        return gk_fail(b, "%s: %zu bytes at offset %zu exceed the tensor's %zu bytes", op, bytes,
                       offset, t->nbytes);
    return 0;
}

int gk_host_upload(gk_backend *b, gk_tensor *t, size_t offset, const void *src, size_t bytes) {
    if (gk_host_range_ok(b, "upload", t, offset, bytes)) return -1;
    if (bytes) memcpy((char *)t->data + offset, src, bytes);
    return 0;
}

int gk_host_download(gk_backend *b, const gk_tensor *t, size_t offset, void *dst, size_t bytes) {
    if (gk_host_range_ok(b, "download", t, offset, bytes)) return -1;
    if (bytes) memcpy(dst, (const char *)t->data + offset, bytes);
    return 0;
}

int gk_host_sync(gk_backend *b) {
    (void)b;
    return 0;
}
