//! The quantile sketch of a large reference (docs/statistics.md, "Quantile-sketch mode"): `k`
//! order statistics at evenly spaced ranks, taken once when the test is built, after which the
//! reference's size no longer matters to memory or to the time of an evaluation.
//!
//! The sketch of a sorted reference `x_(1) ≤ … ≤ x_(n)` is `s_i = x_(⌈i·n/k⌉)` for
//! `i = 1..k`, each standing for `n/k` values. If `c` reference values are at most `t`, then
//! `s_i ≤ t` exactly when `⌈i·n/k⌉ ≤ c`, that is for `⌊c·k/n⌋` of them. So the sketch's
//! empirical CDF is `F_s(t) = ⌊c·k/n⌋ / k` while the reference's is `F(t) = c / n`:
//! **`F(t) − 1/k < F_s(t) ≤ F(t)` at every `t`**. Everything the sketched tests state about
//! their error follows from that line:
//!
//! - KS `D = sup |F − G|` moves by less than `1/k`;
//! - Kuiper `V = sup (F − G) + sup (G − F)`: one term falls by less than `1/k` while the other
//!   rises by less than `1/k`, so `V` moves by less than `1/k`;
//! - Wasserstein `∫ |F − G|` moves by at most `∫ (F − F_s) = mean(s) − mean(x)`
//!   ([`Sketch::wasserstein_bound`], computed exactly at create; at most
//!   `(max − min) / k`);
//! - energy `√2 ‖F − G‖₂` moves by at most `√2 ‖F − F_s‖₂ ≤ √2 · sqrt(wasserstein_bound / k)`
//!   (Minkowski's inequality, and `(F − F_s)² ≤ (F − F_s) / k`).

use vigil_plugin_sdk::{Error, Result};

use crate::sum::{mean, pairwise_sum, variance};

/// The fewest quantiles a sketch may keep.
pub const MIN_QUANTILES: usize = 16;
/// The most quantiles a sketch may keep.
pub const MAX_QUANTILES: usize = 1 << 20;

/// The 0-based positions in a sorted sample of `n` values of the `k` order statistics a sketch
/// keeps: `⌈i·n/k⌉ − 1` for `i = 1..k` (computed in u64: `i·n` overflows usize on wasm32).
pub fn ranks(n: usize, k: usize) -> impl Iterator<Item = usize> {
    (1..=k as u64).map(move |i| ((i * n as u64).div_ceil(k as u64) - 1) as usize)
}

/// `k` quantiles of a reference and what the sketched tests need of the full reference.
#[derive(Debug, Clone)]
pub struct Sketch {
    /// The kept order statistics, ascending.
    pub quantiles: Vec<f64>,
    /// How many values the reference held.
    pub reference_size: usize,
    /// The reference's standard deviation (`np.std`, ddof 0), computed before it is dropped.
    pub reference_std: f64,
    /// `mean(quantiles) − mean(reference)`: the most the Wasserstein distance can move.
    pub wasserstein_bound: f64,
}

/// Checks a configured number of quantiles.
pub fn quantile_count(k: usize) -> Result<usize> {
    if (MIN_QUANTILES..=MAX_QUANTILES).contains(&k) {
        Ok(k)
    } else {
        Err(Error::InvalidConfig(format!(
            "sketch must be between {MIN_QUANTILES} and {MAX_QUANTILES} quantiles, got {k}"
        )))
    }
}

impl Sketch {
    /// The sketch of a sorted, non-empty reference with more than `k` values.
    pub fn new(sorted: &[f64], k: usize) -> Self {
        let n = sorted.len();
        debug_assert!(n > k && k > 0);
        let quantiles: Vec<f64> = ranks(n, k).map(|r| sorted[r]).collect();
        // Both means are of sorted data; their difference is the exact integral
        // ∫ (F − F_s) only up to rounding, so the bound carries a margin of a few ulps of the
        // larger magnitude.
        let gap = mean(&quantiles) - mean(sorted);
        let scale = pairwise_sum(&[sorted[0].abs(), sorted[n - 1].abs()]);
        let wasserstein_bound = gap.max(0.0) + 8.0 * f64::EPSILON * scale;
        Sketch {
            reference_std: variance(sorted, 0).sqrt(),
            reference_size: n,
            wasserstein_bound,
            quantiles,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecdf::walk;
    use crate::test_rng::Rng;

    /// The sketch's CDF is within 1/k below the reference's at every pooled value.
    #[test]
    fn the_sketch_cdf_stays_within_one_over_k() {
        let mut rng = Rng(5);
        for case in 0..200 {
            let n = 17 + rng.below(5000);
            let k = MIN_QUANTILES + rng.below(n - MIN_QUANTILES);
            let mut values: Vec<f64> = (0..n)
                .map(|_| {
                    let x = rng.normal();
                    if case % 3 == 0 { x.round() } else { x }
                })
                .collect();
            values.sort_by(f64::total_cmp);
            let sketch = Sketch::new(&values, k);
            let (nf, kf) = (n as f64, k as f64);
            walk(&values, &sketch.quantiles, |point| {
                let f = point.first_at_most as f64 / nf;
                let f_s = point.second_at_most as f64 / kf;
                assert!(f_s <= f + 1e-15 && f - f_s < 1.0 / kf + 1e-15, "{n} {k}");
            });
            assert!(sketch.wasserstein_bound >= 0.0);
            assert!(sketch.wasserstein_bound <= (values[n - 1] - values[0]) / kf + 1e-12);
        }
    }

    #[test]
    fn the_count_is_checked() {
        assert!(quantile_count(4096).is_ok());
        assert!(quantile_count(3).is_err());
        assert!(quantile_count(MAX_QUANTILES + 1).is_err());
    }
}
