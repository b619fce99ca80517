//! One monitor's pipeline: preprocessors fitted on the reference, a drift test per feature
//! (built from the reference once and kept), streaming detectors, quality metrics from labels,
//! and the policy. Everything here is blocking: the scheduler runs it off the async threads.
//!
//! Failure semantics (docs/reliability.md, P1); every failure is stored with the window's
//! evaluation:
//! - a preprocessor that fails (fitting or transforming) fails the whole window: no column is
//!   tested, the policy is not asked, and the evaluation is stored as `failed`. The records
//!   stay and `vigil replay` can re-run the window. Retrying the same window instead would
//!   stall the monitor behind a window that fails every time;
//! - a drift test that fails marks its column failed, never "no drift";
//! - a detector that fails keeps its previous state;
//! - a policy that fails yields no action, and keeps the state it kept before.
//!
//! A plugin that fails `QUARANTINE_AFTER` windows in a row (see `carried.rs`) is not called
//! again until a backoff (1 s doubling to 10 min) has passed.
//!
//! Every plugin instance of a monitor is created against the monitor's [`Budget`], reserved
//! for [`instances_needed`] instances, so no monitor can take another's capacity.
//!
//! The stages, in the order a window meets them: `preprocess.rs`, `drift.rs` (columns in
//! parallel), `detectors.rs`, `policy.rs`; what they found is a [`Findings`] (`findings.rs`).

mod detectors;
mod drift;
mod findings;
mod multivariate;
mod policy;
mod preprocess;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use vigil_runtime::{Batch, Budget, History, Plugin};

use self::detectors::DetectorPlan;
use self::drift::ColumnTest;
pub use self::findings::Findings;
use self::multivariate::MultivariateTest;
use self::preprocess::Fitted;
use super::carried::Carried;
use super::evaluation::{MetricValue, WindowCalls};
use super::spec::{MonitorSpec, PluginRef};
use super::window::{
    Window, class_probabilities, feature_batch, labelled_as, quality_metrics, reference_digest,
};
use crate::performance;
use crate::performance::estimation::Estimator;
use crate::vocab::Task;

/// A monitor ready to evaluate windows: reference fitted, drift tests built as needed.
pub struct Prepared {
    pub revision: i64,
    pub spec: MonitorSpec,
    pub reference_rows: usize,
    /// sha256 of the reference rows and their labels, so a replay can tell whether the
    /// reference changed.
    pub reference_digest: String,
    /// Quality metrics of the reference rows, from their labels (a frozen range of the stream
    /// can have them; an uploaded reference has none). The policy sees each window's metric
    /// next to its reference value.
    reference_metrics: Vec<performance::Metric>,
    /// Label-free performance estimation, fitted on the reference, when the spec asks for it
    /// (`estimated_performance`) and the model is a classifier.
    estimator: Option<(String, Estimator)>,
    /// The reference's features as the spec types them, before any preprocessor.
    reference: Batch,
    preprocessors: Vec<(PluginRef, Arc<Plugin>)>,
    /// `None` until the preprocessors are fitted, and again after one of them failed.
    fitted: Option<Fitted>,
    tests: Vec<ColumnTest>,
    multivariate: Vec<MultivariateTest>,
    detectors: Vec<DetectorPlan>,
    policy: (PluginRef, Arc<Plugin>),
    /// The limits each plugin runs under, by its place in the spec.
    pub plugin_limits: std::collections::BTreeMap<String, super::evaluation::RanUnder>,
    /// The calls into each plugin during the window being evaluated.
    calls: Arc<WindowCalls>,
    budget: Budget,
    /// Whether drift tests stay built between windows (see [`Prepared::one_off`]).
    keep_tests: bool,
    /// Set when the daemon stops: the window in flight is abandoned between plugin calls.
    cancel: Arc<AtomicBool>,
}

/// The plugin instances a monitor holds at once: one per preprocessor, per tested feature and
/// per multivariate test (kept between windows), and one for the detector or policy running.
pub fn instances_needed(spec: &MonitorSpec) -> u32 {
    let tested = spec
        .features
        .iter()
        .filter(|feature| spec.test_for(feature).is_some())
        .count();
    (spec.pipeline.preprocessors.len() + tested + spec.pipeline.multivariate.len() + 1) as u32
}

/// The plugins a spec names, loaded, by `name@version`.
pub type Plugins = HashMap<String, Arc<Plugin>>;

fn config_text(plugin: &PluginRef) -> String {
    plugin.config.to_string()
}

