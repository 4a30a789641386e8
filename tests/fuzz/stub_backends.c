/* The two CPU backends, as the fuzz harnesses link them: listed (a results file names the
 * backends of the build that wrote it, kernels/backend.c keeps the registry) but never
 * available, so the micro-kernels need not be compiled for fuzzing. No parser runs a kernel;
 * a harness that tried to open a backend would get a clear refusal, not a crash. */
#include <stdio.h>
#include "kernels/backend.h"

static bool not_here(char *why, size_t whylen) {
    snprintf(why, whylen, "not linked into the fuzz harnesses (tests/fuzz/stub_backends.c)");
    return false;
}

const gk_backend_desc gk_ref_backend = {.name = "ref", .available = not_here};
const gk_backend_desc gk_cpu_backend = {.name = "cpu", .available = not_here};
