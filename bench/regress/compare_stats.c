/* The statistics behind `gencost compare`: Mann-Whitney U test (exact and normal) and a seeded
 * percentile bootstrap of the ratio of medians.
 *
 * References: Mann & Whitney (1947) for the recurrence of the exact null distribution;
 * the tie-corrected variance of U is the textbook one (e.g. Hollander & Wolfe, Nonparametric
 * Statistical Methods, ch. 4); splitmix64 is Steele, Lea & Flood (2014).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "bench/regress/compare.h"

#define EXACT_MAX_N 50

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Exact P(U <= u) from the recurrence on the largest observation: it belongs to sample a with
 * probability m/(m+n) and then beats all n b's (adds n to U), else to b (adds 0):
 *   p[m][n](k) = m/(m+n) * p[m-1][n](k-n) + n/(m+n) * p[m][n-1](k).
 * Rows over m are rolled, so memory is 2 * (n+1) * (m*n+1) doubles. */
double compare_u_cdf_exact(int m, int n, double u) {
    if (m < 0 || n < 0 || m > EXACT_MAX_N || n > EXACT_MAX_N)
        return NAN;
    if (u < 0)
        return 0;
    int kmax = m * n;
    if (u >= kmax)
        return 1;
    size_t len = (size_t)kmax + 1;
    double *prev = calloc((size_t)(n + 1) * len, sizeof *prev);
    double *cur = calloc((size_t)(n + 1) * len, sizeof *cur);
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return NAN;
    }
    for (int j = 0; j <= n; j++)            /* m = 0: U is always 0 */
        prev[(size_t)j * len] = 1;
    for (int i = 1; i <= m; i++) {
        memset(cur, 0, (size_t)(n + 1) * len * sizeof *cur);
        cur[0] = 1;                          /* n = 0: U is always 0 */
        for (int j = 1; j <= n; j++) {
            double pa = (double)i / (i + j), pb = (double)j / (i + j);
            double *out = cur + (size_t)j * len;
            const double *from_a = prev + (size_t)j * len, *from_b = cur + (size_t)(j - 1) * len;
            for (int k = 0; k <= i * j; k++)
                out[k] = (k >= j ? pa * from_a[k - j] : 0) + pb * from_b[k];
        }
        double *t = prev;
        prev = cur;
        cur = t;
    }
    const double *pmf = prev + (size_t)n * len;
    double cdf = 0;
    for (int k = 0; k <= (int)floor(u); k++)
        cdf += pmf[k];
    free(prev);
    free(cur);
    return cdf > 1 ? 1 : cdf;
}

typedef struct ranked {
    double v;
    int from_a;
} ranked;

static int cmp_ranked(const void *x, const void *y) {
    return cmp_double(&((const ranked *)x)->v, &((const ranked *)y)->v);
}

/* U of sample a from mid-ranks; *tie_term = sum over tie groups of (t^3 - t). */
static double u_from_ranks(const double *a, int na, const double *b, int nb, double *tie_term) {
    int n = na + nb;
    ranked *r = malloc((size_t)n * sizeof *r);
    if (!r)
        return NAN;
    for (int i = 0; i < na; i++)
        r[i] = (ranked){a[i], 1};
    for (int j = 0; j < nb; j++)
        r[na + j] = (ranked){b[j], 0};
    qsort(r, (size_t)n, sizeof *r, cmp_ranked);
    double rank_sum_a = 0;
    *tie_term = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && r[j + 1].v == r[i].v)
            j++;
        double mid = (i + j) / 2.0 + 1;       /* ranks are 1-based */
        double t = j - i + 1;
        *tie_term += t * t * t - t;
        for (int k = i; k <= j; k++)
            if (r[k].from_a)
                rank_sum_a += mid;
        i = j + 1;
    }
    free(r);
    return rank_sum_a - (double)na * (na + 1) / 2;
}

double compare_mann_whitney(const double *a, int na, const double *b, int nb, double *u,
                            bool *exact) {
    double tie_term = 0;
    double ua = u_from_ranks(a, na, b, nb, &tie_term);
    if (u)
        *u = ua;
    if (exact)
        *exact = false;
    if (na < 1 || nb < 1 || isnan(ua))
        return 1;
    if (tie_term == 0 && na <= EXACT_MAX_N && nb <= EXACT_MAX_N) {
        double lower = compare_u_cdf_exact(na, nb, ua);
        double upper = 1 - compare_u_cdf_exact(na, nb, ua - 1);   /* P(U >= u) */
        if (!isnan(lower) && !isnan(upper)) {
            if (exact)
                *exact = true;
            double p = 2 * (lower < upper ? lower : upper);
            return p > 1 ? 1 : p;
        }
    }
    double n = na + nb, mu = (double)na * nb / 2;
    double var = (double)na * nb / 12 * ((n + 1) - tie_term / (n * (n - 1)));
    if (var <= 0)
        return 1;                            /* every value equal: no evidence of a shift */
    double z = (fabs(ua - mu) - 0.5) / sqrt(var);
    if (z < 0)
        z = 0;
    return erfc(z / sqrt(2.0));
}

/* splitmix64: tiny, well-mixed, and reproducible everywhere. */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform index in [0, n) by rejection, so no index is favoured. */
static int rand_index(uint64_t *s, int n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % (uint64_t)n;
    uint64_t x;
    do
        x = splitmix64(s);
    while (x >= limit);
    return (int)(x % (uint64_t)n);
}

