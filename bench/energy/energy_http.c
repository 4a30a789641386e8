/* Wall meters over HTTP (libcurl): smart plugs that report the power at the socket.
 *   Shelly Gen2+ RPC: GET /rpc/Switch.GetStatus?id=0 → {"apower": W, "aenergy": {"total": Wh}}
 *     (Shelly API docs, "Switch.GetStatus"); Gen2 devices with a password use digest auth.
 *   Tasmota: GET /cm?cmnd=Status%208 → {"StatusSNS": {"ENERGY": {"Power": W | [W, …]}}}
 *     (Tasmota docs, "Commands", Status 8).
 *   Generic: any URL with JSON; the watts are at a dot path after '#'.
 * Every request has a connect timeout and a total timeout, so a dead plug costs at most the
 * timeout per poll and never hangs a run. Credentials come from GENCOST_METER_USER and
 * GENCOST_METER_PASSWORD only; the URL may not carry them, so nothing secret reaches results, and
 * a query string (which may hold a token) is redacted wherever the URL is written. Over plain
 * http the password is only ever sent as Digest, unless GENCOST_METER_PLAIN_AUTH=1. */
#include "bench/energy/energy.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_BODY (256 * 1024)

typedef struct http_meter {
    CURL *curl;
    char url[512];
    char path[128];        /* JSON path to the watts */
    long timeout_ms;
} http_meter;

typedef struct body {
    char *data;
    size_t len;
    bool too_big;
} body;

static size_t on_data(char *p, size_t size, size_t n, void *user) {
    body *b = user;
    size_t add = size * n;
    if (b->len + add > MAX_BODY) {
        b->too_big = true;
        return 0;   /* aborts the transfer */
    }
    char *d = realloc(b->data, b->len + add + 1);
    if (!d) return 0;
    memcpy(d + b->len, p, add);
    b->len += add;
    d[b->len] = 0;
    b->data = d;
    return add;
}

static const json_t *walk(const json_t *j, const char *path) {
    char seg[64];
    while (j && *path) {
        size_t n = strcspn(path, ".");
        snprintf(seg, sizeof seg, "%.*s", (int)(n < sizeof seg ? n : sizeof seg - 1), path);
        path += n + (path[n] == '.');
        if (json_is_array(j)) {
            char *end;
            long i = strtol(seg, &end, 10);
            j = *end || i < 0 ? NULL : json_array_get(j, (size_t)i);
        } else {
            j = json_object_get(j, seg);
        }
    }
    return j;
}

int json_path_number(const char *json_text, const char *path, double *out, gc_err *err) {
    json_error_t je;
    json_t *root = json_loads(json_text, 0, &je);
    if (!root) return gc_errf(err, "malformed JSON (line %d: %s)", je.line, je.text);
    const json_t *v = walk(root, path);
    int rc = 0;
    if (json_is_number(v)) {
        *out = json_number_value(v);
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        double sum = 0;
        for (size_t i = 0; i < json_array_size(v) && !rc; i++) {
            const json_t *x = json_array_get(v, i);
            if (!json_is_number(x)) rc = gc_errf(err, "'%s'[%zu] is not a number", path, i);
            else sum += json_number_value(x);
        }
        *out = sum;
    } else {
        rc = gc_errf(err, "no number at '%s' in the JSON", path);
    }
    json_decref(root);
    return rc;
}

static int http_get(http_meter *h, body *b, gc_err *err) {
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, b);
    char curl_msg[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, curl_msg);
    CURLcode rc = curl_easy_perform(h->curl);
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, NULL);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return gc_errf(err, "%s: timed out after %ld ms", h->url, h->timeout_ms);
    if (rc != CURLE_OK)
        return gc_errf(err, "%s: %s", h->url, b->too_big ? "reply larger than 256 KiB" : curl_msg[0] ? curl_msg : curl_easy_strerror(rc));
    long status = 0;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) return gc_errf(err, "%s: HTTP %ld", h->url, status);
    if (!b->data) return gc_errf(err, "%s: empty reply", h->url);
    return 0;
}

static int http_read(gc_meter *m, gc_meter_reading *r, gc_err *err) {
    http_meter *h = m->impl;
    body b = {0};
    int rc = http_get(h, &b, err);
    double w = 0;
    if (!rc) {
        gc_err jerr = {{0}};
        rc = json_path_number(b.data, h->path, &w, &jerr);
        if (rc) gc_errf(err, "%s: %s", h->url, jerr.msg);
    }
    free(b.data);
    if (rc) return rc;
    if (w < 0 || w > 1e6) return gc_errf(err, "%s: %g W is not a plausible reading", h->url, w);
    r->has_power = true;
    r->watts = w;
    return 0;
}

