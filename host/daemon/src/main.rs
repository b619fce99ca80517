//! `vigil`: the command-line entry point.

use vigil::cli::{
    BenchCommand, Cli, Command, ConfigArgs, ConfigCommand, Format, ModelCommand, MonitorCommand,
    PluginCommand, ReportFormat, TokenCommand,
};
use vigil::{
    bench, client, commands, config, demo, detect, drift, listing, plugins, runtime_config,
};

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use vigil_runtime::Runtime;

use vigil::drift::{DriftOptions, InputError};
use vigil::plugins::Registry;

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
    match run(cli) {
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

fn run(cli: Cli) -> anyhow::Result<()> {
    let load_config = |args: &ConfigArgs| config::Config::load(args.config.as_deref(), &args.set);
    let async_runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
    };
    let client =
        || load_config(&ConfigArgs::default()).and_then(|c| client::Client::from_config(&c));
    match cli.command {
        Command::Serve(args) => async_runtime()?.block_on(commands::serve(load_config(&args)?)),
        Command::Config(ConfigCommand::Show(args)) => {
            print!("{}", load_config(&args)?.shown());
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            role,
            name,
            create_database,
            config,
        }) => {
            let config = load_config(&config)?;
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
        Command::Plugin(PluginCommand::New {
            lang,
            kind,
            name,
            dir,
        }) => {
            let dir = vigil::scaffold::new_project(lang, kind, &name, dir.as_deref())
                .map_err(|e| InputError(format!("{e:#}")))?;
            println!("{}", dir.display());
            Ok(())
        }
        Command::Plugin(PluginCommand::Keygen { name, encrypt }) => {
            commands::generate_signing_keys(&name, encrypt)
        }
        Command::Plugin(PluginCommand::Sign { key, files }) => commands::sign_plugins(&key, &files),
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
            let path = listing::of_monitor("/v1/alerts", monitor.as_deref());
            async_runtime()?.block_on(listing::show(
                &client()?,
                &path,
                output.json,
                listing::alerts,
            ))
        }
        Command::Actions { monitor, output } => {
            let path = listing::of_monitor("/v1/actions", monitor.as_deref());
            async_runtime()?.block_on(listing::show(
                &client()?,
                &path,
                output.json,
                listing::actions,
            ))
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
                    ModelCommand::Version { model, version, artifact, metric } => {
                        let metrics: serde_json::Map<String, serde_json::Value> =
                            metric.into_iter().map(|(name, value)| (name, value.into())).collect();
                        client
                            .post_json(
                                &format!("/v1/models/{model}/versions"),
                                &serde_json::json!({"version": version, "artifact_uri": artifact, "metrics": metrics}),
                            )
                            .await?
                    }
                    ModelCommand::Versions { model, output } => {
                        let path = format!("/v1/models/{model}/versions");
                        return listing::show(&client, &path, output.json, listing::versions).await;
                    }
                    ModelCommand::Promote { model, version, force, reason, monitor } => {
                        client
                            .post_json(
                                &format!("/v1/models/{model}/versions/{version}/promote"),
                                &serde_json::json!({"force": force, "reason": reason, "monitor": monitor}),
                            )
                            .await?
                    }
                    ModelCommand::Rollback { model, reason, monitor } => {
                        client
                            .post_json(
                                &format!("/v1/models/{model}/rollback"),
                                &serde_json::json!({"reason": reason, "monitor": monitor}),
                            )
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
                    MonitorCommand::Shadow(command) => commands::shadow(&client, command).await,
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
                multivariate: args.multivariate,
                multivariate_columns: args.multivariate_columns,
                test_configs: args.config,
                threshold: args.threshold,
                drift_share: args.drift_share,
                plots: args.format == ReportFormat::Html,
            };
            let report = drift::run(&options, &registry)?;
            let text = match args.format {
                ReportFormat::Table => report.to_table(),
                ReportFormat::Json => report.to_json() + "\n",
                ReportFormat::Html => report.to_html(),
            };
            match &args.output {
                Some(path) => std::fs::write(path, text)
                    .with_context(|| format!("cannot write the report to {}", path.display()))?,
                None => print!("{text}"),
            }
            anyhow::ensure!(
                report.failed_columns() < report.columns.len()
                    || report.multivariate.iter().any(|m| m.outcome.is_ok()),
                "the test of every column failed, so nothing was compared (see each column's error)"
            );
            Ok(())
        }
        Command::Bench(BenchCommand::Detectors(args)) => {
            let registry = Registry::standard(Runtime::new(runtime_config())?);
            let options = bench::BenchOptions {
                out: args.out,
                seed: args.seed,
                quick: args.quick,
            };
            let report = bench::run(&options, &registry)?;
            print!("{}", bench::report::to_table(&report));
            println!("\nwrote {}", options.out.display());
            Ok(())
        }
        Command::Detect(args) => {
            let registry = Registry::standard(Runtime::new(runtime_config())?);
            if let Some(dir) = &args.plugins {
                registry
                    .add_dir(dir)
                    .map_err(|e| InputError(format!("{e:#}")))?;
            }
            let options = detect::DetectOptions {
                input: args.input,
                column: args.column,
                detector: args.detector,
                config: args.config,
            };
            let found = detect::run(&options, &registry)?;
            match args.format {
                Format::Table => print!("{}", found.to_table(&options.column)),
                Format::Json => println!("{}", found.to_json()),
            }
            Ok(())
        }
        Command::Plugin(PluginCommand::Build {
            path,
            out,
            target_dir,
        }) => {
            if let Some(project) = vigil_plugin_build::PythonProject::read(&path)? {
                return build_python_plugin(&project, out);
            }
            let manifest = if path.is_dir() {
                path.join("Cargo.toml")
            } else {
                path.clone()
            };
            if !manifest.exists() {
                return Err(InputError(format!(
                    "{} has no Cargo.toml (a Rust plugin) nor a pyproject.toml with [tool.vigil] \
                     (a Python plugin)",
                    path.display()
                ))
                .into());
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

/// `vigil plugin build` of a Python project: built with componentize-py, then checked the way
/// the host will check it when it is uploaded.
fn build_python_plugin(
    project: &vigil_plugin_build::PythonProject,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let build = project.dir.join("build");
    let out = out.unwrap_or_else(|| build.join(format!("{}.wasm", project.name)));
    let tools = vigil::tools_dir().ok_or_else(|| {
        anyhow::anyhow!("set VIGIL_CACHE_DIR or HOME: componentize-py is installed under it")
    })?;
    vigil_plugin_build::build_python(project, &out, &build.join("vigil"), &tools)?;
    let runtime = Runtime::new(runtime_config())?;
    let plugin = runtime
        .load(&std::fs::read(&out)?)
        .with_context(|| format!("{} would be refused by the host", out.display()))?;
    let info = plugin.info();
    anyhow::ensure!(
        info.kind.name() == project.kind,
        "[tool.vigil] says kind = \"{}\", but {} is a {} plugin",
        project.kind,
        project.class,
        info.kind.name()
    );
    println!(
        "built {} {} ({}) -> {}",
        info.name,
        info.version,
        info.kind,
        out.display()
    );
    Ok(())
}
