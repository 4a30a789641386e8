/* Picks the micro-kernel table for this CPU and fills its gaps from the next-best table.
 *
 * Per-ISA tables live in their own files (kernels/cpu/ukernels_<isa>.c, compiled with only that
 * ISA's flags); each table function returns NULL when the CPU lacks the ISA. */
#include <pthread.h>
#include <string.h>

#include "kernels/platform.h"
#include "kernels/cpu/microkernels.h"

#if defined(__x86_64__)
#define HAVE_AMX 1
#define HAVE_AVX512 1
#define HAVE_AVX2 1
#elif defined(__aarch64__)
#define HAVE_I8MM 1
#define HAVE_DOTPROD 1
#define HAVE_NEON 1
#endif

typedef struct isa_entry {
    const char *name;
    const gk_ukernels *(*table)(void);
    bool (*usable)(const gk_cpu_features *f);
} isa_entry;

static bool always(const gk_cpu_features *f) {
    (void)f;
    return true;
}
#ifdef HAVE_AMX
static bool has_amx(const gk_cpu_features *f) { return f->amx_tile && f->amx_int8 && f->avx512f && f->avx512bw && f->avx512vl; }
#endif
#ifdef HAVE_AVX512
static bool has_avx512(const gk_cpu_features *f) { return f->avx512f && f->avx512bw && f->avx512vl && f->fma && f->f16c; }
#endif
#ifdef HAVE_AVX2
static bool has_avx2(const gk_cpu_features *f) { return f->avx2 && f->fma && f->f16c; }
#endif
#ifdef HAVE_I8MM
static bool has_i8mm(const gk_cpu_features *f) { return f->i8mm && f->dotprod && f->fp16; }
#endif
#ifdef HAVE_DOTPROD
static bool has_dotprod(const gk_cpu_features *f) { return f->dotprod && f->fp16; }
#endif
#ifdef HAVE_NEON
static bool has_neon(const gk_cpu_features *f) { return f->neon; }
#endif

/* Best first; each table's gaps are filled from the ones after it. */
static const isa_entry isas[] = {
#ifdef HAVE_AMX
    {"amx", gk_ukernels_amx, has_amx},
#endif
#ifdef HAVE_AVX512
    {"avx512", gk_ukernels_avx512, has_avx512},
#endif
#ifdef HAVE_AVX2
    {"avx2", gk_ukernels_avx2, has_avx2},
#endif
#ifdef HAVE_I8MM
    {"i8mm", gk_ukernels_i8mm, has_i8mm},
#endif
#ifdef HAVE_DOTPROD
    {"dotprod", gk_ukernels_dotprod, has_dotprod},
#endif
#ifdef HAVE_NEON
    {"neon", gk_ukernels_neon, has_neon},
#endif
    {"scalar", gk_ukernels_scalar, always},
};
enum { N_ISA = sizeof isas / sizeof isas[0] };

static gk_ukernels merged[N_ISA];
static bool present[N_ISA];
static const char *avail_names[N_ISA + 1];
static pthread_once_t once = PTHREAD_ONCE_INIT;

#define FILL(field) \
    if (!dst->field) dst->field = src->field

/* Entries that belong together (an activation format and the kernels that read it; an sgemm
 * and its MR×NR) are taken together. */
static void fill_type(gk_type_kernels *dst, const gk_type_kernels *src) {
    if (!dst->vec_dot) {
        *dst = *src;
        dst->matvec_x8 = NULL;   /* the storage layout is a table's own choice (microkernels.h) */
        return;
    }
    if (dst->act_type != src->act_type) return;
    FILL(quantize_act);
    FILL(matvec);
    if (!dst->dot_tile && src->dot_tile) {
        dst->dot_tile = src->dot_tile;
        dst->tile_rows = src->tile_rows;
        dst->tile_cols = src->tile_cols;
    }
}

static void fill_table(gk_ukernels *dst, const gk_ukernels *src) {
    for (int t = 0; t < GK_TYPE_COUNT; t++) {
        fill_type(&dst->t[t], &src->t[t]);
        /* the packed GEMM reads the act type's blocks (packed by the driver), whichever table's
         * quantiser wrote them: it fits any table with the same act type */
        if (!dst->igemm[t].kernel && src->igemm[t].kernel && dst->t[t].act_type == src->t[t].act_type)
            dst->igemm[t] = src->igemm[t];
    }
    if (!dst->sgemm) {
        dst->sgemm = src->sgemm;
        dst->sgemm_mr = src->sgemm_mr;
        dst->sgemm_nr = src->sgemm_nr;
        dst->sgemm_h = src->sgemm_h;   /* its F16-panel twin has the same MR×NR; never another's */
    }
    FILL(sgemm_pack_b);
    FILL(sgemm_pack_h);   /* any nr, as sgemm_pack_b */
    FILL(f16_to_f32);
    FILL(f32_to_f16);
    FILL(bf16_to_f32);
    FILL(dot_f32);
    FILL(axpy_f32);
    FILL(dot_f32_f16);
    FILL(axpy_f16);
    FILL(axpy_rows_f16);
    FILL(dot_f32_q8_0);
    FILL(axpy_q8_0);
    FILL(scale_max);
    FILL(exp_sum);
    FILL(silu_mul);
    FILL(softmax_cols);
}

static void build(void) {
    const gk_cpu_features *f = gk_cpu_features_get();
    int na = 0;
    for (int i = 0; i < N_ISA; i++) {
        const gk_ukernels *t = isas[i].usable(f) ? isas[i].table() : NULL;
        if (!t) continue;
        merged[i] = *t;
        for (int j = i + 1; j < N_ISA; j++) {
            const gk_ukernels *next = isas[j].usable(f) ? isas[j].table() : NULL;
            if (next) fill_table(&merged[i], next);
        }
        present[i] = true;
        avail_names[na++] = isas[i].name;
    }
    avail_names[na] = NULL;
}

const gk_ukernels *gk_ukernels_select(const char *isa) {
    pthread_once(&once, build);
    for (int i = 0; i < N_ISA; i++) {
        if (!present[i]) continue;
        if (!isa || !*isa || strcmp(isa, isas[i].name) == 0) return &merged[i];
    }
    return NULL;
}

const char *const *gk_ukernels_available(void) {
    pthread_once(&once, build);
    return avail_names;
}
