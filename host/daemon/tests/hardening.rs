//! Promises checked from outside, as an operator, a model owner and a client holding the
//! lowest role's token meet the daemon: capacity shared fairly between monitors, secrets that
//! are never read back, bodies that cannot stall ingestion, input refused whole, alerts that
//! do not flap, and a fresh daemon that is ready to use.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

mod common;
use common::{
    Daemon, model_and_monitor, records_csv, sqlite_database, start, start_with, watch_spec,
    webhook_receiver,
};

/// `n` numeric features named `f0`, `f1`, …
fn features(n: usize) -> Value {
    (0..n)
        .map(|i| json!({"name": format!("f{i}"), "type": "numeric"}))
        .collect()
}

/// CSV with `columns` numeric features and `rows` records whose ids start with `prefix`.
fn table(columns: usize, rows: usize, prefix: &str) -> Vec<u8> {
    let mut csv = String::from("id");
    for i in 0..columns {
        csv.push_str(&format!(",f{i}"));
    }
    csv.push('\n');
    for row in 0..rows {
        csv.push_str(&format!("{prefix}{row}"));
        for i in 0..columns {
            csv.push_str(&format!(",{}", (row * (i + 3)) % 17));
        }
        csv.push('\n');
    }
    csv.into_bytes()
}

async fn create(daemon: &Daemon, spec: Value) -> (StatusCode, Value) {
    daemon.json(Method::POST, "/v1/monitors", spec).await
}

/// A fresh daemon offers the standard plugins: a monitor that names them, or relies on the
/// defaults, is created without uploading anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_daemon_offers_the_standard_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&sqlite_database(&dir)).await;
    daemon.create_model("m", "classification").await;
    let (status, body) = create(
        &daemon,
        json!({
            "name": "w", "model": "m", "window": {"records": 100},
            "features": [{"name": "x", "type": "numeric"}, {"name": "c", "type": "categorical"}],
            "pipeline": {"detectors": [{"column": "x", "plugin": "detect-page-hinkley"}],
                         "preprocessors": [{"plugin": "preprocess-standardize"}]},
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let pinned: Vec<&str> = [
        &body["spec"]["pipeline"]["numeric"]["plugin"],
        &body["spec"]["pipeline"]["categorical"]["plugin"],
        &body["spec"]["policy"]["plugin"],
    ]
    .iter()
    .map(|v| v.as_str().unwrap())
    .collect();
    assert_eq!(
        pinned,
        [
            "drift-ks@0.1.0",
            "drift-chi2@0.1.0",
            "policy-threshold@0.1.0"
        ]
    );
    daemon.stop().await;
}

/// One monitor cannot take the plugin capacity the others need: each reserves what it needs
/// when it is created, a monitor that does not fit is refused (409), and one past the
/// per-monitor feature cap is refused outright (422). The monitors that fit keep evaluating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_monitor_cannot_starve_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_with(&sqlite_database(&dir), |config| {
        config.plugin_instances = 100;
        config.plugin_shared_instances = 10;
        config.max_features_per_monitor = 80;
    })
    .await;
    daemon.create_model("m", "regression").await;
    let spec = |name: &str, n: usize| json!({"name": name, "model": "m", "window": {"records": 50}, "features": features(n)});

    let (status, body) = create(&daemon, spec("huge", 10_000)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_features_per_monitor"),
        "{body}"
    );
    // 80 features take 81 of the 90 instances monitors may reserve.
    let (status, body) = create(&daemon, spec("big", 80)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = create(&daemon, spec("greedy", 20)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "capacity");
    let (status, body) = create(&daemon, spec("small", 5)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // An update is checked against the others, not against its own old reservation.
    let (status, body) = daemon
        .json(Method::PUT, "/v1/monitors/small", spec("small", 8))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = daemon
        .json(Method::PUT, "/v1/monitors/small", spec("small", 10))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Both monitors evaluate their windows, every column tested.
    for (monitor, columns) in [("big", 80), ("small", 8)] {
        let (status, body) = daemon
            .admin(
                Method::PUT,
                &format!("/v1/monitors/{monitor}/reference"),
                Some(("text/csv", table(columns, 150, "ref"))),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", table(80, 150, "r"))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (monitor, columns) in [("big", 80), ("small", 8)] {
        let evaluations = daemon.evaluations(monitor, 3).await;
        for evaluation in &evaluations {
            assert_eq!(evaluation["status"], "ok", "{monitor}: {evaluation}");
            assert_eq!(
                evaluation["result"]["columns"].as_array().unwrap().len(),
                columns
            );
        }
    }
    daemon.stop().await;
}

/// A monitor wider than the whole instance pool still works: past `plugin_instances_per_monitor`
/// it builds its drift tests per window, a few at a time, instead of being refused, and the
/// monitors beside it keep their instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_with_three_times_the_pool_in_columns_is_evaluated_whole() {
    const POOL: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_with(&sqlite_database(&dir), |config| {
        config.plugin_instances = POOL as u32;
        config.plugin_shared_instances = 8;
    })
    .await;
    daemon.create_model("m", "regression").await;
    for (name, columns) in [("wide", 3 * POOL), ("narrow", 5)] {
        let spec = json!({"name": name, "model": "m", "window": {"records": 50},
                          "features": features(columns)});
        let (status, body) = create(&daemon, spec).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        let (status, body) = daemon
            .admin(
                Method::PUT,
                &format!("/v1/monitors/{name}/reference"),
                Some(("text/csv", table(columns, 150, "ref"))),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", table(3 * POOL, 150, "r"))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (monitor, columns) in [("wide", 3 * POOL), ("narrow", 5)] {
        for evaluation in daemon.evaluations(monitor, 3).await {
            assert_eq!(evaluation["status"], "ok", "{monitor}: {evaluation}");
            let tested = evaluation["result"]["columns"].as_array().unwrap();
            assert_eq!(tested.len(), columns);
            assert!(
                tested
                    .iter()
                    .all(|c| c["failure"].is_null() && c["p_value"].is_number())
            );
        }
    }
    daemon.stop().await;
}

/// Columns a preprocessor adds are tested when the spec declares them as features: the records
/// do not carry them, so they enter as all-missing placeholders, which the output replaces
/// (docs/preprocessors.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_preprocessors_add_are_tested_as_declared_features() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&sqlite_database(&dir)).await;
    let mut features = watch_spec(0, json!({}))["features"].clone();
    let declared = features.as_array_mut().unwrap();
    declared.push(json!({"name": "x_bin", "type": "categorical"}));
    declared.push(json!({"name": "x_per_y", "type": "numeric"}));
    model_and_monitor(
        &daemon,
        500,
        json!({"features": features, "pipeline": {"preprocessors": [
            {"plugin": "preprocess-bin", "config": {"columns": ["x"], "bins": 4}},
            {"plugin": "preprocess-derive", "config": {"columns": [
                {"name": "x_per_y", "op": "ratio", "left": "x", "right": "y"}]}},
        ]}}),
    )
    .await;
    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", records_csv("a", 3, 500, 3.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let evaluation = daemon.evaluations("watch", 1).await[0].clone();
    let result = &evaluation["result"];
    assert_eq!(result["preprocessing"], Value::Null, "{evaluation}");
    for (name, test) in [("x_bin", "drift-chi2"), ("x_per_y", "drift-ks")] {
        let column = result["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no column {name}: {evaluation}"));
        assert_eq!(column["failure"], Value::Null, "{name}: {column}");
        assert_eq!(column["test"], test, "{column}");
        assert_eq!(column["missing"], 0, "{name} was filled: {column}");
        assert_eq!(
            column["drifted"], true,
            "x moved by 3, so do its bins and ratio: {column}"
        );
    }
}

