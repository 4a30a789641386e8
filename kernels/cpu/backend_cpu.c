/* The "cpu" backend: host memory, a persistent thread pool, micro-kernels chosen at open time
 * from CPU features (or forced by opts->isa, a run axis the caller chooses). It has the core,
 * image and train families: matmul in every form lives in cpu_matmul_forms.c (the kernels in
 * cpu_matmul.c), attention in cpu_attention.c, the core family's row-wise ops here; the image
 * family in cpu_image.c (conv2d in cpu_conv.c, full_attention in cpu_image_attention.c); the
 * train family in cpu_train.c; prepared weights (storage in the kernels' own layout, upload and
 * download through it) in cpu_weights.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/platform.h"
#include "kernels/cpu/host_memory.h"
#include "kernels/cpu/cpu_image.h"
#include "kernels/cpu/cpu_train.h"
#include "kernels/op_checks.h"

/* Below this many bytes touched, waking the workers costs more than the op. */
#define PARALLEL_MIN_BYTES (256.0 * 1024)

void *gk_cpu_scratch(gk_cpu *c, int slot, size_t bytes) {
    if (bytes <= c->scratch_bytes[slot]) return c->scratch[slot];
    size_t n = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, n);
    if (!p) return NULL;
    free(c->scratch[slot]);
    c->scratch[slot] = p;
    c->scratch_bytes[slot] = n;
    return p;
}

typedef struct rows_job {
    int64_t n;
    void (*fn)(void *ctx, int64_t r0, int64_t r1);
    void *ctx;
} rows_job;

static void rows_worker(void *ctx, int ith, int nth) {
    rows_job *j = ctx;
    int64_t r0 = j->n * ith / nth, r1 = j->n * (ith + 1) / nth;
    if (r1 > r0) j->fn(j->ctx, r0, r1);
}

void gk_cpu_rows(gk_cpu *c, int64_t n, double row_cost, void (*fn)(void *ctx, int64_t r0, int64_t r1),
                 void *ctx) {
    if (n <= 0) return;
    if (n == 1 || gk_pool_size(c->pool) == 1 || (double)n * row_cost < PARALLEL_MIN_BYTES) {
        fn(ctx, 0, n);
        return;
    }
    rows_job j = {n, fn, ctx};
    gk_pool_run(c->pool, rows_worker, &j);
}

/* ---- row-wise ops --------------------------------------------------------------------------- */

typedef struct row_op {
    gk_cpu *c;
    const gk_tensor *a, *b, *w;   /* w: norm weights; rope's frequency factors (or NULL) */
    gk_tensor *y;
    float f;                  /* eps, scale, rope base */
    int n_head, head_dim, pos0;
    _Atomic bool failed;      /* embedding: a worker ran out of memory */
} row_op;

static const float *rowp(const gk_tensor *t, int64_t r) { return (const float *)t->data + r * t->ne[0]; }
static float *roww(gk_tensor *t, int64_t r) { return (float *)t->data + r * t->ne[0]; }

static void rmsnorm_rows(void *ctx, int64_t r0, int64_t r1) {
    row_op *o = ctx;
    int64_t n = o->a->ne[0];
    for (int64_t r = r0; r < r1; r++) {
        const float *x = rowp(o->a, r), *w = o->w->data;
        float *y = roww(o->y, r);
        float s = 1.0f / sqrtf(o->c->uk->dot_f32(x, x, n) / (float)n + o->f);
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * s * w[i];
    }
}

static int cpu_rmsnorm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *w, float eps) {
    if (gk_check_rmsnorm(b, y, x, w)) return -1;
    row_op o = {.c = gk_cpu_of(b), .a = x, .w = w, .y = y, .f = eps};
    gk_cpu_rows(o.c, gk_rows(x), 8.0 * x->ne[0], rmsnorm_rows, &o);
    return 0;
}

