//! The record of one window's evaluation: what the pipeline found, what the policy decided and
//! which alerts that raised. It is stored as its serde form (the `result` of an evaluation in
//! the API, described in README.md, "Evaluations"), and read back typed by replay, the status,
//! the CLI and the demo. Fields added later carry a default, so records stored by earlier
//! versions still read.

use serde::{Deserialize, Serialize};
use vigil_runtime::History;

use crate::vocab::FeatureKind;

/// What a policy decided.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Decision")]
pub enum Action {
    #[default]
    None,
    Alert,
    Retrain,
    Rollback,
    Promote,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Alert => "alert",
            Action::Retrain => "retrain",
            Action::Rollback => "rollback",
            Action::Promote => "promote",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        [
            Action::None,
            Action::Alert,
            Action::Retrain,
            Action::Rollback,
            Action::Promote,
        ]
        .into_iter()
        .find(|action| action.name() == name)
    }
}

impl From<vigil_runtime::Action> for Action {
    fn from(action: vigil_runtime::Action) -> Action {
        match action {
            vigil_runtime::Action::None => Action::None,
            vigil_runtime::Action::Alert => Action::Alert,
            vigil_runtime::Action::Retrain => Action::Retrain,
            vigil_runtime::Action::Rollback => Action::Rollback,
            vigil_runtime::Action::Promote => Action::Promote,
        }
    }
}

impl From<Action> for vigil_runtime::Action {
    fn from(action: Action) -> vigil_runtime::Action {
        match action {
            Action::None => vigil_runtime::Action::None,
            Action::Alert => vigil_runtime::Action::Alert,
            Action::Retrain => vigil_runtime::Action::Retrain,
            Action::Rollback => vigil_runtime::Action::Rollback,
            Action::Promote => vigil_runtime::Action::Promote,
        }
    }
}

/// How an evaluation went, as a whole.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every plugin worked.
    #[default]
    Ok,
    /// Some columns' drift tests failed; the rest were tested and the policy decided.
    Partial,
    /// The policy failed: no action was taken.
    PolicyFailed,
    /// A preprocessor failed: nothing was tested.
    Failed,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Partial => "partial",
            Status::PolicyFailed => "policy_failed",
            Status::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<Status> {
        [
            Status::Ok,
            Status::Partial,
            Status::PolicyFailed,
            Status::Failed,
        ]
        .into_iter()
        .find(|status| status.name() == name)
    }
}

/// A plugin that could not run, and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The pinned plugin (`name@version`); empty when no plugin is to blame.
    #[serde(default)]
    pub plugin: String,
    /// A short, stable name: `timeout`, `trap`, `out_of_memory`, `invalid_output`,
    /// `quarantined`, … (`vigil_runtime::Error::kind`, and a few of the loop's own).
    pub kind: String,
    pub message: String,
}

impl Failure {
    pub fn from_runtime(plugin: &str, error: &vigil_runtime::Error) -> Failure {
        Failure {
            plugin: plugin.to_string(),
            kind: error.kind().to_string(),
            message: error.to_string(),
        }
    }

    pub fn quarantined(plugin: &str, until: i64) -> Failure {
        Failure {
            plugin: plugin.to_string(),
            kind: "quarantined".into(),
            message: format!("plugin `{plugin}` is quarantined until {until} (Unix ms)"),
        }
    }

