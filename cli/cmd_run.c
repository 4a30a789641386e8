/* gencost run: options -> plan (checked against the registry and this build's backends) ->
 * runner. Every bad input is one line on stderr and exit status 2, before anything runs.
 *
 * The run's own options are one table (cli/opts.h); each workload's own options come from its
 * gc_param table (bench/workload.h): every name any workload declares is accepted while parsing,
 * then checked against the workloads the run chose (an option none of them takes is bad input)
 * and handed to the plan lines of the workloads that declare it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "base/exec.h"
#include "bench/energy/energy.h"
#include "bench/host/facts.h"
#include "bench/host/profile.h"
#include "bench/runner.h"
#include "bench/suites.h"
#include "kernels/backend.h"
#include "kernels/platform.h"

#define MAX_STORAGE 64
#define MAX_NAMES 64  /* distinct workload parameter names over the registry */
#define MAX_TABLE 256 /* run's options plus every workload's parameters, for --help */
#define ISA_NAMES "scalar,avx2,avx512,amx,neon,dotprod,i8mm"

/* The workload parameters as options: one per distinct name, its value as given (text). */
typedef struct param_opts {
    int n;
    const gc_param *first[MAX_NAMES]; /* the first declaration of each name (metavar, alias) */
    char flag[MAX_NAMES][40], alias[MAX_NAMES][40];
    const char *given[MAX_NAMES];
} param_opts;

typedef struct run_args {
    const char *workloads, *presets, *quants, *backends, *isas, *threads, *out, *suite;
    long reps, warmup, seed;
    double min_time;
    bool reps_set, min_time_set, isa_set;
    gc_options opt;
    param_opts po;
    char note[640];             /* the suite's GPU lines left out, said once the plan is good */
    char *storage[MAX_STORAGE]; /* copies the plan's strings point into */
    int n_storage;
} run_args;

/* ---- the option table ---------------------------------------------------------------------- */

static int table_head(run_args *a, gc_opt *t) {
    gc_options *o = &a->opt;
    /* clang-format off */
    const gc_opt head[] = {
        {.help = "matrix (comma lists):"},
        {.name = "--workload", .kind = GC_OPT_STRING, .dest = &a->workloads, .metavar = "W[,W]",
         .help = "workloads (gencost list shows them)"},
        {.name = "--preset", .kind = GC_OPT_STRING, .dest = &a->presets, .metavar = "P[,P]",
         .help = "presets (default: each workload's first)"},
        {.name = "--quant", .kind = GC_OPT_STRING, .dest = &a->quants, .metavar = "Q[,Q]",
         .help = "quant types (default: each workload's first)"},
        {.name = "--backend", .kind = GC_OPT_STRING, .dest = &a->backends, .metavar = "B[,B]",
         .help = "backends (default: each workload's first)"},
        {.name = "--isa", .kind = GC_OPT_STRING, .dest = &a->isas, .metavar = "I[,I]", .seen = &a->isa_set,
         .help = "cpu micro-kernels: scalar|avx2|avx512|amx|neon|dotprod|i8mm (default $GENCOST_ISA or best)"},
        {.name = "--threads", .kind = GC_OPT_STRING, .dest = &a->threads, .metavar = "N[,N|all]",
         .help = "CPU threads; all = every physical core (default: per workload)"},
        {.name = "--suite", .kind = GC_OPT_STRING, .dest = &a->suite, .metavar = "NAME",
         .help = "default | full | smoke (smoke implies --quick); not with --workload"},
        {.help = "measurement:"},
        {.name = "--reps", .kind = GC_OPT_INT, .dest = &a->reps, .lo = 1, .hi = 1000000, .metavar = "N",
         .seen = &a->reps_set, .help = "minimum timed repetitions per phase (default 5; 3 with --quick)"},
        {.name = "--warmup", .kind = GC_OPT_INT, .dest = &a->warmup, .lo = 0, .hi = 10000, .metavar = "N",
         .help = "warm-up runs per phase (default 1)"},
        {.name = "--min-time", .kind = GC_OPT_DOUBLE, .dest = &a->min_time, .lo = 0, .hi = 86400,
         .metavar = "S", .seen = &a->min_time_set,
         .help = "minimum seconds of timed repetitions per phase (default 1; 0.2 with --quick)"},
        {.name = "--quick", .kind = GC_OPT_FLAG, .dest = &o->quick,
         .help = "small sizes and few repetitions, for smoke runs"},
        {.name = "--phases", .kind = GC_OPT_STRING, .dest = &o->phases, .metavar = "LIST",
         .help = "only these phases (e.g. decode); cases with none of them are skipped"},
        {.name = "--seed", .kind = GC_OPT_INT, .dest = &a->seed, .lo = 0, .hi = 2147483647, .metavar = "N",
         .help = "seed of synthetic weights and inputs (default 42)"},
        {.name = "--smt", .kind = GC_OPT_FLAG, .dest = &o->smt,
         .help = "allow SMT siblings when pinning threads"},
    };
    /* clang-format on */
    memcpy(t, head, sizeof head);
    return (int)(sizeof head / sizeof *head);
}

