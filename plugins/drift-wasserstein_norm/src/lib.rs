//! `drift-wasserstein_norm`: the Wasserstein distance divided by the reference's standard
//! deviation (`np.std`, ddof 0) floored at 0.001, so that one threshold suits columns of any
//! scale and a constant reference still gives a finite value.

use vigil_plugin_sdk::{Result, ScoreKind};
use vigil_plugin_stats::ecdf::{Order, cdf_distance, finite};
use vigil_plugin_stats::sketch::Sketch;
use vigil_plugin_stats::sum::variance;
use vigil_plugin_stats::two_sample::{NumericStatistic, NumericTest, Outcome};

/// Standard deviations below this are raised to it.
pub const STD_FLOOR: f64 = 0.001;

/// The distance in units of the reference's standard deviation.
pub struct NormalizedWasserstein;

impl NumericStatistic for NormalizedWasserstein {
    const DESCRIPTION: &'static str =
        "Wasserstein-1 distance in units of the reference's standard deviation";
    const SCORE: ScoreKind = ScoreKind::Distance;
    const DEFAULT_THRESHOLD: f64 = 0.1;
    /// Within `Sketch::wasserstein_bound` over the reference's standard deviation
    /// (docs/statistics.md); the deviation is the whole reference's.
    const SKETCH: bool = true;

    fn compare(reference: &[f64], current: &[f64]) -> Result<Outcome> {
        let std = variance(reference, 0).sqrt().max(STD_FLOOR);
        Ok((
            finite(cdf_distance(Order::One, reference, current)? / std)?,
            None,
        ))
    }

    fn compare_sketch(sketch: &Sketch, current: &[f64]) -> Result<Outcome> {
        let std = sketch.reference_std.max(STD_FLOOR);
        let distance = cdf_distance(Order::One, &sketch.quantiles, current)?;
        Ok((finite(distance / std)?, None))
    }
}

/// The normalized Wasserstein drift test.
pub type WassersteinNorm = NumericTest<NormalizedWasserstein>;

vigil_plugin_sdk::export_drift_test!(WassersteinNorm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_free() {
        let (a, b) = ([0.0, 2.0], [2.0, 4.0]);
        let (a10, b10) = ([0.0, 20.0], [20.0, 40.0]);
        let small = NormalizedWasserstein::compare(&a, &b).unwrap().0;
        assert_eq!(small, NormalizedWasserstein::compare(&a10, &b10).unwrap().0);
        assert_eq!(small, 2.0);
        // A constant reference: the floor, not a division by zero.
        assert_eq!(
            NormalizedWasserstein::compare(&[1.0], &[2.0]).unwrap().0,
            1000.0
        );
    }
}
