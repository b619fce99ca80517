//! A daemon run in-process, with the standard plugins and some of the built guests uploaded,
//! and a client for its API.

// Each test file compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use vigil::config::Config;
use vigil::plugins::STANDARD_PLUGINS;
use vigil::server::{self, AppState, auth};

/// Serves a daemon on the database `db` (polling every 20 ms, `tweak` applied to the rest of its
/// configuration) until `shutdown` resolves. `token` is an admin token, created when `None`.
pub async fn serve(
    db: &str,
    token: Option<String>,
    tweak: impl FnOnce(&mut Config),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (Daemon, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let mut config = Config {
        database_url: db.to_string(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tick_ms: 20,
        ..Config::default()
    };
    tweak(&mut config);
    let store = vigil_store::Store::open(db).await.unwrap();
    let token = match token {
        Some(token) => token,
        None => {
            auth::create_token(&store, "p1", auth::Role::Admin)
                .await
                .unwrap()
                .text
        }
    };
    let runtime = vigil_runtime::Runtime::new(config.runtime_config()).unwrap();
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(store, runtime, config).expect("state");
    let serving = tokio::spawn(server::serve(state, listener, shutdown));
    let daemon = Daemon {
        url,
        token,
        http: reqwest::Client::new(),
    };
    (daemon, serving)
}

/// A daemon on a fresh SQLite database serving until `shutdown` resolves (its task is
/// returned), plugin calls bounded by `deadline_ms`, with the standard plugins and the built
/// components `guests` uploaded.
pub async fn start_until(
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    deadline_ms: u64,
    guests: &[&str],
) -> (
    Daemon,
    tempfile::TempDir,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("vigil.db").display());
    let (daemon, serving) = serve(
        &db,
        None,
        |config| config.plugin_deadline_ms = deadline_ms,
        shutdown,
    )
    .await;
    for (_, bytes) in STANDARD_PLUGINS {
        daemon.upload(bytes.to_vec()).await;
    }
    for guest in guests {
        daemon.upload(vigil_tests::component(guest)).await;
    }
    (daemon, dir, serving)
}

/// A running daemon's address and an admin token.
pub struct Daemon {
    pub url: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Daemon {
    /// Calls the API as the admin; the answer must be a success. The answer is its JSON, or
    /// its text as a JSON string.
    pub async fn call(&self, method: Method, path: &str, body: Option<(&str, Vec<u8>)>) -> Value {
        let (status, value) = self.send(method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    /// Calls the API as the admin: the status and the answer.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> (reqwest::StatusCode, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some((content_type, bytes)) = body {
            request = request.header("content-type", content_type).body(bytes);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// POSTs JSON; the answer must be a success.
    pub async fn json(&self, path: &str, body: Value) -> Value {
        self.call(
            Method::POST,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    /// Uploads a plugin component.
    pub async fn upload(&self, component: Vec<u8>) -> Value {
        let body = Some(("application/wasm", component));
        self.call(Method::POST, "/v1/plugins", body).await
    }

    /// The monitor's entry in `/v1/status`.
    pub async fn status_of(&self, monitor: &str) -> Value {
        let status = self.call(Method::GET, "/v1/status", None).await;
        status["monitors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["monitor"] == monitor)
            .unwrap()
            .clone()
    }

    /// Polls `path` until `done` accepts the answer (bounded).
    pub async fn until(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let value = self.call(Method::GET, path, None).await;
            if done(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "waited in vain on {path}: {value}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
