/* One kernel source, two executions: on the GPU (nvcc) and emulated on the host (C17).
 *
 * Each CUDA kernel of this backend is written once, as a "block body" in a .cuh header, in the
 * common subset of C17 and CUDA C++. The body describes the work of one thread block as a
 * sequence of thread regions separated by barriers, the way MCUDA/POCL translate SIMT code for
 * CPUs ("loop fission" at every barrier):
 *
 *   GK_THREADS { ... }       code every thread of the block runs, with its index `tid`
 *   GK_SYNC();               __syncthreads(): the regions before it finish before any after it
 *   GK_WARP_SUM(v);          butterfly sum of the per-thread value v across each warp
 *   GK_MMA_S8(d, i, a, j, b, k);  the warp's m16n8k32 8-bit tensor-core product on fragments
 *                            held in GK_LOCAL_ARR arrays from elements i, j, k (sm_80+);
 *                            GK_MMA_F16 the m16n8k16 F16 one (F32 sums)
 *   GK_QUAD_MAX_AT(v, i);    max (GK_QUAD_SUM_AT: sum) over each group of 4 lanes (an mma row)
 *   GK_LOCAL(float, v);      a per-thread value that lives across regions: R(v) inside regions
 *   GK_SHARED(float, s, n);  block-shared memory (16-byte aligned), read GK_SLD(s, i) and
 *                            written GK_SST(s, i, v); a helper function takes it as
 *                            GK_SHARED_PARAM(float, s) and is passed GK_SHARED_PASS(s)
 *
 * On the device, GK_THREADS runs its body once with tid = threadIdx.x, GK_LOCAL is a register
 * and GK_WARP_SUM uses shuffles. In emulation (no __CUDACC__), GK_THREADS is a loop over all
 * threads of the block, GK_LOCAL is an array indexed by tid, and GK_WARP_SUM performs the same
 * xor-butterfly over the lanes of each warp. A region may be run in reverse thread order, so a
 * test finds a body that depends on the order of threads between two barriers.
 *
 * Rules for a body (what keeps both executions equal): control flow outside GK_THREADS is
 * uniform over the block (depends only on block indices and arguments); no `return`, `break`
 * or `continue` leaves a region; shared data written by one thread and read or written by
 * another is separated by GK_SYNC; blocks are multiples of 32 threads.
 *
 * Emulation checks the barrier rule: GK_SYNC starts a new epoch, and every GK_SLD/GK_SST is
 * checked against the last writer and readers of that element in the current epoch. On the GPU
 * the threads between two barriers interleave in any order, so a read of another thread's
 * write (or a write over another thread's read or write) in the same epoch is a race even when
 * the regions run one after the other here; it is reported with the array, the index and both
 * threads (and aborts, unless a test collects races with gk_emul_races_collect).
 *
 * Emulation also models global memory transactions (gk_trace_begin): every global load and
 * store of the bodies goes through gk_emul_gmem_ (the loaders in formats.cuh, gk_ldf/gk_stf),
 * and the k-th access of each lane within a region is taken as one warp-wide instruction, the
 * k-th of its warp (a lane that sits one out says so with gk_emul_idle_). Per such warp-step,
 * the bytes the 32 lanes touch fetch a set of 32-byte sectors; a registered buffer counts the
 * requests, the sectors and the distinct bytes used, so a test asserts the fraction of fetched
 * sector bytes that are used (nsight's "sectors per request" view, without caches). */
#ifndef GK_SIMT_CUH
#define GK_SIMT_CUH
#include <stdint.h>
#include <stddef.h>

#define GK_WARP_SIZE 32
#define GK_MAX_THREADS 256

