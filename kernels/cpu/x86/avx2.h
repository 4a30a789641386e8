/* The AVX2 micro-kernels (files *_avx2.c), gathered into a table by ukernels_avx2.c. Private
 * to kernels/cpu: everything else reaches them through gk_ukernels_avx2(). The meaning of each
 * entry is the scalar reference's (ukernel.h). */
#ifndef GK_UKERNEL_AVX2_H
#define GK_UKERNEL_AVX2_H
#include <stddef.h>
#include <stdint.h>

void gk_avx2_quantize_q8_0(const float *x, void *xq, int64_t k);
void gk_avx2_quantize_q8_k(const float *x, void *xq, int64_t k);

#define GK_AVX2_DOT(name)                                                                    \
    void gk_avx2_vec_dot_##name(int64_t k, const void *w, const void *xq, float *out);       \
    void gk_avx2_dot_tile_##name(int64_t k, const void *w, size_t w_stride, int nr,          \
                                 const void *xq, size_t x_stride, int nc, float *y, int64_t ldy);
GK_AVX2_DOT(q4_0)
GK_AVX2_DOT(q4_1)
GK_AVX2_DOT(q8_0)
GK_AVX2_DOT(q4_k)
GK_AVX2_DOT(q6_k)
GK_AVX2_DOT(f32)
GK_AVX2_DOT(f16)
GK_AVX2_DOT(bf16)
#undef GK_AVX2_DOT

/* Matrix-vector (matvec_avx2.c): the activations prepared once per call, four rows at a time. */
void gk_avx2_matvec_q4_0(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);
void gk_avx2_matvec_q4_1(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);
void gk_avx2_matvec_q8_0(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);
void gk_avx2_matvec_x8_q4_0(int64_t k, const void *w, int64_t ng, const void *xq, float *y);   /* matvec_x8_avx2.c */
void gk_avx2_matvec_x8_q4_k(int64_t k, const void *w, int64_t ng, const void *xq, float *y);   /* matvec_x8_q4_k_avx2.c */
void gk_avx2_matvec_q4_k(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);  /* kquants_avx2.c */
void gk_avx2_matvec_q6_k(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);
void gk_avx2_matvec_f16(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);
void gk_avx2_matvec_bf16(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);
void gk_avx2_matvec_f32(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);

void gk_avx2_sgemm_6x16(int64_t kc, const float *a, const float *b, float *c, int64_t ldc);
void gk_avx2_sgemm_pack_b(int type, const char *w, size_t wrow, int rows, int64_t k0, int64_t kc, int nr,
                          float *panel);
void gk_avx2_sgemm_h_6x16(int64_t kc, const float *a, const uint16_t *b, float *c, int64_t ldc);
void gk_avx2_sgemm_pack_h(const char *w, size_t wrow, int rows, int64_t k0, int64_t kc, int nr, uint16_t *panel);

/* The packed integer GEMM for Q4_0 weights (igemm_avx2.c; layouts in microkernels.h). */
void gk_avx2_igemm_pack_q4_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_avx2_igemm_q4_0(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                        int64_t ldy, int nr);

/* The packed integer GEMM for Q8_0 weights (igemm_avx2.c): its own panel layout of
 * GK_AVX2_IGEMM_Q8_0_BLOCK bytes per block (the weights split into nibbles). */
enum { GK_AVX2_IGEMM_Q8_0_BLOCK = 16 * 32 * 2 + 16 * 4 };
void gk_avx2_igemm_pack_q8_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_avx2_igemm_q8_0(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                        int64_t ldy, int nr);

/* The packed integer GEMM for K-quants (igemm_kquants_avx2.c): 16-row panels of the sizes below
 * per super-block. */
enum { GK_AVX2_IGEMM_Q4_K_BLOCK = 5248, GK_AVX2_IGEMM_Q6_K_BLOCK = 5760 };
void gk_avx2_igemm_pack_q4_k(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_avx2_igemm_pack_q6_k(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_avx2_igemm_q4_k(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                        int64_t ldy, int nr);
void gk_avx2_igemm_q6_k(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                        int64_t ldy, int nr);

void gk_avx2_f16_to_f32(const uint16_t *x, float *y, int64_t n);
void gk_avx2_f32_to_f16(const float *x, uint16_t *y, int64_t n);
void gk_avx2_bf16_to_f32(const uint16_t *x, float *y, int64_t n);
float gk_avx2_dot_f32(const float *a, const float *b, int64_t n);
void gk_avx2_axpy_f32(float a, const float *x, float *y, int64_t n);
float gk_avx2_dot_f32_f16(const float *a, const uint16_t *b, int64_t n);
void gk_avx2_axpy_f16(float a, const uint16_t *x, float *y, int64_t n);
void gk_avx2_axpy_rows_f16(const float *a, const uint16_t *x, size_t stride, int64_t rows, float *y, int64_t n);
float gk_avx2_dot_f32_q8_0(const float *a, const void *b, int64_t n);
void gk_avx2_axpy_q8_0(float a, const void *x, float *y, int64_t n);
float gk_avx2_scale_max(const float *x, float *y, int64_t n, float s);
float gk_avx2_exp_sum(float *x, int64_t n, float m);
void gk_avx2_softmax_cols(float *s, int64_t rows, int nc, float *m, float *l, float *alpha);
void gk_avx2_silu_mul(const float *g, const float *u, float *y, int64_t n);
void gk_avx2_exp8(const float *x, float *y);   /* eight exps (the tests' view of the polynomial) */

#endif
