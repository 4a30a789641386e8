/* The AArch64 micro-kernel tables (neon, dotprod, i8mm) against the scalar reference table.
 *
 * Each table is tested as compiled (entries it leaves NULL are skipped) and as the dispatcher
 * completes it (gk_ukernels_select). What is checked:
 *   quantize_act      byte for byte (random rows, zeros, rounding ties, one huge value, sign ties)
 *   vec_dot           within 3e-5 of sum|w_i*x_i| (float sums in another order), 1..9 blocks
 *                     and, for float weights, lengths that are not multiples of the SIMD width
 *   dot_tile          every nr × nc up to the tile, each y against the scalar vec_dot, and y
 *                     outside nr × nc untouched
 *   sgemm             against a double-precision triple loop, C outside the tile untouched
 *   conversions       every f16 and bf16 pattern, and f32 -> f16 ties/subnormals, bit for bit
 *   dot/axpy helpers  lengths 0..100
 * On x86-64 the tables are not compiled: the test reports itself skipped.
 * Run here under `qemu-aarch64 -cpu max` (neon + dotprod + i8mm) by `make test`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#if defined(__aarch64__)
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/microkernels.h"
#include "kernels/quant.h"

/* ---- data --------------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s) {   /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static float rng_float(uint64_t *s) {     /* uniform in [-1, 1) */
    return (float)((double)(rng_next(s) >> 40) / (double)(1 << 23) - 1.0);
}

/* A random binary16 scale with magnitude in [2^-9, 2^-1): finite, normal, either sign. */
static uint16_t rng_f16_scale(uint64_t *s) {
    uint64_t r = rng_next(s);
    return (uint16_t)(((r & 1) << 15) | ((6 + (r >> 1) % 9) << 10) | ((r >> 8) & 0x3ff));
}

/* Random weights of one format, nrows rows of k elements at `stride` bytes: quant payloads are
 * random bytes (every pattern, Q8_0's -128 and Q6_K's scale -128 included) with finite scales;
 * F16 includes subnormals, BF16 magnitudes 2^-8 .. 2^8. */
static void fill_row(int type, uint8_t *row, int64_t k, uint64_t *s) {
    const gk_type_info *ti = gk_type_get(type);
    size_t bytes = gk_type_bytes(type, k);
    if (type == GK_F32) {
        for (int64_t i = 0; i < k; i++) {
            float f = rng_float(s);
            memcpy(row + 4 * i, &f, 4);
        }
        return;
    }
    for (size_t i = 0; i < bytes; i++) row[i] = (uint8_t)rng_next(s);
    if (type == GK_F16 || type == GK_BF16) {
        for (int64_t i = 0; i < k; i++) {
            uint64_t r = rng_next(s);
            uint16_t h = type == GK_F16 ? (uint16_t)(((r & 1) << 15) | (((r >> 1) % 23) << 10) | ((r >> 8) & 0x3ff))
                                        : (uint16_t)(((r & 1) << 15) | ((0x77 + (r >> 1) % 17) << 7) | ((r >> 8) & 0x7f));
            memcpy(row + 2 * i, &h, 2);
        }
        return;
    }
    for (int64_t b = 0; b < k / ti->block; b++) {
        uint8_t *blk = row + b * ti->block_bytes;
        uint16_t d = rng_f16_scale(s), m = rng_f16_scale(s);
        switch (type) {
        case GK_Q4_1:
        case GK_Q4_K:
            memcpy(blk + 2, &m, 2);
            /* fall through */
        case GK_Q8_0:
        case GK_Q4_0:
            memcpy(blk, &d, 2);
            break;
        case GK_Q6_K:
            memcpy(blk + 208, &d, 2);
            break;
        }
    }
}

static uint8_t *make_rows(int type, int nrows, int64_t k, size_t stride, uint64_t seed) {
    uint8_t *w = calloc((size_t)nrows, stride);
    assert_non_null(w);
    for (int r = 0; r < nrows; r++) fill_row(type, w + (size_t)r * stride, k, &seed);
    return w;
}

