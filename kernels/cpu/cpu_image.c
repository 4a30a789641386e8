/* The "cpu" backend's image family: its table, and the ops that are passes over memory (the norms,
 * the elementwise activations, upsampling, concatenation, per-channel adds, the timestep
 * embedding, cont). Each splits its work into rows handed to the pool by gk_cpu_rows; inner loops
 * are plain loops over contiguous floats that the compiler vectorises. conv2d is in cpu_conv.c,
 * full_attention in cpu_image_attention.c. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_image.h"
#include "kernels/op_checks.h"

typedef struct img_job {
    const gk_tensor *x, *a, *c, *gamma, *beta;
    gk_tensor *y;
    float eps;
    int n_groups;             /* group_norm; cont: the densest source dimension */
    int64_t n;                /* values per row (elementwise: the whole tensor) */
    float (*fn)(float);
    double max_period;
} img_job;

static const float *cf(const gk_tensor *t) { return (const float *)t->data; }
static float *wf(gk_tensor *t) { return (float *)t->data; }

/* ---- norms ---------------------------------------------------------------------------------- */

/* Σ x and Σ (x − mean)² of n values: 8 float lanes over runs of 512 values (vectorised, and short
 * enough that float rounding stays near 1e-7 relative), runs added in double. */
static double sum_f32(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i0 = 0; i0 < n; i0 += 512) {
        int64_t i1 = i0 + 512 < n ? i0 + 512 : n, i = i0;
        float acc[8] = {0};
        for (; i + 8 <= i1; i += 8)
            for (int l = 0; l < 8; l++) acc[l] += x[i + l];
        for (; i < i1; i++) acc[0] += x[i];
        for (int l = 0; l < 8; l++) s += acc[l];
    }
    return s;
}

static double sum_sq_dev(const float *x, int64_t n, float mean) {
    double s = 0;
    for (int64_t i0 = 0; i0 < n; i0 += 512) {
        int64_t i1 = i0 + 512 < n ? i0 + 512 : n, i = i0;
        float acc[8] = {0};
        for (; i + 8 <= i1; i += 8)
            for (int l = 0; l < 8; l++) acc[l] += (x[i + l] - mean) * (x[i + l] - mean);
        for (; i < i1; i++) acc[0] += (x[i] - mean) * (x[i] - mean);
        for (int l = 0; l < 8; l++) s += acc[l];
    }
    return s;
}

/* The statistics of cnt values at x, then y = (x − mean)·inv·gamma[c] + beta[c] over n_ch runs of
 * run values (a group's channels; a layer-norm row's single values). */
static void normalise(const float *x, float *y, int64_t n_ch, int64_t run, const float *gamma, const float *beta,
                      float eps) {
    const int64_t cnt = n_ch * run;
    float mean = (float)(sum_f32(x, cnt) / (double)cnt);
    float inv = (float)(1.0 / sqrt(sum_sq_dev(x, cnt, mean) / (double)cnt + eps));
    if (run == 1) {
        for (int64_t i = 0; i < cnt; i++) y[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
        return;
    }
    for (int64_t c = 0; c < n_ch; c++) {
        const float g = inv * gamma[c], s = beta[c] - mean * g;
        for (int64_t i = c * run; i < (c + 1) * run; i++) y[i] = x[i] * g + s;
    }
}

static void group_norm_rows(void *ctx, int64_t g0, int64_t g1) {   /* rows: (image, group) */
    img_job *j = ctx;
    const int64_t plane = j->x->ne[0] * j->x->ne[1], cg = j->x->ne[2] / j->n_groups;
    for (int64_t g = g0; g < g1; g++) {
        int64_t c0 = g % j->n_groups * cg;
        normalise(cf(j->x) + g * cg * plane, wf(j->y) + g * cg * plane, cg, plane, cf(j->gamma) + c0,
                  cf(j->beta) + c0, j->eps);
    }
}

static int cpu_group_norm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                          const gk_tensor *beta, int n_groups, float eps) {
    if (gk_check_group_norm(b, y, x, gamma, beta, n_groups)) return -1;
    img_job j = {.x = x, .y = y, .gamma = gamma, .beta = beta, .eps = eps, .n_groups = n_groups};
    int64_t groups = x->ne[3] * n_groups, per = gk_nelements(x) / groups;
    gk_cpu_rows(gk_cpu_of(b), groups, 12.0 * (double)per, group_norm_rows, &j);
    return 0;
}

