/* Every op of the "cpu" backend, with every micro-kernel table usable on this CPU and with 1 and
 * 2 threads, equals the "ref" oracle within the tolerances stated at each check, on random data
 * and awkward shapes. Also: the thread pool, table selection, and bad calls being refused; the op
 * table's growth points: strided views, matmul forms (by hand on ref, cpu against ref), what
 * supports() answers, a backend without a family. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/backend.h"
#include "kernels/op_checks.h"
#include "kernels/platform.h"
#include "kernels/cpu/microkernels.h"

#define RAND32_SEED 777u
#include "tests/rand32.h"

/* ---- can this process start threads? ------------------------------------------------------ */

#include "tests/kernel_pairs.h"

static void tensor_from(gk_backend *b, gk_tensor *t, int type, int64_t ne0, int64_t ne1, const void *bytes) {
    assert_int_equal(gk_new2d(b, t, type, ne0, ne1), 0);
    if (bytes) assert_int_equal(b->ops->upload(b, t, 0, bytes, t->nbytes), 0);
}

static float *download_f32(gk_backend *b, const gk_tensor *t) {
    float *v = malloc(t->nbytes);
    assert_int_equal(b->ops->download(b, t, 0, v, t->nbytes), 0);
    return v;
}

static void free_t(gk_backend *b, gk_tensor *t) { b->ops->free(b, t); }

/* ---- matmul --------------------------------------------------------------------------------- */

typedef struct mm_shape {
    int64_t k, n, m;
} mm_shape;

/* Shapes chosen to hit every path and edge: M = 1 (matvec), small M (tiles), M >= 32 (packed
 * sgemm for float weights), rows and columns that are not multiples of any tile or SIMD width,
 * K = one block, K beyond the sgemm's KC = 256, N beyond its NC = 128. For the packed integer
 * GEMM (M >= 8; 16-row panels, 4 per unit, 64 blocks per packed range, 8 columns per register
 * block): 130 rows (units of 64 rows, a last panel of 2), column counts 17, 23, 33, 64 (every
 * remainder of 8: 4, 2, 1), K = 2080 (65 blocks: a range of 64 blocks and a partial one), M = 8
 * and 7 (either side of the threshold). */
static const mm_shape shapes32[] = {
    {32, 1, 1},    {32, 17, 3},   {96, 3, 17},    {320, 64, 1},  {64, 1, 64},    {160, 17, 17}, {96, 67, 9},
    {288, 5, 64},  {32, 130, 33}, {1088, 33, 23}, {96, 16, 16},  {2080, 19, 18},
    {64, 20, 8},   {64, 20, 7},
    /* matvec kernels that prepare the activations per call (groups of 2 or 4 blocks, at most
     * 512 or 256 blocks a pass): K = 131 blocks (a tail past the groups), 517 blocks (two passes and a tail) */
    {4192, 37, 1}, {16544, 3, 1},
    /* whole groups of eight rows, for prepared Q4_0 and Q8_0 weights (q4_0_x8.h, q8_0_x8.h): 9
     * groups (a pair of halves and a lone one) over 131 blocks, 2 groups over 517 (two passes of
     * the kernels), the packed GEMM from groups at 3, 9 and 2 columns (one panel of 8
     * rows, a last of 8) */
    {4192, 72, 1}, {16544, 16, 1}, {2080, 64, 3}, {1088, 40, 9}, {64, 8, 2},
};
static const mm_shape shapes256[] = {
    {256, 1, 1}, {256, 17, 3}, {512, 3, 17}, {256, 64, 1}, {256, 1, 64}, {512, 67, 9},
    /* whole groups of eight rows, for prepared Q4_K and Q6_K weights (q4_k_x8.h, q6_k_x8.h): 9
     * groups (a pair of halves and a lone one) over 3 super-blocks, 2 groups over 65 (two passes
     * of the kernels), the packed GEMM from groups at 3, 9 and 2 columns (K = 2304: a packed
     * range of 8 super-blocks and a partial one; a last panel of 8 rows) */
    {768, 72, 1}, {16640, 16, 1}, {2304, 64, 3}, {512, 40, 9}, {256, 8, 2},
};
static const mm_shape shapes_float[] = {
    {1, 1, 1}, {7, 3, 5}, {33, 17, 17}, {300, 130, 33}, {64, 1, 64}, {17, 64, 1}, {260, 3, 3}, {33, 17, 40},
    {1100, 40, 35},   /* K past two of the sgemm's F16-panel blocks (512), partial panels and tiles */
    {1100, 9, 1},     /* one column: AVX-512's F16 matvec, 17 steps of 64 and a masked tail of 12 */
    {1104, 5, 1},     /* its steps of 16 after the 64s (1088 + 16) */
};

/* Tolerance for Y[m][n]. The cpu backend quantises activations to the table's activation type;
 * each element then errs by at most amax(block)/254 (Q8_0, plus its f16 scale's 2^-11) or
 * amax(block)/128 (Q8_K), so by Cauchy-Schwarz |ΔY| <= ||w_n|| * ||e_m||. Float accumulation
 * in a different order adds at most 2e-4 * Σ|w·x| here (K <= 1100: K·2^-24 < 7e-5). */
static double mm_tol(int wtype, const float *wrow, const float *x, int64_t k) {
    double sabs = 0, w2 = 0, e2 = 0;
    for (int64_t i = 0; i < k; i++) sabs += fabs((double)wrow[i] * x[i]), w2 += (double)wrow[i] * wrow[i];
    int blk = 0;
    double per = 0;
    if (wtype == GK_Q8_0 || wtype == GK_Q4_0 || wtype == GK_Q4_1) blk = 32, per = 1.0 / 254 + 1.0 / 2048;
    if (wtype == GK_Q4_K || wtype == GK_Q6_K) blk = 256, per = 1.0 / 128;
    for (int64_t b0 = 0; blk && b0 < k; b0 += blk) {
        double amax = 0;
        for (int64_t i = b0; i < b0 + blk; i++) amax = fmax(amax, fabs(x[i]));
        e2 += blk * (amax * per) * (amax * per);
    }
    return sqrt(w2) * sqrt(e2) + 2e-4 * sabs + 1e-6;
}

/* The activations as the cpu backend's integer dots see them: quantised to the activation
 * type of ukernel.h's contract (Q8_0 for 32-blocks, Q8_K for K-quants) and decoded. Also
 * returns the largest scale, the size of one rounding step. */
static float *act_as_quantised(int wtype, const float *x, int64_t k, int64_t m, double *step) {
    int act = wtype == GK_Q4_K || wtype == GK_Q6_K ? GK_Q8_K : GK_Q8_0;
    const gk_type_info *ai = gk_type_get(act);
    float *xq = malloc((size_t)(k * m) * sizeof *xq);
    void *buf = malloc(gk_type_bytes(act, k));
    *step = 0;
    for (int64_t r = 0; r < m; r++) {
        ai->from_f32(x + r * k, buf, k);
        ai->to_f32(buf, xq + r * k, k);
        for (int64_t i = 0; i < k; i++) *step = fmax(*step, fabs(x[r * k + i]) / (act == GK_Q8_K ? 128 : 127));
    }
    free(buf);
    return xq;
}

/* A second, tighter check for integer formats: against the exact product with activations
 * quantised as the contract says; a table may round up to 4 activation elements per dot the
 * other way (ties, reciprocal vs division), each worth max|w| * step. */
static void check_matmul_tight(const char *label, int wtype, mm_shape s, const float *wf, const float *x,
                               const float *y) {
    double step;
    float *xq = act_as_quantised(wtype, x, s.k, s.m, &step);
    for (int64_t m = 0; m < s.m; m++)
        for (int64_t n = 0; n < s.n; n++) {
            double e = 0, sabs = 0, wmax = 0;
            for (int64_t i = 0; i < s.k; i++) {
                double w = wf[n * s.k + i], v = xq[m * s.k + i];
                e += w * v, sabs += fabs(w * v), wmax = fmax(wmax, fabs(w));
            }
            double tol = 2e-4 * sabs + 4 * wmax * step + 1e-6, d = fabs(e - y[m * s.n + n]);
            if (!(d <= tol))
                fail_msg("matmul %s K=%lld N=%lld M=%lld (%s): y[%lld][%lld] = %g, exact with quantised "
                         "activations %g, tolerance %g", gk_type_name(wtype), (long long)s.k, (long long)s.n,
                         (long long)s.m, label, (long long)m, (long long)n, (double)y[m * s.n + n], e, tol);
        }
    free(xq);
}

/* Whether the cpu backend's table takes the AMX-BF16 path for this matmul (cpu_matmul.c: K a
 * multiple of 32, 8+ columns, a BF16X16 packed GEMM for the weight type): there each factor of
 * Σ w·x is rounded once to BF16 (instead of the activations being quantised, or nothing). */
static bool bf16_path(const char *isa, int wtype, mm_shape s) {
    const gk_igemm_kernels *ik = &gk_ukernels_select(isa)->igemm[wtype];
    return ik->kernel && ik->act_layout == GK_IGEMM_ACT_BF16X16 && s.m >= 8 && s.k % 32 == 0;
}

/* That path's bound: 2^-9 relative per factor, and float accumulation as in mm_tol. */
static double bf16_tol(const float *wrow, const float *x, int64_t k) {
    double sabs = 0;
    for (int64_t i = 0; i < k; i++) sabs += fabs((double)wrow[i] * x[i]);
    return (0x1p-8 + 2e-4) * sabs + 1e-6;
}

/* Y on backend b, the weights prepared first (gk_prepare_weight) when prepare. A Q4_0, Q4_K,
 * Q8_0 or Q6_K matrix of whole groups of eight rows is then stored in those groups where the
 * table has the kernel for it (cpu: AVX2 for Q4_0/Q4_K, AVX-512 for all four, SDOT for
 * Q4_0/Q8_0 and, on the dotprod table, Q4_K): checked here, so the prepared paths are known to
 * have run. */
