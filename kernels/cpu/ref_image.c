/* The ref backend's image family: the oracle of the Stable Diffusion ops (backend.h's contracts).
 * Plain loops in the order the definitions read, sums in double in a fixed order, F16/BF16
 * kernels decoded to F32 once, so every result is independent of blocking and threads. The
 * attention keeps one query row's scores at a time (Tk doubles), never the Tq × Tk matrix. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/ref_image.h"
#include "kernels/op_checks.h"

static const float *f32(const gk_tensor *t) { return (const float *)t->data; }
static float *f32w(gk_tensor *t) { return (float *)t->data; }

/* y[n][co][oy][ox] = bias[co] + Σ_{ci,ky,kx} w[co][ci][ky][kx] · x[n][ci][oy·s+ky−pad][ox·s+kx−pad],
 * taps outside x being zero. */
static int ref_conv2d(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x, const gk_tensor *bias,
                      const gk_conv2d_params *p) {
    if (gk_check_conv2d(b, y, w, x, bias, p)) return -1;
    const int64_t W = x->ne[0], H = x->ne[1], ci_n = x->ne[2], N = x->ne[3];
    const int64_t kw = w->ne[0], kh = w->ne[1], co_n = w->ne[3], Wo = y->ne[0], Ho = y->ne[1];
    float *wf = malloc((size_t)gk_nelements(w) * sizeof *wf);
    if (!wf) return gk_fail(b, "conv2d: out of memory");
    gk_type_get(w->type)->to_f32(w->data, wf, gk_nelements(w));
    for (int64_t n = 0; n < N; n++)
        for (int64_t co = 0; co < co_n; co++)
            for (int64_t oy = 0; oy < Ho; oy++)
                for (int64_t ox = 0; ox < Wo; ox++) {
                    double s = bias ? f32(bias)[co] : 0.0;
                    for (int64_t ci = 0; ci < ci_n; ci++)
                        for (int64_t ky = 0; ky < kh; ky++) {
                            int64_t iy = oy * p->stride + ky - p->pad;
                            if (iy < 0 || iy >= H) continue;
                            for (int64_t kx = 0; kx < kw; kx++) {
                                int64_t ix = ox * p->stride + kx - p->pad;
                                if (ix < 0 || ix >= W) continue;
                                s += (double)wf[((co * ci_n + ci) * kh + ky) * kw + kx] *
                                     f32(x)[((n * ci_n + ci) * H + iy) * W + ix];
                            }
                        }
                    f32w(y)[((n * co_n + co) * Ho + oy) * Wo + ox] = (float)s;
                }
    free(wf);
    return 0;
}

/* Normalises cnt values at x with its mean and variance (two passes), then scales the values of
 * each of n_ch runs of run values by gamma[c] and shifts by beta[c]. */
static void normalise(const float *x, float *y, int64_t n_ch, int64_t run, const float *gamma, const float *beta,
                      float eps) {
    const int64_t cnt = n_ch * run;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < cnt; i++) mean += x[i];
    mean /= (double)cnt;
    for (int64_t i = 0; i < cnt; i++) var += ((double)x[i] - mean) * ((double)x[i] - mean);
    double inv = 1.0 / sqrt(var / (double)cnt + eps);
    for (int64_t c = 0; c < n_ch; c++)
        for (int64_t i = c * run; i < (c + 1) * run; i++)
            y[i] = (float)(((double)x[i] - mean) * inv * gamma[c] + beta[c]);
}

static int ref_group_norm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                          const gk_tensor *beta, int n_groups, float eps) {
    if (gk_check_group_norm(b, y, x, gamma, beta, n_groups)) return -1;
    const int64_t plane = x->ne[0] * x->ne[1], cg = x->ne[2] / n_groups, groups = x->ne[3] * n_groups;
    for (int64_t g = 0; g < groups; g++) {   /* the groups of all images follow each other */
        int64_t c0 = g % n_groups * cg;
        normalise(f32(x) + g * cg * plane, f32w(y) + g * cg * plane, cg, plane, f32(gamma) + c0, f32(beta) + c0, eps);
    }
    return 0;
}

