//! Every case of `tests/reference/wasserstein_norm.json` (written by `generate_wasserstein_norm.py` from wasserstein_distance over the reference's floored std)
//! run through the plugin as the host runs it; the statistic and p-value within 1e-9 relative.

use drift_wasserstein_norm::WassersteinNorm;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<WassersteinNorm>(
        "wasserstein_norm.json",
        "tests/reference/generate_wasserstein_norm.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.1,
        },
    );
}
