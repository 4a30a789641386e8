/* End-to-end tests of the gencost CLI: drives the binary in $GENCOST_BIN (the sanitized build)
 * with fork/exec and checks exit statuses, messages and the results files it writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/results.h"
#include "base/util.h"
#include "tests/helpers.h"

typedef th_proc proc;

static const char *bin(void) { return th_gencost_bin("build/gencost-test"); }

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* gencost with args (NULL-terminated), stdout and stderr captured (tests/helpers.h). */
static void run_cmd(proc *p, double timeout, const char *const *args) {
    th_run(p, bin(), args, (th_io){0}, timeout);
}
static void proc_free(proc *p) { th_free(p); }

#define RUN(p, ...) run_cmd((p), 60, (const char *const[]){__VA_ARGS__, NULL})

/* Bad input: exit 2 and exactly one line on stderr, "gencost: ...", containing each needle. */
static void expect_usage_error(const char *const *args, const char *n1, const char *n2) {
    proc p;
    run_cmd(&p, 60, args);
    if (p.status != 2) fail_msg("%s %s: exit %d, stderr: %s", args[0], args[1] ? args[1] : "", p.status, p.err);
    size_t len = strlen(p.err);
    assert_true(len > 0 && p.err[len - 1] == '\n');
    assert_true(strchr(p.err, '\n') == p.err + len - 1);   /* exactly one line */
    assert_int_equal(strncmp(p.err, "gencost: ", 9), 0);
    if (n1 && !strstr(p.err, n1)) fail_msg("message '%s' lacks '%s'", p.err, n1);
    if (n2 && !strstr(p.err, n2)) fail_msg("message '%s' lacks '%s'", p.err, n2);
    proc_free(&p);
}

#define BAD(n1, n2, ...) expect_usage_error((const char *const[]){__VA_ARGS__, NULL}, n1, n2)

static void help_everywhere(void **s) {
    static const char *const cmds[] = {"info", "list", "run", "report", "compare", "history", "export", "logits"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        proc p;
        RUN(&p, cmds[i], "--help");
        if (p.status != 0) fail_msg("gencost %s --help: exit %d", cmds[i], p.status);
        assert_true(strlen(p.out) > 20);
        proc_free(&p);
    }
    proc p;
    RUN(&p, "--help");
    assert_int_equal(p.status, 0);
    assert_non_null(strstr(p.out, "run"));
    proc_free(&p);
}

