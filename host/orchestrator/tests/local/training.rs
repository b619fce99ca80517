//! Retraining runs: outcomes, exit records, idempotency across backends and daemons.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use vigil_orchestrator::{
    Error, JobTemplate, KubeJob, Local, LocalCommand, Orchestrator, RunOutcome, TrainingRun,
};

use crate::{alive, example, settings, wait_until};

const TOKEN: &str = "vgl-run-token-4c1b7e";

fn run(name: &str, script: &str) -> TrainingRun {
    TrainingRun {
        name: name.into(),
        model: "churn".into(),
        env: vec![
            ("VIGIL_MODEL".into(), "churn".into()),
            ("VIGIL_TOKEN".into(), TOKEN.into()),
        ],
        job: JobTemplate::Local(LocalCommand {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            working_dir: None,
        }),
    }
}

fn artifacts(dir: &Path, run: &str) -> std::path::PathBuf {
    dir.join("artifacts/churn").join(run)
}

/// Log lines written by the backend, to check what it says and does not say.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_run_that_exits_0_succeeds_with_its_environment_and_never_logs_its_token() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .finish();
    // The test's runtime runs every task on this thread, so all of them log here.
    let _logging = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let local = Local::new(dir.path(), settings()).unwrap();
    let run = run(
        "train-ok",
        r#"echo "training $VIGIL_MODEL"; echo weights > "$VIGIL_ARTIFACT_DIR/model.bin"; env > "$VIGIL_ARTIFACT_DIR/env""#,
    );
    local.start_training(&run).await.unwrap();
    assert_eq!(
        local.watch_training(&run).await.unwrap(),
        RunOutcome::Succeeded
    );

    let artifacts = artifacts(dir.path(), "train-ok");
    assert_eq!(
        std::fs::read_to_string(artifacts.join("model.bin")).unwrap(),
        "weights\n"
    );
    let log = std::fs::read_to_string(dir.path().join("runs/train-ok.log")).unwrap();
    assert!(log.contains("training churn"), "{log}");
    let env = std::fs::read_to_string(artifacts.join("env")).unwrap();
    assert!(env.contains(&format!("VIGIL_TOKEN={TOKEN}")), "{env}");
    assert!(
        env.contains(&format!("VIGIL_ARTIFACT_DIR={}", artifacts.display())),
        "{env}"
    );
    // The daemon's own environment stays with it (cargo sets CARGO_* for the test binary).
    if std::env::vars().any(|(name, _)| name.starts_with("CARGO")) {
        assert!(!env.contains("CARGO"), "{env}");
    }

    let record = std::fs::read_to_string(dir.path().join("runs/train-ok.exit")).unwrap();
    assert!(!record.contains(TOKEN), "{record}");
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("started a training run"), "{logged}");
    assert!(!logged.contains(TOKEN), "{logged}");
}

#[tokio::test]
async fn a_run_that_exits_3_fails_with_its_status_and_the_end_of_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::new(dir.path(), settings()).unwrap();
    let run = run(
        "train-fails",
        r#"i=1; while [ $i -le 40 ]; do echo "step $i"; i=$((i+1)); done; exit 3"#,
    );
    local.start_training(&run).await.unwrap();
    let RunOutcome::Failed { reason } = local.watch_training(&run).await.unwrap() else {
        panic!("the run exited with 3 and did not fail");
    };
    assert!(reason.contains("exit status: 3"), "{reason}");
    assert!(reason.ends_with("step 40"), "{reason}");
    assert!(
        !reason.contains("step 30\n"),
        "the log tail is bounded: {reason}"
    );
    assert!(reason.lines().count() <= 12, "{reason}");

    // A later daemon reads the recorded outcome.
    drop(local);
    let again = Local::new(dir.path(), settings()).unwrap();
    assert_eq!(
        again.watch_training(&run).await.unwrap(),
        RunOutcome::Failed { reason }
    );
}

