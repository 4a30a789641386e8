/* The train op family (backend.h, issue 16) on the "ref" oracle: every backward op against
 * central finite differences of a forward written here in double precision (independent of the
 * kernels), on a loss L = Σ c·y with random weights c, so dy = c; AdamW against its formula
 * worked step by step; the fused cross-entropy against a hand-computed row; the scatter-add,
 * the sum of squares and fill exactly; and the matmul forms backward uses (dX = dY·W on a
 * quantised W, dW += dYᵀ·X) against sums written out here. Shapes stay small: this file also
 * runs under qemu. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernels/backend.h"

static uint32_t rng_state = 1717;
static double drand(void) {   /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (double)(rng_state >> 8) / 8388608.0 - 1.0;
}

static float *rand_vec(int64_t n, double scale) {
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = (float)(drand() * scale);
    return v;
}

static gk_backend *ref_open(void) {
    char err[256];
    gk_backend_opts o = {.n_threads = 1};
    gk_backend *b = gk_backend_open("ref", &o, err, sizeof err);
    if (!b) fail_msg("open ref: %s", err);
    return b;
}

static gk_tensor tn(gk_backend *b, int type, int64_t n0, int64_t n1, const void *vals) {
    gk_tensor t = {.type = type, .ne = {n0, n1, 1, 1}};
    if (b->ops->alloc(b, &t)) fail_msg("alloc: %s", gk_backend_error(b));
    if (vals) assert_int_equal(b->ops->upload(b, &t, 0, vals, t.nbytes), 0);
    return t;
}

static float *get(gk_backend *b, const gk_tensor *t) {
    float *v = malloc(t->nbytes);
    assert_int_equal(b->ops->download(b, t, 0, v, t->nbytes), 0);
    return v;
}

/* ---- finite differences ---------------------------------------------------------------------- */

/* A forward in double: L(x) for the inputs in x (every operand of the op, concatenated). */
typedef double (*loss_fn)(const double *x, const void *ctx);

/* |analytic − central difference| ≤ tol·(1 + |fd|) for every input, h = 1e-5 in double. */
static void check_fd(const char *what, loss_fn L, const void *ctx, const float *x0, int64_t n,
                     const float *grad, double tol) {
    double *x = malloc((size_t)n * sizeof *x), worst = 0;
    for (int64_t i = 0; i < n; i++) x[i] = x0[i];
    for (int64_t i = 0; i < n; i++) {
        const double h = 1e-5, keep = x[i];
        x[i] = keep + h;
        double lp = L(x, ctx);
        x[i] = keep - h;
        double lm = L(x, ctx);
        x[i] = keep;
        double fd = (lp - lm) / (2 * h), err = fabs(grad[i] - fd) / (1 + fabs(fd));
        if (err > worst) worst = err;
        if (err > tol) fail_msg("%s: input %lld: analytic %.8g, finite difference %.8g", what, (long long)i,
                                (double)grad[i], fd);
    }
    print_message("%s: worst relative difference from finite differences %.2e (bound %.0e)\n", what, worst, tol);
    free(x);
}

/* ---- rmsnorm ---- */
typedef struct { int n, rows; const double *c; double eps; } norm_ctx;

static double rms_loss(const double *in, const void *vc) {
    const norm_ctx *k = vc;
    const double *x = in, *w = in + k->n * k->rows;
    double L = 0;
    for (int r = 0; r < k->rows; r++) {
        double ss = 0;
        for (int i = 0; i < k->n; i++) ss += x[r * k->n + i] * x[r * k->n + i];
        double s = 1 / sqrt(ss / k->n + k->eps);
        for (int i = 0; i < k->n; i++) L += k->c[r * k->n + i] * x[r * k->n + i] * s * w[i];
    }
    return L;
}

