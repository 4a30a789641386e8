/* gencost compare: regression verdicts between two results files, or between two command lines
 * run alternately on this machine (--interleave). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/commands.h"
#include "cli/opts.h"
#include "bench/regress/compare.h"
#include "bench/stats.h"
#include "base/exec.h"
#include "base/util.h"

#define MAX_OPTS 24

static void usage(FILE *f, const gc_opt *t, int n) {
    fputs("usage: gencost compare BASE.json NEW.json [options]\n"
          "       gencost compare --interleave [--rounds N] [--keep DIR] CMD_A CMD_B [options]\n"
          "\n"
          "Compares every case (workload, preset, parameters, quant, backend, device, threads, phase,\n"
          "host) of NEW with BASE: ratio of median throughputs NEW/BASE with a 95% bootstrap\n"
          "confidence interval, a two-sided Mann-Whitney U test on the raw samples, and a verdict:\n"
          "  slower  p < alpha AND throughput down by more than the threshold (a regression)\n"
          "  faster  p < alpha AND throughput up by more than the threshold\n"
          "  same    change within the threshold (significant or not, CI inside the band)\n"
          "  noisy   too few samples, or the CI reaches beyond the threshold without significance\n"
          "  broken  NEW failed verification or could not run where BASE passed (a regression)\n"
          "Cases present on one side only are listed; when more than half of a side's cases are\n"
          "not in the other, the summary says so (\"only 2 of 10 BASE cases are in NEW\"). When no\n"
          "case is in both (another thread count, preset or host), nothing is judged: the verdict\n"
          "is \"nothing compared\" and the exit status 3, never a silent \"no regression\".\n"
          "\n",
          f);
    gc_opts_usage(f, t, n);
    fputs("\nexit status: 0 no regression, 1 at least one slower or broken case, 2 bad input,\n"
          "             3 nothing compared (no case of BASE is in NEW)\n", f);
}

typedef struct cmp_args {
    gc_compare_opts opt;
    gc_cmp_format format;
    bool interleave, round_medians;
    long rounds, min_samples, seed;
    bool seed_set;
    const char *keep, *threshold, *count_threshold, *format_name;
    const char *pos[2];
    int n_pos;
} cmp_args;

/* clang-format off */
static const char counts_text[] =
    "\n"
    "--counts, per case where BASE and NEW both passed:\n"
    "  work-changed  work_per_rep, bytes_per_rep or flops_per_rep (exact model counts)\n"
    "                differ: the runs did not do the same work, so the case is not\n"
    "                comparable (no regression, nothing judged)\n"
    "  otherwise, with instructions_per_rep recorded on both sides (Linux perf counters),\n"
    "  the verdict comes from the counts and REPLACES the time verdict (still shown):\n"
    "  slower when NEW/BASE instructions > 1 + threshold, faster when < 1 - threshold,\n"
    "  else same. Without a count on a side (e.g. a VM without counters) the case says\n"
    "  'counts: unavailable' and keeps the throughput verdict; no count is estimated.\n"
    "  Single-thread cases count best: at threads > 1 idle pool workers spin briefly\n"
    "  (kernels/platform/pool.c), and those instructions grow with machine load.\n"
    "\n"
    "--interleave runs two gencost command lines alternately, A B A B ..., on this machine,\n"
    "then compares the merged samples of all A runs (BASE) with those of all B runs (NEW).\n"
    "Ratios taken within one session survive machine drift that separate sessions do not.\n"
    "Each CMD is one shell command line (quote it) that writes a results file: the file name\n"
    "replaces {out} when the command contains it, else '--out FILE' is appended. Example:\n"
    "  gencost compare --interleave --rounds 5 \\\n"
    "      'base/build/gencost run --suite smoke' 'build/gencost run --suite smoke'\n"
    "The commands' own output goes to stderr; the comparison goes to stdout.\n"
    "\n"
    "--interleave options:";

