/* Escaping for each language gencost writes data into (contracts in base/escape.h). */
#include "base/escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

void gc_gp_quote(FILE *f, const char *s) {
    fputc('\'', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\'') fputs("''", f);
        else fputc(is_control(*p) ? ' ' : *p, f);
    }
    fputc('\'', f);
}

void gc_gp_field(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p == '"' ? '\'' : is_control(*p) ? ' ' : *p, f);
    fputc('"', f);
}

void gc_html(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(is_control(*p) && *p != '\t' && *p != '\n' ? ' ' : *p, f);
        }
    }
}

void gc_md(FILE *f, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '|' || *p == '\\' || *p == '[' || *p == ']') {
            fputc('\\', f);
            fputc(*p, f);
        } else if (*p == '<') {
            fputs("&lt;", f);
        } else {
            fputc(is_control(*p) ? ' ' : *p, f);
        }
    }
}

void gc_csv_text(FILE *f, const char *s) {
    bool formula = strchr("=+-@\t\r", s[0]) && s[0] && strcmp(s, "-");
    if (!formula && !strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    if (formula) fputc('\'', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static bool name_char(unsigned char c, const char *keep) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || (keep && c != '/' && strchr(keep, c));
}

void gc_safe_name(const char *s, const char *keep, char *buf, size_t n) {
    if (!n) return;
    size_t len = strlen(s), max = n - 1 < 200 ? n - 1 : 200;
    if (!len) {
        snprintf(buf, n, "_");
        return;
    }
    bool changed = len > max;
    size_t w = 0;
    for (size_t i = 0; i < len && w < max; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = name_char(c, keep) && !(i == 0 && c == '.');
        changed |= !ok;
        buf[w++] = ok ? (char)c : '_';
    }
    buf[w] = 0;
    if (!changed) return;
    /* "-" and 8 hex digits of the input's FNV-1a: two names that differ only in replaced bytes
     * ("a'b", "a\"b") or beyond the cut stay two files */
    uint32_t hash = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) hash = (hash ^ *p) * 16777619u;
    size_t at = w + 9 <= max ? w : max > 9 ? max - 9 : 0;
    if (at > 180 && len > max) at = 180;
    snprintf(buf + at, n - at, "-%08x", (unsigned)hash);
}
