//! Re-running a stored evaluation: the same window, reference, plugin versions, configs,
//! detector state and policy history, and a comparison with what was stored.

use serde_json::{Value, json};
use vigil_store::{Evaluation, Store};

use super::PluginCache;
use super::load_reference;
use super::pipeline::{Carried, Prepared, Window, action_name, history_from_json};
use super::spec::MonitorSpec;
use crate::vocab::Task;

/// The parts of an evaluation a replay must reproduce.
fn comparable(
    columns: &Value,
    metrics: &Value,
    detectors: &Value,
    action: &str,
    reason: &str,
) -> Value {
    let strip = |value: &Value, keep: &[&str]| -> Value {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|item| {
                        keep.iter()
                            .map(|k| (k.to_string(), item.get(*k).cloned().unwrap_or(Value::Null)))
                            .collect::<serde_json::Map<_, _>>()
                            .into()
                    })
                    .collect::<Vec<Value>>()
                    .into()
            })
            .unwrap_or(Value::Null)
    };
    json!({
        "columns": strip(columns, &["name", "test", "statistic", "p_value", "threshold", "drifted", "missing", "failure"]),
        "metrics": metrics,
        "detectors": strip(detectors, &["column", "detections", "failure"]),
        "action": action,
        "reason": reason,
    })
}

/// Lists the paths at which two JSON values differ.
fn differences(path: &str, a: &Value, b: &Value, out: &mut Vec<Value>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let null = Value::Null;
                differences(
                    &format!("{path}.{key}"),
                    x.get(key).unwrap_or(&null),
                    y.get(key).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(&format!("{path}[{i}]"), p, q, out);
            }
        }
        _ if a != b => {
            out.push(json!({"path": path.trim_start_matches('.'), "stored": a, "replayed": b}))
        }
        _ => {}
    }
}

/// Re-runs `evaluation`, with `overrides` (`name@version`) replacing plugins of the same name.
pub async fn replay(
    store: &Store,
    plugins: &PluginCache,
    evaluation: &Evaluation,
    overrides: &[String],
) -> anyhow::Result<Value> {
    let result = &evaluation.result;
    let mut spec: MonitorSpec = serde_json::from_value(result["spec"].clone())?;
    let mut replaced = Vec::new();
    for wanted in overrides {
        let (name, _) = wanted
            .split_once('@')
            .ok_or_else(|| anyhow::anyhow!("`{wanted}`: expected name@version"))?;
        let mut found = false;
        for plugin in spec.plugin_refs_mut() {
            if plugin.parts().0 == name {
                replaced.push(json!({"from": plugin.plugin, "to": wanted}));
                plugin.plugin = wanted.clone();
                found = true;
            }
        }
        anyhow::ensure!(found, "the evaluation uses no plugin named `{name}`");
    }
    let monitor = store
        .monitor_by_id(evaluation.monitor_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the monitor was deleted"))?;
    let model = store
        .model_by_id(monitor.model_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the model was deleted"))?;
    let reference = load_reference(store, &monitor, &spec)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the monitor's reference is gone"))?;
    let records = store
        .read_records(model.id, evaluation.window_start, evaluation.window_end)
        .await?;
    let labels = store
        .labels_of(model.id, evaluation.window_start, &records.ids)
        .await?;
    let loaded = plugins.for_spec(&spec).await?;
    let budget = plugins.runtime().shared().clone();
    let mut carried = Carried::default();
    let stored_detectors = result["detectors"].as_array().cloned().unwrap_or_default();
    for (detector, stored) in spec.pipeline.detectors.iter().zip(&stored_detectors) {
        let key = format!("{}/{}", detector.column, detector.plugin.plugin);
        if let Some(snapshot) = stored["snapshot_before"].as_str() {
            carried.detectors.insert(key.clone(), snapshot.to_string());
        }
        if let Some(seen) = stored["seen_before"].as_u64() {
            carried.detector_seen.insert(key, seen);
        }
    }
    let history = history_from_json(&result["history"]);
    let now = result["now"].as_i64().unwrap_or(evaluation.started_at);
    let task = Task::parse(&model.task).unwrap_or(Task::Classification);
    let start = evaluation.window_start;
    let (replayed, reference_sha256) = tokio::task::spawn_blocking(move || {
        // A replay keeps no drift test between columns: it runs in the shared budget.
        let mut prepared = Prepared::new(0, spec, &reference.window(task), &loaded, budget)
            .map_err(|f| anyhow::anyhow!("preparing the pipeline: {f}"))?
            .one_off();
        let window = Window {
            start,
            records: &records,
            labels: &labels,
            task,
        };
        let outcome = prepared
            .evaluate(&window, &mut carried, &history, now)
            .expect("a replay is never cancelled");
        let value = comparable(
            &outcome.columns_json(),
            &outcome.metrics_json(),
            &outcome.detectors_json(),
            action_name(outcome.action()),
            &outcome.reason(),
        );
        Ok::<_, anyhow::Error>((value, prepared.reference_digest.clone()))
    })
    .await??;
    let stored = comparable(
        &result["columns"],
        &result["metrics"],
        &result["detectors"],
        &evaluation.action,
        &evaluation.reason,
    );
    let mut diff = Vec::new();
    differences("", &stored, &replayed, &mut diff);
    let reference_changed =
        result["reference"]["sha256"].as_str() != Some(reference_sha256.as_str());
    Ok(json!({
        "evaluation_id": evaluation.id,
        "same": diff.is_empty(),
        "differences": diff,
        "replaced_plugins": replaced,
        "reference_changed": reference_changed,
        "stored": stored,
        "replayed": replayed,
    }))
}
