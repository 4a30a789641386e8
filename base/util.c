/* Shared helpers: errors, clocks, strict parsing, atomic files. */
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One escaped byte (see gc_esc) into out (room for 5); returns its length. */
static int esc_byte(unsigned char c, char *out) {
    switch (c) {
        case '\n': return snprintf(out, 5, "\\n");
        case '\r': return snprintf(out, 5, "\\r");
        case '\t': return snprintf(out, 5, "\\t");
        default: return snprintf(out, 5, "\\x%02x", c);
    }
}

/* Bytes of s at i to escape: 1 for an ASCII control, 2 for a UTF-8 C1 control, else 0. */
static int control_at(const unsigned char *s) {
    if (s[0] < 0x20 || s[0] == 0x7f) return 1;
    if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) return 2;
    return 0;
}

const char *gc_esc(const char *s, char *buf, size_t n) {
    if (!n) return buf;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t w = 0, limit = n - 1, safe = 0; /* safe: the end of whole pieces that leaves room for "..." */
    while (*p) {
        char piece[12];
        int k = control_at(p), len;
        if (k == 2)
            len = esc_byte(p[0], piece) + esc_byte(p[1], piece + 4);
        else if (k == 1)
            len = esc_byte(p[0], piece);
        else
            piece[0] = (char)p[0], len = 1, k = 1;
        if (w + (size_t)len > limit) { /* cut: what fits, then "..." when there is room for it */
            w = safe;
            if (limit >= 3) memcpy(buf + w, "...", 3), w += 3;
            break;
        }
        memcpy(buf + w, piece, (size_t)len);
        w += (size_t)len;
        if (w + 3 <= limit) safe = w;
        p += k;
    }
    buf[w] = 0;
    return buf;
}

int gc_errf(gc_err *e, const char *fmt, ...) {
    if (e) {
        char raw[sizeof e->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        gc_esc(raw, e->msg, sizeof e->msg);
    }
    return -1;
}

int gc_die_usage(const char *fmt, ...) {
    char raw[2048], line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    fprintf(stderr, "gencost: %s\n", gc_esc(raw, line, sizeof line));
    return GC_EXIT_USAGE;
}

double gc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void utc_fmt(char *buf, size_t n, const char *fmt) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, fmt, &tm);
}
void gc_utc_iso(char *buf, size_t n) { utc_fmt(buf, n, "%Y-%m-%dT%H:%M:%SZ"); }
void gc_utc_compact(char *buf, size_t n) { utc_fmt(buf, n, "%Y%m%dT%H%M%SZ"); }

void gc_utc_iso_ms(char *buf, size_t n) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char s[32];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03ldZ", s, ts.tv_nsec / 1000000);
}

static const char *digits(const char *s) {
    while (*s >= '0' && *s <= '9') s++;
    return s;
}

/* s is [-]DIGITS (the '-' only when neg_ok): what strtol alone would take too much around. */
static bool decimal_int(const char *s, bool neg_ok) {
    if (*s == '-' && neg_ok) s++;
    const char *e = digits(s);
    return e > s && !*e;
}

/* s is [-](DIGITS[.DIGITS*] | .DIGITS)[(e|E)[+|-]DIGITS]: no hex, inf, nan or spaces. */
static bool decimal_double(const char *s, bool neg_ok) {
    if (*s == '-' && neg_ok) s++;
    const char *e = digits(s);
    bool whole = e > s;
    if (*e == '.') {
        const char *f = digits(e + 1);
        if (!whole && f == e + 1) return false;
        e = f;
    } else if (!whole) {
        return false;
    }
    if (*e == 'e' || *e == 'E') {
        e++;
        if (*e == '+' || *e == '-') e++;
        const char *x = digits(e);
        if (x == e) return false;
        e = x;
    }
    return !*e;
}

