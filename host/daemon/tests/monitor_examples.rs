//! Every example spec in `examples/monitors/` is created through the HTTP API, as
//! `vigil monitor create -f FILE` would: read with the CLI's own reader, posted, its reference
//! uploaded (or its frozen range ingested), its plugins checked pinned. Then it evaluates one
//! window, so that a setting a plugin refuses fails here too. A new example is picked up
//! without touching this file; the model task comes from the `--task` in its comments.

use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vigil::commands::{content_type_of, read_monitor_file};
use vigil::ingest::parse_records;
use vigil::vocab::{Format, Task};

mod common;
use common::{Daemon, sqlite_database, start};

/// Records per window in the evaluation run for a frozen-range example.
const PROBE_WINDOW: usize = 200;
/// Most records in one ingestion request (the daemon's default `ingest_max_rows`).
const BATCH: usize = 10_000;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/monitors")
}

/// The example specs, sorted.
fn examples() -> Vec<PathBuf> {
    let dir = examples_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples in {}", dir.display());
    files
}

/// The task named by `--task TASK` in the example's comments (`vigil model create … --task`),
/// else classification.
fn task_of(file: &Path, text: &str) -> (&'static str, Task) {
    let named = text
        .split("--task")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next());
    match named {
        None | Some("classification") => ("classification", Task::Classification),
        Some("regression") => ("regression", Task::Regression),
        Some(other) => panic!("{}: unknown task `{other}`", file.display()),
    }
}

