/* Endpoint runs in `gencost report` (issue 17): an API measured by the endpoint workload is a
 * measured target. The fixture (tests/fixtures/reports/endpoint.json, made by hand in the
 * results schema the workload writes) ran from a client machine, "client-box" (an AMD EPYC, no
 * fit for any profile's device), against llama-3.1-8b-instant:
 *   c1 and c4 asking a 512-token prompt + 128 new tokens (--prompt-slack 1; the server counted
 *     513 prompt tokens, a BOS), 2.0 and 6.4 generations/s;
 *   c1 asking 256 + 64 (counted 256 + 64), 4.0 generations/s;
 * each with a meter reading of the client (5 J a generation) that is not the API's energy.
 * Tied to hosts/api-llama3-8b.ini ($0.05 per M input, $0.08 per M output tokens) beside the M1's
 * llama3-8b q4_0 run (tests/fixtures/reports/m1.json, 512 + 128), the api is priced at the counted
 * tokens and stands beside the llm job, measured; untied, the endpoint is shown unpriced. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/results.h"
#include "reports/report.h"
#include "reports/report_model.h"

#define FIXTURE "tests/fixtures/reports/endpoint.json"
#define JOB_512 "endpoint/-/-/c1?api=completions,gen=128,prompt=512,prompt-slack=1,stream=on"
#define JOB_512_C4 "endpoint/-/-/c4?api=completions,gen=128,prompt=512,prompt-slack=1,stream=on"
#define JOB_256 "endpoint/-/-/c1?api=completions,gen=64,prompt=256,prompt-slack=0,stream=on"

/* The line of the section starting with `section` holding both a and b; NULL none. */
static char *line_in(const char *text, const char *section, const char *a, const char *b) {
    static char line[4096];
    const char *p = strstr(text, section);
    if (!p) return NULL;
    const char *end = strstr(p + 3, "\n## ");
    for (; p && *p && (!end || p < end); p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        size_t n = strcspn(p, "\n");
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        if (strstr(line, a) && strstr(line, b)) return line;
    }
    return NULL;
}

static void expect(const char *md, const char *section, const char *a, const char *b) {
    if (!line_in(md, section, a, b)) fail_msg("no line in %s with '%s' and '%s'", section, a, b);
}

/* The report of inputs, report.md's text (caller frees); dir made under /tmp. */
static char *report(char **inputs, int n, char *dir) {
    assert_non_null(mkdtemp(dir));
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = dir, .gnuplot = "/nonexistent/gnuplot", .quiet = true};
    gc_err err = {{0}};
    if (report_run(inputs, n, &o, &err)) fail_msg("%s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/report.md", dir);
    char *md = gc_read_file(path, NULL, &err);
    assert_non_null(md);
    return md;
}

static void remove_dir(const char *dir) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The guard the tie must not apply: the client's facts do not fit the api's device. */
static void client_facts_do_not_fit_the_api(void **state) {
    (void)state;
    gc_results res;
    gc_profile api;
    gc_err err = {{0}};
    if (results_read(FIXTURE, &res, &err) || profile_load("hosts/api-llama3-8b.ini", &api, &err)) fail_msg("%s", err.msg);
    char why[200];
    assert_int_equal(rp_profile_fits(res.host, &api, why, sizeof why), 0);
    assert_non_null(strstr(why, "AMD EPYC 7B13"));
    results_free(&res);
}

