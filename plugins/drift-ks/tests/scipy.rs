//! Every case of `tests/reference/ks.json` (written by `generate_ks.py` from
//! `scipy.stats.ks_2samp(a, b, method="auto")`) run through the plugin as the host runs it.
//!
//! Tolerances: the statistic within 1e-12 absolute; the p-value within 1e-6 relative, or
//! within 1e-12 absolute (far in the tail, where only the absolute error matters to a drift
//! decision). The statistic is not compared bit for bit because a float parser can land an ulp
//! away from the nearest double.

use drift_ks::Ks;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_scipy_ks_2samp() {
    check_reference_file::<Ks>(
        "ks.json",
        "tests/reference/generate_ks.py",
        Expectations {
            statistic: Bound {
                relative: 0.0,
                absolute: 1e-12,
            },
            p_value: Bound {
                relative: 1e-6,
                absolute: 1e-12,
            },
            default_threshold: 0.05,
        },
    );
}
