#!/usr/bin/env bash
# The daemon's benchmarks, printed for BENCHMARKS.md. `vigil serve` runs on a fresh SQLite file;
# the load generator (host/daemon/examples/loadgen.rs) is a separate process on loopback.
#   1. ingestion: records/s acknowledged, 25 features, NDJSON and JSON arrays;
#   2. window close -> evaluation visible, 100,000 rows x 25 columns (KS on each);
#   3. /healthz latency while a plugin loops until its deadline on every window and ingestion runs;
#   4. /healthz latency while a Python drift test (examples/python/mean-shift) evaluates every
#      column of every window: during ingestion, then for 3 s of the backlog it leaves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cargo build --release --locked --quiet -p vigil --example loadgen
VIGIL=target/release/vigil
LOADGEN=target/release/examples/loadgen
$VIGIL plugin build tests/guests/hostile-drift --target-dir target/bench-wasm \
  --out target/bench-hostile-drift.wasm >/dev/null
$VIGIL plugin build examples/python/mean-shift --out target/bench-mean-shift.wasm >/dev/null

DIR=$(mktemp -d)
PORT=${PORT:-18080}
URL=http://127.0.0.1:$PORT
export VIGIL_DATABASE_URL=sqlite://$DIR/vigil.db VIGIL_LISTEN=127.0.0.1:$PORT VIGIL_URL=$URL
export VIGIL_TOKEN=$($VIGIL token create --role admin --create-database 2>/dev/null | tail -1)
$VIGIL serve 2>"$DIR/serve.log" &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null; rm -rf "$DIR"' EXIT
until curl -sf "$URL/readyz" >/dev/null; do sleep 0.05; done

api() {  # METHOD PATH [JSON]
  curl -sf -X "$1" -H "Authorization: Bearer $VIGIL_TOKEN" -H 'content-type: application/json' \
    ${3:+--data "$3"} "$URL$2" >/dev/null
}
features=$(python3 -c 'import json; print(json.dumps([{"name": f"f{i}", "type": "numeric"} for i in range(25)]))')
# The plugins, uploaded through the API like any other: the two the monitors use, and a guest
# that loops until its deadline.
$VIGIL plugin push target/wasm-plugins/components/drift-ks.wasm \
  target/wasm-plugins/components/policy-threshold.wasm target/bench-hostile-drift.wasm \
  target/bench-mean-shift.wasm >/dev/null

# 1. Ingestion, with a monitor whose schema every record is checked against.
api POST /v1/models '{"name": "ingest", "task": "regression"}'
api POST /v1/monitors "{\"name\": \"ingest-schema\", \"model\": \"ingest\", \"features\": $features, \"window\": {\"records\": 1000000}}"
$LOADGEN ingest "$URL" "$VIGIL_TOKEN" ingest 400000 5000 4 ndjson
$LOADGEN ingest "$URL" "$VIGIL_TOKEN" ingest 400000 5000 4 json

# 2. Window close -> evaluation: the reference is the first 100,000 ingested records.
api POST /v1/models '{"name": "window", "task": "regression"}'
$LOADGEN ingest "$URL" "$VIGIL_TOKEN" window 100000 5000 4 ndjson >/dev/null
api POST /v1/monitors "{\"name\": \"window-100k\", \"model\": \"window\", \"features\": $features, \"reference\": {\"start\": 0, \"end\": 100000}, \"window\": {\"records\": 100000}}"
$LOADGEN window "$URL" "$VIGIL_TOKEN" window window-100k 100000 5000
curl -sf -H "Authorization: Bearer $VIGIL_TOKEN" "$URL/metrics" | grep -E "vigil_evaluation_seconds_(sum|count)\{monitor=\"window-100k\"" || true

# 3. Health while a plugin loops to its 2 s deadline on every window of 1,000 records.
api POST /v1/models '{"name": "health", "task": "regression"}'
api POST /v1/monitors "{\"name\": \"looping\", \"model\": \"health\", \"features\": $features, \"reference\": {\"start\": 0, \"end\": 1000}, \"window\": {\"records\": 1000}, \"pipeline\": {\"numeric\": {\"plugin\": \"hostile-drift\", \"config\": {\"mode\": \"loop\"}}}}"
$LOADGEN ingest "$URL" "$VIGIL_TOKEN" health 200000 5000 2 ndjson health

# 4. Health while a Python drift test evaluates the 25 columns of every 1,000-record window.
api POST /v1/models '{"name": "python", "task": "regression"}'
api POST /v1/monitors "{\"name\": \"python\", \"model\": \"python\", \"features\": $features, \"reference\": {\"start\": 0, \"end\": 1000}, \"window\": {\"records\": 1000}, \"pipeline\": {\"numeric\": {\"plugin\": \"mean-shift\"}}}"
$LOADGEN ingest "$URL" "$VIGIL_TOKEN" python 200000 5000 2 ndjson health
# Ingestion outruns the plugin: go on probing while the backlog of windows is evaluated.
$LOADGEN probe "$URL" 3
curl -sf -H "Authorization: Bearer $VIGIL_TOKEN" "$URL/metrics" \
  | grep -E "vigil_evaluation_seconds_(sum|count)\{monitor=\"python\"" || true
