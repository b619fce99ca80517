//! A new version of an uploaded plugin tried in shadow on a live monitor, then promoted
//! (docs/monitors.md, "Trying a plugin version in shadow"). `mean-gap` 1.0.0 measures the gap
//! between the means in the column's units, 2.0.0 in reference standard deviations: on a
//! window shifted by 2 (the reference's deviation is √8.25 ≈ 2.87) version 1 flags drift and
//! version 2 does not, and the comparison says so window by window.

mod common;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use common::{Daemon, start_until};

/// Rows `id,x,y` where `x` cycles through 0..10 plus `shift` (so its mean is 4.5 + `shift`
/// exactly, its deviation √8.25) and `y` cycles unshifted.
fn csv(prefix: &str, rows: usize, shift: f64) -> Vec<u8> {
    let mut text = String::from("id,x,y\n");
    for i in 0..rows {
        text.push_str(&format!(
            "{prefix}{i},{},{}\n",
            (i % 10) as f64 + shift,
            (i % 10) as f64
        ));
    }
    text.into_bytes()
}

async fn window(daemon: &Daemon, prefix: &str, shift: f64, count: usize) -> Value {
    daemon
        .call(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", csv(prefix, 200, shift))),
        )
        .await;
    let page = daemon
        .until("/v1/monitors/gap/evaluations", |p| {
            p["evaluations"].as_array().unwrap().len() >= count
        })
        .await;
    page["evaluations"][0].clone()
}

