/* Persistent thread pool. Workers are created once and pinned (hwloc) to distinct physical
 * cores, or to SMT siblings after every core has one worker when smt is allowed. Between jobs
 * a worker spins briefly on the job counter (a decode step issues hundreds of small jobs a
 * second; waking from a futex costs tens of microseconds) and then parks on a condition
 * variable, so an idle pool costs nothing. The caller runs share 0 itself. */
#include "kernels/platform.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef GK_HAVE_HWLOC
#include <hwloc.h>
#endif

/* How long an idle worker spins before parking, and the caller before yielding. */
#define SPIN_NS 200000L

struct gk_pool {
    int n;
    bool smt;
    pthread_t *threads;
    _Atomic unsigned gen;          /* bumped once per job */
    _Atomic int pending;           /* workers 1..n-1 still running the current job */
    bool stop;                     /* under mu */
    void (*fn)(void *ctx, int ith, int nth);
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
#ifdef GK_HAVE_HWLOC
    hwloc_topology_t topo;
    hwloc_cpuset_t caller_saved;   /* the caller's binding before we pinned it */
#endif
};

typedef struct worker_arg {
    gk_pool *p;
    int ith;
} worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* ---- pinning -------------------------------------------------------------------------------- */

#ifdef GK_HAVE_HWLOC
/* Worker i -> core i (first PU); with smt, worker ncores+i -> the second PU of core i, etc.
 * Returns false when there is no such slot (more threads than places: left unpinned). */
static bool pin_self(gk_pool *p, int i) {
    int ncores = hwloc_get_nbobjs_by_type(p->topo, HWLOC_OBJ_CORE);
    if (ncores <= 0) return false;
    hwloc_obj_t core = hwloc_get_obj_by_type(p->topo, HWLOC_OBJ_CORE, (unsigned)(i % ncores));
    int sib = i / ncores;
    if (!core || (sib > 0 && !p->smt)) return false;
    hwloc_obj_t pu = hwloc_get_obj_inside_cpuset_by_type(p->topo, core->cpuset, HWLOC_OBJ_PU, (unsigned)sib);
    if (!pu) return false;
    return hwloc_set_cpubind(p->topo, pu->cpuset, HWLOC_CPUBIND_THREAD) == 0;
}
#else
static bool pin_self(gk_pool *p, int i) {
    (void)p, (void)i;
    return false;
}
#endif

/* ---- workers -------------------------------------------------------------------------------- */

static unsigned wait_for_job(gk_pool *p, unsigned seen) {
    long t0 = 0;
    for (unsigned spins = 0;; spins++) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen) return g;
        cpu_relax();
        if ((spins & 255) == 0) {
            long t = now_ns();
            if (!t0) t0 = t;
            else if (t - t0 > SPIN_NS) break;
        }
    }
    pthread_mutex_lock(&p->mu);
    unsigned g;
    while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen && !p->stop)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg) {
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    gk_pool *p = a.p;
    pin_self(p, a.ith);
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_job(p, seen);
        pthread_mutex_lock(&p->mu);
        bool stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) return NULL;
        p->fn(p->ctx, a.ith, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
}

/* ---- public --------------------------------------------------------------------------------- */

static pthread_once_t cores_once = PTHREAD_ONCE_INIT;
static int cores_count = 1;

static void count_cores(void) {
#ifdef GK_HAVE_HWLOC
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) == 0) {
        if (hwloc_topology_load(t) == 0) {
            int n = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
            if (n > 0) cores_count = n;
        }
        hwloc_topology_destroy(t);
        return;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cores_count = n > 0 ? (int)n : 1;
}

int gk_physical_cores(void) {
    pthread_once(&cores_once, count_cores);
    return cores_count;
}

static void pool_free(gk_pool *p) {
#ifdef GK_HAVE_HWLOC
    if (p->caller_saved) {
        hwloc_set_cpubind(p->topo, p->caller_saved, HWLOC_CPUBIND_THREAD);
        hwloc_bitmap_free(p->caller_saved);
    }
    if (p->topo) hwloc_topology_destroy(p->topo);
#endif
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

#ifdef GK_HAVE_HWLOC
static int load_topology(gk_pool *p, char *err, size_t errlen) {
    if (hwloc_topology_init(&p->topo) || hwloc_topology_load(p->topo)) {
        snprintf(err, errlen, "thread pool: hwloc could not read the CPU topology");
        return -1;
    }
    p->caller_saved = hwloc_bitmap_alloc();
    if (p->caller_saved && hwloc_get_cpubind(p->topo, p->caller_saved, HWLOC_CPUBIND_THREAD)) {
        hwloc_bitmap_free(p->caller_saved);
        p->caller_saved = NULL;
    }
    return 0;
}
#endif

gk_pool *gk_pool_create(int n_threads, bool smt, char *err, size_t errlen) {
    gk_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "thread pool: out of memory");
        return NULL;
    }
    p->n = n_threads > 0 ? n_threads : gk_physical_cores();
    p->smt = smt;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (p->n == 1) return p;   /* runs inline: no threads, no pinning */
#ifdef GK_HAVE_HWLOC
    if (load_topology(p, err, errlen)) {
        pool_free(p);
        return NULL;
    }
#endif
    p->threads = calloc((size_t)p->n, sizeof *p->threads);
    if (!p->threads) {
        snprintf(err, errlen, "thread pool: out of memory");
        pool_free(p);
        return NULL;
    }
    pin_self(p, 0);
    for (int i = 1; i < p->n; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) *a = (worker_arg){p, i};
        if (!a || pthread_create(&p->threads[i], NULL, worker_main, a)) {
            free(a);
            snprintf(err, errlen, "thread pool: could not start thread %d of %d", i, p->n);
            p->n = i;   /* destroy joins the ones started */
            gk_pool_destroy(p);
            return NULL;
        }
    }
    return p;
}

void gk_pool_destroy(gk_pool *p) {
    if (!p) return;
    if (p->threads) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    }
    pool_free(p);
}

int gk_pool_size(const gk_pool *p) { return p ? p->n : 1; }

void gk_pool_run(gk_pool *p, void (*fn)(void *ctx, int ith, int nth), void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    /* The bump happens under the mutex so a worker about to park cannot miss it. */
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    long t0 = 0;
    for (unsigned spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; spins++) {
        cpu_relax();
        if ((spins & 255) == 0) {
            long t = now_ns();
            if (!t0) t0 = t;
            else if (t - t0 > SPIN_NS) sched_yield();   /* a worker was descheduled: let it run */
        }
    }
}
