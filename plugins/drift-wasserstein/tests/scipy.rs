//! Every case of `tests/reference/wasserstein.json` (written by `generate_wasserstein.py` from scipy.stats.wasserstein_distance)
//! run through the plugin as the host runs it; the statistic and p-value within 1e-9 relative.

use drift_wasserstein::Wasserstein;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Wasserstein>(
        "wasserstein.json",
        "tests/reference/generate_wasserstein.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.1,
        },
    );
}
