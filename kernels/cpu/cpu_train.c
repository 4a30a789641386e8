/* The "cpu" backend's train family (backend.h's contracts; ref_train.c has the derivations).
 *
 * Row-wise ops (rmsnorm_backward's dx, rope_backward, cross_entropy) split rows over the pool;
 * elementwise ones (silu_mul_backward, adamw, fill) split the flat arrays. Reductions across
 * rows never share an accumulator between threads: rmsnorm_backward's dw and
 * embedding_backward's scatter-add split the columns (each column summed over the rows in row
 * order), sum_squares sums fixed chunks and adds the chunk sums in chunk order. Every result is
 * therefore the same for any thread count.
 *
 * GCC's -O2 vectoriser (the very-cheap model) leaves loops of unknown trip count scalar, so the
 * hot loops run over LANES elements at a time in a fixed-count inner loop it takes as straight-
 * line code, plus a scalar tail; exponentials are gk_exp_fast (cpu_image.h), which vectorises.
 *
 * attention_backward: one work unit per query head. A unit packs its KV head's keys and values
 * for the sgemm micro-kernel once, then for each block of BQ query rows computes, with five
 * products on the micro-kernel: S = scale·Q·Kᵀ over the keys the block sees (BQ × keys, at
 * most BQ × T: never T × T), the softmax P row by row, dP = dO·Vᵀ, dS = P∘(dP − rowsum(P∘dP))
 * ·scale, dQ = dS·K (written), dK += dSᵀ·Q and dV += Pᵀ·dO. With one query head per KV head
 * the unit owns its KV head's columns of dk and dv; with a group of them each unit accumulates
 * into its own T × head_dim slices, which are summed afterwards in head order. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_image.h"
#include "kernels/cpu/cpu_train.h"
#include "kernels/op_checks.h"

enum {
    LANES = 8,             /* fixed inner trip count the vectoriser unrolls */
    COL_UNIT = 64,         /* columns per unit of a column split (a multiple of 16 floats: no false sharing) */
    ELEMS_UNIT = 4096,     /* elements per unit of an elementwise op */
    SUMSQ_CHUNK = 16384,   /* elements per partial sum of sum_squares */
    ATTN_BQ = 64,          /* query rows per block, rounded down to a multiple of the kernel's MR */
};

/* The block functions run whole blocks and one tail: inlined, the whole blocks' copies have a
 * constant size and become vector moves (a call to memmove each, when not). */
#define ALWAYS_INLINE __attribute__((always_inline))

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
static const float *f32(const gk_tensor *t) { return (const float *)t->data; }
static float *f32w(gk_tensor *t) { return (float *)t->data; }

/* Σ a·b·c, in LANES partial sums. */
static float dot3(const float *a, const float *b, const float *c, int64_t n) {
    float acc[LANES] = {0}, s = 0;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += a[i + l] * b[i + l] * c[i + l];
    for (; i < n; i++) s += a[i] * b[i] * c[i];
    for (int l = 0; l < LANES; l++) s += acc[l];
    return s;
}

static float max_of(const float *x, int64_t n) {
    float m[LANES], r = -INFINITY;
    for (int l = 0; l < LANES; l++) m[l] = -INFINITY;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    for (int l = 0; l < LANES; l++) r = m[l] > r ? m[l] : r;
    return r;
}

/* y[i] = e^(x[i] − shift) for i < n (y may equal x); returns their sum. Each block of LANES goes
 * through local arrays: with x and y possibly one array, the vectoriser would otherwise need a
 * run-time overlap check, which GCC's -O2 cost model never pays for (the same below). */
static float exp_sum(const float *x, float *y, int64_t n, float shift) {
    float acc[LANES] = {0}, s = 0;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        float v[LANES];
        memcpy(v, x + i, sizeof v);
        for (int l = 0; l < LANES; l++) {
            v[l] = gk_exp_fast(v[l] - shift);
            acc[l] += v[l];
        }
        memcpy(y + i, v, sizeof v);
    }
    for (; i < n; i++) s += y[i] = gk_exp_fast(x[i] - shift);
    for (int l = 0; l < LANES; l++) s += acc[l];
    return s;
}

/* ---- rmsnorm_backward ---------------------------------------------------------------------- */

typedef struct rms_job {
    gk_tensor *dx, *dw;
    const gk_tensor *dy, *x, *w;
    float eps;
    float *rs;           /* per row: 1 / rms */
    int64_t n, rows;
} rms_job;

