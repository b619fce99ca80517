//! Every case of `tests/reference/fisher.json` (written by `generate_fisher.py` from scipy.stats.fisher_exact)
//! run through the plugin as the host runs it; the statistic and p-value within 1e-9 relative.

use drift_fisher::Fisher;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Fisher>(
        "fisher.json",
        "tests/reference/generate_fisher.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.05,
        },
    );
}
