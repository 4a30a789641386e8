#!/usr/bin/env bash
# Runs one libFuzzer target the way `make test` and `make fuzz` both do, so seeds, dictionary
# and limits are stated once.
# usage: tests/fuzz/run-fuzz.sh FUZZ_DIR TARGET smoke|long [libFuzzer options...]
#   smoke: the seeds plus a few mutations; the working corpus is a temporary folder, so the
#          seed folders in the repo are never written; prints libFuzzer's closing figures, or
#          its whole log when something was found.
#   long:  grows FUZZ_DIR/corpus/TARGET (kept between runs) from the seeds.
# Seeds: tests/fuzz/corpus/TARGET/ (gguf also reads tests/fixtures/gguf-*), dictionary
# tests/fuzz/TARGET.dict when present (history uses results.dict). A crash or sanitizer report
# exits non-zero and leaves the input as FUZZ_DIR/crash-* (or leak-*, oom-*, timeout-*): copy
# it into tests/fuzz/corpus/TARGET/ and every later run, make test's included, replays it.
# -malloc_limit_mb turns any allocation a hostile size could cause into a reported failure.
set -u
dir=$1; target=$2; mode=$3; shift 3
bin=$dir/fuzz_$target
here=$(cd "$(dirname "$0")" && pwd)
seeds=()
[ -d "$here/corpus/$target" ] && seeds+=("$here/corpus/$target")
if [ "$target" = gguf ]; then seeds+=("$here/../fixtures/gguf-bad" "$here/../fixtures/gguf-good"); fi
dict=()
dname=$target
[ "$target" = history ] && dname=results   # history rows come from results files
[ -f "$here/$dname.dict" ] && dict=("-dict=$here/$dname.dict")
opts=(-rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10 "-artifact_prefix=$dir/" "${dict[@]}")
if [ "$mode" = smoke ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # Quiet when clean (libFuzzer's closing figures only), everything when not.
    "$bin" "${opts[@]}" "$@" "$work" "${seeds[@]}" >"$work/log" 2>&1
    st=$?
    if [ "$st" -eq 0 ]; then grep -E '^#[0-9]+[[:space:]]+DONE|^Done ' "$work/log"; else cat "$work/log"; fi
    exit "$st"
else
    mkdir -p "$dir/corpus/$target"
    echo "== fuzz_$target"
    exec "$bin" "${opts[@]}" "$@" "$dir/corpus/$target" "${seeds[@]}"
fi
