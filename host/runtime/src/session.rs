//! Sessions: a plugin instance kept in one store across calls, for drift tests built from a
//! reference once and detectors whose state lives between windows. Each call still runs under
//! its own deadline; after a trap or a limit the session refuses further calls.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::ResourceAny;

use crate::bindings::{detector, drift, multivariate, preprocessor, v0_1};
use crate::budget::Budget;
use crate::call::{guard, guard_result, poisons};
use crate::error::Error;
use crate::host::StoreData;
use crate::loader::{Plugin, Pre};
use crate::v0_1::{batch as old_batch, column_data as old_column, result as old_result};
use crate::{Batch, ColumnData, Context, Decision, DriftResult, ScoreKind};

/// A drift test's instance, of the contract version it was built for.
enum DriftInstance {
    V0_2(drift::DriftTestPlugin),
    V0_1(v0_1::drift::DriftTestPlugin),
}

/// A detector's instance, of the contract version it was built for.
enum DetectorInstance {
    V0_2(detector::DetectorPlugin),
    V0_1(v0_1::detector::DetectorPlugin),
}

/// A preprocessor's instance, of the contract version it was built for.
enum PreprocessorInstance {
    V0_2(preprocessor::PreprocessorPlugin),
    V0_1(v0_1::preprocessor::PreprocessorPlugin),
}

/// A drift test built from a reference, ready to evaluate windows.
pub struct DriftSession {
    plugin: Arc<Plugin>,
    store: Store<StoreData>,
    instance: DriftInstance,
    test: ResourceAny,
    poisoned: bool,
}

/// A multivariate drift test built from a reference batch, ready to evaluate windows.
pub struct MultivariateSession {
    plugin: Arc<Plugin>,
    store: Store<StoreData>,
    instance: multivariate::MultivariateDriftTestPlugin,
    test: ResourceAny,
    poisoned: bool,
}

/// A streaming detector with its state.
pub struct DetectorSession {
    plugin: Arc<Plugin>,
    store: Store<StoreData>,
    instance: DetectorInstance,
    detector: ResourceAny,
    poisoned: bool,
}

/// A preprocessor fitted on a reference batch.
pub struct PreprocessorSession {
    plugin: Arc<Plugin>,
    store: Store<StoreData>,
    instance: PreprocessorInstance,
    fitted: ResourceAny,
    poisoned: bool,
}

fn wrong_kind(plugin: &Plugin, wanted: &str) -> Error {
    Error::InvalidComponent(format!(
        "plugin `{}` is a {} plugin, not a {wanted}",
        plugin.info().name,
        plugin.info().kind
    ))
}

impl Plugin {
    /// Builds the drift test from a reference column and a JSON configuration. The session
    /// holds one of `budget`'s instance slots while it lives.
    pub fn drift_test(
        self: &Arc<Self>,
        budget: &Budget,
        reference: &ColumnData,
        config: &str,
    ) -> Result<DriftSession, Error> {
        let limits = &self.config;
        let mut store = match &self.pre {
            Pre::DriftTest(_) | Pre::DriftTestV0_1(_) => self.new_store(budget)?,
            _ => return Err(wrong_kind(self, "drift test")),
        };
        let (instance, test) = match &self.pre {
            Pre::DriftTestV0_1(pre) => {
                let instance = guard(&mut store, limits, &self.name, |s| pre.instantiate(s))?;
                let reference = old_column(reference);
                let test = guard_result(&mut store, limits, &self.name, |s| {
                    let api = instance.vigil_plugin_drift_test().test();
                    old_result(api.call_create(s, &reference, config), |t| t)
                })?;
                (DriftInstance::V0_1(instance), test)
            }
            Pre::DriftTest(pre) => {
                let instance = guard(&mut store, limits, &self.name, |s| pre.instantiate(s))?;
                let test = guard_result(&mut store, limits, &self.name, |s| {
                    instance
                        .vigil_plugin_drift_test()
                        .test()
                        .call_create(s, reference, config)
                })?;
                (DriftInstance::V0_2(instance), test)
            }
            _ => unreachable!("checked above"),
        };
        Ok(DriftSession {
            plugin: self.clone(),
            store,
            instance,
            test,
            poisoned: false,
        })
    }