static float *matmul_of(gk_backend *b, const char *isa, int wtype, mm_shape s, const void *wq, const float *x,
                        bool prepare) {
    gk_tensor tw, tx, ty;
    tensor_from(b, &tw, wtype, s.k, s.n, wq);
    tensor_from(b, &tx, GK_F32, s.k, s.m, x);
    tensor_from(b, &ty, GK_F32, s.n, s.m, NULL);
    if (prepare) {
        assert_int_equal(gk_prepare_weight(b, &tw), 0);
        const bool x8 = (wtype == GK_Q4_0 || wtype == GK_Q4_K || wtype == GK_Q8_0 || wtype == GK_Q6_K) &&
                        gk_ukernels_select(isa)->t[wtype].matvec_x8 &&
                        s.n % 8 == 0;
        assert_int_equal(tw.layout != 0, x8);
    }
    if (gk_matmul(b, &ty, &tw, &tx, NULL)) fail_msg("%s", gk_backend_error(b));
    float *y = download_f32(b, &ty);
    free_t(b, &tw), free_t(b, &tx), free_t(b, &ty);
    return y;
}

/* ref vs cpu on weights wq (wtype) and activations x, cpu's weights as uploaded and prepared
 * (the same bound for both); wf: the weights decoded (overwritten). */
static void check_matmul_data(pair *p, int wtype, mm_shape s, const void *wq, float *wf, const float *x) {
    const gk_type_info *ti = gk_type_get(wtype);
    for (int64_t r = 0; r < s.n; r++)   /* what the weights really are, for the tolerance */
        ti->to_f32((const char *)wq + (size_t)r * gk_type_bytes(wtype, s.k), wf + r * s.k, s.k);
    float *y[3] = {matmul_of(p->ref, NULL, wtype, s, wq, x, false), matmul_of(p->cpu, p->isa, wtype, s, wq, x, false),
                   matmul_of(p->cpu, p->isa, wtype, s, wq, x, true)};
    const bool bf16 = bf16_path(p->isa, wtype, s);
    for (int c = 1; c < 3; c++) {
        char label[96];
        snprintf(label, sizeof label, "%s%s", p->label, c == 2 ? ", prepared" : "");
        for (int64_t m = 0; m < s.m; m++)
            for (int64_t n = 0; n < s.n; n++) {
                double tol = bf16 ? bf16_tol(wf + n * s.k, x + m * s.k, s.k) : mm_tol(wtype, wf + n * s.k, x + m * s.k, s.k);
                double d = fabs((double)y[0][m * s.n + n] - y[c][m * s.n + n]);
                if (!(d <= tol))
                    fail_msg("matmul %s K=%lld N=%lld M=%lld (%s): y[%lld][%lld] ref %g cpu %g, tolerance %g",
                             gk_type_name(wtype), (long long)s.k, (long long)s.n, (long long)s.m, label,
                             (long long)m, (long long)n, (double)y[0][m * s.n + n], (double)y[c][m * s.n + n], tol);
            }
        if (gk_type_get(wtype)->quantized && !bf16) check_matmul_tight(label, wtype, s, wf, x, y[c]);
    }
    free(y[0]), free(y[1]), free(y[2]);
}

static void check_matmul(pair *p, int wtype, mm_shape s) {
    const gk_type_info *ti = gk_type_get(wtype);
    float *wf = rand_vec(s.k * s.n, 1.0f), *x = rand_vec(s.k * s.m, 2.0f);
    void *wq = malloc(gk_type_bytes(wtype, s.k) * (size_t)s.n);
    for (int64_t r = 0; r < s.n; r++)
        ti->from_f32(wf + r * s.k, (char *)wq + (size_t)r * gk_type_bytes(wtype, s.k), s.k);
    check_matmul_data(p, wtype, s, wq, wf, x);
    free(wf), free(x), free(wq);
}

/* Q4_0 and Q8_0 at their extremes: every nibble 0 or 15 (weights -8, +7), every Q8_0 byte -128
 * or +127, and every activation ±amax (the quantised ±127), so the per-block integer sums reach
 * their bounds. The AVX2 packed GEMM sums the vpmaddubsw pairs of a block as int16 (at most
 * 8·2·15·127 = 30480 here), the AVX2 matrix-vector kernel four products a lane (4·15·127), the
 * Q8_0 dots two (2·128·127 = 32512): an overflow, or a saturation, would show as a wrong result.
 * The kernel on groups of eight rows (prepared Q4_0) sums a block's eight vpmaddubsw pairs as
 * int16 too (8·2·15·127). Shapes: 2 panels + 3 rows, 8 + 8 + 3 columns; one column (the
 * matrix-vector kernels) over 65 blocks (16 groups of four and a tail); 40 rows, one column (five
 * groups of eight when prepared: Q4_0, and Q8_0 on AVX-512, whose vpdpbusd sums sixteen
 * (w+128)·x a lane). */
static void matmul_extremes_shape(pair *p, int wtype, mm_shape s, int kind0) {
    const size_t wrow = gk_type_bytes(wtype, s.k), bb = wtype == GK_Q4_0 ? 18 : 34;
    unsigned char *wq = malloc(wrow * (size_t)s.n);
    float *wf = malloc((size_t)(s.k * s.n) * sizeof *wf), *x = malloc((size_t)(s.k * s.m) * sizeof *x);
    const unsigned char pat4[] = {0xff, 0x00, 0x0f, 0xf0}, pat8[] = {0x80, 0x7f, 0x80, 0x7f};
    for (int64_t r = 0; r < s.n; r++)
        for (int64_t b = 0; b < s.k / 32; b++) {
            unsigned char *blk = wq + (size_t)r * wrow + (size_t)b * bb;
            blk[0] = 0x00, blk[1] = 0x3c;   /* f16 1.0 */
            if (wtype == GK_Q4_0) memset(blk + 2, pat4[(r + b) % 4], 16);
            else for (int i = 0; i < 32; i++) blk[2 + i] = (r + b) % 3 ? pat8[(r + b) % 4] : pat8[i % 2];
        }
    for (int64_t m = 0; m < s.m; m++) {   /* columns: all +2, all -2, then alternating by block */
        int kind = (int)((kind0 + m) % 3);
        for (int64_t i = 0; i < s.k; i++) x[m * s.k + i] = kind == 0 ? 2.0f : kind == 1 ? -2.0f : (i / 32) % 2 ? 2.0f : -2.0f;
    }
    check_matmul_data(p, wtype, s, wq, wf, x);
    free(wq), free(wf), free(x);
}

static void matmul_q4_0_extremes(pair *p) {
    matmul_extremes_shape(p, GK_Q4_0, (mm_shape){256, 35, 19}, 0);
    for (int kind = 0; kind < 3; kind++) {
        matmul_extremes_shape(p, GK_Q4_0, (mm_shape){2080, 37, 1}, kind);
        matmul_extremes_shape(p, GK_Q4_0, (mm_shape){2080, 40, 1}, kind);
        matmul_extremes_shape(p, GK_Q8_0, (mm_shape){2080, 37, 1}, kind);
        matmul_extremes_shape(p, GK_Q8_0, (mm_shape){2080, 40, 1}, kind);
    }
}

static void test_matmul_q4_0_extremes(void **state) {
    (void)state;
    for_each_config(matmul_q4_0_extremes);
}

/* Which tables carry a packed integer GEMM: none for scalar (the table the others fall back
 * to), Q4_0, Q8_0 (on AVX2 with its bytes split into nibbles: w+128 would saturate
 * vpmaddubsw), Q4_K and Q6_K on every x86-64 SIMD table (its own, or AVX-512's), and F16/BF16
 * on AMX's BF16 tiles; only those anywhere. */
static void test_igemm_tables(void **state) {
    (void)state;
    for (const char *const *n = gk_ukernels_available(); *n; n++) {
        const gk_ukernels *u = gk_ukernels_select(*n);
        print_message("igemm entries of %s: q4_0 %s, q8_0 %s, q4_k %s, q6_k %s\n", *n,
                      u->igemm[GK_Q4_0].kernel ? "yes" : "no", u->igemm[GK_Q8_0].kernel ? "yes" : "no",
                      u->igemm[GK_Q4_K].kernel ? "yes" : "no", u->igemm[GK_Q6_K].kernel ? "yes" : "no");
        for (int t = 0; t < GK_TYPE_COUNT; t++) {
            const gk_igemm_kernels *ik = &u->igemm[t];
            assert_true((ik->kernel == NULL) == (ik->pack == NULL));
            if (ik->kernel)
                assert_true(t == GK_Q4_0 || t == GK_Q8_0 || t == GK_Q4_K || t == GK_Q6_K ||
                            ((t == GK_F16 || t == GK_BF16) && ik->act_layout == GK_IGEMM_ACT_BF16X16));
            if (strcmp(*n, "scalar") == 0) assert_null(ik->kernel);
        }
#if defined(__x86_64__)
        if (strcmp(*n, "avx2") == 0 || strcmp(*n, "avx512") == 0 || strcmp(*n, "amx") == 0) {
            assert_non_null(u->igemm[GK_Q4_0].kernel);
            assert_non_null(u->igemm[GK_Q8_0].kernel);
            assert_non_null(u->igemm[GK_Q4_K].kernel);
            assert_non_null(u->igemm[GK_Q6_K].kernel);
        }
#endif
    }
}

static void matmul_all(pair *p) {
    const int q32[] = {GK_Q8_0, GK_Q4_0, GK_Q4_1}, q256[] = {GK_Q4_K, GK_Q6_K}, fl[] = {GK_F32, GK_F16, GK_BF16};
    for (size_t t = 0; t < 3; t++)
        for (size_t i = 0; i < sizeof shapes32 / sizeof shapes32[0]; i++) check_matmul(p, q32[t], shapes32[i]);
    for (size_t t = 0; t < 2; t++)
        for (size_t i = 0; i < sizeof shapes256 / sizeof shapes256[0]; i++) check_matmul(p, q256[t], shapes256[i]);
    for (size_t t = 0; t < 3; t++)
        for (size_t i = 0; i < sizeof shapes_float / sizeof shapes_float[0]; i++) check_matmul(p, fl[t], shapes_float[i]);
}

static void test_matmul(void **state) {
    (void)state;
    for_each_config(matmul_all);
}

/* ---- row-wise ops --------------------------------------------------------------------------- */

