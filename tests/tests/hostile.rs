//! Hostile guests are contained with the right typed error, and the host keeps serving.

use vigil_runtime::{ColumnData, Error, PluginError, Runtime};
use vigil_tests::{component, load, runtime};

fn numbers() -> ColumnData {
    ColumnData::Numeric((0..100).map(f64::from).collect())
}

fn evaluate(runtime: &Runtime, mode: &str) -> Result<vigil_runtime::DriftResult, Error> {
    let plugin = load(runtime, "hostile-drift");
    let mut session = plugin
        .drift_test(
            runtime.shared(),
            &numbers(),
            &format!(r#"{{"mode": "{mode}"}}"#),
        )
        .expect("the hostile test builds");
    session.evaluate(&numbers())
}

/// After any failure the host runs the next plugin normally.
fn assert_host_sound(runtime: &Runtime) {
    let result = evaluate(runtime, "behave").expect("a well-behaved call still works");
    assert_eq!(result.statistic, 100.0);
}

#[test]
fn memory_bomb_hits_the_cap() {
    let runtime = runtime();
    let error = evaluate(&runtime, "memory-bomb").unwrap_err();
    assert!(
        matches!(error, Error::OutOfMemory { limit_bytes, .. } if limit_bytes == 64 << 20),
        "{error}"
    );
    assert_host_sound(&runtime);
}

#[test]
fn unbounded_recursion_overflows_the_stack() {
    let runtime = runtime();
    let error = evaluate(&runtime, "recursion").unwrap_err();
    assert!(matches!(error, Error::StackOverflow { .. }), "{error}");
    assert_host_sound(&runtime);
}

#[test]
fn panic_is_a_trap_with_the_panic_message() {
    let runtime = runtime();
    let error = evaluate(&runtime, "panic").unwrap_err();
    let Error::Trap { message, .. } = &error else {
        panic!("expected a trap, got {error}");
    };
    assert!(
        message.contains("the hostile plugin panics on purpose"),
        "{message}"
    );
    assert_host_sound(&runtime);
}

/// Plugins are built without WASI unless they ask for it; such a guest has no stderr, and its
/// panic message reaches the host through the SDK's panic hook and the host `log` import.
#[test]
fn a_guest_without_wasi_still_reports_its_panic_message() {
    let imports_wasi =
        |package: &str| String::from_utf8_lossy(&component(package)).contains("wasi:");
    assert!(
        imports_wasi("hostile-drift"),
        "it asks for WASI to flood stdout"
    );
    // Plugins that do not ask for WASI are built for wasm32-unknown-unknown wherever the
    // toolchain has it: always with Debian's, and with rustup when that target is installed
    // (scripts/setup.sh adds it). Only a rustup without it builds them for wasip2.
    let wasip2_fallback = matches!(
        vigil_plugin_build::Toolchain::detect(),
        Ok(vigil_plugin_build::Toolchain::Rustup {
            has_unknown: false,
            ..
        })
    );
    assert!(!imports_wasi("hostile-policy") || wasip2_fallback);

    let runtime = runtime();
    let plugin = load(&runtime, "hostile-policy");
    let context = vigil_runtime::Context {
        columns: Vec::new(),
        metrics: Vec::new(),
        history: vigil_runtime::History {
            model_version: None,
            last_alert: None,
            last_retrain: None,
            windows_since_retrain: 0,
            recent: Vec::new(),
        },
        now: 0,
        state: None,
    };
    let error = plugin
        .decide(runtime.shared(), &context, r#"{"mode": "panic"}"#)
        .unwrap_err();
    let Error::Trap { message, .. } = &error else {
        panic!("expected a trap, got {error}");
    };
    assert!(
        message.contains("panicked at") && message.contains("the hostile plugin panics on purpose"),
        "{message}"
    );
    let decision = plugin
        .decide(runtime.shared(), &context, r#"{"mode": "behave"}"#)
        .unwrap();
    assert_eq!(decision.action, vigil_runtime::Action::Retrain);
}

#[test]
fn stdout_flood_is_capped_and_the_call_succeeds() {
    let runtime = runtime();
    let result = evaluate(&runtime, "stdout-flood").expect("writing to stdout is not an error");
    assert_eq!(result.statistic, 100.0);
    assert_host_sound(&runtime);
}

#[test]
fn log_flood_is_capped_and_the_call_succeeds() {
    let runtime = runtime();
    evaluate(&runtime, "log-flood").expect("logging is not an error");
}

#[test]
fn nan_statistic_is_rejected_as_invalid_output() {
    let runtime = runtime();
    let error = evaluate(&runtime, "nan-statistic").unwrap_err();
    assert!(matches!(error, Error::InvalidOutput { .. }), "{error}");
}

/// What a drift test returns must say what its numbers say (docs/reliability.md, U10): a NaN
/// threshold, or `drifted` contradicting the p-value and threshold, is invalid output.
#[test]
fn nan_thresholds_and_contradictions_are_rejected_as_invalid_output() {
    let runtime = runtime();
    for (mode, expected) in [
        ("nan-threshold", "threshold NaN is not finite"),
        (
            "contradiction",
            "drifted is true, but p-value 1 >= threshold 0.05",
        ),
    ] {
        let error = evaluate(&runtime, mode).unwrap_err();
        assert!(matches!(error, Error::InvalidOutput { .. }), "{error}");
        assert!(error.to_string().contains(expected), "{mode}: {error}");
    }
    assert_host_sound(&runtime);
}

#[test]
fn plugin_errors_keep_their_message_and_the_session_stays_usable() {
    let runtime = runtime();
    let plugin = load(&runtime, "hostile-drift");
    let mut session = plugin
        .drift_test(runtime.shared(), &numbers(), r#"{"mode": "refuse"}"#)
        .unwrap();
    for _ in 0..2 {
        let error = session.evaluate(&numbers()).unwrap_err();
        assert!(
            matches!(&error, Error::Plugin { error: PluginError::InvalidInput(m), .. } if m == "refused on purpose"),
            "{error}"
        );
    }
}

#[test]
fn a_trapped_session_refuses_further_calls() {
    let runtime = runtime();
    let plugin = load(&runtime, "hostile-drift");
    let mut session = plugin
        .drift_test(runtime.shared(), &numbers(), r#"{"mode": "panic"}"#)
        .unwrap();
    assert!(matches!(
        session.evaluate(&numbers()),
        Err(Error::Trap { .. })
    ));
    assert!(matches!(
        session.evaluate(&numbers()),
        Err(Error::Poisoned { .. })
    ));
}

#[test]
fn huge_returned_list_is_rejected() {
    let runtime = runtime();
    let plugin = load(&runtime, "hostile-detector");
    let mut session = plugin
        .detector(runtime.shared(), r#"{"positions": 4000000}"#, None)
        .unwrap();
    let error = session.update(&[1.0, 2.0, 3.0]).unwrap_err();
    assert!(matches!(error, Error::OutputTooLarge { .. }), "{error}");
    assert_host_sound(&runtime);
}

#[test]
fn invalid_config_is_reported_by_the_plugin() {
    let runtime = runtime();
    let plugin = load(&runtime, "hostile-drift");
    let error = plugin
        .drift_test(runtime.shared(), &numbers(), r#"{"mode": "dance"}"#)
        .err()
        .expect("an unknown mode is refused");
    assert!(
        matches!(&error, Error::Plugin { error: PluginError::InvalidConfig(m), .. } if m.contains("dance")),
        "{error}"
    );
}

#[test]
fn wrong_world_is_refused_with_a_clear_message() {
    let runtime = runtime();
    let policy = load(&runtime, "hostile-detector");
    let error = policy
        .drift_test(runtime.shared(), &numbers(), "{}")
        .err()
        .expect("a detector is not a drift test");
    assert!(error.to_string().contains("not a drift test"), "{error}");
}

#[test]
fn bytes_that_are_not_a_component_are_refused() {
    let runtime = runtime();
    for (bytes, expected) in [
        (
            b"not wasm at all".to_vec(),
            "not a valid WebAssembly component",
        ),
        (b"\0asm\x01\0\0\0".to_vec(), "core WebAssembly module"),
        (
            component("drift-ks")[..200].to_vec(),
            "not a valid WebAssembly component",
        ),
    ] {
        let error = runtime.load(&bytes).err().expect("refused");
        assert!(matches!(error, Error::InvalidComponent(_)), "{error}");
        assert!(error.to_string().contains(expected), "{error}");
    }
    assert_host_sound(&runtime);
}

#[test]
fn loading_the_same_bytes_twice_hits_the_cache() {
    let runtime = runtime();
    let first = load(&runtime, "hostile-drift");
    let second = load(&runtime, "hostile-drift");
    assert!(std::sync::Arc::ptr_eq(&first, &second));
    assert_eq!(first.info().name, "hostile-drift");
    assert_eq!(first.digest().len(), 64);
}

/// A plugin's random streams start over at every call, so the same input gives the same
/// output and a stored evaluation replays exactly.
#[test]
fn randomness_repeats_from_call_to_call() {
    let runtime = runtime();
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
