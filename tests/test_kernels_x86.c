/* The x86-64 micro-kernel tables (AVX2, AVX-512) against the scalar reference table, entry by
 * entry, on random data and awkward shapes:
 *  - quantize_act (Q8_0, Q8_K): byte-for-byte equal to the scalar quantiser, including ties at
 *    .5, zeros, one huge value, equal magnitudes of both signs, subnormals;
 *  - vec_dot and dot_tile of every weight type: |simd - scalar| <= 1e-5 · Σ|w·x| + 1e-6 (only
 *    the order of float additions differs: the integer parts are exact), for K = one block up to
 *    odd block counts, every nr <= tile_rows and nc <= tile_cols, unaligned and padded strides,
 *    outputs with a ldy larger than the tile, and cells outside the tile left untouched;
 *  - sgemm: against a double-precision product, kc = 1, 3, 256, ldc wider than NR;
 *  - conversions bit-exact (NaN only as NaN); dot/axpy helpers for n = 0..67.
 * A table the CPU cannot run prints a notice and is skipped (AVX-512 on AVX2-only machines; all
 * of it off x86-64, where this file still builds for the AArch64 test run). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernels/cpu/microkernels.h"
#include "kernels/quant.h"

#if defined(__x86_64__)

static uint32_t rng = 2463534242u;
static float frand(void) {   /* xorshift32, uniform in [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

static const int wtypes[] = {GK_F32, GK_F16, GK_BF16, GK_Q8_0, GK_Q4_0, GK_Q4_1, GK_Q4_K, GK_Q6_K};
enum { N_WTYPES = sizeof wtypes / sizeof wtypes[0] };

typedef struct isa_case {
    const char *name;
    const gk_ukernels *(*get)(void);
} isa_case;

static const isa_case isas[] = {{"avx2", gk_ukernels_avx2}, {"avx512", gk_ukernels_avx512}};

/* The table, or NULL after printing why it is skipped. */
static const gk_ukernels *table_or_skip(const isa_case *ic) {
    const gk_ukernels *u = ic->get();
    if (!u) printf("[  SKIPPED ] %s micro-kernels: this CPU cannot run them (checked, not run)\n", ic->name);
    return u;
}

static void fill(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] = scale * frand();
}

/* ---- activation quantisation ---------------------------------------------------------------- */

static void check_quant(const gk_ukernels *u, const gk_ukernels *s, int wtype, const float *x, int64_t k) {
    const gk_type_kernels *tk = &u->t[wtype];
    if (!tk->quantize_act) return;
    assert_int_equal(tk->act_type, s->t[wtype].act_type);
    size_t nb = gk_type_bytes(tk->act_type, k);
    uint8_t *a = malloc(nb), *b = malloc(nb);
    assert_non_null(a);
    assert_non_null(b);
    tk->quantize_act(x, a, k);
    s->t[wtype].quantize_act(x, b, k);
    if (memcmp(a, b, nb)) {
        size_t i = 0;
        while (a[i] == b[i]) i++;
        fail_msg("%s %s quantize_act: byte %zu differs (%u vs scalar %u)", u->isa, gk_type_name(tk->act_type), i, a[i], b[i]);
    }
    free(a);
    free(b);
}

static void test_quantize_act(void **st) {
    (void)st;
    const gk_ukernels *s = gk_ukernels_scalar();
    enum { K = 1024 };
    float x[K];
    for (size_t t = 0; t < sizeof isas / sizeof isas[0]; t++) {
        const gk_ukernels *u = table_or_skip(&isas[t]);
        if (!u) continue;
        for (int w = 0; w < N_WTYPES; w++) {
            int wt = wtypes[w];
            for (int rep = 0; rep < 20; rep++) {
                fill(x, K, rep < 10 ? 1.0f : 1e3f * (float)rep);
                check_quant(u, s, wt, x, K);
            }
            /* Ties: values that land exactly on .5 after scaling (amax 127 -> id 1). */
            for (int i = 0; i < K; i++) x[i] = (float)((i % 255) - 127) * 0.5f;
            x[0] = 127.0f;
            check_quant(u, s, wt, x, K);
            memset(x, 0, sizeof x);                           /* all zeros */
            check_quant(u, s, wt, x, K);
            x[300] = 3e38f;                                   /* one huge value */
            check_quant(u, s, wt, x, K);
            for (int i = 0; i < K; i++) x[i] = (i & 1) ? 2.5f : -2.5f;   /* ± equal magnitudes */
            check_quant(u, s, wt, x, K);
            for (int i = 0; i < K; i++) x[i] = (float)(i % 7 - 3) * 1e-40f;   /* subnormals */
            x[5] = -0.0f;
            check_quant(u, s, wt, x, K);
        }
    }
}

