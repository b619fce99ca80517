//! Records and labels through the API: every format, whole requests checked and refused with
//! the row and field named, and retries made safe by idempotency keys. On a fresh SQLite file,
//! and on a fresh Postgres database in a test of its own.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{model_and_monitor, on_both_backends, start};

on_both_backends!(ingestion_is_whole_checked_and_idempotent);
async fn ingestion_is_whole_checked_and_idempotent(db: String) {
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

on_both_backends!(the_schema_follows_each_monitor_change_at_once);
/// The features records must fit follow the model's monitors as soon as a change to one is
/// answered: the daemon keeps each model's schema between requests, and every change drops it.
async fn the_schema_follows_each_monitor_change_at_once(db: String) {
    let daemon = start(&db).await;
    daemon.upload_standard_plugins().await;
    daemon.create_model("m", "classification").await;
    let send = async |csv: &str| {
        daemon
            .admin(
                Method::POST,
                "/v1/models/m/records",
                Some(("text/csv", csv.as_bytes().to_vec())),
            )
            .await
    };
    let accepted = async |csv: &str| {
        let (status, body) = send(csv).await;
        assert_eq!(status, StatusCode::OK, "{csv}: {body}");
    };
    let refused = async |csv: &str, naming: &str| {
        let (status, body) = send(csv).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{csv}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(naming), "{message} should name {naming}");
    };
    let monitor = |features: Value| {
        json!({"name": "watch", "model": "m", "window": {"records": 1_000_000},
               "features": features})
    };
    let x = json!({"name": "x", "type": "numeric"});
    let z = json!({"name": "z", "type": "numeric"});

    // Without monitors any features are taken.
    accepted("id,x,z\na1,1,tall\n").await;
    let (status, body) = daemon
        .json(Method::POST, "/v1/monitors", monitor(json!([x])))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    accepted("id,x\nb1,1\n").await;
    refused("id,x,z\nb2,1,2\n", "field `z`").await;

    // The monitor comes to watch `z`: records may carry it, as a number.
    let (status, body) = daemon
        .json(Method::PUT, "/v1/monitors/watch", monitor(json!([x, z])))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    accepted("id,x,z\nc1,1,2\n").await;
    refused("id,x,z\nc2,1,tall\n", "row 1, field `z`").await;

    // A new reference leaves the features as they were.
    let (status, body) = daemon
        .admin(
            Method::PUT,
            "/v1/monitors/watch/reference",
            Some(("text/csv", b"id,x,z\nr1,1,2\nr2,2,3\n".to_vec())),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    refused("id,x,z\nd1,1,tall\n", "row 1, field `z`").await;

    // Without the monitor, nothing is checked again.
    let (status, body) = daemon
        .admin(Method::DELETE, "/v1/monitors/watch", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    accepted("id,x,z,w\ne1,1,tall,3\n").await;
    daemon.stop().await;
}
