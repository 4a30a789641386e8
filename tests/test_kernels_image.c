/* The image op family (backend.h, issue 15): each op of the "ref" oracle against values worked
 * out by hand in the comments; each op of the "cpu" backend, with every micro-kernel table usable
 * on this CPU and with 1 and 2 threads, against ref on random data and awkward shapes (odd W and
 * H, channels that are no multiple of any SIMD width or tile, stride 2 on odd sizes, K past one
 * packing slice, key counts that are no multiple of the attention's key tile, batch 2), within
 * the bounds argued at each check; bad calls refused with a message naming the op; what
 * supports() answers for the family. Shapes stay small: this file also runs under qemu. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_image.h"
#include "kernels/cpu/microkernels.h"

#define RAND32_SEED 4242u
#include "tests/rand32.h"

#include "tests/kernel_pairs.h"

/* A tensor {n0, n1, n2, n3} of type on b, filled from F32 values converted to type (NULL: left). */
static gk_tensor t4(gk_backend *b, int type, int64_t n0, int64_t n1, int64_t n2, int64_t n3, const float *vals) {
    gk_tensor t = {.type = type, .ne = {n0, n1, n2, n3}};
    if (b->ops->alloc(b, &t)) fail_msg("alloc: %s", gk_backend_error(b));
    if (vals) {
        void *bytes = malloc(t.nbytes);
        gk_type_get(type)->from_f32(vals, bytes, gk_nelements(&t));
        assert_int_equal(b->ops->upload(b, &t, 0, bytes, t.nbytes), 0);
        free(bytes);
    }
    return t;
}

static float *get(gk_backend *b, const gk_tensor *t) {
    float *v = malloc(t->nbytes);
    assert_int_equal(b->ops->download(b, t, 0, v, t->nbytes), 0);
    return v;
}

static void drop(gk_backend *b, gk_tensor *t) { b->ops->free(b, t); }

static void expect_values(const char *what, const float *got, const float *want, int64_t n, double tol) {
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= tol))
            fail_msg("%s: element %lld is %.7g, expected %.7g (tolerance %g)", what, (long long)i, (double)got[i],
                     (double)want[i], tol);
}

static void must_run(gk_backend *b, int rc, const char *what) {
    if (rc) fail_msg("%s on %s: %s", what, b->name, gk_backend_error(b));
}

/* ---- ref by hand ---------------------------------------------------------------------------- */

