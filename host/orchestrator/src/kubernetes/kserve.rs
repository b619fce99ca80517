//! Rollouts to a KServe `InferenceService` (`serving.kserve.io/v1beta1`): server-side apply of
//! its model's `storageUri` and the version label and annotation; KServe's controller rolls
//! the predictor out, and its `Ready` condition says when it serves.
//!
//! Handled as a dynamic object: Vigil owns three fields of it and reads a few of its status,
//! so no typed model of KServe's API is needed (or kept in step with KServe's releases).

use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use super::meta::{self, FIELD_MANAGER};
use super::watch::{self, Step};
use super::{Kubernetes, api};
use crate::{Error, Result, Rollout, RolloutOutcome, RolloutTarget};

/// `serving.kserve.io/v1beta1` `InferenceService`.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("serving.kserve.io", "v1beta1", "InferenceService"),
        "inferenceservices",
    )
}

/// A rollout to an `InferenceService`.
#[derive(Debug, PartialEq)]
pub struct Desired<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub version_label: String,
    pub artifact_uri: &'a str,
}

/// `transitionStatus` values of KServe's model status that end a rollout as failed.
const FAILED_TRANSITIONS: &[&str] = &["BlockedByFailedLoad", "InvalidSpec"];

impl<'a> Desired<'a> {
    /// The fields `rollout` sets, or `None` when its target is not an `InferenceService`.
    pub fn of(rollout: &'a Rollout) -> Option<Self> {
        let RolloutTarget::KServe { namespace, name } = &rollout.target else {
            return None;
        };
        Some(Desired {
            namespace,
            name,
            version: &rollout.version,
            version_label: meta::label_value(&rollout.version),
            artifact_uri: &rollout.artifact_uri,
        })
    }

    /// The server-side apply patch: exactly the fields Vigil owns on an `InferenceService`.
    pub fn apply_patch(&self) -> Value {
        json!({
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {meta::VERSION: self.version_label},
                "annotations": {meta::VERSION: self.version, meta::ARTIFACT: self.artifact_uri},
            },
            "spec": {"predictor": {"model": {"storageUri": self.artifact_uri}}},
        })
    }

    /// Whether `service` has every owned field at its desired value already.
    pub fn is_applied(&self, service: &DynamicObject) -> bool {
        let label = service
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(meta::VERSION));
        let annotation = |key: &str| {
            service
                .metadata
                .annotations
                .as_ref()
                .and_then(|annotations| annotations.get(key))
                .map(String::as_str)
        };
        let storage_uri = service.data["spec"]["predictor"]["model"]["storageUri"].as_str();
        label.map(String::as_str) == Some(self.version_label.as_str())
            && annotation(meta::VERSION) == Some(self.version)
            && annotation(meta::ARTIFACT) == Some(self.artifact_uri)
            && storage_uri == Some(self.artifact_uri)
    }

    /// Where the rollout stands: complete once `Ready` is true for the current generation (when
    /// the status reports `observedGeneration`), failed when the model cannot load.
    pub fn progress(&self, service: Option<&DynamicObject>) -> Step<RolloutOutcome> {
        let failed = |reason: String| Step::Done(RolloutOutcome::Failed { reason });
        let Some(service) = service else {
            return failed(format!(
                "InferenceService {}/{} was deleted",
                self.namespace, self.name
            ));
        };
        let storage_uri = service.data["spec"]["predictor"]["model"]["storageUri"].as_str();
        if storage_uri != Some(self.artifact_uri) {
            return failed(format!(
                "InferenceService {}/{} was changed to model {} during the rollout of {}",
                self.namespace,
                self.name,
                storage_uri.unwrap_or("(none)"),
                self.version
            ));
        }
        let status = &service.data["status"];
        let generation = service.metadata.generation.unwrap_or(0);
        if let Some(observed) = status["observedGeneration"].as_i64()
            && observed < generation
        {
            return Step::Wait(format!("KServe has not seen generation {generation} yet"));
        }
        let transition = status["modelStatus"]["transitionStatus"].as_str();
        if let Some(transition) = transition.filter(|t| FAILED_TRANSITIONS.contains(t)) {
            let message = status["modelStatus"]["lastFailureInfo"]["message"]
                .as_str()
                .unwrap_or("no message");
            return failed(format!("model status {transition}: {message}"));
        }
        let ready = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|condition| condition["type"] == "Ready");
        match ready {
            Some(condition) if condition["status"] == "True" => {
                Step::Done(RolloutOutcome::Complete)
            }
            Some(condition) => Step::Wait(format!(
                "Ready is {}: {} {}",
                condition["status"].as_str().unwrap_or("unknown"),
                condition["reason"].as_str().unwrap_or(""),
                condition["message"].as_str().unwrap_or("")
            )),
            None => Step::Wait("no Ready condition yet".into()),
        }
    }
}

