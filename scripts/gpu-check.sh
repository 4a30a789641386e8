#!/usr/bin/env bash
# The prepared GPU check (issue 14): one call on a machine with an NVIDIA GPU, at most ~10
# minutes, printing figures as it goes. Steps, each under its own timeout (and all under
# --budget seconds):
#   1 nvidia-smi                  the GPU, its driver and clocks
#   2 build                       gencost and the non-ASan CUDA test ($BUILD/nosan/test_cuda),
#                                 for this GPU's architecture only (CUDA_ARCHS) to save minutes
#   3 test_cuda (no sanitizers)   every kernel in host emulation and on the device; where a
#                                 GPU is visible the device path is mandatory
#   4 compute-sanitizer           memcheck, racecheck and synccheck on that test (when installed)
#   5 gencost info                the backends, the driver/runtime pair, cuBLAS
#   6 kernels on cuda --quick     q4_0, q8_0 and bf16 matvec/matmul: GB/s, GFLOP/s, roofline
#                                 fraction, verification against ref
#   7 llm decode and prefill      tinyllama-1.1b and llama2-7b Q4_0 on cuda: token/s, device
#                                 time, roofline fraction; decode again as CUDA graphs
#                                 (GENCOST_CUDA_GRAPHS=1); prefill again on cuBLAS
#                                 (GENCOST_CUDA_FORCE_CUBLAS=1) beside the 8-bit tensor cores
#   8 train tiny on cuda --quick  full (F32) and LoRA on a Q4_0 base: the train family and
#                                 matmul's backward forms end to end, verified against ref
#   9 image sd-tiny on cuda --quick  the image family (conv2d on cuBLAS, group norm, flash
#                                 attention, ...) end to end: text encode, guided steps, VAE
#                                 decode, verified against ref
# Without a GPU (none visible, or --no-gpu) the GPU steps print why they are skipped and the
# others run (build, the emulation part of test_cuda, info): make test runs it that way.
# usage: scripts/gpu-check.sh [--build DIR] [--out DIR] [--budget S] [--no-gpu] [--jobs N]
# Exit status: 0 when every step that ran passed, 1 otherwise, 2 bad usage.
set -u
build="build-gpu"; out=""; budget=570; force_no_gpu=0; jobs=$(nproc 2>/dev/null || echo 2)
while [ $# -gt 0 ]; do
    case $1 in
        --build) build=${2:?--build needs a folder}; shift 2 ;;
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        --budget) budget=${2:?--budget needs seconds}; shift 2 ;;
        --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
        --no-gpu) force_no_gpu=1; shift ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case $budget in ''|*[!0-9]*) echo "gpu-check: --budget '$budget' is not a whole number of seconds" >&2; exit 2 ;; esac
case $jobs in ''|*[!0-9]*) echo "gpu-check: --jobs '$jobs' is not a whole number" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.." || exit 1
out=${out:-$build/gpu-check}
mkdir -p "$out" || exit 1
start=$(date +%s)
ran=0; skipped=0; failures=()

gpu=0
if [ "$force_no_gpu" = 0 ]; then
    if [ -e /dev/nvidia0 ] || { command -v nvidia-smi >/dev/null 2>&1 && timeout 20 nvidia-smi -L 2>/dev/null | grep -q '^GPU '; }; then
        gpu=1
    fi
fi
no_gpu_why=$([ "$force_no_gpu" = 1 ] && echo "--no-gpu" || echo "no GPU visible: no /dev/nvidia0, nvidia-smi -L lists none")

left() { echo $((budget - ($(date +%s) - start))); }

# step NAME CAP_SECONDS COMMAND...: runs under min(CAP, the budget left), output streamed.
step() {
    local name=$1 cap=$2; shift 2
    local t; t=$(left)
    [ "$t" -gt "$cap" ] && t=$cap
    if [ "$t" -lt 5 ]; then
        echo "== $name: SKIPPED: the ${budget} s budget is spent"
        skipped=$((skipped + 1)); return 0
    fi
    echo "== $name (timeout ${t} s, at $(( $(date +%s) - start )) s)"
    local t0; t0=$(date +%s)
    timeout --kill-after=10 "$t" "$@"
    local st=$?
    local dt=$(( $(date +%s) - t0 ))
    ran=$((ran + 1))
    if [ "$st" -eq 0 ]; then
        echo "-- $name: ok (${dt} s)"
    else
        [ "$st" -eq 124 ] && echo "-- $name: FAILED: timed out after ${t} s" || echo "-- $name: FAILED (exit $st, ${dt} s)"
        failures+=("$name")
    fi
    return 0
}

gpu_step() {   # like step, but only with a GPU
    if [ "$gpu" = 1 ]; then step "$@"; return; fi
    echo "== $1: SKIPPED ($no_gpu_why)"
    skipped=$((skipped + 1))
}

# Figures of a results file: one line per case and phase (python3 reads the JSON).
figures() {
    local f=$1
    [ -s "$f" ] || { echo "   (no results file $f)"; return 0; }
    if ! command -v python3 >/dev/null 2>&1; then echo "   (python3 not found: figures are in $f)"; return 0; fi
    python3 - "$f" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for a in d.get("host", {}).get("accelerators", []):
    print("   device: %s, driver %s, runtime %s, %s, %.0f GB/s peak" % (a.get("name"), a.get("driver_version"),
          a.get("runtime_version"), a.get("blas", "-"), a.get("peak_bw_gbs", 0)))
for c in d.get("cases", []):
    m, t, v = c.get("metrics", {}), c.get("throughput", {}), c.get("verify", {})
    line = "   %-6s %-14s %-5s %-24s" % (c.get("workload"), c.get("preset") or "-", c.get("quant"), c.get("phase"))
    if c.get("status") != "ok":
        print(line + " %s: %s" % (c.get("status"), c.get("error", "")))
        continue
    line += " %10.2f %s/s" % (t.get("median", 0), c.get("unit"))
    if "device_s_median" in m: line += "  device %.4g s" % m["device_s_median"]
    if "roofline_fraction" in m: line += "  roofline %.1f%%" % (100 * m["roofline_fraction"])
    line += "  verify %s" % ("ok" if v.get("ok") else "FAILED: " + v.get("detail", ""))
    print(line)
PY
}

