/* gencost serve and the endpoint workload, end to end on loopback: a real `gencost serve
 * --preset tiny` on a free port (started in the group set-up, stopped with SIGTERM in the
 * tear-down, which must end it with status 0), requests to it by hand (usage counted by the
 * word-per-token mapping, streamed and whole answers the same tokens, bad input answered 400,
 * 404, 405, 413), the endpoint workload against it at three concurrency levels, and the
 * workload against servers that misbehave: a fake one in a thread of this test that answers
 * with a malformed stream, one that stalls after its headers, one that always answers 429, and
 * a closed port. Every child runs under a deadline; structure is asserted, never timings. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/serve/serve.h"
#include "tests/helpers.h"

#define KEY "sk-gencost-test-7d1f0c9a"

static const char *bin;
static th_proc server;
static int port;
static char dir[64];

/* ---- the server under test --------------------------------------------------------------- */

static int group_setup(void **st) {
    bin = th_gencost_bin("build/gencost-test");
    snprintf(dir, sizeof dir, "/tmp/gc_endpoint_XXXXXX");
    if (!mkdtemp(dir)) return -1;
    char out[128];
    snprintf(out, sizeof out, "%s/serve.out", dir);
    const char *args[] = {"serve", "--preset", "tiny", "--port", "0", "--threads", "1", "--max-body", "65536", NULL};
    th_start(&server, bin, args, (th_io){.out = TH_FILE, .out_file = out, .err = TH_INHERIT});
    /* the first line names the port; a sanitized build loads the tiny preset in seconds */
    for (double t0 = gc_now(); gc_now() - t0 < 120;) {
        gc_err err;
        char *text = gc_read_file(out, NULL, &err);
        const char *p = text ? strstr(text, "http://127.0.0.1:") : NULL;
        if (p) port = atoi(p + strlen("http://127.0.0.1:"));
        free(text);
        if (port > 0) return 0;
        if (waitpid(server.pid, NULL, WNOHANG) == server.pid) return -1;
        usleep(50 * 1000);
    }
    kill(server.pid, SIGKILL);
    return -1;
}

static int group_teardown(void **st) {
    kill(server.pid, SIGTERM);
    th_finish(&server, 30);
    int status = server.status;
    th_free(&server);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) return -1;
    return status == 0 ? 0 : -1;   /* a clean shutdown on SIGTERM */
}

/* ---- HTTP by hand ------------------------------------------------------------------------- */

typedef struct reply {
    long status;
    char *body;
    size_t len;
} reply;

static size_t collect(char *p, size_t size, size_t n, void *ud) {
    reply *r = ud;
    char *b = realloc(r->body, r->len + size * n + 1);
    assert_non_null(b);
    memcpy(b + r->len, p, size * n);
    r->len += size * n;
    b[r->len] = 0;
    r->body = b;
    return size * n;
}

/* method GET when body is NULL, else POST of body (len bytes). */
static reply http(const char *path, const char *body, size_t len) {
    reply r = {0};
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    if (!r.body) r.body = calloc(1, 1);
    return r;
}

static reply post(const char *path, const char *body) { return http(path, body, strlen(body)); }

static json_t *json_of(const reply *r) {
    json_error_t je;
    json_t *v = json_loads(r->body, 0, &je);
    if (!v) fail_msg("not JSON (%s): %s", je.text, r->body);
    return v;
}

static int usage_of(json_t *v, const char *field) {
    return (int)json_integer_value(json_object_get(json_object_get(v, "usage"), field));
}

/* The concatenated texts of a stream's chunks, their count, the usage chunk's counts; asserts
 * every event is "data: " JSON and the stream ends with data: [DONE]. */
static char *stream_text(const char *body, int *chunks, int *prompt, int *completion, bool chat) {
    char *text = calloc(1, 1), *copy = strdup(body), *save = NULL;
    assert_non_null(copy);
    *chunks = *prompt = *completion = -1;
    int n = 0;
    const char *last = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        assert_true(!strncmp(line, "data: ", 6));
        last = line;
        if (!strcmp(line + 6, "[DONE]")) continue;
        json_error_t je;
        json_t *v = json_loads(line + 6, 0, &je);
        assert_non_null(v);
        json_t *c = json_array_get(json_object_get(v, "choices"), 0);
        json_t *t = chat ? json_object_get(json_object_get(c, "delta"), "content") : json_object_get(c, "text");
        if (json_is_string(t) && *json_string_value(t)) {
            size_t k = strlen(text), a = strlen(json_string_value(t));
            text = realloc(text, k + a + 1);
            memcpy(text + k, json_string_value(t), a + 1);
            n++;
        }
        if (json_object_get(v, "usage")) {
            *prompt = usage_of(v, "prompt_tokens");
            *completion = usage_of(v, "completion_tokens");
        }
        json_decref(v);
    }
    assert_non_null(last);
    assert_string_equal(last, "data: [DONE]");
    free(copy);
    *chunks = n;
    return text;
}

