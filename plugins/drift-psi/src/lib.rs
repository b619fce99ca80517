//! `drift-psi`: the Population Stability Index between the reference and a window.
//!
//! Numeric columns are binned at the reference's deciles (NumPy's default `linear` quantiles,
//! duplicate edges dropped) into right-closed bins (-inf, e1], (e1, e2], …, (ek, +inf);
//! categorical columns use one bin per category seen on either side, matched by label. Each
//! side's proportions are floored at 1e-4 (not renormalised) and
//! `psi = sum((cur - ref) * ln(cur / ref))`. Missing values are dropped.

pub mod psi;

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{
    CategoricalColumn, ColumnData, ColumnKind, DriftResult, DriftTest, Error, MISSING_CODE, Result,
    ScoreKind,
};

use crate::psi::{FLOOR, bin_of, decile_edges, proportion, sorted_bin_counts};

/// Configuration of the PSI test.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Drift when the index is at or above this (0.1 is the customary "some shift",
    /// 0.25 "major shift").
    #[serde(default = "default_threshold")]
    pub threshold: f64,
}

fn default_threshold() -> f64 {
    0.1
}

/// The test, holding the reference's bins and floored proportions.
pub struct Psi {
    reference: Reference,
    threshold: f64,
}

/// What a window is compared with, fixed when the test is built.
enum Reference {
    Numeric {
        /// Distinct inner bin edges, ascending.
        edges: Vec<f64>,
        /// Floored proportion per bin; one more than there are edges.
        proportions: Vec<f64>,
    },
    Categorical {
        /// Position of each reference category in `proportions`.
        index: HashMap<String, usize>,
        /// Floored proportion per reference category, in dictionary order.
        proportions: Vec<f64>,
    },
}

impl DriftTest for Psi {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Population Stability Index over reference deciles (numeric) or categories";
    const COLUMN_KINDS: &'static [ColumnKind] = &[ColumnKind::Numeric, ColumnKind::Categorical];
    const SCORE: ScoreKind = ScoreKind::Distance;

    fn new(reference: ColumnData, config: Config) -> Result<Self> {
        if !(config.threshold.is_finite() && config.threshold > 0.0) {
            return Err(Error::InvalidConfig(format!(
                "threshold must be a positive number, got {}",
                config.threshold
            )));
        }
        let reference = match reference {
            ColumnData::Numeric(values) => {
                let sorted = sorted_values(values, "reference")?;
                let edges = decile_edges(&sorted);
                if edges.iter().any(|e| !e.is_finite()) {
                    return Err(Error::InvalidInput(
                        "the reference's deciles are not finite numbers (too many infinite \
                         values); PSI needs finite bin edges"
                            .to_string(),
                    ));
                }
                let total = sorted.len() as u64;
                let proportions = sorted_bin_counts(&edges, &sorted)
                    .into_iter()
                    .map(|count| proportion(count, total))
                    .collect();
                Reference::Numeric { edges, proportions }
            }
            ColumnData::Categorical(column) => {
                let counts = label_counts(column, "reference")?;
                let total = counts.iter().map(|(_, count)| count).sum();
                let mut index = HashMap::with_capacity(counts.len());
                let mut proportions = Vec::with_capacity(counts.len());
                for (position, (label, count)) in counts.into_iter().enumerate() {
                    index.insert(label, position);
                    proportions.push(proportion(count, total));
                }
                Reference::Categorical { index, proportions }
            }
        };
        Ok(Psi {
            reference,
            threshold: config.threshold,
        })
    }

    fn evaluate(&self, current: ColumnData) -> Result<DriftResult> {
        let statistic = match (&self.reference, current) {
            (Reference::Numeric { edges, proportions }, ColumnData::Numeric(values)) => {
                numeric_psi(edges, proportions, &values)?
            }
            (Reference::Categorical { index, proportions }, ColumnData::Categorical(column)) => {
                categorical_psi(index, proportions, column)?
            }
            (Reference::Numeric { .. }, ColumnData::Categorical(_)) => {
                return Err(Error::InvalidInput(
                    "the reference is numeric but the current window is categorical".into(),
                ));
            }
            (Reference::Categorical { .. }, ColumnData::Numeric(_)) => {
                return Err(Error::InvalidInput(
                    "the reference is categorical but the current window is numeric".into(),
                ));
            }
        };
        Ok(DriftResult {
            statistic,
            p_value: None,
            threshold: self.threshold,
            drifted: statistic >= self.threshold,
        })
    }
}

/// PSI of a numeric window against the reference's bins: one binary search per value.
fn numeric_psi(edges: &[f64], reference: &[f64], values: &[f64]) -> Result<f64> {
    let mut counts = vec![0u64; reference.len()];
    let mut total = 0;
    for &value in values.iter().filter(|v| !v.is_nan()) {
        counts[bin_of(edges, value)] += 1;
        total += 1;
    }
    if total == 0 {
        return Err(no_values("current window"));
    }
    Ok(psi::psi(counts.into_iter().zip(reference).map(
        |(count, &reference)| (proportion(count, total), reference),
    )))
}

