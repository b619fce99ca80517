//! Every case of `tests/reference/t.json` (written by `generate_t.py` from
//! `scipy.stats.ttest_ind(equal_var=False)`) run through the plugin as the host runs it; the
//! statistic and p-value within 1e-9 relative.

use drift_t::T;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<T>(
        "t.json",
        "tests/reference/generate_t.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.05,
        },
    );
}
