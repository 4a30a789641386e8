/* triad: STREAM-style memory bandwidth (J. D. McCalpin, "STREAM: Sustainable Memory Bandwidth
 * in High Performance Computers", https://www.cs.virginia.edu/stream/ref.html).
 *
 * Two of STREAM's kernels on arrays of doubles, counted STREAM's way:
 *   copy:  c[j] = a[j]             16 bytes per element (read a, write c)
 *   triad: a[j] = b[j] + s * c[j]  24 bytes per element (read b and c, write a)
 * Write-allocate traffic is not counted, as in STREAM, so figures compare with published ones.
 * STREAM's rule is that each array be at least 4x the size of the last-level caches together,
 * so the timings measure memory, not cache; we also keep at least 256 MiB in all.
 * The arrays are split into contiguous chunks, one per pool worker, and each worker touches
 * its own chunk first, so on NUMA machines its pages live on its node (Linux first-touch).
 */
#include "bench/probes/triad.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench/host/facts.h"
#include "bench/metrics.h"
#include "kernels/platform.h"

#define MIB (1024.0 * 1024.0)
#define TRIAD_SCALAR 3.0
#define QUICK_ARRAY_BYTES (8u << 20)          /* --quick: a smoke size, fits in most LLCs */
#define MIN_TOTAL_BYTES (256ull << 20)
#define CHUNK_ALIGN 8                         /* elements: 64-byte cache lines per chunk */

#define VLEN 4                                /* doubles per generic vector; divides CHUNK_ALIGN */
typedef double vdouble __attribute__((vector_size(VLEN * sizeof(double))));

enum { PH_COPY, PH_TRIAD, N_PHASES };
enum { OP_INIT, OP_COPY, OP_TRIAD };

typedef struct triad_state {
    double *a, *b, *c;
    size_t n;                 /* elements per array */
    size_t bytes;             /* mapped bytes per array */
    gk_pool *pool;
    int threads;
} triad_state;

typedef struct triad_job {
    triad_state *t;
    int op;
} triad_job;

/* Values chosen so that b + s*c is exact in doubles (small integers and halves), with or
 * without a fused multiply-add, so verification compares exactly. */
static double pat_a(size_t j) { return (double)(j & 1023); }
static double pat_b(size_t j) { return 0.5 * (double)(j & 511); }
static double pat_c(size_t j) { return (double)(j & 255) + 1.0; }

static void chunk(size_t n, int ith, int nth, size_t *lo, size_t *hi) {
    size_t blocks = (n + CHUNK_ALIGN - 1) / CHUNK_ALIGN;
    *lo = blocks * (size_t)ith / (size_t)nth * CHUNK_ALIGN;
    *hi = blocks * (size_t)(ith + 1) / (size_t)nth * CHUNK_ALIGN;
    if (*lo > n) *lo = n;
    if (*hi > n) *hi = n;
}

static void triad_worker(void *ctx, int ith, int nth) {
    const triad_job *job = ctx;
    triad_state *t = job->t;
    size_t lo, hi;
    chunk(t->n, ith, nth, &lo, &hi);
    double *restrict a = t->a, *restrict b = t->b, *restrict c = t->c;
    switch (job->op) {
    case OP_INIT:
        for (size_t j = lo; j < hi; j++) {
            a[j] = pat_a(j);
            b[j] = pat_b(j);
            c[j] = pat_c(j);
        }
        break;
    /* Chunks are whole multiples of CHUNK_ALIGN elements (n is, see array_bytes). Generic GNU C
     * vectors (no ISA intrinsics) give vector loads and stores at -O2 on any target, as a
     * compiled STREAM would have; memcpy keeps the accesses free of aliasing questions. */
    case OP_COPY:
        for (size_t j = lo; j < hi; j += VLEN) {
            vdouble x;
            memcpy(&x, a + j, sizeof x);
            memcpy(c + j, &x, sizeof x);
        }
        break;
    case OP_TRIAD:
        for (size_t j = lo; j < hi; j += VLEN) {
            vdouble x, y;
            memcpy(&x, b + j, sizeof x);
            memcpy(&y, c + j, sizeof y);
            x = x + TRIAD_SCALAR * y;
            memcpy(a + j, &x, sizeof x);
        }
        break;
    }
}

