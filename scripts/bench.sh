#!/usr/bin/env bash
# Runs the benchmarks side by side in one run and prints the figures for BENCHMARKS.md:
#   1. instantiate + call of an empty plugin (criterion);
#   2. KS on 1M vs 1M values: Wasm vs the same code native (timed in alternation, see
#      tests/benches/ks_paired.rs) vs scipy.stats.ks_2samp;
#   3. `vigil drift` on 1M rows x 27 columns vs a plain scipy script vs Evidently's data-drift
#      preset: wall time and peak memory of the whole process.
# Needs Python 3 with numpy, pandas, scipy and evidently (set PYTHON; a venv is made in
# target/bench-venv when PYTHON is unset).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
DATA=target/bench-data
OUT=target/bench-results.md
if [ -z "${PYTHON:-}" ]; then
  if [ ! -x target/bench-venv/bin/python ]; then
    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install -q numpy "pandas<3" scipy evidently  # Evidently 0.7 breaks on pandas 3
  fi
  PYTHON=target/bench-venv/bin/python
fi
"$PYTHON" tests/bench/make_data.py "$DATA"
cargo build --release --locked --quiet -p vigil
cargo bench --locked -p vigil-tests --bench plugins -- --noplot 2>&1 | grep -E "^[a-z_0-9/]+ +time:|^ks_|^instantiate" || true

median_us() {  # criterion's median estimate, in microseconds
  "$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['median']['point_estimate']/1000)" \
    "target/criterion/$1/new/estimates.json"
}
empty_od=$(median_us instantiate_and_call_empty_plugin/on_demand)
empty_pool=$(median_us instantiate_and_call_empty_plugin/pooling)
ks_paired=$(cargo bench --locked -p vigil-tests --bench ks_paired 2>/dev/null | tail -1)
ks_scipy=$("$PYTHON" tests/bench/scipy_ks.py "$DATA" 2>/dev/null)

measure() { "$PYTHON" tests/bench/measure.py "$@"; }
ref=$DATA/drift_reference.csv cur=$DATA/drift_current.csv
# ks and chi2 as the scipy script computes them (the 1M-row reference would get distances).
vigil_run=$(measure target/release/vigil drift --reference "$ref" --current "$cur" --num-test ks \
  --cat-test chi2 --format json)
scipy_run=$(measure "$PYTHON" tests/bench/scipy_drift.py "$ref" "$cur")
evidently_run=$(measure "$PYTHON" tests/bench/evidently_drift.py "$ref" "$cur")

"$PYTHON" - "$empty_od" "$empty_pool" "$ks_paired" "$ks_scipy" \
  "$vigil_run" "$scipy_run" "$evidently_run" <<'PY' | tee "$OUT"
import json, sys
od, pool = map(float, sys.argv[1:3])
ks = json.loads(sys.argv[3])
wasm, native, ratio = ks["wasm_ms"] * 1000, ks["native_ms"] * 1000, ks["ratio"]
scipy_s = float(sys.argv[4])
vigil, scipy_run, evid = (json.loads(a) for a in sys.argv[5:8])
print("| benchmark | figure |\n| --- | --- |")
print(f"| instantiate + call, empty plugin (on-demand allocator) | {od:.1f} µs median |")
print(f"| instantiate + call, empty plugin (pooling allocator) | {pool:.1f} µs median |")
print(f"| KS 1M vs 1M, Wasm | {wasm/1000:.1f} ms median of {ks['rounds']} |")
print(f"| KS 1M vs 1M, same code native | {native/1000:.1f} ms median (Wasm/native = {ratio:.2f}, median of per-round ratios) |")
print(f"| KS 1M vs 1M, scipy.stats.ks_2samp | {scipy_s*1000:.1f} ms median of 5 (scipy/Wasm = {scipy_s*1e6/wasm:.2f}) |")
for name, run in [("vigil drift", vigil), ("scipy script", scipy_run), ("Evidently DataDriftPreset", evid)]:
    print(f"| 1M x 27 columns, {name} | {run['wall_s']:.2f} s, {run['peak_mib']:.0f} MiB peak (exit {run['exit']}) |")
print(f"\nEvidently/vigil: {evid['wall_s']/vigil['wall_s']:.1f}x time, {evid['peak_mib']/vigil['peak_mib']:.1f}x memory; "
      f"scipy/vigil: {scipy_run['wall_s']/vigil['wall_s']:.1f}x time, {scipy_run['peak_mib']/vigil['peak_mib']:.1f}x memory")
PY
