/* Tests for base/util: strict parsing, list splitting, escaped input in messages, atomic writes
 * that cannot be redirected. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "tests/helpers.h"

static void parse_int_strict(void **s) {
    long v = 0;
    assert_int_equal(gc_parse_int("42", 1, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_not_equal(gc_parse_int("42x", 1, 100, &v), 0);
    assert_int_not_equal(gc_parse_int("", 1, 100, &v), 0);
    assert_int_not_equal(gc_parse_int("0", 1, 100, &v), 0);
    assert_int_not_equal(gc_parse_int("101", 1, 100, &v), 0);
    assert_int_not_equal(gc_parse_int("99999999999999999999999", 1, 100, &v), 0);
    /* decimal only: no spaces, no '+', no hex; '-' only where the range goes below 0 */
    const char *bad[] = {" 5", "5 ", "+5", "0x10", "-5", "-0", "5\n", "1e2", "5.0", "-", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (!gc_parse_int(bad[i], 0, 100, &v)) fail_msg("'%s' accepted as a whole number", bad[i]);
    assert_int_equal(gc_parse_int("-3", -5, 5, &v), 0);
    assert_int_equal(v, -3);
    assert_int_equal(gc_parse_int("007", 0, 100, &v), 0);
    assert_int_equal(v, 7);
    assert_int_not_equal(gc_parse_int("--3", -5, 5, &v), 0);
}

static void parse_double_strict(void **s) {
    double v = 0;
    assert_int_equal(gc_parse_double("0.25", 0, 1, &v), 0);
    assert_true(v == 0.25);
    assert_int_not_equal(gc_parse_double("nan", 0, 1, &v), 0);
    assert_int_not_equal(gc_parse_double("1e400", 0, 1e308, &v), 0);
    assert_int_not_equal(gc_parse_double("-0.5", 0, 1, &v), 0);
    const char *bad[] = {"0x1p3", "0x10", "inf", "-inf", "nan", "infinity", "+1", " 1", "1 ", "1e", "e3", ".",
                         "-", "1.2.3", "1e3.5", "1,5", "-0", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (!gc_parse_double(bad[i], 0, 1e9, &v)) fail_msg("'%s' accepted as a number", bad[i]);
    const struct {
        const char *s;
        double v;
    } good[] = {{"1e3", 1000}, {"1E+3", 1000}, {"2.5e-1", 0.25}, {".5", 0.5}, {"5.", 5}, {"0", 0}, {"8", 8}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (gc_parse_double(good[i].s, 0, 1e9, &v)) fail_msg("'%s' refused", good[i].s);
        assert_true(v == good[i].v);
    }
    assert_int_equal(gc_parse_double("-1.5", -2, 2, &v), 0);
    assert_true(v == -1.5);
}

static void split_list(void **s) {
    char *items[4], *store = NULL;
    assert_int_equal(gc_split_list("q4_0,q8_0,f16", items, 4, &store), 3);
    assert_string_equal(items[0], "q4_0");
    assert_string_equal(items[2], "f16");
    free(store);
    assert_int_equal(gc_split_list("a,b,c,d,e", items, 4, &store), -1);
    free(store);
    /* an empty item is an error, not skipped ("1,,2" is not "1,2") */
    const char *empty[] = {"1,,2", "a,", ",a", ","};
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        assert_int_equal(gc_split_list(empty[i], items, 4, &store), GC_SPLIT_EMPTY_ITEM);
        free(store);
    }
    assert_int_equal(gc_split_list("", items, 4, &store), 0);
    free(store);
    assert_int_equal(gc_split_list("x", items, 4, &store), 1);
    assert_string_equal(items[0], "x");
    free(store);
}

/* Input inside a message: control bytes escaped, so a message stays one line. */
static void escaped_input(void **s) {
    char buf[64];
    assert_string_equal(gc_esc("a\nb\x1b[31mc\td\r\x7f", buf, sizeof buf), "a\\nb\\x1b[31mc\\td\\r\\x7f");
    /* UTF-8 is kept, a C1 control (here CSI, U+009B) is not */
    assert_string_equal(gc_esc("caf\xc3\xa9 \xc2\x9b", buf, sizeof buf), "caf\xc3\xa9 \\xc2\\x9b");
    assert_string_equal(gc_esc(NULL, buf, sizeof buf), "");
    char small[10];
    assert_string_equal(gc_esc("abcdefghijkl", small, sizeof small), "abcdef...");
    assert_string_equal(gc_esc("abcdefghi", small, sizeof small), "abcdefghi"); /* fits exactly */
    assert_string_equal(gc_esc("abcdefg\n", small, sizeof small), "abcdefg\\n");
    assert_string_equal(gc_esc("abcdefgh\n", small, sizeof small), "abcdef..."); /* "\\n" is never split */
    assert_string_equal(GC_ESC("x\ny"), "x\\ny");
    gc_err err;
    gc_errf(&err, "--reps: '%s' is not a whole number", "5\nrm -rf");
    assert_string_equal(err.msg, "--reps: '5\\nrm -rf' is not a whole number");
    assert_null(strchr(err.msg, '\n'));
}

