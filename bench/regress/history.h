/* Results history in SQLite: every case of every added results file, with its commit, time,
 * host, parameters, raw samples and statistics; trend queries and a check of a new run against
 * a window of recent history (median and MAD of the last N points).
 *
 * Concurrency: every write is one IMMEDIATE transaction, the database runs in WAL mode and
 * waits up to 30 s for a lock (busy timeout), so two CI jobs adding at once both land whole.
 * Readers (history_open_read: list, show, plot, check) take no write lock: they read in
 * DEFERRED transactions, which WAL lets proceed while another process writes.
 *
 * Series are keyed by gc_case_key (bench/case_id.h), host apart: an avx2 and an avx512 run, or
 * two prompt lengths, are two series. Each point also stores its identity as columns; params
 * and device are NULL where unknown (a schema-1 results file, or a point stored before database
 * version 2).
 *
 * Database versions (PRAGMA user_version): 1 keyed points "workload/preset/quant/backend/
 * threads/phase" and had no params or device columns; 2 adds the columns and keys by
 * gc_case_key. history_open migrates a version-1 database in place, in one transaction: the
 * columns are added (NULL: unknown) and every key is rebuilt from the stored fields with
 * gc_case_key, so old points read "llm/tiny/q4_0/cpu/-/t2/decode". A database of a version
 * above 2 is refused (a newer gencost wrote it).
 *
 * check and a case recorded with device and params: its window is the points of its own series
 * plus those of the same fields whose device and params are unknown (the points from before
 * them), so a history keeps its past across the upgrade. A case whose own device and params are
 * unknown uses its own (coarse) series only: the devices it might have run on are other series.
 */
#ifndef GC_HISTORY_H
#define GC_HISTORY_H
#include <stdbool.h>
#include "bench/regress/compare.h"
#include "bench/results.h"

#define GC_HISTORY_DEFAULT_DB "results/history.db"
#define GC_HISTORY_DB_VERSION 2   /* PRAGMA user_version of the tables history_open makes */

typedef struct gc_history gc_history;

/* Opens for writing (creating file, folders and tables when missing). An empty path is refused
 * (SQLite would open a temporary database that keeps nothing). */
int history_open(const char *path, gc_history **out, gc_err *err);
/* Opens an existing database for reading: no write lock, unless it still needs a migration to
 * GC_HISTORY_DB_VERSION (done once, as history_open does). */
int history_open_read(const char *path, gc_history **out, gc_err *err);
void history_close(gc_history *h);

/* Adds every case of r (source = the file name, kept for reference). A run already stored
 * (same host, commit and start time; without a start time, the same measurements) is skipped:
 * *added = 0. Else *added = cases stored. */
int history_add(gc_history *h, const gc_results *r, const char *source, int *added, gc_err *err);

/* One stored case of one run: throughput statistics (units per second). */
typedef struct gc_hist_point {
    char commit[48], time[32], host[128], status[12], unit[16];
    int n;
    double median, ci_low, ci_high, mad;
    double instructions, work, bytes, flops;   /* work counts per rep; NaN where not recorded */
    bool partial;                              /* device and params unknown (history.h top) */
} gc_hist_point;

/* One series: a case key (gc_case_key: "llm/tiny/q4_0/cpu/avx2/t2/decode?gen=16") on one host. */
typedef struct gc_hist_series {
    char key[GC_CASE_KEY_LEN], host[128], unit[16];
    int n_points;
    char last_commit[48], last_time[32];
    double last_median;
} gc_hist_series;

/* Every series, ordered by key then host. *out is malloc'd. */
int history_series(gc_history *h, gc_hist_series **out, int *n, gc_err *err);

/* Points of one series, oldest first (host NULL: the key on every host). *out is malloc'd. */
int history_points(gc_history *h, const char *key, const char *host, gc_hist_point **out,
                   int *n, gc_err *err);

/* ---- checking against a window of history ---------------------------------------------------- */

typedef struct gc_hist_check_opts {
    int window;          /* last N ok points of each series (default 10) */
    int min_points;      /* fewer → noisy (default 3) */
    double threshold;    /* fraction (default 0.05) */
    double mads;         /* the change must also exceed this many scaled MADs (default 3) */
    bool counts;         /* judge on work counts where recorded (compare --counts' rules) */
    double count_threshold;   /* fraction of instructions per rep (default 0.02) */
} gc_hist_check_opts;

void history_check_defaults(gc_hist_check_opts *o);

typedef struct gc_hist_check {
    char key[GC_CASE_KEY_LEN], host[128], unit[16];
    int n_window;
    int n_partial;                     /* window points without device and params (see top) */
    double hist_median, hist_mad;      /* of the window's point medians; MAD unscaled */
    double new_median, ratio;          /* new / hist_median */
    gc_verdict verdict;                /* same, slower, faster, noisy, broken, work-changed */
    char why[160];
    /* opts.counts: instructions per rep of NEW against the window's median */
    gc_counts_state counts;
    double hist_instructions, new_instructions, ins_ratio;
    gc_verdict time_verdict;           /* the throughput verdict, informational when counts decided */
} gc_hist_check;

/* Verdict of a new median against earlier point medians (any order). Pure: used by check and
 * by the plot's regression marks. */
void history_judge(const double *past, int n_past, double new_median, const gc_hist_check_opts *o,
                   gc_hist_check *c);

/* Checks every case of r against the last o->window points of its series (points from r's own
 * run, if it was already added, are left out). *out is malloc'd. */
int history_check(gc_history *h, const gc_results *r, const gc_hist_check_opts *o,
                  gc_hist_check **out, int *n, gc_err *err);

/* ---- charts -------------------------------------------------------------------------------- */

/* Draws one series with gnuplot into dir as <name>.png and <name>.svg: median over commits with
 * its 95% CI band; points that history_judge finds slower than their preceding window are
 * marked. *files_written counts the images. */
int history_plot(gc_history *h, const gc_hist_series *s, const gc_hist_check_opts *o,
                 const char *dir, int *files_written, gc_err *err);

#endif
