/* Deterministic work counts for CI: retired user-space instructions of this process, counted by
 * the kernel's perf events (perf_event_open(2)) around a phase's timed repetitions. Unlike wall
 * time they barely move with machine load, so a CI job on a shared runner can gate on them.
 *
 * Most virtual machines expose no hardware counters; then perfcount_open() says so in one line
 * (pc->why) and the results simply carry no instruction count — never a made-up one.
 */
#ifndef GC_PERFCOUNT_H
#define GC_PERFCOUNT_H
#include <stdbool.h>
#include <stdint.h>

#define GC_PERF_MAX_THREADS 256

typedef struct gc_perfcount {
    int fds[GC_PERF_MAX_THREADS];   /* one counter per thread alive at open (children inherit) */
    int n_fds;
    bool available;
    bool multiplexed;               /* the last reading was scaled: the PMU was shared */
    char why[200];                  /* when unavailable: the reason, e.g. "no hardware counters" */
} gc_perfcount;

/* Opens disabled counters on every thread of this process. Returns 0 when counting works, else
 * -1 with pc->why filled (the caller records "unavailable" and goes on). */
int perfcount_open(gc_perfcount *pc);
/* The same for any perf event (type and config of struct perf_event_attr), e.g. a software
 * event: lets the tests exercise the plumbing on machines without hardware counters. */
int perfcount_open_event(gc_perfcount *pc, uint32_t type, uint64_t config);
void perfcount_start(gc_perfcount *pc);      /* reset and enable */
/* Disables and sums all threads. Returns 0 with *instructions set, -1 when nothing was
 * counted (counter never scheduled), with pc->why filled. */
int perfcount_stop(gc_perfcount *pc, uint64_t *instructions);
void perfcount_close(gc_perfcount *pc);

/* Metric name the runner stores in a case's metrics when counting worked. */
#include "bench/metrics.h"   /* GC_METRIC_INSTRUCTIONS */

#endif
