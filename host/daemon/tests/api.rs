//! The daemon through real HTTP on a real port: on a fresh SQLite file always, and on a fresh
//! Postgres database too when `VIGIL_TEST_POSTGRES_URL` is set.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vigil::config::Config;
use vigil::plugins::STANDARD_PLUGINS;
use vigil::server::{self, AppState, auth};

mod common;
use common::{
    Daemon, databases, model_and_monitor, records_csv, sqlite_database, start, start_with,
    webhook_receiver,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_needs_the_right_role() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_database(&dir);
    let daemon = start(&db).await;
    let store = vigil_store::Store::open(&db).await.unwrap();
    // The committed table: a new route must be added here with its access.
    let expected: &[(&str, &str, &str)] = &[
        ("GET", "/healthz", "public"),
        ("GET", "/readyz", "public"),
        ("GET", "/metrics", "read"),
        ("POST", "/v1/plugins", "write"),
        ("GET", "/v1/plugins", "read"),
        ("GET", "/v1/plugins/{name}/{version}", "read"),
        ("GET", "/v1/plugins/{name}/{version}/download", "read"),
        ("DELETE", "/v1/plugins/{name}/{version}", "write"),
        ("POST", "/v1/models", "write"),
        ("GET", "/v1/models", "read"),
        ("GET", "/v1/models/{model}", "read"),
        ("POST", "/v1/models/{model}/versions", "write"),
        ("GET", "/v1/models/{model}/versions", "read"),
        ("PUT", "/v1/models/{model}/serving", "write"),
        ("POST", "/v1/models/{model}/records", "ingest"),
        ("POST", "/v1/models/{model}/labels", "ingest"),
        ("POST", "/v1/monitors", "write"),
        ("GET", "/v1/monitors", "read"),
        ("GET", "/v1/monitors/{name}", "read"),
        ("PUT", "/v1/monitors/{name}", "write"),
        ("DELETE", "/v1/monitors/{name}", "write"),
        ("PUT", "/v1/monitors/{name}/reference", "write"),
        ("GET", "/v1/monitors/{name}/evaluations", "read"),
        ("GET", "/v1/evaluations/{id}", "read"),
        ("POST", "/v1/evaluations/{id}/replay", "write"),
        ("GET", "/v1/status", "read"),
        ("GET", "/v1/alerts", "read"),
        ("POST", "/v1/tokens", "admin"),
        ("DELETE", "/v1/tokens/{id}", "admin"),
    ];
    let runtime = vigil_runtime::Runtime::new(vigil::runtime_config()).unwrap();
    let routes = server::routes(AppState::new(store.clone(), runtime, Config::default()));
    let actual: Vec<(String, String, String)> = routes
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_string(),
                format!("{:?}", r.access).to_lowercase(),
            )
        })
        .collect();
    let expected_owned: Vec<(String, String, String)> = expected
        .iter()
        .map(|(m, p, a)| (m.to_string(), p.to_string(), a.to_string()))
        .collect();
    assert_eq!(actual, expected_owned);

    let mut tokens = Vec::new();
    for role in ["admin", "write", "ingest", "read"] {
        let (status, body) = daemon
            .json(
                Method::POST,
                "/v1/tokens",
                json!({"name": role, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        tokens.push((
            role,
            body["token"].as_str().unwrap().to_string(),
            body["id"].as_str().unwrap().to_string(),
        ));
    }
    let revoked = tokens[0].1.clone();
    let (status, _) = daemon
        .admin(Method::DELETE, &format!("/v1/tokens/{}", tokens[0].2), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The write token with its last hex digit changed (to another digit, always).
    let (head, last) = tokens[1].1.split_at(tokens[1].1.len() - 1);
    let forged = format!("{head}{}", if last == "0" { "1" } else { "0" });

    for (method, path, access) in expected {
        let path = path
            .replace("{name}", "nothing")
            .replace("{version}", "1.0.0")
            .replace("{model}", "nothing")
            .replace("{id}", "999999");
        let method: Method = method.parse().unwrap();
        for bad in [
            None,
            Some("garbage"),
            Some("vgl_nope_nope"),
            Some(revoked.as_str()),
            Some(forged.as_str()),
        ] {
            let (status, body) = daemon.call(method.clone(), &path, bad, None, &[]).await;
            if *access == "public" {
                assert!(status.is_success(), "{method} {path}: {status}");
            } else {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {bad:?}: {body}"
                );
            }
        }
        for (role, token, _) in &tokens[1..] {
            let allowed = match *access {
                "public" => true,
                "read" => matches!(*role, "read" | "write" | "admin"),
                "ingest" => matches!(*role, "ingest" | "write" | "admin"),
                "write" => matches!(*role, "write" | "admin"),
                "admin" => *role == "admin",
                _ => unreachable!(),
            };
            let (status, body) = daemon
                .call(method.clone(), &path, Some(token), None, &[])
                .await;
            if allowed {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{role} on {method} {path}: {status} {body}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role} on {method} {path}: {body}"
                );
            }
        }
    }
    daemon.stop().await;
    store.close().await;
    // No usable secret is stored anywhere in the database files.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for (_, token, _) in &tokens {
            let secret = token.rsplit('_').next().unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
    }
}

