/* gencost remote: the same `gencost run` on other machines over the user's own OpenSSH, each
 * host's results file fetched back and named for the host.
 *
 * Per host, one thread, each step one command through the executor seam (base/exec.h):
 *   probe  ssh HOST: the per-commit folder's gencost --version (or --remote-bin's)
 *   build  when no gencost of this commit is there (or --build): the source tree as one tar on
 *          ssh's stdin, unpacked into REMOTE_DIR/<commit>/src and built there with
 *          make BUILD=build GIT_COMMIT=<commit> build/gencost (the tar has no .git: the commit is
 *          given so the binary names it), log in OUT_DIR/build-<host>.log
 *   run    gencost run ARGS --out REMOTE_DIR/<commit>/runs/<tag>.json, behind the measurement
 *          settings, output in OUT_DIR/run-<host>.log; its pid is kept so Ctrl-C can stop it
 *   fetch  ssh HOST cat that file, checked as a results file, saved as OUT_DIR/results-<host>.json
 * A failing step ends that host with its reason; the others go on. Ctrl-C: each running remote
 * gencost gets SIGINT (it stops after the current repetition and saves, complete: false), what
 * it saved is fetched, and hosts not yet running stop. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/ship.h"
#include "bench/results.h"
#include "base/escape.h"
#include "base/exec.h"
#include "base/version.h"

#define MAX_HOSTS 64
#define MAX_OPTS 16

typedef struct remote_args {
    bool build, dirty, dry_run;
    long jobs;
    const char *src, *remote_bin, *remote_dir, *out_dir, *ssh_config;
    const char *hosts[MAX_HOSTS];
    int n_hosts;
    char **run_argv; /* "run" ARGS... after "--" */
    int run_argc;
} remote_args;

typedef enum host_state { H_WAIT, H_PROBE, H_BUILD, H_RUN, H_FETCH, H_OK, H_FAILED, H_STOPPED } host_state;
static const char *const state_names[] = {"waiting", "connecting", "shipping and building",
                                          "running", "fetching", "done", "FAILED", "interrupted"};

typedef struct host_job {
    const remote_args *a;
    const gc_ship *ship;
    gc_exec x;
    char name[128];                   /* for files: gc_safe_name of the destination */
    char dir[1024], bin[1100], tag[64]; /* remote per-commit folder, gencost there, run tag */
    char run_log[GC_PATH_MAX], build_log[GC_PATH_MAX], results[GC_PATH_MAX];
    _Atomic host_state state;  /* written by its thread, read by the progress lines */
    char reason[600];
    int n_cases, run_status;
    bool complete;
    pthread_t thread;
} host_job;

static volatile sig_atomic_t stop_flag;
static void on_sigint(int sig) {
    (void)sig;
    stop_flag = 1;
}

/* ---- options ------------------------------------------------------------------------------- */

static int option_table(remote_args *a, gc_opt *t) {
    /* clang-format off */
    const gc_opt table[] = {
        {.help = "options:"},
        {.name = "--build", .kind = GC_OPT_FLAG, .dest = &a->build,
         .help = "ship and build even where a gencost of this commit is already there"},
        {.name = "--dirty", .kind = GC_OPT_FLAG, .dest = &a->dirty,
         .help = "ship uncommitted changes too: HEAD plus git diff HEAD (untracked files are not)"},
        {.name = "--src", .kind = GC_OPT_STRING, .dest = &a->src, .metavar = "DIR",
         .help = "the git checkout to ship (default: the current folder)"},
        {.name = "--remote-bin", .kind = GC_OPT_STRING, .dest = &a->remote_bin, .metavar = "PATH",
         .help = "use this gencost on every host (it must name this build's commit)"},
        {.name = "--remote-dir", .kind = GC_OPT_STRING, .dest = &a->remote_dir, .metavar = "DIR",
         .help = "per-commit folders on the hosts (default .cache/gencost, under the login's home)"},
        {.name = "--out-dir", .kind = GC_OPT_STRING, .dest = &a->out_dir, .metavar = "DIR",
         .help = "results-<host>.json and the logs (default results/remote-<UTC time>)"},
        {.name = "--jobs", .kind = GC_OPT_INT, .dest = &a->jobs, .lo = 1, .hi = MAX_HOSTS, .metavar = "N",
         .help = "hosts worked on at once (default: all)"},
        {.name = "--ssh-config", .kind = GC_OPT_STRING, .dest = &a->ssh_config, .metavar = "FILE",
         .help = "ssh -F FILE (default: your own ~/.ssh/config)"},
        {.name = "--dry-run", .kind = GC_OPT_FLAG, .dest = &a->dry_run,
         .help = "print the commands for each host and run none"},
    };
    /* clang-format on */
    _Static_assert(GC_N_OPTS(table) <= MAX_OPTS, "MAX_OPTS is too small");
    memcpy(t, table, sizeof table);
    return GC_N_OPTS(table);
}

