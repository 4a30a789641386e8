/* Block bodies of the matmul kernels (see simt.cuh for the execution model, plan.cuh for
 * the geometry): the quantized matrix-vector product that reads ggml blocks directly, its
 * float-weight sibling, and the two conversions feeding cuBLAS on the GEMM path. */
#ifndef GK_MATVEC_CUH
#define GK_MATVEC_CUH
#include "kernels/cuda/simt.cuh"
#include "kernels/cuda/formats.cuh"
#include "kernels/cuda/plan.cuh"

/* Row n's warp: copies chunks c0 .. c1 of its row into its part of the stage (whole sectors,
 * see gk_stage_tile); returns where the tile starts in the stage, in bytes. */
GK_DEV int gk_mv_stage_row(const uint8_t *w, size_t row_bytes, int type, int64_t n, int64_t c0, int64_t c1,
                           GK_SHARED_PARAM(uint32_t, st), int warp, int lane)
{
    const uint8_t *row = w + (size_t)n * row_bytes;
    const int base = warp * GK_MV_STAGE_WORDS;
    return 4 * base + gk_stage_tile(row + gk_chunk_offset(type, c0), row + gk_chunk_offset(type, c1), row,
                                    row + row_bytes, GK_SHARED_PASS(st), base, lane);
}

/* One warp per weight row n, block y picks GK_MV_COLS activation columns. Per tile of
 * GK_MV_TILE chunks: the warp stages the tile's bytes (adjacent lanes, adjacent words of
 * consecutive blocks), then lane j dequantises weight j of each chunk from shared memory and
 * multiplies it with activation 32c + j of each column (adjacent lanes, adjacent floats); the
 * warp reduces at the end. The tile loop is uniform over the block (it depends on K only). */
#define GK_DEFINE_MATVEC_Q(name, TYPE)                                                      \
    GK_BODY(name, gk_mv_args)                                                               \
    {                                                                                       \
        GK_SHARED(uint32_t, stage, GK_MV_ROWS * GK_MV_STAGE_WORDS);                         \
        GK_SHARED(int, tile_at, GK_MV_ROWS);                                                \
        GK_LOCAL_ARR(float, acc, GK_MV_COLS);                                               \
        const int64_t m0 = GK_BY * GK_MV_COLS;                                              \
        const int mc = a.M - m0 < GK_MV_COLS ? (int)(a.M - m0) : GK_MV_COLS;                \
        const int64_t nc = a.K / 32;                                                        \
        GK_THREADS {                                                                        \
            for (int i = 0; i < GK_MV_COLS; i++) R(acc)[i] = 0.0f;                          \
        }                                                                                   \
        for (int64_t c0 = 0; c0 < nc; c0 += GK_MV_TILE) {                                   \
            const int64_t c1 = nc - c0 < GK_MV_TILE ? nc : c0 + GK_MV_TILE;                 \
            GK_THREADS {                                                                    \
                const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);                        \
                if (n < a.N) {                                                              \
                    const int t = gk_mv_stage_row(a.w, a.row_bytes, TYPE, n, c0, c1,        \
                                                  GK_SHARED_PASS(stage), tid >> 5, tid & 31); \
                    if ((tid & 31) == 0) GK_SST(tile_at, tid >> 5, t);                      \
                }                                                                           \
            }                                                                               \
            GK_SYNC();                                                                      \
            GK_THREADS {                                                                    \
                const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);                        \
                if (n < a.N) {                                                              \
                    const int t = GK_SLD(tile_at, tid >> 5), j = tid & 31;                  \
                    for (int64_t c = c0; c < c1; c++) {                                     \
                        const float wv = gk_staged_weight(TYPE, GK_SHARED_PASS(stage), t, (int)(c - c0), j); \
                        GK_UNROLL                                                           \
                        for (int i = 0; i < GK_MV_COLS; i++)                                \
                            if (i < mc) R(acc)[i] += wv * gk_ldf(a.x + (m0 + i) * a.K + 32 * c + j); \
                    }                                                                       \
                }                                                                           \
            }                                                                               \
            GK_SYNC();                                                                      \
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

GK_DEFINE_MATVEC_Q(gk_body_matvec_q8_0, GK_Q8_0)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q4_0, GK_Q4_0)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q4_1, GK_Q4_1)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q4_k, GK_Q4_K)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q6_k, GK_Q6_K)

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

/* Block (rows GK_DQ_ROWS*x .., tile y): each warp stages its row's tile of chunks as the
 * matvec does, then lane j converts element j of each chunk, so the 2-byte stores of a warp
 * are adjacent too. Float rows (any K) are read element j of each chunk directly. */
GK_BODY(gk_body_dequant_f16, gk_dq_args)
{
    GK_SHARED(uint32_t, stage, GK_DQ_ROWS * GK_MV_STAGE_WORDS);
    GK_SHARED(int, tile_at, GK_DQ_ROWS);
    const int64_t nc = (a.K + 31) / 32, c0 = GK_BY * GK_MV_TILE;
    const int64_t c1 = nc - c0 < GK_MV_TILE ? nc : c0 + GK_MV_TILE;
    const int quant = gk_is_quant(a.type);
    if (quant) {
        GK_THREADS {
            const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);
            if (n < a.N) {
                const int t = gk_mv_stage_row(a.w, a.row_bytes, a.type, n, c0, c1, GK_SHARED_PASS(stage), tid >> 5, tid & 31);
                if ((tid & 31) == 0) GK_SST(tile_at, tid >> 5, t);
            }
        }
        GK_SYNC();
    }
    GK_THREADS {
        const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);
        if (n < a.N) {
            const int j = tid & 31, t = quant ? GK_SLD(tile_at, tid >> 5) : 0;
            const uint8_t *row = a.w + (size_t)n * a.row_bytes;
            for (int64_t c = c0; c < c1; c++) {
                const int64_t k = 32 * c + j;
                if (k < a.K) {
                    const float v = quant ? gk_staged_weight(a.type, GK_SHARED_PASS(stage), t, (int)(c - c0), j)
                                          : gk_float_elem(a.type, row, k);
                    gk_st_u16(a.out + n * a.K + k, gk_f2h(v));
                }
            }
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
