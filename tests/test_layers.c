/* The layers point only down. Reads every source file under base/ kernels/ bench/ reports/ cli/
 * (the test runs from the repository root, as make test starts it), takes its #include lines and
 * fails, naming file, line and include, when one of them
 *  - points from a lower layer to a higher one (base 0 -> kernels 1 -> bench 2 -> reports 3 -> cli 4),
 *  - reaches a backend's private headers from outside kernels/ (kernels/<folder>/...: kernels/cpu,
 *    kernels/cuda, kernels/platform; the headers directly in kernels/ are the public doors),
 *  - goes from one backend's folder into another's (kernels/cuda <-> kernels/cpu),
 *  - names a project file outside the layers, or no file at all.
 * It also prints the include graph between the layers, so make test shows it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const layer_names[] = {"base", "kernels", "bench", "reports", "cli"};
enum { N_LAYERS = sizeof layer_names / sizeof layer_names[0] };

/* kernels/ subfolders that hold shared implementation, not a backend of their own. */
static const char *const kernel_shared[] = {"platform"};

/* The layer a root-relative path lies in (its first folder), or -1. */
static int layer_of(const char *path) {
    for (int l = 0; l < N_LAYERS; l++) {
        size_t n = strlen(layer_names[l]);
        if (!strncmp(path, layer_names[l], n) && path[n] == '/') return l;
    }
    return -1;
}

/* The kernels/ subfolder a path lies in ("cpu" for kernels/cpu/x86/a.h) into buf, or false when
 * the path is not below a kernels/ subfolder (kernels/backend.h, bench/runner.c). */
static bool kernels_folder(const char *path, char *buf, size_t n) {
    if (strncmp(path, "kernels/", 8)) return false;
    const char *s = path + 8, *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= n) return false;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = 0;
    return true;
}

static bool is_shared_kernel_folder(const char *folder) {
    for (size_t i = 0; i < sizeof kernel_shared / sizeof kernel_shared[0]; i++)
        if (!strcmp(folder, kernel_shared[i])) return true;
    return false;
}

/* Collapses "." and ".." segments ("base/../bench/x.h" is "bench/x.h"); false when the path
 * climbs above the root or does not fit. */
static bool normalize(const char *in, char *out, size_t n) {
    size_t w = 0;
    for (const char *s = in; *s;) {
        size_t len = strcspn(s, "/");
        if (len == 2 && !strncmp(s, "..", 2)) {
            if (!w) return false;
            while (w > 0 && out[w - 1] != '/') w--;
            if (w) w--;
        } else if (len && !(len == 1 && *s == '.')) {
            if (w + (w > 0) + len >= n) return false;
            if (w) out[w++] = '/';
            memcpy(out + w, s, len);
            w += len;
        }
        s += len + (s[len] == '/');
    }
    out[w] = 0;
    return true;
}

/* Judges one include: file and inc are root-relative paths. NULL when allowed, else why not. */
static const char *include_problem(const char *file, const char *inc_as_written, char *why, size_t n) {
    char inc[512];
    if (!normalize(inc_as_written, inc, sizeof inc)) {
        snprintf(why, n, "climbs above the repository root");
        return why;
    }
    int lf = layer_of(file), li = layer_of(inc);
    if (li < 0) {
        snprintf(why, n,
                 "names a file outside the layers (includes are written from the repository root, "
                 "in base/ kernels/ bench/ reports/ cli/)");
        return why;
    }
    if (lf >= 0 && li > lf) {
        snprintf(why, n, "points up from %s (layer %d) to %s (layer %d)", layer_names[lf], lf,
                 layer_names[li], li);
        return why;
    }
    char ff[64], fi[64];
    bool in_sub = kernels_folder(inc, fi, sizeof fi);
    if (in_sub && lf != 1) {
        snprintf(why, n, "reaches kernels/%s/, private to kernels/ (use the public headers in kernels/)", fi);
        return why;
    }
    if (in_sub && kernels_folder(file, ff, sizeof ff) && strcmp(ff, fi) && !is_shared_kernel_folder(ff) &&
        !is_shared_kernel_folder(fi)) {
        snprintf(why, n, "goes from backend kernels/%s/ into backend kernels/%s/", ff, fi);
        return why;
    }
    return NULL;
}

/* The target of an #include line ("x.h" or <x.h>) into out; false for any other line. Only
 * <...> targets below a layer folder count: <stdio.h> is no project file. */
