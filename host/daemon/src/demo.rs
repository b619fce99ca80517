//! `vigil demo`: the whole loop on a laptop, on the local backend. Starts the daemon on a
//! fresh SQLite file, trains a first model version with the bundled model program
//! (`vigil-model`, logistic regression) and rolls it out, then streams a bundled dataset
//! through the predict proxy under a steady load of requests. The data drifts at record 5,000
//! (the customers change, and so does what makes them churn): the accuracy falls, the policy
//! decides to retrain, a real training run learns from the newest labeled records, the gate
//! compares it with the serving version, a blue/green switch puts it in front of the traffic,
//! and the accuracy recovers. Each step is printed as it happens and is visible in the API.
//! The last line is `summary: ` and one JSON object.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::{Value, json};
use vigil_orchestrator::LocalCommand;

use crate::client::Client;
use crate::config::{Config, OrchestratorKind};
use crate::plugins::STANDARD_PLUGINS;
use crate::server::{self, AppState, auth};

const REFERENCE: &str = include_str!("../../../examples/demo/reference.csv");
const STREAM: &str = include_str!("../../../examples/demo/stream.csv");
/// Where the bundled stream drifts (see `examples/demo/generate.py`).
pub const DRIFT_AT: i64 = 5_000;
const WINDOW: i64 = 1_000;
/// Records whose labels are sent ahead of their predictions, at a time.
const CHUNK: usize = 100;
/// The load: requests a second, and how many are in flight at once.
const REQUESTS_PER_SECOND: f64 = 400.0;
const CONCURRENCY: usize = 8;
/// The stream waits here for a retraining decided at the drift to finish if it has not yet (a
/// slow machine), so that a whole window after the switch is there to show the recovery.
const HOLD_AT: i64 = DRIFT_AT + 2 * WINDOW;
const FEATURES: [(&str, &str); 5] = [
    ("age", "numeric"),
    ("income", "numeric"),
    ("tenure", "numeric"),
    ("plan", "categorical"),
    ("region", "categorical"),
];

fn monitor_spec() -> Value {
    json!({
        "name": "churn-drift",
        "model": "churn",
        "features": FEATURES.iter().map(|(name, kind)| json!({"name": name, "type": kind})).collect::<Vec<_>>(),
        "window": {"records": WINDOW},
        "pipeline": {
            "detectors": [{"column": "age", "plugin": "detect-page-hinkley", "config": {"threshold": 1000.0}}],
        },
        "policy": {"plugin": "policy-threshold", "config": {"alert_share": 0.3, "retrain_share": 0.5}},
        "alerts": {"cooldown_seconds": 3600, "channels": [{"type": "log"}]},
        "actions": {
            "training_records": WINDOW,
            "retrain": {"local": {"command": "train"}},
            "rollout": {"local": {"command": "serve", "health_path": "/healthz"}},
            "gate": {"metric": "accuracy", "margin": 0.02},
        },
    })
}

/// The bundled model program: `VIGIL_MODEL_PROGRAM`, else `vigil-model` beside this binary.
fn model_program() -> anyhow::Result<PathBuf> {
    let program = match std::env::var_os("VIGIL_MODEL_PROGRAM") {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()?.with_file_name("vigil-model"),
    };
    if !program.exists() {
        bail!(
            "the demo's model program is not at {} (build it with `cargo build --release -p \
             vigil-model`, which scripts/vigil does, or set VIGIL_MODEL_PROGRAM)",
            program.display()
        );
    }
    Ok(program)
}

fn commands(program: &Path) -> BTreeMap<String, LocalCommand> {
    let command = |args: &[&str]| LocalCommand {
        program: program.display().to_string(),
        args: args.iter().map(|a| a.to_string()).collect(),
        working_dir: None,
    };
    BTreeMap::from([
        ("train".to_string(), command(&["train"])),
        (
            "serve".to_string(),
            command(&[
                "serve",
                "--port",
                "{port}",
                "--artifact",
                "{artifact}",
                "--version",
                "{version}",
            ]),
        ),
    ])
}

/// One record of the bundled CSV: its id, its features as the predict body wants them, and
/// its true label.
struct Row {
    id: String,
    features: Value,
    label: String,
}

