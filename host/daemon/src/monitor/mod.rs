//! The monitoring loop, in stages (see docs/architecture.md):
//! - *schedule* (`schedule.rs`): what is read of each monitor once per tick, and which of its
//!   windows is due;
//! - *evaluate* (`evaluate.rs`, blocking, off the async threads): the window through the
//!   monitor's pipeline (`pipeline/`) into a typed record (`evaluation.rs`), with the alerts
//!   it raises (`alerting.rs`);
//! - *record* (`record.rs`): one transaction stores the evaluation, the monitor's new position
//!   and the state it carries (`carried.rs`), and the alerts it fired;
//! - *act* (`act.rs`): runs the actions the evaluation recorded (an alert's delivery, a
//!   retraining), each a stored row with a state, resumed after a crash.
//!
//! Each monitor runs in a task of its own, so a slow or failing monitor never delays another;
//! at most `evaluation_workers` evaluations compute at once. A monitor the host cannot
//! evaluate (its database, its capacity) is retried with backoff and shown in the status.

pub mod act;
pub mod alerting;
pub mod carried;
pub mod evaluate;
pub mod evaluation;
pub mod pipeline;
pub mod prepare;
pub mod record;
pub mod replay;
pub mod schedule;
pub mod spec;
pub mod status;
pub mod stored_plugins;
pub mod window;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use vigil_runtime::History;
use vigil_store::{Store, now_ms};

use crate::metrics::Metrics;
use crate::vocab::Task;
use carried::Carried;
use prepare::Pipelines;
use schedule::Snapshot;
use stored_plugins::StoredPlugins;
use window::Window;

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
    pub plugins: Arc<StoredPlugins>,
    metrics: Arc<Metrics>,
    actor: act::Actor,
    wake: Notify,
    workers: Arc<Semaphore>,
    tick: Duration,
    pipelines: Pipelines,
    stalls: Mutex<HashMap<i64, Stall>>,
    /// Monitors with a task running.
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
    /// No window is ready (or it must wait: no reference yet, the monitor changed).
    Idle,
}

