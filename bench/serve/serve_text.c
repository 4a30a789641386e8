/* The text <-> token mapping of gencost serve (the rules are in serve.h). */
#include <stdio.h>
#include <string.h>
#include "bench/serve/serve.h"

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static uint32_t fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* "#K" with K decimal and below vocab: token K (the spelling generated text uses). */
static bool own_spelling(const char *w, size_t n, int vocab, int32_t *id) {
    if (n < 2 || n > 11 || w[0] != '#') return false;
    long v = 0;
    for (size_t i = 1; i < n; i++) {
        if (w[i] < '0' || w[i] > '9') return false;
        v = v * 10 + (w[i] - '0');
    }
    if (n > 2 && w[1] == '0') return false; /* one spelling per id: "#07" is a word like any other */
    if (v >= vocab) return false;
    *id = (int32_t)v;
    return true;
}

int gc_serve_tokenize(const char *text, int vocab, int32_t *out, int max) {
    int n = 0;
    for (const char *p = text; *p;) {
        while (*p && is_space(*p)) p++;
        if (!*p) break;
        const char *w = p;
        while (*p && !is_space(*p)) p++;
        size_t len = (size_t)(p - w);
        if (n == max) return -1;
        int32_t id;
        out[n++] = own_spelling(w, len, vocab, &id) ? id : (int32_t)(fnv1a(w, len) % (uint32_t)vocab);
    }
    return n;
}

int gc_serve_token_text(int32_t id, char *buf, size_t n) {
    size_t w = strnlen(buf, n);
    int k = snprintf(buf + w, n > w ? n - w : 0, " #%d", (int)id);
    return k;
}
