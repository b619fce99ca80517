//! A model server for the local backend's tests: `POST /predict` answers
//! `{"version": …, "pid": …}`, `GET /healthz` answers `200` once it is ready, and
//! `POST /crash` ends the process at once. Flags make it slow, broken or slow to answer.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::Parser;

#[derive(Parser, Clone)]
struct Args {
    #[arg(long)]
    port: u16,
    #[arg(long)]
    version: String,
    /// Recorded and answered, to check what `{artifact}` became.
    #[arg(long, default_value = "")]
    artifact: String,
    /// `/healthz` answers `503` for this long after the start.
    #[arg(long, default_value_t = 0)]
    healthy_after_ms: u64,
    /// `/healthz` never answers `200`.
    #[arg(long)]
    never_healthy: bool,
    /// Exit with status 1 before listening.
    #[arg(long)]
    exit_at_once: bool,
    /// Each prediction takes this long.
    #[arg(long, default_value_t = 0)]
    hold_ms: u64,
    /// Each prediction, once it has arrived (which it tells by creating `<file>.arrived`),
    /// waits until this file exists.
    #[arg(long)]
    hold_until: Option<PathBuf>,
}

#[derive(Clone)]
struct Server {
    args: Args,
    started: Instant,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse();
    if args.exit_at_once {
        eprintln!("fixture_model {}: exiting at once", args.version);
        std::process::exit(1);
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .unwrap_or_else(|e| {
            eprintln!("fixture_model: cannot bind port {}: {e}", args.port);
            std::process::exit(2)
        });
    eprintln!(
        "fixture_model {} pid {} listening on {}",
        args.version,
        std::process::id(),
        args.port
    );
    let server = Server {
        args,
        started: Instant::now(),
    };
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/predict", post(predict))
        .route("/crash", post(crash))
        .with_state(server);
    axum::serve(listener, app).await.unwrap();
}

async fn healthz(State(server): State<Server>) -> StatusCode {
    let ready = !server.args.never_healthy
        && server.started.elapsed() >= Duration::from_millis(server.args.healthy_after_ms);
    if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn predict(State(server): State<Server>) -> Json<serde_json::Value> {
    tokio::time::sleep(Duration::from_millis(server.args.hold_ms)).await;
    if let Some(file) = &server.args.hold_until {
        let mut arrived = file.clone().into_os_string();
        arrived.push(".arrived");
        std::fs::write(arrived, b"").unwrap();
        while !file.exists() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Json(serde_json::json!({
        "version": server.args.version,
        "pid": std::process::id(),
        "artifact": server.args.artifact,
    }))
}

async fn crash() {
    std::process::exit(3);
}
