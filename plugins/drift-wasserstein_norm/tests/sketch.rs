//! The sketch mode of normalized Wasserstein: within the Wasserstein bound over the
//! reference's standard deviation, exact below k values (docs/statistics.md).

use drift_wasserstein_norm::{STD_FLOOR, WassersteinNorm};
use vigil_plugin_stats::sketch_harness::check_sketch_bound;

#[test]
fn sketched_distance_within_the_scaled_mean_gap() {
    check_sketch_bound::<WassersteinNorm>(400, |sketch, _| {
        sketch.wasserstein_bound / sketch.reference_std.max(STD_FLOOR)
    });
}