/// Mass assignment (docs/reliability.md, U7): fields a client may not set (owner, tenant, role,
/// limits, quarantine) are refused with the field named, whatever the role, and nothing is
/// stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_a_client_may_not_set_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_database(&dir);
    let daemon = start(&db).await;
    let store = vigil_store::Store::open(&db).await.unwrap();
    let writer = auth::create_token(&store, "writer", auth::Role::Write)
        .await
        .unwrap()
        .text;
    let send = |method: Method, path: &'static str, body: Value| {
        let (daemon, writer) = (&daemon, writer.clone());
        async move {
            let body = Some(("application/json", body.to_string().into_bytes()));
            daemon.call(method, path, Some(&writer), body, &[]).await
        }
    };
    let model = json!({"name": "m", "task": "regression"});
    for field in ["owner", "tenant_id", "role", "limits", "quarantined"] {
        let mut body = model.clone();
        body[field] = json!("admin");
        let (status, answer) = send(Method::POST, "/v1/models", body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{field}`")), "{message}");
    }
    assert!(store.models().await.unwrap().is_empty());

    let (status, answer) = send(Method::POST, "/v1/models", model).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, answer) = send(
        Method::POST,
        "/v1/models/m/versions",
        json!({"version": "1", "owner": "mallory"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let monitor = json!({
        "name": "watch", "model": "m", "window": {"records": 100},
        "features": [{"name": "x", "type": "numeric"}], "quarantined": false,
    });
    let (status, answer) = send(Method::POST, "/v1/monitors", monitor).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`quarantined`")
    );
    assert!(store.monitors().await.unwrap().is_empty());
    assert!(
        store
            .model_versions(store.model("m").await.unwrap().unwrap().id)
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_uploads_are_checked_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(&dir) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_is_whole_checked_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(&dir) {
        let daemon = start(&db).await;
        daemon.upload_standard_plugins().await;
        model_and_monitor(&daemon, 1_000_000, json!({})).await;
        let records = "/v1/models/m/records";
        let count = async || {
            let (_, model) = daemon.admin(Method::GET, "/v1/models/m", None).await;
            model["record_count"].as_i64().unwrap()
        };
        let send = |body: &str, content_type: &str, key: Option<&str>| {
            let token = daemon.admin.clone();
            let body = body.as_bytes().to_vec();
            let content_type = content_type.to_string();
            let key = key.map(str::to_string);
            let daemon = &daemon;
            async move {
                let headers: Vec<(&str, &str)> = key
                    .as_deref()
                    .map(|k| vec![("idempotency-key", k)])
                    .unwrap_or_default();
                daemon
                    .call(
                        Method::POST,
                        records,
                        Some(&token),
                        Some((&content_type, body)),
                        &headers,
                    )
                    .await
            }
        };
        let (status, body) = send(
            r#"[{"id": "a", "features": {"x": 1, "y": 2, "color": "red"}, "prediction": 1},
                {"id": "b", "features": {"x": 1.5, "y": null, "color": "blue"}, "prediction": 0}]"#,
            "application/json",
            None,
        )
        .await;
        assert_eq!(
            (status, body["accepted"].as_i64()),
            (StatusCode::OK, Some(2)),
            "{body}"
        );
        let (status, body) = send(
            "{\"id\": \"c\", \"features\": {\"x\": 3, \"y\": 1, \"color\": \"red\"}}\n{\"id\": \"a\", \"features\": {\"x\": 9, \"y\": 9, \"color\": \"red\"}}\n",
            "application/x-ndjson",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (body["accepted"].as_i64(), body["duplicates"].as_i64()),
            (Some(1), Some(1))
        );
        let (status, body) = send(
            "id,x,y,color\nd,1,2,green\ne,NA,3,red\n",
            "text/csv",
            Some("k1"),
        )
        .await;
        assert_eq!(
            (status, body["accepted"].as_i64()),
            (StatusCode::OK, Some(2)),
            "{body}"
        );
        assert_eq!(count().await, 5);

        // Retries with the same key: the first answer, nothing stored again.
        for _ in 0..20 {
            let (status, again) = send(
                "id,x,y,color\nd,1,2,green\ne,NA,3,red\n",
                "text/csv",
                Some("k1"),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(again["replayed"], true);
            assert_eq!(again["accepted"], 2);
        }
        let (status, body) = send("id,x,y,color\nf,1,2,green\n", "text/csv", Some("k1")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");

        // Bad records: the row and field are named and nothing is stored.
        let bad = [
            (
                r#"[{"id": "g", "features": {"x": 1}}, {"id": "h", "features": {"x": "tall"}}]"#,
                "application/json",
                "row 2, field `x`",
            ),
            (
                r#"[{"id": "g", "features": {"z": 1}}]"#,
                "application/json",
                "row 1, field `z`",
            ),
            (
                "{\"features\": {}}\n{\"features\": {\"x\": 1}, \"probabilities\": {\"1\": 7}}\n",
                "application/x-ndjson",
                "row 2, field `probabilities.1`",
            ),
            ("id,x\ng,1\nh,abc\n", "text/csv", "row 2, field `x`"),
            ("[{\"id\": ", "application/json", "invalid JSON"),
            ("[]", "application/json", "no records"),
        ];
        for (body, content_type, expected) in bad {
            let (status, answer) = send(body, content_type, None).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(expected),
                "{message} should name {expected}"
            );
        }
        let (status, _) = send("x", "text/plain", None).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let many: String = (0..10_001)
            .map(|i| format!("{{\"id\": \"n{i}\", \"features\": {{}}}}\n"))
            .collect();
        let (status, _) = send(&many, "application/x-ndjson", None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(count().await, 5, "refused requests store nothing");

        let (status, labels) = daemon
            .admin(
                Method::POST,
                "/v1/models/m/labels",
                Some(("text/csv", b"id,label\na,1\nzz,0\n".to_vec())),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{labels}");
        assert_eq!(
            (labels["stored"].as_i64(), labels["matched"].as_i64()),
            (Some(2), Some(1))
        );
        let (status, _) = daemon
            .admin(
                Method::POST,
                "/v1/models/nothing/records",
                Some(("text/csv", b"x\n1\n".to_vec())),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        daemon.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_detected_alerted_signed_and_replayed() {
    let (hook_url, received) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    for db in databases(&dir) {
        received.lock().unwrap().clear();
        let daemon = start(&db).await;
        daemon.upload_standard_plugins().await;
        model_and_monitor(
            &daemon,
            500,
            json!({
                "pipeline": {"detectors": [{"column": "x", "plugin": "detect-page-hinkley"}]},
                "alerts": {"channels": [{"type": "log"}, {"type": "webhook", "url": hook_url, "secret": "s3cret"}]},
            }),
        )
        .await;
        for (i, (seed, shift)) in [(2, 0.0), (3, 0.0), (4, 2.0)].into_iter().enumerate() {
            let (status, body) = daemon
                .admin(
                    Method::POST,
                    "/v1/models/m/records",
                    Some(("text/csv", records_csv(&format!("w{i}-"), seed, 500, shift))),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let evaluations = daemon.evaluations("watch", 3).await;
        let (newest, oldest) = (&evaluations[0], &evaluations[2]);
        assert_eq!(oldest["action"], "none", "{oldest}");
        assert_eq!(oldest["result"]["drifted_columns"], 0, "{oldest}");
        let x = &newest["result"]["columns"][0];
        assert_eq!(
            (x["name"].as_str(), x["drifted"].as_bool()),
            (Some("x"), Some(true)),
            "{newest}"
        );
        assert!(x["p_value"].as_f64().unwrap() < 1e-10);
        assert_ne!(newest["action"], "none", "{newest}");
        assert_eq!(
            (
                newest["window_start"].as_i64(),
                newest["window_end"].as_i64()
            ),
            (Some(1000), Some(1500))
        );
        // Page-Hinkley fires soon after the shift at offset 1000, and never before it.
        let detections: Vec<i64> = evaluations
            .iter()
            .flat_map(|e| {
                e["result"]["detectors"][0]["detections"]
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .map(|d| d.as_i64().unwrap())
            .collect();
        assert!(!detections.is_empty(), "{newest}");
        assert!((1000..1100).contains(&detections[0]), "{detections:?}");

        let (_, alerts) = daemon
            .admin(Method::GET, "/v1/alerts?monitor=watch", None)
            .await;
        let alerts = alerts["alerts"].as_array().unwrap().clone();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0]["cause"], "drift");
        let deadline = Instant::now() + Duration::from_secs(10);
        while received.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline, "the webhook was not called");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (signature, body) = received.lock().unwrap()[0].clone();
        assert_eq!(signature, Some(vigil::alerts::signature("s3cret", &body)));
        let sent: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (sent["monitor"].as_str(), sent["cause"].as_str()),
            (Some("watch"), Some("drift"))
        );

        // Replay reproduces the stored statistics and decision exactly.
        for evaluation in [newest, oldest] {
            let id = evaluation["id"].as_i64().unwrap();
            let (status, report) = daemon
                .json(
                    Method::POST,
                    &format!("/v1/evaluations/{id}/replay"),
                    json!({}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{report}");
            assert_eq!(report["same"], true, "{report}");
        }
        let (_, status) = daemon.admin(Method::GET, "/v1/status", None).await;
        assert_eq!(status["monitors"][0]["open_alerts"], json!(["drift"]));
        let (_, metrics) = daemon.admin(Method::GET, "/metrics", None).await;
        let metrics = metrics.as_str().unwrap();
        assert!(
            metrics.contains("vigil_column_drifted{monitor=\"watch\",column=\"x\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("vigil_ingested_records_total{model=\"m\"} 1500"),
            "{metrics}"
        );
        daemon.stop().await;
    }
}

/// The state a crash leaves between an evaluation's commit and its alert's delivery: the alert
/// is stored, pending, with the evaluation. The next start delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_left_pending_by_a_crash_is_delivered_at_the_next_start() {
    let (hook_url, received) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    for db in databases(&dir) {
        received.lock().unwrap().clear();
        let daemon = start(&db).await;
        daemon.upload_standard_plugins().await;
        model_and_monitor(
            &daemon,
            500,
            json!({"alerts": {"channels": [{"type": "webhook", "url": hook_url}]}}),
        )
        .await;
        daemon.stop().await;

        let store = vigil_store::Store::open(&db).await.unwrap();
        let monitor = store.monitor("watch").await.unwrap().unwrap();
        let (evaluation_id, alert_ids) = store
            .record_evaluation(
                &vigil_store::NewEvaluation {
                    monitor_id: monitor.id,
                    window_start: 0,
                    window_end: 500,
                    started_at: 1,
                    finished_at: 2,
                    status: "ok",
                    action: "alert",
                    reason: "x drifted",
                    result: "{}",
                    actions: &[],
                },
                &vigil_store::MonitorState {
                    next_offset: 500,
                    last_closed_at: 2,
                    state: "{}".into(),
                },
                &[vigil_store::NewAlert {
                    cause: "drift",
                    message: "x drifted",
                }],
            )
            .await
            .unwrap();
        drop(store);
        assert!(received.lock().unwrap().is_empty());

        let daemon = start(&db).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, alerts) = daemon
                .admin(Method::GET, "/v1/alerts?monitor=watch", None)
                .await;
            let delivery = alerts["alerts"][0]["delivery"]
                .as_str()
                .unwrap()
                .to_string();
            if delivery.contains("delivered") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the pending alert was not delivered: {alerts}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let sent: Vec<Value> = received
            .lock()
            .unwrap()
            .iter()
            .map(|(signature, body)| {
                assert_eq!(signature, &None, "the channel has no secret");
                serde_json::from_slice(body).unwrap()
            })
            .collect();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(
            (
                sent[0]["id"].as_i64(),
                sent[0]["evaluation_id"].as_i64(),
                sent[0]["cause"].as_str(),
                sent[0]["message"].as_str()
            ),
            (
                Some(alert_ids[0]),
                Some(evaluation_id),
                Some("drift"),
                Some("x drifted")
            )
        );
        daemon.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_restores_detector_state_and_the_window_position() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(&dir) {
        let daemon = start(&db).await;
        daemon.upload_standard_plugins().await;
        model_and_monitor(
            &daemon,
            300,
            json!({"pipeline": {"detectors": [{"column": "x", "plugin": "detect-page-hinkley"}]}}),
        )
        .await;
        daemon
            .admin(
                Method::POST,
                "/v1/models/m/records",
                Some(("text/csv", records_csv("a", 5, 300, 0.0))),
            )
            .await;
        let first = daemon.evaluations("watch", 1).await;
        daemon.stop().await;

        let daemon = start(&db).await;
        daemon
            .admin(
                Method::POST,
                "/v1/models/m/records",
                Some(("text/csv", records_csv("b", 6, 300, 0.0))),
            )
            .await;
        let both = daemon.evaluations("watch", 2).await;
        assert_eq!(
            both[1]["id"], first[0]["id"],
            "the first window is not evaluated again"
        );
        assert_eq!(both[0]["window_start"], 300);
        let before = &both[0]["result"]["detectors"][0]["snapshot_before"];
        assert!(
            before.is_string(),
            "the detector resumed from its stored state: {}",
            both[0]
        );
        assert!(first[0]["result"]["detectors"][0]["snapshot_before"].is_null());
        let (status, report) = daemon
            .json(
                Method::POST,
                &format!("/v1/evaluations/{}/replay", both[0]["id"]),
                json!({}),
            )
            .await;
        assert_eq!(
            (status, &report["same"]),
            (StatusCode::OK, &json!(true)),
            "{report}"
        );
        assert_eq!(daemon.db_url, db);
        daemon.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_contained_and_never_read_as_no_drift() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(&dir) {
        let daemon = start(&db).await;
        daemon.upload_standard_plugins().await;
        // A policy with an invalid configuration fails every window: no action, ever.
        model_and_monitor(
            &daemon,
            200,
            json!({"policy": {"plugin": "policy-threshold", "config": {"alert_share": 5.0}},
                   "pipeline": {"columns": {"color": {"plugin": "drift-psi", "config": {"threshold": -1.0}}}}}),
        )
        .await;
        for i in 0..6 {
            daemon
                .admin(
                    Method::POST,
                    "/v1/models/m/records",
                    Some(("text/csv", records_csv(&format!("f{i}-"), 10 + i, 200, 3.0))),
                )
                .await;
        }
        let evaluations = daemon.evaluations("watch", 6).await;
        for evaluation in &evaluations {
            assert_eq!(evaluation["status"], "policy_failed", "{evaluation}");
            assert_eq!(evaluation["action"], "none");
            let color = &evaluation["result"]["columns"][2];
            assert_eq!(color["name"], "color");
            assert!(
                color["drifted"].is_null(),
                "a failed column is not 'no drift': {color}"
            );
            assert!(!color["failure"].is_null());
        }
        // After five failing windows in a row the plugins are quarantined.
        let (_, status) = daemon.admin(Method::GET, "/v1/status", None).await;
        let quarantined: HashSet<String> = status["monitors"][0]["quarantined"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| {
                q["plugin"]
                    .as_str()
                    .unwrap()
                    .split('@')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert!(
            quarantined.contains("policy-threshold")
                || evaluations[0]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("quarantined"),
            "{status}"
        );
        let (_, alerts) = daemon.admin(Method::GET, "/v1/alerts", None).await;
        assert!(
            alerts["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["cause"].as_str().unwrap().starts_with("quarantine:")),
            "a failing policy never raises a drift alert: {alerts}"
        );
        daemon.stop().await;
    }
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

/// A client that dribbles its headers is cut off; others are served meanwhile
/// (docs/reliability.md, U9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_database(&dir);
    let daemon = start_with(&db, |c| c.header_read_timeout_ms = 500).await;
    let address = daemon.url.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (status, _) = daemon.call(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let mut rest = Vec::new();
    // The daemon closes the connection (possibly after a 408) once the timeout passes.
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the slow client was never cut off");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
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
    let deadline = Instant::now() + Duration::from_secs(10);
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

/// Quality metrics end to end: a classifier's windows get accuracy (and the rest) from labels
/// that arrived before the window closed, next to the same metric on a reference that is a
/// labelled, frozen range of the stream; both reach the stored evaluation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_metrics_come_with_the_reference_value() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(&dir) {
        let daemon = start(&db).await;
        daemon.upload_standard_plugins().await;
        daemon.create_model("m", "classification").await;
        // Records `r0..r299` predict class 1 when i is even; the label is right for 3 in 4 of
        // the first 200 (the reference) and for 1 in 2 of the next 100 (the window).
        let send = |range: std::ops::Range<usize>| {
            let mut records = String::from("id,x,prediction\n");
            let mut labels = String::from("id,label\n");
            for i in range {
                let predicted = (i % 2 == 0) as u8;
                let right = if i < 200 { i % 4 != 3 } else { i % 2 == 0 };
                let label = if right { predicted } else { 1 - predicted };
                records.push_str(&format!("r{i},{},{predicted}\n", i % 17));
                labels.push_str(&format!("r{i},{label}\n"));
            }
            let daemon = &daemon;
            async move {
                for (path, body) in [("labels", labels), ("records", records)] {
                    let (status, answer) = daemon
                        .admin(
                            Method::POST,
                            &format!("/v1/models/m/{path}"),
                            Some(("text/csv", body.into_bytes())),
                        )
                        .await;
                    assert_eq!(status, StatusCode::OK, "{answer}");
                }
            }
        };
        send(0..200).await;
        let (status, body) = daemon
            .json(
                Method::POST,
                "/v1/monitors",
                json!({
                    "name": "watch", "model": "m", "window": {"records": 100},
                    "features": [{"name": "x", "type": "numeric"}],
                    "reference": {"start": 0, "end": 200},
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        send(200..300).await;
        let evaluation = &daemon.evaluations("watch", 1).await[0];
        assert_eq!(evaluation["window_start"], 200, "{evaluation}");
        let metrics = evaluation["result"]["metrics"].as_array().unwrap();
        let accuracy = metrics
            .iter()
            .find(|m| m["name"] == "accuracy")
            .unwrap_or_else(|| panic!("no accuracy in {evaluation}"));
        assert_eq!(
            (accuracy["value"].as_f64(), accuracy["reference"].as_f64()),
            (Some(0.5), Some(0.75)),
            "{evaluation}"
        );
        daemon.stop().await;
    }
}