/* dx_j += r·dy_j·w_j − r³·x_j·(Σ dy·w·x)/n, per row; r kept for the dw pass. */
static void rms_dx_rows(void *ctx, int64_t r0, int64_t r1) {
    rms_job *j = ctx;
    const int64_t n = j->n;
    const float *w = f32(j->w);
    for (int64_t r = r0; r < r1; r++) {
        const float *x = f32(j->x) + r * n, *g = f32(j->dy) + r * n;
        float *d = f32w(j->dx) + r * n;
        float acc[LANES] = {0}, sum = 0;
        int64_t i = 0;
        for (; i + LANES <= n; i += LANES)
            for (int l = 0; l < LANES; l++) acc[l] += x[i + l] * x[i + l];
        for (; i < n; i++) sum += x[i] * x[i];
        for (int l = 0; l < LANES; l++) sum += acc[l];
        const float rs = 1.0f / sqrtf(sum / (float)n + j->eps), gx = dot3(g, w, x, n);
        const float c = rs * rs * rs * gx / (float)n;
        j->rs[r] = rs;
        for (i = 0; i + LANES <= n; i += LANES) {
            float dv[LANES], gv[LANES], wv[LANES], xv[LANES];
            memcpy(dv, d + i, sizeof dv), memcpy(gv, g + i, sizeof gv), memcpy(wv, w + i, sizeof wv);
            memcpy(xv, x + i, sizeof xv);
            for (int l = 0; l < LANES; l++) dv[l] += rs * gv[l] * wv[l] - c * xv[l];
            memcpy(d + i, dv, sizeof dv);
        }
        for (; i < n; i++) d[i] += rs * g[i] * w[i] - c * x[i];
    }
}

/* dw_i += Σ_rows dy_i·x_i·r over columns [u0·COL_UNIT, u1·COL_UNIT), rows in order. */
static void rms_dw_cols(void *ctx, int64_t u0, int64_t u1) {
    rms_job *j = ctx;
    const int64_t c0 = u0 * COL_UNIT, c1 = min64(j->n, u1 * COL_UNIT);
    float acc[COL_UNIT];
    for (int64_t cb = c0; cb < c1; cb += COL_UNIT) {
        const int64_t nc = min64(COL_UNIT, c1 - cb);
        memset(acc, 0, sizeof acc);
        for (int64_t r = 0; r < j->rows; r++) {
            const float *x = f32(j->x) + r * j->n + cb, *g = f32(j->dy) + r * j->n + cb, rs = j->rs[r];
            if (nc == COL_UNIT)
                for (int i = 0; i < COL_UNIT; i++) acc[i] += g[i] * x[i] * rs;
            else
                for (int64_t i = 0; i < nc; i++) acc[i] += g[i] * x[i] * rs;
        }
        float *dw = f32w(j->dw) + cb;
        for (int64_t i = 0; i < nc; i++) dw[i] += acc[i];
    }
}

static int cpu_rmsnorm_backward(gk_backend *b, gk_tensor *dx, gk_tensor *dw, const gk_tensor *dy,
                                const gk_tensor *x, const gk_tensor *w, float eps) {
    if (gk_check_rmsnorm_backward(b, dx, dw, dy, x, w)) return -1;
    gk_cpu *c = gk_cpu_of(b);
    rms_job j = {.dx = dx, .dw = dw, .dy = dy, .x = x, .w = w, .eps = eps, .n = x->ne[0], .rows = gk_rows(x)};
    j.rs = gk_cpu_scratch(c, CPU_SCRATCH_ACT, (size_t)j.rows * sizeof(float) + 1);
    if (!j.rs) return gk_fail(b, "rmsnorm_backward: out of memory");
    gk_cpu_rows(c, j.rows, 16.0 * (double)j.n, rms_dx_rows, &j);
    gk_cpu_rows(c, (j.n + COL_UNIT - 1) / COL_UNIT, 8.0 * COL_UNIT * (double)j.rows, rms_dw_cols, &j);
    return 0;
}

/* ---- rope_backward ------------------------------------------------------------------------- */

typedef struct rope_job {
    gk_tensor *dx;
    const float *ff;     /* frequency factors or NULL */
    int n_head, head_dim, pos0;
    float base;
} rope_job;

/* Each pair turns by −θ, θ computed exactly as rope's (gk_rope_theta), once per (row, pair). */
static void rope_back_rows(void *ctx, int64_t r0, int64_t r1) {
    rope_job *j = ctx;
    for (int64_t t = r0; t < r1; t++) {
        float *row = f32w(j->dx) + t * j->dx->ne[0];
        for (int i = 0; i < j->head_dim / 2; i++) {
            float th = gk_rope_theta(j->pos0 + (int)t, i, j->head_dim, j->base, j->ff ? j->ff[i] : 1.0f);
            float c = cosf(th), s = sinf(th);
            for (int h = 0; h < j->n_head; h++) {
                float *v = row + (int64_t)h * j->head_dim + 2 * i, a = v[0], d = v[1];
                v[0] = a * c + d * s;
                v[1] = d * c - a * s;
            }
        }
    }
}

