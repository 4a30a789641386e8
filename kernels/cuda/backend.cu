/* The CUDA backend: device memory (cudaMalloc), one non-blocking stream per backend, ops
 * enqueued asynchronously; download() and sync() are the only synchronisation points.
 *
 * matmul: M <= GK_MV_MAX_M columns (decode) run the custom kernels that read ggml blocks
 * directly (quantized weights on the integer path: the activations quantised to 8-bit blocks,
 * once for consecutive matmuls of one x, and dp4a). Prefill of quantized weights up to
 * GK_MMA_MAX_M columns on sm_80+ stays on that integer path, on the 8-bit tensor cores
 * (mma.cuh: the weights read as stored, no dequantised copy); the rest of prefill runs cuBLAS
 * GemmEx on tensor cores, F16/BF16 inputs with F32 accumulation. There quantized weights are
 * dequantised to F16 into a scratch buffer on every such call: it costs one read of the weight
 * plus one F16 write (for a 4096² Q4_0 weight and 512 tokens about 40% of the GEMM's own time
 * on an H100), but needs no second copy of the model in F16, which would not fit beside a 7B
 * model on 8-16 GB laptop GPUs.
 * The other forms (training's dX = dY·W and dW += dYᵀ·X, any alpha and beta) run on cuBLAS
 * only, in F32: an F32 W as it is, any other type dequantised to F32 panels of bounded size
 * (plan_train.cuh), one GEMM a panel; without cuBLAS they are refused (supports() says why).
 *
 * conv2d (the image family) is an implicit GEMM on cuBLAS: im2col panels of bounded size times
 * the kernel (F16 kernels as stored, the activations rounded to F16, F32 accumulation; F32 as
 * stored; BF16 by dequantised F32 panels, all in F32: plan_image.cuh); refused without cuBLAS. The other
 * image ops are custom kernels (image.cuh).
 *
 * cuBLAS is opened at run time with dlopen, so the binary starts (and every other backend
 * works) on machines without CUDA libraries; without cuBLAS the custom kernels serve every M.
 * The CUDA runtime is linked statically (Makefile) and finds the driver itself at run time.
 *
 * A decoded token is 13 launches a layer + 3 (each residual add fused into the next norm,
 * add_rmsnorm; RoPE with both cache stores, rope_kv_store). With quantized weights the norms,
 * silu_mul and attention's combine write their outputs quantised as well, so no quantisation
 * kernel is left: 13 a layer + 3 too (one more a layer where head_dim is over 128 or not a
 * multiple of 32, gk_plan_attn_quantises). test_cuda_emul counts them.
 * A decoded token can run as one CUDA graph (GENCOST_CUDA_GRAPHS=1; off by default until a
 * GPU run has verified it): bench/llm brackets the token's ops with the step op (gk_step)
 * after the token id's upload and before the logits' download, cu_step captures them and
 * launches the graph, updating one executable graph in place from token to token (the
 * position and the attention's split count are kernel parameters; cudaGraphExecUpdate, or a
 * new instantiation where the shape changed). Launch errors then surface at the step's end. */
#include <atomic>
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "kernels/backend.h"
#include "kernels/op_checks.h"   /* the argument checks every backend shares (not its storage) */
}
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/launch.cuh"

/* ---- cuBLAS, opened at run time -------------------------------------------------------- */
struct cublas_fns {
    void *lib;
    const char *name;            /* the candidate that opened */
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    /* the C entry point (C++ also sees an inline overload taking cudaDataType computeType) */
    cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                              const void *, const void *, cudaDataType, int, const void *, cudaDataType,
                              int, const void *, void *, cudaDataType, int, cublasComputeType_t,
                              cublasGemmAlgo_t);
    decltype(&cublasGetStatusString) status_string;
    decltype(&cublasGetProperty) get_property;
};

#define GK_STR2(x) #x
#define GK_STR(x) GK_STR2(x)
#define GK_CUBLAS_SONAME "libcublas.so." GK_STR(CUBLAS_VER_MAJOR)
/* The lib64 folder of the toolkit this was compiled with (the Makefile passes it): a runfile
 * install or a CUDA 12 toolkit outside the loader's path is found there. */
#ifndef GK_CUDA_LIBDIR
#define GK_CUDA_LIBDIR "/usr/local/cuda/lib64"
#endif

/* Only the soname of the major version compiled against: the unversioned libcublas.so may be
 * another major version, whose ABI the declarations above do not describe. First as the
 * loader finds it (LD_LIBRARY_PATH, ldconfig), then in the build's toolkit, then in the
 * usual install folders. */
static const char *const g_blas_names[] = {
    GK_CUBLAS_SONAME,
    GK_CUDA_LIBDIR "/" GK_CUBLAS_SONAME,
    "/usr/local/cuda/lib64/" GK_CUBLAS_SONAME,
    "/usr/local/cuda-" GK_STR(CUBLAS_VER_MAJOR) "/lib64/" GK_CUBLAS_SONAME,
    NULL,
};

extern "C" const char *const *gk_cuda_cublas_names(void) { return g_blas_names; }

static bool cublas_load_once(cublas_fns *f, char *why, size_t n)
{
    memset(f, 0, sizeof *f);
    for (const char *const *p = g_blas_names; *p && !f->lib; p++)
        if ((f->lib = dlopen(*p, RTLD_NOW | RTLD_LOCAL))) f->name = *p;
    if (!f->lib) {
        snprintf(why, n, "cuBLAS not loadable (%s, also looked in %s): %s", GK_CUBLAS_SONAME, GK_CUDA_LIBDIR,
                 dlerror());
        return false;
    }
    struct { const char *name; void **slot; } syms[] = {
        {"cublasCreate_v2", (void **)&f->create},
        {"cublasDestroy_v2", (void **)&f->destroy},
        {"cublasSetStream_v2", (void **)&f->set_stream},
        {"cublasGemmEx", (void **)&f->gemm_ex},
        {"cublasGetStatusString", (void **)&f->status_string},
        {"cublasGetProperty", (void **)&f->get_property},
    };
    for (auto &s : syms) {
        *s.slot = dlsym(f->lib, s.name);
        if (!*s.slot) {
            snprintf(why, n, "cuBLAS (%s) lacks %s", f->name, s.name);
            return false;
        }
    }
    return true;
}

/* Loaded once per process and kept: unloading cuBLAS would strand its own allocations, and
 * every backend instance uses the same functions. */
static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;
static cublas_fns g_blas;
static bool g_blas_ok;
static char g_blas_why[320];

static void cublas_init(void) { g_blas_ok = cublas_load_once(&g_blas, g_blas_why, sizeof g_blas_why); }

static const cublas_fns *cublas_get(char *why, size_t n)
{
    pthread_once(&g_blas_once, cublas_init);
    if (!g_blas_ok) {
        snprintf(why, n, "%s", g_blas_why);
        return NULL;
    }
    return &g_blas;
}

extern "C" bool gk_cuda_cublas_probe(char *which, size_t n)
{
    const cublas_fns *f = cublas_get(which, n);
    if (f) snprintf(which, n, "%s", f->name);
    return f != NULL;
}

extern "C" void gk_cuda_blas_fact(char *out, size_t n)
{
    char why[320];
    const cublas_fns *f = cublas_get(why, sizeof why);
    int v[3] = {0, 0, 0};
    if (!f) {
        snprintf(out, n, "cublas: missing");
        return;
    }
    f->get_property(MAJOR_VERSION, &v[0]);
    f->get_property(MINOR_VERSION, &v[1]);
    f->get_property(PATCH_LEVEL, &v[2]);
    snprintf(out, n, "cublas %d.%d.%d", v[0], v[1], v[2]);
}

/* Said once per process: without cuBLAS every matmul of more than GK_MV_MAX_M columns (prefill)
 * re-reads the weights on the matvec kernels, 50-100x slower than the GEMM, except quantized
 * weights on sm_80+ (the 8-bit tensor-core path serves every M there). */
static void warn_no_blas_once(const char *why, int cc)
{
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
        fprintf(stderr, "gencost: warning: cuda: %s: %smatmuls of more than %d columns (prefill) run on the "
                        "matvec kernels, 50-100x slower\n", why, cc >= 80 ? "float-weight " : "", GK_MV_MAX_M);
}

/* cuBLAS statuses after which the device may hold half-done work (a kernel that failed, an
 * internal error): the context is treated as faulted and reset at close. Argument and
 * allocation errors leave it as it was. */
extern "C" bool gk_cuda_blas_status_faults(int status)
{
    return status == CUBLAS_STATUS_EXECUTION_FAILED || status == CUBLAS_STATUS_INTERNAL_ERROR ||
           status == CUBLAS_STATUS_MAPPING_ERROR;
}