static void tied_to_an_api_profile(void **state) {
    (void)state;
    char dir[] = "/tmp/gc_report_ep_XXXXXX";
    char *inputs[] = {"tests/fixtures/reports/m1.json", FIXTURE "=api-llama3-8b"};
    char *md = report(inputs, 2, dir);
    expect(md, "## Hosts", "| api-llama3-8b | API Llama 3.1 8B (Groq) |", "| measured (endpoint) | api |");

    /* a generation: 513 × $0.05/M + 128 × $0.08/M = $0.00002565 + $0.00001024 = $0.00003589, the
     * counted prompt (513), not the 512 asked ($0.00003584); $0.0359 per 1,000 */
    double usd = 513 * 0.05e-6 + 128 * 0.08e-6;
    assert_float_equal(usd, 3.589e-5, 1e-12);
    char d[32], each[40], k[40];
    rp_fmt_usd(d, sizeof d, usd);
    assert_string_equal(d, "$0.0000359");
    snprintf(each, sizeof each, "| %s |", d);
    rp_fmt_usd(d, sizeof d, usd * 1000);
    assert_string_equal(d, "$0.0359");
    snprintf(k, sizeof k, "| %s |", d);
    char *l = line_in(md, "## Cost per 1,000", "| " JOB_512 " | api-llama3-8b | measured |", each);
    if (!l) fail_msg("no measured c1 cost row with %s", each);
    assert_non_null(strstr(l, "| 0.5 |"));   /* 1 ÷ 2.0 generations/s */
    assert_non_null(strstr(l, k));
    /* c4: the same tokens, the same price; 1 ÷ 6.4 = 0.1562 s each */
    l = line_in(md, "## Cost per 1,000", "| " JOB_512_C4 " | api-llama3-8b | measured |", k);
    if (!l) fail_msg("no measured c4 cost row");
    assert_non_null(strstr(l, "| 0.1562 |"));
    /* the other shape is its own job: 256 × $0.05/M + 64 × $0.08/M = $0.00001792, $0.0179 per 1,000 */
    expect(md, "## Cost per 1,000", "| " JOB_256 " | api-llama3-8b | measured |", "| $0.0000179 | $0.0179 |");
    assert_non_null(strstr(md, "**endpoint: one generation = 256-token prompt + 64 new tokens at concurrency 1**"));
    assert_non_null(strstr(md, "**endpoint: one generation = 512-token prompt + 128 new tokens at concurrency 4**"));

    /* beside the llm job of the same 512 + 128: the api's c1 figure, measured, not the profile's
     * published 750 tokens/s (0.08 s + 128 / 750 = 0.2507 s a generation, $0.0358 per 1,000) */
    l = line_in(md, "## Throughput", "| llm/llama3-8b/-/generation (generation) | api-llama3-8b | measured |", "| 2 |");
    if (!l) fail_msg("no measured api row for the llm job");
    assert_non_null(strstr(l, "endpoint (llama-3.1-8b-instant), 1 at once"));
    assert_non_null(strstr(l, "endpoint phase c1"));
    assert_null(strstr(md, "0.08 s to first token"));
    assert_null(line_in(md, "## Throughput", "api-llama3-8b", "| profile |"));
    assert_null(strstr(md, "api-llama3-8b (profile figures)"));
    assert_null(strstr(md, "$0.0358"));
    /* and the summary's fastest target for that job is the api's measured figure (0.5 s) */
    assert_non_null(strstr(md, "**llama3-8b q4_0: one generation = 512-token prompt + 128 new tokens**\n\n"
                               "- Fastest: api-llama3-8b — 0.5 s per generation (measured)\n"));
    expect(md, "## Cost at a month's volume", "| llama3-8b q4_0 | api-llama3-8b | measured | 1,000 |",
           "| $0.0359 | $0.0359 |");
    expect(md, "## Cheapest target at each volume", "| llama3-8b q4_0 | 1,000 | apple-m1-macbook-air |",
           "api-llama3-8b, $0.0359 a month");

    /* TTFT and ITL where the llm job's figures are (ms: median / p90 / p99) */
    expect(md, "## Endpoint latency", "| llm/llama3-8b/-/generation | api-llama3-8b | measured | 1 |",
           "| 200 / 250 / 300 | 4 / 5 / 6 | 0.5 / 0.55 / 0.6 | 256 | 250 |");
    expect(md, "## Endpoint latency", "| " JOB_512_C4 " | api-llama3-8b | measured | 4 |",
           "| 300 / 400 / 500 | 5 / 6 / 8 | 0.625 / 0.7 / 0.8 | 204.8 | 819.2 |");
    expect(md, "## Throughput", "| " JOB_512 " (generation) | api-llama3-8b |", "TTFT 200 ms, ITL 4 ms");

    /* energy unknown: the client's meter (5 J a generation) is not the API's, nor is any estimated */
    expect(md, "## Energy", "| " JOB_512 " | api-llama3-8b | measured |", "| — | unknown |");
    expect(md, "## Energy", "| llm/llama3-8b/-/generation | api-llama3-8b |", "| — | unknown |");
    assert_null(line_in(md, "## Energy", "api-llama3-8b", "| 5 |"));

    /* report.csv carries the latencies last (seconds): c4's level, TTFT, ITL, e2e, tokens/s */
    char path[64];
    snprintf(path, sizeof path, "%s/report.csv", dir);
    gc_err err;
    char *csv = gc_read_file(path, NULL, &err);
    if (!csv) fail_msg("%s", err.msg);
    assert_non_null(strstr(csv, ",params,concurrency,ttft_s_median,ttft_s_p90,ttft_s_p99,itl_s_median,itl_s_p90,"
                                "itl_s_p99,e2e_s_median,e2e_s_p90,e2e_s_p99,request_tokens_per_s,"
                                "aggregate_tokens_per_s\n"));
    assert_non_null(strstr(csv, ",4,0.3,0.4,0.5,0.005,0.006,0.008,0.625,0.7,0.8,204.8,819.2\n"));
    /* a row of another workload leaves the twelve cells empty */
    const char *m1 = strstr(csv, "\napple-m1-macbook-air,");
    assert_non_null(m1);
    const char *eol = strchr(m1 + 1, '\n');
    assert_true(eol - m1 > 12 && !strncmp(eol - 12, ",,,,,,,,,,,,", 12));
    free(csv);
    free(md);
    remove_dir(dir);
}

