/* Tests for bench/compare: the U test against enumeration and published critical values, the
 * bootstrap on a fixed seed, verdicts on synthetic samples, the false-alarm rate on pure noise,
 * and case matching across results. */
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

#include "bench/regress/compare.h"
#include "bench/stats.h"

/* ---- a seeded normal generator for synthetic samples (independent of compare's) ---------- */
static uint64_t rng_state;
/* Seeds pass through splitmix64 first: xorshift started from nearby seeds gives correlated
 * first outputs, which would make "independent" repetitions alike. */
static void seed_rng(uint64_t seed) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    rng_state = (z ^ (z >> 31)) | 1;
}
static double unif(void) {   /* xorshift64*, (0, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return ((rng_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0) + 1e-17;
}
static double normal(void) {   /* Box-Muller */
    return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif());
}
static void fill_normal(double *x, int n, double mean, double rel_sd) {
    for (int i = 0; i < n; i++)
        x[i] = mean * (1 + rel_sd * normal());
}

/* ---- U statistic and exact distribution ---------------------------------------------------- */

/* Oracle: count, over all C(m+n, m) ways to pick which ranks belong to sample a, those whose
 * U (sum of a's ranks minus m(m+1)/2) is <= u. */
static double cdf_by_enumeration(int m, int n, int u) {
    int total = 0, hit = 0, N = m + n;
    for (unsigned mask = 0; mask < (1u << N); mask++) {
        if (__builtin_popcount(mask) != m)
            continue;
        int rank_sum = 0;
        for (int r = 0; r < N; r++)
            if (mask & (1u << r))
                rank_sum += r + 1;
        total++;
        hit += rank_sum - m * (m + 1) / 2 <= u;
    }
    return (double)hit / total;
}

static void exact_cdf_matches_enumeration(void **s) {
    static const int sizes[][2] = {{1, 1}, {2, 3}, {3, 3}, {4, 4}, {3, 7}, {6, 6}, {5, 8}};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int m = sizes[t][0], n = sizes[t][1];
        for (int u = 0; u <= m * n; u++)
            assert_float_equal(compare_u_cdf_exact(m, n, u), cdf_by_enumeration(m, n, u), 1e-12);
    }
    /* m = n = 4: the counts of U = 0..4 are 1, 1, 2, 3, 5 of C(8,4) = 70 (partitions of k into
     * at most 4 parts no larger than 4). */
    assert_float_equal(compare_u_cdf_exact(4, 4, 0), 1.0 / 70, 1e-15);
    assert_float_equal(compare_u_cdf_exact(4, 4, 2), 4.0 / 70, 1e-15);
    assert_float_equal(compare_u_cdf_exact(4, 4, 4), 12.0 / 70, 1e-15);
}

/* Published two-sided critical values of U (largest U with 2*P(U <= u) <= alpha), from the
 * standard Mann-Whitney tables: n1 = n2 = 5: 2 (0.05), 0 (0.01); 8: 13, 7; 10: 23, 16;
 * 20: 127, 105. */
static void exact_cdf_matches_tables(void **s) {
    static const struct { int n, crit05, crit01; } tab[] = {
        {5, 2, 0}, {8, 13, 7}, {10, 23, 16}, {20, 127, 105}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        int n = tab[i].n;
        assert_true(2 * compare_u_cdf_exact(n, n, tab[i].crit05) <= 0.05);
        assert_true(2 * compare_u_cdf_exact(n, n, tab[i].crit05 + 1) > 0.05);
        assert_true(2 * compare_u_cdf_exact(n, n, tab[i].crit01) <= 0.01);
        assert_true(2 * compare_u_cdf_exact(n, n, tab[i].crit01 + 1) > 0.01);
    }
}

static void u_test_exact_small(void **s) {
    double a[] = {1, 2, 3}, b[] = {4, 5, 6}, u = -1;
    bool exact = false;
    double p = compare_mann_whitney(a, 3, b, 3, &u, &exact);
    assert_true(exact);
    assert_float_equal(u, 0, 0);
    assert_float_equal(p, 2.0 / 20, 1e-12);          /* 2 * 1/C(6,3) */
    /* U counts pairs where a beats b: reversed roles give U = m*n, same two-sided p. */
    p = compare_mann_whitney(b, 3, a, 3, &u, &exact);
    assert_float_equal(u, 9, 0);
    assert_float_equal(p, 0.1, 1e-12);
    double c[] = {1.1, 2.2, 3.3, 4.4, 5.5}, d[] = {6, 7, 8, 9, 10};
    p = compare_mann_whitney(c, 5, d, 5, &u, &exact);
    assert_float_equal(p, 2.0 / 252, 1e-12);          /* 2 * 1/C(10,5) */
    /* interleaved: a = {1,3,5}, b = {2,4,6}: pairs a > b: (3>2), (5>2), (5>4) → U = 3;
     * counts of U = 0..3 for m = n = 3 are 1, 1, 2, 3 of 20 → P(U <= 3) = 7/20, p = 0.7. */
    double e[] = {1, 3, 5}, f[] = {2, 4, 6};
    p = compare_mann_whitney(e, 3, f, 3, &u, &exact);
    assert_float_equal(u, 3, 0);
    assert_float_equal(p, 0.7, 1e-12);
}

/* Ties: a = {1,2,2,3}, b = {2,3,4,5}. Mid-ranks 1, 3, 3, (3), 5.5, (5.5), 7, 8 → R_a = 12.5,
 * U = 12.5 - 10 = 2.5; mean 8; tie groups of 3 and 2 → sum(t^3 - t) = 30;
 * var = 16/12 * (9 - 30/56) = 11.2857; z = (5.5 - 0.5)/3.35942 = 1.48835; p = 0.1367
 * (Phi(1.488) = 0.9317 from a normal table). */
static void u_test_normal_with_ties(void **s) {
    double a[] = {1, 2, 2, 3}, b[] = {2, 3, 4, 5}, u = 0;
    bool exact = true;
    double p = compare_mann_whitney(a, 4, b, 4, &u, &exact);
    assert_false(exact);
    assert_float_equal(u, 2.5, 1e-12);
    assert_float_equal(p, 0.1367, 5e-4);
    /* all values equal: no evidence either way */
    double g[] = {7, 7, 7}, h[] = {7, 7, 7, 7};
    assert_float_equal(compare_mann_whitney(g, 3, h, 4, &u, &exact), 1.0, 0);
    assert_float_equal(u, 6, 0);                       /* 12 pairs, all ties: 12/2 */
}

