/* Named suites for `gencost run --suite NAME`: small tables of (workload, presets, quants). */
#ifndef GC_SUITES_H
#define GC_SUITES_H
#include <stdbool.h>

typedef struct gc_suite_line {
    const char *workload;
    const char *presets;      /* comma list; NULL = the workload's default preset */
    const char *quants;       /* comma list; NULL = the workload's default quant */
} gc_suite_line;

typedef struct gc_suite {
    const char *name;
    const char *description;
    bool quick;               /* implies --quick */
    /* Sizes the suite chooses so it finishes in reasonable time; a flag the user gives wins.
     * 0 leaves the workload's own default. */
    int prompt_tokens, gen_tokens, reps;
    const gc_suite_line *lines;   /* ends with a line whose workload is NULL */
} gc_suite;

/* NULL-terminated; the first is what `gencost run` runs when no --workload is given. */
const gc_suite *const *gc_suite_all(void);
const gc_suite *gc_suite_find(const char *name);

#endif
