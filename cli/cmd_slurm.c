/* gencost slurm: a run as a Slurm job array, one task per case block (each value of one comma
 * list of the run, --split), throttled with %N; submitted with sbatch, followed with squeue, each
 * task's results file collected into one folder for gencost report.
 *
 * The cluster's nodes see the same file system as this login node (the usual Slurm set-up): the
 * tasks run this gencost (or --bin) and write straight into OUT_DIR; each task's command is built
 * by the executor seam (base/exec.h: quoting, measurement settings forwarded). A task's batch
 * shell records gencost's exit status beside its results; Slurm's own view of each task comes
 * from sacct, or, where accounting is off, from scontrol (which remembers a finished job for
 * MinJobAge seconds). An interrupted task (scancel, time limit: SIGTERM) leaves a results file
 * marked complete: false, and is reported as such. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "bench/results.h"
#include "base/exec.h"
#include "base/version.h"

#define MAX_TASKS 256
#define MAX_OPTS 16

typedef struct slurm_args {
    const char *partition, *constraint, *time_limit, *split, *out_dir, *bin;
    long gpus, array_max;
    bool dry_run;
    char **run_argv; /* "run" ARGS... after "--" */
    int run_argc;
} slurm_args;

/* One array task: the run's argv with the split option's list cut to one value. */
typedef struct task {
    char value[128];
    char results[GC_PATH_MAX], status[GC_PATH_MAX], log[GC_PATH_MAX];
    char state[32]; /* Slurm's final word on it ("COMPLETED", "CANCELLED", ...), "" unknown */
} task;

typedef struct plan {
    slurm_args a;
    char out[GC_PATH_MAX - 64], bin[GC_PATH_MAX];
    char split_opt[64]; /* "--threads"; "" when one task */
    int split_at;       /* index in run_argv of the value (the word after the option, or "--opt=v") */
    task tasks[MAX_TASKS];
    int n_tasks;
} plan;

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

/* ---- options ------------------------------------------------------------------------------- */

static int option_table(slurm_args *a, gc_opt *t) {
    /* clang-format off */
    const gc_opt table[] = {
        {.help = "options:"},
        {.name = "--partition", .kind = GC_OPT_STRING, .dest = &a->partition, .metavar = "P",
         .help = "sbatch --partition"},
        {.name = "--constraint", .kind = GC_OPT_STRING, .dest = &a->constraint, .metavar = "C",
         .help = "sbatch --constraint (node features: the node type)"},
        {.name = "--gpus", .kind = GC_OPT_INT, .dest = &a->gpus, .lo = 0, .hi = 1024, .metavar = "N",
         .help = "sbatch --gpus, per task"},
        {.name = "--time", .kind = GC_OPT_STRING, .dest = &a->time_limit, .metavar = "T",
         .help = "sbatch --time per task (e.g. 30, 1:00:00)"},
        {.name = "--array-max", .kind = GC_OPT_INT, .dest = &a->array_max, .lo = 1, .hi = MAX_TASKS,
         .metavar = "N", .help = "at most N tasks at once (--array=0-K%N; default: all)"},
        {.name = "--split", .kind = GC_OPT_STRING, .dest = &a->split, .metavar = "OPT",
         .help = "the run option whose comma list makes the tasks (default: backend, else preset)"},
        {.name = "--out-dir", .kind = GC_OPT_STRING, .dest = &a->out_dir, .metavar = "DIR",
         .help = "results, logs and the script (default results/slurm-<UTC time>); the nodes must see it"},
        {.name = "--bin", .kind = GC_OPT_STRING, .dest = &a->bin, .metavar = "PATH",
         .help = "the gencost the tasks run (default: this one); the nodes must see it"},
        {.name = "--dry-run", .kind = GC_OPT_FLAG, .dest = &a->dry_run,
         .help = "print the batch script and submit nothing"},
    };
    /* clang-format on */
    _Static_assert(GC_N_OPTS(table) <= MAX_OPTS, "MAX_OPTS is too small");
    memcpy(t, table, sizeof table);
    return GC_N_OPTS(table);
}

