//! `drift-kuiper`: the two-sample Kuiper test. The statistic `V = max(F_ref − F_cur) +
//! max(F_cur − F_ref)` is like KS but equally sensitive in the tails and in the middle; the
//! p-value is the asymptotic one with Stephens' small-sample correction (Numerical Recipes'
//! `kuipertwo`), as docs/statistics.md states it. SciPy has no two-sample Kuiper test: the
//! reference values come from a NumPy implementation of that definition.

use vigil_plugin_sdk::{Result, ScoreKind};
use vigil_plugin_stats::sketch::Sketch;
use vigil_plugin_stats::two_sample::{NumericStatistic, NumericTest, Outcome};

/// `Q_KP(λ) = 2 Σ_{j≥1} (4j²λ² − 1) exp(−2j²λ²)`, 1 below λ = 0.4; the series stops at the first
/// term at most 1e-16 of the sum (or below 1e-300), after at most 100 terms; clipped to [0, 1].
pub fn kuiper_sf(lambda: f64) -> f64 {
    if lambda < 0.4 {
        return 1.0;
    }
    let mut total = 0.0;
    for j in 1..=100 {
        let j = f64::from(j);
        let a = 2.0 * j * j * lambda * lambda;
        let term = 2.0 * (2.0 * a - 1.0) * (-a).exp();
        total += term;
        if term.abs() <= 1e-16 * total.abs() || term.abs() < 1e-300 {
            break;
        }
    }
    total.clamp(0.0, 1.0)
}

/// The Kuiper statistic and p-value.
pub struct KuiperTest;

impl NumericStatistic for KuiperTest {
    const DESCRIPTION: &'static str =
        "Two-sample Kuiper test (asymptotic p-value with Stephens' correction)";
    const SCORE: ScoreKind = ScoreKind::PValue;
    const DEFAULT_THRESHOLD: f64 = 0.05;

    /// Within 1/k of the exact statistic (docs/statistics.md); the p-value takes the
    /// reference's real size.
    const SKETCH: bool = true;

    fn compare(reference: &[f64], current: &[f64]) -> Result<Outcome> {
        let v = statistic(reference, current);
        Ok((v, Some(p_value(v, reference.len(), current.len()))))
    }

    fn compare_sketch(sketch: &Sketch, current: &[f64]) -> Result<Outcome> {
        let v = statistic(&sketch.quantiles, current);
        Ok((v, Some(p_value(v, sketch.reference_size, current.len()))))
    }
}

/// `V` of two sorted samples. The CDFs' gap is kept as the integer `i·m − j·n` (so exact) and
/// checked after each distinct value; once one sample is used up the gap only shrinks towards
/// 0, so the walk stops there.
fn statistic(reference: &[f64], current: &[f64]) -> f64 {
    let (n, m) = (reference.len(), current.len());
    let (mut i, mut j) = (0usize, 0usize);
    let (mut above, mut below) = (0i64, 0i64);
    while i < n && j < m {
        let value = reference[i].min(current[j]);
        while i < n && reference[i] == value {
            i += 1;
        }
        while j < m && current[j] == value {
            j += 1;
        }
        let gap = i as i64 * m as i64 - j as i64 * n as i64;
        above = above.max(gap);
        below = below.min(gap);
    }
    let scale = n as f64 * m as f64;
    above as f64 / scale + (-below) as f64 / scale
}

/// Stephens' asymptotic p-value of `V` for samples of `n` and `m` values.
fn p_value(v: f64, n: usize, m: usize) -> f64 {
    let (n, m) = (n as f64, m as f64);
    let root = (n * m / (n + m)).sqrt();
    kuiper_sf((root + 0.155 + 0.24 / root) * v)
}

/// The Kuiper drift test.
pub type Kuiper = NumericTest<KuiperTest>;

vigil_plugin_sdk::export_drift_test!(Kuiper);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_samples_do_not_drift() {
        let (v, p) = KuiperTest::compare(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((v, p), (0.0, Some(1.0)));
        assert!(kuiper_sf(4.0) < 1e-10);
    }
}
