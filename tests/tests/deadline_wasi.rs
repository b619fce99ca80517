//! Waiting inside WASI's imports is bounded by the call's deadline too. Its own binary, like
//! `deadline.rs`, so that no other test competes for the cores while it measures. As there,
//! how soon after the deadline each call ends is printed, not held to a bound: the guest waits
//! 30 s or forever, so a call that ends well before that was cut short by the deadline.

use std::time::{Duration, Instant};

use vigil_runtime::{ColumnData, Error, Runtime, RuntimeConfig};
use vigil_tests::load;

/// A third of the shortest wait the guest asks for (30 s).
const INTERRUPTED_WITHIN: Duration = Duration::from_secs(10);

/// Time spent waiting inside a WASI import is bounded by the same deadline: the epoch does not
/// fire while the host runs an import, so each import that can wait gives up at the deadline
/// itself (docs/reliability.md, W4). One mode per way a plugin built with WASI can wait.
#[test]
fn waiting_in_wasi_imports_is_interrupted_at_the_deadline() {
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
            elapsed + Duration::from_millis(10) >= deadline && elapsed < INTERRUPTED_WITHIN,
            "{mode}: {elapsed:?}"
        );
        eprintln!(
            "{mode}: past the {deadline:?} deadline by {:?}",
            elapsed.saturating_sub(deadline)
        );
    }
    // Asking for more randomness than the cap (64 KiB) traps: refused, not served until the
    // deadline (that would be a timeout).
    let mut session = plugin
        .drift_test(runtime.shared(), &numbers, r#"{"mode": "huge-random"}"#)
        .unwrap();
    let error = session.evaluate(&numbers).unwrap_err();
    assert!(matches!(error, Error::Trap { .. }), "{error}");
}
