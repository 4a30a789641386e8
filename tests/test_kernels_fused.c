/* The fused core ops (add_rmsnorm, rope_kv_store) on ref and cpu: each gives, bit for bit, what
 * the sequence of ops it replaces gives on the same backend (ref's is the oracle's definition;
 * cpu's keeps the unfused kernels' arithmetic in their order), cpu equals ref within the row
 * ops' tolerances on every micro-kernel table with 1 and 2 threads, and bad calls are refused
 * with a message naming the op and the tensor. */
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
#include "kernels/op_checks.h"

#define RAND32_SEED 4242u
#include "tests/rand32.h"
#include "tests/kernel_pairs.h"

static void tensor_from(gk_backend *b, gk_tensor *t, int type, int64_t ne0, int64_t ne1, const void *bytes) {
    assert_int_equal(gk_new2d(b, t, type, ne0, ne1), 0);
    if (bytes) assert_int_equal(b->ops->upload(b, t, 0, bytes, t->nbytes), 0);
}

static void *download(gk_backend *b, const gk_tensor *t) {
    void *v = malloc(t->nbytes);
    assert_non_null(v);
    assert_int_equal(b->ops->download(b, t, 0, v, t->nbytes), 0);
    return v;
}

static void free_t(gk_backend *b, gk_tensor *t) { b->ops->free(b, t); }

#define OK(b, call)                                                                                          \
    do {                                                                                                     \
        if ((call) != 0) fail_msg("%s: %s", (b)->name, gk_backend_error(b));                                 \
    } while (0)

/* ---- add_rmsnorm ----------------------------------------------------------------------------- */

typedef struct arn_out {
    float *x, *y; /* x after x += r, and the norm */
} arn_out;

/* x += r, y = rmsnorm(x)·w on b, fused or as add then rmsnorm; y is r's storage (as the llm
 * forward pass uses it) when in_r. */
static arn_out run_add_rmsnorm(gk_backend *b, bool fused, bool in_r, const float *x, const float *r,
                               const float *w, int64_t dim, int64_t rows) {
    gk_tensor tx, tr, tw, ty;
    tensor_from(b, &tx, GK_F32, dim, rows, x);
    tensor_from(b, &tr, GK_F32, dim, rows, r);
    tensor_from(b, &tw, GK_F32, dim, 1, w);
    if (!in_r) tensor_from(b, &ty, GK_F32, dim, rows, NULL);
    gk_tensor *y = in_r ? &tr : &ty;
    if (fused) {
        OK(b, gk_add_rmsnorm(b, y, &tx, &tr, &tw, 1e-5f));
    } else {
        OK(b, gk_add(b, &tx, &tx, &tr));
        OK(b, gk_rmsnorm(b, y, &tx, &tw, 1e-5f));
    }
    arn_out o = {download(b, &tx), download(b, y)};
    free_t(b, &tx), free_t(b, &tr), free_t(b, &tw);
    if (!in_r) free_t(b, &ty);
    return o;
}

static void arn_free(arn_out o) { free(o.x), free(o.y); }

static void add_rmsnorm_all(pair *p) {
    const int64_t dims[][2] = {{1, 1}, {8, 3}, {40, 17}, {4096, 2}, {8200, 9}}; /* dim, rows */
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        const int64_t dim = dims[d][0], rows = dims[d][1], n = dim * rows;
        float *x = rand_vec(n, 3.0f), *r = rand_vec(n, 1.0f), *w = rand_vec(dim, 1.0f);
        for (int in_r = 0; in_r < 2; in_r++) {
            arn_out ref_f = run_add_rmsnorm(p->ref, true, in_r, x, r, w, dim, rows);
            arn_out ref_u = run_add_rmsnorm(p->ref, false, in_r, x, r, w, dim, rows);
            arn_out cpu_f = run_add_rmsnorm(p->cpu, true, in_r, x, r, w, dim, rows);
            arn_out cpu_u = run_add_rmsnorm(p->cpu, false, in_r, x, r, w, dim, rows);
            assert_memory_equal(ref_f.x, ref_u.x, (size_t)n * sizeof(float));
            assert_memory_equal(ref_f.y, ref_u.y, (size_t)n * sizeof(float));
            assert_memory_equal(cpu_f.x, cpu_u.x, (size_t)n * sizeof(float));
            assert_memory_equal(cpu_f.y, cpu_u.y, (size_t)n * sizeof(float));
            /* the sum is one float addition on both; the norm as rmsnorm's tolerance (test_kernels_ops) */
            assert_memory_equal(cpu_f.x, ref_f.x, (size_t)n * sizeof(float));
            for (int64_t i = 0; i < n; i++)
                if (!(fabs((double)cpu_f.y[i] - ref_f.y[i]) <= 2e-5 * fabs(ref_f.y[i]) + 2e-6))
                    fail_msg("add_rmsnorm %lldx%lld (%s): element %lld ref %g cpu %g", (long long)dim,
                             (long long)rows, p->label, (long long)i, (double)ref_f.y[i], (double)cpu_f.y[i]);
            arn_free(ref_f), arn_free(ref_u), arn_free(cpu_f), arn_free(cpu_u);
        }
        free(x), free(r), free(w);
    }
}

