//! `vigil drift`: compares a current dataset with a reference, column by column, with drift
//! tests that run as plugins, and reports per-column drift and dataset drift.

mod defaults;
mod fast_csv;
mod html;
mod multivariate;
pub(crate) mod plot;
mod report;
mod table;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use vigil_runtime::{Budget, ColumnData, ColumnKind, Plugin, ScoreKind};

pub use plot::Plot;
pub use report::{ColumnReport, MultivariateReport, Report};
use table::{Table, TableColumn};

use crate::plugins::Registry;

/// What to compare and how.
#[derive(Debug, Clone)]
pub struct DriftOptions {
    pub reference: PathBuf,
    pub current: PathBuf,
    pub categorical: Vec<String>,
    /// The test for numeric columns (`ks` when `None`; `auto`: by reference size, see
    /// [`defaults`]).
    pub num_test: Option<String>,
    /// The test for categorical columns (`chi2` when `None`; `auto`: by reference size).
    pub cat_test: Option<String>,
    pub column_tests: Vec<(String, String)>,
    /// Multivariate tests to run over [`DriftOptions::multivariate_columns`] together.
    pub multivariate: Vec<String>,
    /// The columns of the multivariate tests; every numeric column when `None`.
    pub multivariate_columns: Option<Vec<String>>,
    pub test_configs: Vec<(String, String)>,
    pub threshold: f64,
    pub drift_share: f64,
    /// Whether to compute each column's binned summary for the HTML report's plots.
    pub plots: bool,
}

/// A problem with the input: reported as one line, exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Runs the comparison.
pub fn run(options: &DriftOptions, registry: &Registry) -> anyhow::Result<Report> {
    if !(options.threshold > 0.0 && options.threshold < 1.0) {
        return Err(InputError(format!(
            "--threshold must lie strictly between 0 and 1, got {}",
            options.threshold
        ))
        .into());
    }
    if !(options.drift_share > 0.0 && options.drift_share <= 1.0) {
        return Err(InputError(format!(
            "--drift-share must lie in (0, 1], got {}",
            options.drift_share
        ))
        .into());
    }
    let forced: HashSet<String> = options.categorical.iter().cloned().collect();
    let started = Instant::now();
    let (reference, current) = read_pair(options, &forced)?;
    tracing::debug!(elapsed = ?started.elapsed(), "read both files");
    let plan = plan(options, registry, &reference, &current)?;
    let joint = multivariate::plan(options, registry, &reference)?;
    tracing::debug!(elapsed = ?started.elapsed(), "loaded the plugins");
    let budget = registry.runtime().shared();
    let (columns, multivariate): (Vec<ColumnReport>, Vec<MultivariateReport>) = rayon::join(
        || {
            plan.into_par_iter()
                .map(|step| evaluate(step, budget, &reference, &current, options.plots))
                .collect()
        },
        || {
            joint
                .into_par_iter()
                .map(|step| multivariate::evaluate(step, budget, &reference, &current))
                .collect()
        },
    );
    tracing::debug!(elapsed = ?started.elapsed(), "evaluated every column");
    Ok(Report {
        reference: options.reference.display().to_string(),
        current: options.current.display().to_string(),
        reference_rows: reference.rows,
        current_rows: current.rows,
        columns,
        multivariate,
        drift_share: options.drift_share,
    })
}

/// Reads both files in parallel and makes each column's kind agree between them.
fn read_pair(options: &DriftOptions, forced: &HashSet<String>) -> anyhow::Result<(Table, Table)> {
    let read = |path: &PathBuf, forced: &HashSet<String>| {
        table::read(path, forced).map_err(|e| InputError(e.to_string()))
    };
    let (reference, current) = rayon::join(
        || read(&options.reference, forced),
        || read(&options.current, forced),
    );
    let (mut reference, mut current) = (reference?, current?);
    check_same_columns(&reference, &current)?;
    for name in forced {
        if !reference.columns.iter().any(|c| &c.name == name) {
            return Err(InputError(format!(
                "--categorical names `{name}`, which is not a column of {}",
                reference.path.display()
            ))
            .into());
        }
    }
    for (what, table) in [("reference", &reference), ("current", &current)] {
        if table.rows == 0 {
            return Err(InputError(format!(
                "the {what} file {} has no data rows",
                table.path.display()
            ))
            .into());
        }
    }
    // A column that is text in either file is categorical in both.
    let mixed: HashSet<String> = reference
        .columns
        .iter()
        .filter(|r| {
            let c = current
                .columns
                .iter()
                .find(|c| c.name == r.name)
                .expect("same columns");
            kind(&r.data) != kind(&c.data)
        })
        .map(|r| r.name.clone())
        .collect();
    if !mixed.is_empty() {
        let forced: HashSet<String> = forced.union(&mixed).cloned().collect();
        for table in [&mut reference, &mut current] {
            let needs_reread = table
                .columns
                .iter()
                .any(|c| mixed.contains(&c.name) && kind(&c.data) == ColumnKind::Numeric);
            if needs_reread {
                *table = read(&table.path, &forced)?;
            }
        }
    }
    Ok((reference, current))
}

