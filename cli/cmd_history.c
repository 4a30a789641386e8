/* gencost history: results over time in an SQLite database (add, list, show, plot, check). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/commands.h"
#include "cli/opts.h"
#include "bench/regress/history.h"
#include "base/util.h"

/* Text read from a history database (which may have been edited by hand) as printed: control
 * bytes escaped (gc_esc), so a stored ESC or newline cannot drive the terminal or split a row. */
#define SHOWN(s) gc_esc((s), (char[GC_CASE_KEY_LEN * 2]){0}, GC_CASE_KEY_LEN * 2)

#define MAX_OPTS 16
#define MAX_FILES 256

static void usage(FILE *f, const gc_opt *t, int n) {
    fputs("usage: gencost history [--db FILE] <action> ...\n"
          "\n"
          "  add RESULTS.json...        store every case (commit, time, host, parameters, samples,\n"
          "                             statistics); a run already stored is skipped\n"
          "  list                       every series (case on a host): points, last commit, median\n"
          "  show CASE[@HOST]           the points of one case, oldest first\n"
          "  plot CASE[@HOST]|--all [--out DIR]\n"
          "                             trend charts (PNG and SVG, gnuplot): median over commits\n"
          "                             with its 95% CI band, regressions marked\n"
          "  check NEW.json [--window N] [--threshold PCT] [--mads K] [--counts [--count-threshold PCT]]\n"
          "                             compare each case of NEW with the median and MAD of the\n"
          "                             last N points of its series: slower needs a change beyond\n"
          "                             PCT AND beyond K scaled MADs; exit 1 on a regression, exit 3\n"
          "                             when no case of NEW has history (nothing checked)\n"
          "\n"
          "CASE is workload/preset/quant/backend/device/tTHREADS/phase[?params], as `history list`\n"
          "prints it (device '-' where a schema-1 file did not record it).\n"
          "Concurrent writers are safe: each add is one transaction; a busy database is waited for.\n"
          "list, show, plot and check only read: they run while another process writes.\n"
          "\n",
          f);
    gc_opts_usage(f, t, n);
    fputs("\nexit status: 0 ok, 1 check found a regression, 2 bad input, 3 check had no history for\n"
          "             any case of NEW (nothing checked)\n", f);
}

typedef struct hist_args {
    const char *db;
    const char *action;
    const char *pos[MAX_FILES];
    int n_pos;
    const char *out;
    bool all;
    long window;
    double threshold_pct, count_threshold_pct;
    bool threshold_set, count_threshold_set;
    gc_hist_check_opts check;
} hist_args;

/* The options of history, declared once for parsing and for --help: into t[0..MAX_OPTS). */
static int option_table(hist_args *a, gc_opt *t) {
    /* clang-format off */
    const gc_opt table[] = {
        {.help = "options:"},
        {.name = "--db", .kind = GC_OPT_STRING, .dest = &a->db, .metavar = "FILE",
         .help = "the database (default $GENCOST_HISTORY, else " GC_HISTORY_DEFAULT_DB ")"},
        {.name = "--all", .kind = GC_OPT_FLAG, .dest = &a->all, .help = "plot: every series"},
        {.name = "--out", .kind = GC_OPT_STRING, .dest = &a->out, .metavar = "DIR",
         .help = "plot: chart folder (default results/history-charts)"},
        {.name = "--window", .kind = GC_OPT_INT, .dest = &a->window, .lo = 1, .hi = 100000, .metavar = "N",
         .help = "check: points of each series NEW is compared with (default 10)"},
        {.name = "--threshold", .kind = GC_OPT_DOUBLE, .dest = &a->threshold_pct, .lo = 0, .hi = 1000,
         .metavar = "PCT", .seen = &a->threshold_set,
         .help = "check: smallest change that counts, in percent (default 5)"},
        {.name = "--mads", .kind = GC_OPT_DOUBLE, .dest = &a->check.mads, .lo = 0, .hi = 1000, .metavar = "K",
         .help = "check: scaled MADs a slower case must also exceed (default 3)"},
        {.name = "--counts", .kind = GC_OPT_FLAG, .dest = &a->check.counts,
         .help = "check: where NEW and the window recorded instructions per rep, judge on"},
        {.help = "                         those (compare --counts' rules: more than PCT above the window's\n"
                 "                         median is slower; modelled work that differs from the newest\n"
                 "                         point is work-changed); elsewhere 'counts: unavailable' and the\n"
                 "                         throughput verdict stands"},
        {.name = "--count-threshold", .kind = GC_OPT_DOUBLE, .dest = &a->count_threshold_pct, .lo = 0,
         .hi = 1000, .metavar = "PCT", .seen = &a->count_threshold_set,
         .help = "check --counts: smallest change that counts (default 2)"},
    };
    /* clang-format on */
    _Static_assert(GC_N_OPTS(table) <= MAX_OPTS, "MAX_OPTS is too small");
    memcpy(t, table, sizeof table);
    return GC_N_OPTS(table);
}

