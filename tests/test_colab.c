/* The Colab recipe and the split set-up (issue 13), tested here without Colab:
 *  - hosts/colab/run.sh --quick really installs (what running needs: a no-op where make test
 *    already installed everything), builds (the build folder make test built: checked, not
 *    rebuilt) and runs the smoke suite, then leaves colab.json (every case ok; cuda cases only
 *    where a GPU is usable, else the note saying so), its profile and its report;
 *  - its bad usage is one line and exit 2;
 *  - hosts/colab/gencost.ipynb is nbformat 4 JSON (jansson), its code cells are Python (ast,
 *    with the `!` shell lines set aside), it calls the script and downloads the file the script
 *    writes;
 *  - scripts/install-deps.sh: `run` asks for no test tools (cross compiler, qemu, cmocka,
 *    clang), `test` asks for them too; `make run` installs the run set, `make test` the test set.
 * The build folder comes from $GENCOST_REL_BIN (make test sets it), else build/. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/host/profile.h"
#include "bench/results.h"
#include "bench/suites.h"
#include "kernels/platform.h"
#include "tests/helpers.h"

#define NOTEBOOK "hosts/colab/gencost.ipynb"
#define SCRIPT "hosts/colab/run.sh"

static char build_dir[512] = "build";
static char out_dir[64];

static int setup(void **st) {
    const char *rel = getenv("GENCOST_REL_BIN");
    if (rel && *rel) {
        snprintf(build_dir, sizeof build_dir, "%s", rel);
        char *slash = strrchr(build_dir, '/');
        if (slash) *slash = 0;
    }
    /* The script's make must not join make test's jobserver or take its command-line variables
     * (make exports them: GC_STAGE=2 from the second stage would skip the first). */
    unsetenv("MAKEFLAGS");
    unsetenv("MFLAGS");
    unsetenv("MAKELEVEL");
    unsetenv("GC_STAGE");
    unsetenv("BUILD");
    snprintf(out_dir, sizeof out_dir, "/tmp/gc_colab_%d", (int)getpid());
    return 0;
}

static int teardown(void **st) {
    th_proc p;
    th_run(&p, "/bin/rm", (const char *const[]){"-rf", out_dir, NULL}, (th_io){0}, 30);
    th_free(&p);
    return 0;
}

static int bash(th_proc *p, const char *const *args, double timeout) {
    const char *argv[16];
    int n = 0;
    for (; args[n] && n < 15; n++) argv[n] = args[n];
    argv[n] = NULL;
    return th_run(p, "/bin/bash", argv, (th_io){0}, timeout);
}

static bool file_nonempty(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 && s.st_size > 0;
}

static int count_cases(const gc_results *r, const char *workload, const char *backend) {
    int n = 0;
    for (int i = 0; i < r->n_cases; i++)
        n += !strcmp(r->cases[i].id.workload, workload) && !strcmp(r->cases[i].id.backend, backend);
    return n;
}

static void script_quick_run(void **st) {
    th_proc p;
    int rc = bash(&p, (const char *const[]){SCRIPT, "--quick", "--build", build_dir, "--out", out_dir, NULL}, 300);
    if (rc) fail_msg("run.sh exit %d\nstdout:\n%s\nstderr:\n%s", rc, p.out, p.err);
    /* the four steps, in order */
    const char *install = strstr(p.out, "\n== install (what running needs)\n");
    const char *build = strstr(p.out, "\n== build (");
    const char *run = strstr(p.out, "\n== run (--suite smoke, CPU");
    const char *res = strstr(p.out, "\n== results\n");
    assert_true(install && build && run && res && install < build && build < run && run < res);
    assert_true(strstr(p.out, "\nGPU: ") != NULL);   /* its name, or "none attached" */
    char path[160], want[512];
    snprintf(path, sizeof path, "%s/colab.json", out_dir);
    snprintf(want, sizeof want, "results file: %s (download it;", path);
    assert_non_null(strstr(p.out, want));

    gc_results r;
    gc_err err;
    if (results_read(path, &r, &err)) fail_msg("%s", err.msg);
    assert_true(r.complete);
    for (int i = 0; i < r.n_cases; i++) assert_string_equal(r.cases[i].status, "ok");
    /* smoke: triad on 1 and all cores (copy, triad, read each), the tiny model's three phases, sd-tiny's four,
     * the tiny trainer's three (step, forward, backward) */
    assert_int_equal(count_cases(&r, "triad", "cpu"), (gk_physical_cores() > 1 ? 2 : 1) * 3);
    assert_int_equal(count_cases(&r, "llm", "cpu"), 3);
    assert_int_equal(count_cases(&r, "image", "cpu"), 4);   /* sd-tiny: text, step, decode, image */
    assert_int_equal(count_cases(&r, "train", "cpu"), 3);
    char why[256] = "";
    bool gpu = gc_suite_gpu_here(why, sizeof why);
    assert_int_equal(count_cases(&r, "llm", "cuda"), gpu ? 3 : 0);
    assert_int_equal(r.n_cases, count_cases(&r, "triad", "cpu") + count_cases(&r, "llm", "cpu") +
                                    count_cases(&r, "image", "cpu") + count_cases(&r, "train", "cpu") +
                                    count_cases(&r, "llm", "cuda"));
    if (!gpu) {
        snprintf(want, sizeof want, "note: suite smoke: no GPU here, so its 1 cuda line (llm) is left out: this run "
                 "measures the CPU only (%s)\n", why);
        assert_non_null(strstr(p.err, want));
    }
    results_free(&r);

    gc_profile prof;
    snprintf(path, sizeof path, "%s/local.ini", out_dir);
    if (profile_load(path, &prof, &err)) fail_msg("%s", err.msg);
    assert_true(prof.active_watts > 0);
    snprintf(path, sizeof path, "%s/report/report.md", out_dir);
    assert_true(file_nonempty(path));
    snprintf(path, sizeof path, "%s/report/report.html", out_dir);
    assert_true(file_nonempty(path));
    th_free(&p);
}

