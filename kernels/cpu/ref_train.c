/* The ref backend's train family: the oracle of the backward ops (backend.h's contracts).
 * Plain loops in the order the derivations read, sums in double in a fixed order, so every
 * result is independent of blocking and threads. Each backward op is derived from its forward
 * op in backend_ref.c, written out beside the code; tests check them against central finite
 * differences of a double-precision forward (tests/test_kernels_train.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/ref_train.h"
#include "kernels/op_checks.h"

static const float *f32(const gk_tensor *t) { return (const float *)t->data; }
static float *f32w(gk_tensor *t) { return (float *)t->data; }
static const int32_t *i32(const gk_tensor *t) { return (const int32_t *)t->data; }

/* y_i = x_i·r·w_i, r = (Σx²/n + eps)^(-1/2). With g_i = dy_i·w_i:
 * ∂L/∂x_j = r·g_j − r³·x_j·(Σ_i g_i·x_i)/n;  ∂L/∂w_i = Σ_rows dy_i·x_i·r. */
static int ref_rmsnorm_backward(gk_backend *b, gk_tensor *dx, gk_tensor *dw, const gk_tensor *dy,
                                const gk_tensor *x, const gk_tensor *w, float eps) {
    if (gk_check_rmsnorm_backward(b, dx, dw, dy, x, w)) return -1;
    const int64_t n = x->ne[0];
    double *acc = calloc((size_t)n, sizeof *acc);
    if (!acc) return gk_fail(b, "rmsnorm_backward: out of memory");
    for (int64_t r = 0; r < gk_rows(x); r++) {
        const float *xr = f32(x) + r * n, *gr = f32(dy) + r * n;
        double ss = 0, gx = 0;
        for (int64_t i = 0; i < n; i++) ss += (double)xr[i] * xr[i];
        double rs = 1.0 / sqrt(ss / (double)n + eps);
        for (int64_t i = 0; i < n; i++) gx += (double)gr[i] * f32(w)[i] * xr[i];
        float *d = f32w(dx) + r * n;
        for (int64_t i = 0; i < n; i++) {
            d[i] = (float)(d[i] + rs * gr[i] * f32(w)[i] - rs * rs * rs * xr[i] * gx / (double)n);
            acc[i] += (double)gr[i] * xr[i] * rs;
        }
    }
    for (int64_t i = 0; i < n; i++) f32w(dw)[i] = (float)(f32w(dw)[i] + acc[i]);
    free(acc);
    return 0;
}

/* The rotation by θ has the rotation by −θ as its transpose: (a, d) ← (a·c + d·s, −a·s + d·c). */
static int ref_rope_backward(gk_backend *b, gk_tensor *dx, int n_head, int head_dim, int pos0, float base,
                             const gk_tensor *freq_factors) {
    if (gk_check_rope(b, dx, n_head, head_dim, pos0, base, freq_factors)) return -1;
    const float *ff = freq_factors ? f32(freq_factors) : NULL;
    for (int64_t t = 0; t < gk_rows(dx); t++)
        for (int h = 0; h < n_head; h++) {
            float *v = f32w(dx) + t * dx->ne[0] + (int64_t)h * head_dim;
            for (int i = 0; i < head_dim / 2; i++) {
                double th = gk_rope_theta(pos0 + (int)t, i, head_dim, base, ff ? ff[i] : 1.0f);
                double c = cos(th), s = sin(th), a = v[2 * i], d = v[2 * i + 1];
                v[2 * i] = (float)(a * c + d * s);
                v[2 * i + 1] = (float)(-a * s + d * c);
            }
        }
    return 0;
}

/* Per query row t and head h (KV head h/group), with s_j = scale·q·k_j and p = softmax(s) over
 * j ≤ t, o = Σ p_j v_j:  dv_j += p_j·do;  dp_j = do·v_j;  ds_j = p_j·(dp_j − Σ_i p_i dp_i);
 * dq = scale·Σ ds_j k_j;  dk_j += scale·ds_j·q. Accumulated in double, written once. */
