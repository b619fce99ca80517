//! The CLI as the daemon's client, against the real `vigil serve`: tokens, plugin push, list
//! and delete, models, monitors from a TOML file (created with their reference in one step,
//! updated, re-referenced, deleted), a plugin tried in shadow, ingestion and labels with a progress bar, status and
//! alerts as tables, replay of a stored evaluation, and errors as sentences.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

struct Env<'a> {
    db: &'a str,
    url: String,
    token: Option<&'a str>,
    cache: &'a Path,
}

impl Env<'_> {
    fn vigil(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args);
        assert!(ok, "vigil {args:?}: {stdout}\n{stderr}");
        stdout
    }

    /// Runs a command that must fail; returns its stderr.
    fn vigil_fails(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args);
        assert!(!ok, "vigil {args:?} succeeded: {stdout}");
        assert!(
            !stderr.contains('\x1b'),
            "colour codes in a pipe: {stderr:?}"
        );
        stderr
    }

    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
        command
            .args(args)
            .env("VIGIL_DATABASE_URL", self.db)
            .env("VIGIL_URL", &self.url)
            .env("VIGIL_CACHE_DIR", self.cache)
            .env_remove("VIGIL_CONFIG")
            .env_remove("VIGIL_TOKEN");
        if let Some(token) = self.token {
            command.env("VIGIL_TOKEN", token);
        }
        let output = command.output().expect("vigil runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    }
}

