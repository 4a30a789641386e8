/* Tests for the GGUF reader and writer (bench/gguf) and the llama metadata checks.
 *
 * A micro llama model is exported, checked field by field against the spec, and then mutated
 * into a corpus of malformed files (truncations, bad magic/version/counts/lengths/types,
 * offsets outside the file or misaligned, overlapping tensors, shapes that disagree with the
 * metadata, unsupported tensor types): every one must be rejected with the expected message.
 * A second export carries Llama 3.1's rope_freqs.weight; its mutations (wrong shape, type or
 * values) must be rejected too. The committed corpus in tests/fixtures/gguf-bad/ (also the
 * fuzzer's seeds) is checked too;
 * regenerate it with:  GC_WRITE_GGUF_CORPUS=tests/fixtures build/tests/test_gguf
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/gguf/gguf.h"
#include "bench/llm/llm.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

static const llm_config micro = {"micro", 32, 1, 2, 1, 64, 260, 64, 10000.0f, 1e-5f, false};

static uint8_t *good;     /* the exported micro model */
static size_t good_len;
static uint8_t *good_rf;  /* the same with RoPE frequency factors (rope_freqs.weight) */
static size_t good_rf_len;

static uint8_t *export_micro(bool rope_factors, size_t *len) {
    char path[] = "/tmp/gc_gguf_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    close(fd);
    llm_config c = micro;
    c.rope_factors = rope_factors;
    llm_source src;
    llm_source_synthetic(&src, &c, 42);
    gc_err err;
    uint8_t *b = NULL;
    if (llm_export_gguf(&src, GK_Q8_0, path, &err)) fprintf(stderr, "%s\n", err.msg);
    else b = (uint8_t *)gc_read_file(path, len, &err);
    unlink(path);
    return b;
}

static int load_good(void **st) {
    good = export_micro(false, &good_len);
    good_rf = export_micro(true, &good_rf_len);
    return good && good_rf ? 0 : -1;
}

static int free_good(void **st) {
    free(good);
    free(good_rf);
    return 0;
}

/* Parse, then the llama checks: 0 if accepted, else the message in err. */
static int check(const uint8_t *buf, size_t len, gc_err *err) {
    gguf_file f;
    if (gguf_parse(buf, len, &f, err)) return -1;
    llm_config c;
    int wtype;
    int rc = llm_config_from_gguf(&f, &c, &wtype, err);
    gguf_close(&f);
    return rc;
}