fn check_same_columns(reference: &Table, current: &Table) -> Result<(), InputError> {
    let names = |t: &Table| {
        t.columns
            .iter()
            .map(|c| c.name.clone())
            .collect::<HashSet<_>>()
    };
    let (r, c) = (names(reference), names(current));
    if r == c {
        return Ok(());
    }
    let list = |set: HashSet<&String>| {
        let mut v: Vec<_> = set.into_iter().map(|s| format!("`{s}`")).collect();
        v.sort();
        v.join(", ")
    };
    let only_reference = list(r.difference(&c).collect());
    let only_current = list(c.difference(&r).collect());
    let mut parts = Vec::new();
    if !only_reference.is_empty() {
        parts.push(format!("only in the reference: {only_reference}"));
    }
    if !only_current.is_empty() {
        parts.push(format!("only in the current data: {only_current}"));
    }
    Err(InputError(format!(
        "the two files have different columns ({})",
        parts.join("; ")
    )))
}

fn kind(data: &ColumnData) -> ColumnKind {
    match data {
        ColumnData::Numeric(_) => ColumnKind::Numeric,
        ColumnData::Categorical(_) => ColumnKind::Categorical,
    }
}

struct Step {
    index: usize,
    test_name: String,
    /// Why the column got this test, for the HTML report's summary.
    chosen_by: String,
    plugin: Arc<Plugin>,
    config: String,
}

/// Chooses the test and configuration of every column, loading each plugin once.
fn plan(
    options: &DriftOptions,
    registry: &Registry,
    reference: &Table,
    current: &Table,
) -> anyhow::Result<Vec<Step>> {
    let overrides: BTreeMap<&str, &str> = options
        .column_tests
        .iter()
        .map(|(c, t)| (c.as_str(), t.as_str()))
        .collect();
    for column in overrides.keys() {
        if !reference.columns.iter().any(|c| c.name == *column) {
            return Err(InputError(format!(
                "--column-test names `{column}`, which is not a column of the data"
            ))
            .into());
        }
    }
    let configs = test_configs(options)?;
    let mut steps = Vec::new();
    for (index, column) in reference.columns.iter().enumerate() {
        let column_kind = kind(&column.data);
        let (option, asked) = match column_kind {
            ColumnKind::Numeric => ("--num-test", options.num_test.as_deref()),
            ColumnKind::Categorical => ("--cat-test", options.cat_test.as_deref()),
        };
        let (test_name, chosen_by) = match (overrides.get(column.name.as_str()), asked) {
            (Some(&name), _) => (name, "--column-test".to_string()),
            (None, Some(defaults::AUTO)) => (
                defaults::default_test(column_kind, reference.rows),
                format!(
                    "{option} auto: the reference has {} rows, {} {}",
                    reference.rows,
                    if reference.rows <= defaults::MAX_ROWS_FOR_HYPOTHESIS_TEST {
                        "at most"
                    } else {
                        "more than"
                    },
                    defaults::MAX_ROWS_FOR_HYPOTHESIS_TEST
                ),
            ),
            (None, Some(name)) => (name, option.to_string()),
            (None, None) => (
                match column_kind {
                    ColumnKind::Numeric => defaults::NUMERIC,
                    ColumnKind::Categorical => defaults::CATEGORICAL,
                },
                format!("the default for {} columns", kind_name(column_kind)),
            ),
        };
        let test_name = match test_name {
            defaults::AUTO => defaults::default_test(column_kind, reference.rows),
            name => name,
        };
        let plugin = registry
            .drift_test(test_name)
            .map_err(|e| InputError(format!("{e:#}")))?;
        let info = plugin.info();
        if info.kind == vigil_runtime::PluginKind::MultivariateDriftTest {
            return Err(InputError(format!(
                "`{test_name}` compares several columns at once; run it with --multivariate \
                 {test_name}, not as the test of column `{}`",
                column.name
            ))
            .into());
        }
        if !info.column_kinds.contains(&column_kind) {
            return Err(InputError(format!(
                "the test `{test_name}` does not accept {} columns, but column `{}` is one \
                 (choose another with --column-test {}=NAME)",
                kind_name(column_kind),
                column.name,
                column.name
            ))
            .into());
        }
        let config = test_config(&configs, test_name, &plugin, options.threshold);
        debug_assert!(current.columns.iter().any(|c| c.name == column.name));
        steps.push(Step {
            index,
            test_name: test_name.to_string(),
            chosen_by,
            plugin,
            config: config.to_string(),
        });
    }
    Ok(steps)
}

