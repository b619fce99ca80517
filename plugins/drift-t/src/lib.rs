//! `drift-t`: Welch's two-sided t-test for a difference in means without assuming equal
//! variances, as `scipy.stats.ttest_ind(reference, current, equal_var=False)`; the statistic is
//! positive when the reference's mean is larger.
//!
//! Undefined where SciPy returns NaN or an infinite statistic (fewer than two values on a side,
//! both sides constant, variances that underflow): such windows are refused as invalid input.

use vigil_plugin_sdk::{Error, Result, ScoreKind};
use vigil_plugin_stats::outcome::{has_nan, without_nan};
use vigil_plugin_stats::special::t_sf;
use vigil_plugin_stats::sum::{mean, squared_deviations};
use vigil_plugin_stats::two_sample::{NumericStatistic, NumericTest, Outcome};

/// A side's size, mean and sample variance as SciPy's `_var(x, ddof=1)` computes it (the mean
/// squared deviation scaled by `n / (n − 1)`), over its non-missing values. The values come
/// with NaN kept: a NaN makes the mean NaN, and only then are they looked for and removed.
fn summary(values: &[f64], what: &str) -> Result<(f64, f64, f64)> {
    let centre = mean(values);
    if centre.is_nan() && has_nan(values) {
        return summary(&without_nan(values, what)?, what);
    }
    if values.len() < 2 {
        return Err(Error::InvalidInput(
            "Welch's t-test needs at least two values on each side".into(),
        ));
    }
    let n = values.len() as f64;
    Ok((
        n,
        centre,
        squared_deviations(values, centre) / n * (n / (n - 1.0)),
    ))
}

/// Welch's t.
pub struct WelchT;

impl NumericStatistic for WelchT {
    const DESCRIPTION: &'static str = "Welch's two-sided t-test for a difference in means";
    const SCORE: ScoreKind = ScoreKind::PValue;
    const DEFAULT_THRESHOLD: f64 = 0.05;
    /// Sums need no order: the samples stay in column order, as NumPy sums them, NaN kept.
    const SORTED: bool = false;

    fn compare(reference: &[f64], current: &[f64]) -> Result<Outcome> {
        let (n1, mean1, variance1) = summary(reference, "reference")?;
        let (n2, mean2, variance2) = summary(current, "current window")?;
        let (vn1, vn2) = (variance1 / n1, variance2 / n2);
        let df = (vn1 + vn2).powi(2) / (vn1 * vn1 / (n1 - 1.0) + vn2 * vn2 / (n2 - 1.0));
        // As SciPy: an undefined df (both variances zero, or overflowing squares) is taken as 1.
        let df = if df.is_nan() { 1.0 } else { df };
        let t = (mean1 - mean2) / (vn1 + vn2).sqrt();
        if !t.is_finite() {
            return Err(Error::InvalidInput(
                "Welch's t is undefined here: both samples are constant (or their variances \
                 underflow); choose another test for this column"
                    .into(),
            ));
        }
        Ok((t, Some(2.0 * t_sf(df, t.abs()))))
    }
}

/// The Welch t drift test.
pub type T = NumericTest<WelchT>;

vigil_plugin_sdk::export_drift_test!(T);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_means_do_not_drift_and_constant_samples_are_refused() {
        let (t, p) = WelchT::compare(&[1.0, 2.0, 3.0], &[0.0, 2.0, 4.0]).unwrap();
        assert_eq!((t, p), (0.0, Some(1.0)));
        assert!(WelchT::compare(&[1.0, 1.0], &[2.0, 2.0]).is_err());
        assert!(WelchT::compare(&[1.0], &[2.0, 3.0]).is_err());
        // Missing values are left out, and a side of nothing else is refused.
        let nan = f64::NAN;
        let with_missing = WelchT::compare(&[nan, 1.0, 2.0, 3.0, nan], &[0.0, nan, 2.0, 4.0]);
        assert_eq!(with_missing.unwrap(), (0.0, Some(1.0)));
        assert!(WelchT::compare(&[1.0, 2.0], &[nan, nan]).is_err());
        assert!(WelchT::compare(&[1.0, nan, 2.0], &[nan, 3.0]).is_err());
    }
}
