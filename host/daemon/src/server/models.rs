//! `/v1/models`: models and their registered versions, and ingestion of records and labels
//! (their export is in `export.rs`).
//!
//! An ingestion request is acknowledged (2xx) only after its transaction commits. It is
//! stored whole or not at all; records whose id is already stored are skipped, and a retry
//! carrying the same `Idempotency-Key` gets the first answer without storing anything again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use vigil_store::{IdempotencyKey, Model, Registration};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::{AppState, rate_limit, read_body};
use crate::ingest::{self, RecordError};
use crate::metrics::ModelLabel;
use crate::vocab::check_name;
use crate::vocab::{Format, Task};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewModel {
    name: String,
    /// `classification` or `regression`.
    task: String,
    #[serde(default)]
    description: String,
}

pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid request: {e}")))
}

pub async fn find_model(state: &AppState, name: &str) -> ApiResult<Model> {
    state
        .store
        .model(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no model named `{name}`")))
}

pub async fn create(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let body = read_body(&state, request, 1 << 20).await?;
    let new: NewModel = parse_json(&body)?;
    check_name("name", &new.name).map_err(ApiError::invalid)?;
    if new.description.len() > 4096 {
        return Err(ApiError::invalid("description: at most 4096 bytes"));
    }
    if Task::parse(&new.task).is_none() {
        return Err(ApiError::invalid(
            "task: expected `classification` or `regression`",
        ));
    }
    let model = state
        .store
        .create_model(&new.name, &new.task, &new.description)
        .await?;
    Ok((StatusCode::CREATED, Json(model)).into_response())
}

/// `GET /v1/models`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ModelList {
    pub models: Vec<vigil_store::Model>,
}

/// `GET /v1/models/{model}/versions`, oldest first.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct VersionList {
    pub versions: Vec<vigil_store::ModelVersion>,
}

pub async fn list(State(state): State<AppState>) -> ApiResult<Response> {
    let models = state.store.models().await?;
    Ok(Json(ModelList { models }).into_response())
}

pub async fn get(State(state): State<AppState>, Path(model): Path<String>) -> ApiResult<Response> {
    Ok(Json(find_model(&state, &model).await?).into_response())
}

/// `POST /v1/models/{model}/versions`: what a retraining run (or a person) reports. The body
/// of old, `{version, metadata}`, is still a valid one.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewVersion {
    version: String,
    #[serde(default)]
    artifact_uri: String,
    /// Checked one by one, so that an error names the metric.
    #[serde(default)]
    metrics: serde_json::Map<String, serde_json::Value>,
    run_id: Option<String>,
    training_window: Option<vigil_store::TrainingWindow>,
    #[serde(default)]
    metadata: serde_json::Value,
}

/// Bounds on what a version carries (docs/security.md, "Request limits").
const MAX_ARTIFACT_URI_BYTES: usize = 2048;
const MAX_METRICS: usize = 100;
const MAX_METADATA_BYTES: usize = 64 << 10;

impl NewVersion {
    /// The version to store, checked; `created_by` says who reports it.
    fn checked(self, created_by: String) -> ApiResult<vigil_store::NewVersion> {
        check_name("version", &self.version).map_err(ApiError::invalid)?;
        if self.artifact_uri.len() > MAX_ARTIFACT_URI_BYTES
            || self.artifact_uri.chars().any(char::is_control)
        {
            return Err(ApiError::invalid(format!(
                "artifact_uri: at most {MAX_ARTIFACT_URI_BYTES} bytes, without control characters"
            )));
        }
        if let Some(run_id) = &self.run_id {
            check_name("run_id", run_id).map_err(ApiError::invalid)?;
        }
        if self.metrics.len() > MAX_METRICS {
            return Err(ApiError::invalid(format!(
                "metrics: at most {MAX_METRICS} of them"
            )));
        }
        let mut metrics = std::collections::BTreeMap::new();
        for (name, value) in self.metrics {
            check_name("metrics", &name).map_err(ApiError::invalid)?;
            match value.as_f64().filter(|v| v.is_finite()) {
                Some(number) => metrics.insert(name, number),
                None => {
                    return Err(ApiError::invalid(format!(
                        "metrics.{name}: expected a finite number, got {value}"
                    )));
                }
            };
        }
        if let Some(window) = self.training_window
            && (window.start < 0 || window.end < window.start)
        {
            return Err(ApiError::invalid(format!(
                "training_window: {{\"start\": {}, \"end\": {}}} is not a range of record \
                 offsets (0 <= start <= end)",
                window.start, window.end
            )));
        }
        let metadata = match self.metadata {
            serde_json::Value::Null => serde_json::json!({}),
            object @ serde_json::Value::Object(_) => object,
            _ => return Err(ApiError::invalid("metadata: expected a JSON object")),
        };
        if metadata.to_string().len() > MAX_METADATA_BYTES {
            return Err(ApiError::invalid(format!(
                "metadata: at most {MAX_METADATA_BYTES} bytes of JSON"
            )));
        }
        Ok(vigil_store::NewVersion {
            version: self.version,
            artifact_uri: self.artifact_uri,
            metrics,
            training_window: self.training_window,
            run_id: self.run_id,
            created_by,
            metadata,
        })
    }
}

