//! Monitors end to end through the API: drift detected, alerted, signed and replayed; state and
//! pending alerts carried across a restart; failing plugins contained; quality metrics beside
//! the reference's; the policy's correction across columns. On a fresh SQLite file, and on a
//! fresh Postgres database in a test of its own.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{
    PATIENCE, model_and_monitor, on_both_backends, records_csv, start, wait_for, webhook_receiver,
};

on_both_backends!(drift_is_detected_alerted_signed_and_replayed);
async fn drift_is_detected_alerted_signed_and_replayed(db: String) {
    let (hook_url, received) = webhook_receiver().await;
    let daemon = start(&db).await;
    daemon.upload_standard_plugins().await;
    model_and_monitor(
        &daemon,
        500,
        json!({
            "pipeline": {"detectors": [{"column": "x", "plugin": "detect-page-hinkley"}]},
            "alerts": {"channels": [{"type": "log"}, {"type": "webhook", "url": hook_url, "secret": "s3cret"}]},
        }),
    )
    .await;
    for (i, (seed, shift)) in [(2, 0.0), (3, 0.0), (4, 2.0)].into_iter().enumerate() {
        let (status, body) = daemon
            .admin(
                Method::POST,
                "/v1/models/m/records",
                Some(("text/csv", records_csv(&format!("w{i}-"), seed, 500, shift))),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let evaluations = daemon.evaluations("watch", 3).await;
    let (newest, oldest) = (&evaluations[0], &evaluations[2]);
    assert_eq!(oldest["action"], "none", "{oldest}");
    assert_eq!(oldest["result"]["drifted_columns"], 0, "{oldest}");
    let x = &newest["result"]["columns"][0];
    assert_eq!(
        (x["name"].as_str(), x["drifted"].as_bool()),
        (Some("x"), Some(true)),
        "{newest}"
    );
    assert!(x["p_value"].as_f64().unwrap() < 1e-10);
    assert_ne!(newest["action"], "none", "{newest}");
    assert_eq!(
        (
            newest["window_start"].as_i64(),
            newest["window_end"].as_i64()
        ),
        (Some(1000), Some(1500))
    );
    // Page-Hinkley fires soon after the shift at offset 1000, and never before it.
    let detections: Vec<i64> = evaluations
        .iter()
        .flat_map(|e| {
            e["result"]["detectors"][0]["detections"]
                .as_array()
                .unwrap()
                .clone()
        })
        .map(|d| d.as_i64().unwrap())
        .collect();
    assert!(!detections.is_empty(), "{newest}");
    assert!((1000..1100).contains(&detections[0]), "{detections:?}");

    let (_, alerts) = daemon
        .admin(Method::GET, "/v1/alerts?monitor=watch", None)
        .await;
    let alerts = alerts["alerts"].as_array().unwrap().clone();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["cause"], "drift");
    assert!(
        wait_for(|| !received.lock().unwrap().is_empty()).await,
        "the webhook was not called"
    );
    let (signature, body) = received.lock().unwrap()[0].clone();
    assert_eq!(signature, Some(vigil::alerts::signature("s3cret", &body)));
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (sent["monitor"].as_str(), sent["cause"].as_str()),
        (Some("watch"), Some("drift"))
    );

    // Replay reproduces the stored statistics and decision exactly.
    for evaluation in [newest, oldest] {
        let id = evaluation["id"].as_i64().unwrap();
        let (status, report) = daemon
            .json(
                Method::POST,
                &format!("/v1/evaluations/{id}/replay"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["same"], true, "{report}");
    }
    let (_, status) = daemon.admin(Method::GET, "/v1/status", None).await;
    assert_eq!(status["monitors"][0]["open_alerts"], json!(["drift"]));
    let (_, metrics) = daemon.admin(Method::GET, "/metrics", None).await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("vigil_column_drifted{monitor=\"watch\",column=\"x\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vigil_ingested_records_total{model=\"m\"} 1500"),
        "{metrics}"
    );
    daemon.stop().await;
}

