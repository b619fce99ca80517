//! `drift-chi2`: Pearson's chi-square test of homogeneity between the category counts of the
//! reference and of a window, as `scipy.stats.chi2_contingency(table, correction=False)`.
//!
//! The table has one column per category seen on either side, matched by label (each side
//! carries its own dictionary); a category seen on one side only counts 0 on the other.
//! Missing values are dropped.

pub mod chi2;

use schemars::JsonSchema;
use serde::Deserialize;
use vigil_plugin_sdk::{ColumnData, ColumnKind, DriftResult, DriftTest, Result, ScoreKind};
use vigil_plugin_stats::labels::Categories;
use vigil_plugin_stats::outcome::{p_value_result, p_value_threshold};

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
    categories: Categories,
    threshold: f64,
}

impl DriftTest for Chi2 {
    type Config = Config;
    const DESCRIPTION: &'static str =
        "Chi-square test of homogeneity between reference and window category counts";
    const COLUMN_KINDS: &'static [ColumnKind] = &[ColumnKind::Categorical];
    const SCORE: ScoreKind = ScoreKind::PValue;

    fn new(reference: ColumnData, config: Config) -> Result<Self> {
        Ok(Chi2 {
            threshold: p_value_threshold(config.threshold)?,
            categories: Categories::new(reference, "reference")?,
        })
    }

    fn evaluate(&self, current: ColumnData) -> Result<DriftResult> {
        let (reference_row, current_row) = self.categories.align(current, "current window")?;
        let outcome = chi2::chi2_homogeneity(&reference_row, &current_row);
        Ok(p_value_result(
            outcome.statistic,
            outcome.p_value,
            self.threshold,
        ))
    }
}

vigil_plugin_sdk::export_drift_test!(Chi2);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing::drift_test;
    use vigil_plugin_sdk::{CategoricalColumn, Error, MISSING_CODE};

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
