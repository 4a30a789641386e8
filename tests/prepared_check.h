/* Shared by the prepared-weight tests (test_kernels_x8*.c): a matrix-vector product on a
 * prepared tensor against the same bytes uploaded in rows. Include after cmocka, the backend
 * header and tests/rand32.h. */
#ifndef GC_TESTS_PREPARED_CHECK_H
#define GC_TESTS_PREPARED_CHECK_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

#endif
