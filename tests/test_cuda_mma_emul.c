/* The tensor-core kernels in host emulation: the prefill matmul on the 8-bit tensor cores
 * (kernels/cuda/mma.cuh) and prefill attention on the F16 ones (attention_mma.cuh).
 * The matmul:
 *  - the emulated m16n8k32 tile against a plain integer product, its fragments built from the
 *    PTX ISA's layout (the layout kernels/cuda/simt.cuh documents), and one element by hand;
 *  - the kernel for every quantized format, whole and ragged tiles, several K steps, both
 *    thread orders, against the product of the dequantised weights and the quantised
 *    activations (in double), and within the 8-bit rounding bound of the float product;
 *  - its memory transactions: the fraction of fetched sector bytes used by the weight,
 *    activation and output accesses (a deterministic property of the access pattern);
 *  - the path choice: which M and compute capabilities take it.
 * The attention:
 *  - the emulated m16n8k16 F16 tile and the 4-lane reductions against plain arithmetic;
 *  - the kernel (causal, grouped-query, F16 and Q8_0 caches, ragged query tiles, a cache
 *    already holding pos0 positions, both thread orders) against attention in double on the
 *    cache's values, within a bound derived from F16's rounding of Q·scale, K, V and P;
 *  - its memory transactions, and which calls take it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "kernels/cuda/matvec.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/attention_mma.cuh"

#define EMUL_SEED 0x9e3779b97f4a7c15ull
#include "tests/emul_util.h"

/* ---- the tile primitive ---------------------------------------------------------------- */
typedef struct tile_args {
    const uint32_t *fa, *fb; /* per lane: 4 and 2 words */
    int *d;                  /* per lane: 4 sums */
} tile_args;

GK_BODY(body_one_tile, tile_args) {
    GK_LOCAL_ARR(uint32_t, fa, 4);
    GK_LOCAL_ARR(uint32_t, fb, 2);
    GK_LOCAL_ARR(int, d, 4);
    GK_THREADS {
        for (int i = 0; i < 4; i++) R(fa)[i] = a.fa[4 * tid + i], R(d)[i] = 100 * tid + i;
        for (int i = 0; i < 2; i++) R(fb)[i] = a.fb[2 * tid + i];
    }
    GK_MMA_S8(d, 0, fa, 0, fb, 0);
    GK_THREADS {
        for (int i = 0; i < 4; i++) a.d[4 * tid + i] = R(d)[i];
    }
}

static uint32_t pack4(const int8_t *v) {
    uint32_t u = 0;
    for (int i = 0; i < 4; i++) u |= (uint32_t)(uint8_t)v[i] << (8 * i);
    return u;
}

/* Each lane's A and B fragments of an m16n8k32 tile, by the PTX ISA's layout. */
static void s8_fragments(int8_t A[16][32], int8_t B[32][8], uint32_t *fa, uint32_t *fb) {
    for (int l = 0; l < 32; l++) {
        const int g = l / 4, t = l % 4;
        int8_t col[32];
        for (int k = 0; k < 32; k++) col[k] = B[k][g];
        fa[4 * l] = pack4(&A[g][4 * t]), fa[4 * l + 1] = pack4(&A[g + 8][4 * t]);
        fa[4 * l + 2] = pack4(&A[g][16 + 4 * t]), fa[4 * l + 3] = pack4(&A[g + 8][16 + 4 * t]);
        fb[2 * l] = pack4(&col[4 * t]), fb[2 * l + 1] = pack4(&col[16 + 4 * t]);
    }
}

