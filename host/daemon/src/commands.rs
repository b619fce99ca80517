//! The daemon's commands: `serve`, `token`, and the client commands that talk to its API.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::config::{Config, redact_url};
use crate::server::{self, AppState, auth};
use crate::signing;

pub async fn serve(config: Config) -> anyhow::Result<()> {
    // The URL may hold the database's password: only its redacted form is ever printed.
    let database = redact_url(&config.database_url);
    let store = vigil_store::Store::open(&config.database_url)
        .await
        .with_context(|| format!("cannot open the database {database}"))?;
    let runtime = vigil_runtime::Runtime::new(config.runtime_config())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %config.listen, database = %database, "vigil serving");
    // The one line that says where the daemon listens, with the port it got when `listen`
    // asked for port 0. Tests and scripts read it (README, "The daemon"): keep its form.
    eprintln!("vigil: serving on http://{}", listener.local_addr()?);
    let state = AppState::new(store.clone(), runtime, config)?;
    server::serve(state, listener, server::shutdown_signal()).await?;
    store.close().await;
    Ok(())
}

/// Creates a token directly in the daemon's database. The database must exist already unless
/// `create_database` says otherwise: a token written to a file the daemon does not read (run
/// from another directory, say) would be useless, and creating that file would hide the
/// mistake.
pub async fn create_token(
    config: &Config,
    role: auth::Role,
    name: &str,
    create_database: bool,
) -> anyhow::Result<()> {
    auth::check_token_name(name).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let url = &redact_url(&config.database_url);
    if let Some(path) = sqlite_path(url)
        && !path.exists()
        && !create_database
    {
        bail!(
            "there is no Vigil database at {} (from database_url `{url}`): start `vigil serve` \
             first, which creates it, and run this where it runs, or point --config or \
             VIGIL_DATABASE_URL at the daemon's database (--create-database creates it)",
            path.display()
        );
    }
    let store = vigil_store::Store::open(&config.database_url)
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    let token = auth::create_token(&store, name, role).await?;
    store.close().await;
    eprintln!(
        "created {} token {} in {url} (shown once):",
        role.as_str(),
        token.id
    );
    println!("{}", token.text);
    Ok(())
}

/// The file a `sqlite:` URL names; `None` for other databases and in-memory SQLite.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

pub fn print(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON prints")
    );
}

