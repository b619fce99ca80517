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
//! - a policy that fails yields no action.
//!
//! A plugin that fails `QUARANTINE_AFTER` windows in a row (see `carried.rs`) is not called
//! again until a backoff (1 s doubling to 10 min) has passed.
//!
//! Every plugin instance of a monitor is created against the monitor's [`Budget`], reserved
//! for [`instances_needed`] instances, so no monitor can take another's capacity.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use vigil_runtime::{
    Batch, Budget, ColumnResult as PolicyColumn, Context, DetectorSession, DriftSession, History,
    Plugin, PreprocessorSession,
};
use vigil_store::{ColumnData, MISSING_CODE};

use super::carried::Carried;
use super::evaluation::{
    Action, ColumnResult, Decision, DetectorResult, Failure, MetricValue, Status,
};
use super::spec::{FeatureSpec, MonitorSpec, PluginRef};
use super::window::{Window, feature_batch, quality_metrics, reference_digest};
use crate::performance;

/// Columns of one window a drift test may time out on before its other columns are skipped.
const TIMEOUTS_PER_WINDOW: u32 = 2;

struct ColumnTest {
    feature: FeatureSpec,
    plugin_ref: PluginRef,
    config: String,
    plugin: Arc<Plugin>,
    session: Option<DriftSession>,
}

/// The preprocessors fitted on the reference, and the reference they made: what each drift
/// test is built from.
struct Fitted {
    preprocessors: Vec<PreprocessorSession>,
    reference: Batch,
}

struct DetectorPlan {
    column: String,
    plugin_ref: PluginRef,
    config: String,
    plugin: Arc<Plugin>,
}

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
    /// The reference's features as the spec types them, before any preprocessor.
    reference: Batch,
    preprocessors: Vec<(PluginRef, Arc<Plugin>)>,
    /// `None` until the preprocessors are fitted, and again after one of them failed.
    fitted: Option<Fitted>,
    tests: Vec<ColumnTest>,
    detectors: Vec<DetectorPlan>,
    policy: (PluginRef, Arc<Plugin>),
    budget: Budget,
    /// Whether drift tests stay built between windows (see [`Prepared::one_off`]).
    keep_tests: bool,
    /// Set when the daemon stops: the window in flight is abandoned between plugin calls.
    cancel: Arc<AtomicBool>,
}

/// The plugin instances a monitor holds at once: one per preprocessor and per tested feature
/// (kept between windows), and one for the detector or policy running.
pub fn instances_needed(spec: &MonitorSpec) -> u32 {
    let tested = spec
        .features
        .iter()
        .filter(|feature| spec.test_for(feature).is_some())
        .count();
    (spec.pipeline.preprocessors.len() + tested + 1) as u32
}

/// The plugins a spec names, loaded, by `name@version`.
pub type Plugins = HashMap<String, Arc<Plugin>>;

fn config_text(plugin: &PluginRef) -> String {
    plugin.config.to_string()
}