/// How a monitor's plugins run: the daemon's default limits and maxima, which a plugin
/// reference's own `limits` adjust, and where their calls are measured (monitor and metrics;
/// none for a replay).
pub struct PluginSetup {
    pub limits: (vigil_runtime::Limits, vigil_runtime::Limits),
    pub measured_as: Option<(String, Arc<crate::metrics::Metrics>)>,
}

impl PluginSetup {
    /// The loaded plugin a reference names, under its limits, its calls counted in `calls`
    /// (and in the metrics, when measured).
    fn lookup(
        &self,
        plugins: &Plugins,
        plugin: &PluginRef,
        calls: &Arc<WindowCalls>,
    ) -> Result<Arc<Plugin>, String> {
        let loaded = plugins
            .get(&plugin.plugin)
            .ok_or_else(|| format!("plugin {} is not loaded", plugin.plugin))?;
        let (defaults, maxima) = self.limits;
        let limits = plugin.effective_limits(defaults, maxima)?;
        let limited = if limits == loaded.limits() {
            loaded.clone()
        } else {
            loaded.with_limits(limits).map_err(|e| e.to_string())?
        };
        let (monitor, metrics) = match &self.measured_as {
            Some((monitor, metrics)) => (monitor.clone(), Some(metrics.clone())),
            None => (String::new(), None),
        };
        Ok(limited.observed_by(Arc::new(crate::metrics::PluginCalls {
            labels: crate::metrics::PluginLabels {
                monitor,
                plugin: plugin.plugin.clone(),
            },
            metrics,
            window: calls.clone(),
        })))
    }
}

impl Prepared {
    /// The reference's value of a quality metric, when its rows have labels.
    pub fn reference_value(&self, metric: &str) -> Option<f64> {
        self.reference_metrics
            .iter()
            .find(|m| m.name == metric)
            .map(|m| m.value)
    }

    /// Readies the pipeline: its plugins looked up and the reference's quality metrics
    /// computed. No plugin runs here; the preprocessors are fitted and the drift tests built by
    /// the first window, so that their failures are stored with it.
    pub fn new(
        revision: i64,
        spec: MonitorSpec,
        reference_window: &Window<'_>,
        plugins: &Plugins,
        setup: &PluginSetup,
        budget: Budget,
    ) -> Result<Prepared, String> {
        let calls = Arc::new(WindowCalls::default());
        let lookup = |plugins: &Plugins, plugin: &PluginRef| setup.lookup(plugins, plugin, &calls);
        let (defaults, maxima) = setup.limits;
        let plugin_limits = spec
            .plugin_refs()
            .into_iter()
            .map(|(field, plugin)| {
                let limits = plugin.effective_limits(defaults, maxima)?;
                Ok((
                    field,
                    super::evaluation::RanUnder::new(&plugin.plugin, limits),
                ))
            })
            .collect::<Result<_, String>>()?;
        let preprocessors = spec
            .pipeline
            .preprocessors
            .iter()
            .map(|r| Ok((r.clone(), lookup(plugins, r)?)))
            .collect::<Result<Vec<_>, String>>()?;
        let mut tests = Vec::new();
        for feature in &spec.features {
            let Some(plugin_ref) = spec.test_for(feature) else {
                continue;
            };
            tests.push(ColumnTest {
                feature: feature.clone(),
                plugin_ref: plugin_ref.clone(),
                config: config_text(plugin_ref),
                plugin: lookup(plugins, plugin_ref)?,
                session: None,
            });
        }
        let multivariate = spec
            .pipeline
            .multivariate
            .iter()
            .map(|m| {
                Ok(MultivariateTest {
                    columns: spec.multivariate_columns(m),
                    plugin_ref: m.plugin.clone(),
                    config: config_text(&m.plugin),
                    plugin: lookup(plugins, &m.plugin)?,
                    session: None,
                })
            })
            .collect::<Result<_, String>>()?;
        let detectors = spec
            .pipeline
            .detectors
            .iter()
            .map(|d| {
                Ok(DetectorPlan {
                    column: d.column.clone(),
                    plugin_ref: d.plugin.clone(),
                    config: config_text(&d.plugin),
                    plugin: lookup(plugins, &d.plugin)?,
                })
            })
            .collect::<Result<_, String>>()?;
        let policy_ref = spec.policy_ref();
        let policy = lookup(plugins, &policy_ref)?;
        let reference = feature_batch(&spec, reference_window.records);
        let fitted = preprocessors.is_empty().then(|| Fitted {
            preprocessors: Vec::new(),
            reference: reference.clone(),
        });
        let estimator = spec
            .estimated_performance
            .as_ref()
            .filter(|_| reference_window.task == Task::Classification)
            .map(|estimation| {
                let class = &estimation.positive_class;
                let scores = class_probabilities(reference_window, class)
                    .unwrap_or_else(|| vec![f64::NAN; reference_window.records.len()]);
                let labels = labelled_as(reference_window, class);
                (
                    class.clone(),
                    Estimator::fit(&scores, &labels, estimation.threshold),
                )
            });
        Ok(Prepared {
            revision,
            estimator,
            reference_metrics: quality_metrics(reference_window),
            reference_rows: reference_window.records.len(),
            reference_digest: reference_digest(reference_window),
            reference,
            spec,
            preprocessors,
            fitted,
            tests,
            multivariate,
            detectors,
            policy: (policy_ref, policy),
            plugin_limits,
            calls,
            budget,
            keep_tests: true,
            cancel: Arc::default(),
        })
    }

