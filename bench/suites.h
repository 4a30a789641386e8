/* Named suites for `gencost run --suite NAME`: small tables of (workload, presets, quants,
 * backend). A line on a GPU backend runs only where a GPU is present (gc_suite_select), so one
 * suite measures every backend a machine can run: the CPU everywhere, the GPU beside it. */
#ifndef GC_SUITES_H
#define GC_SUITES_H
#include <stdbool.h>
#include <stddef.h>

typedef struct gc_suite_line {
    const char *workload;
    const char *presets; /* comma list; NULL = the workload's default preset */
    const char *quants;  /* comma list; NULL = the workload's default quant */
    /* The workload's own parameters the suite chooses so it finishes in reasonable time,
     * "name=value" comma list ("prompt=128,gen=32"); a value the user gives wins. NULL = none. */
    const char *params;
    /* The backend the line runs on; NULL = the workload's first (cpu). A GPU backend's line is
     * left out where no GPU can run it, and wherever the user chose --backend. */
    const char *backend;
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

/* Whether a line needs a GPU (its backend is a GPU backend: cuda). */
bool gc_suite_line_gpu(const gc_suite_line *l);

/* The lines of s that run on a machine with (gpu) or without a GPU, in the suite's order, into
 * out (at most max; the rest are dropped). Returns how many. When GPU lines were left out and
 * note is not NULL, note says so in one line ("" otherwise). */
int gc_suite_select(const gc_suite *s, bool gpu, const gc_suite_line **out, int max, char *note, size_t note_n);

/* Whether a GPU backend can run here (compiled in and a device usable); why not, in why. */
bool gc_suite_gpu_here(char *why, size_t why_n);

#endif
