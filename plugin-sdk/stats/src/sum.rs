//! Sums in NumPy's order, so that statistics agree with SciPy's to the last bit rather than to
//! the rounding error of another summation order.

/// Sums like NumPy's `add.reduce` on a contiguous float64 array: blocks of up to 128 values
/// summed with eight accumulators, larger arrays split in halves (at a multiple of eight).
pub fn pairwise_sum(values: &[f64]) -> f64 {
    pairwise_sum_of(values, |v| v)
}

/// [`pairwise_sum`] of `term(v)` for each value, in the same order, so the same bits as
/// summing the mapped values after collecting them. The terms are computed in place, block by
/// block, where the compiler can keep the eight accumulators in vector registers.
#[inline]
pub fn pairwise_sum_of(values: &[f64], term: impl Fn(f64) -> f64 + Copy) -> f64 {
    let n = values.len();
    if n < 8 {
        values.iter().fold(0.0, |sum, &v| sum + term(v))
    } else if n <= 128 {
        let mut acc = [0.0; 8];
        for (a, &v) in acc.iter_mut().zip(&values[..8]) {
            *a = term(v);
        }
        let whole = n - n % 8;
        for block in values[8..whole].chunks_exact(8) {
            for (a, &v) in acc.iter_mut().zip(block) {
                *a += term(v);
            }
        }
        let sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        values[whole..].iter().fold(sum, |sum, &v| sum + term(v))
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_sum_of(&values[..half], term) + pairwise_sum_of(&values[half..], term)
    }
}

/// [`pairwise_sum`] of `n` terms drawn from `terms` in order, without collecting them: the
/// same blocks and the same splits, so the same bits, in O(log n) memory. Missing terms (an
/// iterator shorter than `n`) count as 0; extra ones are not drawn.
pub fn pairwise_sum_iter(n: usize, terms: &mut impl Iterator<Item = f64>) -> f64 {
    if n <= 128 {
        let mut block = [0.0; 128];
        for slot in &mut block[..n] {
            *slot = terms.next().unwrap_or(0.0);
        }
        pairwise_sum(&block[..n])
    } else {
        let half = n / 2;
        let half = half - half % 8;
        let first = pairwise_sum_iter(half, terms);
        first + pairwise_sum_iter(n - half, terms)
    }
}

/// [`pairwise_sum_iter`] of `K` sequences at once, drawn as one `[f64; K]` per step: each lane
/// is summed exactly as [`pairwise_sum`] sums it, so a pass computing several quantities per
/// value keeps none of them.
pub fn pairwise_sum_lanes<const K: usize>(
    n: usize,
    terms: &mut impl Iterator<Item = [f64; K]>,
) -> [f64; K] {
    if n <= 128 {
        let mut block = [[0.0; 128]; K];
        for i in 0..n {
            let lanes = terms.next().unwrap_or([0.0; K]);
            for (lane, value) in block.iter_mut().zip(lanes) {
                lane[i] = value;
            }
        }
        block.map(|lane| pairwise_sum(&lane[..n]))
    } else {
        let half = n / 2;
        let half = half - half % 8;
        let first = pairwise_sum_lanes(half, terms);
        let second = pairwise_sum_lanes(n - half, terms);
        std::array::from_fn(|k| first[k] + second[k])
    }
}

/// `np.mean`: the pairwise sum divided by the count. NaN for an empty slice.
pub fn mean(values: &[f64]) -> f64 {
    pairwise_sum(values) / values.len() as f64
}

/// The pairwise sum of `(v - centre)²`, as NumPy sums the squared deviations in `np.var`.
pub fn squared_deviations(values: &[f64], centre: f64) -> f64 {
    pairwise_sum_of(values, |v| (v - centre) * (v - centre))
}

/// `np.var(values, ddof=ddof)`: the pairwise sum of squared deviations from [`mean`], divided
/// by `n - ddof`.
pub fn variance(values: &[f64], ddof: usize) -> f64 {
    let mean = mean(values);
    squared_deviations(values, mean) / (values.len() as f64 - ddof as f64)
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
    fn the_streamed_sum_has_the_same_bits() {
        let mut rng = crate::test_rng::Rng(7);
        for n in [
            0, 1, 7, 8, 9, 127, 128, 129, 255, 256, 257, 1000, 4097, 100_003,
        ] {
            let values: Vec<f64> = (0..n).map(|_| rng.normal() * 1e3).collect();
            let streamed = pairwise_sum_iter(n, &mut values.iter().copied());
            assert_eq!(
                streamed.to_bits(),
                pairwise_sum(&values).to_bits(),
                "n = {n}"
            );
            let doubled: Vec<f64> = values.iter().map(|v| v * 3.0).collect();
            let lanes = pairwise_sum_lanes(n, &mut values.iter().map(|&v| [v, v * 3.0]));
            assert_eq!(lanes[0].to_bits(), pairwise_sum(&values).to_bits());
            assert_eq!(lanes[1].to_bits(), pairwise_sum(&doubled).to_bits());
            let mapped = pairwise_sum_of(&values, |v| v * 3.0);
            assert_eq!(
                mapped.to_bits(),
                pairwise_sum(&doubled).to_bits(),
                "n = {n}"
            );
        }
    }

    #[test]
    fn mean_and_variance() {
        assert_eq!(mean(&[1.0, 2.0, 3.0, 6.0]), 3.0);
        assert_eq!(variance(&[1.0, 2.0, 3.0, 6.0], 0), 3.5);
        assert_eq!(variance(&[1.0, 2.0, 3.0, 6.0], 1), 14.0 / 3.0);
    }
}