/* The options of compare, declared once for parsing and for --help: into t[0..MAX_OPTS). */
static int option_table(cmp_args *a, gc_opt *t) {
    const gc_opt table[] = {
        {.help = "options:"},
        {.name = "--threshold", .kind = GC_OPT_STRING, .dest = &a->threshold, .metavar = "PCT",
         .help = "smallest change that counts, in percent (default 5)"},
        {.name = "--alpha", .kind = GC_OPT_DOUBLE, .dest = &a->opt.alpha, .lo = 1e-12, .hi = 0.5,
         .metavar = "A", .help = "significance level of the U test (default 0.01)"},
        {.name = "--format", .kind = GC_OPT_STRING, .dest = &a->format_name, .metavar = "F",
         .help = "md (pull-request comment, default), text, json"},
        {.name = "--min-samples", .kind = GC_OPT_INT, .dest = &a->min_samples, .lo = 1, .hi = 1000000,
         .metavar = "N", .help = "fewer samples on a side make a case noisy (default 3)"},
        {.name = "--seed", .kind = GC_OPT_INT, .dest = &a->seed, .lo = 0, .hi = 2147483647, .metavar = "N",
         .seen = &a->seed_set,
         .help = "bootstrap seed (default fixed: the same input gives the same output)"},
        {.name = "--any-host", .kind = GC_OPT_FLAG, .dest = &a->opt.any_host,
         .help = "match cases across hosts (compare two machines)"},
        {.name = "--counts", .kind = GC_OPT_FLAG, .dest = &a->opt.counts,
         .help = "CI mode for noisy runners: judge each case on its work counts (rules below)"},
        {.name = "--count-threshold", .kind = GC_OPT_STRING, .dest = &a->count_threshold, .metavar = "PCT",
         .help = "smallest change of instructions per rep that counts, in percent (default 2)"},
        {.help = counts_text},
        {.name = "--interleave", .kind = GC_OPT_FLAG, .dest = &a->interleave,
         .help = "run CMD_A and CMD_B alternately and compare their merged samples"},
        {.name = "--rounds", .kind = GC_OPT_INT, .dest = &a->rounds, .lo = 1, .hi = 1000, .metavar = "N",
         .help = "number of A B pairs (default 5)"},
        {.name = "--keep", .kind = GC_OPT_STRING, .dest = &a->keep, .metavar = "DIR",
         .help = "keep the results files in DIR (default: a temporary folder, removed)"},
        {.name = "--round-medians", .kind = GC_OPT_FLAG, .dest = &a->round_medians,
         .help = "each run is one sample (its median): robust when load bursts hit whole"},
        {.help = "                         runs, which makes the repetitions of one run alike; needs\n"
                 "                         --rounds 5 or more to ever reach p < 0.01"},
    };
    _Static_assert(GC_N_OPTS(table) <= MAX_OPTS, "MAX_OPTS is too small");
    memcpy(t, table, sizeof table);
    return GC_N_OPTS(table);
}
/* clang-format on */

/* "5" or "5%" as a fraction (0.05) of 0..1000 percent. */
static int percent(const char *name, const char *v, double *frac, gc_err *err) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s", v);
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '%') buf[n - 1] = 0;
    double d;
    if (gc_opt_value(name, GC_OPT_DOUBLE, 0, 1000, buf, &d, err))
        return gc_opt_value(name, GC_OPT_DOUBLE, 0, 1000, v, NULL, err); /* names v as given */
    *frac = d / 100;
    return 0;
}

/* The values that need more than the table's checks. */
static int finish_args(cmp_args *a, gc_err *err) {
    if (a->threshold && percent("--threshold", a->threshold, &a->opt.threshold, err)) return -1;
    if (a->count_threshold && percent("--count-threshold", a->count_threshold, &a->opt.count_threshold, err))
        return -1;
    if (a->format_name && compare_parse_format(a->format_name, &a->format))
        return gc_opt_choice("--format", "md,text,json", a->format_name, err);
    a->opt.min_samples = (int)a->min_samples;
    if (a->seed_set) a->opt.seed = (uint64_t)a->seed;
    return 0;
}