static int table_tail(run_args *a, gc_opt *t) {
    gc_options *o = &a->opt;
    /* clang-format off */
    const gc_opt tail[] = {
        {.help = "energy:"},
        {.name = "--meter", .kind = GC_OPT_STRING, .dest = &o->meter, .metavar = "M",
         .help = "energy meter (default: automatic)"},
        {.name = "--host-profile", .kind = GC_OPT_STRING, .dest = &o->profile, .metavar = "FILE",
         .alias = "--profile",
         .help = "host profile (hosts/*.ini) to read for estimated energy (--profile: old name)"},
        {.help = "output:"},
        {.name = "--out", .kind = GC_OPT_STRING, .dest = &a->out, .metavar = "FILE",
         .help = "results file (default results/<host>-<UTC time>.json)"},
        {.name = "--dry-run", .kind = GC_OPT_FLAG, .dest = &o->dry_run,
         .help = "print the cases and run nothing"},
    };
    /* clang-format on */
    memcpy(t, tail, sizeof tail);
    return (int)(sizeof tail / sizeof *tail);
}

/* A registry outgrowing a table is a build defect: said and stopped, never a silently dropped option. */
static _Noreturn void internal_limit(const char *what, int max) {
    fprintf(stderr, "gencost: run: internal: more than %d %s (raise the limit in cli/cmd_run.c)\n", max, what);
    exit(70);
}

/* Every parameter name of the registry, once (the first workload declaring it gives the metavar). */
static void collect_params(param_opts *po) {
    memset(po, 0, sizeof *po);
    for (const gc_workload *const *w = gc_workload_all(); *w; w++)
        for (const gc_param *p = (*w)->params; p && p->name; p++) {
            bool seen = false;
            for (int k = 0; k < po->n && !seen; k++) seen = !strcmp(po->first[k]->name, p->name);
            if (seen) continue;
            if (po->n == MAX_NAMES) internal_limit("workload parameter names", MAX_NAMES);
            po->first[po->n] = p;
            snprintf(po->flag[po->n], sizeof po->flag[0], "--%s", p->name);
            snprintf(po->alias[po->n], sizeof po->alias[0], "--%s", p->alias ? p->alias : "");
            po->n++;
        }
}

static int table_params(param_opts *po, gc_opt *t) {
    for (int k = 0; k < po->n; k++)
        t[k] = (gc_opt){.name = po->flag[k],
                        .kind = GC_OPT_STRING,
                        .dest = &po->given[k],
                        .metavar = po->first[k]->metavar,
                        .alias = po->first[k]->alias ? po->alias[k] : NULL};
    return po->n;
}

/* ---- --help ------------------------------------------------------------------------------- */

