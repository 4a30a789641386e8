/* Block body of the prefill matmul on the 8-bit tensor cores (sm_80+; geometry and the path
 * choice in plan.cuh): y{N, M} = x{K, M} · Wᵀ for quantized W, x quantised to 8-bit blocks
 * first (gk_body_quantize_x8, as the integer matvec's). Per 32-weight chunk c of weight row n
 * and token m, with q the weight's integers, off its offset, d its scale, mn its min, and xq,
 * dx the token's 8-bit block:
 *     y[m][n] += dx · (d · Σ (q + off)·xq + mn · Σ xq)
 * The first sum is one m16n8k32 tile (off folded into the bytes, so every format's weights are
 * signed bytes), the second a tile against ones, only for the formats with a min (Q4_1, Q4_K).
 * Q6_K has a scale per 16 weights: its first sum is two tiles, each with the other half of the
 * chunk's weights zeroed, scaled apart (its second scale where the mins would be).
 * The sums are exact (32 products of |a| <= 127, |b| <= 127), so the result differs from the
 * float product of the quantised activations only by F32 rounding, in a different order. */
#ifndef GK_MMA_CUH
#define GK_MMA_CUH
#include "kernels/cuda/simt.cuh"
#include "kernels/cuda/formats.cuh"
#include "kernels/cuda/plan.cuh"

/* The four bytes q_i + off as signed bytes, for q_i in [0, -2·off) (Q4_0's off -8, Q6_K's
 * -32): q + 128 + off stays in its byte, and flipping bit 7 subtracts 128 modulo 256. */
GK_HD uint32_t gk_fold_off(uint32_t u, int off) {
    if (!off) return u;
    return (u + (uint32_t)(128 + off) * 0x01010101u) ^ 0x80808080u;
}

/* Step 1 of a K step: rows n0 .. n0+63 of chunks c0 .. c1 into wst (warp w stages its 16
 * rows one at a time, each as the matvec stages a tile), tokens m0 .. m0+63 of the 8-bit
 * activations into xs (32 adjacent words a warp-step) and their block scales into xd. Past N
 * a row's w_at is -1; past M or c1 the activations are 0. */
#define GK_MMA_STAGE(TYPE, a, n0, m0, c0, c1, kc)                                                           \
    GK_THREADS {                                                                                             \
        const int warp_ = tid >> 5, lane_ = tid & 31;                                                        \
        for (int r_ = warp_ * (GK_MMA_BN / 4); r_ < (warp_ + 1) * (GK_MMA_BN / 4); r_++) {                   \
            if ((n0) + r_ < (a).mv.N) {                                                                      \
                gk_stage_regs s_;                                                                            \
                gk_stage_load_chunks((a).mv.w, (a).mv.row_bytes, TYPE, (n0) + r_, c0, c1, lane_, &s_);        \
                const int t_ = gk_stage_store(&s_, GK_SHARED_PASS(wst), r_ * GK_MMA_W_WORDS, lane_);          \
                if (lane_ == 0) GK_SST(w_at, r_, t_);                                                        \
            } else if (lane_ == 0) {                                                                         \
                GK_SST(w_at, r_, -1);                                                                        \
            }                                                                                                \
        }                                                                                                    \
        for (int i_ = tid; i_ < GK_MMA_BM * 8 * GK_MMA_KC; i_ += GK_NT) {                                    \
            const int r_ = i_ / (8 * GK_MMA_KC), w_ = i_ % (8 * GK_MMA_KC);                                  \
            uint32_t v_ = 0;                                                                                 \
            if ((m0) + r_ < (a).mv.M && w_ < 8 * (kc))                                                       \
                v_ = gk_u32((a).xq + ((m0) + r_) * (a).mv.K + 32 * (c0) + 4 * w_);                           \
            else                                                                                             \
                gk_emul_idle_();                                                                             \
            GK_SST(xs, r_ * GK_MMA_X_WORDS + w_, v_);                                                        \
        }                                                                                                    \
        for (int i_ = tid; i_ < GK_MMA_BM * GK_MMA_KC; i_ += GK_NT) {                                        \
            const int r_ = i_ / GK_MMA_KC, ci_ = i_ % GK_MMA_KC;                                             \
            float v_ = 0.0f;                                                                                 \
            if ((m0) + r_ < (a).mv.M && ci_ < (kc))                                                          \
                v_ = gk_ldf(xdg + ((m0) + r_) * ((a).mv.K / 32) + (c0) + ci_);                               \
            else                                                                                             \
                gk_emul_idle_();                                                                             \
            GK_SST(xd, i_, v_);                                                                              \
        }                                                                                                    \
    }

