/* CPU feature detection. On x86-64 a feature counts only when the OS also saves its register
 * state (XGETBV), otherwise AVX code would fault on a CPU that has it. */
#include "kernels/platform.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
static unsigned long long xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void detect(gk_cpu_features *f) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    bool osxsave = c & (1u << 27);
    f->sse42 = c & (1u << 20);
    bool avx_hw = c & (1u << 28), fma_hw = c & (1u << 12), f16c_hw = c & (1u << 29);
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    bool ymm = (xcr0 & 0x6) == 0x6;            /* SSE + AVX state */
    bool zmm = ymm && (xcr0 & 0xe0) == 0xe0;   /* opmask + ZMM state */
    f->avx = avx_hw && ymm;
    f->fma = fma_hw && ymm;
    f->f16c = f16c_hw && ymm;
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = ymm && (b & (1u << 5));
    f->avx512f = zmm && (b & (1u << 16));
    f->avx512dq = zmm && (b & (1u << 17));
    f->avx512bw = zmm && (b & (1u << 30));
    f->avx512vl = zmm && (b & (1u << 31));
    f->avx512vnni = zmm && (c & (1u << 11));
    bool tiles = (xcr0 & 0x60000) == 0x60000;   /* XTILECFG + XTILEDATA state */
    f->amx_bf16 = tiles && (d & (1u << 22));
    f->amx_tile = tiles && (d & (1u << 24));
    f->amx_int8 = tiles && (d & (1u << 25));
    __cpuid_count(7, 1, a, b, c, d);
    f->avxvnni = ymm && (a & (1u << 4));
    f->avx512bf16 = zmm && (a & (1u << 5));
}
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP_SVE
#define HWCAP_SVE (1 << 22)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif
#ifndef HWCAP2_BF16
#define HWCAP2_BF16 (1 << 14)
#endif
#ifndef HWCAP2_SME
#define HWCAP2_SME (1 << 23)
#endif
static void detect(gk_cpu_features *f) {
    unsigned long h = getauxval(AT_HWCAP), h2 = getauxval(AT_HWCAP2);
    f->neon = true; /* mandatory in AArch64 */
    f->fp16 = h & HWCAP_ASIMDHP;
    f->dotprod = h & HWCAP_ASIMDDP;
    f->sve = h & HWCAP_SVE;
    f->i8mm = h2 & HWCAP2_I8MM;
    f->bf16 = h2 & HWCAP2_BF16;
    f->sme = h2 & HWCAP2_SME;
}
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
static bool sysctl_flag(const char *name) {
    int v = 0;
    size_t n = sizeof v;
    return sysctlbyname(name, &v, &n, NULL, 0) == 0 && v;
}
static void detect(gk_cpu_features *f) {
    f->neon = true;
    f->fp16 = sysctl_flag("hw.optional.arm.FEAT_FP16");
    f->dotprod = sysctl_flag("hw.optional.arm.FEAT_DotProd");
    f->i8mm = sysctl_flag("hw.optional.arm.FEAT_I8MM");
    f->bf16 = sysctl_flag("hw.optional.arm.FEAT_BF16");
    f->sme = sysctl_flag("hw.optional.arm.FEAT_SME");
}
#else
static void detect(gk_cpu_features *f) { (void)f; }
#endif

const gk_cpu_features *gk_cpu_features_get(void) {
    static gk_cpu_features f;
    static int done;   /* benign: detection is idempotent and first called before threads start */
    if (!done) {
        detect(&f);
        done = 1;
    }
    return &f;
}

void gk_cpu_features_string(const gk_cpu_features *f, char *buf, int n) {
    struct { bool on; const char *name; } all[] = {
        {f->sse42, "sse4.2"}, {f->avx, "avx"}, {f->avx2, "avx2"}, {f->fma, "fma"}, {f->f16c, "f16c"},
        {f->avx512f, "avx512f"}, {f->avx512bw, "avx512bw"}, {f->avx512vl, "avx512vl"},
        {f->avx512dq, "avx512dq"}, {f->avx512vnni, "avx512vnni"}, {f->avx512bf16, "avx512bf16"},
        {f->avxvnni, "avxvnni"}, {f->amx_tile, "amx-tile"}, {f->amx_int8, "amx-int8"}, {f->amx_bf16, "amx-bf16"}, {f->neon, "neon"}, {f->fp16, "fp16"}, {f->dotprod, "dotprod"},
        {f->i8mm, "i8mm"}, {f->bf16, "bf16"}, {f->sve, "sve"}, {f->sme, "sme"},
    };
    int used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!all[i].on) continue;
        int w = snprintf(buf + used, (size_t)(n - used), "%s%s", used ? " " : "", all[i].name);
        if (w < 0 || w >= n - used) break;
        used += w;
    }
}