on_both_backends!(an_alert_left_pending_by_a_crash_is_delivered_at_the_next_start);
/// The state a crash leaves between an evaluation's commit and its alert's delivery: the alert
/// is stored, pending, with the evaluation. The next start delivers it.
async fn an_alert_left_pending_by_a_crash_is_delivered_at_the_next_start(db: String) {
    let (hook_url, received) = webhook_receiver().await;
    let daemon = start(&db).await;
    daemon.upload_standard_plugins().await;
    model_and_monitor(
        &daemon,
        500,
        json!({"alerts": {"channels": [{"type": "webhook", "url": hook_url}]}}),
    )
    .await;
    daemon.stop().await;

    let store = vigil_store::Store::open(&db).await.unwrap();
    let monitor = store.monitor("watch").await.unwrap().unwrap();
    let (evaluation_id, alert_ids) = store
        .record_evaluation(
            &vigil_store::NewEvaluation {
                monitor_id: monitor.id,
                window_start: 0,
                window_end: 500,
                started_at: 1,
                finished_at: 2,
                status: "ok",
                action: "alert",
                reason: "x drifted",
                result: "{}",
                actions: &[],
            },
            &vigil_store::MonitorState {
                next_offset: 500,
                last_closed_at: 2,
                state: "{}".into(),
            },
            &[vigil_store::NewAlert {
                cause: "drift",
                message: "x drifted",
            }],
        )
        .await
        .unwrap();
    drop(store);
    assert!(received.lock().unwrap().is_empty());

    let daemon = start(&db).await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, alerts) = daemon
            .admin(Method::GET, "/v1/alerts?monitor=watch", None)
            .await;
        let delivery = alerts["alerts"][0]["delivery"]
            .as_str()
            .unwrap()
            .to_string();
        if delivery.contains("delivered") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pending alert was not delivered: {alerts}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent: Vec<Value> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(signature, body)| {
            assert_eq!(signature, &None, "the channel has no secret");
            serde_json::from_slice(body).unwrap()
        })
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (
            sent[0]["id"].as_i64(),
            sent[0]["evaluation_id"].as_i64(),
            sent[0]["cause"].as_str(),
            sent[0]["message"].as_str()
        ),
        (
            Some(alert_ids[0]),
            Some(evaluation_id),
            Some("drift"),
            Some("x drifted")
        )
    );
    daemon.stop().await;
}

on_both_backends!(a_restart_restores_detector_state_and_the_window_position);
async fn a_restart_restores_detector_state_and_the_window_position(db: String) {
    let daemon = start(&db).await;
    daemon.upload_standard_plugins().await;
    model_and_monitor(
        &daemon,
        300,
        json!({"pipeline": {"detectors": [{"column": "x", "plugin": "detect-page-hinkley"}]}}),
    )
    .await;
    daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", records_csv("a", 5, 300, 0.0))),
        )
        .await;
    let first = daemon.evaluations("watch", 1).await;
    daemon.stop().await;

    let daemon = start(&db).await;
    daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", records_csv("b", 6, 300, 0.0))),
        )
        .await;
    let both = daemon.evaluations("watch", 2).await;
    assert_eq!(
        both[1]["id"], first[0]["id"],
        "the first window is not evaluated again"
    );
    assert_eq!(both[0]["window_start"], 300);
    let before = &both[0]["result"]["detectors"][0]["snapshot_before"];
    assert!(
        before.is_string(),
        "the detector resumed from its stored state: {}",
        both[0]
    );
    assert!(first[0]["result"]["detectors"][0]["snapshot_before"].is_null());
    let (status, report) = daemon
        .json(
            Method::POST,
            &format!("/v1/evaluations/{}/replay", both[0]["id"]),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, &report["same"]),
        (StatusCode::OK, &json!(true)),
        "{report}"
    );
    assert_eq!(daemon.db_url, db);
    daemon.stop().await;
}

