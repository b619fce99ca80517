//! `drift-energy`: the energy distance between the reference's and a window's empirical
//! distributions, `sqrt(2) · sqrt(∫ (F_ref − F_cur)²)`, in the column's units, as
//! `scipy.stats.energy_distance(reference, current)`.

use vigil_plugin_sdk::{Result, ScoreKind};
use vigil_plugin_stats::ecdf::{Order, cdf_distance};
use vigil_plugin_stats::two_sample::{NumericStatistic, NumericTest, Outcome};

/// The distance in the column's units.
pub struct EnergyDistance;

impl NumericStatistic for EnergyDistance {
    const DESCRIPTION: &'static str = "Energy distance between the empirical distributions";
    const SCORE: ScoreKind = ScoreKind::Distance;
    /// In the column's units: set one per column (`--config energy={"threshold": …}`).
    const DEFAULT_THRESHOLD: f64 = 0.1;
    /// Within `√2 · sqrt(Sketch::wasserstein_bound / k)` of the exact distance
    /// (docs/statistics.md).
    const SKETCH: bool = true;

    fn compare(reference: &[f64], current: &[f64]) -> Result<Outcome> {
        let distance = std::f64::consts::SQRT_2 * cdf_distance(Order::Two, reference, current)?;
        Ok((distance, None))
    }
}

/// The energy-distance drift test.
pub type Energy = NumericTest<EnergyDistance>;

vigil_plugin_sdk::export_drift_test!(Energy);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_points() {
        // Two point masses one apart: sqrt(2) · sqrt(1 · 1).
        let (distance, p) = EnergyDistance::compare(&[0.0], &[1.0]).unwrap();
        assert_eq!(distance, std::f64::consts::SQRT_2);
        assert_eq!(p, None);
    }
}
