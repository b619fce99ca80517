//! The daemon acting on Kubernetes, from outside (docs/orchestration.md): `vigil serve`
//! processes with `orchestrator = "kubernetes"` against the API server and controller manager
//! scripts/test.sh starts (or any test cluster `VIGIL_TEST_KUBECONFIG` names), checked through
//! Vigil's API and kubectl. Each test works in a namespace of its own.
//!
//! No kubelet runs, and no training code: the tests play both. As the kubelet they write pod
//! status (a model pod is Ready, a training pod Succeeded or Failed, when a test says so); as
//! the training run they read the run's token from the Secret Vigil made for it, as its pod
//! would, and report a version through the retraining protocol (docs/retraining.md).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Api, Child, eventually, records_csv};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const WINDOW: usize = 200;
/// Short, so that a takeover happens within the test; the default is 15 s.
const LEASE_TTL_MS: u64 = 2_000;
const ARTIFACTS: &str = "s3://models/m";

// ---------------------------------------------------------------------------------------------
// The cluster, through kubectl.

/// Where scripts/k8s-testenv.sh caches the kubectl matching its API server.
const CACHED_KUBECTL: &str = "/var/cache/vigil-k8s-testenv/current/bin/kubectl";

fn kubeconfig() -> PathBuf {
    std::env::var_os("VIGIL_TEST_KUBECONFIG")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .expect(
            "VIGIL_TEST_KUBECONFIG names no kubeconfig: scripts/test.sh starts an API server and \
             sets it; or point it at a test cluster",
        )
}

/// A namespace of the test cluster for one test, deleted when dropped.
struct Namespace {
    name: String,
    kubeconfig: PathBuf,
    kubectl: PathBuf,
}