typedef enum { OP_RMSNORM, OP_SOFTMAX, OP_SILU_MUL, OP_ADD, OP_SCALE, OP_ROPE } rowop;

/* Runs one op on both backends on the same inputs and returns both outputs. */
static void run_rowop(pair *p, rowop op, int64_t ne0, int64_t rows, float *out[2]) {
    float *a = rand_vec(ne0 * rows, 3.0f), *c = rand_vec(ne0 * rows, 1.0f), *w = rand_vec(ne0, 1.0f);
    gk_backend *bs[2] = {p->ref, p->cpu};
    for (int i = 0; i < 2; i++) {
        gk_backend *b = bs[i];
        gk_tensor ta, tc, tw, ty;
        tensor_from(b, &ta, GK_F32, ne0, rows, a);
        tensor_from(b, &tc, GK_F32, ne0, rows, c);
        tensor_from(b, &tw, GK_F32, ne0, 1, w);
        tensor_from(b, &ty, GK_F32, ne0, rows, NULL);
        int rc = 0;
        switch (op) {
        case OP_RMSNORM: rc = gk_rmsnorm(b, &ty, &ta, &tw, 1e-5f); break;
        case OP_SOFTMAX: rc = gk_softmax(b, &ty, &ta); break;
        case OP_SILU_MUL: rc = gk_silu_mul(b, &ty, &ta, &tc); break;
        case OP_ADD: rc = gk_add(b, &ty, &ta, &tc); break;
        case OP_SCALE: rc = gk_scale(b, &ty, &ta, -0.37f); break;
        case OP_ROPE: {
            rc = gk_rope(b, &ta, (int)(ne0 / 8), 8, 5, 10000.0f, NULL);
            free_t(b, &ty);
            ty = ta;   /* in place */
            break;
        }
        }
        if (rc) fail_msg("%s", gk_backend_error(b));
        out[i] = download_f32(b, &ty);
        free_t(b, &ta), free_t(b, &tc), free_t(b, &tw);
        if (op != OP_ROPE) free_t(b, &ty);
    }
    free(a), free(c), free(w);
}

/* Tolerances: single-precision ops against a double-precision oracle, outputs of order 1..10:
 * |Δ| <= 2e-5 * |ref| + 2e-6 (rope: angles up to ~30 rad lose ~2e-6 in float cos/sin). */
static void rowops_all(pair *p) {
    const int64_t dims[][2] = {{1, 1}, {8, 3}, {40, 17}, {4096, 2}, {8200, 9}};   /* ne0, rows */
    for (int op = OP_RMSNORM; op <= OP_ROPE; op++)
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
            if (op == OP_ROPE && dims[d][0] % 8) continue;
            float *y[2];
            run_rowop(p, (rowop)op, dims[d][0], dims[d][1], y);
            for (int64_t i = 0; i < dims[d][0] * dims[d][1]; i++) {
                double tol = 2e-5 * fabs(y[0][i]) + 2e-6 + (op == OP_ROPE ? 1e-5 : 0);
                if (!(fabs((double)y[0][i] - y[1][i]) <= tol))
                    fail_msg("op %d, %lldx%lld (%s): element %lld ref %g cpu %g", op, (long long)dims[d][0],
                             (long long)dims[d][1], p->label, (long long)i, (double)y[0][i], (double)y[1][i]);
            }
            free(y[0]), free(y[1]);
        }
}

static void test_row_ops(void **state) {
    (void)state;
    for_each_config(rowops_all);
}

/* ---- rope with frequency factors (Llama 3.1's rope_freqs) ----------------------------------- */

/* Runs rope on x (nh heads of hd, T rows at pos0) on b, with factors ff (NULL: none). */
static float *rope_on(gk_backend *b, const float *x, int nh, int hd, int64_t T, int pos0, const float *ff) {
    gk_tensor tx, tf;
    tensor_from(b, &tx, GK_F32, (int64_t)nh * hd, T, x);
    if (ff) tensor_from(b, &tf, GK_F32, hd / 2, 1, ff);
    if (gk_rope(b, &tx, nh, hd, pos0, 10000.0f, ff ? &tf : NULL)) fail_msg("%s", gk_backend_error(b));
    float *y = download_f32(b, &tx);
    free_t(b, &tx);
    if (ff) free_t(b, &tf);
    return y;
}

/* Pair i of a row at position pos turns by pos * 10000^(-2i/hd) / ff[i], computed here in
 * double from the definition. */
static void expect_rotated(const char *what, const float *x, const float *y, int nh, int hd, int64_t T, int pos0,
                           const float *ff, double tol) {
    for (int64_t t = 0; t < T; t++)
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < hd / 2; i++) {
                int64_t at = t * nh * hd + (int64_t)h * hd + 2 * i;
                double th = (double)(pos0 + t) * pow(10000.0, -2.0 * i / hd) / (ff ? ff[i] : 1.0);
                double a = x[at], d = x[at + 1];
                double w0 = a * cos(th) - d * sin(th), w1 = a * sin(th) + d * cos(th);
                if (!(fabs(y[at] - w0) <= tol && fabs(y[at + 1] - w1) <= tol))
                    fail_msg("%s: row %lld head %d pair %d is (%g, %g), by hand (%g, %g)", what, (long long)t, h, i,
                             (double)y[at], (double)y[at + 1], w0, w1);
            }
}

static void rope_factors_all(pair *p) {
    enum { NH = 3, HD = 16, T = 4, POS0 = 7 };
    float *x = rand_vec(NH * HD * T, 2.0f), halves[HD / 2], ones[HD / 2], mixed[HD / 2];
    x[NH * HD] = 1.5f, x[NH * HD + 1] = -0.5f;   /* row 1's pair 0, checked last: not near 0 whatever the draw */
    for (int i = 0; i < HD / 2; i++) halves[i] = 2.0f, ones[i] = 1.0f, mixed[i] = 0.5f + 0.75f * (float)i;
    gk_backend *bs[2] = {p->ref, p->cpu};
    float *y[2];
    for (int k = 0; k < 2; k++) {
        /* ff = 2 halves every angle: by hand, and exactly rope at half the position (2p/2 = p in
         * float), so at even positions bit-identical to no factors at pos/2. */
        float *half = rope_on(bs[k], x, NH, HD, 1, 2 * POS0 + 2, halves), *plain = rope_on(bs[k], x, NH, HD, 1, POS0 + 1, NULL);
        expect_rotated(p->label, x, half, NH, HD, 1, 2 * POS0 + 2, halves, 2e-5);
        assert_memory_equal(half, plain, sizeof(float) * NH * HD);
        /* factors of 1 change nothing: bit-identical to none */
        float *one = rope_on(bs[k], x, NH, HD, T, POS0, ones), *none = rope_on(bs[k], x, NH, HD, T, POS0, NULL);
        assert_memory_equal(one, none, sizeof(float) * NH * HD * T);
        y[k] = rope_on(bs[k], x, NH, HD, T, POS0, mixed);
        expect_rotated(p->label, x, y[k], NH, HD, T, POS0, mixed, 2e-5);
        free(half), free(plain), free(one), free(none);
    }
    for (int i = 0; i < NH * HD * T; i++)
        if (!(fabs((double)y[0][i] - y[1][i]) <= 2e-5 * fabs(y[0][i]) + 1e-5))
            fail_msg("rope with factors (%s): element %d ref %g cpu %g", p->label, i, (double)y[0][i], (double)y[1][i]);
    /* and they did something: pair 0 (factor 0.5) of row 1 turned by 16 rad, not 8 */
    float *none = rope_on(p->cpu, x, NH, HD, T, POS0, NULL);
    assert_true(fabs((double)none[HD * NH] - y[1][HD * NH]) > 1e-2);
    free(x), free(y[0]), free(y[1]), free(none);
}

static void test_rope_factors(void **state) {
    (void)state;
    for_each_config(rope_factors_all);
}

/* A factors tensor of the wrong length, type or row count, or of another backend, is refused
 * with an error naming the op and the factors; x is left as it was. */
static void test_rope_factors_refused(void **state) {
    (void)state;
    gk_backend *other = open_backend("ref", NULL, 1);
    const char *names[] = {"ref", "cpu"};
    for (int i = 0; i < 2; i++) {
        gk_backend *b = open_backend(names[i], NULL, 1);
        float x[2 * 8], ff[8], back[2 * 8];
        for (int j = 0; j < 16; j++) x[j] = (float)j;
        for (int j = 0; j < 8; j++) ff[j] = 1.5f;
        gk_tensor tx, bad[4];
        tensor_from(b, &tx, GK_F32, 16, 1, x);
        tensor_from(b, &bad[0], GK_F32, 5, 1, ff);       /* head_dim/2 is 4 */
        tensor_from(b, &bad[1], GK_F16, 4, 1, NULL);
        tensor_from(b, &bad[2], GK_F32, 4, 2, ff);       /* two rows */
        tensor_from(other, &bad[3], GK_F32, 4, 1, ff);   /* another backend's */
        const char *why[] = {"5x1, expected 4x1", "must be f32", "4x2, expected 4x1", "belong to backend"};
        for (int k = 0; k < 4; k++) {
            assert_int_not_equal(gk_rope(b, &tx, 2, 8, 0, 10000.0f, &bad[k]), 0);
            const char *e = gk_backend_error(b);
            if (!strstr(e, "rope") || !strstr(e, "frequency factors") || !strstr(e, why[k]))
                fail_msg("%s, bad factors %d: error '%s' does not say '%s'", names[i], k, e, why[k]);
        }
        assert_int_equal(b->ops->download(b, &tx, 0, back, sizeof back), 0);
        assert_memory_equal(back, x, sizeof x);
        free_t(b, &tx);
        for (int k = 0; k < 3; k++) free_t(b, &bad[k]);
        free_t(other, &bad[3]);
        gk_backend_close(b);
    }
    gk_backend_close(other);
}

/* ---- embedding and kv_store (bit-exact: both decode with the same formats) ------------------ */

