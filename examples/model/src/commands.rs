//! The subcommands' work, so that `main.rs` only parses arguments.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::dataset::Dataset;
use crate::model::Model;
use crate::protocol::{self, Api, Run};
use crate::serve::{self, Served};
use crate::training::{self, Trained};

/// The artifact's file name in the artifact directory.
pub const ARTIFACT_FILE: &str = "model.json";

/// `train --csv FILE --out DIR`: trains on a CSV file and prints
/// `{"artifact_uri": …, "metrics": {…}}` as one JSON line.
pub fn train_offline(csv: &Path, out: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::open(csv).with_context(|| format!("opening {}", csv.display()))?;
    let dataset = Dataset::from_csv(std::io::BufReader::new(file))
        .with_context(|| format!("reading {}", csv.display()))?;
    let trained = train_and_report(&dataset)?;
    let uri = write_artifact(&trained.model, out)?;
    println!(
        "{}",
        json!({"artifact_uri": uri, "metrics": trained.metrics})
    );
    Ok(())
}

/// `train` as a Vigil retraining run: reads the run's labeled records, trains, writes the
/// artifact and registers the version (docs/retraining.md).
pub async fn train_run(out: Option<PathBuf>) -> anyhow::Result<()> {
    let run = Run::from_env()?;
    let Some(dir) = out.or_else(|| run.artifact_dir.clone()) else {
        bail!("no place for the artifact: set VIGIL_ARTIFACT_DIR or pass --out DIR");
    };
    let version = run.version();
    eprintln!(
        "run {}: training model `{}` on records {}..{} from {}",
        run.run_id, run.model, run.window_start, run.window_end, run.url
    );
    let api = Api::new(run)?;
    let csv = api.labeled_records().await?;
    let dataset = Dataset::from_csv(csv.as_bytes()).context("reading the labeled records")?;
    if dataset.is_empty() {
        let run = api.run();
        bail!(
            "no labeled records in {}..{} of model `{}`: nothing to train on",
            run.window_start,
            run.window_end,
            run.model
        );
    }
    let trained = train_and_report(&dataset)?;
    let uri = write_artifact(&trained.model, &dir)?;
    let body = protocol::version_body(api.run(), &version, &uri, &trained.metrics);
    api.register(&version, &body).await?;
    eprintln!(
        "registered version `{version}` of model `{}` ({uri})",
        api.run().model
    );
    Ok(())
}

fn train_and_report(dataset: &Dataset) -> anyhow::Result<Trained> {
    if dataset.unlabeled > 0 {
        eprintln!("left out {} records without a label", dataset.unlabeled);
    }
    let trained = training::train(dataset)?;
    let m = &trained.metrics;
    eprintln!(
        "trained on {} labeled records: holdout ({} newest) accuracy {:.4}{}",
        m.training_records,
        m.holdout_records,
        m.accuracy,
        m.roc_auc
            .map(|auc| format!(", ROC AUC {auc:.4}"))
            .unwrap_or_default()
    );
    Ok(trained)
}

/// Writes `model.json` into `dir` (created if need be) and returns its `file://` URI.
fn write_artifact(model: &Model, dir: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the artifact directory {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    let path = dir.join(ARTIFACT_FILE);
    model.save(&path)?;
    let uri = reqwest::Url::from_file_path(&path)
        .map_err(|()| anyhow::anyhow!("{} has no file URI", path.display()))?;
    Ok(uri.to_string())
}

/// `serve`: loads the artifact, then answers on `host:port` until SIGTERM or Ctrl-C.
pub async fn serve(host: &str, port: u16, artifact: &str, version: String) -> anyhow::Result<()> {
    let path = serve::artifact_path(artifact)?;
    let model = Model::load(&path)?;
    let shutdown = serve::shutdown_signal()?;
    let (listener, address) = serve::bind(host, port).await?;
    // The first line on stdout says where it listens (tests and scripts read it; port 0 picks).
    println!("vigil-model: serving version {version} on http://{address}");
    let served = Arc::new(Served { model, version });
    serve::serve(served, listener, shutdown).await?;
    eprintln!("vigil-model: stopped");
    Ok(())
}