/* ---- the mapping ---------------------------------------------------------------------------- */

static void test_tokenize(void **st) {
    int32_t ids[8];
    /* FNV-1a-32 of the bytes mod 16384, computed by hand: alpha 11691, beta 9415, "#07" 16035 */
    assert_int_equal(gc_serve_tokenize("  alpha\tbeta\n#7 #07 #16384", 16384, ids, 8), 5);
    assert_int_equal(ids[0], 11691);
    assert_int_equal(ids[1], 9415);
    assert_int_equal(ids[2], 7);
    assert_int_equal(ids[3], 16035);
    assert_int_not_equal(ids[4], 16384 % 16384);   /* past the vocabulary: a word like any other */
    assert_int_equal(gc_serve_tokenize("a b c", 16384, ids, 2), -1);
    assert_int_equal(gc_serve_tokenize(" \n ", 16384, ids, 8), 0);
    char text[64] = "";
    gc_serve_token_text(42, text, sizeof text);
    gc_serve_token_text(0, text, sizeof text);
    assert_string_equal(text, " #42 #0");
    assert_int_equal(gc_serve_tokenize(text, 16384, ids, 8), 2);
    assert_int_equal(ids[0], 42);
    assert_int_equal(ids[1], 0);
}

/* ---- serve by hand -------------------------------------------------------------------------- */

static void test_usage_and_stream(void **st) {
    reply w = post("/v1/completions", "{\"prompt\":\"alpha beta  gamma\\n#7\",\"max_tokens\":5,\"temperature\":0}");
    assert_int_equal(w.status, 200);
    json_t *v = json_of(&w);
    assert_int_equal(usage_of(v, "prompt_tokens"), 4);
    assert_int_equal(usage_of(v, "completion_tokens"), 5);
    assert_int_equal(usage_of(v, "total_tokens"), 9);
    const char *whole = json_string_value(json_object_get(json_array_get(json_object_get(v, "choices"), 0), "text"));
    assert_non_null(whole);
    int32_t ids[16];
    assert_int_equal(gc_serve_tokenize(whole, 16384, ids, 16), 5);   /* five " #K" words */

    reply s = post("/v1/completions", "{\"prompt\":\"alpha beta  gamma\\n#7\",\"max_tokens\":5,\"stream\":true,"
                                      "\"stream_options\":{\"include_usage\":true}}");
    assert_int_equal(s.status, 200);
    int chunks, pt, ct;
    char *streamed = stream_text(s.body, &chunks, &pt, &ct, false);
    assert_string_equal(streamed, whole);   /* the same tokens, one chunk each */
    assert_int_equal(chunks, 5);
    assert_int_equal(pt, 4);
    assert_int_equal(ct, 5);
    free(streamed);

    /* the same prompt as ids gives the same greedy continuation */
    char body[160];
    snprintf(body, sizeof body, "{\"prompt\":[11691,9415,%d,7],\"max_tokens\":5}", (int)ids[0] >= 0 ? 0 : 0);
    int32_t g[1];
    assert_int_equal(gc_serve_tokenize("gamma", 16384, g, 1), 1);
    snprintf(body, sizeof body, "{\"prompt\":[11691,9415,%d,7],\"max_tokens\":5}", (int)g[0]);
    reply a = post("/v1/completions", body);
    json_t *av = json_of(&a);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(av, "choices"), 0), "text")), whole);
    assert_int_equal(usage_of(av, "prompt_tokens"), 4);
    json_decref(av);
    json_decref(v);
    free(w.body);
    free(s.body);
    free(a.body);
}

