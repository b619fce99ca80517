//! The Kubernetes backend: a `batch/v1` Job per retraining run, server-side apply of the model's
//! Deployment or KServe `InferenceService` for rollouts, every wait a watch. What it creates,
//! the fields it owns and the RBAC it needs are in docs/orchestration.md ("Kubernetes backend").

mod api;
mod deployment;
mod job;
mod kserve;
mod meta;
mod retry;
mod watch;

use std::time::Duration;

use kube::{Client, Config};

use crate::{
    BoxFuture, Error, JobTemplate, Orchestrator, Result, Rollout, RolloutOutcome, RolloutTarget,
    RunOutcome, TrainingRun, Upstream,
};
pub use meta::FIELD_MANAGER;
pub use retry::RetryPolicy;

/// The Kubernetes backend of [`Orchestrator`].
///
/// Every write is idempotent: a Job is created once per run name, and a rollout reads the
/// target first and applies (server-side, field manager [`FIELD_MANAGER`], never forced) only
/// when a field Vigil owns differs. Transient API errors are retried with capped exponential
/// backoff ([`RetryPolicy`]).
#[derive(Clone)]
pub struct Kubernetes {
    client: Client,
    retry: RetryPolicy,
}

impl Kubernetes {
    /// A backend over `client`. Build the client with [`Config::default_retry`] off (as
    /// [`Kubernetes::from_config`] does) so that this backend's [`RetryPolicy`] is the only one
    /// retrying.
    pub fn new(client: Client) -> Self {
        Kubernetes {
            client,
            retry: RetryPolicy::default(),
        }
    }

    /// A backend for the cluster that `config` names.
    pub fn from_config(mut config: Config) -> Result<Self> {
        config.default_retry = false;
        let client = Client::try_from(config)
            .map_err(|err| Error::Invalid(format!("cannot build a Kubernetes client: {err}")))?;
        Ok(Self::new(client))
    }

    /// A backend for the cluster of the environment: `KUBECONFIG` or `~/.kube/config` when
    /// present, else the in-cluster service account.
    pub async fn try_default() -> Result<Self> {
        let config = Config::infer().await.map_err(|err| {
            Error::Invalid(format!(
                "no Kubernetes configuration (KUBECONFIG, ~/.kube/config or in-cluster): {err}"
            ))
        })?;
        Self::from_config(config)
    }

    /// Replaces the backoff for transient API errors (the default: 1 s doubling to 60 s, 8
    /// retries).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

impl Orchestrator for Kubernetes {
    fn start_training<'a>(&'a self, run: &'a TrainingRun) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let JobTemplate::Kubernetes(template) = &run.job else {
                return Err(Error::Invalid(format!(
                    "run {}: the Kubernetes backend runs only Kubernetes Job templates",
                    run.name
                )));
            };
            job::start(self, run, template).await
        })
    }

    fn watch_training<'a>(&'a self, run: &'a TrainingRun) -> BoxFuture<'a, Result<RunOutcome>> {
        Box::pin(async move {
            let JobTemplate::Kubernetes(template) = &run.job else {
                return Err(Error::Invalid(format!(
                    "run {}: the Kubernetes backend runs only Kubernetes Job templates",
                    run.name
                )));
            };
            job::watch(self, &template.namespace, &run.name).await
        })
    }

    fn roll_out<'a>(&'a self, rollout: &'a Rollout) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match &rollout.target {
                RolloutTarget::Deployment { .. } => deployment::roll_out(self, rollout).await,
                RolloutTarget::KServe { .. } => kserve::roll_out(self, rollout).await,
                RolloutTarget::Local { .. } => Err(local_target(rollout)),
            }
        })
    }

    fn watch_rollout<'a>(
        &'a self,
        rollout: &'a Rollout,
        deadline: Duration,
    ) -> BoxFuture<'a, Result<RolloutOutcome>> {
        Box::pin(async move {
            match &rollout.target {
                RolloutTarget::Deployment { .. } => {
                    deployment::watch(self, rollout, deadline).await
                }
                RolloutTarget::KServe { .. } => kserve::watch(self, rollout, deadline).await,
                RolloutTarget::Local { .. } => Err(local_target(rollout)),
            }
        })
    }

    fn roll_back<'a>(
        &'a self,
        failed: &'a Rollout,
        previous: &'a Rollout,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if failed.target != previous.target {
                return Err(Error::Invalid(format!(
                    "model {}: cannot roll back version {} to {}: they have different targets",
                    failed.model, failed.version, previous.version
                )));
            }
            tracing::warn!(
                model = %failed.model,
                failed = %failed.version,
                previous = %previous.version,
                "rolling back"
            );
            // The previous version's owned fields, applied as in any rollout: the Deployment
            // controller scales the previous ReplicaSet (still up, as maxUnavailable is 0) back.
            self.roll_out(previous).await
        })
    }

    fn upstream(&self, _model: &str) -> Option<Upstream> {
        // Traffic reaches models on Kubernetes through their own Services.
        None
    }
}

fn local_target(rollout: &Rollout) -> Error {
    Error::Invalid(format!(
        "model {}: the Kubernetes backend cannot roll out to a local process target",
        rollout.model
    ))
}
