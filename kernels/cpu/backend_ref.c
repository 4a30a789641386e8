/* The "ref" backend: the scalar oracle every other backend is tested against. One thread, host
 * memory, straightforward loops; weights are dequantised to F32 with the type table and sums
 * are accumulated in double in a fixed order, so its results do not depend on blocking. It
 * implements every op of every family, matmul in every form and on strided views. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/host_memory.h"
#include "kernels/cpu/ref_image.h"
#include "kernels/cpu/ref_train.h"
#include "kernels/op_checks.h"

static const float *f32(const gk_tensor *t) { return (const float *)t->data; }
static float *f32w(gk_tensor *t) { return (float *)t->data; }

/* Row r of w seen as a matrix, decoded to F32 (w->ne[0] values), whatever its strides. */
static void w_row(const gk_tensor *w, int64_t r, float *out) {
    const gk_type_info *ti = gk_type_get(w->type);
    const char *row = (const char *)w->data + gk_row_offset(w, r);
    if (w->nb[0] == ti->block_bytes || w->ne[0] <= ti->block) {
        ti->to_f32(row, out, w->ne[0]);
        return;
    }
    for (int64_t c = 0; c < w->ne[0]; c++)   /* a float type strided inside its rows */
        ti->to_f32(row + (size_t)c * w->nb[0], out + c, 1);
}

static float *f32_at(const gk_tensor *t, int64_t r, int64_t c) {
    return (float *)((char *)t->data + gk_row_offset(t, r) + (size_t)c * t->nb[0]);
}

/* Y = alpha · op(X) · op(W)ᵀ + beta · Y, each output one double sum over k in order. Rows of
 * op(W) are decoded one at a time (for trans_w, from all of W decoded once); op(X) is read in
 * place when X is contiguous and not transposed, else gathered once. */
static int ref_matmul(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                      const gk_matmul_params *p) {
    gk_mm_dims d;
    if (gk_check_matmul(b, y, w, x, p, &d)) return -1;
    const gk_matmul_params q = gk_matmul_resolve(p);
    const int64_t k = d.k, n = d.n, m = d.m;
    const bool x_direct = !q.trans_x && gk_is_contiguous(x);
    float *row = malloc((size_t)(k ? k : 1) * sizeof *row);
    float *wall = q.trans_w ? malloc((size_t)(k * n) * sizeof *wall + 1) : NULL;
    float *xg = x_direct ? NULL : malloc((size_t)(m * k) * sizeof *xg + 1);
    if (!row || (q.trans_w && !wall) || (!x_direct && !xg)) {
        free(row), free(wall), free(xg);
        return gk_fail(b, "matmul: out of memory");
    }
    for (int64_t r = 0; q.trans_w && r < k; r++) w_row(w, r, wall + r * n);
    for (int64_t i = 0; !x_direct && i < m; i++)
        for (int64_t c = 0; c < k; c++) xg[i * k + c] = q.trans_x ? *f32_at(x, c, i) : *f32_at(x, i, c);
    for (int64_t i = 0; i < n; i++) {
        if (q.trans_w)
            for (int64_t c = 0; c < k; c++) row[c] = wall[c * n + i];
        else
            w_row(w, i, row);
        for (int64_t j = 0; j < m; j++) {
            const float *xr = x_direct ? f32(x) + j * k : xg + j * k;
            double s = 0;
            for (int64_t c = 0; c < k; c++) s += (double)row[c] * xr[c];
            float *yv = f32_at(y, j, i);
            double v = (double)q.alpha * s;
            if (q.beta != 0.0f) v += (double)q.beta * *yv;
            *yv = (float)v;
        }
    }
    free(row), free(wall), free(xg);
    return 0;
}

static int ref_embedding(gk_backend *b, gk_tensor *y, const gk_tensor *table, const gk_tensor *ids) {
    if (gk_check_embedding(b, y, table, ids)) return -1;
    int64_t dim = table->ne[0], nt = gk_nelements(ids), vocab = gk_rows(table);
    const int32_t *id = ids->data;
    for (int64_t t = 0; t < nt; t++)
        if (id[t] < 0 || id[t] >= vocab)
            return gk_fail(b, "embedding: id %d at %lld outside vocabulary of %lld", (int)id[t],
                           (long long)t, (long long)vocab);
    const gk_type_info *ti = gk_type_get(table->type);
    for (int64_t t = 0; t < nt; t++)
        ti->to_f32((const char *)table->data + (size_t)id[t] * gk_row_bytes(table), f32w(y) + t * dim, dim);
    return 0;
}

/* One row: yr = xr / rms(xr) * w (yr may be xr). */
static void rmsnorm_row(const float *xr, const float *w, float *yr, int64_t dim, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
    double s = 1.0 / sqrt(ss / (double)dim + eps);
    for (int64_t i = 0; i < dim; i++) yr[i] = (float)(xr[i] * s * w[i]);
}

