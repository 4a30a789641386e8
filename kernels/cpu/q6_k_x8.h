/* Q6_K weights in groups of eight rows: the storage gk_prepare_weight gives a Q6_K matrix on a
 * table with a Q6_K matvec_x8 kernel (AVX-512), and the conversions to and from the row layout
 * that upload, download, embedding and the packed GEMM (through the rows) use.
 *
 * Per group of rows 8g..8g+7 and per super-block of 256 inputs, 1680 bytes (the eight rows'
 * 210-byte super-blocks, moved; the same size). With ql, qh, sc and d a row's fields (quant.h:
 * half h of the super-block, inputs 128h..128h+127, uses ql[64h..64h+64), qh[32h..32h+32) and
 * scales 8h..8h+7):
 *  - [0, 16): the eight rows' d (F16), row r's at 2r;
 *  - [16, 144): the scales (int8), row r's scale j (of inputs 16j..16j+15) at byte 8j + r;
 *  - [144, 1680): eight steps of 192 bytes, step 4h + u (half h, u < 4) holding six 32-byte
 *    vectors: at 0 and 32 the ql vectors 2u and 2u+1 of half h, at 64 and 96 its ql vectors
 *    8+2u and 9+2u, at 128 and 160 its qh vectors 2u and 2u+1, where in ql vector v of half h
 *    byte 4r + i is row r's ql[64h + 4v + i] (v < 16), and in qh vector v byte 4r + i is row
 *    r's qh[32h + 4v + i] (v < 8).
 * Why: as for Q4_0 (q4_0_x8.h), one load gives eight rows' four bytes a lane, so the kernel's
 * lanes are rows; ql vectors v and 8 + v and qh vector v hold the same four l's (ggml's l =
 * 4v + i of quant.h's loop), whose four 6-bit weights (inputs l, l+32, l+64, l+96 of the half)
 * are a mask, a shift and an OR away; and a step's three 64-byte loads come one after another,
 * so a group is read as one sequential stream (matvec_x8_q6_k_avx512.c). */
#ifndef GK_Q6_K_X8_H
#define GK_Q6_K_X8_H
#include <stddef.h>
#include <stdint.h>

enum {
    GK_LAYOUT_Q6_K_X8 = 4,   /* gk_tensor.layout on the cpu backend (q4_0_x8.h 1, q4_k_x8.h 2, q8_0_x8.h 3) */
    GK_X8Q6_BLOCK = 8 * 210, /* bytes of one super-block of one group */
    GK_X8Q6_SC = 16,
    GK_X8Q6_STEPS = 144,
    GK_X8Q6_STEP = 192, /* field offsets and sizes in it */
};

/* Eight rows of nb Q6_K super-blocks (row r at rows + r*wrow) into one group. */
void gk_q6_k_x8_pack(const uint8_t *rows, size_t wrow, int64_t nb, uint8_t *group);
/* One group back into its eight rows. */
void gk_q6_k_x8_unpack(const uint8_t *group, int64_t nb, uint8_t *rows, size_t wrow);
/* Row r (< 8) of one group, as nb Q6_K super-blocks. */
void gk_q6_k_x8_row(const uint8_t *group, int64_t nb, int r, uint8_t *row);
/* Super-blocks b0..b0+nb of a group's first `rows` (<= 8) rows in row layout, row r's at
 * out + r*out_row (the packed GEMM packs its panels from these). */
void gk_q6_k_x8_rows(const uint8_t *group, int rows, int64_t b0, int64_t nb, uint8_t *out, size_t out_row);

#endif
