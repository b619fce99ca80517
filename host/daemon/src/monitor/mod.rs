//! The monitoring loop: finds windows that have closed, evaluates them through the monitor's
//! pipeline off the async threads, stores each evaluation with the monitor's new position in
//! one transaction, and fires alerts.
//!
//! Each monitor runs in a task of its own, so a slow or failing monitor never delays another;
//! at most `evaluation_workers` evaluations compute at once.

pub mod pipeline;
pub mod replay;
pub mod spec;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use vigil_runtime::{Action, History, Plugin, Runtime};
use vigil_store::{MonitorState, NewAlert, NewEvaluation, RecordBatch, Store, now_ms};

use crate::alerts::{AlertEvent, Alerter};
use crate::ingest::Task;
use crate::metrics::{
    ColumnLabels, FailureLabels, Metrics, MonitorLabel, PluginLabel, StatusLabels,
};
use pipeline::{Carried, Outcome, Plugins, Prepared, Window, action_name};
use spec::{MonitorSpec, WindowRule};

/// Plugins loaded from the store, by `name@version`, compiled once.
pub struct PluginCache {
    store: Store,
    runtime: Runtime,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    /// Compilations at once (RELIABILITY U5): uploads cannot starve the machine.
    compiling: Semaphore,
}

impl PluginCache {
    pub fn new(store: Store, runtime: Runtime) -> PluginCache {
        PluginCache {
            store,
            runtime,
            loaded: Mutex::new(HashMap::new()),
            compiling: Semaphore::new(2),
        }
    }

    /// Compiles and checks a component off the async threads.
    pub async fn compile(&self, bytes: Vec<u8>) -> Result<Arc<Plugin>, vigil_runtime::Error> {
        let _permit = self.compiling.acquire().await.expect("never closed");
        let runtime = self.runtime.clone();
        tokio::task::spawn_blocking(move || runtime.load(&bytes))
            .await
            .unwrap_or_else(|e| Err(vigil_runtime::Error::Host(format!("compile task: {e}"))))
    }

    /// A stored plugin by `name@version`.
    pub async fn get(&self, reference: &str) -> anyhow::Result<Arc<Plugin>> {
        if let Some(plugin) = self.loaded.lock().expect("cache lock").get(reference) {
            return Ok(plugin.clone());
        }
        let (name, version) = reference
            .split_once('@')
            .with_context(|| format!("plugin reference `{reference}` has no version"))?;
        let bytes = self
            .store
            .plugin_bytes(name, version)
            .await?
            .with_context(|| format!("plugin {reference} is not stored"))?;
        let plugin = self.compile(bytes).await?;
        self.loaded
            .lock()
            .expect("cache lock")
            .insert(reference.to_string(), plugin.clone());
        Ok(plugin)
    }

    /// Every plugin a (pinned) spec names.
    pub async fn for_spec(&self, spec: &MonitorSpec) -> anyhow::Result<Plugins> {
        let mut plugins = Plugins::new();
        for (name, version) in spec.pinned_plugins() {
            let reference = format!("{name}@{version}");
            let plugin = self.get(&reference).await?;
            plugins.insert(reference, plugin);
        }
        Ok(plugins)
    }

    pub fn forget(&self, reference: &str) {
        self.loaded.lock().expect("cache lock").remove(reference);
    }
}

pub struct Monitoring {
    store: Store,
    pub plugins: Arc<PluginCache>,
    metrics: Arc<Metrics>,
    alerter: Alerter,
    wake: Notify,
    workers: Arc<Semaphore>,
    tick: Duration,
    prepared: Mutex<HashMap<i64, Arc<Mutex<Prepared>>>>,
    running: Mutex<HashSet<i64>>,
    tasks: tokio::sync::Mutex<JoinSet<()>>,
    stopping: watch::Sender<bool>,
}

/// What one attempt at a monitor's next window did.
enum Step {
    /// A window was evaluated and stored; there may be another.
    Evaluated,
    /// No window is ready (or it must wait: no reference, preprocessing failed).
    Idle,
}

impl Monitoring {
    pub fn new(
        store: Store,
        plugins: Arc<PluginCache>,
        metrics: Arc<Metrics>,
        workers: usize,
        tick: Duration,
    ) -> Arc<Monitoring> {
        Arc::new(Monitoring {
            alerter: Alerter::new(store.clone()),
            store,
            plugins,
            metrics,
            wake: Notify::new(),
            workers: Arc::new(Semaphore::new(workers)),
            tick,
            prepared: Mutex::new(HashMap::new()),
            running: Mutex::new(HashSet::new()),
            tasks: tokio::sync::Mutex::new(JoinSet::new()),
            stopping: watch::channel(false).0,
        })
    }