static void test_add_rmsnorm(void **state) {
    (void)state;
    for_each_config(add_rmsnorm_all);
}

/* By hand: x = (1, 2, 3, 4) + (1, 0, -1, 2) = (2, 2, 2, 6); mean square (4+4+4+36)/4 = 12, so
 * y = x / sqrt(12 + eps) · w with w = (1, 1, 0.5, 2). */
static void test_add_rmsnorm_by_hand(void **state) {
    (void)state;
    const char *names[] = {"ref", "cpu"};
    const float x[4] = {1, 2, 3, 4}, r[4] = {1, 0, -1, 2}, w[4] = {1, 1, 0.5f, 2};
    const double want_x[4] = {2, 2, 2, 6}, s = 1.0 / sqrt(12.0 + 1e-5);
    for (int i = 0; i < 2; i++) {
        gk_backend *b = open_backend(names[i], NULL, 1);
        arn_out o = run_add_rmsnorm(b, true, true, x, r, w, 4, 1);
        for (int k = 0; k < 4; k++) {
            assert_true(o.x[k] == (float)want_x[k]);
            assert_true(fabs(o.y[k] - want_x[k] * s * w[k]) <= 1e-6);
        }
        arn_free(o);
        gk_backend_close(b);
    }
}

/* ---- rope_kv_store --------------------------------------------------------------------------- */

typedef struct rkv_case {
    int n_head, n_kv, hd, pos0, T, ktype, vtype;
    bool ff;
} rkv_case;

typedef struct rkv_out {
    float *q, *k;  /* q after, k after (unchanged by the fused op) */
    void *kc, *vc; /* the caches' bytes */
    size_t kc_bytes, vc_bytes;
} rkv_out;

enum { RKV_CTX = 12 };

static rkv_out run_rope_kv(gk_backend *b, bool fused, const rkv_case *c, const float *q, const float *k,
                           const float *v, const float *ff) {
    const int64_t qw = (int64_t)c->n_head * c->hd, kw = (int64_t)c->n_kv * c->hd;
    gk_tensor tq, tk, tv, tkc, tvc, tf;
    tensor_from(b, &tq, GK_F32, qw, c->T, q);
    tensor_from(b, &tk, GK_F32, kw, c->T, k);
    tensor_from(b, &tv, GK_F32, kw, c->T, v);
    tensor_from(b, &tkc, c->ktype, kw, RKV_CTX, NULL);
    tensor_from(b, &tvc, c->vtype, kw, RKV_CTX, NULL);
    void *zero = calloc(1, tkc.nbytes > tvc.nbytes ? tkc.nbytes : tvc.nbytes);
    OK(b, b->ops->upload(b, &tkc, 0, zero, tkc.nbytes));
    OK(b, b->ops->upload(b, &tvc, 0, zero, tvc.nbytes));
    free(zero);
    if (c->ff) tensor_from(b, &tf, GK_F32, c->hd / 2, 1, ff);
    const gk_tensor *tff = c->ff ? &tf : NULL;
    if (fused) {
        gk_rope_kv_params p = {c->n_head, c->n_kv, c->hd, c->pos0, 10000.0f, tff};
        OK(b, gk_rope_kv_store(b, &tq, &tkc, &tvc, &tk, &tv, &p));
    } else {
        OK(b, gk_rope(b, &tq, c->n_head, c->hd, c->pos0, 10000.0f, tff));
        OK(b, gk_rope(b, &tk, c->n_kv, c->hd, c->pos0, 10000.0f, tff));
        OK(b, gk_kv_store(b, &tkc, &tk, c->pos0));
        OK(b, gk_kv_store(b, &tvc, &tv, c->pos0));
    }
    rkv_out o = {download(b, &tq),  download(b, &tk), download(b, &tkc),
                 download(b, &tvc), tkc.nbytes,       tvc.nbytes};
    free_t(b, &tq), free_t(b, &tk), free_t(b, &tv), free_t(b, &tkc), free_t(b, &tvc);
    if (c->ff) free_t(b, &tf);
    return o;
}

static void rkv_free(rkv_out o) { free(o.q), free(o.k), free(o.kc), free(o.vc); }

