/* Block bodies of the matmul kernels (see simt.cuh for the execution model, plan.cuh for
 * the geometry): the quantized matrix-vector product that reads ggml blocks directly through
 * staged tiles (formats.cuh), with F32 activations or with activations quantised to 8 bits
 * and dp4a; its float-weight sibling; and the two conversions feeding cuBLAS on the GEMM
 * path. */
#ifndef GK_MATVEC_CUH
#define GK_MATVEC_CUH
#include "kernels/cuda/simt.cuh"
#include "kernels/cuda/formats.cuh"
#include "kernels/cuda/plan.cuh"

/* acc[i] += weights of chunks c0 .. c1 (staged at byte t of st) · column i of the
 * activations, i < mc: 8 lanes a chunk, lane l its weights 4(l%8) .. +3, so a warp-step
 * reads 4 consecutive chunks' activations, adjacent, per column; the scale is applied once
 * per 4 products. F32 activations: a float4 a lane (512 adjacent bytes). */
#define GK_MV_DOT_F32(TYPE, st, t, c0, c1, lane, a, mv, m0, mc, acc)                                         \
    do {                                                                                                     \
        const int j_ = 4 * ((lane)&7);                                                                       \
        for (int64_t c_ = (c0) + (((lane) >> 3) & 3); c_ < (c1); c_ += 4) {                                  \
            const gk_w4 w_ = gk_staged_weights4(TYPE, GK_SHARED_PASS(st), t, (int)(c_ - (c0)), j_);          \
            GK_UNROLL                                                                                        \
            for (int i_ = 0; i_ < GK_MV_COLS; i_++)                                                          \
                if (i_ < (mc)) {                                                                             \
                    float x4_[4];                                                                            \
                    gk_ldf4((mv).x + ((m0) + i_) * (mv).K + 32 * c_ + j_, x4_);                              \
                    const float qx_ =                                                                        \
                        w_.q[0] * x4_[0] + w_.q[1] * x4_[1] + w_.q[2] * x4_[2] + w_.q[3] * x4_[3];           \
                    (acc)[i_] += w_.d * qx_;                                                                 \
                    if (TYPE == GK_Q4_1 || TYPE == GK_Q4_K)                                                  \
                        (acc)[i_] += w_.m * (x4_[0] + x4_[1] + x4_[2] + x4_[3]);                             \
                }                                                                                            \
        }                                                                                                    \
    } while (0)

/* The same with 8-bit activations (a.xq): 4 bytes a lane (128 adjacent bytes a warp-step)
 * and the block's scale, the 4 products summed exactly by dp4a, the weight's offset and min
 * applied through the sum of the 4 activations (dp4a with ones). */
#define GK_MV_DOT_X8(TYPE, st, t, c0, c1, lane, a, mv, m0, mc, acc)                                          \
    do {                                                                                                     \
        const int j_ = 4 * ((lane)&7);                                                                       \
        const float *xd_ = (const float *)(const void *)((a).xq + (mv).M * (mv).K);                          \
        for (int64_t c_ = (c0) + (((lane) >> 3) & 3); c_ < (c1); c_ += 4) {                                  \
            const gk_wq4 w_ = gk_staged_wq4(TYPE, GK_SHARED_PASS(st), t, (int)(c_ - (c0)), j_);              \
            GK_UNROLL                                                                                        \
            for (int i_ = 0; i_ < GK_MV_COLS; i_++)                                                          \
                if (i_ < (mc)) {                                                                             \
                    const uint32_t q4_ = gk_u32((a).xq + ((m0) + i_) * (mv).K + 32 * c_ + j_);               \
                    const float dx_ = gk_ldf(xd_ + ((m0) + i_) * ((mv).K / 32) + c_);                        \
                    int sq_ = gk_dp4a(w_.u, q4_, 0);                                                         \
                    float r_;                                                                                \
                    if (TYPE == GK_Q8_0) {                                                                   \
                        r_ = w_.d * (float)sq_;                                                              \
                    } else {                                                                                 \
                        const int sx_ = gk_dp4a(0x01010101u, q4_, 0);                                        \
                        r_ = w_.d * (float)(sq_ + w_.off * sx_);                                             \
                        if (TYPE == GK_Q4_1 || TYPE == GK_Q4_K) r_ += w_.m * (float)sx_;                     \
                    }                                                                                        \
                    (acc)[i_] += dx_ * r_;                                                                   \
                }                                                                                            \
        }                                                                                                    \
    } while (0)

/* One warp per weight row n, block y picks GK_MV_COLS activation columns. The row goes by in
 * tiles of GK_MV_TILE chunks through two stage buffers: while a warp multiplies tile c0 out
 * of one, the words of the next tile are already loading (adjacent lanes, adjacent words of
 * consecutive blocks) and are stored into the other before the barrier. The tile loop is
 * uniform over the block (it depends on K only); the warp reduces at the end. */