/* Large samples without ties use the normal approximation: n = 60 vs 60, fully separated.
 * U = 0, mean 1800, var = 3600*121/12 = 36300, z = (1800 - 0.5)/190.526 = 9.445 → p ~ 3.5e-21. */
static void u_test_normal_large(void **s) {
    double a[60], b[60], u;
    bool exact = true;
    for (int i = 0; i < 60; i++) {
        a[i] = i;
        b[i] = 100 + i;
    }
    double p = compare_mann_whitney(a, 60, b, 60, &u, &exact);
    assert_false(exact);
    assert_float_equal(u, 0, 0);
    assert_float_equal(log10(p), log10(erfc(9.4451 / sqrt(2.0))), 0.01);
}

/* ---- bootstrap -------------------------------------------------------------------------------- */

static void bootstrap_constant_sides(void **s) {
    double a[] = {10, 10, 10}, b[] = {20, 20, 20, 20}, lo, hi;
    compare_bootstrap_ratio(a, 3, b, 4, 500, 1, &lo, &hi);
    assert_float_equal(lo, 2, 0);
    assert_float_equal(hi, 2, 0);
}

/* BASE constant 10, NEW {9..13}: a resampled median of 5 is 9 when at least 3 draws are 9,
 * probability C(5,3)0.2^3 0.8^2 + C(5,4)0.2^4 0.8 + 0.2^5 = 0.0579 > 0.025, likewise 13 at the
 * top, so the 2.5% and 97.5% percentiles are exactly 0.9 and 1.3. */
static void bootstrap_discrete_percentiles(void **s) {
    double a[] = {10, 10, 10, 10, 10}, b[] = {9, 10, 11, 12, 13}, lo, hi;
    compare_bootstrap_ratio(a, 5, b, 5, 2000, 42, &lo, &hi);
    assert_float_equal(lo, 0.9, 1e-12);
    assert_float_equal(hi, 1.3, 1e-12);
}

static void bootstrap_seeded_and_covering(void **s) {
    double a[20], b[20], lo1, hi1, lo2, hi2, lo3, hi3;
    seed_rng(7);
    fill_normal(a, 20, 100, 0.02);
    fill_normal(b, 20, 110, 0.02);
    compare_bootstrap_ratio(a, 20, b, 20, 2000, 99, &lo1, &hi1);
    compare_bootstrap_ratio(a, 20, b, 20, 2000, 99, &lo2, &hi2);
    compare_bootstrap_ratio(a, 20, b, 20, 2000, 100, &lo3, &hi3);
    assert_true(lo1 == lo2 && hi1 == hi2);            /* same seed, same interval */
    assert_true(lo1 != lo3 || hi1 != hi3);            /* another seed, another resampling */
    assert_true(lo1 > 1.03 && hi1 < 1.17);
    /* Coverage: over 200 data sets with a true +10% shift, a 95% interval should contain 1.10
     * about 95% of the time (the percentile bootstrap of a median runs a little short at
     * n = 20, so the bound is loose; a broken interval covers far less or always). */
    int covered = 0;
    for (int r = 0; r < 200; r++) {
        seed_rng(5000 + (uint64_t)r);
        fill_normal(a, 20, 100, 0.02);
        fill_normal(b, 20, 110, 0.02);
        compare_bootstrap_ratio(a, 20, b, 20, 1000, (uint64_t)r, &lo1, &hi1);
        covered += lo1 <= 1.10 && hi1 >= 1.10;
    }
    printf("bootstrap 95%% CI coverage of a +10%% shift (2%% noise, n=20, 200 data sets): %.1f%%\n",
           covered / 2.0);
    assert_true(covered >= 170 && covered < 200);
}

/* ---- verdicts --------------------------------------------------------------------------------- */

static gc_verdict verdict_of(const double *a, int na, const double *b, int nb) {
    gc_compare_opts o;
    compare_opts_defaults(&o);
    gc_case_cmp c;
    memset(&c, 0, sizeof c);
    compare_samples(a, na, b, nb, &o, &c);
    return c.verdict;
}

static void verdicts_synthetic(void **s) {
    double a[10], b[10];
    seed_rng(11);
    fill_normal(a, 10, 100, 0.01);
    fill_normal(b, 10, 90, 0.01);
    assert_int_equal(verdict_of(a, 10, b, 10), GC_SLOWER);      /* clear regression */
    assert_int_equal(verdict_of(b, 10, a, 10), GC_FASTER);      /* clear speed-up */
    assert_int_equal(verdict_of(a, 10, a, 10), GC_SAME);        /* identical */
    assert_int_equal(verdict_of(a, 2, b, 2), GC_NOISY);         /* 2 samples */
    /* 3 vs 3 cannot reach p < 0.01 (smallest two-sided p is 0.1): a 10% drop stays noisy */
    assert_int_equal(verdict_of(a, 3, b, 3), GC_NOISY);
    /* 5 vs 5 fully separated: p = 2/252 = 0.0079 < 0.01 → slower */
    assert_int_equal(verdict_of(a, 5, b, 5), GC_SLOWER);
    /* a real 2% drop, significant, within the 5% threshold → same */
    fill_normal(b, 10, 98, 0.002);
    for (int i = 0; i < 10; i++)
        a[i] = 100 * (1 + 0.002 * normal());
    assert_int_equal(verdict_of(a, 10, b, 10), GC_SAME);
    /* 10% noise, no shift: the CI reaches beyond 5% → noisy, never slower */
    fill_normal(a, 10, 100, 0.10);
    fill_normal(b, 10, 100, 0.10);
    gc_verdict v = verdict_of(a, 10, b, 10);
    assert_true(v == GC_NOISY || v == GC_SAME);
}

static void verdict_threshold_option(void **s) {
    double a[10], b[10];
    seed_rng(5);
    fill_normal(a, 10, 100, 0.002);
    fill_normal(b, 10, 97, 0.002);
    gc_compare_opts o;
    compare_opts_defaults(&o);
    gc_case_cmp c;
    compare_samples(a, 10, b, 10, &o, &c);
    assert_int_equal(c.verdict, GC_SAME);
    o.threshold = 0.02;
    compare_samples(a, 10, b, 10, &o, &c);
    assert_int_equal(c.verdict, GC_SLOWER);
    assert_true(c.ratio < 0.98 && c.ratio > 0.96);
    assert_true(c.p < 0.01);
    assert_true(c.exact);
}

