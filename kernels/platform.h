/* What workloads and backends legitimately need from the host itself, below every backend:
 * the CPU's features (to pick micro-kernels, to report them), its physical cores, and a pinned
 * thread pool. The public door of kernels/platform/; backends' own headers stay private. */
#ifndef GK_PLATFORM_H
#define GK_PLATFORM_H
#include <stdbool.h>
#include <stddef.h>

/* ---- CPU features ---------------------------------------------------------------------------
   What the CPU running this process can execute (cpuid + XGETBV on x86-64, HWCAP on AArch64).
 * Used to pick micro-kernels at run time and by `gencost info`.
 */
typedef struct gk_cpu_features {
    /* x86-64 */
    bool sse42, avx, avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16, avxvnni;
    bool amx_tile, amx_int8, amx_bf16;   /* the hardware and XCR0; Linux's permission is asked by table_amx.c */
    /* AArch64 */
    bool neon, fp16, dotprod, i8mm, bf16, sve, sme;
} gk_cpu_features;

const gk_cpu_features *gk_cpu_features_get(void);
/* Space-separated names of the features present, e.g. "avx2 fma f16c". */
void gk_cpu_features_string(const gk_cpu_features *f, char *buf, int n);


/* ---- thread pool ----------------------------------------------------------------------------
   A persistent thread pool, created once per backend; workers pinned through hwloc to
 * distinct physical cores (SMT siblings only when asked), parked between jobs. The calling
 * thread is worker 0, so a pool of one thread runs jobs inline with no synchronisation.
 */
typedef struct gk_pool gk_pool;

/* n_threads <= 0: one per physical core. NULL with err filled on failure. */
gk_pool *gk_pool_create(int n_threads, bool smt, char *err, size_t errlen);
void gk_pool_destroy(gk_pool *p);
int gk_pool_size(const gk_pool *p);
/* Runs fn(ctx, ith, nth) on every worker (ith = 0 .. nth-1, the caller is 0) and returns when
 * all have finished. Not re-entrant. */
void gk_pool_run(gk_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx);
/* Physical cores of this machine (hwloc), >= 1. */
int gk_physical_cores(void);

#endif
