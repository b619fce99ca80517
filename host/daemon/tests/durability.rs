//! Durability of acknowledged records (docs/reliability.md, D2): the real `vigil serve` is
//! killed with SIGKILL again and again while four clients ingest with idempotency keys and retry
//! until acknowledged. Afterwards every acknowledged batch is stored exactly once, whole, and
//! the database is sound.
//!
//! Every daemon here listens on a port it chose itself (`listen=127.0.0.1:0`) and says which
//! once it listens; a restarted daemon gets a new one, and the clients follow it.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{Child, PATIENCE, on_both_backends};

const CLIENTS: usize = 4;
const BATCHES_PER_CLIENT: usize = 250;
const ROWS_PER_BATCH: usize = 50;
const KILLS: usize = 20;
/// Batches acknowledged between two kills.
const BATCHES_PER_KILL: usize = CLIENTS * BATCHES_PER_CLIENT / (KILLS + 1);

/// `vigil serve` on a port it chooses, its stderr in `log`: the child and its URL.
fn start(db: &str, cache: &Path, log: &Path) -> (Child, String) {
    let mut command = common::vigil_command(db, cache);
    command.args(["serve", "--set", "listen=127.0.0.1:0"]);
    common::serve(command, log)
}

/// Waits until the daemon answers `/readyz`; returns how long that took.
async fn ready(http: &reqwest::Client, base: &str) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(response) = http.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the daemon at {base} did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Registers the model `m` the tests ingest into.
async fn create_model(http: &reqwest::Client, base: &str, token: &str) {
    let created = http
        .post(format!("{base}/v1/models"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "m", "task": "regression"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

/// Sends CSV records to model `m` without an idempotency key: status and JSON answer.
/// Sends a CSV body, waiting as told and sending again while the daemon answers 429 (its rate
/// limit or ingestion slots, which the clients' retries during the kills may have used up).
async fn ingest_csv(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: String,
) -> (reqwest::StatusCode, serde_json::Value) {
    for _ in 0..100 {
        let response = http
            .post(format!("{base}/v1/models/m/records"))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        if status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            return (status, response.json().await.unwrap());
        }
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(1);
        tokio::time::sleep(Duration::from_secs(wait.clamp(1, 5))).await;
    }
    panic!("the daemon answered 429 a hundred times");
}

fn batch_body(client: usize, batch: usize) -> String {
    let mut body = String::from("id,x,color\n");
    for row in 0..ROWS_PER_BATCH {
        let x = (client * 7919 + batch * 104729 + row * 31) % 1000;
        body.push_str(&format!("c{client}-b{batch}-r{row},{x},k{}\n", row % 5));
    }
    body
}

/// Where the clients find the daemon: its URL, or none while it restarts, and how many times
/// it has been killed. A killed daemon's port is free, and anything may answer on it; so a
/// client that gets an answer Vigil would not give counts it against Vigil only if the daemon
/// it asked was not killed since.
#[derive(Clone)]
struct Endpoint(Arc<Mutex<(usize, Option<String>)>>);

impl Endpoint {
    fn new(url: &str) -> Self {
        Self(Arc::new(Mutex::new((0, Some(url.to_string())))))
    }

    /// How many times the daemon has been killed, and its URL if it is up.
    fn now(&self) -> (usize, Option<String>) {
        self.0.lock().unwrap().clone()
    }

    fn down(&self) {
        let mut endpoint = self.0.lock().unwrap();
        *endpoint = (endpoint.0 + 1, None);
    }

    fn up(&self, url: &str) {
        self.0.lock().unwrap().1 = Some(url.to_string());
    }
}

/// What the clients and the killer share: the batches acknowledged so far and the kills done.
/// Each kill falls halfway through its share of the batches ([`BATCHES_PER_KILL`]), and the
/// clients wait at the end of that share until it has: so every kill lands while they ingest,
/// however fast or slow the machine.
#[derive(Clone, Default)]
struct Progress(Arc<(AtomicUsize, AtomicUsize)>);

impl Progress {
    fn acknowledged(&self) -> usize {
        self.0.0.load(Ordering::SeqCst)
    }

    fn acknowledge(&self) {
        self.0.0.fetch_add(1, Ordering::SeqCst);
    }

    fn killed(&self, kills: usize) {
        self.0.1.store(kills, Ordering::SeqCst);
    }

    /// Waits until the next batch may go: the kill due before it has landed.
    async fn may_send(&self) {
        loop {
            let kills = self.0.1.load(Ordering::SeqCst);
            if kills == KILLS || self.acknowledged() < (kills + 1) * BATCHES_PER_KILL {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

on_both_backends!(sigkill_during_ingestion_loses_and_duplicates_nothing);
async fn sigkill_during_ingestion_loses_and_duplicates_nothing(db: String) {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let log = |n: usize| dir.path().join(format!("daemon-{n}.log"));
    let token = common::cli_token(&db, &cache, "write");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let (mut daemon, mut base) = start(&db, &cache, &log(0));
    ready(&http, &base).await;
    create_model(&http, &base, &token).await;

    let endpoint = Endpoint::new(&base);
    let progress = Progress::default();
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (http, endpoint, progress, token) = (
            http.clone(),
            endpoint.clone(),
            progress.clone(),
            token.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for batch in 0..BATCHES_PER_CLIENT {
                progress.may_send().await;
                let body = batch_body(client, batch);
                loop {
                    let (kills, Some(base)) = endpoint.now() else {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    };
                    let sent = http
                        .post(format!("{base}/v1/models/m/records"))
                        .bearer_auth(&token)
                        .header("content-type", "text/csv")
                        .header("idempotency-key", format!("c{client}-b{batch}"))
                        .body(body.clone())
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status().is_success() => {
                            let outcome: serde_json::Value = response.json().await.unwrap();
                            assert_eq!(outcome["accepted"], ROWS_PER_BATCH, "{outcome}");
                            acknowledged.push((client, batch));
                            progress.acknowledge();
                            break;
                        }
                        Ok(response) => {
                            let status = response.status();
                            assert!(
                                status.is_server_error()
                                    || status == 429
                                    || endpoint.now().0 != kills,
                                "a retry is never refused: {status}"
                            );
                        }
                        // The daemon is down: try again shortly, with the same key.
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            }
            acknowledged
        }));
    }

    // Kill at spread-out moments while the clients run; restart each time, on a new port.
    let mut acknowledged = Vec::new();
    let mut recoveries = Vec::new();
    let mut step: u64 = 7;
    for kill in 1..=KILLS {
        let due = kill * BATCHES_PER_KILL - BATCHES_PER_KILL / 2;
        let waiting = Instant::now();
        while progress.acknowledged() < due {
            // A client that is through its batches (while the others still send) is done; one
            // that failed fails the test here, rather than leave the others waiting for kills.
            if let Some(finished) = clients.iter().position(|c| c.is_finished()) {
                let batches = clients.swap_remove(finished).await;
                acknowledged.extend(batches.expect("a client failed"));
            }
            assert!(
                waiting.elapsed() < PATIENCE,
                "the clients stalled at {} batches",
                progress.acknowledged()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Somewhere in the requests under way.
        step = step * 48271 % 2147483647;
        tokio::time::sleep(Duration::from_millis(step % 20)).await;
        endpoint.down();
        daemon.kill();
        (daemon, base) = start(&db, &cache, &log(kill));
        endpoint.up(&base);
        recoveries.push(ready(&http, &base).await);
        progress.killed(kill);
    }
    for client in clients {
        acknowledged.extend(client.await.unwrap());
    }
    // Sent again without their idempotency keys, every record is recognised by its id
    // alone: the ids the daemon knows after all those kills are exactly those stored.
    for client in 0..CLIENTS {
        for half in [
            0..BATCHES_PER_CLIENT / 2,
            BATCHES_PER_CLIENT / 2..BATCHES_PER_CLIENT,
        ] {
            let rows = half.len() * ROWS_PER_BATCH;
            let mut body = String::from("id,x,color\n");
            for batch in half {
                body.extend(
                    batch_body(client, batch)
                        .lines()
                        .skip(1)
                        .map(|l| l.to_string() + "\n"),
                );
            }
            let (status, outcome) = ingest_csv(&http, &base, &token, body).await;
            assert!(status.is_success(), "{status}");
            assert_eq!(
                (outcome["accepted"].as_u64(), outcome["duplicates"].as_u64()),
                (Some(0), Some(rows as u64)),
                "{outcome}"
            );
        }
    }
    daemon.kill();
    assert_eq!(acknowledged.len(), CLIENTS * BATCHES_PER_CLIENT);
    // How fast the daemon comes back is reported, not asserted: on a busy machine a bound
    // would fail for the machine, not for the daemon (and `ready` gives up after PATIENCE).
    let slowest = recoveries.iter().max().copied().unwrap_or_default();

    let store = vigil_store::Store::open(&db).await.unwrap();
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    let model = store.model("m").await.unwrap().unwrap();
    let records = store
        .read_records(model.id, 0, model.record_count)
        .await
        .unwrap();
    let ids: HashSet<&str> = records.ids.iter().map(String::as_str).collect();
    assert_eq!(ids.len(), records.len(), "no record is stored twice");
    assert_eq!(records.len(), CLIENTS * BATCHES_PER_CLIENT * ROWS_PER_BATCH);
    for (client, batch) in acknowledged {
        for row in 0..ROWS_PER_BATCH {
            assert!(ids.contains(format!("c{client}-b{batch}-r{row}").as_str()));
        }
    }
    eprintln!(
        "{db}: {KILLS} kills, {} records, slowest recovery {slowest:?}",
        records.len()
    );
    store.close().await;
}

/// Record ids are deduplicated in the memory of the daemon that owns a SQLite file, so a
/// second daemon on the same file must not ingest into it: it is refused with a clear error
/// until the first one is gone, and then it knows every id the first one stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_cannot_ingest_into_the_same_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::sqlite_database(&dir);
    let cache = dir.path().join("cache");
    let token = common::cli_token(&db, &cache, "write");
    let http = reqwest::Client::new();
    let (mut first, base_a) = start(&db, &cache, &dir.path().join("first.log"));
    ready(&http, &base_a).await;
    create_model(&http, &base_a, &token).await;
    let (status, outcome) = ingest_csv(&http, &base_a, &token, "id,x\na,1\nb,2\n".into()).await;
    assert_eq!(status, 200, "{outcome}");

    let (_second, base_b) = start(&db, &cache, &dir.path().join("second.log"));
    ready(&http, &base_b).await;
    let (status, refused) = ingest_csv(&http, &base_b, &token, "id,x\nc,3\n".into()).await;
    assert_eq!(status, 503, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("another process ingests"), "{message}");

    first.kill();
    let (status, outcome) = ingest_csv(&http, &base_b, &token, "id,x\nb,2\nc,3\n".into()).await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(
        (outcome["accepted"].as_u64(), outcome["duplicates"].as_u64()),
        (Some(1), Some(1))
    );
}

/// No ingestion request is acknowledged before an fsync of the database has covered it
/// (docs/reliability.md, D4). `vigil serve` runs under strace; 1,000 sequential single-record
/// requests go in, and for each `POST` answered with a 2xx, a sync of the SQLite WAL (or
/// database) must have completed after the request was read and before the answer was written.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledgement_follows_an_fsync() {
    const REQUESTS: usize = 1000;
    let dir = tempfile::tempdir().unwrap();
    let db = common::sqlite_database(&dir);
    let cache = dir.path().join("cache");
    let token = common::cli_token(&db, &cache, "write");
    let trace = dir.path().join("trace");
    let vigil_command = common::vigil_command(&db, &cache);
    let mut strace = Command::new("strace");
    strace
        .args(["-f", "-qq", "-y", "-s", "24", "-o"])
        .arg(&trace)
        .args([
            "-e",
            "trace=read,recvfrom,recvmsg,write,writev,sendto,sendmsg,fsync,fdatasync",
        ])
        .arg(vigil_command.get_program())
        .args(["serve", "--set", "listen=127.0.0.1:0"])
        .envs(vigil_command.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env_remove("VIGIL_CONFIG");
    // strace: scripts/setup.sh installs it. The daemon's stderr is strace's: the line saying
    // where it listens comes through.
    let (mut traced, base) = common::serve(strace, &dir.path().join("daemon.log"));
    let http = reqwest::Client::new();
    ready(&http, &base).await;
    create_model(&http, &base, &token).await;
    for i in 0..REQUESTS {
        let (status, outcome) = ingest_csv(&http, &base, &token, format!("id,x\nr{i},{i}\n")).await;
        assert_eq!(status, 200, "{outcome}");
    }
    // Stop the daemon (strace's child) so that it finishes its writes; strace ends with it.
    let stopped = Command::new("pkill")
        .args(["-TERM", "-P", &traced.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success(), "the traced daemon was not found");
    traced.0.wait().unwrap();

    let trace = std::fs::read_to_string(&trace).unwrap();
    let check = check_syncs_before_acks(&trace);
    assert_eq!(
        check.unsynced, 0,
        "{} of {} acknowledgements came before a sync",
        check.unsynced, check.acknowledged
    );
    // Every request, and the model's creation.
    assert_eq!(check.acknowledged, REQUESTS + 1, "{check:?}");
}

#[derive(Debug, Default)]
struct SyncCheck {
    /// 2xx answers to a `POST`.
    acknowledged: usize,
    /// Of those, how many had no completed sync between reading the request and answering.
    unsynced: usize,
}

/// Reads an `strace -f -y` log: one syscall a line, `PID name(args) = result`, or split in an
/// `<unfinished ...>` line and a `<... name resumed>` line when another thread's line comes
/// while it runs. A sync counts for a request if it started after the request was read (its
/// first line comes later) and finished before the answer was written. A sync printed on one
/// line started after every line before it: another thread's line would have split it.
fn check_syncs_before_acks(trace: &str) -> SyncCheck {
    use std::collections::HashMap;
    // Per pid, the first half of a split call and its line; per socket fd, the line where its
    // last POST was read; the latest start among the syncs finished so far.
    let mut unfinished: HashMap<&str, (&str, usize)> = HashMap::new();
    let mut post_read_at: HashMap<String, usize> = HashMap::new();
    let mut latest_sync_start: Option<usize> = None;
    let mut check = SyncCheck::default();
    for (at, line) in trace.lines().enumerate() {
        let Some((pid, call)) = line.split_once(' ') else {
            continue;
        };
        let call = call.trim_start();
        let (whole, started_at) = if let Some(head) = call.strip_suffix(" <unfinished ...>") {
            unfinished.insert(pid, (head, at));
            continue;
        } else if call.starts_with("<... ") {
            let Some((head, started_at)) = unfinished.remove(pid) else {
                continue;
            };
            let tail = call.split_once("resumed>").map_or("", |(_, tail)| tail);
            (format!("{head}{tail}"), started_at)
        } else {
            (call.to_string(), at)
        };
        let Some((name, rest)) = whole.split_once('(') else {
            continue;
        };
        // `-y` prints the fd with its path or socket: `7</path/vigil.db-wal>`, `9<socket:[…]>`.
        let fd = rest.split('<').next().unwrap_or_default().to_string();
        let failed = whole
            .rsplit_once(" = ")
            .is_none_or(|(_, result)| result.starts_with('-'));
        if failed {
            continue;
        }
        match name {
            "fsync" | "fdatasync" if rest.contains("vigil.db") => {
                latest_sync_start = latest_sync_start.max(Some(started_at));
            }
            "read" | "recvfrom" | "recvmsg" if rest.contains("\"POST ") => {
                post_read_at.insert(fd, at);
            }
            "write" | "writev" | "sendto" | "sendmsg" if rest.contains("\"HTTP/1.1 2") => {
                if let Some(read_at) = post_read_at.remove(&fd) {
                    check.acknowledged += 1;
                    if latest_sync_start.is_none_or(|start| start < read_at) {
                        check.unsynced += 1;
                    }
                }
            }
            _ => {}
        }
    }
    check
}

/// The trace reader itself: a sync that completes before the answer counts, one that
/// completes after it (or belongs to another file) does not, and split lines are joined.
#[test]
fn the_trace_reader_tells_synced_from_unsynced_answers() {
    let trace = r#"10 recvfrom(9<socket:[1]>, "POST /v1/models/m/recor"..., 8192, 0, NULL, NULL) = 120
11 fdatasync(5</d/vigil.db-wal> <unfinished ...>
10 recvfrom(12<socket:[2]>, "POST /v1/models/m/recor"..., 8192, 0, NULL, NULL) = 120
11 <... fdatasync resumed>) = 0
10 writev(9<socket:[1]>, [{iov_base="HTTP/1.1 200 OK\r\ncont"..., iov_len=100}], 1) = 100
10 recvfrom(9<socket:[1]>, "POST /v1/models/m/recor"..., 8192, 0, NULL, NULL) = 120
10 fdatasync(7</d/other.db>) = 0
10 writev(9<socket:[1]>, [{iov_base="HTTP/1.1 200 OK\r\ncont"..., iov_len=100}], 1) = 100
10 recvfrom(13<socket:[3]>, "GET /readyz HTTP/1.1\r\nh"..., 8192, 0, NULL, NULL) = 60
10 writev(13<socket:[3]>, [{iov_base="HTTP/1.1 200 OK\r\ncont"..., iov_len=100}], 1) = 100
11 fsync(5</d/vigil.db-wal>) = 0
10 writev(12<socket:[2]>, [{iov_base="HTTP/1.1 201 Created\r\n"..., iov_len=100}], 1) = 100
11 fdatasync(5</d/vigil.db-wal> <unfinished ...>
10 recvfrom(9<socket:[1]>, "POST /v1/models/m/recor"..., 8192, 0, NULL, NULL) = 120
11 <... fdatasync resumed>) = 0
10 writev(9<socket:[1]>, [{iov_base="HTTP/1.1 200 OK\r\ncont"..., iov_len=100}], 1) = 100
"#;
    let check = check_syncs_before_acks(trace);
    // Four POSTs answered: the first and third after a sync of the WAL that started after
    // they were read; the second after a sync of another file only; the fourth after a sync
    // that had started before it was read.
    assert_eq!((check.acknowledged, check.unsynced), (4, 2), "{check:?}");
}
