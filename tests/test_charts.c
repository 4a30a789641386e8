/* Tests for the report's charts (reports/report_charts.c, chart_*.c): the two fixture hosts of
 * tests/fixtures/reports with the shipped profiles. Every id on the HTML page is unique and every
 * reference resolves (gnuplot names its definitions the same in every SVG); every host keeps one
 * colour, its palette colour, in every plot of every chart; one unit per chart; whiskers are the
 * fixture's confidence intervals; the speedup chart draws its baseline; roofline points meet the
 * ceilings of the precision and device they ran in; the cost-vs-volume chart holds each target's
 * month as cost_at_volume gives it and marks the break-evens of the table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reports/charts.h"
#include "reports/report.h"
#include "reports/report_model.h"
#include "reports/volume.h"

#define FIX "tests/fixtures/reports/"
static char out_dir[64];
static char *html, *md;
static rp_model *model;

static char *slurp(const char *dir, const char *name) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gc_err err;
    size_t n = 0;
    return gc_read_file(path, &n, &err);
}

static char *chart_file(const char *name, const char *ext) {
    char dir[128], f[64];
    snprintf(dir, sizeof dir, "%s/charts", out_dir);
    snprintf(f, sizeof f, "%s.%s", name, ext);
    char *s = slurp(dir, f);
    if (!s) fail_msg("no charts/%s", f);
    return s;
}

static int setup(void **s) {
    snprintf(out_dir, sizeof out_dir, "/tmp/gc_charts_XXXXXX");
    assert_non_null(mkdtemp(out_dir));
    char *inputs[] = {FIX "m1.json", FIX "rtx.json=rtx3080-laptop"};
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = out_dir, .baseline = "apple-m1-macbook-air", .quiet = true,
                        .volumes = {100, 1000, 10000}, .n_volumes = 3};
    gc_err err = {{0}};
    if (report_run(inputs, 2, &o, &err)) fail_msg("%s", err.msg);
    html = slurp(out_dir, "report.html");
    md = slurp(out_dir, "report.md");
    model = calloc(1, sizeof *model);
    if (!model || rp_model_build(model, inputs, 2, &o, &err)) fail_msg("%s", err.msg);
    return html && md ? 0 : -1;
}

static int teardown(void **s) {
    free(html);
    free(md);
    rp_model_free(model);
    free(model);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", out_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The charts the page holds, in order (their <figure id="chart-NAME">). */
static int page_charts(char names[][32], int max) {
    int n = 0;
    for (const char *p = html; (p = strstr(p, "<figure id=\"chart-")) && n < max; n++) {
        p += strlen("<figure id=\"chart-");
        snprintf(names[n], 32, "%.*s", (int)strcspn(p, "\""), p);
    }
    return n;
}

static void every_chart_made(void **s) {
    static const char *const want[] = {"throughput-1", "throughput-2", "throughput-3", "throughput-4", "cost-1",
                                       "energy-1", "speedup", "roofline-int8", "roofline-fp16", "volume-1"};
    char names[RP_MAX_CHARTS][32];
    int n = page_charts(names, RP_MAX_CHARTS);
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (int i = 0; i < n; i++) {
        assert_string_equal(names[i], want[i]);
        char *png = chart_file(names[i], "png");
        assert_int_equal(memcmp(png, "\x89PNG\r\n\x1a\n", 8), 0);
        free(png);
    }
}

