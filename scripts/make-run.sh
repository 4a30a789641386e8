#!/usr/bin/env bash
# What `make run` does after building: run the default suite on this machine, say where the
# results are, then report this machine against the shipped host profiles (others projected).
# usage: scripts/make-run.sh BUILD/gencost
set -u
bin=$1
out="results/$(hostname | tr -c 'A-Za-z0-9._\n-' '-')-$(date -u +%Y%m%dT%H%M%SZ).json"
# This machine's profile: written once, then the owner's to edit (purchase price, hours, watts).
if [ ! -f hosts/local.ini ]; then
    "$bin" info --profile > hosts/local.ini && echo "make run: wrote hosts/local.ini (edit its EDIT lines)"
fi
"$bin" run --host-profile hosts/local.ini --out "$out"
status=$?
[ -f "$out" ] && echo "make run: results written to $out"
if [ -f "$out" ]; then
    "$bin" report "$out=hosts/local.ini" --hosts hosts --baseline local --out results/report ||
        echo "make run: the report could not be written (see above)"
fi
exit $status