#ifdef __CUDACC__
/* ---- device execution ------------------------------------------------------------------ */
#define GK_HD static __host__ __device__ __forceinline__
#define GK_DEV static __device__ __forceinline__
#define GK_RESTRICT __restrict__
#define GK_UNROLL _Pragma("unroll")
#define GK_BODY(name, argtype) static __device__ __forceinline__ void name(const argtype a)
#define GK_BX ((int64_t)blockIdx.x)
#define GK_BY ((int64_t)blockIdx.y)
#define GK_BZ ((int64_t)blockIdx.z)
#define GK_NT ((int)blockDim.x)
#define GK_THREADS for ([[maybe_unused]] int tid = (int)threadIdx.x, gk_once_ = 1; gk_once_; gk_once_ = 0)
#define GK_LOCAL(T, name) T name[1]
#define GK_LOCAL_ARR(T, name, n) T name[1][n]
#define R(name) name[0]
#define GK_SHARED(T, name, n) __shared__ __align__(16) T name[n]
#define gk_emul_idle_() ((void)0)
#define GK_SLD(arr, i) ((arr)[i])
#define GK_SST(arr, i, v) ((arr)[i] = (v))
#define GK_SHARED_PARAM(T, name) T *name
#define GK_SHARED_PASS(name) name
#define GK_SYNC() __syncthreads()
#define GK_WARP_SUM(name) (name[0] = gk_warp_sum_(name[0]))
#define GK_WARP_MAX(name) (name[0] = gk_warp_max_(name[0]))
#define GK_WARP_SUM_AT(name, i) (name[0][i] = gk_warp_sum_(name[0][i]))

/* D += A·B on the tensor cores, one m16n8k32 tile of signed 8-bit products summed in 32 bits
 * (PTX mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32, sm_80+). Per lane (g = lane/4,
 * t = lane%4), each 32-bit word four consecutive bytes along k:
 *   a[0] = A[g][4t..], a[1] = A[g+8][4t..], a[2] = A[g][16+4t..], a[3] = A[g+8][16+4t..]
 *   b[0] = B[4t..][g], b[1] = B[16+4t..][g]     (B is k x n: column g of it)
 *   d[0] = D[g][2t], d[1] = D[g][2t+1], d[2] = D[g+8][2t], d[3] = D[g+8][2t+1]
 * (the PTX ISA's fragment layout for .s8 m16n8k32; the emulation below follows it, and
 * tests/test_cuda_mma_emul.c checks it against a plain product). */
#define GK_MMA_S8(d, di, a, ai, b, bi) gk_mma_s8_(&d[0][di], &a[0][ai], &b[0][bi])
static __device__ __forceinline__ void gk_mma_s8_(int *d, const uint32_t *a, const uint32_t *b) {
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    __trap(); /* never launched: gk_plan_matmul_path picks the mma kernels from sm_80 only */
#endif
}

/* D += A·B for F16 A (16x16) and B (16x8), F32 D (PTX mma.sync.aligned.m16n8k16.row.col.f32.
 * f16.f16.f32, sm_80+). Per lane (g = lane/4, t = lane%4), each word two halves along k, the
 * lower one first:
 *   a[0] = A[g][2t..], a[1] = A[g+8][2t..], a[2] = A[g][2t+8..], a[3] = A[g+8][2t+8..]
 *   b[0] = B[2t..][g], b[1] = B[2t+8..][g]
 *   d as the 8-bit tile's: d[0] = D[g][2t], d[1] = D[g][2t+1], d[2] = D[g+8][2t], d[3] = D[g+8][2t+1] */
#define GK_MMA_F16(d, di, a, ai, b, bi) gk_mma_f16_(&d[0][di], &a[0][ai], &b[0][bi])
static __device__ __forceinline__ void gk_mma_f16_(float *d, const uint32_t *a, const uint32_t *b) {
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    __trap(); /* never launched: gk_plan_attn_mma picks the tensor-core attention from sm_80 only */
#endif
}
/* The max or sum of a value over the 4 lanes of a group (lanes 4g .. 4g+3: one row of an mma
 * tile), every lane of the group ending with it. */
#define GK_QUAD_MAX_AT(name, i) (name[0][i] = gk_quad_(name[0][i], 1))
#define GK_QUAD_SUM_AT(name, i) (name[0][i] = gk_quad_(name[0][i], 0))
static __device__ __forceinline__ float gk_quad_(float v, int is_max) {
    GK_UNROLL
    for (int m = 1; m < 4; m <<= 1) {
        const float o = __shfl_xor_sync(0xffffffffu, v, m);
        v = is_max ? fmaxf(v, o) : v + o;
    }
    return v;
}

static __device__ __forceinline__ float gk_warp_sum_(float v) {
    GK_UNROLL
    for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}
static __device__ __forceinline__ float gk_warp_max_(float v) {
    GK_UNROLL
    for (int m = 16; m > 0; m >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, m));
    return v;
}

#else
/* ---- host emulation -------------------------------------------------------------------- */
#include "kernels/quant.h" /* gk_f16_to_f32: the F16 tile's inputs */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gk_emul_blk {
    int64_t bx, by, bz;
    int nt;      /* threads in the block, a multiple of 32, <= GK_MAX_THREADS */
    int reverse; /* run every region's threads last to first */
} gk_emul_blk;

