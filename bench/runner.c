/* The runner: case matrix, measurement loop, progress, results table. */
#include "bench/runner.h"

#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/energy/energy.h"
#include "bench/perfcount.h"
#include "bench/results.h"
#include "bench/stats.h"

/* One combination of the matrix. */
typedef struct plan_case {
    const gc_plan_line *line;
    const gc_workload *wl;
    const char *preset, *quant, *backend, *isa; /* isa NULL: the best */
    int threads;
} plan_case;

typedef struct progress {
    bool tty;
    int index, total; /* case index (0-based) and count */
    double start, last_draw;
    char label[160];
} progress;

typedef struct runner {
    const gc_options *opt;
    gc_results res;
    const char *out_path;
    gc_meters *meters;
    progress pg;
    int n_bad; /* cases failed or errored */
    int n_write_errors;      /* saves of the results file that failed */
    int n_saved;             /* case results in the file as last written */
    bool save_failing;       /* the latest save failed: the file lags behind what was measured */
    char save_error[sizeof((gc_err *)0)->msg];
    int n_known, n_selected; /* cases whose phase names are known; phases --phases selected */
    bool show_isa;           /* the plan has an ISA axis: labels name the micro-kernel set */
    bool perf_noted;         /* "instruction counts unavailable" said once per run */
} runner;

/* Set by SIGINT/SIGTERM; the loop stops after the current repetition. SA_RESETHAND makes a
 * second Ctrl-C end the process at once; finished cases are already on disk by then. */
static volatile sig_atomic_t stop_signal;

/* Set-up and verification (weights for a 7B preset, the quality reference) run for seconds to
 * minutes without a repetition boundary to stop at. Inside them a signal ends the process at
 * once: nothing of the case is measured yet, and the results file on disk is the last one
 * saved, valid and marked incomplete (no save runs inside these sections). */
static volatile sig_atomic_t in_uninterruptible;
static char quit_message[1200];
static size_t quit_len;

/* Says why on stderr and ends the process: async-signal-safe (write, _exit only). */
static void quit_now(void) {
    if (write(2, quit_message, quit_len) < 0) { /* nothing more a handler can do */ }
    _exit(130);
}

static void on_signal(int sig) {
    stop_signal = sig;
    if (in_uninterruptible) quit_now();
}

/* Brackets a set-up or verification: a signal inside quits at once (see above). */
static void quick_exit_begin(void) {
    in_uninterruptible = 1;
    if (stop_signal) quit_now();   /* arrived just before the section: honour it now */
}
static void quick_exit_end(void) { in_uninterruptible = 0; }

static void install_signals(struct sigaction *old_int, struct sigaction *old_term) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
}

/* Appends what fits of s to the string in buf (size n). */
static void append(char *buf, size_t n, const char *s) {
    size_t w = strlen(buf), k = strnlen(s, n - 1 - w);
    memcpy(buf + w, s, k);
    buf[w + k] = 0;
}

/* ---- the matrix ---------------------------------------------------------------------------- */

/* --isa picks among the cpu backend's micro-kernel sets; elsewhere it would change nothing. */
static bool isa_applies(const gc_plan_line *l, const char *backend) {
    return l->wl->takes_isa && l->n_isas && !strcmp(backend, "cpu");
}

static int isa_count(const gc_plan_line *l, const char *backend) {
    return isa_applies(l, backend) ? l->n_isas : 1;
}

static int line_cases(const gc_plan_line *l) {
    int n = 0;
    for (int b = 0; b < l->n_backends; b++) n += isa_count(l, l->backends[b]);
    return n * l->n_presets * l->n_quants * l->n_threads;
}

int runner_n_cases(const gc_plan *p) {
    int n = 0;
    for (int i = 0; i < p->n_lines; i++) n += line_cases(&p->lines[i]);
    return n;
}

/* Every case of the plan, in the order workload, preset, quant, backend, isa, threads (threads
 * fastest); NULL when out of memory. */
