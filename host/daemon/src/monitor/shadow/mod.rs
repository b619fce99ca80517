//! Shadow evaluation (docs/monitors.md, "Trying a plugin version in shadow"): a candidate plugin
//! runs beside the version a monitor pins, on the same windows, and is never acted on.
//!
//! A shadow is the monitor's spec with every reference to one plugin (by name) pointed at the
//! candidate, evaluated as a pipeline of its own. Once the monitor has recorded and acted on a
//! window, the window is queued for the monitor's shadows, which a task of their own works
//! through in order while the monitor goes on to its next window: a shadow never changes what
//! the monitor does nor delays it. A shadow more than [`BACKLOG`] windows behind (a slow or
//! looping candidate) skips windows, and counts them. It sees the same records, labels and
//! history as the pinned pipeline did, carries its own state between windows (detector
//! snapshots, quarantines, a policy's state), raises no alert and starts no action, and tests
//! its columns on threads of its own (half the monitors'). What it found is stored beside the
//! monitor's evaluation of the window, with the comparison's running summary (`compare.rs`).

pub mod compare;

use compare::{Comparison, Tally};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::{self, error::TrySendError};
use vigil_runtime::History;
use vigil_store::{LabelValue, Monitor, RecordBatch, Shadow, ShadowWindowInsert, Store, now_ms};

use super::carried::Carried;
use super::evaluate;
use super::evaluation::EvaluationRecord;
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
    /// The monitor's evaluation of the window, and its record.
    pub evaluation_id: i64,
    pub pinned: EvaluationRecord,
}

/// A shadow's tally, as stored with its last window (empty before its first).
pub fn tally_of(shadow: &Shadow) -> anyhow::Result<Tally> {
    Ok(match &shadow.summary {
        Some(stored) => serde_json::from_str(stored)?,
        None => Tally::default(),
    })
}

/// Windows a monitor's shadows may be behind it; the next one is skipped. Each queued window
/// holds its records.
pub const BACKLOG: usize = 4;

/// A window queued for a monitor's shadows, with the monitor as it was evaluated.
struct Queued {
    monitor: Monitor,
    spec: MonitorSpec,
    window: Evaluated,
}

/// The running shadows' pipelines, prepared once per shadow and monitor revision, and a task
/// per monitor that evaluates its windows with them.
pub struct Shadows {
    store: Store,
    plugins: Arc<StoredPlugins>,
    pipelines: Pipelines,
    /// Where shadows test their columns: a thread pool of their own, so that a slow or looping
    /// candidate never takes the threads the monitors test theirs on (the global one).
    threads: Arc<rayon::ThreadPool>,
    /// The shadows with a pipeline prepared, by monitor.
    prepared: Mutex<HashMap<i64, HashSet<i64>>>,
    /// By monitor, the queue of windows its shadows' task works through, in order. A task
    /// lives as long as the daemon, so that one shadow is never evaluated by two at once.
    queues: Mutex<HashMap<i64, mpsc::Sender<Queued>>>,
}

impl Shadows {
    /// Shadows with half the monitors' threads (at least one) to test their columns on.
    pub fn new(
        store: Store,
        plugins: Arc<StoredPlugins>,
        pipelines: Pipelines,
    ) -> anyhow::Result<Shadows> {
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads().div_ceil(2))
            .thread_name(|i| format!("vigil-shadow-{i}"))
            .build()?;
        Ok(Shadows {
            store,
            plugins,
            pipelines,
            threads: Arc::new(threads),
            prepared: Mutex::default(),
            queues: Mutex::default(),
        })
    }

    /// Queues a window the monitor evaluated and recorded for its running shadows, if it has
    /// any; when they are [`BACKLOG`] windows behind, counts it as skipped instead.
    pub async fn submit(
        self: &Arc<Self>,
        monitor: &Monitor,
        spec: &MonitorSpec,
        window: Evaluated,
    ) -> anyhow::Result<()> {
        let running = self.store.running_shadows(monitor.id).await?;
        if running.is_empty() {
            self.keep_only(monitor.id, &running);
            return Ok(());
        }
        let mut queued = Queued {
            monitor: monitor.clone(),
            spec: spec.clone(),
            window,
        };
        let full = {
            let mut queues = self.queues.lock().expect("shadow queues lock");
            loop {
                let queue = queues
                    .entry(monitor.id)
                    .or_insert_with(|| self.clone().work());
                match queue.try_send(queued) {
                    Ok(()) => break false,
                    Err(TrySendError::Full(_)) => break true,
                    // Its task ended (it panicked): a new one takes over.
                    Err(TrySendError::Closed(back)) => {
                        queues.remove(&monitor.id);
                        queued = back;
                    }
                }
            }
        };
        if full {
            tracing::warn!(
                monitor = %monitor.name,
                backlog = BACKLOG,
                "the monitor's shadows are too far behind: this window is skipped in shadow"
            );
            self.store.skip_shadow_window(monitor.id).await?;
        }
        Ok(())
    }

    /// A monitor's shadows' task: evaluates the windows queued for them, in order.
    fn work(self: Arc<Self>) -> mpsc::Sender<Queued> {
        let (sender, mut queue) = mpsc::channel::<Queued>(BACKLOG);
        tokio::spawn(async move {
            while let Some(Queued {
                monitor,
                spec,
                window,
            }) = queue.recv().await
            {
                if let Err(error) = self.evaluate(&monitor, &spec, window).await {
                    tracing::warn!(monitor = %monitor.name, error = %format!("{error:#}"), "cannot evaluate the monitor's shadows");
                }
            }
        });
        sender
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
    /// is logged and skipped for the window.
    async fn evaluate(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        window: Evaluated,
    ) -> anyhow::Result<()> {
        let running = self.store.running_shadows(monitor.id).await?;
        self.keep_only(monitor.id, &running);
        let window = Arc::new(window);
        for shadow in running {
            if let Err(error) = self.evaluate_one(monitor, spec, &shadow, &window).await {
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
                &self.store,
                &self.plugins,
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
        let started = now_ms();
        let input = window.clone();
        let threads = self.threads.clone();
        let evaluated = tokio::task::spawn_blocking(move || {
            let window = Window {
                start: input.start,
                records: &input.records,
                labels: &input.labels,
                task: input.task,
            };
            threads.install(|| {
                let mut pipeline = prepared.lock().expect("pipeline lock");
                evaluate::evaluate(&mut pipeline, &window, carried, &input.history, started)
            })
        })
        .await?;
        let Some(evaluated) = evaluated else {
            return Ok(());
        };
        let record = &evaluated.record;
        let mut tally = tally_of(shadow)?;
        Comparison {
            replaces: &shadow.replaces,
            candidate: &shadow.plugin,
        }
        .count(&mut tally, &window.pinned, record);
        let stored = self
            .store
            .record_shadow_window(
                shadow.id,
                &ShadowWindowInsert {
                    window_start: record.window.start,
                    window_end: record.window.end,
                    evaluation_id: window.evaluation_id,
                    result: &serde_json::to_string(record)?,
                },
                &serde_json::to_string(&evaluated.carried)?,
                &serde_json::to_string(&tally)?,
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