/* x = 1..9 as a 3×3 image (row iy = 1+3iy, 2+3iy, 3+3iy), one channel. */
static const float img3[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

static float *conv_on(gk_backend *b, int wtype, const float *w, int64_t kw, int64_t kh, int64_t cin, int64_t cout,
                      const float *x, int64_t W, int64_t H, int64_t N, const float *bias, int stride, int pad,
                      int64_t *ny) {
    gk_conv2d_params cp = {stride, pad};
    int64_t wo = (W + 2 * pad - kw) / stride + 1, ho = (H + 2 * pad - kh) / stride + 1;
    gk_tensor tw = t4(b, wtype, kw, kh, cin, cout, w), tx = t4(b, GK_F32, W, H, cin, N, x);
    gk_tensor ty = t4(b, GK_F32, wo, ho, cout, N, NULL), tb;
    if (bias) tb = t4(b, GK_F32, cout, 1, 1, 1, bias);
    must_run(b, gk_conv2d(b, &ty, &tw, &tx, bias ? &tb : NULL, &cp), "conv2d");
    float *y = get(b, &ty);
    *ny = gk_nelements(&ty);
    drop(b, &tw), drop(b, &tx), drop(b, &ty);
    if (bias) drop(b, &tb);
    return y;
}

static void test_ref_conv2d(void **state) {
    gk_backend *b = open_backend("ref", NULL, 1);
    int64_t n;
    /* 3×3 of ones, stride 1, pad 1, bias 0.5: each output is the sum of its 3×3 neighbourhood
     * inside the image, + 0.5. Corner (0,0): 1+2+4+5 = 12; edge (0,1): 1+2+3+4+5+6 = 21; centre 45. */
    const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, half = 0.5f;
    const float sums[9] = {12.5f, 21.5f, 16.5f, 27.5f, 45.5f, 33.5f, 24.5f, 39.5f, 28.5f};
    const int wtypes[] = {GK_F32, GK_F16, GK_BF16};   /* small integers: exact in every kernel type */
    for (int t = 0; t < 3; t++) {
        float *y = conv_on(b, wtypes[t], ones, 3, 3, 1, 1, img3, 3, 3, 1, &half, 1, 1, &n);
        assert_int_equal(n, 9);
        expect_values("conv2d 3x3 ones", y, sums, 9, 0);
        free(y);
    }
    /* The same with stride 2: Wo = (3 + 2 − 3)/2 + 1 = 2, windows centred on (0,0), (0,2), (2,0),
     * (2,2): the four corner sums. */
    float *y = conv_on(b, GK_F32, ones, 3, 3, 1, 1, img3, 3, 3, 1, NULL, 2, 1, &n);
    assert_int_equal(n, 4);
    expect_values("conv2d stride 2", y, (const float[]){12, 16, 24, 28}, 4, 0);
    free(y);
    /* Orientation: only tap (kx 2, ky 0) set, so y[oy][ox] = x[oy−1][ox+1] (0 outside): row 0 is
     * all padding; row 1 reads image row 0 shifted left (2, 3, 0); row 2 image row 1 (5, 6, 0). */
    const float tr[9] = {0, 0, 1, 0, 0, 0, 0, 0, 0};
    y = conv_on(b, GK_F32, tr, 3, 3, 1, 1, img3, 3, 3, 1, NULL, 1, 1, &n);
    expect_values("conv2d tap (2,0)", y, (const float[]){0, 0, 0, 2, 3, 0, 5, 6, 0}, 9, 0);
    free(y);
    /* 1×1, 2 channels in and out, 2 images of 2×1: w[co][ci] = {{1, 2}, {3, −1}};
     * image 0: c0 = (1, 2), c1 = (3, 4) -> co0 = c0 + 2·c1 = (7, 10), co1 = 3·c0 − c1 = (0, 2);
     * image 1: c0 = (5, 6), c1 = (7, 8) -> co0 = (19, 22), co1 = (8, 10). */
    const float w11[4] = {1, 2, 3, -1}, x11[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    y = conv_on(b, GK_F32, w11, 1, 1, 2, 2, x11, 2, 1, 2, NULL, 1, 0, &n);
    expect_values("conv2d 1x1", y, (const float[]){7, 10, 0, 2, 19, 22, 8, 10}, 8, 0);
    free(y);
    gk_backend_close(b);
}

static void test_ref_norms(void **state) {
    gk_backend *b = open_backend("ref", NULL, 1);
    /* group_norm of one 2×1 image of 2 channels, c0 = (1, 3), c1 = (5, 7), gamma (1, 2), beta (0, 1):
     * one group: mean 4, variance (9+1+1+9)/4 = 5: c0 -> (−3, −1)/√5 = (−1.3416408, −0.4472136),
     * c1 -> 2·(1, 3)/√5 + 1 = (1.8944272, 3.6832816);
     * two groups: each channel alone, mean 2 or 6, variance 1: c0 -> (−1, 1), c1 -> 2·(−1, 1) + 1. */
    const float x[4] = {1, 3, 5, 7}, gamma[2] = {1, 2}, beta[2] = {0, 1};
    const float one_group[4] = {-1.3416408f, -0.4472136f, 1.8944272f, 3.6832816f}, two[4] = {-1, 1, -1, 3};
    for (int g = 1; g <= 2; g++) {
        gk_tensor tx = t4(b, GK_F32, 2, 1, 2, 1, x), ty = t4(b, GK_F32, 2, 1, 2, 1, NULL);
        gk_tensor tg = t4(b, GK_F32, 2, 1, 1, 1, gamma), tb = t4(b, GK_F32, 2, 1, 1, 1, beta);
        must_run(b, gk_group_norm(b, &ty, &tx, &tg, &tb, g, 0.0f), "group_norm");
        float *y = get(b, &ty);
        expect_values(g == 1 ? "group_norm, 1 group" : "group_norm, 2 groups", y, g == 1 ? one_group : two, 4, 1e-6);
        /* in place gives the same */
        must_run(b, gk_group_norm(b, &tx, &tx, &tg, &tb, g, 0.0f), "group_norm in place");
        free(y);
        y = get(b, &tx);
        expect_values("group_norm in place", y, g == 1 ? one_group : two, 4, 1e-6);
        free(y);
        drop(b, &tx), drop(b, &ty), drop(b, &tg), drop(b, &tb);
    }
    /* layer_norm of rows (1, 2, 3, 4) and (2, 2, 2, 2), gamma 1, beta (0, 0, 0, 0.5), eps 1e-5:
     * row 0: mean 2.5, variance 1.25: (±1.5, ±0.5)/√1.25 = (−1.3416408, −0.4472136, 0.4472136,
     * 1.3416408 + 0.5) (to 1e-5 relative for eps); row 1: variance 0, x − mean = 0: y = beta. */
    const float lx[8] = {1, 2, 3, 4, 2, 2, 2, 2}, lg[4] = {1, 1, 1, 1}, lb[4] = {0, 0, 0, 0.5f};
    gk_tensor tx = t4(b, GK_F32, 4, 2, 1, 1, lx), ty = t4(b, GK_F32, 4, 2, 1, 1, NULL);
    gk_tensor tg = t4(b, GK_F32, 4, 1, 1, 1, lg), tb = t4(b, GK_F32, 4, 1, 1, 1, lb);
    must_run(b, gk_layer_norm(b, &ty, &tx, &tg, &tb, 1e-5f), "layer_norm");
    float *y = get(b, &ty);
    expect_values("layer_norm", y,
                  (const float[]){-1.3416408f, -0.4472136f, 0.4472136f, 1.8416408f, 0, 0, 0, 0.5f}, 8, 2e-5);
    free(y);
    drop(b, &tx), drop(b, &ty), drop(b, &tg), drop(b, &tb);
    gk_backend_close(b);
}

static void test_ref_elementwise(void **state) {
    gk_backend *b = open_backend("ref", NULL, 1);
    /* At x = 0, 1, −2, 3 (computed in double from the definitions):
     * gelu (tanh form) 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))): 0, 0.8411920, −0.0454023, 2.9963626;
     * gelu_quick x·σ(1.702x): 0, 0.8457958, −0.0643414, 2.9819287;
     * silu x·σ(x): 0, 0.7310586, −0.2384058, 2.8577224. */
    const float x[4] = {0, 1, -2, 3};
    const float want[3][4] = {{0, 0.8411920f, -0.0454023f, 2.9963626f},
                              {0, 0.8457958f, -0.0643414f, 2.9819287f},
                              {0, 0.7310586f, -0.2384058f, 2.8577224f}};
    for (int op = 0; op < 3; op++) {
        gk_tensor tx = t4(b, GK_F32, 2, 2, 1, 1, x), ty = t4(b, GK_F32, 2, 2, 1, 1, NULL);
        int rc = op == 0 ? gk_gelu(b, &ty, &tx) : op == 1 ? gk_gelu_quick(b, &ty, &tx) : gk_silu(b, &ty, &tx);
        must_run(b, rc, "activation");
        float *y = get(b, &ty);
        expect_values(op == 0 ? "gelu" : op == 1 ? "gelu_quick" : "silu", y, want[op], 4, 1e-6);
        free(y);
        drop(b, &tx), drop(b, &ty);
    }
    /* geglu of the row (1, 2 | 0, 1): value half (1, 2), gate half (0, 1): (1·gelu(0), 2·gelu(1)) =
     * (0, 1.6823840). */
    gk_tensor tx = t4(b, GK_F32, 4, 1, 1, 1, (const float[]){1, 2, 0, 1}), ty = t4(b, GK_F32, 2, 1, 1, 1, NULL);
    must_run(b, gk_geglu(b, &ty, &tx), "geglu");
    float *y = get(b, &ty);
    expect_values("geglu", y, (const float[]){0, 1.6823840f}, 2, 1e-6);
    free(y);
    drop(b, &tx), drop(b, &ty);
    gk_backend_close(b);
}

static void test_ref_layout(void **state) {
    gk_backend *b = open_backend("ref", NULL, 1);
    /* upsample2x of the 2×2 image (1 2 / 3 4): every value twice across, every row twice down. */
    gk_tensor tx = t4(b, GK_F32, 2, 2, 1, 1, (const float[]){1, 2, 3, 4}), ty = t4(b, GK_F32, 4, 4, 1, 1, NULL);
    must_run(b, gk_upsample2x(b, &ty, &tx), "upsample2x");
    float *y = get(b, &ty);
    expect_values("upsample2x", y, (const float[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 16, 0);
    free(y), drop(b, &tx), drop(b, &ty);
    /* concat of a (1×1 images, 2 channels, 2 images: (1, 2), (3, 4)) and c (1 channel: 5, 6):
     * each image's channels of a, then of c: (1, 2, 5), (3, 4, 6). */
    gk_tensor ta = t4(b, GK_F32, 1, 1, 2, 2, (const float[]){1, 2, 3, 4}), tc = t4(b, GK_F32, 1, 1, 1, 2, (const float[]){5, 6});
    ty = t4(b, GK_F32, 1, 1, 3, 2, NULL);
    must_run(b, gk_concat(b, &ty, &ta, &tc), "concat");
    y = get(b, &ty);
    expect_values("concat", y, (const float[]){1, 2, 5, 3, 4, 6}, 6, 0);
    free(y), drop(b, &ty);
    /* add_channel on a (1×1 images, 2 channels, 2 images: 1, 2 | 3, 4): v (10, 20) for every image
     * -> 11, 22 | 13, 24; v per image (10, 20 | 30, 40) -> 11, 22 | 33, 44. */
    gk_tensor v1 = t4(b, GK_F32, 2, 1, 1, 1, (const float[]){10, 20}), v2 = t4(b, GK_F32, 2, 2, 1, 1, (const float[]){10, 20, 30, 40});
    ty = t4(b, GK_F32, 1, 1, 2, 2, NULL);
    must_run(b, gk_add_channel(b, &ty, &ta, &v1), "add_channel");
    y = get(b, &ty);
    expect_values("add_channel, one v", y, (const float[]){11, 22, 13, 24}, 4, 0);
    free(y);
    must_run(b, gk_add_channel(b, &ty, &ta, &v2), "add_channel");
    y = get(b, &ty);
    expect_values("add_channel, v per image", y, (const float[]){11, 22, 33, 44}, 4, 0);
    free(y), drop(b, &ty), drop(b, &ta), drop(b, &tc), drop(b, &v1), drop(b, &v2);
    /* cont of the transposed view of the 3×2 matrix (1 2 3 / 4 5 6): its columns become rows. */
    gk_tensor m = t4(b, GK_F32, 3, 2, 1, 1, (const float[]){1, 2, 3, 4, 5, 6}), mt;
    assert_int_equal(gk_view_transposed(&mt, &m), 0);
    ty = t4(b, GK_F32, 2, 3, 1, 1, NULL);
    must_run(b, gk_cont(b, &ty, &mt), "cont");
    y = get(b, &ty);
    expect_values("cont", y, (const float[]){1, 4, 2, 5, 3, 6}, 6, 0);
    free(y), drop(b, &ty), drop(b, &m);
    gk_backend_close(b);
}

static void test_ref_timestep_attention(void **state) {
    gk_backend *b = open_backend("ref", NULL, 1);
    /* timestep_embed of t = (0, 1), dim 4, max_period 10000: frequencies 10000^(−i/2) = 1, 0.01;
     * t = 0: (cos 0, cos 0, sin 0, sin 0) = (1, 1, 0, 0);
     * t = 1: (cos 1, cos 0.01, sin 1, sin 0.01) = (0.5403023, 0.99995, 0.8414710, 0.0099998). */
    gk_tensor t = t4(b, GK_F32, 2, 1, 1, 1, (const float[]){0, 1}), y = t4(b, GK_F32, 4, 2, 1, 1, NULL);
    must_run(b, gk_timestep_embed(b, &y, &t, 4, 10000.0f), "timestep_embed");
    float *v = get(b, &y);
    expect_values("timestep_embed", v, (const float[]){1, 1, 0, 0, 0.5403023f, 0.99995f, 0.8414710f, 0.0099998f}, 8,
                  1e-7);
    free(v), drop(b, &t), drop(b, &y);
    /* full_attention, 2 heads of 1 dimension, 1 query, 2 keys, scale 1: q = (0 | 1), keys
     * (5 | 0) and (7 | ln 3), values (1 | 1) and (3 | 3). Head 0: scores 0, 0: the mean of the values, 2.
     * Head 1: scores 0, ln 3: weights 1/4, 3/4: 1/4 + 9/4 = 2.5. */
    const float l3 = logf(3.0f);
    gk_tensor q = t4(b, GK_F32, 2, 1, 1, 1, (const float[]){0, 1}), k = t4(b, GK_F32, 2, 2, 1, 1, (const float[]){5, 0, 7, l3});
    gk_tensor vv = t4(b, GK_F32, 2, 2, 1, 1, (const float[]){1, 1, 3, 3}), o = t4(b, GK_F32, 2, 1, 1, 1, NULL);
    gk_full_attn_params ap = {.n_head = 2, .head_dim = 1, .scale = 1.0f};
    must_run(b, gk_full_attention(b, &o, &q, &k, &vv, &ap), "full_attention");
    v = get(b, &o);
    expect_values("full_attention", v, (const float[]){2, 2.5f}, 2, 1e-6);
    free(v), drop(b, &q), drop(b, &k), drop(b, &vv), drop(b, &o);
    gk_backend_close(b);
}

/* ---- cpu against ref ------------------------------------------------------------------------ */

typedef struct conv_case {
    int64_t W, H, cin, cout, N, k;
    int stride, pad, wtype;
} conv_case;

/* Shapes: odd sizes with stride 1 and 2 (3×3, pad 1), 3×3 pad 0, 1×1 direct and 1×1 stride 2;
 * channels that are no multiple of the micro-kernel's MR (4, 6, 8) or NR (4, 12, 16, 32); K = 279
 * (two KC = 256 slices); 180 output pixels (two 128-pixel units, the second partial); H = 1;
 * F16 and BF16 kernels; batch 2. */
static const conv_case conv_cases[] = {
    {7, 5, 3, 5, 2, 3, 1, 1, GK_F32},   {9, 7, 13, 11, 1, 3, 2, 1, GK_F32}, {6, 5, 10, 7, 2, 3, 2, 1, GK_F16},
    {5, 3, 17, 9, 2, 1, 1, 0, GK_F32},  {11, 1, 3, 4, 1, 3, 1, 1, GK_BF16}, {20, 9, 5, 70, 1, 3, 1, 1, GK_F32},
    {10, 9, 31, 13, 1, 3, 1, 1, GK_F16}, {7, 7, 6, 5, 2, 1, 2, 0, GK_F32},  {6, 6, 3, 4, 1, 3, 1, 0, GK_BF16},
    {1, 1, 8, 3, 2, 3, 1, 1, GK_F32},
};

static void conv_all(pair *p) {
    for (size_t i = 0; i < sizeof conv_cases / sizeof *conv_cases; i++) {
        conv_case c = conv_cases[i];
        int64_t nw = c.k * c.k * c.cin * c.cout, nx = c.W * c.H * c.cin * c.N, n[3];
        float *w = rand_vec(nw, 1.0f), *x = rand_vec(nx, 1.0f), *bias = rand_vec(c.cout, 1.0f);
        float *aw = malloc((size_t)nw * sizeof *aw), *ax = malloc((size_t)nx * sizeof *ax);
        /* the kernel as its type stores it, so |w| below is what both backends multiply */
        float *wq = malloc((size_t)nw * sizeof *wq);
        void *bytes = malloc(gk_type_bytes(c.wtype, nw));
        gk_type_get(c.wtype)->from_f32(w, bytes, nw);
        gk_type_get(c.wtype)->to_f32(bytes, wq, nw);
        free(bytes);
        for (int64_t j = 0; j < nw; j++) aw[j] = fabsf(wq[j]);
        for (int64_t j = 0; j < nx; j++) ax[j] = fabsf(x[j]);
        float *yr = conv_on(p->ref, c.wtype, w, c.k, c.k, c.cin, c.cout, x, c.W, c.H, c.N, bias, c.stride, c.pad, &n[0]);
        float *yc = conv_on(p->cpu, c.wtype, w, c.k, c.k, c.cin, c.cout, x, c.W, c.H, c.N, bias, c.stride, c.pad, &n[1]);
        /* Σ|w·x| of each output: the same convolution of the magnitudes */
        float *mag = conv_on(p->ref, GK_F32, aw, c.k, c.k, c.cin, c.cout, ax, c.W, c.H, c.N, NULL, c.stride, c.pad, &n[2]);
        assert_int_equal(n[0], n[1]);
        /* Float sums of K <= 279 products against ref's double: a recursive sum errs by at most
         * K·2^-24 ≈ 1.7e-5 of Σ|w·x| (the bias is added exactly first); the products are the same
         * (the kernel converted to F32 exactly on both). (Seen: at most 2.9e-7 of Σ|w·x|; one
         * wrong or missing tap is typically ~1/K ≈ 4e-3 of it.) */
        for (int64_t j = 0; j < n[0]; j++)
            if (!(fabs((double)yr[j] - yc[j]) <= 2e-5 * mag[j] + 1e-6))
                fail_msg("conv2d %lldx%lldx%lld->%lld N=%lld %lldx%lld s%d p%d %s (%s): y[%lld] ref %.7g cpu %.7g",
                         (long long)c.W, (long long)c.H, (long long)c.cin, (long long)c.cout, (long long)c.N,
                         (long long)c.k, (long long)c.k, c.stride, c.pad, gk_type_name(c.wtype), p->label,
                         (long long)j, (double)yr[j], (double)yc[j]);
        free(w), free(x), free(bias), free(aw), free(ax), free(wq), free(yr), free(yc), free(mag);
    }
}

static void test_conv2d(void **state) { for_each_config(conv_all); }

/* Runs a norm on both and compares. The statistics of one group or row are float partial sums of
 * at most 512 values added in double, so mean and variance err by <= 512·2^-24 ≈ 3e-5 of Σ|x|/cnt
 * and Σ(x−m)²/cnt (worst case); with |x| <= 2 here that moves y = (x − m)/σ·γ + β, |γ| <= 1, by
 * under 1e-4·(1 + |y|). */
static void norm_case(pair *p, bool group, int64_t W, int64_t H, int64_t C, int64_t N, int groups) {
    const int64_t n = W * H * C * N, nc = group ? C : W;
    float *x = rand_vec(n, 2.0f), *g = rand_vec(nc, 1.0f), *be = rand_vec(nc, 1.0f), *y[2];
    for (int64_t i = 0; i < n; i++) x[i] += 0.5f;   /* a mean away from 0 */
    gk_backend *bs[2] = {p->ref, p->cpu};
    for (int i = 0; i < 2; i++) {
        gk_backend *b = bs[i];
        gk_tensor tx = t4(b, GK_F32, W, H, C, N, x), ty = t4(b, GK_F32, W, H, C, N, NULL);
        gk_tensor tg = t4(b, GK_F32, nc, 1, 1, 1, g), tb = t4(b, GK_F32, nc, 1, 1, 1, be);
        must_run(b, group ? gk_group_norm(b, &ty, &tx, &tg, &tb, groups, 1e-6f) : gk_layer_norm(b, &ty, &tx, &tg, &tb, 1e-5f),
                 group ? "group_norm" : "layer_norm");
        y[i] = get(b, &ty);
        drop(b, &tx), drop(b, &ty), drop(b, &tg), drop(b, &tb);
    }
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)y[0][i] - y[1][i]) <= 1e-4 * (1 + fabs((double)y[0][i]))))
            fail_msg("%s %lldx%lldx%lldx%lld (%s): y[%lld] ref %.7g cpu %.7g", group ? "group_norm" : "layer_norm",
                     (long long)W, (long long)H, (long long)C, (long long)N, p->label, (long long)i, (double)y[0][i],
                     (double)y[1][i]);
    free(x), free(g), free(be), free(y[0]), free(y[1]);
}

