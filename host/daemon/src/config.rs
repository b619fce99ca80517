//! The daemon's configuration: defaults, then the TOML file, then `VIGIL_<NAME>` variables,
//! then `--set NAME=VALUE`, a later one winning. Every setting, its default and its meaning
//! are in `docs/configuration.md` (a test keeps the two in step).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
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
    /// The longest deadline a monitor may give one of its plugins (`limits.deadline_ms`).
    pub plugin_max_deadline_ms: u64,
    /// The largest memory cap a monitor may give one of its plugins (`limits.memory_mib`).
    pub plugin_max_memory_mib: usize,
    /// Plugin instances alive at once (the runtime's pool). Each monitor reserves what it
    /// needs (a preprocessor and a tested feature keep one each, plus one for its detectors and
    /// policy), so no monitor can take another's; a monitor that does not fit is refused.
    pub plugin_instances: u32,
    /// Of `plugin_instances`, those kept for uploads and replays; monitors share the rest.
    pub plugin_shared_instances: u32,
    /// Most instances one monitor keeps between windows; a wider monitor builds its drift
    /// tests per window, a few at a time (slower, never refused for its width).
    pub plugin_instances_per_monitor: u32,
    /// Bytes of log output (log records, stdout and stderr) a monitor's plugins may write per
    /// window; the rest is dropped and counted in the evaluation.
    pub plugin_log_bytes_per_window: usize,
    /// Public keys (minisign's base64 line, `RWQ…`) whose plugin signatures this daemon
    /// trusts.
    pub plugin_trusted_keys: Vec<String>,
    /// Whether every uploaded plugin must carry a signature by a trusted key (the standard
    /// plugins, which come with the binary, excepted).
    pub plugin_require_signed: bool,
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
    /// How long a replica's lease on a monitor lasts unrenewed (it renews every third of it):
    /// with several daemons on one database, a dead replica's monitors are taken over after
    /// at most this long and a third, plus a tick.
    pub lease_ttl_ms: u64,
    /// Retention: records no monitor still needs are pruned once they are beyond a model's
    /// newest `retention_keep_records` and were stored more than `retention_keep_seconds`
    /// ago, every `retention_interval_ms` (0: never).
    pub retention_keep_records: u64,
    pub retention_keep_seconds: u64,
    pub retention_interval_ms: u64,
    /// What runs retraining and rollouts: `local` (child processes, the embedded default),
    /// `kubernetes` (Jobs and Deployments in the cluster the daemon runs in, or the one
    /// `KUBECONFIG` names) or `off` (decisions are recorded, nothing runs).
    pub orchestrator: OrchestratorKind,
    /// Where the local backend keeps its runs' logs and the artifacts they write.
    pub run_dir: String,
    /// The URL retraining runs reach the daemon at (`VIGIL_URL` in their environment); default
    /// `http://` and the address the daemon listens on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Commands monitors may name for local retraining runs and model servers: only the
    /// operator defines what runs on this machine.
    pub commands: std::collections::BTreeMap<String, vigil_orchestrator::LocalCommand>,
    /// Kubernetes namespaces monitors may name for Jobs and rollouts.
    pub kubernetes_namespaces: Vec<String>,
    /// Image prefixes monitors may name for Jobs and rollouts (e.g. `registry.example.com/ml/`).
    pub kubernetes_images: Vec<String>,
    /// Service accounts monitors may name for Jobs.
    pub kubernetes_service_accounts: Vec<String>,
    /// A retraining run that has not finished by then has failed.
    pub training_timeout_secs: u64,
    /// A rollout not complete by then has failed, and is rolled back.
    pub rollout_timeout_secs: u64,
    /// How often the holder of a monitor's lease checks that the serving version's Kubernetes
    /// target still serves it, and brings it back (0: never).
    pub target_check_secs: u64,
    /// The API token the CLI client sends (`VIGIL_TOKEN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The daemon's address for the CLI client (`VIGIL_URL`); default `http://` and `listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrchestratorKind {
    Local,
    Kubernetes,
    Off,
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
            // Enough to push a directory of plugins at once, the standard set (22 plugins, and
            // growing, which `vigil demo` re-uploads) included; each upload is compiled, at most
            // two at a time.
            upload_rate_per_second: 2.0,
            upload_rate_burst: 50.0,
            evaluation_workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            plugin_deadline_ms: 2_000,
            plugin_memory_mib: 64,
            plugin_max_deadline_ms: 30_000,
            plugin_max_memory_mib: 512,
            plugin_instances: 1000,
            plugin_shared_instances: 32,
            plugin_instances_per_monitor: 256,
            plugin_log_bytes_per_window: 256 << 10,
            plugin_trusted_keys: Vec::new(),
            plugin_require_signed: false,
            max_features_per_monitor: 500,
            request_timeout_secs: 30,
            retention_keep_records: 1_000_000,
            retention_keep_seconds: 7 * 24 * 3600,
            retention_interval_ms: 60_000,
            header_read_timeout_ms: 10_000,
            shutdown_grace_ms: 10_000,
            tick_ms: 250,
            lease_ttl_ms: 15_000,
            orchestrator: OrchestratorKind::Local,
            run_dir: "vigil-runs".into(),
            public_url: None,
            commands: Default::default(),
            kubernetes_namespaces: Vec::new(),
            kubernetes_images: Vec::new(),
            kubernetes_service_accounts: Vec::new(),
            training_timeout_secs: 3600,
            rollout_timeout_secs: 600,
            target_check_secs: 60,
            token: None,
            url: None,
        }
    }
}

