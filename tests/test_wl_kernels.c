/* End-to-end test of the `kernels` workload: runs $GENCOST_BIN (the sanitized build) with
 * --quick for an integer and a float format and checks the results file: the phases it
 * declares, their units and work per repetition (closed forms), verification against the ref
 * backend passed with its numbers recorded, and the roofline metrics present and consistent:
 * matvec against the read probe with its from-cache flag the decision on the recorded figures,
 * matmul against the FMA peak with the width it was measured in. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/metrics.h"
#include "bench/probes/matrix_kernels.h"
#include "bench/probes/triad.h"
#include "bench/results.h"
#include "base/util.h"
#include "tests/helpers.h"
#include "tests/results_helpers.h"

static const char *bin(void) { return th_gencost_bin("build/gencost-test"); }

/* Runs gencost with args (NULL-terminated), output discarded; returns its exit status. */
static int run_gencost(const char *const *args) {
    th_proc p;
    th_run(&p, bin(), args, (th_io){.out = TH_DISCARD, .err = TH_DISCARD}, 0);
    return p.status;
}

static void test_quick_run(void **st) {
    (void)st;
    char out[64];
    snprintf(out, sizeof out, "/tmp/gc_wlk_%d.json", (int)getpid());
    const char *args[] = {"run", "--workload", "kernels", "--quant", "q4_0,f16", "--quick", "--threads", "2",
                          "--reps", "2", "--warmup", "1", "--min-time", "0", "--out", out, NULL};
    assert_int_equal(run_gencost(args), 0);
    gc_results r;
    gc_err err;
    if (results_read(out, &r, &err)) fail_msg("%s", err.msg);
    unlink(out);
    /* --quick: the 2048x2048 shape, 1 and 16 columns, for each of the two formats. */
    assert_int_equal(r.n_cases, 4);
    const double n = 2048, k = 2048;
    for (int i = 0; i < r.n_cases; i++) {
        const gc_case_result *c = &r.cases[i];
        assert_string_equal(c->id.workload, "kernels");
        assert_string_equal(c->status, "ok");
        assert_true(c->id.device[0] != 0);   /* the micro-kernel set that ran */
        assert_true(c->verify.ok);
        assert_true(th_verify_value(c, "outputs_checked") >= 8);
        assert_true(th_verify_value(c, "outputs_out_of_bound") == 0);
        assert_true(th_verify_value(c, "max_err_over_bound") <= 1);
        bool q4 = !strcmp(c->id.quant, "q4_0");
        double wbytes = q4 ? n * k / 32 * 18 : n * k * 2;
        if (!strcmp(c->id.phase, "matvec-2048x2048")) {
            assert_string_equal(c->unit, "GB");
            assert_true(fabs(c->work_per_rep - wbytes / 1e9) < 1e-12);
            assert_true(th_metric(c, "matrices_in_set") == 1);   /* --quick: one copy */
        } else {
            assert_string_equal(c->id.phase, "matmul-2048x2048-n16");
            assert_string_equal(c->unit, "GFLOP");
            assert_true(fabs(c->work_per_rep - 2 * n * k * 16 / 1e9) < 1e-12);
        }
        assert_true(th_metric(c, "weight_gbs") > 0);
        assert_true(th_metric(c, "calls_per_sample") == 1);   /* a host backend: one call, one sample */
        assert_true(th_metric(c, GC_METRIC_FMA_PEAK_GFLOPS) > 0);
        assert_true(th_metric(c, GC_METRIC_TRIAD_GBS) > 0);
        /* the FMA peak names the vector width it was measured with */
        double bits = th_metric(c, GC_METRIC_FMA_VECTOR_BITS);
        assert_true(bits == 512 || bits == 256 || bits == 128 || bits == 32);
        bool matvec = c->unit[1] == 'B';
        /* matvec is held to the read probe, matmul to the FMA peak */
        double ceiling = matvec ? th_metric(c, GC_METRIC_READ_GBS) : th_metric(c, GC_METRIC_FMA_PEAK_GFLOPS);
        double value = matvec ? th_metric(c, "weight_gbs") : th_metric(c, "gflops");
        assert_true(ceiling > 0);
        assert_true(fabs(th_metric(c, GC_METRIC_ROOFLINE_FRACTION) - value / ceiling) <= 1e-9 * value / ceiling);
        if (matvec) {
            /* the from-cache flags are the decisions on the figures recorded beside them */
            double llc = th_metric(c, GC_METRIC_LLC_BYTES), set = th_metric(c, "set_bytes");
            assert_true(set == wbytes);   /* --quick: one copy */
            bool above = read_probe_exceeded(value, ceiling, READ_PROBE_MARGIN);
            assert_true(th_metric(c, GC_METRIC_ABOVE_READ_PROBE) == (above ? 1 : 0));
            assert_true(th_metric(c, GC_METRIC_FROM_CACHE) == (streamed_from_cache(value, ceiling, set, llc) ? 1 : 0));
            if (llc > 0) {
                assert_true(fabs(th_metric(c, GC_METRIC_FOOTPRINT_OVER_LLC) - wbytes / llc) < 1e-9);
                if (wbytes < 4 * llc) assert_true(th_metric(c, GC_METRIC_FROM_CACHE) == 1);   /* a small set is never "memory" */
            }
        } else {
            assert_true(isnan(th_metric(c, GC_METRIC_FROM_CACHE)));   /* a compute figure: no memory verdict */
        }
    }
    results_free(&r);
}

