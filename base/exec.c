/* The executor seam (base/exec.h): argument vectors, the one shell quoting, measurement settings,
 * and starting, waiting for and stopping commands. */
#include "base/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- argument vectors ---------------------------------------------------------------------- */

void gc_argv_init(gc_argv *a) { memset(a, 0, sizeof *a); }

static void argv_take(gc_argv *a, char *s) {
    if (!s || a->oom) {
        free(s);
        a->oom = true;
        return;
    }
    if (a->n + 2 > a->cap) {
        int cap = a->cap ? 2 * a->cap : 16;
        char **v = realloc(a->v, (size_t)cap * sizeof *v);
        if (!v) {
            free(s);
            a->oom = true;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

void gc_argv_add(gc_argv *a, const char *s) { argv_take(a, strdup(s ? s : "")); }

void gc_argv_addf(gc_argv *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    argv_take(a, s);
}

void gc_argv_addv(gc_argv *a, const char *const *v, int n) {
    for (int i = 0; i < n; i++) gc_argv_add(a, v[i]);
}

int gc_argv_ok(const gc_argv *a, gc_err *err) {
    return a->oom || !a->v ? gc_errf(err, "out of memory building a command") : 0;
}

void gc_argv_free(gc_argv *a) {
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* ---- shell quoting ------------------------------------------------------------------------- */

static bool shell_plain(const char *s) {
    if (!*s) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("_@%+=:,./-", *p)))
            return false;
    return true;
}

char *gc_shell_quote(const char *s) {
    if (shell_plain(s)) return strdup(s);
    size_t n = 3;
    for (const char *p = s; *p; p++) n += *p == '\'' ? 4 : 1;
    char *q = malloc(n), *o = q;
    if (!q) return NULL;
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4); /* end the quote, a quoted quote, quote again */
            o += 4;
        } else {
            *o++ = *p;
        }
    }
    *o++ = '\'';
    *o = 0;
    return q;
}

char *gc_shell_join(const char *const *v, int n) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        char *q = gc_shell_quote(v[i]);
        ok = q && fprintf(f, "%s%s", i ? " " : "", q) >= 0;
        free(q);
    }
    if (fclose(f) || !ok) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- measurement settings ------------------------------------------------------------------ */