/// Webhook secrets are write-only: no token of any role reads them back, from the monitor or
/// from its evaluations, and a spec read from the API can be sent back unchanged without
/// losing the secret it does not show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_secrets_are_write_only() {
    let (hook, received) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&sqlite_database(&dir)).await;
    let secret = "s3cret-do-not-show";
    model_and_monitor(
        &daemon,
        500,
        json!({"alerts": {"cooldown_seconds": 0, "channels": [
            {"type": "webhook", "url": hook, "secret": secret},
        ]}}),
    )
    .await;
    let read = daemon.token("read").await;

    // A drifted window, so that an evaluation and an alert exist.
    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", records_csv("a", 3, 500, 3.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let evaluation = daemon.evaluations("watch", 1).await[0].clone();
    assert_ne!(evaluation["action"], "none", "{evaluation}");
    let id = evaluation["id"].as_i64().unwrap();

    for token in [read.as_str(), daemon.admin.as_str()] {
        for path in [
            "/v1/monitors/watch".to_string(),
            "/v1/monitors".to_string(),
            "/v1/monitors/watch/evaluations".to_string(),
            format!("/v1/evaluations/{id}"),
            "/v1/alerts".to_string(),
            "/v1/status".to_string(),
        ] {
            let (status, body) = daemon
                .call(Method::GET, &path, Some(token), None, &[])
                .await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            assert!(
                !body.to_string().contains(secret),
                "{path} shows the secret"
            );
            // The URL's path can be a credential too (Slack's is): only its origin is shown.
            assert!(
                !body.to_string().contains("/hook"),
                "{path} shows the URL: {body}"
            );
        }
    }
    let (_, monitor) = daemon.admin(Method::GET, "/v1/monitors/watch", None).await;
    let channel = &monitor["spec"]["alerts"]["channels"][0];
    assert_eq!(channel["signed"], true, "{channel}");

    // Sent back as read, the spec keeps its secret: the next alert is still signed with it.
    let (status, body) = daemon
        .json(Method::PUT, "/v1/monitors/watch", monitor["spec"].clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", records_csv("b", 4, 500, 3.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    daemon.evaluations("watch", 2).await;
    let deliveries = common::wait_for(|| received.lock().unwrap().len() >= 2).await;
    assert!(deliveries, "two alerts delivered");
    for (signature, body) in received.lock().unwrap().iter() {
        assert_eq!(
            signature.as_deref(),
            Some(vigil::alerts::signature(secret, body).as_str())
        );
    }
    daemon.stop().await;
}

