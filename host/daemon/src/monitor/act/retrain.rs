//! The `retrain` action: a retraining run on the newest labeled records, then the promotion
//! gate, then a rollout of the version the run registered (see docs/orchestration.md,
//! "From a decision to a serving version").
//!
//! The run's name comes from the action's key, and the backends start nothing for a name that
//! exists, so a resumed action (after a crash, or on another replica) watches the run it
//! started before instead of starting a second one.

use std::time::Duration;

use anyhow::Context as _;
use vigil_orchestrator::{RunOutcome, TrainingRun, object_name};
use vigil_store::{Action, Model, ModelVersion, Monitor, VersionStatus};

use super::{Actor, Finished};
use crate::monitor::spec::{MonitorSpec, lower_is_better};
use crate::server::auth::create_run_token;

/// A run token outlives the run's timeout by this much, so a slow report still gets through.
const TOKEN_SLACK: Duration = Duration::from_secs(300);

/// The gate's verdict on a candidate.
pub(super) struct Verdict {
    pub passed: bool,
    pub reason: String,
}

impl Actor {
    pub(super) async fn retrain(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        action: &Action,
    ) -> anyhow::Result<Finished> {
        let actions = &spec.actions;
        let job = match self.orchestration.job(actions) {
            Ok(Some(job)) => job,
            Ok(None) => {
                return Ok(Finished::failed(format!(
                    "not run: monitor `{}` has no `actions.retrain`; the decision is recorded",
                    monitor.name
                )));
            }
            Err(refused) => return Ok(Finished::failed(format!("not run: {refused}"))),
        };
        let model = self.model(spec).await?;
        let end = action.input["window"]["end"]
            .as_i64()
            .unwrap_or(model.record_count);
        let start = end.saturating_sub(actions.training_records as i64).max(0);
        let name = object_name("vigil-train", &model.name, &action.key);
        if actions.dry_run {
            return Ok(Finished::succeeded(format!(
                "dry run: would start retraining run `{name}` of `{}` on the labeled records \
                 {start}..{end}, then gate and roll out what it registers",
                model.name
            )));
        }
        let backend = self.orchestration.backend().await?;

        let expires_at = vigil_store::now_ms()
            + (self.orchestration.training_timeout() + TOKEN_SLACK).as_millis() as i64;
        let token = create_run_token(&self.store, model.id, &name, expires_at).await?;
        let run = TrainingRun {
            name: name.clone(),
            model: model.name.clone(),
            env: vec![
                ("VIGIL_URL".into(), self.orchestration.public_url()),
                ("VIGIL_TOKEN".into(), token.text),
                ("VIGIL_MODEL".into(), model.name.clone()),
                ("VIGIL_RUN_ID".into(), name.clone()),
                ("VIGIL_WINDOW_START".into(), start.to_string()),
                ("VIGIL_WINDOW_END".into(), end.to_string()),
            ],
            job,
        };
        let ran = async {
            backend.start_training(&run).await?;
            tracing::info!(monitor = %monitor.name, run = %name, start, end, "retraining run started");
            match tokio::time::timeout(
                self.orchestration.training_timeout(),
                backend.watch_training(&run),
            )
            .await
            {
                Ok(outcome) => Ok(outcome?),
                Err(_) => Ok(RunOutcome::Failed {
                    reason: format!(
                        "not finished within training_timeout_secs ({} s)",
                        self.orchestration.training_timeout().as_secs()
                    ),
                }),
            }
        }
        .await;
        // The token's work is done either way (and so is that of any token an earlier
        // attempt of this run was given).
        self.store.revoke_run_tokens(model.id, &name).await?;
        let outcome: vigil_orchestrator::Result<RunOutcome> = ran;
        if let RunOutcome::Failed { reason } = outcome? {
            tracing::warn!(monitor = %monitor.name, run = %name, %reason, "retraining run failed");
            return Ok(Finished::failed(format!(
                "retraining run `{name}` failed: {reason}"
            )));
        }
        let Some(version) = self.store.version_of_run(model.id, &name).await? else {
            return Ok(Finished::failed(format!(
                "retraining run `{name}` finished without registering a version \
                 (POST /v1/models/{}/versions with its run_id)",
                model.name
            )));
        };
        tracing::info!(monitor = %monitor.name, run = %name, version = %version.version, "retraining run registered a version");
        let verdict = self.gate(monitor, spec, &model, &version).await?;
        if !verdict.passed {
            self.store
                .set_version_status(
                    model.id,
                    &version.version,
                    VersionStatus::Candidate,
                    &verdict.reason,
                )
                .await?;
            tracing::info!(monitor = %monitor.name, version = %version.version, reason = %verdict.reason, "the gate kept the version a candidate");
            return Ok(Finished::succeeded(format!(
                "run `{name}` trained `{}`; kept as a candidate: {}",
                version.version, verdict.reason
            )));
        }
        let rolled = self
            .deploy(monitor, spec, &model, &version, &verdict.reason)
            .await?;
        Ok(Finished::succeeded(format!(
            "run `{name}` trained `{}`; {}; {rolled}",
            version.version, verdict.reason
        )))
    }

    pub(super) async fn model(&self, spec: &MonitorSpec) -> anyhow::Result<Model> {
        self.store
            .model(&spec.model)
            .await?
            .with_context(|| format!("model `{}` is gone", spec.model))
    }

    /// Champion/challenger on the gate's metric: the candidate's value as its run reported it
    /// (on held-out recent records) against the serving version's on the newest window that
    /// measured it (its own predictions joined with the labels).
    pub(super) async fn gate(
        &self,
        monitor: &Monitor,
        spec: &MonitorSpec,
        model: &Model,
        candidate: &ModelVersion,
    ) -> anyhow::Result<Verdict> {
        let gate = &spec.actions.gate;
        let metric = gate.metric.as_str();
        let refuse = |reason: String| Verdict {
            passed: false,
            reason,
        };
        let Some(challenger) = candidate.metrics.get(metric).copied() else {
            return Ok(refuse(format!(
                "the gate needs `{metric}` and the run reported none"
            )));
        };
        let Some(serving) = &model.serving_version else {
            return Ok(Verdict {
                passed: true,
                reason: format!("gate passed: no version serves yet ({metric} {challenger:.4})"),
            });
        };
        let Some(champion) = self.newest_metric(monitor.id, metric).await? else {
            return Ok(refuse(format!(
                "no labeled window has measured the serving version `{serving}`'s {metric} yet"
            )));
        };
        let better = if lower_is_better(metric) {
            champion - challenger
        } else {
            challenger - champion
        };
        let figures = format!(
            "{metric} {challenger:.4} against {champion:.4} for the serving `{serving}`, margin {}",
            gate.margin
        );
        Ok(if better > gate.margin {
            Verdict {
                passed: true,
                reason: format!("gate passed: {figures}"),
            }
        } else {
            refuse(format!("gate refused: {figures}"))
        })
    }

    /// The metric's value on the monitor's newest window that has it.
    async fn newest_metric(&self, monitor_id: i64, metric: &str) -> anyhow::Result<Option<f64>> {
        let evaluations = self
            .store
            .evaluations(&vigil_store::EvaluationQuery {
                monitor_id,
                limit: 50,
                ..Default::default()
            })
            .await?;
        Ok(evaluations.iter().find_map(|evaluation| {
            evaluation.result["metrics"]
                .as_array()?
                .iter()
                .find(|m| m["name"] == metric)?["value"]
                .as_f64()
        }))
    }
}