static plan_case *plan_expand(const gc_plan *p, int *n) {
    *n = runner_n_cases(p);
    plan_case *c = calloc(*n ? (size_t)*n : 1, sizeof *c);
    int k = 0;
    for (int i = 0; c && i < p->n_lines; i++) {
        const gc_plan_line *l = &p->lines[i];
        for (int pr = 0; pr < l->n_presets; pr++)
            for (int q = 0; q < l->n_quants; q++)
                for (int b = 0; b < l->n_backends; b++)
                    for (int is = 0; is < isa_count(l, l->backends[b]); is++)
                        for (int t = 0; t < l->n_threads; t++)
                            c[k++] = (plan_case){.line = l,
                                                 .wl = l->wl,
                                                 .preset = l->presets[pr],
                                                 .quant = l->quants[q],
                                                 .backend = l->backends[b],
                                                 .threads = l->threads[t],
                                                 .isa = isa_applies(l, l->backends[b]) ? l->isas[is] : NULL};
    }
    return c;
}

static bool plan_has_isa(const gc_plan *p) {
    for (int i = 0; i < p->n_lines; i++)
        if (p->lines[i].n_isas && p->lines[i].wl->takes_isa) return true;
    return false;
}

/* "llm tiny q4_0 cpu avx2 t=2": what a case is, for progress lines and the table. */
static void case_label(char *buf, size_t n, const char *wl, const char *preset, const char *quant,
                       const char *backend, const char *isa, int threads) {
    snprintf(buf, n, "%s", wl);
    const char *parts[] = {preset, quant, backend, isa};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (parts[i] && parts[i][0] && (i == 2 || strcmp(parts[i], "-"))) {
            append(buf, n, " ");
            append(buf, n, parts[i]);
        }
    char t[24];
    snprintf(t, sizeof t, " t=%d", threads);
    append(buf, n, t);
}

static void plan_case_label(const plan_case *c, char *buf, size_t n) {
    case_label(buf, n, c->wl->name, c->preset, c->quant, c->backend, c->isa, c->threads);
}

/* A case being measured: the plan's case, its parameter values (resolved once), its identity. */
typedef struct live_case {
    const plan_case *pc;
    gc_param_values vals;
    gc_case c;
    char params[sizeof((gc_case_id *)0)->params];
    char device[sizeof((gc_case_id *)0)->device];
} live_case;

static int live_open(live_case *lc, const plan_case *pc, const gc_options *opt, gc_err *err) {
    memset(lc, 0, sizeof *lc);
    lc->pc = pc;
    const gc_param *t = pc->wl->params;
    if (gc_params_resolve_for(t, pc->line->params, opt->quick, pc->preset, &lc->vals, err) ||
        gc_params_canonical(t, &lc->vals, lc->params, sizeof lc->params, err))
        return -1;
    /* --quick shrinks what some workloads measure (triad's arrays, the kernels' shapes) beyond
     * their own parameters: it is part of the case's identity. */
    if (opt->quick && gc_params_set(lc->params, sizeof lc->params, "quick", "1", err)) return -1;
    lc->c = (gc_case){.workload = pc->wl->name,
                      .preset = pc->preset,
                      .quant = pc->quant,
                      .backend = pc->backend,
                      .isa = pc->isa,
                      .threads = pc->threads,
                      .params = t,
                      .values = (const char *const *)lc->vals.v,
                      .opt = opt};
    return 0;
}

static void live_close(live_case *lc) { gc_param_values_free(&lc->vals); }

int runner_check(const gc_plan *p, const gc_options *opt, gc_err *err) {
    int n, rc = 0;
    plan_case *cases = plan_expand(p, &n);
    if (!cases && n > 0) return gc_errf(err, "out of memory");
    for (int k = 0; k < n && !rc; k++) {
        live_case lc;
        gc_err e = {{0}};
        if (live_open(&lc, &cases[k], opt, &e) || (cases[k].wl->check_case && cases[k].wl->check_case(&lc.c, &e))) {
            char label[160];
            plan_case_label(&cases[k], label, sizeof label);
            rc = gc_errf(err, "%s: %s", label, e.msg);
        }
        live_close(&lc);
    }
    free(cases);
    return rc;
}

void runner_dry_run(const gc_plan *p, const gc_options *opt, FILE *out) {
    int n;
    plan_case *cases = plan_expand(p, &n);
    fprintf(
        out,
        "%d case%s; each: verify, %d warm-up run(s), then >= %d repetitions and >= %.2g s per phase%s%s\n", n,
        n == 1 ? "" : "s", opt->warmup, opt->reps, opt->min_time, opt->phases ? "; phases: " : "",
        opt->phases ? opt->phases : "");
    for (int k = 0; cases && k < n; k++) {
        char label[160];
        plan_case_label(&cases[k], label, sizeof label);
        live_case lc;
        gc_err err = {{0}};
        int rc = live_open(&lc, &cases[k], opt, &err);
        fprintf(out, "[%d/%d] %s%s%s%s\n", k + 1, n, label, lc.params[0] ? " (" : "", lc.params,
                lc.params[0] ? ")" : "");
        if (rc) fprintf(out, "    %s\n", err.msg);
        fflush(out);
        if (!rc && cases[k].wl->describe) {
            cases[k].wl->describe(&lc.c);
            fflush(stdout);
        }
        live_close(&lc);
    }
    free(cases);
}

