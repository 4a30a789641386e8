#!/usr/bin/env bash
# gencost on Google Colab: every command the notebook (hosts/colab/gencost.ipynb) runs, in one
# script, so the recipe is tested here (tests/test_colab.sh) and not only in a browser.
#
#   1. install what running needs (apt, as root: scripts/install-deps.sh run; no cross compilers,
#      no qemu: Colab time is paid by the hour);
#   2. build with CUDA (Colab images carry the toolkit in /usr/local/cuda; the Makefile finds
#      nvcc there) and say whether a GPU is attached;
#   3. run the default suite (the CPU, and where a GPU is present the llm job and the kernels
#      roofline probe on cuda) through scripts/make-run.sh, which prints the results table and
#      writes the report of this machine against the shipped profiles;
#   4. leave OUT/colab.json (the file to download and merge) and OUT/report/.
#
# usage: hosts/colab/run.sh [--quick] [--no-deps] [--build DIR] [--out DIR] [--jobs N]
#   --quick     the smoke suite (tiny model, --quick sizes): a check that everything runs, in
#               about a minute on a CPU; its numbers are no measurement
#   --no-deps   skip step 1 (a machine that has the libraries and no root)
#   --build DIR build folder (default build); an up-to-date one is only checked, not rebuilt
#   --out DIR   where colab.json, local.ini and report/ go (default results/colab)
#   --jobs N    parallel compile jobs (default: the CPU count)
# Exit status: the run's (0 every case ran and verified, 1 some failed), 2 bad usage, or the
# failing step's.
set -euo pipefail

cd "$(dirname "$0")/../.."
quick=0 deps=1 build=build out=results/colab jobs=$(nproc 2>/dev/null || echo 2)
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1; shift ;;
        --no-deps) deps=0; shift ;;
        --build | --out | --jobs)
            [ $# -ge 2 ] || { echo "colab/run.sh: $1 needs a value" >&2; exit 2; }
            case $1 in --build) build=$2 ;; --out) out=$2 ;; --jobs) jobs=$2 ;; esac
            shift 2 ;;
        *) echo "colab/run.sh: unknown option '$1' (--quick, --no-deps, --build DIR, --out DIR, --jobs N)" >&2
           exit 2 ;;
    esac
done
case $jobs in '' | *[!0-9]* | 0) echo "colab/run.sh: --jobs: '$jobs' is not a positive whole number" >&2; exit 2 ;; esac

step() { printf '\n== %s\n' "$*"; }

# ---- 1. install -------------------------------------------------------------------------------
if [ "$deps" = 1 ]; then
    step "install (what running needs)"
    bash scripts/install-deps.sh run
fi

# ---- 2. build ---------------------------------------------------------------------------------
gpu=0 cc=""
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    gpu=1
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/GPU: /'
    # Compiling for the attached GPU alone ("8.0" -> sm_80) instead of the Makefile's five
    # architectures saves minutes of paid time; unknown (an old driver): the Makefile's list.
    cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .') || cc=""
    case $cc in '' | *[!0-9]*) cc="" ;; esac
else
    echo "GPU: none attached (in Colab: Runtime > Change runtime type > a GPU), so only the CPU is measured"
fi
step "build ($build, $jobs jobs$([ -n "$cc" ] && echo ", CUDA for sm_$cc"))"
# Colab's toolkit is not on PATH in every image; its libraries (cuBLAS, opened at run time) are
# not always on the loader's path either.
if [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="$PATH:/usr/local/cuda/bin"
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/cuda/lib64"
fi
archs=()
[ -n "$cc" ] && archs=("CUDA_ARCHS=-gencode arch=compute_$cc,code=sm_$cc")
make --no-print-directory -j"$jobs" BUILD="$build" ${archs[@]+"${archs[@]}"} "$build/gencost"

# ---- 3. run -----------------------------------------------------------------------------------
mkdir -p "$out"
suite=()
[ "$quick" = 1 ] && suite=(--suite smoke)
step "run (${suite[*]:-default suite}$([ "$gpu" = 1 ] && echo ", CPU and GPU" || echo ", CPU only"))"
rm -f "$out/colab.json"
status=0
bash scripts/make-run.sh "$build/gencost" --results "$out/colab.json" --profile "$out/local.ini" \
    --report "$out/report" ${suite[@]+"${suite[@]}"} || status=$?

# ---- 4. what to take home ---------------------------------------------------------------------
step "results"
[ -f "$out/colab.json" ] || { echo "colab/run.sh: no results file was written" >&2; exit $((status ? status : 1)); }
echo "results file: $out/colab.json (download it; merge it with your own machine's results:"
echo "  build/gencost report results/<your-host>-<time>.json $out/colab.json=<the profile of this GPU, e.g. colab-pro-a100>)"
[ -f "$out/report/report.md" ] && echo "report: $out/report/report.md, report.html"
exit "$status"
