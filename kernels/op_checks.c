/* Argument checks of every op, shared by all backends (ref, cpu, cuda) so each rejects a bad
 * call with the same message and the op bodies can assume valid shapes. */
#include "kernels/op_checks.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int gk_fail(gk_backend *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof b->err, fmt, ap);
    va_end(ap);
    return -1;
}

int64_t gk_rows(const gk_tensor *t) { return t->ne[1] * t->ne[2] * t->ne[3]; }


/* ---- argument checks ------------------------------------------------------------------------ */

int gk_check_contiguous(gk_backend *b, const char *op, const char *what, const gk_tensor *t) {
    if (gk_is_contiguous(t)) return 0;
    return gk_fail(b, "%s: %s is a strided view; this op needs contiguous tensors", op, what);
}

static int f32_2d(gk_backend *b, const char *op, const char *what, const gk_tensor *t, int64_t ne0,
                  int64_t rows) {
    if (!t || !t->data) return gk_fail(b, "%s: %s has no storage", op, what);
    if (t->type != GK_F32)
        return gk_fail(b, "%s: %s must be f32, is %s", op, what, gk_type_name(t->type));
    if (t->ne[0] != ne0 || (rows >= 0 && gk_rows(t) != rows))
        return gk_fail(b, "%s: %s is %lldx%lld, expected %lldx%lld", op, what, (long long)t->ne[0],
                       (long long)gk_rows(t), (long long)ne0, (long long)rows);
    return gk_check_contiguous(b, op, what, t);
}

static bool weight_type(int type) {
    return type == GK_F32 || type == GK_F16 || type == GK_BF16 || type == GK_Q8_0 ||
           type == GK_Q4_0 || type == GK_Q4_1 || type == GK_Q4_K || type == GK_Q6_K;
}

/* ---- matmul ---- */

gk_matmul_params gk_matmul_resolve(const gk_matmul_params *p) {
    return p ? *p : (gk_matmul_params){.alpha = 1.0f, .beta = 0.0f};
}

bool gk_matmul_is_default(const gk_matmul_params *p) {
    return !p || (!p->trans_x && !p->trans_w && p->alpha == 1.0f && p->beta == 0.0f);
}

static bool overlap(const gk_tensor *a, const gk_tensor *c) {
    uintptr_t a0 = (uintptr_t)a->data, c0 = (uintptr_t)c->data;
    return a->nbytes && c->nbytes && a0 < c0 + c->nbytes && c0 < a0 + a->nbytes;
}

static int f32_operand(gk_backend *b, const char *what, const gk_tensor *t) {
    if (!t || !t->data) return gk_fail(b, "matmul: %s has no storage", what);
    if (t->type != GK_F32) return gk_fail(b, "matmul: %s must be f32, is %s", what, gk_type_name(t->type));
    return 0;
}

int gk_check_matmul(gk_backend *b, const gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                    const gk_matmul_params *p, gk_mm_dims *d) {
    if (!w || !w->data) return gk_fail(b, "matmul: weights have no storage");
    if (!weight_type(w->type))
        return gk_fail(b, "matmul: weight type %s not supported", gk_type_name(w->type));
    if (f32_operand(b, "x", x) || f32_operand(b, "y", y)) return -1;
    if (p && p->alpha == 0.0f && p->beta == 0.0f)
        return gk_fail(b, "matmul: alpha and beta are both 0 (a zeroed gk_matmul_params? set alpha = 1)");
    gk_matmul_params q = gk_matmul_resolve(p);
    int64_t xr = gk_rows(x), wr = gk_rows(w);
    d->m = q.trans_x ? x->ne[0] : xr;
    d->k = q.trans_x ? xr : x->ne[0];
    d->n = q.trans_w ? w->ne[0] : wr;
    int64_t kw = q.trans_w ? wr : w->ne[0];
    if (kw != d->k)
        return gk_fail(b, "matmul: op(x) is %lldx%lld but op(w) is %lldx%lld (rows x columns): inner sizes "
                       "differ", (long long)d->m, (long long)d->k, (long long)d->n, (long long)kw);
    if (y->ne[0] != d->n || gk_rows(y) != d->m)
        return gk_fail(b, "matmul: y is %lldx%lld, expected %lldx%lld", (long long)y->ne[0],
                       (long long)gk_rows(y), (long long)d->n, (long long)d->m);
    if (overlap(y, x) || overlap(y, w)) return gk_fail(b, "matmul: y overlaps %s", overlap(y, x) ? "x" : "w");
    return 0;
}

