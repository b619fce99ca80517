//! The local backend with real processes: training runs as `sh` scripts, served versions as
//! the `fixture_model` example (an HTTP server), a killed daemon as the `fixture_daemon`
//! example. `cargo test` builds the examples; with `--test local` alone it does not, so
//! build them with `--examples` as well.

mod serving;
mod training;

use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;
use vigil_orchestrator::LocalSettings;

/// An example's binary, next to the test binary's directory (`target/<profile>/examples`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test`, or add `--examples`",
        path.display()
    );
    path
}

/// Short timeouts, so that failures show quickly.
fn settings() -> LocalSettings {
    LocalSettings {
        health_timeout: Duration::from_secs(10),
        drain_timeout: Duration::from_secs(10),
        stop_grace: Duration::from_secs(2),
        restart_backoff_cap: Duration::from_secs(1),
        ..LocalSettings::default()
    }
}

/// Polls `condition` until it holds, at most 20 seconds.
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether a process runs (a zombie does not).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| !matches!(state, 'Z' | 'X')),
        Err(_) => false,
    }
}
