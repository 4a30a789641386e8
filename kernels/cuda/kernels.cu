/* The CUDA kernels: thin __global__ wrappers around the block bodies in the .cuh headers (the
 * same bodies `make test` runs in host emulation) and their launchers. One translation unit,
 * so the fat binary compiles every kernel once per architecture. */
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/matvec.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/rowops.cuh"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/attention_mma.cuh"

#define GK_GLOBAL(kname, body, argtype, nt)                                                                  \
    __global__ void __launch_bounds__(nt) kname(const argtype a) { body(a); }
/* At least minb blocks resident per SM: the matvecs keep a tile a warp in flight, so more
 * warps are more bytes in flight (8 blocks of 128 threads: <= 64 registers). */
#define GK_GLOBAL_MIN(kname, body, argtype, nt, minb)                                                        \
    __global__ void __launch_bounds__(nt, minb) kname(const argtype a) { body(a); }

GK_GLOBAL_MIN(gk_k_matvec_q8_0, gk_body_matvec_q8_0, gk_mv_args, 32 * GK_MV_ROWS, 8)
GK_GLOBAL_MIN(gk_k_matvec_q4_0, gk_body_matvec_q4_0, gk_mv_args, 32 * GK_MV_ROWS, 8)
GK_GLOBAL_MIN(gk_k_matvec_q4_1, gk_body_matvec_q4_1, gk_mv_args, 32 * GK_MV_ROWS, 8)
GK_GLOBAL_MIN(gk_k_matvec_q4_k, gk_body_matvec_q4_k, gk_mv_args, 32 * GK_MV_ROWS, 8)
GK_GLOBAL_MIN(gk_k_matvec_q6_k, gk_body_matvec_q6_k, gk_mv_args, 32 * GK_MV_ROWS, 8)
GK_GLOBAL(gk_k_matvec_float, gk_body_matvec_float, gk_mv_args, 32 * GK_MV_ROWS)
GK_GLOBAL_MIN(gk_k_matvec_x8_q8_0, gk_body_matvec_x8_q8_0, gk_mvx_args, 32 * GK_MV_ROWS, 8)
GK_GLOBAL_MIN(gk_k_matvec_x8_q4_0, gk_body_matvec_x8_q4_0, gk_mvx_args, 32 * GK_MV_ROWS, 8)
GK_GLOBAL_MIN(gk_k_matvec_x8_q4_1, gk_body_matvec_x8_q4_1, gk_mvx_args, 32 * GK_MV_ROWS, 8)
GK_GLOBAL_MIN(gk_k_matvec_x8_q4_k, gk_body_matvec_x8_q4_k, gk_mvx_args, 32 * GK_MV_ROWS, 8)
GK_GLOBAL_MIN(gk_k_matvec_x8_q6_k, gk_body_matvec_x8_q6_k, gk_mvx_args, 32 * GK_MV_ROWS, 8)
GK_GLOBAL(gk_k_quantize_x8, gk_body_quantize_x8, gk_xq_args, 256)
GK_GLOBAL(gk_k_mma_x8_q8_0, gk_body_mma_x8_q8_0, gk_mvx_args, 128)
GK_GLOBAL(gk_k_mma_x8_q4_0, gk_body_mma_x8_q4_0, gk_mvx_args, 128)
GK_GLOBAL(gk_k_mma_x8_q4_1, gk_body_mma_x8_q4_1, gk_mvx_args, 128)
GK_GLOBAL(gk_k_mma_x8_q4_k, gk_body_mma_x8_q4_k, gk_mvx_args, 128)
GK_GLOBAL(gk_k_mma_x8_q6_k, gk_body_mma_x8_q6_k, gk_mvx_args, 128)
GK_GLOBAL(gk_k_dequant_f16, gk_body_dequant_f16, gk_dq_args, 32 * GK_DQ_ROWS)
GK_GLOBAL(gk_k_convert_half, gk_body_convert_half, gk_cvt_args, 256)
GK_GLOBAL(gk_k_rmsnorm, gk_body_rmsnorm, gk_row_args, 256)
GK_GLOBAL(gk_k_softmax, gk_body_softmax, gk_row_args, 256)
GK_GLOBAL(gk_k_elementwise, gk_body_elementwise, gk_ew_args, 256)
GK_GLOBAL(gk_k_rope, gk_body_rope, gk_rope_args, 128)
GK_GLOBAL(gk_k_embedding, gk_body_embedding, gk_emb_args, 128)
GK_GLOBAL(gk_k_kv_store, gk_body_kv_store, gk_kvs_args, 128)
GK_GLOBAL(gk_k_add_rmsnorm, gk_body_add_rmsnorm, gk_arn_args, 256)
GK_GLOBAL(gk_k_rope_kv_store, gk_body_rope_kv_store, gk_rkv_args, 128)
GK_GLOBAL(gk_k_attn_decode, gk_body_attn_decode, gk_attn_args, GK_AT_SPLIT)
GK_GLOBAL(gk_k_attn_combine, gk_body_attn_combine, gk_attn_args, 128)
GK_GLOBAL(gk_k_attn_prefill, gk_body_attn_prefill, gk_attn_args, 128)
GK_GLOBAL(gk_k_attn_prefill_mma, gk_body_attn_prefill_mma, gk_attn_args, 128)