static void usage(run_args *a) {
    static char flags[MAX_TABLE][40], helps[MAX_TABLE][200], heads[16][160];
    gc_opt t[MAX_TABLE];
    int n = table_head(a, t), nh = 0;
    for (const gc_workload *const *w = gc_workload_all(); *w && nh < 16; w++) {
        if (!(*w)->params || !(*w)->params[0].name) continue;
        snprintf(heads[nh], sizeof heads[0], "%s options:", (*w)->name);
        t[n++] = (gc_opt){.help = heads[nh++]};
        for (const gc_param *p = (*w)->params; p->name; p++) {
            if (n >= MAX_TABLE - 16) internal_limit("lines of run --help", MAX_TABLE);
            snprintf(flags[n], sizeof flags[0], "--%s", p->name);
            gc_param_help(p, helps[n], sizeof helps[0]);
            t[n] = (gc_opt){.name = flags[n], .kind = GC_OPT_STRING, .metavar = p->metavar, .help = helps[n]};
            n++;
        }
    }
    n += table_tail(a, t + n);
    fputs("usage: gencost run [options]\n"
          "Runs a case matrix (workload x preset x quant x backend x ISA x threads) and writes a results "
          "file.\n"
          "Without --workload the default suite runs. A workload's own options apply to it alone.\n\n",
          stdout);
    gc_opts_usage(stdout, t, n);
    fputs("Exit status: 0 all cases ran and verified, 1 some failed, 2 bad input, 130 interrupted.\n",
          stdout);
}

/* ---- option parsing ------------------------------------------------------------------------ */

static int readable_file(const char *flag, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return gc_die_usage("run: %s: cannot open '%s': %s", flag, path, strerror(errno));
    fclose(f);
    return 0;
}

/* --host-profile is read for one thing, the estimated energy: a profile that does not load, or
 * has no active power to estimate from, is bad input before anything runs (not a warning and a
 * run without energy). */
static int check_host_profile(const char *path) {
    if (readable_file("--host-profile", path)) return GC_EXIT_USAGE;
    gc_profile p;
    gc_err e = {{0}};
    if (profile_load(path, &p, &e)) return gc_die_usage("run: --host-profile: %s", e.msg);
    if (!(p.active_watts > 0))
        return gc_die_usage("run: --host-profile: %s has no active_watts, so it cannot estimate energy", path);
    return 0;
}

/* Checks of single values that need more than the table (meter syntax, a readable file). */
static int check_values(run_args *a) {
    gc_err e = {{0}};
    if (a->opt.meter && energy_check_spec(a->opt.meter, &e)) return gc_die_usage("run: %s", e.msg);
    if (a->opt.profile && check_host_profile(a->opt.profile)) return GC_EXIT_USAGE;
    const char *isas = a->isa_set ? a->isas : getenv("GENCOST_ISA");
    if (isas && !*isas) isas = NULL;
    if (isas) {
        char *store = NULL, *items[GC_MAX_LIST];
        int k = gc_split_list(isas, items, GC_MAX_LIST, &store);
        int rc =
            k <= 0 ? gc_errf(&e, "%s: not a list of micro-kernel sets", a->isa_set ? "--isa" : "GENCOST_ISA")
                   : 0;
        for (int i = 0; i < k && !rc; i++)
            rc = gc_opt_choice(a->isa_set ? "--isa" : "GENCOST_ISA", ISA_NAMES, items[i], &e);
        free(store);
        if (rc) return gc_opts_die("run", &e);
    }
    a->isas = isas;
    return 0;
}

static int parse_args(int argc, char **argv, run_args *a, bool *help) {
    gc_opt t[MAX_TABLE];
    collect_params(&a->po);
    int n = table_head(a, t);
    n += table_params(&a->po, t + n);
    n += table_tail(a, t + n);
    int n_pos;
    gc_err err = {{0}};
    if (gc_opts_parse(t, n, argc, argv, 1, NULL, 0, &n_pos, help, &err)) return gc_opts_die("run", &err);
    if (*help) return 0;
    if (a->reps_set) a->opt.reps = (int)a->reps;
    a->opt.warmup = (int)a->warmup;
    a->opt.seed = (unsigned long)a->seed;
    if (a->min_time_set) a->opt.min_time = a->min_time;
    return check_values(a);
}