static int cpu_rope_backward(gk_backend *b, gk_tensor *dx, int n_head, int head_dim, int pos0, float base,
                             const gk_tensor *freq_factors) {
    if (gk_check_rope(b, dx, n_head, head_dim, pos0, base, freq_factors)) return -1;
    rope_job j = {.dx = dx, .ff = freq_factors ? f32(freq_factors) : NULL, .n_head = n_head,
                  .head_dim = head_dim, .pos0 = pos0, .base = base};
    gk_cpu_rows(gk_cpu_of(b), gk_rows(dx), 16.0 * (double)dx->ne[0], rope_back_rows, &j);
    return 0;
}

/* ---- elementwise: silu_mul_backward, adamw, fill --------------------------------------------- */

typedef struct elem_job {
    int64_t n;                        /* elements */
    const float *a, *b, *c;           /* inputs */
    float *y, *z, *u;                 /* outputs (u: a third, adamw's v) */
    const gk_adamw_params *p;
    float c1, c2, value;              /* adamw: 1 / the bias corrections; fill: the value */
} elem_job;

static void elem_bounds(const elem_job *j, int64_t u0, int64_t u1, int64_t *i0, int64_t *i1) {
    *i0 = u0 * ELEMS_UNIT;
    *i1 = min64(j->n, u1 * ELEMS_UNIT);
}

static void run_elems(gk_backend *b, elem_job *j, double bytes_per_elem, void (*fn)(void *, int64_t, int64_t)) {
    gk_cpu_rows(gk_cpu_of(b), (j->n + ELEMS_UNIT - 1) / ELEMS_UNIT, bytes_per_elem * ELEMS_UNIT, fn, j);
}

/* Elements i .. i+n (n <= LANES) of silu_mul_backward through local arrays: every input is read
 * before an output is written (dgate may be dy). */
ALWAYS_INLINE static inline void silu_back_block(const elem_job *j, int64_t i, int n) {
    float d[LANES] = {0}, g[LANES] = {0}, u[LANES] = {0}, dg[LANES], du[LANES];
    memcpy(d, j->a + i, (size_t)n * sizeof(float)), memcpy(g, j->b + i, (size_t)n * sizeof(float));
    memcpy(u, j->c + i, (size_t)n * sizeof(float));
    for (int l = 0; l < LANES; l++) {
        float sg = 1.0f / (1.0f + gk_exp_fast(-g[l]));
        du[l] = d[l] * g[l] * sg;
        dg[l] = d[l] * u[l] * sg * (1.0f + g[l] * (1.0f - sg));
    }
    memcpy(j->y + i, dg, (size_t)n * sizeof(float)), memcpy(j->z + i, du, (size_t)n * sizeof(float));
}

static void silu_back_range(void *ctx, int64_t u0, int64_t u1) {   /* a dy, b gate, c up; y dgate, z dup */
    elem_job *j = ctx;
    int64_t i0, i1;
    elem_bounds(j, u0, u1, &i0, &i1);
    int64_t i = i0;
    for (; i + LANES <= i1; i += LANES) silu_back_block(j, i, LANES);   /* a constant size: inline copies */
    if (i < i1) silu_back_block(j, i, (int)(i1 - i));
}

static int cpu_silu_mul_backward(gk_backend *b, gk_tensor *dgate, gk_tensor *dup, const gk_tensor *dy,
                                 const gk_tensor *gate, const gk_tensor *up) {
    if (gk_check_silu_mul_backward(b, dgate, dup, dy, gate, up)) return -1;
    elem_job j = {.n = gk_nelements(gate), .a = f32(dy), .b = f32(gate), .c = f32(up), .y = f32w(dgate),
                  .z = f32w(dup)};
    run_elems(b, &j, 20.0, silu_back_range);
    return 0;
}

/* √x for x >= 0 without a call: sqrtf may set errno, so under -fmath-errno (the default) GCC
 * keeps it a call and the AdamW loop scalar, compute-bound at ~9 ns a parameter. The bit-level
 * estimate of 1/√x (within 3.5% for normal x) refined by three Newton steps is float-accurate
 * to a few ulp, then times x (0 gives 0; a subnormal v gives a value as tiny, which eps
 * swamps). */
static inline float sqrt_nonneg(float x) {
    int32_t i;
    float y;
    memcpy(&i, &x, sizeof i);
    i = 0x5f3759df - (i >> 1);
    memcpy(&y, &i, sizeof y);
    for (int k = 0; k < 3; k++) y = y * (1.5f - 0.5f * x * y * y);
    return x * y;
}

/* w −= lr·(m̂ / (√v̂ + eps) + wd·w) with m, v updated first (backend.h), elements i .. i+n
 * (n <= LANES) through local arrays. */