/// Model `m` and its monitor `gap` of columns `x` and `y`, windows of 200 records, with
/// `settings` added to its spec and a reference of 300 unshifted rows.
async fn monitor(daemon: &Daemon, settings: Value) {
    daemon
        .json("/v1/models", json!({"name": "m", "task": "regression"}))
        .await;
    let mut spec = json!({
        "name": "gap", "model": "m", "window": {"records": 200},
        "features": [{"name": "x", "type": "numeric"}, {"name": "y", "type": "numeric"}],
    });
    for (key, value) in settings.as_object().unwrap() {
        spec[key] = value.clone();
    }
    daemon.json("/v1/monitors", spec).await;
    daemon
        .call(
            Method::PUT,
            "/v1/monitors/gap/reference",
            Some(("text/csv", csv("r", 300, 0.0))),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_runs_in_shadow_is_compared_and_promoted() {
    let (daemon, _dir, _serving) =
        start_until(std::future::pending(), 5_000, &["mean-gap-1", "mean-gap-2"]).await;
    // Alert when half the columns drift, never retrain.
    monitor(
        &daemon,
        json!({
            "pipeline": {"numeric": {"plugin": "mean-gap@1.0.0"}},
            "policy": {"plugin": "policy-threshold",
                       "config": {"alert_share": 0.5, "retrain_share": 1.0}},
        }),
    )
    .await;

    let shadow = daemon
        .json(
            "/v1/monitors/gap/shadows",
            json!({"plugin": "mean-gap@2.0.0"}),
        )
        .await;
    assert_eq!(shadow["plugin"], "mean-gap@2.0.0");
    assert_eq!(shadow["replaces"], "mean-gap");
    let id = &shadow["id"];
    // The newest version is the default candidate; one shadow per plugin at a time.
    let (status, again) = daemon
        .send(
            Method::POST,
            "/v1/monitors/gap/shadows",
            Some(("application/json", br#"{"plugin": "mean-gap"}"#.to_vec())),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    // A version running in shadow cannot be deleted.
    let (status, refused) = daemon
        .send(Method::DELETE, "/v1/plugins/mean-gap/2.0.0", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("runs in shadow on monitor(s): gap")
    );

    let same = window(&daemon, "a", 0.0, 1).await;
    assert_eq!(same["action"], "none", "{same:#}");
    let shifted = window(&daemon, "b", 2.0, 2).await;
    assert_eq!(shifted["action"], "alert", "{shifted:#}");

    let report = daemon
        .until(&format!("/v1/monitors/gap/shadows/{id}"), |r| {
            r["windows"].as_array().unwrap().len() >= 2
        })
        .await;
    let windows = report["windows"].as_array().unwrap();
    let (shifted_window, same_window) = (&windows[0], &windows[1]);
    assert_eq!(same_window["agree"], true, "{same_window:#}");
    assert_eq!(shifted_window["agree"], false, "{shifted_window:#}");
    assert_eq!(shifted_window["evaluation_id"], shifted["id"]);
    assert_eq!(shifted_window["pinned"]["drifted"], json!(["x"]));
    assert_eq!(shifted_window["shadow"]["drifted"], json!([]));
    assert_eq!(shifted_window["pinned"]["action"], "alert");
    assert_eq!(shifted_window["shadow"]["action"], "none");
    let difference = |path: &str| {
        shifted_window["differences"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["path"] == path)
            .unwrap_or_else(|| panic!("no difference at {path}: {shifted_window:#}"))
            .clone()
    };
    let statistic = difference("columns[0].statistic");
    assert!((statistic["pinned"].as_f64().unwrap() - 2.0).abs() < 1e-9);
    let scaled = 2.0 / 8.25f64.sqrt();
    assert!((statistic["shadow"].as_f64().unwrap() - scaled).abs() < 1e-9);
    assert_eq!(difference("columns[0].drifted")["shadow"], false);
    assert_eq!(difference("action")["pinned"], "alert");
    let summary = &report["summary"];
    assert_eq!(summary["windows"], 2, "{summary}");
    assert_eq!(summary["agreeing"], 1, "{summary}");
    assert_eq!(summary["verdicts_differ"], 1, "{summary}");
    assert_eq!(summary["decisions_differ"], 1, "{summary}");
    assert!(summary["candidate_ms_per_call"].as_f64().unwrap() > 0.0);

    // Promoted: the monitor tests with 2.0.0 from its next window, and 1.0.0, which nothing
    // uses any more, can be deleted.
    let promoted = daemon
        .json(&format!("/v1/monitors/gap/shadows/{id}/promote"), json!({}))
        .await;
    assert_eq!(promoted["status"], "promoted");
    let monitor = daemon.call(Method::GET, "/v1/monitors/gap", None).await;
    assert_eq!(
        monitor["spec"]["pipeline"]["numeric"]["plugin"],
        "mean-gap@2.0.0"
    );
    assert_eq!(promoted["promoted_revision"], monitor["revision"]);
    let (status, _) = daemon
        .send(Method::DELETE, "/v1/plugins/mean-gap/1.0.0", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let next = window(&daemon, "c", 2.0, 3).await;
    assert_eq!(next["action"], "none", "{next:#}");
    assert_eq!(next["result"]["columns"][0]["plugin"], "mean-gap@2.0.0");
}

/// A candidate that loops to its deadline on every call never holds up the monitor: the
/// monitor evaluates its windows while the shadow is still on its first ones, and the windows
/// the shadow falls too far behind on are counted as skipped, none lost from the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_candidate_in_shadow_never_holds_up_its_monitor() {
    const WINDOWS: usize = 8;
    // Two columns at 500 ms each: a second per window in shadow.
    let (daemon, _dir, _serving) =
        start_until(std::future::pending(), 500, &["hostile-drift"]).await;
    monitor(&daemon, json!({})).await;
    let shadow = daemon
        .json(
            "/v1/monitors/gap/shadows",
            json!({"plugin": "hostile-drift", "replaces": "drift-ks", "config": {"mode": "loop"}}),
        )
        .await;
    let path = format!("/v1/monitors/gap/shadows/{}", shadow["id"]);

    daemon
        .call(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", csv("a", 200 * WINDOWS, 0.0))),
        )
        .await;
    let evaluations = daemon
        .until("/v1/monitors/gap/evaluations", |p| {
            p["evaluations"].as_array().unwrap().len() >= WINDOWS
        })
        .await;
    for evaluation in evaluations["evaluations"].as_array().unwrap() {
        assert_eq!(evaluation["status"], "ok", "{evaluation:#}");
    }
    // Waiting for the shadow, the monitor would have finished after the shadow's seventh
    // window at the earliest (seven seconds of looping).
    let behind = daemon.call(Method::GET, &path, None).await;
    assert!(
        behind["windows"].as_array().unwrap().len() < WINDOWS - 1,
        "{behind:#}"
    );

    // Every window is either compared (the candidate timed out, then was quarantined) or
    // counted as skipped.
    let done = daemon
        .until(&path, |r| {
            r["summary"]["windows"].as_u64().unwrap() + r["skipped_windows"].as_u64().unwrap()
                == WINDOWS as u64
        })
        .await;
    let summary = &done["summary"];
    assert_eq!(summary["candidate_failed"], summary["windows"], "{done:#}");
    let listed = daemon
        .call(Method::GET, "/v1/monitors/gap/shadows", None)
        .await;
    assert_eq!(
        listed["shadows"][0]["skipped_windows"],
        done["skipped_windows"]
    );
}