    /// Abandons the window in flight, between two plugin calls, once `cancel` is set (see
    /// [`Prepared::evaluate`]): a daemon that stops waits for one call at most, not a window.
    pub fn cancellable(mut self, cancel: Arc<AtomicBool>) -> Prepared {
        self.cancel = cancel;
        self
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// For a single evaluation (a replay): each drift test is dropped once its column is done,
    /// so the evaluation holds a few instances at a time however many columns it has.
    pub fn one_off(mut self) -> Prepared {
        self.keep_tests = false;
        self
    }

    /// Evaluates one window. Plugin failures are part of the outcome, never an error: a
    /// failed preprocessor gives an outcome whose status is `failed`. `None` when the
    /// evaluation was cancelled (see [`Prepared::cancellable`]): nothing of it must be kept,
    /// `carried` included, and the window is evaluated again later.
    pub fn evaluate(
        &mut self,
        window: &Window<'_>,
        carried: &mut Carried,
        history: &History,
        now_ms: i64,
    ) -> Option<Findings> {
        self.budget.start_window();
        self.calls.take();
        let outcome = match self.preprocess(window, carried, now_ms) {
            _ if self.cancelled() => None,
            Ok(batch) => self.evaluate_batch(&batch, window, carried, history, now_ms),
            Err((failure, newly_quarantined)) => Some(Findings::failed(failure, newly_quarantined)),
        };
        let dropped = self.budget.take_dropped();
        let calls = self.calls.take();
        outcome.map(|outcome| Findings {
            output_dropped_bytes: dropped,
            plugin_calls: calls,
            ..outcome
        })
    }

    /// Drift tests, detectors, metrics and the policy on a preprocessed window; `None` when
    /// cancelled on the way.
    fn evaluate_batch(
        &mut self,
        batch: &Batch,
        window: &Window<'_>,
        carried: &mut Carried,
        history: &History,
        now_ms: i64,
    ) -> Option<Findings> {
        let (columns, mut newly_quarantined) = self.test_columns(batch, carried, now_ms)?;
        let multivariate = self.test_multivariate(batch, carried, now_ms, &mut newly_quarantined);
        if self.cancelled() {
            return None;
        }
        let detectors = self.run_detectors(window, carried, now_ms, &mut newly_quarantined);
        if self.cancelled() {
            return None;
        }
        let mut metrics: Vec<vigil_runtime::Metric> = quality_metrics(window)
            .iter()
            .map(|m| vigil_runtime::Metric {
                name: m.name.to_string(),
                value: m.value,
                reference: self.reference_value(m.name),
            })
            .collect();
        if let Some((class, estimator)) = &self.estimator
            && let Some(scores) = class_probabilities(window, class)
        {
            metrics.extend(estimator.estimate(&scores).into_iter().map(|m| {
                vigil_runtime::Metric {
                    name: m.name.to_string(),
                    value: m.value,
                    reference: estimator.reference_value(m.name),
                }
            }));
        }
        let policy_state = carried.policy_state(&self.policy.0);
        let decision = self.decide(
            &columns,
            &multivariate,
            &metrics,
            history,
            policy_state.clone(),
            carried,
            now_ms,
            &mut newly_quarantined,
        );
        Some(Findings {
            preprocessing: None,
            columns,
            multivariate,
            detectors,
            metrics: metrics
                .into_iter()
                .map(|m| MetricValue {
                    value: Some(m.value).filter(|v| v.is_finite()),
                    reference: m.reference.filter(|v| v.is_finite()),
                    name: m.name,
                })
                .collect(),
            decision,
            policy_state,
            newly_quarantined,
            output_dropped_bytes: 0,
            plugin_calls: Default::default(),
        })
    }
}
