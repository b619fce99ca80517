//! Several daemons on one Postgres database (docs/orchestration.md, "Several replicas"): one
//! replica acts for a monitor at a time, the other takes over within the lease's time when it
//! dies, and no window, action or alert is doubled. Real `vigil serve` processes, a real
//! webhook receiver.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Api, Child, eventually, postgres_database, records_csv, webhook_receiver};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Short, so that the test sees a handover; the default is 15 s.
const LEASE_TTL_MS: u64 = 2_000;
const WINDOW: usize = 200;

/// A replica: `vigil serve` on a port it chooses, with a short lease.
fn replica(db: &str, cache: &Path, log: &Path) -> (Child, String) {
    let mut command = common::vigil_command(db, cache);
    command.args([
        "serve",
        "--set",
        "listen=127.0.0.1:0",
        "--set",
        &format!("lease_ttl_ms={LEASE_TTL_MS}"),
        "--set",
        "tick_ms=50",
        "--set",
        "orchestrator=off",
    ]);
    common::serve(command, log)
}

/// The tests' own part of the client.
trait ReplicaApi {
    async fn ingest(&self, base: &str, prefix: &str, windows: usize);
    async fn evaluations(&self, base: &str) -> Vec<Value>;
    async fn lease(&self, base: &str) -> (Option<Value>, String);
    async fn evaluated_here(&self, base: &str) -> u64;
}

impl ReplicaApi for Api {
    /// Drifted records (every window alerts), `windows` windows of them.
    async fn ingest(&self, base: &str, prefix: &str, windows: usize) {
        for w in 0..windows {
            let csv = records_csv(&format!("{prefix}{w}-"), 7 + w as u64, WINDOW, 3.0);
            self.post(base, "/v1/models/m/records", "text/csv", csv)
                .await;
        }
    }

    /// The monitor's evaluations, oldest first.
    async fn evaluations(&self, base: &str) -> Vec<Value> {
        let page = self
            .get(base, "/v1/monitors/watch/evaluations?limit=1000")
            .await;
        let mut evaluations = page["evaluations"].as_array().unwrap().clone();
        evaluations.reverse();
        evaluations
    }

