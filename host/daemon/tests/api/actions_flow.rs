//! Acting on models, from outside: a daemon on the local backend whose runs and model servers
//! are real processes (the bundled model program `vigil-model`, and small shell commands where
//! a misbehaving one is needed), checked only through the API (docs/orchestration.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vigil::config::{Config, OrchestratorKind};
use vigil_orchestrator::LocalCommand;

use crate::common::{Daemon, numbers, records_csv, sqlite_database, start, start_with};

/// Long enough for a training run and a model server's start on a busy machine.
const PATIENCE: Duration = Duration::from_secs(120);

/// The serving command: `vigil-model serve`, except for versions whose name says they
/// misbehave: `never-…` runs but never answers its health check, `exits-…` exits at once
/// with status 3.
const SERVE_SCRIPT: &str = r#"case "$1" in
  never-*) exec sleep 600 ;;
  exits-*) exit 3 ;;
esac
exec "$4" serve --port "$2" --artifact "$3" --version "$1""#;

/// The bundled model program, beside the daemon's binary.
fn model_program() -> PathBuf {
    let program = Path::new(env!("CARGO_BIN_EXE_vigil")).with_file_name("vigil-model");
    assert!(
        program.exists(),
        "these tests run the model program {}: `cargo test --workspace` builds it (or `cargo \
         build --release -p vigil-model`)",
        program.display()
    );
    program
}

fn command(program: &str, args: &[&str]) -> LocalCommand {
    LocalCommand {
        program: program.to_string(),
        args: args.iter().map(|a| a.to_string()).collect(),
        working_dir: None,
    }
}

/// The operator's commands: the model program's `train` and `serve`, and trainers that
/// misbehave.
fn commands(program: &Path) -> BTreeMap<String, LocalCommand> {
    let program_text = program.display().to_string();
    BTreeMap::from([
        ("train".to_string(), command(&program_text, &["train"])),
        (
            "serve".to_string(),
            command(
                "/bin/sh",
                &[
                    "-c",
                    SERVE_SCRIPT,
                    "serve",
                    "{version}",
                    "{port}",
                    "{artifact}",
                    &program_text,
                ],
            ),
        ),
        (
            "train-exits".to_string(),
            command("/bin/sh", &["-c", "echo cannot train >&2; exit 3"]),
        ),
        (
            "train-registers-nothing".to_string(),
            command("/bin/sh", &["-c", "exit 0"]),
        ),
    ])
}

/// A daemon on the local backend with the commands above, its files in a fresh directory.
struct Acting {
    daemon: Daemon,
    dir: tempfile::TempDir,
    program: PathBuf,
}

impl Acting {
    async fn start(tweak: impl FnOnce(&mut Config)) -> Acting {
        Acting::start_in(tempfile::tempdir().unwrap(), tweak).await
    }

    /// A daemon on the database and the files `dir` holds (a restart, when it held some).
    async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> Acting {
        let program = model_program();
        let db = sqlite_database(&dir);
        let run_dir = dir.path().join("orchestrator").display().to_string();
        let commands = commands(&program);
        let daemon = start_with(&db, |config| {
            config.orchestrator = OrchestratorKind::Local;
            config.run_dir = run_dir;
            config.commands = commands;
            config.training_timeout_secs = 120;
            config.rollout_timeout_secs = 60;
            tweak(config);
        })
        .await;
        Acting {
            daemon,
            dir,
            program,
        }
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.path().join("orchestrator")
    }

    /// Trains a version offline on `rows` with the model program; returns its artifact URI and
    /// metrics.
    fn train_offline(&self, name: &str, rows: &[Row]) -> (String, Value) {
        let csv = self.dir.path().join(format!("{name}.csv"));
        let mut text = String::from("x,y,color,label\n");
        for row in rows {
            text.push_str(&format!(
                "{},{},{},{}\n",
                row.x, row.y, row.color, row.label
            ));
        }
        std::fs::write(&csv, text).unwrap();
        let output = std::process::Command::new(&self.program)
            .args(["train", "--csv"])
            .arg(&csv)
            .arg("--out")
            .arg(self.dir.path().join("artifacts").join(name))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        (
            report["artifact_uri"].as_str().unwrap().to_string(),
            report["metrics"].clone(),
        )
    }

