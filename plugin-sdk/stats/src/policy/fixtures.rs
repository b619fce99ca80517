//! Contexts for the policies' tests: columns, earlier windows and metrics built in a line.

use vigil_plugin_sdk::{Action, ColumnResult, Context, History, Metric, PastWindow};

/// The `now` of every fixture context.
pub const NOW: u64 = 1_700_000_000;
/// Seconds between the fixture's windows.
pub const WINDOW_SECS: u64 = 600;

/// A tested column, drifted or not.
pub fn column(name: &str, drifted: bool) -> ColumnResult {
    ColumnResult {
        column: name.to_string(),
        test: "drift-ks".to_string(),
        statistic: 0.1,
        p_value: Some(if drifted { 0.001 } else { 0.5 }),
        drifted,
        failure: None,
    }
}

/// A column whose test failed.
pub fn failed(name: &str) -> ColumnResult {
    ColumnResult {
        failure: Some("the current window has no values to test".to_string()),
        ..column(name, false)
    }
}

/// `drifted` drifted columns `d0..`, then `stable` stable ones `s0..`.
pub fn columns(drifted: usize, stable: usize) -> Vec<ColumnResult> {
    (0..drifted)
        .map(|i| column(&format!("d{i}"), true))
        .chain((0..stable).map(|i| column(&format!("s{i}"), false)))
        .collect()
}

/// A context with these columns, no metrics and no earlier windows, at [`NOW`].
pub fn context(columns: Vec<ColumnResult>) -> Context {
    Context {
        columns,
        metrics: Vec::new(),
        history: History {
            model_version: Some("v3".to_string()),
            last_alert: None,
            last_retrain: None,
            windows_since_retrain: 0,
            recent: Vec::new(),
        },
        now: NOW,
        state: None,
    }
}

/// An earlier window: `drifted` of `tested` columns drifted, and what it decided.
pub fn past(tested: u32, drifted: usize, action: Action) -> PastWindow {
    PastWindow {
        evaluated_at: 0,
        start: 0,
        end: 0,
        tested,
        drifted: (0..drifted).map(|i| format!("d{i}")).collect(),
        metrics: Vec::new(),
        decided: true,
        action,
    }
}

/// `context` with these earlier windows, newest first, stamped [`WINDOW_SECS`] apart before
/// [`NOW`] and numbered back from offset 1000 in windows of 100 records.
pub fn with_recent(mut context: Context, recent: Vec<PastWindow>) -> Context {
    context.history.recent = recent
        .into_iter()
        .enumerate()
        .map(|(i, mut w)| {
            let i = i as u64;
            w.evaluated_at = NOW - (i + 1) * WINDOW_SECS;
            w.end = 1000 - i * 100;
            w.start = w.end - 100;
            w
        })
        .collect();
    context
}

/// `context` with a metric of the window.
pub fn with_metric(
    mut context: Context,
    name: &str,
    value: f64,
    reference: Option<f64>,
) -> Context {
    context.metrics.push(Metric {
        name: name.to_string(),
        value,
        reference,
    });
    context
}

/// `context` whose last retraining succeeded `secs` ago.
pub fn retrained_ago(mut context: Context, secs: u64) -> Context {
    context.history.last_retrain = Some(NOW - secs);
    context
}

/// Asserts the action and that the reason holds each needle, and reads as a sentence.
#[track_caller]
pub fn assert_decision(decision: &vigil_plugin_sdk::Decision, action: Action, needles: &[&str]) {
    assert_eq!(decision.action, action, "{}", decision.reason);
    for needle in needles {
        assert!(
            decision.reason.contains(needle),
            "reason {:?} lacks {needle:?}",
            decision.reason
        );
    }
    assert!(decision.reason.ends_with('.'), "{}", decision.reason);
    assert!(
        decision
            .reason
            .starts_with(|c: char| c.is_uppercase() || c.is_numeric()),
        "{}",
        decision.reason
    );
}
