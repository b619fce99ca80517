#!/usr/bin/env bash
# Tests plugin projects the way their authors work with them, outside the workspace:
#  - the Python SDK's own tests and the Python examples (examples/python/*), under plain
#    CPython with pytest (the SDK's harness calls each plugin as the daemon does; the same
#    examples built into components run in the real runtime in tests/tests/python_plugins.rs);
#  - a project of every kind in each language from `vigil plugin new`, copied out of the
#    checkout: its tests pass as they are, and `vigil plugin build` makes a component the host
#    accepts (the build loads it as the daemon would).
# Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${CARGO_TARGET_DIR:-$PWD/target}
vigil=$target/release/vigil
[ -x "$vigil" ] || cargo test --release --locked --workspace --no-run
venv=$target/plugin-projects-venv
if [ ! -x "$venv/bin/pytest" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check pytest
fi
# No bytecode caches in the source tree: the plugin builds watch these directories.
export PYTHONDONTWRITEBYTECODE=1
"$venv/bin/pytest" -q -p no:cacheprovider plugin-sdk/python/tests "$@"
for example in examples/python/*/; do
  (cd "$example" && PYTHONPATH="$root/plugin-sdk/python" "$venv/bin/pytest" -q -p no:cacheprovider "$@")
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-plugin-projects.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Rust projects share one target directory, so their dependencies build once.
export CARGO_TARGET_DIR=$work/rust-target
for kind in drift-test detector preprocessor policy; do
  "$vigil" plugin new --lang python "$kind" "py-$kind" --dir "$work/py-$kind" >/dev/null
  (cd "$work/py-$kind" && "$venv/bin/pytest" -q -p no:cacheprovider "$@")
  "$vigil" plugin build "$work/py-$kind"
  "$vigil" plugin new --lang rust "$kind" "rs-$kind" --dir "$work/rs-$kind" >/dev/null
  (cd "$work/rs-$kind" && cargo test --quiet)
  "$vigil" plugin build "$work/rs-$kind" --target-dir "$work/rust-target/wasm"
done
