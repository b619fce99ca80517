//! Re-running a stored evaluation: the same window, reference, plugin versions, configs,
//! detector state and policy history; the replayed record is compared with the stored one,
//! field by field.

use serde::Serialize;
use serde_json::Value;
use vigil_store::Store;

use super::carried::Carried;
use super::evaluation::{
    Action, ColumnResult, DetectorResult, EvaluationRecord, Failure, MetricValue,
    MultivariateResult,
};
use super::pipeline::{PluginSetup, Prepared};
use super::prepare::{Reference, load_reference};
use super::spec::MonitorSpec;
use super::stored_plugins::StoredPlugins;
use super::window::Window;
use crate::vocab::Task;

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// What was asked for is wrong (an override that names no plugin of the evaluation).
    #[error("{0}")]
    Invalid(String),
    /// Something the evaluation needs is gone (its monitor, model, reference or records).
    #[error("{0}")]
    Gone(String),
    /// The daemon could not run it (storage, plugins).
    #[error(transparent)]
    Host(#[from] anyhow::Error),
}

/// Records retention pruned are gone (410); any other store failure is the host's.
fn gone_if_pruned(error: vigil_store::Error) -> ReplayError {
    match error {
        pruned @ vigil_store::Error::Pruned { .. } => {
            ReplayError::Gone(format!("what it needs is no longer stored: {pruned}"))
        }
        other => ReplayError::Host(other.into()),
    }
}

/// A plugin version used instead of the stored one.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Replaced {
    pub from: String,
    pub to: String,
}

/// A field whose stored and replayed values differ.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Difference {
    /// Where, e.g. `columns[2].p_value`.
    pub path: String,
    pub stored: Value,
    pub replayed: Value,
}

/// What a replay reproduces of a column's test.
#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ComparedColumn {
    pub name: String,
    pub test: String,
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    pub threshold: Option<f64>,
    pub drifted: Option<bool>,
    pub missing: usize,
    /// (kind, message) of its failure.
    pub failure: Option<(String, String)>,
}

/// What a replay reproduces of a detector.
#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ComparedDetector {
    pub column: String,
    pub detections: Vec<i64>,
    pub failure: Option<(String, String)>,
}

/// What a replay reproduces of a multivariate test.
#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ComparedMultivariate {
    pub name: String,
    pub test: String,
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    pub threshold: Option<f64>,
    pub drifted: Option<bool>,
    pub failure: Option<(String, String)>,
}

/// The parts of an evaluation a replay must reproduce.
#[derive(Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Compared {
    pub columns: Vec<ComparedColumn>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub multivariate: Vec<ComparedMultivariate>,
    pub metrics: Vec<MetricValue>,
    pub detectors: Vec<ComparedDetector>,
    pub action: Action,
    pub reason: String,
}

fn failure(failure: &Option<Failure>) -> Option<(String, String)> {
    failure
        .as_ref()
        .map(|f| (f.kind.clone(), f.message.clone()))
}

impl Compared {
    pub(crate) fn of(record: &EvaluationRecord) -> Compared {
        let column = |c: &ColumnResult| ComparedColumn {
            name: c.name.clone(),
            test: c.test.clone(),
            statistic: c.statistic,
            p_value: c.p_value,
            threshold: c.threshold,
            drifted: c.drifted,
            missing: c.missing,
            failure: failure(&c.failure),
        };
        let detector = |d: &DetectorResult| ComparedDetector {
            column: d.column.clone(),
            detections: d.detections.clone(),
            failure: failure(&d.failure),
        };
        let multivariate = |m: &MultivariateResult| ComparedMultivariate {
            name: m.name.clone(),
            test: m.test.clone(),
            statistic: m.statistic,
            p_value: m.p_value,
            threshold: m.threshold,
            drifted: m.drifted,
            failure: failure(&m.failure),
        };
        Compared {
            columns: record.columns.iter().map(column).collect(),
            multivariate: record.multivariate.iter().map(multivariate).collect(),
            metrics: record.metrics.clone(),
            detectors: record.detectors.iter().map(detector).collect(),
            action: record.decision.action,
            reason: record.decision.reason.clone(),
        }
    }

