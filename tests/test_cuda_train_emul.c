/* The CUDA backend's train family (kernels/cuda/train.cuh) and its matmul forms without a GPU:
 * every block body runs in host emulation (kernels/cuda/simt.cuh), planned by the same
 * functions as the device launches (plan_train.cuh), threads of every region in forward and in
 * reverse order (a body that depends on thread order between barriers fails, and a shared-memory
 * race aborts), against the ref backend's oracle on small odd shapes, tolerances stated per op:
 *  - fill, embedding_backward (sorted, rows added in token order) bit for bit equal to ref;
 *  - silu_mul_backward, adamw, rope_backward, rmsnorm_backward (dx and the dw reduction),
 *    cross_entropy (losses and dlogits, in place too), sum_squares, attention_backward (causal,
 *    grouped-query, the softmax recomputed per tile) within F32 rounding of ref's double sums;
 *  - the out-of-range ids and targets raise the device error word;
 *  - the matmul forms training uses (dX = dY·W, dW += dYᵀ·X, every transpose pair, alpha and
 *    beta) as the backend issues them: the column-major GEMM calls of gk_plan_gemm_form run by a
 *    host GEMM, over F32 panels from the emulated dequantisation (q4_0, q8_0, q4_k, f16, bf16,
 *    q4_1, q6_k; an F32 W directly), several panels per weight;
 *  - the memory-transaction model's sector efficiency of the elementwise and row kernels
 *    (every global access whole sectors: 100%);
 *  - training end to end (bench/train, the tiny preset, full and LoRA on a Q4_0 base): a
 *    backend whose train ops and matmul forms are these emulated kernels, marshalled as
 *    backend.cu does, gives ref's losses and gradient norms step after step.
 * Buffers are 256-byte aligned like cudaMalloc, so misaligned vector accesses fail here too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/train/train.h"
#include "kernels/backend.h"
#include "kernels/cuda/rowops.cuh"
#include "kernels/cuda/train.cuh"
#include "kernels/op_checks.h"

#define EMUL_SEED 0x853c49e6748fea9bull
#include "tests/emul_util.h"

/* ---- helpers ------------------------------------------------------------------------------ */
static float *dup_f(const float *x, int64_t n) {
    float *p = dalloc((size_t)n * sizeof *p);
    memcpy(p, x, (size_t)n * sizeof *p);
    return p;
}

/* |got − want| <= atol + rtol·|want| everywhere; the first miss fails with its index. */
static void expect_close(const char *what, const float *got, const float *want, int64_t n, double atol, double rtol) {
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - want[i]);
        if (!(d <= atol + rtol * fabs(want[i])))
            fail_msg("%s: element %lld is %.9g, ref %.9g (|diff| %.3g, tolerance %.3g)", what, (long long)i, got[i],
                     want[i], d, atol + rtol * fabs(want[i]));
    }
}
static void expect_equal(const char *what, const float *got, const float *want, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], 4)) fail_msg("%s: element %lld is %.9g, ref %.9g (not bit-equal)", what,
                                                   (long long)i, got[i], want[i]);
}

static gk_backend *ref;
static int setup(void **s) {
    char err[256];
    ref = gk_backend_open("ref", NULL, err, sizeof err);
    if (!ref) fprintf(stderr, "ref backend: %s\n", err);
    return ref ? 0 : -1;
}
static int teardown(void **s) {
    gk_backend_close(ref);
    return 0;
}

/* A ref tensor {n0, n1} holding host values (NULL: uninitialised); its values back with rget. */
static gk_tensor rt(int type, int64_t n0, int64_t n1, const void *vals) {
    gk_tensor t;
    assert_int_equal(gk_new2d(ref, &t, type, n0, n1), 0);
    if (vals) assert_int_equal(ref->ops->upload(ref, &t, 0, vals, t.nbytes), 0);
    return t;
}
static void rget(gk_tensor *t, void *dst) {
    assert_int_equal(ref->ops->download(ref, t, 0, dst, t->nbytes), 0);
    ref->ops->free(ref, t);
}
#define OK(call)                                                                                             \
    do {                                                                                                     \
        if ((call) != 0) fail_msg("ref: %s", gk_backend_error(ref));                                         \
    } while (0)

/* ---- elementwise ---------------------------------------------------------------------------- */
static void fill_exact(void **s) {
    static const int64_t sizes[] = {1, 255, 1000};
    for (size_t i = 0; i < 3; i++) {
        const int64_t n = sizes[i];
        float *t = rnd(n + 1, 1.0f), guard = t[n];
        gk_fill_args a = {t, n, -0.375f};
        gk_grid g = gk_plan_elems(n);
        GK_EMUL_LAUNCH(gk_body_fill, g.gx, g.gy, g.gz, g.nt, (int)i & 1, a);
        for (int64_t j = 0; j < n; j++) assert_true(t[j] == -0.375f);
        assert_true(t[n] == guard); /* not past the tensor */
        free(t);
    }
}

/* ref in double; the kernel in F32 with expf: a few ulp of each factor. Separate outputs and
 * dgate = dy (the op allows it). */
static void silu_mul_backward_matches_ref(void **s) {
    static const int64_t sizes[] = {1, 257, 4099};
    for (size_t si = 0; si < 3; si++) {
        const int64_t n = sizes[si];
        float *dy = rnd(n, 2.0f), *gate = rnd(n, 8.0f), *up = rnd(n, 3.0f);
        float *wg = malloc((size_t)n * 4), *wu = malloc((size_t)n * 4);
        gk_tensor tdy = rt(GK_F32, n, 1, dy), tg = rt(GK_F32, n, 1, gate), tu = rt(GK_F32, n, 1, up);
        gk_tensor tdg = rt(GK_F32, n, 1, NULL), tdu = rt(GK_F32, n, 1, NULL);
        OK(gk_silu_mul_backward(ref, &tdg, &tdu, &tdy, &tg, &tu));
        rget(&tdg, wg), rget(&tdu, wu);
        ref->ops->free(ref, &tdy), ref->ops->free(ref, &tg), ref->ops->free(ref, &tu);
        for (int inplace = 0; inplace < 2; inplace++) {
            float *d = dup_f(dy, n), *dg = inplace ? d : dalloc((size_t)n * 4), *du = dalloc((size_t)n * 4);
            gk_smb_args a = {d, gate, up, dg, du, n};
            gk_grid g = gk_plan_elems(n);
            GK_EMUL_LAUNCH(gk_body_silu_mul_backward, g.gx, g.gy, g.gz, g.nt, inplace, a);
            expect_close("silu_mul_backward dup", du, wu, n, 1e-6, 4e-6);
            expect_close("silu_mul_backward dgate", dg, wg, n, 1e-6, 4e-6);
            if (!inplace) free(dg);
            free(d), free(du);
        }
        free(dy), free(gate), free(up), free(wg), free(wu);
    }
}

