//! The CLI as the daemon's client, against the real `vigil serve`: tokens, plugin push, model
//! and monitor from a TOML file (with its reference file), ingestion with a progress bar,
//! status, and replay of a stored evaluation.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Env<'a> {
    db: &'a str,
    url: &'a str,
    token: Option<&'a str>,
    cache: &'a Path,
}

impl Env<'_> {
    fn vigil(&self, args: &[&str]) -> String {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
        command
            .args(args)
            .env("VIGIL_DATABASE_URL", self.db)
            .env("VIGIL_URL", self.url)
            .env("VIGIL_CACHE_DIR", self.cache)
            .env_remove("VIGIL_CONFIG")
            .env_remove("VIGIL_TOKEN");
        if let Some(token) = self.token {
            command.env("VIGIL_TOKEN", token);
        }
        let output = command.output().expect("vigil runs");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "vigil {args:?}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }
}

#[test]
fn the_cli_drives_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("vigil.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let cache = dir.path().join("cache");
    let mut env = Env {
        db: &db,
        url: &url,
        token: None,
        cache: &cache,
    };
    let token = env
        .vigil(&["token", "create", "--role", "admin"])
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert!(token.starts_with("vgl_"));
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("serve")
        .env("VIGIL_DATABASE_URL", &db)
        .env("VIGIL_LISTEN", format!("127.0.0.1:{port}"))
        .env("VIGIL_CACHE_DIR", &cache)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the daemon did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    env.token = Some(&token);

    // The standard plugins as the build made them.
    let components = Path::new(env!("VIGIL_STANDARD_PLUGIN_DIR"));
    let files: Vec<String> = ["drift-ks", "drift-chi2", "policy-threshold"]
        .iter()
        .map(|n| components.join(format!("{n}.wasm")).display().to_string())
        .collect();
    let mut push = vec!["plugin", "push"];
    push.extend(files.iter().map(String::as_str));
    let pushed = env.vigil(&push);
    assert_eq!(pushed.lines().count(), 3, "{pushed}");
    assert!(env.vigil(&["plugin", "list"]).contains("drift-chi2"));

    env.vigil(&["model", "create", "shop", "--task", "classification"]);
    env.vigil(&["model", "version", "shop", "v1"]);
    assert!(
        env.vigil(&["model", "serve", "shop", "v1"])
            .contains("\"serving_version\": \"v1\"")
    );

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
    let shown = env.vigil(&[
        "monitor",
        "create",
        "-f",
        dir.path().join("monitor.toml").to_str().unwrap(),
    ]);
    assert!(
        shown.contains("drift-ks@0.1.0"),
        "plugins are pinned: {shown}"
    );

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
        let status: serde_json::Value = serde_json::from_str(&env.vigil(&["status"])).unwrap();
        if status["monitors"][0]["last_evaluation"]["window_end"] == 900 {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{status}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let last = &status["monitors"][0]["last_evaluation"];
    assert_eq!(last["drifted_columns"], 1, "amount moved by 100: {status}");
    let replay = env.vigil(&["replay", &last["id"].to_string()]);
    assert!(replay.contains("\"same\": true"), "{replay}");

    daemon.kill().unwrap();
    daemon.wait().unwrap();
}
