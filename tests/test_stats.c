/* Tests for bench/stats: every figure against values computed by hand (shown in comments). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "bench/stats.h"

#define EPS 1e-12

static void odd_count(void **s) {
    const double x[] = {3, 1, 2};
    gc_stats st;
    stats_compute(x, 3, &st);
    assert_int_equal(st.n, 3);
    assert_float_equal(st.median, 2, EPS);
    assert_float_equal(st.mean, 2, EPS);
    assert_float_equal(st.stddev, 1, EPS);      /* (1 + 0 + 1) / (3 - 1) = 1 */
    assert_float_equal(st.mad, 1, EPS);         /* |dev| = {1, 1, 0}: median 1 */
    assert_float_equal(st.min, 1, EPS);
    assert_float_equal(st.max, 3, EPS);
    assert_float_equal(st.cv, 0.5, EPS);
    assert_float_equal(st.ci95_low, 1, EPS);    /* n < 6: [min, max] */
    assert_float_equal(st.ci95_high, 3, EPS);
    assert_float_equal(x[0], 3, 0);             /* input untouched */
}

static void even_count(void **s) {
    const double x[] = {4, 1, 3, 2};
    gc_stats st;
    stats_compute(x, 4, &st);
    assert_float_equal(st.median, 2.5, EPS);
    assert_float_equal(st.mean, 2.5, EPS);
    assert_float_equal(st.stddev, sqrt(5.0 / 3.0), EPS);   /* 2.25+.25+.25+2.25 = 5 over 3 */
    assert_float_equal(st.mad, 1.0, EPS);                  /* {1.5,.5,.5,1.5}: median 1 */
    assert_float_equal(stats_median(x, 4), 2.5, EPS);
}

static void ties(void **s) {
    const double x[] = {5, 5, 5, 1, 9};
    gc_stats st;
    stats_compute(x, 5, &st);
    assert_float_equal(st.median, 5, EPS);
    assert_float_equal(st.mean, 5, EPS);
    assert_float_equal(st.stddev, sqrt(8.0), EPS);         /* 16+16 over 4 */
    assert_float_equal(st.mad, 0, EPS);                    /* {0,0,0,4,4} */
    assert_float_equal(st.cv, sqrt(8.0) / 5, EPS);
}

static void single_sample(void **s) {
    const double x[] = {7.25};
    gc_stats st;
    stats_compute(x, 1, &st);
    assert_int_equal(st.n, 1);
    assert_float_equal(st.median, 7.25, EPS);
    assert_float_equal(st.mean, 7.25, EPS);
    assert_float_equal(st.stddev, 0, 0);
    assert_float_equal(st.mad, 0, 0);
    assert_float_equal(st.cv, 0, 0);
    assert_float_equal(st.ci95_low, 7.25, 0);
    assert_float_equal(st.ci95_high, 7.25, 0);
    assert_false(stats_high_spread(&st));
}

/* x = 1..n in a scrambled order, so x(k) = k and the CI bounds are the order-statistic indices. */
static void ci_indices(int n, int lo, int hi) {
    double *x = malloc((size_t)n * sizeof *x);
    for (int i = 0; i < n; i++) x[i] = (double)((i * 7) % n + 1);   /* 7 is coprime to n */
    gc_stats st;
    stats_compute(x, n, &st);
    free(x);
    assert_float_equal(st.ci95_low, lo, 0);
    assert_float_equal(st.ci95_high, hi, 0);
}

/* Binomial(n, 1/2) tails: n=10: P(B<=1) = 11/1024 = 1.07% <= 2.5% < P(B<=2) = 5.47% -> (2, 9).
 * n=20: P(B<=5) = 2.07% <= 2.5% < P(B<=6) = 5.77% -> (6, 15). n=6: P(B<=0) = 1.56% -> (1, 6).
 * n=100 -> (40, 61), the value of published tables. */
static void ci_order_statistics(void **s) {
    ci_indices(10, 2, 9);
    ci_indices(20, 6, 15);
    ci_indices(6, 1, 6);
    ci_indices(5, 1, 5);
    ci_indices(100, 40, 61);
}

static void large_n_does_not_underflow(void **s) {
    ci_indices(1999, 956, 1044);   /* l from the same tail sum; 0.5^1999 alone underflows */
}

/* seconds {1, 2, 4}, 8 units per rep: rates {8, 4, 2}. */
static void throughput_odd(void **s) {
    const double t[] = {2, 1, 4};
    gc_stats st;
    stats_throughput(t, 3, 8, &st);
    assert_float_equal(st.median, 4, EPS);
    assert_float_equal(st.mean, 14.0 / 3, EPS);
    assert_float_equal(st.min, 2, EPS);
    assert_float_equal(st.max, 8, EPS);
    assert_float_equal(st.ci95_low, 2, EPS);     /* work / slowest */
    assert_float_equal(st.ci95_high, 8, EPS);
}

/* seconds {1, 2, 3, 4}, 12 units: median time 2.5 -> 4.8 units/s (the median of the rates,
 * (6 + 4) / 2 = 5, would not match the time statistics). */
static void throughput_even_uses_median_time(void **s) {
    const double t[] = {4, 3, 2, 1};
    gc_stats st;
    stats_throughput(t, 4, 12, &st);
    assert_float_equal(st.median, 4.8, EPS);
}

static void throughput_ci_swaps(void **s) {
    double t[10];
    for (int i = 0; i < 10; i++) t[i] = i + 1;   /* CI of time: [2, 9] */
    gc_stats st;
    stats_throughput(t, 10, 18, &st);
    assert_float_equal(st.ci95_low, 2, EPS);     /* 18 / 9 */
    assert_float_equal(st.ci95_high, 9, EPS);    /* 18 / 2 */
}

static void high_spread(void **s) {
    gc_stats st = {.n = 10, .median = 100, .mean = 100, .cv = 0.06, .ci95_low = 99, .ci95_high = 101};
    assert_true(stats_high_spread(&st));
    st.cv = 0.01;
    assert_false(stats_high_spread(&st));
    st.ci95_low = 90;
    st.ci95_high = 111;                           /* width 21 > 10% of 100 */
    assert_true(stats_high_spread(&st));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(odd_count),
        cmocka_unit_test(even_count),
        cmocka_unit_test(ties),
        cmocka_unit_test(single_sample),
        cmocka_unit_test(ci_order_statistics),
        cmocka_unit_test(large_n_does_not_underflow),
        cmocka_unit_test(throughput_odd),
        cmocka_unit_test(throughput_even_uses_median_time),
        cmocka_unit_test(throughput_ci_swaps),
        cmocka_unit_test(high_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
