//! The dashboard in a real browser: headless Chromium driven through chromedriver (WebDriver),
//! on a daemon fed a stream whose feature `x` drifts from the third window on. It logs in as a
//! new user would, opens every page, checks that the heat map shows the drift where it was
//! injected, that a browser without a token sees nothing, that a `read` token gets no replay
//! button and an `admin` one replays, and that the browser logged no error (a script error, a
//! Content-Security-Policy violation, a failed request). Screenshots are written to
//! `target/dashboard-screenshots/` for people to look at. See docs/dashboard.md. The HTML
//! report of `vigil drift` is opened here too, from its file.
//!
//! Needs Chromium and chromedriver: `VIGIL_TEST_CHROMEDRIVER` names the driver (scripts/test.sh
//! installs Debian's `chromium` and `chromium-driver` and sets it).

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use common::{model_and_monitor, records_csv, sqlite_database, start};

const WINDOW: usize = 400;
/// Windows like the reference, then windows whose `x` is shifted by one standard deviation.
const STABLE_WINDOWS: usize = 2;
const DRIFTED_WINDOWS: usize = 3;
const PATIENCE: Duration = Duration::from_secs(60);

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn chromedriver() -> Driver {
    let binary = std::env::var("VIGIL_TEST_CHROMEDRIVER").expect(
        "VIGIL_TEST_CHROMEDRIVER names chromedriver (scripts/test.sh installs Debian's chromium \
         and chromium-driver and sets it)",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        let ready = reqwest::get(format!("{}/status", driver.url))
            .await
            .ok()
            .filter(|answer| answer.status().is_success());
        if ready.is_some() {
            return driver;
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1280,1100"]}),
    );
    capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// chromedriver's browser log (its `se/log` endpoint): every console message since the last
/// read, with script errors, CSP violations and failed requests at level SEVERE.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

async fn severe_log_entries(client: &Client) -> Vec<Value> {
    let log = client.issue_cmd(BrowserLog).await.expect("the browser log");
    log.as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .cloned()
        .collect()
}

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join("target")
        });
    let dir = target.join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// Opens `hash` and waits until the page says it is drawn; fails on a page error.
async fn open(client: &Client, base: &str, hash: &str) {
    client.goto(&format!("{base}/ui{hash}")).await.unwrap();
    wait_ready(client, hash).await;
}

async fn wait_ready(client: &Client, hash: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let page = client.find(Locator::Id("page")).await.unwrap();
        if page.attr("data-ready").await.unwrap().as_deref() == Some(hash) {
            break;
        }
        assert!(Instant::now() < deadline, "{hash} was never drawn");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let errors = client.find_all(Locator::Id("page-error")).await.unwrap();
    if let Some(error) = errors.first() {
        panic!("{hash}: {}", error.text().await.unwrap());
    }
}

async fn log_in(client: &Client, base: &str, token: &str) {
    client.goto(&format!("{base}/ui#/")).await.unwrap();
    let input = client
        .wait()
        .for_element(Locator::Id("token"))
        .await
        .unwrap();
    input.send_keys(token).await.unwrap();
    click(client, Locator::Css("#login-form button")).await;
    wait_ready(client, "#/").await;
}

async fn click(client: &Client, locator: Locator<'_>) {
    client.find(locator).await.unwrap().click().await.unwrap();
}

async fn text(client: &Client, locator: Locator<'_>) -> String {
    client.find(locator).await.unwrap().text().await.unwrap()
}

