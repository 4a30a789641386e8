/* Tests for bench/history: add, list, show, check and plot on a temporary database, duplicate
 * runs skipped, the window verdict on hand-computed values, two processes adding at once, the
 * whole case identity as the series (device, params), and a version-1 database migrated. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/regress/history.h"

static char tmpdir[64];
static char dbpath[128];

static int setup(void **s) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gc_hist_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/sub/history.db", tmpdir);  /* folder made on open */
    return 0;
}

static int teardown(void **s) {
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A schema-2 run on avx2 with one decode case whose samples give throughput `tp` token/s (16
 * tokens per rep) and a failed triad case. */
typedef struct fake_run {
    gc_results r;
    gc_case_result c[2];
    double samples[5];
} fake_run;

static void fake(fake_run *f, const char *host, const char *commit, const char *started,
                 double tp) {
    memset(f, 0, sizeof *f);
    snprintf(f->r.host_name, sizeof f->r.host_name, "%s", host);
    snprintf(f->r.git_commit, sizeof f->r.git_commit, "%s", commit);
    snprintf(f->r.started, sizeof f->r.started, "%s", started);
    f->r.schema = GC_RESULTS_SCHEMA;
    f->r.cases = f->c;
    f->r.n_cases = 2;
    for (int i = 0; i < 5; i++)
        f->samples[i] = 16 / tp * (1 + 0.001 * (i - 2));
    gc_case_result *c = &f->c[0];
    snprintf(c->id.workload, sizeof c->id.workload, "llm");
    snprintf(c->id.preset, sizeof c->id.preset, "tiny");
    snprintf(c->id.quant, sizeof c->id.quant, "q4_0");
    snprintf(c->id.backend, sizeof c->id.backend, "cpu");
    snprintf(c->id.device, sizeof c->id.device, "avx2");
    snprintf(c->id.phase, sizeof c->id.phase, "decode");
    snprintf(c->unit, sizeof c->unit, "token");
    snprintf(c->status, sizeof c->status, "ok");
    c->id.threads = 2;
    c->work_per_rep = 16;
    c->samples_s = f->samples;
    c->n_samples = 5;
    c->throughput = (gc_stats){.n = 5, .median = tp, .ci95_low = tp * 0.99,
                               .ci95_high = tp * 1.01, .mad = tp * 0.001};
    gc_kv_add(c->metrics.vals, &c->metrics.n_vals, GC_MAX_KV, "instructions_per_rep", 1e6);
    c = &f->c[1];
    snprintf(c->id.workload, sizeof c->id.workload, "triad");
    snprintf(c->id.preset, sizeof c->id.preset, "-");
    snprintf(c->id.quant, sizeof c->id.quant, "-");
    snprintf(c->id.backend, sizeof c->id.backend, "cpu");
    snprintf(c->id.device, sizeof c->id.device, "avx2");
    snprintf(c->id.phase, sizeof c->id.phase, "triad");
    snprintf(c->unit, sizeof c->unit, "GB");
    snprintf(c->status, sizeof c->status, "failed");
    c->id.threads = 1;
}

static void judge_hand_values(void **s) {
    gc_hist_check_opts o;
    history_check_defaults(&o);
    gc_hist_check c;
    /* median 100, |deviations| 0,2,2,1,1 → MAD 1; 3 scaled MADs = 3 * 1.4826 = 4.45% */
    double quiet[] = {100, 102, 98, 101, 99};
    history_judge(quiet, 5, 90, &o, &c);
    assert_int_equal(c.verdict, GC_SLOWER);
    assert_float_equal(c.hist_median, 100, 0);
    assert_float_equal(c.hist_mad, 1, 0);
    assert_float_equal(c.ratio, 0.9, 1e-12);
    history_judge(quiet, 5, 97, &o, &c);
    assert_int_equal(c.verdict, GC_SAME);
    history_judge(quiet, 5, 111, &o, &c);
    assert_int_equal(c.verdict, GC_FASTER);
    /* MAD 10 → 3 scaled MADs = 44.5%: a 10% dip is within the series' own wander */
    double wild[] = {100, 120, 80, 110, 90};
    history_judge(wild, 5, 90, &o, &c);
    assert_int_equal(c.verdict, GC_NOISY);
    history_judge(quiet, 2, 50, &o, &c);
    assert_int_equal(c.verdict, GC_NOISY);             /* too little history */
}

static void add_list_show_check(void **s) {
    gc_history *h = NULL;
    gc_err err;
    assert_int_equal(history_open(dbpath, &h, &err), 0);
    fake_run f;
    static const double tps[] = {100, 101, 99, 100.5, 99.5, 100};
    char commit[16], started[32];
    for (int i = 0; i < 6; i++) {
        snprintf(commit, sizeof commit, "c%02d", i);
        snprintf(started, sizeof started, "2026-01-%02dT00:00:00Z", i + 1);
        fake(&f, "box", commit, started, tps[i]);
        int added = -1;
        assert_int_equal(history_add(h, &f.r, "x.json", &added, &err), 0);
        assert_int_equal(added, 2);
    }
    int added = -1;
    assert_int_equal(history_add(h, &f.r, "again.json", &added, &err), 0);
    assert_int_equal(added, 0);                         /* same run: skipped */

    gc_hist_series *ser = NULL;
    int n = 0;
    assert_int_equal(history_series(h, &ser, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ser[0].key, "llm/tiny/q4_0/cpu/avx2/t2/decode");
    assert_string_equal(ser[0].host, "box");
    assert_int_equal(ser[0].n_points, 6);
    assert_string_equal(ser[0].last_commit, "c05");
    assert_float_equal(ser[0].last_median, 100, 1e-9);
    free(ser);

    gc_hist_point *p = NULL;
    assert_int_equal(history_points(h, "llm/tiny/q4_0/cpu/avx2/t2/decode", "box", &p, &n, &err), 0);
    assert_int_equal(n, 6);
    assert_string_equal(p[0].commit, "c00");
    assert_float_equal(p[2].median, 99, 1e-9);
    assert_float_equal(p[2].ci_low, 99 * 0.99, 1e-9);
    free(p);
    assert_int_equal(history_points(h, "llm/tiny/q4_0/cpu/avx2/t2/decode", "elsewhere", &p, &n, &err), 0);
    assert_int_equal(n, 0);
    free(p);

    /* a new run 10% slower: median of the window 100, MAD 0.5 → slower */
    fake(&f, "box", "c06", "2026-01-07T00:00:00Z", 90);
    gc_hist_check_opts o;
    history_check_defaults(&o);
    gc_hist_check *c = NULL;
    assert_int_equal(history_check(h, &f.r, &o, &c, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(c[0].verdict, GC_SLOWER);
    assert_int_equal(c[0].n_window, 6);
    assert_float_equal(c[0].hist_median, 100, 1e-9);
    assert_int_equal(c[1].verdict, GC_BROKEN);          /* its triad case failed */
    free(c);
    /* adding it first changes nothing: the run's own point is left out of its window */
    assert_int_equal(history_add(h, &f.r, "new.json", &added, &err), 0);
    o.window = 3;
    assert_int_equal(history_check(h, &f.r, &o, &c, &n, &err), 0);
    assert_int_equal(c[0].verdict, GC_SLOWER);
    assert_int_equal(c[0].n_window, 3);
    free(c);
    fake(&f, "box", "c07", "2026-01-08T00:00:00Z", 101);
    assert_int_equal(history_check(h, &f.r, &o, &c, &n, &err), 0);
    /* window of 3: the last three points are 99.5, 100, 90 → median 99.5, MAD 0.5 */
    assert_float_equal(c[0].hist_median, 99.5, 1e-9);
    assert_int_equal(c[0].verdict, GC_SAME);
    free(c);
    history_close(h);
}

/* The instruction count of a fake run's decode case (<= 0: not recorded, as on a VM). */
static void set_instructions(fake_run *f, double ins) {
    gc_case_result *c = &f->c[0];
    c->metrics.n_vals = 0;
    if (ins > 0) gc_kv_add(c->metrics.vals, &c->metrics.n_vals, GC_MAX_KV, "instructions_per_rep", ins);
}

static gc_hist_check check_one(gc_history *h, fake_run *f, const gc_hist_check_opts *o) {
    gc_hist_check *c = NULL, out;
    int n = 0;
    gc_err err;
    if (history_check(h, &f->r, o, &c, &n, &err)) fail_msg("%s", err.msg);
    assert_int_equal(n, 2);
    out = c[0];
    free(c);
    return out;
}

/* check --counts: NEW's instructions per rep against the window's median (1.00e6 here, from
 * 1.00 1.01 0.99 1.02 1.00), compare's rules, the throughput verdict kept beside. */
static void check_counts(void **s) {
    char path[160];
    snprintf(path, sizeof path, "%s/counts.db", tmpdir);
    gc_history *h = NULL;
    gc_err err;
    assert_int_equal(history_open(path, &h, &err), 0);
    static const double ins[] = {1.00e6, 1.01e6, 0.99e6, 1.02e6, 1.00e6};
    fake_run f;
    for (int i = 0; i < 5; i++) {
        char commit[16], started[32];
        snprintf(commit, sizeof commit, "k%02d", i);
        snprintf(started, sizeof started, "2026-02-%02dT00:00:00Z", i + 1);
        fake(&f, "box", commit, started, 100);
        set_instructions(&f, ins[i]);
        int added;
        assert_int_equal(history_add(h, &f.r, "x.json", &added, &err), 0);
        fake(&f, "vm", commit, started, 100);   /* a host without counters */
        set_instructions(&f, 0);
        assert_int_equal(history_add(h, &f.r, "x.json", &added, &err), 0);
    }
    gc_hist_check_opts o;
    history_check_defaults(&o);
    o.counts = true;
    fake(&f, "box", "k05", "2026-02-06T00:00:00Z", 100);   /* wall time unchanged ... */
    set_instructions(&f, 1.10e6);                           /* ... 10% more instructions */
    gc_hist_check c = check_one(h, &f, &o);
    assert_int_equal(c.counts, GC_COUNTS_COMPARED);
    assert_int_equal(c.verdict, GC_SLOWER);
    assert_int_equal(c.time_verdict, GC_SAME);
    assert_float_equal(c.hist_instructions, 1.00e6, 1e-6);
    assert_float_equal(c.ins_ratio, 1.10, 1e-12);
    set_instructions(&f, 0.90e6);
    assert_int_equal(check_one(h, &f, &o).verdict, GC_FASTER);
    fake(&f, "box", "k05", "2026-02-06T00:00:00Z", 90);     /* wall time 10% down, counts +0.5% */
    set_instructions(&f, 1.005e6);
    c = check_one(h, &f, &o);
    assert_int_equal(c.verdict, GC_SAME);
    assert_int_equal(c.time_verdict, GC_SLOWER);
    set_instructions(&f, 0);                                 /* NEW without a count: time decides */
    c = check_one(h, &f, &o);
    assert_int_equal(c.counts, GC_COUNTS_UNAVAILABLE);
    assert_int_equal(c.verdict, GC_SLOWER);
    fake(&f, "box", "k05", "2026-02-06T00:00:00Z", 100);
    set_instructions(&f, 1.00e6);
    f.c[0].work_per_rep = 32;                                /* not the same work */
    assert_int_equal(check_one(h, &f, &o).verdict, GC_WORK_CHANGED);
    fake(&f, "box", "k05", "2026-02-06T00:00:00Z", 100);
    set_instructions(&f, 1.10e6);
    o.count_threshold = 0.15;
    assert_int_equal(check_one(h, &f, &o).verdict, GC_SAME);
    o.count_threshold = 0.02;
    fake(&f, "vm", "k05", "2026-02-06T00:00:00Z", 100);     /* history without counts */
    set_instructions(&f, 1.10e6);
    c = check_one(h, &f, &o);
    assert_int_equal(c.counts, GC_COUNTS_UNAVAILABLE);
    assert_int_equal(c.verdict, GC_SAME);
    o.counts = false;                                        /* off: counts not looked at */
    fake(&f, "box", "k05", "2026-02-06T00:00:00Z", 100);
    set_instructions(&f, 2.0e6);
    c = check_one(h, &f, &o);
    assert_int_equal(c.counts, GC_COUNTS_OFF);
    assert_int_equal(c.verdict, GC_SAME);
    history_close(h);
}

static void plot_writes_png_and_svg(void **s) {
    if (system("command -v gnuplot >/dev/null 2>&1")) {
        printf("gnuplot not installed: plot not checked\n");
        skip();
    }
    gc_history *h = NULL;
    gc_err err;
    assert_int_equal(history_open(dbpath, &h, &err), 0);
    gc_hist_series *ser = NULL;
    int n = 0, files = 0;
    assert_int_equal(history_series(h, &ser, &n, &err), 0);
    assert_true(n >= 1);
    gc_hist_check_opts o;
    history_check_defaults(&o);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/charts", tmpdir);
    assert_int_equal(history_plot(h, &ser[0], &o, dir, &files, &err), 0);
    assert_int_equal(files, 2);
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/llm_tiny_q4_0_cpu_avx2_t2_decode@box.png", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 1000);
    snprintf(path, sizeof path, "%s/llm_tiny_q4_0_cpu_avx2_t2_decode@box.svg", dir);
    size_t len = 0;
    char *svg = gc_read_file(path, &len, &err);
    assert_non_null(svg);
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "regression"));        /* the legend of the marked points */
    free(svg);
    /* the failed triad series has no ok point: a clear error, not an empty chart */
    assert_int_not_equal(history_plot(h, &ser[1], &o, dir, &files, &err), 0);
    assert_non_null(strstr(err.msg, "no ok points"));
    free(ser);
    history_close(h);
}

/* Host names from a results file are data in the plot: a double quote (which ended the title's
 * string), a single quote, a newline then a shell line, and a path that climbs out of the chart
 * folder. Each series plots (PNG and SVG, inside the chart folder, the '/' made '_') and no
 * command runs: no file "owned" in the folder gnuplot runs in, nor in ours. */
static void plot_hostile_names(void **s) {
    if (system("command -v gnuplot >/dev/null 2>&1")) {
        printf("gnuplot not installed: plot not checked\n");
        skip();
    }
    static const char *const hosts[] = {
        "x\" . system(\"touch owned\") . \"",
        "x' . system('touch owned') . '",
        "x\n!touch owned\nsystem('touch owned')\n",
        "../../etc/x",
    };
    enum { N_HOSTS = sizeof hosts / sizeof hosts[0] };
    char db[160], dir[160], cwd[1024], path[512];
    snprintf(db, sizeof db, "%s/hostile.db", tmpdir);
    snprintf(dir, sizeof dir, "%s/hostile/charts", tmpdir);
    gc_history *h = NULL;
    gc_err err;
    assert_int_equal(history_open(db, &h, &err), 0);
    for (int i = 0; i < N_HOSTS; i++)
        for (int r = 0; r < 2; r++) {
            fake_run f;
            char commit[32], started[32];
            snprintf(commit, sizeof commit, "c%d%d", i, r);
            snprintf(started, sizeof started, "2026-02-%02dT00:00:00Z", 2 * i + r + 1);
            fake(&f, hosts[i], commit, started, 100 + r);
            int added = -1;
            assert_int_equal(history_add(h, &f.r, "hostile.json", &added, &err), 0);
        }
    gc_hist_series *ser = NULL;
    int n = 0;
    assert_int_equal(history_series(h, &ser, &n, &err), 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmpdir), 0);              /* where a command run by gnuplot would land too */
    gc_hist_check_opts o;
    history_check_defaults(&o);
    int plotted = 0, failed = 0, files = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(ser[i].key, "llm/tiny/q4_0/cpu/avx2/t2/decode")) continue;
        if (history_plot(h, &ser[i], &o, dir, &files, &err)) {
            printf("plot of host %s: %s\n", ser[i].host, err.msg);
            failed++;
        }
        plotted++;
    }
    assert_int_equal(chdir(cwd), 0);
    free(ser);
    history_close(h);
    assert_int_equal(plotted, N_HOSTS);
    assert_int_equal(failed, 0);
    assert_int_equal(files, 2 * N_HOSTS);
    struct stat st;
    const char *places[] = {tmpdir, dir, cwd};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/owned", places[i]);
        if (!lstat(path, &st)) fail_msg("a host name ran a command through gnuplot: %s exists", path);
    }
    /* just the images, one pair per host (names that differ only in replaced bytes stay apart),
     * no script, data or stray file; the climbing host's name is flattened ('/' made '_') */
    DIR *d = opendir(dir);
    assert_non_null(d);
    int images = 0, others = 0, climber = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, ".."))) continue;
        size_t len = strlen(e->d_name);
        if (len > 4 && (!strcmp(e->d_name + len - 4, ".png") || !strcmp(e->d_name + len - 4, ".svg"))) images++;
        else others++;
        static const char flat[] = "llm_tiny_q4_0_cpu_avx2_t2_decode@.._.._etc_x-";
        climber += !strncmp(e->d_name, flat, sizeof flat - 1);
    }
    closedir(d);
    assert_int_equal(images, 2 * N_HOSTS);
    assert_int_equal(others, 0);
    assert_int_equal(climber, 2);
    snprintf(path, sizeof path, "%s/hostile/etc", tmpdir);
    assert_int_not_equal(lstat(path, &st), 0);
}

