//! Child processes: how they start (no shell, a clean environment, their own process group,
//! killed when the daemon dies) and how they stop.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::LocalCommand;

/// Starts children from one thread that lives as long as the backend.
///
/// Linux sends `PR_SET_PDEATHSIG`'s signal when the *thread* that forked the child ends, not
/// only the process: a child forked from a runtime's blocking thread would be killed when that
/// thread idles out. Forking from a thread of our own ties the children's lives to the
/// backend's, and to the daemon's when it dies.
pub(super) struct Spawner {
    requests: mpsc::Sender<SpawnRequest>,
}

struct SpawnRequest {
    command: Command,
    /// The runtime that reaps the child and drives its `wait`.
    runtime: Handle,
    reply: oneshot::Sender<io::Result<Child>>,
}

impl Spawner {
    pub fn new() -> io::Result<Spawner> {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("vigil-local-spawn".into())
            .spawn(move || {
                for mut request in incoming {
                    let _runtime = request.runtime.enter();
                    // Tokio panics when its runtime is shutting down; this thread must live on.
                    let child = panic::catch_unwind(AssertUnwindSafe(|| request.command.spawn()))
                        .unwrap_or_else(|_| Err(io::Error::other("the runtime is shutting down")));
                    // The caller may have gone; its child is then dropped, and so killed.
                    let _ = request.reply.send(child);
                }
            })?;
        Ok(Spawner { requests })
    }

    /// Starts `command` as a child of the spawning thread.
    pub async fn spawn(&self, command: Command) -> io::Result<Child> {
        let (reply, answer) = oneshot::channel();
        let request = SpawnRequest {
            command,
            runtime: Handle::current(),
            reply,
        };
        let gone = || io::Error::other("the thread that starts processes has stopped");
        self.requests.send(request).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// `template` as a command with `args`: no shell, stdin from `/dev/null`, stdout and stderr
/// appended to `log`, only the `inherited` variables of the daemon's environment plus `env`,
/// in a process group of its own (so that stopping it stops what it started), killed when its
/// handle is dropped and when the daemon dies.
pub(super) fn command(
    template: &LocalCommand,
    args: impl IntoIterator<Item = String>,
    inherited: &[String],
    env: &[(String, String)],
    log: &Path,
) -> io::Result<Command> {
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut command = Command::new(&template.program);
    command.args(args).env_clear();
    for name in inherited {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .process_group(0);
    if let Some(dir) = &template.working_dir {
        command.current_dir(dir);
    }
    die_with_daemon(&mut command);
    Ok(command)
}

/// Asks the child to die with the daemon: a daemon killed with `SIGKILL` cannot stop its
/// children, so the kernel does it. Only the child itself gets the signal, not what it started.
#[cfg(target_os = "linux")]
fn die_with_daemon(command: &mut Command) {
    let daemon = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the child between fork and exec, and calls only prctl and
    // getppid (async-signal-safe) and builds errors without allocating.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The daemon died between fork and prctl: nobody would stop this child.
            if libc::getppid() != daemon {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_daemon(_command: &mut Command) {
    // No parent-death signal here: a daemon killed with SIGKILL leaves its children running,
    // and a later daemon starts runs again beside them (docs/orchestration.md).
}

/// Stops the child and what it started: `SIGTERM` to its process group, `SIGKILL` after
/// `grace`. Returns how it ended.
pub(super) async fn stop(child: &mut Child, grace: Duration) -> io::Result<ExitStatus> {
    signal_group(child, libc::SIGTERM);
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            signal_group(child, libc::SIGKILL);
            child.wait().await
        }
    }
}

/// Signals the child's process group while the child is not reaped yet: once it is, its id
/// may belong to someone else.
fn signal_group(child: &Child, signal: libc::c_int) {
    if let Some(pid) = child.id() {
        // SAFETY: kill has no memory effects; a group that is gone gives ESRCH, ignored.
        unsafe {
            libc::kill(-(pid as libc::pid_t), signal);
        }
    }
}

/// A port on 127.0.0.1 nobody listened on a moment ago. Another process may take it before
/// the child binds it: the caller starts the child once more on a new port if it exits early.
pub(super) fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// The last lines of a log, for an error message: at most `LINES` lines of the last 4 KiB.
pub(super) fn log_tail(log: &Path) -> String {
    const LINES: usize = 10;
    const BYTES: u64 = 4096;
    let read = || -> io::Result<String> {
        let mut file = File::open(log)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(LINES);
            // The first line may be cut by the 4 KiB window; keep it anyway, it is only text.
            lines[start..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", log.display()),
    }
}

/// "exited with exit status: 3; last lines of <log>:\n…", for a child that ended.
pub(super) fn ended(status: io::Result<ExitStatus>, log: &Path) -> String {
    let status = match status {
        Ok(status) => status.to_string(),
        Err(e) => format!("an unknown status ({e})"),
    };
    let tail = log_tail(log);
    if tail.trim().is_empty() {
        format!("ended with {status}; {} is empty", log.display())
    } else {
        format!(
            "ended with {status}; last lines of {}:\n{tail}",
            log.display()
        )
    }
}

/// The argument `{artifact}` stands for: a `file://` URI as a local path (what any program
/// opens), any other URI as it is.
pub(super) fn artifact_argument(uri: &str) -> Result<String, String> {
    if !uri.starts_with("file:") {
        return Ok(uri.into());
    }
    url::Url::parse(uri)
        .ok()
        .and_then(|url| url.to_file_path().ok())
        .and_then(|path| path.into_os_string().into_string().ok())
        .ok_or_else(|| format!("the artifact URI `{uri}` is not a local file's"))
}

/// `arg` with `{port}`, `{artifact}` and `{version}` replaced, in one pass, so that a value
/// containing one of them is not replaced again.
pub(super) fn substitute(arg: &str, port: u16, artifact: &str, version: &str) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        rest = &rest[open..];
        let value = [
            ("{port}", port.to_string()),
            ("{artifact}", artifact.to_string()),
            ("{version}", version.to_string()),
        ]
        .into_iter()
        .find(|(key, _)| rest.starts_with(key));
        match value {
            Some((key, value)) => {
                out.push_str(&value);
                rest = &rest[key.len()..];
            }
            None => {
                out.push('{');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_once() {
        assert_eq!(
            substitute(
                "--port={port} {artifact}:{version} {other} {",
                8080,
                "{version}",
                "v2"
            ),
            "--port=8080 {version}:v2 {other} {"
        );
    }

    #[test]
    fn file_uris_become_paths_and_other_uris_stay() {
        assert_eq!(
            artifact_argument("file:///var/lib/vigil/m%20a/model.json").unwrap(),
            "/var/lib/vigil/m a/model.json"
        );
        assert_eq!(
            artifact_argument("s3://bucket/model.json").unwrap(),
            "s3://bucket/model.json"
        );
        assert_eq!(artifact_argument("/plain/path").unwrap(), "/plain/path");
        assert!(artifact_argument("file://remote-host/model.json").is_err());
    }

    #[test]
    fn a_log_tail_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("run.log");
        let text: String = (1..=5000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, text).unwrap();
        let tail = log_tail(&log);
        assert!(tail.ends_with("line 5000"), "{tail}");
        assert_eq!(tail.lines().count(), 10);
        assert!(log_tail(&dir.path().join("missing.log")).contains("cannot read"));
    }
}
