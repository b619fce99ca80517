//! The drift-test stage: one test per tested feature, columns in parallel, each session built
//! from the fitted reference once and kept between windows.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use vigil_runtime::{Batch, Budget, DriftSession, Plugin};
use vigil_store::MISSING_CODE;

use super::Prepared;
use crate::monitor::carried::Carried;
use crate::monitor::evaluation::{ColumnResult, Failure};
use crate::monitor::spec::{FeatureSpec, PluginRef};

/// Columns of one window a drift test may time out on before its other columns are skipped.
const TIMEOUTS_PER_WINDOW: u32 = 2;

pub(super) struct ColumnTest {
    pub(super) feature: FeatureSpec,
    pub(super) plugin_ref: PluginRef,
    pub(super) config: String,
    pub(super) plugin: Arc<Plugin>,
    pub(super) session: Option<DriftSession>,
}

impl Prepared {
    /// Runs every drift test on a preprocessed window and counts each test plugin's outcome:
    /// the columns' results, and the plugins whose failure started a quarantine. `None` when
    /// cancelled on the way.
    pub(super) fn test_columns(
        &mut self,
        batch: &Batch,
        carried: &mut Carried,
        now_ms: i64,
    ) -> Option<(Vec<ColumnResult>, Vec<String>)> {
        let quarantine: HashMap<String, i64> = self
            .tests
            .iter()
            .filter_map(|t| {
                carried
                    .quarantined(&t.plugin_ref.plugin, now_ms)
                    .map(|until| (t.plugin_ref.plugin.clone(), until))
            })
            .collect();
        let reference = &self.fitted.as_ref().expect("preprocessed").reference;
        let (budget, keep, cancel) = (&self.budget, self.keep_tests, &*self.cancel);
        // A plugin that ran out of time on TIMEOUTS_PER_WINDOW columns is not run on the rest
        // of this window: a plugin that always times out costs the window a few deadlines, not
        // one per column, and other monitors do not wait behind it.
        let timeouts: Mutex<HashMap<&str, u32>> = Mutex::default();
        let columns: Vec<ColumnResult> = self
            .tests
            .par_iter_mut()
            .map(|test| {
                if cancel.load(Ordering::Relaxed) {
                    return not_run(test);
                }
                let plugin = test.plugin_ref.plugin.clone();
                let timed_out = |timeouts: &Mutex<HashMap<&str, u32>>| {
                    timeouts
                        .lock()
                        .expect("timeouts lock")
                        .get(plugin.as_str())
                        .copied()
                        .unwrap_or(0)
                };
                if timed_out(&timeouts) >= TIMEOUTS_PER_WINDOW {
                    let mut outcome = not_run(test);
                    outcome.failure = Some(Failure {
                        kind: "timeout".into(),
                        message: format!(
                            "not run: plugin `{plugin}` ran out of time on \
                             {TIMEOUTS_PER_WINDOW} columns of this window"
                        ),
                        plugin,
                    });
                    return outcome;
                }
                let column = |batch: &Batch| {
                    batch
                        .columns
                        .iter()
                        .find(|c| c.name == test.feature.name)
                        .map(|c| c.data.clone())
                };
                let current = column(batch);
                let reference = column(reference);
                let outcome = run_test(
                    test,
                    budget,
                    reference,
                    current.as_ref(),
                    quarantine.get(&test.plugin_ref.plugin).copied(),
                );
                if !keep {
                    test.session = None;
                }
                if outcome
                    .failure
                    .as_ref()
                    .is_some_and(|f| f.kind == "timeout")
                {
                    let name = test.plugin_ref.plugin.as_str();
                    *timeouts
                        .lock()
                        .expect("timeouts lock")
                        .entry(name)
                        .or_insert(0) += 1;
                }
                outcome
            })
            .collect();
        if self.cancelled() {
            return None;
        }
        let mut per_plugin: BTreeMap<&str, Option<String>> = BTreeMap::new();
        for (test, column) in self.tests.iter().zip(&columns) {
            let entry = per_plugin
                .entry(test.plugin_ref.plugin.as_str())
                .or_default();
            if let Some(failure) = &column.failure
                && failure.blames_plugin()
            {
                *entry = Some(failure.message.clone());
            }
        }
        let mut newly_quarantined = Vec::new();
        for (plugin, failure) in per_plugin {
            if quarantine.contains_key(plugin) {
                continue;
            }
            if carried.count(plugin, failure, now_ms) {
                newly_quarantined.push(plugin.to_string());
            }
        }
        Some((columns, newly_quarantined))
    }
}

/// A column whose test was not run (yet).
fn not_run(test: &ColumnTest) -> ColumnResult {
    ColumnResult {
        name: test.feature.name.clone(),
        kind: test.feature.kind,
        test: test.plugin.info().name.clone(),
        plugin: test.plugin_ref.plugin.clone(),
        statistic: None,
        p_value: None,
        threshold: None,
        drifted: None,
        missing: 0,
        failure: None,
        duration_ms: 0.0,
    }
}

fn run_test(
    test: &mut ColumnTest,
    budget: &Budget,
    reference: Option<vigil_runtime::ColumnData>,
    current: Option<&vigil_runtime::ColumnData>,
    quarantined_until: Option<i64>,
) -> ColumnResult {
    let started = Instant::now();
    let mut outcome = not_run(test);
    if let Some(until) = quarantined_until {
        outcome.failure = Some(Failure::quarantined(&test.plugin_ref.plugin, until));
        return outcome;
    }
    let (Some(reference), Some(current)) = (reference, current) else {
        outcome.failure = Some(Failure {
            plugin: String::new(),
            kind: "missing_column".into(),
            message: format!("the preprocessors left no column `{}`", outcome.name),
        });
        return outcome;
    };
    outcome.missing = match current {
        vigil_runtime::ColumnData::Numeric(v) => v.iter().filter(|x| x.is_nan()).count(),
        vigil_runtime::ColumnData::Categorical(c) => {
            c.codes.iter().filter(|&&x| x == MISSING_CODE).count()
        }
    };
    let result = (|| {
        if test.session.is_none() {
            test.session = Some(test.plugin.drift_test(budget, &reference, &test.config)?);
        }
        test.session
            .as_mut()
            .expect("session was just built")
            .evaluate(current)
    })();
    match result {
        Ok(r) => {
            outcome.statistic = Some(r.statistic);
            outcome.p_value = r.p_value;
            outcome.threshold = Some(r.threshold);
            outcome.drifted = Some(r.drifted);
        }
        Err(error) => {
            // A session that failed may be broken: build a fresh one next time.
            test.session = None;
            outcome.failure = Some(Failure::from_runtime(&test.plugin_ref.plugin, &error));
        }
    }
    outcome.duration_ms = started.elapsed().as_secs_f64() * 1e3;
    outcome
}