static bool include_target(const char *line, char *out, size_t n) {
    const char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    if (*s++ != '#') return false;
    while (*s == ' ' || *s == '\t') s++;
    if (strncmp(s, "include", 7)) return false;
    s += 7;
    while (*s == ' ' || *s == '\t') s++;
    char close = *s == '"' ? '"' : *s == '<' ? '>' : 0;
    const char *end = close ? strchr(s + 1, close) : NULL;
    if (!end || (size_t)(end - s - 1) >= n) return false;
    memcpy(out, s + 1, (size_t)(end - s - 1));
    out[end - s - 1] = 0;
    return close == '"' || layer_of(out) >= 0;
}

/* ---- the checker on hand-written cases ------------------------------------------------------ */

static void parses_include_lines(void **s) {
    char t[128];
    assert_true(include_target("#include \"bench/stats.h\"", t, sizeof t));
    assert_string_equal(t, "bench/stats.h");
    assert_true(include_target("  #  include\t\"base/util.h\"   /* errors */\n", t, sizeof t));
    assert_string_equal(t, "base/util.h");
    assert_true(include_target("#include <cli/commands.h>", t, sizeof t));
    assert_string_equal(t, "cli/commands.h");
    assert_false(include_target("#include <stdio.h>", t, sizeof t));
    assert_false(include_target(" * #include \"bench/stats.h\" in a comment", t, sizeof t));
    assert_false(include_target("#define include \"x.h\"", t, sizeof t));
    assert_false(include_target("#include \"unterminated.h", t, sizeof t));
    assert_false(include_target("#pragma once", t, sizeof t));
    assert_true(normalize("base/./x/../util.h", t, sizeof t));
    assert_string_equal(t, "base/util.h");
    assert_false(normalize("base/../../etc/passwd", t, sizeof t));
}

static void allows_what_points_down(void **s) {
    static const char *const ok[][2] = {
        {"cli/main.c", "cli/commands.h"},
        {"cli/cmd_report.c", "reports/report.h"},
        {"cli/cmd_run.c", "kernels/platform.h"},
        {"reports/cost.c", "bench/results.h"},
        {"bench/runner.c", "kernels/backend.h"},
        {"bench/llm/llm_workload.c", "base/util.h"},
        {"kernels/cpu/backend_cpu.c", "kernels/platform/pool.h"},
        {"kernels/cuda/backend.cu", "kernels/platform/features.h"},
        {"kernels/cpu/x86/igemm_avx2.c", "kernels/cpu/x86/simd_avx2.h"},
        {"kernels/cpu/x86/igemm_avx2.c", "kernels/cpu/ukernel.h"},
        {"kernels/platform/pool.c", "kernels/platform/pool.h"},
        {"kernels/op_checks.c", "kernels/op_checks.h"},
        {"base/util.c", "base/util.h"},
    };
    char why[256];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const char *p = include_problem(ok[i][0], ok[i][1], why, sizeof why);
        if (p) fail_msg("%s -> %s refused: %s", ok[i][0], ok[i][1], p);
    }
}

static void refuses_what_points_up_or_inside(void **s) {
    static const struct {
        const char *file, *inc, *needle;
    } bad[] = {
        {"base/util.c", "bench/stats.h", "points up from base (layer 0) to bench (layer 2)"},
        {"kernels/platform.c", "base/../bench/x.h", "points up"},
        {"kernels/cpu/host.c", "bench/host/host_facts.h", "points up from kernels (layer 1) to bench"},
        {"bench/energy/energy.c", "reports/profile.h", "points up from bench (layer 2) to reports (layer 3)"},
        {"reports/report.c", "cli/commands.h", "points up from reports (layer 3) to cli (layer 4)"},
        {"base/util.h", "cli/opts.h", "points up from base (layer 0) to cli (layer 4)"},
        {"bench/probes/probe_fma.c", "kernels/cpu/x86/simd_avx2.h", "reaches kernels/cpu/, private"},
        {"bench/llm/wl_triad.c", "kernels/platform/pool.h", "reaches kernels/platform/"},
        {"cli/cmd_run.c", "kernels/cpu/features.h", "reaches kernels/cpu/"},
        {"reports/profile_local.c", "kernels/cuda/kernels.cuh", "reaches kernels/cuda/"},
        {"kernels/cuda/backend.cu", "kernels/cpu/host.h",
         "from backend kernels/cuda/ into backend kernels/cpu/"},
        {"kernels/cpu/backend_cpu.c", "kernels/cuda/kernels.cuh",
         "from backend kernels/cpu/ into backend kernels/cuda/"},
        {"bench/runner.c", "tests/helpers.h", "outside the layers"},
        {"cli/main.c", "build/obj/version.h", "outside the layers"},
        {"cli/main.c", "util.h", "outside the layers"},
        {"base/util.c", "../base/util.h", "climbs above the repository root"},
    };
    char why[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = include_problem(bad[i].file, bad[i].inc, why, sizeof why);
        if (!p) fail_msg("%s -> %s allowed", bad[i].file, bad[i].inc);
        if (!strstr(p, bad[i].needle))
            fail_msg("%s -> %s: '%s' lacks '%s'", bad[i].file, bad[i].inc, p, bad[i].needle);
    }
}

