/* End-to-end tests of `gencost compare` and `gencost history`, driving the sanitized binary
 * ($GENCOST_BIN) on crafted results files: exit codes 0/1/2, output formats, malformed input,
 * the interleaved A/B mode, and the history actions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/helpers.h"

static char dir[64];
static const char *bin;

/* A throughput statistics object with every field the reader requires (values near m). */
static const char *stats_text(double m) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k],
             "{\"n\": 5, \"median\": %.6g, \"mean\": %.6g, \"stddev\": %.6g, \"mad\": %.6g, "
             "\"min\": %.6g, \"max\": %.6g, \"ci95_low\": %.6g, \"ci95_high\": %.6g, \"cv\": 0.01}",
             m, m, m * 0.01, m * 0.005, m * 0.99, m * 1.01, m * 0.99, m * 1.01);
    return buf[k];
}

/* Writes a results file with two cases: llm decode (16 tokens per rep, samples around
 * decode_s seconds) and triad (status as given). Spread is +-1% in fixed steps. */
static void write_results(const char *name, const char *host, const char *commit,
                          const char *started, double decode_s, const char *triad_status,
                          bool with_prefill) {
    char path[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"schema\": 1, \"gencost_version\": \"0.1.0\", \"git_commit\": \"%s\","
               " \"complete\": true, \"started\": \"%s\", \"host\": {\"name\": \"%s\"},"
               " \"cases\": [\n", commit, started, host);
    static const double steps[] = {-0.01, -0.005, 0, 0.005, 0.01, -0.0075, 0.0075, 0.0025};
    fprintf(f, "{\"workload\": \"llm\", \"preset\": \"tiny\", \"quant\": \"q4_0\", \"backend\": "
               "\"cpu\", \"threads\": 2, \"phase\": \"decode\", \"unit\": \"token\", "
               "\"work_per_rep\": 16, \"status\": \"ok\", \"samples_s\": [");
    for (int i = 0; i < 8; i++)
        fprintf(f, "%s%.6f", i ? ", " : "", decode_s * (1 + steps[i]));
    fprintf(f, "], \"throughput\": %s, \"verify\": {\"ok\": true}, "
               "\"energy\": {\"source\": \"none\", \"kind\": \"none\"}},\n",
            stats_text(16 / decode_s));
    if (with_prefill)
        fprintf(f, "{\"workload\": \"llm\", \"preset\": \"tiny\", \"quant\": \"q4_0\", "
                   "\"backend\": \"cpu\", \"threads\": 2, \"phase\": \"prefill\", \"unit\": "
                   "\"token\", \"work_per_rep\": 64, \"status\": \"ok\", \"samples_s\": [0.1, "
                   "0.1, 0.1], \"throughput\": %s, \"verify\": {\"ok\": true}, "
                   "\"energy\": {\"source\": \"none\", \"kind\": \"none\"}},\n",
                stats_text(640));
    bool ok = !strcmp(triad_status, "ok");
    fprintf(f, "{\"workload\": \"triad\", \"preset\": \"-\", \"quant\": \"-\", \"backend\": "
               "\"cpu\", \"threads\": 1, \"phase\": \"triad\", \"unit\": \"GB\", "
               "\"work_per_rep\": 0.8, \"status\": \"%s\", \"samples_s\": %s, "
               "\"throughput\": %s, \"verify\": {\"ok\": %s}, "
               "\"energy\": {\"source\": \"none\", \"kind\": \"none\"}}\n]}\n",
            triad_status, ok ? "[0.01, 0.0101, 0.0099, 0.01, 0.01]" : "[]", stats_text(80),
            ok ? "true" : "false");
    fclose(f);
}

