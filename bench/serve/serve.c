/* gencost serve's HTTP side (serve.h): libmicrohttpd with a thread per connection, so a
 * handler may block while its generation runs; one worker thread owns the model and takes
 * generations from a bounded FIFO. Every field of a job is guarded by the server's mutex. */
#include "bench/serve/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

enum { ST_HEAD, ST_TOKENS, ST_FINAL, ST_USAGE, ST_DONE_MARK, ST_END };

typedef struct job {
    struct gc_server *srv;
    int refs;                 /* the queue/worker and the connection */
    struct job *next;
    int32_t *prompt, *out;
    int n_prompt, max_tokens, n_out;
    bool done, cancelled;
    int status;               /* when done with an error: the HTTP status it answers */
    char error[512];          /* "" unless it failed */
    double deadline;          /* gc_now() seconds */
    pthread_cond_t cond;      /* a token, or done */
    /* the response */
    bool chat, stream, include_usage;
    char id[48];
    long created;
    /* streaming state, touched only by the connection's thread */
    int stage, sent;
    char *pend;
    size_t pend_len, pend_off;
} job;

struct gc_server {
    gc_serve_opts o;
    char model_id[128];
    llm_model *m;
    float *logits;
    struct MHD_Daemon *d;
    int port;
    pthread_t worker;
    bool worker_started;
    pthread_mutex_t mu;
    pthread_cond_t work;
    job *head, *tail;
    int n_jobs;               /* waiting or running */
    bool stopping;
    unsigned long seq;
};

typedef struct conn_req {
    char *body;
    size_t len;
    bool too_big;
} conn_req;

void gc_serve_opts_defaults(gc_serve_opts *o) {
    *o = (gc_serve_opts){.host = "127.0.0.1",
                         .port = 8080,
                         .model_id = "gencost",
                         .max_body = 1 << 20,
                         .max_queue = 32,
                         .max_connections = 64,
                         .idle_timeout_s = 60,
                         .request_timeout_s = 300,
                         .default_max_tokens = 16};
}

/* ---- jobs ------------------------------------------------------------------------------------ */

static void job_unref_locked(job *j) {
    if (--j->refs > 0) return;
    pthread_cond_destroy(&j->cond);
    free(j->prompt);
    free(j->out);
    free(j->pend);
    free(j);
}

static void job_fail_locked(job *j, int status, const char *msg) {
    if (!j->error[0]) {
        j->status = status;
        snprintf(j->error, sizeof j->error, "%s", msg);
    }
}

/* Between two tokens: whether the job should stop (and why, recorded). */
static bool job_should_stop_locked(gc_server *s, job *j) {
    if (s->stopping) job_fail_locked(j, 503, "the server is stopping");
    else if (j->cancelled) job_fail_locked(j, 499, "the client went away");
    else if (gc_now() > j->deadline) job_fail_locked(j, 504, "the generation ran past the request timeout");
    return j->error[0] != 0;
}

/* Prefill, then greedy decoding of max_tokens, handing each token over as it comes. */
static void generate(gc_server *s, job *j) {
    llm_model *m = s->m;
    gc_err e;
    pthread_mutex_lock(&s->mu);
    bool stop = job_should_stop_locked(s, j);
    pthread_mutex_unlock(&s->mu);
    if (stop) return;
    int rc = llm_prefill(m, j->prompt, j->n_prompt, 0, s->logits, &e);
    for (int i = 0; !rc && i < j->max_tokens; i++) {
        int32_t tok = llm_argmax(s->logits, m->c.vocab);
        pthread_mutex_lock(&s->mu);
        stop = job_should_stop_locked(s, j);
        if (!stop) {
            j->out[j->n_out++] = tok;
            pthread_cond_broadcast(&j->cond);
        }
        pthread_mutex_unlock(&s->mu);
        if (stop) return;
        if (i + 1 < j->max_tokens) rc = llm_forward(m, &tok, 1, j->n_prompt + i, LLM_LOGITS_LAST, s->logits, &e);
    }
    if (rc) {
        pthread_mutex_lock(&s->mu);
        job_fail_locked(j, 500, e.msg);
        pthread_mutex_unlock(&s->mu);
    }
}

