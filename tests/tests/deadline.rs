//! A plugin that never returns is interrupted at its deadline, every time, and the host goes
//! on. This test has its own binary so no other test competes with the epoch ticker for a core.
//!
//! How soon after the deadline a call ends depends on when the machine gives the thread a core:
//! it is printed (`--nocapture`), not held to a bound a busy machine could miss. What is held is
//! that the call ends, as a timeout, not before its deadline and long before never.

use std::time::{Duration, Instant};

use vigil_runtime::{ColumnData, Error, Runtime, RuntimeConfig};
use vigil_tests::load;

/// Far past the deadline, and never reached by a call that is interrupted at all.
const INTERRUPTED_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn infinite_loop_is_interrupted_at_its_deadline() {
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
            elapsed + Duration::from_millis(10) >= deadline && elapsed < INTERRUPTED_WITHIN,
            "{elapsed:?}"
        );
        overshoots.push(elapsed.saturating_sub(deadline));
    }
    eprintln!("past the {deadline:?} deadline by {overshoots:?}");
    let mut session = plugin
        .drift_test(runtime.shared(), &numbers, r#"{"mode": "behave"}"#)
        .unwrap();
    assert_eq!(session.evaluate(&numbers).unwrap().statistic, 100.0);
}
