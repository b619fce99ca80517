//! Record: one transaction stores a window's evaluation, the monitor's new position with the
//! state it carries, the alerts the window fired and the actions it decided (pending), so
//! that a crash leaves either all of them or none. Then the metrics count what was stored.

use std::time::Duration;

use vigil_store::{Fence, Monitor, MonitorState, NewAction, NewAlert, NewEvaluation, Store};

use super::alerting::Raised;
use super::evaluate::Evaluated;
use super::evaluation::{Action, EvaluationRecord};
use crate::metrics::{ColumnLabels, FailureLabels, Metrics, MonitorLabel, StatusLabels};

/// What was stored: the evaluation with its id, the monitor's new position, and each fired
/// alert with its id.
pub struct Recorded {
    pub evaluation_id: i64,
    pub record: EvaluationRecord,
    pub state: MonitorState,
    pub alerts: Vec<(i64, Raised)>,
    /// Whether the window stored actions (its alerts' deliveries, a retraining) to run.
    pub has_actions: bool,
}

pub async fn record(
    store: &Store,
    monitor: &Monitor,
    evaluated: Evaluated,
    fence: &Fence,
) -> anyhow::Result<Recorded> {
    let record = evaluated.record;
    let fired: Vec<Raised> = evaluated.raised.into_iter().filter(|r| r.fired).collect();
    let state = MonitorState {
        next_offset: record.window.end,
        last_closed_at: record.finished_at,
        state: serde_json::to_string(&evaluated.carried)?,
    };
    let new_alerts: Vec<NewAlert> = fired
        .iter()
        .map(|r| NewAlert {
            cause: &r.cause,
            message: &r.message,
        })
        .collect();
    // Alerts get their delivery actions from the store; a decision to change the model is
    // an action of its own.
    let actions: Vec<NewAction> = match record.decision.action {
        Action::None | Action::Alert => vec![],
        decided @ (Action::Retrain | Action::Rollback | Action::Promote) => vec![NewAction {
            kind: decided.name(),
            detail: "",
            input: serde_json::json!({
                "reason": record.decision.reason,
                "model_version": record.history.model_version,
                "window": {"start": record.window.start, "end": record.window.end},
            }),
        }],
    };
    let (evaluation_id, alert_ids) = store
        .record_evaluation_fenced(
            &NewEvaluation {
                monitor_id: monitor.id,
                window_start: record.window.start,
                window_end: record.window.end,
                started_at: record.now,
                finished_at: record.finished_at,
                status: record.status.name(),
                action: record.decision.action.name(),
                reason: &record.decision.reason,
                result: &serde_json::to_string(&record)?,
                actions: &actions,
            },
            &state,
            &new_alerts,
            Some(fence),
        )
        .await?;
    drop(new_alerts);
    let has_actions = !fired.is_empty() || !actions.is_empty();
    Ok(Recorded {
        evaluation_id,
        record,
        state,
        alerts: alert_ids.into_iter().zip(fired).collect(),
        has_actions,
    })
}

/// Counts a recorded evaluation in the daemon's metrics (`/metrics`).
pub fn observe(metrics: &Metrics, monitor: &str, record: &EvaluationRecord, took: Duration) {
    let m = metrics;
    m.evaluations
        .get_or_create(&StatusLabels {
            monitor: monitor.to_string(),
            status: record.status.name().to_string(),
        })
        .inc();
    m.evaluation_seconds
        .get_or_create(&MonitorLabel {
            monitor: monitor.to_string(),
        })
        .observe(took.as_secs_f64());
    for failure in record.failures().filter(|f| !f.plugin.is_empty()) {
        m.plugin_failures
            .get_or_create(&FailureLabels {
                monitor: monitor.to_string(),
                plugin: failure.plugin.clone(),
                kind: failure.kind.clone(),
            })
            .inc();
    }
    for column in &record.columns {
        let labels = ColumnLabels {
            monitor: monitor.to_string(),
            column: column.name.clone(),
        };
        m.drift_statistic
            .get_or_create(&labels)
            .set(column.statistic.unwrap_or(f64::NAN));
        m.drift_p_value
            .get_or_create(&labels)
            .set(column.p_value.unwrap_or(f64::NAN));
        m.column_drifted
            .get_or_create(&labels)
            .set(match column.drifted {
                Some(true) => 1.0,
                Some(false) => 0.0,
                None => f64::NAN,
            });
    }
}
