/* triad: the STREAM-style memory-bandwidth probe (copy and triad), the bandwidth ceiling of
 * the roofline other workloads are compared against. */
#ifndef GC_WL_TRIAD_H
#define GC_WL_TRIAD_H
#include "base/util.h"
#include "bench/workload.h"

extern const gc_workload wl_triad;

/* Best triad bandwidth in GB/s (10^9 bytes, STREAM's counting) over a short (~0.3 s) burst
 * with `threads` workers (<= 0: all physical cores), arrays sized as a full run. For the
 * roofline fraction of other workloads. Returns 0 with err filled on failure. */
double triad_probe_gbs(int threads, gc_err *err);

#endif