static int setup(void **s) {
    bin = th_gencost_bin(NULL);
    snprintf(dir, sizeof dir, "/tmp/gc_cmpcli_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    return 0;
}

static int teardown(void **s) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs gencost with args (NULL-terminated); stdout into *out (malloc'd, may be NULL), stderr
 * to the test log (tests/helpers.h). */
static int gencost(char **out, const char *const *args) {
    th_proc p;
    th_run(&p, bin, args, (th_io){.out = out ? TH_CAPTURE : TH_DISCARD, .err = TH_INHERIT}, 0);
    assert_int_equal(p.signal, 0); /* never a crash or a sanitizer abort */
    if (out) *out = p.out, p.out = NULL;
    th_free(&p);
    return p.status;
}

#define GENCOST(out, ...) gencost(out, (const char *const[]){__VA_ARGS__, NULL})

static const char *path_of(const char *name) {
    static char buf[4][160];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

#define NEED_BIN()                                                                  \
    do {                                                                            \
        if (!bin) {                                                                 \
            printf("GENCOST_BIN not set (run through make test): skipped\n");       \
            skip();                                                                 \
        }                                                                           \
    } while (0)

static void compare_exit_codes(void **s) {
    NEED_BIN();
    write_results("base.json", "box", "aaa", "2026-03-01T00:00:00Z", 0.100, "ok", true);
    write_results("same.json", "box", "bbb", "2026-03-02T00:00:00Z", 0.1005, "ok", true);
    write_results("slow.json", "box", "ccc", "2026-03-03T00:00:00Z", 0.120, "ok", true);
    write_results("fast.json", "box", "ddd", "2026-03-04T00:00:00Z", 0.080, "ok", true);
    char *out = NULL;
    assert_int_equal(GENCOST(&out, "compare", path_of("base.json"), path_of("same.json")), 0);
    assert_non_null(strstr(out, "no regression"));
    assert_non_null(strstr(out, "| same | llm/tiny/q4_0/cpu/-/t2/decode | box |"));
    free(out);
    assert_int_equal(GENCOST(&out, "compare", path_of("base.json"), path_of("slow.json")), 1);
    assert_non_null(strstr(out, "| **slower** | llm/tiny/q4_0/cpu/-/t2/decode | box |"));
    assert_non_null(strstr(out, "-16.7%"));
    free(out);
    assert_int_equal(GENCOST(&out, "compare", path_of("base.json"), path_of("fast.json"),
                             "--format", "text"), 0);
    assert_non_null(strstr(out, "faster   llm/tiny/q4_0/cpu/-/t2/decode @ box"));
    free(out);
    /* 20% slower is no regression at a 25% threshold */
    assert_int_equal(GENCOST(NULL, "compare", path_of("base.json"), path_of("slow.json"),
                             "--threshold", "25"), 0);
}

static void compare_json_and_one_sided(void **s) {
    NEED_BIN();
    write_results("base.json", "box", "aaa", "2026-03-01T00:00:00Z", 0.100, "ok", true);
    write_results("noprefill.json", "box", "eee", "2026-03-05T00:00:00Z", 0.100, "failed",
                  false);
    char *out = NULL;
    assert_int_equal(GENCOST(&out, "compare", path_of("base.json"), path_of("noprefill.json"),
                             "--format", "json"), 1);   /* triad failed verification: broken */
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "regression")));
    json_t *only = json_object_get(j, "only_base");
    assert_int_equal(json_array_size(only), 1);
    assert_string_equal(json_string_value(json_array_get(only, 0)),
                        "llm/tiny/q4_0/cpu/-/t2/prefill@box");
    json_t *cases = json_object_get(j, "cases");
    assert_int_equal(json_array_size(cases), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cases, 0), "verdict")),
                        "broken");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "same")), 1);
    json_decref(j);
    free(out);
    /* another host matches nothing unless --any-host: nothing compared, exit 3 */
    write_results("other.json", "laptop", "fff", "2026-03-06T00:00:00Z", 0.100, "ok", true);
    assert_int_equal(GENCOST(&out, "compare", path_of("base.json"), path_of("other.json")), 3);
    assert_non_null(strstr(out, "### gencost compare: nothing compared"));
    assert_non_null(strstr(out, "only in NEW: `llm/tiny/q4_0/cpu/-/t2/decode@laptop`"));
    free(out);
    assert_int_equal(GENCOST(&out, "compare", path_of("base.json"), path_of("other.json"),
                             "--any-host", "--format", "text"), 0);
    assert_non_null(strstr(out, "box -> laptop"));
    free(out);
}

/* A schema-2 results file with one llm decode case run on `device` (samples around decode_s). */
static void write_device_results(const char *name, const char *device, double decode_s) {
    FILE *f = fopen(path_of(name), "w");
    assert_non_null(f);
    fprintf(f, "{\"schema\": 2, \"gencost_version\": \"0.1.0\", \"git_commit\": \"abc\","
               " \"complete\": true, \"host\": {\"name\": \"box\"}, \"cases\": [\n"
               "{\"workload\": \"llm\", \"preset\": \"tiny\", \"params\": {\"gen\": \"16\"}, "
               "\"quant\": \"q4_0\", \"backend\": \"cpu\", \"device\": \"%s\", \"threads\": 2, "
               "\"phase\": \"decode\", \"unit\": \"token\", \"work_per_rep\": 16, \"status\": \"ok\", "
               "\"samples_s\": [", device);
    static const double steps[] = {-0.01, -0.005, 0, 0.005, 0.01, -0.0075, 0.0075, 0.0025};
    for (int i = 0; i < 8; i++)
        fprintf(f, "%s%.6f", i ? ", " : "", decode_s * (1 + steps[i]));
    fprintf(f, "], \"throughput\": %s, \"verify\": {\"ok\": true}, "
               "\"energy\": {\"source\": \"none\", \"kind\": \"none\"}}\n]}\n",
            stats_text(16 / decode_s));
    fclose(f);
}

