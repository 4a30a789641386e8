/* libFuzzer harness for history rows (bench/regress/history.h): a results file from anywhere is
 * added to a history database, and its rows are read back the ways gencost reads them (every
 * series, every series' points, a check of the same run against the history). Input: a
 * results file (the reader is fuzzed on its own by fuzz_results; here what it accepts becomes
 * rows). The database is in memory (":memory:"), new for every input. Adding the same run twice
 * stores nothing the second time (history.h; a run with a start time), and every stored point
 * is found again.
 * Build and run: make fuzz (seeds in tests/fuzz/corpus/history, dictionary results.dict). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "bench/regress/history.h"
#include "tests/fuzz/fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_back(gc_history *h, const gc_results *r, int added) {
    gc_err err = {{0}};
    gc_hist_series *s = NULL;
    int ns = 0, points = 0;
    if (history_series(h, &s, &ns, &err)) __builtin_trap();   /* rows it just wrote must read */
    for (int i = 0; i < ns; i++) {
        gc_hist_point *p = NULL;
        int np = 0;
        if (history_points(h, s[i].key, s[i].host, &p, &np, &err)) __builtin_trap();
        if (np != s[i].n_points) __builtin_trap();
        points += np;
        free(p);
    }
    free(s);
    if (points != added) __builtin_trap();
    gc_hist_check_opts o;
    history_check_defaults(&o);
    gc_hist_check *c = NULL;
    int nc = 0;
    if (history_check(h, r, &o, &c, &nc, &err) == 0) free(c);
    o.counts = true;
    c = NULL;
    if (history_check(h, r, &o, &c, &nc, &err) == 0) free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gc_results r;
    gc_err err = {{0}};
    if (results_read(fuzz_as_file(data, size), &r, &err)) return 0;
    gc_history *h = NULL;
    if (history_open(":memory:", &h, &err)) __builtin_trap();
    int added = 0, again = 0;
    if (history_add(h, &r, "fuzz.json", &added, &err) == 0) {
        read_back(h, &r, added);
        /* The same file added again is the same run (a file without a start time is known by a
         * hash of what it measured): nothing is stored twice. */
        if (history_add(h, &r, "fuzz.json", &again, &err) == 0 && again != 0)
            __builtin_trap();
    }
    history_close(h);
    results_free(&r);
    return 0;
}