static void expect_same_rkv(const char *what, const rkv_out *a, const rkv_out *b, const rkv_case *c) {
    const size_t qn = (size_t)c->n_head * (size_t)c->hd * (size_t)c->T;
    if (memcmp(a->q, b->q, qn * sizeof(float)) || a->kc_bytes != b->kc_bytes ||
        memcmp(a->kc, b->kc, a->kc_bytes) || a->vc_bytes != b->vc_bytes || memcmp(a->vc, b->vc, a->vc_bytes))
        fail_msg("%s: fused and unfused differ (heads %d/%d of %d, pos0 %d, %s/%s caches%s)", what, c->n_head,
                 c->n_kv, c->hd, c->pos0, gk_type_name(c->ktype), gk_type_name(c->vtype),
                 c->ff ? ", factors" : "");
}

/* cache rows decoded to floats */
static float *cache_floats(const rkv_out *o, int type, int64_t width, bool kcache) {
    float *f = malloc((size_t)(width * RKV_CTX) * sizeof *f);
    gk_type_get(type)->to_f32(kcache ? o->kc : o->vc, f, width * RKV_CTX);
    return f;
}

static const rkv_case rkv_cases[] = {
    {4, 2, 8, 0, 3, GK_F32, GK_F32, false},  {4, 4, 16, 5, 2, GK_F16, GK_Q8_0, false},
    {8, 2, 64, 7, 4, GK_Q8_0, GK_F16, true}, {2, 1, 128, 9, 1, GK_Q8_0, GK_Q8_0, true},
    {3, 3, 32, 11, 1, GK_F32, GK_F16, true},
};

static void rope_kv_all(pair *p) {
    for (size_t ci = 0; ci < sizeof rkv_cases / sizeof rkv_cases[0]; ci++) {
        const rkv_case *c = &rkv_cases[ci];
        const int64_t qn = (int64_t)c->n_head * c->hd * c->T, kw = (int64_t)c->n_kv * c->hd, kn = kw * c->T;
        float *q = rand_vec(qn, 2.0f), *k = rand_vec(kn, 2.0f), *v = rand_vec(kn, 2.0f),
              *ff = rand_vec(c->hd / 2, 1.0f);
        for (int i = 0; i < c->hd / 2; i++) ff[i] = 1.5f + ff[i]; /* 0.5 .. 2.5 */
        rkv_out rf = run_rope_kv(p->ref, true, c, q, k, v, ff),
                ru = run_rope_kv(p->ref, false, c, q, k, v, ff);
        rkv_out cf = run_rope_kv(p->cpu, true, c, q, k, v, ff),
                cu = run_rope_kv(p->cpu, false, c, q, k, v, ff);
        expect_same_rkv("ref", &rf, &ru, c);
        expect_same_rkv(p->label, &cf, &cu, c);
        assert_memory_equal(rf.k, k, (size_t)kn * sizeof(float)); /* the fused op leaves k as it is */
        assert_memory_equal(cf.k, k, (size_t)kn * sizeof(float));
        /* cpu against ref: rope's tolerance (test_kernels_ops), plus where the two differ across a
         * cache type's rounding boundary one step of it, for values below 2 * sqrt(2) in
         * magnitude (a turned pair keeps its length): F16 2^-9 (values in [2, 4)), Q8_0 amax/127 */
        for (int64_t i = 0; i < qn; i++)
            if (!(fabs((double)cf.q[i] - rf.q[i]) <= 2e-5 * fabs(rf.q[i]) + 1.2e-5))
                fail_msg("rope_kv_store q (%s): element %lld ref %g cpu %g", p->label, (long long)i,
                         (double)rf.q[i], (double)cf.q[i]);
        for (int kv = 0; kv < 2; kv++) {
            const int type = kv ? c->vtype : c->ktype;
            float *a = cache_floats(&rf, type, kw, !kv), *b = cache_floats(&cf, type, kw, !kv);
            const double quant = type == GK_Q8_0 ? 2.83 / 127 : type == GK_F16 ? 0x1p-9 : 0;
            for (int64_t i = 0; i < kw * RKV_CTX; i++)
                if (!(fabs((double)a[i] - b[i]) <= 2e-5 * fabs(a[i]) + 1.2e-5 + quant))
                    fail_msg("rope_kv_store %s cache %s (%s): element %lld ref %g cpu %g", kv ? "V" : "K",
                             gk_type_name(type), p->label, (long long)i, (double)a[i], (double)b[i]);
            free(a), free(b);
        }
        rkv_free(rf), rkv_free(ru), rkv_free(cf), rkv_free(cu);
        free(q), free(k), free(v), free(ff);
    }
}

