/* gencost remote against real OpenSSH on this machine: the test starts two sshd on 127.0.0.1
 * (two ports = two hosts, h1 and h2; a third name, dead, points at a port nobody listens on) with
 * a throwaway host key, user key, authorized_keys, known_hosts and ssh config in a temporary
 * folder, passed with --ssh-config (ssh takes ~/.ssh from the passwd entry, not $HOME). The remote
 * side runs the release gencost ($GENCOST_REL_BIN, built by the same make as $GENCOST_BIN, so the
 * commits match) through --remote-bin, or a shipped tree: a tiny git repository whose Makefile
 * builds a gencost that names the shipped commit and hands the run to the release binary, so
 * ship, build, the per-commit folder and its lock run for real in a second. Each sshd is killed
 * at the end; every gencost has a time limit. Without sshd, ssh or ssh-keygen the tests are
 * skipped, saying which (scripts/install-deps.sh installs them for make test). As root, sshd
 * needs its privilege separation folder /run/sshd, which the test creates when it is missing
 * (the Debian service does the same). */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "bench/results.h"
#include "tests/helpers.h"

typedef struct fixture {
    char dir[256], cfg[320], remote_dir[320], src[320];
    char why[256];    /* non-empty: skipped (a package is missing), and why */
    char broken[400]; /* non-empty: the engines are there but did not start: each test fails */
    pid_t sshd[2];
    int port[2];
} fixture;

static fixture F;

static const char *bin(void) { return th_gencost_bin("build/gencost-test"); }
static const char *rel_bin(void) {
    const char *b = getenv("GENCOST_REL_BIN");
    return b && *b ? b : bin();
}

static bool have(const char *path) { return access(path, X_OK) == 0; }

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_text(const char *path, const char *text) {
    gc_err err;
    if (gc_write_file_atomic(path, text, strlen(text), &err)) fail_msg("%s", err.msg);
}

/* A port the kernel just handed out (bound to 0, then closed): free a moment later, almost surely. */
static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &len)) return -1;
    close(s);
    return ntohs(a.sin_port);
}

static void write_configs(void) {
    char path[400], text[2048];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/sshd_%d.conf", F.dir, i);
        snprintf(text, sizeof text,
                 "Port %d\nListenAddress 127.0.0.1\nHostKey %s/hostkey\nAuthorizedKeysFile %s/authorized_keys\n"
                 "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                 "UsePAM no\nStrictModes no\nPidFile none\nLogLevel ERROR\n",
                 F.port[i], F.dir, F.dir);
        write_text(path, text);
    }
    snprintf(text, sizeof text,
             "Host h1\n  HostName 127.0.0.1\n  Port %d\nHost h2\n  HostName 127.0.0.1\n  Port %d\n"
             "Host dead\n  HostName 127.0.0.1\n  Port %d\nHost *\n  IdentityFile %s/userkey\n  IdentitiesOnly yes\n"
             "  UserKnownHostsFile %s/known_hosts\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n",
             F.port[0], F.port[1], free_port(), F.dir, F.dir);
    write_text(F.cfg, text);
}

/* Two sshd in the foreground (-D), so the test owns them; ready when ssh h1/h2 true works. */
static int start_sshd(void) {
    for (int i = 0; i < 2; i++) {
        char conf[400], log[400];
        snprintf(conf, sizeof conf, "%s/sshd_%d.conf", F.dir, i);
        snprintf(log, sizeof log, "%s/sshd_%d.log", F.dir, i);
        F.sshd[i] = fork();
        if (F.sshd[i] == 0) {
            execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-f", conf, "-E", log, (char *)NULL);
            _exit(127);
        }
    }
    for (int i = 0; i < 2; i++) {
        double t0 = gc_now();
        while (sh("ssh -F %s -o BatchMode=yes h%d true 2>/dev/null", F.cfg, i + 1)) {
            if (gc_now() - t0 > 10) {
                snprintf(F.broken, sizeof F.broken, "sshd on port %d did not accept the test key (see %s/sshd_%d.log)",
                         F.port[i], F.dir, i);
                return -1;
            }
            nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
        }
    }
    return 0;
}

