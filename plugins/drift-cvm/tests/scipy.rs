//! Every case of `tests/reference/cvm.json` (written by `generate_cvm.py` from
//! `scipy.stats.cramervonmises_2samp(method="auto")`) run through the plugin as the host runs
//! it. The statistic within 1e-9 relative; the p-value within 1e-9 relative or 1e-14
//! absolute: the asymptotic p-value is `1 − cdf`, so far in the tail one ulp of the cdf is
//! already more than 1e-9 of the p-value (SciPy's value carries the same rounding).

use drift_cvm::Cvm;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_reference_values() {
    check_reference_file::<Cvm>(
        "cvm.json",
        "tests/reference/generate_cvm.py",
        Expectations {
            statistic: Bound::TIGHT,
            p_value: Bound {
                relative: 1e-9,
                absolute: 1e-14,
            },
            default_threshold: 0.05,
        },
    );
}
