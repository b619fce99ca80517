//! Act: runs what a recorded evaluation set in motion. Each action was stored pending in the
//! evaluation's transaction (see `record.rs`) under a key derived from the decision; here it is
//! marked running, run, and marked succeeded or failed. What a crash or a stop leaves pending
//! or running is resumed by the replica that next takes the monitor's lease (this one at its
//! next start, or another at once), so an action is finished at least once and never recorded
//! twice (see docs/architecture.md, "Actions", and docs/orchestration.md, "Several replicas").
//! Actions are started with the lease's fence: a replica that lost the lease starts none.
//!
//! The kinds: `alert` delivers an alert through the monitor's channels; `retrain` starts a
//! retraining run, gates what it registers and rolls it out (`retrain.rs`); `promote` and
//! `rollback` roll a version out (`rollout.rs`). The policy's history (`last-retrain`) counts
//! only retrainings that succeeded. The actions that change a model run in the background
//! (they take minutes), one at a time per model.

mod converge;
mod retrain;
mod rollout;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vigil_store::{Action, Fence, Monitor, Store};

use super::leases::Leases;
use super::spec::{Channel, MonitorSpec};
use crate::alerts::{AlertEvent, Alerter};
use crate::metrics::{Metrics, MonitorLabel};
use crate::orchestration::Orchestration;

pub use converge::TARGET_DRIFTED;
pub use rollout::ROLLOUT_FAILED;

/// What [`Actor::busy`] holds for a model whose target is being checked (no action's id).
const CHECKING: i64 = -1;

/// The kind of the action that delivers an alert.
pub const ALERT: &str = "alert";
/// The kind of the action that retrains a model; its successes are the policy's history.
pub const RETRAIN: &str = "retrain";
/// The kind of the action that rolls a candidate out.
pub const PROMOTE: &str = "promote";
/// The kind of the action that rolls the previous serving version out again.
pub const ROLLBACK: &str = "rollback";

#[derive(Clone)]
pub struct Actor {
    store: Store,
    alerter: Alerter,
    metrics: Arc<Metrics>,
    orchestration: Arc<Orchestration>,
    leases: Arc<Leases>,
    /// Models with an action changing them, and that action's id (or [`CHECKING`]).
    busy: Arc<Mutex<HashMap<String, i64>>>,
    /// When each monitor's target was last checked.
    checked: Arc<Mutex<HashMap<i64, std::time::Instant>>>,
    /// Why each monitor's target could not be brought back, when it could not.
    drifted: Arc<Mutex<HashMap<i64, String>>>,
}

/// How an action ended.
pub(super) struct Finished {
    pub succeeded: bool,
    pub outcome: String,
}

impl Finished {
    fn succeeded(outcome: String) -> Finished {
        Finished {
            succeeded: true,
            outcome,
        }
    }

    fn failed(outcome: String) -> Finished {
        Finished {
            succeeded: false,
            outcome,
        }
    }
}

impl Actor {
    pub fn new(
        store: Store,
        metrics: Arc<Metrics>,
        orchestration: Arc<Orchestration>,
        leases: Arc<Leases>,
    ) -> Actor {
        Actor {
            store,
            alerter: Alerter::default(),
            metrics,
            orchestration,
            leases,
            busy: Arc::default(),
            checked: Arc::default(),
            drifted: Arc::default(),
        }
    }

    /// Runs an action recorded outside an evaluation (a promotion by hand, say).
    pub async fn run_recorded(&self, monitor: &Monitor, action: Action) -> anyhow::Result<()> {
        let spec: MonitorSpec = serde_json::from_str(&monitor.spec)?;
        self.run(monitor, &spec, action, false, None).await
    }

    /// Runs the actions an evaluation just recorded, as the holder of the monitor's lease.
    pub async fn act(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        evaluation_id: i64,
        fence: &Fence,
    ) -> anyhow::Result<()> {
        for action in self.store.pending_actions_of(evaluation_id).await? {
            self.run(monitor, spec, action, false, Some(fence)).await?;
        }
        Ok(())
    }

