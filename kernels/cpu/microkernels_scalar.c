/* The scalar micro-kernels: portable C that defines what every entry of gk_ukernels means.
 * SIMD tables must agree with these within the tolerances tests/test_kernels_ops.c states.
 * Block layouts are ggml's (see kernels/quant.h); all multi-byte fields are read with memcpy
 * because blocks sit at unaligned offsets. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/exp_fast.h"
#include "kernels/cpu/microkernels.h"

static float f16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return gk_f16_to_f32(h);
}

/* ---- activation quantisers ------------------------------------------------------------------ */

static void quant_q8_0(const float *x, void *xq, int64_t k) { gk_type_get(GK_Q8_0)->from_f32(x, xq, k); }
static void quant_q8_k(const float *x, void *xq, int64_t k) { gk_type_get(GK_Q8_K)->from_f32(x, xq, k); }

/* ---- float weights · F32 activations ------------------------------------------------------- */

static void dot_f32w(int64_t k, const void *w, const void *x, float *out) {
    const float *a = w, *b = x;
    float s = 0;
    for (int64_t i = 0; i < k; i++) s += a[i] * b[i];
    *out = s;
}

static void dot_f16w(int64_t k, const void *w, const void *x, float *out) {
    const uint8_t *a = w;
    const float *b = x;
    float s = 0;
    for (int64_t i = 0; i < k; i++) s += f16_at(a + 2 * i) * b[i];
    *out = s;
}

static void dot_bf16w(int64_t k, const void *w, const void *x, float *out) {
    const uint8_t *a = w;
    const float *b = x;
    float s = 0;
    for (int64_t i = 0; i < k; i++) {
        uint16_t h;
        memcpy(&h, a + 2 * i, 2);
        s += gk_bf16_to_f32(h) * b[i];
    }
    *out = s;
}

/* ---- 32-weight blocks · Q8_0 activations ---------------------------------------------------- */

static void dot_q8_0(int64_t k, const void *w, const void *x, float *out) {
    const uint8_t *a = w, *b = x;
    float s = 0;
    for (int64_t i = 0; i < k / 32; i++, a += 34, b += 34) {
        int32_t acc = 0;
        for (int j = 0; j < 32; j++) acc += (int8_t)a[2 + j] * (int8_t)b[2 + j];
        s += f16_at(a) * f16_at(b) * (float)acc;
    }
    *out = s;
}

static void dot_q4_0(int64_t k, const void *w, const void *x, float *out) {
    const uint8_t *a = w, *b = x;
    float s = 0;
    for (int64_t i = 0; i < k / 32; i++, a += 18, b += 34) {
        int32_t acc = 0;
        for (int j = 0; j < 16; j++) {
            acc += ((a[2 + j] & 0xf) - 8) * (int8_t)b[2 + j];
            acc += ((a[2 + j] >> 4) - 8) * (int8_t)b[2 + 16 + j];
        }
        s += f16_at(a) * f16_at(b) * (float)acc;
    }
    *out = s;
}

/* x = d*q + m, so dot = d*dx*sum(q*qx) + m*dx*sum(qx). */
static void dot_q4_1(int64_t k, const void *w, const void *x, float *out) {
    const uint8_t *a = w, *b = x;
    float s = 0;
    for (int64_t i = 0; i < k / 32; i++, a += 20, b += 34) {
        int32_t acc = 0, sx = 0;
        for (int j = 0; j < 16; j++) {
            acc += (a[4 + j] & 0xf) * (int8_t)b[2 + j] + (a[4 + j] >> 4) * (int8_t)b[2 + 16 + j];
            sx += (int8_t)b[2 + j] + (int8_t)b[2 + 16 + j];
        }
        float dx = f16_at(b);
        s += f16_at(a) * dx * (float)acc + f16_at(a + 2) * dx * (float)sx;
    }
    *out = s;
}

/* ---- K-quants · Q8_K activations (float d; int8 qs[256]; int16 bsums[16]) ------------------- */