static void http_close(gc_meter *m) {
    http_meter *h = m->impl;
    curl_easy_cleanup(h->curl);
    free(h);
    free(m);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Splits "kind:URL[#path]" into the request URL, the JSON path and the meter's name. */
static int parse_spec(const char *spec, http_meter *h, char *name, size_t name_n, gc_err *err) {
    const char *colon = strchr(spec, ':');
    if (!colon) return gc_errf(err, "'%s': expected shelly:URL, tasmota:URL or http:URL#path", spec);
    const char *url = colon + 1;
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return gc_errf(err, "'%s': the URL must start with http:// or https://", spec);
    const char *host = strstr(url, "://") + 3;
    if (strchr(url, '@') && strchr(url, '@') < host + strcspn(host, "/"))
        return gc_errf(err, "'%s': put credentials in GENCOST_METER_USER and GENCOST_METER_PASSWORD, not in the URL", spec);
    size_t base = strlen(url);
    while (base > 0 && url[base - 1] == '/') base--;
    if (!strncmp(spec, "shelly:", 7)) {
        snprintf(h->url, sizeof h->url, "%.*s/rpc/Switch.GetStatus?id=0", (int)base, url);
        snprintf(h->path, sizeof h->path, "apower");
        snprintf(name, name_n, "shelly");
    } else if (!strncmp(spec, "tasmota:", 8)) {
        snprintf(h->url, sizeof h->url, "%.*s/cm?cmnd=Status%%208", (int)base, url);
        snprintf(h->path, sizeof h->path, "StatusSNS.ENERGY.Power");
        snprintf(name, name_n, "tasmota");
    } else if (!strncmp(spec, "http:", 5)) {
        const char *hash = strrchr(url, '#');
        if (!hash || !hash[1]) return gc_errf(err, "'%s': say where the watts are: http:URL#json.path", spec);
        snprintf(h->url, sizeof h->url, "%.*s", (int)(hash - url), url);
        snprintf(h->path, sizeof h->path, "%s", hash + 1);
        snprintf(name, name_n, "http-meter");
    } else {
        return gc_errf(err, "'%s': expected shelly:URL, tasmota:URL or http:URL#path", spec);
    }
    return 0;
}

int meter_http_open(const char *spec, double interval_s, double timeout_s, gc_meter **out, int *n,
                    int max, gc_err *err) {
    if (*n >= max) return gc_errf(err, "too many meters");
    pthread_once(&curl_once, curl_init);
    http_meter *h = calloc(1, sizeof *h);
    gc_meter *m = calloc(1, sizeof *m);
    if (!h || !m) {
        free(h);
        free(m);
        return gc_errf(err, "out of memory");
    }
    if (parse_spec(spec, h, m->name, sizeof m->name, err)) {
        free(h);
        free(m);
        return -1;
    }
    h->timeout_ms = (long)(timeout_s * 1000);
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        free(m);
        return gc_errf(err, "libcurl could not start");
    }
    curl_easy_setopt(h->curl, CURLOPT_URL, h->url);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);   /* threads: no SIGALRM for timeouts */
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
    const char *user = getenv("GENCOST_METER_USER"), *pass = getenv("GENCOST_METER_PASSWORD");
    if (user && *user) {
        curl_easy_setopt(h->curl, CURLOPT_USERNAME, user);
        if (pass) curl_easy_setopt(h->curl, CURLOPT_PASSWORD, pass);
        /* Over plain http only Digest, which never sends the password: a plug, or anything posing
         * as one, cannot ask for Basic and read it. Basic (and the rest) over https, or over http
         * when the user opts in with GENCOST_METER_PLAIN_AUTH=1. */
        const char *plain = getenv("GENCOST_METER_PLAIN_AUTH");
        bool tls = !strncmp(h->url, "https://", 8);
        curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH,
                         (long)(tls || (plain && !strcmp(plain, "1")) ? CURLAUTH_ANY : CURLAUTH_DIGEST));
    }
    m->wall = true;
    m->interval_s = interval_s;
    m->read = http_read;
    m->close = http_close;
    m->impl = h;
    char shown[256];
    energy_redact_urls(h->url, shown, sizeof shown);   /* a token in the query never reaches results */
    snprintf(m->note, sizeof m->note, "wall power polled every %g s from %.100s", interval_s, shown);
    gc_meter_reading r;
    if (http_read(m, &r, err)) {   /* a meter that cannot answer now is left out, said once */
        http_close(m);
        return -1;
    }
    out[(*n)++] = m;
    return 0;
}
