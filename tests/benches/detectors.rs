//! Updates per second of each streaming detector plugin in Wasm, on the streams
//! `tests/bench/river_detectors.py` times River on (it writes them to `target/bench-data/`;
//! run it first). Each detector takes the median of five passes over the whole stream, fed in
//! chunks of 65,536 values as `vigil detect` feeds it, in a fresh session each pass.
//!
//! Prints one JSON object: updates per second for each detector name.

use std::hint::black_box;
use std::time::Instant;

use vigil_runtime::{Runtime, RuntimeConfig};
use vigil_tests::{load, workspace};

const PASSES: usize = 5;

/// `$VIGIL_BENCH_DATA`, else `target/bench-data` in the workspace.
fn bench_data() -> std::path::PathBuf {
    std::env::var_os("VIGIL_BENCH_DATA")
        .map(Into::into)
        .unwrap_or_else(|| workspace().join("target/bench-data"))
}

fn read_f64s(name: &str) -> Vec<f64> {
    let path = bench_data().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run tests/bench/river_detectors.py first",
            path.display()
        )
    });
    bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters benchmarks by name.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"detectors".contains(a.as_str()))
    {
        return;
    }
    let numeric = read_f64s("detector_numeric.f64");
    let bits = read_f64s("detector_bits.f64");
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let detectors = [
        ("adwin", &numeric),
        ("page-hinkley", &numeric),
        ("kswin", &numeric),
        ("cusum", &numeric),
        ("ddm", &bits),
        ("eddm", &bits),
        ("hddm-a", &bits),
        ("hddm-w", &bits),
    ];
    let mut rates = serde_json::Map::new();
    // `DETECTOR_BENCH_ONLY`, a comma-separated list, picks detectors.
    let only = std::env::var("DETECTOR_BENCH_ONLY").ok();
    for (name, stream) in detectors {
        if only
            .as_deref()
            .is_some_and(|list| !list.split(',').any(|n| n == name))
        {
            continue;
        }
        let plugin = load(&runtime, &format!("detect-{name}"));
        let mut seconds: Vec<f64> = (0..PASSES)
            .map(|_| {
                let start = Instant::now();
                let mut session = plugin.detector(runtime.shared(), "{}", None).unwrap();
                for chunk in stream.chunks(1 << 16) {
                    black_box(session.update(chunk).unwrap());
                }
                start.elapsed().as_secs_f64()
            })
            .collect();
        seconds.sort_by(f64::total_cmp);
        let rate = stream.len() as f64 / seconds[PASSES / 2];
        rates.insert(name.to_string(), serde_json::json!(rate.round()));
    }
    println!("{}", serde_json::Value::Object(rates));
}
