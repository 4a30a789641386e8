/* triad: STREAM-style memory bandwidth (J. D. McCalpin, "STREAM: Sustainable Memory Bandwidth
 * in High Performance Computers", https://www.cs.virginia.edu/stream/ref.html), and a read-only
 * stream beside it.
 *
 * Two of STREAM's kernels on arrays of doubles, counted STREAM's way, and a sum:
 *   copy:  c[j] = a[j]             16 bytes per element (read a, write c)
 *   triad: a[j] = b[j] + s * c[j]  24 bytes per element (read b and c, write a)
 *   read:  sum += b[j]              8 bytes per element (read b)
 * Write-allocate traffic is not counted, as in STREAM, so figures compare with published ones.
 * `read` is the ceiling of work that only reads its data (a decoded token streams its weights,
 * a matrix-vector product its matrix): a read-only stream runs faster than triad's
 * read-read-write, so holding such work to triad would overstate its fraction. It reads each
 * worker's chunk as several prefetched sub-streams into independent vector accumulators, so it
 * is bound by bandwidth, not by latency (see "read: the sum" below). b's values are multiples of
 * 1/2 whose sums stay far below 2^52, so every partial sum is exact in any order and the sum is
 * verified exactly against its closed form.
 * STREAM's rule is that each array be at least 4x the size of the last-level caches together,
 * so the timings measure memory, not cache; we also keep at least 256 MiB in all (read streams
 * one array: >= 4x the caches as well, its metrics say by how much).
 * The arrays are split into contiguous chunks, one per pool worker, and each worker touches
 * its own chunk first, so on NUMA machines its pages live on its node (Linux first-touch).
 */
#include "bench/probes/triad.h"

#include <math.h>
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

#define PARTIAL_STRIDE 8                      /* doubles: one cache line per worker's sum */
#define PROBE_SECONDS 0.3

enum { PH_COPY, PH_TRIAD, PH_READ, N_PHASES };
enum { OP_INIT, OP_COPY, OP_TRIAD, OP_READ };

typedef struct triad_state {
    double *a, *b, *c;        /* a and c NULL in a read-only probe */
    size_t n;                 /* elements per array */
    size_t bytes;             /* mapped bytes per array */
    gk_pool *pool;
    int threads;
    double *partial;          /* read: worker i's sum at partial[i * PARTIAL_STRIDE] */
    double (*sum)(const double *p, size_t q);   /* read: the body for this CPU (read_body) */
    int read_bits;            /* its load width */
} triad_state;

typedef struct triad_job {
    triad_state *t;
    int op;
    size_t lo, hi;            /* the elements the op covers, split among the workers */
} triad_job;

/* Values chosen so that b + s*c is exact in doubles (small integers and halves), with or
 * without a fused multiply-add, so verification compares exactly. */
static double pat_a(size_t j) { return (double)(j & 1023); }
static double pat_b(size_t j) { return 0.5 * (double)(j & 511); }
static double pat_c(size_t j) { return (double)(j & 255) + 1.0; }

/* The exact sum of pat_b over [0, n), in halves: sum of (j & 511), by whole periods of 512. */
static uint64_t pat_b_halves_below(size_t n) {
    uint64_t periods = n / 512, rest = n % 512;
    return periods * (511u * 512u / 2) + (rest ? rest * (rest - 1) / 2 : 0);
}

double triad_read_sum_want(size_t lo, size_t hi) {
    return 0.5 * (double)(pat_b_halves_below(hi) - pat_b_halves_below(lo));
}

static void chunk(size_t n, int ith, int nth, size_t *lo, size_t *hi) {
    size_t blocks = (n + CHUNK_ALIGN - 1) / CHUNK_ALIGN;
    *lo = blocks * (size_t)ith / (size_t)nth * CHUNK_ALIGN;
    *hi = blocks * (size_t)(ith + 1) / (size_t)nth * CHUNK_ALIGN;
    if (*lo > n) *lo = n;
    if (*hi > n) *hi = n;
}