impl Config {
    /// The configuration from the file (`path`, else `$VIGIL_CONFIG`, else `vigil.toml` if
    /// present), the environment and `overrides` (`--set NAME=VALUE`), in that order.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> anyhow::Result<Config> {
        let env_path = std::env::var_os("VIGIL_CONFIG").map(std::path::PathBuf::from);
        let path = path.map(Path::to_path_buf).or(env_path).or_else(|| {
            let default = Path::new("vigil.toml");
            default.exists().then(|| default.to_path_buf())
        });
        let file = match &path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                let table: toml::Table = toml::from_str(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?;
                Some((path.display().to_string(), table))
            }
            None => None,
        };
        Config::layered(file, |name| std::env::var(name).ok(), overrides)
    }

    /// The defaults, then `file` (its name and table), then the variables `var` finds, then
    /// `overrides`; validated.
    fn layered(
        file: Option<(String, toml::Table)>,
        var: impl Fn(&str) -> Option<String>,
        overrides: &[String],
    ) -> anyhow::Result<Config> {
        let defaults = toml::Table::try_from(Config::default()).expect("the defaults serialize");
        let names: Vec<String> = defaults
            .keys()
            .cloned()
            .chain(["token", "url", "public_url"].map(String::from))
            .collect();
        let known = |name: &str, origin: &str| {
            if names.iter().any(|n| n == name) {
                Ok(())
            } else {
                bail!("{origin}: `{name}` is not a setting (see docs/configuration.md)")
            }
        };
        // Each setting's value and where it came from, for errors that name both.
        let mut given: Vec<(String, toml::Value, String)> = Vec::new();
        if let Some((origin, values)) = file {
            for (name, value) in values {
                known(&name, &origin)?;
                given.push((name, value, origin.clone()));
            }
        }
        for name in &names {
            let variable = format!("VIGIL_{}", name.to_uppercase());
            if let Some(text) = var(&variable) {
                given.push((
                    name.clone(),
                    typed_value(defaults.get(name), &text),
                    variable,
                ));
            }
        }
        for item in overrides {
            let Some((name, text)) = item.split_once('=') else {
                bail!("--set {item}: expected NAME=VALUE");
            };
            let name = name.trim();
            known(name, "--set")?;
            let value = typed_value(defaults.get(name), text.trim());
            given.push((name.to_string(), value, "--set".to_string()));
        }
        let mut table = defaults.clone();
        for (name, value, origin) in given {
            // Checked alone, over the defaults, so that an error names the setting.
            let mut alone = defaults.clone();
            alone.insert(name.clone(), value.clone());
            if let Err(error) = alone.try_into::<Config>() {
                bail!("{origin}: `{name}` = {value}: {}", error.message());
            }
            table.insert(name, value);
        }
        let config: Config = table.try_into().context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// Every check on the settings, in one place.
    pub fn validate(&self) -> anyhow::Result<()> {
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
        let at_least_one = [
            ("ingest_max_in_flight", self.ingest_max_in_flight),
            (
                "ingest_max_in_flight_per_token",
                self.ingest_max_in_flight_per_token,
            ),
            ("evaluation_workers", self.evaluation_workers),
            ("ingest_max_rows", self.ingest_max_rows),
            ("max_features_per_monitor", self.max_features_per_monitor),
            ("body_timeout_ms", self.body_timeout_ms as usize),
            ("plugin_deadline_ms", self.plugin_deadline_ms as usize),
            ("plugin_memory_mib", self.plugin_memory_mib),
            ("tick_ms", self.tick_ms as usize),
            ("lease_ttl_ms", self.lease_ttl_ms as usize),
            ("training_timeout_secs", self.training_timeout_secs as usize),
            ("rollout_timeout_secs", self.rollout_timeout_secs as usize),
        ];
        for (name, value) in at_least_one {
            anyhow::ensure!(value >= 1, "{name} must be at least 1");
        }
        anyhow::ensure!(
            self.plugin_max_deadline_ms >= self.plugin_deadline_ms
                && self.plugin_max_memory_mib >= self.plugin_memory_mib,
            "plugin_max_deadline_ms and plugin_max_memory_mib must be at least \
             plugin_deadline_ms and plugin_memory_mib"
        );
        anyhow::ensure!(
            self.lease_ttl_ms >= 300,
            "lease_ttl_ms must be at least 300 (leases are renewed every third of it)"
        );
        anyhow::ensure!(
            self.plugin_shared_instances >= 1
                && self.plugin_shared_instances < self.plugin_instances,
            "plugin_shared_instances must be at least 1 and below plugin_instances"
        );
        self.trust()?;
        Ok(())
    }

    /// The effective configuration as TOML, secrets hidden: the token, and the password in
    /// the database URL.
    pub fn shown(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = redact_url(&self.database_url);
        if shown.token.is_some() {
            shown.token = Some("(set)".into());
        }
        toml::to_string(&shown).expect("the configuration serializes")
    }

    /// The limits a monitor's plugins run under unless it sets others, and the most it may set.
    pub fn plugin_limits(&self) -> (vigil_runtime::Limits, vigil_runtime::Limits) {
        let defaults = self.runtime_config().limits();
        let maxima = vigil_runtime::Limits {
            deadline: std::time::Duration::from_millis(self.plugin_max_deadline_ms),
            memory_bytes: self.plugin_max_memory_mib << 20,
            ..defaults
        };
        (defaults, maxima)
    }

    /// The plugin signing keys this daemon trusts.
    pub fn trust(&self) -> anyhow::Result<crate::signing::Trust> {
        crate::signing::Trust::new(&self.plugin_trusted_keys, self.plugin_require_signed)
    }

    /// Where the CLI client finds the daemon.
    pub fn client_url(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    pub fn retention(&self) -> crate::retention::Policy {
        crate::retention::Policy {
            keep_records: self.retention_keep_records.min(i64::MAX as u64) as i64,
            keep_ms: self
                .retention_keep_seconds
                .saturating_mul(1000)
                .min(i64::MAX as u64) as i64,
            interval: Duration::from_millis(self.retention_interval_ms),
        }
    }

    pub fn runtime_config(&self) -> vigil_runtime::RuntimeConfig {
        let mut runtime = crate::runtime_config();
        runtime.deadline = std::time::Duration::from_millis(self.plugin_deadline_ms);
        runtime.memory_bytes = self.plugin_memory_mib << 20;
        runtime.max_memory_bytes = self.plugin_max_memory_mib << 20;
        runtime.pooled_instances = self.plugin_instances;
        runtime.shared_instances = self.plugin_shared_instances;
        runtime
    }
}

/// A value given as text, for a setting whose current value is `current`: text settings (and
/// those unset by default: the token and URL) take it as it is, so a token or password of
/// digits stays text; the others read it as a TOML value, or as text for a clear type error.
fn typed_value(current: Option<&toml::Value>, text: &str) -> toml::Value {
    if matches!(current, None | Some(toml::Value::String(_))) {
        return toml::Value::String(text.to_string());
    }
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut table| table.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// A database URL fit to print: its password (if any) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_file_then_the_environment_then_flags() {
        let file: toml::Table =
            toml::from_str("listen = \"0.0.0.0:9000\"\nplugin_instances = 100").unwrap();
        let config = Config::layered(
            Some(("vigil.toml".into(), file.clone())),
            env(&[
                ("VIGIL_DATABASE_URL", "postgres://db/vigil"),
                ("VIGIL_PLUGIN_INSTANCES", "200"),
                ("VIGIL_TOKEN", "vgl_x_y"),
            ]),
            &["plugin_instances=300".into()],
        )
        .unwrap();
        assert_eq!(config.database_url, "postgres://db/vigil");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.plugin_instances, 300);
        assert_eq!(config.token.as_deref(), Some("vgl_x_y"));
        // Every setting has its variable, not a chosen few.
        let config =
            Config::layered(None, env(&[("VIGIL_SHUTDOWN_GRACE_MS", "1500")]), &[]).unwrap();
        assert_eq!(config.shutdown_grace_ms, 1500);
        // Text settings stay text, even when they read as a number.
        let config = Config::layered(None, env(&[("VIGIL_TOKEN", "12345")]), &[]).unwrap();
        assert_eq!(config.token.as_deref(), Some("12345"));
    }

    #[test]
    fn unknown_names_and_bad_values_are_refused_naming_them() {
        let file: toml::Table = toml::from_str("listne = \"x\"").unwrap();
        let error = Config::layered(Some(("vigil.toml".into(), file)), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("`listne` is not a setting"), "{error}");
        let error = Config::layered(None, env(&[("VIGIL_LISTEN", "nowhere")]), &[])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("VIGIL_LISTEN: `listen` = \"nowhere\": invalid socket address"),
            "{error}"
        );
        let error = Config::layered(None, env(&[]), &["nope=1".into()])
            .unwrap_err()
            .to_string();
        assert!(error.contains("`nope`"), "{error}");
        let error = Config::layered(None, env(&[]), &["evaluation_workers=0".into()])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("evaluation_workers must be at least 1"),
            "{error}"
        );
    }

    #[test]
    fn shown_configuration_hides_secrets() {
        let config = Config {
            database_url: "postgres://vigil:PASSWORD@db:5432/vigil".into(),
            token: Some("vgl_abc_SECRET".into()),
            ..Config::default()
        };
        let shown = config.shown();
        assert!(
            !shown.contains("PASSWORD") && !shown.contains("SECRET"),
            "{shown}"
        );
        assert!(
            shown.contains("postgres://vigil:***@db:5432/vigil"),
            "{shown}"
        );
        let again: Config = toml::from_str(&shown).unwrap();
        assert_eq!(again.listen, config.listen);
    }

    #[test]
    fn the_clusters_config_file_and_a_table_of_commands_load() {
        let deploy =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/daemon/vigil.toml");
        let config = Config::load(Some(&deploy), &[]).unwrap();
        assert_eq!(config.orchestrator, OrchestratorKind::Kubernetes);
        assert_eq!(config.kubernetes_namespaces, ["models"]);
        assert_eq!(
            config.public_url.as_deref(),
            Some("http://vigil.vigil.svc:8080")
        );

        let file = r#"
            [commands.train]
            program = "/opt/model/bin/train"
            args = ["--quiet"]
            [commands.serve]
            program = "/opt/model/bin/serve"
            args = ["--port", "{port}"]
        "#;
        let table: toml::Table = toml::from_str(file).unwrap();
        let config = Config::layered(Some(("vigil.toml".into(), table)), |_| None, &[]).unwrap();
        assert_eq!(config.commands["serve"].args, ["--port", "{port}"]);
        // What `vigil config show` prints reads back as the same configuration.
        let again: Config = toml::from_str(&config.shown()).unwrap();
        assert_eq!(again.commands, config.commands);
        // A typo in a command's fields is refused, naming the setting.
        let table: toml::Table = toml::from_str("[commands.train]\nprogam = \"x\"").unwrap();
        let error = Config::layered(Some(("vigil.toml".into(), table)), |_| None, &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("commands"), "{error}");
    }

    #[test]
    fn every_setting_is_documented() {
        let docs = include_str!("../../../docs/configuration.md");
        let mut table = toml::Table::try_from(Config::default()).unwrap();
        table.insert("token".into(), "".into());
        table.insert("url".into(), "".into());
        for name in table.keys() {
            assert!(
                docs.contains(&format!("| `{name}` |")),
                "docs/configuration.md does not document `{name}`"
            );
        }
    }
}