/* One token's n_head heads at position pos, turned in place (ff: NULL or head_dim/2 factors). */
static void rope_row(float *row, int n_head, int head_dim, int pos, float base, const float *ff) {
    for (int i = 0; i < head_dim / 2; i++) {
        float th = gk_rope_theta(pos, i, head_dim, base, ff ? ff[i] : 1.0f), c = cosf(th), s = sinf(th);
        for (int h = 0; h < n_head; h++) {
            float *v = row + (int64_t)h * head_dim + 2 * i, a = v[0], d = v[1];
            v[0] = a * c - d * s;
            v[1] = a * s + d * c;
        }
    }
}

static void rope_rows(void *ctx, int64_t r0, int64_t r1) {
    row_op *o = ctx;
    const float *ff = o->w ? (const float *)o->w->data : NULL;
    for (int64_t t = r0; t < r1; t++)
        rope_row(roww(o->y, t), o->n_head, o->head_dim, o->pos0 + (int)t, o->f, ff);
}

static int cpu_rope(gk_backend *b, gk_tensor *x, int n_head, int head_dim, int pos0, float base,
                    const gk_tensor *freq_factors) {
    if (gk_check_rope(b, x, n_head, head_dim, pos0, base, freq_factors)) return -1;
    row_op o = {.c = gk_cpu_of(b), .y = x, .w = freq_factors, .f = base, .n_head = n_head, .head_dim = head_dim,
                .pos0 = pos0};
    gk_cpu_rows(o.c, gk_rows(x), 16.0 * x->ne[0], rope_rows, &o);
    return 0;
}

static void softmax_rows(void *ctx, int64_t r0, int64_t r1) {
    row_op *o = ctx;
    int64_t n = o->a->ne[0];
    for (int64_t r = r0; r < r1; r++) {
        const float *x = rowp(o->a, r);
        float *y = roww(o->y, r);
        const float mx = o->c->uk->scale_max(x, y, n, 1.0f), sum = o->c->uk->exp_sum(y, n, mx);
        for (int64_t i = 0; i < n; i++) y[i] /= sum;
    }
}

static int cpu_softmax(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    if (gk_check_same_f32(b, "softmax", y, x, NULL)) return -1;
    row_op o = {.c = gk_cpu_of(b), .a = x, .y = y};
    gk_cpu_rows(o.c, gk_rows(x), 8.0 * x->ne[0], softmax_rows, &o);
    return 0;
}

/* Elementwise ops run over the flat arrays in ranges of ELEMS_PER_ROW elements. */
enum { ELEMS_PER_ROW = 4096 };

static void elem_range(const row_op *o, int64_t r0, int64_t r1, int64_t *i0, int64_t *i1) {
    int64_t n = gk_nelements(o->a);
    *i0 = r0 * ELEMS_PER_ROW;
    *i1 = r1 * ELEMS_PER_ROW < n ? r1 * ELEMS_PER_ROW : n;
}

static void silu_mul_rows(void *ctx, int64_t r0, int64_t r1) {
    row_op *o = ctx;
    int64_t i0, i1;
    elem_range(o, r0, r1, &i0, &i1);
    const float *g = o->a->data, *u = o->b->data;
    float *y = o->y->data;
    o->c->uk->silu_mul(g + i0, u + i0, y + i0, i1 - i0);
}

static void add_rows(void *ctx, int64_t r0, int64_t r1) {
    row_op *o = ctx;
    int64_t i0, i1;
    elem_range(o, r0, r1, &i0, &i1);
    const float *a = o->a->data, *c = o->b->data;
    float *y = o->y->data;
    for (int64_t i = i0; i < i1; i++) y[i] = a[i] + c[i];
}

static void scale_rows(void *ctx, int64_t r0, int64_t r1) {
    row_op *o = ctx;
    int64_t i0, i1;
    elem_range(o, r0, r1, &i0, &i1);
    const float *x = o->a->data;
    float *y = o->y->data;
    for (int64_t i = i0; i < i1; i++) y[i] = o->f * x[i];
}