    /// Trains v1 on clean data, registers it and puts it in front of the traffic.
    async fn serve_v1(&self, model: &str) -> String {
        let (artifact, metrics) = self.train_offline("v1", &rows("t", 21, 1000, 0.0, false));
        register(&self.daemon, model, "v1", &artifact, metrics).await;
        let action = promote(&self.daemon, model, "v1", json!({"force": true})).await;
        let finished = finished_action(&self.daemon, action).await;
        assert_eq!(finished["state"], "succeeded", "{finished}");
        assert_eq!(serving(&self.daemon, model).await, "v1");
        artifact
    }
}

/// One labeled record: `x` decides the label (`x > 0`, flipped when the labels are
/// `inverted`); `y` and `color` do not.
struct Row {
    id: String,
    x: f64,
    y: f64,
    color: &'static str,
    label: &'static str,
}

impl Row {
    fn features(&self) -> Value {
        json!({"x": self.x, "y": self.y, "color": self.color})
    }
}

fn rows(prefix: &str, seed: u64, n: usize, y_shift: f64, inverted: bool) -> Vec<Row> {
    let xs = numbers(seed, n, 0.0);
    // The reference's `y` is around 10 (common::records_csv).
    let ys = numbers(seed + 1, n, 10.0 + y_shift);
    (0..n)
        .map(|i| Row {
            id: format!("{prefix}{i}"),
            x: xs[i],
            y: ys[i],
            color: ["red", "green", "blue"][(i * 7 + seed as usize) % 3],
            label: if (xs[i] > 0.0) != inverted { "1" } else { "0" },
        })
        .collect()
}

fn monitor_spec(window: u64, actions: Value) -> Value {
    crate::common::watch_spec(
        window,
        json!({
            "policy": {"plugin": "policy-threshold",
                       "config": {"alert_share": 0.2, "retrain_share": 0.3}},
            "alerts": {"cooldown_seconds": 0, "channels": [{"type": "log"}]},
            "actions": actions,
        }),
    )
}

/// The actions section that retrains with `trainer` and rolls out with the `serve` command.
fn local_actions(trainer: &str) -> Value {
    json!({
        "training_records": 1000,
        "retrain": {"local": {"command": trainer}},
        "rollout": {"local": {"command": "serve", "health_path": "/healthz"}},
        "gate": {"metric": "accuracy", "margin": 0.02},
    })
}