    /// Whether the failure counts toward the plugin's quarantine: not when the host failed
    /// (no instance free, say), nor when the plugin was not run at all.
    pub fn blames_plugin(&self) -> bool {
        !matches!(
            self.kind.as_str(),
            "host" | "capacity" | "quarantined" | "not_run" | "missing_column"
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One feature's drift test on the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnResult {
    pub name: String,
    pub kind: FeatureKind,
    /// The test's name (from the plugin's info).
    pub test: String,
    /// The pinned plugin (`name@version`).
    pub plugin: String,
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    pub threshold: Option<f64>,
    /// `None` when the test failed: a failed column is neither drifted nor stable.
    pub drifted: Option<bool>,
    /// Missing values in the window's column.
    pub missing: usize,
    pub failure: Option<Failure>,
    pub duration_ms: f64,
}

/// One multivariate drift test on the window, over several features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MultivariateResult {
    /// `TEST(col1,col2,…)`, the `column` the policy sees (`crate::vocab::multivariate_name`).
    pub name: String,
    /// The features it compared.
    pub columns: Vec<String>,
    /// The test's name (from the plugin's info).
    pub test: String,
    /// The pinned plugin (`name@version`).
    pub plugin: String,
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    pub threshold: Option<f64>,
    /// `None` when the test failed.
    pub drifted: Option<bool>,
    pub failure: Option<Failure>,
    pub duration_ms: f64,
}

/// One streaming detector on the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectorResult {
    pub column: String,
    pub plugin: String,
    /// Stream offsets of the records at which the detector fired.
    pub detections: Vec<i64>,
    /// Its state before the window (hex), for a replay to start from.
    pub snapshot_before: Option<String>,
    /// Values it had been fed before the window.
    pub seen_before: u64,
    pub failure: Option<Failure>,
}

/// A quality metric of the window, from labels, beside the reference's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MetricValue {
    pub name: String,
    pub value: Option<f64>,
    pub reference: Option<f64>,
}

/// The reference the window was compared with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReferenceSummary {
    pub rows: usize,
    /// sha256 of its rows and their labels: a replay tells whether it changed since.
    pub sha256: String,
}

/// The window's records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowSummary {
    /// Stream offsets `start..end` of the model's records.
    pub start: i64,
    pub end: i64,
    pub rows: usize,
    /// The earliest and latest record timestamps (Unix ms).
    pub first_timestamp: Option<i64>,
    pub last_timestamp: Option<i64>,
    /// Records of the window with a label.
    pub labels: usize,
}

/// What the policy was told of the monitor's past (`History` in the WIT contract).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistorySummary {
    pub model_version: Option<String>,
    /// Unix seconds.
    pub last_alert: Option<u64>,
    /// Unix seconds.
    pub last_retrain: Option<u64>,
    pub windows_since_retrain: u32,
    /// How many earlier windows the policy was given (`recent`, newest first). They are not
    /// stored again here: a replay reads that many evaluations stored before this one.
    #[serde(default)]
    pub recent_windows: usize,
}

impl From<&History> for HistorySummary {
    fn from(history: &History) -> HistorySummary {
        HistorySummary {
            model_version: history.model_version.clone(),
            last_alert: history.last_alert,
            last_retrain: history.last_retrain,
            windows_since_retrain: history.windows_since_retrain,
            recent_windows: history.recent.len(),
        }
    }
}

impl HistorySummary {
    /// The history the policy was given, with `recent` the earlier windows it saw.
    pub fn with_recent(&self, recent: Vec<vigil_runtime::PastWindow>) -> History {
        History {
            model_version: self.model_version.clone(),
            last_alert: self.last_alert,
            last_retrain: self.last_retrain,
            windows_since_retrain: self.windows_since_retrain,
            recent,
        }
    }
}

/// The policy that decided, and its failure if it failed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyOutcome {
    pub plugin: Option<String>,
    pub failure: Option<Failure>,
    /// The state the policy was given (hex): what it kept at the window before. A replay gives
    /// it again.
    #[serde(default)]
    pub state: Option<String>,
}

/// An alert cause the window raised, and whether it fired (or was within its cooldown).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRaised {
    pub cause: String,
    pub fired: bool,
}

/// The decision, and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub action: Action,
    pub reason: String,
}

/// The limits one of the spec's plugins ran under: the daemon's defaults, or what the spec set
/// in their place (docs/monitors.md, "Plugin limits").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RanUnder {
    /// The plugin (`name@version`).
    pub plugin: String,
    pub deadline_ms: u64,
    pub memory_mib: usize,
    pub max_output_values: usize,
    pub max_output_string_bytes: usize,
}