/* The shipped tree: a git repository whose make writes build/gencost, a script that answers
 * --version with the GIT_COMMIT make was given and hands everything else to the release binary. */
static void make_source_repo(void) {
    char mk[1024];
    snprintf(mk, sizeof mk,
             "BUILD ?= build\nGIT_COMMIT ?= unknown\n$(BUILD)/gencost:\n\tmkdir -p $(BUILD)\n"
             "\tprintf '#!/bin/sh\\nif [ \"$$1\" = --version ]; then echo \"gencost test (commit $(GIT_COMMIT))\"; "
             "exit 0; fi\\nexec %s \"$$@\"\\n' > $@\n\tchmod +x $@\n",
             rel_bin());
    char path[400];
    snprintf(path, sizeof path, "%s/Makefile", F.src);
    assert_int_equal(mkdir(F.src, 0755), 0);
    write_text(path, mk);
    assert_int_equal(sh("cd %s && git init -q && git add Makefile && git -c user.email=t@t -c user.name=t "
                        "commit -qm tree", F.src), 0);
}

static int setup(void **state) {
    snprintf(F.dir, sizeof F.dir, "/tmp/gc_remote_XXXXXX");
    if (!mkdtemp(F.dir)) return -1;
    snprintf(F.cfg, sizeof F.cfg, "%s/ssh_config", F.dir);
    snprintf(F.remote_dir, sizeof F.remote_dir, "%s/remote", F.dir);
    snprintf(F.src, sizeof F.src, "%s/src", F.dir);
    make_source_repo();
    const char *need[] = {"/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (!have(need[i])) {
            snprintf(F.why, sizeof F.why, "%s is missing (apt-get install openssh-server openssh-client)", need[i]);
            return 0;
        }
    if (geteuid() == 0 && access("/run/sshd", F_OK)) mkdir("/run/sshd", 0755);
    if (sh("cd %s && ssh-keygen -q -t ed25519 -N '' -f hostkey && ssh-keygen -q -t ed25519 -N '' -f userkey && "
           "cp userkey.pub authorized_keys", F.dir))
        return -1;
    F.port[0] = free_port();
    F.port[1] = free_port();
    write_configs();
    if (sh("cd %s && echo \"[127.0.0.1]:%d,[127.0.0.1]:%d $(cat hostkey.pub)\" > known_hosts", F.dir, F.port[0],
           F.port[1]))
        return -1;
    start_sshd();
    return 0;
}

static int teardown(void **state) {
    for (int i = 0; i < 2; i++)
        if (F.sshd[i] > 0) {
            kill(F.sshd[i], SIGTERM);
            waitpid(F.sshd[i], NULL, 0);
        }
    if (F.dir[0]) sh("rm -rf %s", F.dir);
    return 0;
}

#define NEED_SSHD()                                                                                      \
    do {                                                                                                 \
        if (F.why[0]) {                                                                                  \
            printf("skipped: %s\n", F.why);                                                              \
            skip();                                                                                      \
        }                                                                                                \
        if (F.broken[0]) fail_msg("%s", F.broken);                                                       \
    } while (0)

static int gencost(th_proc *p, double timeout, const char *const *args) {
    return th_run(p, bin(), args, (th_io){0}, timeout);
}
#define GENCOST(p, ...) gencost((p), 60, (const char *const[]){__VA_ARGS__, NULL})

static void out_dir(const char *name, char *buf, size_t n) { snprintf(buf, n, "%s/%s", F.dir, name); }

static void read_results(const char *dir, const char *name, gc_results *r) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gc_err err;
    if (results_read(path, r, &err)) fail_msg("%s", err.msg);
}

