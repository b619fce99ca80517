#!/usr/bin/env bash
# Installs what building and testing Vigil needs that cargo cannot fetch itself: a toolchain
# that builds WebAssembly components. Safe to run again; it does nothing when all is there.
#
# Plugins build with rustup's wasm32-wasip2 target when it is installed. Where it is not (and
# `rustup target add` cannot reach its download server), Debian's wasm-capable rustc, the
# standard library's source and the WASI libc are installed instead.
set -euo pipefail

need_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  need_root apt-get update -qq \
    && need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "$@" >/dev/null
}

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is not installed; install Rust from https://rustup.rs first" >&2
  exit 1
fi

has_rustup_target() {  # the target's std is installed
  local libdir
  libdir=$(rustc --print target-libdir --target "$1" 2>/dev/null) || return 1
  compgen -G "$libdir/libstd-*" >/dev/null
}
has_wasip2_target() { has_rustup_target wasm32-wasip2; }

has_debian_wasm_toolchain() {
  [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust/library ] \
    && [ -f /usr/lib/wasm32-wasi/libc.a ] && /usr/bin/rustc --print target-list | grep -qx wasm32-wasip1
}

if has_wasip2_target; then
  echo "setup: using rustup's wasm32-wasip2 target"
elif has_debian_wasm_toolchain; then
  echo "setup: using the system wasm32 toolchain"
else
  # A short timeout: on machines without access to rustup's servers this would hang.
  if command -v rustup >/dev/null 2>&1 && timeout 60 rustup target add wasm32-wasip2 >/dev/null 2>&1 \
      && has_wasip2_target; then
    echo "setup: installed rustup's wasm32-wasip2 target"
  elif command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing the wasm32 toolchain from Debian packages"
    apt_install rustc-web cargo-web rust-web-src rust-web-llvm wasi-libc
    has_debian_wasm_toolchain || { echo "setup: the wasm32 toolchain is still incomplete" >&2; exit 1; }
  else
    echo "setup: no way to install a wasm32 toolchain: run 'rustup target add wasm32-wasip2'" >&2
    exit 1
  fi
fi
# With rustup, plugins that do not ask for WASI build for wasm32-unknown-unknown when that
# target is there (they instantiate several times faster); without it they build for wasip2.
if has_wasip2_target && ! has_rustup_target wasm32-unknown-unknown; then
  timeout 60 rustup target add wasm32-unknown-unknown >/dev/null 2>&1 \
    || echo "setup: wasm32-unknown-unknown is not installed; plugins build for wasip2"
fi
# The durability tests trace the daemon's syscalls (docs/reliability.md, D4).
if ! command -v strace >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing strace"
    apt_install strace \
      || echo "setup: could not install strace; the fsync-ordering test needs it" >&2
  else
    echo "setup: strace is not installed; the fsync-ordering test needs it" >&2
  fi
fi
# Python plugins are built with componentize-py, which the build installs from PyPI into a
# virtual environment of its own (docs: plugin-sdk/python/README.md); Debian's python3 leaves
# venv's pip bootstrap to a package of its own.
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing python3-venv"
    apt_install python3 python3-venv
  else
    echo "setup: python3 with venv is needed to build Python plugins" >&2
    exit 1
  fi
fi
