//! The HTTP API (`/v1`, JSON) and the daemon that serves it with the monitoring loop.
//!
//! Every route is declared once in [`routes`] with the access it needs; the same table builds
//! the router and is what the authorization tests walk, so a route cannot exist without an
//! access rule.

pub mod auth;
pub mod error;
mod export;
mod models;
mod monitors;
pub mod openapi;
pub mod plugins;
mod predict;
pub mod rate_limit;
mod results;
mod rollouts;
mod schemas;
mod shadows;
mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use vigil_runtime::Runtime;
use vigil_store::Store;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::monitor::Monitoring;
use crate::monitor::stored_plugins::StoredPlugins;
use auth::Access;
use error::ApiError;
use openapi::Doc;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub plugins: Arc<StoredPlugins>,
    pub monitoring: Arc<Monitoring>,
    /// Admission for ingestion requests (see `Config::ingest_max_in_flight`).
    pub ingest_slots: Arc<tokio::sync::Semaphore>,
    /// Ingestion requests in flight per token (see `Config::ingest_max_in_flight_per_token`).
    pub ingest_by_token: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    pub rate_limits: Arc<rate_limit::RateLimits>,
    /// Replays running at once: each runs plugins in the shared instance budget, which plugin
    /// uploads need too.
    pub replays: Arc<tokio::sync::Semaphore>,
    /// Distribution reads running at once: each reads a window and its reference whole.
    pub distributions: Arc<tokio::sync::Semaphore>,
    /// The schema each model's records must fit, dropped when one of its monitors changes.
    pub(crate) schemas: Arc<schemas::Schemas>,
    /// The predict proxy's client to model servers.
    pub http: reqwest::Client,
    /// What runs retraining and rollouts, and where predictions are proxied.
    pub orchestration: Arc<crate::orchestration::Orchestration>,
}

/// `GET /v1/evaluations/{id}/distributions` that may run at once (see
/// [`AppState::distributions`]).
pub const DISTRIBUTIONS_AT_ONCE: usize = 2;

/// Replays that may run at once (see [`AppState::replays`]).
pub const REPLAYS_AT_ONCE: usize = 2;

impl AppState {
    pub fn new(store: Store, runtime: Runtime, config: Config) -> anyhow::Result<AppState> {
        let config = Arc::new(config);
        let orchestration = Arc::new(crate::orchestration::Orchestration::new(config.clone()));
        let config_timeout = config.request_timeout_secs;
        let metrics = Arc::new(Metrics::default());
        let plugins = Arc::new(StoredPlugins::new(
            store.clone(),
            runtime,
            config.trust()?,
            config.plugin_limits(),
        ));
        let monitoring = Monitoring::new(
            store.clone(),
            plugins.clone(),
            metrics.clone(),
            &config,
            orchestration.clone(),
        );
        Ok(AppState {
            store,
            ingest_slots: Arc::new(tokio::sync::Semaphore::new(config.ingest_max_in_flight)),
            ingest_by_token: Arc::default(),
            replays: Arc::new(tokio::sync::Semaphore::new(REPLAYS_AT_ONCE)),
            distributions: Arc::new(tokio::sync::Semaphore::new(DISTRIBUTIONS_AT_ONCE)),
            schemas: Arc::default(),
            rate_limits: Arc::new(rate_limit::RateLimits::new(
                rate_limit::Rate {
                    per_second: config.ingest_rate_per_second,
                    burst: config.ingest_rate_burst,
                },
                rate_limit::Rate {
                    per_second: config.upload_rate_per_second,
                    burst: config.upload_rate_burst,
                },
            )),
            config,
            metrics,
            plugins,
            monitoring,
            orchestration,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(config_timeout))
                .build()?,
        })
    }
}

/// One row of the route table.
#[derive(Clone)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub doc: Doc,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.access.name())
    }
}

/// The route table as it is built: the router (when there is a state to serve with) and the
/// rows, which the authorization tests and the OpenAPI document read.
struct Table {
    router: Router<AppState>,
    routes: Vec<Route>,
    state: Option<AppState>,
}

impl Table {
    fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: H,
        doc: Doc,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        if let Some(state) = self.state.clone() {
            let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
            let guard = middleware::from_fn(move |request: Request, next: Next| {
                auth::authorize(state.clone(), access, request, next)
            });
            self.router = self.router.route(path, on(filter, handler).layer(guard));
        }
        self.routes.push(Route {
            method,
            path,
            access,
            doc,
        });
        self
    }
}

