/* The x86-64 micro-kernel tables (AVX2, AVX-512) against the scalar reference table, entry by
 * entry, on random data and awkward shapes:
 *  - quantize_act (Q8_0, Q8_K): byte-for-byte equal to the scalar quantiser, including ties at
 *    .5, zeros, one huge value, equal magnitudes of both signs, subnormals;
 *  - vec_dot and dot_tile of every weight type: |simd - scalar| <= 1e-5 · Σ|w·x| + 1e-6 (only
 *    the order of float additions differs: the integer parts are exact), for K = one block up to
 *    odd block counts, every nr <= tile_rows and nc <= tile_cols, unaligned and padded strides,
 *    outputs with a ldy larger than the tile, and cells outside the tile left untouched;
 *  - the packed integer GEMMs (igemm) of every table: against the scalar vec_dot with the same
 *    bound, on quantised, raw-byte and extreme blocks, 1/16/35 rows, 1..29 columns, K of one
 *    block to several ranges; and the driver's igemm path on every usable table, 1 and 2
 *    threads, against the ref backend within the activation-quantisation bound;
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

#include "kernels/backend.h"
#include "kernels/cpu/microkernels.h"
#include "kernels/quant.h"

#if defined(__x86_64__)
#include "kernels/cpu/x86/avx2.h"   /* gk_avx2_exp8: the polynomial on its own */

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

static const isa_case isas[] = {{"avx2", gk_ukernels_avx2}, {"avx512", gk_ukernels_avx512}, {"amx", gk_ukernels_amx}};

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

/* ---- packed integer GEMM -------------------------------------------------------------------- */

/* Weights for the igemm checks, by kind: 0 = quantised random data (quant.c), 1 = random bytes
 * with random finite scales of either sign (K-quants: every 6-bit scale and min, negative d
 * and dmin, Q6_K scales down to -128), 2 = extremes: every quant at its largest (Q4_K nibble
 * 15 with scale and min 63, a negative dmin; Q6_K q = 63 with scales -128 and 127; Q4_0 nibbles
 * 0 or 15; Q8_0 bytes -128 or 127), which with activations all -128 or 127 reach the integer
 * sums' bounds. */
static void igemm_weights(int wtype, int kind, uint8_t *w, size_t ws, int n, int64_t k) {
    const gk_type_info *ti = gk_type_get(wtype);
    const size_t bb = ti->block_bytes;
    float *f = malloc((size_t)k * sizeof(float));
    assert_non_null(f);
    for (int r = 0; r < n; r++) {
        uint8_t *row = w + (size_t)r * ws;
        if (kind == 0) {
            fill(f, k, 1.0f + (float)(r % 5));
            ti->from_f32(f, row, k);
            continue;
        }
        for (int64_t b = 0; b < k / ti->block; b++) {
            uint8_t *blk = row + (size_t)b * bb;
            for (size_t i = 0; i < bb; i++) blk[i] = kind == 1 ? (uint8_t)(frand() * 128.0f + 128.0f) : 0xff;
            uint16_t d = gk_f32_to_f16(kind == 1 ? 0.01f * frand() : 1.0f / 64), dn = gk_f32_to_f16(kind == 1 ? 0.01f * frand() : -1.0f / 64);
            if (wtype == GK_Q4_K) memcpy(blk, &d, 2), memcpy(blk + 2, &dn, 2);
            if (wtype == GK_Q6_K) {
                memcpy(blk + 208, &d, 2);
                if (kind == 2)
                    for (int i = 0; i < 16; i++) blk[192 + i] = (uint8_t)(i % 2 ? 0x80 : 0x7f);
            }
            if (wtype == GK_Q4_0 || wtype == GK_Q8_0) {
                memcpy(blk, &d, 2);
                if (kind == 2 && wtype == GK_Q4_0) memset(blk + 2, (r + (int)b) % 2 ? 0x00 : 0xff, bb - 2);
                if (kind == 2 && wtype == GK_Q8_0) memset(blk + 2, (r + (int)b) % 2 ? 0x80 : 0x7f, bb - 2);
            }
        }
    }
    free(f);
}

