/* The workload interface: what `gencost run` measures.
 *
 * The runner expands the case matrix workload × preset × quant × backend × threads. For each
 * combination it calls setup() once (load or generate weights, allocate), which declares the
 * phases it measures (e.g. prefill, decode, generation; or copy, triad). For each phase the
 * runner then calls verify() (the workload proves its output against its reference; a failed
 * check means the phase is never timed), warm-up run()s, timed run()s, then finish() so the
 * workload may add its own metrics, and finally teardown().
 */
#ifndef GC_WORKLOAD_H
#define GC_WORKLOAD_H
#include <stdbool.h>
#include "base/util.h"

#define GC_MAX_PHASES 64
#define GC_MAX_KV 32

typedef struct gc_kv {          /* a named number, e.g. {"kl_div", 0.0012} */
    char name[48];
    double value;
} gc_kv;

/* Options of one `gencost run`, shared by all workloads (each reads what concerns it). */
typedef struct gc_options {
    int reps;              /* minimum timed repetitions (default 5) */
    int warmup;            /* warm-up runs (default 1) */
    double min_time;       /* minimum seconds of timed repetitions per phase (default 1.0) */
    int max_reps;          /* safety cap on repetitions (default 1000) */
    bool quick;            /* smaller sizes, fewer reps: for smoke runs */
    bool dry_run;          /* print what would run, run nothing */
    unsigned long seed;    /* synthetic weights and token ids (default 42) */
    /* llm */
    int prompt_tokens;     /* P, default 512 */
    int gen_tokens;        /* N, default 128 */
    int kv_depth;          /* KV depth for the decode phase (default = P) */
    const char *model_path;/* --model FILE.gguf, NULL for presets */
    const char *kv_type;   /* "f32", "f16", "q8_0"; NULL = workload default */
    const char *phases;    /* comma list to restrict phases, NULL = all */
    bool smt;              /* allow SMT siblings when pinning threads */
    /* energy */
    const char *meter;     /* energy meter selection, NULL = auto */
    const char *profile;   /* host profile INI for estimated energy, NULL = none */
} gc_options;

void gc_options_defaults(gc_options *o);

/* One combination of the matrix, as given to setup(). */
typedef struct gc_case {
    const char *workload;
    const char *preset;    /* "-" when the workload has none */
    const char *quant;     /* "-" when the workload has none */
    const char *backend;   /* "cpu", "cuda", ... */
    int threads;
    const gc_options *opt;
} gc_case;

/* A phase the workload measures, declared by setup(). */
typedef struct gc_phase {
    char name[64];          /* "prefill", "decode", "generation", "copy", "matvec-4096x4096" */
    char unit[16];          /* one unit of work: "token", "generation", "GB", "GFLOP" */
    double work_per_rep;    /* units of work in one run() */
    double bytes_per_rep;   /* bytes moved per run(), 0 if not modelled (deterministic counts) */
    double flops_per_rep;   /* floating-point/integer ops per run(), 0 if not modelled */
} gc_phase;

typedef struct gc_verify {
    bool ok;
    char detail[256];       /* one line: what was checked and how it came out */
    gc_kv vals[GC_MAX_KV];  /* the numbers checked, e.g. max_rel_err, tolerance, top1_agree */
    int n_vals;
} gc_verify;

/* Extra figures a workload reports for a timed phase (peak RSS, KV bytes, KL divergence, …). */
typedef struct gc_metrics {
    gc_kv vals[GC_MAX_KV];
    int n_vals;
} gc_metrics;

void gc_kv_add(gc_kv *arr, int *n, int max, const char *name, double value);
/* The value named name, or `absent` when the list has none. */
double gc_kv_get(const gc_kv *arr, int n, const char *name, double absent);

typedef struct gc_workload {
    const char *name;
    const char *description;
    const char *const *presets;   /* NULL-terminated; first is the default; NULL = none ("-") */
    const char *const *quants;    /* NULL-terminated; first is the default; NULL = none ("-") */
    const char *const *backends;  /* NULL-terminated backends it can run on */
    /* Allocates *state and fills phases[0..*n_phases). Non-zero + err on failure. */
    int (*setup)(const gc_case *c, void **state, gc_phase *phases, int *n_phases, gc_err *err);
    int (*verify)(void *state, int phase, gc_verify *v, gc_err *err);
    int (*run)(void *state, int phase, gc_err *err);   /* one repetition */
    /* Optional: after the timed repetitions; may add metrics. */
    void (*finish)(void *state, int phase, gc_metrics *m);
    /* Optional: --dry-run description of the case (parameters, memory). */
    void (*describe)(const gc_case *c);
    void (*teardown)(void *state);
    /* --threads when none is given, e.g. "1,all"; NULL = "all" (every physical core). */
    const char *default_threads;
    bool takes_model;             /* accepts --model FILE (then the file names the preset axis) */
} gc_workload;

/* Registry (bench/workloads.c). */
const gc_workload *gc_workload_find(const char *name);
const gc_workload *const *gc_workload_all(void);   /* NULL-terminated */

#endif