template <typename A> static cudaError_t launch(void (*k)(const A), gk_grid g, const A *a, cudaStream_t s) {
    if (g.gx <= 0 || g.gy <= 0 || g.gz <= 0) return cudaSuccess; /* nothing to do */
    if (g.gx > 0x7fffffff || g.gy > 65535 || g.gz > 65535) return cudaErrorInvalidConfiguration;
    k<<<dim3((unsigned)g.gx, (unsigned)g.gy, (unsigned)g.gz), g.nt, 0, s>>>(*a);
    return cudaGetLastError();
}

cudaError_t gk_cu_matvec(const gk_mv_args *a, cudaStream_t s) {
    void (*k)(const gk_mv_args);
    switch (a->type) {
        case GK_Q8_0: k = gk_k_matvec_q8_0; break;
        case GK_Q4_0: k = gk_k_matvec_q4_0; break;
        case GK_Q4_1: k = gk_k_matvec_q4_1; break;
        case GK_Q4_K: k = gk_k_matvec_q4_k; break;
        case GK_Q6_K: k = gk_k_matvec_q6_k; break;
        default: k = gk_k_matvec_float; break;
    }
    return launch(k, gk_plan_matvec(a->N, a->M), a, s);
}

cudaError_t gk_cu_quantize_x8(const gk_xq_args *q, cudaStream_t s) {
    return launch(gk_k_quantize_x8, gk_plan_quantize_x8(q->K, q->M), q, s);
}

/* The integer path's matvec on activations already quantised into xq (gk_cu_quantize_x8 of
 * a->x); float weights take gk_cu_matvec. */
cudaError_t gk_cu_matvec_x8(const gk_mv_args *a, const uint8_t *xq, cudaStream_t s) {
    void (*k)(const gk_mvx_args);
    switch (a->type) {
        case GK_Q8_0: k = gk_k_matvec_x8_q8_0; break;
        case GK_Q4_0: k = gk_k_matvec_x8_q4_0; break;
        case GK_Q4_1: k = gk_k_matvec_x8_q4_1; break;
        case GK_Q4_K: k = gk_k_matvec_x8_q4_k; break;
        case GK_Q6_K: k = gk_k_matvec_x8_q6_k; break;
        default: return gk_cu_matvec(a, s);
    }
    const gk_mvx_args x = {*a, xq};
    return launch(k, gk_plan_matvec(a->N, a->M), &x, s);
}

/* Prefill on the 8-bit tensor cores (sm_80+), activations already quantised into xq. */
cudaError_t gk_cu_mma_x8(const gk_mv_args *a, const uint8_t *xq, cudaStream_t s) {
    void (*k)(const gk_mvx_args);
    switch (a->type) {
        case GK_Q8_0: k = gk_k_mma_x8_q8_0; break;
        case GK_Q4_0: k = gk_k_mma_x8_q4_0; break;
        case GK_Q4_1: k = gk_k_mma_x8_q4_1; break;
        case GK_Q4_K: k = gk_k_mma_x8_q4_k; break;
        case GK_Q6_K: k = gk_k_mma_x8_q6_k; break;
        default: return cudaErrorInvalidValue;
    }
    const gk_mvx_args x = {*a, xq};
    return launch(k, gk_plan_mma_x8(a->N, a->M), &x, s);
}