static void norms_all(pair *p) {
    norm_case(p, true, 7, 5, 12, 2, 4);     /* 3 channels a group, odd plane, batch 2 */
    norm_case(p, true, 3, 3, 32, 1, 32);    /* one channel a group */
    norm_case(p, true, 33, 17, 6, 1, 2);    /* 1683 values a group: several 512-value runs */
    norm_case(p, false, 77, 3, 2, 1, 0);    /* CLIP-like rows of 77 (no multiple of 8) */
    norm_case(p, false, 5, 1, 1, 1, 0);
}

static void test_norms(void **state) { for_each_config(norms_all); }

/* Activations: n crosses the 4096-value work rows; the inputs include ±88..±100 (gk_exp_fast's
 * clamp) and 0. gk_exp_fast is within 2 ulp of e^x, so x/(1 + e^−kx) errs by a few ulp of the
 * result, and gelu's 1 − 2/(e^{2u} + 1) by ~2^-23 absolute in tanh, times 0.5|x|: all inside
 * 1e-6·(1 + |x|). */
static void elementwise_all(pair *p) {
    const int64_t n = 2 * 4096 + 37;
    float *x = rand_vec(n, 6.0f);
    const float edge[] = {0, -100, -90, -88.5f, 88.5f, 90, 100, 1e-8f, -1e-8f};
    memcpy(x, edge, sizeof edge);
    for (int op = 0; op < 4; op++) {
        float *y[2];
        gk_backend *bs[2] = {p->ref, p->cpu};
        for (int i = 0; i < 2; i++) {
            gk_backend *b = bs[i];
            /* geglu: one row of 2·(n/2) values (n is odd); a 2-D case follows */
            gk_tensor tx = t4(b, GK_F32, op == 3 ? n - 1 : n, 1, 1, 1, x);
            gk_tensor ty = t4(b, GK_F32, op == 3 ? n / 2 : n, 1, 1, 1, NULL);
            int rc = op == 0 ? gk_gelu(b, &ty, &tx) : op == 1 ? gk_gelu_quick(b, &ty, &tx)
                     : op == 2 ? gk_silu(b, &ty, &tx) : gk_geglu(b, &ty, &tx);
            must_run(b, rc, "activation");
            y[i] = get(b, &ty);
            drop(b, &tx), drop(b, &ty);
        }
        const char *name = op == 0 ? "gelu" : op == 1 ? "gelu_quick" : op == 2 ? "silu" : "geglu";
        for (int64_t i = 0; i < (op == 3 ? n / 2 : n); i++) {
            double xv = op == 3 ? fabs((double)x[i]) * fabs((double)x[n / 2 + i]) : fabs((double)x[i]);
            if (!(fabs((double)y[0][i] - y[1][i]) <= 1e-6 * (1 + xv)))
                fail_msg("%s (%s): x %.7g: ref %.9g cpu %.9g", name, p->label, (double)x[i], (double)y[0][i],
                         (double)y[1][i]);
        }
        free(y[0]), free(y[1]);
    }
    /* geglu on 5 rows of 2·37 */
    float *y[2];
    gk_backend *bs[2] = {p->ref, p->cpu};
    for (int i = 0; i < 2; i++) {
        gk_tensor tx = t4(bs[i], GK_F32, 74, 5, 1, 1, x), ty = t4(bs[i], GK_F32, 37, 5, 1, 1, NULL);
        must_run(bs[i], gk_geglu(bs[i], &ty, &tx), "geglu");
        y[i] = get(bs[i], &ty);
        drop(bs[i], &tx), drop(bs[i], &ty);
    }
    for (int r = 0; r < 5; r++)
        for (int i = 0; i < 37; i++) {
            double xv = fabs((double)x[r * 74 + i]) * fabs((double)x[r * 74 + 37 + i]);
            if (!(fabs((double)y[0][r * 37 + i] - y[1][r * 37 + i]) <= 1e-6 * (1 + xv)))
                fail_msg("geglu 74x5 (%s): row %d value %d: ref %.9g cpu %.9g", p->label, r, i,
                         (double)y[0][r * 37 + i], (double)y[1][r * 37 + i]);
        }
    free(y[0]), free(y[1]), free(x);
}