static int ref_rmsnorm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *w, float eps) {
    if (gk_check_rmsnorm(b, y, x, w)) return -1;
    int64_t dim = x->ne[0];
    for (int64_t r = 0; r < gk_rows(x); r++)
        rmsnorm_row(f32(x) + r * dim, f32(w), f32w(y) + r * dim, dim, eps);
    return 0;
}

/* One token's heads v[n_head * head_dim], at position pos, turned in place. */
static void rope_row(float *row, int n_head, int head_dim, int pos, float base, const float *ff) {
    for (int h = 0; h < n_head; h++) {
        float *v = row + (int64_t)h * head_dim;
        for (int i = 0; i < head_dim / 2; i++) {
            double th = gk_rope_theta(pos, i, head_dim, base, ff ? ff[i] : 1.0f);
            double c = cos(th), s = sin(th), a = v[2 * i], d = v[2 * i + 1];
            v[2 * i] = (float)(a * c - d * s);
            v[2 * i + 1] = (float)(a * s + d * c);
        }
    }
}

static int ref_rope(gk_backend *b, gk_tensor *x, int n_head, int head_dim, int pos0, float base,
                    const gk_tensor *freq_factors) {
    if (gk_check_rope(b, x, n_head, head_dim, pos0, base, freq_factors)) return -1;
    const float *ff = freq_factors ? f32(freq_factors) : NULL;
    for (int64_t t = 0; t < gk_rows(x); t++)
        rope_row(f32w(x) + t * x->ne[0], n_head, head_dim, pos0 + (int)t, base, ff);
    return 0;
}

/* Source row src (cache->ne[0] floats) into cache row pos. */
static void cache_store_row(gk_tensor *cache, int64_t pos, const float *src) {
    char *row = (char *)cache->data + (size_t)pos * gk_row_bytes(cache);
    gk_type_get(cache->type)->from_f32(src, row, cache->ne[0]);
}

static int ref_kv_store(gk_backend *b, gk_tensor *cache, const gk_tensor *src, int pos0) {
    if (gk_check_kv_store(b, cache, src, pos0)) return -1;
    for (int64_t t = 0; t < gk_rows(src); t++) cache_store_row(cache, pos0 + t, f32(src) + t * src->ne[0]);
    return 0;
}

/* The fused ops: the unfused ops' row functions in the same order, so the results are theirs bit for bit. */
static int ref_add_rmsnorm(gk_backend *b, gk_tensor *y, gk_tensor *x, const gk_tensor *r, const gk_tensor *w,
                           float eps) {
    if (gk_check_add_rmsnorm(b, y, x, r, w)) return -1;
    int64_t dim = x->ne[0];
    for (int64_t t = 0; t < gk_rows(x); t++) {
        float *xr = f32w(x) + t * dim;
        const float *rr = f32(r) + t * dim;
        for (int64_t i = 0; i < dim; i++) xr[i] = xr[i] + rr[i];
        rmsnorm_row(xr, f32(w), f32w(y) + t * dim, dim, eps);
    }
    return 0;
}

static int ref_rope_kv_store(gk_backend *b, gk_tensor *q, gk_tensor *kcache, gk_tensor *vcache,
                             const gk_tensor *k, const gk_tensor *v, const gk_rope_kv_params *p) {
    if (gk_check_rope_kv_store(b, q, kcache, vcache, k, v, p)) return -1;
    const float *ff = p->freq_factors ? f32(p->freq_factors) : NULL;
    float *kr = malloc((size_t)k->ne[0] * sizeof *kr);   /* k stays as it is: its row turned here */
    if (!kr) return gk_fail(b, "rope_kv_store: out of memory");
    for (int64_t t = 0; t < gk_rows(q); t++) {
        const int pos = p->pos0 + (int)t;
        rope_row(f32w(q) + t * q->ne[0], p->n_head, p->head_dim, pos, p->base, ff);
        memcpy(kr, f32(k) + t * k->ne[0], (size_t)k->ne[0] * sizeof *kr);
        rope_row(kr, p->n_kv_head, p->head_dim, pos, p->base, ff);
        cache_store_row(kcache, pos, kr);
        cache_store_row(vcache, pos, f32(v) + t * v->ne[0]);
    }
    free(kr);
    return 0;
}

/* One row of head kvh of a cache, as floats. */
static void cache_row(const gk_tensor *c, int64_t pos, int kvh, int hd, float *out) {
    const gk_type_info *ti = gk_type_get(c->type);
    size_t off = (size_t)pos * gk_row_bytes(c) + gk_type_bytes(c->type, (int64_t)kvh * hd);
    ti->to_f32((const char *)c->data + off, out, hd);
}

