//! Plugin uploads through the API: checked before anything is stored, bounded in size, and the
//! standard plugins' names reserved. On a fresh SQLite file, and on a fresh Postgres database in
//! a test of its own.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use vigil::config::Config;
use vigil::plugins::STANDARD_PLUGINS;

use crate::common::{Daemon, model_and_monitor, on_both_backends, sqlite_database, start_with};

on_both_backends!(plugin_uploads_are_checked_before_anything_is_stored);
async fn plugin_uploads_are_checked_before_anything_is_stored(db: String) {
    let daemon = start_with(&db, |c| c.plugin_body_limit = 4 << 20).await;
    let (_, ks) = STANDARD_PLUGINS
        .iter()
        .find(|(n, _)| *n == "drift-ks")
        .unwrap();
    let post = |bytes: Vec<u8>| {
        daemon.admin(
            Method::POST,
            "/v1/plugins",
            Some(("application/wasm", bytes)),
        )
    };

    let (status, body) = post(b"not a component at all".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = post(b"\0asm\x01\0\0\0".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("module"),
        "{body}"
    );
    let (status, body) = post(ks[..ks.len() / 2].to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = post(Vec::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Past the limit, declared or streamed, the answer is 413 before the body is read.
    let declared = format!("Content-Length: {}\r\n", (4 << 20) + 1);
    assert!(
        raw_upload(&daemon, &declared, 0)
            .await
            .starts_with("HTTP/1.1 413")
    );
    let streamed = raw_upload(&daemon, "Transfer-Encoding: chunked\r\n", 64).await;
    assert!(streamed.starts_with("HTTP/1.1 413"), "{streamed}");
    // Nothing stored after bad uploads: only the standard plugins a fresh daemon offers.
    let (_, list) = daemon.admin(Method::GET, "/v1/plugins", None).await;
    let stored: Vec<(&str, &str)> = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["uploaded_by"].as_str().unwrap(),
            )
        })
        .collect();
    let mut standard: Vec<(&str, &str)> = STANDARD_PLUGINS
        .iter()
        .map(|(n, _)| (*n, "vigil"))
        .collect();
    standard.sort();
    assert_eq!(stored, standard, "{list}");

    // The standard plugin's own bytes are accepted again (already stored).
    let (status, meta) = post(ks.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{meta}");
    assert_eq!(meta["kind"], "drift-test");
    // Other bytes under a standard plugin's name (here a custom section appended) are
    // refused: the name is reserved.
    let mut other = ks.to_vec();
    other.extend_from_slice(&[0, 4, 3, b'v', b'g', b'l']);
    let (status, body) = post(other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("standard plugin"),
        "{body}"
    );
    let version = meta["version"].as_str().unwrap();
    let (status, _) = daemon
        .admin(
            Method::GET,
            &format!("/v1/plugins/drift-ks/{version}/download"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let bytes = reqwest::Client::new()
        .get(format!(
            "{}/v1/plugins/drift-ks/{version}/download",
            daemon.url
        ))
        .bearer_auth(&daemon.admin)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], *ks);

    daemon.upload_standard_plugins_except("drift-ks").await;
    model_and_monitor(&daemon, 100, json!({})).await;
    let (status, body) = daemon
        .admin(
            Method::DELETE,
            &format!("/v1/plugins/drift-ks/{version}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // The standard plugins stay, used or not (a plugin in use by a monitor stays too:
    // `tests/tests/component_shape.rs` checks that with a plugin of its own).
    let (status, body) = daemon
        .admin(Method::DELETE, "/v1/plugins/drift-psi/0.1.0", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.to_string().contains("standard plugin"), "{body}");
    daemon.stop().await;
}

/// Sends an upload by hand: headers, then `chunks` chunks of 1 MiB (ignoring a closed
/// connection), and returns what the daemon answered.
async fn raw_upload(daemon: &Daemon, length_header: &str, chunks: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = daemon.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/plugins HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n{length_header}\r\n",
        daemon.admin
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = [
        format!("{:x}\r\n", 1 << 20).into_bytes(),
        vec![0u8; 1 << 20],
        b"\r\n".to_vec(),
    ]
    .concat();
    for _ in 0..chunks {
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap_or(0);
    String::from_utf8_lossy(&answer[..n]).to_string()
}

/// A corpus of 1,000 malformed uploads (docs/reliability.md, U2) — random bytes, truncated
/// components, bit flips, core modules, a module header with garbage — all refused with 4xx,
/// nothing stored, the daemon still serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_malformed_uploads_are_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_database(&dir);
    let daemon = start_with(&db, |c| c.upload_rate_per_second = 0.0).await;
    let (_, policy) = STANDARD_PLUGINS
        .iter()
        .find(|(n, _)| *n == "policy-threshold")
        .unwrap();
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut worst = Duration::ZERO;
    for i in 0..1000 {
        let body: Vec<u8> = match i % 5 {
            0 => (0..(next() % 4096)).map(|_| next() as u8).collect(),
            1 => policy[..(next() as usize % policy.len())].to_vec(),
            2 => {
                let mut flipped = policy.to_vec();
                // In the first 4 KiB: headers, types, imports and exports, where a flip makes
                // the component malformed rather than only different (a flip deep in code
                // still validates and would just cost a compilation).
                for _ in 0..(1 + next() % 8) {
                    let at = next() as usize % flipped.len().min(4096);
                    flipped[at] ^= 1 << (next() % 8);
                }
                flipped
            }
            3 => [
                b"\0asm\x01\0\0\0".as_slice(),
                &(0..(next() % 512))
                    .map(|_| next() as u8)
                    .collect::<Vec<_>>(),
            ]
            .concat(),
            _ => [
                b"\0asm\x0d\0\x01\0".as_slice(),
                &(0..(next() % 512))
                    .map(|_| next() as u8)
                    .collect::<Vec<_>>(),
            ]
            .concat(),
        };
        let started = Instant::now();
        let (status, answer) = daemon
            .admin(
                Method::POST,
                "/v1/plugins",
                Some(("application/wasm", body)),
            )
            .await;
        worst = worst.max(started.elapsed());
        // A bit flip that leaves a valid component still has the standard plugin's name
        // with other bytes: refused as well.
        assert!(status.is_client_error(), "case {i}: {status} {answer}");
    }
    let (_, list) = daemon.admin(Method::GET, "/v1/plugins", None).await;
    let plugins = list["plugins"].as_array().unwrap();
    assert!(
        plugins.len() == STANDARD_PLUGINS.len()
            && plugins.iter().all(|p| p["uploaded_by"] == "vigil"),
        "malformed uploads were stored: {list}"
    );
    let (status, _) = daemon.call(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    // Every refusal is an answer, none a timeout. How fast is a benchmark's business: a wall
    // clock bound here would fail on a busy machine, not on a slow daemon.
    assert!(
        worst < Duration::from_secs(Config::default().request_timeout_secs),
        "slowest refusal took {worst:?}"
    );
    daemon.stop().await;
}