/* ---- progress ------------------------------------------------------------------------------ */

static void fmt_duration(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 1e6) {
        snprintf(buf, n, "--");
        return;
    }
    long t = lround(s);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* The live line on a terminal: case i of n, what runs, ETA from the fraction done so far. */
static void progress_draw(progress *pg, const char *what, double case_frac, bool force) {
    if (!pg->tty) return;
    double now = gc_now();
    if (!force && now - pg->last_draw < 0.1) return;
    pg->last_draw = now;
    double done = (pg->index + fmin(fmax(case_frac, 0), 1)) / pg->total;
    char eta[32];
    fmt_duration(done > 0.01 ? (now - pg->start) * (1 - done) / done : -1, eta, sizeof eta);
    fprintf(stderr, "\r\033[K[%d/%d] %s: %s  ETA %s", pg->index + 1, pg->total, pg->label, what, eta);
    fflush(stderr);
}

/* A finished step: one plain line (the live line, if any, is cleared first). What it quotes
 * (--phases, a workload's error text) has its control bytes escaped: one line, always. */
static void progress_line(progress *pg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress_line(progress *pg, const char *fmt, ...) {
    char raw[1024], line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    if (pg->tty) fputs("\r\033[K", stderr);
    fprintf(stderr, "[%d/%d] %s: %s\n", pg->index + 1, pg->total, pg->label, gc_esc(raw, line, sizeof line));
    fflush(stderr);
}

/* ---- measuring ----------------------------------------------------------------------------- */

/* Writes the results so far after every case, so a fault loses at most the case in flight. A
 * failing save is said once when it starts failing (and again when saving works again); the
 * end of the run says what the file holds (say_saved). */
static void save(runner *R) {
    gc_err err;
    gc_utc_iso(R->res.finished, sizeof R->res.finished);
    if (results_write(&R->res, R->out_path, &err)) {
        R->n_write_errors++;
        if (!R->save_failing)
            progress_line(&R->pg, "cannot save results: %s (the file keeps the %d case result(s) saved "
                          "before)", err.msg, R->n_saved);
        R->save_failing = true;
        snprintf(R->save_error, sizeof R->save_error, "%s", err.msg);
        return;
    }
    if (R->save_failing) progress_line(&R->pg, "results saved again (%d case results)", R->res.n_cases);
    R->save_failing = false;
    R->n_saved = R->res.n_cases;
}

static void record(runner *R, const gc_case_result *c) {
    gc_case_result *slot = results_add_case(&R->res);
    if (!slot) {
        free(c->samples_s);
        progress_line(&R->pg, "out of memory recording a case");
        return;
    }
    *slot = *c;
    if (strcmp(c->status, "ok") && strcmp(c->status, "skipped")) R->n_bad++;
    save(R);
}

static void case_result_init(gc_case_result *cr, const live_case *lc, const gc_phase *ph) {
    const plan_case *pc = lc->pc;
    memset(cr, 0, sizeof *cr);
    snprintf(cr->id.workload, sizeof cr->id.workload, "%s", pc->wl->name);
    snprintf(cr->id.preset, sizeof cr->id.preset, "%s", pc->preset);
    snprintf(cr->id.params, sizeof cr->id.params, "%s", lc->params);
    snprintf(cr->id.quant, sizeof cr->id.quant, "%s", pc->quant);
    snprintf(cr->id.backend, sizeof cr->id.backend, "%s", pc->backend);
    snprintf(cr->id.device, sizeof cr->id.device, "%s", lc->device);
    cr->id.threads = pc->threads;
    snprintf(cr->id.phase, sizeof cr->id.phase, "%s", ph ? ph->name : "setup");
    snprintf(cr->unit, sizeof cr->unit, "%s", ph ? ph->unit : "-");
    if (ph) {
        cr->work_per_rep = ph->work_per_rep;
        cr->bytes_per_rep = ph->bytes_per_rep;
        cr->flops_per_rep = ph->flops_per_rep;
    }
    snprintf(cr->status, sizeof cr->status, "ok");
    energy_none(&cr->energy);
}

static void set_error(gc_case_result *cr, const char *status, const char *msg) {
    snprintf(cr->status, sizeof cr->status, "%s", status);
    snprintf(cr->error, sizeof cr->error, "%s", msg);
}

static double cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static int push_sample(gc_case_result *cr, int *cap, double s) {
    if (cr->n_samples == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        double *p = realloc(cr->samples_s, (size_t)nc * sizeof *p);
        if (!p) return -1;
        cr->samples_s = p;
        *cap = nc;
    }
    cr->samples_s[cr->n_samples++] = s;
    return 0;
}

/* Timed repetitions until both opt->reps and opt->min_time are reached (at most max_reps),
 * with the energy meters sampling the whole span. */
static void timed_reps(runner *R, const plan_case *pc, void *state, int ph, int n_ph, gc_case_result *cr) {
    const gc_options *o = R->opt;
    int cap = 0;
    gc_err err = {{0}};
    double cpu0 = cpu_seconds();
    gc_perfcount perf; /* user-space instructions: a load-independent count for CI */
    bool counting = perfcount_open(&perf) == 0;
    if (!counting && !R->perf_noted) {
        R->perf_noted = true;
        progress_line(&R->pg, "note: %s; results carry no instruction counts", perf.why);
    }
    energy_begin(R->meters);
    perfcount_start(&perf);
    gc_utc_iso_ms(cr->started, sizeof cr->started);
    double start = gc_now();
    while (!stop_signal && cr->n_samples < o->max_reps) {
        double elapsed = gc_now() - start;
        if (cr->n_samples >= o->reps && elapsed >= o->min_time) break;
        char what[96];
        snprintf(what, sizeof what, "%s rep %d", cr->id.phase, cr->n_samples + 1);
        double frac = fmin((double)cr->n_samples / o->reps, o->min_time > 0 ? elapsed / o->min_time : 1);
        progress_draw(&R->pg, what, (ph + fmin(frac, 1)) / n_ph, false);
        double t0 = gc_now();
        int rc = pc->wl->run(state, ph, &err);
        double dt = gc_now() - t0;
        if (rc) {
            set_error(cr, "error", err.msg[0] ? err.msg : "run failed");
            break;
        }
        if (push_sample(cr, &cap, dt)) {
            set_error(cr, "error", "out of memory storing samples");
            break;
        }
    }
    double span = gc_now() - start;
    gc_utc_iso_ms(cr->finished, sizeof cr->finished);
    uint64_t ins = 0;
    if (counting && !perfcount_stop(&perf, &ins) && cr->n_samples > 0)
        gc_kv_add(cr->metrics.vals, &cr->metrics.n_vals, GC_MAX_KV, GC_METRIC_INSTRUCTIONS,
                  (double)ins / cr->n_samples);
    perfcount_close(&perf);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double util = span > 0 && ncpu > 0 ? (cpu_seconds() - cpu0) / (span * (double)ncpu) : 0;
    energy_end(R->meters, span, cr->work_per_rep * cr->n_samples, fmin(util, 1), &cr->energy);
    if (stop_signal && !strcmp(cr->status, "ok") && (cr->n_samples < o->reps || span < o->min_time)) {
        char msg[128];
        snprintf(msg, sizeof msg, "interrupted after %d repetition(s) (%.2f s)", cr->n_samples, span);
        set_error(cr, "error", msg);
    }
}

static void fmt_rate(double v, char *buf, size_t n) {
    if (!isfinite(v))
        snprintf(buf, n, "-");
    else if (fabs(v) >= 100)
        snprintf(buf, n, "%.1f", v);
    else if (fabs(v) >= 10)
        snprintf(buf, n, "%.2f", v);
    else
        snprintf(buf, n, "%.3g", v);
}

static void run_phase(runner *R, const live_case *lc, void *state, const gc_phase *phases, int ph, int n_ph) {
    const plan_case *pc = lc->pc;
    const gc_workload *wl = pc->wl;
    gc_case_result cr;
    case_result_init(&cr, lc, &phases[ph]);
    gc_err err = {{0}};
    char what[96];
    snprintf(what, sizeof what, "%s: verifying", cr.id.phase);
    progress_draw(&R->pg, what, (double)ph / n_ph, true);
    quick_exit_begin();
    int vrc = wl->verify(state, ph, &cr.verify, &err);
    quick_exit_end();
    if (vrc) {
        set_error(&cr, "error", err.msg[0] ? err.msg : "verification could not run");
        progress_line(&R->pg, "%s: error: %s", cr.id.phase, cr.error);
        record(R, &cr);
        return;
    }
    if (!cr.verify.ok) {
        set_error(&cr, "failed", cr.verify.detail);
        progress_line(&R->pg, "%s: VERIFICATION FAILED (not timed): %s", cr.id.phase, cr.verify.detail);
        record(R, &cr);
        return;
    }
    for (int i = 0; i < R->opt->warmup && !stop_signal; i++) {
        snprintf(what, sizeof what, "%s: warm-up %d", cr.id.phase, i + 1);
        progress_draw(&R->pg, what, (double)ph / n_ph, false);
        if (wl->run(state, ph, &err)) {
            set_error(&cr, "error", err.msg[0] ? err.msg : "warm-up run failed");
            progress_line(&R->pg, "%s: error: %s", cr.id.phase, cr.error);
            record(R, &cr);
            return;
        }
    }
    if (stop_signal) return; /* nothing measured: nothing to record */
    timed_reps(R, pc, state, ph, n_ph, &cr);
    if (cr.n_samples > 0) {
        stats_compute(cr.samples_s, cr.n_samples, &cr.time_s);
        stats_throughput(cr.samples_s, cr.n_samples, cr.work_per_rep, &cr.throughput);
        cr.high_spread = stats_high_spread(&cr.throughput);
    }
    if (wl->finish && !strcmp(cr.status, "ok")) wl->finish(state, ph, &cr.metrics);
    if (!strcmp(cr.status, "ok")) {
        char med[32];
        fmt_rate(cr.throughput.median, med, sizeof med);
        progress_line(&R->pg, "%s: %s %s/s (median of %d, cv %.1f%%)%s", cr.id.phase, med, cr.unit,
                      cr.n_samples, 100 * cr.throughput.cv, cr.high_spread ? " [high spread]" : "");
    } else if (cr.n_samples > 0 || strcmp(cr.status, "ok")) {
        progress_line(&R->pg, "%s: %s: %s", cr.id.phase, cr.status, cr.error);
    }
    record(R, &cr);
}

static bool phase_selected(const char *filter, const char *name) {
    if (!filter) return true;
    size_t len = strlen(name);
    for (const char *p = filter; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && !strncmp(p, name, n)) return true;
        p += n + (p[n] == ',');
    }
    return false;
}

