/* Element types byte-compatible with ggml/GGUF (ggml's block layouts, little-endian; see
 * quant.h for each layout). Quantisers follow the ggml reference rounding rules for the simple
 * formats (Q8_0, Q4_0, Q4_1) so the bytes match what llama.cpp's reference quantiser writes;
 * the K-quant quantisers are our own least-squares fits, and only their decoding is fixed by
 * the format. */
#include "kernels/quant.h"

#include <math.h>
#include <string.h>
#include <strings.h>

/* ---- half and bfloat ------------------------------------------------------------------------ */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float gk_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13));   /* inf, NaN */
    if (exp == 0) {                                                        /* zero, subnormal */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

/* Round-to-nearest-even of m >> shift (shift 1..31). */
static uint32_t shift_rne(uint32_t m, int shift) {
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) r++;
    return r;
}

uint16_t gk_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) return sign | 0x7e00 | (uint16_t)((u >> 13) & 0x3ff); /* quiet NaN */
    int e = (int)(u >> 23);
    uint32_t man = (u & 0x7fffffu) | 0x800000u;
    if (e > 142) return sign | 0x7c00;                 /* >= 2^16: infinity */
    if (e < 102) return sign;                          /* < 2^-25: rounds to zero */
    if (e < 113)                                       /* half subnormal, unit 2^-24 */
        return sign | (uint16_t)shift_rne(man, 126 - e);
    /* Normal: the carry out of the mantissa correctly bumps the exponent (up to infinity). */
    uint32_t h = ((uint32_t)(e - 112) << 10) | ((man >> 13) & 0x3ff);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return sign | (uint16_t)h;
}

float gk_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t gk_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static void wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* ---- float types ---------------------------------------------------------------------------- */

static void f32_to_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }
static void f32_from_f32(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

static void f16_to_f32(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) dst[i] = gk_f16_to_f32(rd16(p + 2 * i));
}
static void f16_from_f32(const float *src, void *dst, int64_t n) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) wr16(p + 2 * i, gk_f32_to_f16(src[i]));
}
static void bf16_to_f32(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) dst[i] = gk_bf16_to_f32(rd16(p + 2 * i));
}
static void bf16_from_f32(const float *src, void *dst, int64_t n) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) wr16(p + 2 * i, gk_f32_to_bf16(src[i]));
}

/* I32 is stored as plain little-endian int32 (token ids); to/from float round-trips small ints. */
static void i32_to_f32(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) {
        int32_t v;
        memcpy(&v, p + 4 * i, 4);
        dst[i] = (float)v;
    }
}
static void i32_from_f32(const float *src, void *dst, int64_t n) {
    uint8_t *p = dst;
    for (int64_t i = 0; i < n; i++) {
        float f = src[i];
        int32_t v = !(f == f) ? 0 : f >= 2147483520.0f ? INT32_MAX : f <= -2147483648.0f ? INT32_MIN
                                                                                         : (int32_t)lrintf(f);
        memcpy(p + 4 * i, &v, 4);
    }
}

/* ---- Q8_0, Q4_0, Q4_1: 32 weights per block (ggml reference rounding) ------------------------- */

/* A NaN product (0 * inf when a block's scale is so small its inverse overflows) maps to 0:
 * converting NaN to an integer type is undefined behaviour. */
static float clamp_round(float v, float lo, float hi) {
    float r = roundf(v);
    if (isnan(r)) return 0;
    return r < lo ? lo : r > hi ? hi : r;
}

static void q8_0_from_f32(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32, b += 34) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0;
        wr16(b, gk_f32_to_f16(d));
        for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)clamp_round(x[j] * id, -127, 127);
    }
}

static void q8_0_to_f32(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, y += 32, b += 34) {
        float d = gk_f16_to_f32(rd16(b));
        for (int j = 0; j < 32; j++) y[j] = d * (float)(int8_t)b[2 + j];
    }
}