/* ---- read: the sum --------------------------------------------------------------------------
 * One sequential stream per core is bound by how far the hardware prefetcher runs ahead, not by
 * memory (measured on the development VM: ~30% below what the matrix-vector kernels stream).
 * So each worker reads its chunk as READ_STREAMS interleaved sub-streams, one cache line of each
 * per step, and prefetches PF_AHEAD elements (4 KiB, as the matrix-vector kernels do) ahead in
 * each; several independent accumulators keep the adds off the critical path. Two bodies: 64-byte
 * loads where the CPU has AVX-512 (a target attribute: the file builds with the base flags and
 * the body runs only after the CPU was checked, as probes/fma.c does), else 16-byte GNU C
 * vectors, the width every x86-64 (SSE2) and AArch64 (NEON) target holds in one register at the
 * base flags (wider generic vectors are split and, as GCC 12 compiles them, kept on the stack).
 * The accumulators are named, not an array, so they stay in registers at -O2. */
#define READ_STREAMS 4
#define LINE 8                                /* doubles per 64-byte cache line */
#define PF_AHEAD 512                          /* doubles: 4 KiB */
#define RLEN 2                                /* doubles per generic read vector */
typedef double rdouble __attribute__((vector_size(RLEN * sizeof(double))));

static rdouble load_r(const double *p) {
    rdouble x;
    memcpy(&x, p, sizeof x);
    return x;
}

