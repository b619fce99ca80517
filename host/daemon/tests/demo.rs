//! `vigil demo`, the README's first command, end to end: the injected drift is found in the
//! right window, and the alert fires once.

#[test]
fn the_demo_detects_the_injected_drift_in_its_window() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("demo")
        .env("VIGIL_CACHE_DIR", tempfile::tempdir().unwrap().path())
        .output()
        .expect("vigil demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The stream drifts from record 5000 (examples/demo/generate.py): window 6 of 1000.
    assert!(
        stdout.contains("detected in window 6 (records 5000..6000)"),
        "{stdout}"
    );
    let windows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("window")).collect();
    assert_eq!(windows.len(), 8, "{stdout}");
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
    let alerts: Vec<&str> = stdout.lines().filter(|l| l.starts_with("alert ")).collect();
    assert_eq!(
        alerts.len(),
        1,
        "one alert per cause until it clears: {stdout}"
    );
}
