//! The pieces of the Population Stability Index: decile bin edges, proportions and the sum,
//! each computed as the NumPy definition does, so that results agree to the last bit.

/// The quantiles whose values become the inner bin edges.
pub const DECILES: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// Proportions are raised to this before the logarithm, so that an empty bin on one side
/// contributes a large but finite term.
pub const FLOOR: f64 = 1e-4;

/// The `q`-quantile of a non-empty sorted sample by linear interpolation between order
/// statistics, as `np.quantile(sorted, q)` (method `linear`) computes it.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let last = sorted.len() - 1;
    let virtual_index = last as f64 * q;
    if virtual_index >= last as f64 {
        return sorted[last];
    }
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    let below = sorted[previous as usize];
    let above = sorted[previous as usize + 1];
    // NumPy interpolates from the nearer end, which keeps the result monotone in q.
    let difference = above - below;
    if gamma >= 0.5 {
        above - difference * (1.0 - gamma)
    } else {
        below + difference * gamma
    }
}

/// The distinct decile values of a non-empty sorted sample, ascending (`np.unique` of
/// `np.quantile(sorted, DECILES)`).
pub fn decile_edges(sorted: &[f64]) -> Vec<f64> {
    let mut edges: Vec<f64> = DECILES.iter().map(|&q| quantile(sorted, q)).collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup_by(|a, b| a == b);
    edges
}

/// The bin of `value` among the right-closed bins (-inf, e1], (e1, e2], …, (ek, +inf): the
/// number of edges strictly below it (`np.searchsorted(edges, value, side="left")`).
pub fn bin_of(edges: &[f64], value: f64) -> usize {
    edges.partition_point(|&edge| edge < value)
}

/// Counts per bin of a sorted sample, by binary search for each edge.
pub fn sorted_bin_counts(edges: &[f64], sorted: &[f64]) -> Vec<u64> {
    let mut counts = Vec::with_capacity(edges.len() + 1);
    let mut below = 0;
    for &edge in edges {
        let up_to_edge = sorted.partition_point(|&v| v <= edge);
        counts.push((up_to_edge - below) as u64);
        below = up_to_edge;
    }
    counts.push((sorted.len() - below) as u64);
    counts
}

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

/// Sums like NumPy's `add.reduce` on a contiguous float64 array (blocks of 128 summed with
/// eight accumulators, larger arrays split in halves), so that the index agrees with the NumPy
/// definition to the last bit rather than to the rounding error of another summation order.
fn pairwise_sum(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 8 {
        values.iter().fold(0.0, |sum, &v| sum + v)
    } else if n <= 128 {
        let mut acc = [0.0; 8];
        acc.copy_from_slice(&values[..8]);
        let whole = n - n % 8;
        for block in values[8..whole].chunks_exact(8) {
            for (a, &v) in acc.iter_mut().zip(block) {
                *a += v;
            }
        }
        let sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        values[whole..].iter().fold(sum, |sum, &v| sum + v)
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_sum(&values[..half]) + pairwise_sum(&values[half..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_like_numpy() {
        let sorted = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile(&sorted, 0.0), 1.0);
        assert_eq!(quantile(&sorted, 0.5), 3.0);
        assert_eq!(quantile(&sorted, 1.0), 8.0);
        // (n - 1) q = 0.3 · 3 = 0.8999999999999999: interpolated from above.
        assert_eq!(
            quantile(&sorted, 0.3),
            2.0 - 1.0 * (1.0 - 0.8999999999999999)
        );
        assert_eq!(quantile(&[5.0], 0.9), 5.0);
    }

    #[test]
    fn constant_sample_has_one_edge() {
        assert_eq!(decile_edges(&[7.0; 10]), vec![7.0]);
    }

    #[test]
    fn bins_are_right_closed() {
        let edges = [1.0, 2.0];
        assert_eq!(bin_of(&edges, 0.5), 0);
        assert_eq!(bin_of(&edges, 1.0), 0);
        assert_eq!(bin_of(&edges, 1.5), 1);
        assert_eq!(bin_of(&edges, 2.0), 1);
        assert_eq!(bin_of(&edges, 2.5), 2);
        assert_eq!(bin_of(&edges, f64::INFINITY), 2);
        assert_eq!(bin_of(&edges, f64::NEG_INFINITY), 0);
        let sorted = [0.5, 1.0, 1.0, 1.5, 2.0, 3.0];
        assert_eq!(sorted_bin_counts(&edges, &sorted), vec![3, 2, 1]);
    }

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
