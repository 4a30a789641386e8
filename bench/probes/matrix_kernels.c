/* kernels: matrix-vector and matrix-matrix products of one weight format at model shapes, as
 * fractions of this machine's measured ceilings (the roofline probes).
 *
 * One case per weight format (--quant). Phases, for each shape N×K (N weight rows of K inputs:
 * 4096×4096 attention, 11008×4096 / 4096×11008 Llama-7B FFN up and down, 5632×2048 /
 * 2048×2048 TinyLlama):
 *   matvec-NxK         1 activation column, as a decoded token: unit GB of weights streamed.
 *                      The repetitions cycle through a set of copies of the matrix totalling at
 *                      least 4× the last-level cache as this host reports it (hwloc), so the
 *                      weights come from memory as in a model's decode, not from the cache (a
 *                      4096×4096 Q4_0 matrix is 9 MB; a 260 MiB L3 takes ~115 copies of it).
 *   matmul-NxK-n16     16 columns (a small batch or speculative block): unit GFLOP (2·N·K·M).
 *   matmul-NxK-n512    512 columns (prompt processing): unit GFLOP.
 * Ceilings: read-only memory bandwidth (read_probe_gbs: matvec only reads its weights) and peak
 * FP32 FMA throughput (probe_fma, its ISA recorded), both measured in this process with the
 * case's thread count; triad's bandwidth is recorded too. finish() records the fraction reached
 * as `roofline_fraction`, and the case prints a table of them at its end. A matvec phase whose
 * set is under 4x the last-level cache (--quick's single copy, a set cut short by free memory)
 * or that passes the read probe by more than READ_PROBE_MARGIN (an LLC the host under-reports)
 * is no memory figure: it is marked `from_cache` = 1 (streamed_from_cache, bench/probes/triad.h;
 * `above_read_probe` says which ground) and printed "cache (partly)", never as "memory".
 *
 * Verification compares 8 rows × (all or 8) columns with the ref backend (dequantised weights,
 * double sums) within a bound derived per output, not a guessed epsilon:
 *   float weights:     |err| <= K·2^-24 · Σ|w·x|               (F32 summation in any order)
 *   quantised weights: the above + Σ_blocks Σ|w| · amax_block(x)/127, the largest change that
 *                      quantising the activations to 8-bit blocks (32 elements, 256 for K-quants:
 *                      ggml's Q8_0 / Q8_K) can make; Q8_0's rounding is d/2, Q8_K's clamp d.
 *   activations rounded to a float type (the backend says which: gk_matmul_act_type; cuda's
 *   GEMM path above 8 columns: BF16 for BF16 weights, F16 otherwise; cpu's AMX path from 8
 *   columns: BF16, weights rounded to BF16 as well, which 2^-8 covers for both factors): + u·Σ|w·x|, the unit
 *   roundoff u (F16 2^-11, BF16 2^-8) being the largest relative change rounding to nearest
 *   makes, and the summation term taken on the rounded x (1 + u). Without it BF16 at K = 2048
 *   fails on cuda's GEMM path (tests/test_cuda.c reproduces it). The F16 that the GEMM path
 *   dequantises quantised weights to is inside the 8-bit term (>= Σ|w·x|/127).
 * Each set copy is also checked to give bit-identical results to the first.
 *
 * Timing: a sample is one call and its sync on the host backends (ref, cpu), whose calls finish
 * inside them. On a device backend (cuda) it is kernels_calls_per_sample calls queued between
 * two syncs (matrix_kernels.h: ~2 GB of weights or 500 GFLOP), divided by their number, so the
 * launch latency and the sync's round trip are not timed as the kernel; work_per_rep counts
 * them all and `calls_per_sample` is recorded.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/host/facts.h"
#include "bench/metrics.h"
#include "bench/probes/matrix_kernels.h"
#include "bench/probes/fma.h"
#include "bench/workload.h"
#include "bench/probes/triad.h"
#include "kernels/backend.h"

#define MAX_COLS 512
#define BASE_ROWS 64            /* distinct rows; a matrix repeats them (speed is data-blind) */
#define CHECK_ROWS 8
#define CHECK_COLS 8            /* of 512; every column when there are at most MAX_CHECK_COLS */
#define MAX_CHECK_COLS 16
#define SET_LLC_FACTOR STREAM_LLC_FACTOR
#define MAX_SET 65536           /* copies: a sanity bound, far above any LLC ÷ smallest matrix */
#define UNKNOWN_LLC_SET (1024.0 * 1024 * 1024)   /* bytes of copies when the LLC is unknown */
#define MAX_SAMPLES 4096