/* Sum of READ_STREAMS streams of q elements (a multiple of LINE) at p, p + q, p + 2q, p + 3q. */
static double sum_streams_generic(const double *p, size_t q) {
    const double *p0 = p, *p1 = p + q, *p2 = p + 2 * q, *p3 = p + 3 * q;
    rdouble s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, s4 = {0}, s5 = {0}, s6 = {0}, s7 = {0};
    size_t j = 0;
    for (; j < q; j += LINE) {
        if (j + PF_AHEAD < q) {   /* never past the stream: prefetch only addresses inside it */
            __builtin_prefetch(p0 + j + PF_AHEAD);
            __builtin_prefetch(p1 + j + PF_AHEAD);
            __builtin_prefetch(p2 + j + PF_AHEAD);
            __builtin_prefetch(p3 + j + PF_AHEAD);
        }
        s0 += load_r(p0 + j) + load_r(p0 + j + 2);
        s1 += load_r(p0 + j + 4) + load_r(p0 + j + 6);
        s2 += load_r(p1 + j) + load_r(p1 + j + 2);
        s3 += load_r(p1 + j + 4) + load_r(p1 + j + 6);
        s4 += load_r(p2 + j) + load_r(p2 + j + 2);
        s5 += load_r(p2 + j + 4) + load_r(p2 + j + 6);
        s6 += load_r(p3 + j) + load_r(p3 + j + 2);
        s7 += load_r(p3 + j + 4) + load_r(p3 + j + 6);
    }
    rdouble s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
    return s[0] + s[1];
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static double sum_streams_avx512(const double *p, size_t q) {
    const double *p0 = p, *p1 = p + q, *p2 = p + 2 * q, *p3 = p + 3 * q;
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t j = 0; j < q; j += LINE) {
        if (j + PF_AHEAD < q) {
            _mm_prefetch((const char *)(p0 + j + PF_AHEAD), _MM_HINT_T0);
            _mm_prefetch((const char *)(p1 + j + PF_AHEAD), _MM_HINT_T0);
            _mm_prefetch((const char *)(p2 + j + PF_AHEAD), _MM_HINT_T0);
            _mm_prefetch((const char *)(p3 + j + PF_AHEAD), _MM_HINT_T0);
        }
        s0 = _mm512_add_pd(s0, _mm512_loadu_pd(p0 + j));
        s1 = _mm512_add_pd(s1, _mm512_loadu_pd(p1 + j));
        s2 = _mm512_add_pd(s2, _mm512_loadu_pd(p2 + j));
        s3 = _mm512_add_pd(s3, _mm512_loadu_pd(p3 + j));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
}
#endif

typedef double (*sum_body)(const double *p, size_t q);

/* The widest body this CPU runs, and its load width in bits (the read_vector_bits metric). */
static sum_body read_body(int *bits) {
#if defined(__x86_64__)
    if (gk_cpu_features_get()->avx512f) {
        *bits = 512;
        return sum_streams_avx512;
    }
#endif
    *bits = 8 * RLEN * (int)sizeof(double);
    return sum_streams_generic;
}

/* The sum of p[lo, hi), hi - lo a multiple of CHUNK_ALIGN (so of LINE): the streams over the
 * largest whole-line part, then the rest (under READ_STREAMS lines) in one plain loop. */
static double sum_range(sum_body body, const double *p, size_t lo, size_t hi) {
    size_t q = (hi - lo) / (READ_STREAMS * LINE) * LINE;
    double sum = q ? body(p + lo, q) : 0;
    rdouble rest = {0};
    for (size_t j = lo + READ_STREAMS * q; j < hi; j += RLEN) rest += load_r(p + j);
    return sum + (rest[0] + rest[1]);
}

static void init_range(triad_state *t, size_t lo, size_t hi) {
    for (size_t j = lo; j < hi; j++) t->b[j] = pat_b(j);
    if (!t->a) return;   /* read-only probe: b alone */
    for (size_t j = lo; j < hi; j++) {
        t->a[j] = pat_a(j);
        t->c[j] = pat_c(j);
    }
}

static void triad_worker(void *ctx, int ith, int nth) {
    const triad_job *job = ctx;
    triad_state *t = job->t;
    size_t lo, hi;
    chunk(job->hi - job->lo, ith, nth, &lo, &hi);
    lo += job->lo;
    hi += job->lo;
    double *restrict a = t->a, *restrict b = t->b, *restrict c = t->c;
    switch (job->op) {
    case OP_INIT:
        init_range(t, lo, hi);
        break;
    case OP_READ:
        t->partial[(size_t)ith * PARTIAL_STRIDE] = sum_range(t->sum, b, lo, hi);
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

/* Runs op over elements [lo, hi) (lo a multiple of CHUNK_ALIGN), split among the workers. */
static void run_range(triad_state *t, int op, size_t lo, size_t hi) {
    triad_job job = {t, op, lo, hi};
    gk_pool_run(t->pool, triad_worker, &job);
}

static void run_op(triad_state *t, int op) { run_range(t, op, 0, t->n); }

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
    free(t->partial);
    if (t->a) munmap(t->a, t->bytes);
    if (t->b) munmap(t->b, t->bytes);
    if (t->c) munmap(t->c, t->bytes);
    if (t->pool) gk_pool_destroy(t->pool);
    free(t);
}

/* On 2 MiB pages where THP is in "madvise" mode (Debian's default), as the backends' tensors
 * are (kernels/cpu/host_memory.c): a ceiling on small pages pays a TLB miss (a 2-D page walk in
 * a VM) and a prefetcher stop every 4 KiB that the weights it is the ceiling of do not, and a
 * decode streamed above it (tinyllama F16 at 1.22x the probe on a Zen 3 VM). The mapping is a
 * 2 MiB multiple (array_bytes); mmap's start is only 4 KiB-aligned, so the whole pages inside
 * it are huge and the ends small. Advice only: small pages where refused. */
static double *map_array(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

/* Fresh anonymous mappings are untouched, so the INIT job is the first touch of every page.
 * read_only: the read probe's one array (b) alone. */
static triad_state *triad_alloc(int threads, bool smt, bool quick, bool read_only, gc_err *err) {
    triad_state *t = calloc(1, sizeof *t);
    if (!t) {
        gc_errf(err, "triad: out of memory");
        return NULL;
    }
    t->bytes = array_bytes(quick);
    t->n = t->bytes / sizeof(double);
    t->sum = read_body(&t->read_bits);
    int arrays = read_only ? 1 : 3;
    uint64_t avail = gc_mem_available_bytes();
    if (avail && arrays * (double)t->bytes > 0.8 * (double)avail) {
        gc_errf(err, "triad: needs %.0f MiB for its array%s, only %.0f MiB of memory available (try --quick)",
                arrays * t->bytes / MIB, arrays == 1 ? "" : "s", avail / MIB);
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
    t->partial = calloc((size_t)t->threads * PARTIAL_STRIDE, sizeof *t->partial);
    t->b = map_array(t->bytes);
    if (!read_only) {
        t->a = map_array(t->bytes);
        t->c = map_array(t->bytes);
    }
    if (!t->partial || !t->b || (!read_only && (!t->a || !t->c))) {
        gc_errf(err, "triad: cannot map %d array%s of %.0f MiB", arrays, arrays == 1 ? "" : "s", t->bytes / MIB);
        triad_free(t);
        return NULL;
    }
    run_op(t, OP_INIT);
    return t;
}

static int triad_setup(const gc_case *c, void **state, gc_setup_out *out, gc_err *err) {
    triad_state *t = triad_alloc(c->threads, c->opt->smt, c->opt->quick, false, err);
    if (!t) return -1;
    double n = (double)t->n;
    gc_phase *ph = out->phases;
    ph[PH_COPY] = (gc_phase){.name = "copy", .unit = "GB", .work_per_rep = 16 * n / 1e9, .bytes_per_rep = 16 * n};
    ph[PH_TRIAD] = (gc_phase){.name = "triad", .unit = "GB", .work_per_rep = 24 * n / 1e9,
                              .bytes_per_rep = 24 * n, .flops_per_rep = 2 * n};
    ph[PH_READ] = (gc_phase){.name = "read", .unit = "GB", .work_per_rep = 8 * n / 1e9, .bytes_per_rep = 8 * n,
                             .flops_per_rep = n};
    out->n_phases = N_PHASES;
    /* No micro-kernel set runs here: the loops are GNU C generic vectors, the same for any --isa. */
    snprintf(out->device, sizeof out->device, "generic");
    *state = t;
    return 0;
}

static const int phase_op[N_PHASES] = {OP_COPY, OP_TRIAD, OP_READ};

static int triad_run(void *state, int phase, gc_err *err) {
    (void)err;   /* streaming cannot fail once set up */
    run_op(state, phase_op[phase]);
    return 0;
}

/* read: every worker's sum against the closed form of its chunk, and the total; nothing is
 * written, so the array is checked unchanged too. Exact: see the top of the file. */
static void verify_read(triad_state *t, gc_verify *v) {
    size_t bad = 0, first_bad = 0;
    double total = 0, max_err = 0;
    for (int i = 0; i < t->threads; i++) {
        size_t lo, hi;
        chunk(t->n, i, t->threads, &lo, &hi);
        double got = t->partial[(size_t)i * PARTIAL_STRIDE], want = triad_read_sum_want(lo, hi);
        total += got;
        if (got != want) {
            if (!bad) first_bad = (size_t)i;
            bad++;
            double e = fabs(got - want);
            if (e > max_err) max_err = e;
        }
    }
    size_t changed = 0;
    for (size_t j = 0; j < t->n; j++) changed += t->b[j] != pat_b(j);
    double want = triad_read_sum_want(0, t->n);
    v->ok = bad == 0 && changed == 0 && total == want;
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "elements_checked", (double)t->n);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "sum", total);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "sum_expected", want);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "chunks_checked", t->threads);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "mismatches", (double)(bad + changed));
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "max_abs_err", max_err);
    if (v->ok)
        snprintf(v->detail, sizeof v->detail, "read: sum of all %zu elements exact (%.1f), each of %d chunk sums exact, input unchanged",
                 t->n, want, t->threads);
    else if (bad)
        snprintf(v->detail, sizeof v->detail, "read: %zu of %d chunk sums wrong, first of worker %zu (total %.1f, want %.1f)", bad,
                 t->threads, first_bad, total, want);
    else
        snprintf(v->detail, sizeof v->detail, "read: %zu elements of the input changed (total %.1f, want %.1f)", changed, total, want);
}