static void test_rmsnorm_backward(void **state) {
    gk_backend *b = ref_open();
    enum { N = 12, R = 3 };
    float *x = rand_vec(N * R, 1.5), *w = rand_vec(N, 1.0), *c = rand_vec(N * R, 1.0);
    float *dx0 = rand_vec(N * R, 0.5), *dw0 = rand_vec(N, 0.5);
    gk_tensor tx = tn(b, GK_F32, N, R, x), tw = tn(b, GK_F32, N, 1, w), tdy = tn(b, GK_F32, N, R, c);
    gk_tensor tdx = tn(b, GK_F32, N, R, dx0), tdw = tn(b, GK_F32, N, 1, dw0);
    assert_int_equal(gk_rmsnorm_backward(b, &tdx, &tdw, &tdy, &tx, &tw, 1e-5f), 0);
    float *dx = get(b, &tdx), *dw = get(b, &tdw), in[N * R + N], grad[N * R + N];
    double cd[N * R];
    for (int i = 0; i < N * R; i++) in[i] = x[i], grad[i] = dx[i] - dx0[i], cd[i] = c[i];   /* accumulated */
    for (int i = 0; i < N; i++) in[N * R + i] = w[i], grad[N * R + i] = dw[i] - dw0[i];
    norm_ctx k = {N, R, cd, 1e-5};
    check_fd("rmsnorm_backward", rms_loss, &k, in, N * R + N, grad, 1e-6);
    /* dx overlapping dy is refused by name */
    assert_int_not_equal(gk_rmsnorm_backward(b, &tdy, &tdw, &tdy, &tx, &tw, 1e-5f), 0);
    assert_non_null(strstr(gk_backend_error(b), "rmsnorm_backward: dx overlaps dy"));
    free(x), free(w), free(c), free(dx0), free(dw0), free(dx), free(dw);
    gk_tensor *all[] = {&tx, &tw, &tdy, &tdx, &tdw};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) b->ops->free(b, all[i]);
    gk_backend_close(b);
}

/* ---- rope ---- */
typedef struct { int heads, hd, rows, pos0; const double *c; } rope_ctx;

static double rope_loss(const double *x, const void *vc) {
    const rope_ctx *k = vc;
    double L = 0;
    for (int t = 0; t < k->rows; t++)
        for (int h = 0; h < k->heads; h++)
            for (int i = 0; i < k->hd / 2; i++) {
                int o = t * k->heads * k->hd + h * k->hd + 2 * i;
                double th = (k->pos0 + t) * pow(10000.0, -2.0 * i / k->hd), cs = cos(th), sn = sin(th);
                L += k->c[o] * (x[o] * cs - x[o + 1] * sn) + k->c[o + 1] * (x[o] * sn + x[o + 1] * cs);
            }
    return L;
}

static void test_rope_backward(void **state) {
    gk_backend *b = ref_open();
    enum { H = 2, HD = 8, T = 4, D = H * HD };
    float *c = rand_vec(D * T, 1.0), *x = rand_vec(D * T, 1.0);
    gk_tensor t = tn(b, GK_F32, D, T, c);
    assert_int_equal(gk_rope_backward(b, &t, H, HD, 7, 10000.0f, NULL), 0);
    float *g = get(b, &t);
    double cd[D * T];
    for (int i = 0; i < D * T; i++) cd[i] = c[i];
    rope_ctx k = {H, HD, T, 7, cd};
    check_fd("rope_backward", rope_loss, &k, x, D * T, g, 1e-6);
    /* forward then backward is the identity (a rotation's transpose is its inverse) */
    gk_tensor u = tn(b, GK_F32, D, T, x);
    assert_int_equal(gk_rope(b, &u, H, HD, 7, 10000.0f, NULL), 0);
    assert_int_equal(gk_rope_backward(b, &u, H, HD, 7, 10000.0f, NULL), 0);
    float *back = get(b, &u);
    for (int i = 0; i < D * T; i++) assert_float_equal(back[i], x[i], 1e-5);
    free(c), free(x), free(g), free(back);
    b->ops->free(b, &t), b->ops->free(b, &u);
    gk_backend_close(b);
}

/* ---- attention ---- */
typedef struct { int T, nh, nkv, hd; double scale; const double *c; } attn_ctx;

static double attn_loss(const double *in, const void *vc) {
    const attn_ctx *a = vc;
    const int qd = a->nh * a->hd, kd = a->nkv * a->hd, group = a->nh / a->nkv;
    const double *q = in, *k = q + a->T * qd, *v = k + a->T * kd;
    double L = 0, s[16];
    for (int t = 0; t < a->T; t++)
        for (int h = 0; h < a->nh; h++) {
            int ko = h / group * a->hd;
            double mx = -1e300, sum = 0;
            for (int j = 0; j <= t; j++) {
                s[j] = 0;
                for (int i = 0; i < a->hd; i++) s[j] += q[t * qd + h * a->hd + i] * k[j * kd + ko + i];
                s[j] *= a->scale;
                if (s[j] > mx) mx = s[j];
            }
            for (int j = 0; j <= t; j++) sum += s[j] = exp(s[j] - mx);
            for (int i = 0; i < a->hd; i++) {
                double o = 0;
                for (int j = 0; j <= t; j++) o += s[j] / sum * v[j * kd + ko + i];
                L += a->c[t * qd + h * a->hd + i] * o;
            }
        }
    return L;
}

