//! `policy-performance`: acts when a model-quality metric is worse than its baseline by more
//! than a margin.
//!
//! The metric is one the window carries: from labels (`accuracy`, `roc_auc`, `rmse`, …) or
//! estimated without labels (`estimated_accuracy`, … when the monitor sets
//! `estimated_performance`). It worsens when it falls, or for the error metrics `mae`, `mse`,
//! `rmse` and `log_loss` when it rises (the rule `policy-threshold` applies too). The baseline
//! is `baseline` when set, else the metric's value on the reference. The margin is an amount,
//! or with `relative` a fraction of the baseline. When the metric is absent (no labels yet) or
//! has no baseline, the policy decides nothing and says so. Once the margin is passed it
//! decides `action` (`retrain`, or `alert`); a retrain within `retrain_cooldown_secs` of the
//! last retraining that succeeded is an alert instead. The condition is
//! `vigil_plugin_stats::policy::conditions::Performance`, which `policy-composite` shares.

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Context, Decision, Policy, Result};
use vigil_plugin_stats::policy::conditions::Performance as Worse;
use vigil_plugin_stats::policy::{OnHold, decide_on, default_retrain_cooldown_secs};

/// Configuration of the performance policy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The metric to watch, e.g. `accuracy`, `roc_auc`, `rmse`, `estimated_accuracy`.
    pub metric: String,
    /// How much worse than the baseline the metric may get; at least 0.
    #[serde(default = "default_margin")]
    pub margin: f64,
    /// Whether `margin` is a fraction of the baseline (0.1: 10 % worse) instead of an amount.
    #[serde(default)]
    pub relative: bool,
    /// The baseline; the metric's value on the reference when unset.
    #[serde(default)]
    pub baseline: Option<f64>,
    /// What to decide once the margin is passed: `retrain` or `alert`.
    #[serde(default)]
    pub action: OnHold,
    /// Seconds after a retraining during which another one is only an alert.
    #[serde(default = "default_retrain_cooldown_secs")]
    pub retrain_cooldown_secs: u64,
}

fn default_margin() -> f64 {
    0.05
}

/// The performance policy.
pub struct Performance;

impl Policy for Performance {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Retrains (or alerts) when a model metric is worse than its baseline by a margin";

    fn decide(context: Context, config: Config) -> Result<Decision> {
        let worse = Worse {
            metric: config.metric,
            margin: config.margin,
            relative: config.relative,
            baseline: config.baseline,
        };
        worse.validate("")?;
        let outcome = worse.evaluate(&context, &worse.metric);
        Ok(decide_on(
            &context,
            config.action,
            config.retrain_cooldown_secs,
            outcome,
        ))
    }
}