/* copy and triad: every element of the output (and the inputs unchanged) against the closed form. */
static void verify_stream(triad_state *t, int phase, gc_verify *v) {
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
}

/* Resets all three arrays to their patterns, runs the phase once, and checks its result. */
static int triad_verify(void *state, int phase, gc_verify *v, gc_err *err) {
    (void)err;   /* a mismatch is a verdict, not an error */
    triad_state *t = state;
    run_op(t, OP_INIT);
    for (int i = 0; i < t->threads; i++) t->partial[(size_t)i * PARTIAL_STRIDE] = -1;   /* a sum no worker can give */
    run_op(t, phase_op[phase]);
    if (phase == PH_READ)
        verify_read(t, v);
    else
        verify_stream(t, phase, v);
    return 0;
}

/* The data set of the phase: the three arrays for copy and triad (as before `read` existed),
 * the one array it streams for read; and that set over the last-level cache (STREAM: >= 4). */
static void triad_finish(void *state, int phase, gc_metrics *m) {
    triad_state *t = state;
    double set = phase == PH_READ ? (double)t->bytes : 3.0 * (double)t->bytes, llc = (double)host_llc_bytes();
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, "array_bytes", (double)t->bytes);
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, GC_METRIC_ARRAYS_TOTAL_BYTES, set);
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, GC_METRIC_LLC_BYTES, llc);
    if (llc > 0) gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, GC_METRIC_FOOTPRINT_OVER_LLC, set / llc);
    if (phase == PH_READ) gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, GC_METRIC_READ_VECTOR_BITS, t->read_bits);
    gc_kv_add(m->vals, &m->n_vals, GC_MAX_KV, "pool_threads", t->threads);
}