int gk_check_matmul_default(gk_backend *b, const gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                            const gk_matmul_params *p, gk_mm_dims *d) {
    if (gk_check_matmul(b, y, w, x, p, d)) return -1;
    if (!gk_matmul_is_default(p))
        return gk_fail(b, "matmul: backend %s runs only the default form Y = X*W^T (asked: trans_x %d, "
                       "trans_w %d, alpha %g, beta %g)", b->name, p->trans_x, p->trans_w, (double)p->alpha,
                       (double)p->beta);
    if (gk_check_contiguous(b, "matmul", "y", y) || gk_check_contiguous(b, "matmul", "w", w)) return -1;
    return gk_check_contiguous(b, "matmul", "x", x);
}

/* ---- the other ops ---- */

int gk_check_embedding(gk_backend *b, const gk_tensor *y, const gk_tensor *table, const gk_tensor *ids) {
    if (!table || !table->data) return gk_fail(b, "embedding: table has no storage");
    if (!weight_type(table->type))
        return gk_fail(b, "embedding: table type %s not supported", gk_type_name(table->type));
    if (!ids || !ids->data || ids->type != GK_I32) return gk_fail(b, "embedding: ids must be an i32 tensor");
    if (gk_check_contiguous(b, "embedding", "table", table) ||
        gk_check_contiguous(b, "embedding", "ids", ids))
        return -1;
    return f32_2d(b, "embedding", "y", y, table->ne[0], gk_nelements(ids));
}

int gk_check_rmsnorm(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *w) {
    if (!x) return gk_fail(b, "rmsnorm: no input");
    if (f32_2d(b, "rmsnorm", "x", x, x->ne[0], -1) || f32_2d(b, "rmsnorm", "y", y, x->ne[0], gk_rows(x)))
        return -1;
    return f32_2d(b, "rmsnorm", "weight", w, x->ne[0], 1);
}

/* rope's checks for op (rope, rope_kv_store) on its tensor what. */
static int rope_args(gk_backend *b, const char *op, const char *what, const gk_tensor *x, int n_head,
                     int head_dim, int pos0, float base, const gk_tensor *ff) {
    if (n_head < 1 || head_dim < 2 || head_dim % 2 || pos0 < 0 || !(base > 0))
        return gk_fail(b, "%s: bad parameters (n_head %d, head_dim %d, pos0 %d, base %g)", op, n_head,
                       head_dim, pos0, (double)base);
    if (ff && ff->be && ff->be != b)
        return gk_fail(b, "%s: frequency factors belong to backend %s, not %s", op, ff->be->name, b->name);
    if (ff && f32_2d(b, op, "frequency factors", ff, head_dim / 2, 1)) return -1;
    return f32_2d(b, op, what, x, (int64_t)n_head * head_dim, -1);
}

int gk_check_rope(gk_backend *b, const gk_tensor *x, int n_head, int head_dim, int pos0, float base,
                  const gk_tensor *ff) {
    return rope_args(b, "rope", "x", x, n_head, head_dim, pos0, base, ff);
}

static bool cache_type(int type) { return type == GK_F32 || type == GK_F16 || type == GK_Q8_0; }

/* kv_store's checks for op (kv_store, rope_kv_store): cache what_c, source what_s. */
static int kv_args(gk_backend *b, const char *op, const char *what_c, const gk_tensor *cache,
                   const char *what_s, const gk_tensor *src, int pos0) {
    if (!cache || !cache->data) return gk_fail(b, "%s: %s has no storage", op, what_c);
    if (!cache_type(cache->type))
        return gk_fail(b, "%s: %s type %s not supported (f32, f16, q8_0)", op, what_c,
                       gk_type_name(cache->type));
    if (gk_check_contiguous(b, op, what_c, cache)) return -1;
    if (f32_2d(b, op, what_s, src, cache->ne[0], -1)) return -1;
    if (pos0 < 0 || pos0 + gk_rows(src) > gk_rows(cache))
        return gk_fail(b, "%s: rows %d..%lld outside the %s's %lld", op, pos0,
                       (long long)(pos0 + gk_rows(src)), what_c, (long long)gk_rows(cache));
    return 0;
}

int gk_check_kv_store(gk_backend *b, const gk_tensor *cache, const gk_tensor *src, int pos0) {
    return kv_args(b, "kv_store", "cache", cache, "src", src, pos0);
}

