/* The AMX micro-kernels (files *_amx.c, built with the AVX-512 flags plus AMX-TILE/INT8/BF16),
 * gathered into a table by table_amx.c. Private to kernels/cpu. Entries not listed stay NULL
 * and come from the AVX-512 table. */
#ifndef GK_UKERNEL_AMX_H
#define GK_UKERNEL_AMX_H
#include <stddef.h>
#include <stdint.h>

/* Many-column GEMM on AMX-BF16 tiles (gemm_bf16_amx.c): the weights dequantised to BF16 while
 * packing, the activations converted to BF16 in the BF16X16 layout (microkernels.h). */
enum { GK_AMX_BGEMM_ROWS = 32, GK_AMX_BGEMM_BLOCK = GK_AMX_BGEMM_ROWS * 32 * 2 };
void gk_amx_bgemm_pack_q4_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_amx_bgemm_pack_q8_0(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_amx_bgemm_pack_f16(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_amx_bgemm_pack_bf16(const char *w, size_t wrow, int rows, int64_t b0, int64_t nb, void *panel);
void gk_amx_bgemm_pack_act(const float *x, int64_t k, void *group, int c);
void gk_amx_bgemm(int64_t nb, const void *panel, const void *xp, size_t group_bytes, int nc, float *y, int64_t ldy,
                  int nr);

#endif