fn rows(csv_text: &str) -> anyhow::Result<Vec<Row>> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers()?.clone();
    let at = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("no column `{name}` in the demo data"))
    };
    let id_at = at("id")?;
    let label_at = at("label")?;
    let feature_at: Vec<(&str, &str, usize)> = FEATURES
        .iter()
        .map(|(name, kind)| Ok((*name, *kind, at(name)?)))
        .collect::<anyhow::Result<_>>()?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        let mut features = serde_json::Map::new();
        for (name, kind, i) in &feature_at {
            let cell = &record[*i];
            let value = match *kind {
                "numeric" => json!(cell.parse::<f64>().context("a numeric cell")?),
                _ => json!(cell),
            };
            features.insert(name.to_string(), value);
        }
        rows.push(Row {
            id: record[id_at].to_string(),
            features: Value::Object(features),
            label: record[label_at].to_string(),
        });
    }
    Ok(rows)
}

/// Seconds since the demo started, for each printed step.
struct Clock(Instant);

impl Clock {
    fn say(&self, line: impl std::fmt::Display) {
        println!("[{:>5.1}s] {line}", self.0.elapsed().as_secs_f64());
    }
}

fn describe(evaluation: &Value, number: i64) -> String {
    let result = &evaluation["result"];
    let columns = result["columns"].as_array().cloned().unwrap_or_default();
    let drifted: Vec<&str> = columns
        .iter()
        .filter(|c| c["drifted"] == json!(true))
        .filter_map(|c| c["name"].as_str())
        .collect();
    let accuracy = accuracy_of(evaluation)
        .map(|a| format!("accuracy {a:.3}"))
        .unwrap_or_else(|| "no labels yet".into());
    let detections: Vec<String> = result["detectors"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["detections"].as_array().cloned().unwrap_or_default())
        .map(|d| d.to_string())
        .collect();
    let detected = if detections.is_empty() {
        String::new()
    } else {
        format!("  change at record {}", detections.join(", "))
    };
    let action = evaluation["action"].as_str().unwrap_or("?");
    format!(
        "window {number:>2}  records {:>5}..{:<5} drifted {}/{} {:<22} {accuracy}{detected} -> {}{}",
        evaluation["window_start"].as_i64().unwrap_or(0),
        evaluation["window_end"].as_i64().unwrap_or(0),
        drifted.len(),
        columns.len(),
        if drifted.is_empty() {
            String::new()
        } else {
            format!("({})", drifted.join(", "))
        },
        if action == "none" {
            "no action".to_string()
        } else {
            action.to_uppercase()
        },
        if action == "none" {
            String::new()
        } else {
            format!(": {}", evaluation["reason"].as_str().unwrap_or(""))
        },
    )
}

fn accuracy_of(evaluation: &Value) -> Option<f64> {
    evaluation["result"]["metrics"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == "accuracy")?["value"]
        .as_f64()
}

/// What the observer has seen of the daemon so far.
#[derive(Default)]
struct Seen {
    evaluations: Vec<Value>,
    /// Action id → its last state.
    actions: HashMap<i64, String>,
    versions: HashMap<String, String>,
    serving: Option<String>,
    /// The first window that decided something, numbered from 1.
    first_decision: Option<i64>,
    /// The version the first retraining registered, and whether it went out.
    retrained: Option<String>,
    promoted: bool,
    /// The stream offset of the first record the retrained version answered.
    switched_at: Option<i64>,
}