#define GK_DEFINE_MATVEC_Q(name, TYPE) GK_DEFINE_MATVEC_Q_(name, TYPE, gk_mv_args, a, GK_MV_DOT_F32)
#define GK_DEFINE_MATVEC_QX8(name, TYPE) GK_DEFINE_MATVEC_Q_(name, TYPE, gk_mvx_args, a.mv, GK_MV_DOT_X8)
#define GK_DEFINE_MATVEC_Q_(name, TYPE, ARGT, MV, DOT)                                                       \
    GK_BODY(name, ARGT) {                                                                                    \
        GK_SHARED(uint32_t, stage, 2 * GK_MV_ROWS * GK_MV_STAGE_WORDS);                                      \
        GK_SHARED(int, tile_at, 2 * GK_MV_ROWS);                                                             \
        GK_LOCAL_ARR(float, acc, GK_MV_COLS);                                                                \
        const int64_t m0 = GK_BY * GK_MV_COLS;                                                               \
        const int mc = (MV).M - m0 < GK_MV_COLS ? (int)((MV).M - m0) : GK_MV_COLS;                           \
        const int64_t nc = (MV).K / 32;                                                                      \
        GK_THREADS {                                                                                         \
            const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);                                             \
            for (int i = 0; i < GK_MV_COLS; i++) R(acc)[i] = 0.0f;                                           \
            if (n < (MV).N) {                                                                                \
                gk_stage_regs r;                                                                             \
                gk_stage_load_chunks((MV).w, (MV).row_bytes, TYPE, n, 0, nc < GK_MV_TILE ? nc : GK_MV_TILE,  \
                                     tid & 31, &r);                                                          \
                const int t =                                                                                \
                    gk_stage_store(&r, GK_SHARED_PASS(stage), (tid >> 5) * GK_MV_STAGE_WORDS, tid & 31);     \
                if ((tid & 31) == 0) GK_SST(tile_at, tid >> 5, t);                                           \
            }                                                                                                \
        }                                                                                                    \
        GK_SYNC();                                                                                           \
        int buf = 0;                                                                                         \
        for (int64_t c0 = 0; c0 < nc; c0 += GK_MV_TILE, buf ^= 1) {                                          \
            const int64_t c1 = nc - c0 < GK_MV_TILE ? nc : c0 + GK_MV_TILE;                                  \
            const int64_t c2 = nc - c1 < GK_MV_TILE ? nc : c1 + GK_MV_TILE;                                  \
            GK_THREADS {                                                                                     \
                const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);                                         \
                const int warp = tid >> 5, lane = tid & 31;                                                  \
                if (n < (MV).N) {                                                                            \
                    gk_stage_regs r = {{0}, 0, 0};                                                           \
                    if (c1 < nc) gk_stage_load_chunks((MV).w, (MV).row_bytes, TYPE, n, c1, c2, lane, &r);    \
                    const int t = GK_SLD(tile_at, buf * GK_MV_ROWS + warp);                                  \
                    DOT(TYPE, stage, t, c0, c1, lane, a, MV, m0, mc, R(acc));                                \
                    if (c1 < nc) {                                                                           \
                        const int nb = buf ^ 1;                                                              \
                        const int tn = gk_stage_store(&r, GK_SHARED_PASS(stage),                             \
                                                      (nb * GK_MV_ROWS + warp) * GK_MV_STAGE_WORDS, lane);   \
                        if (lane == 0) GK_SST(tile_at, nb *GK_MV_ROWS + warp, tn);                           \
                    }                                                                                        \
                }                                                                                            \
            }                                                                                                \
            GK_SYNC();                                                                                       \
        }                                                                                                    \
        GK_UNROLL                                                                                            \
        for (int i = 0; i < GK_MV_COLS; i++) GK_WARP_SUM_AT(acc, i);                                         \
        GK_THREADS {                                                                                         \
            const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);                                             \
            if ((tid & 31) < mc && n < (MV).N) {                                                             \
                float v = 0.0f;                                                                              \
                for (int i = 0; i < GK_MV_COLS; i++)                                                         \
                    if (i == (tid & 31)) v = R(acc)[i];                                                      \
                gk_stf((MV).y + (m0 + (tid & 31)) * (MV).N + n, v);                                          \
            }                                                                                                \
        }                                                                                                    \
    }

GK_DEFINE_MATVEC_Q(gk_body_matvec_q8_0, GK_Q8_0)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q4_0, GK_Q4_0)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q4_1, GK_Q4_1)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q4_k, GK_Q4_K)
GK_DEFINE_MATVEC_Q(gk_body_matvec_q6_k, GK_Q6_K)
GK_DEFINE_MATVEC_QX8(gk_body_matvec_x8_q8_0, GK_Q8_0)
GK_DEFINE_MATVEC_QX8(gk_body_matvec_x8_q4_0, GK_Q4_0)
GK_DEFINE_MATVEC_QX8(gk_body_matvec_x8_q4_1, GK_Q4_1)
GK_DEFINE_MATVEC_QX8(gk_body_matvec_x8_q4_k, GK_Q4_K)
GK_DEFINE_MATVEC_QX8(gk_body_matvec_x8_q6_k, GK_Q6_K)

