//! Promotions and rollbacks by hand: `POST /v1/models/{model}/versions/{version}/promote` and
//! `POST /v1/models/{model}/rollback`. Each becomes an action of the monitor that rolls the
//! model out (the one named, else the model's monitor with `actions.rollout`), run like a
//! policy's decision and listed in `/v1/actions`; `force` skips the promotion gate.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use vigil_store::Monitor;

use super::error::{ApiError, ApiResult};
use super::models::{find_model, parse_json};
use super::{AppState, read_body};
use crate::monitor::act::{PROMOTE, ROLLBACK};
use crate::monitor::spec::MonitorSpec;

/// The action a promotion or rollback by hand started; follow it at `GET /v1/actions`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ActionStarted {
    pub action: vigil_store::Action,
}

#[derive(Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ByHand {
    /// The monitor whose rollout target to use; the model's one with a target when absent.
    #[serde(default)]
    monitor: Option<String>,
    /// Skip the promotion gate.
    #[serde(default)]
    force: bool,
    #[serde(default)]
    reason: String,
}

pub async fn promote(
    State(state): State<AppState>,
    Path((model, version)): Path<(String, String)>,
    request: Request,
) -> ApiResult<Response> {
    let asked = asked(&state, request).await?;
    let model = find_model(&state, &model).await?;
    if state
        .store
        .model_version(model.id, &version)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(format!(
            "no version `{version}` of `{}`",
            model.name
        )));
    }
    let input =
        json!({"version": version, "force": asked.force, "reason": asked.reason, "by": "api"});
    start(&state, &model, asked.monitor.as_deref(), PROMOTE, input).await
}

pub async fn rollback(
    State(state): State<AppState>,
    Path(model): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    let asked = asked(&state, request).await?;
    let model = find_model(&state, &model).await?;
    let input = json!({"reason": asked.reason, "by": "api"});
    start(&state, &model, asked.monitor.as_deref(), ROLLBACK, input).await
}

async fn asked(state: &AppState, request: Request) -> ApiResult<ByHand> {
    let body = read_body(state, request, 1 << 16).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ByHand::default());
    }
    let asked: ByHand = parse_json(&body)?;
    if asked.reason.chars().count() > 1000 {
        return Err(ApiError::invalid("reason: at most 1000 characters"));
    }
    Ok(asked)
}

/// Records the action under the monitor that rolls the model out and starts it; 202 with the
/// action, whose state and outcome `/v1/actions` shows as it goes.
async fn start(
    state: &AppState,
    model: &vigil_store::Model,
    named: Option<&str>,
    kind: &str,
    input: serde_json::Value,
) -> ApiResult<Response> {
    let monitor = rolling_monitor(state, model, named).await?;
    let key = format!(
        "model/{}/{kind}/{}/{}",
        model.id,
        vigil_store::now_ms(),
        uuid::Uuid::new_v4().simple()
    );
    let action = state
        .store
        .insert_action(monitor.id, kind, &key, &input)
        .await?;
    state
        .monitoring
        .actor()
        .run_recorded(&monitor, action.clone())
        .await
        .map_err(|e| ApiError::internal(format!("{e:#}")))?;
    Ok((StatusCode::ACCEPTED, Json(ActionStarted { action })).into_response())
}

async fn rolling_monitor(
    state: &AppState,
    model: &vigil_store::Model,
    named: Option<&str>,
) -> ApiResult<Monitor> {
    let monitors = state.store.monitors().await?;
    let mut of_model = monitors.into_iter().filter(|m| m.model_id == model.id);
    let found = match named {
        Some(name) => of_model.find(|m| m.name == name),
        None => of_model.find(|m| {
            serde_json::from_str::<MonitorSpec>(&m.spec).is_ok_and(|s| s.actions.rollout.is_some())
        }),
    };
    found.ok_or_else(|| {
        ApiError::invalid(match named {
            Some(name) => format!("monitor: `{name}` is not a monitor of `{}`", model.name),
            None => format!(
                "no monitor of `{}` has `actions.rollout`, so Vigil does not roll it out; \
                 `PUT /v1/models/{}/serving` records what serves it",
                model.name, model.name
            ),
        })
    })
}
