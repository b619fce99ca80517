//! `POST /v1/models/{model}/predict`: a reverse proxy to the version that serves the model
//! (on the local backend), which also records each request and its answer as the model's
//! inference data, so monitoring sees exactly what the model was asked and said. The answer
//! is sent once the record is committed (ingestion's group commit makes that cheap), so an
//! answered prediction is never missing from the data (see docs/orchestration.md, "Predict").

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::models::find_model;
use super::{AppState, read_body};
use crate::ingest;
use crate::vocab::{Format, Task};

/// Largest predict body: one record.
const BODY_LIMIT: usize = 1 << 20;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PredictRequest {
    #[serde(default)]
    id: Option<String>,
    features: serde_json::Map<String, Value>,
}

/// What a model server answers (see docs/orchestration.md, "Model servers").
#[derive(Deserialize)]
struct ModelAnswer {
    prediction: Value,
    #[serde(default)]
    probabilities: Option<serde_json::Map<String, Value>>,
}

/// What `POST /v1/models/{model}/predict` answers: the serving version's prediction, and where
/// its record went.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Prediction {
    /// The record's id: the request's, or one the daemon made.
    pub id: String,
    /// The version that answered.
    pub model_version: String,
    /// What the model server answered.
    pub prediction: Value,
    pub probabilities: Option<serde_json::Map<String, Value>>,
    /// The record's stream offset, when it was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// `false` when the prediction stands but its record was refused (see `record_error`):
    /// monitoring will not see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_error: Option<String>,
}

/// The model's verdict (`GET /v1/models/{model}/verdict`).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Verdict {
    pub model: String,
    pub serving_version: Option<String>,
    /// Every monitor of the model evaluated a window, and its newest decided nothing.
    pub healthy: bool,
    pub monitors: Vec<MonitorVerdict>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct MonitorVerdict {
    pub monitor: String,
    pub evaluated: bool,
    pub status: Option<String>,
    /// The newest window's decision; `none` before any window.
    pub decision: String,
    pub reason: Option<String>,
    pub window: Option<WindowRange>,
    pub evaluated_at: Option<i64>,
}

/// Records at stream offsets `start..end`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct WindowRange {
    pub start: i64,
    pub end: i64,
}

pub async fn predict(
    State(state): State<AppState>,
    Path(model): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    let model = find_model(&state, &model).await?;
    let body = read_body(&state, request, BODY_LIMIT).await?;
    let asked: PredictRequest = super::models::parse_json(&body)?;
    let id = asked
        .id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let forwarded = json!({"id": id, "features": asked.features});

    // A route taken while a switch is under way still answers: the old version is drained
    // only once the requests holding it are done.
    let upstream = state.orchestration.upstream(&model.name).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_served",
            format!(
                "no version of `{}` is served by this daemon: a monitor of the model needs \
                 `actions.rollout.local` and the model a serving version",
                model.name
            ),
        )
    })?;
    let reply = state
        .http
        .post(format!("{}/predict", upstream.url))
        .json(&forwarded)
        .send()
        .await
        .map_err(|e| bad_gateway(&model.name, &upstream.version, &e.to_string()))?;
    let status = reply.status();
    let text = reply
        .text()
        .await
        .map_err(|e| bad_gateway(&model.name, &upstream.version, &e.to_string()))?;
    let version = upstream.version.clone();
    drop(upstream);
    if status.is_client_error() {
        // The model refused the request (a missing feature, say): the client's to fix.
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "model_refused",
            format!(
                "model `{}` version `{version}`: {}",
                model.name,
                text.trim()
            ),
        ));
    }
    if !status.is_success() {
        return Err(bad_gateway(
            &model.name,
            &version,
            &format!("{status}: {}", text.trim()),
        ));
    }
    let answer: ModelAnswer = serde_json::from_str(&text).map_err(|e| {
        bad_gateway(
            &model.name,
            &version,
            &format!("the answer is not {{\"prediction\", \"probabilities\"}}: {e}"),
        )
    })?;

    let mut record = json!({
        "id": id,
        "model_version": version,
        "features": forwarded["features"],
        "prediction": answer.prediction,
    });
    if let Some(probabilities) = &answer.probabilities {
        record["probabilities"] = Value::Object(probabilities.clone());
    }
    let recorded = record_one(&state, &model, &record).await;
    let mut shown = Prediction {
        id,
        model_version: version,
        prediction: answer.prediction,
        probabilities: answer.probabilities,
        offset: None,
        recorded: None,
        record_error: None,
    };
    match recorded {
        Ok(offset) => shown.offset = Some(offset),
        Err(error) => {
            // The prediction stands; say plainly that monitoring will not see it.
            shown.recorded = Some(false);
            shown.record_error = Some(error);
        }
    }
    Ok(Json(shown).into_response())
}

/// Stores one predicted record; returns its stream offset, or why it was refused.
async fn record_one(
    state: &AppState,
    model: &vigil_store::Model,
    record: &Value,
) -> Result<i64, String> {
    let schema = state
        .schemas
        .get(&state.store, model.id)
        .await
        .map_err(|e| e.message)?;
    let task = Task::parse(&model.task).unwrap_or(Task::Classification);
    let line = serde_json::to_vec(record).map_err(|e| e.to_string())?;
    let batch = ingest::parse_records(
        &line,
        Format::Ndjson,
        schema.as_deref(),
        task,
        1,
        vigil_store::now_ms(),
    )
    .map_err(|e| e.to_string())?;
    let outcome = state
        .store
        .ingest(model.id, &batch, None)
        .await
        .map_err(|e| e.to_string())?;
    state.monitoring.wake();
    Ok(outcome.first_offset)
}

fn bad_gateway(model: &str, version: &str, error: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "model_unavailable",
        format!("model `{model}` version `{version}` did not answer: {error}"),
    )
}

/// `GET /v1/models/{model}/verdict`: the model's current verdict, as one JSON object that a
/// canary analysis can read (Argo Rollouts' `web` metric provider, with
/// `successCondition: result.healthy == true`; see deploy/examples). Healthy means every
/// monitor of the model has evaluated a window and the newest one decided nothing.
pub async fn verdict(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> ApiResult<Response> {
    let model = find_model(&state, &model).await?;
    let monitors: Vec<_> = state
        .store
        .monitors()
        .await?
        .into_iter()
        .filter(|m| m.model_id == model.id)
        .collect();
    let latest = state.store.latest_evaluations().await?;
    let mut healthy = !monitors.is_empty();
    let mut shown = Vec::new();
    for monitor in &monitors {
        let evaluation = latest.iter().find(|e| e.monitor_id == monitor.id);
        let decision = evaluation.map_or("none", |e| e.action.as_str());
        healthy &= evaluation.is_some_and(|e| e.action == "none" && e.status == "ok");
        shown.push(MonitorVerdict {
            monitor: monitor.name.clone(),
            evaluated: evaluation.is_some(),
            status: evaluation.map(|e| e.status.clone()),
            decision: decision.to_string(),
            reason: evaluation.map(|e| e.reason.clone()),
            window: evaluation.map(|e| WindowRange {
                start: e.window_start,
                end: e.window_end,
            }),
            evaluated_at: evaluation.map(|e| e.finished_at),
        });
    }
    Ok(Json(Verdict {
        model: model.name,
        serving_version: model.serving_version,
        healthy,
        monitors: shown,
    })
    .into_response())
}
