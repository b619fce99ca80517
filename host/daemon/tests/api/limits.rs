//! The daemon's limits under load: slow clients cut off, ingestion past its slots answered with
//! 429, and each token rate-limited on its own.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use vigil::plugins::STANDARD_PLUGINS;
use vigil::server::auth;

use crate::common::{PATIENCE, sqlite_database, start_with};

/// A client that dribbles its headers is cut off; others are served meanwhile
/// (docs/reliability.md, U9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_database(&dir);
    let daemon = start_with(&db, |c| c.header_read_timeout_ms = 500).await;
    let address = daemon.url.trim_start_matches("http://").to_string();
    // Before the connection exists, so before the daemon's clock for it starts.
    let started = Instant::now();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (status, _) = daemon.call(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let mut rest = Vec::new();
    // The daemon closes the connection (possibly after a 408) once the timeout passes: not
    // before it, and not never.
    let read = tokio::time::timeout(PATIENCE, slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the slow client was never cut off");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "cut off after {waited:?}"
    );
    daemon.stop().await;
}

/// Past `ingest_max_in_flight` requests, the next ones wait briefly and then get 429 with
/// Retry-After instead of piling up in memory; a freed slot serves again
/// (docs/reliability.md, D6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_past_its_slots_gets_429_and_recovers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_database(&dir);
    let daemon = start_with(&db, |c| {
        c.ingest_max_in_flight = 1;
        c.ingest_wait_ms = 200;
    })
    .await;
    daemon.create_model("m", "regression").await;

    // A client that sends its headers and half its body, then stalls, holding the one slot.
    let held = b"id,x\nheld,1.5\n";
    let mut slow = tokio::net::TcpStream::connect(daemon.url.trim_start_matches("http://"))
        .await
        .unwrap();
    slow.write_all(
        format!(
            "POST /v1/models/m/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
            daemon.admin,
            held.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    slow.write_all(&held[..5]).await.unwrap();

    let send = |id: &'static str| {
        reqwest::Client::new()
            .post(format!("{}/v1/models/m/records", daemon.url))
            .bearer_auth(&daemon.admin)
            .header("content-type", "text/csv")
            .body(format!("id,x\n{id},2.5\n"))
            .send()
    };
    // Until the stalled request has taken the slot, others may still get in.
    let deadline = Instant::now() + PATIENCE;
    let mut other_stored = 0;
    let refused = loop {
        let response = send("other").await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            break response;
        }
        assert_eq!(response.status(), StatusCode::OK);
        other_stored = 1; // the same id each time: stored once
        assert!(
            Instant::now() < deadline,
            "the stalled request never took the slot"
        );
    };
    assert_eq!(refused.headers()["retry-after"], "1");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "overloaded", "{error}");

    // The stalled client finishes; its request is stored and the slot is free again.
    slow.write_all(&held[5..]).await.unwrap();
    let mut answer = vec![0; 4096];
    let n = slow.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(send("after").await.unwrap().status(), StatusCode::OK);
    let (_, metrics) = daemon.admin(Method::GET, "/metrics", None).await;
    let metrics = metrics.as_str().unwrap();
    let stored = 2 + other_stored; // `held` and `after`, and `other` if it got in
    assert!(
        metrics.contains(&format!(
            "vigil_ingested_records_total{{model=\"m\"}} {stored}"
        )),
        "{metrics}"
    );
    daemon.stop().await;
}

/// Each API token has its own bucket per class of route (docs/reliability.md, U8); past the
/// burst, 429 with a Retry-After that says when a request will be allowed, whatever
/// `X-Forwarded-For` says, and other tokens are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_token_is_rate_limited_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_database(&dir);
    let daemon = start_with(&db, |c| {
        c.upload_rate_per_second = 0.1;
        c.upload_rate_burst = 2.0;
    })
    .await;
    let (_, policy) = STANDARD_PLUGINS
        .iter()
        .find(|(n, _)| *n == "policy-threshold")
        .unwrap();
    // Requests expected to be refused send a few bytes: the daemon answers 429 without
    // reading the body, and a large unread body could see the connection reset instead.
    let upload = |token: String, forwarded: &'static str, body: &[u8]| {
        reqwest::Client::new()
            .post(format!("{}/v1/plugins", daemon.url))
            .bearer_auth(token)
            .header("x-forwarded-for", forwarded)
            .body(body.to_vec())
            .send()
    };
    // A standard plugin the daemon already stored: each upload is accepted, and counted.
    for forwarded in ["10.0.0.1", "10.0.0.2"] {
        let accepted = upload(daemon.admin.clone(), forwarded, policy)
            .await
            .unwrap();
        assert_eq!(accepted.status(), StatusCode::OK);
    }
    for forwarded in ["10.0.0.3", "10.0.0.4"] {
        let limited = upload(daemon.admin.clone(), forwarded, b"x").await.unwrap();
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        // 0.1 per second: the next request is allowed in up to 10 s.
        let retry: u64 = limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=10).contains(&retry), "{retry}");
        let error: Value = limited.json().await.unwrap();
        assert_eq!(error["error"]["code"], "rate_limited", "{error}");
    }
    let store = vigil_store::Store::open(&db).await.unwrap();
    let other = auth::create_token(&store, "other", auth::Role::Write)
        .await
        .unwrap()
        .text;
    let response = upload(other, "10.0.0.3", policy).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "another token has its own bucket"
    );
    daemon.stop().await;
}
