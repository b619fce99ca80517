//! `deploy/`, the daemon in a cluster (docs/deploy.md), checked with kubectl 1.20 and a real
//! Kubernetes API server: each install renders the same every time and runs every container
//! restricted, with secrets only by reference; each applies and uninstalls; the daemon's Role
//! grants exactly what deploy/rbac/can-i.txt lists. The examples are checked against what
//! reads them: the orchestrator's Job template, Argo Rollouts, a rollout's needs.
//!
//! The API server and kubectl come from scripts/test.sh: `VIGIL_TEST_KUBECONFIG` names the
//! server's kubeconfig; `VIGIL_TEST_KUBECTL` a kubectl 1.20 (by default, the one
//! scripts/k8s-testenv.sh caches). Any test cluster without Vigil installed will do.

#[path = "deploy/kubectl.rs"]
mod kubectl;
#[path = "deploy/pods.rs"]
mod pods;

use std::path::Path;

use serde_json::{Value, json};

use kubectl::{Cluster, SERVICE_ACCOUNT, deploy_dir, find, parse_yaml, render, render_text};
use pods::{container, env, literal_secrets, pod_spec, restricted_violations};

/// The directories a person installs with `kubectl apply -k`.
const INSTALLS: [&str; 3] = ["base", "overlays/postgres", "overlays/external-postgres"];

/// How [`every_install_applies_and_uninstalls`] applies each of [`INSTALLS`]: both ways
/// docs/deploy.md allows, client-side (`kubectl apply`) and server-side.
const APPLY_MODES: [&[&str]; 3] = [&[], &["--server-side"], &[]];

/// The namespace where the models run, as deploy/rbac sets it.
const MODELS: &str = "models";

fn read(path: &str) -> String {
    let path = deploy_dir().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
#[ignore = "needs kubectl 1.20: scripts/test.sh provides it"]
fn every_install_renders_the_same_every_time() {
    for dir in INSTALLS {
        let first = render_text(dir);
        assert!(first.contains("kind: Deployment"), "deploy/{dir}: {first}");
        for _ in 0..3 {
            assert_eq!(render_text(dir), first, "deploy/{dir} rendered differently");
        }
    }
}

#[test]
#[ignore = "needs kubectl 1.20: scripts/test.sh provides it"]
fn every_container_runs_restricted_with_secrets_by_reference() {
    for dir in INSTALLS {
        let objects = render(dir);
        let mut found = Vec::new();
        let mut pods = 0;
        for object in &objects {
            assert_ne!(
                object["kind"], "Secret",
                "deploy/{dir} holds a Secret's values"
            );
            if let Some(pod) = pod_spec(object) {
                pods += 1;
                found.extend(restricted_violations(object, pod));
                found.extend(literal_secrets(object, pod));
            }
        }
        assert!(pods > 0, "deploy/{dir} has no workload");
        assert!(found.is_empty(), "deploy/{dir}:\n{}", found.join("\n"));
    }
}

#[test]
#[ignore = "needs kubectl 1.20: scripts/test.sh provides it"]
fn sqlite_runs_one_replica_and_postgres_several_without_a_gap() {
    for dir in INSTALLS {
        let objects = render(dir);
        let daemon = find(&objects, "Deployment", "vigil").expect("the daemon's Deployment");
        let spec = &daemon["spec"];
        let vigil = container(daemon, "vigil");
        let database = env(vigil, "VIGIL_DATABASE_URL");
        let claims = objects
            .iter()
            .filter(|o| o["kind"] == "PersistentVolumeClaim");
        if dir == "base" {
            // One daemon per SQLite file: the old pod goes before the new one starts.
            assert_eq!(spec["replicas"], 1, "{dir}");
            assert_eq!(spec["strategy"], json!({"type": "Recreate"}), "{dir}");
            assert_eq!(
                database["value"], "sqlite:///var/lib/vigil/vigil.db",
                "{dir}"
            );
            assert_eq!(claims.count(), 1, "{dir}: the SQLite file's volume");
            let mounts = vigil["volumeMounts"].as_array().unwrap();
            assert!(
                mounts.iter().any(|m| m["mountPath"] == "/var/lib/vigil"),
                "{dir}"
            );
        } else {
            assert!(spec["replicas"].as_i64().unwrap() >= 2, "{dir}");
            assert_eq!(
                spec["strategy"],
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}),
                "{dir}"
            );
            let url = json!({"secretKeyRef": {"name": "vigil-database", "key": "url"}});
            assert_eq!(database["valueFrom"], url, "{dir}");
            assert_eq!(
                claims.count(),
                0,
                "{dir}: the daemon keeps nothing on a volume"
            );
        }
        // The server in the cluster comes only with overlays/postgres, on the same Secret.
        let server = find(&objects, "StatefulSet", "vigil-postgres");
        assert_eq!(server.is_some(), dir == "overlays/postgres", "{dir}");
        if let Some(server) = server {
            let password = env(container(server, "postgres"), "POSTGRES_PASSWORD");
            let reference = json!({"secretKeyRef": {"name": "vigil-database", "key": "password"}});
            assert_eq!(password["valueFrom"], reference);
        }
        probes_and_service(dir, &objects, vigil);
        rbac_in_models(dir, &objects);
    }
}