static void embed_kv_all(pair *p) {
    const int types[] = {GK_F32, GK_F16, GK_BF16, GK_Q8_0, GK_Q4_0, GK_Q4_1, GK_Q4_K, GK_Q6_K};
    const int32_t ids[] = {3, 0, 6, 15, 9};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        int64_t dim = 512, vocab = 16;   /* two groups of eight rows: prepared Q4_0, Q4_K (AVX2, AVX-512), Q8_0 (AVX-512) */
        const gk_type_info *ti = gk_type_get(types[t]);
        float *tf = rand_vec(dim * vocab, 1.0f);
        void *tq = malloc(gk_type_bytes(types[t], dim * vocab));
        ti->from_f32(tf, tq, dim * vocab);
        float *y[2];
        gk_backend *bs[2] = {p->ref, p->cpu};
        for (int i = 0; i < 2; i++) {
            gk_tensor tt, ti32, ty;
            tensor_from(bs[i], &tt, types[t], dim, vocab, tq);
            assert_int_equal(gk_prepare_weight(bs[i], &tt), 0);   /* only a layout: the same rows */
            tensor_from(bs[i], &ti32, GK_I32, 5, 1, ids);
            tensor_from(bs[i], &ty, GK_F32, dim, 5, NULL);
            assert_int_equal(gk_embedding(bs[i], &ty, &tt, &ti32), 0);
            y[i] = download_f32(bs[i], &ty);
            free_t(bs[i], &tt), free_t(bs[i], &ti32), free_t(bs[i], &ty);
        }
        assert_memory_equal(y[0], y[1], (size_t)dim * 5 * sizeof(float));
        float row[512];
        ti->to_f32((char *)tq + 6 * gk_type_bytes(types[t], dim), row, dim);
        assert_memory_equal(y[1] + 2 * dim, row, sizeof row);   /* token 2 is row 6 */
        free(tf), free(tq), free(y[0]), free(y[1]);
    }
    const int ctypes[] = {GK_F32, GK_F16, GK_Q8_0};
    for (size_t t = 0; t < 3; t++) {
        float *src = rand_vec(96 * 3, 4.0f);
        void *bytes[2];
        gk_backend *bs[2] = {p->ref, p->cpu};
        for (int i = 0; i < 2; i++) {
            gk_tensor tc, ts;
            tensor_from(bs[i], &tc, ctypes[t], 96, 10, NULL);
            bytes[i] = calloc(1, tc.nbytes);
            assert_int_equal(bs[i]->ops->upload(bs[i], &tc, 0, bytes[i], tc.nbytes), 0);
            tensor_from(bs[i], &ts, GK_F32, 96, 3, src);
            assert_int_equal(gk_kv_store(bs[i], &tc, &ts, 6), 0);
            assert_int_equal(bs[i]->ops->download(bs[i], &tc, 0, bytes[i], tc.nbytes), 0);
            free_t(bs[i], &tc), free_t(bs[i], &ts);
        }
        assert_memory_equal(bytes[0], bytes[1], gk_type_bytes(ctypes[t], 96) * 10);
        free(src), free(bytes[0]), free(bytes[1]);
    }
}

static void test_embedding_kv_store(void **state) {
    (void)state;
    for_each_config(embed_kv_all);
}

/* ---- attention ------------------------------------------------------------------------------ */

typedef struct attn_case {
    int n_head, n_kv, hd, t, pos0, ctype;
} attn_case;

static void check_attention(pair *p, attn_case c) {
    int64_t dq = (int64_t)c.n_head * c.hd, dkv = (int64_t)c.n_kv * c.hd, ctx = c.pos0 + c.t + 2;
    float *q = rand_vec(dq * c.t, 1.0f), *k = rand_vec(dkv * (c.pos0 + c.t), 1.5f),
          *v = rand_vec(dkv * (c.pos0 + c.t), 1.0f);
    gk_attn_params ap = {c.n_head, c.n_kv, c.hd, c.pos0, 1.0f / sqrtf((float)c.hd)};
    float *y[2];
    gk_backend *bs[2] = {p->ref, p->cpu};
    for (int i = 0; i < 2; i++) {
        gk_backend *b = bs[i];
        gk_tensor tq, tk, tv, kc, vc, to;
        tensor_from(b, &tq, GK_F32, dq, c.t, q);
        tensor_from(b, &tk, GK_F32, dkv, c.pos0 + c.t, k);
        tensor_from(b, &tv, GK_F32, dkv, c.pos0 + c.t, v);
        tensor_from(b, &kc, c.ctype, dkv, ctx, NULL);
        tensor_from(b, &vc, c.ctype, dkv, ctx, NULL);
        tensor_from(b, &to, GK_F32, dq, c.t, NULL);
        /* kv_store writes identical bytes on both (test_embedding_kv_store) */
        assert_int_equal(gk_kv_store(b, &kc, &tk, 0), 0);
        assert_int_equal(gk_kv_store(b, &vc, &tv, 0), 0);
        if (gk_attention(b, &to, &tq, &kc, &vc, &ap)) fail_msg("%s", gk_backend_error(b));
        y[i] = download_f32(b, &to);
        free_t(b, &tq), free_t(b, &tk), free_t(b, &tv), free_t(b, &kc), free_t(b, &vc), free_t(b, &to);
    }
    /* outputs are convex combinations of values in [-1, 1]: float vs double, |Δ| <= 2e-5 */
    for (int64_t i = 0; i < dq * c.t; i++)
        if (!(fabs((double)y[0][i] - y[1][i]) <= 2e-5))
            fail_msg("attention %s h=%d kv=%d hd=%d T=%d pos0=%d (%s): element %lld ref %g cpu %g",
                     gk_type_name(c.ctype), c.n_head, c.n_kv, c.hd, c.t, c.pos0, p->label, (long long)i,
                     (double)y[0][i], (double)y[1][i]);
    free(q), free(k), free(v), free(y[0]), free(y[1]);
}

static void attention_all(pair *p) {
    const int ctypes[] = {GK_F32, GK_F16, GK_Q8_0};
    const attn_case cases[] = {
        {4, 2, 32, 1, 0, 0}, {4, 2, 32, 5, 7, 0}, {6, 1, 64, 3, 0, 0}, {2, 2, 32, 9, 3, 0}, {8, 4, 32, 1, 40, 0},
        /* from 192 rows the flash path (cpu_image_attention.c): query blocks over key tiles
         * with the diagonal inside, GQA, head_dim 32 (not a multiple of AVX2's 6 rows); a prompt
         * continuing a cache (its first tiles unmasked, a last block of 1 row) */
        {4, 2, 32, 256, 0, 0}, {2, 1, 32, 257, 100, 0},
    };
    for (size_t t = 0; t < 3; t++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            attn_case c = cases[i];
            c.ctype = ctypes[t];
            check_attention(p, c);
        }
}

static void test_attention(void **state) {
    (void)state;
    for_each_config(attention_all);
}

/* ---- bad calls, table selection, the pool --------------------------------------------------- */

static void test_bad_calls_refused(void **state) {
    (void)state;
    const char *names[] = {"ref", "cpu"};
    for (int i = 0; i < 2; i++) {
        gk_backend *b = open_backend(names[i], NULL, 1);
        gk_tensor w, x, y, ids;
        tensor_from(b, &w, GK_Q4_0, 64, 4, NULL);
        tensor_from(b, &x, GK_F32, 32, 2, NULL);
        tensor_from(b, &y, GK_F32, 4, 2, NULL);
        assert_int_not_equal(gk_matmul(b, &y, &w, &x, NULL), 0);   /* K mismatch */
        assert_non_null(strstr(gk_backend_error(b), "matmul"));
        int32_t bad[1] = {4};
        tensor_from(b, &ids, GK_I32, 1, 1, bad);
        gk_tensor e;
        tensor_from(b, &e, GK_F32, 64, 1, NULL);
        assert_int_not_equal(gk_embedding(b, &e, &w, &ids), 0);   /* id 4 of 4 rows */
        assert_non_null(strstr(gk_backend_error(b), "outside"));
        gk_tensor bad_alloc = {.type = GK_Q4_0, .ne = {33, 1, 1, 1}};
        assert_int_not_equal(b->ops->alloc(b, &bad_alloc), 0);
        char buf[8];
        assert_int_not_equal(b->ops->download(b, &x, x.nbytes - 4, buf, 8), 0);
        free_t(b, &w), free_t(b, &x), free_t(b, &y), free_t(b, &ids), free_t(b, &e);
        gk_backend_close(b);
    }
    char err[256];
    assert_null(gk_backend_open("nope", NULL, err, sizeof err));
    assert_non_null(strstr(err, "unknown"));
    gk_backend_opts o = {.n_threads = 1, .isa = "no-such-isa"};
    assert_null(gk_backend_open("cpu", &o, err, sizeof err));
    assert_non_null(strstr(err, "no-such-isa"));
}

static void test_tables_complete(void **state) {
    (void)state;
    const int types[] = {GK_F32, GK_F16, GK_BF16, GK_Q8_0, GK_Q4_0, GK_Q4_1, GK_Q4_K, GK_Q6_K};
    const char *const *names = gk_ukernels_available();
    assert_non_null(names[0]);
    for (const char *const *n = names; *n; n++) {
        print_message("micro-kernel table under test: %s\n", *n);
        const gk_ukernels *u = gk_ukernels_select(*n);
        assert_non_null(u);
        assert_string_equal(u->isa, *n);
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            assert_non_null(u->t[types[t]].vec_dot);
            if (u->t[types[t]].act_type != GK_F32) assert_non_null(u->t[types[t]].quantize_act);
        }
        assert_non_null(u->sgemm);
        assert_true(u->sgemm_mr > 0 && u->sgemm_nr > 0);
        assert_true(!u->sgemm_h == !u->sgemm_pack_h);   /* the F16-panel pair: both or neither */
        assert_non_null(u->f16_to_f32), assert_non_null(u->f32_to_f16), assert_non_null(u->bf16_to_f32);
        assert_non_null(u->dot_f32), assert_non_null(u->axpy_f32);
        assert_non_null(u->dot_f32_f16), assert_non_null(u->axpy_f16), assert_non_null(u->axpy_rows_f16);
        assert_non_null(u->dot_f32_q8_0), assert_non_null(u->axpy_q8_0);
        assert_non_null(u->scale_max), assert_non_null(u->exp_sum), assert_non_null(u->silu_mul);
    }
    assert_ptr_equal(gk_ukernels_select(NULL), gk_ukernels_select(names[0]));   /* best first */
    assert_string_equal(gk_ukernels_select("scalar")->isa, "scalar");
}

