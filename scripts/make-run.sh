#!/usr/bin/env bash
# What `make run` does after building: run the default suite on this machine (the CPU, and the
# GPU where one is present and the build has CUDA), say where the results are, then report this
# machine against the shipped host profiles (others projected). hosts/colab/run.sh runs it too.
# usage: scripts/make-run.sh BUILD/gencost [--results FILE] [--profile FILE] [--report DIR] [RUN_ARGS...]
#   --results FILE  the results file (default results/<host>-<UTC time>.json)
#   --profile FILE  this machine's profile, written once by `gencost info --profile` when missing
#                   (default hosts/local.ini), then the owner's to edit (price, hours, watts)
#   --report DIR    where the report goes (default results/report)
#   RUN_ARGS        more options for `gencost run` (make run RUN_ARGS="--suite smoke")
set -u
bin=$1; shift
out="results/$(hostname | tr -c 'A-Za-z0-9._\n-' '-')-$(date -u +%Y%m%dT%H%M%SZ).json"
profile=hosts/local.ini
report=results/report
while [ $# -gt 0 ]; do
    case $1 in
        --results) out=$2; shift 2 ;;
        --profile) profile=$2; shift 2 ;;
        --report) report=$2; shift 2 ;;
        *) break ;;
    esac
done

# A GPU this build cannot use is worth a line: the run would measure only the CPU.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 &&
    ! "$bin" list | grep -q '^  cuda '; then
    echo "make run: an NVIDIA GPU is present but this build has no CUDA backend (nvcc was not found when" \
         "it was built): install the CUDA toolkit, then make clean run, to measure the GPU too"
fi
if [ ! -f "$profile" ]; then
    mkdir -p "$(dirname "$profile")"
    "$bin" info --profile > "$profile" && echo "make run: wrote $profile (edit its EDIT lines)"
fi
"$bin" run --host-profile "$profile" --out "$out" "$@"
status=$?
[ -f "$out" ] && echo "make run: results written to $out"
if [ -f "$out" ]; then
    "$bin" report "$out=$profile" --hosts hosts --baseline local --out "$report" ||
        echo "make run: the report could not be written (see above)"
fi
exit $status