static void atomic_write_round_trip(void **s) {
    char path[] = "/tmp/gc_util_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    gc_err err;
    assert_int_equal(gc_write_file_atomic(path, "hello", 5, &err), 0);
    size_t n = 0;
    char *got = gc_read_file(path, &n, &err);
    assert_non_null(got);
    assert_int_equal(n, 5);
    assert_string_equal(got, "hello");
    free(got);
    unlink(path);
    assert_null(gc_read_file(path, &n, &err));
    assert_non_null(strstr(err.msg, "cannot open"));
}

/* A fresh folder for one test; its path in dir (removed by rm_folder). */
static void tmp_folder(char *dir, size_t n) {
    snprintf(dir, n, "/tmp/gc_util_XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void rm_folder(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char p[512];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p)) rmdir(p);
    }
    closedir(d);
    rmdir(dir);
}

static void assert_content(const char *path, const char *want) {
    gc_err err;
    char *got = gc_read_file(path, NULL, &err);
    if (!got) fail_msg("%s", err.msg);
    assert_string_equal(got, want);
    free(got);
}

/* A normal write replaces the file and leaves nothing else in the folder. */
static void atomic_write_leaves_no_temporary(void **s) {
    char dir[64], path[128], names[256];
    tmp_folder(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/r.json", dir);
    gc_err err;
    assert_int_equal(gc_write_file_atomic(path, "one", 3, &err), 0);
    assert_int_equal(gc_write_file_atomic(path, "two", 3, &err), 0);
    assert_content(path, "two");
    th_folder_names(dir, names, sizeof names);
    assert_string_equal(names, "r.json");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    mode_t mask = umask(022);
    umask(mask);
    assert_int_equal(st.st_mode & 0777, 0644 & ~mask); /* as open(..., 0644) makes it, not mkstemp's 0600 */
    rm_folder(dir);
}

/* A symlink at the destination is refused: not followed, not replaced. */
static void atomic_write_refuses_symlink(void **s) {
    char dir[64], path[128], target[128];
    tmp_folder(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/report.md", dir);
    snprintf(target, sizeof target, "%s/victim", dir);
    assert_int_equal(gc_write_file_atomic(target, "precious", 8, &(gc_err){{0}}), 0);
    assert_int_equal(symlink(target, path), 0);
    gc_err err = {{0}};
    assert_int_not_equal(gc_write_file_atomic(path, "evil", 4, &err), 0);
    assert_non_null(strstr(err.msg, "symbolic link"));
    assert_non_null(strstr(err.msg, path));
    assert_null(strchr(err.msg, '\n'));
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_content(target, "precious");
    char names[256];
    th_folder_names(dir, names, sizeof names);
    assert_true(!strcmp(names, "report.md victim") || !strcmp(names, "victim report.md"));
    /* the streaming form refuses it the same way */
    gc_atomic a;
    assert_null(gc_open_atomic(path, &a, &err));
    assert_non_null(strstr(err.msg, "symbolic link"));
    rm_folder(dir);
}

/* A FIFO (or a folder) at the destination is refused and stays what it was. */
static void atomic_write_refuses_fifo_and_folder(void **s) {
    char dir[64], path[128], sub[128], names[256];
    tmp_folder(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    gc_err err = {{0}};
    assert_int_not_equal(gc_write_file_atomic(path, "x", 1, &err), 0);
    assert_non_null(strstr(err.msg, "a FIFO, not a regular file"));
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_not_equal(gc_write_file_atomic(sub, "x", 1, &err), 0);
    assert_non_null(strstr(err.msg, "a folder"));
    assert_int_not_equal(gc_write_file_atomic("/dev/null", "x", 1, &err), 0);
    assert_non_null(strstr(err.msg, "a device"));
    th_folder_names(dir, names, sizeof names);
    assert_true(!strcmp(names, "fifo sub") || !strcmp(names, "sub fifo"));
    rm_folder(dir);
}

/* The old temporary name, NAME.tmp.PID, was predictable and opened without O_EXCL: a symlink
 * planted there redirected the write. The temporary is now unguessable and exclusive. */
static void atomic_write_ignores_planted_temporary(void **s) {
    char dir[64], path[128], planted[160], target[128];
    tmp_folder(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/r.json", dir);
    snprintf(target, sizeof target, "%s/victim", dir);
    snprintf(planted, sizeof planted, "%s.tmp.%ld", path, (long)getpid());
    assert_int_equal(gc_write_file_atomic(target, "precious", 8, &(gc_err){{0}}), 0);
    assert_int_equal(symlink(target, planted), 0);
    gc_err err = {{0}};
    if (gc_write_file_atomic(path, "results", 7, &err)) fail_msg("%s", err.msg);
    assert_content(target, "precious");
    assert_content(path, "results");
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(lstat(planted, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    rm_folder(dir);
}

/* The streaming form: commit puts the file in place, abort leaves nothing. */
static void atomic_stream(void **s) {
    char dir[64], path[128], names[256];
    tmp_folder(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/chart.gp", dir);
    gc_err err = {{0}};
    gc_atomic a;
    FILE *f = gc_open_atomic(path, &a, &err);
    assert_non_null(f);
    fprintf(f, "plot %d\n", 1);
    assert_int_equal(access(path, F_OK), -1); /* nothing at the destination until the commit */
    gc_abort_atomic(&a);
    gc_abort_atomic(&a);
    th_folder_names(dir, names, sizeof names);
    assert_string_equal(names, "");
    f = gc_open_atomic(path, &a, &err);
    assert_non_null(f);
    fprintf(f, "plot %d\n", 2);
    assert_int_equal(gc_commit_atomic(&a, &err), 0);
    gc_abort_atomic(&a); /* after a commit: nothing to do */
    assert_content(path, "plot 2\n");
    th_folder_names(dir, names, sizeof names);
    assert_string_equal(names, "chart.gp");
    /* a relative name writes in the current folder */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(gc_write_file_atomic("plain.txt", "p", 1, &err), 0);
    assert_int_equal(chdir(cwd), 0);
    snprintf(path, sizeof path, "%s/plain.txt", dir);
    assert_content(path, "p");
    rm_folder(dir);
}

/* A write that fails part way (here: over the file-size limit, as on a full disk) removes its
 * temporary and leaves the previous file as it was. */
static void atomic_write_failure_keeps_old_file(void **s) {
    char dir[64], path[128], names[256];
    tmp_folder(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/r.json", dir);
    gc_err err = {{0}};
    assert_int_equal(gc_write_file_atomic(path, "old", 3, &err), 0);
    static char big[1 << 16];
    memset(big, 'x', sizeof big);
    struct rlimit old;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {.rlim_cur = 4096, .rlim_max = old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    int rc = gc_write_file_atomic(path, big, sizeof big, &err);
    gc_atomic a;
    FILE *f = gc_open_atomic(path, &a, &(gc_err){{0}});
    int rc2 = -2;
    if (f) {
        fwrite(big, 1, sizeof big, f);
        rc2 = gc_commit_atomic(&a, &(gc_err){{0}});
    }
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err.msg, "cannot write"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(rc2, -1);
    assert_content(path, "old");
    th_folder_names(dir, names, sizeof names);
    assert_string_equal(names, "r.json");
    rm_folder(dir);
}

/* A path that does not fit is refused, never cut to another path. */
static void long_paths_refused(void **s) {
    static char path[GC_PATH_MAX + 64];
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = 0;
    gc_err err = {{0}};
    assert_int_not_equal(gc_write_file_atomic(path, "x", 1, &err), 0);
    assert_non_null(strstr(err.msg, "path too long"));
    assert_int_not_equal(gc_mkdirs(path, &err), 0);
    assert_non_null(strstr(err.msg, "path too long"));
    assert_int_not_equal(gc_check_dest(path, &err), 0);
    assert_int_not_equal(gc_write_file_atomic("", "x", 1, &err), 0);
}

/* gc_mkdirs makes the parents; a file in the way is named. */
static void mkdirs_parents(void **s) {
    char dir[64], deep[160], names[256];
    tmp_folder(dir, sizeof dir);
    snprintf(deep, sizeof deep, "%s/a/b/", dir);
    gc_err err = {{0}};
    assert_int_equal(gc_mkdirs(deep, &err), 0);
    assert_int_equal(gc_mkdirs(deep, &err), 0);
    snprintf(deep, sizeof deep, "%s/a/b", dir);
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    rmdir(deep);
    snprintf(deep, sizeof deep, "%s/a", dir);
    rmdir(deep);
    snprintf(deep, sizeof deep, "%s/f", dir);
    assert_int_equal(gc_write_file_atomic(deep, "x", 1, &err), 0);
    snprintf(deep, sizeof deep, "%s/f/sub", dir);
    assert_int_not_equal(gc_mkdirs(deep, &err), 0);
    assert_non_null(strstr(err.msg, "/f: exists and is not a folder"));
    th_folder_names(dir, names, sizeof names);
    assert_string_equal(names, "f");
    rm_folder(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_int_strict),
        cmocka_unit_test(parse_double_strict),
        cmocka_unit_test(split_list),
        cmocka_unit_test(escaped_input),
        cmocka_unit_test(atomic_write_round_trip),
        cmocka_unit_test(atomic_write_leaves_no_temporary),
        cmocka_unit_test(atomic_write_refuses_symlink),
        cmocka_unit_test(atomic_write_refuses_fifo_and_folder),
        cmocka_unit_test(atomic_write_ignores_planted_temporary),
        cmocka_unit_test(atomic_stream),
        cmocka_unit_test(atomic_write_failure_keeps_old_file),
        cmocka_unit_test(long_paths_refused),
        cmocka_unit_test(mkdirs_parents),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