static int ref_layer_norm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                          const gk_tensor *beta, float eps) {
    if (gk_check_layer_norm(b, y, x, gamma, beta)) return -1;
    const int64_t dim = x->ne[0];
    for (int64_t r = 0; r < gk_rows(x); r++)   /* dim channels of one value each */
        normalise(f32(x) + r * dim, f32w(y) + r * dim, dim, 1, f32(gamma), f32(beta), eps);
    return 0;
}

static double gelu_tanh(double v) { return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); }
static double gelu_quick(double v) { return v / (1.0 + exp(-1.702 * v)); }
static double silu(double v) { return v / (1.0 + exp(-v)); }

static int unary(gk_backend *b, const char *op, gk_tensor *y, const gk_tensor *x, double (*fn)(double)) {
    if (gk_check_unary(b, op, y, x)) return -1;
    for (int64_t i = 0; i < gk_nelements(x); i++) f32w(y)[i] = (float)fn(f32(x)[i]);
    return 0;
}

static int ref_gelu(gk_backend *b, gk_tensor *y, const gk_tensor *x) { return unary(b, "gelu", y, x, gelu_tanh); }
static int ref_gelu_quick(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    return unary(b, "gelu_quick", y, x, gelu_quick);
}
static int ref_silu(gk_backend *b, gk_tensor *y, const gk_tensor *x) { return unary(b, "silu", y, x, silu); }

static int ref_geglu(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    if (gk_check_geglu(b, y, x)) return -1;
    const int64_t n = y->ne[0];
    for (int64_t r = 0; r < gk_rows(x); r++)
        for (int64_t i = 0; i < n; i++)
            f32w(y)[r * n + i] = (float)(f32(x)[r * 2 * n + i] * gelu_tanh(f32(x)[r * 2 * n + n + i]));
    return 0;
}

static int ref_upsample2x(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    if (gk_check_upsample2x(b, y, x)) return -1;
    const int64_t W = x->ne[0], H = x->ne[1], planes = x->ne[2] * x->ne[3];
    for (int64_t c = 0; c < planes; c++)
        for (int64_t oy = 0; oy < 2 * H; oy++)
            for (int64_t ox = 0; ox < 2 * W; ox++)
                f32w(y)[(c * 2 * H + oy) * 2 * W + ox] = f32(x)[(c * H + oy / 2) * W + ox / 2];
    return 0;
}

static int ref_concat(gk_backend *b, gk_tensor *y, const gk_tensor *a, const gk_tensor *c) {
    if (gk_check_concat(b, y, a, c)) return -1;
    const int64_t plane = a->ne[0] * a->ne[1], ca = a->ne[2], cc = c->ne[2];
    for (int64_t n = 0; n < a->ne[3]; n++) {
        float *dst = f32w(y) + n * (ca + cc) * plane;
        memcpy(dst, f32(a) + n * ca * plane, (size_t)(ca * plane) * sizeof(float));
        memcpy(dst + ca * plane, f32(c) + n * cc * plane, (size_t)(cc * plane) * sizeof(float));
    }
    return 0;
}

static int ref_add_channel(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *v) {
    if (gk_check_add_channel(b, y, x, v)) return -1;
    const int64_t plane = x->ne[0] * x->ne[1], C = x->ne[2];
    const bool per_image = gk_rows(v) > 1 || x->ne[3] == 1;
    for (int64_t n = 0; n < x->ne[3]; n++)
        for (int64_t c = 0; c < C; c++) {
            float add = f32(v)[(per_image ? n * C : 0) + c];
            for (int64_t i = (n * C + c) * plane; i < (n * C + c + 1) * plane; i++) f32w(y)[i] = f32(x)[i] + add;
        }
    return 0;
}

