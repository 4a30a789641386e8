/* The train op family (backend.h, issue 16) on the "cpu" backend against the "ref" oracle, with
 * every micro-kernel table this CPU runs and 1 and 2 threads (3 on the best table): random data on awkward shapes
 * (row lengths that are no multiple of any SIMD width, T past one attention query block and
 * no multiple of it, head_dim 64 and 32, grouped-query groups of 1, 2 and 4), within the bounds
 * argued at each check; results independent of the thread count where the design says so
 * (attention_backward, rmsnorm_backward's dw, the scatter-add); bad ids refused. Then the
 * matmul forms training uses: dX = dY·W on quantised W (q4_0, q8_0, q4_k) over several of the
 * panels cpu_matmul_forms.c decodes W's columns in, K not a multiple of a panel, both
 * activation paths, alpha and beta; the panel path's scratch bounded by one panel, not W; the
 * dW += dYᵀ·X form. Shapes stay small: this file also runs under qemu. */
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
#include "kernels/cpu/cpu_backend.h"

#define RAND32_SEED 9191u
#include "tests/rand32.h"

#include "tests/kernel_pairs.h"

/* kernel_pairs.h's configurations plus 3 threads (an odd split of every partition) on the best
 * table: the splits are the same portable code on every table. */
static void for_each_config3(void (*fn)(pair *p)) {
    for_each_config(fn);
    if (!threads_work()) return;
    pair p = {.ref = open_backend("ref", NULL, 1), .cpu = open_backend("cpu", NULL, 3)};
    snprintf(p.label, sizeof p.label, "%s, 3 threads", p.cpu->isa);
    fn(&p);
    gk_backend_close(p.ref);
    gk_backend_close(p.cpu);
}

static gk_tensor t2(gk_backend *b, int type, int64_t n0, int64_t n1, const float *vals) {
    gk_tensor t = {.type = type, .ne = {n0, n1, 1, 1}};
    if (b->ops->alloc(b, &t)) fail_msg("alloc: %s", gk_backend_error(b));
    if (vals) {
        void *bytes = malloc(t.nbytes);
        gk_type_get(type)->from_f32(vals, bytes, gk_nelements(&t));
        assert_int_equal(b->ops->upload(b, &t, 0, bytes, t.nbytes), 0);
        free(bytes);
    }
    return t;
}

static gk_tensor ids_on(gk_backend *b, const int32_t *ids, int64_t n) {
    gk_tensor t = {.type = GK_I32, .ne = {n, 1, 1, 1}};
    if (b->ops->alloc(b, &t)) fail_msg("alloc: %s", gk_backend_error(b));
    assert_int_equal(b->ops->upload(b, &t, 0, ids, t.nbytes), 0);
    return t;
}

static float *get(gk_backend *b, const gk_tensor *t) {
    float *v = malloc(t->nbytes);
    assert_int_equal(b->ops->download(b, t, 0, v, t->nbytes), 0);
    return v;
}

static void drop(gk_backend *b, gk_tensor *t) { b->ops->free(b, t); }

static void must_run(gk_backend *b, int rc, const char *what) {
    if (rc) fail_msg("%s on %s: %s", what, b->name, gk_backend_error(b));
}

/* |got − want| <= tol · (1 + |want|) for every element. */
static void expect_close(const char *what, const char *label, const float *got, const float *want, int64_t n,
                         double tol) {
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= tol * (1.0 + fabs((double)want[i]))))
            fail_msg("%s (%s): element %lld is %.8g, ref %.8g (tolerance %g relative)", what, label, (long long)i,
                     (double)got[i], (double)want[i], tol);
}

/* Both backends' copies of one tensor with the same contents. */
typedef struct twin {
    gk_tensor r, c;
} twin;

static twin twin_of(pair *p, int64_t n0, int64_t n1, const float *vals) {
    return (twin){t2(p->ref, GK_F32, n0, n1, vals), t2(p->cpu, GK_F32, n0, n1, vals)};
}