/// Prints what changed in the daemon since the last look: new windows, actions starting and
/// ending, versions registered, the serving version switching.
async fn observe(client: &Client, seen: &mut Seen, clock: &Clock) -> anyhow::Result<()> {
    let page = client
        .get("/v1/monitors/churn-drift/evaluations?limit=100")
        .await?;
    let mut evaluations = page["evaluations"].as_array().cloned().unwrap_or_default();
    evaluations.reverse();
    for evaluation in evaluations.into_iter().skip(seen.evaluations.len()) {
        let number = seen.evaluations.len() as i64 + 1;
        clock.say(describe(&evaluation, number));
        if evaluation["action"] != "none" && seen.first_decision.is_none() {
            seen.first_decision = Some(number);
        }
        seen.evaluations.push(evaluation);
    }
    let actions = client
        .get("/v1/actions?monitor=churn-drift&limit=100")
        .await?;
    for action in actions["actions"].as_array().into_iter().flatten().rev() {
        let (Some(id), Some(state)) = (action["id"].as_i64(), action["state"].as_str()) else {
            continue;
        };
        let kind = action["kind"].as_str().unwrap_or("?");
        if kind == "alert" || seen.actions.get(&id).map(String::as_str) == Some(state) {
            continue;
        }
        seen.actions.insert(id, state.to_string());
        match state {
            "pending" | "running" => clock.say(format!("action {id} ({kind}): {state}")),
            _ => clock.say(format!(
                "action {id} ({kind}): {state}: {}",
                action["outcome"].as_str().unwrap_or("")
            )),
        }
    }
    let versions = client.get("/v1/models/churn/versions").await?;
    for version in versions["versions"].as_array().into_iter().flatten() {
        let name = version["version"].as_str().unwrap_or("?").to_string();
        let status = version["status"].as_str().unwrap_or("?").to_string();
        if seen.versions.get(&name) == Some(&status) {
            continue;
        }
        if !seen.versions.contains_key(&name) {
            clock.say(format!(
                "version {name} registered by {}: metrics {}, trained on records {}",
                version["created_by"].as_str().unwrap_or("?"),
                version["metrics"],
                match version["training_window"].as_object() {
                    Some(w) => format!("{}..{}", w["start"], w["end"]),
                    None => "outside the stream".into(),
                }
            ));
            if version["run_id"].is_string() && seen.retrained.is_none() {
                seen.retrained = Some(name.clone());
            }
        }
        if status != "candidate" || seen.versions.contains_key(&name) {
            clock.say(format!(
                "version {name}: {status}{}",
                match version["status_reason"].as_str() {
                    Some(r) if !r.is_empty() => format!(" ({r})"),
                    _ => String::new(),
                }
            ));
        }
        seen.versions.insert(name, status);
    }
    let model = client.get("/v1/models/churn").await?;
    let serving = model["serving_version"].as_str().map(str::to_string);
    if serving != seen.serving {
        if let Some(now) = &serving {
            clock.say(format!(
                "switch: `churn` is now served by {now} (blue/green behind POST /v1/models/churn/predict)"
            ));
            if seen.retrained.as_ref() == Some(now) {
                seen.promoted = true;
            }
        }
        seen.serving = serving;
    }
    Ok(())
}

/// The steady load: counts of requests sent and failed, and where the retrained version took
/// over.
#[derive(Default)]
struct Load {
    sent: AtomicU64,
    failed: AtomicU64,
}

pub async fn run(keep_serving: bool) -> anyhow::Result<()> {
    let clock = Clock(Instant::now());
    let program = model_program()?;
    let dir = tempfile::Builder::new()
        .prefix("vigil-demo-")
        .tempdir()?
        .keep();
    let db = dir.join("vigil.db");
    let config = Config {
        database_url: format!("sqlite://{}", db.display()),
        listen: "127.0.0.1:0".parse()?,
        tick_ms: 100,
        orchestrator: OrchestratorKind::Local,
        run_dir: dir.join("runs").display().to_string(),
        commands: commands(&program),
        training_timeout_secs: 120,
        rollout_timeout_secs: 60,
        ..Config::default()
    };
    let store = vigil_store::Store::open(&config.database_url).await?;
    let runtime = vigil_runtime::Runtime::new(config.runtime_config())?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let token = auth::create_token(&store, "demo", auth::Role::Admin).await?;
    let state = AppState::new(store.clone(), runtime, config)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(server::serve(state, listener, async {
        let _ = stopped.await;
    }));
    clock.say(format!(
        "Vigil demo: daemon on {url}, database {}, local backend (runs and model servers are child processes)",
        db.display()
    ));
    let client = Client::new(url.clone(), Some(token.text.clone()));
    let result = story(&client, &url, &token.text, &dir, &program, &clock).await;

    println!("\nWhere to look:");
    println!("  database       {}", db.display());
    println!("  admin token    {}", token.text);
    println!("  runs' logs     {}", dir.join("runs").display());
    println!(
        "  the API        {url}/v1/monitors/churn-drift/evaluations, /v1/actions, /v1/models/churn/versions, /v1/models/churn/verdict"
    );
    println!("  the dashboard  {url}/ui (log in with the admin token; docs/dashboard.md)");
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            let _ = stop.send(());
            let _ = daemon.await;
            return Err(error);
        }
    };
    if keep_serving {
        println!("\nServing on {url} until Ctrl-C.");
        server::shutdown_signal().await;
    }
    let _ = stop.send(());
    daemon.await??;
    store.close().await;
    println!("summary: {summary}");
    if summary["drift_detected_window"].is_null() {
        bail!("the demo's drift went undetected");
    }
    Ok(())
}

