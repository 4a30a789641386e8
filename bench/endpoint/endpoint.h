/* The client side of the endpoint workload: the identical LLM request sent to an
 * OpenAI-compatible API (POST {base}/completions or {base}/chat/completions) over libcurl's
 * multi interface, several at once, streamed (server-sent events) or not, each timed: time to
 * the first token, to the last, to the end.
 *
 * Every request is bounded by its timeout (libcurl's, covering connect to last byte), so a
 * server that stalls, or never answers, ends that request, never the run. A 429 is retried
 * after its Retry-After (seconds; 1 s when absent or a date) while the retries and the
 * request's time allow. A stream must be `data: {json}` events ending with `data: [DONE]`;
 * anything else (a line that is not an event, JSON that does not parse, the end before [DONE])
 * fails the request as malformed. The API key, when there is one, goes only into the
 * Authorization header: no message, result or log carries it (ep_redact scrubs server text).
 */
#ifndef GC_ENDPOINT_H
#define GC_ENDPOINT_H
#include <stdbool.h>
#include <stddef.h>
#include "base/util.h"

typedef struct ep_target {
    const char *base_url; /* ".../v1", without the trailing slash or with it */
    const char *api_key;  /* NULL: none sent */
    const char *model;    /* the "model" field */
    bool chat;            /* /chat/completions with one user message, else /completions */
} ep_target;

typedef struct ep_job {
    const char *prompt; /* the text (completions: the prompt; chat: the user message) */
    int max_tokens;
    bool stream;
    double timeout_s;   /* per request, connect to last byte */
    int max_retries;    /* of a 429 */
} ep_job;

enum ep_kind { EP_OK, EP_HTTP, EP_RATE_LIMITED, EP_TIMEOUT, EP_MALFORMED, EP_CONNECT, EP_NOT_STARTED, EP_N_KINDS };
extern const char *const ep_kind_names[EP_N_KINDS]; /* "ok", "http", "rate_limited", ... */

typedef struct ep_result {
    int kind;             /* enum ep_kind */
    char error[320];      /* one line when kind != EP_OK */
    int http_status;      /* of the last attempt; 0 when none came */
    int retries;          /* 429s retried */
    double ttft_s;        /* streamed: first non-empty text chunk, from the attempt's start; else -1 */
    double last_token_s;  /* streamed: the last non-empty text chunk; else -1 */
    double e2e_s;         /* the whole response */
    int chunks;           /* streamed: non-empty text chunks */
    int prompt_tokens, completion_tokens; /* the server's usage; -1 when it sent none */
    char *text;           /* the generated text (owned) */
} ep_result;

/* Sends n copies of job to t, at most `concurrency` at once, starting none after max_time_s
 * (those are EP_NOT_STARTED). out[n] is filled (ep_result_free each). Non-zero + err only when
 * the batch cannot run at all (libcurl set-up, out of memory); failed requests are results. */
int ep_run(const ep_target *t, const ep_job *job, int n, int concurrency, double max_time_s, ep_result *out,
           gc_err *err);
void ep_result_free(ep_result *r);

/* The first model id of GET {base}/models into buf. Non-zero + err (one line). */
int ep_first_model(const char *base_url, const char *api_key, double timeout_s, char *buf, size_t n, gc_err *err);

/* Replaces every occurrence of secret (when non-empty) in s with "***", in place. */
void ep_redact(char *s, const char *secret);

#endif
