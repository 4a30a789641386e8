/* Declarative option tables, shared by every command so that options are parsed the same way and
 * bad input reads the same everywhere. A command declares its options once (name, kind, where the
 * value goes, range, help); gc_opts_parse fills the destinations and gc_opts_usage prints the
 * help lines from the same table.
 *
 * Accepted forms: "--name value" and "--name=value" for valued options, "--name" for flags,
 * "--help" / "-h" anywhere (sets *help), "--" ends the options (what follows is positional).
 * The last of a repeated option wins. Declare entries with designated initialisers
 * ({.name = "--reps", .kind = GC_OPT_INT, .dest = &reps, .lo = 1, .hi = 1000000, .metavar = "N",
 * .help = "..."}): the optional fields may then be left out without -Wextra warnings.
 *
 * Error messages (one line, in err, without the command's name: the caller prints
 * "gencost: <cmd>: <msg>", e.g. with gc_opts_die):
 *   "--reps needs a value"
 *   "--reps: '0' is not a whole number from 1 to 1000000"
 *   "--min-time: '-1' is not a number from 0 to 86400"
 *   "--kv-type: 'f8' is not one of f32, f16, q8_0"
 *   "--out: empty value"
 *   "--quick takes no value"
 *   "unknown option '--bogus' (see --help)"
 *   "unexpected argument 'stray' (options start with --; see --help)"
 * The wording of a value check lives in gc_opt_value/gc_opt_choice alone; tables of other
 * layers (a workload's parameters) are checked through them too. Numbers are strict decimal
 * (gc_parse_int/gc_parse_double): "' 5'", "'+5'", "'0x1p3'", "'inf'" are bad input. Input
 * quoted in a message has its control bytes escaped (gc_esc): "--reps: '5\n6' is not ...".
 */
#ifndef GC_OPTS_H
#define GC_OPTS_H
#include <stdbool.h>
#include <stdio.h>
#include "base/util.h"

typedef enum { GC_OPT_FLAG, GC_OPT_INT, GC_OPT_DOUBLE, GC_OPT_STRING } gc_opt_kind;

typedef struct gc_opt {
    const char *name; /* "--reps"; NULL: a heading line for --help (help holds its text) */
    gc_opt_kind kind;
    void *dest;          /* bool *, long *, double *, const char ** (borrowed from argv) */
    double lo, hi;       /* INT/DOUBLE range, inclusive */
    const char *metavar; /* "N", "FILE"; NULL for flags */
    const char *help;    /* one line for --help */
    const char *alias;   /* optional: an older spelling that is accepted too (not in --help) */
    bool *seen;          /* optional: set true when the option is given */
} gc_opt;

/* Entries of an option table declared as an array: gc_opts_parse(t, GC_N_OPTS(t), ...). */
#define GC_N_OPTS(t) ((int)(sizeof(t) / sizeof(t)[0]))

/* Parses argv[first..argc) against the table t[0..n). Positional arguments are collected into
 * pos[0..max_pos) (*n_pos set; pos may be NULL when max_pos is 0). `--help`/`-h` anywhere before
 * "--" sets *help and returns 0 at once, nothing else parsed (help wins over bad input).
 * Returns 0, or non-zero with err filled (the first bad input). */
int gc_opts_parse(const gc_opt *t, int n, int argc, char **argv, int first, const char **pos, int max_pos,
                  int *n_pos, bool *help, gc_err *err);

/* Prints "  --name METAVAR  help" lines aligned in one column, headings (name NULL) as is. */
void gc_opts_usage(FILE *f, const gc_opt *t, int n);

/* The one value check: v as a value of option `name` of kind INT (whole number) or DOUBLE, in
 * [lo, hi]. Stores it in *dest (long * or double *) when dest is not NULL. Non-zero + err. */
int gc_opt_value(const char *name, gc_opt_kind kind, double lo, double hi, const char *v, void *dest,
                 gc_err *err);
/* v is one of the comma list `choices`. Non-zero + err naming them. */
int gc_opt_choice(const char *name, const char *choices, const char *v, gc_err *err);

/* Prints "gencost: <cmd>: <err>" on stderr and returns GC_EXIT_USAGE. */
int gc_opts_die(const char *cmd, const gc_err *err);

#endif