static void twin_expect(pair *p, const char *what, const twin *t, double tol) {
    float *r = get(p->ref, &t->r), *c = get(p->cpu, &t->c);
    expect_close(what, p->label, c, r, gk_nelements(&t->r), tol);
    free(r), free(c);
}

static void twin_drop(pair *p, twin *t) { drop(p->ref, &t->r), drop(p->cpu, &t->c); }

/* ---- rmsnorm_backward ------------------------------------------------------------------------- */

/* dx and dw start non-zero (both accumulate). Float sums of n ~1-sized terms against double
 * (observed up to 5e-7 relative on dw): 5e-6. */
static void rmsnorm_case(pair *p, int64_t n, int64_t T) {
    float *x = rand_vec(n * T, 2.0f), *dy = rand_vec(n * T, 1.0f), *w = rand_vec(n, 1.5f);
    float *dx0 = rand_vec(n * T, 0.5f), *dw0 = rand_vec(n, 0.5f);
    twin tx = twin_of(p, n, T, x), tdy = twin_of(p, n, T, dy), tw = twin_of(p, n, 1, w);
    twin tdx = twin_of(p, n, T, dx0), tdw = twin_of(p, n, 1, dw0);
    must_run(p->ref, gk_rmsnorm_backward(p->ref, &tdx.r, &tdw.r, &tdy.r, &tx.r, &tw.r, 1e-5f), "rmsnorm_backward");
    must_run(p->cpu, gk_rmsnorm_backward(p->cpu, &tdx.c, &tdw.c, &tdy.c, &tx.c, &tw.c, 1e-5f), "rmsnorm_backward");
    twin_expect(p, "rmsnorm_backward dx", &tdx, 5e-6);
    twin_expect(p, "rmsnorm_backward dw", &tdw, 5e-6);
    twin_drop(p, &tx), twin_drop(p, &tdy), twin_drop(p, &tw), twin_drop(p, &tdx), twin_drop(p, &tdw);
    free(x), free(dy), free(w), free(dx0), free(dw0);
}

static void rmsnorm_pair(pair *p) {
    rmsnorm_case(p, 67, 13);
    rmsnorm_case(p, 771, 9);    /* past several 64-column units of the dw split, and a partial one */
    rmsnorm_case(p, 8, 1);
}

static void test_rmsnorm_backward(void **state) { for_each_config3(rmsnorm_pair); }

/* ---- rope_backward ---------------------------------------------------------------------------- */

/* The angle is computed by the same function on both; cosf/sinf against cos/sin in double and
 * two products: a few ulp of values ~1 (observed 8e-8). */
static void rope_case(pair *p, int n_head, int hd, int64_t T, int pos0, bool factors) {
    const int64_t n = (int64_t)n_head * hd;
    float *x = rand_vec(n * T, 1.0f), ffv[64];
    for (int i = 0; i < hd / 2; i++) ffv[i] = 1.0f + 0.25f * (float)i;
    twin tx = twin_of(p, n, T, x), tf = twin_of(p, hd / 2, 1, ffv);
    must_run(p->ref, gk_rope_backward(p->ref, &tx.r, n_head, hd, pos0, 10000.0f, factors ? &tf.r : NULL), "rope_backward");
    must_run(p->cpu, gk_rope_backward(p->cpu, &tx.c, n_head, hd, pos0, 10000.0f, factors ? &tf.c : NULL), "rope_backward");
    twin_expect(p, "rope_backward", &tx, 1e-6);
    twin_drop(p, &tx), twin_drop(p, &tf);
    free(x);
}

static void rope_pair(pair *p) {
    rope_case(p, 3, 64, 11, 0, false);
    rope_case(p, 5, 32, 7, 900, true);
}

static void test_rope_backward(void **state) { for_each_config3(rope_pair); }

/* ---- attention_backward ----------------------------------------------------------------------- */

typedef struct attn_case {
    int n_head, n_kv, hd;
    int64_t T;
} attn_case;

