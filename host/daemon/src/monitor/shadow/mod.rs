//! Shadow evaluation (docs/monitors.md, "Trying a plugin version in shadow"): a candidate plugin
//! runs beside the version a monitor pins, on the same windows, and is never acted on.
//!
//! A shadow is the monitor's spec with every reference to one plugin (by name) pointed at the
//! candidate, evaluated as a pipeline of its own after the monitor's window is recorded and
//! acted on, so that a shadow never changes what the monitor does nor delays its record and
//! actions (its time adds to the monitor's: the next window waits for it). It sees the same
//! records, labels and history as the pinned pipeline did, carries its own state between
//! windows (detector snapshots, quarantines, a policy's state), raises no alert and starts no
//! action. What it found is stored beside the monitor's evaluation of the window, and compared
//! with it when read (`compare.rs`).

pub mod compare;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use vigil_runtime::History;
use vigil_store::{LabelValue, Monitor, RecordBatch, Shadow, ShadowWindowInsert, Store, now_ms};

use super::carried::Carried;
use super::evaluate;
use super::prepare::Pipelines;
use super::spec::MonitorSpec;
use super::stored_plugins::StoredPlugins;
use super::window::Window;
use crate::vocab::Task;

/// The monitor's spec with every reference to plugin `replaces` (by name) pinned to
/// `candidate` (`name@version`) instead, with `config` as its settings when given (the
/// references' own otherwise); limits kept.
pub fn shadow_spec(
    spec: &MonitorSpec,
    replaces: &str,
    candidate: &str,
    config: Option<&serde_json::Value>,
) -> Result<MonitorSpec, String> {
    let mut shadow = spec.clone();
    let mut replaced = 0;
    for plugin in shadow.plugin_refs_mut() {
        if plugin.parts().0 == replaces {
            plugin.plugin = candidate.to_string();
            if let Some(config) = config {
                plugin.config = config.clone();
            }
            replaced += 1;
        }
    }
    if replaced == 0 {
        let mut used: Vec<String> = spec
            .pinned_plugins()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        used.dedup();
        return Err(format!(
            "the monitor uses no plugin `{replaces}` (it uses {})",
            used.join(", ")
        ));
    }
    Ok(shadow)
}

/// A window the monitor evaluated and recorded, for its shadows to evaluate too.
pub struct Evaluated {
    pub start: i64,
    pub records: RecordBatch,
    pub labels: Vec<(i64, LabelValue)>,
    pub task: Task,
    /// The history the monitor's policy saw.
    pub history: History,
    /// When the last retraining succeeded (Unix ms): a shadow's decisions never retrain, so it
    /// counts the monitor's.
    pub last_retrain: Option<i64>,
    /// The monitor's evaluation of the window.
    pub evaluation_id: i64,
}

/// The running shadows' pipelines, prepared once per shadow and monitor revision.
pub struct Shadows {
    pipelines: Pipelines,
    /// The loop's evaluation workers, which shadows share with monitors.
    workers: Arc<Semaphore>,
    /// The shadows with a pipeline prepared, by monitor.
    prepared: Mutex<HashMap<i64, HashSet<i64>>>,
}

impl Shadows {
    pub fn new(pipelines: Pipelines, workers: Arc<Semaphore>) -> Shadows {
        Shadows {
            pipelines,
            workers,
            prepared: Mutex::default(),
        }
    }

    /// Forgets the pipelines of a monitor's shadows, which gives their plugin instances back.
    pub fn forget_monitor(&self, monitor_id: i64) {
        let ids = self
            .prepared
            .lock()
            .expect("shadows lock")
            .remove(&monitor_id)
            .unwrap_or_default();
        for id in ids {
            self.pipelines.forget(id);
        }
    }

    /// Forgets the pipelines of the monitor's shadows that are not in `running`.
    fn keep_only(&self, monitor_id: i64, running: &[Shadow]) {
        let mut prepared = self.prepared.lock().expect("shadows lock");
        let ids = prepared.entry(monitor_id).or_default();
        ids.retain(|id| {
            let keep = running.iter().any(|s| s.id == *id);
            if !keep {
                self.pipelines.forget(*id);
            }
            keep
        });
    }

    /// Evaluates the window with each of the monitor's running shadows and stores what they
    /// found. A shadow that cannot run (its candidate no longer fits the spec, no capacity)
    /// is logged and skipped for the window: the monitor is never held up by its shadows.
    pub async fn evaluate(
        &self,
        store: &Store,
        plugins: &StoredPlugins,
        monitor: &Monitor,
        spec: &MonitorSpec,
        window: Evaluated,
    ) -> anyhow::Result<()> {
        let running = store.running_shadows(monitor.id).await?;
        self.keep_only(monitor.id, &running);
        let window = Arc::new(window);
        for shadow in running {
            if let Err(error) = self
                .evaluate_one(store, plugins, monitor, spec, &shadow, &window)
                .await
            {
                tracing::warn!(
                    monitor = %monitor.name,
                    shadow = shadow.id,
                    candidate = %shadow.plugin,
                    error = %format!("{error:#}"),
                    "the shadow cannot evaluate this window"
                );
            }
        }
        Ok(())
    }

    async fn evaluate_one(
        &self,
        store: &Store,
        plugins: &StoredPlugins,
        monitor: &Monitor,
        spec: &MonitorSpec,
        shadow: &Shadow,
        window: &Arc<Evaluated>,
    ) -> anyhow::Result<()> {
        let shadow_spec = shadow_spec(
            spec,
            &shadow.replaces,
            &shadow.plugin,
            shadow.config.as_ref(),
        )
        .map_err(anyhow::Error::msg)?;
        let label = format!("{} (shadow {})", monitor.name, shadow.id);
        let Some(prepared) = self
            .pipelines
            .get_as(
                shadow.id,
                &label,
                store,
                plugins,
                monitor,
                &shadow_spec,
                window.task,
            )
            .await?
        else {
            return Ok(());
        };
        self.prepared
            .lock()
            .expect("shadows lock")
            .entry(monitor.id)
            .or_default()
            .insert(shadow.id);
        let mut carried: Carried = serde_json::from_str(&shadow.state).unwrap_or_default();
        if window.last_retrain > carried.last_retrain {
            carried.last_retrain = window.last_retrain;
            carried.windows_since_retrain = 0;
        }
        let permit = self.workers.clone().acquire_owned().await?;
        let started = now_ms();
        let input = window.clone();
        let evaluated = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let window = Window {
                start: input.start,
                records: &input.records,
                labels: &input.labels,
                task: input.task,
            };
            let mut pipeline = prepared.lock().expect("pipeline lock");
            evaluate::evaluate(&mut pipeline, &window, carried, &input.history, started)
        })
        .await?;
        let Some(evaluated) = evaluated else {
            return Ok(());
        };
        let record = &evaluated.record;
        let stored = store
            .record_shadow_window(
                shadow.id,
                &ShadowWindowInsert {
                    window_start: record.window.start,
                    window_end: record.window.end,
                    evaluation_id: window.evaluation_id,
                    result: &serde_json::to_string(record)?,
                },
                &serde_json::to_string(&evaluated.carried)?,
            )
            .await?;
        if !stored {
            tracing::debug!(
                shadow = shadow.id,
                "the shadow ended as it evaluated a window"
            );
        }
        Ok(())
    }
}
