//! `vigil drift --multivariate NAME`: a drift test over several numeric columns at once,
//! reported beside the per-column results (docs/statistics.md, "Multivariate").

use std::sync::Arc;
use std::time::Instant;

use vigil_runtime::{Batch, Budget, Column, ColumnKind, Plugin};

use super::report::MultivariateReport;
use super::table::Table;
use super::{DriftOptions, InputError, kind, test_config, test_configs};
use crate::vocab::multivariate_name;

/// One multivariate test to run.
pub(super) struct Step {
    test_name: String,
    plugin: Arc<Plugin>,
    config: String,
    /// Indices of its columns in the reference table.
    columns: Vec<usize>,
}

/// The multivariate tests asked for, each over the chosen numeric columns.
pub(super) fn plan(
    options: &DriftOptions,
    registry: &crate::plugins::Registry,
    reference: &Table,
) -> anyhow::Result<Vec<Step>> {
    if options.multivariate.is_empty() {
        if options.multivariate_columns.is_some() {
            return Err(InputError(
                "--multivariate-columns needs a test to run: add --multivariate mmd (or pca)"
                    .into(),
            )
            .into());
        }
        return Ok(Vec::new());
    }
    let columns = columns(options, reference)?;
    let configs = test_configs(options)?;
    options
        .multivariate
        .iter()
        .map(|test_name| {
            let plugin = registry
                .multivariate_test(test_name)
                .map_err(|e| InputError(format!("--multivariate {test_name}: {e:#}")))?;
            let config = test_config(&configs, test_name, &plugin, options.threshold);
            Ok(Step {
                test_name: test_name.clone(),
                plugin,
                config: config.to_string(),
                columns: columns.clone(),
            })
        })
        .collect()
}

/// The columns named by `--multivariate-columns` (numeric, distinct, in the file), or every
/// numeric column.
fn columns(options: &DriftOptions, reference: &Table) -> Result<Vec<usize>, InputError> {
    let numeric = |i: &usize| kind(&reference.columns[*i].data) == ColumnKind::Numeric;
    let Some(names) = &options.multivariate_columns else {
        let all: Vec<usize> = (0..reference.columns.len()).filter(numeric).collect();
        if all.is_empty() {
            return Err(InputError(
                "--multivariate compares numeric columns, and the data has none".into(),
            ));
        }
        return Ok(all);
    };
    let mut picked = Vec::new();
    for name in names {
        let Some(index) = reference.columns.iter().position(|c| &c.name == name) else {
            return Err(InputError(format!(
                "--multivariate-columns names `{name}`, which is not a column of the data"
            )));
        };
        if !numeric(&index) {
            return Err(InputError(format!(
                "--multivariate-columns names `{name}`, which is categorical; multivariate \
                 tests compare numeric columns"
            )));
        }
        if picked.contains(&index) {
            return Err(InputError(format!(
                "--multivariate-columns names `{name}` twice"
            )));
        }
        picked.push(index);
    }
    if picked.is_empty() {
        return Err(InputError("--multivariate-columns is empty".into()));
    }
    Ok(picked)
}

/// Runs one multivariate test over its columns of both files.
pub(super) fn evaluate(
    step: Step,
    budget: &Budget,
    reference: &Table,
    current: &Table,
) -> MultivariateReport {
    let names: Vec<String> = step
        .columns
        .iter()
        .map(|&i| reference.columns[i].name.clone())
        .collect();
    let batch = |table: &Table| Batch {
        columns: names
            .iter()
            .map(|name| {
                let column = table
                    .columns
                    .iter()
                    .find(|c| &c.name == name)
                    .expect("same columns");
                Column {
                    name: name.clone(),
                    data: column.data.clone(),
                }
            })
            .collect(),
    };
    let started = Instant::now();
    let outcome = step
        .plugin
        .multivariate_test(budget, &batch(reference), &step.config)
        .and_then(|mut session| session.evaluate(&batch(current)));
    let info = step.plugin.info();
    tracing::debug!(test = %step.test_name, elapsed = ?started.elapsed(), "multivariate test evaluated");
    MultivariateReport {
        name: multivariate_name(&info.name, &names),
        test: step.test_name,
        plugin: format!("{}@{}", info.name, info.version),
        columns: names,
        outcome: outcome.map_err(|e| e.to_string()),
    }
}