static void usage(const gc_opt *t, int n) {
    fputs("usage: gencost remote HOST [HOST...] [options] -- run ARGS...\n"
          "Runs `gencost run ARGS` on each HOST over ssh (your own ssh config, agent and known_hosts;\n"
          "BatchMode, so a host that would ask for a password fails instead) and fetches each results\n"
          "file back as OUT_DIR/results-<host>.json, for gencost report. The exact source tree of this\n"
          "build goes along (git archive of the commit; a dirty checkout is refused unless --dirty) and\n"
          "is built there with make into REMOTE_DIR/<commit>, unless a gencost of the same commit is\n"
          "already in that folder. Hosts run in parallel, one progress line each; a host that fails is\n"
          "reported with its reason and the others' results are kept. Ctrl-C stops the remote runs\n"
          "(each saves what it measured, marked complete: false) and fetches what they saved.\n\n",
          stdout);
    gc_opts_usage(stdout, t, n);
    fputs("\nexit status: 0 every host ran every case, 1 a host or a case failed, 2 bad input,\n"
          "             130 interrupted\n", stdout);
}

/* Splits argv at "--": options and hosts before, the gencost command after. */
static int parse_args(int argc, char **argv, remote_args *a) {
    memset(a, 0, sizeof *a);
    int dash = 1;
    while (dash < argc && strcmp(argv[dash], "--")) dash++;
    gc_opt t[MAX_OPTS];
    int n = option_table(a, t);
    bool help;
    gc_err err;
    if (gc_opts_parse(t, n, dash, argv, 1, a->hosts, MAX_HOSTS, &a->n_hosts, &help, &err))
        return gc_opts_die("remote", &err);
    if (help) {
        usage(t, n);
        return -1;
    }
    if (!a->n_hosts) return gc_die_usage("remote: needs at least one HOST (try: gencost remote --help)");
    for (int i = 0; i < a->n_hosts; i++)
        if (a->hosts[i][0] == '-' || !a->hosts[i][0])
            return gc_die_usage("remote: '%s' is not a host", GC_ESC(a->hosts[i]));
    if (dash >= argc - 1 || strcmp(argv[dash + 1], "run"))
        return gc_die_usage("remote: needs the command after '--': -- run ARGS... (gencost run's options)");
    a->run_argv = argv + dash + 1;
    a->run_argc = argc - dash - 1;
    for (int i = 1; i < a->run_argc; i++)
        if (!strcmp(a->run_argv[i], "--out") || !strncmp(a->run_argv[i], "--out=", 6))
            return gc_die_usage("remote: run --out is chosen by gencost remote (see --out-dir)");
    if (a->remote_bin && (a->build || a->dirty || a->src))
        return gc_die_usage("remote: --remote-bin uses a gencost already there: not with --build, --dirty or --src");
    for (int i = 0; i < a->n_hosts; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(a->hosts[i], a->hosts[j]))
                return gc_die_usage("remote: host '%s' is given twice (its results file would be written twice)",
                                    GC_ESC(a->hosts[i]));
    if (!a->jobs) a->jobs = a->n_hosts;
    if (a->remote_dir && strlen(a->remote_dir) > 900) return gc_die_usage("remote: --remote-dir: longer than 900 bytes");
    if (a->remote_bin && strlen(a->remote_bin) > 1000) return gc_die_usage("remote: --remote-bin: longer than 1000 bytes");
    if (!a->remote_dir) a->remote_dir = ".cache/gencost";
    return 0;
}

