//! NumPy's legacy generator, `numpy.random.RandomState(seed)`, for the draws a reference script
//! must be able to repeat: the multivariate tests' permutations and subsamples
//! (docs/statistics.md, "Multivariate"). The generator is MT19937 from `rand_mt`, seeded as
//! NumPy seeds it from an integer (`init_genrand`); the draws are NumPy's legacy algorithms.

use rand_mt::Mt;

/// `numpy.random.RandomState(seed)` for an integer seed below 2^32.
pub struct RandomState(Mt);

impl RandomState {
    /// `RandomState(seed)`.
    pub fn new(seed: u32) -> Self {
        RandomState(Mt::new(seed))
    }

    /// NumPy's `random_interval(max)`: uniform in `0..=max`, by rejection on the smallest bit
    /// mask covering `max` (32-bit draws, since `max < 2^32`).
    fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        loop {
            let value = self.0.next_u32() & mask;
            if value <= max {
                return value;
            }
        }
    }

    /// `RandomState.permutation(n)`: `0..n` shuffled by the legacy Fisher–Yates shuffle, which
    /// swaps position `i` with `random_interval(i)` for `i` from `n - 1` down to 1.
    /// Needs `n <= 2^32`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut values: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.interval(i as u32) as usize;
            values.swap(i, j);
        }
        values
    }

    /// `np.sort(RandomState.permutation(n)[:k])`: `k` of `0..n` picked without replacement,
    /// ascending, so that a subsample keeps the rows' order.
    pub fn subsample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut picked = self.permutation(n);
        picked.truncate(k);
        picked.sort_unstable();
        picked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_numpys() {
        // np.random.RandomState(0).permutation(10), and RandomState(42).permutation(5).
        assert_eq!(
            RandomState::new(0).permutation(10),
            [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]
        );
        assert_eq!(RandomState::new(42).permutation(5), [1, 4, 2, 0, 3]);
    }

    #[test]
    fn edge_sizes() {
        assert!(RandomState::new(1).permutation(0).is_empty());
        assert_eq!(RandomState::new(1).permutation(1), [0]);
        assert_eq!(RandomState::new(1).subsample(5, 5), [0, 1, 2, 3, 4]);
    }
}