static void u32_at(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void u64_at(uint8_t *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }

static size_t find(const uint8_t *b, size_t len, const char *s) {
    const uint8_t *p = memmem(b, len, s, strlen(s));
    if (!p) fail_msg("'%s' not found in the file", s);
    return (size_t)(p - b);
}

/* Offsets of a tensor info's fields, found from its name. */
typedef struct tinfo_at { size_t ndims, dim0, type, offset; } tinfo_at;
static tinfo_at tensor_fields(const uint8_t *b, size_t len, const char *name) {
    tinfo_at t;
    uint8_t needle[80];   /* length-prefixed, so "output.weight" does not match inside "attn_output.weight" */
    uint64_t n = strlen(name);
    memcpy(needle, &n, 8);
    memcpy(needle + 8, name, (size_t)n);
    const uint8_t *at = memmem(b, len, needle, 8 + (size_t)n);
    if (!at) fail_msg("tensor %s not found", name);
    size_t p = (size_t)(at - b) + 8 + (size_t)n;
    uint32_t nd;
    memcpy(&nd, b + p, 4);
    t.ndims = p;
    t.dim0 = p + 4;
    t.type = p + 4 + 8 * nd;
    t.offset = t.type + 4;
    return t;
}

/* Offset of a metadata value (just after its key and type). */
static size_t kv_value(const uint8_t *b, size_t len, const char *key) { return find(b, len, key) + strlen(key) + 4; }
static size_t kv_type(const uint8_t *b, size_t len, const char *key) { return find(b, len, key) + strlen(key); }

typedef struct bad_case {
    const char *name;
    const char *expect;                          /* substring of the error */
    size_t (*mutate)(uint8_t *b, size_t len);    /* returns the new length */
} bad_case;

static size_t m_magic(uint8_t *b, size_t n) { b[3] = 'X'; return n; }
static size_t m_version1(uint8_t *b, size_t n) { u32_at(b, 4, 1); return n; }
static size_t m_version99(uint8_t *b, size_t n) { u32_at(b, 4, 99); return n; }
static size_t m_big_endian(uint8_t *b, size_t n) { u32_at(b, 4, 0x03000000u); return n; }
static size_t m_huge_tensors(uint8_t *b, size_t n) { u64_at(b, 8, (uint64_t)1 << 60); return n; }
static size_t m_huge_kvs(uint8_t *b, size_t n) { u64_at(b, 16, (uint64_t)1 << 60); return n; }
static size_t m_huge_key(uint8_t *b, size_t n) { u64_at(b, 24, (uint64_t)1 << 62); return n; }
static size_t m_key_zero(uint8_t *b, size_t n) { u64_at(b, 24, 0); return n; }
static size_t m_key_ctrl(uint8_t *b, size_t n) { b[32] = 0x01; return n; }
static size_t m_bad_type(uint8_t *b, size_t n) { u32_at(b, kv_type(b, n, "general.architecture"), 99); return n; }
static size_t m_huge_str(uint8_t *b, size_t n) { u64_at(b, kv_value(b, n, "general.name"), (uint64_t)1 << 62); return n; }
static size_t m_bad_arr_type(uint8_t *b, size_t n) { u32_at(b, kv_value(b, n, "tokenizer.ggml.scores"), 77); return n; }
static size_t m_nested_arr(uint8_t *b, size_t n) { u32_at(b, kv_value(b, n, "tokenizer.ggml.scores"), GGUF_ARRAY); return n; }
static size_t m_huge_arr(uint8_t *b, size_t n) { u64_at(b, kv_value(b, n, "tokenizer.ggml.tokens") + 4, (uint64_t)1 << 61); return n; }
static size_t m_huge_arr_f32(uint8_t *b, size_t n) { u64_at(b, kv_value(b, n, "tokenizer.ggml.scores") + 4, (uint64_t)1 << 62); return n; }
static size_t m_align33(uint8_t *b, size_t n) { u32_at(b, kv_value(b, n, "general.alignment"), 33); return n; }
static size_t m_align_type(uint8_t *b, size_t n) { u32_at(b, kv_type(b, n, "general.alignment"), GGUF_I32); return n; }
static size_t m_dup_key(uint8_t *b, size_t n) { memcpy(b + find(b, n, "tokenizer.ggml.eos_token_id"), "tokenizer.ggml.bos_token_id", 27); return n; }
static size_t m_dup_tensor(uint8_t *b, size_t n) { memcpy(b + find(b, n, "blk.0.attn_k.weight"), "blk.0.attn_q.weight", 19); return n; }
static size_t m_offset_out(uint8_t *b, size_t n) { u64_at(b, tensor_fields(b, n, "output.weight").offset, (uint64_t)1 << 40); return n; }
static size_t m_misaligned(uint8_t *b, size_t n) {
    size_t o = tensor_fields(b, n, "output.weight").offset;
    uint64_t v;
    memcpy(&v, b + o, 8);
    u64_at(b, o, v + 8);
    return n;
}
static size_t m_overlap(uint8_t *b, size_t n) {
    uint64_t v;
    memcpy(&v, b + tensor_fields(b, n, "token_embd.weight").offset, 8);
    u64_at(b, tensor_fields(b, n, "blk.0.attn_q.weight").offset, v + 32);
    return n;
}
static size_t m_ndims5(uint8_t *b, size_t n) { u32_at(b, tensor_fields(b, n, "output_norm.weight").ndims, 5); return n; }
static size_t m_dim_zero(uint8_t *b, size_t n) { u64_at(b, tensor_fields(b, n, "output_norm.weight").dim0, 0); return n; }
static size_t m_dim_huge(uint8_t *b, size_t n) { u64_at(b, tensor_fields(b, n, "token_embd.weight").dim0 + 8, (uint64_t)1 << 50); return n; }
static size_t m_unsupported(uint8_t *b, size_t n) { u32_at(b, tensor_fields(b, n, "blk.0.ffn_up.weight").type, 13); return n; }
static size_t m_unknown_type(uint8_t *b, size_t n) { u32_at(b, tensor_fields(b, n, "blk.0.ffn_up.weight").type, 1000); return n; }
static size_t m_shape(uint8_t *b, size_t n) { u32_at(b, kv_value(b, n, "llama.feed_forward_length"), 96); return n; }
static size_t m_heads(uint8_t *b, size_t n) { u32_at(b, kv_value(b, n, "llama.attention.head_count_kv"), 3); return n; }
static size_t m_vocab(uint8_t *b, size_t n) { u32_at(b, kv_value(b, n, "llama.vocab_size"), 259); return n; }
static size_t m_arch(uint8_t *b, size_t n) { memcpy(b + kv_value(b, n, "general.architecture") + 8, "mamba", 5); return n; }
static size_t m_missing(uint8_t *b, size_t n) { b[find(b, n, "blk.0.ffn_down.weight") + 6] = 'X'; return n; }
static size_t m_layers(uint8_t *b, size_t n) { u32_at(b, kv_value(b, n, "llama.block_count"), 2); return n; }
static size_t m_data_past_end(uint8_t *b, size_t n) { return n - 40; }   /* past the last tensor's padding (< 32) */
static size_t m_no_data(uint8_t *b, size_t n) {
    gguf_file f;
    gc_err e;
    if (gguf_parse(b, n, &f, &e)) fail_msg("%s", e.msg);
    size_t d = (size_t)f.data_offset;
    gguf_close(&f);
    return d;
}
#define TRUNC(at) static size_t m_trunc_##at(uint8_t *b, size_t n) { return at; }
TRUNC(0) TRUNC(3) TRUNC(7) TRUNC(15) TRUNC(23) TRUNC(30) TRUNC(60) TRUNC(200) TRUNC(1000) TRUNC(3000) TRUNC(6000)
/* Offset in the file of a tensor's data. */
static size_t data_of(const uint8_t *b, size_t n, const char *name) {
    gguf_file f;
    gc_err err;
    if (gguf_parse(b, n, &f, &err)) fail_msg("%s", err.msg);
    const gguf_tensor *t = gguf_find_tensor(&f, name);
    if (!t) fail_msg("tensor %s not found", name);
    size_t off = (size_t)((const uint8_t *)t->data - b);
    gguf_close(&f);
    return off;
}
/* Mutations of the file with rope_freqs.weight (micro: head_dim 16, 8 factors). */
static size_t m_rf_shape(uint8_t *b, size_t n) { u64_at(b, tensor_fields(b, n, "rope_freqs.weight").dim0, 4); return n; }
static size_t m_rf_type(uint8_t *b, size_t n) { u32_at(b, tensor_fields(b, n, "rope_freqs.weight").type, GK_F16); return n; }
static size_t m_rf_zero(uint8_t *b, size_t n) { u32_at(b, data_of(b, n, "rope_freqs.weight") + 3 * 4, 0); return n; }
static size_t m_rf_nan(uint8_t *b, size_t n) { u32_at(b, data_of(b, n, "rope_freqs.weight"), 0x7fc00000u); return n; }
static size_t m_trunc_tinfo(uint8_t *b, size_t n) { return tensor_fields(b, n, "blk.0.attn_v.weight").type + 2; }
static size_t m_trunc_tokens(uint8_t *b, size_t n) { return find(b, n, "<0x80>"); }

static const bad_case bad_cases[] = {
    {"bad-magic", "not a GGUF file", m_magic},
    {"version-1", "version 1", m_version1},
    {"version-99", "unknown GGUF version 99", m_version99},
    {"big-endian", "big-endian", m_big_endian},
    {"huge-tensor-count", "tensors cannot fit", m_huge_tensors},
    {"huge-kv-count", "metadata entries cannot fit", m_huge_kvs},
    {"huge-key-length", "truncated: metadata key", m_huge_key},
    {"empty-key", "key length 0", m_key_zero},
    {"key-control-byte", "non-printable", m_key_ctrl},
    {"bad-value-type", "unknown value type 99", m_bad_type},
    {"huge-string-length", "truncated: general.name", m_huge_str},
    {"bad-array-type", "unknown array element type 77", m_bad_arr_type},
    {"nested-array", "nested arrays", m_nested_arr},
    {"huge-string-array", "strings cannot fit", m_huge_arr},
    {"huge-float-array", "values of float32 cannot fit", m_huge_arr_f32},
    {"alignment-33", "general.alignment 33", m_align33},
    {"alignment-wrong-type", "general.alignment is a int32", m_align_type},
    {"duplicate-key", "appears twice", m_dup_key},
    {"duplicate-tensor", "tensor blk.0.attn_q.weight appears twice", m_dup_tensor},
    {"offset-outside-file", "tensor output.weight: data [1099511627776", m_offset_out},
    {"misaligned-offset", "not a multiple of the alignment", m_misaligned},
    {"overlapping-tensors", "overlap", m_overlap},
    {"five-dims", "5 dimensions", m_ndims5},
    {"zero-dim", "dimension 0 of 0 elements", m_dim_zero},
    {"huge-dim", "out of range", m_dim_huge},
    {"unsupported-type", "blk.0.ffn_up.weight: type q5_k", m_unsupported},
    {"unknown-type", "blk.0.ffn_up.weight: type unknown (ggml type 1000)", m_unknown_type},
    {"shape-vs-metadata", "blk.0.ffn_gate.weight has shape {32, 64, 1, 1}, the metadata implies {32, 96}", m_shape},
    {"heads-vs-kv-heads", "kv heads", m_heads},
    {"vocab-vs-embedding", "llama.vocab_size 259", m_vocab},
    {"architecture", "architecture 'mamba'", m_arch},
    {"missing-tensor", "blk.0.ffn_down.weight is missing", m_missing},
    {"layers-vs-tensors", "blk.1.attn_norm.weight is missing", m_layers},
    {"data-past-end", "outside the file", m_data_past_end},
    {"no-tensor-data", "outside the file", m_no_data},
    {"trunc-0", "not a GGUF file", m_trunc_0},
    {"trunc-3", "not a GGUF file", m_trunc_3},
    {"trunc-7", "truncated: version", m_trunc_7},
    {"trunc-15", "truncated: tensor count", m_trunc_15},
    {"trunc-23", "truncated: metadata count", m_trunc_23},
    {"trunc-30", "metadata entries cannot fit", m_trunc_30},
    {"trunc-60", "metadata entries cannot fit", m_trunc_60},
    {"trunc-200", "metadata entries cannot fit", m_trunc_200},
    {"trunc-1000", "cannot fit", m_trunc_1000},
    {"trunc-3000", "", m_trunc_3000},
    {"trunc-6000", "", m_trunc_6000},
    {"trunc-tensor-info", "truncated", m_trunc_tinfo},
    {"trunc-in-tokens", "tokenizer.ggml.tokens", m_trunc_tokens},
};
#define N_BAD (sizeof bad_cases / sizeof bad_cases[0])

/* Made from good_rf. */
static const bad_case bad_rf_cases[] = {
    {"rope-freqs-shape", "rope_freqs.weight has shape {4, 1, 1, 1}, expected {8}", m_rf_shape},
    {"rope-freqs-type", "rope_freqs.weight is f16, expected f32", m_rf_type},
    {"rope-freqs-zero", "rope_freqs.weight holds 0 at 3, expected positive finite", m_rf_zero},
    {"rope-freqs-nan", "rope_freqs.weight holds nan at 0", m_rf_nan},
};
#define N_BAD_RF (sizeof bad_rf_cases / sizeof bad_rf_cases[0])

static void exported_file_is_spec_exact(void **st) {
    assert_memory_equal(good, "GGUF", 4);
    uint32_t version;
    memcpy(&version, good + 4, 4);
    assert_int_equal(version, 3);
    gguf_file f;
    gc_err err;
    if (gguf_parse(good, good_len, &f, &err)) fail_msg("%s", err.msg);
    assert_int_equal(f.n_tensors, 3 + 9 * micro.n_layers);
    assert_int_equal(f.alignment, 32);
    assert_int_equal(f.data_offset % 32, 0);
    uint64_t end = 0;
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        assert_int_equal(f.tensors[i].offset % 32, 0);
        if (f.tensors[i].offset + f.tensors[i].nbytes > end) end = f.tensors[i].offset + f.tensors[i].nbytes;
    }
    assert_int_equal(f.data_offset + ((end + 31) / 32 * 32), good_len);   /* padded to the alignment, nothing after */
    uint32_t v;
    const char *s;
    size_t len;
    assert_int_equal(gguf_get_u32(&f, "general.quantization_version", &v, &err), 0);
    assert_int_equal(v, 2);
    assert_int_equal(gguf_get_u32(&f, "general.file_type", &v, &err), 0);
    assert_int_equal(v, 7);   /* llama_ftype MOSTLY_Q8_0 */
    assert_int_equal(gguf_get_str(&f, "tokenizer.ggml.model", &s, &len, &err), 0);
    assert_true(len == 5 && !memcmp(s, "llama", 5));
    uint64_t n;
    assert_int_equal(gguf_get_arr(&f, "tokenizer.ggml.tokens", GGUF_STRING, &n, &err), 0);
    assert_int_equal(n, micro.vocab);
    assert_int_equal(gguf_get_arr(&f, "tokenizer.ggml.scores", GGUF_F32, &n, &err), 0);
    assert_int_equal(n, micro.vocab);
    assert_int_equal(gguf_get_arr(&f, "tokenizer.ggml.token_type", GGUF_I32, &n, &err), 0);
    const gguf_kv *tt = gguf_find_kv(&f, "tokenizer.ggml.token_type");
    int32_t t0, t1, t3, t259;
    memcpy(&t0, tt->val, 4);
    memcpy(&t1, tt->val + 4, 4);
    memcpy(&t3, tt->val + 12, 4);
    memcpy(&t259, tt->val + 4 * 259, 4);
    assert_int_equal(t0, 2);     /* <unk>: unknown */
    assert_int_equal(t1, 3);     /* <s>: control */
    assert_int_equal(t3, 6);     /* <0x00>: byte */
    assert_int_equal(t259, 1);   /* normal */
    assert_int_equal(gguf_get_u32(&f, "tokenizer.ggml.scores", &v, &err), -1);   /* wrong type: an error */
    assert_int_equal(gguf_get_u32(&f, "no.such.key", &v, &err), 1);
    const gguf_tensor *q = gguf_find_tensor(&f, "blk.0.attn_k.weight");
    assert_non_null(q);
    assert_int_equal(q->ne[0], 32);
    assert_int_equal(q->ne[1], 16);
    assert_int_equal(q->type, GK_Q8_0);
    assert_int_equal(q->nbytes, 16 * 34);
    llm_config c;
    int wtype;
    if (llm_config_from_gguf(&f, &c, &wtype, &err)) fail_msg("%s", err.msg);
    assert_int_equal(c.dim, 32);
    assert_int_equal(c.ffn, 64);
    assert_int_equal(c.vocab, 260);
    assert_int_equal(c.ctx, 64);
    assert_true(c.norm_eps == 1e-5f);
    gguf_close(&f);
}