/// `/healthz` tells the process lives, `/readyz` that it can serve; the Service reaches the
/// port they probe.
fn probes_and_service(dir: &str, objects: &[Value], vigil: &Value) {
    let probe = |name: &str| &vigil[name]["httpGet"];
    assert_eq!(probe("livenessProbe")["path"], "/healthz", "{dir}");
    assert_eq!(probe("readinessProbe")["path"], "/readyz", "{dir}");
    assert_eq!(probe("startupProbe")["path"], "/healthz", "{dir}");
    let port = &vigil["ports"][0];
    for name in ["livenessProbe", "readinessProbe"] {
        assert_eq!(probe(name)["port"], port["name"], "{dir}: {name}");
    }
    let service = find(objects, "Service", "vigil").expect("the daemon's Service");
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"], port["name"],
        "{dir}"
    );
    let config = format!("{}", vigil["env"]);
    assert!(config.contains("/etc/vigil/vigil.toml"), "{dir}: {config}");
}

/// The Role and its binding sit in the models' namespace and name the daemon's account.
fn rbac_in_models(dir: &str, objects: &[Value]) {
    let role = find(objects, "Role", "vigil").expect("the Role");
    let binding = find(objects, "RoleBinding", "vigil").expect("the RoleBinding");
    assert_eq!(role["metadata"]["namespace"], MODELS, "{dir}");
    assert_eq!(binding["metadata"]["namespace"], MODELS, "{dir}");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "vigil", "namespace": "vigil"}]),
        "{dir}"
    );
    let verbs = format!("{}", role["rules"]);
    assert!(
        !verbs.contains('*'),
        "{dir}: a wildcard in the Role: {verbs}"
    );
}

#[test]
#[ignore = "needs kubectl 1.20: scripts/test.sh provides it"]
fn the_overlay_docs_deploy_md_shows_sets_the_image_and_moves_the_role() {
    let docs = std::fs::read_to_string(deploy_dir().join("../docs/deploy.md")).unwrap();
    let overlay = tempfile::tempdir().unwrap();
    // The docs' overlay sits beside the repository; this one is in a temporary directory, and
    // kubectl 1.20's kustomize takes only relative paths under `bases`.
    let depth = overlay.path().canonicalize().unwrap().components().count() - 1;
    let repository = deploy_dir().join("..").canonicalize().unwrap();
    let relative = Path::new(&"../".repeat(depth)).join(repository.strip_prefix("/").unwrap());
    let kustomization = [
        doc_block(&docs, "# my-vigil/kustomization.yaml\n"),
        doc_block(&docs, "# my-vigil/kustomization.yaml, continued\n"),
    ]
    .concat()
    .replace("../vigil/", &format!("{}/", relative.display()));
    let patch = doc_block(&docs, "# my-vigil/models-namespace.yaml\n");
    std::fs::write(overlay.path().join("kustomization.yaml"), kustomization).unwrap();
    std::fs::write(overlay.path().join("models-namespace.yaml"), patch).unwrap();

    let objects = kubectl::render_path(overlay.path());
    let daemon = find(&objects, "Deployment", "vigil").unwrap();
    assert_eq!(
        container(daemon, "vigil")["image"],
        "registry.example.com/vigil:0.1.0"
    );
    assert!(find(&objects, "StatefulSet", "vigil-postgres").is_some());
    for kind in ["Role", "RoleBinding"] {
        let object = find(&objects, kind, "vigil").unwrap();
        assert_eq!(object["metadata"]["namespace"], "ml-serving", "{kind}");
    }
    // The binding still names the daemon's account, in the daemon's namespace.
    let binding = find(&objects, "RoleBinding", "vigil").unwrap();
    assert_eq!(binding["subjects"][0]["namespace"], "vigil");
}