/* q, k ~ U(-1, 1)·1.5 give scores up to ~hd·0.75·scale (a peaked softmax at hd 64); every
 * gradient is a sum of up to T·group float products of values ~1 on the micro-kernel against
 * double (observed up to 8e-7 relative to 1 + |ref|): 1e-5. A dS off by 1e-4 fails it. */
static void attn_one(pair *p, const attn_case *ac, float **out_cpu) {
    const int64_t qd = (int64_t)ac->n_head * ac->hd, kd = (int64_t)ac->n_kv * ac->hd, T = ac->T;
    float *q = rand_vec(qd * T, 1.5f), *k = rand_vec(kd * T, 1.5f), *v = rand_vec(kd * T, 1.0f);
    float *g = rand_vec(qd * T, 1.0f);
    twin tq = twin_of(p, qd, T, q), tk = twin_of(p, kd, T, k), tv = twin_of(p, kd, T, v), tg = twin_of(p, qd, T, g);
    twin dq = twin_of(p, qd, T, g), dk = twin_of(p, kd, T, v), dv = twin_of(p, kd, T, k);   /* overwritten */
    gk_attn_params ap = {.n_head = ac->n_head, .n_kv_head = ac->n_kv, .head_dim = ac->hd,
                         .scale = 1.0f / sqrtf((float)ac->hd)};
    must_run(p->ref, gk_attention_backward(p->ref, &dq.r, &dk.r, &dv.r, &tg.r, &tq.r, &tk.r, &tv.r, &ap),
             "attention_backward");
    must_run(p->cpu, gk_attention_backward(p->cpu, &dq.c, &dk.c, &dv.c, &tg.c, &tq.c, &tk.c, &tv.c, &ap),
             "attention_backward");
    char what[96];
    snprintf(what, sizeof what, "attention_backward T %lld, %d/%d heads of %d", (long long)T, ac->n_head, ac->n_kv,
             ac->hd);
    twin_expect(p, what, &dq, 1e-5);
    twin_expect(p, what, &dk, 1e-5);
    twin_expect(p, what, &dv, 1e-5);
    if (out_cpu) {   /* dq, dk, dv of the cpu backend, concatenated */
        float *a = get(p->cpu, &dq.c), *b = get(p->cpu, &dk.c), *c = get(p->cpu, &dv.c);
        float *all = malloc((size_t)(qd + 2 * kd) * (size_t)T * sizeof *all);
        memcpy(all, a, (size_t)(qd * T) * sizeof *all);
        memcpy(all + qd * T, b, (size_t)(kd * T) * sizeof *all);
        memcpy(all + (qd + kd) * T, c, (size_t)(kd * T) * sizeof *all);
        free(a), free(b), free(c);
        *out_cpu = all;
    }
    twin_drop(p, &tq), twin_drop(p, &tk), twin_drop(p, &tv), twin_drop(p, &tg);
    twin_drop(p, &dq), twin_drop(p, &dk), twin_drop(p, &dv);
    free(q), free(k), free(v), free(g);
}

static const attn_case attn_cases[] = {
    {4, 4, 64, 37},     /* group 1, one partial query block */
    {8, 2, 32, 70},     /* group 4, head_dim 32, past one block */
    {4, 1, 64, 130},    /* group 4 onto one KV head, three blocks, the last partial */
    {6, 3, 32, 5},      /* group 2, fewer rows than a micro-kernel tile */
    {1, 1, 64, 1},      /* one row: a softmax of one key */
};

static void attn_pair(pair *p) {
    for (size_t i = 0; i < sizeof attn_cases / sizeof *attn_cases; i++) attn_one(p, &attn_cases[i], NULL);
}

static void test_attention_backward(void **state) { for_each_config3(attn_pair); }

/* Every output element is computed by one work unit in one order, whatever the thread count:
 * 1, 2 and 3 threads give the same bits. */