static void run_op(triad_state *t, int op) {
    triad_job job = {t, op};
    gk_pool_run(t->pool, triad_worker, &job);
}

/* Bytes of one array: >= 4x the last-level caches, >= 1/3 of MIN_TOTAL_BYTES, page multiple. */
static size_t array_bytes(bool quick) {
    uint64_t want = QUICK_ARRAY_BYTES;
    if (!quick) {
        want = 4 * host_llc_bytes();
        if (want < MIN_TOTAL_BYTES / 3) want = MIN_TOTAL_BYTES / 3;
    }
    /* 2 MiB: a huge-page multiple, and so a multiple of CHUNK_ALIGN elements. */
    const uint64_t page = 1u << 21;
    return (size_t)((want + page - 1) / page * page);
}

static void triad_free(triad_state *t) {
    if (!t) return;
    if (t->a) munmap(t->a, t->bytes);
    if (t->b) munmap(t->b, t->bytes);
    if (t->c) munmap(t->c, t->bytes);
    if (t->pool) gk_pool_destroy(t->pool);
    free(t);
}

static double *map_array(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Fresh anonymous mappings are untouched, so the INIT job is the first touch of every page. */
static triad_state *triad_alloc(int threads, bool smt, bool quick, gc_err *err) {
    triad_state *t = calloc(1, sizeof *t);
    if (!t) {
        gc_errf(err, "triad: out of memory");
        return NULL;
    }
    t->bytes = array_bytes(quick);
    t->n = t->bytes / sizeof(double);
    uint64_t avail = gc_mem_available_bytes();
    if (avail && 3.0 * (double)t->bytes > 0.8 * (double)avail) {
        gc_errf(err, "triad: needs %.0f MiB for its arrays, only %.0f MiB of memory available (try --quick)",
                3 * t->bytes / MIB, avail / MIB);
        free(t);
        return NULL;
    }
    char perr[256] = "";
    t->pool = gk_pool_create(threads, smt, perr, sizeof perr);
    if (!t->pool) {
        gc_errf(err, "triad: cannot start %d threads: %s", threads, perr);
        triad_free(t);
        return NULL;
    }
    t->threads = gk_pool_size(t->pool);
    t->a = map_array(t->bytes);
    t->b = map_array(t->bytes);
    t->c = map_array(t->bytes);
    if (!t->a || !t->b || !t->c) {
        gc_errf(err, "triad: cannot map 3 arrays of %.0f MiB", t->bytes / MIB);
        triad_free(t);
        return NULL;
    }
    run_op(t, OP_INIT);
    return t;
}

static int triad_setup(const gc_case *c, void **state, gc_setup_out *out, gc_err *err) {
    triad_state *t = triad_alloc(c->threads, c->opt->smt, c->opt->quick, err);
    if (!t) return -1;
    double n = (double)t->n;
    gc_phase *ph = out->phases;
    ph[PH_COPY] = (gc_phase){.name = "copy", .unit = "GB", .work_per_rep = 16 * n / 1e9, .bytes_per_rep = 16 * n};
    ph[PH_TRIAD] = (gc_phase){.name = "triad", .unit = "GB", .work_per_rep = 24 * n / 1e9,
                              .bytes_per_rep = 24 * n, .flops_per_rep = 2 * n};
    out->n_phases = N_PHASES;
    /* No micro-kernel set runs here: the loops are GNU C generic vectors, the same for any --isa. */
    snprintf(out->device, sizeof out->device, "generic");
    *state = t;
    return 0;
}

static int triad_run(void *state, int phase, gc_err *err) {
    (void)err;   /* streaming cannot fail once set up */
    run_op(state, phase == PH_COPY ? OP_COPY : OP_TRIAD);
    return 0;
}

/* Resets all three arrays to their patterns, runs the phase once, and checks every element of
 * its output (and that its inputs are unchanged) against the closed form. */
static int triad_verify(void *state, int phase, gc_verify *v, gc_err *err) {
    (void)err;   /* a mismatch is a verdict, not an error */
    triad_state *t = state;
    run_op(t, OP_INIT);
    run_op(t, phase == PH_COPY ? OP_COPY : OP_TRIAD);
    size_t bad = 0, first_bad = 0;
    double max_err = 0;
    for (size_t j = 0; j < t->n; j++) {
        double got = phase == PH_COPY ? t->c[j] : t->a[j];
        double want = phase == PH_COPY ? pat_a(j) : pat_b(j) + TRIAD_SCALAR * pat_c(j);
        bool inputs_ok = phase == PH_COPY ? t->a[j] == pat_a(j) : t->b[j] == pat_b(j) && t->c[j] == pat_c(j);
        if (got != want || !inputs_ok) {
            if (!bad) first_bad = j;
            bad++;
            double e = got > want ? got - want : want - got;
            if (e > max_err) max_err = e;
        }
    }
    v->ok = bad == 0;
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "elements_checked", (double)t->n);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "mismatches", (double)bad);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "max_abs_err", max_err);
    if (v->ok)
        snprintf(v->detail, sizeof v->detail, "%s: all %zu elements exact (%s), inputs unchanged", phase == PH_COPY ? "copy" : "triad",
                 t->n, phase == PH_COPY ? "c = a" : "a = b + 3c");
    else
        snprintf(v->detail, sizeof v->detail, "%s: %zu of %zu elements wrong, first at index %zu", phase == PH_COPY ? "copy" : "triad",
                 bad, t->n, first_bad);
    return 0;
}

