//! `vigil`: the command-line entry point.

use vigil::{client, commands, config, demo, drift, listing, plugins, runtime_config, server};

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use vigil_runtime::Runtime;

use vigil::drift::{DriftOptions, InputError};
use vigil::plugins::Registry;

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
    /// Build and inspect plugins, and push them to a daemon.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Run the daemon: the API and the monitoring loop.
    Serve {
        /// The TOML config file (default: `$VIGIL_CONFIG`, else `vigil.toml` if present).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
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
}

/// How a listing is printed.
#[derive(clap::Args)]
struct Output {
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once, as the last line of stdout.
    Create {
        /// What the token may do: `read` (reads), `ingest` (sends records and labels),
        /// `write` (also manages plugins, models and monitors) or `admin` (also tokens).
        #[arg(long, value_parser = |s: &str| s.parse::<server::auth::Role>())]
        role: server::auth::Role,
        /// A name to remember it by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// The daemon's TOML config file, for its `database_url` (default: `$VIGIL_CONFIG`,
        /// else `vigil.toml` if present, else `VIGIL_DATABASE_URL` or `sqlite://vigil.db`).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Create the SQLite database if it does not exist (to set up a daemon before its
        /// first start). Without it, a missing database is an error: the token would be
        /// written where no daemon reads it.
        #[arg(long)]
        create_database: bool,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
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
    /// Register a version of a model.
    Version {
        /// The model's name.
        model: String,
        /// The version's name (e.g. `v2` or `2026-12-01`).
        version: String,
    },
    /// Record which version serves the model.
    Serve {
        /// The model's name.
        model: String,
        /// A registered version.
        version: String,
    },
}

/// Where the monitor format is documented, for `--help`.
const MONITOR_FORMAT: &str = "The file is TOML (or JSON): the fields are documented in \
docs/monitors.md, with commented examples in examples/monitors/. A `reference_file` key names \
a CSV or NDJSON file (relative to the spec) of reference rows, stored with the monitor in one \
step: if it is refused, nothing is stored.";

#[derive(Subcommand)]
enum MonitorCommand {
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
    Standard,
    /// Upload components to the daemon.
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
        // Colour codes only for a person at a terminal, never into files and pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
    let async_runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
    };
    let client = || config::Config::load(None).and_then(|c| client::Client::from_config(&c));
    match command {
        Command::Serve { config } => {
            let config = config::Config::load(config.as_deref())?;
            async_runtime()?.block_on(commands::serve(config))
        }
        Command::Token(TokenCommand::Create {
            role,
            name,
            config,
            create_database,
        }) => {
            let config = config::Config::load(config.as_deref())?;
            async_runtime()?.block_on(commands::create_token(
                &config,
                role,
                &name,
                create_database,
            ))
        }
        Command::Demo { keep_serving } => async_runtime()?.block_on(demo::run(keep_serving)),
        Command::Replay { id, plugin } => {
            let client = client()?;
            async_runtime()?.block_on(async {
                let report = client
                    .post_json(
                        &format!("/v1/evaluations/{id}/replay"),
                        &serde_json::json!({"plugins": plugin}),
                    )
                    .await?;
                commands::print(&report);
                anyhow::ensure!(
                    report["same"] == serde_json::json!(true) || !plugin.is_empty(),
                    "the replay differs from the stored evaluation"
                );
                Ok(())
            })
        }
        Command::Ingest {
            file,
            model,
            batch_rows,
        } => {
            let client = client()?;
            let path = format!("/v1/models/{model}/records");
            async_runtime()?.block_on(commands::send_file(&client, &path, &file, batch_rows))
        }
        Command::Labels {
            file,
            model,
            batch_rows,
        } => {
            let client = client()?;
            let path = format!("/v1/models/{model}/labels");
            async_runtime()?.block_on(commands::send_file(&client, &path, &file, batch_rows))
        }
        Command::Plugin(PluginCommand::Push { files }) => {
            let client = client()?;
            async_runtime()?.block_on(commands::push_plugins(&client, &files))
        }
        Command::Plugin(PluginCommand::List { output }) => {
            let client = client()?;
            async_runtime()?.block_on(listing::show(
                &client,
                "/v1/plugins",
                output.json,
                listing::plugins,
            ))
        }
        Command::Plugin(PluginCommand::Delete { plugin }) => {
            let (name, version) = plugin
                .split_once('@')
                .ok_or_else(|| InputError(format!("`{plugin}`: expected NAME@VERSION")))?;
            let client = client()?;
            async_runtime()?.block_on(async {
                client
                    .send(
                        reqwest::Method::DELETE,
                        &format!("/v1/plugins/{name}/{version}"),
                        None,
                        &[],
                    )
                    .await?;
                eprintln!("deleted {name}@{version}");
                Ok(())
            })
        }
        Command::Alerts { monitor, output } => {
            let client = client()?;
            let path = match monitor {
                Some(monitor) => format!("/v1/alerts?monitor={monitor}"),
                None => "/v1/alerts".to_string(),
            };
            async_runtime()?.block_on(listing::show(&client, &path, output.json, listing::alerts))
        }
        Command::Model(command) => {
            let client = client()?;
            async_runtime()?.block_on(async {
                let value = match command {
                    ModelCommand::Create { name, task, description } => {
                        client
                            .post_json("/v1/models", &serde_json::json!({"name": name, "task": task, "description": description}))
                            .await?
                    }
                    ModelCommand::List { output } => {
                        return listing::show(&client, "/v1/models", output.json, listing::models)
                            .await;
                    }
                    ModelCommand::Version { model, version } => {
                        client
                            .post_json(&format!("/v1/models/{model}/versions"), &serde_json::json!({"version": version}))
                            .await?
                    }
                    ModelCommand::Serve { model, version } => {
                        client
                            .send(
                                reqwest::Method::PUT,
                                &format!("/v1/models/{model}/serving"),
                                Some(("application/json", serde_json::json!({"version": version}).to_string().into_bytes())),
                                &[],
                            )
                            .await?
                    }
                };
                commands::print(&value);
                Ok(())
            })
        }
        Command::Monitor(command) => {
            let client = client()?;
            async_runtime()?.block_on(async {
                match command {
                    MonitorCommand::Create { file } => {
                        commands::put_monitor(&client, &file, false).await
                    }
                    MonitorCommand::Update { file } => {
                        commands::put_monitor(&client, &file, true).await
                    }
                    MonitorCommand::Delete { name } => {
                        client
                            .send(
                                reqwest::Method::DELETE,
                                &format!("/v1/monitors/{name}"),
                                None,
                                &[],
                            )
                            .await?;
                        eprintln!("deleted monitor {name}");
                        Ok(())
                    }
                    MonitorCommand::Reference { name, file } => {
                        commands::upload_reference(&client, &name, &file).await
                    }
                    MonitorCommand::List { output } => {
                        listing::show(&client, "/v1/monitors", output.json, listing::monitors).await
                    }
                    MonitorCommand::Show { name } => {
                        commands::print(&client.get(&format!("/v1/monitors/{name}")).await?);
                        commands::print(
                            &client
                                .get(&format!("/v1/monitors/{name}/evaluations?limit=5"))
                                .await?,
                        );
                        Ok(())
                    }
                }
            })
        }
        Command::Status { output } => {
            let client = client()?;
            async_runtime()?.block_on(listing::show(
                &client,
                "/v1/status",
                output.json,
                listing::status,
            ))
        }
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
            anyhow::ensure!(
                report.failed_columns() < report.columns.len(),
                "the test of every column failed, so nothing was compared (see each column's error)"
            );
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
            anyhow::ensure!(!built.is_empty(), "cargo built no plugin");
            if out.is_some() && built.len() > 1 {
                return Err(InputError(format!(
                    "{} is a workspace of {} plugins; --out takes one",
                    path.display(),
                    built.len()
                ))
                .into());
            }
            // Check what was built the way the host will when it is uploaded: every member,
            // each reported, and a failure for any that would be refused.
            let runtime = Runtime::new(runtime_config())?;
            let mut refused = 0;
            for component in &built {
                let path = match &out {
                    Some(out) => {
                        std::fs::copy(&component.path, out)
                            .with_context(|| format!("cannot write {}", out.display()))?;
                        out.clone()
                    }
                    None => component.path.clone(),
                };
                match runtime.load(&std::fs::read(&path)?) {
                    Ok(plugin) => {
                        let info = plugin.info();
                        println!(
                            "built {} {} ({}) -> {}",
                            info.name,
                            info.version,
                            info.kind,
                            path.display()
                        );
                    }
                    Err(error) => {
                        refused += 1;
                        eprintln!("{}: {error}", component.package);
                    }
                }
            }
            anyhow::ensure!(
                refused == 0,
                "{refused} of {} plugins would be refused by the host",
                built.len()
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
        Command::Plugin(PluginCommand::Standard) => {
            let runtime = Runtime::new(runtime_config())?;
            for (_, bytes) in plugins::STANDARD_PLUGINS {
                let plugin = runtime.load(bytes)?;
                let info = plugin.info();
                println!(
                    "{:<24} {:<8} {:<13} {}",
                    info.name,
                    info.version,
                    info.kind.to_string(),
                    info.description
                );
            }
            Ok(())
        }
    }
}

fn info_json(info: &vigil_runtime::PluginInfo, digest: &str) -> String {
    let schema: serde_json::Value =
        serde_json::from_str(&info.config_schema).unwrap_or(serde_json::Value::Null);
    serde_json::to_string_pretty(&serde_json::json!({
        "name": info.name,
        "version": info.version,
        "kind": info.kind.name(),
        "description": info.description,
        "column_kinds": info.column_kinds.iter().map(|k| drift::kind_name(*k)).collect::<Vec<_>>(),
        "score": drift::score_name(info.score),
        "config_schema": schema,
        "sha256": digest,
    }))
    .expect("info serializes")
}
