/* Prepared Q8_0 weights on the cpu backend: the groups-of-eight layout (kernels/cpu/q8_0_x8.h)
 * byte by byte, pack/unpack as inverses on any bytes, the gathered rows the packed GEMM packs
 * from, upload/download of a prepared tensor through whole and partial groups, and the refusal
 * of the layout on a table without its kernel. The matmul results of prepared Q8_0 weights
 * against the ref oracle are in test_kernels_ops.c (every shape there runs prepared too). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernels/backend.h"
#include "kernels/cpu/microkernels.h"
#include "kernels/cpu/q8_0_x8.h"

#define RAND32_SEED 8282u
#include "tests/rand32.h"

#include "tests/kernel_pairs.h"
#include "tests/prepared_check.h"

enum { BB = 34 };

/* The layout of q8_0_x8.h, read back field by field from 8 rows of 3 random blocks: row r's
 * scale at 2r, its quant 4v+i at byte 16 + 32v + 4r + i. */
static void test_layout_by_hand(void **state) {
    (void)state;
    enum { NB = 3, WROW = NB * BB };
    unsigned char *rows = prepared_rand_bytes(8 * WROW), group[NB * GK_X8Q8_BLOCK];
    gk_q8_0_x8_pack(rows, WROW, NB, group);
    for (int b = 0; b < NB; b++)
        for (int r = 0; r < 8; r++) {
            const unsigned char *q = rows + r * WROW + b * BB, *g = group + b * GK_X8Q8_BLOCK;
            assert_memory_equal(g + 2 * r, q, 2);
            for (int v = 0; v < 8; v++)
                for (int i = 0; i < 4; i++) assert_int_equal(g[16 + 32 * v + 4 * r + i], q[2 + 4 * v + i]);
        }
    free(rows);
}

/* unpack(pack(rows)) == rows for any bytes; one row, and a range of blocks of the first rows,
 * read back likewise. */
static void test_pack_inverse(void **state) {
    (void)state;
    enum { NB = 5, WROW = NB * BB };
    unsigned char *rows = prepared_rand_bytes(8 * WROW), *group = malloc(NB * GK_X8Q8_BLOCK),
                  *back = malloc(8 * WROW);
    gk_q8_0_x8_pack(rows, WROW, NB, group);
    gk_q8_0_x8_unpack(group, NB, back, WROW);
    assert_memory_equal(back, rows, 8 * WROW);
    memset(back, 0, 8 * WROW);
    gk_q8_0_x8_row(group, NB, 3, back);
    assert_memory_equal(back, rows + 3 * WROW, WROW);
    unsigned char part[5 * 2 * BB]; /* blocks 3..4 of rows 0..4 */
    gk_q8_0_x8_rows(group, 5, 3, 2, part, 2 * BB);
    for (int r = 0; r < 5; r++) assert_memory_equal(part + r * 2 * BB, rows + r * WROW + 3 * BB, 2 * BB);
    free(rows), free(group), free(back);
}

static int x8q8_configs; /* configurations whose table stores Q8_0 in groups */

/* Upload and download of a prepared Q8_0 tensor see the row layout, whole and in ranges that
 * cut groups and rows; then its matrix-vector product equals the same bytes unprepared. */
static void upload_download(pair *p) {
    enum { K = 96, N = 24, NB = K / 32 };
    if (!gk_ukernels_select(p->isa)->t[GK_Q8_0].matvec_x8) return;
    x8q8_configs++;
    unsigned char *a = prepared_rows(GK_Q8_0, N, K), *c = prepared_rows(GK_Q8_0, N, K);
    check_prepared_copies(p->cpu, GK_Q8_0, K, N, a, c, GK_LAYOUT_Q8_0_X8);
    free(a), free(c);
}

static void test_prepared_upload_download(void **state) {
    (void)state;
    for_each_config(upload_download);
    if (!x8q8_configs) skip(); /* no table here stores Q8_0 in groups (AVX-512 VNNI, SDOT only) */
}

/* Q8_0's layout on a table without its kernel is refused by name, not called. */
static void test_layout_refused_without_kernel(void **state) {
    (void)state;
    check_layout_refused(GK_Q8_0, 64, GK_LAYOUT_Q8_0_X8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_by_hand),
        cmocka_unit_test(test_pack_inverse),
        cmocka_unit_test(test_prepared_upload_download),
        cmocka_unit_test(test_layout_refused_without_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