static void test_attention_backward_threads_agree(void **state) {
    if (!threads_work()) skip();
    const attn_case ac = {8, 2, 32, 70};
    float *base = NULL;
    for (int threads = 1; threads <= 3; threads++) {
        pair p = {.ref = open_backend("ref", NULL, 1), .cpu = open_backend("cpu", NULL, threads)};
        snprintf(p.label, sizeof p.label, "best, %d threads", threads);
        float *got;
        rng_state = 777;
        attn_one(&p, &ac, &got);
        const size_t n = (size_t)(8 * 32 + 2 * 2 * 32) * 70;
        if (!base) base = got;
        else {
            assert_memory_equal(got, base, n * sizeof *got);
            free(got);
        }
        gk_backend_close(p.ref), gk_backend_close(p.cpu);
    }
    free(base);
}

/* ---- silu_mul_backward ------------------------------------------------------------------------ */

/* gk_exp_fast (2 ulp) in σ and a few float operations against double (observed 3e-7). */
static void silu_pair(pair *p) {
    const int64_t n0 = 4099, n1 = 3;
    float *gate = rand_vec(n0 * n1, 6.0f), *up = rand_vec(n0 * n1, 2.0f), *dy = rand_vec(n0 * n1, 1.0f);
    twin tg = twin_of(p, n0, n1, gate), tu = twin_of(p, n0, n1, up), tdy = twin_of(p, n0, n1, dy);
    twin tdg = twin_of(p, n0, n1, NULL), tdu = twin_of(p, n0, n1, NULL);
    must_run(p->ref, gk_silu_mul_backward(p->ref, &tdg.r, &tdu.r, &tdy.r, &tg.r, &tu.r), "silu_mul_backward");
    must_run(p->cpu, gk_silu_mul_backward(p->cpu, &tdg.c, &tdu.c, &tdy.c, &tg.c, &tu.c), "silu_mul_backward");
    twin_expect(p, "silu_mul_backward dgate", &tdg, 1e-6);
    twin_expect(p, "silu_mul_backward dup", &tdu, 1e-6);
    /* dgate may be dy itself */
    must_run(p->cpu, gk_silu_mul_backward(p->cpu, &tdy.c, &tdu.c, &tdy.c, &tg.c, &tu.c), "silu_mul_backward in place");
    float *want = get(p->ref, &tdg.r), *got = get(p->cpu, &tdy.c);
    expect_close("silu_mul_backward dgate = dy", p->label, got, want, n0 * n1, 1e-6);
    free(want), free(got);
    twin_drop(p, &tg), twin_drop(p, &tu), twin_drop(p, &tdy), twin_drop(p, &tdg), twin_drop(p, &tdu);
    free(gate), free(up), free(dy);
}

static void test_silu_mul_backward(void **state) { for_each_config3(silu_pair); }

/* ---- embedding_backward ----------------------------------------------------------------------- */

/* Both add each dy row in float, rows in order: the same sums bit for bit. */
static void embed_pair(pair *p) {
    const int64_t vocab = 50, dim = 130, T = 77;
    int32_t ids[77];
    for (int64_t t = 0; t < T; t++) ids[t] = (int32_t)((t * 7 + t / 5) % 11);   /* many repeats, few rows */
    ids[T - 1] = (int32_t)vocab - 1;
    float *dy = rand_vec(dim * T, 1.0f), *d0 = rand_vec(dim * vocab, 0.5f);
    twin tdy = twin_of(p, dim, T, dy), tdt = twin_of(p, dim, vocab, d0);
    gk_tensor ir = ids_on(p->ref, ids, T), ic = ids_on(p->cpu, ids, T);
    must_run(p->ref, gk_embedding_backward(p->ref, &tdt.r, &tdy.r, &ir), "embedding_backward");
    must_run(p->cpu, gk_embedding_backward(p->cpu, &tdt.c, &tdy.c, &ic), "embedding_backward");
    twin_expect(p, "embedding_backward", &tdt, 0.0);
    /* an id outside the table: refused, naming the op, the table unchanged */
    float *before = get(p->cpu, &tdt.c);
    ids[3] = (int32_t)vocab;
    gk_tensor bad = ids_on(p->cpu, ids, T);
    assert_int_not_equal(gk_embedding_backward(p->cpu, &tdt.c, &tdy.c, &bad), 0);
    assert_non_null(strstr(gk_backend_error(p->cpu), "embedding_backward: id 50 at 3"));
    float *after = get(p->cpu, &tdt.c);
    assert_memory_equal(before, after, (size_t)(dim * vocab) * sizeof *after);
    free(before), free(after);
    drop(p->cpu, &bad), drop(p->ref, &ir), drop(p->cpu, &ic);
    twin_drop(p, &tdy), twin_drop(p, &tdt);
    free(dy), free(d0);
}