static void test_elementwise(void **state) { for_each_config(elementwise_all); }

/* Layout ops move values: cpu must equal ref bit for bit. Image sizes 7×5 (planes of 35 values:
 * the cpu's add_channel runs by image) and 9×8 (72: by plane); cont both ways between pixels
 * and tokens (the UNet's two permuted views: tiled copies on cpu); add_channel on planes of one
 * value (a linear layer's bias, as bench/sd adds it). */
static void layout_case(pair *p, int64_t W, int64_t H) {
    const int64_t ca = 3, cc = 5, N = 2;
    float *a = rand_vec(W * H * ca * N, 1.0f), *c = rand_vec(W * H * cc * N, 1.0f), *v = rand_vec(ca * N, 1.0f);
    float *t = rand_vec(3, 500.0f), *lin = rand_vec(cc * 11, 1.0f);
    t[0] = 999, t[1] = 0.5f;
    gk_backend *bs[2] = {p->ref, p->cpu};
    enum { NOUT = 8 };
    float *out[2][NOUT];
    int64_t len[NOUT];
    for (int i = 0; i < 2; i++) {
        gk_backend *b = bs[i];
        gk_tensor ta = t4(b, GK_F32, W, H, ca, N, a), tc = t4(b, GK_F32, W, H, cc, N, c);
        gk_tensor up = t4(b, GK_F32, 2 * W, 2 * H, ca, N, NULL), cat = t4(b, GK_F32, W, H, ca + cc, N, NULL);
        gk_tensor v1 = t4(b, GK_F32, ca, 1, 1, 1, v), v2 = t4(b, GK_F32, ca, N, 1, 1, v);
        gk_tensor ad1 = t4(b, GK_F32, W, H, ca, N, NULL), ad2 = t4(b, GK_F32, W, H, ca, N, NULL);
        gk_tensor tt = t4(b, GK_F32, 3, 1, 1, 1, t), emb = t4(b, GK_F32, 320, 3, 1, 1, NULL);
        gk_tensor tl = t4(b, GK_F32, 1, 1, cc, 11, lin), bl = t4(b, GK_F32, cc, 1, 1, 1, c);
        /* cont: tokens {C, W·H, N} from the image {W, H, C, N} through a permuted view, and back */
        gk_tensor view, back, tok = t4(b, GK_F32, cc, W * H, N, 1, NULL), img = t4(b, GK_F32, W, H, cc, N, NULL);
        const int64_t vne[4] = {cc, W * H, N, 1}, bne[4] = {W, H, cc, N};
        const size_t vnb[4] = {(size_t)(W * H) * 4, 4, (size_t)(W * H * cc) * 4, (size_t)(W * H * cc * N) * 4};
        const size_t bnb[4] = {(size_t)cc * 4, (size_t)(cc * W) * 4, 4, (size_t)(cc * W * H) * 4};
        assert_int_equal(gk_view(&view, &tc, 0, vne, vnb), 0);
        must_run(b, gk_upsample2x(b, &up, &ta), "upsample2x");
        must_run(b, gk_concat(b, &cat, &ta, &tc), "concat");
        must_run(b, gk_add_channel(b, &ad1, &ta, &v1), "add_channel");
        must_run(b, gk_add_channel(b, &ad2, &ta, &v2), "add_channel");
        must_run(b, gk_add_channel(b, &tl, &tl, &bl), "add_channel in place, planes of 1");
        must_run(b, gk_timestep_embed(b, &emb, &tt, 320, 10000.0f), "timestep_embed");
        must_run(b, gk_cont(b, &tok, &view), "cont");
        assert_int_equal(gk_view(&back, &tok, 0, bne, bnb), 0);
        must_run(b, gk_cont(b, &img, &back), "cont back");
        gk_tensor *res[NOUT] = {&up, &cat, &ad1, &ad2, &emb, &tok, &img, &tl};
        for (int r = 0; r < NOUT; r++) out[i][r] = get(b, res[r]), len[r] = gk_nelements(res[r]);
        gk_tensor *all[] = {&ta, &tc, &up, &cat, &v1, &v2, &ad1, &ad2, &tt, &emb, &tok, &img, &tl, &bl};
        for (size_t r = 0; r < sizeof all / sizeof *all; r++) drop(b, all[r]);
    }
    const char *const names[NOUT] = {"upsample2x", "concat", "add_channel (one v)", "add_channel (v per image)",
                                     "timestep_embed", "cont to tokens", "cont to pixels", "add_channel (planes of 1)"};
    for (int r = 0; r < NOUT; r++) expect_values(names[r], out[1][r], out[0][r], len[r], 0);
    /* and cont's result is the transpose it claims: token t of image n, channel ch = c[n][ch][t];
     * back to pixels it is c again */
    for (int64_t n = 0; n < N; n++)
        for (int64_t q = 0; q < W * H; q++)
            for (int64_t ch = 0; ch < cc; ch++)
                assert_true(out[0][5][(n * W * H + q) * cc + ch] == c[(n * cc + ch) * W * H + q]);
    expect_values("cont there and back", out[1][6], c, W * H * cc * N, 0);
    for (int r = 0; r < NOUT; r++) free(out[0][r]), free(out[1][r]);
    free(a), free(c), free(v), free(t), free(lin);
}

