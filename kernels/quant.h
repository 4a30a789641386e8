/* Tensor element types, byte-compatible with GGUF's ggml types (ids are ggml's enum values,
 * so a GGUF tensor's type field maps directly). Each type is described once in a table:
 * block size, block bytes, to/from float. Code that handles "any type" is a lookup.
 *
 * Layouts (ggml, little-endian): 
 *   Q8_0: 32 weights: f16 d; int8 qs[32]                          (34 bytes)   x = d*q
 *   Q4_0: 32 weights: f16 d; uint8 qs[16] (lo nibble j, hi j+16)  (18 bytes)   x = d*(q-8)
 *   Q4_1: 32 weights: f16 d, m; uint8 qs[16]                      (20 bytes)   x = d*q + m
 *   Q4_K: 256 weights: f16 d, dmin; uint8 scales[12] (6-bit packed); uint8 qs[128]  (144 bytes)
 *   Q6_K: 256 weights: uint8 ql[128], qh[64]; int8 scales[16]; f16 d            (210 bytes)
 */
#ifndef GK_QUANT_H
#define GK_QUANT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum gk_type {
    GK_F32 = 0,
    GK_F16 = 1,
    GK_Q4_0 = 2,
    GK_Q4_1 = 3,
    GK_Q8_0 = 8,
    GK_Q4_K = 12,
    GK_Q6_K = 14,
    GK_Q8_K = 15,    /* activation type of the K-quant dot products (float d; int8 qs[256]; int16 bsums[16]) */
    GK_I32 = 26,
    GK_BF16 = 30,
    GK_TYPE_COUNT = 31,
} gk_type;

typedef struct gk_type_info {
    gk_type type;
    const char *name;        /* "q4_0" (lower case, as on the command line) */
    int block;               /* elements per block (1 for float types) */
    size_t block_bytes;      /* bytes per block */
    bool quantized;
    /* n must be a multiple of block. */
    void (*to_f32)(const void *src, float *dst, int64_t n);
    void (*from_f32)(const float *src, void *dst, int64_t n);
} gk_type_info;

/* NULL when the type is not supported by gencost. */
const gk_type_info *gk_type_get(int type);
/* Case-insensitive name -> type; -1 if unknown. */
int gk_type_from_name(const char *name);
const char *gk_type_name(int type);      /* "?" when unknown */
/* Bytes of n elements (n a multiple of the block size); 0 if not. */
size_t gk_type_bytes(int type, int64_t n);

/* Scalar half/bfloat conversions (IEEE 754 binary16 round-to-nearest-even; bf16 RNE). */
float gk_f16_to_f32(uint16_t h);
uint16_t gk_f32_to_f16(float f);
float gk_bf16_to_f32(uint16_t h);
uint16_t gk_f32_to_bf16(float f);

#endif
