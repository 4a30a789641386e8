/* The triad workload's read-only phase and the decision built on it (bench/probes/triad.h):
 *  - the closed form the read phase is verified against, by hand;
 *  - the from-cache decisions (read_probe_exceeded, streamed_from_cache) as pure functions, on
 *    hand-computed cases;
 *  - `read` end to end with --quick on 1 and 2 threads ($GENCOST_BIN, the sanitized build): the
 *    exact sum recorded by its verification, its byte counting (8 bytes per element, half of
 *    copy's 16 over the same arrays) and its footprint metrics;
 *  - the footprint of a full run (--dry-run, nothing allocated): at least 4x the last-level
 *    cache the host reports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/metrics.h"
#include "bench/probes/triad.h"
#include "bench/results.h"
#include "tests/helpers.h"
#include "tests/results_helpers.h"

static const char *bin(void) { return th_gencost_bin("build/gencost-test"); }

/* b[j] = (j & 511) / 2: one period of 512 sums to (0 + 1 + ... + 511) / 2 = 130816 / 2. */
static void sum_closed_form(void **st) {
    assert_true(triad_read_sum_want(0, 0) == 0);
    assert_true(triad_read_sum_want(0, 1) == 0);
    assert_true(triad_read_sum_want(1, 3) == 1.5);                  /* (1 + 2) / 2 */
    assert_true(triad_read_sum_want(0, 512) == 65408);
    assert_true(triad_read_sum_want(510, 514) == 511);              /* (510 + 511 + 0 + 1) / 2 */
    assert_true(triad_read_sum_want(512, 1024) == 65408);
    assert_true(triad_read_sum_want(0, 1536) == 3 * 65408.0);
    assert_true(triad_read_sum_want(0, 1u << 20) == 2048 * 65408.0);   /* --quick: 8 MiB of doubles */
    assert_true(triad_read_sum_want(0, 100) + triad_read_sum_want(100, 1000) == triad_read_sum_want(0, 1000));
}

/* More than the margin above the probe: (partly) from cache. Exactly the margin is not more. */
static void from_cache_decision(void **st) {
    assert_false(read_probe_exceeded(10.0, 8.0, 0.25));    /* 8 x 1.25 = 10 exactly: not above */
    assert_true(read_probe_exceeded(10.001, 8.0, 0.25));
    assert_false(read_probe_exceeded(8.0, 8.0, 0.25));     /* at the probe: memory */
    assert_false(read_probe_exceeded(4.0, 8.0, 0.25));     /* below it: memory */
    assert_true(read_probe_exceeded(20.0, 8.0, 0.25));     /* 2.5x the probe */
    assert_true(read_probe_exceeded(8.5, 8.0, 0));         /* no margin */
    assert_false(read_probe_exceeded(8.0, 8.0, 0));
    assert_true(read_probe_exceeded(12.0, 10.0, READ_PROBE_MARGIN));    /* 20% over */
    assert_false(read_probe_exceeded(10.5, 10.0, READ_PROBE_MARGIN));   /* 5% over: noise */
    /* no probe, a broken one, or a number that is not one: no verdict */
    assert_false(read_probe_exceeded(100.0, 0, 0.1));
    assert_false(read_probe_exceeded(100.0, -1, 0.1));
    assert_false(read_probe_exceeded(100.0, NAN, 0.1));
    assert_false(read_probe_exceeded(NAN, 10.0, 0.1));
    assert_false(read_probe_exceeded(100.0, 10.0, NAN));
    assert_true(read_probe_exceeded(INFINITY, 10.0, 0.1));
}

/* No memory figure: a set under 4x the cache, or a rate above the probe by more than 10%. */
static void from_cache_verdict(void **st) {
    const double llc = 100e6;
    assert_false(streamed_from_cache(10.0, 10.0, 400e6, llc));    /* 4x the cache, at the probe */
    assert_false(streamed_from_cache(10.9, 10.0, 1e9, llc));      /* 9% over: within the margin */
    assert_true(streamed_from_cache(11.5, 10.0, 1e9, llc));       /* 15% over the probe */
    assert_true(streamed_from_cache(5.0, 10.0, 399e6, llc));      /* slow, but the set is under 4x */
    assert_true(streamed_from_cache(5.0, 10.0, 9.4e6, llc));      /* one 4096x4096 q4_0 matrix */
    assert_false(streamed_from_cache(5.0, 10.0, 9.4e6, 0));       /* cache unknown, below the probe */
    assert_true(streamed_from_cache(50.0, 10.0, 9.4e6, 0));       /* cache unknown, far above it */
    assert_false(streamed_from_cache(50.0, 0, 1e9, llc));         /* no probe, big set: no verdict */
    assert_true(streamed_from_cache(50.0, 0, 1e6, llc));          /* no probe, small set */
}