static void phase_list(const char *const *names, int n, char *buf, size_t size) {
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i) append(buf, size, ", ");
        append(buf, size, names[i]);
    }
}

/* A case none of whose phases --phases names is skipped, not failed: `--phases decode` over a
 * suite that also holds triad is a sensible request. */
static void say_skipped(runner *R, const char *names) {
    progress_line(&R->pg, "skipped: --phases %s names none of its phases (%s)", R->opt->phases, names);
}

/* True when the workload's static phase names show --phases leaves nothing of the case. */
static bool skip_before_setup(runner *R, const gc_workload *wl) {
    if (!R->opt->phases || !wl->phases) return false;
    int n = 0;
    while (wl->phases[n]) n++;
    for (int i = 0; i < n; i++)
        if (phase_selected(R->opt->phases, wl->phases[i])) return false;
    char names[1024];
    phase_list(wl->phases, n, names, sizeof names);
    R->n_known++;
    say_skipped(R, names);
    return true;
}

static void record_setup_error(runner *R, const live_case *lc, const char *msg) {
    gc_case_result cr;
    case_result_init(&cr, lc, NULL);
    set_error(&cr, "error", msg[0] ? msg : "setup failed");
    progress_line(&R->pg, "setup error: %s", cr.error);
    record(R, &cr);
}

