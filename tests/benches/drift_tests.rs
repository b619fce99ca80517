//! Every standard drift test on 1M reference vs 1M current values, through the real runtime as
//! the daemon calls it: `create` from the reference, then `evaluate` on the window, timed
//! together. The data is what `tests/bench/drift_speed.py` writes (it times SciPy on the same
//! files and prints the ratios; run it rather than this bench alone).
//!
//! Prints one JSON object: the median milliseconds of each test (`ks`, …; the categorical runs
//! as `cat:NAME`). `DRIFT_BENCH_ROUNDS` sets the rounds (default 5); `DRIFT_BENCH_TESTS`, a
//! comma-separated list, picks tests.

use std::hint::black_box;
use std::time::Instant;

use vigil_runtime::{CategoricalColumn, ColumnData, Runtime, RuntimeConfig};
use vigil_tests::{load, workspace};

/// The numeric tests, by name.
const NUMERIC: [&str; 15] = [
    "ks",
    "ad",
    "cvm",
    "mwu",
    "t",
    "es",
    "energy",
    "wasserstein",
    "wasserstein_norm",
    "kuiper",
    "psi",
    "js",
    "kl",
    "hellinger",
    "tvd",
];
/// The categorical tests on a column of ten categories.
const CATEGORICAL: [&str; 7] = ["chi2", "g", "psi", "js", "kl", "hellinger", "tvd"];
/// The tests of a two-category column.
const BINARY: [&str; 2] = ["fisher", "z"];

/// `$VIGIL_BENCH_DATA`, else `target/bench-data` in the workspace.
fn bench_data() -> std::path::PathBuf {
    std::env::var_os("VIGIL_BENCH_DATA")
        .map(Into::into)
        .unwrap_or_else(|| workspace().join("target/bench-data"))
}

fn read(name: &str) -> Vec<u8> {
    let path = bench_data().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run tests/bench/drift_speed.py, which writes it",
            path.display()
        )
    })
}

fn numeric(name: &str) -> ColumnData {
    ColumnData::Numeric(
        read(name)
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
    )
}

/// Codes as little-endian u32, labels `c0`, `c1`, … up to the largest code.
fn categorical(name: &str) -> ColumnData {
    let codes: Vec<u32> = read(name)
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let count = codes.iter().max().map_or(0, |&m| m + 1);
    ColumnData::Categorical(CategoricalColumn {
        categories: (0..count).map(|c| format!("c{c}")).collect(),
        codes,
    })
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters benchmarks by name.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"drift_tests".contains(a.as_str()))
    {
        return;
    }
    let rounds: usize = std::env::var("DRIFT_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let picked = std::env::var("DRIFT_BENCH_TESTS").ok();
    let wanted = |key: &str| {
        picked
            .as_deref()
            .is_none_or(|list| list.split(',').any(|t| t == key))
    };
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let data = [
        ("", NUMERIC.as_slice(), "drift_numeric"),
        ("cat:", CATEGORICAL.as_slice(), "drift_categorical"),
        ("", BINARY.as_slice(), "drift_binary"),
    ];
    let mut times = serde_json::Map::new();
    for (prefix, tests, file) in data {
        let (reference, current) = if prefix.is_empty() && file == "drift_numeric" {
            (
                numeric(&format!("{file}_reference.f64")),
                numeric(&format!("{file}_current.f64")),
            )
        } else {
            (
                categorical(&format!("{file}_reference.u32")),
                categorical(&format!("{file}_current.u32")),
            )
        };
        for test in tests {
            let key = format!("{prefix}{test}");
            if !wanted(&key) {
                continue;
            }
            let plugin = load(&runtime, &format!("drift-{test}"));
            let run = || -> Result<(f64, _), String> {
                let start = Instant::now();
                let mut session = plugin
                    .drift_test(runtime.shared(), &reference, "{}")
                    .map_err(|e| format!("create: {e}"))?;
                let result = session
                    .evaluate(&current)
                    .map_err(|e| format!("evaluate: {e}"))?;
                Ok((start.elapsed().as_secs_f64() * 1e3, black_box(result)))
            };
            // One untimed run warms the pool slot and the guest's allocator. A test that fails
            // is reported as such and left out of the figures.
            let result = match run() {
                Ok((_, result)) => result,
                Err(e) => {
                    eprintln!("{key}: {e}");
                    continue;
                }
            };
            let mut ms: Vec<f64> = (0..rounds).map(|_| run().unwrap().0).collect();
            let ms = median(&mut ms);
            eprintln!(
                "{key}: {ms:.2} ms (statistic {:e}, p-value {:?})",
                result.statistic, result.p_value
            );
            times.insert(key, serde_json::json!(ms));
        }
    }
    println!("{}", serde_json::Value::Object(times));
}
