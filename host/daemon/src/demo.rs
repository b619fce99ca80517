//! `vigil demo`: the whole loop on a laptop. Starts the daemon on a fresh SQLite file, uploads
//! the standard plugins through the API, registers a model and a monitor, streams a bundled
//! dataset with an abrupt drift at record 5,000 through the ingestion API, and prints each
//! window's evaluation as it is stored.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::Client;
use crate::config::Config;
use crate::plugins::STANDARD_PLUGINS;
use crate::server::{self, AppState, auth};

const REFERENCE: &str = include_str!("../../../examples/demo/reference.csv");
const STREAM: &str = include_str!("../../../examples/demo/stream.csv");
/// Where the bundled stream drifts (see `examples/demo/generate.py`).
pub const DRIFT_AT: i64 = 5_000;
const WINDOW: i64 = 1_000;
const BATCH: usize = 500;

fn monitor_spec() -> Value {
    json!({
        "name": "churn-drift",
        "model": "churn",
        "features": [
            {"name": "age", "type": "numeric"},
            {"name": "income", "type": "numeric"},
            {"name": "tenure", "type": "numeric"},
            {"name": "plan", "type": "categorical"},
            {"name": "region", "type": "categorical"},
        ],
        "window": {"records": WINDOW},
        "pipeline": {
            "detectors": [{"column": "age", "plugin": "detect-page-hinkley", "config": {"threshold": 1000.0}}],
        },
        "policy": {"plugin": "policy-threshold", "config": {"alert_share": 0.3, "retrain_share": 0.5}},
        "alerts": {"cooldown_seconds": 3600, "channels": [{"type": "log"}]},
    })
}

/// Splits the bundled CSV into records (without `label`) and `id,label` rows.
fn split_labels(csv_text: &str) -> anyhow::Result<(String, Vec<String>, Vec<String>)> {
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
    let mut records = Vec::new();
    let mut labels = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        records.push(keep(line));
        labels.push(format!("{},{}", cells[0], cells[label_at]));
    }
    Ok((keep(header), records, labels))
}