static double median_sorted(const double *x, int n) {
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

static double resampled_median(const double *x, int n, double *scratch, uint64_t *s) {
    for (int i = 0; i < n; i++)
        scratch[i] = x[rand_index(s, n)];
    if (n <= 16) {   /* the usual handful of repetitions: inline, without qsort's calls */
        for (int i = 1; i < n; i++) {
            double v = scratch[i];
            int j = i;
            for (; j > 0 && scratch[j - 1] > v; j--)
                scratch[j] = scratch[j - 1];
            scratch[j] = v;
        }
    } else {
        qsort(scratch, (size_t)n, sizeof *scratch, cmp_double);
    }
    return median_sorted(scratch, n);
}

/* ---- the median of a large resample, drawn directly ------------------------------------------
 * Resampling n values and sorting them costs n log n per resample, 2000 times: minutes for a
 * case with 100,000s of samples. But with x sorted, a resample's median is x at the median of
 * the n drawn indices, and the k-th smallest of n uniform draws U is Beta(k, n + 1 - k); the
 * next one above it is U + (1 - U) * Beta(1, n - k) (the least of the n - k draws above U). The
 * index is floor(n * U). So a resample's median costs two or three gamma variates: the same
 * distribution as resampling (the same bootstrap), from a different stream of numbers. Below
 * BOOT_DIRECT_MAX samples the resamples are drawn as before, so small cases keep their exact
 * seeded intervals. */
#define BOOT_DIRECT_MAX 2000

static double uniform01(uint64_t *s) {   /* in (0, 1): 53 random bits, never 0 */
    return ((double)(splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double std_normal(uint64_t *s) {   /* Box-Muller, one of the pair */
    double u = uniform01(s), v = uniform01(s);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* Gamma(a, 1) for a >= 1 by Marsaglia & Tsang (2000), "A simple method for generating gamma
 * variables": accepts about 98% of proposals for any a >= 1. */
static double gamma_variate(double a, uint64_t *s) {
    double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double z = std_normal(s), v = 1 + c * z;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = uniform01(s);
        if (log(u) < 0.5 * z * z + d - d * v + d * log(v))
            return d * v;
    }
}

static int order_index(double u, int n) {
    int i = (int)(u * n);
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/* The median of a resample with replacement of sorted[0..n), n > BOOT_DIRECT_MAX (so both
 * beta shapes are >= 1). */
static double drawn_median(const double *sorted, int n, uint64_t *s) {
    int k = n % 2 ? (n + 1) / 2 : n / 2;           /* 1-based order statistic */
    double ga = gamma_variate(k, s), gb = gamma_variate(n + 1 - k, s);
    double u = ga / (ga + gb);
    double lo = sorted[order_index(u, n)];
    if (n % 2)
        return lo;
    double w = 1 - pow(uniform01(s), 1.0 / (n - k));   /* Beta(1, n - k) */
    return (lo + sorted[order_index(u + (1 - u) * w, n)]) / 2;
}

/* Type-7 quantile (linear between order statistics) of sorted x. */
static double quantile_sorted(const double *x, int n, double q) {
    double h = (n - 1) * q;
    int lo = (int)floor(h);
    int hi = lo + 1 < n ? lo + 1 : lo;
    return x[lo] + (h - lo) * (x[hi] - x[lo]);
}

void compare_bootstrap_ratio(const double *a, int na, const double *b, int nb, int n_boot,
                             uint64_t seed, double *lo, double *hi) {
    *lo = *hi = NAN;
    if (na < 1 || nb < 1 || n_boot < 2)
        return;
    double *ratios = malloc((size_t)n_boot * sizeof *ratios);
    double *scratch = malloc((size_t)(na > nb ? na : nb) * sizeof *scratch);
    bool big_a = na > BOOT_DIRECT_MAX, big_b = nb > BOOT_DIRECT_MAX;
    double *sa = big_a ? malloc((size_t)na * sizeof *sa) : NULL;
    double *sb = big_b ? malloc((size_t)nb * sizeof *sb) : NULL;
    if (!ratios || !scratch || (big_a && !sa) || (big_b && !sb)) {
        free(ratios);
        free(scratch);
        free(sa);
        free(sb);
        return;
    }
    if (big_a) {
        memcpy(sa, a, (size_t)na * sizeof *sa);
        qsort(sa, (size_t)na, sizeof *sa, cmp_double);
    }
    if (big_b) {
        memcpy(sb, b, (size_t)nb * sizeof *sb);
        qsort(sb, (size_t)nb, sizeof *sb, cmp_double);
    }
    uint64_t s = seed;
    int k = 0;
    for (int i = 0; i < n_boot; i++) {
        double ma = big_a ? drawn_median(sa, na, &s) : resampled_median(a, na, scratch, &s);
        double mb = big_b ? drawn_median(sb, nb, &s) : resampled_median(b, nb, scratch, &s);
        if (ma > 0 && isfinite(mb))
            ratios[k++] = mb / ma;
    }
    if (k >= 2) {
        qsort(ratios, (size_t)k, sizeof *ratios, cmp_double);
        *lo = quantile_sorted(ratios, k, 0.025);
        *hi = quantile_sorted(ratios, k, 0.975);
    }
    free(ratios);
    free(scratch);
    free(sa);
    free(sb);
}