cudaError_t gk_cu_dequant_f16(const gk_dq_args *a, cudaStream_t s) {
    return launch(gk_k_dequant_f16, gk_plan_dequant(a->K, a->N), a, s);
}

cudaError_t gk_cu_convert_half(const gk_cvt_args *a, cudaStream_t s) {
    return launch(gk_k_convert_half, gk_plan_elems(a->n), a, s);
}

cudaError_t gk_cu_rmsnorm(const gk_row_args *a, int64_t T, cudaStream_t s) {
    return launch(gk_k_rmsnorm, gk_plan_rows(T), a, s);
}

cudaError_t gk_cu_softmax(const gk_row_args *a, int64_t T, cudaStream_t s) {
    return launch(gk_k_softmax, gk_plan_rows(T), a, s);
}

cudaError_t gk_cu_elementwise(const gk_ew_args *a, cudaStream_t s) {
    return launch(gk_k_elementwise, gk_plan_elems(a->n), a, s);
}

cudaError_t gk_cu_rope(const gk_rope_args *a, cudaStream_t s) {
    return launch(gk_k_rope, gk_plan_rope(a->n_head, a->head_dim, a->T), a, s);
}

cudaError_t gk_cu_embedding(const gk_emb_args *a, cudaStream_t s) {
    return launch(gk_k_embedding, gk_plan_embedding(a->dim, a->T), a, s);
}

cudaError_t gk_cu_kv_store(const gk_kvs_args *a, cudaStream_t s) {
    return launch(gk_k_kv_store, gk_plan_kv_store(a->width, a->T), a, s);
}

cudaError_t gk_cu_add_rmsnorm(const gk_arn_args *a, int64_t T, cudaStream_t s) {
    return launch(gk_k_add_rmsnorm, gk_plan_rows(T), a, s);
}

cudaError_t gk_cu_rope_kv_store(const gk_rkv_args *a, cudaStream_t s) {
    return launch(gk_k_rope_kv_store, gk_plan_rope_kv_store(a), a, s);
}

/* gk_plan_attn_launches(T) kernels (test_cuda_emul counts a decode step's launches with it). */
cudaError_t gk_cu_attention(const gk_attn_args *a, cudaStream_t s) {
    if (!gk_attn_use_decode(a->T) && a->mma)
        return launch(gk_k_attn_prefill_mma, gk_plan_attn_prefill_mma(a->n_head, a->T), a, s);
    if (!gk_attn_use_decode(a->T))
        return launch(gk_k_attn_prefill, gk_plan_attn_prefill(a->n_head, a->T), a, s);
    cudaError_t e = launch(gk_k_attn_decode, gk_plan_attn_decode(a->n_split, a->n_head, a->T), a, s);
    if (e != cudaSuccess) return e;
    return launch(gk_k_attn_combine, gk_plan_attn_combine(a->n_head, a->T), a, s);
}

/* ---- the train family (train.cuh, plan_train.cuh) -------------------------------------------- */
#include "kernels/cuda/train.cuh"

GK_GLOBAL(gk_k_fill, gk_body_fill, gk_fill_args, 256)
GK_GLOBAL(gk_k_silu_mul_backward, gk_body_silu_mul_backward, gk_smb_args, 256)
GK_GLOBAL(gk_k_adamw, gk_body_adamw, gk_adamw_args, 256)
GK_GLOBAL(gk_k_sum_squares, gk_body_sum_squares, gk_ss_args, 256)
GK_GLOBAL(gk_k_sum_squares_final, gk_body_sum_squares_final, gk_ss_args, 256)
GK_GLOBAL(gk_k_rmsnorm_backward_rows, gk_body_rmsnorm_backward_rows, gk_rmsb_args, 256)
GK_GLOBAL(gk_k_rmsnorm_backward_part, gk_body_rmsnorm_backward_part, gk_rmsb_args, 256)
GK_GLOBAL(gk_k_rmsnorm_backward_dw, gk_body_rmsnorm_backward_dw, gk_rmsb_args, 256)
GK_GLOBAL(gk_k_rope_backward, gk_body_rope_backward, gk_rope_args, 128)
GK_GLOBAL(gk_k_emb_bwd_sort, gk_body_emb_bwd_sort, gk_embb_args, 256)
GK_GLOBAL(gk_k_emb_bwd_scatter, gk_body_emb_bwd_scatter, gk_embb_args, 256)
GK_GLOBAL(gk_k_cross_entropy, gk_body_cross_entropy, gk_ce_args, 256)
GK_GLOBAL(gk_k_attb_q, gk_body_attb_q, gk_attb_args, 128)
GK_GLOBAL(gk_k_attb_kv, gk_body_attb_kv, gk_attb_args, 128)
GK_GLOBAL(gk_k_dequant_f32, gk_body_dequant_f32, gk_dq32_args, 32 * GK_DQ_ROWS)

