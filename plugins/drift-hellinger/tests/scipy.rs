//! Every case of `tests/reference/hellinger.json` (written by `generate_hellinger.py`: the NumPy definition on the
//! shared bins) run through the plugin as the host runs it; the distance within 1e-9 relative.

use drift_hellinger::Hellinger;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Hellinger>(
        "hellinger.json",
        "tests/reference/generate_hellinger.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.1,
        },
    );
}