typedef struct shape {
    int64_t n, k;
} shape;

static const shape shapes_full[] = {{4096, 4096}, {11008, 4096}, {4096, 11008}, {5632, 2048}, {2048, 2048}};
static const shape shapes_quick[] = {{2048, 2048}};
static const int cols_full[] = {1, 16, 512};
static const int cols_quick[] = {1, 16};

typedef struct kphase {
    int shape;                  /* index into the case's shape list */
    int m;                      /* activation columns */
} kphase;

typedef struct summary_row {
    char name[64];
    bool done;
    double value;               /* GB/s or GFLOP/s, median */
    double fraction;            /* of the ceiling, 0 if unknown */
    bool memory;                /* ceiling is the read probe (else FMA peak) */
    bool from_cache;            /* memory: no memory figure (streamed_from_cache) */
    bool above_read;            /* ... because it passed the read probe (else: its set is small) */
} summary_row;

typedef struct kcase {
    gk_backend *be, *rbe;
    int wtype;
    int threads;
    const gc_options *opt;
    const shape *shapes;
    kphase ph[GC_MAX_PHASES];
    int per_sample[GC_MAX_PHASES];   /* backend calls per timed sample (kernels_calls_per_sample) */
    int n_ph;
    /* the loaded shape */
    int cur_shape;
    gk_tensor *w;               /* n_set copies of the matrix (calloc'd) */
    int n_set;
    gk_tensor x, y;
    uint8_t *base;              /* BASE_ROWS weight rows, host bytes */
    size_t row_bytes;
    float *xh;                  /* activations, host, K × MAX_COLS */
    /* timing of the current phase */
    bool device;                /* asynchronous calls (a GPU): several calls per sample */
    int calls, rep;
    double *samples;
    int n_samples;
    summary_row sum[GC_MAX_PHASES];
    double triad_gbs, read_gbs;
    probe_fma_result fma;
} kcase;

/* ---- deterministic data --------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float unit_rand(uint64_t *s) { return (float)((double)(splitmix(s) >> 11) * 0x1.0p-52 - 1.0); }

/* ---- phases ------------------------------------------------------------------------------- */

int kernels_calls_per_sample(bool device, int m, double weight_bytes, double flops) {
    if (!device) return 1;
    double per = m == 1 ? weight_bytes : flops, want = m == 1 ? KERNELS_DEVICE_SAMPLE_BYTES : KERNELS_DEVICE_SAMPLE_FLOPS;
    if (!(per > 0)) return 1;
    double n = ceil(want / per);
    return n < 1 ? 1 : n > KERNELS_MAX_CALLS ? KERNELS_MAX_CALLS : (int)n;
}

static int n_shapes(const gc_options *o) { return o->quick ? 1 : (int)(sizeof shapes_full / sizeof *shapes_full); }

static void declare_phases(kcase *s, gc_phase *ph, int *n_phases) {
    const bool q = s->opt->quick;
    const int *cols = q ? cols_quick : cols_full;
    int nc = q ? 2 : 3;
    size_t wsz = gk_type_get(s->wtype)->block_bytes;
    int bl = gk_type_get(s->wtype)->block;
    s->n_ph = 0;
    for (int i = 0; i < n_shapes(s->opt); i++) {
        const shape *sh = &s->shapes[i];
        double wbytes = (double)sh->n * (double)(sh->k / bl) * (double)wsz;
        for (int c = 0; c < nc && s->n_ph < GC_MAX_PHASES; c++) {
            int m = cols[c];
            gc_phase *p = &ph[s->n_ph];
            memset(p, 0, sizeof *p);
            double flops = 2.0 * (double)sh->n * (double)sh->k * m;
            if (m == 1) {
                snprintf(p->name, sizeof p->name, "matvec-%lldx%lld", (long long)sh->n, (long long)sh->k);
                snprintf(p->unit, sizeof p->unit, "GB");
                p->work_per_rep = wbytes / 1e9;
            } else {
                snprintf(p->name, sizeof p->name, "matmul-%lldx%lld-n%d", (long long)sh->n, (long long)sh->k, m);
                snprintf(p->unit, sizeof p->unit, "GFLOP");
                p->work_per_rep = flops / 1e9;
            }
            p->bytes_per_rep = wbytes + 4.0 * (double)m * (double)(sh->k + sh->n);
            p->flops_per_rep = flops;
            int calls = kernels_calls_per_sample(s->device, m, wbytes, flops);
            p->work_per_rep *= calls;
            p->bytes_per_rep *= calls;
            p->flops_per_rep *= calls;
            s->per_sample[s->n_ph] = calls;
            s->ph[s->n_ph] = (kphase){i, m};
            snprintf(s->sum[s->n_ph].name, sizeof s->sum[s->n_ph].name, "%s", p->name);
            s->sum[s->n_ph].memory = m == 1;
            s->n_ph++;
        }
    }
    *n_phases = s->n_ph;
}

