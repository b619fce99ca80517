//! What the daemon's integration tests share: fresh databases, the daemon on a real port (in
//! this process, or `vigil serve` as a child process), and bounded waits.
#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vigil::config::Config;
use vigil::plugins::STANDARD_PLUGINS;
use vigil::server::{self, AppState, auth};

/// A fresh SQLite database file in `dir`, for the tests that need no Postgres run.
pub fn sqlite_database(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("vigil.db").display())
}

#[path = "../../../store/tests/common/postgres_server.rs"]
mod postgres_server;
use postgres_server::postgres_server;

/// A new database on the Postgres server `VIGIL_TEST_POSTGRES_URL` names, for the tests
/// `on_both_backends!` marks as needing Postgres.
pub fn postgres_database() -> String {
    let server = postgres_server();
    let name = format!("vigil_daemon_{}", uuid::Uuid::new_v4().simple());
    let status = Command::new("psql")
        .args([server.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql runs");
    assert!(status.success(), "cannot create the Postgres test database");
    let base = server.rsplit_once('/').expect("a database URL").0;
    format!("{base}/{name}")
}

/// Declares the case `async fn NAME(db: String)` as two tests: `NAME::sqlite`, on a fresh
/// SQLite file, and `NAME::postgres`, on a fresh database of the server
/// `VIGIL_TEST_POSTGRES_URL` names. The Postgres one is `#[ignore]`d, so that a plain
/// `cargo test` on a machine without a server counts it as not run instead of passing it;
/// `scripts/test.sh` starts a server and runs it (`--include-ignored`), and there it fails if
/// it has no server.
#[allow(unused_macros)] // not every test binary has cases on both backends
macro_rules! on_both_backends {
    ($case:ident) => {
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                super::$case(crate::common::sqlite_database(&dir)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs Postgres: VIGIL_TEST_POSTGRES_URL (scripts/test.sh starts a server)"]
            async fn postgres() {
                super::$case(crate::common::postgres_database()).await;
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;

pub struct Daemon {
    pub url: String,
    pub admin: String,
    pub db_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub async fn start_with(db_url: &str, tweak: impl FnOnce(&mut Config)) -> Daemon {
    let mut config = Config {
        database_url: db_url.to_string(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tick_ms: 20,
        ..Config::default()
    };
    tweak(&mut config);
    let store = vigil_store::Store::open(db_url).await.expect("store opens");
    let admin = auth::create_token(&store, "test-admin", auth::Role::Admin)
        .await
        .unwrap()
        .text;
    let runtime = vigil_runtime::Runtime::new(config.runtime_config()).unwrap();
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(store, runtime, config).expect("state");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(state, listener, async {
        let _ = stopped.await;
    }));
    Daemon {
        url,
        admin,
        db_url: db_url.to_string(),
        stop: Some(stop),
        task,
    }
}

pub async fn start(db_url: &str) -> Daemon {
    start_with(db_url, |_| {}).await
}

impl Daemon {
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        send(
            &reqwest::Client::new(),
            method,
            &format!("{}{path}", self.url),
            token,
            body,
            headers,
        )
        .await
    }

    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> (StatusCode, Value) {
        let token = self.admin.clone();
        self.call(method, path, Some(&token), body, &[]).await
    }

    pub async fn json(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        self.admin(
            method,
            path,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    /// A new token of `role`, created with the admin token.
    pub async fn token(&self, role: &str) -> String {
        let (status, body) = self
            .json(
                Method::POST,
                "/v1/tokens",
                json!({"name": role, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn create_model(&self, name: &str, task: &str) {
        let (status, body) = self
            .json(
                Method::POST,
                "/v1/models",
                json!({"name": name, "task": task}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Sends CSV records to model `m`; they must be accepted.
    pub async fn ingest_csv(&self, csv: Vec<u8>) {
        let (status, body) = self
            .admin(
                Method::POST,
                "/v1/models/m/records",
                Some(("text/csv", csv)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    pub async fn upload_standard_plugins(&self) {
        self.upload_standard_plugins_except("").await;
    }

    /// Waits (polling, bounded) until the monitor has `count` evaluations; newest first.
    pub async fn evaluations(&self, monitor: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (status, page) = self
                .admin(
                    Method::GET,
                    &format!("/v1/monitors/{monitor}/evaluations?limit=100"),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let evaluations = page["evaluations"].as_array().unwrap().clone();
            if evaluations.len() >= count {
                return evaluations;
            }
            assert!(
                Instant::now() < deadline,
                "only {} evaluations: {page}",
                evaluations.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Daemon {
    pub async fn upload_standard_plugins_except(&self, skip: &str) {
        for (name, bytes) in STANDARD_PLUGINS {
            if *name == skip {
                continue;
            }
            let (status, body) = self
                .admin(
                    Method::POST,
                    "/v1/plugins",
                    Some(("application/wasm", bytes.to_vec())),
                )
                .await;
            // A fresh daemon stores them itself, so this finds them stored.
            assert!(status.is_success(), "{name}: {status} {body}");
        }
    }
}

/// Deterministic normal-ish numbers (sum of uniforms) from a seed.
pub fn numbers(seed: u64, n: usize, mean: f64) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            let mut sum = 0.0;
            for _ in 0..12 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                sum += (state >> 11) as f64 / (1u64 << 53) as f64;
            }
            mean + sum - 6.0
        })
        .collect()
}

pub fn records_csv(prefix: &str, seed: u64, n: usize, shift: f64) -> Vec<u8> {
    let xs = numbers(seed, n, shift);
    let ys = numbers(seed + 1, n, 10.0);
    let mut csv = String::from("id,x,y,color,prediction\n");
    for i in 0..n {
        let color = ["red", "green", "blue"][(i * 7 + seed as usize) % 3];
        csv.push_str(&format!(
            "{prefix}{i},{},{},{color},{}\n",
            xs[i],
            ys[i],
            (xs[i] > shift) as u8
        ));
    }
    csv.into_bytes()
}

/// Sends a request; its status and JSON body (a string when the body is not JSON).
pub async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    if let Some((content_type, bytes)) = body {
        request = request.header("content-type", content_type).body(bytes);
    }
    let response = request.send().await.expect("the daemon answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The spec of monitor `watch` on model `m` over the features of [`records_csv`], windows of
/// `window` records, with `extra`'s fields set over it.
pub fn watch_spec(window: u64, extra: Value) -> Value {
    let mut spec = json!({
        "name": "watch", "model": "m", "window": {"records": window},
        "features": [
            {"name": "x", "type": "numeric"}, {"name": "y", "type": "numeric"},
            {"name": "color", "type": "categorical"},
        ],
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

pub async fn model_and_monitor(daemon: &Daemon, window: u64, extra: Value) {
    daemon.create_model("m", "classification").await;
    let spec = watch_spec(window, extra);
    let (status, body) = daemon.json(Method::POST, "/v1/monitors", spec).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = daemon
        .admin(
            Method::PUT,
            "/v1/monitors/watch/reference",
            Some(("text/csv", records_csv("ref", 1, 1000, 0.0))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["reference_rows"], 1000);
}

/// What a webhook receiver got: the signature header (if any) and the body of each call.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, Vec<u8>)>>>;

/// A local webhook receiver that records what it gets; returns its URL.
pub async fn webhook_receiver() -> (String, Received) {
    let received = Received::default();
    let sink = received.clone();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    let signature = headers
                        .get("x-vigil-signature")
                        .map(|v| v.to_str().unwrap().to_string());
                    sink.lock().unwrap().push((signature, body.to_vec()));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await });
    (url, received)
}

/// How long a test waits for something that takes milliseconds on an idle machine: long
/// enough that only a fault, not a busy machine, runs out of it.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `done` until it holds, for at most [`PATIENCE`]; whether it did.
pub async fn wait_for(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// A child process, `vigil serve` most often, killed and waited for when dropped: a test that
/// fails half-way leaves no daemon behind. Its own children (the daemon that `strace` runs,
/// say) are killed first, while they are still known as its children.
pub struct Child(pub std::process::Child);

impl Child {
    /// Kills the process (and its children) now and waits for it; nothing once it is waited for.
    pub fn kill(&mut self) {
        // Until it is waited for, its pid cannot name another process.
        if !matches!(self.0.try_wait(), Ok(None)) {
            return;
        }
        let _ = Command::new("pkill")
            .args(["-KILL", "-P", &self.0.id().to_string()])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Prefix of the line `vigil serve` prints on stderr once it listens, followed by its URL.
pub const SERVING: &str = "vigil: serving on ";

/// The `vigil` binary on database `db`, with its compiled-plugin cache in `cache` and no
/// configuration file: what the tests that run the daemon as a process start from.
pub fn vigil_command(db: &str, cache: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command
        .env("VIGIL_DATABASE_URL", db)
        .env("VIGIL_CACHE_DIR", cache)
        .env_remove("VIGIL_CONFIG");
    command
}

/// Starts `command`, a `vigil serve` with `listen` on port 0 (or a program that runs one, with
/// its stderr), and waits for the line the daemon prints once it listens; returns the child and
/// the URL from that line. The daemon's stderr is copied to `log` as it comes. Learning the port
/// from the daemon itself leaves no moment where another process could take it.
pub fn serve(mut command: Command, log: &Path) -> (Child, String) {
    let mut child = Child(
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program())),
    );
    let stderr = child.0.stderr.take().unwrap();
    let mut file = std::fs::File::create(log).unwrap();
    let (found, url) = std::sync::mpsc::channel();
    // Reads to the end, so that the daemon never blocks on a full pipe; the sender goes with
    // the thread, so a daemon that exits before listening is seen at once.
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in std::io::BufReader::new(stderr).split(b'\n') {
            let Ok(line) = line else { break };
            let _ = file.write_all(&line).and_then(|()| file.write_all(b"\n"));
            let line = String::from_utf8_lossy(&line);
            if let Some(url) = line.strip_prefix(SERVING)
                && let Some(found) = found.take()
            {
                let _ = found.send(url.trim_end().to_string());
            }
        }
    });
    match url.recv_timeout(PATIENCE) {
        Ok(url) => (child, url),
        Err(error) => {
            drop(child);
            panic!(
                "the daemon did not start listening ({error}); its stderr:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        }
    }
}

/// Creates a token of `role` with the CLI, as an operator would (making the database if
/// needed); returns its text.
pub fn cli_token(db: &str, cache: &Path, role: &str) -> String {
    let output = vigil_command(db, cache)
        .args(["token", "create", "--role", role, "--create-database"])
        .output()
        .expect("vigil token create runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout.lines().last().unwrap().to_string()
}

/// A client of daemons run as processes, with one token.
pub struct Api {
    pub http: reqwest::Client,
    pub token: String,
}

impl Api {
    pub fn new(token: String) -> Api {
        Api {
            http: reqwest::Client::new(),
            token,
        }
    }

    /// Sends a request to the daemon at `base` with `token`; its status and JSON body (a
    /// string when the body is not JSON).
    pub async fn send_as(
        &self,
        token: &str,
        base: &str,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> (StatusCode, Value) {
        send(
            &self.http,
            method,
            &format!("{base}{path}"),
            Some(token),
            body,
            &[],
        )
        .await
    }

    pub async fn send(
        &self,
        base: &str,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> (StatusCode, Value) {
        self.send_as(&self.token, base, method, path, body).await
    }

    pub async fn get(&self, base: &str, path: &str) -> Value {
        let (status, body) = self.send(base, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    pub async fn post(&self, base: &str, path: &str, content_type: &str, body: Vec<u8>) -> Value {
        let (status, answer) = self
            .send(base, Method::POST, path, Some((content_type, body)))
            .await;
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }

    pub async fn post_json(&self, base: &str, path: &str, body: Value) -> Value {
        self.post(
            base,
            path,
            "application/json",
            body.to_string().into_bytes(),
        )
        .await
    }
}

/// Polls `check` until it gives a value, for at most [`PATIENCE`].
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    check: impl Fn() -> F,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
