/* Results files: one JSON document per `gencost run` (schema below), written atomically.
 *
 * Contract (other tools read these files): top level `schema` (int), `gencost_version`,
 * `git_commit`, `complete` (bool), `host` (object with `name`), `build`, `started`, `finished`,
 * `command_line`, `cases` (array). Each case: `workload`, `preset`, `params`, `quant`,
 * `backend`, `device`, `threads`, `phase` (together the case identity, bench/case_id.h), `unit`,
 * `work_per_rep`, `status` ("ok" | "failed" | "error" | "skipped": the backend cannot run it), `error`, `samples_s`, `time_s` (stats),
 * `throughput` {median, mean, stddev, mad, min, max, ci95_low, ci95_high, cv}, `high_spread`,
 * `verify` {ok, detail, values{}}, `metrics` {}, `bytes_per_rep`, `flops_per_rep`,
 * `energy` {source, kind, ...}, `started`, `finished` (UTC ISO-8601 with milliseconds, of the
 * timed repetitions: the span the samples and the energy cover, so an external meter's log can
 * be lined up with it; absent for a case that never timed anything).
 *
 * Top level `environment`: the measurement settings that were set for the run (base/exec.h,
 * gc_measure_env: GENCOST_ISA, CUDA_VISIBLE_DEVICES, ...), name → value strings; {} when none.
 * Optional on reading (older files: none recorded).
 *
 * `params` is an object of the workload's own parameters, name → value, both strings
 * ({"gen": "32", "prompt": "128"}; {} when the workload has none), written sorted by name; in
 * memory it is the canonical string "gen=32,prompt=128". `device` is what ran the ops: the CPU
 * micro-kernel set ("avx2", "avx512") or the GPU's name; "" when unknown. Both are optional on
 * reading (absent: none / unknown).
 *
 * Schema history: 1 had no `params` and no `device`; its files are still read, with both ""
 * (unknown), and keep schema = 1 in memory so compare and history know the identity is partial
 * (and writing such a gc_results back writes schema 1 without them). 2 added them. A schema
 * above GC_RESULTS_SCHEMA is refused: a newer gencost wrote it.
 */
#ifndef GC_RESULTS_H
#define GC_RESULTS_H
#include <stdbool.h>
#include "bench/case_id.h"
#include "bench/energy/energy.h"
#include "bench/stats.h"
#include "bench/workload.h"

#define GC_RESULTS_SCHEMA 2
#define GC_RESULTS_SCHEMA_MIN 1   /* the oldest schema the reader accepts */

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
    char started[32], finished[32]; /* the timed repetitions, UTC ("" when none ran) */
} gc_case_result;

typedef struct gc_results {
    int schema;                 /* of the file read (1 or 2), GC_RESULTS_SCHEMA when built here */
    char gencost_version[32], git_commit[48];
    bool complete;
    char host_name[128];
    struct json_t *host;        /* owned; the `info --json` object */
    struct json_t *build;       /* owned */
    struct json_t *environment; /* owned: measurement settings set for the run (object) */
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
/* Whether r's cases record device and params (schema 2 on); false for schema 1 files, whose
 * case identities are partial (bench/case_id.h). */
bool results_id_complete(const gc_results *r);

#endif
