/* Dense F32 micro-kernel, AVX2 + FMA: C[6×16] += A·B, from the template in sgemm_6x2v.h; and
 * its F16-panel twin, B converted by F16C as it is loaded (vcvtph2ps issues beside the FMAs:
 * two per twelve FMAs). */
#include "kernels/cpu/x86/simd_avx2.h"
#include "kernels/cpu/x86/avx2.h"

#define V __m256
#define VW 8
#define V_ZERO() _mm256_setzero_ps()
#define V_BCAST(p) _mm256_broadcast_ss(p)
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps(p, v)
#define V_ADD(x, y) _mm256_add_ps(x, y)
#define V_FMA(x, y, acc) _mm256_fmadd_ps(x, y, acc)
#define V_LOAD_H(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#include "kernels/cpu/x86/sgemm_6x2v.h"

GK_SGEMM_6X2V(gk_avx2_sgemm_6x16)
GK_SGEMM_6X2V_B(gk_avx2_sgemm_h_6x16, uint16_t, V_LOAD_H)
