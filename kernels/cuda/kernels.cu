/* The CUDA kernels: thin __global__ wrappers around the block bodies in the .cuh headers (the
 * same bodies `make test` runs in host emulation) and their launchers. One translation unit,
 * so the fat binary compiles every kernel once per architecture. */
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/matvec.cuh"
#include "kernels/cuda/rowops.cuh"
#include "kernels/cuda/attention.cuh"

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
GK_GLOBAL(gk_k_dequant_f16, gk_body_dequant_f16, gk_dq_args, 32 * GK_DQ_ROWS)
GK_GLOBAL(gk_k_convert_half, gk_body_convert_half, gk_cvt_args, 256)
GK_GLOBAL(gk_k_rmsnorm, gk_body_rmsnorm, gk_row_args, 256)
GK_GLOBAL(gk_k_softmax, gk_body_softmax, gk_row_args, 256)
GK_GLOBAL(gk_k_elementwise, gk_body_elementwise, gk_ew_args, 256)
GK_GLOBAL(gk_k_rope, gk_body_rope, gk_rope_args, 128)
GK_GLOBAL(gk_k_embedding, gk_body_embedding, gk_emb_args, 128)
GK_GLOBAL(gk_k_kv_store, gk_body_kv_store, gk_kvs_args, 128)
GK_GLOBAL(gk_k_attn_decode, gk_body_attn_decode, gk_attn_args, GK_AT_SPLIT)
GK_GLOBAL(gk_k_attn_combine, gk_body_attn_combine, gk_attn_args, 128)
GK_GLOBAL(gk_k_attn_prefill, gk_body_attn_prefill, gk_attn_args, 128)

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

/* The integer path: the activations quantised once into xq (gk_mv_xq_bytes(K, M) bytes of
 * device memory), then the dp4a matvec; float weights take gk_cu_matvec. Two launches. */
cudaError_t gk_cu_matvec_x8(const gk_mv_args *a, uint8_t *xq, cudaStream_t s) {
    void (*k)(const gk_mvx_args);
    switch (a->type) {
        case GK_Q8_0: k = gk_k_matvec_x8_q8_0; break;
        case GK_Q4_0: k = gk_k_matvec_x8_q4_0; break;
        case GK_Q4_1: k = gk_k_matvec_x8_q4_1; break;
        case GK_Q4_K: k = gk_k_matvec_x8_q4_k; break;
        case GK_Q6_K: k = gk_k_matvec_x8_q6_k; break;
        default: return gk_cu_matvec(a, s);
    }
    const gk_xq_args q = {a->x, xq, a->K, a->M};
    cudaError_t e = launch(gk_k_quantize_x8, gk_plan_quantize_x8(a->K, a->M), &q, s);
    if (e != cudaSuccess) return e;
    const gk_mvx_args x = {*a, xq};
    return launch(k, gk_plan_matvec(a->N, a->M), &x, s);
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

/* gk_plan_attn_launches(T) kernels (test_cuda_emul counts a decode step's launches with it). */
cudaError_t gk_cu_attention(const gk_attn_args *a, cudaStream_t s) {
    if (!gk_attn_use_decode(a->T))
        return launch(gk_k_attn_prefill, gk_plan_attn_prefill(a->n_head, a->T), a, s);
    cudaError_t e = launch(gk_k_attn_decode, gk_plan_attn_decode(a->n_split, a->n_head, a->T), a, s);
    if (e != cudaSuccess) return e;
    return launch(gk_k_attn_combine, gk_plan_attn_combine(a->n_head, a->T), a, s);
}
