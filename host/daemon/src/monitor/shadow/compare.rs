//! A shadow's windows compared with the monitor's own evaluations of them: each window side
//! by side (status, decision, drifted and failed columns, time per call of the plugin and its
//! candidate) with every field that differs, and a summary over all of them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::monitor::evaluation::{CallTotals, EvaluationRecord, Status};
use crate::monitor::replay::Compared;

/// One side of a window: what the pinned pipeline or the shadow found.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Side {
    /// `ok`, `partial`, `policy_failed` or `failed`.
    pub status: String,
    /// The decision: `none`, `alert`, `retrain`, `rollback` or `promote`.
    pub action: String,
    pub reason: String,
    /// Columns (and multivariate tests) whose test flagged drift.
    pub drifted: Vec<String>,
    /// Columns (and multivariate tests, detectors) whose plugin failed, with the failure's kind.
    pub failed: Vec<String>,
    /// The calls into the plugin the shadow replaces (on the pinned side) or its candidate.
    pub calls: CallTotals,
}

/// A field whose pinned and shadow values differ.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ShadowDifference {
    /// Where, e.g. `columns[2].p_value`.
    pub path: String,
    pub pinned: Value,
    pub shadow: Value,
}

/// One window, pinned and shadow side by side.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WindowComparison {
    pub window_start: i64,
    pub window_end: i64,
    /// The monitor's evaluation of the window.
    pub evaluation_id: i64,
    /// Same status, same decision and the same drifted columns.
    pub agree: bool,
    /// `None` once retention removed the monitor's evaluation.
    pub pinned: Option<Side>,
    pub shadow: Side,
    /// Every compared field that differs (statistics, p-values, verdicts, detections,
    /// metrics, the decision and its reason).
    pub differences: Vec<ShadowDifference>,
}

/// A shadow's windows in all.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// Windows the shadow evaluated.
    pub windows: usize,
    /// Windows where both agree (see [`WindowComparison::agree`]).
    pub agreeing: usize,
    /// Windows whose decisions differ.
    pub decisions_differ: usize,
    /// Windows where a column's drift verdict differs.
    pub verdicts_differ: usize,
    /// Windows where the candidate failed (a column, detector, preprocessor or the policy).
    pub candidate_failed: usize,
    /// Windows where the plugin it replaces failed.
    pub pinned_failed: usize,
    /// Mean time of a call into the plugin the shadow replaces, and into the candidate (ms).
    pub pinned_ms_per_call: Option<f64>,
    pub candidate_ms_per_call: Option<f64>,
    /// The largest difference between a column's statistics, pinned and shadow.
    pub largest_statistic_change: Option<f64>,
}

/// A shadow's summary as the daemon keeps it between windows (`shadows.summary`): the counts,
/// and the call totals its means come from.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    counts: Summary,
    pinned_calls: CallTotals,
    candidate_calls: CallTotals,
}

impl Tally {
    /// The summary, with its means.
    pub fn summary(self) -> Summary {
        Summary {
            pinned_ms_per_call: self.pinned_calls.ms_per_call(),
            candidate_ms_per_call: self.candidate_calls.ms_per_call(),
            ..self.counts
        }
    }
}

/// What one side found, from its record; `plugin` picks the calls counted.
fn side(record: &EvaluationRecord, plugin: impl Fn(&str) -> bool) -> Side {
    let mut drifted: Vec<String> = record
        .columns
        .iter()
        .filter(|c| c.drifted == Some(true))
        .map(|c| c.name.clone())
        .collect();
    drifted.extend(
        record
            .multivariate
            .iter()
            .filter(|m| m.drifted == Some(true))
            .map(|m| m.name.clone()),
    );
    let named = |name: &str, kind: &str| format!("{name} ({kind})");
    let mut failed: Vec<String> = record
        .columns
        .iter()
        .filter_map(|c| c.failure.as_ref().map(|f| named(&c.name, &f.kind)))
        .collect();
    failed.extend(
        record
            .multivariate
            .iter()
            .filter_map(|m| m.failure.as_ref().map(|f| named(&m.name, &f.kind))),
    );
    failed.extend(
        record
            .detectors
            .iter()
            .filter_map(|d| d.failure.as_ref().map(|f| named(&d.column, &f.kind))),
    );
    failed.extend(
        record
            .preprocessing
            .iter()
            .map(|f| named("preprocessing", &f.kind)),
    );
    if let Some(f) = &record.policy.failure {
        failed.push(named("policy", &f.kind));
    }
    let mut calls = CallTotals::default();
    for (_, total) in record.plugin_calls.iter().filter(|(p, _)| plugin(p)) {
        add_calls(&mut calls, total);
    }
    Side {
        status: record.status.name().to_string(),
        action: record.decision.action.name().to_string(),
        reason: record.decision.reason.clone(),
        drifted,
        failed,
        calls,
    }
}

