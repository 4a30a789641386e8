/* Inside `gencost report` (not a public surface): the merged model of hosts and figures that the
 * table, chart and file writers share. Built by report_model.c (and report_endpoint.c). */
#ifndef GC_REPORT_MODEL_H
#define GC_REPORT_MODEL_H
#include <stdbool.h>
#include <stdio.h>
#include "reports/cost.h"
#include "bench/case_id.h"
#include "bench/host/profile.h"
#include "reports/report.h"
#include "bench/results.h"

#define RP_MAX_HOSTS 32

typedef enum rp_how { RP_MEASURED, RP_PROJECTED, RP_PROFILE } rp_how;   /* PROFILE: api figures */

typedef struct rp_host {
    char label[80];            /* profile id, or the results' host name */
    char name[128];            /* display name */
    const gc_profile *prof;    /* NULL when measured without a profile */
    bool measured;
    double meas_bw_gbs;        /* best triad/copy figure of its results, 0 if none */
    double meas_read_gbs;      /* best read-only stream its workloads probed (read_gbs), 0 if none */
    double meas_fma_gflops;    /* its CPU's FP32 FMA peak as probed (fma_peak_gflops), 0 if none */
    char files[256];           /* results files it came from */
    /* An API measured by the endpoint workload (RP_ENDPOINT): the host is the API, its rows
     * timed from a client machine, client, whose own facts and energy are not the API's. Tied to
     * an api profile (RESULTS=PROFILE) it is priced per measured token; untied, not priced. */
    bool endpoint;
    char client[128];
    bool forced;               /* tied to a profile its host facts do not fit (--force-profile) */
    char forced_why[200];
} rp_host;

/* A results file merged, to refuse the same one twice. */
#define RP_MAX_INPUTS 64
typedef struct rp_input {
    char path[512], host[128], started[32], finished[32];
    unsigned long long dev, ino;
} rp_input;

/* The job a training step is priced as: a million trained tokens (the train workload's step
 * phase, its tokens per second divided by 10⁶). */
#define RP_TRAIN_PHASE "1m-tokens"
#define RP_TRAIN_UNIT "Mtoken"

/* The endpoint workload (bench/endpoint): an OpenAI-compatible API timed from its client, one
 * phase per concurrency level ("c1", "c4", ...). Its phases are jobs of their own ("endpoint:
 * 512-token prompt + 128 new tokens at concurrency 4"); tied to an api profile whose model an llm
 * job of the same prompt and new tokens ran, its lowest level also stands for that api in the
 * llm job (a row of workload llm, quant "-", backend RP_ENDPOINT), measured. */
#define RP_ENDPOINT "endpoint"

/* An endpoint phase's latencies (seconds; [0] median, [1] p90, [2] p99; < 0 not recorded) and
 * output tokens/s, per request (median) and of all requests together (0 not recorded). */
typedef struct rp_latency {
    int concurrency;           /* 0: not an endpoint row */
    double ttft[3], itl[3], e2e[3];
    double request_tps, aggregate_tps;
} rp_latency;

/* One figure: a phase of a case on a host (measured), or projected/stated for a host. */
typedef struct rp_row {
    int host;
    rp_how how;
    gc_case_id id;             /* the case (bench/case_id.h); projected: backend "-", threads 0 */
    char unit[16];
    double tput, lo, hi, cv;   /* units per second: median and 95% CI (measured) */
    int n;
    bool high_spread;
    double work_per_rep, bytes_per_rep, flops_per_rep;
    double j_per_unit;         /* < 0 unknown */
    char e_kind[12], e_source[64];
    char basis[256];           /* how a projected/stated figure was obtained */
    /* projected rows (reports/projection.h): tput the calibrated estimate, lo = tput, hi = bound
     * the roofline rate (datasheet ceilings); calib names the calibration's source and date */
    double bound;
    char calib[160];
    double prompt_tokens, gen_tokens;   /* generation shape (llm, GC_METRIC_*), 0 unknown; endpoint:
                                         * the server's usage counts (what an api charges) */
    rp_latency lat;            /* endpoint rows */
    bool best;                 /* fastest row of its job on its host */
} rp_row;