static int run_elementwise(gk_backend *b, row_op *o, void (*fn)(void *, int64_t, int64_t)) {
    int64_t n = gk_nelements(o->a);
    gk_cpu_rows(o->c, (n + ELEMS_PER_ROW - 1) / ELEMS_PER_ROW, 12.0 * ELEMS_PER_ROW, fn, o);
    (void)b;
    return 0;
}

static int cpu_silu_mul(gk_backend *b, gk_tensor *y, const gk_tensor *g, const gk_tensor *u) {
    if (gk_check_same_f32(b, "silu_mul", y, g, u)) return -1;
    row_op o = {.c = gk_cpu_of(b), .a = g, .b = u, .y = y};
    return run_elementwise(b, &o, silu_mul_rows);
}

static int cpu_add(gk_backend *b, gk_tensor *y, const gk_tensor *a, const gk_tensor *c) {
    if (gk_check_same_f32(b, "add", y, a, c)) return -1;
    row_op o = {.c = gk_cpu_of(b), .a = a, .b = c, .y = y};
    return run_elementwise(b, &o, add_rows);
}

static int cpu_scale(gk_backend *b, gk_tensor *y, const gk_tensor *x, float s) {
    if (gk_check_same_f32(b, "scale", y, x, NULL)) return -1;
    row_op o = {.c = gk_cpu_of(b), .a = x, .y = y, .f = s};
    return run_elementwise(b, &o, scale_rows);
}

/* ---- embedding and the KV cache ------------------------------------------------------------- */

static void embed_rows(void *ctx, int64_t r0, int64_t r1) {
    row_op *o = ctx;
    const gk_type_info *ti = gk_type_get(o->w->type);
    const int32_t *id = o->a->data;
    if (!o->w->layout) {
        for (int64_t t = r0; t < r1; t++)
            ti->to_f32((const char *)o->w->data + (size_t)id[t] * gk_row_bytes(o->w), roww(o->y, t), o->w->ne[0]);
        return;
    }
    /* a prepared table: each row gathered into the row layout first */
    void *row = malloc(gk_row_bytes(o->w));
    if (!row) {
        o->failed = true;
        return;
    }
    for (int64_t t = r0; t < r1; t++) {
        gk_cpu_weight_row(o->w, id[t], row);
        ti->to_f32(row, roww(o->y, t), o->w->ne[0]);
    }
    free(row);
}

static int cpu_embedding(gk_backend *b, gk_tensor *y, const gk_tensor *table, const gk_tensor *ids) {
    if (gk_check_embedding(b, y, table, ids) || gk_cpu_check_layout(b, table->type, table->layout, "embedding")) return -1;
    const int32_t *id = ids->data;
    for (int64_t t = 0; t < gk_nelements(ids); t++)
        if (id[t] < 0 || id[t] >= gk_rows(table))
            return gk_fail(b, "embedding: id %d at %lld outside vocabulary of %lld", (int)id[t],
                           (long long)t, (long long)gk_rows(table));
    row_op o = {.c = gk_cpu_of(b), .a = ids, .w = table, .y = y};
    gk_cpu_rows(o.c, gk_nelements(ids), 8.0 * table->ne[0], embed_rows, &o);
    return o.failed ? gk_fail(b, "embedding: out of memory for a row of %s", gk_type_name(table->type)) : 0;
}

/* src (cache->ne[0] floats) into cache row pos, converted. */
static void kv_row(const gk_cpu *c, gk_tensor *cache, int64_t pos, const float *src) {
    char *dst = (char *)cache->data + (size_t)pos * gk_row_bytes(cache);
    if (cache->type == GK_F16) c->uk->f32_to_f16(src, (uint16_t *)dst, cache->ne[0]);
    else gk_type_get(cache->type)->from_f32(src, dst, cache->ne[0]);
}

static void kv_rows(void *ctx, int64_t r0, int64_t r1) {
    row_op *o = ctx;
    for (int64_t t = r0; t < r1; t++) kv_row(o->c, o->y, o->pos0 + t, rowp(o->a, t));
}

