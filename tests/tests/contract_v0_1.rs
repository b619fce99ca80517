//! Components built for `vigil:plugin@0.1.0` keep loading and running (docs/architecture.md,
//! "Contract versions"): the fixtures in `tests/fixtures/v0.1.0` (one of each kind 0.1.0 has,
//! built from that version's sources by `scripts/build-0.1.0-fixtures.sh`) load, describe
//! themselves, and give the same results as today's build of the same plugins on the same
//! inputs; a monitor whose drift test and policy are 0.1.0 components uploaded through the API
//! evaluates a window end to end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use vigil_runtime::{
    Action, Batch, Column, ColumnData, ColumnResult, Context, History, Metric, Plugin, PluginKind,
    Runtime,
};
use vigil_tests::{load, runtime, workspace};

mod common;

/// A 0.1.0 fixture, loaded.
fn fixture(runtime: &Runtime, name: &str) -> Arc<Plugin> {
    let path = workspace().join(format!("tests/fixtures/v0.1.0/{name}-v0-1.wasm"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    runtime
        .load(&bytes)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn each_fixture_loads_and_describes_itself() {
    let runtime = runtime();
    for (name, kind) in [
        ("drift-ks", PluginKind::DriftTest),
        ("detect-page-hinkley", PluginKind::Detector),
        ("preprocess-standardize", PluginKind::Preprocessor),
        ("policy-threshold", PluginKind::Policy),
    ] {
        let old = fixture(&runtime, name);
        let info = old.info();
        assert_eq!(info.name, format!("{name}-v0-1"));
        assert_eq!(info.version, "0.1.0");
        assert_eq!(info.kind, kind);
        let today = load(&runtime, name);
        assert_eq!(info.description, today.info().description, "{name}");
        assert_eq!(info.column_kinds, today.info().column_kinds, "{name}");
        assert_eq!(info.score, today.info().score, "{name}");
    }
}

fn numbers(n: usize, shift: f64) -> Vec<f64> {
    (0..n)
        .map(|i| (i * 37 % 101) as f64 / 10.0 + shift)
        .collect()
}

#[test]
fn a_0_1_0_drift_test_gives_todays_statistic_and_p_value() {
    let runtime = runtime();
    let reference = ColumnData::Numeric(numbers(300, 0.0));
    let mut missing = numbers(200, 0.5);
    missing[3] = f64::NAN;
    let windows = [numbers(200, 0.0), numbers(200, 2.0), missing];
    let run = |plugin: &Arc<Plugin>| {
        let mut session = plugin
            .drift_test(runtime.shared(), &reference, "{}")
            .unwrap();
        windows
            .iter()
            .map(|window| {
                session
                    .evaluate(&ColumnData::Numeric(window.clone()))
                    .unwrap()
            })
            .collect::<Vec<_>>()
    };
    let old = fixture(&runtime, "drift-ks");
    let results = run(&old);
    assert!(!results[0].drifted && results[1].drifted, "{results:?}");
    assert_eq!(results, run(&load(&runtime, "drift-ks")));
    // A failure the plugin reports reaches the host as today's error.
    let error = old
        .drift_test(runtime.shared(), &ColumnData::Numeric(vec![]), "{}")
        .err()
        .expect("an empty reference is refused");
    assert!(
        matches!(error, vigil_runtime::Error::Plugin { .. }),
        "{error}"
    );
}

#[test]
fn a_0_1_0_detector_detects_where_todays_does_and_resumes_from_its_snapshot() {
    let runtime = runtime();
    let stream: Vec<f64> = numbers(400, 0.0)
        .into_iter()
        .chain(numbers(400, 30.0))
        .collect();
    let run = |plugin: &Arc<Plugin>| {
        // Two windows, the detector resumed from its snapshot between them.
        let mut first = plugin.detector(runtime.shared(), "{}", None).unwrap();
        let mut detections = first.update(&stream[..500]).unwrap();
        let snapshot = first.snapshot().unwrap();
        drop(first);
        let mut second = plugin
            .detector(runtime.shared(), "{}", Some(&snapshot))
            .unwrap();
        detections.extend(second.update(&stream[500..]).unwrap());
        detections
    };
    let old = run(&fixture(&runtime, "detect-page-hinkley"));
    assert!(!old.is_empty(), "the shift is detected");
    assert_eq!(old, run(&load(&runtime, "detect-page-hinkley")));
}

#[test]
fn a_0_1_0_preprocessor_transforms_as_todays_does() {
    let runtime = runtime();
    let batch = |shift: f64| Batch {
        columns: vec![
            Column {
                name: "x".into(),
                data: ColumnData::Numeric(numbers(50, shift)),
            },
            Column {
                name: "k".into(),
                data: ColumnData::Categorical(vigil_runtime::CategoricalColumn {
                    categories: vec!["a".into(), "b".into()],
                    codes: (0..50).map(|i| i % 2).collect(),
                }),
            },
        ],
    };
    let transform = |plugin: &Arc<Plugin>| {
        plugin
            .preprocessor(runtime.shared(), &batch(0.0), "{}")
            .unwrap()
            .transform(&batch(1.0))
            .unwrap()
    };
    let old = transform(&fixture(&runtime, "preprocess-standardize"));
    assert_eq!(old, transform(&load(&runtime, "preprocess-standardize")));
    assert_ne!(old, batch(1.0), "it standardized x");
}

#[test]
fn a_0_1_0_policy_decides_as_todays_does_and_keeps_no_state() {
    let runtime = runtime();
    let column = |name: &str, drifted: bool| ColumnResult {
        column: name.into(),
        test: "drift-ks".into(),
        statistic: 0.4,
        p_value: Some(if drifted { 0.001 } else { 0.6 }),
        drifted,
        failure: None,
    };
    let context = |drifted: usize| Context {
        columns: (0..4)
            .map(|i| column(&format!("c{i}"), i < drifted))
            .collect(),
        metrics: vec![Metric {
            name: "accuracy".into(),
            value: 0.8,
            reference: Some(0.9),
        }],
        history: History {
            model_version: Some("v1".into()),
            last_alert: None,
            last_retrain: None,
            windows_since_retrain: 3,
            recent: Vec::new(),
        },
        now: 1_700_000_000,
        // A 0.1.0 policy has no state: it is not given this.
        state: Some(vec![1, 2, 3]),
    };
    let old = fixture(&runtime, "policy-threshold");
    let today = load(&runtime, "policy-threshold");
    let mut actions = Vec::new();
    for drifted in [0, 1, 4] {
        let decided = old
            .decide(runtime.shared(), &context(drifted), "{}")
            .unwrap();
        let expected = today
            .decide(runtime.shared(), &context(drifted), "{}")
            .unwrap();
        assert_eq!(decided, expected, "{drifted} drifted");
        assert_eq!(decided.state, None);
        actions.push(decided.action);
    }
    assert_eq!(actions[0], Action::None);
    assert_eq!(actions[2], Action::Retrain);
}

/// `rows` records of `x`, moved by `shift` (20 drifts under KS).
fn csv(prefix: &str, rows: usize, shift: f64) -> Vec<u8> {
    let mut text = String::from("id,x\n");
    for (i, x) in numbers(rows, shift).into_iter().enumerate() {
        text.push_str(&format!("{prefix}{i},{x}\n"));
    }
    text.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_runs_a_0_1_0_drift_test_and_policy_uploaded_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("vigil.db").display());
    let (api, _serving) = common::serve(&db, None, |_| {}, std::future::pending()).await;
    for name in ["drift-ks", "policy-threshold"] {
        let path = workspace().join(format!("tests/fixtures/v0.1.0/{name}-v0-1.wasm"));
        let stored = api.upload(std::fs::read(path).unwrap()).await;
        assert_eq!(stored["version"], "0.1.0", "{stored}");
    }
    let json = |value: Value| Some(("application/json", value.to_string().into_bytes()));
    api.call(
        Method::POST,
        "/v1/models",
        json(json!({"name": "m", "task": "regression"})),
    )
    .await;
    let spec = json!({
        "name": "old", "model": "m", "window": {"records": 200},
        "features": [{"name": "x", "type": "numeric"}],
        "pipeline": {"numeric": {"plugin": "drift-ks-v0-1@0.1.0"}},
        "policy": {"plugin": "policy-threshold-v0-1@0.1.0"},
    });
    api.call(Method::POST, "/v1/monitors", json(spec)).await;
    let reference = Some(("text/csv", csv("r", 300, 0.0)));
    api.call(Method::PUT, "/v1/monitors/old/reference", reference)
        .await;
    let window = Some(("text/csv", csv("w", 200, 20.0)));
    api.call(Method::POST, "/v1/models/m/records", window).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let evaluation = loop {
        let page = api
            .call(Method::GET, "/v1/monitors/old/evaluations", None)
            .await;
        if let Some(first) = page["evaluations"].as_array().unwrap().first() {
            break first.clone();
        }
        assert!(Instant::now() < deadline, "no evaluation: {page}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(evaluation["status"], "ok", "{evaluation}");
    let column = &evaluation["result"]["columns"][0];
    assert_eq!(column["plugin"], "drift-ks-v0-1@0.1.0", "{column}");
    assert_eq!(column["drifted"], true, "{column}");
    assert_eq!(evaluation["action"], "retrain", "{evaluation}");
    assert_eq!(evaluation["result"]["policy"]["state"], Value::Null);
}
