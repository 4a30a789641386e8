/* ggml block formats read directly from device memory. A row goes by in tiles of 32-weight
 * chunks (one Q8_0/Q4_0/Q4_1 block, or a 32-weight sub-block of a Q4_K/Q6_K super-block): a
 * warp copies a tile into shared memory in whole 4-byte words from a 32-byte boundary
 * (gk_stage_load/gk_stage_store: adjacent lanes, adjacent words of consecutive blocks, whole
 * sectors), then decodes 4 weights a lane from there (gk_staged_wq4). Layouts are those of
 * kernels/quant.h (ggml's, little-endian); the K-quant index arithmetic follows ggml's
 * dequantize_row_q4_K / _q6_K.
 *
 * Every global access goes through the loaders and stores below; in emulation they check
 * their alignment (a load that would fault on the GPU fails a host test) and feed the
 * memory-transaction model (simt.cuh). */
#ifndef GK_FORMATS_CUH
#define GK_FORMATS_CUH
#include "kernels/cuda/simt.cuh"
#include "kernels/cuda/plan.cuh"
#include "kernels/quant.h"

#ifdef __CUDACC__
#include <cuda_fp16.h>
GK_DEV float gk_h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
GK_DEV uint16_t gk_f2h(float f) { return __half_as_ushort(__float2half_rn(f)); }
GK_DEV float gk_bf2f(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }
GK_DEV uint32_t gk_f2u(float f) { return __float_as_uint(f); }
GK_DEV uint32_t gk_u16(const uint8_t *p) { return *(const uint16_t *)p; }
GK_DEV uint32_t gk_u32(const uint8_t *p) { return *(const uint32_t *)p; }
GK_DEV float gk_expf(float x) { return expf(x); }
GK_DEV uint32_t gk_u8(const uint8_t *p) { return *p; }
GK_DEV float gk_ldf(const float *p) { return *p; }
GK_DEV void gk_ldf4(const float *p, float *out) {
    const float4 v = __ldg((const float4 *)p);
    out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
}
GK_DEV void gk_stf(float *p, float v) { *p = v; }
GK_DEV void gk_st_u16(uint16_t *p, uint16_t v) { *p = v; }
GK_DEV void gk_st_u8(uint8_t *p, uint8_t v) { *p = v; }
GK_DEV void gk_ldf2(const float *p, float *out) {
    const float2 v = *(const float2 *)p;
    out[0] = v.x, out[1] = v.y;
}
GK_DEV void gk_stf2(float *p, const float *v) { *(float2 *)p = make_float2(v[0], v[1]); }
GK_DEV void gk_stf4(float *p, const float *v) { *(float4 *)p = make_float4(v[0], v[1], v[2], v[3]); }
GK_DEV void gk_st_h4(uint16_t *p, const uint16_t *h) {
    *(uint2 *)p =
        make_uint2((uint32_t)h[0] | ((uint32_t)h[1] << 16), (uint32_t)h[2] | ((uint32_t)h[3] << 16));
}
#else
GK_DEV float gk_h2f(uint16_t h) { return gk_f16_to_f32(h); }
GK_DEV uint16_t gk_f2h(float f) { return gk_f32_to_f16(f); }
GK_DEV float gk_bf2f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
GK_DEV uint32_t gk_f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
/* One global access of `bytes` (a power of two) between device address dev and host
 * memory: alignment checked as the GPU would fault, and counted by the transaction model. */
static inline void gk_emul_access_(void *dst, const void *src, const void *dev, int bytes, int store) {
    if ((uintptr_t)dev & (uintptr_t)(bytes - 1)) {
        fprintf(stderr, "misaligned %d-byte device %s at %p\n", bytes, store ? "store" : "load", dev);
        abort();
    }
    gk_emul_gmem_(dev, bytes, store);
    memcpy(dst, src, (size_t)bytes);
}
#define GK_EMUL_LD_(T, p, n)                                                                                 \
    T v_;                                                                                                    \
    gk_emul_access_(&v_, p, p, n, 0);                                                                        \
    return v_