impl RanUnder {
    pub fn new(plugin: &str, limits: vigil_runtime::Limits) -> RanUnder {
        RanUnder {
            plugin: plugin.to_string(),
            deadline_ms: limits.deadline.as_millis() as u64,
            memory_mib: limits.memory_bytes >> 20,
            max_output_values: limits.max_output_values,
            max_output_string_bytes: limits.max_output_string_bytes,
        }
    }
}

/// One window's evaluation, whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRecord {
    /// The monitor's revision the window was evaluated with.
    pub monitor_revision: i64,
    /// The monitor's spec then, with credentials hidden (`spec::redact`).
    pub spec: serde_json::Value,
    pub reference: ReferenceSummary,
    pub window: WindowSummary,
    pub history: HistorySummary,
    /// When the evaluation started (Unix ms); the policy's `now`.
    pub now: i64,
    #[serde(default)]
    pub finished_at: i64,
    #[serde(default)]
    pub status: Status,
    #[serde(default)]
    pub decision: Decision,
    /// Set when a preprocessor failed: nothing else ran.
    #[serde(default)]
    pub preprocessing: Option<Failure>,
    /// Bytes of log output the monitor's plugins wrote past their allowance (dropped).
    #[serde(default)]
    pub plugin_output_dropped_bytes: u64,
    pub columns: Vec<ColumnResult>,
    /// The multivariate tests' results (absent from records stored before they existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub multivariate: Vec<MultivariateResult>,
    pub detectors: Vec<DetectorResult>,
    pub metrics: Vec<MetricValue>,
    pub drifted_columns: usize,
    pub failed_columns: usize,
    pub policy: PolicyOutcome,
    pub alerts: Vec<AlertRaised>,
    /// The limits each of the spec's plugins ran under, by its place in the spec (e.g.
    /// `pipeline.columns.x`); absent from records stored before plugins had limits.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub plugin_limits: std::collections::BTreeMap<String, RanUnder>,
    /// The calls into each plugin (`name@version`) during the window, and their time; absent
    /// from records stored before they were counted.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub plugin_calls: std::collections::BTreeMap<String, CallTotals>,
}

/// The calls into one plugin during one window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CallTotals {
    pub calls: u64,
    /// Their wall-clock time in all.
    pub seconds: f64,
    /// The most linear memory its instances had, in bytes.
    pub memory_peak_bytes: u64,
}

impl CallTotals {
    /// Mean wall-clock time of a call, in milliseconds.
    pub fn ms_per_call(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.seconds * 1e3 / self.calls as f64)
    }
}

/// The calls into each plugin while one window is evaluated, counted as they end (from
/// several threads: columns are tested in parallel).
#[derive(Debug, Default)]
pub struct WindowCalls(std::sync::Mutex<std::collections::BTreeMap<String, CallTotals>>);

impl WindowCalls {
    pub fn add(&self, plugin: &str, report: &vigil_runtime::CallReport<'_>) {
        let mut totals = self.0.lock().expect("window calls lock");
        let total = totals.entry(plugin.to_string()).or_default();
        total.calls += 1;
        total.seconds += report.duration.as_secs_f64();
        total.memory_peak_bytes = total.memory_peak_bytes.max(report.memory_peak_bytes as u64);
    }

    /// The totals so far, starting again from none.
    pub fn take(&self) -> std::collections::BTreeMap<String, CallTotals> {
        std::mem::take(&mut *self.0.lock().expect("window calls lock"))
    }
}

impl EvaluationRecord {
    /// Every plugin failure of the window: preprocessing, columns, multivariate tests,
    /// detectors and the policy.
    pub fn failures(&self) -> impl Iterator<Item = &Failure> {
        self.preprocessing
            .iter()
            .chain(self.columns.iter().filter_map(|c| c.failure.as_ref()))
            .chain(self.multivariate.iter().filter_map(|m| m.failure.as_ref()))
            .chain(self.detectors.iter().filter_map(|d| d.failure.as_ref()))
            .chain(self.policy.failure.as_ref())
    }

