//! The conditions a policy decides on, each holding or not with a clause saying why in numbers:
//! the share of drifted columns ([`DriftShare`]), drifted windows in a row ([`Consecutive`]), a
//! metric worse than its baseline by more than a margin ([`Performance`], also on the
//! label-free `estimated_*` metrics), and `any`/`all` of others ([`Condition`]).
//!
//! A window's columns count as in `policy-threshold`: a column whose test failed is neither
//! tested nor drifted. Earlier windows come from `history.recent`, newest first (at most 64,
//! docs/monitors.md, "History").

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{Action, ColumnResult, Context, Error, PastWindow, Result};

use super::correction::{correction_note, drifted_flags};
use super::metrics::{lower_is_better, worsening};
use super::text::{names, number, plural};
use crate::multiple_testing::Correction;

/// The most windows [`Consecutive`] can ask for: the current one and the 63 before it fit in
/// the history a policy is given.
pub const MAX_CONSECUTIVE: u32 = 64;

/// Whether a condition held, and a clause saying why, with its numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub held: bool,
    pub clause: String,
}

/// One condition of a composite policy, tagged by `type`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// At least a share of the window's tested columns drifted.
    DriftShare(DriftShare),
    /// Drifted windows in a row.
    Consecutive(Consecutive),
    /// A metric from labels worse than its baseline.
    Performance(Performance),
    /// A label-free estimated metric (`estimated_<metric>`) worse than its baseline.
    EstimatedPerformance(Performance),
    /// Any of the conditions.
    Any {
        /// At least one condition.
        conditions: Vec<Condition>,
    },
    /// All of the conditions.
    All {
        /// At least one condition.
        conditions: Vec<Condition>,
    },
}

impl Condition {
    /// Checks the settings; errors name the condition by `path` (e.g. `conditions[1]`).
    pub fn validate(&self, path: &str) -> Result<()> {
        match self {
            Condition::DriftShare(c) => c.validate(path),
            Condition::Consecutive(c) => c.validate(path),
            Condition::Performance(c) | Condition::EstimatedPerformance(c) => c.validate(path),
            Condition::Any { conditions } | Condition::All { conditions } => {
                validate_list(conditions, &format!("{path}.conditions"))
            }
        }
    }

    /// How the condition is named in a reason.
    pub fn label(&self) -> String {
        match self {
            Condition::DriftShare(_) => "drift_share".into(),
            Condition::Consecutive(_) => "consecutive".into(),
            Condition::Performance(c) => format!("performance of {}", c.metric),
            Condition::EstimatedPerformance(c) => {
                format!("estimated_performance of {}", c.metric)
            }
            Condition::Any { .. } => "any".into(),
            Condition::All { .. } => "all".into(),
        }
    }

    /// Whether the condition holds on `context`.
    pub fn evaluate(&self, context: &Context) -> Outcome {
        match self {
            Condition::DriftShare(c) => c.evaluate(context),
            Condition::Consecutive(c) => c.evaluate(context),
            Condition::Performance(c) => c.evaluate(context, &c.metric),
            Condition::EstimatedPerformance(c) => c.evaluate(context, &estimated_name(&c.metric)),
            Condition::Any { conditions } => combine(Mode::Any, conditions, context),
            Condition::All { conditions } => combine(Mode::All, conditions, context),
        }
    }
}

/// The estimated metric's name for `metric` (`accuracy` → `estimated_accuracy`).
pub fn estimated_name(metric: &str) -> String {
    if metric.starts_with("estimated_") {
        metric.to_string()
    } else {
        format!("estimated_{metric}")
    }
}

/// Checks a list of conditions: at least one, each valid.
pub fn validate_list(conditions: &[Condition], path: &str) -> Result<()> {
    if conditions.is_empty() {
        return Err(Error::InvalidConfig(format!(
            "{path} must list at least one condition"
        )));
    }
    for (i, condition) in conditions.iter().enumerate() {
        condition.validate(&format!("{path}[{i}]"))?;
    }
    Ok(())
}

/// How a composite combines its conditions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Holds when at least one condition holds.
    #[default]
    Any,
    /// Holds when every condition holds.
    All,
}

