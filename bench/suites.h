/* Named suites for `gencost run --suite NAME`: small tables of (workload, presets, quants). */
#ifndef GC_SUITES_H
#define GC_SUITES_H
#include <stdbool.h>

typedef struct gc_suite_line {
    const char *workload;
    const char *presets; /* comma list; NULL = the workload's default preset */
    const char *quants;  /* comma list; NULL = the workload's default quant */
    /* The workload's own parameters the suite chooses so it finishes in reasonable time,
     * "name=value" comma list ("prompt=128,gen=32"); a value the user gives wins. NULL = none. */
    const char *params;
} gc_suite_line;

typedef struct gc_suite {
    const char *name;
    const char *description;
    bool quick;                 /* implies --quick */
    int reps;                   /* --reps unless given; 0 = the default */
    const gc_suite_line *lines; /* ends with a line whose workload is NULL */
} gc_suite;

/* NULL-terminated; the first is what `gencost run` runs when no --workload is given. */
const gc_suite *const *gc_suite_all(void);
const gc_suite *gc_suite_find(const char *name);

#endif
