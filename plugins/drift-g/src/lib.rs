//! `drift-g`: the G-test (log-likelihood ratio) of homogeneity between the category counts of
//! the reference and of a window, as `scipy.stats.chi2_contingency(table, correction=False,
//! lambda_="log-likelihood")`: `G = 2 Σ O ln(O / E)` over the 2×K table of the categories seen
//! on either side (a category seen on one side only counts 0 on the other), compared with the
//! chi-square distribution with K − 1 degrees of freedom. A single category gives G = 0 and a
//! p-value of 1.

use vigil_plugin_sdk::{Result, ScoreKind};
use vigil_plugin_stats::contingency::observed_and_expected;
use vigil_plugin_stats::special::{chi2_sf, xlogy};
use vigil_plugin_stats::sum::pairwise_sum;
use vigil_plugin_stats::two_sample::{CategoricalStatistic, CategoricalTest, Outcome};

/// The G statistic and its p-value.
pub struct LikelihoodRatio;

impl CategoricalStatistic for LikelihoodRatio {
    const DESCRIPTION: &'static str = "G-test (log-likelihood ratio) of homogeneity between reference and window category \
         counts";
    const SCORE: ScoreKind = ScoreKind::PValue;
    const DEFAULT_THRESHOLD: f64 = 0.05;

    fn compare(reference: &[u64], current: &[u64]) -> Result<Outcome> {
        let dof = reference.len().saturating_sub(1);
        if dof == 0 {
            return Ok((0.0, Some(1.0)));
        }
        let terms: Vec<f64> = observed_and_expected(reference, current)
            .into_iter()
            .map(|(observed, expected)| 2.0 * xlogy(observed, observed / expected))
            .collect();
        let statistic = 0.0 + pairwise_sum(&terms);
        Ok((statistic, Some(chi2_sf(dof as f64, statistic))))
    }
}

/// The G-test drift test.
pub type G = CategoricalTest<LikelihoodRatio>;

vigil_plugin_sdk::export_drift_test!(G);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportional_rows_give_zero() {
        let (g, p) = LikelihoodRatio::compare(&[10, 20, 30], &[20, 40, 60]).unwrap();
        assert_eq!(g, 0.0);
        assert_eq!(p, Some(1.0));
        assert_eq!(
            LikelihoodRatio::compare(&[5], &[7]).unwrap(),
            (0.0, Some(1.0))
        );
    }
}
