/* Energy meters: sampled alongside each timed phase, integrated into joules.
 * Every figure carries its source and whether it was measured or estimated. */
#ifndef GC_ENERGY_H
#define GC_ENERGY_H
#include <stdbool.h>
#include "bench/util.h"

struct json_t;
struct gc_options;

#define GC_ENERGY_MAX_SOURCES 4

typedef struct gc_energy_source {
    char name[48];        /* "rapl:package-0", "nvml:0", "shelly", "profile:apple-m1-macbook-air" */
    char kind[12];        /* "measured" or "estimated" */
    double joules;        /* over the timed repetitions */
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

/* Opens the meters available here (may be none). Never fails the run: problems become notes. */
gc_meters *energy_open(const struct gc_options *opt);
void energy_close(gc_meters *m);
void energy_begin(gc_meters *m);                               /* timed span starts */
/* Timed span ends: fills e; units = work done in the span, cpu_util = busy fraction. */
void energy_end(gc_meters *m, double seconds, double units, double cpu_util, gc_energy *e);
void energy_none(gc_energy *e);

struct json_t *energy_to_json(const gc_energy *e);
int energy_from_json(const struct json_t *j, gc_energy *e, gc_err *err);

#endif