/* A job: the work of a case wherever it ran (workload, preset, params, quant, phase), compared
 * across hosts (each host's fastest configuration of backend, device and threads). */
typedef struct rp_job {
    gc_case_id id;             /* backend and device "", threads 0 */
    char key[GC_CASE_KEY_LEN]; /* gc_job_key: "llm/tinyllama-1.1b/q4_0/generation?gen=128,prompt=512" */
    char unit[16];
    bool costed;               /* unit is a generation, image or step */
    int best[RP_MAX_HOSTS];    /* row index per host, -1 none */
    gc_job_cost cost[RP_MAX_HOSTS];
    bool has_cost[RP_MAX_HOSTS];
    char cost_note[RP_MAX_HOSTS][96];
} rp_job;

typedef struct rp_model {
    gc_profile *profs;
    int n_profs;
    gc_profile extra[RP_MAX_HOSTS];   /* profiles named by path on the command line */
    int n_extra;
    rp_host hosts[RP_MAX_HOSTS];
    int n_hosts;
    rp_row *rows;
    int n_rows, cap_rows;
    rp_job *jobs;
    int n_jobs;
    int baseline;                     /* host index, -1 none */
    bool any_costed;                  /* some job has generation-like units */
    char shape_note[160];             /* how P and N were known for api pricing */
    double volumes[GC_REPORT_MAX_VOLUMES];   /* jobs per month the costs are shown at */
    int n_volumes;
    bool amortise, force_profile;
    rp_input inputs[RP_MAX_INPUTS];
    int n_inputs;
} rp_model;

/* o: hosts_dir (default "hosts"), baseline, volumes, amortise, force_profile. */
int rp_model_build(rp_model *m, char *const *inputs, int n, const gc_report_opts *o, gc_err *err);
void rp_model_free(rp_model *m);

const char *rp_how_name(rp_how h);
/* Whether a results file's host facts (`info --json`) fit a profile's device: 1 yes, 0 no (why
 * says what differs), -1 the file carries no facts to compare. host_match.c */
int rp_profile_fits(const struct json_t *host, const gc_profile *p, char *why, size_t n);
/* Records a results file; an error when the same file or the same run was given before. */
int rp_input_seen(rp_model *m, const char *path, const gc_results *res, gc_err *err);
bool rp_host_projected(const rp_model *m, int h);   /* profile, no results, not an api */
/* "apple-m1-macbook-air (projected)" etc. */
void rp_host_tag(const rp_model *m, int h, char *buf, size_t n);
/* Peak ops/s a profile offers for a quant type, and which figure it used. */
double rp_peak_flops(const gc_profile *p, const char *quant, const char **which);
/* Bandwidth ceiling of a host (GB/s): profile, else measured triad; 0 when unknown. */
double rp_host_bw(const rp_model *m, int h);

/* The answer first (report_summary.c): per costed job, what one job is, the fastest target,
 * the cheapest at each volume, the least energy, and how many figures were measured. */
void rp_summary_md(FILE *f, const rp_model *m);
void rp_summary_html(FILE *f, const rp_model *m);
/* A case's parameter as recorded, else its workload's default (results may leave defaults out);
 * buf untouched when neither. */
void rp_param_or_default(const gc_case_id *id, const char *name, char *b, size_t n);
/* "tinyllama-1.1b q4_0: one generation = 128-token prompt + 32 new tokens". */
void rp_job_title(const rp_model *m, const rp_job *job, char *b, size_t n);
/* The volumes (jobs a month) costs are shown at: the user's, else 100, 1,000 and 10,000. */
int rp_volumes(const rp_model *m, double *out);
/* Numbers for people: 3 significant digits, thousands grouped ("12,300", "4.56"); dollars
 * the same way with a "$" and no scientific notation ("$9.99", "$0.0123"). */
