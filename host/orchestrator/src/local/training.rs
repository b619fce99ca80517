//! Retraining runs: one child process per run, its output in `runs/<run>.log` and, once it has
//! ended by itself, its outcome in `runs/<run>.exit`. The exit record is what makes a run
//! idempotent across daemons: a run with one is over, a run without one and not running here
//! died with its daemon and is started again.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::process::Child;
use tokio::sync::{Mutex, watch};
use tracing::{info, warn};

use super::{Inner, check_name, io_error, process};
use crate::{Error, JobTemplate, Result, RunOutcome, TrainingRun};

/// Runs started by this backend, by name, with their outcome once they have ended.
#[derive(Default)]
pub(super) struct Runs {
    started: Mutex<HashMap<String, watch::Receiver<Option<RunOutcome>>>>,
}

/// `runs/<run>.exit`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
enum ExitRecord {
    Succeeded,
    Failed { reason: String },
}

impl Inner {
    pub(super) async fn start_training(self: &Arc<Self>, run: &TrainingRun) -> Result<()> {
        let JobTemplate::Local(template) = &run.job else {
            return Err(Error::Invalid(format!(
                "run {}: the local backend runs local commands, not Kubernetes Jobs",
                run.name
            )));
        };
        check_name("run", &run.name)?;
        check_name("model", &run.model)?;
        if template.program.is_empty() {
            return Err(Error::Invalid(format!(
                "run {}: no program to run",
                run.name
            )));
        }
        let mut started = self.runs.started.lock().await;
        if started.contains_key(&run.name) {
            return Ok(());
        }
        if read_exit_record(&self.exit_record(&run.name))?.is_some() {
            return Ok(());
        }
        self.check_running()?;

        let artifacts = self.dir.join("artifacts").join(&run.model).join(&run.name);
        std::fs::create_dir_all(&artifacts).map_err(|e| io_error("create", &artifacts, e))?;
        let log = self.run_log(&run.name);
        let mut env = run.env.clone();
        env.push((
            "VIGIL_ARTIFACT_DIR".into(),
            artifacts.to_string_lossy().into_owned(),
        ));
        let command = process::command(
            template,
            template.args.iter().cloned(),
            &self.settings.inherited_env,
            &env,
            &log,
        )
        .map_err(|e| io_error("open", &log, e))?;
        let child = self.spawner.spawn(command).await.map_err(|e| {
            // Not found or not executable is the configuration's fault; other errors may pass.
            let message = format!("run {}: cannot start `{}`: {e}", run.name, template.program);
            match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    Error::Invalid(message)
                }
                _ => Error::Unavailable(message),
            }
        })?;
        // The environment holds the run's token: only names and the program are logged.
        info!(
            run = %run.name, model = %run.model, program = %template.program,
            pid = child.id(), log = %log.display(), "started a training run"
        );
        let (outcome_tx, outcome) = watch::channel(None);
        started.insert(run.name.clone(), outcome);
        self.tasks
            .spawn(Arc::clone(self).wait_for_run(run.name.clone(), child, log, outcome_tx));
        Ok(())
    }

    /// Starts the run if nothing of it is known here (so a daemon that restarts mid-run and
    /// resumes at watching gets the run going again), then waits for its outcome.
    pub(super) async fn watch_training(self: &Arc<Self>, run: &TrainingRun) -> Result<RunOutcome> {
        self.start_training(run).await?;
        let running = self.runs.started.lock().await.get(&run.name).cloned();
        let Some(mut outcome) = running else {
            let record = self.exit_record(&run.name);
            return read_exit_record(&record)?.ok_or_else(|| {
                Error::Unavailable(format!("{} vanished while it was read", record.display()))
            });
        };
        let ended = outcome.wait_for(Option::is_some).await.map(|o| o.clone());
        match ended {
            Ok(Some(outcome)) => Ok(outcome),
            _ => Err(Error::Unavailable(format!(
                "run {} was stopped: the local backend is shutting down",
                run.name
            ))),
        }
    }

    /// Waits for the run's process; records how it ended, unless the backend stopped it.
    async fn wait_for_run(
        self: Arc<Self>,
        name: String,
        mut child: Child,
        log: PathBuf,
        outcome: watch::Sender<Option<RunOutcome>>,
    ) {
        let status = tokio::select! {
            // A run that ends as the backend stops counts as stopped: it runs again later
            // rather than risk an exit record for a run that did not finish.
            biased;
            () = self.stopping.cancelled() => None,
            status = child.wait() => Some(status),
        };
        let Some(status) = status else {
            let _ = process::stop(&mut child, self.settings.stop_grace).await;
            info!(run = %name, "stopped a training run: it starts again with the next daemon");
            return;
        };
        let result = match &status {
            Ok(status) if status.success() => RunOutcome::Succeeded,
            _ => RunOutcome::Failed {
                reason: process::ended(status, &log),
            },
        };
        match &result {
            RunOutcome::Succeeded => info!(run = %name, "training run succeeded"),
            RunOutcome::Failed { reason } => warn!(run = %name, %reason, "training run failed"),
        }
        let record = self.exit_record(&name);
        let written = tokio::task::spawn_blocking({
            let record = record.clone();
            let result = result.clone();
            move || write_exit_record(&record, &result)
        })
        .await;
        if !matches!(written, Ok(Ok(()))) {
            // Watchers still get the outcome; a later daemon, finding no record, runs it again.
            warn!(run = %name, record = %record.display(), "cannot write the run's exit record");
        }
        outcome.send_replace(Some(result));
    }

    fn run_log(&self, run: &str) -> PathBuf {
        self.dir.join("runs").join(format!("{run}.log"))
    }

    fn exit_record(&self, run: &str) -> PathBuf {
        self.dir.join("runs").join(format!("{run}.exit"))
    }
}

fn read_exit_record(path: &Path) -> Result<Option<RunOutcome>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("read", path, e)),
    };
    let record: ExitRecord = serde_json::from_slice(&bytes).map_err(|e| {
        Error::Unavailable(format!(
            "{} is not an exit record ({e}); remove it to run again",
            path.display()
        ))
    })?;
    Ok(Some(match record {
        ExitRecord::Succeeded => RunOutcome::Succeeded,
        ExitRecord::Failed { reason } => RunOutcome::Failed { reason },
    }))
}

/// Writes the record whole or not at all: a temporary file, synced, renamed over the record,
/// and the directory synced so that the rename survives a crash.
fn write_exit_record(path: &Path, outcome: &RunOutcome) -> std::io::Result<()> {
    let record = match outcome {
        RunOutcome::Succeeded => ExitRecord::Succeeded,
        RunOutcome::Failed { reason } => ExitRecord::Failed {
            reason: reason.clone(),
        },
    };
    let temporary = path.with_extension("exit.tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&serde_json::to_vec(&record)?)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