static void test_embedding_backward(void **state) { for_each_config3(embed_pair); }

/* ---- cross_entropy ---------------------------------------------------------------------------- */

/* A float log-sum-exp of 1003 terms (gk_exp_fast, 2 ulp each) against double: losses ~7 within
 * 1e-6 relative (observed 9e-8); dlogits (scale·p, |p| <= 1) within 1e-8 (observed 5e-10). */
static void ce_pair(pair *p) {
    const int64_t V = 1003, T = 7;
    float *z = rand_vec(V * T, 4.0f);
    int32_t tg[7] = {0, 1002, 5, 500, 77, 8, 999};
    twin tz = twin_of(p, V, T, z), tl = twin_of(p, T, 1, NULL), td = twin_of(p, V, T, NULL);
    gk_tensor ir = ids_on(p->ref, tg, T), ic = ids_on(p->cpu, tg, T);
    must_run(p->ref, gk_cross_entropy(p->ref, &tl.r, &td.r, &tz.r, &ir, 0.25f), "cross_entropy");
    must_run(p->cpu, gk_cross_entropy(p->cpu, &tl.c, &td.c, &tz.c, &ic, 0.25f), "cross_entropy");
    twin_expect(p, "cross_entropy losses", &tl, 1e-6);
    twin_expect(p, "cross_entropy dlogits", &td, 1e-8);
    /* the loss only */
    must_run(p->cpu, gk_fill(p->cpu, &tl.c, -1.0f), "fill");
    must_run(p->cpu, gk_cross_entropy(p->cpu, &tl.c, NULL, &tz.c, &ic, 0.25f), "cross_entropy without dlogits");
    twin_expect(p, "cross_entropy losses (no dlogits)", &tl, 1e-6);
    /* dlogits in place of the logits */
    must_run(p->cpu, gk_cross_entropy(p->cpu, &tl.c, &tz.c, &tz.c, &ic, 0.25f), "cross_entropy in place");
    float *want = get(p->ref, &td.r), *got = get(p->cpu, &tz.c);
    expect_close("cross_entropy dlogits = logits", p->label, got, want, V * T, 1e-8);
    twin_expect(p, "cross_entropy losses (in place)", &tl, 1e-6);
    free(want), free(got);
    drop(p->ref, &ir), drop(p->cpu, &ic);
    twin_drop(p, &tz), twin_drop(p, &tl), twin_drop(p, &td);
    free(z);
}

static void test_cross_entropy(void **state) { for_each_config3(ce_pair); }

/* ---- adamw, sum_squares, fill ----------------------------------------------------------------- */

/* The update in float against double: m, v and w to a few ulp (observed 4e-8): 3e-7. The cpu
 * backend's √v̂ is a refined estimate, not sqrtf: exact at 0, harmless for a subnormal v. */
