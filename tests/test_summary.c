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

/* An image job (the image workload's sd-tiny, tests/fixtures/reports/sd-tiny.json) is priced per
 * image beside the image api, whose price needs no shape: $0.003 an image, $3.00 at 1,000 a month. */
static void images_priced_beside_an_image_api(void **s) {
    char dir[] = "/tmp/gc_summary_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *in[] = {"tests/fixtures/reports/sd-tiny.json"};
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = dir, .gnuplot = "/nonexistent/gnuplot", .quiet = true,
                        .volumes = {1000}, .n_volumes = 1};
    gc_err err = {{0}};
    if (report_run(in, 1, &o, &err)) fail_msg("%s", err.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/report.md", dir);
    char *md = gc_read_file(path, NULL, &err);
    assert_non_null(md);
    assert_non_null(strstr(md, "**sd-tiny q8_0: one image = 64×64 pixels, 2 steps, guidance 7.5**"));
    assert_non_null(strstr(md, "| sd-tiny q8_0 | api-image-flux-schnell (profile figures) | profile | 1,000 | $3.00 | $3.00 |"));
    assert_null(strstr(md, "**flux1-schnell"));   /* the api's own job is shown with the image job, not apart */
    free(md);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(human_numbers),
        cmocka_unit_test(summary_comes_first),
        cmocka_unit_test(images_priced_beside_an_image_api),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