/* Shadow of one shared-memory element: its last writer and reader(s) and their epochs. */
typedef struct gk_sh_cell {
    uint32_t w_epoch, r_epoch; /* 0: never in this block */
    int16_t writer, reader;    /* reader -1: several threads */
} gk_sh_cell;
typedef struct gk_sh_info {
    const char *name;
    int64_t n;
    gk_sh_cell *cell;
} gk_sh_info;

/* A global buffer whose accesses the transaction model counts (see gk_trace_begin). */
typedef struct gk_mem_buf {
    const char *name;
    uintptr_t lo, hi;                     /* [lo, hi) */
    uint64_t ld_req, ld_sectors, ld_used; /* warp-wide loads, 32-byte sectors, bytes used */
    uint64_t st_req, st_sectors, st_used; /* the same for stores */
} gk_mem_buf;

typedef struct gk_mem_acc {
    uintptr_t addr;
    uint32_t warp, step;
    uint16_t buf, bytes;
    uint8_t store;
} gk_mem_acc;

typedef struct gk_emul_state {
    int tid;        /* the thread a region is running */
    uint32_t epoch; /* advanced by every GK_SYNC and block */
    int collect_races;
    int64_t races;
    char race_msg[256]; /* the first race */
    gk_mem_buf *bufs;   /* tracing when non-NULL */
    int nbuf;
    gk_mem_acc *acc; /* this region's accesses */
    size_t nacc, cap;
    uint32_t step[GK_MAX_THREADS]; /* global accesses of each thread in this region */
    int64_t launches;              /* GK_EMUL_LAUNCH calls */
} gk_emul_state;

static inline gk_emul_state *gk_emul_(void) {
    static gk_emul_state st = {.epoch = 1};
    return &st;
}

/* Races are fatal by default (a test fails at the first); collecting counts them instead. */
static inline void gk_emul_races_collect(int on) {
    gk_emul_state *s = gk_emul_();
    s->collect_races = on;
    s->races = 0;
    s->race_msg[0] = 0;
}
static inline int64_t gk_emul_races(void) { return gk_emul_()->races; }
static inline const char *gk_emul_race_msg(void) { return gk_emul_()->race_msg; }

static inline gk_sh_info gk_emul_sh_init_(const char *name, int64_t n, gk_sh_cell *cell) {
    memset(cell, 0, (size_t)n * sizeof *cell);
    gk_sh_info i = {name, n, cell};
    return i;
}

static inline void gk_emul_race_(const char *kind, const gk_sh_info *sh, int64_t i, int other, int t) {
    gk_emul_state *s = gk_emul_();
    char msg[sizeof s->race_msg];
    if (other >= 0)
        snprintf(msg, sizeof msg,
                 "shared-memory race on %s[%lld]: %s by thread %d after thread %d with no GK_SYNC between",
                 sh->name, (long long)i, kind, t, other);
    else
        snprintf(
            msg, sizeof msg,
            "shared-memory race on %s[%lld]: %s by thread %d after several threads with no GK_SYNC between",
            sh->name, (long long)i, kind, t);
    if (!s->races) memcpy(s->race_msg, msg, sizeof msg);
    s->races++;
    if (!s->collect_races) {
        fprintf(stderr, "%s\n", msg);
        abort();
    }
}

/* Checks one shared access of the running thread against the element's epoch record. */
static inline void gk_emul_sh_(const gk_sh_info *sh, int64_t i, int store) {
    gk_emul_state *s = gk_emul_();
    if (i < 0 || i >= sh->n) {
        fprintf(stderr, "shared array %s: index %lld outside [0, %lld)\n", sh->name, (long long)i,
                (long long)sh->n);
        abort();
    }
    gk_sh_cell *c = &sh->cell[i];
    const int t = s->tid;
    const uint32_t e = s->epoch;
    if (c->w_epoch == e && c->writer != t)
        gk_emul_race_(store ? "write over a write" : "read of a write", sh, i, c->writer, t);
    if (store) {
        if (c->r_epoch == e && c->reader != t) gk_emul_race_("write over a read", sh, i, c->reader, t);
        c->w_epoch = e;
        c->writer = (int16_t)t;
    } else if (c->r_epoch != e) {
        c->r_epoch = e;
        c->reader = (int16_t)t;
    } else if (c->reader != t) {
        c->reader = -1;
    }
}

