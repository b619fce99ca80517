//! `drift-hellinger`: the Hellinger distance `sqrt(sum((sqrt(p) - sqrt(q))²) / 2)` (between 0
//! and 1) between the reference's and a window's raw proportions over the shared bins of
//! docs/statistics.md.

use vigil_plugin_stats::binning::proportions;
use vigil_plugin_stats::sum::pairwise_sum;
use vigil_plugin_stats::two_sample::{BinnedDistance, BinnedTest};

/// The distance.
pub struct HellingerDistance;

impl BinnedDistance for HellingerDistance {
    const DESCRIPTION: &'static str =
        "Hellinger distance over reference deciles (numeric) or categories";
    const DEFAULT_THRESHOLD: f64 = 0.1;

    fn distance(reference: &[u64], current: &[u64]) -> f64 {
        let (p, q) = (proportions(reference), proportions(current));
        let terms: Vec<f64> = p
            .iter()
            .zip(&q)
            .map(|(a, b)| (a.sqrt() - b.sqrt()).powi(2))
            .collect();
        (pairwise_sum(&terms) / 2.0).sqrt()
    }
}

/// The Hellinger drift test.
pub type Hellinger = BinnedTest<HellingerDistance>;

vigil_plugin_sdk::export_drift_test!(Hellinger);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(HellingerDistance::distance(&[3, 5], &[6, 10]), 0.0);
        assert_eq!(HellingerDistance::distance(&[3, 0], &[0, 7]), 1.0);
    }
}