/* Returns 0, GC_EXIT_USAGE after printing the problem, or -1 when --help was printed. */
static int parse_args(int argc, char **argv, hist_args *a) {
    memset(a, 0, sizeof *a);
    history_check_defaults(&a->check);
    a->window = a->check.window;
    const char *env = getenv("GENCOST_HISTORY");
    a->db = env && *env ? env : GC_HISTORY_DEFAULT_DB;
    gc_opt t[MAX_OPTS];
    int n = option_table(a, t), n_pos;
    const char *pos[1 + MAX_FILES];
    bool help;
    gc_err err;
    if (gc_opts_parse(t, n, argc, argv, 1, pos, 1 + MAX_FILES, &n_pos, &help, &err))
        return gc_opts_die("history", &err);
    if (help) {
        usage(stdout, t, n);
        return -1;
    }
    if (!*a->db)
        return gc_die_usage("history: --db is empty (an empty name is SQLite's temporary database: "
                            "nothing would be kept)");
    if (!n_pos)
        return gc_die_usage("history: needs an action: add, list, show, plot or check "
                            "(try: gencost history --help)");
    a->action = pos[0];
    a->n_pos = n_pos - 1;
    memcpy(a->pos, pos + 1, (size_t)a->n_pos * sizeof *pos);
    a->check.window = (int)a->window;
    if (a->threshold_set) a->check.threshold = a->threshold_pct / 100;
    if (a->count_threshold_set) a->check.count_threshold = a->count_threshold_pct / 100;
    return 0;
}

static int open_db(const hist_args *a, bool read_only, gc_history **h) {
    gc_err err;
    if ((read_only ? history_open_read : history_open)(a->db, h, &err)) {
        fprintf(stderr, "gencost: %s\n", err.msg);
        return GC_EXIT_USAGE;
    }
    return 0;
}

/* Every file is read first, so a malformed one stores nothing. */
static int act_add(const hist_args *a, gc_history *h) {
    if (a->n_pos < 1) return gc_die_usage("history add: needs at least one results file");
    gc_results *r = calloc((size_t)a->n_pos, sizeof *r);
    if (!r) return gc_die_usage("history add: out of memory");
    gc_err err;
    int rc = 0, n_read = 0;
    for (; n_read < a->n_pos; n_read++)
        if (results_read(a->pos[n_read], &r[n_read], &err)) { /* frees its own on failure */
            rc = gc_die_usage("history add: %s", err.msg);
            break;
        }
    for (int i = 0; i < n_read && !rc; i++) {
        int added = 0;
        if (history_add(h, &r[i], a->pos[i], &added, &err))
            rc = gc_die_usage("history add: %s: %s", a->pos[i], err.msg);
        else if (added)
            printf("added %s: %d cases (%s, commit %s)\n", a->pos[i], added, r[i].host_name, r[i].git_commit);
        else
            printf("skipped %s: this run is already in %s\n", a->pos[i], a->db);
    }
    for (int i = 0; i < n_read; i++) results_free(&r[i]);
    free(r);
    return rc;
}

static int act_list(const hist_args *a, gc_history *h) {
    gc_hist_series *s = NULL;
    int n = 0;
    gc_err err;
    if (history_series(h, &s, &n, &err)) return gc_die_usage("history list: %s", err.msg);
    if (!n)
        printf("%s holds no results yet (gencost history add RESULTS.json)\n", a->db);
    else
        printf("%-44s %-20s %6s  %-12s %-20s %s\n", "case", "host", "points", "last commit", "last time",
               "last median");
    for (int i = 0; i < n; i++)
        printf("%-44s %-20s %6d  %-12.12s %-20s %.4g %s/s\n", SHOWN(s[i].key), SHOWN(s[i].host), s[i].n_points,
               SHOWN(s[i].last_commit), SHOWN(s[i].last_time), s[i].last_median, SHOWN(s[i].unit));
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
    if (a->n_pos != 1) return gc_die_usage("history show: needs one CASE (see: gencost history list)");
    char key[GC_CASE_KEY_LEN + 130]; /* "key@host" */
    const char *host;
    split_case(a->pos[0], key, sizeof key, &host);
    gc_hist_point *p = NULL;
    int n = 0;
    gc_err err;
    if (history_points(h, key, host, &p, &n, &err)) return gc_die_usage("history show: %s", err.msg);
    if (!n) {
        free(p);
        return gc_die_usage("history show: no points for '%s' in %s (see: gencost history list)", a->pos[0],
                            a->db);
    }
    printf("%s\n%-20s %-14s %-20s %-7s %4s %12s %25s\n", a->pos[0], "time", "commit", "host", "status", "n",
           "median", "95% CI");
    for (int i = 0; i < n; i++)
        printf("%-20s %-14.14s %-20s %-7s %4d %12.5g [%10.5g, %10.5g] %s/s\n", SHOWN(p[i].time), SHOWN(p[i].commit),
               SHOWN(p[i].host), SHOWN(p[i].status), p[i].n, p[i].median, p[i].ci_low, p[i].ci_high, SHOWN(p[i].unit));
    free(p);
    return 0;
}