/* ---- the memory-transaction model ---- */
static inline gk_mem_buf gk_trace_buf(const char *name, const void *p, size_t bytes) {
    gk_mem_buf b = {name, (uintptr_t)p, (uintptr_t)p + bytes, 0, 0, 0, 0, 0, 0};
    return b;
}

static inline int gk_emul_acc_cmp_(const void *pa, const void *pb) {
    const gk_mem_acc *a = pa, *b = pb;
    if (a->buf != b->buf) return a->buf < b->buf ? -1 : 1;
    if (a->store != b->store) return a->store < b->store ? -1 : 1;
    if (a->warp != b->warp) return a->warp < b->warp ? -1 : 1;
    if (a->step != b->step) return a->step < b->step ? -1 : 1;
    if (a->addr != b->addr) return a->addr < b->addr ? -1 : 1;
    return 0;
}

/* Turns the region's accesses into warp-steps: per (buffer, load/store, warp, step), the
 * distinct bytes touched and the 32-byte sectors that hold them. */
static inline void gk_emul_flush_(void) {
    gk_emul_state *s = gk_emul_();
    if (!s->nacc) return;
    qsort(s->acc, s->nacc, sizeof *s->acc, gk_emul_acc_cmp_);
    for (size_t i = 0; i < s->nacc;) {
        const gk_mem_acc *g = &s->acc[i];
        uint64_t used = 0, sectors = 0;
        uintptr_t hi = 0, last_sector = 0;
        int any = 0;
        size_t j = i;
        for (; j < s->nacc && s->acc[j].buf == g->buf && s->acc[j].store == g->store &&
               s->acc[j].warp == g->warp && s->acc[j].step == g->step;
             j++) {
            const uintptr_t a = s->acc[j].addr, e = a + s->acc[j].bytes;
            if (!any || a >= hi)
                used += e - a, hi = e;
            else if (e > hi)
                used += e - hi, hi = e;
            uintptr_t first = a >> 5, last = (e - 1) >> 5;
            if (any && first <= last_sector) first = last_sector + 1;
            if (first <= last) sectors += last - first + 1, last_sector = last;
            any = 1;
        }
        gk_mem_buf *b = &s->bufs[g->buf];
        if (g->store)
            b->st_req++, b->st_sectors += sectors, b->st_used += used;
        else
            b->ld_req++, b->ld_sectors += sectors, b->ld_used += used;
        i = j;
    }
    s->nacc = 0;
}

/* Counts the global accesses of the following launches into bufs[0..n) (caller-owned, from
 * gk_trace_buf); accesses outside them are not counted. gk_trace_end stops. */
static inline void gk_trace_begin(gk_mem_buf *bufs, int n) {
    gk_emul_state *s = gk_emul_();
    s->bufs = bufs;
    s->nbuf = n;
    s->nacc = 0;
}
static inline void gk_trace_end(void) {
    gk_emul_state *s = gk_emul_();
    gk_emul_flush_();
    free(s->acc);
    s->acc = NULL;
    s->nacc = s->cap = 0;
    s->bufs = NULL;
    s->nbuf = 0;
}

/* One global access of `bytes` at p by the running thread. */
static inline void gk_emul_gmem_(const void *p, int bytes, int store) {
    gk_emul_state *s = gk_emul_();
    if (!s->bufs) return;
    const uint32_t step = s->step[s->tid]++;
    const uintptr_t a = (uintptr_t)p;
    int b = 0;
    while (b < s->nbuf && !(a >= s->bufs[b].lo && a < s->bufs[b].hi)) b++;
    if (b == s->nbuf) return;
    if (s->nacc == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4096;
        gk_mem_acc *n = realloc(s->acc, cap * sizeof *n);
        if (!n) {
            fprintf(stderr, "memory trace: out of memory for %zu accesses\n", cap);
            abort();
        }
        s->acc = n, s->cap = cap;
    }
    gk_mem_acc r = {a, (uint32_t)(s->tid >> 5), step, (uint16_t)b, (uint16_t)bytes, (uint8_t)store};
    s->acc[s->nacc++] = r;
}

/* The running lane sits out one warp-wide access its warp makes (predicated off): its later
 * accesses still line up with the other lanes'. */
static inline void gk_emul_idle_(void) {
    gk_emul_state *s = gk_emul_();
    if (s->bufs) s->step[s->tid]++;
}