/* Q4_0: d = (value of largest magnitude) / -8, so that value maps to q = 0 exactly (ggml). */
static void q4_0_from_f32(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32, b += 18) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
        float d = max / -8.0f, id = d != 0 ? 1.0f / d : 0;
        wr16(b, gk_f32_to_f16(d));
        for (int j = 0; j < 16; j++) {
            /* ggml: MIN(15, (int8_t)(x*id + 8.5f)): truncation of a value >= 0.5 */
            float a = x[j] * id + 8.5f, c = x[j + 16] * id + 8.5f;
            int lo = a < 0 ? 0 : a > 15 ? 15 : (int)a, hi = c < 0 ? 0 : c > 15 ? 15 : (int)c;
            b[2 + j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

static void q4_0_to_f32(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, y += 32, b += 18) {
        float d = gk_f16_to_f32(rd16(b));
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)((b[2 + j] & 0xf) - 8);
            y[j + 16] = d * (float)((b[2 + j] >> 4) - 8);
        }
    }
}

static void q4_1_from_f32(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32, b += 20) {
        float mn = x[0], mx = x[0];
        for (int j = 1; j < 32; j++) mn = fminf(mn, x[j]), mx = fmaxf(mx, x[j]);
        float d = (mx - mn) / 15.0f, id = d != 0 ? 1.0f / d : 0;
        wr16(b, gk_f32_to_f16(d));
        wr16(b + 2, gk_f32_to_f16(mn));
        for (int j = 0; j < 16; j++) {
            float a = (x[j] - mn) * id + 0.5f, c = (x[j + 16] - mn) * id + 0.5f;
            int lo = a < 0 ? 0 : a > 15 ? 15 : (int)a, hi = c < 0 ? 0 : c > 15 ? 15 : (int)c;
            b[4 + j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

static void q4_1_to_f32(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 32; i++, y += 32, b += 20) {
        float d = gk_f16_to_f32(rd16(b)), m = gk_f16_to_f32(rd16(b + 2));
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)(b[4 + j] & 0xf) + m;
            y[j + 16] = d * (float)(b[4 + j] >> 4) + m;
        }
    }
}

/* ---- Q4_K: 256 weights, 8 sub-blocks of 32 with 6-bit scale and min ------------------------- */

/* ggml's get_scale_min_k4: scales[12] holds 8 six-bit scales and 8 six-bit mins. Sub-blocks
 * 0..3 keep scale/min in the low 6 bits of bytes j and j+4; sub-blocks 4..7 keep their low 4
 * bits in the nibbles of byte j+4 and their top 2 bits in bits 6..7 of bytes j-4 (scale) and
 * j (min). */