cudaError_t gk_cu_fill(const gk_fill_args *a, cudaStream_t s) {
    return launch(gk_k_fill, gk_plan_elems(a->n), a, s);
}

cudaError_t gk_cu_silu_mul_backward(const gk_smb_args *a, cudaStream_t s) {
    return launch(gk_k_silu_mul_backward, gk_plan_elems(a->n), a, s);
}

cudaError_t gk_cu_adamw(const gk_adamw_args *a, cudaStream_t s) {
    return launch(gk_k_adamw, gk_plan_elems(a->n), a, s);
}

/* Two launches: a.nblocks partial sums, then one block adds them to *out. */
cudaError_t gk_cu_sum_squares(const gk_ss_args *a, cudaStream_t s) {
    const gk_grid g = {a->nblocks, 1, 1, 256}, one = {1, 1, 1, 256};
    cudaError_t e = launch(gk_k_sum_squares, g, a, s);
    return e != cudaSuccess ? e : launch(gk_k_sum_squares_final, one, a, s);
}

/* Three launches: rows (dx, 1/rms), dw partials by groups of GK_RB_ROWS rows, their sum. */
cudaError_t gk_cu_rmsnorm_backward(const gk_rmsb_args *a, cudaStream_t s) {
    cudaError_t e = launch(gk_k_rmsnorm_backward_rows, gk_plan_rows(a->T), a, s);
    if (e == cudaSuccess) e = launch(gk_k_rmsnorm_backward_part, gk_plan_rb_cols(a->dim, gk_rb_groups(a->T)), a, s);
    if (e == cudaSuccess) e = launch(gk_k_rmsnorm_backward_dw, gk_plan_rb_cols(a->dim, 1), a, s);
    return e;
}

cudaError_t gk_cu_rope_backward(const gk_rope_args *a, cudaStream_t s) {
    return launch(gk_k_rope_backward, gk_plan_rope(a->n_head, a->head_dim, a->T), a, s);
}

/* Two launches per chunk of GK_EB_CHUNK tokens, chunks in order (so each table row receives
 * its tokens in increasing order); a->t0 and a->n are set here, T tokens in all. */
cudaError_t gk_cu_embedding_backward(const gk_embb_args *in, int64_t T, cudaStream_t s) {
    gk_embb_args a = *in;
    const gk_grid one = {1, 1, 1, 256};
    for (int64_t t0 = 0; t0 < T; t0 += GK_EB_CHUNK) {
        a.t0 = t0;
        a.n = T - t0 < GK_EB_CHUNK ? T - t0 : GK_EB_CHUNK;
        cudaError_t e = launch(gk_k_emb_bwd_sort, one, &a, s);
        if (e == cudaSuccess) e = launch(gk_k_emb_bwd_scatter, gk_plan_eb_scatter(a.dim, a.n), &a, s);
        if (e != cudaSuccess) return e;
    }
    return cudaSuccess;
}

cudaError_t gk_cu_cross_entropy(const gk_ce_args *a, int64_t T, cudaStream_t s) {
    return launch(gk_k_cross_entropy, gk_plan_rows(T), a, s);
}

/* Two launches: the query side (dq and the rows' statistics), then the key side (dk, dv). */
cudaError_t gk_cu_attention_backward(const gk_attb_args *a, cudaStream_t s) {
    cudaError_t e = launch(gk_k_attb_q, gk_plan_attb_q(a->n_head, a->T), a, s);
    return e != cudaSuccess ? e : launch(gk_k_attb_kv, gk_plan_attb_kv(a->n_kv_head, a->T), a, s);
}

cudaError_t gk_cu_dequant_f32(const gk_dq32_args *a, cudaStream_t s) {
    return launch(gk_k_dequant_f32, gk_plan_dequant(a->K, a->N), a, s);
}

/* ---- the image family (image.cuh, plan_image.cuh) ------------------------------------------ */
#include "kernels/cuda/image.cuh"