impl Monitoring {
    // The daemon's settings, one by one: a single caller (`AppState::new`) passes them.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        plugins: Arc<StoredPlugins>,
        metrics: Arc<Metrics>,
        workers: usize,
        tick: Duration,
        output_per_window: usize,
        instances_per_monitor: u32,
        orchestration: Arc<crate::orchestration::Orchestration>,
    ) -> Arc<Monitoring> {
        let cancel = Arc::new(AtomicBool::new(false));
        Arc::new(Monitoring {
            actor: act::Actor::new(store.clone(), metrics.clone(), orchestration),
            store,
            plugins,
            metrics,
            wake: Notify::new(),
            workers: Arc::new(Semaphore::new(workers)),
            tick,
            pipelines: Pipelines::new(output_per_window, instances_per_monitor, cancel.clone()),
            stalls: Mutex::default(),
            running: Mutex::default(),
            evaluating: Mutex::default(),
            cancel,
            tasks: tokio::sync::Mutex::new(JoinSet::new()),
            stopping: watch::channel(false).0,
        })
    }

    /// What runs the actions evaluations (and people) decide.
    pub fn actor(&self) -> &act::Actor {
        &self.actor
    }

    /// Looks for closed windows now (after ingestion, say) instead of at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Forgets what was prepared for a monitor (after it changed or was deleted), which gives
    /// its plugin instances back, and retries it at once if it was stalled.
    pub fn invalidate(&self, monitor_id: i64) {
        self.pipelines.forget(monitor_id);
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
        if let Err(error) = self.actor.bring_up_serving().await {
            tracing::warn!(error = %format!("{error:#}"), "cannot bring up the serving versions");
        }
        match self.actor.resume().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(actions = n, "resumed the actions left unfinished"),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "cannot resume unfinished actions")
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

    /// Schedules this tick: every monitor with no task running and not stalled gets one,
    /// which evaluates its due windows one after another.
    async fn poll(self: &Arc<Self>) -> anyhow::Result<()> {
        let snapshots = schedule::snapshots(&self.store).await?;
        let mut tasks = self.tasks.lock().await;
        while tasks.try_join_next().is_some() {}
        for mut snapshot in snapshots {
            let id = snapshot.monitor.id;
            if self.stalled(id) || !self.running.lock().expect("running lock").insert(id) {
                continue;
            }
            let this = self.clone();
            tasks.spawn(async move {
                while !this.is_stopping() {
                    match this.step(&mut snapshot).await {
                        Ok(step) => {
                            this.stalls.lock().expect("stalls lock").remove(&id);
                            if matches!(step, Step::Idle) {
                                break;
                            }
                        }
                        Err(error) => {
                            this.stall(&snapshot.monitor, &error);
                            break;
                        }
                    }
                }
                this.running.lock().expect("running lock").remove(&id);
            });
        }
        Ok(())
    }

    /// Evaluates, records and acts on the monitor's next window if it has closed.
    async fn step(&self, snapshot: &mut Snapshot) -> anyhow::Result<Step> {
        // Changed since this tick's read (an update through the API): the next tick has it.
        match self.store.monitor_by_id(snapshot.monitor.id).await? {
            Some(current) if current.revision == snapshot.monitor.revision => {}
            _ => return Ok(Step::Idle),
        }
        let Snapshot {
            monitor,
            spec,
            model,
            state,
        } = &*snapshot;
        let Some((start, end)) =
            schedule::next_window(spec.window, model.record_count, state, now_ms())
        else {
            return Ok(Step::Idle);
        };
        let closed = Instant::now();
        let task = Task::parse(&model.task).unwrap_or(Task::Classification);
        let Some(prepared) = self
            .pipelines
            .get(&self.store, &self.plugins, monitor, spec, task)
            .await?
        else {
            tracing::debug!(monitor = %monitor.name, "no reference yet");
            return Ok(Step::Idle);
        };
        let records = self.store.read_records(model.id, start, end).await?;
        let labels = self.store.labels_of(model.id, start, &records.ids).await?;
        let mut carried: Carried = serde_json::from_str(&state.state).unwrap_or_default();
        // The policy's history counts retrainings that ran, never a decision alone.
        let last_retrain = self.store.last_success(monitor.id, act::RETRAIN).await?;
        if last_retrain > carried.last_retrain {
            carried.last_retrain = last_retrain;
            carried.windows_since_retrain = 0;
        }
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
                start,
                records: &records,
                labels: &labels,
                task,
            };
            let mut pipeline = prepared.lock().expect("pipeline lock");
            evaluate::evaluate(&mut pipeline, &window, carried, &history, started)
        })
        .await;
        self.evaluating
            .lock()
            .expect("evaluating lock")
            .remove(&monitor.id);
        let Some(evaluated) = evaluated? else {
            tracing::info!(monitor = %monitor.name, "stopping: the window in flight is left for the next start");
            return Ok(Step::Idle);
        };
        let record = &evaluated.record;
        if let Some(failure) = &record.preprocessing {
            tracing::warn!(monitor = %monitor.name, %failure, "preprocessing failed; the window is stored as failed");
        }
        if record.plugin_output_dropped_bytes > 0 {
            tracing::warn!(
                monitor = %monitor.name,
                dropped_bytes = record.plugin_output_dropped_bytes,
                "the monitor's plugins wrote more log output than their allowance"
            );
        }
        let recorded = record::record(&self.store, monitor, evaluated).await?;
        record::observe(
            &self.metrics,
            &monitor.name,
            &recorded.record,
            closed.elapsed(),
        );
        let (monitor, spec) = (monitor.clone(), spec.clone());
        snapshot.state = recorded.state.clone();
        // Most windows decide nothing: no query for actions they did not store.
        if recorded.has_actions {
            self.actor
                .act(&monitor, &spec, recorded.evaluation_id)
                .await?;
        }
        Ok(Step::Evaluated)
    }
}
