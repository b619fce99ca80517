//! A daemon's HTTP API as the tests that start one in-process call it.

use reqwest::Method;
use serde_json::Value;
use vigil::config::Config;
use vigil::server::{self, AppState, auth};

/// Serves a daemon on the database `db` (polling every 20 ms, `tweak` applied to the rest of its
/// configuration) until `shutdown` resolves. `token` is an admin token, created when `None`.
pub async fn serve(
    db: &str,
    token: Option<String>,
    tweak: impl FnOnce(&mut Config),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (Api, tokio::task::JoinHandle<anyhow::Result<()>>) {
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
    let api = Api {
        url,
        token,
        http: reqwest::Client::new(),
    };
    (api, serving)
}

/// A running daemon's address and an admin token.
pub struct Api {
    pub url: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    /// Sends a request as the admin; panics unless it succeeds. The answer is its JSON, or its
    /// text as a JSON string.
    pub async fn call(&self, method: Method, path: &str, body: Option<(&str, Vec<u8>)>) -> Value {
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
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    /// Uploads a plugin component.
    pub async fn upload(&self, component: Vec<u8>) -> Value {
        let body = Some(("application/wasm", component));
        self.call(Method::POST, "/v1/plugins", body).await
    }
}
