//! A monitor's `actions` section: what runs when its policy decides to retrain, what serves
//! the model (and so what a rollout changes), the promotion gate, and dry-run mode. Commands
//! for local processes are named here and defined by the operator (`commands` in the daemon's
//! configuration), and Kubernetes namespaces, images and service accounts must be on the
//! operator's allowlists: an API client chooses among what the operator allows, never what
//! runs (see docs/orchestration.md).

use serde::{Deserialize, Serialize};
use vigil_orchestrator::KubeJob;

use crate::config::Config;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionsSpec {
    /// Decisions and the actions they would take are recorded; nothing runs, nothing changes.
    #[serde(default)]
    pub dry_run: bool,
    /// A retraining run trains on at most this many of the newest records before the end of
    /// the window that decided it (those with labels).
    #[serde(default = "default_training_records")]
    pub training_records: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrain: Option<RetrainSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSpec>,
    #[serde(default)]
    pub gate: GateSpec,
}

impl Default for ActionsSpec {
    fn default() -> Self {
        ActionsSpec {
            dry_run: false,
            training_records: default_training_records(),
            retrain: None,
            rollout: None,
            gate: GateSpec::default(),
        }
    }
}

fn default_training_records() -> u64 {
    5_000
}

/// What runs a retraining.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum RetrainSpec {
    /// A local process: the operator's command of this name.
    Local { command: String },
    /// A `batch/v1` Job.
    Kubernetes(KubeJob),
}

/// What serves the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum RolloutSpec {
    /// A local process per version (the operator's command of this name), behind
    /// `POST /v1/models/{model}/predict`.
    Local {
        command: String,
        #[serde(default = "default_health_path")]
        health_path: String,
    },
    /// A Kubernetes Deployment, updated by server-side apply.
    Deployment {
        namespace: String,
        name: String,
        container: String,
        /// The image to run, `{version}` replaced by the version's name; unchanged when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image: Option<String>,
        /// The environment variable that gets the version's artifact URI.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model_uri_env: Option<String>,
    },
    /// A KServe `InferenceService`, its `storageUri` set to the version's artifact.
    Kserve { namespace: String, name: String },
}

fn default_health_path() -> String {
    "/healthz".into()
}

/// The promotion gate: a candidate goes out only if its `metric` beats the serving version's
/// on the most recent labeled window by `margin`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    #[serde(default = "default_gate_metric")]
    pub metric: String,
    #[serde(default)]
    pub margin: f64,
}

impl Default for GateSpec {
    fn default() -> Self {
        GateSpec {
            metric: default_gate_metric(),
            margin: 0.0,
        }
    }
}

fn default_gate_metric() -> String {
    "accuracy".into()
}

/// Metrics that improve as they fall; every other metric improves as it rises.
pub fn lower_is_better(metric: &str) -> bool {
    matches!(metric, "mae" | "mse" | "rmse" | "log_loss")
}

impl ActionsSpec {
    /// Whether the section was left out (so a spec without one reads back without one).
    pub fn is_unset(&self) -> bool {
        *self == ActionsSpec::default()
    }