vigil_plugin_sdk::export_policy!(Performance);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::{Action, Error, testing};
    use vigil_plugin_stats::policy::fixtures::*;

    fn decide(context: Context, config: &str) -> Decision {
        testing::decide::<Performance>(context, config).expect("decision")
    }

    fn accuracy(value: f64, reference: Option<f64>) -> Context {
        with_metric(context(columns(0, 3)), "accuracy", value, reference)
    }

    #[test]
    fn a_drop_past_the_margin_retrains() {
        let d = decide(accuracy(0.71, Some(0.83)), r#"{"metric": "accuracy"}"#);
        assert_decision(
            &d,
            Action::Retrain,
            &[
                "Metric accuracy is 0.71, 0.12 below its baseline 0.83",
                "its value on the reference",
                "more than the margin 0.05",
            ],
        );
        let d = decide(accuracy(0.80, Some(0.83)), r#"{"metric": "accuracy"}"#);
        assert_decision(&d, Action::None, &["0.03 below", "within the margin 0.05"]);
        let d = decide(accuracy(0.90, Some(0.83)), r#"{"metric": "accuracy"}"#);
        assert_decision(&d, Action::None, &["not below its baseline 0.83"]);
    }

    #[test]
    fn a_drop_equal_to_the_margin_is_within_it() {
        let d = decide(
            accuracy(0.5, Some(0.75)),
            r#"{"metric": "accuracy", "margin": 0.25}"#,
        );
        assert_eq!(d.action, Action::None, "{}", d.reason);
    }

    #[test]
    fn error_metrics_worsen_when_they_rise() {
        let rmse = with_metric(context(vec![]), "rmse", 3.0, Some(2.5));
        let d = decide(rmse.clone(), r#"{"metric": "rmse", "margin": 0.4}"#);
        assert_decision(
            &d,
            Action::Retrain,
            &["rmse is 3, 0.5 above its baseline 2.5"],
        );
        let better = with_metric(context(vec![]), "rmse", 2.0, Some(2.5));
        let d = decide(better, r#"{"metric": "rmse", "margin": 0.4}"#);
        assert_decision(&d, Action::None, &["not above"]);
    }

    #[test]
    fn a_relative_margin_is_a_fraction_of_the_baseline() {
        let config = r#"{"metric": "accuracy", "margin": 0.1, "relative": true}"#;
        let d = decide(accuracy(0.74, Some(0.8)), config);
        assert_decision(
            &d,
            Action::None,
            &["7.5 % below", "within the margin 10 % of the baseline"],
        );
        let d = decide(accuracy(0.7, Some(0.8)), config);
        assert_decision(
            &d,
            Action::Retrain,
            &["12.5 % below", "more than the margin 10 %"],
        );
        let d = decide(accuracy(0.7, Some(0.0)), config);
        assert_decision(&d, Action::None, &["baseline is 0"]);
    }

    #[test]
    fn a_configured_baseline_replaces_the_reference() {
        let d = decide(
            accuracy(0.8, None),
            r#"{"metric": "accuracy", "baseline": 0.9}"#,
        );
        assert_decision(
            &d,
            Action::Retrain,
            &["baseline 0.9 (set in the configuration)"],
        );
    }

    #[test]
    fn without_the_metric_or_a_baseline_nothing_is_decided() {
        let d = decide(context(columns(3, 0)), r#"{"metric": "accuracy"}"#);
        assert_decision(
            &d,
            Action::None,
            &["Metric accuracy is absent from this window", "needs labels"],
        );
        let d = decide(
            context(columns(3, 0)),
            r#"{"metric": "estimated_accuracy"}"#,
        );
        assert_decision(&d, Action::None, &["estimated_performance"]);
        let d = decide(accuracy(0.5, None), r#"{"metric": "accuracy"}"#);
        assert_decision(&d, Action::None, &["has no baseline"]);
        let d = decide(accuracy(f64::NAN, Some(0.9)), r#"{"metric": "accuracy"}"#);
        assert_decision(&d, Action::None, &["absent"]);
    }

    #[test]
    fn estimated_metrics_work_the_same_way() {
        let c = with_metric(context(vec![]), "estimated_roc_auc", 0.7, Some(0.88));
        let d = decide(
            c,
            r#"{"metric": "estimated_roc_auc", "margin": 0.1, "action": "alert"}"#,
        );
        assert_decision(&d, Action::Alert, &["estimated_roc_auc is 0.7, 0.18 below"]);
    }

    #[test]
    fn within_the_cooldown_a_retrain_is_an_alert() {
        let d = decide(
            retrained_ago(accuracy(0.5, Some(0.9)), 100),
            r#"{"metric": "accuracy"}"#,
        );
        assert_decision(&d, Action::Alert, &["within the 86400 s cooldown"]);
    }

    #[test]
    fn invalid_configs_are_refused_clearly() {
        for (config, needle) in [
            ("{}", "missing field `metric`"),
            (r#"{"metric": ""}"#, "metric must name a metric"),
            (
                r#"{"metric": "accuracy", "margin": -0.1}"#,
                "margin must be a finite number",
            ),
            (
                r#"{"metric": "accuracy", "treshold": 1}"#,
                "unknown field `treshold`",
            ),
        ] {
            let Err(Error::InvalidConfig(message)) =
                testing::decide::<Performance>(context(vec![]), config)
            else {
                panic!("{config} was accepted");
            };
            assert!(message.contains(needle), "{config}: {message}");
        }
    }
}