static int ref_attention_backward(gk_backend *b, gk_tensor *dq, gk_tensor *dk, gk_tensor *dv,
                                  const gk_tensor *dout, const gk_tensor *q, const gk_tensor *k,
                                  const gk_tensor *v, const gk_attn_params *p) {
    if (gk_check_attention_backward(b, dq, dk, dv, dout, q, k, v, p)) return -1;
    const int hd = p->head_dim, group = p->n_head / p->n_kv_head;
    const int64_t T = gk_rows(q), qd = q->ne[0], kd = k->ne[0];
    double *pr = malloc((size_t)T * sizeof *pr), *dp = malloc((size_t)T * sizeof *dp);
    double *gk = calloc((size_t)(T * kd), sizeof *gk), *gv = calloc((size_t)(T * kd), sizeof *gv);
    if (!pr || !dp || !gk || !gv) {
        free(pr), free(dp), free(gk), free(gv);
        return gk_fail(b, "attention_backward: out of memory");
    }
    for (int64_t t = 0; t < T; t++)
        for (int h = 0; h < p->n_head; h++) {
            const int64_t ko = (int64_t)(h / group) * hd;
            const float *qv = f32(q) + t * qd + (int64_t)h * hd, *go = f32(dout) + t * qd + (int64_t)h * hd;
            double mx = -INFINITY, sum = 0, dot = 0;
            for (int64_t j = 0; j <= t; j++) {
                double s = 0;
                for (int i = 0; i < hd; i++) s += (double)qv[i] * f32(k)[j * kd + ko + i];
                pr[j] = s * p->scale;
                mx = fmax(mx, pr[j]);
            }
            for (int64_t j = 0; j <= t; j++) sum += (pr[j] = exp(pr[j] - mx));
            for (int64_t j = 0; j <= t; j++) {
                pr[j] /= sum;
                double s = 0;
                for (int i = 0; i < hd; i++) s += (double)go[i] * f32(v)[j * kd + ko + i];
                dp[j] = s;
                dot += pr[j] * s;
            }
            float *gq = f32w(dq) + t * qd + (int64_t)h * hd;
            for (int i = 0; i < hd; i++) {
                double s = 0;
                for (int64_t j = 0; j <= t; j++) s += pr[j] * (dp[j] - dot) * f32(k)[j * kd + ko + i];
                gq[i] = (float)(s * p->scale);
            }
            for (int64_t j = 0; j <= t; j++) {
                double ds = pr[j] * (dp[j] - dot) * p->scale;
                for (int i = 0; i < hd; i++) {
                    gk[j * kd + ko + i] += ds * qv[i];
                    gv[j * kd + ko + i] += pr[j] * go[i];
                }
            }
        }
    for (int64_t i = 0; i < T * kd; i++) f32w(dk)[i] = (float)gk[i], f32w(dv)[i] = (float)gv[i];
    free(pr), free(dp), free(gk), free(gv);
    return 0;
}

/* y = g·σ(g)·u: ∂y/∂u = silu(g); ∂y/∂g = u·σ(g)·(1 + g·(1 − σ(g))). */
static int ref_silu_mul_backward(gk_backend *b, gk_tensor *dgate, gk_tensor *dup, const gk_tensor *dy,
                                 const gk_tensor *gate, const gk_tensor *up) {
    if (gk_check_silu_mul_backward(b, dgate, dup, dy, gate, up)) return -1;
    for (int64_t i = 0; i < gk_nelements(gate); i++) {
        double g = f32(gate)[i], sg = 1.0 / (1.0 + exp(-g)), d = f32(dy)[i];
        f32w(dup)[i] = (float)(d * g * sg);
        f32w(dgate)[i] = (float)(d * f32(up)[i] * sg * (1.0 + g * (1.0 - sg)));
    }
    return 0;
}

static int ids_in_range(gk_backend *b, const char *op, const gk_tensor *ids, int64_t n) {
    for (int64_t t = 0; t < gk_nelements(ids); t++)
        if (i32(ids)[t] < 0 || i32(ids)[t] >= n)
            return gk_fail(b, "%s: id %d at %lld is outside [0, %lld)", op, i32(ids)[t], (long long)t, (long long)n);
    return 0;
}

