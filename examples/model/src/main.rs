//! The `vigil-model` command: `train` (a Vigil retraining run, or offline on a CSV file) and
//! `serve`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vigil_model::commands;

#[derive(Parser)]
#[command(
    name = "vigil-model",
    version,
    about = "A logistic-regression model for Vigil: train and serve"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train: as a Vigil retraining run, or offline on a CSV file with --csv.
    ///
    /// Without --csv, a retraining run configured by VIGIL_URL, VIGIL_TOKEN, VIGIL_MODEL,
    /// VIGIL_RUN_ID, VIGIL_WINDOW_START, VIGIL_WINDOW_END, VIGIL_ARTIFACT_DIR and optionally
    /// VIGIL_VERSION (docs/retraining.md): it reads the window's labeled records, writes
    /// model.json and registers the version. With --csv FILE --out DIR, it trains on a file
    /// with a `label` column and prints {"artifact_uri", "metrics"} as one JSON line.
    Train {
        /// A CSV file with a `label` column to train on, without Vigil.
        #[arg(long, requires = "out")]
        csv: Option<PathBuf>,
        /// Where to write model.json (a run's default: VIGIL_ARTIFACT_DIR).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Serve predictions over HTTP: GET /healthz, POST /predict.
    Serve {
        /// The port to listen on; 0 picks a free one (printed on the first line).
        #[arg(long)]
        port: u16,
        /// The artifact: file:///abs/path/model.json or a path.
        #[arg(long)]
        artifact: String,
        /// The version name to report in answers.
        #[arg(long)]
        version: String,
        /// The address to listen on; in a container, 0.0.0.0.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vigil-model: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Train {
                csv: Some(csv),
                out: Some(out),
            } => commands::train_offline(&csv, &out),
            Command::Train { csv: _, out } => commands::train_run(out).await,
            Command::Serve {
                port,
                artifact,
                version,
                host,
            } => commands::serve(&host, port, &artifact, version).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vigil-model: {error:#}");
            ExitCode::FAILURE
        }
    }
}
