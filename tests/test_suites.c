/* Suite selection (bench/suites.h): which lines run with and without a GPU, tested without one.
 *  - gc_suite_select with "GPU present" as a parameter: the default suite is triad + llm on the
 *    CPU without a GPU (and a note naming what was left out), and adds kernels + llm on cuda
 *    with one; every suite's CPU lines run either way, its GPU lines only with a GPU;
 *  - the CLI end to end (--dry-run, nothing runs): the default suite's cases on this machine as
 *    gc_suite_gpu_here says, the note on stderr without a GPU, none with --backend cpu. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/suites.h"
#include "tests/helpers.h"

static const char *bin(void) { return th_gencost_bin("build/gencost-test"); }

static const gc_suite_line *const *select_lines(const char *suite, bool gpu, int *n, char *note, size_t nn) {
    static const gc_suite_line *out[32];
    const gc_suite *s = gc_suite_find(suite);
    assert_non_null(s);
    *n = gc_suite_select(s, gpu, out, 32, note, nn);
    return out;
}

static bool is(const gc_suite_line *l, const char *workload, const char *backend) {
    return !strcmp(l->workload, workload) &&
           (backend ? l->backend && !strcmp(l->backend, backend) : l->backend == NULL);
}

static void default_without_gpu(void **st) {
    char note[320];
    int n;
    const gc_suite_line *const *l = select_lines("default", false, &n, note, sizeof note);
    assert_int_equal(n, 4);
    assert_true(is(l[0], "triad", NULL));
    assert_true(is(l[1], "llm", NULL));
    assert_string_equal(l[1]->presets, "tinyllama-1.1b");
    assert_string_equal(l[1]->params, "prompt=128,gen=32");
    assert_true(is(l[2], "image", NULL));   /* one image job, small enough for make run */
    assert_string_equal(l[2]->params, "width=64,steps=4");
    assert_true(is(l[3], "train", NULL));   /* llm.c's CPU reference shape */
    assert_string_equal(l[3]->presets, "llama-124m");
    assert_string_equal(note, "suite default: no GPU here, so its 3 cuda lines (kernels, llm, train) are left out: "
                              "this run measures the CPU only");
}

static void default_with_gpu(void **st) {
    char note[320] = "unchanged";
    int n;
    const gc_suite_line *const *l = select_lines("default", true, &n, note, sizeof note);
    assert_int_equal(n, 7);
    assert_true(is(l[0], "triad", NULL));
    assert_true(is(l[1], "llm", NULL));
    assert_true(is(l[2], "image", NULL));
    assert_true(is(l[3], "train", NULL));
    assert_true(is(l[4], "kernels", "cuda"));   /* the GPU's roofline: bandwidth and compute */
    assert_true(is(l[5], "llm", "cuda"));       /* the same job as on the CPU */
    assert_string_equal(l[5]->presets, l[1]->presets);
    assert_string_equal(l[5]->quants, l[1]->quants);
    assert_string_equal(l[5]->params, l[1]->params);
    assert_true(is(l[6], "train", "cuda"));
    assert_string_equal(l[6]->presets, l[3]->presets);
    assert_string_equal(note, "");
}

/* Every suite: without a GPU exactly its lines without a backend; with one, all of them. */
static void every_suite(void **st) {
    for (const gc_suite *const *s = gc_suite_all(); *s; s++) {
        int total = 0, cpu = 0;
        for (const gc_suite_line *l = (*s)->lines; l->workload; l++, total++) cpu += !gc_suite_line_gpu(l);
        const gc_suite_line *out[32];
        char note[320];
        int n = gc_suite_select(*s, false, out, 32, note, sizeof note);
        assert_int_equal(n, cpu);
        for (int i = 0; i < n; i++) assert_false(gc_suite_line_gpu(out[i]));
        assert_int_equal(note[0] != 0, cpu < total);
        assert_int_equal(gc_suite_select(*s, true, out, 32, NULL, 0), total);
    }
}

/* The smoke suite has one GPU line: the note's singular; max cuts the list, not the count of
 * what was left out. */
static void smoke_and_max(void **st) {
    char note[320];
    const gc_suite_line *out[1];
    int n = gc_suite_select(gc_suite_find("smoke"), false, out, 1, note, sizeof note);
    assert_int_equal(n, 1);
    assert_true(is(out[0], "triad", NULL));
    assert_string_equal(note, "suite smoke: no GPU here, so its 1 cuda line (llm) is left out: "
                              "this run measures the CPU only");
    assert_false(gc_suite_line_gpu(&(gc_suite_line){"llm", NULL, NULL, NULL, "cpu"}));
    assert_true(gc_suite_line_gpu(&(gc_suite_line){"llm", NULL, NULL, NULL, "cuda"}));
}

/* Case lines of a dry run ("[2/4] triad cpu t=2") on this backend. */
static int count_cases(const char *out, const char *backend) {
    char *copy = strdup(out), *save = NULL, pat[32];
    assert_non_null(copy);
    snprintf(pat, sizeof pat, " %s t=", backend);
    int n = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        n += line[0] == '[' && strstr(line, pat) != NULL;
    free(copy);
    return n;
}

/* What `gencost run` (the default suite) plans here: 2 triad + 2 llm + 1 image + 1 train cases on
 * the CPU; with a GPU also 2 kernels + 2 llm + 1 train on cuda, else a note. */
static void cli_default_here(void **st) {
    char why[256] = "";
    bool gpu = gc_suite_gpu_here(why, sizeof why);
    th_proc p;
    assert_int_equal(th_run(&p, bin(), (const char *const[]){"run", "--dry-run", NULL}, (th_io){0}, 60), 0);
    assert_int_equal(count_cases(p.out, "cpu"), 6);
    assert_int_equal(count_cases(p.out, "cuda"), gpu ? 5 : 0);
    if (gpu) {
        assert_null(strstr(p.err, "no GPU here"));
    } else {
        char want[400];
        snprintf(want, sizeof want, "note: suite default: no GPU here, so its 3 cuda lines (kernels, llm, train) are left "
                 "out: this run measures the CPU only (%s)\n", why);
        assert_string_equal(p.err, want);
    }
    th_free(&p);
    /* --backend chooses the backends: no GPU lines, no note. */
    assert_int_equal(th_run(&p, bin(), (const char *const[]){"run", "--dry-run", "--backend", "cpu", NULL},
                            (th_io){0}, 60), 0);
    assert_int_equal(count_cases(p.out, "cpu"), 6);
    assert_int_equal(count_cases(p.out, "cuda"), 0);
    assert_string_equal(p.err, "");
    th_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_without_gpu), cmocka_unit_test(default_with_gpu), cmocka_unit_test(every_suite),
        cmocka_unit_test(smoke_and_max),       cmocka_unit_test(cli_default_here),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
