//! Python plugins (plugin-sdk/python): the two examples, built with componentize-py from
//! `examples/python`, run in the real runtime as the daemon runs them, and a hostile Python
//! plugin is contained like a Rust one: loops and memory are stopped, sockets, files and the
//! environment are not there, an exception is the plugin's error and the host keeps serving.

use std::sync::Arc;
use std::time::Duration;

use vigil_runtime::{
    Action, ColumnData, ColumnResult, Context, Error, History, Plugin, PluginError, PluginKind,
    Runtime, RuntimeConfig, ScoreKind,
};
use vigil_tests::component;

/// The runtime with the production defaults, compiled plugins kept on disk between test runs
/// (a Python component takes seconds to compile).
fn runtime() -> Runtime {
    let cache = vigil_tests::workspace().join("target/test-plugin-cache");
    Runtime::new(RuntimeConfig {
        cache_dir: Some(cache),
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn load(runtime: &Runtime, name: &str) -> Arc<Plugin> {
    runtime
        .load(&component(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// SplitMix64 → Box–Muller normals: the same numbers on every run.
fn normals(seed: u64, n: usize, mean: f64) -> Vec<f64> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (u, v) = (next().max(1e-300), next());
            mean + (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        })
        .collect()
}

/// The standardized mean difference, as `examples/python/mean-shift` defines it, in Rust.
fn mean_shift(reference: &[f64], current: &[f64]) -> f64 {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let m = mean(reference);
    let sd = (reference.iter().map(|x| (x - m).powi(2)).sum::<f64>()
        / (reference.len() - 1) as f64)
        .sqrt();
    (mean(current) - m).abs() / sd
}

#[test]
fn the_python_drift_test_describes_itself_and_measures_a_shift_as_rust_does() {
    let runtime = runtime();
    let plugin = load(&runtime, "mean-shift");
    let info = plugin.info();
    assert_eq!(info.name, "mean-shift");
    assert_eq!(info.kind, PluginKind::DriftTest);
    assert_eq!(info.score, ScoreKind::Distance);
    let schema: serde_json::Value = serde_json::from_str(&info.config_schema).unwrap();
    assert_eq!(schema["properties"]["threshold"]["default"], 0.5);

    let reference = normals(1, 20_000, 0.0);
    let mut session = plugin
        .drift_test(
            runtime.shared(),
            &ColumnData::Numeric(reference.clone()),
            r#"{"threshold": 0.25}"#,
        )
        .unwrap();
    for (seed, mean, drifted) in [(2, 0.0, false), (3, 0.5, true), (4, 1.0, true)] {
        let mut window = normals(seed, 5_000, mean);
        let expected = mean_shift(&reference, &window);
        window.push(f64::NAN); // missing values are left out, as in Rust's plugins
        let result = session.evaluate(&ColumnData::Numeric(window)).unwrap();
        assert!(
            (result.statistic - expected).abs() <= 1e-12 * expected.max(1.0),
            "{} vs {expected}",
            result.statistic
        );
        assert_eq!(result.drifted, drifted, "shift {mean}");
        assert_eq!(result.p_value, None);
    }

    // The plugin's own errors arrive as the contract's errors, and the session goes on.
    let error = session
        .evaluate(&ColumnData::Numeric(vec![f64::NAN]))
        .unwrap_err();
    assert!(
        matches!(&error, Error::Plugin { error: PluginError::InvalidInput(m), .. } if m.contains("0 values")),
        "{error}"
    );
    assert!(
        session
            .evaluate(&ColumnData::Numeric(vec![1.0, 2.0]))
            .is_ok()
    );
    let bad = plugin
        .drift_test(
            runtime.shared(),
            &ColumnData::Numeric(vec![1.0, 2.0]),
            r#"{"treshold": 1}"#,
        )
        .err()
        .unwrap();
    assert!(
        matches!(&bad, Error::Plugin { error: PluginError::InvalidConfig(m), .. } if m.contains("unknown setting")),
        "{bad}"
    );
}

fn column(name: &str, drifted: bool) -> ColumnResult {
    ColumnResult {
        column: name.into(),
        test: "drift-ks".into(),
        statistic: 0.3,
        p_value: Some(if drifted { 0.001 } else { 0.5 }),
        drifted,
        failure: None,
    }
}

#[test]
fn the_python_policy_counts_its_run_in_the_state_the_host_gives_back() {
    let runtime = runtime();
    let plugin = load(&runtime, "drift-streak");
    assert_eq!(plugin.info().kind, PluginKind::Policy);
    let decide = |drifted: bool, state: Option<Vec<u8>>, last_retrain: Option<u64>| {
        let context = Context {
            columns: vec![column("x", drifted), column("y", false)],
            metrics: Vec::new(),
            history: History {
                model_version: Some("v1".into()),
                last_alert: None,
                last_retrain,
                windows_since_retrain: 0,
                recent: Vec::new(),
            },
            now: 100_000,
            state,
        };
        plugin
            .decide(runtime.shared(), &context, r#"{"windows": 3}"#)
            .unwrap()
    };
    // Window after window, each given what the one before kept.
    let first = decide(true, None, None);
    assert_eq!(first.action, Action::Alert, "{}", first.reason);
    assert_eq!(first.state.as_deref(), Some(&br#"{"run": 1}"#[..]));
    let second = decide(true, first.state, None);
    assert_eq!(second.action, Action::Alert, "{}", second.reason);
    let third = decide(true, second.state.clone(), None);
    assert_eq!(third.action, Action::Retrain, "{}", third.reason);
    assert!(third.reason.contains("3 drifted windows in a row"));
    assert_eq!(third.state, None, "a retraining ends the run");
    let stable = decide(false, second.state.clone(), None);
    assert_eq!((stable.action, stable.state), (Action::None, None));
    let cooling = decide(true, second.state, Some(99_000));
    assert_eq!(cooling.action, Action::Alert);
    assert!(cooling.reason.contains("cooldown"), "{}", cooling.reason);
}

/// Runs the hostile plugin's `evaluate` in `mode` under `runtime`.
fn hostile(runtime: &Runtime, mode: &str) -> Result<vigil_runtime::DriftResult, Error> {
    let plugin = load(runtime, "hostile-py");
    let mut session = plugin.drift_test(
        runtime.shared(),
        &ColumnData::Numeric(vec![1.0, 2.0]),
        &format!(r#"{{"mode": "{mode}"}}"#),
    )?;
    session.evaluate(&ColumnData::Numeric(vec![1.0, 2.0, 3.0]))
}

fn reported(outcome: Result<vigil_runtime::DriftResult, Error>) -> String {
    match outcome {
        Err(Error::Plugin {
            error: PluginError::InvalidInput(message),
            ..
        }) => message,
        other => panic!("expected the probe's report, got {other:?}"),
    }
}

#[test]
fn a_hostile_python_plugin_is_stopped_and_finds_no_way_out() {
    let runtime = Runtime::new(RuntimeConfig {
        deadline: Duration::from_millis(500),
        cache_dir: Some(vigil_tests::workspace().join("target/test-plugin-cache")),
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(matches!(
        hostile(&runtime, "loop"),
        Err(Error::Timeout { .. })
    ));
    assert!(
        matches!(hostile(&runtime, "memory"), Err(Error::OutOfMemory { .. })),
        "the memory cap stops it"
    );
    let raised = hostile(&runtime, "raise").unwrap_err();
    assert!(
        matches!(&raised, Error::Plugin { error: PluginError::Internal(m), .. } if m.contains("KeyError")),
        "an exception is the plugin's error: {raised}"
    );
    // Its output is captured and capped, never the host's.
    assert!(hostile(&runtime, "print").is_ok());

    // Python's socket module is there, over WASI's sockets, which are linked with every
    // socket, address and name lookup denied: each attempt fails.
    let socket = reported(hostile(&runtime, "socket"));
    for probe in ["lookup: ", "connect: ", "bind: ", "udp: "] {
        let found = socket.split("; ").find(|p| p.starts_with(probe));
        let found = found.unwrap_or_else(|| panic!("no {probe} in {socket}"));
        assert!(
            (found.contains("Error") || found.contains("gaierror"))
                && !found.contains("LookupError"),
            "{probe} must be refused by the sandbox, got: {socket}"
        );
    }
    let files = reported(hostile(&runtime, "files"));
    for probe in ["open: ", "listdir: ", "write: "] {
        let found = files.split("; ").find(|p| p.starts_with(probe)).unwrap();
        assert!(found.contains("Error"), "{probe} must fail, got: {files}");
    }
    let environment = reported(hostile(&runtime, "environment"));
    assert!(
        environment.starts_with("environ: {}") && environment.contains("HOME: KeyError"),
        "{environment}"
    );
    // The runtime is unharmed: the same plugin behaves in a new session.
    assert_eq!(hostile(&runtime, "behave").unwrap().statistic, 3.0);
}