static void test_rope_kv_store(void **state) {
    (void)state;
    for_each_config(rope_kv_all);
}

/* ---- bad calls ------------------------------------------------------------------------------- */

static void expect_refused(gk_backend *b, int rc, const char *what) {
    assert_int_not_equal(rc, 0);
    if (!strstr(gk_backend_error(b), what))
        fail_msg("%s: error '%s' does not say '%s'", b->name, gk_backend_error(b), what);
}

static void test_fused_bad_calls(void **state) {
    (void)state;
    const char *names[] = {"ref", "cpu"};
    for (int i = 0; i < 2; i++) {
        gk_backend *b = open_backend(names[i], NULL, 1);
        gk_tensor x, r, w, y3, q, k, v, kc, vc, kc16;
        tensor_from(b, &x, GK_F32, 64, 2, NULL);
        tensor_from(b, &r, GK_F32, 64, 2, NULL);
        tensor_from(b, &w, GK_F32, 64, 1, NULL);
        tensor_from(b, &y3, GK_F32, 64, 3, NULL);
        expect_refused(b, gk_add_rmsnorm(b, &x, &x, &r, &w, 1e-5f), "add_rmsnorm: y overlaps x");
        expect_refused(b, gk_add_rmsnorm(b, &r, &x, &x, &w, 1e-5f), "add_rmsnorm: the residual overlaps x");
        expect_refused(b, gk_add_rmsnorm(b, &y3, &x, &r, &w, 1e-5f), "add_rmsnorm: y is 64x3, expected 64x2");
        expect_refused(b, gk_add_rmsnorm(b, &r, &x, &y3, &w, 1e-5f), "add_rmsnorm: residual is 64x3");
        /* y may be the residual itself, not a part of it */
        gk_tensor yv = gk_view_rows(&y3, 0, 2), rv = gk_view_rows(&y3, 1, 2);
        expect_refused(b, gk_add_rmsnorm(b, &yv, &x, &rv, &w, 1e-5f), "add_rmsnorm: y overlaps the residual");
        OK(b, gk_add_rmsnorm(b, &rv, &x, &rv, &w, 1e-5f));
        tensor_from(b, &q, GK_F32, 64, 2, NULL); /* 4 heads of 16 */
        tensor_from(b, &k, GK_F32, 32, 2, NULL); /* 2 KV heads */
        tensor_from(b, &v, GK_F32, 32, 2, NULL);
        tensor_from(b, &kc, GK_Q8_0, 32, 4, NULL);
        tensor_from(b, &vc, GK_F32, 32, 4, NULL);
        tensor_from(b, &kc16, GK_Q4_0, 32, 4, NULL);
        gk_rope_kv_params p = {4, 2, 16, 1, 10000.0f, NULL};
        OK(b, gk_rope_kv_store(b, &q, &kc, &vc, &k, &v, &p));
        p.pos0 = 3; /* rows 3..5 of 4 */
        expect_refused(b, gk_rope_kv_store(b, &q, &kc, &vc, &k, &v, &p),
                       "rope_kv_store: rows 3..5 outside the kcache's 4");
        p.pos0 = 0;
        expect_refused(b, gk_rope_kv_store(b, &q, &kc16, &vc, &k, &v, &p),
                       "rope_kv_store: kcache type q4_0 not supported");
        expect_refused(b, gk_rope_kv_store(b, &q, &kc, &vc, &k, &v, NULL), "rope_kv_store: no parameters");
        p.n_kv_head = 1;
        expect_refused(b, gk_rope_kv_store(b, &q, &kc, &vc, &k, &v, &p),
                       "rope_kv_store: k is 32x2, expected 16x");
        p.n_kv_head = 2, p.head_dim = 15;
        expect_refused(b, gk_rope_kv_store(b, &q, &kc, &vc, &k, &v, &p), "rope_kv_store: bad parameters");
        p.head_dim = 16;
        gk_tensor q1 = gk_view_rows(&q, 0, 1);
        expect_refused(b, gk_rope_kv_store(b, &q1, &kc, &vc, &k, &v, &p),
                       "rope_kv_store: q, k and v have 1, 2 and 2 rows");
        free_t(b, &x), free_t(b, &r), free_t(b, &w), free_t(b, &y3), free_t(b, &q), free_t(b, &k),
            free_t(b, &v);
        free_t(b, &kc), free_t(b, &vc), free_t(b, &kc16);
        gk_backend_close(b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_rmsnorm_by_hand),
        cmocka_unit_test(test_add_rmsnorm),
        cmocka_unit_test(test_rope_kv_store),
        cmocka_unit_test(test_fused_bad_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