fn lookup(plugins: &Plugins, plugin: &PluginRef) -> Result<Arc<Plugin>, String> {
    plugins
        .get(&plugin.plugin)
        .cloned()
        .ok_or_else(|| format!("plugin {} is not loaded", plugin.plugin))
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
        budget: Budget,
    ) -> Result<Prepared, String> {
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
        let policy_ref = spec
            .policy
            .clone()
            .unwrap_or_else(|| PluginRef::named("policy-threshold"));
        let policy = lookup(plugins, &policy_ref)?;
        let reference = feature_batch(&spec, reference_window.records);
        let fitted = preprocessors.is_empty().then(|| Fitted {
            preprocessors: Vec::new(),
            reference: reference.clone(),
        });
        Ok(Prepared {
            revision,
            reference_metrics: quality_metrics(reference_window),
            reference_rows: reference_window.records.len(),
            reference_digest: reference_digest(reference_window),
            reference,
            spec,
            preprocessors,
            fitted,
            tests,
            detectors,
            policy: (policy_ref, policy),
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
        let outcome = match self.preprocess(window, carried, now_ms) {
            _ if self.cancelled() => None,
            Ok(batch) => self.evaluate_batch(&batch, window, carried, history, now_ms),
            Err((failure, newly_quarantined)) => Some(Findings::failed(failure, newly_quarantined)),
        };
        let dropped = self.budget.take_dropped();
        outcome.map(|outcome| Findings {
            output_dropped_bytes: dropped,
            ..outcome
        })
    }

    /// The window's features through the preprocessors, fitting them first if needed.
    /// On failure: the failure, and the plugins it put in quarantine.
    fn preprocess(
        &mut self,
        window: &Window<'_>,
        carried: &mut Carried,
        now_ms: i64,
    ) -> Result<Batch, (Failure, Vec<String>)> {
        let batch = feature_batch(&self.spec, window.records);
        if self.preprocessors.is_empty() {
            return Ok(batch);
        }
        for (plugin_ref, _) in &self.preprocessors {
            if let Some(until) = carried.quarantined(&plugin_ref.plugin, now_ms) {
                return Err((Failure::quarantined(&plugin_ref.plugin, until), Vec::new()));
            }
        }
        let fail = |carried: &mut Carried, plugin_ref: &PluginRef, error: vigil_runtime::Error| {
            let failure = Failure::from_runtime(&plugin_ref.plugin, &error);
            let quarantined = failure.blames_plugin()
                && carried.count(&plugin_ref.plugin, Some(failure.message.clone()), now_ms);
            let newly = if quarantined {
                vec![plugin_ref.plugin.clone()]
            } else {
                Vec::new()
            };
            (failure, newly)
        };
        if self.fitted.is_none() {
            let mut reference = self.reference.clone();
            let mut sessions = Vec::new();
            for (plugin_ref, plugin) in &self.preprocessors {
                let fitted = plugin
                    .preprocessor(&self.budget, &reference, &config_text(plugin_ref))
                    .and_then(|mut session| {
                        let out = session.transform(&reference)?;
                        Ok((session, out))
                    });
                match fitted {
                    Ok((session, out)) => {
                        sessions.push(session);
                        reference = out;
                    }
                    Err(error) => return Err(fail(carried, plugin_ref, error)),
                }
            }
            // The drift tests are rebuilt from the new reference.
            for test in &mut self.tests {
                test.session = None;
            }
            self.fitted = Some(Fitted {
                preprocessors: sessions,
                reference,
            });
        }
        let fitted = self.fitted.as_mut().expect("fitted above");
        let mut batch = batch;
        for ((plugin_ref, _), session) in self.preprocessors.iter().zip(&mut fitted.preprocessors) {
            match session.transform(&batch) {
                Ok(out) => batch = out,
                Err(error) => {
                    // A session that failed may be broken: fit afresh next window.
                    self.fitted = None;
                    return Err(fail(carried, plugin_ref, error));
                }
            }
        }
        for (plugin_ref, _) in &self.preprocessors {
            carried.count(&plugin_ref.plugin, None, now_ms);
        }
        Ok(batch)
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
        // Drift tests, columns in parallel.
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

        let detectors = self.run_detectors(window, carried, now_ms, &mut newly_quarantined);
        if self.cancelled() {
            return None;
        }
        let metrics: Vec<vigil_runtime::Metric> = quality_metrics(window)
            .iter()
            .map(|m| vigil_runtime::Metric {
                name: m.name.to_string(),
                value: m.value,
                reference: self.reference_value(m.name),
            })
            .collect();

        // The policy.
        let context = Context {
            columns: columns
                .iter()
                .map(|c| PolicyColumn {
                    column: c.name.clone(),
                    test: c.test.clone(),
                    statistic: c.statistic.unwrap_or(f64::NAN),
                    p_value: c.p_value,
                    drifted: c.drifted.unwrap_or(false),
                    failure: c.failure.as_ref().map(|f| f.message.clone()),
                })
                .collect(),
            metrics: metrics.clone(),
            history: history.clone(),
            now: (now_ms / 1000).max(0) as u64,
        };
        let (policy_ref, policy) = &self.policy;
        let decision = match carried.quarantined(&policy_ref.plugin, now_ms) {
            Some(until) => Err(Failure::quarantined(&policy_ref.plugin, until)),
            None => policy
                .decide(&self.budget, &context, &config_text(policy_ref))
                .map_err(|e| Failure::from_runtime(&policy_ref.plugin, &e)),
        };
        if decision.as_ref().err().is_none_or(Failure::blames_plugin)
            && carried.count(
                &policy_ref.plugin,
                decision.as_ref().err().map(|f| f.message.clone()),
                now_ms,
            )
        {
            newly_quarantined.push(policy_ref.plugin.clone());
        }
        Some(Findings {
            preprocessing: None,
            columns,
            detectors,
            metrics: metrics
                .into_iter()
                .map(|m| MetricValue {
                    value: Some(m.value).filter(|v| v.is_finite()),
                    reference: m.reference.filter(|v| v.is_finite()),
                    name: m.name,
                })
                .collect(),
            decision: decision.map(|d| Decision {
                action: d.action.into(),
                reason: d.reason,
            }),
            newly_quarantined,
            output_dropped_bytes: 0,
        })
    }

    /// Feeds each detector the window; a detector whose failure starts a quarantine is added
    /// to `newly_quarantined`, so that it raises its alert like any other plugin.
    fn run_detectors(
        &self,
        window: &Window<'_>,
        carried: &mut Carried,
        now_ms: i64,
        newly_quarantined: &mut Vec<String>,
    ) -> Vec<DetectorResult> {
        let mut out = Vec::new();
        for plan in &self.detectors {
            if self.cancelled() {
                break;
            }
            let key = format!("{}/{}", plan.column, plan.plugin_ref.plugin);
            let before = carried.detectors.get(&key).cloned();
            let seen_before = carried.detector_seen.get(&key).copied().unwrap_or(0);
            let mut outcome = DetectorResult {
                column: plan.column.clone(),
                plugin: plan.plugin_ref.plugin.clone(),
                detections: Vec::new(),
                snapshot_before: before.clone(),
                seen_before,
                failure: None,
            };
            let source = if plan.column == "prediction" {
                window.records.prediction.as_ref()
            } else {
                window.records.feature(&plan.column).map(|c| &c.data)
            };
            let rows: Vec<(usize, f64)> = match source {
                Some(ColumnData::Numeric(values)) => values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, &v)| (i, v))
                    .collect(),
                _ => Vec::new(),
            };
            if let Some(until) = carried.quarantined(&plan.plugin_ref.plugin, now_ms) {
                outcome.failure = Some(Failure::quarantined(&plan.plugin_ref.plugin, until));
                out.push(outcome);
                continue;
            }
            let result = (|| {
                let snapshot = before
                    .as_deref()
                    .map(hex::decode)
                    .transpose()
                    .map_err(|e| vigil_runtime::Error::Host(format!("stored snapshot: {e}")))?;
                let mut session: DetectorSession =
                    plan.plugin
                        .detector(&self.budget, &plan.config, snapshot.as_deref())?;
                let values: Vec<f64> = rows.iter().map(|&(_, v)| v).collect();
                let positions = session.update(&values)?;
                let after = session.snapshot()?;
                Ok::<_, vigil_runtime::Error>((positions, after))
            })();
            match result {
                Ok((positions, after)) => {
                    // Positions count every value the detector was ever fed.
                    outcome.detections = positions
                        .iter()
                        .filter_map(|&p| p.checked_sub(seen_before))
                        .filter_map(|i| rows.get(i as usize))
                        .map(|&(row, _)| window.start + row as i64)
                        .collect();
                    carried
                        .detector_seen
                        .insert(key.clone(), seen_before + rows.len() as u64);
                    carried.detectors.insert(key, hex::encode(after));
                    carried.count(&plan.plugin_ref.plugin, None, now_ms);
                }
                Err(error) => {
                    let failure = Failure::from_runtime(&plan.plugin_ref.plugin, &error);
                    if failure.blames_plugin()
                        && carried.count(
                            &plan.plugin_ref.plugin,
                            Some(failure.message.clone()),
                            now_ms,
                        )
                    {
                        newly_quarantined.push(plan.plugin_ref.plugin.clone());
                    }
                    outcome.failure = Some(failure);
                }
            }
            out.push(outcome);
        }
        out
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

/// What the pipeline found in a window, before it is recorded.
pub struct Findings {
    /// Set when a preprocessor failed: nothing else ran.
    pub preprocessing: Option<Failure>,
    pub columns: Vec<ColumnResult>,
    pub detectors: Vec<DetectorResult>,
    /// Each quality metric of the window, with the reference's value when it has one.
    pub metrics: Vec<MetricValue>,
    pub decision: Result<Decision, Failure>,
    /// Plugins whose failure in this window started a quarantine.
    pub newly_quarantined: Vec<String>,
    /// Bytes of log output the monitor's plugins wrote past their allowance (dropped).
    pub output_dropped_bytes: u64,
}

impl Findings {
    /// A window whose preprocessing failed: no column tested, no policy asked.
    fn failed(failure: Failure, newly_quarantined: Vec<String>) -> Findings {
        Findings {
            decision: Err(Failure {
                plugin: String::new(),
                kind: "not_run".into(),
                message: "the policy was not asked: preprocessing failed".into(),
            }),
            preprocessing: Some(failure),
            columns: Vec::new(),
            detectors: Vec::new(),
            metrics: Vec::new(),
            newly_quarantined,
            output_dropped_bytes: 0,
        }
    }

    pub fn action(&self) -> Action {
        self.decision.as_ref().map_or(Action::None, |d| d.action)
    }

    /// The decision and why, or why no action was taken.
    pub fn decision(&self) -> Decision {
        let reason = if let Some(failure) = &self.preprocessing {
            format!("preprocessing failed, the window was not tested: {failure}")
        } else {
            match &self.decision {
                Ok(decision) => decision.reason.clone(),
                Err(failure) => format!("policy failed, no action taken: {failure}"),
            }
        };
        Decision {
            action: self.action(),
            reason,
        }
    }

    pub fn status(&self) -> Status {
        if self.preprocessing.is_some() {
            Status::Failed
        } else if self.decision.is_err() {
            Status::PolicyFailed
        } else if self.columns.iter().any(|c| c.failure.is_some()) {
            Status::Partial
        } else {
            Status::Ok
        }
    }

    pub fn drifted_columns(&self) -> usize {
        self.columns
            .iter()
            .filter(|c| c.drifted == Some(true))
            .count()
    }

    pub fn failed_columns(&self) -> usize {
        self.columns.iter().filter(|c| c.failure.is_some()).count()
    }
}
