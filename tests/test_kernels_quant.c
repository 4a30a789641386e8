/* Element types: hand-computed blocks in ggml's layouts (kernels/quant.h), round-trip error
 * bounds on random data, and edge cases (zeros, one huge value, subnormals, negative zero),
 * plus IEEE half and bfloat rounding. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernels/quant.h"

#define RAND32_SEED 12345u
#include "tests/rand32.h"

static void quant(int type, const float *x, void *q, int64_t n) { gk_type_get(type)->from_f32(x, q, n); }
static void dequant(int type, const void *q, float *y, int64_t n) { gk_type_get(type)->to_f32(q, y, n); }

/* ---- the table ------------------------------------------------------------------------------ */

static void test_type_table(void **state) {
    (void)state;
    struct { int type; const char *name; int block; size_t bytes; } want[] = {
        {GK_F32, "f32", 1, 4}, {GK_F16, "f16", 1, 2}, {GK_BF16, "bf16", 1, 2},
        {GK_Q8_0, "q8_0", 32, 34}, {GK_Q4_0, "q4_0", 32, 18}, {GK_Q4_1, "q4_1", 32, 20},
        {GK_Q4_K, "q4_k", 256, 144}, {GK_Q6_K, "q6_k", 256, 210}, {GK_Q8_K, "q8_k", 256, 292},
        {GK_I32, "i32", 1, 4},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const gk_type_info *t = gk_type_get(want[i].type);
        assert_non_null(t);
        assert_string_equal(t->name, want[i].name);
        assert_int_equal(t->block, want[i].block);
        assert_int_equal(t->block_bytes, want[i].bytes);
        assert_int_equal(gk_type_from_name(want[i].name), want[i].type);
    }
    /* ggml's enum values, so a GGUF tensor's type field maps directly */
    assert_int_equal(GK_Q4_K, 12);
    assert_int_equal(GK_BF16, 30);
    assert_int_equal(gk_type_from_name("Q4_K"), GK_Q4_K);
    assert_int_equal(gk_type_from_name("q5_0"), -1);
    assert_null(gk_type_get(6));
    assert_string_equal(gk_type_name(99), "?");
    assert_int_equal(gk_type_bytes(GK_Q4_0, 4096), 4096 / 32 * 18);
    assert_int_equal(gk_type_bytes(GK_Q4_0, 33), 0);
    assert_int_equal(gk_type_bytes(GK_Q6_K, 512), 420);
}

/* ---- half and bfloat ------------------------------------------------------------------------ */

