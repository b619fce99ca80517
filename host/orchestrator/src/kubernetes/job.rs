//! Retraining runs as `batch/v1` Jobs.
//!
//! The Job is named after the run, so a second start of one run (a retry, a restarted daemon,
//! another replica) finds it and writes nothing. The run's secret variables go into a Secret of
//! the same name, owned by the Job (the garbage collector deletes it with the Job) and read by
//! the pod through `secretKeyRef`, so the token never appears in the Job.
//!
//! Order: the Job first, then its Secret (which needs the Job's uid for its owner reference),
//! then an annotation on the Job saying the Secret exists. A Secret is therefore never created
//! without its owner (none leaks when the Job cannot be created), and a start interrupted
//! between the two finds the Job without the annotation and finishes the work. The pod waits
//! for the Secret, which the kubelet retries.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, EnvVarSource, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceRequirements, SeccompProfile, Secret, SecretKeySelector, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams, PostParams};

use super::meta::{self, FIELD_MANAGER};
use super::watch::{self, Step};
use super::{Kubernetes, api};
use crate::{Error, KubeJob, Result, RunOutcome, SECRET_ENV, TrainingRun};

/// The highest `backoffLimit` Vigil sets, whatever the template asks: a retraining that fails
/// this often will not succeed by trying again.
pub const MAX_BACKOFF_LIMIT: i32 = 6;

/// The name of the Job's only container.
const CONTAINER: &str = "train";

/// Starts the run's Job unless it exists (see the module's documentation for the order).
pub async fn start(k8s: &Kubernetes, run: &TrainingRun, template: &KubeJob) -> Result<()> {
    let namespace = template.namespace.as_str();
    let name = run.name.as_str();
    let jobs: Api<Job> = Api::namespaced(k8s.client.clone(), namespace);
    let what = format!("Job {namespace}/{name}");
    let needs_secret = has_secret_env(run);

    let existing = k8s
        .retry
        .run("get Job", || jobs.get_opt(name))
        .await
        .map_err(|err| api::error(&format!("read {what}"), err))?;
    let job = match existing {
        Some(job) => {
            ensure_ours(&job, &what, name)?;
            if !needs_secret || annotation(&job, meta::TOKEN_SECRET).is_some() {
                tracing::debug!(job = %what, "retraining Job exists, nothing to do");
                return Ok(());
            }
            job
        }
        None => {
            let desired = desired_job(run, template)?;
            let params = PostParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..Default::default()
            };
            match k8s
                .retry
                .run("create Job", || jobs.create(&params, &desired))
                .await
            {
                Ok(job) => {
                    tracing::info!(job = %what, model = %run.model, "retraining Job created");
                    job
                }
                // Created meanwhile: by another replica, or by an earlier attempt of ours
                // whose answer was lost.
                Err(err) if api::already_exists(&err) => {
                    let job = k8s
                        .retry
                        .run("get Job", || jobs.get(name))
                        .await
                        .map_err(|err| api::error(&format!("read {what}"), err))?;
                    ensure_ours(&job, &what, name)?;
                    job
                }
                Err(err) => return Err(api::error(&format!("create {what}"), err)),
            }
        }
    };
    if needs_secret {
        create_secret(k8s, run, template, &job).await?;
    }
    Ok(())
}

/// Creates the Job's Secret (an existing one is kept) and marks the Job.
async fn create_secret(
    k8s: &Kubernetes,
    run: &TrainingRun,
    template: &KubeJob,
    job: &Job,
) -> Result<()> {
    let namespace = template.namespace.as_str();
    let name = run.name.as_str();
    let secret = desired_secret(run, template, job)?;
    let secrets: Api<Secret> = Api::namespaced(k8s.client.clone(), namespace);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..Default::default()
    };
    match k8s
        .retry
        .run("create Secret", || secrets.create(&params, &secret))
        .await
    {
        Ok(_) => {}
        Err(err) if api::already_exists(&err) => {}
        Err(err) => {
            return Err(api::error(
                &format!("create Secret {namespace}/{name} for the run's token"),
                err,
            ));
        }
    }
    let jobs: Api<Job> = Api::namespaced(k8s.client.clone(), namespace);
    let mark = serde_json::json!({"metadata": {"annotations": {meta::TOKEN_SECRET: name}}});
    let mark = Patch::Merge(&mark);
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..Default::default()
    };
    k8s.retry
        .run("annotate Job", || jobs.patch(name, &params, &mark))
        .await
        .map_err(|err| api::error(&format!("annotate Job {namespace}/{name}"), err))?;
    Ok(())
}

