//! Act: runs what a recorded evaluation set in motion. Each action was stored pending in the
//! evaluation's transaction (see `record.rs`) under a key derived from the decision; here it is
//! marked running, run, and marked succeeded or failed. What a crash or a stop leaves pending
//! or running is resumed at the next start, so an action is finished at least once and never
//! recorded twice (see docs/architecture.md, "Actions").
//!
//! The kinds: `alert` delivers an alert through the monitor's channels. `retrain`, `rollback`
//! and `promote` fail with a clear outcome while no job is configured to run them; the
//! policy's history (`last-retrain`) counts only retrainings that succeeded.

use std::sync::Arc;

use vigil_store::{Action, Monitor, Store};

use super::spec::{Channel, MonitorSpec};
use crate::alerts::{AlertEvent, Alerter};
use crate::metrics::{Metrics, MonitorLabel};

/// The kind of the action that delivers an alert.
pub const ALERT: &str = "alert";
/// The kind of the action that retrains a model; its successes are the policy's history.
pub const RETRAIN: &str = "retrain";

#[derive(Clone)]
pub struct Actor {
    store: Store,
    alerter: Alerter,
    metrics: Arc<Metrics>,
}

impl Actor {
    pub fn new(store: Store, metrics: Arc<Metrics>) -> Actor {
        Actor {
            store,
            alerter: Alerter::default(),
            metrics,
        }
    }

    /// Runs the actions an evaluation just recorded.
    pub async fn act(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        evaluation_id: i64,
    ) -> anyhow::Result<()> {
        for action in self.store.pending_actions_of(evaluation_id).await? {
            self.run(monitor, spec, action, false).await?;
        }
        Ok(())
    }

    /// Resumes the actions a crash or a stop left pending or running (oldest first); returns
    /// how many. One that cannot run does not hold back the others.
    ///
    /// With several replicas sharing a database, each resumes at start-up the actions
    /// unfinished then, so one that another replica is still running may run twice.
    pub async fn resume(&self) -> anyhow::Result<usize> {
        let unfinished = self.store.unfinished_actions().await?;
        let monitors = self.store.monitors().await?;
        for action in &unfinished {
            let Some(monitor) = monitors.iter().find(|m| m.id == action.monitor_id) else {
                continue; // deleted since, and its actions with it
            };
            let run = async {
                let spec: MonitorSpec = serde_json::from_str(&monitor.spec)?;
                self.run(monitor, &spec, action.clone(), true).await
            };
            if let Err(error) = run.await {
                tracing::warn!(action = action.id, key = %action.key, error = %format!("{error:#}"), "cannot resume an action");
            }
        }
        Ok(unfinished.len())
    }

    /// Runs one action if it can be started (see [`Store::start_action`]).
    async fn run(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        action: Action,
        resume: bool,
    ) -> anyhow::Result<()> {
        if !self.store.start_action(action.id, resume).await? {
            return Ok(());
        }
        match action.kind.as_str() {
            ALERT => self.deliver_alert(monitor, spec, &action).await,
            kind @ (RETRAIN | "rollback" | "promote") => {
                let outcome = format!(
                    "not run: no job is configured to {kind} the model of monitor `{}`; the \
                     decision is recorded",
                    monitor.name
                );
                tracing::info!(monitor = %monitor.name, action = action.id, "{outcome}");
                self.store.finish_action(action.id, false, &outcome).await?;
                Ok(())
            }
            other => {
                let outcome = format!("not run: this version of Vigil cannot run `{other}`");
                self.store.finish_action(action.id, false, &outcome).await?;
                Ok(())
            }
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
        let delivery = self.clone().deliver(channels, event, alert.id, action.id);
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
    ) {
        let (delivered, report) = self
            .alerter
            .deliver_alert(&channels, &event, alert_id)
            .await;
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