/* An avx2 and an avx512 run of the same binary have no case in common; a schema-1 BASE (device
 * and parameters unknown) is matched on the fields it has, with one note. */
static void compare_device_and_schema1(void **s) {
    NEED_BIN();
    write_device_results("avx2.json", "avx2", 0.100);
    write_device_results("avx512.json", "avx512", 0.050);
    write_results("old.json", "box", "aaa", "2026-03-01T00:00:00Z", 0.100, "ok", false);
    char base[160], *out = NULL;
    snprintf(base, sizeof base, "%s", path_of("avx2.json"));
    assert_int_equal(GENCOST(&out, "compare", base, path_of("avx512.json")), 3);   /* nothing compared */
    assert_non_null(strstr(out, "only in BASE: `llm/tiny/q4_0/cpu/avx2/t2/decode?gen=16@box`"));
    assert_non_null(strstr(out, "only in NEW: `llm/tiny/q4_0/cpu/avx512/t2/decode?gen=16@box`"));
    assert_null(strstr(out, "| same |"));
    free(out);
    assert_int_equal(GENCOST(&out, "compare", path_of("old.json"), base, "--format", "text"), 0);
    const char *note = "note: BASE is schema 1: cases matched without device and parameters";
    const char *at = strstr(out, note);
    assert_non_null(at);
    assert_null(strstr(at + 1, note));
    assert_non_null(strstr(out, "same     llm/tiny/q4_0/cpu/avx2/t2/decode?gen=16 @ box"));
    assert_non_null(strstr(out, "only in BASE: triad/-/-/cpu/-/t1/triad@box"));
    free(out);
}

/* The same job at another thread count (a bigger CI runner) or a renamed preset has no case in
 * common: exit 3 and "nothing compared" on stdout and stderr, never "no regression" and 0. When
 * most cases are missing, the summary says how many were compared. */
static void compare_nothing_in_common(void **s) {
    NEED_BIN();
    write_device_results("t2.json", "avx2", 0.100);
    FILE *in = fopen(path_of("t2.json"), "r");
    assert_non_null(in);
    char text[4096];
    size_t len = fread(text, 1, sizeof text - 1, in);
    fclose(in);
    text[len] = 0;
    char *at = strstr(text, "\"threads\": 2");
    assert_non_null(at);
    at[11] = '8';   /* "threads": 8 */
    FILE *f = fopen(path_of("t8.json"), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    th_proc p;
    const char *args[] = {"compare", path_of("t2.json"), path_of("t8.json"), "--format", "text", NULL};
    th_run(&p, bin, args, (th_io){0}, 0);
    assert_int_equal(p.status, 3);
    assert_non_null(strstr(p.out, "nothing compared: no case of BASE is in NEW"));
    assert_null(strstr(p.out, "no regression"));
    assert_non_null(strstr(p.err, "nothing compared"));
    assert_true(strchr(p.err, '\n') == p.err + strlen(p.err) - 1);   /* one line */
    th_free(&p);
    char *out = NULL;
    assert_int_equal(GENCOST(&out, "compare", path_of("t2.json"), path_of("t8.json"), "--format", "json"), 3);
    assert_non_null(strstr(out, "\"nothing_compared\": true"));
    free(out);
    /* --any-host does not help: the thread count is part of the case */
    assert_int_equal(GENCOST(NULL, "compare", path_of("t2.json"), path_of("t8.json"), "--any-host"), 3);
    /* 1 of 3 BASE cases in NEW (schema-1 decode matches on what it has): compared, exit 0, and
     * the summary says how few */
    write_results("three.json", "box", "aaa", "2026-03-01T00:00:00Z", 0.100, "ok", true);
    assert_int_equal(GENCOST(&out, "compare", path_of("three.json"), path_of("t2.json"), "--format", "text"), 0);
    assert_non_null(strstr(out, "only 1 of 3 BASE cases are in NEW"));
    free(out);
    /* --help documents the status */
    assert_int_equal(GENCOST(&out, "compare", "--help"), 0);
    assert_non_null(strstr(out, "3 nothing compared"));
    free(out);
}

static void compare_bad_input(void **s) {
    NEED_BIN();
    write_results("base.json", "box", "aaa", "2026-03-01T00:00:00Z", 0.100, "ok", true);
    static const char *const fixtures[] = {
        "tests/fixtures/results/not-json.json", "tests/fixtures/results/wrong-schema.json",
        "tests/fixtures/results/missing-field.json", "tests/fixtures/results/empty.json",
        "tests/fixtures/results/bad-sample.json", "/nonexistent/results.json"};
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        assert_int_equal(GENCOST(NULL, "compare", path_of("base.json"), fixtures[i]), 2);
        assert_int_equal(GENCOST(NULL, "compare", fixtures[i], path_of("base.json")), 2);
    }
    assert_int_equal(GENCOST(NULL, "compare", path_of("base.json")), 2);
    assert_int_equal(GENCOST(NULL, "compare", path_of("base.json"), path_of("base.json"),
                             "--format", "xml"), 2);
    assert_int_equal(GENCOST(NULL, "compare", path_of("base.json"), path_of("base.json"),
                             "--alpha", "2"), 2);
    assert_int_equal(GENCOST(NULL, "compare", path_of("base.json"), path_of("base.json"),
                             "--threshold", "five"), 2);
    assert_int_equal(GENCOST(NULL, "compare", path_of("base.json"), path_of("base.json"),
                             "--bogus"), 2);
    assert_int_equal(GENCOST(NULL, "compare", "--help"), 0);
}

