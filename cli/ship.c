/* The shipped source tree (cli/ship.h): git through the executor seam, on this machine. */
#include "cli/ship.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/exec.h"
#include "base/version.h"

/* argv (git -C SRC ...) run here, stdout into `out` (a file path; NULL: /dev/null). */
static int git(const char *src, const char *out, const char *const *args, int n, gc_err *err) {
    gc_argv a;
    gc_argv_init(&a);
    gc_argv_add(&a, "git");
    gc_argv_add(&a, "-C");
    gc_argv_add(&a, src);
    gc_argv_addv(&a, args, n);
    char *line = a.oom ? NULL : gc_shell_join((const char *const *)a.v, a.n);
    gc_argv_free(&a);
    const gc_exec local = {.kind = GC_EXEC_LOCAL};
    gc_exec_io io = {.stdout_path = out ? out : "/dev/null", .stderr_path = "/dev/null"};
    int rc = gc_exec_run(&local, line, &io, 120, NULL, err);
    free(line);
    return rc;
}

/* A temporary file's path in dir (created empty), into buf. */
static int temp_file(const char *dir, const char *what, char *buf, size_t n, gc_err *err) {
    const char *t = getenv("TMPDIR");
    snprintf(buf, n, "%s/.gencost-%s-XXXXXX", dir ? dir : t && *t ? t : "/tmp", what);
    int fd = mkstemp(buf);
    if (fd < 0) return gc_errf(err, "cannot create a temporary file in %s", dir ? dir : "/tmp");
    close(fd);
    return 0;
}

static int head_commit(const char *src, char *buf, size_t n, gc_err *err) {
    char tmp[GC_PATH_MAX];
    if (temp_file(NULL, "head", tmp, sizeof tmp, err)) return -1;
    const char *args[] = {"rev-parse", "--short=12", "HEAD"};
    int rc = git(src, tmp, args, 3, err);
    char *text = rc ? NULL : gc_read_file(tmp, NULL, err);
    unlink(tmp);
    if (!text) return gc_errf(err, "%s is not a git checkout with a commit (git rev-parse HEAD failed)", src);
    text[strcspn(text, "\r\n")] = 0;
    snprintf(buf, n, "%s", text);
    free(text);
    return 0;
}

/* FNV-1a of a file: the dirty folder's name changes whenever the patch does. */
static int file_hash(const char *path, unsigned *h, gc_err *err) {
    size_t len;
    char *text = gc_read_file(path, &len, err);
    if (!text) return -1;
    uint32_t x = 2166136261u;
    for (size_t i = 0; i < len; i++) x = (x ^ (unsigned char)text[i]) * 16777619u;
    free(text);
    *h = x;
    return 0;
}

static int make_tar(gc_ship *s, const char *src, const char *patch, const char *tar_dir, gc_err *err) {
    if (temp_file(tar_dir, "source", s->tar_path, sizeof s->tar_path, err)) return -1;
    char *qs = gc_shell_quote(src), *qt = gc_shell_quote(s->tar_path), *qp = patch ? gc_shell_quote(patch) : NULL;
    char *line = NULL;
    int rc = -1;
    if (!qs || !qt || (patch && !qp)) {
        rc = gc_errf(err, "out of memory");
    } else if (!patch) {
        if (asprintf(&line, "git -C %s archive --format=tar HEAD > %s", qs, qt) < 0) line = NULL;
    } else if (asprintf(&line, "d=$(mktemp -d) && git -C %s archive --format=tar HEAD | tar -x -C \"$d\" && "
                        "(cd \"$d\" && git apply --whitespace=nowarn %s) && tar -c -C \"$d\" . > %s; rc=$?; "
                        "rm -rf \"$d\"; exit $rc", qs, qp, qt) < 0) {
        line = NULL;
    }
    free(qs);
    free(qt);
    free(qp);
    if (!line) return rc ? gc_errf(err, "out of memory") : 0;
    const gc_exec local = {.kind = GC_EXEC_LOCAL};
    gc_exec_io io = {.stderr_path = "/dev/null"};
    rc = gc_exec_run(&local, line, &io, 300, NULL, err);
    free(line);
    if (rc) return gc_errf(err, "%s: cannot pack the source tree (git archive%s failed)", src, patch ? " or git apply" : "");
    return 0;
}

void ship_this_build(gc_ship *s) {
    memset(s, 0, sizeof *s);
    snprintf(s->commit, sizeof s->commit, "%s", gc_git_commit);
    snprintf(s->folder, sizeof s->folder, "%s", gc_git_commit);
}

int ship_prepare(gc_ship *s, const char *src, bool dirty, const char *tar_dir, gc_err *err) {
    memset(s, 0, sizeof *s);
    const char *dir = src ? src : ".";
    char head[48];
    if (head_commit(dir, head, sizeof head, err)) return -1;
    const char *diff[] = {"diff", "--quiet", "HEAD"};
    int changed = git(dir, NULL, diff, 3, err);
    if (changed != 0 && changed != 1) return gc_errf(err, "%s: git diff HEAD failed (status %d)", dir, changed);
    snprintf(s->commit, sizeof s->commit, "%s%s", head, changed ? "-dirty" : "");
    if (changed && !dirty)
        return gc_errf(err, "%s has uncommitted changes: commit them, or pass --dirty to ship HEAD plus "
                       "`git diff HEAD` (untracked files are not shipped)", src ? src : "the checkout");
    if (!src && strcmp(s->commit, gc_git_commit))
        return gc_errf(err, "this gencost was built from commit %s, the checkout here is at %s: rebuild it "
                       "(make) or name the tree to ship with --src", gc_git_commit, s->commit);
    char patch[GC_PATH_MAX] = "";
    unsigned h = 0;
    if (changed) {
        const char *args[] = {"diff", "HEAD", "--binary"};
        if (temp_file(NULL, "patch", patch, sizeof patch, err)) return -1;
        if (git(dir, patch, args, 3, err) || file_hash(patch, &h, err)) {
            unlink(patch);
            return gc_errf(err, "%s: git diff HEAD --binary failed", dir);
        }
    }
    snprintf(s->folder, sizeof s->folder, changed ? "%s-%08x" : "%s", s->commit, h);
    int rc = tar_dir ? make_tar(s, dir, changed ? patch : NULL, tar_dir, err) : 0;
    if (patch[0]) unlink(patch);
    return rc;
}

void ship_free(gc_ship *s) {
    if (s->tar_path[0]) unlink(s->tar_path);
    s->tar_path[0] = 0;
}