/// PSI of a categorical window against the reference's categories; categories the reference
/// lacks come after the reference's own, with the floor as their reference proportion.
fn categorical_psi(
    index: &HashMap<String, usize>,
    reference: &[f64],
    column: CategoricalColumn,
) -> Result<f64> {
    let counts = label_counts(column, "current window")?;
    let total = counts.iter().map(|(_, count)| count).sum();
    let mut matched = vec![0u64; reference.len()];
    let mut unseen = Vec::new();
    for (label, count) in counts {
        match index.get(&label) {
            Some(&position) => matched[position] = count,
            None => unseen.push(count),
        }
    }
    let known = matched
        .into_iter()
        .zip(reference)
        .map(|(count, &reference)| (proportion(count, total), reference));
    let new = unseen
        .into_iter()
        .map(|count| (proportion(count, total), FLOOR));
    Ok(psi::psi(known.chain(new)))
}

/// The column's non-missing values, sorted; an error if none are left.
fn sorted_values(mut values: Vec<f64>, what: &str) -> Result<Vec<f64>> {
    values.retain(|v| !v.is_nan());
    if values.is_empty() {
        return Err(no_values(what));
    }
    values.sort_unstable_by(f64::total_cmp);
    Ok(values)
}

/// The count of each label present in the column, in dictionary order; labels listed twice in
/// the dictionary are merged and labels without values left out (a bin empty on both sides
/// adds nothing). An error if a code lies outside the dictionary or no value is left.
fn label_counts(column: CategoricalColumn, what: &str) -> Result<Vec<(String, u64)>> {
    let mut per_code = vec![0u64; column.categories.len()];
    for &code in &column.codes {
        if code == MISSING_CODE {
            continue;
        }
        match per_code.get_mut(code as usize) {
            Some(count) => *count += 1,
            None => {
                return Err(Error::InvalidInput(format!(
                    "the {what} holds code {code}, but its dictionary has only {} categories",
                    column.categories.len()
                )));
            }
        }
    }

    let mut counts: Vec<(String, u64)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (label, count) in column.categories.into_iter().zip(per_code) {
        if count == 0 {
            continue;
        }
        match seen.get(&label) {
            Some(&position) => counts[position].1 += count,
            None => {
                seen.insert(label.clone(), counts.len());
                counts.push((label, count));
            }
        }
    }

    if counts.is_empty() {
        return Err(no_values(what));
    }
    Ok(counts)
}

fn no_values(what: &str) -> Error {
    Error::InvalidInput(format!("the {what} has no values to compare"))
}

vigil_plugin_sdk::export_drift_test!(Psi);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing::drift_test;

    fn labels(values: &[Option<&str>]) -> ColumnData {
        ColumnData::categorical(values.iter().copied())
    }

    #[test]
    fn rejects_bad_thresholds() {
        for config in [
            r#"{"threshold": 0}"#,
            r#"{"threshold": -0.1}"#,
            r#"{"threshold": "high"}"#,
            r#"{"threshold": 0.1, "bins": 20}"#,
        ] {
            let result = drift_test::<Psi>(
                ColumnData::numeric(vec![1.0]),
                ColumnData::numeric(vec![1.0]),
                config,
            );
            assert!(
                matches!(result, Err(Error::InvalidConfig(_))),
                "{config}: {result:?}"
            );
        }
    }

    #[test]
    fn rejects_mixed_kinds() {
        let result = drift_test::<Psi>(ColumnData::numeric(vec![1.0]), labels(&[Some("a")]), "");
        assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
        let result = drift_test::<Psi>(labels(&[Some("a")]), ColumnData::numeric(vec![1.0]), "");
        assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
    }

    #[test]
    fn rejects_references_without_finite_deciles() {
        let reference = ColumnData::numeric(vec![f64::NEG_INFINITY, f64::NEG_INFINITY, 1.0]);
        let result = drift_test::<Psi>(reference, ColumnData::numeric(vec![1.0]), "");
        assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
    }

    #[test]
    fn infinite_window_values_land_in_the_outer_bins() {
        let reference: Vec<f64> = (0..100).map(f64::from).collect();
        let result = drift_test::<Psi>(
            ColumnData::numeric(reference),
            ColumnData::numeric(vec![f64::NEG_INFINITY, f64::INFINITY]),
            "",
        )
        .unwrap();
        assert!(result.statistic.is_finite());
        assert!(result.drifted);
    }

    #[test]
    fn reuses_the_reference_across_windows() {
        let reference: Vec<f64> = (0..1000).map(|i| f64::from(i) / 10.0).collect();
        let test = Psi::new(
            ColumnData::numeric(reference.clone()),
            Config { threshold: 0.1 },
        )
        .unwrap();
        let same = test.evaluate(ColumnData::numeric(reference)).unwrap();
        assert_eq!(same.statistic, 0.0);
        assert!(!same.drifted);
        assert_eq!(same.p_value, None);
        let shifted = test
            .evaluate(ColumnData::numeric(vec![1000.0; 50]))
            .unwrap();
        assert!(shifted.drifted);
    }

    #[test]
    fn matches_categories_by_label_across_dictionaries() {
        let reference = labels(&[Some("a"), Some("b"), Some("b"), None]);
        let current = ColumnData::Categorical(CategoricalColumn {
            categories: vec!["b".into(), "unused".into(), "a".into(), "b".into()],
            codes: vec![3, 2, 0, MISSING_CODE],
        });
        let result = drift_test::<Psi>(reference, current, "").unwrap();
        assert_eq!(result.statistic, 0.0);
        assert!(!result.drifted);
    }

    #[test]
    fn rejects_codes_outside_the_dictionary() {
        let broken = ColumnData::Categorical(CategoricalColumn {
            categories: vec!["a".into()],
            codes: vec![0, 7],
        });
        let result = drift_test::<Psi>(labels(&[Some("a")]), broken, "");
        assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
    }
}