/* ---- dots and tiles ------------------------------------------------------------------------- */

/* Σ|w·x| over dequantised operands: the scale of the permitted float-order difference. */
static double abs_dot(int wtype, int act, const void *w, const void *xq, int64_t k) {
    float *a = malloc((size_t)k * sizeof(float)), *b = malloc((size_t)k * sizeof(float));
    assert_non_null(a);
    assert_non_null(b);
    gk_type_get(wtype)->to_f32(w, a, k);
    if (act == GK_F32) memcpy(b, xq, (size_t)k * sizeof(float));
    else gk_type_get(act)->to_f32(xq, b, k);
    double s = 0;
    for (int64_t i = 0; i < k; i++) s += fabs((double)a[i] * b[i]);
    free(a);
    free(b);
    return s;
}

static void check_dots(const gk_ukernels *u, const gk_ukernels *s, int wtype, int64_t k) {
    const gk_type_kernels *tk = &u->t[wtype], *sk = &s->t[wtype];
    if (!tk->vec_dot) return;
    const int act = sk->act_type;
    assert_int_equal(tk->act_type, act);
    enum { R = 9, C = 9, PAD = 7 };
    const size_t wrow = gk_type_bytes(wtype, k), xrow = act == GK_F32 ? (size_t)k * 4 : gk_type_bytes(act, k);
    /* Quantised blocks sit at any byte offset: padded, odd strides and odd bases. Float rows
     * (F32 activations, F32/F16/BF16 weights) are arrays of their element type: padded but
     * aligned to it, as the backend's storage is. */
    const bool blocks = act != GK_F32;
    const size_t ws = blocks ? wrow + PAD : wrow + 4 * PAD, xs = blocks ? xrow + PAD + 1 : xrow + 4 * PAD;
    const size_t off = blocks ? 1 : 0;
    uint8_t *w = calloc(1, ws * R + 4), *xq = calloc(1, xs * C + 4);
    float *f = malloc((size_t)k * sizeof(float));
    assert_non_null(w);
    assert_non_null(xq);
    assert_non_null(f);
    uint8_t *wb = w + off, *xb = xq + off;
    for (int r = 0; r < R; r++) {
        fill(f, k, 1.0f + (float)r);
        gk_type_get(wtype)->from_f32(f, wb + r * ws, k);
    }
    for (int c = 0; c < C; c++) {
        fill(f, k, 0.5f + (float)c);
        if (act == GK_F32) memcpy(xb + c * xs, f, (size_t)k * 4);
        else sk->quantize_act(f, xb + c * xs, k);
    }
    float want[R][C];
    double tol[R][C];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            sk->vec_dot(k, wb + r * ws, xb + c * xs, &want[r][c]);
            tol[r][c] = 1e-5 * abs_dot(wtype, act, wb + r * ws, xb + c * xs, k) + 1e-6;
            float got;
            tk->vec_dot(k, wb + r * ws, xb + c * xs, &got);
            if (!(fabs(got - want[r][c]) <= tol[r][c]))
                fail_msg("%s %s vec_dot k=%lld row %d col %d: %.9g, scalar %.9g", u->isa, gk_type_name(wtype),
                         (long long)k, r, c, got, want[r][c]);
        }
    if (!tk->dot_tile) goto done;
    assert_true(tk->tile_rows >= 1 && tk->tile_cols >= 1);
    for (int nr = 1; nr <= tk->tile_rows && nr <= R; nr++)
        for (int nc = 1; nc <= tk->tile_cols && nc <= C; nc++) {
            enum { LDY = 37 };
            float y[C * LDY];
            for (int i = 0; i < C * LDY; i++) y[i] = -12345.0f;
            int r0 = R - nr, c0 = C - nc;   /* the last rows and columns: tails of the buffers */
            tk->dot_tile(k, wb + r0 * ws, ws, nr, xb + c0 * xs, xs, nc, y, LDY);
            for (int c = 0; c < C; c++)
                for (int i = 0; i < LDY; i++) {
                    float got = y[c * LDY + i];
                    if (c >= nc || i >= nr) {
                        if (got != -12345.0f)
                            fail_msg("%s %s dot_tile %dx%d wrote outside its tile at col %d row %d", u->isa,
                                     gk_type_name(wtype), nr, nc, c, i);
                        continue;
                    }
                    float ref = want[r0 + i][c0 + c];
                    if (!(fabs(got - ref) <= tol[r0 + i][c0 + c]))
                        fail_msg("%s %s dot_tile k=%lld %dx%d row %d col %d: %.9g, scalar %.9g", u->isa,
                                 gk_type_name(wtype), (long long)k, nr, nc, i, c, got, ref);
                }
        }