pub async fn push_plugins(client: &Client, files: &[PathBuf]) -> anyhow::Result<()> {
    for file in files {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let signature_file = signing::signature_path(file);
        let mut headers = Vec::new();
        if signature_file.exists() {
            let signature = std::fs::read_to_string(&signature_file)
                .with_context(|| format!("cannot read {}", signature_file.display()))?;
            headers.push((signing::SIGNATURE_HEADER, signing::header_value(&signature)));
        }
        let meta = client
            .send(
                Method::POST,
                "/v1/plugins",
                Some(("application/wasm", bytes)),
                &headers,
            )
            .await
            .with_context(|| format!("{} was not stored", file.display()))?;
        let signed = match meta["signed_by"].as_str() {
            Some(key) => format!(", signed by {key}"),
            None => String::new(),
        };
        println!(
            "{}@{} ({}) sha256 {}{signed}",
            meta["name"].as_str().unwrap_or("?"),
            meta["version"].as_str().unwrap_or("?"),
            meta["kind"].as_str().unwrap_or("?"),
            meta["sha256"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

/// `vigil plugin sign`: a detached signature beside each file.
pub fn sign_plugins(key: &Path, files: &[PathBuf]) -> anyhow::Result<()> {
    let password = std::env::var("VIGIL_SIGNING_PASSWORD").ok();
    for file in files {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let name = file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let signature = signing::sign(key, password.clone(), &bytes, &name)?;
        let out = signing::signature_path(file);
        std::fs::write(&out, signature)
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("{}", out.display());
    }
    Ok(())
}

/// `vigil plugin keygen`.
pub fn generate_signing_keys(name: &Path, encrypt: bool) -> anyhow::Result<()> {
    let password = if encrypt {
        Some(std::env::var("VIGIL_SIGNING_PASSWORD").map_err(|_| {
            anyhow::anyhow!(
                "--encrypt takes the password from VIGIL_SIGNING_PASSWORD, which is not set"
            )
        })?)
    } else {
        None
    };
    let public = signing::generate_keys(name, password)?;
    eprintln!(
        "wrote {} (secret: keep it private) and {}; trust it in the daemon's configuration with",
        name.with_extension("key").display(),
        name.with_extension("pub").display()
    );
    eprintln!("  plugin_trusted_keys = [\"{public}\"]");
    println!("{public}");
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

/// Creates (or, with `update`, replaces) the monitor a spec file describes. Its
/// `reference_file` travels in the same request, so the monitor and its reference are stored
/// together or not at all.
pub async fn put_monitor(client: &Client, path: &Path, update: bool) -> anyhow::Result<()> {
    let (mut spec, reference) = read_monitor_file(path)?;
    if let Some(reference) = &reference {
        let text = std::fs::read_to_string(reference)
            .with_context(|| format!("cannot read the reference file {}", reference.display()))?;
        spec["reference_upload"] =
            json!({"content_type": content_type_of(reference), "body": text});
    }
    let name = spec["name"].as_str().unwrap_or_default().to_string();
    let stored = if update {
        client
            .send(
                Method::PUT,
                &format!("/v1/monitors/{name}"),
                Some(("application/json", spec.to_string().into_bytes())),
                &[],
            )
            .await?
    } else {
        client.post_json("/v1/monitors", &spec).await?
    };
    if let Some(rows) = stored["reference_rows"].as_u64() {
        eprintln!("reference: {rows} rows");
    }
    print(&stored);
    Ok(())
}

/// Replaces a monitor's reference with a file's rows.
pub async fn upload_reference(client: &Client, monitor: &str, file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let uploaded = client
        .send(
            Method::PUT,
            &format!("/v1/monitors/{monitor}/reference"),
            Some((content_type_of(file), bytes)),
            &[],
        )
        .await?;
    eprintln!(
        "monitor {monitor}: reference of {} rows (revision {})",
        uploaded["reference_rows"], uploaded["revision"]
    );
    Ok(())
}

/// Sends a CSV or NDJSON file (records or labels) to `path` in batches of `batch_rows`, each
/// with an idempotency key derived from the file's content and the batch's position, so that
/// running it again after a failure stores nothing twice. CSV is split at record boundaries
/// as a CSV reader finds them, so a quoted field with a line break stays whole.
pub async fn send_file(
    client: &Client,
    path: &str,
    file: &Path,
    batch_rows: usize,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let file_digest = hex::encode(Sha256::digest(&bytes));
    let mut content_type = content_type_of(file);
    // A JSON array is sent as NDJSON, a line per element.
    let json_lines;
    let bytes = if content_type == "application/json" {
        let items: Vec<Value> = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a JSON array", file.display()))?;
        json_lines = items
            .iter()
            .map(|item| format!("{item}\n"))
            .collect::<String>()
            .into_bytes();
        content_type = "application/x-ndjson";
        &json_lines
    } else {
        &bytes
    };
    let (header, records) = if content_type == "text/csv" {
        csv_records(bytes).with_context(|| format!("{} is not valid CSV", file.display()))?
    } else {
        (&bytes[..0], ndjson_records(bytes))
    };
    if records.is_empty() {
        bail!("{} holds no records", file.display());
    }
    let bar = indicatif::ProgressBar::new(records.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({per_sec}, eta {eta})")
            .expect("a valid template"),
    );
    let mut totals = serde_json::Map::new();
    for (index, chunk) in records.chunks(batch_rows.max(1)).enumerate() {
        let mut body = header.to_vec();
        for record in chunk {
            body.extend_from_slice(record);
            if !record.ends_with(b"\n") {
                body.push(b'\n');
            }
        }
        let key = format!("{file_digest}-{batch_rows}-{index}");
        let outcome = client
            .send(
                Method::POST,
                path,
                Some((content_type, body)),
                &[("Idempotency-Key", key)],
            )
            .await?;
        // The answer's counts (`accepted`, `duplicates`, `stored`, …), summed over batches.
        if let Some(fields) = outcome.as_object() {
            for (name, value) in fields {
                if let Some(n) = value.as_u64() {
                    let total = totals.get(name).and_then(Value::as_u64).unwrap_or(0);
                    totals.insert(name.clone(), (total + n).into());
                }
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    println!("{}", Value::Object(totals));
    Ok(())
}

/// A CSV file's header line and its records, each with its line end, as the `csv` crate splits
/// them.
fn csv_records(bytes: &[u8]) -> anyhow::Result<(&[u8], Vec<&[u8]>)> {
    crate::csv_quotes::check(bytes)?;
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    reader.headers()?;
    let mut start = reader.position().byte() as usize;
    let header = &bytes[..start];
    let mut record = csv::ByteRecord::new();
    let mut records = Vec::new();
    while reader.read_byte_record(&mut record)? {
        let end = reader.position().byte() as usize;
        records.push(&bytes[start..end]);
        start = end;
    }
    Ok((header, records))
}

/// An NDJSON file's non-blank lines.
fn ndjson_records(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .collect()
}

/// `vigil monitor shadow …`.
pub async fn shadow(client: &Client, command: crate::cli::ShadowCommand) -> anyhow::Result<()> {
    use crate::cli::ShadowCommand::*;
    use crate::listing;
    let path = |monitor: &str| format!("/v1/monitors/{monitor}/shadows");
    let (value, verb) = match command {
        Start {
            monitor,
            plugin,
            replaces,
        } => (
            client
                .post_json(
                    &path(&monitor),
                    &json!({"plugin": plugin, "replaces": replaces}),
                )
                .await?,
            "started",
        ),
        List { monitor, output } => {
            return listing::show(client, &path(&monitor), output.json, listing::shadows).await;
        }
        Show {
            monitor,
            id,
            windows,
            output,
        } => {
            let page = format!("{}/{id}?limit={}", path(&monitor), windows.clamp(1, 1000));
            return listing::show(client, &page, output.json, listing::shadow).await;
        }
        Promote { monitor, id } => (
            client
                .post_json(&format!("{}/{id}/promote", path(&monitor)), &json!({}))
                .await?,
            "promoted",
        ),
        Drop { monitor, id } => (
            client
                .post_json(&format!("{}/{id}/drop", path(&monitor)), &json!({}))
                .await?,
            "dropped",
        ),
    };
    eprintln!(
        "shadow {} ({} in place of {}) on monitor {}: {verb}",
        value["id"], value["plugin"], value["replaces"], value["monitor"]
    );
    print!("{}", listing::shadow(&value));
    Ok(())
}