/* The F16-panel packing (sgemm_pack_h): the stored halves of rows[0..rows) at k0.. in panel
 * order, zeros past rows, bit for bit. */
static void sgemm_pack_h_check(const gk_ukernels *u, const char *w, size_t wrow, int rows, int64_t k0, int64_t kc,
                               int K) {
    const int nr = u->sgemm_nr;
    uint16_t *got = malloc(sizeof(uint16_t) * (size_t)(kc * nr)), *want = malloc(sizeof(uint16_t) * (size_t)(kc * nr));
    assert_true(got && want && k0 + kc <= K);
    for (int64_t p = 0; p < kc; p++)
        for (int r = 0; r < nr; r++) {
            uint16_t h = 0;
            if (r < rows) memcpy(&h, w + (size_t)r * wrow + (size_t)(k0 + p) * 2, 2);
            want[p * nr + r] = h;
        }
    memset(got, 0xff, sizeof(uint16_t) * (size_t)(kc * nr));
    u->sgemm_pack_h(w, wrow, rows, k0, kc, nr, got);
    assert_memory_equal(got, want, sizeof(uint16_t) * (size_t)(kc * nr));
    free(got), free(want);
}

/* Every table's optional sgemm packing against the panel written out by hand from the format's
 * own decoder: bit-identical, on row counts below, at and past a group of eight, inputs that
 * are not a multiple of eight, an offset k0, and zero padding up to NR. */
static void test_sgemm_pack(void **state) {
    (void)state;
    const int types[] = {GK_F32, GK_F16, GK_BF16};
    enum { K = 300 };
    const struct { int rows; int64_t k0, kc; } cases[] = {{1, 0, 1}, {7, 0, 8}, {8, 3, 13}, {9, 0, 256}, {16, 256, 44},
                                                          {13, 5, 295}, {31, 37, 200}, {32, 0, 300}};
    for (const char *const *n = gk_ukernels_available(); *n; n++) {
        const gk_ukernels *u = gk_ukernels_select(*n);
        if (!u->sgemm_pack_b) continue;
        print_message("sgemm packing under test: %s (nr %d)\n", *n, u->sgemm_nr);
        const int nr = u->sgemm_nr;
        for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
            const gk_type_info *ti = gk_type_get(types[t]);
            size_t wrow = gk_type_bytes(types[t], K);
            char *w = malloc(wrow * (size_t)nr);
            float *f = malloc(sizeof(float) * K * (size_t)nr), *got = malloc(sizeof(float) * K * (size_t)nr);
            float *want = malloc(sizeof(float) * K * (size_t)nr);
            for (int r = 0; r < nr; r++) {
                for (int i = 0; i < K; i++) f[r * K + i] = (float)((r * 131 + i * 71) % 97 - 48) / 7.0f;
                f[r * K + r % K] = r % 2 ? 1e-40f : -0.0f;   /* a subnormal and a negative zero */
                ti->from_f32(f + r * K, w + (size_t)r * wrow, K);
                ti->to_f32(w + (size_t)r * wrow, f + r * K, K);   /* what the weights really hold */
            }
            for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
                int rows = cases[c].rows < nr ? cases[c].rows : nr;
                int64_t k0 = cases[c].k0, kc = cases[c].kc;
                for (int64_t p = 0; p < kc; p++)
                    for (int r = 0; r < nr; r++) want[p * nr + r] = r < rows ? f[r * K + k0 + p] : 0.0f;
                memset(got, 0xff, sizeof(float) * (size_t)(kc * nr));
                u->sgemm_pack_b(types[t], w, wrow, rows, k0, kc, nr, got);
                assert_memory_equal(got, want, sizeof(float) * (size_t)(kc * nr));
                if (types[t] == GK_F16 && u->sgemm_pack_h) sgemm_pack_h_check(u, w, wrow, rows, k0, kc, K);
            }
            free(w), free(f), free(got), free(want);
        }
    }
}

/* Every table's packed integer GEMM layout (ukernel.h) written out by hand from the raw block
 * bytes: byte (g*R + r)*4 + i of a block is row r's weight 4g+i as an unsigned byte, then the R
 * row scales as float; rows past those packed are zero with scale 0. Q4_0 weight e is the low
 * nibble of byte e (e < 16) or the high nibble of byte e-16; Q8_0's is the int8 plus 128.
 * split (AVX2's Q8_0): that byte's low nibbles in the layout above, then its high nibbles in the
 * same layout, then the scales. bf16 (AMX, gemm_bf16_amx.c): row r's 32 weights (the signed
 * value times the block scale, rounded to nearest even as BF16) at 64r, no scales; padding rows 0. */
static void igemm_pack_expect(int wtype, bool split, bool bf16, const unsigned char *w, size_t wrow, int rows, int R,
                              int64_t b0, int64_t nb, unsigned char *want) {
    const size_t bb = wtype == GK_Q4_0 ? 18 : 34, qb = (size_t)R * 32 * (split ? 2 : 1);
    const size_t pb = bf16 ? (size_t)R * 64 : qb + (size_t)R * 4;
    memset(want, 0, pb * (size_t)nb);
    for (int64_t b = 0; b < nb; b++)
        for (int r = 0; r < rows; r++) {
            const unsigned char *blk = w + (size_t)r * wrow + (size_t)(b0 + b) * bb;
            for (int e = 0; e < 32; e++) {
                unsigned v = wtype == GK_Q4_0 ? (e < 16 ? blk[2 + e] & 15u : blk[2 + e - 16] >> 4) : blk[2 + e] ^ 0x80u;
                size_t at = (size_t)b * pb + (size_t)((e / 4) * R + r) * 4 + e % 4;
                uint16_t h = (uint16_t)(blk[0] | blk[1] << 8);
                if (bf16) {
                    float f = gk_f16_to_f32(h) * (float)((int)v - (wtype == GK_Q4_0 ? 8 : 128));
                    uint32_t u;
                    memcpy(&u, &f, 4);
                    u += 0x7fffu + ((u >> 16) & 1u);   /* round to nearest even (no NaNs here) */
                    want[(size_t)b * pb + (size_t)r * 64 + 2 * e] = (unsigned char)(u >> 16);
                    want[(size_t)b * pb + (size_t)r * 64 + 2 * e + 1] = (unsigned char)(u >> 24);
                } else if (split) {
                    want[at] = (unsigned char)(v & 15u), want[at + (size_t)R * 32] = (unsigned char)(v >> 4);
                } else {
                    want[at] = (unsigned char)v;
                }
            }
            if (bf16) continue;
            uint16_t h = (uint16_t)(blk[0] | blk[1] << 8);
            float sc = gk_f16_to_f32(h);
            memcpy(want + (size_t)b * pb + qb + (size_t)r * 4, &sc, 4);
        }
}

static void test_igemm_pack(void **state) {
    (void)state;
    enum { K = 96, ROWS = 17 };
    const int types[] = {GK_Q4_0, GK_Q8_0};
    const struct { int rows; int64_t b0, nb; } cases[] = {{1, 0, 1}, {16, 0, 3}, {5, 1, 2}, {13, 2, 1}};
    int tested = 0;
    for (const char *const *n = gk_ukernels_available(); *n; n++) {
        const gk_ukernels *u = gk_ukernels_select(*n);
        for (size_t t = 0; t < 2; t++) {
            const gk_igemm_kernels *ik = &u->igemm[types[t]];
            if (!ik->pack) continue;
            assert_non_null(ik->kernel);
            assert_int_equal(u->t[types[t]].act_type, GK_Q8_0);
            print_message("igemm packing under test: %s %s (%d rows)\n", *n, gk_type_name(types[t]), ik->rows);
            const int R = ik->rows;
            const bool split = types[t] == GK_Q8_0 && strcmp(u->isa, "avx2") == 0;   /* igemm_avx2.c */
            const bool bf16 = ik->act_layout == GK_IGEMM_ACT_BF16X16;   /* gemm_bf16_amx.c */
            const size_t wrow = gk_type_bytes(types[t], K), pb = (size_t)R * (bf16 ? 64 : split ? 68 : 36);
            assert_int_equal(ik->block_bytes, pb);
            unsigned char *w = malloc(wrow * ROWS), *got = malloc(pb * 3), *want = malloc(pb * 3);
            for (size_t i = 0; i < wrow * ROWS; i++) w[i] = (unsigned char)((i * 151 + 7) % 251);
            for (int r = 0; r < ROWS; r++)   /* scales: small normal halves (exponent 0x38 = 2^-1) */
                for (int b = 0; b < K / 32; b++)
                    w[(size_t)r * wrow + (size_t)b * (wrow / (K / 32)) + 1] = (unsigned char)(0x38 + r % 4);
            /* one value by hand: row 0, block 0, byte 2 = 0x3a; Q4_0 elements 0 and 16 are 0x0a, 0x03 */
            w[2] = 0x3a;
            for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
                int rows = cases[c].rows < R ? cases[c].rows : R;
                igemm_pack_expect(types[t], split, bf16, w, wrow, rows, R, cases[c].b0, cases[c].nb, want);
                memset(got, 0xee, pb * 3);
                ik->pack((const char *)w, wrow, rows, cases[c].b0, cases[c].nb, got);
                assert_memory_equal(got, want, pb * (size_t)cases[c].nb);
                if (cases[c].b0 == 0) {
                    if (bf16) {   /* row 0, element 0: scale 0x3807 (0.50342) × (0x0a - 8 = 2, or 0x3a = 58) */
                        assert_int_equal(got[0] | got[1] << 8, types[t] == GK_Q4_0 ? 0x3f81 : 0x41ea);   /* 1.0078, 29.25 */
                        continue;
                    }
                    assert_int_equal(got[0], types[t] == GK_Q4_0 ? 0x0a : split ? 0x0a : 0xba);
                    if (split) assert_int_equal(got[R * 32], 0x0b);   /* 0x3a ^ 0x80 = 0xba: nibbles a, b */
                    assert_int_equal(got[4 * R * 4], types[t] == GK_Q4_0 ? 0x03 : split ? (w[2 + 16] ^ 0x80) & 15 : w[2 + 16] ^ 0x80);
                }
            }
            free(w), free(got), free(want);
            tested++;
        }
    }
    print_message("igemm packings tested: %d\n", tested);
}