static int ref_timestep_embed(gk_backend *b, gk_tensor *y, const gk_tensor *t, int dim, float max_period) {
    if (gk_check_timestep_embed(b, y, t, dim, max_period)) return -1;
    const int half = dim / 2;
    for (int64_t n = 0; n < gk_nelements(t); n++)
        for (int i = 0; i < half; i++) {
            double arg = f32(t)[n] * exp(-log((double)max_period) * i / half);
            f32w(y)[n * dim + i] = (float)cos(arg);
            f32w(y)[n * dim + half + i] = (float)sin(arg);
        }
    return 0;
}

/* Per image, head and query row: every key's score in double, then the softmax-weighted sum of
 * the values. */
static int ref_full_attention(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                              const gk_tensor *v, const gk_full_attn_params *p) {
    int64_t tq, tk, batch;
    if (gk_check_full_attention(b, out, q, k, v, p, &tq, &tk, &batch)) return -1;
    const int hd = p->head_dim;
    const int64_t d = q->ne[0];
    double *sc = malloc((size_t)tk * sizeof *sc), *acc = malloc((size_t)hd * sizeof *acc);
    if (!sc || !acc) {
        free(sc), free(acc);
        return gk_fail(b, "full_attention: out of memory");
    }
    for (int64_t n = 0; n < batch; n++)
        for (int h = 0; h < p->n_head; h++)
            for (int64_t i = 0; i < tq; i++) {
                const float *qv = f32(q) + (n * tq + i) * d + (int64_t)h * hd;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < tk; j++) {
                    const float *kv = f32(k) + (n * tk + j) * d + (int64_t)h * hd;
                    double s = 0;
                    for (int e = 0; e < hd; e++) s += (double)qv[e] * kv[e];
                    sc[j] = s * p->scale;
                    mx = fmax(mx, sc[j]);
                }
                for (int e = 0; e < hd; e++) acc[e] = 0;
                for (int64_t j = 0; j < tk; j++) {
                    double wgt = exp(sc[j] - mx);
                    const float *vv = f32(v) + (n * tk + j) * d + (int64_t)h * hd;
                    sum += wgt;
                    for (int e = 0; e < hd; e++) acc[e] += wgt * vv[e];
                }
                float *o = f32w(out) + (n * tq + i) * d + (int64_t)h * hd;
                for (int e = 0; e < hd; e++) o[e] = (float)(acc[e] / sum);
            }
    free(sc), free(acc);
    return 0;
}

static int ref_cont(gk_backend *b, gk_tensor *y, const gk_tensor *x) {
    if (gk_check_cont(b, y, x)) return -1;
    float *dst = f32w(y);
    for (int64_t i3 = 0; i3 < x->ne[3]; i3++)
        for (int64_t i2 = 0; i2 < x->ne[2]; i2++)
            for (int64_t i1 = 0; i1 < x->ne[1]; i1++)
                for (int64_t i0 = 0; i0 < x->ne[0]; i0++) {
                    const char *src = (const char *)x->data + (size_t)i0 * x->nb[0] + (size_t)i1 * x->nb[1] +
                                      (size_t)i2 * x->nb[2] + (size_t)i3 * x->nb[3];
                    memcpy(dst++, src, sizeof(float));
                }
    return 0;
}

const gk_image_ops gk_ref_image_ops = {
    .conv2d = ref_conv2d,
    .group_norm = ref_group_norm,
    .layer_norm = ref_layer_norm,
    .gelu = ref_gelu,
    .gelu_quick = ref_gelu_quick,
    .geglu = ref_geglu,
    .silu = ref_silu,
    .upsample2x = ref_upsample2x,
    .concat = ref_concat,
    .add_channel = ref_add_channel,
    .timestep_embed = ref_timestep_embed,
    .full_attention = ref_full_attention,
    .cont = ref_cont,
};
