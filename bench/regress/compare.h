/* Regression verdicts: two sets of results files compared case by case.
 *
 * Cases match on their whole identity (bench/case_id.h: workload, preset, params, quant, backend,
 * device, threads, phase) and host, so an avx2 run and an avx512 run of the same binary, or two
 * prompt lengths, are different cases. Schema-1 files recorded no device and no params: a case
 * whose file is schema 1 matches, when no case has its exact key, every case of the other side
 * with the same coarse key (gc_case_key_coarse: the fields it has), each as its own comparison
 * shown under the fuller identity; the output then says once "BASE is schema 1: cases matched
 * without device and parameters" (or NEW, or both). Per case: the ratio
 * of median throughputs NEW/BASE (> 1 is faster) with a seeded bootstrap 95% confidence
 * interval over the raw samples, a two-sided Mann-Whitney U test on the samples, and a verdict.
 * `slower` needs BOTH p < alpha AND a throughput change beyond the threshold, so noise alone
 * (which a rank test at alpha = 0.01 flags in about 1% of cases) rarely becomes an alarm.
 *
 * Work counts (opt.counts, `compare --counts`; compare_counts.c): for CI on shared runners, where
 * wall time moves with machine load but the work a case does does not. Rules, per matched case
 * whose BASE and NEW both passed:
 *  1. work_per_rep, bytes_per_rep or flops_per_rep (exact model counts) recorded on both sides
 *     (> 0) and different → verdict `work-changed`: the two runs did not do the same work, so
 *     the case is not comparable (not a regression; neither counts nor time are judged).
 *  2. else, instructions_per_rep (metrics, GC_METRIC_INSTRUCTIONS) on both sides → the verdict
 *     comes from the counts: ratio NEW/BASE > 1 + count_threshold → slower, < 1 -
 *     count_threshold → faster, else same. The throughput verdict is kept (time_verdict) and
 *     shown, but only for information: counts REPLACE wall time as the verdict.
 *  3. else (no counters on a side, e.g. a VM) → counts "unavailable", said per case, and the
 *     verdict is the throughput one. No count is ever estimated.
 * Nothing compared: when no case of BASE met a case of NEW (another thread count, a renamed
 * preset, another host), there is no verdict to give, and saying "no regression" would turn a CI
 * gate off without a word: comparison_exit_status() is then GC_EXIT_NOTHING_COMPARED and every
 * format says "nothing compared". When more than half of either side's cases found no partner,
 * the summary line says so ("only 2 of 10 BASE cases are in NEW").
 *
 * Scale: cases are matched through hash tables and samples sorted with qsort, and the bootstrap
 * of a case with many samples draws the resample's median directly (compare_stats.c), so a
 * compare of 100,000 cases or of a case with 100,000s of samples takes seconds, not minutes.
 *
 * Caveat: at threads > 1 the CPU pool's workers spin up to 200 us waiting for jobs, and those
 * user-space instructions are counted too, so multi-thread counts move somewhat with load.
 */
#ifndef GC_COMPARE_H
#define GC_COMPARE_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "bench/results.h"

typedef enum gc_verdict {
    GC_SAME,      /* no change beyond the threshold */
    GC_FASTER,    /* p < alpha and throughput up by more than the threshold */
    GC_SLOWER,    /* p < alpha and throughput down by more than the threshold: a regression */
    GC_NOISY,     /* too few samples, or the CI spans beyond the threshold without significance */
    GC_BROKEN,    /* NEW did not run or failed verification where BASE passed: a regression */
    GC_UNUSABLE,  /* BASE did not pass (failed/error): nothing to compare against */
    GC_WORK_CHANGED, /* --counts: the modelled work per rep differs: not comparable */
} gc_verdict;

#define GC_N_VERDICTS (GC_WORK_CHANGED + 1)

const char *compare_verdict_name(gc_verdict v);

typedef struct gc_compare_opts {
    double threshold;   /* fraction, 0.05 = 5% change of throughput */
    double alpha;       /* significance level of the U test, default 0.01 */
    int min_samples;    /* fewer samples on either side → noisy (default 3) */
    int n_boot;         /* bootstrap resamples (default 2000) */
    uint64_t seed;      /* bootstrap seed (default fixed, so verdicts are reproducible) */
    bool any_host;      /* match cases across hosts (host left out of the key) */
    bool counts;        /* verdict from work counts where both sides have them (rules above) */
    double count_threshold;   /* fraction, change of instructions per rep (default 0.02) */
} gc_compare_opts;

void compare_opts_defaults(gc_compare_opts *o);

/* ---- statistics, public so the tests can check them against known values ---------------- */

/* Two-sided Mann-Whitney U test. *u = U of sample a (number of pairs with a > b, ties count
 * one half). Exact null distribution when both n <= 50 and there are no ties (*exact = true),
 * else the normal approximation with tie correction and continuity correction. Returns p. */
double compare_mann_whitney(const double *a, int na, const double *b, int nb, double *u,
                            bool *exact);

/* P(U <= u) under the null for sample sizes m, n without ties (exact; m, n <= 50). */
double compare_u_cdf_exact(int m, int n, double u);