    /// Builds the multivariate drift test from a reference batch (the columns it compares)
    /// and a JSON configuration. The session holds one of `budget`'s instance slots while it
    /// lives.
    pub fn multivariate_test(
        self: &Arc<Self>,
        budget: &Budget,
        reference: &Batch,
        config: &str,
    ) -> Result<MultivariateSession, Error> {
        let Pre::MultivariateDriftTest(pre) = &self.pre else {
            return Err(wrong_kind(self, "multivariate drift test"));
        };
        let limits = &self.config;
        let mut store = self.new_store(budget)?;
        let instance = guard(&mut store, limits, &self.name, |s| pre.instantiate(s))?;
        let test = guard_result(&mut store, limits, &self.name, |s| {
            instance
                .vigil_plugin_multivariate_drift_test()
                .test()
                .call_create(s, reference, config)
        })?;
        Ok(MultivariateSession {
            plugin: self.clone(),
            store,
            instance,
            test,
            poisoned: false,
        })
    }

    /// A detector from a JSON configuration, fresh or resumed from a snapshot.
    pub fn detector(
        self: &Arc<Self>,
        budget: &Budget,
        config: &str,
        snapshot: Option<&[u8]>,
    ) -> Result<DetectorSession, Error> {
        let limits = &self.config;
        let mut store = match &self.pre {
            Pre::Detector(_) | Pre::DetectorV0_1(_) => self.new_store(budget)?,
            _ => return Err(wrong_kind(self, "detector")),
        };
        let (instance, detector) = match &self.pre {
            Pre::DetectorV0_1(pre) => {
                let instance = guard(&mut store, limits, &self.name, |s| pre.instantiate(s))?;
                let detector = guard_result(&mut store, limits, &self.name, |s| {
                    let api = instance.vigil_plugin_detector().detector();
                    let created = match snapshot {
                        Some(bytes) => api.call_restore(s, bytes, config),
                        None => api.call_create(s, config),
                    };
                    old_result(created, |d| d)
                })?;
                (DetectorInstance::V0_1(instance), detector)
            }
            Pre::Detector(pre) => {
                let instance = guard(&mut store, limits, &self.name, |s| pre.instantiate(s))?;
                let detector = guard_result(&mut store, limits, &self.name, |s| {
                    let api = instance.vigil_plugin_detector().detector();
                    match snapshot {
                        Some(bytes) => api.call_restore(s, bytes, config),
                        None => api.call_create(s, config),
                    }
                })?;
                (DetectorInstance::V0_2(instance), detector)
            }
            _ => unreachable!("checked above"),
        };
        Ok(DetectorSession {
            plugin: self.clone(),
            store,
            instance,
            detector,
            poisoned: false,
        })
    }

    /// Fits the preprocessor on a reference batch.
    pub fn preprocessor(
        self: &Arc<Self>,
        budget: &Budget,
        reference: &Batch,
        config: &str,
    ) -> Result<PreprocessorSession, Error> {
        let limits = &self.config;
        let mut store = match &self.pre {
            Pre::Preprocessor(_) | Pre::PreprocessorV0_1(_) => self.new_store(budget)?,
            _ => return Err(wrong_kind(self, "preprocessor")),
        };
        let (instance, fitted) = match &self.pre {
            Pre::PreprocessorV0_1(pre) => {
                let instance = guard(&mut store, limits, &self.name, |s| pre.instantiate(s))?;
                let reference = old_batch(reference);
                let fitted = guard_result(&mut store, limits, &self.name, |s| {
                    let api = instance.vigil_plugin_preprocessor().preprocessor();
                    old_result(api.call_fit(s, &reference, config), |f| f)
                })?;
                (PreprocessorInstance::V0_1(instance), fitted)
            }
            Pre::Preprocessor(pre) => {
                let instance = guard(&mut store, limits, &self.name, |s| pre.instantiate(s))?;
                let fitted = guard_result(&mut store, limits, &self.name, |s| {
                    instance
                        .vigil_plugin_preprocessor()
                        .preprocessor()
                        .call_fit(s, reference, config)
                })?;
                (PreprocessorInstance::V0_2(instance), fitted)
            }
            _ => unreachable!("checked above"),
        };
        Ok(PreprocessorSession {
            plugin: self.clone(),
            store,
            instance,
            fitted,
            poisoned: false,
        })
    }