    /// The record of a stored evaluation. Records stored before the decision, status and end
    /// time were part of them take those from the evaluation's row.
    pub fn from_stored(evaluation: &vigil_store::Evaluation) -> Result<EvaluationRecord, String> {
        let mut record: EvaluationRecord = serde_json::from_value(evaluation.result.clone())
            .map_err(|e| format!("evaluation {}: unreadable record: {e}", evaluation.id))?;
        if record.finished_at == 0 {
            record.finished_at = evaluation.finished_at;
            record.status = Status::parse(&evaluation.status).unwrap_or_default();
            record.decision = Decision {
                action: Action::parse(&evaluation.action).unwrap_or_default(),
                reason: evaluation.reason.clone(),
            };
        }
        Ok(record)
    }
}

/// An evaluation as the API shows it: its row's identity and the record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Evaluation {
    pub id: i64,
    pub monitor_id: i64,
    pub window_start: i64,
    pub window_end: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub status: Status,
    pub action: Action,
    pub reason: String,
    pub result: EvaluationRecord,
}

impl Evaluation {
    pub fn from_stored(evaluation: &vigil_store::Evaluation) -> Result<Evaluation, String> {
        let result = EvaluationRecord::from_stored(evaluation)?;
        Ok(Evaluation {
            id: evaluation.id,
            monitor_id: evaluation.monitor_id,
            window_start: evaluation.window_start,
            window_end: evaluation.window_end,
            started_at: evaluation.started_at,
            finished_at: evaluation.finished_at,
            status: result.status,
            action: result.decision.action,
            reason: result.decision.reason.clone(),
            result,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as an earlier version stored it (no status, decision or end time in it, a
    /// failure without its plugin) still reads, completed from the row.
    #[test]
    fn records_stored_by_earlier_versions_still_read() {
        let result = serde_json::json!({
            "monitor_revision": 2, "spec": {"name": "m"},
            "reference": {"rows": 10, "sha256": "ab"},
            "window": {"start": 0, "end": 5, "rows": 5, "first_timestamp": 1,
                       "last_timestamp": 9, "labels": 0},
            "history": {"model_version": null, "last_alert": null, "last_retrain": null,
                        "windows_since_retrain": 3},
            "now": 100,
            "columns": [{"name": "x", "kind": "numeric", "test": "drift-ks",
                         "plugin": "drift-ks@0.1.0", "statistic": null, "p_value": null,
                         "threshold": null, "drifted": null, "missing": 0,
                         "failure": {"kind": "trap", "message": "boom"}, "duration_ms": 1.5}],
            "detectors": [], "metrics": [{"name": "accuracy", "value": null, "reference": 0.9}],
            "drifted_columns": 0, "failed_columns": 1,
            "policy": {"plugin": "policy-threshold@0.1.0", "failure": null},
            "alerts": [{"cause": "drift", "fired": true}],
        });
        let stored = vigil_store::Evaluation {
            id: 7,
            monitor_id: 1,
            window_start: 0,
            window_end: 5,
            started_at: 100,
            finished_at: 120,
            status: "partial".into(),
            action: "alert".into(),
            reason: "because".into(),
            result,
        };
        let evaluation = Evaluation::from_stored(&stored).unwrap();
        assert_eq!(evaluation.status, Status::Partial);
        assert_eq!(evaluation.action, Action::Alert);
        let record = &evaluation.result;
        assert_eq!(record.finished_at, 120);
        assert_eq!(record.decision.reason, "because");
        assert_eq!(record.columns[0].failure.as_ref().unwrap().kind, "trap");
        assert_eq!(record.metrics[0].value, None);
        // Written again, it reads back the same.
        let again: EvaluationRecord =
            serde_json::from_value(serde_json::to_value(record).unwrap()).unwrap();
        assert_eq!(&again, record);
    }
}
