//! `policy-threshold`: decides from the share of drifted columns and, optionally, from drops in
//! model metrics.
//!
//! The share is the number of drifted columns over the number of columns tested; a column whose
//! test failed counts in neither. The rules, first match wins:
//!
//! 1. `max_metric_drop` is set and some metric worsened from its reference value by more than
//!    it → retrain.
//! 2. Fewer than `min_tested` columns were tested → alert, naming the columns whose tests
//!    failed: a monitor that cannot test its columns must not look healthy, and a share over
//!    too few columns is not trusted to start a retraining.
//! 3. share ≥ `retrain_share` → retrain.
//! 4. share ≥ `alert_share` → alert.
//! 5. Otherwise nothing.
//!
//! A column counts as drifted when its test says so, unless `multiple_testing` names a
//! correction (`bonferroni` or `benjamini_hochberg`): then the p-values of the tested columns
//! are adjusted together and a column with a p-value counts as drifted when its adjusted
//! p-value is below `alpha`. With twenty columns each tested at 0.05, one looks drifted by
//! chance alone; the correction keeps that from tipping the share. A column whose test gives no
//! p-value (a distance) keeps its own flag, and a failed column is in neither the adjustment
//! nor the share. The reason names the correction and how many columns passed it.
//!
//! A retrain is downgraded to an alert while the last retraining lies within
//! `retrain_cooldown_secs`; the reason says so. Error metrics (`mae`, `mse`, `rmse`,
//! `log_loss`) worsen when they rise; every other metric (accuracy, AUC, F1, R²) when it falls.

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Action, ColumnResult, Context, Decision, Error, Policy, Result};
use vigil_plugin_stats::multiple_testing::Correction;
use vigil_plugin_stats::policy::correction::{Corrected, correction_note, drifted_flags};
use vigil_plugin_stats::policy::metrics::{lower_is_better, worsening};
use vigil_plugin_stats::policy::retrain_unless_cooling;
use vigil_plugin_stats::policy::text::{names, number, plural, sentence};

/// Configuration of the threshold policy.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Alert when at least this share of the tested columns drifted. In (0, `retrain_share`].
    #[serde(default = "default_alert_share")]
    pub alert_share: f64,
    /// Retrain when at least this share of the tested columns drifted. Between `alert_share`
    /// and 1.
    #[serde(default = "default_retrain_share")]
    pub retrain_share: f64,
    /// Seconds after a retraining during which another one is only an alert.
    #[serde(default = "default_retrain_cooldown_secs")]
    pub retrain_cooldown_secs: u64,
    /// Columns that must be tested (not failed) for the share to be trusted; at least 1.
    #[serde(default = "default_min_tested")]
    pub min_tested: u32,
    /// Retrain when a metric with a known reference value worsens by more than this
    /// (`reference - value > max_metric_drop`, or `value - reference` for the error metrics
    /// `mae`, `mse`, `rmse` and `log_loss`). Metrics are ignored when unset.
    #[serde(default)]
    pub max_metric_drop: Option<f64>,
    /// Correction of the p-values across columns: `none` (each test's own drifted flag),
    /// `bonferroni` or `benjamini_hochberg` (a column with a p-value drifted when its adjusted
    /// p-value is below `alpha`).
    #[serde(default)]
    pub multiple_testing: Correction,
    /// The level the adjusted p-values are compared with, in (0, 1); used with a correction.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
}

fn default_alpha() -> f64 {
    0.05
}

fn default_alert_share() -> f64 {
    0.3
}

fn default_retrain_share() -> f64 {
    0.5
}

fn default_retrain_cooldown_secs() -> u64 {
    vigil_plugin_stats::policy::default_retrain_cooldown_secs()
}

fn default_min_tested() -> u32 {
    1
}

impl Config {
    fn validate(&self) -> Result<()> {
        let (alert, retrain) = (self.alert_share, self.retrain_share);
        if !(alert > 0.0 && alert <= retrain && retrain <= 1.0) {
            return Err(Error::InvalidConfig(format!(
                "the shares must satisfy 0 < alert_share <= retrain_share <= 1, got \
                 alert_share {alert} and retrain_share {retrain}"
            )));
        }
        if self.min_tested == 0 {
            return Err(Error::InvalidConfig(
                "min_tested must be at least 1: with no column tested there is no share to judge"
                    .to_string(),
            ));
        }
        if let Some(drop) = self.max_metric_drop
            && !(drop.is_finite() && drop >= 0.0)
        {
            return Err(Error::InvalidConfig(format!(
                "max_metric_drop must be a finite number of at least 0, got {drop}"
            )));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::InvalidConfig(format!(
                "alpha must lie strictly between 0 and 1, got {}",
                self.alpha
            )));
        }
        Ok(())
    }
}