/* Percentile bootstrap 95% CI of median(b) / median(a): each side resampled with replacement,
 * n_boot times, from a splitmix64 stream seeded by seed. Deterministic for a given seed. A side
 * of more than 2000 samples has its resample's median drawn directly from order-statistic
 * distributions (the same bootstrap, O(1) per resample; compare_stats.c). */
void compare_bootstrap_ratio(const double *a, int na, const double *b, int nb, int n_boot,
                             uint64_t seed, double *lo, double *hi);

/* ---- case comparison ---------------------------------------------------------------------- */

/* What the work counts of one case gave (only with opt.counts). */
typedef enum gc_counts_state {
    GC_COUNTS_OFF,          /* not asked for, or a side did not pass: not looked at */
    GC_COUNTS_COMPARED,     /* instructions on both sides: the verdict comes from them */
    GC_COUNTS_UNAVAILABLE,  /* no instruction count on a side: throughput verdict */
    GC_COUNTS_WORK_CHANGED, /* modelled work per rep differs: not comparable */
} gc_counts_state;

const char *compare_counts_state_name(gc_counts_state s);   /* "compared", "unavailable", ... */

/* The work counts of one side of a case; NaN where not recorded. */
typedef struct gc_work_counts {
    double instructions;   /* metrics.instructions_per_rep (median over merged files) */
    double work, bytes, flops;   /* work_per_rep, bytes_per_rep, flops_per_rep */
} gc_work_counts;

typedef struct gc_case_cmp {
    char key[GC_CASE_KEY_LEN];   /* gc_case_key of id: "llm/tiny/q4_0/cpu/avx2/t2/decode?gen=16" */
    gc_case_id id;               /* the fuller side's identity when one side was schema 1 */
    bool partial;                /* matched without device and params (a side was schema 1) */
    char unit[16], host[128];
    int n_base, n_new;
    double median_base, median_new;   /* throughput, units per second */
    double ratio, ci_low, ci_high;    /* NEW/BASE throughput */
    double u, p;
    bool exact;
    gc_verdict verdict;
    char why[160];               /* one line: the reason for the verdict */
    /* work counts (opt.counts) */
    gc_counts_state counts;
    gc_work_counts cnt_base, cnt_new;
    double ins_ratio;            /* instructions per rep NEW/BASE (> 1 is more work); NaN if none */
    gc_verdict time_verdict;     /* the throughput verdict, informational when counts decided */
    char time_why[160];
} gc_case_cmp;

typedef struct gc_comparison {
    gc_compare_opts opt;
    gc_case_cmp *cases;
    int n_cases;
    char **only_base, **only_new;     /* "key@host" present on one side only */
    int n_only_base, n_only_new;
    int n_verdict[GC_N_VERDICTS];
    int n_partial;                    /* cases matched without device and params */
    bool base_schema1, new_schema1;   /* a file of that side is schema 1 (partial identities) */
    int n_base_cases, n_new_cases;    /* distinct cases of each side (files merged) */
} gc_comparison;

/* Compares the cases of base[0..nb) with those of nw[0..nn); several files on one side are
 * merged (samples of the same case appended: used by the interleaved A/B mode). Samples are
 * seconds per repetition; throughput = work_per_rep / seconds. Returns 0, or non-zero with
 * err filled (out of memory). */
int compare_results(const gc_results *base, int nb, const gc_results *nw, int nn,
                    const gc_compare_opts *opt, gc_comparison *out, gc_err *err);

/* Verdict for one case from raw throughput samples; fills ratio, CI, U, p, verdict, why. */
void compare_samples(const double *base_tp, int nb, const double *new_tp, int nn,
                     const gc_compare_opts *opt, gc_case_cmp *c);

/* Applies the work-count rules (top of this file) to c, whose throughput verdict is already
 * set: keeps it in time_verdict / time_why, then sets counts, ins_ratio and, where the counts
 * decide, verdict and why. Does nothing unless opt->counts. */
void compare_counts(const gc_work_counts *base, const gc_work_counts *nw,
                    const gc_compare_opts *opt, gc_case_cmp *c);

void comparison_free(gc_comparison *c);

/* True when at least one case is a regression (slower or broken): exit status 1. */
bool comparison_regressed(const gc_comparison *c);

/* `compare` exits 3 when no case was compared at all (top of this file): distinct from 0 (no
 * regression), 1 (regression) and 2 (bad input). */
#define GC_EXIT_NOTHING_COMPARED 3

/* 1 on a regression, else GC_EXIT_NOTHING_COMPARED when no case was compared, else 0. */
int comparison_exit_status(const gc_comparison *c);

/* The summary's coverage remark: "nothing compared: no case of BASE is in NEW" when nothing
 * was compared, "only K of N BASE cases are in NEW" (and/or the same for NEW) when more than
 * half of a side's cases are unmatched, else "" (returns false). */
bool comparison_coverage(const gc_comparison *c, char *buf, size_t n);

typedef enum gc_cmp_format { GC_FMT_MD, GC_FMT_TEXT, GC_FMT_JSON } gc_cmp_format;
int compare_parse_format(const char *s, gc_cmp_format *f);
/* base_name / new_name label the two sides (file names or commands). */
void comparison_print(const gc_comparison *c, gc_cmp_format f, const char *base_name,
                      const char *new_name, FILE *out);

#endif
