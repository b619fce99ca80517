//! KS on 1M vs 1M values through Wasm and natively, measured in alternation: each round times
//! one Wasm run and one native run back to back, and the figure is the median over rounds of
//! the per-round ratio. On a shared machine the speed drifts over seconds (other tenants,
//! memory bandwidth), so two groups timed one after the other, as criterion does, can differ
//! by a third for the same code; pairing cancels that drift.
//!
//! Prints one JSON object: `{"rounds", "wasm_ms", "native_ms", "ratio"}` (medians). Needs the
//! data in `target/bench-data/` (written by `tests/bench/make_data.py`).

use std::hint::black_box;
use std::time::Instant;

use vigil_runtime::{ColumnData, Runtime, RuntimeConfig};
use vigil_tests::{load, workspace};

const ROUNDS: usize = 21;

fn read_f64s(name: &str) -> Vec<f64> {
    let path = workspace().join("target/bench-data").join(name);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/bench.sh", path.display()));
    bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters benchmarks by name.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"ks_paired".contains(a.as_str()))
    {
        return;
    }
    let (reference, current) = (read_f64s("ks_reference.f64"), read_f64s("ks_current.f64"));
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = load(&runtime, "drift-ks");
    let (wasm_reference, wasm_current) = (
        ColumnData::Numeric(reference.clone()),
        ColumnData::Numeric(current.clone()),
    );
    let wasm = || {
        let start = Instant::now();
        let mut session = plugin
            .drift_test(runtime.shared(), &wasm_reference, "{}")
            .unwrap();
        black_box(session.evaluate(&wasm_current).unwrap());
        start.elapsed().as_secs_f64() * 1e3
    };
    let native = || {
        let (r, c) = (
            vigil_plugin_sdk::ColumnData::Numeric(reference.clone()),
            vigil_plugin_sdk::ColumnData::Numeric(current.clone()),
        );
        let start = Instant::now();
        black_box(vigil_plugin_sdk::testing::drift_test::<drift_ks::Ks>(r, c, "{}").unwrap());
        start.elapsed().as_secs_f64() * 1e3
    };
    // One untimed round warms the caches, the pool slot and the allocator.
    wasm();
    native();
    let (mut wasm_ms, mut native_ms, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Alternate which goes first, so neither always runs on a warmer cache.
        let (w, n) = if round % 2 == 0 {
            let w = wasm();
            (w, native())
        } else {
            let n = native();
            (wasm(), n)
        };
        wasm_ms.push(w);
        native_ms.push(n);
        ratios.push(w / n);
        if std::env::var_os("KS_PAIRED_VERBOSE").is_some() {
            eprintln!("round {round}: wasm {w:.1} ms, native {n:.1} ms");
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "rounds": ROUNDS,
            "wasm_ms": median(&mut wasm_ms),
            "native_ms": median(&mut native_ms),
            "ratio": median(&mut ratios),
        })
    );
}