/* Step 2: every staged row's chunk scales and mins (Q6_K: the scales of its two halves),
 * decoded once for the whole block. */
#define GK_MMA_SCALES(TYPE, kc)                                                                              \
    GK_THREADS {                                                                                             \
        for (int i_ = tid; i_ < GK_MMA_BN * GK_MMA_KC; i_ += GK_NT) {                                        \
            const int r_ = i_ / GK_MMA_KC, ci_ = i_ % GK_MMA_KC, t_ = GK_SLD(w_at, r_);                      \
            float d_ = 0.0f, m_ = 0.0f;                                                                      \
            if (t_ >= 0 && ci_ < (kc)) {                                                                     \
                const gk_wq4 q_ = gk_staged_wq4(TYPE, GK_SHARED_PASS(wst), t_, ci_, 0);                      \
                d_ = q_.d, m_ = q_.m;                                                                        \
                if (TYPE == GK_Q6_K) m_ = gk_staged_wq4(TYPE, GK_SHARED_PASS(wst), t_, ci_, 16).d;           \
            }                                                                                                \
            GK_SST(wd, i_, d_);                                                                              \
            GK_SST(wmin, i_, m_);                                                                            \
        }                                                                                                    \
    }

/* Step 3, chunk ci: the warp's A fragments (its two 16-token tiles) and B fragments (its four
 * 8-row tiles, offsets folded; Q6_K's halves apart in fb[0..8) and fb[10..18)), the 8 tiles
 * (+2 token sums, or +8 second halves), then each sum scaled into acc[(mt·4+nt)·4+i]. */