/* The backend cannot run the case (GC_SETUP_UNSUPPORTED): recorded, with the reason, as
 * "skipped", which is not a failure. */
static void record_unsupported(runner *R, const live_case *lc, const char *msg) {
    gc_case_result cr;
    case_result_init(&cr, lc, NULL);
    set_error(&cr, "skipped", msg);
    progress_line(&R->pg, "skipped: %s", cr.error);
    record(R, &cr);
}

static void run_phases(runner *R, const live_case *lc, void *state, const gc_setup_out *d) {
    int n_ph = d->n_phases > GC_MAX_PHASES ? GC_MAX_PHASES : d->n_phases, selected = 0;
    for (int ph = 0; ph < n_ph && !stop_signal; ph++) {
        if (!phase_selected(R->opt->phases, d->phases[ph].name)) continue;
        selected++;
        run_phase(R, lc, state, d->phases, ph, n_ph);
    }
    if (!selected && !stop_signal) {
        const char *names[GC_MAX_PHASES];
        for (int ph = 0; ph < n_ph; ph++) names[ph] = d->phases[ph].name;
        char list[1024];
        phase_list(names, n_ph, list, sizeof list);
        say_skipped(R, list);
    }
    R->n_selected += selected;
    R->n_known++;
}

static void run_case(runner *R, const plan_case *pc) {
    if (skip_before_setup(R, pc->wl)) return;
    live_case lc;
    gc_err err = {{0}};
    if (live_open(&lc, pc, R->opt, &err)) {
        record_setup_error(R, &lc, err.msg);
        live_close(&lc);
        return;
    }
    gc_setup_out *d = calloc(1, sizeof *d);
    void *state = NULL;
    progress_draw(&R->pg, "setting up", 0, true);
    quick_exit_begin();
    int rc = d ? pc->wl->setup(&lc.c, &state, d, &err) : gc_errf(&err, "out of memory");
    quick_exit_end();
    /* What ran: the backend's report; before a backend opened, the set asked for (so two ISAs
     * that both fail stay two cases). */
    snprintf(lc.device, sizeof lc.device, "%s", d && d->device[0] ? d->device : pc->isa ? pc->isa : "");
    if (rc == GC_SETUP_UNSUPPORTED)
        record_unsupported(R, &lc, err.msg);
    else if (rc)
        record_setup_error(R, &lc, err.msg);
    else
        run_phases(R, &lc, state, d);
    if (state && pc->wl->teardown) pc->wl->teardown(state); /* also after a failed setup */
    free(d);
    live_close(&lc);
}

