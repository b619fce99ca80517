//! The history-dependent and metric-driven policies inside a running daemon: a monitor's
//! earlier windows reach `policy-consecutive` and a replay gives them back the same, and the
//! label-free estimated metrics reach `policy-performance` (docs/monitors.md, "policy").

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Daemon, model_and_monitor, numbers, on_both_backends, records_csv, start};

async fn replay(daemon: &Daemon, evaluation: &Value) -> Value {
    let (status, report) = daemon
        .json(
            Method::POST,
            &format!("/v1/evaluations/{}/replay", evaluation["id"]),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

on_both_backends!(consecutive_retrains_on_the_third_drifted_window_and_replays_the_same);
/// Six drifted windows in a row under `windows = 3`: the third and the sixth retrain (a
/// retraining decision starts the count again), the others decide nothing. Each window's
/// policy saw the windows before it, and replaying any of them decides the same again.
async fn consecutive_retrains_on_the_third_drifted_window_and_replays_the_same(db: String) {
    let daemon = start(&db).await;
    model_and_monitor(
        &daemon,
        300,
        json!({"policy": {"plugin": "policy-consecutive",
                          "config": {"windows": 3, "drift_share": 0.3}}}),
    )
    .await;
    // One window at a time, so each is evaluated before the next arrives.
    for (n, prefix) in ["a", "b", "c", "d", "e", "f"].into_iter().enumerate() {
        daemon
            .ingest_csv(records_csv(prefix, 3 + n as u64, 300, 3.0))
            .await;
        daemon.evaluations("watch", n + 1).await;
    }
    let mut evaluations = daemon.evaluations("watch", 6).await;
    evaluations.reverse();
    let actions: Vec<&str> = evaluations
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["none", "none", "retrain", "none", "none", "retrain"],
        "{evaluations:#?}"
    );
    let reason = |i: usize| evaluations[i]["reason"].as_str().unwrap().to_string();
    assert!(
        reason(1).contains("2 drifted windows in a row, fewer than the 3 needed"),
        "{}",
        reason(1)
    );
    assert!(
        reason(2).contains("3 drifted windows in a row, at least the 3 needed"),
        "{}",
        reason(2)
    );
    assert!(
        reason(3).contains("which decided to retrain"),
        "{}",
        reason(3)
    );
    for (i, evaluation) in evaluations.iter().enumerate() {
        assert_eq!(
            evaluation["result"]["history"]["recent_windows"], i,
            "{evaluation}"
        );
    }

    // Replays see each window's earlier windows as they were: the same decisions and reasons.
    for evaluation in &evaluations {
        let report = replay(&daemon, evaluation).await;
        assert_eq!(report["same"], true, "{report}");
        assert_eq!(
            report["replayed"]["action"], evaluation["action"],
            "{report}"
        );
    }
    daemon.stop().await;
}

/// A record's probability of class `1`: confident when `sharpness` is high, near 0.5 when low.
fn scored_csv(prefix: &str, seed: u64, n: usize, sharpness: f64) -> Vec<u8> {
    let xs = numbers(seed, n, 0.0);
    let ys = numbers(seed + 1, n, 10.0);
    let mut csv = String::from("id,x,y,color,prediction,proba_1\n");
    for i in 0..n {
        let p = 1.0 / (1.0 + (-sharpness * xs[i]).exp());
        let color = ["red", "green", "blue"][i % 3];
        csv.push_str(&format!(
            "{prefix}{i},{},{},{color},{},{p}\n",
            xs[i],
            ys[i],
            u8::from(p >= 0.5)
        ));
    }
    csv.into_bytes()
}

/// Labels for [`scored_csv`]'s records with `sharpness`, drawn as the probabilities say (a
/// calibrated model), from a fixed low-discrepancy sequence.
fn labels_csv(prefix: &str, seed: u64, n: usize, sharpness: f64) -> Vec<u8> {
    let xs = numbers(seed, n, 0.0);
    let mut csv = String::from("id,label\n");
    for (i, x) in xs.iter().enumerate() {
        let p = 1.0 / (1.0 + (-sharpness * x).exp());
        let u = ((i as f64 + 0.5) * 0.618_033_988_749_895).fract();
        csv.push_str(&format!("{prefix}{i},{}\n", u8::from(u < p)));
    }
    csv.into_bytes()
}

on_both_backends!(estimated_performance_reaches_the_policy);
/// A frozen-range reference with labels and probabilities: each window without labels gets
/// `estimated_*` metrics, each beside its realized value on the reference, and a window whose
/// probabilities turn unsure lowers the estimated accuracy enough for `policy-performance`.
async fn estimated_performance_reaches_the_policy(db: String) {
    let daemon = start(&db).await;
    daemon.create_model("m", "classification").await;
    daemon.ingest_csv(scored_csv("ref", 11, 400, 3.0)).await;
    let (status, answer) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/labels",
            Some(("text/csv", labels_csv("ref", 11, 400, 3.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let spec = crate::common::watch_spec(
        400,
        json!({
            "reference": {"start": 0, "end": 400},
            "estimated_performance": {"positive_class": "1", "threshold": 0.5},
            "policy": {"plugin": "policy-performance",
                       "config": {"metric": "estimated_accuracy", "margin": 0.1, "action": "alert"}},
        }),
    );
    let (status, body) = daemon.json(Method::POST, "/v1/monitors", spec).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Like the reference: the estimate stays near the reference's accuracy.
    daemon.ingest_csv(scored_csv("same", 12, 400, 3.0)).await;
    let first = daemon.evaluations("watch", 1).await[0].clone();
    // Unsure: probabilities near 0.5.
    daemon.ingest_csv(scored_csv("unsure", 13, 400, 0.2)).await;
    let second = daemon.evaluations("watch", 2).await[0].clone();

    let metric = |evaluation: &Value, name: &str| -> (f64, f64) {
        let metrics = evaluation["result"]["metrics"].as_array().unwrap();
        let m = metrics
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {evaluation}"));
        (
            m["value"].as_f64().unwrap(),
            m["reference"].as_f64().unwrap(),
        )
    };
    for name in [
        "estimated_accuracy",
        "estimated_precision",
        "estimated_recall",
        "estimated_f1",
        "estimated_roc_auc",
    ] {
        metric(&first, name);
    }
    let (estimated, realized) = metric(&first, "estimated_accuracy");
    // A calibrated model of this sharpness is right about 80 % of the time.
    assert!((0.7..0.9).contains(&realized), "{realized}");
    assert!(
        (estimated - realized).abs() < 0.06,
        "{estimated} vs {realized}"
    );
    assert_eq!(first["action"], "none", "{first}");

    let (unsure, _) = metric(&second, "estimated_accuracy");
    assert!(unsure < realized - 0.1, "{unsure}");
    assert_eq!(second["action"], "alert", "{second}");
    let reason = second["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Metric estimated_accuracy is ")
            && reason.contains("its value on the reference")
            && reason.contains("more than the margin 0.1"),
        "{reason}"
    );
    assert_eq!(replay(&daemon, &second).await["same"], true);
    daemon.stop().await;
}

/// A monitor of a regression model cannot ask for a classifier's estimation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimated_performance_needs_a_classifier() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&crate::common::sqlite_database(&dir)).await;
    daemon.create_model("m", "regression").await;
    let spec = crate::common::watch_spec(
        100,
        json!({"estimated_performance": {"positive_class": "1"}}),
    );
    let (status, body) = daemon.json(Method::POST, "/v1/monitors", spec).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("not a classifier"), "{body}");
    daemon.stop().await;
}
