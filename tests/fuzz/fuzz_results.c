/* libFuzzer harness for the results reader (results_read, bench/results.h): a results file is
 * copied in from other machines, so any bytes must be accepted or rejected with a message,
 * never crash, read out of bounds or leak. An accepted file must hold what the contract says
 * (cases with sample counts that match their arrays) and must survive a write and read back
 * with the same cases (count, identities, samples): the writer accepts everything the reader
 * does, so a merged file can always be saved again.
 * Build and run: make fuzz (seeds in tests/fuzz/corpus/results, dictionary results.dict). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench/results.h"
#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const gc_results *r) {
    if (r->n_cases < 0 || r->n_cases > r->cap_cases) __builtin_trap();
    if (r->schema < GC_RESULTS_SCHEMA_MIN || r->schema > GC_RESULTS_SCHEMA) __builtin_trap();
    for (int i = 0; i < r->n_cases; i++) {
        const gc_case_result *c = &r->cases[i];
        if (c->n_samples < 0 || (c->n_samples > 0 && !c->samples_s)) __builtin_trap();
        for (int k = 0; k < c->n_samples; k++) (void)*(volatile double *)&c->samples_s[k];
        if (!memchr(c->status, 0, sizeof c->status) || !memchr(c->error, 0, sizeof c->error))
            __builtin_trap();
        char key[GC_CASE_KEY_LEN];
        gc_case_key(&c->id, key, sizeof key);
    }
}

/* Where accepted inputs are written back: a private folder, in memory where /dev/shm exists. */
static char out_dir[256], out_path[300];
static void remove_out(void) {
    unlink(out_path);
    rmdir(out_dir);
}
static const char *out_file(void) {
    if (!out_path[0]) {
        const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        if (!tmp) tmp = "/tmp";
        snprintf(out_dir, sizeof out_dir, "%s/gencost-fuzz-XXXXXX", tmp);
        if (!mkdtemp(out_dir)) { perror("mkdtemp"); abort(); }
        snprintf(out_path, sizeof out_path, "%s/results.json", out_dir);
        atexit(remove_out);
    }
    return out_path;
}

/* Written and read back, an accepted file keeps its cases and their identities. */
static void round_trip(const gc_results *r) {
    gc_err err = {{0}};
    if (results_write(r, out_file(), &err)) __builtin_trap();
    gc_results back;
    if (results_read(out_path, &back, &err)) __builtin_trap();
    if (back.n_cases != r->n_cases || back.schema != r->schema) __builtin_trap();
    for (int i = 0; i < r->n_cases; i++) {
        char a[GC_CASE_KEY_LEN], b[GC_CASE_KEY_LEN];
        gc_case_key(&r->cases[i].id, a, sizeof a);
        gc_case_key(&back.cases[i].id, b, sizeof b);
        if (strcmp(a, b) || back.cases[i].n_samples != r->cases[i].n_samples) __builtin_trap();
    }
    results_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gc_results r;
    gc_err err = {{0}};
    if (results_read(fuzz_as_file(data, size), &r, &err)) {
        if (!err.msg[0]) __builtin_trap();   /* a rejection always says why */
        return 0;
    }
    check_accepted(&r);
    round_trip(&r);
    results_free(&r);
    return 0;
}
