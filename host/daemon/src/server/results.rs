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

fn limit(requested: Option<i64>, default: i64) -> ApiResult<i64> {
    match requested.unwrap_or(default) {
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

/// The `before` of the next page, newest first: the last id of a full page.
fn next_before(page: &[vigil_store::Evaluation], limit: i64) -> Option<i64> {
    (page.len() as i64 == limit)
        .then(|| page.last().map(|e| e.id))
        .flatten()
}

pub async fn evaluations(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Response> {
    let monitor = find_monitor(&state, &name).await?;
    let limit = limit(page.limit, 50)?;
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
    let next = next_before(&evaluations, limit);
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
    let _running = one_of(&state.replays, super::REPLAYS_AT_ONCE, "replays")?;
    let report =
        crate::monitor::replay::replay(&state.store, &state.plugins, &evaluation, &wanted.plugins)
            .await
            .map_err(|error| rereading_failed(error, id, "replay"))?;
    Ok(Json(report).into_response())
}

/// A permit of `slots` (`at_once` of `what` at a time), or a `429` to retry in a few seconds.
fn one_of(
    slots: &std::sync::Arc<tokio::sync::Semaphore>,
    at_once: usize,
    what: &str,
) -> ApiResult<tokio::sync::OwnedSemaphorePermit> {
    slots.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            format!(
                "the daemon runs {at_once} {what} at a time, and they are all running; retry \
                 when one has finished"
            ),
        )
        .retry_after(std::time::Duration::from_secs(5))
    })
}

/// The answer when reading an evaluation's inputs again (to `doing` it) failed; internals stay
/// in the log.
fn rereading_failed(error: crate::monitor::replay::ReplayError, id: i64, doing: &str) -> ApiError {
    use crate::monitor::replay::ReplayError;
    match error {
        ReplayError::Invalid(message) => {
            ApiError::invalid(format!("cannot {doing} evaluation {id}: {message}"))
        }
        ReplayError::Gone(message) => ApiError::new(
            StatusCode::GONE,
            "gone",
            format!("cannot {doing} evaluation {id}: {message}"),
        ),
        ReplayError::Host(error) => {
            tracing::error!(evaluation = id, error = %format!("{error:#}"), "{doing} failed");
            ApiError::internal(format!(
                "cannot {doing} evaluation {id}; see the daemon's log"
            ))
        }
    }
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
        Ok((monitor_id, self.before, limit(self.limit, 50)?))
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

/// `GET /v1/monitors/{name}/timeline`: a page of windows, newest first.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    /// Only windows whose evaluation id is below this: pass `next_before` for older ones.
    before: Option<i64>,
    /// Windows in the page: 1 to 1000, default 200.
    limit: Option<i64>,
}