    /// Asks a policy plugin for a decision, in a store of its own.
    pub fn decide(
        &self,
        budget: &Budget,
        context: &Context,
        config: &str,
    ) -> Result<Decision, Error> {
        let limits = &self.config;
        let mut decision = match &self.pre {
            Pre::Policy(pre) => {
                let mut store = self.new_store(budget)?;
                let instance = guard(&mut store, limits, &self.name, |s| pre.instantiate(s))?;
                guard_result(&mut store, limits, &self.name, |s| {
                    instance
                        .vigil_plugin_policy()
                        .call_decide(s, context, config)
                })?
            }
            Pre::PolicyV0_1(pre) => {
                let mut store = self.new_store(budget)?;
                let instance = guard(&mut store, limits, &self.name, |s| pre.instantiate(s))?;
                let context = crate::v0_1::context(context);
                guard_result(&mut store, limits, &self.name, |s| {
                    let decided = instance
                        .vigil_plugin_policy()
                        .call_decide(s, &context, config);
                    old_result(decided, crate::v0_1::decision)
                })?
            }
            _ => return Err(wrong_kind(self, "policy")),
        };
        decision.reason =
            crate::host::truncate(&decision.reason, limits.max_output_string_bytes).to_string();
        if let Some(state) = &decision.state
            && state.len() > crate::POLICY_STATE_CAP
        {
            return Err(Error::OutputTooLarge {
                plugin: self.info().name.clone(),
                what: format!(
                    "a state of {} bytes, over the cap of {} bytes a policy may keep",
                    state.len(),
                    crate::POLICY_STATE_CAP
                ),
            });
        }
        Ok(decision)
    }
}

/// Runs one call of a session, poisoning it when the failure may have broken the instance.
fn session_call<R>(
    plugin: &Plugin,
    store: &mut Store<StoreData>,
    poisoned: &mut bool,
    f: impl FnOnce(&mut Store<StoreData>) -> Result<R, Error>,
) -> Result<R, Error> {
    if *poisoned {
        return Err(Error::Poisoned {
            plugin: plugin.info().name.clone(),
        });
    }
    let outcome = f(store);
    if let Err(error) = &outcome {
        *poisoned = poisons(error);
    }
    outcome
}

fn invalid(plugin: &Plugin, what: String) -> Error {
    Error::InvalidOutput {
        plugin: plugin.info().name.clone(),
        what,
    }
}

impl DriftSession {
    /// Compares a window with the reference.
    pub fn evaluate(&mut self, current: &ColumnData) -> Result<DriftResult, Error> {
        let plugin = &self.plugin;
        let limits = &plugin.config;
        let (instance, test) = (&self.instance, self.test);
        let result = session_call(plugin, &mut self.store, &mut self.poisoned, |store| {
            guard_result(store, limits, &plugin.name, |s| match instance {
                DriftInstance::V0_2(instance) => instance
                    .vigil_plugin_drift_test()
                    .test()
                    .call_evaluate(s, test, current),
                DriftInstance::V0_1(instance) => {
                    let api = instance.vigil_plugin_drift_test().test();
                    let evaluated = api.call_evaluate(s, test, &old_column(current));
                    old_result(evaluated, crate::v0_1::drift_result)
                }
            })
        })?;
        check_drift_result(&result, plugin.info().score).map_err(|what| invalid(plugin, what))?;
        Ok(result)
    }