    /// Resumes the actions of a monitor that a crash, a stop or a replica that lost the lease
    /// left pending or running (oldest first), as the new holder of its lease; returns how
    /// many. One that cannot run does not hold back the others; a lost lease stops them all.
    pub async fn resume(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        fence: &Fence,
    ) -> anyhow::Result<usize> {
        let unfinished: Vec<Action> = self
            .store
            .unfinished_actions()
            .await?
            .into_iter()
            .filter(|action| action.monitor_id == monitor.id)
            .collect();
        for action in &unfinished {
            let resumed = self
                .run(monitor, spec, action.clone(), true, Some(fence))
                .await;
            match resumed {
                Err(error) if super::lease_lost(&error) => return Err(error),
                Err(error) => {
                    tracing::warn!(action = action.id, key = %action.key, error = %format!("{error:#}"), "cannot resume an action")
                }
                Ok(()) => {}
            }
        }
        Ok(unfinished.len())
    }

    /// Runs one action if it can be started (see [`Store::start_action_fenced`]): with a
    /// fence, only while its lease holds.
    async fn run(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        action: Action,
        resume: bool,
        fence: Option<&Fence>,
    ) -> anyhow::Result<()> {
        if !self
            .store
            .start_action_fenced(action.id, resume, fence)
            .await?
        {
            return Ok(());
        }
        match action.kind.as_str() {
            ALERT => self.deliver_alert(monitor, spec, &action, fence).await,
            RETRAIN | PROMOTE | ROLLBACK => {
                self.change_model(
                    monitor.clone(),
                    spec.clone(),
                    action,
                    resume,
                    fence.cloned(),
                );
                Ok(())
            }
            other => {
                let outcome = format!("not run: this version of Vigil cannot run `{other}`");
                self.store.finish_action(action.id, false, &outcome).await?;
                Ok(())
            }
        }
    }