int gk_check_attention(gk_backend *b, const gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                       const gk_tensor *v, const gk_attn_params *p) {
    if (!p || p->n_head < 1 || p->n_kv_head < 1 || p->head_dim < 1 || p->pos0 < 0 ||
        p->n_head % p->n_kv_head)
        return gk_fail(b, "attention: bad parameters");
    int64_t dq = (int64_t)p->n_head * p->head_dim, dkv = (int64_t)p->n_kv_head * p->head_dim;
    if (f32_2d(b, "attention", "q", q, dq, -1) || f32_2d(b, "attention", "out", out, dq, gk_rows(q)))
        return -1;
    const gk_tensor *c[2] = {k, v};
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "vcache" : "kcache";
        if (!c[i] || !c[i]->data) return gk_fail(b, "attention: %s has no storage", name);
        if (!cache_type(c[i]->type))
            return gk_fail(b, "attention: %s type %s not supported", name, gk_type_name(c[i]->type));
        if (c[i]->ne[0] != dkv) return gk_fail(b, "attention: %s rows are not n_kv_head*head_dim", name);
        if (gk_check_contiguous(b, "attention", name, c[i])) return -1;
        if (p->head_dim % gk_type_get(c[i]->type)->block)
            return gk_fail(b, "attention: head_dim %d is not a whole number of %s blocks", p->head_dim,
                           gk_type_name(c[i]->type));
        if (p->pos0 + gk_rows(q) > gk_rows(c[i]))
            return gk_fail(b, "attention: positions up to %lld exceed the %s's %lld rows",
                           (long long)(p->pos0 + gk_rows(q)), name, (long long)gk_rows(c[i]));
    }
    return 0;
}

int gk_check_add_rmsnorm(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *r,
                         const gk_tensor *w) {
    const char *op = "add_rmsnorm";
    if (!x) return gk_fail(b, "%s: no input", op);
    const int64_t dim = x->ne[0], rows = gk_rows(x);
    if (f32_2d(b, op, "x", x, dim, -1) || f32_2d(b, op, "residual", r, dim, rows) ||
        f32_2d(b, op, "y", y, dim, rows) || f32_2d(b, op, "weight", w, dim, 1))
        return -1;
    if (overlap(r, x)) return gk_fail(b, "%s: the residual overlaps x (x += residual needs them apart)", op);
    if (overlap(y, x)) return gk_fail(b, "%s: y overlaps x (x keeps the sum; y may be the residual)", op);
    if (overlap(y, r) && y->data != r->data)
        return gk_fail(b, "%s: y overlaps the residual without being it", op);
    return 0;
}

int gk_check_rope_kv_store(gk_backend *b, const gk_tensor *q, const gk_tensor *kcache,
                           const gk_tensor *vcache, const gk_tensor *k, const gk_tensor *v,
                           const gk_rope_kv_params *p) {
    const char *op = "rope_kv_store";
    if (!p) return gk_fail(b, "%s: no parameters", op);
    if (rope_args(b, op, "q", q, p->n_head, p->head_dim, p->pos0, p->base, p->freq_factors) ||
        rope_args(b, op, "k", k, p->n_kv_head, p->head_dim, p->pos0, p->base, p->freq_factors) ||
        kv_args(b, op, "kcache", kcache, "k", k, p->pos0) ||
        kv_args(b, op, "vcache", vcache, "v", v, p->pos0))
        return -1;
    if (gk_rows(k) != gk_rows(q) || gk_rows(v) != gk_rows(q))
        return gk_fail(b, "%s: q, k and v have %lld, %lld and %lld rows (one per token each)", op,
                       (long long)gk_rows(q), (long long)gk_rows(k), (long long)gk_rows(v));
    if (overlap(q, k) || overlap(q, v)) return gk_fail(b, "%s: q overlaps %s", op, overlap(q, k) ? "k" : "v");
    const gk_tensor *c[2] = {kcache, vcache}, *in[3] = {q, k, v};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            if (overlap(c[i], in[j]))
                return gk_fail(b, "%s: %s overlaps an input", op, i ? "vcache" : "kcache");
    if (overlap(kcache, vcache)) return gk_fail(b, "%s: kcache and vcache overlap", op);
    return 0;
}

int gk_check_same_f32(gk_backend *b, const char *op, const gk_tensor *y, const gk_tensor *a,
                      const gk_tensor *c) {
    if (!a) return gk_fail(b, "%s: no input", op);
    if (f32_2d(b, op, "input", a, a->ne[0], -1)) return -1;
    if (c && f32_2d(b, op, "second input", c, a->ne[0], gk_rows(a))) return -1;
    return f32_2d(b, op, "output", y, a->ne[0], gk_rows(a));
}

