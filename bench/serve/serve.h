/* An OpenAI-compatible HTTP endpoint in front of one loaded llm model (libmicrohttpd), so a
 * machine can be measured *as an endpoint* with the identical request sent to a hosted API.
 *
 * Routes: POST /v1/completions (prompt: a string or an array of token ids), POST
 * /v1/chat/completions (messages), both streamed as server-sent events ("stream": true: one
 * `data: {json}\n\n` chunk per token, then `data: [DONE]\n\n`; with "stream_options":
 * {"include_usage": true} a last chunk carries `usage`) or answered whole; GET /v1/models;
 * GET /health. Errors are JSON {"error": {"message", "type"}} with 400 (bad input), 404, 405,
 * 413 (body over the limit), 503 (queue full, or stopping), 504 (generation past the request
 * timeout).
 *
 * One model, one generation at a time: requests wait in a bounded FIFO (the concurrency limit;
 * beyond it 503 with Retry-After), so concurrent clients see the queueing a single-stream
 * server has. Decoding is greedy (temperature is accepted and ignored) and never stops before
 * max_tokens (default 16): every request does the same work, finish_reason is "length".
 *
 * Text and tokens (the presets have no tokenizer, so the mapping is defined here, exactly):
 * text is split at ASCII whitespace into words; a word "#K" with K a decimal number below the
 * vocabulary size is token K, any other word is token FNV-1a-32(word bytes) mod vocab. Token
 * K's text is " #K", so generated text tokenizes back to the same ids and
 * usage.prompt_tokens is the number of words. A chat prompt is, per message, the role as one
 * word ("user:") followed by the content's words. GGUF files use the same mapping (their
 * vocabulary is not read).
 */
#ifndef GC_SERVE_H
#define GC_SERVE_H
#include <stddef.h>
#include <stdint.h>
#include "base/util.h"
#include "bench/llm/llm.h"

typedef struct gc_serve_opts {
    const char *host;       /* address to bind, "127.0.0.1" (IPv4 or IPv6 literal) */
    int port;               /* 0: any free port (gc_serve_port tells which) */
    const char *model_id;   /* the name /v1/models lists and responses carry */
    size_t max_body;        /* request bytes accepted; more: 413 */
    int max_queue;          /* generations waiting or running at once; more: 503 */
    int max_connections;    /* open connections at once (libmicrohttpd refuses beyond) */
    int idle_timeout_s;     /* a connection silent this long is closed */
    int request_timeout_s;  /* a generation not finished this long after it was queued is cut */
    int default_max_tokens; /* when a request gives none */
} gc_serve_opts;

void gc_serve_opts_defaults(gc_serve_opts *o);

typedef struct gc_server gc_server;

/* Starts listening and generating with m (loaded, m->s.ctx positions; borrowed until
 * gc_serve_stop returns). Non-zero + err (address in use, bad host). */
int gc_serve_start(gc_server **out, llm_model *m, const gc_serve_opts *o, gc_err *err);
int gc_serve_port(const gc_server *s);
/* Refuses new requests, ends the running and waiting ones, closes every connection, frees. */
void gc_serve_stop(gc_server *s);

/* ---- the text <-> token mapping (above) ----------------------------------------------------- */
/* Token ids of text into out (at most max): the count, or -1 when there are more than max. */
int gc_serve_tokenize(const char *text, int vocab, int32_t *out, int max);
/* Appends token id's text (" #K") to buf (size n); returns its length. */
int gc_serve_token_text(int32_t id, char *buf, size_t n);

#endif