static void usage(const gc_opt *t, int n) {
    fputs("usage: gencost slurm [options] -- run ARGS...\n"
          "Runs `gencost run ARGS` as a Slurm job array: one task per value of one comma list of the\n"
          "run (--split; e.g. --backend cpu,cuda makes two tasks), submitted with sbatch, followed\n"
          "with squeue (one progress line), each task's results file collected into OUT_DIR for\n"
          "gencost report. Task failures are reported per task; a task stopped by scancel or its time\n"
          "limit keeps what it measured in a results file marked complete: false. Ctrl-C cancels the\n"
          "job (scancel) and collects what the tasks saved.\n\n",
          stdout);
    gc_opts_usage(stdout, t, n);
    fputs("\nexit status: 0 every task ran every case, 1 a task or a case failed, 2 bad input or\n"
          "             sbatch refused the job, 130 interrupted\n", stdout);
}

/* A value that goes into an #SBATCH line: one line, no shell or directive syntax. */
static int sbatch_value(const char *name, const char *v) {
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f || strchr("'\"\\$`;#", *p))
            return gc_die_usage("slurm: %s: '%s' holds a character sbatch options cannot (space, quote, $, ...)",
                                name, GC_ESC(v));
    if (!*v) return gc_die_usage("slurm: %s: empty value", name);
    return 0;
}

static int parse_args(int argc, char **argv, slurm_args *a) {
    memset(a, 0, sizeof *a);
    int dash = 1;
    while (dash < argc && strcmp(argv[dash], "--")) dash++;
    gc_opt t[MAX_OPTS];
    int n = option_table(a, t), n_pos;
    bool help;
    gc_err err;
    if (gc_opts_parse(t, n, dash, argv, 1, NULL, 0, &n_pos, &help, &err)) return gc_opts_die("slurm", &err);
    if (help) {
        usage(t, n);
        return -1;
    }
    if (dash >= argc - 1 || strcmp(argv[dash + 1], "run"))
        return gc_die_usage("slurm: needs the command after '--': -- run ARGS... (gencost run's options)");
    a->run_argv = argv + dash + 1;
    a->run_argc = argc - dash - 1;
    for (int i = 1; i < a->run_argc; i++)
        if (!strcmp(a->run_argv[i], "--out") || !strncmp(a->run_argv[i], "--out=", 6))
            return gc_die_usage("slurm: run --out is chosen by gencost slurm (see --out-dir)");
    if ((a->partition && sbatch_value("--partition", a->partition)) ||
        (a->constraint && sbatch_value("--constraint", a->constraint)) ||
        (a->time_limit && sbatch_value("--time", a->time_limit)))
        return GC_EXIT_USAGE;
    return 0;
}

/* ---- the tasks ----------------------------------------------------------------------------- */

/* Where the run's argv gives option `opt` ("--threads"): the index of its value, -1 when absent. */
static int find_option(char **v, int n, const char *opt, const char **value) {
    size_t len = strlen(opt);
    for (int i = 1; i < n; i++) {
        if (!strcmp(v[i], "--")) break;
        if (!strcmp(v[i], opt) && i + 1 < n) {
            *value = v[i + 1];
            return i + 1;
        }
        if (!strncmp(v[i], opt, len) && v[i][len] == '=') {
            *value = v[i] + len + 1;
            return i;
        }
    }
    return -1;
}

