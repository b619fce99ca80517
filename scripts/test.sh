#!/usr/bin/env bash
# Runs the whole test suite: installs the Wasm toolchain if needed, builds every plugin and
# hostile test guest from source into components (once), starts a throwaway Postgres server
# and a throwaway Kubernetes API server, and runs all tests on the release build, the code and
# settings that ship. Arguments go to `cargo test` (test-binary arguments after `--`, as there).
#
# The tests that need Postgres, Kubernetes or a browser are marked #[ignore = "needs …: ..."],
# so that a plain `cargo test` on a machine without them stays green and says how many it did
# not run, instead of passing them without running them. This script promises the whole suite, so it
# provides the server and runs the ignored tests too (--include-ignored); there, a Postgres test
# that finds no server fails. Every #[ignore] in the suite is for something this script provides:
# a test needing anything else must not be #[ignore]d until this script provides it too.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Each test binary starts dozens of daemons, one after another, in one process, and each
# daemon's plugin runtime maps a few thousand regions that are not all given back when the
# test's daemon stops; the `api` binary passes the kernel's default limit of 65530 maps per
# process (and aborts with ENOMEM). Until that is found, the suite runs with a higher limit.
if [ "$(cat /proc/sys/vm/max_map_count)" -lt 1048576 ]; then
  if [ "$(id -u)" -eq 0 ]; then sysctl -qw vm.max_map_count=1048576; else sudo sysctl -qw vm.max_map_count=1048576; fi
fi
# A server named by the caller is used as it is; otherwise scripts/postgres.sh starts one (or
# finds the one it started before). Assigned before the export: `export X="$(...)"` would hide
# the script's failure from `set -e`.
if [ -z "${VIGIL_TEST_POSTGRES_URL:-}" ]; then
  VIGIL_TEST_POSTGRES_URL="$(scripts/postgres.sh)"
fi
export VIGIL_TEST_POSTGRES_URL
# A Kubernetes API server for the orchestrator's tests. A cluster named by the caller through
# VIGIL_TEST_KUBECONFIG is used as it is (the opt-in for a real cluster: the tests work in
# namespaces of their own and delete them); otherwise scripts/k8s-testenv.sh builds one (once
# per machine, cached) and starts it in a throwaway directory, stopped when this script exits.
if [ -z "${VIGIL_TEST_KUBECONFIG:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then scripts/k8s-testenv.sh build; else sudo scripts/k8s-testenv.sh build; fi
  k8s_run_dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-k8s-testenv.XXXXXX")
  trap 'scripts/k8s-testenv.sh stop "$k8s_run_dir"; rm -rf "$k8s_run_dir"' EXIT
  scripts/k8s-testenv.sh start "$k8s_run_dir"
  VIGIL_TEST_KUBECONFIG=$k8s_run_dir/kubeconfig
fi
export VIGIL_TEST_KUBECONFIG
# The deploy/ tests drive kubectl: the testenv's own 1.20 build when there is one (kubectl
# must be within one minor version of the server), else the caller's.
if [ -z "${VIGIL_TEST_KUBECTL:-}" ]; then
  VIGIL_TEST_KUBECTL=${K8S_TESTENV_CACHE:-/var/cache/vigil-k8s-testenv}/current/bin/kubectl
  [ -x "$VIGIL_TEST_KUBECTL" ] || VIGIL_TEST_KUBECTL=$(command -v kubectl || echo kubectl)
fi
export VIGIL_TEST_KUBECTL
# Debian packages some tests use: the dashboard's browser test drives headless Chromium
# through chromedriver, and the signing test checks Vigil's signatures with minisign. Tools
# named by the caller are used as they are.
packages=()
if [ -z "${VIGIL_TEST_CHROMEDRIVER:-}" ]; then
  command -v chromedriver >/dev/null 2>&1 || packages+=(chromium-driver)
  command -v chromium >/dev/null 2>&1 || packages+=(chromium)
fi
if [ -z "${VIGIL_TEST_MINISIGN:-}" ]; then
  command -v minisign >/dev/null 2>&1 || packages+=(minisign)
fi
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo_=(); else sudo_=(sudo); fi
  "${sudo_[@]}" apt-get update -qq
  "${sudo_[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
fi
VIGIL_TEST_CHROMEDRIVER=${VIGIL_TEST_CHROMEDRIVER:-$(command -v chromedriver)}
VIGIL_TEST_MINISIGN=${VIGIL_TEST_MINISIGN:-$(command -v minisign)}
export VIGIL_TEST_CHROMEDRIVER VIGIL_TEST_MINISIGN
# --include-ignored goes to the test binaries: after the caller's `--` if there is one.
include_ignored=(-- --include-ignored)
for arg in "$@"; do
  if [ "$arg" = -- ]; then include_ignored=(--include-ignored); fi
done
# --no-fail-fast: one run reports every failing test, not only the first failing binary's.
cargo test --release --locked --workspace --no-fail-fast "$@" "${include_ignored[@]}"
# The Python client's suite runs against the same release binary. It is part of the whole
# suite, so it runs when no arguments narrow the cargo run to some tests.
if [ $# -eq 0 ]; then
  scripts/python-client-test.sh
  scripts/plugin-projects-test.sh
fi
