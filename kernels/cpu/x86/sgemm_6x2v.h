/* The x86 F32 sgemm micro-kernel, written once for every vector width: C[6 × 2·VW] += A·B (the
 * gk_sgemm_fn contract in ukernel.h). Included by sgemm_avx2.c (ymm, VW = 8: 6×16) and
 * sgemm_avx512.c (zmm, VW = 16: 6×32) after they define:
 *   V            the vector type              VW        floats per vector
 *   V_ZERO()     all-zero vector              V_BCAST(p) *p in every lane
 *   V_LOAD(p)    unaligned load               V_STORE(p, v)  unaligned store
 *   V_ADD(x, y)  x + y                        V_FMA(x, y, acc)  x·y + acc, fused
 *
 * 6 rows × 2 vectors is the register blocking of BLIS's Haswell kernel: twelve accumulators
 * cover the FMA latency × throughput (4 cycles × 2 per cycle = 8 in flight), and each k step
 * needs two loads of B and six broadcasts of A for twelve FMAs, which the load ports sustain.
 * That leaves four of the sixteen vector registers (AVX2) for B and the broadcast. */
#ifndef GK_SGEMM_6X2V_H
#define GK_SGEMM_6X2V_H

#define GK_SGEMM_ROW_FMA(i)                      \
    do {                                         \
        V ai = V_BCAST(a + (i));                 \
        c##i##0 = V_FMA(ai, b0, c##i##0);        \
        c##i##1 = V_FMA(ai, b1, c##i##1);        \
    } while (0)

#define GK_SGEMM_ROW_STORE(i)                                    \
    do {                                                         \
        float *ci = c + (i) * ldc;                               \
        V_STORE(ci, V_ADD(V_LOAD(ci), c##i##0));                 \
        V_STORE(ci + VW, V_ADD(V_LOAD(ci + VW), c##i##1));       \
    } while (0)

/* B's element type BT and its load as VW floats, BLOAD(p): float panels (V_LOAD), or F16
 * panels converted in registers (the sgemm_h entry of microkernels.h). */
#define GK_SGEMM_6X2V_B(name, BT, BLOAD)                                                \
    void name(int64_t kc, const float *a, const BT *b, float *c, int64_t ldc) {         \
        V c00 = V_ZERO(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;        \
        V c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;             \
        for (int64_t p = 0; p < kc; p++, a += 6, b += 2 * VW) {                         \
            V b0 = BLOAD(b), b1 = BLOAD(b + VW);                                        \
            GK_SGEMM_ROW_FMA(0);                                                        \
            GK_SGEMM_ROW_FMA(1);                                                        \
            GK_SGEMM_ROW_FMA(2);                                                        \
            GK_SGEMM_ROW_FMA(3);                                                        \
            GK_SGEMM_ROW_FMA(4);                                                        \
            GK_SGEMM_ROW_FMA(5);                                                        \
        }                                                                               \
        GK_SGEMM_ROW_STORE(0);                                                          \
        GK_SGEMM_ROW_STORE(1);                                                          \
        GK_SGEMM_ROW_STORE(2);                                                          \
        GK_SGEMM_ROW_STORE(3);                                                          \
        GK_SGEMM_ROW_STORE(4);                                                          \
        GK_SGEMM_ROW_STORE(5);                                                          \
    }

#define GK_SGEMM_6X2V(name) GK_SGEMM_6X2V_B(name, float, V_LOAD)

#endif