static int cpu_kv_store(gk_backend *b, gk_tensor *cache, const gk_tensor *src, int pos0) {
    if (gk_check_kv_store(b, cache, src, pos0)) return -1;
    row_op o = {.c = gk_cpu_of(b), .a = src, .y = cache, .pos0 = pos0};
    gk_cpu_rows(o.c, gk_rows(src), 8.0 * src->ne[0], kv_rows, &o);
    return 0;
}

/* ---- the fused ops: each row in one pass, the unfused ops' arithmetic in their order ------------ */

static void add_rmsnorm_rows(void *ctx, int64_t r0, int64_t r1) {
    row_op *o = ctx;
    int64_t n = o->a->ne[0];
    for (int64_t r = r0; r < r1; r++) {
        float *x = (float *)o->a->data + r * n, *y = roww(o->y, r);   /* a: x, updated in place */
        const float *res = rowp(o->b, r), *w = o->w->data;
        for (int64_t i = 0; i < n; i++) x[i] = x[i] + res[i];
        float s = 1.0f / sqrtf(o->c->uk->dot_f32(x, x, n) / (float)n + o->f);
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * s * w[i];
    }
}

static int cpu_add_rmsnorm(gk_backend *b, gk_tensor *y, gk_tensor *x, const gk_tensor *r, const gk_tensor *w,
                           float eps) {
    if (gk_check_add_rmsnorm(b, y, x, r, w)) return -1;
    row_op o = {.c = gk_cpu_of(b), .a = x, .b = r, .w = w, .y = y, .f = eps};
    gk_cpu_rows(o.c, gk_rows(x), 16.0 * x->ne[0], add_rmsnorm_rows, &o);
    return 0;
}

typedef struct rope_kv_job {
    const gk_cpu *c;
    gk_tensor *q, *kcache, *vcache;
    const gk_tensor *k, *v;
    const gk_rope_kv_params *p;
    float *kbuf;   /* T rows of k, turned here (k stays as it is) */
} rope_kv_job;

static void rope_kv_rows(void *ctx, int64_t r0, int64_t r1) {
    rope_kv_job *j = ctx;
    const gk_rope_kv_params *p = j->p;
    const float *ff = p->freq_factors ? (const float *)p->freq_factors->data : NULL;
    const int64_t kw = j->k->ne[0];
    for (int64_t t = r0; t < r1; t++) {
        const int pos = p->pos0 + (int)t;
        float *kr = j->kbuf + t * kw;
        rope_row(roww(j->q, t), p->n_head, p->head_dim, pos, p->base, ff);
        memcpy(kr, rowp(j->k, t), (size_t)kw * sizeof *kr);
        rope_row(kr, p->n_kv_head, p->head_dim, pos, p->base, ff);
        kv_row(j->c, j->kcache, pos, kr);
        kv_row(j->c, j->vcache, pos, rowp(j->v, t));
    }
}

static int cpu_rope_kv_store(gk_backend *b, gk_tensor *q, gk_tensor *kcache, gk_tensor *vcache,
                             const gk_tensor *k, const gk_tensor *v, const gk_rope_kv_params *p) {
    if (gk_check_rope_kv_store(b, q, kcache, vcache, k, v, p)) return -1;
    gk_cpu *c = gk_cpu_of(b);
    rope_kv_job j = {c, q, kcache, vcache, k, v, p, gk_cpu_scratch(c, CPU_SCRATCH_ACT, k->nbytes)};
    if (!j.kbuf) return gk_fail(b, "rope_kv_store: out of memory for %zu bytes of keys", k->nbytes);
    gk_cpu_rows(c, gk_rows(q), 16.0 * (double)(q->ne[0] + 2 * k->ne[0]), rope_kv_rows, &j);
    return 0;
}

/* ---- the backend ---------------------------------------------------------------------------- */