#[tokio::test]
async fn a_run_is_started_once_while_it_runs_and_never_again_once_finished() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::new(dir.path(), settings()).unwrap();
    let run = run(
        "train-once",
        r#"echo run >> "$VIGIL_ARTIFACT_DIR/count"; while [ ! -e "$VIGIL_ARTIFACT_DIR/go" ]; do sleep 0.01; done"#,
    );
    let (a, b, c) = tokio::join!(
        local.start_training(&run),
        local.start_training(&run),
        local.start_training(&run)
    );
    for started in [a, b, c] {
        started.unwrap();
    }
    let artifacts = artifacts(dir.path(), "train-once");
    wait_until("the run has started", || artifacts.join("count").exists()).await;
    local.start_training(&run).await.unwrap();
    std::fs::write(artifacts.join("go"), "").unwrap();
    assert_eq!(
        local.watch_training(&run).await.unwrap(),
        RunOutcome::Succeeded
    );
    local.start_training(&run).await.unwrap();
    drop(local);

    let again = Local::new(dir.path(), settings()).unwrap();
    again.start_training(&run).await.unwrap();
    assert_eq!(
        again.watch_training(&run).await.unwrap(),
        RunOutcome::Succeeded
    );
    assert_eq!(
        std::fs::read_to_string(artifacts.join("count")).unwrap(),
        "run\n"
    );
}

#[tokio::test]
async fn a_run_whose_daemon_was_killed_dies_with_it_and_runs_again_with_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"if [ -e "$VIGIL_ARTIFACT_DIR/first" ]; then echo second attempt; exit 0; fi
touch "$VIGIL_ARTIFACT_DIR/first"
echo $$ > "$VIGIL_ARTIFACT_DIR/pid.tmp" && mv "$VIGIL_ARTIFACT_DIR/pid.tmp" "$VIGIL_ARTIFACT_DIR/pid"
exec sleep 600"#;
    let mut daemon = std::process::Command::new(example("fixture_daemon"))
        .args([
            dir.path().to_str().unwrap(),
            "train-killed",
            "churn",
            "sh",
            "-c",
        ])
        .arg(script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    BufReader::new(daemon.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert_eq!(said, "started\n");
    let artifacts = artifacts(dir.path(), "train-killed");
    wait_until("the run wrote its pid", || artifacts.join("pid").exists()).await;
    let pid: u32 = std::fs::read_to_string(artifacts.join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    let _cleanup = KillOnDrop(pid);

    daemon.kill().unwrap(); // SIGKILL: the daemon cannot stop its children itself.
    daemon.wait().unwrap();
    wait_until("the run died with its daemon", || !alive(pid)).await;
    assert!(!dir.path().join("runs/train-killed.exit").exists());

    let local = Local::new(dir.path(), settings()).unwrap();
    let run = run("train-killed", script);
    // Resuming at watch is enough: the run starts again.
    assert_eq!(
        local.watch_training(&run).await.unwrap(),
        RunOutcome::Succeeded
    );
    let log = std::fs::read_to_string(dir.path().join("runs/train-killed.log")).unwrap();
    assert!(log.contains("second attempt"), "{log}");
}

/// Kills a process the test started indirectly, should the test fail while it runs.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &self.0.to_string()])
                .status();
        }
    }
}

#[tokio::test]
async fn templates_for_other_backends_and_unsafe_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::new(dir.path(), settings()).unwrap();
    let mut job = run("train-kube", "true");
    job.job = JobTemplate::Kubernetes(KubeJob {
        namespace: "models".into(),
        image: "trainer:1".into(),
        command: vec![],
        args: vec![],
        resources: None,
        service_account: None,
        backoff_limit: 1,
        active_deadline_seconds: 60,
        run_as_user: None,
    });
    assert!(matches!(
        local.start_training(&job).await,
        Err(Error::Invalid(_))
    ));
    let escaping = run("../escape", "true");
    assert!(matches!(
        local.start_training(&escaping).await,
        Err(Error::Invalid(_))
    ));
    let missing = TrainingRun {
        job: JobTemplate::Local(LocalCommand {
            program: "/nonexistent/trainer".into(),
            args: vec![],
            working_dir: None,
        }),
        ..run("train-missing", "")
    };
    let Err(Error::Invalid(message)) = local.start_training(&missing).await else {
        panic!("a missing program is the configuration's fault");
    };
    assert!(message.contains("/nonexistent/trainer"), "{message}");
}
