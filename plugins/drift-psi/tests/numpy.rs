//! Every case of `tests/reference/psi.json` (written by `generate_psi.py` from a NumPy
//! implementation of the definition) run through the plugin.
//!
//! Tolerance: the index within 1e-9 relative (it agrees to the last bit in practice: the sums
//! run in NumPy's order); the p-value must be absent.

use drift_psi::Psi;
use vigil_plugin_stats::harness::{Bound, Expectations, check_reference_file};

#[test]
fn matches_numpy_definition() {
    check_reference_file::<Psi>(
        "psi.json",
        "tests/reference/generate_psi.py",
        Expectations {
            statistic: Bound {
                relative: 1e-9,
                absolute: 1e-12,
            },
            p_value: Bound::TIGHT,
            default_threshold: 0.1,
        },
    );
}
