//! `policy-consecutive`: acts after `windows` drifted windows in a row, this one included.
//!
//! A window drifted when at least `drift_share` of its tested columns drifted (a column whose
//! test failed counts in neither). Earlier windows come from the history (`history.recent`).
//! A window that decided `retrain` ends a run: after a retraining decision, the next one needs
//! `windows` drifted windows again. When the run is long enough the policy decides `action`
//! (`retrain` by default, or `alert`); a retrain within `retrain_cooldown_secs` of the last
//! retraining that succeeded is an alert instead. Otherwise nothing. The condition is
//! `vigil_plugin_stats::policy::conditions::Consecutive`, which `policy-composite` shares.

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Context, Decision, Policy, Result};
use vigil_plugin_stats::policy::conditions::Consecutive as Run;
use vigil_plugin_stats::policy::{OnHold, decide_on, default_retrain_cooldown_secs};

/// Configuration of the consecutive-windows policy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Drifted windows in a row needed, this one included; 1 to 64.
    #[serde(default = "default_windows")]
    pub windows: u32,
    /// The share of a window's tested columns that makes it drifted, in (0, 1].
    #[serde(default = "default_drift_share")]
    pub drift_share: f64,
    /// What to decide once the run is long enough: `retrain` or `alert`.
    #[serde(default)]
    pub action: OnHold,
    /// Seconds after a retraining during which another one is only an alert.
    #[serde(default = "default_retrain_cooldown_secs")]
    pub retrain_cooldown_secs: u64,
}

fn default_windows() -> u32 {
    3
}

fn default_drift_share() -> f64 {
    0.5
}

/// The consecutive-windows policy.
pub struct Consecutive;

impl Policy for Consecutive {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Retrains (or alerts) after a number of drifted windows in a row, with a cooldown";

    fn decide(context: Context, config: Config) -> Result<Decision> {
        let run = Run {
            windows: config.windows,
            drift_share: config.drift_share,
        };
        run.validate("")?;
        let outcome = run.evaluate(&context);
        Ok(decide_on(
            &context,
            config.action,
            config.retrain_cooldown_secs,
            outcome,
        ))
    }
}

