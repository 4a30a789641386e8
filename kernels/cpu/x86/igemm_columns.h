/* The column split shared by the x86 packed-GEMM kernels (igemm_*.c): nc activation columns as
 * whole groups of GK_IGEMM_COLS, each in register blocks of nfull columns, then the rest of the
 * last group as 4 + 2 + 1. Every width is a constant at its call, so each compiles to its own
 * fully unrolled register block.
 * COLS(n, xg, co, yc): n columns starting at column co of the activation group at xg, into the
 * output columns at yc. Portable C; the kernels' files are per ISA. */
#ifndef GK_IGEMM_COLUMNS_H
#define GK_IGEMM_COLUMNS_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/cpu/microkernels.h"

#define GK_IGEMM_FOR_COLUMNS(nc, xp, group_bytes, y, ldy, nfull, COLS)                                    \
    do {                                                                                                 \
        int c_ = 0;                                                                                      \
        for (; c_ + GK_IGEMM_COLS <= (nc); c_ += GK_IGEMM_COLS) {                                        \
            const uint8_t *grp_ = (xp) + (size_t)(c_ / GK_IGEMM_COLS) * (group_bytes);                   \
            for (int co_ = 0; co_ < GK_IGEMM_COLS; co_ += (nfull)) COLS(nfull, grp_, co_, (y) + (c_ + co_) * (ldy)); \
        }                                                                                                \
        const uint8_t *last_ = (xp) + (size_t)(c_ / GK_IGEMM_COLS) * (group_bytes);                      \
        int co_ = 0;                                                                                     \
        if (co_ + 4 <= (nc) - c_) COLS(4, last_, co_, (y) + (c_ + co_) * (ldy)), co_ += 4;               \
        if (co_ + 2 <= (nc) - c_) COLS(2, last_, co_, (y) + (c_ + co_) * (ldy)), co_ += 2;               \
        if (co_ < (nc) - c_) COLS(1, last_, co_, (y) + (c_ + co_) * (ldy));                              \
    } while (0)

#endif