static void count_job(void *ctx, int ith, int nth) {
    _Atomic int *hits = ctx;
    assert_true(ith >= 0 && ith < nth);
    atomic_fetch_add(&hits[ith], 1);
}

static void test_pool(void **state) {
    (void)state;
    char err[256];
    for (int n = 1; n <= (threads_work() ? 3 : 1); n++) {
        gk_pool *p = gk_pool_create(n, false, err, sizeof err);
        assert_non_null(p);
        assert_int_equal(gk_pool_size(p), n);
        _Atomic int hits[3] = {0};
        for (int r = 0; r < 500; r++) gk_pool_run(p, count_job, hits);
        for (int i = 0; i < n; i++) assert_int_equal(atomic_load(&hits[i]), 500);
        gk_pool_destroy(p);
    }
    assert_true(gk_physical_cores() >= 1);
}

/* ---- host memory ---------------------------------------------------------------------------- */

/* The "THPeligible" flag of the mapping of /proc/self/smaps that holds addr: 1 or 0, -1 when the
 * file or the field is missing (old kernels, no /proc). */
static int thp_eligible(const void *addr) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    int found = 0, flag = -1;
    uintptr_t a = (uintptr_t)addr;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char dash;
        if (sscanf(line, "%lx%c%lx ", &lo, &dash, &hi) == 3 && dash == '-') {
            if (found) break;
            found = a >= lo && a < hi;
            continue;
        }
        if (found && sscanf(line, "THPeligible: %d", &flag) == 1) break;
    }
    fclose(f);
    return found ? flag : -1;
}

/* The control: THPeligible of a region this test advises itself, or -1. An emulator (qemu-user
 * ignores MADV_HUGEPAGE) or a kernel with THP off or unbuilt gives 0 or -1, and then the
 * allocator's own advice cannot be seen either. */
static int control_eligible(void) {
    const size_t huge = 2u << 20;
    char *m = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return -1;
    char *a = (char *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
    int e = madvise(a, huge, MADV_HUGEPAGE) == 0 ? thp_eligible(a) : -1;
    munmap(m, 2 * huge);
    return e;
}

/* Tensors of 4 MiB and more (weights, caches) sit on 2 MiB boundaries, advised for huge pages;
 * small ones keep the 64-byte alignment. */
static void test_host_huge_pages(void **state) {
    (void)state;
    gk_backend *b = open_backend("cpu", NULL, 1);
    gk_tensor big, mid, small;
    tensor_from(b, &big, GK_F32, 3 << 20, 1, NULL);          /* 12 MiB */
    tensor_from(b, &mid, GK_F32, (3 << 18) + 25, 1, NULL);   /* 3 MiB + 100 bytes: one whole huge page */
    tensor_from(b, &small, GK_F32, 1000, 1, NULL);
    assert_int_equal((uintptr_t)big.data % (2u << 20), 0);
    assert_int_equal((uintptr_t)mid.data % (2u << 20), 0);
    assert_int_equal((uintptr_t)small.data % 64, 0);
    float one = 1.0f;
    assert_int_equal(b->ops->upload(b, &big, big.nbytes - sizeof one, &one, sizeof one), 0);   /* the last element is ours */
    assert_int_equal(b->ops->upload(b, &mid, mid.nbytes - sizeof one, &one, sizeof one), 0);
    int e = thp_eligible(big.data), em = thp_eligible(mid.data);
    if (control_eligible() == 1) {
        assert_int_equal(e, 1);
        assert_int_equal(em, 1);
    } else {
        print_message("huge pages: THP off, or advice not honoured here (emulator?); alignment checked only\n");
    }
    free_t(b, &big);
    free_t(b, &mid);
    free_t(b, &small);
    gk_backend_close(b);
}

/* ---- strided views ------------------------------------------------------------------------- */

/* Strides that alloc sets (ggml's convention), and what a view may and may not be. */
static void test_views(void **state) {
    (void)state;
    gk_backend *b = open_backend("ref", NULL, 1);
    gk_tensor f, q, v;
    tensor_from(b, &f, GK_F32, 5, 3, NULL);
    tensor_from(b, &q, GK_Q4_0, 64, 2, NULL);
    assert_true(f.nb[0] == 4 && f.nb[1] == 20 && f.nb[2] == 60 && f.nb[3] == 60);
    assert_true(q.nb[0] == 18 && q.nb[1] == 36 && q.nb[2] == 72 && q.nb[3] == 72);
    assert_true(gk_is_contiguous(&f) && gk_is_contiguous(&q));
    assert_int_equal(gk_view_transposed(&v, &f), 0);               /* {3, 5}, nb {20, 4} */
    assert_true(v.ne[0] == 3 && v.ne[1] == 5 && v.nb[0] == 20 && v.nb[1] == 4 && !gk_is_contiguous(&v));
    assert_int_equal(v.nbytes, f.nbytes);
    /* columns 1..3 of rows 1..2: strided rows; one row of it is contiguous */
    const int64_t ne[4] = {3, 2, 1, 1};
    assert_int_equal(gk_view(&v, &f, 24, ne, f.nb), 0);
    assert_false(gk_is_contiguous(&v));
    assert_int_equal(v.nbytes, 20 + 12);
    assert_true(gk_is_contiguous(&(gk_tensor){.type = GK_F32, .ne = {3, 1, 1, 1}, .nb = {4, 20, 40, 40}}));
    gk_tensor r = gk_view_rows(&f, 1, 2);
    assert_true(r.data == (char *)f.data + 20 && r.ne[1] == 2 && gk_is_contiguous(&r) && r.nbytes == 40);
    assert_null(gk_view_rows(&f, 2, 2).data);                        /* past the end */
    /* refused: outside the tensor, part of an element, strided blocks, a Q4_0 transpose */
    assert_int_not_equal(gk_view(&v, &f, 32, ne, f.nb), 0);
    assert_non_null(strstr(gk_backend_error(b), "exceed"));
    assert_int_not_equal(gk_view(&v, &f, 2, ne, NULL), 0);
    const int64_t qne[4] = {32, 2, 1, 1};
    const size_t qnb[4] = {36, 36, 72, 72};
    assert_int_not_equal(gk_view(&v, &q, 0, qne, qnb), 0);
    assert_non_null(strstr(gk_backend_error(b), "inside a row"));
    assert_int_not_equal(gk_view_transposed(&v, &q), 0);
    assert_int_equal(gk_view(&v, &q, 18, qne, q.nb), 0);          /* the second block of each row */
    free_t(b, &f), free_t(b, &q);
    gk_backend_close(b);
}

/* y{n, m} = matmul on b of the given tensors' host contents, y starting as y0 (NULL: zeros). */
static float *matmul_on(gk_backend *b, const gk_tensor *w, const gk_tensor *x, const float *y0, int64_t n,
                        int64_t m, const gk_matmul_params *mp) {
    gk_tensor ty;
    tensor_from(b, &ty, GK_F32, n, m, NULL);
    if (y0) assert_int_equal(b->ops->upload(b, &ty, 0, y0, ty.nbytes), 0);
    if (gk_matmul(b, &ty, w, x, mp)) fail_msg("%s", gk_backend_error(b));
    float *y = download_f32(b, &ty);
    free_t(b, &ty);
    return y;
}

/* Through matmul, which takes strided views on ref and cpu: a transposed view of X, a sub-block
 * of a bigger W (F32, and Q8_0 at a block boundary), a 3-D X with a row missing from each slab,
 * and a sub-block of a bigger Y; each bit-identical to the same matmul on contiguous copies (the
 * same sums in the same order). Ops that need contiguous tensors refuse a strided one. */
static void strided_all(pair *p) {
    enum { K = 64, N = 24, M = 33, WC = K + 64, WR = N + 5, R0 = 3 };
    float *x = rand_vec(K * M, 1.0f), *xt = malloc(sizeof(float) * K * M), *wb = rand_vec(WC * WR, 1.0f);
    float *ws = malloc(sizeof(float) * K * N), *x3 = rand_vec(K * 8, 1.0f);
    float *x3s = malloc(sizeof(float) * K * 6);
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++) xt[k * M + i] = x[i * K + k];
    for (int64_t r = 0; r < N; r++) memcpy(ws + r * K, wb + (R0 + r) * WC + 32, sizeof(float) * K);
    for (int64_t s = 0; s < 2; s++) memcpy(x3s + s * 3 * K, x3 + s * 4 * K, sizeof(float) * K * 3);
    size_t qrow = gk_type_bytes(GK_Q8_0, WC), qsub = gk_type_bytes(GK_Q8_0, K);
    char *qb = malloc(qrow * WR), *qs = malloc(qsub * N);
    for (int64_t r = 0; r < WR; r++) gk_type_get(GK_Q8_0)->from_f32(wb + r * WC, qb + r * qrow, WC);
    for (int64_t r = 0; r < N; r++) memcpy(qs + r * qsub, qb + (R0 + r) * qrow + 34, qsub);
    gk_backend *bs[2] = {p->ref, p->cpu};
    for (int i = 0; i < 2; i++) {
        gk_backend *b = bs[i];
        gk_tensor tx, txt, tw, twb, tq, tqb, t3s, v, vx, vq, v3;
        tensor_from(b, &tx, GK_F32, K, M, x), tensor_from(b, &txt, GK_F32, M, K, xt);
        tensor_from(b, &tw, GK_F32, K, N, ws), tensor_from(b, &twb, GK_F32, WC, WR, wb);
        tensor_from(b, &tq, GK_Q8_0, K, N, qs), tensor_from(b, &tqb, GK_Q8_0, WC, WR, qb);
        gk_tensor t3b = {.type = GK_F32, .ne = {K, 4, 2, 1}};
        assert_int_equal(b->ops->alloc(b, &t3b), 0);
        assert_int_equal(b->ops->upload(b, &t3b, 0, x3, t3b.nbytes), 0);
        tensor_from(b, &t3s, GK_F32, K, 6, x3s);
        assert_int_equal(gk_view_transposed(&vx, &txt), 0);
        const int64_t wne[4] = {K, N, 1, 1}, x3ne[4] = {K, 3, 2, 1};
        assert_int_equal(gk_view(&v, &twb, (R0 * WC + 32) * 4, wne, twb.nb), 0);
        assert_int_equal(gk_view(&vq, &tqb, R0 * qrow + 34, wne, tqb.nb), 0);
        assert_int_equal(gk_view(&v3, &t3b, 0, x3ne, t3b.nb), 0);
        assert_false(gk_is_contiguous(&vx) || gk_is_contiguous(&v));
        assert_false(gk_is_contiguous(&vq) || gk_is_contiguous(&v3));
        float *want = matmul_on(b, &tw, &tx, NULL, N, M, NULL);
        float *got = matmul_on(b, &v, &vx, NULL, N, M, NULL);
        assert_memory_equal(want, got, sizeof(float) * N * M);
        free(want), free(got);
        want = matmul_on(b, &tq, &tx, NULL, N, M, NULL), got = matmul_on(b, &vq, &vx, NULL, N, M, NULL);
        assert_memory_equal(want, got, sizeof(float) * N * M);
        free(got);
        got = matmul_on(b, &tw, &v3, NULL, N, 6, NULL);
        float *want3 = matmul_on(b, &tw, &t3s, NULL, N, 6, NULL);
        assert_memory_equal(want3, got, sizeof(float) * N * 6);
        free(got), free(want3);
        /* Y: rows 1..M of a {N+3, M+1} tensor of sevens, columns 2..N+1; the rest stays 7 */
        gk_tensor yb, yv;
        float *sevens = malloc(sizeof(float) * (N + 3) * (M + 1));
        for (int j = 0; j < (N + 3) * (M + 1); j++) sevens[j] = 7.0f;
        tensor_from(b, &yb, GK_F32, N + 3, M + 1, sevens);
        const int64_t yne[4] = {N, M, 1, 1};
        assert_int_equal(gk_view(&yv, &yb, ((N + 3) + 2) * 4, yne, yb.nb), 0);
        if (gk_matmul(b, &yv, &vq, &vx, NULL)) fail_msg("%s", gk_backend_error(b));
        float *all = download_f32(b, &yb);
        for (int64_t r = 0; r <= M; r++)
            for (int64_t c = 0; c < N + 3; c++) {
                bool in = r >= 1 && c >= 2 && c < N + 2;
                float e = in ? want[(r - 1) * N + c - 2] : 7.0f;
                if (all[r * (N + 3) + c] != e)
                    fail_msg("%s: strided y (%lld, %lld) is %g, expected %g", b->name, (long long)r,
                             (long long)c, (double)all[r * (N + 3) + c], (double)e);
            }
        free(all), free(sevens), free(want);
        /* refused by ops that need contiguous tensors, with the tensor named */
        gk_tensor norm, out;
        tensor_from(b, &norm, GK_F32, M, 1, NULL), tensor_from(b, &out, GK_F32, M, K, NULL);
        assert_int_not_equal(gk_rmsnorm(b, &out, &vx, &norm, 1e-5f), 0);
        assert_non_null(strstr(gk_backend_error(b), "rmsnorm: x is a strided view"));
        assert_int_not_equal(gk_add(b, &yv, &yv, &yv), 0);
        assert_non_null(strstr(gk_backend_error(b), "strided view"));
        free_t(b, &tx), free_t(b, &txt), free_t(b, &tw), free_t(b, &twb), free_t(b, &tq), free_t(b, &tqb);
        free_t(b, &t3b), free_t(b, &t3s), free_t(b, &yb), free_t(b, &norm), free_t(b, &out);
    }
    free(x), free(xt), free(wb), free(ws), free(x3), free(x3s), free(qb), free(qs);
}