static void adamw_pair(pair *p) {
    const int64_t n = 5001;
    float *w = rand_vec(n, 1.0f), *g = rand_vec(n, 3.0f), *m = rand_vec(n, 0.1f), *v = rand_vec(n, 0.1f);
    for (int64_t i = 0; i < n; i++) v[i] = fabsf(v[i]);
    for (int i = 0; i < 5; i++) g[i] = m[i] = v[i] = 0;       /* a parameter without gradient yet: √0 */
    g[5] = 0, v[5] = 1e-40f;                                  /* a subnormal second moment, eps swamps it */
    twin tw = twin_of(p, n, 1, w), tg = twin_of(p, n, 1, g), tm = twin_of(p, n, 1, m), tv = twin_of(p, n, 1, v);
    gk_adamw_params ap = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                          .grad_scale = 0.5f, .step = 3};
    must_run(p->ref, gk_adamw(p->ref, &tw.r, &tg.r, &tm.r, &tv.r, &ap), "adamw");
    must_run(p->cpu, gk_adamw(p->cpu, &tw.c, &tg.c, &tm.c, &tv.c, &ap), "adamw");
    twin_expect(p, "adamw w", &tw, 3e-7);
    twin_expect(p, "adamw m", &tm, 3e-7);
    twin_expect(p, "adamw v", &tv, 3e-7);
    twin_drop(p, &tw), twin_drop(p, &tg), twin_drop(p, &tm), twin_drop(p, &tv);
    free(w), free(g), free(m), free(v);
}

static void test_adamw(void **state) { for_each_config3(adamw_pair); }

/* Both sum in double and round once to float: within an ulp. Fill: exact. */
static void sumsq_fill_pair(pair *p) {
    const int64_t n = 40003;   /* three partial-sum chunks, the last partial */
    float *x = rand_vec(n, 2.0f), one = 1.5f;
    twin tx = twin_of(p, n, 1, x), to = twin_of(p, 1, 1, &one);
    must_run(p->ref, gk_sum_squares(p->ref, &to.r, &tx.r), "sum_squares");
    must_run(p->cpu, gk_sum_squares(p->cpu, &to.c, &tx.c), "sum_squares");
    twin_expect(p, "sum_squares", &to, 1e-7);
    must_run(p->cpu, gk_fill(p->cpu, &tx.c, -0.375f), "fill");
    float *got = get(p->cpu, &tx.c);
    for (int64_t i = 0; i < n; i++)
        if (got[i] != -0.375f) fail_msg("fill (%s): element %lld is %g", p->label, (long long)i, (double)got[i]);
    free(got);
    twin_drop(p, &tx), twin_drop(p, &to);
    free(x);
}

static void test_sum_squares_fill(void **state) { for_each_config3(sumsq_fill_pair); }

/* The column-split reductions: 1, 2 and 3 threads give the same bits. */
static void test_reductions_threads_agree(void **state) {
    if (!threads_work()) skip();
    const int64_t n = 771, T = 40;
    float *x = rand_vec(n * T, 2.0f), *dy = rand_vec(n * T, 1.0f), *w = rand_vec(n, 1.5f), *base = NULL;
    for (int threads = 1; threads <= 3; threads++) {
        gk_backend *b = open_backend("cpu", NULL, threads);
        gk_tensor tx = t2(b, GK_F32, n, T, x), tdy = t2(b, GK_F32, n, T, dy), tw = t2(b, GK_F32, n, 1, w);
        gk_tensor tdx = t2(b, GK_F32, n, T, NULL), tdw = t2(b, GK_F32, n, 1, NULL), to = t2(b, GK_F32, 1, 1, NULL);
        must_run(b, gk_fill(b, &tdx, 0), "fill"), must_run(b, gk_fill(b, &tdw, 0), "fill"), must_run(b, gk_fill(b, &to, 0), "fill");
        must_run(b, gk_rmsnorm_backward(b, &tdx, &tdw, &tdy, &tx, &tw, 1e-6f), "rmsnorm_backward");
        must_run(b, gk_sum_squares(b, &to, &tdx), "sum_squares");
        float *got = get(b, &tdw), *s = get(b, &to);
        got = realloc(got, (size_t)(n + 1) * sizeof *got);
        got[n] = s[0];
        free(s);
        if (!base) base = got;
        else {
            assert_memory_equal(got, base, (size_t)(n + 1) * sizeof *got);
            free(got);
        }
        drop(b, &tx), drop(b, &tdy), drop(b, &tw), drop(b, &tdx), drop(b, &tdw), drop(b, &to);
        gk_backend_close(b);
    }
    free(base), free(x), free(dy), free(w);
}

