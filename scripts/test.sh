#!/usr/bin/env bash
# Runs the whole test suite: installs the Wasm toolchain if needed, builds every plugin and
# hostile test guest from source into components (once), and runs all tests on the release
# build, the code and settings that ship.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --release --locked --workspace "$@"
