#!/usr/bin/env bash
# Runs every test binary (cmocka) natively, the AArch64 kernel tests under qemu, and a short run
# of each fuzz target (FUZZ_DIR/fuzz_T for T in FUZZ_TARGETS, over its seeds plus FUZZ_SMOKE_RUNS
# inputs: tests/fuzz/run-fuzz.sh), then prints one closing line CI understands: "N passed, N
# failed". A check that is not cmocka (a fuzz run) counts as one test: passed when it exits 0,
# failed otherwise.
# Where a GPU is visible (/dev/nvidia0, or nvidia-smi -L lists one) the sanitized binaries run
# CUDA too: ASan's shadow gap is left unprotected so the driver can map its memory
# (protect_shadow_gap=0, google/sanitizers#629) and LeakSanitizer skips the NVIDIA libraries'
# own allocations (tests/lsan-cuda.supp); the CUDA test also runs without sanitizers
# ($CUDA_NOSAN_TEST, device path mandatory) and under compute-sanitizer memcheck when it is
# installed. Without a GPU, scripts/gpu-check.sh runs in its no-GPU mode (its CPU-side steps).
# usage: tests/run.sh BUILD "NATIVE_BINS" "AARCH64_BINS"
set -u
build=$1; native=$2; a64=${3:-}
passed=0; failed=0; failed_names=()
gpu_visible() {
    [ -e /dev/nvidia0 ] && return 0
    command -v nvidia-smi >/dev/null 2>&1 && timeout 20 nvidia-smi -L 2>/dev/null | grep -q '^GPU '
}
gpu=0; gpu_visible && gpu=1
export CMOCKA_MESSAGE_OUTPUT=stdout
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0$([ "$gpu" = 1 ] && echo :protect_shadow_gap=0)}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan-cuda.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

count() {   # name, log, status: add cmocka's PASSED/FAILED counts; a crash counts as a failure
    local name=$1 log=$2 st=$3 p f
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$st" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
    if [ "$st" -ne 0 ] || [ "$f" -ne 0 ]; then failed_names+=("$name"); fi
}

step() {   # label, command...: one non-cmocka check, counted as 1 passed or 1 failed
    local label=$1; shift
    local log; log=$(mktemp)
    echo "== $label"
    timeout 300 "$@" >"$log" 2>&1
    local st=$?
    if [ "$st" -eq 0 ]; then
        tail -n 2 "$log"
        passed=$((passed + 1))
    else
        cat "$log"
        echo "[  FAILED  ] $label (exit $st)"
        failed=$((failed + 1)); failed_names+=("$label")
    fi
    rm -f "$log"
}

run_one() {   # label, command...
    local label=$1; shift
    local log; log=$(mktemp)
    echo "== $label"
    timeout 600 "$@" >"$log" 2>&1
    local st=$?
    cat "$log"
    count "$label" "$log" "$st"
    rm -f "$log"
}

for t in $native; do run_one "$(basename "$t")" "$t"; done
nosan=${CUDA_NOSAN_TEST:-}
step "gpu-check.sh: bash -n" bash -n scripts/gpu-check.sh
if [ "$gpu" = 1 ]; then
    [ -x "$nosan" ] && run_one "test_cuda (no sanitizers, GPU visible)" "$nosan"
    if [ -x "$nosan" ] && command -v compute-sanitizer >/dev/null 2>&1; then
        step "test_cuda under compute-sanitizer memcheck" \
            compute-sanitizer --tool memcheck --error-exitcode 1 "$nosan"
    fi
    echo "note: a GPU is visible: the full prepared check is make gpu-check (scripts/gpu-check.sh)"
else
    # Its steps that need no GPU: the non-ASan CUDA test build and run, gencost info; GPU
    # steps each print why they are skipped.
    step "gpu-check.sh --no-gpu (CPU-side steps)" \
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u GC_STAGE bash scripts/gpu-check.sh --no-gpu --build "$build"
fi
for t in $a64; do
    # LeakSanitizer cannot run under qemu-user (it needs ptrace); ASan and UBSan can.
    # The loader comes from the cross sysroot (-L), so libc must too: the multiarch libc6:arm64
    # that arm64 cmocka pulls in is another build, and that mix hangs in pthread_create.
    run_one "$(basename "$t") (aarch64, qemu -cpu max)" env ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 \
        "${QEMU_AARCH64:-qemu-aarch64}" -cpu max -L /usr/aarch64-linux-gnu \
        -E LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib "$t"
done
# Fuzz targets: a clean run over the seeds and the mutations passes; a crash, a sanitizer report
# or a leak fails. Each stops after 5 s (the slow ones, history and history_db, before their
# FUZZ_SMOKE_RUNS), so the whole takes about 20 s.
if [ -n "${FUZZ_DIR:-}" ]; then
    for t in ${FUZZ_TARGETS:-}; do
        runs=${FUZZ_SMOKE_RUNS:-20000}
        step "fuzz_$t (seeds + $runs inputs)" \
            bash tests/fuzz/run-fuzz.sh "$FUZZ_DIR" "$t" smoke -runs="$runs" -max_total_time=5
    done
fi
[ -n "$a64" ] || echo "note: AArch64 kernel tests skipped (aarch64-linux-gnu-gcc, qemu-aarch64 or arm64 cmocka missing)"

echo
[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
