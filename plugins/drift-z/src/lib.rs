//! `drift-z`: the pooled two-proportion Z-test on a column with two categories. The proportion
//! compared is that of the first category of the union of both sides (the reference's first):
//! `z = (p_ref − p_cur) / sqrt(p (1 − p) (1/n_ref + 1/n_cur))` with `p` pooled, p-value
//! `2 · P(Z > |z|)`. A single category on both sides gives z = 0 and a p-value of 1; a column
//! with more than two categories is refused (use `chi2` or `g`).

use vigil_plugin_sdk::{Error, Result, ScoreKind};
use vigil_plugin_stats::special::normal_sf;
use vigil_plugin_stats::two_sample::{CategoricalStatistic, CategoricalTest, Outcome};

/// The Z statistic and its p-value.
pub struct TwoProportions;

impl CategoricalStatistic for TwoProportions {
    const DESCRIPTION: &'static str =
        "Two-proportion Z-test (pooled) on a column with two categories";
    const SCORE: ScoreKind = ScoreKind::PValue;
    const DEFAULT_THRESHOLD: f64 = 0.05;

    fn compare(reference: &[u64], current: &[u64]) -> Result<Outcome> {
        if reference.len() > 2 {
            return Err(Error::InvalidInput(format!(
                "the two-proportion Z-test compares two categories, but the reference and the \
                 window hold {} between them; use chi2 or g for this column",
                reference.len()
            )));
        }
        let n1 = reference.iter().sum::<u64>() as f64;
        let n2 = current.iter().sum::<u64>() as f64;
        let (x1, x2) = (reference[0] as f64, current[0] as f64);
        let pooled = (x1 + x2) / (n1 + n2);
        let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
        if se == 0.0 {
            return Ok((0.0, Some(1.0)));
        }
        let z = (x1 / n1 - x2 / n2) / se;
        Ok((z, Some(2.0 * normal_sf(z.abs()))))
    }
}

/// The Z-test drift test.
pub type Z = CategoricalTest<TwoProportions>;

vigil_plugin_sdk::export_drift_test!(Z);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_proportions_and_single_categories_do_not_drift() {
        assert_eq!(
            TwoProportions::compare(&[10, 20], &[5, 10]).unwrap(),
            (0.0, Some(1.0))
        );
        assert_eq!(
            TwoProportions::compare(&[10], &[5]).unwrap(),
            (0.0, Some(1.0))
        );
        assert!(TwoProportions::compare(&[1, 2, 3], &[1, 2, 3]).is_err());
    }
}