static void layer_norm_rows(void *ctx, int64_t r0, int64_t r1) {
    img_job *j = ctx;
    const int64_t dim = j->x->ne[0];
    for (int64_t r = r0; r < r1; r++)
        normalise(cf(j->x) + r * dim, wf(j->y) + r * dim, dim, 1, cf(j->gamma), cf(j->beta), j->eps);
}

static int cpu_layer_norm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                          const gk_tensor *beta, float eps) {
    if (gk_check_layer_norm(b, y, x, gamma, beta)) return -1;
    img_job j = {.x = x, .y = y, .gamma = gamma, .beta = beta, .eps = eps};
    gk_cpu_rows(gk_cpu_of(b), gk_rows(x), 12.0 * (double)x->ne[0], layer_norm_rows, &j);
    return 0;
}

/* ---- elementwise ---------------------------------------------------------------------------- */

/* Runs of ELEMS values a row, as the core family's elementwise ops. */
enum { ELEMS = 4096 };

static float sigmoid_x(float x, float k) { return x / (1.0f + gk_exp_fast(-k * x)); }
/* tanh(u) = 1 − 2/(e^{2u} + 1): exact at both saturations, absolute error ~1e-7 near 0 where
 * gelu's 0.5·x factor makes it relative to the result. */
static float gelu_f(float x) {
    float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (2.0f - 2.0f / (gk_exp_fast(2.0f * u) + 1.0f));
}
static float gelu_quick_f(float x) { return sigmoid_x(x, 1.702f); }
static float silu_f(float x) { return sigmoid_x(x, 1.0f); }

/* The same loop for each function, so each one inlines into its own vectorised body. */
#define UNARY_ROWS(name, f)                                                                        \
    static void name##_rows(void *ctx, int64_t r0, int64_t r1) {                                   \
        img_job *j = ctx;                                                                          \
        int64_t i0 = r0 * ELEMS, i1 = r1 * ELEMS < j->n ? r1 * ELEMS : j->n;                       \
        const float *x = cf(j->x);                                                                 \
        float *y = wf(j->y);                                                                       \
        for (int64_t i = i0; i < i1; i++) y[i] = f(x[i]);                                          \
    }
UNARY_ROWS(gelu, gelu_f)
UNARY_ROWS(gelu_quick, gelu_quick_f)
UNARY_ROWS(silu, silu_f)
#undef UNARY_ROWS

static int unary(gk_backend *b, const char *op, gk_tensor *y, const gk_tensor *x,
                 void (*rows)(void *, int64_t, int64_t)) {
    if (gk_check_unary(b, op, y, x)) return -1;
    img_job j = {.x = x, .y = y, .n = gk_nelements(x)};
    gk_cpu_rows(gk_cpu_of(b), (j.n + ELEMS - 1) / ELEMS, 8.0 * ELEMS, rows, &j);
    return 0;
}

static int cpu_gelu(gk_backend *b, gk_tensor *y, const gk_tensor *x) { return unary(b, "gelu", y, x, gelu_rows); }
static int cpu_gelu_quick(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    return unary(b, "gelu_quick", y, x, gelu_quick_rows);
}
static int cpu_silu(gk_backend *b, gk_tensor *y, const gk_tensor *x) { return unary(b, "silu", y, x, silu_rows); }

static void geglu_rows(void *ctx, int64_t r0, int64_t r1) {
    img_job *j = ctx;
    const int64_t n = j->n;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = cf(j->x) + r * 2 * n;
        float *y = wf(j->y) + r * n;
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * gelu_f(x[n + i]);
    }
}

static int cpu_geglu(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    if (gk_check_geglu(b, y, x)) return -1;
    img_job j = {.x = x, .y = y, .n = y->ne[0]};
    gk_cpu_rows(gk_cpu_of(b), gk_rows(x), 12.0 * (double)j.n, geglu_rows, &j);
    return 0;
}

/* ---- layout ops ----------------------------------------------------------------------------- */

static void upsample_rows(void *ctx, int64_t r0, int64_t r1) {   /* rows: input rows (plane·H + iy) */
    img_job *j = ctx;
    const int64_t W = j->x->ne[0];
    for (int64_t r = r0; r < r1; r++) {
        const float *src = cf(j->x) + r * W;
        float *dst = wf(j->y) + r * 4 * W;   /* output rows 2r and 2r + 1 of 2W values */
        for (int64_t i = 0; i < W; i++) dst[2 * i] = dst[2 * i + 1] = src[i];
        memcpy(dst + 2 * W, dst, (size_t)(2 * W) * sizeof *dst);
    }
}

