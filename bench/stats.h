/* Summary statistics of timing samples. */
#ifndef GC_STATS_H
#define GC_STATS_H

typedef struct gc_stats {
    int n;
    double median, mean, stddev, mad, min, max;
    double cv;                  /* stddev / mean */
    double ci95_low, ci95_high; /* distribution-free 95% confidence interval of the median */
} gc_stats;

/* x is not modified. n >= 1. stddev is the sample (n-1) deviation, 0 for n == 1; MAD is the
 * unscaled median absolute deviation. With n < 6 the CI is [min, max] (too few samples for a
 * 95% order-statistic interval). */
void stats_compute(const double *x, int n, gc_stats *out);

/* Throughput statistics (units per second) from seconds-per-repetition samples. */
void stats_throughput(const double *seconds, int n, double work_per_rep, gc_stats *out);

double stats_median(const double *x, int n);    /* copies, does not modify */

/* True when the spread is too high to trust a single figure (cv above 5% or CI wider than
 * 10% of the median). */
int stats_high_spread(const gc_stats *s);

#endif