ALWAYS_INLINE static inline void adamw_block(const elem_job *j, int64_t i, int n) {
    const gk_adamw_params *p = j->p;
    const float b1 = p->beta1, b2 = p->beta2, gs = p->grad_scale, lr = p->lr, eps = p->eps, wd = p->weight_decay;
    const float c1 = j->c1, c2 = j->c2;
    const size_t bytes = (size_t)n * sizeof(float);
    float g[LANES] = {0}, w[LANES] = {0}, m[LANES] = {0}, v[LANES] = {0};
    memcpy(g, j->a + i, bytes), memcpy(w, j->y + i, bytes), memcpy(m, j->z + i, bytes), memcpy(v, j->u + i, bytes);
    for (int l = 0; l < LANES; l++) {
        float gl = g[l] * gs;
        m[l] = b1 * m[l] + (1.0f - b1) * gl;
        v[l] = b2 * v[l] + (1.0f - b2) * gl * gl;
        w[l] -= lr * ((m[l] * c1) / (sqrt_nonneg(v[l] * c2) + eps) + wd * w[l]);
    }
    memcpy(j->y + i, w, bytes), memcpy(j->z + i, m, bytes), memcpy(j->u + i, v, bytes);
}

static void adamw_range(void *ctx, int64_t u0, int64_t u1) {   /* a g; y w, z m, u v */
    elem_job *j = ctx;
    int64_t i0, i1;
    elem_bounds(j, u0, u1, &i0, &i1);
    int64_t i = i0;
    for (; i + LANES <= i1; i += LANES) adamw_block(j, i, LANES);   /* a constant size: inline copies */
    if (i < i1) adamw_block(j, i, (int)(i1 - i));
}

static int cpu_adamw(gk_backend *b, gk_tensor *w, const gk_tensor *g, gk_tensor *m, gk_tensor *v,
                     const gk_adamw_params *p) {
    if (gk_check_adamw(b, w, g, m, v, p)) return -1;
    elem_job j = {.n = gk_nelements(w), .a = f32(g), .y = f32w(w), .z = f32w(m), .u = f32w(v), .p = p,
                  .c1 = (float)(1.0 / (1.0 - pow(p->beta1, p->step))),
                  .c2 = (float)(1.0 / (1.0 - pow(p->beta2, p->step)))};
    run_elems(b, &j, 28.0, adamw_range);
    return 0;
}

static void fill_range(void *ctx, int64_t u0, int64_t u1) {
    elem_job *j = ctx;
    int64_t i0, i1;
    elem_bounds(j, u0, u1, &i0, &i1);
    for (int64_t i = i0; i < i1; i++) j->y[i] = j->value;
}

static int cpu_fill(gk_backend *b, gk_tensor *t, float value) {
    if (gk_check_fill(b, t)) return -1;
    elem_job j = {.n = gk_nelements(t), .y = f32w(t), .value = value};
    run_elems(b, &j, 4.0, fill_range);
    return 0;
}

/* ---- sum_squares: fixed chunks, their sums added in chunk order -------------------------------- */

typedef struct sumsq_job {
    const float *x;
    int64_t n;
    double *part;        /* one per chunk */
} sumsq_job;

static void sumsq_chunks(void *ctx, int64_t c0, int64_t c1) {
    sumsq_job *j = ctx;
    for (int64_t ch = c0; ch < c1; ch++) {
        const int64_t i0 = ch * SUMSQ_CHUNK, i1 = min64(j->n, i0 + SUMSQ_CHUNK);
        double acc[LANES] = {0}, s = 0;
        int64_t i = i0;
        for (; i + LANES <= i1; i += LANES)
            for (int l = 0; l < LANES; l++) acc[l] += (double)j->x[i + l] * j->x[i + l];
        for (; i < i1; i++) s += (double)j->x[i] * j->x[i];
        for (int l = 0; l < LANES; l++) s += acc[l];
        j->part[ch] = s;
    }
}