static void test_strided_views(void **state) {
    (void)state;
    for_each_config(strided_all);
}

/* The check of backends that run only the default form on contiguous tensors (cuda's) refuses
 * the other forms and strided views; the general one takes both. */
static void test_matmul_default_check(void **state) {
    (void)state;
    gk_backend *b = open_backend("ref", NULL, 1);
    gk_tensor w, x, y, xt, vx;
    tensor_from(b, &w, GK_F32, 4, 3, NULL), tensor_from(b, &x, GK_F32, 4, 2, NULL);
    tensor_from(b, &y, GK_F32, 3, 2, NULL), tensor_from(b, &xt, GK_F32, 2, 4, NULL);
    assert_int_equal(gk_view_transposed(&vx, &xt), 0);
    gk_mm_dims d;
    assert_int_equal(gk_check_matmul_default(b, &y, &w, &x, NULL, &d), 0);
    assert_true(d.m == 2 && d.n == 3 && d.k == 4);
    gk_matmul_params acc = {.alpha = 1, .beta = 1}, zero = {0};
    assert_int_not_equal(gk_check_matmul_default(b, &y, &w, &x, &acc, &d), 0);
    assert_non_null(strstr(gk_backend_error(b), "only the default form"));
    assert_int_equal(gk_check_matmul(b, &y, &w, &x, &acc, &d), 0);
    assert_int_not_equal(gk_check_matmul_default(b, &y, &w, &vx, NULL, &d), 0);
    assert_non_null(strstr(gk_backend_error(b), "x is a strided view"));
    assert_int_equal(gk_check_matmul(b, &y, &w, &vx, NULL, &d), 0);
    assert_int_not_equal(gk_check_matmul(b, &y, &w, &x, &zero, &d), 0);   /* a zeroed struct: alpha 0 */
    assert_non_null(strstr(gk_backend_error(b), "alpha and beta are both 0"));
    gk_matmul_params tx = {.trans_x = true, .alpha = 1};                  /* op(x) is 4x2: inner 2 != 4 */
    assert_int_not_equal(gk_check_matmul(b, &y, &w, &x, &tx, &d), 0);
    assert_non_null(strstr(gk_backend_error(b), "inner sizes differ"));
    gk_tensor yx = gk_view_rows(&x, 0, 2);                                 /* y over x */
    gk_matmul_params tw = {.trans_w = true, .alpha = 1};
    gk_tensor sq;
    tensor_from(b, &sq, GK_F32, 4, 4, NULL);
    assert_int_not_equal(gk_check_matmul(b, &yx, &sq, &x, &tw, &d), 0);
    assert_non_null(strstr(gk_backend_error(b), "overlaps x"));
    free_t(b, &w), free_t(b, &x), free_t(b, &y), free_t(b, &xt), free_t(b, &sq);
    gk_backend_close(b);
}

/* ---- matmul forms ------------------------------------------------------------------------- */

/* The stored matrix whose op() is a (rows x cols, row-major): a itself, or its transpose. */
static float *stored_of(const float *a, int64_t rows, int64_t cols, bool trans) {
    float *s = malloc((size_t)(rows * cols) * sizeof *s);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) s[trans ? c * rows + r : r * cols + c] = a[r * cols + c];
    return s;
}

/* Y = alpha · op(X) · op(W)ᵀ + beta · Y for op(X) = A (M x K) and op(W) = B (N x K), written
 * out by hand, for every transpose combination on ref and cpu (exact: small integers). */
static void test_matmul_forms_by_hand(void **state) {
    (void)state;
    const float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, -1, 2, 1, 0}, Y0[4] = {10, 20, 30, 40};
    const float P[4] = {-2, 4, -2, 13};              /* A·Bᵀ = [[1-3, 2+2], [4-6, 8+5]] */
    const float scaled[4] = {19, 42, 59, 86.5f};     /* 0.5·P + 2·Y0 */
    const float accum[4] = {8, 24, 28, 53};          /* P + Y0 */
    const char *names[2] = {"ref", "cpu"};
    const int types[2] = {GK_F32, GK_F16};
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < 2; t++)
            for (int f = 0; f < 4; f++) {
                gk_backend *b = open_backend(names[i], NULL, 1);
                bool tx = f & 1, tw = f & 2;
                float *xs = stored_of(A, 2, 3, tx), *wsf = stored_of(B, 2, 3, tw);
                uint16_t wh[6];
                for (int e = 0; e < 6; e++) wh[e] = gk_f32_to_f16(wsf[e]);
                gk_tensor tx_, tw_;
                tensor_from(b, &tx_, GK_F32, tx ? 2 : 3, tx ? 3 : 2, xs);
                const void *wbytes = types[t] == GK_F32 ? (const void *)wsf : (const void *)wh;
                tensor_from(b, &tw_, types[t], tw ? 2 : 3, tw ? 3 : 2, wbytes);
                const struct { gk_matmul_params p; const float *y0, *want; } cases[] = {
                    {{tx, tw, 1.0f, 0.0f}, NULL, P},
                    {{tx, tw, 0.5f, 2.0f}, Y0, scaled},
                    {{tx, tw, 1.0f, 1.0f}, Y0, accum},
                };
                for (size_t c = 0; c < 3; c++) {
                    float *y = matmul_on(b, &tw_, &tx_, cases[c].y0, 2, 2, &cases[c].p);
                    for (int e = 0; e < 4; e++)
                        if (y[e] != cases[c].want[e])
                            fail_msg("%s %s trans_x %d trans_w %d alpha %g beta %g: y[%d] = %g, by hand %g",
                                     names[i], gk_type_name(types[t]), tx, tw, (double)cases[c].p.alpha,
                                     (double)cases[c].p.beta, e, (double)y[e], (double)cases[c].want[e]);
                    free(y);
                }
                if (!tx && !tw) {   /* NULL params: the default form */
                    float *y = matmul_on(b, &tw_, &tx_, Y0, 2, 2, NULL);
                    assert_memory_equal(y, P, sizeof P);
                    free(y);
                }
                free(xs), free(wsf), free_t(b, &tx_), free_t(b, &tw_);
                gk_backend_close(b);
            }
}

typedef struct form_case {
    int wtype;
    int64_t k, n, m;
} form_case;

/* One form on random data: cpu against ref, |Δ| within |alpha| times the default form's
 * tolerance (mm_tol) plus float rounding of the combination with beta·Y. */