/* ---- weights and activations -------------------------------------------------------------- */

static void free_shape(kcase *s) {
    for (int i = 0; s->w && i < s->n_set; i++)
        if (s->w[i].data) s->be->ops->free(s->be, &s->w[i]);
    if (s->x.data) s->be->ops->free(s->be, &s->x);
    if (s->y.data) s->be->ops->free(s->be, &s->y);
    free(s->w);
    s->w = NULL;
    memset(&s->x, 0, sizeof s->x);
    memset(&s->y, 0, sizeof s->y);
    s->n_set = 0;
    free(s->base);
    free(s->xh);
    s->base = NULL;
    s->xh = NULL;
    s->cur_shape = -1;
}

/* Copies of the matrix whose total is >= SET_LLC_FACTOR × the last-level cache (UNKNOWN_LLC_SET
 * when the host reports none; one copy with --quick), limited to half of the available memory.
 * A set cut short by memory is recorded (footprint_over_llc) and caught by the read probe. */
static int set_size(bool quick, double matrix_bytes) {
    if (quick) return 1;
    double llc = (double)host_llc_bytes();
    double want = llc > 0 ? SET_LLC_FACTOR * llc : UNKNOWN_LLC_SET;
    double n = ceil(want / matrix_bytes);
    double avail = (double)gc_mem_available_bytes();
    if (avail > 0 && n * matrix_bytes > 0.5 * avail) n = floor(0.5 * avail / matrix_bytes);
    return n < 1 ? 1 : n > MAX_SET ? MAX_SET : (int)n;
}

static int upload_matrix(kcase *s, gk_tensor *t, int64_t n, gc_err *err) {
    for (int64_t r = 0; r < n; r += BASE_ROWS) {
        int64_t nr = n - r < BASE_ROWS ? n - r : BASE_ROWS;
        if (s->be->ops->upload(s->be, t, (size_t)r * s->row_bytes, s->base, (size_t)nr * s->row_bytes))
            return gc_errf(err, "kernels: upload of weights: %s", gk_backend_error(s->be));
    }
    return 0;
}