static void k4_scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* x = d*sc*q - dmin*m per sub-block of 32: the min part uses the precomputed block sums. */
static void dot_q4_k(int64_t k, const void *w, const void *x, float *out) {
    const uint8_t *a = w, *b = x;
    float s = 0;
    for (int64_t i = 0; i < k / 256; i++, a += 144, b += 292) {
        float dx;
        memcpy(&dx, b, 4);
        const int8_t *qx = (const int8_t *)(b + 4);
        int32_t sumq = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(j, a + 4, &sc, &m);
            const uint8_t *q = a + 16 + 32 * (j / 2);
            int shift = (j & 1) * 4;
            int32_t acc = 0;
            for (int l = 0; l < 32; l++) acc += ((q[l] >> shift) & 0xf) * qx[32 * j + l];
            sumq += sc * acc;
            int16_t b0, b1;
            memcpy(&b0, b + 260 + 4 * j, 2);
            memcpy(&b1, b + 262 + 4 * j, 2);
            summ += m * (b0 + b1);
        }
        s += dx * (f16_at(a) * (float)sumq - f16_at(a + 2) * (float)summ);
    }
    *out = s;
}

static void dot_q6_k(int64_t k, const void *w, const void *x, float *out) {
    const uint8_t *a = w, *b = x;
    float s = 0;
    for (int64_t i = 0; i < k / 256; i++, a += 210, b += 292) {
        float dx;
        memcpy(&dx, b, 4);
        const int8_t *qx = (const int8_t *)(b + 4), *sc = (const int8_t *)(a + 192);
        int32_t acc[16] = {0};
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = a + 64 * h, *qh = a + 128 + 32 * h;
            for (int l = 0; l < 32; l++) {
                int base = 128 * h + l;
                int q1 = ((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                acc[base / 16] += q1 * qx[base];
                acc[(base + 32) / 16] += q2 * qx[base + 32];
                acc[(base + 64) / 16] += q3 * qx[base + 64];
                acc[(base + 96) / 16] += q4 * qx[base + 96];
            }
        }
        int32_t sum = 0;
        for (int j = 0; j < 16; j++) sum += sc[j] * acc[j];
        s += dx * f16_at(a + 208) * (float)sum;
    }
    *out = s;
}

/* ---- tiles: the reference tile is a loop of the type's vec_dot ------------------------------ */

#define TILE_FROM_DOT(name, dot)                                                                \
    static void name(int64_t k, const void *w, size_t ws, int nr, const void *xq, size_t xs,    \
                     int nc, float *y, int64_t ldy) {                                           \
        for (int j = 0; j < nc; j++)                                                            \
            for (int i = 0; i < nr; i++)                                                        \
                dot(k, (const char *)w + (size_t)i * ws, (const char *)xq + (size_t)j * xs,     \
                    &y[j * ldy + i]);                                                           \
    }
TILE_FROM_DOT(tile_f32w, dot_f32w)
TILE_FROM_DOT(tile_f16w, dot_f16w)
TILE_FROM_DOT(tile_bf16w, dot_bf16w)
TILE_FROM_DOT(tile_q8_0, dot_q8_0)
TILE_FROM_DOT(tile_q4_0, dot_q4_0)
TILE_FROM_DOT(tile_q4_1, dot_q4_1)
TILE_FROM_DOT(tile_q4_k, dot_q4_k)
TILE_FROM_DOT(tile_q6_k, dot_q6_k)

/* ---- dense F32 -------------------------------------------------------------------------------- */

enum { MR = 4, NR = 4 };

static void sgemm_4x4(int64_t kc, const float *a, const float *b, float *c, int64_t ldc) {
    float acc[MR][NR] = {{0}};
    for (int64_t p = 0; p < kc; p++)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += a[p * MR + i] * b[p * NR + j];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) c[i * ldc + j] += acc[i][j];
}

static void cvt_f16_f32(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = gk_f16_to_f32(x[i]);
}
static void cvt_f32_f16(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = gk_f32_to_f16(x[i]);
}
static void cvt_bf16_f32(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = gk_bf16_to_f32(x[i]);
}