on_both_backends!(failures_are_contained_and_never_read_as_no_drift);
async fn failures_are_contained_and_never_read_as_no_drift(db: String) {
    let daemon = start(&db).await;
    daemon.upload_standard_plugins().await;
    // A policy with an invalid configuration fails every window: no action, ever.
    model_and_monitor(
        &daemon,
        200,
        json!({"policy": {"plugin": "policy-threshold", "config": {"alert_share": 5.0}},
               "pipeline": {"columns": {"color": {"plugin": "drift-psi", "config": {"threshold": -1.0}}}}}),
    )
    .await;
    for i in 0..6 {
        daemon
            .admin(
                Method::POST,
                "/v1/models/m/records",
                Some(("text/csv", records_csv(&format!("f{i}-"), 10 + i, 200, 3.0))),
            )
            .await;
    }
    let evaluations = daemon.evaluations("watch", 6).await;
    for evaluation in &evaluations {
        assert_eq!(evaluation["status"], "policy_failed", "{evaluation}");
        assert_eq!(evaluation["action"], "none");
        let color = &evaluation["result"]["columns"][2];
        assert_eq!(color["name"], "color");
        assert!(
            color["drifted"].is_null(),
            "a failed column is not 'no drift': {color}"
        );
        assert!(!color["failure"].is_null());
    }
    // After five failing windows in a row the plugins are quarantined.
    let (_, status) = daemon.admin(Method::GET, "/v1/status", None).await;
    let quarantined: HashSet<String> = status["monitors"][0]["quarantined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            q["plugin"]
                .as_str()
                .unwrap()
                .split('@')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        quarantined.contains("policy-threshold")
            || evaluations[0]["reason"]
                .as_str()
                .unwrap()
                .contains("quarantined"),
        "{status}"
    );
    let (_, alerts) = daemon.admin(Method::GET, "/v1/alerts", None).await;
    assert!(
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["cause"].as_str().unwrap().starts_with("quarantine:")),
        "a failing policy never raises a drift alert: {alerts}"
    );
    daemon.stop().await;
}

