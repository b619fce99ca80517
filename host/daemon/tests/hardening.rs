//! Promises checked from outside, as an operator, a model owner and a client holding the
//! lowest role's token meet the daemon: capacity shared fairly between monitors, secrets that
//! are never read back, bodies that cannot stall ingestion, input refused whole, alerts that
//! do not flap, and a fresh daemon that is ready to use.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

mod common;
use common::{Daemon, sqlite_database, start, start_with};

/// `n` numeric features named `f0`, `f1`, …
fn features(n: usize) -> Value {
    (0..n)
        .map(|i| json!({"name": format!("f{i}"), "type": "numeric"}))
        .collect()
}

/// CSV with `columns` numeric features and `rows` records whose ids start with `prefix`.
fn table(columns: usize, rows: usize, prefix: &str) -> Vec<u8> {
    let mut csv = String::from("id");
    for i in 0..columns {
        csv.push_str(&format!(",f{i}"));
    }
    csv.push('\n');
    for row in 0..rows {
        csv.push_str(&format!("{prefix}{row}"));
        for i in 0..columns {
            csv.push_str(&format!(",{}", (row * (i + 3)) % 17));
        }
        csv.push('\n');
    }
    csv.into_bytes()
}

async fn create(daemon: &Daemon, spec: Value) -> (StatusCode, Value) {
    daemon.json(Method::POST, "/v1/monitors", spec).await
}

/// A fresh daemon offers the standard plugins: a monitor that names them, or relies on the
/// defaults, is created without uploading anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_daemon_offers_the_standard_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&sqlite_database(&dir)).await;
    daemon.create_model("m", "classification").await;
    let (status, body) = create(
        &daemon,
        json!({
            "name": "w", "model": "m", "window": {"records": 100},
            "features": [{"name": "x", "type": "numeric"}, {"name": "c", "type": "categorical"}],
            "pipeline": {"detectors": [{"column": "x", "plugin": "detect-page-hinkley"}],
                         "preprocessors": [{"plugin": "preprocess-standardize"}]},
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let pinned: Vec<&str> = [
        &body["spec"]["pipeline"]["numeric"]["plugin"],
        &body["spec"]["pipeline"]["categorical"]["plugin"],
        &body["spec"]["policy"]["plugin"],
    ]
    .iter()
    .map(|v| v.as_str().unwrap())
    .collect();
    assert_eq!(
        pinned,
        [
            "drift-ks@0.1.0",
            "drift-chi2@0.1.0",
            "policy-threshold@0.1.0"
        ]
    );
    daemon.stop().await;
}

/// One monitor cannot take the plugin capacity the others need: each reserves what it needs
/// when it is created, a monitor that does not fit is refused (409), and one past the
/// per-monitor feature cap is refused outright (422). The monitors that fit keep evaluating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_monitor_cannot_starve_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_with(&sqlite_database(&dir), |config| {
        config.plugin_instances = 100;
        config.plugin_shared_instances = 10;
        config.max_features_per_monitor = 80;
    })
    .await;
    daemon.create_model("m", "regression").await;
    let spec = |name: &str, n: usize| json!({"name": name, "model": "m", "window": {"records": 50}, "features": features(n)});

    let (status, body) = create(&daemon, spec("huge", 10_000)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_features_per_monitor"),
        "{body}"
    );
    // 80 features take 81 of the 90 instances monitors may reserve.
    let (status, body) = create(&daemon, spec("big", 80)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = create(&daemon, spec("greedy", 20)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "capacity");
    let (status, body) = create(&daemon, spec("small", 5)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // An update is checked against the others, not against its own old reservation.
    let (status, body) = daemon
        .json(Method::PUT, "/v1/monitors/small", spec("small", 8))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = daemon
        .json(Method::PUT, "/v1/monitors/small", spec("small", 10))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Both monitors evaluate their windows, every column tested.
    for (monitor, columns) in [("big", 80), ("small", 8)] {
        let (status, body) = daemon
            .admin(
                Method::PUT,
                &format!("/v1/monitors/{monitor}/reference"),
                Some(("text/csv", table(columns, 150, "ref"))),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", table(80, 150, "r"))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (monitor, columns) in [("big", 80), ("small", 8)] {
        let evaluations = daemon.evaluations(monitor, 3).await;
        for evaluation in &evaluations {
            assert_eq!(evaluation["status"], "ok", "{monitor}: {evaluation}");
            assert_eq!(
                evaluation["result"]["columns"].as_array().unwrap().len(),
                columns
            );
        }
    }
    daemon.stop().await;
}