static void check_form(pair *p, form_case s, bool tx, bool tw, float alpha, float beta) {
    const gk_type_info *ti = gk_type_get(s.wtype);
    float *a = rand_vec(s.m * s.k, 2.0f), *bm = rand_vec(s.n * s.k, 1.0f), *y0 = rand_vec(s.n * s.m, 3.0f);
    float *xs = stored_of(a, s.m, s.k, tx), *wst = stored_of(bm, s.n, s.k, tw);
    int64_t wne0 = tw ? s.n : s.k, wne1 = tw ? s.k : s.n;
    size_t wrow = gk_type_bytes(s.wtype, wne0);
    char *wq = malloc(wrow * (size_t)wne1);
    for (int64_t r = 0; r < wne1; r++) {   /* encode, and read back what the weights really are */
        ti->from_f32(wst + r * wne0, wq + (size_t)r * wrow, wne0);
        ti->to_f32(wq + (size_t)r * wrow, wst + r * wne0, wne0);
    }
    for (int64_t r = 0; r < s.n; r++)
        for (int64_t c = 0; c < s.k; c++) bm[r * s.k + c] = tw ? wst[c * s.n + r] : wst[r * s.k + c];
    gk_matmul_params mp = {tx, tw, alpha, beta};
    float *y[2];
    gk_backend *bs[2] = {p->ref, p->cpu};
    for (int i = 0; i < 2; i++) {
        gk_tensor tw_, tx_;
        tensor_from(bs[i], &tw_, s.wtype, wne0, wne1, wq);
        tensor_from(bs[i], &tx_, GK_F32, tx ? s.m : s.k, tx ? s.k : s.m, xs);
        y[i] = matmul_on(bs[i], &tw_, &tx_, y0, s.n, s.m, &mp);
        free_t(bs[i], &tw_), free_t(bs[i], &tx_);
    }
    for (int64_t m = 0; m < s.m; m++)
        for (int64_t n = 0; n < s.n; n++) {
            double r = y[0][m * s.n + n], c = y[1][m * s.n + n], by = fabs((double)beta * y0[m * s.n + n]);
            double tol = fabs(alpha) * mm_tol(s.wtype, bm + n * s.k, a + m * s.k, s.k);
            tol += 2e-6 * (fabs(r) + by) + 1e-6;
            if (!(fabs(r - c) <= tol))
                fail_msg("matmul %s K=%lld N=%lld M=%lld trans_x %d trans_w %d alpha %g beta %g (%s): "
                         "y[%lld][%lld] ref %g cpu %g, tolerance %g", gk_type_name(s.wtype), (long long)s.k,
                         (long long)s.n, (long long)s.m, tx, tw, (double)alpha, (double)beta, p->label,
                         (long long)m, (long long)n, r, c, tol);
        }
    free(a), free(bm), free(y0), free(xs), free(wst), free(wq), free(y[0]), free(y[1]);
}

/* Every form the cpu backend runs (all of them) on shapes reaching its matvec, tile and packed
 * paths; a block type's stored rows are whole blocks either way (K and N multiples of it). */
static void forms_all(pair *p) {
    const form_case cases[] = {
        {GK_F32, 33, 17, 5}, {GK_F32, 70, 40, 33}, {GK_F16, 24, 9, 40}, {GK_BF16, 17, 6, 1},
        {GK_Q8_0, 64, 96, 9}, {GK_Q4_0, 96, 32, 20}, {GK_Q4_K, 256, 256, 3},
    };
    const float ab[][2] = {{1.0f, 0.0f}, {-0.75f, 0.5f}, {1.0f, 1.0f}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int f = 0; f < 4; f++)
            for (size_t k = 0; k < 3; k++) check_form(p, cases[c], f & 1, f & 2, ab[k][0], ab[k][1]);
}

static void test_matmul_forms(void **state) {
    (void)state;
    for_each_config(forms_all);
}

/* ---- supports() ------------------------------------------------------------------------------ */

static bool asks(gk_backend *b, gk_op op, int n, const int *types) {
    return gk_backend_supports(b, op, types, n);
}

static void test_supports(void **state) {
    (void)state;
    assert_string_equal(gk_op_name(GK_OP_MATMUL), "matmul");
    assert_string_equal(gk_op_name(GK_OP_SOFTMAX), "softmax");
    assert_int_equal(gk_op_family(GK_OP_ATTENTION), GK_FAMILY_CORE);
    assert_string_equal(gk_family_name(GK_FAMILY_TRAIN), "train");
    assert_int_equal(gk_op_family((gk_op)GK_OP_COUNT), GK_FAMILY_COUNT);
    const int weights[] = {GK_F32, GK_F16, GK_BF16, GK_Q8_0, GK_Q4_0, GK_Q4_1, GK_Q4_K, GK_Q6_K};
    const char *const *isas = gk_ukernels_available();
    for (int i = -1; isas[i + 1]; i++) {   /* ref, then cpu with every table */
        gk_backend *b = i < 0 ? open_backend("ref", NULL, 1) : open_backend("cpu", isas[i + 1], 1);
        assert_true(gk_backend_has(b, GK_CAP_HOST_MEMORY));
        for (int op = 0; op < GK_OP_COUNT; op++) assert_true(asks(b, (gk_op)op, 0, NULL));
        for (size_t t = 0; t < sizeof weights / sizeof *weights; t++) {
            assert_true(asks(b, GK_OP_MATMUL, 3, (const int[]){GK_F32, weights[t], GK_F32}));
            assert_true(asks(b, GK_OP_EMBEDDING, 3, (const int[]){GK_F32, weights[t], GK_I32}));
        }
        const gk_matmul_params every[] = {{true, false, 1, 0}, {false, true, 2, 1}, {true, true, 1, 1}};
        for (int f = 0; f < 3; f++)
            assert_true(gk_backend_supports_params(b, GK_OP_MATMUL, (const int[]){GK_F32, GK_Q4_K, GK_F32}, 3,
                                                   &every[f]));
        assert_true(asks(b, GK_OP_ATTENTION, 4, (const int[]){GK_F32, GK_F32, GK_F16, GK_Q8_0}));
        /* types no backend runs: Q8_K (an activation type) or I32 as weights, F32 activations only,
         * a Q4_0 KV cache, F32 token ids; too many operands; not an op */
        assert_false(asks(b, GK_OP_MATMUL, 2, (const int[]){GK_F32, GK_Q8_K}));
        assert_non_null(strstr(gk_backend_error(b), "matmul: tensor argument 1 (from 0) cannot be q8_k"));
        assert_false(asks(b, GK_OP_MATMUL, 2, (const int[]){GK_F32, GK_I32}));
        assert_false(asks(b, GK_OP_MATMUL, 3, (const int[]){GK_F32, GK_F16, GK_F16}));
        assert_false(asks(b, GK_OP_KV_STORE, 1, (const int[]){GK_Q4_0}));
        assert_false(asks(b, GK_OP_EMBEDDING, 3, (const int[]){GK_F32, GK_F16, GK_F32}));
        assert_false(asks(b, GK_OP_ADD, 4, (const int[]){GK_F32, GK_F32, GK_F32, GK_F32}));
        assert_non_null(strstr(gk_backend_error(b), "add takes 3 tensors"));
        assert_false(asks(b, (gk_op)GK_OP_COUNT, 0, NULL));
        gk_backend_close(b);
    }
}

/* A backend without a family (as cuda will be without the image ops): supports() says so and
 * calling the op fails cleanly, naming it. */
static void test_missing_family(void **state) {
    (void)state;
    gk_backend *r = open_backend("ref", NULL, 1);
    gk_ops bare = *r->ops;
    bare.core = NULL;
    gk_backend b = *r;
    b.ops = &bare;
    b.name = "bare";
    assert_false(gk_has_op(&b, GK_OP_MATMUL));
    assert_false(asks(&b, GK_OP_MATMUL, 0, NULL));
    assert_non_null(strstr(gk_backend_error(&b), "matmul: backend bare does not have this op (core family)"));
    gk_tensor w, x, y;
    tensor_from(&b, &w, GK_F32, 4, 2, NULL), tensor_from(&b, &x, GK_F32, 4, 1, NULL);
    tensor_from(&b, &y, GK_F32, 2, 1, NULL);
    assert_int_not_equal(gk_matmul(&b, &y, &w, &x, NULL), 0);
    assert_non_null(strstr(gk_backend_error(&b), "does not have this op"));
    assert_int_not_equal(gk_softmax(&b, &y, &y), 0);
    assert_non_null(strstr(gk_backend_error(&b), "softmax"));
    free_t(&b, &w), free_t(&b, &x), free_t(&b, &y);
    gk_backend_close(r);
}

/* The ISA is the caller's choice (gk_backend_opts.isa): the backend no longer reads GENCOST_ISA. */
static void test_isa_not_from_environment(void **state) {
    (void)state;
    setenv("GENCOST_ISA", "no-such-isa", 1);
    gk_backend *b = open_backend("cpu", NULL, 1);
    assert_string_equal(b->isa, gk_ukernels_available()[0]);
    gk_backend_close(b);
    b = open_backend("cpu", "scalar", 1);
    assert_string_equal(b->isa, "scalar");
    gk_backend_close(b);
    unsetenv("GENCOST_ISA");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool),           cmocka_unit_test(test_host_huge_pages),
        cmocka_unit_test(test_tables_complete),
        cmocka_unit_test(test_bad_calls_refused), cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_row_ops),        cmocka_unit_test(test_embedding_kv_store),
        cmocka_unit_test(test_attention),      cmocka_unit_test(test_sgemm_pack),
        cmocka_unit_test(test_igemm_pack),     cmocka_unit_test(test_igemm_tables),
        cmocka_unit_test(test_matmul_q4_0_extremes),
        cmocka_unit_test(test_rope_factors),   cmocka_unit_test(test_rope_factors_refused),
        cmocka_unit_test(test_views),          cmocka_unit_test(test_strided_views),
        cmocka_unit_test(test_matmul_default_check), cmocka_unit_test(test_matmul_forms_by_hand),
        cmocka_unit_test(test_matmul_forms),   cmocka_unit_test(test_supports),
        cmocka_unit_test(test_missing_family), cmocka_unit_test(test_isa_not_from_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
