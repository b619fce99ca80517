//! What runs a retraining and what serves a model, per backend. The daemon builds these from a
//! monitor's `actions` section and the operator's configuration (see docs/orchestration.md):
//! commands for local processes come only from the operator's configuration, never from the
//! API, and Kubernetes images, namespaces and service accounts must be on the operator's
//! allowlists, so neither an API client nor a plugin chooses what runs.

use serde::{Deserialize, Serialize};

/// A program and its arguments, run without a shell. In a rollout's command, `{port}`,
/// `{artifact}` and `{version}` in an argument are replaced by the port to listen on, the
/// version's artifact URI and its name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalCommand {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// The directory it runs in; the daemon's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

/// A retraining run's `batch/v1` Job, as a monitor's configuration gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KubeJob {
    pub namespace: String,
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// A `ResourceRequirements` object (`{"limits": {"cpu": "1"}, "requests": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Pod failures before the Job fails; at most 6.
    #[serde(default = "default_backoff_limit")]
    pub backoff_limit: i32,
    /// Seconds the Job may run before it is failed.
    #[serde(default = "default_active_deadline")]
    pub active_deadline_seconds: i64,
    /// The user (and group) id the training container runs as. The pod always has the
    /// `restricted` Pod Security Standard's context (non-root, no privilege escalation, no
    /// capabilities, the runtime's seccomp profile); an image whose default user is root needs
    /// this set to run (docs/orchestration.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
}

fn default_backoff_limit() -> i32 {
    1
}

fn default_active_deadline() -> i64 {
    3600
}

/// What runs a retraining.
#[derive(Clone, Debug, PartialEq)]
pub enum JobTemplate {
    Local(LocalCommand),
    Kubernetes(KubeJob),
}

/// What serves a model, and so what a rollout changes.
#[derive(Clone, Debug, PartialEq)]
pub enum RolloutTarget {
    /// A child process per version; blue/green behind the predict proxy.
    Local {
        command: LocalCommand,
        /// Path answered with 200 once the process is ready, e.g. `/healthz`.
        health_path: String,
    },
    /// A Deployment updated by server-side apply: the container's image (when `image` is set,
    /// with `{version}` replaced) and the environment variable `model_uri_env` (when set) set to
    /// the artifact URI, plus the version label and annotation.
    Deployment {
        namespace: String,
        name: String,
        container: String,
        image: Option<String>,
        model_uri_env: Option<String>,
    },
    /// A KServe `InferenceService` whose `spec.predictor.model.storageUri` is set to the
    /// artifact URI; ready when its `Ready` condition is.
    KServe { namespace: String, name: String },
}