/* Activations with a different magnitude per 32 elements, so block scales vary. */
static float *make_act(int64_t k, uint64_t seed) {
    float *x = malloc((size_t)k * sizeof *x);
    assert_non_null(x);
    float scale = 1.0f;
    for (int64_t i = 0; i < k; i++) {
        if (i % 32 == 0) scale = ldexpf(1.0f, (int)(rng_next(&seed) % 16) - 8);
        x[i] = scale * rng_float(&seed);
    }
    return x;
}

/* ---- activation formats ------------------------------------------------------------------- */

static int act_block(int act) { return act == GK_Q8_0 ? 32 : act == GK_Q8_K ? 256 : 1; }
static size_t act_block_bytes(int act) { return act == GK_Q8_0 ? 34 : act == GK_Q8_K ? 292 : 4; }
static size_t act_bytes(int act, int64_t k) { return (size_t)(k / act_block(act)) * act_block_bytes(act); }

/* Quantises k activations with the reference table, so both tables see identical inputs. */
static void *quantize_ref(const gk_ukernels *ref, int type, const float *x, int64_t k) {
    int act = ref->t[type].act_type;
    void *xq = malloc(act_bytes(act, k) + 16);
    assert_non_null(xq);
    if (act == GK_F32)
        memcpy(xq, x, (size_t)k * sizeof *x);
    else
        ref->t[type].quantize_act(x, xq, k);
    return xq;
}

/* sum |w_i * x_i| over a row, the scale of the rounding differences between summation orders. */
static double magnitude(int type, const uint8_t *w, const float *x, int64_t k) {
    float *wf = malloc((size_t)k * sizeof *wf);
    assert_non_null(wf);
    gk_type_get(type)->to_f32(w, wf, k);
    double m = 0.0;
    for (int64_t i = 0; i < k; i++) m += fabs((double)wf[i] * x[i]);
    free(wf);
    return m * 1.02 + 1e-30;   /* x here is before quantisation: allow its 1/127 error */
}

static void expect_close(double got, double want, double tol, const char *what) {
    if (!(fabs(got - want) <= tol)) {
        print_error("%s: got %.9g, want %.9g (|diff| %.3g > tol %.3g)\n", what, got, want,
                    fabs(got - want), tol);
        fail();
    }
}

/* ---- the table under test ----------------------------------------------------------------- */

typedef struct isa_case {
    const char *isa;
    const gk_ukernels *(*raw)(void);   /* the ISA file's own table */
    int completed;                     /* 1: the dispatcher's gap-filled table instead */
} isa_case;

static const gk_ukernels *table_of(const isa_case *c) {
    return c->completed ? gk_ukernels_select(c->isa) : c->raw();
}

/* The table; the test is reported skipped when this CPU cannot run it. */
static const gk_ukernels *table_or_skip(void **state) {
    const isa_case *c = *state;
    const gk_ukernels *t = table_of(c);
    if (!t) {
        print_message("[   INFO   ] %s: not supported by this CPU\n", c->isa);
        skip();
    }
    return t;
}

static const int weight_types[] = {GK_F32, GK_F16, GK_BF16, GK_Q8_0, GK_Q4_0, GK_Q4_1, GK_Q4_K, GK_Q6_K};
enum { N_WEIGHT_TYPES = sizeof weight_types / sizeof weight_types[0] };

/* ---- quantize_act ------------------------------------------------------------------------- */

static void compare_quantize(const gk_ukernels *t, const gk_ukernels *ref, int type, const float *x,
                             int64_t k, const char *what) {
    int act = ref->t[type].act_type;
    size_t n = act_bytes(act, k);
    uint8_t *a = malloc(n), *b = malloc(n);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 0xa5, n);
    memset(b, 0xa5, n);
    ref->t[type].quantize_act(x, a, k);
    t->t[type].quantize_act(x, b, k);
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) {
            print_error("%s quantize_act for %s (%s): byte %zu of %zu (block %zu) is %u, reference %u\n",
                        t->isa, gk_type_name(type), what, i, n, i / act_block_bytes(act), b[i], a[i]);
            fail();
        }
    free(a);
    free(b);
}