    /// Every field that differs, with its path.
    pub(crate) fn differences(&self, replayed: &Compared) -> Vec<Difference> {
        let mut out = Vec::new();
        let d = &mut out;
        if self.columns.len() == replayed.columns.len() {
            for (i, (s, r)) in self.columns.iter().zip(&replayed.columns).enumerate() {
                let at = |field: &str| format!("columns[{i}].{field}");
                compare(d, at("name"), &s.name, &r.name);
                compare(d, at("test"), &s.test, &r.test);
                compare(d, at("statistic"), &s.statistic, &r.statistic);
                compare(d, at("p_value"), &s.p_value, &r.p_value);
                compare(d, at("threshold"), &s.threshold, &r.threshold);
                compare(d, at("drifted"), &s.drifted, &r.drifted);
                compare(d, at("missing"), &s.missing, &r.missing);
                compare(d, at("failure"), &s.failure, &r.failure);
            }
        } else {
            compare(d, "columns".into(), &self.columns, &replayed.columns);
        }
        if self.multivariate.len() == replayed.multivariate.len() {
            for (i, (s, r)) in self
                .multivariate
                .iter()
                .zip(&replayed.multivariate)
                .enumerate()
            {
                compare(d, format!("multivariate[{i}]"), s, r);
            }
        } else {
            compare(
                d,
                "multivariate".into(),
                &self.multivariate,
                &replayed.multivariate,
            );
        }
        if self.metrics.len() == replayed.metrics.len() {
            for (i, (s, r)) in self.metrics.iter().zip(&replayed.metrics).enumerate() {
                let at = |field: &str| format!("metrics[{i}].{field}");
                compare(d, at("name"), &s.name, &r.name);
                compare(d, at("value"), &s.value, &r.value);
                compare(d, at("reference"), &s.reference, &r.reference);
            }
        } else {
            compare(d, "metrics".into(), &self.metrics, &replayed.metrics);
        }
        if self.detectors.len() == replayed.detectors.len() {
            for (i, (s, r)) in self.detectors.iter().zip(&replayed.detectors).enumerate() {
                let at = |field: &str| format!("detectors[{i}].{field}");
                compare(d, at("column"), &s.column, &r.column);
                compare(d, at("detections"), &s.detections, &r.detections);
                compare(d, at("failure"), &s.failure, &r.failure);
            }
        } else {
            compare(d, "detectors".into(), &self.detectors, &replayed.detectors);
        }
        compare(d, "action".into(), &self.action, &replayed.action);
        compare(d, "reason".into(), &self.reason, &replayed.reason);
        out
    }
}

/// Notes a difference when `stored` and `replayed` differ (numbers exactly: a replay runs the
/// same code on the same input).
fn compare<T: Serialize + PartialEq>(
    out: &mut Vec<Difference>,
    path: String,
    stored: &T,
    replayed: &T,
) {
    if stored != replayed {
        let json = |value: &T| serde_json::to_value(value).unwrap_or(Value::Null);
        out.push(Difference {
            path,
            stored: json(stored),
            replayed: json(replayed),
        });
    }
}

/// What a replay found.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ReplayReport {
    pub evaluation_id: i64,
    /// Whether the replay reproduced the stored evaluation exactly.
    pub same: bool,
    pub differences: Vec<Difference>,
    pub replaced_plugins: Vec<Replaced>,
    /// Whether the reference's rows or labels changed since (then differences are expected).
    pub reference_changed: bool,
    pub stored: Compared,
    pub replayed: Compared,
}

/// What an evaluation read: its model, its monitor's reference and its window's records.
pub struct StoredWindow {
    pub model: vigil_store::Model,
    pub reference: Reference,
    pub records: vigil_store::RecordBatch,
}

/// Reads again what `evaluation` read; `Gone` when any of it was deleted or pruned since.
pub async fn stored_window(
    store: &Store,
    evaluation: &vigil_store::Evaluation,
    record: &EvaluationRecord,
    spec: &MonitorSpec,
) -> Result<StoredWindow, ReplayError> {
    let gone = |what: &str| ReplayError::Gone(what.to_string());
    let monitor = store
        .monitor_by_id(evaluation.monitor_id)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| gone("the evaluation's monitor was deleted"))?;
    let model = store
        .model_by_id(monitor.model_id)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| gone("the evaluation's model was deleted"))?;
    let reference = load_reference(store, &monitor, spec)
        .await
        .map_err(|error| match error.downcast::<vigil_store::Error>() {
            Ok(error) => gone_if_pruned(error),
            Err(error) => ReplayError::Host(error),
        })?
        .ok_or_else(|| gone("the monitor's reference is gone"))?;
    let (start, end) = (record.window.start, record.window.end);
    let records = store
        .read_records(model.id, start, end)
        .await
        .map_err(gone_if_pruned)?;
    if records.len() as i64 != end - start {
        return Err(gone("the window's records are no longer stored"));
    }
    Ok(StoredWindow {
        model,
        reference,
        records,
    })
}

