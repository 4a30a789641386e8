#!/usr/bin/env bash
# Installs what gencost needs to build, test and chart, when it can; otherwise prints the exact
# command to run and stops. Idempotent: a machine that has everything costs one dpkg query.
set -euo pipefail

DEB_PKGS=(build-essential clang pkg-config libhwloc-dev hwloc libjansson-dev libinih-dev
          libcurl4-openssl-dev libsqlite3-dev sqlite3 gnuplot-nox libcmocka-dev
          gcc-aarch64-linux-gnu qemu-user)
# AArch64 cmocka, so the Apple-Silicon/NEON kernels are tested under qemu (Debian multiarch).
DEB_ARM64_PKGS=(libcmocka-dev:arm64)
BREW_PKGS=(hwloc jansson inih curl sqlite gnuplot cmocka pkg-config)

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi
}

missing_deb() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}

if command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
    mapfile -t miss < <(missing_deb "${DEB_PKGS[@]}")
    arch_ok=1
    if [ "$(dpkg --print-architecture)" = amd64 ]; then
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
    echo "  gnuplot, cmocka and pkg-config (development packages), then run make again." >&2
    exit 1
fi
