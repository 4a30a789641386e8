/* Block bodies of the matmul kernels (see simt.cuh for the execution model, plan.cuh for
 * the geometry): the quantized matrix-vector product that reads ggml blocks directly, its
 * float-weight sibling, and the two conversions feeding cuBLAS on the GEMM path. */
#ifndef GK_MATVEC_CUH
#define GK_MATVEC_CUH
#include "kernels/cuda/simt.cuh"
#include "kernels/cuda/formats.cuh"
#include "kernels/cuda/plan.cuh"

/* 32 products of a dequantised chunk with activations at x (16-byte aligned: K % 32 == 0). */
GK_DEV float gk_dot32(const float *wv, const float *x)
{
    float s = 0.0f;
    GK_UNROLL
    for (int j = 0; j < 32; j += 4) {
        float v[4];
        gk_ldf4(x + j, v);
        s += wv[j] * v[0] + wv[j + 1] * v[1] + wv[j + 2] * v[2] + wv[j + 3] * v[3];
    }
    return s;
}

/* One warp per weight row n, lanes striding over its 32-weight chunks; block y picks
 * GK_MV_COLS activation columns. Weight bytes are read once per block, in order, by adjacent
 * lanes (adjacent blocks), and dequantised in registers; the warp reduces at the end. */
#define GK_DEFINE_MATVEC_Q(name, dq)                                                        \
    GK_BODY(name, gk_mv_args)                                                               \
    {                                                                                       \
        GK_LOCAL_ARR(float, acc, GK_MV_COLS);                                               \
        const int64_t m0 = GK_BY * GK_MV_COLS;                                              \
        const int mc = a.M - m0 < GK_MV_COLS ? (int)(a.M - m0) : GK_MV_COLS;                \
        GK_THREADS {                                                                        \
            const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);                            \
            for (int i = 0; i < GK_MV_COLS; i++) R(acc)[i] = 0.0f;                          \
            if (n < a.N) {                                                                  \
                const uint8_t *row = a.w + (size_t)n * a.row_bytes;                         \
                const int64_t nc = a.K / 32;                                                \
                for (int64_t c = tid & 31; c < nc; c += 32) {                               \
                    float wv[32];                                                           \
                    dq(row, c, wv);                                                         \
                    GK_UNROLL                                                               \
                    for (int i = 0; i < GK_MV_COLS; i++)                                    \
                        if (i < mc) R(acc)[i] += gk_dot32(wv, a.x + (m0 + i) * a.K + 32 * c); \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
        GK_UNROLL                                                                           \
        for (int i = 0; i < GK_MV_COLS; i++) GK_WARP_SUM_AT(acc, i);                        \
        GK_THREADS {                                                                        \
            const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);                            \
            if ((tid & 31) < mc && n < a.N) {                                               \
                float v = 0.0f;                                                             \
                for (int i = 0; i < GK_MV_COLS; i++) if (i == (tid & 31)) v = R(acc)[i];    \
                gk_stf(a.y + (m0 + (tid & 31)) * a.N + n, v);                               \
            }                                                                               \
        }                                                                                   \
    }

GK_DEFINE_MATVEC_Q(gk_body_matvec_q8_0, gk_dq32_q8_0)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q4_0, gk_dq32_q4_0)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q4_1, gk_dq32_q4_1)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q4_k, gk_dq32_q4_k)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q6_k, gk_dq32_q6_k)

/* Float weights (F32/F16/BF16), any K: lanes take adjacent elements, so a warp reads a
 * contiguous 64-128 bytes per step. */
GK_BODY(gk_body_matvec_float, gk_mv_args)
{
    GK_LOCAL_ARR(float, acc, GK_MV_COLS);
    const int64_t m0 = GK_BY * GK_MV_COLS;
    const int mc = a.M - m0 < GK_MV_COLS ? (int)(a.M - m0) : GK_MV_COLS;
    GK_THREADS {
        const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);
        for (int i = 0; i < GK_MV_COLS; i++) R(acc)[i] = 0.0f;
        if (n < a.N) {
            const uint8_t *row = a.w + (size_t)n * a.row_bytes;
            for (int64_t k = tid & 31; k < a.K; k += 32) {
                const float wk = gk_float_elem(a.type, row, k);
                GK_UNROLL
                for (int i = 0; i < GK_MV_COLS; i++)
                    if (i < mc) R(acc)[i] += wk * gk_ldf(a.x + (m0 + i) * a.K + k);
            }
        }
    }
    GK_UNROLL
    for (int i = 0; i < GK_MV_COLS; i++) GK_WARP_SUM_AT(acc, i);
    GK_THREADS {
        const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);
        if ((tid & 31) < mc && n < a.N) {
            float v = 0.0f;
            for (int i = 0; i < GK_MV_COLS; i++) if (i == (tid & 31)) v = R(acc)[i];
            gk_stf(a.y + (m0 + (tid & 31)) * a.N + n, v);
        }
    }
}

/* One thread per 32-chunk of the weight: dequantise and store 32 F16 values. */
GK_BODY(gk_body_dequant_f16, gk_dq_args)
{
    GK_THREADS {
        const int64_t nc = (a.K + 31) / 32;
        const int64_t g = GK_BX * GK_NT + tid;
        if (g < a.N * nc) {
            const int64_t n = g / nc, c = g % nc;
            float v[32];
            const int cnt = gk_dq32(a.type, a.w + (size_t)n * a.row_bytes, a.K, c, v);
            uint16_t *o = a.out + n * a.K + 32 * c;
            for (int j = 0; j < cnt; j++) gk_st_u16(o + j, gk_f2h(v[j]));
        }
    }
}

GK_BODY(gk_body_convert_half, gk_cvt_args)
{
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        if (i < a.n) gk_st_u16(a.out + i, a.bf16 ? gk_f2bf(gk_ldf(a.x + i)) : gk_f2h(gk_ldf(a.x + i)));
    }
}

#endif
