//! Vigil's actions on models, behind one trait ([`Orchestrator`]) with two backends: Kubernetes
//! (`kubernetes`: a `batch/v1` Job per retraining run, server-side apply of the model's
//! Deployment or KServe `InferenceService`) and local processes (`local`: a child process per
//! run and per served version, blue/green behind Vigil's predict proxy). This is the only crate
//! that names kube and k8s-openapi.
//!
//! Every operation is idempotent and keyed by a deterministic name ([`object_name`], derived
//! from the action's key), so a retry, a restarted daemon or a second replica never starts a
//! second run for one decision (see docs/orchestration.md).

mod kubernetes;
#[cfg(unix)]
mod local;
mod names;
mod template;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use kubernetes::{FIELD_MANAGER, Kubernetes, RetryPolicy};
#[cfg(unix)]
pub use local::{Local, LocalSettings};
pub use names::object_name;
pub use template::{JobTemplate, KubeJob, LocalCommand, RolloutTarget};

/// A boxed future, so that [`Orchestrator`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The template or target cannot be run by this backend, or is invalid. Not retried.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Another writer owns a field we would set (a server-side apply conflict). Not retried in
    /// a loop: surfaced so a person can settle it.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The cluster or the process could not be reached, after retries with capped backoff, or
    /// the cluster refused Vigil access (401/403: its service account lacks a verb). Worth
    /// retrying later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// The retraining protocol's variables that are secrets: never logged, never written where a
/// reader of the run's description (a Job, a process listing) can see them.
pub const SECRET_ENV: &[&str] = &["VIGIL_TOKEN"];

/// A retraining run to start. Its `Debug` output shows the secret variables as `<redacted>`.
#[derive(Clone)]
pub struct TrainingRun {
    /// The run's name, from [`object_name`] over the action's key: starting a run whose name
    /// exists already starts nothing.
    pub name: String,
    /// The model it retrains.
    pub model: String,
    /// The retraining protocol's variables (`VIGIL_URL`, `VIGIL_TOKEN`, `VIGIL_MODEL`,
    /// `VIGIL_RUN_ID`, `VIGIL_WINDOW_START`, `VIGIL_WINDOW_END`; see docs/retraining.md). The
    /// token is a secret: backends never log it and never put it where readers of the run's
    /// description can see it.
    pub env: Vec<(String, String)>,
    pub job: JobTemplate,
}

impl std::fmt::Debug for TrainingRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(name, value)| {
                let shown = if SECRET_ENV.contains(&name.as_str()) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("TrainingRun")
            .field("name", &self.name)
            .field("model", &self.model)
            .field("env", &env)
            .field("job", &self.job)
            .finish()
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    Succeeded,
    Failed { reason: String },
}

/// A model version to roll out to a target.
#[derive(Clone, Debug)]
pub struct Rollout {
    pub model: String,
    /// The version's name, written as a label and annotation on what serves it.
    pub version: String,
    /// Where its artifact is (a file path, `s3://…`, …), handed to what serves it.
    pub artifact_uri: String,
    pub target: RolloutTarget,
}

/// How a rollout ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutOutcome {
    /// Every replica serves the new version and is ready.
    Complete,
    /// The rollout did not complete (progress deadline exceeded, pods not ready, the new
    /// process never healthy); the caller rolls back.
    Failed { reason: String },
}

/// Where requests for a model go, held while one is in flight: a local backend drains a version
/// only once no request holds it.
pub struct Upstream {
    /// Base URL of the serving version, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The version serving there.
    pub version: String,
    /// Dropped when the request finishes.
    pub guard: Box<dyn Send + Sync>,
}

/// The actions on models. Each operation is idempotent: calling it again with the same input
/// after a crash, a retry or on another replica changes nothing more.
pub trait Orchestrator: Send + Sync {
    /// Starts the run unless a run of its name exists.
    fn start_training<'a>(&'a self, run: &'a TrainingRun) -> BoxFuture<'a, Result<()>>;

    /// Waits for the run (started before, possibly by an earlier daemon) to finish.
    fn watch_training<'a>(&'a self, run: &'a TrainingRun) -> BoxFuture<'a, Result<RunOutcome>>;

    /// Makes the target serve the rollout's version; nothing is written when it does already.
    fn roll_out<'a>(&'a self, rollout: &'a Rollout) -> BoxFuture<'a, Result<()>>;

    /// Waits until the rollout completes or fails, at most `deadline`.
    fn watch_rollout<'a>(
        &'a self,
        rollout: &'a Rollout,
        deadline: Duration,
    ) -> BoxFuture<'a, Result<RolloutOutcome>>;

    /// Puts `previous` back after `failed` did not complete.
    fn roll_back<'a>(
        &'a self,
        failed: &'a Rollout,
        previous: &'a Rollout,
    ) -> BoxFuture<'a, Result<()>>;

    /// Where the model's requests go now, if this backend serves it (the local backend does;
    /// on Kubernetes, traffic reaches the model through its own Service).
    fn upstream(&self, model: &str) -> Option<Upstream>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_training_runs_debug_hides_its_environments_values() {
        let run = TrainingRun {
            name: "vigil-train-churn-0123456789".into(),
            model: "churn".into(),
            env: vec![("VIGIL_TOKEN".into(), "secret-value".into())],
            job: JobTemplate::Local(LocalCommand {
                program: "train".into(),
                args: vec![],
                working_dir: None,
            }),
        };
        let shown = format!("{run:?}");
        assert!(shown.contains("VIGIL_TOKEN"), "{shown}");
        assert!(!shown.contains("secret-value"), "{shown}");
    }
}
