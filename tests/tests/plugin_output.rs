//! What plugins write to the log is theirs to write, within bounds: a budget's plugins share
//! one allowance of log output per window however many columns they run on, and no plugin can
//! start a log line of its own. This test has its own binary: it installs the process's
//! tracing subscriber to read what reached the log.

use std::io::Write;
use std::sync::{Arc, Mutex};

use vigil_runtime::ColumnData;
use vigil_tests::{load, runtime};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_windows_log_output_is_capped_and_cannot_forge_lines() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .init();

    let runtime = runtime();
    let plugin = load(&runtime, "hostile-drift");
    const CAP: usize = 64 << 10;
    let budget = runtime.reserve("monitor `flood`", 40, Some(CAP)).unwrap();
    let numbers = ColumnData::Numeric((0..100).map(f64::from).collect());
    // Twenty columns that each log 10,000 records of 4 KiB with a forged line in them, and
    // twenty that each write 100 MB to stdout.
    let mut sessions: Vec<_> = ["log-forge", "stdout-flood"]
        .iter()
        .flat_map(|mode| std::iter::repeat_n(*mode, 20))
        .map(|mode| {
            plugin
                .drift_test(&budget, &numbers, &format!(r#"{{"mode": "{mode}"}}"#))
                .unwrap()
        })
        .collect();
    budget.take_dropped();
    for session in &mut sessions {
        session.evaluate(&numbers).expect("writing is not an error");
    }
    let dropped = budget.take_dropped();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    // The plugins' own bytes stay within the cap; each line adds the subscriber's prefix and
    // the host's notes (dropped counts) add a line per call at most.
    let overhead = lines.len() * 200;
    assert!(
        log.len() <= CAP + overhead,
        "{} bytes logged in {} lines",
        log.len(),
        lines.len()
    );
    assert!(lines.len() < 200, "{} lines", lines.len());
    assert!(dropped > 8 << 20, "{dropped} bytes dropped");
    // The forged text arrived, escaped, inside the plugin's own lines.
    assert!(log.contains("\\n2026-12-06T00:00:00.000000Z  INFO vigil: FORGED"));
    for line in &lines {
        assert!(
            !line.contains("  INFO vigil: FORGED") || line.contains("plugin="),
            "{line}"
        );
        assert!(!line.starts_with("2026-12-06T00:00:00.000000Z"), "{line}");
    }
}
