/* What the image-model tests (test_sd.c, test_sdxl.c) share: a planned model's tensors by name
 * and prefix, a two-thread backend, the relative error of a result against ref's, and the check
 * that a picture is finite and not one flat value. Included after cmocka.h and bench/sd/sd.h. */
#ifndef GC_TESTS_SD_TEST_UTIL_H
#define GC_TESTS_SD_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/backend.h"

/* Parameters of the tensors whose names start with prefix. */
static inline int64_t params_with_prefix(const sd_model *m, const char *prefix) {
    int64_t n = 0;
    for (int i = 0; i < sd_tensor_count(m); i++) {
        const sd_tensor_info *t = sd_tensor_at(m, i);
        if (!strncmp(t->name, prefix, strlen(prefix))) n += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    return n;
}

static inline int index_of(const sd_model *m, const char *name) { /* -1: no such tensor */
    for (int i = 0; i < sd_tensor_count(m); i++)
        if (!strcmp(sd_tensor_at(m, i)->name, name)) return i;
    return -1;
}

static inline const sd_tensor_info *find(const sd_model *m, const char *name) {
    int i = index_of(m, name);
    if (i < 0) fail_msg("no tensor %s", name);
    return sd_tensor_at(m, i);
}

static inline gk_backend *open_be(const char *name) {
    char why[256];
    gk_backend_opts o = {.n_threads = 2};
    gk_backend *b = gk_backend_open(name, &o, why, sizeof why);
    if (!b) fail_msg("%s: %s", name, why);
    return b;
}

/* max |x − ref| ÷ max |ref| */
static inline double rel_err(const float *ref, const float *x, int64_t n) {
    double e = 0, top = 0;
    for (int64_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)x[i] - ref[i]));
        top = fmax(top, fabs((double)ref[i]));
    }
    return e / top;
}

/* Pixels finite and not all one value. */
static inline void expect_a_picture(const float *img, int64_t n) {
    float lo = img[0], hi = img[0];
    for (int64_t i = 0; i < n; i++) {
        assert_true(isfinite(img[i]));
        lo = fminf(lo, img[i]), hi = fmaxf(hi, img[i]);
    }
    assert_true(hi > lo);
}

#endif
