/* Training jobs in `gencost report` (issue 16): a train step measured at 100 tokens/s becomes the
 * job people price, a million trained tokens, costed per host and projected onto the GPU
 * profiles with llm.c's 60% MFU on their FP32 peak. The fixture (tests/fixtures/reports/
 * train.json): llama-124m full training, 4 × 64 = 256 tokens and 240 GFLOP a step. */
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

#include "reports/report.h"

static char *line_with(const char *text, const char *a, const char *b) {
    static char line[4096];
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        size_t n = strcspn(p, "\n");
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        if (strstr(line, a) && strstr(line, b)) return line;
    }
    return NULL;
}

static void train_job_priced_per_million_tokens(void **state) {
    char dir[] = "/tmp/gc_report_train_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *inputs[] = {"tests/fixtures/reports/train.json"};
    gc_report_opts o = {.hosts_dir = "hosts", .out_dir = dir, .quiet = true};
    gc_err err = {{0}};
    if (report_run(inputs, 1, &o, &err)) fail_msg("%s", err.msg);
    char path[256];
    snprintf(path, sizeof path, "%s/report.md", dir);
    size_t n;
    char *md = gc_read_file(path, &n, &err);
    assert_non_null(md);
    /* the job, named for a person */
    assert_non_null(strstr(md, "full training of llama-124m: one job = 1M trained tokens in steps of 4 × 64"));
    /* measured: 100 tokens/s = 0.0001 Mtoken/s, 10,000 s a job */
    char *l = line_with(md, "1m-tokens", "| train-box | measured |");
    if (!l) fail_msg("no measured 1m-tokens row");
    assert_non_null(strstr(l, "| 0.0001 |"));
    /* A100 (hosts/cloud-a100-80gb.ini, FP32 19.5 TFLOPS): 240 GFLOP ÷ (19.5 T × 0.6) = 20.5 ms a
     * step of 256 tokens → 12,480 token/s = 0.01248 Mtoken/s; at $1.59/h a million tokens costs
     * 1.59 / 3600 / 0.01248 = $0.0354 */
    double tput = 256e-6 / (240e9 / (19.5e12 * 0.6));
    assert_float_equal(tput, 0.01248, 1e-5);
    l = line_with(md, "1m-tokens", "| cloud-a100-80gb (projected) | projected |");
    if (!l) fail_msg("no projected A100 row");
    assert_non_null(strstr(l, "| 0.01248 |"));
    assert_non_null(strstr(l, "llm.c's ~60% MFU"));
    char want[32];
    snprintf(want, sizeof want, "%.3g", 1.59 / 3600 / tput);
    assert_string_equal(want, "0.0354");
    bool priced = false;
    for (const char *p = strstr(md, "## Cost"); p && (p = strstr(p, "cloud-a100-80gb (projected)")); p++) {
        size_t k = strcspn(p, "\n");
        char row[1024];
        snprintf(row, sizeof row, "%.*s", (int)k, p);
        priced |= strstr(row, "$0.0354") != NULL;
    }
    assert_true(priced);
    /* the results leave defaults out (batch 4, seq 64): the title takes them from the workload */
    free(md);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(train_job_priced_per_million_tokens)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
