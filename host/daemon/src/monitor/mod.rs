//! The monitoring loop, in stages (see docs/architecture.md):
//! - *schedule* (`schedule.rs`): what is read of each monitor once per tick, and which of its
//!   windows is due;
//! - *evaluate* (`evaluate.rs`, blocking, off the async threads): the window through the
//!   monitor's pipeline (`pipeline/`) into a typed record (`evaluation.rs`), with the alerts
//!   it raises (`alerting.rs`);
//! - *record* (`record.rs`): one transaction stores the evaluation, the monitor's new position
//!   and the state it carries (`carried.rs`), and the alerts it fired;
//! - *act* (`act/`): runs the actions the evaluation recorded (an alert's delivery, a
//!   retraining), each a stored row with a state, resumed after a crash.
//!
//! A replica evaluates only the monitors whose lease it holds (`leases.rs`), and records and
//! starts actions fenced by it, so several daemons on one database divide the monitors
//! between them and never both act for one (see docs/orchestration.md, "Several replicas").
//!
//! Each monitor runs in a task of its own, so a slow or failing monitor never delays another;
//! at most `evaluation_workers` evaluations compute at once. A monitor the host cannot
//! evaluate (its database, its capacity) is retried with backoff and shown in the status.

pub mod act;
pub mod alerting;
pub mod carried;
pub mod distributions;
pub mod evaluate;
pub mod evaluation;
pub mod history;
pub mod leases;
pub mod pipeline;
pub mod prepare;
pub mod record;
pub mod replay;
pub mod schedule;
pub mod shadow;
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
use vigil_store::{Fence, Store, now_ms};

use crate::metrics::Metrics;
use crate::vocab::Task;
use carried::Carried;
use leases::{Hold, Leases};
use prepare::Pipelines;
use schedule::Snapshot;
use stored_plugins::StoredPlugins;
use window::Window;

