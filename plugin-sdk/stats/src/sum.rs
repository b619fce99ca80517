//! Sums in NumPy's order, so that statistics agree with SciPy's to the last bit rather than to
//! the rounding error of another summation order.

/// Sums like NumPy's `add.reduce` on a contiguous float64 array: blocks of up to 128 values
/// summed with eight accumulators, larger arrays split in halves (at a multiple of eight).
pub fn pairwise_sum(values: &[f64]) -> f64 {
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

/// `np.mean`: the pairwise sum divided by the count. NaN for an empty slice.
pub fn mean(values: &[f64]) -> f64 {
    pairwise_sum(values) / values.len() as f64
}

/// `np.var(values, ddof=ddof)`: the pairwise sum of squared deviations from [`mean`], divided
/// by `n - ddof`.
pub fn variance(values: &[f64], ddof: usize) -> f64 {
    let mean = mean(values);
    let squares: Vec<f64> = values.iter().map(|&v| (v - mean) * (v - mean)).collect();
    pairwise_sum(&squares) / (values.len() as f64 - ddof as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_plain_sum_on_exact_values() {
        for n in [0u64, 1, 7, 8, 9, 127, 128, 129, 1000, 4097] {
            let values: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let expected = (n * n.saturating_sub(1) / 2) as f64;
            assert_eq!(pairwise_sum(&values), expected, "n = {n}");
        }
    }

    #[test]
    fn groups_terms_like_numpy() {
        // np.add.reduce([1e16, 1, -1e16, 1, 1, 1, 1, 1, 1]) is 5.0: eight accumulators
        // combined in pairs, then the ninth value; a left fold gives 6.0.
        let values = [1e16, 1.0, -1e16, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(pairwise_sum(&values), 5.0);
        assert_eq!(values.iter().sum::<f64>(), 6.0);
        assert_eq!(pairwise_sum(&[]), 0.0);
    }

    #[test]
    fn mean_and_variance() {
        assert_eq!(mean(&[1.0, 2.0, 3.0, 6.0]), 3.0);
        assert_eq!(variance(&[1.0, 2.0, 3.0, 6.0], 0), 3.5);
        assert_eq!(variance(&[1.0, 2.0, 3.0, 6.0], 1), 14.0 / 3.0);
    }
}
