//! The dashboard's pages on a long history: a daemon whose monitor has 10,000 stored windows,
//! and the time each page's API requests take, as the page makes them (docs/dashboard.md).
//!
//!     cargo bench -p vigil-tests --bench dashboard [-- WINDOWS]
//!
//! Two real windows are evaluated by the daemon; their stored evaluation is then recorded again
//! through the store for each further window (an alert every tenth), so the pages read what a
//! monitor that ran for a year of hourly windows would have stored. Each page's requests are
//! made one after another (the page makes some at once: this is an upper bound), 20 times;
//! the median is printed, then a JSON line.

use std::time::{Duration, Instant};

use serde_json::Value;
use vigil::config::Config;
use vigil::server::{self, AppState, auth};
use vigil_store::{MonitorState, NewAlert, NewEvaluation, Store};

const WINDOW: usize = 100;
const ROUNDS: usize = 20;

fn csv(prefix: &str, rows: usize, shift: f64) -> String {
    let mut text = String::from("id,x,y,color\n");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ prefix.len() as u64 ^ shift.to_bits();
    for i in 0..rows {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        let color = ["red", "green", "blue"][i % 3];
        text.push_str(&format!("{prefix}{i},{},{},{color}\n", u + shift, 1.0 - u));
    }
    text
}

async fn call(http: &reqwest::Client, base: &str, token: &str, path: &str) -> Value {
    let answer = http
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.unwrap()
}

async fn send(http: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) {
    let answer = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
}

async fn put_csv(http: &reqwest::Client, base: &str, token: &str, path: &str, body: String) {
    let method = if path.ends_with("/reference") {
        reqwest::Method::PUT
    } else {
        reqwest::Method::POST
    };
    let answer = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let windows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("vigil.db").display());
    let config = Config {
        database_url: db.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tick_ms: 20,
        ..Config::default()
    };
    let store = Store::open(&db).await.unwrap();
    let token = auth::create_token(&store, "bench", auth::Role::Admin)
        .await
        .unwrap()
        .text;
    let runtime = vigil_runtime::Runtime::new(config.runtime_config()).unwrap();
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(store.clone(), runtime, config).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(server::serve(state, listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    send(
        &http,
        &base,
        &token,
        "/v1/models",
        serde_json::json!({"name": "m", "task": "classification"}),
    )
    .await;
    let spec = serde_json::json!({
        "name": "watch", "model": "m", "window": {"records": WINDOW},
        "features": [{"name": "x", "type": "numeric"}, {"name": "y", "type": "numeric"},
                     {"name": "color", "type": "categorical"}],
    });
    send(&http, &base, &token, "/v1/monitors", spec).await;
    put_csv(
        &http,
        &base,
        &token,
        "/v1/monitors/watch/reference",
        csv("r", 1000, 0.0),
    )
    .await;
    put_csv(
        &http,
        &base,
        &token,
        "/v1/models/m/records",
        csv("a", WINDOW, 0.0),
    )
    .await;
    put_csv(
        &http,
        &base,
        &token,
        "/v1/models/m/records",
        csv("b", WINDOW, 0.5),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored = loop {
        let page = call(&http, &base, &token, "/v1/monitors/watch/evaluations").await;
        if page["evaluations"].as_array().unwrap().len() == 2 {
            break page["evaluations"][0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the two windows were not evaluated"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let monitor = store.monitor("watch").await.unwrap().unwrap();
    let mut position = store.monitor_state(monitor.id).await.unwrap().unwrap();
    let result = stored["result"].to_string();
    let started = Instant::now();
    for i in 2..windows as i64 {
        let start = i * WINDOW as i64;
        let next = MonitorState {
            next_offset: start + WINDOW as i64,
            ..position.clone()
        };
        let alerts = if i % 10 == 0 {
            vec![NewAlert {
                cause: "drift",
                message: "1 of 3 tested columns drifted",
            }]
        } else {
            Vec::new()
        };
        store
            .record_evaluation(
                &NewEvaluation {
                    monitor_id: monitor.id,
                    window_start: start,
                    window_end: start + WINDOW as i64,
                    started_at: stored["started_at"].as_i64().unwrap() + i,
                    finished_at: stored["finished_at"].as_i64().unwrap() + i,
                    status: stored["status"].as_str().unwrap(),
                    action: stored["action"].as_str().unwrap(),
                    reason: stored["reason"].as_str().unwrap(),
                    result: &result,
                    actions: &[],
                },
                &next,
                &alerts,
            )
            .await
            .unwrap();
        position = next;
    }
    eprintln!(
        "recorded {} windows in {:.1} s",
        windows,
        started.elapsed().as_secs_f64()
    );

    let newest = call(
        &http,
        &base,
        &token,
        "/v1/monitors/watch/evaluations?limit=1",
    )
    .await["evaluations"][0]["id"]
        .as_i64()
        .unwrap();
    let pages: Vec<(&str, Vec<String>)> = vec![
        (
            "monitors",
            vec![
                "/v1/whoami".into(),
                "/v1/status".into(),
                "/v1/monitors/watch/timeline?limit=50".into(),
            ],
        ),
        (
            "monitor",
            vec![
                "/v1/monitors/watch".into(),
                "/v1/monitors/watch/timeline?limit=200".into(),
            ],
        ),
        (
            "monitor, oldest page",
            vec![
                "/v1/monitors/watch".into(),
                "/v1/monitors/watch/timeline?limit=200&before=202".into(),
            ],
        ),
        (
            "evaluation",
            vec![
                format!("/v1/evaluations/{newest}"),
                format!("/v1/evaluations/{newest}/distributions"),
            ],
        ),
        (
            "alerts",
            vec!["/v1/alerts?limit=200".into(), "/v1/monitors".into()],
        ),
        (
            "plugins",
            vec![
                "/v1/plugins".into(),
                "/v1/monitors".into(),
                "/v1/status".into(),
            ],
        ),
        (
            "models",
            vec![
                "/v1/models".into(),
                "/v1/actions?limit=200".into(),
                "/v1/models/m/versions".into(),
            ],
        ),
    ];
    let mut figures = serde_json::Map::new();
    println!("| page | requests | median ms ({ROUNDS} rounds, {windows} windows) |");
    println!("| --- | ---: | ---: |");
    for (page, requests) in &pages {
        let mut times = Vec::new();
        for _ in 0..ROUNDS {
            let started = Instant::now();
            for path in requests {
                call(&http, &base, &token, path).await;
            }
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let median = times[ROUNDS / 2];
        println!("| {page} | {} | {median:.1} |", requests.len());
        figures.insert(page.to_string(), median.into());
    }
    println!("{}", Value::Object(figures));
    let _ = stop.send(());
    daemon.await.unwrap().unwrap();
}