#define GK_MMA_CHUNK(TYPE, ci, has_min)                                                                      \
    GK_THREADS {                                                                                             \
        const int lane_ = tid & 31, g_ = lane_ >> 2, t_ = lane_ & 3;                                         \
        const int wm_ = (tid >> 5) & 1, wn_ = tid >> 6;                                                      \
        for (int mt_ = 0; mt_ < 2; mt_++)                                                                    \
            gk_frag_a(GK_SHARED_PASS(xs), wm_ * 32 + mt_ * 16 + g_, GK_MMA_X_WORDS, 8 * (ci), t_,             \
                      &R(fa)[4 * mt_]);                                                                      \
        for (int nt_ = 0; nt_ < 4; nt_++) {                                                                  \
            const int at_ = GK_SLD(w_at, wn_ * 32 + nt_ * 8 + g_);                                           \
            uint32_t b0_ = 0, b1_ = 0;                                                                       \
            if (at_ >= 0) {                                                                                  \
                const gk_wq4 q0_ = gk_staged_wq4(TYPE, GK_SHARED_PASS(wst), at_, ci, 4 * t_);                \
                const gk_wq4 q1_ = gk_staged_wq4(TYPE, GK_SHARED_PASS(wst), at_, ci, 16 + 4 * t_);           \
                b0_ = gk_fold_off(q0_.u, q0_.off), b1_ = gk_fold_off(q1_.u, q1_.off);                         \
            }                                                                                                \
            R(fb)[2 * nt_] = b0_, R(fb)[2 * nt_ + 1] = b1_;                                                  \
            if (TYPE == GK_Q6_K) R(fb)[2 * nt_ + 1] = 0, R(fb)[10 + 2 * nt_] = 0, R(fb)[11 + 2 * nt_] = b1_;  \
        }                                                                                                    \
        for (int i_ = 0; i_ < 72; i_++) R(dq)[i_] = 0;                                                       \
    }                                                                                                        \
    GK_UNROLL                                                                                                \
    for (int mt_ = 0; mt_ < 2; mt_++) {                                                                      \
        GK_UNROLL                                                                                            \
        for (int nt_ = 0; nt_ < 4; nt_++) GK_MMA_S8(dq, (mt_ * 4 + nt_) * 4, fa, 4 * mt_, fb, 2 * nt_);      \
        if (has_min) GK_MMA_S8(dq, 32 + 4 * mt_, fa, 4 * mt_, fb, 8);                                        \
        if (TYPE == GK_Q6_K) {                                                                               \
            GK_UNROLL                                                                                        \
            for (int nt_ = 0; nt_ < 4; nt_++)                                                                \
                GK_MMA_S8(dq, 40 + (mt_ * 4 + nt_) * 4, fa, 4 * mt_, fb, 10 + 2 * nt_);                      \
        }                                                                                                    \
    }                                                                                                        \
    GK_THREADS {                                                                                             \
        const int lane_ = tid & 31, g_ = lane_ >> 2, t_ = lane_ & 3;                                         \
        const int wm_ = (tid >> 5) & 1, wn_ = tid >> 6;                                                      \
        for (int mt_ = 0; mt_ < 2; mt_++)                                                                    \
            for (int h_ = 0; h_ < 2; h_++) {                                                                 \
                const float dx_ = GK_SLD(xd, (wm_ * 32 + mt_ * 16 + g_ + 8 * h_) * GK_MMA_KC + (ci));        \
                const float sx_ = (float)R(dq)[32 + 4 * mt_ + 2 * h_];                                       \
                for (int nt_ = 0; nt_ < 4; nt_++)                                                            \
                    for (int e_ = 0; e_ < 2; e_++) {                                                         \
                        const int col_ = (wn_ * 32 + nt_ * 8 + 2 * t_ + e_) * GK_MMA_KC + (ci);              \
                        const int i_ = (mt_ * 4 + nt_) * 4 + 2 * h_ + e_;                                    \
                        float v_ = GK_SLD(wd, col_) * (float)R(dq)[i_];                                      \
                        if (has_min) v_ += GK_SLD(wmin, col_) * sx_;                                         \
                        if (TYPE == GK_Q6_K) v_ += GK_SLD(wmin, col_) * (float)R(dq)[40 + i_];               \
                        R(acc)[i_] += dx_ * v_;                                                              \
                    }                                                                                        \
            }                                                                                                \
    }

/* The warp's 32 x 32 outputs: per (tile, half) a lane's two adjacent columns as one 8-byte
 * store (8 rows x 32 bytes a warp-step: whole sectors), one at a time at an odd N or an edge. */
#define GK_MMA_STORE(a, n0, m0)                                                                              \
    GK_THREADS {                                                                                             \
        const int lane_ = tid & 31, g_ = lane_ >> 2, t_ = lane_ & 3;                                         \
        const int wm_ = (tid >> 5) & 1, wn_ = tid >> 6;                                                      \
        const int64_t N_ = (a).mv.N;                                                                         \
        for (int mt_ = 0; mt_ < 2; mt_++)                                                                    \
            for (int h_ = 0; h_ < 2; h_++)                                                                   \
                for (int nt_ = 0; nt_ < 4; nt_++) {                                                          \
                    const int64_t m_ = (m0) + wm_ * 32 + mt_ * 16 + g_ + 8 * h_;                             \
                    const int64_t n_ = (n0) + wn_ * 32 + nt_ * 8 + 2 * t_;                                   \
                    const float *v_ = &R(acc)[(mt_ * 4 + nt_) * 4 + 2 * h_];                                 \
                    float *y_ = (a).mv.y + m_ * N_ + n_;                                                     \
                    if (m_ >= (a).mv.M || n_ >= N_) {                                                        \
                        gk_emul_idle_();                                                                     \
                    } else if (n_ + 1 < N_ && !(N_ & 1)) {                                                   \
                        gk_stf2(y_, v_);                                                                     \
                    } else {                                                                                 \
                        gk_stf(y_, v_[0]);                                                                   \
                        if (n_ + 1 < N_) gk_stf(y_ + 1, v_[1]);                                              \
                    }                                                                                        \
                }                                                                                            \
    }