/* ---- the real tree ------------------------------------------------------------------------- */

typedef struct tree {
    char **files;
    int n, cap;
} tree;

static bool is_source(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcmp(dot, ".c") || !strcmp(dot, ".h") || !strcmp(dot, ".cu") || !strcmp(dot, ".cuh"));
}

static void walk(tree *t, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) fail_msg("cannot read folder %s (the test runs from the repository root)", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            walk(t, path);
        } else if (S_ISREG(st.st_mode) && is_source(e->d_name)) {
            if (t->n == t->cap) {
                t->cap = t->cap ? 2 * t->cap : 256;
                t->files = realloc(t->files, (size_t)t->cap * sizeof *t->files);
                assert_non_null(t->files);
            }
            t->files[t->n++] = strdup(path);
        }
    }
    closedir(d);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Checks one file's includes; counts arrows between layers into graph; returns its problems. */
static int check_file(const char *file, int graph[N_LAYERS][N_LAYERS]) {
    FILE *f = fopen(file, "r");
    if (!f) fail_msg("cannot read %s", file);
    char line[1024], inc[512], why[256];
    int bad = 0;
    for (int no = 1; fgets(line, sizeof line, f); no++) {
        if (!include_target(line, inc, sizeof inc)) continue;
        struct stat st;
        char path[512];
        const char *p = include_problem(file, inc, why, sizeof why);
        if (!p && (!normalize(inc, path, sizeof path) || stat(path, &st)))
            p = "names no file (includes are written from the repository root)";
        if (p) {
            line[strcspn(line, "\n")] = 0;
            print_message("%s:%d: %s: %s\n", file, no, line + strspn(line, " \t"), p);
            bad++;
        } else {
            graph[layer_of(file)][layer_of(path)]++;
        }
    }
    fclose(f);
    return bad;
}

static void print_graph(int graph[N_LAYERS][N_LAYERS], int n_files) {
    print_message("include graph of %d files (arrows from a layer to the layers it includes):\n", n_files);
    for (int a = N_LAYERS - 1; a >= 0; a--) {
        char row[256];
        int w = snprintf(row, sizeof row, "  %-8s ->", layer_names[a]);
        for (int b = N_LAYERS - 1; b >= 0; b--)
            if (graph[a][b] && w > 0 && (size_t)w < sizeof row)
                w += snprintf(row + w, sizeof row - (size_t)w, " %s %d", layer_names[b], graph[a][b]);
        print_message("%s\n", row);
    }
}

static void tree_points_only_down(void **s) {
    tree t = {0};
    for (int l = 0; l < N_LAYERS; l++) walk(&t, layer_names[l]);
    qsort(t.files, (size_t)t.n, sizeof *t.files, by_name);
    int graph[N_LAYERS][N_LAYERS] = {{0}}, per_layer[N_LAYERS] = {0}, bad = 0;
    for (int i = 0; i < t.n; i++) {
        per_layer[layer_of(t.files[i])]++;
        bad += check_file(t.files[i], graph);
    }
    print_graph(graph, t.n);
    for (int i = 0; i < t.n; i++) free(t.files[i]);
    free(t.files);
    /* A walk that found nothing would pass for the wrong reason. */
    for (int l = 0; l < N_LAYERS; l++)
        if (!per_layer[l]) fail_msg("no source files found under %s/", layer_names[l]);
    for (int a = 0; a < N_LAYERS; a++)
        for (int b = a + 1; b < N_LAYERS; b++) assert_int_equal(graph[a][b], 0);
    if (bad) fail_msg("%d include(s) break the layer order (listed above)", bad);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_include_lines),
        cmocka_unit_test(allows_what_points_down),
        cmocka_unit_test(refuses_what_points_up_or_inside),
        cmocka_unit_test(tree_points_only_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
