//! `drift-tvd`: the total variation distance `sum(|p - q|) / 2` (between 0 and 1) between the
//! reference's and a window's raw proportions over the shared bins of docs/statistics.md.

use vigil_plugin_stats::binning::proportions;
use vigil_plugin_stats::sum::pairwise_sum;
use vigil_plugin_stats::two_sample::{BinnedDistance, BinnedTest};

/// The distance.
pub struct TotalVariation;

impl BinnedDistance for TotalVariation {
    const DESCRIPTION: &'static str =
        "Total variation distance over reference deciles (numeric) or categories";
    const DEFAULT_THRESHOLD: f64 = 0.1;

    fn distance(reference: &[u64], current: &[u64]) -> f64 {
        let (p, q) = (proportions(reference), proportions(current));
        let terms: Vec<f64> = p.iter().zip(&q).map(|(a, b)| (a - b).abs()).collect();
        0.5 * pairwise_sum(&terms)
    }
}

/// The total variation drift test.
pub type Tvd = BinnedTest<TotalVariation>;

vigil_plugin_sdk::export_drift_test!(Tvd);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(TotalVariation::distance(&[3, 5], &[6, 10]), 0.0);
        assert_eq!(TotalVariation::distance(&[3, 0], &[0, 7]), 1.0);
    }
}
