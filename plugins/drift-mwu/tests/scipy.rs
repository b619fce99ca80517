//! Every case of `tests/reference/mwu.json` (written by `generate_mwu.py` from scipy.stats.mannwhitneyu)
//! run through the plugin as the host runs it; the statistic and p-value within 1e-9 relative.

use drift_mwu::Mwu;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Mwu>(
        "mwu.json",
        "tests/reference/generate_mwu.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.05,
        },
    );
}