static void layout_all(pair *p) {
    layout_case(p, 7, 5);
    layout_case(p, 9, 8);
}

static void test_layout(void **state) { for_each_config(layout_all); }

typedef struct fa_case {
    int n_head, hd;
    int64_t tq, tk, n;
    float qscale;
} fa_case;

/* Tq not a multiple of NR, Tk not of the key tile (96) and below it, head_dim 40 (SD's), 13 and
 * 1 (no multiple of MR), one key, batch 2, Tq = 150 (more than one block of 4 NR-query panels), and q scaled so scores spread over ±12: the running
 * maximum then changes between key tiles and the rescaling is exercised. */
static const fa_case fa_cases[] = {
    {2, 40, 37, 101, 2, 1.0f}, {1, 8, 1, 1, 1, 1.0f},  {3, 13, 5, 200, 1, 1.0f},
    {2, 40, 33, 230, 1, 8.0f}, {4, 1, 9, 7, 2, 1.0f},   {1, 8, 150, 20, 1, 1.0f},
    {1, 512, 5, 100, 1, 1.0f},   /* the VAE's single-head attention: head_dim 512 */
};

static void attention_all(pair *p) {
    for (size_t i = 0; i < sizeof fa_cases / sizeof *fa_cases; i++) {
        fa_case c = fa_cases[i];
        const int64_t d = (int64_t)c.n_head * c.hd;
        float *q = rand_vec(d * c.tq * c.n, c.qscale), *k = rand_vec(d * c.tk * c.n, 1.5f),
              *v = rand_vec(d * c.tk * c.n, 1.0f), *y[2];
        gk_full_attn_params ap = {c.n_head, c.hd, 1.0f / sqrtf((float)c.hd)};
        gk_backend *bs[2] = {p->ref, p->cpu};
        for (int j = 0; j < 2; j++) {
            gk_backend *b = bs[j];
            gk_tensor tq = t4(b, GK_F32, d, c.tq, c.n, 1, q), tk = t4(b, GK_F32, d, c.tk, c.n, 1, k);
            gk_tensor tv = t4(b, GK_F32, d, c.tk, c.n, 1, v), to = t4(b, GK_F32, d, c.tq, c.n, 1, NULL);
            must_run(b, gk_full_attention(b, &to, &tq, &tk, &tv, &ap), "full_attention");
            y[j] = get(b, &to);
            drop(b, &tq), drop(b, &tk), drop(b, &tv), drop(b, &to);
        }
        /* Outputs are convex combinations of values in [-1, 1], so an error δ in every score
         * moves one by at most 2δ (∂out/∂s_j = p_j(v_j − out)). The cpu's float scores err by
         * about √hd·2^-24·Σ|q·k|·scale (rounding errors of random sign: <= 2e-6 for head_dim 512,
         * 2e-7 for 40), its exponentials by 2 ulp, its sums of <= 230 weights by <= 230·2^-24
         * ≈ 1.4e-5 relative: |Δ| <= 3e-5. (Seen: at most 1.1e-6, in the widely spread case.) */
        for (int64_t e = 0; e < d * c.tq * c.n; e++)
            if (!(fabs((double)y[0][e] - y[1][e]) <= 3e-5))
                fail_msg("full_attention heads %d hd %d Tq %lld Tk %lld N %lld (%s): element %lld ref %.7g cpu %.7g",
                         c.n_head, c.hd, (long long)c.tq, (long long)c.tk, (long long)c.n, p->label, (long long)e,
                         (double)y[0][e], (double)y[1][e]);
        free(q), free(k), free(v), free(y[0]), free(y[1]);
    }
}