/* Steps 1 and 7, weight decay, clipping's grad_scale: m and v to a few ulp of ref's double,
 * w to 1e-6 of the step (lr·O(1)) plus its own rounding. */
static void adamw_matches_ref(void **s) {
    const int64_t n = 1001;
    static const int steps[] = {1, 7};
    for (int si = 0; si < 2; si++) {
        const gk_adamw_params p = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                                   .grad_scale = 0.5f, .step = steps[si]};
        float *w = rnd(n, 1.0f), *g = rnd(n, 3.0f), *m = rnd(n, 0.1f), *v = rnd(n, 0.01f);
        for (int64_t i = 0; i < n; i++) v[i] = fabsf(v[i]) * (si ? 1.0f : 0.0f), m[i] *= (float)si;
        g[0] = 0.0f; /* a parameter without gradient: only the decay moves it */
        /* m and v are sums of two rounded products that may cancel: a bound per element from
         * the terms' magnitudes (3 roundings of 2^-24 each, with a margin) */
        double *mb = malloc((size_t)n * sizeof *mb), *vb = malloc((size_t)n * sizeof *vb);
        for (int64_t i = 0; i < n; i++) {
            const double gi = (double)g[i] * p.grad_scale;
            mb[i] = 4e-7 * (fabs(p.beta1 * (double)m[i]) + fabs((1.0 - p.beta1) * gi)) + 1e-30;
            vb[i] = 4e-7 * (fabs(p.beta2 * (double)v[i]) + (1.0 - p.beta2) * gi * gi) + 1e-30;
        }
        float *ww = malloc((size_t)n * 4), *wm = malloc((size_t)n * 4), *wv = malloc((size_t)n * 4);
        gk_tensor tw = rt(GK_F32, n, 1, w), tg = rt(GK_F32, n, 1, g), tm = rt(GK_F32, n, 1, m), tv = rt(GK_F32, n, 1, v);
        OK(gk_adamw(ref, &tw, &tg, &tm, &tv, &p));
        rget(&tw, ww), rget(&tm, wm), rget(&tv, wv);
        ref->ops->free(ref, &tg);
        const double c1 = 1.0 - pow(p.beta1, p.step), c2 = 1.0 - pow(p.beta2, p.step);
        gk_adamw_args a = {w, m, v, g, n, p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, p.grad_scale,
                           (float)(1.0 / c1), (float)(1.0 / c2)};
        gk_grid gr = gk_plan_elems(n);
        GK_EMUL_LAUNCH(gk_body_adamw, gr.gx, gr.gy, gr.gz, gr.nt, si, a);
        for (int64_t i = 0; i < n; i++) {
            if (!(fabs((double)m[i] - wm[i]) <= mb[i]))
                fail_msg("adamw m[%lld] = %.9g, ref %.9g (bound %.3g)", (long long)i, m[i], wm[i], mb[i]);
            if (!(fabs((double)v[i] - wv[i]) <= vb[i]))
                fail_msg("adamw v[%lld] = %.9g, ref %.9g (bound %.3g)", (long long)i, v[i], wv[i], vb[i]);
        }
        /* the update lr·m̂/(√v̂ + eps) is O(lr); its factors' relative errors above */
        expect_close("adamw w", w, ww, n, 1e-5 * p.lr, 2e-7);
        free(w), free(g), free(m), free(v), free(ww), free(wm), free(wv), free(mb), free(vb);
    }
}

/* ---- sum of squares ----------------------------------------------------------------------- */
static float emul_sum_squares(const float *x, int64_t n, float out0, int rev) {
    float *out = dalloc(4);
    out[0] = out0;
    double *part = dalloc(GK_SS_MAX_BLOCKS * sizeof(double));
    gk_ss_args a = {x, n, part, gk_ss_blocks(n), out};
    GK_EMUL_LAUNCH(gk_body_sum_squares, a.nblocks, 1, 1, 256, rev, a);
    GK_EMUL_LAUNCH(gk_body_sum_squares_final, 1, 1, 1, 256, rev, a);
    const float r = out[0];
    free(out), free(part);
    return r;
}

/* Partial sums in double: the F32 result is ref's to an ulp or two. 600001 elements take the
 * cap of GK_SS_MAX_BLOCKS blocks (threads loop); the order is fixed, so reruns are bit-equal. */
static void sum_squares_matches_ref(void **s) {
    static const int64_t sizes[] = {1, 1000, 600001};
    assert_int_equal(gk_ss_blocks(600001), GK_SS_MAX_BLOCKS);
    for (size_t si = 0; si < 3; si++) {
        const int64_t n = sizes[si];
        float *x = rnd(n, 2.0f), want;
        gk_tensor tx = rt(GK_F32, n, 1, x), to = rt(GK_F32, 1, 1, &(float){2.5f});
        OK(gk_sum_squares(ref, &to, &tx));
        rget(&to, &want);
        ref->ops->free(ref, &tx);
        const float got = emul_sum_squares(x, n, 2.5f, 0), again = emul_sum_squares(x, n, 2.5f, 1);
        expect_close("sum_squares", &got, &want, 1, 0, 3e-7);
        assert_memory_equal(&got, &again, 4);
        free(x);
    }
}

/* ---- rmsnorm backward ----------------------------------------------------------------------- */
static void emul_rmsnorm_backward(gk_rmsb_args a, int rev) {
    gk_grid g = gk_plan_rows(a.T);
    GK_EMUL_LAUNCH(gk_body_rmsnorm_backward_rows, g.gx, g.gy, g.gz, g.nt, rev, a);
    g = gk_plan_rb_cols(a.dim, gk_rb_groups(a.T));
    GK_EMUL_LAUNCH(gk_body_rmsnorm_backward_part, g.gx, g.gy, g.gz, g.nt, rev, a);
    g = gk_plan_rb_cols(a.dim, 1);
    GK_EMUL_LAUNCH(gk_body_rmsnorm_backward_dw, g.gx, g.gy, g.gz, g.nt, rev, a);
}

/* dx and dw both accumulate onto random contents. 130 rows are 3 dw groups (the last of 2).
 * Tolerances: F32 sums of dim (dx) and T (dw) terms against ref's double, relative to the
 * terms' magnitude. */
