//! One monitor's pipeline: preprocessors fitted on the reference, a drift test per feature
//! (built from the reference once and kept), streaming detectors, quality metrics from labels,
//! and the policy. Everything here is blocking: the scheduler runs it off the async threads.
//!
//! Failure semantics (RELIABILITY P1); every failure is stored with the window's evaluation:
//! - a preprocessor that fails (fitting or transforming) fails the whole window: no column is
//!   tested, the policy is not asked, and the evaluation is stored as `failed`. The records
//!   stay and `vigil replay` can re-run the window. Retrying the same window instead would
//!   stall the monitor behind a window that fails every time;
//! - a drift test that fails marks its column failed, never "no drift";
//! - a detector that fails keeps its previous state;
//! - a policy that fails yields no action.
//!
//! A plugin that fails [`QUARANTINE_AFTER`] windows in a row is not called again until a
//! backoff (1 s doubling to 10 min) has passed.
//!
//! Every plugin instance of a monitor is created against the monitor's [`Budget`], reserved
//! for [`instances_needed`] instances, so no monitor can take another's capacity.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use vigil_runtime::{
    Action, Batch, Budget, CategoricalColumn, ColumnResult, Context, DetectorSession, DriftSession,
    History, Plugin, PreprocessorSession,
};
use vigil_store::{ColumnData, LabelValue, MISSING_CODE, RecordBatch};

use super::spec::{FeatureKind, FeatureSpec, MonitorSpec, PluginRef};
use crate::performance;
use crate::vocab::number_text;

/// Consecutive failing windows after which a plugin is quarantined.
pub const QUARANTINE_AFTER: u32 = 5;
/// Columns of one window a drift test may time out on before its other columns are skipped.
const TIMEOUTS_PER_WINDOW: u32 = 2;
const BACKOFF_START_MS: i64 = 1_000;
const BACKOFF_CAP_MS: i64 = 600_000;

/// What a monitor carries from one window to the next (stored as JSON with its position).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Carried {
    /// Detector snapshots (hex) by `column/plugin`.
    #[serde(default)]
    pub detectors: BTreeMap<String, String>,
    /// Values each detector has been fed so far: its detections are positions in that stream.
    #[serde(default)]
    pub detector_seen: BTreeMap<String, u64>,
    /// Failure counts by plugin reference (`name@version`).
    #[serde(default)]
    pub failures: BTreeMap<String, Failures>,
    /// Alert causes that fired and have not cleared, with when they last fired (Unix ms).
    #[serde(default)]
    pub open_alerts: BTreeMap<String, i64>,
    /// When each cause last fired (Unix ms), kept after it clears: its cooldown runs from here.
    #[serde(default)]
    pub alerts_fired: BTreeMap<String, i64>,
    /// Windows in a row without its cause, for each open alert; it clears at the spec's
    /// `clear_after_windows`.
    #[serde(default)]
    pub clean_windows: BTreeMap<String, u32>,
    #[serde(default)]
    pub last_alert: Option<i64>,
    #[serde(default)]
    pub last_retrain: Option<i64>,
    #[serde(default)]
    pub windows_since_retrain: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Failures {
    pub consecutive: u32,
    #[serde(default)]
    pub quarantined_until: Option<i64>,
    #[serde(default)]
    pub last_error: Option<String>,
}

impl Carried {
    pub fn quarantined(&self, plugin: &str, now_ms: i64) -> Option<i64> {
        self.failures
            .get(plugin)
            .and_then(|f| f.quarantined_until)
            .filter(|&until| until > now_ms)
    }

    /// Counts one window's outcome for a plugin; true when this failure starts a quarantine.
    pub fn count(&mut self, plugin: &str, failure: Option<String>, now_ms: i64) -> bool {
        match failure {
            None => {
                self.failures.remove(plugin);
                false
            }
            Some(error) => {
                let entry = self.failures.entry(plugin.to_string()).or_default();
                entry.consecutive += 1;
                entry.last_error = Some(error);
                if entry.consecutive >= QUARANTINE_AFTER {
                    let doublings = (entry.consecutive - QUARANTINE_AFTER).min(20);
                    let backoff = (BACKOFF_START_MS << doublings).min(BACKOFF_CAP_MS);
                    entry.quarantined_until = Some(now_ms + backoff);
                    entry.consecutive == QUARANTINE_AFTER
                } else {
                    false
                }
            }
        }
    }
}