fn describe(evaluation: &Value, number: i64) -> String {
    let result = &evaluation["result"];
    let columns = result["columns"].as_array().cloned().unwrap_or_default();
    let drifted: Vec<&str> = columns
        .iter()
        .filter(|c| c["drifted"] == json!(true))
        .filter_map(|c| c["name"].as_str())
        .collect();
    let accuracy = result["metrics"]
        .as_array()
        .and_then(|m| m.iter().find(|x| x["name"] == "accuracy"))
        .and_then(|m| m["value"].as_f64())
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

pub async fn run(keep_serving: bool) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("vigil-demo-")
        .tempdir()?
        .keep();
    let db = dir.join("vigil.db");
    let config = Config {
        database_url: format!("sqlite://{}", db.display()),
        listen: "127.0.0.1:0".parse()?,
        tick_ms: 100,
        ..Config::default()
    };
    let store = vigil_store::Store::open(&config.database_url).await?;
    let runtime = vigil_runtime::Runtime::new(config.runtime_config())?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let token = auth::create_token(&store, "demo", auth::Role::Admin).await?;
    let state = AppState::new(store.clone(), runtime, config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(server::serve(state, listener, async {
        let _ = stopped.await;
    }));
    println!("Vigil demo: daemon on {url}, database {}", db.display());
    let client = Client::new(url.clone(), Some(token.text.clone()));

    for (name, bytes) in STANDARD_PLUGINS {
        let meta = client
            .send(
                Method::POST,
                "/v1/plugins",
                Some(("application/wasm", bytes.to_vec())),
                &[],
            )
            .await
            .with_context(|| format!("uploading {name}"))?;
        println!(
            "uploaded plugin {}@{} ({})",
            meta["name"].as_str().unwrap_or(name),
            meta["version"].as_str().unwrap_or("?"),
            meta["kind"].as_str().unwrap_or("?")
        );
    }
    client
        .post_json(
            "/v1/models",
            &json!({"name": "churn", "task": "classification", "description": "demo churn model"}),
        )
        .await?;
    client
        .post_json("/v1/models/churn/versions", &json!({"version": "v1"}))
        .await?;
    client
        .send(
            Method::PUT,
            "/v1/models/churn/serving",
            Some(("application/json", br#"{"version":"v1"}"#.to_vec())),
            &[],
        )
        .await?;
    client.post_json("/v1/monitors", &monitor_spec()).await?;
    let (header, reference, _) = split_labels(REFERENCE)?;
    let reference_body = format!("{header}\n{}\n", reference.join("\n"));
    client
        .send(
            Method::PUT,
            "/v1/monitors/churn-drift/reference",
            Some(("text/csv", reference_body.into_bytes())),
            &[],
        )
        .await?;
    println!(
        "registered model `churn` (v1 serving) and monitor `churn-drift`: windows of {WINDOW} records, reference of {} rows",
        reference.len()
    );
    println!(
        "streaming {} records; the data drifts from record {DRIFT_AT} on\n",
        STREAM.lines().count() - 1
    );

    let (header, records, labels) = split_labels(STREAM)?;
    let windows = records.len() as i64 / WINDOW;
    let mut shown = 0i64;
    let mut first_action: Option<(i64, Value)> = None;
    let show_new = async |client: &Client,
                          shown: &mut i64,
                          first_action: &mut Option<(i64, Value)>|
           -> anyhow::Result<()> {
        let page = client
            .get("/v1/monitors/churn-drift/evaluations?limit=100")
            .await?;
        let mut evaluations = page["evaluations"].as_array().cloned().unwrap_or_default();
        evaluations.reverse();
        for evaluation in evaluations.into_iter().skip(*shown as usize) {
            *shown += 1;
            println!("{}", describe(&evaluation, *shown));
            if evaluation["action"] != "none" && first_action.is_none() {
                *first_action = Some((*shown, evaluation.clone()));
            }
        }
        Ok(())
    };
    for (index, (chunk, chunk_labels)) in
        records.chunks(BATCH).zip(labels.chunks(BATCH)).enumerate()
    {
        // Labels first: they wait for their records, so each window is scored in full.
        let body = format!("id,label\n{}\n", chunk_labels.join("\n"));
        client
            .send(
                Method::POST,
                "/v1/models/churn/labels",
                Some(("text/csv", body.into_bytes())),
                &[],
            )
            .await?;
        let body = format!("{header}\n{}\n", chunk.join("\n"));
        client
            .send(
                Method::POST,
                "/v1/models/churn/records",
                Some(("text/csv", body.into_bytes())),
                &[("Idempotency-Key", format!("demo-{index}"))],
            )
            .await?;
        show_new(&client, &mut shown, &mut first_action).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while shown < windows {
        if Instant::now() > deadline {
            bail!("only {shown} of {windows} windows were evaluated within 2 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        show_new(&client, &mut shown, &mut first_action).await?;
    }
    // Let the alert deliveries be recorded.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let alerts = client.get("/v1/alerts?monitor=churn-drift").await?;
    println!();
    for alert in alerts["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .rev()
    {
        println!(
            "alert {} fired: cause `{}` (evaluation {}): {}",
            alert["id"],
            alert["cause"].as_str().unwrap_or(""),
            alert["evaluation_id"],
            alert["message"].as_str().unwrap_or("")
        );
    }
    match &first_action {
        Some((number, evaluation)) => println!(
            "\nThe drift injected at record {DRIFT_AT} was detected in window {number} (records {}..{}).",
            evaluation["window_start"], evaluation["window_end"]
        ),
        None => println!("\nNo drift was detected."),
    }
    let actions = client.get("/v1/actions?monitor=churn-drift").await?;
    let retrains = actions["actions"].as_array().map_or(0, |all| {
        all.iter().filter(|a| a["kind"] == "retrain").count()
    });
    if retrains > 0 {
        println!(
            "The policy decided to retrain {retrains} times; each decision is a stored action, \
             which fails while no retraining job is configured (GET /v1/actions)."
        );
    }
    println!("\nWhere to look:");
    println!("  database       {}", db.display());
    println!("  admin token    {}", token.text);
    println!(
        "  serve it again VIGIL_DATABASE_URL=sqlite://{} vigil serve",
        db.display()
    );
    println!(
        "  then           curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8080/v1/status"
    );
    println!(
        "                 .../v1/monitors/churn-drift/evaluations, .../v1/alerts, .../v1/actions, .../metrics"
    );
    if keep_serving {
        println!("\nServing on {url} until Ctrl-C.");
        server::shutdown_signal().await;
    }
    let _ = stop.send(());
    daemon.await??;
    store.close().await;
    if first_action.is_none() {
        bail!("the demo's drift went undetected");
    }
    Ok(())
}