static void mma_tile_matches_plain_product(void **s) {
    (void)s;
    int8_t A[16][32], B[32][8]; /* B is k x n */
    for (int r = 0; r < 16; r++)
        for (int k = 0; k < 32; k++) A[r][k] = (int8_t)(frand() * 128.0f);
    for (int k = 0; k < 32; k++)
        for (int c = 0; c < 8; c++) B[k][c] = (int8_t)(frand() * 128.0f);
    A[3][5] = -128, B[5][6] = -128; /* the extremes */
    uint32_t fa[32 * 4], fb[32 * 2];
    int d[32 * 4];
    s8_fragments(A, B, fa, fb);
    tile_args a = {fa, fb, d};
    GK_EMUL_LAUNCH(body_one_tile, 1, 1, 1, 32, 0, a);
    for (int l = 0; l < 32; l++)
        for (int i = 0; i < 4; i++) {
            const int r = l / 4 + 8 * (i / 2), c = 2 * (l % 4) + i % 2;
            int want = 100 * l + i;
            for (int k = 0; k < 32; k++) want += A[r][k] * B[k][c];
            if (d[4 * l + i] != want)
                fail_msg("lane %d d[%d] (D[%d][%d]) = %d, want %d", l, i, r, c, d[4 * l + i], want);
        }
    /* by hand: A all 1 but row 9 all 2, B column 3 all -1 but k = 31 +5: D[9][3] = 2·(-31) + 2·5 */
    memset(A, 1, sizeof A), memset(A[9], 2, sizeof A[9]);
    memset(B, 0, sizeof B);
    for (int k = 0; k < 32; k++) B[k][3] = k == 31 ? 5 : -1;
    s8_fragments(A, B, fa, fb);
    GK_EMUL_LAUNCH(body_one_tile, 1, 1, 1, 32, 0, a);
    /* D[9][3]: row g+8 = 9 -> g = 1, column 2t+1 = 3 -> t = 1: lane 5, d[3] */
    assert_int_equal(d[4 * 5 + 3], 100 * 5 + 3 + 2 * -31 + 2 * 5);
    assert_int_equal(d[4 * 5 + 1], 100 * 5 + 1 + -31 + 5); /* D[1][3]: row 1 of ones */
}

/* ---- the kernel ------------------------------------------------------------------------ */
static const int qtypes[] = {GK_Q8_0, GK_Q4_0, GK_Q4_1, GK_Q4_K, GK_Q6_K};
enum { N_QTYPES = sizeof qtypes / sizeof qtypes[0] };

static uint8_t *encode(int type, const float *x, int64_t K, int64_t rows) {
    const size_t rb = gk_type_bytes(type, K);
    uint8_t *p = dalloc(rb * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) gk_type_get(type)->from_f32(x + r * K, p + r * rb, K);
    return p;
}

static void emul_mma(const gk_mv_args *mv, const uint8_t *xq, int rev) {
    const gk_mvx_args a = {*mv, xq};
    const gk_grid g = gk_plan_mma_x8(mv->N, mv->M);
    switch (mv->type) {
        case GK_Q8_0: GK_EMUL_LAUNCH(gk_body_mma_x8_q8_0, g.gx, g.gy, g.gz, g.nt, rev, a); break;
        case GK_Q4_0: GK_EMUL_LAUNCH(gk_body_mma_x8_q4_0, g.gx, g.gy, g.gz, g.nt, rev, a); break;
        case GK_Q4_1: GK_EMUL_LAUNCH(gk_body_mma_x8_q4_1, g.gx, g.gy, g.gz, g.nt, rev, a); break;
        case GK_Q4_K: GK_EMUL_LAUNCH(gk_body_mma_x8_q4_k, g.gx, g.gy, g.gz, g.nt, rev, a); break;
        case GK_Q6_K: GK_EMUL_LAUNCH(gk_body_mma_x8_q6_k, g.gx, g.gy, g.gz, g.nt, rev, a); break;
        default: fail_msg("no mma kernel for %s", gk_type_name(mv->type));
    }
}

static void quantize(const float *x, uint8_t *xq, int64_t K, int64_t M) {
    const gk_xq_args q = {x, xq, K, M};
    const gk_grid g = gk_plan_quantize_x8(K, M);
    GK_EMUL_LAUNCH(gk_body_quantize_x8, g.gx, g.gy, g.gz, g.nt, 0, q);
}