/* A region starts: the previous one's warp-steps are complete. */
static inline int gk_emul_region_(void) {
    gk_emul_state *s = gk_emul_();
    if (s->bufs) gk_emul_flush_();
    memset(s->step, 0, sizeof s->step);
    return 0;
}
static inline void gk_emul_sync_(void) { gk_emul_()->epoch++; }
static inline void gk_emul_block_(int end) {
    gk_emul_state *s = gk_emul_();
    if (end && s->bufs) gk_emul_flush_();
    s->epoch++;
}

#define GK_HD static inline
#define GK_DEV static inline
#define GK_RESTRICT restrict
#define GK_UNROLL
#define GK_BODY(name, argtype) static inline void name(const gk_emul_blk *gk_blk_, const argtype a)
#define GK_BX (gk_blk_->bx)
#define GK_BY (gk_blk_->by)
#define GK_BZ (gk_blk_->bz)
#define GK_NT (gk_blk_->nt)
#define GK_THREADS                                                                                           \
    for (int gk_i_ = gk_emul_region_(), tid = 0;                                                             \
         gk_i_ < gk_blk_->nt &&                                                                              \
         ((tid = gk_blk_->reverse ? gk_blk_->nt - 1 - gk_i_ : gk_i_), gk_emul_()->tid = tid, 1);             \
         ++gk_i_)
#define GK_LOCAL(T, name) T name[GK_MAX_THREADS]
#define GK_LOCAL_ARR(T, name, n) T name[GK_MAX_THREADS][n]
#define R(name) name[tid]
#define GK_SHARED(T, name, n)                                                                                \
    _Alignas(16) T name[n];                                                                                  \
    gk_sh_cell name##_gk_cells_[n];                                                                          \
    const gk_sh_info name##_gk_shv_ = gk_emul_sh_init_(#name, (n), name##_gk_cells_);                        \
    const gk_sh_info *const name##_gk_sh_ = &name##_gk_shv_
#define GK_SLD(arr, i) (gk_emul_sh_(arr##_gk_sh_, (int64_t)(i), 0), (arr)[i])
#define GK_SST(arr, i, v) (gk_emul_sh_(arr##_gk_sh_, (int64_t)(i), 1), (arr)[i] = (v))
#define GK_SHARED_PARAM(T, name) T *name, const gk_sh_info *name##_gk_sh_
#define GK_SHARED_PASS(name) name, name##_gk_sh_
#define GK_SYNC() gk_emul_sync_()
#define GK_WARP_SUM(name) gk_emul_warp_(&name[0], 1, gk_blk_->nt, 0)
#define GK_WARP_MAX(name) gk_emul_warp_(&name[0], 1, gk_blk_->nt, 1)
#define GK_WARP_SUM_AT(name, i)                                                                              \
    gk_emul_warp_(&name[0][i], (int)(sizeof(name[0]) / sizeof(float)), gk_blk_->nt, 0)

#define GK_MMA_S8(d, di, a, ai, b, bi)                                                                       \
    gk_emul_mma_s8_(&d[0][di], (int)(sizeof(d[0]) / sizeof(int)), &a[0][ai], (int)(sizeof(a[0]) / 4), &b[0][bi], \
                    (int)(sizeof(b[0]) / 4), gk_blk_->nt)

static inline int gk_emul_s8_(uint32_t w, int i) { return (int)(int8_t)(uint8_t)(w >> (8 * i)); }

/* The warp's tile as the device's mma computes it (the layout above GK_MMA_S8 on the device
 * side): A and B gathered from the lanes' fragments, D scattered back. Thread t's fragments
 * start at d[t * ds], a[t * as], b[t * bs]. */
static inline void gk_emul_mma_s8_(int *d, int ds, const uint32_t *a, int as, const uint32_t *b, int bs, int nt) {
    for (int w = 0; w < nt; w += GK_WARP_SIZE) {
        int A[16][32], B[32][8];
        for (int l = 0; l < GK_WARP_SIZE; l++) {
            const int g = l >> 2, t = l & 3;
            const uint32_t *al = a + (size_t)(w + l) * as, *bl = b + (size_t)(w + l) * bs;
            for (int i = 0; i < 4; i++) {
                A[g][4 * t + i] = gk_emul_s8_(al[0], i), A[g + 8][4 * t + i] = gk_emul_s8_(al[1], i);
                A[g][16 + 4 * t + i] = gk_emul_s8_(al[2], i), A[g + 8][16 + 4 * t + i] = gk_emul_s8_(al[3], i);
                B[4 * t + i][g] = gk_emul_s8_(bl[0], i), B[16 + 4 * t + i][g] = gk_emul_s8_(bl[1], i);
            }
        }
        for (int l = 0; l < GK_WARP_SIZE; l++) {
            const int g = l >> 2, t = l & 3;
            int *dl = d + (size_t)(w + l) * ds;
            for (int i = 0; i < 4; i++) {
                const int r = g + 8 * (i >> 1), c = 2 * t + (i & 1);
                int s = 0;
                for (int k = 0; k < 32; k++) s += A[r][k] * B[k][c];
                dl[i] += s;
            }
        }
    }
}

