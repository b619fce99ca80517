//! `/v1/monitors`: create, read, update and delete monitors, and upload their reference.
//!
//! A monitor is stored with every plugin pinned to a version (the newest stored one when the
//! spec names none), so its evaluations stay reproducible when newer versions are uploaded.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use super::models::{find_model, format_of, parse_json, record_error};
use super::{AppState, read_body};
use crate::ingest;
use crate::monitor::prepare::{Reservation, keep_at_most};
use crate::monitor::spec::{FeatureKind, MonitorSpec, Role};
use crate::vocab::{Format, Task};
use vigil_store::{Monitor, NewMonitor};

/// Most rows in an uploaded reference.
const REFERENCE_MAX_ROWS: usize = 1_000_000;

fn role_kind(role: Role) -> &'static str {
    match role {
        Role::Preprocessor => "preprocessor",
        Role::DriftTest => "drift-test",
        Role::Detector => "detector",
        Role::Policy => "policy",
        Role::MultivariateDriftTest => "multivariate-drift-test",
    }
}

/// Validates a spec against the store and pins every plugin to a version. `this` is the
/// monitor the spec replaces; with none, the spec is checked as one more pipeline beside every
/// monitor's (a new monitor, or a shadow of one).
pub(crate) async fn resolve(
    state: &AppState,
    mut spec: MonitorSpec,
    this: Option<i64>,
) -> ApiResult<MonitorSpec> {
    spec.validate().map_err(ApiError::invalid)?;
    spec.actions
        .allowed_by(&state.config)
        .map_err(ApiError::invalid)?;
    let (defaults, maxima) = state.config.plugin_limits();
    for (field, plugin) in spec.plugin_refs() {
        plugin
            .effective_limits(defaults, maxima)
            .map_err(|error| ApiError::invalid(format!("{field}: {error}")))?;
    }
    let max_features = state.config.max_features_per_monitor;
    if spec.features.len() > max_features {
        return Err(ApiError::invalid(format!(
            "features: {} features, but a monitor may watch at most {max_features} \
             (the daemon's `max_features_per_monitor`); split them over several monitors",
            spec.features.len()
        )));
    }
    let model = state
        .store
        .model(&spec.model)
        .await?
        .ok_or_else(|| ApiError::invalid(format!("model: no model named `{}`", spec.model)))?;
    spec.fill_defaults();
    let stored = state.store.plugins().await?;
    let mut pinned = Vec::new();
    for (field, plugin, role) in spec.plugin_refs_with_roles() {
        let (name, version) = plugin.parts();
        let candidates = stored.iter().filter(|p| p.name == name);
        let found = if version.is_empty() {
            crate::vocab::newest_version(candidates, |p| &p.version)
        } else {
            candidates.into_iter().find(|p| p.version == version)
        };
        let Some(found) = found else {
            return Err(ApiError::invalid(format!(
                "{field}.plugin: no uploaded plugin {}",
                plugin.plugin
            )));
        };
        if found.kind != role_kind(role) {
            return Err(ApiError::invalid(format!(
                "{field}.plugin: {}@{} is a {} plugin, expected a {}",
                found.name,
                found.version,
                found.kind,
                role_kind(role)
            )));
        }
        let pin = format!("{}@{}", found.name, found.version);
        check_settings(&field, &pin, &plugin.config, &found.info["config_schema"])?;
        pinned.push(pin);
    }
    let mut pinned = pinned.into_iter();
    let refs = spec.plugin_refs_mut();
    for plugin in refs {
        plugin.plugin = pinned.next().expect("one pin per reference");
    }
    check_column_kinds(state, &spec).await?;
    if let Some(i) = spec
        .pipeline
        .detectors
        .iter()
        .position(|d| d.column == "prediction")
        && model.task != "regression"
    {
        return Err(ApiError::invalid(format!(
            "pipeline.detectors[{i}].column: `prediction` of the {} model `{}` is a class, \
             and detectors take numbers; watch a numeric feature instead",
            model.task, model.name
        )));
    }
    if spec.estimated_performance.is_some() && model.task != "classification" {
        return Err(ApiError::invalid(format!(
            "estimated_performance: the {} model `{}` is not a classifier; performance is \
             estimated from the probabilities of a binary classifier",
            model.task, model.name
        )));
    }
    let mut reserved: u64 = 0;
    for other in state.store.monitors().await? {
        // Each running shadow of a monitor reserves what the monitor does.
        let shadows = state.store.running_shadows(other.id).await?.len() as u64;
        if Some(other.id) == this {
            reserved += shadows * u64::from(reservation(state, &spec).slots);
            continue;
        }
        let other_spec: MonitorSpec = serde_json::from_str(&other.spec)
            .map_err(|e| ApiError::internal(format!("stored spec: {e}")))?;
        reserved += (1 + shadows) * u64::from(reservation(state, &other_spec).slots);
        // Records are checked against every monitor of the model: types must agree.
        if other.model_id != model.id {
            continue;
        }
        for (i, feature) in spec.features.iter().enumerate() {
            if let Some(theirs) = other_spec.features.iter().find(|f| f.name == feature.name)
                && theirs.kind != feature.kind
            {
                return Err(ApiError::invalid(format!(
                    "features[{i}].type: monitor `{}` declares `{}` as {}",
                    other.name,
                    feature.name,
                    theirs.kind.name()
                )));
            }
        }
    }
    check_capacity(state, &spec, reserved)?;
    Ok(spec)
}

