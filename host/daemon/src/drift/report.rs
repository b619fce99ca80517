//! The drift report: a table for people, one JSON object for programs.

use std::fmt::Write as _;

use serde::Serialize;
use vigil_runtime::DriftResult;

/// One column's result.
pub struct ColumnReport {
    pub name: String,
    pub kind: &'static str,
    pub test: String,
    /// Why the column got its test (an option, `auto`'s rule, or the default).
    pub chosen_by: String,
    /// How the test's statistic is read: `p-value` or `distance`.
    pub score: &'static str,
    pub plugin: String,
    /// The binned summary for the HTML report, when one was asked for.
    pub plot: Option<super::Plot>,
    pub missing_reference: usize,
    pub missing_current: usize,
    pub outcome: Result<DriftResult, String>,
}

/// One multivariate test's result over several columns.
pub struct MultivariateReport {
    /// `TEST(col1,col2,…)` (`crate::vocab::multivariate_name`).
    pub name: String,
    pub test: String,
    pub plugin: String,
    pub columns: Vec<String>,
    pub outcome: Result<DriftResult, String>,
}

/// The whole comparison.
pub struct Report {
    /// The files compared, as named on the command line.
    pub reference: String,
    pub current: String,
    pub reference_rows: usize,
    pub current_rows: usize,
    pub columns: Vec<ColumnReport>,
    /// The multivariate tests' results; they do not count toward the dataset drift, which is
    /// the share of drifted columns.
    pub multivariate: Vec<MultivariateReport>,
    pub drift_share: f64,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    reference_rows: usize,
    current_rows: usize,
    columns: Vec<JsonColumn<'a>>,
    drifted_columns: usize,
    failed_columns: usize,
    drift_share: f64,
    dataset_drift: bool,
    /// Absent unless `--multivariate` was given, so that reports without it read as before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    multivariate: Vec<JsonMultivariate<'a>>,
}