#define GK_MMA_F16(d, di, a, ai, b, bi)                                                                      \
    gk_emul_mma_f16_(&d[0][di], (int)(sizeof(d[0]) / sizeof(float)), &a[0][ai], (int)(sizeof(a[0]) / 4),     \
                     &b[0][bi], (int)(sizeof(b[0]) / 4), gk_blk_->nt)
#define GK_QUAD_MAX_AT(name, i) gk_emul_quad_(&name[0][i], (int)(sizeof(name[0]) / sizeof(float)), gk_blk_->nt, 1)
#define GK_QUAD_SUM_AT(name, i) gk_emul_quad_(&name[0][i], (int)(sizeof(name[0]) / sizeof(float)), gk_blk_->nt, 0)

static inline float gk_emul_h_(uint32_t w, int hi) { return gk_f16_to_f32((uint16_t)(w >> (16 * hi))); }

/* The F16 tile as the device's mma computes it: products exact in F32, summed along k in F32
 * (the hardware's order and internal width are its own: tests allow for F32 rounding). */
static inline void gk_emul_mma_f16_(float *d, int ds, const uint32_t *a, int as, const uint32_t *b, int bs, int nt) {
    for (int w = 0; w < nt; w += GK_WARP_SIZE) {
        float A[16][16], B[16][8];
        for (int l = 0; l < GK_WARP_SIZE; l++) {
            const int g = l >> 2, t = l & 3;
            const uint32_t *al = a + (size_t)(w + l) * as, *bl = b + (size_t)(w + l) * bs;
            for (int i = 0; i < 2; i++) {
                A[g][2 * t + i] = gk_emul_h_(al[0], i), A[g + 8][2 * t + i] = gk_emul_h_(al[1], i);
                A[g][2 * t + 8 + i] = gk_emul_h_(al[2], i), A[g + 8][2 * t + 8 + i] = gk_emul_h_(al[3], i);
                B[2 * t + i][g] = gk_emul_h_(bl[0], i), B[2 * t + 8 + i][g] = gk_emul_h_(bl[1], i);
            }
        }
        for (int l = 0; l < GK_WARP_SIZE; l++) {
            const int g = l >> 2, t = l & 3;
            float *dl = d + (size_t)(w + l) * ds;
            for (int i = 0; i < 4; i++) {
                const int r = g + 8 * (i >> 1), c = 2 * t + (i & 1);
                float s = 0.0f;
                for (int k = 0; k < 16; k++) s += A[r][k] * B[k][c];
                dl[i] += s;
            }
        }
    }
}

/* The two xor steps of the shuffles: lane l ends with f(f(v_l, v_l^1), f(v_l^2, v_l^3)). */
static inline void gk_emul_quad_(float *v, int stride, int nt, int is_max) {
    for (int q = 0; q < nt; q += 4) {
        float x[4];
        for (int l = 0; l < 4; l++) x[l] = v[(size_t)(q + l) * stride];
        for (int m = 1; m < 4; m <<= 1) {
            float y[4];
            for (int l = 0; l < 4; l++) y[l] = is_max ? fmaxf(x[l], x[l ^ m]) : x[l] + x[l ^ m];
            memcpy(x, y, sizeof y);
        }
        for (int l = 0; l < 4; l++) v[(size_t)(q + l) * stride] = x[l];
    }
}

/* The same xor butterfly as the shuffles: after step m, lane l holds f(v[l], v[l^m]).
 * Thread t's value is v[t * stride]. */
