//! The sketch mode of Wasserstein: within mean(sketch) − mean(reference) ≤ (max − min)/k of the
//! exact distance, exact below k values (docs/statistics.md).

use drift_wasserstein::Wasserstein;
use vigil_plugin_stats::sketch_harness::check_sketch_bound;

#[test]
fn sketched_distance_within_the_mean_gap() {
    check_sketch_bound::<Wasserstein>(400, |sketch, _| sketch.wasserstein_bound);
}
