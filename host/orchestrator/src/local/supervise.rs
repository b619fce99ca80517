//! One task per served version: starts its process, waits for its health check, then keeps it
//! running (restarting it with capped backoff when it exits by itself) until told to stop.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Child;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{info, warn};

use super::serving::Instance;
use super::{Inner, process};
use crate::LocalCommand;

/// What starts a version's process.
pub(super) struct Launch {
    pub model: String,
    pub command: LocalCommand,
    pub health_path: String,
    /// `{artifact}`'s value.
    pub artifact: String,
    pub log: PathBuf,
}

/// How one start of the process went.
enum Start {
    Healthy(Child, u16),
    /// It exited, or could not be started, before it was healthy.
    Exited(String),
    /// It ran but did not answer its health check with `200` in time; it was stopped.
    NotHealthy(String),
    /// The instance was told to stop meanwhile.
    Stopped,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);

impl Inner {
    /// Starts the version (a second time on a new port if the first process exits before it
    /// is healthy: someone may have taken its port), tells `ready` how that went, then keeps
    /// the process up until `instance.stop`.
    pub(super) async fn supervise(
        self: Arc<Self>,
        instance: Arc<Instance>,
        launch: Launch,
        ready: oneshot::Sender<Result<(), String>>,
    ) {
        let mut start = self.start(&instance, &launch).await;
        if let Start::Exited(_) = start {
            start = self.start(&instance, &launch).await;
        }
        let mut child = match start {
            Start::Healthy(child, port) => {
                instance.serve_at(port);
                let _ = ready.send(Ok(()));
                child
            }
            Start::Exited(reason) | Start::NotHealthy(reason) => {
                let _ = ready.send(Err(reason));
                return;
            }
            Start::Stopped => {
                let _ = ready.send(Err("stopped before it was healthy".into()));
                return;
            }
        };

        let mut backoff = FIRST_BACKOFF;
        loop {
            let since = Instant::now();
            let status = tokio::select! {
                () = instance.stop.cancelled() => None,
                status = child.wait() => Some(status),
            };
            let Some(status) = status else {
                instance.set_down();
                let status = process::stop(&mut child, self.settings.stop_grace).await;
                info!(
                    model = %launch.model, version = %instance.version,
                    status = %status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                    "stopped a serving process"
                );
                return;
            };
            instance.set_down();
            warn!(
                model = %launch.model, version = %instance.version,
                reason = %process::ended(status, &launch.log),
                "a serving process exited by itself; starting it again"
            );
            // A process that served for a while starts again at once; one that keeps exiting
            // waits longer each time, up to the cap.
            if since.elapsed() >= self.settings.restart_backoff_cap {
                backoff = FIRST_BACKOFF;
            }
            child = loop {
                tokio::select! {
                    () = instance.stop.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(self.settings.restart_backoff_cap);
                match self.start(&instance, &launch).await {
                    Start::Healthy(child, port) => {
                        instance.serve_at(port);
                        info!(model = %launch.model, version = %instance.version, port, "a serving process is back");
                        break child;
                    }
                    Start::Exited(reason) | Start::NotHealthy(reason) => warn!(
                        model = %launch.model, version = %instance.version, %reason,
                        retry_in = ?backoff, "a serving process did not come back"
                    ),
                    Start::Stopped => return,
                }
            };
        }
    }

    /// Starts the process on a free port and waits, at most the health timeout, for
    /// `GET {health_path}` to answer `200`.
    async fn start(&self, instance: &Instance, launch: &Launch) -> Start {
        if instance.stop.is_cancelled() {
            return Start::Stopped;
        }
        let port = match process::free_port() {
            Ok(port) => port,
            Err(e) => return Start::Exited(format!("cannot find a free port: {e}")),
        };
        let args = launch
            .command
            .args
            .iter()
            .map(|arg| process::substitute(arg, port, &launch.artifact, &instance.version));
        let command = match process::command(
            &launch.command,
            args,
            &self.settings.inherited_env,
            &[],
            &launch.log,
        ) {
            Ok(command) => command,
            Err(e) => {
                return Start::Exited(format!("cannot open {}: {e}", launch.log.display()));
            }
        };
        let mut child = match self.spawner.spawn(command).await {
            Ok(child) => child,
            Err(e) => {
                return Start::Exited(format!("cannot start `{}`: {e}", launch.command.program));
            }
        };
        let url = format!("http://127.0.0.1:{port}{}", launch.health_path);
        let timeout = self.settings.health_timeout;
        enum Event {
            Exited(std::io::Result<std::process::ExitStatus>),
            Healthy,
            TimedOut,
            Stop,
        }
        let event = tokio::select! {
            status = child.wait() => Event::Exited(status),
            () = self.wait_healthy(&url) => Event::Healthy,
            () = tokio::time::sleep(timeout) => Event::TimedOut,
            () = instance.stop.cancelled() => Event::Stop,
        };
        match event {
            Event::Healthy => Start::Healthy(child, port),
            Event::Exited(status) => Start::Exited(format!(
                "version {} exited before it was healthy: {}",
                instance.version,
                process::ended(status, &launch.log)
            )),
            Event::TimedOut => {
                let _ = process::stop(&mut child, self.settings.stop_grace).await;
                Start::NotHealthy(format!(
                    "version {} did not answer GET {} with 200 within {timeout:?}; last lines \
                     of {}:\n{}",
                    instance.version,
                    launch.health_path,
                    launch.log.display(),
                    process::log_tail(&launch.log)
                ))
            }
            Event::Stop => {
                let _ = process::stop(&mut child, self.settings.stop_grace).await;
                Start::Stopped
            }
        }
    }

    /// Polls `url` until it answers `200`, with short pauses that grow to a fifth of a second.
    async fn wait_healthy(&self, url: &str) {
        let mut pause = Duration::from_millis(5);
        loop {
            let answer = self
                .http
                .get(url)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|a| a.status() == reqwest::StatusCode::OK) {
                return;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }
}
