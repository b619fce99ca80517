//! The two-sample KS statistic and its p-value, ported from `scipy.stats.ks_2samp` (two-sided,
//! `method="auto"`).
//!
//! Up to 10 000 values on each side the p-value is exact: the proportion of lattice paths
//! that leave the band `|x/m - y/n| < d` (Hodges 1958, in Viehmann's form, arXiv:2102.08037),
//! with a closed form when the sizes are equal. Beyond that, or when the exact computation
//! fails, it is `kstwo.sf(d, round(m*n/(m+n)))`.

use crate::kolmogorov::kstwo_sf;
use vigil_plugin_stats::order::Sample;

/// Largest sample size for which `method="auto"` attempts the exact distribution.
const MAX_AUTO_N: usize = 10_000;

/// A statistic and its two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsOutcome {
    /// The largest distance between the two empirical CDFs.
    pub statistic: f64,
    /// The two-sided p-value.
    pub p_value: f64,
}

/// KS test on two non-empty samples.
pub fn ks_2samp(a: &Sample, b: &Sample) -> KsOutcome {
    assert!(
        !a.is_empty() && !b.is_empty(),
        "ks_2samp needs two non-empty samples"
    );
    outcome(a.len(), b.len(), statistic(a, b))
}

/// KS test of a sketch standing for a reference of `reference_size` values
/// (docs/statistics.md): the statistic on the sketch, within 1/k of the exact one, and the
/// p-value for the real sample sizes.
pub fn ks_2samp_sketched(sketch: &Sample, reference_size: usize, b: &Sample) -> KsOutcome {
    assert!(!sketch.is_empty() && !b.is_empty());
    outcome(reference_size, b.len(), statistic(sketch, b))
}

/// The outcome of statistic `d` for samples of `n1` and `n2` values.
fn outcome(n1: usize, n2: usize, mut d: f64) -> KsOutcome {
    if n1.max(n2) <= MAX_AUTO_N {
        let exact = attempt_exact(n1 as i64, n2 as i64, d);
        // The statistic is reported as h/lcm whether or not the exact p-value succeeded.
        d = exact.statistic;
        if let Some(p_value) = exact.p_value {
            return KsOutcome {
                statistic: d,
                p_value: p_value.clamp(0.0, 1.0),
            };
        }
    }

    // Sorted descending, as SciPy does for the one-sided formula; the product is symmetric.
    let (m, n) = (n1.max(n2) as f64, n1.min(n2) as f64);
    let en = m * n / (m + n);
    let p_value = kstwo_sf(en.round_ties_even() as u64, d);
    KsOutcome {
        statistic: d,
        p_value: p_value.clamp(0.0, 1.0),
    }
}

/// `max |F_a(x) - F_b(x)|` over the pooled sample, with both empirical CDFs right-continuous.
///
/// One step per pooled value, without a data-dependent branch: take the smaller head, and if
/// the next pooled value is a different one (all copies of this one are counted), the CDFs'
/// difference `i/n1 - j/n2` is a candidate. The walk keeps `i*n2 - j*n1` in integers and
/// divides once, so the result is the exact difference correctly rounded. SciPy subtracts two
/// rounded CDFs, so its figure can differ from this by their rounding (about 1e-16).
fn statistic(a: &Sample, b: &Sample) -> f64 {
    let (n1, n2) = (a.len(), b.len());
    let (step_a, step_b) = (n2 as i64, n1 as i64);
    // The difference is 0 after the last value, so both extremes start there.
    let (mut max_diff, mut min_diff) = (0i64, 0i64);
    let (mut i, mut j, mut diff) = (0usize, 0usize, 0i64);
    let (mut x, mut y) = (a.key_or_sentinel(0), b.key_or_sentinel(0));
    for _ in 0..n1 + n2 {
        let value = x.min(y);
        let take_a = x <= y;
        // A sample's sentinel is never the smaller head while the other has a value left.
        i += usize::from(take_a);
        j += usize::from(!take_a);
        diff += if take_a { step_a } else { -step_b };
        (x, y) = (a.key_or_sentinel(i), b.key_or_sentinel(j));
        if x.min(y) != value {
            max_diff = max_diff.max(diff);
            min_diff = min_diff.min(diff);
        }
    }
    max_diff.max(-min_diff) as f64 / (n1 as f64 * n2 as f64)
}

