//! The index itself: floored proportions and the sum, computed as the NumPy definition does,
//! so that results agree to the last bit. The bins are the shared ones of
//! [`vigil_plugin_stats::binning`].

use vigil_plugin_stats::sum::pairwise_sum;

/// Proportions are raised to this before the logarithm, so that an empty bin on one side
/// contributes a large but finite term.
pub const FLOOR: f64 = 1e-4;

/// `count / total`, floored at [`FLOOR`].
pub fn proportion(count: u64, total: u64) -> f64 {
    (count as f64 / total as f64).max(FLOOR)
}

/// The index from pairs of (current, reference) floored proportions:
/// sum of (cur - ref) · ln(cur / ref).
pub fn psi(pairs: impl IntoIterator<Item = (f64, f64)>) -> f64 {
    let terms: Vec<f64> = pairs
        .into_iter()
        .map(|(current, reference)| (current - reference) * (current / reference).ln())
        .collect();
    0.0 + pairwise_sum(&terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_proportions_give_zero() {
        assert_eq!(psi([(0.25, 0.25), (0.75, 0.75)]), 0.0);
    }

    #[test]
    fn floor_keeps_empty_bins_finite() {
        let value = psi([(proportion(0, 10), proportion(10, 10)), (1.0, FLOOR)]);
        assert!(value.is_finite() && value > 0.0);
    }
}