/* y from the emulated kernel vs the dequantised weights times the quantised activations (in
 * double: only F32 rounding apart) and vs the float product (the 8-bit rounding bound). */
static void check_mma(int type, int64_t K, int64_t N, int64_t M, int rev) {
    float *wf = rnd(K * N, 1.0f), *x = rnd(K * M, 1.0f);
    uint8_t *w = encode(type, wf, K, N), *xq = dalloc(gk_mv_xq_bytes(K, M));
    float *y = dalloc((size_t)(N * M) * 4), *row = malloc((size_t)K * 4);
    assert_non_null(row);
    memset(y, 0xff, (size_t)(N * M) * 4); /* every output written: no NaN left */
    quantize(x, xq, K, M);
    const size_t rb = gk_type_bytes(type, K);
    const gk_mv_args mv = {w, rb, x, y, K, N, M, type};
    emul_mma(&mv, xq, rev);
    const float *xd = (const float *)(const void *)(xq + K * M);
    for (int64_t n = 0; n < N; n++) {
        gk_type_get(type)->to_f32(w + n * rb, row, K);
        for (int64_t m = 0; m < M; m++) {
            double q = 0, e = 0, bound = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                const double dx = xd[(m * K + k) / 32];
                q += (double)row[k] * dx * (double)(int8_t)xq[m * K + k];
                e += (double)row[k] * x[m * K + k];
                bound += fabs(row[k]) * dx / 2;
                mag += fabs((double)row[k] * x[m * K + k]);
            }
            const double got = y[m * N + n], tol = 2e-6 * mag + 1e-6;
            if (!(fabs(got - q) <= tol))
                fail_msg("mma x8 %s K=%lld N=%lld M=%lld rev=%d: y[%lld,%lld] = %.9g, the quantised product %.9g "
                         "(%.3g apart, tolerance %.3g)",
                         gk_type_name(type), (long long)K, (long long)N, (long long)M, rev, (long long)m,
                         (long long)n, got, q, fabs(got - q), tol);
            if (!(fabs(got - e) <= bound + tol))
                fail_msg("mma x8 %s: y[%lld,%lld] = %.9g is %.3g from the float product %.9g, bound %.3g",
                         gk_type_name(type), (long long)m, (long long)n, got, fabs(got - e), e, bound + tol);
        }
    }
    free(wf), free(x), free(w), free(xq), free(y), free(row);
}

static void mma_x8_every_format(void **s) {
    (void)s;
    static const struct { int64_t K, N, M; } shapes[] = {
        {512, 64, 64},   /* one block, two K steps */
        {2304, 70, 9},   /* nine K steps; a second, nearly empty row tile; 9 of 64 tokens */
        {256, 5, 130},   /* odd N (single stores), three token tiles */
    };
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int i = 0; i < N_QTYPES; i++)
            for (int rev = 0; rev < 2; rev++) check_mma(qtypes[i], shapes[si].K, shapes[si].N, shapes[si].M, rev);
}

/* K not a multiple of a step (the 32-block formats): a last step of 3 chunks. */
static void mma_x8_partial_step(void **s) {
    (void)s;
    check_mma(GK_Q8_0, 352, 16, 12, 0);
    check_mma(GK_Q4_0, 96, 8, 17, 1);
    check_mma(GK_Q4_1, 352, 3, 11, 0);
}

