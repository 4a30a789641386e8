/* A persistent thread pool, created once per backend; workers pinned through hwloc to
 * distinct physical cores (SMT siblings only when asked), parked between jobs. The calling
 * thread is worker 0, so a pool of one thread runs jobs inline with no synchronisation. */
#ifndef GK_POOL_H
#define GK_POOL_H
#include <stdbool.h>
#include <stddef.h>

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