/* ---- the image family ------------------------------------------------------------------------ */

static void shape_str(const int64_t ne[4], char *buf, size_t n) {
    snprintf(buf, n, "%lldx%lldx%lldx%lld", (long long)ne[0], (long long)ne[1], (long long)ne[2], (long long)ne[3]);
}

/* An F32 tensor with storage, contiguous, and (ne non-NULL) of shape ne. */
static int f32_4d(gk_backend *b, const char *op, const char *what, const gk_tensor *t, const int64_t ne[4]) {
    if (!t || !t->data) return gk_fail(b, "%s: %s has no storage", op, what);
    if (t->type != GK_F32) return gk_fail(b, "%s: %s must be f32, is %s", op, what, gk_type_name(t->type));
    if (ne && memcmp(t->ne, ne, sizeof t->ne) != 0) {
        char is[96], want[96];
        shape_str(t->ne, is, sizeof is), shape_str(ne, want, sizeof want);
        return gk_fail(b, "%s: %s is %s, expected %s", op, what, is, want);
    }
    return gk_check_contiguous(b, op, what, t);
}

/* A per-channel F32 vector of n elements (any 1-row shape), contiguous. */
static int f32_vec(gk_backend *b, const char *op, const char *what, const gk_tensor *t, int64_t n) {
    if (!t || !t->data) return gk_fail(b, "%s: %s has no storage", op, what);
    if (t->type != GK_F32) return gk_fail(b, "%s: %s must be f32, is %s", op, what, gk_type_name(t->type));
    if (gk_nelements(t) != n)
        return gk_fail(b, "%s: %s has %lld elements, expected %lld", op, what, (long long)gk_nelements(t),
                       (long long)n);
    return gk_check_contiguous(b, op, what, t);
}

static int no_overlap(gk_backend *b, const char *op, const gk_tensor *y, const gk_tensor *t, const char *what) {
    return overlap(y, t) ? gk_fail(b, "%s: the output overlaps %s", op, what) : 0;
}

int gk_check_conv2d(gk_backend *b, const gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                    const gk_tensor *bias, const gk_conv2d_params *p) {
    if (!p || p->stride < 1 || p->pad < 0)
        return p ? gk_fail(b, "conv2d: bad parameters (stride %d, pad %d)", p->stride, p->pad)
                 : gk_fail(b, "conv2d: no parameters");
    if (!w || !w->data) return gk_fail(b, "conv2d: kernel has no storage");
    if (w->type != GK_F32 && w->type != GK_F16 && w->type != GK_BF16)
        return gk_fail(b, "conv2d: kernel type %s not supported (f32, f16, bf16)", gk_type_name(w->type));
    if (gk_check_contiguous(b, "conv2d", "kernel", w) || f32_4d(b, "conv2d", "x", x, NULL)) return -1;
    if (w->ne[2] != x->ne[2])
        return gk_fail(b, "conv2d: kernel has %lld input channels, x has %lld", (long long)w->ne[2],
                       (long long)x->ne[2]);
    int64_t kw = w->ne[0], kh = w->ne[1];
    if (x->ne[0] + 2 * p->pad < kw || x->ne[1] + 2 * p->pad < kh)
        return gk_fail(b, "conv2d: a %lldx%lld kernel does not fit x of %lldx%lld with pad %d", (long long)kw,
                       (long long)kh, (long long)x->ne[0], (long long)x->ne[1], p->pad);
    const int64_t ne[4] = {(x->ne[0] + 2 * p->pad - kw) / p->stride + 1, (x->ne[1] + 2 * p->pad - kh) / p->stride + 1,
                           w->ne[3], x->ne[3]};
    if (f32_4d(b, "conv2d", "y", y, ne)) return -1;
    if (bias && f32_vec(b, "conv2d", "bias", bias, w->ne[3])) return -1;
    return no_overlap(b, "conv2d", y, x, "x") || no_overlap(b, "conv2d", y, w, "the kernel") ? -1 : 0;
}

static int norm_params(gk_backend *b, const char *op, const gk_tensor *gamma, const gk_tensor *beta, int64_t n) {
    return f32_vec(b, op, "gamma", gamma, n) || f32_vec(b, op, "beta", beta, n) ? -1 : 0;
}

