/* Tests for `gencost report` (reports/report*.c): two results files from different machines
 * (tests/fixtures/reports) merged with the shipped profiles; the tables hold the numbers worked
 * out here by hand from the fixtures; gnuplot writes valid PNG and SVG; the HTML page carries
 * every chart inline; hosts without results are marked projected; no gnuplot → tables only.
 * Hostile host names (gnuplot code, HTML, Markdown rows, CSV formulas, folder climbs) stay data. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/escape.h"
#include "reports/report.h"
#include "reports/report_model.h"

#define FIX "tests/fixtures/reports/"
static char out_dir[64];
static char *md, *html, *csv;

static char *slurp(const char *dir, const char *name, size_t *len) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gc_err err;
    size_t n = 0;
    char *s = gc_read_file(path, &n, &err);
    if (len) *len = n;
    return s;
}

/* The line of table `section` (a "## title") that contains both a and b; NULL if none. */
static char *table_line(const char *text, const char *section, const char *a, const char *b) {
    static char line[2048];
    const char *s = strstr(text, section);
    if (!s) return NULL;
    const char *end = strstr(s + 3, "\n## ");
    for (const char *p = s; p && (!end || p < end); p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        size_t n = strcspn(p, "\n");
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        if (strstr(line, a) && strstr(line, b)) return line;
        if (!p[n]) break;
    }
    return NULL;
}

static void expect_in_row(const char *section, const char *a, const char *b, const char *want) {
    char *l = table_line(md, section, a, b);
    if (!l) fail_msg("no row with '%s' and '%s' in %s", a, b, section);
    if (!strstr(l, want)) fail_msg("row '%s' lacks '%s'", l, want);
}

static int setup(void **s) {
    snprintf(out_dir, sizeof out_dir, "/tmp/gc_report_XXXXXX");
    assert_non_null(mkdtemp(out_dir));
    char *inputs[] = {FIX "m1.json", FIX "rtx.json=rtx3080-laptop"};
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = out_dir, .baseline = "apple-m1-macbook-air", .quiet = true};
    gc_err err = {{0}};
    if (report_run(inputs, 2, &o, &err)) fail_msg("%s", err.msg);
    md = slurp(out_dir, "report.md", NULL);
    html = slurp(out_dir, "report.html", NULL);
    csv = slurp(out_dir, "report.csv", NULL);
    return md && html && csv ? 0 : -1;
}

