//! `/v1/plugins`: upload, list, inspect, download and delete components.
//!
//! An upload is checked before anything is stored: the body is read up to the limit (413
//! past it), compiled off the async threads, and must be a component of exactly one Vigil
//! world importing only what the host grants (422 naming what was found otherwise), whose
//! `info` gives a plugin name and a semver version. A signature (the `Vigil-Signature`
//! header) must verify under a trusted key, and one is required when the daemon is configured
//! so (422 otherwise; docs/security.md, "Signed plugins").

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use vigil_store::{NewPlugin, PluginInsert};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::{AppState, rate_limit, read_body};
use crate::signing;

pub async fn upload(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .map(|c| c.token_id.clone())
        .unwrap_or_default();
    state
        .rate_limits
        .check(&caller, rate_limit::Class::Upload)?;
    let signature = request
        .headers()
        .get(signing::SIGNATURE_HEADER)
        .map(|value| signing::from_header(value.as_bytes()))
        .transpose()
        .map_err(|error| ApiError::invalid(error.to_string()))?;
    let body = read_body(&state, request, state.config.plugin_body_limit).await?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty; send the component's bytes",
        ));
    }
    Ok(
        match store_plugin(&state, &body, signature.as_deref(), &caller).await? {
            PluginInsert::Created(meta) => (StatusCode::CREATED, Json(meta)).into_response(),
            PluginInsert::AlreadyStored(meta) => (StatusCode::OK, Json(meta)).into_response(),
        },
    )
}

/// Checks a component's signature and the component as the host will run it, and stores it.
/// The standard plugins' names are reserved: under them, only the components built into this
/// binary are accepted (and need no signature: they come with the binary).
async fn store_plugin(
    state: &AppState,
    bytes: &[u8],
    signature: Option<&str>,
    uploaded_by: &str,
) -> ApiResult<PluginInsert> {
    let standard = crate::plugins::STANDARD_PLUGINS
        .iter()
        .any(|(_, standard)| *standard == bytes);
    let signed_by = if standard && signature.is_none() {
        None
    } else {
        state
            .plugins
            .trust()
            .check(bytes, signature)
            .map_err(|error| ApiError::invalid(error.to_string()))?
    };
    let plugin = state
        .plugins
        .compile(bytes.to_vec())
        .await
        .map_err(|error| match error {
            vigil_runtime::Error::InvalidComponent(message) => ApiError::invalid(message),
            vigil_runtime::Error::Host(message) => ApiError::internal(message),
            other => ApiError::invalid(format!(
                "the plugin failed while describing itself: {other}"
            )),
        })?;
    let info = plugin.info();
    crate::vocab::check_name("name", &info.name).map_err(ApiError::invalid)?;
    if let Some(standard) = crate::plugins::standard_plugin(&info.name)
        && standard != bytes
    {
        return Err(ApiError::invalid(format!(
            "`{}` is the name of a standard plugin that comes with Vigil, and this is not it; \
             give yours another name",
            info.name
        )));
    }
    crate::vocab::plugin_version(&info.version).map_err(ApiError::invalid)?;
    let info_json = serde_json::json!({
        "name": info.name,
        "version": info.version,
        "kind": info.kind.name(),
        "description": info.description,
        "config_schema": serde_json::from_str::<serde_json::Value>(&info.config_schema)
            .unwrap_or(serde_json::Value::String(info.config_schema.clone())),
    });
    let sha256 = hex::encode(Sha256::digest(bytes));
    Ok(state
        .store
        .insert_plugin(&NewPlugin {
            name: &info.name,
            version: &info.version,
            kind: info.kind.name(),
            sha256: &sha256,
            info: &info_json.to_string(),
            bytes,
            uploaded_by,
            signature: signed_by.as_ref().and(signature),
            signed_by: signed_by.as_deref(),
        })
        .await?)
}

/// Stores the standard plugins built into this binary, so that a fresh daemon offers them at
/// once. One that cannot be stored (another component holds its name and version, left by a
/// version of Vigil that did not reserve the names) is reported and skipped.
pub async fn offer_standard_plugins(state: &AppState) {
    for (name, bytes) in crate::plugins::STANDARD_PLUGINS {
        match store_plugin(state, bytes, None, "vigil").await {
            Ok(PluginInsert::Created(meta)) => {
                tracing::info!(plugin = %name, version = %meta.version, "standard plugin stored");
            }
            Ok(PluginInsert::AlreadyStored(_)) => {}
            Err(error) => tracing::error!(
                plugin = %name,
                error = %error.message,
                "cannot store the standard plugin; delete the plugin stored under its name \
                 and version"
            ),
        }
    }
}

/// `GET /v1/plugins`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct PluginList {
    pub plugins: Vec<vigil_store::PluginMeta>,
}

pub async fn list(State(state): State<AppState>) -> ApiResult<Response> {
    let plugins = state.store.plugins().await?;
    Ok(Json(PluginList { plugins }).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let meta = state
        .store
        .plugin(&name, &version)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no plugin {name}@{version}")))?;
    Ok(Json(meta).into_response())
}

pub async fn download(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let bytes = state
        .store
        .plugin_bytes(&name, &version)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no plugin {name}@{version}")))?;
    Ok(([(header::CONTENT_TYPE, "application/wasm")], bytes).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    if crate::plugins::standard_plugin(&name).is_some() {
        return Err(ApiError::conflict(format!(
            "{name} is a standard plugin that comes with Vigil; it stays"
        )));
    }
    if state.store.delete_plugin(&name, &version).await? {
        state.plugins.forget(&format!("{name}@{version}"));
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no plugin {name}@{version}")))
    }
}