/* ---- one host ------------------------------------------------------------------------------ */

/* The last non-empty line of a file (a step's log, ssh's complaint), escaped, into buf. */
static void last_line(const char *path, char *buf, size_t n) {
    buf[0] = 0;
    gc_err err;
    size_t len;
    char *text = gc_read_file(path, &len, &err);
    if (!text) return;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r')) text[--len] = 0;
    char *start = text + len;
    while (start > text && start[-1] != '\n' && start[-1] != '\r') start--;
    gc_esc(start, buf, n);
    free(text);
}

static void fail(host_job *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(host_job *h, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->reason, sizeof h->reason, fmt, ap);
    va_end(ap);
    h->state = stop_flag ? H_STOPPED : H_FAILED;
}

/* One remote shell line, stdout and stderr to `log` (the step's reason comes from its last line). */
static int remote(host_job *h, const char *line, const char *in, const char *log, const volatile sig_atomic_t *stop) {
    gc_exec_io io = {.stdin_path = in, .stdout_path = log, .stderr_path = "&1"};
    gc_err err;
    int rc = gc_exec_run(&h->x, line, &io, 0, stop, &err);
    if (rc < 0) snprintf(h->reason, sizeof h->reason, "%s", err.msg);
    return rc;
}

/* What a failed ssh step says: ssh's own message when ssh failed (255), else the log's last line. */
static void step_failed_more(host_job *h, const char *step, int rc, const char *log, const char *more);
static void step_failed(host_job *h, const char *step, int rc, const char *log) {
    step_failed_more(h, step, rc, log, "");
}

/* The same with `more` after the reason (the reason is whole before the state says failed: the
 * progress lines read it from the main thread). */
static void step_failed_more(host_job *h, const char *step, int rc, const char *log, const char *more) {
    char tail[400];
    last_line(log, tail, sizeof tail);
    if (rc == 255)
        fail(h, "%s: ssh failed: %s%s", step, tail[0] ? tail : "no message", more);
    else if (rc >= 0 && !strcmp(step, "build"))
        fail(h, "build: exit %d%s%s (the whole log: %s)%s", rc, tail[0] ? ": " : "", tail, log, more);
    else if (rc >= 0)
        fail(h, "%s: exit %d%s%s%s", step, rc, tail[0] ? ": " : "", tail, more);
    else if (!h->reason[0])
        fail(h, "%s: could not start%s", step, more);
    else {
        char why[sizeof h->reason];
        snprintf(why, sizeof why, "%s", h->reason);
        fail(h, "%s: %s%s", step, why, more);
    }
}

/* The commit a `gencost --version` line names ("gencost 0.1.0 (commit abc)"), into buf. */
static bool version_commit(const char *text, char *buf, size_t n) {
    const char *c = strstr(text, "(commit ");
    if (!c) return false;
    c += 8;
    size_t k = strcspn(c, ")\n");
    snprintf(buf, n, "%.*s", (int)k, c);
    return true;
}

