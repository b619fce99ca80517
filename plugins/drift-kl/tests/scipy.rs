//! Every case of `tests/reference/kl.json` (written by `generate_kl.py`: entropy on floored proportions on the
//! shared bins) run through the plugin as the host runs it; the distance within 1e-9 relative.

use drift_kl::Kl;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Kl>(
        "kl.json",
        "tests/reference/generate_kl.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.1,
        },
    );
}