/* What it runs: the core and image families, on the types the default answer allows, with a
 * kernel for the weight type in the selected table (every table has all of them today; a gap
 * would show here). */
static bool cpu_supports(gk_backend *b, gk_op op, const int *types, int n_types, const void *params) {
    if (!gk_supports_default(b, op, types, n_types, params)) return false;
    const gk_ukernels *uk = gk_cpu_of(b)->uk;
    if (op == GK_OP_MATMUL && n_types >= 2 && !uk->t[types[1]].vec_dot)
        return gk_unsupported(b, "cpu: matmul: the %s micro-kernels have no %s dot", uk->isa,
                              gk_type_name(types[1]));
    return true;
}

static const gk_core_ops cpu_core = {
    .matmul = gk_cpu_matmul,
    .embedding = cpu_embedding,
    .rmsnorm = cpu_rmsnorm,
    .rope = cpu_rope,
    .kv_store = cpu_kv_store,
    .attention = gk_cpu_attention,
    .silu_mul = cpu_silu_mul,
    .add = cpu_add,
    .scale = cpu_scale,
    .softmax = cpu_softmax,
    .add_rmsnorm = cpu_add_rmsnorm,
    .rope_kv_store = cpu_rope_kv_store,
};

static const gk_ops cpu_ops = {
    .alloc = gk_host_alloc,
    .free = gk_host_free,
    .upload = gk_cpu_upload,
    .download = gk_cpu_download,
    .sync = gk_host_sync,
    .prepare_weight = gk_cpu_prepare_weight,   /* cpu_weights.c */
    .supports = cpu_supports,
    .matmul_act_type = gk_cpu_matmul_act_type,
    .core = &cpu_core,
    .image = &gk_cpu_image_ops,   /* cpu_image.c, cpu_conv.c, cpu_image_attention.c */
    .train = &gk_cpu_train_ops,   /* cpu_train.c */
};

static bool cpu_available(char *why, size_t whylen) {
    (void)why, (void)whylen;
    return true;
}

static void cpu_close(gk_backend *b) {
    if (!b) return;
    gk_cpu *c = b->impl;
    if (c) {
        gk_pool_destroy(c->pool);
        for (int i = 0; i < CPU_SCRATCH_COUNT; i++) free(c->scratch[i]);
        free(c);
    }
    free(b);
}

static gk_backend *cpu_open(const gk_backend_opts *o, char *err, size_t errlen) {
    const char *isa = o->isa && *o->isa ? o->isa : NULL;
    const gk_ukernels *uk = gk_ukernels_select(isa);
    if (!uk) {
        char avail[128] = "";
        for (const char *const *n = gk_ukernels_available(); *n; n++)
            snprintf(avail + strlen(avail), sizeof avail - strlen(avail), "%s%s", n == gk_ukernels_available() ? "" : ", ", *n);
        snprintf(err, errlen, "cpu backend: micro-kernel set '%s' not usable on this CPU (available: %s)", isa, avail);
        return NULL;
    }
    gk_backend *b = calloc(1, sizeof *b);
    gk_cpu *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b), free(c);
        snprintf(err, errlen, "cpu backend: out of memory");
        return NULL;
    }
    b->impl = c;
    c->uk = uk;
    c->pool = gk_pool_create(o->n_threads, o->smt, err, errlen);
    if (!c->pool) {
        cpu_close(b);
        return NULL;
    }
    b->ops = &cpu_ops;
    b->name = "cpu";
    b->n_threads = gk_pool_size(c->pool);
    b->isa = uk->isa;
    b->caps = GK_CAP_HOST_MEMORY;
    snprintf(b->device_name, sizeof b->device_name, "CPU, %d thread%s, %s micro-kernels", b->n_threads,
             b->n_threads == 1 ? "" : "s", uk->isa);
    return b;
}

const gk_backend_desc gk_cpu_backend = {
    .name = "cpu",
    .available = cpu_available,
    .devices = NULL,
    .open = cpu_open,
    .close = cpu_close,
};