static void test_chat(void **st) {
    /* per message: the role as one word, then the content's words: 1 + 2 + 1 + 1 */
    const char *msgs = "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hello\"}]";
    char body[256];
    snprintf(body, sizeof body, "{%s,\"max_tokens\":3}", msgs);
    reply w = post("/v1/chat/completions", body);
    assert_int_equal(w.status, 200);
    json_t *v = json_of(&w);
    assert_int_equal(usage_of(v, "prompt_tokens"), 5);
    assert_int_equal(usage_of(v, "completion_tokens"), 3);
    json_t *msg = json_object_get(json_array_get(json_object_get(v, "choices"), 0), "message");
    assert_string_equal(json_string_value(json_object_get(msg, "role")), "assistant");
    const char *whole = json_string_value(json_object_get(msg, "content"));
    snprintf(body, sizeof body, "{%s,\"max_tokens\":3,\"stream\":true}", msgs);
    reply s = post("/v1/chat/completions", body);
    int chunks, pt, ct;
    char *streamed = stream_text(s.body, &chunks, &pt, &ct, true);
    assert_string_equal(streamed, whole);
    assert_int_equal(chunks, 3);
    assert_int_equal(pt, -1);   /* no usage chunk unless asked for */
    free(streamed);
    json_decref(v);
    free(w.body);
    free(s.body);
}

static void expect_error(reply r, long status, const char *words) {
    if (r.status != status) fail_msg("status %ld, expected %ld: %s", r.status, status, r.body);
    json_t *v = json_of(&r);
    const char *m = json_string_value(json_object_get(json_object_get(v, "error"), "message"));
    assert_non_null(m);
    if (!strstr(m, words)) fail_msg("'%s' does not say '%s'", m, words);
    json_decref(v);
    free(r.body);
}

static void test_bad_input(void **st) {
    expect_error(post("/v1/completions", "{\"prompt\": "), 400, "not JSON");
    expect_error(post("/v1/completions", "[1]"), 400, "JSON object");
    expect_error(post("/v1/completions", "{\"max_tokens\":3}"), 400, "'prompt' is required");
    expect_error(post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":0}"), 400, "max_tokens");
    expect_error(post("/v1/completions", "{\"prompt\":\"a b\",\"max_tokens\":1023}"), 400,
                 "the prompt (2 tokens) + max_tokens 1023 exceed the context of 1024");
    expect_error(post("/v1/completions", "{\"prompt\":[1,16384]}"), 400, "'prompt'[1] is not a token id from 0 to 16383");
    expect_error(post("/v1/completions", "{\"prompt\":\"  \"}"), 400, "empty");
    expect_error(post("/v1/completions", "{\"prompt\":\"a\",\"stream\":\"yes\"}"), 400, "'stream'");
    expect_error(post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\"}]}"), 400, "'messages'[0]");
    size_t big = 70000;   /* the server was started with --max-body 65536 */
    char *b = malloc(big);
    memset(b, 'a', big);
    expect_error(http("/v1/completions", b, big), 413, "over the limit of 65536 bytes");
    free(b);
    expect_error(http("/v1/completions", NULL, 0), 405, "POST");
    expect_error(http("/v1/embeddings", NULL, 0), 404, "no route");
    reply m = http("/v1/models", NULL, 0);
    assert_int_equal(m.status, 200);
    json_t *v = json_of(&m);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(v, "data"), 0), "id")), "gencost-tiny");
    json_decref(v);
    free(m.body);
}

/* ---- the endpoint workload ---------------------------------------------------------------- */

static json_t *case_at(json_t *res, int i) { return json_array_get(json_object_get(res, "cases"), (size_t)i); }
static double metric(json_t *c, const char *name) {
    json_t *v = json_object_get(json_object_get(c, "metrics"), name);
    if (!json_is_number(v)) fail_msg("metric %s missing", name);
    return json_number_value(v);
}

/* Runs the endpoint workload (extra: NULL-terminated options), the results file parsed. */
static json_t *run_endpoint(const char *url, const char *const *extra, th_proc *p, int expect_status) {
    char out[128];
    snprintf(out, sizeof out, "%s/ep.json", dir);
    const char *args[40] = {"run", "--workload", "endpoint", "--url", url, "--reps", "1", "--warmup", "0",
                            "--min-time", "0", "--out", out};
    int n = 13;
    for (int i = 0; extra[i]; i++) args[n++] = extra[i];
    args[n] = NULL;
    th_run(p, bin, args, (th_io){0}, 120);
    if (p->status != expect_status) fail_msg("status %d (expected %d)\nstdout: %s\nstderr: %s", p->status, expect_status, p->out, p->err);
    json_error_t je;
    json_t *res = json_load_file(out, 0, &je);
    assert_non_null(res);
    return res;
}