    /// Runs an action that changes the model, in the background; one per model at a time, so
    /// another decided meanwhile finishes at once, saying which one holds the model. Across
    /// replicas the model's lease (`model/<name>`) is held meanwhile; a resumed action waits
    /// for it (a dead holder's lease runs out) as long as its monitor's lease holds.
    fn change_model(
        &self,
        monitor: Monitor,
        spec: MonitorSpec,
        action: Action,
        resume: bool,
        fence: Option<Fence>,
    ) {
        let actor = self.clone();
        tokio::spawn(async move {
            let holder = loop {
                {
                    let mut busy = actor.busy.lock().expect("busy lock");
                    match busy.get(&spec.model) {
                        // A check of the target takes a request or two: wait for it.
                        Some(&CHECKING) => {}
                        // Started here already (by the API's request, then resumed by the
                        // loop that took the monitor's lease): that run finishes it.
                        Some(&other) if other == action.id => {
                            tracing::debug!(action = action.id, "already running here");
                            return;
                        }
                        Some(&other) => break Some(other),
                        None => {
                            busy.insert(spec.model.clone(), action.id);
                            break None;
                        }
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            };
            let finished = match holder {
                Some(other) => Ok(Finished::failed(format!(
                    "skipped: action {other} is changing model `{}`",
                    spec.model
                ))),
                None => {
                    let finished = actor
                        .change_model_leased(&monitor, &spec, &action, resume, fence)
                        .await;
                    actor.busy.lock().expect("busy lock").remove(&spec.model);
                    match finished {
                        Ok(Some(finished)) => Ok(finished),
                        Ok(None) => {
                            // Left running: the new holder of the monitor's lease resumes it.
                            tracing::warn!(monitor = %monitor.name, action = action.id, "lost the lease while changing the model (or waiting for it): the action is left to the new holder");
                            return;
                        }
                        Err(error) => Err(error),
                    }
                }
            };
            let finished = finished.unwrap_or_else(|error| {
                Finished::failed(format!("{} failed: {error:#}", action.kind))
            });
            let level_info = finished.succeeded;
            if level_info {
                tracing::info!(monitor = %monitor.name, action = action.id, kind = %action.kind, outcome = %finished.outcome, "action finished");
            } else {
                tracing::warn!(monitor = %monitor.name, action = action.id, kind = %action.kind, outcome = %finished.outcome, "action failed");
            }
            if let Err(error) = actor
                .store
                .finish_action(action.id, finished.succeeded, &finished.outcome)
                .await
            {
                tracing::error!(%error, action = action.id, "cannot record how an action ended");
            }
        });
    }

    /// Runs a model-changing action under the model's lease; `None` when the monitor's lease
    /// was lost while waiting for the model's, or either lease may have been lost while it
    /// ran (it is stopped then, and left to the new holder).
    async fn change_model_leased(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        action: &Action,
        resume: bool,
        fence: Option<Fence>,
    ) -> anyhow::Result<Option<Finished>> {
        let monitor_id = monitor.id;
        let keep_waiting = || {
            fence
                .as_ref()
                .is_none_or(|fence| self.leases.still_holds(fence, monitor_id))
        };
        let Some(model_lease) = self
            .leases
            .hold_model(&spec.model, resume, keep_waiting)
            .await?
        else {
            if !keep_waiting() {
                return Ok(None);
            }
            return Ok(Some(Finished::failed(format!(
                "skipped: another replica is changing model `{}`",
                spec.model
            ))));
        };
        let work = async {
            match action.kind.as_str() {
                RETRAIN => self.retrain(monitor, spec, action).await,
                PROMOTE => self.promote(monitor, spec, action).await,
                _ => self.roll_back_model(monitor, spec, action).await,
            }
        };
        // A replica that was paused or cut off past its leases stops at once when it can run
        // again, whatever step it was at: the new holder resumes the action from the start,
        // and every step finds what was done before (runs and rollouts are named and applied
        // idempotently), so nothing is done twice or undone.
        let lost = async {
            let check_every = self.leases.renew_every() / 4;
            loop {
                tokio::time::sleep(check_every).await;
                if model_lease.may_be_lost(&self.leases) || !keep_waiting() {
                    return;
                }
            }
        };
        let finished = tokio::select! {
            biased;
            () = lost => None,
            finished = work => Some(finished),
        };
        model_lease.release(&self.leases).await;
        match finished {
            Some(finished) => finished.map(Some),
            None => Ok(None),
        }
    }

    /// Delivers the alert an `alert` action names; to webhooks in the background (they retry
    /// for seconds), so the monitor goes on meanwhile. The action finishes when every channel
    /// has answered.
    async fn deliver_alert(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        action: &Action,
        fence: Option<&Fence>,
    ) -> anyhow::Result<()> {
        let alert = match action.input["alert_id"].as_i64() {
            Some(id) => self.store.alert(id).await?,
            None => None,
        };
        let Some(alert) = alert else {
            let outcome = "not run: its alert is gone";
            self.store.finish_action(action.id, false, outcome).await?;
            return Ok(());
        };
        self.metrics
            .alerts
            .get_or_create(&MonitorLabel {
                monitor: monitor.name.clone(),
            })
            .inc();
        let event = AlertEvent {
            monitor: monitor.name.clone(),
            monitor_id: monitor.id,
            evaluation_id: alert.evaluation_id,
            cause: alert.cause,
            message: alert.message,
        };
        let channels = spec.alerts.channels.clone();
        let only_logs = channels.iter().all(|c| matches!(c, Channel::Log));
        let delivery = self
            .clone()
            .deliver(channels, event, alert.id, action.id, fence.cloned());
        if only_logs {
            delivery.await;
        } else {
            tokio::spawn(delivery);
        }
        Ok(())
    }

    async fn deliver(
        self,
        channels: Vec<Channel>,
        event: AlertEvent,
        alert_id: i64,
        action_id: i64,
        fence: Option<Fence>,
    ) {
        let monitor_id = event.monitor_id;
        let leases = self.leases.clone();
        let keep_going = move || {
            fence
                .as_ref()
                .is_none_or(|fence| leases.still_holds(fence, monitor_id))
        };
        let (delivered, report) = self
            .alerter
            .deliver_alert_while(&channels, &event, alert_id, &keep_going)
            .await;
        if !delivered && report.contains(crate::alerts::STOPPED) {
            // Left running: the replica that takes the lease resumes it.
            tracing::warn!(alert = alert_id, %report, "alert delivery left to the new holder of the monitor's lease");
            return;
        }
        let recorded = async {
            self.store.set_alert_delivery(alert_id, &report).await?;
            self.store
                .finish_action(action_id, delivered, &report)
                .await
        };
        if let Err(error) = recorded.await {
            tracing::error!(%error, alert = alert_id, "cannot record an alert's delivery");
        }
    }
}