/* ---- building the plan --------------------------------------------------------------------- */

static int split(run_args *a, const char *flag, const char *s, const char **items, int *n) {
    char *store = NULL;
    char *tmp[GC_MAX_LIST];
    int k = gc_split_list(s, tmp, GC_MAX_LIST, &store);
    if (k < 0 || a->n_storage == MAX_STORAGE) {
        free(store);
        if (k == GC_SPLIT_EMPTY_ITEM) return gc_die_usage("run: %s: empty item in '%s'", flag, GC_ESC(s));
        return gc_die_usage("run: %s: more than %d values", flag, GC_MAX_LIST);
    }
    a->storage[a->n_storage++] = store;
    if (k == 0) return gc_die_usage("run: %s: empty list", flag);
    for (int i = 0; i < k; i++) items[i] = tmp[i];
    *n = k;
    return 0;
}

static bool in_list(const char *const *list, const char *s) {
    for (int i = 0; list && list[i]; i++)
        if (!strcmp(list[i], s)) return true;
    return false;
}

static void join(const char *const *list, char *buf, size_t n) {
    buf[0] = 0;
    for (int i = 0; list && list[i]; i++) {
        size_t w = strlen(buf);
        snprintf(buf + w, n - w, "%s%s", i ? ", " : "", list[i]);
    }
    if (!buf[0]) snprintf(buf, n, "none");
}

/* Presets or quants of one line: the given ones this workload has, or its default. `given`
 * values no workload of the run has were rejected before (check_axis_known). */
static int axis_for_line(const char *flag, const char *what, const gc_workload *wl, const char *const *known,
                         const char **given, int n_given, const char **out, int *n_out) {
    *n_out = 0;
    if (!known) {
        out[(*n_out)++] = "-";
        return 0;
    }
    if (!n_given) {
        out[(*n_out)++] = known[0];
        return 0;
    }
    for (int i = 0; i < n_given; i++)
        if (in_list(known, given[i])) out[(*n_out)++] = given[i];
    if (*n_out) return 0;
    char names[512];
    join(known, names, sizeof names);
    return gc_die_usage("run: %s: none of the values given is a %s of %s (its %ss: %s)", flag, what, wl->name,
                        what, names);
}

static int check_axis_known(const char *flag, const char *what, const gc_plan *p, bool presets,
                            const char **given, int n) {
    for (int i = 0; i < n; i++) {
        bool found = false;
        char names[768] = "";
        for (int l = 0; l < p->n_lines && !found; l++) {
            const gc_workload *wl = p->lines[l].wl;
            const char *const *known = presets ? wl->presets : wl->quants;
            found = in_list(known, given[i]);
            char one[512];
            join(known, one, sizeof one);
            size_t w = strlen(names);
            snprintf(names + w, sizeof names - w, "%s%s: %s", l ? "; " : "", wl->name, one);
        }
        if (!found)
            return gc_die_usage("run: %s: '%s' is not a %s of the workloads given (%s)", flag, given[i], what,
                                names);
    }
    return 0;
}

static int check_backend(const gc_workload *wl, const char *b) {
    char names[256];
    if (!in_list(gk_backend_names(), b)) {
        join(gk_backend_names(), names, sizeof names);
        return gc_die_usage("run: --backend: unknown backend '%s' (this build has: %s)", b, names);
    }
    if (!in_list(wl->backends, b)) {
        join(wl->backends, names, sizeof names);
        return gc_die_usage("run: --backend: %s does not run on '%s' (it runs on: %s)", wl->name, b, names);
    }
    char why[256] = "";
    if (!gk_backend_available(b, why, sizeof why))
        return gc_die_usage("run: --backend: '%s' is not available here: %s", b, why);
    return 0;
}

