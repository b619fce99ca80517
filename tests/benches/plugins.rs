//! The fixed cost of a plugin call: instantiate an empty plugin in a fresh store and call it,
//! with each instance allocator. (The KS comparison with native code is `ks_paired.rs`.)
//!
//! Run through `scripts/bench.sh`, which writes the figures to BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use vigil_runtime::{Action, Context, History, Runtime, RuntimeConfig};
use vigil_tests::load;

fn empty_context() -> Context {
    Context {
        columns: Vec::new(),
        metrics: Vec::new(),
        history: History {
            model_version: None,
            last_alert: None,
            last_retrain: None,
            windows_since_retrain: 0,
            recent: Vec::new(),
        },
        now: 0,
        state: None,
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
                let decision = plugin
                    .decide(runtime.shared(), black_box(&context), "")
                    .unwrap();
                assert_eq!(decision.action, Action::None);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, instantiate_and_call);
criterion_main!(benches);
