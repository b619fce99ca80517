//! Serving: blue/green switches under load, refused versions, draining, restarts, shutdown.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use vigil_orchestrator::{
    Error, Local, LocalCommand, LocalSettings, Orchestrator, Rollout, RolloutOutcome, RolloutTarget,
};

use crate::{alive, example, settings, wait_until};

const WATCH: Duration = Duration::from_secs(20);

fn rollout(version: &str, flags: &[&str]) -> Rollout {
    let mut args: Vec<String> = [
        "--port",
        "{port}",
        "--version",
        "{version}",
        "--artifact",
        "{artifact}",
    ]
    .map(String::from)
    .to_vec();
    args.extend(flags.iter().map(|flag| flag.to_string()));
    Rollout {
        model: "churn".into(),
        version: version.into(),
        artifact_uri: format!("file:///models/churn/{version}.json"),
        target: RolloutTarget::Local {
            command: LocalCommand {
                program: example("fixture_model").to_string_lossy().into_owned(),
                args,
                working_dir: None,
            },
            health_path: "/healthz".into(),
        },
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// One prediction through the route: the version routed to and the server's answer.
async fn predict(local: &Local, client: &reqwest::Client) -> Result<(String, Value), String> {
    let upstream = local.upstream("churn").ok_or("no upstream")?;
    let answer = client
        .post(format!("{}/predict", upstream.url))
        .send()
        .await
        .map_err(|e| format!("{}: {e}", upstream.version))?;
    if !answer.status().is_success() {
        return Err(format!("{}: {}", upstream.version, answer.status()));
    }
    let body: Value = answer.json().await.map_err(|e| e.to_string())?;
    Ok((upstream.version.clone(), body))
    // `upstream` (its guard) drops here, after the answer is read.
}

fn pid(body: &Value) -> u32 {
    body["pid"].as_u64().unwrap() as u32
}

/// The pids a version's processes logged at start (`fixture_model` says it).
fn logged_pids(dir: &Path, model: &str, version: &str) -> Vec<u32> {
    let log = dir.join(format!("serving/{model}/{version}.log"));
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(" pid ").nth(1)?.split(' ').next()?.parse().ok())
        .collect()
}

/// Clients sending predictions back to back through `upstream`, counting answers by version.
struct Load {
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<HashMap<String, usize>>>,
    pids: Arc<Mutex<HashMap<String, BTreeSet<u32>>>>,
    failures: Arc<Mutex<Vec<String>>>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(local: &Arc<Local>, clients: usize) -> Load {
        let load = Load {
            stop: Arc::default(),
            answers: Arc::default(),
            pids: Arc::default(),
            failures: Arc::default(),
            clients: Vec::new(),
        };
        let clients = (0..clients)
            .map(|_| {
                let (local, stop) = (Arc::clone(local), Arc::clone(&load.stop));
                let (answers, pids) = (Arc::clone(&load.answers), Arc::clone(&load.pids));
                let failures = Arc::clone(&load.failures);
                tokio::spawn(async move {
                    let client = client();
                    while !stop.load(Ordering::SeqCst) {
                        match predict(&local, &client).await {
                            Ok((routed, body)) if body["version"] == routed.as_str() => {
                                *answers.lock().unwrap().entry(routed.clone()).or_default() += 1;
                                pids.lock()
                                    .unwrap()
                                    .entry(routed)
                                    .or_default()
                                    .insert(pid(&body));
                            }
                            Ok((routed, body)) => failures
                                .lock()
                                .unwrap()
                                .push(format!("routed to {routed}, answered by {body}")),
                            Err(e) => failures.lock().unwrap().push(e),
                        }
                    }
                })
            })
            .collect();
        Load { clients, ..load }
    }

    fn answers(&self, version: &str) -> usize {
        self.answers
            .lock()
            .unwrap()
            .get(version)
            .copied()
            .unwrap_or(0)
    }

    /// Waits until `more` answers of `version` arrived after this call.
    async fn wait_for_answers(&self, version: &str, more: usize) {
        let from = self.answers(version);
        wait_until(&format!("{more} more answers from {version}"), || {
            self.answers(version) >= from + more
        })
        .await;
    }

    /// Stops the clients; the failures they saw.
    async fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        for client in self.clients {
            client.await.unwrap();
        }
        self.failures.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_switches_under_load_fail_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(Local::new(dir.path(), settings()).unwrap());
    // Each request takes 20 ms, so that requests are in flight at every switch.
    let v1 = rollout("v1", &["--hold-ms", "20"]);
    let v2 = rollout("v2", &["--hold-ms", "20", "--healthy-after-ms", "300"]);
    local.roll_out(&v1).await.unwrap();
    assert_eq!(
        local.watch_rollout(&v1, WATCH).await.unwrap(),
        RolloutOutcome::Complete
    );

    let load = Load::start(&local, 4);
    load.wait_for_answers("v1", 20).await;
    local.roll_out(&v2).await.unwrap();
    assert_eq!(
        local.watch_rollout(&v2, WATCH).await.unwrap(),
        RolloutOutcome::Complete
    );
    load.wait_for_answers("v2", 20).await;
    local.roll_out(&v1).await.unwrap();
    assert_eq!(
        local.watch_rollout(&v1, WATCH).await.unwrap(),
        RolloutOutcome::Complete
    );
    load.wait_for_answers("v1", 20).await;
    let pids = load.pids.lock().unwrap().clone();
    let failures = load.finish().await;
    assert!(failures.is_empty(), "failed requests: {failures:?}");

    // v1 served twice, by two processes; only the last one is left.
    let (v1_pids, v2_pids) = (&pids["v1"], &pids["v2"]);
    assert_eq!((v1_pids.len(), v2_pids.len()), (2, 1), "{pids:?}");
    let serving = pid(&predict(&local, &client()).await.unwrap().1);
    for &old in v1_pids.iter().chain(v2_pids).filter(|&&p| p != serving) {
        wait_until("a replaced version's process is gone", || !alive(old)).await;
    }
    local.shutdown().await;
}

#[tokio::test]
async fn a_request_in_flight_at_a_switch_finishes_on_the_old_version() {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(Local::new(dir.path(), settings()).unwrap());
    let release = dir.path().join("release");
    let arrived = dir.path().join("release.arrived");
    let v1 = rollout("v1", &["--hold-until", release.to_str().unwrap()]);
    local.roll_out(&v1).await.unwrap();
    let v1_pid = logged_pids(dir.path(), "churn", "v1")[0];

    let slow = tokio::spawn({
        let local = Arc::clone(&local);
        async move { predict(&local, &client()).await }
    });
    wait_until("the slow request reached v1", || arrived.exists()).await;

    let v2 = rollout("v2", &[]);
    local.roll_out(&v2).await.unwrap();
    let (routed, body) = predict(&local, &client()).await.unwrap();
    assert_eq!(
        (routed.as_str(), &body["version"]),
        ("v2", &Value::from("v2"))
    );
    assert!(!slow.is_finished());
    assert!(alive(v1_pid), "v1 was stopped with a request in flight");

    std::fs::write(&release, "").unwrap();
    let (routed, body) = slow.await.unwrap().unwrap();
    assert_eq!(
        (routed.as_str(), &body["version"]),
        ("v1", &Value::from("v1"))
    );
    wait_until("v1 is stopped once drained", || !alive(v1_pid)).await;
    local.shutdown().await;
}

#[tokio::test]
async fn a_replaced_version_is_stopped_after_the_drain_timeout_even_with_requests_held() {
    let dir = tempfile::tempdir().unwrap();
    let settings = LocalSettings {
        drain_timeout: Duration::from_millis(300),
        ..settings()
    };
    let local = Arc::new(Local::new(dir.path(), settings).unwrap());
    let never = dir.path().join("never");
    local
        .roll_out(&rollout("v1", &["--hold-until", never.to_str().unwrap()]))
        .await
        .unwrap();
    let v1_pid = logged_pids(dir.path(), "churn", "v1")[0];
    let stuck = tokio::spawn({
        let local = Arc::clone(&local);
        async move { predict(&local, &client()).await }
    });
    wait_until("the request reached v1", || {
        dir.path().join("never.arrived").exists()
    })
    .await;
    local.roll_out(&rollout("v2", &[])).await.unwrap();
    wait_until("v1 is stopped after the drain timeout", || !alive(v1_pid)).await;
    assert!(stuck.await.unwrap().is_err());
    local.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_never_becomes_healthy_leaves_the_old_one_serving() {
    let dir = tempfile::tempdir().unwrap();
    let settings = LocalSettings {
        health_timeout: Duration::from_secs(1),
        ..settings()
    };
    let local = Arc::new(Local::new(dir.path(), settings).unwrap());
    let v1 = rollout("v1", &["--hold-ms", "10"]);
    local.roll_out(&v1).await.unwrap();
    let v1_pid = logged_pids(dir.path(), "churn", "v1")[0];
    let load = Load::start(&local, 4);
    load.wait_for_answers("v1", 20).await;

    let v2 = rollout("v2", &["--never-healthy"]);
    local.roll_out(&v2).await.unwrap();
    let RolloutOutcome::Failed { reason } = local.watch_rollout(&v2, WATCH).await.unwrap() else {
        panic!("a version that never answered its health check completed");
    };
    assert!(reason.contains("GET /healthz with 200"), "{reason}");
    let v2_pid = logged_pids(dir.path(), "churn", "v2")[0];
    assert!(
        !alive(v2_pid),
        "the refused version's process is left running"
    );

    local.roll_back(&v2, &v1).await.unwrap();
    assert_eq!(
        local.watch_rollout(&v1, WATCH).await.unwrap(),
        RolloutOutcome::Complete
    );
    load.wait_for_answers("v1", 20).await;
    let pids = load.pids.lock().unwrap().clone();
    let failures = load.finish().await;
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert_eq!(pids.keys().collect::<Vec<_>>(), ["v1"]);
    assert_eq!(pids["v1"], BTreeSet::from([v1_pid]), "v1 was restarted");
    local.shutdown().await;
}

#[tokio::test]
async fn a_version_that_exits_at_once_is_tried_twice_then_refused() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::new(dir.path(), settings()).unwrap();
    let v1 = rollout("v1", &[]);
    local.roll_out(&v1).await.unwrap();
    let v2 = rollout("v2", &["--exit-at-once"]);
    local.roll_out(&v2).await.unwrap();
    let RolloutOutcome::Failed { reason } = local.watch_rollout(&v2, WATCH).await.unwrap() else {
        panic!("a version that exits at once completed");
    };
    assert!(reason.contains("exit status: 1"), "{reason}");
    assert!(reason.contains("exiting at once"), "{reason}");
    let log = std::fs::read_to_string(dir.path().join("serving/churn/v2.log")).unwrap();
    assert_eq!(log.matches("exiting at once").count(), 2, "{log}");
    assert_eq!(local.upstream("churn").unwrap().version, "v1");
    local.shutdown().await;
}

#[tokio::test]
async fn rolling_out_the_serving_version_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::new(dir.path(), settings()).unwrap();
    let v1 = rollout("v1", &[]);
    local.roll_out(&v1).await.unwrap();
    let (_, body) = predict(&local, &client()).await.unwrap();
    // `{artifact}` is a `file://` URI's path.
    assert_eq!(body["artifact"], "/models/churn/v1.json");

    local.roll_out(&v1).await.unwrap();
    local.roll_back(&rollout("v0", &[]), &v1).await.unwrap();
    assert_eq!(
        local.watch_rollout(&v1, WATCH).await.unwrap(),
        RolloutOutcome::Complete
    );
    let (_, again) = predict(&local, &client()).await.unwrap();
    assert_eq!(pid(&again), pid(&body));
    assert_eq!(logged_pids(dir.path(), "churn", "v1"), [pid(&body)]);
    // A version never rolled out here is not complete.
    assert!(matches!(
        local
            .watch_rollout(&rollout("v9", &[]), WATCH)
            .await
            .unwrap(),
        RolloutOutcome::Failed { .. }
    ));
    local.shutdown().await;
}