/// Re-runs `evaluation`, with `overrides` (`name@version`) replacing plugins of the same name.
pub async fn replay(
    store: &Store,
    plugins: &StoredPlugins,
    evaluation: &vigil_store::Evaluation,
    overrides: &[String],
) -> Result<ReplayReport, ReplayError> {
    let record = EvaluationRecord::from_stored(evaluation).map_err(ReplayError::Invalid)?;
    let mut spec: MonitorSpec = serde_json::from_value(record.spec.clone())
        .map_err(|e| ReplayError::Invalid(format!("the stored spec does not read: {e}")))?;
    let mut replaced = Vec::new();
    for wanted in overrides {
        let (name, _) = wanted
            .split_once('@')
            .ok_or_else(|| ReplayError::Invalid(format!("`{wanted}`: expected name@version")))?;
        let mut found = false;
        for plugin in spec.plugin_refs_mut() {
            if plugin.parts().0 == name {
                replaced.push(Replaced {
                    from: plugin.plugin.clone(),
                    to: wanted.clone(),
                });
                plugin.plugin = wanted.clone();
                found = true;
            }
        }
        if !found {
            return Err(ReplayError::Invalid(format!(
                "the evaluation uses no plugin named `{name}`"
            )));
        }
    }
    let StoredWindow {
        model,
        reference,
        records,
    } = stored_window(store, evaluation, &record, &spec).await?;
    let start = record.window.start;
    // The labels the evaluation saw: those received since would make metrics differ.
    let labels = store
        .labels_known_at(model.id, start, &records.ids, evaluation.started_at)
        .await
        .map_err(gone_if_pruned)?;
    let loaded = plugins.for_spec(&spec).await.map_err(|e| {
        ReplayError::Invalid(format!("the plugins it needs are not all stored: {e:#}"))
    })?;
    let budget = plugins.runtime().shared().clone();
    let mut carried = Carried::default();
    for (detector, stored) in spec.pipeline.detectors.iter().zip(&record.detectors) {
        let key = format!("{}/{}", detector.column, detector.plugin.plugin);
        if let Some(snapshot) = &stored.snapshot_before {
            carried.detectors.insert(key.clone(), snapshot.clone());
        }
        carried.detector_seen.insert(key, stored.seen_before);
    }
    // The state its policy was given, unless the replay runs another policy: the daemon gives
    // no state to a policy reference other than the one that kept it.
    let policy = spec.policy_ref();
    if !replaced.iter().any(|r| r.to == policy.plugin)
        && let Some(state) = &record.policy.state
    {
        let state = hex::decode(state).map_err(|e| {
            ReplayError::Invalid(format!("the stored policy state does not read: {e}"))
        })?;
        carried.keep_policy_state(&policy, Some(&state));
    }
    // The earlier windows it was given: as many as it saw, stored before it.
    let recent = super::history::recent_windows(
        store,
        evaluation.monitor_id,
        Some(evaluation.id),
        record.history.recent_windows,
    )
    .await
    .map_err(anyhow::Error::from)?;
    let history = record.history.with_recent(recent);
    let now = record.now;
    let task = Task::parse(&model.task).unwrap_or(Task::Classification);
    let limits = plugins.limits();
    let (replayed, reference_sha256) = tokio::task::spawn_blocking(move || {
        // A replay keeps no drift test between columns: it runs in the shared budget.
        let setup = PluginSetup {
            limits,
            measured_as: None,
        };
        let mut prepared = Prepared::new(0, spec, &reference.window(task), &loaded, &setup, budget)
            .map_err(|f| anyhow::anyhow!("preparing the pipeline: {f}"))?
            .one_off();
        let window = Window {
            start,
            records: &records,
            labels: &labels,
            task,
        };
        let findings = prepared
            .evaluate(&window, &mut carried, &history, now)
            .expect("a replay is never cancelled");
        let mut replayed = EvaluationRecord {
            columns: findings.columns.clone(),
            multivariate: findings.multivariate.clone(),
            detectors: findings.detectors.clone(),
            metrics: findings.metrics.clone(),
            ..EvaluationRecord::default()
        };
        replayed.decision = findings.decision();
        Ok::<_, anyhow::Error>((Compared::of(&replayed), prepared.reference_digest.clone()))
    })
    .await
    .map_err(anyhow::Error::from)??;
    let stored = Compared::of(&record);
    let differences = stored.differences(&replayed);
    Ok(ReplayReport {
        evaluation_id: evaluation.id,
        same: differences.is_empty(),
        differences,
        replaced_plugins: replaced,
        reference_changed: record.reference.sha256 != reference_sha256,
        stored,
        replayed,
    })
}