static void test_quantize_act(void **state) {
    const gk_ukernels *t = table_or_skip(state), *ref = gk_ukernels_scalar();
    if (!t) return;
    const int types[] = {GK_Q8_0, GK_Q4_K};   /* one per activation format: Q8_0, Q8_K */
    for (size_t ti = 0; ti < 2; ti++) {
        int type = types[ti];
        if (!t->t[type].quantize_act) continue;
        assert_int_equal(t->t[type].act_type, ref->t[type].act_type);
        const int blk = act_block(ref->t[type].act_type);
        const int64_t k = 8 * blk;
        float *x = make_act(k, 7 + ti);
        compare_quantize(t, ref, type, x, blk, "one block");
        compare_quantize(t, ref, type, x, k, "random");
        /* Block 0 zeros; block 1 |x| <= 127 with halves (x*id is an exact .5: the rounding
         * rule shows); block 2 one huge value; block 3 +v and -v both largest (first wins). */
        for (int i = 0; i < blk; i++) {
            x[i] = 0.0f;
            x[blk + i] = (float)(i % 64) - 32.5f;
            x[2 * blk + i] = 1e-3f * (float)(i % 7);
            x[3 * blk + i] = 0.01f * (float)(i % 5);
        }
        x[blk + 5] = 127.0f;
        x[2 * blk + 3] = -3e37f;
        x[3 * blk + 1] = -2.0f;
        x[3 * blk + blk - 2] = 2.0f;
        x[4 * blk + 9] = 1e-30f;   /* tiny scale: d underflows f16, 1/d is huge but finite */
        for (int i = 0; i < blk; i++)
            if (i != 9) x[4 * blk + i] = 1e-32f * (float)(i % 3);
        compare_quantize(t, ref, type, x, k, "edge blocks");
        free(x);
    }
}

/* ---- vec_dot ------------------------------------------------------------------------------ */

static void check_vec_dot(const gk_ukernels *t, const gk_ukernels *ref, int type, int64_t k, uint64_t seed) {
    size_t stride = gk_type_bytes(type, k);
    uint8_t *w = make_rows(type, 1, k, stride, seed);
    float *x = make_act(k, seed + 1);
    void *xq = quantize_ref(ref, type, x, k);
    float want = NAN, got = NAN;
    ref->t[type].vec_dot(k, w, xq, &want);
    t->t[type].vec_dot(k, w, xq, &got);
    char what[96];
    snprintf(what, sizeof what, "%s vec_dot %s k=%lld", t->isa, gk_type_name(type), (long long)k);
    expect_close(got, want, 3e-5 * magnitude(type, w, x, k), what);
    free(w);
    free(x);
    free(xq);
}

static void test_vec_dot(void **state) {
    const gk_ukernels *t = table_or_skip(state), *ref = gk_ukernels_scalar();
    if (!t) return;
    for (int n = 0; n < N_WEIGHT_TYPES; n++) {
        int type = weight_types[n];
        if (!t->t[type].vec_dot) continue;
        assert_int_equal(t->t[type].act_type, ref->t[type].act_type);
        int block = gk_type_get(type)->block;
        if (block == 1) {
            const int64_t ks[] = {1, 3, 4, 5, 15, 16, 17, 31, 33, 64, 100, 4096};
            for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) check_vec_dot(t, ref, type, ks[i], 100 + i);
        } else {
            for (int nb = 1; nb <= 9; nb++) check_vec_dot(t, ref, type, nb * block, 200 + nb);
        }
    }
}

/* ---- dot_tile ----------------------------------------------------------------------------- */