/// The result of `_attempt_exact_2kssamp`: the statistic rounded to the lattice, and the
/// p-value unless the computation failed.
struct Exact {
    statistic: f64,
    p_value: Option<f64>,
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The exact two-sided p-value on the lattice of `h / lcm(n1, n2)`.
fn attempt_exact(n1: i64, n2: i64, d: f64) -> Exact {
    let g = gcd(n1, n2);
    let lcm = (n1 / g) * n2;
    // d*lcm is an integer up to rounding error; snapping to it puts d exactly on the lattice.
    let h = (d * lcm as f64).round_ties_even() as i64;
    let statistic = h as f64 * 1.0 / lcm as f64;
    if h == 0 {
        return Exact {
            statistic,
            p_value: Some(1.0),
        };
    }
    let prob = if n1 == n2 {
        prob_outside_square(n1, h)
    } else {
        outer_prob_inside_method(n1, n2, g, h)
    };
    // SciPy treats a result outside [0, 1] (rounding can push the square's sum just past 1)
    // as a failure and falls back to the asymptotic distribution.
    Exact {
        statistic,
        p_value: (0.0..=1.0).contains(&prob).then_some(prob),
    }
}

/// `Pr(D_{n,n} >= h/n)`: `2 * sum_k (-1)^(k+1) C(2n, n - kh) / C(2n, n)`, each ratio formed
/// as a product of `h` factors and the alternating sum nested Horner-style to avoid
/// cancellation: `2 A0 (1 - A1 (1 - A2 (1 - ...)))`.
fn prob_outside_square(n: i64, h: i64) -> f64 {
    let mut p = 0.0;
    let mut k = n / h;
    while k >= 0 {
        let mut p1 = 1.0;
        for j in 0..h {
            p1 = (n - k * h - j) as f64 * p1 / (n + k * h + j + 1) as f64;
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// The proportion of lattice paths from (0, 0) to (m, n) that leave the band
/// `|x/m - y/n| < h/lcm(m, n)`, computed column by column as the probability of having left
/// (Viehmann's recursion for `1 - p`), keeping only the sliding window of the column that lies
/// inside the band.
fn outer_prob_inside_method(m: i64, n: i64, g: i64, h: i64) -> f64 {
    // Symmetric in m and n; the window is shorter with m >= n.
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let mg = m / g;
    let ng = n / g;

    let mut minj: i64 = 0;
    let mut maxj: i64 = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut curlen = maxj - minj;
    let len = (2 * maxj + 2).min(n + 1) as usize;
    // Outside the window every entry is 1: those paths have already left the band.
    let mut column = vec![1.0f64; len];
    column[minj as usize..maxj as usize].fill(0.0);
    for i in 1..=m {
        let (lastminj, lastlen) = (minj, curlen);
        minj = ((((ng * i - h) as f64 / mg as f64).floor() as i64) + 1).max(0);
        minj = minj.min(n);
        maxj = (((ng * i + h) as f64 / mg as f64).ceil() as i64).min(n + 1);
        if maxj <= minj {
            return 1.0;
        }
        let fi = i as f64;
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            val = (column[(jj + minj - lastminj) as usize] * fi + val * j as f64) / (i + j) as f64;
            column[jj as usize] = val;
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            // Entries the window no longer covers fall outside the band again.
            let from = (maxj - minj) as usize;
            column[from..from + (lastlen - curlen) as usize].fill(1.0);
        }
    }
    column[(maxj - minj - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(values: &[f64]) -> Sample {
        Sample::new(values.to_vec())
    }

    fn statistic_of(a: &[f64], b: &[f64]) -> f64 {
        statistic(&sample(a), &sample(b))
    }

    #[test]
    fn statistic_counts_ties_after_the_last_copy() {
        assert_eq!(statistic_of(&[1.0, 1.0, 2.0], &[0.5, 1.0]), 1.0 / 2.0);
        // At 1.0, F_a = 1 and F_b = 1/2; stopping after the copies of 1.0 in `a` but before
        // the one in `b` would give a gap of 1.
        assert_eq!(statistic_of(&[1.0, 1.0, 1.0], &[1.0, 2.0]), 1.0 / 2.0);
        assert_eq!(statistic_of(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        assert_eq!(statistic_of(&[-0.0, 0.0], &[0.0, -0.0]), 0.0);
        assert_eq!(statistic_of(&[0.0], &[1.0]), 1.0);
        assert_eq!(statistic_of(&[1.0], &[0.0]), 1.0);
        assert_eq!(
            statistic_of(&[3.0, 1.0, 2.0], &[2.0, 2.0, 2.0, 2.0]),
            1.0 / 3.0
        );
        assert_eq!(statistic_of(&[1.0, 5.0], &[2.0, 3.0, 4.0]), 1.0 / 2.0);
    }

    #[test]
    fn square_matches_the_binomial_formula() {
        // Pr(D_{3,3} >= 2/3) = 2 C(6, 1) / C(6, 3) = 12/20 and Pr(D_{4,4} >= 1) = 2/70, to the
        // bit as SciPy rounds them.
        assert_eq!(prob_outside_square(3, 2), 0.6);
        assert_eq!(prob_outside_square(4, 4), 0.028571428571428577);
    }

    #[test]
    fn exact_failure_falls_back_to_asymptotic() {
        // Interleaved samples put D at 1/n, where the square's sum rounds to just above 1
        // for n = 5; SciPy then reports kstwo.sf(0.2, 2) = 1.
        let a = [1.0, 3.0, 5.0, 7.0, 9.0];
        let b = [2.0, 4.0, 6.0, 8.0, 10.0];
        assert!(prob_outside_square(5, 1) > 1.0);
        let outcome = ks_2samp(&sample(&a), &sample(&b));
        assert_eq!(outcome.statistic, 0.2);
        assert_eq!(outcome.p_value, 1.0);
    }

    #[test]
    fn inside_method_matches_scipy() {
        // SciPy: _compute_outer_prob_inside_method(7, 5, 1, 12)
        assert_eq!(outer_prob_inside_method(7, 5, 1, 12), 0.7373737373737375);
        assert_eq!(outer_prob_inside_method(5, 7, 1, 12), 0.7373737373737375);
    }

    #[test]
    fn million_vs_million_matches_scipy() {
        // Exactly representable in both languages: a regular grid and a stretched copy.
        // SciPy: ks_2samp(a, b) with a = i / 1e6, b = (i * 1.0015 + 0.3) / 1e6.
        let a: Vec<f64> = (0..1_000_000).map(|i| f64::from(i) / 1e6).collect();
        let b: Vec<f64> = (0..1_000_000)
            .map(|i| (f64::from(i) * 1.0015 + 0.3) / 1e6)
            .collect();
        let outcome = ks_2samp(&Sample::new(a), &Sample::new(b));
        // SciPy's 0.001499000000000028 is the difference of two CDFs rounded near 0.5;
        // this is 1499/1e6 correctly rounded.
        assert_eq!(outcome.statistic, 0.001499);
        let expected = 0.21097157594832994;
        assert!(
            ((outcome.p_value - expected) / expected).abs() < 1e-12,
            "{outcome:?}"
        );
    }
}