/* ---- memory transactions ------------------------------------------------------------------ */
static void mma_x8_sector_efficiency(void **s) {
    (void)s;
    /* per format: the weights' figure (one row's 8-chunk tile a warp-step group, as the
     * matvec's staging reads them); activations and outputs are whole sectors for all */
    static const double w_pct[N_QTYPES] = {94.44, 90.00, 100.00, 90.00, 88.33};
    const int64_t K = 2048, N = 128, M = 64;
    for (int i = 0; i < N_QTYPES; i++) {
        const int type = qtypes[i];
        float *wf = rnd(K * N, 1.0f), *x = rnd(K * M, 1.0f);
        uint8_t *w = encode(type, wf, K, N), *xq = dalloc(gk_mv_xq_bytes(K, M));
        float *y = dalloc((size_t)(N * M) * 4);
        quantize(x, xq, K, M);
        const size_t rb = gk_type_bytes(type, K);
        gk_mem_buf b[3] = {gk_trace_buf("weights", w, rb * N), gk_trace_buf("activations", xq, gk_mv_xq_bytes(K, M)),
                           gk_trace_buf("output", y, (size_t)(N * M) * 4)};
        gk_trace_begin(b, 3);
        const gk_mv_args mv = {w, rb, x, y, K, N, M, type};
        emul_mma(&mv, xq, 0);
        gk_trace_end();
        const eff_want want[] = {{"weights", 'l', w_pct[i]}, {"activations", 'l', 100.0}, {"output", 's', 100.0}};
        char what[48];
        snprintf(what, sizeof what, "mma_x8 %s", gk_type_name(type));
        check_eff(what, b, 3, want, 3);
        if (w_pct[i] < 80.0) fail_msg("%s: weights at %.2f%% of their sector bytes, under 80%%", what, w_pct[i]);
        free(wf), free(x), free(w), free(xq), free(y);
    }
}

/* ---- the path choice ------------------------------------------------------------------------ */
static void mma_path_choice(void **s) {
    (void)s;
    assert_int_equal(gk_plan_matmul_path(GK_Q4_0, GK_MV_MAX_M, 1, 90), GK_PATH_MATVEC_X8); /* decode */
    assert_int_equal(gk_plan_matmul_path(GK_Q4_0, GK_MV_MAX_M + 1, 1, 90), GK_PATH_MMA_X8);
    assert_int_equal(gk_plan_matmul_path(GK_Q6_K, GK_MMA_MAX_M, 1, 80), GK_PATH_MMA_X8);
    assert_int_equal(gk_plan_matmul_path(GK_Q6_K, GK_MMA_MAX_M + 1, 1, 80), GK_PATH_GEMM);
    assert_int_equal(gk_plan_matmul_path(GK_Q6_K, 4096, 0, 80), GK_PATH_MMA_X8); /* no cuBLAS */
    assert_int_equal(gk_plan_matmul_path(GK_Q4_0, 128, 1, 75), GK_PATH_GEMM);    /* no m16n8k32 before sm_80 */
    assert_int_equal(gk_plan_matmul_path(GK_Q4_0, 128, 0, 75), GK_PATH_MATVEC_X8);
    assert_int_equal(gk_plan_matmul_path(GK_F16, 128, 1, 90), GK_PATH_GEMM);     /* float weights */
    assert_int_equal(gk_plan_matmul_path(GK_BF16, 128, 1, 75), GK_PATH_MATVEC);
    /* the fold: Q4_0's 0..15 to -8..7, Q6_K's 0..63 to -32..31, bytes independent */
    assert_int_equal(gk_fold_off(0x0f080700u, -8), 0x0700fff8u);
    assert_int_equal(gk_fold_off(0x3f201f00u, -32), 0x1f00ffe0u);
    assert_int_equal(gk_fold_off(0x8001ff7fu, 0), 0x8001ff7fu);
}

/* ---- the F16 tile and the 4-lane reductions ------------------------------------------------- */
typedef struct h_tile_args {
    const uint32_t *fa, *fb;
    float *d, *q; /* per lane: 4 sums; 2 values to reduce */
} h_tile_args;