int gk_check_group_norm(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                        const gk_tensor *beta, int n_groups) {
    if (f32_4d(b, "group_norm", "x", x, NULL) || f32_4d(b, "group_norm", "y", y, x->ne)) return -1;
    if (n_groups < 1 || x->ne[2] % n_groups)
        return gk_fail(b, "group_norm: %lld channels do not split into %d groups", (long long)x->ne[2], n_groups);
    return norm_params(b, "group_norm", gamma, beta, x->ne[2]);
}

int gk_check_layer_norm(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                        const gk_tensor *beta) {
    if (f32_4d(b, "layer_norm", "x", x, NULL) || f32_4d(b, "layer_norm", "y", y, x->ne)) return -1;
    return norm_params(b, "layer_norm", gamma, beta, x->ne[0]);
}

int gk_check_unary(gk_backend *b, const char *op, const gk_tensor *y, const gk_tensor *x) {
    return f32_4d(b, op, "x", x, NULL) || f32_4d(b, op, "y", y, x->ne) ? -1 : 0;
}

int gk_check_geglu(gk_backend *b, const gk_tensor *y, const gk_tensor *x) {
    if (f32_4d(b, "geglu", "x", x, NULL)) return -1;
    if (x->ne[0] < 2 || x->ne[0] % 2)
        return gk_fail(b, "geglu: x rows have %lld values, not an even number", (long long)x->ne[0]);
    const int64_t ne[4] = {x->ne[0] / 2, x->ne[1], x->ne[2], x->ne[3]};
    return f32_4d(b, "geglu", "y", y, ne) || no_overlap(b, "geglu", y, x, "x") ? -1 : 0;
}

int gk_check_upsample2x(gk_backend *b, const gk_tensor *y, const gk_tensor *x) {
    if (f32_4d(b, "upsample2x", "x", x, NULL)) return -1;
    const int64_t ne[4] = {2 * x->ne[0], 2 * x->ne[1], x->ne[2], x->ne[3]};
    return f32_4d(b, "upsample2x", "y", y, ne) || no_overlap(b, "upsample2x", y, x, "x") ? -1 : 0;
}

int gk_check_concat(gk_backend *b, const gk_tensor *y, const gk_tensor *a, const gk_tensor *c) {
    if (f32_4d(b, "concat", "a", a, NULL) || f32_4d(b, "concat", "c", c, NULL)) return -1;
    if (a->ne[0] != c->ne[0] || a->ne[1] != c->ne[1] || a->ne[3] != c->ne[3]) {
        char sa[96], sc[96];
        shape_str(a->ne, sa, sizeof sa), shape_str(c->ne, sc, sizeof sc);
        return gk_fail(b, "concat: a is %s and c is %s: only the channels (ne[2]) may differ", sa, sc);
    }
    const int64_t ne[4] = {a->ne[0], a->ne[1], a->ne[2] + c->ne[2], a->ne[3]};
    if (f32_4d(b, "concat", "y", y, ne)) return -1;
    return no_overlap(b, "concat", y, a, "a") || no_overlap(b, "concat", y, c, "c") ? -1 : 0;
}

int gk_check_add_channel(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *v) {
    if (f32_4d(b, "add_channel", "x", x, NULL) || f32_4d(b, "add_channel", "y", y, x->ne)) return -1;
    if (f32_4d(b, "add_channel", "v", v, NULL)) return -1;
    if (v->ne[0] != x->ne[2] || (gk_rows(v) != 1 && gk_rows(v) != x->ne[3]))
        return gk_fail(b, "add_channel: v is %lldx%lld, expected %lldx%lld or %lldx1 (channels x images)",
                       (long long)v->ne[0], (long long)gk_rows(v), (long long)x->ne[2], (long long)x->ne[3],
                       (long long)x->ne[2]);
    return 0;
}

int gk_check_timestep_embed(gk_backend *b, const gk_tensor *y, const gk_tensor *t, int dim, float max_period) {
    if (dim < 2 || dim % 2 || !(max_period > 0))
        return gk_fail(b, "timestep_embed: bad parameters (dim %d must be even and >= 2, max_period %g > 0)", dim,
                       (double)max_period);
    if (f32_4d(b, "timestep_embed", "t", t, NULL)) return -1;
    const int64_t ne[4] = {dim, gk_nelements(t), 1, 1};
    return f32_4d(b, "timestep_embed", "y", y, ne);
}