async fn body_text(client: &Client) -> String {
    text(client, Locator::Css("body")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and chromedriver: VIGIL_TEST_CHROMEDRIVER (scripts/test.sh installs them)"]
async fn a_new_user_sees_the_drift_where_it_was_injected() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&sqlite_database(&dir)).await;
    model_and_monitor(&daemon, WINDOW as u64, json!({})).await;
    for window in 0..STABLE_WINDOWS + DRIFTED_WINDOWS {
        let shift = if window < STABLE_WINDOWS { 0.0 } else { 1.0 };
        let csv = records_csv(&format!("w{window}-"), 20 + window as u64, WINDOW, shift);
        daemon.ingest_csv(csv).await;
    }
    let evaluations = daemon
        .evaluations("watch", STABLE_WINDOWS + DRIFTED_WINDOWS)
        .await;
    let read = daemon.token("read").await;
    let admin = daemon.admin.clone();
    let base = daemon.url.clone();

    let driver = chromedriver().await;
    let client = browser(&driver).await;

    // Without a token: the login form, and nothing of the daemon's.
    for hash in [
        "#/",
        "#/monitors/watch",
        &format!("#/evaluations/{}", evaluations[0]["id"]),
    ] {
        client.goto(&format!("{base}/ui{hash}")).await.unwrap();
        client
            .wait()
            .for_element(Locator::Css("#login:not([hidden])"))
            .await
            .unwrap();
        let text = body_text(&client).await;
        assert!(
            !text.contains("watch") && !text.contains("drift"),
            "{hash}: {text}"
        );
    }
    screenshot(&client, "0-login").await;

    // A wrong token is refused and said so.
    let input = client.find(Locator::Id("token")).await.unwrap();
    input.send_keys("vgl_000000000000_nope").await.unwrap();
    click(&client, Locator::Css("#login-form button")).await;
    client
        .wait()
        .for_element(Locator::XPath(
            "//p[@id='login-error' and contains(., 'refused')]",
        ))
        .await
        .unwrap();

    // A read token: the overview lists the monitor with its last decision.
    log_in(&client, &base, &read).await;
    let row = text(&client, Locator::Css("#monitors tr[data-monitor='watch']")).await;
    let decision = evaluations[0]["action"].as_str().unwrap();
    assert!(
        row.starts_with("watch m ") && row.contains(decision),
        "{row}"
    );
    screenshot(&client, "1-monitors").await;

    // The monitor's heat map: `x` drifted in exactly the windows it was shifted in.
    open(&client, &base, "#/monitors/watch").await;
    let cells: Value = client
        .execute(
            "return [...document.querySelectorAll('#heatmap rect.cell')].map(r => \
             [r.dataset.column, Number(r.dataset.window), r.classList.contains('drifted')]);",
            vec![],
        )
        .await
        .unwrap();
    let mut windows: Vec<i64> = evaluations
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    windows.sort();
    for (index, window) in windows.iter().enumerate() {
        let drifted = cells
            .as_array()
            .unwrap()
            .iter()
            .find(|cell| cell[0] == "x" && cell[1] == *window)
            .unwrap_or_else(|| panic!("no cell for x in window {window}: {cells}"))[2]
            .as_bool()
            .unwrap();
        assert_eq!(
            drifted,
            index >= STABLE_WINDOWS,
            "window {index} ({window}): {cells}"
        );
    }
    let charts = client.find_all(Locator::Css("svg.chart")).await.unwrap();
    assert_eq!(charts.len(), 1 + 3, "the share chart and one per column");
    screenshot(&client, "2-monitor").await;

    // A drifted window's report: `x` drifted; a read token has no replay button.
    let newest = windows.last().unwrap();
    open(&client, &base, &format!("#/evaluations/{newest}")).await;
    let table = text(&client, Locator::Id("columns")).await;
    let x_row = table
        .lines()
        .find(|l| l.starts_with("x "))
        .unwrap()
        .to_string();
    assert!(
        x_row.contains("drift-ks") && x_row.contains("drifted"),
        "{table}"
    );
    assert!(
        client
            .find_all(Locator::Id("replay"))
            .await
            .unwrap()
            .is_empty()
    );
    // Its plots: the window's `x` sits right of the reference's (shifted by one standard
    // deviation), its `y` where the reference's is. Centres are the bars' height-weighted x.
    let centres: Value = client
        .execute(
            "return [...document.querySelectorAll('#distributions svg[data-column]')].map(chart => {\
               const centre = side => { let w = 0, s = 0;\
                 chart.querySelectorAll('rect.bar.' + side).forEach(r => {\
                   const h = Number(r.getAttribute('height')); w += h; s += h * Number(r.getAttribute('x')); });\
                 return s / w; };\
               return [chart.dataset.column, centre('reference'), centre('current')]; });",
            vec![],
        )
        .await
        .unwrap();
    let shift = |column: &str| {
        let row = centres
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row[0] == column)
            .unwrap_or_else(|| panic!("no plot of {column}: {centres}"));
        row[2].as_f64().unwrap() - row[1].as_f64().unwrap()
    };
    assert!(
        shift("x") > 30.0,
        "x's window is not drawn shifted: {centres}"
    );
    assert!(
        shift("y").abs() < 10.0,
        "y's window is drawn shifted: {centres}"
    );
    assert_eq!(centres.as_array().unwrap().len(), 3, "{centres}");
    // Sorting by p-value puts `x` (the smallest) first.
    click(
        &client,
        Locator::XPath("//table[@id='columns']//th[.='p-value']"),
    )
    .await;
    let first = text(&client, Locator::Css("#columns tbody tr td")).await;
    assert_eq!(first, "x");
    screenshot(&client, "3-evaluation").await;

    for (hash, table) in [
        ("#/alerts", "alerts"),
        ("#/plugins", "plugins"),
        ("#/models", "runs"),
    ] {
        open(&client, &base, hash).await;
        client.find(Locator::Id(table)).await.unwrap();
        screenshot(&client, &format!("4-{}", &hash[2..])).await;
    }
    let plugins = body_text(&client).await;
    assert!(
        plugins.contains("Retraining runs and rollouts"),
        "{plugins}"
    );
    open(&client, &base, "#/plugins").await;
    let ks = client
        .find(Locator::XPath(
            "//table[@id='plugins']//tr[td[1]='drift-ks']",
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ks.contains("watch"), "drift-ks is used by watch: {ks}");

    // An admin replays the window from its page.
    click(&client, Locator::Id("logout")).await;
    log_in(&client, &base, &admin).await;
    open(&client, &base, &format!("#/evaluations/{newest}")).await;
    click(&client, Locator::Id("replay")).await;
    client
        .wait()
        .for_element(Locator::XPath(
            "//div[@id='replay-result' and contains(., 'the same result')]",
        ))
        .await
        .unwrap();

    // Logged out: the token is gone from the tab.
    click(&client, Locator::Id("logout")).await;
    let stored = client
        .execute("return sessionStorage.getItem('vigil-token');", vec![])
        .await
        .unwrap();
    assert_eq!(stored, Value::Null);

    // The one expected error: the refused token's 401.
    let severe = severe_log_entries(&client).await;
    let unexpected: Vec<&Value> = severe
        .iter()
        .filter(|e| {
            !e["message"].as_str().unwrap_or("").contains(
                "/v1/whoami - Failed to load resource: the server responded with a status of 401",
            )
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "the browser logged errors: {unexpected:#?}"
    );
    client.close().await.unwrap();
    daemon.stop().await;
}

/// `vigil drift --format html`'s report, opened from a file: it loads nothing (no script, style,
/// font or image from anywhere), logs no error, draws a plot per column with `x`'s window
/// shifted, and sorts its table by a click.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and chromedriver: VIGIL_TEST_CHROMEDRIVER (scripts/test.sh installs them)"]
async fn the_html_report_opens_from_a_file_and_shows_the_drift() {
    let dir = tempfile::tempdir().unwrap();
    let side = |shift: f64, seed: u64| {
        let (xs, ys) = (
            common::numbers(seed, 2000, shift),
            common::numbers(seed + 1, 2000, 10.0),
        );
        let mut csv = String::from("x,y,color\n");
        for (i, (x, y)) in xs.iter().zip(&ys).enumerate() {
            csv.push_str(&format!("{x},{y},{}\n", ["red", "green", "blue"][i % 3]));
        }
        csv
    };
    let (reference, current, report) = (
        dir.path().join("reference.csv"),
        dir.path().join("current.csv"),
        dir.path().join("report.html"),
    );
    std::fs::write(&reference, side(0.0, 1)).unwrap();
    std::fs::write(&current, side(1.0, 3)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["drift", "--reference"])
        .arg(&reference)
        .arg("--current")
        .arg(&current)
        .args(["--format", "html", "--output"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let driver = chromedriver().await;
    let client = browser(&driver).await;
    client
        .goto(&format!("file://{}", report.display()))
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Id("columns"))
        .await
        .unwrap();
    let loaded = client
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(loaded, json!([]), "the report loaded other files");
    let plots = client
        .find_all(Locator::Css("article[data-column] svg.plot"))
        .await
        .unwrap();
    assert_eq!(plots.len(), 3);
    let verdicts = text(&client, Locator::Id("columns")).await;
    let x_row = verdicts.lines().find(|l| l.starts_with("x ")).unwrap();
    assert!(x_row.contains("drifted"), "{verdicts}");
    click(
        &client,
        Locator::XPath("//table[@id='columns']//th[.='p-value']"),
    )
    .await;
    assert_eq!(
        text(&client, Locator::Css("#columns tbody tr td")).await,
        "x"
    );
    screenshot(&client, "5-html-report").await;
    let severe = severe_log_entries(&client).await;
    assert!(severe.is_empty(), "the browser logged errors: {severe:#?}");
    client.close().await.unwrap();
}