static void test_full_attention(void **state) { for_each_config(attention_all); }

/* gk_exp_fast against libm's exp over the range softmax meets (and beyond, the clamp). */
static void test_exp_fast(void **state) {
    for (int i = -2000; i <= 2000; i++) {
        float x = (float)i * 0.05f;   /* −100 .. 100 */
        double want = exp((double)(x < -87.3365f ? -87.3365f : x > 88.3762f ? 88.3762f : x));
        double got = gk_exp_fast(x);
        if (!(fabs(got - want) <= 3e-7 * want))
            fail_msg("gk_exp_fast(%g) = %.9g, e^x = %.9g", (double)x, got, want);
    }
    assert_true(gk_exp_fast(-INFINITY) < 1.3e-38f && gk_exp_fast(-INFINITY) >= 0);
    assert_true(gk_exp_fast(INFINITY) > 2e38f);
}

/* ---- bad calls and supports() --------------------------------------------------------------- */

static void expect_refused(gk_backend *b, int rc, const char *msg) {
    if (rc == 0) fail_msg("%s: accepted, expected refusal with \"%s\"", b->name, msg);
    assert_int_equal(rc, -1);
    if (!strstr(gk_backend_error(b), msg))
        fail_msg("%s: error \"%s\", expected it to contain \"%s\"", b->name, gk_backend_error(b), msg);
}