GK_BODY(body_h_tile, h_tile_args) {
    GK_LOCAL_ARR(uint32_t, fa, 4);
    GK_LOCAL_ARR(uint32_t, fb, 2);
    GK_LOCAL_ARR(float, d, 4);
    GK_LOCAL_ARR(float, q, 2);
    GK_THREADS {
        for (int i = 0; i < 4; i++) R(fa)[i] = a.fa[4 * tid + i], R(d)[i] = (float)(tid + i);
        for (int i = 0; i < 2; i++) R(fb)[i] = a.fb[2 * tid + i], R(q)[i] = a.q[2 * tid + i];
    }
    GK_MMA_F16(d, 0, fa, 0, fb, 0);
    GK_QUAD_MAX_AT(q, 0);
    GK_QUAD_SUM_AT(q, 1);
    GK_THREADS {
        for (int i = 0; i < 4; i++) a.d[4 * tid + i] = R(d)[i];
        for (int i = 0; i < 2; i++) a.q[2 * tid + i] = R(q)[i];
    }
}

static uint32_t h2(float lo, float hi) { return (uint32_t)gk_f32_to_f16(lo) | (uint32_t)gk_f32_to_f16(hi) << 16; }

static void f16_tile_and_quads(void **s) {
    (void)s;
    float A[16][16], B[16][8]; /* small integers and halves: exact in F16 and in F32 sums */
    for (int r = 0; r < 16; r++)
        for (int k = 0; k < 16; k++) A[r][k] = (float)((r * 7 + k * 3) % 11 - 5) * 0.5f;
    for (int k = 0; k < 16; k++)
        for (int c = 0; c < 8; c++) B[k][c] = (float)((k * 5 + c * 13) % 9 - 4);
    uint32_t fa[128], fb[64];
    float d[128], q[64];
    for (int l = 0; l < 32; l++) {
        const int g = l / 4, t = l % 4;
        fa[4 * l] = h2(A[g][2 * t], A[g][2 * t + 1]), fa[4 * l + 1] = h2(A[g + 8][2 * t], A[g + 8][2 * t + 1]);
        fa[4 * l + 2] = h2(A[g][2 * t + 8], A[g][2 * t + 9]), fa[4 * l + 3] = h2(A[g + 8][2 * t + 8], A[g + 8][2 * t + 9]);
        fb[2 * l] = h2(B[2 * t][g], B[2 * t + 1][g]), fb[2 * l + 1] = h2(B[2 * t + 8][g], B[2 * t + 9][g]);
        q[2 * l] = (float)((l * 11) % 7), q[2 * l + 1] = (float)l;
    }
    h_tile_args a = {fa, fb, d, q};
    GK_EMUL_LAUNCH(body_h_tile, 1, 1, 1, 32, 1, a);
    for (int l = 0; l < 32; l++) {
        for (int i = 0; i < 4; i++) {
            const int r = l / 4 + 8 * (i / 2), c = 2 * (l % 4) + i % 2;
            double want = l + i;
            for (int k = 0; k < 16; k++) want += (double)A[r][k] * B[k][c];
            if (d[4 * l + i] != (float)want) fail_msg("lane %d d[%d] (D[%d][%d]) = %g, want %g", l, i, r, c, d[4 * l + i], want);
        }
        const int g0 = l / 4 * 4;
        float mx = 0;
        for (int j = g0; j < g0 + 4; j++) mx = fmaxf(mx, (float)((j * 11) % 7));
        assert_true(q[2 * l] == mx);
        assert_true(q[2 * l + 1] == (float)(4 * g0 + 6)); /* g0 + g0+1 + g0+2 + g0+3 */
    }
}

/* ---- prefill attention ------------------------------------------------------------------------ */
typedef struct fa_case { int n_head, n_kv, hd, pos0; int64_t T; int kv_type; } fa_case;

/* Row j of a cache of ne elements a row as floats (the values the kernel reads). */
static void cache_row(int type, const uint8_t *row, int64_t ne, float *out) { gk_type_get(type)->to_f32(row, out, ne); }