#[derive(Serialize)]
struct JsonMultivariate<'a> {
    name: &'a str,
    test: &'a str,
    plugin: &'a str,
    columns: &'a [String],
    statistic: Option<f64>,
    p_value: Option<f64>,
    threshold: Option<f64>,
    /// `null` when the test failed.
    drifted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonColumn<'a> {
    name: &'a str,
    kind: &'a str,
    test: &'a str,
    plugin: &'a str,
    statistic: Option<f64>,
    p_value: Option<f64>,
    threshold: Option<f64>,
    /// `null` when the test failed: a failed column is neither drifted nor stable.
    drifted: Option<bool>,
    missing_reference: usize,
    missing_current: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl Report {
    pub fn drifted_columns(&self) -> usize {
        self.columns
            .iter()
            .filter(|c| matches!(&c.outcome, Ok(r) if r.drifted))
            .count()
    }

    pub fn failed_columns(&self) -> usize {
        self.columns.iter().filter(|c| c.outcome.is_err()).count()
    }

    /// Dataset drift: at least `drift_share` of all columns drifted.
    pub fn dataset_drift(&self) -> bool {
        !self.columns.is_empty()
            && self.drifted_columns() as f64 >= self.drift_share * self.columns.len() as f64
    }

    pub fn to_json(&self) -> String {
        let columns = self
            .columns
            .iter()
            .map(|c| {
                let ok = c.outcome.as_ref().ok();
                JsonColumn {
                    name: &c.name,
                    kind: c.kind,
                    test: &c.test,
                    plugin: &c.plugin,
                    statistic: ok.map(|r| r.statistic),
                    p_value: ok.and_then(|r| r.p_value),
                    threshold: ok.map(|r| r.threshold),
                    drifted: ok.map(|r| r.drifted),
                    missing_reference: c.missing_reference,
                    missing_current: c.missing_current,
                    error: c.outcome.as_ref().err().map(String::as_str),
                }
            })
            .collect();
        let report = JsonReport {
            reference_rows: self.reference_rows,
            current_rows: self.current_rows,
            columns,
            drifted_columns: self.drifted_columns(),
            failed_columns: self.failed_columns(),
            drift_share: self.drift_share,
            dataset_drift: self.dataset_drift(),
            multivariate: self
                .multivariate
                .iter()
                .map(|m| {
                    let ok = m.outcome.as_ref().ok();
                    JsonMultivariate {
                        name: &m.name,
                        test: &m.test,
                        plugin: &m.plugin,
                        columns: &m.columns,
                        statistic: ok.map(|r| r.statistic),
                        p_value: ok.and_then(|r| r.p_value),
                        threshold: ok.map(|r| r.threshold),
                        drifted: ok.map(|r| r.drifted),
                        error: m.outcome.as_ref().err().map(String::as_str),
                    }
                })
                .collect(),
        };
        serde_json::to_string_pretty(&report).expect("the report serializes")
    }

    pub fn to_table(&self) -> String {
        let header = [
            "column",
            "kind",
            "test",
            "statistic",
            "p-value",
            "threshold",
            "drift",
            "missing (ref/cur)",
        ];
        let rows: Vec<Vec<String>> = self
            .columns
            .iter()
            .map(|c| {
                let missing = format!("{}/{}", c.missing_reference, c.missing_current);
                match &c.outcome {
                    Ok(r) => vec![
                        c.name.clone(),
                        c.kind.into(),
                        c.test.clone(),
                        format!("{:.6}", r.statistic),
                        r.p_value.map_or("-".into(), format_p),
                        format!("{}", r.threshold),
                        if r.drifted { "DRIFT" } else { "ok" }.into(),
                        missing,
                    ],
                    Err(_) => vec![
                        c.name.clone(),
                        c.kind.into(),
                        c.test.clone(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "FAILED".into(),
                        missing,
                    ],
                }
            })
            .collect();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Drift report: {} columns; reference {} rows, current {} rows\n",
            self.columns.len(),
            self.reference_rows,
            self.current_rows
        );
        out.push_str(&crate::table::render(&header, &rows));
        for c in &self.columns {
            if let Err(error) = &c.outcome {
                let _ = writeln!(out, "\ncolumn `{}` failed: {error}", c.name);
            }
        }
        if !self.multivariate.is_empty() {
            out.push_str(&self.multivariate_table());
        }
        let drifted = self.drifted_columns();
        let _ = writeln!(
            out,
            "\n{drifted} of {} columns drifted ({:.1}%); dataset drift: {} (at {:.0}% of columns)",
            self.columns.len(),
            100.0 * drifted as f64 / self.columns.len().max(1) as f64,
            if self.dataset_drift() { "YES" } else { "no" },
            100.0 * self.drift_share
        );
        out
    }
}

impl Report {
    /// The multivariate tests, one row each, after the columns' table.
    fn multivariate_table(&self) -> String {
        let header = [
            "multivariate",
            "test",
            "statistic",
            "p-value",
            "threshold",
            "drift",
        ];
        let rows: Vec<Vec<String>> = self
            .multivariate
            .iter()
            .map(|m| match &m.outcome {
                Ok(r) => vec![
                    m.name.clone(),
                    m.test.clone(),
                    format!("{:.6}", r.statistic),
                    r.p_value.map_or("-".into(), format_p),
                    format!("{}", r.threshold),
                    if r.drifted { "DRIFT" } else { "ok" }.into(),
                ],
                Err(_) => vec![
                    m.name.clone(),
                    m.test.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "FAILED".into(),
                ],
            })
            .collect();
        let mut out = String::from("\n");
        out.push_str(&crate::table::render(&header, &rows));
        for m in &self.multivariate {
            if let Err(error) = &m.outcome {
                let _ = writeln!(out, "\n`{}` failed: {error}", m.name);
            }
        }
        out
    }
}

fn format_p(p: f64) -> String {
    if p != 0.0 && p < 1e-4 {
        format!("{p:.3e}")
    } else {
        format!("{p:.6}")
    }
}