/// The threshold policy.
pub struct Threshold;

impl Policy for Threshold {
    type Config = Config;
    const DESCRIPTION: &'static str = "Alerts or retrains when the share of drifted columns, or a metric drop, passes a threshold";

    fn decide(context: Context, config: Config) -> Result<Decision> {
        config.validate()?;
        let summary = Summary::of(&context.columns, &config);
        let dropped = dropped_metrics(&context, &config);

        if !dropped.is_empty() {
            let reason = format!("{}; {}", dropped.join(" and "), summary.counts());
            return Ok(retrain_unless_cooling(
                &context,
                config.retrain_cooldown_secs,
                reason,
            ));
        }

        if summary.tested < config.min_tested as usize {
            return Ok(Decision {
                action: Action::Alert,
                reason: sentence(&summary.coverage(config.min_tested)),
            });
        }

        let share = summary.share();
        if share >= config.retrain_share {
            let reason = format!(
                "{} (share {}, at or above retrain_share {}){}",
                summary.drifted_of_tested(),
                number(share, &[config.retrain_share]),
                config.retrain_share,
                summary.details()
            );
            return Ok(retrain_unless_cooling(
                &context,
                config.retrain_cooldown_secs,
                reason,
            ));
        }
        if share >= config.alert_share {
            let reason = format!(
                "{} (share {}, at or above alert_share {} but below retrain_share {}){}",
                summary.drifted_of_tested(),
                number(share, &[config.alert_share, config.retrain_share]),
                config.alert_share,
                config.retrain_share,
                summary.details()
            );
            return Ok(Decision {
                action: Action::Alert,
                reason: sentence(&reason),
            });
        }
        let reason = format!(
            "{} (share {}, below alert_share {}){}",
            summary.drifted_of_tested(),
            number(share, &[config.alert_share]),
            config.alert_share,
            summary.details()
        );
        Ok(Decision {
            action: Action::None,
            reason: sentence(&reason),
        })
    }
}

/// The column results, sorted into what the reasons need.
struct Summary<'a> {
    tested: usize,
    drifted: Vec<&'a str>,
    failed: Vec<&'a str>,
    corrected: Option<Corrected>,
}

impl<'a> Summary<'a> {
    fn of(columns: &'a [ColumnResult], config: &Config) -> Self {
        let (failed, tested): (Vec<&ColumnResult>, Vec<&ColumnResult>) =
            columns.iter().partition(|c| c.failure.is_some());
        let (drifted_flags, corrected) =
            drifted_flags(&tested, config.multiple_testing, config.alpha);
        Summary {
            tested: tested.len(),
            drifted: tested
                .iter()
                .zip(drifted_flags)
                .filter(|(_, drifted)| *drifted)
                .map(|(c, _)| c.column.as_str())
                .collect(),
            failed: failed.iter().map(|c| c.column.as_str()).collect(),
            corrected,
        }
    }

    /// Only called once at least one column was tested (`min_tested` is at least 1).
    fn share(&self) -> f64 {
        self.drifted.len() as f64 / self.tested as f64
    }

    fn drifted_of_tested(&self) -> String {
        format!(
            "{} of {} tested {} drifted",
            self.drifted.len(),
            self.tested,
            plural(self.tested, "column", "columns")
        )
    }

    /// Which columns drifted and which could not be tested, as a tail for a clause.
    fn details(&self) -> String {
        let mut out = String::new();
        if !self.drifted.is_empty() {
            out.push_str(": ");
            out.push_str(&names(&self.drifted));
        }
        if !self.failed.is_empty() {
            out.push_str(&format!(
                " ({} other {} and {} not counted: {})",
                self.failed.len(),
                plural(
                    self.failed.len(),
                    "column failed its test",
                    "columns failed their tests"
                ),
                plural(self.failed.len(), "was", "were"),
                names(&self.failed)
            ));
        }
        out.push_str(&self.correction_note());
        out
    }