static int teardown(void **s) {
    free(md);
    free(html);
    free(csv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", out_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Fixture figures (tests/fixtures/reports): llama3-8b q4_0, 4.5 GB of weights and 16 GFLOP per
 * token; M1 prefill 100 and decode 12 tokens/s, RTX 90 and 3000; generation P = 512, N = 128. */
#define W 4.5e9
#define F 1.6e10
static double gen_rate(double dec, double pre) { return 1.0 / (512 / pre + 128 / dec); }
/* H100 generation, calibrated: 129 weight reads / (3350 GB/s × 0.27) + 640 tokens' FLOPs /
 * (989 TFLOPS × 0.085) + 128 passes × 0.55 ms */
#define H100_GEN_S (129 * W / (3350e9 * 0.27) + 640 * F / (989e12 * 0.085) + 128 * 0.00055)

/* The measured M1 beside its own projection (hosts/apple-m1-macbook-air.ini, on its CPU): decode
 * max(16 W / (68.25 GB/s × 0.82), 16 F / (1.64 TOPS × 0.5)) + 16 × 2.4 ms = 1.3249 s for 16
 * tokens = 12.08 → "12.1" token/s; measured 12 → 12 / 12.08 = 0.99×. The RTX (cuda rows,
 * runs on its GPU): max(16 W / (448 GB/s × 0.53), 16 F / (30.6 TFLOPS × 0.48)) + 16 × 0.68 ms =
 * 0.31411 s → 50.94 → "50.9"; measured 90 → 1.8×. */
static void projection_vs_measurement(void **s) {
    double t = fmax(16 * W / (68.25e9 * 0.82), 16 * F / (1.64e12 * 0.5)) + 16 * 0.0024;
    assert_true(fabs(16 / t - 12.08) < 0.005);
    expect_in_row("## Projection vs measurement", "q4_0/decode", "| apple-m1-macbook-air |", "| 12.1 | 15 | 12 | 0.99× |");
    expect_in_row("## Projection vs measurement", "q4_0/decode", "| apple-m1-macbook-air |", "its CPU");
    t = fmax(16 * W / (448e9 * 0.53), 16 * F / (30.6e12 * 0.48)) + 16 * 0.00068;
    assert_true(fabs(16 / t - 50.94) < 0.005);
    expect_in_row("## Projection vs measurement", "q4_0/decode", "| rtx3080-laptop |", "| 50.9 | 100 | 90 | 1.8× |");
    /* the triad the M1 measured on its CPU: 0.8 GB a rep at 68.25 × 0.82 GB/s = 56.0 → "56"; measured 60 */
    expect_in_row("## Projection vs measurement", "triad", "| apple-m1-macbook-air |", "| 56 | 68 | 60 | 1.1× |");
    /* the projected hosts are not in it */
    assert_null(table_line(md, "## Projection vs measurement", "cloud-h100", "|"));
}

static void throughput_measured_and_projected(void **s) {
    char want[64];
    snprintf(want, sizeof want, "| %.4g |", gen_rate(12, 100));
    expect_in_row("## Throughput", "generation (generation) | apple-m1-macbook-air |", "measured", want);
    /* H100 decode, calibrated (hosts/cloud-h100.ini): 16 tokens per rep;
     * max(16 W / (3350 GB/s × 0.27), 16 F / (989 TFLOPS × 0.085)) + 16 passes × 0.55 ms */
    double t = fmax(16 * W / (3350e9 * 0.27), 16 * F / (989e12 * 0.085)) + 16 * 0.00055;
    snprintf(want, sizeof want, "| %.4g |", 16 / t);
    expect_in_row("## Throughput", "q4_0/decode (token) | cloud-h100 (projected)", "| projected |", want);
    /* H100 generation: the sum of bandwidth time and compute time, + one pass per new token */
    t = H100_GEN_S;
    snprintf(want, sizeof want, "| %.4g |", 1 / t);
    expect_in_row("## Throughput", "q4_0/generation (generation) | cloud-h100 (projected)", "projected", want);
    /* the range: the roofline bound, 16 tokens / (16 W / 3350 GB/s) = 744 token/s → 740 (2 digits) */
    expect_in_row("## Throughput", "q4_0/decode (token) | cloud-h100 (projected)", "| projected |", "(bound 740) token/s");
    expect_in_row("## Throughput", "q4_0/decode (token) | cloud-h100 (projected)", "| projected |", "0.55 ms");
    /* the api's generation: 0.08 s + 128 tokens / 750 tokens/s, marked profile */
    snprintf(want, sizeof want, "| %.4g |", 1 / (0.08 + 128 / 750.0));
    expect_in_row("## Throughput", "api-llama3-8b (profile figures)", "generation", want);
    /* a case that failed verification is no figure */
    assert_null(strstr(md, "q8_0"));
    assert_null(strstr(csv, "q8_0"));
}

static void remove_dir(const char *dir);

/* A host measured on some jobs keeps its measured rows and is projected, marked, on the rest: the
 * RTX ran only decode (rtx-decode.json), so its prefill is projected from its profile, 512 tokens ÷
 * (8,192 GFLOP ÷ (30.6 TFLOPS × 0.48) + 0.68 ms); its bars for it are a series of their own. */
static void measured_host_projected_on_the_rest(void **s) {
    char dir[] = "/tmp/gc_report_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *inputs[] = {FIX "m1.json", FIX "rtx-decode.json=rtx3080-laptop"};
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = dir, .quiet = true};
    gc_err err = {{0}};
    if (report_run(inputs, 2, &o, &err)) fail_msg("%s", err.msg);
    char *text = slurp(dir, "report.md", NULL), *save = md;
    md = text;
    char want[32];
    snprintf(want, sizeof want, "| %.4g |", 512 / (8192e9 / (30.6e12 * 0.48) + 0.68e-3));
    expect_in_row("## Throughput", "q4_0/prefill (token) | rtx3080-laptop |", "| projected |", want);
    expect_in_row("## Throughput", "q4_0/decode (token) | rtx3080-laptop |", "| measured |", "| 90 |");
    md = save;
    char charts[96];
    snprintf(charts, sizeof charts, "%s/charts", dir);
    char *dat = slurp(charts, "throughput-1.dat", NULL);
    assert_non_null(strstr(dat, "\"rtx3080-laptop (projected)\""));
    free(dat);
    free(text);
    remove_dir(dir);
}

static void speedup_vs_baseline(void **s) {
    char want[32];
    snprintf(want, sizeof want, "%.3g×", gen_rate(90, 3000) / gen_rate(12, 100));
    expect_in_row("## Speedup vs apple-m1-macbook-air", "q4_0/generation | rtx3080-laptop", "measured", want);
    expect_in_row("## Speedup vs apple-m1-macbook-air", "q4_0/generation | apple-m1-macbook-air", "measured", "| 1× |");
}

static void energy_with_source(void **s) {
    expect_in_row("## Energy per generation", "apple-m1-macbook-air", "measured", "| 300 | measured | powermetrics |");
    char want[96];
    snprintf(want, sizeof want, "| %.4g | estimated | profile:rtx3080-laptop active_watts |", 110 / gen_rate(90, 3000));
    expect_in_row("## Energy per generation", "rtx3080-laptop", "measured", want);
}

static void cost_per_1000(void **s) {
    char want[64];
    /* M1 owned: 999 / (4 × 365 × 8) $/h + measured 300 J per generation of 1/rate s → watts */
    double sec = 1 / gen_rate(12, 100);
    double usd_h = 999.0 / 11680 + (300 / sec) / 1000 * 0.16;
    snprintf(want, sizeof want, "| $%.3g |", usd_h * sec / 3600 * 1000);
    expect_in_row("## Cost per 1,000", "apple-m1-macbook-air", "measured", want);
    /* gCO2: 300 J at 366 g/kWh */
    snprintf(want, sizeof want, "| %.4g |", 300 / 3.6e6 * 366);
    expect_in_row("## Cost per 1,000", "apple-m1-macbook-air", "measured", want);
    /* H100 projected at $4.29/h */
    double t = H100_GEN_S;
    snprintf(want, sizeof want, "| $%.3g |", 4.29 * t / 3600 * 1000);
    expect_in_row("## Cost per 1,000", "q4_0/generation | cloud-h100 (projected)", "projected", want);
    /* Colab: $9.99 / 100 CU × 13.45 CU/h; calibrated A100 40GB (hosts/colab-pro-a100.ini) */
    t = 129 * W / (1555e9 * 0.28) + 640 * F / (312e12 * 0.15) + 128 * 0.00045;
    snprintf(want, sizeof want, "| $%.3g |", 9.99 / 100 * 13.45 * t / 3600 * 1000);
    expect_in_row("## Cost per 1,000", "colab-pro-a100 (projected)", "projected", want);
    /* api: 512 × $0.05/M + 128 × $0.08/M */
    snprintf(want, sizeof want, "| $%.3g |", (512 * 0.05 + 128 * 0.08) / 1e6 * 1000);
    expect_in_row("## Cost per 1,000", "api-llama3-8b (profile figures)", "profile", want);
}

static void break_even(void **s) {
    /* M1 vs the api: (999 / 48) / (api $ per generation − 300 J of electricity) */
    double api = (512 * 0.05 + 128 * 0.08) / 1e6, elec = 300 / 3.6e6 * 0.16;
    char want[64];
    snprintf(want, sizeof want, "| %.0f |", ceil((999.0 / 48) / (api - elec)));
    char *l = table_line(md, "## Break-even", "| apple-m1-macbook-air | api-llama3-8b", want);
    if (!l) fail_msg("no break-even row M1 vs api with %s", want);
    assert_non_null(strstr(l, "beyond capacity"));
    /* the RTX laptop vs the H100: owning wins above the break-even */
    double t = H100_GEN_S;
    double h100 = 4.29 * t / 3600, sec = 1 / gen_rate(90, 3000), e = 110 * sec / 3.6e6 * 0.16;
    snprintf(want, sizeof want, "| %.0f |", ceil((1999.0 / 48) / (h100 - e)));
    l = table_line(md, "## Break-even", "| rtx3080-laptop | cloud-h100 (projected)", want);
    if (!l) fail_msg("no break-even row RTX vs H100 with %s", want);
}

static void hosts_marked(void **s) {
    expect_in_row("## Hosts", "| cloud-a100-80gb |", "| projected |", "RunPod on-demand");
    /* an image api is priced per image, and has no rows of its own without an image job to price */
    expect_in_row("## Hosts", "| api-image-flux-schnell |", "| profile |", "| $0.003 per image (fal) |");
    assert_null(table_line(md, "## Throughput", "api-image-flux-schnell", "|"));
    expect_in_row("## Hosts", "| rtx3080-laptop |", "| measured |", "owned");
    /* every projected row of the csv says so */
    assert_non_null(strstr(csv, "cloud-h100,Cloud H100 (Lambda on-demand),projected,llm,llama3-8b,q4_0,-,0,generation"));
}

static int is_png(const char *dir, const char *name) {
    size_t n = 0;
    char *p = slurp(dir, name, &n);
    int ok = p && n > 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8);
    free(p);
    return ok;
}