static void check_attention_mma(const fa_case *c, int rev, gk_mem_buf *trace, int ntrace) {
    const int64_t kw = (int64_t)c->n_kv * c->hd, ctx = c->pos0 + c->T, qw = (int64_t)c->n_head * c->hd;
    float *q = rnd(qw * c->T, 1.0f), *kf = rnd(kw * ctx, 1.0f), *vf = rnd(kw * ctx, 1.0f);
    const size_t rb = gk_type_bytes(c->kv_type, kw);
    uint8_t *k = dalloc(rb * (size_t)ctx), *v = dalloc(rb * (size_t)ctx);
    for (int64_t j = 0; j < ctx; j++) {
        gk_type_get(c->kv_type)->from_f32(kf + j * kw, k + j * rb, kw);
        gk_type_get(c->kv_type)->from_f32(vf + j * kw, v + j * rb, kw);
    }
    float *out = dalloc((size_t)(qw * c->T) * 4);
    memset(out, 0xff, (size_t)(qw * c->T) * 4);
    const float scale = 1.0f / sqrtf((float)c->hd);
    gk_attn_args a = {q, out, k, v, rb, NULL, c->kv_type, c->n_head, c->n_kv, c->hd, c->pos0, 0, c->T, scale, NULL, 1};
    if (trace) {
        trace[0] = gk_trace_buf("q", q, (size_t)(qw * c->T) * 4), trace[1] = gk_trace_buf("k", k, rb * (size_t)ctx);
        trace[2] = gk_trace_buf("v", v, rb * (size_t)ctx), trace[3] = gk_trace_buf("out", out, (size_t)(qw * c->T) * 4);
        gk_trace_begin(trace, ntrace);
    }
    const gk_grid g = gk_plan_attn_prefill_mma(c->n_head, c->T);
    GK_EMUL_LAUNCH(gk_body_attn_prefill_mma, g.gx, g.gy, g.gz, g.nt, rev, a);
    if (trace) gk_trace_end();
    /* the cache's values, as the kernel sees them before its own F16 rounding */
    float *kc = malloc((size_t)(kw * ctx) * 4), *vc = malloc((size_t)(kw * ctx) * 4);
    double *p = malloc((size_t)ctx * sizeof *p);
    assert_true(kc && vc && p);
    for (int64_t j = 0; j < ctx; j++) cache_row(c->kv_type, k + j * rb, kw, kc + j * kw), cache_row(c->kv_type, v + j * rb, kw, vc + j * kw);
    const double u = 0x1p-11; /* F16's unit roundoff */
    double worst_err = 0, worst_ratio = 0;
    for (int64_t t = 0; t < c->T; t++)
        for (int h = 0; h < c->n_head; h++) {
            const int64_t off = (int64_t)(h / (c->n_head / c->n_kv)) * c->hd, nk = c->pos0 + t + 1;
            double mx = -INFINITY, sum = 0, dmax = 0, vmax = 0;
            for (int64_t j = 0; j < nk; j++) {
                double sj = 0, mag = 0;
                for (int d = 0; d < c->hd; d++) {
                    sj += (double)q[(t * c->n_head + h) * c->hd + d] * kc[j * kw + off + d];
                    mag += fabs((double)q[(t * c->n_head + h) * c->hd + d] * kc[j * kw + off + d]);
                }
                p[j] = sj * scale;
                mx = fmax(mx, p[j]);
                /* Q·scale and K rounded to F16 (K already is in an F16 cache), F32 sums */
                dmax = fmax(dmax, (2 * u + c->hd * 0x1p-24) * mag * scale);
                for (int d = 0; d < c->hd; d++) vmax = fmax(vmax, fabs(vc[j * kw + off + d]));
            }
            for (int64_t j = 0; j < nk; j++) sum += (p[j] = exp(p[j] - mx));
            /* each weight off by e^(2·dmax)·(1 ± u) at most (the max cancels in the ratio): a
             * weighted mean moves by 2ρ/(1-ρ) of the values' range; V rounded to F16: u more */
            const double rho = expm1(2 * dmax + u), bound = (2 * rho / (1 - rho) + u) * vmax + 1e-6;
            for (int d = 0; d < c->hd; d++) {
                double want = 0;
                for (int64_t j = 0; j < nk; j++) want += p[j] * vc[j * kw + off + d];
                want /= sum;
                const double got = out[(t * c->n_head + h) * c->hd + d];
                if (fabs(got - want) > worst_err) worst_err = fabs(got - want);
                if (fabs(got - want) / bound > worst_ratio) worst_ratio = fabs(got - want) / bound;
                if (!(fabs(got - want) <= bound))
                    fail_msg("attention mma %s hd=%d pos0=%d T=%lld rev=%d: out[t=%lld, h=%d, d=%d] = %.7g, want %.7g "
                             "(bound %.3g)", gk_type_name(c->kv_type), c->hd, c->pos0, (long long)c->T, rev, (long long)t,
                             h, d, got, want, bound);
            }
        }
    printf("attention mma %s n_head %d/%d hd %d pos0 %d T %lld rev %d: worst error %.3g, %.3f of its bound\n",
           gk_type_name(c->kv_type), c->n_head, c->n_kv, c->hd, c->pos0, (long long)c->T, rev, worst_err, worst_ratio);
    free(q), free(kf), free(vf), free(k), free(v), free(out), free(kc), free(vc), free(p);
}