    /// Checks what needs no configuration; errors name the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=super::MAX_WINDOW_RECORDS).contains(&self.training_records) {
            return Err(format!(
                "actions.training_records: must be between 1 and {}",
                super::MAX_WINDOW_RECORDS
            ));
        }
        if !(self.gate.margin.is_finite() && self.gate.margin >= 0.0) {
            return Err("actions.gate.margin: must be a finite number of at least 0".into());
        }
        crate::vocab::valid_name("actions.gate.metric", &self.gate.metric)?;
        if let Some(RetrainSpec::Kubernetes(job)) = &self.retrain
            && !(0..=6).contains(&job.backoff_limit)
        {
            return Err("actions.retrain.kubernetes.backoff_limit: must be between 0 and 6".into());
        }
        if let Some(RolloutSpec::Local { health_path, .. }) = &self.rollout
            && !health_path.starts_with('/')
        {
            return Err("actions.rollout.local.health_path: must start with `/`".into());
        }
        Ok(())
    }

    /// Checks the section against what the operator allows: named commands exist, and
    /// Kubernetes namespaces, images and service accounts are on the allowlists.
    pub fn allowed_by(&self, config: &Config) -> Result<(), String> {
        let command = |field: &str, name: &str| {
            if config.commands.contains_key(name) {
                Ok(())
            } else {
                Err(format!(
                    "{field}: no command `{name}` is defined in the daemon's configuration \
                     (`commands`; see docs/orchestration.md)"
                ))
            }
        };
        let namespace = |field: &str, ns: &str| allowed(field, ns, &config.kubernetes_namespaces);
        match &self.retrain {
            Some(RetrainSpec::Local { command: name }) => {
                command("actions.retrain.local.command", name)?
            }
            Some(RetrainSpec::Kubernetes(job)) => {
                namespace("actions.retrain.kubernetes.namespace", &job.namespace)?;
                if !image_allowed(&job.image, &config.kubernetes_images) {
                    return Err(format!(
                        "actions.retrain.kubernetes.image: `{}` is not on the daemon's \
                         `kubernetes_images` allowlist",
                        job.image
                    ));
                }
                if let Some(account) = &job.service_account {
                    allowed(
                        "actions.retrain.kubernetes.service_account",
                        account,
                        &config.kubernetes_service_accounts,
                    )?;
                }
            }
            None => {}
        }
        match &self.rollout {
            Some(RolloutSpec::Local { command: name, .. }) => {
                command("actions.rollout.local.command", name)?
            }
            Some(RolloutSpec::Deployment {
                namespace: ns,
                image,
                ..
            }) => {
                namespace("actions.rollout.deployment.namespace", ns)?;
                if let Some(image) = image
                    && !image_allowed(image, &config.kubernetes_images)
                {
                    return Err(format!(
                        "actions.rollout.deployment.image: `{image}` is not on the daemon's \
                         `kubernetes_images` allowlist"
                    ));
                }
            }
            Some(RolloutSpec::Kserve { namespace: ns, .. }) => {
                namespace("actions.rollout.kserve.namespace", ns)?
            }
            None => {}
        }
        Ok(())
    }
}

fn allowed(field: &str, value: &str, list: &[String]) -> Result<(), String> {
    if list.iter().any(|v| v == value) {
        Ok(())
    } else {
        Err(format!(
            "{field}: `{value}` is not on the daemon's allowlist ({})",
            if list.is_empty() {
                "which is empty".to_string()
            } else {
                list.join(", ")
            }
        ))
    }
}

/// Whether an image is under one of the allowlist's prefixes, matched only where a
/// reference's part ends: `registry.example.com/ml` allows `registry.example.com/ml/churn:1`
/// and `registry.example.com/ml:2`, not `registry.example.com/ml-other/x` nor, for the
/// prefix `registry.example.com`, `registry.example.com.elsewhere.io/x`.
fn image_allowed(image: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|prefix| {
        let Some(rest) = image.strip_prefix(prefix.as_str()) else {
            return false;
        };
        !prefix.is_empty()
            && (rest.is_empty()
                || prefix.ends_with(['/', ':', '@'])
                || rest.starts_with(['/', ':', '@']))
    })
}

#[cfg(test)]
mod image_tests {
    use super::image_allowed;

    #[test]
    fn image_prefixes_match_only_where_a_reference_part_ends() {
        let list = [
            "registry.example.com/ml/".to_string(),
            "registry.internal".to_string(),
        ];
        for image in [
            "registry.example.com/ml/churn-train:1.4",
            "registry.internal/any/thing:1",
        ] {
            assert!(image_allowed(image, &list), "{image}");
        }
        for image in [
            "registry.example.com/mlx/churn:1",
            "registry.internal.elsewhere.io/miner:1",
            "registry.internalx/miner:1",
            "docker.io/library/busybox",
        ] {
            assert!(!image_allowed(image, &list), "{image}");
        }
        assert!(!image_allowed("anything", &[String::new()]));
    }
}
