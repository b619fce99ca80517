//! `drift-chi2`: Pearson's chi-square test of homogeneity between the category counts of the
//! reference and of a window, as `scipy.stats.chi2_contingency(table, correction=False)`.
//!
//! The table has one column per category seen on either side, matched by label (each side
//! carries its own dictionary); a category seen on one side only counts 0 on the other.
//! Missing values are dropped.

pub mod chi2;
pub mod igam;

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{
    ColumnData, ColumnKind, DriftResult, DriftTest, Error, MISSING_CODE, Result, ScoreKind,
};

/// Configuration of the chi-square test.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Drift when the p-value is below this.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
}

fn default_threshold() -> f64 {
    0.05
}

/// The test, holding the reference's counts per category.
pub struct Chi2 {
    /// Reference counts, one per category, in the order of the reference's dictionary.
    counts: Vec<u64>,
    /// Position of each reference category in `counts`.
    index: HashMap<String, usize>,
    threshold: f64,
}

impl DriftTest for Chi2 {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Chi-square test of homogeneity between reference and window category counts";
    const COLUMN_KINDS: &'static [ColumnKind] = &[ColumnKind::Categorical];
    const SCORE: ScoreKind = ScoreKind::PValue;

    fn new(reference: ColumnData, config: Config) -> Result<Self> {
        if !(config.threshold > 0.0 && config.threshold < 1.0) {
            return Err(Error::InvalidConfig(format!(
                "threshold must lie strictly between 0 and 1, got {}",
                config.threshold
            )));
        }
        let mut counts = Vec::new();
        let mut index = HashMap::new();
        for (position, (label, count)) in label_counts(reference, "reference")?
            .into_iter()
            .enumerate()
        {
            counts.push(count);
            index.insert(label, position);
        }
        Ok(Chi2 {
            counts,
            index,
            threshold: config.threshold,
        })
    }

    fn evaluate(&self, current: ColumnData) -> Result<DriftResult> {
        let mut reference_row = self.counts.clone();
        let mut current_row = vec![0; reference_row.len()];
        for (label, count) in label_counts(current, "current window")? {
            match self.index.get(&label) {
                Some(&position) => current_row[position] = count,
                None => {
                    reference_row.push(0);
                    current_row.push(count);
                }
            }
        }
        let outcome = chi2::chi2_homogeneity(&reference_row, &current_row);
        Ok(DriftResult {
            statistic: outcome.statistic,
            p_value: Some(outcome.p_value),
            threshold: self.threshold,
            drifted: outcome.p_value < self.threshold,
        })
    }
}

/// The count of each label present in the column, in dictionary order; labels listed twice in
/// the dictionary are merged and labels without values left out, since a category neither side
/// has has no expected count. An error if the column is numeric, holds a code outside its
/// dictionary, or has no values.
fn label_counts(column: ColumnData, what: &str) -> Result<Vec<(String, u64)>> {
    let ColumnData::Categorical(column) = column else {
        return Err(Error::InvalidInput(format!(
            "the chi-square test takes a categorical column; the {what} is numeric"
        )));
    };

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
        return Err(Error::InvalidInput(format!(
            "the {what} has no values to test"
        )));
    }
    Ok(counts)
}

vigil_plugin_sdk::export_drift_test!(Chi2);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::CategoricalColumn;
    use vigil_plugin_sdk::testing::drift_test;

    fn column(labels: &[Option<&str>]) -> ColumnData {
        ColumnData::categorical(labels.iter().copied())
    }

    #[test]
    fn rejects_thresholds_outside_the_unit_interval() {
        for config in [
            r#"{"threshold": 0}"#,
            r#"{"threshold": 1}"#,
            r#"{"threshold": -0.5}"#,
        ] {
            let result = drift_test::<Chi2>(column(&[Some("a")]), column(&[Some("a")]), config);
            assert!(
                matches!(result, Err(Error::InvalidConfig(_))),
                "{config}: {result:?}"
            );
        }
    }

    #[test]
    fn rejects_unknown_fields() {
        let result = drift_test::<Chi2>(
            column(&[Some("a")]),
            column(&[Some("a")]),
            r#"{"alpha": 0.1}"#,
        );
        assert!(matches!(result, Err(Error::InvalidConfig(_))), "{result:?}");
    }

    #[test]
    fn rejects_numeric_columns() {
        let result = drift_test::<Chi2>(ColumnData::numeric(vec![1.0]), column(&[Some("a")]), "");
        assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
        let result = drift_test::<Chi2>(column(&[Some("a")]), ColumnData::numeric(vec![1.0]), "");
        assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
    }

    #[test]
    fn rejects_codes_outside_the_dictionary() {
        let broken = ColumnData::Categorical(CategoricalColumn {
            categories: vec!["a".to_string()],
            codes: vec![0, 1],
        });
        let result = drift_test::<Chi2>(broken, column(&[Some("a")]), "");
        assert!(matches!(result, Err(Error::InvalidInput(_))), "{result:?}");
    }

    #[test]
    fn matches_categories_by_label_across_dictionaries() {
        let reference = column(&[Some("a"), Some("b"), Some("b"), None]);
        // Same labels, other dictionary order, a duplicated label and an unused one.
        let current = ColumnData::Categorical(CategoricalColumn {
            categories: vec!["b".into(), "unused".into(), "a".into(), "b".into()],
            codes: vec![3, 2, 0, MISSING_CODE],
        });
        let result = drift_test::<Chi2>(reference, current, "").unwrap();
        assert_eq!(result.statistic, 0.0);
        assert_eq!(result.p_value, Some(1.0));
        assert!(!result.drifted);
        assert_eq!(result.threshold, 0.05);
    }
}
