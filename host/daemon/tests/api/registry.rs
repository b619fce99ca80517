//! The model registry and the retraining protocol through the API: versions registered,
//! listed and promoted; a run's `train` token reading its model's records (CSV, NDJSON, with
//! labels, streamed) and registering its run's version, and refused everything else.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vigil::server::{self, auth};
use vigil_store::{Store, VersionStatus};

use crate::common::{
    Daemon, model_and_monitor, numbers, on_both_backends, records_csv, sqlite_database, start,
};

/// A GET's status, headers and body as text.
async fn get_text(
    daemon: &Daemon,
    path: &str,
    token: &str,
    accept: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", daemon.url))
        .bearer_auth(token);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("the daemon answers");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

/// A POST of JSON with `token`.
async fn post(daemon: &Daemon, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let body = Some(("application/json", body.to_string().into_bytes()));
    daemon
        .call(Method::POST, path, Some(token), body, &[])
        .await
}

async fn send_labels(daemon: &Daemon, model: &str, csv: String) {
    let (status, body) = daemon
        .admin(
            Method::POST,
            &format!("/v1/models/{model}/labels"),
            Some(("text/csv", csv.into_bytes())),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn send_records(daemon: &Daemon, model: &str, csv: Vec<u8>) {
    let (status, body) = daemon
        .admin(
            Method::POST,
            &format!("/v1/models/{model}/records"),
            Some(("text/csv", csv)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The `train` token of `run` for `model`, accepted until `expires_at` (Unix ms).
async fn run_token(store: &Store, model: &str, run: &str, expires_at: i64) -> (String, String) {
    let model_id = store.model(model).await.unwrap().unwrap().id;
    let token = auth::create_run_token(store, model_id, run, expires_at)
        .await
        .unwrap();
    (token.text, token.id)
}

fn in_an_hour() -> i64 {
    vigil_store::now_ms() + 3_600_000
}

/// A CSV answer's rows as maps from column to cell.
fn csv_rows(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

on_both_backends!(versions_are_registered_listed_and_promoted);
async fn versions_are_registered_listed_and_promoted(db: String) {
    let daemon = start(&db).await;
    daemon.create_model("m", "classification").await;
    let admin = daemon.admin.clone();

    // The body of old: a candidate with metadata only.
    let (status, v1) = post(
        &daemon,
        "/v1/models/m/versions",
        &admin,
        json!({"version": "v1", "metadata": {"git": "abc"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v1}");
    assert_eq!(v1["status"], "candidate");
    assert_eq!(v1["artifact_uri"], "");
    assert_eq!(v1["metrics"], json!({}));
    assert_eq!(v1["training_window"], Value::Null);
    assert_eq!(v1["created_by"], "api");
    assert_eq!(v1["metadata"], json!({"git": "abc"}));

    let v2_body = json!({
        "version": "v2", "artifact_uri": "s3://models/m/v2", "run_id": "run-1",
        "metrics": {"accuracy": 0.93, "log_loss": 0.21, "rows": 5000},
        "training_window": {"start": 100, "end": 5100},
    });
    let (status, v2) = post(&daemon, "/v1/models/m/versions", &admin, v2_body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{v2}");
    assert_eq!(
        v2["metrics"],
        json!({"accuracy": 0.93, "log_loss": 0.21, "rows": 5000.0})
    );
    assert_eq!(v2["training_window"], json!({"start": 100, "end": 5100}));
    assert_eq!(v2["run_id"], "run-1");
    // The same request again (a retry): the stored version, 200.
    let (status, again) = post(&daemon, "/v1/models/m/versions", &admin, v2_body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, v2);
    // The same version from another run, or by hand: a conflict.
    let mut other_run = v2_body.clone();
    other_run["run_id"] = json!("run-2");
    for clash in [other_run, json!({"version": "v2"})] {
        let (status, body) = post(&daemon, "/v1/models/m/versions", &admin, clash).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }

    // Refused with a message that names the field; nothing stored.
    for (body, names) in [
        (
            json!({"version": "x", "metrics": {"acc": "high"}}),
            "metrics.acc",
        ),
        (
            json!({"version": "x", "metrics": {"acc": null}}),
            "metrics.acc",
        ),
        (json!({"version": "x", "metrics": {"a b": 1}}), "metrics"),
        (
            json!({"version": "x", "training_window": {"start": 9, "end": 3}}),
            "training_window",
        ),
        (
            json!({"version": "x", "training_window": {"start": 9}}),
            "end",
        ),
        (json!({"version": "x", "metadata": [1]}), "metadata"),
        (
            json!({"version": "x", "artifact_uri": "a".repeat(3000)}),
            "artifact_uri",
        ),
        (json!({"version": "x", "run_id": "../etc"}), "run_id"),
        (json!({"version": "x y"}), "version"),
        (json!({"version": "x", "status": "serving"}), "status"),
    ] {
        let (status, answer) = post(&daemon, "/v1/models/m/versions", &admin, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{body}: {message}");
    }
    // A number JSON cannot hold as a finite float is refused as it is read.
    let (status, answer) = daemon
        .call(
            Method::POST,
            "/v1/models/m/versions",
            Some(&admin),
            Some((
                "application/json",
                br#"{"version": "x", "metrics": {"acc": 1e999}}"#.to_vec(),
            )),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let many: serde_json::Map<String, Value> =
        (0..101).map(|i| (format!("m{i}"), json!(i))).collect();
    let (status, _) = post(
        &daemon,
        "/v1/models/m/versions",
        &admin,
        json!({"version": "x", "metrics": many}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, listed) = daemon
        .admin(Method::GET, "/v1/models/m/versions", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let versions = listed["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{listed}");
    assert_eq!((&versions[0], &versions[1]), (&v1, &v2));
    for field in [
        "version",
        "status",
        "status_reason",
        "artifact_uri",
        "metrics",
        "training_window",
        "run_id",
        "created_by",
        "metadata",
        "created_at",
        "updated_at",
    ] {
        assert!(
            versions[1].get(field).is_some(),
            "{field} missing: {listed}"
        );
    }

    // Promotion through PUT …/serving: one serving version, the one before retired.
    let serve = |version: &str| {
        let body = json!({"version": version}).to_string().into_bytes();
        let daemon = &daemon;
        async move {
            daemon
                .admin(
                    Method::PUT,
                    "/v1/models/m/serving",
                    Some(("application/json", body)),
                )
                .await
        }
    };
    let (status, model) = serve("v1").await;
    assert_eq!(status, StatusCode::OK, "{model}");
    assert_eq!(model["serving_version"], "v1");
    let (status, model) = serve("v2").await;
    assert_eq!(status, StatusCode::OK, "{model}");
    assert_eq!(model["serving_version"], "v2");
    let (_, listed) = daemon
        .admin(Method::GET, "/v1/models/m/versions", None)
        .await;
    let statuses: Vec<&str> = listed["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["retired", "serving"]);
    let (status, answer) = serve("v9").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");

    // A version whose rollout failed is not served by hand either (same rule as promotion).
    let store = Store::open(&db).await.unwrap();
    let model_id = store.model("m").await.unwrap().unwrap().id;
    store
        .set_version_status(model_id, "v1", VersionStatus::Failed, "rollout failed")
        .await
        .unwrap();
    let (status, answer) = serve("v1").await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("failed")
    );
    store.close().await;
    daemon.stop().await;
}

on_both_backends!(a_train_token_reads_its_models_records_and_registers_its_runs_version);
async fn a_train_token_reads_its_models_records_and_registers_its_runs_version(db: String) {
    let daemon = start(&db).await;
    let store = Store::open(&db).await.unwrap();
    // `m` with a monitor of x, y and color (its schema); `other` without.
    model_and_monitor(&daemon, 100, json!({})).await;
    daemon.create_model("other", "classification").await;
    send_records(&daemon, "m", records_csv("r", 5, 30, 0.0)).await;
    send_records(&daemon, "other", records_csv("o", 6, 5, 0.0)).await;
    // Labels for r0..r9 (and one for a record that has not come yet).
    let labels: String = std::iter::once("id,label\n".to_string())
        .chain((0..10).map(|i| format!("r{i},{}\n", ["cat", "dog"][i % 2])))
        .chain(std::iter::once("later,cat\n".to_string()))
        .collect();
    send_labels(&daemon, "m", labels).await;
    let (train, train_id) = run_token(&store, "m", "run-1", in_an_hour()).await;

    // CSV: the schema's columns in order, every record of the range, labels where known.
    let (status, headers, text) =
        get_text(&daemon, "/v1/models/m/records?start=0&end=30", &train, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(headers["x-vigil-records-start"], "0");
    assert_eq!(headers["x-vigil-records-end"], "30");
    let (header, rows) = csv_rows(&text);
    assert_eq!(
        header,
        [
            "id",
            "timestamp",
            "model_version",
            "x",
            "y",
            "color",
            "prediction",
            "label"
        ]
    );
    assert_eq!(rows.len(), 30);
    let xs = numbers(5, 30, 0.0);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], format!("r{i}"));
        // Numbers come back exactly as they were sent.
        assert_eq!(row[3].parse::<f64>().unwrap(), xs[i], "{row:?}");
        assert!(row[1].ends_with('Z') && row[1].contains('T'), "{row:?}");
        let label = if i < 10 { ["cat", "dog"][i % 2] } else { "" };
        assert_eq!(row[7], label, "{row:?}");
    }

    // Only the labeled ones; a range; NDJSON by `format` or by `Accept`.
    let (_, _, text) = get_text(
        &daemon,
        "/v1/models/m/records?start=5&end=30&labeled=true",
        &train,
        None,
    )
    .await;
    let ids: Vec<String> = csv_rows(&text)
        .1
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(ids, ["r5", "r6", "r7", "r8", "r9"]);
    for (path, accept) in [
        (
            "/v1/models/m/records?start=8&end=12",
            Some("application/x-ndjson"),
        ),
        ("/v1/models/m/records?start=8&end=12&format=ndjson", None),
    ] {
        let (status, headers, text) = get_text(&daemon, path, &train, accept).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(headers["content-type"], "application/x-ndjson");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0]["id"], "r8");
        assert_eq!(lines[0]["label"], "cat");
        assert_eq!(lines[1]["label"], "dog");
        assert_eq!(lines[2]["label"], Value::Null);
        let features = lines[0]["features"].as_object().unwrap();
        let names: Vec<&String> = features.keys().collect();
        assert_eq!(names, ["color", "x", "y"]);
        assert_eq!(features["x"].as_f64().unwrap(), xs[8]);
        assert!(lines[0]["prediction"].is_string(), "{}", lines[0]);
    }
    // CSV by `Accept` too; past the stream's end the range is cut, and the headers say so.
    let (status, headers, text) = get_text(
        &daemon,
        "/v1/models/m/records?start=25&end=500",
        &train,
        Some("text/csv"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-vigil-records-end"], "30");
    assert_eq!(csv_rows(&text).1.len(), 5);
    for bad in [
        "start=-1",
        "start=5&end=4",
        "start=0&end=1000001",
        "format=parquet",
        "labeled=maybe",
        "begin=3",
    ] {
        let (status, _, text) = get_text(
            &daemon,
            &format!("/v1/models/m/records?{bad}"),
            &train,
            None,
        )
        .await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {text}"
        );
    }

    // Another model's records: refused, whether or not that model exists.
    for model in ["other", "nosuch"] {
        let (status, _, text) = get_text(
            &daemon,
            &format!("/v1/models/{model}/records"),
            &train,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{model}: {text}");
    }

    // Its run's version: registered, once; another run's, another model's: refused.
    let report = json!({
        "version": "v2", "artifact_uri": "file:///tmp/v2.json", "run_id": "run-1",
        "metrics": {"accuracy": 0.9}, "training_window": {"start": 0, "end": 30},
    });
    let (status, version) = post(&daemon, "/v1/models/m/versions", &train, report.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{version}");
    assert_eq!(version["created_by"], "run:run-1");
    let (status, again) = post(&daemon, "/v1/models/m/versions", &train, report.clone()).await;
    assert_eq!((status, &again), (StatusCode::OK, &version));
    let mut other_run = report.clone();
    other_run["run_id"] = json!("run-2");
    other_run["version"] = json!("v3");
    let mut no_run = report.clone();
    no_run.as_object_mut().unwrap().remove("run_id");
    no_run["version"] = json!("v3");
    for body in [other_run, no_run] {
        let (status, answer) = post(&daemon, "/v1/models/m/versions", &train, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    }
    let (status, answer) = post(&daemon, "/v1/models/other/versions", &train, report.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let other_id = store.model("other").await.unwrap().unwrap().id;
    assert!(store.model_versions(other_id).await.unwrap().is_empty());

    // Every other route: refused (health and readiness need no token).
    let routes = server::routes();
    for route in &routes {
        let mine = matches!(
            (route.method.as_str(), route.path),
            ("GET", "/v1/models/{model}/records") | ("POST", "/v1/models/{model}/versions")
        );
        for model in if mine {
            vec!["other"]
        } else {
            vec!["m", "other"]
        } {
            let path = route
                .path
                .replace("{model}", model)
                .replace("{name}", "watch")
                .replace("{version}", "v2")
                .replace("{id}", "1")
                .replace("{file}", "app.js");
            let (status, body) = daemon
                .call(route.method.clone(), &path, Some(&train), None, &[])
                .await;
            if route.access == auth::Access::Public {
                assert!(status.is_success(), "{} {path}: {status}", route.method);
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{} {path}: {body}",
                    route.method
                );
            }
        }
    }

    // Read tokens read records too; ingest tokens do not.
    let reader = daemon.token("read").await;
    let (status, _, _) = get_text(&daemon, "/v1/models/other/records", &reader, None).await;
    assert_eq!(status, StatusCode::OK);
    let ingester = daemon.token("ingest").await;
    let (status, _, _) = get_text(&daemon, "/v1/models/m/records", &ingester, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Nobody makes a train token through the API.
    let (status, answer) = daemon
        .json(
            Method::POST,
            "/v1/tokens",
            json!({"name": "sneaky", "role": "train"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`train`") && message.contains("daemon"),
        "{message}"
    );

    // Revoked, or expired: 401.
    let (status, _) = daemon
        .admin(Method::DELETE, &format!("/v1/tokens/{train_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (expired, _) = run_token(&store, "m", "run-3", vigil_store::now_ms() - 1).await;
    for token in [&train, &expired] {
        let (status, headers, text) = get_text(&daemon, "/v1/models/m/records", token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
        assert_eq!(headers["www-authenticate"], "Bearer");
        let report = json!({"version": "v4", "run_id": "run-3"});
        let (status, _) = post(&daemon, "/v1/models/m/versions", token, report).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The run's token lives as long as its run: revoked together when it ends.
    let (live, _) = run_token(&store, "m", "run-4", in_an_hour()).await;
    let m = store.model("m").await.unwrap().unwrap().id;
    assert_eq!(store.revoke_run_tokens(m, "run-4").await.unwrap(), 1);
    let (status, _, _) = get_text(&daemon, "/v1/models/m/records", &live, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    store.close().await;
    daemon.stop().await;
}

/// A range across many stored batches comes back whole and in order, streamed (chunked, no
/// length announced), starting and ending inside batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_records_export_across_many_stored_batches_streams_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_database(&dir);
    let daemon = start(&db).await;
    let store = Store::open(&db).await.unwrap();
    daemon.create_model("m", "classification").await;
    // 25,000 records in stored batches of 3,000 and 1,000 (ingestion stores one per request),
    // every seventh labeled.
    let total = 25_000;
    let mut sent = 0;
    while sent < total {
        let n = if (sent / 1000) % 2 == 0 { 3000 } else { 1000 }.min(total - sent);
        let mut csv = String::from("id,x,prediction\n");
        for i in sent..sent + n {
            csv.push_str(&format!("r{i},{},{}\n", i as f64 / 8.0, i % 3));
        }
        send_records(&daemon, "m", csv.into_bytes()).await;
        sent += n;
    }
    let labels: String = std::iter::once("id,label\n".to_string())
        .chain((0..total).step_by(7).map(|i| format!("r{i},{}\n", i % 2)))
        .collect();
    send_labels(&daemon, "m", labels).await;
    let (train, _) = run_token(&store, "m", "run-big", in_an_hour()).await;

    let (status, headers, text) = get_text(
        &daemon,
        "/v1/models/m/records?start=1500&end=24999&format=csv",
        &train,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("content-length").is_none(), "{headers:?}");
    assert_eq!(headers["transfer-encoding"], "chunked");
    let (header, rows) = csv_rows(&text);
    assert_eq!(
        header,
        [
            "id",
            "timestamp",
            "model_version",
            "x",
            "prediction",
            "label"
        ]
    );
    assert_eq!(rows.len(), 24999 - 1500);
    for (row, i) in rows.iter().zip(1500..) {
        assert_eq!(row[0], format!("r{i}"));
        assert_eq!(row[3].parse::<f64>().unwrap(), i as f64 / 8.0);
        assert_eq!(row[4], (i % 3).to_string());
        let label = if i % 7 == 0 {
            (i % 2).to_string()
        } else {
            String::new()
        };
        assert_eq!(row[5], label, "{row:?}");
    }

    // Only the labeled, as NDJSON, through the whole stream.
    let (status, _, text) = get_text(
        &daemon,
        "/v1/models/m/records?labeled=true&format=ndjson",
        &train,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: Vec<String> = (0..total).step_by(7).map(|i| format!("r{i}")).collect();
    assert_eq!(ids, expected);
    store.close().await;
    daemon.stop().await;
}