static void test_bad_calls(void **state) {
    const char *names[] = {"ref", "cpu"};
    for (int i = 0; i < 2; i++) {
        gk_backend *b = open_backend(names[i], NULL, 1);
        gk_tensor x = t4(b, GK_F32, 5, 5, 3, 2, NULL), w = t4(b, GK_F32, 3, 3, 3, 4, NULL);
        gk_tensor wq = t4(b, GK_Q8_0, 32, 1, 1, 1, NULL), w2 = t4(b, GK_F32, 3, 3, 2, 4, NULL);
        gk_tensor y = t4(b, GK_F32, 5, 5, 4, 2, NULL), ybad = t4(b, GK_F32, 4, 5, 4, 2, NULL);
        gk_tensor bias5 = t4(b, GK_F32, 5, 1, 1, 1, NULL), g3 = t4(b, GK_F32, 3, 1, 1, 1, NULL);
        gk_conv2d_params s1 = {1, 1}, s0 = {0, 1};
        expect_refused(b, gk_conv2d(b, &ybad, &w, &x, NULL, &s1), "conv2d: y is 4x5x4x2, expected 5x5x4x2");
        expect_refused(b, gk_conv2d(b, &y, &w, &x, NULL, &s0), "conv2d: bad parameters");
        expect_refused(b, gk_conv2d(b, &y, &w, &x, NULL, NULL), "conv2d: no parameters");
        expect_refused(b, gk_conv2d(b, &y, &w2, &x, NULL, &s1), "conv2d: kernel has 2 input channels, x has 3");
        expect_refused(b, gk_conv2d(b, &y, &wq, &x, NULL, &s1), "conv2d: kernel type q8_0 not supported");
        expect_refused(b, gk_conv2d(b, &y, &w, &x, &bias5, &s1), "conv2d: bias has 5 elements, expected 4");
        gk_tensor xv;   /* x as a strided view: every other column */
        const size_t nb[4] = {8, x.nb[1], x.nb[2], x.nb[3]};
        assert_int_equal(gk_view(&xv, &x, 0, (const int64_t[]){2, 5, 3, 2}, nb), 0);
        gk_tensor y2 = t4(b, GK_F32, 2, 5, 4, 2, NULL);
        expect_refused(b, gk_conv2d(b, &y2, &w, &xv, NULL, &s1), "conv2d: x is a strided view");
        expect_refused(b, gk_conv2d(b, &x, &w, &x, NULL, &s1), "conv2d: y is 5x5x3x2, expected 5x5x4x2");
        expect_refused(b, gk_group_norm(b, &x, &x, &g3, &g3, 2, 1e-5f), "group_norm: 3 channels do not split into 2 groups");
        expect_refused(b, gk_group_norm(b, &x, &x, &bias5, &g3, 3, 1e-5f), "group_norm: gamma has 5 elements, expected 3");
        expect_refused(b, gk_group_norm(b, &y, &x, &g3, &g3, 3, 1e-5f), "group_norm: y is 5x5x4x2, expected 5x5x3x2");
        expect_refused(b, gk_layer_norm(b, &x, &x, &g3, &g3, 1e-5f), "layer_norm: gamma has 3 elements, expected 5");
        expect_refused(b, gk_gelu(b, &y, &x), "gelu: y is");
        expect_refused(b, gk_gelu_quick(b, &y, &x), "gelu_quick: y is");
        expect_refused(b, gk_silu(b, &y, &x), "silu: y is");
        expect_refused(b, gk_geglu(b, &y, &x), "geglu: x rows have 5 values, not an even number");
        expect_refused(b, gk_upsample2x(b, &y, &x), "upsample2x: y is 5x5x4x2, expected 10x10x3x2");
        expect_refused(b, gk_concat(b, &y, &x, &ybad), "concat: a is 5x5x3x2 and c is 4x5x4x2");
        expect_refused(b, gk_add_channel(b, &x, &x, &bias5), "add_channel: v is 5x1, expected 3x2 or 3x1");
        expect_refused(b, gk_timestep_embed(b, &y, &g3, 7, 10000.0f), "timestep_embed: bad parameters");
        expect_refused(b, gk_timestep_embed(b, &y, &g3, 8, 10000.0f), "timestep_embed: y is 5x5x4x2, expected 8x3x1x1");
        gk_full_attn_params ap = {.n_head = 2, .head_dim = 2, .scale = 1};
        gk_tensor q = t4(b, GK_F32, 4, 3, 1, 1, NULL), k = t4(b, GK_F32, 4, 6, 1, 1, NULL), kb = t4(b, GK_F32, 4, 5, 1, 1, NULL);
        gk_tensor o = t4(b, GK_F32, 4, 3, 1, 1, NULL);
        expect_refused(b, gk_full_attention(b, &o, &q, &k, &kb, &ap), "full_attention: v is 4x5x1x1, expected 4x6x1x1");
        expect_refused(b, gk_full_attention(b, &o, &q, &k, &k, NULL), "full_attention: no parameters");
        ap.head_dim = 3;
        expect_refused(b, gk_full_attention(b, &o, &q, &k, &k, &ap), "full_attention: q rows have 4 values, expected n_head*head_dim = 6");
        ap.head_dim = 2;
        expect_refused(b, gk_full_attention(b, &q, &q, &k, &k, &ap), "full_attention: the output overlaps q");
        expect_refused(b, gk_cont(b, &y, &x), "cont: y is 5x5x4x2, expected 5x5x3x2");
        gk_tensor *all[] = {&x, &w, &wq, &w2, &y, &ybad, &bias5, &g3, &y2, &q, &k, &kb, &o};
        for (size_t t = 0; t < sizeof all / sizeof *all; t++) drop(b, all[t]);
        gk_backend_close(b);
    }
}

