//! Python plugins against Rust ones, through the same runtime with the default settings
//! (pooling allocator, compiled components cached):
//! - a drift test's instantiate + create + evaluate on 100 values: `mean-shift` (Python,
//!   examples/python) against `drift-t` (Rust, the standard plugin that also takes means);
//! - one evaluation of 100 and of 100,000 values, the test built once (what a window pays);
//! - the same with a Python plugin that returns at once: the cost of the crossing alone;
//! - a policy's instantiate + decide: `drift-streak` (Python) against `policy-consecutive`.
//!
//! Component sizes and the one-off compile time are printed first. Run through
//! `cargo bench -p vigil-tests --bench python_plugins`; BENCHMARKS.md has the figures.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use vigil_runtime::{Action, ColumnData, ColumnResult, Context, History, Runtime, RuntimeConfig};
use vigil_tests::{component, load};

fn values(n: usize, shift: f64) -> ColumnData {
    ColumnData::Numeric(
        (0..n)
            .map(|i| ((i * 7919) % 1000) as f64 / 100.0 + shift)
            .collect(),
    )
}

fn context() -> Context {
    let column = |name: &str, drifted| ColumnResult {
        column: name.into(),
        test: "drift-ks".into(),
        statistic: 0.3,
        p_value: Some(0.01),
        drifted,
        failure: None,
    };
    Context {
        columns: vec![column("x", true), column("y", false)],
        metrics: Vec::new(),
        history: History {
            model_version: None,
            last_alert: None,
            last_retrain: None,
            windows_since_retrain: 0,
            recent: Vec::new(),
        },
        now: 1_700_000_000,
        state: None,
    }
}

fn python_against_rust(c: &mut Criterion) {
    for name in [
        "mean-shift",
        "drift-t",
        "drift-streak",
        "policy-consecutive",
    ] {
        let bytes = component(name);
        let uncached = Runtime::new(RuntimeConfig::default()).unwrap();
        let started = Instant::now();
        uncached.load(&bytes).unwrap();
        eprintln!(
            "{name}: component {:.1} MB, compiled in {:.2} s",
            bytes.len() as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
    }
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();

    let mut group = c.benchmark_group("drift_test_instantiate_create_evaluate_100");
    for name in ["mean-shift", "drift-t"] {
        let plugin = load(&runtime, name);
        let (reference, current) = (values(100, 0.0), values(100, 0.5));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut session = plugin
                    .drift_test(runtime.shared(), black_box(&reference), "{}")
                    .unwrap();
                black_box(session.evaluate(black_box(&current)).unwrap());
            })
        });
    }
    group.finish();

    // In a monitor a drift test's instance lives across windows: a window pays this.
    let mut group = c.benchmark_group("drift_test_evaluate_100");
    for name in ["mean-shift", "drift-t"] {
        let plugin = load(&runtime, name);
        let mut session = plugin
            .drift_test(runtime.shared(), &values(100, 0.0), "{}")
            .unwrap();
        let current = values(100, 0.5);
        group.bench_function(name, |b| {
            b.iter(|| black_box(session.evaluate(black_box(&current)).unwrap()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("drift_test_evaluate_100k");
    group.sample_size(20);
    for name in ["mean-shift", "drift-t"] {
        let plugin = load(&runtime, name);
        let mut session = plugin
            .drift_test(runtime.shared(), &values(100_000, 0.0), "{}")
            .unwrap();
        let current = values(100_000, 0.5);
        group.bench_function(name, |b| {
            b.iter(|| black_box(session.evaluate(black_box(&current)).unwrap()))
        });
    }
    group.finish();

    // Where a Python evaluation's time goes: `hostile-py` in its default mode takes the column
    // and returns at once, so it costs the crossing alone (values lifted into a list of
    // Python floats, the SDK's dispatch), not the arithmetic.
    let mut group = c.benchmark_group("python_crossing_only");
    group.sample_size(20);
    let plugin = load(&runtime, "hostile-py");
    for n in [100, 100_000] {
        let mut session = plugin
            .drift_test(runtime.shared(), &values(n, 0.0), "{}")
            .unwrap();
        let current = values(n, 0.5);
        group.bench_function(format!("hostile-py/{n}"), |b| {
            b.iter(|| black_box(session.evaluate(black_box(&current)).unwrap()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("policy_instantiate_decide");
    for name in ["drift-streak", "policy-consecutive"] {
        let plugin = load(&runtime, name);
        let context = context();
        group.bench_function(name, |b| {
            b.iter(|| {
                let decision = plugin
                    .decide(runtime.shared(), black_box(&context), "{}")
                    .unwrap();
                assert_ne!(decision.action, Action::Promote);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, python_against_rust);
criterion_main!(benches);
