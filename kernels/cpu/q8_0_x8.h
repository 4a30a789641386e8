/* Q8_0 weights in groups of eight rows: the storage gk_prepare_weight gives a Q8_0 matrix on a
 * table with a Q8_0 matvec_x8 kernel (AVX-512, AArch64 SDOT), and the conversions to and from
 * the row layout that upload, download, embedding and the packed GEMM (through the rows) use.
 *
 * Per group of rows 8g..8g+7 and per block of 32 inputs, 272 bytes (the same bytes as the eight
 * rows' 34-byte blocks, moved):
 *  - 16 bytes: the eight rows' block scales (F16), row r's at 2r;
 *  - 256 bytes: eight 32-byte vectors; in vector v, byte 4r + i is row r's quant 4v + i (int8).
 * A group is eight rows' bytes; groups follow one another, blocks inside a group in order.
 * Why: as for Q4_0 (q4_0_x8.h), one load gives eight rows' four weights a lane, so the
 * matrix-vector kernel's lanes are rows and no sum across lanes is left to do
 * (matvec_x8_q8_0_avx512.c). */
#ifndef GK_Q8_0_X8_H
#define GK_Q8_0_X8_H
#include <stddef.h>
#include <stdint.h>

enum {
    GK_LAYOUT_Q8_0_X8 = 3,  /* gk_tensor.layout on the cpu backend (q4_0_x8.h: 1, q4_k_x8.h: 2) */
    GK_X8Q8_BLOCK = 8 * 34, /* bytes of one block of one group */
};

/* Eight rows of nb Q8_0 blocks (row r at rows + r*wrow) into one group. */
void gk_q8_0_x8_pack(const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *group);
/* One group back into its eight rows. */
void gk_q8_0_x8_unpack(const uint8_t *group, int64_t nb, uint8_t *rows, size_t wrow);
/* Row r (< 8) of one group, as nb Q8_0 blocks. */
void gk_q8_0_x8_row(const uint8_t *group, int64_t nb, int r, uint8_t *row);
/* Blocks b0..b0+nb of a group's first `rows` (<= 8) rows in row layout, row r's at
 * out + r*out_row (the packed GEMM packs its panels from these). */
void gk_q8_0_x8_rows(const uint8_t *group, int rows, int64_t b0, int64_t nb, uint8_t *out, size_t out_row);

#endif
