//! Shadow evaluation through the API (docs/monitors.md, "Trying a plugin version in shadow"):
//! candidates run on the same windows as the pinned plugins, their results are compared window
//! by window and never acted on, and a shadow is promoted (the monitor re-pinned) or dropped
//! with its comparison kept.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Daemon, PATIENCE, model_and_monitor, on_both_backends, records_csv, start};

/// The shadow's report once it has `windows` windows (polling, bounded): a shadow evaluates a
/// window after the monitor has recorded it.
async fn shadow_with(daemon: &Daemon, id: &Value, windows: usize) -> Value {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let (status, report) = daemon
            .admin(
                Method::GET,
                &format!("/v1/monitors/watch/shadows/{id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        if report["windows"].as_array().unwrap().len() >= windows {
            return report;
        }
        assert!(std::time::Instant::now() < deadline, "{report:#}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn start_shadow(body: Value) -> (Method, String, Value) {
    (Method::POST, "/v1/monitors/watch/shadows".into(), body)
}

on_both_backends!(shadows_are_compared_never_acted_on_then_promoted_or_dropped);
/// Two shadows on one monitor: Welch's t in place of KS, and a policy that retrains after two
/// drifted windows in place of the threshold policy (which only alerts at a third of the
/// columns drifted). Three drifted windows: the monitor alerts each time and starts no
/// retraining; the shadow policy would have retrained at the second and third, and says so
/// beside the monitor's decisions. Then the t-test is promoted (the monitor pins it, a new
/// revision) and the policy dropped; both comparisons stay.
async fn shadows_are_compared_never_acted_on_then_promoted_or_dropped(db: String) {
    let daemon = start(&db).await;
    // Strict thresholds: the columns that do not drift must not flag by chance.
    model_and_monitor(
        &daemon,
        300,
        json!({"pipeline": {
            "numeric": {"plugin": "drift-ks", "config": {"threshold": 0.001}},
            "categorical": {"plugin": "drift-chi2", "config": {"threshold": 0.001}},
        }}),
    )
    .await;

    // What cannot be shadowed is refused, naming why.
    for (body, status, says) in [
        (
            json!({"plugin": "drift-ks"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "pins drift-ks@",
        ),
        (
            json!({"plugin": "drift-t"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "uses no plugin `drift-t`",
        ),
        (
            json!({"plugin": "drift-t", "replaces": "policy-threshold"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected a policy",
        ),
        (
            json!({"plugin": "policy-consecutive", "replaces": "policy-threshold",
                   "config": {"windows": 2, "alert_share": 0.3}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "has no setting `alert_share`",
        ),
        (
            json!({"plugin": "drift-nothing@1.0.0", "replaces": "drift-ks"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no uploaded plugin drift-nothing@1.0.0",
        ),
    ] {
        let (method, path, body) = start_shadow(body);
        let (got, answer) = daemon.json(method, &path, body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {answer}"
        );
    }

    let (status, t) = daemon
        .json(
            Method::POST,
            "/v1/monitors/watch/shadows",
            json!({"plugin": "drift-t", "replaces": "drift-ks"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!(t["status"], "running");
    assert_eq!(t["replaces"], "drift-ks");
    assert_eq!(t["summary"]["windows"], 0);
    let (status, policy) = daemon
        .json(
            Method::POST,
            "/v1/monitors/watch/shadows",
            json!({"plugin": "policy-consecutive", "replaces": "policy-threshold",
                   "config": {"windows": 2, "drift_share": 0.3}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{policy}");
    assert_eq!(policy["config"]["windows"], 2);
    // One running shadow per plugin replaced.
    let (status, again) = daemon
        .json(
            Method::POST,
            "/v1/monitors/watch/shadows",
            json!({"plugin": "drift-mwu", "replaces": "drift-ks"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // A reader reads shadows and cannot start, promote or drop them.
    let reader = daemon.token("read").await;
    let (status, _) = daemon
        .call(
            Method::GET,
            "/v1/monitors/watch/shadows",
            Some(&reader),
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/monitors/watch/shadows".to_string(),
        format!("/v1/monitors/watch/shadows/{}/promote", t["id"]),
        format!("/v1/monitors/watch/shadows/{}/drop", t["id"]),
    ] {
        let (status, _) = daemon
            .call(
                Method::POST,
                &path,
                Some(&reader),
                Some(("application/json", b"{}".to_vec())),
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }

    for (n, prefix) in ["a", "b", "c"].into_iter().enumerate() {
        daemon
            .ingest_csv(records_csv(prefix, 3 + n as u64, 300, 3.0))
            .await;
        daemon.evaluations("watch", n + 1).await;
    }
    let mut evaluations = daemon.evaluations("watch", 3).await;
    evaluations.reverse();
    let pinned: Vec<&str> = evaluations
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(pinned, ["alert", "alert", "alert"], "{evaluations:#?}");
    // Each evaluation counts its calls into each plugin.
    let calls = &evaluations[0]["result"]["plugin_calls"];
    let ks = calls
        .as_object()
        .unwrap()
        .iter()
        .find(|(plugin, _)| plugin.starts_with("drift-ks@"))
        .unwrap_or_else(|| panic!("{calls}"))
        .1;
    assert!(ks["calls"].as_u64().unwrap() >= 2, "{calls}");
    assert!(ks["seconds"].as_f64().unwrap() > 0.0, "{calls}");

    // The policy in shadow: the same windows and history, its own decisions, none acted on.
    let report = shadow_with(&daemon, &policy["id"], 3).await;
    let windows = report["windows"].as_array().unwrap();
    let starts: Vec<i64> = windows
        .iter()
        .map(|w| w["window_start"].as_i64().unwrap())
        .collect();
    assert_eq!(starts, [600, 300, 0], "newest first: {report:#}");
    let shadow_actions: Vec<&str> = windows
        .iter()
        .rev()
        .map(|w| w["shadow"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(shadow_actions, ["none", "retrain", "retrain"], "{report:#}");
    for (window, evaluation) in windows.iter().rev().zip(&evaluations) {
        assert_eq!(window["evaluation_id"], evaluation["id"]);
        assert_eq!(window["pinned"]["action"], "alert");
        assert_eq!(window["agree"], false, "{window:#}");
        assert_eq!(window["pinned"]["drifted"], json!(["x"]), "{window:#}");
        assert_eq!(window["shadow"]["drifted"], json!(["x"]), "{window:#}");
        let paths: Vec<&str> = window["differences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["path"].as_str().unwrap())
            .collect();
        assert!(paths.contains(&"action"), "{window:#}");
        assert!(
            !paths.iter().any(|p| p.starts_with("columns")),
            "{window:#}"
        );
        assert!(window["shadow"]["calls"]["calls"].as_u64().unwrap() >= 1);
        assert!(window["pinned"]["calls"]["calls"].as_u64().unwrap() >= 1);
    }
    let summary = &report["summary"];
    assert_eq!(summary["windows"], 3, "{summary}");
    assert_eq!(summary["agreeing"], 0, "{summary}");
    assert_eq!(summary["decisions_differ"], 3, "{summary}");
    assert_eq!(summary["verdicts_differ"], 0, "{summary}");
    assert_eq!(summary["candidate_failed"], 0, "{summary}");
    assert!(summary["candidate_ms_per_call"].as_f64().unwrap() > 0.0);
    assert!(summary["pinned_ms_per_call"].as_f64().unwrap() > 0.0);
    // The shadow's retrain decisions started nothing.
    let (status, actions) = daemon.admin(Method::GET, "/v1/actions", None).await;
    assert_eq!(status, StatusCode::OK, "{actions}");
    assert!(
        actions["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["kind"] != "retrain"),
        "{actions:#}"
    );

    // Welch's t in shadow: the same verdicts, other statistics.
    let report = shadow_with(&daemon, &t["id"], 3).await;
    for window in report["windows"].as_array().unwrap() {
        assert_eq!(window["agree"], true, "{window:#}");
        let paths: Vec<&str> = window["differences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["path"].as_str().unwrap())
            .collect();
        assert!(paths.contains(&"columns[0].statistic"), "{window:#}");
        assert!(paths.contains(&"columns[0].test"), "{window:#}");
        assert!(!paths.contains(&"action"), "{window:#}");
    }
    let summary = &report["summary"];
    assert_eq!(summary["agreeing"], 3, "{summary}");
    assert_eq!(summary["verdicts_differ"], 0, "{summary}");
    assert!(summary["largest_statistic_change"].as_f64().unwrap() > 0.0);

    // Promoted: the monitor pins the candidate in a new revision; the comparison stays.
    let (_, before) = daemon.admin(Method::GET, "/v1/monitors/watch", None).await;
    let (status, promoted) = daemon
        .json(
            Method::POST,
            &format!("/v1/monitors/watch/shadows/{}/promote", t["id"]),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{promoted}");
    assert_eq!(promoted["status"], "promoted");
    assert_eq!(promoted["summary"]["windows"], 3);
    let (_, after) = daemon.admin(Method::GET, "/v1/monitors/watch", None).await;
    let revision = before["revision"].as_i64().unwrap() + 1;
    assert_eq!(after["revision"], revision);
    assert_eq!(promoted["promoted_revision"], revision);
    assert_eq!(after["spec"]["pipeline"]["numeric"]["plugin"], t["plugin"]);
    assert_eq!(
        after["spec"]["pipeline"]["numeric"]["config"]["threshold"],
        0.001
    );
    // Ended shadows cannot be promoted or dropped again.
    for verb in ["promote", "drop"] {
        let (status, answer) = daemon
            .json(
                Method::POST,
                &format!("/v1/monitors/watch/shadows/{}/{verb}", t["id"]),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    }

    // Dropped: the monitor is unchanged, the comparison stays.
    let (status, dropped) = daemon
        .json(
            Method::POST,
            &format!("/v1/monitors/watch/shadows/{}/drop", policy["id"]),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dropped}");
    assert_eq!(dropped["status"], "dropped");
    assert_eq!(dropped["summary"]["decisions_differ"], 3);
    let (_, unchanged) = daemon.admin(Method::GET, "/v1/monitors/watch", None).await;
    assert_eq!(unchanged["revision"], revision);
    assert_eq!(
        unchanged["spec"]["policy"]["plugin"],
        after["spec"]["policy"]["plugin"]
    );

    // The monitor now tests with the promoted plugin.
    daemon.ingest_csv(records_csv("d", 9, 300, 3.0)).await;
    let latest = daemon.evaluations("watch", 4).await;
    let x = &latest[0]["result"]["columns"][0];
    assert_eq!(x["plugin"], t["plugin"], "{x:#}");
    let (status, list) = daemon
        .admin(Method::GET, "/v1/monitors/watch/shadows", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let statuses: Vec<&str> = list["shadows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["dropped", "promoted"], "{list:#}");
    daemon.stop().await;
}