static void test_attention_backward(void **state) {
    gk_backend *b = ref_open();
    enum { T = 5, NH = 4, NKV = 2, HD = 4, QD = NH * HD, KD = NKV * HD };
    float *q = rand_vec(T * QD, 1.5), *k = rand_vec(T * KD, 1.5), *v = rand_vec(T * KD, 1.0);
    float *c = rand_vec(T * QD, 1.0);
    gk_tensor tq = tn(b, GK_F32, QD, T, q), tk = tn(b, GK_F32, KD, T, k), tv = tn(b, GK_F32, KD, T, v);
    gk_tensor tdo = tn(b, GK_F32, QD, T, c), tdq = tn(b, GK_F32, QD, T, NULL);
    gk_tensor tdk = tn(b, GK_F32, KD, T, NULL), tdv = tn(b, GK_F32, KD, T, NULL);
    gk_attn_params p = {.n_head = NH, .n_kv_head = NKV, .head_dim = HD, .scale = 0.5f};
    assert_int_equal(gk_attention_backward(b, &tdq, &tdk, &tdv, &tdo, &tq, &tk, &tv, &p), 0);
    float *dq = get(b, &tdq), *dk = get(b, &tdk), *dv = get(b, &tdv);
    enum { N = T * QD + 2 * T * KD };
    float in[N], grad[N];
    memcpy(in, q, sizeof(float) * T * QD), memcpy(in + T * QD, k, sizeof(float) * T * KD);
    memcpy(in + T * QD + T * KD, v, sizeof(float) * T * KD);
    memcpy(grad, dq, sizeof(float) * T * QD), memcpy(grad + T * QD, dk, sizeof(float) * T * KD);
    memcpy(grad + T * QD + T * KD, dv, sizeof(float) * T * KD);
    double cd[T * QD];
    for (int i = 0; i < T * QD; i++) cd[i] = c[i];
    attn_ctx a = {T, NH, NKV, HD, 0.5, cd};
    check_fd("attention_backward (GQA 4/2, causal)", attn_loss, &a, in, N, grad, 1e-6);
    /* the forward it mirrors: the core attention on the same q, k, v equals this file's forward */
    gk_tensor to = tn(b, GK_F32, QD, T, NULL);
    assert_int_equal(gk_attention(b, &to, &tq, &tk, &tv, &p), 0);
    float *o = get(b, &to);
    double Lo = 0, ind[N];
    for (int i = 0; i < T * QD; i++) Lo += cd[i] * o[i];
    for (int i = 0; i < N; i++) ind[i] = in[i];
    assert_float_equal(Lo, attn_loss(ind, &a), 1e-5);
    free(o);
    p.pos0 = 1;
    assert_int_not_equal(gk_attention_backward(b, &tdq, &tdk, &tdv, &tdo, &tq, &tk, &tv, &p), 0);
    assert_non_null(strstr(gk_backend_error(b), "pos0"));
    free(q), free(k), free(v), free(c), free(dq), free(dk), free(dv);
    gk_tensor *all[] = {&tq, &tk, &tv, &tdo, &tdq, &tdk, &tdv, &to};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) b->ops->free(b, all[i]);
    gk_backend_close(b);
}

/* ---- silu_mul ---- */
typedef struct { int n; const double *c; } ew_ctx;

static double silu_mul_loss(const double *in, const void *vc) {
    const ew_ctx *k = vc;
    double L = 0;
    for (int i = 0; i < k->n; i++) L += k->c[i] * in[i] / (1 + exp(-in[i])) * in[k->n + i];
    return L;
}

