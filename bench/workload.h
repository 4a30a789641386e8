/* The workload interface: what `gencost run` measures.
 *
 * The runner expands the case matrix workload × preset × quant × backend × ISA × threads. For
 * each combination it resolves the workload's own parameters (its gc_param table: the value
 * given, or the suite's, or the default) and calls setup() once (load or generate weights,
 * allocate), which declares every phase it can measure (e.g. prefill, decode, generation; or
 * copy, triad) and what runs them (device). The runner alone applies --phases: it never sets up
 * a case none of whose static phase names is asked for, and runs only the phases asked for. For
 * each phase it then calls verify() (the workload proves its output against its reference; a
 * failed check means the phase is never timed), warm-up run()s, timed run()s, then finish() so
 * the workload may add its own metrics, and finally teardown().
 *
 * setup() leaves *state NULL or pointing at a state teardown() can free, also when it fails:
 * the runner calls teardown() whenever *state is not NULL, so a failed setup (a 7B preset that
 * does not fit in memory) never leaks its backends or their pinned pool threads.
 */
#ifndef GC_WORKLOAD_H
#define GC_WORKLOAD_H
#include <stdbool.h>
#include <stddef.h>
#include "base/util.h"

#define GC_MAX_PHASES 64
#define GC_MAX_KV 32
#define GC_MAX_PARAMS 16

typedef struct gc_kv { /* a named number, e.g. {"kl_div", 0.0012} */
    char name[48];
    double value;
} gc_kv;

/* Options of one `gencost run` that every workload shares; a workload's own options are its
 * gc_param table. */
typedef struct gc_options {
    int reps;           /* minimum timed repetitions (default 5) */
    int warmup;         /* warm-up runs (default 1) */
    double min_time;    /* minimum seconds of timed repetitions per phase (default 1.0) */
    int max_reps;       /* safety cap on repetitions (default 1000) */
    bool quick;         /* smaller sizes, fewer reps: for smoke runs */
    bool dry_run;       /* print what would run, run nothing */
    unsigned long seed; /* synthetic weights and inputs (default 42) */
    const char *phases; /* comma list to restrict phases, NULL = all (the runner applies it) */
    bool smt;           /* allow SMT siblings when pinning threads */
    /* energy */
    const char *meter;   /* energy meter selection, NULL = auto */
    const char *profile; /* host profile INI to read for estimated energy (--host-profile), NULL = none */
} gc_options;

void gc_options_defaults(gc_options *o);

/* ---- a workload's own parameters ---------------------------------------------------------- */

typedef enum { GC_PARAM_INT, GC_PARAM_DOUBLE, GC_PARAM_STRING } gc_param_kind;

/* One parameter a workload takes: `gencost run --NAME VALUE`, shown in `run --help` and `list`,
 * and recorded with its effective value in every case (gc_case_id.params). Tables end with an
 * entry whose name is NULL. Declare entries with designated initialisers. */
typedef struct gc_param {
    const char *name; /* "prompt": the option --prompt and the key in the case's params */
    gc_param_kind kind;
    double lo, hi;       /* INT/DOUBLE: the range, inclusive */
    const char *choices; /* STRING: comma list of the values allowed; NULL = any */
    const char *def;     /* the default as text; NULL = absent unless given */
    /* optional: a preset's own default instead of def (NULL: def), e.g. a model's native image
     * size; the text is copied at once, so it may live in a static buffer */
    const char *(*def_for)(const char *preset);
    const char *same_as; /* INT: absent or 0 means the effective value of this other parameter */
    long quick_max;      /* INT: --quick caps the default at this (a value given is kept); 0 = no cap */
    bool names_preset;   /* a model file: it is the case's preset (its base name); not in params,
                          * --preset is refused with it, and the quant axis defaults to "native" */
    bool output_only;    /* where the case writes things (a folder), not what it measures: not in
                          * the case's identity (params), so it never splits a job in reports */
    const char *alias;   /* an older option spelling accepted for it (without the "--") */
    const char *metavar; /* "P", "FILE" */
    const char *help;    /* one line; the default and the --quick cap are added when shown */
    int (*check)(const char *value, gc_err *err); /* optional: a deeper check (a file's contents) */
} gc_param;

/* Effective values of one workload's parameters, parallel to its table. */
typedef struct gc_param_values {
    char *v[GC_MAX_PARAMS]; /* text of params[i]; NULL when absent */
} gc_param_values;

int gc_param_count(const gc_param *t); /* entries before the terminator */
/* Its help line for `run --help` and `list`: "prompt tokens (default 512; 64 with --quick)". */
void gc_param_help(const gc_param *p, char *buf, size_t n);
int gc_param_find(const gc_param *t, const char *name); /* index, or -1 */
/* The effective values: given[i] (text the caller has checked; NULL = not given; given may be
 * NULL) or the default, then same_as, then the --quick cap. Non-zero + err (out of memory). */
int gc_params_resolve(const gc_param *t, const char *const *given, bool quick, gc_param_values *out,
                      gc_err *err);
/* The same for a case of this preset (NULL: none): its def_for defaults. */
int gc_params_resolve_for(const gc_param *t, const char *const *given, bool quick, const char *preset,
                          gc_param_values *out, gc_err *err);
