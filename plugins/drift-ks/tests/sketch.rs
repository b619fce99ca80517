//! The sketch mode of KS: within 1/k of the exact statistic, exact below k values
//! (docs/statistics.md).

use drift_ks::Ks;
use vigil_plugin_stats::sketch_harness::{check_sketch_bound, one_over_k};

#[test]
fn sketched_statistic_within_one_over_k() {
    check_sketch_bound::<Ks>(400, one_over_k);
}
