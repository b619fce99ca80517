//! Multivariate drift tests in a monitor (`pipeline.multivariate`, docs/monitors.md): run each
//! window after the per-column tests, stored with the evaluation, passed to the policy as one
//! more column named `TEST(col,…)`, replayed exactly; a spec that misuses them is refused with
//! 422 naming the field, and a test the plugin refuses fails its result, never the window.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{model_and_monitor, on_both_backends, records_csv, start};

on_both_backends!(multivariate_tests_run_each_window_reach_the_policy_and_replay);
async fn multivariate_tests_run_each_window_reach_the_policy_and_replay(db: String) {
    let daemon = start(&db).await;
    daemon.upload_standard_plugins().await;
    model_and_monitor(
        &daemon,
        500,
        json!({"pipeline": {"multivariate": [
            {"plugin": "drift-mmd", "columns": ["x", "y"], "config": {"seed": 3}},
            {"plugin": "drift-pca"},
            {"plugin": "drift-pca", "columns": ["y", "x"], "config": {"chunks": 1}},
        ]}}),
    )
    .await;
    let (_, monitor) = daemon.admin(Method::GET, "/v1/monitors/watch", None).await;
    let stored = &monitor["spec"]["pipeline"]["multivariate"];
    assert_eq!(stored[0]["plugin"], "drift-mmd@0.1.0", "{monitor}");
    assert_eq!(stored[0]["columns"], json!(["x", "y"]));
    assert_eq!(stored[0]["config"]["seed"], 3);
    for (i, (seed, shift)) in [(2, 0.0), (4, 2.0)].into_iter().enumerate() {
        let (status, body) = daemon
            .admin(
                Method::POST,
                "/v1/models/m/records",
                Some(("text/csv", records_csv(&format!("w{i}-"), seed, 500, shift))),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let evaluations = daemon.evaluations("watch", 2).await;
    let (shifted, steady) = (&evaluations[0], &evaluations[1]);
    let results = |evaluation: &Value| {
        evaluation["result"]["multivariate"]
            .as_array()
            .unwrap()
            .clone()
    };
    for evaluation in [steady, shifted] {
        let results = results(evaluation);
        assert_eq!(results.len(), 3, "{evaluation}");
        let names: Vec<&str> = results
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["mmd(x,y)", "pca(x,y)", "pca(y,x)"]);
        assert_eq!(results[0]["test"], "drift-mmd");
        assert_eq!(results[0]["plugin"], "drift-mmd@0.1.0");
        assert_eq!(results[0]["columns"], json!(["x", "y"]));
        // The plugin refused its settings: that result failed, the window is partial.
        assert_eq!(results[2]["drifted"], Value::Null);
        assert_eq!(
            results[2]["failure"]["kind"], "plugin_error",
            "{evaluation}"
        );
        assert!(
            results[2]["failure"]["message"]
                .as_str()
                .unwrap()
                .contains("chunks must lie between 2 and 1000")
        );
        assert_eq!(evaluation["status"], "partial");
    }
    let steady_mmd = &results(steady)[0];
    assert_eq!(steady_mmd["drifted"], false, "{steady}");
    assert!(steady_mmd["p_value"].as_f64().unwrap() >= 0.05);
    let shifted_mmd = &results(shifted)[0];
    assert_eq!(shifted_mmd["drifted"], true, "{shifted}");
    assert_eq!(shifted_mmd["p_value"], 0.0);
    assert!(results(shifted)[1]["statistic"].as_f64().unwrap() > 0.0);
    // The policy counted both working multivariate tests as columns (x, y, color, mmd, pca;
    // the failed one is not tested) and named the drifted one.
    let reason = shifted["reason"].as_str().unwrap();
    assert!(reason.contains("of 5 tested columns drifted"), "{reason}");
    assert!(reason.contains("mmd(x,y)"), "{reason}");

    for evaluation in [shifted, steady] {
        let (status, report) = daemon
            .json(
                Method::POST,
                &format!("/v1/evaluations/{}/replay", evaluation["id"]),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["same"], true, "{report}");
        assert_eq!(
            report["replayed"]["multivariate"].as_array().unwrap().len(),
            3
        );
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_that_misuses_a_multivariate_test_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(&crate::common::sqlite_database(&dir)).await;
    daemon.upload_standard_plugins().await;
    daemon.create_model("m", "classification").await;
    let cases = [
        (
            json!({"multivariate": [{"plugin": "drift-mmd", "columns": ["x", "color"]}]}),
            "pipeline.multivariate[0].columns: `color` is a categorical feature",
        ),
        (
            json!({"multivariate": [{"plugin": "drift-mmd", "columns": ["x", "nope"]}]}),
            "pipeline.multivariate[0].columns: no feature named `nope`",
        ),
        (
            json!({"multivariate": [{"plugin": "drift-mmd", "columns": ["x", "x"]}]}),
            "listed twice",
        ),
        (
            json!({"multivariate": [{"plugin": "drift-mmd", "config": {"bandwidth": 1}}]}),
            "bandwidth",
        ),
        (
            json!({"multivariate": [{"plugin": "drift-ks"}]}),
            "expected a multivariate-drift-test",
        ),
        (
            json!({"numeric": {"plugin": "drift-mmd"}}),
            "is a multivariate-drift-test plugin, expected a drift-test",
        ),
        (
            json!({"multivariate": [{"plugin": "drift-pca", "colums": ["x"]}]}),
            "colums",
        ),
    ];
    for (pipeline, needle) in cases {
        let spec = crate::common::watch_spec(100, json!({"pipeline": pipeline}));
        let (status, body) = daemon.json(Method::POST, "/v1/monitors", spec).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{pipeline}: {body}"
        );
        assert!(body.to_string().contains(needle), "{pipeline}: {body}");
    }
    daemon.stop().await;
}