static bool is_hex(const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* --version names the commit; in a git checkout, the commit the binary was built from. */
static void version_has_commit(void **s) {
    proc p;
    RUN(&p, "--version");
    assert_int_equal(p.status, 0);
    const char *c = strstr(p.out, "(commit ");
    assert_non_null(c);
    c += 8;
    FILE *g = popen("git rev-parse --short=12 HEAD 2>/dev/null", "r");
    char head[64] = "";
    if (g) {
        if (!fgets(head, sizeof head, g)) head[0] = 0;
        pclose(g);
    }
    head[strcspn(head, "\n")] = 0;
    if (strlen(head) == 12 && strncmp(c, head, 12))
        fail_msg("binary reports commit %.12s, the checkout is at %s (stale binary? make rebuilds it)", c, head);
    if (strlen(head) != 12) assert_true(is_hex(c, 12) || !strncmp(c, "unknown", 7));
    proc_free(&p);
}

static void bad_input(void **s) {
    BAD("'frobnicate'", "unknown command", "frobnicate");
    BAD("'--bogus'", "unknown option", "run", "--bogus");
    BAD("'--json2'", "unknown option", "info", "--json2");
    BAD("'-x'", "unknown option", "list", "-x");
    BAD("--reps", "'abc'", "run", "--reps", "abc");
    BAD("--reps", "'0'", "run", "--reps", "0");
    BAD("--min-time", "'-1'", "run", "--min-time", "-1");
    BAD("--threads", "'many'", "run", "--threads", "many");
    BAD("--kv-type", "'f8'", "run", "--kv-type", "f8");
    BAD("--reps needs a value", NULL, "run", "--reps");
    BAD("--workload", "'nosuch'", "run", "--workload", "nosuch");
    BAD("--suite", "'nosuch'", "run", "--suite", "nosuch");
    BAD("unexpected argument", "'stray'", "run", "stray");
}

/* Lenient numbers are bad input; input echoed in a message keeps it one line (control bytes
 * escaped); an empty item of a list is an error, not skipped. */
static void strict_input(void **s) {
    BAD("--reps: ' 5' is not a whole number", NULL, "run", "--reps", " 5");
    BAD("--reps: '+5' is not a whole number", NULL, "run", "--reps", "+5");
    BAD("--min-time: '0x1p3' is not a number", NULL, "run", "--min-time", "0x1p3");
    BAD("--min-time: 'inf' is not a number", NULL, "run", "--min-time", "inf");
    BAD("gencost: run: --threads: empty item in '1,,2'", NULL, "run", "--workload", "triad", "--threads", "1,,2");
    BAD("gencost: run: --workload: empty item in 'triad,'", NULL, "run", "--workload", "triad,");
    BAD("gencost: logits: --tokens: empty item in '1,,2'", NULL, "logits", "--preset", "tiny", "--quant", "q4_0",
        "--tokens", "1,,2", "--out", "/nonexistent/l.bin");
    BAD("--meter: empty item in 'none,,idle'", NULL, "run", "--meter", "none,,idle");
    BAD("--reps: '5\\n6' is not a whole number", NULL, "run", "--reps", "5\n6");       /* one line */
    BAD("unknown option '--x\\x1b[2J\\r'", NULL, "run", "--x\x1b[2J\r");
    BAD("--threads: 'a\\nb'", NULL, "run", "--workload", "triad", "--threads", "a\nb");
    /* progress lines quote input too: --phases with a newline stays on its line */
    proc p;
    RUN(&p, "run", "--workload", "triad", "--quick", "--threads", "1", "--phases", "copy\nX", "--out",
        "/tmp/gc_cli_never_written.json");
    assert_int_equal(p.status, 2);
    assert_non_null(strstr(p.err, "skipped: --phases copy\\nX names none of its phases (copy, triad, read)\n"));
    assert_non_null(strstr(p.err, "\ngencost: run: --phases copy\\nX matched no phase of any case\n"));
    assert_null(strstr(p.err, "\nX"));
    proc_free(&p);
}

/* Every command checks values through the one option table (cli/opts.h): the same wording. */
static void same_wording_everywhere(void **s) {
    BAD("gencost: info: unknown option '--json2' (see --help)", NULL, "info", "--json2");
    BAD("gencost: report: --out needs a value", NULL, "report", "r.json", "--out");
    BAD("gencost: compare: --rounds: '0' is not a whole number from 1 to 1000", NULL, "compare", "--rounds", "0",
        "a", "b");
    BAD("gencost: compare: --threshold: '5x' is not a number from 0 to 1000", NULL, "compare", "--threshold",
        "5x", "a", "b");
    BAD("gencost: compare: --format: 'xml' is not one of md, text, json", NULL, "compare", "--format", "xml", "a",
        "b");
    BAD("gencost: history: --window: '0' is not a whole number from 1 to 100000", NULL, "history", "--window",
        "0", "list");
    BAD("gencost: export: --seed: '-1' is not a whole number from 0 to 2147483647", NULL, "export", "--seed",
        "-1", "x.gguf");
    BAD("gencost: export: --quant: 'q9' is not one of f32, f16, bf16, q8_0", NULL, "export", "--preset", "tiny",
        "--quant", "q9", "x.gguf");
    BAD("gencost: logits: --threads: '0' is not a whole number from 1 to 1024", NULL, "logits", "--threads", "0");
    BAD("gencost: logits: --tokens: 'x' is not a whole number from 0 to 2147483647", NULL, "logits", "--preset",
        "tiny", "--quant", "q4_0", "--tokens", "1,x", "--out", "/nonexistent/l.bin");
    BAD("gencost: logits: --kv-type: 'f8' is not one of f32, f16, q8_0", NULL, "logits", "--preset", "tiny",
        "--quant", "q4_0", "--tokens", "1", "--out", "/nonexistent/l.bin", "--kv-type", "f8");
    BAD("gencost: logits: unexpected argument 'stray' (options start with --; see --help)", NULL, "logits",
        "stray");
}

static void missing_files(void **s) {
    BAD("--model", "/nonexistent/model.gguf", "run", "--model", "/nonexistent/model.gguf");
    BAD("--host-profile", "/nonexistent/host.ini", "run", "--host-profile", "/nonexistent/host.ini");
    BAD("--host-profile", "/nonexistent/host.ini", "run", "--profile", "/nonexistent/host.ini");   /* the old name */
    /* a profile that does not load is bad input, not a warning and a run without energy */
    BAD("--host-profile", "missing field 'name'", "run", "--workload", "triad", "--host-profile",
        "tests/fixtures/profiles/cost-only.ini");
    BAD("--host-profile", "active_watts", "run", "--workload", "triad", "--host-profile",
        "tests/fixtures/profiles/no-active-watts.ini");
    BAD("--meter", "say where the watts are", "run", "--workload", "triad", "--meter", "http:http://127.0.0.1:9/x#");
    /* a malformed model is bad input too: refused before anything runs */
    BAD("--model", "magic", "run", "--workload", "llm", "--model", "tests/fixtures/gguf-bad/bad-magic.gguf");
    /* ... as a container and as a model: tensors against the metadata, RoPE factors */
    BAD("--model", "the metadata implies", "run", "--workload", "llm", "--model",
        "tests/fixtures/gguf-bad/shape-vs-metadata.gguf");
    BAD("--model", "rope_freqs.weight", "run", "--workload", "llm", "--model", "tests/fixtures/gguf-bad/rope-freqs-type.gguf");
    BAD("--out", "/proc/gencost-cannot-write-here", "run", "--workload", "triad", "--quick", "--out",
        "/proc/gencost-cannot-write-here/r.json");
}

static void impossible_combinations(void **s) {
    BAD("--suite", "--workload", "run", "--suite", "smoke", "--workload", "triad");
    BAD("--preset", "'tinyllama-1.1b'", "run", "--workload", "triad", "--preset", "tinyllama-1.1b");
    BAD("--quant", "'q4_0'", "run", "--workload", "triad", "--quant", "q4_0");
    BAD("--preset needs --workload", NULL, "run", "--preset", "x");
    BAD("--backend", "'nosuch'", "run", "--workload", "triad", "--backend", "nosuch");
    BAD("triad does not run on 'ref'", NULL, "run", "--workload", "triad", "--backend", "ref");
    BAD("--model and --preset", NULL, "run", "--workload", "llm", "--preset", "tiny", "--model",
        "tests/fixtures/gguf-good/micro-q8_0.gguf");
    BAD("no workload of this run takes --model", "llm, image, endpoint do", "run", "--workload", "triad", "--model",
        "tests/fixtures/gguf-good/micro-q8_0.gguf");
    BAD("--model needs --workload", NULL, "run", "--model", "tests/fixtures/gguf-good/micro-q8_0.gguf");
}

/* A workload's own options: accepted because a workload of the run declares them, checked with
 * the same wording as the run's own, refused when no workload of the run takes them. */
static void workload_options(void **s) {
    BAD("--prompt: no workload of this run takes --prompt", "(llm, endpoint do)", "run", "--workload", "triad", "--prompt", "128");
    BAD("--prompt: '0' is not a whole number from 1 to 1048576", NULL, "run", "--workload", "llm", "--prompt", "0");
    BAD("--kv-depth: 'x'", NULL, "run", "--workload", "llm", "--depth", "x");   /* the old spelling */
    BAD("--isa: 'avx9' is not one of scalar, avx2", NULL, "run", "--isa", "avx9");
    BAD("--isa: no workload of this run runs CPU micro-kernels", NULL, "run", "--workload", "triad", "--isa", "scalar");
    /* a case that can never run is bad input before anything runs, --dry-run included */
    BAD("exceed tiny's context of 1024", "prompt 100000", "run", "--workload", "llm", "--preset", "tiny", "--prompt",
        "100000", "--dry-run");
    BAD("exceed tiny's context of 1024", "prompt 2000", "run", "--workload", "llm", "--preset", "tiny", "--prompt", "2000");
    proc p;
    /* the effective values, --quick caps and a depth that follows the prompt, per case */
    RUN(&p, "run", "--dry-run", "--workload", "llm", "--preset", "tiny", "--quick", "--threads", "1", "--isa", "scalar");
    if (p.status != 0) fail_msg("exit %d: %s", p.status, p.err);
    assert_non_null(strstr(p.out, "llm tiny q4_0 cpu scalar t=1 (gen=16,kv-depth=64,kv-type=f16,prompt=64,quick=1)"));
    proc_free(&p);
    RUN(&p, "run", "--dry-run", "--workload", "llm,triad", "--preset", "tiny", "--prompt=100", "--depth", "7",
        "--kv-type", "q8_0", "--threads", "1");
    if (p.status != 0) fail_msg("exit %d: %s", p.status, p.err);
    assert_non_null(strstr(p.out, "(gen=128,kv-depth=7,kv-type=q8_0,prompt=100)"));
    assert_non_null(strstr(p.out, "] triad cpu t=1\n"));                /* triad takes none of them */
    proc_free(&p);
    RUN(&p, "run", "--help");
    assert_int_equal(p.status, 0);
    assert_non_null(strstr(p.out, "llm options:"));
    assert_non_null(strstr(p.out, "--prompt P"));
    assert_non_null(strstr(p.out, "(default 512; 64 with --quick)"));
    assert_non_null(strstr(p.out, "--host-profile FILE"));
    proc_free(&p);
    RUN(&p, "list");
    assert_int_equal(p.status, 0);
    assert_non_null(strstr(p.out, "--kv-type T"));
    assert_non_null(strstr(p.out, "(f32|f16|q8_0; default f16)"));
    proc_free(&p);
}

static void info_and_list(void **s) {
    proc p;
    RUN(&p, "info", "--json");
    assert_int_equal(p.status, 0);
    assert_non_null(strstr(p.out, "\"name\""));
    assert_non_null(strstr(p.out, "\"caches\""));
    proc_free(&p);
    RUN(&p, "list");
    assert_int_equal(p.status, 0);
    assert_non_null(strstr(p.out, "triad"));
    assert_non_null(strstr(p.out, "cpu"));
    proc_free(&p);
    RUN(&p, "run", "--dry-run", "--workload", "triad", "--threads", "1,2,1");
    assert_int_equal(p.status, 0);
    assert_non_null(strstr(p.out, "2 cases"));              /* duplicate thread count dropped */
    proc_free(&p);
}

static void tmp_results_path(char *buf, size_t n, const char *tag) {
    snprintf(buf, n, "/tmp/gc_cli_%d_%s/r.json", (int)getpid(), tag);   /* folder created by gencost */
}

static void remove_results(const char *path) {
    unlink(path);
    char dir[128];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    rmdir(dir);
}

static void quick_triad_run(void **s) {
    char out[128];
    tmp_results_path(out, sizeof out, "quick");
    proc p;
    run_cmd(&p, 120, (const char *const[]){"run", "--workload", "triad", "--quick", "--reps", "2", "--out", out, NULL});
    if (p.status != 0) fail_msg("exit %d: %s", p.status, p.err);
    assert_non_null(strstr(p.out, out));                    /* the table names the file */
    assert_non_null(strstr(p.out, "GB/s"));
    gc_results r;
    gc_err err;
    if (results_read(out, &r, &err)) fail_msg("%s", err.msg);
    remove_results(out);
    assert_true(r.complete);
    assert_true(r.n_cases >= 2);
    bool saw_copy = false, saw_triad = false, saw_read = false;
    for (int i = 0; i < r.n_cases; i++) {
        const gc_case_result *c = &r.cases[i];
        assert_string_equal(c->id.workload, "triad");
        assert_string_equal(c->status, "ok");
        assert_true(c->verify.ok);
        assert_string_equal(c->unit, "GB");
        assert_true(c->n_samples >= 2);
        assert_true(c->throughput.median > 0);
        assert_true(c->throughput.ci95_low <= c->throughput.median && c->throughput.median <= c->throughput.ci95_high);
        saw_copy |= !strcmp(c->id.phase, "copy");
        saw_triad |= !strcmp(c->id.phase, "triad");
        saw_read |= !strcmp(c->id.phase, "read");
        /* STREAM counting: 16 B per element for copy, 24 B for triad; 8 B read for read; the
         * phases share n. */
        double per_elem = !strcmp(c->id.phase, "copy") ? 16 : !strcmp(c->id.phase, "read") ? 8 : 24;
        assert_true(c->bytes_per_rep / per_elem == r.cases[0].bytes_per_rep / 16);
    }
    assert_true(saw_copy && saw_triad && saw_read);
    assert_non_null(strstr(r.command_line, "--reps 2"));
    results_free(&r);
    proc_free(&p);
}

/* --phases keeps only the phases it names; one that names no phase of any case is bad input. */
static void phases_filter(void **s) {
    char out[128];
    tmp_results_path(out, sizeof out, "phases");
    proc p;
    run_cmd(&p, 120, (const char *const[]){"run", "--workload", "triad", "--quick", "--reps", "1", "--min-time", "0",
                                           "--threads", "1", "--phases", "triad", "--out", out, NULL});
    if (p.status != 0) fail_msg("exit %d: %s", p.status, p.err);
    gc_results r;
    gc_err err;
    if (results_read(out, &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.n_cases, 1);
    assert_string_equal(r.cases[0].id.phase, "triad");
    results_free(&r);
    proc_free(&p);
    run_cmd(&p, 120, (const char *const[]){"run", "--workload", "triad", "--quick", "--reps", "1", "--min-time", "0",
                                           "--threads", "1", "--phases", "nosuch", "--out", out, NULL});
    bool left_file = access(out, F_OK) == 0;   /* nothing measured: no empty results file */
    remove_results(out);
    assert_int_equal(p.status, 2);
    assert_false(left_file);
    assert_non_null(strstr(p.err, "--phases nosuch matched no phase"));
    assert_null(strstr(p.err, "--out"));           /* one error, not a second empty one */
    assert_null(strstr(p.out, "results:"));
    proc_free(&p);
}

/* The runner alone filters phases: a case none of whose phases --phases names (the llm case of
 * the smoke suite for `copy`) is skipped, not failed, and never set up. */
static void phases_skip_a_workload(void **s) {
    char out[128];
    tmp_results_path(out, sizeof out, "skip");
    proc p;
    run_cmd(&p, 300, (const char *const[]){"run", "--suite", "smoke", "--phases", "copy", "--reps", "1", "--min-time", "0",
                                           "--out", out, NULL});
    if (p.status != 0) fail_msg("exit %d: %s", p.status, p.err);
    gc_results r;
    gc_err err;
    if (results_read(out, &r, &err)) fail_msg("%s", err.msg);
    remove_results(out);
    assert_true(r.n_cases >= 1);
    for (int i = 0; i < r.n_cases; i++) {
        assert_string_equal(r.cases[i].status, "ok");
        assert_string_equal(r.cases[i].id.workload, "triad");
        assert_string_equal(r.cases[i].id.phase, "copy");
    }
    assert_non_null(strstr(p.err, "skipped: --phases copy names none of its phases (prefill, decode, generation)"));
    assert_null(strstr(p.err, "setting up"));   /* progress lines only on a terminal; no setup error either */
    assert_null(strstr(p.err, "error"));
    results_free(&r);
    proc_free(&p);
}

/* The size of a results file holding the first k cases of r (as the runner writes it). */
static long results_size(gc_results *r, int k, const char *path) {
    int n = r->n_cases;
    r->n_cases = k;
    gc_err err;
    int rc = results_write(r, path, &err);
    r->n_cases = n;
    if (rc) fail_msg("%s", err.msg);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    unlink(path);
    return (long)st.st_size;
}

/* Disk full mid-run (a file-size limit between the sizes of a 1-case and a 2-case results file,
 * so saves fail from the second case on): exit 1, the end says plainly that the file holds only
 * the first case, and that file is still valid JSON; no temporary is left. */
static void save_fails_mid_run(void **s) {
    char out[128], dir[128], scratch[160], names[256];
    tmp_results_path(out, sizeof out, "full");
    snprintf(dir, sizeof dir, "%s", out);
    *strrchr(dir, '/') = 0;
    snprintf(scratch, sizeof scratch, "%s.size", dir);
    const char *args[] = {"run", "--workload", "triad", "--quick", "--reps", "2", "--min-time", "0",
                          "--threads", "1,2", "--phases", "copy,triad", "--out", out, NULL};
    proc p;
    run_cmd(&p, 120, args); /* the same run without a limit: what its files weigh */
    if (p.status != 0) fail_msg("exit %d: %s", p.status, p.err);
    proc_free(&p);
    gc_results r;
    gc_err err;
    if (results_read(out, &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.n_cases, 4);
    long limit = (results_size(&r, 1, scratch) + results_size(&r, 2, scratch)) / 2;
    results_free(&r);
    unlink(out);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = (struct rlimit){.rlim_cur = (rlim_t)limit, .rlim_max = old.rlim_max};
    void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN); /* inherited: a write over the limit fails (EFBIG) */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    th_start(&p, bin(), args, (th_io){0});
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_xfsz);
    th_finish(&p, 120);
    if (p.status != 1) fail_msg("exit %d: %s", p.status, p.err);
    char want[256];
    snprintf(want, sizeof want, "results: NOT SAVED IN FULL: %s holds only 1 of the 4 case results\n", out);
    if (!strstr(p.out, want)) fail_msg("stdout lacks '%s':\n%s", want, p.out);
    snprintf(want, sizeof want, "%s holds only 1 of the 4 case results (the last save that worked)", out);
    if (!strstr(p.err, want)) fail_msg("stderr lacks '%s':\n%s", want, p.err);
    assert_non_null(strstr(p.err, "cannot save results: "));
    assert_non_null(strstr(p.err, "File too large"));
    if (results_read(out, &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.n_cases, 1);
    assert_false(r.complete);
    results_free(&r);
    th_folder_names(dir, names, sizeof names);
    assert_string_equal(names, "r.json");
    remove_results(out);
    proc_free(&p);
}

/* The output folder vanishes mid-run (moved away), then Ctrl-C: exit 130 as always, the end says
 * the file was not written instead of "finished cases are saved"; the moved file is valid. */
static void folder_vanishes_mid_run(void **s) {
    char out[128], dir[128], moved[160], moved_file[192];
    tmp_results_path(out, sizeof out, "vanish");
    snprintf(dir, sizeof dir, "%s", out);
    *strrchr(dir, '/') = 0;
    snprintf(moved, sizeof moved, "%s.moved", dir);
    snprintf(moved_file, sizeof moved_file, "%s/r.json", moved);
    proc p;
    th_start(&p, bin(),
             (const char *const[]){"run", "--workload", "triad", "--quick", "--reps", "1000000", "--min-time",
                                   "600", "--threads", "1", "--out", out, NULL},
             (th_io){0});
    struct stat st;
    double t0 = gc_now();
    while (stat(out, &st) && gc_now() - t0 < 60) sleep_s(0.02);
    assert_int_equal(rename(dir, moved), 0);
    sleep_s(0.3);
    kill(p.pid, SIGINT);
    th_finish(&p, 60);
    if (p.status != 130) fail_msg("exit %d: %s", p.status, p.err);
    assert_non_null(strstr(p.err, "was not written (or is gone)"));
    assert_null(strstr(p.err, "finished cases are saved"));
    char want[192];
    snprintf(want, sizeof want, "results: NOT SAVED: %s was not written\n", out);
    if (!strstr(p.out, want)) fail_msg("stdout lacks '%s':\n%s", want, p.out);
    gc_results r;
    gc_err err;
    if (results_read(moved_file, &r, &err)) fail_msg("%s", err.msg);
    results_free(&r);
    remove_results(moved_file);
    proc_free(&p);
}

/* An --out longer than the old fixed buffer (1,023 bytes) is used as given, not cut to another
 * path; one too long for any path is refused before anything runs. */
static void long_out_path(void **s) {
    char base[128], path[1700];
    snprintf(base, sizeof base, "/tmp/gc_cli_%d_long", (int)getpid());
    int w = snprintf(path, sizeof path, "%s", base);
    for (int i = 0; i < 7; i++) {
        w += snprintf(path + w, sizeof path - (size_t)w, "/");
        for (int k = 0; k < 200; k++) path[w++] = (char)('a' + i);
        path[w] = 0;
    }
    snprintf(path + w, sizeof path - (size_t)w, "/r.json");
    assert_true(strlen(path) > 1400);
    proc p;
    run_cmd(&p, 120, (const char *const[]){"run", "--workload", "triad", "--quick", "--reps", "1",
                                           "--min-time", "0", "--threads", "1", "--phases", "copy", "--out",
                                           path, NULL});
    if (p.status != 0) fail_msg("exit %d: %s", p.status, p.err);
    gc_results r;
    gc_err err;
    if (results_read(path, &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.n_cases, 1);
    results_free(&r);
    proc_free(&p);
    unlink(path);
    for (char *slash; (slash = strrchr(path, '/')) && strlen(path) > strlen(base);) {
        *slash = 0;
        rmdir(path);
    }
    static char huge[5000];
    memset(huge, 'x', sizeof huge - 1);
    memcpy(huge, "/tmp/", 5);
    BAD("gencost: run: --out: path too long (4999 bytes; at most 4095)", NULL, "run", "--workload", "triad",
        "--quick", "--out", huge);
}

/* A symlink planted at an output (results, an exported model) is refused, not followed: exit 2
 * before anything runs, and its target is untouched. So is a FIFO (it stays a FIFO). */
static void outputs_not_redirected(void **s) {
    char dir[64], link[96], victim[96], fifo[96];
    snprintf(dir, sizeof dir, "/tmp/gc_cli_%d_redirect", (int)getpid());
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(link, sizeof link, "%s/r.json", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    gc_err err;
    assert_int_equal(gc_write_file_atomic(victim, "precious", 8, &err), 0);
    assert_int_equal(symlink(victim, link), 0);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    BAD("gencost: run: --out: ", "is a symbolic link; refusing to write through it", "run", "--workload",
        "triad", "--quick", "--out", link);
    BAD("gencost: run: --out: ", "is a FIFO, not a regular file", "run", "--workload", "triad", "--quick",
        "--out", fifo);
    BAD("gencost: export: ", "is a symbolic link", "export", "--preset", "tiny", "--quant", "q8_0", link);
    char *got = gc_read_file(victim, NULL, &err);
    assert_non_null(got);
    assert_string_equal(got, "precious");
    free(got);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    char names[256];
    th_folder_names(dir, names, sizeof names);
    assert_int_equal(strlen(names), strlen("r.json victim fifo")); /* no temporary left */
    unlink(link);
    unlink(victim);
    unlink(fifo);
    rmdir(dir);
}

/* Runs gencost with args (the results file at out), sends SIGINT 0.5 s after the file first
 * appears (the first write comes after the signal handlers are installed), and expects exit 130
 * within limit_s seconds, stderr holding `said`, and the file valid and marked incomplete, with
 * n_cases cases (< 0: any number). */
static void expect_interrupted(const char *const *args, const char *out, double limit_s, const char *said,
                               int n_cases) {
    proc p;
    th_start(&p, bin(), args, (th_io){0});
    struct stat st;
    double t0 = gc_now();
    while (stat(out, &st) && gc_now() - t0 < 60) sleep_s(0.02);
    sleep_s(0.5);
    kill(p.pid, SIGINT);
    th_finish(&p, limit_s);
    if (p.status != 130) fail_msg("exit %d after SIGINT: %s", p.status, p.err);
    assert_non_null(strstr(p.err, said));
    gc_results r;
    gc_err err;
    if (results_read(out, &r, &err)) fail_msg("%s", err.msg);
    remove_results(out);
    assert_false(r.complete);
    if (n_cases >= 0) assert_int_equal(r.n_cases, n_cases);
    results_free(&r);
    proc_free(&p);
}

/* SIGINT during a long run: exit 130, the file exists, reads back valid, marked incomplete. */
static void interrupted_run(void **s) {
    char out[128];
    tmp_results_path(out, sizeof out, "sigint");
    expect_interrupted((const char *const[]){"run", "--workload", "triad", "--quick", "--reps", "1000000",
                                             "--min-time", "600", "--out", out, NULL},
                       out, 60, "interrupted", -1);
}

/* SIGINT during a case's set-up (weights and the quality reference of a 1.1B model: tens of
 * seconds under the sanitizers) ends the run at once, not after the set-up: exit 130, the file
 * valid and marked incomplete. The limit only tells "at once" from "after the set-up". */
static void interrupted_setup(void **s) {
    char out[128];
    tmp_results_path(out, sizeof out, "sigint-setup");
    expect_interrupted((const char *const[]){"run", "--workload", "llm", "--preset", "tinyllama-1.1b", "--prompt",
                                             "16", "--gen", "4", "--threads", "1", "--out", out, NULL},
                       out, 15, "interrupted during set-up or verification", 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(help_everywhere),
        cmocka_unit_test(version_has_commit),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(strict_input),
        cmocka_unit_test(same_wording_everywhere),
        cmocka_unit_test(missing_files),
        cmocka_unit_test(impossible_combinations),
        cmocka_unit_test(workload_options),
        cmocka_unit_test(info_and_list),
        cmocka_unit_test(quick_triad_run),
        cmocka_unit_test(phases_filter),
        cmocka_unit_test(phases_skip_a_workload),
        cmocka_unit_test(interrupted_run),
        cmocka_unit_test(interrupted_setup),
        cmocka_unit_test(save_fails_mid_run),
        cmocka_unit_test(folder_vanishes_mid_run),
        cmocka_unit_test(long_out_path),
        cmocka_unit_test(outputs_not_redirected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