static void rmsnorm_backward_matches_ref(void **s) {
    static const struct { int64_t dim, T; } cases[] = {{7, 1}, {256, 3}, {1000, 5}, {70, 130}};
    for (size_t ci = 0; ci < 4; ci++) {
        const int64_t dim = cases[ci].dim, T = cases[ci].T, n = dim * T;
        float *x = rnd(n, 3.0f), *dy = rnd(n, 1.0f), *w = rnd(dim, 1.5f), *dx = rnd(n, 1.0f), *dw = rnd(dim, 1.0f);
        float *wdx = malloc((size_t)n * 4), *wdw = malloc((size_t)dim * 4);
        gk_tensor tx = rt(GK_F32, dim, T, x), tdy = rt(GK_F32, dim, T, dy), tw = rt(GK_F32, dim, 1, w);
        gk_tensor tdx = rt(GK_F32, dim, T, dx), tdw = rt(GK_F32, dim, 1, dw);
        OK(gk_rmsnorm_backward(ref, &tdx, &tdw, &tdy, &tx, &tw, 1e-5f));
        rget(&tdx, wdx), rget(&tdw, wdw);
        ref->ops->free(ref, &tx), ref->ops->free(ref, &tdy), ref->ops->free(ref, &tw);
        for (int rev = 0; rev < 2; rev++) {
            float *gdx = dup_f(dx, n), *gdw = dup_f(dw, dim);
            float *rstd = dalloc((size_t)T * 4), *part = dalloc((size_t)(gk_rb_groups(T) * dim) * 4);
            gk_rmsb_args a = {gdx, gdw, dy, x, w, dim, T, 1e-5f, rstd, part};
            emul_rmsnorm_backward(a, rev);
            expect_close("rmsnorm_backward dx", gdx, wdx, n, 2e-6 * sqrt((double)dim), 1e-5);
            expect_close("rmsnorm_backward dw", gdw, wdw, dim, 2e-6 * (double)T, 1e-5);
            free(gdx), free(gdw), free(rstd), free(part);
        }
        free(x), free(dy), free(w), free(dx), free(dw), free(wdx), free(wdw);
    }
}

/* ---- rope backward ------------------------------------------------------------------------ */
/* rope's own cases and tolerance (test_cuda: the same float angle, host libm here); and
 * backward after forward gives the input back (the rotations are orthogonal). */
static void rope_backward_matches_ref(void **s) {
    static const struct { int n_head, hd, pos0; int64_t T; } cases[] = {{3, 2, 0, 2}, {2, 8, 5, 3}, {4, 128, 4000, 2}};
    for (size_t ci = 0; ci < 3; ci++)
        for (int with_ff = 0; with_ff < 2; with_ff++) {
            const int nh = cases[ci].n_head, hd = cases[ci].hd, pos0 = cases[ci].pos0;
            const int64_t T = cases[ci].T, n = (int64_t)nh * hd * T;
            float *x = rnd(n, 2.0f), *want = malloc((size_t)n * 4), *ff = with_ff ? dalloc((size_t)hd / 2 * 4) : NULL;
            for (int i = 0; with_ff && i < hd / 2; i++) ff[i] = 0.5f + 7.5f * (float)i / (float)(hd / 2);
            gk_tensor tx = rt(GK_F32, (int64_t)nh * hd, T, x), tf = {0};
            if (ff) tf = rt(GK_F32, hd / 2, 1, ff);
            OK(gk_rope_backward(ref, &tx, nh, hd, pos0, 10000.0f, ff ? &tf : NULL));
            rget(&tx, want);
            if (ff) ref->ops->free(ref, &tf);
            for (int rev = 0; rev < 2; rev++) {
                float *got = dup_f(x, n);
                gk_rope_args a = {got, nh, hd, pos0, T, 10000.0f, ff};
                gk_grid g = gk_plan_rope(nh, hd, T);
                GK_EMUL_LAUNCH(gk_body_rope_backward, g.gx, g.gy, g.gz, g.nt, rev, a);
                expect_close("rope_backward", got, want, n, 2e-5, 2e-5);
                GK_EMUL_LAUNCH(gk_body_rope, g.gx, g.gy, g.gz, g.nt, rev, a);
                expect_close("rope after rope_backward", got, x, n, 2e-6, 2e-6);
                free(got);
            }
            free(x), free(want), free(ff);
        }
}

/* ---- embedding backward --------------------------------------------------------------------- */
/* The launch sequence of gk_cu_embedding_backward: sort and scatter per chunk, chunks in order. */
static int emul_embedding_backward(float *dtable, const float *dy, const int32_t *ids, int64_t dim, int64_t vocab,
                                   int64_t T, int rev) {
    int err = 0;
    uint32_t *sorted = dalloc(2 * GK_EB_CHUNK * sizeof(uint32_t));
    gk_embb_args a = {dtable, dy, ids, dim, vocab, 0, 0, sorted, &err};
    for (int64_t t0 = 0; t0 < T; t0 += GK_EB_CHUNK) {
        a.t0 = t0;
        a.n = T - t0 < GK_EB_CHUNK ? T - t0 : GK_EB_CHUNK;
        GK_EMUL_LAUNCH(gk_body_emb_bwd_sort, 1, 1, 1, 256, rev, a);
        for (int64_t i = 1; i < a.n; i++) /* sorted by (id, token) */
            assert_true(sorted[2 * i - 2] < sorted[2 * i] ||
                        (sorted[2 * i - 2] == sorted[2 * i] && sorted[2 * i - 1] < sorted[2 * i + 1]));
        const gk_grid g = gk_plan_eb_scatter(dim, a.n);
        GK_EMUL_LAUNCH(gk_body_emb_bwd_scatter, g.gx, g.gy, g.gz, g.nt, rev, a);
    }
    free(sorted);
    return err;
}

static void ref_embedding_backward(float *dtable, const float *dy, const int32_t *ids, int64_t dim, int64_t vocab,
                                   int64_t T) {
    gk_tensor tt = rt(GK_F32, dim, vocab, dtable), tdy = rt(GK_F32, dim, T, dy), ti = rt(GK_I32, T, 1, ids);
    OK(gk_embedding_backward(ref, &tt, &tdy, &ti));
    rget(&tt, dtable);
    ref->ops->free(ref, &tdy), ref->ops->free(ref, &ti);
}

/* Repeated ids add up in token order, as ref's loop does: bit-equal. 37 tokens over 11 rows of
 * 70 (one partial column tile); 4101 tokens (3 chunks: sorting and runs across chunk ends) over
 * 5 rows of 3. An id outside the table raises the error word and adds nothing; the others'
 * rows are still ref's (without that token). */
static void embedding_backward_bit_equal(void **s) {
    static const struct { int64_t dim, vocab, T; } cases[] = {{70, 11, 37}, {3, 5, 2 * GK_EB_CHUNK + 5}, {300, 4, 1}};
    for (size_t ci = 0; ci < 3; ci++) {
        const int64_t dim = cases[ci].dim, vocab = cases[ci].vocab, T = cases[ci].T;
        float *table = rnd(dim * vocab, 1.0f), *dy = rnd(dim * T, 1.0f), *want = dup_f(table, dim * vocab);
        int32_t *ids = dalloc((size_t)T * 4);
        for (int64_t t = 0; t < T; t++) {
            const int32_t id = (int32_t)((frand() + 1.0f) * 0.5f * (float)vocab);
            ids[t] = id < vocab ? id : (int32_t)vocab - 1;
        }
        ids[T - 1] = (int32_t)vocab - 1;
        ref_embedding_backward(want, dy, ids, dim, vocab, T);
        for (int rev = 0; rev < 2; rev++) {
            float *got = dup_f(table, dim * vocab);
            assert_int_equal(emul_embedding_backward(got, dy, ids, dim, vocab, T, rev), 0);
            expect_equal("embedding_backward", got, want, dim * vocab);
            free(got);
        }
        free(want);
        if (T > 1) {
            ids[T / 2] = (int32_t)vocab; /* one past the table */
            float *got = dup_f(table, dim * vocab);
            assert_int_equal(emul_embedding_backward(got, dy, ids, dim, vocab, T, 0), GK_ERR_EMB_BWD_ID);
            /* ref on the other tokens: that token's dy row zeroed */
            float *dz = dup_f(dy, dim * T);
            memset(dz + T / 2 * dim, 0, (size_t)dim * 4);
            ids[T / 2] = 0;
            want = dup_f(table, dim * vocab);
            ref_embedding_backward(want, dz, ids, dim, vocab, T);
            /* adding a zero row changes nothing but -0 + 0; compare values, not bits */
            expect_close("embedding_backward with a bad id", got, want, dim * vocab, 0, 0);
            free(got), free(dz), free(want);
        }
        free(table), free(dy), free(ids);
    }
}

