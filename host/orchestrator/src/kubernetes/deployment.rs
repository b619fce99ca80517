//! Rollouts to a Deployment: server-side apply of the fields Vigil owns (never forced), a
//! rolling update with `maxUnavailable: 0` so that no replica of the serving version goes before
//! a replica of the new one is ready, watched to completion.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use super::meta::{self, FIELD_MANAGER};
use super::watch::{self, Step};
use super::{Kubernetes, api};
use crate::{Error, Result, Rollout, RolloutOutcome, RolloutTarget};

/// A rollout to a Deployment, with its templates filled in.
#[derive(Debug, PartialEq)]
pub struct Desired<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub container: &'a str,
    /// The version's name: exact in the annotation, as a label value allows in the label.
    pub version: &'a str,
    pub version_label: String,
    pub artifact_uri: &'a str,
    /// The container's image, `{version}` replaced.
    pub image: Option<String>,
    /// The environment variable that gets the artifact URI.
    pub model_uri_env: Option<&'a str>,
}

impl<'a> Desired<'a> {
    /// The Deployment fields `rollout` sets, or `None` when its target is not a Deployment.
    pub fn of(rollout: &'a Rollout) -> Option<Self> {
        let RolloutTarget::Deployment {
            namespace,
            name,
            container,
            image,
            model_uri_env,
        } = &rollout.target
        else {
            return None;
        };
        Some(Desired {
            namespace,
            name,
            container,
            version: &rollout.version,
            version_label: meta::label_value(&rollout.version),
            artifact_uri: &rollout.artifact_uri,
            image: image
                .as_ref()
                .map(|image| image.replace("{version}", &rollout.version)),
            model_uri_env: model_uri_env.as_deref(),
        })
    }

