//! A daemon's HTTP API as the tests that start one in-process call it.

use reqwest::Method;
use serde_json::Value;

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
