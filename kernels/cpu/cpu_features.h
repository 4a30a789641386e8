/* What the CPU running this process can execute (cpuid + XGETBV on x86-64, HWCAP on AArch64).
 * Used to pick micro-kernels at run time and by `gencost info`. */
#ifndef GK_CPU_FEATURES_H
#define GK_CPU_FEATURES_H
#include <stdbool.h>

typedef struct gk_cpu_features {
    /* x86-64 */
    bool sse42, avx, avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16, avxvnni;
    /* AArch64 */
    bool neon, fp16, dotprod, i8mm, bf16, sve, sme;
} gk_cpu_features;

const gk_cpu_features *gk_cpu_features_get(void);
/* Space-separated names of the features present, e.g. "avx2 fma f16c". */
void gk_cpu_features_string(const gk_cpu_features *f, char *buf, int n);

#endif