vigil_plugin_sdk::export_policy!(Consecutive);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::{Action, Error, testing};
    use vigil_plugin_stats::policy::fixtures::*;

    fn decide(context: Context, config: &str) -> Decision {
        testing::decide::<Consecutive>(context, config).expect("decision")
    }

    /// A window with 3 of 4 columns drifted, after `recent` (newest first).
    fn drifted_after(recent: Vec<vigil_plugin_sdk::PastWindow>) -> Context {
        with_recent(context(columns(3, 1)), recent)
    }

    #[test]
    fn retrains_on_the_nth_drifted_window_only() {
        let config = r#"{"windows": 3}"#;
        let d = decide(drifted_after(vec![]), config);
        assert_decision(
            &d,
            Action::None,
            &["1 drifted window in a row", "fewer than the 3"],
        );
        let d = decide(drifted_after(vec![past(4, 3, Action::None)]), config);
        assert_decision(&d, Action::None, &["2 drifted windows in a row"]);
        let d = decide(
            drifted_after(vec![past(4, 2, Action::None), past(4, 4, Action::Alert)]),
            config,
        );
        assert_decision(
            &d,
            Action::Retrain,
            &[
                "3 drifted windows in a row, at least the 3 needed",
                "3 of 4 tested columns drifted (share 0.75)",
                "at or above drift_share 0.5",
            ],
        );
    }

    #[test]
    fn a_stable_window_breaks_the_run() {
        let d = decide(
            drifted_after(vec![
                past(4, 3, Action::None),
                past(4, 1, Action::None),
                past(4, 4, Action::None),
            ]),
            r#"{"windows": 3}"#,
        );
        assert_decision(&d, Action::None, &["2 drifted windows in a row"]);
        // This window itself below the share: no run at all.
        let d = decide(
            with_recent(context(columns(1, 3)), vec![past(4, 4, Action::None)]),
            r#"{"windows": 1}"#,
        );
        assert_decision(
            &d,
            Action::None,
            &[
                "0 drifted windows in a row",
                "share 0.25), below drift_share 0.5",
            ],
        );
    }

    #[test]
    fn a_retrain_decision_starts_the_count_again() {
        let d = decide(
            drifted_after(vec![past(4, 4, Action::None), past(4, 4, Action::Retrain)]),
            r#"{"windows": 3}"#,
        );
        assert_decision(
            &d,
            Action::None,
            &["2 drifted windows in a row", "which decided to retrain"],
        );
    }

    #[test]
    fn the_share_decides_what_a_drifted_window_is() {
        let recent = vec![past(10, 2, Action::None)];
        let d = decide(
            drifted_after(recent.clone()),
            r#"{"windows": 2, "drift_share": 0.2}"#,
        );
        assert_eq!(d.action, Action::Retrain, "{}", d.reason);
        let d = decide(
            drifted_after(recent),
            r#"{"windows": 2, "drift_share": 0.3}"#,
        );
        assert_eq!(d.action, Action::None, "{}", d.reason);
        // A window with no column tested never counts as drifted.
        let d = decide(
            drifted_after(vec![past(0, 0, Action::None)]),
            r#"{"windows": 2, "drift_share": 0.01}"#,
        );
        assert_eq!(d.action, Action::None, "{}", d.reason);
        let d = decide(context(vec![failed("a")]), r#"{"windows": 1}"#);
        assert_decision(&d, Action::None, &["0 of 0 tested columns", "none tested"]);
    }

    #[test]
    fn within_the_cooldown_a_retrain_is_an_alert() {
        let recent = vec![past(4, 4, Action::None), past(4, 4, Action::None)];
        let d = decide(retrained_ago(drifted_after(recent.clone()), 3600), "{}");
        assert_decision(
            &d,
            Action::Alert,
            &[
                "3 drifted windows",
                "last retrain was 3600 s ago, within the 86400 s cooldown",
            ],
        );
        let d = decide(
            retrained_ago(drifted_after(recent.clone()), 3600),
            r#"{"retrain_cooldown_secs": 600}"#,
        );
        assert_eq!(d.action, Action::Retrain, "{}", d.reason);
        let d = decide(drifted_after(recent), r#"{"action": "alert"}"#);
        assert_decision(&d, Action::Alert, &["3 drifted windows"]);
    }

    #[test]
    fn the_history_is_counted_back_to_its_oldest_window() {
        let recent = vec![past(4, 4, Action::None); 63];
        let d = decide(drifted_after(recent.clone()), r#"{"windows": 64}"#);
        assert_eq!(d.action, Action::Retrain, "{}", d.reason);
        let d = decide(drifted_after(recent[..10].to_vec()), r#"{"windows": 64}"#);
        assert_decision(
            &d,
            Action::None,
            &[
                "11 drifted windows",
                "oldest of the 10 earlier windows given",
            ],
        );
    }

    #[test]
    fn invalid_configs_are_refused_clearly() {
        for (config, needle) in [
            (r#"{"windows": 0}"#, "windows must be between 1 and 64"),
            (r#"{"windows": 65}"#, "windows must be between 1 and 64"),
            (r#"{"drift_share": 0}"#, "drift_share must lie in (0, 1]"),
            (r#"{"drift_share": 1.5}"#, "drift_share must lie in (0, 1]"),
            (r#"{"action": "rollback"}"#, "unknown variant `rollback`"),
            (r#"{"window": 3}"#, "unknown field `window`"),
        ] {
            let Err(Error::InvalidConfig(message)) =
                testing::decide::<Consecutive>(context(columns(1, 1)), config)
            else {
                panic!("{config} was accepted");
            };
            assert!(message.contains(needle), "{config}: {message}");
        }
    }
}