static void check_dot_tile(const gk_ukernels *t, const gk_ukernels *ref, int type, int64_t k, uint64_t seed) {
    const gk_type_kernels *tk = &t->t[type];
    const int rows = tk->tile_rows, cols = tk->tile_cols;
    assert_true(rows >= 1 && cols >= 1);
    /* Strides with spare bytes, keeping the 4-byte alignment real rows of floats have. */
    const size_t w_stride = gk_type_bytes(type, k) + 8;
    const int act = ref->t[type].act_type;
    const size_t x_stride = act_bytes(act, k) + 8;
    uint8_t *w = make_rows(type, rows, k, w_stride, seed);
    uint8_t *xq = calloc((size_t)cols, x_stride);
    float *x = make_act(k * cols, seed + 1);
    double *mag = malloc(sizeof(double) * (size_t)(rows * cols));
    float *want = malloc(sizeof(float) * (size_t)(rows * cols));
    assert_true(xq && mag && want);
    for (int j = 0; j < cols; j++) {
        void *q = quantize_ref(ref, type, x + j * k, k);
        memcpy(xq + j * x_stride, q, act_bytes(act, k));
        free(q);
        for (int i = 0; i < rows; i++) {
            ref->t[type].vec_dot(k, w + i * w_stride, xq + j * x_stride, &want[i * cols + j]);
            mag[i * cols + j] = magnitude(type, w + i * w_stride, x + j * k, k);
        }
    }
    const int64_t ldy = rows + 3;
    float *y = malloc(sizeof(float) * (size_t)(ldy * cols));
    assert_non_null(y);
    for (int nr = 1; nr <= rows; nr++)
        for (int nc = 1; nc <= cols; nc++) {
            for (int64_t i = 0; i < ldy * cols; i++) y[i] = -12345.0f;
            tk->dot_tile(k, w, w_stride, nr, xq, x_stride, nc, y, ldy);
            for (int j = 0; j < cols; j++)
                for (int i = 0; i < ldy; i++) {
                    char what[128];
                    snprintf(what, sizeof what, "%s dot_tile %s k=%lld nr=%d nc=%d y[%d,%d]", t->isa,
                             gk_type_name(type), (long long)k, nr, nc, i, j);
                    if (i < nr && j < nc)
                        expect_close(y[j * ldy + i], want[i * cols + j], 3e-5 * mag[i * cols + j], what);
                    else
                        expect_close(y[j * ldy + i], -12345.0f, 0.0, what);   /* untouched */
                }
        }
    free(w);
    free(xq);
    free(x);
    free(mag);
    free(want);
    free(y);
}

static void test_dot_tile(void **state) {
    const gk_ukernels *t = table_or_skip(state), *ref = gk_ukernels_scalar();
    if (!t) return;
    for (int n = 0; n < N_WEIGHT_TYPES; n++) {
        int type = weight_types[n];
        if (!t->t[type].dot_tile) continue;
        assert_int_equal(t->t[type].act_type, ref->t[type].act_type);
        int block = gk_type_get(type)->block;
        const int64_t ks[] = {block, 3 * block, block == 1 ? 37 : 8 * block};
        for (int i = 0; i < 3; i++) check_dot_tile(t, ref, type, ks[i], 300 + i);
    }
}

/* ---- sgemm -------------------------------------------------------------------------------- */

static void test_sgemm(void **state) {
    const gk_ukernels *t = table_or_skip(state);
    if (!t || !t->sgemm) return;
    const int mr = t->sgemm_mr, nr = t->sgemm_nr;
    assert_true(mr >= 1 && nr >= 1);
    const int64_t ldc = nr + 5;
    const int64_t kcs[] = {1, 2, 3, 17, 64, 257};
    uint64_t s = 99;
    for (size_t n = 0; n < sizeof kcs / sizeof kcs[0]; n++) {
        const int64_t kc = kcs[n];
        float *a = malloc(sizeof(float) * (size_t)(kc * mr)), *b = malloc(sizeof(float) * (size_t)(kc * nr));
        float *c = malloc(sizeof(float) * (size_t)(mr * ldc)), *c0 = malloc(sizeof(float) * (size_t)(mr * ldc));
        assert_true(a && b && c && c0);
        for (int64_t i = 0; i < kc * mr; i++) a[i] = rng_float(&s);
        for (int64_t i = 0; i < kc * nr; i++) b[i] = rng_float(&s);
        for (int64_t i = 0; i < mr * ldc; i++) c[i] = c0[i] = rng_float(&s);
        t->sgemm(kc, a, b, c, ldc);
        for (int i = 0; i < mr; i++)
            for (int64_t j = 0; j < ldc; j++) {
                char what[96];
                snprintf(what, sizeof what, "%s sgemm %dx%d kc=%lld C[%d,%lld]", t->isa, mr, nr,
                         (long long)kc, i, (long long)j);
                if (j >= nr) {
                    expect_close(c[i * ldc + j], c0[i * ldc + j], 0.0, what);   /* untouched */
                    continue;
                }
                double want = c0[i * ldc + j], mag = fabs(want);
                for (int64_t p = 0; p < kc; p++) {
                    want += (double)a[p * mr + i] * b[p * nr + j];
                    mag += fabs((double)a[p * mr + i] * b[p * nr + j]);
                }
                expect_close(c[i * ldc + j], want, 1e-6 * mag * (double)(kc + 1), what);
            }
        free(a);
        free(b);
        free(c);
        free(c0);
    }
}

