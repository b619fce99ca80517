//! A load generator for the daemon's benchmarks (`scripts/bench-daemon.sh` runs it), in a
//! process of its own, talking to `vigil serve` over loopback.
//!
//! ```text
//! loadgen ingest URL TOKEN MODEL RECORDS BATCH CONNECTIONS json|ndjson [health]
//! loadgen window URL TOKEN MODEL MONITOR RECORDS BATCH
//! loadgen probe URL SECONDS
//! ```
//! `ingest` sends RECORDS records of 25 features in requests of BATCH, CONNECTIONS at a time,
//! bodies made before the clock starts, and prints acknowledged records per second (and, with
//! `health`, `/healthz` latency percentiles measured meanwhile). `window` sends one window's
//! records and prints the time from the last acknowledgement to the evaluation being visible.
//! `probe` measures `/healthz` latency alone for SECONDS (while the daemon works off a backlog).
//! Record ids are `{prefix}{i}`; `LOADGEN_IDS=random` makes them random 128-bit hex strings.

use std::sync::Arc;
use std::time::{Duration, Instant};

const FEATURES: usize = 25;

fn record(prefix: &str, i: usize, shift: f64) -> serde_json::Value {
    let mut features = serde_json::Map::new();
    for f in 0..FEATURES {
        // Deterministic, varied values: a cheap hash spread over [0, 100).
        let h = (i as u64 ^ (f as u64) << 32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let value = (h >> 11) as f64 / (1u64 << 53) as f64 * 100.0 + shift;
        features.insert(
            format!("f{f}"),
            serde_json::json!((value * 1000.0).round() / 1000.0),
        );
    }
    serde_json::json!({"id": record_id(prefix, i), "features": features, "prediction": (i % 7) as f64})
}

/// `{prefix}{i}`, or with `LOADGEN_IDS=random` a random-looking 128-bit hex id (as UUIDs
/// would be), so that the id index sees inserts all over its key space.
fn record_id(prefix: &str, i: usize) -> String {
    if std::env::var("LOADGEN_IDS").is_ok_and(|v| v == "random") {
        let mix = |x: u64| {
            let x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        let seed = prefix.bytes().fold(i as u64, |h, b| mix(h ^ u64::from(b)));
        format!("{:016x}{:016x}", mix(seed), mix(seed ^ 0x5555))
    } else {
        format!("{prefix}{i}")
    }
}

fn bodies(
    prefix: &str,
    records: usize,
    batch: usize,
    json_array: bool,
    shift: f64,
) -> Vec<Vec<u8>> {
    (0..records)
        .collect::<Vec<_>>()
        .chunks(batch)
        .map(|chunk| {
            let items: Vec<serde_json::Value> =
                chunk.iter().map(|&i| record(prefix, i, shift)).collect();
            if json_array {
                serde_json::to_vec(&items).unwrap()
            } else {
                let mut out = Vec::new();
                for item in items {
                    serde_json::to_writer(&mut out, &item).unwrap();
                    out.push(b'\n');
                }
                out
            }
        })
        .collect()
}

async fn send(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    json_array: bool,
    body: Vec<u8>,
) -> usize {
    let content_type = if json_array {
        "application/json"
    } else {
        "application/x-ndjson"
    };
    let response = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the daemon answers");
    let status = response.status();
    let outcome: serde_json::Value = response.json().await.expect("JSON answer");
    assert!(status.is_success(), "{status}: {outcome}");
    outcome["accepted"].as_u64().unwrap() as usize
}

/// `/healthz` latencies, one probe every 10 ms until `stop`.
async fn probe(
    http: reqwest::Client,
    base: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<Duration> {
    let mut samples = Vec::new();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let started = Instant::now();
        let response = http.get(format!("{base}/healthz")).send().await.unwrap();
        assert!(response.status().is_success());
        samples.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    samples
}

fn print_health(mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "health samples={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let http = reqwest::Client::new();
    match args.first().map(String::as_str) {
        Some("ingest") => {
            let [
                _,
                base,
                token,
                model,
                records,
                batch,
                connections,
                format,
                rest @ ..,
            ] = &args[..]
            else {
                panic!(
                    "usage: loadgen ingest URL TOKEN MODEL RECORDS BATCH CONNECTIONS json|ndjson [health]"
                )
            };
            let (records, batch, connections): (usize, usize, usize) = (
                records.parse().unwrap(),
                batch.parse().unwrap(),
                connections.parse().unwrap(),
            );
            let json_array = format == "json";
            let prefix = format!("{format}-{}-", std::process::id());
            let queue = Arc::new(std::sync::Mutex::new(bodies(
                &prefix, records, batch, json_array, 0.0,
            )));
            let url = format!("{base}/v1/models/{model}/records");
            let health = rest.first().is_some_and(|h| h == "health");
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let prober =
                health.then(|| tokio::spawn(probe(http.clone(), base.clone(), stop.clone())));
            eprintln!("loadgen: bodies ready, sending");
            let started = Instant::now();
            let mut workers = Vec::new();
            for _ in 0..connections {
                let (http, url, token, queue) =
                    (http.clone(), url.clone(), token.clone(), queue.clone());
                workers.push(tokio::spawn(async move {
                    let mut accepted = 0;
                    loop {
                        let Some(body) = queue.lock().unwrap().pop() else {
                            break;
                        };
                        accepted += send(&http, &url, &token, json_array, body).await;
                    }
                    accepted
                }));
            }
            let mut accepted = 0;
            for worker in workers {
                accepted += worker.await.unwrap();
            }
            let elapsed = started.elapsed();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            println!(
                "ingest format={format} records={accepted} batch={batch} connections={connections} seconds={:.3} records_per_second={:.0}",
                elapsed.as_secs_f64(),
                accepted as f64 / elapsed.as_secs_f64()
            );
            if let Some(prober) = prober {
                print_health(prober.await.unwrap());
            }
        }
        Some("probe") => {
            let [_, base, seconds] = &args[..] else {
                panic!("usage: loadgen probe URL SECONDS")
            };
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let prober = tokio::spawn(probe(http.clone(), base.clone(), stop.clone()));
            tokio::time::sleep(Duration::from_secs_f64(seconds.parse().unwrap())).await;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            print_health(prober.await.unwrap());
        }
        Some("window") => {
            let [_, base, token, model, monitor, records, batch] = &args[..] else {
                panic!("usage: loadgen window URL TOKEN MODEL MONITOR RECORDS BATCH")
            };
            let (records, batch): (usize, usize) =
                (records.parse().unwrap(), batch.parse().unwrap());
            let url = format!("{base}/v1/models/{model}/records");
            let evaluations = format!("{base}/v1/monitors/{monitor}/evaluations?limit=1");
            let count = async || {
                let page: serde_json::Value = http
                    .get(&evaluations)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                page["evaluations"]
                    .as_array()
                    .unwrap()
                    .first()
                    .map(|e| e["id"].as_i64().unwrap())
            };
            // Two windows: the first also fits the pipeline on the reference (drift tests
            // built, preprocessors fitted); the second shows the steady state.
            for (n, label) in [(0, "first"), (1, "next")] {
                let before = count().await;
                let prefix = format!("window-{}-{n}-", std::process::id());
                for body in bodies(&prefix, records, batch, false, 1.0) {
                    send(&http, &url, token, false, body).await;
                }
                let closed = Instant::now();
                while count().await == before {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                println!(
                    "window {label} records={records} features={FEATURES} close_to_visible_ms={:.1}",
                    closed.elapsed().as_secs_f64() * 1e3
                );
            }
        }
        _ => panic!("usage: loadgen ingest|window …"),
    }
}