/// A monitor that cannot be evaluated for a reason of the host's (the database, no capacity
/// left for its plugins): retried with backoff, and shown in `/v1/status`.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
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
    leases: Arc<Leases>,
    wake: Notify,
    workers: Arc<Semaphore>,
    tick: Duration,
    pipelines: Pipelines,
    /// The running shadows' pipelines and the tasks that evaluate them (`shadow/`).
    shadows: Arc<shadow::Shadows>,
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
    /// The loop, with its settings from `config` (`evaluation_workers`, `tick_ms`, the
    /// plugins' budgets per monitor, `lease_ttl_ms`).
    pub fn new(
        store: Store,
        plugins: Arc<StoredPlugins>,
        metrics: Arc<Metrics>,
        config: &crate::config::Config,
        orchestration: Arc<crate::orchestration::Orchestration>,
    ) -> Arc<Monitoring> {
        let lease_ttl = Duration::from_millis(config.lease_ttl_ms);
        let output_per_window = config.plugin_log_bytes_per_window;
        let instances_per_monitor = config.plugin_instances_per_monitor;
        let (workers, tick) = (
            config.evaluation_workers,
            Duration::from_millis(config.tick_ms),
        );
        let cancel = Arc::new(AtomicBool::new(false));
        // A SQLite file serves one daemon (see docs/orchestration.md, "Several replicas"):
        // under one name on every start, it takes its leases back at once after a crash
        // instead of waiting out the crashed run's.
        let holder = match store.backend() {
            vigil_store::Backend::Sqlite => leases::sqlite_holder_id(),
            vigil_store::Backend::Postgres => leases::new_holder_id(),
        };
        let leases = Arc::new(Leases::new(store.clone(), holder, lease_ttl));
        let workers = Arc::new(Semaphore::new(workers));
        tracing::info!(holder = %leases.holder(), ?lease_ttl, "this replica's name as lease holder");
        let shadows = Arc::new(
            shadow::Shadows::new(
                store.clone(),
                plugins.clone(),
                Pipelines::new(
                    output_per_window,
                    instances_per_monitor,
                    cancel.clone(),
                    metrics.clone(),
                ),
            )
            .expect("the shadows' threads start"),
        );
        Arc::new(Monitoring {
            actor: act::Actor::new(
                store.clone(),
                metrics.clone(),
                orchestration,
                leases.clone(),
            ),
            leases,
            store,
            plugins,
            pipelines: Pipelines::new(
                output_per_window,
                instances_per_monitor,
                cancel.clone(),
                metrics.clone(),
            ),
            shadows,
            metrics,
            wake: Notify::new(),
            workers,
            tick,
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

    /// This replica's leases on monitors.
    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    /// Looks for closed windows now (after ingestion, say) instead of at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Forgets what was prepared for a monitor (after it changed or was deleted), which gives
    /// its plugin instances back, and retries it at once if it was stalled.
    pub fn invalidate(&self, monitor_id: i64) {
        self.forget(monitor_id);
        self.stalls.lock().expect("stalls lock").remove(&monitor_id);
    }

    /// Forgets the pipelines of a monitor's shadows (after one ended), which gives their
    /// plugin instances back.
    pub fn invalidate_shadows(&self, monitor_id: i64) {
        self.shadows.forget_monitor(monitor_id);
    }

    /// Forgets what was prepared for a monitor and its shadows.
    fn forget(&self, monitor_id: i64) {
        self.pipelines.forget(monitor_id);
        self.shadows.forget_monitor(monitor_id);
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
        let renewal = tokio::spawn(self.clone().renew_leases());
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
        let _ = renewal.await;
        // Another replica takes the monitors at once instead of after the leases' time.
        self.leases.release_all().await;
    }

    /// Renews this replica's leases every third of their time to live until the stop; a
    /// monitor whose lease is lost is dropped (its prepared pipeline with it).
    async fn renew_leases(self: Arc<Self>) {
        let mut stopping = self.stopping.subscribe();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.leases.renew_every()) => {}
                _ = stopping.changed() => return,
            }
            for monitor_id in self.leases.renew().await {
                self.forget(monitor_id);
            }
        }
    }

    /// Stops working on a monitor whose lease a fenced write found lost.
    fn lost(&self, monitor: &vigil_store::Monitor) {
        tracing::warn!(monitor = %monitor.name, holder = %self.leases.holder(), "lost the monitor's lease: another replica acts for it");
        self.leases.forget(monitor.id);
        self.forget(monitor.id);
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

    /// Schedules this tick: every monitor with no task running and not stalled whose lease
    /// this replica holds or takes now gets one, which evaluates its due windows one after
    /// another (having first resumed what the last holder left unfinished, when the lease
    /// changed hands).
    async fn poll(self: &Arc<Self>) -> anyhow::Result<()> {
        let snapshots = schedule::snapshots(&self.store).await?;
        let present: HashSet<i64> = snapshots.iter().map(|s| s.monitor.id).collect();
        self.leases.release_gone(&present).await;
        let mut tasks = self.tasks.lock().await;
        while tasks.try_join_next().is_some() {}
        for mut snapshot in snapshots {
            let id = snapshot.monitor.id;
            if self.stalled(id) || self.running.lock().expect("running lock").contains(&id) {
                continue;
            }
            let (fence, taken) = match self.leases.hold(id).await {
                Ok(Hold::Kept(fence)) => (fence, false),
                Ok(Hold::Taken(fence)) => (fence, true),
                Ok(Hold::Elsewhere) => continue,
                Err(error) => {
                    self.stall(&snapshot.monitor, &error);
                    continue;
                }
            };
            self.running.lock().expect("running lock").insert(id);
            let this = self.clone();
            tasks.spawn(async move {
                if taken {
                    this.take_over(&snapshot, &fence).await;
                }
                while !this.is_stopping() {
                    let Some(fence) = this.leases.held(id, Duration::ZERO) else {
                        break;
                    };
                    match this.step(&mut snapshot, &fence).await {
                        Ok(step) => {
                            this.stalls.lock().expect("stalls lock").remove(&id);
                            if matches!(step, Step::Idle) {
                                break;
                            }
                        }
                        Err(error) if lease_lost(&error) => {
                            this.lost(&snapshot.monitor);
                            break;
                        }
                        Err(error) => {
                            this.stall(&snapshot.monitor, &error);
                            break;
                        }
                    }
                }
                if !this.is_stopping() && this.leases.held(id, Duration::ZERO).is_some() {
                    this.actor
                        .check_target_if_due(&snapshot.monitor, &snapshot.spec)
                        .await;
                }
                this.running.lock().expect("running lock").remove(&id);
            });
        }
        Ok(())
    }

    /// As the new holder of a monitor's lease, resumes the actions the last holder (or this
    /// replica before a restart) left unfinished.
    async fn take_over(&self, snapshot: &Snapshot, fence: &Fence) {
        // What was prepared before the lease changed hands may carry another's past.
        self.forget(snapshot.monitor.id);
        match self
            .actor
            .resume(&snapshot.monitor, &snapshot.spec, fence)
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(monitor = %snapshot.monitor.name, actions = n, "resumed the actions left unfinished")
            }
            Err(error) if lease_lost(&error) => self.lost(&snapshot.monitor),
            Err(error) => {
                tracing::warn!(monitor = %snapshot.monitor.name, error = %format!("{error:#}"), "cannot resume unfinished actions")
            }
        }
    }

    /// Evaluates, records and acts on the monitor's next window if it has closed, as the
    /// holder of its lease at `fence`.
    async fn step(&self, snapshot: &mut Snapshot, fence: &Fence) -> anyhow::Result<Step> {
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
        let recent =
            history::recent_windows(&self.store, monitor.id, None, history::RECENT_WINDOWS).await?;
        let history = history::history(model.serving_version.clone(), &carried, recent);
        let last_retrain = carried.last_retrain;
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
            let evaluated = evaluate::evaluate(&mut pipeline, &window, carried, &history, started);
            // The monitor's shadows evaluate the same window after it.
            (evaluated, records, labels, history)
        })
        .await;
        self.evaluating
            .lock()
            .expect("evaluating lock")
            .remove(&monitor.id);
        let (evaluated, records, labels, history) = evaluated?;
        let Some(evaluated) = evaluated else {
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
        let recorded = record::record(&self.store, monitor, evaluated, fence).await?;
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
                .act(&monitor, &spec, recorded.evaluation_id, fence)
                .await?;
        }
        let window = shadow::Evaluated {
            start,
            records,
            labels,
            task,
            history,
            last_retrain,
            evaluation_id: recorded.evaluation_id,
            pinned: recorded.record,
        };
        if let Err(error) = self.shadows.submit(&monitor, &spec, window).await {
            tracing::warn!(monitor = %monitor.name, error = %format!("{error:#}"), "cannot queue the window for the monitor's shadows");
        }
        Ok(Step::Evaluated)
    }
}

/// Whether an error is a fenced write refused because this replica's lease was lost.
pub(crate) fn lease_lost(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<vigil_store::Error>(),
        Some(vigil_store::Error::LeaseLost { .. })
    )
}