/* ---- conversions -------------------------------------------------------------------------- */

static int f32_is_nan_bits(uint32_t u) { return (u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu); }
static int f16_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

/* Half/bfloat -> float over all 65536 patterns (NaN: any NaN), from offset 1 too (tail). */
static void check_widen(const char *what, void (*got_fn)(const uint16_t *, float *, int64_t),
                        void (*want_fn)(const uint16_t *, float *, int64_t)) {
    const int64_t n = 65536;
    uint16_t *h = malloc(sizeof(uint16_t) * n);
    float *g = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * n);
    assert_true(h && g && w);
    for (int64_t i = 0; i < n; i++) h[i] = (uint16_t)i;
    for (int off = 0; off < 2; off++) {
        got_fn(h + off, g, n - off);
        want_fn(h + off, w, n - off);
        for (int64_t i = 0; i < n - off; i++) {
            uint32_t gu, wu;
            memcpy(&gu, &g[i], 4);
            memcpy(&wu, &w[i], 4);
            if (gu != wu && !(f32_is_nan_bits(gu) && f32_is_nan_bits(wu))) {
                print_error("%s of 0x%04x: 0x%08x, reference 0x%08x\n", what, h[i + off], gu, wu);
                fail();
            }
        }
    }
    free(h);
    free(g);
    free(w);
}

