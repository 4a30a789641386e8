/* The executor seam (base/exec.h): the one shell quoting (checked by handing words to a real
 * /bin/sh and comparing the bytes it gets), argument vectors, the measurement settings and how
 * results record them, the argv each executor builds, the mock's record and script, and the
 * statuses of commands that exit, die, time out or are stopped (their whole process group). */
#include <jansson.h>
#include <sys/stat.h>

#include "base/exec.h"
#include "bench/results.h"
#include "tests/helpers.h"

static char dir[64];

static int setup(void **s) {
    snprintf(dir, sizeof dir, "/tmp/gc_exec_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}
static int teardown(void **s) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void expect_quote(const char *in, const char *want) {
    char *q = gc_shell_quote(in);
    assert_non_null(q);
    if (strcmp(q, want)) fail_msg("quote(%s) = %s, want %s", in, q, want);
    free(q);
}

static void quoting(void **s) {
    expect_quote("abc", "abc");
    expect_quote("/tmp/x-1.json", "/tmp/x-1.json");
    expect_quote("--threads=1,2", "--threads=1,2");
    expect_quote("", "''");
    expect_quote("a b", "'a b'");
    expect_quote("it's", "'it'\\''s'");
    expect_quote("$HOME", "'$HOME'");
    expect_quote("a;b", "'a;b'");
    expect_quote("*", "'*'");
    expect_quote("~", "'~'");
    const char *v[] = {"gencost", "run", "--phases", "copy read", "--out", "o.json"};
    char *j = gc_shell_join(v, 6);
    assert_string_equal(j, "gencost run --phases 'copy read' --out o.json");
    free(j);
}

/* What /bin/sh makes of the quoted word is the word, byte for byte. */
static void quoting_round_trip(void **s) {
    const char *words[] = {"plain", "", "two words", "it's", "''", "\\", "\\'", "$(id) `id` $HOME ${x}",
                           "a\nb\tc", "*?[a-z]", "-n", "!#&;|<>(){}", "\xc3\xa9t\xc3\xa9", "\"dq\"", "%s%n"};
    const gc_exec local = {.kind = GC_EXEC_LOCAL};
    char out[128];
    snprintf(out, sizeof out, "%s/rt.out", dir);
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        char *q = gc_shell_quote(words[i]), *line = NULL;
        assert_true(asprintf(&line, "printf '%%s' %s", q) > 0);
        gc_exec_io io = {.stdout_path = out};
        gc_err err;
        assert_int_equal(gc_exec_run(&local, line, &io, 10, NULL, &err), 0);
        char *got = gc_read_file(out, NULL, &err);
        assert_non_null(got);
        if (strcmp(got, words[i])) fail_msg("word %zu: sh got '%s', want '%s' (quoted %s)", i, got, words[i], q);
        free(got);
        free(q);
        free(line);
    }
}

static void argv_vectors(void **s) {
    gc_argv a;
    gc_argv_init(&a);
    gc_argv_add(&a, "x");
    gc_argv_addf(&a, "--n=%d", 42);
    const char *more[] = {"y", "z"};
    gc_argv_addv(&a, more, 2);
    for (int i = 0; i < 40; i++) gc_argv_add(&a, "w"); /* past the first allocation */
    gc_err err;
    assert_int_equal(gc_argv_ok(&a, &err), 0);
    assert_int_equal(a.n, 44);
    assert_string_equal(a.v[1], "--n=42");
    assert_string_equal(a.v[3], "z");
    assert_null(a.v[44]);
    gc_argv_free(&a);
    gc_argv_init(&a);
    assert_int_not_equal(gc_argv_ok(&a, &err), 0); /* empty: nothing to run */
}

/* Each setting forwarded explicitly: the ones set here with their values, the others unset. */
static void measurement_settings(void **s) {
    setenv("GENCOST_ISA", "avx2", 1);
    unsetenv("CUDA_VISIBLE_DEVICES");
    setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID", 1);
    gc_argv cmd;
    gc_argv_init(&cmd);
    gc_argv_add(&cmd, "gencost");
    gc_argv_add(&cmd, "run");
    gc_argv_add(&cmd, "--phases");
    gc_argv_add(&cmd, "a b");
    char *line = gc_exec_command_line("/w d", &cmd);
    assert_string_equal(line, "cd '/w d' && env -u CUDA_VISIBLE_DEVICES GENCOST_ISA=avx2 CUDA_DEVICE_ORDER=PCI_BUS_ID "
                              "gencost run --phases 'a b'");
    free(line);
    gc_argv_free(&cmd);

    /* and the results of a run record the ones set */
    gc_results r;
    results_init(&r);
    r.command_line = strdup("gencost run");
    gc_case_result *c = results_add_case(&r);
    snprintf(c->id.workload, sizeof c->id.workload, "triad");
    snprintf(c->id.phase, sizeof c->id.phase, "copy");
    snprintf(c->status, sizeof c->status, "error");
    snprintf(c->started, sizeof c->started, "2026-12-02T10:00:00.125Z");
    snprintf(c->finished, sizeof c->finished, "2026-12-02T10:00:01.500Z");
    char path[128];
    snprintf(path, sizeof path, "%s/r.json", dir);
    gc_err err;
    assert_int_equal(results_write(&r, path, &err), 0);
    results_free(&r);
    assert_int_equal(results_read(path, &r, &err), 0);
    assert_string_equal(json_string_value(json_object_get(r.environment, "GENCOST_ISA")), "avx2");
    assert_string_equal(json_string_value(json_object_get(r.environment, "CUDA_DEVICE_ORDER")), "PCI_BUS_ID");
    assert_null(json_object_get(r.environment, "CUDA_VISIBLE_DEVICES"));
    assert_string_equal(r.cases[0].started, "2026-12-02T10:00:00.125Z");
    assert_string_equal(r.cases[0].finished, "2026-12-02T10:00:01.500Z");
    results_free(&r);
    unsetenv("GENCOST_ISA");
    unsetenv("CUDA_DEVICE_ORDER");
    /* a file with an environment that is not an object of strings is refused, naming the field */
    const char bad[] = "{\"schema\":2,\"gencost_version\":\"x\",\"git_commit\":\"y\",\"complete\":true,"
                       "\"host\":{\"name\":\"h\"},\"environment\":{\"GENCOST_ISA\":3},\"cases\":[]}";
    assert_int_equal(gc_write_file_atomic(path, bad, strlen(bad), &err), 0);
    assert_int_not_equal(results_read(path, &r, &err), 0);
    assert_non_null(strstr(err.msg, "environment: 'GENCOST_ISA' must be a string"));

    char ms[40];
    gc_utc_iso_ms(ms, sizeof ms);
    assert_int_equal(strlen(ms), 24);
    assert_true(ms[10] == 'T' && ms[19] == '.' && ms[23] == 'Z');
}

static char *joined(const gc_argv *a) { return gc_shell_join((const char *const *)a->v, a->n); }

static void executors_build(void **s) {
    gc_argv a;
    gc_err err;
    const gc_exec ssh = {.kind = GC_EXEC_SSH, .host = "user@box", .ssh_config = "/c f"};
    assert_int_equal(gc_exec_wrap(&ssh, "cd d && ls 'x y'", &a, &err), 0);
    char *j = joined(&a);
    assert_string_equal(j, "ssh -F '/c f' -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=15 -- "
                           "user@box 'cd d && ls '\\''x y'\\'''");
    free(j);
    gc_argv_free(&a);
    const gc_exec opt = {.kind = GC_EXEC_SSH, .host = "-oProxyCommand=x"};
    assert_int_not_equal(gc_exec_wrap(&opt, "true", &a, &err), 0);
    assert_non_null(strstr(err.msg, "starts with '-'"));
    const gc_exec slurm = {.kind = GC_EXEC_SLURM, .partition = "gpu", .gpus = 2, .time_limit = "10"};
    assert_int_equal(gc_exec_wrap(&slurm, "echo hi", &a, &err), 0);
    j = joined(&a);
    assert_string_equal(j, "srun --ntasks=1 --partition=gpu --gpus=2 --time=10 /bin/sh -c 'echo hi'");
    free(j);
    gc_argv_free(&a);
}

/* The mock records what would run and answers from its script, the last entry repeating. */
static void mock_records(void **s) {
    char *buf = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&buf, &len);
    const int status[] = {3, 0};
    const char *const text[] = {"first\n", NULL};
    gc_exec_mock m = {.log = log, .status = status, .stdout_text = text, .n_script = 2};
    const gc_exec x = {.kind = GC_EXEC_SSH, .host = "h", .mock = &m};
    char out[128];
    snprintf(out, sizeof out, "%s/mock.out", dir);
    gc_exec_io io = {.stdout_path = out};
    gc_err err;
    assert_int_equal(gc_exec_run(&x, "echo 1", &io, 0, NULL, &err), 3);
    assert_int_equal(gc_exec_run(&x, "echo 2", NULL, 0, NULL, &err), 0);
    assert_int_equal(gc_exec_run(&x, "echo 3", NULL, 0, NULL, &err), 0);
    fclose(log);
    const char *want = "ssh -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=15 -- h 'echo 1'\n"
                       "ssh -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=15 -- h 'echo 2'\n"
                       "ssh -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=15 -- h 'echo 3'\n";
    assert_string_equal(buf, want);
    free(buf);
    char *got = gc_read_file(out, NULL, &err);
    assert_string_equal(got, "first\n");
    free(got);
}

