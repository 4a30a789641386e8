/* The names of every metric that crosses from workloads (and the runner) to compare, history
 * and reports. A workload writes them with gc_kv_add(…, GC_METRIC_X, …); a reader asks for the
 * same name with gc_kv_get. Metrics only one workload reads back itself may stay local strings;
 * anything another layer reads must be named here, so a writer and a reader cannot drift apart
 * (they did: the report once read "new_tokens", which no workload wrote). */
#ifndef GC_METRICS_H
#define GC_METRICS_H

/* llm: the shape of one generation (prompt + new tokens), for cost per generation. */
#define GC_METRIC_PROMPT_TOKENS "prompt_tokens"
#define GC_METRIC_GEN_TOKENS "gen_tokens"
/* llm: weight bytes streamed per decoded token (the bandwidth roofline of decode). */
#define GC_METRIC_WEIGHT_BYTES_PER_TOKEN "weight_bytes_per_token"
/* Any phase: operation count of one repetition when the workload models it. */
#define GC_METRIC_FLOPS_PER_REP "flops_per_rep"
/* Probes: measured memory bandwidth (GB/s) that other phases are set against, and the data
 * set of the triad probe against the last-level cache (a set that fits in cache is no
 * memory figure). */
#define GC_METRIC_TRIAD_GBS "triad_gbs"
#define GC_METRIC_ARRAYS_TOTAL_BYTES "arrays_total_bytes"
#define GC_METRIC_LLC_BYTES "llc_bytes"
/* Hardware instruction count of one repetition (perf), for `compare --counts` and history. */
#define GC_METRIC_INSTRUCTIONS "instructions_per_rep"

#endif
