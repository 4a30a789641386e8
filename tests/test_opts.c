/* The declarative option tables of the CLI (cli/opts.h): both value forms, flags, aliases,
 * positional arguments, --help, and the exact wording of every bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "cli/opts.h"

typedef struct vals {
    bool quick, reps_seen;
    long reps;
    double min_time;
    const char *out;
} vals;

static int parse(vals *v, const char **pos, int max_pos, int *n_pos, bool *help, gc_err *err,
                 const char *const *args) {
    gc_opt t[] = {
        {.help = "heading:"},
        {.name = "--reps",
         .kind = GC_OPT_INT,
         .dest = &v->reps,
         .lo = 1,
         .hi = 1000000,
         .seen = &v->reps_seen},
        {.name = "--min-time", .kind = GC_OPT_DOUBLE, .dest = &v->min_time, .lo = 0, .hi = 86400},
        {.name = "--out", .kind = GC_OPT_STRING, .dest = &v->out, .alias = "--output"},
        {.name = "--quick", .kind = GC_OPT_FLAG, .dest = &v->quick},
    };
    char *argv[16];
    int argc = 0;
    char cmd[] = "cmd";
    argv[argc++] = cmd;
    for (; args[argc - 1]; argc++) argv[argc] = (char *)args[argc - 1];
    memset(err, 0, sizeof *err);
    return gc_opts_parse(t, (int)(sizeof t / sizeof t[0]), argc, argv, 1, pos, max_pos, n_pos, help, err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void both_forms_and_flags(void **s) {
    (void)s;
    vals v = {0};
    const char *pos[2];
    int np;
    bool help;
    gc_err err;
    assert_int_equal(
        parse(&v, pos, 2, &np, &help, &err,
              ARGS("--reps", "7", "--min-time=0.5", "a", "--quick", "--output=x.json", "--", "--b")),
        0);
    assert_int_equal(v.reps, 7);
    assert_true(v.reps_seen);
    assert_true(v.min_time == 0.5);
    assert_true(v.quick);
    assert_string_equal(v.out, "x.json");
    assert_false(help);
    assert_int_equal(np, 2);
    assert_string_equal(pos[0], "a");
    assert_string_equal(pos[1], "--b");
    /* a value may start with '-' when it is the next argument */
    assert_int_equal(parse(&v, NULL, 0, &np, &help, &err, ARGS("--out", "-")), 0);
    assert_string_equal(v.out, "-");
}

static void help_wins(void **s) {
    (void)s;
    vals v = {0};
    int np;
    bool help;
    gc_err err;
    assert_int_equal(parse(&v, NULL, 0, &np, &help, &err, ARGS("--bogus", "-h")), 0);
    assert_true(help);
}

static void expect(const char *const *args, const char *msg) {
    vals v = {0};
    int np;
    bool help;
    gc_err err;
    assert_int_not_equal(parse(&v, NULL, 0, &np, &help, &err, args), 0);
    assert_string_equal(err.msg, msg);
}

static void wording(void **s) {
    (void)s;
    expect(ARGS("--reps", "0"), "--reps: '0' is not a whole number from 1 to 1000000");
    expect(ARGS("--reps=abc"), "--reps: 'abc' is not a whole number from 1 to 1000000");
    expect(ARGS("--reps"), "--reps needs a value");
    expect(ARGS("--min-time", "-1"), "--min-time: '-1' is not a number from 0 to 86400");
    expect(ARGS("--out="), "--out: empty value");
    expect(ARGS("--quick=1"), "--quick takes no value");
    expect(ARGS("--bogus"), "unknown option '--bogus' (see --help)");
    expect(ARGS("stray"), "unexpected argument 'stray' (options start with --; see --help)");
    gc_err err;
    assert_int_not_equal(gc_opt_choice("--kv-type", "f32,f16,q8_0", "f8", &err), 0);
    assert_string_equal(err.msg, "--kv-type: 'f8' is not one of f32, f16, q8_0");
    assert_int_equal(gc_opt_choice("--kv-type", "f32,f16,q8_0", "q8_0", &err), 0);
    assert_int_not_equal(gc_opt_choice("--kv-type", "f32,f16,q8_0", "f1", &err), 0);
    long x = 0;
    assert_int_equal(gc_opt_value("--n", GC_OPT_INT, -3, 3, "-3", &x, &err), 0);
    assert_int_equal(x, -3);
}