/* Two processes each add 25 runs to one new database at the same time; afterwards every run is
 * there whole (50 runs, 100 points) and SQLite's integrity check passes. */
static void concurrent_writers(void **s) {
    char path[160];
    snprintf(path, sizeof path, "%s/concurrent.db", tmpdir);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            gc_history *h = NULL;
            gc_err err;
            if (history_open(path, &h, &err))
                _exit(3);
            for (int i = 0; i < 25; i++) {
                fake_run f;
                char commit[32], started[48];
                snprintf(commit, sizeof commit, "k%d-%02d", k, i);
                snprintf(started, sizeof started, "2026-02-01T00:%02d:%02dZ", i, k);
                fake(&f, "box", commit, started, 100 + i);
                int added = 0;
                if (history_add(h, &f.r, "c.json", &added, &err) || added != 2)
                    _exit(4);
            }
            history_close(h);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int st = 0;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT COUNT(*) FROM runs),"
                                            " (SELECT COUNT(*) FROM points)", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 50);
    assert_int_equal(sqlite3_column_int(q, 1), 100);
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* The device and the parameters are part of the series: an avx2 and an avx512 run of the same
 * binary, or two prompt lengths, never share a window. */
static void device_and_params_are_series(void **s) {
    char path[160];
    snprintf(path, sizeof path, "%s/identity.db", tmpdir);
    gc_history *h = NULL;
    gc_err err;
    assert_int_equal(history_open(path, &h, &err), 0);
    fake_run f;
    int added;
    for (int i = 0; i < 4; i++) {
        char started[32];
        snprintf(started, sizeof started, "2026-05-%02dT00:00:00Z", i + 1);
        fake(&f, "box", "c1", started, 100);                      /* avx2 at 100 token/s */
        assert_int_equal(history_add(h, &f.r, "a.json", &added, &err), 0);
        snprintf(started, sizeof started, "2026-05-%02dT12:00:00Z", i + 1);
        fake(&f, "box", "c1", started, 200);                      /* avx512 at 200 */
        snprintf(f.c[0].id.device, sizeof f.c[0].id.device, "avx512");
        assert_int_equal(history_add(h, &f.r, "b.json", &added, &err), 0);
    }
    fake(&f, "box", "c1", "2026-05-09T00:00:00Z", 100);           /* another prompt length */
    snprintf(f.c[0].id.params, sizeof f.c[0].id.params, "gen=16,prompt=64");
    assert_int_equal(history_add(h, &f.r, "c.json", &added, &err), 0);
    gc_hist_series *ser = NULL;
    int n = 0;
    assert_int_equal(history_series(h, &ser, &n, &err), 0);
    assert_int_equal(n, 4);                                       /* 3 decode series + triad */
    assert_string_equal(ser[0].key, "llm/tiny/q4_0/cpu/avx2/t2/decode");
    assert_int_equal(ser[0].n_points, 4);
    assert_string_equal(ser[1].key, "llm/tiny/q4_0/cpu/avx2/t2/decode?gen=16,prompt=64");
    assert_int_equal(ser[1].n_points, 1);
    assert_string_equal(ser[2].key, "llm/tiny/q4_0/cpu/avx512/t2/decode");
    assert_int_equal(ser[2].n_points, 4);
    assert_float_equal(ser[2].last_median, 200, 1e-9);
    free(ser);
    /* avx512 at 200 is its own history: same; at 100 it is slower, though avx2 runs 100 */
    gc_hist_check_opts o;
    history_check_defaults(&o);
    fake(&f, "box", "c2", "2026-05-10T00:00:00Z", 200);
    snprintf(f.c[0].id.device, sizeof f.c[0].id.device, "avx512");
    gc_hist_check c = check_one(h, &f, &o);
    assert_int_equal(c.verdict, GC_SAME);
    assert_int_equal(c.n_window, 4);
    assert_int_equal(c.n_partial, 0);
    assert_float_equal(c.hist_median, 200, 1e-9);
    fake(&f, "box", "c2", "2026-05-10T00:00:00Z", 100);
    snprintf(f.c[0].id.device, sizeof f.c[0].id.device, "avx512");
    assert_int_equal(check_one(h, &f, &o).verdict, GC_SLOWER);
    history_close(h);
}