static void test_silu_mul_backward(void **state) {
    gk_backend *b = ref_open();
    enum { N = 10, R = 2, E = N * R };
    float *g = rand_vec(E, 4.0), *u = rand_vec(E, 2.0), *c = rand_vec(E, 1.0);
    gk_tensor tg = tn(b, GK_F32, N, R, g), tu = tn(b, GK_F32, N, R, u), tdy = tn(b, GK_F32, N, R, c);
    gk_tensor tdu = tn(b, GK_F32, N, R, NULL);
    /* dgate written over dy, which the contract allows */
    assert_int_equal(gk_silu_mul_backward(b, &tdy, &tdu, &tdy, &tg, &tu), 0);
    float *dg = get(b, &tdy), *du = get(b, &tdu), in[2 * E], grad[2 * E];
    double cd[E];
    for (int i = 0; i < E; i++) in[i] = g[i], in[E + i] = u[i], grad[i] = dg[i], grad[E + i] = du[i], cd[i] = c[i];
    ew_ctx k = {E, cd};
    check_fd("silu_mul_backward", silu_mul_loss, &k, in, 2 * E, grad, 1e-6);
    free(g), free(u), free(c), free(dg), free(du);
    b->ops->free(b, &tg), b->ops->free(b, &tu), b->ops->free(b, &tdy), b->ops->free(b, &tdu);
    gk_backend_close(b);
}

/* ---- cross-entropy ---- */
typedef struct { int n, rows; const int32_t *tgt; double scale; } ce_ctx;

static double ce_loss(const double *z, const void *vc) {
    const ce_ctx *k = vc;
    double L = 0;
    for (int r = 0; r < k->rows; r++) {
        double s = 0;
        for (int i = 0; i < k->n; i++) s += exp(z[r * k->n + i]);
        L += k->scale * (log(s) - z[r * k->n + k->tgt[r]]);
    }
    return L;
}

static void test_cross_entropy(void **state) {
    gk_backend *b = ref_open();
    /* By hand: logits {0, ln 2, ln 5}, target 1: Σexp = 1 + 2 + 5 = 8, loss = ln 8 − ln 2 = ln 4;
     * softmax = {1/8, 2/8, 5/8}, dlogits = {1/8, 2/8 − 1, 5/8}. */
    const float z1[3] = {0.0f, (float)log(2.0), (float)log(5.0)};
    const int32_t t1[1] = {1};
    gk_tensor tz = tn(b, GK_F32, 3, 1, z1), tt = tn(b, GK_I32, 1, 1, t1), tl = tn(b, GK_F32, 1, 1, NULL);
    gk_tensor td = tn(b, GK_F32, 3, 1, NULL);
    assert_int_equal(gk_cross_entropy(b, &tl, &td, &tz, &tt, 1.0f), 0);
    float *l = get(b, &tl), *d = get(b, &td);
    assert_float_equal(l[0], log(4.0), 1e-6);
    assert_float_equal(d[0], 0.125, 1e-6), assert_float_equal(d[1], -0.75, 1e-6), assert_float_equal(d[2], 0.625, 1e-6);
    free(l), free(d);
    /* loss only (dlogits NULL) leaves the logits alone */
    assert_int_equal(gk_cross_entropy(b, &tl, NULL, &tz, &tt, 1.0f), 0);
    float *zz = get(b, &tz);
    assert_memory_equal(zz, z1, sizeof z1);
    free(zz);
    /* a target outside the vocabulary is refused, naming it */
    const int32_t bad[1] = {3};
    b->ops->upload(b, &tt, 0, bad, sizeof bad);
    assert_int_not_equal(gk_cross_entropy(b, &tl, &td, &tz, &tt, 1.0f), 0);
    assert_non_null(strstr(gk_backend_error(b), "id 3 at 0 is outside [0, 3)"));
    gk_tensor *one[] = {&tz, &tt, &tl, &td};
    for (size_t i = 0; i < 4; i++) b->ops->free(b, one[i]);

    /* Finite differences on several rows, dlogits written over the logits, scale 1/rows. */
    enum { V = 7, R = 3 };
    float *z = rand_vec(V * R, 3.0);
    const int32_t tg[R] = {0, 6, 3};
    gk_tensor zz2 = tn(b, GK_F32, V, R, z), t2 = tn(b, GK_I32, R, 1, tg), l2 = tn(b, GK_F32, R, 1, NULL);
    assert_int_equal(gk_cross_entropy(b, &l2, &zz2, &zz2, &t2, 1.0f / R), 0);
    float *g = get(b, &zz2), *ls = get(b, &l2);
    ce_ctx k = {V, R, tg, 1.0 / R};
    check_fd("cross_entropy", ce_loss, &k, z, V * R, g, 1e-6);
    double sum = 0;
    for (int r = 0; r < R; r++) sum += ls[r] / R;
    double zd[V * R];
    for (int i = 0; i < V * R; i++) zd[i] = z[i];
    assert_float_equal(sum, ce_loss(zd, &k), 1e-5);
    free(z), free(g), free(ls);
    b->ops->free(b, &zz2), b->ops->free(b, &t2), b->ops->free(b, &l2);
    gk_backend_close(b);
}