static int ref_embedding_backward(gk_backend *b, gk_tensor *dtable, const gk_tensor *dy, const gk_tensor *ids) {
    if (gk_check_embedding_backward(b, dtable, dy, ids) ||
        ids_in_range(b, "embedding_backward", ids, gk_rows(dtable)))
        return -1;
    const int64_t dim = dtable->ne[0];
    for (int64_t t = 0; t < gk_rows(dy); t++) {
        float *row = f32w(dtable) + (int64_t)i32(ids)[t] * dim;
        for (int64_t i = 0; i < dim; i++) row[i] += f32(dy)[t * dim + i];
    }
    return 0;
}

/* loss = log Σ exp(z) − z_target; ∂loss/∂z_i = softmax(z)_i − [i = target]. */
static int ref_cross_entropy(gk_backend *b, gk_tensor *losses, gk_tensor *dlogits, const gk_tensor *logits,
                             const gk_tensor *targets, float scale) {
    if (gk_check_cross_entropy(b, losses, dlogits, logits, targets) ||
        ids_in_range(b, "cross_entropy", targets, logits->ne[0]))
        return -1;
    const int64_t n = logits->ne[0];
    for (int64_t r = 0; r < gk_rows(logits); r++) {
        const float *z = f32(logits) + r * n;
        const int tgt = i32(targets)[r];
        double mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < n; i++) mx = fmax(mx, z[i]);
        for (int64_t i = 0; i < n; i++) sum += exp(z[i] - mx);
        const double lse = mx + log(sum), zt = z[tgt];
        f32w(losses)[r] = (float)(lse - zt);
        if (!dlogits) continue;
        float *d = f32w(dlogits) + r * n;   /* may be z itself: each z[i] is read before d[i] is written */
        for (int64_t i = 0; i < n; i++) d[i] = (float)(scale * (exp(z[i] - lse) - (i == tgt ? 1.0 : 0.0)));
    }
    return 0;
}

static int ref_adamw(gk_backend *b, gk_tensor *w, const gk_tensor *g, gk_tensor *m, gk_tensor *v,
                     const gk_adamw_params *p) {
    if (gk_check_adamw(b, w, g, m, v, p)) return -1;
    const double c1 = 1.0 - pow(p->beta1, p->step), c2 = 1.0 - pow(p->beta2, p->step);
    for (int64_t i = 0; i < gk_nelements(w); i++) {
        double gi = (double)f32(g)[i] * p->grad_scale;
        double mi = p->beta1 * (double)f32w(m)[i] + (1.0 - p->beta1) * gi;
        double vi = p->beta2 * (double)f32w(v)[i] + (1.0 - p->beta2) * gi * gi;
        f32w(m)[i] = (float)mi, f32w(v)[i] = (float)vi;
        double wi = f32w(w)[i];
        f32w(w)[i] = (float)(wi - p->lr * ((mi / c1) / (sqrt(vi / c2) + p->eps) + p->weight_decay * wi));
    }
    return 0;
}

static int ref_sum_squares(gk_backend *b, gk_tensor *out, const gk_tensor *x) {
    if (gk_check_sum_squares(b, out, x)) return -1;
    double s = 0;
    for (int64_t i = 0; i < gk_nelements(x); i++) s += (double)f32(x)[i] * f32(x)[i];
    f32w(out)[0] = (float)(f32w(out)[0] + s);
    return 0;
}

static int ref_fill(gk_backend *b, gk_tensor *t, float value) {
    if (gk_check_fill(b, t)) return -1;
    for (int64_t i = 0; i < gk_nelements(t); i++) f32w(t)[i] = value;
    return 0;
}

const gk_train_ops gk_ref_train_ops = {
    .rmsnorm_backward = ref_rmsnorm_backward,
    .rope_backward = ref_rope_backward,
    .attention_backward = ref_attention_backward,
    .silu_mul_backward = ref_silu_mul_backward,
    .embedding_backward = ref_embedding_backward,
    .cross_entropy = ref_cross_entropy,
    .adamw = ref_adamw,
    .sum_squares = ref_sum_squares,
    .fill = ref_fill,
};
