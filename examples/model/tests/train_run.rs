//! `vigil-model train` as a retraining run, against a stand-in for Vigil's API (an axum server
//! in the test) that speaks the protocol of docs/retraining.md: the labeled records as CSV from
//! `GET /v1/models/{model}/records`, the result to `POST /v1/models/{model}/versions`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use vigil_model::model::Model;
use vigil_model::serve::artifact_path;

const BIN: &str = env!("CARGO_BIN_EXE_vigil-model");
const TOKEN: &str = "vgl_run_token_not_to_be_printed";

/// What the stand-in answers and what it saw.
#[derive(Default)]
struct Stub {
    csv: String,
    /// Answers to the first POSTs, in order; then 201.
    post_answers: Vec<(StatusCode, Value)>,
    records_queries: Vec<(String, HashMap<String, String>)>,
    posts: Vec<(String, Value)>,
}

type Shared = Arc<Mutex<Stub>>;

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

async fn records(
    State(stub): State<Shared>,
    Path(model): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    if !authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"a valid bearer token is needed"}"#.into(),
        );
    }
    let mut stub = stub.lock().unwrap();
    stub.records_queries.push((model, query));
    (StatusCode::OK, stub.csv.clone())
}

async fn versions(
    State(stub): State<Shared>,
    Path(model): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "no token"})));
    }
    let mut stub = stub.lock().unwrap();
    stub.posts.push((model, body.clone()));
    if !stub.post_answers.is_empty() {
        let (status, answer) = stub.post_answers.remove(0);
        return (status, Json(answer));
    }
    (
        StatusCode::CREATED,
        Json(json!({"version": body["version"], "status": "candidate"})),
    )
}

/// Starts the stand-in on a free port; returns its base URL.
async fn start_stub(stub: Shared) -> String {
    let app = Router::new()
        .route("/v1/models/{model}/records", get(records))
        .route("/v1/models/{model}/versions", post(versions))
        .with_state(stub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The demo stream's rows `start..end`, shaped as the records API writes them.
fn api_csv(start: usize, end: usize) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/stream.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,age,income,tenure,plan,region,prediction,proba_1,label"
    );
    let mut csv = String::from(
        "id,timestamp,model_version,age,income,tenure,plan,region,prediction,proba_0,proba_1,label\n",
    );
    for (offset, line) in lines.enumerate().skip(start).take(end - start) {
        let cells: Vec<&str> = line.split(',').collect();
        let proba_1: f64 = cells[7].parse().unwrap();
        csv.push_str(&format!(
            "{},2026-03-01T00:00:{:02}Z,v1,{},{},{},{},{},{},{:.4},{},{}\n",
            cells[0],
            offset % 60,
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            1.0 - proba_1,
            cells[7],
            cells[8]
        ));
    }
    csv
}

struct Outcome {
    success: bool,
    stderr: String,
    stdout: String,
}

