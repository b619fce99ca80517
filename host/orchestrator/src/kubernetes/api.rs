//! API errors as [`Error`]s a person can act on.

use crate::Error;

use super::retry::{describe, is_transient};

/// `err` from the request described by `what` (e.g. "create Job ns/name"), after retries.
pub fn error(what: &str, err: kube::Error) -> Error {
    if is_transient(&err) {
        return Error::Unavailable(format!(
            "{what}: {} (gave up after retrying)",
            describe(&err)
        ));
    }
    match &err {
        kube::Error::Api(status) if status.code == 401 || status.code == 403 => {
            Error::Unavailable(format!(
                "{what}: {}; grant Vigil's service account the verbs listed in \
                 docs/orchestration.md",
                describe(&err)
            ))
        }
        kube::Error::Api(status) if status.code == 409 => conflict(what, status),
        _ => Error::Invalid(format!("{what}: {}", describe(&err))),
    }
}

/// Whether `err` is the server's 409 `AlreadyExists` answer to a create.
pub fn already_exists(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409 && status.reason == "AlreadyExists")
}

/// A server-side apply conflict: which managers own which of the fields we would set, and how
/// to settle it (Vigil applies without force, so it never takes a field from someone silently).
fn conflict(what: &str, status: &kube::core::Status) -> Error {
    let causes: Vec<String> = status
        .details
        .iter()
        .flat_map(|details| &details.causes)
        .filter(|cause| cause.reason == "FieldManagerConflict")
        .map(|cause| format!("{} ({})", cause.field, cause.message))
        .collect();
    let detail = if causes.is_empty() {
        status.message.clone()
    } else {
        causes.join("; ")
    };
    Error::Conflict(format!(
        "{what}: another field manager owns a field Vigil sets: {detail}. Remove the field \
         from that manager's configuration, or hand it to Vigil once with `kubectl apply \
         --server-side --field-manager={} --force-conflicts` (see docs/orchestration.md)",
        super::FIELD_MANAGER
    ))
}

/// The names of the managers in a conflict message (`conflict with "NAME" using …`), for tests
/// and logs.
#[cfg(test)]
fn managers_in(message: &str) -> Vec<&str> {
    message
        .split("conflict with \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;
    use kube::core::response::{StatusCause, StatusDetails};

    #[test]
    fn a_conflict_names_the_other_manager_and_the_field() {
        let status = Status {
            code: 409,
            reason: "Conflict".into(),
            message: "Apply failed with 1 conflict: conflict with \"rogue\" using apps/v1: \
                      .spec.template.spec.containers[name=\"model\"].image"
                .into(),
            details: Some(StatusDetails {
                causes: vec![StatusCause {
                    reason: "FieldManagerConflict".into(),
                    message: "conflict with \"rogue\" using apps/v1".into(),
                    field: ".spec.template.spec.containers[name=\"model\"].image".into(),
                }],
                name: "m".into(),
                group: "apps".into(),
                kind: "deployments".into(),
                uid: String::new(),
                retry_after_seconds: 0,
            }),
            ..Default::default()
        };
        let err = error("apply Deployment ns/m", kube::Error::Api(Box::new(status)));
        let Error::Conflict(message) = err else {
            panic!("{err:?}")
        };
        assert_eq!(managers_in(&message), ["rogue"]);
        assert!(
            message.contains("containers[name=\"model\"].image"),
            "{message}"
        );
    }

    #[test]
    fn errors_map_to_what_a_caller_does_next() {
        let api = |code: u16| {
            kube::Error::Api(Box::new(Status {
                code,
                message: "m".into(),
                ..Default::default()
            }))
        };
        assert!(matches!(error("x", api(503)), Error::Unavailable(_)));
        assert!(matches!(error("x", api(403)), Error::Unavailable(_)));
        assert!(matches!(error("x", api(422)), Error::Invalid(_)));
        assert!(matches!(error("x", api(404)), Error::Invalid(_)));
    }
}