/* ---- backend state --------------------------------------------------------------------- */
struct cu_impl {
    int dev, cc;                 /* device index, compute capability * 10 */
    cudaStream_t stream;
    int *err_dev;                /* device-side error word (embedding ids out of range) */
    int *err_host;               /* pinned mirror, copied at each sync point */
    void *scratch;               /* GEMM conversions, attention partials */
    size_t scratch_bytes;
    const cublas_fns *blas;      /* NULL without cuBLAS */
    cublasHandle_t handle;
    bool have_blas;
    bool force_cublas;           /* GENCOST_CUDA_FORCE_CUBLAS=1: no tensor-core integer path */
    bool faulted;                /* a sticky device error happened: reset the device at close */
    cudaEvent_t t0, t1;          /* device_timer marks, created on first use */
    /* The integer matvec's activations: xq_of's K x M floats quantised (gk_mv_xq_bytes), written
     * by the norm that produced xq_of (at decode) or the first integer matmul of it, and kept
     * for the next matmuls of the same x (Q, K, V; gate, up). Any other entry point may write
     * x, so enter() forgets them (xq_of = NULL); only the integer matmul keeps them. */
    uint8_t *xq;
    size_t xq_bytes;
    const float *xq_of;
    int64_t xq_k, xq_m;
    /* Decode steps as CUDA graphs (GENCOST_CUDA_GRAPHS=1, read at open; cu_step): the step
     * being captured, the executable graph updated from step to step, and the buffers a step
     * outgrew while capturing (freed once the capture ends: cudaFree would wait on the device
     * in the middle of it, and the previous graph may still read them). */
    bool graphs, capturing;
    cudaGraphExec_t gexec;
    void *deferred[4];
    int n_deferred;
};

static cu_impl *impl_of(gk_backend *b) { return (cu_impl *)b->impl; }

static int fail(gk_backend *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(gk_backend *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(b->err, sizeof b->err, "cuda: ");
    vsnprintf(b->err + n, sizeof b->err - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Errors that leave the context unusable (CUDA programming guide, "error checking"). */
static bool is_sticky(cudaError_t e)
{
    switch (e) {
    case cudaErrorIllegalAddress: case cudaErrorLaunchFailure: case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction: case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace: case cudaErrorInvalidPc: case cudaErrorAssert:
    case cudaErrorLaunchTimeout: case cudaErrorECCUncorrectable: case cudaErrorDevicesUnavailable:
        return true;
    default:
        return false;
    }
}

static int cu_check(gk_backend *b, const char *what, cudaError_t e)
{
    if (e == cudaSuccess) return 0;
    if (is_sticky(e)) impl_of(b)->faulted = true;
    cudaGetLastError();   /* clear a non-sticky error so the next op starts clean */
    return fail(b, "%s: %s", what, cudaGetErrorString(e));
}

/* Every entry point starts here. The current device is per host thread, so it is set on each
 * call: a backend opened on device 1, or called from another thread than the one that opened
 * it, would otherwise run on device 0. An error already pending (left by an earlier
 * asynchronous operation) is reported as that, not blamed on this op's launch. */
static int enter_keeping_xq(gk_backend *b, const char *what)
{
    cu_impl *c = impl_of(b);
    cudaError_t e = cudaSetDevice(c->dev);
    if (e != cudaSuccess) return cu_check(b, what, e);
    e = cudaGetLastError();
    if (e == cudaSuccess) return 0;
    if (is_sticky(e)) c->faulted = true;
    return fail(b, "%s: not run: an earlier operation failed: %s", what, cudaGetErrorString(e));
}

static int enter(gk_backend *b, const char *what)
{
    impl_of(b)->xq_of = NULL;
    return enter_keeping_xq(b, what);
}

/* cudaFree reports errors of earlier asynchronous work too; they mark the context and leave
 * the message in b->err (free() has no status to return). */
static void free_checked(gk_backend *b, const char *what, void *p)
{
    if (p) cu_check(b, what, cudaFree(p));
}

/* Frees a buffer being replaced: now (cudaFree waits for the kernels using it), or after the
 * step being captured. */
static int retire(gk_backend *b, const char *what, void *old)
{
    cu_impl *c = impl_of(b);
    if (!old) return 0;
    if (!c->capturing) return cu_check(b, what, cudaFree(old));
    if (c->n_deferred == (int)(sizeof c->deferred / sizeof c->deferred[0]))
        return fail(b, "%s: more than %d buffers outgrown in one captured step", what, c->n_deferred);
    c->deferred[c->n_deferred++] = old;
    return 0;
}

static int ensure_scratch(gk_backend *b, size_t bytes)
{
    cu_impl *c = impl_of(b);
    if (bytes <= c->scratch_bytes) return 0;
    void *old = c->scratch;
    c->scratch = NULL;
    c->scratch_bytes = 0;
    if (retire(b, "scratch buffer: free", old)) return -1;
    size_t want = bytes + bytes / 4;
    if (cu_check(b, "scratch buffer", cudaMalloc(&c->scratch, want))) return -1;
    c->scratch_bytes = want;
    return 0;
}

/* A buffer of at least bytes for the quantised activations (what it held is dropped). */
static int ensure_xq(gk_backend *b, size_t bytes)
{
    cu_impl *c = impl_of(b);
    c->xq_of = NULL;
    if (bytes <= c->xq_bytes) return 0;
    uint8_t *old = c->xq;
    c->xq = NULL;
    c->xq_bytes = 0;
    if (retire(b, "activation buffer: free", old)) return -1;
    if (cu_check(b, "activation buffer", cudaMalloc(&c->xq, bytes))) return -1;
    c->xq_bytes = bytes;
    return 0;
}

/* ---- device facts ---------------------------------------------------------------------- */
static void version_str(int v, char *out, size_t n)
{
    snprintf(out, n, "%d.%d", v / 1000, (v % 1000) / 10);
}

/* The oldest Linux driver branch of each CUDA major version (minor version compatibility:
 * one driver runs every runtime of its major version); 0 where this file does not know it. */
static int driver_floor_branch(int runtime_major)
{
    switch (runtime_major) {
    case 11: return 450;
    case 12: return 525;
    case 13: return 580;
    default: return 0;
    }
}

extern "C" bool gk_cuda_driver_floor(int driver, int runtime, bool insufficient, char *msg, size_t n)
{
    char dv[16], rv[16];
    version_str(driver, dv, sizeof dv);
    version_str(runtime, rv, sizeof rv);
    const int dmaj = driver / 1000, rmaj = runtime / 1000, branch = driver_floor_branch(rmaj);
    if (n) msg[0] = 0;
    if (driver <= 0) {
        snprintf(msg, n, "no CUDA device: no NVIDIA driver (libcuda.so.1 not found; this build's runtime is CUDA %s)", rv);
        return true;
    }
    if (dmaj >= rmaj && !(insufficient && driver < runtime)) return false;
    char need[48];
    if (branch) snprintf(need, sizeof need, "install driver R%d+", branch);
    else snprintf(need, sizeof need, "install a driver for CUDA %d.x", rmaj);
    if (dmaj < rmaj && dmaj >= 11)
        snprintf(msg, n, "CUDA driver %s < runtime %s: %s or build with a CUDA %d.x toolkit (make TOOLKIT=<its folder>)",
                 dv, rv, need, dmaj);
    else
        snprintf(msg, n, "CUDA driver %s < runtime %s: %s", dv, rv, need);
    return true;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static cudaError_t g_count_err;
static int g_count;
static char g_count_why[256];

static void count_devices(void)
{
    g_count_err = cudaGetDeviceCount(&g_count);
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);   /* 0 without a driver; works with one too old to use */
    cudaRuntimeGetVersion(&runtime);
    const bool old = gk_cuda_driver_floor(driver, runtime, g_count_err == cudaErrorInsufficientDriver, g_count_why,
                                          sizeof g_count_why);
    if (!old && g_count_err != cudaSuccess)
        snprintf(g_count_why, sizeof g_count_why, "no CUDA device: %s", cudaGetErrorString(g_count_err));
    else if (!old && g_count <= 0)
        snprintf(g_count_why, sizeof g_count_why, "no CUDA device: none found");
    cudaGetLastError();   /* what the count left is no op's error */
}

static bool cu_available(char *why, size_t n)
{
    pthread_once(&g_once, count_devices);
    if (g_count_why[0]) {
        snprintf(why, n, "%s", g_count_why);
        return false;
    }
    return true;
}

static int fill_info(int dev, gk_device_info *d)
{
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, dev) != cudaSuccess) return -1;
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%.127s", p.name);
    d->cc_major = p.major;
    d->cc_minor = p.minor;
    d->sm_count = p.multiProcessorCount;
    d->mem_bytes = (unsigned long long)p.totalGlobalMem;
    d->bus_width_bits = p.memoryBusWidth;
    /* memoryClockRate left cudaDeviceProp in CUDA 13; the attribute remains (kHz). */
    int clk = 0;
    if (cudaDeviceGetAttribute(&clk, cudaDevAttrMemoryClockRate, dev) == cudaSuccess) d->mem_clock_khz = clk;
    d->peak_bw_gbs = 2.0 * d->mem_clock_khz * 1e3 * (d->bus_width_bits / 8.0) / 1e9;
    int v = 0;
    if (cudaDriverGetVersion(&v) == cudaSuccess) version_str(v, d->driver_version, sizeof d->driver_version);
    if (cudaRuntimeGetVersion(&v) == cudaSuccess) version_str(v, d->runtime_version, sizeof d->runtime_version);
    gk_cuda_blas_fact(d->blas, sizeof d->blas);
    return 0;
}

static int cu_devices(gk_device_info *out, int max)
{
    char why[256];
    if (!cu_available(why, sizeof why)) return 0;
    int n = 0;
    for (int i = 0; i < g_count && n < max; i++)
        if (fill_info(i, &out[n]) == 0) n++;
    return n;
}

/* ---- memory ---------------------------------------------------------------------------- */
static int cu_alloc(gk_backend *b, gk_tensor *t)
{
    if (gk_layout_contiguous(b, t) || enter(b, "alloc")) return -1;
    const size_t bytes = t->nbytes;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        char what[64];
        snprintf(what, sizeof what, "alloc of %.1f MiB", bytes / 1048576.0);
        return cu_check(b, what, e);
    }
    t->data = p;
    t->view = false;
    t->be = b;
    return 0;
}

