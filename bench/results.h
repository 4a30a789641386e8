/* Results files: one JSON document per `gencost run` (schema below), written atomically.
 *
 * Contract (other tools read these files): top level `schema` (int), `gencost_version`,
 * `git_commit`, `complete` (bool), `host` (object with `name`), `build`, `started`, `finished`,
 * `command_line`, `cases` (array). Each case: `workload`, `preset`, `quant`, `backend`,
 * `threads`, `phase`, `unit`, `work_per_rep`, `status` ("ok" | "failed" | "error"), `error`,
 * `samples_s`, `time_s` (stats), `throughput` {median, mean, stddev, mad, min, max, ci95_low,
 * ci95_high, cv}, `high_spread`, `verify` {ok, detail, values{}}, `metrics` {}, `bytes_per_rep`,
 * `flops_per_rep`, `energy` {source, kind, ...}.
 */
#ifndef GC_RESULTS_H
#define GC_RESULTS_H
#include <stdbool.h>
#include "bench/case_id.h"
#include "bench/energy/energy.h"
#include "bench/stats.h"
#include "bench/workload.h"

#define GC_RESULTS_SCHEMA 1

struct json_t;

typedef struct gc_case_result {
    gc_case_id id;              /* what was measured, where (bench/case_id.h) */
    char unit[16];
    double work_per_rep, bytes_per_rep, flops_per_rep;
    char status[12];            /* "ok", "failed" (verification), "error" (could not run) */
    char error[512];
    double *samples_s;          /* owned */
    int n_samples;
    gc_stats time_s;            /* seconds per repetition */
    gc_stats throughput;        /* units per second */
    bool high_spread;
    gc_verify verify;
    gc_metrics metrics;
    gc_energy energy;
} gc_case_result;

typedef struct gc_results {
    int schema;
    char gencost_version[32], git_commit[48];
    bool complete;
    char host_name[128];
    struct json_t *host;        /* owned; the `info --json` object */
    struct json_t *build;       /* owned */
    char started[32], finished[32];
    char *command_line;         /* owned */
    gc_case_result *cases;      /* owned */
    int n_cases, cap_cases;
} gc_results;

void results_init(gc_results *r);             /* empty, schema set, host/build of this machine */
gc_case_result *results_add_case(gc_results *r);   /* zeroed slot appended */
int results_write(const gc_results *r, const char *path, gc_err *err);
/* Reads and validates (schema version, required fields, types). */
int results_read(const char *path, gc_results *r, gc_err *err);
void results_free(gc_results *r);


#endif