/// A plugin's settings must be ones it has: the keys of `config` are checked against the
/// properties of the plugin's config schema when the schema allows no others, so that a
/// misspelt setting is refused now rather than failing (or being ignored) at the first window.
fn check_settings(
    field: &str,
    plugin: &str,
    config: &serde_json::Value,
    schema: &serde_json::Value,
) -> ApiResult<()> {
    let (Some(config), Some(properties)) = (
        config.as_object(),
        schema.get("properties").and_then(|p| p.as_object()),
    ) else {
        return Ok(());
    };
    if schema.get("additionalProperties") != Some(&serde_json::Value::Bool(false)) {
        return Ok(());
    }
    if let Some(unknown) = config.keys().find(|key| !properties.contains_key(*key)) {
        let mut known: Vec<&str> = properties.keys().map(String::as_str).collect();
        known.sort();
        return Err(ApiError::invalid(format!(
            "{field}.config.{unknown}: {plugin} has no setting `{unknown}` (its settings: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    Ok(())
}

/// Each feature's drift test must accept the feature's kind (a numeric test for a
/// categorical feature would fail every window).
async fn check_column_kinds(state: &AppState, spec: &MonitorSpec) -> ApiResult<()> {
    for feature in &spec.features {
        let Some(test) = spec.test_for(feature) else {
            continue;
        };
        let plugin = state
            .plugins
            .get(&test.plugin)
            .await
            .map_err(|e| ApiError::internal(format!("loading {}: {e:#}", test.plugin)))?;
        let kind = match feature.kind {
            FeatureKind::Numeric => vigil_runtime::ColumnKind::Numeric,
            FeatureKind::Categorical => vigil_runtime::ColumnKind::Categorical,
        };
        if !plugin.info().column_kinds.contains(&kind) {
            return Err(ApiError::invalid(format!(
                "features: `{}` is {}, and its drift test {} does not take {} columns; \
                 choose another in pipeline.columns.{}",
                feature.name,
                feature.kind.name(),
                test.plugin,
                feature.kind.name(),
                feature.name
            )));
        }
    }
    Ok(())
}

/// What the monitor reserves when it runs (see `Reservation`).
fn reservation(state: &AppState, spec: &MonitorSpec) -> Reservation {
    let runtime = state.plugins.runtime().config();
    Reservation::of(
        spec,
        keep_at_most(runtime, state.config.plugin_instances_per_monitor),
    )
}

/// Each monitor reserves the plugin instances it needs (see `Reservation`); one that does not
/// fit beside the others is refused, rather than starving them at run time.
fn check_capacity(state: &AppState, spec: &MonitorSpec, reserved: u64) -> ApiResult<()> {
    let config = state.plugins.runtime().config();
    let available = u64::from(keep_at_most(config, u32::MAX));
    let needed = u64::from(reservation(state, spec).slots);
    if reserved + needed > available {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "capacity",
            format!(
                "this monitor needs {needed} plugin instances (one per tested feature and \
                 preprocessor, plus one), but the other monitors and shadows reserve \
                 {reserved} of the {available} the daemon has for monitors; raise \
                 `plugin_instances` (now {}) or watch fewer features",
                config.pooled_instances
            ),
        ));
    }
    Ok(())
}

/// A monitor as the API shows it: its stored spec (every plugin pinned, secrets hidden) and
/// where its next window starts.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct MonitorView {
    pub id: i64,
    pub name: String,
    /// Counts the changes to its spec or reference.
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The model's stream offset where the next window starts; null before the first.
    pub next_offset: Option<i64>,
    #[schemars(with = "MonitorSpec")]
    pub spec: serde_json::Value,
    /// Rows of the reference uploaded with this request, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_rows: Option<usize>,
}

/// `GET /v1/monitors`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct MonitorList {
    pub monitors: Vec<MonitorView>,
}

