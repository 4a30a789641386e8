/* GGUF files (versions 2 and 3): a validating reader and a streaming writer.
 *
 * Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md. Little-endian throughout:
 *   header   "GGUF" u32 version, u64 tensor_count, u64 metadata_kv_count
 *   kv       string key, u32 value type, value (arrays: u32 element type, u64 count, elements)
 *   tensors  string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset
 *   padding  to general.alignment (default 32), then the tensor data; every tensor's offset
 *            (relative to the data start) is a multiple of the alignment.
 *   string = u64 length + bytes (no terminator).
 *
 * The reader checks everything before anything is used: a malformed, truncated or hostile file
 * is an error naming the field and the value, never an out-of-bounds read or an allocation
 * larger than the file justifies. Values stay in the (read-only) mapping; accessors read them.
 */
#ifndef GC_GGUF_H
#define GC_GGUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "base/util.h"

enum gguf_vtype {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5, GGUF_F32 = 6,
    GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10, GGUF_I64 = 11, GGUF_F64 = 12,
    GGUF_VTYPE_COUNT = 13,
};

#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NAME 128         /* terminator included: stable-diffusion.cpp builds ggml with GGML_MAX_NAME 128 for the
                                   * checkpoint names of its files (78 bytes and more); ggml itself has 64 */
#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct gguf_kv {
    char *key;                    /* owned, NUL-terminated */
    int type;                     /* gguf_vtype */
    int arr_type;                 /* element type when type == GGUF_ARRAY */
    uint64_t n;                   /* elements (1 for scalars) */
    const uint8_t *val;           /* value bytes in the mapping (for strings: the u64 length) */
} gguf_kv;

typedef struct gguf_tensor {
    char name[GGUF_MAX_NAME];
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS];    /* unused dims are 1 */
    int type;                     /* gk_type (ggml's ids) */
    uint64_t offset;              /* from the data start */
    uint64_t nbytes;
    const void *data;             /* in the mapping */
} gguf_tensor;

typedef struct gguf_file {
    const uint8_t *base;          /* the whole file */
    size_t size;
    bool mapped;                  /* base is an mmap owned by this struct */
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;                  /* owned */
    gguf_tensor *tensors;         /* owned */
    uint64_t alignment;
    uint64_t data_offset;         /* start of tensor data */
    gguf_kv **kv_sorted;          /* owned: by key, for lookups */
    const gguf_tensor **t_sorted; /* owned: by name */
} gguf_file;

/* Maps the file read-only and parses it. */
int gguf_open(const char *path, gguf_file *f, gc_err *err);
/* Parses a buffer the caller keeps alive (fuzzing, tests). */
int gguf_parse(const void *buf, size_t size, gguf_file *f, gc_err *err);
void gguf_close(gguf_file *f);

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);
/* Typed getters: 0 and *out set, 1 when the key is absent, -1 (err filled) when present with
 * an unsuitable type or a value out of range. Integer getters accept any integer type. */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, gc_err *err);
int gguf_get_f32(const gguf_file *f, const char *key, float *out, gc_err *err);
int gguf_get_str(const gguf_file *f, const char *key, const char **s, size_t *len, gc_err *err);
/* Elements of an array of the given element type (1 absent, -1 other type). */
int gguf_get_arr(const gguf_file *f, const char *key, int arr_type, uint64_t *n, gc_err *err);
const char *gguf_vtype_name(int t);

/* ---- writer --------------------------------------------------------------------------------- */
/* Header and metadata are built in memory; tensor infos are declared with their sizes before
 * the data is streamed in the same order. */
typedef struct gguf_writer {
    uint8_t *meta;                /* kv bytes */
    size_t meta_len, meta_cap;
    uint64_t n_kv;
    uint8_t *tinfo;               /* tensor info bytes */
    size_t tinfo_len, tinfo_cap;
    uint64_t n_tensors;
    uint64_t data_len;            /* bytes of tensor data declared so far (padded) */
    uint64_t alignment;
    bool oom;
    uint64_t *tsize;              /* bytes of each declared tensor */
    uint64_t tsize_cap;
    /* streaming */
    FILE *fp;
    uint64_t cur, cur_written;    /* tensor being written, and its bytes so far */
} gguf_writer;

void gguf_w_init(gguf_writer *w, uint32_t alignment);   /* also writes general.alignment */
void gguf_w_free(gguf_writer *w);
void gguf_w_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_w_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_w_f32(gguf_writer *w, const char *key, float v);
void gguf_w_bool(gguf_writer *w, const char *key, bool v);
void gguf_w_str(gguf_writer *w, const char *key, const char *v);
/* Arrays: strings via a callback returning the i-th string (copied immediately). */
void gguf_w_arr_str(gguf_writer *w, const char *key, uint64_t n, const char *(*get)(void *ctx, uint64_t i, char *buf, size_t bufsz), void *ctx);
void gguf_w_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n);
void gguf_w_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
/* Declares a tensor of n_dims dims (ne[0] innermost) and type; its data comes later. */
void gguf_w_tensor(gguf_writer *w, const char *name, int n_dims, const int64_t *ne, int type, uint64_t nbytes);
/* Writes header, metadata, tensor infos and padding to fp; then gguf_w_data() streams the data
 * of the tensors in declaration order, and gguf_w_end() checks all was written. */
int gguf_w_begin(gguf_writer *w, FILE *fp, gc_err *err);
int gguf_w_data(gguf_writer *w, const void *p, size_t n, gc_err *err);
int gguf_w_end(gguf_writer *w, gc_err *err);

#endif
