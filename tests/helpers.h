/* What several test files need alike: running the gencost CLI as a child process and capturing
 * what it prints. Header-only (static inline functions), because the Makefile builds each
 * tests/test_*.c as its own binary against the library, with the headers in tests/ as
 * dependencies. It includes cmocka (with what cmocka needs first); failures are cmocka
 * assertions. */
#ifndef GC_TESTS_HELPERS_H
#define GC_TESTS_HELPERS_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

/* Where a child's stdout or stderr goes. */
typedef enum th_sink {
    TH_CAPTURE, /* a temporary file, read back into th_proc.out / .err by th_finish, then removed */
    TH_INHERIT, /* the test's own stream, so the child's messages show in the test log */
    TH_DISCARD, /* /dev/null */
    TH_FILE,    /* stdout only: the file th_io.out_file names, left for the test to read */
} th_sink;

/* A zero th_io captures both streams. */
typedef struct th_io {
    th_sink out, err;
    const char *out_file; /* for out == TH_FILE */
} th_io;

typedef struct th_proc {
    pid_t pid;
    int status;      /* exit status, or 128 + the signal that ended the child */
    int signal;      /* that signal; 0 when the child exited */
    char *out, *err; /* captured stdout / stderr, NUL-terminated; NULL unless TH_CAPTURE */
    th_io io;
    char out_path[256], err_path[256];
} th_proc;

/* The binary under test: $GENCOST_BIN (make test sets it to the sanitized build) or fallback. */
static inline const char *th_gencost_bin(const char *fallback) {
    const char *b = getenv("GENCOST_BIN");
    return b && *b ? b : fallback;
}

/* The path the child opens for one stream ("" leaves the stream as it is). */
static inline void th_sink_path(th_sink s, const char *file, const char *tmp, char *path, size_t n) {
    const char *p = s == TH_CAPTURE ? tmp : s == TH_DISCARD ? "/dev/null" : s == TH_FILE ? file : "";
    snprintf(path, n, "%s", p ? p : "");
}

/* Starts bin with args (NULL-terminated, bin not included; at most 62), streams as io says. */
static inline void th_start(th_proc *p, const char *bin, const char *const *args, th_io io) {
    static int seq;
    char tmp_out[64], tmp_err[64];
    memset(p, 0, sizeof *p);
    p->io = io;
    snprintf(tmp_out, sizeof tmp_out, "/tmp/gc_th_%d_%d.out", (int)getpid(), seq);
    snprintf(tmp_err, sizeof tmp_err, "/tmp/gc_th_%d_%d.err", (int)getpid(), seq++);
    th_sink_path(io.out, io.out_file, tmp_out, p->out_path, sizeof p->out_path);
    th_sink_path(io.err == TH_FILE ? TH_INHERIT : io.err, NULL, tmp_err, p->err_path, sizeof p->err_path);
    const char *argv[64] = {bin};
    int n = 1;
    for (; args[n - 1] && n < 63; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        const char *paths[2] = {p->out_path, p->err_path};
        for (int fd = 1; fd <= 2; fd++) {
            if (!*paths[fd - 1]) continue;
            int f = open(paths[fd - 1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (f < 0 || dup2(f, fd) < 0) _exit(126);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
}

/* Reads back a captured stream and removes its file. */
static inline char *th_take(th_sink s, const char *path) {
    if (s != TH_CAPTURE) return NULL;
    gc_err err;
    char *text = gc_read_file(path, NULL, &err);
    unlink(path);
    if (!text) fail_msg("%s", err.msg);
    return text;
}

/* Waits for the child: at most timeout_s seconds when > 0 (a hang is a failure, not a stuck
 * test), without limit when 0. Then reads what was captured. */
static inline void th_finish(th_proc *p, double timeout_s) {
    int st = 0;
    double t0 = gc_now();
    while (timeout_s > 0 && waitpid(p->pid, &st, WNOHANG) != p->pid) {
        if (gc_now() - t0 > timeout_s) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            fail_msg("gencost did not finish within %.0f s", timeout_s);
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    if (timeout_s <= 0) assert_int_equal(waitpid(p->pid, &st, 0), p->pid);
    p->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + p->signal;
    p->out = th_take(p->io.out, p->out_path);
    p->err = th_take(p->io.err, p->err_path);
}

/* th_start then th_finish; returns the status. */
static inline int th_run(th_proc *p, const char *bin, const char *const *args, th_io io, double timeout_s) {
    th_start(p, bin, args, io);
    th_finish(p, timeout_s);
    return p->status;
}

static inline void th_free(th_proc *p) {
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

/* Names in dir other than "." and "..", joined by spaces: a temporary left behind shows here. */
static inline void th_folder_names(const char *dir, char *out, size_t n) {
    out[0] = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            size_t w = strlen(out), k = strlen(e->d_name);
            assert_true(w + k + 2 <= n);
            if (w) out[w++] = ' ';
            memcpy(out + w, e->d_name, k + 1);
        }
    closedir(d);
}

#endif
