//! Every case of `tests/reference/es.json` (written by `generate_es.py` from
//! `scipy.stats.epps_singleton_2samp`) run through the plugin as the host runs it; the
//! statistic and p-value within 1e-9 relative.

use drift_es::Es;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Es>(
        "es.json",
        "tests/reference/generate_es.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.05,
        },
    );
}