    /// Looks for closed windows now (after ingestion, say) instead of at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Forgets what was prepared for a monitor (after it changed or was deleted).
    pub fn invalidate(&self, monitor_id: i64) {
        self.prepared
            .lock()
            .expect("prepared lock")
            .remove(&monitor_id);
    }

    /// Runs until [`Monitoring::stop`], then waits for the evaluations in flight.
    pub async fn run(self: Arc<Self>) {
        match self.alerter.resume_pending().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(alerts = n, "delivering alerts left pending"),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "cannot resume pending alerts")
            }
        }
        let mut stopping = self.stopping.subscribe();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.tick) => {}
                _ = self.wake.notified() => {}
                _ = stopping.changed() => break,
            }
            if let Err(error) = self.poll().await {
                tracing::warn!(error = %format!("{error:#}"), "monitoring loop");
            }
        }
        let mut tasks = self.tasks.lock().await;
        while tasks.join_next().await.is_some() {}
    }

    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    async fn poll(self: &Arc<Self>) -> anyhow::Result<()> {
        let monitors = self.store.monitors().await?;
        let mut tasks = self.tasks.lock().await;
        while tasks.try_join_next().is_some() {}
        for monitor in monitors {
            if !self
                .running
                .lock()
                .expect("running lock")
                .insert(monitor.id)
            {
                continue;
            }
            let this = self.clone();
            tasks.spawn(async move {
                let id = monitor.id;
                loop {
                    if this.is_stopping() {
                        break;
                    }
                    match this.step(&monitor).await {
                        Ok(Step::Evaluated) => continue,
                        Ok(Step::Idle) => break,
                        Err(error) => {
                            tracing::warn!(monitor = %monitor.name, error = %format!("{error:#}"), "evaluation failed");
                            break;
                        }
                    }
                }
                this.running.lock().expect("running lock").remove(&id);
            });
        }
        Ok(())
    }

    async fn prepared(
        &self,
        monitor: &vigil_store::Monitor,
        spec: &MonitorSpec,
        task: Task,
    ) -> anyhow::Result<Option<Arc<Mutex<Prepared>>>> {
        if let Some(prepared) = self
            .prepared
            .lock()
            .expect("prepared lock")
            .get(&monitor.id)
            && prepared.lock().expect("pipeline lock").revision == monitor.revision
        {
            return Ok(Some(prepared.clone()));
        }
        let Some(reference) = load_reference(&self.store, monitor, spec).await? else {
            return Ok(None);
        };
        let plugins = self.plugins.for_spec(spec).await?;
        let (revision, spec) = (monitor.revision, spec.clone());
        let prepared = tokio::task::spawn_blocking(move || {
            Prepared::new(revision, spec, &reference.window(task), &plugins)
        })
        .await?
        .map_err(|failure| anyhow::anyhow!("preparing the pipeline: {failure}"))?;
        let prepared = Arc::new(Mutex::new(prepared));
        self.prepared
            .lock()
            .expect("prepared lock")
            .insert(monitor.id, prepared.clone());
        Ok(Some(prepared))
    }

    /// Evaluates the monitor's next window if it has closed.
    async fn step(&self, monitor: &vigil_store::Monitor) -> anyhow::Result<Step> {
        // Re-read: the monitor may have changed since the poll.
        let Some(monitor) = self.store.monitor_by_id(monitor.id).await? else {
            return Ok(Step::Idle);
        };
        let spec: MonitorSpec = serde_json::from_str(&monitor.spec).context("stored spec")?;
        let (Some(state), Some(model)) = (
            self.store.monitor_state(monitor.id).await?,
            self.store.model_by_id(monitor.model_id).await?,
        ) else {
            return Ok(Step::Idle);
        };
        let now = now_ms();
        let next = state.next_offset;
        let end = match spec.window {
            WindowRule::Records(n) if model.record_count - next >= n as i64 => next + n as i64,
            WindowRule::Seconds(t)
                if model.record_count > next && now - state.last_closed_at >= t as i64 * 1000 =>
            {
                model.record_count
            }
            _ => return Ok(Step::Idle),
        };
        let closed = Instant::now();
        let mut carried: Carried = serde_json::from_str(&state.state).unwrap_or_default();
        let task = Task::parse(&model.task).unwrap_or(Task::Classification);
        let Some(prepared) = self.prepared(&monitor, &spec, task).await? else {
            tracing::debug!(monitor = %monitor.name, "no reference yet");
            return Ok(Step::Idle);
        };
        let records = self.store.read_records(model.id, next, end).await?;
        let labels = self.store.labels_of(model.id, next, &records.ids).await?;
        let history = History {
            model_version: model.serving_version.clone(),
            last_alert: carried.last_alert.map(|ms| (ms / 1000) as u64),
            last_retrain: carried.last_retrain.map(|ms| (ms / 1000) as u64),
            windows_since_retrain: carried.windows_since_retrain,
        };
        let permit = self.workers.clone().acquire_owned().await?;
        let started = now_ms();
        let (outcome, carried_after) = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let window = Window {
                start: next,
                records: &records,
                labels: &labels,
                task,
            };
            let mut pipeline = prepared.lock().expect("pipeline lock");
            let outcome = pipeline.evaluate(&window, &mut carried, &history, started);
            let extra = outcome.as_ref().ok().map(|_| {
                json!({
                    "monitor_revision": pipeline.revision,
                    "spec": pipeline.spec,
                    "reference": {"rows": pipeline.reference_rows, "sha256": pipeline.reference_digest},
                    "window": {
                        "start": next, "end": end, "rows": records.len(),
                        "first_timestamp": records.timestamps.iter().min(),
                        "last_timestamp": records.timestamps.iter().max(),
                        "labels": labels.len(),
                    },
                    "history": pipeline::history_json(&history),
                    "now": started,
                })
            });
            (outcome.map(|o| (o, extra.expect("set on success"))), carried)
        })
        .await?;
        let mut carried = carried_after;
        let (outcome, mut result) = match outcome {
            Ok(done) => done,
            Err(failure) => {
                // Preprocessing failed: keep the records, retry the window later with the
                // preprocessors fitted afresh (a trap leaves a session unusable).
                self.invalidate(monitor.id);
                self.metrics
                    .plugin_failures
                    .get_or_create(&FailureLabels {
                        plugin: failure.plugin.clone(),
                        kind: failure.kind.clone(),
                    })
                    .inc();
                self.store
                    .save_monitor_state(monitor.id, &serde_json::to_string(&carried)?)
                    .await?;
                tracing::warn!(monitor = %monitor.name, %failure, "preprocessing failed; the window will be retried");
                return Ok(Step::Idle);
            }
        };

        let alerts = self.decide_alerts(&spec, &outcome, &mut carried, now_ms());
        let action = outcome.action();
        let obj = result.as_object_mut().expect("an object");
        obj.insert("columns".into(), outcome.columns_json());
        obj.insert("detectors".into(), outcome.detectors_json());
        obj.insert("metrics".into(), outcome.metrics_json());
        obj.insert("drifted_columns".into(), json!(outcome.drifted_columns()));
        obj.insert(
            "failed_columns".into(),
            json!(
                outcome
                    .columns
                    .iter()
                    .filter(|c| c.failure.is_some())
                    .count()
            ),
        );
        obj.insert(
            "policy".into(),
            json!({
                "plugin": spec.policy.as_ref().map(|p| p.plugin.clone()),
                "failure": outcome.decision.as_ref().err().map(|f| json!({"kind": f.kind, "message": f.message})),
            }),
        );
        obj.insert(
            "alerts".into(),
            json!(
                alerts
                    .iter()
                    .map(|(cause, fire, _)| json!({"cause": cause, "fired": fire}))
                    .collect::<Vec<_>>()
            ),
        );
        let finished = now_ms();
        let status = outcome.status();
        let reason = outcome.reason();
        let fired: Vec<(String, String)> = alerts
            .into_iter()
            .filter(|(_, fire, _)| *fire)
            .map(|(cause, _, message)| (cause, message))
            .collect();
        let new_alerts: Vec<NewAlert> = fired
            .iter()
            .map(|(cause, message)| NewAlert { cause, message })
            .collect();
        let (evaluation_id, alert_ids) = self
            .store
            .record_evaluation(
                &NewEvaluation {
                    monitor_id: monitor.id,
                    window_start: next,
                    window_end: end,
                    started_at: started,
                    finished_at: finished,
                    status,
                    action: action_name(action),
                    reason: &reason,
                    result: &result.to_string(),
                },
                &MonitorState {
                    next_offset: end,
                    last_closed_at: finished,
                    state: serde_json::to_string(&carried)?,
                },
                &new_alerts,
            )
            .await?;
        self.observe(&monitor.name, &outcome, status, closed.elapsed());
        for ((cause, message), id) in fired.into_iter().zip(alert_ids) {
            self.metrics
                .alerts
                .get_or_create(&MonitorLabel {
                    monitor: monitor.name.clone(),
                })
                .inc();
            let event = AlertEvent {
                monitor: monitor.name.clone(),
                monitor_id: monitor.id,
                evaluation_id: Some(evaluation_id),
                cause,
                message,
            };
            self.alerter
                .deliver_recorded(&spec.alerts.channels, event, id)
                .await?;
        }
        Ok(Step::Evaluated)
    }

    /// Which alerts this window raises: (cause, fire now?, message). A cause that fired and
    /// has not cleared fires again only after the cooldown.
    fn decide_alerts(
        &self,
        spec: &MonitorSpec,
        outcome: &Outcome,
        carried: &mut Carried,
        now: i64,
    ) -> Vec<(String, bool, String)> {
        let mut alerts = Vec::new();
        let cooldown = spec.alerts.cooldown_seconds as i64 * 1000;
        let mut raise = |carried: &mut Carried, cause: String, message: String| {
            let fire = carried
                .open_alerts
                .get(&cause)
                .is_none_or(|&since| now - since >= cooldown);
            if fire {
                carried.open_alerts.insert(cause.clone(), now);
                carried.last_alert = Some(now);
            }
            alerts.push((cause, fire, message));
        };
        let action = outcome.action();
        if action == Action::None {
            // The drift cleared; quarantines clear when the plugin works again.
            carried
                .open_alerts
                .retain(|cause, _| cause.starts_with("quarantine:"));
        } else {
            // Alert and retrain both mean "the data drifted": one cause, so a retrain
            // downgraded to an alert during its cooldown does not alert twice.
            let cause = match action {
                Action::Alert | Action::Retrain => "drift",
                other => action_name(other),
            };
            raise(carried, cause.to_string(), outcome.reason());
        }
        carried
            .open_alerts
            .retain(|cause, _| match cause.strip_prefix("quarantine:") {
                Some(plugin) => carried.failures.contains_key(plugin),
                None => true,
            });
        for plugin in &outcome.newly_quarantined {
            let message = carried
                .failures
                .get(plugin)
                .and_then(|f| f.last_error.clone())
                .unwrap_or_default();
            raise(
                carried,
                format!("quarantine:{plugin}"),
                format!(
                    "plugin {plugin} failed {} windows in a row and is quarantined: {message}",
                    pipeline::QUARANTINE_AFTER
                ),
            );
        }
        if action == Action::Retrain {
            carried.last_retrain = Some(now);
            carried.windows_since_retrain = 0;
        } else {
            carried.windows_since_retrain = carried.windows_since_retrain.saturating_add(1);
        }
        alerts
    }

    fn observe(&self, monitor: &str, outcome: &Outcome, status: &str, took: Duration) {
        let m = &self.metrics;
        m.evaluations
            .get_or_create(&StatusLabels {
                monitor: monitor.to_string(),
                status: status.to_string(),
            })
            .inc();
        m.evaluation_seconds
            .get_or_create(&MonitorLabel {
                monitor: monitor.to_string(),
            })
            .observe(took.as_secs_f64());
        for column in &outcome.columns {
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
            m.plugin_call_seconds
                .get_or_create(&PluginLabel {
                    plugin: column.plugin.clone(),
                })
                .observe(column.duration_ms / 1e3);
            if let Some(failure) = &column.failure {
                m.plugin_failures
                    .get_or_create(&FailureLabels {
                        plugin: column.plugin.clone(),
                        kind: failure.kind.clone(),
                    })
                    .inc();
            }
        }
    }
}

