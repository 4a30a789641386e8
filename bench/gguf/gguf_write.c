/* The GGUF writer: version 3, little-endian, spec-exact (docs/gguf.md in ggml).
 *
 * Metadata and tensor infos are serialised into memory as they are declared; gguf_w_begin()
 * writes them and the padding, and the tensor data is then streamed tensor by tensor, each
 * padded with zeros to the alignment so the next offset is a multiple of it. Allocation
 * failures are remembered and reported once by gguf_w_begin(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "bench/gguf/gguf.h"

static void put(gguf_writer *w, uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n) {
    if (w->oom) return;
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (nc < *len + n) nc *= 2;
        uint8_t *b = realloc(*buf, nc);
        if (!b) {
            w->oom = true;
            return;
        }
        *buf = b;
        *cap = nc;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

static void meta(gguf_writer *w, const void *p, size_t n) { put(w, &w->meta, &w->meta_len, &w->meta_cap, p, n); }
static void meta_u32(gguf_writer *w, uint32_t v) { meta(w, &v, 4); }
static void meta_u64(gguf_writer *w, uint64_t v) { meta(w, &v, 8); }
static void meta_str(gguf_writer *w, const char *s, size_t n) {
    meta_u64(w, n);
    meta(w, s, n);
}
static void key(gguf_writer *w, const char *k, int type) {
    meta_str(w, k, strlen(k));
    meta_u32(w, (uint32_t)type);
    w->n_kv++;
}

void gguf_w_init(gguf_writer *w, uint32_t alignment) {
    memset(w, 0, sizeof *w);
    w->alignment = alignment;
    gguf_w_u32(w, "general.alignment", alignment);
}

void gguf_w_free(gguf_writer *w) {
    free(w->meta);
    free(w->tinfo);
    free(w->tsize);
    memset(w, 0, sizeof *w);
}

void gguf_w_u32(gguf_writer *w, const char *k, uint32_t v) { key(w, k, GGUF_U32); meta_u32(w, v); }
void gguf_w_i32(gguf_writer *w, const char *k, int32_t v) { key(w, k, GGUF_I32); meta(w, &v, 4); }
void gguf_w_f32(gguf_writer *w, const char *k, float v) { key(w, k, GGUF_F32); meta(w, &v, 4); }
void gguf_w_bool(gguf_writer *w, const char *k, bool v) {
    uint8_t b = v;
    key(w, k, GGUF_BOOL);
    meta(w, &b, 1);
}
void gguf_w_str(gguf_writer *w, const char *k, const char *v) { key(w, k, GGUF_STRING); meta_str(w, v, strlen(v)); }

static void arr_head(gguf_writer *w, const char *k, int type, uint64_t n) {
    key(w, k, GGUF_ARRAY);
    meta_u32(w, (uint32_t)type);
    meta_u64(w, n);
}

void gguf_w_arr_str(gguf_writer *w, const char *k, uint64_t n,
                    const char *(*get)(void *ctx, uint64_t i, char *buf, size_t bufsz), void *ctx) {
    char buf[256];
    arr_head(w, k, GGUF_STRING, n);
    for (uint64_t i = 0; i < n; i++) {
        const char *s = get(ctx, i, buf, sizeof buf);
        meta_str(w, s, strlen(s));
    }
}
void gguf_w_arr_f32(gguf_writer *w, const char *k, const float *v, uint64_t n) {
    arr_head(w, k, GGUF_F32, n);
    meta(w, v, (size_t)n * 4);
}
void gguf_w_arr_i32(gguf_writer *w, const char *k, const int32_t *v, uint64_t n) {
    arr_head(w, k, GGUF_I32, n);
    meta(w, v, (size_t)n * 4);
}

static uint64_t pad_to(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

void gguf_w_tensor(gguf_writer *w, const char *name, int n_dims, const int64_t *ne, int type, uint64_t nbytes) {
    uint64_t len = strlen(name), off = w->data_len, nd = (uint64_t)n_dims;
    put(w, &w->tinfo, &w->tinfo_len, &w->tinfo_cap, &len, 8);
    put(w, &w->tinfo, &w->tinfo_len, &w->tinfo_cap, name, (size_t)len);
    uint32_t nd32 = (uint32_t)nd, t32 = (uint32_t)type;
    put(w, &w->tinfo, &w->tinfo_len, &w->tinfo_cap, &nd32, 4);
    for (int d = 0; d < n_dims; d++) {
        uint64_t v = (uint64_t)ne[d];
        put(w, &w->tinfo, &w->tinfo_len, &w->tinfo_cap, &v, 8);
    }
    put(w, &w->tinfo, &w->tinfo_len, &w->tinfo_cap, &t32, 4);
    put(w, &w->tinfo, &w->tinfo_len, &w->tinfo_cap, &off, 8);
    if (w->n_tensors == w->tsize_cap) {
        uint64_t nc = w->tsize_cap ? w->tsize_cap * 2 : 64;
        uint64_t *p = realloc(w->tsize, (size_t)nc * sizeof *p);
        if (!p) {
            w->oom = true;
            return;
        }
        w->tsize = p;
        w->tsize_cap = nc;
    }
    w->tsize[w->n_tensors++] = nbytes;
    w->data_len = pad_to(w->data_len + nbytes, w->alignment);
}

static int wr(gguf_writer *w, const void *p, size_t n, gc_err *err) {
    if (n && fwrite(p, 1, n, w->fp) != n) return gc_errf(err, "gguf: write failed: %s", strerror(errno));
    return 0;
}

static int zeros(gguf_writer *w, uint64_t n, gc_err *err) {
    static const uint8_t z[64];
    while (n) {
        size_t k = n < sizeof z ? (size_t)n : sizeof z;
        if (wr(w, z, k, err)) return -1;
        n -= k;
    }
    return 0;
}

int gguf_w_begin(gguf_writer *w, FILE *fp, gc_err *err) {
    if (w->oom) return gc_errf(err, "gguf: out of memory building the header");
    w->fp = fp;
    uint32_t version = 3;
    uint64_t head = 4 + 4 + 8 + 8;
    if (wr(w, "GGUF", 4, err) || wr(w, &version, 4, err) || wr(w, &w->n_tensors, 8, err) || wr(w, &w->n_kv, 8, err) ||
        wr(w, w->meta, w->meta_len, err) || wr(w, w->tinfo, w->tinfo_len, err))
        return -1;
    uint64_t end = head + w->meta_len + w->tinfo_len;
    w->cur = 0;
    w->cur_written = 0;
    return zeros(w, pad_to(end, w->alignment) - end, err);
}

int gguf_w_data(gguf_writer *w, const void *p, size_t n, gc_err *err) {
    const uint8_t *b = p;
    while (n) {
        if (w->cur >= w->n_tensors) return gc_errf(err, "gguf: more tensor data than declared");
        uint64_t room = w->tsize[w->cur] - w->cur_written;
        size_t k = n < room ? n : (size_t)room;
        if (wr(w, b, k, err)) return -1;
        b += k;
        n -= k;
        w->cur_written += k;
        if (w->cur_written == w->tsize[w->cur]) {
            if (zeros(w, pad_to(w->cur_written, w->alignment) - w->cur_written, err)) return -1;
            w->cur++;
            w->cur_written = 0;
        }
    }
    return 0;
}

int gguf_w_end(gguf_writer *w, gc_err *err) {
    if (w->cur != w->n_tensors || w->cur_written)
        return gc_errf(err, "gguf: %llu of %llu tensors written", (unsigned long long)w->cur, (unsigned long long)w->n_tensors);
    if (fflush(w->fp)) return gc_errf(err, "gguf: write failed: %s", strerror(errno));
    return 0;
}