/* Pure noise: BASE and NEW drawn from one distribution, 200 repetitions with different seeds.
 * A false alarm is a `slower` verdict; the rate must stay at or below alpha. Three noise models:
 * Gaussian 3%, Gaussian 10%, and a shared-runner model (2% noise plus 10% of samples slowed by
 * 20-50%, as when another job steals the core). */
static double noise_model(int model) {
    switch (model) {
    case 0: return 100 * (1 + 0.03 * normal());
    case 1: return 100 * (1 + 0.10 * normal());
    default: {
        double x = 100 * (1 + 0.02 * normal());
        return unif() < 0.1 ? x / (1.2 + 0.3 * unif()) : x;
    }
    }
}

static void false_alarm_rate_on_noise(void **s) {
    static const char *const names[] = {"gaussian 3%", "gaussian 10%", "shared runner"};
    gc_compare_opts o;
    compare_opts_defaults(&o);
    /* GC_FALSE_ALARM_REPS raises the count for a tighter measurement (not used by make test) */
    const char *env = getenv("GC_FALSE_ALARM_REPS");
    const int reps = env && atoi(env) > 0 ? atoi(env) : 200, n = 10;
    for (int model = 0; model < 3; model++) {
        int slower = 0, faster = 0, rejected = 0, noisy = 0;
        for (int r = 0; r < reps; r++) {
            seed_rng(1000003ull * (uint64_t)(r + 1) + (uint64_t)model);
            double a[10], b[10];
            for (int i = 0; i < n; i++) {
                a[i] = noise_model(model);
                b[i] = noise_model(model);
            }
            o.seed = (uint64_t)r;
            gc_case_cmp c;
            compare_samples(a, n, b, n, &o, &c);
            slower += c.verdict == GC_SLOWER;
            faster += c.verdict == GC_FASTER;
            noisy += c.verdict == GC_NOISY;
            rejected += c.p < o.alpha;
        }
        printf("false alarms on pure noise (%s, n=%d vs %d, %d repetitions): slower %d (%.1f%%), "
               "faster %d, U test p<alpha %d (%.1f%%), noisy %d; alpha %.0f%%\n",
               names[model], n, n, reps, slower, 100.0 * slower / reps, faster, rejected,
               100.0 * rejected / reps, noisy, 100 * o.alpha);
        assert_true(slower <= o.alpha * reps);
    }
}

/* ---- matching across results ------------------------------------------------------------------ */

static void set_case(gc_case_result *c, const char *workload, const char *phase, int threads,
                     const double *samples, int n, const char *status) {
    memset(c, 0, sizeof *c);
    snprintf(c->id.workload, sizeof c->id.workload, "%s", workload);
    snprintf(c->id.preset, sizeof c->id.preset, "tiny");
    snprintf(c->id.quant, sizeof c->id.quant, "q4_0");
    snprintf(c->id.backend, sizeof c->id.backend, "cpu");
    snprintf(c->id.device, sizeof c->id.device, "avx2");
    snprintf(c->id.phase, sizeof c->id.phase, "%s", phase);
    snprintf(c->unit, sizeof c->unit, "token");
    snprintf(c->status, sizeof c->status, "%s", status);
    c->id.threads = threads;
    c->work_per_rep = 16;
    c->samples_s = (double *)samples;   /* borrowed: these results are never freed here */
    c->n_samples = n;
}

/* A results side of n cases on host "box" in schema 2 (device and params recorded). */
static gc_results results_of(gc_case_result *c, int n) {
    gc_results r = {.schema = GC_RESULTS_SCHEMA, .n_cases = n, .cases = c};
    snprintf(r.host_name, sizeof r.host_name, "box");
    return r;
}

