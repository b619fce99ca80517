//! A daemon for the local backend's tests: starts one training run on a `Local` backend and
//! then waits to be killed, so a test can kill a daemon mid-run with `SIGKILL`.
//!
//! `fixture_daemon <data dir> <run name> <model> <program> [args…]`; prints `started` once the
//! run is.

use std::time::Duration;

use vigil_orchestrator::{
    JobTemplate, Local, LocalCommand, LocalSettings, Orchestrator, TrainingRun,
};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, name, model, program, rest @ ..] = args.as_slice() else {
        panic!("usage: fixture_daemon <data dir> <run name> <model> <program> [args…]");
    };
    let run = TrainingRun {
        name: name.clone(),
        model: model.clone(),
        env: vec![],
        job: JobTemplate::Local(LocalCommand {
            program: program.clone(),
            args: rest.to_vec(),
            working_dir: None,
        }),
    };
    let local = Local::new(dir, LocalSettings::default()).expect("a local backend");
    local.start_training(&run).await.expect("the run starts");
    println!("started");
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
