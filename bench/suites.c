/* The suites. Add a workload to one: one line in its table. */
#include <string.h>
#include "bench/suites.h"

/* The default suite is what `make run` runs: a 128-token prompt and 32 new tokens keep it to a
 * couple of minutes on a 2-core laptop-class CPU while still measuring prefill, decode and a
 * whole generation. `full` keeps the llm workload's own defaults (512 + 128). */
static const gc_suite_line default_lines[] = {
    {"triad", NULL, NULL, NULL},
    {"llm", "tinyllama-1.1b", "q4_0,q8_0", "prompt=128,gen=32"},
    {NULL, NULL, NULL, NULL},
};

static const gc_suite_line full_lines[] = {
    {"triad", NULL, NULL, NULL},
    {"llm", "tinyllama-1.1b", "q4_0,q8_0,f16", NULL},
    {"llm", "llama2-7b,llama3-8b,mistral-7b", "q4_0,q8_0", NULL},
    {NULL, NULL, NULL, NULL},
};

static const gc_suite_line smoke_lines[] = {
    {"triad", NULL, NULL, NULL},
    {"llm", "tiny", "q4_0", NULL},
    {NULL, NULL, NULL, NULL},
};

static const gc_suite suite_default = {
    "default", "what `make run` measures on this machine (llm: prompt 128, 32 new tokens, 3 reps)", false, 3,
    default_lines};
static const gc_suite suite_full = {"full", "the default suite plus the large presets", false, 0, full_lines};
static const gc_suite suite_smoke = {"smoke", "everything small and quick (--quick): checks that it all runs",
                                     true, 0, smoke_lines};

static const gc_suite *const all[] = {&suite_default, &suite_full, &suite_smoke, NULL};

const gc_suite *const *gc_suite_all(void) { return all; }

const gc_suite *gc_suite_find(const char *name) {
    for (int i = 0; all[i]; i++)
        if (!strcmp(all[i]->name, name)) return all[i];
    return NULL;
}
