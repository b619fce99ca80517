//! Every case of `tests/reference/g.json` (written by `generate_g.py` from scipy.stats.chi2_contingency(lambda_="log-likelihood"))
//! run through the plugin as the host runs it; the statistic and p-value within 1e-9 relative.

use drift_g::G;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<G>(
        "g.json",
        "tests/reference/generate_g.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound::TIGHT,
            default_threshold: 0.05,
        },
    );
}