/* ---- cross-entropy ------------------------------------------------------------------------ */
/* Losses to 2e-6 of logsumexp's magnitude (F32 max and sum of vocab exps); dlogits to 1e-6 of
 * scale plus 1e-4 relative; in place (dlogits = logits), separate, and the loss only. */
static void cross_entropy_matches_ref(void **s) {
    static const struct { int64_t vocab, T; float zs; } cases[] = {{1, 2, 1.0f}, {5, 3, 4.0f}, {3001, 4, 10.0f},
                                                                    {32000, 2, 30.0f}};
    for (size_t ci = 0; ci < 4; ci++) {
        const int64_t V = cases[ci].vocab, T = cases[ci].T;
        const float scale = 1.0f / (float)T;
        float *z = rnd(V * T, cases[ci].zs), *wl = malloc((size_t)T * 4), *wd = malloc((size_t)(V * T) * 4);
        int32_t *tg = dalloc((size_t)T * 4);
        for (int64_t t = 0; t < T; t++) tg[t] = (int32_t)((t * 7919 + 3) % V);
        gk_tensor tz = rt(GK_F32, V, T, z), tt = rt(GK_I32, T, 1, tg), tl = rt(GK_F32, T, 1, NULL),
                  td = rt(GK_F32, V, T, NULL);
        OK(gk_cross_entropy(ref, &tl, &td, &tz, &tt, scale));
        rget(&tl, wl), rget(&td, wd);
        ref->ops->free(ref, &tz), ref->ops->free(ref, &tt);
        float zmax = 0;
        for (int64_t i = 0; i < V * T; i++) zmax = fmaxf(zmax, fabsf(z[i]));
        for (int mode = 0; mode < 3; mode++) { /* 0 separate, 1 in place, 2 loss only */
            float *zz = dup_f(z, V * T), *l = dalloc((size_t)T * 4), *d = mode == 0 ? dalloc((size_t)(V * T) * 4)
                                                                       : mode == 1 ? zz : NULL;
            int err = 0;
            gk_ce_args a = {zz, tg, l, d, V, scale, &err};
            gk_grid g = gk_plan_rows(T);
            GK_EMUL_LAUNCH(gk_body_cross_entropy, g.gx, g.gy, g.gz, g.nt, mode & 1, a);
            assert_int_equal(err, 0);
            expect_close("cross_entropy loss", l, wl, T, 2e-6 * (zmax + log((double)V) + 1), 1e-6);
            if (d) expect_close("cross_entropy dlogits", d, wd, V * T, 1e-6 * scale, 1e-4);
            if (mode == 0) free(d);
            free(zz), free(l);
        }
        tg[T - 1] = (int32_t)V; /* outside the vocabulary: NaN and the error word */
        float *l = dalloc((size_t)T * 4);
        int err = 0;
        gk_ce_args a = {z, tg, l, NULL, V, scale, &err};
        GK_EMUL_LAUNCH(gk_body_cross_entropy, T, 1, 1, 256, 0, a);
        assert_int_equal(err, GK_ERR_CE_TARGET);
        assert_true(isnan(l[T - 1]));
        expect_close("cross_entropy loss beside a bad target", l, wl, T - 1, 2e-6 * (zmax + log((double)V) + 1), 1e-6);
        free(z), free(wl), free(wd), free(tg), free(l);
    }
}

/* ---- attention backward --------------------------------------------------------------------- */
typedef struct ab_case { int n_head, n_kv, hd; int64_t T; float kscale; } ab_case;

static void emul_attention_backward(const gk_attb_args *a, int rev) {
    gk_grid g = gk_plan_attb_q(a->n_head, a->T);
    GK_EMUL_LAUNCH(gk_body_attb_q, g.gx, g.gy, g.gz, g.nt, rev, *a);
    g = gk_plan_attb_kv(a->n_kv_head, a->T);
    GK_EMUL_LAUNCH(gk_body_attb_kv, g.gx, g.gy, g.gz, g.nt, rev, *a);
}

/* ref accumulates in double; here F32 sums over ≤ T keys of ≤ hd-term dots (q and dout of
 * magnitude ≤ 1, k ≤ kscale, scale 1/√hd): 2e-5 absolute + 1e-4 relative, F32's 2^-24 times the
 * sums' term counts with room. */
static void check_attention_backward(ab_case c) {
    const int64_t qw = (int64_t)c.n_head * c.hd, kw = (int64_t)c.n_kv * c.hd, T = c.T;
    float *q = rnd(qw * T, 1.0f), *k = rnd(kw * T, c.kscale), *v = rnd(kw * T, 1.0f), *dout = rnd(qw * T, 1.0f);
    float *wq = malloc((size_t)(qw * T) * 4), *wk = malloc((size_t)(kw * T) * 4), *wv = malloc((size_t)(kw * T) * 4);
    const gk_attn_params p = {c.n_head, c.n_kv, c.hd, 0, 1.0f / sqrtf((float)c.hd)};
    gk_tensor tq = rt(GK_F32, qw, T, q), tk = rt(GK_F32, kw, T, k), tv = rt(GK_F32, kw, T, v),
              to = rt(GK_F32, qw, T, dout), tdq = rt(GK_F32, qw, T, NULL), tdk = rt(GK_F32, kw, T, NULL),
              tdv = rt(GK_F32, kw, T, NULL);
    OK(gk_attention_backward(ref, &tdq, &tdk, &tdv, &to, &tq, &tk, &tv, &p));
    rget(&tdq, wq), rget(&tdk, wk), rget(&tdv, wv);
    ref->ops->free(ref, &tq), ref->ops->free(ref, &tk), ref->ops->free(ref, &tv), ref->ops->free(ref, &to);
    char what[128];
    for (int rev = 0; rev < 2; rev++) {
        float *dq = dalloc((size_t)(qw * T) * 4), *dk = dalloc((size_t)(kw * T) * 4), *dv = dalloc((size_t)(kw * T) * 4);
        float *stats = dalloc((size_t)(T * c.n_head * 2) * 4);
        memset(dq, 0xff, (size_t)(qw * T) * 4); /* every element is written */
        memset(dk, 0xff, (size_t)(kw * T) * 4);
        memset(dv, 0xff, (size_t)(kw * T) * 4);
        gk_attb_args a = {dq, dk, dv, dout, q, k, v, stats, c.n_head, c.n_kv, c.hd, T, p.scale};
        emul_attention_backward(&a, rev);
        snprintf(what, sizeof what, "attention_backward heads %d/%d hd %d T %lld: dq", c.n_head, c.n_kv, c.hd,
                 (long long)T);
        expect_close(what, dq, wq, qw * T, 2e-5, 1e-4);
        what[strlen(what) - 1] = 'k';
        expect_close(what, dk, wk, kw * T, 2e-5, 1e-4);
        what[strlen(what) - 1] = 'v';
        expect_close(what, dv, wv, kw * T, 2e-5, 1e-4);
        free(dq), free(dk), free(dv), free(stats);
    }
    free(q), free(k), free(v), free(dout), free(wq), free(wk), free(wv);
}