static void finish_job_locked(gc_server *s, job *j) {
    j->done = true;
    s->n_jobs--;
    pthread_cond_broadcast(&j->cond);
    job_unref_locked(j);
}

static void *worker_main(void *arg) {
    gc_server *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stopping && !s->head) pthread_cond_wait(&s->work, &s->mu);
        if (s->stopping) break;
        job *j = s->head;
        s->head = j->next;
        if (!s->head) s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        generate(s, j);
        pthread_mutex_lock(&s->mu);
        finish_job_locked(s, j);
    }
    while (s->head) {   /* stopping: what still waits is answered 503 */
        job *j = s->head;
        s->head = j->next;
        job_fail_locked(j, 503, "the server is stopping");
        finish_job_locked(s, j);
    }
    s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Queues j (refs 2: queue and caller). 0, or the HTTP status refusing it (503). */
static int enqueue(gc_server *s, job *j) {
    pthread_mutex_lock(&s->mu);
    int rc = s->stopping ? 503 : s->n_jobs >= s->o.max_queue ? 503 : 0;
    if (!rc) {
        j->refs = 2;
        s->n_jobs++;
        if (s->tail) s->tail->next = j;
        else s->head = j;
        s->tail = j;
        snprintf(j->id, sizeof j->id, "%s-%lu", j->chat ? "chatcmpl" : "cmpl", ++s->seq);
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- responses ------------------------------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, char *text, const char *type,
                                 bool retry_after) {
    if (!text) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (retry_after) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *v, bool retry_after) {
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return send_text(c, status, text, "application/json", retry_after);
}

static json_t *error_json(const char *type, const char *msg) {
    return json_pack("{s:{s:s,s:s}}", "error", "message", msg, "type", type);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *type = status == 400 || status == 413 ? "invalid_request_error" : status == 404 ? "not_found_error"
                       : status == 503                ? "overloaded_error"
                                                      : "server_error";
    return send_json(c, status, error_json(type, msg), status == 503);
}

static json_t *usage_json(const job *j) {
    return json_pack("{s:i,s:i,s:i}", "prompt_tokens", j->n_prompt, "completion_tokens", j->n_out, "total_tokens",
                     j->n_prompt + j->n_out);
}

/* The text of tokens [from, to) of the job's output. */
static char *tokens_text(const job *j, int from, int to) {
    size_t n = (size_t)(to - from) * 14 + 1;
    char *t = malloc(n);
    if (!t) return NULL;
    t[0] = 0;
    for (int i = from; i < to; i++) gc_serve_token_text(j->out[i], t, n);
    return t;
}

static json_t *response_head(const job *j, const char *object) {
    return json_pack("{s:s,s:s,s:I,s:s}", "id", j->id, "object", object, "created", (json_int_t)j->created, "model",
                     j->srv->model_id);
}

static enum MHD_Result send_whole(struct MHD_Connection *c, const job *j) {
    char *text = tokens_text(j, 0, j->n_out);
    if (!text) return send_error(c, 500, "out of memory");
    json_t *choice = j->chat ? json_pack("{s:i,s:{s:s,s:s},s:s}", "index", 0, "message", "role", "assistant", "content",
                                         text, "finish_reason", "length")
                             : json_pack("{s:i,s:s,s:n,s:s}", "index", 0, "text", text, "logprobs", "finish_reason", "length");
    free(text);
    json_t *v = response_head(j, j->chat ? "chat.completion" : "text_completion");
    if (!v || !choice) {
        json_decref(v);
        json_decref(choice);
        return send_error(c, 500, "out of memory");
    }
    json_object_set_new(v, "choices", json_pack("[o]", choice));
    json_object_set_new(v, "usage", usage_json(j));
    return send_json(c, 200, v, false);
}

/* ---- streaming ------------------------------------------------------------------------------- */

/* One SSE event "data: <json>\n\n" as the pending bytes (v is consumed). */
static int set_pending(job *j, json_t *v) {
    char *t = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!t) return -1;
    size_t n = strlen(t) + 9;
    free(j->pend);
    j->pend = malloc(n);
    if (!j->pend) {
        free(t);
        return -1;
    }
    j->pend_len = (size_t)snprintf(j->pend, n, "data: %s\n\n", t);
    j->pend_off = 0;
    free(t);
    return 0;
}