static void k4_scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void k4_pack_scales(const int ls[8], const int lm[8], uint8_t q[12]) {
    memset(q, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            q[j] = (uint8_t)ls[j];
            q[j + 4] = (uint8_t)lm[j];
        } else {
            q[j + 4] = (uint8_t)((ls[j] & 0xf) | ((lm[j] & 0xf) << 4));
            q[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            q[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* Fits x ≈ s*L - m with L in 0..nmax and m >= 0 by alternating rounding and least squares;
 * returns s and m. */
static void fit_scale_min(const float *x, int n, int nmax, float *s_out, float *m_out) {
    float mn = 0, mx = x[0];
    for (int i = 0; i < n; i++) mn = fminf(mn, x[i]), mx = fmaxf(mx, x[i]);
    if (mx <= mn) {
        *s_out = 0;
        *m_out = -mn;
        return;
    }
    float s = (mx - mn) / (float)nmax, off = mn, best_err = INFINITY, best_s = s, best_off = off;
    for (int it = 0; it < 4; it++) {
        double sl = 0, sl2 = 0, sx = 0, slx = 0, err = 0;
        for (int i = 0; i < n; i++) {
            float l = s > 0 ? clamp_round((x[i] - off) / s, 0, (float)nmax) : 0;
            float e = s * l + off - x[i];
            err += (double)e * e;
            sl += l, sl2 += (double)l * l, sx += x[i], slx += (double)l * x[i];
        }
        if (err < best_err) best_err = (float)err, best_s = s, best_off = off;
        double det = n * sl2 - sl * sl;
        if (det <= 0) break;
        double ns = (n * slx - sl * sx) / det, noff = (sx - ns * sl) / n;
        if (noff > 0) {   /* the offset must stay <= 0 (m >= 0): refit the scale alone */
            noff = 0;
            ns = sl2 > 0 ? slx / sl2 : 0;
        }
        if (!(ns > 0)) break;
        s = (float)ns, off = (float)noff;
    }
    *s_out = best_s;
    *m_out = -best_off;
}

static void q4_k_from_f32(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256, b += 144) {
        float s[8], m[8], smax = 0, mmax = 0;
        for (int j = 0; j < 8; j++) {
            fit_scale_min(x + 32 * j, 32, 15, &s[j], &m[j]);
            smax = fmaxf(smax, s[j]), mmax = fmaxf(mmax, m[j]);
        }
        uint16_t dh = gk_f32_to_f16(smax / 63.0f), mh = gk_f32_to_f16(mmax / 63.0f);
        float d = gk_f16_to_f32(dh), dmin = gk_f16_to_f32(mh);
        int ls[8], lm[8];
        for (int j = 0; j < 8; j++) {
            ls[j] = d > 0 ? (int)clamp_round(s[j] / d, 0, 63) : 0;
            lm[j] = dmin > 0 ? (int)clamp_round(m[j] / dmin, 0, 63) : 0;
        }
        wr16(b, dh);
        wr16(b + 2, mh);
        k4_pack_scales(ls, lm, b + 4);
        uint8_t L[256];
        for (int j = 0; j < 8; j++) {
            float de = d * (float)ls[j], me = dmin * (float)lm[j];
            for (int k = 0; k < 32; k++)
                L[32 * j + k] = de > 0 ? (uint8_t)clamp_round((x[32 * j + k] + me) / de, 0, 15) : 0;
        }
        uint8_t *qs = b + 16;
        for (int j = 0; j < 256; j += 64)
            for (int l = 0; l < 32; l++) qs[j / 2 + l] = (uint8_t)(L[j + l] | (L[j + 32 + l] << 4));
    }
}

static void q4_k_to_f32(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += 144) {
        float d = gk_f16_to_f32(rd16(b)), dmin = gk_f16_to_f32(rd16(b + 2));
        const uint8_t *q = b + 16;
        for (int j = 0; j < 256; j += 64, q += 32) {
            int sc0, m0, sc1, m1;
            k4_scale_min(j / 32, b + 4, &sc0, &m0);
            k4_scale_min(j / 32 + 1, b + 4, &sc1, &m1);
            float d0 = d * (float)sc0, n0 = dmin * (float)m0, d1 = d * (float)sc1, n1 = dmin * (float)m1;
            for (int l = 0; l < 32; l++) *y++ = d0 * (float)(q[l] & 0xf) - n0;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] >> 4) - n1;
        }
    }
}

/* ---- Q6_K: 256 weights, 16 sub-blocks of 16 with int8 scales -------------------------------- */

/* ggml's layout: per 128 weights, ql[64] holds low nibbles (weights l and l+64 in byte l,
 * l+32 and l+96 in byte l+32), qh[32] the top 2 bits of weights l, l+32, l+64, l+96 in byte l. */
static void q6_k_from_f32(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256, b += 210) {
        float s[16], smax = 0, samax = 0;
        for (int j = 0; j < 16; j++) {
            float amax = 0, max = 0;
            for (int k = 0; k < 16; k++)
                if (fabsf(x[16 * j + k]) > amax) amax = fabsf(x[16 * j + k]), max = x[16 * j + k];
            s[j] = max / -32.0f;   /* the largest magnitude maps to q = -32 exactly */
            if (fabsf(s[j]) > samax) samax = fabsf(s[j]), smax = s[j];
        }
        uint16_t dh = gk_f32_to_f16(smax / -128.0f);
        float d = gk_f16_to_f32(dh), id = d != 0 ? 1.0f / d : 0;
        int8_t sc[16];
        for (int j = 0; j < 16; j++) sc[j] = (int8_t)clamp_round(s[j] * id, -128, 127);
        uint8_t L[256];
        for (int j = 0; j < 16; j++) {
            float de = d * (float)sc[j];
            for (int k = 0; k < 16; k++)
                L[16 * j + k] = (uint8_t)(32 + (de != 0 ? (int)clamp_round(x[16 * j + k] / de, -32, 31) : 0));
        }
        uint8_t *ql = b, *qh = b + 128;
        for (int h = 0; h < 256; h += 128, ql += 64, qh += 32)
            for (int l = 0; l < 32; l++) {
                int q1 = L[h + l], q2 = L[h + l + 32], q3 = L[h + l + 64], q4 = L[h + l + 96];
                ql[l] = (uint8_t)((q1 & 0xf) | ((q3 & 0xf) << 4));
                ql[l + 32] = (uint8_t)((q2 & 0xf) | ((q4 & 0xf) << 4));
                qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        memcpy(b + 192, sc, 16);
        wr16(b + 208, dh);
    }
}