const char *const gc_measure_env[] = {"GENCOST_ISA", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", NULL};

void gc_measure_env_words(gc_argv *a) {
    gc_argv_add(a, "env");
    for (const char *const *n = gc_measure_env; *n; n++)
        if (!getenv(*n)) {
            gc_argv_add(a, "-u");
            gc_argv_add(a, *n);
        }
    for (const char *const *n = gc_measure_env; *n; n++)
        if (getenv(*n)) gc_argv_addf(a, "%s=%s", *n, getenv(*n));
}

char *gc_exec_command_line(const char *dir, const gc_argv *cmd) {
    gc_argv w;
    gc_argv_init(&w);
    gc_measure_env_words(&w);
    gc_argv_addv(&w, (const char *const *)cmd->v, cmd->n);
    char *line = w.oom ? NULL : gc_shell_join((const char *const *)w.v, w.n);
    gc_argv_free(&w);
    if (!line || !dir) return line;
    char *qd = gc_shell_quote(dir), *full = NULL;
    if (qd && asprintf(&full, "cd %s && %s", qd, line) < 0) full = NULL;
    free(qd);
    free(line);
    return full;
}

/* ---- executors ----------------------------------------------------------------------------- */

static void wrap_ssh(const gc_exec *x, const char *line, gc_argv *a) {
    gc_argv_add(a, "ssh");
    if (x->ssh_config) {
        gc_argv_add(a, "-F");
        gc_argv_add(a, x->ssh_config);
    }
    /* BatchMode: never a password or passphrase prompt (the agent and keys only); a host key
     * that known_hosts does not vouch for fails as ssh's own policy says. */
    gc_argv_add(a, "-o");
    gc_argv_add(a, "BatchMode=yes");
    gc_argv_add(a, "-o");
    gc_argv_addf(a, "ConnectTimeout=%d", x->connect_timeout_s > 0 ? x->connect_timeout_s : 10);
    gc_argv_add(a, "-o");
    gc_argv_add(a, "ServerAliveInterval=15");
    gc_argv_add(a, "--");
    gc_argv_add(a, x->host);
    gc_argv_add(a, line);
}

static void wrap_slurm(const gc_exec *x, const char *line, gc_argv *a) {
    gc_argv_add(a, "srun");
    gc_argv_add(a, "--ntasks=1");
    if (x->partition) gc_argv_addf(a, "--partition=%s", x->partition);
    if (x->constraint) gc_argv_addf(a, "--constraint=%s", x->constraint);
    if (x->gpus > 0) gc_argv_addf(a, "--gpus=%d", x->gpus);
    if (x->time_limit) gc_argv_addf(a, "--time=%s", x->time_limit);
    gc_argv_add(a, "/bin/sh");
    gc_argv_add(a, "-c");
    gc_argv_add(a, line);
}

int gc_exec_wrap(const gc_exec *x, const char *line, gc_argv *out, gc_err *err) {
    gc_argv_init(out);
    switch (x->kind) {
        case GC_EXEC_SSH:
            if (!x->host || !*x->host) return gc_errf(err, "ssh: no host");
            if (x->host[0] == '-') return gc_errf(err, "ssh: host '%s' starts with '-'", GC_ESC(x->host));
            wrap_ssh(x, line, out);
            break;
        case GC_EXEC_SLURM: wrap_slurm(x, line, out); break;
        case GC_EXEC_LOCAL:
            gc_argv_add(out, "/bin/sh");
            gc_argv_add(out, "-c");
            gc_argv_add(out, line);
            break;
    }
    if (gc_argv_ok(out, err)) {
        gc_argv_free(out);
        return -1;
    }
    return 0;
}

/* In the child: one stream onto a file (or /dev/null), before exec. */
static int redirect(int fd, const char *path, int flags) {
    int f = open(path, flags, 0644);
    if (f < 0) return -1;
    int rc = dup2(f, fd) < 0 ? -1 : 0;
    if (f != fd) close(f);
    return rc;
}

pid_t gc_exec_start(const gc_argv *argv, const gc_exec_io *io, gc_err *err) {
    static const gc_exec_io none = {0};
    if (!io) io = &none;
    if (gc_argv_ok(argv, err)) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return gc_errf(err, "%s: cannot start: %s", argv->v[0], strerror(errno));
    if (pid == 0) {
        if (!io->same_group) setpgid(0, 0);
        const int w = O_WRONLY | O_CREAT | O_TRUNC;
        if (redirect(0, io->stdin_path ? io->stdin_path : "/dev/null", O_RDONLY)) _exit(126);
        if (io->stdout_to_stderr && dup2(2, 1) < 0) _exit(126);
        if (io->stdout_path && redirect(1, io->stdout_path, w)) _exit(126);
        if (io->stderr_path && !strcmp(io->stderr_path, "&1")) {
            if (dup2(1, 2) < 0) _exit(126);
        } else if (io->stderr_path && redirect(2, io->stderr_path, w)) {
            _exit(126);
        }
        execvp(argv->v[0], argv->v);
        _exit(127);
    }
    if (!io->same_group) setpgid(pid, pid); /* here too: the group exists before any kill */
    return pid;
}

static void nap(double s) { nanosleep(&(struct timespec){0, (long)(s * 1e9)}, NULL); }

int gc_exec_wait(pid_t pid, double timeout_s, const volatile sig_atomic_t *stop) {
    double t0 = gc_now(), term_at = 0;
    bool timed_out = false;
    pid_t target = getpgid(pid) == pid ? -pid : pid; /* its own group: all of it */
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return 128 + SIGKILL;
        double now = gc_now();
        bool want_stop = (stop && *stop) || (timeout_s > 0 && now - t0 > timeout_s);
        if (want_stop && !term_at) {
            timed_out = !(stop && *stop);
            kill(target, SIGTERM);
            term_at = now;
        } else if (term_at && now - term_at > 3) {
            kill(target, SIGKILL);
        }
        nap(0.02);
    }
    if (timed_out) return 124;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool gc_exec_poll(pid_t pid, int *status) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) return false;
    *status = r < 0 ? 128 + SIGKILL : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return true;
}

static int mock_run(gc_exec_mock *m, const gc_argv *argv, const gc_exec_io *io, gc_err *err) {
    char *line = gc_shell_join((const char *const *)argv->v, argv->n);
    if (!line) return gc_errf(err, "out of memory");
    if (m->log) fprintf(m->log, "%s\n", line);
    free(line);
    int k = m->n_script ? (m->next < m->n_script ? m->next : m->n_script - 1) : -1;
    m->next++;
    const char *text = k >= 0 && m->stdout_text ? m->stdout_text[k] : NULL;
    if (text && io && io->stdout_path && gc_write_file_atomic(io->stdout_path, text, strlen(text), err))
        return -1;
    return k >= 0 && m->status ? m->status[k] : 0;
}

int gc_exec_run(const gc_exec *x, const char *line, const gc_exec_io *io, double timeout_s,
                const volatile sig_atomic_t *stop, gc_err *err) {
    if (!line) return gc_errf(err, "out of memory building a command");
    gc_argv argv;
    if (gc_exec_wrap(x, line, &argv, err)) return -1;
    int rc;
    if (x->mock) {
        rc = mock_run(x->mock, &argv, io, err);
    } else {
        pid_t pid = gc_exec_start(&argv, io, err);
        rc = pid < 0 ? -1 : gc_exec_wait(pid, timeout_s, stop);
    }
    gc_argv_free(&argv);
    return rc;
}