int gk_check_full_attention(gk_backend *b, const gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                            const gk_tensor *v, const gk_full_attn_params *p, int64_t *tq, int64_t *tk,
                            int64_t *batch) {
    if (!p || p->n_head < 1 || p->head_dim < 1)
        return p ? gk_fail(b, "full_attention: bad parameters (n_head %d, head_dim %d)", p->n_head, p->head_dim)
                 : gk_fail(b, "full_attention: no parameters");
    const int64_t d = (int64_t)p->n_head * p->head_dim;
    if (f32_4d(b, "full_attention", "q", q, NULL) || f32_4d(b, "full_attention", "k", k, NULL)) return -1;
    if (q->ne[0] != d)
        return gk_fail(b, "full_attention: q rows have %lld values, expected n_head*head_dim = %lld",
                       (long long)q->ne[0], (long long)d);
    const int64_t kne[4] = {d, k->ne[1], q->ne[2], q->ne[3]};
    if (f32_4d(b, "full_attention", "k", k, kne) || f32_4d(b, "full_attention", "v", v, kne) ||
        f32_4d(b, "full_attention", "out", out, q->ne))
        return -1;
    if (k->ne[1] < 1) return gk_fail(b, "full_attention: no keys");
    if (no_overlap(b, "full_attention", out, q, "q") || no_overlap(b, "full_attention", out, k, "k") ||
        no_overlap(b, "full_attention", out, v, "v"))
        return -1;
    *tq = q->ne[1], *tk = k->ne[1], *batch = q->ne[2] * q->ne[3];
    return 0;
}

int gk_check_cont(gk_backend *b, const gk_tensor *y, const gk_tensor *x) {
    if (!x || !x->data) return gk_fail(b, "cont: x has no storage");
    if (x->type != GK_F32) return gk_fail(b, "cont: x must be f32, is %s", gk_type_name(x->type));
    if (f32_4d(b, "cont", "y", y, x->ne)) return -1;
    return no_overlap(b, "cont", y, x, "x");
}

/* ---- the train family ------------------------------------------------------------------------ */

static int differ(gk_backend *b, const char *op, const gk_tensor *a, const char *an, const gk_tensor *c,
                  const char *cn) {
    return overlap(a, c) ? gk_fail(b, "%s: %s overlaps %s", op, an, cn) : 0;
}

int gk_check_rmsnorm_backward(gk_backend *b, const gk_tensor *dx, const gk_tensor *dw, const gk_tensor *dy,
                              const gk_tensor *x, const gk_tensor *w) {
    const char *op = "rmsnorm_backward";
    if (!x) return gk_fail(b, "%s: no input", op);
    if (f32_2d(b, op, "x", x, x->ne[0], -1) || f32_2d(b, op, "dy", dy, x->ne[0], gk_rows(x)) ||
        f32_2d(b, op, "dx", dx, x->ne[0], gk_rows(x)) || f32_2d(b, op, "weight", w, x->ne[0], 1) ||
        f32_2d(b, op, "dweight", dw, x->ne[0], 1))
        return -1;
    return differ(b, op, dx, "dx", dy, "dy") || differ(b, op, dx, "dx", x, "x") ||
                   differ(b, op, dw, "dweight", dy, "dy") || differ(b, op, dw, "dweight", dx, "dx")
               ? -1
               : 0;
}

int gk_check_attention_backward(gk_backend *b, const gk_tensor *dq, const gk_tensor *dk, const gk_tensor *dv,
                                const gk_tensor *dout, const gk_tensor *q, const gk_tensor *k,
                                const gk_tensor *v, const gk_attn_params *p) {
    const char *op = "attention_backward";
    if (!p || p->n_head < 1 || p->n_kv_head < 1 || p->head_dim < 1 || p->n_head % p->n_kv_head)
        return gk_fail(b, "%s: bad parameters", op);
    if (p->pos0 != 0) return gk_fail(b, "%s: pos0 is %d; training attends whole sequences (pos0 0)", op, p->pos0);
    int64_t dqn = (int64_t)p->n_head * p->head_dim, dkv = (int64_t)p->n_kv_head * p->head_dim;
    if (f32_2d(b, op, "q", q, dqn, -1)) return -1;
    int64_t T = gk_rows(q);
    if (f32_2d(b, op, "k", k, dkv, T) || f32_2d(b, op, "v", v, dkv, T) || f32_2d(b, op, "dout", dout, dqn, T) ||
        f32_2d(b, op, "dq", dq, dqn, T) || f32_2d(b, op, "dk", dk, dkv, T) || f32_2d(b, op, "dv", dv, dkv, T))
        return -1;
    const gk_tensor *outs[3] = {dq, dk, dv}, *ins[4] = {dout, q, k, v};
    static const char *const on[3] = {"dq", "dk", "dv"}, *const in[4] = {"dout", "q", "k", "v"};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++)
            if (differ(b, op, outs[i], on[i], ins[j], in[j])) return -1;
        for (int j = i + 1; j < 3; j++)
            if (differ(b, op, outs[i], on[i], outs[j], on[j])) return -1;
    }
    return 0;
}