static void untied_is_shown_unpriced(void **state) {
    (void)state;
    char dir[] = "/tmp/gc_report_ep_XXXXXX";
    char *inputs[] = {FIXTURE};
    char *md = report(inputs, 1, dir);
    expect(md, "## Hosts", "| endpoint:llama-3.1-8b-instant | API serving llama-3.1-8b-instant (measured from client-box) |",
           "| measured (endpoint) | — | — (no profile) |");
    assert_null(strstr(md, "| client-box |"));   /* no host for the client machine */
    expect(md, "## Throughput", "| " JOB_512_C4 " (generation) | endpoint:llama-3.1-8b-instant | measured |", "| 6.4 |");
    expect(md, "## Endpoint latency", "| " JOB_256 " | endpoint:llama-3.1-8b-instant | measured | 1 |",
           "| 100 / 120 / 150 | 3 / 4 / 5 |");
    expect(md, "## Cost per 1,000", "| " JOB_512 " | endpoint:llama-3.1-8b-instant | measured | 0.5 |",
           "not priced: an endpoint is priced by an api profile");
    assert_non_null(strstr(md, "- Cost: not priced: an endpoint is priced by an api profile (RESULTS=PROFILE)"));
    assert_null(strstr(md, "$0.0359"));
    assert_null(strstr(md, "$0.0179"));
    free(md);
    remove_dir(dir);
}

static void refused_ties(void **state) {
    (void)state;
    char dir[] = "/tmp/gc_report_ep_XXXXXX";
    assert_non_null(mkdtemp(dir));
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = dir, .gnuplot = "/nonexistent/gnuplot", .quiet = true};
    gc_err err = {{0}};
    char *llm_to_api[] = {"tests/fixtures/reports/m1.json=api-llama3-8b"};
    assert_int_not_equal(report_run(llm_to_api, 1, &o, &err), 0);
    assert_non_null(strstr(err.msg, "an api profile is tied to endpoint results"));
    char *ep_to_machine[] = {FIXTURE "=apple-m1-macbook-air"};
    assert_int_not_equal(report_run(ep_to_machine, 1, &o, &err), 0);
    assert_non_null(strstr(err.msg, "endpoint results are priced by an api profile (kind = api)"));
    char *ep_to_image_api[] = {FIXTURE "=api-image-flux-schnell"};
    assert_int_not_equal(report_run(ep_to_image_api, 1, &o, &err), 0);
    assert_non_null(strstr(err.msg, "the profile prices no tokens"));
    remove_dir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(client_facts_do_not_fit_the_api),
        cmocka_unit_test(tied_to_an_api_profile),
        cmocka_unit_test(untied_is_shown_unpriced),
        cmocka_unit_test(refused_ties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