static void cu_free(gk_backend *b, gk_tensor *t)
{
    /* freed even after an earlier error: that one then surfaces here, in b->err */
    if (t->data && !t->view) {
        cudaError_t e = cudaSetDevice(impl_of(b)->dev);
        if (e != cudaSuccess) cu_check(b, "free", e);
        else free_checked(b, "free", t->data);
    }
    t->data = NULL;
}

/* Copies and syncs are not part of a captured step (gk_ops.step). */
static int outside_step(gk_backend *b, const char *what)
{
    return impl_of(b)->capturing ? fail(b, "%s inside a captured decode step", what) : 0;
}

static int cu_upload(gk_backend *b, gk_tensor *t, size_t off, const void *src, size_t n)
{
    if (off > t->nbytes || n > t->nbytes - off) return fail(b, "upload: %zu bytes at %zu past tensor end %zu", n, off, t->nbytes);
    if (outside_step(b, "upload") || enter(b, "upload")) return -1;
    /* From pageable memory this returns once src has been staged, so the caller may reuse it. */
    return cu_check(b, "upload", cudaMemcpyAsync((char *)t->data + off, src, n, cudaMemcpyHostToDevice,
                                                 impl_of(b)->stream));
}

/* Waits for the stream and reports a device-side error word raised since the last sync. */
static int sync_point(gk_backend *b, const char *what)
{
    cu_impl *c = impl_of(b);
    if (cu_check(b, what, cudaMemcpyAsync(c->err_host, c->err_dev, sizeof(int), cudaMemcpyDeviceToHost, c->stream)))
        return -1;
    if (cu_check(b, what, cudaStreamSynchronize(c->stream))) return -1;
    if (*c->err_host) {
        const int code = *c->err_host;
        *c->err_host = 0;
        if (cu_check(b, what, cudaMemsetAsync(c->err_dev, 0, sizeof(int), c->stream))) return -1;
        if (code == GK_ERR_EMB_BWD_ID)
            return fail(b, "embedding_backward: a token id was outside the table (its dy rows not added)");
        if (code == GK_ERR_CE_TARGET)
            return fail(b, "cross_entropy: a target was outside the vocabulary (its loss written as NaN)");
        return fail(b, "embedding: a token id was outside the table (row written as zeros)");
    }
    return 0;
}

static int cu_download(gk_backend *b, const gk_tensor *t, size_t off, void *dst, size_t n)
{
    if (off > t->nbytes || n > t->nbytes - off) return fail(b, "download: %zu bytes at %zu past tensor end %zu", n, off, t->nbytes);
    if (outside_step(b, "download") || enter(b, "download")) return -1;
    if (cu_check(b, "download", cudaMemcpyAsync(dst, (const char *)t->data + off, n, cudaMemcpyDeviceToHost,
                                                impl_of(b)->stream)))
        return -1;
    return sync_point(b, "download");
}

static int cu_sync(gk_backend *b) { return outside_step(b, "sync") || enter(b, "sync") ? -1 : sync_point(b, "sync"); }

/* CUDA events time the work on the stream itself, free of host launch and wake-up noise. */
static int cu_device_timer(gk_backend *b, int stop, double *seconds)
{
    cu_impl *c = impl_of(b);
    if (outside_step(b, "timer") || enter(b, "timer")) return -1;
    if (!c->t0 && (cu_check(b, "timer", cudaEventCreate(&c->t0)) || cu_check(b, "timer", cudaEventCreate(&c->t1))))
        return -1;
    if (!stop) return cu_check(b, "timer", cudaEventRecord(c->t0, c->stream));
    float ms = 0;
    if (cu_check(b, "timer", cudaEventRecord(c->t1, c->stream)) || sync_point(b, "timer") ||
        cu_check(b, "timer", cudaEventElapsedTime(&ms, c->t0, c->t1)))
        return -1;
    *seconds = ms * 1e-3;
    return 0;
}

/* ---- decode steps as CUDA graphs ---------------------------------------------------------- */
/* An executable graph of the step just captured: the previous one updated in place where the
 * step has its shape (positions and split counts are kernel parameters), else built anew. */
static int step_exec(gk_backend *b, cudaGraph_t g)
{
    cu_impl *c = impl_of(b);
    if (c->gexec) {
#if CUDART_VERSION >= 12000
        cudaGraphExecUpdateResultInfo info;
        const cudaError_t e = cudaGraphExecUpdate(c->gexec, g, &info);
#else
        cudaGraphNode_t node;
        cudaGraphExecUpdateResult r;
        const cudaError_t e = cudaGraphExecUpdate(c->gexec, g, &node, &r);
#endif
        if (e == cudaSuccess) return 0;
        cudaGetLastError(); /* a refused update is not an error of the work */
        cudaGraphExecDestroy(c->gexec);
        c->gexec = NULL;
    }
#if CUDART_VERSION >= 12000
    const cudaError_t e = cudaGraphInstantiate(&c->gexec, g, 0);
#else
    const cudaError_t e = cudaGraphInstantiate(&c->gexec, g, NULL, NULL, 0);
#endif
    if (e != cudaSuccess) c->gexec = NULL;
    return cu_check(b, "decode step: cudaGraphInstantiate", e);
}

/* begin 1: capture what the stream is given (relaxed: the buffers a step outgrows may still be
 * allocated); 0: end the capture, launch the step's graph; -1: end it and drop the work. */
static int cu_step(gk_backend *b, int begin)
{
    cu_impl *c = impl_of(b);
    if (!c->graphs) return 0;
    if (begin == 1) {
        if (c->capturing) return fail(b, "decode step: begun twice");
        if (enter(b, "decode step") ||
            cu_check(b, "decode step: cudaStreamBeginCapture", cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeRelaxed)))
            return -1;
        c->capturing = true;
        return 0;
    }
    if (!c->capturing) return 0;
    cudaGraph_t g = NULL;
    const cudaError_t e = cudaStreamEndCapture(c->stream, &g);
    c->capturing = false;
    for (int i = 0; i < c->n_deferred; i++) free_checked(b, "a buffer outgrown in a decode step", c->deferred[i]);
    c->n_deferred = 0;
    int rc = 0;
    if (begin < 0) cudaGetLastError();
    else if (e != cudaSuccess)
        rc = fail(b, "decode step: capture failed: %s (GENCOST_CUDA_GRAPHS=0 runs without graphs)", cudaGetErrorString(e));
    else if (step_exec(b, g) == 0)
        rc = cu_check(b, "decode step: cudaGraphLaunch", cudaGraphLaunch(c->gexec, c->stream));
    else
        rc = -1;
    if (g) cudaGraphDestroy(g);
    return rc;
}