/// Waits for the run's Job to complete or fail.
pub async fn watch(k8s: &Kubernetes, namespace: &str, name: &str) -> Result<RunOutcome> {
    let jobs: Api<Job> = Api::namespaced(k8s.client.clone(), namespace);
    let what = format!("watch Job {namespace}/{name}");
    let outcome = watch::until(k8s, jobs, name, &what, None, |job| match job {
        None => Step::Done(RunOutcome::Failed {
            reason: format!("Job {namespace}/{name} does not exist (deleted, or never started)"),
        }),
        Some(job) => match job_outcome(job) {
            Some(outcome) => Step::Done(outcome),
            None => Step::Wait(String::from("running")),
        },
    })
    .await?;
    outcome.map_err(|reason| Error::Unavailable(format!("{what}: {reason}")))
}

/// How the Job ended, if it has: its `Complete` or `Failed` condition.
pub fn job_outcome(job: &Job) -> Option<RunOutcome> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .filter(|condition| condition.status == "True")
        .find_map(|condition| match condition.type_.as_str() {
            "Complete" => Some(RunOutcome::Succeeded),
            "Failed" => Some(RunOutcome::Failed {
                reason: format!(
                    "{}: {}",
                    condition.reason.as_deref().unwrap_or("Failed"),
                    condition.message.as_deref().unwrap_or("the Job failed")
                ),
            }),
            _ => None,
        })
}

/// The Job for `run`: the template's pod, the run's variables (the secret ones by reference to
/// the Job's Secret), Vigil's labels.
pub fn desired_job(run: &TrainingRun, template: &KubeJob) -> Result<Job> {
    if template.namespace.is_empty() || template.image.is_empty() {
        return Err(Error::Invalid(format!(
            "run {}: the Job template needs a namespace and an image",
            run.name
        )));
    }
    if template.active_deadline_seconds <= 0 {
        return Err(Error::Invalid(format!(
            "run {}: active_deadline_seconds must be positive, not {}",
            run.name, template.active_deadline_seconds
        )));
    }
    let resources = template
        .resources
        .clone()
        .map(serde_json::from_value::<ResourceRequirements>)
        .transpose()
        .map_err(|err| {
            Error::Invalid(format!(
                "run {}: the Job template's resources are not a ResourceRequirements: {err}",
                run.name
            ))
        })?;
    let env = run
        .env
        .iter()
        .map(|(name, value)| {
            if SECRET_ENV.contains(&name.as_str()) {
                EnvVar {
                    name: name.clone(),
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector {
                            name: run.name.clone(),
                            key: name.clone(),
                            optional: Some(false),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            } else {
                EnvVar {
                    name: name.clone(),
                    value: Some(value.clone()),
                    ..Default::default()
                }
            }
        })
        .collect();
    let labels = labels(run);
    let non_empty = |list: &Vec<String>| (!list.is_empty()).then(|| list.clone());
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(run.name.clone()),
            namespace: Some(template.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(BTreeMap::from([(
                meta::MODEL.to_string(),
                run.model.clone(),
            )])),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(template.backoff_limit.clamp(0, MAX_BACKOFF_LIMIT)),
            active_deadline_seconds: Some(template.active_deadline_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_string()),
                    service_account_name: template.service_account.clone(),
                    // The run talks to Vigil with its own token, never to the Kubernetes API.
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security(template)),
                    containers: vec![Container {
                        name: CONTAINER.to_string(),
                        image: Some(template.image.clone()),
                        command: non_empty(&template.command),
                        args: non_empty(&template.args),
                        env: Some(env),
                        resources,
                        security_context: Some(container_security()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    })
}

/// The pod's part of the `restricted` Pod Security Standard, so that a Job runs in namespaces
/// that enforce it.
fn pod_security(template: &KubeJob) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: template.run_as_user,
        run_as_group: template.run_as_user,
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The container's part of the `restricted` Pod Security Standard.
fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_string()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Secret holding `run`'s secret variables, owned by `job` (which must have been read from
/// the server: its uid is needed), or an error when there is nothing secret.
pub fn desired_secret(run: &TrainingRun, template: &KubeJob, job: &Job) -> Result<Secret> {
    let uid = job.metadata.uid.clone().ok_or_else(|| {
        Error::Invalid(format!(
            "Job {} has no uid: it was not read from the server",
            run.name
        ))
    })?;
    let values: BTreeMap<String, String> = run
        .env
        .iter()
        .filter(|(name, _)| SECRET_ENV.contains(&name.as_str()))
        .cloned()
        .collect();
    if values.is_empty() {
        return Err(Error::Invalid(format!(
            "run {} has no secret variables",
            run.name
        )));
    }
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(run.name.clone()),
            namespace: Some(template.namespace.clone()),
            labels: Some(labels(run)),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".to_string(),
                kind: "Job".to_string(),
                name: run.name.clone(),
                uid,
                ..Default::default()
            }]),
            ..Default::default()
        },
        type_: Some("Opaque".to_string()),
        string_data: Some(values),
        ..Default::default()
    })
}