static inline void gk_emul_warp_(float *v, int stride, int nt, int is_max) {
    for (int w = 0; w < nt; w += GK_WARP_SIZE) {
        float lane[GK_WARP_SIZE];
        for (int l = 0; l < GK_WARP_SIZE; l++) lane[l] = v[(size_t)(w + l) * stride];
        for (int m = 16; m > 0; m >>= 1) {
            float nv[GK_WARP_SIZE];
            for (int l = 0; l < GK_WARP_SIZE; l++)
                nv[l] = is_max ? fmaxf(lane[l], lane[l ^ m]) : lane[l] + lane[l ^ m];
            memcpy(lane, nv, sizeof nv);
        }
        for (int l = 0; l < GK_WARP_SIZE; l++) v[(size_t)(w + l) * stride] = lane[l];
    }
}

/* Runs body over a grid of gx*gy*gz blocks of nt threads, blocks in order (they are
 * independent by construction). */
#define GK_EMUL_LAUNCH(body, gx, gy, gz, nthreads, rev, args)                                                \
    do {                                                                                                     \
        for (int64_t gk_z_ = 0; gk_z_ < (gz); gk_z_++)                                                       \
            for (int64_t gk_y_ = 0; gk_y_ < (gy); gk_y_++)                                                   \
                for (int64_t gk_x_ = 0; gk_x_ < (gx); gk_x_++) {                                             \
                    gk_emul_blk gk_b_ = {gk_x_, gk_y_, gk_z_, (nthreads), (rev)};                            \
                    gk_emul_block_(0);                                                                       \
                    body(&gk_b_, args);                                                                      \
                    gk_emul_block_(1);                                                                       \
                }                                                                                            \
        gk_emul_()->launches++;                                                                              \
    } while (0)
#endif

/* A block-wide reduction of a GK_LOCAL float: every thread ends with the result. `red` is a
 * GK_SHARED float array of GK_MAX_THREADS/32; the trailing sync lets the caller reuse it. */
#define GK_BLOCK_SUM(v, red)                                                                                 \
    GK_WARP_SUM(v);                                                                                          \
    GK_THREADS {                                                                                             \
        if ((tid & 31) == 0) GK_SST(red, tid >> 5, R(v));                                                    \
    }                                                                                                        \
    GK_SYNC();                                                                                               \
    GK_THREADS {                                                                                             \
        float s_ = 0.0f;                                                                                     \
        for (int w_ = 0; w_ < GK_NT / 32; w_++) s_ += GK_SLD(red, w_);                                       \
        R(v) = s_;                                                                                           \
    }                                                                                                        \
    GK_SYNC()
#define GK_BLOCK_MAX(v, red)                                                                                 \
    GK_WARP_MAX(v);                                                                                          \
    GK_THREADS {                                                                                             \
        if ((tid & 31) == 0) GK_SST(red, tid >> 5, R(v));                                                    \
    }                                                                                                        \
    GK_SYNC();                                                                                               \
    GK_THREADS {                                                                                             \
        float s_ = GK_SLD(red, 0);                                                                           \
        for (int w_ = 1; w_ < GK_NT / 32; w_++) s_ = fmaxf(s_, GK_SLD(red, w_));                             \
        R(v) = s_;                                                                                           \
    }                                                                                                        \
    GK_SYNC()

/* Fragments of the warp's mma tiles from shared memory (row-major tiles of 32-bit words,
 * `stride` words a row), for the lane of group g = lane/4 and t = lane%4: A from rows r (= its
 * tile's row g) and r + 8, B from row r (the tile's column g), each words w0 + t and w0 + 4 + t.
 * One pattern serves the 8-bit m16n8k32 tile (four bytes a word) and the F16 m16n8k16 one (two
 * halves a word): the layouts at GK_MMA_S8 and GK_MMA_F16. Called inside a region. */
GK_DEV void gk_frag_a(GK_SHARED_PARAM(const uint32_t, sh), int r, int stride, int w0, int t, uint32_t *a) {
    a[0] = GK_SLD(sh, r * stride + w0 + t);
    a[1] = GK_SLD(sh, (r + 8) * stride + w0 + t);
    a[2] = GK_SLD(sh, r * stride + w0 + 4 + t);
    a[3] = GK_SLD(sh, (r + 8) * stride + w0 + 4 + t);
}
GK_DEV void gk_frag_b(GK_SHARED_PARAM(const uint32_t, sh), int r, int stride, int w0, int t, uint32_t *b) {
    b[0] = GK_SLD(sh, r * stride + w0 + t);
    b[1] = GK_SLD(sh, r * stride + w0 + 4 + t);
}

#endif