/* ---- the table ----------------------------------------------------------------------------- */

static void print_table(const gc_results *r, bool show_isa, FILE *f) {
    fprintf(f, "\n%-34s %-12s %16s  %-23s %7s  %s\n", "case", "phase", "median", "95% CI", "cv",
            "verification");
    bool any_spread = false;
    for (int i = 0; i < r->n_cases; i++) {
        const gc_case_result *c = &r->cases[i];
        char label[160], med[32] = "-", lo[32] = "", hi[32] = "", ci[80] = "-", cv[16] = "-", unit[24];
        case_label(label, sizeof label, c->id.workload, c->id.preset, c->id.quant, c->id.backend,
                   show_isa && !strcmp(c->id.backend, "cpu") ? c->id.device : NULL, c->id.threads);
        snprintf(unit, sizeof unit, "%s/s", c->unit);
        bool ok = !strcmp(c->status, "ok");
        if (ok) {
            fmt_rate(c->throughput.median, med, sizeof med);
            fmt_rate(c->throughput.ci95_low, lo, sizeof lo);
            fmt_rate(c->throughput.ci95_high, hi, sizeof hi);
            snprintf(ci, sizeof ci, "[%s, %s]", lo, hi);
            snprintf(cv, sizeof cv, "%.1f%%", 100 * c->throughput.cv);
            strncat(med, " ", sizeof med - strlen(med) - 1);
            strncat(med, unit, sizeof med - strlen(med) - 1);
        }
        char verdict[600];
        if (ok)
            snprintf(verdict, sizeof verdict, "ok");
        else if (!strcmp(c->status, "failed"))
            snprintf(verdict, sizeof verdict, "FAILED: %s", c->verify.detail);
        else if (!strcmp(c->status, "skipped"))
            snprintf(verdict, sizeof verdict, "skipped: %s", c->error);
        else
            snprintf(verdict, sizeof verdict, "error: %s", c->error);
        fprintf(f, "%-34s %-12s %16s  %-23s %7s%s %s\n", label, c->id.phase, med, ci, cv,
                ok && c->high_spread ? "!" : " ", verdict);
        any_spread |= ok && c->high_spread;
    }
    if (any_spread)
        fprintf(f, "! high spread (cv > 5%% or CI wider than 10%% of the median): rerun on a quieter machine "
                   "or with more --reps\n");
}

