/* The report's answer-first summary (reports/report_summary.c): what one job is, the fastest,
 * the cheapest at each volume and the least energy, ahead of every table; numbers and dollars in
 * human units. Fixtures: tests/fixtures/reports (M1 and RTX 3080 runs of llama3-8b q4_0). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report.h"
#include "reports/report_model.h"

static void human_numbers(void **s) {
    char b[32];
    rp_fmt_num(b, sizeof b, 12345);
    assert_string_equal(b, "12,300");
    rp_fmt_num(b, sizeof b, 4.5678);
    assert_string_equal(b, "4.57");
    rp_fmt_num(b, sizeof b, 1000000);
    assert_string_equal(b, "1,000,000");
    rp_fmt_usd(b, sizeof b, 9.99);
    assert_string_equal(b, "$9.99");
    rp_fmt_usd(b, sizeof b, 1234.5);   /* the same as the tables: whole dollars from $100 */
    assert_string_equal(b, "$1,235");
    rp_fmt_usd(b, sizeof b, 0.0123);
    assert_string_equal(b, "$0.0123");
    rp_fmt_usd(b, sizeof b, 0.000123);
    assert_string_equal(b, "$0.000123");
}

static void summary_comes_first(void **s) {
    char dir[] = "/tmp/gc_summary_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *in[] = {"tests/fixtures/reports/m1.json", "tests/fixtures/reports/rtx.json=rtx3080-laptop"};
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = dir, .gnuplot = "/nonexistent/gnuplot", .quiet = true,
                        .volumes = {50}, .n_volumes = 1};
    gc_err err = {{0}};
    if (report_run(in, 2, &o, &err)) fail_msg("%s", err.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/report.md", dir);
    size_t n;
    char *md = gc_read_file(path, &n, &err);
    assert_non_null(md);
    char *sum = strstr(md, "## Summary"), *hosts = strstr(md, "## Hosts");
    assert_true(sum && hosts && sum < hosts);
    *hosts = 0;   /* the checks below read the summary only */
    assert_non_null(strstr(sum, "**llama3-8b q4_0: one generation = 512-token prompt + 128 new tokens**"));
    /* the RTX decodes at 3000 token/s against the M1's 12 (fixture), so it is the fastest measured;
     * owned machines cost their electricity only by default, so one of them is the cheapest */
    assert_non_null(strstr(sum, "- Cheapest at 50 a month: "));
    assert_null(strstr(sum, "Cheapest at 100 a month"));
    assert_non_null(strstr(sum, "- Fastest: "));
    assert_non_null(strstr(sum, "- Figures: 2 targets measured"));
    assert_null(strstr(sum, "e-0"));   /* no scientific notation in the summary */
    free(md);
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = gc_read_file(path, &n, &err);
    assert_non_null(html);
    char *hs = strstr(html, "<section id=\"summary\">"), *tab = strstr(html, "<table");
    assert_true(hs && tab && hs < tab);
    free(html);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(human_numbers),
        cmocka_unit_test(summary_comes_first),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