    /// The server-side apply patch: exactly the fields Vigil owns on a Deployment (listed in
    /// docs/orchestration.md), nothing else, so that applying it never takes another field.
    pub fn apply_patch(&self) -> Value {
        let mut container = json!({"name": self.container});
        if let Some(image) = &self.image {
            container["image"] = json!(image);
        }
        if let Some(env) = self.model_uri_env {
            container["env"] = json!([{"name": env, "value": self.artifact_uri}]);
        }
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
                },
                "template": {
                    "metadata": {
                        "labels": {meta::VERSION: self.version_label},
                        "annotations": {
                            meta::VERSION: self.version,
                            meta::ARTIFACT: self.artifact_uri,
                        },
                    },
                    "spec": {"containers": [container]},
                },
            },
        })
    }

    /// Whether `deployment` has every owned field at its desired value already (then the
    /// rollout writes nothing). An error when the named container is missing.
    pub fn is_applied(&self, deployment: &Deployment) -> Result<bool> {
        let Some(spec) = &deployment.spec else {
            return Ok(false);
        };
        let pod_meta = spec.template.metadata.as_ref();
        let label = pod_meta
            .and_then(|m| m.labels.as_ref())
            .and_then(|labels| labels.get(meta::VERSION));
        let annotations = pod_meta.and_then(|m| m.annotations.as_ref());
        let annotation = |key: &str| annotations.and_then(|a| a.get(key)).map(String::as_str);
        let container = spec
            .template
            .spec
            .as_ref()
            .and_then(|pod| pod.containers.iter().find(|c| c.name == self.container))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "Deployment {}/{} has no container named {:?}",
                    self.namespace, self.name, self.container
                ))
            })?;
        let image_ok = match &self.image {
            Some(image) => container.image.as_deref() == Some(image.as_str()),
            None => true,
        };
        let env_ok = match self.model_uri_env {
            Some(env) => container.env.iter().flatten().any(|var| {
                var.name == env
                    && var.value.as_deref() == Some(self.artifact_uri)
                    && var.value_from.is_none()
            }),
            None => true,
        };
        let strategy_ok = spec.strategy.as_ref().is_some_and(|strategy| {
            let rolling = strategy.rolling_update.as_ref();
            strategy.type_.as_deref() == Some("RollingUpdate")
                && rolling.and_then(|r| r.max_unavailable.as_ref()) == Some(&IntOrString::Int(0))
                && rolling.and_then(|r| r.max_surge.as_ref()) == Some(&IntOrString::Int(1))
        });
        Ok(
            label.map(String::as_str) == Some(self.version_label.as_str())
                && annotation(meta::VERSION) == Some(self.version)
                && annotation(meta::ARTIFACT) == Some(self.artifact_uri)
                && image_ok
                && env_ok
                && strategy_ok,
        )
    }

    /// Where the rollout of this version stands on `deployment` (`None`: it does not exist).
    pub fn progress(&self, deployment: Option<&Deployment>) -> Step<RolloutOutcome> {
        let failed = |reason: String| Step::Done(RolloutOutcome::Failed { reason });
        let Some(deployment) = deployment else {
            return failed(format!(
                "Deployment {}/{} was deleted",
                self.namespace, self.name
            ));
        };
        let serving = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.template.metadata.as_ref())
            .and_then(|m| m.labels.as_ref())
            .and_then(|labels| labels.get(meta::VERSION));
        if serving.map(String::as_str) != Some(self.version_label.as_str()) {
            return failed(format!(
                "Deployment {}/{} was changed to version {} during the rollout of {}",
                self.namespace,
                self.name,
                serving.map_or("(none)", String::as_str),
                self.version
            ));
        }
        let generation = deployment.metadata.generation.unwrap_or(0);
        let Some(status) = &deployment.status else {
            return Step::Wait("the Deployment has no status yet".into());
        };
        if status.observed_generation.unwrap_or(0) < generation {
            return Step::Wait(format!(
                "the Deployment controller has not seen generation {generation} yet"
            ));
        }
        let deadline_exceeded = status.conditions.iter().flatten().find(|c| {
            c.type_ == "Progressing"
                && c.status == "False"
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        });
        if let Some(condition) = deadline_exceeded {
            return failed(format!(
                "progress deadline exceeded: {}",
                condition.message.as_deref().unwrap_or("no message")
            ));
        }
        let wanted = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.replicas)
            .unwrap_or(1);
        let updated = status.updated_replicas.unwrap_or(0);
        let total = status.replicas.unwrap_or(0);
        let ready = status.ready_replicas.unwrap_or(0);
        let available = status.available_replicas.unwrap_or(0);
        if updated < wanted {
            Step::Wait(format!("{updated} of {wanted} replicas updated"))
        } else if total > updated {
            Step::Wait(format!(
                "{} old replicas pending termination",
                total - updated
            ))
        } else if ready < updated || available < updated {
            Step::Wait(format!(
                "{available} of {updated} updated replicas available ({ready} ready)"
            ))
        } else {
            Step::Done(RolloutOutcome::Complete)
        }
    }
}

/// Applies the rollout's owned fields unless the Deployment has them already.
pub async fn roll_out(k8s: &Kubernetes, rollout: &Rollout) -> Result<()> {
    let desired = Desired::of(rollout).expect("called for Deployment targets");
    let what = format!("Deployment {}/{}", desired.namespace, desired.name);
    let deployments: Api<Deployment> = Api::namespaced(k8s.client.clone(), desired.namespace);
    let current = k8s
        .retry
        .run("get Deployment", || deployments.get_opt(desired.name))
        .await
        .map_err(|err| api::error(&format!("read {what}"), err))?
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{what} does not exist: Vigil rolls versions out to a Deployment you create \
                 (see docs/orchestration.md)"
            ))
        })?;
    if desired.is_applied(&current)? {
        tracing::debug!(deployment = %what, version = %rollout.version, "already applied");
        return Ok(());
    }
    let patch = desired.apply_patch();
    let patch = Patch::Apply(&patch);
    let params = PatchParams::apply(FIELD_MANAGER);
    k8s.retry
        .run("apply Deployment", || {
            deployments.patch(desired.name, &params, &patch)
        })
        .await
        .map_err(|err| api::error(&format!("apply {what}"), err))?;
    tracing::info!(deployment = %what, model = %rollout.model, version = %rollout.version, "rollout applied");
    Ok(())
}