void rp_fmt_num(char *b, size_t n, double x);
void rp_fmt_usd(char *b, size_t n, double x);

/* Targets of a job (targets.c): the hosts priced for it (its own cost, or an api standing in
 * for its model: an llm generation of the same preset and parameters, the api's rows carrying
 * quant "-"). rp_other_cost: host h's cost for job, NULL when h cannot be priced on it. */
const gc_job_cost *rp_other_cost(const rp_model *m, const rp_job *job, int h);
/* The row whose figure host h's cost for job comes from: its own fastest, or the api job standing
 * in for it (so a measured endpoint is marked measured there too); NULL none. */
const rp_row *rp_target_row(const rp_model *m, const rp_job *job, int h);
/* Fills hosts[] and costs[] (RP_MAX_HOSTS each) with the targets; returns how many. */
int rp_job_targets(const rp_model *m, const rp_job *job, int *hosts, const gc_job_cost **costs);
/* The jobs the cost tables cover (costed ones, or all when none is), and the volume views cover
 * (costed ones, each once: an api's own job is shown with the run of its model, not apart). */
bool rp_job_in_cost_tables(const rp_model *m, const rp_job *job);
bool rp_api_job_shown_elsewhere(const rp_model *m, const rp_job *job);
bool rp_job_in_volume_tables(const rp_model *m, const rp_job *job);
/* Whether host h's month includes its purchase when owned: with --amortise, and for an owned
 * machine the results did not measure (one to buy, not one the person has). cost_at_volume also
 * amortises where the profile says amortise = yes. */
bool rp_amortised(const rp_model *m, int h);
/* "measured", "projected", "profile": how the job's time on host h was obtained. */
const char *rp_figure_of(const rp_model *m, const rp_job *job, int h);
/* Two targets' months meeting: below the volume one is cheaper, above it the other. Searched
 * from RP_BE_LO to RP_BE_HI jobs a month; out holds RP_MAX_HOSTS² / 2 entries; sorted by volume. */
#define RP_BE_LO 1.0
#define RP_BE_HI 1e8
typedef struct rp_crossing {
    double volume, monthly_usd;
    int below, above;
} rp_crossing;
int rp_job_crossings(const rp_model *m, const rp_job *job, rp_crossing *out);

/* A table the writers render as Markdown and HTML. */
typedef struct rp_table {
    char title[128];
    char intro[720];
    int ncol;
    const char *head[16];
    char **cells;              /* nrow * ncol, owned */
    int nrow, cap;
} rp_table;

/* Builds every table of the report (caller frees with rp_tables_free). */
int rp_tables_build(const rp_model *m, rp_table **out, int *n);
/* "Projection vs measurement" (tables_projection.c): every measured row of a profiled host beside
 * its projection from that profile, and the error ratio. Appends one table to *ts. */
int rp_table_projection(const rp_model *m, rp_table **ts, int *n);
void rp_tables_free(rp_table *t, int n);
void rp_table_md(FILE *f, const rp_table *t);
void rp_table_html(FILE *f, const rp_table *t);
int rp_write_csv(const rp_model *m, const char *path, gc_err *err);

/* Charts (report_charts.c and chart_*.c): writes data, scripts and NAME.png / NAME.svg under
 * dir. Returns the number of charts made, up to max; 0 with *why filled when gnuplot is missing
 * or failed. name: a fixed base name ("throughput-1", "roofline-int8"), never text from data. */
#define RP_MAX_CHARTS 32
typedef struct rp_chart {
    char name[32];
    char title[160];           /* may name a host or a job */
    char caption[480];         /* how to read it: bars, whiskers, hatching, lines */
} rp_chart;
int rp_charts(const rp_model *m, const char *dir, const char *gnuplot, rp_chart *charts, int max, char *why,
              size_t why_n);

#endif
