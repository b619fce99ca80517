//! Every case of `tests/reference/ad.json` (written by `generate_ad.py` from
//! `scipy.stats.anderson_ksamp(variant="midrank")`) run through the plugin as the host runs it;
//! the statistic and the capped p-value within 1e-9 relative.

use drift_ad::Ad;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Ad>(
        "ad.json",
        "tests/reference/generate_ad.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.05,
        },
    );
}
