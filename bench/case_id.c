/* Case identity: the one key function (see case_id.h). */
#include "bench/case_id.h"

#include <stdio.h>
#include <string.h>

void gc_job_key(const gc_case_id *id, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s/%s/%s%s%s", id->workload, id->preset, id->quant, id->phase,
             id->params[0] ? "?" : "", id->params);
}

void gc_case_key(const gc_case_id *id, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s/%s/%s/%s/t%d/%s%s%s", id->workload, id->preset, id->quant, id->backend,
             id->device[0] ? id->device : "-", id->threads, id->phase, id->params[0] ? "?" : "",
             id->params);
}

void gc_case_key_coarse(const gc_case_id *id, char *buf, size_t n) {
    gc_case_id c = *id;
    c.device[0] = c.params[0] = 0;
    gc_case_key(&c, buf, n);
}

bool gc_case_id_equal(const gc_case_id *a, const gc_case_id *b) {
    return a->threads == b->threads && !strcmp(a->workload, b->workload) &&
           !strcmp(a->preset, b->preset) && !strcmp(a->params, b->params) &&
           !strcmp(a->quant, b->quant) && !strcmp(a->backend, b->backend) &&
           !strcmp(a->device, b->device) && !strcmp(a->phase, b->phase);
}

static bool token_ok(const char *s) { return *s && !strpbrk(s, ",=/"); }

int gc_params_set(char *params, size_t n, const char *name, const char *value, gc_err *err) {
    if (!token_ok(name) || !token_ok(value))
        return gc_errf(err, "parameter %s=%s: names and values must be non-empty, without ',', '=' or '/'",
                       name, value);
    char out[1024] = "";
    size_t used = 0;
    bool placed = false;
    const char *p = params;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        int cmp = strncmp(p, name, klen);
        if (cmp == 0 && strlen(name) > klen) cmp = -1;   /* p's name is a prefix of name */
        if (!placed && cmp >= 0) {
            used += (size_t)snprintf(out + used, sizeof out - used, "%s%s=%s", used ? "," : "", name, value);
            placed = true;
        }
        if (cmp != 0 && used < sizeof out)
            used += (size_t)snprintf(out + used, sizeof out - used, "%s%.*s", used ? "," : "", (int)len, p);
        if (used >= sizeof out) break;
        p = end ? end + 1 : p + len;
    }
    if (!placed && used < sizeof out)
        used += (size_t)snprintf(out + used, sizeof out - used, "%s%s=%s", used ? "," : "", name, value);
    if (used >= n || used >= sizeof out)
        return gc_errf(err, "parameter %s=%s: the parameter list would exceed %zu characters", name, value, n - 1);
    memcpy(params, out, used + 1);
    return 0;
}

bool gc_params_get(const char *params, const char *name, char *out, size_t n) {
    size_t nl = strlen(name);
    for (const char *p = params; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            snprintf(out, n, "%.*s", (int)(len - nl - 1), p + nl + 1);
            return true;
        }
        if (!end) break;
        p = end + 1;
    }
    return false;
}
