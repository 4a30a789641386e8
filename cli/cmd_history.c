/* gencost history: results over time in an SQLite database (add, list, show, plot, check). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/commands.h"
#include "bench/regress/history.h"
#include "base/util.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: gencost history [--db FILE] <action> ...\n"
        "\n"
        "  add RESULTS.json...        store every case (commit, time, host, parameters, samples,\n"
        "                             statistics); a run already stored is skipped\n"
        "  list                       every series (case on a host): points, last commit, median\n"
        "  show CASE[@HOST]           the points of one case, oldest first\n"
        "  plot CASE[@HOST]|--all [--out DIR]\n"
        "                             trend charts (PNG and SVG, gnuplot): median over commits\n"
        "                             with its 95%% CI band, regressions marked (default DIR:\n"
        "                             results/history-charts)\n"
        "  check NEW.json [--window N] [--threshold PCT] [--mads K] [--counts [--count-threshold PCT]]\n"
        "                             compare each case of NEW with the median and MAD of the\n"
        "                             last N points of its series (default 10): slower needs a\n"
        "                             change beyond PCT (default 5) AND beyond K scaled MADs\n"
        "                             (default 3); exit 1 on a regression\n"
        "                             --counts: where NEW and the window recorded instructions per\n"
        "                             rep, judge on those instead (compare --counts' rules: more\n"
        "                             than PCT, default 2, above the window's median is slower;\n"
        "                             modelled work that differs from the newest point is\n"
        "                             work-changed); elsewhere 'counts: unavailable' and the\n"
        "                             throughput verdict stands\n"
        "\n"
        "CASE is workload/preset/quant/backend/device/tTHREADS/phase[?params], as `history list`\n"
        "prints it (device '-' where a schema-1 file did not record it).\n"
        "--db FILE: the database (default $GENCOST_HISTORY, else " GC_HISTORY_DEFAULT_DB ").\n"
        "Concurrent writers are safe: each add is one transaction; a busy database is waited for.\n"
        "exit status: 0 ok, 1 check found a regression, 2 bad input\n");
}

typedef struct hist_args {
    const char *db;
    const char *action;
    const char *pos[256];
    int n_pos;
    const char *out;
    bool all;
    gc_hist_check_opts check;
} hist_args;

static int parse_value_opt(const char *s, const char *v, hist_args *a) {
    long l;
    double d;
    if (!strcmp(s, "--db"))
        a->db = v;
    else if (!strcmp(s, "--out"))
        a->out = v;
    else if (!strcmp(s, "--window")) {
        if (gc_parse_int(v, 1, 100000, &l))
            return gc_die_usage("history: --window '%s' is not an integer in 1..100000", v);
        a->check.window = (int)l;
    } else if (!strcmp(s, "--threshold")) {
        if (gc_parse_double(v, 0, 1000, &d))
            return gc_die_usage("history: --threshold '%s' is not a percentage in 0..1000", v);
        a->check.threshold = d / 100;
    } else if (!strcmp(s, "--mads")) {
        if (gc_parse_double(v, 0, 1000, &d))
            return gc_die_usage("history: --mads '%s' is not a number in 0..1000", v);
        a->check.mads = d;
    } else if (!strcmp(s, "--count-threshold")) {
        if (gc_parse_double(v, 0, 1000, &d))
            return gc_die_usage("history: --count-threshold '%s' is not a percentage in 0..1000", v);
        a->check.count_threshold = d / 100;
    } else
        return gc_die_usage("history: unknown option '%s' (try: gencost history --help)", s);
    return 0;
}

/* Returns 0, GC_EXIT_USAGE after printing the problem, or -1 when --help was printed. */
static int parse_args(int argc, char **argv, hist_args *a) {
    memset(a, 0, sizeof *a);
    history_check_defaults(&a->check);
    const char *env = getenv("GENCOST_HISTORY");
    a->db = env && *env ? env : GC_HISTORY_DEFAULT_DB;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(s, "--all")) {
            a->all = true;
        } else if (!strcmp(s, "--counts")) {
            a->check.counts = true;
        } else if (!strncmp(s, "--", 2)) {
            if (i + 1 >= argc)
                return gc_die_usage("history: %s needs a value", s);
            int rc = parse_value_opt(s, argv[++i], a);
            if (rc)
                return rc;
        } else if (!a->action) {
            a->action = s;
        } else if (a->n_pos < 256) {
            a->pos[a->n_pos++] = s;
        } else {
            return gc_die_usage("history: too many arguments (at most 256 files per add)");
        }
    }
    if (!a->action)
        return gc_die_usage("history: needs an action: add, list, show, plot or check "
                            "(try: gencost history --help)");
    return 0;
}

