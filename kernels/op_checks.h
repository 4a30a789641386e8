/* For backend implementers: the error setter, the argument checks of every op and the domain of
 * every op (which operand types its contract allows), shared by all backends so each rejects
 * bad calls with the same message and the op bodies can assume valid shapes. */
#ifndef GK_OP_CHECKS_H
#define GK_OP_CHECKS_H
#include <stdint.h>
#include "kernels/backend.h"

/* Fills b->err and returns -1. */
int gk_fail(gk_backend *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rows of a tensor seen as a matrix of ne[0] columns. */
int64_t gk_rows(const gk_tensor *t);
/* Byte offset of row r of t seen as a matrix, whatever its strides. */
static inline size_t gk_row_offset(const gk_tensor *t, int64_t r) {
    int64_t i1 = r % t->ne[1], i23 = r / t->ne[1];
    return (size_t)i1 * t->nb[1] + (size_t)(i23 % t->ne[2]) * t->nb[2] + (size_t)(i23 / t->ne[2]) * t->nb[3];
}

/* The op's contract accepts these operand types (see gk_backend_supports); false with the
 * reason in b->err. */
bool gk_op_accepts(gk_backend *b, gk_op op, const int *types, int n_types);

/* ---- matmul ---- */
typedef struct gk_mm_dims {
    int64_t m, n, k;     /* Y is M×N; op(X) M×K; op(W) N×K */
} gk_mm_dims;
/* p with NULL resolved to the default form. */
gk_matmul_params gk_matmul_resolve(const gk_matmul_params *p);
bool gk_matmul_is_default(const gk_matmul_params *p);
/* Any form, any strides (block-type w: whole-block rows, as every view has). Fills *d. */
int gk_check_matmul(gk_backend *b, const gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                    const gk_matmul_params *p, gk_mm_dims *d);
/* The same, for backends that run only the default form on contiguous tensors. */
int gk_check_matmul_default(gk_backend *b, const gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                            const gk_matmul_params *p, gk_mm_dims *d);

/* Argument checks of the other core ops (every tensor contiguous): 0 when the op can run, else
 * -1 with b->err filled. */
int gk_check_embedding(gk_backend *b, const gk_tensor *y, const gk_tensor *table, const gk_tensor *ids);
int gk_check_rmsnorm(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *w);
int gk_check_rope(gk_backend *b, const gk_tensor *x, int n_head, int head_dim, int pos0, float base,
                  const gk_tensor *freq_factors);
int gk_check_kv_store(gk_backend *b, const gk_tensor *cache, const gk_tensor *src, int pos0);
int gk_check_attention(gk_backend *b, const gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                       const gk_tensor *v, const gk_attn_params *p);
/* The fused ops: add_rmsnorm's y, x, residual r and weight w; rope_kv_store's q, caches, k, v. */
int gk_check_add_rmsnorm(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *r,
                         const gk_tensor *w);
int gk_check_rope_kv_store(gk_backend *b, const gk_tensor *q, const gk_tensor *kcache,
                           const gk_tensor *vcache, const gk_tensor *k, const gk_tensor *v,
                           const gk_rope_kv_params *p);
/* Same-shape F32 tensors (c may be NULL). */
int gk_check_same_f32(gk_backend *b, const char *op, const gk_tensor *y, const gk_tensor *a,
                      const gk_tensor *c);
/* t is contiguous, else -1: "<op>: <what> is a strided view; this op needs contiguous tensors". */
int gk_check_contiguous(gk_backend *b, const char *op, const char *what, const gk_tensor *t);

/* ---- the image family (every tensor F32 and contiguous unless noted; shapes in backend.h) ---- */
int gk_check_conv2d(gk_backend *b, const gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                    const gk_tensor *bias, const gk_conv2d_params *p);
int gk_check_group_norm(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                        const gk_tensor *beta, int n_groups);
int gk_check_layer_norm(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma,
                        const gk_tensor *beta);
/* gelu, gelu_quick, silu: y of x's shape (y may equal x). */
int gk_check_unary(gk_backend *b, const char *op, const gk_tensor *y, const gk_tensor *x);
int gk_check_geglu(gk_backend *b, const gk_tensor *y, const gk_tensor *x);
int gk_check_upsample2x(gk_backend *b, const gk_tensor *y, const gk_tensor *x);
int gk_check_concat(gk_backend *b, const gk_tensor *y, const gk_tensor *a, const gk_tensor *c);
int gk_check_add_channel(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *v);
int gk_check_timestep_embed(gk_backend *b, const gk_tensor *y, const gk_tensor *t, int dim, float max_period);
/* Fills *tq, *tk and *batch (images: ne[2]·ne[3]). */
int gk_check_full_attention(gk_backend *b, const gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                            const gk_tensor *v, const gk_full_attn_params *p, int64_t *tq, int64_t *tk,
                            int64_t *batch);
/* x: an F32 tensor of y's shape, any strides; y contiguous. */
int gk_check_cont(gk_backend *b, const gk_tensor *y, const gk_tensor *x);

/* ---- the train family (every tensor F32 and contiguous; shapes in backend.h) ---- */
int gk_check_rmsnorm_backward(gk_backend *b, const gk_tensor *dx, const gk_tensor *dw, const gk_tensor *dy,
                              const gk_tensor *x, const gk_tensor *w);
/* rope_backward takes rope's arguments: gk_check_rope. */
int gk_check_attention_backward(gk_backend *b, const gk_tensor *dq, const gk_tensor *dk, const gk_tensor *dv,
                                const gk_tensor *dout, const gk_tensor *q, const gk_tensor *k,
                                const gk_tensor *v, const gk_attn_params *p);
int gk_check_silu_mul_backward(gk_backend *b, const gk_tensor *dgate, const gk_tensor *dup, const gk_tensor *dy,
                               const gk_tensor *gate, const gk_tensor *up);
int gk_check_embedding_backward(gk_backend *b, const gk_tensor *dtable, const gk_tensor *dy, const gk_tensor *ids);
/* dlogits may be NULL, or equal logits. */
int gk_check_cross_entropy(gk_backend *b, const gk_tensor *losses, const gk_tensor *dlogits,
                           const gk_tensor *logits, const gk_tensor *targets);
int gk_check_adamw(gk_backend *b, const gk_tensor *w, const gk_tensor *g, const gk_tensor *m, const gk_tensor *v,
                   const gk_adamw_params *p);
int gk_check_sum_squares(gk_backend *b, const gk_tensor *out, const gk_tensor *x);
int gk_check_fill(gk_backend *b, const gk_tensor *t);

/* Rotary angle of pair i (theta = pos * base^(-2i/head_dim) / ff), as ggml computes it: ff is
 * the pair's frequency factor (1 without factors; dividing by 1 is exact). */
float gk_rope_theta(int pos, int i, int head_dim, float base, float ff);

#endif
