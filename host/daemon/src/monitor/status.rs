//! The state of every monitor, as `GET /v1/status` and `vigil status` show it: where its
//! stream stands, its last evaluation, its open alerts and quarantines, and whether the loop
//! is evaluating it or cannot.

use serde::Serialize;
use vigil_store::now_ms;

use super::carried::Carried;
use super::evaluation::{Action, Evaluation, Status};
use super::{Monitoring, Stall};

#[derive(Serialize, schemars::JsonSchema)]
pub struct StatusReport {
    pub monitors: Vec<MonitorStatus>,
    /// This replica's name as lease holder.
    pub holder: String,
    /// Every lease (`monitor/<id>`): which replica acts for the monitor, at which epoch, and
    /// for how long still unless renewed (see docs/orchestration.md, "Several replicas").
    pub leases: Vec<vigil_store::Lease>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct MonitorStatus {
    pub monitor: String,
    pub model: Option<String>,
    /// Stream offset of the next window's first record.
    pub next_offset: i64,
    /// Records stored and not evaluated yet.
    pub pending_records: i64,
    pub open_alerts: Vec<String>,
    pub quarantined: Vec<Quarantine>,
    /// Why the loop cannot evaluate the monitor now, if it cannot.
    pub stalled: Option<Stall>,
    /// Whether a window is being evaluated now.
    pub evaluating: bool,
    pub last_evaluation: Option<LastEvaluation>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Quarantine {
    pub plugin: String,
    /// Unix ms.
    pub until: Option<i64>,
    pub error: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct LastEvaluation {
    pub id: i64,
    pub status: Status,
    pub action: Action,
    pub reason: String,
    pub window_start: i64,
    pub window_end: i64,
    pub drifted_columns: usize,
    pub failed_columns: usize,
    pub finished_at: i64,
}

impl Monitoring {
    /// Every monitor's state now.
    pub async fn status(&self) -> anyhow::Result<StatusReport> {
        let latest = self.store.latest_evaluations().await?;
        let stalls = self.stalls();
        let now = now_ms();
        let mut monitors = Vec::new();
        for monitor in self.store.monitors().await? {
            let position = self.store.monitor_state(monitor.id).await?;
            let model = self.store.model_by_id(monitor.model_id).await?;
            let carried: Carried = position
                .as_ref()
                .and_then(|p| serde_json::from_str(&p.state).ok())
                .unwrap_or_default();
            let quarantined = carried
                .failures
                .iter()
                .filter(|(_, f)| f.quarantined_until.is_some_and(|u| u > now))
                .map(|(plugin, f)| Quarantine {
                    plugin: plugin.clone(),
                    until: f.quarantined_until,
                    error: f.last_error.clone(),
                })
                .collect();
            let last = latest
                .iter()
                .find(|e| e.monitor_id == monitor.id)
                .map(Evaluation::from_stored)
                .transpose()
                .map_err(anyhow::Error::msg)?
                .map(|e| LastEvaluation {
                    id: e.id,
                    status: e.status,
                    action: e.action,
                    reason: e.reason,
                    window_start: e.window_start,
                    window_end: e.window_end,
                    drifted_columns: e.result.drifted_columns,
                    failed_columns: e.result.failed_columns,
                    finished_at: e.finished_at,
                });
            let next_offset = position.as_ref().map_or(0, |p| p.next_offset);
            let records = model.as_ref().map_or(0, |m| m.record_count);
            monitors.push(MonitorStatus {
                evaluating: self.evaluating(monitor.id),
                stalled: stalls.get(&monitor.id).cloned(),
                monitor: monitor.name,
                model: model.map(|m| m.name),
                next_offset,
                pending_records: (records - next_offset).max(0),
                open_alerts: carried.open_alerts.into_keys().collect(),
                quarantined,
                last_evaluation: last,
            });
        }
        Ok(StatusReport {
            monitors,
            holder: self.leases().holder().to_string(),
            leases: self.store.leases().await?,
        })
    }
}
