//! `drift-psi`: the Population Stability Index between the reference and a window.
//!
//! Numeric columns are binned at the reference's deciles (NumPy's default `linear` quantiles,
//! duplicate edges dropped) into right-closed bins (-inf, e1], (e1, e2], …, (ek, +inf);
//! categorical columns use one bin per category seen on either side, matched by label. Each
//! side's proportions are floored at 1e-4 (not renormalised) and
//! `psi = sum((cur - ref) * ln(cur / ref))`. Missing values are dropped.

pub mod psi;

use vigil_plugin_stats::two_sample::{BinnedDistance, BinnedTest};

use crate::psi::proportion;

/// The index, on the shared bins.
pub struct PsiDistance;

impl BinnedDistance for PsiDistance {
    const DESCRIPTION: &'static str =
        "Population Stability Index over reference deciles (numeric) or categories";
    /// 0.1 is the customary "some shift", 0.25 "major shift".
    const DEFAULT_THRESHOLD: f64 = 0.1;

    fn distance(reference: &[u64], current: &[u64]) -> f64 {
        let (reference_total, current_total) = (total(reference), total(current));
        psi::psi(
            current
                .iter()
                .zip(reference)
                .map(|(&c, &r)| (proportion(c, current_total), proportion(r, reference_total))),
        )
    }
}

/// The PSI drift test.
pub type Psi = BinnedTest<PsiDistance>;

fn total(counts: &[u64]) -> u64 {
    counts.iter().sum()
}

vigil_plugin_sdk::export_drift_test!(Psi);

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_plugin_sdk::testing::drift_test;
    use vigil_plugin_sdk::{
        CategoricalColumn, ColumnData, DriftTest, Error, MISSING_CODE, parse_config,
    };

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
            parse_config("").unwrap(),
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