/// `any` or `all` of `conditions`, with a clause naming the ones that held and the ones that
/// did not, each with its own clause.
pub fn combine(mode: Mode, conditions: &[Condition], context: &Context) -> Outcome {
    let outcomes: Vec<(String, Outcome)> = conditions
        .iter()
        .map(|c| (c.label(), c.evaluate(context)))
        .collect();
    let held_count = outcomes.iter().filter(|(_, o)| o.held).count();
    let held = match mode {
        Mode::Any => held_count > 0,
        Mode::All => held_count == outcomes.len(),
    };
    let list = |want: bool| {
        outcomes
            .iter()
            .filter(|(_, o)| o.held == want)
            .map(|(label, o)| format!("{label} ({})", o.clause))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let (word, n) = match mode {
        Mode::Any => ("any", outcomes.len()),
        Mode::All => ("all", outcomes.len()),
    };
    let mut clause = format!(
        "{held_count} of {n} {} held, {} {word} needed",
        plural(n, "condition", "conditions"),
        if held { "as" } else { "not as" },
    );
    if held_count > 0 {
        clause.push_str(&format!(": held: {}", list(true)));
    }
    if held_count < outcomes.len() {
        clause.push_str(&format!(
            "{}not held: {}",
            if held_count > 0 { "; " } else { ": " },
            list(false)
        ));
    }
    Outcome { held, clause }
}

/// The drift of one window's columns.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowDrift {
    /// Columns whose test ran.
    pub tested: usize,
    /// Of those, the ones that drifted.
    pub drifted: Vec<String>,
}

impl WindowDrift {
    /// The current window's: failed columns count in neither.
    pub fn of_columns(columns: &[ColumnResult]) -> WindowDrift {
        let tested: Vec<&ColumnResult> = columns.iter().filter(|c| c.failure.is_none()).collect();
        WindowDrift {
            tested: tested.len(),
            drifted: tested
                .iter()
                .filter(|c| c.drifted)
                .map(|c| c.column.clone())
                .collect(),
        }
    }

    /// An earlier window's, as the history tells it.
    pub fn of_past(window: &PastWindow) -> WindowDrift {
        WindowDrift {
            tested: window.tested as usize,
            drifted: window.drifted.clone(),
        }
    }

    /// Drifted columns over tested ones; 0 with none tested.
    pub fn share(&self) -> f64 {
        if self.tested == 0 {
            0.0
        } else {
            self.drifted.len() as f64 / self.tested as f64
        }
    }

    /// Whether the window counts as drifted: a column tested and at least `share` drifted.
    pub fn drifted_at(&self, share: f64) -> bool {
        self.tested > 0 && self.share() >= share
    }

    /// "2 of 5 tested columns drifted (share 0.4)", thresholds taken into account.
    pub fn describe(&self, thresholds: &[f64]) -> String {
        format!(
            "{} of {} tested {} drifted (share {})",
            self.drifted.len(),
            self.tested,
            plural(self.tested, "column", "columns"),
            number(self.share(), thresholds)
        )
    }
}

fn default_share() -> f64 {
    0.5
}

fn default_min_tested() -> u32 {
    1
}

fn check_share(path: &str, field: &str, share: f64) -> Result<()> {
    if share > 0.0 && share <= 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "{path}{field} must lie in (0, 1], got {share}"
        )))
    }
}

/// Prefix for a field's name in errors: `conditions[0].` inside a composite, nothing at the
/// top of a policy's settings.
fn prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    }
}

/// At least `share` of the window's tested columns drifted, with at least `min_tested` tested,
/// the drifted flags corrected across columns as `policy-threshold` does when
/// `multiple_testing` is set.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DriftShare {
    /// The share of tested columns that must have drifted, in (0, 1].
    #[serde(default = "default_share")]
    pub share: f64,
    /// Columns that must have been tested for the share to count; at least 1.
    #[serde(default = "default_min_tested")]
    pub min_tested: u32,
    /// `none`, `bonferroni` or `benjamini_hochberg`: as `policy-threshold`'s setting.
    #[serde(default)]
    pub multiple_testing: Correction,
    /// The level of the adjusted p-values, in (0, 1); used with a correction.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
}

fn default_alpha() -> f64 {
    0.05
}