/* Activation rows (act type; row c at xq + c*xs) in the kernel's column groups (microkernels.h). */
static uint8_t *igemm_pack_act(int act, const uint8_t *xq, size_t xs, int64_t nblk, int m, size_t *group_bytes) {
    const bool kq = act == GK_Q8_K;
    const size_t ab = kq ? GK_IGEMM_ACT_K_BYTES : GK_IGEMM_ACT_BYTES;
    const int groups = (m + GK_IGEMM_COLS - 1) / GK_IGEMM_COLS;
    uint8_t *xp = malloc((size_t)groups * nblk * ab);
    assert_non_null(xp);
    memset(xp, 0x5a, (size_t)groups * nblk * ab);   /* columns past m: garbage, never read */
    *group_bytes = (size_t)nblk * ab;
    for (int c = 0; c < m; c++)
        for (int64_t b = 0; b < nblk; b++) {
            const uint8_t *q = xq + (size_t)c * xs + (size_t)b * (kq ? 292 : 34);
            uint8_t *dst = xp + (size_t)(c / GK_IGEMM_COLS) * *group_bytes + (size_t)b * ab;
            const int cc = c % GK_IGEMM_COLS;
            if (kq) {
                memcpy(dst + 256 * cc, q + 4, 256);
                memcpy(dst + 256 * GK_IGEMM_COLS + 4 * cc, q, 4);
                memcpy(dst + 260 * GK_IGEMM_COLS + 32 * cc, q + 260, 32);
                continue;
            }
            uint16_t h;
            memcpy(&h, q, 2);
            float d = gk_f16_to_f32(h);
            int32_t sum = 0;
            for (int i = 0; i < 32; i++) sum += (int8_t)q[2 + i];
            memcpy(dst + 32 * cc, q + 2, 32);
            memcpy(dst + 32 * GK_IGEMM_COLS + 4 * cc, &d, 4);
            memcpy(dst + 36 * GK_IGEMM_COLS + 4 * cc, &sum, 4);
        }
    return xp;
}

/* F32 activation rows (row c at x + c*k) in the BF16X16 groups, by the table's own pack_act. */
static uint8_t *igemm_pack_bf16(const gk_igemm_kernels *ik, const float *x, int64_t k, int m, size_t *group_bytes) {
    const int groups = (m + GK_IGEMM_BF16_COLS - 1) / GK_IGEMM_BF16_COLS;
    *group_bytes = (size_t)(k / 32) * GK_IGEMM_ACT_BF16_BYTES;
    uint8_t *xp = malloc((size_t)groups * *group_bytes);
    assert_non_null(xp);
    memset(xp, 0x5a, (size_t)groups * *group_bytes);   /* columns past m: garbage, never read */
    for (int c = 0; c < m; c++)
        ik->pack_act(x + (int64_t)c * k, k, xp + (size_t)(c / GK_IGEMM_BF16_COLS) * *group_bytes, c % GK_IGEMM_BF16_COLS);
    return xp;
}

/* One table's packed GEMM of one weight type, n rows × m columns over k, against the scalar
 * vec_dot with the same quantised activations: the integer parts are exact, so as for the dots
 * |igemm - scalar| <= 1e-5 · Σ|w·x| + 1e-6 (plus the float add into y's prior value). The
 * weights are packed in two ranges of blocks (b0 > 0 for the second) into panels prefilled with
 * garbage, the kernel adds into y with a wider ldy, and cells past the n rows and m columns
 * stay untouched. */
