//! Every case of `tests/reference/kuiper.json` (written by `generate_kuiper.py` from a NumPy implementation of the two-sample Kuiper test)
//! run through the plugin as the host runs it; the statistic and p-value within 1e-9 relative.

use drift_kuiper::Kuiper;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Kuiper>(
        "kuiper.json",
        "tests/reference/generate_kuiper.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.05,
        },
    );
}