/* The value of every id="…"/id='…' on the page, and every reference to one. */
static int collect(const char *text, const char *const *marks, int n_marks, char (*out)[64], int max) {
    int n = 0;
    for (int k = 0; k < n_marks; k++) {
        char close = marks[k][strlen(marks[k]) - 1] == '(' ? ')' : 0;
        for (const char *p = text; (p = strstr(p, marks[k])) && n < max;) {
            p += strlen(marks[k]);
            if (close) p++;   /* url(# */
            char q = close ? close : p[-1];
            if (!close && marks[k][strlen(marks[k]) - 1] == '#') q = p[-2];
            snprintf(out[n++], 64, "%.*s", (int)strcspn(p, (char[]){q, 0}), p);
        }
    }
    return n;
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

static void ids_unique_and_resolved(void **s) {
    static char ids[20000][64], refs[20000][64];
    static const char *const id_marks[] = {" id=\"", " id='"};
    static const char *const ref_marks[] = {"href=\"#", "href='#", "url("};
    int ni = collect(html, id_marks, 2, ids, 20000), nr = collect(html, ref_marks, 3, refs, 20000);
    assert_true(ni > 100);   /* ten charts' definitions, plot groups, the summary… */
    assert_true(nr > 10);    /* point shapes and patterns used by reference */
    qsort(ids, (size_t)ni, sizeof ids[0], cmp_str);
    for (int i = 1; i < ni; i++)
        if (!strcmp(ids[i], ids[i - 1])) fail_msg("id \"%s\" appears twice on the page", ids[i]);
    for (int i = 0; i < nr; i++) {
        const char *r = refs[i][0] == '#' ? refs[i] + 1 : refs[i];
        if (!bsearch(r, ids, (size_t)ni, sizeof ids[0], cmp_str)) fail_msg("reference #%s names no id", r);
    }
    /* the definitions of one chart are its own */
    assert_non_null(strstr(html, "id='speedup-gpPt0'"));
    assert_non_null(strstr(html, "id='volume-1-gpPt0'"));
    assert_null(strstr(html, "id='gpPt0'"));
}

/* The host whose tag a plot's title starts with (the tag, then the end or a space); -1 none. */
static int host_of_title(const char *title) {
    int best = -1;
    size_t best_len = 0;
    for (int h = 0; h < model->n_hosts; h++) {
        char tag[128];
        rp_host_tag(model, h, tag, sizeof tag);
        size_t k = strlen(tag);
        if (!strncmp(title, tag, k) && (title[k] == 0 || title[k] == ' ') && k > best_len) best = h, best_len = k;
    }
    return best;
}

static void hosts_keep_their_colour(void **s) {
    char names[RP_MAX_CHARTS][32];
    int n = page_charts(names, RP_MAX_CHARTS), seen[RP_MAX_HOSTS] = {0}, plots = 0;
    for (int i = 0; i < n; i++) {
        char *svg = chart_file(names[i], "svg");
        for (char *g = strstr(svg, "<g id=\"gnuplot_plot_"); g;) {
            char *next = strstr(g + 1, "<g id=\"gnuplot_plot_"), *t = strstr(g, "<title>");
            char *end = next ? next : svg + strlen(svg);
            char title[256];
            snprintf(title, sizeof title, "%.*s", (int)strcspn(t + 7, "<"), t + 7);
            int h = host_of_title(title);
            if (h >= 0) {
                char want[8];
                chart_host_colour(h, want);
                unsigned wr, wg, wb;
                sscanf(want, "#%2x%2x%2x", &wr, &wg, &wb);
                int colours = 0;
                for (char *c = strstr(g, "rgb("); c && c < end; c = strstr(c + 4, "rgb(")) {
                    unsigned r, gg, b;
                    assert_int_equal(sscanf(c, "rgb(%u,%u,%u)", &r, &gg, &b), 3);
                    if (r != wr || gg != wg || b != wb)
                        fail_msg("%s: '%s' drawn in rgb(%u,%u,%u), not its colour %s", names[i], title, r, gg, b, want);
                    colours++;
                }
                if (!colours) fail_msg("%s: '%s' has no colour of its own", names[i], title);
                seen[h]++;
                plots++;
            }
            g = next;
        }
        free(svg);
    }
    /* every host is drawn, and most in several charts: the property is tested, not vacuous */
    for (int h = 0; h < model->n_hosts; h++) {
        bool figures = false;   /* an image api has nothing to draw in a report of llm jobs */
        for (int j = 0; j < model->n_jobs; j++) figures |= model->jobs[j].best[h] >= 0;
        if (figures && seen[h] < 3) fail_msg("host %s drawn in only %d plots", model->hosts[h].label, seen[h]);
    }
    assert_true(plots > 40);
    /* the palette: fixed colours, distinct for the first dozen hosts */
    char a[8], b[8];
    chart_host_colour(0, a);
    assert_string_equal(a, "#0072B2");
    for (int x = 0; x < 24; x++)
        for (int y = x + 1; y < 24; y++) {
            chart_host_colour(x, a);
            chart_host_colour(y, b);
            if (!strcmp(a, b)) fail_msg("hosts %d and %d share colour %s", x, y, a);
        }
}

/* The data row of job `job` in a chart's .dat file. */
static void dat_row(const char *dat, const char *job, double *v, int max, int *n) {
    char key[128];
    snprintf(key, sizeof key, "\n\"%s\"", job);
    const char *p = strstr(dat, key);
    if (!p) fail_msg("no row '%s'", job);
    p += strlen(key);
    *n = 0;
    while (*n < max) {
        while (*p == ' ') p++;
        if (*p == '\n' || !*p) break;
        char *e;
        v[*n] = *p == '?' ? NAN : strtod(p, &e);
        p = *p == '?' ? p + 1 : e;
        (*n)++;
    }
}

static void one_unit_per_chart_with_whiskers(void **s) {
    /* prefill and decode are tokens per second each, in two charts; the generation in a third */
    char *t1 = chart_file("throughput-1", "dat"), *t2 = chart_file("throughput-2", "dat");
    assert_non_null(strstr(t1, "\"llama3-8b q4_0 prefill\""));
    assert_null(strstr(t1, "decode\""));
    assert_non_null(strstr(t2, "\"llama3-8b q4_0 decode\""));
    assert_null(strstr(t2, "prefill\""));
    double v[40];
    int n;
    /* M1 first (value, CI low, CI high as in m1.json), then the RTX on its GPU */
    dat_row(t1, "llama3-8b q4_0 prefill", v, 40, &n);
    assert_int_equal(n, 3 * 8);
    assert_float_equal(v[0], 100, 1e-9);
    assert_float_equal(v[1], 97.0874, 1e-3);
    assert_float_equal(v[2], 102.041, 1e-3);
    assert_float_equal(v[3], 3000, 1e-9);
    assert_float_equal(v[4], 2912.62, 1e-2);
    /* a projected bar: from the calibrated estimate up to the roofline bound */
    assert_float_equal(v[7], v[6], 1e-9);
    assert_true(v[8] > v[6]);
    char *gp = chart_file("throughput-1", "gp");
    assert_non_null(strstr(gp, "set style histogram errorbars"));
    assert_non_null(strstr(gp, "using 2:3:4:xtic(1)"));
    assert_non_null(strstr(gp, "set ylabel 'tokens per second'"));
    free(gp);
    /* cost carries the throughput's interval, flipped: cost × median ÷ CI high .. ÷ CI low */
    char *c1 = chart_file("cost-1", "dat");
    dat_row(c1, "llama3-8b q4_0 generation", v, 40, &n);
    assert_float_equal(v[1], v[0] * 0.0633445945945946 / 0.06463734142305572, 1e-3 * v[0]);
    assert_float_equal(v[2], v[0] * 0.0633445945945946 / 0.06149960640251902, 1e-3 * v[0]);
    free(c1);
    free(t1);
    free(t2);
}

static void speedup_shows_its_baseline(void **s) {
    char *gp = chart_file("speedup", "gp"), *svg = chart_file("speedup", "svg");
    assert_non_null(strstr(gp, "set arrow 1 from graph 0, first 1 to graph 1, first 1"));
    assert_non_null(strstr(gp, "set yrange [*<0.8:1.25<*]"));   /* 1× always on the axis */
    assert_non_null(strstr(svg, "baseline: apple-m1-macbook-air = 1×"));
    char *dat = chart_file("speedup", "dat");
    double v[40];
    int n;
    dat_row(dat, "llama3-8b q4_0 decode", v, 40, &n);
    assert_float_equal(v[0], 1, 1e-9);              /* the baseline itself */
    assert_float_equal(v[3], 90.0 / 12, 1e-4);      /* the RTX's GPU decode over the M1's */
    assert_null(strstr(dat, "\"llama3-8b decode\""));   /* the api's own job: no baseline figure */
    free(dat);
    free(gp);
    free(svg);
}

static void roofline_against_the_right_ceiling(void **s) {
    char *i8 = chart_file("roofline-int8", "gp"), *f16 = chart_file("roofline-fp16", "gp");
    /* the M1's quantized CPU cases: its CPU's INT8 dot-product peak (1.64 TOPS), its measured triad */
    assert_non_null(strstr(i8, "apple-m1-macbook-air CPU roof: INT8 1,640 G/s (profile), 60 GB/s (triad, measured)"));
    assert_non_null(strstr(i8, "(x*60 < 1640 ? x*60 : 1640)"));
    assert_null(strstr(i8, "rtx3080"));   /* the RTX ran its q4_0 on the GPU: FP16 tensor cores */
    assert_non_null(strstr(f16, "rtx3080-laptop GPU roof: FP16 30,600 G/s (datasheet), 448 GB/s (datasheet)"));
    assert_null(strstr(f16, "apple-m1"));
    free(i8);
    free(f16);
    assert_null(strstr(html, "id=\"chart-roofline-fp32\""));   /* no FP32 case measured */
}

static void volume_chart_holds_the_model(void **s) {
    char *dat = chart_file("volume-1", "dat"), *gp = chart_file("volume-1", "gp");
    assert_non_null(strstr(gp, "set logscale xy"));
    /* the user's volumes as lines */
    assert_non_null(strstr(gp, "set arrow 2 from first 1000, graph 0 to first 1000, graph 1"));
    /* block per target; Colab Pro A100's month at 1 job is its $9.99 fee (its included units cover it) */
    int cj = -1, colab = -1;
    for (int j = 0; j < model->n_jobs; j++)
        if (rp_job_in_volume_tables(model, &model->jobs[j]) && cj < 0) cj = j;
    int hosts[RP_MAX_HOSTS];
    const gc_job_cost *costs[RP_MAX_HOSTS];
    int k = rp_job_targets(model, &model->jobs[cj], hosts, costs);
    for (int i = 0; i < k; i++)
        if (!strcmp(model->hosts[hosts[i]].label, "colab-pro-a100")) colab = i;
    assert_true(colab >= 0);
    const char *p = dat;
    for (int i = 0; i < colab; i++) p = strstr(p, "\n\n\n") + 3;
    double v, usd;
    assert_int_equal(sscanf(p, "%lf %lf", &v, &usd), 2);
    assert_float_equal(v, 1, 1e-12);
    assert_float_equal(usd, 9.99, 1e-6);
    /* every break-even the chart marks is one of the table's, at its volume and month */
    rp_crossing cr[RP_MAX_HOSTS * (RP_MAX_HOSTS - 1) / 2];
    int nc = rp_job_crossings(model, &model->jobs[cj], cr);
    assert_true(nc >= 1);
    for (int i = 0; i < k; i++) p = strstr(p, "\n\n\n") ? strstr(p, "\n\n\n") + 3 : p;
    char want[64];
    snprintf(want, sizeof want, "%.6g %.6g 1", cr[0].volume, cr[0].monthly_usd);
    if (!strstr(dat, want)) fail_msg("break-even 1 (%s) not marked", want);
    assert_non_null(strstr(md, "| chart mark |"));
    free(dat);
    free(gp);
}

/* The image workload's FLOPs are its float convolutions: its cases meet the FP32 roof, not INT8,
 * whatever the linear layers' format (sd-tiny q8_0 here); its it/s chart says what an "it" is. */
static void image_cases_on_the_fp32_roof(void **s) {
    char dir[] = "/tmp/gc_charts_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *inputs[] = {FIX "sd-tiny.json"};
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = dir, .quiet = true};
    gc_err err = {{0}};
    if (report_run(inputs, 1, &o, &err)) fail_msg("%s", err.msg);
    char *page = slurp(dir, "report.html");
    assert_non_null(page);
    assert_non_null(strstr(page, "id=\"chart-roofline-fp32\""));
    assert_null(strstr(page, "id=\"chart-roofline-int8\""));
    assert_non_null(strstr(page, "Throughput: denoising steps (it) per second"));
    free(page);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(every_chart_made),
        cmocka_unit_test(ids_unique_and_resolved),
        cmocka_unit_test(hosts_keep_their_colour),
        cmocka_unit_test(one_unit_per_chart_with_whiskers),
        cmocka_unit_test(speedup_shows_its_baseline),
        cmocka_unit_test(roofline_against_the_right_ceiling),
        cmocka_unit_test(volume_chart_holds_the_model),
        cmocka_unit_test(image_cases_on_the_fp32_roof),
    };
    return cmocka_run_group_tests(t, setup, teardown);
}