/* Interleaved A/B with commands that just copy crafted files: checks the alternation, the
 * {out} substitution, the merging of rounds and the exit status, without a runner. */
static void interleave_ab(void **s) {
    NEED_BIN();
    write_results("base.json", "box", "aaa", "2026-03-01T00:00:00Z", 0.100, "ok", true);
    write_results("slow.json", "box", "ccc", "2026-03-03T00:00:00Z", 0.120, "ok", true);
    char a[512], b[512], log[256], keep[160];
    snprintf(log, sizeof log, "%s/order.log", dir);
    snprintf(a, sizeof a, "echo A >> %s && cp %s {out}", log, path_of("base.json"));
    snprintf(b, sizeof b, "echo B >> %s && cp %s {out}", log, path_of("slow.json"));
    snprintf(keep, sizeof keep, "%s/ab", dir);
    char *out = NULL;
    assert_int_equal(GENCOST(&out, "compare", "--interleave", "--rounds", "3", "--keep", keep,
                             a, b, "--format", "json"), 1);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    json_t *c0 = json_array_get(json_object_get(j, "cases"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "verdict")), "slower");
    assert_int_equal(json_integer_value(json_object_get(c0, "n_base")), 24);   /* 3 x 8 */
    json_decref(j);
    free(out);
    size_t len = 0;
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char order[64] = {0};
    len = fread(order, 1, sizeof order - 1, f);
    fclose(f);
    assert_int_equal(len, 12);
    assert_string_equal(order, "A\nB\nA\nB\nA\nB\n");
    struct stat st;
    assert_int_equal(stat(path_of("ab/b-002.json"), &st), 0);
    /* one sample per run: 3 vs 3 can never reach p < 0.01, so a 20% drop is only noisy */
    snprintf(a, sizeof a, "cp %s {out}", path_of("base.json"));
    snprintf(b, sizeof b, "cp %s {out}", path_of("slow.json"));
    assert_int_equal(GENCOST(&out, "compare", "--interleave", "--rounds", "3", "--round-medians",
                             a, b, "--format", "json"), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    c0 = json_array_get(json_object_get(j, "cases"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "verdict")), "noisy");
    assert_int_equal(json_integer_value(json_object_get(c0, "n_base")), 3);
    json_decref(j);
    free(out);
    /* with 5 rounds the runs separate completely: p = 2/252 < 0.01 → slower */
    assert_int_equal(GENCOST(NULL, "compare", "--interleave", "--rounds", "5", "--round-medians",
                             a, b), 1);
    /* same build on both sides: no regression */
    snprintf(b, sizeof b, "cp %s {out}", path_of("base.json"));
    assert_int_equal(GENCOST(NULL, "compare", "--interleave", "--rounds", "2", b, b), 0);
    /* a command that fails, or writes nothing readable: bad input */
    assert_int_equal(GENCOST(NULL, "compare", "--interleave", "false", b), 2);
    assert_int_equal(GENCOST(NULL, "compare", "--interleave", "--rounds", "1", b, "true"), 2);
    assert_int_equal(GENCOST(NULL, "compare", "--interleave", b), 2);
}