static void script_bad_usage(void **st) {
    th_proc p;
    assert_int_equal(bash(&p, (const char *const[]){SCRIPT, "--bogus", NULL}, 30), 2);
    assert_string_equal(p.err, "colab/run.sh: unknown option '--bogus' (--quick, --no-deps, --build DIR, --out DIR, "
                               "--jobs N)\n");
    assert_string_equal(p.out, "");
    th_free(&p);
    assert_int_equal(bash(&p, (const char *const[]){SCRIPT, "--jobs", "0", NULL}, 30), 2);
    assert_string_equal(p.err, "colab/run.sh: --jobs: '0' is not a positive whole number\n");
    th_free(&p);
    assert_int_equal(bash(&p, (const char *const[]){SCRIPT, "--quick", "--out", NULL}, 30), 2);
    assert_string_equal(p.err, "colab/run.sh: --out needs a value\n");
    th_free(&p);
}

/* A cell's source: a string or an array of strings (nbformat 4), joined. */
static char *cell_source(json_t *cell) {
    json_t *src = json_object_get(cell, "source");
    if (json_is_string(src)) return strdup(json_string_value(src));
    assert_true(json_is_array(src));
    size_t len = 1, i;
    json_t *v;
    json_array_foreach(src, i, v) {
        assert_true(json_is_string(v));
        len += strlen(json_string_value(v));
    }
    char *s = calloc(1, len);
    assert_non_null(s);
    json_array_foreach(src, i, v) strcat(s, json_string_value(v));
    return s;
}

/* Code cells as one Python file, each IPython `!command` line replaced by `pass` (same indent). */
static void write_python(json_t *cells, const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    size_t i;
    json_t *c;
    json_array_foreach(cells, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "cell_type")), "code")) continue;
        char *s = cell_source(c), *save = NULL;
        for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            size_t ind = strspn(line, " ");
            if (line[ind] == '!')
                fprintf(f, "%.*spass\n", (int)ind, line);
            else
                fprintf(f, "%s\n", line);
        }
        free(s);
    }
    fclose(f);
}