/* ---- the matmul forms of the backward ----------------------------------------------------------- */

/* dX{K, M} = alpha · dY{N, M} · W{K, N} + beta · dX, W quantised: both backends dequantise the
 * same blocks exactly, then sum N float products of values ~1 (ref in its own order, cpu on the
 * micro-kernel; observed up to 2.4e-6): 2e-5 relative to 1 + |ref| for N = 70. */
static void dx_case(pair *p, int wtype, int64_t K, int64_t N, int64_t M, float alpha, float beta) {
    float *w = rand_vec(K * N, 1.0f), *g = rand_vec(N * M, 1.0f), *y0 = rand_vec(K * M, 1.0f);
    gk_tensor wr = t2(p->ref, wtype, K, N, w), wc = t2(p->cpu, wtype, K, N, w);
    twin tg = twin_of(p, N, M, g), ty = twin_of(p, K, M, y0);
    gk_matmul_params mp = {.trans_w = true, .alpha = alpha, .beta = beta};
    must_run(p->ref, gk_matmul(p->ref, &ty.r, &wr, &tg.r, &mp), "matmul dX");
    must_run(p->cpu, gk_matmul(p->cpu, &ty.c, &wc, &tg.c, &mp), "matmul dX");
    char what[96];
    snprintf(what, sizeof what, "matmul dX, %s W, K %lld, M %lld, alpha %g, beta %g", gk_type_name(wtype),
             (long long)K, (long long)M, (double)alpha, (double)beta);
    twin_expect(p, what, &ty, 2e-5);
    drop(p->ref, &wr), drop(p->cpu, &wc), twin_drop(p, &tg), twin_drop(p, &ty);
    free(w), free(g), free(y0);
}

static void dx_pair(pair *p) {
    /* a panel is a multiple of 256 columns: K past one and not a whole number of them */
    const int64_t P = gk_cpu_wt_panel_cols(p->cpu->n_threads);
    dx_case(p, GK_Q4_0, P + 288, 70, 33, 1.0f, 0.0f);      /* the sgemm path (M >= 32) */
    dx_case(p, GK_Q8_0, P + 32, 70, 5, 0.5f, 1.0f);        /* the tile path, accumulating */
    dx_case(p, GK_Q4_K, P + 256, 70, 34, -2.0f, 0.25f);
    dx_case(p, GK_F32, 2 * P + 7, 19, 3, 1.0f, 0.0f);      /* a float W takes panels too */
}

static void test_matmul_dx_quantised(void **state) { for_each_config(dx_pair); }

/* The panel path's scratch (every buffer the cpu backend holds between calls) after a dX matmul
 * on a W four panels wide is bounded by one panel of W's rows and its product: far below the
 * F32 copy of W that decoding it whole takes. M = 8: the tile path, no packed activations. */
static void test_matmul_dx_panel_memory(void **state) {
    gk_backend *b = open_backend("cpu", NULL, 1);
    const int64_t P = gk_cpu_wt_panel_cols(1), K = 4 * P, N = 96, M = 8;
    float *w = rand_vec(K * N, 1.0f), *g = rand_vec(N * M, 1.0f);
    gk_tensor tw = t2(b, GK_Q4_0, K, N, w), tg = t2(b, GK_F32, N, M, g), ty = t2(b, GK_F32, K, M, NULL);
    gk_matmul_params mp = {.trans_w = true, .alpha = 1};
    must_run(b, gk_matmul(b, &ty, &tw, &tg, &mp), "matmul dX");
    size_t held = 0;
    for (int i = 0; i < CPU_SCRATCH_COUNT; i++) held += gk_cpu_of(b)->scratch_bytes[i];
    const size_t bound = (size_t)(P * N + P * M) * sizeof(float) + 4 * 64, whole = (size_t)(K * N) * sizeof(float);
    if (held > bound) fail_msg("dX on a %lld x %lld q4_0 W holds %zu bytes of scratch; a panel bounds it at %zu",
                               (long long)K, (long long)N, held, bound);
    assert_true(held * 3 < whole);
    drop(b, &tw), drop(b, &tg), drop(b, &ty);
    gk_backend_close(b);
    free(w), free(g);
}