static void check_igemm(const gk_ukernels *u, const gk_ukernels *s, int wtype, int kind, int64_t k, int n, int m) {
    const gk_igemm_kernels *ik = &u->igemm[wtype];
    const gk_type_kernels *sk = &s->t[wtype];
    const int act = sk->act_type, R = ik->rows, ldy = n + 5;
    const bool bf16 = ik->act_layout == GK_IGEMM_ACT_BF16X16;   /* blocks of 32 inputs for every type */
    const int64_t blk = bf16 ? 32 : gk_type_get(wtype)->block, nblk = k / blk, nb1 = nblk / 2;
    const size_t wrow = gk_type_bytes(wtype, k), ws = wrow + 3, xs = gk_type_bytes(act, k);
    uint8_t *w = calloc(1, ws * (size_t)n + 1), *xq = malloc(xs * (size_t)m);
    float *f = malloc((size_t)(k * m) * sizeof(float)), *y = malloc((size_t)(m + 1) * ldy * sizeof(float));
    float *wd = malloc((size_t)k * sizeof(float));
    uint8_t *panel = malloc((size_t)nblk * ik->block_bytes);
    assert_true(w && xq && f && y && panel && wd);
    uint8_t *wb = w + 1;   /* odd row starts */
    igemm_weights(wtype, kind, wb, ws, n, k);
    for (int c = 0; c < m; c++) {
        float *fc = f + (int64_t)c * k;
        if (kind == 2) for (int64_t i = 0; i < k; i++) fc[i] = c % 2 ? 3.0f : -3.0f;   /* all -128 or 127 */
        else fill(fc, k, 0.5f + (float)c);
        if (sk->quantize_act) sk->quantize_act(fc, xq + (size_t)c * xs, k);
    }
    size_t gb;
    uint8_t *xp = bf16 ? igemm_pack_bf16(ik, f, k, m, &gb) : igemm_pack_act(act, xq, xs, nblk, m, &gb);
    const size_t ab = act == GK_Q8_K ? GK_IGEMM_ACT_K_BYTES : bf16 ? GK_IGEMM_ACT_BF16_BYTES : GK_IGEMM_ACT_BYTES;
    for (int i = 0; i < (m + 1) * ldy; i++) y[i] = (float)(i % 13) * 0.5f - 3.0f;
    for (int p = 0; p * R < n; p++) {
        const int rows = n - p * R < R ? n - p * R : R;
        for (int part = 0; part < 2; part++) {
            const int64_t b0 = part ? nb1 : 0, nb = part ? nblk - nb1 : nb1;
            if (nb == 0) continue;
            memset(panel, 0xa5, (size_t)nb * ik->block_bytes);
            ik->pack((const char *)wb + (size_t)(p * R) * ws, ws, rows, b0, nb, panel);
            ik->kernel(nb, panel, xp + (size_t)b0 * ab, gb, m, y + p * R, ldy, rows);
        }
    }
    for (int c = 0; c <= m; c++)
        for (int r = 0; r < ldy; r++) {
            const float y0 = (float)((c * ldy + r) % 13) * 0.5f - 3.0f, got = y[c * ldy + r];
            if (c == m || r >= n) {
                if (got != y0)
                    fail_msg("%s %s igemm %dx%d wrote outside the matrix at col %d row %d", u->isa,
                             gk_type_name(wtype), n, m, c, r);
                continue;
            }
            const uint8_t *wr = wb + (size_t)r * ws, *xc = xq + (size_t)c * xs;
            float want;
            double tol;
            if (bf16) {   /* against the float product: each factor rounded once to BF16 */
                gk_type_get(wtype)->to_f32(wr, wd, k);
                double sum = 0, sabs = 0;
                for (int64_t i = 0; i < k; i++)
                    sum += (double)wd[i] * f[(int64_t)c * k + i], sabs += fabs((double)wd[i] * f[(int64_t)c * k + i]);
                want = (float)sum;
                tol = (0x1p-8 + 1e-5) * sabs + 1e-6 + 1e-6 * fabs(y0);
            } else {
                sk->vec_dot(k, wr, xc, &want);
                tol = 1e-5 * abs_dot(wtype, act, wr, xc, k) + 1e-6 + 1e-6 * fabs(y0);
            }
            if (!(fabs((double)got - y0 - want) <= tol))
                fail_msg("%s %s igemm kind %d k=%lld %dx%d row %d col %d: %.9g, scalar %.9g (tolerance %.3g)", u->isa,
                         gk_type_name(wtype), kind, (long long)k, n, m, r, c, (double)got - y0, want, tol);
        }
    free(w), free(xq), free(f), free(y), free(panel), free(xp), free(wd);
}

