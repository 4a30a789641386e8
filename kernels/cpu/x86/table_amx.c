/* The AMX micro-kernel table: the many-column GEMMs of Q4_0, Q8_0, F16 and BF16 on AMX-BF16 tiles
 * (gemm_bf16_amx.c); every other entry is NULL and comes from the AVX-512 table. Linux keeps the
 * 8 KiB tile state off until a process asks (arch_prctl ARCH_REQ_XCOMP_PERM, Linux 5.16+,
 * Documentation/arch/x86/xstate.rst); without that permission the first tile instruction
 * raises SIGILL, so the table exists only once the request succeeded. */
#include "kernels/cpu/microkernels.h"

#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernels/platform.h"
#include "kernels/cpu/x86/amx.h"

enum { ARCH_REQ_XCOMP_PERM_ = 0x1023, XFEATURE_XTILEDATA_ = 18 };

#define BGEMM(name) \
    {gk_amx_bgemm_pack_##name, gk_amx_bgemm, GK_AMX_BGEMM_ROWS, GK_AMX_BGEMM_BLOCK, GK_IGEMM_ACT_BF16X16, \
     gk_amx_bgemm_pack_act}

static const gk_ukernels table = {
    .isa = "amx",
    .igemm = {
        [GK_Q4_0] = BGEMM(q4_0),
        [GK_Q8_0] = BGEMM(q8_0),
        [GK_F16] = BGEMM(f16),
        [GK_BF16] = BGEMM(bf16),
    },
};

/* Granted once per process (for every thread); asking again is harmless. */
static bool tile_permission(void) {
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM_, XFEATURE_XTILEDATA_) == 0;
}

const gk_ukernels *gk_ukernels_amx(void) {
    const gk_cpu_features *f = gk_cpu_features_get();
    if (!(f->amx_tile && f->amx_int8 && f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->avx2 && f->fma &&
          f->f16c))
        return NULL;
    return tile_permission() ? &table : NULL;
}