/* The last lines of a run: where the results are, and plainly what the file lacks when the
 * final save failed (exit 1 then): only the cases saved before, or no file at all. */
static void say_saved(const runner *R, const char *path, bool table, FILE *f) {
    char shown[4 * GC_PATH_MAX];
    gc_esc(path, shown, sizeof shown);
    int n = R->res.n_cases;
    if (!R->save_failing) {
        if (table) fprintf(f, "\nresults: %s%s\n", shown, R->res.complete ? "" : " (incomplete)");
        if (R->n_write_errors)
            fprintf(stderr, "gencost: run: %d save(s) of the results failed during the run; the final save "
                            "worked and %s holds all %d case results\n", R->n_write_errors, shown, n);
        return;
    }
    struct stat st;
    bool exists = !lstat(path, &st) && S_ISREG(st.st_mode);
    char holds[64];
    snprintf(holds, sizeof holds, "%s%d of the %d", R->n_saved < n ? "only " : "", R->n_saved, n);
    if (table) {
        if (exists)
            fprintf(f, "\nresults: NOT SAVED IN FULL: %s holds %s case results\n", shown, holds);
        else
            fprintf(f, "\nresults: NOT SAVED: %s was not written\n", shown);
    }
    if (exists)
        fprintf(stderr, "gencost: run: cannot save results: %s; %s holds %s case results (the last save "
                        "that worked)\n", R->save_error, shown, holds);
    else
        fprintf(stderr, "gencost: run: cannot save results: %s; %s was not written (or is gone), so none of "
                        "the %d case results is on disk\n", R->save_error, shown, n);
}

/* ---- the run ------------------------------------------------------------------------------- */

int runner_run(const gc_plan *p, const gc_options *opt, const char *out_path, const char *command_line,
               gc_err *err) {
    runner R = {.opt = opt, .out_path = out_path};
    results_init(&R.res);
    R.res.command_line = strdup(command_line ? command_line : "");
    gc_utc_iso(R.res.started, sizeof R.res.started);
    gc_utc_iso(R.res.finished, sizeof R.res.finished);
    stop_signal = 0;
    struct sigaction old_int, old_term;
    snprintf(quit_message, sizeof quit_message,
             "\ngencost: interrupted during set-up or verification: the cases finished before are in %.1000s "
             "(marked incomplete)\n", out_path);
    quit_len = strlen(quit_message);
    install_signals(&old_int, &old_term);
    /* Written once before anything runs, so an unwritable path is bad input, not lost work. */
    if (results_write(&R.res, out_path, err)) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        gc_errf(err, "--out: %.480s", why);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        results_free(&R.res);
        return GC_EXIT_USAGE;
    }
    R.meters = energy_open(opt);
    int n_cases;
    plan_case *cases = plan_expand(p, &n_cases);
    R.pg = (progress){.tty = isatty(2), .total = n_cases, .start = gc_now()};
    R.show_isa = plan_has_isa(p);
    if (!cases) {
        progress_line(&R.pg, "out of memory expanding the plan");
        R.n_bad++;
    }
    for (int k = 0; cases && k < n_cases && !stop_signal; k++) {
        R.pg.index = k;
        plan_case_label(&cases[k], R.pg.label, sizeof R.pg.label);
        run_case(&R, &cases[k]);
    }
    free(cases);
    if (R.pg.tty) fputs("\r\033[K", stderr);
    energy_close(R.meters);
    int sig = stop_signal;
    R.res.complete = !sig;
    save(&R);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (sig)
        fprintf(stderr, "gencost: interrupted by %s: stopped after the current repetition%s\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM",
                R.save_failing ? "" : "; finished cases are saved");
    int rc = sig ? 130 : (R.n_bad || R.n_write_errors) ? 1 : 0;
    bool no_phase = !sig && opt->phases && R.n_known && !R.n_selected;
    bool table = !(no_phase && R.res.n_cases == 0);
    if (!table) {
        remove(out_path); /* nothing was measured: no empty table, no empty results file */
    } else {
        print_table(&R.res, R.show_isa, stdout);
    }
    say_saved(&R, out_path, table, stdout);
    fflush(stdout);
    if (no_phase) {
        gc_errf(err, "--phases %s matched no phase of any case", opt->phases);
        rc = GC_EXIT_USAGE;
    }
    results_free(&R.res);
    return rc;
}
