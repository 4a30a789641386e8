/* The endpoint workload's HTTP client (endpoint.h): libcurl multi, one easy handle per request
 * in flight, SSE parsed as it arrives so each chunk is timed when it lands. */
#include "bench/endpoint/endpoint.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (16u << 20)   /* a response larger than this is no completion we asked for */
#define MAX_ERROR_BODY 400     /* bytes of an error response quoted in the message */
#define MAX_LINE (1u << 20)

const char *const ep_kind_names[EP_N_KINDS] = {"ok", "http", "rate_limited", "timeout", "malformed", "connect",
                                               "not_started"};

typedef struct xfer {
    CURL *h;
    ep_result *r;
    const ep_target *t;
    const ep_job *job;
    const char *secret;
    bool active, waiting;     /* in the multi handle; waiting for a 429 retry */
    double start, not_before;
    char curl_err[CURL_ERROR_SIZE];
    /* the response */
    char *buf;                /* stream: the unfinished line; else the body */
    size_t len, cap;
    char *text;
    size_t tlen, tcap;
    bool done_marker, bad;
    char bad_msg[256];
    double retry_after;       /* seconds, from the header; -1 none */
} xfer;

static void set_error(ep_result *r, int kind, const char *secret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_error(ep_result *r, int kind, const char *secret, const char *fmt, ...) {
    char raw[sizeof r->error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    ep_redact(raw, secret);
    gc_esc(raw, r->error, sizeof r->error);
    r->kind = kind;
}

void ep_redact(char *s, const char *secret) {
    size_t k = secret ? strlen(secret) : 0;
    if (!k) return;
    for (char *p = strstr(s, secret); p; p = strstr(p + 3, secret)) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + k, strlen(p + k) + 1);
    }
}

static int grow(char **b, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 4096;
    while (nc < need) nc *= 2;
    char *p = realloc(*b, nc);
    if (!p) return -1;
    *b = p;
    *cap = nc;
    return 0;
}

static int append(char **b, size_t *len, size_t *cap, const char *s, size_t n) {
    if (grow(b, cap, *len + n + 1)) return -1;
    memcpy(*b + *len, s, n);
    *len += n;
    (*b)[*len] = 0;
    return 0;
}

static void bad(xfer *x, const char *fmt, const char *what) {
    if (x->bad) return;
    x->bad = true;
    char q[80];
    snprintf(x->bad_msg, sizeof x->bad_msg, fmt, gc_esc(what, q, sizeof q));
}

/* choices[0]'s text (completions) or delta/message content (chat); NULL when absent. */
static const char *choice_text(json_t *v) {
    json_t *c = json_array_get(json_object_get(v, "choices"), 0);
    json_t *t = json_object_get(c, "text");
    if (!t) t = json_object_get(json_object_get(c, "delta"), "content");
    if (!t) t = json_object_get(json_object_get(c, "message"), "content");
    return json_is_string(t) ? json_string_value(t) : NULL;
}

static void take_usage(ep_result *r, json_t *v) {
    json_t *u = json_object_get(v, "usage");
    json_t *p = json_object_get(u, "prompt_tokens"), *c = json_object_get(u, "completion_tokens");
    if (json_is_integer(p)) r->prompt_tokens = (int)json_integer_value(p);
    if (json_is_integer(c)) r->completion_tokens = (int)json_integer_value(c);
}

static void take_text(xfer *x, const char *s) {
    if (append(&x->text, &x->tlen, &x->tcap, s, strlen(s))) bad(x, "out of memory%s", "");
}

