//! `policy-composite`: `any` or `all` of a list of conditions, with one action.
//!
//! The conditions are the ones the other standard policies decide on, from the same code
//! (`vigil_plugin_stats::policy::conditions`), each a table with a `type`: `drift_share`
//! (`share`, `min_tested`, as `policy-threshold` counts columns), `consecutive` (`windows`,
//! `drift_share`, as `policy-consecutive`), `performance` and `estimated_performance`
//! (`metric`, `margin`, `relative`, `baseline`, as `policy-performance`; the latter on the
//! label-free `estimated_<metric>`), and `any`/`all` (`conditions`), nested as deep as needed.
//! When the combination holds the policy decides `action` (`retrain`, or `alert`); a retrain
//! within `retrain_cooldown_secs` of the last retraining that succeeded is an alert instead.
//! The reason names the conditions that held and the ones that did not, each with its numbers.

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Context, Decision, Policy, Result};
use vigil_plugin_stats::policy::conditions::{Condition, Mode, combine, validate_list};
use vigil_plugin_stats::policy::{OnHold, decide_on, default_retrain_cooldown_secs};

/// Configuration of the composite policy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `any`: one condition holding is enough; `all`: every one must hold.
    #[serde(default)]
    pub mode: Mode,
    /// The conditions, at least one; each a table with a `type`.
    pub conditions: Vec<Condition>,
    /// What to decide when the combination holds: `retrain` or `alert`.
    #[serde(default)]
    pub action: OnHold,
    /// Seconds after a retraining during which another one is only an alert.
    #[serde(default = "default_retrain_cooldown_secs")]
    pub retrain_cooldown_secs: u64,
}

/// The composite policy.
pub struct Composite;

impl Policy for Composite {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Retrains (or alerts) when any or all of a list of conditions hold";

    fn decide(context: Context, config: Config) -> Result<Decision> {
        validate_list(&config.conditions, "conditions")?;
        let outcome = combine(config.mode, &config.conditions, &context);
        Ok(decide_on(
            &context,
            config.action,
            config.retrain_cooldown_secs,
            outcome,
        ))
    }
}

