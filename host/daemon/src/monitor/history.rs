//! The history a policy sees of its monitor: the times and counters the monitor carries, and
//! its recent earlier windows read back from their stored evaluations (docs/monitors.md,
//! "History"). A replay reads the same windows again: those stored before the evaluation it
//! replays, as many as that evaluation was given.

use vigil_runtime::{History, Metric, PastWindow};
use vigil_store::{EvaluationQuery, Store};

use super::evaluation::{EvaluationRecord, Status};

/// The most earlier windows a policy is given; older ones are left out.
pub const RECENT_WINDOWS: usize = 64;

/// The monitor's `limit` newest windows stored before evaluation `before_id` (all stored ones
/// when `None`), newest first.
pub async fn recent_windows(
    store: &Store,
    monitor_id: i64,
    before_id: Option<i64>,
    limit: usize,
) -> Result<Vec<PastWindow>, vigil_store::Error> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let evaluations = store
        .evaluations(&EvaluationQuery {
            monitor_id,
            before_id,
            limit: limit.min(RECENT_WINDOWS) as i64,
            ..EvaluationQuery::default()
        })
        .await?;
    Ok(evaluations.iter().map(past_window).collect())
}

/// What a policy is told of one stored evaluation. One whose record no longer reads is told
/// from its row alone: its decision, with no column tested.
pub fn past_window(evaluation: &vigil_store::Evaluation) -> PastWindow {
    let offset = |o: i64| o.max(0) as u64;
    let mut window = PastWindow {
        evaluated_at: offset(evaluation.started_at) / 1000,
        start: offset(evaluation.window_start),
        end: offset(evaluation.window_end),
        tested: 0,
        drifted: Vec::new(),
        metrics: Vec::new(),
        decided: !matches!(evaluation.status.as_str(), "failed" | "policy_failed"),
        action: super::evaluation::Action::parse(&evaluation.action)
            .unwrap_or_default()
            .into(),
    };
    let Ok(record) = EvaluationRecord::from_stored(evaluation) else {
        return window;
    };
    window.decided = !matches!(record.status, Status::Failed | Status::PolicyFailed);
    window.action = record.decision.action.into();
    window.tested = record
        .columns
        .iter()
        .filter(|c| c.drifted.is_some())
        .count() as u32;
    window.drifted = record
        .columns
        .iter()
        .filter(|c| c.drifted == Some(true))
        .map(|c| c.name.clone())
        .collect();
    window.metrics = record
        .metrics
        .iter()
        .filter_map(|m| {
            Some(Metric {
                name: m.name.clone(),
                value: m.value?,
                reference: m.reference,
            })
        })
        .collect();
    window
}

/// The history of a monitor's next window, from what it carries and its recent windows.
pub fn history(
    model_version: Option<String>,
    carried: &super::carried::Carried,
    recent: Vec<PastWindow>,
) -> History {
    History {
        model_version,
        last_alert: carried.last_alert.map(|ms| (ms / 1000) as u64),
        last_retrain: carried.last_retrain.map(|ms| (ms / 1000) as u64),
        windows_since_retrain: carried.windows_since_retrain,
        recent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(status: &str, action: &str, result: serde_json::Value) -> vigil_store::Evaluation {
        vigil_store::Evaluation {
            id: 3,
            monitor_id: 1,
            window_start: 200,
            window_end: 300,
            started_at: 1_700_000_000_500,
            finished_at: 1_700_000_001_000,
            status: status.into(),
            action: action.into(),
            reason: "because".into(),
            result,
        }
    }

    #[test]
    fn a_stored_evaluation_becomes_the_window_a_policy_sees() {
        let column = |name: &str, drifted: serde_json::Value| {
            serde_json::json!({"name": name, "kind": "numeric", "test": "drift-ks",
                "plugin": "drift-ks@0.1.0", "statistic": 0.3, "p_value": 0.01,
                "threshold": 0.05, "drifted": drifted, "missing": 0, "failure": null,
                "duration_ms": 1.0})
        };
        let result = serde_json::json!({
            "monitor_revision": 1, "spec": {}, "reference": {"rows": 1, "sha256": ""},
            "window": {"start": 200, "end": 300, "rows": 100, "first_timestamp": null,
                       "last_timestamp": null, "labels": 0},
            "history": {"model_version": null, "last_alert": null, "last_retrain": null,
                        "windows_since_retrain": 0},
            "now": 1_700_000_000_500_i64, "finished_at": 1_700_000_001_000_i64,
            "status": "partial", "decision": {"action": "retrain", "reason": "because"},
            "columns": [column("a", true.into()), column("b", false.into()),
                        column("c", serde_json::Value::Null)],
            "detectors": [],
            "metrics": [{"name": "accuracy", "value": 0.8, "reference": 0.9},
                        {"name": "roc_auc", "value": null, "reference": 0.7}],
            "drifted_columns": 1, "failed_columns": 1,
            "policy": {"plugin": null, "failure": null}, "alerts": [],
        });
        let window = past_window(&stored("partial", "retrain", result));
        assert_eq!(window.evaluated_at, 1_700_000_000);
        assert_eq!((window.start, window.end), (200, 300));
        assert_eq!(window.tested, 2);
        assert_eq!(window.drifted, ["a"]);
        assert_eq!(window.metrics.len(), 1);
        assert_eq!(window.metrics[0].reference, Some(0.9));
        assert!(window.decided);
        assert_eq!(window.action, vigil_runtime::Action::Retrain);

        // A record that no longer reads is told from its row.
        let row_only = past_window(&stored("policy_failed", "none", serde_json::json!("?")));
        assert!(!row_only.decided);
        assert_eq!(row_only.tested, 0);
        assert_eq!(row_only.action, vigil_runtime::Action::None);
    }
}