static int cpu_sum_squares(gk_backend *b, gk_tensor *out, const gk_tensor *x) {
    if (gk_check_sum_squares(b, out, x)) return -1;
    gk_cpu *c = gk_cpu_of(b);
    sumsq_job j = {.x = f32(x), .n = gk_nelements(x)};
    const int64_t chunks = (j.n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
    j.part = gk_cpu_scratch(c, CPU_SCRATCH_ACT, (size_t)chunks * sizeof(double) + 1);
    if (!j.part) return gk_fail(b, "sum_squares: out of memory");
    gk_cpu_rows(c, chunks, 4.0 * SUMSQ_CHUNK, sumsq_chunks, &j);
    double s = 0;
    for (int64_t ch = 0; ch < chunks; ch++) s += j.part[ch];
    f32w(out)[0] = (float)(f32w(out)[0] + s);
    return 0;
}

/* ---- embedding_backward: a scatter-add split by columns ---------------------------------------- */

typedef struct embed_job {
    gk_tensor *dtable;
    const gk_tensor *dy;
    const int32_t *ids;
    int64_t dim, T;
} embed_job;

static void embed_back_cols(void *ctx, int64_t u0, int64_t u1) {
    embed_job *j = ctx;
    const int64_t c0 = u0 * COL_UNIT, c1 = min64(j->dim, u1 * COL_UNIT);
    for (int64_t t = 0; t < j->T; t++) {   /* rows in order: repeated ids add up the same way each run */
        float *row = f32w(j->dtable) + (int64_t)j->ids[t] * j->dim;
        const float *g = f32(j->dy) + t * j->dim;
        for (int64_t i = c0; i < c1; i++) row[i] += g[i];
    }
}

static int check_ids(gk_backend *b, const char *op, const gk_tensor *ids, int64_t n) {
    const int32_t *id = ids->data;
    for (int64_t t = 0; t < gk_nelements(ids); t++)
        if (id[t] < 0 || id[t] >= n)
            return gk_fail(b, "%s: id %d at %lld is outside [0, %lld)", op, id[t], (long long)t, (long long)n);
    return 0;
}

static int cpu_embedding_backward(gk_backend *b, gk_tensor *dtable, const gk_tensor *dy, const gk_tensor *ids) {
    if (gk_check_embedding_backward(b, dtable, dy, ids) ||
        check_ids(b, "embedding_backward", ids, gk_rows(dtable)))
        return -1;
    embed_job j = {.dtable = dtable, .dy = dy, .ids = ids->data, .dim = dtable->ne[0], .T = gk_rows(dy)};
    gk_cpu_rows(gk_cpu_of(b), (j.dim + COL_UNIT - 1) / COL_UNIT, 8.0 * COL_UNIT * (double)j.T, embed_back_cols, &j);
    return 0;
}

/* ---- cross_entropy: one exponential per logit -------------------------------------------------- */

typedef struct ce_job {
    gk_tensor *losses, *dlogits;
    const gk_tensor *logits;
    const int32_t *tgt;
    float scale;
    int64_t n;
} ce_job;

/* loss = m + log Σ e^(z−m) − z_t; with dlogits, e^(z−m) goes there first (it may be z itself: z_t
 * and m are read before), then is scaled by scale / Σ, and scale is taken off the target's. */
static void ce_rows(void *ctx, int64_t r0, int64_t r1) {
    ce_job *j = ctx;
    const int64_t n = j->n;
    for (int64_t r = r0; r < r1; r++) {
        const float *z = f32(j->logits) + r * n;
        const int t = j->tgt[r];
        const float zt = z[t], mx = max_of(z, n);
        float sum;
        if (!j->dlogits) {
            float acc[LANES] = {0};
            int64_t i = 0;
            sum = 0;
            for (; i + LANES <= n; i += LANES)
                for (int l = 0; l < LANES; l++) acc[l] += gk_exp_fast(z[i + l] - mx);
            for (; i < n; i++) sum += gk_exp_fast(z[i] - mx);
            for (int l = 0; l < LANES; l++) sum += acc[l];
        } else {
            float *d = f32w(j->dlogits) + r * n;
            sum = exp_sum(z, d, n, mx);
            const float k = j->scale / sum;
            int64_t i = 0;
            for (; i + LANES <= n; i += LANES)
                for (int l = 0; l < LANES; l++) d[i + l] *= k;
            for (; i < n; i++) d[i] *= k;
            d[t] -= j->scale;
        }
        f32w(j->losses)[r] = mx + logf(sum) - zt;
    }
}

static int cpu_cross_entropy(gk_backend *b, gk_tensor *losses, gk_tensor *dlogits, const gk_tensor *logits,
                             const gk_tensor *targets, float scale) {
    if (gk_check_cross_entropy(b, losses, dlogits, logits, targets) ||
        check_ids(b, "cross_entropy", targets, logits->ne[0]))
        return -1;
    ce_job j = {.losses = losses, .dlogits = dlogits, .logits = logits, .tgt = targets->data, .scale = scale,
                .n = logits->ne[0]};
    gk_cpu_rows(gk_cpu_of(b), gk_rows(logits), 12.0 * (double)j.n, ce_rows, &j);
    return 0;
}

/* ---- attention_backward ------------------------------------------------------------------------ */

/* A(i, p) = a[i·ars + p·acs] (i < m, p < kc), times s, into MR-row panels of depth kc:
 * pa[(i0/MR)·kc·MR + p·MR + ii], rows past m zero. */
static void pack_a(int mr, int64_t m, int64_t kc, const float *a, int64_t ars, int64_t acs, float s, float *pa) {
    for (int64_t i0 = 0; i0 < m; i0 += mr) {
        float *dst = pa + (i0 / mr) * kc * mr;
        const int live = (int)min64(mr, m - i0);
        for (int64_t p = 0; p < kc; p++) {
            int ii = 0;
            for (; ii < live; ii++) dst[p * mr + ii] = a[(i0 + ii) * ars + p * acs] * s;
            for (; ii < mr; ii++) dst[p * mr + ii] = 0;
        }
    }
}

/* B(p, j) = b[p·brs + j·bcs] (p < kc, j < n) into NR-column panels of depth `depth` >= kc:
 * pb[(j0/NR)·depth·NR + p·NR + jj], columns past n zero. A prefix of the depth is itself a
 * packed B of that depth, which is how one packing of K serves every query block. */
static void pack_b(int nr, int64_t kc, int64_t n, const float *b, int64_t brs, int64_t bcs, int64_t depth,
                   float *pb) {
    for (int64_t j0 = 0; j0 < n; j0 += nr) {
        float *dst = pb + (j0 / nr) * depth * nr;
        const int live = (int)min64(nr, n - j0);
        for (int64_t p = 0; p < kc; p++) {
            int jj = 0;
            for (; jj < live; jj++) dst[p * nr + jj] = b[p * brs + (j0 + jj) * bcs];
            for (; jj < nr; jj++) dst[p * nr + jj] = 0;
        }
    }
}

/* C (m × n, row stride ldc) += A·B over kc, A and B packed as above with depths ad and bd. Edge
 * tiles go through ct (MR × NR) so nothing outside C is touched. */
static void gemm_acc(const gk_ukernels *uk, int64_t m, int64_t n, int64_t kc, const float *pa, int64_t ad,
                     const float *pb, int64_t bd, float *c, int64_t ldc, float *ct) {
    const int mr = uk->sgemm_mr, nr = uk->sgemm_nr;
    if (kc == 0) return;
    for (int64_t i0 = 0; i0 < m; i0 += mr) {
        const float *a = pa + (i0 / mr) * ad * mr;
        const int64_t mi = min64(mr, m - i0);
        for (int64_t j0 = 0; j0 < n; j0 += nr) {
            const float *bp = pb + (j0 / nr) * bd * nr;
            float *cc = c + i0 * ldc + j0;
            const int64_t ni = min64(nr, n - j0);
            if (mi == mr && ni == nr) {
                uk->sgemm(kc, a, bp, cc, ldc);
                continue;
            }
            memset(ct, 0, (size_t)mr * nr * sizeof *ct);
            uk->sgemm(kc, a, bp, ct, nr);
            for (int64_t i = 0; i < mi; i++)
                for (int64_t jj = 0; jj < ni; jj++) cc[i * ldc + jj] += ct[i * nr + jj];
        }
    }
}

typedef struct ab_job {
    const gk_ukernels *uk;
    const float *q, *k, *v, *dout;
    float *dq, *dk, *dv;
    float *part;              /* group > 1: per query head dk then dv slices (T × hd each); else NULL */
    int64_t T, qd, kd, tn;    /* tn: T rounded up to NR */
    int n_head, group, hd, hdn, bq;   /* hdn: head_dim rounded up to NR; bq: query rows per block */
    float scale;
    _Atomic int64_t next;
    char *mem;
    size_t per_thread;        /* bytes */
} ab_job;

typedef struct ab_mem {
    float *kb, *vb;   /* K and V as B panels over head_dim (columns: keys), for S and dP */
    float *kb2;       /* K as B panels over the keys (columns: head_dim), for dQ */
    float *s, *dp;    /* bq × tn: scores then P; dP then dS */
    float *pa, *pb, *ct;
} ab_mem;

static void ab_sizes(const ab_job *j, int mr, size_t n[8]) {
    const int64_t bqm = round_up(j->bq, mr), tm = round_up(j->T, mr);
    const int64_t a1 = bqm * (j->T > j->hd ? j->T : j->hd), a2 = tm * j->bq;
    n[0] = n[1] = (size_t)(j->tn * j->hd);
    n[2] = (size_t)(j->hdn * j->T);
    n[3] = n[4] = (size_t)(j->bq * j->tn);
    n[5] = (size_t)(a1 > a2 ? a1 : a2);
    n[6] = (size_t)(j->hdn * j->bq);
    n[7] = (size_t)mr * (size_t)j->uk->sgemm_nr;
}

static ab_mem ab_carve(const ab_job *j, int ith) {
    size_t n[8];
    ab_sizes(j, j->uk->sgemm_mr, n);
    float *p = (float *)(j->mem + (size_t)ith * j->per_thread), **dst[8];
    ab_mem m;
    dst[0] = &m.kb, dst[1] = &m.vb, dst[2] = &m.kb2, dst[3] = &m.s, dst[4] = &m.dp;
    dst[5] = &m.pa, dst[6] = &m.pb, dst[7] = &m.ct;
    for (int i = 0; i < 8; i++) *dst[i] = p, p += (n[i] + 15) / 16 * 16;   /* each 64-byte aligned */
    return m;
}

/* Rows r < bq of S (row stride tn, query q0 + r sees keys 0 .. q0 + r): P = softmax, 0 past the diagonal. */
static void ab_softmax(const ab_job *j, float *s, int64_t q0, int64_t bq, int64_t nk) {
    for (int64_t r = 0; r < bq; r++) {
        float *row = s + r * j->tn;
        const int64_t seen = q0 + r + 1;
        const float mx = max_of(row, seen), inv = 1.0f / exp_sum(row, row, seen, mx);
        int64_t i = 0;
        for (; i + LANES <= seen; i += LANES)
            for (int l = 0; l < LANES; l++) row[i + l] *= inv;
        for (; i < seen; i++) row[i] *= inv;
        for (i = seen; i < nk; i++) row[i] = 0;
    }
}

/* dS = P∘(dP − Σ P∘dP)·scale, in place of dP (P is 0 past the diagonal, so dS is too). */
static void ab_dscores(const ab_job *j, const float *s, float *dp, int64_t bq, int64_t nk) {
    for (int64_t r = 0; r < bq; r++) {
        const float *p = s + r * j->tn;
        float *d = dp + r * j->tn;
        const float D = j->uk->dot_f32(p, d, nk), sc = j->scale;
        int64_t i = 0;
        for (; i + LANES <= nk; i += LANES) {
            float pv[LANES], dv[LANES];
            memcpy(pv, p + i, sizeof pv), memcpy(dv, d + i, sizeof dv);
            for (int l = 0; l < LANES; l++) dv[l] = pv[l] * (dv[l] - D) * sc;
            memcpy(d + i, dv, sizeof dv);
        }
        for (; i < nk; i++) d[i] = p[i] * (d[i] - D) * sc;
    }
}

/* Query rows q0 .. q0+bq of head h; dk, dv: the head's targets (row stride ld). */
static void ab_block(const ab_job *j, ab_mem *w, int h, int64_t q0, int64_t bq, float *dk, float *dv, int64_t ld) {
    const gk_ukernels *uk = j->uk;
    const int mr = uk->sgemm_mr, hd = j->hd;
    const int64_t nk = q0 + bq, nkn = round_up(nk, uk->sgemm_nr), ho = (int64_t)h * hd;
    const float *qb = j->q + q0 * j->qd + ho, *gb = j->dout + q0 * j->qd + ho;
    for (int64_t r = 0; r < bq; r++) {
        memset(w->s + r * j->tn, 0, (size_t)nkn * sizeof(float));
        memset(w->dp + r * j->tn, 0, (size_t)nkn * sizeof(float));
        memset(j->dq + (q0 + r) * j->qd + ho, 0, (size_t)hd * sizeof(float));
    }
    pack_a(mr, bq, hd, qb, j->qd, 1, j->scale, w->pa);                       /* S = scale·Q·Kᵀ */
    gemm_acc(uk, bq, nk, hd, w->pa, hd, w->kb, hd, w->s, j->tn, w->ct);
    ab_softmax(j, w->s, q0, bq, nk);
    pack_a(mr, bq, hd, gb, j->qd, 1, 1.0f, w->pa);                          /* dP = dO·Vᵀ */
    gemm_acc(uk, bq, nk, hd, w->pa, hd, w->vb, hd, w->dp, j->tn, w->ct);
    ab_dscores(j, w->s, w->dp, bq, nk);
    pack_a(mr, bq, nk, w->dp, j->tn, 1, 1.0f, w->pa);                       /* dQ = dS·K */
    gemm_acc(uk, bq, hd, nk, w->pa, nk, w->kb2, j->T, j->dq + q0 * j->qd + ho, j->qd, w->ct);
    pack_a(mr, nk, bq, w->dp, 1, j->tn, 1.0f, w->pa);                       /* dK += dSᵀ·Q */
    pack_b(uk->sgemm_nr, bq, hd, qb, j->qd, 1, bq, w->pb);
    gemm_acc(uk, nk, hd, bq, w->pa, bq, w->pb, bq, dk, ld, w->ct);
    pack_a(mr, nk, bq, w->s, 1, j->tn, 1.0f, w->pa);                        /* dV += Pᵀ·dO */
    pack_b(uk->sgemm_nr, bq, hd, gb, j->qd, 1, bq, w->pb);
    gemm_acc(uk, nk, hd, bq, w->pa, bq, w->pb, bq, dv, ld, w->ct);
}

static void ab_head(const ab_job *j, ab_mem *w, int h) {
    const int hd = j->hd, nr = j->uk->sgemm_nr;
    const int64_t ko = (int64_t)(h / j->group) * hd;
    pack_b(nr, hd, j->T, j->k + ko, 1, j->kd, hd, w->kb);
    pack_b(nr, hd, j->T, j->v + ko, 1, j->kd, hd, w->vb);
    pack_b(nr, j->T, hd, j->k + ko, j->kd, 1, j->T, w->kb2);
    float *dk, *dv;
    int64_t ld;
    if (j->part) {
        dk = j->part + (size_t)h * 2 * (size_t)(j->T * hd), dv = dk + j->T * hd, ld = hd;
        memset(dk, 0, (size_t)(2 * j->T * hd) * sizeof(float));
    } else {
        dk = j->dk + ko, dv = j->dv + ko, ld = j->kd;
        for (int64_t t = 0; t < j->T; t++) {
            memset(dk + t * ld, 0, (size_t)hd * sizeof(float));
            memset(dv + t * ld, 0, (size_t)hd * sizeof(float));
        }
    }
    for (int64_t q0 = 0; q0 < j->T; q0 += j->bq) ab_block(j, w, h, q0, min64(j->bq, j->T - q0), dk, dv, ld);
}

static void ab_worker(void *ctx, int ith, int nth) {
    (void)nth;
    ab_job *j = ctx;
    ab_mem w = ab_carve(j, ith);
    for (;;) {
        int64_t u = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (u >= j->n_head) return;
        ab_head(j, &w, (int)u);
    }
}

/* dk, dv rows: the group's slices summed in head order. */
static void ab_reduce_rows(void *ctx, int64_t r0, int64_t r1) {
    ab_job *j = ctx;
    const int64_t slice = j->T * j->hd;
    for (int64_t t = r0; t < r1; t++)
        for (int kvh = 0; kvh < j->n_head / j->group; kvh++)
            for (int which = 0; which < 2; which++) {
                float *dst = (which ? j->dv : j->dk) + t * j->kd + (int64_t)kvh * j->hd;
                memset(dst, 0, (size_t)j->hd * sizeof(float));
                for (int g = 0; g < j->group; g++) {
                    const float *src = j->part + (size_t)(kvh * j->group + g) * 2 * (size_t)slice +
                                       (size_t)(which * slice + t * j->hd);
                    for (int e = 0; e < j->hd; e++) dst[e] += src[e];
                }
            }
}

static int cpu_attention_backward(gk_backend *b, gk_tensor *dq, gk_tensor *dk, gk_tensor *dv,
                                  const gk_tensor *dout, const gk_tensor *q, const gk_tensor *k,
                                  const gk_tensor *v, const gk_attn_params *p) {
    if (gk_check_attention_backward(b, dq, dk, dv, dout, q, k, v, p)) return -1;
    gk_cpu *c = gk_cpu_of(b);
    const int mr = c->uk->sgemm_mr, nr = c->uk->sgemm_nr;
    ab_job j = {.uk = c->uk, .q = f32(q), .k = f32(k), .v = f32(v), .dout = f32(dout), .dq = f32w(dq),
                .dk = f32w(dk), .dv = f32w(dv), .T = gk_rows(q), .qd = q->ne[0], .kd = k->ne[0],
                .n_head = p->n_head, .group = p->n_head / p->n_kv_head, .hd = p->head_dim,
                .scale = p->scale};
    if (j.T == 0) return 0;
    j.tn = round_up(j.T, nr);
    j.hdn = (int)round_up(j.hd, nr);
    j.bq = ATTN_BQ / mr > 0 ? ATTN_BQ / mr * mr : mr;
    size_t n[8], total = 0;
    ab_sizes(&j, mr, n);
    for (int i = 0; i < 8; i++) total += (n[i] + 15) / 16 * 16;
    j.per_thread = total * sizeof(float);
    const int nth = gk_pool_size(c->pool);
    j.mem = gk_cpu_scratch(c, CPU_SCRATCH_THREADS, j.per_thread * (size_t)nth);
    if (j.group > 1)
        j.part = gk_cpu_scratch(c, CPU_SCRATCH_ACT, (size_t)j.n_head * 2 * (size_t)(j.T * j.hd) * sizeof(float));
    if (!j.mem || (j.group > 1 && !j.part)) return gk_fail(b, "attention_backward: out of memory");
    atomic_store(&j.next, 0);
    if (j.n_head == 1 || nth == 1) ab_worker(&j, 0, 1);
    else gk_pool_run(c->pool, ab_worker, &j);
    if (j.part) gk_cpu_rows(c, j.T, 12.0 * (double)j.kd * j.group, ab_reduce_rows, &j);
    return 0;
}

const gk_train_ops gk_cpu_train_ops = {
    .rmsnorm_backward = cpu_rmsnorm_backward,
    .rope_backward = cpu_rope_backward,
    .attention_backward = cpu_attention_backward,
    .silu_mul_backward = cpu_silu_mul_backward,
    .embedding_backward = cpu_embedding_backward,
    .cross_entropy = cpu_cross_entropy,
    .adamw = cpu_adamw,
    .sum_squares = cpu_sum_squares,
    .fill = cpu_fill,
};
