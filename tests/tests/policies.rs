//! The standard retraining policies as the daemon runs them: built components in the real
//! runtime, deciding on contexts that carry the monitor's earlier windows (docs/monitors.md,
//! "policy").

use vigil_runtime::{Action, ColumnResult, Context, History, Metric, PastWindow, PluginKind};
use vigil_tests::{load, runtime};

const NOW: u64 = 1_700_000_000;

fn columns(drifted: usize, stable: usize) -> Vec<ColumnResult> {
    (0..drifted + stable)
        .map(|i| ColumnResult {
            column: format!("c{i}"),
            test: "drift-ks".into(),
            statistic: 0.2,
            p_value: Some(if i < drifted { 0.001 } else { 0.4 }),
            drifted: i < drifted,
            failure: None,
        })
        .collect()
}

fn past(tested: u32, drifted: u32, action: Action, age: u64) -> PastWindow {
    PastWindow {
        evaluated_at: NOW - age,
        start: 0,
        end: 100,
        tested,
        drifted: (0..drifted).map(|i| format!("c{i}")).collect(),
        metrics: vec![Metric {
            name: "accuracy".into(),
            value: 0.9,
            reference: Some(0.9),
        }],
        decided: true,
        action,
    }
}

fn context(columns: Vec<ColumnResult>, metrics: Vec<Metric>, recent: Vec<PastWindow>) -> Context {
    Context {
        columns,
        metrics,
        history: History {
            model_version: Some("v1".into()),
            last_alert: None,
            last_retrain: None,
            windows_since_retrain: recent.len() as u32,
            recent,
        },
        now: NOW,
        state: None,
    }
}

#[test]
fn each_policy_describes_itself_and_refuses_unknown_settings() {
    let runtime = runtime();
    for name in [
        "policy-consecutive",
        "policy-performance",
        "policy-composite",
    ] {
        let plugin = load(&runtime, name);
        let info = plugin.info();
        assert_eq!(info.name, name);
        assert_eq!(info.kind, PluginKind::Policy);
        let schema: serde_json::Value = serde_json::from_str(&info.config_schema).unwrap();
        assert_eq!(
            schema["additionalProperties"],
            serde_json::Value::Bool(false),
            "{name}: {schema}"
        );
        let error = plugin
            .decide(
                runtime.shared(),
                &context(columns(1, 1), vec![], vec![]),
                r#"{"metric": "accuracy", "conditions": [{"type": "drift_share"}], "nope": 1}"#,
            )
            .unwrap_err();
        assert!(
            error.to_string().contains("unknown field"),
            "{name}: {error}"
        );
    }
}

#[test]
fn consecutive_counts_the_windows_the_history_carries() {
    let runtime = runtime();
    let plugin = load(&runtime, "policy-consecutive");
    let config = r#"{"windows": 3, "drift_share": 0.5}"#;
    let decide = |recent: Vec<PastWindow>| {
        plugin
            .decide(
                runtime.shared(),
                &context(columns(2, 2), vec![], recent),
                config,
            )
            .unwrap()
    };
    let second = decide(vec![past(4, 3, Action::None, 600)]);
    assert_eq!(second.action, Action::None, "{}", second.reason);
    let third = decide(vec![
        past(4, 3, Action::None, 600),
        past(4, 2, Action::None, 1200),
    ]);
    assert_eq!(third.action, Action::Retrain, "{}", third.reason);
    assert!(
        third.reason.contains("3 drifted windows in a row"),
        "{}",
        third.reason
    );
    let after_retrain = decide(vec![
        past(4, 3, Action::Retrain, 600),
        past(4, 2, Action::None, 1200),
    ]);
    assert_eq!(
        after_retrain.action,
        Action::None,
        "{}",
        after_retrain.reason
    );
}

#[test]
fn performance_and_composite_read_estimated_metrics() {
    let runtime = runtime();
    let estimated = vec![Metric {
        name: "estimated_roc_auc".into(),
        value: 0.71,
        reference: Some(0.86),
    }];
    let performance = load(&runtime, "policy-performance");
    let decision = performance
        .decide(
            runtime.shared(),
            &context(columns(0, 3), estimated.clone(), vec![]),
            r#"{"metric": "estimated_roc_auc", "margin": 0.1, "action": "alert"}"#,
        )
        .unwrap();
    assert_eq!(decision.action, Action::Alert, "{}", decision.reason);
    assert!(
        decision.reason.contains("0.15 below its baseline 0.86"),
        "{}",
        decision.reason
    );

    let composite = load(&runtime, "policy-composite");
    let config = r#"{"mode": "any", "conditions": [
        {"type": "consecutive", "windows": 2},
        {"type": "estimated_performance", "metric": "roc_auc", "margin": 0.1}
    ]}"#;
    let decision = composite
        .decide(
            runtime.shared(),
            &context(columns(0, 3), estimated, vec![]),
            config,
        )
        .unwrap();
    assert_eq!(decision.action, Action::Retrain, "{}", decision.reason);
    assert!(
        decision
            .reason
            .contains("held: estimated_performance of roc_auc")
            && decision.reason.contains("not held: consecutive"),
        "{}",
        decision.reason
    );
}