static void test_supports(void **state) {
    const char *const *isas = gk_ukernels_available();
    for (int i = -1; isas[i + 1]; i++) {   /* ref, then cpu with every table */
        gk_backend *b = i < 0 ? open_backend("ref", NULL, 1) : open_backend("cpu", isas[i + 1], 1);
        for (int op = GK_OP_CONV2D; op <= GK_OP_CONT; op++) {
            assert_int_equal(gk_op_family((gk_op)op), GK_FAMILY_IMAGE);
            if (!gk_backend_supports(b, (gk_op)op, NULL, 0)) fail_msg("%s lacks %s", b->name, gk_op_name((gk_op)op));
        }
        const int kernels[] = {GK_F32, GK_F16, GK_BF16};
        for (int t = 0; t < 3; t++)
            assert_true(gk_backend_supports(b, GK_OP_CONV2D, (const int[]){GK_F32, kernels[t], GK_F32, GK_F32}, 4));
        assert_false(gk_backend_supports(b, GK_OP_CONV2D, (const int[]){GK_F32, GK_Q8_0}, 2));
        assert_non_null(strstr(gk_backend_error(b), "conv2d: tensor argument 1 (from 0) cannot be q8_0"));
        assert_false(gk_backend_supports(b, GK_OP_CONV2D, (const int[]){GK_F32, GK_F16, GK_F16}, 3));
        assert_false(gk_backend_supports(b, GK_OP_GROUP_NORM, (const int[]){GK_F16}, 1));
        assert_false(gk_backend_supports(b, GK_OP_FULL_ATTENTION, (const int[]){GK_F32, GK_F32, GK_F32, GK_F32, GK_F32}, 5));
        assert_non_null(strstr(gk_backend_error(b), "full_attention takes 4 tensors"));
        assert_true(gk_backend_supports(b, GK_OP_TIMESTEP_EMBED, (const int[]){GK_F32, GK_F32}, 2));
        gk_backend_close(b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_conv2d),     cmocka_unit_test(test_ref_norms),
        cmocka_unit_test(test_ref_elementwise), cmocka_unit_test(test_ref_layout),
        cmocka_unit_test(test_ref_timestep_attention), cmocka_unit_test(test_exp_fast),
        cmocka_unit_test(test_conv2d),         cmocka_unit_test(test_norms),
        cmocka_unit_test(test_elementwise),    cmocka_unit_test(test_layout),
        cmocka_unit_test(test_full_attention), cmocka_unit_test(test_bad_calls),
        cmocka_unit_test(test_supports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