/* The export with factors: rope_freqs.weight is a 1-D F32 tensor of head_dim/2 values (as
 * llama.cpp's converter writes it), read back as a config with rope factors. */
static void rope_freqs_file(void **st) {
    gguf_file f;
    gc_err err;
    if (gguf_parse(good_rf, good_rf_len, &f, &err)) fail_msg("%s", err.msg);
    assert_int_equal(f.n_tensors, 4 + 9 * micro.n_layers);
    const gguf_tensor *t = gguf_find_tensor(&f, "rope_freqs.weight");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 1);
    assert_int_equal(t->ne[0], 8);
    assert_int_equal(t->ne[1], 1);
    assert_int_equal(t->type, GK_F32);
    assert_int_equal(t->nbytes, 32);
    for (int i = 0; i < 8; i++) {   /* synthetic factors: 1 +- 0.1, like norm gains */
        float v;
        memcpy(&v, (const uint8_t *)t->data + 4 * i, 4);
        assert_true(v >= 0.9f && v <= 1.1f);
    }
    llm_config c;
    int wtype;
    if (llm_config_from_gguf(&f, &c, &wtype, &err)) fail_msg("%s", err.msg);
    assert_true(c.rope_factors);
    assert_int_equal(wtype, GK_Q8_0);
    assert_int_equal(llm_tensor_count(&c), 4 + 9 * micro.n_layers);
    llm_tinfo ti;
    llm_tensor_info(&c, llm_tensor_count(&c) - 1, &ti);
    assert_string_equal(ti.name, "rope_freqs.weight");
    assert_int_equal(ti.ne0, 8);
    gguf_close(&f);
    if (gguf_parse(good, good_len, &f, &err)) fail_msg("%s", err.msg);
    if (llm_config_from_gguf(&f, &c, &wtype, &err)) fail_msg("%s", err.msg);
    assert_false(c.rope_factors);   /* without the tensor, no factors */
    gguf_close(&f);
}