impl DriftShare {
    pub fn validate(&self, path: &str) -> Result<()> {
        let at = prefix(path);
        check_share(&at, "share", self.share)?;
        if self.min_tested == 0 {
            return Err(Error::InvalidConfig(format!(
                "{at}min_tested must be at least 1"
            )));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::InvalidConfig(format!(
                "{at}alpha must lie strictly between 0 and 1, got {}",
                self.alpha
            )));
        }
        Ok(())
    }

    pub fn evaluate(&self, context: &Context) -> Outcome {
        let tested: Vec<&ColumnResult> = context
            .columns
            .iter()
            .filter(|c| c.failure.is_none())
            .collect();
        let (flags, corrected) = drifted_flags(&tested, self.multiple_testing, self.alpha);
        let drift = WindowDrift {
            tested: tested.len(),
            drifted: tested
                .iter()
                .zip(flags)
                .filter(|(_, drifted)| *drifted)
                .map(|(c, _)| c.column.clone())
                .collect(),
        };
        if drift.tested < self.min_tested as usize {
            return Outcome {
                held: false,
                clause: format!(
                    "only {} {} tested, fewer than min_tested {}",
                    drift.tested,
                    plural(drift.tested, "column", "columns"),
                    self.min_tested
                ),
            };
        }
        let held = drift.share() >= self.share;
        let mut clause = format!(
            "{}, {} share {}",
            drift.describe(&[self.share]),
            if held { "at or above" } else { "below" },
            self.share
        );
        if !drift.drifted.is_empty() {
            let drifted: Vec<&str> = drift.drifted.iter().map(String::as_str).collect();
            clause.push_str(&format!(": {}", names(&drifted)));
        }
        clause.push_str(&correction_note(corrected.as_ref()));
        Outcome { held, clause }
    }
}

fn default_windows() -> u32 {
    3
}

/// At least `windows` drifted windows in a row, this one included. A window drifted when at
/// least `drift_share` of its tested columns drifted. A window that decided `retrain` ends the
/// run (its drift was acted on), so the next retraining needs `windows` more.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Consecutive {
    /// Drifted windows in a row needed, this one included; 1 to 64.
    #[serde(default = "default_windows")]
    pub windows: u32,
    /// The share of a window's tested columns that makes it drifted, in (0, 1].
    #[serde(default = "default_share")]
    pub drift_share: f64,
}

/// Why a run of drifted windows ended.
enum RunEnd {
    /// At a window that did not drift (or this one did not).
    Stable,
    /// At a window that decided to retrain.
    Retrained,
    /// At the oldest window the history holds.
    HistoryStart,
}

impl Consecutive {
    pub fn validate(&self, path: &str) -> Result<()> {
        let at = prefix(path);
        if !(1..=MAX_CONSECUTIVE).contains(&self.windows) {
            return Err(Error::InvalidConfig(format!(
                "{at}windows must be between 1 and {MAX_CONSECUTIVE} (the history holds the \
                 {} windows before this one), got {}",
                MAX_CONSECUTIVE - 1,
                self.windows
            )));
        }
        check_share(&at, "drift_share", self.drift_share)
    }

    /// Drifted windows in a row ending with this one, and why the run ended.
    fn run(&self, context: &Context, current: &WindowDrift) -> (u32, RunEnd) {
        if !current.drifted_at(self.drift_share) {
            return (0, RunEnd::Stable);
        }
        let mut run = 1;
        if run >= self.windows {
            return (run, RunEnd::Stable);
        }
        for past in &context.history.recent {
            if past.action == Action::Retrain {
                return (run, RunEnd::Retrained);
            }
            if !WindowDrift::of_past(past).drifted_at(self.drift_share) {
                return (run, RunEnd::Stable);
            }
            run += 1;
            if run >= self.windows {
                return (run, RunEnd::Stable);
            }
        }
        (run, RunEnd::HistoryStart)
    }

    pub fn evaluate(&self, context: &Context) -> Outcome {
        let current = WindowDrift::of_columns(&context.columns);
        let (run, end) = self.run(context, &current);
        let held = run >= self.windows;
        let this = format!(
            "this window: {}, {} drift_share {}",
            current.describe(&[self.drift_share]),
            if current.drifted_at(self.drift_share) {
                "at or above"
            } else if current.tested == 0 {
                "none tested, not counted as drifted at"
            } else {
                "below"
            },
            self.drift_share
        );
        let mut clause = format!(
            "{run} drifted {} in a row, {} {} needed ({this})",
            plural(run as usize, "window", "windows"),
            if held {
                "at least the"
            } else {
                "fewer than the"
            },
            self.windows
        );
        if !held && run > 0 {
            match end {
                RunEnd::Retrained => {
                    clause.push_str("; counted since the window before, which decided to retrain")
                }
                RunEnd::HistoryStart => clause.push_str(&format!(
                    "; counted back to the oldest of the {} earlier windows given",
                    context.history.recent.len()
                )),
                RunEnd::Stable => {}
            }
        }
        Outcome { held, clause }
    }
}

