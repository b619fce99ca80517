//! What the daemon's integration tests share: fresh databases, and the daemon on a real port.
#![allow(dead_code)] // each test binary uses its own part

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vigil::config::Config;
use vigil::plugins::STANDARD_PLUGINS;
use vigil::server::{self, AppState, auth};

/// A fresh SQLite database file in `dir`, for the tests that need no Postgres run.
pub fn sqlite_database(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("vigil.db").display())
}

/// Fresh databases to run a test on: a SQLite file in `dir` always, and a new database on the
/// Postgres server of `VIGIL_TEST_POSTGRES_URL` when it is set.
pub fn databases(dir: &tempfile::TempDir) -> Vec<String> {
    let mut urls = vec![sqlite_database(dir)];
    if let Ok(server) = std::env::var("VIGIL_TEST_POSTGRES_URL") {
        let name = format!("vigil_daemon_{}", uuid::Uuid::new_v4().simple());
        let status = std::process::Command::new("psql")
            .args([server.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
            .status()
            .expect("psql runs");
        assert!(status.success(), "cannot create the Postgres test database");
        let base = server.rsplit_once('/').expect("a database URL").0;
        urls.push(format!("{base}/{name}"));
    }
    urls
}

pub struct Daemon {
    pub url: String,
    pub admin: String,
    pub db_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub async fn start_with(db_url: &str, tweak: impl FnOnce(&mut Config)) -> Daemon {
    let mut config = Config {
        database_url: db_url.to_string(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tick_ms: 20,
        ..Config::default()
    };
    tweak(&mut config);
    let store = vigil_store::Store::open(db_url).await.expect("store opens");
    let admin = auth::create_token(&store, "test-admin", auth::Role::Admin)
        .await
        .unwrap()
        .text;
    let runtime = vigil_runtime::Runtime::new(config.runtime_config()).unwrap();
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(store, runtime, config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(state, listener, async {
        let _ = stopped.await;
    }));
    Daemon {
        url,
        admin,
        db_url: db_url.to_string(),
        stop: Some(stop),
        task,
    }
}

pub async fn start(db_url: &str) -> Daemon {
    start_with(db_url, |_| {}).await
}

impl Daemon {
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new().request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.expect("the daemon answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> (StatusCode, Value) {
        let token = self.admin.clone();
        self.call(method, path, Some(&token), body, &[]).await
    }

    pub async fn json(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        self.admin(
            method,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    /// A new token of `role`, created with the admin token.
    pub async fn token(&self, role: &str) -> String {
        let (status, body) = self
            .json(
                Method::POST,
                "/v1/tokens",
                json!({"name": role, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn create_model(&self, name: &str, task: &str) {
        let (status, body) = self
            .json(
                Method::POST,
                "/v1/models",
                json!({"name": name, "task": task}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub async fn upload_standard_plugins(&self) {
        self.upload_standard_plugins_except("").await;
    }

    /// Waits (polling, bounded) until the monitor has `count` evaluations; newest first.
    pub async fn evaluations(&self, monitor: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, page) = self
                .admin(
                    Method::GET,
                    &format!("/v1/monitors/{monitor}/evaluations?limit=100"),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let evaluations = page["evaluations"].as_array().unwrap().clone();
            if evaluations.len() >= count {
                return evaluations;
            }
            assert!(
                Instant::now() < deadline,
                "only {} evaluations: {page}",
                evaluations.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Daemon {
    pub async fn upload_standard_plugins_except(&self, skip: &str) {
        for (name, bytes) in STANDARD_PLUGINS {
            if *name == skip {
                continue;
            }
            let (status, body) = self
                .admin(
                    Method::POST,
                    "/v1/plugins",
                    Some(("application/wasm", bytes.to_vec())),
                )
                .await;
            // A fresh daemon stores them itself, so this finds them stored.
            assert!(status.is_success(), "{name}: {status} {body}");
        }
    }
}

/// Deterministic normal-ish numbers (sum of uniforms) from a seed.
pub fn numbers(seed: u64, n: usize, mean: f64) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            let mut sum = 0.0;
            for _ in 0..12 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                sum += (state >> 11) as f64 / (1u64 << 53) as f64;
            }
            mean + sum - 6.0
        })
        .collect()
}

pub fn records_csv(prefix: &str, seed: u64, n: usize, shift: f64) -> Vec<u8> {
    let xs = numbers(seed, n, shift);
    let ys = numbers(seed + 1, n, 10.0);
    let mut csv = String::from("id,x,y,color,prediction\n");
    for i in 0..n {
        let color = ["red", "green", "blue"][(i * 7 + seed as usize) % 3];
        csv.push_str(&format!(
            "{prefix}{i},{},{},{color},{}\n",
            xs[i],
            ys[i],
            (xs[i] > shift) as u8
        ));
    }
    csv.into_bytes()
}

pub async fn model_and_monitor(daemon: &Daemon, window: u64, extra: Value) {
    daemon.create_model("m", "classification").await;
    let mut spec = json!({
        "name": "watch", "model": "m", "window": {"records": window},
        "features": [
            {"name": "x", "type": "numeric"}, {"name": "y", "type": "numeric"},
            {"name": "color", "type": "categorical"},
        ],
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    let (status, body) = daemon.json(Method::POST, "/v1/monitors", spec).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = daemon
        .admin(
            Method::PUT,
            "/v1/monitors/watch/reference",
            Some(("text/csv", records_csv("ref", 1, 1000, 0.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["reference_rows"], 1000);
}

/// What a webhook receiver got: the signature header (if any) and the body of each call.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, Vec<u8>)>>>;

/// A local webhook receiver that records what it gets; returns its URL.
pub async fn webhook_receiver() -> (String, Received) {
    let received = Received::default();
    let sink = received.clone();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    let signature = headers
                        .get("x-vigil-signature")
                        .map(|v| v.to_str().unwrap().to_string());
                    sink.lock().unwrap().push((signature, body.to_vec()));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await });
    (url, received)
}

/// Polls `done` until it holds, for at most 30 s; whether it did.
pub async fn wait_for(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}
