//! `drift-js`: the Jensen–Shannon distance (base 2, between 0 and 1) between the reference's
//! and a window's proportions over the shared bins of docs/statistics.md, as
//! `scipy.spatial.distance.jensenshannon(reference_counts, current_counts, base=2)`.

use vigil_plugin_stats::binning::proportions;
use vigil_plugin_stats::special::rel_entr;
use vigil_plugin_stats::sum::pairwise_sum;
use vigil_plugin_stats::two_sample::{BinnedDistance, BinnedTest};

/// The distance.
pub struct JensenShannon;

impl BinnedDistance for JensenShannon {
    const DESCRIPTION: &'static str =
        "Jensen-Shannon distance (base 2) over reference deciles (numeric) or categories";
    const DEFAULT_THRESHOLD: f64 = 0.1;

    fn distance(reference: &[u64], current: &[u64]) -> f64 {
        let (p, q) = (proportions(reference), proportions(current));
        let m: Vec<f64> = p.iter().zip(&q).map(|(a, b)| (a + b) / 2.0).collect();
        let divergence = |side: &[f64]| {
            let terms: Vec<f64> = side.iter().zip(&m).map(|(&x, &y)| rel_entr(x, y)).collect();
            pairwise_sum(&terms)
        };
        let js = (divergence(&p) + divergence(&q)) / 2f64.ln();
        (js / 2.0).sqrt()
    }
}

/// The Jensen–Shannon drift test.
pub type Js = BinnedTest<JensenShannon>;

vigil_plugin_sdk::export_drift_test!(Js);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(JensenShannon::distance(&[3, 5], &[6, 10]), 0.0);
        assert_eq!(JensenShannon::distance(&[3, 0], &[0, 7]), 1.0);
    }
}
