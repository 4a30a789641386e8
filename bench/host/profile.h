/* Host profiles: one INI file per target in hosts/ (hardware facts + a cost model of one kind).
 *
 * Sections and fields (every figure has its source and date in a comment in the file):
 *   [host]        name (required), device, notes
 *   [hardware]    memory_bandwidth_gbs, memory_gb, peak_tflops_fp32, peak_tflops_fp16,
 *                 peak_tops_int8, idle_watts, active_watts, power_source,
 *                 cpu_peak_tflops_fp32, cpu_peak_tops_int8 (the host CPU's own ceilings, for a
 *                 device whose accelerator gencost cannot run on: the M1's GPU)
 *   [cost]        kind = owned | subscription | hourly | api (required), source, as_of (required),
 *                 owned:        purchase_usd, lifetime_years, hours_per_day,
 *                               electricity_usd_per_kwh, grid_gco2_per_kwh,
 *                               amortise (yes | no, default no: the person already owns it, so a
 *                               job costs its electricity; yes adds purchase ÷ lifetime)
 *                 subscription: monthly_usd, units_per_month (included), units_per_hour,
 *                               extra_usd_per_unit (pay-as-you-go price of a unit beyond those
 *                               included; absent: the included units are a hard cap)
 *                 hourly:       usd_per_hour, provider, pricing (on-demand | spot),
 *                               billing_increment_s (default 1: per-second billing)
 *                 subscription and hourly: session_setup_s (seconds billed per session beyond
 *                               the work: start-up, install, model download, idle connection),
 *                               jobs_per_session (jobs one session does; absent: one session a
 *                               month)
 *                 api:          provider, model, and either usd_per_image (an image api) or
 *                               usd_per_m_input_tokens and usd_per_m_output_tokens
 *                 any kind:     grid_gco2_per_kwh (optional except for owned)
 *   [throughput]  (api priced per token) output_tokens_per_s, first_token_s (latency), source;
 *                 (an image api, optional) seconds_per_image: what it takes to return one
 *   [projection]  how a host without results is projected (reports/projection.h), all optional:
 *                 runs_on = cpu | gpu: which ceilings gencost can use (default gpu when the
 *                   profile gives an FP16 peak, else cpu; cpu with a GPU's peaks given needs
 *                   cpu_peak_tflops_fp32 in [hardware]),
 *                 bandwidth_efficiency (share of the datasheet bandwidth decode achieves),
 *                 per_token_s (fixed time per forward pass: kernel launches and syncs),
 *                 compute_efficiency (FP32), compute_efficiency_fp16, compute_efficiency_int8
 *                   (share of that precision's peak; fp16/int8 default to compute_efficiency),
 *                 source and as_of (required when any figure above is given)
 * An unknown field, a bad value, a duplicate or a missing required field is an error naming
 * file:line.
 */
#ifndef GC_PROFILE_H
#define GC_PROFILE_H
#include <stdbool.h>
#include <stdio.h>
#include "base/util.h"

/* Defaults for a profile without calibrated [projection] figures: its projection is then the
 * roofline bound (bandwidth as is, half the compute peak, no per-token time), and the report
 * says it is uncalibrated. */
#define GC_PROJ_BW_EFFICIENCY 1.0
#define GC_PROJ_COMPUTE_EFFICIENCY 0.5

typedef enum gc_cost_kind {
    GC_COST_OWNED,
    GC_COST_SUBSCRIPTION,
    GC_COST_HOURLY,
    GC_COST_API,
} gc_cost_kind;

typedef struct gc_profile {
    char id[64];                 /* file stem: "apple-m1-macbook-air" */
    char path[512];
    char name[128], device[128], notes[192];
    /* hardware; 0 = not given */
    double mem_bw_gbs, mem_gb;
    double peak_tflops_fp32, peak_tflops_fp16, peak_tops_int8;
    double idle_watts, active_watts;
    char power_source[128];
    /* cost */
    gc_cost_kind kind;
    char cost_source[192], as_of[32], provider[64], pricing[16], model[64];
    double purchase_usd, lifetime_years, hours_per_day, usd_per_kwh, gco2_per_kwh;
    double monthly_usd, units_per_month, units_per_hour;
    double usd_per_hour;
    double usd_per_m_input, usd_per_m_output, usd_per_image;
    bool amortise;                 /* owned: charge purchase ÷ lifetime too */
    double extra_usd_per_unit;     /* subscription: 0 = the included units are a cap */
    double billing_increment_s;    /* hourly: 0 read as 1 s */
    double session_setup_s, jobs_per_session;
    /* api throughput, from the profile (not measured) */
    double out_tokens_per_s, first_token_s, seconds_per_image;
    char throughput_source[192];
    /* the host CPU's ceilings, for runs_on = cpu beside an accelerator's; 0 = not given */
    double cpu_peak_tflops_fp32, cpu_peak_tops_int8;
    /* projection */
    double bw_efficiency, compute_efficiency, compute_efficiency_fp16, compute_efficiency_int8;
    double per_token_s;          /* seconds per forward pass beyond the roofline time */
    bool runs_on_cpu;            /* project with the CPU's ceilings */
    bool calibrated;             /* [projection] gave figures (then proj_source, proj_as_of) */
    char proj_source[192], proj_as_of[32];
} gc_profile;

const char *profile_kind_name(gc_cost_kind k);

/* Loads and validates one profile. */
int profile_load(const char *path, gc_profile *p, gc_err *err);
/* Loads every *.ini in dir, sorted by file name; *out is malloc'd (free it). */
int profile_load_dir(const char *dir, gc_profile **out, int *n, gc_err *err);
/* Finds a profile by id in the array, NULL if none. */
const gc_profile *profile_find(const gc_profile *p, int n, const char *id);

/* Writes a profile for this machine (owned kind) to f: facts read here, and figures gencost cannot
 * know (purchase price, hours of use) as commented defaults for the owner to edit. */
int profile_write_local(FILE *f, gc_err *err);

#endif