/* Warp g quantises activation block g (32 floats of one column, x{K, M} in order): d =
 * amax/127, q = round(x/d) within ±127 (ggml's quantize_row_q8_0, the scale kept as F32), so
 * x = d * q to half a step. Lane j reads and writes element j, adjacent across the warp; the
 * 8 warps' scales go out together from shared memory (one sector). */
GK_BODY(gk_body_quantize_x8, gk_xq_args) {
    GK_SHARED(float, ds, GK_MAX_THREADS / 32);
    GK_LOCAL(float, v);
    GK_LOCAL(float, amax);
    const int64_t nb = a.K / 32 * a.M, g0 = GK_BX * (GK_NT / 32);
    GK_THREADS {
        const int64_t g = g0 + (tid >> 5);
        R(v) = g < nb ? gk_ldf(a.x + 32 * g + (tid & 31)) : 0.0f;
    }
    GK_Q8_STORE(v, amax, ds, a.xq, (float *)(void *)(a.xq + a.K * a.M), g0, nb);
}

/* Float weights (F32/F16/BF16), any K: lanes take adjacent elements, so a warp reads a
 * contiguous 64-128 bytes per step. */
GK_BODY(gk_body_matvec_float, gk_mv_args) {
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
            for (int i = 0; i < GK_MV_COLS; i++)
                if (i == (tid & 31)) v = R(acc)[i];
            gk_stf(a.y + (m0 + (tid & 31)) * a.N + n, v);
        }
    }
}

/* Block (rows GK_DQ_ROWS*x .., tile y): each warp stages its row's tile of chunks as the
 * matvec does, then converts 4 consecutive elements a lane (8 lanes a chunk), so the warp's
 * 8-byte stores are adjacent too. Float rows (any K) are read an element a lane. */
GK_BODY(gk_body_dequant_f16, gk_dq_args) {
    GK_SHARED(uint32_t, stage, GK_DQ_ROWS * GK_MV_STAGE_WORDS);
    GK_SHARED(int, tile_at, GK_DQ_ROWS);
    const int64_t nc = (a.K + 31) / 32, c0 = GK_BY * GK_MV_TILE;
    const int64_t c1 = nc - c0 < GK_MV_TILE ? nc : c0 + GK_MV_TILE;
    const int quant = gk_is_quant(a.type), has_min = a.type == GK_Q4_1 || a.type == GK_Q4_K;
    if (quant) {
        GK_THREADS {
            const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);
            if (n < a.N) {
                gk_stage_regs r;
                gk_stage_load_chunks(a.w, a.row_bytes, a.type, n, c0, c1, tid & 31, &r);
                const int t =
                    gk_stage_store(&r, GK_SHARED_PASS(stage), (tid >> 5) * GK_MV_STAGE_WORDS, tid & 31);
                if ((tid & 31) == 0) GK_SST(tile_at, tid >> 5, t);
            }
        }
        GK_SYNC();
    }
    GK_THREADS {
        const int64_t n = GK_BX * (GK_NT / 32) + (tid >> 5);
        if (n < a.N && quant) {
            const int t = GK_SLD(tile_at, tid >> 5), j = 4 * (tid & 7);
            for (int64_t c = c0 + ((tid >> 3) & 3); c < c1; c += 4) {
                const gk_w4 w = gk_staged_weights4(a.type, GK_SHARED_PASS(stage), t, (int)(c - c0), j);
                uint16_t h[4];
                for (int i = 0; i < 4; i++)
                    h[i] = gk_f2h(has_min ? w.d * w.q[i] + w.m : w.d * w.q[i]); /* -0 stays -0 */
                gk_st_h4(a.out + n * a.K + 32 * c + j, h);
            }
        } else if (n < a.N) {
            const uint8_t *row = a.w + (size_t)n * a.row_bytes;
            for (int64_t k = 32 * c0 + (tid & 31); k < a.K && k < 32 * c1; k += 32)
                gk_st_u16(a.out + n * a.K + k, gk_f2h(gk_float_elem(a.type, row, k)));
        }
    }
}

GK_BODY(gk_body_convert_half, gk_cvt_args) {
    GK_THREADS {
        const int64_t i = GK_BX * GK_NT + tid;
        if (i < a.n) gk_st_u16(a.out + i, a.bf16 ? gk_f2bf(gk_ldf(a.x + i)) : gk_f2h(gk_ldf(a.x + i)));
    }
}

#endif
