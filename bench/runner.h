/* The runner: expands a plan (workload lines x presets x quants x backends x ISAs x threads) into
 * cases and measures each: parameters resolved (given, else default) -> setup -> per phase
 * verify -> warm-up -> timed repetitions until both the minimum count and the minimum time are
 * reached -> statistics -> energy -> results file (rewritten atomically after every phase,
 * marked complete at the end). Each case records its identity (bench/case_id.h): its effective
 * parameters, canonical, and the device its backend reports (the micro-kernel set that ran). */
#ifndef GC_RUNNER_H
#define GC_RUNNER_H
#include <stdio.h>
#include "base/util.h"
#include "bench/workload.h"

#define GC_MAX_LIST 32

/* One workload with the values of each matrix axis. Strings are borrowed. */
typedef struct gc_plan_line {
    const gc_workload *wl;
    const char *presets[GC_MAX_LIST];
    int n_presets;
    const char *quants[GC_MAX_LIST];
    int n_quants;
    const char *backends[GC_MAX_LIST];
    int n_backends;
    /* CPU micro-kernel sets ("avx2"); none: the best. Multiplies only the cpu-backend cases of a
     * workload that takes_isa (elsewhere it changes nothing that runs). */
    const char *isas[GC_MAX_LIST];
    int n_isas;
    int threads[GC_MAX_LIST];
    int n_threads;
    /* Values given for wl->params[i] (text already checked; NULL = the default). */
    const char *params[GC_MAX_PARAMS];
} gc_plan_line;

typedef struct gc_plan {
    gc_plan_line lines[GC_MAX_LIST];
    int n_lines;
} gc_plan;

/* Number of cases (combinations) the plan expands to. */
int runner_n_cases(const gc_plan *p);

/* --dry-run: prints every case (and the workload's own description of it) on out. */
void runner_dry_run(const gc_plan *p, const gc_options *opt, FILE *out);

/* Every case's parameters resolved and the workloads' check_case() applied, before anything
 * runs: non-zero + err (one line naming the case) for a case that can never run (bad input). */
int runner_check(const gc_plan *p, const gc_options *opt, gc_err *err);

/* Runs the plan, writing out_path after every phase. Returns the exit status: 0 every case that
 * ran verified and ran (a case --phases leaves no phase of is skipped, not failed), 1 some case
 * failed verification or could not run (setup error, e.g. a micro-kernel set this CPU lacks),
 * 130 interrupted by SIGINT/SIGTERM (file marked incomplete), GC_EXIT_USAGE with err (one line,
 * for the caller to print) when the results file cannot be written at the start or --phases
 * named no phase of any case. Prints the results table on stdout at the end (none when nothing
 * ran). */
int runner_run(const gc_plan *p, const gc_options *opt, const char *out_path, const char *command_line,
               gc_err *err);

#endif
