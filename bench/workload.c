/* Defaults of `gencost run` options, and the named-number lists workloads report. */
#include <stdio.h>
#include <string.h>
#include "bench/workload.h"

void gc_options_defaults(gc_options *o) {
    memset(o, 0, sizeof *o);
    o->reps = 5;
    o->warmup = 1;
    o->min_time = 1.0;
    o->max_reps = 1000;
    o->seed = 42;
    o->prompt_tokens = 512;
    o->gen_tokens = 128;
    o->kv_depth = 0;          /* 0: the decode phase runs at depth = prompt_tokens */
}

/* A name already present is updated, so a workload may refine a figure; a full list keeps
 * what it has (GC_MAX_KV is far above what any phase reports). */
void gc_kv_add(gc_kv *arr, int *n, int max, const char *name, double value) {
    for (int i = 0; i < *n; i++)
        if (!strncmp(arr[i].name, name, sizeof arr[i].name - 1)) {
            arr[i].value = value;
            return;
        }
    if (*n >= max) return;
    snprintf(arr[*n].name, sizeof arr[*n].name, "%s", name);
    arr[*n].value = value;
    (*n)++;
}

double gc_kv_get(const gc_kv *arr, int n, const char *name, double absent) {
    for (int i = 0; i < n; i++)
        if (!strncmp(arr[i].name, name, sizeof arr[i].name - 1)) return arr[i].value;
    return absent;
}