static void attention_backward_matches_ref(void **s) {
    static const ab_case cases[] = {
        {1, 1, 4, 1, 2},     /* one token: p = 1, ds = 0 */
        {2, 1, 8, 5, 2},     /* one tile, two heads share the KV head */
        {4, 2, 16, 37, 2},   /* three tiles each way, the last partial */
        {3, 3, 64, 17, 2},   /* no grouping; the second tile holds one row */
        {2, 1, 128, 20, 2},  /* the widest head (GK_AB_DMAX) */
        {6, 2, 12, 33, 2},   /* a head width not a multiple of 8, groups of 3 */
        {2, 1, 64, 130, 2},  /* nine tiles each way: the online max moves across many tiles */
        {2, 2, 32, 40, 12},  /* scores up to ~20: a peaked softmax, p·(dp − D) near cancellation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_attention_backward(cases[i]);
}

/* ---- matmul forms ------------------------------------------------------------------------- */
/* cublasGemmEx as it computes, in double: C(m×n) = alpha·op(A)·op(B) + beta·C, column-major,
 * beta = 0 reading nothing of C. */
static void host_gemm(const gk_gemm_call *g, const float *A, const float *B, float *C, float alpha, float beta) {
    A += g->a_off, B += g->b_off, C += g->c_off;
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            double acc = 0;
            for (int64_t l = 0; l < g->k; l++) {
                const double av = g->transa ? A[i * g->lda + l] : A[l * g->lda + i];
                const double bv = g->transb ? B[l * g->ldb + j] : B[j * g->ldb + l];
                acc += av * bv;
            }
            float *c = &C[j * g->ldc + i];
            *c = (float)(alpha * acc + (beta != 0.0f ? (double)beta * *c : 0.0));
        }
}

/* backend.cu's matmul_form with its panel of pr rows: dequantise (emulated), then the GEMM of
 * the plan, for each panel in order. */
static void emul_matmul_form(const gk_tensor *w, const uint8_t *wdata, const float *x, int64_t x_ne0, float *y,
                             const gk_matmul_params *p, const gk_mm_dims *d, int64_t pr) {
    const int64_t wn = w->ne[0], wr = gk_rows(w);
    const size_t rb = gk_row_bytes(w);
    float *panel = dalloc((size_t)(pr * wn) * 4);
    for (int64_t r0 = 0; r0 < wr; r0 += pr) {
        const int64_t n = wr - r0 < pr ? wr - r0 : pr;
        gk_dq32_args a = {wdata + (size_t)r0 * rb, rb, panel, wn, n, w->type};
        gk_grid g = gk_plan_dequant(wn, n);
        GK_EMUL_LAUNCH(gk_body_dequant_f32, g.gx, g.gy, g.gz, g.nt, (int)(r0 & 1), a);
        const gk_gemm_call c = gk_plan_gemm_form(p->trans_x, p->trans_w, x_ne0, wn, d->m, d->n, d->k, r0, n);
        host_gemm(&c, panel, x, y, p->alpha, c.beta_one ? 1.0f : p->beta);
    }
    free(panel);
}

/* Every transpose pair with alpha 0.75 and beta 0 or 0.5, on a weight of 9 rows of 256 (q4_k's
 * block) in F32, q8_0, q4_0, q4_k (LoRA's bases) and f16, bf16, q4_1, q6_k, against ref's matmul
 * in that form; panels of the whole
 * weight and of 4 rows (3 panels, the last of 1). Tolerance: F32 rounding of the sums,
 * 1e-5·√K absolute + 1e-5 relative (the host GEMM sums in double, so only the panel's values
 * can differ: they must equal the type table's dequantisation). */
static void matmul_forms_match_ref(void **s) {
    static const int types[] = {GK_F32, GK_Q8_0, GK_Q4_0, GK_Q4_K, GK_F16, GK_BF16, GK_Q4_1, GK_Q6_K};
    const int64_t wn = 256, wr = 9, M = 5;
    for (int ti = 0; ti < 8; ti++)
        for (int form = 0; form < 4; form++)
            for (int bi = 0; bi < 2; bi++) {
                const gk_matmul_params p = {form & 1, (form >> 1) & 1, 0.75f, bi ? 0.5f : 0.0f};
                const int64_t K = p.trans_w ? wr : wn, N = p.trans_w ? wn : wr;
                const int64_t x0 = p.trans_x ? M : K, x1 = p.trans_x ? K : M;
                float *wf = rnd(wn * wr, 1.0f), *x = rnd(x0 * x1, 1.0f), *y0 = rnd(N * M, 1.0f);
                gk_tensor tw = rt(types[ti], wn, wr, NULL);
                uint8_t *wq = dalloc(tw.nbytes);
                for (int64_t r = 0; r < wr; r++)
                    gk_type_get(types[ti])->from_f32(wf + r * wn, wq + r * gk_row_bytes(&tw), wn);
                assert_int_equal(ref->ops->upload(ref, &tw, 0, wq, tw.nbytes), 0);
                gk_tensor tx = rt(GK_F32, x0, x1, x), ty = rt(GK_F32, N, M, y0);
                gk_mm_dims d;
                assert_int_equal(gk_check_matmul(ref, &ty, &tw, &tx, &p, &d), 0);
                assert_true(d.m == M && d.n == N && d.k == K);
                OK(gk_matmul(ref, &ty, &tw, &tx, &p));
                float *want = malloc((size_t)(N * M) * 4);
                rget(&ty, want);
                char what[96];
                for (int pi = 0; pi < 2; pi++) {
                    const int64_t pr = pi ? 4 : gk_panel_rows(wn, wr);
                    float *y = dup_f(y0, N * M);
                    if (!bi) memset(y, 0xff, (size_t)(N * M) * 4); /* beta 0: NaNs never read */
                    emul_matmul_form(&tw, wq, x, x0, y, &p, &d, pr);
                    snprintf(what, sizeof what, "matmul %s trans_x %d trans_w %d beta %g, panels of %lld rows",
                             gk_type_name(types[ti]), p.trans_x, p.trans_w, (double)p.beta, (long long)pr);
                    expect_close(what, y, want, N * M, 1e-5 * sqrt((double)K), 1e-5);
                    free(y);
                }
                ref->ops->free(ref, &tw), ref->ops->free(ref, &tx);
                free(wf), free(x), free(y0), free(wq), free(want);
            }
    /* whole weights fit in a panel up to GK_PANEL_BYTES of F32; llama2-7b's 4096 × 11008 FFN
     * weights go by in 6 panels of 2048 rows (ne0 = 4096) or 15 of 762 (ne0 = 11008) */
    assert_int_equal(gk_panel_rows(256, 9), 9);
    assert_int_equal(gk_panel_rows(4096, 11008), 2048);
    assert_int_equal(gk_panel_rows(11008, 4096), 762);
    assert_int_equal(gk_panel_rows(1 << 24, 3), 1); /* a row larger than the bound: one row a panel */
}

/* The default form's plan is the core path's (plan.cuh: gk_plan_gemm). */
static void gemm_form_plan_default_is_core_plan(void **s) {
    const gk_gemm_plan a = gk_plan_gemm(64, 7, 5);
    const gk_gemm_call b = gk_plan_gemm_form(0, 0, 64, 64, 5, 7, 64, 0, 7);
    assert_true(a.transa == b.transa && a.transb == b.transb && a.m == b.m && a.n == b.n && a.k == b.k);
    assert_true(a.lda == b.lda && a.ldb == b.ldb && a.ldc == b.ldc && !b.a_off && !b.b_off && !b.c_off);
}

/* ---- sector efficiency -------------------------------------------------------------------- */

/* Rows of 2048 (whole warp-steps): the elementwise and row kernels touch whole sectors only. */
static void train_kernels_sector_efficiency(void **s) {
    const int64_t n = 4096, dim = 2048, T = 2;
    float *a0 = rnd(n, 1.0f), *a1 = rnd(n, 1.0f), *a2 = rnd(n, 1.0f), *a3 = rnd(n, 1.0f);
    for (int64_t i = 0; i < n; i++) a3[i] = fabsf(a3[i]);
    {
        gk_mem_buf b[4] = {gk_trace_buf("w", a0, n * 4), gk_trace_buf("g", a1, n * 4), gk_trace_buf("m", a2, n * 4),
                           gk_trace_buf("v", a3, n * 4)};
        gk_trace_begin(b, 4);
        gk_adamw_args a = {a0, a2, a3, a1, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 10.0f, 20.0f};
        GK_EMUL_LAUNCH(gk_body_adamw, n / 256, 1, 1, 256, 0, a);
        gk_trace_end();
        const eff_want w[] = {{"w", 'l', 100}, {"w", 's', 100}, {"g", 'l', 100}, {"m", 'l', 100},
                              {"m", 's', 100}, {"v", 'l', 100}, {"v", 's', 100}};
        check_eff("adamw", b, 4, w, 7);
    }
    {
        gk_mem_buf b[1] = {gk_trace_buf("t", a0, n * 4)};
        gk_trace_begin(b, 1);
        gk_fill_args a = {a0, n, 0.0f};
        GK_EMUL_LAUNCH(gk_body_fill, n / 256, 1, 1, 256, 0, a);
        gk_trace_end();
        const eff_want w[] = {{"t", 's', 100}};
        check_eff("fill", b, 1, w, 1);
    }
    {
        gk_mem_buf b[5] = {gk_trace_buf("dy", a0, n * 4), gk_trace_buf("gate", a1, n * 4),
                           gk_trace_buf("up", a2, n * 4), gk_trace_buf("dgate", a3, n * 4)};
        float *du = dalloc(n * 4);
        b[4] = gk_trace_buf("dup", du, n * 4);
        gk_trace_begin(b, 5);
        gk_smb_args a = {a0, a1, a2, a3, du, n};
        GK_EMUL_LAUNCH(gk_body_silu_mul_backward, n / 256, 1, 1, 256, 0, a);
        gk_trace_end();
        const eff_want w[] = {{"dy", 'l', 100}, {"gate", 'l', 100}, {"up", 'l', 100}, {"dgate", 's', 100},
                              {"dup", 's', 100}};
        check_eff("silu_mul_backward", b, 5, w, 5);
        free(du);
    }
    {
        /* the logits and dlogits stream; z[target] (4 bytes of a sector: 3·8192 bytes a row in
         * 769 sectors, 99.89%) and the loss (one float a row, 12.5%) are single accesses */
        float *d = dalloc((size_t)(dim * T) * 4), *l = dalloc(T * 4);
        int32_t *tg = dalloc(T * 4);
        tg[0] = 5, tg[1] = 2047;
        int err = 0;
        gk_mem_buf b[3] = {gk_trace_buf("logits", a0, (size_t)(dim * T) * 4),
                           gk_trace_buf("dlogits", d, (size_t)(dim * T) * 4), gk_trace_buf("losses", l, T * 4)};
        gk_trace_begin(b, 3);
        gk_ce_args a = {a0, tg, l, d, dim, 0.5f, &err};
        GK_EMUL_LAUNCH(gk_body_cross_entropy, T, 1, 1, 256, 0, a);
        gk_trace_end();
        const eff_want w[] = {{"logits", 'l', 99.89}, {"dlogits", 's', 100}, {"losses", 's', 12.5}};
        check_eff("cross_entropy", b, 3, w, 3);
        free(d), free(l), free(tg);
    }
    {
        double *part = dalloc(GK_SS_MAX_BLOCKS * 8);
        float out = 0;
        gk_mem_buf b[1] = {gk_trace_buf("x", a0, n * 4)};
        gk_trace_begin(b, 1);
        gk_ss_args a = {a0, n, part, gk_ss_blocks(n), &out};
        GK_EMUL_LAUNCH(gk_body_sum_squares, a.nblocks, 1, 1, 256, 0, a);
        gk_trace_end();
        const eff_want w[] = {{"x", 'l', 100}};
        check_eff("sum_squares", b, 1, w, 1);
        free(part);
    }
    {
        float *wt = rnd(dim, 1.0f), *dw = dalloc(dim * 4), *rstd = dalloc(T * 4), *part = dalloc(dim * 4);
        gk_mem_buf b[4] = {gk_trace_buf("dx", a3, (size_t)(dim * T) * 4), gk_trace_buf("dy", a1, (size_t)(dim * T) * 4),
                           gk_trace_buf("x", a2, (size_t)(dim * T) * 4), gk_trace_buf("w", wt, dim * 4)};
        gk_trace_begin(b, 4);
        gk_rmsb_args a = {a3, dw, a1, a2, wt, dim, T, 1e-5f, rstd, part};
        emul_rmsnorm_backward(a, 0);
        gk_trace_end();
        const eff_want w[] = {{"dx", 'l', 100}, {"dx", 's', 100}, {"dy", 'l', 100}, {"x", 'l', 100}, {"w", 'l', 100}};
        check_eff("rmsnorm_backward", b, 4, w, 5);
        free(wt), free(dw), free(rstd), free(part);
    }
    {
        const int64_t vocab = 3;
        float *table = rnd(dim * vocab, 1.0f);
        int32_t ids[2] = {2, 2};
        uint32_t *sorted = dalloc(2 * GK_EB_CHUNK * 4);
        int err = 0;
        gk_mem_buf b[2] = {gk_trace_buf("dtable", table, (size_t)(dim * vocab) * 4),
                           gk_trace_buf("dy", a0, (size_t)(dim * T) * 4)};
        gk_trace_begin(b, 2);
        gk_embb_args a = {table, a0, ids, dim, vocab, 0, T, sorted, &err};
        GK_EMUL_LAUNCH(gk_body_emb_bwd_sort, 1, 1, 1, 256, 0, a);
        gk_grid g = gk_plan_eb_scatter(dim, T);
        GK_EMUL_LAUNCH(gk_body_emb_bwd_scatter, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        const eff_want w[] = {{"dtable", 'l', 100}, {"dtable", 's', 100}, {"dy", 'l', 100}};
        check_eff("embedding_backward", b, 2, w, 3);
        free(table), free(sorted);
    }
    {
        float *wf = rnd(dim * 4, 1.0f), *out = dalloc((size_t)(dim * 4) * 4);
        const size_t rb = gk_type_bytes(GK_Q4_0, dim);
        uint8_t *wq = dalloc(rb * 4);
        for (int r = 0; r < 4; r++) gk_type_get(GK_Q4_0)->from_f32(wf + r * dim, wq + r * rb, dim);
        gk_mem_buf b[2] = {gk_trace_buf("weights", wq, rb * 4), gk_trace_buf("f32", out, (size_t)(dim * 4) * 4)};
        gk_trace_begin(b, 2);
        gk_dq32_args a = {wq, rb, out, dim, 4, GK_Q4_0};
        gk_grid g = gk_plan_dequant(dim, 4);
        GK_EMUL_LAUNCH(gk_body_dequant_f32, g.gx, g.gy, g.gz, g.nt, 0, a);
        gk_trace_end();
        const eff_want w[] = {{"weights", 'l', 100}, {"f32", 's', 100}};
        check_eff("dequant_f32 q4_0", b, 2, w, 2);
        float *want = malloc((size_t)dim * 4);
        for (int r = 0; r < 4; r++) {
            gk_type_get(GK_Q4_0)->to_f32(wq + r * rb, want, dim);
            expect_equal("dequant_f32", out + r * dim, want, dim);
        }
        free(wf), free(out), free(wq), free(want);
    }
    free(a0), free(a1), free(a2), free(a3);
}

/* ---- training end to end on the emulated kernels ------------------------------------------ */
/* A backend of ref's storage (host memory) and core ops whose train family and non-default
 * matmul forms are the emulated CUDA kernels, each called as backend.cu's op calls them: the
 * same argument checks, arguments, launch sequence and scratch sizes (scratch from dalloc). */
static gk_backend *emu_base;

static int emu_matmul(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x, const gk_matmul_params *p) {
    if (gk_matmul_is_default(p)) return emu_base->ops->core->matmul(b, y, w, x, p);
    gk_mm_dims d;
    if (gk_check_matmul(b, y, w, x, p, &d) || gk_check_contiguous(b, "matmul", "y", y) ||
        gk_check_contiguous(b, "matmul", "w", w) || gk_check_contiguous(b, "matmul", "x", x))
        return -1;
    const gk_matmul_params q = gk_matmul_resolve(p);
    if (w->type == GK_F32) {
        const gk_gemm_call g = gk_plan_gemm_form(q.trans_x, q.trans_w, x->ne[0], w->ne[0], d.m, d.n, d.k, 0, gk_rows(w));
        host_gemm(&g, w->data, x->data, y->data, q.alpha, q.beta);
    } else {
        emul_matmul_form(w, w->data, x->data, x->ne[0], y->data, &q, &d, gk_panel_rows(w->ne[0], gk_rows(w)));
    }
    return 0;
}
static int emu_rmsnorm_backward(gk_backend *b, gk_tensor *dx, gk_tensor *dw, const gk_tensor *dy, const gk_tensor *x,
                                const gk_tensor *w, float eps) {
    if (gk_check_rmsnorm_backward(b, dx, dw, dy, x, w)) return -1;
    const int64_t dim = x->ne[0], T = gk_rows(x);
    float *rstd = dalloc((size_t)(T + gk_rb_groups(T) * dim) * sizeof(float));
    gk_rmsb_args a = {dx->data, dw->data, dy->data, x->data, w->data, dim, T, eps, rstd, rstd + T};
    emul_rmsnorm_backward(a, 0);
    free(rstd);
    return 0;
}
static int emu_rope_backward(gk_backend *b, gk_tensor *dx, int n_head, int head_dim, int pos0, float base,
                             const gk_tensor *ff) {
    if (gk_check_rope(b, dx, n_head, head_dim, pos0, base, ff)) return -1;
    gk_rope_args a = {dx->data, n_head, head_dim, pos0, gk_rows(dx), base, ff ? (const float *)ff->data : NULL};
    gk_grid g = gk_plan_rope(n_head, head_dim, a.T);
    GK_EMUL_LAUNCH(gk_body_rope_backward, g.gx, g.gy, g.gz, g.nt, 0, a);
    return 0;
}
static int emu_attention_backward(gk_backend *b, gk_tensor *dq, gk_tensor *dk, gk_tensor *dv, const gk_tensor *dout,
                                  const gk_tensor *q, const gk_tensor *k, const gk_tensor *v, const gk_attn_params *p) {
    if (gk_check_attention_backward(b, dq, dk, dv, dout, q, k, v, p)) return -1;
    if (p->head_dim > GK_AB_DMAX) return gk_fail(b, "attention_backward: head_dim %d above %d", p->head_dim, GK_AB_DMAX);
    const int64_t T = gk_rows(q);
    float *stats = dalloc((size_t)(T * p->n_head * 2) * sizeof(float));
    gk_attb_args a = {dq->data, dk->data, dv->data, dout->data, q->data, k->data, v->data, stats,
                      p->n_head, p->n_kv_head, p->head_dim, T, p->scale};
    emul_attention_backward(&a, 0);
    free(stats);
    return 0;
}
static int emu_silu_mul_backward(gk_backend *b, gk_tensor *dgate, gk_tensor *dup, const gk_tensor *dy,
                                 const gk_tensor *gate, const gk_tensor *up) {
    if (gk_check_silu_mul_backward(b, dgate, dup, dy, gate, up)) return -1;
    gk_smb_args a = {dy->data, gate->data, up->data, dgate->data, dup->data, gk_nelements(gate)};
    gk_grid g = gk_plan_elems(a.n);
    GK_EMUL_LAUNCH(gk_body_silu_mul_backward, g.gx, g.gy, g.gz, g.nt, 0, a);
    return 0;
}
static int emu_embedding_backward(gk_backend *b, gk_tensor *dtable, const gk_tensor *dy, const gk_tensor *ids) {
    if (gk_check_embedding_backward(b, dtable, dy, ids)) return -1;
    if (emul_embedding_backward(dtable->data, dy->data, ids->data, dtable->ne[0], gk_rows(dtable), gk_rows(dy), 0))
        return gk_fail(b, "embedding_backward: a token id was outside the table");
    return 0;
}
static int emu_cross_entropy(gk_backend *b, gk_tensor *losses, gk_tensor *dlogits, const gk_tensor *logits,
                             const gk_tensor *targets, float scale) {
    if (gk_check_cross_entropy(b, losses, dlogits, logits, targets)) return -1;
    int err = 0;
    gk_ce_args a = {logits->data, targets->data, losses->data, dlogits ? dlogits->data : NULL, logits->ne[0], scale, &err};
    gk_grid g = gk_plan_rows(gk_rows(logits));
    GK_EMUL_LAUNCH(gk_body_cross_entropy, g.gx, g.gy, g.gz, g.nt, 0, a);
    return err ? gk_fail(b, "cross_entropy: a target was outside the vocabulary") : 0;
}
static int emu_adamw(gk_backend *b, gk_tensor *w, const gk_tensor *g, gk_tensor *m, gk_tensor *v,
                     const gk_adamw_params *p) {
    if (gk_check_adamw(b, w, g, m, v, p)) return -1;
    const double c1 = 1.0 - pow((double)p->beta1, p->step), c2 = 1.0 - pow((double)p->beta2, p->step);
    gk_adamw_args a = {w->data, m->data, v->data, g->data, gk_nelements(w), p->lr, p->beta1, p->beta2, p->eps,
                       p->weight_decay, p->grad_scale, (float)(1.0 / c1), (float)(1.0 / c2)};
    gk_grid gr = gk_plan_elems(a.n);
    GK_EMUL_LAUNCH(gk_body_adamw, gr.gx, gr.gy, gr.gz, gr.nt, 0, a);
    return 0;
}
static int emu_sum_squares(gk_backend *b, gk_tensor *out, const gk_tensor *x) {
    if (gk_check_sum_squares(b, out, x)) return -1;
    float *o = out->data;
    o[0] = emul_sum_squares(x->data, gk_nelements(x), o[0], 0);
    return 0;
}
static int emu_fill(gk_backend *b, gk_tensor *t, float value) {
    if (gk_check_fill(b, t)) return -1;
    gk_fill_args a = {t->data, gk_nelements(t), value};
    gk_grid g = gk_plan_elems(a.n);
    GK_EMUL_LAUNCH(gk_body_fill, g.gx, g.gy, g.gz, g.nt, 0, a);
    return 0;
}
static const gk_train_ops emu_train = {emu_rmsnorm_backward, emu_rope_backward, emu_attention_backward,
                                       emu_silu_mul_backward, emu_embedding_backward, emu_cross_entropy,
                                       emu_adamw, emu_sum_squares, emu_fill};

/* Three steps of the tiny preset (batch 2 × 16 tokens; LoRA with B started random so every
 * adapter path carries gradient) on ref and on the emulated kernels from the same seed: each
 * step's loss to 2e-6 relative, the gradient norm (every gradient's sum of squares) to 1e-4
 * relative, after AdamW moved the weights by what the gradients said. */
static void training_matches_ref(void **s) {
    gk_ops ops = *ref->ops;
    gk_core_ops core = *ref->ops->core;
    core.matmul = emu_matmul;
    ops.core = &core;
    ops.train = &emu_train;
    gk_backend eb = *ref; /* ref's state, these ops */
    eb.ops = &ops;
    emu_base = ref;
    const llm_config *c = train_preset("tiny");
    assert_non_null(c);
    for (int mode = 0; mode < 2; mode++) {
        train_opts o;
        train_opts_defaults(&o);
        o.mode = mode ? TRAIN_LORA : TRAIN_FULL;
        o.base_type = mode ? GK_Q4_0 : GK_F32;
        o.batch = 2, o.seq = 16, o.warmup = 1, o.lr = 1e-3f, o.lora_b_random = true;
        gc_err err = {{0}};
        train_data d;
        if (train_data_markov(&d, c->vocab, 4, 5, &err)) fail_msg("%s", err.msg);
        train_model mr = {0}, me = {0};
        if (train_load(&mr, c, &o, ref, 9, 1, &err) || train_load(&me, c, &o, &eb, 9, 1, &err)) fail_msg("%s", err.msg);
        int32_t *ids = malloc((size_t)(o.batch * (o.seq + 1)) * sizeof *ids);
        assert_non_null(ids);
        for (int step = 0; step < 3; step++) {
            train_data_batch(&d, step, o.batch, o.seq, ids);
            double lr_ = 0, le = 0;
            if (train_step(&mr, ids, &lr_, &err) || train_step(&me, ids, &le, &err)) fail_msg("%s", err.msg);
            printf("train tiny %s step %d: loss ref %.7f emulated %.7f, gradient norm ref %.6g emulated %.6g\n",
                   mode ? "lora q4_0" : "full", step + 1, lr_, le, mr.last_grad_norm, me.last_grad_norm);
            if (!(fabs(le - lr_) <= 2e-6 * fabs(lr_)))
                fail_msg("%s step %d: loss %.9g, ref %.9g", mode ? "lora" : "full", step + 1, le, lr_);
            if (!(fabs(me.last_grad_norm - mr.last_grad_norm) <= 1e-4 * mr.last_grad_norm))
                fail_msg("%s step %d: gradient norm %.9g, ref %.9g", mode ? "lora" : "full", step + 1,
                         me.last_grad_norm, mr.last_grad_norm);
        }
        free(ids);
        train_free(&mr), train_free(&me);
        train_data_free(&d);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fill_exact),
        cmocka_unit_test(silu_mul_backward_matches_ref),
        cmocka_unit_test(adamw_matches_ref),
        cmocka_unit_test(sum_squares_matches_ref),
        cmocka_unit_test(rmsnorm_backward_matches_ref),
        cmocka_unit_test(rope_backward_matches_ref),
        cmocka_unit_test(embedding_backward_bit_equal),
        cmocka_unit_test(cross_entropy_matches_ref),
        cmocka_unit_test(attention_backward_matches_ref),
        cmocka_unit_test(gemm_form_plan_default_is_core_plan),
        cmocka_unit_test(matmul_forms_match_ref),
        cmocka_unit_test(train_kernels_sector_efficiency),
        cmocka_unit_test(training_matches_ref),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