static void charts_png_svg_and_inline(void **s) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/charts", out_dir);
    const char *names[] = {"throughput-1", "cost-1", "energy-1", "speedup", "roofline-int8", "volume-1"};
    for (int i = 0; i < 6; i++) {
        char f[64];
        snprintf(f, sizeof f, "%s.png", names[i]);
        if (!is_png(dir, f)) fail_msg("%s/%s is not a PNG", dir, f);
        snprintf(f, sizeof f, "%s.svg", names[i]);
        char *svg = slurp(dir, f, NULL);
        assert_non_null(svg);
        assert_non_null(strstr(svg, "<svg"));
        assert_non_null(strstr(svg, "</svg>"));
        free(svg);
        char id[64];
        snprintf(id, sizeof id, "<figure id=\"chart-%s\">\n<svg", names[i]);
        if (!strstr(html, id)) fail_msg("report.html lacks inline chart %s", names[i]);
        snprintf(id, sizeof id, "charts/%s.png", names[i]);
        assert_non_null(strstr(md, id));
    }
    assert_null(strstr(html, "<?xml"));     /* a prolog inside HTML would break the page */
    assert_null(strstr(html, "src=\"charts/"));   /* self-contained: nothing fetched */
    assert_non_null(strstr(html, "class=\"projected\""));
    /* the projected hosts are named so in the charts too */
    char *svg = slurp(dir, "cost-1.svg", NULL);
    assert_non_null(strstr(svg, "cloud-h100 (projected)"));
    free(svg);
}

