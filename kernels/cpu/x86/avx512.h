/* The AVX-512 micro-kernels (files *_avx512.c), gathered into a table by ukernels_avx512.c.
 * Private to kernels/cpu. Entries not listed stay NULL and come from the AVX2 table. */
#ifndef GK_UKERNEL_AVX512_H
#define GK_UKERNEL_AVX512_H
#include <stddef.h>
#include <stdint.h>

void gk_avx512_vec_dot_q4_0(int64_t k, const void *w, const void *xq, float *out);
void gk_avx512_dot_tile_q4_0(int64_t k, const void *w, size_t w_stride, int nr, const void *xq, size_t x_stride,
                             int nc, float *y, int64_t ldy);
void gk_avx512_vec_dot_q8_0(int64_t k, const void *w, const void *xq, float *out);
void gk_avx512_dot_tile_q8_0(int64_t k, const void *w, size_t w_stride, int nr, const void *xq, size_t x_stride,
                             int nc, float *y, int64_t ldy);
/* Many rows · one column (qdot_avx512.c): the activations prepared once per call. */
void gk_avx512_matvec_q4_0(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);
void gk_avx512_matvec_q8_0(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);
/* Matrix-vector on Q4_0 / Q4_K / Q8_0 / Q6_K weights in groups of eight rows (matvec_x8_avx512.c,
 * matvec_x8_<type>_avx512.c; q4_0_x8.h, q4_k_x8.h, q8_0_x8.h, q6_k_x8.h). */
void gk_avx512_matvec_x8_q4_0(int64_t k, const void *w, int64_t ng, const void *xq, float *y);
void gk_avx512_matvec_x8_q4_k(int64_t k, const void *w, int64_t ng, const void *xq, float *y);
void gk_avx512_matvec_x8_q8_0(int64_t k, const void *w, int64_t ng, const void *xq, float *y);
void gk_avx512_matvec_x8_q6_k(int64_t k, const void *w, int64_t ng, const void *xq, float *y);
void gk_avx512_vec_dot_q4_k(int64_t k, const void *w, const void *xq, float *out);
void gk_avx512_dot_tile_q4_k(int64_t k, const void *w, size_t w_stride, int nr, const void *xq, size_t x_stride,
                             int nc, float *y, int64_t ldy);
void gk_avx512_vec_dot_q6_k(int64_t k, const void *w, const void *xq, float *out);
void gk_avx512_dot_tile_q6_k(int64_t k, const void *w, size_t w_stride, int nr, const void *xq, size_t x_stride,
                             int nc, float *y, int64_t ldy);
/* Packed integer GEMM (igemm_avx512.c): 16-row panels, layout in microkernels.h. */
void gk_avx512_igemm_pack_q4_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_avx512_igemm_pack_q8_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_avx512_igemm_q4_0(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                          int64_t ldy, int nr);
void gk_avx512_igemm_q8_0(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                          int64_t ldy, int nr);
/* Packed integer GEMM for K-quants (igemm_kquants_avx512.c): 16-row panels of the sizes below
 * per super-block. */
enum { GK_AVX512_IGEMM_Q4_K_BLOCK = 5184, GK_AVX512_IGEMM_Q6_K_BLOCK = 5696 };
void gk_avx512_igemm_pack_q4_k(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_avx512_igemm_pack_q6_k(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_avx512_igemm_q4_k(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                          int64_t ldy, int nr);
void gk_avx512_igemm_q6_k(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y,
                          int64_t ldy, int nr);
/* F16 weights · F32 activations, many rows · one column (matvec_f16_avx512.c). */
void gk_avx512_matvec_f16(int64_t k, const void *w, size_t w_stride, int64_t nr, const void *xq, float *y);
void gk_avx512_sgemm_6x32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc);
void gk_avx512_sgemm_h_6x32(int64_t kc, const float *a, const uint16_t *b, float *c, int64_t ldc);
void gk_avx512_f16_to_f32(const uint16_t *x, float *y, int64_t n);

#endif