int gk_check_silu_mul_backward(gk_backend *b, const gk_tensor *dgate, const gk_tensor *dup, const gk_tensor *dy,
                               const gk_tensor *gate, const gk_tensor *up) {
    const char *op = "silu_mul_backward";
    if (gk_check_same_f32(b, op, dy, gate, up) || gk_check_same_f32(b, op, dgate, dup, gate)) return -1;
    if (differ(b, op, dup, "dup", dgate, "dgate") || differ(b, op, dup, "dup", dy, "dy")) return -1;
    const gk_tensor *outs[2] = {dgate, dup};
    for (int i = 0; i < 2; i++)
        if (differ(b, op, outs[i], i ? "dup" : "dgate", gate, "gate") ||
            differ(b, op, outs[i], i ? "dup" : "dgate", up, "up"))
            return -1;
    return 0;
}

static int ids_tensor(gk_backend *b, const char *op, const char *what, const gk_tensor *ids, int64_t n) {
    if (!ids || !ids->data || ids->type != GK_I32) return gk_fail(b, "%s: %s must be an i32 tensor", op, what);
    if (gk_nelements(ids) != n)
        return gk_fail(b, "%s: %s has %lld ids, expected %lld", op, what, (long long)gk_nelements(ids), (long long)n);
    return gk_check_contiguous(b, op, what, ids);
}

int gk_check_embedding_backward(gk_backend *b, const gk_tensor *dtable, const gk_tensor *dy, const gk_tensor *ids) {
    const char *op = "embedding_backward";
    if (f32_2d(b, op, "dtable", dtable, dtable ? dtable->ne[0] : 0, -1)) return -1;
    if (f32_2d(b, op, "dy", dy, dtable->ne[0], -1)) return -1;
    return ids_tensor(b, op, "ids", ids, gk_rows(dy)) || differ(b, op, dtable, "dtable", dy, "dy") ? -1 : 0;
}

int gk_check_cross_entropy(gk_backend *b, const gk_tensor *losses, const gk_tensor *dlogits,
                           const gk_tensor *logits, const gk_tensor *targets) {
    const char *op = "cross_entropy";
    if (f32_2d(b, op, "logits", logits, logits ? logits->ne[0] : 0, -1)) return -1;
    int64_t T = gk_rows(logits);
    if (f32_vec(b, op, "losses", losses, T) || ids_tensor(b, op, "targets", targets, T)) return -1;
    if (dlogits && f32_2d(b, op, "dlogits", dlogits, logits->ne[0], T)) return -1;
    if (differ(b, op, losses, "losses", logits, "logits")) return -1;
    return dlogits && dlogits->data != logits->data && differ(b, op, dlogits, "dlogits", logits, "logits") ? -1 : 0;
}

int gk_check_adamw(gk_backend *b, const gk_tensor *w, const gk_tensor *g, const gk_tensor *m, const gk_tensor *v,
                   const gk_adamw_params *p) {
    const char *op = "adamw";
    if (!p) return gk_fail(b, "%s: no parameters", op);
    if (p->step < 1 || !(p->lr >= 0) || !(p->beta1 >= 0 && p->beta1 < 1) || !(p->beta2 >= 0 && p->beta2 < 1) ||
        !(p->eps > 0) || !(p->weight_decay >= 0) || !isfinite(p->grad_scale) || !(p->grad_scale >= 0))
        return gk_fail(b, "%s: bad parameters (step %d, lr %g, beta1 %g, beta2 %g, eps %g, weight decay %g, "
                       "grad scale %g)", op, p->step, (double)p->lr, (double)p->beta1, (double)p->beta2,
                       (double)p->eps, (double)p->weight_decay, (double)p->grad_scale);
    if (!w) return gk_fail(b, "%s: no weights", op);
    if (f32_4d(b, op, "w", w, NULL) || f32_4d(b, op, "g", g, w->ne) || f32_4d(b, op, "m", m, w->ne) ||
        f32_4d(b, op, "v", v, w->ne))
        return -1;
    return differ(b, op, w, "w", g, "g") || differ(b, op, w, "w", m, "m") || differ(b, op, w, "w", v, "v") ||
                   differ(b, op, m, "m", v, "v") || differ(b, op, m, "m", g, "g") || differ(b, op, v, "v", g, "g")
               ? -1
               : 0;
}

