/* Prepared weights (gk_prepare_weight) on the cpu backend: the groups-of-eight layout of Q4_0
 * (kernels/cpu/q4_0_x8.h) byte by byte, its packed-GEMM panel against every table's pack of the
 * same rows, upload/download through the new layout (whole and partial groups), and what a
 * prepared weight refuses. The matmul and embedding results of prepared weights against the ref
 * oracle are in test_kernels_ops.c (every shape there runs prepared too). */
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
#include "kernels/cpu/q4_0_x8.h"

#define RAND32_SEED 4242u
#include "tests/rand32.h"

#include "tests/kernel_pairs.h"
#include "tests/prepared_check.h"

enum { Q4 = 18 };

static bool x8_table(const char *isa) { return gk_ukernels_select(isa)->t[GK_Q4_0].matvec_x8 != NULL; }

/* q4_0_x8.h's layout by hand: 8 rows of 2 blocks whose bytes are all different. */
static void test_layout_by_hand(void **state) {
    (void)state;
    enum { NB = 2, WROW = NB * Q4 };
    unsigned char rows[8 * WROW], group[8 * WROW], back[8 * WROW], row[WROW];
    for (int i = 0; i < 8 * WROW; i++) rows[i] = (unsigned char)(i * 7 + 3);
    gk_q4_0_x8_pack(rows, WROW, NB, group);
    for (int b = 0; b < NB; b++)
        for (int r = 0; r < 8; r++) {
            const unsigned char *blk = rows + r * WROW + b * Q4, *g = group + b * GK_X8_BLOCK;
            assert_memory_equal(g + 2 * r, blk, 2);   /* row r's scale at 2r */
            for (int v = 0; v < 4; v++)
                for (int i = 0; i < 4; i++)
                    assert_int_equal(g[16 + 32 * v + 4 * r + i], blk[2 + 4 * v + i]);   /* vector v, byte 4r+i */
        }
    gk_q4_0_x8_unpack(group, NB, back, WROW);
    assert_memory_equal(back, rows, sizeof rows);
    gk_q4_0_x8_row(group, NB, 5, row);
    assert_memory_equal(row, rows + 5 * WROW, WROW);
    unsigned char part[3 * Q4];   /* block 1 of rows 0..2, gathered */
    gk_q4_0_x8_rows(group, 3, 1, 1, part, Q4);
    for (int r = 0; r < 3; r++) assert_memory_equal(part + r * Q4, rows + r * WROW + Q4, Q4);
}

/* The panel packed from groups equals each table's pack of the same rows (16 and 8 rows, an
 * offset range of blocks), for every table whose Q4_0 packed GEMM uses the common panel. */
static void test_igemm_pack_from_groups(void **state) {
    (void)state;
    enum { NB = 70, B0 = 3, KB = 64, WROW = NB * Q4 };
    unsigned char *rows = prepared_rows(GK_Q4_0, 16, NB * 32), *groups = malloc(16 * WROW);
    gk_q4_0_x8_pack(rows, WROW, NB, groups);
    gk_q4_0_x8_pack(rows + 8 * WROW, WROW, NB, groups + 8 * WROW);
    int checked = 0;
    for (const char *const *isa = gk_ukernels_available(); *isa; isa++) {
        const gk_igemm_kernels *ik = &gk_ukernels_select(*isa)->igemm[GK_Q4_0];
        if (!ik->kernel || ik->act_layout != GK_IGEMM_ACT_COLUMNS || ik->rows % 8) continue;
        const size_t bytes = (size_t)KB * ik->block_bytes;
        assert_int_equal(ik->block_bytes, ik->rows * 36);
        unsigned char *want = malloc(bytes), *got = malloc(bytes);
        for (int n = 8; n <= 16 && n <= ik->rows; n += 8) {
            memset(want, 0xa5, bytes), memset(got, 0x5a, bytes);   /* every byte written by both */
            ik->pack((const char *)rows, WROW, n, B0, KB, want);
            gk_q4_0_x8_igemm_pack(groups, NB, n, ik->rows, B0, KB, gk_ukernels_select(*isa)->f16_to_f32, got);
            if (memcmp(want, got, bytes)) fail_msg("%s: panel of %d rows from groups differs from the row pack", *isa, n);
            checked++;
        }
        free(want), free(got);
    }
    free(rows), free(groups);
    if (!checked) skip();   /* no table here has a Q4_0 packed GEMM on the common panel (AArch64) */
}

