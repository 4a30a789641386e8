/* The registry of workloads `gencost run` knows. Add a workload: one extern line, one entry. */
#include <string.h>
#include "bench/workload.h"

extern const gc_workload wl_triad;
extern const gc_workload wl_llm;
extern const gc_workload wl_kernels;
extern const gc_workload wl_image;
extern const gc_workload wl_train;
extern const gc_workload wl_endpoint;

static const gc_workload *const all[] = {
    &wl_triad,
    &wl_llm,
    &wl_kernels,
    &wl_image,
    &wl_train,
    &wl_endpoint,
    NULL,
};

const gc_workload *const *gc_workload_all(void) { return all; }

const gc_workload *gc_workload_find(const char *name) {
    for (int i = 0; all[i]; i++)
        if (!strcmp(all[i]->name, name)) return all[i];
    return NULL;
}
