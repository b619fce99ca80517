//! Rollouts: a version the gate passed goes out through the monitor's rollout target, becomes
//! `serving` in the registry once the target reports it complete, and is rolled back (the
//! previous version applied again, this one marked `failed`, an alert raised) when it does not
//! complete. Also the `promote` and `rollback` actions a policy (or a person, through the API)
//! decides, and bringing the serving version up when the daemon starts.

use vigil_orchestrator::{Rollout, RolloutOutcome};
use vigil_store::{Action, Model, ModelVersion, Monitor, VersionStatus};

use super::{Actor, Finished};
use crate::alerts::AlertEvent;
use crate::monitor::spec::MonitorSpec;

/// The alert cause of a rollout that failed.
pub const ROLLOUT_FAILED: &str = "rollout-failed";

impl Actor {
    /// Rolls `version` out and records what happened; returns a sentence saying it.
    pub(super) async fn deploy(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        model: &Model,
        version: &ModelVersion,
        why: &str,
    ) -> anyhow::Result<String> {
        let target = match self.orchestration.target(&spec.actions) {
            Ok(Some(target)) => target,
            Ok(None) => {
                self.store
                    .set_version_status(
                        model.id,
                        &version.version,
                        VersionStatus::Candidate,
                        &format!("{why}; not rolled out: the monitor has no `actions.rollout`"),
                    )
                    .await?;
                return Ok("not rolled out: the monitor has no `actions.rollout`".into());
            }
            Err(refused) => return Ok(format!("not rolled out: {refused}")),
        };
        if spec.actions.dry_run {
            return Ok(format!("dry run: would roll `{}` out", version.version));
        }
        let backend = self.orchestration.backend().await?;
        let new = Rollout {
            model: model.name.clone(),
            version: version.version.clone(),
            artifact_uri: version.artifact_uri.clone(),
            target: target.clone(),
        };
        tracing::info!(monitor = %monitor.name, version = %version.version, "rolling out");
        // One deadline for the whole rollout: starting it may itself wait for the new version
        // (the local backend returns once it is healthy or refused), and an abandoned start
        // stops what it started.
        let timeout = self.orchestration.rollout_timeout();
        let deadline = tokio::time::Instant::now() + timeout;
        let outcome = match tokio::time::timeout_at(deadline, backend.roll_out(&new)).await {
            Ok(Ok(())) => {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                backend.watch_rollout(&new, left).await?
            }
            Ok(Err(vigil_orchestrator::Error::Unavailable(e))) => return Err(anyhow::anyhow!(e)),
            Ok(Err(refused)) => RolloutOutcome::Failed {
                reason: refused.to_string(),
            },
            Err(_) => RolloutOutcome::Failed {
                reason: format!(
                    "version {} of model {} was not serving and healthy within \
                     rollout_timeout_secs ({} s)",
                    version.version,
                    model.name,
                    timeout.as_secs()
                ),
            },
        };
        match outcome {
            RolloutOutcome::Complete => {
                let promoted = self
                    .store
                    .promote_version(model.id, &version.version, why)
                    .await?;
                tracing::info!(monitor = %monitor.name, version = %version.version, "rolled out; serving");
                Ok(match promoted.previous {
                    Some(previous) => format!(
                        "rolled out: `{}` serves, `{previous}` retired",
                        version.version
                    ),
                    None => format!("rolled out: `{}` serves", version.version),
                })
            }
            RolloutOutcome::Failed { reason } => {
                let previous = match &model.serving_version {
                    Some(serving) if *serving != version.version => {
                        self.store.model_version(model.id, serving).await?
                    }
                    _ => None,
                };
                let back = match &previous {
                    Some(previous) => {
                        let old = Rollout {
                            model: model.name.clone(),
                            version: previous.version.clone(),
                            artifact_uri: previous.artifact_uri.clone(),
                            target,
                        };
                        match backend.roll_back(&new, &old).await {
                            Ok(()) => format!("rolled back to `{}`", previous.version),
                            Err(error) => {
                                format!(
                                    "rolling back to `{}` failed too: {error}",
                                    previous.version
                                )
                            }
                        }
                    }
                    None => "no earlier version to roll back to".to_string(),
                };
                let message = format!(
                    "rollout of `{}` for model `{}` failed: {reason}; {back}",
                    version.version, model.name
                );
                self.store
                    .set_version_status(model.id, &version.version, VersionStatus::Failed, &message)
                    .await?;
                tracing::warn!(monitor = %monitor.name, "{message}");
                self.raise(monitor, spec, ROLLOUT_FAILED, &message).await?;
                Ok(message)
            }
        }
    }

