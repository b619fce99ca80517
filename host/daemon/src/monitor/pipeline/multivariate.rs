//! The multivariate stage: each `pipeline.multivariate` test over its numeric features of the
//! preprocessed window, its session built from the fitted reference once and kept between
//! windows (docs/monitors.md, "multivariate").

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use vigil_runtime::{Batch, Budget, Column, MultivariateSession, Plugin};

use super::Prepared;
use crate::monitor::carried::Carried;
use crate::monitor::evaluation::{Failure, MultivariateResult};
use crate::monitor::spec::PluginRef;
use crate::vocab::multivariate_name;

pub(super) struct MultivariateTest {
    /// The features it compares, in the spec's order.
    pub(super) columns: Vec<String>,
    pub(super) plugin_ref: PluginRef,
    pub(super) config: String,
    pub(super) plugin: Arc<Plugin>,
    pub(super) session: Option<MultivariateSession>,
}

impl Prepared {
    /// Runs every multivariate test on a preprocessed window and counts each plugin's
    /// outcome; plugins whose failure started a quarantine are added to `newly_quarantined`.
    pub(super) fn test_multivariate(
        &mut self,
        batch: &Batch,
        carried: &mut Carried,
        now_ms: i64,
        newly_quarantined: &mut Vec<String>,
    ) -> Vec<MultivariateResult> {
        let reference = &self.fitted.as_ref().expect("preprocessed").reference;
        let mut results = Vec::new();
        let mut failures: HashMap<String, Option<String>> = HashMap::new();
        for test in &mut self.multivariate {
            if self.cancel.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let quarantined = carried.quarantined(&test.plugin_ref.plugin, now_ms);
            let result = run_test(test, &self.budget, reference, batch, quarantined);
            if !self.keep_tests {
                test.session = None;
            }
            if quarantined.is_none() {
                let entry = failures.entry(test.plugin_ref.plugin.clone()).or_default();
                if let Some(failure) = &result.failure
                    && failure.blames_plugin()
                {
                    *entry = Some(failure.message.clone());
                }
            }
            results.push(result);
        }
        let mut plugins: Vec<_> = failures.into_iter().collect();
        plugins.sort();
        for (plugin, failure) in plugins {
            if carried.count(&plugin, failure, now_ms) {
                newly_quarantined.push(plugin);
            }
        }
        results
    }
}

/// `batch`'s columns `names`, in that order; `None` when one is missing.
fn pick(batch: &Batch, names: &[String]) -> Option<Batch> {
    let columns = names
        .iter()
        .map(|name| {
            batch
                .columns
                .iter()
                .find(|c| &c.name == name)
                .map(|c| Column {
                    name: name.clone(),
                    data: c.data.clone(),
                })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Batch { columns })
}

fn run_test(
    test: &mut MultivariateTest,
    budget: &Budget,
    reference: &Batch,
    window: &Batch,
    quarantined_until: Option<i64>,
) -> MultivariateResult {
    let started = Instant::now();
    let info = test.plugin.info();
    let mut outcome = MultivariateResult {
        name: multivariate_name(&info.name, &test.columns),
        columns: test.columns.clone(),
        test: info.name.clone(),
        plugin: test.plugin_ref.plugin.clone(),
        statistic: None,
        p_value: None,
        threshold: None,
        drifted: None,
        failure: None,
        duration_ms: 0.0,
    };
    if let Some(until) = quarantined_until {
        outcome.failure = Some(Failure::quarantined(&test.plugin_ref.plugin, until));
        return outcome;
    }
    let (Some(reference), Some(current)) =
        (pick(reference, &test.columns), pick(window, &test.columns))
    else {
        outcome.failure = Some(Failure {
            plugin: String::new(),
            kind: "missing_column".into(),
            message: format!(
                "the preprocessors left not every column of `{}`",
                outcome.name
            ),
        });
        return outcome;
    };
    let result = (|| {
        if test.session.is_none() {
            test.session = Some(
                test.plugin
                    .multivariate_test(budget, &reference, &test.config)?,
            );
        }
        test.session
            .as_mut()
            .expect("session was just built")
            .evaluate(&current)
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