/* probe: is a gencost of this commit there? */
static int probe(host_job *h, bool *have) {
    h->state = H_PROBE;
    char *qb = gc_shell_quote(h->bin), *line = NULL;
    /* command -v: a path or a name on the login's PATH (--remote-bin gencost) */
    if (!qb || asprintf(&line, "if command -v %s > /dev/null 2>&1; then %s --version; else echo 'no gencost'; fi", qb,
                        qb) < 0)
        line = NULL;
    free(qb);
    int rc = remote(h, line, NULL, h->run_log, NULL);
    free(line);
    if (rc) {
        step_failed(h, "connect", rc, h->run_log);
        return -1;
    }
    gc_err err;
    char *text = gc_read_file(h->run_log, NULL, &err), commit[64] = "";
    bool found = text && version_commit(text, commit, sizeof commit);
    free(text);
    *have = found && !strcmp(commit, h->ship->commit);
    if (h->a->remote_bin && !*have) {
        fail(h, "%s on the host %s%s, this build is %s", h->a->remote_bin, found ? "is commit " : "is not a gencost",
             found ? commit : "", h->ship->commit);
        return -1;
    }
    return 0;
}

/* The remote side of ship + build, one shell script: under a lock (a folder: mkdir is atomic
 * everywhere, flock is not on macOS), since two hosts sharing a home (NFS), or two runs, may
 * reach one per-commit folder at once; the one that waited finds the gencost built and skips. */
static char *build_script(const host_job *h) {
    gc_argv mk;
    gc_argv_init(&mk);
    const char *words[] = {"make", "BUILD=build", "build/gencost"};
    gc_argv_addv(&mk, words, 3);
    gc_argv_addf(&mk, "GIT_COMMIT=%s", h->ship->commit); /* the tar has no .git to ask */
    char *make = mk.oom ? NULL : gc_shell_join((const char *const *)mk.v, mk.n);
    gc_argv_free(&mk);
    char want[96];
    snprintf(want, sizeof want, "(commit %s)", h->ship->commit);
    char *qd = gc_shell_quote(h->dir), *qw = gc_shell_quote(want), *line = NULL;
    /* a build is the one step that is not measured: as many make jobs as the host has cores */
    if (make && qd && qw &&
        asprintf(&line,
                 "mkdir -p %s && cd %s && L=\"$PWD/.lock\" && n=0 && until mkdir \"$L\" 2>/dev/null; do "
                 "n=$((n+1)); if [ $n -gt 900 ]; then echo \"gencost: $L held for 15 minutes: another build, or a "
                 "stale lock to remove\"; exit 75; fi; sleep 1; done; "
                 "trap 'rmdir \"$L\"' EXIT; trap 'exit 129' HUP INT TERM; "
                 "if [ %d = 0 ] && [ -x src/build/gencost ] && src/build/gencost --version | grep -qF %s; then "
                 "echo 'gencost: already built here by another run'; cat > /dev/null; exit 0; fi; "
                 "rm -rf src.new && mkdir src.new && tar -x -C src.new && rm -rf src && mv src.new src && cd src && "
                 "%s -j\"$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)\"",
                 qd, qd, h->a->build, qw, make) < 0)
        line = NULL;
    free(make);
    free(qd);
    free(qw);
    return line;
}

static int ship_and_build(host_job *h) {
    h->state = H_BUILD;
    char *line = build_script(h);
    int rc = remote(h, line, h->ship->tar_path[0] ? h->ship->tar_path : NULL, h->build_log, &stop_flag);
    free(line);
    if (rc) {
        step_failed(h, "build", rc, h->build_log);
        return -1;
    }
    return 0;
}

/* Asks the remote gencost to stop as Ctrl-C would (SIGINT: it saves, complete: false). */
static void remote_interrupt(host_job *h) {
    char *qd = gc_shell_quote(h->dir), *line = NULL;
    if (qd && asprintf(&line, "kill -INT \"$(cat %s/runs/%s.pid)\"", qd, h->tag) < 0) line = NULL;
    free(qd);
    gc_err err;
    gc_exec_io io = {.stdout_path = "/dev/null", .stderr_path = "/dev/null"};
    if (line) gc_exec_run(&h->x, line, &io, 20, NULL, &err);
    free(line);
}