/// Runs `vigil-model train` with the protocol's variables (and `extra` ones).
async fn run_train(url: &str, artifact_dir: &std::path::Path, extra: &[(&str, &str)]) -> Outcome {
    let mut command = std::process::Command::new(BIN);
    command
        .arg("train")
        .env_clear()
        .env("VIGIL_URL", url)
        .env("VIGIL_TOKEN", TOKEN)
        .env("VIGIL_MODEL", "churn")
        .env("VIGIL_RUN_ID", "retrain-churn-0a1b2c3d4e")
        .env("VIGIL_WINDOW_START", "5000")
        .env("VIGIL_WINDOW_END", "6000")
        .env("VIGIL_ARTIFACT_DIR", artifact_dir);
    for (name, value) in extra {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let outcome = Outcome {
        success: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    };
    assert!(
        !outcome.stderr.contains(TOKEN) && !outcome.stdout.contains(TOKEN),
        "the token was printed: {}",
        outcome.stderr
    );
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_reads_its_window_trains_and_registers_its_version_retrying_a_5xx() {
    let stub = Arc::new(Mutex::new(Stub {
        csv: api_csv(5000, 6000),
        post_answers: vec![(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "the store is unavailable"}),
        )],
        ..Stub::default()
    }));
    let url = start_stub(stub.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let artifact_dir = dir.path().join("artifacts/retrain-churn-0a1b2c3d4e");

    let outcome = run_train(&url, &artifact_dir, &[]).await;
    assert!(outcome.success, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("registered version `retrain-churn-0a1b2c3d4e`"),
        "{}",
        outcome.stderr
    );

    let stub = stub.lock().unwrap();
    assert_eq!(stub.records_queries.len(), 1, "{:?}", stub.records_queries);
    let (model, query) = &stub.records_queries[0];
    assert_eq!(model, "churn");
    let expected_query: HashMap<String, String> = [
        ("start", "5000"),
        ("end", "6000"),
        ("labeled", "true"),
        ("format", "csv"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(query, &expected_query);

    // The first POST met a 503 and was sent again, the same.
    assert_eq!(stub.posts.len(), 2, "{:?}", stub.posts);
    assert_eq!(stub.posts[0], stub.posts[1]);
    let (model, body) = &stub.posts[1];
    assert_eq!(model, "churn");
    let artifact = artifact_dir.canonicalize().unwrap().join("model.json");
    let uri = reqwest::Url::from_file_path(&artifact).unwrap().to_string();
    assert_eq!(body["version"], "retrain-churn-0a1b2c3d4e");
    assert_eq!(body["artifact_uri"], uri.as_str());
    assert_eq!(body["run_id"], "retrain-churn-0a1b2c3d4e");
    assert_eq!(body["training_window"], json!({"start": 5000, "end": 6000}));
    let metrics = &body["metrics"];
    assert_eq!(metrics["training_records"], 1000);
    assert_eq!(metrics["holdout_records"], 200);
    let accuracy = metrics["accuracy"].as_f64().unwrap();
    let roc_auc = metrics["roc_auc"].as_f64().unwrap();
    assert!(accuracy > 0.75 && accuracy <= 1.0, "{metrics}");
    assert!(roc_auc > 0.8 && roc_auc <= 1.0, "{metrics}");

    // The artifact is the model the metrics describe, with the data's features.
    let model = Model::load(&artifact_path(&uri).unwrap()).unwrap();
    assert_eq!(model.classes, ["0", "1"]);
    let names: Vec<&str> = model.features.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["age", "income", "tenure", "plan", "region"]);
    assert_eq!(model.training_records, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_names_its_version_as_told_and_reports_a_refusal_with_status_and_body() {
    let stub = Arc::new(Mutex::new(Stub {
        csv: api_csv(5000, 6000),
        post_answers: vec![(
            StatusCode::CONFLICT,
            json!({"error": "version `v7` exists, registered by run `another-run`"}),
        )],
        ..Stub::default()
    }));
    let url = start_stub(stub.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_train(&url, dir.path(), &[("VIGIL_VERSION", "v7")]).await;
    assert!(!outcome.success);
    assert!(
        outcome.stderr.contains("409 Conflict")
            && outcome
                .stderr
                .contains("version `v7` exists, registered by run `another-run`"),
        "{}",
        outcome.stderr
    );
    let stub = stub.lock().unwrap();
    assert_eq!(stub.posts.len(), 1, "a 4xx is not retried");
    assert_eq!(stub.posts[0].1["version"], "v7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_without_two_classes_or_without_labels_fails_saying_why_and_registers_nothing() {
    let one_class: String = api_csv(5000, 5100)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                format!("{line}\n")
            } else {
                format!("{}1\n", line.trim_end_matches(['0', '1']))
            }
        })
        .collect();
    let header_only = format!("{}\n", api_csv(0, 0).trim_end());
    for (csv, message) in [
        (one_class, "all have the label `1`"),
        (
            header_only,
            "no labeled records in 5000..6000 of model `churn`",
        ),
    ] {
        let stub = Arc::new(Mutex::new(Stub {
            csv,
            ..Stub::default()
        }));
        let url = start_stub(stub.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let outcome = run_train(&url, dir.path(), &[]).await;
        assert!(!outcome.success);
        assert!(outcome.stderr.contains(message), "{}", outcome.stderr);
        assert!(stub.lock().unwrap().posts.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_reported_without_printing_it() {
    let stub = Arc::new(Mutex::new(Stub {
        csv: api_csv(5000, 6000),
        ..Stub::default()
    }));
    let url = start_stub(stub.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    // run_train checks that neither token appears in the output.
    let outcome = run_train(&url, dir.path(), &[("VIGIL_TOKEN", "vgl_wrong_token")]).await;
    assert!(!outcome.success);
    assert!(
        !outcome.stderr.contains("vgl_wrong_token"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("401 Unauthorized")
            && outcome.stderr.contains("a valid bearer token is needed"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_run_without_its_variables_names_them() {
    let output = std::process::Command::new(BIN)
        .arg("train")
        .env_clear()
        .env("VIGIL_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in [
        "VIGIL_TOKEN",
        "VIGIL_MODEL",
        "VIGIL_RUN_ID",
        "VIGIL_WINDOW_START",
    ] {
        assert!(stderr.contains(&format!("{name} is not set")), "{stderr}");
    }
}