static int plan_tasks(plan *p) {
    const slurm_args *a = &p->a;
    const char *value = NULL;
    const char *names[] = {a->split, "backend", "preset"};
    for (size_t k = a->split ? 0 : 1; k < (a->split ? 1 : 3) && !value; k++) {
        snprintf(p->split_opt, sizeof p->split_opt, "--%.60s", names[k]);
        p->split_at = find_option(a->run_argv, a->run_argc, p->split_opt, &value);
        if (!a->split && value && !strchr(value, ',')) value = NULL; /* one value: nothing to split */
    }
    if (a->split && !value)
        return gc_die_usage("slurm: --split %s: the run has no --%s list to split", GC_ESC(a->split), GC_ESC(a->split));
    if (!value) {
        p->split_opt[0] = 0;
        p->n_tasks = 1;
        return 0;
    }
    for (const char *s = value; *s || s == value;) {
        size_t k = strcspn(s, ",");
        if (!k) return gc_die_usage("slurm: %s: empty item in '%s'", p->split_opt, GC_ESC(value));
        if (p->n_tasks == MAX_TASKS) return gc_die_usage("slurm: %s: more than %d values", p->split_opt, MAX_TASKS);
        snprintf(p->tasks[p->n_tasks++].value, sizeof p->tasks[0].value, "%.*s", (int)k, s);
        s += k;
        if (*s) s++;
        if (!*s) break;
    }
    return 0;
}

/* The run argv of task i: the split value in place of the list, --out its results file. */
static void task_argv(const plan *p, int i, gc_argv *cmd) {
    gc_argv_init(cmd);
    gc_argv_add(cmd, p->bin);
    for (int k = 0; k < p->a.run_argc; k++) {
        if (p->split_opt[0] && k == p->split_at) {
            const char *w = p->a.run_argv[k];
            if (!strncmp(w, p->split_opt, strlen(p->split_opt)))
                gc_argv_addf(cmd, "%s=%s", p->split_opt, p->tasks[i].value);
            else
                gc_argv_add(cmd, p->tasks[i].value);
        } else {
            gc_argv_add(cmd, p->a.run_argv[k]);
        }
    }
    gc_argv_add(cmd, "--out");
    gc_argv_add(cmd, p->tasks[i].results);
}

static int write_script(const plan *p, FILE *f) {
    const slurm_args *a = &p->a;
    fprintf(f, "#!/bin/sh\n# gencost slurm: %d task(s)%s%s, written by gencost %s (commit %s)\n", p->n_tasks,
            p->split_opt[0] ? ", one per value of " : "", p->split_opt, gc_version, gc_git_commit);
    fprintf(f, "#SBATCH --job-name=gencost\n#SBATCH --ntasks=1\n");
    fprintf(f, "#SBATCH --array=0-%d", p->n_tasks - 1);
    if (a->array_max) fprintf(f, "%%%ld", a->array_max);
    fprintf(f, "\n#SBATCH --output=%s/task-%%a.log\n", p->out);
    if (a->partition) fprintf(f, "#SBATCH --partition=%s\n", a->partition);
    if (a->constraint) fprintf(f, "#SBATCH --constraint=%s\n", a->constraint);
    if (a->gpus) fprintf(f, "#SBATCH --gpus=%ld\n", a->gpus);
    if (a->time_limit) fprintf(f, "#SBATCH --time=%s\n", a->time_limit);
    fputs("# scancel or the time limit send SIGTERM: gencost saves what it measured (complete: false) and\n"
          "# exits 130; the shell outlives the signal to record that status beside the results.\n"
          "trap : TERM INT\n"
          "case \"$SLURM_ARRAY_TASK_ID\" in\n", f);
    for (int i = 0; i < p->n_tasks; i++) {
        gc_argv cmd;
        task_argv(p, i, &cmd);
        char *line = cmd.oom ? NULL : gc_exec_command_line(NULL, &cmd);
        gc_argv_free(&cmd);
        if (!line) return -1;
        fprintf(f, "  %d) %s ;;\n", i, line);
        free(line);
    }
    char *qs = gc_shell_quote(p->out);
    if (!qs) return -1;
    fprintf(f, "  *) echo \"gencost slurm: no task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\nesac\nrc=$?\n"
               "echo \"$rc\" > %s/task-\"$SLURM_ARRAY_TASK_ID\".status\nexit \"$rc\"\n", qs);
    free(qs);
    return 0;
}

