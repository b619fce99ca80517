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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use vigil_runtime::{Action, History, Plugin, Runtime};
use vigil_store::{MonitorState, NewAlert, NewEvaluation, RecordBatch, Store, now_ms};

use crate::alerts::{AlertEvent, Alerter};
use crate::metrics::{
    ColumnLabels, FailureLabels, Metrics, MonitorLabel, PluginLabel, StatusLabels,
};
use crate::vocab::Task;
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

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}

/// A monitor that cannot be evaluated for a reason of the host's (the database, no capacity
/// left for its plugins): retried with backoff, and shown in `/v1/status`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Stall {
    pub reason: String,
    /// Unix ms of the first failure in a row.
    pub since: i64,
    pub attempts: u32,
    #[serde(skip)]
    retry_at: Instant,
}

const STALL_BACKOFF_START: Duration = Duration::from_secs(1);
const STALL_BACKOFF_CAP: Duration = Duration::from_secs(300);

pub struct Monitoring {
    store: Store,
    pub plugins: Arc<PluginCache>,
    metrics: Arc<Metrics>,
    alerter: Alerter,
    wake: Notify,
    workers: Arc<Semaphore>,
    tick: Duration,
    prepared: Mutex<HashMap<i64, Arc<Mutex<Prepared>>>>,
    /// Bytes of log output each monitor's plugins may write per window.
    output_per_window: usize,
    stalls: Mutex<HashMap<i64, Stall>>,
    running: Mutex<HashSet<i64>>,
    /// Monitors whose window is being evaluated now.
    evaluating: Mutex<HashSet<i64>>,
    /// Set by [`Monitoring::stop`]: windows in flight are abandoned between plugin calls.
    cancel: Arc<AtomicBool>,
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
        output_per_window: usize,
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
            output_per_window,
            stalls: Mutex::new(HashMap::new()),
            running: Mutex::new(HashSet::new()),
            evaluating: Mutex::new(HashSet::new()),
            cancel: Arc::default(),
            tasks: tokio::sync::Mutex::new(JoinSet::new()),
            stopping: watch::channel(false).0,
        })
    }

    /// Looks for closed windows now (after ingestion, say) instead of at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Forgets what was prepared for a monitor (after it changed or was deleted), which gives
    /// its plugin instances back, and retries it at once if it was stalled.
    pub fn invalidate(&self, monitor_id: i64) {
        let stale = self
            .prepared
            .lock()
            .expect("prepared lock")
            .remove(&monitor_id);
        drop(stale);
        self.stalls.lock().expect("stalls lock").remove(&monitor_id);
    }

    /// Whether a window of the monitor is being evaluated now.
    pub fn evaluating(&self, monitor_id: i64) -> bool {
        self.evaluating
            .lock()
            .expect("evaluating lock")
            .contains(&monitor_id)
    }

    /// The monitors that cannot be evaluated now, by id.
    pub fn stalls(&self) -> HashMap<i64, Stall> {
        self.stalls.lock().expect("stalls lock").clone()
    }

    fn stalled(&self, monitor_id: i64) -> bool {
        self.stalls
            .lock()
            .expect("stalls lock")
            .get(&monitor_id)
            .is_some_and(|stall| stall.retry_at > Instant::now())
    }

    /// Records a failure of the host's for a monitor; it is retried after a backoff that
    /// doubles from 1 s to 5 min, so a lasting problem costs a log line per attempt, not per
    /// tick.
    fn stall(&self, monitor: &vigil_store::Monitor, error: &anyhow::Error) {
        let mut stalls = self.stalls.lock().expect("stalls lock");
        let stall = stalls.entry(monitor.id).or_insert_with(|| Stall {
            reason: String::new(),
            since: now_ms(),
            attempts: 0,
            retry_at: Instant::now(),
        });
        stall.attempts += 1;
        stall.reason = format!("{error:#}");
        let backoff = STALL_BACKOFF_START
            .saturating_mul(1 << (stall.attempts - 1).min(16))
            .min(STALL_BACKOFF_CAP);
        stall.retry_at = Instant::now() + backoff;
        tracing::warn!(
            monitor = %monitor.name,
            attempts = stall.attempts,
            retry_in = ?backoff,
            error = %stall.reason,
            "cannot evaluate the monitor"
        );
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

    /// Stops: no window is started any more, and the ones in flight are abandoned after the
    /// plugin call each is making (they are evaluated again at the next start).
    pub fn stop(&self) {
        self.cancel.store(true, Ordering::Relaxed);
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
            if self.stalled(monitor.id)
                || !self
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
                        Ok(step) => {
                            this.stalls.lock().expect("stalls lock").remove(&id);
                            if matches!(step, Step::Idle) {
                                break;
                            }
                        }
                        Err(error) => {
                            this.stall(&monitor, &error);
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
        // An older revision gives its plugin instances back before the new one reserves.
        self.prepared
            .lock()
            .expect("prepared lock")
            .remove(&monitor.id);
        let Some(reference) = load_reference(&self.store, monitor, spec).await? else {
            return Ok(None);
        };
        let plugins = self.plugins.for_spec(spec).await?;
        let budget = self.plugins.runtime().reserve(
            &format!("monitor `{}`", monitor.name),
            pipeline::instances_needed(spec),
            Some(self.output_per_window),
        )?;
        let (revision, spec) = (monitor.revision, spec.clone());
        let prepared = tokio::task::spawn_blocking(move || {
            Prepared::new(revision, spec, &reference.window(task), &plugins, budget)
        })
        .await?
        .map_err(|message| anyhow::anyhow!("preparing the pipeline: {message}"))?
        .cancellable(self.cancel.clone());
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
                if model.record_count > next
                    && now.saturating_sub(state.last_closed_at)
                        >= (t.min(spec::MAX_SECONDS) as i64) * 1000 =>
            {
                // A window is read whole: past the cap, the rest makes the next window.
                model
                    .record_count
                    .min(next + spec::MAX_WINDOW_RECORDS as i64)
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
        self.evaluating
            .lock()
            .expect("evaluating lock")
            .insert(monitor.id);
        let evaluated = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let window = Window {
                start: next,
                records: &records,
                labels: &labels,
                task,
            };
            let mut pipeline = prepared.lock().expect("pipeline lock");
            let outcome = pipeline.evaluate(&window, &mut carried, &history, started);
            let result = json!({
                "monitor_revision": pipeline.revision,
                "spec": pipeline.spec.redacted(),
                "reference": {"rows": pipeline.reference_rows, "sha256": pipeline.reference_digest},
                "window": {
                    "start": next, "end": end, "rows": records.len(),
                    "first_timestamp": records.timestamps.iter().min(),
                    "last_timestamp": records.timestamps.iter().max(),
                    "labels": labels.len(),
                },
                "history": pipeline::history_json(&history),
                "now": started,
            });
            outcome.map(|outcome| (outcome, result, carried))
        })
        .await;
        self.evaluating
            .lock()
            .expect("evaluating lock")
            .remove(&monitor.id);
        let Some((outcome, mut result, mut carried)) = evaluated? else {
            tracing::info!(monitor = %monitor.name, "stopping: the window in flight is left for the next start");
            return Ok(Step::Idle);
        };
        if let Some(failure) = &outcome.preprocessing {
            tracing::warn!(monitor = %monitor.name, %failure, "preprocessing failed; the window is stored as failed");
        }
        if outcome.output_dropped_bytes > 0 {
            tracing::warn!(
                monitor = %monitor.name,
                dropped_bytes = outcome.output_dropped_bytes,
                "the monitor's plugins wrote more log output than a window allows"
            );
        }

        let alerts = decide_alerts(&spec.alerts, &outcome, &mut carried, now_ms());
        let action = outcome.action();
        let obj = result.as_object_mut().expect("an object");
        obj.insert(
            "preprocessing".into(),
            outcome.preprocessing.as_ref().map_or(
                json!(null),
                |f| json!({"plugin": f.plugin, "kind": f.kind, "message": f.message}),
            ),
        );
        obj.insert(
            "plugin_output_dropped_bytes".into(),
            json!(outcome.output_dropped_bytes),
        );
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
        if let Some(failure) = &outcome.preprocessing {
            m.plugin_failures
                .get_or_create(&FailureLabels {
                    plugin: failure.plugin.clone(),
                    kind: failure.kind.clone(),
                })
                .inc();
        }
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

/// Which alerts a window raises: (cause, fire now?, message).
///
/// A cause fires when it is raised and has not fired within the cooldown, cleared or not in
/// between. It stays open until `clear_after_windows` windows in a row decide "no action"
/// (windows whose preprocessing or policy failed neither raise nor clear), and a quarantine
/// until its plugin works again.
pub fn decide_alerts(
    alerts: &spec::AlertSpec,
    outcome: &Outcome,
    carried: &mut Carried,
    now: i64,
) -> Vec<(String, bool, String)> {
    let mut raised = Vec::new();
    let cooldown = (alerts.cooldown_seconds.min(spec::MAX_SECONDS) as i64) * 1000;
    let mut raise = |carried: &mut Carried, cause: String, message: String| {
        let last_fired = carried
            .alerts_fired
            .get(&cause)
            .or(carried.open_alerts.get(&cause))
            .copied();
        let fire = last_fired.is_none_or(|at| now.saturating_sub(at) >= cooldown);
        let fired_at = if fire { now } else { last_fired.unwrap_or(now) };
        if fire {
            carried.alerts_fired.insert(cause.clone(), now);
            carried.last_alert = Some(now);
        }
        carried.open_alerts.insert(cause.clone(), fired_at);
        carried.clean_windows.remove(&cause);
        raised.push((cause, fire, message));
    };
    match &outcome.decision {
        _ if outcome.preprocessing.is_some() => {}
        Err(_) => {}
        Ok((Action::None, _)) => {
            let clear_after = alerts.clear_after_windows.max(1);
            let open: Vec<String> = carried
                .open_alerts
                .keys()
                .filter(|cause| !cause.starts_with("quarantine:"))
                .cloned()
                .collect();
            for cause in open {
                let clean = carried.clean_windows.entry(cause.clone()).or_insert(0);
                *clean += 1;
                if *clean >= clear_after {
                    carried.clean_windows.remove(&cause);
                    carried.open_alerts.remove(&cause);
                }
            }
        }
        Ok((action, _)) => {
            // Alert and retrain both mean "the data drifted": one cause, so a retrain
            // downgraded to an alert during its cooldown does not alert twice.
            let cause = match action {
                Action::Alert | Action::Retrain => "drift",
                other => action_name(*other),
            };
            raise(carried, cause.to_string(), outcome.reason());
        }
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
    if outcome.action() == Action::Retrain {
        carried.last_retrain = Some(now);
        carried.windows_since_retrain = 0;
    } else {
        carried.windows_since_retrain = carried.windows_since_retrain.saturating_add(1);
    }
    raised
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

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline::PluginFailure;

    fn outcome(decision: Result<Action, ()>) -> Outcome {
        Outcome {
            preprocessing: None,
            columns: Vec::new(),
            detectors: Vec::new(),
            metrics: Vec::new(),
            decision: decision
                .map(|action| (action, "reason".to_string()))
                .map_err(|()| PluginFailure {
                    plugin: "p@1".into(),
                    kind: "trap".into(),
                    message: "boom".into(),
                }),
            newly_quarantined: Vec::new(),
            output_dropped_bytes: 0,
        }
    }

    fn fired(alerts: &spec::AlertSpec, carried: &mut Carried, action: Action, now: i64) -> bool {
        decide_alerts(alerts, &outcome(Ok(action)), carried, now)
            .iter()
            .any(|(_, fire, _)| *fire)
    }

    /// The flapping the hardening issue saw: false positives every other window on stable
    /// data. With the cooldown holding across clears, one alert fires, not one per flap.
    #[test]
    fn alerts_do_not_flap_on_alternating_windows() {
        let alerts = spec::AlertSpec::default();
        let mut carried = Carried::default();
        let mut fires = 0;
        for second in 0..30 {
            let action = if second % 2 == 0 {
                Action::Alert
            } else {
                Action::None
            };
            fires += fired(&alerts, &mut carried, action, second * 1000) as u32;
        }
        assert_eq!(fires, 1);
        assert!(carried.open_alerts.contains_key("drift"));
    }

    /// An alert clears after `clear_after_windows` clean windows in a row; raised again within
    /// the cooldown it is open again without firing, and after the cooldown it fires.
    #[test]
    fn alerts_clear_after_a_clean_streak_and_the_cooldown_outlives_the_clear() {
        let alerts = spec::AlertSpec {
            cooldown_seconds: 60,
            clear_after_windows: 3,
            ..spec::AlertSpec::default()
        };
        let mut carried = Carried::default();
        assert!(fired(&alerts, &mut carried, Action::Alert, 0));
        for window in 1..3 {
            assert!(!fired(&alerts, &mut carried, Action::None, window * 1000));
            assert!(carried.open_alerts.contains_key("drift"), "{window}");
        }
        // A failed window neither raises nor clears.
        decide_alerts(&alerts, &outcome(Err(())), &mut carried, 3_000);
        assert!(carried.open_alerts.contains_key("drift"));
        assert!(!fired(&alerts, &mut carried, Action::None, 4_000));
        assert!(!carried.open_alerts.contains_key("drift"), "cleared");
        // Within the cooldown: open again, silently.
        assert!(!fired(&alerts, &mut carried, Action::Retrain, 10_000));
        assert!(carried.open_alerts.contains_key("drift"));
        // A raise resets the clean streak.
        assert!(!fired(&alerts, &mut carried, Action::None, 11_000));
        assert!(!fired(&alerts, &mut carried, Action::Alert, 12_000));
        assert_eq!(carried.clean_windows.get("drift"), None);
        // After the cooldown it fires again.
        assert!(fired(&alerts, &mut carried, Action::Alert, 60_000));
    }

    /// State stored before `alerts_fired` existed: the open alert's time is its last firing.
    #[test]
    fn cooldowns_carry_over_from_state_stored_by_older_versions() {
        let alerts = spec::AlertSpec::default();
        let mut carried: Carried =
            serde_json::from_str(r#"{"open_alerts": {"drift": 1000}}"#).unwrap();
        assert!(!fired(&alerts, &mut carried, Action::Alert, 2_000));
        assert!(fired(
            &alerts,
            &mut carried,
            Action::Alert,
            1000 + 3_600_000
        ));
    }
}
