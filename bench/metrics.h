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
/* The read-only stream probe (GB/s, 8 bytes per double read): the memory ceiling of work that
 * only reads its data (decode, matrix-vector); and a phase's data set over the last-level
 * cache (>= 4 streams from memory). */
#define GC_METRIC_READ_GBS "read_gbs"
#define GC_METRIC_READ_VECTOR_BITS "read_vector_bits"   /* its loads: 512 (AVX-512), else 128 */
#define GC_METRIC_FOOTPRINT_OVER_LLC "footprint_over_llc"
/* The fraction of a phase's ceiling it reached: kernels' matvec against the read probe, its
 * matmul against the FMA peak; llm decode against triad ÷ weight bytes per token (kept as it
 * was) and, the decode ceiling proper, weight bytes per token × token/s ÷ read GB/s. */
#define GC_METRIC_ROOFLINE_FRACTION "roofline_fraction"
#define GC_METRIC_READ_ROOFLINE_FRACTION "read_roofline_fraction"
#define GC_METRIC_READ_ROOFLINE_TOKENS_PER_S "read_roofline_tokens_per_s"
/* kernels: 1 when a matvec phase is no memory figure (streamed_from_cache, bench/probes/triad.h):
 * its set was under 4x the last-level cache, or it passed the read probe of the same run by more
 * than the margin (then above_read_probe is 1 too); else 0. */
#define GC_METRIC_FROM_CACHE "from_cache"
#define GC_METRIC_ABOVE_READ_PROBE "above_read_probe"
/* The FP32 FMA peak probe (GFLOP/s) and the vector width it ran (512 avx512, 256 avx2, 128
 * neon, 32 scalar), so a fraction of it names the ISA it was held to. */
#define GC_METRIC_FMA_PEAK_GFLOPS "fma_peak_gflops"
#define GC_METRIC_FMA_VECTOR_BITS "fma_peak_vector_bits"
/* Hardware instruction count of one repetition (perf), for `compare --counts` and history. */
#define GC_METRIC_INSTRUCTIONS "instructions_per_rep"

/* endpoint (an OpenAI-compatible API measured from its client), per concurrency phase: the
 * level, and latency distributions in seconds, each written as NAME_median, NAME_p90 and
 * NAME_p99 (GC_METRIC_EP_TTFT "_median"); output tokens/s of one request (median) and of all
 * requests together. Its verification values: the usage the server counted for a whole
 * (unstreamed) request, which a report prices an api's tokens at. */
#define GC_METRIC_EP_CONCURRENCY "concurrency"
#define GC_METRIC_EP_TTFT "ttft_s"
#define GC_METRIC_EP_ITL "itl_s"
#define GC_METRIC_EP_E2E "e2e_s"
#define GC_METRIC_EP_REQUEST_TPS "request_tokens_per_s_median"
#define GC_METRIC_EP_AGGREGATE_TPS "aggregate_tokens_per_s"
#define GC_VERIFY_EP_PROMPT_TOKENS "prompt_tokens_whole"
#define GC_VERIFY_EP_COMPLETION_TOKENS "completion_tokens_whole"

#endif
