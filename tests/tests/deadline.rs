//! A plugin that never returns is interrupted at its deadline, every time, and the host goes
//! on. This test has its own binary so no other test competes with the epoch ticker for a core.

use std::time::{Duration, Instant};

use vigil_runtime::{ColumnData, Error, Runtime, RuntimeConfig};
use vigil_tests::load;

#[test]
fn infinite_loop_is_interrupted_within_deadline_plus_100ms() {
    let deadline = Duration::from_millis(300);
    let runtime = Runtime::new(RuntimeConfig {
        deadline,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let plugin = load(&runtime, "hostile-drift");
    let numbers = ColumnData::Numeric((0..100).map(f64::from).collect());
    let mut overshoots = Vec::new();
    for _ in 0..10 {
        let mut session = plugin
            .drift_test(runtime.shared(), &numbers, r#"{"mode": "loop"}"#)
            .unwrap();
        let start = Instant::now();
        let error = session.evaluate(&numbers).unwrap_err();
        let elapsed = start.elapsed();
        assert!(matches!(error, Error::Timeout { .. }), "{error}");
        // The deadline is counted in 10 ms ticks, so it may fire up to one tick early.
        assert!(
            elapsed + Duration::from_millis(10) >= deadline,
            "{elapsed:?}"
        );
        overshoots.push(elapsed.saturating_sub(deadline));
    }
    let worst = overshoots.iter().max().unwrap();
    assert!(
        *worst < Duration::from_millis(100),
        "overshoots: {overshoots:?}"
    );
    let mut session = plugin
        .drift_test(runtime.shared(), &numbers, r#"{"mode": "behave"}"#)
        .unwrap();
    assert_eq!(session.evaluate(&numbers).unwrap().statistic, 100.0);
}

/// Time spent waiting inside a WASI import is bounded by the same deadline: the epoch does not
/// fire while the host runs an import, so each import that can wait gives up at the deadline
/// itself (RELIABILITY W4). One mode per way a plugin built with WASI can wait.
#[test]
fn waiting_in_wasi_imports_is_interrupted_within_deadline_plus_100ms() {
    let deadline = Duration::from_millis(300);
    let runtime = Runtime::new(RuntimeConfig {
        deadline,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let plugin = load(&runtime, "hostile-wasi");
    let numbers = ColumnData::Numeric((0..100).map(f64::from).collect());
    let modes = [
        "sleep",
        "sleep-loop",
        "poll-clock",
        "poll-never",
        "block-clock",
        "block-never",
        "stdin-read",
        "stdin-block",
        "stdout-write",
        "stdout-poll",
        "clock-spin",
    ];
    for mode in modes {
        let config = format!(r#"{{"mode": "{mode}"}}"#);
        let mut session = plugin
            .drift_test(runtime.shared(), &numbers, &config)
            .unwrap();
        let start = Instant::now();
        let error = session.evaluate(&numbers).unwrap_err();
        let elapsed = start.elapsed();
        assert!(matches!(error, Error::Timeout { .. }), "{mode}: {error}");
        assert!(
            elapsed + Duration::from_millis(10) >= deadline
                && elapsed < deadline + Duration::from_millis(100),
            "{mode}: {elapsed:?}"
        );
    }
    // Asking for more randomness than the cap (64 KiB) fails at once.
    let mut session = plugin
        .drift_test(runtime.shared(), &numbers, r#"{"mode": "huge-random"}"#)
        .unwrap();
    let start = Instant::now();
    let error = session.evaluate(&numbers).unwrap_err();
    assert!(matches!(error, Error::Trap { .. }), "{error}");
    assert!(start.elapsed() < deadline, "{:?}", start.elapsed());
}

/// A plugin's random streams start over at every call, so the same input gives the same
/// output and a stored evaluation replays exactly.
#[test]
fn randomness_repeats_from_call_to_call() {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = load(&runtime, "hostile-wasi");
    let numbers = ColumnData::Numeric(vec![1.0]);
    let config = r#"{"mode": "random"}"#;
    let mut session = plugin
        .drift_test(runtime.shared(), &numbers, config)
        .unwrap();
    let first = session.evaluate(&numbers).unwrap().statistic;
    assert_eq!(session.evaluate(&numbers).unwrap().statistic, first);
    let mut other = plugin
        .drift_test(runtime.shared(), &numbers, config)
        .unwrap();
    assert_eq!(other.evaluate(&numbers).unwrap().statistic, first);
    assert_ne!(first, 0.0);
}