static void q6_k_to_f32(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += 210) {
        float d = gk_f16_to_f32(rd16(b + 208));
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        for (int h = 0; h < 256; h += 128, ql += 64, qh += 32, sc += 8, y += 128)
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
    }
}

/* ---- Q8_K: activations of the K-quant dots (float d; int8 qs[256]; int16 bsums[16]) -------- */

static void q8_k_from_f32(const float *x, void *dst, int64_t n) {
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256, b += 292) {
        float amax = 0, max = 0;
        for (int j = 0; j < 256; j++)
            if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
        float d = 0, id = 0;
        if (amax > 0) {
            id = -128.0f / max;   /* ggml: the largest magnitude maps to -128 */
            d = 1.0f / id;
        }
        memcpy(b, &d, 4);
        int8_t *qs = (int8_t *)(b + 4);
        for (int j = 0; j < 256; j++) qs[j] = (int8_t)clamp_round(x[j] * id, -128, 127);
        for (int j = 0; j < 16; j++) {
            int16_t s = 0;
            for (int k = 0; k < 16; k++) s = (int16_t)(s + qs[16 * j + k]);
            memcpy(b + 260 + 2 * j, &s, 2);
        }
    }
}

static void q8_k_to_f32(const void *src, float *y, int64_t n) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < n / 256; i++, b += 292) {
        float d;
        memcpy(&d, b, 4);
        for (int j = 0; j < 256; j++) *y++ = d * (float)(int8_t)b[4 + j];
    }
}

/* ---- the table ------------------------------------------------------------------------------ */

static const gk_type_info types[] = {
    {GK_F32, "f32", 1, 4, false, f32_to_f32, f32_from_f32},
    {GK_F16, "f16", 1, 2, false, f16_to_f32, f16_from_f32},
    {GK_BF16, "bf16", 1, 2, false, bf16_to_f32, bf16_from_f32},
    {GK_Q8_0, "q8_0", 32, 34, true, q8_0_to_f32, q8_0_from_f32},
    {GK_Q4_0, "q4_0", 32, 18, true, q4_0_to_f32, q4_0_from_f32},
    {GK_Q4_1, "q4_1", 32, 20, true, q4_1_to_f32, q4_1_from_f32},
    {GK_Q4_K, "q4_k", 256, 144, true, q4_k_to_f32, q4_k_from_f32},
    {GK_Q6_K, "q6_k", 256, 210, true, q6_k_to_f32, q6_k_from_f32},
    {GK_Q8_K, "q8_k", 256, 292, true, q8_k_to_f32, q8_k_from_f32},
    {GK_I32, "i32", 1, 4, false, i32_to_f32, i32_from_f32},
};

const gk_type_info *gk_type_get(int type) {
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if ((int)types[i].type == type) return &types[i];
    return NULL;
}

int gk_type_from_name(const char *name) {
    if (!name) return -1;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(types[i].name, name) == 0) return (int)types[i].type;
    return -1;
}

const char *gk_type_name(int type) {
    const gk_type_info *t = gk_type_get(type);
    return t ? t->name : "?";
}

size_t gk_type_bytes(int type, int64_t n) {
    const gk_type_info *t = gk_type_get(type);
    if (!t || n < 0 || n % t->block) return 0;
    return (size_t)(n / t->block) * t->block_bytes;
}
