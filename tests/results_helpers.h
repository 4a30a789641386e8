/* Test helpers for reading a case of a results file: a named metric or verification value,
 * NAN when the case has none of that name. */
#ifndef GC_TESTS_RESULTS_HELPERS_H
#define GC_TESTS_RESULTS_HELPERS_H
#include <math.h>
#include <string.h>

#include "bench/results.h"

static inline double th_metric(const gc_case_result *c, const char *name) {
    for (int i = 0; i < c->metrics.n_vals; i++)
        if (!strcmp(c->metrics.vals[i].name, name)) return c->metrics.vals[i].value;
    return NAN;
}

static inline double th_verify_value(const gc_case_result *c, const char *name) {
    for (int i = 0; i < c->verify.n_vals; i++)
        if (!strcmp(c->verify.vals[i].name, name)) return c->verify.vals[i].value;
    return NAN;
}

#endif