static void test_f16_rounding(void **state) {
    (void)state;
    struct { float f; uint16_t h; } c[] = {
        {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff}, {65519.0f, 0x7bff},
        {65520.0f, 0x7c00},                    /* halfway to 2^16: ties to even = infinity */
        {0x1p-24f, 0x0001}, {0x1p-25f, 0x0000},  /* halfway to the smallest subnormal: even = 0 */
        {0x1.8p-25f, 0x0001}, {0x1.8p-24f, 0x0002}, /* 1.5 units: ties to even = 2 */
        {0x1p-14f, 0x0400}, {0x1.ffcp-15f, 0x0400}, /* rounds up into the normal range */
        {1.0f + 0x1p-11f, 0x3c00}, {1.0f + 0x1.8p-10f, 0x3c02}, {-0.0f, 0x8000},
        {1e-40f, 0x0000}, {-1e-40f, 0x8000}, {1e10f, 0x7c00}, {-INFINITY, 0xfc00},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        assert_int_equal(gk_f32_to_f16(c[i].f), c[i].h);
    }
    uint16_t nan = gk_f32_to_f16(NAN);
    assert_true((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0);
    assert_true(gk_f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(gk_f16_to_f32(0x03ff) == 1023 * 0x1p-24f);
    assert_true(gk_f16_to_f32(0x3555) == 0x1.554p-2f);
    assert_true(isinf(gk_f16_to_f32(0xfc00)) && gk_f16_to_f32(0xfc00) < 0);
    assert_true(isnan(gk_f16_to_f32(0x7e00)));
    assert_true(signbit(gk_f16_to_f32(0x8000)));
    /* every finite half survives a round trip through float */
    for (uint32_t h = 0; h < 0x10000; h++)
        if ((h & 0x7c00) != 0x7c00) assert_int_equal(gk_f32_to_f16(gk_f16_to_f32((uint16_t)h)), h);
}

static void test_bf16_rounding(void **state) {
    (void)state;
    assert_int_equal(gk_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(gk_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);          /* tie: even */
    assert_int_equal(gk_f32_to_bf16(1.0f + 0x1.8p-7f), 0x3f82);        /* tie from odd: up */
    assert_int_equal(gk_f32_to_bf16(1.0f + 0x1.2p-8f), 0x3f81);        /* above the tie */
    assert_int_equal(gk_f32_to_bf16(-0.0f), 0x8000);
    assert_int_equal(gk_f32_to_bf16(0x1.fffffep127f), 0x7f80);         /* rounds to infinity */
    assert_int_equal(gk_f32_to_bf16(1e-40f), 0x0001);                  /* subnormals keep RNE */
    uint16_t nan = gk_f32_to_bf16(NAN);
    assert_true((nan & 0x7f80) == 0x7f80 && (nan & 0x7f) != 0);
    assert_true(gk_bf16_to_f32(0x4049) == 3.140625f);
}

/* ---- fixed blocks with hand-computed bytes -------------------------------------------------- */

static void test_q8_0_block(void **state) {
    (void)state;
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)j;
    x[0] = -127.0f;                       /* amax 127: d = 1.0 = f16 0x3c00 */
    x[1] = 1.4f, x[2] = 2.5f, x[3] = -2.5f; /* round half away from zero */
    uint8_t q[34], want[34] = {0x00, 0x3c, 0x81, 0x01, 0x03, 0xfd};
    for (int j = 4; j < 32; j++) want[2 + j] = (uint8_t)j;
    quant(GK_Q8_0, x, q, 32);
    assert_memory_equal(q, want, 34);
    float y[32];
    dequant(GK_Q8_0, want, y, 32);
    assert_true(y[0] == -127.0f && y[2] == 3.0f && y[3] == -3.0f && y[31] == 31.0f);
}

static void test_q4_0_block(void **state) {
    (void)state;
    float x[32] = {0};
    x[0] = -16.0f;                 /* largest magnitude: d = -16 / -8 = 2.0 (0x4000) */
    x[16] = 14.0f, x[1] = 3.0f, x[17] = -1.0f;
    /* q = trunc(x/d + 8.5) clamped to 15: -16->0, 14->15, 3->10, -1->8, 0->8 */
    uint8_t want[18] = {0x00, 0x40, 0xf0, 0x8a};
    for (int j = 2; j < 16; j++) want[2 + j] = 0x88;
    uint8_t q[18];
    quant(GK_Q4_0, x, q, 32);
    assert_memory_equal(q, want, 18);
    float y[32];
    dequant(GK_Q4_0, want, y, 32);
    assert_true(y[0] == -16.0f && y[16] == 14.0f && y[1] == 4.0f && y[17] == 0.0f && y[5] == 0.0f);
}

static void test_q4_1_block(void **state) {
    (void)state;
    float x[32] = {0};
    x[0] = -1.0f, x[16] = 14.0f;   /* min -1, max 14: d = 1.0 (0x3c00), m = -1 (0xbc00) */
    x[1] = 2.4f, x[17] = 0.6f;     /* q = trunc(x - m + 0.5): 3, 2; zeros give 1 */
    uint8_t want[20] = {0x00, 0x3c, 0x00, 0xbc, 0xf0, 0x23};
    for (int j = 2; j < 16; j++) want[4 + j] = 0x11;
    uint8_t q[20];
    quant(GK_Q4_1, x, q, 32);
    assert_memory_equal(q, want, 20);
    float y[32];
    dequant(GK_Q4_1, want, y, 32);
    assert_true(y[0] == -1.0f && y[16] == 14.0f && y[1] == 2.0f && y[17] == 1.0f && y[9] == 0.0f);
}

/* A Q4_K block written byte by byte from the layout: d = 1, dmin = 0.5, eight 6-bit scales and
 * mins packed by hand into scales[12]. */
static void test_q4_k_block(void **state) {
    (void)state;
    const int sc[8] = {1, 2, 3, 4, 17, 33, 49, 63}, mn[8] = {0, 5, 10, 15, 20, 40, 60, 63};
    uint8_t b[144] = {0x00, 0x3c, 0x00, 0x38,
                      /* bytes 0-3: scale j | top 2 bits of scale j+4; 4-7: min j | top of min
                       * j+4; 8-11: low nibbles of scale j+4 | min j+4 << 4 */
                      0x41, 0x82, 0xc3, 0xc4, 0x40, 0x85, 0xca, 0xcf, 0x41, 0x81, 0xc1, 0xff};
    for (int i = 0; i < 128; i++) b[16 + i] = (uint8_t)(i * 7 + 3);
    float y[256];
    dequant(GK_Q4_K, b, y, 256);
    for (int e = 0; e < 256; e++) {
        int chunk = e / 64, l = e % 32, hi = (e % 64) >= 32, sb = e / 32;
        int q = hi ? b[16 + 32 * chunk + l] >> 4 : b[16 + 32 * chunk + l] & 0xf;
        float want = 1.0f * (float)sc[sb] * (float)q - 0.5f * (float)mn[sb];
        assert_true(y[e] == want);
    }
}

/* A Q6_K block written from the layout: per 128 weights, ql[64] low nibbles (weights l and
 * l+64 share byte l, l+32 and l+96 byte l+32), qh[32] top bits (2 per weight), then int8
 * scales[16] and f16 d at byte 208. */
static void test_q6_k_block(void **state) {
    (void)state;
    uint8_t b[210];
    for (int i = 0; i < 128; i++) b[i] = (uint8_t)(i * 5 + 1);
    for (int i = 0; i < 64; i++) b[128 + i] = (uint8_t)(i * 11 + 7);
    for (int i = 0; i < 16; i++) b[192 + i] = (uint8_t)(int8_t)(i % 2 ? -(i + 1) : i + 1);
    b[208] = 0x00, b[209] = 0x34;   /* d = 0.25 */
    float y[256];
    dequant(GK_Q6_K, b, y, 256);
    for (int e = 0; e < 256; e++) {
        int h = e / 128, r = e % 128, l = r % 32, g = r / 32;
        uint8_t lo = b[64 * h + l + (g & 1) * 32];
        int nib = g < 2 ? lo & 0xf : lo >> 4;
        int top = (b[128 + 32 * h + l] >> (2 * g)) & 3;
        int q = (nib | (top << 4)) - 32;
        float want = 0.25f * (float)(int8_t)b[192 + e / 16] * (float)q;
        assert_true(y[e] == want);
    }
}

static void test_q8_k_block(void **state) {
    (void)state;
    float x[256];
    for (int j = 0; j < 256; j++) x[j] = (float)(j % 64) - 32.0f;   /* max magnitude -32 */
    uint8_t q[292];
    quant(GK_Q8_K, x, q, 256);
    float d;
    memcpy(&d, q, 4);
    assert_true(d == 0.25f);                         /* -32 / -128 */
    assert_int_equal((int8_t)q[4], -128);
    assert_int_equal((int8_t)q[4 + 63], 124);        /* 31 / 0.25 */
    int16_t bs;
    memcpy(&bs, q + 260, 2);                         /* sum of q for x = -32..-17 */
    assert_int_equal(bs, 4 * (-32 * 16 + 120));
}

/* ---- round trips on random data ------------------------------------------------------------- */

typedef struct bound_case {
    int type;
    int group;        /* elements sharing a scale */
    float rel;        /* max |error| <= rel * amax(group) */
    float units;      /* + units * 2^-25: an f16 scale that falls into f16's subnormal range
                       * is rounded to 2^-25 absolute, and multiplied by up to this much */
} bound_case;

/* Bounds from each format's definition: Q8_0 half a step of amax/127; Q4_0 one step (the end
 * opposite the signed maximum clamps at 7/8); Q4_1 half a step of range/15; Q8_K one step of
 * amax/128 at the clamped end; Q6_K one step of amax/32 plus the int8 scale rounding; Q4_K one
 * step of range/15 (6-bit scale and min rounding included); F16 and BF16 relative. */
static const bound_case bounds[] = {
    {GK_Q8_0, 32, 0.5f / 127 + 0x1p-10f, 127}, {GK_Q4_0, 32, 1.0f / 8 + 0x1p-10f, 8},
    {GK_Q4_1, 32, 1.0f / 15 + 0x1p-9f, 16},    {GK_Q8_K, 256, 1.0f / 128, 0},
    {GK_Q6_K, 256, 1.0f / 32 + 1.0f / 256, 128 * 32}, {GK_Q4_K, 256, 2.0f / 15, 63 * 16},
};

static float group_amax(const float *x, int n) {
    float a = 0;
    for (int i = 0; i < n; i++) a = fmaxf(a, fabsf(x[i]));
    return a;
}

static void check_round_trip(int type, int group, float rel, float units, const float *x, int n) {
    size_t bytes = gk_type_bytes(type, n);
    void *q = malloc(bytes);
    float *y = malloc((size_t)n * sizeof *y);
    quant(type, x, q, n);
    dequant(type, q, y, n);
    for (int g = 0; g < n; g += group) {
        float tol = rel * group_amax(x + g, group) + units * 0x1p-25f + 1e-30f;
        for (int i = g; i < g + group; i++) {
            assert_false(isnan(y[i]));
            if (fabsf(y[i] - x[i]) > tol) fail_msg("%s: element %d: %g -> %g (tolerance %g)", gk_type_name(type), i, (double)x[i], (double)y[i], (double)tol);
        }
    }
    free(q);
    free(y);
}

static void test_q4_k_requantise(void **state) {
    (void)state;
    float y[256];
    for (int e = 0; e < 256; e++) y[e] = (float)((e * 37) % 61) - 20.0f;
    check_round_trip(GK_Q4_K, 256, 2.0f / 15, 0, y, 256);
}

static void test_round_trip_random(void **state) {
    (void)state;
    enum { N = 8192 };
    float *x = malloc(N * sizeof *x);
    for (int scale_i = 0; scale_i < 3; scale_i++) {
        float s = scale_i == 0 ? 1.0f : scale_i == 1 ? 1e-3f : 100.0f;
        for (int i = 0; i < N; i++) x[i] = frand() * s;
        for (size_t c = 0; c < sizeof bounds / sizeof bounds[0]; c++)
            check_round_trip(bounds[c].type, bounds[c].group, bounds[c].rel, bounds[c].units, x, N);
        /* float types: relative to each element */
        uint16_t h[N];
        float y[N];
        gk_type_get(GK_F16)->from_f32(x, h, N);
        gk_type_get(GK_F16)->to_f32(h, y, N);
        for (int i = 0; i < N; i++) assert_true(fabsf(y[i] - x[i]) <= fabsf(x[i]) * 0x1p-11f + 0x1p-25f);
        gk_type_get(GK_BF16)->from_f32(x, h, N);
        gk_type_get(GK_BF16)->to_f32(h, y, N);
        for (int i = 0; i < N; i++) assert_true(fabsf(y[i] - x[i]) <= fabsf(x[i]) * 0x1p-8f);
        gk_type_get(GK_F32)->from_f32(x, y, N);
        assert_memory_equal(x, y, sizeof y);
    }
    /* Q4_K's root-mean-square error on uniform data: about a third of a step */
    uint8_t q[N / 256 * 144];
    float y[N];
    for (int i = 0; i < N; i++) x[i] = frand();
    quant(GK_Q4_K, x, q, N);
    dequant(GK_Q4_K, q, y, N);
    double se = 0;
    for (int i = 0; i < N; i++) se += (double)(y[i] - x[i]) * (y[i] - x[i]);
    assert_true(sqrt(se / N) < 0.05);
    free(x);
}

/* ---- edge cases ----------------------------------------------------------------------------- */

static const int qtypes[] = {GK_Q8_0, GK_Q4_0, GK_Q4_1, GK_Q4_K, GK_Q6_K, GK_Q8_K, GK_F16, GK_BF16};

static void test_all_zeros(void **state) {
    (void)state;
    float x[512], y[512];
    uint8_t q[1024];
    for (int neg = 0; neg < 2; neg++) {
        for (int i = 0; i < 512; i++) x[i] = neg ? -0.0f : 0.0f;
        for (size_t t = 0; t < sizeof qtypes / sizeof qtypes[0]; t++) {
            memset(q, 0xaa, sizeof q);
            quant(qtypes[t], x, q, 512);
            dequant(qtypes[t], q, y, 512);
            for (int i = 0; i < 512; i++) assert_true(y[i] == 0.0f);   /* -0 == 0; never NaN */
        }
    }
}

static void test_one_huge_value(void **state) {
    (void)state;
    float x[512];
    for (int i = 0; i < 512; i++) x[i] = frand() * 1e-3f;
    x[37] = 1000.0f;
    x[300] = -1000.0f;
    for (size_t c = 0; c < sizeof bounds / sizeof bounds[0]; c++)
        check_round_trip(bounds[c].type, bounds[c].group, bounds[c].rel, bounds[c].units, x, 512);
    float y[512];
    uint8_t q[1024];
    quant(GK_Q8_0, x, q, 512);
    dequant(GK_Q8_0, q, y, 512);
    assert_true(fabsf(y[37] - 1000.0f) <= 1000.0f * 0x1p-10f);   /* the big one survives whole */
}

static void test_subnormal_inputs(void **state) {
    (void)state;
    float x[256], y[256];
    uint8_t q[512];
    for (int i = 0; i < 256; i++) x[i] = (float)(i - 128) * 1e-41f;   /* float subnormals */
    for (size_t t = 0; t < sizeof qtypes / sizeof qtypes[0]; t++) {
        quant(qtypes[t], x, q, 256);
        dequant(qtypes[t], q, y, 256);
        for (int i = 0; i < 256; i++) {
            assert_true(isfinite(y[i]));
            assert_true(fabsf(y[i] - x[i]) <= 2e-39f);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_table),       cmocka_unit_test(test_f16_rounding),
        cmocka_unit_test(test_bf16_rounding),    cmocka_unit_test(test_q8_0_block),
        cmocka_unit_test(test_q4_0_block),       cmocka_unit_test(test_q4_1_block),
        cmocka_unit_test(test_q4_k_block),       cmocka_unit_test(test_q6_k_block),
        cmocka_unit_test(test_q8_k_block),       cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_q4_k_requantise),
        cmocka_unit_test(test_all_zeros),        cmocka_unit_test(test_one_huge_value),
        cmocka_unit_test(test_subnormal_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