#[test]
fn the_cli_drives_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("vigil.db").display());
    let cache = dir.path().join("cache");
    let mut env = Env {
        db: &db,
        url: String::new(), // once the daemon says where it listens
        token: None,
        cache: &cache,
    };
    // Before the daemon made its database, a token has nowhere to go: refused, no file made.
    let refused = env.vigil_fails(&["token", "create", "--role", "admin"]);
    assert!(refused.contains("start `vigil serve` first"), "{refused}");
    assert!(!dir.path().join("vigil.db").exists());
    let mut serve = Command::new(env!("CARGO_BIN_EXE_vigil"));
    serve
        .args(["serve", "--set", "listen=127.0.0.1:0"])
        .env("VIGIL_DATABASE_URL", &db)
        .env("VIGIL_CACHE_DIR", &cache)
        .env("RUST_LOG", "info")
        .env_remove("VIGIL_CONFIG");
    // It listens once it has made its database.
    let (_daemon, url) = common::serve(serve, &dir.path().join("daemon.log"));
    env.url = url;
    let token = env
        .vigil(&["token", "create", "--role", "admin"])
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert!(token.starts_with("vgl_"));
    env.token = Some(&token);

    // The standard plugins as the build made them (a fresh daemon has stored them already).
    let components = Path::new(env!("VIGIL_STANDARD_PLUGIN_DIR"));
    let files: Vec<String> = ["drift-ks", "drift-chi2", "policy-threshold"]
        .iter()
        .map(|n| components.join(format!("{n}.wasm")).display().to_string())
        .collect();
    let mut push = vec!["plugin", "push"];
    push.extend(files.iter().map(String::as_str));
    let pushed = env.vigil(&push);
    assert_eq!(pushed.lines().count(), 3, "{pushed}");
    let listed = env.vigil(&["plugin", "list"]);
    assert!(listed.starts_with("name "), "a table: {listed}");
    assert!(listed.contains("drift-chi2"), "{listed}");
    let listed: serde_json::Value =
        serde_json::from_str(&env.vigil(&["plugin", "list", "--json"])).unwrap();
    let standard = vigil::plugins::STANDARD_PLUGINS.len();
    assert_eq!(
        listed["plugins"].as_array().unwrap().len(),
        standard,
        "{listed}"
    );
    // Errors are sentences: what was refused, and why.
    let error = env.vigil_fails(&["plugin", "delete", "drift-psi@0.1.0"]);
    assert_eq!(
        error.trim(),
        "vigil: the daemon refused DELETE /v1/plugins/drift-psi/0.1.0 (409 Conflict): \
         drift-psi is a standard plugin that comes with Vigil; it stays"
    );
    let error = env.vigil_fails(&["plugin", "delete", "nosuch@1.0.0"]);
    assert_eq!(
        error.trim(),
        "vigil: the daemon refused DELETE /v1/plugins/nosuch/1.0.0 (404 Not Found): \
         no plugin nosuch@1.0.0"
    );

    env.vigil(&["model", "create", "shop", "--task", "classification"]);
    env.vigil(&["model", "version", "shop", "v1"]);
    let registered = env.vigil(&[
        "model",
        "version",
        "shop",
        "v2",
        "--artifact",
        "s3://models/shop/v2",
        "--metric",
        "accuracy=0.93",
        "--metric",
        "auc=0.97",
    ]);
    assert!(
        registered.contains("\"status\": \"candidate\""),
        "{registered}"
    );
    let error = env.vigil_fails(&["model", "version", "shop", "v3", "--metric", "accuracy=NaN"]);
    assert!(error.contains("not a finite number"), "{error}");
    assert!(
        env.vigil(&["model", "serve", "shop", "v1"])
            .contains("\"serving_version\": \"v1\"")
    );
    let versions = env.vigil(&["model", "versions", "shop"]);
    let lines: Vec<&str> = versions.lines().collect();
    assert_eq!(lines.len(), 3, "{versions}");
    assert!(lines[0].starts_with("version  status"), "{versions}");
    assert!(lines[1].starts_with("v1       serving"), "{versions}");
    assert!(
        lines[2].starts_with("v2       candidate")
            && lines[2].contains("s3://models/shop/v2")
            && lines[2].contains("accuracy=0.93 auc=0.97"),
        "{versions}"
    );
    // Promotions and rollbacks go through a monitor that rolls the model out; `shop` has none.
    for args in [
        &["model", "promote", "shop", "v2", "--force"][..],
        &["model", "rollback", "shop", "--reason", "bad"][..],
    ] {
        let error = env.vigil_fails(args);
        assert!(
            error.contains("(422 Unprocessable Entity)")
                && error.contains("no monitor of `shop` has `actions.rollout`"),
            "{error}"
        );
    }
    let error = env.vigil_fails(&["token", "create", "--role", "train"]);
    assert!(error.contains("only the daemon creates them"), "{error}");

    let reference: String = std::iter::once("id,amount,channel\n".to_string())
        .chain((0..400).map(|i| format!("r{i},{},{}\n", i % 50, ["web", "store"][i % 2])))
        .collect();
    std::fs::write(dir.path().join("reference.csv"), reference).unwrap();
    std::fs::write(
        dir.path().join("monitor.toml"),
        r#"
name = "shop-watch"
model = "shop"
reference_file = "reference.csv"
window = { records = 300 }
features = [
  { name = "amount", type = "numeric" },
  { name = "channel", type = "categorical" },
]
"#,
    )
    .unwrap();
    let spec_file = dir.path().join("monitor.toml");
    let spec_file = spec_file.to_str().unwrap();
    // A reference the daemon refuses leaves no monitor behind.
    std::fs::write(dir.path().join("broken.csv"), "id,amount\nr1,\"1\nr2,2\n").unwrap();
    let spec = std::fs::read_to_string(spec_file).unwrap();
    std::fs::write(spec_file, spec.replace("reference.csv", "broken.csv")).unwrap();
    let error = env.vigil_fails(&["monitor", "create", "-f", spec_file]);
    assert!(error.contains("never closed"), "{error}");
    assert!(!env.vigil(&["monitor", "list"]).contains("shop-watch"));
    std::fs::write(spec_file, &spec).unwrap();
    let shown = env.vigil(&["monitor", "create", "-f", spec_file]);
    assert!(
        shown.contains("drift-ks@0.1.0"),
        "plugins are pinned: {shown}"
    );
    // Updated from the same file with another window; its reference replaced on its own.
    std::fs::write(spec_file, spec.replace("records = 300", "records = 450")).unwrap();
    env.vigil(&["monitor", "update", "-f", spec_file]);
    env.vigil(&[
        "monitor",
        "reference",
        "shop-watch",
        dir.path().join("reference.csv").to_str().unwrap(),
    ]);
    let listed = env.vigil(&["monitor", "list"]);
    assert!(listed.contains("450 records"), "{listed}");
    // Welch's t tried in shadow in place of KS.
    let started = env.vigil(&[
        "monitor",
        "shadow",
        "start",
        "shop-watch",
        "drift-t",
        "--replaces",
        "drift-ks",
    ]);
    assert!(
        started.contains("drift-t@0.1.0") && started.contains("running"),
        "{started}"
    );

    // Labels may come before their records; they wait for them (and the windows then see
    // them, so a replay computes the same metrics).
    let labels: String = std::iter::once("id,label\n".to_string())
        .chain((0..900).map(|i| format!("c{i},{}\n", i % 2)))
        .collect();
    let labels_file = dir.path().join("labels.csv");
    std::fs::write(&labels_file, labels).unwrap();
    let sent = env.vigil(&[
        "labels",
        labels_file.to_str().unwrap(),
        "--model",
        "shop",
        "--batch-rows",
        "400",
    ]);
    assert!(sent.contains("\"stored\":900"), "{sent}");

    let records: String = std::iter::once("id,amount,channel,prediction\n".to_string())
        .chain((0..900).map(|i| format!("c{i},{},{},1\n", 100 + i % 50, ["web", "store"][i % 2])))
        .collect();
    let file = dir.path().join("records.csv");
    std::fs::write(&file, records).unwrap();
    let sent = env.vigil(&[
        "ingest",
        file.to_str().unwrap(),
        "--model",
        "shop",
        "--batch-rows",
        "250",
    ]);
    assert!(sent.contains("\"accepted\":900"), "{sent}");
    // Sending the same file again stores nothing twice.
    let again = env.vigil(&[
        "ingest",
        file.to_str().unwrap(),
        "--model",
        "shop",
        "--batch-rows",
        "250",
    ]);
    assert!(
        again.contains("\"accepted\":900"),
        "replayed answers: {again}"
    );

    let started = Instant::now();
    let status = loop {
        let status: serde_json::Value =
            serde_json::from_str(&env.vigil(&["status", "--json"])).unwrap();
        if status["monitors"][0]["last_evaluation"]["window_end"] == 900 {
            break status;
        }
        assert!(started.elapsed() < common::PATIENCE, "{status}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let last = &status["monitors"][0]["last_evaluation"];
    assert_eq!(last["drifted_columns"], 1, "amount moved by 100: {status}");
    let replay = env.vigil(&["replay", &last["id"].to_string()]);
    assert!(replay.contains("\"same\": true"), "{replay}");
    // The shadow evaluated both windows; shown side by side, then dropped.
    let started = Instant::now();
    let shadow = loop {
        let shadows: serde_json::Value = serde_json::from_str(&env.vigil(&[
            "monitor",
            "shadow",
            "list",
            "shop-watch",
            "--json",
        ]))
        .unwrap();
        if shadows["shadows"][0]["summary"]["windows"] == 2 {
            break shadows["shadows"][0].clone();
        }
        assert!(started.elapsed() < common::PATIENCE, "{shadows}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let id = shadow["id"].to_string();
    let shown = env.vigil(&["monitor", "shadow", "show", "shop-watch", &id]);
    assert!(
        shown.contains("0..450") && shown.contains("450..900"),
        "{shown}"
    );
    assert!(shown.contains("drifted: amount"), "{shown}");
    let dropped = env.vigil(&["monitor", "shadow", "drop", "shop-watch", &id]);
    assert!(dropped.contains("dropped"), "{dropped}");
    let error = env.vigil_fails(&["monitor", "shadow", "drop", "shop-watch", &id]);
    assert!(error.contains("is dropped already"), "{error}");
    let table = env.vigil(&["status"]);
    assert!(table.starts_with("monitor "), "{table}");
    assert!(table.contains("shop-watch"), "{table}");
    let alerts = env.vigil(&["alerts", "--monitor", "shop-watch"]);
    assert!(alerts.contains("drift"), "{alerts}");

    env.vigil(&["monitor", "delete", "shop-watch"]);
    let error = env.vigil_fails(&["monitor", "show", "shop-watch"]);
    assert!(error.contains("no monitor named `shop-watch`"), "{error}");
    // The daemon's log went to a pipe (copied to the file): plain text, no colour codes.
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(log.contains("INFO"), "{log}");
    assert!(!log.contains('\x1b'), "colour codes in a log file");
}

/// The database password and the API token are never printed: not by `vigil config show`, nor
/// in the errors of a daemon or a token command that cannot open the database.
#[test]
fn secrets_in_the_configuration_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], database_url: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(args)
            .current_dir(dir.path())
            .env("VIGIL_DATABASE_URL", database_url)
            .env("VIGIL_TOKEN", "vgl_abc_TOKENSECRET")
            .env("VIGIL_CACHE_DIR", dir.path())
            .env("RUST_LOG", "debug")
            .env_remove("VIGIL_CONFIG")
            .output()
            .unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !printed.contains("PASSWORDSECRET") && !printed.contains("TOKENSECRET"),
            "vigil {args:?} printed a secret: {printed}"
        );
        (output.status.success(), printed)
    };
    let (ok, shown) = run(
        &["config", "show"],
        "postgres://vigil:PASSWORDSECRET@db.internal/vigil",
    );
    assert!(ok, "{shown}");
    assert!(
        shown.contains("postgres://vigil:***@db.internal/vigil"),
        "{shown}"
    );
    // Unsupported schemes fail at once, before any connection is tried.
    let url = "mysql://vigil:PASSWORDSECRET@db.internal/vigil";
    let (ok, printed) = run(&["serve", "--set", "listen=127.0.0.1:0"], url);
    assert!(!ok && printed.contains("scheme `mysql`"), "{printed}");
    let (ok, printed) = run(&["token", "create", "--role", "read"], url);
    assert!(
        !ok && printed.contains("cannot open the database"),
        "{printed}"
    );
    // A Postgres server that cannot be reached: the daemon and the CLI fail, at debug level,
    // without the password in any line (the driver's own errors included).
    let url = "postgres://vigil:PASSWORDSECRET@127.0.0.1:1/vigil";
    for args in [
        &["serve", "--set", "listen=127.0.0.1:0"][..],
        &["token", "create", "--role", "read"][..],
    ] {
        let (ok, printed) = run(args, url);
        assert!(
            !ok && printed.contains("127.0.0.1:1"),
            "{args:?}: {printed}"
        );
    }
}
