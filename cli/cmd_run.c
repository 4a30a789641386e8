/* gencost run: options -> plan (checked against the registry and this build's backends) ->
 * runner. Every bad input is one line on stderr and exit status 2, before anything runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "bench/energy/energy.h"
#include "bench/host/facts.h"
#include "bench/runner.h"
#include "bench/suites.h"
#include "bench/gguf/gguf.h"
#include "bench/llm/llm.h"
#include "kernels/backend.h"
#include "kernels/platform.h"

#define MAX_STORAGE 64

typedef struct run_args {
    const char *workloads, *presets, *quants, *backends, *threads, *out, *suite;
    bool reps_set, min_time_set, prompt_set, gen_set;
    gc_options opt;
    char *storage[MAX_STORAGE];   /* copies the plan's strings point into */
    int n_storage;
} run_args;

static const char usage_text[] =
    "usage: gencost run [options]\n"
    "Runs a case matrix (workload x preset x quant x backend x threads) and writes a results file.\n"
    "Without --workload the default suite runs.\n\n"
    "matrix (comma lists):\n"
    "  --workload W[,W]      workloads (gencost list shows them)\n"
    "  --preset P[,P]        presets (default: each workload's first)\n"
    "  --quant Q[,Q]         quant types (default: each workload's first)\n"
    "  --backend B[,B]       backends (default: each workload's first)\n"
    "  --threads N[,N|all]   CPU threads; all = every physical core (default: per workload)\n"
    "  --suite NAME          default | full | smoke (smoke implies --quick); not with --workload\n"
    "measurement:\n"
    "  --reps N              minimum timed repetitions per phase (default 5; 3 with --quick)\n"
    "  --warmup N            warm-up runs per phase (default 1)\n"
    "  --min-time S          minimum seconds of timed repetitions per phase (default 1; 0.2 with --quick)\n"
    "  --quick               small sizes and few repetitions, for smoke runs\n"
    "  --phases LIST         only these phases (e.g. decode)\n"
    "  --seed N              seed of synthetic weights and inputs (default 42)\n"
    "  --smt                 allow SMT siblings when pinning threads\n"
    "text generation (llm):\n"
    "  --prompt P            prompt tokens (default 512)\n"
    "  --gen N               generated tokens (default 128)\n"
    "  --depth D             KV depth of the decode phase (default = --prompt)\n"
    "  --model FILE          a GGUF model instead of the synthetic preset\n"
    "  --kv-type T           KV cache type: f32, f16, q8_0\n"
    "energy:\n"
    "  --meter M             energy meter (default: automatic)\n"
    "  --profile FILE        host profile (hosts/*.ini) for estimated energy\n"
    "output:\n"
    "  --out FILE            results file (default results/<host>-<UTC time>.json)\n"
    "  --dry-run             print the cases and run nothing\n"
    "Exit status: 0 all cases ran and verified, 1 some failed, 2 bad input, 130 interrupted.\n";

/* ---- option parsing ------------------------------------------------------------------------ */

/* Matches "--name" (value in the next argument) or "--name=value". */
static int take(int argc, char **argv, int *i, const char *name, const char **val, int *rc) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n)) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n]) return 0;
    if (*i + 1 >= argc) {
        *rc = gc_die_usage("run: %s needs a value", name);
        return 1;
    }
    *val = argv[++*i];
    return 1;
}

static int int_arg(const char *name, const char *v, long lo, long hi, int *out) {
    long x;
    if (gc_parse_int(v, lo, hi, &x))
        return gc_die_usage("run: %s: '%s' is not a whole number from %ld to %ld", name, v, lo, hi);
    *out = (int)x;
    return 0;
}

static int readable_file(const char *flag, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return gc_die_usage("run: %s: cannot open '%s': %s", flag, path, strerror(errno));
    fclose(f);
    return 0;
}

/* A model file is validated whole before anything runs, as a container and as a model (the
 * metadata agrees with the tensors, every tensor is there with its shape and a supported type):
 * a malformed file is bad input, not a failed case. */