static void notebook_valid(void **st) {
    json_error_t je;
    json_t *nb = json_load_file(NOTEBOOK, 0, &je);
    if (!nb) fail_msg("%s:%d: %s", NOTEBOOK, je.line, je.text);
    assert_int_equal(json_integer_value(json_object_get(nb, "nbformat")), 4);
    assert_true(json_is_integer(json_object_get(nb, "nbformat_minor")));
    json_t *meta = json_object_get(nb, "metadata");
    assert_true(json_is_object(meta));
    assert_string_equal(json_string_value(json_object_get(meta, "accelerator")), "GPU");
    assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "kernelspec"), "name")), "python3");
    json_t *cells = json_object_get(nb, "cells"), *c;
    assert_true(json_is_array(cells) && json_array_size(cells) >= 4);
    int calls_script = 0, downloads = 0, code = 0;
    size_t i;
    json_array_foreach(cells, i, c) {
        const char *type = json_string_value(json_object_get(c, "cell_type"));
        assert_non_null(type);
        assert_true(!strcmp(type, "code") || !strcmp(type, "markdown"));
        assert_true(json_is_object(json_object_get(c, "metadata")));
        assert_true(json_is_string(json_object_get(c, "id")));
        char *s = cell_source(c);
        if (!strcmp(type, "code")) {
            code++;
            assert_true(json_is_array(json_object_get(c, "outputs")));
            assert_true(json_is_null(json_object_get(c, "execution_count")));
            calls_script += strstr(s, "!bash " SCRIPT) != NULL;
            /* the file the script writes by default (--out results/colab) */
            downloads += strstr(s, "results = \"results/colab/colab.json\"") && strstr(s, "files.download(results)");
        }
        free(s);
    }
    assert_true(code >= 3);
    assert_int_equal(calls_script, 1);
    assert_int_equal(downloads, 1);

    char py[64];
    snprintf(py, sizeof py, "/tmp/gc_colab_nb_%d.py", (int)getpid());
    write_python(cells, py);
    json_decref(nb);
    th_proc p;
    int rc = th_run(&p, "/usr/bin/env",
                    (const char *const[]){"python3", "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())", py, NULL},
                    (th_io){0}, 30);
    if (rc == 127)
        printf("python3 not found: the code cells' syntax is not checked\n");
    else if (rc)
        fail_msg("the notebook's code cells are not Python: %s", p.err);
    unlink(py);
    th_free(&p);
}

/* Whether pkg is one of the lines of out (install-deps.sh --list prints one name a line). */
static bool lists(const char *out, const char *pkg) {
    size_t n = strlen(pkg);
    for (const char *s = out; (s = strstr(s, pkg)); s += n)
        if ((s == out || s[-1] == '\n') && (s[n] == '\n' || !s[n])) return true;
    return false;
}

static void deps_split(void **st) {
    th_proc run, test, p;
    assert_int_equal(bash(&run, (const char *const[]){"scripts/install-deps.sh", "run", "--list", NULL}, 30), 0);
    assert_int_equal(bash(&test, (const char *const[]){"scripts/install-deps.sh", "test", "--list", NULL}, 30), 0);
    /* apt names, or Homebrew's on macOS */
    struct pkg_expect {
        const char *run_has[3], *test_only[4];
    } deb = {{"gnuplot-nox", "pkg-config", "libhwloc-dev"}, {"qemu-user", "gcc-aarch64-linux-gnu", "libcmocka-dev", "clang"}},
      brew = {{"gnuplot", "pkg-config", "hwloc"}, {"cmocka", NULL, NULL, NULL}};
    const struct pkg_expect *want = strstr(run.out, "libhwloc-dev") ? &deb : &brew;
    for (int i = 0; i < 3; i++) {
        assert_true(lists(run.out, want->run_has[i]));
        assert_true(lists(test.out, want->run_has[i]));
    }
    for (int i = 0; i < 4 && want->test_only[i]; i++) {
        if (lists(run.out, want->test_only[i])) fail_msg("install-deps.sh run asks for %s", want->test_only[i]);
        assert_true(lists(test.out, want->test_only[i]));
    }
    th_free(&run);
    th_free(&test);
    assert_int_equal(bash(&p, (const char *const[]){"scripts/install-deps.sh", "all", NULL}, 30), 2);
    assert_string_equal(p.err, "install-deps.sh: unknown mode 'all' (run or test)\n");
    th_free(&p);

    /* make's first stage: run -> the run set, test -> the test set (-n: nothing is done) */
    char bv[600];
    snprintf(bv, sizeof bv, "BUILD=%s", build_dir);
    assert_int_equal(th_run(&p, "/usr/bin/env", (const char *const[]){"make", "-n", bv, "run", NULL}, (th_io){0}, 60), 0);
    assert_non_null(strstr(p.out, "bash scripts/install-deps.sh run\n"));
    assert_null(strstr(p.out, "install-deps.sh test"));
    th_free(&p);
    assert_int_equal(th_run(&p, "/usr/bin/env", (const char *const[]){"make", "-n", bv, "test", NULL}, (th_io){0}, 60), 0);
    assert_non_null(strstr(p.out, "bash scripts/install-deps.sh test\n"));
    th_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(script_bad_usage),
        cmocka_unit_test(notebook_valid),
        cmocka_unit_test(deps_split),
        cmocka_unit_test(script_quick_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
