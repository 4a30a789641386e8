/* Q4_K weights in groups of eight rows: the storage gk_prepare_weight gives a Q4_K matrix on a
 * table with a Q4_K matvec_x8 kernel (AVX2, AVX-512), and the conversions to and from the row
 * layout that upload, download, embedding and the packed GEMM (through the rows) use.
 *
 * Per group of rows 8g..8g+7 and per super-block of 256 inputs, 1152 bytes (the eight rows'
 * 144-byte super-blocks, rearranged; the same size, so the storage does not change). With
 * sc[8j + r] and mn[8j + r] row r's 6-bit scale and min of sub-block j (quant.h's packing
 * decoded), t = 0..31:
 *  - [0, 16): the eight rows' d (F16), row r's at 2r; [16, 32): their dmin likewise;
 *  - [32, 64): byte t holds sc[t] & 15 in its low nibble, sc[t + 32] & 15 in its high;
 *  - [64, 96): the same for mn;
 *  - [96, 128): byte t holds the top two bits of sc[t] (bits 0-1), sc[t + 32] (2-3), mn[t]
 *    (4-5) and mn[t + 32] (6-7);
 *  - [128, 1152): four 256-byte chunks of 64 inputs, each eight 32-byte vectors; in vector v of
 *    chunk i, byte 4r + k is row r's quant byte 32i + 4v + k: its low nibble is the weight of
 *    input 64i + 4v + k (sub-block 2i), its high nibble that of input 64i + 32 + 4v + k.
 * Why: as for Q4_0 (q4_0_x8.h), one 32-byte load gives eight rows' weights with rows as lanes;
 * and one mask and shift of three vectors gives every scale and min of the super-block's eight
 * rows as bytes, sub-block j's eight at bytes 8j..8j+7 (matvec_x8_q4_k_avx2.c). */
#ifndef GK_Q4_K_X8_H
#define GK_Q4_K_X8_H
#include <stddef.h>
#include <stdint.h>

enum {
    GK_LAYOUT_Q4_K_X8 = 2,     /* gk_tensor.layout on the cpu backend (Q4_0's is 1, q4_0_x8.h) */
    GK_X8K_BLOCK = 8 * 144,    /* bytes of one super-block of one group */
};

/* Eight rows of nb Q4_K super-blocks (row r at rows + r*wrow) into one group. */
void gk_q4_k_x8_pack(const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *group);
/* One group back into its eight rows. */
void gk_q4_k_x8_unpack(const uint8_t *group, int64_t nb, uint8_t *rows, size_t wrow);
/* Row r (< 8) of one group, as nb Q4_K super-blocks. */
void gk_q4_k_x8_row(const uint8_t *group, int64_t nb, int r, uint8_t *row);
/* Super-blocks b0..b0+nb of a group's first `rows` (<= 8) rows in row layout, row r's at
 * out + r*out_row (the packed GEMM packs its panels from these). */
void gk_q4_k_x8_rows(const uint8_t *group, int rows, int64_t b0, int64_t nb, uint8_t *out, size_t out_row);

#endif
