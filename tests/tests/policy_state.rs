//! A policy's state through the daemon (docs/monitors.md, "Policy state"): `counter-policy`
//! keeps the number of drifted windows in a row in its state and retrains at the second. The
//! monitor keeps the state with what it carries, across a restart of the daemon; a policy that
//! fails keeps the state before it; a state over the cap is refused (and the one before kept);
//! the bytes come back exactly as kept (the policy fails otherwise); a replay gives a window the
//! state it was given; and another configuration of the policy starts without a state.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use vigil::plugins::STANDARD_PLUGINS;

mod common;

/// A daemon serving until [`Daemon::stop`].
struct Daemon {
    api: common::Daemon,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Serves the database `db` until [`Daemon::stop`]; `token` is created on the first start.
async fn serve(db: &str, token: Option<String>) -> Daemon {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let (api, serving) = common::serve(db, token, |_| {}, shutdown).await;
    Daemon { api, stop, serving }
}

impl Daemon {
    async fn call(&self, method: Method, path: &str, body: Option<(&str, Vec<u8>)>) -> Value {
        self.api.call(method, path, body).await
    }

    async fn json(&self, method: Method, path: &str, body: Value) -> Value {
        let body = body.to_string().into_bytes();
        self.call(method, path, Some(("application/json", body)))
            .await
    }

    /// Ingests one window of records and waits for its evaluation, the `count`th.
    async fn window(&self, drifted: bool, count: usize) -> Value {
        let shift = if drifted { 20.0 } else { 0.0 };
        let body = csv(&format!("w{count}-"), 200, shift);
        self.call(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", body)),
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let page = self
                .call(
                    Method::GET,
                    "/v1/monitors/watch/evaluations?limit=100",
                    None,
                )
                .await;
            let evaluations = page["evaluations"].as_array().unwrap();
            if evaluations.len() >= count {
                assert_eq!(evaluations.len(), count, "{page}");
                return evaluations[0].clone();
            }
            assert!(Instant::now() < deadline, "no evaluation {count}: {page}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.serving.await.unwrap().unwrap();
    }
}

/// `rows` records whose `x` is the reference's pattern moved by `shift` (20 drifts under KS).
fn csv(prefix: &str, rows: usize, shift: f64) -> Vec<u8> {
    let mut text = String::from("id,x\n");
    for i in 0..rows {
        text.push_str(&format!(
            "{prefix}{i},{}\n",
            (i * 37 % 101) as f64 / 10.0 + shift
        ));
    }
    text.into_bytes()
}

/// The hex of the state the policy keeps after one drifted window (see the guest's `FRAME`).
const ONE: &str = "00fffe225c80307801";

fn policy(config: Value) -> Value {
    json!({"plugin": "counter-policy@0.1.0", "config": config})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_keeps_its_state_from_window_to_window_and_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("vigil.db").display());
    let daemon = serve(&db, None).await;
    let mut components: Vec<Vec<u8>> = STANDARD_PLUGINS.iter().map(|(_, b)| b.to_vec()).collect();
    components.push(vigil_tests::component("counter-policy"));
    for bytes in components {
        daemon.api.upload(bytes).await;
    }
    daemon
        .json(
            Method::POST,
            "/v1/models",
            json!({"name": "m", "task": "regression"}),
        )
        .await;
    // Counted from 0 by the windows before: the 8th window fails, the 11th keeps too much.
    let config = json!({"fail_at": 7, "oversize_at": 10});
    let spec = json!({
        "name": "watch", "model": "m", "window": {"records": 200},
        "features": [{"name": "x", "type": "numeric"}],
        "policy": policy(config.clone()),
    });
    daemon
        .json(Method::POST, "/v1/monitors", spec.clone())
        .await;
    daemon
        .call(
            Method::PUT,
            "/v1/monitors/watch/reference",
            Some(("text/csv", csv("r", 300, 0.0))),
        )
        .await;

    let decided = |e: &Value| {
        (
            e["action"].as_str().unwrap().to_string(),
            e["result"]["policy"]["state"].clone(),
        )
    };
    let expect = |e: &Value, action: &str, given: Option<&str>| {
        assert_eq!(
            decided(e),
            (action.to_string(), given.map_or(Value::Null, |s| json!(s))),
            "{e}"
        );
    };
    expect(&daemon.window(true, 1).await, "none", None);
    // The second drifted window in a row retrains, from the count it kept.
    expect(&daemon.window(true, 2).await, "retrain", Some(ONE));
    // The retraining cleared the state: counting starts again.
    expect(&daemon.window(true, 3).await, "none", None);
    // A stable window ends the run.
    expect(&daemon.window(false, 4).await, "none", Some(ONE));
    expect(&daemon.window(true, 5).await, "none", None);

    // The state is stored with the monitor: a restarted daemon gives it back.
    let token = daemon.api.token.clone();
    daemon.stop().await;
    let daemon = serve(&db, Some(token)).await;
    expect(&daemon.window(true, 6).await, "retrain", Some(ONE));
    expect(&daemon.window(true, 7).await, "none", None);

    // A failing policy decides nothing and keeps the state before it.
    let failed = daemon.window(true, 8).await;
    assert_eq!(failed["status"], "policy_failed", "{failed}");
    expect(&failed, "none", Some(ONE));
    expect(&daemon.window(true, 9).await, "retrain", Some(ONE));
    expect(&daemon.window(true, 10).await, "none", None);

    // A state over the cap fails the decision, naming the cap, and the state before is kept.
    let oversized = daemon.window(true, 11).await;
    assert_eq!(oversized["status"], "policy_failed", "{oversized}");
    let failure = &oversized["result"]["policy"]["failure"];
    assert_eq!(failure["kind"], "output_too_large", "{failure}");
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.contains("65537 bytes") && message.contains("cap of 65536 bytes"),
        "{message}"
    );
    let after = daemon.window(true, 12).await;
    expect(&after, "retrain", Some(ONE));

    // A replay gives each window the state it was given, so it decides the same again.
    let page = daemon
        .call(
            Method::GET,
            "/v1/monitors/watch/evaluations?limit=100",
            None,
        )
        .await;
    for evaluation in page["evaluations"].as_array().unwrap() {
        let report = daemon
            .json(
                Method::POST,
                &format!("/v1/evaluations/{}/replay", evaluation["id"]),
                json!({}),
            )
            .await;
        assert_eq!(report["same"], true, "{report}");
    }

    // Another configuration of the policy starts without the state the old one kept.
    expect(&daemon.window(true, 13).await, "none", None);
    let mut changed = spec;
    changed["policy"] = policy(json!({"fail_at": 7, "oversize_at": 10, "label": "new"}));
    daemon
        .json(Method::PUT, "/v1/monitors/watch", changed)
        .await;
    expect(&daemon.window(true, 14).await, "none", None);
    expect(&daemon.window(true, 15).await, "retrain", Some(ONE));
    daemon.stop().await;
}