static int ref_attention(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *kc,
                         const gk_tensor *vc, const gk_attn_params *p) {
    if (gk_check_attention(b, out, q, kc, vc, p)) return -1;
    int hd = p->head_dim, group = p->n_head / p->n_kv_head;
    int64_t nt = gk_rows(q), npos = p->pos0 + nt;
    double *sc = malloc((size_t)npos * sizeof *sc), *acc = malloc((size_t)hd * sizeof *acc);
    float *row = malloc((size_t)hd * sizeof *row);
    if (!sc || !acc || !row) {
        free(sc), free(acc), free(row);
        return gk_fail(b, "attention: out of memory");
    }
    for (int64_t t = 0; t < nt; t++)
        for (int h = 0; h < p->n_head; h++) {
            const float *qv = f32(q) + t * q->ne[0] + (int64_t)h * hd;
            int kvh = h / group;
            int64_t last = p->pos0 + t;
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j <= last; j++) {
                cache_row(kc, j, kvh, hd, row);
                double s = 0;
                for (int i = 0; i < hd; i++) s += (double)qv[i] * row[i];
                sc[j] = s * p->scale;
                mx = fmax(mx, sc[j]);
            }
            for (int i = 0; i < hd; i++) acc[i] = 0;
            for (int64_t j = 0; j <= last; j++) {
                double e = exp(sc[j] - mx);
                sum += e;
                cache_row(vc, j, kvh, hd, row);
                for (int i = 0; i < hd; i++) acc[i] += e * row[i];
            }
            float *o = f32w(out) + t * out->ne[0] + (int64_t)h * hd;
            for (int i = 0; i < hd; i++) o[i] = (float)(acc[i] / sum);
        }
    free(sc), free(acc), free(row);
    return 0;
}

static int ref_silu_mul(gk_backend *b, gk_tensor *y, const gk_tensor *g, const gk_tensor *u) {
    if (gk_check_same_f32(b, "silu_mul", y, g, u)) return -1;
    for (int64_t i = 0; i < gk_nelements(g); i++) {
        double v = f32(g)[i];
        f32w(y)[i] = (float)(v / (1.0 + exp(-v)) * f32(u)[i]);
    }
    return 0;
}

static int ref_add(gk_backend *b, gk_tensor *y, const gk_tensor *a, const gk_tensor *c) {
    if (gk_check_same_f32(b, "add", y, a, c)) return -1;
    for (int64_t i = 0; i < gk_nelements(a); i++) f32w(y)[i] = f32(a)[i] + f32(c)[i];
    return 0;
}

static int ref_scale(gk_backend *b, gk_tensor *y, const gk_tensor *x, float s) {
    if (gk_check_same_f32(b, "scale", y, x, NULL)) return -1;
    for (int64_t i = 0; i < gk_nelements(x); i++) f32w(y)[i] = s * f32(x)[i];
    return 0;
}

static int ref_softmax(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    if (gk_check_same_f32(b, "softmax", y, x, NULL)) return -1;
    int64_t n = x->ne[0];
    for (int64_t r = 0; r < gk_rows(x); r++) {
        const float *xr = f32(x) + r * n;
        float *yr = f32w(y) + r * n;
        double mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < n; i++) mx = fmax(mx, xr[i]);
        for (int64_t i = 0; i < n; i++) sum += exp(xr[i] - mx);
        for (int64_t i = 0; i < n; i++) yr[i] = (float)(exp(xr[i] - mx) / sum);
    }
    return 0;
}

/* The oracle of every family: adding a family adds its table here (kernels/cpu/ref_<family>.c). */
static const gk_core_ops ref_core = {
    .matmul = ref_matmul,
    .embedding = ref_embedding,
    .rmsnorm = ref_rmsnorm,
    .rope = ref_rope,
    .kv_store = ref_kv_store,
    .attention = ref_attention,
    .silu_mul = ref_silu_mul,
    .add = ref_add,
    .scale = ref_scale,
    .softmax = ref_softmax,
    .add_rmsnorm = ref_add_rmsnorm,
    .rope_kv_store = ref_rope_kv_store,
};

static const gk_ops ref_ops = {
    .alloc = gk_host_alloc,
    .free = gk_host_free,
    .upload = gk_host_upload,
    .download = gk_host_download,
    .sync = gk_host_sync,
    .supports = NULL,   /* the default: every op it has, every type each op's contract allows */
    .core = &ref_core,
    .image = &gk_ref_image_ops,   /* ref_image.c */
    .train = &gk_ref_train_ops,   /* ref_train.c */
};

static bool ref_available(char *why, size_t whylen) {
    (void)why, (void)whylen;
    return true;
}

static gk_backend *ref_open(const gk_backend_opts *o, char *err, size_t errlen) {
    (void)o;
    gk_backend *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "ref backend: out of memory");
        return NULL;
    }
    b->ops = &ref_ops;
    b->name = "ref";
    b->n_threads = 1;
    b->caps = GK_CAP_HOST_MEMORY;
    snprintf(b->device_name, sizeof b->device_name, "scalar reference (1 thread)");
    return b;
}

static void ref_close(gk_backend *b) { free(b); }

const gk_backend_desc gk_ref_backend = {
    .name = "ref",
    .available = ref_available,
    .devices = NULL,
    .open = ref_open,
    .close = ref_close,
};