static int load_shape(kcase *s, int si, gc_err *err) {
    if (s->cur_shape == si) return 0;
    free_shape(s);
    const shape *sh = &s->shapes[si];
    const gk_type_info *ti = gk_type_get(s->wtype);
    s->row_bytes = gk_type_bytes(s->wtype, sh->k);
    s->base = malloc(BASE_ROWS * s->row_bytes);
    s->xh = malloc((size_t)sh->k * MAX_COLS * sizeof(float));
    float *row = malloc((size_t)sh->k * sizeof(float));
    if (!s->base || !s->xh || !row) {
        free(row);
        return gc_errf(err, "kernels: out of memory for %lldx%lld", (long long)sh->n, (long long)sh->k);
    }
    uint64_t seed = s->opt->seed * 1000003u + (uint64_t)si;
    for (int r = 0; r < BASE_ROWS; r++) {
        for (int64_t i = 0; i < sh->k; i++) row[i] = unit_rand(&seed);
        ti->from_f32(row, s->base + (size_t)r * s->row_bytes, sh->k);
    }
    free(row);
    for (int64_t i = 0; i < sh->k * MAX_COLS; i++) s->xh[i] = unit_rand(&seed);
    s->cur_shape = si;

    bool has_matvec = false;
    for (int p = 0; p < s->n_ph; p++) has_matvec |= s->ph[p].shape == si && s->ph[p].m == 1;
    int want = has_matvec ? set_size(s->opt->quick, (double)s->row_bytes * (double)sh->n) : 1;
    s->w = calloc((size_t)want, sizeof *s->w);
    if (!s->w) return gc_errf(err, "kernels: out of memory for %d copies of %lldx%lld", want, (long long)sh->n, (long long)sh->k);
    for (s->n_set = 0; s->n_set < want; s->n_set++) {
        gk_tensor *t = &s->w[s->n_set];
        if (gk_new2d(s->be, t, s->wtype, sh->k, sh->n)) {
            if (s->n_set > 0) break;   /* fewer copies than wished: recorded in the metrics */
            return gc_errf(err, "kernels: weights %lldx%lld: %s", (long long)sh->n, (long long)sh->k, gk_backend_error(s->be));
        }
        if (upload_matrix(s, t, sh->n, err)) return -1;
        /* laid out as the llm workload's weights are (cpu: Q4_0 in groups of eight rows on AVX2) */
        if (gk_prepare_weight(s->be, t))
            return gc_errf(err, "kernels: preparing the weights: %s", gk_backend_error(s->be));
    }
    if (gk_new2d(s->be, &s->x, GK_F32, sh->k, MAX_COLS) || gk_new2d(s->be, &s->y, GK_F32, sh->n, MAX_COLS))
        return gc_errf(err, "kernels: activations: %s", gk_backend_error(s->be));
    if (s->be->ops->upload(s->be, &s->x, 0, s->xh, s->x.nbytes))
        return gc_errf(err, "kernels: upload of activations: %s", gk_backend_error(s->be));
    return 0;
}

static int matmul_cols(kcase *s, int wi, int m, gc_err *err) {
    gk_tensor xv = gk_view_rows(&s->x, 0, m), yv = gk_view_rows(&s->y, 0, m);
    if (gk_matmul(s->be, &yv, &s->w[wi], &xv, NULL))
        return gc_errf(err, "kernels: matmul: %s", gk_backend_error(s->be));
    return 0;
}

/* ---- verification ------------------------------------------------------------------------- */

/* The bound on |y - y_ref| for one output (see the top of the file). */
double kernels_error_bound(int wtype, int act_type, const float *w, const float *x, int64_t k) {
    const gk_type_info *ti = gk_type_get(wtype);
    double sum_abs = 0, act = 0;
    int ab = ti->block == 256 ? 256 : 32;
    for (int64_t b0 = 0; b0 < k; b0 += ab) {
        double wabs = 0, amax = 0;
        for (int64_t i = b0; i < b0 + ab && i < k; i++) {
            wabs += fabs((double)w[i]);
            sum_abs += fabs((double)w[i] * x[i]);
            if (fabs((double)x[i]) > amax) amax = fabs((double)x[i]);
        }
        act += wabs * amax / 127.0;
    }
    const double u = act_type == GK_BF16 ? 0x1.0p-8 : act_type == GK_F16 ? 0x1.0p-11 : 0;
    return ((double)k * 0x1.0p-24 * (1 + u) + u) * sum_abs + (ti->quantized ? act : 0) + 1e-30;
}

typedef struct check {
    int64_t rows[CHECK_ROWS];
    int cols[MAX_CHECK_COLS];
    int n_cols;
} check;

static void pick(int64_t n, int m, check *c) {
    for (int i = 0; i < CHECK_ROWS; i++) c->rows[i] = (n - 1) * i / (CHECK_ROWS - 1);
    c->n_cols = m <= MAX_CHECK_COLS ? m : CHECK_COLS;
    for (int j = 0; j < c->n_cols; j++) c->cols[j] = m <= MAX_CHECK_COLS ? j : (m - 1) * j / (CHECK_COLS - 1);
}

