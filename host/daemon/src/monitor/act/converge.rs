//! Between rollouts: the holder of a monitor's lease checks, every `target_check_secs`, that
//! the serving version's Kubernetes target still has the fields Vigil set for it, and applies
//! them again when it does not (see docs/orchestration.md, "Between rollouts"). A target in
//! step costs one read and no write. A target that cannot be brought back (deleted, or a field
//! another field manager took) raises a `target-drifted` alert, once per distinct cause.

use std::time::Instant;

use vigil_orchestrator::{Rollout, RolloutTarget};
use vigil_store::{Model, Monitor};

use super::{Actor, CHECKING};
use crate::monitor::spec::MonitorSpec;

/// The alert cause of a target that no longer serves the serving version.
pub const TARGET_DRIFTED: &str = "target-drifted";

impl Actor {
    /// Checks the monitor's target when its interval has passed since the last check.
    pub async fn check_target_if_due(&self, monitor: &Monitor, spec: &MonitorSpec) {
        let Some(every) = self.orchestration.target_check_interval() else {
            return;
        };
        {
            let mut checked = self.checked.lock().expect("checked lock");
            if checked
                .get(&monitor.id)
                .is_some_and(|at| at.elapsed() < every)
            {
                return;
            }
            checked.insert(monitor.id, Instant::now());
        }
        if let Err(error) = self.check_target(monitor, spec).await {
            tracing::warn!(monitor = %monitor.name, error = %format!("{error:#}"), "cannot check the serving version's target");
        }
    }

    async fn check_target(&self, monitor: &Monitor, spec: &MonitorSpec) -> anyhow::Result<()> {
        if spec.actions.dry_run {
            return Ok(());
        }
        let Some((model, rollout)) = self.serving_rollout(spec).await? else {
            return Ok(());
        };
        // The local backend restarts its servers itself.
        if matches!(rollout.target, RolloutTarget::Local { .. }) {
            return Ok(());
        }
        // Never beside a change of the model: in this replica (marked busy meanwhile, so a
        // change decided now waits for the check), or in another (its model lease).
        {
            let mut busy = self.busy.lock().expect("busy lock");
            if busy.contains_key(&model.name) {
                return Ok(());
            }
            busy.insert(model.name.clone(), CHECKING);
        }
        let checked = async {
            let Some(lease) = self.leases.hold_model(&model.name, false, || false).await? else {
                return anyhow::Ok(());
            };
            let backend = self.orchestration.backend().await;
            let applied = match backend {
                Ok(backend) => backend
                    .roll_out(&rollout)
                    .await
                    .map_err(anyhow::Error::from),
                Err(error) => Err(error),
            };
            lease.release(&self.leases).await;
            self.report_target(monitor, spec, &model, &rollout, applied)
                .await
        }
        .await;
        self.busy.lock().expect("busy lock").remove(&model.name);
        checked
    }

    /// Alerts once when the target stopped serving the version in a way Vigil cannot undo
    /// (and again when the cause changes); notes when it is back in step.
    async fn report_target(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        model: &Model,
        rollout: &Rollout,
        applied: anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let cause = applied.err().map(|error| format!("{error:#}"));
        let last = {
            let mut drifted = self.drifted.lock().expect("drifted lock");
            match &cause {
                Some(cause) => drifted.insert(monitor.id, cause.clone()),
                None => drifted.remove(&monitor.id),
            }
        };
        match (cause, last) {
            (Some(cause), last) if last.as_ref() != Some(&cause) => {
                let message = format!(
                    "the target of model `{}` does not serve its serving version `{}` and \
                     cannot be brought back: {cause}",
                    model.name, rollout.version
                );
                tracing::warn!(monitor = %monitor.name, "{message}");
                self.raise(monitor, spec, TARGET_DRIFTED, &message).await?;
            }
            (None, Some(_)) => {
                tracing::info!(monitor = %monitor.name, version = %rollout.version, "the target serves the serving version again");
            }
            _ => {}
        }
        Ok(())
    }

    /// The model of `spec` and the rollout of its serving version to the monitor's target,
    /// when it has both.
    pub(super) async fn serving_rollout(
        &self,
        spec: &MonitorSpec,
    ) -> anyhow::Result<Option<(Model, Rollout)>> {
        let Ok(Some(target)) = self.orchestration.target(&spec.actions) else {
            return Ok(None);
        };
        let Some(model) = self.store.model(&spec.model).await? else {
            return Ok(None);
        };
        let Some(serving) = &model.serving_version else {
            return Ok(None);
        };
        let Some(version) = self.store.model_version(model.id, serving).await? else {
            return Ok(None);
        };
        let rollout = Rollout {
            model: model.name.clone(),
            version: version.version.clone(),
            artifact_uri: version.artifact_uri.clone(),
            target,
        };
        Ok(Some((model, rollout)))
    }
}