/* One SSE line (without its end of line). */
static void sse_line(xfer *x, const char *line) {
    if (!*line || *line == ':') return;   /* an event's end, a comment */
    if (strncmp(line, "data:", 5)) {
        if (!strncmp(line, "event:", 6) || !strncmp(line, "id:", 3) || !strncmp(line, "retry:", 6)) return;
        bad(x, "malformed stream: a line that is not a server-sent event: '%s'", line);
        return;
    }
    const char *d = line + 5 + (line[5] == ' ');
    if (x->done_marker) {
        bad(x, "malformed stream: data after [DONE]: '%s'", d);
        return;
    }
    if (!strcmp(d, "[DONE]")) {
        x->done_marker = true;
        return;
    }
    json_error_t je;
    json_t *v = json_loads(d, 0, &je);
    if (!json_is_object(v)) {
        bad(x, "malformed stream: an event that is not a JSON object: '%s'", d);
        json_decref(v);
        return;
    }
    json_t *e = json_object_get(v, "error");
    if (e) {
        json_t *m = json_object_get(e, "message");
        bad(x, "the server ended the stream with an error: %s", json_is_string(m) ? json_string_value(m) : "(no message)");
    }
    const char *t = choice_text(v);
    if (t && *t) {
        double now = gc_now() - x->start;
        if (x->r->chunks++ == 0) x->r->ttft_s = now;
        x->r->last_token_s = now;
        take_text(x, t);
    }
    take_usage(x->r, v);
    json_decref(v);
}

static long status_of(xfer *x) {
    long code = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
    xfer *x = ud;
    size_t n = size * nmemb;
    bool ok = status_of(x) == 200;
    if (!ok || !x->job->stream) {   /* kept whole: a completion, or an error body to quote */
        size_t keep = ok ? n : x->len < MAX_ERROR_BODY ? (n < MAX_ERROR_BODY - x->len ? n : MAX_ERROR_BODY - x->len) : 0;
        if (x->len + keep > MAX_BODY || append(&x->buf, &x->len, &x->cap, p, keep)) {
            bad(x, "malformed response: larger than 16 MiB%s", "");
            return 0;
        }
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n') {
            if (x->len >= MAX_LINE || append(&x->buf, &x->len, &x->cap, p + i, 1)) {
                bad(x, "malformed stream: a line longer than 1 MiB%s", "");
                return 0;
            }
            continue;
        }
        if (x->len && x->buf[x->len - 1] == '\r') x->buf[--x->len] = 0;
        sse_line(x, x->len ? x->buf : "");
        x->len = 0;
        if (x->bad) return 0;   /* ends the transfer: the message says why */
    }
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
    xfer *x = ud;
    size_t n = size * nmemb;
    if (n > 12 && !strncasecmp(p, "Retry-After:", 12)) {
        char v[32];
        size_t k = n - 12 < sizeof v - 1 ? n - 12 : sizeof v - 1;
        memcpy(v, p + 12, k);
        v[k] = 0;
        char *end;
        double s = strtod(v, &end);
        x->retry_after = end != v && s >= 0 ? s : 1;   /* an HTTP date: a second */
    }
    return n;
}

/* ---- requests -------------------------------------------------------------------------------- */

static char *request_body(const ep_target *t, const ep_job *j) {
    json_t *v = json_pack("{s:s,s:i,s:i,s:b}", "model", t->model, "max_tokens", j->max_tokens, "temperature", 0, "stream",
                          j->stream);
    if (!v) return NULL;
    if (t->chat)
        json_object_set_new(v, "messages", json_pack("[{s:s,s:s}]", "role", "user", "content", j->prompt));
    else
        json_object_set_new(v, "prompt", json_string(j->prompt));
    if (j->stream) json_object_set_new(v, "stream_options", json_pack("{s:b}", "include_usage", 1));
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return s;
}

static void url_of(const char *base, const char *path, char *buf, size_t n) {
    size_t k = strlen(base);
    while (k && base[k - 1] == '/') k--;
    snprintf(buf, n, "%.*s%s", (int)k, base, path);
}

static struct curl_slist *headers(const char *key, bool stream) {
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (h) h = curl_slist_append(h, stream ? "Accept: text/event-stream" : "Accept: application/json");
    if (h && key && *key) {
        size_t n = strlen(key) + 32;
        char *a = malloc(n);
        if (!a) {
            curl_slist_free_all(h);
            return NULL;
        }
        snprintf(a, n, "Authorization: Bearer %s", key);
        struct curl_slist *h2 = curl_slist_append(h, a);
        memset(a, 0, n);   /* the key lives only in the header list */
        free(a);
        if (!h2) curl_slist_free_all(h);
        h = h2;
    }
    return h;
}

static void common_opts(CURL *h, double timeout_s, char *errbuf) {
    long ms = (long)(timeout_s * 1000) > 0 ? (long)(timeout_s * 1000) : 1;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms < 10000 ? ms : 10000L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "gencost-endpoint");
}