/// The story, step by step; returns the summary.
async fn story(
    client: &Client,
    url: &str,
    token: &str,
    dir: &Path,
    program: &Path,
    clock: &Clock,
) -> anyhow::Result<Value> {
    for (name, bytes) in STANDARD_PLUGINS {
        client
            .send(
                Method::POST,
                "/v1/plugins",
                Some(("application/wasm", bytes.to_vec())),
                &[],
            )
            .await
            .with_context(|| format!("uploading {name}"))?;
    }
    clock.say(format!(
        "uploaded the {} standard plugins",
        STANDARD_PLUGINS.len()
    ));
    client
        .post_json(
            "/v1/models",
            &json!({"name": "churn", "task": "classification", "description": "demo churn model"}),
        )
        .await?;

    // v1: trained on the reference, offline, registered and promoted by hand.
    let reference_csv = dir.join("reference.csv");
    std::fs::write(&reference_csv, REFERENCE)?;
    let v1_dir = dir.join("runs").join("artifacts").join("churn").join("v1");
    let trained = tokio::process::Command::new(program)
        .args(["train", "--csv"])
        .arg(&reference_csv)
        .arg("--out")
        .arg(&v1_dir)
        .output()
        .await
        .context("running the model program")?;
    if !trained.status.success() {
        bail!(
            "training v1 failed: {}",
            String::from_utf8_lossy(&trained.stderr)
        );
    }
    let v1: Value = serde_json::from_slice(
        String::from_utf8_lossy(&trained.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .as_bytes(),
    )
    .context("the model program's report")?;
    clock.say(format!(
        "trained v1 on the {} reference records (logistic regression): held-out metrics {}",
        REFERENCE.lines().count() - 1,
        v1["metrics"]
    ));
    client
        .post_json(
            "/v1/models/churn/versions",
            &json!({"version": "v1", "artifact_uri": v1["artifact_uri"], "metrics": v1["metrics"]}),
        )
        .await?;
    client.post_json("/v1/monitors", &monitor_spec()).await?;
    let reference = reference_body(REFERENCE)?;
    client
        .send(
            Method::PUT,
            "/v1/monitors/churn-drift/reference",
            Some(("text/csv", reference.into_bytes())),
            &[],
        )
        .await?;
    clock.say(
        "monitor `churn-drift`: windows of 1000 records against the reference; retrains on the \
         newest 1000 labeled records, gate on accuracy (margin 0.02), blue/green rollout",
    );
    client
        .post_json(
            "/v1/models/churn/versions/v1/promote",
            &json!({"force": true, "reason": "the first version"}),
        )
        .await?;
    let mut seen = Seen::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.serving.as_deref() != Some("v1") {
        if Instant::now() > deadline {
            bail!("v1 was not serving within 60 s (see the daemon's log)");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        observe(client, &mut seen, clock).await?;
    }

    // The stream, through the predict proxy, under a steady load.
    let stream = rows(STREAM)?;
    clock.say(format!(
        "streaming {} records through POST /v1/models/churn/predict at about {REQUESTS_PER_SECOND} \
         requests a second, {CONCURRENCY} at a time, labels ahead of them; the data drifts from \
         record {DRIFT_AT} on",
        stream.len()
    ));
    let load = Arc::new(Load::default());
    let http = reqwest::Client::new();
    let predict_url = format!("{url}/v1/models/churn/predict");
    let started = Instant::now();
    let mut held = false;
    for (index, chunk) in stream.chunks(CHUNK).enumerate() {
        let first = (index * CHUNK) as i64;
        if first >= HOLD_AT && !held && !seen.promoted && retraining(&seen) {
            held = true;
            clock.say("holding the stream until the retrained version is out");
            let deadline = Instant::now() + Duration::from_secs(120);
            while !seen.promoted && Instant::now() < deadline && retraining(&seen) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                observe(client, &mut seen, clock).await?;
            }
        }
        let labels: String = chunk
            .iter()
            .map(|row| format!("{},{}\n", row.id, row.label))
            .collect();
        client
            .send(
                Method::POST,
                "/v1/models/churn/labels",
                Some(("text/csv", format!("id,label\n{labels}").into_bytes())),
                &[],
            )
            .await?;
        let answers: Vec<Option<String>> = futures_util::stream::iter(chunk)
            .map(|row| predict(&http, &predict_url, token, row, &load))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        if seen.switched_at.is_none()
            && let Some(retrained) = &seen.retrained
            && let Some(at) = answers.iter().position(|v| v.as_ref() == Some(retrained))
        {
            seen.switched_at = Some(first + at as i64);
        }
        // Pace the load.
        let due = Duration::from_secs_f64(((index + 1) * CHUNK) as f64 / REQUESTS_PER_SECOND);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        observe(client, &mut seen, clock).await?;
    }
    let windows = stream.len() as i64 / WINDOW;
    let deadline = Instant::now() + Duration::from_secs(120);
    while (seen.evaluations.len() as i64) < windows || retraining(&seen) {
        if Instant::now() > deadline {
            bail!(
                "only {} of {windows} windows were evaluated within 2 minutes",
                seen.evaluations.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        observe(client, &mut seen, clock).await?;
    }

    let sent = load.sent.load(Ordering::Relaxed);
    let failed = load.failed.load(Ordering::Relaxed);
    clock.say(format!(
        "{sent} requests answered through Vigil, {failed} failed"
    ));
    let accuracy = |range: std::ops::Range<usize>| {
        let values: Vec<f64> = seen.evaluations
            [range.start.min(seen.evaluations.len())..range.end.min(seen.evaluations.len())]
            .iter()
            .filter_map(accuracy_of)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let drift_window = (DRIFT_AT / WINDOW) as usize;
    let summary = json!({
        "drift_detected_window": seen.first_decision,
        "retrained_version": seen.retrained,
        "promoted": seen.promoted,
        "switched_at_record": seen.switched_at,
        "requests": sent,
        "failed_requests": failed,
        "accuracy_reference": accuracy(0..drift_window),
        "accuracy_before": accuracy(drift_window..drift_window + 1),
        "accuracy_after": accuracy(seen.evaluations.len().saturating_sub(1)..seen.evaluations.len()),
    });
    Ok(summary)
}

/// Whether a retraining (or another change to the model) is still pending or running.
fn retraining(seen: &Seen) -> bool {
    seen.actions
        .values()
        .any(|state| state == "pending" || state == "running")
}

/// One predict request; returns the version that answered, or None (counted) if it failed.
async fn predict(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    row: &Row,
    load: &Load,
) -> Option<String> {
    load.sent.fetch_add(1, Ordering::Relaxed);
    let answer = async {
        let response = http
            .post(url)
            .bearer_auth(token)
            .json(&json!({"id": row.id, "features": row.features}))
            .send()
            .await?
            .error_for_status()?;
        let answer: Value = response.json().await?;
        anyhow::Ok(answer["model_version"].as_str().unwrap_or("").to_string())
    }
    .await;
    match answer {
        Ok(version) => Some(version),
        Err(error) => {
            load.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(id = %row.id, %error, "a demo request failed");
            None
        }
    }
}

/// The reference as the monitor takes it: the CSV without its labels.
fn reference_body(csv_text: &str) -> anyhow::Result<String> {
    let mut lines = csv_text.lines();
    let header = lines.next().context("empty dataset")?;
    let columns: Vec<&str> = header.split(',').collect();
    let label_at = columns
        .iter()
        .position(|c| *c == "label")
        .context("no label column")?;
    let keep = |line: &str| {
        line.split(',')
            .enumerate()
            .filter(|(i, _)| *i != label_at)
            .map(|(_, v)| v)
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut body = keep(header);
    body.push('\n');
    for line in lines {
        body.push_str(&keep(line));
        body.push('\n');
    }
    Ok(body)
}
