/* `gencost report --volume`: the costs at a month's volume in the report follow the model of
 * reports/volume.h. Two hosts with figures fixed here (profiles written by the test, so edits
 * to the shipped ones change nothing): an owned M1 measured by tests/fixtures/reports/m1.json
 * (15.79 s and 300 J per generation) and a Colab-like subscription measured by
 * tests/fixtures/volume/colab.json (2 s per generation): $9.99 a month for 50 units at 13.45 units
 * an hour, 600 s set-up, no pay-as-you-go price, so 50 ÷ 13.45 × 3600 = 13,382.9 s a month
 * hold (13,382.9 − 600) ÷ 2 = 6,391 generations. */
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
#include "cli/commands.h"

static char dir[64], hosts[96], out[96];

static const char m1_ini[] =
    "; test figures (tests/test_volume.c)\n"
    "[host]\nname = Test M1\ndevice = Apple M1\n"
    "[hardware]\nmemory_bandwidth_gbs = 68.25\npeak_tflops_fp32 = 2.6\nidle_watts = 7\nactive_watts = 24\n"
    "[cost]\nkind = owned\nsource = test\nas_of = 2026\npurchase_usd = 999\nlifetime_years = 4\n"
    "hours_per_day = 8\nelectricity_usd_per_kwh = 0.16\ngrid_gco2_per_kwh = 366\n";

