//! Every case of `tests/reference/chi2.json` (written by `generate_chi2.py` from
//! `scipy.stats.chi2_contingency(table, correction=False)`) run through the plugin.
//!
//! Tolerances: the statistic within 1e-12, absolute or relative to its size (statistics run
//! into the thousands, where 1e-12 absolute is below one ulp); the p-value (statrs's chi-square
//! survival function) within 1e-9 relative wherever SciPy's value is a normal double, however
//! small, and exact where it underflowed.

use drift_chi2::Chi2;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_scipy_chi2_contingency() {
    check_reference_file::<Chi2>(
        "chi2.json",
        "tests/reference/generate_chi2.py",
        Expectations {
            statistic: Bound {
                relative: 1e-12,
                absolute: 1e-12,
            },
            p_value: Bound::TIGHT,
            default_threshold: 0.05,
        },
    );
}