/// A monitor's windows as the dashboard draws them: per window, each column's statistic and
/// verdict, the decision, the metrics, and the alerts raised, computed on the server from the
/// stored evaluations so that the page stays small (docs/dashboard.md).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Timeline {
    /// The columns (and multivariate tests) in the order of each window's `cells`.
    pub columns: Vec<String>,
    /// The metrics in the order of each window's `metrics`.
    pub metrics: Vec<String>,
    /// Oldest first.
    pub windows: Vec<TimelineWindow>,
    /// The alerts the windows raised, oldest first.
    pub alerts: Vec<vigil_store::Alert>,
    /// Pass as `before` for the page of older windows; null on the oldest.
    pub next_before: Option<i64>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct TimelineWindow {
    /// The evaluation's id.
    pub id: i64,
    pub window_start: i64,
    pub window_end: i64,
    pub finished_at: i64,
    pub status: String,
    pub action: String,
    pub reason: String,
    /// Drifted columns over tested ones; null when none was tested.
    pub drifted_share: Option<f64>,
    /// One per entry of `columns`; null when the window did not test that column.
    pub cells: Vec<Option<TimelineCell>>,
    /// One per entry of `metrics`.
    pub metrics: Vec<Option<f64>>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct TimelineCell {
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    /// Null when the test failed.
    pub drifted: Option<bool>,
}

/// The parts of a stored evaluation record the timeline reads.
#[derive(Deserialize, Default)]
#[serde(default)]
struct StoredParts {
    columns: Vec<StoredColumn>,
    multivariate: Vec<StoredColumn>,
    metrics: Vec<StoredMetric>,
}

#[derive(Deserialize)]
struct StoredColumn {
    name: String,
    statistic: Option<f64>,
    p_value: Option<f64>,
    drifted: Option<bool>,
}

#[derive(Deserialize)]
struct StoredMetric {
    name: String,
    value: Option<f64>,
}

pub async fn timeline(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<TimelineQuery>,
) -> ApiResult<Response> {
    let monitor = find_monitor(&state, &name).await?;
    let limit = limit(query.limit, 200)?;
    let mut evaluations = state
        .store
        .evaluations(&EvaluationQuery {
            monitor_id: monitor.id,
            since: None,
            until: None,
            before_id: query.before,
            limit,
        })
        .await?;
    let next_before = next_before(&evaluations, limit);
    evaluations.reverse();
    let alerts = match (evaluations.first(), evaluations.last()) {
        (Some(oldest), Some(newest)) => {
            state
                .store
                .alerts_of_evaluations(monitor.id, oldest.id, newest.id)
                .await?
        }
        _ => Vec::new(),
    };

    let timeline = tokio::task::spawn_blocking(move || {
        let parts: Vec<StoredParts> = evaluations
            .iter()
            .map(|e| StoredParts::deserialize(&e.result).unwrap_or_default())
            .collect();
        let mut columns: Vec<String> = Vec::new();
        let mut metrics: Vec<String> = Vec::new();
        for part in &parts {
            for column in part.columns.iter().chain(&part.multivariate) {
                if !columns.contains(&column.name) {
                    columns.push(column.name.clone());
                }
            }
            for metric in &part.metrics {
                if !metrics.contains(&metric.name) {
                    metrics.push(metric.name.clone());
                }
            }
        }
        let windows = evaluations
            .into_iter()
            .zip(parts)
            .map(|(evaluation, part)| {
                let tested: Vec<&StoredColumn> = part
                    .columns
                    .iter()
                    .filter(|c| c.drifted.is_some())
                    .collect();
                let drifted = tested.iter().filter(|c| c.drifted == Some(true)).count();
                TimelineWindow {
                    id: evaluation.id,
                    window_start: evaluation.window_start,
                    window_end: evaluation.window_end,
                    finished_at: evaluation.finished_at,
                    status: evaluation.status,
                    action: evaluation.action,
                    reason: evaluation.reason,
                    drifted_share: (!tested.is_empty())
                        .then(|| drifted as f64 / tested.len() as f64),
                    cells: columns
                        .iter()
                        .map(|name| {
                            part.columns
                                .iter()
                                .chain(&part.multivariate)
                                .find(|c| &c.name == name)
                                .map(|c| TimelineCell {
                                    statistic: c.statistic,
                                    p_value: c.p_value,
                                    drifted: c.drifted,
                                })
                        })
                        .collect(),
                    metrics: metrics
                        .iter()
                        .map(|name| {
                            part.metrics
                                .iter()
                                .find(|m| &m.name == name)
                                .and_then(|m| m.value)
                        })
                        .collect(),
                }
            })
            .collect();
        Timeline {
            columns,
            metrics,
            windows,
            alerts,
            next_before,
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("timeline: {e}")))?;
    Ok(Json(timeline).into_response())
}

/// `GET /v1/whoami`: the caller's token, as the dashboard shows it.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct WhoAmI {
    /// The token's id (not its secret).
    pub token_id: String,
    pub role: super::auth::Role,
}

pub async fn whoami(
    axum::Extension(caller): axum::Extension<super::auth::Caller>,
) -> ApiResult<Response> {
    Ok(Json(WhoAmI {
        token_id: caller.token_id,
        role: caller.role,
    })
    .into_response())
}

/// `GET /v1/evaluations/{id}/distributions`: each feature of the window beside the reference,
/// binned for a plot.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Distributions {
    pub evaluation_id: i64,
    pub columns: Vec<ColumnDistribution>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ColumnDistribution {
    pub name: String,
    #[serde(flatten)]
    pub plot: crate::drift::plot::Plot,
}

pub async fn distributions(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let evaluation = state
        .store
        .evaluation(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no evaluation {id}")))?;
    // A read token may ask for this, and each reads a window and a reference of up to a
    // million rows: a few at a time, like replays.
    let _running = one_of(
        &state.distributions,
        super::DISTRIBUTIONS_AT_ONCE,
        "distribution reads",
    )?;
    let plots = crate::monitor::distributions::distributions(&state.store, &evaluation)
        .await
        .map_err(|error| rereading_failed(error, id, "plot"))?;
    Ok(Json(Distributions {
        evaluation_id: id,
        columns: plots
            .into_iter()
            .map(|(name, plot)| ColumnDistribution { name, plot })
            .collect(),
    })
    .into_response())
}