/* ---- matmul ------------------------------------------------------------------------------ */
static int gemm_path(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                     int64_t K, int64_t N, int64_t M)
{
    cu_impl *c = impl_of(b);
    const bool f32 = w->type == GK_F32, bf16 = w->type == GK_BF16;
    const size_t wbytes = (f32 || bf16 || w->type == GK_F16) ? 0 : (size_t)(N * K * 2 + 255) / 256 * 256;
    const size_t xbytes = f32 ? 0 : (size_t)(K * M * 2);
    if (ensure_scratch(b, wbytes + xbytes + 1)) return -1;
    const void *A = w->data, *B = x->data;
    if (wbytes) {
        gk_dq_args d = {(const uint8_t *)w->data, gk_row_bytes(w), (uint16_t *)c->scratch, K, N, w->type};
        if (cu_check(b, "matmul: dequantise", gk_cu_dequant_f16(&d, c->stream))) return -1;
        A = c->scratch;
    }
    if (xbytes) {
        uint16_t *xh = (uint16_t *)((char *)c->scratch + wbytes);
        gk_cvt_args v = {(const float *)x->data, xh, K * M, bf16};
        if (cu_check(b, "matmul: convert", gk_cu_convert_half(&v, c->stream))) return -1;
        B = xh;
    }
    const cudaDataType_t t = f32 ? CUDA_R_32F : bf16 ? CUDA_R_16BF : CUDA_R_16F;
    const gk_gemm_plan p = gk_plan_gemm(K, N, M);
    const float one = 1.0f, zero = 0.0f;
    cublasStatus_t s = c->blas->gemm_ex(c->handle, p.transa ? CUBLAS_OP_T : CUBLAS_OP_N,
                                       p.transb ? CUBLAS_OP_T : CUBLAS_OP_N, p.m, p.n, p.k, &one, A, t,
                                       p.lda, B, t, p.ldb, &zero, y->data, CUDA_R_32F, p.ldc,
                                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (s == CUBLAS_STATUS_SUCCESS) return 0;
    const cudaError_t e = cudaGetLastError();   /* what the failed GEMM left, if anything */
    if (gk_cuda_blas_status_faults(s) || is_sticky(e)) c->faulted = true;
    return fail(b, "matmul: cublasGemmEx (%lldx%lld, %lld columns): %s%s%s", (long long)N, (long long)K, (long long)M,
                c->blas->status_string(s), e != cudaSuccess ? ": " : "", e != cudaSuccess ? cudaGetErrorString(e) : "");
}

/* What the kernels of a path round the activations to: gemm_path() the weight's half type
 * (quantised weights are dequantised to F16), none for F32; the matvec kernels read them as
 * F32, the integer paths in 8-bit blocks (inside the quantized weights' own bound). */
static int path_act_type(int wtype, int path)
{
    if (path != GK_PATH_GEMM || wtype == GK_F32) return GK_F32;
    return wtype == GK_BF16 ? GK_BF16 : GK_F16;
}

extern "C" int gk_cuda_matmul_act_type(int wtype, int64_t m, bool have_blas, int cc)
{
    return path_act_type(wtype, gk_plan_matmul_path(wtype, m, have_blas, cc));
}

/* The backend's path for a matmul: the plan's, but GENCOST_CUDA_FORCE_CUBLAS=1 (read at open,
 * for measuring the two side by side) sends the tensor-core integer path's M to cuBLAS. */
static int matmul_path(const cu_impl *c, int wtype, int64_t m)
{
    const int p = gk_plan_matmul_path(wtype, m, c->have_blas, c->cc);
    return p == GK_PATH_MMA_X8 && c->force_cublas && c->have_blas ? GK_PATH_GEMM : p;
}

static int cu_matmul_act_type(gk_backend *b, int wtype, int64_t m)
{
    return path_act_type(wtype, matmul_path(impl_of(b), wtype, m));
}

/* The status of a cuBLAS call of op, as the op's error (what it left on the device marks a fault). */
static int blas_result(gk_backend *b, cublasStatus_t s, const char *op, const char *what, int64_t m, int64_t n,
                       int64_t k)
{
    if (s == CUBLAS_STATUS_SUCCESS) return 0;
    cu_impl *c = impl_of(b);
    const cudaError_t e = cudaGetLastError();
    if (gk_cuda_blas_status_faults(s) || is_sticky(e)) c->faulted = true;
    return fail(b, "%s: %s (%lldx%lld, contraction %lld): %s%s%s", op, what, (long long)m, (long long)n, (long long)k,
                c->blas->status_string(s), e != cudaSuccess ? ": " : "", e != cudaSuccess ? cudaGetErrorString(e) : "");
}

/* One F32 GEMM of a plan (plan_train.cuh): A the weight or its panel, B = X, C = Y. */
static int gemm_f32(gk_backend *b, const gk_gemm_call *g, const float *A, const float *X, float *Y, float alpha,
                    float beta)
{
    cu_impl *c = impl_of(b);
    cublasStatus_t s = c->blas->gemm_ex(c->handle, g->transa ? CUBLAS_OP_T : CUBLAS_OP_N,
                                       g->transb ? CUBLAS_OP_T : CUBLAS_OP_N, (int)g->m, (int)g->n, (int)g->k, &alpha,
                                       A + g->a_off, CUDA_R_32F, (int)g->lda, X + g->b_off, CUDA_R_32F, (int)g->ldb,
                                       &beta, Y + g->c_off, CUDA_R_32F, (int)g->ldc, CUBLAS_COMPUTE_32F,
                                       CUBLAS_GEMM_DEFAULT);
    return blas_result(b, s, "matmul", "cublasGemmEx (F32)", g->m, g->n, g->k);
}

/* Every form but the default one: Y = alpha·op(X)·op(W)ᵀ + beta·Y on cuBLAS in F32. A weight
 * that is not F32 goes by in F32 panels of at most GK_PANEL_BYTES (llama2-7b's Q4_0 FFN
 * weights: 6 or 15 panels of 32 MiB, never a 180 MiB F32 copy), each dequantised into the
 * scratch buffer and multiplied before the next overwrites it (one stream: in order). */
static int matmul_form(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                       const gk_matmul_params *p, const gk_mm_dims *d)
{
    cu_impl *c = impl_of(b);
    const gk_matmul_params q = gk_matmul_resolve(p);
    if (!c->have_blas)
        return fail(b, "matmul: the form trans_x %d, trans_w %d, alpha %g, beta %g needs cuBLAS, missing here "
                       "(only Y = X*W^T runs without it)", q.trans_x, q.trans_w, (double)q.alpha, (double)q.beta);
    const int64_t wn = w->ne[0], wr = gk_rows(w);
    if (d->m >= INT32_MAX || d->n >= INT32_MAX || d->k >= INT32_MAX || wr >= INT32_MAX)
        return fail(b, "matmul: dimension too large");
    const float *X = (const float *)x->data;
    float *Y = (float *)y->data;
    if (w->type == GK_F32) {
        const gk_gemm_call g = gk_plan_gemm_form(q.trans_x, q.trans_w, x->ne[0], wn, d->m, d->n, d->k, 0, wr);
        return gemm_f32(b, &g, (const float *)w->data, X, Y, q.alpha, q.beta);
    }
    const int64_t pr = gk_panel_rows(wn, wr);
    if (ensure_scratch(b, (size_t)(pr * wn) * sizeof(float))) return -1;
    float *panel = (float *)c->scratch;
    for (int64_t r0 = 0; r0 < wr; r0 += pr) {
        const int64_t n = wr - r0 < pr ? wr - r0 : pr;
        gk_dq32_args a = {(const uint8_t *)w->data + (size_t)r0 * gk_row_bytes(w), gk_row_bytes(w), panel, wn, n,
                          w->type};
        if (cu_check(b, "matmul: dequantise a panel", gk_cu_dequant_f32(&a, c->stream))) return -1;
        const gk_gemm_call g = gk_plan_gemm_form(q.trans_x, q.trans_w, x->ne[0], wn, d->m, d->n, d->k, r0, n);
        if (gemm_f32(b, &g, panel, X, Y, q.alpha, g.beta_one ? 1.0f : q.beta)) return -1;
    }
    return 0;
}

/* Quantized weights on the integer path: x in 8-bit blocks, quantised only when the previous
 * matmul did not leave this x quantised already, times the weights with dp4a (decode) or on
 * the 8-bit tensor cores (mma: prefill). */
static int matvec_x8(gk_backend *b, const gk_mv_args *a, bool mma)
{
    cu_impl *c = impl_of(b);
    if (c->xq_of != a->x || c->xq_k != a->K || c->xq_m != a->M) {
        if (ensure_xq(b, gk_mv_xq_bytes(a->K, a->M))) return -1;
        const gk_xq_args q = {a->x, c->xq, a->K, a->M};
        if (cu_check(b, "matmul: quantising the activations", gk_cu_quantize_x8(&q, c->stream))) return -1;
        c->xq_of = a->x, c->xq_k = a->K, c->xq_m = a->M;
    }
    if (mma) return cu_check(b, "matmul (8-bit tensor cores)", gk_cu_mma_x8(a, c->xq, c->stream));
    return cu_check(b, "matmul", gk_cu_matvec_x8(a, c->xq, c->stream));
}

/* The default form Y = X·Wᵀ: decode on the matvec kernels (quantized weights on the integer
 * path), prefill on cuBLAS (gemm_path); the other forms on matmul_form. Contiguous tensors
 * only. Only the integer path keeps the quantised activations of an earlier matmul: the
 * others may write over that x. */
static int cu_matmul(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x,
                     const gk_matmul_params *p)
{
    gk_mm_dims d;
    if (gk_check_matmul(b, y, w, x, p, &d) || gk_check_contiguous(b, "matmul", "y", y) ||
        gk_check_contiguous(b, "matmul", "w", w) || gk_check_contiguous(b, "matmul", "x", x) ||
        enter_keeping_xq(b, "matmul"))
        return -1;
    cu_impl *c = impl_of(b);
    const float *kept = c->xq_of;
    c->xq_of = NULL;
    if (!gk_matmul_is_default(p)) return matmul_form(b, y, w, x, p, &d);
    const int64_t K = d.k, N = d.n, M = d.m;
    const int qb = gk_cu_qblock(w->type);
    if (qb && K % qb) return fail(b, "matmul: K=%lld is not a multiple of the %s block (%d)", (long long)K, gk_type_name(w->type), qb);
    if (N >= INT32_MAX || M >= INT32_MAX || K >= INT32_MAX) return fail(b, "matmul: dimension too large");
    const int path = matmul_path(c, w->type, M);
    if (path == GK_PATH_GEMM) return gemm_path(b, y, w, x, K, N, M);
    gk_mv_args a = {(const uint8_t *)w->data, gk_row_bytes(w), (const float *)x->data, (float *)y->data, K, N, M, w->type};
    if (!qb) return cu_check(b, "matmul", gk_cu_matvec(&a, c->stream));
    c->xq_of = kept;
    return matvec_x8(b, &a, path == GK_PATH_MMA_X8);
}

/* ---- the other ops ----------------------------------------------------------------------- */
static int cu_embedding(gk_backend *b, gk_tensor *y, const gk_tensor *table, const gk_tensor *ids)
{
    if (gk_check_embedding(b, y, table, ids) || enter(b, "embedding")) return -1;
    const int64_t dim = table->ne[0];
    gk_emb_args a = {(const uint8_t *)table->data, gk_row_bytes(table), (const int32_t *)ids->data,
                     (float *)y->data, dim, gk_rows(table), gk_nelements(ids), table->type, impl_of(b)->err_dev};
    return cu_check(b, "embedding", gk_cu_embedding(&a, impl_of(b)->stream));
}

/* A norm at decode (gk_plan_norm_quantises) also writes its output y quantised for the integer
 * matvecs that read it next (Q, K, V; gate, up; the head), and so does silu_mul (down): *xq is
 * where, NULL when it does not. */
static int norm_xq(gk_backend *b, const gk_tensor *y, uint8_t **xq)
{
    *xq = NULL;
    if (!gk_plan_norm_quantises(y->ne[0], gk_rows(y))) return 0;
    if (ensure_xq(b, gk_mv_xq_bytes(y->ne[0], gk_rows(y)))) return -1;
    *xq = impl_of(b)->xq;
    return 0;
}

/* The norm's launch status; once launched with xq, the buffer holds y. */
static int norm_launched(gk_backend *b, const char *what, cudaError_t e, const uint8_t *xq,
                         const gk_tensor *y)
{
    if (cu_check(b, what, e)) return -1;
    cu_impl *c = impl_of(b);
    if (xq) c->xq_of = (const float *)y->data, c->xq_k = y->ne[0], c->xq_m = gk_rows(y);
    return 0;
}

static int cu_rmsnorm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *w, float eps)
{
    uint8_t *xq;
    if (gk_check_rmsnorm(b, y, x, w) || enter(b, "rmsnorm") || norm_xq(b, y, &xq)) return -1;
    gk_row_args a = {(const float *)x->data, (const float *)w->data, (float *)y->data, x->ne[0], eps, xq,
                     gk_rows(x)};
    return norm_launched(b, "rmsnorm", gk_cu_rmsnorm(&a, gk_rows(x), impl_of(b)->stream), xq, y);
}

