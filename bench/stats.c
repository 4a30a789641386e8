/* Summary statistics of timing samples.
 *
 * The confidence interval of the median is distribution-free: with the samples sorted,
 * x(l) <= median <= x(n-l+1) holds with probability 1 - 2*P(B <= l-1), B ~ Binomial(n, 1/2),
 * whatever the distribution of the timings (which is rarely normal: skewed to the right by
 * interrupts and frequency changes). We take the largest l whose tail P(B <= l-1) is at most
 * 2.5%, so the coverage is at least 95%. Below n = 6 even [x(1), x(n)] covers less than 95%,
 * so the interval is reported as [min, max], as the header says.
 */
#include "bench/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double *sorted_copy(const double *x, int n) {
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) return NULL;
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return s;
}

static double median_sorted(const double *s, int n) {
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

double stats_median(const double *x, int n) {
    if (n < 1) return 0;
    double *s = sorted_copy(x, n);
    if (!s) return NAN;
    double m = median_sorted(s, n);
    free(s);
    return m;
}

/* 1-based index l of the lower CI bound; the upper bound is n - l + 1. 0 when n is too small.
 * The binomial terms are summed in log space so that large n does not underflow 0.5^n. */
static int median_ci_lower_index(int n) {
    const double alpha_half = 0.025;
    double log_pmf = -n * log(2.0);        /* log P(B = 0) */
    double cdf = 0;
    int l = 0;
    for (int i = 0; i <= n / 2; i++) {
        cdf += exp(log_pmf);               /* cdf = P(B <= i) */
        if (cdf > alpha_half) break;
        l = i + 1;                         /* P(B <= l-1) <= 2.5% */
        log_pmf += log((double)(n - i)) - log((double)(i + 1));
    }
    return l;
}

void stats_compute(const double *x, int n, gc_stats *out) {
    memset(out, 0, sizeof *out);
    if (n < 1) return;
    out->n = n;
    double *s = sorted_copy(x, n);
    if (!s) {
        out->median = out->mean = NAN;
        return;
    }
    out->min = s[0];
    out->max = s[n - 1];
    out->median = median_sorted(s, n);
    int l = median_ci_lower_index(n);
    out->ci95_low = l >= 1 ? s[l - 1] : out->min;
    out->ci95_high = l >= 1 ? s[n - l] : out->max;

    double sum = 0;
    for (int i = 0; i < n; i++) sum += s[i];
    out->mean = sum / n;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (s[i] - out->mean) * (s[i] - out->mean);
    out->stddev = n > 1 ? sqrt(ss / (n - 1)) : 0;
    out->cv = out->mean != 0 ? out->stddev / fabs(out->mean) : 0;

    for (int i = 0; i < n; i++) s[i] = fabs(s[i] - out->median);   /* reuses the buffer */
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    out->mad = median_sorted(s, n);
    free(s);
}

/* Throughput of each repetition is work / seconds. Order statistics map one-to-one (reversed),
 * so the CI of the median rate is the CI of the median time, inverted with its bounds swapped.
 * The median rate is work / median time so that it matches the time statistics exactly (for
 * an even count the two middle rates' average would differ slightly from it). */
void stats_throughput(const double *seconds, int n, double work_per_rep, gc_stats *out) {
    memset(out, 0, sizeof *out);
    if (n < 1) return;
    const double tiny = 1e-12;             /* a clock that read 0 must not divide by zero */
    double *rate = malloc((size_t)n * sizeof *rate);
    if (!rate) {
        out->median = out->mean = NAN;
        return;
    }
    for (int i = 0; i < n; i++) rate[i] = work_per_rep / fmax(seconds[i], tiny);
    stats_compute(rate, n, out);
    free(rate);
    gc_stats t;
    stats_compute(seconds, n, &t);
    out->median = work_per_rep / fmax(t.median, tiny);
    out->ci95_low = work_per_rep / fmax(t.ci95_high, tiny);
    out->ci95_high = work_per_rep / fmax(t.ci95_low, tiny);
}

int stats_high_spread(const gc_stats *s) {
    if (s->n < 1) return 0;
    if (s->cv > 0.05) return 1;
    return s->median != 0 && (s->ci95_high - s->ci95_low) > 0.10 * fabs(s->median);
}