static int valid_gguf(const char *path) {
    if (readable_file("--model", path)) return GC_EXIT_USAGE;
    gguf_file f;
    gc_err e = {{0}};
    if (gguf_open(path, &f, &e)) return gc_die_usage("run: --model: %s", e.msg);
    llm_config c;
    int wtype;
    int rc = llm_config_from_gguf(&f, &c, &wtype, &e);
    gguf_close(&f);
    return rc ? gc_die_usage("run: --model %s: %s", path, e.msg) : 0;
}

static int parse_value(run_args *a, const char *name, const char *v) {
    gc_options *o = &a->opt;
    double d;
    if (!*v) return gc_die_usage("run: %s: empty value", name);
    if (!strcmp(name, "--workload")) a->workloads = v;
    else if (!strcmp(name, "--preset")) a->presets = v;
    else if (!strcmp(name, "--quant")) a->quants = v;
    else if (!strcmp(name, "--backend")) a->backends = v;
    else if (!strcmp(name, "--threads")) a->threads = v;
    else if (!strcmp(name, "--out")) a->out = v;
    else if (!strcmp(name, "--suite")) a->suite = v;
    else if (!strcmp(name, "--phases")) o->phases = v;
    else if (!strcmp(name, "--meter")) {
        gc_err e = {{0}};
        if (energy_check_spec(v, &e)) return gc_die_usage("run: %s", e.msg);
        o->meter = v;
    }
    else if (!strcmp(name, "--reps")) {
        a->reps_set = true;
        return int_arg(name, v, 1, 1000000, &o->reps);
    } else if (!strcmp(name, "--warmup")) return int_arg(name, v, 0, 10000, &o->warmup);
    else if (!strcmp(name, "--prompt")) {
        a->prompt_set = true;
        return int_arg(name, v, 1, 1 << 20, &o->prompt_tokens);
    } else if (!strcmp(name, "--gen")) {
        a->gen_set = true;
        return int_arg(name, v, 1, 1 << 20, &o->gen_tokens);
    }
    else if (!strcmp(name, "--depth")) return int_arg(name, v, 0, 1 << 22, &o->kv_depth);
    else if (!strcmp(name, "--seed")) {
        long s;
        if (gc_parse_int(v, 0, 2147483647L, &s)) return gc_die_usage("run: --seed: '%s' is not a whole number from 0 to 2147483647", v);
        o->seed = (unsigned long)s;
    } else if (!strcmp(name, "--min-time")) {
        if (gc_parse_double(v, 0, 86400, &d)) return gc_die_usage("run: --min-time: '%s' is not a number of seconds from 0 to 86400", v);
        o->min_time = d;
        a->min_time_set = true;
    } else if (!strcmp(name, "--kv-type")) {
        if (strcmp(v, "f32") && strcmp(v, "f16") && strcmp(v, "q8_0"))
            return gc_die_usage("run: --kv-type: '%s' is not one of f32, f16, q8_0", v);
        o->kv_type = v;
    } else if (!strcmp(name, "--model")) {
        o->model_path = v;
        return valid_gguf(v);
    } else if (!strcmp(name, "--profile")) {
        o->profile = v;
        return readable_file(name, v);
    }
    return 0;
}

static int parse_args(int argc, char **argv, run_args *a) {
    static const char *const valued[] = {"--workload", "--preset", "--quant", "--backend", "--threads", "--reps",
                                         "--warmup", "--min-time", "--out", "--suite", "--seed", "--prompt", "--gen",
                                         "--depth", "--model", "--kv-type", "--phases", "--meter", "--profile", NULL};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        int rc = 0, hit = 0;
        for (int k = 0; valued[k] && !hit; k++) {
            hit = take(argc, argv, &i, valued[k], &val, &rc);
            if (hit && !rc) rc = parse_value(a, valued[k], val);
        }
        if (rc) return rc;
        if (hit) continue;
        if (!strcmp(arg, "--quick")) a->opt.quick = true;
        else if (!strcmp(arg, "--dry-run")) a->opt.dry_run = true;
        else if (!strcmp(arg, "--smt")) a->opt.smt = true;
        else if (arg[0] == '-') return gc_die_usage("run: unknown option '%s' (try: gencost run --help)", arg);
        else return gc_die_usage("run: unexpected argument '%s' (options start with --; try: gencost run --help)", arg);
    }
    return 0;
}

