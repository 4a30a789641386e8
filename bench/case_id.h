/* A case's identity: everything that, when it changes, changes the measurement. One struct and
 * one key function, used by results files, compare, history and the report, so an avx2 run and
 * an avx512 run of the same binary, or two prompt lengths, are never taken for the same case.
 *
 * The key is readable and stable (SQLite stores it):
 *   case key  "workload/preset/quant/backend/device/t<threads>/phase?params"
 *   job key   "workload/preset/quant/phase?params"   (the work, independent of where it ran)
 * "?params" is left out when the workload has none; device is written "-" when unknown. params
 * is canonical: "name=value" pairs sorted by name, joined by ','; values never contain ',', '='
 * or '/'.
 *
 * Identities recorded before device and params existed (results schema 1, history points stored
 * before its version 2) have both unknown; they match a full identity on the fields they have
 * (the coarse key below): see compare.h and history.h for how each consumer applies that.
 */
#ifndef GC_CASE_ID_H
#define GC_CASE_ID_H
#include <stdbool.h>
#include <stddef.h>
#include "base/util.h"

typedef struct gc_case_id {
    char workload[32];
    char preset[64];      /* "-" when the workload has none; a model file's name with --model */
    char params[256];     /* the workload's own parameters, canonical ("gen=32,prompt=128"); "" none */
    char quant[16];       /* "-" when the workload has none */
    char backend[16];     /* "cpu", "ref", "cuda" */
    char device[64];      /* what ran the ops: CPU micro-kernel set ("avx2"), GPU name; "" unknown
                           * (schema-1 files did not record it) */
    int threads;
    char phase[64];
} gc_case_id;

/* A buffer that holds any case key (every field at its longest, seven '/', 't', '?'). */
#define GC_CASE_KEY_LEN 544

/* Writes the keys above (truncated to n, always NUL-terminated). */
void gc_case_key(const gc_case_id *id, char *buf, size_t n);
void gc_job_key(const gc_case_id *id, char *buf, size_t n);
/* The case key without device and params ("llm/tiny/q4_0/cpu/-/t2/decode"): what an identity
 * whose device and params are unknown can be matched on. */
void gc_case_key_coarse(const gc_case_id *id, char *buf, size_t n);
bool gc_case_id_equal(const gc_case_id *a, const gc_case_id *b);

/* Sets name=value in a canonical params string of capacity n (replacing an existing value,
 * keeping the pairs sorted by name). Non-zero + err when the name or value holds ',', '=' or
 * '/', is empty, or the result would not fit. */
int gc_params_set(char *params, size_t n, const char *name, const char *value, gc_err *err);
/* The value of name in a canonical params string, copied into out; false when absent. */
bool gc_params_get(const char *params, const char *name, char *out, size_t n);

#endif