done:
    free(w);
    free(xq);
    free(f);
}

static void test_dots(void **st) {
    (void)st;
    const gk_ukernels *s = gk_ukernels_scalar();
    /* Block counts 1, 3, 4, 5, 13 (the 4-block unrolled loops and their tails). */
    const int64_t k32[] = {32, 96, 128, 160, 416};
    const int64_t k256[] = {256, 768, 1280};
    const int64_t kf[] = {1, 7, 8, 15, 16, 33, 203};
    for (size_t t = 0; t < sizeof isas / sizeof isas[0]; t++) {
        const gk_ukernels *u = table_or_skip(&isas[t]);
        if (!u) continue;
        for (int w = 0; w < N_WTYPES; w++) {
            int wt = wtypes[w], block = gk_type_get(wt)->block;
            const int64_t *ks = block == 1 ? kf : block == 32 ? k32 : k256;
            int nk = block == 1 ? 7 : block == 32 ? 5 : 3;
            for (int i = 0; i < nk; i++) check_dots(u, s, wt, ks[i]);
        }
    }
}

/* ---- sgemm ---------------------------------------------------------------------------------- */

static void test_sgemm(void **st) {
    (void)st;
    for (size_t t = 0; t < sizeof isas / sizeof isas[0]; t++) {
        const gk_ukernels *u = table_or_skip(&isas[t]);
        if (!u || !u->sgemm) continue;
        const int mr = u->sgemm_mr, nr = u->sgemm_nr, ldc = nr + 5;
        assert_true(mr >= 1 && nr >= 1);
        const int64_t kcs[] = {1, 3, 256};
        for (int ki = 0; ki < 3; ki++) {
            int64_t kc = kcs[ki];
            float *a = malloc((size_t)(kc * mr) * 4), *b = malloc((size_t)(kc * nr) * 4);
            float *c = malloc((size_t)(mr * ldc) * 4), *c0 = malloc((size_t)(mr * ldc) * 4);
            assert_non_null(a);
            assert_non_null(b);
            assert_non_null(c);
            assert_non_null(c0);
            fill(a, kc * mr, 1.0f);
            fill(b, kc * nr, 1.0f);
            fill(c, mr * ldc, 1.0f);
            memcpy(c0, c, (size_t)(mr * ldc) * 4);
            u->sgemm(kc, a, b, c, ldc);
            for (int i = 0; i < mr; i++)
                for (int j = 0; j < ldc; j++) {
                    if (j >= nr) {
                        assert_true(c[i * ldc + j] == c0[i * ldc + j]);   /* outside the tile */
                        continue;
                    }
                    double want = c0[i * ldc + j], mag = fabs(want);
                    for (int64_t p = 0; p < kc; p++) {
                        want += (double)a[p * mr + i] * b[p * nr + j];
                        mag += fabs((double)a[p * mr + i] * b[p * nr + j]);
                    }
                    if (!(fabs(c[i * ldc + j] - want) <= 1e-6 * mag + 1e-7))
                        fail_msg("%s sgemm %dx%d kc=%lld C[%d][%d] = %.9g, want %.9g", u->isa, mr, nr, (long long)kc, i, j,
                                 c[i * ldc + j], want);
                }
            free(a);
            free(b);
            free(c);
            free(c0);
        }
    }
}

