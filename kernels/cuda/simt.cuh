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
 *   GK_LOCAL(float, v);      a per-thread value that lives across regions: R(v) inside regions
 *   GK_SHARED(float, s, n);  block-shared memory
 *
 * On the device, GK_THREADS runs its body once with tid = threadIdx.x, GK_LOCAL is a register
 * and GK_WARP_SUM uses shuffles. In emulation (no __CUDACC__), GK_THREADS is a loop over all
 * threads of the block, GK_LOCAL is an array indexed by tid, and GK_WARP_SUM performs the same
 * xor-butterfly over the lanes of each warp. A region may be run in reverse thread order, so a
 * test finds a body that depends on the order of threads between two barriers.
 *
 * Rules for a body (what keeps both executions equal): control flow outside GK_THREADS is
 * uniform over the block (depends only on block indices and arguments); no `return`, `break`
 * or `continue` leaves a region; data written by one thread and read by another is separated by
 * GK_SYNC (or, within one warp, by a warp op); blocks are multiples of 32 threads.
 */
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
#define GK_SHARED(T, name, n) __shared__ T name[n]
#define GK_SYNC() __syncthreads()
#define GK_WARP_SUM(name) (name[0] = gk_warp_sum_(name[0]))
#define GK_WARP_MAX(name) (name[0] = gk_warp_max_(name[0]))
#define GK_WARP_SUM_AT(name, i) (name[0][i] = gk_warp_sum_(name[0][i]))

static __device__ __forceinline__ float gk_warp_sum_(float v)
{
    GK_UNROLL
    for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}
static __device__ __forceinline__ float gk_warp_max_(float v)
{
    GK_UNROLL
    for (int m = 16; m > 0; m >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, m));
    return v;
}

#else
/* ---- host emulation -------------------------------------------------------------------- */
#include <math.h>
#include <string.h>

typedef struct gk_emul_blk {
    int64_t bx, by, bz;
    int nt;           /* threads in the block, a multiple of 32, <= GK_MAX_THREADS */
    int reverse;      /* run every region's threads last to first */
} gk_emul_blk;

#define GK_HD static inline
#define GK_DEV static inline
#define GK_RESTRICT restrict
#define GK_UNROLL
#define GK_BODY(name, argtype) static inline void name(const gk_emul_blk *gk_blk_, const argtype a)
#define GK_BX (gk_blk_->bx)
#define GK_BY (gk_blk_->by)
#define GK_BZ (gk_blk_->bz)
#define GK_NT (gk_blk_->nt)
#define GK_THREADS                                                                            \
    for (int gk_i_ = 0, tid = 0;                                                              \
         gk_i_ < gk_blk_->nt && ((tid = gk_blk_->reverse ? gk_blk_->nt - 1 - gk_i_ : gk_i_), 1); \
         ++gk_i_)
#define GK_LOCAL(T, name) T name[GK_MAX_THREADS]
#define GK_LOCAL_ARR(T, name, n) T name[GK_MAX_THREADS][n]
#define R(name) name[tid]
#define GK_SHARED(T, name, n) T name[n]
#define GK_SYNC() ((void)0)
#define GK_WARP_SUM(name) gk_emul_warp_(&name[0], 1, gk_blk_->nt, 0)
#define GK_WARP_MAX(name) gk_emul_warp_(&name[0], 1, gk_blk_->nt, 1)
#define GK_WARP_SUM_AT(name, i) \
    gk_emul_warp_(&name[0][i], (int)(sizeof(name[0]) / sizeof(float)), gk_blk_->nt, 0)

/* The same xor butterfly as the shuffles: after step m, lane l holds f(v[l], v[l^m]).
 * Thread t's value is v[t * stride]. */
static inline void gk_emul_warp_(float *v, int stride, int nt, int is_max)
{
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
#define GK_EMUL_LAUNCH(body, gx, gy, gz, nthreads, rev, args)                                 \
    do {                                                                                      \
        for (int64_t gk_z_ = 0; gk_z_ < (gz); gk_z_++)                                        \
            for (int64_t gk_y_ = 0; gk_y_ < (gy); gk_y_++)                                    \
                for (int64_t gk_x_ = 0; gk_x_ < (gx); gk_x_++) {                              \
                    gk_emul_blk gk_b_ = {gk_x_, gk_y_, gk_z_, (nthreads), (rev)};             \
                    body(&gk_b_, args);                                                       \
                }                                                                             \
    } while (0)
#endif

/* A block-wide reduction of a GK_LOCAL float: every thread ends with the result. `red` is a
 * GK_SHARED float array of GK_MAX_THREADS/32; the trailing sync lets the caller reuse it. */
#define GK_BLOCK_SUM(v, red)                                                                  \
    GK_WARP_SUM(v);                                                                           \
    GK_THREADS { if ((tid & 31) == 0) red[tid >> 5] = R(v); }                                 \
    GK_SYNC();                                                                                \
    GK_THREADS {                                                                              \
        float s_ = 0.0f;                                                                      \
        for (int w_ = 0; w_ < GK_NT / 32; w_++) s_ += red[w_];                                \
        R(v) = s_;                                                                            \
    }                                                                                         \
    GK_SYNC()
#define GK_BLOCK_MAX(v, red)                                                                  \
    GK_WARP_MAX(v);                                                                           \
    GK_THREADS { if ((tid & 31) == 0) red[tid >> 5] = R(v); }                                 \
    GK_SYNC();                                                                                \
    GK_THREADS {                                                                              \
        float s_ = red[0];                                                                    \
        for (int w_ = 1; w_ < GK_NT / 32; w_++) s_ = fmaxf(s_, red[w_]);                      \
        R(v) = s_;                                                                            \
    }                                                                                         \
    GK_SYNC()

#endif
