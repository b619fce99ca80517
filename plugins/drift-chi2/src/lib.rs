//! `drift-chi2`: Pearson's chi-square test of homogeneity between the category counts of the
//! reference and of a window, as `scipy.stats.chi2_contingency(table, correction=False)`.
//!
//! The table has one column per category seen on either side, matched by label (each side
//! carries its own dictionary); a category seen on one side only counts 0 on the other.
//! Missing values are dropped.

pub mod chi2;

use vigil_plugin_sdk::{Result, ScoreKind};
use vigil_plugin_stats::two_sample::{CategoricalStatistic, CategoricalTest, Outcome};

/// Pearson's chi-square statistic of the 2×K table.
pub struct ChiSquare;

impl CategoricalStatistic for ChiSquare {
    const DESCRIPTION: &'static str =
        "Chi-square test of homogeneity between reference and window category counts";
    const SCORE: ScoreKind = ScoreKind::PValue;
    const DEFAULT_THRESHOLD: f64 = 0.05;

    fn compare(reference: &[u64], current: &[u64]) -> Result<Outcome> {
        let outcome = chi2::chi2_homogeneity(reference, current);
        Ok((outcome.statistic, Some(outcome.p_value)))
    }
}

/// The chi-square drift test.
pub type Chi2 = CategoricalTest<ChiSquare>;

vigil_plugin_sdk::export_drift_test!(Chi2);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing::drift_test;
    use vigil_plugin_sdk::{CategoricalColumn, ColumnData, Error, MISSING_CODE};

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