/// Registers a candidate: 201 with the version, or 200 with the stored one when its run
/// registered it before (a retried request). A `train` token registers only for its own run.
pub async fn create_version(
    State(state): State<AppState>,
    Path(model): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    let model = find_model(&state, &model).await?;
    let caller = request.extensions().get::<Caller>().cloned();
    let body = read_body(&state, request, 1 << 20).await?;
    let new: NewVersion = parse_json(&body)?;
    let created_by = match caller.as_ref().and_then(|c| c.scope.as_ref()) {
        Some(scope) => {
            if new.run_id.as_deref() != Some(scope.run_id.as_str()) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "this token registers only the version of run `{}`: set \
                         \"run_id\": \"{}\"",
                        scope.run_id, scope.run_id
                    ),
                ));
            }
            format!("run:{}", scope.run_id)
        }
        None => "api".into(),
    };
    let new = new.checked(created_by)?;
    Ok(match state.store.register_version(model.id, &new).await? {
        Registration::Created(version) => (StatusCode::CREATED, Json(version)).into_response(),
        Registration::Existing(version) => (StatusCode::OK, Json(version)).into_response(),
    })
}

pub async fn versions(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> ApiResult<Response> {
    let model = find_model(&state, &model).await?;
    let versions = state.store.model_versions(model.id).await?;
    Ok(Json(VersionList { versions }).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Serving {
    version: String,
}

pub async fn set_serving(
    State(state): State<AppState>,
    Path(model): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    let model = find_model(&state, &model).await?;
    let body = read_body(&state, request, 1 << 20).await?;
    let serving: Serving = parse_json(&body)?;
    if !state
        .store
        .set_serving_version(model.id, &serving.version)
        .await?
    {
        return Err(ApiError::invalid(format!(
            "version: `{}` is not a registered version of `{}`",
            serving.version, model.name
        )));
    }
    Ok(Json(find_model(&state, &model.name).await?).into_response())
}

/// The body's format from its `Content-Type`; 415 for anything else.
pub fn format_of(headers: &HeaderMap) -> ApiResult<Format> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Format::from_content_type(content_type).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type `{content_type}` is not accepted; send application/json, \
                 application/x-ndjson or text/csv"
            ),
        )
    })
}

pub fn record_error(error: RecordError) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_record",
        error.to_string(),
    )
}

/// Parses off the async threads when the body is large enough to matter.
async fn off_thread<T: Send + 'static>(
    size: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    if size < 64 << 10 {
        return Ok(work());
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("parser task: {e}")))
}

fn caller_id(request: &Request) -> String {
    request
        .extensions()
        .get::<Caller>()
        .map(|caller| caller.token_id.clone())
        .unwrap_or_default()
}

/// The caller's rate limit for ingestion (docs/reliability.md, U8).
fn check_rate(state: &AppState, request: &Request) -> ApiResult<()> {
    match request.extensions().get::<Caller>() {
        Some(caller) => state
            .rate_limits
            .check(&caller.token_id, rate_limit::Class::Ingest),
        None => Ok(()),
    }
}

/// Waits for an ingestion slot, before the body is read: past `ingest_max_in_flight`
/// requests, memory would grow with every client, so the next ones wait briefly and are then
/// told to come back (docs/reliability.md, D6). One token holds at most
/// `ingest_max_in_flight_per_token` of the slots, so a client that sends slowly (or a lot)
/// cannot take them all from the others.
async fn admit(state: &AppState, token: String) -> ApiResult<Admission> {
    let per_token = state.config.ingest_max_in_flight_per_token;
    let held = TokenSlot::take(&state.ingest_by_token, token, per_token).ok_or_else(|| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded",
            format!(
                "this token already has {per_token} ingestion requests in progress; wait for \
                 one to finish"
            ),
        )
    })?;
    let wait = std::time::Duration::from_millis(state.config.ingest_wait_ms);
    match tokio::time::timeout(wait, state.ingest_slots.clone().acquire_owned()).await {
        Ok(permit) => Ok(Admission {
            _slot: permit.expect("the semaphore is never closed"),
            _token: held,
        }),
        Err(_) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "overloaded",
            format!(
                "{} ingestion requests are already in progress; retry later",
                state.config.ingest_max_in_flight
            ),
        )),
    }
}

