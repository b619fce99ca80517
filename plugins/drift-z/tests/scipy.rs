//! Every case of `tests/reference/z.json` (written by `generate_z.py` from the pooled two-proportion Z formula)
//! run through the plugin as the host runs it; the statistic and p-value within 1e-9 relative.

use drift_z::Z;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Z>(
        "z.json",
        "tests/reference/generate_z.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.05,
        },
    );
}
