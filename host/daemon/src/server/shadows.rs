//! `/v1/monitors/{name}/shadows`: run a candidate plugin version beside the one a monitor pins,
//! compare them window by window, then promote the candidate or drop it (docs/monitors.md,
//! "Trying a plugin version in shadow"). A shadow's comparison is kept after it ends.

use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::models::parse_json;
use super::monitors::{find_monitor, resolve};
use super::{AppState, read_body};
use crate::monitor::shadow::compare::{Comparison, Summary, WindowComparison};
use crate::monitor::shadow::{shadow_spec, tally_of};
use crate::monitor::spec::MonitorSpec;
use vigil_store::{Monitor, NewShadow, Shadow};

/// Largest request body: a plugin name and version, and the candidate's settings (as large as
/// the other JSON routes allow).
const BODY_LIMIT: usize = 1 << 20;

/// The body of `POST /v1/monitors/{name}/shadows`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartShadow {
    /// The candidate: `name@version`, or `name` for its newest stored version.
    pub plugin: String,
    /// The plugin (by name) whose references in the monitor's spec the candidate stands in
    /// for; the candidate's own name when absent (a new version of a pinned plugin).
    #[serde(default)]
    pub replaces: Option<String>,
    /// The candidate's settings; those of the references it replaces when absent.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
}

/// A shadow, and its windows summarised.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ShadowView {
    #[serde(flatten)]
    pub shadow: Shadow,
    pub monitor: String,
    pub summary: Summary,
}

/// `GET /v1/monitors/{name}/shadows`, newest first.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ShadowList {
    pub shadows: Vec<ShadowView>,
}

/// `GET /v1/monitors/{name}/shadows/{id}`: the shadow, its summary and a page of its windows,
/// newest first.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ShadowReport {
    #[serde(flatten)]
    pub view: ShadowView,
    pub windows: Vec<WindowComparison>,
    /// Pass as `before` for the next page (a window's start offset); null on the last.
    pub next_before: Option<i64>,
}

/// Which windows of a shadow to show.
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct WindowPage {
    /// Only windows starting before this stream offset: the `next_before` of a page.
    before: Option<i64>,
    /// At most this many (1 to 1000, 50 by default).
    limit: Option<i64>,
}

fn stored_spec(monitor: &Monitor) -> ApiResult<MonitorSpec> {
    serde_json::from_str(&monitor.spec).map_err(|e| ApiError::internal(format!("stored spec: {e}")))
}

async fn find_shadow(state: &AppState, monitor: &Monitor, id: i64) -> ApiResult<Shadow> {
    state.store.shadow(monitor.id, id).await?.ok_or_else(|| {
        ApiError::not_found(format!("monitor `{}` has no shadow {id}", monitor.name))
    })
}

/// The summary of all of a shadow's windows, as stored with its last one.
fn summary(shadow: &Shadow) -> ApiResult<Summary> {
    Ok(tally_of(shadow)
        .map_err(|e| ApiError::internal(format!("shadow {}: {e:#}", shadow.id)))?
        .summary())
}

fn view(monitor: &Monitor, shadow: Shadow) -> ApiResult<ShadowView> {
    Ok(ShadowView {
        summary: summary(&shadow)?,
        monitor: monitor.name.clone(),
        shadow,
    })
}

pub async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .map(|c| c.token_id.clone());
    let monitor = find_monitor(&state, &name).await?;
    let body = read_body(&state, request, BODY_LIMIT).await?;
    let asked: StartShadow = parse_json(&body)?;
    let (name_asked, version_asked) = asked.plugin.split_once('@').unwrap_or((&asked.plugin, ""));
    let stored = state.store.plugins().await?;
    let versions = stored.iter().filter(|p| p.name == name_asked);
    let candidate = if version_asked.is_empty() {
        crate::vocab::newest_version(versions, |p| &p.version)
    } else {
        versions.into_iter().find(|p| p.version == version_asked)
    }
    .ok_or_else(|| ApiError::invalid(format!("plugin: no uploaded plugin {}", asked.plugin)))?;
    let candidate = format!("{}@{}", candidate.name, candidate.version);
    let replaces = asked.replaces.as_deref().unwrap_or(name_asked);
    let spec = stored_spec(&monitor)?;
    if spec
        .pinned_plugins()
        .iter()
        .any(|(name, version)| name == replaces && format!("{name}@{version}") == candidate)
    {
        return Err(ApiError::invalid(format!(
            "plugin: the monitor pins {candidate} already; a shadow runs another version"
        )));
    }
    let shadow = shadow_spec(&spec, replaces, &candidate, asked.config.as_ref())
        .map_err(|e| ApiError::invalid(format!("replaces: {e}")))?;
    // The candidate must fit where it goes (its kind, its settings) and beside the monitors
    // and shadows already running (its plugin instances).
    resolve(&state, shadow, None)
        .await
        .map_err(|error| ApiError {
            message: format!("the shadow cannot run: {}", error.message),
            ..error
        })?;
    let (plugin_name, plugin_version) = candidate.split_once('@').expect("pinned");
    let config = asked.config.as_ref().map(|c| c.to_string());
    let shadow = state
        .store
        .create_shadow(&NewShadow {
            monitor_id: monitor.id,
            plugin_name,
            plugin_version,
            replaces,
            config: config.as_deref(),
            created_by: caller.as_deref(),
        })
        .await?;
    tracing::info!(monitor = %monitor.name, shadow = shadow.id, candidate = %shadow.plugin, replaces = %shadow.replaces, "shadow started");
    Ok((StatusCode::CREATED, Json(view(&monitor, shadow)?)).into_response())
}