static json_t *chunk(const job *j, json_t *choice) {
    json_t *v = response_head(j, j->chat ? "chat.completion.chunk" : "text_completion");
    if (v) json_object_set_new(v, "choices", choice ? json_pack("[o]", choice) : json_array());
    else json_decref(choice);
    return v;
}

static json_t *token_choice(const job *j, const char *text, const char *finish) {
    json_t *fin = finish ? json_string(finish) : json_null();
    if (j->chat) return json_pack("{s:i,s:{s:s},s:o}", "index", 0, "delta", "content", text, "finish_reason", fin);
    return json_pack("{s:i,s:s,s:n,s:o}", "index", 0, "text", text, "logprobs", "finish_reason", fin);
}

/* Waits (bounded) for the next token or the end; fills the pending event. 1: the stream is
 * over; -1: end it with an error (stopping, out of memory). */
static int next_event(job *j) {
    gc_server *s = j->srv;
    switch (j->stage) {
    case ST_HEAD:
        j->stage = ST_TOKENS;
        if (j->chat) return set_pending(j, chunk(j, json_pack("{s:i,s:{s:s},s:n}", "index", 0, "delta", "role",
                                                              "assistant", "finish_reason")));
        return next_event(j);
    case ST_TOKENS: {
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && j->sent == j->n_out && !j->done) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&j->cond, &s->mu, &ts);
            if (!j->done && gc_now() > j->deadline + 5) job_fail_locked(j, 504, "the generation ran past the request timeout");
            if (j->error[0] && !j->done) j->cancelled = true;
            if (j->error[0]) break;
        }
        bool stopping = s->stopping, have = j->sent < j->n_out;
        int32_t tok = have ? j->out[j->sent++] : 0;
        char err[sizeof j->error];
        snprintf(err, sizeof err, "%s", j->error);
        pthread_mutex_unlock(&s->mu);
        if (stopping) return -1;
        if (have) {
            char text[16] = "";
            gc_serve_token_text(tok, text, sizeof text);
            return set_pending(j, chunk(j, token_choice(j, text, NULL)));
        }
        if (err[0]) {   /* an error event ends the stream (no [DONE]) */
            j->stage = ST_END;
            return set_pending(j, error_json("server_error", err));
        }
        j->stage = ST_FINAL;
        return next_event(j);
    }
    case ST_FINAL:
        j->stage = j->include_usage ? ST_USAGE : ST_DONE_MARK;
        return set_pending(j, chunk(j, token_choice(j, "", "length")));
    case ST_USAGE: {
        j->stage = ST_DONE_MARK;
        json_t *v = chunk(j, NULL);
        if (v) json_object_set_new(v, "usage", usage_json(j));
        return set_pending(j, v);
    }
    case ST_DONE_MARK:
        j->stage = ST_END;
        free(j->pend);
        j->pend = strdup("data: [DONE]\n\n");
        j->pend_len = j->pend ? strlen(j->pend) : 0;
        j->pend_off = 0;
        return j->pend ? 0 : -1;
    default:
        return 1;
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    job *j = cls;
    while (j->pend_off >= j->pend_len) {
        int rc = next_event(j);
        if (rc > 0) return MHD_CONTENT_READER_END_OF_STREAM;
        if (rc < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = j->pend_len - j->pend_off < max ? j->pend_len - j->pend_off : max;
    memcpy(buf, j->pend + j->pend_off, n);
    j->pend_off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    job *j = cls;
    gc_server *s = j->srv;
    pthread_mutex_lock(&s->mu);
    j->cancelled = true;
    job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
}

static enum MHD_Result send_stream(struct MHD_Connection *c, job *j) {
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, j, stream_free);
    if (!r) {
        stream_free(j);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

/* Blocks until the job is done (the worker bounds it by the request timeout). */
static enum MHD_Result answer_whole(struct MHD_Connection *c, gc_server *s, job *j) {
    pthread_mutex_lock(&s->mu);
    while (!j->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&j->cond, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    enum MHD_Result rc = j->error[0] ? send_error(c, (unsigned)(j->status == 499 ? 500 : j->status), "%s", j->error)
                                     : send_whole(c, j);
    pthread_mutex_lock(&s->mu);
    job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- requests -------------------------------------------------------------------------------- */

typedef struct gen_req {
    bool chat, stream, include_usage;
    int max_tokens;
    int32_t *ids;
    int n;
} gen_req;

/* Appends text's tokens to r->ids (capacity cap). Non-zero + msg when over the context. */
static int add_text(gen_req *r, int vocab, int cap, const char *text, char *msg, size_t n) {
    int k = gc_serve_tokenize(text, vocab, r->ids + r->n, cap - r->n);
    if (k < 0) return snprintf(msg, n, "the prompt has more tokens than the context of %d", cap), -1;
    r->n += k;
    return 0;
}

static int parse_prompt(gen_req *r, json_t *p, int vocab, int cap, char *msg, size_t n) {
    if (json_is_string(p)) return add_text(r, vocab, cap, json_string_value(p), msg, n);
    if (!json_is_array(p)) return snprintf(msg, n, "'prompt' must be a string or an array of token ids"), -1;
    if (json_array_size(p) > (size_t)cap)
        return snprintf(msg, n, "the prompt has more tokens than the context of %d", cap), -1;
    size_t i;
    json_t *v;
    json_array_foreach(p, i, v) {
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || id >= vocab)
            return snprintf(msg, n, "'prompt'[%zu] is not a token id from 0 to %d", i, vocab - 1), -1;
        r->ids[r->n++] = (int32_t)id;
    }
    return 0;
}

static int parse_messages(gen_req *r, json_t *ms, int vocab, int cap, char *msg, size_t n) {
    if (!json_is_array(ms) || !json_array_size(ms)) return snprintf(msg, n, "'messages' must be a non-empty array"), -1;
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m) {
        json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_string(role) || !json_is_string(content))
            return snprintf(msg, n, "'messages'[%zu] needs a string 'role' and a string 'content'", i), -1;
        char word[80];
        snprintf(word, sizeof word, "%.70s:", json_string_value(role));
        if (strpbrk(word, " \t\r\n")) return snprintf(msg, n, "'messages'[%zu].role has white space", i), -1;
        if (add_text(r, vocab, cap, word, msg, n) || add_text(r, vocab, cap, json_string_value(content), msg, n)) return -1;
    }
    return 0;
}

static int parse_options(gen_req *r, json_t *b, const gc_serve_opts *o, char *msg, size_t n) {
    json_t *mt = json_object_get(b, "max_tokens"), *st = json_object_get(b, "stream");
    json_t *so = json_object_get(b, "stream_options");
    r->max_tokens = o->default_max_tokens;
    if (mt && !json_is_null(mt)) {
        if (!json_is_integer(mt) || json_integer_value(mt) < 1 || json_integer_value(mt) > 1 << 24)
            return snprintf(msg, n, "'max_tokens' must be a whole number of at least 1"), -1;
        r->max_tokens = (int)json_integer_value(mt);
    }
    if (st && !json_is_null(st) && !json_is_boolean(st)) return snprintf(msg, n, "'stream' must be true or false"), -1;
    r->stream = json_is_true(st);
    json_t *iu = so ? json_object_get(so, "include_usage") : NULL;
    if (iu && !json_is_boolean(iu)) return snprintf(msg, n, "'stream_options.include_usage' must be true or false"), -1;
    r->include_usage = json_is_true(iu);
    json_t *t = json_object_get(b, "temperature");
    if (t && !json_is_null(t) && !json_is_number(t)) return snprintf(msg, n, "'temperature' must be a number"), -1;
    return 0;
}

/* The body as a generation: 0, or 400 with msg. */
static int parse_generation(gc_server *s, const conn_req *cr, gen_req *r, char *msg, size_t n) {
    json_error_t je;
    json_t *b = json_loadb(cr->body ? cr->body : "", cr->len, 0, &je);
    if (!b) return snprintf(msg, n, "the body is not JSON: %s (line %d)", je.text, je.line), -1;
    int ctx = s->m->s.ctx, vocab = s->m->c.vocab, rc = -1;
    if (!json_is_object(b)) snprintf(msg, n, "the body must be a JSON object");
    else if (!(r->ids = malloc((size_t)ctx * sizeof *r->ids))) snprintf(msg, n, "out of memory");
    else if (parse_options(r, b, &s->o, msg, n)) {}
    else if (r->chat ? parse_messages(r, json_object_get(b, "messages"), vocab, ctx, msg, n)
             : !json_object_get(b, "prompt") ? snprintf(msg, n, "'prompt' is required"), -1
             : parse_prompt(r, json_object_get(b, "prompt"), vocab, ctx, msg, n)) {}
    else if (r->n == 0) snprintf(msg, n, "the prompt is empty (no tokens)");
    else if ((long)r->n + r->max_tokens > ctx)
        snprintf(msg, n, "the prompt (%d tokens) + max_tokens %d exceed the context of %d", r->n, r->max_tokens, ctx);
    else rc = 0;
    json_decref(b);
    return rc;
}

static job *job_new(gc_server *s, gen_req *r) {
    job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->srv = s;
    j->prompt = r->ids;
    r->ids = NULL;
    j->n_prompt = r->n;
    j->max_tokens = r->max_tokens;
    j->out = malloc((size_t)r->max_tokens * sizeof *j->out);
    j->chat = r->chat;
    j->stream = r->stream;
    j->include_usage = r->include_usage;
    j->created = (long)time(NULL);
    j->deadline = gc_now() + s->o.request_timeout_s;
    j->refs = 1;
    pthread_cond_init(&j->cond, NULL);
    if (!j->out) {
        job_unref_locked(j);
        return NULL;
    }
    return j;
}

static enum MHD_Result handle_generation(struct MHD_Connection *c, gc_server *s, const conn_req *cr, bool chat) {
    gen_req r = {.chat = chat};
    char msg[256];
    if (parse_generation(s, cr, &r, msg, sizeof msg)) {
        free(r.ids);
        return send_error(c, 400, "%s", msg);
    }
    job *j = job_new(s, &r);
    free(r.ids);
    if (!j) return send_error(c, 500, "out of memory");
    if (enqueue(s, j)) {
        job_unref_locked(j);   /* never shared: no lock needed */
        return send_error(c, 503, "the server is busy (%d generations waiting or running) or stopping; retry later",
                          s->o.max_queue);
    }
    return j->stream ? send_stream(c, j) : answer_whole(c, s, j);
}

static enum MHD_Result handle_models(struct MHD_Connection *c, gc_server *s) {
    return send_json(c, 200,
                     json_pack("{s:s,s:[{s:s,s:s,s:I,s:s}]}", "object", "list", "data", "id", s->model_id, "object",
                               "model", "created", (json_int_t)0, "owned_by", "gencost"),
                     false);
}

static enum MHD_Result route(struct MHD_Connection *c, gc_server *s, const char *url, const char *method,
                             const conn_req *cr) {
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/v1/models") || !strcmp(url, "/health")) {
        if (!get) return send_error(c, 405, "%s takes GET", url);
        if (!strcmp(url, "/health")) return send_json(c, 200, json_pack("{s:s}", "status", "ok"), false);
        return handle_models(c, s);
    }
    bool comp = !strcmp(url, "/v1/completions"), chat = !strcmp(url, "/v1/chat/completions");
    if (!comp && !chat) return send_error(c, 404, "no route %s (routes: /v1/completions, /v1/chat/completions, /v1/models)", url);
    if (!post) return send_error(c, 405, "%s takes POST", url);
    return handle_generation(c, s, cr, chat);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    gc_server *s = cls;
    conn_req *cr = *con_cls;
    if (!cr) {   /* headers only: a declared body over the limit is refused before it is read */
        if (!(cr = calloc(1, sizeof *cr))) return MHD_NO;
        *con_cls = cr;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        long len;
        if (cl && !gc_parse_int(cl, 0, 1L << 62, &len) && (size_t)len > s->o.max_body) cr->too_big = true;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cr->too_big && cr->len + *upload_size > s->o.max_body) {
            cr->too_big = true;
            free(cr->body);
            cr->body = NULL;
        }
        if (!cr->too_big) {
            char *b = realloc(cr->body, cr->len + *upload_size + 1);
            if (!b) return MHD_NO;
            memcpy(b + cr->len, upload, *upload_size);
            cr->len += *upload_size;
            b[cr->len] = 0;
            cr->body = b;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cr->too_big) return send_error(c, 413, "the request body is over the limit of %zu bytes", s->o.max_body);
    return route(c, s, url, method, cr);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    conn_req *cr = *con_cls;
    if (cr) free(cr->body);
    free(cr);
    *con_cls = NULL;
}