static int open_db(const hist_args *a, gc_history **h) {
    gc_err err;
    if (history_open(a->db, h, &err)) {
        fprintf(stderr, "gencost: %s\n", err.msg);
        return GC_EXIT_USAGE;
    }
    return 0;
}

/* Every file is read first, so a malformed one stores nothing. */
static int act_add(const hist_args *a, gc_history *h) {
    if (a->n_pos < 1)
        return gc_die_usage("history add: needs at least one results file");
    gc_results *r = calloc((size_t)a->n_pos, sizeof *r);
    if (!r)
        return gc_die_usage("history add: out of memory");
    gc_err err;
    int rc = 0, n_read = 0;
    for (; n_read < a->n_pos; n_read++)
        if (results_read(a->pos[n_read], &r[n_read], &err)) {   /* frees its own on failure */
            rc = gc_die_usage("history add: %s", err.msg);
            break;
        }
    for (int i = 0; i < n_read && !rc; i++) {
        int added = 0;
        if (history_add(h, &r[i], a->pos[i], &added, &err))
            rc = gc_die_usage("history add: %s: %s", a->pos[i], err.msg);
        else if (added)
            printf("added %s: %d cases (%s, commit %s)\n", a->pos[i], added, r[i].host_name,
                   r[i].git_commit);
        else
            printf("skipped %s: this run is already in %s\n", a->pos[i], a->db);
    }
    for (int i = 0; i < n_read; i++)
        results_free(&r[i]);
    free(r);
    return rc;
}

static int act_list(const hist_args *a, gc_history *h) {
    gc_hist_series *s = NULL;
    int n = 0;
    gc_err err;
    if (history_series(h, &s, &n, &err))
        return gc_die_usage("history list: %s", err.msg);
    if (!n)
        printf("%s holds no results yet (gencost history add RESULTS.json)\n", a->db);
    else
        printf("%-44s %-20s %6s  %-12s %-20s %s\n", "case", "host", "points", "last commit",
               "last time", "last median");
    for (int i = 0; i < n; i++)
        printf("%-44s %-20s %6d  %-12.12s %-20s %.4g %s/s\n", s[i].key, s[i].host,
               s[i].n_points, s[i].last_commit, s[i].last_time, s[i].last_median, s[i].unit);
    free(s);
    return 0;
}

/* "key@host" → key and host (NULL when no host is given). */
static void split_case(const char *arg, char *key, size_t n, const char **host) {
    snprintf(key, n, "%s", arg);
    char *at = strchr(key, '@');
    *host = NULL;
    if (at) {
        *at = 0;
        *host = at + 1;
    }
}

static int act_show(const hist_args *a, gc_history *h) {
    if (a->n_pos != 1)
        return gc_die_usage("history show: needs one CASE (see: gencost history list)");
    char key[512];
    const char *host;
    split_case(a->pos[0], key, sizeof key, &host);
    gc_hist_point *p = NULL;
    int n = 0;
    gc_err err;
    if (history_points(h, key, host, &p, &n, &err))
        return gc_die_usage("history show: %s", err.msg);
    if (!n) {
        free(p);
        return gc_die_usage("history show: no points for '%s' in %s (see: gencost history list)",
                            a->pos[0], a->db);
    }
    printf("%s\n%-20s %-14s %-20s %-7s %4s %12s %25s\n", a->pos[0], "time", "commit", "host",
           "status", "n", "median", "95% CI");
    for (int i = 0; i < n; i++)
        printf("%-20s %-14.14s %-20s %-7s %4d %12.5g [%10.5g, %10.5g] %s/s\n", p[i].time,
               p[i].commit, p[i].host, p[i].status, p[i].n, p[i].median, p[i].ci_low,
               p[i].ci_high, p[i].unit);
    free(p);
    return 0;
}