/* Version-1 tables and rows, as the version-1 code created and stored them. */
static const char v1_sql[] =
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY, host TEXT NOT NULL, commit_id TEXT NOT NULL,"
    " started TEXT NOT NULL, finished TEXT, gencost_version TEXT, command_line TEXT,"
    " source TEXT, added TEXT NOT NULL, UNIQUE (host, commit_id, started));"
    "CREATE TABLE points ("
    " id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " case_key TEXT NOT NULL, host TEXT NOT NULL, commit_id TEXT NOT NULL, time TEXT NOT NULL,"
    " workload TEXT, preset TEXT, quant TEXT, backend TEXT, threads INTEGER, phase TEXT,"
    " unit TEXT, status TEXT, work_per_rep REAL, bytes_per_rep REAL, flops_per_rep REAL,"
    " n INTEGER, median REAL, mean REAL, stddev REAL, mad REAL, ci95_low REAL, ci95_high REAL,"
    " cv REAL, samples_s TEXT, metrics TEXT, verify TEXT);"
    "CREATE INDEX points_series ON points (case_key, host, time);"
    "PRAGMA user_version = 1;";

static void sql(const char *path, const char *text) {
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", text, msg);
    sqlite3_close(db);
}

static int sql_int(const char *path, const char *query) {
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, query, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

/* A version-1 database (old keys, no params or device) is migrated on open: keys rebuilt by
 * gc_case_key, the identity unknown where it was never recorded; its points stay the past of
 * the runs that now record a device. */
static void migrates_version_1(void **s) {
    char path[160];
    snprintf(path, sizeof path, "%s/v1.db", tmpdir);
    sql(path, v1_sql);
    for (int i = 0; i < 4; i++) {
        char row[1024];
        snprintf(row, sizeof row,
                 "INSERT INTO runs VALUES (%d, 'box', 'old%d', '2026-01-0%dT00:00:00Z', NULL, '0.1.0', '',"
                 " 'x.json', '2026-01-10T00:00:00Z');"
                 "INSERT INTO points (run_id, case_key, host, commit_id, time, workload, preset, quant,"
                 " backend, threads, phase, unit, status, work_per_rep, n, median, metrics, verify)"
                 " VALUES (%d, 'llm/tiny/q4_0/cpu/2/decode', 'box', 'old%d', '2026-01-0%dT00:00:00Z',"
                 " 'llm', 'tiny', 'q4_0', 'cpu', 2, 'decode', 'token', 'ok', 16, 5, %g, '{}', '{}');",
                 i + 1, i, i + 1, i + 1, i, i + 1, 100.0 + i % 2);
        sql(path, row);
    }
    gc_history *h = NULL;
    gc_err err;
    if (history_open(path, &h, &err)) fail_msg("%s", err.msg);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), GC_HISTORY_DB_VERSION);
    assert_int_equal(sql_int(path, "SELECT COUNT(*) FROM points WHERE device IS NULL AND params IS NULL"), 4);
    gc_hist_series *ser = NULL;
    int n = 0;
    assert_int_equal(history_series(h, &ser, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ser[0].key, "llm/tiny/q4_0/cpu/-/t2/decode");
    assert_int_equal(ser[0].n_points, 4);
    free(ser);
    /* a run that records its device: a new series, whose window reaches into the old points */
    fake_run f;
    fake(&f, "box", "new1", "2026-02-01T00:00:00Z", 100);
    int added;
    assert_int_equal(history_add(h, &f.r, "new.json", &added, &err), 0);
    assert_int_equal(history_series(h, &ser, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(ser[0].key, "llm/tiny/q4_0/cpu/-/t2/decode");
    assert_string_equal(ser[1].key, "llm/tiny/q4_0/cpu/avx2/t2/decode");
    free(ser);
    gc_hist_check_opts o;
    history_check_defaults(&o);
    fake(&f, "box", "new2", "2026-02-02T00:00:00Z", 80);
    gc_hist_check c = check_one(h, &f, &o);
    assert_int_equal(c.n_window, 5);
    assert_int_equal(c.n_partial, 4);
    assert_int_equal(c.verdict, GC_SLOWER);
    assert_non_null(strstr(c.why, "(4 of 5 points without device and params)"));
    /* a schema-1 run knows no device: its own (old) series only */
    fake(&f, "box", "new2", "2026-02-02T00:00:00Z", 100);
    f.r.schema = 1;
    f.c[0].id.device[0] = 0;
    c = check_one(h, &f, &o);
    assert_int_equal(c.n_window, 4);
    assert_int_equal(c.verdict, GC_SAME);
    history_close(h);
    /* opening again changes nothing; nor does an older gencost having reset the version to 1 */
    sql(path, "PRAGMA user_version = 1");
    if (history_open(path, &h, &err)) fail_msg("%s", err.msg);
    history_close(h);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), GC_HISTORY_DB_VERSION);
    assert_int_equal(sql_int(path, "SELECT COUNT(*) FROM points WHERE case_key = 'llm/tiny/q4_0/cpu/-/t2/decode'"), 4);
    assert_int_equal(sql_int(path, "SELECT COUNT(*) FROM points"), 6);
}