static int cu_softmax(gk_backend *b, gk_tensor *y, const gk_tensor *x)
{
    if (gk_check_same_f32(b, "softmax", y, x, NULL) || enter(b, "softmax")) return -1;
    gk_row_args a = {(const float *)x->data, NULL, (float *)y->data, x->ne[0], 0.0f, NULL, gk_rows(x)};
    return cu_check(b, "softmax", gk_cu_softmax(&a, gk_rows(x), impl_of(b)->stream));
}

static int cu_rope(gk_backend *b, gk_tensor *x, int n_head, int head_dim, int pos0, float base,
                   const gk_tensor *freq_factors)
{
    if (gk_check_rope(b, x, n_head, head_dim, pos0, base, freq_factors) || enter(b, "rope")) return -1;
    gk_rope_args a = {(float *)x->data, n_head, head_dim, pos0, gk_rows(x), base,
                      freq_factors ? (const float *)freq_factors->data : NULL};
    return cu_check(b, "rope", gk_cu_rope(&a, impl_of(b)->stream));
}

static int cu_kv_store(gk_backend *b, gk_tensor *cache, const gk_tensor *src, int pos0)
{
    if (gk_check_kv_store(b, cache, src, pos0) || enter(b, "kv_store")) return -1;
    gk_kvs_args a = {(uint8_t *)cache->data, gk_row_bytes(cache), (const float *)src->data, src->ne[0],
                     gk_rows(src), pos0, cache->type};
    return cu_check(b, "kv_store", gk_cu_kv_store(&a, impl_of(b)->stream));
}

static int cu_add_rmsnorm(gk_backend *b, gk_tensor *y, gk_tensor *x, const gk_tensor *r, const gk_tensor *w,
                          float eps)
{
    uint8_t *xq;
    if (gk_check_add_rmsnorm(b, y, x, r, w) || enter(b, "add_rmsnorm") || norm_xq(b, y, &xq)) return -1;
    gk_arn_args a = {(float *)x->data, (const float *)r->data, (const float *)w->data, (float *)y->data,
                     x->ne[0], eps, xq, gk_rows(x)};
    return norm_launched(b, "add_rmsnorm", gk_cu_add_rmsnorm(&a, gk_rows(x), impl_of(b)->stream), xq, y);
}

static int cu_rope_kv_store(gk_backend *b, gk_tensor *q, gk_tensor *kcache, gk_tensor *vcache,
                            const gk_tensor *k, const gk_tensor *v, const gk_rope_kv_params *p)
{
    if (gk_check_rope_kv_store(b, q, kcache, vcache, k, v, p) || enter(b, "rope_kv_store")) return -1;
    gk_rkv_args a = {(float *)q->data, (const float *)k->data, (const float *)v->data,
                     (uint8_t *)kcache->data, (uint8_t *)vcache->data, gk_row_bytes(kcache),
                     gk_row_bytes(vcache), kcache->type, vcache->type, p->n_head, p->n_kv_head, p->head_dim,
                     p->pos0, gk_rows(q), v->ne[0], p->base,
                     p->freq_factors ? (const float *)p->freq_factors->data : NULL};
    return cu_check(b, "rope_kv_store", gk_cu_rope_kv_store(&a, impl_of(b)->stream));
}

static int cu_attention(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *k,
                        const gk_tensor *v, const gk_attn_params *p)
{
    if (gk_check_attention(b, out, q, k, v, p) || enter(b, "attention")) return -1;
    const int hd = p->head_dim;
    const int64_t T = gk_rows(q);
    if (hd > GK_AT_DMAX) return fail(b, "attention: head_dim %d above this backend's %d", hd, GK_AT_DMAX);
    if (k->type != v->type) return fail(b, "attention: k and v caches of different types (%s, %s)", gk_type_name(k->type), gk_type_name(v->type));
    cu_impl *c = impl_of(b);
    gk_attn_args a = {(const float *)q->data, (float *)out->data, (const uint8_t *)k->data, (const uint8_t *)v->data,
                      gk_row_bytes(k), NULL, k->type, p->n_head, p->n_kv_head, hd, p->pos0, 0, T, p->scale, NULL,
                      gk_plan_attn_mma(k->type, hd, T, c->cc)};
    if (gk_attn_use_decode(T)) {
        a.n_split = gk_attn_n_split(p->pos0, T);
        if (ensure_scratch(b, gk_attn_part_floats(a.n_split, p->n_head, hd, T) * sizeof(float))) return -1;
        a.part = (float *)c->scratch;
    }
    /* at decode the output is also written quantised, for the output projection (norm_xq) */
    if (gk_plan_attn_quantises(hd, T)) {
        if (ensure_xq(b, gk_mv_xq_bytes((int64_t)p->n_head * hd, T))) return -1;
        a.xq = c->xq;
    }
    return norm_launched(b, "attention", gk_cu_attention(&a, c->stream), a.xq, out);
}

/* quantise: at decode y is also written quantised, as a norm's is (norm_xq), for the matvec that
 * reads it next (silu_mul's output: the down projection's input). */
static int elementwise(gk_backend *b, const char *what, gk_tensor *y, const gk_tensor *x, const gk_tensor *x2, float s,
                       int op, bool quantise)
{
    uint8_t *xq = NULL;
    if (gk_check_same_f32(b, what, y, x, x2) || enter(b, what) || (quantise && norm_xq(b, y, &xq))) return -1;
    gk_ew_args a = {(const float *)x->data, x2 ? (const float *)x2->data : NULL, (float *)y->data, gk_nelements(x), s, op,
                    xq};
    return norm_launched(b, what, gk_cu_elementwise(&a, impl_of(b)->stream), xq, y);
}