/* ---- life ------------------------------------------------------------------------------------ */

static int bind_address(const char *host, int port, struct sockaddr_storage *ss, bool *v6, gc_err *err) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    *v6 = false;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return 0;
    }
    return gc_errf(err, "--host: '%s' is not an IPv4 or IPv6 address", host);
}

int gc_serve_start(gc_server **out, llm_model *m, const gc_serve_opts *o, gc_err *err) {
    *out = NULL;
    struct sockaddr_storage ss;
    bool v6;
    if (bind_address(o->host, o->port, &ss, &v6, err)) return -1;
    gc_server *s = calloc(1, sizeof *s);
    if (!s || !(s->logits = malloc((size_t)m->c.vocab * sizeof *s->logits))) {
        free(s);
        return gc_errf(err, "serve: out of memory");
    }
    s->o = *o;
    s->m = m;
    snprintf(s->model_id, sizeof s->model_id, "%s", o->model_id);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    if (pthread_create(&s->worker, NULL, worker_main, s)) {
        gc_serve_stop(s);
        return gc_errf(err, "serve: cannot start the generation thread");
    }
    s->worker_started = true;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | (v6 ? MHD_USE_IPv6 : 0);
    errno = 0;
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)o->idle_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->d) {
        int e = errno;
        gc_serve_stop(s);
        return gc_errf(err, "serve: cannot listen on %s port %d%s%s", o->host, o->port, e ? ": " : "", e ? strerror(e) : "");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    *out = s;
    return 0;
}

int gc_serve_port(const gc_server *s) { return s->port; }

void gc_serve_stop(gc_server *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->work);
    for (job *j = s->head; j; j = j->next) pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&s->mu);
    if (s->worker_started) pthread_join(s->worker, NULL);   /* every job is done after this */
    if (s->d) MHD_stop_daemon(s->d);                         /* joins the connection threads */
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    free(s->logits);
    free(s);
}
