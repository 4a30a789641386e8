/* Tests for base/png.c: an image written and read back through libpng pixel for pixel, bad sizes
 * refused with a line naming the file, a folder that does not exist reported, nothing left half
 * written; and the image workload's --save-images being an output, not part of a case's identity. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/png.h"
#include "bench/workload.h"

static void round_trip(void **s) {
    char path[] = "/tmp/gc_png_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    enum { W = 3, H = 2 };
    uint8_t rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint8_t)(i * 37 + 11);
    gc_err err = {{0}};
    if (gc_write_png(path, rgb, W, H, &err)) fail_msg("%s", err.msg);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&img, path));
    assert_int_equal(img.width, W);
    assert_int_equal(img.height, H);
    img.format = PNG_FORMAT_RGB;
    uint8_t back[W * H * 3];
    assert_true(png_image_finish_read(&img, NULL, back, 0, NULL));
    assert_memory_equal(rgb, back, sizeof rgb);
    unlink(path);
}

static void bad_input_named(void **s) {
    uint8_t px[3] = {0};
    gc_err err = {{0}};
    assert_int_not_equal(gc_write_png("/tmp/x.png", px, 0, 1, &err), 0);
    assert_string_equal(err.msg, "/tmp/x.png: cannot write a 0×1 image");
    assert_int_not_equal(gc_write_png("/nonexistent-dir/x.png", px, 1, 1, &err), 0);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.png"));
}

/* --save-images is where images go: two cases that differ only there are the same job. */
static void save_dir_not_in_identity(void **s) {
    const gc_workload *w = gc_workload_find("image");
    assert_non_null(w);
    int i = gc_param_find(w->params, "save-images");
    assert_true(i >= 0);
    assert_true(w->params[i].output_only);
    const char *given[GC_MAX_PARAMS] = {0};
    given[i] = "/tmp/somewhere";
    gc_param_values v;
    gc_err err = {{0}};
    assert_int_equal(gc_params_resolve(w->params, given, false, &v, &err), 0);
    char canon[256];
    assert_int_equal(gc_params_canonical(w->params, &v, canon, sizeof canon, &err), 0);
    assert_string_equal(canon, "batch=1,guidance=1,guidance-scale=7.5,height=512,sampler=euler,steps=20,width=512");
    gc_param_values_free(&v);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(bad_input_named),
        cmocka_unit_test(save_dir_not_in_identity),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