static int cu_silu_mul(gk_backend *b, gk_tensor *y, const gk_tensor *g, const gk_tensor *u)
{
    return elementwise(b, "silu_mul", y, g, u, 0.0f, GK_EW_SILU_MUL, true);
}
static int cu_add(gk_backend *b, gk_tensor *y, const gk_tensor *a, const gk_tensor *c)
{
    return elementwise(b, "add", y, a, c, 0.0f, GK_EW_ADD, false);
}
static int cu_scale(gk_backend *b, gk_tensor *y, const gk_tensor *x, float s)
{
    return elementwise(b, "scale", y, x, NULL, s, GK_EW_SCALE, false);
}

/* ---- the train family (train.cuh) -------------------------------------------------------- */
static int cu_rmsnorm_backward(gk_backend *b, gk_tensor *dx, gk_tensor *dw, const gk_tensor *dy, const gk_tensor *x,
                               const gk_tensor *w, float eps)
{
    if (gk_check_rmsnorm_backward(b, dx, dw, dy, x, w) || enter(b, "rmsnorm_backward")) return -1;
    const int64_t dim = x->ne[0], T = gk_rows(x);
    if (ensure_scratch(b, (size_t)(T + gk_rb_groups(T) * dim) * sizeof(float))) return -1;
    float *rstd = (float *)impl_of(b)->scratch;
    gk_rmsb_args a = {(float *)dx->data, (float *)dw->data, (const float *)dy->data, (const float *)x->data,
                      (const float *)w->data, dim, T, eps, rstd, rstd + T};
    return cu_check(b, "rmsnorm_backward", gk_cu_rmsnorm_backward(&a, impl_of(b)->stream));
}

static int cu_rope_backward(gk_backend *b, gk_tensor *dx, int n_head, int head_dim, int pos0, float base,
                            const gk_tensor *freq_factors)
{
    if (gk_check_rope(b, dx, n_head, head_dim, pos0, base, freq_factors) || enter(b, "rope_backward")) return -1;
    gk_rope_args a = {(float *)dx->data, n_head, head_dim, pos0, gk_rows(dx), base,
                      freq_factors ? (const float *)freq_factors->data : NULL};
    return cu_check(b, "rope_backward", gk_cu_rope_backward(&a, impl_of(b)->stream));
}

static int cu_attention_backward(gk_backend *b, gk_tensor *dq, gk_tensor *dk, gk_tensor *dv, const gk_tensor *dout,
                                 const gk_tensor *q, const gk_tensor *k, const gk_tensor *v, const gk_attn_params *p)
{
    if (gk_check_attention_backward(b, dq, dk, dv, dout, q, k, v, p) || enter(b, "attention_backward")) return -1;
    if (p->head_dim > GK_AB_DMAX)
        return fail(b, "attention_backward: head_dim %d above this backend's %d", p->head_dim, GK_AB_DMAX);
    const int64_t T = gk_rows(q);
    if (ensure_scratch(b, (size_t)(T * p->n_head * 2) * sizeof(float))) return -1;
    gk_attb_args a = {(float *)dq->data, (float *)dk->data, (float *)dv->data, (const float *)dout->data,
                      (const float *)q->data, (const float *)k->data, (const float *)v->data,
                      (float *)impl_of(b)->scratch, p->n_head, p->n_kv_head, p->head_dim, T, p->scale};
    return cu_check(b, "attention_backward", gk_cu_attention_backward(&a, impl_of(b)->stream));
}

static int cu_silu_mul_backward(gk_backend *b, gk_tensor *dgate, gk_tensor *dup, const gk_tensor *dy,
                                const gk_tensor *gate, const gk_tensor *up)
{
    if (gk_check_silu_mul_backward(b, dgate, dup, dy, gate, up) || enter(b, "silu_mul_backward")) return -1;
    gk_smb_args a = {(const float *)dy->data, (const float *)gate->data, (const float *)up->data,
                     (float *)dgate->data, (float *)dup->data, gk_nelements(gate)};
    return cu_check(b, "silu_mul_backward", gk_cu_silu_mul_backward(&a, impl_of(b)->stream));
}

/* The ids live on the device: one outside the table raises the error word (its rows are not
 * added), reported at the next sync point, as the forward embedding does. */
static int cu_embedding_backward(gk_backend *b, gk_tensor *dtable, const gk_tensor *dy, const gk_tensor *ids)
{
    if (gk_check_embedding_backward(b, dtable, dy, ids) || enter(b, "embedding_backward")) return -1;
    if (ensure_scratch(b, 2 * GK_EB_CHUNK * sizeof(uint32_t))) return -1;
    cu_impl *c = impl_of(b);
    gk_embb_args a = {(float *)dtable->data, (const float *)dy->data, (const int32_t *)ids->data, dtable->ne[0],
                      gk_rows(dtable), 0, 0, (uint32_t *)c->scratch, c->err_dev};
    return cu_check(b, "embedding_backward", gk_cu_embedding_backward(&a, gk_rows(dy), c->stream));
}

static int cu_cross_entropy(gk_backend *b, gk_tensor *losses, gk_tensor *dlogits, const gk_tensor *logits,
                            const gk_tensor *targets, float scale)
{
    if (gk_check_cross_entropy(b, losses, dlogits, logits, targets) || enter(b, "cross_entropy")) return -1;
    cu_impl *c = impl_of(b);
    gk_ce_args a = {(const float *)logits->data, (const int32_t *)targets->data, (float *)losses->data,
                    dlogits ? (float *)dlogits->data : NULL, logits->ne[0], scale, c->err_dev};
    return cu_check(b, "cross_entropy", gk_cu_cross_entropy(&a, gk_rows(logits), c->stream));
}

/* The bias corrections in double on the host, passed as their reciprocals. */
static int cu_adamw(gk_backend *b, gk_tensor *w, const gk_tensor *g, gk_tensor *m, gk_tensor *v,
                    const gk_adamw_params *p)
{
    if (gk_check_adamw(b, w, g, m, v, p) || enter(b, "adamw")) return -1;
    const double c1 = 1.0 - pow((double)p->beta1, p->step), c2 = 1.0 - pow((double)p->beta2, p->step);
    gk_adamw_args a = {(float *)w->data, (float *)m->data, (float *)v->data, (const float *)g->data, gk_nelements(w),
                       p->lr, p->beta1, p->beta2, p->eps, p->weight_decay, p->grad_scale, (float)(1.0 / c1),
                       (float)(1.0 / c2)};
    return cu_check(b, "adamw", gk_cu_adamw(&a, impl_of(b)->stream));
}

static int cu_sum_squares(gk_backend *b, gk_tensor *out, const gk_tensor *x)
{
    if (gk_check_sum_squares(b, out, x) || enter(b, "sum_squares")) return -1;
    if (ensure_scratch(b, GK_SS_MAX_BLOCKS * sizeof(double))) return -1;
    const int64_t n = gk_nelements(x);
    gk_ss_args a = {(const float *)x->data, n, (double *)impl_of(b)->scratch, gk_ss_blocks(n), (float *)out->data};
    return cu_check(b, "sum_squares", gk_cu_sum_squares(&a, impl_of(b)->stream));
}

static int cu_fill(gk_backend *b, gk_tensor *t, float value)
{
    if (gk_check_fill(b, t) || enter(b, "fill")) return -1;
    gk_fill_args a = {(float *)t->data, gk_nelements(t), value};
    return cu_check(b, "fill", gk_cu_fill(&a, impl_of(b)->stream));
}

/* ---- the image family (image.cuh, plan_image.cuh) ---------------------------------------- */

/* The type conv2d's GEMM rounds the activations to (F16 for F16 kernels; none otherwise). */
extern "C" int gk_cuda_conv2d_act_type(int wtype)
{
    return gk_plan_conv2d(1, 1, 1, 1, 1, 1, 1, 1, 0, wtype).gemm_type;
}

/* An implicit GEMM (plan_image.cuh): per kernel panel (all of the kernel unless it is
 * dequantised), image and panel of output pixels, the im2col kernel fills the column panel and
 * one cuBLAS GEMM multiplies it into y; the bias is added last. One stream: each panel is
 * consumed before the next overwrites it. */
