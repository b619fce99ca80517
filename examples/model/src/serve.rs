//! `vigil-model serve`: predictions over HTTP.
//!
//! - `GET /healthz`: 200 `{"status": "ok", "version": …}` (the artifact is loaded before the
//!   port is bound, so an answer means ready).
//! - `POST /predict` with `{"id"?: …, "features": {name: value, …}}`: `{"id"?, "prediction",
//!   "probabilities": {class: p, …}, "version"}`.
//! - `POST /predict` with `{"records": [item, …]}`: `{"predictions": [{"id"?, "prediction",
//!   "probabilities"}, …], "version"}`,
//!   where an item is a request of the single form or a flat record whose keys hold the
//!   features (as `GET /v1/models/{model}/records` returns them; other keys are ignored).
//!
//! A missing feature or a value of the wrong type is a 422 naming it; a body that is not JSON
//! is a 400. Errors are `{"error": message}`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::model::{Model, Prediction};

/// Batches are bounded by size, not count: 64 MiB of JSON.
const BODY_LIMIT: usize = 64 << 20;

/// A loaded model and the version it serves as.
pub struct Served {
    pub model: Model,
    pub version: String,
}

/// The artifact's path from its URI: `file:///abs/path/model.json`, or a plain path.
pub fn artifact_path(uri: &str) -> anyhow::Result<PathBuf> {
    if uri.contains("://") {
        let url = reqwest::Url::parse(uri).with_context(|| format!("`{uri}` is not a URI"))?;
        if url.scheme() != "file" {
            bail!("`{uri}`: only file:// artifacts can be served (fetch others to a file first)");
        }
        return url
            .to_file_path()
            .map_err(|()| anyhow::anyhow!("`{uri}` is not a local file URI"));
    }
    Ok(PathBuf::from(uri))
}

/// The routes, over a loaded model.
pub fn router(served: Arc<Served>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/predict", post(predict))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(served)
}

/// Serves on `listener` until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    served: Arc<Served>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router(served))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")
}

/// Resolves on SIGTERM (how a process backend or Kubernetes stops a server) or SIGINT. The
/// handlers are installed at once, before the port is bound, so that a signal sent as soon as
/// the server answers is never met by the default action (dying mid-request).
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// Binds `host:port` (port 0 picks a free one).
pub async fn bind(host: &str, port: u16) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| format!("binding {host}:{port}"))?;
    let address = listener.local_addr()?;
    Ok((listener, address))
}

async fn healthz(State(served): State<Arc<Served>>) -> Json<Value> {
    Json(json!({"status": "ok", "version": served.version}))
}

/// A client's mistake, answered with its status and a message.
struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

fn unprocessable(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::UNPROCESSABLE_ENTITY, message.into())
}

async fn predict(State(served): State<Arc<Served>>, body: Bytes) -> Result<Json<Value>, Refusal> {
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        Refusal(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
        )
    })?;
    let Value::Object(body) = body else {
        return Err(unprocessable(
            "the body is a JSON object: {\"features\": {…}} or {\"records\": […]}",
        ));
    };
    if let Some(records) = body.get("records") {
        let Value::Array(records) = records else {
            return Err(unprocessable("`records` must be an array"));
        };
        let predictions = records
            .iter()
            .enumerate()
            .map(|(i, record)| {
                let Value::Object(record) = record else {
                    return Err(unprocessable(format!("records[{i}] must be an object")));
                };
                // A single-form request, or a flat record whose keys are the features.
                let features = match record.get("features") {
                    Some(Value::Object(features)) => features,
                    _ => record,
                };
                answer(&served, record.get("id"), features)
                    .map_err(|e| unprocessable(format!("records[{i}]: {}", e.1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Json(
            json!({"version": served.version, "predictions": predictions}),
        ));
    }
    match body.get("features") {
        Some(Value::Object(features)) => {
            let mut answer = answer(&served, body.get("id"), features)?;
            answer["version"] = json!(served.version);
            Ok(Json(answer))
        }
        Some(_) => Err(unprocessable("`features` must be an object")),
        None => Err(unprocessable(
            "the body has `features` (an object) or `records` (an array)",
        )),
    }
}

fn answer(
    served: &Served,
    id: Option<&Value>,
    features: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let prediction = served
        .model
        .predict_json(features)
        .map_err(|e| unprocessable(e.to_string()))?;
    let mut answer = describe(&served.model, &prediction);
    if let Some(id) = id {
        answer["id"] = id.clone();
    }
    Ok(answer)
}

fn describe(model: &Model, prediction: &Prediction) -> Value {
    let probabilities: Map<String, Value> = model
        .classes
        .iter()
        .zip(&prediction.probabilities)
        .map(|(class, p)| (class.clone(), json!(p)))
        .collect();
    json!({
        "prediction": model.classes[prediction.class],
        "probabilities": probabilities,
    })
}
