//! The daemon's configuration: a TOML file, then `VIGIL_*` environment variables on top.
//!
//! ```toml
//! database_url = "sqlite://vigil.db"
//! listen = "127.0.0.1:8080"
//! plugin_body_limit = 33554432   # bytes
//! ingest_body_limit = 16777216   # bytes
//! ingest_max_rows = 10000
//! ingest_max_in_flight = 16
//! ingest_max_in_flight_per_token = 4
//! body_timeout_ms = 10000
//! shutdown_grace_ms = 10000
//! ingest_wait_ms = 2000
//! ingest_rate_per_second = 200.0  # requests per API token; 0 turns the limit off
//! ingest_rate_burst = 400.0
//! upload_rate_per_second = 2.0
//! upload_rate_burst = 20.0
//! evaluation_workers = 2
//! plugin_deadline_ms = 2000
//! plugin_memory_mib = 64
//! plugin_instances = 1000
//! plugin_shared_instances = 32
//! plugin_log_bytes_per_window = 262144
//! max_features_per_monitor = 500
//! ```

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    /// Largest plugin upload, in bytes; larger bodies get 413 before being read past it.
    pub plugin_body_limit: usize,
    /// Largest ingestion request body, in bytes.
    pub ingest_body_limit: usize,
    /// Most records in one ingestion request.
    pub ingest_max_rows: usize,
    /// Ingestion (records and labels) requests read, parsed or waiting to commit at once.
    /// With the body limit, this bounds the memory ingestion can take.
    pub ingest_max_in_flight: usize,
    /// Of those, how many one API token may hold; past it the token gets 429 at once.
    pub ingest_max_in_flight_per_token: usize,
    /// How long a request waits for one of those slots before it gets 429 with Retry-After.
    pub ingest_wait_ms: u64,
    /// A request body must have arrived whole this long after its headers; 408 otherwise.
    pub body_timeout_ms: u64,
    /// Ingestion requests (records and labels) one API token may send per second, sustained;
    /// past it and its burst, 429 with Retry-After. 0 turns the limit off.
    pub ingest_rate_per_second: f64,
    pub ingest_rate_burst: f64,
    /// The same for plugin uploads, each of which is compiled.
    pub upload_rate_per_second: f64,
    pub upload_rate_burst: f64,
    /// Evaluations running at once (each evaluates its columns in parallel).
    pub evaluation_workers: usize,
    /// Wall-clock budget of one plugin call.
    pub plugin_deadline_ms: u64,
    /// Linear-memory cap of one plugin instance.
    pub plugin_memory_mib: usize,
    /// Plugin instances alive at once (the runtime's pool). Each monitor reserves what it
    /// needs (a preprocessor and a tested feature keep one each, plus one for its detectors and
    /// policy), so no monitor can take another's; a monitor that does not fit is refused.
    pub plugin_instances: u32,
    /// Of `plugin_instances`, those kept for uploads and replays; monitors share the rest.
    pub plugin_shared_instances: u32,
    /// Bytes of log output (log records, stdout and stderr) a monitor's plugins may write per
    /// window; the rest is dropped and counted in the evaluation.
    pub plugin_log_bytes_per_window: usize,
    /// Most features one monitor may watch.
    pub max_features_per_monitor: usize,
    /// Requests taking longer are cut off with 408.
    pub request_timeout_secs: u64,
    /// A client that has not sent its request headers by then is disconnected (slow loris).
    pub header_read_timeout_ms: u64,
    /// On SIGTERM, how long requests in flight may take to finish before their connections
    /// are closed.
    pub shutdown_grace_ms: u64,
    /// How often the monitoring loop looks for closed windows (ingestion also wakes it).
    pub tick_ms: u64,
    /// The API token the CLI client sends (also `VIGIL_TOKEN`).
    pub token: Option<String>,
    /// The daemon's address for the CLI client (also `VIGIL_URL`).
    pub url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://vigil.db".into(),
            listen: "127.0.0.1:8080".parse().expect("valid address"),
            plugin_body_limit: 32 << 20,
            ingest_body_limit: 16 << 20,
            ingest_max_rows: 10_000,
            ingest_max_in_flight: 16,
            ingest_max_in_flight_per_token: 4,
            ingest_wait_ms: 2_000,
            body_timeout_ms: 10_000,
            // Ingestion requests carry up to 10,000 records each, so 200 a second is more
            // than the daemon can store: the limit stops floods of tiny requests, not load.
            ingest_rate_per_second: 200.0,
            ingest_rate_burst: 400.0,
            // Enough to push a directory of plugins at once; each upload is compiled.
            upload_rate_per_second: 2.0,
            upload_rate_burst: 20.0,
            evaluation_workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            plugin_deadline_ms: 2_000,
            plugin_memory_mib: 64,
            plugin_instances: 1000,
            plugin_shared_instances: 32,
            plugin_log_bytes_per_window: 256 << 10,
            max_features_per_monitor: 500,
            request_timeout_secs: 30,
            header_read_timeout_ms: 10_000,
            shutdown_grace_ms: 10_000,
            tick_ms: 250,
            token: None,
            url: None,
        }
    }
}