static int cu_conv2d(gk_backend *b, gk_tensor *y, const gk_tensor *w, const gk_tensor *x, const gk_tensor *bias,
                     const gk_conv2d_params *p)
{
    if (gk_check_conv2d(b, y, w, x, bias, p) || enter(b, "conv2d")) return -1;
    cu_impl *c = impl_of(b);
    if (!c->have_blas) return fail(b, "conv2d: needs cuBLAS, missing here");
    const gk_conv_plan pl = gk_plan_conv2d(x->ne[0], x->ne[1], x->ne[2], x->ne[3], w->ne[0], w->ne[1], w->ne[3],
                                           p->stride, p->pad, w->type);
    if (pl.K >= INT32_MAX || pl.P >= INT32_MAX || pl.cout >= INT32_MAX) return fail(b, "conv2d: dimension too large");
    if (ensure_scratch(b, gk_conv_scratch_bytes(&pl) + 1)) return -1;
    char *col = (char *)c->scratch;
    float *wpanel = (float *)(col + gk_conv_col_bytes(&pl));
    const cudaDataType_t t = pl.gemm_type == GK_F32 ? CUDA_R_32F : CUDA_R_16F;
    const size_t esz = pl.gemm_type == GK_F32 ? 4 : 2;
    const float one = 1.0f, zero = 0.0f;
    for (int64_t co0 = 0; co0 < pl.cout; co0 += pl.wrows) {
        const int64_t nco = pl.cout - co0 < pl.wrows ? pl.cout - co0 : pl.wrows;
        const char *B = (const char *)w->data;
        if (pl.w_panels) {
            gk_dq32_args d = {(const uint8_t *)w->data + (size_t)(co0 * pl.K) * 2, (size_t)pl.K * 2, wpanel, pl.K, nco,
                              w->type};
            if (cu_check(b, "conv2d: kernel panel", gk_cu_dequant_f32(&d, c->stream))) return -1;
            B = (const char *)wpanel;
        }
        for (int64_t n = 0; n < pl.N; n++)
            for (int64_t p0 = 0; p0 < pl.P; p0 += pl.np) {
                const int64_t np = pl.P - p0 < pl.np ? pl.P - p0 : pl.np;
                const char *A = pl.direct ? (const char *)x->data : col;
                if (!pl.direct) {
                    const gk_im2col_args a = gk_plan_im2col(&pl, (const float *)x->data, col, n, p0, np);
                    if (cu_check(b, "conv2d: im2col", gk_cu_im2col(&a, c->stream))) return -1;
                }
                const gk_conv_gemm g = gk_plan_conv_gemm(&pl, n, p0, np, co0, nco);
                cublasStatus_t s = c->blas->gemm_ex(
                    c->handle, CUBLAS_OP_N, CUBLAS_OP_N, (int)g.m, (int)g.n, (int)g.k, &one, A + (size_t)g.a_off * esz, t,
                    (int)g.lda, B + (size_t)g.b_off * esz, t, (int)g.ldb, &zero, (float *)y->data + g.c_off, CUDA_R_32F,
                    (int)g.ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
                if (blas_result(b, s, "conv2d", "cublasGemmEx", g.m, g.n, g.k)) return -1;
            }
    }
    if (!bias) return 0;
    const gk_addc_args a = {(const float *)y->data, (const float *)bias->data, (float *)y->data, pl.P, pl.cout, pl.N, 0};
    return cu_check(b, "conv2d: bias", gk_cu_add_channel(&a, c->stream));
}

static int cu_group_norm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma, const gk_tensor *beta,
                         int n_groups, float eps)
{
    if (gk_check_group_norm(b, y, x, gamma, beta, n_groups) || enter(b, "group_norm")) return -1;
    const int64_t plane = x->ne[0] * x->ne[1], C = x->ne[2], N = x->ne[3];
    const size_t pb = gk_gn_part_bytes(C, n_groups, plane, N);
    if (N * n_groups > 65535) return fail(b, "group_norm: %lld images x %d groups above 65535", (long long)N, n_groups);
    if (ensure_scratch(b, pb + (size_t)(2 * N * n_groups) * sizeof(float))) return -1;
    char *sc = (char *)impl_of(b)->scratch;
    gk_gn_args a = {(const float *)x->data, (const float *)gamma->data, (const float *)beta->data, (float *)y->data,
                    (double *)sc, (float *)(sc + pb), plane, C, N, n_groups, eps};
    return cu_check(b, "group_norm", gk_cu_group_norm(&a, impl_of(b)->stream));
}

static int cu_layer_norm(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *gamma, const gk_tensor *beta,
                         float eps)
{
    if (gk_check_layer_norm(b, y, x, gamma, beta) || enter(b, "layer_norm")) return -1;
    gk_ln_args a = {(const float *)x->data, (const float *)gamma->data, (const float *)beta->data, (float *)y->data,
                    x->ne[0], gk_rows(x), eps};
    return cu_check(b, "layer_norm", gk_cu_layer_norm(&a, impl_of(b)->stream));
}

static int image_unary(gk_backend *b, const char *what, gk_tensor *y, const gk_tensor *x, int op)
{
    if (gk_check_unary(b, what, y, x) || enter(b, what)) return -1;
    gk_iu_args a = {(const float *)x->data, (float *)y->data, gk_nelements(x), op};
    return cu_check(b, what, gk_cu_image_unary(&a, impl_of(b)->stream));
}
static int cu_gelu(gk_backend *b, gk_tensor *y, const gk_tensor *x) { return image_unary(b, "gelu", y, x, GK_IU_GELU); }
static int cu_gelu_quick(gk_backend *b, gk_tensor *y, const gk_tensor *x)
{
    return image_unary(b, "gelu_quick", y, x, GK_IU_GELU_QUICK);
}
static int cu_silu(gk_backend *b, gk_tensor *y, const gk_tensor *x) { return image_unary(b, "silu", y, x, GK_IU_SILU); }

static int cu_geglu(gk_backend *b, gk_tensor *y, const gk_tensor *x)
{
    if (gk_check_geglu(b, y, x) || enter(b, "geglu")) return -1;
    gk_geglu_args a = {(const float *)x->data, (float *)y->data, y->ne[0], gk_rows(x)};
    return cu_check(b, "geglu", gk_cu_geglu(&a, impl_of(b)->stream));
}

static int cu_upsample2x(gk_backend *b, gk_tensor *y, const gk_tensor *x)
{
    if (gk_check_upsample2x(b, y, x) || enter(b, "upsample2x")) return -1;
    gk_up_args a = {(const float *)x->data, (float *)y->data, x->ne[0], x->ne[1], x->ne[2] * x->ne[3]};
    return cu_check(b, "upsample2x", gk_cu_upsample2x(&a, impl_of(b)->stream));
}

static int cu_concat(gk_backend *b, gk_tensor *y, const gk_tensor *a, const gk_tensor *c)
{
    if (gk_check_concat(b, y, a, c) || enter(b, "concat")) return -1;
    gk_cat_args k = {(const float *)a->data, (const float *)c->data, (float *)y->data, a->ne[0] * a->ne[1], a->ne[2],
                     c->ne[2], a->ne[3]};
    return cu_check(b, "concat", gk_cu_concat(&k, impl_of(b)->stream));
}

static int cu_add_channel(gk_backend *b, gk_tensor *y, const gk_tensor *x, const gk_tensor *v)
{
    if (gk_check_add_channel(b, y, x, v) || enter(b, "add_channel")) return -1;
    gk_addc_args a = {(const float *)x->data, (const float *)v->data, (float *)y->data, x->ne[0] * x->ne[1], x->ne[2],
                      x->ne[3], gk_rows(v) > 1};
    return cu_check(b, "add_channel", gk_cu_add_channel(&a, impl_of(b)->stream));
}

static int cu_timestep_embed(gk_backend *b, gk_tensor *y, const gk_tensor *t, int dim, float max_period)
{
    if (gk_check_timestep_embed(b, y, t, dim, max_period) || enter(b, "timestep_embed")) return -1;
    if (gk_nelements(t) > 65535) return fail(b, "timestep_embed: %lld timesteps above 65535", (long long)gk_nelements(t));
    gk_temb_args a = {(const float *)t->data, (float *)y->data, gk_nelements(t), dim, max_period};
    return cu_check(b, "timestep_embed", gk_cu_timestep_embed(&a, impl_of(b)->stream));
}

static int cu_full_attention(gk_backend *b, gk_tensor *out, const gk_tensor *q, const gk_tensor *k, const gk_tensor *v,
                             const gk_full_attn_params *p)
{
    int64_t tq, tk, batch;
    if (gk_check_full_attention(b, out, q, k, v, p, &tq, &tk, &batch) || enter(b, "full_attention")) return -1;
    if (p->head_dim > GK_FA_DMAX)
        return fail(b, "full_attention: head_dim %d above this backend's %d", p->head_dim, GK_FA_DMAX);
    if (p->n_head > 65535 || batch > 65535)
        return fail(b, "full_attention: %d heads x %lld images above the grid's 65535", p->n_head, (long long)batch);
    gk_fa_args a = {(const float *)q->data, (const float *)k->data, (const float *)v->data, (float *)out->data, tq, tk,
                    p->n_head, p->head_dim, p->scale};
    return cu_check(b, "full_attention", gk_cu_full_attention(&a, batch, impl_of(b)->stream));
}

/* x's strides in floats (a dimension of one element: 0, its stride is any); the transposed
 * path where it applies (gk_cont_transposed_dim). */
static int cu_cont(gk_backend *b, gk_tensor *y, const gk_tensor *x)
{
    if (gk_check_cont(b, y, x) || enter(b, "cont")) return -1;
    int64_t st[4];
    for (int i = 0; i < 4; i++) {
        if (x->ne[i] > 1 && x->nb[i] % sizeof(float))
            return fail(b, "cont: x's stride nb[%d] = %zu is not whole floats", i, x->nb[i]);
        st[i] = x->ne[i] > 1 ? (int64_t)(x->nb[i] / sizeof(float)) : 0;
    }
    const gk_cont_args a = gk_plan_cont_args((const float *)x->data, (float *)y->data, x->ne, st);
    return cu_check(b, "cont", gk_cu_cont(&a, impl_of(b)->stream));
}

