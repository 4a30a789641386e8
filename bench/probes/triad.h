/* triad: the STREAM-style memory-bandwidth probes (copy, triad) and a read-only stream (read):
 * the bandwidth ceilings of the roofline other workloads are compared against. Work that only
 * reads its data (decode, matrix-vector) is held to the read probe; triad stays for continuity
 * and for work that writes as much as it reads. */
#ifndef GC_WL_TRIAD_H
#define GC_WL_TRIAD_H
#include <stdbool.h>
#include <stddef.h>
#include "base/util.h"
#include "bench/workload.h"

extern const gc_workload wl_triad;

/* Best triad bandwidth in GB/s (10^9 bytes, STREAM's counting) over a short (~0.3 s) burst
 * with `threads` workers (<= 0: all physical cores), arrays sized as a full run. For the
 * roofline fraction of other workloads. Returns 0 with err filled on failure. */
double triad_probe_gbs(int threads, gc_err *err);

/* Best read-only bandwidth in GB/s (8 bytes per double summed) over a short (~0.3 s) burst with
 * `threads` workers (<= 0: all physical cores), one array >= 4x the last-level cache (the read
 * phase's), first-touched by the worker that streams it; the sum is checked exactly. The
 * memory ceiling of decode and matrix-vector products. Returns 0 with err filled on failure. */
double read_probe_gbs(int threads, gc_err *err);

/* The margin READ_PROBE_MARGIN by which streamed work may pass the read probe of the same run
 * before it is taken as having run (partly) from cache: run-to-run noise of the probe and the
 * phase stays well inside it. */
#define READ_PROBE_MARGIN 0.10

/* True when work that streamed `gbs` GB/s cannot have read all of it from memory: it passes the
 * read probe `read_gbs` (same run, same threads) by more than `margin` (0.10: 10%). False when
 * the ceiling is unknown (read_gbs <= 0 or not a number) or gbs is not a number. Pure. */
bool read_probe_exceeded(double gbs, double read_gbs, double margin);

/* STREAM's rule: a data set under STREAM_LLC_FACTOR x the last-level cache may be served by it. */
#define STREAM_LLC_FACTOR 4

/* True when streamed work cannot be taken as a memory figure: its data set (set_bytes) is under
 * STREAM_LLC_FACTOR x the last-level cache (llc_bytes; no verdict on this ground when 0), or it
 * streamed faster than the read probe allows (read_probe_exceeded with READ_PROBE_MARGIN). A
 * false answer does not prove the data came from memory: a kernel slower than memory even from
 * cache passes both tests. Pure. */
bool streamed_from_cache(double gbs, double read_gbs, double set_bytes, double llc_bytes);

/* The exact sum of the read phase's array (b[j] = (j & 511) / 2) over elements [lo, hi): what
 * its verification expects of each worker's chunk and of the whole. */
double triad_read_sum_want(size_t lo, size_t hi);

#endif