static void test_workload_against_serve(void **st) {
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", port);
    setenv("GC_TEST_ENDPOINT_KEY", KEY, 1);
    const char *extra[] = {"--concurrency", "1,2,4", "--prompt", "12", "--gen", "5", "--api-key-env", "GC_TEST_ENDPOINT_KEY", NULL};
    th_proc p;
    json_t *res = run_endpoint(url, extra, &p, 0);
    const char *phases[] = {"c1", "c2", "c4"};
    assert_int_equal(json_array_size(json_object_get(res, "cases")), 3);
    for (int i = 0; i < 3; i++) {
        json_t *c = case_at(res, i);
        assert_string_equal(json_string_value(json_object_get(c, "phase")), phases[i]);
        assert_string_equal(json_string_value(json_object_get(c, "status")), "ok");
        assert_string_equal(json_string_value(json_object_get(c, "device")), "gencost-tiny");
        assert_string_equal(json_string_value(json_object_get(c, "unit")), "generation");
        json_t *vv = json_object_get(json_object_get(c, "verify"), "values");
        assert_int_equal(json_number_value(json_object_get(vv, "prompt_tokens_streamed")), 12);
        assert_int_equal(json_number_value(json_object_get(vv, "completion_tokens_whole")), 5);
        assert_int_equal(json_number_value(json_object_get(vv, "stream_chunks")), 5);
        assert_int_equal(json_number_value(json_object_get(vv, "same_text")), 1);
        int level = 1 << i;
        assert_int_equal(metric(c, "concurrency"), level);
        assert_int_equal(metric(c, "requests"), 2 * level);   /* one repetition of twice the level */
        assert_int_equal(metric(c, "prompt_tokens"), 12);
        assert_int_equal(metric(c, "gen_tokens"), 5);
        assert_int_equal(metric(c, "rate_limited_retries"), 0);
        assert_true(metric(c, "ttft_s_median") > 0);
        assert_true(metric(c, "ttft_s_median") <= metric(c, "e2e_s_median"));
        assert_true(metric(c, "ttft_s_median") <= metric(c, "ttft_s_p90"));
        assert_true(metric(c, "ttft_s_p90") <= metric(c, "ttft_s_p99"));
        assert_true(metric(c, "e2e_s_p90") <= metric(c, "e2e_s_p99"));
        assert_true(metric(c, "itl_s_median") > 0);
        assert_true(metric(c, "itl_s_median") * 4 <= metric(c, "e2e_s_p99"));   /* 4 gaps inside the slowest */
        assert_true(metric(c, "aggregate_tokens_per_s") > 0);
        assert_true(metric(c, "request_tokens_per_s_median") > 0);
    }
    /* the key: in no file, no output */
    char path[128];
    snprintf(path, sizeof path, "%s/ep.json", dir);
    gc_err err;
    char *file = gc_read_file(path, NULL, &err);
    assert_non_null(file);
    assert_null(strstr(file, KEY));
    assert_null(strstr(p.out, KEY));
    assert_null(strstr(p.err, KEY));
    assert_non_null(strstr(file, "GC_TEST_ENDPOINT_KEY"));   /* its name is recorded, not its value */
    free(file);
    json_decref(res);
    th_free(&p);
    unsetenv("GC_TEST_ENDPOINT_KEY");
}

static void test_workload_needs_its_key(void **st) {
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", port);
    unsetenv("GC_TEST_NO_SUCH_KEY");
    const char *args[] = {"run", "--workload", "endpoint", "--url", url, "--api-key-env", "GC_TEST_NO_SUCH_KEY", "--dry-run", NULL};
    th_proc p;
    assert_int_equal(th_run(&p, bin, args, (th_io){0}, 60), 2);
    assert_non_null(strstr(p.err, "the environment variable GC_TEST_NO_SUCH_KEY is not set"));
    th_free(&p);
    const char *args2[] = {"run", "--workload", "endpoint", "--dry-run", NULL};
    assert_int_equal(th_run(&p, bin, args2, (th_io){0}, 60), 2);
    assert_non_null(strstr(p.err, "--url BASE_URL is required"));
    th_free(&p);
}

/* ---- servers that misbehave --------------------------------------------------------------- */

enum fake_mode { FAKE_MALFORMED, FAKE_STALL, FAKE_429 };

typedef struct fake {
    int fd, port, mode;
    atomic_int stop;
    bool running;
    int held[64], n_held;
    pthread_t th;
} fake;

/* One fake at a time, outside any test's stack: a failed assertion leaves its test at once, and
 * the fake's thread must still find its state until the tear-down stops it. */
static fake fk;

static int listen_any(int *port_out) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port_out = ntohs(a.sin_port);
    return fd;
}