static void triad_describe(const gc_case *c) {
    size_t b = array_bytes(c->opt->quick);
    double llc = (double)host_llc_bytes();
    printf("    3 arrays of %.0f MiB (%zu doubles each; last-level cache %.0f MiB)%s\n", b / MIB, b / sizeof(double), llc / MIB,
           c->opt->quick ? ", --quick: may fit in cache" : "");
    if (llc > 0) printf("    read streams one of them: %.1fx the last-level cache\n", (double)b / llc);
}

static void triad_teardown(void *state) { triad_free(state); }

/* Best seconds of one op over a short burst (>= 3 runs and PROBE_SECONDS), after a warm-up. */
static double best_seconds(triad_state *t, int op) {
    run_op(t, op);
    double best = 1e30, start = gc_now();
    for (int reps = 0; reps < 3 || gc_now() - start < PROBE_SECONDS; reps++) {
        double t0 = gc_now();
        run_op(t, op);
        double dt = gc_now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

double triad_probe_gbs(int threads, gc_err *err) {
    triad_state *t = triad_alloc(threads, false, false, false, err);
    if (!t) return 0;
    double gbs = 24.0 * (double)t->n / 1e9 / best_seconds(t, OP_TRIAD);
    triad_free(t);
    return gbs;
}

/* The read probe times slices of the array, not whole passes: each repetition reads one slice
 * (>= SLICE_MIN_BYTES, 1 MiB per worker on big machines), and the slices are read in turn, so
 * every one comes from memory (the array is >= 4x the cache). That is how the matrix-vector
 * phases it is set against are timed (one matrix per repetition, median), and it keeps a busy
 * machine from counting against the probe alone: a worker descheduled for a few milliseconds
 * spoils every 100 ms pass but only a few slices. The figure is the best, over >= 3 passes and
 * PROBE_SECONDS, of each pass's median slice. The slices are first-touched as they are read. */
#define SLICE_MIN_BYTES (8u << 20)
#define SLICE_BYTES_PER_WORKER (1u << 20)
#define MAX_SLICES 4096

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Elements per slice: a multiple of CHUNK_ALIGN; at most MAX_SLICES slices. */
static size_t slice_elems(const triad_state *t) {
    size_t bytes = (size_t)t->threads * SLICE_BYTES_PER_WORKER;
    if (bytes < SLICE_MIN_BYTES) bytes = SLICE_MIN_BYTES;
    size_t e = bytes / sizeof(double) / CHUNK_ALIGN * CHUNK_ALIGN;
    size_t min_e = (t->n + MAX_SLICES - 1) / MAX_SLICES;
    if (e < min_e) e = (min_e + CHUNK_ALIGN - 1) / CHUNK_ALIGN * CHUNK_ALIGN;
    return e < t->n ? e : t->n;
}

/* One pass over the slices: each slice's GB/s in gbs[], the sum of the whole array in *sum. */
static int read_pass(triad_state *t, size_t se, double *gbs, double *sum) {
    int k = 0;
    *sum = 0;
    for (size_t lo = 0; lo < t->n; lo += se, k++) {
        size_t hi = lo + se < t->n ? lo + se : t->n;
        double t0 = gc_now();
        run_range(t, OP_READ, lo, hi);
        gbs[k] = 8.0 * (double)(hi - lo) / 1e9 / (gc_now() - t0);
        for (int i = 0; i < t->threads; i++) *sum += t->partial[(size_t)i * PARTIAL_STRIDE];
    }
    return k;
}

static void init_slices(triad_state *t, size_t se) {
    for (size_t lo = 0; lo < t->n; lo += se) run_range(t, OP_INIT, lo, lo + se < t->n ? lo + se : t->n);
}

double read_probe_gbs(int threads, gc_err *err) {
    triad_state *t = triad_alloc(threads, false, false, true, err);
    if (!t) return 0;
    double *gbs = malloc(MAX_SLICES * sizeof *gbs);
    if (!gbs) {
        triad_free(t);
        gc_errf(err, "read probe: out of memory");
        return 0;
    }
    size_t se = slice_elems(t);
    init_slices(t, se);
    double sum = 0, best = 0, want = triad_read_sum_want(0, t->n);
    read_pass(t, se, gbs, &sum);   /* warm-up */
    bool exact = sum == want;
    double start = gc_now();
    for (int pass = 0; pass < 3 || gc_now() - start < PROBE_SECONDS; pass++) {
        int k = read_pass(t, se, gbs, &sum);
        exact &= sum == want;
        qsort(gbs, (size_t)k, sizeof *gbs, cmp_double);
        double med = k % 2 ? gbs[k / 2] : 0.5 * (gbs[k / 2 - 1] + gbs[k / 2]);
        if (med > best) best = med;
    }
    free(gbs);
    triad_free(t);
    if (!exact) {
        gc_errf(err, "read probe: a pass summed to other than %.1f: the stream is broken", want);
        return 0;
    }
    return best;
}

bool read_probe_exceeded(double gbs, double read_gbs, double margin) {
    if (!(read_gbs > 0) || !(margin >= 0)) return false;   /* unknown ceiling: no verdict */
    return gbs > read_gbs * (1.0 + margin);
}

bool streamed_from_cache(double gbs, double read_gbs, double set_bytes, double llc_bytes) {
    if (llc_bytes > 0 && set_bytes < STREAM_LLC_FACTOR * llc_bytes) return true;
    return read_probe_exceeded(gbs, read_gbs, READ_PROBE_MARGIN);
}

static const char *const triad_backends[] = {"cpu", NULL};
static const char *const triad_phases[] = {"copy", "triad", "read", NULL};

const gc_workload wl_triad = {
    .name = "triad",
    .description = "STREAM-style memory bandwidth: copy, triad and a read-only sum over arrays >= 4x the last-level cache, GB/s",
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
