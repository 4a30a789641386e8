/* For backend implementers: the error setter and the argument checks of every op, shared by
 * all backends so each rejects bad calls with the same message and the op bodies can assume
 * valid shapes. */
#ifndef GK_OP_CHECKS_H
#define GK_OP_CHECKS_H
#include <stdint.h>
#include "kernels/backend.h"

/* Fills b->err and returns -1. */
int gk_fail(gk_backend *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rows of a tensor seen as a matrix of ne[0] columns. */
int64_t gk_rows(const gk_tensor *t);

/* Argument checks: 0 when the op can run, else -1 with b->err filled. */
int gk_check_matmul(gk_backend *b, const gk_tensor *y, const gk_tensor *w, const gk_tensor *x);
int gk_check_embedding(gk_backend *b, const gk_tensor *y, const gk_tensor *table, const gk_tensor *ids);
int gk_check_rmsnorm(gk_backend *b, const gk_tensor *y, const gk_tensor *x, const gk_tensor *w);
int gk_check_rope(gk_backend *b, const gk_tensor *x, int n_head, int head_dim, int pos0, float base,
                  const gk_tensor *freq_factors);
int gk_check_kv_store(gk_backend *b, const gk_tensor *cache, const gk_tensor *src, int pos0);
int gk_check_attention(gk_backend *b, const gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                       const gk_tensor *v, const gk_attn_params *p);
/* Same-shape F32 tensors (c may be NULL). */
int gk_check_same_f32(gk_backend *b, const char *op, const gk_tensor *y, const gk_tensor *a,
                      const gk_tensor *c);

/* Rotary angle of pair i (theta = pos * base^(-2i/head_dim) / ff), as ggml computes it: ff is
 * the pair's frequency factor (1 without factors; dividing by 1 is exact). */
float gk_rope_theta(int pos, int i, int head_dim, float base, float ff);

#endif