on_both_backends!(window_metrics_come_with_the_reference_value);
/// Quality metrics end to end: a classifier's windows get accuracy (and the rest) from labels
/// that arrived before the window closed, next to the same metric on a reference that is a
/// labelled, frozen range of the stream; both reach the stored evaluation.
async fn window_metrics_come_with_the_reference_value(db: String) {
    let daemon = start(&db).await;
    daemon.upload_standard_plugins().await;
    daemon.create_model("m", "classification").await;
    // Records `r0..r299` predict class 1 when i is even; the label is right for 3 in 4 of
    // the first 200 (the reference) and for 1 in 2 of the next 100 (the window).
    let send = |range: std::ops::Range<usize>| {
        let mut records = String::from("id,x,prediction\n");
        let mut labels = String::from("id,label\n");
        for i in range {
            let predicted = (i % 2 == 0) as u8;
            let right = if i < 200 { i % 4 != 3 } else { i % 2 == 0 };
            let label = if right { predicted } else { 1 - predicted };
            records.push_str(&format!("r{i},{},{predicted}\n", i % 17));
            labels.push_str(&format!("r{i},{label}\n"));
        }
        let daemon = &daemon;
        async move {
            for (path, body) in [("labels", labels), ("records", records)] {
                let (status, answer) = daemon
                    .admin(
                        Method::POST,
                        &format!("/v1/models/m/{path}"),
                        Some(("text/csv", body.into_bytes())),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{answer}");
            }
        }
    };
    send(0..200).await;
    let (status, body) = daemon
        .json(
            Method::POST,
            "/v1/monitors",
            json!({
                "name": "watch", "model": "m", "window": {"records": 100},
                "features": [{"name": "x", "type": "numeric"}],
                "reference": {"start": 0, "end": 200},
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    send(200..300).await;
    let evaluation = &daemon.evaluations("watch", 1).await[0];
    assert_eq!(evaluation["window_start"], 200, "{evaluation}");
    let metrics = evaluation["result"]["metrics"].as_array().unwrap();
    let accuracy = metrics
        .iter()
        .find(|m| m["name"] == "accuracy")
        .unwrap_or_else(|| panic!("no accuracy in {evaluation}"));
    assert_eq!(
        (accuracy["value"].as_f64(), accuracy["reference"].as_f64()),
        (Some(0.5), Some(0.75)),
        "{evaluation}"
    );
    daemon.stop().await;
}

/// Labels that arrive after a window was evaluated do not make its replay differ: replay sees
/// the labels the evaluation saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_labels_do_not_change_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&crate::common::sqlite_database(&dir)).await;
    daemon.create_model("m", "classification").await;
    let labels = |prefix: &str, range: std::ops::Range<usize>, label: &str| {
        let mut csv = String::from("id,label\n");
        for i in range {
            csv.push_str(&format!("{prefix}{i},{label}\n"));
        }
        csv.into_bytes()
    };
    let post = |path: &'static str, body: Vec<u8>| {
        let daemon = &daemon;
        async move {
            let (status, answer) = daemon
                .admin(Method::POST, path, Some(("text/csv", body)))
                .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
    };
    // A frozen-range reference with its labels, and labels for half the window ahead of it.
    post("/v1/models/m/records", records_csv("ref", 1, 300, 0.0)).await;
    post("/v1/models/m/labels", labels("ref", 0..300, "1")).await;
    post("/v1/models/m/labels", labels("w", 0..150, "1")).await;
    let spec = json!({"name": "watch", "model": "m", "window": {"records": 300},
                      "reference": {"start": 0, "end": 300},
                      "features": [{"name": "x", "type": "numeric"}, {"name": "y", "type": "numeric"},
                                   {"name": "color", "type": "categorical"}]});
    let (status, body) = daemon.json(Method::POST, "/v1/monitors", spec).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    post("/v1/models/m/records", records_csv("w", 2, 300, 0.0)).await;
    let evaluation = daemon.evaluations("watch", 1).await[0].clone();
    assert_eq!(
        evaluation["result"]["window"]["labels"], 150,
        "{evaluation}"
    );
    // The rest of the window's labels arrive late, and all say the other class.
    post("/v1/models/m/labels", labels("w", 150..300, "0")).await;
    let (status, report) = daemon
        .json(
            Method::POST,
            &format!("/v1/evaluations/{}/replay", evaluation["id"]),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, &report["same"]),
        (StatusCode::OK, &json!(true)),
        "{report}"
    );
    daemon.stop().await;
}

on_both_backends!(the_policy_corrects_for_many_columns_in_a_monitor);
/// `policy-threshold` with `multiple_testing` inside a monitor: the window's three p-values
/// (x, y and color) are adjusted together, and the stored reason says so.
async fn the_policy_corrects_for_many_columns_in_a_monitor(db: String) {
    let daemon = start(&db).await;
    model_and_monitor(
        &daemon,
        500,
        json!({"policy": {"plugin": "policy-threshold",
                          "config": {"multiple_testing": "benjamini_hochberg", "alpha": 0.01}}}),
    )
    .await;
    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", records_csv("w", 3, 500, 3.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let evaluations = daemon.evaluations("watch", 1).await;
    let reason = evaluations[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("benjamini_hochberg correction over 3 p-values")
            && reason.contains("below alpha 0.01"),
        "{reason}"
    );
    // Only x moved (by 3): it alone passes the correction.
    assert!(
        reason.contains("1 of 3 tested columns drifted")
            && reason.contains("): x;")
            && reason.contains("1 adjusted below alpha"),
        "{reason}"
    );
    daemon.stop().await;
}
