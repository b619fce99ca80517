//! The `vigil` command line: its commands and arguments (the binary's `main.rs` runs them).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::server;

/// Vigil watches machine-learning models in production for drift. Drift tests, preprocessors
/// and retraining policies are WebAssembly plugins run in a sandbox.
#[derive(Parser)]
#[command(name = "vigil", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the daemon's settings come from, for the commands that read them all (the client
/// commands read the file and the environment: `VIGIL_URL`, `VIGIL_TOKEN`). `vigil drift` and
/// `vigil detect` read none, and their `--config` configures a test or a detector.
#[derive(clap::Args, Default)]
pub struct ConfigArgs {
    /// The TOML config file (default: `$VIGIL_CONFIG`, else `vigil.toml` if present).
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Set one setting, over the file and the environment (repeatable; `vigil config show`
    /// lists the names).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Compare a current dataset with a reference, column by column.
    Drift(DriftArgs),
    /// Run a streaming change detector over one column of a CSV file.
    Detect(DetectArgs),
    /// Measure how well the standard detectors and drift tests detect, on synthetic data.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Build and inspect plugins, and push them to a daemon.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Run the daemon: the API and the monitoring loop.
    Serve(ConfigArgs),
    /// The effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage API tokens (directly in the configured database).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Run the whole loop on a temporary database with a bundled dataset that drifts.
    Demo {
        /// Keep the daemon serving after the stream, until Ctrl-C.
        #[arg(long)]
        keep_serving: bool,
    },
    /// Re-run a stored evaluation and show whether it reaches the same results.
    Replay {
        /// The evaluation's id.
        id: i64,
        /// Use this plugin version instead of the stored one (repeatable).
        #[arg(long, value_name = "NAME@VERSION")]
        plugin: Vec<String>,
    },
    /// Send a CSV or NDJSON file of records to a model, in batches, with a progress bar.
    Ingest {
        /// The file (`.csv` or `.ndjson`).
        file: PathBuf,
        /// The model the records belong to.
        #[arg(long)]
        model: String,
        /// Records per request.
        #[arg(long, default_value_t = 5000)]
        batch_rows: usize,
    },
    /// Send a CSV or NDJSON file of true labels (`id`, `label`) for a model's records.
    Labels {
        /// The file (`.csv` or `.ndjson`).
        file: PathBuf,
        /// The model the records belong to.
        #[arg(long)]
        model: String,
        /// Labels per request.
        #[arg(long, default_value_t = 5000)]
        batch_rows: usize,
    },
    /// Models in the daemon's registry.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Monitors in the daemon.
    #[command(subcommand)]
    Monitor(MonitorCommand),
    /// The latest state of every monitor.
    Status {
        #[command(flatten)]
        output: Output,
    },
    /// Alerts, newest first.
    Alerts {
        /// Only this monitor's.
        #[arg(long)]
        monitor: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Actions (alert deliveries, retrainings) with their state, newest first.
    Actions {
        /// Only this monitor's.
        #[arg(long)]
        monitor: Option<String>,
        #[command(flatten)]
        output: Output,
    },
}

/// How a listing is printed.
#[derive(clap::Args)]
pub struct Output {
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (file, environment and --set), secrets hidden.
    Show(ConfigArgs),
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once, as the last line of stdout.
    Create {
        /// What the token may do: `read` (reads), `ingest` (sends records and labels),
        /// `write` (also manages plugins, models and monitors) or `admin` (also tokens).
        #[arg(long, value_parser = server::auth::mintable_role)]
        role: server::auth::Role,
        /// A name to remember it by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Create the SQLite database if it does not exist (to set up a daemon before its
        /// first start). Without it, a missing database is an error: the token would be
        /// written where no daemon reads it.
        #[arg(long)]
        create_database: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Register a model.
    Create {
        /// The model's name: letters, digits, `-`, `_` or `.`, starting with a letter or digit.
        name: String,
        /// `classification` (predictions are classes) or `regression` (numbers).
        #[arg(long)]
        task: String,
        /// What the model is, for people (at most 4096 bytes).
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List models.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Register a version of a model, as a candidate.
    Version {
        /// The model's name.
        model: String,
        /// The version's name (e.g. `v2` or `2026-12-01`).
        version: String,
        /// Where its artifact is (a path, `s3://…`, an image).
        #[arg(long, value_name = "URI", default_value = "")]
        artifact: String,
        /// A metric its training reported, e.g. `--metric accuracy=0.93` (repeatable).
        #[arg(long, value_name = "NAME=VALUE", value_parser = metric)]
        metric: Vec<(String, f64)>,
    },
    /// List a model's versions with their status, artifact and metrics.
    Versions {
        /// The model's name.
        model: String,
        #[command(flatten)]
        output: Output,
    },
    /// Roll a version out through the model's monitor with `actions.rollout`, through the
    /// promotion gate unless `--force`; prints the action (`vigil actions` follows it).
    Promote {
        /// The model's name.
        model: String,
        /// A registered version.
        version: String,
        /// Skip the promotion gate.
        #[arg(long)]
        force: bool,
        /// Why, for the registry and the action's record.
        #[arg(long, default_value = "")]
        reason: String,
        /// The monitor whose rollout target to use (default: the model's one that has one).
        #[arg(long)]
        monitor: Option<String>,
    },
    /// Roll the version that served before the current one out again.
    Rollback {
        /// The model's name.
        model: String,
        /// Why, for the registry and the action's record.
        #[arg(long, default_value = "")]
        reason: String,
        /// The monitor whose rollout target to use (default: the model's one that has one).
        #[arg(long)]
        monitor: Option<String>,
    },
    /// Record which registered version serves, without rolling anything out (for models Vigil
    /// does not deploy); the one serving before is retired.
    Serve {
        /// The model's name.
        model: String,
        /// A registered version.
        version: String,
    },
}

/// Where the monitor format is documented, for `--help`.
pub const MONITOR_FORMAT: &str = "The file is TOML (or JSON): the fields are documented in \
docs/monitors.md, with commented examples in examples/monitors/. A `reference_file` key names \
a CSV or NDJSON file (relative to the spec) of reference rows, stored with the monitor in one \
step: if it is refused, nothing is stored.";

#[derive(Subcommand)]
pub enum MonitorCommand {
    /// Create a monitor from a TOML (or JSON) spec.
    #[command(after_help = MONITOR_FORMAT)]
    Create {
        #[arg(long, short)]
        file: PathBuf,
    },
    /// Replace a monitor's spec (and, with `reference_file`, its reference).
    #[command(after_help = MONITOR_FORMAT)]
    Update {
        #[arg(long, short)]
        file: PathBuf,
    },
    /// Delete a monitor, its evaluations and alerts.
    Delete {
        /// The monitor's name.
        name: String,
    },
    /// Replace a monitor's reference with the rows of a CSV or NDJSON file.
    Reference {
        /// The monitor's name.
        name: String,
        /// The rows (`.csv`, `.ndjson`, or `.json` for a JSON array).
        file: PathBuf,
    },
    /// List monitors.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Show a monitor and its latest evaluations.
    Show {
        /// The monitor's name.
        name: String,
    },
    /// Try another plugin version on a live monitor: run it in shadow on the same windows,
    /// compare it with the pinned one, then promote or drop it.
    #[command(subcommand)]
    Shadow(ShadowCommand),
}

#[derive(Subcommand)]
pub enum ShadowCommand {
    /// Start running a candidate plugin in shadow on a monitor.
    Start {
        /// The monitor's name.
        monitor: String,
        /// The candidate: `name@version`, or `name` for its newest uploaded version.
        plugin: String,
        /// The plugin (by name) the candidate stands in for, when it is not another version
        /// of the same plugin (e.g. `--replaces drift-ks` for `drift-wasserstein`).
        #[arg(long)]
        replaces: Option<String>,
    },
    /// List a monitor's shadows with their summaries.
    List {
        /// The monitor's name.
        monitor: String,
        #[command(flatten)]
        output: Output,
    },
    /// Compare a shadow with the pinned plugin: its summary and its latest windows.
    Show {
        /// The monitor's name.
        monitor: String,
        /// The shadow's id.
        id: i64,
        /// How many of the latest windows to show.
        #[arg(long, default_value_t = 20)]
        windows: u32,
        #[command(flatten)]
        output: Output,
    },
    /// Pin the shadow's candidate in the monitor (a new revision) and end the shadow.
    Promote {
        /// The monitor's name.
        monitor: String,
        /// The shadow's id.
        id: i64,
    },
    /// End the shadow, leaving the monitor as it is.
    Drop {
        /// The monitor's name.
        monitor: String,
        /// The shadow's id.
        id: i64,
    },
}

#[derive(clap::Args)]
pub struct DriftArgs {
    /// The reference dataset (CSV with a header row).
    #[arg(long)]
    pub reference: PathBuf,
    /// The current dataset (CSV with the same columns).
    #[arg(long)]
    pub current: PathBuf,
    /// Columns to treat as categorical even if every value is a number.
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub categorical: Vec<String>,
    /// Drift test for numeric columns [default: `ks`]; `auto`: `ks` for references of up to
    /// 1000 rows, `wasserstein_norm` above.
    #[arg(long, value_name = "NAME")]
    pub num_test: Option<String>,
    /// Drift test for categorical columns [default: `chi2`]; `auto`: `chi2` for references of
    /// up to 1000 rows, `js` above.
    #[arg(long, value_name = "NAME")]
    pub cat_test: Option<String>,
    /// Drift test for one column, e.g. `--column-test age=psi` (repeatable).
    #[arg(long, value_name = "COLUMN=NAME", value_parser = key_value)]
    pub column_test: Vec<(String, String)>,
    /// A multivariate drift test over the numeric columns together, e.g. `--multivariate mmd`
    /// (`mmd`, `pca`, or a multivariate plugin's full name; repeatable). Reported beside the
    /// columns as `NAME(col1,col2,…)`.
    #[arg(long, value_name = "NAME")]
    pub multivariate: Vec<String>,
    /// The columns the multivariate tests compare [default: every numeric column].
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub multivariate_columns: Option<Vec<String>>,
    /// JSON configuration for a test, e.g. `--config psi='{"threshold":0.2}'` (repeatable).
    #[arg(long, value_name = "TEST=JSON", value_parser = key_value)]
    pub config: Vec<(String, String)>,
    /// p-value below which a hypothesis test reports drift.
    #[arg(long, default_value_t = 0.05)]
    pub threshold: f64,
    /// Share of drifted columns at which the dataset counts as drifted.
    #[arg(long, default_value_t = 0.5)]
    pub drift_share: f64,
    /// Output format: `html` is one self-contained page with a plot per column.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A directory of plugin components (`*.wasm`) to use beside the standard ones.
    #[arg(long, value_name = "DIR")]
    pub plugins: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Html,
}

#[derive(clap::Args)]
pub struct DetectArgs {
    /// The data (CSV with a header row), in stream order.
    #[arg(long)]
    pub input: PathBuf,
    /// The column to watch; its values must be numbers (or missing).
    #[arg(long)]
    pub column: String,
    /// The detector: adwin, page-hinkley, kswin, ddm, eddm, hddm-a, hddm-w, cusum, or a
    /// detector plugin's full name.
    #[arg(long, value_name = "NAME")]
    pub detector: String,
    /// The detector's JSON configuration, e.g. `{"delta": 0.01}` (default: its defaults).
    #[arg(long, value_name = "JSON")]
    pub config: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// A directory of plugin components (`*.wasm`) to use beside the standard ones.
    #[arg(long, value_name = "DIR")]
    pub plugins: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Detection delay, false alarms, misses and throughput of every standard detector on the
    /// SEA, STAGGER, hyperplane, sine and Agrawal streams, and every drift test's detection rate
    /// on shifts of known size; prints tables and writes JSON, CSV and the streams into --out.
    Detectors(BenchDetectorsArgs),
}

#[derive(clap::Args)]
pub struct BenchDetectorsArgs {
    /// Where to write `bench.json`, `detectors.csv`, `drift_tests.csv` and `streams/`.
    #[arg(long, value_name = "DIR", default_value = "bench-detectors")]
    pub out: PathBuf,
    /// Seed of every generated stream and sample: the same seed writes the same streams.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A small run (seconds): one repetition, short segments, few windows.
    #[arg(long)]
    pub quick: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Start a plugin project: a working example of the kind, its tests and a README, with the
    /// SDK copied in so it builds anywhere.
    New {
        /// The language to write it in.
        #[arg(long, value_enum, default_value_t = PluginLang::Python)]
        lang: PluginLang,
        /// The kind of plugin.
        #[arg(value_enum)]
        kind: PluginKindArg,
        /// Its name (lowercase letters, digits, `-` and `_`), also the project's.
        name: String,
        /// Where to write it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build a plugin project into a WebAssembly component: a Rust crate, or a Python project
    /// (a pyproject.toml with [tool.vigil]).
    Build {
        /// The project's directory (or a Rust crate's Cargo.toml).
        path: PathBuf,
        /// Where to write the component (default: `<target-dir>/components/<package>.wasm`
        /// for Rust, `build/<name>.wasm` for Python).
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// cargo's target directory for the wasm build (default: `<crate>/target/wasm`).
        #[arg(long)]
        target_dir: Option<PathBuf>,
    },
    /// Check a component and print what it says about itself, as JSON.
    Inspect {
        /// The component file.
        file: PathBuf,
    },
    /// List the standard plugins built into this binary.
    Standard,
    /// Make a key pair for signing plugins: NAME.key (secret) and NAME.pub, in minisign's
    /// formats. Prints the public key to list in the daemon's `plugin_trusted_keys`.
    Keygen {
        /// Path and name of the two files, without extension.
        name: PathBuf,
        /// Encrypt the secret key with the password in VIGIL_SIGNING_PASSWORD.
        #[arg(long)]
        encrypt: bool,
    },
    /// Sign components: writes FILE.minisig beside each FILE, a detached minisign signature
    /// (`minisign -Vm FILE -P KEY` verifies it too).
    Sign {
        /// The secret key (from `vigil plugin keygen`, or `minisign -G`); an encrypted one
        /// takes its password from VIGIL_SIGNING_PASSWORD, else from the terminal.
        #[arg(long)]
        key: PathBuf,
        /// Component files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Upload components to the daemon, each with its signature (FILE.minisig) if it has one.
    Push {
        /// Component files (`*.wasm`, as `vigil plugin build` makes them).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the plugins stored in the daemon.
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Delete a plugin version from the daemon (refused while a monitor uses it).
    Delete {
        #[arg(value_name = "NAME@VERSION")]
        plugin: String,
    },
}

/// The languages `vigil plugin new` writes plugins in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PluginLang {
    Python,
    Rust,
}

/// The kinds of plugin `vigil plugin new` starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PluginKindArg {
    DriftTest,
    Detector,
    Preprocessor,
    Policy,
}

impl PluginKindArg {
    /// The kind's name, as `[tool.vigil] kind` and the API write it.
    pub fn name(self) -> &'static str {
        match self {
            PluginKindArg::DriftTest => "drift-test",
            PluginKindArg::Detector => "detector",
            PluginKindArg::Preprocessor => "preprocessor",
            PluginKindArg::Policy => "policy",
        }
    }
}

/// `NAME=VALUE` with a finite number for VALUE.
pub fn metric(text: &str) -> Result<(String, f64), String> {
    let (name, value) = key_value(text)?;
    match value.parse::<f64>() {
        Ok(number) if number.is_finite() => Ok((name, number)),
        _ => Err(format!("`{value}` is not a finite number")),
    }
}

pub fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got `{text}`"))
}