static float vdot_f32(const float *a, const float *b, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
static void vaxpy_f32(float a, const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}
static float vdot_f32_f16(const float *a, const uint16_t *b, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * gk_f16_to_f32(b[i]);
    return s;
}
static void vaxpy_f16(float a, const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * gk_f16_to_f32(x[i]);
}
static void vaxpy_rows_f16(const float *a, const uint16_t *x, size_t stride, int64_t rows, float *y, int64_t n) {
    for (int64_t i = 0; i < rows; i++) vaxpy_f16(a[i], x + (size_t)i * stride, y, n);
}
/* Q8_0 rows: per 32-block, the f16 scale d then 32 int8 (quant.h). */
static float vdot_f32_q8_0(const float *a, const void *b, int64_t n) {
    const uint8_t *blk = b;
    float s = 0;
    for (int64_t i0 = 0; i0 < n; i0 += 32, blk += 34) {
        uint16_t d;
        memcpy(&d, blk, sizeof d);
        float part = 0;
        for (int i = 0; i < 32; i++) part += a[i0 + i] * (float)(int8_t)blk[2 + i];
        s += gk_f16_to_f32(d) * part;
    }
    return s;
}
static void vaxpy_q8_0(float a, const void *x, float *y, int64_t n) {
    const uint8_t *blk = x;
    for (int64_t i0 = 0; i0 < n; i0 += 32, blk += 34) {
        uint16_t d;
        memcpy(&d, blk, sizeof d);
        const float ad = a * gk_f16_to_f32(d);
        for (int i = 0; i < 32; i++) y[i0 + i] += ad * (float)(int8_t)blk[2 + i];
    }
}

static float vscale_max(const float *x, float *y, int64_t n, float s) {
    float m = -INFINITY;
    for (int64_t i = 0; i < n; i++) m = fmaxf(m, y[i] = x[i] * s);
    return m;
}
static float vexp_sum(float *x, int64_t n, float m) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i] = expf(x[i] - m);
    return s;
}
static void vsilu_mul(const float *g, const float *u, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* Four columns at a time in local arrays, which GCC's -O2 vectoriser takes as straight-line
 * code (a loop over all nc it leaves scalar); gk_exp_fast, not expf, so it vectorises too. */
static void vsoftmax_cols(float *s, int64_t rows, int nc, float *m, float *l, float *alpha) {
    for (int c0 = 0; c0 < nc; c0 += 4) {
        float mx[4], sum[4] = {0, 0, 0, 0};
        for (int c = 0; c < 4; c++) mx[c] = m[c0 + c];
        for (int64_t p = 0; p < rows; p++)
            for (int c = 0; c < 4; c++) mx[c] = s[p * nc + c0 + c] > mx[c] ? s[p * nc + c0 + c] : mx[c];
        for (int64_t p = 0; p < rows; p++)
            for (int c = 0; c < 4; c++) {
                const float e = gk_exp_fast(s[p * nc + c0 + c] - mx[c]);
                s[p * nc + c0 + c] = e;
                sum[c] += e;
            }
        for (int c = 0; c < 4; c++) {
            alpha[c0 + c] = gk_exp_fast(m[c0 + c] - mx[c]); /* m = -inf before the first tile: ≈ 0 */
            m[c0 + c] = mx[c];
            l[c0 + c] = l[c0 + c] * alpha[c0 + c] + sum[c];
        }
    }
}

#define TK(act, q, dot, tile) {act, q, dot, tile, 4, 4, NULL, NULL}
static const gk_ukernels scalar = {
    .isa = "scalar",
    .t = {
        [GK_F32] = TK(GK_F32, NULL, dot_f32w, tile_f32w),
        [GK_F16] = TK(GK_F32, NULL, dot_f16w, tile_f16w),
        [GK_BF16] = TK(GK_F32, NULL, dot_bf16w, tile_bf16w),
        [GK_Q8_0] = TK(GK_Q8_0, quant_q8_0, dot_q8_0, tile_q8_0),
        [GK_Q4_0] = TK(GK_Q8_0, quant_q8_0, dot_q4_0, tile_q4_0),
        [GK_Q4_1] = TK(GK_Q8_0, quant_q8_0, dot_q4_1, tile_q4_1),
        [GK_Q4_K] = TK(GK_Q8_K, quant_q8_k, dot_q4_k, tile_q4_k),
        [GK_Q6_K] = TK(GK_Q8_K, quant_q8_k, dot_q6_k, tile_q6_k),
    },
    .sgemm_mr = MR,
    .sgemm_nr = NR,
    .sgemm = sgemm_4x4,
    .f16_to_f32 = cvt_f16_f32,
    .f32_to_f16 = cvt_f32_f16,
    .bf16_to_f32 = cvt_bf16_f32,
    .dot_f32 = vdot_f32,
    .axpy_f32 = vaxpy_f32,
    .dot_f32_f16 = vdot_f32_f16,
    .axpy_f16 = vaxpy_f16,
    .axpy_rows_f16 = vaxpy_rows_f16,
    .dot_f32_q8_0 = vdot_f32_q8_0,
    .axpy_q8_0 = vaxpy_q8_0,
    .scale_max = vscale_max,
    .exp_sum = vexp_sum,
    .silu_mul = vsilu_mul,
    .softmax_cols = vsoftmax_cols,
};

const gk_ukernels *gk_ukernels_scalar(void) { return &scalar; }