static int cpu_upsample2x(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    if (gk_check_upsample2x(b, y, x)) return -1;
    img_job j = {.x = x, .y = y};
    gk_cpu_rows(gk_cpu_of(b), gk_rows(x), 20.0 * (double)x->ne[0], upsample_rows, &j);
    return 0;
}

static void concat_rows(void *ctx, int64_t r0, int64_t r1) {   /* rows: output channel planes */
    img_job *j = ctx;
    const int64_t plane = j->a->ne[0] * j->a->ne[1], ca = j->a->ne[2], cc = j->c->ne[2];
    for (int64_t r = r0; r < r1; r++) {
        int64_t n = r / (ca + cc), ch = r % (ca + cc);
        const float *src = ch < ca ? cf(j->a) + (n * ca + ch) * plane : cf(j->c) + (n * cc + ch - ca) * plane;
        memcpy(wf(j->y) + r * plane, src, (size_t)plane * sizeof(float));
    }
}

static int cpu_concat(gk_backend *b, gk_tensor *y, const gk_tensor *a, const gk_tensor *c) {
    if (gk_check_concat(b, y, a, c)) return -1;
    img_job j = {.a = a, .c = c, .y = y};
    gk_cpu_rows(gk_cpu_of(b), y->ne[2] * y->ne[3], 8.0 * (double)(a->ne[0] * a->ne[1]), concat_rows, &j);
    return 0;
}

/* Rows are channel planes when planes are large; else images (a linear layer's bias: planes of
 * one value, where a row per value would cost a division each). */
enum { PLANE_ROWS_MIN = 64 };

static void add_channel_rows(void *ctx, int64_t r0, int64_t r1) {
    img_job *j = ctx;
    const int64_t plane = j->x->ne[0] * j->x->ne[1], C = j->x->ne[2];
    const bool per_image = gk_rows(j->a) == j->x->ne[3], by_plane = plane >= PLANE_ROWS_MIN;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t c0 = by_plane ? r % C : 0, c1 = by_plane ? c0 + 1 : C, n = by_plane ? r / C : r;
        const float *v = cf(j->a) + (per_image ? n * C : 0);
        for (int64_t c = c0; c < c1; c++) {
            const float add = v[c];
            const float *x = cf(j->x) + (n * C + c) * plane;
            float *y = wf(j->y) + (n * C + c) * plane;
            for (int64_t i = 0; i < plane; i++) y[i] = x[i] + add;
        }
    }
}

static int cpu_add_channel(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *v) {
    if (gk_check_add_channel(b, y, x, v)) return -1;
    img_job j = {.x = x, .a = v, .y = y};
    const int64_t plane = x->ne[0] * x->ne[1];
    if (plane >= PLANE_ROWS_MIN) gk_cpu_rows(gk_cpu_of(b), x->ne[2] * x->ne[3], 8.0 * (double)plane, add_channel_rows, &j);
    else gk_cpu_rows(gk_cpu_of(b), x->ne[3], 8.0 * (double)(plane * x->ne[2]), add_channel_rows, &j);
    return 0;
}

/* A few hundred values: one thread, in double like ref (timesteps near 1000 make the argument
 * large, where float's rounding of t·f would show in the fourth decimal). */
static int cpu_timestep_embed(gk_backend *b, gk_tensor *y, const gk_tensor *t, int dim, float max_period) {
    if (gk_check_timestep_embed(b, y, t, dim, max_period)) return -1;
    const int half = dim / 2;
    const double lp = log((double)max_period);
    for (int64_t n = 0; n < gk_nelements(t); n++)
        for (int i = 0; i < half; i++) {
            double arg = cf(t)[n] * exp(-lp * i / half);
            wf(y)[n * dim + i] = (float)cos(arg);
            wf(y)[n * dim + half + i] = (float)sin(arg);
        }
    return 0;
}