/* Returns 0, or GC_EXIT_USAGE after printing the problem; -1 when --help was printed. */
static int parse_args(int argc, char **argv, cmp_args *a) {
    memset(a, 0, sizeof *a);
    compare_opts_defaults(&a->opt);
    a->format = GC_FMT_MD;
    a->rounds = 5;
    a->min_samples = a->opt.min_samples;
    gc_opt t[MAX_OPTS];
    int n = option_table(a, t);
    bool help;
    gc_err err;
    if (gc_opts_parse(t, n, argc, argv, 1, a->pos, 2, &a->n_pos, &help, &err))
        return gc_opts_die("compare", &err);
    if (help) {
        usage(stdout, t, n);
        return -1;
    }
    if (finish_args(a, &err)) return gc_opts_die("compare", &err);
    if (a->n_pos != 2)
        return gc_die_usage(a->interleave ? "compare: --interleave needs two command lines, CMD_A CMD_B"
                                          : "compare: needs two results files, BASE and NEW "
                                            "(try: gencost compare --help)");
    return 0;
}

/* Long work says what it is doing (on stderr: stdout carries the comparison). */
static void say_size(const gc_results *base, int nb, const gc_results *nw, int nn) {
    long cases[2] = {0, 0}, samples = 0;
    for (int side = 0; side < 2; side++)
        for (int f = 0; f < (side ? nn : nb); f++) {
            const gc_results *r = side ? &nw[f] : &base[f];
            cases[side] += r->n_cases;
            for (int i = 0; i < r->n_cases; i++) samples += r->cases[i].n_samples;
        }
    if (cases[0] + cases[1] >= 10000 || samples >= 1000000)
        fprintf(stderr, "gencost: compare: %ld BASE and %ld NEW cases, %ld samples: comparing...\n", cases[0],
                cases[1], samples);
}

static int compare_and_print(const gc_results *base, int nb, const gc_results *nw, int nn, const cmp_args *a,
                             const char *bname, const char *nname) {
    gc_comparison cmp;
    gc_err err;
    say_size(base, nb, nw, nn);
    if (compare_results(base, nb, nw, nn, &a->opt, &cmp, &err)) {
        fprintf(stderr, "gencost: %s\n", err.msg);
        return GC_EXIT_USAGE;
    }
    comparison_print(&cmp, a->format, bname, nname, stdout);
    fflush(stdout);
    int rc = comparison_exit_status(&cmp);
    char cov[256];
    if (rc == GC_EXIT_NOTHING_COMPARED && comparison_coverage(&cmp, cov, sizeof cov))
        fprintf(stderr, "gencost: compare: %s\n", cov);
    comparison_free(&cmp);
    return rc;
}

static int compare_files(const cmp_args *a) {
    gc_results r[2];
    gc_err err;
    if (results_read(a->pos[0], &r[0], &err)) {
        fprintf(stderr, "gencost: compare: BASE %s\n", err.msg);
        return GC_EXIT_USAGE;
    }
    if (results_read(a->pos[1], &r[1], &err)) {
        results_free(&r[0]);
        fprintf(stderr, "gencost: compare: NEW %s\n", err.msg);
        return GC_EXIT_USAGE;
    }
    int rc = compare_and_print(&r[0], 1, &r[1], 1, a, a->pos[0], a->pos[1]);
    results_free(&r[0]);
    results_free(&r[1]);
    return rc;
}

/* ---- interleaved A/B ------------------------------------------------------------------------- */

/* The command with the results path in place of {out}, or with --out PATH appended. */
static char *command_with_out(const char *cmd, const char *path) {
    char *qp = gc_shell_quote(path);
    if (!qp) return NULL;
    const char *at = strstr(cmd, "{out}");
    size_t n = strlen(cmd) + strlen(qp) + 16;
    char *full = malloc(n);
    if (full) {
        if (at)
            snprintf(full, n, "%.*s%s%s", (int)(at - cmd), cmd, qp, at + 5);
        else
            snprintf(full, n, "%s --out %s", cmd, qp);
    }
    free(qp);
    return full;
}

/* Runs one command line on this machine (base/exec.h), in the foreground as a shell would (Ctrl-C
 * reaches it), with its stdout sent to our stderr (our stdout carries the comparison). Returns
 * the exit status, or -1 when it could not run or died on a signal. */