/* Every packed GEMM of every x86 table: K of one block to several (K-quants: 1, 3 and 9
 * super-blocks, so ranges of 1 and 4+5), panels of 1 row, a whole 16 and 16+16+3, column
 * counts on either side of the 8-column groups and their 4/2/1 tails. */
static void test_igemm(void **st) {
    (void)st;
    const gk_ukernels *s = gk_ukernels_scalar();
    const int ns[] = {1, 16, 35}, ms[] = {1, 3, 7, 8, 9, 16, 17, 29};
    for (size_t t = 0; t < sizeof isas / sizeof isas[0]; t++) {
        const gk_ukernels *u = table_or_skip(&isas[t]);
        if (!u) continue;
        for (int wi = 0; wi < N_WTYPES; wi++) {
            const int wt = wtypes[wi];
            const gk_igemm_kernels *ik = &u->igemm[wt];
            if (!ik->kernel) continue;
            assert_non_null(ik->pack);
            assert_true(ik->rows >= 1 && ik->block_bytes > 0);
            const bool kq = gk_type_get(wt)->block == 256;
            const int64_t ks[] = {kq ? 256 : 32, kq ? 768 : 96, kq ? 2304 : 2080};
            const int kinds = gk_type_get(wt)->quantized ? 3 : 1;   /* float weights: raw bytes are NaNs */
            for (int kind = 0; kind < kinds; kind++)
                for (int ki = 0; ki < 3; ki++)
                    for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
                        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) check_igemm(u, s, wt, kind, ks[ki], ns[ni], ms[mi]);
            print_message("%s %s packed GEMM: checked\n", u->isa, gk_type_name(wt));
        }
    }
}

/* The driver's packed-GEMM path (cpu_matmul.c: packing per thread in ranges of blocks, the
 * activations packed from the act type, 64-column passes) on every table this CPU runs, 1 and 2
 * threads, against the ref backend. Y = Σ w·xq on cpu (xq the quantised activations: exact
 * integer parts, float order within 1e-5 · Σ|w·xq|) and Σ w·x in double on ref, so
 * |cpu - ref| <= ||w|| · ||xq - x|| + 1e-5 · Σ|w·xq| + 1e-6, with xq as the scalar quantiser
 * (byte-identical to every table's, test_quantize_act) makes it. Shapes: 130 rows (units of
 * 64 rows, a last panel of 2), K of 9 super-blocks (a range of 8 and one of 1), columns 8
 * (the threshold), 9, 64, 71 (a 64-column pass and a 7-column one), and 7 (below it: tiles). */