#[tokio::test]
async fn a_serving_process_that_crashes_is_started_again_behind_the_same_route() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::new(dir.path(), settings()).unwrap();
    let v1 = rollout("v1", &[]);
    local.roll_out(&v1).await.unwrap();
    let first = logged_pids(dir.path(), "churn", "v1")[0];
    let url = local.upstream("churn").unwrap().url;
    let _ = client().post(format!("{url}/crash")).send().await;
    wait_until("the crashed process is gone", || !alive(first)).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let body = loop {
        // Requests fail until the process is back; then they reach the new one.
        if let Ok((routed, body)) = predict(&local, &client()).await {
            assert_eq!(routed, "v1");
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "v1 did not come back"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_ne!(pid(&body), first);
    assert_eq!(
        local.watch_rollout(&v1, WATCH).await.unwrap(),
        RolloutOutcome::Complete
    );
    local.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_every_child_and_records_no_run_as_finished() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::new(dir.path(), settings()).unwrap();
    local.roll_out(&rollout("v1", &[])).await.unwrap();
    let mut other = rollout("v1", &[]);
    other.model = "fraud".into();
    local.roll_out(&other).await.unwrap();
    let run = vigil_orchestrator::TrainingRun {
        name: "train-stopped".into(),
        model: "churn".into(),
        env: vec![],
        job: vigil_orchestrator::JobTemplate::Local(LocalCommand {
            program: "sh".into(),
            args: vec![
                "-c".into(),
                r#"echo $$ > "$VIGIL_ARTIFACT_DIR/pid.tmp" && mv "$VIGIL_ARTIFACT_DIR/pid.tmp" "$VIGIL_ARTIFACT_DIR/pid"; exec sleep 600"#.into(),
            ],
            working_dir: None,
        }),
    };
    local.start_training(&run).await.unwrap();
    let pid_file = dir.path().join("artifacts/churn/train-stopped/pid");
    wait_until("the run wrote its pid", || pid_file.exists()).await;
    let mut pids = vec![
        std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
    ];
    pids.extend(logged_pids(dir.path(), "churn", "v1"));
    pids.extend(logged_pids(dir.path(), "fraud", "v1"));
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert!(pids.iter().all(|&pid| alive(pid)), "{pids:?}");

    local.shutdown().await;
    for pid in pids {
        assert!(!alive(pid), "{pid} outlived shutdown");
    }
    assert!(!dir.path().join("runs/train-stopped.exit").exists());
    assert!(local.upstream("churn").is_none());
    assert!(matches!(
        local.roll_out(&rollout("v2", &[])).await,
        Err(Error::Unavailable(_))
    ));
}