/* What it runs: the core, image and train families; matmul's forms other than the default one
 * and conv2d only with cuBLAS; attention with k and v caches of one type and head_dim up to
 * GK_AT_DMAX, its backward up to GK_AB_DMAX, full_attention up to GK_FA_DMAX (when params are
 * given). */
static bool cu_supports(gk_backend *b, gk_op op, const int *types, int n_types, const void *params)
{
    if (!gk_supports_default(b, op, types, n_types, params)) return false;
    const gk_matmul_params *mp = (const gk_matmul_params *)params;
    if (op == GK_OP_MATMUL && !gk_matmul_is_default(mp) && !impl_of(b)->have_blas)
        return gk_unsupported(b, "cuda: matmul: the form trans_x %d, trans_w %d, alpha %g, beta %g needs cuBLAS, "
                              "missing here (only the default form Y = X*W^T runs without it)", mp->trans_x,
                              mp->trans_w, (double)mp->alpha, (double)mp->beta);
    if (op == GK_OP_ATTENTION && n_types >= 4 && types[2] != types[3])
        return gk_unsupported(b, "cuda: attention: k and v caches of different types (%s, %s)", gk_type_name(types[2]),
                              gk_type_name(types[3]));
    const gk_attn_params *ap = (const gk_attn_params *)params;
    if (op == GK_OP_ATTENTION && ap && ap->head_dim > GK_AT_DMAX)
        return gk_unsupported(b, "cuda: attention: head_dim %d above %d", ap->head_dim, GK_AT_DMAX);
    if (op == GK_OP_ATTENTION_BACKWARD && ap && ap->head_dim > GK_AB_DMAX)
        return gk_unsupported(b, "cuda: attention_backward: head_dim %d above %d", ap->head_dim, GK_AB_DMAX);
    if (op == GK_OP_CONV2D && !impl_of(b)->have_blas)
        return gk_unsupported(b, "cuda: conv2d needs cuBLAS, missing here (its GEMMs run there)");
    const gk_full_attn_params *fp = (const gk_full_attn_params *)params;
    if (op == GK_OP_FULL_ATTENTION && fp && fp->head_dim > GK_FA_DMAX)
        return gk_unsupported(b, "cuda: full_attention: head_dim %d above %d", fp->head_dim, GK_FA_DMAX);
    return true;
}

/* Built field by field (C++17 has no designated initialisers), so a field added to either
 * struct is NULL here until this backend fills it. */
static const gk_core_ops cu_core = [] {
    gk_core_ops o = {};
    o.matmul = cu_matmul;
    o.embedding = cu_embedding;
    o.rmsnorm = cu_rmsnorm;
    o.rope = cu_rope;
    o.kv_store = cu_kv_store;
    o.attention = cu_attention;
    o.silu_mul = cu_silu_mul;
    o.add = cu_add;
    o.scale = cu_scale;
    o.softmax = cu_softmax;
    o.add_rmsnorm = cu_add_rmsnorm;
    o.rope_kv_store = cu_rope_kv_store;
    return o;
}();

static const gk_image_ops cu_image = [] {
    gk_image_ops o = {};
    o.conv2d = cu_conv2d;
    o.group_norm = cu_group_norm;
    o.layer_norm = cu_layer_norm;
    o.gelu = cu_gelu;
    o.gelu_quick = cu_gelu_quick;
    o.geglu = cu_geglu;
    o.silu = cu_silu;
    o.upsample2x = cu_upsample2x;
    o.concat = cu_concat;
    o.add_channel = cu_add_channel;
    o.timestep_embed = cu_timestep_embed;
    o.full_attention = cu_full_attention;
    o.cont = cu_cont;
    return o;
}();

static const gk_train_ops cu_train = [] {
    gk_train_ops o = {};
    o.rmsnorm_backward = cu_rmsnorm_backward;
    o.rope_backward = cu_rope_backward;
    o.attention_backward = cu_attention_backward;
    o.silu_mul_backward = cu_silu_mul_backward;
    o.embedding_backward = cu_embedding_backward;
    o.cross_entropy = cu_cross_entropy;
    o.adamw = cu_adamw;
    o.sum_squares = cu_sum_squares;
    o.fill = cu_fill;
    return o;
}();

static const gk_ops cu_ops = [] {
    gk_ops o = {};
    o.alloc = cu_alloc;
    o.free = cu_free;
    o.upload = cu_upload;
    o.download = cu_download;
    o.sync = cu_sync;
    o.device_timer = cu_device_timer;
    o.step = cu_step;
    o.supports = cu_supports;
    o.matmul_act_type = cu_matmul_act_type;
    o.core = &cu_core;
    o.image = &cu_image;
    o.train = &cu_train;
    return o;
}();

/* ---- open / close ------------------------------------------------------------------------ */
static void cu_close(gk_backend *b)
{
    if (!b) return;
    cu_impl *c = impl_of(b);
    if (c) {
        cudaSetDevice(c->dev);   /* close may run on another thread than open */
        if (c->capturing) cu_step(b, -1);
        if (c->gexec) cudaGraphExecDestroy(c->gexec);
        if (c->stream) cudaStreamSynchronize(c->stream);
        if (c->handle) c->blas->destroy(c->handle);
        free_checked(b, "close", c->scratch);
        free_checked(b, "close", c->xq);
        free_checked(b, "close", c->err_dev);
        if (c->err_host) cudaFreeHost(c->err_host);
        if (c->t0) cudaEventDestroy(c->t0);
        if (c->t1) cudaEventDestroy(c->t1);
        if (c->stream) cudaStreamDestroy(c->stream);
        /* After a sticky error the context is unusable: reset it so the next case can open. */
        if (c->faulted) cudaDeviceReset();
        cudaGetLastError();
        free(c);
    }
    free(b);
}

static gk_backend *cu_open(const gk_backend_opts *o, char *err, size_t errlen)
{
    if (!cu_available(err, errlen)) return NULL;
    const int dev = o ? o->device : 0;
    if (dev < 0 || dev >= g_count) {
        snprintf(err, errlen, "cuda: device %d does not exist (%d found)", dev, g_count);
        return NULL;
    }
    gk_backend *b = (gk_backend *)calloc(1, sizeof *b);
    cu_impl *c = (cu_impl *)calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        snprintf(err, errlen, "cuda: out of host memory");
        return NULL;
    }
    b->ops = &cu_ops;
    b->name = "cuda";
    b->n_threads = 1;
    b->impl = c;
    c->dev = dev;
    cudaDeviceProp p;
    const char *step = "cudaSetDevice";
    cudaError_t e = cudaSetDevice(dev);
    if (e == cudaSuccess) step = "properties", e = cudaGetDeviceProperties(&p, dev);
    if (e == cudaSuccess) step = "stream", e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess) step = "error word", e = cudaMalloc((void **)&c->err_dev, sizeof(int));
    /* Zeroed on the backend's own stream: a non-blocking stream does not wait for the legacy one. */
    if (e == cudaSuccess) e = cudaMemsetAsync(c->err_dev, 0, sizeof(int), c->stream);
    if (e == cudaSuccess) step = "pinned error word", e = cudaMallocHost((void **)&c->err_host, sizeof(int));
    if (e == cudaSuccess) step = "first sync", e = cudaStreamSynchronize(c->stream);
    if (e != cudaSuccess) {
        snprintf(err, errlen, "cuda: device %d: %s: %s", dev, step, cudaGetErrorString(e));
        cudaGetLastError();
        cu_close(b);
        return NULL;
    }
    *c->err_host = 0;
    c->cc = p.major * 10 + p.minor;
    const char *fc = getenv("GENCOST_CUDA_FORCE_CUBLAS"), *gr = getenv("GENCOST_CUDA_GRAPHS");
    c->force_cublas = fc && !strcmp(fc, "1");
    c->graphs = gr && !strcmp(gr, "1");
    char why[320] = "";
    c->blas = cublas_get(why, sizeof why);
    if (c->blas) {
        cublasStatus_t s = c->blas->create(&c->handle);
        if (s == CUBLAS_STATUS_SUCCESS) s = c->blas->set_stream(c->handle, c->stream);
        if (s == CUBLAS_STATUS_SUCCESS) c->have_blas = true;
        else snprintf(why, sizeof why, "cuBLAS: %s", c->blas->status_string(s));
    }
    if (!c->have_blas) warn_no_blas_once(why, c->cc);
    cudaGetLastError();   /* nothing that set-up left behind is the first op's error */
    snprintf(b->device_name, sizeof b->device_name, "%.60s (sm_%d, %d SMs%s)", p.name, c->cc,
             p.multiProcessorCount, c->have_blas ? "" : "; cublas: missing");
    return b;
}

extern "C" const gk_backend_desc gk_cuda_backend = {"cuda", cu_available, cu_devices, cu_open, cu_close};