/* Every case that ran carries its timed span: ISO-8601 UTC with milliseconds, start <= end. */
static void check_spans(const gc_results *r) {
    for (int i = 0; i < r->n_cases; i++) {
        const gc_case_result *c = &r->cases[i];
        assert_string_equal(c->status, "ok");
        assert_int_equal(strlen(c->started), 24);
        assert_int_equal(c->started[23], 'Z');
        assert_true(strcmp(c->started, c->finished) <= 0);
        assert_true(strncmp(c->started, r->started, 10) == 0); /* the same day as the run began */
    }
}

#define TRIAD "run", "--workload", "triad", "--quick", "--threads", "1", "--reps", "2", "--min-time", "0.05"

/* h1 and h2 run and come back named by host; dead is reported with ssh's reason and nothing else
 * is lost; the measurement setting set here (GENCOST_ISA) reaches the remote run and is recorded;
 * gencost report merges a remote results file with a local run. (h1's and h2's files are one
 * machine's runs of one second: report would rightly refuse them as the same run twice.) */
static void two_hosts_one_unreachable(void **s) {
    NEED_SSHD();
    char out[400], local[500], r1[500], r2[500], rep[500];
    out_dir("out-a", out, sizeof out);
    th_proc p;
    /* the local run first, a second apart: report tells runs apart by host, start and finish, and
     * the two "hosts" here are this machine */
    snprintf(local, sizeof local, "%s/local.json", out);
    assert_int_equal(GENCOST(&p, TRIAD, "--out", local), 0);
    th_free(&p);
    nanosleep(&(struct timespec){1, 100 * 1000 * 1000}, NULL);
    setenv("GENCOST_ISA", "scalar", 1);
    int rc = GENCOST(&p, "remote", "h1", "h2", "dead", "--ssh-config", F.cfg, "--remote-bin", rel_bin(),
                     "--remote-dir", F.remote_dir, "--out-dir", out, "--", TRIAD);
    unsetenv("GENCOST_ISA");
    if (rc != 1) fail_msg("exit %d\n%s\n%s", rc, p.out, p.err);
    assert_non_null(strstr(p.out, "2 of 3 host(s) done"));
    assert_non_null(strstr(p.out, "dead: FAILED: connect: ssh failed: "));
    assert_non_null(strstr(p.out, "Connection refused"));
    assert_non_null(strstr(p.out, "h1: done: "));
    th_free(&p);
    for (int h = 1; h <= 2; h++) {
        gc_results r;
        char name[32];
        snprintf(name, sizeof name, "results-h%d.json", h);
        read_results(out, name, &r);
        assert_true(r.complete);
        assert_int_equal(r.n_cases, 3); /* triad's copy, triad, read */
        check_spans(&r);
        assert_non_null(strstr(r.command_line, "--workload triad"));
        const char *isa = json_string_value(json_object_get(r.environment, "GENCOST_ISA"));
        assert_non_null(isa);
        assert_string_equal(isa, "scalar");
        results_free(&r);
    }
    char path[500];
    snprintf(path, sizeof path, "%s/results-dead.json", out);
    assert_int_equal(access(path, F_OK), -1);

    snprintf(r1, sizeof r1, "%s/results-h1.json", out);
    snprintf(r2, sizeof r2, "%s/results-h2.json", out);
    snprintf(rep, sizeof rep, "%s/report", out);
    setenv("GENCOST_GNUPLOT", "/nonexistent/gnuplot", 1); /* the tables are what is checked */
    rc = GENCOST(&p, "report", local, r1, "--out", rep, "--quiet");
    unsetenv("GENCOST_GNUPLOT");
    if (rc) fail_msg("report: exit %d: %s", rc, p.err);
    th_free(&p);
    snprintf(path, sizeof path, "%.480s/report.csv", rep);
    gc_err err;
    char *csv = gc_read_file(path, NULL, &err);
    assert_non_null(csv);
    int rows = 0;
    for (const char *c = csv; (c = strstr(c, ",triad,")); c++) rows++;
    assert_true(rows >= 3);
    free(csv);
}

