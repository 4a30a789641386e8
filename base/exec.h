/* The executor seam: every command gencost starts elsewhere (another gencost, /bin/sh, ssh, scp,
 * sbatch, squeue, sacct) is built and started here, so argument vectors, shell quoting and the
 * forwarding of the settings that change a measurement live in one place.
 *
 * A command is an argument vector (gc_argv). Where a shell reads it (ssh's remote side, a Slurm
 * batch script, `compare --interleave`'s lines) it becomes one line through gc_shell_join, whose
 * words are quoted by gc_shell_quote and by nothing else. An executor (gc_exec) says where a line
 * runs:
 *   local  /bin/sh -c LINE on this machine
 *   ssh    ssh -o BatchMode=yes [-F CONFIG] HOST -- LINE: the user's own ssh configuration, agent
 *          and known_hosts; gencost holds no credential, asks for none (BatchMode: a host that
 *          wants a password fails instead of prompting) and passes none on
 *   slurm  srun [--partition P] [--constraint C] [--gpus N] [--time T] /bin/sh -c LINE
 * and any of them becomes a mock when a gc_exec_mock is attached: nothing runs, the argv that
 * would run is recorded and a scripted exit status and stdout are returned, so what the seam
 * builds can be tested (and shown: gencost remote --dry-run) without a host or a cluster.
 *
 * Measurement settings (gc_measure_env): environment variables that change what a run measures.
 * A command that runs gencost elsewhere gets each of them explicitly: set to this process's
 * value, or unset (env -u), so a remote login's own profile cannot change the case without a
 * trace; the results writer records the ones set (bench/results.h, `environment`). */
#ifndef GC_EXEC_H
#define GC_EXEC_H
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include "base/util.h"

/* ---- argument vectors ---- */

typedef struct gc_argv {
    char **v; /* NULL-terminated; owned copies */
    int n, cap;
    bool oom; /* an add failed: the vector is incomplete (gc_argv_ok) */
} gc_argv;

void gc_argv_init(gc_argv *a);
void gc_argv_add(gc_argv *a, const char *s);
void gc_argv_addf(gc_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gc_argv_addv(gc_argv *a, const char *const *v, int n);
int gc_argv_ok(const gc_argv *a, gc_err *err); /* 0, or non-zero + "out of memory" */
void gc_argv_free(gc_argv *a);

/* ---- shell quoting: the one place ---- */

/* s as one POSIX shell word (malloc'd; NULL when out of memory): unchanged when it is not empty
 * and every byte is one of [A-Za-z0-9_@%+=:,./-], else single-quoted with each ' as '\''. */
char *gc_shell_quote(const char *s);
/* v[0..n) as one shell line, each word through gc_shell_quote, separated by spaces (malloc'd). */
char *gc_shell_join(const char *const *v, int n);

/* ---- measurement settings ---- */

/* The names, NULL-terminated: GENCOST_ISA (the CPU micro-kernel set), CUDA_VISIBLE_DEVICES and
 * CUDA_DEVICE_ORDER (which GPU a cuda case runs on). */
extern const char *const gc_measure_env[];
/* Appends "env -u NAME ... NAME=VALUE ..." for every name: set to this process's value when set
 * here, unset otherwise. */
void gc_measure_env_words(gc_argv *a);

/* ---- executors ---- */

typedef enum gc_exec_kind { GC_EXEC_LOCAL, GC_EXEC_SSH, GC_EXEC_SLURM } gc_exec_kind;

/* The mock's script and record: each run appends its argv, joined by gc_shell_join, as one line
 * to `log` (a memory stream the test reads) and answers with the next status and stdout of the
 * script (the last entry repeats). */
typedef struct gc_exec_mock {
    FILE *log;
    const int *status;
    const char *const *stdout_text;
    int n_script, next;
} gc_exec_mock;

typedef struct gc_exec {
    gc_exec_kind kind;
    /* ssh */
    const char *host;       /* the destination as the user's ssh knows it (an alias, user@name) */
    const char *ssh_config; /* -F FILE; NULL: ssh's own (~/.ssh/config) */
    int connect_timeout_s;  /* ConnectTimeout; 0: 10 s */
    /* slurm */
    const char *partition, *constraint, *time_limit;
    int gpus;
    gc_exec_mock *mock; /* non-NULL: record, run nothing */
} gc_exec;

/* The argv that runs the shell line `line` through x (see the table at the top). */
int gc_exec_wrap(const gc_exec *x, const char *line, gc_argv *out, gc_err *err);

/* Where a started command reads and writes: NULL paths are /dev/null (stdin) or this process's
 * own stream (stdout, stderr); stderr_path "&1" joins stdout; stdout_to_stderr sends stdout to
 * this process's stderr (compare's lines, whose own stdout carries the comparison).
 * same_group keeps the command in this process's group, where the terminal's Ctrl-C reaches it
 * as it reaches this process (compare's lines, run in the foreground as a shell would). */
typedef struct gc_exec_io {
    const char *stdin_path, *stdout_path, *stderr_path;
    bool stdout_to_stderr, same_group;
} gc_exec_io;

/* Starts argv (argv->v[0] looked up on PATH), unless io->same_group in a process group of its
 * own, so this process's Ctrl-C does not reach it and gc_exec_wait decides when and how it
 * stops (all of it: ssh and what it started). Returns the pid, or -1 + err. */
pid_t gc_exec_start(const gc_argv *argv, const gc_exec_io *io, gc_err *err);

/* Waits for pid. When *stop becomes non-zero (stop may be NULL), or timeout_s (> 0) passes, its
 * process group (the pid alone when it shares ours) gets SIGTERM, then SIGKILL 3 s later. Returns the exit status, 128 + the signal
 * that ended it, or 124 when the timeout stopped it. */
int gc_exec_wait(pid_t pid, double timeout_s, const volatile sig_atomic_t *stop);

/* Whether pid has ended (its status in *status, as gc_exec_wait says it), without waiting. */
bool gc_exec_poll(pid_t pid, int *status);

/* gc_exec_wrap + gc_exec_start + gc_exec_wait; with a mock, its record and script instead.
 * Returns as gc_exec_wait, or -1 + err when the command could not start. */
int gc_exec_run(const gc_exec *x, const char *line, const gc_exec_io *io, double timeout_s,
                const volatile sig_atomic_t *stop, gc_err *err);

/* The same with the argv of a gencost (or any) command: cmd joined into a line behind the
 * measurement settings (gc_measure_env_words), after "cd DIR &&" when dir is not NULL. */
char *gc_exec_command_line(const char *dir, const gc_argv *cmd);

#endif