/// The body of `POST /v1/monitors`, as [`parse_monitor_request`] reads it: a spec, and
/// optionally the reference rows in any ingestion format.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
pub(crate) struct CreateMonitor {
    #[serde(flatten)]
    spec: MonitorSpec,
    reference_upload: Option<ReferenceUpload>,
}

/// What `PUT /v1/monitors/{name}/reference` stored.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ReferenceStored {
    pub monitor: String,
    pub revision: i64,
    pub reference_rows: usize,
}

async fn view(state: &AppState, monitor: &Monitor) -> ApiResult<MonitorView> {
    let mut spec: serde_json::Value = serde_json::from_str(&monitor.spec)
        .map_err(|e| ApiError::internal(format!("stored spec: {e}")))?;
    crate::monitor::spec::redact(&mut spec);
    let position = state.store.monitor_state(monitor.id).await?;
    Ok(MonitorView {
        id: monitor.id,
        name: monitor.name.clone(),
        revision: monitor.revision,
        created_at: monitor.created_at,
        updated_at: monitor.updated_at,
        next_offset: position.map(|p| p.next_offset),
        spec,
        reference_rows: None,
    })
}

pub async fn find_monitor(state: &AppState, name: &str) -> ApiResult<Monitor> {
    state
        .store
        .monitor(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no monitor named `{name}`")))
}

/// A monitor as `POST /v1/monitors` and `PUT /v1/monitors/{name}` take it: the spec, and
/// optionally its reference rows, stored with it in the same transaction so that a reference
/// that is refused leaves nothing behind:
/// `"reference_upload": {"content_type": "text/csv", "body": "id,x\n…"}` (any ingestion format).
struct MonitorRequest {
    spec: MonitorSpec,
    reference: Option<(Format, String)>,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReferenceUpload {
    content_type: String,
    body: String,
}

fn parse_monitor_request(body: &[u8]) -> ApiResult<MonitorRequest> {
    let mut value: serde_json::Value = parse_json(body)?;
    let upload = value
        .as_object_mut()
        .and_then(|fields| fields.remove("reference_upload"));
    let spec: MonitorSpec = serde_json::from_value(value)
        .map_err(|e| ApiError::invalid(format!("invalid monitor: {e}")))?;
    let reference = upload
        .map(|upload| {
            let upload: ReferenceUpload = serde_json::from_value(upload)
                .map_err(|e| ApiError::invalid(format!("reference_upload: {e}")))?;
            let format = Format::from_content_type(&upload.content_type).ok_or_else(|| {
                ApiError::invalid(format!(
                    "reference_upload.content_type: `{}` is not text/csv, application/json or \
                     application/x-ndjson",
                    upload.content_type
                ))
            })?;
            Ok::<_, ApiError>((format, upload.body))
        })
        .transpose()?;
    Ok(MonitorRequest { spec, reference })
}

/// Parses reference rows for `spec` off the async threads: the encoded batch and its rows.
async fn parse_reference(
    spec: &MonitorSpec,
    model: &vigil_store::Model,
    format: Format,
    body: impl AsRef<[u8]> + Send + 'static,
) -> ApiResult<(Vec<u8>, usize)> {
    let schema: Vec<_> = spec
        .features
        .iter()
        .map(|f| (f.name.clone(), f.kind))
        .collect();
    let task = Task::parse(&model.task).unwrap_or(Task::Classification);
    let batch = tokio::task::spawn_blocking(move || {
        ingest::parse_records(
            body.as_ref(),
            format,
            Some(&schema),
            task,
            REFERENCE_MAX_ROWS,
            vigil_store::now_ms(),
        )
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(record_error)?;
    Ok((batch.encode(), batch.len()))
}

/// A monitor whose reference is a frozen range of its records never reads an upload.
fn refuse_upload_with_range(spec: &MonitorSpec) -> ApiResult<()> {
    match spec.reference {
        Some(range) => Err(ApiError::invalid(format!(
            "this monitor's reference is the records {}..{} of its model (`reference` in its \
             spec); remove that to upload one",
            range.start, range.end
        ))),
        None => Ok(()),
    }
}

/// Largest monitor request: a spec with its reference rows.
fn request_limit(state: &AppState) -> usize {
    state.config.ingest_body_limit.saturating_mul(16)
}

pub async fn create(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let body = read_body(&state, request, request_limit(&state)).await?;
    let MonitorRequest { spec, reference } = parse_monitor_request(&body)?;
    drop(body);
    let mut spec = resolve(&state, spec, None).await?;
    spec.restore_credentials(None).map_err(ApiError::invalid)?;
    let model = find_model(&state, &spec.model).await?;
    let reference = match reference {
        Some((format, text)) => {
            refuse_upload_with_range(&spec)?;
            Some(parse_reference(&spec, &model, format, text).await?)
        }
        None => None,
    };
    // The model's schema is dropped as this handler ends, however it ends.
    let _change = state.schemas.changing(model.id);
    let monitor = state
        .store
        .create_monitor(&NewMonitor {
            name: &spec.name,
            model_id: model.id,
            spec: &serde_json::to_string(&spec).expect("spec serialises"),
            reference: reference.as_ref().map(|(encoded, _)| encoded.as_slice()),
            plugins: &spec.pinned_plugins(),
            start_offset: model.record_count,
        })
        .await?;
    state.monitoring.wake();
    let mut view = view(&state, &monitor).await?;
    if let Some((_, rows)) = reference {
        view.reference_rows = Some(rows);
    }
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn list(State(state): State<AppState>) -> ApiResult<Response> {
    let mut monitors = Vec::new();
    for monitor in state.store.monitors().await? {
        monitors.push(view(&state, &monitor).await?);
    }
    Ok(Json(MonitorList { monitors }).into_response())
}

pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Response> {
    let monitor = find_monitor(&state, &name).await?;
    Ok(Json(view(&state, &monitor).await?).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    let monitor = find_monitor(&state, &name).await?;
    let body = read_body(&state, request, request_limit(&state)).await?;
    let MonitorRequest { spec, reference } = parse_monitor_request(&body)?;
    drop(body);
    if spec.name != monitor.name {
        return Err(ApiError::invalid("name: a monitor cannot be renamed"));
    }
    let mut spec = resolve(&state, spec, Some(monitor.id)).await?;
    let old: MonitorSpec = serde_json::from_str(&monitor.spec)
        .map_err(|e| ApiError::internal(format!("stored spec: {e}")))?;
    spec.restore_credentials(Some(&old))
        .map_err(ApiError::invalid)?;
    if old.model != spec.model {
        return Err(ApiError::invalid(
            "model: a monitor cannot move to another model",
        ));
    }
    let reference = match reference {
        Some((format, text)) => {
            refuse_upload_with_range(&spec)?;
            let model = find_model(&state, &spec.model).await?;
            Some(parse_reference(&spec, &model, format, text).await?)
        }
        None => None,
    };
    // The model's schema is dropped as this handler ends, however it ends.
    let _change = state.schemas.changing(monitor.model_id);
    let updated = state
        .store
        .update_monitor(
            monitor.id,
            &serde_json::to_string(&spec).expect("spec serialises"),
            reference.as_ref().map(|(encoded, _)| encoded.as_slice()),
            &spec.pinned_plugins(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no monitor named `{name}`")))?;
    state.monitoring.invalidate(monitor.id);
    state.monitoring.wake();
    let mut view = view(&state, &updated).await?;
    if let Some((_, rows)) = reference {
        view.reference_rows = Some(rows);
    }
    Ok(Json(view).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let monitor = find_monitor(&state, &name).await?;
    // The model's schema is dropped as this handler ends, however it ends.
    let _change = state.schemas.changing(monitor.model_id);
    state.store.delete_monitor(monitor.id).await?;
    state.monitoring.invalidate(monitor.id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Replaces the monitor's reference with uploaded records (the ingestion formats).
pub async fn put_reference(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    let monitor = find_monitor(&state, &name).await?;
    let spec: MonitorSpec = serde_json::from_str(&monitor.spec)
        .map_err(|e| ApiError::internal(format!("stored spec: {e}")))?;
    refuse_upload_with_range(&spec)?;
    let format = format_of(request.headers())?;
    let model = find_model(&state, &spec.model).await?;
    let body = read_body(&state, request, request_limit(&state)).await?;
    let (encoded, rows) = parse_reference(&spec, &model, format, body).await?;
    // The model's schema is dropped as this handler ends, however it ends.
    let _change = state.schemas.changing(monitor.model_id);
    let updated = state
        .store
        .update_monitor(
            monitor.id,
            &monitor.spec,
            Some(&encoded),
            &spec.pinned_plugins(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no monitor named `{name}`")))?;
    state.monitoring.invalidate(monitor.id);
    state.monitoring.wake();
    Ok(Json(ReferenceStored {
        monitor: updated.name,
        revision: updated.revision,
        reference_rows: rows,
    })
    .into_response())
}