/* Reads the request's headers and its declared body, at most a few seconds. */
static void read_request(int c) {
    char buf[8192];
    size_t n = 0;
    long body = -1;
    for (double t0 = gc_now(); gc_now() - t0 < 5 && n < sizeof buf - 1;) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t k = read(c, buf + n, sizeof buf - 1 - n);
        if (k <= 0) return;
        n += (size_t)k;
        buf[n] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        if (body < 0) {
            char *cl = strcasestr(buf, "Content-Length:");
            body = cl ? atol(cl + 15) : 0;
        }
        if ((long)(n - (size_t)(end + 4 - buf)) >= body) return;
    }
}

static void answer(fake *f, int c) {
    static const char malformed[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                                    "data: {\"choices\":[{\"text\":\" #1\"}]}\n\ndata: {not json\n\n";
    static const char stall[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
    static const char limited[] = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 39\r\nConnection: close\r\n\r\n{\"error\":{\"message\":\"slow down please\"}}";
    const char *r = f->mode == FAKE_MALFORMED ? malformed : f->mode == FAKE_STALL ? stall : limited;
    read_request(c);
    if (write(c, r, strlen(r)) < 0) { /* the client went away: nothing to do */ }
    if (f->mode == FAKE_STALL && f->n_held < 64) f->held[f->n_held++] = c;   /* never another byte */
    else close(c);
}

static void *fake_main(void *arg) {
    fake *f = arg;
    while (!f->stop) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        int c = accept(f->fd, NULL, NULL);
        if (c >= 0) answer(f, c);
    }
    return NULL;
}

static void fake_start(fake *f, int mode) {
    memset(f, 0, sizeof *f);
    f->running = true;
    f->mode = mode;
    f->fd = listen_any(&f->port);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(fake *f) {
    if (!f->running) return;
    f->running = false;
    f->stop = 1;
    pthread_join(f->th, NULL);
    for (int i = 0; i < f->n_held; i++) close(f->held[i]);
    close(f->fd);
}

static int fake_teardown(void **st) {
    fake_stop(&fk);
    return 0;
}

/* The case ends as an error whose message says `words`, in the one phase c1. */
static void expect_case_error(int fake_port, const char *const *extra, const char *words) {
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", fake_port);
    th_proc p;
    json_t *res = run_endpoint(url, extra, &p, 1);
    json_t *c = case_at(res, 0);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "status")), "error");
    const char *e = json_string_value(json_object_get(c, "error"));
    if (!e || !strstr(e, words)) fail_msg("error '%s' does not say '%s'", e ? e : "(none)", words);
    json_decref(res);
    th_free(&p);
}

static void test_malformed_stream(void **st) {
    fake_start(&fk, FAKE_MALFORMED);
    const char *extra[] = {"--model", "fake", "--concurrency", "1", "--timeout", "10", NULL};
    expect_case_error(fk.port, extra, "malformed stream: an event that is not a JSON object: '{not json'");
    fake_stop(&fk);
}

static void test_stalling_server(void **st) {
    fake_start(&fk, FAKE_STALL);
    const char *extra[] = {"--model", "fake", "--concurrency", "1", "--timeout", "1.5", NULL};
    expect_case_error(fk.port, extra, "timed out after 1.5 s");
    fake_stop(&fk);
}

static void test_rate_limited(void **st) {
    fake_start(&fk, FAKE_429);
    const char *extra[] = {"--model", "fake", "--concurrency", "1", "--retries", "2", "--timeout", "10", NULL};
    expect_case_error(fk.port, extra, "HTTP 429 (rate limited) after 2 retries");
    fake_stop(&fk);
}

static void test_unreachable(void **st) {
    int closed;
    close(listen_any(&closed));   /* a port nobody listens on */
    const char *extra[] = {"--model", "fake", "--concurrency", "1", "--timeout", "5", NULL};
    expect_case_error(closed, extra, "connect");
    /* without --model the set-up asks /v1/models first, and says so */
    const char *extra2[] = {"--concurrency", "1", "--timeout", "5", NULL};
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", closed);
    th_proc p;
    json_t *res = run_endpoint(url, extra2, &p, 1);
    const char *e = json_string_value(json_object_get(case_at(res, 0), "error"));
    assert_non_null(e);
    assert_non_null(strstr(e, "/v1/models"));
    json_decref(res);
    th_free(&p);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize),
        cmocka_unit_test(test_usage_and_stream),
        cmocka_unit_test(test_chat),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_workload_against_serve),
        cmocka_unit_test(test_workload_needs_its_key),
        cmocka_unit_test_teardown(test_malformed_stream, fake_teardown),
        cmocka_unit_test_teardown(test_stalling_server, fake_teardown),
        cmocka_unit_test_teardown(test_rate_limited, fake_teardown),
        cmocka_unit_test(test_unreachable),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return rc;
}