static void history_cli(void **s) {
    NEED_BIN();
    const char *db = path_of("h/history.db");
    char dbcopy[160];
    snprintf(dbcopy, sizeof dbcopy, "%s", db);
    char name[32], commit[16], started[32];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "run%d.json", i);
        snprintf(commit, sizeof commit, "c%d", i);
        snprintf(started, sizeof started, "2026-04-0%dT00:00:00Z", i + 1);
        write_results(name, "box", commit, started, 0.100 * (1 + 0.002 * (i % 3)), "ok", true);
    }
    char *out = NULL;
    assert_int_equal(GENCOST(&out, "history", "--db", dbcopy, "add", path_of("run0.json"),
                             path_of("run1.json"), path_of("run2.json"), path_of("run3.json"),
                             path_of("run4.json")), 0);
    assert_non_null(strstr(out, "added"));
    free(out);
    assert_int_equal(GENCOST(&out, "history", "--db", dbcopy, "add", path_of("run4.json")), 0);
    assert_non_null(strstr(out, "skipped"));
    free(out);
    assert_int_equal(GENCOST(&out, "history", "--db", dbcopy, "list"), 0);
    assert_non_null(strstr(out, "llm/tiny/q4_0/cpu/-/t2/decode"));
    free(out);
    assert_int_equal(GENCOST(&out, "history", "--db", dbcopy, "show",
                             "llm/tiny/q4_0/cpu/-/t2/decode@box"), 0);
    assert_non_null(strstr(out, "2026-04-05T00:00:00Z"));
    free(out);
    write_results("late.json", "box", "c9", "2026-04-09T00:00:00Z", 0.125, "ok", true);
    assert_int_equal(GENCOST(&out, "history", "--db", dbcopy, "check", path_of("late.json")), 1);
    assert_non_null(strstr(out, "slower   llm/tiny/q4_0/cpu/-/t2/decode@box"));
    free(out);
    write_results("fine.json", "box", "c8", "2026-04-08T00:00:00Z", 0.1001, "ok", true);
    assert_int_equal(GENCOST(NULL, "history", "--db", dbcopy, "check", path_of("fine.json"),
                             "--window", "4"), 0);
    assert_int_equal(GENCOST(&out, "history", "--db", dbcopy, "plot", "--all", "--out",
                             path_of("charts")), 0);
    assert_non_null(strstr(out, "wrote 6 charts"));
    free(out);
    struct stat st;
    assert_int_equal(stat(path_of("charts/llm_tiny_q4_0_cpu_-_t2_decode@box.svg"), &st), 0);
    /* bad input: exit 2 */
    assert_int_equal(GENCOST(NULL, "history", "--db", dbcopy, "add",
                             "tests/fixtures/results/not-json.json"), 2);
    assert_int_equal(GENCOST(NULL, "history", "--db", dbcopy, "show", "no/such/case"), 2);
    assert_int_equal(GENCOST(NULL, "history", "--db", dbcopy, "frobnicate"), 2);
    assert_int_equal(GENCOST(NULL, "history", "--db", dbcopy, "check"), 2);
    assert_int_equal(GENCOST(NULL, "history", "--db", path_of("missing.db"), "list"), 2);
    assert_int_equal(GENCOST(NULL, "history", "--db", dbcopy, "check", path_of("late.json"),
                             "--window", "0"), 2);
    assert_int_equal(GENCOST(NULL, "history", "--db", path_of("run0.json"), "list"), 2);
}

/* `--db ""` would be SQLite's temporary database: "added 5 cases" and nothing kept. Refused. */
static void history_empty_db_refused(void **s) {
    NEED_BIN();
    write_results("e.json", "box", "e1", "2026-05-01T00:00:00Z", 0.100, "ok", true);
    th_proc p;
    const char *args[] = {"history", "--db", "", "add", path_of("e.json"), NULL};
    th_run(&p, bin, args, (th_io){0}, 0);
    assert_int_equal(p.status, 2);
    assert_null(strstr(p.out, "added"));
    assert_non_null(strstr(p.err, "--db"));
    th_free(&p);
    const char *list[] = {"history", "--db", "", "list", NULL};
    assert_int_equal(th_run(&p, bin, list, (th_io){.out = TH_DISCARD, .err = TH_DISCARD}, 0), 2);
}

/* A host name with an escape sequence (JSON "\u001b") stored in history is printed escaped by
 * `history list`: stored text never drives the terminal. */
