//! What every pod `deploy/` makes must be: Kubernetes' `restricted` Pod Security profile and
//! a read-only root filesystem, with secrets only by reference.

use serde_json::Value;

/// The pod template of a workload object, if it is one.
pub fn pod_spec(object: &Value) -> Option<&Value> {
    let spec = &object["spec"];
    let pod = match object["kind"].as_str()? {
        "Pod" => spec,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            &spec["template"]["spec"]
        }
        "CronJob" => &spec["jobTemplate"]["spec"]["template"]["spec"],
        _ => return None,
    };
    pod.is_object().then_some(pod)
}

/// The containers of a pod, init containers included.
pub fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .filter_map(|list| pod[list].as_array())
        .flatten()
}

/// How the pod of `object` falls short of the restricted profile, one line per finding.
pub fn restricted_violations(object: &Value, pod: &Value) -> Vec<String> {
    let at = format!(
        "{} {}/{}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["namespace"].as_str().unwrap_or("-"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    );
    let mut found = Vec::new();
    let pod_context = &pod["securityContext"];
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[field] == true {
            found.push(format!("{at}: {field}"));
        }
    }
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        if volume.get("hostPath").is_some() {
            found.push(format!("{at}: hostPath volume {}", volume["name"]));
        }
    }
    for container in containers(pod) {
        let at = format!("{at} container {}", container["name"]);
        let context = &container["securityContext"];
        // A container's own setting wins over the pod's.
        let effective = |field: &str| match &context[field] {
            Value::Null => &pod_context[field],
            value => value,
        };
        if effective("runAsNonRoot") != true {
            found.push(format!("{at}: runAsNonRoot is not true"));
        }
        if effective("runAsUser") == 0 {
            found.push(format!("{at}: runs as user 0"));
        }
        if effective("seccompProfile")["type"] != "RuntimeDefault" {
            found.push(format!("{at}: seccompProfile is not RuntimeDefault"));
        }
        if context["allowPrivilegeEscalation"] != false {
            found.push(format!("{at}: allowPrivilegeEscalation is not false"));
        }
        if context["privileged"] == true {
            found.push(format!("{at}: privileged"));
        }
        if context["readOnlyRootFilesystem"] != true {
            found.push(format!("{at}: readOnlyRootFilesystem is not true"));
        }
        let capabilities = &context["capabilities"];
        if capabilities["drop"] != serde_json::json!(["ALL"]) {
            found.push(format!("{at}: capabilities.drop is not [ALL]"));
        }
        if capabilities["add"]
            .as_array()
            .is_some_and(|add| !add.is_empty())
        {
            found.push(format!("{at}: adds capabilities {}", capabilities["add"]));
        }
    }
    found
}

/// Variables that hold a secret: these must come from a Secret, never be written out (the one
/// exception is a SQLite URL, which has no password).
pub fn literal_secrets(object: &Value, pod: &Value) -> Vec<String> {
    let secret_like = ["PASSWORD", "TOKEN", "SECRET", "DATABASE_URL"];
    let mut found = Vec::new();
    for container in containers(pod) {
        for variable in container["env"].as_array().into_iter().flatten() {
            let name = variable["name"].as_str().unwrap_or_default();
            let Some(value) = variable["value"].as_str() else {
                continue;
            };
            if secret_like.iter().any(|word| name.contains(word)) && !value.starts_with("sqlite://")
            {
                found.push(format!(
                    "{} {}: container {} sets {name} in the clear",
                    object["kind"], object["metadata"]["name"], container["name"]
                ));
            }
        }
    }
    found
}

/// The container `name` of the workload `object`.
pub fn container<'a>(object: &'a Value, name: &str) -> &'a Value {
    pod_spec(object)
        .and_then(|pod| containers(pod).find(|container| container["name"] == name))
        .unwrap_or_else(|| panic!("{} has no container {name}", object["metadata"]["name"]))
}

/// The variable `name` of `container`.
pub fn env<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .and_then(|env| env.iter().find(|variable| variable["name"] == name))
        .unwrap_or_else(|| panic!("container {} has no {name}", container["name"]))
}