    /// The plugin behind the session.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }
}

impl MultivariateSession {
    /// Compares a window (the same columns as the reference) with the reference. The result
    /// is checked as a one-column drift test's is.
    pub fn evaluate(&mut self, current: &Batch) -> Result<DriftResult, Error> {
        let plugin = &self.plugin;
        let limits = &plugin.config;
        let (instance, test) = (&self.instance, self.test);
        let result = session_call(plugin, &mut self.store, &mut self.poisoned, |store| {
            guard_result(store, limits, &plugin.name, |s| {
                instance
                    .vigil_plugin_multivariate_drift_test()
                    .test()
                    .call_evaluate(s, test, current)
            })
        })?;
        check_drift_result(&result, plugin.info().score).map_err(|what| invalid(plugin, what))?;
        Ok(result)
    }

    /// The plugin behind the session.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }
}

/// A drift result must say what its numbers say: finite numbers, a p-value in [0, 1] for a
/// hypothesis test, and `drifted` exactly when the p-value is below the threshold (a test) or
/// the statistic reaches it (a distance), as `wit/types.wit` defines `score-kind`.
fn check_drift_result(result: &DriftResult, score: ScoreKind) -> Result<(), String> {
    let DriftResult {
        statistic,
        p_value,
        threshold,
        drifted,
    } = *result;
    if !statistic.is_finite() {
        return Err(format!("statistic {statistic} is not finite"));
    }
    if !threshold.is_finite() {
        return Err(format!("threshold {threshold} is not finite"));
    }
    let expected = match (score, p_value) {
        (ScoreKind::PValue, None) => {
            return Err("a hypothesis test returned no p-value".into());
        }
        (ScoreKind::PValue, Some(p)) => {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("p-value {p} is outside [0, 1]"));
            }
            if !(0.0..=1.0).contains(&threshold) {
                return Err(format!("threshold {threshold} is outside [0, 1]"));
            }
            p < threshold
        }
        (ScoreKind::Distance, p) => {
            if let Some(p) = p
                && !(0.0..=1.0).contains(&p)
            {
                return Err(format!("p-value {p} is outside [0, 1]"));
            }
            statistic >= threshold
        }
    };
    if drifted != expected {
        return Err(match score {
            ScoreKind::PValue => format!(
                "drifted is {drifted}, but p-value {} {} threshold {threshold}",
                p_value.unwrap_or(f64::NAN),
                if expected { "<" } else { ">=" }
            ),
            ScoreKind::Distance => format!(
                "drifted is {drifted}, but statistic {statistic} {} threshold {threshold}",
                if expected { ">=" } else { "<" }
            ),
        });
    }
    Ok(())
}

impl DetectorSession {
    /// Feeds values in stream order; returns the stream positions of detected changes.
    pub fn update(&mut self, values: &[f64]) -> Result<Vec<u64>, Error> {
        let plugin = &self.plugin;
        let limits = &plugin.config;
        let (instance, detector) = (&self.instance, self.detector);
        let positions = session_call(plugin, &mut self.store, &mut self.poisoned, |store| {
            guard_result(store, limits, &plugin.name, |s| match instance {
                DetectorInstance::V0_2(instance) => instance
                    .vigil_plugin_detector()
                    .detector()
                    .call_update(s, detector, values),
                DetectorInstance::V0_1(instance) => {
                    let api = instance.vigil_plugin_detector().detector();
                    old_result(api.call_update(s, detector, values), |p| p)
                }
            })
        })?;
        // At most one change point per value fed.
        if positions.len() > values.len() {
            return Err(Error::OutputTooLarge {
                plugin: plugin.info().name.clone(),
                what: format!(
                    "{} change points for {} values",
                    positions.len(),
                    values.len()
                ),
            });
        }
        Ok(positions)
    }