static void version_2_is_accepted(void **st) {
    uint8_t *b = malloc(good_len);
    memcpy(b, good, good_len);
    u32_at(b, 4, 2);   /* v2 and v3 share the layout (v3 only added big-endian files) */
    gc_err err;
    assert_int_equal(check(b, good_len, &err), 0);
    free(b);
}

static void write_fixture(const char *dir, const char *sub, const char *name, const uint8_t *b, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s.gguf", dir, sub, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void reject_mutated(const bad_case *c, const uint8_t *base, size_t len, const char *dir) {
    uint8_t *b = malloc(len);
    memcpy(b, base, len);
    size_t n = c->mutate(b, len);
    gc_err err = {{0}};
    int rc = check(b, n, &err);
    if (rc == 0) fail_msg("%s: accepted", c->name);
    if (!strstr(err.msg, c->expect)) fail_msg("%s: error '%s' lacks '%s'", c->name, err.msg, c->expect);
    if (dir) write_fixture(dir, "gguf-bad", c->name, b, n);
    free(b);
}

static void malformed_files_are_rejected(void **st) {
    const char *dir = getenv("GC_WRITE_GGUF_CORPUS");
    for (size_t i = 0; i < N_BAD; i++) reject_mutated(&bad_cases[i], good, good_len, dir);
    for (size_t i = 0; i < N_BAD_RF; i++) reject_mutated(&bad_rf_cases[i], good_rf, good_rf_len, dir);
    if (dir) {
        write_fixture(dir, "gguf-good", "micro-q8_0", good, good_len);
        write_fixture(dir, "gguf-good", "micro-rope-freqs-q8_0", good_rf, good_rf_len);
    }
}