static void history_list_escapes_stored_text(void **s) {
    NEED_BIN();
    write_results("esc.json", "evil\\u001b[2Jhost", "x1", "2026-06-01T00:00:00Z", 0.100, "ok", false);
    char db[200];
    snprintf(db, sizeof db, "%s/esc.db", dir);
    assert_int_equal(GENCOST(NULL, "history", "--db", db, "add", path_of("esc.json")), 0);
    char *out = NULL;
    assert_int_equal(GENCOST(&out, "history", "--db", db, "list"), 0);
    assert_non_null(out);
    assert_null(strchr(out, 0x1b));
    assert_non_null(strstr(out, "evil\\x1b[2Jhost"));
    free(out);
}

/* Reading actions take no write lock: while this process holds a write transaction open on the
 * database (as a concurrent `history add` would), list, show and check finish at once (before,
 * they waited 30 s for the lock and failed). */
static void history_reads_beside_a_writer(void **s) {
    NEED_BIN();
    const char *db = path_of("lock/history.db");
    char dbcopy[160];
    snprintf(dbcopy, sizeof dbcopy, "%s", db);
    for (int i = 0; i < 3; i++) {
        char name[32], commit[16], started[32];
        snprintf(name, sizeof name, "lock%d.json", i);
        snprintf(commit, sizeof commit, "l%d", i);
        snprintf(started, sizeof started, "2026-06-0%dT00:00:00Z", i + 1);
        write_results(name, "box", commit, started, 0.100, "ok", true);
        assert_int_equal(GENCOST(NULL, "history", "--db", dbcopy, "add", path_of(name)), 0);
    }
    sqlite3 *w = NULL;
    assert_int_equal(sqlite3_open(dbcopy, &w), SQLITE_OK);
    assert_int_equal(sqlite3_exec(w, "BEGIN IMMEDIATE; INSERT INTO runs (host, commit_id, started, added)"
                                     " VALUES ('other', 'x', 'y', 'z');", NULL, NULL, NULL), SQLITE_OK);
    th_proc p;
    const char *list[] = {"history", "--db", dbcopy, "list", NULL};
    assert_int_equal(th_run(&p, bin, list, (th_io){.err = TH_INHERIT}, 15), 0);
    assert_non_null(strstr(p.out, "llm/tiny/q4_0/cpu/-/t2/decode"));
    th_free(&p);
    const char *show[] = {"history", "--db", dbcopy, "show", "llm/tiny/q4_0/cpu/-/t2/decode@box", NULL};
    assert_int_equal(th_run(&p, bin, show, (th_io){.err = TH_INHERIT}, 15), 0);
    assert_non_null(strstr(p.out, "2026-06-03T00:00:00Z"));
    th_free(&p);
    write_results("lockcheck.json", "box", "l9", "2026-06-09T00:00:00Z", 0.100, "ok", true);
    const char *check[] = {"history", "--db", dbcopy, "check", path_of("lockcheck.json"), NULL};
    assert_int_equal(th_run(&p, bin, check, (th_io){.err = TH_INHERIT}, 15), 0);
    assert_non_null(strstr(p.out, "same     llm/tiny/q4_0/cpu/-/t2/decode@box"));
    th_free(&p);
    assert_int_equal(sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(w);
}

/* history check of a NEW none of whose cases has history: "nothing checked", exit 3; when
 * most cases lack history, the last line says how many had some. */
static void history_check_nothing_checked(void **s) {
    NEED_BIN();
    const char *db = path_of("nc/history.db");
    char dbcopy[160];
    snprintf(dbcopy, sizeof dbcopy, "%s", db);
    write_results("nc0.json", "box", "n0", "2026-07-01T00:00:00Z", 0.100, "ok", true);
    assert_int_equal(GENCOST(NULL, "history", "--db", dbcopy, "add", path_of("nc0.json")), 0);
    write_results("nc1.json", "laptop", "n1", "2026-07-02T00:00:00Z", 0.100, "ok", true);
    char *out = NULL;
    assert_int_equal(GENCOST(&out, "history", "--db", dbcopy, "check", path_of("nc1.json")), 3);
    assert_non_null(strstr(out, "nothing checked: no case of"));
    assert_null(strstr(out, "0 regressions"));
    free(out);
    /* no database yet (a project's first CI run): nothing checked too */
    assert_int_equal(GENCOST(&out, "history", "--db", path_of("nc/fresh.db"), "check", path_of("nc1.json")), 3);
    free(out);
    /* same host: every case has one earlier point (noisy, but checked): exit 0 */
    write_results("nc2.json", "box", "n2", "2026-07-03T00:00:00Z", 0.100, "ok", true);
    assert_int_equal(GENCOST(&out, "history", "--db", dbcopy, "check", path_of("nc2.json")), 0);
    assert_non_null(strstr(out, "0 regressions\n"));
    free(out);
    /* 1 of 3 cases has history: the other two are other phases */
    write_results("nc5.json", "box", "n5", "2026-07-05T00:00:00Z", 0.100, "ok", true);
    FILE *in = fopen(path_of("nc5.json"), "r");
    assert_non_null(in);
    static char text[16384];
    size_t len = fread(text, 1, sizeof text - 1, in);
    fclose(in);
    text[len] = 0;
    FILE *f = fopen(path_of("nc5.json"), "w");
    assert_non_null(f);
    for (const char *p = text; *p;) {   /* "prefill" -> "prefilx", "triad" phase -> "triax" */
        if (!strncmp(p, "\"phase\": \"prefill\"", 18)) fputs("\"phase\": \"prefilx\"", f), p += 18;
        else if (!strncmp(p, "\"phase\": \"triad\"", 16)) fputs("\"phase\": \"triax\"", f), p += 16;
        else fputc(*p++, f);
    }
    fclose(f);
    assert_int_equal(GENCOST(&out, "history", "--db", dbcopy, "check", path_of("nc5.json")), 0);
    assert_non_null(strstr(out, "0 regressions; only 1 of 3 NEW cases have history"));
    free(out);
}

/* A results file with one case, llm decode (16 tokens per rep, samples around decode_s), that
 * records bytes_per_rep and, when instructions > 0, metrics.instructions_per_rep. */
static void write_counted(const char *name, double decode_s, double instructions,
                          double bytes) {
    char path[160], metrics[96] = "{}";
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (instructions > 0)
        snprintf(metrics, sizeof metrics, "{\"instructions_per_rep\": %.17g}", instructions);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"schema\": 1, \"gencost_version\": \"0.1.0\", \"git_commit\": \"abc\","
               " \"complete\": true, \"host\": {\"name\": \"ci\"}, \"cases\": [\n"
               "{\"workload\": \"llm\", \"preset\": \"tiny\", \"quant\": \"q4_0\", \"backend\": "
               "\"cpu\", \"threads\": 2, \"phase\": \"decode\", \"unit\": \"token\", "
               "\"work_per_rep\": 16, \"bytes_per_rep\": %.17g, \"flops_per_rep\": 2e9, "
               "\"status\": \"ok\", \"samples_s\": [",
            bytes);
    static const double steps[] = {-0.01, -0.005, 0, 0.005, 0.01, -0.0075, 0.0075, 0.0025};
    for (int i = 0; i < 8; i++)
        fprintf(f, "%s%.6f", i ? ", " : "", decode_s * (1 + steps[i]));
    fprintf(f, "], \"throughput\": %s, \"verify\": {\"ok\": true}, \"metrics\": %s, "
               "\"energy\": {\"source\": \"none\", \"kind\": \"none\"}}\n]}\n",
            stats_text(16 / decode_s), metrics);
    fclose(f);
}