/* "1,all" -> {1, physical cores}, duplicates dropped in order. */
static int parse_threads(run_args *a, const char *s, int *out, int *n) {
    const char *items[GC_MAX_LIST];
    int k;
    if (split(a, "--threads", s, items, &k)) return GC_EXIT_USAGE;
    *n = 0;
    for (int i = 0; i < k; i++) {
        long t;
        gc_err e;
        if (!strcmp(items[i], "all"))
            t = gk_physical_cores();
        else if (gc_opt_value("--threads", GC_OPT_INT, 1, 1024, items[i], &t, &e))
            return gc_die_usage("run: %s (or 'all')", e.msg);
        bool dup = false;
        for (int j = 0; j < *n; j++) dup |= out[j] == t;
        if (!dup) out[(*n)++] = (int)t;
    }
    return 0;
}

static int add_line(gc_plan *p, const char *name) {
    if (p->n_lines == GC_MAX_LIST) return gc_die_usage("run: more than %d workloads", GC_MAX_LIST);
    const gc_workload *wl = gc_workload_find(name);
    if (!wl) {
        char names[512] = "";
        for (const gc_workload *const *w = gc_workload_all(); *w; w++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", (*w)->name);
        }
        return gc_die_usage("run: --workload: unknown workload '%s' (known: %s)", name, names);
    }
    gc_plan_line *l = &p->lines[p->n_lines++];
    memset(l, 0, sizeof *l);
    l->wl = wl;
    return 0;
}

/* ---- workload parameters ------------------------------------------------------------------- */

/* v as a value of parameter p (the same wording as the run's own options, cli/opts.c). */
static int check_param(const gc_param *p, const char *flag, const char *v) {
    gc_err e = {{0}};
    int rc = 0;
    if (p->kind == GC_PARAM_INT)
        rc = gc_opt_value(flag, GC_OPT_INT, p->lo, p->hi, v, NULL, &e);
    else if (p->kind == GC_PARAM_DOUBLE)
        rc = gc_opt_value(flag, GC_OPT_DOUBLE, p->lo, p->hi, v, NULL, &e);
    else if (p->choices)
        rc = gc_opt_choice(flag, p->choices, v, &e);
    if (rc) return gc_opts_die("run", &e);
    if (p->check && p->check(v, &e)) return gc_die_usage("run: %s: %s", flag, e.msg);
    return 0;
}

/* Each given parameter: checked for every workload of the run that declares it and handed to its
 * lines; one that no workload of the run takes is bad input. */
static int apply_params(run_args *a, gc_plan *p) {
    const param_opts *po = &a->po;
    for (int k = 0; k < po->n; k++) {
        if (!po->given[k]) continue;
        const gc_workload *done[GC_MAX_LIST];
        int n_done = 0;
        for (int l = 0; l < p->n_lines; l++) {
            const gc_workload *wl = p->lines[l].wl;
            int i = gc_param_find(wl->params, po->first[k]->name);
            if (i < 0) continue;
            bool checked = false;
            for (int j = 0; j < n_done; j++) checked |= done[j] == wl;
            if (!checked && check_param(&wl->params[i], po->flag[k], po->given[k])) return GC_EXIT_USAGE;
            if (!checked) done[n_done++] = wl;
            p->lines[l].params[i] = po->given[k];
        }
        if (n_done) continue;
        char takers[256] = "";
        int n_takers = 0;
        for (const gc_workload *const *w = gc_workload_all(); *w; w++)
            if (gc_param_find((*w)->params, po->first[k]->name) >= 0) {
                size_t len = strlen(takers);
                snprintf(takers + len, sizeof takers - len, "%s%s", len ? ", " : "", (*w)->name);
                n_takers++;
            }
        return gc_die_usage("run: %s: no workload of this run takes %s (%s %s)", po->flag[k], po->flag[k], takers,
                            n_takers > 1 ? "do" : "does");
    }
    return 0;
}