static void reset_response(xfer *x) {
    x->len = x->tlen = 0;
    x->done_marker = x->bad = false;
    x->bad_msg[0] = 0;
    x->retry_after = -1;
    x->curl_err[0] = 0;
    ep_result *r = x->r;
    r->ttft_s = r->last_token_s = -1;
    r->chunks = 0;
    r->prompt_tokens = r->completion_tokens = -1;
}

static int start(CURLM *m, xfer *x) {
    reset_response(x);
    x->start = gc_now();
    x->active = true;
    x->waiting = false;
    return curl_multi_add_handle(m, x->h) == CURLM_OK ? 0 : -1;
}

/* The whole (non-streamed) body as a completion. */
static void parse_whole(xfer *x) {
    json_error_t je;
    json_t *v = json_loadb(x->buf ? x->buf : "", x->len, 0, &je);
    const char *t = json_is_object(v) ? choice_text(v) : NULL;
    if (!t) {
        char head[81];
        snprintf(head, sizeof head, "%.80s", x->buf ? x->buf : "");
        set_error(x->r, EP_MALFORMED, x->secret, "malformed response: not a completion object: '%s'", head);
    } else {
        take_text(x, t);
        take_usage(x->r, v);
    }
    json_decref(v);
}

/* A finished attempt: the result, or a retry scheduled (returns true then). */
static bool finish(xfer *x, CURLcode rc, double now) {
    ep_result *r = x->r;
    r->http_status = (int)status_of(x);
    r->e2e_s = now - x->start;
    r->kind = EP_OK;
    double left = x->job->timeout_s - (now - x->start);
    if (x->bad) {
        set_error(r, EP_MALFORMED, x->secret, "%s", x->bad_msg);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        set_error(r, EP_TIMEOUT, x->secret, "timed out after %.3g s (HTTP %d, %d text chunk(s) received)",
                  x->job->timeout_s, r->http_status, r->chunks);
    } else if (rc != CURLE_OK) {
        set_error(r, EP_CONNECT, x->secret, "%s%s%s", curl_easy_strerror(rc), x->curl_err[0] ? ": " : "", x->curl_err);
    } else if (r->http_status == 429) {
        double wait = x->retry_after >= 0 ? x->retry_after : 1;
        if (r->retries < x->job->max_retries && wait < x->job->timeout_s) {
            (void)left;
            r->retries++;
            x->waiting = true;
            x->not_before = now + wait;
            return true;
        }
        set_error(r, EP_RATE_LIMITED, x->secret, "HTTP 429 (rate limited) after %d retr%s: %.200s", r->retries,
                  r->retries == 1 ? "y" : "ies", x->buf ? x->buf : "");
    } else if (r->http_status != 200) {
        set_error(r, EP_HTTP, x->secret, "HTTP %d: %.300s", r->http_status, x->buf ? x->buf : "");
    } else if (x->job->stream && !x->done_marker) {
        set_error(r, EP_MALFORMED, x->secret, "malformed stream: it ended before data: [DONE] (%d text chunk(s))", r->chunks);
    } else if (!x->job->stream) {
        parse_whole(x);
    }
    free(r->text);
    r->text = x->text ? strdup(x->text) : strdup("");
    return false;
}

static int setup_xfer(xfer *x, const ep_target *t, const ep_job *j, ep_result *r, const char *body, const char *url,
                      struct curl_slist *hdrs) {
    memset(r, 0, sizeof *r);
    r->kind = EP_NOT_STARTED;
    snprintf(r->error, sizeof r->error, "not started: the level's time budget ran out");
    r->ttft_s = r->last_token_s = -1;
    r->prompt_tokens = r->completion_tokens = -1;
    *x = (xfer){.r = r, .t = t, .job = j, .secret = t->api_key};
    if (!(x->h = curl_easy_init())) return -1;
    common_opts(x->h, j->timeout_s, x->curl_err);
    curl_easy_setopt(x->h, CURLOPT_URL, url);
    curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
    return 0;
}

static void drain(CURLM *m, xfer *xs, int *active) {
    CURLMsg *msg;
    int q;
    while ((msg = curl_multi_info_read(m, &q))) {
        if (msg->msg != CURLMSG_DONE) continue;
        xfer *x;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = msg->data.result;
        curl_multi_remove_handle(m, x->h);
        x->active = false;
        (*active)--;
        finish(x, rc, gc_now());
    }
    (void)xs;
}

