//! Who may do what through the API: every route's role, tokens that do not pass, and fields a
//! client may not set.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vigil::server::{self, auth};

use crate::common::{sqlite_database, start};

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
        ("GET", "/v1/openapi.json", "public"),
        ("GET", "/ui", "public"),
        ("GET", "/ui/{file}", "public"),
        ("GET", "/v1/whoami", "read"),
        ("POST", "/v1/plugins", "write"),
        ("GET", "/v1/plugins", "read"),
        ("GET", "/v1/plugins/{name}/{version}", "read"),
        ("GET", "/v1/plugins/{name}/{version}/download", "read"),
        ("DELETE", "/v1/plugins/{name}/{version}", "write"),
        ("POST", "/v1/models", "write"),
        ("GET", "/v1/models", "read"),
        ("GET", "/v1/models/{model}", "read"),
        ("POST", "/v1/models/{model}/versions", "write or train"),
        ("GET", "/v1/models/{model}/versions", "read"),
        ("PUT", "/v1/models/{model}/serving", "write"),
        ("POST", "/v1/models/{model}/records", "ingest"),
        ("POST", "/v1/models/{model}/labels", "ingest"),
        ("POST", "/v1/models/{model}/predict", "ingest"),
        ("GET", "/v1/models/{model}/verdict", "read"),
        (
            "POST",
            "/v1/models/{model}/versions/{version}/promote",
            "write",
        ),
        ("POST", "/v1/models/{model}/rollback", "write"),
        ("GET", "/v1/models/{model}/records", "read or train"),
        ("POST", "/v1/monitors", "write"),
        ("GET", "/v1/monitors", "read"),
        ("GET", "/v1/monitors/{name}", "read"),
        ("PUT", "/v1/monitors/{name}", "write"),
        ("DELETE", "/v1/monitors/{name}", "write"),
        ("PUT", "/v1/monitors/{name}/reference", "write"),
        ("GET", "/v1/monitors/{name}/evaluations", "read"),
        ("POST", "/v1/monitors/{name}/shadows", "write"),
        ("GET", "/v1/monitors/{name}/shadows", "read"),
        ("GET", "/v1/monitors/{name}/shadows/{id}", "read"),
        ("POST", "/v1/monitors/{name}/shadows/{id}/promote", "write"),
        ("POST", "/v1/monitors/{name}/shadows/{id}/drop", "write"),
        ("GET", "/v1/monitors/{name}/timeline", "read"),
        ("GET", "/v1/evaluations/{id}", "read"),
        ("GET", "/v1/evaluations/{id}/distributions", "read"),
        ("POST", "/v1/evaluations/{id}/replay", "write"),
        ("GET", "/v1/status", "read"),
        ("GET", "/v1/alerts", "read"),
        ("GET", "/v1/actions", "read"),
        ("POST", "/v1/tokens", "admin"),
        ("DELETE", "/v1/tokens/{id}", "admin"),
    ];
    let routes = server::routes();
    let actual: Vec<(String, String, String)> = routes
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_string(),
                r.access.name().to_string(),
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
            .replace("{id}", "999999")
            .replace("{file}", "app.js");
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
            // `train` tokens are not made here (the daemon makes them for its runs): their
            // walk through the routes is in `registry.rs`.
            let allowed = match *access {
                "public" => true,
                "read" | "read or train" => matches!(*role, "read" | "write" | "admin"),
                "ingest" => matches!(*role, "ingest" | "write" | "admin"),
                "write" | "write or train" => matches!(*role, "write" | "admin"),
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