/// Whether a plugin `plugin` picks failed on this side (not the host, not a quarantine).
fn failed_plugin(record: &EvaluationRecord, plugin: impl Fn(&str) -> bool) -> bool {
    record
        .failures()
        .any(|f| plugin(&f.plugin) && f.blames_plugin())
}

/// Compares the windows of a shadow that replaces plugin `replaces` with `candidate`
/// (`name@version`).
pub struct Comparison<'a> {
    pub replaces: &'a str,
    pub candidate: &'a str,
}

impl Comparison<'_> {
    fn is_replaced(&self, plugin: &str) -> bool {
        plugin.split_once('@').map_or(plugin, |(name, _)| name) == self.replaces
    }

    /// One stored window, side by side.
    pub fn window(&self, stored: &vigil_store::ShadowWindow) -> WindowComparison {
        let shadow = read(&stored.shadow);
        let pinned = stored.pinned.as_ref().map(read);
        WindowComparison {
            window_start: stored.window_start,
            window_end: stored.window_end,
            evaluation_id: stored.evaluation_id,
            ..self.sides(pinned.as_ref(), &shadow)
        }
    }

    /// The monitor's record of a window (`None` once retention removed it) and the shadow's,
    /// side by side; the window's bounds and evaluation are left at zero.
    fn sides(
        &self,
        pinned: Option<&EvaluationRecord>,
        shadow: &EvaluationRecord,
    ) -> WindowComparison {
        let shadow_side = side(shadow, |p| p == self.candidate);
        let (pinned_side, differences) = match pinned {
            Some(pinned) => {
                let differences = Compared::of(pinned)
                    .differences(&Compared::of(shadow))
                    .into_iter()
                    .map(|d| ShadowDifference {
                        path: d.path,
                        pinned: d.stored,
                        shadow: d.replayed,
                    })
                    .collect();
                (Some(side(pinned, |p| self.is_replaced(p))), differences)
            }
            None => (None, Vec::new()),
        };
        let agree = pinned_side.as_ref().is_some_and(|p| {
            p.status == shadow_side.status
                && p.action == shadow_side.action
                && p.drifted == shadow_side.drifted
        });
        WindowComparison {
            window_start: 0,
            window_end: 0,
            evaluation_id: 0,
            agree,
            pinned: pinned_side,
            shadow: shadow_side,
            differences,
        }
    }

    /// Adds a window to the tally: the monitor's record of it and the shadow's. The daemon
    /// counts each window as the shadow evaluates it.
    pub fn count(&self, tally: &mut Tally, pinned: &EvaluationRecord, shadow: &EvaluationRecord) {
        let summary = &mut tally.counts;
        summary.windows += 1;
        if failed_plugin(shadow, |p| p == self.candidate) {
            summary.candidate_failed += 1;
        }
        if failed_plugin(pinned, |p| self.is_replaced(p)) {
            summary.pinned_failed += 1;
        }
        let compared = self.sides(Some(pinned), shadow);
        summary.agreeing += usize::from(compared.agree);
        let pinned_side = compared
            .pinned
            .as_ref()
            .expect("the pinned record was given");
        summary.decisions_differ += usize::from(pinned_side.action != compared.shadow.action);
        let verdict = |record: &EvaluationRecord, name: &str| {
            record
                .columns
                .iter()
                .find(|c| c.name == name)
                .and_then(|c| c.drifted)
        };
        let verdicts_differ = pinned
            .columns
            .iter()
            .any(|c| c.drifted.is_some() && c.drifted != verdict(shadow, &c.name));
        summary.verdicts_differ += usize::from(verdicts_differ);
        for column in &pinned.columns {
            let theirs = shadow.columns.iter().find(|c| c.name == column.name);
            if let (Some(a), Some(b)) = (column.statistic, theirs.and_then(|c| c.statistic)) {
                let change = (a - b).abs();
                if change.is_finite() {
                    let largest = summary.largest_statistic_change.get_or_insert(0.0);
                    *largest = largest.max(change);
                }
            }
        }
        add_calls(&mut tally.pinned_calls, &pinned_side.calls);
        add_calls(&mut tally.candidate_calls, &compared.shadow.calls);
    }
}

fn add_calls(total: &mut CallTotals, calls: &CallTotals) {
    total.calls += calls.calls;
    total.seconds += calls.seconds;
    total.memory_peak_bytes = total.memory_peak_bytes.max(calls.memory_peak_bytes);
}

/// The stored record of one side; one that no longer reads counts as failed.
fn read(value: &Value) -> EvaluationRecord {
    serde_json::from_value(value.clone()).unwrap_or_else(|_| EvaluationRecord {
        status: Status::Failed,
        ..EvaluationRecord::default()
    })
}