/// An ingestion request's slot, and its token's share.
struct Admission {
    _slot: tokio::sync::OwnedSemaphorePermit,
    _token: TokenSlot,
}

/// One of a token's in-flight ingestion requests; counted down when dropped.
pub struct TokenSlot {
    counts: Arc<Mutex<HashMap<String, usize>>>,
    token: String,
}

impl TokenSlot {
    fn take(
        counts: &Arc<Mutex<HashMap<String, usize>>>,
        token: String,
        max: usize,
    ) -> Option<TokenSlot> {
        let mut map = counts.lock().expect("token slots lock");
        let held = map.entry(token.clone()).or_insert(0);
        if *held >= max {
            return None;
        }
        *held += 1;
        Some(TokenSlot {
            counts: counts.clone(),
            token,
        })
    }
}

impl Drop for TokenSlot {
    fn drop(&mut self) {
        let mut map = self.counts.lock().expect("token slots lock");
        if let Some(held) = map.get_mut(&self.token) {
            *held -= 1;
            if *held == 0 {
                map.remove(&self.token);
            }
        }
    }
}

pub async fn ingest(
    State(state): State<AppState>,
    Path(model): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    check_rate(&state, &request)?;
    let _admission = admit(&state, caller_id(&request)).await?;
    let model = find_model(&state, &model).await?;
    let format = format_of(request.headers())?;
    let key = request
        .headers()
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 256)
                .map(str::to_string)
                .ok_or_else(|| {
                    ApiError::bad_request("Idempotency-Key: 1 to 256 visible characters")
                })
        })
        .transpose()?;
    let body = read_body(&state, request, state.config.ingest_body_limit).await?;
    let schema = state.schemas.get(&state.store, model.id).await?;
    let task = Task::parse(&model.task).unwrap_or(Task::Classification);
    let max_rows = state.config.ingest_max_rows;
    let parse_body = body.clone();
    let started = std::time::Instant::now();
    let batch = off_thread(body.len(), move || {
        ingest::parse_records(
            &parse_body,
            format,
            schema.as_deref(),
            task,
            max_rows,
            vigil_store::now_ms(),
        )
    })
    .await?
    .map_err(record_error)?;
    let digest = key.as_ref().map(|_| {
        let mut hasher = Sha256::new();
        hasher.update(format!("{format:?}\n"));
        hasher.update(&body);
        hasher.finalize().to_vec()
    });
    let idempotency = key
        .as_deref()
        .zip(digest.as_deref())
        .map(|(key, digest)| IdempotencyKey {
            key,
            request_sha256: digest,
        });
    let parsed = started.elapsed();
    let outcome = state
        .store
        .ingest(model.id, &batch, idempotency.as_ref())
        .await?;
    tracing::debug!(
        records = batch.len(),
        parse_ms = parsed.as_secs_f64() * 1e3,
        store_ms = (started.elapsed() - parsed).as_secs_f64() * 1e3,
        "ingested"
    );
    if !outcome.replayed {
        state
            .metrics
            .ingested_records
            .get_or_create(&ModelLabel {
                model: model.name.clone(),
            })
            .inc_by(outcome.accepted as u64);
        state.monitoring.wake();
    }
    Ok(Json(outcome).into_response())
}

pub async fn labels(
    State(state): State<AppState>,
    Path(model): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    check_rate(&state, &request)?;
    let _admission = admit(&state, caller_id(&request)).await?;
    let model = find_model(&state, &model).await?;
    let format = format_of(request.headers())?;
    let body = read_body(&state, request, state.config.ingest_body_limit).await?;
    let max_rows = state.config.ingest_max_rows;
    let task = Task::parse(&model.task).unwrap_or(Task::Classification);
    let parse_body = body.clone();
    let labels = off_thread(body.len(), move || {
        ingest::parse_labels(&parse_body, format, task, max_rows)
    })
    .await?
    .map_err(record_error)?;
    let outcome = state.store.upsert_labels(model.id, &labels).await?;
    state
        .metrics
        .ingested_labels
        .get_or_create(&ModelLabel {
            model: model.name.clone(),
        })
        .inc_by(outcome.stored as u64);
    Ok(Json(outcome).into_response())
}