/// Waits until every replica serves the version and is available, the progress deadline is
/// exceeded, or `deadline` passes.
pub async fn watch(
    k8s: &Kubernetes,
    rollout: &Rollout,
    deadline: Duration,
) -> Result<RolloutOutcome> {
    let desired = Desired::of(rollout).expect("called for Deployment targets");
    let what = format!("watch Deployment {}/{}", desired.namespace, desired.name);
    let deployments: Api<Deployment> = Api::namespaced(k8s.client.clone(), desired.namespace);
    let outcome = watch::until(k8s, deployments, desired.name, &what, Some(deadline), |d| {
        desired.progress(d)
    })
    .await?;
    Ok(
        outcome.unwrap_or_else(|waiting_for| RolloutOutcome::Failed {
            reason: format!("pods not ready within {deadline:?}: {waiting_for}"),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(image: Option<&str>, env: Option<&str>) -> Rollout {
        Rollout {
            model: "churn".into(),
            version: "v2".into(),
            artifact_uri: "s3://models/churn/v2".into(),
            target: RolloutTarget::Deployment {
                namespace: "ml".into(),
                name: "churn".into(),
                container: "model".into(),
                image: image.map(String::from),
                model_uri_env: env.map(String::from),
            },
        }
    }

    fn deployment(patch: &Value) -> Deployment {
        // What the server holds after the apply: the patch plus fields others own.
        let mut object = json!({
            "metadata": {"name": "churn", "namespace": "ml", "generation": 2},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "churn"}},
                "template": {
                    "metadata": {"labels": {"app": "churn"}},
                    "spec": {"containers": [
                        {"name": "sidecar", "image": "proxy:1"},
                        {"name": "model", "image": "example.invalid/model:v1",
                         "env": [{"name": "LOG", "value": "info"}]},
                    ]},
                },
            },
        });
        let spec = &patch["spec"];
        object["spec"]["strategy"] = spec["strategy"].clone();
        let template = &spec["template"];
        object["spec"]["template"]["metadata"]["labels"]["vigil.dev/version"] =
            template["metadata"]["labels"]["vigil.dev/version"].clone();
        object["spec"]["template"]["metadata"]["annotations"] =
            template["metadata"]["annotations"].clone();
        let ours = &template["spec"]["containers"][0];
        let model = &mut object["spec"]["template"]["spec"]["containers"][1];
        if let Some(image) = ours.get("image") {
            model["image"] = image.clone();
        }
        if let Some(env) = ours["env"].as_array() {
            model["env"]
                .as_array_mut()
                .unwrap()
                .extend(env.iter().cloned());
        }
        serde_json::from_value(object).unwrap()
    }

    #[test]
    fn the_patch_holds_only_the_owned_fields() {
        let r = rollout(Some("example.invalid/model:{version}"), Some("MODEL_URI"));
        let patch = Desired::of(&r).unwrap().apply_patch();
        assert_eq!(
            patch,
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "churn", "namespace": "ml"},
                "spec": {
                    "strategy": {"type": "RollingUpdate",
                                 "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                    "template": {
                        "metadata": {
                            "labels": {"vigil.dev/version": "v2"},
                            "annotations": {"vigil.dev/version": "v2",
                                            "vigil.dev/artifact": "s3://models/churn/v2"},
                        },
                        "spec": {"containers": [{
                            "name": "model",
                            "image": "example.invalid/model:v2",
                            "env": [{"name": "MODEL_URI", "value": "s3://models/churn/v2"}],
                        }]},
                    },
                },
            })
        );
        let r = rollout(None, None);
        let patch = Desired::of(&r).unwrap().apply_patch();
        assert_eq!(
            patch["spec"]["template"]["spec"]["containers"],
            json!([{"name": "model"}])
        );
    }

    #[test]
    fn an_applied_rollout_is_recognised_and_any_owned_difference_is_not() {
        let r = rollout(Some("example.invalid/model:{version}"), Some("MODEL_URI"));
        let desired = Desired::of(&r).unwrap();
        let applied = deployment(&desired.apply_patch());
        assert!(desired.is_applied(&applied).unwrap());

        let other = Rollout {
            version: "v3".into(),
            artifact_uri: "s3://models/churn/v3".into(),
            ..rollout(Some("example.invalid/model:{version}"), Some("MODEL_URI"))
        };
        assert!(!Desired::of(&other).unwrap().is_applied(&applied).unwrap());

        let mut surge = applied.clone();
        surge
            .spec
            .as_mut()
            .unwrap()
            .strategy
            .as_mut()
            .unwrap()
            .rolling_update
            .as_mut()
            .unwrap()
            .max_unavailable = Some(IntOrString::String("25%".into()));
        assert!(!desired.is_applied(&surge).unwrap());

        let mut image = applied.clone();
        image
            .spec
            .as_mut()
            .unwrap()
            .template
            .spec
            .as_mut()
            .unwrap()
            .containers[1]
            .image = Some("example.invalid/model:v1".into());
        assert!(!desired.is_applied(&image).unwrap());

        let r = rollout(None, None);
        let renamed = Rollout {
            target: RolloutTarget::Deployment {
                namespace: "ml".into(),
                name: "churn".into(),
                container: "absent".into(),
                image: None,
                model_uri_env: None,
            },
            ..r
        };
        assert!(matches!(
            Desired::of(&renamed).unwrap().is_applied(&applied),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn progress_waits_for_every_replica_and_spots_a_deadline() {
        let r = rollout(None, Some("MODEL_URI"));
        let desired = Desired::of(&r).unwrap();
        let mut d = deployment(&desired.apply_patch());
        let with_status = |d: &mut Deployment, status: Value| {
            d.status = Some(serde_json::from_value(status).unwrap());
        };
        let is_wait = |step: Step<RolloutOutcome>| matches!(step, Step::Wait(_));

        assert!(is_wait(desired.progress(Some(&d))));
        with_status(
            &mut d,
            json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
                                   "readyReplicas": 2, "availableReplicas": 2}),
        );
        assert!(
            is_wait(desired.progress(Some(&d))),
            "an old generation's status"
        );
        with_status(
            &mut d,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
                                   "readyReplicas": 2, "availableReplicas": 2}),
        );
        assert!(is_wait(desired.progress(Some(&d))));
        with_status(
            &mut d,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2,
                                   "readyReplicas": 3, "availableReplicas": 3}),
        );
        assert!(
            is_wait(desired.progress(Some(&d))),
            "an old replica still up"
        );
        with_status(
            &mut d,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                                   "readyReplicas": 1, "availableReplicas": 1}),
        );
        assert!(is_wait(desired.progress(Some(&d))), "one not ready");
        with_status(
            &mut d,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2,
                                   "readyReplicas": 2, "availableReplicas": 2}),
        );
        assert!(matches!(
            desired.progress(Some(&d)),
            Step::Done(RolloutOutcome::Complete)
        ));
        with_status(
            &mut d,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "False",
                            "reason": "ProgressDeadlineExceeded",
                            "message": "ReplicaSet \"churn-x\" has timed out progressing."}]}),
        );
        let Step::Done(RolloutOutcome::Failed { reason }) = desired.progress(Some(&d)) else {
            panic!("a deadline exceeded is a failure")
        };
        assert!(reason.contains("timed out progressing"), "{reason}");
        assert!(matches!(
            desired.progress(None),
            Step::Done(RolloutOutcome::Failed { .. })
        ));
    }
}