/* The first case of a --format json comparison. */
static json_t *first_case(json_t *j) {
    return json_array_get(json_object_get(j, "cases"), 0);
}

static const char *case_str(json_t *j, const char *field) {
    return json_string_value(json_object_get(first_case(j), field));
}

static void compare_counts_cli(void **s) {
    NEED_BIN();
    write_counted("c-base.json", 0.100, 1e9, 5e8);
    write_counted("c-up.json", 0.100, 1.1e9, 5e8);      /* +10% instructions, same time */
    write_counted("c-down.json", 0.120, 9e8, 5e8);      /* -10% instructions, 20% more time */
    write_counted("c-tiny.json", 0.100, 1.005e9, 5e8);  /* +0.5% */
    write_counted("c-none.json", 0.120, 0, 5e8);        /* no counters, 20% more time */
    write_counted("c-none-same.json", 0.100, 0, 5e8);   /* no counters, same time */
    write_counted("c-bytes.json", 0.100, 1.5e9, 6e8);   /* the workload itself changed */
    char base[160];   /* path_of's buffers are reused after four calls */
    snprintf(base, sizeof base, "%s", path_of("c-base.json"));
    char *out = NULL;
    /* more instructions: slower (exit 1) though wall time did not move; the ratio is shown */
    assert_int_equal(GENCOST(&out, "compare", base, path_of("c-up.json"), "--counts"), 1);
    assert_non_null(strstr(out, "| **slower** | llm/tiny/q4_0/cpu/-/t2/decode | ci | instr +10.00% "
                                "| same |"));
    assert_non_null(strstr(out, "instructions_per_rep +10.00% (ratio 1.1000) beyond 2.0%"));
    free(out);
    assert_int_equal(GENCOST(&out, "compare", base, path_of("c-up.json"), "--counts", "--format",
                             "json"), 1);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "verdict_from")), "counts");
    assert_string_equal(case_str(j, "verdict"), "slower");
    json_t *wc = json_object_get(first_case(j), "work_counts");
    assert_string_equal(json_string_value(json_object_get(wc, "state")), "compared");
    assert_float_equal(json_real_value(json_object_get(wc, "instructions_ratio")), 1.1, 1e-12);
    assert_float_equal(json_number_value(json_object_get(json_object_get(wc, "new"),
                                                         "instructions_per_rep")), 1.1e9, 0);
    assert_string_equal(json_string_value(json_object_get(wc, "time_verdict")), "same");
    json_decref(j);
    free(out);
    /* fewer instructions: faster (exit 0) though wall time says 20% slower */
    assert_int_equal(GENCOST(&out, "compare", base, path_of("c-down.json"), "--counts", "--format",
                             "text"), 0);
    assert_non_null(strstr(out, "faster   llm/tiny/q4_0/cpu/-/t2/decode @ ci"));
    assert_non_null(strstr(out, "counts: instructions_per_rep 1e+09 -> 9e+08 (ratio 0.9000, "
                                "-10.00%); time: slower"));
    free(out);
    /* the same two files without --counts: the wall-time regression decides */
    assert_int_equal(GENCOST(NULL, "compare", base, path_of("c-down.json")), 1);
    assert_int_equal(GENCOST(NULL, "compare", base, path_of("c-up.json")), 0);
    /* +0.5% is within the 2% default; +10% within --count-threshold 15 */
    assert_int_equal(GENCOST(&out, "compare", base, path_of("c-tiny.json"), "--counts"), 0);
    assert_non_null(
        strstr(out, "| same | llm/tiny/q4_0/cpu/-/t2/decode | ci | instr +0.50% | same |"));
    free(out);
    assert_int_equal(GENCOST(NULL, "compare", base, path_of("c-up.json"), "--counts",
                             "--count-threshold", "15"), 0);
    /* no counter on one side: says unavailable, and the time verdict stands (either way) */
    assert_int_equal(GENCOST(&out, "compare", base, path_of("c-none.json"), "--counts"), 1);
    assert_non_null(strstr(out, "| **slower** | llm/tiny/q4_0/cpu/-/t2/decode | ci | unavailable |"));
    assert_non_null(strstr(out, "counts unavailable (NEW has no instructions_per_rep)"));
    free(out);
    assert_int_equal(GENCOST(&out, "compare", path_of("c-none-same.json"), base, "--counts",
                             "--format", "json"), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(case_str(j, "verdict"), "same");
    wc = json_object_get(first_case(j), "work_counts");
    assert_string_equal(json_string_value(json_object_get(wc, "state")), "unavailable");
    assert_true(json_is_null(json_object_get(wc, "instructions_ratio")));
    json_decref(j);
    free(out);
    /* bytes per rep differ: work changed, not comparable, no regression */
    assert_int_equal(GENCOST(&out, "compare", base, path_of("c-bytes.json"), "--counts"), 0);
    assert_non_null(
        strstr(out, "| work-changed | llm/tiny/q4_0/cpu/-/t2/decode | ci | work changed |"));
    assert_non_null(strstr(out, "work changed: bytes_per_rep 5e+08 -> 6e+08"));
    free(out);
    /* bad threshold: exit 2 */
    assert_int_equal(GENCOST(NULL, "compare", base, base, "--counts", "--count-threshold", "x"), 2);
    assert_int_equal(GENCOST(NULL, "compare", base, base, "--count-threshold", "-1"), 2);
    assert_int_equal(GENCOST(NULL, "compare", base, base, "--count-threshold"), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compare_exit_codes),
        cmocka_unit_test(compare_json_and_one_sided),
        cmocka_unit_test(compare_bad_input),
        cmocka_unit_test(compare_nothing_in_common),
        cmocka_unit_test(compare_device_and_schema1),
        cmocka_unit_test(compare_counts_cli),
        cmocka_unit_test(interleave_ab),
        cmocka_unit_test(history_cli),
        cmocka_unit_test(history_empty_db_refused),
        cmocka_unit_test(history_list_escapes_stored_text),
        cmocka_unit_test(history_reads_beside_a_writer),
        cmocka_unit_test(history_check_nothing_checked),
    };
    return cmocka_run_group_tests_name("compare_cli", tests, setup, teardown);
}
