//! Results (evaluations, status, alerts), replay, and token management.

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vigil_store::EvaluationQuery;

use super::auth::{create_token as new_token, mintable_role};
use super::error::{ApiError, ApiResult};
use super::models::parse_json;
use super::monitors::find_monitor;
use super::{AppState, read_body};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// Unix ms: only evaluations finished at or after.
    since: Option<i64>,
    /// Unix ms: only evaluations finished before.
    until: Option<i64>,
    /// Only ids below this: pass the last id of a page to get the next.
    before: Option<i64>,
    limit: Option<i64>,
}

fn limit(requested: Option<i64>) -> ApiResult<i64> {
    match requested.unwrap_or(50) {
        n @ 1..=1000 => Ok(n),
        _ => Err(ApiError::invalid("limit: between 1 and 1000")),
    }
}

/// A page of a monitor's evaluations, newest first.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct EvaluationPage {
    pub evaluations: Vec<vigil_store::Evaluation>,
    /// Pass as `before` for the next page; null on the last.
    pub next_before: Option<i64>,
}

/// `GET /v1/alerts`, newest first.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct AlertList {
    pub alerts: Vec<vigil_store::Alert>,
}

/// `GET /v1/actions`, newest first.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ActionList {
    pub actions: Vec<vigil_store::Action>,
}

/// A new token: the only time its secret is shown.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct NewTokenAnswer {
    pub id: String,
    pub name: String,
    pub role: super::auth::Role,
    /// The bearer token. Shown once; the daemon keeps only its hash.
    pub token: String,
}

pub async fn evaluations(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Response> {
    let monitor = find_monitor(&state, &name).await?;
    let limit = limit(page.limit)?;
    let evaluations = state
        .store
        .evaluations(&EvaluationQuery {
            monitor_id: monitor.id,
            since: page.since,
            until: page.until,
            before_id: page.before,
            limit,
        })
        .await?;
    let next = (evaluations.len() as i64 == limit)
        .then(|| evaluations.last().map(|e| e.id))
        .flatten();
    let evaluations: Vec<_> = evaluations.into_iter().map(redacted).collect();
    Ok(Json(EvaluationPage {
        evaluations,
        next_before: next,
    })
    .into_response())
}

pub async fn evaluation(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let evaluation = state
        .store
        .evaluation(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no evaluation {id}")))?;
    Ok(Json(redacted(evaluation)).into_response())
}

/// An evaluation as the API shows it: the spec it ran with, without webhook secrets (stored
/// before they were kept out of evaluations).
fn redacted(mut evaluation: vigil_store::Evaluation) -> vigil_store::Evaluation {
    if let Some(spec) = evaluation.result.get_mut("spec") {
        crate::monitor::spec::redact(spec);
    }
    evaluation
}

#[derive(Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayRequest {
    /// `name@version` to use instead of the stored version of that plugin.
    #[serde(default)]
    plugins: Vec<String>,
}

pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    request: Request,
) -> ApiResult<Response> {
    let body = read_body(&state, request, 1 << 20).await?;
    let wanted: ReplayRequest = if body.is_empty() {
        ReplayRequest::default()
    } else {
        parse_json(&body)?
    };
    let evaluation = state
        .store
        .evaluation(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no evaluation {id}")))?;
    let Ok(_running) = state.replays.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "busy",
            format!(
                "the daemon runs {} replays at a time, and they are all running; retry when \
                 one has finished",
                super::REPLAYS_AT_ONCE
            ),
        )
        .retry_after(std::time::Duration::from_secs(5)));
    };
    use crate::monitor::replay::{ReplayError, replay};
    let report = replay(&state.store, &state.plugins, &evaluation, &wanted.plugins)
        .await
        .map_err(|error| match error {
            ReplayError::Invalid(message) => {
                ApiError::invalid(format!("cannot replay evaluation {id}: {message}"))
            }
            ReplayError::Gone(message) => ApiError::new(
                StatusCode::GONE,
                "gone",
                format!("cannot replay evaluation {id}: {message}"),
            ),
            // Internals stay in the log.
            ReplayError::Host(error) => {
                tracing::error!(evaluation = id, error = %format!("{error:#}"), "replay failed");
                ApiError::internal(format!(
                    "cannot replay evaluation {id}; see the daemon's log"
                ))
            }
        })?;
    Ok(Json(report).into_response())
}

pub async fn status(State(state): State<AppState>) -> ApiResult<Response> {
    let report = state
        .monitoring
        .status()
        .await
        .map_err(|e| ApiError::internal(format!("{e:#}")))?;
    Ok(Json(report).into_response())
}

/// A page of a listing newest first, of one monitor's items or of all:
/// `?monitor=NAME&before=ID&limit=N`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorPage {
    monitor: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

impl MonitorPage {
    /// The monitor's id (404 for an unknown name), before-id and limit, checked.
    async fn resolve(&self, state: &AppState) -> ApiResult<(Option<i64>, Option<i64>, i64)> {
        let monitor_id = match &self.monitor {
            Some(name) => Some(find_monitor(state, name).await?.id),
            None => None,
        };
        Ok((monitor_id, self.before, limit(self.limit)?))
    }
}

pub async fn alerts(
    State(state): State<AppState>,
    Query(page): Query<MonitorPage>,
) -> ApiResult<Response> {
    let (monitor_id, before, limit) = page.resolve(&state).await?;
    let alerts = state.store.alerts(monitor_id, before, limit).await?;
    Ok(Json(AlertList { alerts }).into_response())
}

/// Actions (alert deliveries, retrainings), newest first.
pub async fn actions(
    State(state): State<AppState>,
    Query(page): Query<MonitorPage>,
) -> ApiResult<Response> {
    let (monitor_id, before, limit) = page.resolve(&state).await?;
    let actions = state.store.actions(monitor_id, before, limit).await?;
    Ok(Json(ActionList { actions }).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewToken {
    name: String,
    role: String,
}

pub async fn create_token(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let body = read_body(&state, request, 1 << 16).await?;
    let wanted: NewToken = parse_json(&body)?;
    crate::server::auth::check_token_name(&wanted.name).map_err(ApiError::invalid)?;
    let role = mintable_role(&wanted.role).map_err(|e| ApiError::invalid(format!("role: {e}")))?;
    let token = new_token(&state.store, &wanted.name, role).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewTokenAnswer {
            id: token.id,
            name: wanted.name,
            role,
            token: token.text,
        }),
    )
        .into_response())
}

pub async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if state.store.revoke_token(&id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no live token {id}")))
    }
}