/// The YAML block of `docs` that starts with the line `first`.
fn doc_block(docs: &str, first: &str) -> String {
    let start = docs
        .find(&format!("```yaml\n{first}"))
        .unwrap_or_else(|| panic!("docs/deploy.md has no block starting {first:?}"))
        + "```yaml\n".len();
    let length = docs[start..].find("```").expect("the block's end");
    docs[start..start + length].to_string()
}

#[test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
fn every_install_applies_and_uninstalls() {
    let (cluster, _serial) = Cluster::get();
    let _models = cluster.namespace(MODELS);
    for (dir, mode) in INSTALLS.into_iter().zip(APPLY_MODES) {
        let installed = cluster.install(dir, mode);
        let path = installed.path();
        // Everything rendered is on the server.
        let on_server: Value =
            serde_json::from_str(&cluster.ok(&["get", "-k", path, "-o", "json"]))
                .expect("kubectl get -o json");
        let on_server = on_server["items"].as_array().expect("a List");
        assert_eq!(names(on_server), names(&render(dir)), "{dir}");
        // Applied again the same way, nothing is refused and nothing changes.
        cluster.ok(&[&["apply", "--dry-run=server", "-k", path], mode].concat());
        let diff = cluster.kubectl(&[&["diff", "-k", path], mode].concat());
        let shown = String::from_utf8_lossy(&diff.stdout);
        // kubectl diff exits with 1 when it shows differences, above 1 when it failed.
        assert!(
            diff.status.code().is_some_and(|code| code <= 1) && changed_lines(&shown).is_empty(),
            "{dir}: a second apply would change this:\n{shown}{}",
            String::from_utf8_lossy(&diff.stderr)
        );
        // The example model goes where the Role is.
        let example = deploy_dir().join("examples/churn-model.yaml");
        cluster.ok(&["apply", "--dry-run=server", "-f", example.to_str().unwrap()]);
    }
}

