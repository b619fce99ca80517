#!/usr/bin/env bash
# What `--format html` adds to `vigil drift` on the 1M x 27 benchmark files: runs the JSON and
# the HTML report alternately (so that load on the machine hits both alike) and prints each
# run's wall time, the medians, their ratio and the page's size.
#   python tests/bench/make_data.py target/bench-data   # once
#   tests/bench/html_report.sh [VIGIL] [DATA_DIR] [RUNS]
set -euo pipefail
vigil=${1:-target/release/vigil}
data=${2:-target/bench-data}
runs=${3:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {
  local start end
  start=$(date +%s.%N)
  "$vigil" drift --reference "$data/drift_reference.csv" --current "$data/drift_current.csv" \
    --format "$1" --output "$out/report.$1"
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f\n", b - a}'
}
run json >/dev/null  # warm the page cache and the compiled-plugin cache
json=() html=()
for _ in $(seq "$runs"); do
  json+=("$(run json)")
  html+=("$(run html)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "json runs (s): ${json[*]}"
echo "html runs (s): ${html[*]}"
mj=$(median "${json[@]}") mh=$(median "${html[@]}")
echo "median json ${mj} s, html ${mh} s, html/json $(awk -v a="$mh" -v b="$mj" 'BEGIN {printf "%.3f", a / b}')"
echo "page size: $(stat -c %s "$out/report.html") bytes"