int gk_check_sum_squares(gk_backend *b, const gk_tensor *out, const gk_tensor *x) {
    if (f32_4d(b, "sum_squares", "x", x, NULL) || f32_vec(b, "sum_squares", "out", out, 1)) return -1;
    return differ(b, "sum_squares", out, "out", x, "x");
}

int gk_check_fill(gk_backend *b, const gk_tensor *t) { return f32_4d(b, "fill", "t", t, NULL); }

float gk_rope_theta(int pos, int i, int head_dim, float base, float ff) {
    float theta_scale = powf(base, -2.0f / (float)head_dim);
    return (float)pos * powf(theta_scale, (float)i) / ff;
}

/* ---- the domain of every op ------------------------------------------------------------------ */

/* Operand types by op, one letter per tensor argument in signature order: f F32, w a weight
 * type, k a float kernel (F32, F16, BF16: conv2d's), c a KV-cache type, i I32. An op without an
 * entry takes F32 tensors only. */
static const char *const operands[GK_OP_COUNT] = {
    [GK_OP_MATMUL] = "fwf",  [GK_OP_EMBEDDING] = "fwi", [GK_OP_RMSNORM] = "fff", [GK_OP_ROPE] = "ff",
    [GK_OP_KV_STORE] = "cf", [GK_OP_ATTENTION] = "ffcc", [GK_OP_SILU_MUL] = "fff", [GK_OP_ADD] = "fff",
    [GK_OP_SCALE] = "ff",    [GK_OP_SOFTMAX] = "ff", [GK_OP_ADD_RMSNORM] = "ffff",
    [GK_OP_ROPE_KV_STORE] = "fccff",
    [GK_OP_CONV2D] = "fkff", [GK_OP_GROUP_NORM] = "ffff", [GK_OP_LAYER_NORM] = "ffff", [GK_OP_GELU] = "ff",
    [GK_OP_GELU_QUICK] = "ff", [GK_OP_GEGLU] = "ff", [GK_OP_SILU] = "ff", [GK_OP_UPSAMPLE2X] = "ff",
    [GK_OP_CONCAT] = "fff", [GK_OP_ADD_CHANNEL] = "fff", [GK_OP_TIMESTEP_EMBED] = "ff",
    [GK_OP_FULL_ATTENTION] = "ffff", [GK_OP_CONT] = "ff",
    [GK_OP_RMSNORM_BACKWARD] = "fffff", [GK_OP_ROPE_BACKWARD] = "ff", [GK_OP_ATTENTION_BACKWARD] = "fffffff",
    [GK_OP_SILU_MUL_BACKWARD] = "fffff", [GK_OP_EMBEDDING_BACKWARD] = "ffi", [GK_OP_CROSS_ENTROPY] = "fffi",
    [GK_OP_ADAMW] = "ffff", [GK_OP_SUM_SQUARES] = "ff", [GK_OP_FILL] = "f",
};

static bool letter_takes(char kind, int type) {
    switch (kind) {
    case 'w': return weight_type(type);
    case 'k': return type == GK_F32 || type == GK_F16 || type == GK_BF16;
    case 'c': return cache_type(type);
    case 'i': return type == GK_I32;
    default: return type == GK_F32;
    }
}

bool gk_op_accepts(gk_backend *b, gk_op op, const int *types, int n_types) {
    if (gk_op_family(op) == GK_FAMILY_COUNT) return gk_unsupported(b, "op %d is not an op", (int)op);
    const char *kinds = operands[op];
    int n = kinds ? (int)strlen(kinds) : n_types;
    if (n_types > n)
        return gk_unsupported(b, "%s takes %d tensors, %d types asked about", gk_op_name(op), n, n_types);
    for (int i = 0; i < n_types; i++)
        if (!letter_takes(kinds ? kinds[i] : 'f', types[i]))
            return gk_unsupported(b, "%s: tensor argument %d (from 0) cannot be %s", gk_op_name(op), i,
                                  gk_type_name(types[i]));
    return true;
}