/// A plugin that could not run, and why.
#[derive(Debug, Clone)]
pub struct PluginFailure {
    pub plugin: String,
    pub kind: String,
    pub message: String,
}

impl PluginFailure {
    /// Whether the failure counts toward the plugin's quarantine: not when the host failed
    /// (a full instance pool, say) or the plugin was not run because it is quarantined.
    pub fn blames_plugin(&self) -> bool {
        !matches!(self.kind.as_str(), "host" | "quarantined")
    }

    fn from_runtime(plugin: &str, error: &vigil_runtime::Error) -> Self {
        PluginFailure {
            plugin: plugin.to_string(),
            kind: error.kind().to_string(),
            message: error.to_string(),
        }
    }

    fn quarantined(plugin: &str, until: i64) -> Self {
        PluginFailure {
            plugin: plugin.to_string(),
            kind: "quarantined".into(),
            message: format!("plugin `{plugin}` is quarantined until {until} (Unix ms)"),
        }
    }
}

impl std::fmt::Display for PluginFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

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

/// The spec's features from a record batch, typed as the spec says.
fn feature_batch(spec: &MonitorSpec, records: &RecordBatch) -> Batch {
    let columns = spec
        .features
        .iter()
        .map(|feature| {
            let data = match records.feature(&feature.name) {
                Some(column) => to_runtime(&column.data, feature.kind),
                None => missing_column(feature.kind, records.len()),
            };
            vigil_runtime::Column {
                name: feature.name.clone(),
                data,
            }
        })
        .collect();
    Batch { columns }
}

fn missing_column(kind: FeatureKind, rows: usize) -> vigil_runtime::ColumnData {
    match kind {
        FeatureKind::Numeric => vigil_runtime::ColumnData::Numeric(vec![f64::NAN; rows]),
        FeatureKind::Categorical => vigil_runtime::ColumnData::Categorical(CategoricalColumn {
            categories: Vec::new(),
            codes: vec![MISSING_CODE; rows],
        }),
    }
}