static int act_plot(const hist_args *a, gc_history *h) {
    if (a->all == (a->n_pos == 1))
        return gc_die_usage("history plot: needs one CASE or --all");
    gc_hist_series *s = NULL;
    int n = 0, files = 0, drawn = 0;
    gc_err err;
    if (history_series(h, &s, &n, &err))
        return gc_die_usage("history plot: %s", err.msg);
    char key[512];
    const char *host = NULL;
    if (!a->all)
        split_case(a->pos[0], key, sizeof key, &host);
    const char *dir = a->out ? a->out : "results/history-charts";
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (!a->all && (strcmp(s[i].key, key) || (host && strcmp(s[i].host, host))))
            continue;
        if (history_plot(h, &s[i], &a->check, dir, &files, &err))
            rc = gc_die_usage("%s", err.msg);
        drawn++;
    }
    free(s);
    if (!rc && !drawn)
        return gc_die_usage("history plot: no series '%s' in %s (see: gencost history list)",
                            a->all ? "(any)" : a->pos[0], a->db);
    if (!rc)
        printf("wrote %d charts (%d series, PNG and SVG) to %s\n", files, drawn, dir);
    return rc;
}

static int act_check(const hist_args *a, gc_history *h) {
    if (a->n_pos != 1)
        return gc_die_usage("history check: needs one results file NEW.json");
    gc_results r;
    gc_err err;
    if (results_read(a->pos[0], &r, &err))
        return gc_die_usage("history check: %s", err.msg);
    gc_hist_check *c = NULL;
    int n = 0;
    if (history_check(h, &r, &a->check, &c, &n, &err)) {
        results_free(&r);
        return gc_die_usage("history check: %s", err.msg);
    }
    int bad = 0;
    printf("%s against the last %d points of each series in %s\n", a->pos[0], a->check.window,
           a->db);
    for (int i = 0; i < n; i++) {
        bad += c[i].verdict == GC_SLOWER || c[i].verdict == GC_BROKEN;
        printf("%-8s %s@%s: %.4g %s/s vs history %.4g (MAD %.3g, %d points): %s\n",
               compare_verdict_name(c[i].verdict), c[i].key, c[i].host, c[i].new_median,
               c[i].unit, c[i].hist_median, c[i].hist_mad, c[i].n_window, c[i].why);
        if (c[i].counts == GC_COUNTS_COMPARED)   /* else `why` says what the counts were */
            printf("         counts: %.6g instructions/rep vs window median %.6g (x%.4f); time: %s\n",
                   c[i].new_instructions, c[i].hist_instructions, c[i].ins_ratio,
                   compare_verdict_name(c[i].time_verdict));

    }
    printf("%d regression%s\n", bad, bad == 1 ? "" : "s");
    free(c);
    results_free(&r);
    return bad ? 1 : 0;
}

int cmd_history(int argc, char **argv) {
    hist_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    static const struct {
        const char *name;
        int (*fn)(const hist_args *, gc_history *);
    } acts[] = {{"add", act_add}, {"list", act_list}, {"show", act_show}, {"plot", act_plot},
                {"check", act_check}};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        if (strcmp(a.action, acts[i].name))
            continue;
        /* reading actions never create a database as a side effect; check may meet an empty
         * history on a project's first CI run, which is not an error */
        bool reads = i >= 1 && i <= 3;
        if (reads && access(a.db, F_OK))
            return gc_die_usage("history: no database at %s (create one with: gencost history "
                                "add RESULTS.json, or pass --db FILE)", a.db);
        gc_history *h = NULL;
        if ((rc = open_db(&a, &h)))
            return rc;
        rc = acts[i].fn(&a, h);
        history_close(h);
        return rc;
    }
    return gc_die_usage("history: unknown action '%s' (add, list, show, plot, check)", a.action);
}