static int run_shell(const char *cmd) {
    const gc_exec local = {.kind = GC_EXEC_LOCAL};
    const gc_exec_io io = {.stdout_to_stderr = true, .same_group = true};
    gc_err err;
    int st = gc_exec_run(&local, cmd, &io, 0, NULL, &err);
    return st > 127 ? -1 : st;
}

/* One side of one round: run, then read the file it wrote. A command that exits 1 (e.g. a case
 * failed verification) still counts when its results file is valid: compare reports it. */
static int run_side(const char *cmd, const char *dir, char side, int round, gc_results *r) {
    char path[4096];
    snprintf(path, sizeof path, "%.3900s/%c-%03d.json", dir, side, round);
    char *full = command_with_out(cmd, path);
    if (!full) return gc_die_usage("compare: out of memory");
    fprintf(stderr, "gencost compare: round %d %c: %s\n", round + 1, side == 'a' ? 'A' : 'B', full);
    int st = run_shell(full);
    free(full);
    if (st != 0 && st != 1)
        return gc_die_usage("compare: command %c (round %d) failed with status %d: %s",
                            side == 'a' ? 'A' : 'B', round + 1, st, cmd);
    gc_err err;
    if (results_read(path, r, &err))
        return gc_die_usage("compare: command %c (round %d) left no readable results: %s",
                            side == 'a' ? 'A' : 'B', round + 1, err.msg);
    return 0;
}

/* Replaces each case's samples by their median: one observation per run. */
static void collapse_to_median(gc_results *r) {
    for (int i = 0; i < r->n_cases; i++) {
        gc_case_result *c = &r->cases[i];
        if (c->n_samples > 1) {
            c->samples_s[0] = stats_median(c->samples_s, c->n_samples);
            c->n_samples = 1;
        }
    }
}

static void remove_tree_files(const char *dir, int rounds) {
    char path[4096];
    for (int i = 0; i < rounds; i++)
        for (const char *s = "ab"; *s; s++) {
            snprintf(path, sizeof path, "%.3900s/%c-%03d.json", dir, *s, i);
            unlink(path);
        }
    rmdir(dir);
}

static int interleave(const cmp_args *a) {
    char tmpl[3900], dir[3900];
    gc_err err;
    if (a->keep) {
        if (gc_mkdirs(a->keep, &err)) return gc_die_usage("compare: --keep %s", err.msg);
        snprintf(dir, sizeof dir, "%s", a->keep);
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(tmpl, sizeof tmpl, "%s/gencost-ab-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpl))
            return gc_die_usage("compare: cannot create a temporary folder %s: %s", tmpl, strerror(errno));
        snprintf(dir, sizeof dir, "%s", tmpl);
    }
    gc_results *ra = calloc((size_t)a->rounds, sizeof *ra);
    gc_results *rb = calloc((size_t)a->rounds, sizeof *rb);
    int na = 0, nb = 0, rc = ra && rb ? 0 : gc_die_usage("compare: out of memory");
    for (int i = 0; i < a->rounds && !rc; i++) {
        rc = run_side(a->pos[0], dir, 'a', i, &ra[na]);
        na += !rc;
        if (!rc) {
            rc = run_side(a->pos[1], dir, 'b', i, &rb[nb]);
            nb += !rc;
        }
    }
    for (int i = 0; a->round_medians && i < na; i++) collapse_to_median(&ra[i]);
    for (int i = 0; a->round_medians && i < nb; i++) collapse_to_median(&rb[i]);
    if (!rc) {
        char bn[4200], nn[4200];
        snprintf(bn, sizeof bn, "A, %d runs: %.4000s", na, a->pos[0]);
        snprintf(nn, sizeof nn, "B, %d runs: %.4000s", nb, a->pos[1]);
        rc = compare_and_print(ra, na, rb, nb, a, bn, nn);
    }
    for (int i = 0; i < na; i++) results_free(&ra[i]);
    for (int i = 0; i < nb; i++) results_free(&rb[i]);
    free(ra);
    free(rb);
    if (!a->keep)
        remove_tree_files(dir, a->rounds);
    else
        fprintf(stderr, "gencost compare: results files kept in %s\n", dir);
    return rc;
}

int cmd_compare(int argc, char **argv) {
    cmp_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    return a.interleave ? interleave(&a) : compare_files(&a);
}