/// The `--config` values, by the test name they were given for.
fn test_configs(options: &DriftOptions) -> anyhow::Result<BTreeMap<&str, serde_json::Value>> {
    Ok(options
        .test_configs
        .iter()
        .map(|(test, json)| {
            serde_json::from_str(json)
                .map(|value| (test.as_str(), value))
                .map_err(|e| InputError(format!("--config {test}=…: not valid JSON: {e}")))
        })
        .collect::<Result<_, _>>()?)
}

/// A test's configuration: its `--config` (by the name it was asked for, or its plugin's),
/// with `--threshold` for a hypothesis test that takes one.
fn test_config(
    configs: &BTreeMap<&str, serde_json::Value>,
    test_name: &str,
    plugin: &Plugin,
    threshold: f64,
) -> serde_json::Value {
    let info = plugin.info();
    let mut config = configs
        .get(test_name)
        .or_else(|| configs.get(info.name.as_str()))
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    // `--threshold` goes to the hypothesis tests that take one: a plugin whose config has no
    // `threshold` would refuse it as an unknown field.
    if info.score == ScoreKind::PValue
        && accepts_field(&info.config_schema, "threshold")
        && let Some(object) = config.as_object_mut()
    {
        object
            .entry("threshold")
            .or_insert(serde_json::json!(threshold));
    }
    config
}

/// Whether a plugin's JSON Schema for its configuration names `field` as a property.
fn accepts_field(schema: &str, field: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(schema)
        .ok()
        .and_then(|schema| schema.get("properties")?.get(field).cloned())
        .is_some()
}

pub fn kind_name(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Numeric => "numeric",
        ColumnKind::Categorical => "categorical",
    }
}

/// The WIT name of a score kind.
pub fn score_name(score: ScoreKind) -> &'static str {
    match score {
        ScoreKind::PValue => "p-value",
        ScoreKind::Distance => "distance",
    }
}

fn evaluate(
    step: Step,
    budget: &Budget,
    reference: &Table,
    current: &Table,
    plots: bool,
) -> ColumnReport {
    let reference_column: &TableColumn = &reference.columns[step.index];
    let current_column = current
        .columns
        .iter()
        .find(|c| c.name == reference_column.name)
        .expect("same columns");
    let started = Instant::now();
    let outcome = step
        .plugin
        .drift_test(budget, &reference_column.data, &step.config)
        .and_then(|mut session| session.evaluate(&current_column.data));
    tracing::debug!(column = %reference_column.name, elapsed = ?started.elapsed(), "column evaluated");
    let info = step.plugin.info();
    let plot = plots.then(|| {
        let started = Instant::now();
        let plot = Plot::of(&reference_column.data, &current_column.data);
        tracing::debug!(column = %reference_column.name, elapsed = ?started.elapsed(), "column plotted");
        plot
    });
    ColumnReport {
        name: reference_column.name.clone(),
        kind: kind_name(kind(&reference_column.data)),
        test: step.test_name,
        chosen_by: step.chosen_by,
        score: score_name(info.score),
        plot,
        plugin: format!("{}@{}", info.name, info.version),
        missing_reference: reference_column.missing,
        missing_current: current_column.missing,
        outcome: outcome.map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_field_is_accepted_only_when_the_schema_names_it() {
        let schema = r#"{"type": "object", "properties": {"threshold": {"type": "number"}}}"#;
        assert!(super::accepts_field(schema, "threshold"));
        assert!(!super::accepts_field(schema, "bins"));
        let without = r#"{"type": "object", "properties": {"mode": {"type": "string"}}}"#;
        assert!(!super::accepts_field(without, "threshold"));
        assert!(!super::accepts_field("not json", "threshold"));
    }
}