/* ---- conversions and vector helpers --------------------------------------------------------- */

static bool same_float(float a, float b) { return (isnan(a) && isnan(b)) || !memcmp(&a, &b, 4); }

static void test_conversions(void **st) {
    (void)st;
    enum { N = 65536 + 13 };
    uint16_t *h = malloc(N * 2), *h2 = malloc(N * 2);
    float *f = malloc(N * 4), *g = malloc(N * 4);
    assert_non_null(h);
    assert_non_null(h2);
    assert_non_null(f);
    assert_non_null(g);
    for (int i = 0; i < N; i++) h[i] = (uint16_t)(i * 40503u);   /* every 16-bit pattern, shuffled */
    for (size_t t = 0; t < sizeof isas / sizeof isas[0]; t++) {
        const gk_ukernels *u = table_or_skip(&isas[t]);
        if (!u) continue;
        if (u->f16_to_f32) {
            u->f16_to_f32(h, f, N);
            for (int i = 0; i < N; i++)
                if (!same_float(f[i], gk_f16_to_f32(h[i]))) fail_msg("%s f16_to_f32(0x%04x) = %g", u->isa, h[i], f[i]);
        }
        if (u->bf16_to_f32) {
            u->bf16_to_f32(h, f, N);
            for (int i = 0; i < N; i++)
                if (!same_float(f[i], gk_bf16_to_f32(h[i]))) fail_msg("%s bf16_to_f32(0x%04x) = %g", u->isa, h[i], f[i]);
        }
        if (u->f32_to_f16) {
            for (int i = 0; i < N; i++) g[i] = gk_f16_to_f32(h[i]) * (1.0f + (float)(i % 5) * 0.0001f) + (i % 3 ? 0 : 1e-6f);
            g[1] = 1e-8f, g[2] = -6e-8f, g[3] = 65519.0f, g[4] = 65520.0f, g[5] = -0.0f;   /* rounding edges */
            u->f32_to_f16(g, h2, N);
            for (int i = 0; i < N; i++) {
                uint16_t want = gk_f32_to_f16(g[i]);
                bool nan = isnan(g[i]);
                if (nan ? !isnan(gk_f16_to_f32(h2[i])) : h2[i] != want)
                    fail_msg("%s f32_to_f16(%.9g) = 0x%04x, scalar 0x%04x", u->isa, g[i], h2[i], want);
            }
        }
    }
    free(h);
    free(h2);
    free(f);
    free(g);
}

static void test_vector_helpers(void **st) {
    (void)st;
    const gk_ukernels *s = gk_ukernels_scalar();
    enum { N = 67 };
    float a[N], b[N], y0[N], y1[N];
    uint16_t bh[N];
    for (size_t t = 0; t < sizeof isas / sizeof isas[0]; t++) {
        const gk_ukernels *u = table_or_skip(&isas[t]);
        if (!u) continue;
        for (int n = 0; n <= N; n++) {
            fill(a, N, 2.0f);
            fill(b, N, 3.0f);
            for (int i = 0; i < N; i++) bh[i] = gk_f32_to_f16(b[i]);
            double mag = 1e-6;
            for (int i = 0; i < n; i++) mag += fabs((double)a[i] * b[i]);
            if (u->dot_f32) assert_true(fabs(u->dot_f32(a, b, n) - s->dot_f32(a, b, n)) <= 1e-5 * mag);
            if (u->dot_f32_f16) assert_true(fabs(u->dot_f32_f16(a, bh, n) - s->dot_f32_f16(a, bh, n)) <= 1e-5 * mag);
            if (u->axpy_f32) {
                fill(y0, N, 1.0f);
                memcpy(y1, y0, sizeof y0);
                u->axpy_f32(0.75f, a, y0, n);
                s->axpy_f32(0.75f, a, y1, n);
                for (int i = 0; i < N; i++) assert_true(fabsf(y0[i] - y1[i]) <= 1e-6f * (1 + fabsf(y1[i])));
            }
            if (u->axpy_f16) {
                fill(y0, N, 1.0f);
                memcpy(y1, y0, sizeof y0);
                u->axpy_f16(-1.25f, bh, y0, n);
                s->axpy_f16(-1.25f, bh, y1, n);
                for (int i = 0; i < N; i++) assert_true(fabsf(y0[i] - y1[i]) <= 1e-6f * (1 + fabsf(y1[i])));
            }
        }
    }
}