/* ---- submitting and following -------------------------------------------------------------- */

/* A command on this machine, stdout into `out` (NULL: discarded), stderr into `err_file`. */
static int local(const char *const *words, int n, const char *out, const char *err_file) {
    char *line = gc_shell_join(words, n);
    const gc_exec x = {.kind = GC_EXEC_LOCAL};
    gc_exec_io io = {.stdout_path = out ? out : "/dev/null", .stderr_path = err_file ? err_file : "/dev/null"};
    gc_err err;
    int rc = gc_exec_run(&x, line, &io, 60, NULL, &err);
    free(line);
    return rc;
}

static char *slurp(const char *path) {
    gc_err err;
    return gc_read_file(path, NULL, &err);
}

static void last_line(const char *path, char *buf, size_t n) {
    char *t = slurp(path);
    buf[0] = 0;
    if (!t) return;
    size_t len = strlen(t);
    while (len && (t[len - 1] == '\n' || t[len - 1] == '\r')) t[--len] = 0;
    char *s = t + len;
    while (s > t && s[-1] != '\n') s--;
    gc_esc(s, buf, n);
    free(t);
}

static int submit(const plan *p, const char *script, char *job, size_t n) {
    char out[GC_PATH_MAX], err[GC_PATH_MAX];
    snprintf(out, sizeof out, "%s/sbatch.out", p->out);
    snprintf(err, sizeof err, "%s/sbatch.err", p->out);
    const char *w[] = {"sbatch", "--parsable", script};
    int rc = local(w, 3, out, err);
    char why[300];
    last_line(err, why, sizeof why);
    if (rc == 127) return gc_die_usage("slurm: sbatch not found (run this on a Slurm login node)");
    char *t = slurp(out);
    if (rc || !t || !*t) {
        free(t);
        return gc_die_usage("slurm: sbatch refused the job (exit %d): %s", rc, why[0] ? why : "no message");
    }
    t[strcspn(t, ";\r\n")] = 0; /* "123" or "123;cluster" */
    snprintf(job, n, "%s", t);
    free(t);
    unlink(out);
    unlink(err);
    return 0;
}

/* One squeue look: pending and running tasks of the job; false when the job has left the queue. */
static bool queue_counts(const plan *p, const char *job, int *pending, int *running) {
    char out[GC_PATH_MAX];
    snprintf(out, sizeof out, "%s/.squeue", p->out);
    const char *w[] = {"squeue", "-h", "-r", "-j", job, "-o", "%i %T"};
    int rc = local(w, 7, out, NULL);
    char *t = slurp(out);
    unlink(out);
    *pending = *running = 0;
    if (rc || !t) {
        free(t);
        return false; /* an unknown job id: finished and purged */
    }
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, " PENDING")) (*pending)++;
        else if (*line) (*running)++;
    }
    free(t);
    return *pending + *running > 0;
}

static void follow(const plan *p, const char *job) {
    bool tty = isatty(2), cancelled = false;
    char last[200] = "";
    double t_cancel = 0;
    for (;;) {
        int pend, run;
        bool queued = queue_counts(p, job, &pend, &run);
        if (stop_flag && !cancelled) {
            const char *w[] = {"scancel", job};
            local(w, 2, NULL, NULL);
            cancelled = true;
            t_cancel = gc_now();
        }
        char line[200];
        snprintf(line, sizeof line, "gencost slurm: job %s: %d pending, %d running, %d of %d left the queue%s",
                 job, pend, run, p->n_tasks - pend - run, p->n_tasks, cancelled ? " (cancelling)" : "");
        if (!queued) snprintf(line, sizeof line, "gencost slurm: job %s: all %d task(s) left the queue", job, p->n_tasks);
        if (strcmp(line, last)) {
            fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", line);
            fflush(stderr);
            snprintf(last, sizeof last, "%s", line);
        }
        if (!queued || (cancelled && gc_now() - t_cancel > 90)) break;
        nanosleep(&(struct timespec){1, 0}, NULL);
    }
    if (tty) fputc('\n', stderr);
}