/* --isa reaches the cpu backend through the CLI, and what ran is the case's device. */
static void test_isa_scalar(void **st) {
    (void)st;
    char out[64];
    snprintf(out, sizeof out, "/tmp/gc_wlk_isa_%d.json", (int)getpid());
    const char *args[] = {"run", "--workload", "kernels", "--quant", "q8_0", "--quick", "--threads", "1", "--isa", "scalar",
                          "--phases", "matvec-2048x2048", "--reps", "1", "--warmup", "0", "--min-time", "0", "--out", out, NULL};
    assert_int_equal(run_gencost(args), 0);
    gc_results r;
    gc_err err;
    if (results_read(out, &r, &err)) fail_msg("%s", err.msg);
    unlink(out);
    assert_int_equal(r.n_cases, 1);
    assert_string_equal(r.cases[0].status, "ok");
    assert_string_equal(r.cases[0].id.device, "scalar");
    results_free(&r);
}

/* Calls per sample, by hand: one on a host backend; on a device, enough for 2 GB of weights
 * (matvec) or 500 GFLOP (matmul), rounded up, capped at 1024. */
static void test_calls_per_sample(void **st) {
    (void)st;
    const double q4_4096 = 4096.0 * 4096 / 32 * 18;   /* 9437184 bytes */
    assert_int_equal(kernels_calls_per_sample(false, 1, q4_4096, 2.0 * 4096 * 4096), 1);
    assert_int_equal(kernels_calls_per_sample(false, 512, q4_4096, 2.0 * 4096 * 4096 * 512), 1);
    assert_int_equal(kernels_calls_per_sample(true, 1, q4_4096, 2.0 * 4096 * 4096), 212);   /* 2e9 / 9437184 = 211.9 */
    assert_int_equal(kernels_calls_per_sample(true, 1, 4e9, 1), 1);                        /* more than a sample's bytes */
    assert_int_equal(kernels_calls_per_sample(true, 1, 1e6, 1), 1024);                     /* 2000, capped */
    assert_int_equal(kernels_calls_per_sample(true, 16, q4_4096, 2.0 * 4096 * 4096 * 16), 932);   /* 5e11 / 536870912 */
    assert_int_equal(kernels_calls_per_sample(true, 512, q4_4096, 2.0 * 4096 * 4096 * 512), 30);  /* 29.1 */
    assert_int_equal(kernels_calls_per_sample(true, 1, 0, 0), 1);   /* no work modelled: one call */
}

static void test_unknown_quant(void **st) {
    (void)st;
    const char *args[] = {"run", "--workload", "kernels", "--quant", "q5_0", "--quick", "--out", "/tmp/gc_wlk_never.json", NULL};
    assert_int_equal(run_gencost(args), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_run),
        cmocka_unit_test(test_isa_scalar),
        cmocka_unit_test(test_calls_per_sample),
        cmocka_unit_test(test_unknown_quant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