/* Every committed file: opened from disk (mmap path), rejected with a message naming a field. */
static void committed_corpus_is_rejected(void **st) {
    DIR *d = opendir(FIXTURES "/gguf-bad");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, FIXTURES "/gguf-bad/%s", e->d_name);
        gguf_file f;
        gc_err err = {{0}};
        int rc = gguf_open(path, &f, &err);
        if (rc == 0) {
            llm_config c;
            int wtype;
            rc = llm_config_from_gguf(&f, &c, &wtype, &err);
            gguf_close(&f);
        }
        if (rc == 0) fail_msg("%s: accepted", path);
        assert_true(strlen(err.msg) > 10);
        n++;
    }
    closedir(d);
    assert_true(n >= (int)(N_BAD + N_BAD_RF));
    gguf_file f;
    gc_err err;
    const char *goods[] = {FIXTURES "/gguf-good/micro-q8_0.gguf", FIXTURES "/gguf-good/micro-rope-freqs-q8_0.gguf"};
    for (int i = 0; i < 2; i++) {
        if (gguf_open(goods[i], &f, &err)) fail_msg("%s", err.msg);
        llm_config c;
        int wtype;
        if (llm_config_from_gguf(&f, &c, &wtype, &err)) fail_msg("%s: %s", goods[i], err.msg);
        assert_int_equal(c.rope_factors, i == 1);
        gguf_close(&f);
    }
    assert_int_not_equal(gguf_open(FIXTURES "/no-such-file.gguf", &f, &err), 0);
    assert_non_null(strstr(err.msg, "cannot open"));
}