static int run_remote(host_job *h) {
    h->state = H_RUN;
    gc_argv cmd;
    gc_argv_init(&cmd);
    gc_argv_add(&cmd, h->bin);
    gc_argv_addv(&cmd, (const char *const *)h->a->run_argv, h->a->run_argc);
    gc_argv_add(&cmd, "--out");
    gc_argv_addf(&cmd, "%s/runs/%s.json", h->dir, h->tag);
    char *run = cmd.oom ? NULL : gc_exec_command_line(NULL, &cmd);
    gc_argv_free(&cmd);
    char *qd = gc_shell_quote(h->dir), *line = NULL;
    /* $$ is the shell that exec turns into gencost: its pid, kept for remote_interrupt */
    if (run && qd && asprintf(&line, "mkdir -p %s/runs && echo $$ > %s/runs/%s.pid && exec %s", qd, qd, h->tag, run) < 0)
        line = NULL;
    free(run);
    free(qd);
    gc_argv argv;
    gc_err err;
    if (line && h->x.mock) {
        h->run_status = gc_exec_run(&h->x, line, NULL, 0, NULL, &err);
        free(line);
        return 0;
    }
    if (!line || gc_exec_wrap(&h->x, line, &argv, &err)) {
        free(line);
        fail(h, "run: out of memory");
        return -1;
    }
    free(line);
    gc_exec_io io = {.stdout_path = h->run_log, .stderr_path = "&1"};
    pid_t pid = gc_exec_start(&argv, &io, &err);
    gc_argv_free(&argv);
    if (pid < 0) {
        fail(h, "run: %s", err.msg);
        return -1;
    }
    double asked = 0;
    while (!gc_exec_poll(pid, &h->run_status)) {
        if (stop_flag && !asked) {
            remote_interrupt(h);
            asked = gc_now();
        }
        if (asked && gc_now() - asked > 60) { /* it did not stop: end the connection */
            h->run_status = gc_exec_wait(pid, 0.01, NULL);
            break;
        }
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    if (h->run_status == 255 || h->run_status == 2) {
        char more[320] = ""; /* the connection went; gencost may go on there */
        if (h->run_status == 255)
            snprintf(more, sizeof more, " (the run may go on there: %.200s/runs/%s.json)", h->dir, h->tag);
        step_failed_more(h, "run", h->run_status, h->run_log, more);
        return -1;
    }
    return 0;
}

static void fetch(host_job *h) {
    h->state = H_FETCH;
    char part[GC_PATH_MAX + 8], *qf = NULL, *line = NULL;
    snprintf(part, sizeof part, "%s.part", h->results);
    char path[1200];
    snprintf(path, sizeof path, "%s/runs/%s.json", h->dir, h->tag);
    qf = gc_shell_quote(path);
    if (qf && asprintf(&line, "cat %s", qf) < 0) line = NULL;
    free(qf);
    gc_exec_io io = {.stdout_path = part};
    gc_err err;
    int rc = gc_exec_run(&h->x, line, &io, 120, NULL, &err);
    free(line);
    if (h->x.mock) {
        h->state = H_OK;
        return;
    }
    gc_results r;
    if (rc || results_read(part, &r, &err)) {
        unlink(part);
        fail(h, "fetch: %s", rc ? "the run left no results file" : err.msg);
        return;
    }
    h->n_cases = r.n_cases;
    h->complete = r.complete;
    int bad = 0;
    for (int i = 0; i < r.n_cases; i++) bad += strcmp(r.cases[i].status, "ok") && strcmp(r.cases[i].status, "skipped");
    results_free(&r);
    if (rename(part, h->results)) {
        fail(h, "fetch: cannot save %s: %s", h->results, strerror(errno));
        return;
    }
    if (!h->complete)
        fail(h, "%s holds %d case result(s), complete: false", h->results, h->n_cases);
    else if (bad || h->run_status)
        fail(h, "%d of %d case(s) failed (exit %d); see %s", bad, h->n_cases, h->run_status, h->run_log);
    else
        h->state = H_OK;
}

static void *host_main(void *arg) {
    host_job *h = arg;
    bool have = false;
    if (stop_flag) {
        fail(h, "not started");
        return NULL;
    }
    if (probe(h, &have)) return NULL;
    if ((!have || h->a->build) && !h->a->remote_bin && ship_and_build(h)) return NULL;
    if (stop_flag) {
        fail(h, "stopped before the run");
        return NULL;
    }
    if (run_remote(h)) return NULL;
    fetch(h);
    return NULL;
}

/* ---- progress ------------------------------------------------------------------------------ */

/* One line per host: its step and, while it runs, the remote run's latest line. */
static void host_line(const host_job *h, char *buf, size_t n) {
    char tail[200] = "";
    if (h->state == H_RUN || h->state == H_BUILD) last_line(h->state == H_RUN ? h->run_log : h->build_log, tail, sizeof tail);
    const char *detail = h->state >= H_OK ? h->reason : tail;
    if (h->state == H_OK) {
        snprintf(buf, n, "%.200s: done: %.600s (%d case results)", h->x.host, h->results, h->n_cases);
        return;
    }
    snprintf(buf, n, "%s: %s%s%s", h->x.host, state_names[h->state], detail[0] ? ": " : "", detail);
}

/* Columns of the terminal on stderr: a progress line longer than that would wrap, and moving up
 * n lines would then miss the first. */
static int term_cols(void) {
    struct winsize ws;
    return ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80;
}

static void draw(host_job *hs, int n, bool tty, bool first, host_state *shown) {
    char line[900];
    int cols = tty ? term_cols() - 1 : 0;
    if (tty && !first) fprintf(stderr, "\033[%dA", n);
    for (int i = 0; i < n; i++) {
        if (!tty && (hs[i].state == shown[i] || hs[i].state == H_WAIT)) continue;
        shown[i] = hs[i].state;
        host_line(&hs[i], line, sizeof line);
        if (tty) fprintf(stderr, "\r\033[K%.*s\n", cols, line); /* bytes, so UTF-8 only shortens it */
        else fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

/* ---- the command --------------------------------------------------------------------------- */

static int prepare_out_dir(remote_args *a, char *buf, size_t n) {
    if (a->out_dir) {
        snprintf(buf, n, "%s", a->out_dir);
    } else {
        char stamp[32];
        gc_utc_compact(stamp, sizeof stamp);
        snprintf(buf, n, "results/remote-%s", stamp);
    }
    gc_err err;
    if (!a->dry_run && gc_mkdirs(buf, &err)) return gc_die_usage("remote: --out-dir: %s", err.msg);
    return 0;
}

static void job_init(host_job *h, const remote_args *a, const gc_ship *ship, const char *out_dir, gc_exec_mock *mock, int i) {
    memset(h, 0, sizeof *h);
    h->a = a;
    h->ship = ship;
    h->x = (gc_exec){.kind = GC_EXEC_SSH, .host = a->hosts[i], .ssh_config = a->ssh_config,
                     .mock = mock};
    gc_safe_name(a->hosts[i], NULL, h->name, sizeof h->name);
    snprintf(h->dir, sizeof h->dir, "%.900s/%s", a->remote_dir, ship->folder);
    if (a->remote_bin)
        snprintf(h->bin, sizeof h->bin, "%s", a->remote_bin);
    else
        snprintf(h->bin, sizeof h->bin, "%s/src/build/gencost", h->dir);
    char stamp[32];
    gc_utc_compact(stamp, sizeof stamp);
    snprintf(h->tag, sizeof h->tag, "%s-%d-%d", stamp, (int)getpid(), i);
    snprintf(h->run_log, sizeof h->run_log, "%.3000s/run-%s.log", out_dir, h->name);
    snprintf(h->build_log, sizeof h->build_log, "%.3000s/build-%s.log", out_dir, h->name);
    snprintf(h->results, sizeof h->results, "%.3000s/results-%s.json", out_dir, h->name);
    if (mock) snprintf(h->run_log, sizeof h->run_log, "/dev/null");
    if (mock) snprintf(h->build_log, sizeof h->build_log, "/dev/null");
}

/* Runs the hosts, at most a->jobs at once, drawing progress until all are done. */
static void run_hosts(host_job *hs, int n, long jobs) {
    bool tty = isatty(2);
    host_state shown[MAX_HOSTS];
    for (int i = 0; i < n; i++) shown[i] = (host_state)-1;
    int next = 0, running = 0;
    bool done[MAX_HOSTS] = {0}, first = true;
    for (;;) {
        while (next < n && running < jobs) {
            if (pthread_create(&hs[next].thread, NULL, host_main, &hs[next])) {
                fail(&hs[next], "cannot start a thread");
                done[next] = true;
            } else {
                running++;
            }
            next++;
        }
        for (int i = 0; i < next; i++)
            if (!done[i] && hs[i].state >= H_OK) {
                pthread_join(hs[i].thread, NULL);
                done[i] = true;
                running--;
            }
        draw(hs, n, tty, first, shown);
        first = false;
        if (!running && next == n) break;
        if (stop_flag)
            for (int i = next; i < n; i++) fail(&hs[i], "not started"), done[i] = true, next = n;
        nanosleep(&(struct timespec){0, (tty ? 300 : 100) * 1000 * 1000L}, NULL);
    }
    draw(hs, n, tty, false, shown);
}

static int summary(const host_job *hs, int n, const char *out_dir) {
    int ok = 0, stopped = 0;
    for (int i = 0; i < n; i++) {
        ok += hs[i].state == H_OK;
        stopped += hs[i].state == H_STOPPED;
    }
    printf("gencost remote: %d of %d host(s) done; results in %s\n", ok, n, out_dir);
    for (int i = 0; i < n; i++) {
        char line[900];
        host_line(&hs[i], line, sizeof line);
        printf("  %s\n", line);
    }
    return stop_flag || stopped ? 130 : ok == n ? 0 : 1;
}

static int dry_run(remote_args *a, const gc_ship *ship) {
    /* the mock executor: every command printed as it would run, each answered "ok, no output" */
    static const int status[] = {0};
    gc_exec_mock mock = {.log = stdout, .status = status, .n_script = 1};
    host_job h;
    for (int i = 0; i < a->n_hosts; i++) {
        printf("# %s\n", a->hosts[i]);
        job_init(&h, a, ship, ".", &mock, i);
        bool have = false;
        probe(&h, &have);
        if (!a->remote_bin) ship_and_build(&h);
        run_remote(&h);
        fetch(&h);
    }
    return 0;
}

int cmd_remote(int argc, char **argv) {
    remote_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    char out_dir[3100];
    if (prepare_out_dir(&a, out_dir, sizeof out_dir)) return GC_EXIT_USAGE;
    gc_ship ship;
    gc_err err;
    if (a.remote_bin)
        ship_this_build(&ship);
    else if (ship_prepare(&ship, a.src, a.dirty, a.dry_run ? NULL : out_dir, &err))
        return gc_die_usage("remote: %s", err.msg);
    if (a.dry_run) {
        rc = dry_run(&a, &ship);
        ship_free(&ship);
        return rc;
    }
    host_job *hs = calloc((size_t)a.n_hosts, sizeof *hs);
    if (!hs) {
        ship_free(&ship);
        return gc_die_usage("remote: out of memory");
    }
    for (int i = 0; i < a.n_hosts; i++) job_init(&hs[i], &a, &ship, out_dir, NULL, i);
    stop_flag = 0;
    struct sigaction sa = {.sa_handler = on_sigint}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    run_hosts(hs, a.n_hosts, a.jobs);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    rc = summary(hs, a.n_hosts, out_dir);
    free(hs);
    ship_free(&ship);
    return rc;
}
