/* Shared by the prepared-weight tests (test_kernels_x8*.c): random bytes and real rows of a
 * type, a matrix-vector product on a prepared tensor against the same bytes uploaded in rows,
 * copies through a prepared tensor, and a layout refused where its kernel is missing. Include
 * after cmocka, the backend header, kernels/cpu/microkernels.h, tests/rand32.h and
 * tests/kernel_pairs.h. */
#ifndef GC_TESTS_PREPARED_CHECK_H
#define GC_TESTS_PREPARED_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* n random bytes: any bit pattern, since the layouts only move bytes. */
static inline unsigned char *prepared_rand_bytes(size_t n) {
    unsigned char *p = malloc(n);
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((frand() + 1.0f) * 128.0f);
    return p;
}

/* rows real rows of type, k wide (quantised from random floats). */
static inline unsigned char *prepared_rows(int type, int64_t rows, int64_t k) {
    float *f = rand_vec(rows * k, 1.0f);
    unsigned char *q = malloc(gk_type_bytes(type, k) * (size_t)rows);
    gk_type_get(type)->from_f32(f, q, rows * k);
    free(f);
    return q;
}

/* y = t · x for one random x, on t (prepared) and on `rows` (t's bytes in the row layout). */
static inline void check_prepared_matvec(gk_backend *b, gk_tensor *t, const void *rows) {
    const int64_t k = t->ne[0], n = t->ne[1];
    gk_tensor u, x, y0, y1;
    float *xf = rand_vec(k, 1.0f), *yp = malloc((size_t)n * sizeof *yp), *yu = malloc((size_t)n * sizeof *yu);
    assert_int_equal(gk_new2d(b, &u, t->type, k, n), 0);
    assert_int_equal(b->ops->upload(b, &u, 0, rows, u.nbytes), 0);
    assert_int_equal(gk_new2d(b, &x, GK_F32, k, 1), 0);
    assert_int_equal(b->ops->upload(b, &x, 0, xf, x.nbytes), 0);
    assert_int_equal(gk_new2d(b, &y0, GK_F32, n, 1), 0);
    assert_int_equal(gk_new2d(b, &y1, GK_F32, n, 1), 0);
    assert_int_equal(gk_matmul(b, &y0, t, &x, NULL), 0);
    assert_int_equal(gk_matmul(b, &y1, &u, &x, NULL), 0);
    assert_int_equal(b->ops->download(b, &y0, 0, yp, (size_t)n * sizeof *yp), 0);
    assert_int_equal(b->ops->download(b, &y1, 0, yu, (size_t)n * sizeof *yu), 0);
    for (int64_t i = 0; i < n; i++) assert_float_equal(yp[i], yu[i], 1e-5 * (1 + fabsf(yu[i])));
    gk_tensor *all[] = {&u, &x, &y0, &y1};
    for (int i = 0; i < 4; i++) b->ops->free(b, all[i]);
    free(xf), free(yp), free(yu);
}

/* Upload and download of a prepared tensor see the row layout: rows a (n rows of type, k wide)
 * uploaded whole and prepared (storage moved, to `layout`; preparing twice changes nothing),
 * then c's bytes over a range that cuts groups and rows (5 rows and a part into it, 12 rows
 * long), downloads whole and of a range cut likewise, one past the end refused; then a
 * matrix-vector product on it equals the same bytes unprepared. a ends as the tensor's rows. */
static inline void check_prepared_copies(gk_backend *b, int type, int64_t k, int64_t n, unsigned char *a,
                                         const unsigned char *c, int layout) {
    const size_t wrow = gk_type_bytes(type, k), all = (size_t)n * wrow;
    unsigned char *got = malloc(all);
    gk_tensor t;
    assert_int_equal(gk_new2d(b, &t, type, k, n), 0);
    assert_int_equal(b->ops->upload(b, &t, 0, a, all), 0);
    assert_int_equal(gk_prepare_weight(b, &t), 0);
    assert_int_equal(t.layout, layout);
    assert_memory_not_equal(t.data, a, all);   /* the storage did move */
    assert_int_equal(gk_prepare_weight(b, &t), 0);
    assert_int_equal(b->ops->download(b, &t, 0, got, all), 0);
    assert_memory_equal(got, a, all);
    const size_t off = 5 * wrow + wrow / 3 + 7, len = 12 * wrow;
    assert_int_equal(b->ops->upload(b, &t, off, c + off, len), 0);
    memcpy(a + off, c + off, len);
    assert_int_equal(b->ops->download(b, &t, 0, got, all), 0);
    assert_memory_equal(got, a, all);
    memset(got, 0, all);
    assert_int_equal(b->ops->download(b, &t, 3 * wrow + 7, got, 10 * wrow), 0);
    assert_memory_equal(got, a + 3 * wrow + 7, 10 * wrow);
    assert_int_not_equal(b->ops->download(b, &t, all - 4, got, 8), 0);
    check_prepared_matvec(b, &t, a);
    b->ops->free(b, &t);
    free(got);
}

/* On every table here without type's matvec_x8 kernel: a weight of that type is not grouped by
 * preparing it, and one whose layout field names the type's grouped layout is refused by a
 * matmul, by name ("storage layout N"), not read. */
static inline void check_layout_refused(int type, int64_t k, int layout) {
    char want[32];
    snprintf(want, sizeof want, "storage layout %d", layout);
    for (const char *const *isa = gk_ukernels_available(); *isa; isa++) {
        if (gk_ukernels_select(*isa)->t[type].matvec_x8) continue;
        gk_backend *b = open_backend("cpu", *isa, 1);
        gk_tensor t, x, y;
        assert_int_equal(gk_new2d(b, &t, type, k, 8), 0);
        assert_int_equal(gk_new2d(b, &x, GK_F32, k, 1), 0);
        assert_int_equal(gk_new2d(b, &y, GK_F32, 8, 1), 0);
        assert_int_equal(gk_prepare_weight(b, &t), 0);
        assert_int_equal(t.layout, 0);
        t.layout = layout;
        assert_int_not_equal(gk_matmul(b, &y, &t, &x, NULL), 0);
        assert_non_null(strstr(gk_backend_error(b), want));
        t.layout = 0;
        b->ops->free(b, &t), b->ops->free(b, &x), b->ops->free(b, &y);
        gk_backend_close(b);
    }
}

#endif
