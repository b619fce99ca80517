//! Actions through the daemon: what a decision sets in motion is stored, run once, resumed
//! after a crash between the decision and its action, and only a retraining that ran counts in
//! the policy's history.

use crate::common::{
    Daemon, model_and_monitor, records_csv, sqlite_database, start, webhook_receiver,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use vigil_store::{NewAction, NewAlert, NewEvaluation, Store};

/// A monitor whose policy retrains when a third of the columns drift, alerting to `hook`.
async fn retraining_monitor(daemon: &Daemon, hook: &str) {
    model_and_monitor(
        daemon,
        500,
        json!({
            "policy": {"plugin": "policy-threshold",
                       "config": {"alert_share": 0.2, "retrain_share": 0.3}},
            "alerts": {"cooldown_seconds": 0, "channels": [{"type": "webhook", "url": hook}]},
        }),
    )
    .await;
}

async fn ingest(daemon: &Daemon, prefix: &str, rows: usize, shift: f64) {
    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", records_csv(prefix, 3, rows, shift))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The monitor's actions, oldest first, once none is pending or running (polled, bounded).
async fn finished_actions(daemon: &Daemon) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, page) = daemon
            .admin(Method::GET, "/v1/actions?monitor=watch", None)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let actions: Vec<Value> = page["actions"].as_array().unwrap().clone();
        if actions
            .iter()
            .all(|a| a["state"] == "succeeded" || a["state"] == "failed")
        {
            return actions.into_iter().rev().collect();
        }
        assert!(Instant::now() < deadline, "actions unfinished: {page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn summary(actions: &[Value]) -> Vec<(String, String, i64)> {
    actions
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
                a["attempts"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_decision_runs_its_actions_once_and_a_crash_between_them_resumes_them() {
    let (hook, received) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_database(&dir);
    let daemon = start(&db).await;
    retraining_monitor(&daemon, &hook).await;

    // A drifted window: the policy retrains, which also fires the drift alert.
    ingest(&daemon, "a", 500, 3.0).await;
    let evaluation = daemon.evaluations("watch", 1).await[0].clone();
    assert_eq!(evaluation["action"], "retrain", "{evaluation}");
    let actions = finished_actions(&daemon).await;
    assert_eq!(
        summary(&actions),
        [
            ("alert".into(), "succeeded".into(), 1),
            ("retrain".into(), "failed".into(), 1)
        ]
    );
    assert!(
        actions[0]["outcome"]
            .as_str()
            .unwrap()
            .contains("delivered"),
        "{actions:?}"
    );
    assert!(
        actions[1]["outcome"]
            .as_str()
            .unwrap()
            .contains("has no `actions.retrain`"),
        "{actions:?}"
    );
    assert_eq!(received.lock().unwrap().len(), 1);

    // The retraining did not run, so the next window's policy sees none.
    ingest(&daemon, "b", 500, 0.0).await;
    let second = daemon.evaluations("watch", 2).await[0].clone();
    assert_eq!(second["result"]["history"]["last_retrain"], Value::Null);
    assert_eq!(second["result"]["history"]["windows_since_retrain"], 1);
    daemon.stop().await;

    // A crash right after a window's transaction: its decision's actions are stored pending
    // and were never run; one more was running when the daemon died.
    let store = Store::open(&db).await.unwrap();
    let monitor = store.monitor("watch").await.unwrap().unwrap();
    let state = store.monitor_state(monitor.id).await.unwrap().unwrap();
    let next = vigil_store::MonitorState {
        next_offset: state.next_offset + 10,
        ..state.clone()
    };
    let retrain = [NewAction {
        kind: "retrain",
        detail: "",
        input: json!({"reason": "crash test"}),
    }];
    let (evaluation_id, _) = store
        .record_evaluation(
            &NewEvaluation {
                monitor_id: monitor.id,
                window_start: state.next_offset,
                window_end: state.next_offset + 10,
                status: "ok",
                action: "retrain",
                reason: "crash test",
                result: "{}",
                actions: &retrain,
                ..NewEvaluation::default()
            },
            &next,
            &[
                NewAlert {
                    cause: "drift",
                    message: "left pending",
                },
                NewAlert {
                    cause: "error",
                    message: "left running",
                },
            ],
        )
        .await
        .unwrap();
    let left = store.pending_actions_of(evaluation_id).await.unwrap();
    assert!(store.start_action(left[1].id, false).await.unwrap());
    store.close().await;

    let daemon = start(&db).await;
    let actions = finished_actions(&daemon).await;
    assert_eq!(
        summary(&actions[2..]),
        [
            ("alert".into(), "succeeded".into(), 1),
            ("alert".into(), "succeeded".into(), 2),
            ("retrain".into(), "failed".into(), 1)
        ]
    );
    // Each alert reached the webhook once more, and the first window's was not sent again.
    let bodies: Vec<Value> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| serde_json::from_slice(body).unwrap())
        .collect();
    let messages: Vec<&str> = bodies
        .iter()
        .map(|b| b["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 3, "{bodies:?}");
    assert_eq!(
        messages[1..]
            .iter()
            .filter(|m| **m == "left pending")
            .count(),
        1
    );
    assert_eq!(
        messages[1..]
            .iter()
            .filter(|m| **m == "left running")
            .count(),
        1
    );
    daemon.stop().await;
}

#[tokio::test]
async fn only_a_retraining_that_succeeded_counts_in_the_policys_history() {
    let (hook, _received) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_database(&dir);
    let daemon = start(&db).await;
    retraining_monitor(&daemon, &hook).await;
    ingest(&daemon, "a", 500, 3.0).await;
    daemon.evaluations("watch", 1).await;
    finished_actions(&daemon).await;
    daemon.stop().await;

    // A retraining that ran (as the orchestrator will record it).
    let store = Store::open(&db).await.unwrap();
    let monitor = store.monitor("watch").await.unwrap().unwrap();
    let state = store.monitor_state(monitor.id).await.unwrap().unwrap();
    let retrain = [NewAction {
        kind: "retrain",
        detail: "",
        input: json!({}),
    }];
    let (evaluation_id, _) = store
        .record_evaluation(
            &NewEvaluation {
                monitor_id: monitor.id,
                window_start: state.next_offset,
                window_end: state.next_offset + 1,
                status: "ok",
                action: "retrain",
                result: "{}",
                actions: &retrain,
                ..NewEvaluation::default()
            },
            &vigil_store::MonitorState {
                next_offset: state.next_offset + 1,
                ..state.clone()
            },
            &[],
        )
        .await
        .unwrap();
    let id = store.pending_actions_of(evaluation_id).await.unwrap()[0].id;
    assert!(store.start_action(id, false).await.unwrap());
    store.finish_action(id, true, "job done").await.unwrap();
    let ran_at = store.last_success(monitor.id, "retrain").await.unwrap();
    store.close().await;

    // The recorded window took offset 500; the next one is 501..1001.
    let daemon = start(&db).await;
    ingest(&daemon, "b", 501, 0.0).await;
    let history = daemon.evaluations("watch", 3).await[0]["result"]["history"].clone();
    assert_eq!(
        history["last_retrain"].as_i64(),
        ran_at.map(|ms| ms / 1000),
        "{history}"
    );
    assert_eq!(history["windows_since_retrain"], 0, "{history}");
    daemon.stop().await;
}