static int act_plot(const hist_args *a, gc_history *h) {
    if (a->all == (a->n_pos == 1)) return gc_die_usage("history plot: needs one CASE or --all");
    gc_hist_series *s = NULL;
    int n = 0, files = 0, drawn = 0;
    gc_err err;
    if (history_series(h, &s, &n, &err)) return gc_die_usage("history plot: %s", err.msg);
    char key[GC_CASE_KEY_LEN + 130]; /* "key@host" */
    const char *host = NULL;
    if (!a->all) split_case(a->pos[0], key, sizeof key, &host);
    const char *dir = a->out ? a->out : "results/history-charts";
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (!a->all && (strcmp(s[i].key, key) || (host && strcmp(s[i].host, host)))) continue;
        if (history_plot(h, &s[i], &a->check, dir, &files, &err)) rc = gc_die_usage("%s", err.msg);
        drawn++;
    }
    free(s);
    if (!rc && !drawn)
        return gc_die_usage("history plot: no series '%s' in %s (see: gencost history list)",
                            a->all ? "(any)" : a->pos[0], a->db);
    if (!rc) printf("wrote %d charts (%d series, PNG and SVG) to %s\n", files, drawn, dir);
    return rc;
}

static int act_check(const hist_args *a, gc_history *h) {
    if (a->n_pos != 1) return gc_die_usage("history check: needs one results file NEW.json");
    gc_results r;
    gc_err err;
    if (results_read(a->pos[0], &r, &err)) return gc_die_usage("history check: %s", err.msg);
    gc_hist_check *c = NULL;
    int n = 0;
    if (history_check(h, &r, &a->check, &c, &n, &err)) {
        results_free(&r);
        return gc_die_usage("history check: %s", err.msg);
    }
    int bad = 0, with_history = 0;
    printf("%s against the last %d points of each series in %s\n", a->pos[0], a->check.window, a->db);
    for (int i = 0; i < n; i++) {
        bad += c[i].verdict == GC_SLOWER || c[i].verdict == GC_BROKEN;
        with_history += c[i].n_window > 0;
        printf("%-8s %s@%s: %.4g %s/s vs history %.4g (MAD %.3g, %d points): %s\n",
               compare_verdict_name(c[i].verdict), c[i].key, c[i].host, c[i].new_median, c[i].unit,
               c[i].hist_median, c[i].hist_mad, c[i].n_window, c[i].why);
        if (c[i].counts == GC_COUNTS_COMPARED) /* else `why` says what the counts were */
            printf("         counts: %.6g instructions/rep vs window median %.6g (x%.4f); time: %s\n",
                   c[i].new_instructions, c[i].hist_instructions, c[i].ins_ratio,
                   compare_verdict_name(c[i].time_verdict));
    }
    int rc = bad ? 1 : 0;
    if (!bad && !with_history) {
        /* a CI gate that checks nothing must not pass as "0 regressions" */
        printf("nothing checked: no case of %s has history in %s (%d cases; another thread count, "
               "preset, parameter or host is another series)\n", a->pos[0], a->db, n);
        fprintf(stderr, "gencost: history check: nothing checked: no case of %s has history in %s\n",
                a->pos[0], a->db);
        rc = GC_EXIT_NOTHING_COMPARED;
    } else if (2 * (n - with_history) > n) {
        printf("%d regression%s; only %d of %d NEW cases have history\n", bad, bad == 1 ? "" : "s",
               with_history, n);
    } else {
        printf("%d regression%s\n", bad, bad == 1 ? "" : "s");
    }
    free(c);
    results_free(&r);
    return rc;
}

int cmd_history(int argc, char **argv) {
    hist_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    static const struct {
        const char *name;
        int (*fn)(const hist_args *, gc_history *);
    } acts[] = {
        {"add", act_add}, {"list", act_list}, {"show", act_show}, {"plot", act_plot}, {"check", act_check}};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        if (strcmp(a.action, acts[i].name)) continue;
        /* reading actions never create a database as a side effect nor take its write lock;
         * check may meet no database on a project's first CI run: it then creates an empty one
         * and says "nothing checked" (exit 3) */
        bool reads = i >= 1 && i <= 3, missing = access(a.db, F_OK) != 0;
        if (reads && missing)
            return gc_die_usage("history: no database at %s (create one with: gencost history "
                                "add RESULTS.json, or pass --db FILE)",
                                a.db);
        gc_history *h = NULL;
        if ((rc = open_db(&a, i >= 1 && !missing, &h))) return rc;
        rc = acts[i].fn(&a, h);
        history_close(h);
        return rc;
    }
    return gc_die_usage("history: unknown action '%s' (add, list, show, plot, check)", a.action);
}