static void matching_and_one_sided_cases(void **s) {
    static const double fast[] = {0.100, 0.101, 0.099, 0.100, 0.102, 0.098};
    static const double slow[] = {0.120, 0.121, 0.119, 0.122, 0.120, 0.118};
    gc_case_result bc[4], nc[4];
    set_case(&bc[0], "llm", "decode", 2, fast, 6, "ok");
    set_case(&bc[1], "llm", "prefill", 2, fast, 6, "ok");
    set_case(&bc[2], "llm", "decode", 1, fast, 6, "ok");       /* only in BASE */
    set_case(&bc[3], "triad", "copy", 2, fast, 6, "ok");
    set_case(&nc[0], "llm", "prefill", 2, fast, 6, "ok");      /* other order in NEW */
    set_case(&nc[1], "llm", "decode", 2, slow, 6, "ok");       /* 20% more time: slower */
    set_case(&nc[2], "triad", "copy", 2, NULL, 0, "failed");   /* verification failed */
    set_case(&nc[3], "llm", "decode", 4, fast, 6, "ok");       /* only in NEW */
    gc_results base = results_of(bc, 4), nw = results_of(nc, 4);
    gc_compare_opts o;
    compare_opts_defaults(&o);
    gc_comparison cmp;
    gc_err err;
    assert_int_equal(compare_results(&base, 1, &nw, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 3);
    assert_string_equal(cmp.cases[0].key, "llm/tiny/q4_0/cpu/avx2/t2/decode");
    assert_string_equal(cmp.cases[0].id.device, "avx2");
    assert_false(cmp.cases[0].partial);
    assert_string_equal(cmp.cases[0].host, "box");
    assert_int_equal(cmp.cases[0].verdict, GC_SLOWER);
    assert_float_equal(cmp.cases[0].median_base, 16 / 0.1, 1e-9);
    assert_float_equal(cmp.cases[0].ratio, 0.1 / 0.1200, 1e-9);
    assert_int_equal(cmp.cases[1].verdict, GC_SAME);
    assert_int_equal(cmp.cases[2].verdict, GC_BROKEN);
    assert_int_equal(cmp.n_only_base, 1);
    assert_string_equal(cmp.only_base[0], "llm/tiny/q4_0/cpu/avx2/t1/decode@box");
    assert_int_equal(cmp.n_only_new, 1);
    assert_string_equal(cmp.only_new[0], "llm/tiny/q4_0/cpu/avx2/t4/decode@box");
    assert_true(comparison_regressed(&cmp));
    assert_int_equal(cmp.n_verdict[GC_SLOWER], 1);

    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    comparison_print(&cmp, GC_FMT_MD, "base.json", "new.json", mem);
    fclose(mem);
    assert_non_null(strstr(buf, "regression found"));
    assert_non_null(strstr(buf, "| **slower** | llm/tiny/q4_0/cpu/avx2/t2/decode | box |"));
    assert_non_null(strstr(buf, "only in BASE: `llm/tiny/q4_0/cpu/avx2/t1/decode@box`"));
    assert_non_null(strstr(buf, "-16.7%"));
    assert_null(strstr(buf, "schema 1"));               /* no note: every identity is whole */
    free(buf);
    comparison_free(&cmp);

    /* another host: nothing matches unless hosts are ignored */
    snprintf(nw.host_name, sizeof nw.host_name, "other");
    assert_int_equal(compare_results(&base, 1, &nw, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 0);
    assert_int_equal(cmp.n_only_base, 4);
    assert_false(comparison_regressed(&cmp));
    assert_int_equal(comparison_exit_status(&cmp), GC_EXIT_NOTHING_COMPARED);
    comparison_free(&cmp);
    o.any_host = true;
    assert_int_equal(compare_results(&base, 1, &nw, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 3);
    assert_string_equal(cmp.cases[0].host, "box -> other");
    comparison_free(&cmp);
}

/* Several files per side merge their samples (the interleaved A/B mode). */
static void merging_files_per_side(void **s) {
    static const double t1[] = {0.100, 0.101}, t2[] = {0.099, 0.100}, t3[] = {0.102, 0.098};
    gc_case_result c1, c2, c3;
    set_case(&c1, "llm", "decode", 2, t1, 2, "ok");
    set_case(&c2, "llm", "decode", 2, t2, 2, "ok");
    set_case(&c3, "llm", "decode", 2, t3, 2, "ok");
    gc_results side[3] = {results_of(&c1, 1), results_of(&c2, 1), results_of(&c3, 1)};
    gc_compare_opts o;
    compare_opts_defaults(&o);
    gc_comparison cmp;
    gc_err err;
    assert_int_equal(compare_results(side, 3, side, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 1);
    assert_int_equal(cmp.cases[0].n_base, 6);
    assert_int_equal(cmp.cases[0].n_new, 2);
    assert_int_equal(cmp.cases[0].verdict, GC_NOISY);   /* 2 samples in NEW */
    comparison_free(&cmp);
}

/* The whole identity decides: an avx2 and an avx512 run of the same binary, or two prompt
 * lengths, are different cases, never one (and their samples never mix). */
static void device_and_params_are_identity(void **s) {
    static const double fast[] = {0.100, 0.101, 0.099, 0.100, 0.102, 0.098};
    static const double slow[] = {0.120, 0.121, 0.119, 0.122, 0.120, 0.118};
    gc_case_result b, n;
    set_case(&b, "llm", "decode", 2, fast, 6, "ok");
    set_case(&n, "llm", "decode", 2, fast, 6, "ok");
    snprintf(n.id.device, sizeof n.id.device, "avx512");
    gc_results base = results_of(&b, 1), nw = results_of(&n, 1);
    gc_compare_opts o;
    compare_opts_defaults(&o);
    gc_comparison cmp;
    gc_err err;
    assert_int_equal(compare_results(&base, 1, &nw, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 0);                    /* no case in common */
    assert_int_equal(cmp.n_only_base, 1);
    assert_string_equal(cmp.only_base[0], "llm/tiny/q4_0/cpu/avx2/t2/decode@box");
    assert_int_equal(cmp.n_only_new, 1);
    assert_string_equal(cmp.only_new[0], "llm/tiny/q4_0/cpu/avx512/t2/decode@box");
    comparison_free(&cmp);
    /* the same for parameters */
    snprintf(n.id.device, sizeof n.id.device, "avx2");
    snprintf(b.id.params, sizeof b.id.params, "gen=16,prompt=64");
    snprintf(n.id.params, sizeof n.id.params, "gen=16,prompt=128");
    assert_int_equal(compare_results(&base, 1, &nw, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 0);
    assert_string_equal(cmp.only_base[0], "llm/tiny/q4_0/cpu/avx2/t2/decode?gen=16,prompt=64@box");
    assert_string_equal(cmp.only_new[0], "llm/tiny/q4_0/cpu/avx2/t2/decode?gen=16,prompt=128@box");
    comparison_free(&cmp);
    /* both devices on both sides: each meets its own (avx512 got slower, avx2 did not) */
    gc_case_result b2[2], n2[2];
    set_case(&b2[0], "llm", "decode", 2, fast, 6, "ok");
    set_case(&b2[1], "llm", "decode", 2, fast, 6, "ok");
    set_case(&n2[0], "llm", "decode", 2, slow, 6, "ok");
    set_case(&n2[1], "llm", "decode", 2, fast, 6, "ok");
    snprintf(b2[1].id.device, sizeof b2[1].id.device, "avx512");
    snprintf(n2[0].id.device, sizeof n2[0].id.device, "avx512");
    base = results_of(b2, 2);
    nw = results_of(n2, 2);
    assert_int_equal(compare_results(&base, 1, &nw, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 2);
    assert_int_equal(cmp.n_only_base + cmp.n_only_new, 0);
    assert_string_equal(cmp.cases[0].key, "llm/tiny/q4_0/cpu/avx2/t2/decode");
    assert_int_equal(cmp.cases[0].verdict, GC_SAME);
    assert_int_equal(cmp.cases[0].n_new, 6);
    assert_string_equal(cmp.cases[1].key, "llm/tiny/q4_0/cpu/avx512/t2/decode");
    assert_int_equal(cmp.cases[1].verdict, GC_SLOWER);
    assert_int_equal(cmp.n_partial, 0);
    comparison_free(&cmp);
}

/* A schema-1 side (device and params unknown) meets every case of the other side with the same
 * other fields, each as its own comparison under the fuller identity, and the output says so
 * once; the other fields must still agree. */
static void schema1_matches_on_what_it_has(void **s) {
    static const double fast[] = {0.100, 0.101, 0.099, 0.100, 0.102, 0.098};
    static const double slow[] = {0.120, 0.121, 0.119, 0.122, 0.120, 0.118};
    gc_case_result old[2], cur[3];
    set_case(&old[0], "llm", "decode", 2, fast, 6, "ok");
    set_case(&old[1], "llm", "prefill", 2, fast, 6, "ok");
    for (int i = 0; i < 2; i++)
        old[i].id.device[0] = 0;                       /* as a schema-1 file reads */
    set_case(&cur[0], "llm", "decode", 2, fast, 6, "ok");
    set_case(&cur[1], "llm", "decode", 2, slow, 6, "ok");
    set_case(&cur[2], "llm", "prefill", 4, fast, 6, "ok");   /* other threads: no match */
    snprintf(cur[1].id.device, sizeof cur[1].id.device, "avx512");
    snprintf(cur[0].id.params, sizeof cur[0].id.params, "gen=16");
    snprintf(cur[1].id.params, sizeof cur[1].id.params, "gen=16");
    gc_results base = results_of(old, 2), nw = results_of(cur, 3);
    base.schema = 1;
    gc_compare_opts o;
    compare_opts_defaults(&o);
    gc_comparison cmp;
    gc_err err;
    assert_int_equal(compare_results(&base, 1, &nw, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 2);
    assert_int_equal(cmp.n_partial, 2);
    assert_true(cmp.base_schema1);
    assert_false(cmp.new_schema1);
    assert_true(cmp.cases[0].partial);
    assert_string_equal(cmp.cases[0].key, "llm/tiny/q4_0/cpu/avx2/t2/decode?gen=16");
    assert_int_equal(cmp.cases[0].verdict, GC_SAME);
    assert_string_equal(cmp.cases[1].key, "llm/tiny/q4_0/cpu/avx512/t2/decode?gen=16");
    assert_int_equal(cmp.cases[1].verdict, GC_SLOWER);
    assert_int_equal(cmp.n_only_base, 1);
    assert_string_equal(cmp.only_base[0], "llm/tiny/q4_0/cpu/-/t2/prefill@box");
    assert_int_equal(cmp.n_only_new, 1);
    assert_string_equal(cmp.only_new[0], "llm/tiny/q4_0/cpu/avx2/t4/prefill@box");
    const char *note = "BASE is schema 1: cases matched without device and parameters";
    for (int f = GC_FMT_MD; f <= GC_FMT_JSON; f++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        comparison_print(&cmp, (gc_cmp_format)f, "old.json", "new.json", mem);
        fclose(mem);
        const char *at = strstr(buf, note);
        if (!at) fail_msg("format %d lacks the note:\n%s", f, buf);
        assert_null(strstr(at + 1, note));                 /* once */
        free(buf);
    }
    comparison_free(&cmp);
    /* the other way round names NEW; the fuller identity is still the one shown */
    assert_int_equal(compare_results(&nw, 1, &base, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 2);
    assert_true(cmp.new_schema1);
    assert_string_equal(cmp.cases[1].key, "llm/tiny/q4_0/cpu/avx512/t2/decode?gen=16");
    assert_int_equal(cmp.cases[1].verdict, GC_FASTER);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    comparison_print(&cmp, GC_FMT_TEXT, "new.json", "old.json", mem);
    fclose(mem);
    assert_non_null(strstr(buf, "note: NEW is schema 1: cases matched without device and parameters"));
    free(buf);
    comparison_free(&cmp);
    /* schema 1 against schema 1: exact keys, as before; no note */
    nw = results_of(old, 2);
    nw.schema = 1;
    assert_int_equal(compare_results(&base, 1, &nw, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 2);
    assert_int_equal(cmp.n_partial, 0);
    assert_string_equal(cmp.cases[0].key, "llm/tiny/q4_0/cpu/-/t2/decode");
    comparison_free(&cmp);
}

/* ---- work counts (--counts) ------------------------------------------------------------------ */

/* A case whose throughput verdict is already set, as compare_one leaves it. */
static gc_case_cmp timed_case(gc_verdict time_verdict) {
    gc_case_cmp c;
    memset(&c, 0, sizeof c);
    c.verdict = time_verdict;
    snprintf(c.why, sizeof c.why, "time says so");
    return c;
}

static gc_work_counts counted(double instructions, double bytes) {
    return (gc_work_counts){.instructions = instructions, .work = 16, .bytes = bytes,
                            .flops = 2e9};
}

static void counts_verdicts(void **s) {
    gc_compare_opts o;
    compare_opts_defaults(&o);
    assert_float_equal(o.count_threshold, 0.02, 0);
    o.counts = true;
    gc_work_counts base = counted(1e9, 5e8), up = counted(1.1e9, 5e8), down = counted(9e8, 5e8),
                   tiny = counted(1.005e9, 5e8);
    /* +10% instructions: slower, though wall time saw no change */
    gc_case_cmp c = timed_case(GC_SAME);
    compare_counts(&base, &up, &o, &c);
    assert_int_equal(c.counts, GC_COUNTS_COMPARED);
    assert_int_equal(c.verdict, GC_SLOWER);
    assert_int_equal(c.time_verdict, GC_SAME);
    assert_string_equal(c.time_why, "time says so");
    assert_float_equal(c.ins_ratio, 1.1, 1e-12);
    assert_string_equal(c.why, "instructions_per_rep +10.00% (ratio 1.1000) beyond 2.0%");
    /* -10%: faster, even where noisy wall time said slower */
    c = timed_case(GC_SLOWER);
    compare_counts(&base, &down, &o, &c);
    assert_int_equal(c.verdict, GC_FASTER);
    assert_int_equal(c.time_verdict, GC_SLOWER);
    assert_float_equal(c.ins_ratio, 0.9, 1e-12);
    /* +0.5%: within 2% → same */
    c = timed_case(GC_NOISY);
    compare_counts(&base, &tiny, &o, &c);
    assert_int_equal(c.verdict, GC_SAME);
    assert_float_equal(c.ins_ratio, 1.005, 1e-12);
    assert_string_equal(c.why, "instructions_per_rep +0.50% (ratio 1.0050) within 2.0%");
    /* the threshold option: +10% is within 15% */
    o.count_threshold = 0.15;
    c = timed_case(GC_SAME);
    compare_counts(&base, &up, &o, &c);
    assert_int_equal(c.verdict, GC_SAME);
    o.count_threshold = 0.02;
}

static void counts_unavailable_and_work_changed(void **s) {
    gc_compare_opts o;
    compare_opts_defaults(&o);
    o.counts = true;
    gc_work_counts base = counted(1e9, 5e8), none = counted(NAN, 5e8);
    /* no count in NEW: the throughput verdict stands, and the case says why */
    gc_case_cmp c = timed_case(GC_SLOWER);
    compare_counts(&base, &none, &o, &c);
    assert_int_equal(c.counts, GC_COUNTS_UNAVAILABLE);
    assert_int_equal(c.verdict, GC_SLOWER);
    assert_true(isnan(c.ins_ratio));
    assert_string_equal(c.why, "counts unavailable (NEW has no instructions_per_rep); time: "
                               "time says so");
    c = timed_case(GC_SAME);
    compare_counts(&none, &none, &o, &c);
    assert_int_equal(c.verdict, GC_SAME);
    assert_non_null(strstr(c.why, "BASE and NEW have no"));
    /* bytes per rep differ: not comparable, whatever instructions and time say */
    gc_work_counts bigger = counted(1.5e9, 6e8);
    c = timed_case(GC_SLOWER);
    compare_counts(&base, &bigger, &o, &c);
    assert_int_equal(c.counts, GC_COUNTS_WORK_CHANGED);
    assert_int_equal(c.verdict, GC_WORK_CHANGED);
    assert_string_equal(compare_verdict_name(c.verdict), "work-changed");
    assert_true(isnan(c.ins_ratio));
    assert_non_null(strstr(c.why, "work changed: bytes_per_rep 5e+08 -> 6e+08 (x1.2000)"));
    /* flops too; a count missing on one side (0: not modelled) is no change */
    gc_work_counts flops = counted(1e9, 5e8), unmodelled = counted(1e9, 0);
    flops.flops = 4e9;
    c = timed_case(GC_SAME);
    compare_counts(&base, &flops, &o, &c);
    assert_int_equal(c.verdict, GC_WORK_CHANGED);
    assert_non_null(strstr(c.why, "flops_per_rep"));
    c = timed_case(GC_SAME);
    compare_counts(&base, &unmodelled, &o, &c);
    assert_int_equal(c.counts, GC_COUNTS_COMPARED);
    assert_int_equal(c.verdict, GC_SAME);
    /* a side that did not pass keeps its verdict; without --counts nothing changes */
    c = timed_case(GC_BROKEN);
    compare_counts(&base, &bigger, &o, &c);
    assert_int_equal(c.verdict, GC_BROKEN);
    assert_int_equal(c.counts, GC_COUNTS_OFF);
    o.counts = false;
    c = timed_case(GC_SAME);
    gc_work_counts up = counted(1.1e9, 5e8);
    compare_counts(&base, &up, &o, &c);
    assert_int_equal(c.verdict, GC_SAME);
    assert_int_equal(c.counts, GC_COUNTS_OFF);
}

static void set_counts(gc_case_result *c, double instructions, double bytes) {
    c->bytes_per_rep = bytes;
    c->flops_per_rep = 2e9;
    if (instructions > 0)
        gc_kv_add(c->metrics.vals, &c->metrics.n_vals, GC_MAX_KV, "instructions_per_rep",
                  instructions);
}

static char *print_to_string(const gc_comparison *cmp, gc_cmp_format f) {
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    comparison_print(cmp, f, "base.json", "new.json", mem);
    fclose(mem);
    return buf;
}

/* Through compare_results: counts read from metrics, the median over merged files, the verdict
 * tally, and all three output formats. */
static void counts_through_results(void **s) {
    static const double t[] = {0.100, 0.101, 0.099, 0.100, 0.102, 0.098};
    gc_case_result b[3], n1[3], n2[3], n3[3];
    for (int i = 0; i < 3; i++) {
        static const char *const phases[] = {"decode", "prefill", "copy"};
        set_case(&b[i], "llm", phases[i], 2, t, 6, "ok");
        set_case(&n1[i], "llm", phases[i], 2, t, 6, "ok");
        set_case(&n2[i], "llm", phases[i], 2, t, 6, "ok");
        set_case(&n3[i], "llm", phases[i], 2, t, 6, "ok");
        set_counts(&b[i], 1e9, 5e8);
    }
    /* decode: NEW files count 1.2e9, 1.1e9 and nothing → median 1.15e9, +15%: slower */
    set_counts(&n1[0], 1.2e9, 5e8);
    set_counts(&n2[0], 1.1e9, 5e8);
    set_counts(&n3[0], 0, 5e8);
    /* prefill: no counter in any NEW file → unavailable, time says same */
    for (int k = 0; k < 3; k++)
        set_counts(k == 0 ? &n1[1] : k == 1 ? &n2[1] : &n3[1], 0, 5e8);
    /* copy: bytes per rep doubled → work-changed */
    set_counts(&n1[2], 1e9, 1e9);
    set_counts(&n2[2], 1e9, 1e9);
    set_counts(&n3[2], 1e9, 1e9);
    gc_results base = results_of(b, 3);
    gc_results nw[3] = {results_of(n1, 3), results_of(n2, 3), results_of(n3, 3)};
    gc_compare_opts o;
    compare_opts_defaults(&o);
    o.counts = true;
    gc_comparison cmp;
    gc_err err;
    assert_int_equal(compare_results(&base, 1, nw, 3, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 3);
    assert_int_equal(cmp.cases[0].verdict, GC_SLOWER);
    assert_int_equal(cmp.cases[0].time_verdict, GC_SAME);
    assert_float_equal(cmp.cases[0].cnt_new.instructions, 1.15e9, 1e-3);
    assert_float_equal(cmp.cases[0].ins_ratio, 1.15, 1e-12);
    assert_int_equal(cmp.cases[1].counts, GC_COUNTS_UNAVAILABLE);
    assert_int_equal(cmp.cases[1].verdict, GC_SAME);
    assert_int_equal(cmp.cases[2].verdict, GC_WORK_CHANGED);
    assert_int_equal(cmp.n_verdict[GC_SLOWER], 1);
    assert_int_equal(cmp.n_verdict[GC_WORK_CHANGED], 1);
    assert_true(comparison_regressed(&cmp));

    char *md = print_to_string(&cmp, GC_FMT_MD);
    assert_non_null(strstr(md, "| verdict | case | host | counts | time | BASE |"));
    assert_non_null(
        strstr(md, "| **slower** | llm/tiny/q4_0/cpu/avx2/t2/decode | box | instr +15.00% | same |"));
    assert_non_null(
        strstr(md, "| work-changed | llm/tiny/q4_0/cpu/avx2/t2/copy | box | work changed | same |"));
    assert_non_null(strstr(md, "| same | llm/tiny/q4_0/cpu/avx2/t2/prefill | box | unavailable | same |"));
    assert_non_null(strstr(md, "1 slower, 1 same, 1 work-changed"));
    free(md);
    char *text = print_to_string(&cmp, GC_FMT_TEXT);
    assert_non_null(strstr(text, "counts: instructions_per_rep 1e+09 -> 1.15e+09 (ratio 1.1500, "
                                 "+15.00%); time: same"));
    assert_non_null(strstr(text, "counts: unavailable (verdict from time)"));
    assert_non_null(strstr(text, "counts: work changed (not comparable)"));
    free(text);
    comparison_free(&cmp);

    /* without --counts: the same files give throughput verdicts only, and no counts column */
    o.counts = false;
    assert_int_equal(compare_results(&base, 1, nw, 3, &o, &cmp, &err), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cmp.cases[i].verdict, GC_SAME);
        assert_int_equal(cmp.cases[i].counts, GC_COUNTS_OFF);
    }
    md = print_to_string(&cmp, GC_FMT_MD);
    assert_null(strstr(md, "counts"));
    free(md);
    comparison_free(&cmp);
}

/* ---- nothing compared, and few cases in common ----------------------------------------------- */

/* The same job at another thread count has no case in common: that is its own verdict and exit
 * status (3), in every format, never "no regression" with exit 0. */
static void nothing_compared_is_its_own_status(void **s) {
    static const double t[] = {0.100, 0.101, 0.099, 0.100, 0.102, 0.098};
    gc_case_result bc[2], nc[2];
    set_case(&bc[0], "llm", "decode", 2, t, 6, "ok");
    set_case(&bc[1], "llm", "prefill", 2, t, 6, "ok");
    set_case(&nc[0], "llm", "decode", 8, t, 6, "ok");
    set_case(&nc[1], "llm", "prefill", 8, t, 6, "ok");
    gc_results base = results_of(bc, 2), nw = results_of(nc, 2);
    gc_compare_opts o;
    compare_opts_defaults(&o);
    gc_comparison cmp;
    gc_err err;
    assert_int_equal(compare_results(&base, 1, &nw, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 0);
    assert_int_equal(cmp.n_base_cases, 2);
    assert_int_equal(cmp.n_new_cases, 2);
    assert_false(comparison_regressed(&cmp));
    assert_int_equal(comparison_exit_status(&cmp), GC_EXIT_NOTHING_COMPARED);
    assert_int_not_equal(GC_EXIT_NOTHING_COMPARED, 0);
    assert_int_not_equal(GC_EXIT_NOTHING_COMPARED, 1);
    assert_int_not_equal(GC_EXIT_NOTHING_COMPARED, 2);
    char cov[256];
    assert_true(comparison_coverage(&cmp, cov, sizeof cov));
    assert_non_null(strstr(cov, "nothing compared: no case of BASE is in NEW"));
    char *md = print_to_string(&cmp, GC_FMT_MD);
    assert_non_null(strstr(md, "### gencost compare: nothing compared"));
    assert_null(strstr(md, "no regression"));
    free(md);
    char *text = print_to_string(&cmp, GC_FMT_TEXT);
    assert_non_null(strstr(text, "nothing compared: no case of BASE is in NEW"));
    free(text);
    char *json = print_to_string(&cmp, GC_FMT_JSON);
    assert_non_null(strstr(json, "\"nothing_compared\": true"));
    free(json);
    comparison_free(&cmp);
    /* an empty side is nothing compared too */
    gc_results empty = results_of(nc, 0);
    assert_int_equal(compare_results(&base, 1, &empty, 1, &o, &cmp, &err), 0);
    assert_int_equal(comparison_exit_status(&cmp), GC_EXIT_NOTHING_COMPARED);
    assert_true(comparison_coverage(&cmp, cov, sizeof cov));
    assert_string_equal(cov, "nothing compared: NEW has no cases");
    comparison_free(&cmp);
}

/* 2 of 10 BASE cases are in NEW: compared as usual (exit 0), but the summary says how few. */
static void few_cases_in_common_are_said(void **s) {
    static const double t[] = {0.100, 0.101, 0.099, 0.100, 0.102, 0.098};
    gc_case_result bc[10], nc[2];
    for (int i = 0; i < 10; i++)
        set_case(&bc[i], "llm", "decode", i + 1, t, 6, "ok");
    set_case(&nc[0], "llm", "decode", 1, t, 6, "ok");
    set_case(&nc[1], "llm", "decode", 2, t, 6, "ok");
    gc_results base = results_of(bc, 10), nw = results_of(nc, 2);
    gc_compare_opts o;
    compare_opts_defaults(&o);
    gc_comparison cmp;
    gc_err err;
    assert_int_equal(compare_results(&base, 1, &nw, 1, &o, &cmp, &err), 0);
    assert_int_equal(cmp.n_cases, 2);
    assert_int_equal(comparison_exit_status(&cmp), 0);
    char cov[256];
    assert_true(comparison_coverage(&cmp, cov, sizeof cov));
    assert_string_equal(cov, "only 2 of 10 BASE cases are in NEW");
    char *text = print_to_string(&cmp, GC_FMT_TEXT);
    assert_non_null(strstr(text, "0 slower, 2 same; only 2 of 10 BASE cases are in NEW"));
    free(text);
    comparison_free(&cmp);
    /* the other way round: NEW's side is the one mostly missing */
    assert_int_equal(compare_results(&nw, 1, &base, 1, &o, &cmp, &err), 0);
    assert_true(comparison_coverage(&cmp, cov, sizeof cov));
    assert_string_equal(cov, "only 2 of 10 NEW cases are in BASE");
    comparison_free(&cmp);
    /* half missing is not "most": no remark */
    assert_int_equal(compare_results(&base, 1, &base, 1, &o, &cmp, &err), 0);
    assert_false(comparison_coverage(&cmp, cov, sizeof cov));
    comparison_free(&cmp);
}

/* ---- scale ------------------------------------------------------------------------------------- */

#define SCALE_CASES 20000
#define SCALE_BIG 200000   /* samples of case 0 on each side */
#define SCALE_ONE_SIDED 10 /* the last cases differ in threads: one side only */

/* Case i of a generated side, one line of JSON with the fields the reader requires: preset
 * p<i>, 5 samples around 0.1 s (case 0: SCALE_BIG samples); on NEW, case 0 takes 10% more time
 * and every case with i % 1000 == 500 20% more. */
static void scale_case(FILE *f, int i, bool is_new) {
    int n = i == 0 ? SCALE_BIG : 5;
    int threads = i >= SCALE_CASES - SCALE_ONE_SIDED ? (is_new ? 4 : 2) : 2;
    double scale = is_new && i == 0 ? 1.10 : is_new && i % 1000 == 500 ? 1.20 : 1.0;
    fprintf(f, "%s{\"workload\":\"llm\",\"preset\":\"p%05d\",\"params\":{},\"quant\":\"q4_0\","
               "\"backend\":\"cpu\",\"device\":\"avx2\",\"threads\":%d,\"phase\":\"decode\","
               "\"unit\":\"token\",\"work_per_rep\":16,\"status\":\"ok\",\"samples_s\":[",
            i ? ",\n" : "", i, threads);
    static const double steps[] = {-0.001, -0.0005, 0, 0.0005, 0.001};
    for (int k = 0; k < n; k++)
        fprintf(f, "%s%.9g", k ? "," : "", 0.1 * scale * (1 + (i == 0 ? 0.01 * normal() : steps[k])));
    double m = 160 / scale;
    fprintf(f, "],\"throughput\":{\"n\":%d,\"median\":%.9g,\"mean\":%.9g,\"stddev\":1,\"min\":%.9g,"
               "\"max\":%.9g,\"ci95_low\":%.9g,\"ci95_high\":%.9g,\"cv\":0.001},\"verify\":{\"ok\":true},"
               "\"energy\":{\"source\":\"none\",\"kind\":\"none\"}}",
            n, m, m, m * 0.99, m * 1.01, m * 0.999, m * 1.001);
}

static void write_scale_side(const char *path, bool is_new) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"schema\":2,\"gencost_version\":\"0.1.0\",\"git_commit\":\"%s\",\"complete\":true,"
               "\"host\":{\"name\":\"box\"},\"cases\":[\n", is_new ? "new" : "base");
    seed_rng(is_new ? 2 : 1);
    for (int i = 0; i < SCALE_CASES; i++)
        scale_case(f, i, is_new);
    fprintf(f, "]}\n");
    assert_int_equal(fclose(f), 0);
}

/* Two generated results files of 20,000 cases each, one case with 200,000 samples a side: the
 * old insertion sort, pairwise key scans and full-sort bootstrap took minutes on this; hashing,
 * qsort and the drawn bootstrap median take seconds. No time is asserted (tests/run.sh limits
 * the binary); the verdict counts are. The bootstrap count is lowered, a constant factor per
 * case, to keep the test quick under the sanitizers. */
static void compare_at_scale(void **s) {
    char dir[] = "/tmp/gc_cmp_scale_XXXXXX", base_path[64], new_path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(base_path, sizeof base_path, "%s/base.json", dir);
    snprintf(new_path, sizeof new_path, "%s/new.json", dir);
    write_scale_side(base_path, false);
    write_scale_side(new_path, true);
    gc_results base, nw;
    gc_err err;
    assert_int_equal(results_read(base_path, &base, &err), 0);
    assert_int_equal(results_read(new_path, &nw, &err), 0);
    unlink(base_path);
    unlink(new_path);
    rmdir(dir);
    assert_int_equal(base.n_cases, SCALE_CASES);
    assert_int_equal(base.cases[0].n_samples, SCALE_BIG);
    gc_compare_opts o;
    compare_opts_defaults(&o);
    o.n_boot = 200;
    gc_comparison cmp;
    assert_int_equal(compare_results(&base, 1, &nw, 1, &o, &cmp, &err), 0);
    int matched = SCALE_CASES - SCALE_ONE_SIDED;
    int slow_small = 0;   /* i % 1000 == 500 among the matched cases */
    for (int i = 0; i < matched; i++)
        slow_small += i % 1000 == 500;
    assert_int_equal(cmp.n_cases, matched);
    assert_int_equal(cmp.n_only_base, SCALE_ONE_SIDED);
    assert_int_equal(cmp.n_only_new, SCALE_ONE_SIDED);
    assert_int_equal(cmp.n_verdict[GC_SLOWER], slow_small + 1);
    assert_int_equal(cmp.n_verdict[GC_SAME], matched - slow_small - 1);
    /* the big case: a 10% longer time is a ratio of 1/1.1, its CI close around it */
    const gc_case_cmp *big = NULL;
    for (int i = 0; i < cmp.n_cases && !big; i++)
        if (!strcmp(cmp.cases[i].id.preset, "p00000")) big = &cmp.cases[i];
    assert_non_null(big);
    assert_int_equal(big->n_base, SCALE_BIG);
    assert_int_equal(big->verdict, GC_SLOWER);
    assert_float_equal(big->ratio, 1 / 1.1, 0.002);
    assert_true(big->ci_low < big->ratio && big->ratio < big->ci_high);
    assert_true(big->ci_high - big->ci_low < 0.005);
    assert_int_equal(comparison_exit_status(&cmp), 1);
    comparison_free(&cmp);
    results_free(&base);
    results_free(&nw);
}

/* The drawn median of a large side gives the bootstrap the spread it should have: for n
 * normal samples the median's standard error is sqrt(pi / 2) * sd / sqrt(n); the 95% interval of
 * the ratio of two such medians is about 2 * 1.96 * sqrt(2) * that wide. */
static void bootstrap_large_sides(void **s) {
    int n = 20000;
    double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b), lo, hi;
    assert_non_null(a);
    assert_non_null(b);
    seed_rng(11);
    fill_normal(a, n, 100, 0.05);
    fill_normal(b, n, 100, 0.05);
    compare_bootstrap_ratio(a, n, b, n, 2000, 3, &lo, &hi);
    double se = sqrt(3.141592653589793 / 2) * 0.05 / sqrt(n), want = 2 * 1.96 * sqrt(2.0) * se;
    printf("bootstrap of 2 x %d samples: CI width %.5f, expected about %.5f\n", n, hi - lo, want);
    assert_true(hi - lo > 0.8 * want && hi - lo < 1.2 * want);
    assert_true(lo < 1 && hi > 1);
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_cdf_matches_enumeration),
        cmocka_unit_test(exact_cdf_matches_tables),
        cmocka_unit_test(u_test_exact_small),
        cmocka_unit_test(u_test_normal_with_ties),
        cmocka_unit_test(u_test_normal_large),
        cmocka_unit_test(bootstrap_constant_sides),
        cmocka_unit_test(bootstrap_discrete_percentiles),
        cmocka_unit_test(bootstrap_seeded_and_covering),
        cmocka_unit_test(verdicts_synthetic),
        cmocka_unit_test(verdict_threshold_option),
        cmocka_unit_test(false_alarm_rate_on_noise),
        cmocka_unit_test(matching_and_one_sided_cases),
        cmocka_unit_test(merging_files_per_side),
        cmocka_unit_test(device_and_params_are_identity),
        cmocka_unit_test(schema1_matches_on_what_it_has),
        cmocka_unit_test(counts_verdicts),
        cmocka_unit_test(counts_unavailable_and_work_changed),
        cmocka_unit_test(counts_through_results),
        cmocka_unit_test(nothing_compared_is_its_own_status),
        cmocka_unit_test(few_cases_in_common_are_said),
        cmocka_unit_test(bootstrap_large_sides),
        cmocka_unit_test(compare_at_scale),
    };
    return cmocka_run_group_tests_name("compare", tests, NULL, NULL);
}
