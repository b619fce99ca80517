//! `drift-mwu`: the two-sided Mann–Whitney U test, as `scipy.stats.mannwhitneyu(reference,
//! current, alternative="two-sided", method="auto")`; the statistic is U of the reference.
//!
//! Like SciPy's `auto`: when either sample has at most 8 values and no value is tied, the
//! p-value comes from the exact null distribution of U; otherwise from the normal
//! approximation with the tie correction and the continuity correction.

use vigil_plugin_sdk::{Result, ScoreKind};
use vigil_plugin_stats::ecdf::TieGroups;
use vigil_plugin_stats::special::normal_sf;
use vigil_plugin_stats::sum::pairwise_sum_iter;
use vigil_plugin_stats::two_sample::{NumericStatistic, NumericTest, Outcome};

/// Samples at most this large (on the smaller side) get the exact distribution when untied.
const EXACT_MAX: usize = 8;

/// `P(U ≤ k)` under the null for samples of sizes `m` and `n`: the coefficients of the Gaussian
/// binomial `[m + n, m]_q` (the number of arrangements with each U) up to `q^k`, over
/// `C(m + n, m)`. Built one factor `(1 − q^(n+i)) / (1 − q^i)` at a time, dividing first so
/// that every intermediate coefficient is a count.
pub fn exact_cdf(k: usize, m: usize, n: usize) -> f64 {
    let (m, n) = (m.min(n), m.max(n));
    let mut counts = vec![0.0f64; k + 1];
    counts[0] = 1.0;
    let mut total = 1.0f64;
    for i in 1..=m {
        for u in i..=k {
            counts[u] += counts[u - i];
        }
        for u in (n + i..=k).rev() {
            counts[u] -= counts[u - n - i];
        }
        total = total * (n + i) as f64 / i as f64;
    }
    counts.iter().sum::<f64>() / total
}

/// The U test.
pub struct MannWhitney;

impl NumericStatistic for MannWhitney {
    const DESCRIPTION: &'static str = "Two-sided Mann-Whitney U test (exact for small untied samples, else normal with tie \
         and continuity corrections)";
    const SCORE: ScoreKind = ScoreKind::PValue;
    const DEFAULT_THRESHOLD: f64 = 0.05;

    fn compare(reference: &[f64], current: &[f64]) -> Result<Outcome> {
        let (n1, n2) = (reference.len(), current.len());
        let groups = TieGroups::new(reference, current);
        // Midranks: a group of t copies starting after `below` values has rank below + (t+1)/2.
        let mut rank_sum = 0.0;
        let mut below = 0usize;
        let mut group_count = 0usize;
        for (in_reference, in_current) in groups.clone() {
            let t = (in_reference + in_current) as f64;
            rank_sum += in_reference as f64 * (below as f64 + (t + 1.0) / 2.0);
            below += in_reference + in_current;
            group_count += 1;
        }
        let (f1, f2) = (n1 as f64, n2 as f64);
        let u1 = rank_sum - f1 * (f1 + 1.0) / 2.0;
        let u = u1.max(f1 * f2 - u1);
        let tied = group_count < n1 + n2;
        let p = if n1.min(n2) <= EXACT_MAX && !tied {
            2.0 * exact_cdf(n1 * n2 - u as usize, n1, n2)
        } else {
            let n = f1 + f2;
            let mut tie_terms = groups.map(|(in_reference, in_current)| {
                let t = (in_reference + in_current) as f64;
                t * t * t - t
            });
            let tie_term = pairwise_sum_iter(group_count, &mut tie_terms);
            let s = (f1 * f2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
            let z = (u - f1 * f2 / 2.0 - 0.5) / s;
            // All values tied: s = 0 and z = -inf, a p-value of 1 as in SciPy.
            2.0 * normal_sf(z)
        };
        Ok((u1, Some(p.clamp(0.0, 1.0))))
    }
}

/// The Mann–Whitney drift test.
pub type Mwu = NumericTest<MannWhitney>;

vigil_plugin_sdk::export_drift_test!(Mwu);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_distribution_of_small_samples() {
        // m = n = 2: U takes 0, 1, 2, 2, 3, 4 over the six arrangements.
        assert_eq!(exact_cdf(0, 2, 2), 1.0 / 6.0);
        assert_eq!(exact_cdf(2, 2, 2), 4.0 / 6.0);
        assert_eq!(exact_cdf(4, 2, 2), 1.0);
        // SciPy's documented example: males vs females, U = 17, p = 0.1111…
        let (u, p) =
            MannWhitney::compare(&[16.0, 19.0, 22.0, 24.0, 29.0], &[11.0, 12.0, 17.0, 20.0])
                .unwrap();
        assert_eq!(u, 17.0);
        assert!((p.unwrap() - 0.1111111111111111).abs() < 1e-15);
    }
}
