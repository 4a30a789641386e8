/* Declarative option tables: parsing, value checks and help lines (see cli/opts.h). Input echoed
 * in a message goes through GC_ESC: escaped control bytes, and cut so the message keeps its
 * reason (the range, the choices) however long the input. */
#include "cli/opts.h"

#include <string.h>

#define USAGE_COL_MAX 24 /* "  --name METAVAR" wider than this puts its help after two spaces */

int gc_opt_value(const char *name, gc_opt_kind kind, double lo, double hi, const char *v, void *dest,
                 gc_err *err) {
    if (kind == GC_OPT_INT) {
        long x;
        if (gc_parse_int(v, (long)lo, (long)hi, &x))
            return gc_errf(err, "%s: '%s' is not a whole number from %ld to %ld", name, GC_ESC(v), (long)lo,
                           (long)hi);
        if (dest) *(long *)dest = x;
        return 0;
    }
    double d;
    if (gc_parse_double(v, lo, hi, &d))
        return gc_errf(err, "%s: '%s' is not a number from %g to %g", name, GC_ESC(v), lo, hi);
    if (dest) *(double *)dest = d;
    return 0;
}

int gc_opt_choice(const char *name, const char *choices, const char *v, gc_err *err) {
    size_t len = strlen(v);
    for (const char *p = choices; *p;) {
        size_t k = strcspn(p, ",");
        if (k == len && !strncmp(p, v, k)) return 0;
        p += k + (p[k] == ',');
    }
    char names[256] = "";
    for (const char *p = choices; *p && strlen(names) + 2 < sizeof names;) { /* "a,b" -> "a, b" */
        size_t k = strcspn(p, ","), w = strlen(names);
        snprintf(names + w, sizeof names - w, "%s%.*s", w ? ", " : "", (int)k, p);
        p += k + (p[k] == ',');
    }
    return gc_errf(err, "%s: '%s' is not one of %s", name, GC_ESC(v), names);
}

int gc_opts_die(const char *cmd, const gc_err *err) { return gc_die_usage("%s: %s", cmd, err->msg); }

/* The entry whose name (or alias) is arg up to '=' or its end; *val set to what follows '='. */
static const gc_opt *find(const gc_opt *t, int n, const char *arg, const char **val) {
    size_t len = strcspn(arg, "=");
    for (int i = 0; i < n; i++) {
        const char *names[2] = {t[i].name, t[i].alias};
        for (int k = 0; k < 2; k++)
            if (names[k] && strlen(names[k]) == len && !strncmp(names[k], arg, len)) {
                *val = arg[len] == '=' ? arg + len + 1 : NULL;
                return &t[i];
            }
    }
    return NULL;
}

static int store(const gc_opt *o, const char *v, gc_err *err) {
    switch (o->kind) {
        case GC_OPT_INT:
        case GC_OPT_DOUBLE: return gc_opt_value(o->name, o->kind, o->lo, o->hi, v, o->dest, err);
        case GC_OPT_STRING:
            if (!*v) return gc_errf(err, "%s: empty value", o->name);
            if (o->dest) *(const char **)o->dest = v;
            return 0;
        case GC_OPT_FLAG: break;
    }
    return 0;
}

/* One option at argv[*i] (advanced past its value). */
static int take(const gc_opt *t, int n, int argc, char **argv, int *i, gc_err *err) {
    const char *arg = argv[*i], *val = NULL;
    const gc_opt *o = find(t, n, arg, &val);
    if (!o) return gc_errf(err, "unknown option '%s' (see --help)", GC_ESC(arg));
    if (o->kind == GC_OPT_FLAG) {
        if (val) return gc_errf(err, "%s takes no value", o->name);
        if (o->dest) *(bool *)o->dest = true;
    } else {
        if (!val) {
            if (*i + 1 >= argc) return gc_errf(err, "%s needs a value", o->name);
            val = argv[++*i];
        }
        if (store(o, val, err)) return -1;
    }
    if (o->seen) *o->seen = true;
    return 0;
}

static bool asks_help(int argc, char **argv, int first) {
    for (int i = first; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
    return false;
}

int gc_opts_parse(const gc_opt *t, int n, int argc, char **argv, int first, const char **pos, int max_pos,
                  int *n_pos, bool *help, gc_err *err) {
    *n_pos = 0;
    *help = asks_help(argc, argv, first);
    if (*help) return 0;
    bool options = true;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (options && !strcmp(arg, "--")) {
            options = false;
            continue;
        }
        if (options && arg[0] == '-' && arg[1]) {
            if (take(t, n, argc, argv, &i, err)) return -1;
            continue;
        }
        if (*n_pos >= max_pos)
            return gc_errf(err, "unexpected argument '%s'%s", GC_ESC(arg),
                           max_pos ? " (see --help)" : " (options start with --; see --help)");
        pos[(*n_pos)++] = arg;
    }
    return 0;
}

static int label_width(const gc_opt *o) {
    return (int)(strlen(o->name) + (o->metavar ? 1 + strlen(o->metavar) : 0));
}

void gc_opts_usage(FILE *f, const gc_opt *t, int n) {
    int col = 0;
    for (int i = 0; i < n; i++)
        if (t[i].name && label_width(&t[i]) > col && label_width(&t[i]) <= USAGE_COL_MAX)
            col = label_width(&t[i]);
    for (int i = 0; i < n; i++) {
        if (!t[i].name) {
            fprintf(f, "%s\n", t[i].help ? t[i].help : "");
            continue;
        }
        char label[160];
        snprintf(label, sizeof label, "%s%s%s", t[i].name, t[i].metavar ? " " : "",
                 t[i].metavar ? t[i].metavar : "");
        fprintf(f, "  %-*s  %s\n", col, label, t[i].help ? t[i].help : "");
    }
}