/* The selected outputs on the ref backend: rows of the weights and columns of X uploaded there. */
static int ref_outputs(kcase *s, const shape *sh, const check *c, float *out, gc_err *err) {
    gk_backend *r = s->rbe;
    gk_tensor w = {0}, x = {0}, y = {0};
    int rc = -1;
    float *xs = malloc((size_t)sh->k * (size_t)c->n_cols * sizeof(float));
    uint8_t *ws = malloc(CHECK_ROWS * s->row_bytes);
    if (!xs || !ws) {
        gc_errf(err, "kernels: out of memory");
        goto done;
    }
    for (int i = 0; i < CHECK_ROWS; i++) memcpy(ws + i * s->row_bytes, s->base + (c->rows[i] % BASE_ROWS) * s->row_bytes, s->row_bytes);
    for (int j = 0; j < c->n_cols; j++) memcpy(xs + (size_t)j * sh->k, s->xh + (size_t)c->cols[j] * sh->k, (size_t)sh->k * sizeof(float));
    if (gk_new2d(r, &w, s->wtype, sh->k, CHECK_ROWS) || gk_new2d(r, &x, GK_F32, sh->k, c->n_cols) ||
        gk_new2d(r, &y, GK_F32, CHECK_ROWS, c->n_cols) || r->ops->upload(r, &w, 0, ws, w.nbytes) ||
        r->ops->upload(r, &x, 0, xs, x.nbytes) || gk_matmul(r, &y, &w, &x, NULL) ||
        r->ops->download(r, &y, 0, out, y.nbytes)) {
        gc_errf(err, "kernels: ref backend: %s", gk_backend_error(r));
        goto done;
    }
    rc = 0;
done:
    if (w.data) r->ops->free(r, &w);
    if (x.data) r->ops->free(r, &x);
    if (y.data) r->ops->free(r, &y);
    free(xs);
    free(ws);
    return rc;
}

/* Compares the case backend's outputs with ref's; fills v. */
static int compare(kcase *s, const shape *sh, int m, const float *got, gc_verify *v, gc_err *err) {
    check c;
    pick(sh->n, m, &c);
    float ref[CHECK_ROWS * MAX_CHECK_COLS];
    if (ref_outputs(s, sh, &c, ref, err)) return -1;
    float *wrow = malloc((size_t)sh->k * sizeof(float));
    if (!wrow) return gc_errf(err, "kernels: out of memory");
    double worst = 0, max_abs = 0;
    int bad = 0, checked = 0;
    const gk_type_info *ti = gk_type_get(s->wtype);
    const int act_type = gk_matmul_act_type(s->be, s->wtype, m);
    for (int i = 0; i < CHECK_ROWS; i++) {
        ti->to_f32(s->base + (c.rows[i] % BASE_ROWS) * s->row_bytes, wrow, sh->k);
        for (int j = 0; j < c.n_cols; j++) {
            const float *x = s->xh + (size_t)c.cols[j] * sh->k;
            double want = ref[j * CHECK_ROWS + i], have = got[(size_t)c.cols[j] * sh->n + c.rows[i]];
            double e = fabs(have - want), bound = kernels_error_bound(s->wtype, act_type, wrow, x, sh->k);
            if (!(e <= bound)) bad++;   /* NaN counts as bad */
            if (e / bound > worst || isnan(e)) worst = isnan(e) ? INFINITY : e / bound;
            if (e > max_abs) max_abs = e;
            checked++;
        }
    }
    free(wrow);
    v->ok = bad == 0;
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "outputs_checked", checked);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "outputs_out_of_bound", bad);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "max_err_over_bound", worst);
    gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "max_abs_err", max_abs);
    snprintf(v->detail, sizeof v->detail, "%d outputs (%d rows x %d columns) vs ref: %d beyond the error bound%s%s%s, worst %.3g of it",
             checked, CHECK_ROWS, c.n_cols, bad, act_type != GK_F32 ? " (activations in " : "",
             act_type != GK_F32 ? gk_type_name(act_type) : "", act_type != GK_F32 ? ")" : "", worst);
    return 0;
}

