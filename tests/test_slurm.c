/* gencost slurm against a real single-node Slurm cluster that the test starts in a temporary
 * folder: munged on its own socket with a throwaway key, slurmctld -D and slurmd -D (node gcnode
 * on 127.0.0.1, ports the kernel just handed out), auth/munge, state and spool folders and logs
 * in the folder, accounting off (so gencost's scontrol path gives the tasks' states). SLURM_CONF
 * points sbatch, squeue, scancel and scontrol at it. The tasks run the release gencost
 * ($GENCOST_REL_BIN) through --bin. Each daemon is killed at the end (its process group).
 * Without slurmctld, slurmd, sbatch or munged, or when not root (slurmd starts each task as its
 * user), the tests are skipped, saying why (scripts/install-deps.sh installs them for make test). */
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "bench/results.h"
#include "tests/helpers.h"

typedef struct fixture {
    char dir[256], conf[320];
    char why[256], broken[400];
    pid_t daemons[3]; /* munged, slurmctld, slurmd */
} fixture;

static fixture F;

static const char *bin(void) { return th_gencost_bin("build/gencost-test"); }
static const char *rel_bin(void) {
    const char *b = getenv("GENCOST_REL_BIN");
    return b && *b ? b : bin();
}

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

static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || getsockname(s, (struct sockaddr *)&a, &len)) return -1;
    close(s);
    return ntohs(a.sin_port);
}

