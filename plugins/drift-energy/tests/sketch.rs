//! The sketch mode of the energy distance: within √2 · sqrt(W_bound / k), exact below k values
//! (docs/statistics.md).

use drift_energy::Energy;
use vigil_plugin_stats::sketch_harness::check_sketch_bound;

#[test]
fn sketched_distance_within_the_l2_bound() {
    check_sketch_bound::<Energy>(400, |sketch, k| {
        std::f64::consts::SQRT_2 * (sketch.wasserstein_bound / k as f64).sqrt()
    });
}
