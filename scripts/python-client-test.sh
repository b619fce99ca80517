#!/usr/bin/env bash
# Tests the Python client (clients/python) against a real daemon: installs the client with its
# test dependencies into a virtualenv under the target directory (made once, refreshed when
# the client's pyproject.toml changes) and runs its pytest suite with the release `vigil`
# binary, which the suite starts as a daemon of its own. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
# The binary the workspace's tests use: after scripts/test.sh's `cargo test` this builds nothing
# (a `cargo build -p vigil` alone would resolve other features and rebuild wasmtime).
cargo test --release --locked --workspace --no-run
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  # Debian's python3 leaves venv's pip bootstrap to a package of its own.
  if [ "$(id -u)" -eq 0 ]; then sudo_=(); else sudo_=(sudo); fi
  "${sudo_[@]}" apt-get update -qq
  "${sudo_[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    python3 python3-venv >/dev/null
fi
venv=$target/python-client-venv
stamp=$venv/.pyproject-sha256
wanted=$(sha256sum clients/python/pyproject.toml | cut -d' ' -f1)
if [ ! -x "$venv/bin/pytest" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -e 'clients/python[test]'
  echo "$wanted" >"$stamp"
fi
VIGIL_BIN=$target/release/vigil "$venv/bin/pytest" -q clients/python "$@"