static void check_linear(const char *isa, int threads, int wtype, int64_t k, int64_t n, int64_t m) {
    char err[256];
    gk_backend_opts o = {.n_threads = threads, .isa = isa}, o1 = {.n_threads = 1};
    gk_backend *bs[2] = {gk_backend_open("ref", &o1, err, sizeof err), gk_backend_open("cpu", &o, err, sizeof err)};
    if (!bs[0] || !bs[1]) fail_msg("open backends (%s): %s", isa, err);
    const gk_type_info *ti = gk_type_get(wtype);
    const int act = gk_ukernels_scalar()->t[wtype].act_type;
    const size_t wrow = gk_type_bytes(wtype, k), xs = gk_type_bytes(act, k);
    const gk_ukernels *u = gk_ukernels_select(isa);
    const bool bf16 = m >= 8 && u->igemm[wtype].kernel && u->igemm[wtype].act_layout == GK_IGEMM_ACT_BF16X16;
    uint8_t *wq = malloc(wrow * (size_t)n), *xq = malloc(xs);
    float *x = malloc((size_t)(k * m) * sizeof(float)), *wf = malloc((size_t)k * sizeof(float));
    float *xd = malloc((size_t)k * sizeof(float)), *wd = malloc((size_t)(k * n) * sizeof(float));
    assert_true(wq && xq && x && wf && xd && wd);
    igemm_weights(wtype, ti->quantized ? (int)(n % 2) : 0, wq, wrow, (int)n, k);
    for (int64_t r = 0; r < n; r++) ti->to_f32(wq + (size_t)r * wrow, wd + r * k, k);
    fill(x, k * m, 2.0f);
    float *y[2];
    for (int i = 0; i < 2; i++) {
        gk_tensor tw, tx, ty;
        assert_int_equal(gk_new2d(bs[i], &tw, wtype, k, n), 0);
        assert_int_equal(gk_new2d(bs[i], &tx, GK_F32, k, m), 0);
        assert_int_equal(gk_new2d(bs[i], &ty, GK_F32, n, m), 0);
        assert_int_equal(bs[i]->ops->upload(bs[i], &tw, 0, wq, tw.nbytes), 0);
        assert_int_equal(bs[i]->ops->upload(bs[i], &tx, 0, x, tx.nbytes), 0);
        if (gk_matmul(bs[i], &ty, &tw, &tx, NULL)) fail_msg("%s", gk_backend_error(bs[i]));
        y[i] = malloc(ty.nbytes);
        assert_int_equal(bs[i]->ops->download(bs[i], &ty, 0, y[i], ty.nbytes), 0);
        bs[i]->ops->free(bs[i], &tw), bs[i]->ops->free(bs[i], &tx), bs[i]->ops->free(bs[i], &ty);
    }
    for (int64_t c = 0; c < m; c++) {
        if (act == GK_F32) memcpy(xd, x + c * k, (size_t)k * sizeof(float));   /* float weights: no quantisation */
        else gk_ukernels_scalar()->t[wtype].quantize_act(x + c * k, xq, k), gk_type_get(act)->to_f32(xq, xd, k);
        double e2 = 0;
        for (int64_t i = 0; i < k; i++) e2 += ((double)xd[i] - x[c * k + i]) * ((double)xd[i] - x[c * k + i]);
        for (int64_t r = 0; r < n; r++) {
            double w2 = 0, sabs = 0;
            for (int64_t i = 0; i < k; i++) w2 += (double)wd[r * k + i] * wd[r * k + i], sabs += fabs((double)wd[r * k + i] * xd[i]);
            double tol = sqrt(w2 * e2) + 1e-5 * sabs + 1e-6, got = y[1][c * n + r], want = y[0][c * n + r];
            if (bf16) {   /* the AMX-BF16 path: each factor of Σ w·x rounded once to BF16 */
                double fabs_sum = 0;
                for (int64_t i = 0; i < k; i++) fabs_sum += fabs((double)wd[r * k + i] * x[c * k + i]);
                tol = (0x1p-8 + 1e-5) * fabs_sum + 1e-6;
            }
            if (!(fabs(got - want) <= tol))
                fail_msg("%s matmul %s K=%lld N=%lld M=%lld (%s, %d threads): y[%lld][%lld] cpu %.9g, ref %.9g, tolerance %.3g",
                         gk_type_name(wtype), isa, (long long)k, (long long)n, (long long)m, isa, threads, (long long)c,
                         (long long)r, got, want, tol);
        }
    }
    free(wq), free(xq), free(x), free(wf), free(xd), free(wd), free(y[0]), free(y[1]);
    gk_backend_close(bs[0]);
    gk_backend_close(bs[1]);
}