/* Lenient numbers are bad input: only plain decimal passes the value checks. */
static void strict_numbers(void **s) {
    (void)s;
    expect(ARGS("--reps", " 5"), "--reps: ' 5' is not a whole number from 1 to 1000000");
    expect(ARGS("--reps", "+5"), "--reps: '+5' is not a whole number from 1 to 1000000");
    expect(ARGS("--reps", "5 "), "--reps: '5 ' is not a whole number from 1 to 1000000");
    expect(ARGS("--reps", "0x10"), "--reps: '0x10' is not a whole number from 1 to 1000000");
    expect(ARGS("--min-time", "0x1p3"), "--min-time: '0x1p3' is not a number from 0 to 86400");
    expect(ARGS("--min-time", "inf"), "--min-time: 'inf' is not a number from 0 to 86400");
    expect(ARGS("--min-time", "nan"), "--min-time: 'nan' is not a number from 0 to 86400");
    expect(ARGS("--min-time=+1"), "--min-time: '+1' is not a number from 0 to 86400");
    expect(ARGS("--min-time", "-0"), "--min-time: '-0' is not a number from 0 to 86400");
    vals v = {0};
    int np;
    bool help;
    gc_err err;
    assert_int_equal(parse(&v, NULL, 0, &np, &help, &err, ARGS("--reps", "12", "--min-time", "2.5e-1")), 0);
    assert_int_equal(v.reps, 12);
    assert_true(v.min_time == 0.25);
}

/* Input echoed in a message cannot split it or reach the terminal as control codes. */
static void escaped_echo(void **s) {
    (void)s;
    expect(ARGS("--reps", "5\n6"), "--reps: '5\\n6' is not a whole number from 1 to 1000000");
    expect(ARGS("--bogus\x1b[2J"), "unknown option '--bogus\\x1b[2J' (see --help)");
    expect(ARGS("a\rb"), "unexpected argument 'a\\rb' (options start with --; see --help)");
    gc_err err;
    assert_int_not_equal(gc_opt_choice("--kv-type", "f32,f16", "f\n8", &err), 0);
    assert_string_equal(err.msg, "--kv-type: 'f\\n8' is not one of f32, f16");
    /* long input is cut, the reason stays */
    char big[2000];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_not_equal(gc_opt_value("--reps", GC_OPT_INT, 1, 10, big, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "...' is not a whole number from 1 to 10"));
}

static void usage_aligned(void **s) {
    (void)s;
    gc_opt t[] = {
        {.help = "matrix:"},
        {.name = "--reps", .kind = GC_OPT_INT, .lo = 1, .hi = 9, .metavar = "N", .help = "repetitions"},
        {.name = "--quick", .kind = GC_OPT_FLAG, .help = "small sizes"},
    };
    char buf[256] = "";
    FILE *f = fmemopen(buf, sizeof buf, "w");
    assert_non_null(f);
    gc_opts_usage(f, t, 3);
    fclose(f);
    assert_string_equal(buf, "matrix:\n  --reps N  repetitions\n  --quick   small sizes\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_forms_and_flags),
        cmocka_unit_test(help_wins),
        cmocka_unit_test(wording),
        cmocka_unit_test(strict_numbers),
        cmocka_unit_test(escaped_echo),
        cmocka_unit_test(usage_aligned),
    };
    return cmocka_run_group_tests_name("opts", tests, NULL, NULL);
}