/* ---- embedding, sum of squares, fill ---- */
static void test_scatter_norm_fill(void **state) {
    gk_backend *b = ref_open();
    /* dtable rows 2, 0, 2 += dy rows 0, 1, 2: row 2 gets rows 0 and 2 summed. */
    const float dy[3 * 2] = {1, 2, 10, 20, 100, 200}, start[4 * 2] = {0.5f, 0.5f, 0, 0, 1, 1, 0, 0};
    const int32_t ids[3] = {2, 0, 2};
    gk_tensor tt = tn(b, GK_F32, 2, 4, start), tdy = tn(b, GK_F32, 2, 3, dy), ti = tn(b, GK_I32, 3, 1, ids);
    assert_int_equal(gk_embedding_backward(b, &tt, &tdy, &ti), 0);
    float *t = get(b, &tt);
    const float want[8] = {10.5f, 20.5f, 0, 0, 102, 203, 0, 0};
    assert_memory_equal(t, want, sizeof want);
    free(t);
    /* Σx² accumulates: 0.5 + (1² + 2² + 10² + 20² + 100² + 200²) = 50505.5 */
    const float half = 0.5f;
    gk_tensor out = tn(b, GK_F32, 1, 1, &half);
    assert_int_equal(gk_sum_squares(b, &out, &tdy), 0);
    float *s = get(b, &out);
    assert_float_equal(s[0], 50505.5, 1e-3);
    free(s);
    assert_int_equal(gk_fill(b, &tt, -3.0f), 0);
    t = get(b, &tt);
    for (int i = 0; i < 8; i++) assert_true(t[i] == -3.0f);
    free(t);
    b->ops->free(b, &tt), b->ops->free(b, &tdy), b->ops->free(b, &ti), b->ops->free(b, &out);
    gk_backend_close(b);
}

/* ---- AdamW ---- */
static void test_adamw(void **state) {
    gk_backend *b = ref_open();
    enum { N = 5 };
    float w[N] = {1, -2, 0.5f, 0, 3}, g1[N] = {0.1f, -0.3f, 0, 2, -1}, g2[N] = {-0.2f, 0.1f, 1, 2, 0.5f};
    const float zero[N] = {0};
    gk_tensor tw = tn(b, GK_F32, N, 1, w), tg = tn(b, GK_F32, N, 1, g1), tm = tn(b, GK_F32, N, 1, zero);
    gk_tensor tv = tn(b, GK_F32, N, 1, zero);
    gk_adamw_params p = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                         .grad_scale = 0.5f, .step = 1};
    double m[N] = {0}, v[N] = {0}, wd[N];
    for (int i = 0; i < N; i++) wd[i] = w[i];
    for (int step = 1; step <= 2; step++) {
        const float *g = step == 1 ? g1 : g2;
        if (step == 2) b->ops->upload(b, &tg, 0, g2, sizeof g2);
        p.step = step;
        assert_int_equal(gk_adamw(b, &tw, &tg, &tm, &tv, &p), 0);
        for (int i = 0; i < N; i++) {   /* the formula of backend.h, in double */
            double gi = g[i] * 0.5;
            m[i] = 0.9 * m[i] + 0.1 * gi;
            v[i] = 0.95 * v[i] + 0.05 * gi * gi;
            double mh = m[i] / (1 - pow(0.9, step)), vh = v[i] / (1 - pow(0.95, step));
            wd[i] -= 0.01 * (mh / (sqrt(vh) + 1e-8) + 0.1 * wd[i]);
        }
    }
    float *got = get(b, &tw), *gm = get(b, &tm);
    for (int i = 0; i < N; i++) assert_float_equal(got[i], wd[i], 1e-6), assert_float_equal(gm[i], m[i], 1e-7);
    /* the first step moves each weight by lr·sign(g) (plus decay): here w[1] by +0.01 − 0.001·(−2) */
    free(got), free(gm);
    p.step = 0;
    assert_int_not_equal(gk_adamw(b, &tw, &tg, &tm, &tv, &p), 0);
    assert_non_null(strstr(gk_backend_error(b), "adamw: bad parameters (step 0"));
    b->ops->free(b, &tw), b->ops->free(b, &tg), b->ops->free(b, &tm), b->ops->free(b, &tv);
    gk_backend_close(b);
}