    /// Which correction decided the drifted flags and how many columns passed it, as a tail.
    fn correction_note(&self) -> String {
        correction_note(self.corrected.as_ref())
    }

    /// Counts and share without thresholds, for reasons driven by something else.
    fn counts(&self) -> String {
        if self.tested == 0 {
            let mut out = "no column could be tested".to_string();
            if !self.failed.is_empty() {
                out.push_str(&format!(" (tests failed for {})", names(&self.failed)));
            }
            return out;
        }
        format!(
            "{} (share {}){}",
            self.drifted_of_tested(),
            number(self.share(), &[]),
            self.details()
        )
    }

    fn coverage(&self, min_tested: u32) -> String {
        let total = self.tested + self.failed.len();
        let mut out = if total == 0 {
            format!(
                "no column results arrived, so no column was tested (min_tested is {min_tested})"
            )
        } else if self.tested == 0 {
            format!("no column could be tested (min_tested is {min_tested})")
        } else {
            format!(
                "only {} of {} {} could be tested, fewer than min_tested {}",
                self.tested,
                total,
                plural(total, "column", "columns"),
                min_tested
            )
        };
        if !self.failed.is_empty() {
            out.push_str(&format!("; tests failed for {}", names(&self.failed)));
        }
        if !self.drifted.is_empty() {
            out.push_str(&format!(
                "; {} of the {} tested {} drifted: {}",
                self.drifted.len(),
                self.tested,
                plural(self.tested, "column", "columns"),
                names(&self.drifted)
            ));
        }
        if self.tested > 0 {
            out.push_str(&self.correction_note());
        }
        out
    }
}

/// One clause per metric that worsened by more than `max_metric_drop`: fell, or for an error
/// metric (`mae`, `rmse`, …) rose.
fn dropped_metrics(context: &Context, config: &Config) -> Vec<String> {
    let Some(max_drop) = config.max_metric_drop else {
        return Vec::new();
    };
    context
        .metrics
        .iter()
        .filter_map(|metric| {
            let reference = metric.reference?;
            let lower_is_better = lower_is_better(&metric.name);
            let worsening = worsening(&metric.name, metric.value, reference);
            (worsening > max_drop).then(|| {
                format!(
                    "metric {} {} by {} (from {} on the reference to {}), more than \
                     max_metric_drop {}",
                    metric.name,
                    if lower_is_better { "rose" } else { "dropped" },
                    number(worsening, &[max_drop]),
                    number(reference, &[]),
                    number(metric.value, &[]),
                    max_drop
                )
            })
        })
        .collect()
}