fn has_secret_env(run: &TrainingRun) -> bool {
    run.env
        .iter()
        .any(|(name, _)| SECRET_ENV.contains(&name.as_str()))
}

fn labels(run: &TrainingRun) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            meta::MANAGED_BY.to_string(),
            meta::MANAGED_BY_VALUE.to_string(),
        ),
        (meta::MODEL.to_string(), meta::label_value(&run.model)),
        (meta::RUN.to_string(), run.name.clone()),
    ])
}

fn annotation<'a>(job: &'a Job, key: &str) -> Option<&'a str> {
    job.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// Refuses a Job of the run's name that Vigil did not create for this run: starting "it" would
/// report someone else's work as the run's.
fn ensure_ours(job: &Job, what: &str, run: &str) -> Result<()> {
    let labels = job.metadata.labels.as_ref();
    let label = |key: &str| {
        labels
            .and_then(|labels| labels.get(key))
            .map(String::as_str)
    };
    if label(meta::MANAGED_BY) == Some(meta::MANAGED_BY_VALUE) && label(meta::RUN) == Some(run) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{what} exists but was not created by Vigil for this run (labels {}={}, {}={} \
             missing): rename or delete it",
            meta::MANAGED_BY,
            meta::MANAGED_BY_VALUE,
            meta::RUN,
            run
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JobTemplate;

    fn template() -> KubeJob {
        KubeJob {
            namespace: "ml".into(),
            image: "registry.example/train:1".into(),
            command: vec!["train".into()],
            args: vec![],
            resources: Some(serde_json::json!({"limits": {"cpu": "1", "memory": "1Gi"}})),
            service_account: Some("trainer".into()),
            backoff_limit: 20,
            active_deadline_seconds: 600,
            run_as_user: Some(1000),
        }
    }

    fn run() -> TrainingRun {
        TrainingRun {
            name: "vigil-train-churn-0123456789".into(),
            model: "Churn Model".into(),
            env: vec![
                ("VIGIL_URL".into(), "http://vigil:8080".into()),
                ("VIGIL_TOKEN".into(), "s3cret-token".into()),
                ("VIGIL_MODEL".into(), "Churn Model".into()),
            ],
            job: JobTemplate::Kubernetes(template()),
        }
    }

    #[test]
    fn the_job_follows_the_template_and_hides_the_token() {
        let job = desired_job(&run(), &template()).unwrap();
        let value = serde_json::to_value(&job).unwrap();
        assert!(
            !value.to_string().contains("s3cret-token"),
            "the token is in the Job: {value}"
        );
        let spec = &value["spec"];
        assert_eq!(spec["backoffLimit"], 6, "capped");
        assert_eq!(spec["activeDeadlineSeconds"], 600);
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["serviceAccountName"], "trainer");
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(
            pod["securityContext"],
            serde_json::json!({"runAsNonRoot": true, "runAsUser": 1000, "runAsGroup": 1000,
                "seccompProfile": {"type": "RuntimeDefault"}})
        );
        let container = &pod["containers"][0];
        assert_eq!(container["image"], "registry.example/train:1");
        assert_eq!(container["command"], serde_json::json!(["train"]));
        assert!(container.get("args").is_none());
        assert_eq!(container["resources"]["limits"]["memory"], "1Gi");
        assert_eq!(
            container["securityContext"],
            serde_json::json!({"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}})
        );
        assert_eq!(
            container["env"],
            serde_json::json!([
                {"name": "VIGIL_URL", "value": "http://vigil:8080"},
                {"name": "VIGIL_TOKEN", "valueFrom": {"secretKeyRef": {
                    "name": "vigil-train-churn-0123456789", "key": "VIGIL_TOKEN", "optional": false}}},
                {"name": "VIGIL_MODEL", "value": "Churn Model"},
            ])
        );
        for labels in [
            &value["metadata"]["labels"],
            &spec["template"]["metadata"]["labels"],
        ] {
            assert_eq!(
                labels,
                &serde_json::json!({
                    "app.kubernetes.io/managed-by": "vigil",
                    "vigil.dev/model": "Churn-Model",
                    "vigil.dev/run": "vigil-train-churn-0123456789",
                })
            );
        }
        assert_eq!(
            value["metadata"]["annotations"]["vigil.dev/model"],
            "Churn Model"
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        let mut bad = template();
        bad.resources = Some(serde_json::json!({"limits": "lots"}));
        assert!(matches!(desired_job(&run(), &bad), Err(Error::Invalid(_))));
        let mut bad = template();
        bad.active_deadline_seconds = 0;
        assert!(matches!(desired_job(&run(), &bad), Err(Error::Invalid(_))));
        let mut bad = template();
        bad.image.clear();
        assert!(matches!(desired_job(&run(), &bad), Err(Error::Invalid(_))));
    }

    #[test]
    fn the_secret_is_owned_by_the_job_and_holds_only_secrets() {
        let mut job = desired_job(&run(), &template()).unwrap();
        assert!(
            desired_secret(&run(), &template(), &job).is_err(),
            "no uid yet"
        );
        job.metadata.uid = Some("uid-1".into());
        let secret = desired_secret(&run(), &template(), &job).unwrap();
        let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
            ("Job", "vigil-train-churn-0123456789", "uid-1")
        );
        assert_eq!(
            secret.string_data,
            Some(BTreeMap::from([(
                "VIGIL_TOKEN".to_string(),
                "s3cret-token".to_string()
            )]))
        );
        assert_eq!(
            secret.metadata.labels.unwrap()["app.kubernetes.io/managed-by"],
            "vigil"
        );
    }

    #[test]
    fn outcomes_come_from_the_conditions() {
        let with = |type_: &str, status: &str| -> Job {
            serde_json::from_value(serde_json::json!({
                "status": {"conditions": [{"type": type_, "status": status,
                    "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}
            }))
            .unwrap()
        };
        assert_eq!(
            job_outcome(&with("Complete", "True")),
            Some(RunOutcome::Succeeded)
        );
        assert_eq!(
            job_outcome(&with("Failed", "True")),
            Some(RunOutcome::Failed {
                reason: "BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            })
        );
        assert_eq!(job_outcome(&with("Failed", "False")), None);
        assert_eq!(job_outcome(&Job::default()), None);
    }

    #[test]
    fn the_debug_form_of_a_run_hides_the_token() {
        let shown = format!("{:?}", run());
        assert!(!shown.contains("s3cret-token"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