#define GK_DEFINE_MMA_X8(name, TYPE)                                                                         \
    GK_BODY(name, gk_mvx_args) {                                                                             \
        GK_SHARED(uint32_t, wst, GK_MMA_BN * GK_MMA_W_WORDS);                                                \
        GK_SHARED(int, w_at, GK_MMA_BN);                                                                     \
        GK_SHARED(float, wd, GK_MMA_BN * GK_MMA_KC);                                                         \
        GK_SHARED(float, wmin, GK_MMA_BN * GK_MMA_KC);                                                       \
        GK_SHARED(uint32_t, xs, GK_MMA_BM * GK_MMA_X_WORDS);                                                 \
        GK_SHARED(float, xd, GK_MMA_BM * GK_MMA_KC);                                                         \
        GK_LOCAL_ARR(float, acc, 32);   /* [mt][nt][i] */                                                    \
        GK_LOCAL_ARR(uint32_t, fa, 8);  /* [mt][4] */                                                        \
        GK_LOCAL_ARR(uint32_t, fb, 18); /* [nt][2], the ones, Q6_K's second halves [nt][2] */                \
        GK_LOCAL_ARR(int, dq, 72);      /* [mt][nt][4] sums, [mt][4] token sums, Q6_K's [mt][nt][4] */       \
        const int has_min = TYPE == GK_Q4_1 || TYPE == GK_Q4_K;                                              \
        const int64_t n0 = GK_BY * GK_MMA_BN, m0 = GK_BX * GK_MMA_BM, nc = a.mv.K / 32;                      \
        const float *xdg = (const float *)(const void *)(a.xq + a.mv.M * a.mv.K);                            \
        GK_THREADS {                                                                                         \
            for (int i = 0; i < 32; i++) R(acc)[i] = 0.0f;                                                   \
            R(fb)[8] = R(fb)[9] = 0x01010101u;                                                               \
        }                                                                                                    \
        for (int64_t c0 = 0; c0 < nc; c0 += GK_MMA_KC) {                                                     \
            const int64_t c1 = nc - c0 < GK_MMA_KC ? nc : c0 + GK_MMA_KC;                                    \
            const int kc = (int)(c1 - c0);                                                                   \
            GK_MMA_STAGE(TYPE, a, n0, m0, c0, c1, kc)                                                        \
            GK_SYNC();                                                                                       \
            GK_MMA_SCALES(TYPE, kc)                                                                          \
            GK_SYNC();                                                                                       \
            for (int ci = 0; ci < kc; ci++) {                                                                \
                GK_MMA_CHUNK(TYPE, ci, has_min)                                                              \
            }                                                                                                \
            GK_SYNC(); /* the next step stages over this one */                                              \
        }                                                                                                    \
        GK_MMA_STORE(a, n0, m0)                                                                              \
    }

GK_DEFINE_MMA_X8(gk_body_mma_x8_q8_0, GK_Q8_0)
GK_DEFINE_MMA_X8(gk_body_mma_x8_q4_0, GK_Q4_0)
GK_DEFINE_MMA_X8(gk_body_mma_x8_q4_1, GK_Q4_1)
GK_DEFINE_MMA_X8(gk_body_mma_x8_q4_k, GK_Q4_K)
GK_DEFINE_MMA_X8(gk_body_mma_x8_q6_k, GK_Q6_K)

#endif