/// Every plugin reference in a spec: (JSON pointer, the reference object).
fn plugin_refs<'a>(value: &'a Value, pointer: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(fields) => {
            if fields.get("plugin").is_some_and(Value::is_string) {
                out.push((pointer.clone(), value));
            }
            for (key, child) in fields {
                if key != "config" {
                    plugin_refs(child, format!("{pointer}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                plugin_refs(child, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The features of a spec: (name, type).
fn features(file: &Path, spec: &Value) -> Vec<(String, String)> {
    let text = |feature: &Value, field: &str| match feature[field].as_str() {
        Some(value) => value.to_string(),
        None => panic!("{}: a feature without a `{field}`", file.display()),
    };
    match spec["features"].as_array() {
        Some(list) => list
            .iter()
            .map(|f| (text(f, "name"), text(f, "type")))
            .collect(),
        None => panic!("{}: `features` is not a list", file.display()),
    }
}

/// Records `from..from + rows` of a stream that fits `features`, as CSV: numbers cycling
/// through 23 values, four categories, and a prediction of the task's kind. Any slice of it
/// looks like any other, so its windows do not drift.
fn records(features: &[(String, String)], task: Task, from: usize, rows: usize) -> Vec<u8> {
    let mut csv = String::from("id");
    for (name, _) in features {
        csv.push(',');
        csv.push_str(name);
    }
    csv.push_str(match task {
        Task::Classification => ",prediction,proba_1\n",
        Task::Regression => ",prediction\n",
    });
    for row in from..from + rows {
        csv.push_str(&format!("r{row}"));
        for (i, (_, kind)) in features.iter().enumerate() {
            match kind.as_str() {
                "numeric" => csv.push_str(&format!(",{}.5", (row * 7 + i * 3) % 23)),
                _ => csv.push_str(&format!(",c{}", (row + i) % 4)),
            }
        }
        match task {
            Task::Classification => {
                let positive = row % 3 == 0;
                csv.push_str(if positive { ",1,0.8\n" } else { ",0,0.2\n" });
            }
            Task::Regression => csv.push_str(&format!(",{}\n", 10 + row % 13)),
        }
    }
    csv.into_bytes()
}

async fn ingest(daemon: &Daemon, file: &Path, model: &str, content_type: &str, body: Vec<u8>) {
    let (status, answer) = daemon
        .admin(
            Method::POST,
            &format!("/v1/models/{model}/records"),
            Some((content_type, body)),
        )
        .await;
    assert!(
        status.is_success(),
        "{}: ingesting into `{model}`: {status} {answer}",
        file.display()
    );
}

/// Creates one example on a fresh daemon, checks what was stored, and evaluates a window.
async fn create_example(file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let (spec, reference_file) =
        read_monitor_file(file).unwrap_or_else(|e| panic!("{}: {e:#}", file.display()));
    let shown = file.display();
    let text_field = |field: &str| match spec[field].as_str() {
        Some(value) => value.to_string(),
        None => panic!("{shown}: `{field}` is missing or not a string"),
    };
    let (name, model) = (text_field("name"), text_field("model"));
    let range = spec.get("reference").map(|r| {
        let bound = |key: &str| r[key].as_u64().expect("reference bounds are integers") as usize;
        (bound("start"), bound("end"))
    });
    assert!(
        range.is_some() != reference_file.is_some(),
        "{shown}: an example shows one reference: `reference_file` or a frozen \
         `reference` range"
    );
    let (task_name, task) = task_of(file, &text);
    let features = features(file, &spec);

    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&sqlite_database(&dir)).await;
    daemon.create_model(&model, task_name).await;

    // A frozen range names records the model has: ingest them first, as the example says.
    if let Some((_, end)) = range {
        for from in (0..end).step_by(BATCH) {
            let rows = BATCH.min(end - from);
            let body = records(&features, task, from, rows);
            ingest(&daemon, file, &model, "text/csv", body).await;
        }
    }

    let (status, created) = daemon
        .json(Method::POST, "/v1/monitors", spec.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shown}: {created}");
    assert_eq!(created["name"], name.as_str(), "{shown}");

    let reference_rows = match (&reference_file, range) {
        (Some(path), _) => {
            let bytes = std::fs::read(path)
                .unwrap_or_else(|e| panic!("{shown}: cannot read {}: {e}", path.display()));
            let content_type = content_type_of(path);
            let format = Format::from_content_type(content_type).unwrap();
            let rows = parse_records(&bytes, format, None, task, usize::MAX, 0)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .len();
            let (status, uploaded) = daemon
                .admin(
                    Method::PUT,
                    &format!("/v1/monitors/{name}/reference"),
                    Some((content_type, bytes)),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{shown}: reference: {uploaded}");
            assert_eq!(uploaded["reference_rows"], rows, "{shown}: {uploaded}");
            rows
        }
        (None, Some((start, end))) => end - start,
        (None, None) => unreachable!("checked above"),
    };

    // Stored: every plugin pinned to a version, the defaults included; the ones the example
    // names keep their names (and versions, when given).
    let (status, stored) = daemon
        .admin(Method::GET, &format!("/v1/monitors/{name}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}: {stored}");
    let stored_spec = &stored["spec"];
    let mut pinned = Vec::new();
    plugin_refs(stored_spec, String::new(), &mut pinned);
    for (pointer, reference) in &pinned {
        let plugin = reference["plugin"].as_str().unwrap();
        let pinned = plugin.split_once('@').is_some_and(|(name, version)| {
            !name.is_empty() && semver::Version::parse(version).is_ok()
        });
        assert!(
            pinned,
            "{shown}: {pointer} is `{plugin}`, not pinned as name@version"
        );
    }
    let mut given = Vec::new();
    plugin_refs(&spec, String::new(), &mut given);
    for (pointer, reference) in &given {
        let wanted = reference["plugin"].as_str().unwrap();
        let got = stored_spec
            .pointer(&format!("{pointer}/plugin"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{shown}: {pointer} is not stored: {stored_spec}"));
        let matches = if wanted.contains('@') {
            got == wanted
        } else {
            got.split_once('@').is_some_and(|(name, _)| name == wanted)
        };
        assert!(
            matches,
            "{shown}: {pointer} asked for {wanted}, stored {got}"
        );
    }
    let has = |kind: &str| features.iter().any(|(_, k)| k == kind);
    for (pointer, needed) in [
        ("/policy/plugin", true),
        ("/pipeline/numeric/plugin", has("numeric")),
        ("/pipeline/categorical/plugin", has("categorical")),
    ] {
        assert_eq!(
            stored_spec.pointer(pointer).is_some(),
            needed,
            "{shown}: {pointer} in {stored_spec}"
        );
    }
    // Webhook secrets are write-only.
    let secrets = spec["alerts"]["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|channel| channel["secret"].as_str());
    for secret in secrets {
        assert!(
            !stored.to_string().contains(secret),
            "{shown}: the API shows a webhook secret: {stored}"
        );
    }

    // One window through the whole pipeline: a setting a plugin refuses fails it. The window
    // becomes a count of records, so that a time window need not be waited for.
    let (window, body, content_type) = match &reference_file {
        // The reference itself: a window that cannot drift from it.
        Some(path) => (
            reference_rows,
            std::fs::read(path).unwrap(),
            content_type_of(path),
        ),
        None => {
            let (_, end) = range.unwrap();
            let body = records(&features, task, end, PROBE_WINDOW);
            (PROBE_WINDOW, body, "text/csv")
        }
    };
    let mut probe = spec.clone();
    probe["window"] = json!({"records": window});
    let (status, updated) = daemon
        .json(Method::PUT, &format!("/v1/monitors/{name}"), probe)
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}: {updated}");
    ingest(&daemon, file, &model, content_type, body).await;
    let evaluations = daemon.evaluations(&name, 1).await;
    let evaluation = &evaluations[0];
    let result = &evaluation["result"];
    assert_eq!(evaluation["status"], "ok", "{shown}: {evaluation:#}");
    assert_eq!(result["reference"]["rows"], reference_rows, "{shown}");
    assert_eq!(result["window"]["rows"], window, "{shown}");
    let columns = result["columns"].as_array().unwrap();
    assert_eq!(columns.len(), features.len(), "{shown}: {result:#}");
    let detectors = result["detectors"].as_array().unwrap();
    let declared = spec["pipeline"]["detectors"].as_array().map_or(0, Vec::len);
    assert_eq!(detectors.len(), declared, "{shown}: {result:#}");
    for run in columns.iter().chain(detectors) {
        assert!(run["failure"].is_null(), "{shown}: {run:#}");
    }
    assert!(result["policy"]["failure"].is_null(), "{shown}: {result:#}");

    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_monitor_is_accepted_and_evaluates() {
    for file in examples() {
        create_example(&file).await;
    }
}

/// The checks above do catch a bad example: a misspelt field, a misspelt key of a plugin
/// reference, and a plugin setting that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_example_fails() {
    let dir = tempfile::tempdir().unwrap();
    let minimal = std::fs::read_to_string(examples_dir().join("minimal.toml")).unwrap();
    let csv = examples_dir().join("churn-reference.csv");
    std::fs::copy(&csv, dir.path().join("churn-reference.csv")).unwrap();
    let policy = |table: &str| {
        format!("name = \"churn-minimal\"\npolicy = {{ plugin = \"policy-threshold\", {table} }}")
    };
    let cases = [
        (
            "window = { records = 200 }",
            "window = { recrods = 200 }".to_string(),
            &["422", "recrods"][..],
        ),
        (
            "name = \"churn-minimal\"",
            policy("confg = {}"),
            &["422", "unknown field `confg`"][..],
        ),
        (
            "name = \"churn-minimal\"",
            policy("config = { alert_shares = 0.2 }"),
            &[
                "422",
                "policy-threshold@0.1.0 has no setting `alert_shares`",
            ][..],
        ),
    ];
    for (i, (from, to, expected)) in cases.into_iter().enumerate() {
        assert!(minimal.contains(from), "minimal.toml changed: {from}");
        let file = dir.path().join(format!("broken-{i}.toml"));
        std::fs::write(&file, minimal.replacen(from, &to, 1)).unwrap();
        let outcome = tokio::spawn(async move { create_example(&file).await }).await;
        let panic = match outcome {
            Ok(()) => panic!("case {i} ({to}) passed"),
            Err(error) => error.into_panic(),
        };
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        for needle in expected {
            assert!(
                message.contains(needle),
                "case {i} ({to}) failed, but not for `{needle}`: {message}"
            );
        }
    }
}