    /// The lease on the monitor as `base` shows it, and that replica's holder name.
    async fn lease(&self, base: &str) -> (Option<Value>, String) {
        let status = self.get(base, "/v1/status").await;
        let lease = status["leases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"].as_str().unwrap().starts_with("monitor/"))
            .cloned();
        (lease, status["holder"].as_str().unwrap().to_string())
    }

    /// Evaluations this replica recorded, from its `/metrics`.
    async fn evaluated_here(&self, base: &str) -> u64 {
        let text = self
            .http
            .get(format!("{base}/metrics"))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| line.starts_with("vigil_evaluations_total{"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

/// Deliveries per alert id.
fn deliveries(received: &common::Received) -> BTreeMap<i64, usize> {
    let mut counts = BTreeMap::new();
    for (_, body) in received.lock().unwrap().iter() {
        let body: Value = serde_json::from_slice(body).unwrap();
        *counts.entry(body["id"].as_i64().unwrap()).or_default() += 1;
    }
    counts
}

/// Two replicas on a fresh database, with the model `m` and the monitor `watch` (alerting to a
/// webhook receiver on every drifted window).
struct Setup {
    api: Api,
    replicas: [(Child, String); 2],
    received: common::Received,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let db = postgres_database();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let api = Api::new(common::cli_token(&db, &cache, "admin"));
    let (hook, received) = webhook_receiver().await;
    let (a, url_a) = replica(&db, &cache, &dir.path().join("a.log"));
    let (b, url_b) = replica(&db, &cache, &dir.path().join("b.log"));
    let replicas = [(a, url_a.clone()), (b, url_b.clone())];

    api.post(
        &url_a,
        "/v1/models",
        "application/json",
        json!({"name": "m", "task": "classification"})
            .to_string()
            .into_bytes(),
    )
    .await;
    let spec = common::watch_spec(
        WINDOW as u64,
        json!({
            "policy": {"plugin": "policy-threshold",
                       "config": {"alert_share": 0.2, "retrain_share": 1.0}},
            "alerts": {"cooldown_seconds": 0, "channels": [{"type": "webhook", "url": hook}]},
        }),
    );
    api.post(
        &url_a,
        "/v1/monitors",
        "application/json",
        spec.to_string().into_bytes(),
    )
    .await;
    let (status, body) = api
        .send(
            &url_b,
            reqwest::Method::PUT,
            "/v1/monitors/watch/reference",
            Some(("text/csv", records_csv("ref", 1, 1000, 0.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    Setup {
        api,
        replicas,
        received,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Postgres: scripts/test.sh provides it"]
async fn two_replicas_never_act_twice_and_a_killed_one_is_taken_over() {
    let Setup {
        api,
        mut replicas,
        received,
        _dir,
    } = setup().await;
    let (url_a, url_b) = (replicas[0].1.clone(), replicas[1].1.clone());
    // Half the stream through each replica; both see every window close.
    api.ingest(&url_a, "a", 3).await;
    api.ingest(&url_b, "b", 3).await;
    eventually("6 windows evaluated", || async {
        (api.evaluations(&url_a).await.len() >= 6).then_some(())
    })
    .await;
    eventually("6 alerts delivered", || async {
        (deliveries(&received).len() >= 6).then_some(())
    })
    .await;

    // One holds the lease; the other did nothing for the monitor.
    let (lease, holder_a) = api.lease(&url_a).await;
    let (_, holder_b) = api.lease(&url_b).await;
    let lease = lease.expect("the monitor's lease");
    let holder = lease["holder"].as_str().unwrap().to_string();
    assert!(holder == holder_a || holder == holder_b, "{lease}");
    let first_epoch = lease["epoch"].as_i64().unwrap();
    let (holding, other) = if holder == holder_a { (0, 1) } else { (1, 0) };
    let counted = [
        api.evaluated_here(&replicas[0].1).await,
        api.evaluated_here(&replicas[1].1).await,
    ];
    assert_eq!(counted[holding] + counted[other], 6, "{counted:?}");

    // The holder dies mid-stream; the other takes the monitor over and finishes the stream.
    let evaluated_by_the_dead = counted[holding];
    replicas[holding].0.kill();
    let killed = Instant::now();
    let survivor = replicas[other].1.clone();
    api.ingest(&survivor, "c", 4).await;
    let (took_over, new_lease) = eventually("the survivor takes the lease", || async {
        let (lease, me) = api.lease(&survivor).await;
        let lease = lease?;
        (lease["holder"].as_str() == Some(me.as_str()) && lease["remaining_ms"].as_i64() > Some(0))
            .then(|| (killed.elapsed(), lease))
    })
    .await;
    let first_new_window = eventually("a window after the kill", || async {
        (api.evaluations(&survivor).await.len() > 6).then(|| killed.elapsed())
    })
    .await;
    eprintln!(
        "handover: lease taken {took_over:?} after the kill, first window evaluated after {first_new_window:?}"
    );
    assert!(
        new_lease["epoch"].as_i64().unwrap() > first_epoch,
        "{new_lease}"
    );
    let bound = Duration::from_millis(LEASE_TTL_MS) + Duration::from_secs(5);
    assert!(
        first_new_window <= bound,
        "handover took {first_new_window:?}"
    );

    let evaluations = eventually("10 windows evaluated", || async {
        let evaluations = api.evaluations(&survivor).await;
        (evaluations.len() >= 10).then_some(evaluations)
    })
    .await;
    let delivered = eventually("10 alerts delivered", || async {
        let delivered = deliveries(&received);
        (delivered.len() >= 10).then_some(delivered)
    })
    .await;

    // Every window exactly once, in order, and recorded by exactly one replica.
    let windows: Vec<(i64, i64)> = evaluations
        .iter()
        .map(|e| {
            (
                e["window_start"].as_i64().unwrap(),
                e["window_end"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(i64, i64)> = (0..10)
        .map(|w| ((w * WINDOW) as i64, ((w + 1) * WINDOW) as i64))
        .collect();
    assert_eq!(windows, expected);
    let by_survivor = api.evaluated_here(&survivor).await;
    assert_eq!(
        evaluated_by_the_dead + by_survivor,
        10,
        "dead {evaluated_by_the_dead}, survivor {by_survivor}"
    );

    // Every alert delivered exactly once, and every action finished once.
    let alerts = api
        .get(&survivor, "/v1/alerts?monitor=watch&limit=100")
        .await;
    let alerts = alerts["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 10, "{alerts:?}");
    assert!(delivered.values().all(|&n| n == 1), "{delivered:?}");
    for alert in alerts {
        assert!(
            delivered.contains_key(&alert["id"].as_i64().unwrap()),
            "{alert}"
        );
    }
    let actions = eventually("every action finished", || async {
        let page = api
            .get(&survivor, "/v1/actions?monitor=watch&limit=100")
            .await;
        let actions = page["actions"].as_array().unwrap().clone();
        actions
            .iter()
            .all(|a| a["state"] == "succeeded")
            .then_some(actions)
    })
    .await;
    assert_eq!(actions.len(), 10);
    assert!(actions.iter().all(|a| a["attempts"] == 1), "{actions:?}");
    // Nothing arrives late from the dead replica.
    assert_eq!(received.lock().unwrap().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Postgres: scripts/test.sh provides it"]
async fn a_paused_replica_whose_lease_was_taken_acts_no_more_when_it_wakes() {
    let Setup {
        api,
        replicas,
        received,
        _dir,
    } = setup().await;
    let (url_a, url_b) = (replicas[0].1.clone(), replicas[1].1.clone());
    api.ingest(&url_a, "a", 2).await;
    eventually("2 alerts delivered", || async {
        (deliveries(&received).len() >= 2).then_some(())
    })
    .await;
    let (lease, holder_a) = api.lease(&url_a).await;
    let holding = usize::from(lease.unwrap()["holder"].as_str() != Some(holder_a.as_str()));
    let (other, paused_url) = (1 - holding, replicas[holding].1.clone());
    let survivor = replicas[other].1.clone();
    let evaluated_before = api.evaluated_here(&paused_url).await;

    // The holder pauses past its lease's time; the other takes the monitor and goes on.
    let pid = replicas[holding].0.0.id().to_string();
    let signal = |name: &str| {
        let status = Command::new("kill").args([name, &pid]).status().unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    api.ingest(&survivor, "c", 3).await;
    eventually("5 windows evaluated", || async {
        (api.evaluations(&survivor).await.len() >= 5).then_some(())
    })
    .await;
    signal("-CONT");

    // Awake, it finds the lease lost: it records nothing, delivers nothing.
    eventually("the woken replica sees the other's lease", || async {
        let (lease, me) = api.lease(&paused_url).await;
        (lease?["holder"].as_str() != Some(me.as_str())).then_some(())
    })
    .await;
    api.ingest(&url_b, "d", 2).await;
    eventually("7 windows evaluated", || async {
        (api.evaluations(&url_a).await.len() >= 7).then_some(())
    })
    .await;
    let delivered = eventually("7 alerts delivered", || async {
        let delivered = deliveries(&received);
        (delivered.len() >= 7).then_some(delivered)
    })
    .await;
    assert!(delivered.values().all(|&n| n == 1), "{delivered:?}");
    assert_eq!(api.evaluated_here(&paused_url).await, evaluated_before);
    assert_eq!(
        evaluated_before + api.evaluated_here(&survivor).await,
        7,
        "every window recorded by one replica"
    );
    let windows: Vec<i64> = api
        .evaluations(&url_a)
        .await
        .iter()
        .map(|e| e["window_start"].as_i64().unwrap())
        .collect();
    assert_eq!(
        windows,
        (0..7).map(|w| (w * WINDOW) as i64).collect::<Vec<_>>()
    );
}