fn default_margin() -> f64 {
    0.05
}

/// A metric worse than its baseline by more than `margin`: fallen, or for the error metrics
/// (`mae`, `mse`, `rmse`, `log_loss`) risen. The baseline is `baseline` when set, else the
/// metric's value on the reference.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Performance {
    /// The metric's name, e.g. `accuracy`, `roc_auc`, `rmse` (with `estimated_performance`,
    /// `accuracy` stands for `estimated_accuracy`).
    pub metric: String,
    /// How much worse than the baseline the metric may get; at least 0.
    #[serde(default = "default_margin")]
    pub margin: f64,
    /// Whether `margin` is a fraction of the baseline (0.1: 10 % worse) instead of an amount.
    #[serde(default)]
    pub relative: bool,
    /// The baseline; the metric's reference value when unset.
    #[serde(default)]
    pub baseline: Option<f64>,
}

impl Performance {
    pub fn validate(&self, path: &str) -> Result<()> {
        let at = prefix(path);
        if self.metric.is_empty() {
            return Err(Error::InvalidConfig(format!(
                "{at}metric must name a metric, e.g. \"accuracy\""
            )));
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(Error::InvalidConfig(format!(
                "{at}margin must be a finite number of at least 0, got {}",
                self.margin
            )));
        }
        if let Some(baseline) = self.baseline
            && !baseline.is_finite()
        {
            return Err(Error::InvalidConfig(format!(
                "{at}baseline must be a finite number, got {baseline}"
            )));
        }
        Ok(())
    }

    /// Whether metric `name` of the window is worse than its baseline by more than the margin.
    pub fn evaluate(&self, context: &Context, name: &str) -> Outcome {
        let not_held = |clause: String| Outcome {
            held: false,
            clause,
        };
        let Some(metric) = context
            .metrics
            .iter()
            .find(|m| m.name == name && m.value.is_finite())
        else {
            let why = if name.starts_with("estimated_") {
                "it is estimated only when the monitor sets estimated_performance and the \
                 window's records carry the positive class's probability"
            } else {
                "it needs labels for the window's records"
            };
            return not_held(format!("metric {name} is absent from this window ({why})"));
        };
        let (baseline, source) = match (self.baseline, metric.reference) {
            (Some(b), _) => (b, "set in the configuration"),
            (None, Some(r)) if r.is_finite() => (r, "its value on the reference"),
            _ => {
                return not_held(format!(
                    "metric {name} is {} but has no baseline: the reference has no value of it \
                     (it needs labels) and no baseline is set",
                    number(metric.value, &[])
                ));
            }
        };
        let worse = worsening(name, metric.value, baseline);
        let (amount, margin_text) = if self.relative {
            if baseline == 0.0 {
                return not_held(format!(
                    "metric {name} is {} and its baseline is 0, so a relative margin cannot \
                     be judged",
                    number(metric.value, &[])
                ));
            }
            (
                worse / baseline.abs(),
                format!("{} of the baseline", percent(self.margin, &[])),
            )
        } else {
            (worse, number(self.margin, &[]))
        };
        let held = amount > self.margin;
        let direction = if lower_is_better(name) {
            "above"
        } else {
            "below"
        };
        let distance = if worse <= 0.0 {
            format!("not {direction}")
        } else if self.relative {
            format!("{} {direction}", percent(amount, &[self.margin]))
        } else {
            format!("{} {direction}", number(worse, &[self.margin]))
        };
        let clause = format!(
            "metric {name} is {}, {distance} its baseline {} ({source}), {} the margin {margin_text}",
            number(metric.value, &[]),
            number(baseline, &[]),
            if held { "more than" } else { "within" },
        );
        Outcome { held, clause }
    }
}

/// A fraction as a percentage, never printed equal to a threshold fraction it differs from.
fn percent(fraction: f64, thresholds: &[f64]) -> String {
    let thresholds: Vec<f64> = thresholds.iter().map(|t| t * 100.0).collect();
    format!("{} %", number(fraction * 100.0, &thresholds))
}