#[test]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
fn the_daemon_may_do_what_can_i_txt_lists_and_nothing_more() {
    let (cluster, _serial) = Cluster::get();
    let _models = cluster.namespace(MODELS);
    let _other = cluster.namespace("vigil-test-elsewhere");
    let _installed = cluster.install("base", &[]);

    // Beyond what any account of its namespace may do (the cluster's discovery and
    // self-review rules, which vary between clusters), exactly can-i.txt.
    let list = |account: &str| {
        let who = format!("--as={account}");
        cluster.ok(&["auth", "can-i", "--list", &who, "--namespace", MODELS])
    };
    let daemon = list(SERVICE_ACCOUNT);
    let anyone = list("system:serviceaccount:vigil:nobody");
    assert_eq!(
        beyond(rows(&daemon), &rows(&anyone)),
        rows(&read("rbac/can-i.txt")),
        "kubectl auth can-i --list as the daemon in {MODELS}:\n{daemon}\nas any account:\n{anyone}"
    );

    // What the Kubernetes backend does (docs/orchestration.md).
    for (verb, resource) in [
        ("create", "jobs.batch"),
        ("get", "jobs.batch"),
        ("watch", "jobs.batch"),
        ("patch", "jobs.batch"),
        ("create", "secrets"),
        ("patch", "deployments.apps/churn-model"),
        ("watch", "deployments.apps"),
        // (InferenceServices too, which the list above shows: kubectl cannot name a resource
        // whose CRD the cluster lacks.)
    ] {
        assert!(
            cluster.daemon_can(verb, resource, Some(MODELS)),
            "{verb} {resource}"
        );
    }
    // Nothing beyond it in the models' namespace: no reading Secrets back, no pods, no deletes,
    // no granting itself more.
    for (verb, resource) in [
        ("get", "secrets"),
        ("list", "secrets"),
        ("watch", "secrets"),
        ("patch", "secrets"),
        ("delete", "secrets"),
        ("create", "pods"),
        ("create", "pods/exec"),
        ("get", "pods/log"),
        ("create", "deployments.apps"),
        ("update", "deployments.apps"),
        ("delete", "deployments.apps"),
        ("delete", "jobs.batch"),
        ("update", "jobs.batch"),
        ("create", "roles.rbac.authorization.k8s.io"),
        ("create", "rolebindings.rbac.authorization.k8s.io"),
        ("*", "*"),
    ] {
        assert!(
            !cluster.daemon_can(verb, resource, Some(MODELS)),
            "{verb} {resource}"
        );
    }
    // Nothing cluster-wide.
    for (verb, resource) in [
        ("create", "namespaces"),
        ("list", "namespaces"),
        ("list", "nodes"),
        ("list", "secrets"),
        ("create", "jobs.batch"),
        ("*", "*"),
    ] {
        assert!(
            !cluster.daemon_can(verb, resource, None),
            "{verb} {resource} anywhere"
        );
    }
    // Nothing in any other namespace, its own included.
    for namespace in ["vigil", "vigil-test-elsewhere", "default", "kube-system"] {
        for (verb, resource) in [
            ("create", "jobs.batch"),
            ("patch", "deployments.apps"),
            ("create", "secrets"),
            ("get", "secrets"),
            ("get", "configmaps"),
        ] {
            assert!(
                !cluster.daemon_can(verb, resource, Some(namespace)),
                "{verb} {resource} in {namespace}"
            );
        }
    }
}

/// "KIND NAME" of each object, sorted.
fn names(objects: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = objects
        .iter()
        .map(|object| format!("{} {}", object["kind"], object["metadata"]["name"]))
        .collect();
    names.sort();
    names
}

/// The lines `kubectl diff` shows changed, but for the time of a field manager's entry: on
/// Kubernetes 1.20 a server-side apply stamps it anew whenever the object holds an atomic list
/// the server has filled defaults into (a StatefulSet's volumeClaimTemplates), though nothing
/// else changes.
fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|line| !line.starts_with("+++") && !line.starts_with("---"))
        .filter(|line| line.starts_with('+') || line.starts_with('-'))
        .filter(|line| !line[1..].trim_start().starts_with("time: "))
        .collect()
}

/// The rows of `rows` that are not in `baseline`, which must all be in `rows`.
fn beyond(mut rows: Vec<String>, baseline: &[String]) -> Vec<String> {
    for row in baseline {
        let at = rows
            .iter()
            .position(|r| r == row)
            .unwrap_or_else(|| panic!("the daemon may not do what any account may: {row}"));
        rows.remove(at);
    }
    rows
}

/// The rows of a `kubectl auth can-i --list` table, whatever the column widths, sorted; lines
/// starting with `#` are comments.
fn rows(table: &str) -> Vec<String> {
    let mut rows: Vec<String> = table
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    rows.sort();
    rows
}

