//! The local backend: retraining runs and served model versions as child processes of the
//! daemon, for a machine without a cluster (see docs/orchestration.md, "Local backend").
//!
//! - `process`: how a child starts (no shell, a clean environment, its own process group,
//!   killed with the daemon) and how it stops.
//! - `training`: runs, their logs and exit records.
//! - `serving`: the route per model, blue/green rollouts and draining.
//! - `supervise`: one task per served version: first start, health check, restarts.

mod process;
mod serving;
mod supervise;
mod training;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{
    BoxFuture, Error, Orchestrator, Result, Rollout, RolloutOutcome, RunOutcome, TrainingRun,
    Upstream,
};

/// Timeouts and the environment of the local backend's children.
#[derive(Clone, Debug)]
pub struct LocalSettings {
    /// How long a new serving process has to answer its health check with `200`.
    pub health_timeout: Duration,
    /// How long a replaced version keeps its process for requests still in flight on it.
    pub drain_timeout: Duration,
    /// How long a stopping process has between `SIGTERM` and `SIGKILL`.
    pub stop_grace: Duration,
    /// The longest wait between restarts of a serving process that keeps exiting.
    pub restart_backoff_cap: Duration,
    /// The variables of the daemon's environment its children keep; every other one (the
    /// daemon's database URL and tokens among them) is left out.
    pub inherited_env: Vec<String>,
}

impl Default for LocalSettings {
    fn default() -> Self {
        LocalSettings {
            health_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(10),
            restart_backoff_cap: Duration::from_secs(30),
            inherited_env: ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// The local process backend. Runs and served versions are children of this process: they
/// die with it (`PR_SET_PDEATHSIG` on Linux), and [`Local::shutdown`] stops them. Dropping a
/// `Local` stops them too, without waiting.
///
/// Files under its data directory:
/// - `runs/<run>.log`: a run's stdout and stderr; `runs/<run>.exit`: how it ended;
/// - `artifacts/<model>/<run>/`: the run's `VIGIL_ARTIFACT_DIR`;
/// - `serving/<model>/<version>.log`: the serving processes' stdout and stderr.
pub struct Local {
    inner: Arc<Inner>,
}

/// What the backend's tasks share.
struct Inner {
    dir: PathBuf,
    settings: LocalSettings,
    spawner: process::Spawner,
    /// Health checks.
    http: reqwest::Client,
    runs: training::Runs,
    models: serving::Models,
    /// Cancelled on shutdown: every task stops its child and ends.
    stopping: CancellationToken,
    tasks: TaskTracker,
}

impl Local {
    /// A backend keeping its files under `dir` (created if needed).
    pub fn new(dir: impl Into<PathBuf>, settings: LocalSettings) -> Result<Local> {
        let dir = dir.into();
        for sub in ["runs", "artifacts", "serving"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|e| io_error("create", &path, e))?;
        }
        let spawner = process::Spawner::new()
            .map_err(|e| Error::Unavailable(format!("cannot start a thread: {e}")))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| Error::Unavailable(format!("cannot build an HTTP client: {e}")))?;
        Ok(Local {
            inner: Arc::new(Inner {
                dir,
                settings,
                spawner,
                http,
                runs: training::Runs::default(),
                models: serving::Models::default(),
                stopping: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        })
    }

    /// The directory it keeps its files in.
    pub fn data_dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Stops every child (`SIGTERM`, then `SIGKILL` after the grace) and waits until they are
    /// gone. Runs stopped here write no exit record, so the next daemon starts them again.
    /// Afterwards no model is served and every operation answers [`Error::Unavailable`].
    pub async fn shutdown(&self) {
        self.inner.stopping.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        self.inner.models.clear();
    }
}

impl Drop for Local {
    /// Tells every task to stop its child. Without a runtime left to run them, the children
    /// are killed as their handles drop.
    fn drop(&mut self) {
        self.inner.stopping.cancel();
    }
}

impl Orchestrator for Local {
    fn start_training<'a>(&'a self, run: &'a TrainingRun) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.inner.start_training(run))
    }

    fn watch_training<'a>(&'a self, run: &'a TrainingRun) -> BoxFuture<'a, Result<RunOutcome>> {
        Box::pin(self.inner.watch_training(run))
    }

    fn roll_out<'a>(&'a self, rollout: &'a Rollout) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.inner.roll_out(rollout))
    }

    fn watch_rollout<'a>(
        &'a self,
        rollout: &'a Rollout,
        deadline: Duration,
    ) -> BoxFuture<'a, Result<RolloutOutcome>> {
        Box::pin(self.inner.watch_rollout(rollout, deadline))
    }

    fn roll_back<'a>(
        &'a self,
        _failed: &'a Rollout,
        previous: &'a Rollout,
    ) -> BoxFuture<'a, Result<()>> {
        // Switching to `previous` drains and stops `failed` if it was serving.
        Box::pin(self.inner.roll_out(previous))
    }

    fn upstream(&self, model: &str) -> Option<Upstream> {
        self.inner.models.upstream(model)
    }
}

impl Inner {
    fn check_running(&self) -> Result<()> {
        if self.stopping.is_cancelled() {
            return Err(Error::Unavailable(
                "the local backend is shutting down".into(),
            ));
        }
        Ok(())
    }
}

/// Model, version and run names become file names: 1 to 128 ASCII letters, digits, `-`, `_`
/// or `.`, starting with a letter or digit (the API's rule for names).
fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{what} `{name}` must be 1 to 128 letters, digits, `-`, `_` or `.`, starting with a \
             letter or digit"
        )))
    }
}

fn io_error(action: &str, path: &Path, error: std::io::Error) -> Error {
    Error::Unavailable(format!("cannot {action} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_the_data_directory_are_refused() {
        for name in ["churn", "v1.2", "run_3-a", "9lives"] {
            assert!(check_name("model", name).is_ok(), "{name}");
        }
        for name in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            ".hidden",
            "ü",
            &"x".repeat(129),
        ] {
            assert!(check_name("model", name).is_err(), "{name:?}");
        }
    }
}