/// The monitor's reference rows: a frozen range of ingested records, or the uploaded ones.
pub async fn load_reference(
    store: &Store,
    monitor: &vigil_store::Monitor,
    spec: &MonitorSpec,
) -> anyhow::Result<Option<Reference>> {
    Ok(match spec.reference {
        Some(range) => {
            let records = store
                .read_records(monitor.model_id, range.start, range.end)
                .await?;
            if records.len() as i64 != range.end - range.start {
                return Ok(None);
            }
            let labels = store
                .labels_of(monitor.model_id, range.start, &records.ids)
                .await?;
            Some(Reference {
                start: range.start,
                records,
                labels,
            })
        }
        None => store
            .monitor_reference(monitor.id)
            .await?
            .map(|records| Reference {
                start: 0,
                records,
                labels: Vec::new(),
            }),
    })
}

/// A monitor's reference rows, and their labels when the reference is a frozen range of the
/// stream (an uploaded reference has none).
pub struct Reference {
    /// Stream offset of the first row (0 for an uploaded reference).
    pub start: i64,
    pub records: RecordBatch,
    pub labels: Vec<(i64, vigil_store::LabelValue)>,
}

impl Reference {
    pub fn window(&self, task: Task) -> Window<'_> {
        Window {
            start: self.start,
            records: &self.records,
            labels: &self.labels,
            task,
        }
    }
}