const RECORD_MEDIA: &[&str] = &["application/json", "application/x-ndjson", "text/csv"];

/// The route table: every route, the access it needs, its handler and what the API's document
/// says of it.
fn table(state: Option<AppState>) -> Table {
    use Access::*;
    use StatusCode as S;
    let table = Table {
        router: Router::new(),
        routes: Vec::new(),
        state,
    };
    table
        .add(
            Method::GET,
            "/healthz",
            Public,
            healthz,
            Doc::new("Liveness: answers while the process serves")
                .returns_media(&["text/plain"], "`ok`"),
        )
        .add(
            Method::GET,
            "/readyz",
            Public,
            readyz,
            Doc::new("Readiness: answers when the store answers")
                .returns_media(&["text/plain"], "`ready`")
                .errors(&[S::SERVICE_UNAVAILABLE]),
        )
        .add(
            Method::GET,
            "/metrics",
            Read,
            metrics,
            Doc::new("Prometheus metrics")
                .returns_media(&["application/openmetrics-text"], "OpenMetrics text"),
        )
        .add(
            Method::GET,
            "/v1/openapi.json",
            Public,
            openapi_document,
            Doc::new("This document")
                .returns_media(&["application/json"], "The API's OpenAPI 3.1 document"),
        )
        .add(
            Method::GET,
            "/ui",
            Public,
            ui::index,
            Doc::new("The dashboard's page (it reads its data from the API with a token)")
                .returns_media(&["text/html"], "The dashboard's page, which holds no data"),
        )
        .add(
            Method::GET,
            "/ui/{file}",
            Public,
            ui::file,
            Doc::new("The dashboard's script and style sheet")
                .returns_media(&["text/javascript", "text/css"], "`app.js` or `app.css`"),
        )
        .add(
            Method::GET,
            "/v1/whoami",
            Read,
            results::whoami,
            Doc::new("The caller's token id and role").returns::<results::WhoAmI>(),
        )
        .add(
            Method::POST,
            "/v1/plugins",
            Write,
            plugins::upload,
            Doc::new("Upload a plugin (a WebAssembly component)")
                .takes_media(
                    &["application/wasm", "application/octet-stream"],
                    "The component's bytes; its name, version and kind come from its `info`",
                )
                .headers(&[(
                    "Vigil-Signature",
                    "The component's minisign signature (the `.minisig` file's text, base64); \
                     required when the daemon sets `plugin_require_signed`",
                )])
                .returns::<vigil_store::PluginMeta>()
                .status(S::CREATED)
                .also(
                    S::OK,
                    "The same component was stored already: nothing changed",
                )
                .errors(&[
                    S::CONFLICT,
                    S::UNPROCESSABLE_ENTITY,
                    S::TOO_MANY_REQUESTS,
                    S::SERVICE_UNAVAILABLE,
                ]),
        )
        .add(
            Method::GET,
            "/v1/plugins",
            Read,
            plugins::list,
            Doc::new("List the stored plugins").returns::<plugins::PluginList>(),
        )
        .add(
            Method::GET,
            "/v1/plugins/{name}/{version}",
            Read,
            plugins::get,
            Doc::new("A stored plugin's metadata").returns::<vigil_store::PluginMeta>(),
        )
        .add(
            Method::GET,
            "/v1/plugins/{name}/{version}/download",
            Read,
            plugins::download,
            Doc::new("A stored plugin's component")
                .returns_media(&["application/wasm"], "The component's bytes"),
        )
        .add(
            Method::DELETE,
            "/v1/plugins/{name}/{version}",
            Write,
            plugins::delete,
            Doc::new("Delete a plugin version no monitor uses")
                .status(S::NO_CONTENT)
                .errors(&[S::CONFLICT]),
        )
        .add(
            Method::POST,
            "/v1/models",
            Write,
            models::create,
            Doc::new("Create a model")
                .takes::<models::NewModel>()
                .returns::<vigil_store::Model>()
                .status(S::CREATED)
                .errors(&[S::CONFLICT, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::GET,
            "/v1/models",
            Read,
            models::list,
            Doc::new("List the models").returns::<models::ModelList>(),
        )
        .add(
            Method::GET,
            "/v1/models/{model}",
            Read,
            models::get,
            Doc::new("A model").returns::<vigil_store::Model>(),
        )
        .add(
            Method::POST,
            "/v1/models/{model}/versions",
            WriteOrTrain,
            models::create_version,
            Doc::new("Register a model version (a retraining run reports its own here)")
                .takes::<models::NewVersion>()
                .returns::<vigil_store::ModelVersion>()
                .status(S::CREATED)
                .also(
                    S::OK,
                    "The same version was registered already: nothing changed",
                )
                .errors(&[S::CONFLICT, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::GET,
            "/v1/models/{model}/versions",
            Read,
            models::versions,
            Doc::new("A model's versions").returns::<models::VersionList>(),
        )
        .add(
            Method::PUT,
            "/v1/models/{model}/serving",
            Write,
            models::set_serving,
            Doc::new("Record which version serves, without a rollout")
                .takes::<models::Serving>()
                .returns::<vigil_store::Model>()
                .errors(&[S::CONFLICT, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::POST,
            "/v1/models/{model}/records",
            Ingest,
            models::ingest,
            Doc::new("Send inference records (features and predictions)")
                .takes_media(
                    RECORD_MEDIA,
                    "Records as a JSON array, NDJSON or CSV, each with an `id`; an \
                     `Idempotency-Key` header makes a retry return the first answer",
                )
                .returns::<vigil_store::IngestOutcome>()
                .errors(&[
                    S::CONFLICT,
                    S::UNSUPPORTED_MEDIA_TYPE,
                    S::UNPROCESSABLE_ENTITY,
                    S::TOO_MANY_REQUESTS,
                    S::SERVICE_UNAVAILABLE,
                ]),
        )
        .add(
            Method::POST,
            "/v1/models/{model}/labels",
            Ingest,
            models::labels,
            Doc::new("Send true labels for records, by record id")
                .takes_media(
                    RECORD_MEDIA,
                    "Labels as `{id, label}` rows: a JSON array, NDJSON or CSV",
                )
                .returns::<vigil_store::LabelOutcome>()
                .errors(&[
                    S::UNSUPPORTED_MEDIA_TYPE,
                    S::UNPROCESSABLE_ENTITY,
                    S::TOO_MANY_REQUESTS,
                    S::SERVICE_UNAVAILABLE,
                ]),
        )
        .add(
            Method::POST,
            "/v1/models/{model}/predict",
            Ingest,
            predict::predict,
            Doc::new("Ask the serving version for a prediction; the record is ingested")
                .takes::<predict::PredictRequest>()
                .returns::<predict::Prediction>()
                .errors(&[
                    S::CONFLICT,
                    S::UNPROCESSABLE_ENTITY,
                    S::BAD_GATEWAY,
                    S::SERVICE_UNAVAILABLE,
                ]),
        )
        .add(
            Method::GET,
            "/v1/models/{model}/verdict",
            Read,
            predict::verdict,
            Doc::new("The model's latest monitoring verdict, per monitor")
                .returns::<predict::Verdict>(),
        )
        .add(
            Method::POST,
            "/v1/models/{model}/versions/{version}/promote",
            Write,
            rollouts::promote,
            Doc::new("Roll a version out by hand (through the gate unless `force`)")
                .takes::<rollouts::ByHand>()
                .returns::<rollouts::ActionStarted>()
                .status(S::ACCEPTED)
                .errors(&[S::CONFLICT, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::POST,
            "/v1/models/{model}/rollback",
            Write,
            rollouts::rollback,
            Doc::new("Roll back to the previous serving version")
                .takes::<rollouts::ByHand>()
                .returns::<rollouts::ActionStarted>()
                .status(S::ACCEPTED)
                .errors(&[S::CONFLICT, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::GET,
            "/v1/models/{model}/records",
            ReadOrTrain,
            export::records,
            Doc::new("Read a model's records (a retraining run reads its training data here)")
                .query::<export::ExportQuery>()
                .returns_media(
                    &["text/csv", "application/x-ndjson"],
                    "Records with their labels, in stream order; `format` or `Accept` chooses",
                )
                .errors(&[S::GONE, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::POST,
            "/v1/monitors",
            Write,
            monitors::create,
            Doc::new("Create a monitor (and optionally upload its reference)")
                .takes::<monitors::CreateMonitor>()
                .returns::<monitors::MonitorView>()
                .status(S::CREATED)
                .errors(&[S::CONFLICT, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::GET,
            "/v1/monitors",
            Read,
            monitors::list,
            Doc::new("List the monitors").returns::<monitors::MonitorList>(),
        )
        .add(
            Method::GET,
            "/v1/monitors/{name}",
            Read,
            monitors::get,
            Doc::new("A monitor").returns::<monitors::MonitorView>(),
        )
        .add(
            Method::PUT,
            "/v1/monitors/{name}",
            Write,
            monitors::update,
            Doc::new("Replace a monitor's spec")
                .takes::<crate::monitor::spec::MonitorSpec>()
                .returns::<monitors::MonitorView>()
                .errors(&[S::CONFLICT, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::DELETE,
            "/v1/monitors/{name}",
            Write,
            monitors::delete,
            Doc::new("Delete a monitor and its results").status(S::NO_CONTENT),
        )
        .add(
            Method::PUT,
            "/v1/monitors/{name}/reference",
            Write,
            monitors::put_reference,
            Doc::new("Replace a monitor's reference with uploaded rows")
                .takes_media(RECORD_MEDIA, "Reference rows in any ingestion format")
                .returns::<monitors::ReferenceStored>()
                .errors(&[S::UNSUPPORTED_MEDIA_TYPE, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::GET,
            "/v1/monitors/{name}/evaluations",
            Read,
            results::evaluations,
            Doc::new("A monitor's evaluations, newest first, a page at a time")
                .query::<results::Page>()
                .returns::<results::EvaluationPage>()
                .errors(&[S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::POST,
            "/v1/monitors/{name}/shadows",
            Write,
            shadows::start,
            Doc::new(
                "Run a candidate plugin version in shadow beside the monitor's pinned one: same \
                 windows, results kept beside the monitor's, never acted on",
            )
            .takes::<shadows::StartShadow>()
            .returns::<shadows::ShadowView>()
            .status(S::CREATED)
            .errors(&[S::CONFLICT, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::GET,
            "/v1/monitors/{name}/shadows",
            Read,
            shadows::list,
            Doc::new("The monitor's shadows, newest first, each summarised")
                .returns::<shadows::ShadowList>(),
        )
        .add(
            Method::GET,
            "/v1/monitors/{name}/shadows/{id}",
            Read,
            shadows::get,
            Doc::new("A shadow compared with the pinned plugin, window by window, newest first")
                .query::<shadows::WindowPage>()
                .returns::<shadows::ShadowReport>()
                .errors(&[S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::POST,
            "/v1/monitors/{name}/shadows/{id}/promote",
            Write,
            shadows::promote,
            Doc::new(
                "Pin the shadow's candidate in the monitor (a new revision); the comparison is kept",
            )
            .returns::<shadows::ShadowView>()
            .errors(&[S::CONFLICT, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::POST,
            "/v1/monitors/{name}/shadows/{id}/drop",
            Write,
            shadows::drop_shadow,
            Doc::new("Stop the shadow, the monitor unchanged; the comparison is kept")
                .returns::<shadows::ShadowView>()
                .errors(&[S::CONFLICT]),
        )
        .add(
            Method::GET,
            "/v1/monitors/{name}/timeline",
            Read,
            results::timeline,
            Doc::new("A page of a monitor's windows as the dashboard draws them, oldest first")
                .query::<results::TimelineQuery>()
                .returns::<results::Timeline>()
                .errors(&[S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::GET,
            "/v1/evaluations/{id}",
            Read,
            results::evaluation,
            Doc::new("One evaluation, with every column's result")
                .returns::<vigil_store::Evaluation>(),
        )
        .add(
            Method::GET,
            "/v1/evaluations/{id}/distributions",
            Read,
            results::distributions,
            Doc::new("The window's features beside the reference's, binned for plots")
                .returns::<results::Distributions>()
                .errors(&[S::GONE, S::UNPROCESSABLE_ENTITY, S::TOO_MANY_REQUESTS]),
        )
        .add(
            Method::POST,
            "/v1/evaluations/{id}/replay",
            Write,
            results::replay,
            Doc::new(
                "Run a stored evaluation again and compare (optionally with other plugin versions)",
            )
            .takes::<results::ReplayRequest>()
            .returns::<crate::monitor::replay::ReplayReport>()
            .errors(&[S::GONE, S::UNPROCESSABLE_ENTITY, S::TOO_MANY_REQUESTS]),
        )
        .add(
            Method::GET,
            "/v1/status",
            Read,
            results::status,
            Doc::new("Every monitor's state, and the replicas' leases")
                .returns::<crate::monitor::status::StatusReport>(),
        )
        .add(
            Method::GET,
            "/v1/alerts",
            Read,
            results::alerts,
            Doc::new("Alerts, newest first")
                .query::<results::MonitorPage>()
                .returns::<results::AlertList>()
                .errors(&[S::NOT_FOUND, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::GET,
            "/v1/actions",
            Read,
            results::actions,
            Doc::new("Actions (alert deliveries, retrainings, rollouts), newest first")
                .query::<results::MonitorPage>()
                .returns::<results::ActionList>()
                .errors(&[S::NOT_FOUND, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::POST,
            "/v1/tokens",
            Admin,
            results::create_token,
            Doc::new("Create a token (its secret is shown once)")
                .takes::<results::NewToken>()
                .returns::<results::NewTokenAnswer>()
                .status(S::CREATED)
                .errors(&[S::CONFLICT, S::UNPROCESSABLE_ENTITY]),
        )
        .add(
            Method::DELETE,
            "/v1/tokens/{id}",
            Admin,
            results::revoke_token,
            Doc::new("Revoke a token").status(S::NO_CONTENT),
        )
}

/// Every route with the access it needs and its document, for tests and documentation.
pub fn routes() -> Vec<Route> {
    table(None).routes
}

/// The API's OpenAPI document, as served.
pub fn openapi_json() -> serde_json::Value {
    openapi::document(&routes())
}

async fn openapi_document() -> Response {
    static DOCUMENT: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        serde_json::to_vec(&openapi_json()).expect("the document serializes")
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_slice(),
    )
        .into_response()
}

pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    table(Some(state.clone()))
        .router
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(middleware::map_response(error::json_errors))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => "ready\n".into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

/// Serves the API and runs the monitoring loop until `shutdown` resolves; then stops taking
/// connections, lets the requests and the evaluation in flight finish, and returns.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    state.orchestration.set_listening(listener.local_addr()?);
    let orchestration = state.orchestration.clone();
    plugins::offer_standard_plugins(&state).await;
    let monitoring = state.monitoring.clone();
    let loop_task = tokio::spawn(monitoring.clone().run());
    let (stop_retention, retention_stopping) = tokio::sync::watch::channel(false);
    let retention_task = tokio::spawn(crate::retention::run(
        state.store.clone(),
        state.config.retention(),
        state.metrics.clone(),
        retention_stopping,
    ));
    let header_timeout = Duration::from_millis(state.config.header_read_timeout_ms);
    let shutdown_grace_ms = state.config.shutdown_grace_ms;
    let app = router(state);
    let (closing, closed) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let service = TowerToHyperService::new(app.clone());
        let mut closed = closed.clone();
        connections.spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = async { closed.wait_for(|closing| *closing).await.map(|_| ()) } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    closing.send_replace(true);
    // The evaluation in flight is abandoned after its current plugin call, meanwhile.
    monitoring.stop();
    // Requests in flight get a grace period; a client that stops reading its answer cannot
    // hold the daemon after it.
    let grace = Duration::from_millis(shutdown_grace_ms);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "closing the connections still open after the shutdown grace period"
        );
        connections.abort_all();
    }
    stop_retention.send_replace(true);
    retention_task.await?;
    loop_task.await?;
    orchestration.shutdown().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing requests and the evaluation in flight");
}

/// Reads a request body up to `limit` bytes: 413 past it, without reading further, and 408 if
/// it has not all arrived within the configured `body_timeout_ms`, so a client that trickles
/// its body cannot hold the request's resources (an ingestion slot, say) for long.
pub async fn read_body(
    state: &AppState,
    request: Request,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let timeout = Duration::from_millis(state.config.body_timeout_ms);
    tokio::time::timeout(timeout, read_body_unbounded(request, limit))
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the body did not arrive within {} ms; send it faster or in smaller requests",
                    timeout.as_millis()
                ),
            ))
        })
}

async fn read_body_unbounded(
    request: Request,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || ApiError::too_large(format!("the body exceeds the limit of {limit} bytes"));
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|error| {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(e) = cause {
                if e.is::<http_body_util::LengthLimitError>() {
                    return too_large();
                }
                cause = e.source();
            }
            ApiError::bad_request(format!("cannot read the body: {error}"))
        })
}