pub async fn list(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    let monitor = find_monitor(&state, &name).await?;
    let mut shadows = Vec::new();
    for shadow in state.store.shadows(monitor.id).await? {
        shadows.push(view(&monitor, shadow)?);
    }
    Ok(Json(ShadowList { shadows }).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, i64)>,
    Query(page): Query<WindowPage>,
) -> ApiResult<Response> {
    let limit = match page.limit.unwrap_or(50) {
        n @ 1..=1000 => n,
        _ => return Err(ApiError::invalid("limit: between 1 and 1000")),
    };
    let monitor = find_monitor(&state, &name).await?;
    let shadow = find_shadow(&state, &monitor, id).await?;
    let comparison = Comparison {
        replaces: &shadow.replaces,
        candidate: &shadow.plugin,
    };
    let stored = state
        .store
        .shadow_windows(shadow.id, page.before, limit)
        .await?;
    let windows: Vec<WindowComparison> = stored.iter().map(|w| comparison.window(w)).collect();
    let next_before = (stored.len() as i64 == limit)
        .then(|| stored.last().map(|w| w.window_start))
        .flatten();
    let view = view(&monitor, shadow)?;
    Ok(Json(ShadowReport {
        view,
        windows,
        next_before,
    })
    .into_response())
}

/// Pins the candidate in the monitor's spec (a new revision) and ends the shadow as
/// `promoted`, in one transaction.
pub async fn promote(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, i64)>,
) -> ApiResult<Response> {
    let monitor = find_monitor(&state, &name).await?;
    let shadow = find_shadow(&state, &monitor, id).await?;
    if shadow.status != vigil_store::SHADOW_RUNNING {
        return Err(ApiError::conflict(format!(
            "shadow {id} is {} already",
            shadow.status
        )));
    }
    let spec = shadow_spec(
        &stored_spec(&monitor)?,
        &shadow.replaces,
        &shadow.plugin,
        shadow.config.as_ref(),
    )
    .map_err(|e| ApiError::conflict(format!("the shadow cannot be promoted: {e}")))?;
    let spec = resolve(&state, spec, Some(monitor.id)).await?;
    let revision = state
        .store
        .promote_shadow(
            shadow.id,
            monitor.id,
            monitor.revision,
            &serde_json::to_string(&spec).expect("spec serialises"),
            &spec.pinned_plugins(),
        )
        .await?;
    state.monitoring.invalidate(monitor.id);
    state.monitoring.wake();
    tracing::info!(monitor = %monitor.name, shadow = id, candidate = %shadow.plugin, revision, "shadow promoted");
    let shadow = find_shadow(&state, &monitor, id).await?;
    Ok(Json(view(&monitor, shadow)?).into_response())
}

/// Ends the shadow as `dropped`; the monitor is unchanged.
pub async fn drop_shadow(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, i64)>,
) -> ApiResult<Response> {
    let monitor = find_monitor(&state, &name).await?;
    let shadow = find_shadow(&state, &monitor, id).await?;
    if !state.store.drop_shadow(shadow.id).await? {
        return Err(ApiError::conflict(format!(
            "shadow {id} is {} already",
            shadow.status
        )));
    }
    state.monitoring.invalidate_shadows(monitor.id);
    tracing::info!(monitor = %monitor.name, shadow = id, candidate = %shadow.plugin, "shadow dropped");
    let shadow = find_shadow(&state, &monitor, id).await?;
    Ok(Json(view(&monitor, shadow)?).into_response())
}
