/* Small shared helpers: the one error style of the project, time, parsing of CLI values, and
 * the one way files are written. */
#ifndef GC_UTIL_H
#define GC_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit status for bad input (unknown flag, bad value, unreadable file, impossible combination). */
#define GC_EXIT_USAGE 2

/* Every fallible function fills a gc_err with one line of context and returns non-zero;
 * the top level prints it once as "gencost: <msg>". */
typedef struct gc_err {
    char msg[512];
} gc_err;

/* Both keep the one-line promise whatever the arguments hold: control bytes in the formatted
 * message (a newline or ESC from user input) come out escaped as by gc_esc. */
int gc_errf(gc_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "gencost: <msg>" on stderr and returns GC_EXIT_USAGE. */
int gc_die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* User input as it goes inside a message: control bytes (below 0x20, 0x7f, and the UTF-8 forms
 * of U+0080..U+009F) become "\n", "\r", "\t" or "\xHH", so input can neither split a message
 * nor drive the terminal; everything else is kept. Longer than n - 1 bytes: cut, ending "...".
 * Returns buf. GC_ESC(s) does it into a temporary array that lives until the end of the
 * enclosing block, for use as a printf argument:
 *     gc_errf(err, "%s: '%s' is not a number", name, GC_ESC(value)); */
const char *gc_esc(const char *s, char *buf, size_t n);
#define GC_ESC_MAX 160
#define GC_ESC(s) gc_esc((s), (char[GC_ESC_MAX]){0}, GC_ESC_MAX)

double gc_now(void);                         /* monotonic seconds */
void gc_utc_iso(char *buf, size_t n);        /* "2026-11-22T00:07:17Z" */
void gc_utc_iso_ms(char *buf, size_t n);     /* "2026-11-22T00:07:17.042Z": phases, meter logs */
void gc_utc_compact(char *buf, size_t n);    /* "20261122T000717Z" for file names */

/* Strict number parsing: whole string, range-checked. Return 0 on success. Decimal only: an
 * optional '-' (only when lo < 0), digits; for doubles also a decimal point (digits on at least
 * one side) and an exponent ("1e-3", "2E+6"). No spaces, no leading '+', no hex, no inf/nan. */
int gc_parse_int(const char *s, long lo, long hi, long *out);
int gc_parse_double(const char *s, double lo, double hi, double *out);
/* Splits "a,b,c" into at most max items (pointers into a copy the caller frees via *storage,
 * also on failure). Returns the count (0 for ""), -1 for more than max items,
 * GC_SPLIT_EMPTY_ITEM for an empty item ("1,,2", "a,", ","). */
#define GC_SPLIT_EMPTY_ITEM (-2)
int gc_split_list(const char *s, char **items, int max, char **storage);

/* Reads a whole file (NUL-terminated); NULL with err filled when missing/unreadable. */
char *gc_read_file(const char *path, size_t *len, gc_err *err);

/* ---- writing files ----
 * Every file gencost writes (results, reports, charts, logs) goes through these, so a write can
 * neither be redirected nor leave a half-written file:
 *   - the destination is checked with lstat: an existing symlink is refused (never followed,
 *     never replaced), and so is anything that is not a regular file (FIFO, device, folder,
 *     socket); one line in err names the path and what is there;
 *   - the data goes to a temporary created by mkstemp (O_EXCL, an unpredictable name
 *     ".NAME.XXXXXX") in the destination's folder, so a symlink planted at a guessed temporary
 *     name is never opened, and the final rename stays within one file system;
 *   - the temporary is flushed, fsynced and renamed over the destination (readers see the old
 *     file or the new one, never a part); the destination is checked again just before;
 *   - on every failure the temporary is removed and the destination is left as it was.
 * Paths of GC_PATH_MAX bytes or more are refused ("path too long"), never cut. New files get
 * mode 0644 less the umask. */
#define GC_PATH_MAX 4096

/* Writes data as the whole content of path (the rules above). 0, or non-zero + err. */
int gc_write_file_atomic(const char *path, const void *data, size_t len, gc_err *err);

/* For writers that stream (reports, charts, logs):
 *     gc_atomic a;
 *     FILE *f = gc_open_atomic(path, &a, err);
 *     if (!f) return -1;
 *     fprintf(f, ...);                     // any stdio output; errors are caught at commit
 *     if (failed) { gc_abort_atomic(&a); return -1; }
 *     return gc_commit_atomic(&a, err);     // checks, fsyncs, renames; always closes f
 * Do not fclose f yourself. gc_abort_atomic removes the temporary (safe to call twice, and
 * after a commit, when it does nothing). */
typedef struct gc_atomic {
    FILE *f;
    char path[GC_PATH_MAX], tmp[GC_PATH_MAX];
} gc_atomic;
FILE *gc_open_atomic(const char *path, gc_atomic *a, gc_err *err);
int gc_commit_atomic(gc_atomic *a, gc_err *err);
void gc_abort_atomic(gc_atomic *a);

/* A file built in memory (open_memstream) and written in one piece by gc_memfile_commit, for
 * writers that may fail half-way (a report, a chart script): the destination gets all of it or
 * none of it, under gc_write_file_atomic's rules. */
typedef struct gc_memfile {
    FILE *f;
    char *buf;
    size_t len;
} gc_memfile;
FILE *gc_memfile_open(gc_memfile *m); /* NULL when out of memory */
/* Closes m and frees its buffer; with path non-NULL, first writes what it holds to path. 0, or
 * non-zero + err (out of memory while writing, or the atomic write's reason). */
int gc_memfile_commit(gc_memfile *m, const char *path, gc_err *err);

/* The destination check alone, for a file another program writes (gnuplot's `set output`):
 * 0 when path is absent or a regular file; non-zero + err for a symlink or any other kind of
 * file, or a path of GC_PATH_MAX bytes or more. */
int gc_check_dest(const char *path, gc_err *err);

/* Creates dir and its parents (mode 0755 less the umask); an existing folder is fine, an
 * existing non-folder on the way is an error naming it. */
int gc_mkdirs(const char *dir, gc_err *err);

/* Peak resident set size of this process in bytes (getrusage), 0 if unknown. */
uint64_t gc_peak_rss_bytes(void);
/* Available memory (MemAvailable) in bytes, 0 if unknown. */
uint64_t gc_mem_available_bytes(void);
/* A "Name:   N kB" field of a /proc file (/proc/meminfo, /proc/self/status) in bytes, 0 if absent. */
uint64_t gc_proc_kb_field(const char *path, const char *field);

#endif
