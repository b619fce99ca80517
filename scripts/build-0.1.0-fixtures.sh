#!/usr/bin/env bash
# Builds the vigil:plugin@0.1.0 test fixtures (tests/fixtures/v0.1.0/, see its README) from the
# sources of the last commit whose contract was 0.1.0, with that commit's own build tool and the
# toolchain scripts/setup.sh installs. The tree is checked out into a temporary git worktree,
# so the working tree is left alone.
#
#   scripts/build-0.1.0-fixtures.sh            # writes tests/fixtures/v0.1.0/*.wasm
set -euo pipefail

# The commit before the contract became 0.2.0.
SOURCE=42eb7c4^
# One plugin of each kind 0.1.0 has: drift test, detector, preprocessor, policy.
PLUGINS=(drift-ks detect-page-hinkley preprocess-standardize policy-threshold)

root=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
out="$root/tests/fixtures/v0.1.0"
work=$(mktemp -d)
tree="$work/tree"
cleanup() {
  git -C "$root" worktree remove --force "$tree" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

git -C "$root" worktree add --detach "$tree" "$SOURCE" >/dev/null
commit=$(git -C "$tree" rev-parse HEAD)
grep -q '^package vigil:plugin@0.1.0;' "$tree/wit/worlds.wit" \
  || { echo "build-0.1.0-fixtures: $SOURCE is not a 0.1.0 tree" >&2; exit 1; }
"$tree/scripts/setup.sh"

# The standard plugins' names are reserved for the components built into the daemon, so the
# fixtures are named `<plugin>-v0-1` (their info says so); their code is that commit's.
for plugin in "${PLUGINS[@]}"; do
  sed -i "s/^name = \"$plugin\"$/name = \"$plugin-v0-1\"/" "$tree/plugins/$plugin/Cargo.toml"
done
sed -i 's|^drift-ks = { path = "../plugins/drift-ks" }$|drift-ks = { path = "../plugins/drift-ks", package = "drift-ks-v0-1" }|' \
  "$tree/tests/Cargo.toml"

# That commit's build tool, driven by a small program of ours, builds the plugins.
mkdir -p "$tree/host/plugin-build/examples"
cat > "$tree/host/plugin-build/examples/fixtures.rs" <<'EOF'
fn main() {
    let mut args = std::env::args().skip(1);
    let workspace = std::path::PathBuf::from(args.next().expect("workspace"));
    let target_dir = std::path::PathBuf::from(args.next().expect("target dir"));
    let request = vigil_plugin_build::BuildRequest {
        manifest_path: workspace.join("Cargo.toml"),
        packages: args.collect(),
        target_dir,
    };
    for built in vigil_plugin_build::build(&request).expect("build") {
        println!("{} {}", built.package, built.path.display());
    }
}
EOF
target="${VIGIL_FIXTURE_TARGET_DIR:-$work/target}"
built=$(cd "$tree" && cargo run --quiet --release -p vigil-plugin-build --example fixtures \
  --target-dir "$target/host" -- "$tree" "$target/wasm" "${PLUGINS[@]/%/-v0-1}")

mkdir -p "$out"
while read -r package path; do
  cp "$path" "$out/$package.wasm"
  echo "build-0.1.0-fixtures: $package -> tests/fixtures/v0.1.0/$package.wasm"
done <<<"$built"
echo "$commit" > "$out/SOURCE"