/* ---- the matmul forms of a linear layer's backward ---- */
static void test_matmul_backward_forms(void **state) {
    gk_backend *b = ref_open();
    enum { K = 64, N = 6, M = 3 };   /* W{K, N}: N rows of K inputs, two q8_0/q4_0 blocks a row */
    float *w = rand_vec(K * N, 1.0), *x = rand_vec(K * M, 1.0), *dy = rand_vec(N * M, 1.0);
    const int types[] = {GK_F32, GK_Q8_0, GK_Q4_0};
    for (size_t ti = 0; ti < 3; ti++) {
        int type = types[ti];
        void *wq = malloc(gk_type_bytes(type, K) * N);
        float *wdq = malloc(sizeof(float) * K * N);   /* the weights the kernel sees: decoded */
        gk_type_get(type)->from_f32(w, wq, K * N);
        gk_type_get(type)->to_f32(wq, wdq, K * N);
        gk_tensor tw = tn(b, type, K, N, wq), tdy = tn(b, GK_F32, N, M, dy), tdx = tn(b, GK_F32, K, M, NULL);
        gk_matmul_params dxp = {.trans_w = true, .alpha = 1.0f};
        assert_int_equal(gk_matmul(b, &tdx, &tw, &tdy, &dxp), 0);
        float *dx = get(b, &tdx);
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++) {   /* dX[m][k] = Σ_n dY[m][n]·W[n][k] */
                double s = 0;
                for (int n = 0; n < N; n++) s += (double)dy[m * N + n] * wdq[n * K + k];
                assert_float_equal(dx[m * K + k], s, 1e-5);
            }
        free(dx), free(wq), free(wdq);
        b->ops->free(b, &tw), b->ops->free(b, &tdy), b->ops->free(b, &tdx);
    }
    /* dW += dYᵀ·X: dW[n][k] += Σ_m dY[m][n]·X[m][k], on a dW that already holds values */
    float *dw0 = rand_vec(K * N, 1.0);
    gk_tensor tdw = tn(b, GK_F32, K, N, dw0), tx = tn(b, GK_F32, K, M, x), tdy = tn(b, GK_F32, N, M, dy);
    gk_matmul_params dwp = {.trans_x = true, .trans_w = true, .alpha = 1.0f, .beta = 1.0f};
    assert_int_equal(gk_matmul(b, &tdw, &tx, &tdy, &dwp), 0);
    float *dw = get(b, &tdw);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            double s = dw0[n * K + k];
            for (int m = 0; m < M; m++) s += (double)dy[m * N + n] * x[m * K + k];
            assert_float_equal(dw[n * K + k], s, 1e-5);
        }
    free(dw), free(dw0), free(w), free(x), free(dy);
    b->ops->free(b, &tdw), b->ops->free(b, &tx), b->ops->free(b, &tdy);
    gk_backend_close(b);
}

static void test_family(void **state) {
    gk_backend *b = ref_open();
    for (int op = GK_OP_RMSNORM_BACKWARD; op <= GK_OP_FILL; op++) {
        assert_int_equal(gk_op_family(op), GK_FAMILY_TRAIN);
        assert_true(gk_backend_supports(b, op, NULL, 0));
    }
    assert_string_equal(gk_op_name(GK_OP_CROSS_ENTROPY), "cross_entropy");
    const int ce[] = {GK_F32, GK_F32, GK_F32, GK_I32}, bad[] = {GK_F32, GK_F32, GK_F32, GK_F32};
    assert_true(gk_backend_supports(b, GK_OP_CROSS_ENTROPY, ce, 4));
    assert_false(gk_backend_supports(b, GK_OP_CROSS_ENTROPY, bad, 4));
    gk_backend_close(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm_backward),   cmocka_unit_test(test_rope_backward),
        cmocka_unit_test(test_attention_backward), cmocka_unit_test(test_silu_mul_backward),
        cmocka_unit_test(test_cross_entropy),      cmocka_unit_test(test_scatter_norm_fill),
        cmocka_unit_test(test_adamw),              cmocka_unit_test(test_matmul_backward_forms),
        cmocka_unit_test(test_family),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