GK_DEV uint32_t gk_u8(const uint8_t *p) { GK_EMUL_LD_(uint8_t, p, 1); }
GK_DEV uint32_t gk_u16(const uint8_t *p) { GK_EMUL_LD_(uint16_t, p, 2); }
GK_DEV uint32_t gk_u32(const uint8_t *p) { GK_EMUL_LD_(uint32_t, p, 4); }
GK_DEV float gk_ldf(const float *p) { GK_EMUL_LD_(float, p, 4); }
#undef GK_EMUL_LD_
GK_DEV void gk_ldf2(const float *p, float *out) { gk_emul_access_(out, p, p, 8, 0); }
GK_DEV void gk_ldf4(const float *p, float *out) { gk_emul_access_(out, p, p, 16, 0); }
GK_DEV void gk_stf(float *p, float v) { gk_emul_access_(p, &v, p, 4, 1); }
GK_DEV void gk_stf2(float *p, const float *v) { gk_emul_access_(p, v, p, 8, 1); }
GK_DEV void gk_stf4(float *p, const float *v) { gk_emul_access_(p, v, p, 16, 1); }
GK_DEV void gk_st_u8(uint8_t *p, uint8_t v) { gk_emul_access_(p, &v, p, 1, 1); }
GK_DEV void gk_st_u16(uint16_t *p, uint16_t v) { gk_emul_access_(p, &v, p, 2, 1); }
GK_DEV void gk_st_h4(uint16_t *p, const uint16_t *h) { gk_emul_access_(p, h, p, 8, 1); }
GK_DEV float gk_expf(float x) { return expf(x); }
#endif

