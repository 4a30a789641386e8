/* Energy meters: sampled alongside each timed phase, integrated into joules.
 * Every figure carries its source and whether it was measured or estimated.
 *
 * Meter selection (gc_options.meter, a comma list; NULL or "auto" = every meter found here):
 *   auto | none | rapl | nvml | powermetrics
 *   shelly:http://HOST        Shelly Gen2+ plug: /rpc/Switch.GetStatus?id=0 (apower W, aenergy.total Wh)
 *   tasmota:http://HOST       Tasmota plug: /cm?cmnd=Status%208 (StatusSNS.ENERGY.Power W)
 *   http:URL#json.path        any URL answering JSON with a watts number at json.path
 *                             (dot-separated keys; a number selects an array element)
 *   idle                      measure an idle baseline at start and subtract it
 *   interval=S, timeout=S     HTTP poll interval (default 1 s) and request timeout (default 2 s)
 * HTTP credentials come only from GENCOST_METER_USER / GENCOST_METER_PASSWORD and are never
 * written anywhere. GENCOST_POWERCAP_ROOT overrides /sys/class/powercap (tests); GENCOST_NVML_LIB
 * names the NVML library when it is not libnvidia-ml.so.1 on the loader path.
 * With no measuring meter, gc_options.profile (a host profile) gives an estimate:
 * idle_watts + (active_watts − idle_watts) × the phase's CPU utilisation.
 */
#ifndef GC_ENERGY_H
#define GC_ENERGY_H
#include <stdbool.h>
#include "base/util.h"

struct json_t;
struct gc_options;

#define GC_ENERGY_MAX_SOURCES 8

typedef struct gc_energy_source {
    char name[48];        /* "rapl:package-0", "nvml:0", "shelly", "profile:apple-m1-macbook-air" */
    char kind[12];        /* "measured" or "estimated" */
    double joules;        /* over the timed repetitions (after idle subtraction when done) */
    double avg_watts;
    double idle_watts;    /* measured idle baseline, 0 if none */
    bool idle_subtracted;
    char note[160];       /* e.g. NVML averaging window, permission hint */
} gc_energy_source;

typedef struct gc_energy {
    char source[64];      /* "none" until a meter is active; else the primary source's name */
    char kind[12];        /* "none", "measured", "estimated" */
    double joules;        /* primary source, whole timed span */
    double joules_per_unit;
    int n_sources;
    gc_energy_source src[GC_ENERGY_MAX_SOURCES];
} gc_energy;

typedef struct gc_meters gc_meters;

/* Opens the meters available here (may be none). Never fails the run: problems become notes
 * (printed once on stderr and kept in every case's energy sources). */
gc_meters *energy_open(const struct gc_options *opt);
void energy_close(gc_meters *m);
void energy_begin(gc_meters *m);                               /* timed span starts */
/* Timed span ends: fills e; units = work done in the span, cpu_util = busy fraction. */
void energy_end(gc_meters *m, double seconds, double units, double cpu_util, gc_energy *e);
void energy_none(gc_energy *e);
/* Checks a --meter value without opening anything: 0, or err naming the bad item. */
int energy_check_spec(const char *spec, gc_err *err);

struct json_t *energy_to_json(const gc_energy *e);
int energy_from_json(const struct json_t *j, gc_energy *e, gc_err *err);

/* ---- meters (bench/energy_*.c), one interface ---------------------------------------------- */

typedef struct gc_meter_reading {
    bool has_energy;      /* a cumulative counter (RAPL, NVML total energy) */
    double energy_j;
    double wrap_j;        /* the counter wraps to 0 after this many joules; 0 = never */
    bool has_power;       /* an instantaneous (or driver-averaged) power figure */
    double watts;
} gc_meter_reading;

typedef struct gc_meter gc_meter;
struct gc_meter {
    char name[48];
    char note[160];
    bool primary;         /* counts toward the case's headline joules */
    bool wall;            /* measures the whole machine at the socket */
    double interval_s;    /* how often to sample */
    int (*read)(gc_meter *m, gc_meter_reading *r, gc_err *err);
    void (*close)(gc_meter *m);
    void *impl;
};

/* Each opener appends what it finds to out[*n] (up to max) and returns 0, or fills err with why
 * nothing could be opened (e.g. the RAPL permission fix) and returns -1. */
int meter_rapl_open(const char *root, gc_meter **out, int *n, int max, gc_err *err);
int meter_nvml_open(gc_meter **out, int *n, int max, gc_err *err);
int meter_powermetrics_open(double interval_s, gc_meter **out, int *n, int max, gc_err *err);
/* spec: "shelly:URL", "tasmota:URL" or "http:URL#json.path". */
int meter_http_open(const char *spec, double interval_s, double timeout_s, gc_meter **out, int *n,
                    int max, gc_err *err);

/* Integration of one meter's readings over a span: counter deltas (wrap-aware) when the meter
 * has a counter, else the trapezoid rule over power samples. */
typedef struct gc_meter_acc {
    bool started, have_energy, have_power;
    double t0, t_last, e_last, w_last;
    double joules_counter, joules_power;
    int n_samples, n_errors;
    bool went_backwards; /* a counter fell with no wrap range to explain it: no figure */
    char last_error[128];
} gc_meter_acc;

void meter_acc_start(gc_meter_acc *a, const gc_meter_reading *r, double t);
void meter_acc_add(gc_meter_acc *a, const gc_meter_reading *r, double t);
/* Joules over the span, or < 0 when the meter gave nothing usable (too few samples, or a counter
 * that went backwards without a known wrap range: a reset or a bad meter, never "0 J"). */
double meter_acc_joules(const gc_meter_acc *a);

/* Copies text to out (capacity n) with the query string of every http:// or https:// URL in it
 * (from '?' to the next '#', blank or end) replaced by "?REDACTED": meter URLs may carry tokens,
 * and results files (meter notes, the command line) are shared. */
void energy_redact_urls(const char *text, char *out, size_t n);

/* Parsers shared with tests. */
/* Watts from one plist of `powermetrics -f plist` (processor.combined_power, mW). */
int powermetrics_parse_watts(const char *plist, double *watts);
/* The number at a dot path ("StatusSNS.ENERGY.Power", "a.0.w") of a JSON text; arrays of
 * numbers are summed (Tasmota reports one power per channel). */
int json_path_number(const char *json_text, const char *path, double *out, gc_err *err);

#endif