/* A suite line's own parameter values ("prompt=128,gen=32"), where nothing was given. */
static int suite_params(run_args *a, gc_plan_line *l, const char *params) {
    const char *items[GC_MAX_LIST];
    int n = 0;
    if (params && split(a, "suite parameters", params, items, &n)) return GC_EXIT_USAGE;
    for (int i = 0; i < n; i++) {
        char *eq = strchr(items[i], '=');
        if (!eq) continue;
        *eq = 0;
        int k = gc_param_find(l->wl->params, items[i]);
        if (k >= 0 && !l->params[k]) l->params[k] = eq + 1;
    }
    return 0;
}

/* The value of the line's model-file parameter (names_preset), NULL when none was given. */
static const char *line_model(const gc_plan_line *l, const char **name) {
    for (int i = 0; l->wl->params && l->wl->params[i].name; i++)
        if (l->wl->params[i].names_preset && l->params[i]) {
            *name = l->wl->params[i].name;
            return l->params[i];
        }
    return NULL;
}

/* ---- the lines ----------------------------------------------------------------------------- */

static int fill_presets(run_args *a, gc_plan_line *l, const char *presets, const char **quants) {
    const char *pname = NULL, *model = line_model(l, &pname);
    if (model) {
        /* The file is the model: it names the preset axis, and runs as stored unless --quant. */
        if (presets)
            return gc_die_usage("run: --%s and --preset cannot be combined (the file is the model)", pname);
        const char *slash = strrchr(model, '/');
        l->presets[0] = slash ? slash + 1 : model;
        l->n_presets = 1;
        if (!*quants) *quants = "native";
        return 0;
    }
    const char *given[GC_MAX_LIST];
    int n = 0;
    if (presets && split(a, "--preset", presets, given, &n)) return GC_EXIT_USAGE;
    return axis_for_line("--preset", "preset", l->wl, l->wl->presets, given, n, l->presets, &l->n_presets)
               ? GC_EXIT_USAGE
               : 0;
}

/* Fills each line's axes from the given lists (or the suite line's, or the defaults). */
static int fill_line(run_args *a, gc_plan_line *l, const char *presets, const char *quants, const char *backend) {
    const char *given[GC_MAX_LIST];
    int n = 0;
    if (fill_presets(a, l, presets, &quants)) return GC_EXIT_USAGE;
    if (quants && split(a, "--quant", quants, given, &n)) return GC_EXIT_USAGE;
    if (axis_for_line("--quant", "quant type", l->wl, l->wl->quants, given, n, l->quants, &l->n_quants))
        return GC_EXIT_USAGE;
    if (a->backends) {
        if (split(a, "--backend", a->backends, l->backends, &l->n_backends)) return GC_EXIT_USAGE;
    } else {
        l->backends[0] = backend ? backend : l->wl->backends && l->wl->backends[0] ? l->wl->backends[0] : "cpu";
        l->n_backends = 1;
    }
    for (int i = 0; i < l->n_backends; i++)
        if (check_backend(l->wl, l->backends[i])) return GC_EXIT_USAGE;
    if (a->isas && l->wl->takes_isa && split(a, "--isa", a->isas, l->isas, &l->n_isas)) return GC_EXIT_USAGE;
    const char *threads = a->threads ? a->threads : l->wl->default_threads ? l->wl->default_threads : "all";
    return parse_threads(a, threads, l->threads, &l->n_threads);
}