/* dW{K, N} = alpha · dY{N, M}ᵀ · X{K, M} + beta · dW: the weight gradient (alpha 1, beta 1: the
 * kernels accumulate into dW in place when N >= 32 rows, the sgemm path), float operands; and
 * the default form with beta 1 (accumulating in place too). Sums of M products: 2e-5. */
static void dw_case(pair *p, int64_t K, int64_t N, int64_t M, float alpha, float beta, bool trans) {
    float *x = rand_vec(K * M, 1.0f), *g = rand_vec(N * M, 1.0f), *d0 = rand_vec(K * N, 1.0f);
    twin tx = trans ? twin_of(p, K, M, x) : twin_of(p, M, K, x), tg = trans ? twin_of(p, N, M, g) : twin_of(p, M, N, g);
    twin tdw = twin_of(p, K, N, d0);
    gk_matmul_params mp = {.trans_x = trans, .trans_w = trans, .alpha = alpha, .beta = beta};
    must_run(p->ref, gk_matmul(p->ref, &tdw.r, &tx.r, &tg.r, &mp), "matmul dW");
    must_run(p->cpu, gk_matmul(p->cpu, &tdw.c, &tx.c, &tg.c, &mp), "matmul dW");
    char what[96];
    snprintf(what, sizeof what, "matmul %s K %lld N %lld M %lld, alpha %g, beta %g", trans ? "dW" : "default form",
             (long long)K, (long long)N, (long long)M, (double)alpha, (double)beta);
    twin_expect(p, what, &tdw, 2e-5);
    twin_drop(p, &tx), twin_drop(p, &tg), twin_drop(p, &tdw);
    free(x), free(g), free(d0);
}

static void dw_pair(pair *p) {
    dw_case(p, 45, 37, 29, 1.0f, 1.0f, true);     /* accumulating in place */
    dw_case(p, 45, 13, 29, 1.0f, 1.0f, true);     /* too few rows for the sgemm: combined */
    dw_case(p, 45, 37, 29, 0.5f, 1.0f, true);     /* alpha: combined */
    dw_case(p, 45, 37, 29, 1.0f, 0.0f, true);     /* overwritten in place */
    dw_case(p, 53, 40, 21, 1.0f, 1.0f, false);    /* the default form, accumulating: Y{K, N} += X{M, N}·W{M, K}ᵀ */
}

static void test_matmul_dw(void **state) { for_each_config(dw_pair); }

/* ---- the family ------------------------------------------------------------------------------- */

static void test_cpu_has_the_family(void **state) {
    gk_backend *b = open_backend("cpu", NULL, 1);
    for (int op = 0; op < GK_OP_COUNT; op++)
        if (gk_op_family((gk_op)op) == GK_FAMILY_TRAIN && !gk_backend_supports(b, (gk_op)op, NULL, 0))
            fail_msg("cpu lacks %s: %s", gk_op_name((gk_op)op), gk_backend_error(b));
    gk_backend_close(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_has_the_family),
        cmocka_unit_test(test_rmsnorm_backward),
        cmocka_unit_test(test_rope_backward),
        cmocka_unit_test(test_attention_backward),
        cmocka_unit_test(test_attention_backward_threads_agree),
        cmocka_unit_test(test_silu_mul_backward),
        cmocka_unit_test(test_embedding_backward),
        cmocka_unit_test(test_cross_entropy),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_sum_squares_fill),
        cmocka_unit_test(test_reductions_threads_agree),
        cmocka_unit_test(test_matmul_dx_quantised),
        cmocka_unit_test(test_matmul_dx_panel_memory),
        cmocka_unit_test(test_matmul_dw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
