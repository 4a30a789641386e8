/* Argument checks of every op, shared by all backends (ref, cpu, cuda) so each rejects a bad
 * call with the same message and the op bodies can assume valid shapes. */
#include "kernels/op_checks.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

int gk_fail(gk_backend *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof b->err, fmt, ap);
    va_end(ap);
    return -1;
}

int64_t gk_rows(const gk_tensor *t) { return t->ne[1] * t->ne[2] * t->ne[3]; }


/* ---- argument checks ------------------------------------------------------------------------ */

static int f32_2d(gk_backend *b, const char *op, const char *what, const gk_tensor *t, int64_t ne0,
                  int64_t rows) {
    if (!t || !t->data) return gk_fail(b, "%s: %s has no storage", op, what);
    if (t->type != GK_F32)
        return gk_fail(b, "%s: %s must be f32, is %s", op, what, gk_type_name(t->type));
    if (t->ne[0] != ne0 || (rows >= 0 && gk_rows(t) != rows))
        return gk_fail(b, "%s: %s is %lldx%lld, expected %lldx%lld", op, what, (long long)t->ne[0],
                       (long long)gk_rows(t), (long long)ne0, (long long)rows);
    return 0;
}

static bool weight_type(int type) {
    return type == GK_F32 || type == GK_F16 || type == GK_BF16 || type == GK_Q8_0 ||
           type == GK_Q4_0 || type == GK_Q4_1 || type == GK_Q4_K || type == GK_Q6_K;
}

int gk_check_matmul(gk_backend *b, const gk_tensor *y, const gk_tensor *w, const gk_tensor *x) {
    if (!w || !w->data) return gk_fail(b, "matmul: weights have no storage");
    if (!weight_type(w->type))
        return gk_fail(b, "matmul: weight type %s not supported", gk_type_name(w->type));
    int64_t k = w->ne[0], n = gk_rows(w);
    if (f32_2d(b, "matmul", "x", x, k, -1)) return -1;
    return f32_2d(b, "matmul", "y", y, n, gk_rows(x));
}

int gk_check_embedding(gk_backend *b, const gk_tensor *y, const gk_tensor *table, const gk_tensor *ids) {
    if (!table || !table->data) return gk_fail(b, "embedding: table has no storage");
    if (!weight_type(table->type))
        return gk_fail(b, "embedding: table type %s not supported", gk_type_name(table->type));
    if (!ids || !ids->data || ids->type != GK_I32) return gk_fail(b, "embedding: ids must be an i32 tensor");
    return f32_2d(b, "embedding", "y", y, table->ne[0], gk_nelements(ids));
}

int gk_check_rmsnorm(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *w) {
    if (!x) return gk_fail(b, "rmsnorm: no input");
    if (f32_2d(b, "rmsnorm", "x", x, x->ne[0], -1) || f32_2d(b, "rmsnorm", "y", y, x->ne[0], gk_rows(x)))
        return -1;
    return f32_2d(b, "rmsnorm", "weight", w, x->ne[0], 1);
}

int gk_check_rope(gk_backend *b, const gk_tensor *x, int n_head, int head_dim, int pos0, float base,
                  const gk_tensor *ff) {
    if (n_head < 1 || head_dim < 2 || head_dim % 2 || pos0 < 0 || !(base > 0))
        return gk_fail(b, "rope: bad parameters (n_head %d, head_dim %d, pos0 %d, base %g)", n_head,
                       head_dim, pos0, (double)base);
    if (ff && ff->be && ff->be != b)
        return gk_fail(b, "rope: frequency factors belong to backend %s, not %s", ff->be->name, b->name);
    if (ff && f32_2d(b, "rope", "frequency factors", ff, head_dim / 2, 1)) return -1;
    return f32_2d(b, "rope", "x", x, (int64_t)n_head * head_dim, -1);
}

static bool cache_type(int type) { return type == GK_F32 || type == GK_F16 || type == GK_Q8_0; }

int gk_check_kv_store(gk_backend *b, const gk_tensor *cache, const gk_tensor *src, int pos0) {
    if (!cache || !cache->data) return gk_fail(b, "kv_store: cache has no storage");
    if (!cache_type(cache->type))
        return gk_fail(b, "kv_store: cache type %s not supported (f32, f16, q8_0)", gk_type_name(cache->type));
    if (f32_2d(b, "kv_store", "src", src, cache->ne[0], -1)) return -1;
    if (pos0 < 0 || pos0 + gk_rows(src) > gk_rows(cache))
        return gk_fail(b, "kv_store: rows %d..%lld outside the cache's %lld", pos0,
                       (long long)(pos0 + gk_rows(src)), (long long)gk_rows(cache));
    return 0;
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
        if (p->head_dim % gk_type_get(c[i]->type)->block)
            return gk_fail(b, "attention: head_dim %d is not a whole number of %s blocks", p->head_dim,
                           gk_type_name(c[i]->type));
        if (p->pos0 + gk_rows(q) > gk_rows(c[i]))
            return gk_fail(b, "attention: positions up to %lld exceed the %s's %lld rows",
                           (long long)(p->pos0 + gk_rows(q)), name, (long long)gk_rows(c[i]));
    }
    return 0;
}

int gk_check_same_f32(gk_backend *b, const char *op, const gk_tensor *y, const gk_tensor *a,
                      const gk_tensor *c) {
    if (!a) return gk_fail(b, "%s: no input", op);
    if (f32_2d(b, op, "input", a, a->ne[0], -1)) return -1;
    if (c && f32_2d(b, op, "second input", c, a->ne[0], gk_rows(a))) return -1;
    return f32_2d(b, op, "output", y, a->ne[0], gk_rows(a));
}

float gk_rope_theta(int pos, int i, int head_dim, float base, float ff) {
    float theta_scale = powf(base, -2.0f / (float)head_dim);
    return (float)pos * powf(theta_scale, (float)i) / ff;
}