static void read_phase_quick(void **st) {
    char out[64];
    snprintf(out, sizeof out, "/tmp/gc_wlt_%d.json", (int)getpid());
    const char *args[] = {"run", "--workload", "triad", "--quick", "--threads", "1,2", "--phases", "copy,read", "--reps", "2",
                          "--warmup", "0", "--min-time", "0", "--out", out, NULL};
    th_proc p;
    th_run(&p, bin(), args, (th_io){.out = TH_DISCARD, .err = TH_DISCARD}, 0);
    assert_int_equal(p.status, 0);
    gc_results r;
    gc_err err;
    if (results_read(out, &r, &err)) fail_msg("%s", err.msg);
    unlink(out);
    assert_int_equal(r.n_cases, 4);   /* copy and read on 1 and 2 threads */
    const double n = 1u << 20;        /* --quick: 8 MiB arrays of doubles */
    int reads = 0;
    for (int i = 0; i < r.n_cases; i++) {
        const gc_case_result *c = &r.cases[i];
        assert_string_equal(c->status, "ok");
        assert_true(c->verify.ok);
        assert_string_equal(c->unit, "GB");
        assert_true(th_metric(c, "array_bytes") == 8 * n);
        if (strcmp(c->id.phase, "read")) {
            assert_true(c->bytes_per_rep == 16 * n);
            continue;
        }
        reads++;
        /* counting: 8 bytes read per element, nothing written */
        assert_true(c->bytes_per_rep == 8 * n);
        assert_true(fabs(c->work_per_rep - 8 * n / 1e9) < 1e-15);
        assert_true(c->flops_per_rep == n);
        /* verification: the exact sum of every element, each worker's chunk checked */
        assert_true(th_verify_value(c, "elements_checked") == n);
        assert_true(th_verify_value(c, "sum") == 2048 * 65408.0);
        assert_true(th_verify_value(c, "sum_expected") == 2048 * 65408.0);
        assert_true(th_verify_value(c, "mismatches") == 0);
        assert_true(th_verify_value(c, "chunks_checked") == c->id.threads);
        assert_non_null(strstr(c->verify.detail, "exact"));
        /* footprint: the one array it streams, against the cache */
        assert_true(th_metric(c, GC_METRIC_ARRAYS_TOTAL_BYTES) == 8 * n);
        double llc = th_metric(c, GC_METRIC_LLC_BYTES);
        if (llc > 0) assert_true(fabs(th_metric(c, GC_METRIC_FOOTPRINT_OVER_LLC) - 8 * n / llc) < 1e-12);
        double bits = th_metric(c, GC_METRIC_READ_VECTOR_BITS);
        assert_true(bits == 128 || bits == 512);
        assert_true(c->throughput.median > 0);
    }
    assert_int_equal(reads, 2);
    results_free(&r);
    th_free(&p);
}

/* Without --quick the read phase's array is >= 4x the last-level cache (--dry-run says so). */
static void full_footprint(void **st) {
    const char *args[] = {"run", "--dry-run", "--workload", "triad", "--threads", "1", NULL};
    th_proc p;
    th_run(&p, bin(), args, (th_io){0}, 0);
    assert_int_equal(p.status, 0);
    const char *at = strstr(p.out, "read streams one of them: ");
    if (!at) {   /* only when the host reports no cache: nothing to hold it to */
        assert_non_null(strstr(p.out, "last-level cache 0 MiB"));
    } else {
        double ratio = strtod(at + strlen("read streams one of them: "), NULL);
        assert_true(ratio >= 4.0);
    }
    th_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sum_closed_form),
        cmocka_unit_test(from_cache_decision),
        cmocka_unit_test(from_cache_verdict),
        cmocka_unit_test(read_phase_quick),
        cmocka_unit_test(full_footprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
