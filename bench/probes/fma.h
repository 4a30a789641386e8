/* probe_fma: the peak floating-point rate of this machine, measured (not looked up): FP32 fused
 * multiply-adds on every worker thread, with enough independent accumulator chains to hide the
 * FMA latency, in the widest vector width the CPU executes. The compute ceiling of the
 * roofline that the kernels workload reports against, which records the ISA and width measured
 * beside every fraction of it (a peak means nothing without the instructions that reached it). */
#ifndef GC_PROBE_FMA_H
#define GC_PROBE_FMA_H
#include "base/util.h"

typedef struct probe_fma_result {
    double gflops;          /* best of several bursts, 2 flops per FMA lane */
    char isa[16];           /* the ISA measured: "avx512", "avx2", "neon", "scalar" */
    int vector_bits;        /* its vector width: 512, 256, 128, 32 (GC_METRIC_FMA_VECTOR_BITS) */
    int threads;            /* workers that ran */
} probe_fma_result;

/* Runs a short burst (~0.3 s) on `threads` workers (<= 0: all physical cores). isa: NULL for
 * the widest this CPU runs, or a named one ("avx2") that must be present. Non-zero + err on
 * failure. */
int probe_fma(int threads, const char *isa, probe_fma_result *out, gc_err *err);

#endif