static void newer_database_refused(void **s) {
    char path[160];
    snprintf(path, sizeof path, "%s/future.db", tmpdir);
    sql(path, "CREATE TABLE points (id INTEGER); PRAGMA user_version = 3;");
    gc_history *h = NULL;
    gc_err err;
    assert_int_not_equal(history_open(path, &h, &err), 0);
    assert_null(h);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "database version 3 is newer than this gencost reads (2)"));
}

static void not_a_database(void **s) {
    char path[160];
    snprintf(path, sizeof path, "%s/garbage.db", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not an SQLite database, but it is long enough to have a header page.....\n", f);
    fclose(f);
    gc_history *h = NULL;
    gc_err err;
    assert_int_not_equal(history_open(path, &h, &err), 0);
    assert_null(h);
    assert_non_null(strstr(err.msg, path));
}

/* An empty path would open SQLite's temporary database: whatever is added vanishes. Refused. */
/* A results file without a start time (foreign, hand-made) is one run too: added twice, it is
 * stored once (its identity is a hash of what it measured); another measurement is another run. */
static void unstamped_run_added_once(void **s) {
    gc_history *h = NULL;
    gc_err err;
    assert_int_equal(history_open(dbpath, &h, &err), 0);
    fake_run f;
    fake(&f, "unstamped-box", "u01", "", 100);
    int added = -1;
    assert_int_equal(history_add(h, &f.r, "u.json", &added, &err), 0);
    assert_int_equal(added, 2);
    assert_int_equal(history_add(h, &f.r, "u-again.json", &added, &err), 0);
    assert_int_equal(added, 0);
    fake(&f, "unstamped-box", "u01", "", 90);   /* other samples: another run */
    assert_int_equal(history_add(h, &f.r, "u2.json", &added, &err), 0);
    assert_int_equal(added, 2);
    history_close(h);
}

static void empty_path_refused(void **s) {
    gc_history *h = NULL;
    gc_err err;
    assert_int_not_equal(history_open("", &h, &err), 0);
    assert_null(h);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_not_equal(history_open_read("", &h, &err), 0);
    assert_null(h);
}

/* A reader opens and queries while another connection holds the write lock (WAL): no wait for
 * the writer, no write of its own. history_open_read never creates a database either. */
static void reader_beside_a_writer(void **s) {
    char path[160];
    snprintf(path, sizeof path, "%s/rw.db", tmpdir);
    gc_history *h = NULL;
    gc_err err;
    assert_int_not_equal(history_open_read(path, &h, &err), 0);   /* missing: not created */
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(history_open(path, &h, &err), 0);
    fake_run f;
    fake(&f, "box", "c1", "2026-01-01T00:00:00Z", 100);
    int added = 0;
    assert_int_equal(history_add(h, &f.r, "a.json", &added, &err), 0);
    history_close(h);
    sqlite3 *w = NULL;
    assert_int_equal(sqlite3_open(path, &w), SQLITE_OK);
    assert_int_equal(sqlite3_exec(w, "BEGIN IMMEDIATE; DELETE FROM points;", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(history_open_read(path, &h, &err), 0);
    gc_hist_series *series = NULL;
    int n = 0;
    assert_int_equal(history_series(h, &series, &n, &err), 0);
    assert_int_equal(n, 2);   /* the writer's delete is not committed: both series still seen */
    free(series);
    history_close(h);
    assert_int_equal(sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(w);
}

/* A reader meeting a version-1 database migrates it once (under the write lock), as add does;
 * a reader of a current database leaves it as it is. */
static void reader_migrates_version_1(void **s) {
    char path[160];
    snprintf(path, sizeof path, "%s/v1r.db", tmpdir);
    sql(path, v1_sql);
    gc_history *h = NULL;
    gc_err err;
    if (history_open_read(path, &h, &err)) fail_msg("%s", err.msg);
    history_close(h);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), GC_HISTORY_DB_VERSION);
    assert_int_equal(sql_int(path, "SELECT COUNT(*) FROM pragma_table_info('points') WHERE name = 'device'"), 1);
    if (history_open_read(path, &h, &err)) fail_msg("%s", err.msg);
    history_close(h);
    assert_int_equal(sql_int(path, "PRAGMA user_version"), GC_HISTORY_DB_VERSION);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(judge_hand_values),
        cmocka_unit_test(add_list_show_check),
        cmocka_unit_test(check_counts),
        cmocka_unit_test(plot_writes_png_and_svg),
        cmocka_unit_test(plot_hostile_names),
        cmocka_unit_test(concurrent_writers),
        cmocka_unit_test(device_and_params_are_series),
        cmocka_unit_test(migrates_version_1),
        cmocka_unit_test(newer_database_refused),
        cmocka_unit_test(not_a_database),
        cmocka_unit_test(empty_path_refused),
        cmocka_unit_test(unstamped_run_added_once),
        cmocka_unit_test(reader_beside_a_writer),
        cmocka_unit_test(reader_migrates_version_1),
    };
    return cmocka_run_group_tests_name("history", tests, setup, teardown);
}
