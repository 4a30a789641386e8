/* Tests for bench/util: strict parsing, list splitting, atomic writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

static void parse_int_strict(void **s) {
    long v = 0;
    assert_int_equal(gc_parse_int("42", 1, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_not_equal(gc_parse_int("42x", 1, 100, &v), 0);
    assert_int_not_equal(gc_parse_int("", 1, 100, &v), 0);
    assert_int_not_equal(gc_parse_int("0", 1, 100, &v), 0);
    assert_int_not_equal(gc_parse_int("101", 1, 100, &v), 0);
    assert_int_not_equal(gc_parse_int("99999999999999999999999", 1, 100, &v), 0);
}

static void parse_double_strict(void **s) {
    double v = 0;
    assert_int_equal(gc_parse_double("0.25", 0, 1, &v), 0);
    assert_true(v == 0.25);
    assert_int_not_equal(gc_parse_double("nan", 0, 1, &v), 0);
    assert_int_not_equal(gc_parse_double("1e400", 0, 1e308, &v), 0);
    assert_int_not_equal(gc_parse_double("-0.5", 0, 1, &v), 0);
}

static void split_list(void **s) {
    char *items[4], *store = NULL;
    assert_int_equal(gc_split_list("q4_0,q8_0,f16", items, 4, &store), 3);
    assert_string_equal(items[0], "q4_0");
    assert_string_equal(items[2], "f16");
    free(store);
    assert_int_equal(gc_split_list("a,b,c,d,e", items, 4, &store), -1);
    free(store);
}

static void atomic_write_round_trip(void **s) {
    char path[] = "/tmp/gc_util_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    gc_err err;
    assert_int_equal(gc_write_file_atomic(path, "hello", 5, &err), 0);
    size_t n = 0;
    char *got = gc_read_file(path, &n, &err);
    assert_non_null(got);
    assert_int_equal(n, 5);
    assert_string_equal(got, "hello");
    free(got);
    unlink(path);
    assert_null(gc_read_file(path, &n, &err));
    assert_non_null(strstr(err.msg, "cannot open"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_int_strict),
        cmocka_unit_test(parse_double_strict),
        cmocka_unit_test(split_list),
        cmocka_unit_test(atomic_write_round_trip),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