impl Config {
    /// Reads `path` (or `VIGIL_CONFIG`, or `vigil.toml` when it exists), then the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let env_path = std::env::var_os("VIGIL_CONFIG").map(std::path::PathBuf::from);
        let path = path.map(Path::to_path_buf).or(env_path).or_else(|| {
            let default = Path::new("vigil.toml");
            default.exists().then(|| default.to_path_buf())
        });
        let mut config = match &path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn parse<T: std::str::FromStr>(name: &str, value: String) -> anyhow::Result<T>
        where
            T::Err: std::fmt::Display,
        {
            value
                .parse()
                .map_err(|e| anyhow::anyhow!("invalid {name} `{value}`: {e}"))
        }
        if let Some(v) = var("VIGIL_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = var("VIGIL_LISTEN") {
            self.listen = parse("VIGIL_LISTEN", v)?;
        }
        if let Some(v) = var("VIGIL_PLUGIN_BODY_LIMIT") {
            self.plugin_body_limit = parse("VIGIL_PLUGIN_BODY_LIMIT", v)?;
        }
        if let Some(v) = var("VIGIL_INGEST_BODY_LIMIT") {
            self.ingest_body_limit = parse("VIGIL_INGEST_BODY_LIMIT", v)?;
        }
        if let Some(v) = var("VIGIL_INGEST_MAX_ROWS") {
            self.ingest_max_rows = parse("VIGIL_INGEST_MAX_ROWS", v)?;
        }
        if let Some(v) = var("VIGIL_INGEST_MAX_IN_FLIGHT") {
            self.ingest_max_in_flight = parse("VIGIL_INGEST_MAX_IN_FLIGHT", v)?;
        }
        if let Some(v) = var("VIGIL_EVALUATION_WORKERS") {
            self.evaluation_workers = parse("VIGIL_EVALUATION_WORKERS", v)?;
        }
        if let Some(v) = var("VIGIL_PLUGIN_DEADLINE_MS") {
            self.plugin_deadline_ms = parse("VIGIL_PLUGIN_DEADLINE_MS", v)?;
        }
        if let Some(v) = var("VIGIL_PLUGIN_INSTANCES") {
            self.plugin_instances = parse("VIGIL_PLUGIN_INSTANCES", v)?;
        }
        if let Some(v) = var("VIGIL_MAX_FEATURES_PER_MONITOR") {
            self.max_features_per_monitor = parse("VIGIL_MAX_FEATURES_PER_MONITOR", v)?;
        }
        if let Some(v) = var("VIGIL_TICK_MS") {
            self.tick_ms = parse("VIGIL_TICK_MS", v)?;
        }
        if let Some(v) = var("VIGIL_TOKEN") {
            self.token = Some(v);
        }
        if let Some(v) = var("VIGIL_URL") {
            self.url = Some(v);
        }
        for (name, per_second, burst) in [
            (
                "ingest_rate",
                self.ingest_rate_per_second,
                self.ingest_rate_burst,
            ),
            (
                "upload_rate",
                self.upload_rate_per_second,
                self.upload_rate_burst,
            ),
        ] {
            anyhow::ensure!(
                per_second >= 0.0 && (per_second == 0.0 || burst >= 1.0),
                "{name}_per_second must be 0 (no limit) or more, with {name}_burst at least 1"
            );
        }
        anyhow::ensure!(
            self.ingest_max_in_flight > 0 && self.ingest_max_in_flight_per_token > 0,
            "ingest_max_in_flight and ingest_max_in_flight_per_token must be at least 1"
        );
        anyhow::ensure!(
            self.body_timeout_ms > 0,
            "body_timeout_ms must be at least 1"
        );
        anyhow::ensure!(
            self.evaluation_workers > 0,
            "evaluation_workers must be at least 1"
        );
        anyhow::ensure!(
            self.ingest_max_rows > 0,
            "ingest_max_rows must be at least 1"
        );
        anyhow::ensure!(
            self.plugin_shared_instances >= 1
                && self.plugin_shared_instances < self.plugin_instances,
            "plugin_shared_instances must be at least 1 and below plugin_instances"
        );
        anyhow::ensure!(
            self.max_features_per_monitor >= 1,
            "max_features_per_monitor must be at least 1"
        );
        Ok(())
    }

    /// Where the CLI client finds the daemon.
    pub fn client_url(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    pub fn runtime_config(&self) -> vigil_runtime::RuntimeConfig {
        let mut runtime = crate::runtime_config();
        runtime.deadline = std::time::Duration::from_millis(self.plugin_deadline_ms);
        runtime.memory_bytes = self.plugin_memory_mib << 20;
        runtime.pooled_instances = self.plugin_instances;
        runtime.shared_instances = self.plugin_shared_instances;
        runtime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file() {
        let mut config: Config = toml::from_str("listen = \"0.0.0.0:9000\"").unwrap();
        config
            .apply_env(|name| match name {
                "VIGIL_DATABASE_URL" => Some("postgres://db/vigil".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.database_url, "postgres://db/vigil");
        assert_eq!(config.listen.port(), 9000);
        assert!(
            config
                .apply_env(|n| (n == "VIGIL_LISTEN").then(|| "nowhere".into()))
                .is_err()
        );
        assert!(toml::from_str::<Config>("listne = \"x\"").is_err());
    }
}
