//! The daemon's commands: `serve`, `token`, and the client commands that talk to its API.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::config::Config;
use crate::server::{self, AppState, auth};

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let store = vigil_store::Store::open(&config.database_url)
        .await
        .with_context(|| format!("cannot open the database {}", config.database_url))?;
    let runtime = vigil_runtime::Runtime::new(config.runtime_config())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %config.listen, database = %config.database_url, "vigil serving");
    eprintln!("vigil: serving on http://{}", listener.local_addr()?);
    let state = AppState::new(store.clone(), runtime, config);
    server::serve(state, listener, server::shutdown_signal()).await?;
    store.close().await;
    Ok(())
}

pub async fn create_token(config: &Config, role: auth::Role, name: &str) -> anyhow::Result<()> {
    let store = vigil_store::Store::open(&config.database_url)
        .await
        .with_context(|| format!("cannot open the database {}", config.database_url))?;
    let token = auth::create_token(&store, name, role).await?;
    eprintln!("created {} token {} (shown once):", role.as_str(), token.id);
    println!("{}", token.text);
    Ok(())
}

pub fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON prints")
    );
}

/// GETs `path` from the daemon and prints the answer.
pub async fn show(client: &Client, path: &str) -> anyhow::Result<()> {
    print(&client.get(path).await?);
    Ok(())
}

pub async fn push_plugins(client: &Client, files: &[PathBuf]) -> anyhow::Result<()> {
    for file in files {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let meta = client
            .send(
                Method::POST,
                "/v1/plugins",
                Some(("application/wasm", bytes)),
                &[],
            )
            .await?;
        println!(
            "{}@{} ({}) sha256 {}",
            meta["name"].as_str().unwrap_or("?"),
            meta["version"].as_str().unwrap_or("?"),
            meta["kind"].as_str().unwrap_or("?"),
            meta["sha256"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

/// Reads a monitor spec from TOML or JSON. `reference_file` (a CSV or NDJSON path, relative
/// to the spec file) is taken out and returned for upload.
pub fn read_monitor_file(path: &Path) -> anyhow::Result<(Value, Option<PathBuf>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut spec: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text)?
    } else {
        let value: toml::Value =
            toml::from_str(&text).with_context(|| format!("invalid TOML in {}", path.display()))?;
        serde_json::to_value(value)?
    };
    let reference = spec
        .as_object_mut()
        .and_then(|o| o.remove("reference_file"))
        .and_then(|v| {
            v.as_str()
                .map(|p| path.parent().unwrap_or(Path::new(".")).join(p))
        });
    Ok((spec, reference))
}

pub fn content_type_of(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => "text/csv",
        Some("json") => "application/json",
        _ => "application/x-ndjson",
    }
}

pub async fn create_monitor(client: &Client, path: &Path) -> anyhow::Result<()> {
    let (spec, reference) = read_monitor_file(path)?;
    let created = client.post_json("/v1/monitors", &spec).await?;
    let name = created["name"].as_str().unwrap_or_default().to_string();
    if let Some(reference) = reference {
        let bytes = std::fs::read(&reference)
            .with_context(|| format!("cannot read {}", reference.display()))?;
        let uploaded = client
            .send(
                Method::PUT,
                &format!("/v1/monitors/{name}/reference"),
                Some((content_type_of(&reference), bytes)),
                &[],
            )
            .await?;
        eprintln!("reference: {} rows", uploaded["reference_rows"]);
    }
    print(&client.get(&format!("/v1/monitors/{name}")).await?);
    Ok(())
}

/// Sends a CSV or NDJSON file of records in batches, each with an idempotency key derived from
/// the file's content and the batch's position, so re-running after a failure stores nothing
/// twice.
pub async fn ingest_file(
    client: &Client,
    model: &str,
    file: &Path,
    batch_rows: usize,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let file_digest = hex::encode(Sha256::digest(&bytes));
    let content_type = content_type_of(file);
    let text = std::str::from_utf8(&bytes).context("the file is not UTF-8")?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = if content_type == "text/csv" {
        Some(lines.next().context("the CSV file is empty")?.to_string())
    } else {
        None
    };
    let rows: Vec<&str> = lines.collect();
    if content_type == "application/json" {
        bail!("send NDJSON (.ndjson) or CSV (.csv) files; JSON arrays are for the API");
    }
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} records ({per_sec}, eta {eta})",
        )
        .expect("a valid template"),
    );
    let (mut accepted, mut duplicates) = (0u64, 0u64);
    for (index, chunk) in rows.chunks(batch_rows.max(1)).enumerate() {
        let mut body = String::new();
        if let Some(header) = &header {
            body.push_str(header);
            body.push('\n');
        }
        for row in chunk {
            body.push_str(row);
            body.push('\n');
        }
        let key = format!("{file_digest}-{batch_rows}-{index}");
        let outcome = client
            .send(
                Method::POST,
                &format!("/v1/models/{model}/records"),
                Some((content_type, body.into_bytes())),
                &[("Idempotency-Key", key)],
            )
            .await?;
        accepted += outcome["accepted"].as_u64().unwrap_or(0);
        duplicates += outcome["duplicates"].as_u64().unwrap_or(0);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    println!(
        "{}",
        json!({"accepted": accepted, "duplicates": duplicates})
    );
    Ok(())
}
