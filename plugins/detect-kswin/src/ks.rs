//! The two-sample Kolmogorov–Smirnov test on two samples of equal size, as
//! `scipy.stats.ks_2samp(a, b, method="auto")` computes it there: the exact two-sided p-value
//! (SciPy takes the exact path up to 10 000 values a side, and KSWIN's samples are its
//! `stat_size`). The p-value is the same Horner-style sum as `plugins/drift-ks/src/ks.rs`.

/// The statistic `D = h / n` and its two-sided p-value.
pub struct KsOutcome {
    pub statistic: f64,
    pub p_value: f64,
}

/// KS test on two non-empty samples of the same size, without NaN.
pub fn ks_equal_sizes(a: &mut [f64], b: &mut [f64]) -> KsOutcome {
    debug_assert!(a.len() == b.len() && !a.is_empty());
    let n = a.len();
    a.sort_unstable_by(f64::total_cmp);
    b.sort_unstable_by(f64::total_cmp);
    // Walk both sorted samples one distinct value at a time; after all copies of a value, the
    // ECDFs differ by (i - j) / n.
    let (mut i, mut j, mut h) = (0usize, 0usize, 0usize);
    while i < n || j < n {
        let value = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => unreachable!(),
        };
        while i < n && a[i] == value {
            i += 1;
        }
        while j < n && b[j] == value {
            j += 1;
        }
        h = h.max(i.abs_diff(j));
    }
    // SciPy reports the statistic snapped to the lattice as `h * 1.0 / lcm`, here `h / n`.
    let statistic = h as f64 * 1.0 / n as f64;
    let p_value = if h == 0 {
        1.0
    } else {
        let p = prob_outside_square(n as i64, h as i64);
        // Where rounding takes the sum outside [0, 1] SciPy falls back to the asymptotic
        // distribution; that happens only for the smallest `h`, whose p-value is 1 up to
        // rounding, so 1 stands in for it.
        if (0.0..=1.0).contains(&p) { p } else { 1.0 }
    };
    KsOutcome { statistic, p_value }
}

/// `Pr(D_{n,n} >= h/n)`: `2 * sum_k (-1)^(k+1) C(2n, n - kh) / C(2n, n)`, each ratio formed
/// as a product of `h` factors and the alternating sum nested Horner-style, in SciPy's order.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scipy_on_small_samples() {
        // scipy.stats.ks_2samp([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]): D = 1, p = 2 / C(10, 5).
        let outcome = ks_equal_sizes(
            &mut [5.0, 3.0, 1.0, 2.0, 4.0],
            &mut [6.0, 7.0, 8.0, 9.0, 10.0],
        );
        assert_eq!(outcome.statistic, 1.0);
        assert_eq!(outcome.p_value, 2.0 / 252.0);
        // Ties across the samples count once both sides have passed the value.
        let outcome = ks_equal_sizes(&mut [1.0, 1.0, 2.0], &mut [1.0, 2.0, 2.0]);
        assert_eq!(outcome.statistic, 1.0 / 3.0);
        let same = ks_equal_sizes(&mut [0.5, 0.5], &mut [0.5, 0.5]);
        assert_eq!((same.statistic, same.p_value), (0.0, 1.0));
    }
}