int gc_parse_int(const char *s, long lo, long hi, long *out) {
    if (!s || !decimal_int(s, lo < 0)) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int gc_parse_double(const char *s, double lo, double hi, double *out) {
    if (!s || !decimal_double(s, lo < 0)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int gc_split_list(const char *s, char **items, int max, char **storage) {
    *storage = strdup(s ? s : "");
    if (!*storage) return -1;
    if (!**storage) return 0;
    int n = 0;
    for (char *p = *storage;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        if (!*p) return GC_SPLIT_EMPTY_ITEM;
        if (n == max) return -1;
        items[n++] = p;
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

char *gc_read_file(const char *path, size_t *len, gc_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        gc_errf(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        gc_errf(err, "%s: not a regular file", path);
        fclose(f);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (!buf) {
        gc_errf(err, "%s: out of memory reading %zu bytes", path, size);
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != size) {
        gc_errf(err, "%s: read error", path);
        free(buf);
        return NULL;
    }
    buf[size] = 0;
    if (len) *len = size;
    return buf;
}

static int path_fits(const char *path, gc_err *err) {
    size_t len = strlen(path);
    if (!len) return gc_errf(err, "empty file name");
    if (len >= GC_PATH_MAX) return gc_errf(err, "%.200s...: path too long (%zu bytes; at most %d)", path, len,
                                           GC_PATH_MAX - 1);
    return 0;
}

static const char *kind_of(mode_t m) {
    return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) || S_ISBLK(m) ? "a device" :
           S_ISSOCK(m) ? "a socket" : "an unknown kind of file";
}

int gc_check_dest(const char *path, gc_err *err) {
    if (path_fits(path, err)) return -1;
    struct stat st;
    if (lstat(path, &st)) {
        if (errno == ENOENT) return 0;
        return gc_errf(err, "%s: cannot check: %s", path, strerror(errno));
    }
    if (S_ISLNK(st.st_mode))
        return gc_errf(err, "%s: is a symbolic link; refusing to write through it (remove it first)", path);
    if (!S_ISREG(st.st_mode))
        return gc_errf(err, "%s: is %s, not a regular file; refusing to replace it", path,
                       kind_of(st.st_mode));
    return 0;
}

/* The process's umask without changing it where /proc tells (another thread may create files). */
static mode_t current_umask(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    unsigned m = 0;
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) found = sscanf(line, "Umask: %o", &m) == 1;
    if (f) fclose(f);
    if (found) return (mode_t)m;
    mode_t old = umask(022);
    umask(old);
    return old;
}

FILE *gc_open_atomic(const char *path, gc_atomic *a, gc_err *err) {
    memset(a, 0, sizeof *a);
    if (gc_check_dest(path, err)) return NULL;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int dir_len = slash ? (int)(slash - path) : 1;
    const char *dir = slash ? path : ".";
    if (!*base) {
        gc_errf(err, "%s: names a folder, not a file", path);
        return NULL;
    }
    /* ".NAME.XXXXXX", NAME cut so the temporary's own name stays within NAME_MAX */
    if (snprintf(a->tmp, sizeof a->tmp, "%.*s/.%.200s.XXXXXX", slash == path ? 0 : dir_len, dir, base) >=
        (int)sizeof a->tmp) {
        gc_errf(err, "%.200s...: path too long for a temporary beside it", path);
        return NULL;
    }
    snprintf(a->path, sizeof a->path, "%s", path);
    int fd = mkostemp(a->tmp, O_CLOEXEC);
    if (fd < 0) {
        gc_errf(err, "%s: cannot create a temporary file in its folder: %s", path, strerror(errno));
        a->tmp[0] = 0;
        return NULL;
    }
    if (fchmod(fd, 0644 & ~current_umask()) || !(a->f = fdopen(fd, "w"))) {
        gc_errf(err, "%s: cannot open a temporary file: %s", path, strerror(errno));
        close(fd);
        gc_abort_atomic(a);
        return NULL;
    }
    return a->f;
}

void gc_abort_atomic(gc_atomic *a) {
    if (a->f) fclose(a->f);
    a->f = NULL;
    if (a->tmp[0]) unlink(a->tmp);
    a->tmp[0] = 0;
}

FILE *gc_memfile_open(gc_memfile *m) {
    m->buf = NULL;
    m->len = 0;
    return m->f = open_memstream(&m->buf, &m->len);
}

int gc_memfile_commit(gc_memfile *m, const char *path, gc_err *err) {
    int rc = 0;
    if (!m->f) {
        rc = gc_errf(err, "%s: out of memory", path ? path : "in-memory file");
    } else {
        int bad = ferror(m->f);
        if (fclose(m->f) || bad) rc = gc_errf(err, "%s: write failed (out of memory)", path ? path : "in-memory file");
        else if (path) rc = gc_write_file_atomic(path, m->buf, m->len, err);
    }
    m->f = NULL;
    free(m->buf);
    m->buf = NULL;
    return rc;
}

/* The folder's entry for the rename made durable too; best effort (not every file system can). */
static void sync_folder(const char *path) {
    char dir[GC_PATH_MAX];
    const char *slash = strrchr(path, '/');
    int len = slash ? (slash == path ? 1 : (int)(slash - path)) : 1; /* "/" for "/x", "." for "x" */
    snprintf(dir, sizeof dir, "%.*s", len, slash ? path : ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int gc_commit_atomic(gc_atomic *a, gc_err *err) {
    if (!a->f) return gc_errf(err, "%s: nothing open to commit", a->path[0] ? a->path : "(no file)");
    FILE *f = a->f;
    a->f = NULL;
    errno = 0; /* a write error stdio saw earlier has left no errno behind: "write error" then */
    int bad = fflush(f) || ferror(f), e = errno;
    if (!bad && fsync(fileno(f))) bad = 1, e = errno;
    if (fclose(f) && !bad) bad = 1, e = errno;
    if (bad) {
        gc_abort_atomic(a);
        return gc_errf(err, "%s: cannot write: %s", a->path, e ? strerror(e) : "write error");
    }
    /* Something may have been planted while the data was written: check again. */
    if (gc_check_dest(a->path, err)) {
        gc_abort_atomic(a);
        return -1;
    }
    if (rename(a->tmp, a->path)) {
        e = errno;
        gc_abort_atomic(a);
        return gc_errf(err, "%s: cannot rename into place: %s", a->path, strerror(e));
    }
    a->tmp[0] = 0;
    sync_folder(a->path);
    return 0;
}

int gc_write_file_atomic(const char *path, const void *data, size_t len, gc_err *err) {
    gc_atomic a;
    FILE *f = gc_open_atomic(path, &a, err);
    if (!f) return -1;
    errno = 0;
    if (len && fwrite(data, 1, len, f) != len) {
        int e = errno;
        gc_abort_atomic(&a);
        return gc_errf(err, "%s: cannot write: %s", path, strerror(e ? e : EIO));
    }
    return gc_commit_atomic(&a, err);
}

int gc_mkdirs(const char *dir, gc_err *err) {
    if (path_fits(dir, err)) return -1;
    char buf[GC_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p && *p != '/') continue;
        char c = *p;
        *p = 0;
        struct stat st;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return gc_errf(err, "%s: cannot create folder: %s", buf, strerror(errno));
        if (stat(buf, &st) || !S_ISDIR(st.st_mode)) return gc_errf(err, "%s: exists and is not a folder", buf);
        *p = c;
        if (!c) break;
    }
    return 0;
}

uint64_t gc_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return 0;
    return (uint64_t)ru.ru_maxrss * 1024u;   /* Linux reports KiB */
}

uint64_t gc_proc_kb_field(const char *path, const char *field) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[256];
    size_t n = strlen(field);
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':' && sscanf(line + n + 1, " %llu kB", &kb) == 1) break;
    fclose(f);
    return (uint64_t)kb * 1024u;
}

uint64_t gc_mem_available_bytes(void) { return gc_proc_kb_field("/proc/meminfo", "MemAvailable"); }