static void without_gnuplot_tables_only(void **s) {
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/gc_report_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char *inputs[] = {FIX "m1.json"};
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = dir, .gnuplot = "/nonexistent/gnuplot", .quiet = true};
    gc_err err = {{0}};
    if (report_run(inputs, 1, &o, &err)) fail_msg("%s", err.msg);
    char *text = slurp(dir, "report.md", NULL);
    assert_non_null(strstr(text, "Charts were skipped: gnuplot ('/nonexistent/gnuplot') not found"));
    assert_non_null(strstr(text, "## Cost per 1,000 generations"));
    free(text);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The generation's shape comes from the results' metrics (GC_METRIC_PROMPT_TOKENS and
 * GC_METRIC_GEN_TOKENS), not from gencost's defaults. */
static void shape_from_metrics(void **s) {
    assert_non_null(strstr(md, "P = 512 prompt and N = 128 new tokens per generation (from the results)"));
}

/* A schema-2 file: the parameters belong to the job (and to the api rows that price it), the
 * device to the configuration; two devices are two rows of one job, the faster one counts. */
static void schema2_params_and_device(void **s) {
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/gc_report_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char *inputs[] = {FIX "m1-isa.json"};
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = dir, .gnuplot = "/nonexistent/gnuplot", .quiet = true};
    gc_err err = {{0}};
    if (report_run(inputs, 1, &o, &err)) fail_msg("%s", err.msg);
    char *text = slurp(dir, "report.md", NULL), *table = slurp(dir, "report.csv", NULL);
    assert_non_null(text);
    const char *job = "llm/llama3-8b/q4_0/generation?gen=64,prompt=256";
    char a[160], want[64];
    snprintf(a, sizeof a, "| %s (generation) | apple-m1-macbook-air |", job);
    char *l = table_line(text, "## Throughput", a, "cpu (dotprod) × 4");
    if (!l) fail_msg("no throughput row for %s on dotprod", job);
    assert_non_null(strstr(l, "fastest here"));
    snprintf(want, sizeof want, "| %.4g |", 1.5 * gen_rate(12, 100));
    assert_non_null(strstr(l, want));
    l = table_line(text, "## Throughput", a, "cpu (neon) × 4");
    if (!l) fail_msg("no throughput row for %s on neon", job);
    assert_null(strstr(l, "fastest here"));
    /* the api is priced for the shape the results state: 256 prompt and 64 new tokens */
    assert_non_null(strstr(text, "P = 256 prompt and N = 64 new tokens per generation (from the results)"));
    snprintf(want, sizeof want, "| $%.3g |", (256 * 0.05 + 64 * 0.08) / 1e6 * 1000);
    l = table_line(text, "## Cost per 1,000", "| llm/llama3-8b/-/generation?gen=64,prompt=256 | api-llama3-8b", want);
    if (!l) fail_msg("no api cost row with %s", want);
    snprintf(a, sizeof a, "| %s | apple-m1-macbook-air | api-llama3-8b", job);
    if (!table_line(text, "## Break-even", a, "|")) fail_msg("no break-even row of %s against the api", job);
    assert_non_null(strstr(table, ",basis,device,params,concurrency,"));   /* the endpoint latencies follow */
    assert_non_null(strstr(table, ",dotprod,\"gen=64,prompt=256\",,,,,,,,,,,,\n"));
    free(text);
    free(table);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- hostile data: a results file from another machine is untrusted ------------------------ */