GK_GLOBAL(gk_k_image_unary, gk_body_image_unary, gk_iu_args, 256)
GK_GLOBAL(gk_k_geglu, gk_body_geglu, gk_geglu_args, 256)
GK_GLOBAL(gk_k_upsample2x, gk_body_upsample2x, gk_up_args, 256)
GK_GLOBAL(gk_k_concat, gk_body_concat, gk_cat_args, 256)
GK_GLOBAL(gk_k_add_channel, gk_body_add_channel, gk_addc_args, 256)
GK_GLOBAL(gk_k_timestep_embed, gk_body_timestep_embed, gk_temb_args, 128)
GK_GLOBAL(gk_k_cont, gk_body_cont, gk_cont_args, 256)
GK_GLOBAL(gk_k_cont_transposed, gk_body_cont_transposed, gk_cont_args, 256)
GK_GLOBAL(gk_k_gn_part, gk_body_gn_part, gk_gn_args, 256)
GK_GLOBAL(gk_k_gn_stats, gk_body_gn_stats, gk_gn_args, 256)
GK_GLOBAL(gk_k_gn_apply, gk_body_gn_apply, gk_gn_args, 256)
GK_GLOBAL(gk_k_layer_norm, gk_body_layer_norm, gk_ln_args, 32 * GK_LN_ROWS)
GK_GLOBAL(gk_k_full_attention, gk_body_full_attention, gk_fa_args, 128)
GK_GLOBAL(gk_k_im2col, gk_body_im2col, gk_im2col_args, 256)

cudaError_t gk_cu_image_unary(const gk_iu_args *a, cudaStream_t s) {
    return launch(gk_k_image_unary, gk_plan_elems(a->n), a, s);
}

cudaError_t gk_cu_geglu(const gk_geglu_args *a, cudaStream_t s) {
    return launch(gk_k_geglu, gk_plan_elems(a->n * a->rows), a, s);
}

cudaError_t gk_cu_upsample2x(const gk_up_args *a, cudaStream_t s) {
    return launch(gk_k_upsample2x, gk_plan_elems(4 * a->W * a->H * a->planes), a, s);
}

cudaError_t gk_cu_concat(const gk_cat_args *a, cudaStream_t s) {
    return launch(gk_k_concat, gk_plan_elems(a->plane * (a->ca + a->cc) * a->N), a, s);
}

cudaError_t gk_cu_add_channel(const gk_addc_args *a, cudaStream_t s) {
    return launch(gk_k_add_channel, gk_plan_elems(a->plane * a->C * a->N), a, s);
}

cudaError_t gk_cu_timestep_embed(const gk_temb_args *a, cudaStream_t s) {
    return launch(gk_k_timestep_embed, gk_plan_temb(a->dim, a->N), a, s);
}

/* The transposed path when a->j is set (gk_cont_transposed_dim), else a thread per element. */
cudaError_t gk_cu_cont(const gk_cont_args *a, cudaStream_t s) {
    return launch(a->j ? gk_k_cont_transposed : gk_k_cont, gk_plan_cont(a), a, s);
}

/* Three launches: the chunks' partial statistics, each group's combination, the apply pass. */
cudaError_t gk_cu_group_norm(const gk_gn_args *a, cudaStream_t s) {
    cudaError_t e = launch(gk_k_gn_part, gk_plan_gn_part(a->C, a->groups, a->plane, a->N), a, s);
    if (e == cudaSuccess) e = launch(gk_k_gn_stats, gk_plan_elems(a->N * a->groups), a, s);
    if (e == cudaSuccess) e = launch(gk_k_gn_apply, gk_plan_elems(a->plane * a->C * a->N), a, s);
    return e;
}

cudaError_t gk_cu_layer_norm(const gk_ln_args *a, cudaStream_t s) {
    return launch(gk_k_layer_norm, gk_plan_ln(a->rows), a, s);
}

cudaError_t gk_cu_full_attention(const gk_fa_args *a, int64_t batch, cudaStream_t s) {
    return launch(gk_k_full_attention, gk_plan_fa(a->tq, a->n_head, batch, a->head_dim), a, s);
}

cudaError_t gk_cu_im2col(const gk_im2col_args *a, cudaStream_t s) {
    return launch(gk_k_im2col, gk_plan_elems(a->K * a->np), a, s);
}
