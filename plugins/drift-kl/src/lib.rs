//! `drift-kl`: the Kullback–Leibler divergence KL(window ‖ reference), natural log, over the
//! shared bins of docs/statistics.md. Each side's proportions are floored at 1e-4 first (as
//! PSI's are), so that a bin empty on one side gives a large but finite divergence, and then
//! renormalised, as `scipy.stats.entropy(current, reference)` does.

use vigil_plugin_stats::binning::proportions;
use vigil_plugin_stats::special::rel_entr;
use vigil_plugin_stats::sum::pairwise_sum;
use vigil_plugin_stats::two_sample::{BinnedDistance, BinnedTest};

/// Proportions below this are raised to it.
pub const FLOOR: f64 = 1e-4;

/// The divergence.
pub struct KullbackLeibler;

/// Floored proportions, renormalised to sum to 1.
fn smoothed(counts: &[u64]) -> Vec<f64> {
    let floored: Vec<f64> = proportions(counts)
        .into_iter()
        .map(|p| p.max(FLOOR))
        .collect();
    let total = pairwise_sum(&floored);
    floored.into_iter().map(|p| p / total).collect()
}

impl BinnedDistance for KullbackLeibler {
    const DESCRIPTION: &'static str = "Kullback-Leibler divergence of the window from the reference over reference deciles \
         (numeric) or categories";
    const DEFAULT_THRESHOLD: f64 = 0.1;

    fn distance(reference: &[u64], current: &[u64]) -> f64 {
        let (p, q) = (smoothed(current), smoothed(reference));
        let terms: Vec<f64> = p.iter().zip(&q).map(|(&x, &y)| rel_entr(x, y)).collect();
        pairwise_sum(&terms)
    }
}

/// The Kullback–Leibler drift test.
pub type Kl = BinnedTest<KullbackLeibler>;

vigil_plugin_sdk::export_drift_test!(Kl);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_for_equal_proportions_and_finite_for_disjoint_ones() {
        assert_eq!(KullbackLeibler::distance(&[3, 5], &[6, 10]), 0.0);
        let disjoint = KullbackLeibler::distance(&[3, 0], &[0, 7]);
        assert!(disjoint.is_finite() && disjoint > 9.0, "{disjoint}");
    }
}