impl Namespace {
    fn create() -> Namespace {
        let random = uuid::Uuid::new_v4().simple().to_string();
        let ns = Namespace {
            name: format!("vigil-daemon-{}", &random[..10]),
            kubeconfig: kubeconfig(),
            kubectl: std::env::var_os("VIGIL_TEST_KUBECTL")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| CACHED_KUBECTL.into()),
        };
        ns.run_ok(&["create", "namespace", &ns.name], None);
        ns
    }

    /// Runs kubectl in the namespace, with `input` on its standard input.
    fn run(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--namespace", &self.name])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot run {}: {err}; scripts/test.sh installs kubectl 1.20 there, or set \
                     VIGIL_TEST_KUBECTL",
                    self.kubectl.display()
                )
            });
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            std::io::Write::write_all(&mut stdin, input.as_bytes()).unwrap();
        }
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    fn run_ok(&self, args: &[&str], input: Option<&str>) -> String {
        let output = self.run(args, input);
        assert!(
            output.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn get(&self, what: &str) -> Value {
        serde_json::from_str(&self.run_ok(&["get", what, "-o", "json"], None)).unwrap()
    }

    fn items(&self, kind: &str) -> Vec<Value> {
        self.get(kind)["items"].as_array().unwrap().clone()
    }

    fn apply(&self, object: &Value) {
        self.run_ok(&["apply", "-f", "-"], Some(&object.to_string()));
    }

    /// The value of `key` in Secret `name`, as a pod that mounts it reads it.
    fn secret_value(&self, name: &str, key: &str) -> String {
        let template = format!("--template={{{{.data.{key} | base64decode}}}}");
        self.run_ok(
            &["get", "secret", name, "-o", "go-template", &template],
            None,
        )
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Pods without a kubelet never finish terminating: the namespace goes in the background.
        let _ = self.run(&["delete", "namespace", &self.name, "--wait=false"], None);
    }
}

// ---------------------------------------------------------------------------------------------
// Playing the kubelet.

/// What the kubelet does with the pods it sees (each pod is written once).
#[derive(Default)]
struct Script {
    /// Model pods of these versions become Ready (those of the owner's own template, without
    /// a version, always do).
    ready_versions: BTreeSet<String>,
    /// A training pod of this run ends in this phase.
    runs: BTreeMap<String, &'static str>,
}

/// Writes pod status as a kubelet would, by [`Script`], from a thread that polls the
/// namespace's pods.
struct Kubelet {
    script: Arc<Mutex<Script>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Kubelet {
    fn start(ns: &Namespace) -> Kubelet {
        let script = Arc::new(Mutex::new(Script::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let ns = Namespace {
            name: ns.name.clone(),
            kubeconfig: ns.kubeconfig.clone(),
            kubectl: ns.kubectl.clone(),
        };
        let thread = std::thread::spawn({
            let (script, stop) = (script.clone(), stop.clone());
            move || {
                let mut written = BTreeSet::new();
                while !stop.load(Ordering::Relaxed) {
                    let output = ns.run(&["get", "pods", "-o", "json"], None);
                    let pods: Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
                    for pod in pods["items"].as_array().into_iter().flatten() {
                        let name = pod["metadata"]["name"].as_str().unwrap().to_string();
                        if written.contains(&name)
                            || !pod["metadata"]["deletionTimestamp"].is_null()
                        {
                            continue;
                        }
                        let Some(status) = decide(pod, &script.lock().unwrap()) else {
                            continue;
                        };
                        let mut pod = pod.clone();
                        pod["status"] = status;
                        let path = format!("/api/v1/namespaces/{}/pods/{name}/status", ns.name);
                        // A conflict (the pod changed meanwhile) is tried again next round.
                        if ns
                            .run(
                                &["replace", "--raw", &path, "-f", "-"],
                                Some(&pod.to_string()),
                            )
                            .status
                            .success()
                        {
                            written.insert(name);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                std::mem::forget(ns); // the test's own Namespace deletes it
            }
        });
        Kubelet {
            script,
            stop,
            thread: Some(thread),
        }
    }

    fn ready(&self, version: &str) {
        self.script
            .lock()
            .unwrap()
            .ready_versions
            .insert(version.to_string());
    }

    fn end_run(&self, run: &str, phase: &'static str) {
        self.script
            .lock()
            .unwrap()
            .runs
            .insert(run.to_string(), phase);
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn decide(pod: &Value, script: &Script) -> Option<Value> {
    let labels = &pod["metadata"]["labels"];
    if let Some(run) = labels["vigil.dev/run"].as_str() {
        let phase = *script.runs.get(run)?;
        return Some(json!({"phase": phase}));
    }
    let ready = match labels["vigil.dev/version"].as_str() {
        Some(version) => script.ready_versions.contains(version),
        None => labels["app"] == "model",
    };
    ready.then(|| json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}))
}

/// The model's Deployment as its owner applies it (docs/orchestration.md, "Preparing a
/// Deployment for Vigil"): two replicas, the rolling update Vigil needs set explicitly, no
/// model URI.
fn create_model_deployment(ns: &Namespace, progress_deadline_seconds: i64) {
    ns.apply(&json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "model"},
        "spec": {
            "replicas": 2,
            "progressDeadlineSeconds": progress_deadline_seconds,
            "selector": {"matchLabels": {"app": "model"}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "model"}},
                "spec": {"containers": [{
                    "name": "model", "image": "example.invalid/model:1",
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                }]},
            },
        },
    }));
}

/// The version the Deployment's pod template names, and its model URI.
fn deployed(ns: &Namespace) -> (Option<String>, Option<String>) {
    let deployment = ns.get("deployment/model");
    let template = &deployment["spec"]["template"];
    let version = template["metadata"]["labels"]["vigil.dev/version"]
        .as_str()
        .map(str::to_string);
    let uri = template["spec"]["containers"][0]["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "MODEL_URI")
        .and_then(|e| e["value"].as_str())
        .map(str::to_string);
    (version, uri)
}

// ---------------------------------------------------------------------------------------------
// The daemon.

/// A daemon's configuration file for namespace `ns` (and `extra` settings).
fn config_file(dir: &Path, ns: &Namespace, extra: &str) -> PathBuf {
    let path = dir.join("vigil.toml");
    std::fs::write(
        &path,
        format!(
            r#"listen = "127.0.0.1:0"
tick_ms = 50
orchestrator = "kubernetes"
public_url = "http://vigil.invalid:8080"
kubernetes_namespaces = ["{}"]
kubernetes_images = ["example.invalid/"]
training_timeout_secs = 120
rollout_timeout_secs = 60
{extra}
"#,
            ns.name
        ),
    )
    .unwrap();
    path
}

fn serve(db: &str, dir: &Path, config: &Path, log: &str) -> (Child, String) {
    let mut command = common::vigil_command(db, &dir.join("cache"));
    command
        .env("KUBECONFIG", kubeconfig())
        .env("RUST_LOG", "vigil=info")
        .arg("serve")
        .arg("--config")
        .arg(config);
    common::serve(command, &dir.join(log))
}

/// The monitor's `actions`: a Job in `ns` to retrain, the Deployment `model` to roll out.
fn actions(ns: &Namespace) -> Value {
    json!({
        "training_records": 400,
        "retrain": {"kubernetes": {
            "namespace": ns.name, "image": "example.invalid/train:1", "command": ["train"],
            "backoff_limit": 0, "run_as_user": 65532,
        }},
        "rollout": {"deployment": {
            "namespace": ns.name, "name": "model", "container": "model",
            "model_uri_env": "MODEL_URI",
        }},
        "gate": {"metric": "accuracy", "margin": 0.02},
    })
}

/// Model `m` and its monitor `watch`, acting on `ns`; v1 registered and rolled out by hand.
async fn model_serving_v1(api: &Api, base: &str, ns: &Namespace, kubelet: &Kubelet) {
    api.post_json(
        base,
        "/v1/models",
        json!({"name": "m", "task": "classification"}),
    )
    .await;
    let spec = common::watch_spec(
        WINDOW as u64,
        json!({
            "policy": {"plugin": "policy-threshold",
                       "config": {"alert_share": 0.2, "retrain_share": 0.3}},
            "alerts": {"cooldown_seconds": 0, "channels": [{"type": "log"}]},
            "actions": actions(ns),
        }),
    );
    api.post_json(base, "/v1/monitors", spec).await;
    let (status, body) = api
        .send(
            base,
            Method::PUT,
            "/v1/monitors/watch/reference",
            Some(("text/csv", records_csv("ref", 1, 1000, 0.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    register(api, base, &api.token, "v1", None).await;
    kubelet.ready("v1");
    let answer = api
        .post_json(
            base,
            "/v1/models/m/versions/v1/promote",
            json!({"force": true}),
        )
        .await;
    let action = finished(api, base, answer["action"]["id"].as_i64().unwrap()).await;
    assert_eq!(action["state"], "succeeded", "{action}");
    assert_eq!(
        deployed(ns),
        (Some("v1".into()), Some(format!("{ARTIFACTS}/v1")))
    );
}

/// Registers `version` with `token` (a run's, with its `run_id`, or the admin's).
async fn register(api: &Api, base: &str, token: &str, version: &str, run: Option<&str>) {
    let mut body = json!({
        "version": version, "artifact_uri": format!("{ARTIFACTS}/{version}"),
        "metrics": {"accuracy": 0.97},
    });
    if let Some(run) = run {
        body["run_id"] = json!(run);
    }
    let (status, answer) = api
        .send_as(
            token,
            base,
            Method::POST,
            "/v1/models/m/versions",
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// One window of labeled records: as the reference (v1 right on all of them), or with `x`
/// shifted (v1 right on half: the policy decides to retrain).
async fn window(api: &Api, base: &str, prefix: &str, drifted: bool) {
    let shift = if drifted { 3.0 } else { 0.0 };
    let csv = records_csv(prefix, 11, WINDOW, shift);
    let xs = common::numbers(11, WINDOW, shift);
    let mut labels = String::from("id,label\n");
    for (i, x) in xs.iter().enumerate() {
        labels.push_str(&format!("{prefix}{i},{}\n", (*x > 0.0) as u8));
    }
    api.post(base, "/v1/models/m/labels", "text/csv", labels.into_bytes())
        .await;
    api.post(base, "/v1/models/m/records", "text/csv", csv)
        .await;
}

/// The entry of `page`'s list `list` whose `key` is `value`.
fn entry(page: &Value, list: &str, key: &str, value: Value) -> Value {
    page[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry[key] == value)
        .cloned()
        .unwrap_or_else(|| panic!("no {key} {value} in {page}"))
}

async fn action(api: &Api, base: &str, id: i64) -> Value {
    let page = api.get(base, "/v1/actions?limit=100").await;
    entry(&page, "actions", "id", json!(id))
}

async fn finished(api: &Api, base: &str, id: i64) -> Value {
    eventually(&format!("action {id} to finish"), || async {
        let action = action(api, base, id).await;
        matches!(action["state"].as_str(), Some("succeeded" | "failed")).then_some(action)
    })
    .await
}

/// The monitor's retraining action, once recorded.
async fn retraining(api: &Api, base: &str) -> Value {
    eventually("a retraining decision", || async {
        let page = api.get(base, "/v1/actions?monitor=watch&limit=100").await;
        page["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "retrain")
            .cloned()
    })
    .await
}

/// The retraining Job, once it exists: its name, and when it was seen.
async fn training_job(ns: &Namespace) -> String {
    eventually("the retraining Job", || async {
        let jobs = ns.items("jobs");
        assert!(jobs.len() <= 1, "more than one Job: {jobs:?}");
        jobs.first()
            .map(|job| job["metadata"]["name"].as_str().unwrap().to_string())
    })
    .await
}

/// A drifted window, the retraining it decides, and its Job: the action and the Job's name.
async fn drift_to_a_job(api: &Api, base: &str, ns: &Namespace) -> (Value, String) {
    window(api, base, "drifted", true).await;
    let decision = retraining(api, base).await;
    (decision, training_job(ns).await)
}

/// The run's token, from its Secret once it exists, as the run's pod reads it.
async fn run_token(ns: &Namespace, run: &str) -> String {
    eventually("the run's Secret", || async {
        let output = ns.run(&["get", "secret", run, "--ignore-not-found"], None);
        (!output.stdout.is_empty()).then(|| ns.secret_value(run, "VIGIL_TOKEN"))
    })
    .await
}

/// Plays the training run: reads its token, checks what it may read, and reports `version`.
/// Returns the token.
async fn play_the_run(api: &Api, base: &str, ns: &Namespace, run: &str, version: &str) -> String {
    let token = run_token(ns, run).await;
    let job = ns.get(&format!("job/{run}"));
    assert!(
        !job.to_string().contains(&token),
        "the token is in the Job: {job}"
    );
    let (status, records) = api
        .send_as(
            &token,
            base,
            Method::GET,
            "/v1/models/m/records?labeled=true&format=ndjson",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the run reads its data: {records}");
    register(api, base, &token, version, Some(run)).await;
    token
}

/// Whether `token` is refused now.
async fn refused(api: &Api, base: &str, token: &str) -> bool {
    let (status, _) = api
        .send_as(token, base, Method::GET, "/v1/models/m/versions", None)
        .await;
    status == StatusCode::UNAUTHORIZED
}

async fn version(api: &Api, base: &str, name: &str) -> Value {
    let page = api.get(base, "/v1/models/m/versions").await;
    entry(&page, "versions", "version", json!(name))
}

async fn serving(api: &Api, base: &str) -> Value {
    api.get(base, "/v1/models/m").await["serving_version"].clone()
}

/// A daemon on SQLite acting on a fresh namespace, with v1 serving.
struct Single {
    ns: Namespace,
    kubelet: Kubelet,
    dir: tempfile::TempDir,
    db: String,
    config: PathBuf,
    api: Api,
    daemon: (Child, String),
}

async fn single(progress_deadline_seconds: i64, settings: &str) -> Single {
    let ns = Namespace::create();
    let kubelet = Kubelet::start(&ns);
    create_model_deployment(&ns, progress_deadline_seconds);
    let dir = tempfile::tempdir().unwrap();
    let db = common::sqlite_database(&dir);
    let api = Api::new(common::cli_token(&db, &dir.path().join("cache"), "admin"));
    let config = config_file(dir.path(), &ns, settings);
    let daemon = serve(&db, dir.path(), &config, "daemon.log");
    model_serving_v1(&api, &daemon.1, &ns, &kubelet).await;
    Single {
        ns,
        kubelet,
        dir,
        db,
        config,
        api,
        daemon,
    }
}

// ---------------------------------------------------------------------------------------------
// One daemon.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn drift_to_a_new_version_serving_across_a_daemon_killed_mid_run() {
    let Single {
        ns,
        kubelet,
        dir,
        db,
        config,
        api,
        mut daemon,
    } = single(600, "").await;
    let base = daemon.1.clone();
    window(&api, &base, "clean", false).await;
    window(&api, &base, "drifted", true).await;
    let decided = Instant::now();
    let decision = retraining(&api, &base).await;
    let run = training_job(&ns).await;
    eprintln!("decision seen → Job created: {:?}", decided.elapsed());
    let job = ns.get(&format!("job/{run}"));
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{pod}");
    assert_eq!(pod["automountServiceAccountToken"], false, "{pod}");

    // The daemon dies while its Job runs; the next one watches that Job, starts no other.
    daemon.0.kill();
    let daemon = serve(&db, dir.path(), &config, "daemon-2.log");
    let base = daemon.1.clone();
    let token = play_the_run(&api, &base, &ns, &run, "v2").await;
    kubelet.ready("v2");
    kubelet.end_run(&run, "Succeeded");
    let action = finished(&api, &base, decision["id"].as_i64().unwrap()).await;
    assert_eq!(action["state"], "succeeded", "{action}");
    assert_eq!(action["attempts"], 2, "resumed once: {action}");
    assert_eq!(ns.items("jobs").len(), 1);

    // Gated against v1's accuracy on the drifted window, rolled out, serving.
    let v2 = version(&api, &base, "v2").await;
    assert_eq!(v2["status"], "serving", "{v2}");
    assert_eq!(v2["run_id"], run.as_str(), "{v2}");
    assert_eq!(serving(&api, &base).await, "v2");
    assert_eq!(version(&api, &base, "v1").await["status"], "retired");
    assert_eq!(
        deployed(&ns),
        (Some("v2".into()), Some(format!("{ARTIFACTS}/v2")))
    );
    let outcome = action["outcome"].as_str().unwrap();
    assert!(outcome.contains("gate passed"), "{outcome}");
    assert!(
        refused(&api, &base, &token).await,
        "the run's token outlived it"
    );
}

/// How many times [`a_daemon_killed_again_and_again_starts_one_job_per_decision`] kills the
/// daemon, and the longest it lets one live (ms): a daemon resumes the action at its first
/// tick (50 ms), and the Job, its Secret and the annotation take a few requests after that.
const KILLS: u64 = 20;
const LONGEST_LIFE_MS: u64 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_daemon_killed_again_and_again_starts_one_job_per_decision() {
    let Single {
        ns,
        kubelet,
        dir,
        db,
        config,
        api,
        mut daemon,
    } = single(600, "").await;
    window(&api, &daemon.1, "drifted", true).await;
    // Killed at points spread over its first 150 ms (the decision is taken and its Job made
    // within them), each next daemon resuming what the last left. What each kill left is
    // counted: nothing yet, a Job without its Secret, a Job without the annotation, all.
    let mut left: BTreeMap<&str, u32> = BTreeMap::new();
    for kill in 0..KILLS {
        // The moment of the kill is the test's input, not a wait for something to happen.
        let life = Duration::from_millis((kill * 37) % LONGEST_LIFE_MS);
        tokio::time::sleep(life).await;
        daemon.0.kill();
        let jobs = ns.items("jobs");
        assert!(jobs.len() <= 1, "after kill {kill}: {jobs:?}");
        let secrets = ns.items("secrets");
        let state = match jobs.first() {
            None => "no Job",
            Some(job) => {
                let name = &job["metadata"]["name"];
                if !secrets.iter().any(|s| &s["metadata"]["name"] == name) {
                    "a Job without its Secret"
                } else if job["metadata"]["annotations"]["vigil.dev/token-secret"].is_null() {
                    "a Job and Secret, not annotated"
                } else {
                    "a Job and its Secret"
                }
            }
        };
        *left.entry(state).or_default() += 1;
        daemon = serve(&db, dir.path(), &config, &format!("daemon-{kill}.log"));
    }
    eprintln!("what the {KILLS} kills left: {left:?}");
    let base = daemon.1.clone();
    let converged = Instant::now();
    let decision = retraining(&api, &base).await;
    let run = training_job(&ns).await;
    play_the_run(&api, &base, &ns, &run, "v2").await;
    eprintln!(
        "after the last start: Job and Secret ready in {:?}",
        converged.elapsed()
    );
    let job = ns.get(&format!("job/{run}"));
    assert_eq!(
        job["metadata"]["annotations"]["vigil.dev/token-secret"],
        run.as_str(),
        "{job}"
    );
    kubelet.ready("v2");
    kubelet.end_run(&run, "Succeeded");
    let action = finished(&api, &base, decision["id"].as_i64().unwrap()).await;
    assert_eq!(action["state"], "succeeded", "{action}");
    assert_eq!(ns.items("jobs").len(), 1);
    assert_eq!(
        ns.items("secrets")
            .iter()
            .filter(|s| s["metadata"]["name"] == run.as_str())
            .count(),
        1
    );
    let page = api.get(&base, "/v1/actions?monitor=watch&limit=100").await;
    let retrains = page["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "retrain")
        .count();
    assert_eq!(retrains, 1, "one decision: {page}");
    assert_eq!(serving(&api, &base).await, "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_job_that_fails_fails_the_retraining_and_changes_nothing() {
    let s = single(600, "").await;
    let base = s.daemon.1.clone();
    let (decision, run) = drift_to_a_job(&s.api, &base, &s.ns).await;
    let token = run_token(&s.ns, &run).await;
    s.kubelet.end_run(&run, "Failed");
    let action = finished(&s.api, &base, decision["id"].as_i64().unwrap()).await;
    assert_eq!(action["state"], "failed", "{action}");
    let outcome = action["outcome"].as_str().unwrap();
    assert!(
        outcome.contains(&format!("retraining run `{run}` failed")),
        "{outcome}"
    );
    assert_eq!(serving(&s.api, &base).await, "v1");
    assert_eq!(
        deployed(&s.ns),
        (Some("v1".into()), Some(format!("{ARTIFACTS}/v1")))
    );
    assert!(refused(&s.api, &base, &token).await);
    assert_eq!(
        s.ns.items("jobs").len(),
        1,
        "no second attempt of one decision"
    );
    drop(s.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_rollout_that_never_gets_ready_is_rolled_back_failed_and_alerted() {
    // v2's pods never get ready: the Deployment's progress deadline runs out.
    let s = single(3, "").await;
    let base = s.daemon.1.clone();
    let (decision, run) = drift_to_a_job(&s.api, &base, &s.ns).await;
    play_the_run(&s.api, &base, &s.ns, &run, "v2").await;
    s.kubelet.end_run(&run, "Succeeded");
    let action = finished(&s.api, &base, decision["id"].as_i64().unwrap()).await;
    let outcome = action["outcome"].as_str().unwrap().to_string();
    assert!(outcome.contains("rolled back"), "{action}");

    let v2 = version(&s.api, &base, "v2").await;
    assert_eq!(v2["status"], "failed", "{v2}");
    assert_eq!(serving(&s.api, &base).await, "v1");
    assert_eq!(
        deployed(&s.ns),
        (Some("v1".into()), Some(format!("{ARTIFACTS}/v1")))
    );
    let alerts = s.api.get(&base, "/v1/alerts?monitor=watch").await;
    assert!(
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["cause"] == "rollout-failed"),
        "{alerts}"
    );
}

// ---------------------------------------------------------------------------------------------
// Two replicas on Postgres.

/// Two replicas on a fresh Postgres database acting on a fresh namespace, with v1 serving.
struct Pair {
    ns: Namespace,
    kubelet: Kubelet,
    api: Api,
    replicas: [(Child, String); 2],
    dir: tempfile::TempDir,
}

async fn pair() -> Pair {
    let ns = Namespace::create();
    let kubelet = Kubelet::start(&ns);
    create_model_deployment(&ns, 600);
    let dir = tempfile::tempdir().unwrap();
    let db = common::postgres_database();
    let api = Api::new(common::cli_token(&db, &dir.path().join("cache"), "admin"));
    let config = config_file(dir.path(), &ns, &format!("lease_ttl_ms = {LEASE_TTL_MS}"));
    let a = serve(&db, dir.path(), &config, "a.log");
    let b = serve(&db, dir.path(), &config, "b.log");
    model_serving_v1(&api, &a.1, &ns, &kubelet).await;
    Pair {
        ns,
        kubelet,
        api,
        replicas: [a, b],
        dir,
    }
}

impl Pair {
    /// Which replica holds the monitor's lease (index), once one does.
    async fn holder(&self) -> usize {
        eventually("a holder of the monitor's lease", || async {
            let status = self.api.get(&self.replicas[0].1, "/v1/status").await;
            let lease = status["leases"]
                .as_array()?
                .iter()
                .find(|l| l["name"].as_str().unwrap().starts_with("monitor/"))?
                .clone();
            Some(usize::from(lease["holder"] != status["holder"]))
        })
        .await
    }

    /// Waits until the replica at `index` holds the monitor's lease; how long it took.
    async fn until_held_by(&self, index: usize, since: Instant) -> Duration {
        let base = &self.replicas[index].1;
        eventually("the other replica to take the monitor", || async {
            let status = self.api.get(base, "/v1/status").await;
            status["leases"]
                .as_array()?
                .iter()
                .any(|l| {
                    l["name"].as_str().unwrap().starts_with("monitor/")
                        && l["holder"] == status["holder"]
                })
                .then(|| since.elapsed())
        })
        .await
    }

    fn log(&self, index: usize) -> String {
        let name = ["a.log", "b.log"][index];
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Postgres and a Kubernetes API server: scripts/test.sh provides them"]
async fn a_replica_killed_mid_retraining_is_finished_by_the_other() {
    let mut p = pair().await;
    let holding = p.holder().await;
    let other = 1 - holding;
    let base = p.replicas[other].1.clone();
    let (decision, run) = drift_to_a_job(&p.api, &base, &p.ns).await;

    p.replicas[holding].0.kill();
    let killed = Instant::now();
    let took_over = p.until_held_by(other, killed).await;
    eprintln!("takeover {took_over:?} after the kill");
    assert!(
        took_over <= Duration::from_millis(LEASE_TTL_MS) + Duration::from_secs(5),
        "{took_over:?}"
    );
    play_the_run(&p.api, &base, &p.ns, &run, "v2").await;
    p.kubelet.ready("v2");
    p.kubelet.end_run(&run, "Succeeded");
    let action = finished(&p.api, &base, decision["id"].as_i64().unwrap()).await;
    assert_eq!(action["state"], "succeeded", "{action}");
    assert_eq!(p.ns.items("jobs").len(), 1);
    assert_eq!(serving(&p.api, &base).await, "v2");
    assert_eq!(
        deployed(&p.ns),
        (Some("v2".into()), Some(format!("{ARTIFACTS}/v2")))
    );
    let actions = p
        .api
        .get(&base, "/v1/actions?monitor=watch&limit=100")
        .await;
    let retrains: Vec<&Value> = actions["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "retrain")
        .collect();
    assert_eq!(retrains.len(), 1, "one decision, one action: {actions}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Postgres and a Kubernetes API server: scripts/test.sh provides them"]
async fn a_paused_replica_stops_its_model_change_when_it_wakes_without_the_lease() {
    let p = pair().await;
    let holding = p.holder().await;
    let other = 1 - holding;
    let base = p.replicas[other].1.clone();
    let (decision, run) = drift_to_a_job(&p.api, &base, &p.ns).await;

    // The holder pauses while it watches the Job; the other takes the monitor, resumes the
    // retraining and waits on the model's lease, which runs out too.
    let pid = p.replicas[holding].0.0.id().to_string();
    let signal = |name: &str| {
        let status = Command::new("kill").args([name, &pid]).status().unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    let paused = Instant::now();
    p.until_held_by(other, paused).await;
    eventually("the retraining resumed by the other replica", || async {
        (action(&p.api, &base, decision["id"].as_i64().unwrap()).await["attempts"] == 2)
            .then_some(())
    })
    .await;
    signal("-CONT");
    eventually("the woken replica to stop its model change", || async {
        p.log(holding)
            .contains("lost the lease while changing the model")
            .then_some(())
    })
    .await;

    play_the_run(&p.api, &base, &p.ns, &run, "v2").await;
    p.kubelet.ready("v2");
    p.kubelet.end_run(&run, "Succeeded");
    let action = finished(&p.api, &base, decision["id"].as_i64().unwrap()).await;
    assert_eq!(action["state"], "succeeded", "{action}");
    assert_eq!(action["attempts"], 2, "{action}");
    assert_eq!(p.ns.items("jobs").len(), 1);
    assert_eq!(serving(&p.api, &base).await, "v2");
    // Only the replica that finished the retraining rolled v2 out.
    let log = p.log(holding);
    assert!(
        !log.lines()
            .any(|l| l.contains("rolling out") && l.contains("v2")),
        "{log}"
    );
    assert!(
        p.log(other)
            .lines()
            .any(|l| l.contains("rolling out") && l.contains("v2"))
    );
}

/// The alerts of the monitor with `cause`.
async fn alerts_of(api: &Api, base: &str, cause: &str) -> Vec<Value> {
    let page = api.get(base, "/v1/alerts?monitor=watch&limit=100").await;
    page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["cause"] == cause)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kubernetes API server: scripts/test.sh provides it"]
async fn a_target_changed_between_rollouts_is_brought_back_or_alerted_once() {
    let s = single(600, "target_check_secs = 1").await;
    let base = s.daemon.1.clone();
    let v1 = (Some("v1".to_string()), Some(format!("{ARTIFACTS}/v1")));

    // Deleted: nothing to bring back, an alert.
    s.ns.run_ok(&["delete", "deployment", "model"], None);
    let missing = eventually("an alert for the deleted target", || async {
        alerts_of(&s.api, &base, "target-drifted").await.pop()
    })
    .await;
    let message = missing["message"].as_str().unwrap();
    assert!(message.contains("does not exist"), "{message}");

    // Made again by its owner, without Vigil's fields: Vigil applies them again.
    create_model_deployment(&s.ns, 600);
    eventually("v1's fields applied again", || async {
        (deployed(&s.ns) == v1).then_some(())
    })
    .await;

    // Changed by another field manager: Vigil does not take the field back; it alerts, once.
    s.ns.run_ok(
        &["set", "env", "deployment/model", "MODEL_URI=s3://elsewhere"],
        None,
    );
    let conflict = eventually("an alert for the changed target", || async {
        let alerts = alerts_of(&s.api, &base, "target-drifted").await;
        (alerts.len() == 2).then(|| alerts[0].clone())
    })
    .await;
    let message = conflict["message"].as_str().unwrap();
    assert!(
        message.contains("conflict") && message.contains("kubectl-set"),
        "{message}"
    );
    // Three more checks see the same cause: no second alert. (Absence takes a while to see.)
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(alerts_of(&s.api, &base, "target-drifted").await.len(), 2);
    assert_eq!(deployed(&s.ns).1.as_deref(), Some("s3://elsewhere"));
    assert_eq!(serving(&s.api, &base).await, "v1");
}