static void attention_mma_matches_double(void **s) {
    (void)s;
    static const fa_case cases[] = {
        {4, 2, 64, 0, 100, GK_F16},   /* tinyllama's head_dim, GQA, two query tiles, a partial one */
        {2, 1, 128, 37, 70, GK_Q8_0}, /* llama2-7b's head_dim over an 8-bit cache holding 37 positions */
        {8, 8, 64, 5, 9, GK_F16},     /* the fewest rows prefill takes */
        {2, 2, 16, 0, 33, GK_F16},    /* one 16-dimension step */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int rev = 0; rev < 2; rev++) check_attention_mma(&cases[i], rev, NULL, 0);
}

static void attention_mma_sector_efficiency(void **s) {
    (void)s;
    gk_mem_buf b[4];
    const fa_case c = {4, 2, 64, 0, 128, GK_F16};
    check_attention_mma(&c, 0, b, 4);
    const eff_want want[] = {{"q", 'l', 100.0}, {"k", 'l', 100.0}, {"v", 'l', 100.0}, {"out", 's', 100.0}};
    check_eff("attn_prefill_mma f16", b, 4, want, 4);
}

static void attention_mma_path_choice(void **s) {
    (void)s;
    assert_true(gk_plan_attn_mma(GK_F16, 64, GK_AT_DECODE_MAX_T + 1, 80));
    assert_true(gk_plan_attn_mma(GK_Q8_0, 128, 512, 90));
    assert_false(gk_plan_attn_mma(GK_F16, 64, GK_AT_DECODE_MAX_T, 90)); /* decode: split-K kernels */
    assert_false(gk_plan_attn_mma(GK_F32, 64, 512, 90));                /* an F32 cache: F32 tiles */
    assert_false(gk_plan_attn_mma(GK_F16, 64, 512, 75));                /* no m16n8k16 F32 before sm_80 here */
    assert_false(gk_plan_attn_mma(GK_F16, 256, 512, 90));               /* past GK_TCA_DMAX */
    assert_false(gk_plan_attn_mma(GK_F16, 72, 512, 90));                /* not a multiple of 16 */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mma_tile_matches_plain_product),
        cmocka_unit_test(mma_x8_every_format),
        cmocka_unit_test(mma_x8_partial_step),
        cmocka_unit_test(mma_x8_sector_efficiency),
        cmocka_unit_test(mma_path_choice),
        cmocka_unit_test(f16_tile_and_quads),
        cmocka_unit_test(attention_mma_matches_double),
        cmocka_unit_test(attention_mma_sector_efficiency),
        cmocka_unit_test(attention_mma_path_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
