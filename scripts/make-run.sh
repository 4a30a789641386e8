#!/usr/bin/env bash
# What `make run` does after building: run the default suite on this machine and say where the
# results are. usage: scripts/make-run.sh BUILD/gencost
set -u
bin=$1
out="results/$(hostname | tr -c 'A-Za-z0-9._\n-' '-')-$(date -u +%Y%m%dT%H%M%SZ).json"
"$bin" run --out "$out"
status=$?
[ -f "$out" ] && echo "make run: results written to $out"
exit $status