/* A shipped tree: refused while dirty; shipped (git archive), built with make into the
 * per-commit folder (the second host, sharing this file system, finds it built under the lock),
 * run and fetched; with --dirty the uncommitted change goes along, into its own folder. */
static void ship_and_build(void **s) {
    NEED_SSHD();
    char out[400], mk[400];
    out_dir("out-b", out, sizeof out);
    th_proc p;
    int rc = GENCOST(&p, "remote", "h1", "h2", "--ssh-config", F.cfg, "--src", F.src, "--remote-dir", F.remote_dir,
                     "--out-dir", out, "--", TRIAD);
    if (rc) fail_msg("exit %d\n%s\n%s", rc, p.out, p.err);
    th_free(&p);
    gc_results r;
    read_results(out, "results-h2.json", &r);
    assert_true(r.complete);
    results_free(&r);
    char logs[2000] = "", path[700];
    for (int h = 1; h <= 2; h++) {
        snprintf(path, sizeof path, "%s/build-h%d.log", out, h);
        gc_err err;
        char *t = gc_read_file(path, NULL, &err);
        assert_non_null(t);
        strncat(logs, t, sizeof logs - strlen(logs) - 1);
        free(t);
    }
    assert_non_null(strstr(logs, "chmod +x build/gencost")); /* one built ... */
    assert_non_null(strstr(logs, "already built here by another run")); /* ... the other waited */

    snprintf(mk, sizeof mk, "%s/Makefile", F.src);
    assert_int_equal(sh("echo '# changed' >> %s", mk), 0);
    rc = GENCOST(&p, "remote", "h1", "--ssh-config", F.cfg, "--src", F.src, "--remote-dir", F.remote_dir, "--out-dir",
                 out, "--", TRIAD);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(p.err, "has uncommitted changes"));
    assert_non_null(strstr(p.err, "--dirty"));
    th_free(&p);
    rc = GENCOST(&p, "remote", "h1", "--dirty", "--ssh-config", F.cfg, "--src", F.src, "--remote-dir", F.remote_dir,
                 "--out-dir", out, "--", TRIAD);
    if (rc) fail_msg("--dirty: exit %d\n%s\n%s", rc, p.out, p.err);
    th_free(&p);
    /* the dirty folder holds the changed Makefile; the clean one does not */
    assert_int_equal(sh("grep -q '# changed' %s/*-dirty-*/src/Makefile", F.remote_dir), 0);
    assert_int_equal(sh("cd %s && for d in */; do case $d in *dirty*) ;; *) grep -q '# changed' $d/src/Makefile "
                        "&& exit 1;; esac; done; exit 0", F.remote_dir), 0);
    assert_int_equal(sh("cd %s && git checkout -q Makefile", F.src), 0);
}

/* Ctrl-C while both hosts run: each remote gencost stops after its repetition and saves (complete:
 * false), both files are fetched and said to be incomplete, exit 130, no remote gencost left. */
