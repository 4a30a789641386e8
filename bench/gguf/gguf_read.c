/* The GGUF reader: every byte is hostile until checked.
 *
 * Each read is bounds-checked against the bytes left; counts are checked against the bytes they
 * need before any loop or allocation (a kv needs >= 13 bytes, a tensor info >= 33, an array
 * element its size), and arrays of entries grow as entries are actually parsed, so memory stays
 * proportional to real file content. Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bench/gguf/gguf.h"
#include "kernels/quant.h"

#define MAX_KEY_LEN 65535u        /* spec: keys are at most 2^16 - 1 bytes */
#define MIN_KV_BYTES 13u          /* u64 key length, 1 key byte, u32 type, 1 value byte */
#define MIN_TENSOR_BYTES 33u      /* u64 name length, 1 name byte, u32 n_dims, u64 ne, u32 type, u64 offset */
#define MAX_ALIGNMENT (1u << 20)

typedef struct rd {
    const uint8_t *p;
    size_t size, pos;
    gc_err *err;
} rd;

static const char *const vtype_names[GGUF_VTYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"};

const char *gguf_vtype_name(int t) { return t >= 0 && t < GGUF_VTYPE_COUNT ? vtype_names[t] : "unknown"; }

/* Fixed element sizes; 0 for string and array. */
static size_t vtype_size(int t) {
    static const size_t sz[GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return sz[t];
}

/* ggml's type names, for errors about types gencost does not run (ggml.c type_traits). */
static const char *ggml_type_name(int t) {
    static const char *const names[] = {"f32", "f16", "q4_0", "q4_1", "q4_2", "q4_3", "q5_0", "q5_1", "q8_0", "q8_1",
                                        "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_k", "iq2_xxs", "iq2_xs", "iq3_xxs",
                                        "iq1_s", "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "i8", "i16", "i32", "i64", "f64",
                                        "iq1_m", "bf16", "q4_0_4_4", "q4_0_4_8", "q4_0_8_8", "tq1_0", "tq2_0"};
    return t >= 0 && t < (int)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

static bool weight_type_supported(int t) {
    return t == GK_F32 || t == GK_F16 || t == GK_BF16 || t == GK_Q8_0 || t == GK_Q4_0 || t == GK_Q4_1 ||
           t == GK_Q4_K || t == GK_Q6_K;
}

static int need(rd *r, uint64_t n, const char *what) {
    if (n > r->size - r->pos)
        return gc_errf(r->err, "truncated: %s at byte %zu needs %llu bytes, %zu left", what, r->pos,
                       (unsigned long long)n, r->size - r->pos);
    return 0;
}

static int rd_u32(rd *r, uint32_t *v, const char *what) {
    if (need(r, 4, what)) return -1;
    memcpy(v, r->p + r->pos, 4);   /* little-endian host assumed (x86-64, AArch64) */
    r->pos += 4;
    return 0;
}

static int rd_u64(rd *r, uint64_t *v, const char *what) {
    if (need(r, 8, what)) return -1;
    memcpy(v, r->p + r->pos, 8);
    r->pos += 8;
    return 0;
}

static int rd_str(rd *r, const uint8_t **s, uint64_t *len, const char *what) {
    if (rd_u64(r, len, what) || need(r, *len, what)) return -1;
    *s = r->p + r->pos;
    r->pos += (size_t)*len;
    return 0;
}

static int grow(void **arr, uint64_t *cap, uint64_t n, size_t elem, gc_err *err) {
    if (n < *cap) return 0;
    uint64_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return gc_errf(err, "out of memory reading entry %llu", (unsigned long long)n);
    memset((uint8_t *)p + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *arr = p;
    *cap = nc;
    return 0;
}

/* Checks one value (or array body) of type t at r->pos and steps over it. */
static int skip_values(rd *r, int t, uint64_t n, const char *key) {
    size_t sz = vtype_size(t);
    if (t == GGUF_STRING) {
        if (n > (r->size - r->pos) / 8)
            return gc_errf(r->err, "metadata %s: %llu strings cannot fit in the %zu bytes left", key, (unsigned long long)n,
                           r->size - r->pos);
        for (uint64_t i = 0; i < n; i++) {
            const uint8_t *s;
            uint64_t len;
            if (rd_str(r, &s, &len, key)) return -1;
        }
        return 0;
    }
    if (n > (r->size - r->pos) / sz)
        return gc_errf(r->err, "metadata %s: %llu values of %s cannot fit in the %zu bytes left", key, (unsigned long long)n,
                       vtype_names[t], r->size - r->pos);
    if (t == GGUF_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (r->p[r->pos + i] > 1) return gc_errf(r->err, "metadata %s: bool value %u is neither 0 nor 1", key, r->p[r->pos + i]);
    r->pos += (size_t)(n * sz);
    return 0;
}

static int parse_kv(rd *r, gguf_kv *kv, uint64_t idx) {
    const uint8_t *key;
    uint64_t len;
    uint32_t type;
    if (rd_str(r, &key, &len, "metadata key")) return -1;
    if (len == 0 || len > MAX_KEY_LEN) return gc_errf(r->err, "metadata entry %llu: key length %llu", (unsigned long long)idx, (unsigned long long)len);
    for (uint64_t i = 0; i < len; i++)
        if (key[i] < 0x20 || key[i] > 0x7e)
            return gc_errf(r->err, "metadata entry %llu: key has a non-printable byte 0x%02x", (unsigned long long)idx, key[i]);
    kv->key = malloc((size_t)len + 1);
    if (!kv->key) return gc_errf(r->err, "out of memory");
    memcpy(kv->key, key, (size_t)len);
    kv->key[len] = 0;
    if (rd_u32(r, &type, kv->key)) return -1;
    if (type >= GGUF_VTYPE_COUNT) return gc_errf(r->err, "metadata %s: unknown value type %u", kv->key, type);
    kv->type = (int)type;
    kv->n = 1;
    if (type == GGUF_ARRAY) {
        uint32_t at;
        if (rd_u32(r, &at, kv->key) || rd_u64(r, &kv->n, kv->key)) return -1;
        if (at >= GGUF_VTYPE_COUNT) return gc_errf(r->err, "metadata %s: unknown array element type %u", kv->key, at);
        if (at == GGUF_ARRAY) return gc_errf(r->err, "metadata %s: nested arrays are not supported", kv->key);
        kv->arr_type = (int)at;
        kv->val = r->p + r->pos;
        return skip_values(r, kv->arr_type, kv->n, kv->key);
    }
    kv->val = r->p + r->pos;
    return skip_values(r, kv->type, 1, kv->key);
}

static int parse_tensor(rd *r, gguf_tensor *t, uint64_t idx, uint64_t alignment) {
    const uint8_t *name;
    uint64_t len;
    uint32_t nd, type;
    if (rd_str(r, &name, &len, "tensor name")) return -1;
    if (len == 0 || len >= GGUF_MAX_NAME)
        return gc_errf(r->err, "tensor %llu: name length %llu (1..%d allowed)", (unsigned long long)idx, (unsigned long long)len, GGUF_MAX_NAME - 1);
    for (uint64_t i = 0; i < len; i++)
        if (name[i] < 0x20 || name[i] > 0x7e)
            return gc_errf(r->err, "tensor %llu: name has a non-printable byte 0x%02x", (unsigned long long)idx, name[i]);
    memcpy(t->name, name, (size_t)len);
    t->name[len] = 0;
    if (rd_u32(r, &nd, t->name)) return -1;
    if (nd < 1 || nd > GGUF_MAX_DIMS) return gc_errf(r->err, "tensor %s: %u dimensions (1..%d allowed)", t->name, nd, GGUF_MAX_DIMS);
    t->n_dims = (int)nd;
    uint64_t count = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if (d < (int)nd && rd_u64(r, &ne, t->name)) return -1;
        if (ne == 0 || ne > ((uint64_t)1 << 40) || count > ((uint64_t)1 << 42) / ne)
            return gc_errf(r->err, "tensor %s: dimension %d of %llu elements is out of range", t->name, d, (unsigned long long)ne);
        count *= ne;
        t->ne[d] = (int64_t)ne;
    }
    if (rd_u32(r, &type, t->name) || rd_u64(r, &t->offset, t->name)) return -1;
    if (!weight_type_supported((int)type))
        return gc_errf(r->err, "tensor %s: type %s (ggml type %u) is not supported (supported: f32 f16 bf16 q8_0 q4_0 q4_1 q4_k q6_k)",
                       t->name, ggml_type_name((int)type), type);
    t->type = (int)type;
    const gk_type_info *ti = gk_type_get(t->type);
    if (!ti) return gc_errf(r->err, "tensor %s: type %s is not built into this gencost", t->name, ggml_type_name(t->type));
    if (t->ne[0] % ti->block)
        return gc_errf(r->err, "tensor %s: rows of %lld elements are not whole %s blocks of %d", t->name, (long long)t->ne[0], ti->name, ti->block);
    t->nbytes = (uint64_t)(count / (uint64_t)ti->block) * ti->block_bytes;
    if (t->offset % alignment)
        return gc_errf(r->err, "tensor %s: data offset %llu is not a multiple of the alignment %llu", t->name,
                       (unsigned long long)t->offset, (unsigned long long)alignment);
    return 0;
}

static int cmp_key(const void *a, const void *b) {
    return strcmp((*(const gguf_kv *const *)a)->key, (*(const gguf_kv *const *)b)->key);
}
static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const gguf_tensor *const *)a)->name, (*(const gguf_tensor *const *)b)->name);
}
static int cmp_offset(const void *a, const void *b) {
    uint64_t x = (*(const gguf_tensor *const *)a)->offset, y = (*(const gguf_tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

/* Sorted indexes for lookups by key and name (bsearch: a hostile file with many entries
 * stays fast), duplicate checks on them, and overlap of tensor data via a sort by offset. */
static int index_and_check(gguf_file *f, gc_err *err) {
    f->kv_sorted = malloc((size_t)(f->n_kv ? f->n_kv : 1) * sizeof *f->kv_sorted);
    f->t_sorted = malloc((size_t)(f->n_tensors ? f->n_tensors : 1) * sizeof *f->t_sorted);
    const gguf_tensor **by_off = malloc((size_t)(f->n_tensors ? f->n_tensors : 1) * sizeof *by_off);
    if (!f->kv_sorted || !f->t_sorted || !by_off) {
        free(by_off);
        return gc_errf(err, "out of memory");
    }
    int rc = 0;
    for (uint64_t i = 0; i < f->n_kv; i++) f->kv_sorted[i] = &f->kv[i];
    qsort(f->kv_sorted, (size_t)f->n_kv, sizeof *f->kv_sorted, cmp_key);
    for (uint64_t i = 1; i < f->n_kv && !rc; i++)
        if (!cmp_key(&f->kv_sorted[i - 1], &f->kv_sorted[i])) rc = gc_errf(err, "metadata key %s appears twice", f->kv_sorted[i]->key);
    for (uint64_t i = 0; i < f->n_tensors; i++) f->t_sorted[i] = by_off[i] = &f->tensors[i];
    qsort(f->t_sorted, (size_t)f->n_tensors, sizeof *f->t_sorted, cmp_name);
    for (uint64_t i = 1; i < f->n_tensors && !rc; i++)
        if (!cmp_name(&f->t_sorted[i - 1], &f->t_sorted[i])) rc = gc_errf(err, "tensor %s appears twice", f->t_sorted[i]->name);
    qsort(by_off, (size_t)f->n_tensors, sizeof *by_off, cmp_offset);
    for (uint64_t i = 1; i < f->n_tensors && !rc; i++) {
        const gguf_tensor *x = by_off[i - 1], *y = by_off[i];
        if (x->offset + x->nbytes > y->offset)
            rc = gc_errf(err, "tensors %s and %s overlap (offsets %llu+%llu and %llu)", x->name, y->name,
                         (unsigned long long)x->offset, (unsigned long long)x->nbytes, (unsigned long long)y->offset);
    }
    free(by_off);
    return rc;
}

static int parse_header(rd *r, gguf_file *f) {
    if (r->size < 4 || memcmp(r->p, "GGUF", 4))
        return gc_errf(r->err, "not a GGUF file (magic bytes are not \"GGUF\")");
    r->pos = 4;
    if (rd_u32(r, &f->version, "version")) return -1;
    if (f->version == 0x02000000u || f->version == 0x03000000u)
        return gc_errf(r->err, "big-endian GGUF files are not supported");
    if (f->version == 1) return gc_errf(r->err, "GGUF version 1 (32-bit counts, 2023 draft) is not supported; versions 2 and 3 are");
    if (f->version != 2 && f->version != 3) return gc_errf(r->err, "unknown GGUF version %u (2 and 3 are supported)", f->version);
    if (rd_u64(r, &f->n_tensors, "tensor count") || rd_u64(r, &f->n_kv, "metadata count")) return -1;
    size_t left = r->size - r->pos;
    if (f->n_kv > left / MIN_KV_BYTES)
        return gc_errf(r->err, "%llu metadata entries cannot fit in the %zu bytes left", (unsigned long long)f->n_kv, left);
    if (f->n_tensors > left / MIN_TENSOR_BYTES)
        return gc_errf(r->err, "%llu tensors cannot fit in the %zu bytes left", (unsigned long long)f->n_tensors, left);
    return 0;
}

static int parse_alignment(gguf_file *f, gc_err *err) {
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *kv = gguf_find_kv(f, "general.alignment");
    if (!kv) return 0;
    if (kv->type != GGUF_U32) return gc_errf(err, "general.alignment is a %s, not a uint32", gguf_vtype_name(kv->type));
    uint32_t a;
    memcpy(&a, kv->val, 4);
    if (a < 8 || a > MAX_ALIGNMENT || (a & (a - 1)))
        return gc_errf(err, "general.alignment %u is not a power of two from 8 to %u", a, MAX_ALIGNMENT);
    f->alignment = a;
    return 0;
}

static int parse_all(rd *r, gguf_file *f) {
    if (parse_header(r, f)) return -1;
    uint64_t n_kv = f->n_kv, n_t = f->n_tensors, cap = 0;
    f->n_kv = f->n_tensors = 0;   /* count what is parsed, so gguf_close frees exactly that */
    for (uint64_t i = 0; i < n_kv; i++) {
        if (grow((void **)&f->kv, &cap, i, sizeof *f->kv, r->err)) return -1;
        f->n_kv = i + 1;
        if (parse_kv(r, &f->kv[i], i)) return -1;
    }
    if (parse_alignment(f, r->err)) return -1;   /* kvs precede tensor infos: offsets can be checked */
    cap = 0;
    for (uint64_t i = 0; i < n_t; i++) {
        if (grow((void **)&f->tensors, &cap, i, sizeof *f->tensors, r->err)) return -1;
        f->n_tensors = i + 1;
        if (parse_tensor(r, &f->tensors[i], i, f->alignment)) return -1;
    }
    uint64_t data = (r->pos + f->alignment - 1) / f->alignment * f->alignment;
    if (data > r->size && n_t > 0)
        return gc_errf(r->err, "truncated: tensor data would start at byte %llu of %zu", (unsigned long long)data, r->size);
    f->data_offset = data;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        uint64_t room = r->size - data;
        if (t->offset > room || t->nbytes > room - t->offset)
            return gc_errf(r->err, "tensor %s: data [%llu, +%llu) lies outside the file's %llu data bytes", t->name,
                           (unsigned long long)t->offset, (unsigned long long)t->nbytes, (unsigned long long)room);
        t->data = r->p + data + t->offset;
    }
    return index_and_check(f, r->err);
}

int gguf_parse(const void *buf, size_t size, gguf_file *f, gc_err *err) {
    memset(f, 0, sizeof *f);
    f->base = buf;
    f->size = size;
    gc_err e;
    rd r = {buf, size, 0, &e};
    if (parse_all(&r, f)) {
        gc_errf(err, "gguf: %s", e.msg);
        gguf_close(f);
        return -1;
    }
    return 0;
}

int gguf_open(const char *path, gguf_file *f, gc_err *err) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return gc_errf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return gc_errf(err, "%s: not a regular file", path);
    }
    if (st.st_size < 24) {
        close(fd);
        return gc_errf(err, "%s: gguf: truncated: %lld bytes is shorter than the 24-byte header", path, (long long)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return gc_errf(err, "%s: cannot map: %s", path, strerror(errno));
    gc_err e;
    if (gguf_parse(map, (size_t)st.st_size, f, &e)) {
        munmap(map, (size_t)st.st_size);
        return gc_errf(err, "%s: %s", path, e.msg);
    }
    f->mapped = true;
    return 0;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    for (uint64_t i = 0; i < f->n_kv && f->kv; i++) free(f->kv[i].key);
    free(f->kv);
    free(f->tensors);
    free(f->kv_sorted);
    free(f->t_sorted);
    if (f->mapped) munmap((void *)f->base, f->size);
    memset(f, 0, sizeof *f);
}

static int key_vs_kv(const void *key, const void *kv) { return strcmp(key, (*(const gguf_kv *const *)kv)->key); }
static int name_vs_tensor(const void *name, const void *t) { return strcmp(name, (*(const gguf_tensor *const *)t)->name); }

/* Linear before indexing (general.alignment is looked up while parsing), bsearch after. */
const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key) {
    if (f->kv_sorted) {
        gguf_kv *const *p = bsearch(key, f->kv_sorted, (size_t)f->n_kv, sizeof *f->kv_sorted, key_vs_kv);
        return p ? *p : NULL;
    }
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (f->kv[i].key && !strcmp(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    if (!f->t_sorted) return NULL;
    const gguf_tensor *const *p = bsearch(name, f->t_sorted, (size_t)f->n_tensors, sizeof *f->t_sorted, name_vs_tensor);
    return p ? *p : NULL;
}

int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, gc_err *err) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 1;
    int64_t s = 0;
    uint64_t u = 0;
    bool is_signed = false;
    switch (kv->type) {
    case GGUF_U8: u = kv->val[0]; break;
    case GGUF_I8: { int8_t v; memcpy(&v, kv->val, 1); s = v; is_signed = true; break; }
    case GGUF_U16: { uint16_t v; memcpy(&v, kv->val, 2); u = v; break; }
    case GGUF_I16: { int16_t v; memcpy(&v, kv->val, 2); s = v; is_signed = true; break; }
    case GGUF_U32: { uint32_t v; memcpy(&v, kv->val, 4); u = v; break; }
    case GGUF_I32: { int32_t v; memcpy(&v, kv->val, 4); s = v; is_signed = true; break; }
    case GGUF_U64: memcpy(&u, kv->val, 8); break;
    case GGUF_I64: memcpy(&s, kv->val, 8); is_signed = true; break;
    default: return gc_errf(err, "metadata %s is a %s, not an integer", key, gguf_vtype_name(kv->type));
    }
    if (is_signed) {
        if (s < 0) return gc_errf(err, "metadata %s is negative (%lld)", key, (long long)s);
        u = (uint64_t)s;
    }
    if (u > UINT32_MAX) return gc_errf(err, "metadata %s value %llu is too large", key, (unsigned long long)u);
    *out = (uint32_t)u;
    return 0;
}

int gguf_get_f32(const gguf_file *f, const char *key, float *out, gc_err *err) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 1;
    if (kv->type == GGUF_F32) {
        memcpy(out, kv->val, 4);
    } else if (kv->type == GGUF_F64) {
        double d;
        memcpy(&d, kv->val, 8);
        if (!(d >= -3.4e38 && d <= 3.4e38)) return gc_errf(err, "metadata %s value is out of float range", key);
        *out = (float)d;
    } else {
        return gc_errf(err, "metadata %s is a %s, not a float", key, gguf_vtype_name(kv->type));
    }
    return 0;
}

int gguf_get_str(const gguf_file *f, const char *key, const char **s, size_t *len, gc_err *err) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 1;
    if (kv->type != GGUF_STRING) return gc_errf(err, "metadata %s is a %s, not a string", key, gguf_vtype_name(kv->type));
    uint64_t n;
    memcpy(&n, kv->val, 8);
    *s = (const char *)kv->val + 8;
    *len = (size_t)n;
    return 0;
}

int gguf_get_arr(const gguf_file *f, const char *key, int arr_type, uint64_t *n, gc_err *err) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (!kv) return 1;
    if (kv->type != GGUF_ARRAY || kv->arr_type != arr_type)
        return gc_errf(err, "metadata %s is a %s%s%s, not an array of %s", key, gguf_vtype_name(kv->type),
                       kv->type == GGUF_ARRAY ? " of " : "", kv->type == GGUF_ARRAY ? gguf_vtype_name(kv->arr_type) : "",
                       gguf_vtype_name(arr_type));
    *n = kv->n;
    return 0;
}