/* Every prefix of the file is rejected cleanly (the sanitizers watch every read). */
static void every_truncation_is_rejected(void **st) {
    gc_err err;
    for (size_t n = 0; n < good_len; n += n < 2048 ? 1 : 97) {
        uint8_t *b = malloc(n ? n : 1);   /* exact-size copies: ASan catches any read past n */
        memcpy(b, good, n);
        assert_int_not_equal(check(b, n, &err), 0);
        free(b);
    }
}

static void writer_layout(void **st) {
    gguf_writer w;
    gguf_w_init(&w, 64);
    gguf_w_bool(&w, "x.flag", true);
    int64_t ne[2] = {32, 2};
    gguf_w_tensor(&w, "a", 2, ne, GK_F32, 256);
    gguf_w_tensor(&w, "b", 1, ne, GK_F32, 128);
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    gc_err err;
    float data[64] = {0};
    assert_int_equal(gguf_w_begin(&w, fp, &err), 0);
    assert_int_equal(gguf_w_data(&w, data, 100, &err), 0);   /* data may come in any pieces */
    assert_int_equal(gguf_w_data(&w, data, 156, &err), 0);
    assert_int_not_equal(gguf_w_end(&w, &err), 0);           /* b not written yet */
    assert_int_equal(gguf_w_data(&w, data, 128, &err), 0);
    assert_int_equal(gguf_w_end(&w, &err), 0);
    assert_int_not_equal(gguf_w_data(&w, data, 1, &err), 0); /* more than declared */
    fclose(fp);
    gguf_w_free(&w);
    gguf_file f;
    if (gguf_parse(buf, len, &f, &err)) fail_msg("%s", err.msg);
    assert_int_equal(f.alignment, 64);
    assert_int_equal(f.data_offset % 64, 0);
    assert_int_equal(gguf_find_tensor(&f, "b")->offset, 256);
    assert_int_equal(len, f.data_offset + 256 + 128);   /* the last tensor padded: 128 is a multiple of 64 */
    const gguf_kv *kv = gguf_find_kv(&f, "x.flag");
    assert_int_equal(kv->type, GGUF_BOOL);
    assert_int_equal(kv->val[0], 1);
    gguf_close(&f);
    /* A bool that is neither 0 nor 1 is malformed. */
    ((uint8_t *)buf)[find((uint8_t *)buf, len, "x.flag") + 6 + 4] = 2;
    assert_int_not_equal(gguf_parse(buf, len, &f, &err), 0);
    assert_non_null(strstr(err.msg, "bool value 2"));
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exported_file_is_spec_exact),
        cmocka_unit_test(rope_freqs_file),
        cmocka_unit_test(version_2_is_accepted),
        cmocka_unit_test(malformed_files_are_rejected),
        cmocka_unit_test(committed_corpus_is_rejected),
        cmocka_unit_test(every_truncation_is_rejected),
        cmocka_unit_test(writer_layout),
    };
    return cmocka_run_group_tests(tests, load_good, free_good);
}