#[test]
fn the_monitor_actions_example_names_what_deploy_installs() {
    let actions: toml::Table =
        toml::from_str(&read("examples/monitor-actions.toml")).expect("TOML");
    let actions = &actions["actions"];
    let job: vigil_orchestrator::KubeJob = actions["retrain"]["kubernetes"]
        .clone()
        .try_into()
        .expect("a Kubernetes Job template");
    assert!(!job.image.is_empty() && !job.command.is_empty());
    assert!(job.backoff_limit <= 6 && job.active_deadline_seconds > 0);
    let resources = job.resources.expect("resources");
    assert!(resources["requests"]["cpu"].is_string(), "{resources}");

    // The Job's namespace is one the daemon's configuration allows and its Role covers.
    let config: toml::Table = toml::from_str(&read("daemon/vigil.toml")).expect("TOML");
    let allowed = config["kubernetes_namespaces"].as_array().unwrap();
    assert!(
        allowed
            .iter()
            .any(|namespace| namespace.as_str() == Some(&job.namespace))
    );
    let rbac = &parse_yaml(&read("rbac/kustomization.yaml"), "rbac")[0];
    assert_eq!(rbac["namespace"], job.namespace.as_str());

    // The rollout target is the example model's Deployment and container.
    let target = &actions["rollout"]["deployment"];
    let objects = parse_yaml(&read("examples/churn-model.yaml"), "churn-model.yaml");
    let model = find(&objects, "Deployment", target["name"].as_str().unwrap()).unwrap();
    assert_eq!(
        model["metadata"]["namespace"],
        target["namespace"].as_str().unwrap()
    );
    let serving = container(model, target["container"].as_str().unwrap());
    // Vigil owns the model-URI variable: the manifest leaves it out, or its first apply would
    // conflict with the manifest's field manager.
    let variable = target["model_uri_env"].as_str().unwrap();
    assert!(
        serving["env"]
            .as_array()
            .is_none_or(|env| env.iter().all(|v| v["name"] != variable)),
        "{variable} is Vigil's to set"
    );
}

#[test]
fn the_example_model_rolls_out_without_a_gap() {
    let objects = parse_yaml(&read("examples/churn-model.yaml"), "churn-model.yaml");
    let model = find(&objects, "Deployment", "churn-model").expect("the Deployment");
    assert_eq!(model["metadata"]["namespace"], MODELS);
    assert_eq!(
        model["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        0
    );
    let serving = container(model, "model");
    assert!(
        serving["readinessProbe"].is_object(),
        "a rollout waits for readiness"
    );
    assert!(model["spec"]["progressDeadlineSeconds"].is_number());
    let pod = pod_spec(model).unwrap();
    let violations = restricted_violations(model, pod);
    // A model may write to its root filesystem; the rest of the restricted profile holds.
    let violations: Vec<_> = violations
        .into_iter()
        .filter(|v| !v.contains("readOnlyRootFilesystem"))
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn the_analysis_template_asks_for_the_verdict_with_a_token_from_a_secret() {
    let path = "examples/argo-rollouts/analysis-template.yaml";
    let objects = parse_yaml(&read(path), path);
    let template = find(&objects, "AnalysisTemplate", "vigil-verdict").expect("the template");
    assert_eq!(template["apiVersion"], "argoproj.io/v1alpha1");
    let spec = &template["spec"];
    let arg = |name: &str| {
        spec["args"]
            .as_array()
            .and_then(|args| args.iter().find(|arg| arg["name"] == name))
            .unwrap_or_else(|| panic!("no argument {name}"))
    };
    assert!(
        arg("model").get("value").is_none(),
        "the Rollout names the model"
    );
    let reference = json!({"secretKeyRef": {"name": "vigil-verdict-token", "key": "token"}});
    assert_eq!(arg("vigil-token")["valueFrom"], reference);
    // The default address is the daemon's Service in deploy/daemon.
    let service = &parse_yaml(&read("daemon/service.yaml"), "service.yaml")[0];
    let address = format!(
        "http://{}.{}.svc:{}",
        service["metadata"]["name"].as_str().unwrap(),
        service["metadata"]["namespace"].as_str().unwrap(),
        service["spec"]["ports"][0]["port"]
    );
    assert_eq!(arg("vigil-url")["value"], address.as_str());
    // Retraining runs are told the same address.
    let config: toml::Table = toml::from_str(&read("daemon/vigil.toml")).expect("TOML");
    assert_eq!(config["public_url"].as_str(), Some(address.as_str()));

    let metric = &spec["metrics"][0];
    let web = &metric["provider"]["web"];
    assert_eq!(
        web["url"],
        "{{args.vigil-url}}/v1/models/{{args.model}}/verdict"
    );
    assert_eq!(
        web["headers"],
        json!([{"key": "Authorization", "value": "Bearer {{args.vigil-token}}"}])
    );
    assert_eq!(web["jsonPath"], "{$}", "the whole verdict is the result");
    assert_eq!(metric["successCondition"], "result.healthy == true");
    assert_eq!(metric["failureCondition"], "result.healthy == false");
}