static void test_convert(void **state) {
    const gk_ukernels *t = table_or_skip(state), *ref = gk_ukernels_scalar();
    if (!t) return;
    if (t->f16_to_f32) check_widen("f16_to_f32", t->f16_to_f32, ref->f16_to_f32);
    if (t->bf16_to_f32) check_widen("bf16_to_f32", t->bf16_to_f32, ref->bf16_to_f32);
    if (!t->f32_to_f16) return;
    /* Every half, the midpoints between neighbours (ties to even), just-off-midpoints, values
     * around the overflow and subnormal edges, and random bit patterns. */
    enum { N = 65536 * 3 + 4096 + 3 };
    float *x = malloc(sizeof(float) * N);
    uint16_t *g = malloc(sizeof(uint16_t) * N), *w = malloc(sizeof(uint16_t) * N);
    assert_true(x && g && w);
    uint16_t *all = malloc(sizeof(uint16_t) * 65536);
    float *allf = malloc(sizeof(float) * 65536);
    assert_true(all && allf);
    for (int i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    ref->f16_to_f32(all, allf, 65536);
    int64_t n = 0;
    for (int i = 0; i < 65536; i++) {
        const float f = allf[i], next = allf[(i + 1) & 0xffff];
        const float mid = (float)(((double)f + (double)next) / 2.0);   /* exact: halves are short */
        x[n++] = f;
        x[n++] = mid;
        x[n++] = nextafterf(mid, INFINITY);
    }
    free(all);
    free(allf);
    uint64_t s = 5;
    for (int i = 0; i < 4096; i++) {
        uint32_t u = (uint32_t)rng_next(&s);
        memcpy(&x[n++], &u, 4);
    }
    x[n++] = 65520.0f;            /* rounds to infinity */
    x[n++] = 65519.99f;           /* rounds to 65504 */
    x[n++] = ldexpf(1.0f, -25);   /* halfway to the smallest subnormal: rounds to 0 */
    assert_true(n == N);
    t->f32_to_f16(x, g, n);
    ref->f32_to_f16(x, w, n);
    for (int64_t i = 0; i < n; i++) {
        if (g[i] == w[i] || (f16_is_nan(g[i]) && f16_is_nan(w[i]))) continue;
        uint32_t u;
        memcpy(&u, &x[i], 4);
        print_error("f32_to_f16 of %.9g (0x%08x): 0x%04x, reference 0x%04x\n", x[i], u, g[i], w[i]);
        fail();
    }
    free(x);
    free(g);
    free(w);
}

/* ---- dot / axpy helpers ------------------------------------------------------------------- */

static void test_helpers(void **state) {
    const gk_ukernels *t = table_or_skip(state), *ref = gk_ukernels_scalar();
    if (!t) return;
    const int64_t ns[] = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100};
    uint64_t s = 11;
    for (size_t m = 0; m < sizeof ns / sizeof ns[0]; m++) {
        const int64_t n = ns[m];
        float a[100], b[100], y0[100], y1[100], mag = 0;
        uint16_t h[100];
        for (int64_t i = 0; i < n; i++) {
            a[i] = rng_float(&s);
            b[i] = rng_float(&s);
            y0[i] = y1[i] = rng_float(&s);
            mag += fabsf(a[i] * b[i]);
        }
        if (n) ref->f32_to_f16(b, h, n);
        char what[64];
        snprintf(what, sizeof what, "%s helpers n=%lld", t->isa, (long long)n);
        if (t->dot_f32) expect_close(t->dot_f32(a, b, n), ref->dot_f32(a, b, n), 2e-6 * mag + 1e-30, what);
        if (t->dot_f32_f16)
            expect_close(t->dot_f32_f16(a, h, n), ref->dot_f32_f16(a, h, n), 2e-6 * mag + 1e-30, what);
        if (t->axpy_f32) {
            t->axpy_f32(0.75f, a, y1, n);
            ref->axpy_f32(0.75f, a, y0, n);
            for (int64_t i = 0; i < n; i++) expect_close(y1[i], y0[i], 1e-6, what);
        }
        if (t->axpy_f16) {
            t->axpy_f16(-1.5f, h, y1, n);
            ref->axpy_f16(-1.5f, h, y0, n);
            for (int64_t i = 0; i < n; i++) expect_close(y1[i], y0[i], 2e-6, what);
        }
    }
}

/* Q8_0 KV-cache helpers (as the dispatcher completes the table) against the scalar table, on
 * rows of 0 to 3 blocks with one large value (it sets its block's scale). */
static void test_q8_0_kv_helpers(void **state) {
    const gk_ukernels *raw = table_or_skip(state), *ref = gk_ukernels_scalar();
    if (!raw) return;
    const gk_ukernels *t = gk_ukernels_select(raw->isa);   /* dotprod and i8mm take NEON's */
    enum { N = 96 };
    uint64_t s = 13;
    float a[N], w[N], y0[N], y1[N];
    uint8_t q[N / 32 * 34];
    for (int64_t n = 0; n <= N; n += 32) {
        float mag = 0;
        for (int i = 0; i < N; i++) a[i] = rng_float(&s), w[i] = rng_float(&s), y0[i] = y1[i] = rng_float(&s);
        w[5] = 30.0f;
        gk_type_get(GK_Q8_0)->from_f32(w, q, N);
        for (int64_t i = 0; i < n; i++) mag += fabsf(a[i] * w[i]);
        char what[64];
        snprintf(what, sizeof what, "%s q8_0 helpers n=%lld", t->isa, (long long)n);
        expect_close(t->dot_f32_q8_0(a, q, n), ref->dot_f32_q8_0(a, q, n), 2e-6 * mag + 1e-30, what);
        t->axpy_q8_0(-1.5f, q, y1, n);
        ref->axpy_q8_0(-1.5f, q, y0, n);
        for (int64_t i = 0; i < N; i++) expect_close(y1[i], y0[i], 2e-6 * (1 + fabsf(y0[i])), what);
    }
}

