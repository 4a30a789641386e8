#!/usr/bin/env bash
# Installs what gencost needs, when it can; otherwise prints the exact command to run and stops.
# Idempotent: a machine that has everything costs one dpkg query.
# usage: scripts/install-deps.sh [run|test] [--list]
#   run   what `make run` needs: a C compiler, pkg-config, the libraries, gnuplot (`make deps-run`).
#         Nothing else, so a paid machine (Colab, a GPU by the hour) spends no minutes on the rest.
#   test  (default) the above and what `make test` adds (`make deps`): cmocka, clang (fuzzing,
#         check-warnings), the AArch64 cross compiler, qemu-user and arm64 cmocka, so the
#         NEON kernels are tested under qemu, and OpenSSH, Slurm and munge for the remote and
#         slurm tests.
#   --list  print the packages the mode asks for on this system (apt or Homebrew names), one a
#           line, and install nothing (what tests/test_colab.sh checks).
set -euo pipefail

mode=${1:-test}
list=0
[ "${2:-}" = --list ] && list=1
case $mode in
    run | test) ;;
    *) echo "install-deps.sh: unknown mode '$mode' (run or test)" >&2; exit 2 ;;
esac

DEB_RUN_PKGS=(build-essential pkg-config libhwloc-dev hwloc libjansson-dev libinih-dev
              libcurl4-openssl-dev libsqlite3-dev sqlite3 libpng-dev gnuplot-nox libmicrohttpd-dev)
DEB_TEST_PKGS=(clang libcmocka-dev gcc-aarch64-linux-gnu qemu-user
               # the real engines gencost remote and gencost slurm drive, started on this machine
               # by tests/test_remote.c (sshd on 127.0.0.1) and tests/test_slurm.c (munged,
               # slurmctld, slurmd in a temporary folder); no service is enabled or configured
               openssh-server openssh-client slurmctld slurmd slurm-client munge git)
# AArch64 cmocka, so the Apple-Silicon/NEON kernels are tested under qemu (Debian multiarch).
DEB_ARM64_PKGS=(libcmocka-dev:arm64)
BREW_RUN_PKGS=(hwloc jansson inih curl sqlite libpng gnuplot pkg-config libmicrohttpd)
BREW_TEST_PKGS=(cmocka)

DEB_PKGS=("${DEB_RUN_PKGS[@]}")
BREW_PKGS=("${BREW_RUN_PKGS[@]}")
if [ "$mode" = test ]; then
    DEB_PKGS+=("${DEB_TEST_PKGS[@]}")
    BREW_PKGS+=("${BREW_TEST_PKGS[@]}")
fi

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi
}

missing_deb() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}

if [ "$list" = 1 ]; then
    if [ "$(uname -s)" = Darwin ]; then
        printf '%s\n' "${BREW_PKGS[@]}"
    else
        printf '%s\n' "${DEB_PKGS[@]}"
        [ "$mode" = test ] && printf '%s\n' "${DEB_ARM64_PKGS[@]}"
    fi
    exit 0
fi

if command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
    mapfile -t miss < <(missing_deb "${DEB_PKGS[@]}")
    arch_ok=1
    if [ "$mode" = test ] && [ "$(dpkg --print-architecture)" = amd64 ]; then
        mapfile -t miss_arm < <(missing_deb "${DEB_ARM64_PKGS[@]}")
    else
        miss_arm=()
    fi
    [ ${#miss[@]} -eq 0 ] && [ ${#miss_arm[@]} -eq 0 ] && exit 0
    echo "gencost set-up: installing ${miss[*]} ${miss_arm[*]}"
    if ! as_root true; then
        echo "gencost set-up: need root to install packages; run:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y ${miss[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ ${#miss_arm[@]} -gt 0 ] && ! dpkg --print-foreign-architectures | grep -q arm64; then
        as_root dpkg --add-architecture arm64 || arch_ok=0
    fi
    as_root apt-get update -qq
    [ ${#miss[@]} -gt 0 ] && as_root apt-get install -y -qq "${miss[@]}" >/dev/null
    if [ ${#miss_arm[@]} -gt 0 ] && [ "$arch_ok" = 1 ]; then
        as_root apt-get install -y -qq "${miss_arm[@]}" >/dev/null ||
            echo "gencost set-up: AArch64 cmocka not installable; the qemu kernel tests will be skipped"
    fi
    exit 0
elif [ "$(uname -s)" = Darwin ]; then
    if ! command -v brew >/dev/null; then
        echo "gencost set-up: Homebrew not found; install it from https://brew.sh, then run:" >&2
        echo "  brew install ${BREW_PKGS[*]}" >&2
        exit 1
    fi
    for p in "${BREW_PKGS[@]}"; do brew list --versions "$p" >/dev/null || brew install "$p"; done
    exit 0
else
    echo "gencost set-up: unknown package manager; install: hwloc, jansson, inih, libcurl, sqlite3," >&2
    echo "  gnuplot and pkg-config$([ "$mode" = test ] && echo ", cmocka") (development packages), then run make again." >&2
    exit 1
fi