/* f32 -> bf16, round to nearest even, NaN kept quiet (bit arithmetic, same on both sides). */
GK_DEV uint16_t gk_f2bf(float f) {
    uint32_t u = gk_f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* ---- staged rows: a tile of chunks copied to shared memory in whole words ------------------ */

/* Whether a type is one of the quantized block formats the kernels read. */
GK_HD int gk_is_quant(int type) {
    return type == GK_Q8_0 || type == GK_Q4_0 || type == GK_Q4_1 || type == GK_Q4_K || type == GK_Q6_K;
}

/* Byte offset of chunk c in a row (c a multiple of 8 for the K-quants' 256-weight blocks). */
GK_HD int64_t gk_chunk_offset(int type, int64_t c) {
    switch (type) {
        case GK_Q8_0: return 34 * c;
        case GK_Q4_0: return 18 * c;
        case GK_Q4_1: return 20 * c;
        case GK_Q4_K: return 144 * (c >> 3);
        case GK_Q6_K: return 210 * (c >> 3);
        default: return 0;
    }
}

/* A lane's words of a tile on their way to shared memory: word i of the stage holds the 4
 * bytes from A + 4i, A = the tile's first byte rounded down to 32, and lane l carries words
 * l, l+32, ... (at most GK_STAGE_REGS), so each warp-wide step reads 128 adjacent bytes in 4
 * whole sectors. Loading and storing are apart so a kernel can keep the next tile's loads in
 * flight while it works on the current one. */
typedef struct gk_stage_regs {
    uint32_t w[GK_STAGE_REGS];
    int lead, nw; /* tile start - A; words from A to the tile's last byte */
} gk_stage_regs;

/* Loads the lane's words of row bytes [lo, hi). Rows are only 2-byte aligned (18- and
 * 34-byte blocks), so the word holding a row's first or last byte may reach into the next row
 * or past the tensor: it is read by its in-row half only. A lane with no word in a step sits
 * it out (gk_emul_idle_); the step count is the warp's, so later accesses line up. */
GK_DEV void gk_stage_load(const uint8_t *lo, const uint8_t *hi, const uint8_t *row_lo, const uint8_t *row_hi,
                          int lane, gk_stage_regs *r) {
    const int lead = (int)((uintptr_t)lo & 31);
    const uint8_t *a0 = lo - lead;
    const int first = lead >> 2, nw = (int)((hi - a0 + 3) >> 2), steps = (nw + 31) >> 5;
    r->lead = lead;
    r->nw = nw;
    GK_UNROLL
    for (int k = 0; k < GK_STAGE_REGS; k++) {
        const int i = lane + 32 * k;
        const uint8_t *p = a0 + 4 * i;
        r->w[k] = 0;
        if (k >= steps) continue;
        if (i < first || i >= nw)
            gk_emul_idle_();
        else if (p < row_lo)
            r->w[k] = gk_u16(p + 2) << 16;
        else if (p + 4 > row_hi)
            r->w[k] = gk_u16(p);
        else
            r->w[k] = gk_u32(p);
    }
}

/* Loads the lane's words of chunks c0 .. c1 of row n (see gk_stage_load). */
GK_DEV void gk_stage_load_chunks(const uint8_t *w, size_t row_bytes, int type, int64_t n, int64_t c0,
                                 int64_t c1, int lane, gk_stage_regs *r) {
    const uint8_t *row = w + (size_t)n * row_bytes;
    gk_stage_load(row + gk_chunk_offset(type, c0), row + gk_chunk_offset(type, c1), row, row + row_bytes,
                  lane, r);
}

/* Stores the loaded words at st[base ..]; returns where the tile starts in st, in bytes. */
GK_DEV int gk_stage_store(const gk_stage_regs *r, GK_SHARED_PARAM(uint32_t, st), int base, int lane) {
    GK_UNROLL
    for (int k = 0; k < GK_STAGE_REGS; k++) {
        const int i = lane + 32 * k;
        if (i >= (r->lead >> 2) && i < r->nw) GK_SST(st, base + i, r->w[k]);
    }
    return 4 * base + r->lead;
}

/* Byte b, and the little-endian 16 and 32 bits at an even b, of a stage. */
GK_DEV uint32_t gk_sb8(GK_SHARED_PARAM(const uint32_t, st), int b) {
    return (GK_SLD(st, b >> 2) >> (8 * (b & 3))) & 0xffu;
}
GK_DEV uint32_t gk_sb16(GK_SHARED_PARAM(const uint32_t, st), int b) {
    return (GK_SLD(st, b >> 2) >> (8 * (b & 2))) & 0xffffu;
}
GK_DEV uint32_t gk_sb32(GK_SHARED_PARAM(const uint32_t, st), int b) {
    const uint32_t w0 = GK_SLD(st, b >> 2);
    if (!(b & 3)) return w0;
    return (w0 >> 16) | (GK_SLD(st, (b >> 2) + 1) << 16);
}

/* Four weights j .. j+3 (j a multiple of 4) of chunk ci of a staged tile starting at byte t
 * of st, packed: byte i of u is the 8-bit integer q_i (signed for Q8_0, 0..63 otherwise) and
 * weight i = d * (q_i + off) + m, the values of the type table's to_f32 (ggml's
 * dequantize_row_*). So an integer dot product (dp4a) takes u as it is; m is 0 for the
 * formats without a min. */
typedef struct gk_wq4 {
    uint32_t u;
    int off;
    float d, m;
} gk_wq4;

GK_DEV gk_wq4 gk_staged_wq4(int type, GK_SHARED_PARAM(const uint32_t, st), int t, int ci, int j) {
    gk_wq4 r = {0, 0, 0.0f, 0.0f};
    switch (type) {
        case GK_Q8_0: {
            const int p = t + 34 * ci;
            r.u = gk_sb32(GK_SHARED_PASS(st), p + 2 + j);
            r.d = gk_h2f((uint16_t)gk_sb16(GK_SHARED_PASS(st), p));
            break;
        }
        case GK_Q4_0:
        case GK_Q4_1: {
            const int q41 = type == GK_Q4_1, p = t + (q41 ? 20 : 18) * ci;
            r.u = (gk_sb32(GK_SHARED_PASS(st), p + (q41 ? 4 : 2) + (j & 15)) >> (4 * (j >> 4))) & 0x0f0f0f0fu;
            r.off = q41 ? 0 : -8;
            r.d = gk_h2f((uint16_t)gk_sb16(GK_SHARED_PASS(st), p));
            if (q41) r.m = gk_h2f((uint16_t)gk_sb16(GK_SHARED_PASS(st), p + 2));
            break;
        }
        case GK_Q4_K: {
            const int p = t + 144 * (ci >> 3), sub = ci & 7;
            int sc, mn;
            if (sub < 4) {
                sc = (int)gk_sb8(GK_SHARED_PASS(st), p + 4 + sub) & 63;
                mn = (int)gk_sb8(GK_SHARED_PASS(st), p + 8 + sub) & 63;
            } else {
                const int q4 = (int)gk_sb8(GK_SHARED_PASS(st), p + 8 + sub);
                sc = (q4 & 0xf) | (((int)gk_sb8(GK_SHARED_PASS(st), p + sub) >> 6) << 4);
                mn = (q4 >> 4) | (((int)gk_sb8(GK_SHARED_PASS(st), p + 4 + sub) >> 6) << 4);
            }
            r.u =
                (gk_sb32(GK_SHARED_PASS(st), p + 16 + 32 * (sub >> 1) + j) >> (4 * (sub & 1))) & 0x0f0f0f0fu;
            r.d = gk_h2f((uint16_t)gk_sb16(GK_SHARED_PASS(st), p)) * (float)sc;
            r.m = -(gk_h2f((uint16_t)gk_sb16(GK_SHARED_PASS(st), p + 2)) * (float)mn);
            break;
        }
        case GK_Q6_K: {
            const int p = t + 210 * (ci >> 3), sub = ci & 7, h = sub >> 2, g = sub & 3;
            const uint32_t lo = gk_sb32(GK_SHARED_PASS(st), p + 64 * h + 32 * (g & 1) + j);
            const uint32_t hi = gk_sb32(GK_SHARED_PASS(st), p + 128 + 32 * h + j);
            const int sc = (int8_t)(uint8_t)gk_sb8(GK_SHARED_PASS(st), p + 192 + 8 * h + 2 * g + (j >> 4));
            r.u = ((lo >> (4 * (g >> 1))) & 0x0f0f0f0fu) | (((hi >> (2 * g)) & 0x03030303u) << 4);
            r.off = -32;
            r.d = gk_h2f((uint16_t)gk_sb16(GK_SHARED_PASS(st), p + 208)) * (float)sc;
            break;
        }
        default: break;
    }
    return r;
}

/* The same four weights as floats: w_i = d * q[i] + m. */
typedef struct gk_w4 {
    float q[4], d, m;
} gk_w4;

GK_DEV gk_w4 gk_staged_weights4(int type, GK_SHARED_PARAM(const uint32_t, st), int t, int ci, int j) {
    const gk_wq4 p = gk_staged_wq4(type, GK_SHARED_PASS(st), t, ci, j);
    gk_w4 r;
    GK_UNROLL
    for (int i = 0; i < 4; i++) r.q[i] = (float)((int)(int8_t)(uint8_t)(p.u >> (8 * i)) + p.off);
    r.d = p.d;
    r.m = p.m;
    return r;
}

/* c + the dot product of the four signed bytes of a and of b (the device's dp4a). */
GK_DEV int gk_dp4a(uint32_t a, uint32_t b, int c) {
#ifdef __CUDACC__
    return __dp4a((int)a, (int)b, c);
#else
    for (int i = 0; i < 4; i++)
        c += (int)(int8_t)(uint8_t)(a >> (8 * i)) * (int)(int8_t)(uint8_t)(b >> (8 * i));
    return c;
#endif
}

/* Element k of a float-typed row (F32/F16/BF16). */
GK_DEV float gk_float_elem(int type, const uint8_t *row, int64_t k) {
    if (type == GK_F32) return gk_ldf((const float *)(const void *)row + k);
    const uint16_t h = (uint16_t)gk_u16(row + 2 * k);
    return type == GK_F16 ? gk_h2f(h) : gk_bf2f(h);
}

/* The activation quantisation of one step of GK_NT elements, shared by quantize_x8 and the ops
 * that write their output quantised (the norms at decode, silu_mul): each thread holds one
 * element in R(v) (0 past the end), 32-block g0 + (tid >> 5) of nb; warp w's block amax is a
 * warp max; d = amax/127 (ggml's q8_0), q = round(v/d) clamped to ±127 at q + 32·g0 + tid, the
 * step's scales staged in ds (GK_NT/32 floats of shared memory) and stored together at
 * d + g0 (one sector for 8 warps). Uniform control: every thread of the block runs it. */
#define GK_Q8_STORE(v, amax, ds, q, d, g0, nb)                                                               \
    do {                                                                                                     \
        GK_THREADS { R(amax) = fabsf(R(v)); }                                                                \
        GK_WARP_MAX(amax);                                                                                   \
        GK_THREADS {                                                                                         \
            if ((g0) + (tid >> 5) < (nb)) {                                                                  \
                const float qd_ = R(amax) / 127.0f, qid_ = qd_ != 0.0f ? 1.0f / qd_ : 0.0f;                      \
                const float qv_ = fminf(fmaxf(roundf(R(v) * qid_), -127.0f), 127.0f);                          \
                gk_st_u8((q) + 32 * (g0) + tid, (uint8_t)(int8_t)qv_);                                        \
                if ((tid & 31) == 0) GK_SST(ds, tid >> 5, qd_);                                               \
            }                                                                                                \
        }                                                                                                    \
        GK_SYNC();                                                                                           \
        GK_THREADS {                                                                                         \
            if (tid < GK_NT / 32 && (g0) + tid < (nb)) gk_stf((d) + (g0) + tid, GK_SLD(ds, tid));            \
        }                                                                                                    \
    } while (0)

#endif