    /// The detector's state, to persist and pass back to [`Plugin::detector`] later.
    pub fn snapshot(&mut self) -> Result<Vec<u8>, Error> {
        let plugin = &self.plugin;
        let limits = &plugin.config;
        let (instance, detector) = (&self.instance, self.detector);
        let bytes = session_call(plugin, &mut self.store, &mut self.poisoned, |store| {
            guard(store, limits, &plugin.name, |s| match instance {
                DetectorInstance::V0_2(instance) => instance
                    .vigil_plugin_detector()
                    .detector()
                    .call_snapshot(s, detector),
                DetectorInstance::V0_1(instance) => instance
                    .vigil_plugin_detector()
                    .detector()
                    .call_snapshot(s, detector),
            })
        })?;
        if bytes.len() > limits.max_output_values {
            return Err(Error::OutputTooLarge {
                plugin: plugin.info().name.clone(),
                what: format!("a snapshot of {} bytes", bytes.len()),
            });
        }
        Ok(bytes)
    }
}

impl PreprocessorSession {
    /// Transforms a batch; the output must have as many rows as the input.
    pub fn transform(&mut self, input: &Batch) -> Result<Batch, Error> {
        let plugin = &self.plugin;
        let limits = &plugin.config;
        let (instance, fitted) = (&self.instance, self.fitted);
        let output = session_call(plugin, &mut self.store, &mut self.poisoned, |store| {
            guard_result(store, limits, &plugin.name, |s| match instance {
                PreprocessorInstance::V0_2(instance) => instance
                    .vigil_plugin_preprocessor()
                    .preprocessor()
                    .call_transform(s, fitted, input),
                PreprocessorInstance::V0_1(instance) => {
                    let api = instance.vigil_plugin_preprocessor().preprocessor();
                    let output = api.call_transform(s, fitted, &old_batch(input));
                    old_result(output, crate::v0_1::batch_back)
                }
            })
        })?;
        let rows = input.columns.first().map_or(0, |c| c.data.len());
        let total: usize = output.columns.iter().map(|c| c.data.len()).sum();
        if total > limits.max_output_values {
            return Err(Error::OutputTooLarge {
                plugin: plugin.info().name.clone(),
                what: format!("{total} values in the output batch"),
            });
        }
        check_batch(input, &output, rows).map_err(|what| invalid(plugin, what))?;
        Ok(output)
    }
}

/// A preprocessor's output keeps the input's rows, and each input column it returns keeps its
/// kind; names are unique and categorical codes point at a category (or mean missing).
fn check_batch(input: &Batch, output: &Batch, rows: usize) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for column in &output.columns {
        if !names.insert(column.name.as_str()) {
            return Err(format!("column `{}` appears twice", column.name));
        }
        if column.data.len() != rows {
            return Err(format!(
                "column `{}` has {} rows, the input had {rows}",
                column.name,
                column.data.len()
            ));
        }
        let numeric = matches!(column.data, ColumnData::Numeric(_));
        if let Some(before) = input.columns.iter().find(|c| c.name == column.name)
            && numeric != matches!(before.data, ColumnData::Numeric(_))
        {
            let kind = |numeric| if numeric { "numeric" } else { "categorical" };
            return Err(format!(
                "column `{}` was {} and came back {}",
                column.name,
                kind(!numeric),
                kind(numeric)
            ));
        }
        if let ColumnData::Categorical(c) = &column.data
            && let Some(code) = c
                .codes
                .iter()
                .find(|&&code| code != crate::MISSING_CODE && code as usize >= c.categories.len())
        {
            return Err(format!(
                "column `{}` has code {code} but {} categories",
                column.name,
                c.categories.len()
            ));
        }
    }
    Ok(())
}

impl ColumnData {
    /// Number of rows, missing values included.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Numeric(values) => values.len(),
            ColumnData::Categorical(column) => column.codes.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
