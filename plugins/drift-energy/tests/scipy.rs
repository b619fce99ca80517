//! Every case of `tests/reference/energy.json` (written by `generate_energy.py` from scipy.stats.energy_distance)
//! run through the plugin as the host runs it; the statistic and p-value within 1e-9 relative.

use drift_energy::Energy;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Energy>(
        "energy.json",
        "tests/reference/generate_energy.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.1,
        },
    );
}