static int kernels_verify(void *state, int phase, gc_verify *v, gc_err *err) {
    kcase *s = state;
    const kphase *p = &s->ph[phase];
    const shape *sh = &s->shapes[p->shape];
    if (load_shape(s, p->shape, err)) return -1;
    size_t ybytes = (size_t)sh->n * (size_t)p->m * sizeof(float);
    float *y0 = malloc(ybytes), *y1 = malloc(ybytes);
    int rc = -1;
    if (!y0 || !y1) {
        gc_errf(err, "kernels: out of memory");
        goto done;
    }
    if (matmul_cols(s, 0, p->m, err)) goto done;
    if (s->be->ops->download(s->be, &s->y, 0, y0, ybytes)) {
        gc_errf(err, "kernels: download: %s", gk_backend_error(s->be));
        goto done;
    }
    if (compare(s, sh, p->m, y0, v, err)) goto done;
    if (p->m == 1 && s->n_set > 1) {
        /* The copies hold the same bytes: the same kernels must give the same bits. */
        if (matmul_cols(s, s->n_set - 1, 1, err)) goto done;
        if (s->be->ops->download(s->be, &s->y, 0, y1, ybytes)) {
            gc_errf(err, "kernels: download: %s", gk_backend_error(s->be));
            goto done;
        }
        bool same = !memcmp(y0, y1, ybytes);
        gc_kv_add(v->vals, &v->n_vals, GC_MAX_KV, "copies_identical", same);
        if (!same) {
            v->ok = false;
            snprintf(v->detail, sizeof v->detail, "matrix copy %d gives other results than copy 0", s->n_set - 1);
        }
    }
    s->calls = s->rep = 0;
    s->n_samples = 0;
    rc = 0;
done:
    free(y0);
    free(y1);
    return rc;
}

/* ---- timing ------------------------------------------------------------------------------- */

static int kernels_run(void *state, int phase, gc_err *err) {
    kcase *s = state;
    const kphase *p = &s->ph[phase];
    const int calls = s->per_sample[phase];
    double t0 = gc_now();
    for (int i = 0; i < calls; i++) {   /* matvec: the next copy of the set each call */
        int wi = p->m == 1 ? s->rep++ % s->n_set : 0;
        if (matmul_cols(s, wi, p->m, err)) return -1;
    }
    if (s->be->ops->sync(s->be)) return gc_errf(err, "kernels: sync: %s", gk_backend_error(s->be));
    double dt = (gc_now() - t0) / calls;
    /* The first runs after verify() are the runner's warm-ups. */
    if (s->calls++ >= s->opt->warmup && s->n_samples < MAX_SAMPLES) s->samples[s->n_samples++] = dt;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The FMA probe that matches a micro-kernel set: a forced AVX2 table on an AVX-512 CPU is held
 * to the AVX2 peak, the rate its own instructions can reach. */
static const char *probe_isa(const char *uk_isa) {
    if (!uk_isa) return NULL;
    if (!strcmp(uk_isa, "dotprod") || !strcmp(uk_isa, "i8mm")) return "neon";
    return uk_isa;
}

/* The memory ceilings of this process, for the thread count they were measured with. */
static struct {
    int threads;
    double read_gbs, triad_gbs;
} mem_probe = {-1, 0, 0};

/* The ceilings, measured once per thread count and micro-kernel set in this process. */
static void ceilings(kcase *s) {
    static int f_threads = -1;
    static const char *f_isa;
    static probe_fma_result f_res;
    if (strcmp(s->be->name, "cpu")) return;   /* a CPU roofline says nothing about a GPU */
    if (mem_probe.threads != s->threads) {
        gc_err e;
        mem_probe.read_gbs = read_probe_gbs(s->threads, &e);
        mem_probe.triad_gbs = triad_probe_gbs(s->threads, &e);
        mem_probe.threads = s->threads;
    }
    const char *isa = probe_isa(s->be->isa);
    if (f_threads != s->threads || f_isa != isa) {
        gc_err e;
        if (probe_fma(s->threads, isa, &f_res, &e) && probe_fma(s->threads, NULL, &f_res, &e)) f_res.gflops = 0;
        f_threads = s->threads;
        f_isa = isa;
    }
    s->triad_gbs = mem_probe.triad_gbs;
    s->read_gbs = mem_probe.read_gbs;
    s->fma = f_res;
}

/* A matvec above the read probe is probed against once more before it is called cache: a
 * neighbour on a shared machine may have slowed the first probe. The best of the two stands
 * for the rest of the process. */
static void reprobe_read(kcase *s) {
    gc_err e;
    double again = read_probe_gbs(s->threads, &e);
    if (again > mem_probe.read_gbs) mem_probe.read_gbs = again;
    s->read_gbs = mem_probe.read_gbs;
}

/* matvec: the set streamed, set against the cache and the read probe of this run. */
static void matvec_metrics(kcase *s, summary_row *r, double wbytes, gc_metrics *mt) {
    double llc = (double)host_llc_bytes(), set = wbytes * s->n_set;
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "matrices_in_set", s->n_set);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "set_bytes", set);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_LLC_BYTES, llc);
    if (llc > 0) gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_FOOTPRINT_OVER_LLC, set / llc);
    if (s->read_gbs <= 0) return;
    if (read_probe_exceeded(r->value, s->read_gbs, READ_PROBE_MARGIN)) reprobe_read(s);
    r->above_read = read_probe_exceeded(r->value, s->read_gbs, READ_PROBE_MARGIN);
    r->from_cache = streamed_from_cache(r->value, s->read_gbs, set, llc);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_ABOVE_READ_PROBE, r->above_read);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_READ_GBS, s->read_gbs);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_FROM_CACHE, r->from_cache);
}