/// Model `m` and its monitor `watch` with `spec`, its reference uploaded.
async fn model_with_monitor(daemon: &Daemon, spec: Value) {
    daemon.create_model("m", "classification").await;
    let (status, body) = daemon.json(Method::POST, "/v1/monitors", spec).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = daemon
        .admin(
            Method::PUT,
            "/v1/monitors/watch/reference",
            Some(("text/csv", records_csv("ref", 1, 1000, 0.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn register(daemon: &Daemon, model: &str, version: &str, artifact: &str, metrics: Value) {
    let (status, body) = daemon
        .json(
            Method::POST,
            &format!("/v1/models/{model}/versions"),
            json!({"version": version, "artifact_uri": artifact, "metrics": metrics}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Asks for a promotion by hand; returns the action's id.
async fn promote(daemon: &Daemon, model: &str, version: &str, body: Value) -> i64 {
    let (status, answer) = daemon
        .json(
            Method::POST,
            &format!("/v1/models/{model}/versions/{version}/promote"),
            body,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    answer["action"]["id"].as_i64().unwrap()
}

/// Waits (polling, bounded) until action `id` has finished; returns it.
async fn finished_action(daemon: &Daemon, id: i64) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, page) = daemon
            .admin(Method::GET, "/v1/actions?limit=100", None)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let action = page["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no action {id}: {page}"));
        if action["state"] == "succeeded" || action["state"] == "failed" {
            return action;
        }
        assert!(
            Instant::now() < deadline,
            "action {id} unfinished: {action}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The monitor's action of `kind`, once it has finished (polled, bounded).
async fn finished_action_of_kind(daemon: &Daemon, kind: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, page) = daemon
            .admin(Method::GET, "/v1/actions?monitor=watch&limit=100", None)
            .await;
        if let Some(action) = page["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == kind)
        {
            return finished_action(daemon, action["id"].as_i64().unwrap()).await;
        }
        assert!(Instant::now() < deadline, "no `{kind}` action: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn serving(daemon: &Daemon, model: &str) -> Value {
    let (status, body) = daemon
        .admin(Method::GET, &format!("/v1/models/{model}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["serving_version"].clone()
}

/// The model's versions by name.
async fn versions(daemon: &Daemon, model: &str) -> BTreeMap<String, Value> {
    let (status, body) = daemon
        .admin(Method::GET, &format!("/v1/models/{model}/versions"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_str().unwrap().to_string(), v.clone()))
        .collect()
}

async fn alerts(daemon: &Daemon) -> Vec<Value> {
    let (status, body) = daemon.admin(Method::GET, "/v1/alerts", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["alerts"].as_array().unwrap().clone()
}

async fn predict_as(daemon: &Daemon, token: &str, body: Value) -> (StatusCode, Value) {
    daemon
        .call(
            Method::POST,
            "/v1/models/m/predict",
            Some(token),
            Some(("application/json", body.to_string().into_bytes())),
            &[],
        )
        .await
}

async fn send_labels(daemon: &Daemon, rows: &[Row]) {
    let mut csv = String::from("id,label\n");
    for row in rows {
        csv.push_str(&format!("{},{}\n", row.id, row.label));
    }
    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/labels",
            Some(("text/csv", csv.into_bytes())),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Sends the rows' labels, then each row through the predict proxy (8 at a time); every
/// request must be answered.
async fn stream(daemon: &Daemon, rows: &[Row]) {
    send_labels(daemon, rows).await;
    let answers: Vec<(StatusCode, Value)> = futures_util::stream::iter(rows)
        .map(|row| {
            predict_as(
                daemon,
                &daemon.admin,
                json!({"id": row.id, "features": row.features()}),
            )
        })
        .buffered(8)
        .collect()
        .await;
    for (status, body) in answers {
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["offset"].is_i64(), "every answer is recorded: {body}");
    }
}

/// A steady load of predictions through the proxy, counting what was answered, what
/// failed, and which versions answered.
struct Load {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    sent: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<String>>>,
    versions: Arc<Mutex<Vec<String>>>,
}

impl Load {
    fn start(daemon: &Daemon) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let versions = Arc::new(Mutex::new(Vec::<String>::new()));
        let url = format!("{}/v1/models/m/predict", daemon.url);
        let token = daemon.admin.clone();
        let task = tokio::spawn({
            let (stop, sent, failures, versions) = (
                stop.clone(),
                sent.clone(),
                failures.clone(),
                versions.clone(),
            );
            async move {
                let http = reqwest::Client::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let x = numbers(i, 1, 0.0)[0];
                    let body = json!({"id": format!("load{i}"), "features": {"x": x, "y": 10.0, "color": "red"}});
                    i += 1;
                    let answer = http.post(&url).bearer_auth(&token).json(&body).send().await;
                    sent.fetch_add(1, Ordering::Relaxed);
                    match answer {
                        Ok(answer) if answer.status() == StatusCode::OK => {
                            let body: Value = answer.json().await.unwrap_or_default();
                            let version = body["model_version"].as_str().unwrap_or("?").to_string();
                            let mut seen = versions.lock().unwrap();
                            if seen.last() != Some(&version) {
                                seen.push(version);
                            }
                        }
                        Ok(answer) => {
                            let status = answer.status();
                            let text = answer.text().await.unwrap_or_default();
                            failures.lock().unwrap().push(format!("{status}: {text}"));
                        }
                        Err(error) => failures.lock().unwrap().push(error.to_string()),
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        Load {
            stop,
            task,
            sent,
            failures,
            versions,
        }
    }

    /// Stops the load; returns how many requests were sent, the failures, and the versions
    /// that answered, in the order they took over.
    async fn stop(self) -> (u64, Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap();
        (
            self.sent.load(Ordering::Relaxed),
            self.failures.lock().unwrap().clone(),
            self.versions.lock().unwrap().clone(),
        )
    }

    /// Waits (bounded) until `version` has answered a request.
    async fn until_answered_by(&self, version: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.versions.lock().unwrap().iter().any(|v| v == version) {
            assert!(
                Instant::now() < deadline,
                "`{version}` never answered; failures: {:?}",
                self.failures.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The files a local backend's directory holds under `sub`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
            found.push(path);
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_keeps_a_worse_candidate_out_and_the_serving_version_serves_on() {
    let acting = Acting::start(|_| {}).await;
    let daemon = &acting.daemon;
    // The four windows without drift must decide nothing: tested at KS's 0.05, one run in
    // several would see a false alarm among them (their records reach windows in the order
    // they are stored), so `x` and `y` are tested at 0.001. The drifted window's p-value is far
    // below either.
    let mut spec = monitor_spec(200, local_actions("train"));
    spec["pipeline"] = json!({"numeric": {"plugin": "drift-ks", "config": {"threshold": 0.001}}});
    model_with_monitor(daemon, spec).await;
    acting.serve_v1("m").await;

    // Four windows whose labels say the opposite of what `x` says (v1 is wrong on them), then
    // one whose `y` drifts and whose labels are right again (v1 is right): the policy
    // retrains on the newest 1000 labeled records. The run fits on the first 800 (the
    // inverted ones) and measures on the newest 200: far worse than v1 on that window.
    stream(daemon, &rows("a", 11, 800, 0.0, true)).await;
    let evaluations = daemon.evaluations("watch", 4).await;
    for evaluation in &evaluations {
        assert_eq!(evaluation["action"], "none", "{evaluation}");
    }
    stream(daemon, &rows("b", 12, 200, 3.0, false)).await;
    let deciding = daemon.evaluations("watch", 5).await[0].clone();
    assert_eq!(deciding["action"], "retrain", "{deciding}");
    let champion = deciding["result"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "accuracy")
        .and_then(|m| m["value"].as_f64())
        .unwrap_or_else(|| panic!("the window measured v1's accuracy: {deciding}"));
    assert!(champion > 0.9, "{deciding}");

    let retrain = finished_action_of_kind(daemon, "retrain").await;
    assert_eq!(retrain["state"], "succeeded", "the run trained: {retrain}");
    let outcome = retrain["outcome"].as_str().unwrap();
    assert!(
        outcome.contains("kept as a candidate: gate refused: accuracy"),
        "{retrain}"
    );

    let versions = versions(daemon, "m").await;
    assert_eq!(versions.len(), 2, "{versions:?}");
    let candidate = versions
        .values()
        .find(|v| v["version"] != "v1")
        .unwrap()
        .clone();
    assert_eq!(candidate["status"], "candidate", "{candidate}");
    assert!(candidate["run_id"].is_string(), "{candidate}");
    let reason = candidate["status_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("gate refused: accuracy") && reason.contains("serving `v1`"),
        "{candidate}"
    );
    let challenger = candidate["metrics"]["accuracy"].as_f64().unwrap();
    assert!(
        challenger < champion - 0.02,
        "{candidate} against {champion}"
    );
    assert_eq!(versions["v1"]["status"], "serving");
    assert_eq!(serving(daemon, "m").await, "v1");
    let (status, answer) = predict_as(
        daemon,
        &daemon.admin,
        json!({"features": {"x": 1.5, "y": 10.0, "color": "red"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["model_version"], "v1");
    assert_eq!(answer["prediction"], "1");
    acting.daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_records_what_it_would_do_and_changes_nothing() {
    let acting = Acting::start(|_| {}).await;
    let daemon = &acting.daemon;
    let mut actions = local_actions("train");
    actions["dry_run"] = json!(true);
    model_with_monitor(daemon, monitor_spec(200, actions)).await;
    register(
        daemon,
        "m",
        "v1",
        "file:///nowhere/v1",
        json!({"accuracy": 0.9}),
    )
    .await;
    register(
        daemon,
        "m",
        "v2",
        "file:///nowhere/v2",
        json!({"accuracy": 0.99}),
    )
    .await;
    let (status, body) = daemon
        .json(
            Method::PUT,
            "/v1/models/m/serving",
            json!({"version": "v1"}),
        )
        .await;
    assert!(status.is_success(), "{body}");

    // A drifted window: the policy decides to retrain.
    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", records_csv("d", 3, 200, 3.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let evaluation = daemon.evaluations("watch", 1).await[0].clone();
    assert_eq!(evaluation["action"], "retrain", "{evaluation}");
    let retrain = finished_action_of_kind(daemon, "retrain").await;
    assert_eq!(retrain["state"], "succeeded", "{retrain}");
    let outcome = retrain["outcome"].as_str().unwrap();
    assert!(
        outcome.starts_with("dry run: would start retraining run `vigil-train-m-")
            && outcome.contains("on the labeled records 0..200"),
        "{retrain}"
    );

    // A promotion by hand is a dry run too.
    let action = promote(daemon, "m", "v2", json!({"force": true})).await;
    let promoted = finished_action(daemon, action).await;
    assert_eq!(promoted["state"], "succeeded", "{promoted}");
    assert_eq!(promoted["outcome"], "dry run: would roll `v2` out");

    // Nothing ran, nothing changed.
    for sub in ["runs", "artifacts", "serving"] {
        let found = files_under(&acting.run_dir().join(sub));
        assert!(found.is_empty(), "{sub}: {found:?}");
    }
    let versions = versions(daemon, "m").await;
    assert_eq!(
        versions.keys().collect::<Vec<_>>(),
        ["v1", "v2"],
        "no version was registered"
    );
    assert_eq!(versions["v1"]["status"], "serving");
    assert_eq!(versions["v2"]["status"], "candidate");
    assert_eq!(serving(daemon, "m").await, "v1");
    let (status, body) = predict_as(daemon, &daemon.admin, json!({"features": {"x": 1}})).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "nothing serves: {body}"
    );
    acting.daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_that_fails_is_rolled_back_marked_failed_and_alerted_while_v1_answers() {
    let acting = Acting::start(|config| config.rollout_timeout_secs = 3).await;
    let daemon = &acting.daemon;
    // Windows too long to close here: the load decides nothing.
    model_with_monitor(daemon, monitor_spec(50_000, local_actions("train"))).await;
    let artifact = acting.serve_v1("m").await;
    let load = Load::start(daemon);
    load.until_answered_by("v1").await;

    // `never-v2` starts and never answers its health check; `exits-v3` exits at once.
    for (version, why) in [
        ("never-v2", "within rollout_timeout_secs (3 s)"),
        ("exits-v3", "exited before it was healthy"),
    ] {
        register(daemon, "m", version, &artifact, json!({"accuracy": 0.99})).await;
        let asked = Instant::now();
        let action = promote(daemon, "m", version, json!({"force": true})).await;
        let finished = finished_action(daemon, action).await;
        assert!(
            asked.elapsed() < Duration::from_secs(30),
            "a failed rollout ends within its timeout, not {:?}: {finished}",
            asked.elapsed()
        );
        assert_eq!(finished["state"], "failed", "{finished}");
        let outcome = finished["outcome"].as_str().unwrap();
        assert!(
            outcome.starts_with(&format!("rollout of `{version}` for model `m` failed: "))
                && outcome.contains(why)
                && outcome.ends_with("rolled back to `v1`"),
            "{finished}"
        );
        let versions = versions(daemon, "m").await;
        assert_eq!(versions[version]["status"], "failed", "{versions:?}");
        assert_eq!(versions[version]["status_reason"], outcome);
        assert_eq!(versions["v1"]["status"], "serving");
        assert_eq!(serving(daemon, "m").await, "v1");
        let alerts = alerts(daemon).await;
        assert!(
            alerts
                .iter()
                .any(|a| a["cause"] == "rollout-failed" && a["message"] == outcome),
            "{alerts:?}"
        );
    }

    let (sent, failures, answered_by) = load.stop().await;
    assert!(sent > 10, "{sent}");
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {failures:?}",
        failures.len()
    );
    assert_eq!(answered_by, ["v1"]);
    acting.daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_and_rollback_by_hand_switch_versions_under_load() {
    let acting = Acting::start(|_| {}).await;
    let daemon = &acting.daemon;
    model_with_monitor(daemon, monitor_spec(50_000, local_actions("train"))).await;
    let artifact = acting.serve_v1("m").await;
    register(daemon, "m", "v2", &artifact, json!({"accuracy": 0.5})).await;
    let load = Load::start(daemon);
    load.until_answered_by("v1").await;

    // Forced past the gate (which would refuse: no window measured v1 yet).
    let action = promote(
        daemon,
        "m",
        "v2",
        json!({"force": true, "reason": "by hand"}),
    )
    .await;
    let finished = finished_action(daemon, action).await;
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert_eq!(finished["outcome"], "rolled out: `v2` serves, `v1` retired");
    assert_eq!(serving(daemon, "m").await, "v2");
    let listed = versions(daemon, "m").await;
    assert_eq!(listed["v2"]["status"], "serving");
    assert_eq!(listed["v1"]["status"], "retired");
    load.until_answered_by("v2").await;

    let (status, body) = daemon
        .json(
            Method::POST,
            "/v1/models/m/rollback",
            json!({"reason": "v2 is worse"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let rolled = finished_action(daemon, body["action"]["id"].as_i64().unwrap()).await;
    assert_eq!(rolled["state"], "succeeded", "{rolled}");
    assert_eq!(rolled["kind"], "rollback");
    assert_eq!(serving(daemon, "m").await, "v1");
    let listed = versions(daemon, "m").await;
    assert_eq!(listed["v1"]["status"], "serving");
    assert_eq!(listed["v2"]["status"], "retired");
    let (sent, failures, _) = load.stop().await;
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {failures:?}",
        failures.len()
    );
    let (status, answer) = predict_as(
        daemon,
        &daemon.admin,
        json!({"features": {"x": 1.0, "y": 10.0, "color": "red"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["model_version"], "v1");

    // Without `force` the gate decides, and no window has measured v1 yet: v2 stays out.
    let action = promote(daemon, "m", "v2", json!({})).await;
    let refused = finished_action(daemon, action).await;
    assert_eq!(refused["state"], "failed", "{refused}");
    assert!(
        refused["outcome"]
            .as_str()
            .unwrap()
            .starts_with("`v2` not promoted: no labeled window has measured"),
        "{refused}"
    );
    // It stays retired: a refused version asked for again does not become a candidate.
    assert_eq!(versions(daemon, "m").await["v2"]["status"], "retired");

    // Two changes asked at once: one runs, the other is skipped and says which one holds
    // the model. Either way v2 serves (the rollback's earlier version is v2).
    let first = promote(daemon, "m", "v2", json!({"force": true})).await;
    let (status, body) = daemon
        .json(Method::POST, "/v1/models/m/rollback", json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let second = body["action"]["id"].as_i64().unwrap();
    let both = [
        finished_action(daemon, first).await,
        finished_action(daemon, second).await,
    ];
    let skipped: Vec<&Value> = both
        .iter()
        .filter(|a| {
            a["outcome"]
                .as_str()
                .unwrap()
                .contains("is changing model `m`")
        })
        .collect();
    assert_eq!(skipped.len(), 1, "{both:?}");
    assert_eq!(skipped[0]["state"], "failed");
    assert!(both.iter().any(|a| a["state"] == "succeeded"), "{both:?}");
    assert_eq!(serving(daemon, "m").await, "v2");

    // Unknown versions; tokens that may not change what serves.
    let (status, body) = daemon
        .json(Method::POST, "/v1/models/m/versions/v9/promote", json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    for role in ["read", "ingest"] {
        let token = daemon.token(role).await;
        for path in ["/v1/models/m/versions/v2/promote", "/v1/models/m/rollback"] {
            let (status, body) = daemon
                .call(Method::POST, path, Some(&token), None, &[])
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{role} {path}: {body}");
        }
    }

    // A model no monitor rolls out: 422 saying so.
    daemon.create_model("bare", "classification").await;
    register(daemon, "bare", "b1", &artifact, json!({})).await;
    for path in [
        "/v1/models/bare/versions/b1/promote",
        "/v1/models/bare/rollback",
    ] {
        let (status, body) = daemon.json(Method::POST, path, json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert!(body.to_string().contains("actions.rollout"), "{body}");
    }
    assert_eq!(serving(daemon, "m").await, "v2");
    acting.daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_predict_proxy_answers_records_and_refuses() {
    let acting = Acting::start(|_| {}).await;
    let daemon = &acting.daemon;
    model_with_monitor(daemon, monitor_spec(50_000, local_actions("train"))).await;
    let features = json!({"x": 1.25, "y": 10.0, "color": "blue"});

    let (status, body) = predict_as(
        daemon,
        &daemon.admin,
        json!({"id": "early", "features": features}),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.to_string().contains("not_served"), "{body}");
    let (status, body) = predict_as(daemon, &daemon.admin, json!({"features": features})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

    acting.serve_v1("m").await;
    let ingest = daemon.token("ingest").await;
    let read = daemon.token("read").await;
    let (status, answer) =
        predict_as(daemon, &ingest, json!({"id": "p1", "features": features})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["id"], "p1");
    assert_eq!(answer["model_version"], "v1");
    assert_eq!(answer["prediction"], "1");
    let offset = answer["offset"].as_i64().unwrap();
    let probabilities = answer["probabilities"].as_object().unwrap();
    assert_eq!(probabilities.len(), 2, "{answer}");

    let (status, body) = predict_as(daemon, &read, json!({"id": "p2", "features": features})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // The model refuses a feature of the wrong type: 422, and nothing is recorded.
    let (status, body) = predict_as(
        daemon,
        &ingest,
        json!({"id": "p3", "features": {"x": "a lot", "y": 10.0, "color": "red"}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("model_refused"), "{body}");
    // One record at most.
    let big = json!({"id": "p4", "features": {"x": 1.0, "y": 1.0, "color": "x".repeat(1 << 20)}});
    let (status, body) = predict_as(daemon, &ingest, big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    // The record, as the export shows it; the label sent later joins it.
    let export = |daemon: &Daemon| {
        let request = reqwest::Client::new()
            .get(format!("{}/v1/models/m/records?format=ndjson", daemon.url))
            .bearer_auth(daemon.admin.clone());
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let text = response.text().await.unwrap();
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        }
    };
    let records = export(daemon).await;
    assert_eq!(
        records.len(),
        1,
        "only the answered prediction: {records:?}"
    );
    let record = &records[0];
    assert_eq!(record["id"], "p1");
    assert_eq!(record["model_version"], "v1");
    assert_eq!(record["prediction"], "1");
    assert_eq!(record["features"]["x"], 1.25);
    assert_eq!(record["features"]["color"], "blue");
    assert_eq!(record["label"], Value::Null);
    let _ = offset;
    let (status, body) = daemon
        .call(
            Method::POST,
            "/v1/models/m/labels",
            Some(&ingest),
            Some(("text/csv", b"id,label\np1,0\n".to_vec())),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let records = export(daemon).await;
    assert_eq!(records[0]["label"], "0", "{records:?}");

    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/nope/predict",
            Some(("application/json", b"{\"features\":{}}".to_vec())),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    acting.daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_may_name_only_what_the_operator_allows() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_with(&sqlite_database(&dir), |config| {
        config.commands = BTreeMap::from([("train".to_string(), command("/bin/true", &[]))]);
        config.kubernetes_namespaces = vec!["models".into()];
        config.kubernetes_images = vec![
            "registry.example.com/ml/".into(),
            "registry.internal".into(),
        ];
        config.kubernetes_service_accounts = vec!["trainer".into()];
    })
    .await;
    daemon.create_model("m", "classification").await;
    let job = |image: &str| {
        json!({"kubernetes": {"namespace": "models", "image": image, "command": ["train"],
                              "service_account": "trainer"}})
    };
    let refused = [
        (
            json!({"retrain": {"local": {"command": "rm-everything"}}}),
            "actions.retrain.local.command",
        ),
        (
            json!({"rollout": {"local": {"command": "serve", "health_path": "/healthz"}}}),
            "actions.rollout.local.command",
        ),
        (
            json!({"retrain": job("docker.io/someone/miner:1")}),
            "actions.retrain.kubernetes.image",
        ),
        // A prefix matches where a reference's part ends, not inside a host name.
        (
            json!({"retrain": job("registry.internal.elsewhere.io/miner:1")}),
            "actions.retrain.kubernetes.image",
        ),
        (
            json!({"retrain": {"kubernetes": {"namespace": "kube-system", "image": "registry.example.com/ml/t:1"}}}),
            "actions.retrain.kubernetes.namespace",
        ),
    ];
    for (actions, field) in refused {
        let (status, body) = daemon
            .json(
                Method::POST,
                "/v1/monitors",
                monitor_spec(100, actions.clone()),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{actions}: {body}"
        );
        assert!(body.to_string().contains(field), "{field}: {body}");
    }
    for actions in [
        json!({"retrain": {"local": {"command": "train"}}}),
        json!({"retrain": job("registry.example.com/ml/churn-train:1.4")}),
        json!({"retrain": job("registry.internal/ml/churn-train:1.4")}),
    ] {
        let (status, body) = daemon
            .json(
                Method::POST,
                "/v1/monitors",
                monitor_spec(100, actions.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{actions}: {body}");
        let (status, body) = daemon
            .admin(Method::DELETE, "/v1/monitors/watch", None)
            .await;
        assert!(status.is_success(), "{body}");
    }
    daemon.stop().await;
}

/// The model's verdict, read with `token` once the monitor has `evaluated` windows.
async fn verdict(daemon: &Daemon, token: &str, evaluated: usize) -> Value {
    if evaluated > 0 {
        daemon.evaluations("watch", evaluated).await;
    }
    let (status, body) = daemon
        .call(Method::GET, "/v1/models/m/verdict", Some(token), None, &[])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verdict_follows_the_newest_windows_decision() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&sqlite_database(&dir)).await;
    model_with_monitor(&daemon, monitor_spec(500, json!({}))).await;
    let read = daemon.token("read").await;
    let before = verdict(&daemon, &read, 0).await;
    assert_eq!(before["healthy"], false, "nothing evaluated yet: {before}");
    assert_eq!(before["monitors"][0]["evaluated"], false);

    daemon.ingest_csv(records_csv("a", 3, 500, 0.0)).await;
    let calm = verdict(&daemon, &read, 1).await;
    assert_eq!(calm["healthy"], true, "{calm}");
    assert_eq!(calm["monitors"][0]["decision"], "none");
    assert_eq!(
        calm["monitors"][0]["window"],
        json!({"start": 0, "end": 500})
    );

    daemon.ingest_csv(records_csv("b", 3, 500, 3.0)).await;
    let drifted = verdict(&daemon, &read, 2).await;
    assert_eq!(drifted["healthy"], false, "{drifted}");
    assert_ne!(drifted["monitors"][0]["decision"], "none", "{drifted}");
    assert_eq!(
        drifted["monitors"][0]["window"],
        json!({"start": 500, "end": 1000})
    );

    let (status, body) = daemon
        .admin(Method::GET, "/v1/models/nope/verdict", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainer_that_fails_or_registers_nothing_fails_the_retraining() {
    for (trainer, expected) in [
        ("train-exits", "failed: "),
        (
            "train-registers-nothing",
            "finished without registering a version",
        ),
    ] {
        let acting = Acting::start(|_| {}).await;
        let daemon = &acting.daemon;
        model_with_monitor(daemon, monitor_spec(200, local_actions(trainer))).await;
        let (status, body) = daemon
            .admin(
                Method::POST,
                "/v1/models/m/records",
                Some(("text/csv", records_csv("d", 3, 200, 3.0))),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let retrain = finished_action_of_kind(daemon, "retrain").await;
        assert_eq!(retrain["state"], "failed", "{trainer}: {retrain}");
        assert!(
            retrain["outcome"].as_str().unwrap().contains(expected),
            "{trainer}: {retrain}"
        );
        assert!(versions(daemon, "m").await.is_empty());
        assert_eq!(serving(daemon, "m").await, Value::Null);
        acting.daemon.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_daemon_serves_the_serving_version_again() {
    let acting = Acting::start(|_| {}).await;
    model_with_monitor(&acting.daemon, monitor_spec(50_000, local_actions("train"))).await;
    acting.serve_v1("m").await;
    let Acting { daemon, dir, .. } = acting;
    daemon.stop().await;

    // The model servers stopped with the daemon; the next one brings v1 up again.
    let acting = Acting::start_in(dir, |_| {}).await;
    let daemon = &acting.daemon;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, answer) = predict_as(
            daemon,
            &daemon.admin,
            json!({"features": {"x": 1.0, "y": 10.0, "color": "red"}}),
        )
        .await;
        if status == StatusCode::OK {
            assert_eq!(answer["model_version"], "v1");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "v1 is not served after a restart: {status} {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(serving(daemon, "m").await, "v1");
    acting.daemon.stop().await;
}