/* Running, not a zombie (an orphan waits for its reaper, which in some containers is slow). */
static bool alive(pid_t pid) {
    char path[64], st[512] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return kill(pid, 0) == 0;
    size_t n = fread(st, 1, sizeof st - 1, f);
    fclose(f);
    st[n] = 0;
    const char *paren = strrchr(st, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* Exit statuses, a death by signal, a timeout and a stop; a stop or timeout ends the whole
 * process group (the shell's background child too). */
static void statuses_and_stopping(void **s) {
    const gc_exec local = {.kind = GC_EXEC_LOCAL};
    gc_err err;
    char out[128], pidf[128], line[400];
    snprintf(out, sizeof out, "%s/st.out", dir);
    snprintf(pidf, sizeof pidf, "%s/child.pid", dir);
    gc_exec_io io = {.stdout_path = out, .stderr_path = "&1"};
    assert_int_equal(gc_exec_run(&local, "exit 7", &io, 10, NULL, &err), 7);
    assert_int_equal(gc_exec_run(&local, "kill -KILL $$", &io, 10, NULL, &err), 128 + SIGKILL);
    assert_int_equal(gc_exec_run(&local, "echo to-stderr >&2", &io, 10, NULL, &err), 0);
    char *t = gc_read_file(out, NULL, &err);
    assert_string_equal(t, "to-stderr\n");
    free(t);
    assert_int_equal(gc_exec_run(&local, "no-such-program-gencost", &io, 10, NULL, &err), 127);

    snprintf(line, sizeof line, "sleep 30 & echo $! > %s; wait", pidf);
    double t0 = gc_now();
    assert_int_equal(gc_exec_run(&local, line, &io, 0.5, NULL, &err), 124);
    assert_true(gc_now() - t0 < 5);
    t = gc_read_file(pidf, NULL, &err);
    assert_non_null(t);
    pid_t child = (pid_t)atoi(t);
    free(t);
    nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    assert_true(child > 0);
    assert_false(alive(child)); /* the group went: the background sleep too */

    static volatile sig_atomic_t stop = 1;
    assert_int_equal(gc_exec_run(&local, "sleep 30", &io, 0, &stop, &err), 128 + SIGTERM);

    /* gc_exec_poll: not yet, then the status */
    gc_argv a;
    assert_int_equal(gc_exec_wrap(&local, "sleep 0.3; exit 5", &a, &err), 0);
    pid_t pid = gc_exec_start(&a, &io, &err);
    gc_argv_free(&a);
    int st = -1;
    assert_false(gc_exec_poll(pid, &st));
    t0 = gc_now();
    while (!gc_exec_poll(pid, &st) && gc_now() - t0 < 10) nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    assert_int_equal(st, 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quoting),
        cmocka_unit_test(quoting_round_trip),
        cmocka_unit_test(argv_vectors),
        cmocka_unit_test(measurement_settings),
        cmocka_unit_test(executors_build),
        cmocka_unit_test(mock_records),
        cmocka_unit_test(statuses_and_stopping),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