vigil_plugin_sdk::export_policy!(Composite);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::{Action, Error, testing};
    use vigil_plugin_stats::policy::fixtures::*;

    fn decide(context: Context, config: &str) -> Decision {
        testing::decide::<Composite>(context, config).expect("decision")
    }

    const SHARE_AND_ACCURACY: &str = r#"{"mode": "MODE", "conditions": [
        {"type": "drift_share", "share": 0.5},
        {"type": "performance", "metric": "accuracy", "margin": 0.05}
    ]}"#;

    fn config(mode: &str) -> String {
        SHARE_AND_ACCURACY.replace("MODE", mode)
    }

    #[test]
    fn any_holds_when_one_condition_does_and_names_it() {
        let c = with_metric(context(columns(3, 1)), "accuracy", 0.9, Some(0.91));
        let d = decide(c, &config("any"));
        assert_decision(
            &d,
            Action::Retrain,
            &[
                "1 of 2 conditions held, as any needed",
                "held: drift_share (3 of 4 tested columns drifted (share 0.75), at or above share 0.5",
                "not held: performance of accuracy (metric accuracy is 0.9, 0.01 below",
            ],
        );
        let c = with_metric(context(columns(1, 3)), "accuracy", 0.9, Some(0.91));
        let d = decide(c, &config("any"));
        assert_decision(
            &d,
            Action::None,
            &["0 of 2 conditions held, not as any needed"],
        );
    }

    #[test]
    fn all_needs_every_condition() {
        let c = with_metric(context(columns(3, 1)), "accuracy", 0.9, Some(0.91));
        let d = decide(c, &config("all"));
        assert_decision(
            &d,
            Action::None,
            &["1 of 2 conditions held, not as all needed"],
        );
        let c = with_metric(context(columns(3, 1)), "accuracy", 0.7, Some(0.91));
        let d = decide(c, &config("all"));
        assert_decision(
            &d,
            Action::Retrain,
            &["2 of 2 conditions held, as all needed"],
        );
    }

    #[test]
    fn conditions_nest_and_share_the_other_policies_rules() {
        let config = r#"{"mode": "all", "action": "alert", "conditions": [
            {"type": "consecutive", "windows": 2, "drift_share": 0.5},
            {"type": "any", "conditions": [
                {"type": "estimated_performance", "metric": "accuracy", "margin": 0.02},
                {"type": "performance", "metric": "accuracy"}
            ]}
        ]}"#;
        let c = with_recent(context(columns(2, 2)), vec![past(4, 3, Action::None)]);
        let c = with_metric(c, "estimated_accuracy", 0.8, Some(0.85));
        let d = decide(c.clone(), config);
        assert_decision(
            &d,
            Action::Alert,
            &[
                "consecutive (2 drifted windows in a row",
                "any (1 of 2 conditions held",
                "estimated_performance of accuracy (metric estimated_accuracy is 0.8, 0.05 below",
                "performance of accuracy (metric accuracy is absent",
            ],
        );
        // The same condition, alone, decides as the plugin of that kind would.
        let consecutive = testing::decide::<Composite>(
            c,
            r#"{"conditions": [{"type": "consecutive", "windows": 3}]}"#,
        )
        .unwrap();
        assert_decision(
            &consecutive,
            Action::None,
            &["2 drifted windows in a row, fewer than the 3"],
        );
    }

    #[test]
    fn drift_share_corrects_across_columns_as_the_threshold_policy_does() {
        // Four p-values of 0.001: Bonferroni makes each 0.004, above alpha 0.003.
        let config = r#"{"conditions": [{"type": "drift_share", "share": 0.5,
            "multiple_testing": "bonferroni", "alpha": 0.003}]}"#;
        let d = decide(context(columns(4, 0)), config);
        assert_decision(
            &d,
            Action::None,
            &[
                "0 of 4 tested columns drifted (share 0), below share 0.5",
                "bonferroni correction over 4 p-values: 0 adjusted below alpha 0.003",
            ],
        );
        let d = decide(context(columns(4, 0)), &config.replace("0.003", "0.005"));
        assert_decision(&d, Action::Retrain, &["4 of 4 tested columns drifted"]);
    }

    #[test]
    fn within_the_cooldown_a_retrain_is_an_alert() {
        let c = retrained_ago(context(columns(3, 1)), 10);
        let d = decide(c, r#"{"conditions": [{"type": "drift_share"}]}"#);
        assert_decision(&d, Action::Alert, &["within the 86400 s cooldown"]);
    }

    #[test]
    fn invalid_configs_name_the_condition_at_fault() {
        for (config, needle) in [
            (
                r#"{"conditions": []}"#,
                "conditions must list at least one condition",
            ),
            ("{}", "missing field `conditions`"),
            (
                r#"{"conditions": [{"type": "drift_share"}, {"type": "consecutive", "windows": 0}]}"#,
                "conditions[1].windows must be between 1 and 64",
            ),
            (
                r#"{"conditions": [{"type": "all", "conditions": [{"type": "drift_share", "share": 2}]}]}"#,
                "conditions[0].conditions[0].share must lie in (0, 1]",
            ),
            (
                r#"{"conditions": [{"type": "any", "conditions": []}]}"#,
                "conditions[0].conditions must list at least one condition",
            ),
            (
                r#"{"conditions": [{"type": "vibes"}]}"#,
                "unknown variant `vibes`",
            ),
            (
                r#"{"conditions": [{"type": "drift_share", "shares": 0.5}]}"#,
                "unknown field `shares`",
            ),
            (
                r#"{"mode": "some", "conditions": [{"type": "drift_share"}]}"#,
                "unknown variant `some`",
            ),
        ] {
            let Err(Error::InvalidConfig(message)) =
                testing::decide::<Composite>(context(columns(1, 1)), config)
            else {
                panic!("{config} was accepted");
            };
            assert!(message.contains(needle), "{config}: {message}");
        }
    }
}
