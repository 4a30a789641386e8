/* The project's own CI path, end to end on every `make test`: run the smoke suite → results
 * file → compare it with itself (exit 0, every verdict same or noisy, never slower) → report →
 * history add and check. It proves the path works without depending on timing noise: nothing
 * here compares two separate timings. On the way it checks that the suite's triad runs its read
 * phase and that the llm decode carries the read-probe ceiling beside triad's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/metrics.h"
#include "bench/results.h"
#include "tests/helpers.h"
#include "tests/results_helpers.h"

static char dir[64];
static const char *bin;

static int setup(void **s) {
    bin = th_gencost_bin(NULL);
    snprintf(dir, sizeof dir, "/tmp/gc_smoke_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *in_dir(const char *name) {
    static char buf[4][160];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Runs gencost with the NULL-terminated args; stdout to DIR/<log>, stderr passes through
 * (tests/helpers.h). */
static int gencost(const char *log, const char *const *args) {
    th_proc p;
    th_run(&p, bin, args, (th_io){.out = TH_FILE, .out_file = in_dir(log), .err = TH_INHERIT}, 0);
    assert_int_equal(p.signal, 0);
    th_free(&p);
    return p.status;
}

#define GENCOST(log, ...) gencost(log, (const char *const[]){__VA_ARGS__, NULL})

/* The smoke suite's triad runs its read phase, and a CPU llm decode is set against the read
 * probe: read_roofline_tokens_per_s = read GB/s ÷ weight bytes per token, and the read and
 * triad fractions, both from the same decode time, stand in the ratio of their probes. */
static void check_read_ceilings(const gc_results *r) {
    bool saw_read = false, saw_decode = false;
    for (int i = 0; i < r->n_cases; i++) {
        const gc_case_result *c = &r->cases[i];
        if (!strcmp(c->id.workload, "triad") && !strcmp(c->id.phase, "read")) {
            saw_read = true;
            assert_true(c->verify.ok);
        }
        if (strcmp(c->id.workload, "llm") || strcmp(c->id.phase, "decode") || strcmp(c->id.backend, "cpu")) continue;
        saw_decode = true;
        double read = th_metric(c, GC_METRIC_READ_GBS), triad = th_metric(c, GC_METRIC_TRIAD_GBS);
        double per_tok = th_metric(c, GC_METRIC_WEIGHT_BYTES_PER_TOKEN);
        double rf = th_metric(c, GC_METRIC_READ_ROOFLINE_FRACTION), tf = th_metric(c, GC_METRIC_ROOFLINE_FRACTION);
        assert_true(read > 0 && triad > 0 && per_tok > 0);
        assert_true(fabs(th_metric(c, GC_METRIC_READ_ROOFLINE_TOKENS_PER_S) - read * 1e9 / per_tok) <= 1e-9 * read * 1e9 / per_tok);
        assert_true(rf > 0 && isfinite(rf));
        assert_true(fabs(rf * read - tf * triad) <= 1e-9 * tf * triad);
    }
    assert_true(saw_read);
    assert_true(saw_decode);
}

static void smoke_path(void **s) {
    if (!bin) {
        printf("GENCOST_BIN not set (run through make test): skipped\n");
        skip();
    }
    const char *results = in_dir("smoke.json");
    char res[160];
    snprintf(res, sizeof res, "%s", results);

    /* 1. run: the smoke suite (tiny sizes, few repetitions) writes a valid results file */
    assert_int_equal(GENCOST("run.txt", "run", "--suite", "smoke", "--out", res), 0);
    gc_results r;
    gc_err err;
    assert_int_equal(results_read(res, &r, &err), 0);
    assert_true(r.complete);
    assert_true(r.n_cases >= 1);
    for (int i = 0; i < r.n_cases; i++) {
        assert_string_equal(r.cases[i].status, "ok");
        assert_true(r.cases[i].n_samples >= 1);
    }
    check_read_ceilings(&r);
    int n_cases = r.n_cases;
    results_free(&r);

    /* 2. compare with itself: no regression, and no verdict but same or noisy */
    assert_int_equal(GENCOST("compare.json", "compare", res, res, "--format", "json"), 0);
    size_t len = 0;
    char *text = gc_read_file(in_dir("compare.json"), &len, &err);
    assert_non_null(text);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(j);
    assert_true(json_is_false(json_object_get(j, "regression")));
    json_t *cases = json_object_get(j, "cases");
    assert_int_equal(json_array_size(cases), n_cases);
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const char *v = json_string_value(json_object_get(json_array_get(cases, i), "verdict"));
        assert_non_null(v);
        assert_true(!strcmp(v, "same") || !strcmp(v, "noisy"));
    }
    assert_int_equal(json_array_size(json_object_get(j, "only_base")), 0);
    json_decref(j);
    assert_int_equal(GENCOST("compare.md", "compare", res, res), 0);

    /* 3. report: the tables of the run */
    char out[160];
    snprintf(out, sizeof out, "%s", in_dir("report"));
    assert_int_equal(GENCOST("report.txt", "report", res, "--out", out, "--quiet"), 0);
    struct stat st;
    assert_int_equal(stat(in_dir("report/report.md"), &st), 0);
    assert_true(st.st_size > 0);

    /* 4. history: add, then check the same run: it is left out of its own window, so no case
     * has history and the check says "nothing checked" (exit 3), never a silent pass */
    char db[160];
    snprintf(db, sizeof db, "%s", in_dir("history.db"));
    assert_int_equal(GENCOST("hadd.txt", "history", "--db", db, "add", res), 0);
    assert_int_equal(GENCOST("hcheck.txt", "history", "--db", db, "check", res), 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(smoke_path),
    };
    return cmocka_run_group_tests_name("smoke", tests, setup, teardown);
}
