//! Waiting inside WASI's imports is bounded by the call's deadline too. Its own binary, like
//! `deadline.rs`, so that no other test competes for the cores while it measures.

use std::time::{Duration, Instant};

use vigil_runtime::{ColumnData, Error, Runtime, RuntimeConfig};
use vigil_tests::load;

/// Time spent waiting inside a WASI import is bounded by the same deadline: the epoch does not
/// fire while the host runs an import, so each import that can wait gives up at the deadline
/// itself (docs/reliability.md, W4). One mode per way a plugin built with WASI can wait.
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