/* ---- building the plan --------------------------------------------------------------------- */

static int split(run_args *a, const char *flag, const char *s, const char **items, int *n) {
    char *store = NULL;
    char *tmp[GC_MAX_LIST];
    int k = gc_split_list(s, tmp, GC_MAX_LIST, &store);
    if (k < 0 || a->n_storage == MAX_STORAGE) {
        free(store);
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
    return gc_die_usage("run: %s: none of the values given is a %s of %s (its %ss: %s)", flag, what, wl->name, what, names);
}

static int check_axis_known(const char *flag, const char *what, const gc_plan *p, bool presets, const char **given, int n) {
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
        if (!found) return gc_die_usage("run: %s: '%s' is not a %s of the workloads given (%s)", flag, given[i], what, names);
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
        if (!strcmp(items[i], "all")) t = gk_physical_cores();
        else if (gc_parse_int(items[i], 1, 1024, &t))
            return gc_die_usage("run: --threads: '%s' is not a whole number from 1 to 1024 or 'all'", items[i]);
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

/* Fills each line's axes from the given lists (or the suite line's, or the defaults). */
static int fill_line(run_args *a, gc_plan_line *l, const char *presets, const char *quants) {
    const char *given[GC_MAX_LIST];
    int n = 0;
    if (a->opt.model_path) {
        /* The file is the model: it names the preset axis, and runs as stored unless --quant. */
        if (!l->wl->takes_model) return gc_die_usage("run: --model: workload %s does not take a model file", l->wl->name);
        if (presets) return gc_die_usage("run: --model and --preset cannot be combined (the file is the model)");
        const char *slash = strrchr(a->opt.model_path, '/');
        l->presets[0] = slash ? slash + 1 : a->opt.model_path;
        l->n_presets = 1;
        if (!quants) quants = "native";
    } else {
        if (presets && split(a, "--preset", presets, given, &n)) return GC_EXIT_USAGE;
        if (axis_for_line("--preset", "preset", l->wl, l->wl->presets, given, n, l->presets, &l->n_presets)) return GC_EXIT_USAGE;
    }
    n = 0;
    if (quants && split(a, "--quant", quants, given, &n)) return GC_EXIT_USAGE;
    if (axis_for_line("--quant", "quant type", l->wl, l->wl->quants, given, n, l->quants, &l->n_quants)) return GC_EXIT_USAGE;
    if (a->backends) {
        if (split(a, "--backend", a->backends, l->backends, &l->n_backends)) return GC_EXIT_USAGE;
    } else {
        l->backends[0] = l->wl->backends && l->wl->backends[0] ? l->wl->backends[0] : "cpu";
        l->n_backends = 1;
    }
    for (int i = 0; i < l->n_backends; i++)
        if (check_backend(l->wl, l->backends[i])) return GC_EXIT_USAGE;
    const char *threads = a->threads ? a->threads : l->wl->default_threads ? l->wl->default_threads : "all";
    return parse_threads(a, threads, l->threads, &l->n_threads);
}

static int plan_from_suite(run_args *a, gc_plan *p, const gc_suite *s) {
    if (s->quick) a->opt.quick = true;
    if (s->prompt_tokens && !a->prompt_set) a->opt.prompt_tokens = s->prompt_tokens;
    if (s->gen_tokens && !a->gen_set) a->opt.gen_tokens = s->gen_tokens;
    if (s->reps && !a->reps_set) a->opt.reps = s->reps;
    for (const gc_suite_line *sl = s->lines; sl->workload; sl++) {
        if (add_line(p, sl->workload)) return GC_EXIT_USAGE;
        if (fill_line(a, &p->lines[p->n_lines - 1], sl->presets, sl->quants)) return GC_EXIT_USAGE;
    }
    return 0;
}

static int plan_from_workloads(run_args *a, gc_plan *p) {
    const char *names[GC_MAX_LIST];
    int n;
    if (split(a, "--workload", a->workloads, names, &n)) return GC_EXIT_USAGE;
    for (int i = 0; i < n; i++)
        if (add_line(p, names[i])) return GC_EXIT_USAGE;
    const char *given[GC_MAX_LIST];
    int ng;
    if (a->presets && (split(a, "--preset", a->presets, given, &ng) || check_axis_known("--preset", "preset", p, true, given, ng)))
        return GC_EXIT_USAGE;
    if (a->quants && (split(a, "--quant", a->quants, given, &ng) || check_axis_known("--quant", "quant type", p, false, given, ng)))
        return GC_EXIT_USAGE;
    for (int i = 0; i < p->n_lines; i++)
        if (fill_line(a, &p->lines[i], a->presets, a->quants)) return GC_EXIT_USAGE;
    return 0;
}

static int build_plan(run_args *a, gc_plan *p) {
    p->n_lines = 0;
    if (a->suite && (a->workloads || a->presets || a->quants))
        return gc_die_usage("run: --suite cannot be combined with --workload, --preset or --quant");
    if (!a->workloads && (a->presets || a->quants))
        return gc_die_usage("run: %s needs --workload (suites choose their own)", a->presets ? "--preset" : "--quant");
    if (a->workloads) return plan_from_workloads(a, p);
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
    return plan_from_suite(a, p, s);
}

/* ---- output path and command line ---------------------------------------------------------- */

static int default_out(char *buf, size_t n) {
    char host[128], stamp[32];
    snprintf(host, sizeof host, "%s", host_get()->name);
    for (char *c = host; *c; c++)     /* a hostname may hold characters a file name should not */
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
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

static char *command_line(int argc, char **argv) {
    size_t len = strlen("gencost") + 1;
    for (int i = 0; i < argc; i++) len += 4 * strlen(argv[i]) + 3;   /* worst case: every character a quote */
    char *s = malloc(len), *w = s;
    if (!s) return NULL;
    w += sprintf(w, "gencost");
    for (int i = 0; i < argc; i++) {
        bool plain = argv[i][0] && !strpbrk(argv[i], " \t'\"\\$");
        if (plain) {
            w += sprintf(w, " %s", argv[i]);
            continue;
        }
        *w++ = ' ';
        *w++ = '\'';
        for (const char *c = argv[i]; *c; c++) {
            if (*c == '\'') w += sprintf(w, "'\\''");
            else *w++ = *c;
        }
        *w++ = '\'';
        *w = 0;
    }
    return s;
}

/* ---- the command --------------------------------------------------------------------------- */

static int run_plan(run_args *a, const gc_plan *p, int argc, char **argv) {
    if (a->opt.dry_run) {
        runner_dry_run(p, &a->opt, stdout);
        return 0;
    }
    char out[1024];
    if (a->out) snprintf(out, sizeof out, "%s", a->out);
    else if (default_out(out, sizeof out)) return gc_die_usage("run: host name too long for a file name; use --out");
    if (prepare_out(out)) return GC_EXIT_USAGE;
    char *cl = command_line(argc, argv);
    gc_err err = {{0}};
    int rc = runner_run(p, &a->opt, out, cl, &err);
    free(cl);
    if (rc == GC_EXIT_USAGE) gc_die_usage("run: %s", err.msg);
    return rc;
}

int cmd_run(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        }
    run_args a;
    memset(&a, 0, sizeof a);
    gc_options_defaults(&a.opt);
    int rc = parse_args(argc, argv, &a);
    gc_plan *plan = calloc(1, sizeof *plan);
    if (!rc && !plan) rc = gc_die_usage("run: out of memory");
    if (!rc) rc = build_plan(&a, plan);
    if (!rc) {
        if (a.opt.quick && !a.reps_set) a.opt.reps = 3;
        if (a.opt.quick && !a.min_time_set) a.opt.min_time = 0.2;
        if (a.opt.max_reps < a.opt.reps) a.opt.max_reps = a.opt.reps;
        rc = run_plan(&a, plan, argc, argv);
    }
    free(plan);
    for (int i = 0; i < a.n_storage; i++) free(a.storage[i]);
    return rc;
}