static int plan_from_suite(run_args *a, gc_plan *p, const gc_suite *s) {
    if (s->quick) a->opt.quick = true;
    if (s->reps && !a->reps_set) a->opt.reps = s->reps;
    /* GPU lines run where a GPU can (not when --backend chose the backends); a note otherwise. */
    char why[256] = "", note[320];
    const gc_suite_line *sl[GC_MAX_LIST];
    bool gpu = !a->backends && gc_suite_gpu_here(why, sizeof why);
    int n = gc_suite_select(s, gpu, sl, GC_MAX_LIST, note, sizeof note);
    if (!a->backends && note[0]) snprintf(a->note, sizeof a->note, "note: %s (%s)\n", note, why);
    for (int i = 0; i < n; i++)
        if (add_line(p, sl[i]->workload)) return GC_EXIT_USAGE;
    /* a model file names a case's preset: a suite has its own (said before the file is checked
     * against every workload of the suite that takes one) */
    for (int k = 0; k < a->po.n; k++) {
        if (!a->po.given[k] || !a->po.first[k]->names_preset) continue;
        FILE *f = fopen(a->po.given[k], "rb");
        if (!f)
            return gc_die_usage("run: --%s: cannot open '%s': %s", a->po.first[k]->name, a->po.given[k], strerror(errno));
        fclose(f);
        return gc_die_usage("run: --%s needs --workload (a suite chooses its own presets)", a->po.first[k]->name);
    }
    if (apply_params(a, p)) return GC_EXIT_USAGE;
    for (int i = 0; i < p->n_lines; i++) {
        const char *pname = NULL;
        if (line_model(&p->lines[i], &pname))
            return gc_die_usage("run: --%s needs --workload (a suite chooses its own presets)", pname);
        if (suite_params(a, &p->lines[i], sl[i]->params) ||
            fill_line(a, &p->lines[i], sl[i]->presets, sl[i]->quants, sl[i]->backend))
            return GC_EXIT_USAGE;
    }
    return 0;
}

static int plan_from_workloads(run_args *a, gc_plan *p) {
    const char *names[GC_MAX_LIST];
    int n;
    if (split(a, "--workload", a->workloads, names, &n)) return GC_EXIT_USAGE;
    for (int i = 0; i < n; i++)
        if (add_line(p, names[i])) return GC_EXIT_USAGE;
    if (apply_params(a, p)) return GC_EXIT_USAGE;
    const char *given[GC_MAX_LIST];
    int ng;
    if (a->presets && (split(a, "--preset", a->presets, given, &ng) ||
                       check_axis_known("--preset", "preset", p, true, given, ng)))
        return GC_EXIT_USAGE;
    if (a->quants && (split(a, "--quant", a->quants, given, &ng) ||
                      check_axis_known("--quant", "quant type", p, false, given, ng)))
        return GC_EXIT_USAGE;
    for (int i = 0; i < p->n_lines; i++)
        if (fill_line(a, &p->lines[i], a->presets, a->quants, NULL)) return GC_EXIT_USAGE;
    return 0;
}

/* --isa given for a run none of whose workloads runs micro-kernels asks for nothing. */
static int check_isa_used(const run_args *a, const gc_plan *p) {
    if (!a->isa_set) return 0;
    for (int i = 0; i < p->n_lines; i++)
        if (p->lines[i].wl->takes_isa) return 0;
    char takers[256] = "";
    for (const gc_workload *const *w = gc_workload_all(); *w; w++)
        if ((*w)->takes_isa) {
            size_t len = strlen(takers);
            snprintf(takers + len, sizeof takers - len, "%s%s", len ? ", " : "", (*w)->name);
        }
    return gc_die_usage("run: --isa: no workload of this run runs CPU micro-kernels (%s do)", takers);
}

static int build_plan(run_args *a, gc_plan *p) {
    p->n_lines = 0;
    if (a->suite && (a->workloads || a->presets || a->quants))
        return gc_die_usage("run: --suite cannot be combined with --workload, --preset or --quant");
    if (!a->workloads && (a->presets || a->quants))
        return gc_die_usage("run: %s needs --workload (suites choose their own)",
                            a->presets ? "--preset" : "--quant");
    if (a->workloads) return plan_from_workloads(a, p) || check_isa_used(a, p) ? GC_EXIT_USAGE : 0;
    const char *name = a->suite ? a->suite : gc_suite_all()[0]->name;
    const gc_suite *s = gc_suite_find(name);
    if (!s) {
        char names[256] = "";
        for (const gc_suite *const *x = gc_suite_all(); *x; x++) {
            size_t w = strlen(names);
            snprintf(names + w, sizeof names - w, "%s%s", w ? ", " : "", (*x)->name);
        }
        return gc_die_usage("run: --suite: unknown suite '%s' (known: %s)", name, names);
    }
    return plan_from_suite(a, p, s) || check_isa_used(a, p) ? GC_EXIT_USAGE : 0;
}