    /// A `promote` action: the version it names (by hand), else the newest candidate, through
    /// the gate (unless a person forced it) and out.
    pub(super) async fn promote(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        action: &Action,
    ) -> anyhow::Result<Finished> {
        let model = self.model(spec).await?;
        let named = action.input["version"].as_str();
        let versions = self.store.model_versions(model.id).await?;
        let candidate = match named {
            Some(name) => versions.iter().find(|v| v.version == name),
            None => versions
                .iter()
                .rev()
                .find(|v| v.status == VersionStatus::Candidate),
        };
        let Some(candidate) = candidate.cloned() else {
            return Ok(Finished::failed(match named {
                Some(name) => format!("no version `{name}` of `{}`", model.name),
                None => format!("`{}` has no candidate version to promote", model.name),
            }));
        };
        let why = if action.input["force"] == true {
            format!(
                "promoted by hand{}",
                reason_suffix(action.input["reason"].as_str())
            )
        } else {
            let verdict = self.gate(monitor, spec, &model, &candidate).await?;
            if !verdict.passed {
                // A candidate keeps the verdict as its reason; a retired or failed version
                // asked for again keeps its status (it must not become a candidate that a
                // policy's `promote` would pick), and the action says why.
                if candidate.status == VersionStatus::Candidate {
                    self.store
                        .set_version_status(
                            model.id,
                            &candidate.version,
                            VersionStatus::Candidate,
                            &verdict.reason,
                        )
                        .await?;
                }
                return Ok(Finished::failed(format!(
                    "`{}` not promoted: {}",
                    candidate.version, verdict.reason
                )));
            }
            verdict.reason
        };
        self.deploy_and_check(monitor, spec, &model, &candidate, &why)
            .await
    }

    /// A `rollback` action: the version that served before the current one goes out again.
    pub(super) async fn roll_back_model(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        action: &Action,
    ) -> anyhow::Result<Finished> {
        let model = self.model(spec).await?;
        let Some(previous) = self.store.previous_serving(model.id).await? else {
            return Ok(Finished::failed(format!(
                "`{}` has no earlier serving version to roll back to",
                model.name
            )));
        };
        let why = format!(
            "rolled back from `{}`{}",
            model.serving_version.as_deref().unwrap_or("none"),
            reason_suffix(action.input["reason"].as_str())
        );
        self.deploy_and_check(monitor, spec, &model, &previous, &why)
            .await
    }

    /// Rolls `version` out; the action succeeded if it serves afterwards (or in a dry run).
    async fn deploy_and_check(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        model: &Model,
        version: &ModelVersion,
        why: &str,
    ) -> anyhow::Result<Finished> {
        let rolled = self.deploy(monitor, spec, model, version, why).await?;
        let serving = self
            .store
            .model_version(model.id, &version.version)
            .await?
            .is_some_and(|v| v.status == VersionStatus::Serving);
        Ok(Finished {
            succeeded: serving || spec.actions.dry_run,
            outcome: rolled,
        })
    }

    /// Brings up the serving version of every monitored model whose target the daemon runs
    /// itself (the local backend's processes die with the daemon); idempotent elsewhere.
    pub async fn bring_up_serving(&self) -> anyhow::Result<()> {
        let mut done = std::collections::HashSet::new();
        for monitor in self.store.monitors().await? {
            let spec: MonitorSpec = serde_json::from_str(&monitor.spec)?;
            if spec.actions.dry_run || !done.insert(spec.model.clone()) {
                continue;
            }
            let Some((model, rollout)) = self.serving_rollout(&spec).await? else {
                continue;
            };
            let backend = self.orchestration.backend().await?;
            if let Err(error) = backend.roll_out(&rollout).await {
                tracing::warn!(model = %model.name, version = %rollout.version, %error, "cannot bring up the serving version");
            }
        }
        Ok(())
    }

    /// Records an alert the actions raise (not an evaluation's) and delivers it.
    pub(super) async fn raise(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        cause: &str,
        message: &str,
    ) -> anyhow::Result<()> {
        let id = self
            .store
            .insert_alert(
                monitor.id,
                None,
                cause,
                message,
                vigil_store::PENDING_DELIVERY,
            )
            .await?;
        let event = AlertEvent {
            monitor: monitor.name.clone(),
            monitor_id: monitor.id,
            evaluation_id: None,
            cause: cause.to_string(),
            message: message.to_string(),
        };
        let (_, report) = self
            .alerter
            .deliver_alert(&spec.alerts.channels, &event, id)
            .await;
        self.store.set_alert_delivery(id, &report).await?;
        Ok(())
    }
}

fn reason_suffix(reason: Option<&str>) -> String {
    match reason {
        Some(reason) if !reason.is_empty() => format!(": {reason}"),
        _ => String::new(),
    }
}