vigil_plugin_sdk::export_policy!(Threshold);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::{History, Metric, testing};

    const NOW: u64 = 1_700_000_000;

    fn column(name: &str, drifted: bool) -> ColumnResult {
        ColumnResult {
            column: name.to_string(),
            test: "drift-ks".to_string(),
            statistic: 0.1,
            p_value: Some(if drifted { 0.001 } else { 0.5 }),
            drifted,
            failure: None,
        }
    }

    fn failed(name: &str) -> ColumnResult {
        ColumnResult {
            failure: Some("the current window has no values to test".to_string()),
            drifted: false,
            ..column(name, false)
        }
    }

    /// `drifted` drifted columns `d0..`, then `stable` stable ones `s0..`.
    fn columns(drifted: usize, stable: usize) -> Vec<ColumnResult> {
        (0..drifted)
            .map(|i| column(&format!("d{i}"), true))
            .chain((0..stable).map(|i| column(&format!("s{i}"), false)))
            .collect()
    }

    fn context(columns: Vec<ColumnResult>) -> Context {
        Context {
            columns,
            metrics: Vec::new(),
            history: History {
                model_version: Some("v3".to_string()),
                last_alert: None,
                last_retrain: None,
                windows_since_retrain: 4,
                recent: Vec::new(),
            },
            now: NOW,
            state: None,
        }
    }

    fn retrained_ago(mut context: Context, secs: u64) -> Context {
        context.history.last_retrain = Some(NOW - secs);
        context
    }

    fn with_metric(
        mut context: Context,
        name: &str,
        value: f64,
        reference: Option<f64>,
    ) -> Context {
        context.metrics.push(Metric {
            name: name.to_string(),
            value,
            reference,
        });
        context
    }

    fn decide(context: Context, config: &str) -> Decision {
        testing::decide::<Threshold>(context, config).expect("decision")
    }

    #[track_caller]
    fn assert_decision(decision: &Decision, action: Action, needles: &[&str]) {
        assert_eq!(decision.action, action, "{}", decision.reason);
        for needle in needles {
            assert!(
                decision.reason.contains(needle),
                "reason {:?} lacks {needle:?}",
                decision.reason
            );
        }
        assert!(decision.reason.ends_with('.'));
        assert!(
            decision
                .reason
                .starts_with(|c: char| c.is_uppercase() || c.is_numeric())
        );
    }

    #[test]
    fn defaults() {
        let config: Config = vigil_plugin_sdk::parse_config("").unwrap();
        assert_eq!(config.alert_share, 0.3);
        assert_eq!(config.retrain_share, 0.5);
        assert_eq!(config.retrain_cooldown_secs, 86_400);
        assert_eq!(config.min_tested, 1);
        assert_eq!(config.max_metric_drop, None);
        assert_eq!(config.multiple_testing, Correction::None);
        assert_eq!(config.alpha, 0.05);
        let schema = vigil_plugin_sdk::config_schema::<Config>();
        assert!(schema.contains("max_metric_drop"), "{schema}");
        assert!(schema.contains("benjamini_hochberg"), "{schema}");
    }

    #[test]
    fn invalid_configs() {
        for (config, needle) in [
            (r#"{"alert_share": 0}"#, "alert_share"),
            (r#"{"alert_share": -0.1}"#, "alert_share"),
            (r#"{"alert_share": 0.6}"#, "alert_share <= retrain_share"),
            (r#"{"retrain_share": 1.5}"#, "retrain_share <= 1"),
            (r#"{"alert_share": 0.4, "retrain_share": 0.2}"#, "0.2"),
            (r#"{"min_tested": 0}"#, "min_tested"),
            (r#"{"max_metric_drop": -0.01}"#, "max_metric_drop"),
            (r#"{"alert": 0.1}"#, "alert"),
            (r#"{"alpha": 0}"#, "alpha"),
            (r#"{"alpha": 1}"#, "alpha"),
            (r#"{"multiple_testing": "holm"}"#, "holm"),
        ] {
            match testing::decide::<Threshold>(context(columns(0, 3)), config) {
                Err(Error::InvalidConfig(message)) => {
                    assert!(message.contains(needle), "{config}: {message}")
                }
                other => panic!("{config}: expected InvalidConfig, got {other:?}"),
            }
        }
        // Equal shares, and a share of exactly 1, are allowed.
        decide(
            context(columns(0, 3)),
            r#"{"alert_share": 1, "retrain_share": 1}"#,
        );
    }

    /// A column tested with a hypothesis test at 0.05: drifted when its p-value is below.
    fn with_p(name: &str, p_value: f64) -> ColumnResult {
        ColumnResult {
            p_value: Some(p_value),
            drifted: p_value < 0.05,
            ..column(name, false)
        }
    }

    /// A column tested with a distance: no p-value, its own flag.
    fn distance(name: &str, drifted: bool) -> ColumnResult {
        ColumnResult {
            test: "drift-js".to_string(),
            p_value: None,
            ..column(name, drifted)
        }
    }

    fn four_p_values() -> Vec<ColumnResult> {
        vec![
            with_p("a", 0.01),
            with_p("b", 0.02),
            with_p("c", 0.04),
            with_p("d", 0.5),
        ]
    }

    #[test]
    fn without_a_correction_each_test_decides() {
        for config in ["", r#"{"multiple_testing": "none", "alpha": 0.001}"#] {
            let d = decide(context(four_p_values()), config);
            assert_decision(&d, Action::Retrain, &["3 of 4 tested columns drifted"]);
            assert!(!d.reason.contains("correction"), "{}", d.reason);
        }
    }

    #[test]
    fn bonferroni_keeps_only_what_survives_m_times_p() {
        // 0.04, 0.08, 0.16, 1: one below 0.05.
        let d = decide(
            context(four_p_values()),
            r#"{"multiple_testing": "bonferroni"}"#,
        );
        assert_decision(
            &d,
            Action::None,
            &[
                "1 of 4 tested columns drifted",
                ": a;",
                "bonferroni correction over 4 p-values: 1 adjusted below alpha 0.05",
            ],
        );
    }

    #[test]
    fn benjamini_hochberg_keeps_the_steps_below_alpha() {
        // Adjusted 0.04, 0.04, 0.053…, 0.5: two below 0.05.
        let d = decide(
            context(four_p_values()),
            r#"{"multiple_testing": "benjamini_hochberg"}"#,
        );
        assert_decision(
            &d,
            Action::Retrain,
            &[
                "2 of 4 tested columns drifted",
                ": a, b;",
                "benjamini_hochberg correction over 4 p-values: 2 adjusted below alpha 0.05",
            ],
        );
        // A larger alpha lets the third through.
        let d = decide(
            context(four_p_values()),
            r#"{"multiple_testing": "benjamini_hochberg", "alpha": 0.06}"#,
        );
        assert_decision(&d, Action::Retrain, &["3 of 4 tested columns drifted"]);
    }

    #[test]
    fn tied_p_values_pass_or_fail_together() {
        let tied = || {
            vec![
                with_p("a", 0.04),
                with_p("b", 0.01),
                with_p("c", 0.04),
                with_p("d", 0.04),
            ]
        };
        // BH: every adjusted value is 0.04, the smallest lifted to its tied neighbours.
        let d = decide(
            context(tied()),
            r#"{"multiple_testing": "benjamini_hochberg"}"#,
        );
        assert_decision(
            &d,
            Action::Retrain,
            &["4 of 4 tested columns drifted", "4 adjusted below alpha"],
        );
        // Bonferroni: 0.16 for each tie, 0.04 for the smallest.
        let d = decide(context(tied()), r#"{"multiple_testing": "bonferroni"}"#);
        assert_decision(
            &d,
            Action::None,
            &[
                "1 of 4 tested columns drifted",
                ": b;",
                "1 adjusted below alpha",
            ],
        );
    }

    #[test]
    fn failed_columns_are_left_out_of_the_correction() {
        let mut columns = four_p_values();
        columns.push(ColumnResult {
            p_value: Some(0.0001),
            ..failed("broken")
        });
        let d = decide(context(columns), r#"{"multiple_testing": "bonferroni"}"#);
        assert_decision(
            &d,
            Action::None,
            &[
                "1 of 4 tested columns drifted",
                "bonferroni correction over 4 p-values: 1 adjusted below alpha",
                "not counted: broken",
            ],
        );
    }

    #[test]
    fn all_columns_failed_with_a_correction_is_an_alert() {
        for correction in ["bonferroni", "benjamini_hochberg"] {
            let config = format!(r#"{{"multiple_testing": "{correction}"}}"#);
            let d = decide(context(vec![failed("a"), failed("b")]), &config);
            assert_decision(
                &d,
                Action::Alert,
                &["column could be tested", "tests failed for a, b"],
            );
            let d = decide(context(Vec::new()), &config);
            assert_decision(&d, Action::Alert, &["column results arrived"]);
        }
    }

    #[test]
    fn columns_without_p_values_keep_their_flags() {
        for correction in ["bonferroni", "benjamini_hochberg"] {
            let config = format!(r#"{{"multiple_testing": "{correction}"}}"#);
            let only_distances = vec![
                distance("a", true),
                distance("b", true),
                distance("c", false),
            ];
            let d = decide(context(only_distances), &config);
            assert_decision(
                &d,
                Action::Retrain,
                &[
                    "2 of 3 tested columns drifted",
                    &format!("{correction} correction: no tested column had a p-value"),
                    "3 columns without a p-value kept their test's flag",
                ],
            );
        }
        // Mixed: the distance's flag stands beside the adjusted p-values (Bonferroni over 4).
        let mut columns = four_p_values();
        columns.push(distance("e", true));
        let d = decide(context(columns), r#"{"multiple_testing": "bonferroni"}"#);
        assert_decision(
            &d,
            Action::Alert,
            &[
                "2 of 5 tested columns drifted",
                ": a, e;",
                "over 4 p-values: 1 adjusted below alpha 0.05, 1 column without a p-value kept \
                 its test's flag",
            ],
        );
    }

    #[test]
    fn a_metric_drop_reason_names_the_correction_too() {
        let d = decide(
            with_metric(context(four_p_values()), "accuracy", 0.7, Some(0.9)),
            r#"{"max_metric_drop": 0.1, "multiple_testing": "bonferroni"}"#,
        );
        assert_decision(
            &d,
            Action::Retrain,
            &[
                "accuracy dropped",
                "1 of 4 tested columns drifted",
                "bonferroni",
            ],
        );
    }

    #[test]
    fn no_drift_is_none() {
        let d = decide(context(columns(0, 8)), "");
        assert_decision(
            &d,
            Action::None,
            &[
                "0 of 8 tested columns drifted",
                "share 0,",
                "below alert_share 0.3",
            ],
        );
    }

    #[test]
    fn some_drift_below_alert_share_is_none() {
        let d = decide(context(columns(2, 8)), "");
        assert_decision(
            &d,
            Action::None,
            &["2 of 10 tested columns drifted", "share 0.2,", ": d0, d1"],
        );
    }

    #[test]
    fn alert_share_reached() {
        // 3 of 10 is exactly the default alert share.
        let d = decide(context(columns(3, 7)), "");
        assert_decision(
            &d,
            Action::Alert,
            &[
                "3 of 10",
                "share 0.3,",
                "at or above alert_share 0.3",
                "below retrain_share 0.5",
                "d0, d1, d2",
            ],
        );
    }

    #[test]
    fn retrain_share_reached() {
        let d = decide(context(columns(5, 5)), "");
        assert_decision(
            &d,
            Action::Retrain,
            &["5 of 10", "share 0.5,", "at or above retrain_share 0.5"],
        );
    }

    #[test]
    fn retrain_within_cooldown_is_an_alert() {
        let d = decide(retrained_ago(context(columns(4, 2)), 3_600), "");
        assert_decision(
            &d,
            Action::Alert,
            &[
                "retrain_share 0.5",
                "alerting instead of retraining",
                "3600 s ago",
                "86400 s cooldown",
            ],
        );
    }

    #[test]
    fn retrain_after_cooldown() {
        let d = decide(retrained_ago(context(columns(4, 2)), 86_400), "");
        assert_decision(&d, Action::Retrain, &["4 of 6"]);
        assert!(!d.reason.contains("cooldown"));
        let d = decide(
            retrained_ago(context(columns(4, 2)), 10),
            r#"{"retrain_cooldown_secs": 0}"#,
        );
        assert_eq!(d.action, Action::Retrain);
    }

    #[test]
    fn last_retrain_in_the_future_counts_as_just_now() {
        let mut c = context(columns(4, 2));
        c.history.last_retrain = Some(NOW + 100);
        let d = decide(c, "");
        assert_decision(&d, Action::Alert, &["0 s ago"]);
    }

    #[test]
    fn failed_columns_are_not_counted() {
        // 2 of 4 tested drifted: share 0.5, whatever the 6 failures would have shown.
        let mut cols = columns(2, 2);
        cols.extend((0..6).map(|i| failed(&format!("f{i}"))));
        let d = decide(context(cols), "");
        assert_decision(
            &d,
            Action::Retrain,
            &[
                "2 of 4 tested columns drifted",
                "share 0.5,",
                "6 other columns failed their tests and were not counted: f0, f1, f2, f3, f4 and 1 more",
            ],
        );
    }

    #[test]
    fn all_tests_failed_is_an_alert() {
        let cols = vec![failed("age"), failed("income")];
        let d = decide(context(cols), "");
        assert_decision(
            &d,
            Action::Alert,
            &["No column could be tested (min_tested is 1); tests failed for age, income."],
        );
    }

    #[test]
    fn no_columns_at_all_is_an_alert() {
        let d = decide(context(Vec::new()), "");
        assert_decision(
            &d,
            Action::Alert,
            &["No column results arrived", "min_tested is 1"],
        );
    }

    #[test]
    fn too_few_tested_is_an_alert_even_with_a_high_share() {
        let mut cols = columns(2, 0);
        cols.push(failed("zip"));
        let d = decide(context(cols), r#"{"min_tested": 3}"#);
        assert_decision(
            &d,
            Action::Alert,
            &[
                "Only 2 of 3 columns could be tested, fewer than min_tested 3",
                "tests failed for zip",
                "2 of the 2 tested columns drifted: d0, d1",
            ],
        );
    }

    #[test]
    fn enough_tested_with_some_failures() {
        let mut cols = columns(0, 3);
        cols.push(failed("zip"));
        let d = decide(context(cols), r#"{"min_tested": 3}"#);
        assert_decision(
            &d,
            Action::None,
            &[
                "0 of 3",
                "1 other column failed its test and was not counted: zip",
            ],
        );
    }

    #[test]
    fn metric_drop_retrains() {
        let c = with_metric(context(columns(0, 5)), "accuracy", 0.84, Some(0.91));
        let d = decide(c, r#"{"max_metric_drop": 0.05}"#);
        assert_decision(
            &d,
            Action::Retrain,
            &[
                "Metric accuracy dropped by 0.07 (from 0.91 on the reference to 0.84)",
                "more than max_metric_drop 0.05",
                "0 of 5 tested columns drifted (share 0)",
            ],
        );
    }

    #[test]
    fn error_metrics_worsen_when_they_rise() {
        let worse = with_metric(context(columns(0, 5)), "rmse", 3.0, Some(2.0));
        let d = decide(worse, r#"{"max_metric_drop": 0.5}"#);
        assert_eq!(d.action, Action::Retrain, "{}", d.reason);
        assert!(d.reason.contains("Metric rmse rose by 1 "), "{}", d.reason);
        let better = with_metric(context(columns(0, 5)), "mae", 1.0, Some(2.0));
        let d = decide(better, r#"{"max_metric_drop": 0.5}"#);
        assert_eq!(d.action, Action::None, "{}", d.reason);
    }

    #[test]
    fn metric_drop_within_cooldown_is_an_alert() {
        let c = with_metric(context(columns(0, 5)), "accuracy", 0.5, Some(0.9));
        let d = decide(retrained_ago(c, 60), r#"{"max_metric_drop": 0.05}"#);
        assert_decision(&d, Action::Alert, &["accuracy dropped by 0.4", "60 s ago"]);
    }

    #[test]
    fn metric_drop_retrains_even_when_columns_failed() {
        let c = with_metric(context(vec![failed("age")]), "auc", 0.6, Some(0.8));
        let d = decide(c, r#"{"max_metric_drop": 0.1}"#);
        assert_decision(
            &d,
            Action::Retrain,
            &[
                "auc dropped by 0.2",
                "no column could be tested (tests failed for age)",
            ],
        );
    }

    #[test]
    fn several_metric_drops_are_all_named() {
        let c = with_metric(context(columns(1, 1)), "accuracy", 0.7, Some(0.9));
        let c = with_metric(c, "f1", 0.5, Some(0.8));
        let d = decide(c, r#"{"max_metric_drop": 0.1}"#);
        assert_decision(
            &d,
            Action::Retrain,
            &[
                "accuracy dropped by 0.2",
                " and metric f1 dropped by 0.3",
                ": d0",
            ],
        );
    }

    #[test]
    fn metrics_that_do_not_count() {
        let config = r#"{"max_metric_drop": 0.125}"#;
        // No reference value, a drop of exactly the limit, an improvement, and NaN.
        for (value, reference) in [
            (0.1, None),
            (0.5, Some(0.625)),
            (0.9, Some(0.8)),
            (f64::NAN, Some(0.9)),
        ] {
            let c = with_metric(context(columns(0, 4)), "accuracy", value, reference);
            assert_eq!(decide(c, config).action, Action::None);
        }
        // Without max_metric_drop metrics are not looked at.
        let c = with_metric(context(columns(0, 4)), "accuracy", 0.1, Some(0.9));
        assert_eq!(decide(c, "").action, Action::None);
    }

    #[test]
    fn long_name_lists_are_summarized() {
        let d = decide(context(columns(8, 2)), "");
        assert_decision(&d, Action::Retrain, &[": d0, d1, d2, d3, d4 and 3 more"]);
        assert!(!d.reason.contains("d5"));
    }

    #[test]
    fn a_share_just_below_a_threshold_does_not_print_as_it() {
        let d = decide(context(columns(299, 701)), "");
        assert_decision(&d, Action::None, &["share 0.299,", "below alert_share 0.3"]);
        let d = decide(context(columns(1, 2)), "");
        assert_decision(&d, Action::Alert, &["share 0.33,"]);
    }

    #[test]
    fn number_formatting() {
        assert_eq!(number(0.5, &[]), "0.5");
        assert_eq!(number(1.0, &[]), "1");
        assert_eq!(number(2.0 / 3.0, &[]), "0.67");
        assert_eq!(number(0.30000001, &[0.3]), "0.30000001");
        assert_eq!(number(0.3, &[0.3]), "0.3");
        assert_eq!(number(-0.001, &[]), "0");
    }
}