int ep_run(const ep_target *t, const ep_job *job, int n, int concurrency, double max_time_s, ep_result *out,
           gc_err *err) {
    char url[2048];
    url_of(t->base_url, t->chat ? "/chat/completions" : "/completions", url, sizeof url);
    char *body = request_body(t, job);
    struct curl_slist *hdrs = headers(t->api_key, job->stream);
    xfer *xs = calloc((size_t)n, sizeof *xs);
    CURLM *m = curl_multi_init();
    int rc = 0;
    if (!body || !hdrs || !xs || !m) rc = gc_errf(err, "endpoint: out of memory setting up %d requests", n);
    for (int i = 0; !rc && i < n; i++) {
        if (setup_xfer(&xs[i], t, job, &out[i], body, url, hdrs)) rc = gc_errf(err, "endpoint: libcurl set-up failed");
        else curl_easy_setopt(xs[i].h, CURLOPT_PRIVATE, (char *)&xs[i]);
    }
    double t0 = gc_now();
    int next = 0, active = 0;
    while (!rc) {
        double now = gc_now();
        bool waiting = false;
        for (int i = 0; i < next; i++) {   /* retries first: they were admitted before */
            if (!xs[i].waiting) continue;
            waiting = true;
            if (active < concurrency && now >= xs[i].not_before) {
                if (start(m, &xs[i])) rc = gc_errf(err, "endpoint: libcurl refused a request");
                active++;
            }
        }
        while (!rc && active < concurrency && next < n && now - t0 < max_time_s) {
            if (start(m, &xs[next++])) rc = gc_errf(err, "endpoint: libcurl refused a request");
            active++;
        }
        if (!active && !waiting && (next == n || now - t0 >= max_time_s)) break;
        int running;
        curl_multi_perform(m, &running);
        drain(m, xs, &active);
        curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    for (int i = 0; xs && i < n; i++) {
        if (xs[i].active) curl_multi_remove_handle(m, xs[i].h);
        if (xs[i].h) curl_easy_cleanup(xs[i].h);
        free(xs[i].buf);
        free(xs[i].text);
    }
    if (m) curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    free(body);
    free(xs);
    return rc;
}

void ep_result_free(ep_result *r) {
    free(r->text);
    r->text = NULL;
}

int ep_first_model(const char *base_url, const char *api_key, double timeout_s, char *buf, size_t n, gc_err *err) {
    char url[2048], errbuf[CURL_ERROR_SIZE] = "";
    url_of(base_url, "/models", url, sizeof url);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = headers(api_key, false);
    xfer x = {.h = h, .job = &(ep_job){.stream = false}, .secret = api_key};
    ep_result r = {0};
    x.r = &r;
    int rc = -1;
    if (!h || !hdrs) {
        gc_errf(err, "endpoint: libcurl set-up failed");
        goto out;
    }
    common_opts(h, timeout_s, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    char e2[sizeof r.error];
    if (cc != CURLE_OK) {
        set_error(&r, EP_CONNECT, api_key, "%s%s%s", curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf);
        snprintf(e2, sizeof e2, "%s", r.error);
        gc_errf(err, "GET %s: %s", GC_ESC(url), e2);
        goto out;
    }
    json_error_t je;
    json_t *v = code == 200 ? json_loadb(x.buf ? x.buf : "", x.len, 0, &je) : NULL;
    json_t *id = json_object_get(json_array_get(json_object_get(v, "data"), 0), "id");
    if (json_is_string(id)) {
        snprintf(buf, n, "%s", json_string_value(id));
        rc = 0;
    } else {
        set_error(&r, EP_HTTP, api_key, "HTTP %ld: %.200s", code, x.buf ? x.buf : "");
        snprintf(e2, sizeof e2, "%s", r.error);
        gc_errf(err, "GET %s: no model id in the answer (%s); give --model NAME", GC_ESC(url), e2);
    }
    json_decref(v);
out:
    free(x.buf);
    curl_slist_free_all(hdrs);
    if (h) curl_easy_cleanup(h);
    return rc;
}