/// A client trickling its body cannot hold ingestion: one token holds at most
/// `ingest_max_in_flight_per_token` slots (the next get 429 at once), other tokens are served
/// meanwhile, and a body that has not arrived within `body_timeout_ms` gets 408.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_cannot_stall_ingestion() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_with(&sqlite_database(&dir), |c| {
        c.ingest_max_in_flight = 16;
        c.ingest_max_in_flight_per_token = 4;
        c.body_timeout_ms = 5_000;
    })
    .await;
    daemon.create_model("m", "regression").await;
    let slow_token = daemon.token("ingest").await;
    let address = daemon.url.trim_start_matches("http://").to_string();
    let body = b"id,x\nslow,1.5\n";
    let mut slow = Vec::new();
    for _ in 0..16 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /v1/models/m/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {slow_token}\r\n\
             Content-Type: text/csv\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body[..3]).await.unwrap();
        slow.push(stream);
    }
    // Each slow request's status, and when it came.
    let answers: Vec<_> = slow
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut answer = vec![0u8; 1024];
                let n = tokio::time::timeout(common::PATIENCE, stream.read(&mut answer))
                    .await
                    .expect("answered in time")
                    .unwrap();
                let at = std::time::Instant::now();
                (String::from_utf8_lossy(&answer[..n])[9..12].to_string(), at)
            })
        })
        .collect();
    // Another token is served at once.
    let (status, answer) = daemon
        .admin(
            Method::POST,
            "/v1/models/m/records",
            Some(("text/csv", b"id,x\nfast,2.5\n".to_vec())),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let served = std::time::Instant::now();
    // Every slow request ends: 4 with 408 once their time is up, the rest refused at once.
    let mut statuses = Vec::new();
    for answer in answers {
        let (status, at) = answer.await.unwrap();
        // The fast request was served before any slow one let go of its slot (at the body
        // timeout, with 408): it did not wait behind them.
        assert!(
            status != "408" || served < at,
            "the other token waited for a slot"
        );
        statuses.push(status);
    }
    statuses.sort();
    let expected: Vec<String> = ["408"; 4]
        .into_iter()
        .chain(["429"; 12])
        .map(str::to_string)
        .collect();
    assert_eq!(statuses, expected);
    let (_, model) = daemon.admin(Method::GET, "/v1/models/m", None).await;
    assert_eq!(model["record_count"], 1, "only the fast record: {model}");
    daemon.stop().await;
}