/* Rows (i1, i2, i3) of the source, each copied (gathered when nb[0] is not one float). */
static void cont_rows(void *ctx, int64_t r0, int64_t r1) {
    img_job *j = ctx;
    const gk_tensor *x = j->x;
    const int64_t n0 = x->ne[0];
    for (int64_t r = r0; r < r1; r++) {
        const char *src = (const char *)x->data + gk_row_offset(x, r);
        float *dst = wf(j->y) + r * n0;
        if (x->nb[0] == sizeof(float)) {
            memcpy(dst, src, (size_t)n0 * sizeof *dst);
            continue;
        }
        for (int64_t i = 0; i < n0; i++) memcpy(dst + i, src + (size_t)i * x->nb[0], sizeof *dst);
    }
}

/* A permuted view (the UNet's pixels <-> tokens): dimension 0 strided and another one, f, the
 * source's densest. Copying row by row would read each source cache line once per element of
 * it; instead 32 × 32 tiles of (dimension 0, dimension f) are moved whole, both sides staying in
 * cache. Rows: (the two other dimensions, a 32-block of f). */
enum { CONT_TILE = 32 };

static void cont_tiles(void *ctx, int64_t r0, int64_t r1) {
    img_job *j = ctx;
    const gk_tensor *x = j->x;
    const int f = j->n_groups, o1 = f == 1 ? 2 : 1, o2 = f == 3 ? 2 : 3;   /* {1,2,3} = {f, o1, o2} */
    const int64_t ds[4] = {1, x->ne[0], x->ne[0] * x->ne[1], x->ne[0] * x->ne[1] * x->ne[2]};
    const int64_t jblocks = (x->ne[f] + CONT_TILE - 1) / CONT_TILE;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t jb = r % jblocks, outer = r / jblocks, a = outer % x->ne[o1], c = outer / x->ne[o1];
        /* strides in floats: views of F32 tensors are whole elements (gk_view) */
        const int64_t s0 = (int64_t)(x->nb[0] / sizeof(float)), sf = (int64_t)(x->nb[f] / sizeof(float)), df = ds[f];
        const float *restrict src = cf(x) + (a * x->nb[o1] + c * x->nb[o2]) / sizeof(float);
        float *restrict dst = wf(j->y) + a * ds[o1] + c * ds[o2];
        const int64_t j0 = jb * CONT_TILE, j1 = j0 + CONT_TILE < x->ne[f] ? j0 + CONT_TILE : x->ne[f];
        for (int64_t i0 = 0; i0 < x->ne[0]; i0 += CONT_TILE) {
            const int64_t i1 = i0 + CONT_TILE < x->ne[0] ? i0 + CONT_TILE : x->ne[0];
            for (int64_t q = j0; q < j1; q++)   /* writes contiguous, reads one source column */
                for (int64_t i = i0; i < i1; i++) dst[i + q * df] = src[i * s0 + q * sf];
        }
    }
}

static int cpu_cont(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    if (gk_check_cont(b, y, x)) return -1;
    img_job j = {.x = x, .y = y};
    int f = 0;   /* the densest dimension after 0 that has more than one element */
    for (int d = 1; d < 4; d++)
        if (x->ne[d] > 1 && (f == 0 || x->nb[d] < x->nb[f])) f = d;
    if (f && x->ne[0] > 1 && x->nb[0] != sizeof(float) && x->nb[f] < x->nb[0]) {
        j.n_groups = f;
        const int64_t rows = gk_nelements(x) / x->ne[0] / x->ne[f] * ((x->ne[f] + CONT_TILE - 1) / CONT_TILE);
        gk_cpu_rows(gk_cpu_of(b), rows, 16.0 * (double)(x->ne[0] * CONT_TILE), cont_tiles, &j);
        return 0;
    }
    gk_cpu_rows(gk_cpu_of(b), gk_rows(x), 16.0 * (double)x->ne[0], cont_rows, &j);
    return 0;
}

const gk_image_ops gk_cpu_image_ops = {
    .conv2d = gk_cpu_conv2d,
    .group_norm = cpu_group_norm,
    .layer_norm = cpu_layer_norm,
    .gelu = cpu_gelu,
    .gelu_quick = cpu_gelu_quick,
    .geglu = cpu_geglu,
    .silu = cpu_silu,
    .upsample2x = cpu_upsample2x,
    .concat = cpu_concat,
    .add_channel = cpu_add_channel,
    .timestep_embed = cpu_timestep_embed,
    .full_attention = gk_cpu_full_attention,
    .cont = cpu_cont,
};