/* A daemon in the foreground, in a process group of its own (killed whole at the end). */
static pid_t daemon_start(const char *const *argv, const char *log) {
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

static void write_conf(void) {
    char text[3000];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(text, sizeof text,
             "ClusterName=gctest\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort=%d\nSlurmdPort=%d\n"
             "AuthType=auth/munge\nAuthInfo=socket=%s/munge.sock\nCredType=cred/munge\n"
             "SlurmUser=root\nSlurmdUser=root\nStateSaveLocation=%s/state\nSlurmdSpoolDir=%s/spool\n"
             "SlurmctldPidFile=%s/slurmctld.pid\nSlurmdPidFile=%s/slurmd.pid\n"
             "SlurmctldLogFile=%s/slurmctld.log\nSlurmdLogFile=%s/slurmd.log\n"
             "ProctrackType=proctrack/pgid\nTaskPlugin=task/none\nSelectType=select/cons_tres\n"
             "SelectTypeParameters=CR_Core\nReturnToService=2\nJobAcctGatherType=jobacct_gather/none\n"
             "AccountingStorageType=accounting_storage/none\nJobCompType=jobcomp/none\nMpiDefault=none\n"
             "SlurmdParameters=config_overrides\nKillWait=10\nMinJobAge=600\n"
             "NodeName=gcnode NodeAddr=127.0.0.1 CPUs=%ld State=UNKNOWN\n"
             "PartitionName=gcq Nodes=gcnode Default=YES MaxTime=INFINITE State=UP\n",
             free_port(), free_port(), F.dir, F.dir, F.dir, F.dir, F.dir, F.dir, F.dir, cpus > 0 ? cpus : 1);
    gc_err err;
    if (gc_write_file_atomic(F.conf, text, strlen(text), &err)) fail_msg("%s", err.msg);
}

static int start_cluster(void) {
    char sock[400], key[400], log[400], pid[400], seed[400];
    snprintf(sock, sizeof sock, "%s/munge.sock", F.dir);
    snprintf(key, sizeof key, "--key-file=%s/munge.key", F.dir);
    snprintf(log, sizeof log, "--log-file=%s/munged.log", F.dir);
    snprintf(pid, sizeof pid, "--pid-file=%s/munged.pid", F.dir);
    snprintf(seed, sizeof seed, "--seed-file=%s/munged.seed", F.dir);
    if (sh("mungekey -c -k %s/munge.key -b 1024", F.dir)) return snprintf(F.broken, sizeof F.broken, "mungekey failed");
    char out[3][400];
    for (int i = 0; i < 3; i++) snprintf(out[i], sizeof out[i], "%s/daemon-%d.out", F.dir, i);
    const char *munged[] = {"/usr/sbin/munged", "-F", "-S", sock, key, log, pid, seed, NULL};
    F.daemons[0] = daemon_start(munged, out[0]);
    double t0 = gc_now();
    while (access(sock, F_OK) && gc_now() - t0 < 10) nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    const char *ctld[] = {"/usr/sbin/slurmctld", "-D", "-f", F.conf, NULL};
    F.daemons[1] = daemon_start(ctld, out[1]);
    const char *slurmd[] = {"/usr/sbin/slurmd", "-D", "-N", "gcnode", "-f", F.conf, NULL};
    F.daemons[2] = daemon_start(slurmd, out[2]);
    t0 = gc_now();
    while (sh("sinfo -h -o %%t 2>/dev/null | grep -qx idle")) {
        if (gc_now() - t0 > 30)
            return snprintf(F.broken, sizeof F.broken, "the test cluster did not come up within 30 s (see %s)", F.dir);
        nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
    }
    return 0;
}

static int setup(void **state) {
    const char *need[] = {"/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/bin/squeue",
                          "/usr/sbin/munged", "/usr/sbin/mungekey"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (access(need[i], X_OK)) {
            snprintf(F.why, sizeof F.why, "%s is missing (apt-get install slurmctld slurmd slurm-client munge)",
                     need[i]);
            return 0;
        }
    if (geteuid() != 0) { /* slurmd starts each task as its user: it needs root */
        snprintf(F.why, sizeof F.why, "slurmd needs root to start tasks; run as root (CI does)");
        return 0;
    }
    snprintf(F.dir, sizeof F.dir, "/tmp/gc_slurm_XXXXXX");
    if (!mkdtemp(F.dir)) return -1;
    chmod(F.dir, 0711); /* munged wants its socket's folder searchable by all */
    snprintf(F.conf, sizeof F.conf, "%s/slurm.conf", F.dir);
    if (sh("mkdir -p %s/state %s/spool", F.dir, F.dir)) return -1;
    write_conf();
    setenv("SLURM_CONF", F.conf, 1);
    start_cluster();
    return 0;
}

static int teardown(void **state) {
    if (F.dir[0] && !F.why[0]) sh("scancel --quiet --user=root 2>/dev/null; true");
    for (int i = 2; i >= 0; i--)
        if (F.daemons[i] > 0) {
            kill(-F.daemons[i], SIGTERM);
            double t0 = gc_now();
            while (waitpid(F.daemons[i], NULL, WNOHANG) == 0) {
                if (gc_now() - t0 > 10) {
                    kill(-F.daemons[i], SIGKILL);
                    waitpid(F.daemons[i], NULL, 0);
                    break;
                }
                nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
            }
        }
    if (F.dir[0]) sh("rm -rf %s", F.dir);
    return 0;
}

#define NEED_CLUSTER()                                                                                   \
    do {                                                                                                 \
        if (F.why[0]) {                                                                                  \
            printf("skipped: %s\n", F.why);                                                              \
            skip();                                                                                      \
        }                                                                                                \
        if (F.broken[0]) fail_msg("%s", F.broken);                                                       \
    } while (0)

#define GENCOST(p, ...) th_run((p), bin(), (const char *const[]){__VA_ARGS__, NULL}, (th_io){0}, 90)

static void read_results(const char *dir, int task, gc_results *r) {
    char path[600];
    snprintf(path, sizeof path, "%s/results-task-%d.json", dir, task);
    gc_err err;
    if (results_read(path, r, &err)) fail_msg("%s", err.msg);
}

/* Two tasks, one per --threads value, one at a time (%1): each results file holds triad's three
 * phases at its thread count, complete, with their timed spans; gencost report merges the folder. */
static void two_task_array(void **s) {
    NEED_CLUSTER();
    char out[400], rep[500], path[600];
    snprintf(out, sizeof out, "%s/o1", F.dir);
    th_proc p;
    int rc = GENCOST(&p, "slurm", "--split", "threads", "--array-max", "1", "--bin", rel_bin(), "--out-dir", out,
                     "--", "run", "--workload", "triad", "--quick", "--threads", "1,2", "--reps", "2",
                     "--min-time", "0.4");
    if (rc) fail_msg("exit %d\n%s\n%s", rc, p.out, p.err);
    assert_non_null(strstr(p.out, "task 0 (--threads 1): done: "));
    assert_non_null(strstr(p.out, "task 1 (--threads 2): done: "));
    assert_non_null(strstr(p.err, "submitted job "));
    th_free(&p);
    for (int t = 0; t < 2; t++) {
        gc_results r;
        read_results(out, t, &r);
        assert_true(r.complete);
        assert_int_equal(r.n_cases, 3);
        for (int c = 0; c < r.n_cases; c++) {
            assert_int_equal(r.cases[c].id.threads, t + 1);
            assert_string_equal(r.cases[c].status, "ok");
            assert_true(r.cases[c].started[0] && strcmp(r.cases[c].started, r.cases[c].finished) <= 0);
        }
        results_free(&r);
    }
    snprintf(path, sizeof path, "grep -qx '#SBATCH --array=0-1%%1' %s/job.sh", out);
    assert_int_equal(sh("%s", path), 0);
    char r0[600], r1[600];
    snprintf(r0, sizeof r0, "%s/results-task-0.json", out);
    snprintf(r1, sizeof r1, "%s/results-task-1.json", out);
    snprintf(rep, sizeof rep, "%s/report", out);
    setenv("GENCOST_GNUPLOT", "/nonexistent/gnuplot", 1);
    rc = GENCOST(&p, "report", r0, r1, "--out", rep, "--quiet");
    unsetenv("GENCOST_GNUPLOT");
    if (rc) fail_msg("report: exit %d: %s", rc, p.err);
    th_free(&p);
    snprintf(path, sizeof path, "grep -c ',triad,' %s/report.csv | grep -qv '^[0-5]$'", rep);
    assert_int_equal(sh("%s", path), 0); /* both tasks' phases are rows */
}

/* A task that fails (a backend no build has) is reported with its reason; the other's results stay. */
static void failing_task(void **s) {
    NEED_CLUSTER();
    char out[400];
    snprintf(out, sizeof out, "%s/o2", F.dir);
    th_proc p;
    int rc = GENCOST(&p, "slurm", "--bin", rel_bin(), "--out-dir", out, "--", "run", "--workload", "triad",
                     "--quick", "--backend", "cpu,nosuch", "--threads", "1", "--reps", "2", "--min-time", "0.05");
    if (rc != 1) fail_msg("exit %d\n%s\n%s", rc, p.out, p.err);
    assert_non_null(strstr(p.out, "task 0 (--backend cpu): done: "));
    assert_non_null(strstr(p.out, "task 1 (--backend nosuch): FAILED ("));
    assert_non_null(strstr(p.out, "exit 2): no results file; "));
    assert_non_null(strstr(p.out, "unknown backend 'nosuch'"));
    th_free(&p);
    gc_results r;
    read_results(out, 0, &r);
    assert_true(r.complete);
    results_free(&r);
}

/* Ctrl-C while two tasks run and a third waits its turn (%2): the job is cancelled, each running
 * task's gencost saves what it measured (complete: false) and is reported as interrupted, the
 * third as cancelled before it started; exit 130. */
static void interrupt_cancels(void **s) {
    NEED_CLUSTER();
    char out[400], wait_both[1000];
    snprintf(out, sizeof out, "%s/o3", F.dir);
    const char *args[] = {"slurm", "--split", "threads", "--array-max", "2", "--bin", rel_bin(), "--out-dir", out,
                          "--", "run", "--workload", "triad", "--quick", "--threads", "1,2,1", "--reps",
                          "1000000", "--min-time", "60", NULL};
    th_proc p;
    th_start(&p, bin(), args, (th_io){0});
    /* both running: the runner writes its results file before the first case */
    snprintf(wait_both, sizeof wait_both, "test -f %s/results-task-0.json && test -f %s/results-task-1.json", out,
             out);
    double t0 = gc_now();
    while (sh("%s", wait_both) && gc_now() - t0 < 30) nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    nanosleep(&(struct timespec){1, 0}, NULL);
    kill(p.pid, SIGINT);
    th_finish(&p, 90);
    if (p.status != 130) fail_msg("exit %d\n%s\n%s", p.status, p.out, p.err);
    assert_non_null(strstr(p.out, "task 0 (--threads 1): interrupted ("));
    assert_non_null(strstr(p.out, "task 1 (--threads 2): interrupted ("));
    assert_non_null(strstr(p.out, "complete: false"));
    assert_non_null(strstr(p.out, "task 2 (--threads 1): cancelled before it started\n")); /* held by %2 */
    th_free(&p);
    for (int t = 0; t < 2; t++) {
        gc_results r;
        read_results(out, t, &r);
        assert_false(r.complete);
        results_free(&r);
    }
}

/* --dry-run prints the script (no Slurm needed): the array, its throttle, the directives, one
 * quoted command per task behind the measurement settings; bad input is one line. */
static void dry_run_and_bad_input(void **s) {
    th_proc p;
    setenv("GENCOST_ISA", "avx2", 1);
    int rc = GENCOST(&p, "slurm", "--dry-run", "--partition", "gpu", "--constraint", "a100", "--gpus", "1", "--time",
                     "30", "--array-max", "2", "--out-dir", "/shared/o", "--", "run", "--workload", "triad",
                     "--preset", "a,b,c", "--phases", "copy read");
    unsetenv("GENCOST_ISA");
    if (rc) fail_msg("exit %d: %s", rc, p.err);
    const char *want[] = {"#SBATCH --array=0-2%2\n", "#SBATCH --output=/shared/o/task-%a.log\n",
                          "#SBATCH --partition=gpu\n", "#SBATCH --constraint=a100\n", "#SBATCH --gpus=1\n",
                          "#SBATCH --time=30\n", "trap : TERM INT\n",
                          " run --workload triad --preset b --phases 'copy read' --out /shared/o/results-task-1.json ;;\n",
                          "  2) env -u CUDA_VISIBLE_DEVICES -u CUDA_DEVICE_ORDER GENCOST_ISA=avx2 /"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(p.out, want[i])) fail_msg("script lacks '%s':\n%s", want[i], p.out);
    th_free(&p);
    assert_int_equal(th_run(&p, bin(), (const char *const[]){"slurm", "--help", NULL}, (th_io){0}, 30), 0);
    assert_non_null(strstr(p.out, "usage: gencost slurm [options] -- run ARGS..."));
    th_free(&p);
    struct {
        const char *a[10], *needle;
    } bad[] = {
        {{"slurm", NULL}, "needs the command after '--'"},
        {{"slurm", "--", "run", "--out", "x", NULL}, "--out is chosen by gencost slurm"},
        {{"slurm", "--partition", "a b", "--", "run", NULL}, "--partition: 'a b'"},
        {{"slurm", "--split", "quant", "--dry-run", "--", "run", "--workload", "triad", NULL}, "no --quant list"},
        {{"slurm", "--gpus", "x", "--", "run", NULL}, "--gpus"},
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
        cmocka_unit_test(two_task_array),
        cmocka_unit_test(failing_task),
        cmocka_unit_test(interrupt_cancels),
        cmocka_unit_test(dry_run_and_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