/* ---- output path and command line ---------------------------------------------------------- */

static int default_out(char *buf, size_t n) {
    char host[128], stamp[32];
    snprintf(host, sizeof host, "%s", host_get()->name);
    for (char *c = host; *c; c++) /* a hostname may hold characters a file name should not */
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_' || *c == '.'))
            *c = '-';
    gc_utc_compact(stamp, sizeof stamp);
    if (snprintf(buf, n, "results/%s-%s.json", host, stamp) >= (int)n) return -1;
    return 0;
}

static int prepare_out(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = 0;
    gc_err err;
    if (gc_mkdirs(dir, &err)) return gc_die_usage("run: --out: %s", err.msg);
    return 0;
}

/* "gencost run ARGS" as a shell would take it back (base/exec.h quotes it). */
static char *command_line(int argc, char **argv) {
    gc_argv a;
    gc_argv_init(&a);
    gc_argv_add(&a, "gencost");
    gc_argv_addv(&a, (const char *const *)argv, argc);
    char *s = a.oom ? NULL : gc_shell_join((const char *const *)a.v, a.n);
    gc_argv_free(&a);
    return s;
}

/* ---- the command --------------------------------------------------------------------------- */

static int run_plan(run_args *a, const gc_plan *p, int argc, char **argv) {
    gc_err cerr = {{0}};
    if (runner_check(p, &a->opt, &cerr)) return gc_die_usage("run: %s", cerr.msg);
    fputs(a->note, stderr);
    if (a->opt.dry_run) {
        runner_dry_run(p, &a->opt, stdout);
        return 0;
    }
    char out[GC_PATH_MAX]; /* a longer --out is refused, never cut to another path */
    if (a->out && snprintf(out, sizeof out, "%s", a->out) >= (int)sizeof out)
        return gc_die_usage("run: --out: path too long (%zu bytes; at most %d)", strlen(a->out),
                            GC_PATH_MAX - 1);
    if (!a->out && default_out(out, sizeof out))
        return gc_die_usage("run: host name too long for a file name; use --out");
    if (prepare_out(out)) return GC_EXIT_USAGE;
    char *cl = command_line(argc, argv);
    if (cl) {   /* a meter URL's query may hold a token: results keep the command line without it */
        char *shown = malloc(strlen(cl) + 16);
        if (shown) {
            energy_redact_urls(cl, shown, strlen(cl) + 16);
            free(cl);
            cl = shown;
        }
    }
    gc_err err = {{0}};
    int rc = runner_run(p, &a->opt, out, cl, &err);
    free(cl);
    if (rc == GC_EXIT_USAGE) gc_die_usage("run: %s", err.msg);
    return rc;
}

int cmd_run(int argc, char **argv) {
    run_args *a = calloc(1, sizeof *a);
    gc_plan *plan = calloc(1, sizeof *plan);
    if (!a || !plan) {
        free(a);
        free(plan);
        return gc_die_usage("run: out of memory");
    }
    gc_options_defaults(&a->opt);
    a->warmup = a->opt.warmup;
    a->seed = (long)a->opt.seed;
    bool help = false;
    int rc = parse_args(argc, argv, a, &help);
    if (!rc && help) usage(a);
    if (!rc && !help) rc = build_plan(a, plan);
    if (!rc && !help) {
        if (a->opt.quick && !a->reps_set) a->opt.reps = 3;
        if (a->opt.quick && !a->min_time_set) a->opt.min_time = 0.2;
        if (a->opt.max_reps < a->opt.reps) a->opt.max_reps = a->opt.reps;
        rc = run_plan(a, plan, argc, argv);
    }
    free(plan);
    for (int i = 0; i < a->n_storage; i++) free(a->storage[i]);
    free(a);
    return rc;
}