static void kernels_finish(void *state, int phase, gc_metrics *mt) {
    kcase *s = state;
    const kphase *p = &s->ph[phase];
    const shape *sh = &s->shapes[p->shape];
    if (s->n_samples == 0) return;
    qsort(s->samples, (size_t)s->n_samples, sizeof *s->samples, cmp_double);
    double med = s->n_samples % 2 ? s->samples[s->n_samples / 2]
                                  : 0.5 * (s->samples[s->n_samples / 2 - 1] + s->samples[s->n_samples / 2]);
    double wbytes = (double)s->row_bytes * (double)sh->n;
    double gbs = wbytes / med / 1e9, gflops = 2.0 * (double)sh->n * (double)sh->k * p->m / med / 1e9;
    ceilings(s);
    summary_row *r = &s->sum[phase];
    r->done = true;
    r->value = p->m == 1 ? gbs : gflops;
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "weight_gbs", gbs);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "calls_per_sample", s->per_sample[phase]);
    gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, "gflops", gflops);
    if (p->m == 1) matvec_metrics(s, r, wbytes, mt);
    if (s->triad_gbs > 0) gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_TRIAD_GBS, s->triad_gbs);
    if (s->fma.gflops > 0) {
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_FMA_PEAK_GFLOPS, s->fma.gflops);
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_FMA_VECTOR_BITS, s->fma.vector_bits);
    }
    double ceiling = p->m == 1 ? s->read_gbs : s->fma.gflops;
    if (ceiling > 0) {
        r->fraction = r->value / ceiling;
        gc_kv_add(mt->vals, &mt->n_vals, GC_MAX_KV, GC_METRIC_ROOFLINE_FRACTION, r->fraction);
    }
}

/* ---- set-up and summary ------------------------------------------------------------------- */

static int kernels_setup(const gc_case *c, void **state, gc_setup_out *out, gc_err *err) {
    kcase *s = calloc(1, sizeof *s);
    if (!s) return gc_errf(err, "kernels: out of memory");
    *state = s;
    s->cur_shape = -1;
    s->opt = c->opt;
    s->threads = c->threads;
    s->shapes = c->opt->quick ? shapes_quick : shapes_full;
    s->wtype = gk_type_from_name(c->quant);
    if (s->wtype < 0 || !gk_type_get(s->wtype)) return gc_errf(err, "kernels: unknown weight type '%s'", c->quant);
    s->samples = malloc(MAX_SAMPLES * sizeof *s->samples);
    if (!s->samples) return gc_errf(err, "kernels: out of memory");
    char why[256];
    gk_backend_opts bo = {.n_threads = c->threads, .smt = c->opt->smt, .isa = c->isa};
    s->be = gk_backend_open(c->backend, &bo, why, sizeof why);
    if (!s->be) return gc_errf(err, "kernels: backend %s: %s", c->backend, why);
    /* the host backends (ref, cpu) compute inside the call; the others queue work on a device */
    s->device = strcmp(s->be->name, "cpu") && strcmp(s->be->name, "ref");
    declare_phases(s, out->phases, &out->n_phases);
    gc_device_of(s->be, out->device, sizeof out->device);
    const gc_op_need mm = {GK_OP_MATMUL, {GK_F32, s->wtype, GK_F32}, 3};
    if (gc_require_ops(s->be, "kernels", &mm, 1, err)) return GC_SETUP_UNSUPPORTED;
    s->threads = s->be->n_threads;
    gk_backend_opts rbo = {.n_threads = 1};
    s->rbe = gk_backend_open("ref", &rbo, why, sizeof why);
    if (!s->rbe) return gc_errf(err, "kernels: cannot open the ref backend to verify: %s", why);
    return 0;
}