void gc_param_values_free(gc_param_values *v);
/* The canonical "name=value,..." string of the recorded values (names_preset ones left out),
 * through gc_params_set (bench/case_id.h). Non-zero + err when a value cannot be recorded. */
int gc_params_canonical(const gc_param *t, const gc_param_values *v, char *buf, size_t n, gc_err *err);

/* One combination of the matrix, as given to setup(). */
typedef struct gc_case {
    const char *workload;
    const char *preset;  /* "-" when the workload has none */
    const char *quant;   /* "-" when the workload has none */
    const char *backend; /* "cpu", "cuda", ... */
    const char *isa;     /* CPU micro-kernel set asked for ("avx2"); NULL = the best this CPU runs */
    int threads;
    const gc_param *params;    /* the workload's table (may be NULL: none) */
    const char *const *values; /* effective values, parallel to params */
    const gc_options *opt;
} gc_case;

/* A parameter's effective value, by name: the text (NULL when absent or not declared), or the
 * number (`absent` when absent, not declared or not a number). */
const char *gc_case_param(const gc_case *c, const char *name);
long gc_case_param_int(const gc_case *c, const char *name, long absent);

/* A phase the workload measures, declared by setup(). */
typedef struct gc_phase {
    char name[64];        /* "prefill", "decode", "generation", "copy", "matvec-4096x4096" */
    char unit[16];        /* one unit of work: "token", "generation", "GB", "GFLOP" */
    double work_per_rep;  /* units of work in one run() */
    double bytes_per_rep; /* bytes moved per run(), 0 if not modelled (deterministic counts) */
    double flops_per_rep; /* floating-point/integer ops per run(), 0 if not modelled */
} gc_phase;

/* What setup() declares: every phase it can measure and what runs its ops. */
typedef struct gc_setup_out {
    gc_phase phases[GC_MAX_PHASES];
    int n_phases;
    char device[64]; /* recorded as gc_case_id.device: the CPU micro-kernel set (gk_backend.isa),
                      * the GPU's name (device_name); gc_device_of() fills it from a backend */
} gc_setup_out;

struct gk_backend;
/* What ran the ops of backend be, for gc_setup_out.device. */
void gc_device_of(const struct gk_backend *be, char *buf, size_t n);

/* setup() returns GC_SETUP_UNSUPPORTED (err saying why) when the backend cannot run the case:
 * an op, or an operand type, it does not support (gk_backend_supports). The runner records the
 * case as "skipped" with that reason, does not count it as a failure, and goes on; nothing is
 * allocated for an op that would only fail inside the case. */
#define GC_SETUP_UNSUPPORTED 3

/* One op a case will call, with its operand types in the op's argument order (kernels/backend.h). */
typedef struct gc_op_need {
    int op; /* gk_op */
    int types[4];
    int n_types;
} gc_op_need;
/* 0 when backend be supports every need; else GC_SETUP_UNSUPPORTED with err naming the workload,
 * the backend, the op and the backend's reason. */
int gc_require_ops(struct gk_backend *be, const char *workload, const gc_op_need *needs, int n, gc_err *err);

typedef struct gc_verify {
    bool ok;
    char detail[256];      /* one line: what was checked and how it came out */
    gc_kv vals[GC_MAX_KV]; /* the numbers checked, e.g. max_rel_err, tolerance, top1_agree */
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
    const char *const *presets;  /* NULL-terminated; first is the default; NULL = none ("-") */
    const char *const *quants;   /* NULL-terminated; first is the default; NULL = none ("-") */
    const char *const *backends; /* NULL-terminated backends it can run on */
    const gc_param *params;      /* its own options (see gc_param); NULL = none */
    /* The phase names setup() can declare, NULL-terminated, when they do not depend on the case;
     * NULL = known only after setup. Lets the runner skip a case --phases leaves nothing of. */
    const char *const *phases;
    /* Allocates *state and fills out (phases, device). Non-zero + err on failure, *state NULL or
     * freeable by teardown (see the top of this file). */
    int (*setup)(const gc_case *c, void **state, gc_setup_out *out, gc_err *err);
    int (*verify)(void *state, int phase, gc_verify *v, gc_err *err);
    int (*run)(void *state, int phase, gc_err *err); /* one repetition */
    /* Optional: after the timed repetitions; may add metrics. */
    void (*finish)(void *state, int phase, gc_metrics *m);
    /* Optional: --dry-run description of the case (parameters, memory). */
    void (*describe)(const gc_case *c);
    /* Optional: rejects a case that can never run as bad input before anything runs (e.g. a
     * prompt beyond the model's context): non-zero + err. Cheap: no weights, no backend. */
    int (*check_case)(const gc_case *c, gc_err *err);
    void (*teardown)(void *state);
    /* --threads when none is given, e.g. "1,all"; NULL = "all" (every physical core). */
    const char *default_threads;
    bool takes_isa; /* runs CPU micro-kernels: --isa multiplies its cpu-backend cases */
} gc_workload;

/* Registry (bench/workloads.c). */
const gc_workload *gc_workload_find(const char *name);
const gc_workload *const *gc_workload_all(void); /* NULL-terminated */

#endif
