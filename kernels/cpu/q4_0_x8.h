/* Q4_0 weights in groups of eight rows: the storage gk_prepare_weight gives a Q4_0 matrix on a
 * table with a matvec_x8 kernel (AVX2, AVX-512, AArch64 SDOT), and the conversions to and from
 * the row layout that upload, download, embedding and the packed GEMM use.
 *
 * Per group of rows 8g..8g+7 and per block of 32 inputs, 144 bytes (the same bytes as the eight
 * rows' 18-byte blocks, moved):
 *  - 16 bytes: the eight rows' block scales (F16), row r's at 2r;
 *  - 128 bytes: four 32-byte vectors; in vector v, byte 4r + i is row r's quant byte 4v + i of
 *    the block: its low nibble is weight 4v+i, its high nibble weight 16+4v+i.
 * A group is eight rows' bytes; groups follow one another, blocks inside a group in order.
 * Why: one 32-byte load gives eight rows' four weights a lane (low nibbles) and four more (high),
 * so the matrix-vector kernel's lanes are rows: a block's eight rows meet their eight scales in
 * one vector, and no sum across lanes is left to do (matvec_x8_avx2.c). */
#ifndef GK_Q4_0_X8_H
#define GK_Q4_0_X8_H
#include <stddef.h>
#include <stdint.h>

enum {
    GK_LAYOUT_Q4_0_X8 = 1,   /* gk_tensor.layout on the cpu backend */
    GK_X8_ROWS = 8,
    GK_X8_BLOCK = 8 * 18,    /* bytes of one block of one group */
};

/* Eight rows of nb Q4_0 blocks (row r at rows + r*wrow) into one group. */
void gk_q4_0_x8_pack(const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *group);
/* One group back into its eight rows. */
void gk_q4_0_x8_unpack(const uint8_t *group, int64_t nb, uint8_t *rows, size_t wrow);
/* Row r (< 8) of one group, as nb Q4_0 blocks. */
void gk_q4_0_x8_row(const uint8_t *group, int64_t nb, int r, uint8_t *row);
/* Blocks b0..b0+nb of a group's first `rows` (<= 8) rows in row layout, row r's at
 * out + r*out_row (the tiles of a table without a packed GEMM run on these). */
void gk_q4_0_x8_rows(const uint8_t *group, int rows, int64_t b0, int64_t nb, uint8_t *out, size_t out_row);
/* The packed GEMM's Q4_0 panel (microkernels.h: per block, R*32 bytes of unsigned nibbles then R
 * float scales) of `rows` rows (a multiple of 8, <= R) starting at group `group`, blocks
 * b0..b0+nb of rows of nb_row blocks; rows past those packed are zero. The scales are converted
 * by f16_to_f32 (the table's: F16C on x86). */
typedef void (*gk_f16_rows_fn)(const uint16_t *x, float *y, int64_t n);
void gk_q4_0_x8_igemm_pack(const uint8_t *group, int64_t nb_row, int rows, int R, int64_t b0, int64_t nb,
                           gk_f16_rows_fn f16_to_f32, uint8_t *panel);

#endif
