/* Small shared helpers: the one error style of the project, time, parsing of CLI values. */
#ifndef GC_UTIL_H
#define GC_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit status for bad input (unknown flag, bad value, unreadable file, impossible combination). */
#define GC_EXIT_USAGE 2

/* Every fallible function fills a gc_err with one line of context and returns non-zero;
 * the top level prints it once as "gencost: <msg>". */
typedef struct gc_err {
    char msg[512];
} gc_err;

int gc_errf(gc_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "gencost: <msg>" on stderr and returns GC_EXIT_USAGE. */
int gc_die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

double gc_now(void);                         /* monotonic seconds */
void gc_utc_iso(char *buf, size_t n);        /* "2026-11-22T00:07:17Z" */
void gc_utc_compact(char *buf, size_t n);    /* "20261122T000717Z" for file names */

/* Strict number parsing: whole string, range-checked. Return 0 on success. */
int gc_parse_int(const char *s, long lo, long hi, long *out);
int gc_parse_double(const char *s, double lo, double hi, double *out);
/* Splits "a,b,c" into at most max items (pointers into a copy the caller frees via *storage). */
int gc_split_list(const char *s, char **items, int max, char **storage);

/* Reads a whole file (NUL-terminated); NULL with err filled when missing/unreadable. */
char *gc_read_file(const char *path, size_t *len, gc_err *err);
/* Writes atomically: temporary file in the same folder, fsync, rename. */
int gc_write_file_atomic(const char *path, const void *data, size_t len, gc_err *err);
int gc_mkdirs(const char *dir, gc_err *err);

/* Peak resident set size of this process in bytes (getrusage), 0 if unknown. */
uint64_t gc_peak_rss_bytes(void);
/* Available memory (MemAvailable) in bytes, 0 if unknown. */
uint64_t gc_mem_available_bytes(void);
/* A "Name:   N kB" field of a /proc file (/proc/meminfo, /proc/self/status) in bytes, 0 if absent. */
uint64_t gc_proc_kb_field(const char *path, const char *field);

#endif
