//! Plugin call costs: the fixed cost of a call (instantiate + call an empty plugin), and the
//! KS test on 1M vs 1M values through Wasm against the same code compiled natively.
//!
//! Run through `scripts/bench.sh`, which also times scipy on the same data and writes the
//! figures to BENCHMARKS.md. The KS data comes from `target/bench-data/` (written by
//! `tests/bench/make_data.py`); without it, that group is skipped.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use vigil_runtime::{Action, ColumnData, Context, History, Runtime, RuntimeConfig};
use vigil_tests::{load, workspace};

fn empty_context() -> Context {
    Context {
        columns: Vec::new(),
        metrics: Vec::new(),
        history: History {
            model_version: None,
            last_alert: None,
            last_retrain: None,
            windows_since_retrain: 0,
        },
        now: 0,
    }
}

fn instantiate_and_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("instantiate_and_call_empty_plugin");
    for pooling in [false, true] {
        let runtime = Runtime::new(RuntimeConfig {
            pooling,
            ..RuntimeConfig::default()
        })
        .unwrap();
        let plugin = load(&runtime, "empty-policy");
        let context = empty_context();
        let name = if pooling { "pooling" } else { "on_demand" };
        group.bench_function(name, |b| {
            b.iter(|| {
                let decision = plugin.decide(black_box(&context), "").unwrap();
                assert_eq!(decision.action, Action::None);
            })
        });
    }
    group.finish();
}

fn read_f64s(path: &PathBuf) -> Option<Vec<f64>> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
    )
}

fn ks_1m(c: &mut Criterion) {
    let dir = workspace().join("target/bench-data");
    let (Some(reference), Some(current)) = (
        read_f64s(&dir.join("ks_reference.f64")),
        read_f64s(&dir.join("ks_current.f64")),
    ) else {
        eprintln!("no KS data in {}; run scripts/bench.sh", dir.display());
        return;
    };
    let reference = ColumnData::Numeric(reference);
    let current = ColumnData::Numeric(current);
    let mut group = c.benchmark_group("ks_1m_vs_1m");
    group.sample_size(20);
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = load(&runtime, "drift-ks");
    group.bench_function("wasm", |b| {
        b.iter(|| {
            let mut session = plugin.drift_test(&reference, "{}").unwrap();
            black_box(session.evaluate(&current).unwrap())
        })
    });
    let to_sdk = |c: &ColumnData| match c {
        ColumnData::Numeric(v) => vigil_plugin_sdk::ColumnData::Numeric(v.clone()),
        ColumnData::Categorical(_) => unreachable!(),
    };
    group.bench_function("native", |b| {
        b.iter_batched(
            || (to_sdk(&reference), to_sdk(&current)),
            |(r, c)| {
                black_box(
                    vigil_plugin_sdk::testing::drift_test::<drift_ks::Ks>(r, c, "{}").unwrap(),
                )
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, instantiate_and_call, ks_1m);
criterion_main!(benches);