static void triad_finish(void *state, int phase, gc_metrics *m) {
    (void)phase;   /* both phases stream the same arrays */
    triad_state *t = state;
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, "array_bytes", (double)t->bytes);
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, GC_METRIC_ARRAYS_TOTAL_BYTES, 3.0 * (double)t->bytes);
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, GC_METRIC_LLC_BYTES, (double)host_llc_bytes());
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, "pool_threads", t->threads);
}

static void triad_describe(const gc_case *c) {
    size_t b = array_bytes(c->opt->quick);
    printf("    3 arrays of %.0f MiB (%zu doubles each; last-level cache %.0f MiB)%s\n", b / MIB, b / sizeof(double),
           host_llc_bytes() / MIB, c->opt->quick ? ", --quick: may fit in cache" : "");
}

static void triad_teardown(void *state) { triad_free(state); }

double triad_probe_gbs(int threads, gc_err *err) {
    triad_state *t = triad_alloc(threads, false, false, err);
    if (!t) return 0;
    run_op(t, OP_TRIAD);                       /* warm-up */
    double best = 1e30, start = gc_now();
    for (int reps = 0; reps < 3 || gc_now() - start < 0.3; reps++) {
        double t0 = gc_now();
        run_op(t, OP_TRIAD);
        double dt = gc_now() - t0;
        if (dt < best) best = dt;
    }
    double gbs = 24.0 * (double)t->n / 1e9 / best;
    triad_free(t);
    return gbs;
}

static const char *const triad_backends[] = {"cpu", NULL};
static const char *const triad_phases[] = {"copy", "triad", NULL};

const gc_workload wl_triad = {
    .name = "triad",
    .description = "STREAM-style memory bandwidth: copy and triad over arrays >= 4x the last-level cache, GB/s",
    .presets = NULL,
    .quants = NULL,
    .backends = triad_backends,
    .phases = triad_phases,
    .default_threads = "1,all",
    .setup = triad_setup,
    .verify = triad_verify,
    .run = triad_run,
    .finish = triad_finish,
    .describe = triad_describe,
    .teardown = triad_teardown,
};
