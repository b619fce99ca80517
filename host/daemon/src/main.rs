//! `vigil`: the command-line entry point.

mod drift;
mod plugins;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use vigil_runtime::{Runtime, RuntimeConfig};

use crate::drift::{DriftOptions, InputError};
use crate::plugins::Registry;

/// Vigil watches machine-learning models in production for drift. Drift tests, preprocessors
/// and retraining policies are WebAssembly plugins run in a sandbox.
#[derive(Parser)]
#[command(name = "vigil", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare a current dataset with a reference, column by column.
    Drift(DriftArgs),
    /// Build and inspect plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(clap::Args)]
struct DriftArgs {
    /// The reference dataset (CSV with a header row).
    #[arg(long)]
    reference: PathBuf,
    /// The current dataset (CSV with the same columns).
    #[arg(long)]
    current: PathBuf,
    /// Columns to treat as categorical even if every value is a number.
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    categorical: Vec<String>,
    /// Drift test for numeric columns.
    #[arg(long, default_value = "ks", value_name = "NAME")]
    num_test: String,
    /// Drift test for categorical columns.
    #[arg(long, default_value = "chi2", value_name = "NAME")]
    cat_test: String,
    /// Drift test for one column, e.g. `--column-test age=psi` (repeatable).
    #[arg(long, value_name = "COLUMN=NAME", value_parser = key_value)]
    column_test: Vec<(String, String)>,
    /// JSON configuration for a test, e.g. `--config psi='{"threshold":0.2}'` (repeatable).
    #[arg(long, value_name = "TEST=JSON", value_parser = key_value)]
    config: Vec<(String, String)>,
    /// p-value below which a hypothesis test reports drift.
    #[arg(long, default_value_t = 0.05)]
    threshold: f64,
    /// Share of drifted columns at which the dataset counts as drifted.
    #[arg(long, default_value_t = 0.5)]
    drift_share: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// A directory of plugin components (`*.wasm`) to use beside the standard ones.
    #[arg(long, value_name = "DIR")]
    plugins: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Build a plugin crate into a WebAssembly component.
    Build {
        /// The plugin crate's directory (or its Cargo.toml).
        path: PathBuf,
        /// Where to write the component (default: `<target-dir>/components/<package>.wasm`).
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
    List,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got `{text}`"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vigil: {error:#}");
            if error.downcast_ref::<InputError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Drift(args) => {
            let registry = Registry::standard(Runtime::new(runtime_config())?);
            if let Some(dir) = &args.plugins {
                registry
                    .add_dir(dir)
                    .map_err(|e| InputError(format!("{e:#}")))?;
            }
            let options = DriftOptions {
                reference: args.reference,
                current: args.current,
                categorical: args.categorical,
                num_test: args.num_test,
                cat_test: args.cat_test,
                column_tests: args.column_test,
                test_configs: args.config,
                threshold: args.threshold,
                drift_share: args.drift_share,
            };
            let report = drift::run(&options, &registry)?;
            match args.format {
                Format::Table => print!("{}", report.to_table()),
                Format::Json => println!("{}", report.to_json()),
            }
            Ok(())
        }
        Command::Plugin(PluginCommand::Build {
            path,
            out,
            target_dir,
        }) => {
            let manifest = if path.is_dir() {
                path.join("Cargo.toml")
            } else {
                path.clone()
            };
            if !manifest.exists() {
                return Err(InputError(format!("{} has no Cargo.toml", path.display())).into());
            }
            let crate_dir = manifest.parent().unwrap_or(&path).to_path_buf();
            let request = vigil_plugin_build::BuildRequest {
                manifest_path: manifest,
                packages: Vec::new(),
                target_dir: target_dir.unwrap_or_else(|| crate_dir.join("target/wasm")),
            };
            let built = vigil_plugin_build::build(&request)?;
            let component = built.first().context("cargo built no plugin")?;
            let path = match out {
                Some(out) => {
                    std::fs::copy(&component.path, &out)
                        .with_context(|| format!("cannot write {}", out.display()))?;
                    out
                }
                None => component.path.clone(),
            };
            // Check what was built the way the host will when it is uploaded.
            let runtime = Runtime::new(runtime_config())?;
            let plugin = runtime.load(&std::fs::read(&path)?)?;
            let info = plugin.info();
            println!(
                "built {} {} ({:?}) -> {}",
                info.name,
                info.version,
                info.kind,
                path.display()
            );
            Ok(())
        }
        Command::Plugin(PluginCommand::Inspect { file }) => {
            let bytes =
                std::fs::read(&file).map_err(|e| InputError(format!("{}: {e}", file.display())))?;
            let runtime = Runtime::new(runtime_config())?;
            let plugin = runtime
                .load(&bytes)
                .map_err(|e| InputError(format!("{}: {e}", file.display())))?;
            println!("{}", info_json(plugin.info(), plugin.digest()));
            Ok(())
        }
        Command::Plugin(PluginCommand::List) => {
            let runtime = Runtime::new(runtime_config())?;
            for (_, bytes) in plugins::STANDARD_PLUGINS {
                let plugin = runtime.load(bytes)?;
                let info = plugin.info();
                println!(
                    "{:<24} {:<8} {:<13} {}",
                    info.name,
                    info.version,
                    format!("{:?}", info.kind),
                    info.description
                );
            }
            Ok(())
        }
    }
}

/// The runtime settings of every command: the defaults, plus the on-disk cache of compiled
/// plugins, so that only the first run after an install or upgrade pays for compilation.
fn runtime_config() -> RuntimeConfig {
    RuntimeConfig {
        cache_dir: cache_dir(),
        ..RuntimeConfig::default()
    }
}

/// `$VIGIL_CACHE_DIR`, else the XDG cache location (`$XDG_CACHE_HOME`, falling back to
/// `~/.cache`); `None` turns the cache off when none of them is set.
fn cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var("VIGIL_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("vigil/components"))
}

fn info_json(info: &vigil_runtime::PluginInfo, digest: &str) -> String {
    let schema: serde_json::Value =
        serde_json::from_str(&info.config_schema).unwrap_or(serde_json::Value::Null);
    serde_json::to_string_pretty(&serde_json::json!({
        "name": info.name,
        "version": info.version,
        "kind": format!("{:?}", info.kind),
        "description": info.description,
        "column_kinds": info.column_kinds.iter().map(|k| drift::kind_name(*k)).collect::<Vec<_>>(),
        "score": format!("{:?}", info.score),
        "config_schema": schema,
        "sha256": digest,
    }))
    .expect("info serializes")
}