static void interrupt_keeps_what_finished(void **s) {
    NEED_SSHD();
    char out[400], pids[500], rdir[400];
    out_dir("out-c", out, sizeof out);
    out_dir("remote-c", rdir, sizeof rdir); /* its own: the pid files counted below are this run's */
    th_proc p;
    const char *args[] = {"remote", "h1", "h2", "--ssh-config", F.cfg, "--remote-bin", rel_bin(), "--remote-dir",
                          rdir, "--out-dir", out, "--", "run", "--workload", "triad", "--quick",
                          "--threads", "1", "--reps", "1000000", "--min-time", "60", NULL};
    th_start(&p, bin(), args, (th_io){0});
    /* running on both: each remote run wrote its pid file */
    double t0 = gc_now();
    snprintf(pids, sizeof pids, "ls %s/*/runs/*.pid 2>/dev/null | wc -l | grep -qx 2", rdir);
    while (sh("%s", pids))
        if (gc_now() - t0 > 30) {
            kill(p.pid, SIGKILL);
            th_finish(&p, 10);
            fail_msg("the remote runs did not start within 30 s:\n%s", p.err);
        } else {
            nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
        }
    nanosleep(&(struct timespec){1, 0}, NULL); /* into the timed repetitions */
    kill(p.pid, SIGINT);
    th_finish(&p, 60);
    if (p.status != 130) fail_msg("exit %d\n%s\n%s", p.status, p.out, p.err);
    assert_non_null(strstr(p.out, "h1: interrupted: "));
    assert_non_null(strstr(p.out, "complete: false"));
    th_free(&p);
    for (int h = 1; h <= 2; h++) {
        gc_results r;
        char name[32];
        snprintf(name, sizeof name, "results-h%d.json", h);
        read_results(out, name, &r);
        assert_false(r.complete);
        results_free(&r);
    }
    /* every remote gencost ended: no pid of a pid file is alive */
    assert_int_equal(sh("for f in %s/*/runs/*.pid; do kill -0 $(cat $f) 2>/dev/null && "
                        "! grep -q '^[^ ]* ([^)]*) Z' /proc/$(cat $f)/stat && exit 1; done; exit 0", rdir), 0);
}

/* --dry-run: the commands through the seam's mock, nothing started; bad input is one line. */
static void dry_run_and_bad_input(void **s) {
    th_proc p;
    const char *args[] = {"remote", "somehost", "--dry-run", "--src", F.src, "--remote-dir", "rd",
                          "--", "run", "--workload", "triad", "--phases", "copy read", NULL};
    setenv("GENCOST_ISA", "avx2", 1);
    int rc = th_run(&p, bin(), args, (th_io){0}, 60);
    unsetenv("GENCOST_ISA");
    if (rc) fail_msg("exit %d: %s", rc, p.err);
    assert_non_null(strstr(p.out, "ssh -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=15 -- somehost "));
    assert_non_null(strstr(p.out, "exec env -u CUDA_VISIBLE_DEVICES -u CUDA_DEVICE_ORDER GENCOST_ISA=avx2 rd/"));
    assert_non_null(strstr(p.out, "--phases '\\''copy read'\\'' --out rd/")); /* quoted inside the quoted line */
    th_free(&p);
    assert_int_equal(th_run(&p, bin(), (const char *const[]){"remote", "--help", NULL}, (th_io){0}, 30), 0);
    assert_non_null(strstr(p.out, "usage: gencost remote HOST [HOST...] [options] -- run ARGS..."));
    th_free(&p);
    struct {
        const char *a[8], *needle;
    } bad[] = {
        {{"remote", "--", "run", NULL}, "needs at least one HOST"},
        {{"remote", "h1", NULL}, "needs the command after '--'"},
        {{"remote", "h1", "--", "report", NULL}, "needs the command after '--'"},
        {{"remote", "h1", "--", "run", "--out", "x.json", NULL}, "--out is chosen by gencost remote"},
        {{"remote", "-x", "--", "run", NULL}, "unknown option"},
        {{"remote", "h1", "--remote-bin", "/g", "--build", "--", "run", NULL}, "not with --build"},
        {{"remote", "h1", "h2", "h1", "--", "run", NULL}, "host 'h1' is given twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(th_run(&p, bin(), bad[i].a, (th_io){0}, 30), 2);
        if (!strstr(p.err, bad[i].needle)) fail_msg("'%s' lacks '%s'", p.err, bad[i].needle);
        assert_true(strchr(p.err, '\n') == p.err + strlen(p.err) - 1);
        th_free(&p);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_hosts_one_unreachable),
        cmocka_unit_test(ship_and_build),
        cmocka_unit_test(interrupt_keeps_what_finished),
        cmocka_unit_test(dry_run_and_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