/* Q8_0 KV-cache helpers against the scalar table, and the scalar table against a dot with the
 * row decoded by quant.c (exact dequantisation: d · q). */
static void test_q8_0_kv_helpers(void **st) {
    (void)st;
    const gk_ukernels *s = gk_ukernels_scalar();
    enum { N = 128 };
    float a[N], w[N], wd[N], y0[N], y1[N];
    uint8_t q[N / 32 * 34];
    for (size_t t = 0; t < sizeof isas / sizeof isas[0]; t++) {
        const gk_ukernels *u = table_or_skip(&isas[t]);
        if (!u || !u->dot_f32_q8_0 || !u->axpy_q8_0) continue;   /* raw tables may leave them to AVX2 */
        for (int n = 0; n <= N; n += 32) {
            fill(a, N, 2.0f);
            fill(w, N, 3.0f);
            w[1] = 40.0f;   /* one large value: the block's scale is set by it */
            gk_type_get(GK_Q8_0)->from_f32(w, q, N);
            gk_type_get(GK_Q8_0)->to_f32(q, wd, N);
            double want = 0, mag = 1e-6;
            for (int i = 0; i < n; i++) want += (double)a[i] * wd[i], mag += fabs((double)a[i] * wd[i]);
            assert_true(fabs(s->dot_f32_q8_0(a, q, n) - want) <= 1e-5 * mag);
            assert_true(fabs(u->dot_f32_q8_0(a, q, n) - want) <= 1e-5 * mag);
            float y[N];
            fill(y, N, 1.0f);
            memcpy(y0, y, sizeof y), memcpy(y1, y, sizeof y);
            u->axpy_q8_0(-1.25f, q, y0, n);
            s->axpy_q8_0(-1.25f, q, y1, n);
            for (int i = 0; i < N; i++) {
                float want_y = i < n ? y[i] + -1.25f * wd[i] : y[i];
                assert_true(fabsf(y1[i] - want_y) <= 1e-5f * (1 + fabsf(want_y)));
                assert_true(fabsf(y0[i] - y1[i]) <= 1e-6f * (1 + fabsf(y1[i])));
            }
        }
    }
}

/* The dispatcher's merged table for each ISA has every entry (gaps filled from AVX2/scalar). */
static void test_selected_complete(void **st) {
    (void)st;
    for (size_t t = 0; t < sizeof isas / sizeof isas[0]; t++) {
        if (!isas[t].get()) {
            printf("[  SKIPPED ] %s dispatch: this CPU cannot run it\n", isas[t].name);
            continue;
        }
        const gk_ukernels *u = gk_ukernels_select(isas[t].name);
        assert_non_null(u);
        for (int w = 0; w < N_WTYPES; w++) assert_non_null(u->t[wtypes[w]].vec_dot);
        assert_non_null(u->sgemm);
        assert_non_null(u->f16_to_f32);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_act),
        cmocka_unit_test(test_dots),
        cmocka_unit_test(test_sgemm),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_vector_helpers), cmocka_unit_test(test_q8_0_kv_helpers),
        cmocka_unit_test(test_selected_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* not x86-64 */

static void test_not_x86(void **st) {
    (void)st;
    printf("[  SKIPPED ] x86-64 micro-kernels: this is not an x86-64 build\n");
    skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_not_x86)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