static void print_summary(const kcase *s) {
    int done = 0;
    for (int i = 0; i < s->n_ph; i++) done += s->sum[i].done;
    if (!done) return;
    printf("\nkernels %s on %s (%d thread%s; %s)\n", gk_type_name(s->wtype), s->be->name, s->threads, s->threads == 1 ? "" : "s",
           s->be->device_name);
    if (s->read_gbs > 0 || s->fma.gflops > 0)
        printf("  ceilings, measured: read %.1f GB/s (triad %.1f), FP32 FMA peak %.1f GFLOP/s (%s, %d-bit)\n", s->read_gbs,
               s->triad_gbs, s->fma.gflops, s->fma.isa, s->fma.vector_bits);
    printf("  %-26s %14s  %-26s %s\n", "phase", "median", "of ceiling", "weights from");
    for (int i = 0; i < s->n_ph; i++) {
        const summary_row *r = &s->sum[i];
        if (!r->done) continue;
        char frac[48] = "-";
        if (r->fraction > 0 && r->memory) snprintf(frac, sizeof frac, "%5.1f%% of read", 100 * r->fraction);
        if (r->fraction > 0 && !r->memory) snprintf(frac, sizeof frac, "%5.1f%% of FMA peak (%s)", 100 * r->fraction, s->fma.isa);
        const char *from = !r->memory ? "" : s->read_gbs <= 0 ? "unchecked" : r->above_read ? "cache (partly): above read"
                         : r->from_cache ? "cache (partly): set < 4x LLC" : "memory";
        printf("  %-26s %8.2f %-5s  %-26s %s\n", r->name, r->value, r->memory ? "GB/s" : "GF/s", frac, from);
    }
    fflush(stdout);
}

static void kernels_teardown(void *state) {
    kcase *s = state;
    if (!s) return;
    if (s->be) {
        print_summary(s);
        free_shape(s);
        gk_backend_close(s->be);
    }
    if (s->rbe) gk_backend_close(s->rbe);
    free(s->samples);
    free(s);
}

static void kernels_describe(const gc_case *c) {
    int t = gk_type_from_name(c->quant);
    if (t < 0) return;
    const shape *sh = c->opt->quick ? shapes_quick : shapes_full;
    printf("    last-level cache %.0f MB; matvec cycles copies of its matrix totalling >= %dx that%s\n",
           (double)host_llc_bytes() / 1e6, SET_LLC_FACTOR, c->opt->quick ? " (--quick: one copy, may run from cache)" : "");
    for (int i = 0; i < n_shapes(c->opt); i++) {
        double bytes = (double)gk_type_bytes(t, sh[i].k) * (double)sh[i].n;
        int copies = set_size(c->opt->quick, bytes);
        printf("    %lldx%lld %s: %.1f MB of weights, %d cop%s for matvec (%.0f MB)\n", (long long)sh[i].n, (long long)sh[i].k,
               c->quant, bytes / 1e6, copies, copies == 1 ? "y" : "ies", copies * bytes / 1e6);
    }
}

static const char *const kernels_quants[] = {"q4_0", "q8_0", "f16", "bf16", "f32", "q4_1", "q4_k", "q6_k", NULL};
static const char *const kernels_backends[] = {"cpu", "cuda", NULL};

const gc_workload wl_kernels = {
    .name = "kernels",
    .description = "matrix-vector (GB/s of weights, from memory: checked against the read probe) and matrix-matrix "
                   "(GFLOP/s, 16 and 512 columns) products per weight format at model shapes, as fractions of measured "
                   "read bandwidth and FMA peak",
    .presets = NULL,
    .quants = kernels_quants,
    .backends = kernels_backends,
    .setup = kernels_setup,
    .verify = kernels_verify,
    .run = kernels_run,
    .finish = kernels_finish,
    .describe = kernels_describe,
    .teardown = kernels_teardown,
    .default_threads = "all",
    .takes_isa = true,
};
