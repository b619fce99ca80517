//! `vigil demo`, the README's first command, end to end on the local backend: the injected
//! drift is found in its window, the policy's retraining runs the bundled model program on the
//! newest labeled records, the gate passes, the blue/green switch loses no request, and the
//! accuracy recovers.

use serde_json::Value;

#[test]
fn the_demo_detects_drift_retrains_and_recovers_without_a_failed_request() {
    let vigil = std::path::Path::new(env!("CARGO_BIN_EXE_vigil"));
    let model = vigil.with_file_name("vigil-model");
    assert!(
        model.exists(),
        "the demo needs {} (built by `cargo test --workspace` and scripts/test.sh)",
        model.display()
    );
    let output = std::process::Command::new(vigil)
        .arg("demo")
        .env("VIGIL_CACHE_DIR", tempfile::tempdir().unwrap().path())
        .env("VIGIL_MODEL_PROGRAM", &model)
        .output()
        .expect("vigil demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    let summary: Value = serde_json::from_str(
        last.strip_prefix("summary: ")
            .unwrap_or_else(|| panic!("the last line is the summary: {last}")),
    )
    .unwrap();
    // The stream drifts from record 5000 (examples/demo/generate.py): window 6 of 1000.
    assert_eq!(summary["drift_detected_window"], 6, "{stdout}");
    let windows: Vec<&str> = stdout.lines().filter(|l| l.contains("] window ")).collect();
    for line in &windows[..5] {
        assert!(
            line.ends_with("no action"),
            "no action before the drift: {line}"
        );
    }
    // River's PageHinkley(threshold=1000) on the same ages fires at 5054.
    assert!(
        windows[5].contains("change at record 5054"),
        "{}",
        windows[5]
    );
    assert!(summary["retrained_version"].is_string(), "{stdout}");
    assert_eq!(summary["promoted"], true, "{stdout}");
    assert_eq!(summary["failed_requests"], 0, "{stdout}");
    assert_eq!(
        summary["requests"], 8_000,
        "one request per streamed record: {stdout}"
    );
    let before = summary["accuracy_before"].as_f64().unwrap();
    let after = summary["accuracy_after"].as_f64().unwrap();
    let reference = summary["accuracy_reference"].as_f64().unwrap();
    assert!(
        before < reference - 0.1,
        "accuracy falls with the drift: {summary}"
    );
    assert!(
        after > before + 0.1,
        "and recovers after the switch: {summary}"
    );
}
