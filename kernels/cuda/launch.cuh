/* Device launchers of the CUDA backend's kernels (kernels.cu), called by the op table
 * (backend.cu). Each plans its grid with plan.cuh, launches on stream s and returns the
 * launch status (cudaGetLastError); execution errors surface at the next sync point. */
#ifndef GK_LAUNCH_CUH
#define GK_LAUNCH_CUH
#include <cuda_runtime.h>
#include "kernels/cuda/plan.cuh"
#include "kernels/cuda/plan_train.cuh"
#include "kernels/cuda/plan_image.cuh"

cudaError_t gk_cu_matvec(const gk_mv_args *a, cudaStream_t s);
/* The integer path of quantized weights: x quantised to 8-bit blocks into q->xq
 * (gk_mv_xq_bytes), then any number of dp4a matvecs reading it. */
cudaError_t gk_cu_quantize_x8(const gk_xq_args *q, cudaStream_t s);
cudaError_t gk_cu_matvec_x8(const gk_mv_args *a, const uint8_t *xq, cudaStream_t s);
/* Prefill (plan.cuh's GK_PATH_MMA_X8) of quantized weights on the 8-bit tensor cores, on xq
 * as gk_cu_quantize_x8 wrote it. */
cudaError_t gk_cu_mma_x8(const gk_mv_args *a, const uint8_t *xq, cudaStream_t s);
cudaError_t gk_cu_dequant_f16(const gk_dq_args *a, cudaStream_t s);
cudaError_t gk_cu_convert_half(const gk_cvt_args *a, cudaStream_t s);
cudaError_t gk_cu_rmsnorm(const gk_row_args *a, int64_t T, cudaStream_t s);
cudaError_t gk_cu_softmax(const gk_row_args *a, int64_t T, cudaStream_t s);
cudaError_t gk_cu_elementwise(const gk_ew_args *a, cudaStream_t s);
cudaError_t gk_cu_rope(const gk_rope_args *a, cudaStream_t s);
cudaError_t gk_cu_embedding(const gk_emb_args *a, cudaStream_t s);
cudaError_t gk_cu_kv_store(const gk_kvs_args *a, cudaStream_t s);
/* The fused ops: one kernel each. */
cudaError_t gk_cu_add_rmsnorm(const gk_arn_args *a, int64_t T, cudaStream_t s);
cudaError_t gk_cu_rope_kv_store(const gk_rkv_args *a, cudaStream_t s);
/* Decode or prefill kernels by gk_attn_use_decode() (prefill on the tensor cores where a->mma,
 * gk_plan_attn_mma); a->part must hold gk_attn_part_floats() floats on the decode path. */
cudaError_t gk_cu_attention(const gk_attn_args *a, cudaStream_t s);

/* The train family (plan_train.cuh: scratch each needs, launches each enqueues). */
cudaError_t gk_cu_fill(const gk_fill_args *a, cudaStream_t s);
cudaError_t gk_cu_silu_mul_backward(const gk_smb_args *a, cudaStream_t s);
cudaError_t gk_cu_adamw(const gk_adamw_args *a, cudaStream_t s);
cudaError_t gk_cu_sum_squares(const gk_ss_args *a, cudaStream_t s);
cudaError_t gk_cu_rmsnorm_backward(const gk_rmsb_args *a, cudaStream_t s);
cudaError_t gk_cu_rope_backward(const gk_rope_args *a, cudaStream_t s);
cudaError_t gk_cu_embedding_backward(const gk_embb_args *a, int64_t T, cudaStream_t s);
cudaError_t gk_cu_cross_entropy(const gk_ce_args *a, int64_t T, cudaStream_t s);
cudaError_t gk_cu_attention_backward(const gk_attb_args *a, cudaStream_t s);
/* A weight's rows as F32 (a panel of the matmul forms). */
cudaError_t gk_cu_dequant_f32(const gk_dq32_args *a, cudaStream_t s);

/* The image family (plan_image.cuh: scratch each needs, launches each enqueues). conv2d is the
 * op table's: gk_cu_im2col panels and cuBLAS GEMMs, then gk_cu_add_channel for the bias. */
cudaError_t gk_cu_image_unary(const gk_iu_args *a, cudaStream_t s);
cudaError_t gk_cu_geglu(const gk_geglu_args *a, cudaStream_t s);
cudaError_t gk_cu_upsample2x(const gk_up_args *a, cudaStream_t s);
cudaError_t gk_cu_concat(const gk_cat_args *a, cudaStream_t s);
cudaError_t gk_cu_add_channel(const gk_addc_args *a, cudaStream_t s);
cudaError_t gk_cu_timestep_embed(const gk_temb_args *a, cudaStream_t s);
cudaError_t gk_cu_cont(const gk_cont_args *a, cudaStream_t s);
cudaError_t gk_cu_group_norm(const gk_gn_args *a, cudaStream_t s);
cudaError_t gk_cu_layer_norm(const gk_ln_args *a, cudaStream_t s);
cudaError_t gk_cu_full_attention(const gk_fa_args *a, int64_t batch, cudaStream_t s);
cudaError_t gk_cu_im2col(const gk_im2col_args *a, cudaStream_t s);

#endif