static int x8_configs;   /* configurations whose table stores Q4_0 in groups */

/* Upload and download of a prepared tensor see the row layout: whole, and ranges that cut
 * groups and rows; then a matrix-vector product on it equals the same bytes unprepared. */
static void upload_download(pair *p) {
    enum { K = 96, N = 24, NB = K / 32 };
    gk_backend *b = p->cpu;
    if (!x8_table(p->isa)) return;
    x8_configs++;
    unsigned char *a = prepared_rows(GK_Q4_0, N, K), *c = prepared_rows(GK_Q4_0, N, K);
    check_prepared_copies(b, GK_Q4_0, K, N, a, c, GK_LAYOUT_Q4_0_X8);
    free(a), free(c);
}

static void test_prepared_upload_download(void **state) {
    (void)state;
    for_each_config(upload_download);
    if (!x8_configs) skip();   /* no table here stores Q4_0 in groups (scalar only, AArch64 without SDOT) */
}

/* A prepared weight refuses views and the transposed matmul form, each with its reason. */
static void test_prepared_refusals(void **state) {
    (void)state;
    gk_backend *b = open_backend("cpu", NULL, 1);
    if (!x8_table(b->isa)) {
        gk_backend_close(b);
        skip();
    }
    unsigned char *a = prepared_rows(GK_Q4_0, 16, 64);
    gk_tensor t, v, x, y;
    assert_int_equal(gk_new2d(b, &t, GK_Q4_0, 64, 16), 0);
    assert_int_equal(b->ops->upload(b, &t, 0, a, t.nbytes), 0);
    assert_int_equal(gk_prepare_weight(b, &t), 0);
    assert_int_not_equal(gk_view(&v, &t, 0, t.ne, NULL), 0);
    assert_non_null(strstr(gk_backend_error(b), "prepared weight"));
    assert_null(gk_view_rows(&t, 8, 8).data);
    assert_int_equal(gk_new2d(b, &x, GK_F32, 16, 3), 0);
    assert_int_equal(gk_new2d(b, &y, GK_F32, 64, 3), 0);
    const gk_matmul_params tw = {.trans_w = true, .alpha = 1};
    assert_int_not_equal(gk_matmul(b, &y, &t, &x, &tw), 0);
    assert_non_null(strstr(gk_backend_error(b), "not transposed"));
    b->ops->free(b, &t), b->ops->free(b, &x), b->ops->free(b, &y);
    free(a);
    gk_backend_close(b);
}

/* Where nothing fits, preparing changes nothing: the ref backend, the scalar table, other
 * types, a row count that is not whole groups, a view. */
static void test_prepare_no_change(void **state) {
    (void)state;
    gk_backend *bs[] = {open_backend("ref", NULL, 1), open_backend("cpu", "scalar", 1), open_backend("cpu", NULL, 1)};
    for (int i = 0; i < 3; i++) {
        gk_tensor q, f, odd, v;
        assert_int_equal(gk_new2d(bs[i], &q, GK_Q4_0, 64, 16), 0);
        assert_int_equal(gk_new2d(bs[i], &f, GK_Q4_1, 64, 16), 0);   /* no table groups Q4_1 */
        assert_int_equal(gk_new2d(bs[i], &odd, GK_Q4_0, 64, 12), 0);
        v = gk_view_rows(&q, 8, 8);
        assert_non_null(v.data);
        const bool x8 = i == 2 && x8_table(bs[i]->isa);
        gk_tensor *ts[] = {&v, &q, &f, &odd};   /* the view first: its parent is still rows then */
        for (int k = 0; k < 4; k++) {
            assert_int_equal(gk_prepare_weight(bs[i], ts[k]), 0);
            assert_int_equal(ts[k]->layout != 0, x8 && k == 1);
        }
        bs[i]->ops->free(bs[i], &q), bs[i]->ops->free(bs[i], &f), bs[i]->ops->free(bs[i], &odd);
        gk_backend_close(bs[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_by_hand),
        cmocka_unit_test(test_igemm_pack_from_groups),
        cmocka_unit_test(test_prepared_upload_download),
        cmocka_unit_test(test_prepared_refusals),
        cmocka_unit_test(test_prepare_no_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