/* ---- the dispatcher's view ---------------------------------------------------------------- */

static void test_selected_complete(void **state) {
    const isa_case *c = *state;
    const gk_ukernels *t = gk_ukernels_select(c->isa);
    if (!t) {
        assert_null(c->raw());   /* select refuses only what this CPU cannot run */
        print_message("[   INFO   ] %s: not supported by this CPU\n", c->isa);
        skip();
    }
    assert_string_equal(t->isa, c->isa);
    const gk_ukernels *raw = c->raw();
    for (int n = 0; n < N_WEIGHT_TYPES; n++) {
        int type = weight_types[n];
        assert_non_null(t->t[type].vec_dot);
        if (t->t[type].act_type != GK_F32) assert_non_null(t->t[type].quantize_act);
        /* The ISA's own kernels are the ones selected. */
        if (raw->t[type].vec_dot) assert_ptr_equal(t->t[type].vec_dot, raw->t[type].vec_dot);
        if (raw->t[type].dot_tile) assert_ptr_equal(t->t[type].dot_tile, raw->t[type].dot_tile);
    }
    assert_non_null(t->sgemm);
    assert_true(t->sgemm_mr >= 1 && t->sgemm_nr >= 1);
    assert_true(t->f16_to_f32 && t->f32_to_f16 && t->bf16_to_f32);
    assert_true(t->dot_f32 && t->axpy_f32 && t->dot_f32_f16 && t->axpy_f16);
    assert_true(t->dot_f32_q8_0 && t->axpy_q8_0);
}

static const isa_case cases[] = {
    {"neon", gk_ukernels_neon, 0},    {"dotprod", gk_ukernels_dotprod, 0}, {"i8mm", gk_ukernels_i8mm, 0},
    {"neon", gk_ukernels_neon, 1},    {"dotprod", gk_ukernels_dotprod, 1}, {"i8mm", gk_ukernels_i8mm, 1},
};

/* cmocka's struct by hand, so each test is named for its table. */
#define ISA_TEST(fn, i, label) {label, fn, NULL, NULL, (void *)&cases[i]}
#define ISA_TESTS(i, name)                                                             \
    ISA_TEST(test_quantize_act, i, name ": quantize_act"),                             \
    ISA_TEST(test_vec_dot, i, name ": vec_dot"),                                       \
    ISA_TEST(test_dot_tile, i, name ": dot_tile"),                                     \
    ISA_TEST(test_sgemm, i, name ": sgemm"),                                           \
    ISA_TEST(test_convert, i, name ": conversions"),                                   \
    ISA_TEST(test_helpers, i, name ": dot/axpy helpers"),                              \
    ISA_TEST(test_q8_0_kv_helpers, i, name ": q8_0 KV-cache helpers")

int main(void) {
    const struct CMUnitTest own[] = {ISA_TESTS(0, "neon"), ISA_TESTS(1, "dotprod"), ISA_TESTS(2, "i8mm")};
    const struct CMUnitTest completed[] = {
        ISA_TEST(test_selected_complete, 3, "select(neon): complete"),
        ISA_TEST(test_selected_complete, 4, "select(dotprod): complete"),
        ISA_TEST(test_selected_complete, 5, "select(i8mm): complete"),
        ISA_TESTS(3, "select(neon)"), ISA_TESTS(4, "select(dotprod)"), ISA_TESTS(5, "select(i8mm)"),
    };
    int failed = cmocka_run_group_tests_name("AArch64 tables as compiled", own, NULL, NULL);
    failed += cmocka_run_group_tests_name("AArch64 tables completed by the dispatcher", completed, NULL, NULL);
    return failed ? 1 : 0;
}

#else /* not AArch64 */

static void test_skipped(void **state) {
    (void)state;
    print_message("[   INFO   ] test_kernels_arm: the neon/dotprod/i8mm tables exist only in AArch64 "
                  "builds; `make test` runs this file under qemu-aarch64 -cpu max\n");
    skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_skipped)};
    return cmocka_run_group_tests_name("AArch64 micro-kernels (skipped on this architecture)", tests, NULL, NULL);
}

#endif