echo "gpu-check: build $build, results in $out, budget ${budget} s, $([ "$gpu" = 1 ] && echo "GPU visible" || echo "$no_gpu_why")"

# 1. the GPU
gpu_step "nvidia-smi" 30 nvidia-smi

# 2. build: for this GPU's compute capability only, unless CUDA_ARCHS is given
archs=${CUDA_ARCHS:-}
if [ -z "$archs" ] && [ "$gpu" = 1 ]; then
    cc=$(timeout 20 nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
    case $cc in ''|*[!0-9]*) ;; *) archs="-gencode arch=compute_$cc,code=sm_$cc" ;; esac
fi
[ -n "$archs" ] && echo "   CUDA_ARCHS=$archs"
step "build (make -j$jobs BUILD=$build gencost nosan/test_cuda)" 300 \
    make --no-print-directory -j"$jobs" BUILD="$build" ${archs:+CUDA_ARCHS="$archs"} "$build/gencost" "$build/nosan/test_cuda"

# 3. the CUDA test without sanitizers: the device path is mandatory with a GPU
if [ "$gpu" = 1 ]; then
    step "test_cuda (no sanitizers, device path mandatory)" 120 env GENCOST_REQUIRE_GPU=1 "$build/nosan/test_cuda"
else
    step "test_cuda (no sanitizers, emulation; device path skips: $no_gpu_why)" 120 "$build/nosan/test_cuda"
fi

# 4. compute-sanitizer on the same binary
cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
for tool in memcheck racecheck synccheck; do
    if [ "$gpu" = 1 ] && [ -z "$cs" ]; then
        echo "== compute-sanitizer $tool: SKIPPED (compute-sanitizer not installed)"; skipped=$((skipped + 1))
    else
        gpu_step "compute-sanitizer $tool" 120 env GENCOST_REQUIRE_GPU=1 "${cs:-compute-sanitizer}" --tool "$tool" \
            --error-exitcode 1 "$build/nosan/test_cuda"
    fi
done

# 5. what this build sees
step "gencost info" 60 "$build/gencost" info

# 6. the kernels workload on the GPU
gpu_step "kernels on cuda --quick (q4_0, q8_0, bf16)" 150 \
    "$build/gencost" run --workload kernels --backend cuda --quant q4_0,q8_0,bf16 --quick --out "$out/kernels.json"
[ "$gpu" = 1 ] && figures "$out/kernels.json"

# 7. decode and prefill on the GPU, the small model first
for preset in tinyllama-1.1b llama2-7b; do
    gpu_step "llm $preset q4_0 on cuda: prefill, decode" 200 \
        "$build/gencost" run --workload llm --preset "$preset" --quant q4_0 --backend cuda --phases prefill,decode \
        --reps 3 --out "$out/llm-$preset.json"
    [ "$gpu" = 1 ] && figures "$out/llm-$preset.json"
    # decode again with each token as one CUDA graph (off by default until this passes): its
    # verification against ref runs a decode step through the graph too
    gpu_step "llm $preset q4_0 on cuda: decode as CUDA graphs (GENCOST_CUDA_GRAPHS=1)" 120 \
        env GENCOST_CUDA_GRAPHS=1 "$build/gencost" run --workload llm --preset "$preset" --quant q4_0 \
        --backend cuda --phases decode --reps 3 --out "$out/llm-$preset-graphs.json"
    [ "$gpu" = 1 ] && figures "$out/llm-$preset-graphs.json"
    # the same prefill with the 8-bit tensor-core path off (cuBLAS on F16-dequantised weights),
    # side by side: which of the two GK_MMA_MAX_M (kernels/cuda/plan.cuh) should prefer
    gpu_step "llm $preset q4_0 on cuda: prefill on cuBLAS (GENCOST_CUDA_FORCE_CUBLAS=1)" 120 \
        env GENCOST_CUDA_FORCE_CUBLAS=1 "$build/gencost" run --workload llm --preset "$preset" --quant q4_0 \
        --backend cuda --phases prefill --reps 3 --out "$out/llm-$preset-cublas.json"
    [ "$gpu" = 1 ] && figures "$out/llm-$preset-cublas.json"
done

# 8. training on the GPU: every train op and backward matmul form, verified against ref
for mode in full lora; do
    gpu_step "train tiny $mode on cuda --quick" 90 \
        "$build/gencost" run --workload train --preset tiny --mode "$mode" $([ "$mode" = lora ] && echo --quant q4_0) \
        --backend cuda --quick --out "$out/train-$mode.json"
    [ "$gpu" = 1 ] && figures "$out/train-$mode.json"
done

# 9. image generation on the GPU: every image op in a Stable Diffusion pass, verified against ref
gpu_step "image sd-tiny q8_0 on cuda --quick" 90 \
    "$build/gencost" run --workload image --preset sd-tiny --quant q8_0 --backend cuda --quick --out "$out/image-sd-tiny.json"
[ "$gpu" = 1 ] && figures "$out/image-sd-tiny.json"

echo
echo "gpu-check: $ran steps ran, $skipped skipped, ${#failures[@]} failed in $(( $(date +%s) - start )) s$([ ${#failures[@]} -gt 0 ] && printf ': %s;' "${failures[@]}")"
[ ${#failures[@]} -eq 0 ]