/// Applies the rollout's owned fields unless the `InferenceService` has them already.
pub async fn roll_out(k8s: &Kubernetes, rollout: &Rollout) -> Result<()> {
    let desired = Desired::of(rollout).expect("called for KServe targets");
    let what = format!("InferenceService {}/{}", desired.namespace, desired.name);
    let services: Api<DynamicObject> =
        Api::namespaced_with(k8s.client.clone(), desired.namespace, &resource());
    let current = k8s
        .retry
        .run("get InferenceService", || services.get_opt(desired.name))
        .await
        .map_err(|err| api::error(&format!("read {what} (is KServe installed?)"), err))?
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{what} does not exist: Vigil rolls versions out to an InferenceService you \
                 create (see docs/orchestration.md)"
            ))
        })?;
    if desired.is_applied(&current) {
        tracing::debug!(inference_service = %what, version = %rollout.version, "already applied");
        return Ok(());
    }
    let patch = desired.apply_patch();
    let patch = Patch::Apply(&patch);
    let params = PatchParams::apply(FIELD_MANAGER);
    k8s.retry
        .run("apply InferenceService", || {
            services.patch(desired.name, &params, &patch)
        })
        .await
        .map_err(|err| api::error(&format!("apply {what}"), err))?;
    tracing::info!(inference_service = %what, model = %rollout.model, version = %rollout.version, "rollout applied");
    Ok(())
}

/// Waits until the `InferenceService` is ready with the version, fails, or `deadline` passes.
pub async fn watch(
    k8s: &Kubernetes,
    rollout: &Rollout,
    deadline: Duration,
) -> Result<RolloutOutcome> {
    let desired = Desired::of(rollout).expect("called for KServe targets");
    let what = format!(
        "watch InferenceService {}/{}",
        desired.namespace, desired.name
    );
    let services: Api<DynamicObject> =
        Api::namespaced_with(k8s.client.clone(), desired.namespace, &resource());
    let outcome = watch::until(
        k8s,
        services,
        desired.name,
        &what,
        Some(deadline),
        |service| desired.progress(service),
    )
    .await?;
    Ok(
        outcome.unwrap_or_else(|waiting_for| RolloutOutcome::Failed {
            reason: format!("not ready within {deadline:?}: {waiting_for}"),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout() -> Rollout {
        Rollout {
            model: "churn".into(),
            version: "v2".into(),
            artifact_uri: "gs://models/churn/v2".into(),
            target: RolloutTarget::KServe {
                namespace: "ml".into(),
                name: "churn".into(),
            },
        }
    }

    fn service(value: Value) -> DynamicObject {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_patch_sets_the_storage_uri_and_the_version() {
        let r = rollout();
        assert_eq!(
            Desired::of(&r).unwrap().apply_patch(),
            json!({
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {
                    "name": "churn", "namespace": "ml",
                    "labels": {"vigil.dev/version": "v2"},
                    "annotations": {"vigil.dev/version": "v2",
                                    "vigil.dev/artifact": "gs://models/churn/v2"},
                },
                "spec": {"predictor": {"model": {"storageUri": "gs://models/churn/v2"}}},
            })
        );
    }

    #[test]
    fn applied_and_progress_come_from_the_object() {
        let r = rollout();
        let desired = Desired::of(&r).unwrap();
        let mut object = desired.apply_patch();
        object["spec"]["predictor"]["model"]["modelFormat"] = json!({"name": "sklearn"});
        object["metadata"]["generation"] = json!(3);
        assert!(desired.is_applied(&service(object.clone())));
        let mut old = object.clone();
        old["spec"]["predictor"]["model"]["storageUri"] = json!("gs://models/churn/v1");
        assert!(!desired.is_applied(&service(old.clone())));
        assert!(matches!(
            desired.progress(Some(&service(old))),
            Step::Done(RolloutOutcome::Failed { .. })
        ));

        let with_status = |status: Value| {
            let mut object = object.clone();
            object["status"] = status;
            service(object)
        };
        let ready = json!([{"type": "Ready", "status": "True"}]);
        assert!(matches!(
            desired.progress(Some(&with_status(
                json!({"observedGeneration": 2, "conditions": ready})
            ))),
            Step::Wait(_)
        ));
        assert!(matches!(
            desired.progress(Some(&with_status(
                json!({"observedGeneration": 3, "conditions": ready})
            ))),
            Step::Done(RolloutOutcome::Complete)
        ));
        assert!(matches!(
            desired.progress(Some(&with_status(json!({"conditions": ready})))),
            Step::Done(RolloutOutcome::Complete)
        ));
        assert!(matches!(
            desired.progress(Some(&with_status(json!({"observedGeneration": 3,
                "conditions": [{"type": "Ready", "status": "False", "reason": "PredictorNotReady"}]})))),
            Step::Wait(_)
        ));
        let Step::Done(RolloutOutcome::Failed { reason }) =
            desired.progress(Some(&with_status(json!({
                "observedGeneration": 3,
                "modelStatus": {"transitionStatus": "BlockedByFailedLoad",
                                "lastFailureInfo": {"message": "no such bucket"}},
            }))))
        else {
            panic!("a failed load is a failed rollout")
        };
        assert!(reason.contains("no such bucket"), "{reason}");
    }
}