/* Writes dir/hostile.json: m1.json with the host name replaced by host_json (JSON-escaped). */
static void hostile_results(const char *dir, const char *host_json, char *path, size_t n) {
    char *src = slurp(FIX, "m1.json", NULL);
    assert_non_null(src);
    const char *at = strstr(src, "\"apple-m1-macbook-air\"");
    assert_non_null(at);
    snprintf(path, n, "%s/hostile.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%.*s\"%s\"%s", (int)(at - src), src, host_json, at + strlen("\"apple-m1-macbook-air\""));
    assert_int_equal(fclose(f), 0);
    free(src);
}

static bool exists(const char *dir, const char *name) {
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

/* A report (with gnuplot, an empty hosts folder: just this host) of one hostile results file in a
 * fresh folder; returns that folder (static) with report.* and charts/ in it. */
static const char *hostile_report(const char *host_json) {
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/gc_report_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char hosts[96], out[96], input[160];
    snprintf(hosts, sizeof hosts, "%s/hosts", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    assert_int_equal(mkdir(hosts, 0755), 0);
    hostile_results(dir, host_json, input, sizeof input);
    char *inputs[] = {input};
    gc_report_opts o = {.hosts_dir = hosts, .out_dir = out, .quiet = true};
    gc_err err = {{0}};
    if (report_run(inputs, 1, &o, &err)) fail_msg("%s", err.msg);
    return dir;
}

static void remove_dir(const char *dir) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Host names that broke out of the roofline chart's titles (a single quote), the speedup chart's
 * title (a newline, then a shell line) and, once through the data file, of a double-quoted title:
 * each gives charts that render, and no file "owned" anywhere (gnuplot runs in charts/). */
static void gnuplot_never_runs_data(void **s) {
    static const char *const names[] = {
        "x' . system('touch owned') . '",
        "x\\n!touch owned\\nsystem('touch owned')\\n",
        "x\\\" . system(\\\"touch owned\\\") . \\\"",
        "x` touch owned` @x",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *dir = hostile_report(names[i]);
        char out[96], charts[112];
        snprintf(out, sizeof out, "%s/out", dir);
        snprintf(charts, sizeof charts, "%s/charts", out);
        if (exists(dir, "owned") || exists(out, "owned") || exists(charts, "owned") || exists(".", "owned"))
            fail_msg("host name %s ran a command through gnuplot", names[i]);
        char *md_text = slurp(out, "report.md", NULL);
        assert_non_null(md_text);
        if (strstr(md_text, "Charts were skipped")) fail_msg("no charts for host %s: %s", names[i], md_text);
        free(md_text);
        const char *want[] = {"throughput-1.svg", "roofline-int8.svg", "roofline-int8.png"};
        for (int k = 0; k < 3; k++)
            if (!exists(charts, want[k])) fail_msg("host %s: no charts/%s", names[i], want[k]);
        char *svg = slurp(charts, "roofline-int8.svg", NULL);
        assert_non_null(strstr(svg, "touch owned"));          /* the name is drawn, as text */
        free(svg);
        remove_dir(dir);
    }
}

/* Markup in a host name is text on the page: every text node and attribute escaped, the
 * inlined charts included (gnuplot's SVG escapes its text). */
static void html_has_no_markup_from_data(void **s) {
    const char *dir = hostile_report("<img src=x onerror=alert(1)>");
    char out[96];
    snprintf(out, sizeof out, "%s/out", dir);
    char *page = slurp(out, "report.html", NULL), *md_text = slurp(out, "report.md", NULL);
    assert_non_null(page);
    assert_non_null(strstr(page, "&lt;img src=x onerror=alert(1)&gt;"));
    assert_null(strstr(page, "<img"));
    assert_non_null(strstr(page, "<figcaption><b>Speedup vs &lt;img"));
    /* Markdown renderers pass raw HTML through: the .md must not carry it either */
    assert_null(strstr(md_text, "<img"));
    assert_non_null(strstr(md_text, "&lt;img src=x onerror=alert(1)>"));
    free(page);
    free(md_text);
    remove_dir(dir);
}

/* A host name with a pipe, a newline and a leading '=': one Markdown row per host, and in the
 * CSV a quoted cell that a spreadsheet shows as text. */
static void md_rows_and_csv_cells_hold(void **s) {
    const char *dir = hostile_report("=HYPERLINK(\\\"http://x\\\")|a\\n| b | [c](d)");
    char out[96];
    snprintf(out, sizeof out, "%s/out", dir);
    char *md_text = slurp(out, "report.md", NULL), *table = slurp(out, "report.csv", NULL);
    char *l = table_line(md_text, "## Hosts", "| =HYPERLINK(\"http://x\")\\|a \\| b \\| \\[c\\](d) |", "measured");
    if (!l) fail_msg("no single Hosts row for the host in:\n%s", md_text);
    assert_null(strstr(md_text, "\n| b |"));
    assert_non_null(strstr(table, "\n\"'=HYPERLINK(\"\"http://x\"\")|a\n| b | [c](d)\",\"'=HYPERLINK("));
    free(md_text);
    free(table);
    remove_dir(dir);
}

/* A host named like a path: everything stays inside --out (the chart names are fixed). */
static void path_like_host_stays_inside(void **s) {
    const char *dir = hostile_report("../../etc/x");
    char out[96];
    snprintf(out, sizeof out, "%s/out", dir);
    assert_true(exists(out, "report.html"));
    assert_true(exists(out, "charts/throughput-1.svg"));
    assert_false(exists(dir, "etc"));
    assert_false(exists(out, "etc"));
    remove_dir(dir);
}

/* A symlink planted at a chart file, one gnuplot writes (an image) or one we write (a data
 * file), is refused (charts skipped, saying why) and its target is left as it was. */
static void chart_symlink_not_followed(void **s) {
    static const char *const planted[] = {"speedup.svg", "throughput-1.dat"};
    for (int i = 0; i < 2; i++) {
        char dir[64], charts[96], target[96], link[128], want[200];
        snprintf(dir, sizeof dir, "/tmp/gc_report_XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(charts, sizeof charts, "%s/charts", dir);
        snprintf(target, sizeof target, "%s/precious", dir);
        snprintf(link, sizeof link, "%s/%s", charts, planted[i]);
        assert_int_equal(mkdir(charts, 0755), 0);
        FILE *f = fopen(target, "w");
        assert_non_null(f);
        fputs("keep me\n", f);
        fclose(f);
        assert_int_equal(symlink(target, link), 0);
        char *inputs[] = {FIX "m1.json"};
        gc_report_opts o = {.hosts_dir = "hosts", .out_dir = dir, .quiet = true};
        gc_err err = {{0}};
        if (report_run(inputs, 1, &o, &err)) fail_msg("%s", err.msg);
        char *text = slurp(dir, "precious", NULL), *md_text = slurp(dir, "report.md", NULL);
        assert_string_equal(text, "keep me\n");
        snprintf(want, sizeof want, "Charts were skipped: %s: is a symbolic link", link);
        if (!strstr(md_text, want)) fail_msg("report.md lacks '%s'", want);
        free(text);
        free(md_text);
        remove_dir(dir);
    }
}

/* The escaping functions one by one (base/escape.h), on exact strings. */
static char *escaped(void (*fn)(FILE *, const char *), const char *s) {
    static char buf[512];
    buf[0] = 0;
    FILE *f = fmemopen(buf, sizeof buf, "w");
    assert_non_null(f);
    fn(f, s);
    fclose(f);
    return buf;
}

static void escape_functions(void **s) {
    assert_string_equal(escaped(gc_gp_quote, "a'b\nc`d`@e"), "'a''b c`d`@e'");
    assert_string_equal(escaped(gc_gp_field, "a\"b\tc"), "\"a'b c\"");
    assert_string_equal(escaped(gc_html, "<a href='x'>&\"</a>"), "&lt;a href='x'&gt;&amp;&quot;&lt;/a&gt;");
    assert_string_equal(escaped(gc_md, "a|b\\c\r\n<d>[e]"), "a\\|b\\\\c  &lt;d>\\[e\\]");
    assert_string_equal(escaped(gc_md, "llm/llama3-8b/q4_0/generation?gen=128,prompt=512 (generation)"),
                        "llm/llama3-8b/q4_0/generation?gen=128,prompt=512 (generation)");
    assert_string_equal(escaped(gc_csv_text, "plain text"), "plain text");
    assert_string_equal(escaped(gc_csv_text, "-"), "-");                       /* "no value" */
    assert_string_equal(escaped(gc_csv_text, "a,\"b\""), "\"a,\"\"b\"\"\"");
    assert_string_equal(escaped(gc_csv_text, "=1+1"), "\"'=1+1\"");
    assert_string_equal(escaped(gc_csv_text, "+1"), "\"'+1\"");
    assert_string_equal(escaped(gc_csv_text, "-5"), "\"'-5\"");               /* a text cell */
    assert_string_equal(escaped(gc_csv_text, "@SUM(A1)"), "\"'@SUM(A1)\"");
    assert_string_equal(escaped(gc_csv_text, "\t=1"), "\"'\t=1\"");
    assert_string_equal(escaped(gc_csv_text, ""), "");
    char name[256], other[256];
    gc_safe_name("llm_tiny_q4_0@box-1.local", "@", name, sizeof name);
    assert_string_equal(name, "llm_tiny_q4_0@box-1.local");                    /* safe: unchanged */
    gc_safe_name("../../etc/x", NULL, name, sizeof name);
    assert_int_equal(strlen(name), strlen("_._.._etc_x") + 9);                 /* changed: + hash */
    assert_memory_equal(name, "_._.._etc_x-", 12);
    gc_safe_name("..", NULL, name, sizeof name);
    assert_memory_equal(name, "_.-", 3);
    gc_safe_name("", NULL, name, sizeof name);
    assert_string_equal(name, "_");
    gc_safe_name("a/b@c d", "@", name, sizeof name);
    assert_memory_equal(name, "a_b@c_d-", 8);
    gc_safe_name("a/b", "/", name, sizeof name);                               /* '/' never kept */
    assert_memory_equal(name, "a_b-", 4);
    gc_safe_name("x' . y", NULL, name, sizeof name);
    gc_safe_name("x\" . y", NULL, other, sizeof other);
    assert_string_not_equal(name, other);                          /* same letters, two files */
    char longer[300];
    memset(longer, 'a', 299);
    longer[299] = 0;
    gc_safe_name(longer, NULL, name, sizeof name);
    assert_int_equal(strlen(name), 189);
    assert_int_equal(name[180], '-');
    longer[298] = 'b';
    gc_safe_name(longer, NULL, other, sizeof other);
    assert_string_not_equal(name, other);                                     /* distinct by the hash */
}

/* The CSV's numbers are not text cells: a negative figure stays a number (no quote, no guard). */
static void csv_numbers_stay_numbers(void **s) {
    rp_model *mp = calloc(1, sizeof *mp);
    assert_non_null(mp);
    rp_row row;
    memset(&row, 0, sizeof row);
    mp->n_hosts = 1;
    snprintf(mp->hosts[0].label, sizeof mp->hosts[0].label, "h");
    snprintf(mp->hosts[0].name, sizeof mp->hosts[0].name, "-lead");
    snprintf(row.id.workload, sizeof row.id.workload, "w");
    snprintf(row.id.backend, sizeof row.id.backend, "-");
    row.id.threads = 1;
    row.tput = -2.5;
    row.lo = -3;
    row.hi = -2;
    row.cv = 0.5;
    row.n = 3;
    row.j_per_unit = -1;
    mp->rows = &row;
    mp->n_rows = 1;
    char path[96];
    snprintf(path, sizeof path, "%s/neg.csv", out_dir);
    gc_err err = {{0}};
    assert_int_equal(rp_write_csv(mp, path, &err), 0);
    free(mp);
    char *text = slurp(out_dir, "neg.csv", NULL);
    assert_non_null(strstr(text, "\nh,\"'-lead\",measured,w,,,-,1,,,-2.5,-3,-2,0.5,3,"));
    free(text);
}

static void bad_inputs(void **s) {
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = "/tmp/gc_report_never", .quiet = true};
    gc_err err = {{0}};
    char *missing[] = {FIX "nope.json"};
    assert_int_not_equal(report_run(missing, 1, &o, &err), 0);
    assert_non_null(strstr(err.msg, "nope.json"));
    char *bad_prof[] = {FIX "m1.json=no-such-host"};
    assert_int_not_equal(report_run(bad_prof, 1, &o, &err), 0);
    assert_non_null(strstr(err.msg, "profile 'no-such-host' not found"));
    char *ok[] = {FIX "m1.json"};
    o.baseline = "mainframe";
    assert_int_not_equal(report_run(ok, 1, &o, &err), 0);
    assert_non_null(strstr(err.msg, "--baseline 'mainframe' is not a host"));
    /* an --out too long for the report's paths is refused, not cut to another folder */
    char long_out[1200];
    memset(long_out, 'd', sizeof long_out - 1);
    long_out[0] = '/';
    long_out[sizeof long_out - 1] = 0;
    o.out_dir = long_out;
    o.baseline = NULL;
    assert_int_not_equal(report_run(ok, 1, &o, &err), 0);
    assert_non_null(strstr(err.msg, "--out: a folder name of 1199 bytes is too long"));
    o.out_dir = "/tmp/gc_report_never";
    o.hosts_dir = "/nonexistent/hosts";
    assert_int_not_equal(report_run(ok, 1, &o, &err), 0);
    assert_non_null(strstr(err.msg, "/nonexistent/hosts"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(throughput_measured_and_projected),
        cmocka_unit_test(projection_vs_measurement),
        cmocka_unit_test(measured_host_projected_on_the_rest),
        cmocka_unit_test(speedup_vs_baseline),
        cmocka_unit_test(energy_with_source),
        cmocka_unit_test(cost_per_1000),
        cmocka_unit_test(break_even),
        cmocka_unit_test(hosts_marked),
        cmocka_unit_test(charts_png_svg_and_inline),
        cmocka_unit_test(without_gnuplot_tables_only),
        cmocka_unit_test(shape_from_metrics),
        cmocka_unit_test(schema2_params_and_device),
        cmocka_unit_test(bad_inputs),
        cmocka_unit_test(gnuplot_never_runs_data),
        cmocka_unit_test(html_has_no_markup_from_data),
        cmocka_unit_test(md_rows_and_csv_cells_hold),
        cmocka_unit_test(path_like_host_stays_inside),
        cmocka_unit_test(chart_symlink_not_followed),
        cmocka_unit_test(escape_functions),
        cmocka_unit_test(csv_numbers_stay_numbers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
