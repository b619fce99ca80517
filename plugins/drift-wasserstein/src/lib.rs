//! `drift-wasserstein`: the first Wasserstein (earth mover's) distance between the reference's
//! and a window's empirical distributions, in the column's units, as
//! `scipy.stats.wasserstein_distance(reference, current)`.

use vigil_plugin_sdk::{Result, ScoreKind};
use vigil_plugin_stats::ecdf::{Order, cdf_distance};
use vigil_plugin_stats::two_sample::{NumericStatistic, NumericTest, Outcome};

/// The distance in the column's units.
pub struct Wasserstein1;

impl NumericStatistic for Wasserstein1 {
    const DESCRIPTION: &'static str =
        "Wasserstein-1 (earth mover's) distance between the empirical distributions";
    const SCORE: ScoreKind = ScoreKind::Distance;
    /// In the column's units: set one per column (`--config wasserstein={"threshold": …}`).
    const DEFAULT_THRESHOLD: f64 = 0.1;
    /// Within `Sketch::wasserstein_bound` of the exact distance (docs/statistics.md).
    const SKETCH: bool = true;

    fn compare(reference: &[f64], current: &[f64]) -> Result<Outcome> {
        Ok((cdf_distance(Order::One, reference, current)?, None))
    }
}

/// The Wasserstein drift test.
pub type Wasserstein = NumericTest<Wasserstein1>;

vigil_plugin_sdk::export_drift_test!(Wasserstein);