/* Slurm's final state of each task: sacct, or scontrol where accounting is off. */
static void final_states(plan *p, const char *job) {
    char out[GC_PATH_MAX];
    snprintf(out, sizeof out, "%s/.states", p->out);
    const char *sa[] = {"sacct", "-n", "-P", "-X", "-j", job, "-o", "JobID,State"};
    bool from_sacct = local(sa, 8, out, NULL) == 0;
    if (!from_sacct) {
        const char *sc[] = {"scontrol", "-o", "show", "job", job};
        if (local(sc, 5, out, NULL)) return;
    }
    char *t = slurp(out);
    unlink(out);
    for (char *line = t ? strtok(t, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        char *id, *state;
        long k;
        if (from_sacct) { /* "123_1|COMPLETED" */
            id = strchr(line, '_');
            state = strchr(line, '|');
            if (!id || !state) continue;
            *state++ = 0;
            if (gc_parse_int(id + 1, 0, MAX_TASKS - 1, &k)) continue;
        } else { /* "... ArrayTaskId=1 ... JobState=COMPLETED ..." */
            id = strstr(line, "ArrayTaskId=");
            state = strstr(line, "JobState=");
            if (!id || !state) continue;
            id += 12;
            state += 9;
            id[strcspn(id, " ")] = 0;
            state[strcspn(state, " ")] = 0;
            if (gc_parse_int(id, 0, MAX_TASKS - 1, &k)) continue;
        }
        if (k < p->n_tasks) snprintf(p->tasks[k].state, sizeof p->tasks[k].state, "%.31s", state);
    }
    free(t);
}

/* One line per task; returns how many did not run every case. */
static int report_tasks(const plan *p, int *n_incomplete) {
    int bad = 0;
    *n_incomplete = 0;
    for (int i = 0; i < p->n_tasks; i++) {
        const task *t = &p->tasks[i];
        char label[200], why[300], *st = slurp(t->status);
        snprintf(label, sizeof label, "task %d%s%s%s%s", i, p->split_opt[0] ? " (" : "", p->split_opt,
                 p->split_opt[0] ? " " : "", p->split_opt[0] ? t->value : "");
        if (p->split_opt[0]) strncat(label, ")", sizeof label - strlen(label) - 1);
        long status = -1;
        if (st) {
            st[strcspn(st, "\n")] = 0;
            if (gc_parse_int(st, 0, 255, &status)) status = -1;
        }
        free(st);
        const char *sched = t->state[0] ? t->state : "state unknown";
        gc_results r;
        gc_err err;
        bool have = results_read(t->results, &r, &err) == 0;
        if (!have && access(t->log, F_OK) && !strcmp(sched, "CANCELLED")) {
            printf("  %s: cancelled before it started\n", label);
            (*n_incomplete)++;
            bad++;
            continue;
        }
        if (!have) {
            last_line(t->log, why, sizeof why);
            char ex[32] = "";
            if (status >= 0) snprintf(ex, sizeof ex, ", exit %ld", status);
            if (access(t->results, F_OK) == 0)
                printf("  %s: FAILED (%s%s): %s\n", label, sched, ex, err.msg);
            else
                printf("  %s: FAILED (%s%s): no results file; %s: %s\n", label, sched, ex, t->log,
                       why[0] ? why : "empty");
            bad++;
            continue;
        }
        int failed = 0;
        for (int c = 0; c < r.n_cases; c++)
            failed += strcmp(r.cases[c].status, "ok") && strcmp(r.cases[c].status, "skipped");
        if (!r.complete) {
            printf("  %s: interrupted (%s): %s holds %d case result(s), complete: false\n", label, sched, t->results,
                   r.n_cases);
            (*n_incomplete)++;
            bad++;
        } else if (failed || status > 0) {
            printf("  %s: FAILED (%s, exit %ld): %d of %d case(s) failed; see %s\n", label, sched, status, failed,
                   r.n_cases, t->log);
            bad++;
        } else {
            printf("  %s: done: %s (%d case results)\n", label, t->results, r.n_cases);
        }
        results_free(&r);
    }
    return bad;
}

/* ---- the command --------------------------------------------------------------------------- */

static int prepare(plan *p) {
    const slurm_args *a = &p->a;
    char dir[GC_PATH_MAX];
    if (a->out_dir) {
        snprintf(dir, sizeof dir, "%s", a->out_dir);
    } else {
        char stamp[32];
        gc_utc_compact(stamp, sizeof stamp);
        snprintf(dir, sizeof dir, "results/slurm-%s", stamp);
    }
    gc_err err;
    if (!a->dry_run && gc_mkdirs(dir, &err)) return gc_die_usage("slurm: --out-dir: %s", err.msg);
    /* absolute: the tasks start in whatever folder the node gives them */
    char abs[PATH_MAX];
    if (!a->dry_run && !realpath(dir, abs)) return gc_die_usage("slurm: --out-dir: %s: %s", dir, strerror(errno));
    if (strlen(a->dry_run ? dir : abs) >= sizeof p->out) return gc_die_usage("slurm: --out-dir: path too long");
    snprintf(p->out, sizeof p->out, "%.4000s", a->dry_run ? dir : abs);
    if (a->bin) {
        if (access(a->bin, X_OK)) return gc_die_usage("slurm: --bin: %s: %s", a->bin, strerror(errno));
        if (!realpath(a->bin, p->bin)) return gc_die_usage("slurm: --bin: %s: %s", a->bin, strerror(errno));
    } else if (!realpath("/proc/self/exe", p->bin)) {
        return gc_die_usage("slurm: cannot tell where this gencost is (%s); give --bin", strerror(errno));
    }
    if (plan_tasks(p)) return GC_EXIT_USAGE;
    for (int i = 0; i < p->n_tasks; i++) {
        task *t = &p->tasks[i];
        snprintf(t->results, sizeof t->results, "%s/results-task-%d.json", p->out, i);
        snprintf(t->status, sizeof t->status, "%s/task-%d.status", p->out, i);
        snprintf(t->log, sizeof t->log, "%s/task-%d.log", p->out, i);
    }
    return 0;
}

static int submit_and_follow(plan *p) {
    char script[GC_PATH_MAX], job[64];
    snprintf(script, sizeof script, "%s/job.sh", p->out);
    gc_memfile m;
    FILE *f = gc_memfile_open(&m);
    gc_err err;
    if (!f || write_script(p, f) || gc_memfile_commit(&m, script, &err))
        return gc_die_usage("slurm: cannot write %s", script);
    if (submit(p, script, job, sizeof job)) return GC_EXIT_USAGE;
    fprintf(stderr, "gencost slurm: submitted job %s (%d task(s)); script %s\n", job, p->n_tasks, script);
    stop_flag = 0;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    follow(p, job);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    final_states(p, job);
    printf("gencost slurm: job %s, results in %s\n", job, p->out);
    int incomplete, bad = report_tasks(p, &incomplete);
    return stop_flag ? 130 : bad ? 1 : 0;
}

int cmd_slurm(int argc, char **argv) {
    plan *p = calloc(1, sizeof *p);
    if (!p) return gc_die_usage("slurm: out of memory");
    int rc = parse_args(argc, argv, &p->a);
    if (!rc) rc = prepare(p);
    if (!rc && p->a.dry_run)
        rc = write_script(p, stdout) ? gc_die_usage("slurm: out of memory") : 0;
    else if (!rc)
        rc = submit_and_follow(p);
    free(p);
    return rc < 0 ? 0 : rc;
}