/// Malformed input is refused whole with a message naming where, and nothing of it is
/// stored: CSV whose quote is never closed, timestamps no calendar holds, windows and
/// cooldowns whose length would overflow, and names that URLs resolve away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_at_the_edges_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&sqlite_database(&dir)).await;
    daemon.create_model("m", "regression").await;
    let post = |content_type: &'static str, body: &str| {
        daemon.admin(
            Method::POST,
            "/v1/models/m/records",
            Some((content_type, body.as_bytes().to_vec())),
        )
    };
    let (status, body) = post("text/csv", "id,x,c\nq1,1,\"a\nq2,2,b\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 2"), "{message}");
    for timestamp in ["1e300", "-1", "253402300800"] {
        let (status, body) = post(
            "application/json",
            &format!(r#"[{{"id": "t", "timestamp": {timestamp}, "features": {{"x": 1}}}}]"#),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{timestamp}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("row 1, field `timestamp`: expected an RFC 3339 time"),
            "{message}"
        );
    }
    let (_, model) = daemon.admin(Method::GET, "/v1/models/m", None).await;
    assert_eq!(model["record_count"], 0, "{model}");
    let (status, body) = post("text/csv", "id,x,c\nq1,1,\"a\"\"b\"\nq2,2,b\n").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let monitor = |extra: Value| {
        let mut spec = json!({"name": "w", "model": "m", "window": {"records": 10},
                              "features": [{"name": "x", "type": "numeric"}]});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        spec
    };
    for (extra, field) in [
        (
            json!({"window": {"seconds": 9_223_372_036_854_776u64}}),
            "window.seconds",
        ),
        (json!({"window": {"records": 1u64 << 40}}), "window.records"),
        (
            json!({"alerts": {"cooldown_seconds": u64::MAX}}),
            "alerts.cooldown_seconds",
        ),
        (json!({"name": ".."}), "name"),
    ] {
        let (status, body) = create(&daemon, monitor(extra)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{message}");
    }
    for name in [".", "..", ".hidden", "-dash"] {
        let (status, body) = daemon
            .json(
                Method::POST,
                "/v1/models",
                json!({"name": name, "task": "regression"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
    }
    let (_, models) = daemon.admin(Method::GET, "/v1/models", None).await;
    assert_eq!(models["models"].as_array().unwrap().len(), 1, "{models}");
    daemon.stop().await;
}

/// A monitor spec is checked whole when it is stored, not at its first window: unknown fields
/// anywhere (a plugin reference's too), settings a plugin does not have, a drift test that
/// cannot take its feature's kind, a detector on a classifier's predictions, and an upload to
/// a monitor whose reference is a frozen range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_specs_are_checked_when_stored() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&sqlite_database(&dir)).await;
    daemon.create_model("m", "classification").await;
    let base = json!({"name": "w", "model": "m", "window": {"records": 10},
                      "features": [{"name": "x", "type": "numeric"},
                                   {"name": "c", "type": "categorical"}]});
    let with = |pointer: &str, value: Value| {
        let mut spec = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut spec
        } else {
            spec.pointer_mut(parent).unwrap()
        };
        target[key] = value;
        spec
    };
    let cases = [
        (
            with(
                "/policy",
                json!({"plugin": "policy-threshold", "confg": {}}),
            ),
            "confg",
        ),
        (
            with(
                "/pipeline",
                json!({"detectors": [{"column": "x", "plugin": "detect-page-hinkley", "treshold": 3}]}),
            ),
            "treshold",
        ),
        (
            with(
                "/pipeline",
                json!({"numeric": {"plugin": "drift-ks", "config": {"treshold": 0.01}}}),
            ),
            "pipeline.numeric.config.treshold: drift-ks@0.1.0 has no setting `treshold` \
             (its settings: sketch, threshold)",
        ),
        (
            with(
                "/pipeline",
                json!({"columns": {"c": {"plugin": "drift-ks"}}}),
            ),
            "does not take categorical columns",
        ),
        (
            with(
                "/pipeline",
                json!({"detectors": [{"column": "prediction", "plugin": "detect-page-hinkley"}]}),
            ),
            "pipeline.detectors[0].column",
        ),
    ];
    for (spec, expected) in cases {
        let (status, body) = create(&daemon, spec).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{expected}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }
    let (status, body) = create(&daemon, with("/reference", json!({"start": 0, "end": 5}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = daemon
        .admin(
            Method::PUT,
            "/v1/monitors/w/reference",
            Some(("text/csv", b"id,x,c\na,1,p\n".to_vec())),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("frozen") || body.to_string().contains("records 0..5"));
    daemon.stop().await;
}

/// On SIGTERM, requests in flight get `shutdown_grace_ms`, no more: a client that keeps a
/// request open (here a body it never finishes) cannot hold the daemon up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_cannot_hold_up_shutdown() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_with(&sqlite_database(&dir), |c| {
        c.body_timeout_ms = 60_000;
        c.shutdown_grace_ms = 500;
    })
    .await;
    daemon.create_model("m", "regression").await;
    let address = daemon.url.trim_start_matches("http://").to_string();
    let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/models/m/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: text/csv\r\nContent-Length: 100\r\n\r\nid,x\n",
        daemon.admin
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    // A request on a connection opened after it is answered: by then the daemon has
    // accepted the stalled one.
    let (status, _) = daemon.admin(Method::GET, "/v1/models", None).await;
    assert_eq!(status, StatusCode::OK);
    let started = std::time::Instant::now();
    daemon.stop().await;
    let took = started.elapsed();
    // Far below the 60 s the stalled body would have had.
    assert!(
        took < std::time::Duration::from_secs(30),
        "stopping took {took:?}"
    );
    drop(stalled);
}