static void test_igemm_driver(void **st) {
    (void)st;
    static const int64_t shapes[][3] = {{2304, 130, 8}, {256, 35, 71}, {512, 17, 9}, {2304, 33, 64}, {768, 16, 7}};
    const int types[] = {GK_Q4_K, GK_Q6_K, GK_Q4_0, GK_Q8_0, GK_F16, GK_BF16};
    for (const char *const *isa = gk_ukernels_available(); *isa; isa++) {
        const gk_ukernels *u = gk_ukernels_select(*isa);
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            const bool fl = !gk_type_get(types[t])->quantized;   /* float weights: AMX's BF16 tiles only */
            if (fl && !u->igemm[types[t]].kernel) continue;
            if (strcmp(*isa, "scalar") != 0) assert_non_null(u->igemm[types[t]].kernel);   /* the path under test */
            for (int threads = 1; threads <= 2; threads++)
                for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
                    check_linear(*isa, threads, types[t], shapes[i][0], shapes[i][1], shapes[i][2]);
                }
        }
    }
}

/* ---- sgemm ---------------------------------------------------------------------------------- */

/* The F16-panel kernel (sgemm_h) on B rounded to F16: bit-identical to sgemm on the same values
 * as F32 (the conversion is exact, the FMA order the same), C outside the tile untouched. */
static void sgemm_h_check(const gk_ukernels *u, int64_t kc, const float *a, const float *b, const float *c0, int ldc) {
    const int mr = u->sgemm_mr, nr = u->sgemm_nr;
    const size_t nb = (size_t)(kc * nr), nc = (size_t)(mr * ldc);
    uint16_t *bh = malloc(nb * 2);
    float *bf = malloc(nb * 4), *want = malloc(nc * 4), *got = malloc(nc * 4);
    assert_true(bh && bf && want && got);
    gk_ukernels_select("scalar")->f32_to_f16(b, bh, (int64_t)nb);
    gk_ukernels_select("scalar")->f16_to_f32(bh, bf, (int64_t)nb);
    memcpy(want, c0, nc * 4);
    memcpy(got, c0, nc * 4);
    u->sgemm(kc, a, bf, want, ldc);
    u->sgemm_h(kc, a, bh, got, ldc);
    for (size_t e = 0; e < nc; e++)
        if (memcmp(&got[e], &want[e], 4))
            fail_msg("%s sgemm_h kc=%lld C[%zu] = %.9g, sgemm on the same F16 values %.9g", u->isa, (long long)kc, e,
                     got[e], want[e]);
    free(bh), free(bf), free(want), free(got);
}

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
            if (u->sgemm_h) sgemm_h_check(u, kc, a, b, c0, ldc);
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
            if (u->axpy_rows_f16) {   /* n rows of n values (64 + tails when n >= 64), stride N */
                static uint16_t xr[N * N];
                float c[N], mag1[N] = {0};
                fill(c, N, 1.5f);
                for (int i = 0; i < N * N; i++) xr[i] = gk_f32_to_f16(2.0f * frand());
                fill(y0, N, 1.0f);
                memcpy(y1, y0, sizeof y0);
                u->axpy_rows_f16(c, xr, N, n, y0, n);
                s->axpy_rows_f16(c, xr, N, n, y1, n);
                for (int i = 0; i < n; i++)
                    for (int r = 0; r < n; r++) mag1[i] += fabsf(c[r] * gk_f16_to_f32(xr[r * N + i]));
                for (int i = 0; i < N; i++) assert_true(fabsf(y0[i] - y1[i]) <= 1e-6f * (1 + fabsf(y1[i]) + mag1[i]));
            }
        }
    }
}