static const char colab_ini[] =
    "; test figures (tests/test_volume.c)\n"
    "[host]\nname = Test Colab\ndevice = NVIDIA A100-SXM4-40GB\n"
    "[hardware]\nmemory_bandwidth_gbs = 1555\npeak_tflops_fp32 = 19.5\npeak_tflops_fp16 = 312\n"
    "[cost]\nkind = subscription\nsource = test\nas_of = 2026\nmonthly_usd = 9.99\nunits_per_month = 50\n"
    "units_per_hour = 13.45\nsession_setup_s = 600\n";

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **s) {
    snprintf(dir, sizeof dir, "/tmp/gc_volume_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(hosts, sizeof hosts, "%s/hosts", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    gc_err err;
    if (gc_mkdirs(hosts, &err)) return -1;
    char p[160];
    snprintf(p, sizeof p, "%s/apple-m1-macbook-air.ini", hosts);
    write_text(p, m1_ini);
    snprintf(p, sizeof p, "%s/colab-test.ini", hosts);
    write_text(p, colab_ini);
    setenv("GENCOST_GNUPLOT", "/nonexistent/gnuplot", 1);   /* tables are what is checked */
    return 0;
}

static int teardown(void **s) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs `gencost report m1.json colab.json --hosts H --out O --quiet` plus extra; returns report.md. */
static char *report(int *rc, const char *a, const char *b, const char *c) {
    char *argv[16] = {"report", "tests/fixtures/reports/m1.json", "tests/fixtures/volume/colab.json",
                      "--hosts", hosts, "--out", out, "--quiet"};
    int argc = 8;
    for (const char *x[] = {a, b, c}, **p = x; p < x + 3; p++)
        if (*p) argv[argc++] = (char *)*p;
    *rc = cmd_report(argc, argv);
    if (*rc) return NULL;
    char path[160];
    snprintf(path, sizeof path, "%s/report.md", out);
    gc_err err;
    return gc_read_file(path, NULL, &err);
}

/* The line of section `title` holding every one of the (up to 4) strings; fails if none. */
static void expect_row(const char *md, const char *title, const char *a, const char *b, const char *c,
                       const char *d) {
    const char *s = strstr(md, title);
    if (!s) fail_msg("no section %s", title);
    const char *end = strstr(s + 3, "\n## ");
    for (const char *p = s; *p && (!end || p < end);) {
        size_t n = strcspn(p, "\n");
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        if (strstr(line, a) && (!b || strstr(line, b)) && (!c || strstr(line, c)) && (!d || strstr(line, d))) return;
        p += n + (p[n] == '\n');
    }
    fail_msg("no row in %s with '%s' '%s' '%s' '%s'", title, a, b ? b : "", c ? c : "", d ? d : "");
}

#define VOL "## Cost at a month's volume"
#define CHEAP "## Cheapest target at each volume"
#define ENV "## Cheapest target by volume"

/* Electricity only: N × 300 J ÷ 3.6e6 J/kWh × $0.16 = N × $0.00001333; Colab: the fee until the
 * cap, then cannot. */
static void marginal_costs_at_each_volume(void **s) {
    int rc;
    char *md = report(&rc, "--volume", "100,1000,10000", NULL);
    assert_int_equal(rc, 0);
    assert_non_null(md);
    expect_row(md, VOL, "| apple-m1-macbook-air | measured | 100 |", "| $0.00133 | $0.0133 |", "electricity only", NULL);
    expect_row(md, VOL, "| apple-m1-macbook-air | measured | 1,000 |", "| $0.0133 | $0.0133 |", NULL, NULL);
    expect_row(md, VOL, "| apple-m1-macbook-air | measured | 10,000 |", "| $0.133 | $0.0133 |", NULL, NULL);
    /* Colab at 100: (200 s + 600 s) ÷ 3600 × 13.45 = 2.99 units of 50 */
    expect_row(md, VOL, "| colab-test | measured | 100 |", "| $9.99 | $99.90 |", "fee covers 2.99 of 50 units", NULL);
    expect_row(md, VOL, "| colab-test | measured | 1,000 |", "| $9.99 | $9.99 |", NULL, NULL);
    expect_row(md, VOL, "| colab-test | measured | 10,000 |", "| over cap (max 6,391/month) | — |", NULL, NULL);
    for (const char *v[] = {"| 100 |", "| 1,000 |", "| 10,000 |"}, **p = v; p < v + 3; p++)
        expect_row(md, CHEAP, *p, "| apple-m1-macbook-air | measured |", NULL, NULL);
    /* the job's shape from the results, not gencost's defaults */
    assert_non_null(strstr(md, "Jobs: llama3-8b q4_0: one generation = 512-token prompt + 128 new tokens."));
    assert_null(strstr(md, "the results do not say"));
    /* electricity alone never reaches the fee: no break-even */
    const char *be = strstr(md, "## Break-even volumes between targets");
    assert_non_null(be);
    assert_non_null(strstr(be, "_(nothing to show)_"));
    free(md);
}

/* Amortised: + $999 ÷ 48 months = $20.8125 a month, so Colab's fee is cheaper until its cap; the M1
 * then until its capacity, 8 h × 365/12 days × 3600 s ÷ 15.79 s = 55,489 generations. */
static void amortised_costs_and_the_cheapest(void **s) {
    int rc;
    char *md = report(&rc, "--volume", "100,1000,10000", "--amortise");
    assert_int_equal(rc, 0);
    assert_non_null(md);
    expect_row(md, VOL, "| apple-m1-macbook-air | measured | 100 |", "| $20.81 | $208 |", "amortised", NULL);
    expect_row(md, VOL, "| apple-m1-macbook-air | measured | 1,000 |", "| $20.83 | $20.83 |", NULL, NULL);
    expect_row(md, VOL, "| apple-m1-macbook-air | measured | 10,000 |", "| $20.95 | $2.09 |", NULL, NULL);
    expect_row(md, CHEAP, "| 100 |", "| colab-test | measured | $9.99 | $99.90 |", "apple-m1-macbook-air, $20.81", NULL);
    expect_row(md, CHEAP, "| 1,000 |", "| colab-test |", NULL, NULL);
    expect_row(md, CHEAP, "| 10,000 |", "| apple-m1-macbook-air | measured | $20.95 |", NULL, NULL);
    expect_row(md, ENV, "| 1 | 6,391 | colab-test |", "| $9.99 |", NULL, NULL);
    expect_row(md, ENV, "| 6,392 | 55,489 | apple-m1-macbook-air |", NULL, NULL, NULL);
    expect_row(md, ENV, "| 55,490 | 100,000,000 | no target can do this volume |", NULL, NULL, NULL);
    free(md);
}

/* Without the M1's results the M1 is a machine to buy, not one the person has: its month pays the
 * purchase, $999 ÷ 48 = $20.81, with no --amortise; Colab, measured, is unchanged. */
static void a_profiled_machine_is_a_purchase(void **s) {
    char *argv[] = {"report", "tests/fixtures/volume/colab.json", "--hosts", hosts, "--out", out, "--quiet",
                    "--volume", "100"};
    assert_int_equal(cmd_report(9, argv), 0);
    char path[160];
    snprintf(path, sizeof path, "%s/report.md", out);
    gc_err err;
    char *md = gc_read_file(path, NULL, &err);
    assert_non_null(md);
    expect_row(md, VOL, "| apple-m1-macbook-air (projected) | projected | 100 |", "| $20.8", "amortised", NULL);
    expect_row(md, VOL, "| colab-test | measured | 100 |", "| $9.99 | $99.90 |", NULL, NULL);
    assert_non_null(strstr(md, "one only profiled would be bought"));
    free(md);
}

/* A range: the decades 100, 1,000, 10,000 and the end; the default volumes without --volume. */
static void range_and_default_volumes(void **s) {
    int rc;
    char *md = report(&rc, "--volume", "100-50000", NULL);
    assert_int_equal(rc, 0);
    expect_row(md, VOL, "| colab-test | measured | 50,000 |", "over cap", NULL, NULL);
    expect_row(md, VOL, "| apple-m1-macbook-air | measured | 1,000 |", NULL, NULL, NULL);
    free(md);
    md = report(&rc, NULL, NULL, NULL);
    assert_int_equal(rc, 0);
    expect_row(md, VOL, "| colab-test | measured | 10,000 |", "over cap", NULL, NULL);
    expect_row(md, VOL, "| colab-test | measured | 100 |", "$9.99", NULL, NULL);
    free(md);
}

static void bad_volumes_exit_2(void **s) {
    const char *bad[] = {"0", "-5", "abc", "1,,2", "100,100", "1000-100", "1-1e12", "1,2,3,4,5,6,7,8,9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc;
        char *md = report(&rc, "--volume", bad[i], NULL);
        if (rc != GC_EXIT_USAGE) fail_msg("--volume %s: exit %d, want %d", bad[i], rc, GC_EXIT_USAGE);
        free(md);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(marginal_costs_at_each_volume),
        cmocka_unit_test(amortised_costs_and_the_cheapest),
        cmocka_unit_test(a_profiled_machine_is_a_purchase),
        cmocka_unit_test(range_and_default_volumes),
        cmocka_unit_test(bad_volumes_exit_2),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