/// Converts a stored column to the runtime's, as `kind` (text that is not a number becomes
/// missing in a numeric column; numbers become text in a categorical one).
fn to_runtime(data: &ColumnData, kind: FeatureKind) -> vigil_runtime::ColumnData {
    match (data, kind) {
        (ColumnData::Numeric(values), FeatureKind::Numeric) => {
            vigil_runtime::ColumnData::Numeric(values.clone())
        }
        (ColumnData::Categorical { categories, codes }, FeatureKind::Categorical) => {
            vigil_runtime::ColumnData::Categorical(CategoricalColumn {
                categories: categories.clone(),
                codes: codes.clone(),
            })
        }
        (ColumnData::Categorical { categories, codes }, FeatureKind::Numeric) => {
            let parsed: Vec<f64> = categories
                .iter()
                .map(|c| c.parse().unwrap_or(f64::NAN))
                .collect();
            vigil_runtime::ColumnData::Numeric(
                codes
                    .iter()
                    .map(|&c| {
                        if c == MISSING_CODE {
                            f64::NAN
                        } else {
                            parsed[c as usize]
                        }
                    })
                    .collect(),
            )
        }
        (ColumnData::Numeric(_), FeatureKind::Categorical) => {
            let mut text = ColumnData::Categorical {
                categories: Vec::new(),
                codes: Vec::new(),
            };
            text.append(data);
            to_runtime(&text, kind)
        }
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
    ) -> Option<Outcome> {
        self.budget.start_window();
        let outcome = match self.preprocess(window, carried, now_ms) {
            _ if self.cancelled() => None,
            Ok(batch) => self.evaluate_batch(&batch, window, carried, history, now_ms),
            Err((failure, newly_quarantined)) => Some(Outcome::failed(failure, newly_quarantined)),
        };
        let dropped = self.budget.take_dropped();
        outcome.map(|outcome| Outcome {
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
    ) -> Result<Batch, (PluginFailure, Vec<String>)> {
        let batch = feature_batch(&self.spec, window.records);
        if self.preprocessors.is_empty() {
            return Ok(batch);
        }
        for (plugin_ref, _) in &self.preprocessors {
            if let Some(until) = carried.quarantined(&plugin_ref.plugin, now_ms) {
                return Err((
                    PluginFailure::quarantined(&plugin_ref.plugin, until),
                    Vec::new(),
                ));
            }
        }
        let fail = |carried: &mut Carried, plugin_ref: &PluginRef, error: vigil_runtime::Error| {
            let failure = PluginFailure::from_runtime(&plugin_ref.plugin, &error);
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
    ) -> Option<Outcome> {
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
        let columns: Vec<ColumnOutcome> = self
            .tests
            .par_iter_mut()
            .map(|test| {
                if cancel.load(Ordering::Relaxed) {
                    return ColumnOutcome::not_run(test);
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
                    let mut outcome = ColumnOutcome::not_run(test);
                    outcome.failure = Some(PluginFailure {
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
                .map(|c| ColumnResult {
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
            Some(until) => Err(PluginFailure::quarantined(&policy_ref.plugin, until)),
            None => policy
                .decide(&self.budget, &context, &config_text(policy_ref))
                .map_err(|e| PluginFailure::from_runtime(&policy_ref.plugin, &e)),
        };
        if decision
            .as_ref()
            .err()
            .is_none_or(PluginFailure::blames_plugin)
            && carried.count(
                &policy_ref.plugin,
                decision.as_ref().err().map(|f| f.message.clone()),
                now_ms,
            )
        {
            newly_quarantined.push(policy_ref.plugin.clone());
        }
        Some(Outcome {
            preprocessing: None,
            columns,
            detectors,
            metrics,
            decision: decision.map(|d| (d.action, d.reason)),
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
    ) -> Vec<DetectorOutcome> {
        let mut out = Vec::new();
        for plan in &self.detectors {
            if self.cancelled() {
                break;
            }
            let key = format!("{}/{}", plan.column, plan.plugin_ref.plugin);
            let before = carried.detectors.get(&key).cloned();
            let seen_before = carried.detector_seen.get(&key).copied().unwrap_or(0);
            let mut outcome = DetectorOutcome {
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
                outcome.failure = Some(PluginFailure::quarantined(&plan.plugin_ref.plugin, until));
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
                    let failure = PluginFailure::from_runtime(&plan.plugin_ref.plugin, &error);
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

impl ColumnOutcome {
    /// A column whose test was not run (the evaluation is being abandoned).
    fn not_run(test: &ColumnTest) -> ColumnOutcome {
        ColumnOutcome {
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
}

fn run_test(
    test: &mut ColumnTest,
    budget: &Budget,
    reference: Option<vigil_runtime::ColumnData>,
    current: Option<&vigil_runtime::ColumnData>,
    quarantined_until: Option<i64>,
) -> ColumnOutcome {
    let started = Instant::now();
    let mut outcome = ColumnOutcome::not_run(test);
    if let Some(until) = quarantined_until {
        outcome.failure = Some(PluginFailure::quarantined(&test.plugin_ref.plugin, until));
        return outcome;
    }
    let (Some(reference), Some(current)) = (reference, current) else {
        outcome.failure = Some(PluginFailure {
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
            outcome.failure = Some(PluginFailure::from_runtime(&test.plugin_ref.plugin, &error));
        }
    }
    outcome.duration_ms = started.elapsed().as_secs_f64() * 1e3;
    outcome
}

/// The records of one window, with their labels.
pub struct Window<'a> {
    /// Stream offset of the first record.
    pub start: i64,
    pub records: &'a RecordBatch,
    /// (offset, label) for the records that have one.
    pub labels: &'a [(i64, LabelValue)],
    pub task: crate::vocab::Task,
}

/// sha256 of the reference rows and of their labels: either changing changes what a replay
/// computes (the labels give the reference's quality metrics).
fn reference_digest(reference: &Window<'_>) -> String {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    hasher.update(reference.records.encode());
    for (offset, label) in reference.labels {
        hasher.update(offset.to_le_bytes());
        match label {
            LabelValue::Number(n) => {
                hasher.update([0]);
                hasher.update(n.to_le_bytes());
            }
            LabelValue::Text(t) => {
                hasher.update([1]);
                hasher.update((t.len() as u64).to_le_bytes());
                hasher.update(t.as_bytes());
            }
        }
    }
    hex::encode(hasher.finalize())
}

fn quality_metrics(window: &Window<'_>) -> Vec<performance::Metric> {
    let Some(prediction) = &window.records.prediction else {
        return Vec::new();
    };
    let row = |offset: i64| (offset - window.start) as usize;
    match (window.task, prediction) {
        (crate::vocab::Task::Regression, ColumnData::Numeric(predicted)) => {
            let (mut p, mut a) = (Vec::new(), Vec::new());
            for (offset, label) in window.labels {
                if let (Some(&value), LabelValue::Number(actual)) =
                    (predicted.get(row(*offset)), label)
                    && value.is_finite()
                {
                    p.push(value);
                    a.push(*actual);
                }
            }
            performance::regression(&p, &a)
        }
        (crate::vocab::Task::Classification, ColumnData::Categorical { categories, codes }) => {
            let positive = window
                .records
                .probabilities
                .iter()
                .find(|c| c.name == "1" || c.name.eq_ignore_ascii_case("true"))
                .and_then(|c| match &c.data {
                    ColumnData::Numeric(v) => Some((c.name.as_str(), v)),
                    ColumnData::Categorical { .. } => None,
                });
            let (mut p, mut a, mut s) = (Vec::new(), Vec::new(), Vec::new());
            let actual_text = |label: &LabelValue| match label {
                LabelValue::Number(n) => number_text(*n),
                LabelValue::Text(t) => t.clone(),
            };
            let texts: Vec<String> = window.labels.iter().map(|(_, l)| actual_text(l)).collect();
            let mut all_scored = positive.is_some();
            for ((offset, _), actual) in window.labels.iter().zip(&texts) {
                let Some(&code) = codes.get(row(*offset)) else {
                    continue;
                };
                if code == MISSING_CODE {
                    continue;
                }
                p.push(categories[code as usize].as_str());
                a.push(actual.as_str());
                if let Some((_, scores)) = positive {
                    let score = scores[row(*offset)];
                    all_scored &= score.is_finite();
                    s.push(score);
                }
            }
            let scores = match positive {
                Some((class, _)) if all_scored => Some((class, s.as_slice())),
                _ => None,
            };
            performance::classification(&p, &a, scores)
        }
        _ => Vec::new(),
    }
}

#[derive(Debug)]
pub struct ColumnOutcome {
    pub name: String,
    pub kind: FeatureKind,
    /// The test's name (from the plugin's info).
    pub test: String,
    /// The pinned plugin reference.
    pub plugin: String,
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    pub threshold: Option<f64>,
    /// `None` when the test failed: a failed column is neither drifted nor stable.
    pub drifted: Option<bool>,
    pub missing: usize,
    pub failure: Option<PluginFailure>,
    pub duration_ms: f64,
}

#[derive(Debug)]
pub struct DetectorOutcome {
    pub column: String,
    pub plugin: String,
    /// Stream offsets of the records at which the detector fired.
    pub detections: Vec<i64>,
    pub snapshot_before: Option<String>,
    /// Values the detector had been fed before this window.
    pub seen_before: u64,
    pub failure: Option<PluginFailure>,
}

pub struct Outcome {
    /// Set when a preprocessor failed: nothing else ran.
    pub preprocessing: Option<PluginFailure>,
    pub columns: Vec<ColumnOutcome>,
    pub detectors: Vec<DetectorOutcome>,
    /// Each quality metric of the window, with the reference's value when it has one.
    pub metrics: Vec<vigil_runtime::Metric>,
    pub decision: Result<(Action, String), PluginFailure>,
    pub newly_quarantined: Vec<String>,
    /// Bytes of log output the monitor's plugins wrote past the window's cap (dropped).
    pub output_dropped_bytes: u64,
}

pub fn action_name(action: Action) -> &'static str {
    match action {
        Action::None => "none",
        Action::Alert => "alert",
        Action::Retrain => "retrain",
        Action::Rollback => "rollback",
        Action::Promote => "promote",
    }
}

fn failure_json(failure: &Option<PluginFailure>) -> serde_json::Value {
    match failure {
        None => serde_json::Value::Null,
        Some(f) => json!({"kind": f.kind, "message": f.message}),
    }
}

/// JSON for a number that may be NaN or infinite (JSON has neither).
fn number(value: Option<f64>) -> serde_json::Value {
    value
        .filter(|v| v.is_finite())
        .map_or(serde_json::Value::Null, |v| json!(v))
}

impl Outcome {
    /// A window whose preprocessing failed: no column tested, no policy asked.
    fn failed(failure: PluginFailure, newly_quarantined: Vec<String>) -> Outcome {
        Outcome {
            decision: Err(PluginFailure {
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
        self.decision.as_ref().map_or(Action::None, |(a, _)| *a)
    }

    pub fn reason(&self) -> String {
        if let Some(failure) = &self.preprocessing {
            return format!("preprocessing failed, the window was not tested: {failure}");
        }
        match &self.decision {
            Ok((_, reason)) => reason.clone(),
            Err(failure) => format!("policy failed, no action taken: {failure}"),
        }
    }

    pub fn status(&self) -> &'static str {
        if self.preprocessing.is_some() {
            "failed"
        } else if self.decision.is_err() {
            "policy_failed"
        } else if self.columns.iter().any(|c| c.failure.is_some()) {
            "partial"
        } else {
            "ok"
        }
    }

    pub fn drifted_columns(&self) -> usize {
        self.columns
            .iter()
            .filter(|c| c.drifted == Some(true))
            .count()
    }

    pub fn columns_json(&self) -> serde_json::Value {
        self.columns
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "kind": c.kind,
                    "test": c.test,
                    "plugin": c.plugin,
                    "statistic": number(c.statistic),
                    "p_value": number(c.p_value),
                    "threshold": number(c.threshold),
                    "drifted": c.drifted,
                    "missing": c.missing,
                    "failure": failure_json(&c.failure),
                    "duration_ms": c.duration_ms,
                })
            })
            .collect()
    }

    pub fn detectors_json(&self) -> serde_json::Value {
        self.detectors
            .iter()
            .map(|d| {
                json!({
                    "column": d.column,
                    "plugin": d.plugin,
                    "detections": d.detections,
                    "snapshot_before": d.snapshot_before,
                    "seen_before": d.seen_before,
                    "failure": failure_json(&d.failure),
                })
            })
            .collect()
    }

    pub fn metrics_json(&self) -> serde_json::Value {
        self.metrics
            .iter()
            .map(|m| {
                json!({
                    "name": m.name,
                    "value": number(Some(m.value)),
                    "reference": number(m.reference),
                })
            })
            .collect()
    }
}

/// The policy's history as JSON (stored so a replay gives the policy the same input).
pub fn history_json(history: &History) -> serde_json::Value {
    json!({
        "model_version": history.model_version,
        "last_alert": history.last_alert,
        "last_retrain": history.last_retrain,
        "windows_since_retrain": history.windows_since_retrain,
    })
}

pub fn history_from_json(value: &serde_json::Value) -> History {
    History {
        model_version: value["model_version"].as_str().map(str::to_string),
        last_alert: value["last_alert"].as_u64(),
        last_retrain: value["last_retrain"].as_u64(),
        windows_since_retrain: value["windows_since_retrain"].as_u64().unwrap_or(0) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarantine_starts_after_five_failures_and_backs_off() {
        let mut carried = Carried::default();
        for i in 1..QUARANTINE_AFTER {
            assert!(!carried.count("p@1", Some("boom".into()), 0), "failure {i}");
            assert_eq!(carried.quarantined("p@1", 0), None);
        }
        assert!(carried.count("p@1", Some("boom".into()), 0));
        assert_eq!(carried.quarantined("p@1", 0), Some(1_000));
        assert_eq!(carried.quarantined("p@1", 1_000), None);
        assert!(!carried.count("p@1", Some("boom".into()), 1_000));
        assert_eq!(carried.quarantined("p@1", 1_000), Some(3_000));
        for _ in 0..30 {
            carried.count("p@1", Some("boom".into()), 0);
        }
        assert_eq!(carried.quarantined("p@1", 0), Some(BACKOFF_CAP_MS));
        carried.count("p@1", None, 0);
        assert_eq!(carried.quarantined("p@1", 0), None);
        assert!(carried.failures.is_empty());
    }

    #[test]
    fn stored_columns_convert_to_the_declared_kind() {
        let text = ColumnData::Categorical {
            categories: vec!["1.5".into(), "x".into()],
            codes: vec![0, 1, MISSING_CODE],
        };
        let vigil_runtime::ColumnData::Numeric(v) = to_runtime(&text, FeatureKind::Numeric) else {
            panic!()
        };
        assert_eq!(v[0], 1.5);
        assert!(v[1].is_nan() && v[2].is_nan());
        let numbers = ColumnData::Numeric(vec![2.0, f64::NAN, 2.0]);
        let vigil_runtime::ColumnData::Categorical(c) =
            to_runtime(&numbers, FeatureKind::Categorical)
        else {
            panic!()
        };
        assert_eq!(c.categories, ["2"]);
        assert_eq!(c.codes, [0, MISSING_CODE, 0]);
    }
}