/* Bits of a positive float as an ordered integer: the ulp distance is a difference. */
static int32_t ord_bits(float f) {
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* The AVX2 exp polynomial against expf, in ulps, over the range it keeps (every 1/1024 from
 * -87 to 88, and points around 0), 0 below it; then the softmax and SiLU helpers of each table
 * against the scalar table's (which calls expf), every tail length. */
static void test_exp_helpers(void **st) {
    (void)st;
    const gk_ukernels *s = gk_ukernels_scalar();
    if (gk_ukernels_avx2()) {
        int32_t worst = 0;
        float at = 0;
        for (int i = -87 * 1024; i <= 88 * 1024; i += 8) {
            float x[8], y[8];
            for (int l = 0; l < 8; l++) x[l] = (float)(i + l) / 1024.0f + (i == 0 ? 1e-7f * l : 0.0f);
            gk_avx2_exp8(x, y);
            for (int l = 0; l < 8 && x[l] <= 88.0f; l++) {
                int32_t d = abs(ord_bits(y[l]) - ord_bits(expf(x[l])));
                if (d > worst) worst = d, at = x[l];
            }
        }
        printf("  avx2 exp: worst %d ulp from expf (at %g) over [-87, 88]\n", (int)worst, (double)at);
        assert_true(worst <= 2);
        float x[8] = {-87.5f, -100.0f, -1e30f, 0.0f, 1.0f, -1.0f, 88.0f, 20.0f}, y[8];
        gk_avx2_exp8(x, y);
        assert_true(y[0] == 0.0f && y[1] == 0.0f && y[2] == 0.0f);
        assert_true(y[3] == 1.0f);
        assert_true(fabsf(y[4] - 2.7182818f) <= 2e-7f * 2.7182818f && fabsf(y[5] - 0.36787944f) <= 1e-7f);
        assert_true(isfinite(y[6]) && fabsf(y[6] / expf(88.0f) - 1.0f) < 1e-6f);
    }
    enum { N = 41 };
    for (size_t t = 0; t < sizeof isas / sizeof isas[0]; t++) {
        const gk_ukernels *u = table_or_skip(&isas[t]);
        if (!u || !u->exp_sum || !u->scale_max || !u->silu_mul) continue;   /* raw tables may leave them to AVX2 */
        for (int n = 1; n <= N; n++) {
            float x0[N + 1], x1[N + 1], g[N], up[N], y0[N + 1], y1[N + 1];
            fill(x0, N, 6.0f);
            x0[n] = 12345.0f;   /* past the end: neither read into the result nor written */
            memcpy(x1, x0, sizeof x0);
            float m0 = u->scale_max(x0, x0, n, 0.125f), m1 = s->scale_max(x1, x1, n, 0.125f);
            assert_true(m0 == m1);
            assert_memory_equal(x0, x1, sizeof x0);   /* the scaling is one multiply: exact */
            float s0 = u->exp_sum(x0, n, m0), s1 = s->exp_sum(x1, n, m1);
            assert_true(fabsf(s0 - s1) <= 2e-6f * s1);
            for (int i = 0; i < n; i++) assert_true(fabsf(x0[i] - x1[i]) <= 3e-7f * x1[i] + 1e-37f);
            assert_true(x0[n] == 12345.0f);
            fill(g, N, 30.0f);
            fill(up, N, 2.0f);
            y0[n] = y1[n] = -7.0f;
            u->silu_mul(g, up, y0, n);
            s->silu_mul(g, up, y1, n);
            for (int i = 0; i < n; i++) assert_true(fabsf(y0[i] - y1[i]) <= 5e-7f * fabsf(y1[i]) + 1e-30f);
            assert_true(y0[n] == -7.0f);
        }
    }
}

/* Flash attention's softmax step: every vector table against the scalar one (and the scalar one
 * against expf in double) for 1..5 rows and 4..20 columns, a first tile (m = -inf) with masked
 * (-inf) scores and a second tile on top of it; columns past nc untouched. */
static void test_softmax_cols(void **st) {
    (void)st;
    const gk_ukernels *s = gk_ukernels_scalar();
    enum { R = 5, C = 20 };
    for (size_t t = 0; t < sizeof isas / sizeof isas[0]; t++) {
        const gk_ukernels *u = table_or_skip(&isas[t]);
        if (!u || !u->softmax_cols) continue; /* raw tables may leave it to AVX2 */
        for (int rows = 1; rows <= R; rows++)
            for (int nc = 4; nc <= C; nc += 4) {
                float sc[2][R * C + 1], m[2][C + 1], l[2][C + 1], a[2][C + 1], first[R * C];
                fill(first, R * C, 8.0f);
                for (int c = 0; c < nc; c++)
                    for (int p = 1; p < rows; p++)
                        if ((p + c) % 3 == 0) first[p * nc + c] = -INFINITY; /* row 0 always seen */
                for (int k = 0; k < 2; k++) {
                    memcpy(sc[k], first, sizeof first), sc[k][rows * nc] = 777.0f;
                    for (int c = 0; c <= C; c++) m[k][c] = -INFINITY, l[k][c] = 0.0f, a[k][c] = 555.0f;
                }
                u->softmax_cols(sc[0], rows, nc, m[0], l[0], a[0]);
                s->softmax_cols(sc[1], rows, nc, m[1], l[1], a[1]);
                for (int c = 0; c < nc; c++) {
                    double mx = -INFINITY, sum = 0;
                    for (int p = 0; p < rows; p++) mx = fmax(mx, first[p * nc + c]);
                    for (int p = 0; p < rows; p++) sum += exp((double)(first[p * nc + c] - (float)mx));
                    assert_true(m[0][c] == (float)mx && m[1][c] == (float)mx);
                    assert_true(fabs(l[1][c] - sum) <= 4e-7 * sum && fabsf(l[0][c] - l[1][c]) <= 4e-7f * l[1][c]);
                    assert_true(a[0][c] == 0.0f && a[1][c] < 1e-37f); /* from m = -inf */
                    for (int p = 0; p < rows; p++)
                        assert_true(fabsf(sc[0][p * nc + c] - sc[1][p * nc + c]) <= 3e-7f * sc[1][p * nc + c] + 1e-37f);
                }
                assert_true(sc[0][rows * nc] == 777.0f && a[0][nc] == 555.0f && m[0][nc] == -INFINITY);
                /* a second tile: the running max moves where the new scores are larger */
                float second[R * C];
                fill(second, R * C, 10.0f);
                for (int k = 0; k < 2; k++) memcpy(sc[k], second, sizeof second);
                float m_old[C];
                memcpy(m_old, m[1], sizeof m_old);
                u->softmax_cols(sc[0], rows, nc, m[0], l[0], a[0]);
                s->softmax_cols(sc[1], rows, nc, m[1], l[1], a[1]);
                for (int c = 0; c < nc; c++) {
                    double mx = m_old[c];
                    for (int p = 0; p < rows; p++) mx = fmax(mx, second[p * nc + c]);
                    assert_true(m[0][c] == (float)mx);
                    const double want = exp((double)(m_old[c] - (float)mx)); /* the kernels' float difference */
                    assert_true(fabs(a[1][c] - want) <= 4e-7 * want);
                    assert_true(fabsf(a[0][c] - a[1][c]) <= 4e-7f * a[1][c]);
                    assert_true(fabsf(l[0][c] - l[1][c]) <= 8e-7f * l[1][c]);
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
        cmocka_unit_test(test_igemm),
        cmocka_unit_test(test_igemm_driver),
        cmocka_unit_test(test_sgemm),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_vector_helpers), cmocka_unit_test(test_softmax_cols), cmocka_unit_test(test_q8_0_kv_helpers),
        cmocka_unit_test(test_exp_helpers),
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
